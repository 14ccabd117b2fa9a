//! Envelope structures handed out by the readers: owned headers (GS), transaction
//! sets, envelope segments, and the reports that close groups and interchanges.

use crate::issue::{Issue, Severity};
use crate::segment::Segment;
use crate::tokenize::next_span;
use crate::{Delimiters, InterchangeHeader};
use bytes::Bytes;
use std::sync::Arc;

/// A functional group header (GS), owned.
///
/// ```
/// use x12_core::{Delimiters, GroupHeader};
/// let gs = GroupHeader::new(b"GS*HC*SENDER*RECEIVER*20240101*1200*17*X*005010X222A1"[..].into(), Delimiters::default());
/// assert_eq!(gs.functional_id(), b"HC");
/// assert_eq!(gs.control_number(), b"17");
/// assert_eq!(gs.version(), b"005010X222A1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupHeader {
    raw: Bytes,
    delimiters: Delimiters,
}

impl GroupHeader {
    /// Wraps the bytes of a GS segment (without terminator).
    pub fn new(raw: Bytes, delimiters: Delimiters) -> Self {
        GroupHeader { raw, delimiters }
    }

    /// The GS segment.
    pub fn segment(&self) -> Segment<'_> {
        Segment::new(&self.raw, self.delimiters)
    }

    /// GS01, the functional identifier code (HC, HI, FA, HN...).
    pub fn functional_id(&self) -> &[u8] {
        self.segment().get(1)
    }

    /// GS02, the application sender's code.
    pub fn sender(&self) -> &[u8] {
        self.segment().get(2)
    }

    /// GS03, the application receiver's code.
    pub fn receiver(&self) -> &[u8] {
        self.segment().get(3)
    }

    /// GS04, the group date (CCYYMMDD).
    pub fn date(&self) -> &[u8] {
        self.segment().get(4)
    }

    /// GS05, the group time.
    pub fn time(&self) -> &[u8] {
        self.segment().get(5)
    }

    /// GS06, the group control number.
    pub fn control_number(&self) -> &[u8] {
        self.segment().get(6)
    }

    /// GS08, the version / release / industry identifier code (e.g. `005010X222A1`).
    pub fn version(&self) -> &[u8] {
        self.segment().get(8)
    }
}

/// A segment read from the input with where it was: the borrowed view plus its
/// surroundings, so the input can be rewritten byte for byte.
#[derive(Debug, Clone, Copy)]
pub struct SegmentRef<'a> {
    /// The segment, without terminator.
    pub segment: Segment<'a>,
    /// White space (or a byte-order mark) read before the segment.
    pub lead: &'a [u8],
    /// The terminator and the white space after it (empty for an unterminated last segment).
    pub suffix: &'a [u8],
    /// Byte offset of the segment identifier from the start of the input.
    pub byte_offset: u64,
    /// 1-based position of the segment in the input.
    pub position: u64,
}

/// An envelope segment (ISA, GS, GE, IEA), or any segment read outside a transaction
/// set, owned.
#[derive(Debug, Clone)]
pub struct RawSegment {
    pub(crate) raw: Bytes,
    pub(crate) content: (u32, u32),
    pub(crate) delimiters: Delimiters,
    pub(crate) byte_offset: u64,
    pub(crate) position: u64,
}

impl RawSegment {
    /// The segment view.
    pub fn segment(&self) -> Segment<'_> {
        Segment::new(
            &self.raw[self.content.0 as usize..self.content.1 as usize],
            self.delimiters,
        )
    }

    /// The segment with its surroundings.
    pub fn as_ref(&self) -> SegmentRef<'_> {
        SegmentRef {
            segment: self.segment(),
            lead: &self.raw[..self.content.0 as usize],
            suffix: &self.raw[self.content.1 as usize..],
            byte_offset: self.byte_offset,
            position: self.position,
        }
    }

    /// Every byte this segment took in the input: lead, content, terminator, white space.
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// Byte offset of the segment identifier in the input.
    pub fn byte_offset(&self) -> u64 {
        self.byte_offset
    }

    /// 1-based position of the segment in the input.
    pub fn position(&self) -> u64 {
        self.position
    }
}

/// One transaction set (ST..SE), owned (`bytes::Bytes`), with its envelope context and
/// the envelope issues found in it. Segments are borrowed views of its bytes.
#[derive(Debug, Clone)]
pub struct TransactionSet {
    pub(crate) raw: Bytes,
    pub(crate) delimiters: Delimiters,
    pub(crate) byte_offset: u64,
    pub(crate) position: u64,
    pub(crate) segment_count: u32,
    pub(crate) complete: bool,
    pub(crate) interchange: Option<Arc<InterchangeHeader>>,
    pub(crate) group: Option<Arc<GroupHeader>>,
    pub(crate) issues: Vec<Issue>,
    /// Content span (start, terminator) of each segment, relative to `raw`, as the
    /// decoder found them (so nothing tokenizes the set twice).
    pub(crate) spans: Vec<(u32, u32)>,
}

