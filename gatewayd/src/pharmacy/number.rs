//! Authorization (PA) numbers for auto-approved pharmacy requests.
//!
//! A number is derived from one value of a [`Sequence`] the caller persists (the daemon
//! will keep it in SQLite, in the same transaction as the PA record), so a value is
//! handed out once and its number is never issued again.
//!
//! # Format
//!
//! `PREFIX` + `YYMMDD` + `SEQUENCE` + `C`, for example `RX` `230801` `0000000042` `5`:
//!
//! - `PREFIX`: 1-4 upper-case letters naming the issuer (default `RX`);
//! - `YYMMDD`: the issue date (the response's BHT04), six digits;
//! - `SEQUENCE`: the sequence value in decimal, zero-padded to at least ten digits and
//!   never truncated (a value of eleven digits or more is written in full);
//! - `C`: a Luhn (mod 10) check digit over the date and sequence digits, the same
//!   scheme as the NPI's check digit, so a mistyped digit or a swap of two adjacent
//!   digits is caught when the number comes back (REF\*BB of a follow-up, a claim's
//!   REF\*G1).
//!
//! Uniqueness: the prefix and the date have fixed widths and the check digit is the
//! last character, so a number splits back into exactly one (date, sequence) pair
//! ([`NumberFormat::parse`]). Two distinct sequence values therefore always give two
//! distinct numbers, whatever their dates. At 19 characters (for values below 10^10)
//! a number fits HCR02 (AN 1-50) with room to spare.
//!
//! ```
//! use gatewayd::pharmacy::{MemorySequence, NumberFormat, Sequence, Ymd};
//! let format = NumberFormat::default();
//! let mut seq = MemorySequence::starting_at(42);
//! let day = Ymd::from_ccyymmdd("20230801").unwrap();
//! let n = format.format(day, seq.next().unwrap());
//! assert_eq!(n, "RX23080100000000425");
//! assert_eq!(format.parse(&n), Some((String::from("230801"), 42)));
//! assert_eq!(format.parse("RX23080100000000424"), None); // wrong check digit
//! ```

use super::date::Ymd;
use thiserror::Error;

/// The sequence behind authorization numbers. Each call returns a value never
/// returned before, and the implementation has persisted that fact before returning
/// it (a crash after `next` may waste a value, never reuse one).
pub trait Sequence {
    /// The next value.
    fn next(&mut self) -> Result<u64, SequenceError>;
}

/// The sequence could not give a value (storage failed, or it is exhausted). No
/// number may be issued.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("authorization sequence: {message}")]
pub struct SequenceError {
    /// What failed.
    pub message: String,
}

/// An in-memory [`Sequence`] for tests and dry runs: values from a starting point
/// upward, an error (never a wrap-around) after `u64::MAX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemorySequence {
    next: Option<u64>,
}

impl MemorySequence {
    /// A sequence starting at 1.
    pub fn new() -> Self {
        MemorySequence::starting_at(1)
    }

    /// A sequence whose first value is `first`.
    pub fn starting_at(first: u64) -> Self {
        MemorySequence { next: Some(first) }
    }
}

impl Default for MemorySequence {
    fn default() -> Self {
        MemorySequence::new()
    }
}

impl Sequence for MemorySequence {
    fn next(&mut self) -> Result<u64, SequenceError> {
        let v = self.next.ok_or_else(|| SequenceError {
            message: "exhausted".into(),
        })?;
        self.next = v.checked_add(1);
        Ok(v)
    }
}

/// A prefix that is not 1-4 upper-case letters.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("authorization number prefix `{0}`: use 1 to 4 upper-case letters")]
pub struct PrefixError(pub String);

/// How authorization numbers are written (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberFormat {
    prefix: String,
}

impl Default for NumberFormat {
    /// Prefix `RX`.
    fn default() -> Self {
        NumberFormat {
            prefix: "RX".into(),
        }
    }
}

/// Digits of the sequence part at the least.
const SEQUENCE_WIDTH: usize = 10;

/// The Luhn check digit for a string of ASCII digits.
///
/// ```
/// // the NPI example of the 5010 guides: prefix 80840 + 123456789 -> check digit 3
/// assert_eq!(gatewayd::pharmacy::luhn_check_digit("80840123456789"), 3);
/// ```
pub fn luhn_check_digit(digits: &str) -> u8 {
    let mut sum = 0u32;
    for (i, b) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(b.wrapping_sub(b'0') % 10);
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    ((10 - sum % 10) % 10) as u8
}

