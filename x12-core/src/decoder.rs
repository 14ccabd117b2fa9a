//! The sans-I/O decoder: turns bytes into [`Item`]s while checking the envelope.
//!
//! [`Reader`](crate::Reader) and [`AsyncReader`](crate::AsyncReader) only move bytes
//! from their source into a `BytesMut`; everything else happens here. The buffer holds
//! at most the transaction set being read plus one unread chunk, so memory is bounded
//! by the largest transaction set, not by the input.

use crate::datetime::{is_valid_date, is_valid_time};
use crate::envelope::{
    GroupHeader, GroupReport, InterchangeReport, Item, RawSegment, TransactionSet,
};
use crate::isa::{lossy, InterchangeHeader, IsaError};
use crate::issue::{Code, Issue, Location, Scope, Ta1Note};
use crate::segment::Segment;
use crate::tokenize::{is_space, leading_id, next_span, Span};
use crate::Delimiters;
use bytes::BytesMut;
use std::collections::{HashSet, VecDeque};
use std::hash::BuildHasherDefault;
use std::sync::Arc;

/// Limits that keep a hostile input from exhausting memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderOptions {
    /// Longest segment accepted, in bytes (default 1 MiB).
    pub max_segment_len: usize,
    /// Largest transaction set accepted, in bytes (default 256 MiB).
    pub max_set_len: usize,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        ReaderOptions {
            max_segment_len: 1 << 20,
            max_set_len: 256 << 20,
        }
    }
}

struct IcState {
    report: InterchangeReport,
    group_ids: ControlSet,
}

struct GroupState {
    report: GroupReport,
    set_ids: ControlSet,
}

/// Control numbers seen in one envelope, to find repeats. Numeric ones (the usual
/// case) are kept as numbers with their length, so "0001" and "001" stay distinct and
/// nothing is allocated per transaction set.
#[derive(Default)]
struct ControlSet {
    numeric: HashSet<u128, BuildHasherDefault<Fnv>>,
    other: HashSet<Box<[u8]>>,
}

impl ControlSet {
    /// Adds `v`; false when it was already there.
    fn insert(&mut self, v: &[u8]) -> bool {
        if !v.is_empty() && v.len() <= 30 && v.iter().all(u8::is_ascii_digit) {
            let n = v.iter().fold(0u128, |n, d| n * 10 + u128::from(d - b'0'));
            self.numeric.insert(n | ((v.len() as u128) << 120))
        } else {
            self.other.insert(v.into())
        }
    }
}

/// FNV-1a, for small integer keys.
#[derive(Default)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        self.0 = h;
    }
}

struct SetState {
    /// Where ST's content lies in the buffer (the set starts at buffer index 0).
    st: (usize, usize),
    byte_offset: u64,
    position: u64,
    count: u32,
    issues: Vec<Issue>,
    /// Content span (start, terminator) of each segment read, relative to the set.
    spans: Vec<(u32, u32)>,
}

enum Step {
    NeedMore,
    Progress,
}

/// The decoder state machine. Feed it a growing `BytesMut`; it splits items off the front.
///
/// ```
/// use bytes::BytesMut;
/// use x12_core::{Decoder, Item};
/// let mut dec = Decoder::default();
/// let mut buf = BytesMut::from(&b"ISA*00*          *00*          *ZZ*A              *ZZ*B              *240101*1200*^*00501*000000001*0*P*:~IEA*0*000000001~"[..]);
/// let mut kinds = vec![];
/// while let Some(item) = dec.decode(&mut buf, true) {
///     kinds.push(match item { Item::Segment(_) => "seg", Item::InterchangeEnd(_) => "end", _ => "other" });
/// }
/// assert_eq!(kinds, ["seg", "seg", "end"]);
/// ```
pub struct Decoder {
    opts: ReaderOptions,
    /// Absolute offset of `buf[0]`.
    base: u64,
    /// Scan position in the buffer (inside a set: the end of the last segment read).
    scan: usize,
    position: u64,
    delimiters: Option<Delimiters>,
    isa: Option<Arc<InterchangeHeader>>,
    ic: Option<IcState>,
    group: Option<GroupState>,
    set: Option<SetState>,
    loose: Vec<Issue>,
    pending: VecDeque<Item>,
    warned_indent: bool,
    warned_preamble: bool,
    finished: bool,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(ReaderOptions::default())
    }
}

impl Decoder {
    /// A decoder with the given limits.
    pub fn new(opts: ReaderOptions) -> Self {
        Decoder {
            opts,
            base: 0,
            scan: 0,
            position: 0,
            delimiters: None,
            isa: None,
            ic: None,
            group: None,
            set: None,
            loose: Vec::new(),
            pending: VecDeque::new(),
            warned_indent: false,
            warned_preamble: false,
            finished: false,
        }
    }

