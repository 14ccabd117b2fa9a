//! The in-memory form of a guide table: loops, segments, elements, codes, rules.

pub use super::program::CheckProgram;

/// Whether a loop, segment or element is required, situational or not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Usage {
    /// `R`: must be present.
    Required,
    /// `S`: present when the guide's situation applies.
    Situational,
    /// `N`: must not be present.
    NotUsed,
}

impl Usage {
    /// The letter used in guide tables.
    pub fn letter(self) -> char {
        match self {
            Usage::Required => 'R',
            Usage::Situational => 'S',
            Usage::NotUsed => 'N',
        }
    }
}

/// A maximum repeat count; `None` is unbounded (`>1`).
pub type Max = Option<u32>;

/// X12 data element types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    /// Alphanumeric string.
    AN,
    /// Identifier (a code).
    ID,
    /// Date, CCYYMMDD (or YYMMDD when 6 long).
    DT,
    /// Time, HHMM[SS[D..]].
    TM,
    /// Numeric with an implied number of decimal places (N0, N2...).
    N(u8),
    /// Decimal number.
    R,
    /// Binary.
    B,
}

/// An X12 syntax rule on a segment's elements.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SyntaxRule {
    /// `P` paired, `R` required (at least one), `C` conditional, `E` exclusion, `L` list conditional.
    pub kind: RuleKind,
    /// Element positions, in the order written.
    pub positions: Vec<u8>,
}

/// Kinds of syntax rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleKind {
    /// All or none of the elements.
    Paired,
    /// At least one of the elements.
    Required,
    /// At most one of the elements.
    Exclusion,
    /// If the first is present, all the others are.
    Conditional,
    /// If the first is present, at least one of the others is.
    ListConditional,
}

impl SyntaxRule {
    /// The rule as X12 writes it, e.g. `P0203`.
    pub fn notation(&self) -> String {
        let k = match self.kind {
            RuleKind::Paired => 'P',
            RuleKind::Required => 'R',
            RuleKind::Exclusion => 'E',
            RuleKind::Conditional => 'C',
            RuleKind::ListConditional => 'L',
        };
        let mut s = String::from(k);
        for p in &self.positions {
            s.push_str(&format!("{p:02}"));
        }
        s
    }
}

/// One element (or one component of a composite).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementDef {
    /// 1-based position in the segment (or in the composite).
    pub position: u8,
    /// X12 data element reference number (`98`), or composite id (`C023`).
    pub reference: String,
    /// Usage in this guide.
    pub usage: Usage,
    /// Data type (composites: `AN`, unused).
    pub data_type: DataType,
    /// Minimum length.
    pub min: u16,
    /// Maximum length.
    pub max: u16,
    /// Maximum repetitions.
    pub repeat: u16,
    /// Name.
    pub name: String,
    /// Allowed codes, sorted (empty: any value of the type).
    pub codes: Vec<String>,
    /// External code set checked by code-set rules (`states`, `icd10cm`...).
    pub code_set: Option<String>,
    /// Components, for a composite.
    pub components: Vec<ElementDef>,
    /// `codes` packed with [`code_key`], sorted, when every code is at most seven
    /// bytes long (derived when the guide is parsed; empty otherwise).
    pub code_keys: Vec<u64>,
}

impl ElementDef {
    /// Whether this is a composite.
    pub fn is_composite(&self) -> bool {
        !self.components.is_empty()
    }

    /// Whether `value` is one of the allowed codes (true when there is no list).
    #[inline(always)]
    pub fn allows(&self, value: &[u8]) -> bool {
        if self.codes.is_empty() {
            return true;
        }
        if !self.code_keys.is_empty() {
            let Some(k) = code_key(value) else {
                return false;
            };
            if self.code_keys.len() <= 16 {
                return self.code_keys.contains(&k);
            }
            return self.code_keys.binary_search(&k).is_ok();
        }
        if self.codes.len() <= 16 {
            return self.codes.iter().any(|c| bytes_eq(c.as_bytes(), value));
        }
        self.codes
            .binary_search_by(|c| c.as_bytes().cmp(value))
            .is_ok()
    }
}