impl NumberFormat {
    /// A format with its own prefix (1-4 upper-case letters).
    pub fn with_prefix(prefix: &str) -> Result<Self, PrefixError> {
        if (1..=4).contains(&prefix.len()) && prefix.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(NumberFormat {
                prefix: prefix.into(),
            })
        } else {
            Err(PrefixError(prefix.into()))
        }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The number for sequence value `seq` issued on `issued`.
    pub fn format(&self, issued: Ymd, seq: u64) -> String {
        let body = format!("{}{seq:0SEQUENCE_WIDTH$}", issued.yymmdd());
        let check = luhn_check_digit(&body);
        format!("{}{body}{check}", self.prefix)
    }

    /// Splits a number of this format back into its `YYMMDD` date and sequence value;
    /// `None` when it is not one (other prefix, wrong length or characters, bad check
    /// digit).
    pub fn parse(&self, number: &str) -> Option<(String, u64)> {
        let body = number.strip_prefix(self.prefix.as_str())?;
        if body.len() < 6 + SEQUENCE_WIDTH + 1 || !body.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (digits, check) = body.split_at(body.len() - 1);
        if luhn_check_digit(digits).to_string() != check {
            return None;
        }
        let (date, seq) = digits.split_at(6);
        // a value of more than ten digits is written without leading zeros
        if seq.len() > SEQUENCE_WIDTH && seq.starts_with('0') {
            return None;
        }
        Some((date.to_string(), seq.parse().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn distinct_values_give_distinct_numbers() {
        let f = NumberFormat::default();
        let days = [
            Ymd::from_ccyymmdd("20230801").unwrap(),
            Ymd::from_ccyymmdd("20231231").unwrap(),
        ];
        let mut seen = HashSet::new();
        let mut values: Vec<u64> = (0..50_000).collect();
        values.extend([
            9_999_999_999,
            10_000_000_000,
            10_000_000_001,
            123_456_789_012_345,
            u64::MAX - 1,
            u64::MAX,
        ]);
        for (i, v) in values.iter().enumerate() {
            // alternate the issue date: uniqueness must not depend on it
            let day = days[i % 2];
            let n = f.format(day, *v);
            assert!(n.len() <= 50, "HCR02 is AN 1-50: {n}");
            assert_eq!(f.parse(&n), Some((day.yymmdd(), *v)), "{n}");
            assert!(seen.insert(n.clone()), "reused: {n}");
        }
    }

    #[test]
    fn a_mistyped_digit_or_adjacent_swap_is_caught() {
        let f = NumberFormat::default();
        let n = f.format(Ymd::from_ccyymmdd("20230801").unwrap(), 12_345);
        let b = n.as_bytes();
        for i in 2..b.len() {
            for d in b'0'..=b'9' {
                if d == b[i] {
                    continue;
                }
                let mut m = b.to_vec();
                m[i] = d;
                let m = String::from_utf8(m).unwrap();
                assert_eq!(f.parse(&m), None, "{m}");
            }
            if i + 1 < b.len()
                && b[i] != b[i + 1]
                && !matches!((b[i], b[i + 1]), (b'0', b'9') | (b'9', b'0'))
            {
                let mut m = b.to_vec();
                m.swap(i, i + 1);
                let m = String::from_utf8(m).unwrap();
                assert_eq!(f.parse(&m), None, "{m}");
            }
        }
    }

    #[test]
    fn memory_sequence_never_wraps() {
        let mut s = MemorySequence::starting_at(u64::MAX - 1);
        assert_eq!(s.next(), Ok(u64::MAX - 1));
        assert_eq!(s.next(), Ok(u64::MAX));
        assert!(s.next().is_err());
        assert!(s.next().is_err());
    }

    #[test]
    fn prefixes() {
        assert_eq!(NumberFormat::with_prefix("PA").unwrap().prefix(), "PA");
        for bad in ["", "pa", "RX1", "ABCDE", "R-"] {
            assert!(NumberFormat::with_prefix(bad).is_err(), "{bad}");
        }
    }
}
