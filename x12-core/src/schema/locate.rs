//! Building located issues from outside the engine (guide rules in other crates).

use super::model::Guide;
use super::tree::{LoopTree, NONE};
use crate::envelope::TransactionSet;
use crate::isa::lossy;
use crate::issue::{Code, Ik3, Ik4, Issue, Location, Scope};

/// Where segment `index` of a walked set is, as an [`Issue`] location builder.
///
/// ```no_run
/// # use x12_core::schema::{At, LoopTree, Guide};
/// # use x12_core::{Code, TransactionSet};
/// # fn f(set: &TransactionSet, tree: &LoopTree, guide: &Guide) {
/// let issue = At::new(set, tree, guide, 12)
///     .element(2, None, "782", "I12", Some(b"150"))
///     .issue(Code::Balancing, 3, "CLM02 150 differs from the sum of the lines, 140");
/// # }
/// ```
pub struct At<'a> {
    set: &'a TransactionSet,
    tree: &'a LoopTree,
    guide: &'a Guide,
    index: u32,
    ik4: Option<Ik4>,
}

impl<'a> At<'a> {
    /// Segment `index` (0 is ST) of `set`, walked into `tree` with `guide`.
    pub fn new(set: &'a TransactionSet, tree: &'a LoopTree, guide: &'a Guide, index: u32) -> Self {
        At {
            set,
            tree,
            guide,
            index,
            ik4: None,
        }
    }

    /// Points at an element: position, component, reference number, IK403 code, value.
    pub fn element(
        mut self,
        position: u16,
        component: Option<u16>,
        reference: &str,
        ik403: &'static str,
        value: Option<&[u8]>,
    ) -> Self {
        self.ik4 = Some(Ik4 {
            position,
            component,
            repetition: None,
            reference: reference.to_string(),
            code: ik403,
            value: value.filter(|v| !v.is_empty()).map(lossy),
        });
        self
    }

    /// The loop id of the segment (`None` in the header).
    pub fn loop_id(&self) -> Option<&'a str> {
        let slot = self.tree.segments.get(self.index as usize)?;
        let node = self.tree.nodes.get(slot.node as usize)?;
        (node.loop_index != 0).then(|| self.guide.loops[node.loop_index as usize].id.as_str())
    }

    /// An error with this location, SNIP level `snip`. The 999 IK304 is 8 when an
    /// element is named, else I6 (implementation dependent segment rule).
    pub fn issue(self, code: Code, snip: u8, message: impl Into<String>) -> Issue {
        let seg = self.tree.segment(self.set, self.index);
        let segment_id = lossy(seg.id());
        let loop_id = self.loop_id().map(str::to_string);
        let mut i = Issue::error(code, Scope::Set, message).at(Location {
            byte_offset: self.set.byte_offset()
                + u64::from(
                    self.tree
                        .segments
                        .get(self.index as usize)
                        .map_or(0, |s| s.start),
                ),
            segment_position: self.set.position() + u64::from(self.index),
            set_position: Some(self.index + 1),
            segment_id: segment_id.clone(),
            element: self.ik4.as_ref().map(|e| e.position),
            component: self.ik4.as_ref().and_then(|e| e.component),
            loop_id: loop_id.clone(),
            control_number: Some(lossy(self.set.control_number())),
            excerpt: Some(lossy(seg.as_bytes())),
            span: self.ik4.as_ref().map(|e| {
                let (a, b) = seg.span_of(usize::from(e.position), e.component.map(usize::from));
                (a as u32, b as u32)
            }),
            ..Location::default()
        });
        i.snip = snip;
        i.ik3 = Some(Ik3 {
            segment_id,
            position: self.index + 1,
            loop_id,
            code: if self.ik4.is_some() { "8" } else { "I6" },
        });
        i.ik4 = self.ik4;
        i
    }
}

/// The index of the first segment of the loop instance `node` (its trigger).
pub fn first_segment(tree: &LoopTree, node: u32) -> u32 {
    tree.nodes
        .get(node as usize)
        .map_or(NONE, |n| n.first_segment)
}
