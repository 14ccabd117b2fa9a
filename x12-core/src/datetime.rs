//! X12 date and time element checks (DT and TM data types).

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
}

fn days_in_month(year: u32, month: u32) -> u32 {
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