/// One segment definition at one place in a guide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentDef {
    /// Segment id (`NM1`).
    pub id: String,
    /// The id packed into an integer ([`id_key`]), for fast matching.
    pub key: u32,
    /// Name at this place (`Billing Provider Name`).
    pub name: String,
    /// Usage.
    pub usage: Usage,
    /// Maximum use.
    pub max: Max,
    /// Index of the loop that holds it.
    pub loop_index: usize,
    /// Elements in position order.
    pub elements: Vec<ElementDef>,
    /// Syntax rules.
    pub rules: Vec<SyntaxRule>,
    /// The qualifier that tells this definition apart from others with the same id:
    /// index into `elements`, and the component index for a composite (the first
    /// element, or composite component, with a code list).
    pub qualifier: Option<(usize, Option<usize>)>,
    /// Line in the guide file, for messages.
    pub line: usize,
    /// Indices into `elements` of a date/time period pair (1250 format qualifier,
    /// 1251 value), when the segment has one.
    pub period: Option<(usize, usize)>,
    /// For each position 0..=63: 1 + the index into `elements` of the definition at
    /// that position, or 0 where the guide defines none (derived when the guide is
    /// parsed).
    pub by_position: [u8; 64],
    /// Bit `p` set for each required element at position `p` (derived).
    pub required: u64,
    /// The element checks compiled for the fast verdict (derived).
    pub program: CheckProgram,
}

impl SegmentDef {
    /// The element at 1-based `position`.
    pub fn element(&self, position: usize) -> Option<&ElementDef> {
        self.elements
            .iter()
            .find(|e| usize::from(e.position) == position)
    }
}

/// A child of a loop, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Child {
    /// A segment definition (index into [`Guide::segments`]).
    Segment(usize),
    /// A child loop (index into [`Guide::loops`]).
    Loop(usize),
}

/// One loop definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopDef {
    /// Loop id as the guide prints it (`2010AA`); the root is the transaction set itself.
    pub id: String,
    /// The id packed into an integer ([`loop_key`]), for fast comparison.
    pub key: u64,
    /// Name.
    pub name: String,
    /// Usage.
    pub usage: Usage,
    /// Maximum repeat.
    pub max: Max,
    /// Parent loop (none for the root).
    pub parent: Option<usize>,
    /// Segments and loops, in order.
    pub children: Vec<Child>,
    /// Index into [`Guide::segments`] of the loop's first segment (its trigger).
    pub trigger: usize,
    /// For each segment id that can start a child here (a segment, or a child loop's
    /// trigger): its [`id_key`] and the child indices, in order. Sorted by key.
    pub by_key: Vec<(u32, Vec<u32>)>,
    /// For each child: the first index of the run of consecutive segment definitions
    /// with the same id it belongs to (itself when alone). The guides list such
    /// definitions (DTP by qualifier, REF by qualifier...) one after another, but they
    /// share one position in the standard, so they may arrive in any order.
    pub run_start: Vec<u32>,
    /// Line in the guide file.
    pub line: usize,
    /// Indices of the required children, ascending (derived when the guide is parsed).
    pub required_children: Vec<u32>,
    /// For each entry of [`Guide::segment_keys`]: 1 + its index in `by_key`, or 0 when
    /// no child here starts with that segment id (derived).
    pub by_id: Vec<u16>,
}

/// A whole implementation guide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guide {
    /// Short id (`837P`).
    pub id: String,
    /// Version label (`005010X222A1`).
    pub version: String,
    /// Other labels that select this guide.
    pub aliases: Vec<String>,
    /// Name.
    pub name: String,
    /// ST01.
    pub transaction: String,
    /// GS01.
    pub functional_id: String,
    /// Where the facts come from.
    pub sources: Vec<String>,
    /// The business-unit element reported in 999 CTX segments (e.g. (`CLM`, 1)).
    pub context: Option<(String, u8)>,
    /// Tells apart guides that share a version label (the 278 request and response):
    /// a header segment id, an element position, and the values that select this guide.
    pub select: Option<(String, u8, Vec<String>)>,
    /// Loops; index 0 is the root (the transaction set).
    pub loops: Vec<LoopDef>,
    /// Segment definitions.
    pub segments: Vec<SegmentDef>,
    /// The distinct segment ids the guide defines, as [`id_key`]s, sorted (derived
    /// when the guide is parsed; [`LoopDef::by_id`] is indexed by position here).
    pub segment_keys: Vec<u32>,
    /// Open-addressing table over `segment_keys`: (key, 1 + index) per slot, 0 for
    /// an empty slot; its length is a power of two (derived).
    pub key_slots: Vec<(u32, u16)>,
    /// For each entry of `segment_keys`: where the definitions with that id read the
    /// qualifier that tells them apart (derived).
    pub qualifier_spots: Vec<QualifierSpot>,
}

/// Where the definitions that share a segment id read their qualifier value (see
/// [`SegmentDef::qualifier`]); the engine remembers placements by that value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QualifierSpot {
    /// No definition with this id has a qualifier.
    #[default]
    None,
    /// Every one that has a qualifier reads it at this element position, and this
    /// component position (0 for a simple element).
    At(u8, u8),
    /// They read it at different places.
    Mixed,
}

