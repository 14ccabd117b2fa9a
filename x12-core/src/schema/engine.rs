//! The schema engine: walks the segments of one transaction set through a guide table,
//! building the loop tree and reporting SNIP 1–2 findings with their 999 coordinates.

use super::elements::check_elements;
use super::memo::{self, PlaceMemo};
use super::model::{code_key, Child, Guide, QualifierSpot, Usage};
use super::tree::{LoopTree, Node, SegmentSlot, NONE};
use crate::envelope::TransactionSet;
use crate::isa::lossy;
use crate::issue::{Code, Ik3, Issue, Location, Scope};
use crate::segment::{find_byte, nth_field, split_seps_within, Segment};
use crate::tokenize::next_span;

/// A loop instance being filled.
#[derive(Debug, Clone, Copy)]
struct Frame {
    node: u32,
    loop_index: u32,
    cursor: u32,
    /// Offset of this frame's child counters in the shared counter arena.
    counts_at: u32,
}

/// What is known about the segment being placed, for messages and 999 coordinates.
pub(crate) struct Ctx<'a> {
    pub segment: Segment<'a>,
    pub set_position: u32,
    pub file_position: u64,
    pub byte_offset: u64,
    pub control_number: &'a str,
    pub loop_id: Option<&'a str>,
    /// Whether the repetition separator occurs anywhere in the set (when it does not,
    /// no segment needs to look for it).
    pub repeats: bool,
}

impl Ctx<'_> {
    pub(crate) fn issue(
        &self,
        code: Code,
        segment_id: &str,
        ik304: &'static str,
        message: String,
    ) -> Issue {
        let mut i = Issue::error(code, Scope::Set, message).at(Location {
            byte_offset: self.byte_offset,
            segment_position: self.file_position,
            set_position: Some(self.set_position),
            segment_id: segment_id.to_string(),
            loop_id: self.loop_id.map(str::to_string),
            control_number: Some(self.control_number.to_string()),
            excerpt: Some(lossy(self.segment.as_bytes())),
            ..Location::default()
        });
        i.snip = 2;
        i.ik3 = Some(Ik3 {
            segment_id: segment_id.to_string(),
            position: self.set_position,
            loop_id: self.loop_id.map(str::to_string),
            code: ik304,
        });
        i
    }
}

/// Walks transaction sets through one guide. Cheap to create; reuse it and the
/// [`LoopTree`] across sets.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use x12_core::schema::{parse_guide, Engine, LoopTree};
/// use x12_core::{Item, Reader};
/// let guide = parse_guide("t", r#"
/// guide T 005010X222A1
/// transaction 837 HC
/// source "test"
/// seg ST R 1 "Header"
///   el 01 143 R ID 3-3 "Id" [837]
///   el 02 329 R AN 4-9 "Control"
///   el 03 1705 R AN 1-35 "Guide"
/// seg BHT R 1 "Beginning"
///   el 01 1005 R ID 4-4 "Structure" [0019]
/// loop 1000A R 1 "Submitter"
///   seg NM1 R 1 "Submitter Name"
///     el 01 98 R ID 2-3 "Entity" [41]
/// seg SE R 1 "Trailer"
///   el 01 96 R N0 1-10 "Count"
///   el 02 329 R AN 4-9 "Control"
/// "#)?;
/// let input = b"ISA*00*          *00*          *ZZ*A              *ZZ*B              *240101*1200*^*00501*000000001*0*P*:~GS*HC*A*B*20240101*1200*1*X*005010X222A1~ST*837*0001*005010X222A1~BHT*0019~NM1*41~SE*4*0001~GE*1*1~IEA*1*000000001~";
/// let engine = Engine::new(&guide);
/// let mut tree = LoopTree::default();
/// let mut issues = Vec::new();
/// for item in Reader::new(&input[..]) {
///     if let Item::Transaction(set) = item? {
///         engine.walk(&set, &mut tree, &mut issues);
///     }
/// }
/// assert!(issues.is_empty(), "{issues:?}");
/// assert_eq!(tree.nodes.len(), 2);
/// assert_eq!(guide.loops[tree.nodes[1].loop_index as usize].id, "1000A");
/// # Ok(()) }
/// ```
pub struct Engine<'g> {
    guide: &'g Guide,
}

