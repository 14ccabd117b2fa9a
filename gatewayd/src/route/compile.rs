//! The rule table compiled for matching: per-line cost does not grow with the number of
//! codes in a list.
//!
//! * Code lists and ranges ([`CodeSet`]): sorted, merged inclusive ranges per code
//!   width, each code packed into one integer; a lookup is one binary search.
//! * Prefix lists ([`PrefixSet`]: ICD-10-CM `dx_prefix`, ICD-10-PCS, taxonomy): sorted
//!   and reduced so that no prefix extends another; a lookup is one binary search (the
//!   greatest prefix not above the code is the only candidate).
//! * Sets are resolved here: a `set` key holds the compiled keys of its sets.
//!
//! ```
//! use gatewayd::route::{Code, CodeSet, PrefixSet};
//! let set = CodeSet::new([("E0100", "E8002"), ("K0001", "K0899"), ("L9900", "L9900")]
//!     .map(|(a, b)| (Code::new(a).unwrap(), Code::new(b).unwrap())));
//! assert!(set.contains(&Code::new("E0260").unwrap()));
//! assert!(!set.contains(&Code::new("E9000").unwrap()));
//! assert!(!set.contains(&Code::new("E026").unwrap()), "widths never mix");
//! let p = PrefixSet::new(["D57", "D570", "0FY00Z"].map(|c| Code::new(c).unwrap()), false);
//! assert!(p.contains(&Code::new("D5700").unwrap()));
//! assert!(!p.contains(&Code::new("D58").unwrap()));
//! ```

use super::features::Transaction;
use super::table::{Conditions, Key, RuleScope, Table, Value, Window, KNOWN_SEGMENTS};
use super::value::Code;

/// Inclusive code ranges, merged and sorted per code width.
#[derive(Debug, Clone, Default)]
pub struct CodeSet {
    /// (width, sorted disjoint ranges of packed codes).
    widths: Vec<(u8, Vec<(u128, u128)>)>,
}

impl CodeSet {
    /// Compiles ranges (both ends of a range have the same width).
    pub fn new(ranges: impl IntoIterator<Item = (Code, Code)>) -> CodeSet {
        let mut widths: Vec<(u8, Vec<(u128, u128)>)> = Vec::new();
        for (lo, hi) in ranges {
            let w = lo.len() as u8;
            let slot = match widths.iter().position(|(x, _)| *x == w) {
                Some(i) => i,
                None => {
                    widths.push((w, Vec::new()));
                    widths.len() - 1
                }
            };
            widths[slot].1.push((lo.packed(), hi.packed()));
        }
        for (_, r) in &mut widths {
            r.sort_unstable();
            let mut merged: Vec<(u128, u128)> = Vec::with_capacity(r.len());
            for &(lo, hi) in r.iter() {
                match merged.last_mut() {
                    Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
                    _ => merged.push((lo, hi)),
                }
            }
            *r = merged;
        }
        CodeSet { widths }
    }

    /// Whether `c` is inside one of the ranges of its width.
    #[inline]
    pub fn contains(&self, c: &Code) -> bool {
        let w = c.len() as u8;
        let Some((_, ranges)) = self.widths.iter().find(|(x, _)| *x == w) else {
            return false;
        };
        let p = c.packed();
        let i = ranges.partition_point(|r| r.1 < p);
        ranges.get(i).is_some_and(|r| r.0 <= p)
    }

    /// How many merged ranges the set holds.
    pub fn len(&self) -> usize {
        self.widths.iter().map(|(_, r)| r.len()).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Code prefixes, sorted, none extending another; `any` matches every code.
#[derive(Debug, Clone, Default)]
pub struct PrefixSet {
    any: bool,
    prefixes: Vec<Code>,
}

impl PrefixSet {
    /// Compiles prefixes; `any` stands for `*`.
    pub fn new(prefixes: impl IntoIterator<Item = Code>, any: bool) -> PrefixSet {
        let mut all: Vec<Code> = prefixes.into_iter().collect();
        all.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        all.dedup();
        let mut kept: Vec<Code> = Vec::with_capacity(all.len());
        for p in all {
            // sorted order puts a prefix right before the codes it extends
            if kept
                .last()
                .is_some_and(|k| p.as_bytes().starts_with(k.as_bytes()))
            {
                continue;
            }
            kept.push(p);
        }
        PrefixSet {
            any,
            prefixes: kept,
        }
    }

    /// Whether some prefix starts `c`.
    #[inline]
    pub fn contains(&self, c: &Code) -> bool {
        if self.any {
            return true;
        }
        let b = c.as_bytes();
        let i = self.prefixes.partition_point(|p| p.as_bytes() <= b);
        i > 0 && b.starts_with(self.prefixes[i - 1].as_bytes())
    }
}

/// Which feature a code matcher reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// UM03.
    ServiceType,
    /// UM01.
    RequestCategory,
    /// UM06.
    LevelOfService,
    /// HCPCS.
    Hc,
    /// CDT.
    Ad,
    /// Revenue.
    Rev,
    /// DRG.
    Drg,
    /// Place of service.
    Pos,
    /// Type of bill.
    BillType,
    /// Modifiers.
    Modifier,
    /// ICD-10-PCS.
    Icd10Pcs,
    /// ICD-10-CM.
    Dx,
    /// Taxonomy.
    Taxonomy,
}

/// One compiled condition key.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Transaction bit mask.
    Transaction(u8),
    /// Codes and ranges on a field.
    Codes(Field, CodeSet),
    /// Prefixes on a field.
    Prefixes(Field, PrefixSet),
    /// `ndc_only`.
    NdcOnly(bool),
    /// `emergency`.
    Emergency(bool),
    /// `age_lt`.
    AgeLt(u32),
    /// `age_ge`.
    AgeGe(u32),
    /// Benefit plan bit mask (bit = index in `[benefit_plans]`).
    Plan(u32),
    /// Segment bit mask.
    Segments(u16),
    /// `servicing_location = out_of_state_non_border`.
    ServicingOutOfState,
    /// `transport_location = out_of_state`.
    TransportOutOfState,
    /// `set`: any key of any named set.
    Set(Vec<(Key, Matcher)>),
}