impl Guide {
    /// The index in [`Guide::segment_keys`] of a segment id key, by hashing (one or two
    /// probes) rather than a binary search on the hot path.
    #[inline]
    pub fn segment_key_index(&self, key: u32) -> Option<usize> {
        let mask = self.key_slots.len().checked_sub(1)?;
        let mut at = slot_of(key, mask);
        loop {
            let (k, i) = self.key_slots[at];
            if i == 0 {
                return None;
            }
            if k == key {
                return Some(usize::from(i - 1));
            }
            at = (at + 1) & mask;
        }
    }

    /// The root loop (the transaction set, ST..SE).
    pub fn root(&self) -> &LoopDef {
        &self.loops[0]
    }

    /// Whether `label` (GS08 / ST03) selects this guide.
    pub fn answers_to(&self, label: &[u8]) -> bool {
        self.version.as_bytes() == label || self.aliases.iter().any(|a| a.as_bytes() == label)
    }

    /// The loop with id `id`, if any.
    pub fn loop_by_id(&self, id: &str) -> Option<usize> {
        self.loops.iter().position(|l| l.id == id)
    }

    /// The first segment definition with this segment id in a loop.
    pub fn segment_in(&self, loop_index: usize, id: &str) -> Option<&SegmentDef> {
        self.loops[loop_index]
            .children
            .iter()
            .find_map(|c| match c {
                Child::Segment(s) if self.segments[*s].id == id => Some(&self.segments[*s]),
                _ => None,
            })
    }

    /// The definition a loop starts with (its trigger segment).
    pub fn trigger(&self, loop_index: usize) -> Option<&SegmentDef> {
        self.loops[loop_index]
            .children
            .iter()
            .find_map(|c| match c {
                Child::Segment(s) => Some(&self.segments[*s]),
                Child::Loop(_) => None,
            })
    }

    /// Counts: (loops excluding the root, segment definitions, element definitions
    /// including components).
    pub fn counts(&self) -> (usize, usize, usize) {
        let elements = self
            .segments
            .iter()
            .flat_map(|s| s.elements.iter())
            .map(|e| 1 + e.components.len())
            .sum();
        (self.loops.len() - 1, self.segments.len(), elements)
    }
}

/// A segment id packed into an integer: up to three bytes, and the length.
///
/// ```
/// use x12_core::schema::id_key;
/// assert_eq!(id_key(b"NM1"), id_key(b"NM1"));
/// assert_ne!(id_key(b"N3"), id_key(b"N3\0"));
/// ```
#[inline]
pub fn id_key(id: &[u8]) -> u32 {
    if id.len() > 3 {
        return u32::MAX;
    }
    let mut k = id.len() as u32;
    for b in id {
        k = (k << 8) | u32::from(*b);
    }
    k
}

/// The home slot of `key` in a table of `mask + 1` slots.
#[inline]
pub(crate) fn slot_of(key: u32, mask: usize) -> usize {
    (key.wrapping_mul(0x9E37_79B1) >> 16) as usize & mask
}

/// A code of up to seven bytes packed into an integer with its length; `None` when
/// longer.
///
/// ```
/// use x12_core::schema::code_key;
/// assert_eq!(code_key(b"85"), code_key(b"85"));
/// assert_ne!(code_key(b"85"), code_key(b"85\0"));
/// assert_eq!(code_key(b"12345678"), None);
/// ```
#[inline]
pub fn code_key(code: &[u8]) -> Option<u64> {
    if code.len() > 7 {
        return None;
    }
    let mut k = code.len() as u64;
    for b in code {
        k = (k << 8) | u64::from(*b);
    }
    Some(k)
}

/// Byte equality without a library call: codes and ids are a few bytes long.
#[inline]
pub(crate) fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// A loop id (up to eight bytes, like `2010AA`) packed into an integer.
///
/// ```
/// use x12_core::schema::loop_key;
/// assert_eq!(loop_key("2300"), loop_key("2300"));
/// assert_ne!(loop_key("2310A"), loop_key("2310B"));
/// ```
#[inline]
pub fn loop_key(id: &str) -> u64 {
    let b = id.as_bytes();
    if b.len() > 7 {
        // longer ids (rare) fold in their length and a hash; still exact for short ones
        return b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, x| {
            (h ^ u64::from(*x)).wrapping_mul(0x100_0000_01b3)
        }) | (1 << 63);
    }
    let mut k = b.len() as u64;
    for x in b {
        k = (k << 8) | u64::from(*x);
    }
    k
}
