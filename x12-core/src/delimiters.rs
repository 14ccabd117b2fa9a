//! The four delimiters of an interchange, read from its ISA segment.

use serde::Serialize;

/// The delimiters an interchange declares in its ISA segment.
///
/// X12 fixes none of them: the element separator is the byte after `ISA`, the
/// repetition separator is ISA11 (from version 00402 on), the component separator is
/// ISA16, and the segment terminator is the byte after ISA16.
///
/// ```
/// use x12_core::Delimiters;
/// let d = Delimiters::default();
/// assert_eq!((d.element, d.component, d.segment), (b'*', b':', b'~'));
/// assert_eq!(d.repetition, Some(b'^'));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Delimiters {
    /// Separates elements (ISA byte 4).
    pub element: u8,
    /// Separates repetitions of an element (ISA11), when the version has one.
    pub repetition: Option<u8>,
    /// Separates components of a composite element (ISA16).
    pub component: u8,
    /// Ends a segment (the byte after ISA16).
    pub segment: u8,
}

impl Default for Delimiters {
    /// The delimiters most HIPAA trading partners use: `*`, `^`, `:`, `~`.
    fn default() -> Self {
        Delimiters {
            element: b'*',
            repetition: Some(b'^'),
            component: b':',
            segment: b'~',
        }
    }
}

impl Delimiters {
    /// Whether `b` is one of the four delimiters.
    pub fn is_delimiter(&self, b: u8) -> bool {
        b == self.element || b == self.component || b == self.segment || Some(b) == self.repetition
    }

    /// Whether the four delimiters are distinct and none is a letter or digit.
    pub fn are_distinct(&self) -> bool {
        let mut all = vec![self.element, self.component, self.segment];
        all.extend(self.repetition);
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        all.len() == n
    }
}

/// Whether `b` may serve as a delimiter at all: not a letter, digit or space, and
/// printable or a control character other than NUL.
pub(crate) fn usable_as_delimiter(b: u8) -> bool {
    !(b.is_ascii_alphanumeric() || b == b' ' || b == 0)
}
