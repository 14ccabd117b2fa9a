//! Borrowed navigation of a loop tree: the generic layer typed views are built on.

use super::model::Guide;
use super::tree::{LoopTree, NONE};
use crate::envelope::TransactionSet;
use crate::segment::Segment;

/// One loop instance of a validated transaction set, borrowed: its segments, its
/// child loops, its ancestors. Copy it freely.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use x12_core::schema::{parse_guide, Engine, LoopRef, LoopTree};
/// use x12_core::{Item, Reader};
/// let guide = parse_guide("t", "guide T 1\ntransaction 837 HC\nsource \"test\"\nseg ST R 1 \"H\"\nloop 1000A R 1 \"Submitter\"\n  seg NM1 R 1 \"N\"\n  seg PER R 2 \"P\"\nseg SE R 1 \"T\"\n")?;
/// let input = b"ISA*00*          *00*          *ZZ*A              *ZZ*B              *240101*1200*^*00501*000000001*0*P*:~GS*HC*A*B*20240101*1200*1*X*1~ST*837*0001~NM1*41*2*ACME~PER*IC*DESK~SE*4*0001~GE*1*1~IEA*1*000000001~";
/// let mut tree = LoopTree::default();
/// for item in Reader::new(&input[..]) {
///     if let Item::Transaction(set) = item? {
///         Engine::new(&guide).walk(&set, &mut tree, &mut Vec::new());
///         let root = LoopRef::root(&set, &tree, &guide);
///         let submitter = root.child("1000A").unwrap();
///         assert_eq!(submitter.segment("NM1").unwrap().get(3), b"ACME");
///         assert_eq!(submitter.value("PER", 2), "DESK");
///         assert_eq!(submitter.parent().map(|p| p.id()), Some(""));
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Copy)]
pub struct LoopRef<'a> {
    /// The transaction set.
    pub set: &'a TransactionSet,
    /// Its loop tree.
    pub tree: &'a LoopTree,
    /// The guide the tree was built with.
    pub guide: &'a Guide,
    /// The node (loop instance).
    pub node: u32,
}

impl std::fmt::Debug for LoopRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LoopRef({} #{})", self.id(), self.node)
    }
}

impl<'a> LoopRef<'a> {
    /// The transaction set itself (node 0).
    pub fn root(set: &'a TransactionSet, tree: &'a LoopTree, guide: &'a Guide) -> Self {
        LoopRef {
            set,
            tree,
            guide,
            node: 0,
        }
    }

    fn at(&self, node: u32) -> Self {
        LoopRef { node, ..*self }
    }

    /// The loop id (`2300`); empty for the transaction set.
    pub fn id(&self) -> &'a str {
        match self.tree.nodes.get(self.node as usize) {
            Some(n) => &self.guide.loops[n.loop_index as usize].id,
            None => "",
        }
    }

    /// The loop name from the guide.
    pub fn name(&self) -> &'a str {
        match self.tree.nodes.get(self.node as usize) {
            Some(n) => &self.guide.loops[n.loop_index as usize].name,
            None => "",
        }
    }

    /// The enclosing loop instance.
    pub fn parent(&self) -> Option<Self> {
        let p = self.tree.nodes.get(self.node as usize)?.parent;
        (p != NONE).then(|| self.at(p))
    }

    fn key(&self) -> u64 {
        match self.tree.nodes.get(self.node as usize) {
            Some(n) => self.guide.loops[n.loop_index as usize].key,
            None => 0,
        }
    }

    /// Whether this is an instance of loop `id`.
    pub fn is(&self, id: &str) -> bool {
        self.key() == super::model::loop_key(id)
    }

    /// The nearest enclosing instance of loop `id` (this loop included).
    pub fn ancestor(&self, id: &str) -> Option<Self> {
        let key = super::model::loop_key(id);
        let mut cur = Some(*self);
        while let Some(l) = cur {
            if l.key() == key {
                return Some(l);
            }
            cur = l.parent();
        }
        None
    }

    /// Direct child loops, in order.
    pub fn children(&self) -> impl Iterator<Item = LoopRef<'a>> + 'a {
        let me = *self;
        self.tree.children(self.node).map(move |n| me.at(n))
    }

    /// Direct child loops with id `id`.
    pub fn children_with(&self, id: &str) -> impl Iterator<Item = LoopRef<'a>> + 'a {
        let key = super::model::loop_key(id);
        self.children().filter(move |c| c.key() == key)
    }

    /// The first direct child loop with id `id`.
    pub fn child(&self, id: &str) -> Option<LoopRef<'a>> {
        let key = super::model::loop_key(id);
        self.children().find(|c| c.key() == key)
    }

    /// Descendant loops (any depth) with id `id`, in order.
    pub fn descendants(&self, id: &'a str) -> impl Iterator<Item = LoopRef<'a>> + 'a {
        let me = *self;
        let end = self
            .tree
            .nodes
            .get(self.node as usize)
            .map_or(0, |n| n.subtree_end);
        (self.node + 1..end)
            .map(move |n| me.at(n))
            .filter(move |l| l.id() == id)
    }

    /// Every loop instance below this one, in order (pre-order, any depth).
    pub fn subtree(&self) -> impl Iterator<Item = LoopRef<'a>> + 'a {
        let me = *self;
        let end = self
            .tree
            .nodes
            .get(self.node as usize)
            .map_or(0, |n| n.subtree_end);
        (self.node + 1..end).map(move |n| me.at(n))
    }

    /// The segments directly in this loop instance (its trigger first).
    pub fn segments(&self) -> impl Iterator<Item = Segment<'a>> + 'a {
        let (set, tree) = (self.set, self.tree);
        tree.own_segments(self.node)
            .map(move |i| tree.segment(set, i))
    }

    /// The segments with id `id`, with their index in the set.
    pub fn indexed(&self, id: &str) -> impl Iterator<Item = (u32, Segment<'a>)> + 'a {
        let (set, tree) = (self.set, self.tree);
        let key = super::model::id_key(id.as_bytes());
        tree.own_segments(self.node)
            .map(move |i| (i, tree.segment(set, i)))
            .filter(move |(_, s)| super::model::id_key(s.id()) == key)
    }

    /// The first segment with id `id`.
    pub fn segment(&self, id: &str) -> Option<Segment<'a>> {
        let key = super::model::id_key(id.as_bytes());
        self.segments()
            .find(|s| super::model::id_key(s.id()) == key)
    }

    /// Every segment with id `id`.
    pub fn segments_with(&self, id: &str) -> impl Iterator<Item = Segment<'a>> + 'a {
        let key = super::model::id_key(id.as_bytes());
        self.segments()
            .filter(move |s| super::model::id_key(s.id()) == key)
    }

    /// The first segment with id `id` whose element 1 is `qualifier` (`DTP*472`, `REF*G1`).
    pub fn qualified(&self, id: &str, qualifier: &str) -> Option<Segment<'a>> {
        let key = super::model::id_key(id.as_bytes());
        self.segments().find(|s| {
            super::model::id_key(s.id()) == key
                && super::model::bytes_eq(s.get(1), qualifier.as_bytes())
        })
    }

    /// Element `n` of the first segment `id`, as text ("" when absent).
    pub fn value(&self, id: &str, n: usize) -> &'a str {
        self.segment(id).map_or("", |s| text(s.get(n)))
    }
}

/// Bytes as text: X12 content is ASCII; anything else shows as "".
pub fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or("")
}
