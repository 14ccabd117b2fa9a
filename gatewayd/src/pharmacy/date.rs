//! Calendar dates as pharmacy criteria compare them: parsed from X12 `CCYYMMDD` and
//! criteria-file `YYYY-MM-DD`, with day arithmetic for certification periods and whole
//! years for ages.

use std::fmt;

/// A proleptic Gregorian calendar date (years 1-9999).
///
/// ```
/// use gatewayd::pharmacy::Ymd;
/// let d = Ymd::from_ccyymmdd("20240228").unwrap();
/// assert_eq!(d.add_days(2).to_string(), "2024-03-01");
/// assert_eq!(d.add_days(2).ccyymmdd(), "20240301");
/// assert_eq!(Ymd::from_iso("2024-02-30"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ymd {
    year: u16,
    month: u8,
    day: u8,
}

fn days_in_month(year: u16, month: u8) -> u8 {
    x12_core::datetime::days_in_month(u32::from(year), u32::from(month)) as u8
}

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl Ymd {
    /// The date, if it exists.
    pub fn new(year: u16, month: u8, day: u8) -> Option<Ymd> {
        (1..=9999).contains(&year).then_some(())?;
        (1..=days_in_month(year, month))
            .contains(&day)
            .then_some(Ymd { year, month, day })
    }

    /// Parses X12 `CCYYMMDD` (DTP D8, DMG02, BHT04).
    pub fn from_ccyymmdd(s: &str) -> Option<Ymd> {
        if s.len() != 8 {
            return None;
        }
        let y = digits(s.get(0..4)?)?;
        let m = digits(s.get(4..6)?)?;
        let d = digits(s.get(6..8)?)?;
        Ymd::new(
            u16::try_from(y).ok()?,
            u8::try_from(m).ok()?,
            u8::try_from(d).ok()?,
        )
    }

    /// Parses `YYYY-MM-DD` (criteria files).
    pub fn from_iso(s: &str) -> Option<Ymd> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let y = digits(s.get(0..4)?)?;
        let m = digits(s.get(5..7)?)?;
        let d = digits(s.get(8..10)?)?;
        Ymd::new(
            u16::try_from(y).ok()?,
            u8::try_from(m).ok()?,
            u8::try_from(d).ok()?,
        )
    }

    /// The year.
    pub fn year(&self) -> u16 {
        self.year
    }

    /// `CCYYMMDD`, as X12 writes dates.
    pub fn ccyymmdd(&self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }

    /// `YYMMDD`.
    pub fn yymmdd(&self) -> String {
        format!("{:02}{:02}{:02}", self.year % 100, self.month, self.day)
    }

    /// Days since 1970-01-01 (negative before).
    fn ordinal(&self) -> i64 {
        x12_core::datetime::days_from_civil(
            i64::from(self.year),
            u32::from(self.month),
            u32::from(self.day),
        )
    }

    fn from_ordinal(days: i64) -> Option<Ymd> {
        let (year, month, day) = x12_core::datetime::civil_from_days(days);
        Ymd::new(
            u16::try_from(year).ok()?,
            u8::try_from(month).ok()?,
            u8::try_from(day).ok()?,
        )
    }

    /// The date `n` days later (earlier when negative), saturating at the ends of the
    /// supported range.
    pub fn add_days(self, n: i64) -> Ymd {
        const FIRST: Ymd = Ymd {
            year: 1,
            month: 1,
            day: 1,
        };
        const LAST: Ymd = Ymd {
            year: 9999,
            month: 12,
            day: 31,
        };
        let target = self
            .ordinal()
            .saturating_add(n)
            .clamp(FIRST.ordinal(), LAST.ordinal());
        Ymd::from_ordinal(target).unwrap_or(if n < 0 { FIRST } else { LAST })
    }

    /// Days from `self` to `later`, counting both ends (a one-day period is 1); zero or
    /// negative when `later` is before `self`.
    ///
    /// ```
    /// use gatewayd::pharmacy::Ymd;
    /// let a = Ymd::from_ccyymmdd("20230801").unwrap();
    /// let b = Ymd::from_ccyymmdd("20240131").unwrap();
    /// assert_eq!(a.days_through(b), 184);
    /// ```
    pub fn days_through(self, later: Ymd) -> i64 {
        later.ordinal() - self.ordinal() + 1
    }

    /// Age in whole years on `on` of someone born on `self`; `None` when `on` is
    /// before the birth date. A 29 February birthday counts on 1 March in other years.
    ///
    /// ```
    /// use gatewayd::pharmacy::Ymd;
    /// let born = Ymd::from_ccyymmdd("20200229").unwrap();
    /// assert_eq!(born.age_on(Ymd::from_ccyymmdd("20210228").unwrap()), Some(0));
    /// assert_eq!(born.age_on(Ymd::from_ccyymmdd("20210301").unwrap()), Some(1));
    /// ```
    pub fn age_on(self, on: Ymd) -> Option<u32> {
        if on < self {
            return None;
        }
        let mut age = u32::from(on.year - self.year);
        if (on.month, on.day) < (self.month, self.day) {
            age -= 1;
        }
        Some(age)
    }
}

impl fmt::Display for Ymd {
    /// `YYYY-MM-DD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinal_round_trips() {
        for n in [-719_162i64, -1, 0, 1, 10_000, 19_723, 2_932_896] {
            let d = Ymd::from_ordinal(n).unwrap();
            assert_eq!(d.ordinal(), n, "{d}");
        }
        assert_eq!(Ymd::from_ordinal(0), Ymd::new(1970, 1, 1));
    }

    #[test]
    fn rejects_impossible_dates() {
        for s in [
            "20230229", "20231301", "20230000", "2023010", "2023O101", "00000101",
        ] {
            assert_eq!(Ymd::from_ccyymmdd(s), None, "{s}");
        }
        assert!(Ymd::from_ccyymmdd("20240229").is_some());
        assert_eq!(Ymd::from_iso("2023-1-01"), None);
    }

    #[test]
    fn add_days_saturates() {
        let d = Ymd::new(9999, 12, 30).unwrap();
        assert_eq!(d.add_days(10), Ymd::new(9999, 12, 31).unwrap());
        assert_eq!(d.add_days(i64::MAX), Ymd::new(9999, 12, 31).unwrap());
        assert_eq!(d.add_days(i64::MIN), Ymd::new(1, 1, 1).unwrap());
    }
}