impl<'g> Engine<'g> {
    /// An engine for `guide`.
    pub fn new(guide: &'g Guide) -> Self {
        Engine { guide }
    }

    /// The guide this engine walks.
    pub fn guide(&self) -> &'g Guide {
        self.guide
    }

    fn def_of(&self, child: Child) -> u32 {
        match child {
            Child::Segment(s) => s as u32,
            Child::Loop(l) => self.guide.loops[l].trigger as u32,
        }
    }

    /// Whether `seg` carries a qualifier value that definition `def` accepts. The
    /// qualifier value is read once per place and kept in `seen`: sibling definitions
    /// (a run of DTP or REF by qualifier) ask for the same element again and again.
    fn qualifies<'s>(
        &self,
        def: u32,
        seg: &Segment<'s>,
        rep: Option<u8>,
        seen: &mut Option<((u8, u8), &'s [u8])>,
    ) -> bool {
        let d = &self.guide.segments[def as usize];
        let Some((q, c)) = d.qualifier else {
            return true;
        };
        let e = &d.elements[q];
        let (spot, allows) = match c {
            None => ((e.position, 0), e),
            Some(c) => {
                let comp = &e.components[c];
                ((e.position, comp.position), comp)
            }
        };
        let value = match *seen {
            Some((at, v)) if at == spot => v,
            _ => {
                let v = qualifier_value(seg, spot, rep);
                *seen = Some((spot, v));
                v
            }
        };
        allows.allows(value)
    }

    /// Finds where `seg` (its id packed in `key`) goes: (frame depth, child index).
    /// Exact matches (id and qualifier) anywhere up the stack win over id-only matches.
    /// Whether a frame has an exact match is looked up in `memo` first (the answer
    /// depends only on the frame's loop and cursor, the segment id and its qualifier
    /// value); debug builds search anyway and compare.
    fn place(
        &self,
        frames: &[Frame],
        seg: &Segment<'_>,
        key: u32,
        rep: Option<u8>,
        memo: &mut PlaceMemo,
    ) -> Option<(usize, u32)> {
        let g = self.guide;
        let id = g.segment_key_index(key)?;
        let value = match g.qualifier_spots.get(id) {
            Some(QualifierSpot::None) => Some(0),
            Some(&QualifierSpot::At(p, c)) => code_key(qualifier_value(seg, (p, c), rep)),
            _ => None,
        };
        let mut seen = None;
        for d in (0..frames.len()).rev() {
            let f = frames[d];
            let at = g.loops[f.loop_index as usize].by_id[id];
            if at == 0 {
                continue;
            }
            let remember = value.zip(memo::key(f.loop_index, f.cursor, id));
            let found = match remember.and_then(|(v, k)| memo.get(k, v)) {
                Some(found) => {
                    debug_assert_eq!(
                        found,
                        self.first_in(f, at, key, seg, rep, true, &mut seen),
                        "remembered placement of {seg:?}"
                    );
                    found
                }
                None => {
                    let found = self.first_in(f, at, key, seg, rep, true, &mut seen);
                    if let Some((v, k)) = remember {
                        memo.put(k, v, found);
                    }
                    found
                }
            };
            if let Some(ci) = found {
                return Some((d, ci));
            }
        }
        for d in (0..frames.len()).rev() {
            let f = frames[d];
            let at = g.loops[f.loop_index as usize].by_id[id];
            if at == 0 {
                continue;
            }
            if let Some(ci) = self.first_in(f, at, key, seg, rep, false, &mut seen) {
                return Some((d, ci));
            }
        }
        None
    }

    /// The first child of frame `f` at or after its cursor that `seg` (id `key`, at
    /// entry `at` of the loop's `by_key`) may be: with the qualifier matching when
    /// `exact`, by id alone otherwise.
    #[allow(clippy::too_many_arguments)]
    fn first_in<'s>(
        &self,
        f: Frame,
        at: u16,
        key: u32,
        seg: &Segment<'s>,
        rep: Option<u8>,
        exact: bool,
        seen: &mut Option<((u8, u8), &'s [u8])>,
    ) -> Option<u32> {
        let l = &self.guide.loops[f.loop_index as usize];
        let at = usize::from(at - 1);
        // definitions in the same run as the cursor's (same segment id, one
        // position in the standard) may come in any order
        let floor = match l.children.get(f.cursor as usize) {
            Some(Child::Segment(s)) if self.guide.segments[*s].key == key => {
                l.run_start[f.cursor as usize]
            }
            _ => f.cursor,
        };
        for &ci in &l.by_key[at].1 {
            if ci < floor {
                continue;
            }
            // a loop's first segment seen again starts the loop's next
            // iteration (found in the parent frame), not a repeat inside this one
            if f.loop_index != 0 && l.children[ci as usize] == Child::Segment(l.trigger) {
                continue;
            }
            if !exact || self.qualifies(self.def_of(l.children[ci as usize]), seg, rep, seen) {
                return Some(ci);
            }
        }
        None
    }

    /// Builds the loop tree of `set` into `tree` and appends SNIP 1–2 findings to `issues`.
    pub fn walk(&self, set: &TransactionSet, tree: &mut LoopTree, issues: &mut Vec<Issue>) {
        tree.clear();
        let g = self.guide;
        let control = lossy(set.control_number());
        let mut frames: Vec<Frame> = Vec::with_capacity(8);
        let mut counts: Vec<u32> = Vec::with_capacity(128);
        tree.nodes.push(Node {
            loop_index: 0,
            parent: NONE,
            first_segment: 0,
            end_segment: 0,
            subtree_end: 1,
        });
        counts.resize(g.loops[0].children.len(), 0);
        frames.push(Frame {
            node: 0,
            loop_index: 0,
            cursor: 0,
            counts_at: 0,
        });
        let raw = set.as_bytes();
        let d = set.delimiters();
        let lead = raw
            .iter()
            .position(|b| !crate::tokenize::is_space(*b))
            .unwrap_or(raw.len());
        let mut owned_spans = Vec::new();
        let spans: &[(u32, u32)] = if set.spans.is_empty() {
            // a set built by hand, not by the decoder: find its segments
            let mut at = lead;
            while at < raw.len() {
                let Some(span) = next_span(raw, at, d.segment, true) else {
                    break;
                };
                owned_spans.push((at as u32, span.content_end as u32));
                at = span.next;
            }
            &owned_spans
        } else {
            &set.spans
        };
        let repeats = d
            .repetition
            .is_some_and(|r| memchr::memchr(r, raw).is_some());
        let rep = d.repetition.filter(|_| repeats);
        let mut index: u32 = 0;
        // the element separators of every segment, found once here and kept in the
        // tree (out of it while the walk borrows them and grows the tree)
        let mut seps = std::mem::take(&mut tree.seps);
        let mut memo = std::mem::take(&mut tree.memo);
        memo.begin();
        for &(start, end) in spans {
            let (at, content_end) = (start as usize, end as usize);
            let content = &raw[at..content_end];
            let seps_at = seps.len();
            let printable = split_seps_within(raw, at, content_end, d.element, &mut seps);
            // the segment's view lives in the context (built once, borrowed from there)
            let mut ctx = Ctx {
                segment: Segment::with_seps(content, &seps[seps_at..], d),
                set_position: index + 1,
                file_position: set.position() + u64::from(index),
                byte_offset: set.byte_offset() + (at - lead) as u64,
                control_number: &control,
                loop_id: None,
                repeats,
            };
            let key = super::model::id_key(ctx.segment.id());
            let placed = self.place(&frames, &ctx.segment, key, rep, &mut memo);
            let def = match placed {
                Some((depth, ci)) => self.enter(
                    tree,
                    &mut frames,
                    &mut counts,
                    depth,
                    ci,
                    index,
                    &ctx,
                    issues,
                ),
                None => {
                    self.misplaced(&frames, &ctx.segment, &ctx, issues);
                    NONE
                }
            };
            let top = frames[frames.len() - 1];
            tree.segments.push(SegmentSlot {
                start,
                end,
                node: top.node,
                def,
                id_len: ctx.segment.id().len() as u8,
                key,
                seps_at: seps_at as u32,
                seps_len: (seps.len() - seps_at) as u32,
            });
            if def != NONE {
                let sd = &g.segments[def as usize];
                let fine =
                    sd.program
                        .passes(sd, content, &seps[seps_at..], printable, rep, d.component);
                if !fine || cfg!(debug_assertions) {
                    ctx.loop_id = if sd.loop_index == 0 {
                        None
                    } else {
                        Some(g.loops[sd.loop_index].id.as_str())
                    };
                    let before = issues.len();
                    check_elements(sd, &ctx.segment, printable, &ctx, issues);
                    // the fast verdict is sound: what it passes, the full checks pass
                    debug_assert!(
                        !fine || issues.len() == before,
                        "fast verdict passed {} at set position {} but the checks found {:?}",
                        sd.id,
                        index + 1,
                        &issues[before..]
                    );
                }
            }
            index += 1;
        }
        tree.seps = seps;
        tree.memo = memo;
        // close every open loop
        let last = Ctx {
            segment: Segment::new(b"", d),
            set_position: index.max(1),
            file_position: set.position() + u64::from(index.max(1) - 1),
            byte_offset: set.byte_offset() + raw.len() as u64,
            control_number: &control,
            loop_id: None,
            repeats,
        };
        while let Some(f) = frames.pop() {
            self.close(tree, &f, &counts, f.cursor + 1, index, &last, issues);
            counts.truncate(f.counts_at as usize);
        }
    }

    /// Moves into child `ci` of the frame at `depth` for segment `index`; returns the
    /// segment definition matched.
    #[allow(clippy::too_many_arguments)]
    fn enter(
        &self,
        tree: &mut LoopTree,
        frames: &mut Vec<Frame>,
        counts: &mut Vec<u32>,
        depth: usize,
        ci: u32,
        index: u32,
        ctx: &Ctx<'_>,
        issues: &mut Vec<Issue>,
    ) -> u32 {
        let g = self.guide;
        while frames.len() > depth + 1 {
            let Some(f) = frames.pop() else { break };
            self.close(tree, &f, counts, f.cursor + 1, index, ctx, issues);
            counts.truncate(f.counts_at as usize);
        }
        let f = frames[depth];
        let children = &g.loops[f.loop_index as usize].children;
        // required children skipped on the way
        let required = &g.loops[f.loop_index as usize].required_children;
        let from = required.partition_point(|r| *r < f.cursor);
        for &skipped in required[from..].iter().take_while(|r| **r < ci) {
            if counts[(f.counts_at + skipped) as usize] == 0 {
                self.report_missing(f.loop_index, children[skipped as usize], ctx, issues);
            }
        }
        let slot = (f.counts_at + ci) as usize;
        counts[slot] += 1;
        let n = counts[slot];
        // a definition earlier in the cursor's run does not move the cursor back
        frames[depth].cursor = f.cursor.max(ci);
        let child = children[ci as usize];
        let def = self.def_of(child);
        let sd = &g.segments[def as usize];
        match child {
            Child::Segment(_) => {
                let here = || Ctx {
                    loop_id: (f.loop_index != 0)
                        .then(|| g.loops[f.loop_index as usize].id.as_str()),
                    ..*ctx
                };
                if sd.usage == Usage::NotUsed {
                    issues.push(here().issue(
                        Code::NotUsedSegment,
                        &sd.id,
                        "I4",
                        format!(
                            "{} {} ({}) is marked not used in this guide",
                            where_(g, f.loop_index),
                            sd.id,
                            sd.name
                        ),
                    ));
                }
                if sd.max.is_some_and(|m| n > m) {
                    issues.push(here().issue(
                        Code::SegmentOverMax,
                        &sd.id,
                        "5",
                        format!(
                            "{} {} ({}) appears {n} times; the guide allows {}",
                            where_(g, f.loop_index),
                            sd.id,
                            sd.name,
                            sd.max.unwrap_or(0)
                        ),
                    ));
                }
            }
            Child::Loop(l) => {
                let ld = &g.loops[l];
                let here = || Ctx {
                    loop_id: Some(ld.id.as_str()),
                    ..*ctx
                };
                if ld.usage == Usage::NotUsed {
                    issues.push(here().issue(
                        Code::NotUsedSegment,
                        &sd.id,
                        "I4",
                        format!(
                            "loop {} ({}) is marked not used in this guide",
                            ld.id, ld.name
                        ),
                    ));
                }
                if ld.max.is_some_and(|m| n > m) {
                    issues.push(here().issue(
                        Code::LoopOverMax,
                        &sd.id,
                        "4",
                        format!(
                            "loop {} ({}) occurs {n} times; the guide allows {}",
                            ld.id,
                            ld.name,
                            ld.max.unwrap_or(0)
                        ),
                    ));
                }
                let node = tree.nodes.len() as u32;
                tree.nodes.push(Node {
                    loop_index: l as u32,
                    parent: f.node,
                    first_segment: index,
                    end_segment: index,
                    subtree_end: node + 1,
                });
                let counts_at = counts.len() as u32;
                counts.resize(counts.len() + ld.children.len(), 0);
                // the trigger is the loop's first segment child
                let trigger_ci = ld
                    .children
                    .iter()
                    .position(|c| matches!(c, Child::Segment(_)))
                    .unwrap_or(0) as u32;
                counts[(counts_at + trigger_ci) as usize] = 1;
                frames.push(Frame {
                    node,
                    loop_index: l as u32,
                    cursor: trigger_ci,
                    counts_at,
                });
            }
        }
        def
    }

    /// Closes a loop instance: required children from `from` on that never came are
    /// missing; the node's extent is fixed.
    #[allow(clippy::too_many_arguments)]
    fn close(
        &self,
        tree: &mut LoopTree,
        f: &Frame,
        counts: &[u32],
        from: u32,
        end_index: u32,
        ctx: &Ctx<'_>,
        issues: &mut Vec<Issue>,
    ) {
        let l = &self.guide.loops[f.loop_index as usize];
        let required = &l.required_children;
        let start = required.partition_point(|r| *r < from);
        for &ci in &required[start..] {
            if counts[(f.counts_at + ci) as usize] == 0 {
                self.report_missing(f.loop_index, l.children[ci as usize], ctx, issues);
            }
        }
        let subtree_end = tree.nodes.len() as u32;
        let n = &mut tree.nodes[f.node as usize];
        n.end_segment = end_index;
        n.subtree_end = subtree_end;
    }

    fn report_missing(
        &self,
        loop_index: u32,
        child: Child,
        ctx: &Ctx<'_>,
        issues: &mut Vec<Issue>,
    ) {
        let g = self.guide;
        match child {
            Child::Segment(s) => {
                let sd = &g.segments[s];
                // a missing SE is the envelope's finding (IK5 code 2), not a guide one
                if sd.usage != Usage::Required || (loop_index == 0 && sd.id == "SE") {
                    return;
                }
                let here = Ctx {
                    loop_id: (loop_index != 0).then(|| g.loops[loop_index as usize].id.as_str()),
                    ..*ctx
                };
                issues.push(here.issue(
                    Code::MissingSegment,
                    &sd.id,
                    "3",
                    format!(
                        "{} is missing required segment {} ({})",
                        where_(g, loop_index),
                        sd.id,
                        sd.name
                    ),
                ));
            }
            Child::Loop(l) => {
                let ld = &g.loops[l];
                if ld.usage != Usage::Required {
                    return;
                }
                let trigger = &g.segments[g.loops[l].trigger];
                let here = Ctx {
                    loop_id: Some(ld.id.as_str()),
                    ..*ctx
                };
                issues.push(here.issue(
                    Code::MissingLoop,
                    &trigger.id,
                    "3",
                    format!(
                        "{} is missing required loop {} ({}), which starts with {}",
                        where_(g, loop_index),
                        ld.id,
                        ld.name,
                        trigger.id
                    ),
                ));
            }
        }
    }

    fn misplaced(
        &self,
        frames: &[Frame],
        seg: &Segment<'_>,
        ctx: &Ctx<'_>,
        issues: &mut Vec<Issue>,
    ) {
        let g = self.guide;
        let id = seg.id();
        let idstr = lossy(id);
        let top = frames[frames.len() - 1];
        let loop_id = (top.loop_index != 0).then(|| g.loops[top.loop_index as usize].id.as_str());
        let here = Ctx { loop_id, ..*ctx };
        let earlier = g.loops[top.loop_index as usize].children[..top.cursor as usize]
            .iter()
            .any(|c| g.segments[self.def_of(*c) as usize].id.as_bytes() == id);
        let (code, msg) = if earlier {
            (
                "7",
                format!(
                    "{} {idstr} is out of order: the guide places it earlier in {}",
                    where_(g, top.loop_index),
                    where_(g, top.loop_index)
                ),
            )
        } else if g.segments.iter().any(|s| s.id.as_bytes() == id) {
            (
                "2",
                format!(
                    "segment {idstr} is not expected here (after {} in {}); the guide does not allow it at this point",
                    self.cursor_name(&top),
                    where_(g, top.loop_index)
                ),
            )
        } else if crate::tokenize::valid_id(seg.as_bytes(), seg.delimiters().element) {
            (
                "6",
                format!(
                    "segment {idstr} is not part of the {} {} transaction set",
                    g.id, g.version
                ),
            )
        } else {
            ("1", format!("{:?} is not a segment identifier", idstr))
        };
        issues.push(here.issue(Code::UnexpectedGuideSegment, &idstr, code, msg));
    }

    fn cursor_name(&self, f: &Frame) -> String {
        let g = self.guide;
        let c = g.loops[f.loop_index as usize].children[f.cursor as usize];
        match c {
            Child::Segment(s) => g.segments[s].id.clone(),
            Child::Loop(l) => format!("loop {}", g.loops[l].id),
        }
    }
}

/// The qualifier value at `spot` (element position, component position or 0): for a
/// composite, the first repetition's component (a set without the repetition separator
/// has one repetition per element).
#[inline(always)]
fn qualifier_value<'s>(seg: &Segment<'s>, spot: (u8, u8), rep: Option<u8>) -> &'s [u8] {
    let el = seg.get(usize::from(spot.0));
    if spot.1 == 0 {
        return el;
    }
    qualifier_component(seg, el, spot.1, rep)
}

/// [`qualifier_value`]'s component `c` of element `el`.
#[inline(never)]
fn qualifier_component<'s>(seg: &Segment<'s>, el: &'s [u8], c: u8, rep: Option<u8>) -> &'s [u8] {
    let first = match rep.and_then(|r| find_byte(r, el)) {
        Some(i) => &el[..i],
        None => el,
    };
    nth_field(first, seg.delimiters().component, usize::from(c) - 1).unwrap_or(b"")
}

/// "loop 2010AA (Billing Provider Name)" or "the transaction set header".
pub(crate) fn where_(g: &Guide, loop_index: u32) -> String {
    if loop_index == 0 {
        "the transaction set".into()
    } else {
        let l = &g.loops[loop_index as usize];
        format!("loop {} ({})", l.id, l.name)
    }
}
