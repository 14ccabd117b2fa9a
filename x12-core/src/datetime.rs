//! X12 date and time element checks (DT and TM data types).

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
}

/// Days in `month` (1-12) of `year` in the Gregorian calendar; 0 for a month that is
/// not 1-12.
///
/// ```
/// use x12_core::datetime::days_in_month;
/// assert_eq!((days_in_month(2024, 2), days_in_month(1900, 2), days_in_month(2023, 13)), (29, 28, 0));
/// ```
pub fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 0,
    }
}

/// Orders two CCYYMMDD dates (any byte strings, in byte order): two of eight bytes
/// are compared as big-endian words, without a library call.
///
/// ```
/// use std::cmp::Ordering;
/// use x12_core::datetime::cmp_dates;
/// assert_eq!(cmp_dates(b"20240131", b"20240201"), Ordering::Less);
/// assert_eq!(cmp_dates(b"2024", b"20240201"), Ordering::Less);
/// ```
#[inline]
pub fn cmp_dates(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    match (<[u8; 8]>::try_from(a), <[u8; 8]>::try_from(b)) {
        (Ok(a), Ok(b)) => u64::from_be_bytes(a).cmp(&u64::from_be_bytes(b)),
        _ => a.cmp(b),
    }
}

/// Whether `b` is a valid date: `YYMMDD` (6 digits, read as 20YY) or `CCYYMMDD`.
///
/// ```
/// use x12_core::datetime::is_valid_date;
/// assert!(is_valid_date(b"20240229"));
/// assert!(!is_valid_date(b"20230229"));
/// assert!(is_valid_date(b"991231"));
/// assert!(!is_valid_date(b"011301"));
/// ```
pub fn is_valid_date(b: &[u8]) -> bool {
    let (year, rest) = match b.len() {
        6 => (digits(&b[..2]).map(|y| 2000 + y), &b[2..]),
        8 => (digits(&b[..4]), &b[4..]),
        _ => return false,
    };
    let (Some(year), Some(month), Some(day)) = (year, digits(&rest[..2]), digits(&rest[2..]))
    else {
        return false;
    };
    (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month)
}

/// Whether `b` is a valid time: `HHMM`, `HHMMSS`, `HHMMSSD` or `HHMMSSDD`.
///
/// ```
/// use x12_core::datetime::is_valid_time;
/// assert!(is_valid_time(b"2359"));
/// assert!(is_valid_time(b"23595999"));
/// assert!(!is_valid_time(b"2400"));
/// assert!(!is_valid_time(b"102497"));
/// ```
pub fn is_valid_time(b: &[u8]) -> bool {
    if !(4..=8).contains(&b.len()) || b.len() == 5 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let hh = digits(&b[..2]).unwrap_or(99);
    let mm = digits(&b[2..4]).unwrap_or(99);
    let ss = if b.len() >= 6 {
        digits(&b[4..6]).unwrap_or(99)
    } else {
        0
    };
    hh < 24 && mm < 60 && ss < 60
}

/// Days from 1970-01-01 to the Gregorian date `year-month-day` (negative before it);
/// Howard Hinnant's public-domain `days_from_civil`. The date is not checked.
///
/// ```
/// use x12_core::datetime::{civil_from_days, days_from_civil};
/// assert_eq!(days_from_civil(1970, 1, 1), 0);
/// assert_eq!(days_from_civil(2024, 3, 1), 19_783);
/// assert_eq!(civil_from_days(19_783), (2024, 3, 1));
/// ```
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let (m, d) = (i64::from(month), i64::from(day));
    let y = if m <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The Gregorian date (year, month, day) `days` days after 1970-01-01; the inverse of
/// [`days_from_civil`] (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}
