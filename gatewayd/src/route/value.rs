//! The two value types routing compares: codes (short upper-case strings, packed so that
//! equal-length comparison is one integer comparison) and calendar dates.

use serde::{Serialize, Serializer};
use std::fmt;

/// Longest code routing compares (ICD-10-PCS is 7, a taxonomy 10).
pub const MAX_CODE: usize = 16;

/// A code as routing compares it: at most [`MAX_CODE`] bytes, upper-cased, no dots.
/// Longer input never matches anything ([`Code::new`] returns `None`).
///
/// ```
/// use gatewayd::route::Code;
/// let a = Code::new("e0260").unwrap();
/// assert_eq!(a.as_str(), "E0260");
/// assert!(Code::new("E0100").unwrap().packed() < a.packed());
/// assert_eq!(Code::new("D57.00").unwrap().as_str(), "D5700");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code {
    bytes: [u8; MAX_CODE],
    len: u8,
}

impl Code {
    /// Packs `s` (upper-cased, dots dropped); `None` when empty or too long.
    pub fn new(s: &str) -> Option<Code> {
        let mut bytes = [0u8; MAX_CODE];
        let mut len = 0usize;
        for b in s.trim().bytes().filter(|b| *b != b'.') {
            if len == MAX_CODE {
                return None;
            }
            bytes[len] = b.to_ascii_uppercase();
            len += 1;
        }
        (len > 0).then_some(Code {
            bytes,
            len: len as u8,
        })
    }

    /// A revenue code left-padded with zeros to four digits (`183` -> `0183`).
    ///
    /// ```
    /// use gatewayd::route::Code;
    /// assert_eq!(Code::revenue("183").unwrap().as_str(), "0183");
    /// assert_eq!(Code::revenue("0450").unwrap().as_str(), "0450");
    /// ```
    pub fn revenue(s: &str) -> Option<Code> {
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        if s.len() >= 4 {
            return Code::new(s);
        }
        let mut padded = String::with_capacity(4);
        for _ in s.len()..4 {
            padded.push('0');
        }
        padded.push_str(s);
        Code::new(&padded)
    }

    /// The code's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Always false: a code has at least one byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes as one big-endian integer: among codes of the same length, integer
    /// order is string order.
    #[inline]
    pub fn packed(&self) -> u128 {
        u128::from_be_bytes(self.bytes)
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A calendar date, stored as `yyyymmdd` so that integer order is date order.
///
/// ```
/// use gatewayd::route::Date;
/// let d = Date::parse("2023-03-01").unwrap();
/// assert_eq!(Date::parse("20230301"), Some(d));
/// assert_eq!(d.to_string(), "2023-03-01");
/// assert!(Date::parse("2023-02-29").is_none());
/// assert_eq!(Date::parse("20090115").unwrap().years_until(d), 14);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date(u32);

use x12_core::datetime::{civil_from_days, days_from_civil, days_in_month};

impl Date {
    /// Parses `YYYY-MM-DD` or `CCYYMMDD`; `None` for anything else or an impossible date.
    pub fn parse(s: &str) -> Option<Date> {
        let s = s.trim();
        let digits: String = match s.len() {
            10 if s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-' => {
                [&s[..4], &s[5..7], &s[8..]].concat()
            }
            8 => s.to_string(),
            _ => return None,
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: u32 = digits.parse().ok()?;
        let (y, m, d) = (n / 10_000, n / 100 % 100, n % 100);
        (y >= 1800 && (1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m))
            .then_some(Date(n))
    }

    /// The first date of an X12 date value: `D8` `CCYYMMDD` or `RD8` `CCYYMMDD-CCYYMMDD`.
    pub fn from_x12(value: &str) -> Option<Date> {
        Date::parse(value.split('-').next().unwrap_or(""))
    }

    /// Year, month, day.
    pub fn ymd(&self) -> (u32, u32, u32) {
        (self.0 / 10_000, self.0 / 100 % 100, self.0 % 100)
    }

    /// Days since 1970-01-01 (negative before).
    pub fn to_days(&self) -> i64 {
        let (y, m, d) = self.ymd();
        days_from_civil(i64::from(y), m, d)
    }

    /// The date `days` days since 1970-01-01; `None` outside years 1800-9999.
    pub fn from_days(days: i64) -> Option<Date> {
        let (y, m, d) = civil_from_days(days);
        if !(1800..=9999).contains(&y) {
            return None;
        }
        Some(Date(y as u32 * 10_000 + m * 100 + d))
    }

    /// The date `n` days later (earlier when negative).
    ///
    /// ```
    /// use gatewayd::route::Date;
    /// let d = Date::parse("2024-02-28").unwrap();
    /// assert_eq!(d.plus_days(2).unwrap().to_string(), "2024-03-01");
    /// assert_eq!(d.plus_days(-59).unwrap().to_string(), "2023-12-31");
    /// ```
    pub fn plus_days(&self, n: i64) -> Option<Date> {
        Date::from_days(self.to_days() + n)
    }

    /// `yyyymmdd` as X12 writes it (`CCYYMMDD`).
    pub fn x12(&self) -> String {
        format!("{:08}", self.0)
    }

    /// Whole years from `self` (a date of birth) to `on`; 0 when `on` is earlier.
    pub fn years_until(&self, on: Date) -> u32 {
        let (y0, m0, d0) = self.ymd();
        let (y1, m1, d1) = on.ymd();
        if on < *self {
            return 0;
        }
        let mut years = y1 - y0;
        if (m1, d1) < (m0, d0) {
            years -= 1;
        }
        years
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