    /// The next item from `buf`, splitting its bytes off the front. `None` means more
    /// input is needed, or, once `eof` is true, that the input is exhausted.
    pub fn decode(&mut self, buf: &mut BytesMut, eof: bool) -> Option<Item> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            if self.finished {
                return None;
            }
            if let Step::NeedMore = self.step(buf, eof) {
                return None;
            }
        }
    }

    /// Whether every item has been handed out.
    pub fn is_finished(&self) -> bool {
        self.finished && self.pending.is_empty()
    }

    /// Bytes of input consumed into items so far.
    pub fn consumed(&self) -> u64 {
        self.base
    }

    fn loc(&self, offset: usize, id: &[u8]) -> Location {
        Location {
            byte_offset: self.base + offset as u64,
            segment_position: self.position,
            set_position: self.set.as_ref().map(|s| s.count),
            segment_id: lossy(id),
            control_number: self
                .ic
                .as_ref()
                .and_then(|ic| ic.report.header.as_ref())
                .map(|h| lossy(h.control_number())),
            ..Location::default()
        }
    }

    fn push_ic(&mut self, issue: Issue) {
        match self.ic.as_mut() {
            Some(ic) => ic.report.issues.push(issue),
            None => self.loose.push(issue),
        }
    }

    fn push_group(&mut self, issue: Issue) {
        match self.group.as_mut() {
            Some(g) => g.report.issues.push(issue),
            None => self.push_ic(issue),
        }
    }

    fn push_set(&mut self, issue: Issue) {
        match self.set.as_mut() {
            Some(s) => s.issues.push(issue),
            None => self.push_group(issue),
        }
    }

    fn take(&mut self, buf: &mut BytesMut, n: usize) -> bytes::Bytes {
        let b = buf.split_to(n).freeze();
        self.base += n as u64;
        self.scan = 0;
        b
    }

    fn step(&mut self, buf: &mut BytesMut, eof: bool) -> Step {
        let lead_start = self.scan;
        let mut start = lead_start;
        if self.base == 0 && start == 0 && self.position == 0 {
            if buf.len() < 3 && !eof && b"\xEF\xBB\xBF".starts_with(&buf[..]) {
                return Step::NeedMore;
            }
            if buf.starts_with(b"\xEF\xBB\xBF") {
                start = 3;
            }
        }
        while start < buf.len() && is_space(buf[start]) {
            start += 1;
        }
        if start == buf.len() {
            if !eof {
                return Step::NeedMore;
            }
            self.finish_input(buf, start);
            return Step::Progress;
        }
        if self.base == 0 && lead_start == 0 && start > 0 && !self.warned_preamble {
            self.warned_preamble = true;
            self.loose.push(
                Issue::warning(
                    Code::Preamble,
                    Scope::Interchange,
                    format!("{start} byte(s) of byte-order mark or white space before the ISA were skipped"),
                )
                .at(Location {
                    byte_offset: 0,
                    segment_position: 0,
                    ..Location::default()
                }),
            );
        }
        let rest = &buf[start..];
        let isa_next = rest.starts_with(b"ISA")
            || (self.delimiters.is_none() && rest.len() < 3 && !eof && b"ISA".starts_with(rest));
        if isa_next {
            if self.set.is_some() {
                self.close_set(buf, lead_start, Some("ISA"));
                return Step::Progress;
            }
            return self.read_isa(buf, start, eof);
        }
        let Some(d) = self.delimiters else {
            let issue = Issue::error(
                Code::NotX12,
                Scope::Interchange,
                "the input does not start with an ISA interchange header; this is not an X12 interchange",
            )
            .with_ta1(Ta1Note::InvalidControlStructure)
            .at(Location {
                byte_offset: start as u64,
                segment_position: 1,
                ..Location::default()
            });
            self.fatal(buf, issue);
            return Step::Progress;
        };
        let Some(span) = next_span(buf, start, d.segment, eof) else {
            if buf.len() - start > self.opts.max_segment_len {
                self.position += 1;
                let issue = Issue::error(
                    Code::SegmentTooLong,
                    Scope::Interchange,
                    format!(
                        "no segment terminator {:?} within {} bytes; the segment terminator declared in the ISA is probably wrong",
                        d.segment as char, self.opts.max_segment_len
                    ),
                )
                .with_ta1(Ta1Note::InvalidSegmentTerminator)
                .at(self.loc(start, b""));
                self.fatal(buf, issue);
                return Step::Progress;
            }
            return Step::NeedMore;
        };
        self.position += 1;
        self.segment(buf, lead_start, start, span)
    }

    fn read_isa(&mut self, buf: &mut BytesMut, start: usize, eof: bool) -> Step {
        let (header, issues) = match InterchangeHeader::parse(&buf[start..]) {
            Ok(parsed) => parsed,
            Err(IsaError::Incomplete) if !eof => return Step::NeedMore,
            Err(e) => {
                self.position += 1;
                let mut issue = match e {
                    IsaError::Invalid(issue) => *issue,
                    IsaError::Incomplete => Issue::error(
                        Code::PrematureEndOfFile,
                        Scope::Interchange,
                        "the input ends inside the ISA header",
                    )
                    .with_ta1(Ta1Note::PrematureEndOfFile),
                };
                let ta1 = issue.ta1_note;
                issue.location = self.loc(start, b"ISA");
                issue.ta1_note = ta1;
                self.close_all(None);
                self.fatal(buf, issue);
                return Step::Progress;
            }
        };
        let len = header.as_bytes().len();
        let d = header.delimiters();
        // the terminator and the white space after it
        let Some(span) = next_span(buf, start + len - 1, d.segment, eof) else {
            return Step::NeedMore;
        };
        self.position += 1;
        self.close_all(Some("ISA"));
        let loc = self.loc(start, b"ISA");
        let issues = issues
            .into_iter()
            .map(|mut i| {
                let element = i.location.element;
                i.location = loc.clone();
                i.location.element = element.filter(|e| *e > 0);
                i.location.control_number = Some(lossy(header.control_number()));
                i
            })
            .collect::<Vec<_>>();
        let header = Arc::new(header);
        let mut report = InterchangeReport {
            header: Some(header.clone()),
            byte_offset: loc.byte_offset,
            position: self.position,
            issues: std::mem::take(&mut self.loose),
            groups: 0,
            sets: 0,
            ta1_segments: 0,
            trailer: false,
        };
        for i in &mut report.issues {
            i.location.control_number = Some(lossy(header.control_number()));
        }
        report.issues.extend(issues);
        self.delimiters = Some(d);
        self.isa = Some(header);
        self.ic = Some(IcState {
            report,
            group_ids: ControlSet::default(),
        });
        let raw = self.take(buf, span.next);
        self.pending.push_back(Item::Segment(RawSegment {
            raw,
            content: (start as u32, (start + len - 1) as u32),
            delimiters: d,
            byte_offset: loc.byte_offset,
            position: self.position,
        }));
        Step::Progress
    }

    /// One segment other than ISA, found at `start` (after white space from `lead_start`).
    /// Takes the ordinary segments that follow inside the open set in one loop (the
    /// fast path of [`Decoder::segment`], without a step per segment), up to the first
    /// one that needs a closer look (SE, an envelope segment, a bad id, white space to
    /// report, the end of the buffer...), where `scan` is left for the next step.
    fn ordinary_run(&mut self, buf: &BytesMut) {
        let Some(d) = self.delimiters else { return };
        let (max, warned_indent) = (self.opts.max_set_len, self.warned_indent);
        let Some(s) = self.set.as_mut() else { return };
        let mut at = self.scan;
        while at < buf.len() {
            let Some(span) = next_span(buf, at, d.segment, false) else {
                break;
            };
            let (id, id_ok) = leading_id(&buf[at..span.content_end], d.element);
            if !ordinary(id, id_ok, &span, max, warned_indent) {
                break;
            }
            self.position += 1;
            s.count += 1;
            s.spans.push((at as u32, span.content_end as u32));
            at = span.next;
        }
        self.scan = at;
    }

    fn segment(&mut self, buf: &mut BytesMut, lead_start: usize, start: usize, span: Span) -> Step {
        let d = self.delimiters.unwrap_or_default();
        let content = &buf[start..span.content_end];
        let (id, id_ok) = leading_id(content, d.element);
        if self.set.is_some() {
            if matches!(id, b"ST" | b"GS" | b"GE" | b"IEA") {
                // The set ended without its SE: hand it out and read this segment again.
                self.position -= 1;
                let closer = lossy(id);
                self.close_set(buf, lead_start, Some(&closer));
                return Step::Progress;
            }
            if let Some(s) = self.set.as_mut() {
                s.count += 1;
                s.spans.push((start as u32, span.content_end as u32));
                // fast path: an ordinary segment inside a set
                if ordinary(id, id_ok, &span, self.opts.max_set_len, self.warned_indent) {
                    self.scan = span.next;
                    self.ordinary_run(buf);
                    return Step::Progress;
                }
            }
        }
        let mut issues = Vec::new();
        if !span.terminated {
            issues.push(
                Issue::error(
                    Code::PrematureEndOfFile,
                    Scope::Interchange,
                    format!(
                        "the input ends inside segment {} before its terminator",
                        lossy(id)
                    ),
                )
                .with_ta1(Ta1Note::PrematureEndOfFile),
            );
        }
        if span.indented && !self.warned_indent {
            self.warned_indent = true;
            issues.push(Issue::warning(
                Code::IndentedSegments,
                Scope::Interchange,
                "segments are followed by spaces or tabs (indented); tolerated, reported once",
            ));
        }
        if !id_ok {
            let scope = if self.set.is_some() {
                Scope::Set
            } else {
                Scope::Interchange
            };
            let shown: String = lossy(&content[..content.len().min(8)]);
            issues.push(Issue::error(
                Code::InvalidSegmentId,
                scope,
                format!(
                    "{shown:?} does not start with a segment identifier (2-3 upper-case letters or digits followed by the element separator {:?})",
                    d.element as char
                ),
            ));
        }
        if issues.is_empty() && id == b"ST" {
            let loc = Location {
                byte_offset: self.base + start as u64,
                segment_position: self.position,
                ..Location::default()
            };
            self.start_set(buf, start, span, loc);
            return Step::Progress;
        }
        let loc = self.loc(start, id);
        for mut i in issues {
            i.location = loc.clone();
            match i.scope {
                Scope::Set => self.push_set(i),
                _ => self.push_ic(i),
            }
        }
        if self.set.is_some() {
            if id == b"SE" {
                self.end_set(buf, start, span);
            } else {
                self.scan = span.next;
                if span.next > self.opts.max_set_len {
                    let issue = Issue::error(
                        Code::SetTooLarge,
                        Scope::Interchange,
                        format!(
                            "the transaction set starting at byte {} is larger than the {} byte limit",
                            self.set.as_ref().map_or(0, |s| s.byte_offset),
                            self.opts.max_set_len
                        ),
                    )
                    .with_ta1(Ta1Note::InvalidContent)
                    .at(loc);
                    self.fatal(buf, issue);
                }
            }
            return Step::Progress;
        }
        match id {
            b"ST" => {
                self.start_set(buf, start, span, loc);
                return Step::Progress;
            }
            b"GS" => self.start_group(buf, start, span, loc),
            b"GE" => {
                let report = self.end_group(buf, start, span, loc);
                self.emit_segment(buf, start, span);
                self.pending.extend(report);
                return Step::Progress;
            }
            b"IEA" => {
                let report = self.end_interchange(buf, start, span, loc);
                self.emit_segment(buf, start, span);
                self.pending.extend(report);
                return Step::Progress;
            }
            b"TA1" if self.ic.is_some() && self.group.is_none() => {
                if let Some(ic) = self.ic.as_mut() {
                    ic.report.ta1_segments += 1;
                }
            }
            _ => {
                let where_ = if self.ic.is_none() {
                    "outside any interchange (after IEA or before ISA)"
                } else if self.group.is_none() {
                    "between the ISA and the first GS, outside any functional group"
                } else {
                    "outside a transaction set (between SE and the next ST or GE)"
                };
                let issue = Issue::error(
                    Code::UnexpectedSegment,
                    Scope::Interchange,
                    format!("segment {} appears {where_}", lossy(id)),
                )
                .with_ta1(Ta1Note::InvalidControlStructure)
                .at(loc);
                self.push_ic(issue);
            }
        }
        self.emit_segment(buf, start, span);
        Step::Progress
    }

    fn emit_segment(&mut self, buf: &mut BytesMut, start: usize, span: Span) {
        let d = self.delimiters.unwrap_or_default();
        let byte_offset = self.base + start as u64;
        let raw = self.take(buf, span.next);
        self.pending.push_back(Item::Segment(RawSegment {
            raw,
            content: (start as u32, span.content_end as u32),
            delimiters: d,
            byte_offset,
            position: self.position,
        }));
    }

    fn start_group(&mut self, buf: &BytesMut, start: usize, span: Span, loc: Location) {
        self.close_group(Some("GS"));
        let d = self.delimiters.unwrap_or_default();
        let header = Arc::new(GroupHeader::new(
            bytes::Bytes::copy_from_slice(&buf[start..span.content_end]),
            d,
        ));
        let mut report = GroupReport {
            header: Some(header.clone()),
            byte_offset: loc.byte_offset,
            position: loc.segment_position,
            issues: Vec::new(),
            sets: 0,
            trailer: false,
        };
        let mut loc = loc;
        loc.control_number = Some(lossy(header.control_number()));
        let seg = header.segment();
        let mut bad = |n: u16, msg: String| {
            report.issues.push(
                Issue::error(Code::GsValue, Scope::Group, msg)
                    .at(loc.clone())
                    .element(n),
            );
        };
        let count = seg.element_count();
        if count != 8 {
            bad(
                count.min(9) as u16,
                format!("GS has {count} elements; it must have 8"),
            );
        }
        let gs01 = seg.get(1);
        if gs01.len() != 2 || !gs01.iter().all(u8::is_ascii_alphanumeric) {
            bad(
                1,
                format!(
                    "GS01 functional identifier {:?} must be 2 characters",
                    lossy(gs01)
                ),
            );
        }
        for n in [2usize, 3] {
            let v = seg.get(n);
            if !(2..=15).contains(&v.len()) {
                bad(
                    n as u16,
                    format!(
                        "GS{n:02} application code {:?} must be 2-15 characters",
                        lossy(v)
                    ),
                );
            }
        }
        if seg.get(4).len() != 8 || !is_valid_date(seg.get(4)) {
            bad(
                4,
                format!(
                    "GS04 date {:?} is not a valid CCYYMMDD date",
                    lossy(seg.get(4))
                ),
            );
        }
        if !is_valid_time(seg.get(5)) {
            bad(
                5,
                format!(
                    "GS05 time {:?} is not a valid HHMM[SS[DD]] time",
                    lossy(seg.get(5))
                ),
            );
        }
        let gs06 = seg.get(6);
        if !(1..=9).contains(&gs06.len()) || !gs06.iter().all(u8::is_ascii_digit) {
            bad(
                6,
                format!(
                    "GS06 group control number {:?} must be 1-9 digits",
                    lossy(gs06)
                ),
            );
        }
        if seg.get(7) != b"X" {
            bad(
                7,
                format!("GS07 responsible agency {:?} must be X", lossy(seg.get(7))),
            );
        }
        if seg.get(8).is_empty() {
            bad(8, "GS08 version/release code is missing".into());
        }
        match self.ic.as_mut() {
            Some(ic) => {
                ic.report.groups += 1;
                if !ic.group_ids.insert(gs06) {
                    report.issues.push(
                        Issue::error(
                            Code::DuplicateGroupControl,
                            Scope::Group,
                            format!(
                                "GS06 group control number {} is used twice in this interchange",
                                lossy(gs06)
                            ),
                        )
                        .at(loc.clone())
                        .element(6),
                    );
                }
            }
            None => self.loose.push(
                Issue::error(
                    Code::UnexpectedSegment,
                    Scope::Interchange,
                    "GS appears outside any interchange",
                )
                .with_ta1(Ta1Note::InvalidControlStructure)
                .at(loc.clone()),
            ),
        }
        self.group = Some(GroupState {
            report,
            set_ids: ControlSet::default(),
        });
    }

    fn start_set(&mut self, buf: &mut BytesMut, start: usize, span: Span, loc: Location) {
        // Everything before ST (only white space) joins the set as its lead.
        let d = self.delimiters.unwrap_or_default();
        let seg = Segment::new(&buf[start..span.content_end], d);
        let seed = loc;
        let isa13 = self
            .ic
            .as_ref()
            .and_then(|ic| ic.report.header.as_ref())
            .map(|h| h.control_number().to_vec());
        let full = || {
            let mut loc = seed.clone();
            loc.set_position = Some(1);
            loc.segment_id = "ST".into();
            loc.control_number = Some(lossy(seg.get(2)));
            let _ = &isa13;
            loc
        };
        let mut issues = Vec::new();
        let st01 = seg.get(1);
        if st01.len() != 3 || !st01.iter().all(u8::is_ascii_digit) {
            issues.push(
                Issue::error(
                    Code::StValue,
                    Scope::Set,
                    format!(
                        "ST01 transaction set identifier {:?} must be 3 digits",
                        lossy(st01)
                    ),
                )
                .at(full())
                .element(1),
            );
        }
        let st02 = seg.get(2);
        if !(4..=9).contains(&st02.len()) || !st02.iter().all(u8::is_ascii_alphanumeric) {
            issues.push(
                Issue::error(
                    Code::StValue,
                    Scope::Set,
                    format!(
                        "ST02 transaction set control number {:?} must be 4-9 characters",
                        lossy(st02)
                    ),
                )
                .at(full())
                .element(2),
            );
        }
        let st03 = seg.get(3);
        match self.group.as_mut() {
            Some(g) => {
                g.report.sets += 1;
                let gs08 = g
                    .report
                    .header
                    .as_ref()
                    .map(|h| h.version().to_vec())
                    .unwrap_or_default();
                if !st03.is_empty() && st03 != &gs08[..] {
                    issues.push(
                        Issue::error(
                            Code::VersionMismatch,
                            Scope::Set,
                            format!(
                                "ST03 implementation guide {} differs from GS08 {}",
                                lossy(st03),
                                lossy(&gs08)
                            ),
                        )
                        .at(full())
                        .element(3),
                    );
                }
                if !g.set_ids.insert(st02) {
                    issues.push(
                        Issue::error(
                            Code::DuplicateSetControl,
                            Scope::Set,
                            format!(
                                "ST02 control number {} is used twice in this functional group",
                                lossy(st02)
                            ),
                        )
                        .at(full())
                        .element(2),
                    );
                }
            }
            None => issues.push(
                Issue::error(
                    Code::UnexpectedSegment,
                    Scope::Interchange,
                    "ST appears outside a functional group (no GS before it)",
                )
                .with_ta1(Ta1Note::InvalidControlStructure)
                .at(full()),
            ),
        }
        if let Some(ic) = self.ic.as_mut() {
            ic.report.sets += 1;
        }
        let (set_issues, ic_issues): (Vec<_>, Vec<_>) =
            issues.into_iter().partition(|i| i.scope == Scope::Set);
        for i in ic_issues {
            self.push_ic(i);
        }
        self.set = Some(SetState {
            st: (start, span.content_end),
            byte_offset: seed.byte_offset,
            position: seed.segment_position,
            count: 1,
            issues: set_issues,
            spans: {
                let mut v = Vec::with_capacity(64);
                v.push((start as u32, span.content_end as u32));
                v
            },
        });
        self.scan = span.next;
    }

    fn end_set(&mut self, buf: &mut BytesMut, start: usize, span: Span) {
        let Some(mut set) = self.set.take() else {
            return;
        };
        let d = self.delimiters.unwrap_or_default();
        let st = Segment::new(&buf[set.st.0..set.st.1], d);
        let se = Segment::new(&buf[start..span.content_end], d);
        let (base, position, count) = (self.base, self.position, set.count);
        let loc = |element: u16| Location {
            byte_offset: base + start as u64,
            segment_position: position,
            set_position: Some(count),
            segment_id: "SE".into(),
            control_number: Some(lossy(st.get(2))),
            element: Some(element),
            ..Location::default()
        };
        let se01 = se.get(1);
        if se01.is_empty()
            || !se01.iter().all(u8::is_ascii_digit)
            || parse_u64(se01) != Some(set.count as u64)
        {
            set.issues.push(
                Issue::error(
                    Code::SegmentCountMismatch,
                    Scope::Set,
                    format!(
                        "SE01 says {} segments; the set has {} from ST to SE",
                        lossy(se01),
                        set.count
                    ),
                )
                .at(loc(1)),
            );
        }
        if se.get(2) != st.get(2) {
            set.issues.push(
                Issue::error(
                    Code::SetControlMismatch,
                    Scope::Set,
                    format!(
                        "SE02 control number {:?} differs from ST02 {:?}",
                        lossy(se.get(2)),
                        lossy(st.get(2))
                    ),
                )
                .at(loc(2)),
            );
        }
        let byte_offset = set.byte_offset;
        let raw = self.take(buf, span.next);
        self.hand_out_set(raw, set, byte_offset, true);
    }

    fn hand_out_set(&mut self, raw: bytes::Bytes, set: SetState, byte_offset: u64, complete: bool) {
        self.pending.push_back(Item::Transaction(TransactionSet {
            raw,
            delimiters: self.delimiters.unwrap_or_default(),
            byte_offset,
            position: set.position,
            segment_count: set.count,
            complete,
            interchange: self.isa.clone(),
            group: self.group.as_ref().and_then(|g| g.report.header.clone()),
            issues: set.issues,
            spans: set.spans,
        }));
    }

    /// Ends the open set without its SE: its bytes are `buf[..end]`.
    fn close_set(&mut self, buf: &mut BytesMut, end: usize, closer: Option<&str>) {
        let Some(mut set) = self.set.take() else {
            return;
        };
        let d = self.delimiters.unwrap_or_default();
        let st02 = lossy(Segment::new(&buf[set.st.0..set.st.1], d).get(2));
        let why = match closer {
            Some(id) => {
                format!("the transaction set {st02} has no SE trailer before the {id} segment")
            }
            None => format!("the input ends inside transaction set {st02} (no SE trailer)"),
        };
        set.issues
            .push(Issue::error(Code::MissingSe, Scope::Set, why).at(Location {
                byte_offset: self.base + end as u64,
                segment_position: self.position + 1,
                set_position: Some(set.count + 1),
                segment_id: "SE".into(),
                control_number: Some(st02),
                ..Location::default()
            }));
        let byte_offset = set.byte_offset;
        let raw = self.take(buf, end);
        self.hand_out_set(raw, set, byte_offset, false);
    }

    fn end_group(
        &mut self,
        buf: &BytesMut,
        start: usize,
        span: Span,
        loc: Location,
    ) -> Option<Item> {
        let Some(mut g) = self.group.take() else {
            self.push_ic(unopened("GE", "GS", loc));
            return None;
        };
        let d = self.delimiters.unwrap_or_default();
        let ge = Segment::new(&buf[start..span.content_end], d);
        let gs06 = g
            .report
            .header
            .as_ref()
            .map(|h| h.control_number().to_vec())
            .unwrap_or_default();
        let mut loc = loc;
        loc.control_number = Some(lossy(&gs06));
        if parse_u64(ge.get(1)) != Some(g.report.sets as u64) {
            g.report.issues.push(
                Issue::error(
                    Code::SetCountMismatch,
                    Scope::Group,
                    format!(
                        "GE01 says {} transaction sets; the group has {}",
                        lossy(ge.get(1)),
                        g.report.sets
                    ),
                )
                .at(loc.clone())
                .element(1),
            );
        }
        if ge.get(2) != &gs06[..] {
            g.report.issues.push(
                Issue::error(
                    Code::GroupControlMismatch,
                    Scope::Group,
                    format!(
                        "GE02 control number {:?} differs from GS06 {:?}",
                        lossy(ge.get(2)),
                        lossy(&gs06)
                    ),
                )
                .at(loc)
                .element(2),
            );
        }
        g.report.trailer = true;
        Some(Item::GroupEnd(g.report))
    }

    fn end_interchange(
        &mut self,
        buf: &BytesMut,
        start: usize,
        span: Span,
        loc: Location,
    ) -> Option<Item> {
        self.close_group(Some("IEA"));
        let Some(mut ic) = self.ic.take() else {
            self.loose.push(unopened("IEA", "ISA", loc));
            return None;
        };
        let d = self.delimiters.unwrap_or_default();
        let iea = Segment::new(&buf[start..span.content_end], d);
        let isa13 = ic
            .report
            .header
            .as_ref()
            .map(|h| h.control_number().to_vec())
            .unwrap_or_default();
        if parse_u64(iea.get(1)) != Some(ic.report.groups as u64) {
            ic.report.issues.push(
                Issue::error(
                    Code::GroupCountMismatch,
                    Scope::Interchange,
                    format!(
                        "IEA01 says {} functional groups; the interchange has {}",
                        lossy(iea.get(1)),
                        ic.report.groups
                    ),
                )
                .with_ta1(Ta1Note::InvalidGroupCount)
                .at(loc.clone())
                .element(1),
            );
        }
        if iea.get(2) != &isa13[..] {
            ic.report.issues.push(
                Issue::error(
                    Code::InterchangeControlMismatch,
                    Scope::Interchange,
                    format!(
                        "IEA02 control number {:?} differs from ISA13 {:?}",
                        lossy(iea.get(2)),
                        lossy(&isa13)
                    ),
                )
                .with_ta1(Ta1Note::ControlNumberMismatch)
                .at(loc)
                .element(2),
            );
        }
        ic.report.trailer = true;
        Some(Item::InterchangeEnd(ic.report))
    }

    fn close_group(&mut self, closer: Option<&str>) {
        let Some(mut g) = self.group.take() else {
            return;
        };
        let gs06 = g
            .report
            .header
            .as_ref()
            .map(|h| lossy(h.control_number()))
            .unwrap_or_default();
        let why = match closer {
            Some(id) => {
                format!("functional group {gs06} has no GE trailer before the {id} segment")
            }
            None => format!("the input ends inside functional group {gs06} (no GE trailer)"),
        };
        g.report.issues.push(
            Issue::error(Code::MissingGe, Scope::Group, why).at(Location {
                byte_offset: self.base + self.scan as u64,
                segment_position: self.position,
                segment_id: "GE".into(),
                control_number: Some(gs06),
                ..Location::default()
            }),
        );
        self.pending.push_back(Item::GroupEnd(g.report));
    }

    fn close_interchange(&mut self, closer: Option<&str>) {
        let Some(mut ic) = self.ic.take() else { return };
        let isa13 = ic.report.header.as_ref().map(|h| lossy(h.control_number()));
        let why = match closer {
            Some(id) => format!(
                "interchange {} has no IEA trailer before the next {id}",
                isa13.as_deref().unwrap_or("?")
            ),
            None => format!(
                "the input ends inside interchange {} (no IEA trailer)",
                isa13.as_deref().unwrap_or("?")
            ),
        };
        let note = if closer.is_some() {
            Ta1Note::InvalidControlStructure
        } else {
            Ta1Note::PrematureEndOfFile
        };
        let code = if closer.is_some() {
            Code::MissingIea
        } else {
            Code::PrematureEndOfFile
        };
        ic.report.issues.push(
            Issue::error(code, Scope::Interchange, why)
                .with_ta1(note)
                .at(Location {
                    byte_offset: self.base + self.scan as u64,
                    segment_position: self.position,
                    segment_id: "IEA".into(),
                    control_number: isa13,
                    ..Location::default()
                }),
        );
        self.pending.push_back(Item::InterchangeEnd(ic.report));
    }

    /// Closes any open group and interchange (the set must already be closed).
    fn close_all(&mut self, closer: Option<&str>) {
        self.close_group(closer);
        self.close_interchange(closer);
    }

    fn finish_input(&mut self, buf: &mut BytesMut, end: usize) {
        if self.set.is_some() {
            self.close_set(buf, end, None);
        }
        if end > 0 && !buf.is_empty() {
            // trailing white space after the last segment: keep it in the item stream
            self.emit_trailing(buf, end);
        }
        self.close_all(None);
        if self.position == 0 && self.loose.iter().all(|i| i.code == Code::Preamble) {
            self.loose.push(
                Issue::error(
                    Code::NotX12,
                    Scope::Interchange,
                    "the input is empty: no ISA interchange header",
                )
                .with_ta1(Ta1Note::PrematureEndOfFile),
            );
        }
        self.flush_loose();
        self.finished = true;
    }

    fn emit_trailing(&mut self, buf: &mut BytesMut, end: usize) {
        let d = self.delimiters.unwrap_or_default();
        let byte_offset = self.base;
        let raw = self.take(buf, end);
        self.pending.push_back(Item::Segment(RawSegment {
            content: (raw.len() as u32, raw.len() as u32),
            raw,
            delimiters: d,
            byte_offset,
            position: self.position,
        }));
    }

    fn flush_loose(&mut self) {
        if self.loose.is_empty() {
            return;
        }
        let first = &self.loose[0].location;
        self.pending
            .push_back(Item::InterchangeEnd(InterchangeReport {
                header: None,
                byte_offset: first.byte_offset,
                position: first.segment_position,
                issues: std::mem::take(&mut self.loose),
                groups: 0,
                sets: 0,
                ta1_segments: 0,
                trailer: false,
            }));
    }

    /// An unrecoverable problem: report it, close everything, read no further.
    fn fatal(&mut self, buf: &mut BytesMut, issue: Issue) {
        if let Some(set) = self.set.take() {
            // the partial set is not handed out; its bytes stay in the caller's copy
            drop(set);
        }
        self.push_ic(issue);
        if let Some(g) = self.group.take() {
            self.pending.push_back(Item::GroupEnd(g.report));
        }
        if let Some(ic) = self.ic.take() {
            self.pending.push_back(Item::InterchangeEnd(ic.report));
        }
        self.flush_loose();
        self.base += buf.len() as u64;
        buf.clear();
        self.scan = 0;
        self.finished = true;
    }
}

/// A trailer with no header open before it (a GE without GS, an IEA without ISA).
fn unopened(trailer: &str, header: &str, loc: Location) -> Issue {
    Issue::error(
        Code::UnexpectedSegment,
        Scope::Interchange,
        format!("{trailer} appears with no {header} open"),
    )
    .with_ta1(Ta1Note::InvalidControlStructure)
    .at(loc)
}

fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 18 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

/// Whether a segment inside a set needs no closer look: a well-formed id that neither
/// ends the set nor belongs to the envelope, a terminator, no indentation still to
/// report, and the set within its size limit.
#[inline]
fn ordinary(id: &[u8], id_ok: bool, span: &Span, max_set_len: usize, warned_indent: bool) -> bool {
    id_ok
        && span.terminated
        && (!span.indented || warned_indent)
        && span.next <= max_set_len
        && !matches!(id, b"SE" | b"ST" | b"GS" | b"GE" | b"IEA" | b"ISA")
}
