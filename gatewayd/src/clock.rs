//! Wall-clock dates and times in the forms X12 envelopes use (UTC).

use std::time::{SystemTime, UNIX_EPOCH};

/// A UTC date and time split into fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Four-digit year.
    pub year: i64,
    /// Month 1–12.
    pub month: u32,
    /// Day 1–31.
    pub day: u32,
    /// Hour 0–23.
    pub hour: u32,
    /// Minute 0–59.
    pub minute: u32,
}

impl Stamp {
    /// The current UTC time.
    pub fn now() -> Stamp {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Stamp::from_unix(secs)
    }

    /// The UTC time `secs` seconds after 1970-01-01T00:00Z.
    ///
    /// ```
    /// use gatewayd::clock::Stamp;
    /// let s = Stamp::from_unix(1_709_251_200 + 3_600 * 14 + 60 * 30); // 2024-03-01 14:30
    /// assert_eq!((s.yymmdd(), s.ccyymmdd(), s.hhmm()), ("240301".into(), "20240301".into(), "1430".into()));
    /// ```
    pub fn from_unix(secs: i64) -> Stamp {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (year, month, day) = x12_core::datetime::civil_from_days(days);
        Stamp {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: ((rem % 3600) / 60) as u32,
        }
    }

    /// `YYMMDD`, as ISA09.
    pub fn yymmdd(&self) -> String {
        format!(
            "{:02}{:02}{:02}",
            self.year.rem_euclid(100),
            self.month,
            self.day
        )
    }

    /// `CCYYMMDD`, as GS04.
    pub fn ccyymmdd(&self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }

    /// `HHMM`, as ISA10 and GS05.
    pub fn hhmm(&self) -> String {
        format!("{:02}{:02}", self.hour, self.minute)
    }
}
