//! Zero-copy iteration over every segment of an in-memory input.

use crate::envelope::SegmentRef;
use crate::isa::InterchangeHeader;
use crate::segment::Segment;
use crate::tokenize::{is_space, next_span};
use crate::Delimiters;

/// Every segment of an in-memory input, borrowed, across as many interchanges as it
/// holds (delimiters are re-read at each ISA). It checks nothing: use
/// [`Reader`](crate::Reader) for the envelope checks. Iteration stops at the first
/// bytes that are not X12 when no ISA has declared delimiters yet.
///
/// ```
/// use x12_core::Segments;
/// let input = b"ISA*00*          *00*          *ZZ*A              *ZZ*B              *240101*1200*^*00501*000000001*0*P*:~\nIEA*0*000000001~\n";
/// let ids: Vec<_> = Segments::new(input).map(|s| s.segment.id()).collect();
/// assert_eq!(ids, [&b"ISA"[..], b"IEA"]);
/// ```
pub struct Segments<'a> {
    input: &'a [u8],
    at: usize,
    delimiters: Option<Delimiters>,
    position: u64,
}

impl<'a> Segments<'a> {
    /// Iterates over `input`.
    pub fn new(input: &'a [u8]) -> Self {
        Segments {
            input,
            at: 0,
            delimiters: None,
            position: 0,
        }
    }

    /// The delimiters of the interchange being read.
    pub fn delimiters(&self) -> Option<Delimiters> {
        self.delimiters
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = SegmentRef<'a>;

    fn next(&mut self) -> Option<SegmentRef<'a>> {
        let input = self.input;
        let lead_start = self.at;
        let mut start = lead_start;
        if start == 0 && input.starts_with(b"\xEF\xBB\xBF") {
            start = 3;
        }
        while start < input.len() && is_space(input[start]) {
            start += 1;
        }
        if start >= input.len() {
            return None;
        }
        let mut isa_len = None;
        if input[start..].starts_with(b"ISA") {
            if let Ok((h, _)) = InterchangeHeader::parse(&input[start..]) {
                self.delimiters = Some(h.delimiters());
                isa_len = Some(h.as_bytes().len());
            }
        }
        let d = self.delimiters?;
        let span = match isa_len {
            Some(len) => {
                let mut s = next_span(input, start + len - 1, d.segment, true)?;
                s.content_end = start + len - 1;
                s
            }
            None => next_span(input, start, d.segment, true)?,
        };
        self.at = span.next;
        self.position += 1;
        Some(SegmentRef {
            segment: Segment::new(&input[start..span.content_end], d),
            lead: &input[lead_start..start],
            suffix: &input[span.content_end..span.next],
            byte_offset: start as u64,
            position: self.position,
        })
    }
}
