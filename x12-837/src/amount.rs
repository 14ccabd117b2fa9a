//! Exact decimal amounts for balancing (X12 `R` values such as `150`, `99.5`, `-12.25`).

/// An amount in ten-thousandths, exact for X12 monetary values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Amount(pub i128);

impl Amount {
    /// Parses an X12 decimal (`R`) value; `None` when it is not one.
    ///
    /// ```
    /// use x12_837::amount::Amount;
    /// assert_eq!(Amount::parse("150"), Amount::parse("150.00"));
    /// assert_eq!(Amount::parse("-12.5").map(|a| a.0), Some(-125_000));
    /// assert_eq!(Amount::parse("1.23456"), None);
    /// assert_eq!(Amount::parse("abc"), None);
    /// ```
    pub fn parse(s: &str) -> Option<Amount> {
        Self::parse_bytes(s.as_bytes())
    }

    /// [`Amount::parse`] on the raw bytes of an element (non-ASCII bytes are not digits,
    /// so they fail like any other non-digit).
    pub fn parse_bytes(s: &[u8]) -> Option<Amount> {
        let (neg, s) = match s.strip_prefix(b"-") {
            Some(r) => (true, r),
            None => (false, s),
        };
        let (int, frac) = match s.iter().position(|b| *b == b'.') {
            Some(i) => (&s[..i], &s[i + 1..]),
            None => (s, &b""[..]),
        };
        if (int.is_empty() && frac.is_empty())
            || frac.len() > 4
            || int.len() > 20
            || !int.iter().all(u8::is_ascii_digit)
            || !frac.iter().all(u8::is_ascii_digit)
        {
            return None;
        }
        let mut f: u64 = 0;
        for i in 0..4 {
            let b = frac.get(i).copied().unwrap_or(b'0');
            f = f * 10 + u64::from(b - b'0');
        }
        let v = if int.len() <= 14 {
            // fits a u64 with the four decimals (10^18 < 2^64): the common case
            let mut v: u64 = 0;
            for b in int {
                v = v * 10 + u64::from(b - b'0');
            }
            i128::from(v * 10_000 + f)
        } else {
            let mut v: i128 = 0;
            for b in int {
                v = v * 10 + i128::from(b - b'0');
            }
            v * 10_000 + i128::from(f)
        };
        Some(Amount(if neg { -v } else { v }))
    }
}

impl std::ops::Add for Amount {
    type Output = Amount;
    fn add(self, o: Amount) -> Amount {
        Amount(self.0 + o.0)
    }
}

impl std::iter::Sum for Amount {
    fn sum<I: Iterator<Item = Amount>>(iter: I) -> Amount {
        iter.fold(Amount(0), |a, b| a + b)
    }
}

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.0;
        let sign = if v < 0 { "-" } else { "" };
        let a = v.abs();
        let (i, frac) = (a / 10_000, a % 10_000);
        if frac == 0 {
            write!(f, "{sign}{i}")
        } else {
            let s = format!("{frac:04}");
            write!(f, "{sign}{i}.{}", s.trim_end_matches('0'))
        }
    }
}