impl TransactionSet {
    /// The ST segment.
    pub fn header(&self) -> Segment<'_> {
        self.segments()
            .next()
            .map(|s| s.segment)
            .unwrap_or_else(|| Segment::new(b"", self.delimiters))
    }

    /// ST01, the transaction set identifier (`837`, `278`).
    pub fn id(&self) -> &[u8] {
        self.header().get(1)
    }

    /// ST02, the transaction set control number.
    pub fn control_number(&self) -> &[u8] {
        self.header().get(2)
    }

    /// The implementation guide: ST03 when present, else GS08.
    pub fn version(&self) -> &[u8] {
        let st03 = self.header().get(3);
        if st03.is_empty() {
            self.group.as_ref().map_or(b"", |g| g.version())
        } else {
            st03
        }
    }

    /// The segments from ST to SE, each with its absolute offset and position in the input.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use x12_core::{Item, Reader};
    /// let data = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/valid/837p-minimal.x12"))?;
    /// for item in Reader::new(&data[..]) {
    ///     if let Item::Transaction(set) = item? {
    ///         let ids: Vec<_> = set.segments().map(|s| s.segment.id_str().into_owned()).collect();
    ///         assert_eq!(ids.first().map(String::as_str), Some("ST"));
    ///         assert_eq!(ids.last().map(String::as_str), Some("SE"));
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn segments(&self) -> SetSegments<'_> {
        SetSegments {
            buf: &self.raw,
            at: 0,
            delimiters: self.delimiters,
            base: self.byte_offset,
            position: self.position,
            lead_len: self.lead_len(),
        }
    }

    fn lead_len(&self) -> usize {
        self.raw
            .iter()
            .position(|b| !crate::tokenize::is_space(*b))
            .unwrap_or(self.raw.len())
    }

    /// All bytes of the set as received, white space included.
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// The delimiters in force.
    pub fn delimiters(&self) -> Delimiters {
        self.delimiters
    }

    /// Byte offset of ST in the input.
    pub fn byte_offset(&self) -> u64 {
        self.byte_offset
    }

    /// 1-based position of ST in the input.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Number of segments read from ST to SE (or to where the set was cut short).
    pub fn segment_count(&self) -> u32 {
        self.segment_count
    }

    /// Whether the set was closed by its SE.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// The interchange header the set arrived in.
    pub fn interchange(&self) -> Option<&Arc<InterchangeHeader>> {
        self.interchange.as_ref()
    }

    /// The functional group header the set arrived in.
    pub fn group(&self) -> Option<&Arc<GroupHeader>> {
        self.group.as_ref()
    }

    /// Envelope issues found in the set (SE count, control numbers, ST03...).
    pub fn issues(&self) -> &[Issue] {
        &self.issues
    }

    /// Whether no error was found in the set's envelope.
    pub fn is_valid(&self) -> bool {
        !self.issues.iter().any(Issue::is_error)
    }
}

/// Iterator over the segments of a [`TransactionSet`].
pub struct SetSegments<'a> {
    buf: &'a [u8],
    at: usize,
    delimiters: Delimiters,
    base: u64,
    position: u64,
    lead_len: usize,
}

impl<'a> Iterator for SetSegments<'a> {
    type Item = SegmentRef<'a>;

    fn next(&mut self) -> Option<SegmentRef<'a>> {
        let lead_start = self.at;
        let start = if lead_start == 0 {
            self.lead_len
        } else {
            lead_start
        };
        if start >= self.buf.len() {
            return None;
        }
        let span = next_span(self.buf, start, self.delimiters.segment, true)?;
        self.at = span.next;
        let r = SegmentRef {
            segment: Segment::new(&self.buf[start..span.content_end], self.delimiters),
            lead: &self.buf[lead_start..start],
            suffix: &self.buf[span.content_end..span.next],
            byte_offset: self.base + (start - self.lead_len) as u64,
            position: self.position,
        };
        self.position += 1;
        Some(r)
    }
}

/// What was found in one functional group (GS..GE), handed out after its GE (or when
/// the group is cut short).
#[derive(Debug, Clone)]
pub struct GroupReport {
    /// The group header, when the group had a GS.
    pub header: Option<Arc<GroupHeader>>,
    /// Byte offset of GS.
    pub byte_offset: u64,
    /// Position of GS in the input.
    pub position: u64,
    /// Group-level issues (GE01, GE02, GS fields, missing GE).
    pub issues: Vec<Issue>,
    /// Transaction sets read in the group.
    pub sets: u32,
    /// Whether the GE trailer was read.
    pub trailer: bool,
}

impl GroupReport {
    /// Whether the group envelope is free of errors.
    pub fn is_valid(&self) -> bool {
        !self.issues.iter().any(Issue::is_error)
    }
}

/// What was found in one interchange (ISA..IEA), handed out after its IEA (or when it
/// is cut short). Issues outside any interchange come in a report with no header.
#[derive(Debug, Clone)]
pub struct InterchangeReport {
    /// The ISA header, when there was one.
    pub header: Option<Arc<InterchangeHeader>>,
    /// Byte offset of ISA.
    pub byte_offset: u64,
    /// Position of ISA in the input.
    pub position: u64,
    /// Interchange-level issues (ISA fields, IEA, structure, end of file).
    pub issues: Vec<Issue>,
    /// Functional groups read.
    pub groups: u32,
    /// Transaction sets read, in all groups.
    pub sets: u32,
    /// TA1 segments read directly in the interchange (a TA1-only interchange).
    pub ta1_segments: u32,
    /// Whether the IEA trailer was read.
    pub trailer: bool,
}

impl InterchangeReport {
    /// Whether the interchange envelope has errors (warnings do not count).
    pub fn has_errors(&self) -> bool {
        self.issues.iter().any(|i| i.severity == Severity::Error)
    }
}

/// What a reader hands out, in input order. Every input byte belongs to exactly one
/// `Segment` or `Transaction` item, so writing their bytes back reproduces the input.
#[derive(Debug, Clone)]
pub enum Item {
    /// An envelope segment (ISA, GS, GE, IEA) or a segment outside any transaction set.
    Segment(RawSegment),
    /// A transaction set, ST through SE.
    Transaction(TransactionSet),
    /// A functional group ended (after its GE item).
    GroupEnd(GroupReport),
    /// An interchange ended (after its IEA item), or issues outside any interchange.
    InterchangeEnd(InterchangeReport),
}
