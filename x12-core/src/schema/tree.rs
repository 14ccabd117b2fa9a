//! The loop tree of one transaction set: which loop instance each segment belongs to.
//!
//! Nodes are stored in pre-order, so a node's descendants are the nodes right after it,
//! up to its `subtree_end`. Segments are referenced by their index in the set (ST is 0).

use crate::envelope::TransactionSet;
use crate::segment::Segment;

/// Marks "none" in `u32` index fields.
pub const NONE: u32 = u32::MAX;

/// One loop instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    /// Index of the loop definition in the guide (0: the transaction set itself).
    pub loop_index: u32,
    /// Parent node (`NONE` for the root).
    pub parent: u32,
    /// Index of the first segment (the trigger).
    pub first_segment: u32,
    /// One past the last segment of this instance, its child loops included.
    pub end_segment: u32,
    /// One past the last node of this subtree.
    pub subtree_end: u32,
}

/// Where one segment of the set is and what it was matched to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentSlot {
    /// Start of the segment content in the set's bytes.
    pub start: u32,
    /// End of the content (the terminator) in the set's bytes.
    pub end: u32,
    /// The loop instance holding it.
    pub node: u32,
    /// The segment definition it matched, or `NONE`.
    pub def: u32,
    /// Length of the segment identifier (2 or 3), so views need not look for it again.
    pub id_len: u8,
    /// The segment identifier packed by [`super::id_key`].
    pub key: u32,
    /// Where this segment's element separator offsets start in [`LoopTree::seps`].
    pub seps_at: u32,
    /// How many element separators the segment has.
    pub seps_len: u32,
}

/// The loop tree of one transaction set. Reuse one across sets: [`LoopTree::clear`]
/// keeps the allocations.
#[derive(Debug, Clone, Default)]
pub struct LoopTree {
    /// Loop instances in pre-order; node 0 is the transaction set.
    pub nodes: Vec<Node>,
    /// One slot per segment, in order.
    pub segments: Vec<SegmentSlot>,
    /// The element separator offsets of every segment (relative to the segment's
    /// start), found once by the walk and shared by every later reader of the tree.
    pub seps: Vec<u32>,
    /// Placements the walk remembered (valid during one walk).
    pub(crate) memo: super::memo::PlaceMemo,
}

impl LoopTree {
    /// Empties the tree, keeping its capacity.
    pub fn clear(&mut self) {
        self.nodes.clear();
        self.segments.clear();
        self.seps.clear();
    }

    /// The direct child nodes of `node`.
    pub fn children(&self, node: u32) -> Children<'_> {
        let n = &self.nodes[node as usize];
        Children {
            tree: self,
            next: node + 1,
            end: n.subtree_end,
        }
    }

    /// The segments directly in `node` (not in its child loops), as indices.
    pub fn own_segments(&self, node: u32) -> impl Iterator<Item = u32> + '_ {
        let n = self.nodes[node as usize];
        (n.first_segment..n.end_segment).filter(move |i| self.segments[*i as usize].node == node)
    }

    /// The view of segment `index` in `set` (the set this tree was built from). Its
    /// elements are found from the separators the walk recorded, without a scan.
    #[inline]
    pub fn segment<'s>(&'s self, set: &'s TransactionSet, index: u32) -> Segment<'s> {
        let s = self.segments[index as usize];
        let content = &set.as_bytes()[s.start as usize..s.end as usize];
        match self
            .seps
            .get(s.seps_at as usize..(s.seps_at as usize).saturating_add(s.seps_len as usize))
        {
            Some(seps) if !seps.is_empty() => Segment::with_seps(content, seps, set.delimiters()),
            _ => Segment::with_id_len(content, s.id_len, set.delimiters()),
        }
    }
}

/// Iterator over the direct children of a node.
pub struct Children<'t> {
    tree: &'t LoopTree,
    next: u32,
    end: u32,
}

impl Iterator for Children<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        if self.next >= self.end {
            return None;
        }
        let n = self.next;
        self.next = self.tree.nodes[n as usize].subtree_end;
        Some(n)
    }
}