/// One compiled condition block.
pub type Block = Vec<(Key, Matcher)>;

/// A compiled rule: index into [`Table::rules`] plus compiled blocks.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    /// Index of the rule in the table.
    pub index: usize,
    /// The rule's scope (copied from the table: no lookup per line).
    pub scope: RuleScope,
    /// The rule's `effective` window.
    pub effective: Option<Window>,
    /// `when`.
    pub when: Block,
    /// `any`.
    pub any: Block,
    /// `unless`.
    pub unless: Block,
    /// `expect`.
    pub expect: Block,
}

fn field_of(key: Key) -> Field {
    match key {
        Key::ServiceType => Field::ServiceType,
        Key::RequestCategory => Field::RequestCategory,
        Key::LevelOfService => Field::LevelOfService,
        Key::ProcHc => Field::Hc,
        Key::ProcAd => Field::Ad,
        Key::ProcRev => Field::Rev,
        Key::Drg => Field::Drg,
        Key::Pos => Field::Pos,
        Key::BillType => Field::BillType,
        Key::Modifier => Field::Modifier,
        Key::ProcIcd10Pcs => Field::Icd10Pcs,
        Key::DxPrefix => Field::Dx,
        _ => Field::Taxonomy,
    }
}

fn compile_key(table: &Table, key: Key, value: &Value) -> Matcher {
    match (key, value) {
        (Key::NdcOnly, Value::Bool(b)) => Matcher::NdcOnly(*b),
        (Key::Emergency, Value::Bool(b)) => Matcher::Emergency(*b),
        (Key::AgeLt, Value::Int(n)) => Matcher::AgeLt(*n),
        (Key::AgeGe, Value::Int(n)) => Matcher::AgeGe(*n),
        (_, Value::Ranges(r)) => Matcher::Codes(field_of(key), CodeSet::new(r.iter().copied())),
        (_, Value::Prefixes { prefixes, any }) => Matcher::Prefixes(
            field_of(key),
            PrefixSet::new(prefixes.iter().copied(), *any),
        ),
        (Key::Transaction, Value::Names(n)) => Matcher::Transaction(
            n.iter()
                .filter_map(|t| Transaction::from_name(t))
                .fold(0, |m, t| m | t.bit()),
        ),
        (Key::BenefitPlan, Value::Names(n)) => Matcher::Plan(n.iter().fold(0, |m, p| {
            match table.benefit_plans.iter().position(|x| x == p) {
                Some(i) if i < 32 => m | (1 << i),
                _ => m,
            }
        })),
        (Key::HasSegment, Value::Names(n)) => Matcher::Segments(n.iter().fold(0, |m, s| {
            match KNOWN_SEGMENTS.iter().position(|k| k == s) {
                Some(i) => m | (1 << i),
                None => m,
            }
        })),
        (Key::ServicingLocation, _) => Matcher::ServicingOutOfState,
        (Key::TransportLocation, _) => Matcher::TransportOutOfState,
        (Key::Set, Value::Names(n)) => Matcher::Set(
            n.iter()
                .filter_map(|name| table.sets.get(name))
                .flat_map(|c| compile_block(table, c))
                .collect(),
        ),
        (_, Value::Names(n)) => Matcher::Codes(
            field_of(key),
            CodeSet::new(n.iter().filter_map(|s| Code::new(s)).map(|c| (c, c))),
        ),
        // validated tables pair every key with its kind of value
        (_, Value::Bool(_) | Value::Int(_)) => Matcher::Set(Vec::new()),
    }
}

fn compile_block(table: &Table, c: &Conditions) -> Block {
    c.0.iter()
        .map(|cond| (cond.key, compile_key(table, cond.key, &cond.value)))
        .collect()
}

/// Compiles every rule of a validated table, in ascending priority.
pub fn compile(table: &Table) -> Vec<CompiledRule> {
    let mut order: Vec<usize> = (0..table.rules.len()).collect();
    order.sort_by_key(|i| table.rules[*i].priority);
    order
        .into_iter()
        .map(|index| {
            let r = &table.rules[index];
            CompiledRule {
                index,
                scope: r.scope,
                effective: r.effective,
                when: compile_block(table, &r.when),
                any: compile_block(table, &r.any),
                unless: compile_block(table, &r.unless),
                expect: compile_block(table, &r.expect),
            }
        })
        .collect()
}
