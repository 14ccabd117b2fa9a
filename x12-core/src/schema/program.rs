//! A segment definition's element checks compiled into a flat program for the fast
//! verdict: one pass over the element separators the walk already found, a table op
//! per position, masks for presence and the syntax rules. The program only says
//! "nothing to report"; when it cannot say so, the full checks in `elements.rs` run
//! and explain what is wrong. It is sound, never complete: every segment it passes,
//! the full checks pass too (debug builds check this on every segment they walk).

use super::model::{code_key, DataType, ElementDef, RuleKind, SegmentDef, Usage};
use crate::codesets;
use crate::datetime::{cmp_dates, is_valid_date, is_valid_time};

/// What a position of the segment (or of a composite) must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Not defined here, or not used: must be empty.
    Empty,
    /// One simple value.
    Simple,
    /// A composite: components at `comps[at..at + len]`.
    Composite { at: u16, len: u8, required: u64 },
}

/// The value checks of one simple element or component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Op {
    kind: Kind,
    data_type: DataType,
    min: u16,
    max: u16,
    /// The element's code list must allow the value: looked up in the definition
    /// (codes longer than seven bytes), when `keys` is empty.
    codes: bool,
    /// The code list packed by [`code_key`]: (start, length) in [`CheckProgram::keys`].
    keys: (u16, u16),
    /// The external code-set check, when the element names one this build knows.
    code_set: Option<CodeSet>,
    /// Index into [`SegmentDef::elements`].
    element: u8,
    /// Index into the element's components, for a component.
    component: u8,
}

impl Op {
    const EMPTY: Op = Op {
        kind: Kind::Empty,
        data_type: DataType::AN,
        min: 0,
        max: 0,
        codes: false,
        keys: (0, 0),
        code_set: None,
        element: 0,
        component: u8::MAX,
    };
}

/// The external code sets of [`codesets::check`], resolved once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodeSet {
    States,
    Zip,
    Icd10Cm,
    Icd10Pcs,
    Hcpcs,
    Cdt,
    Taxonomy,
    PlaceOfService,
    Npi,
    Digits9,
}

impl CodeSet {
    fn from_name(name: &str) -> Option<CodeSet> {
        Some(match name {
            "states" => CodeSet::States,
            "zip" => CodeSet::Zip,
            "icd10cm" => CodeSet::Icd10Cm,
            "icd10pcs" => CodeSet::Icd10Pcs,
            "hcpcs" => CodeSet::Hcpcs,
            "cdt" => CodeSet::Cdt,
            "taxonomy" => CodeSet::Taxonomy,
            "pos" => CodeSet::PlaceOfService,
            "npi" => CodeSet::Npi,
            "digits9" => CodeSet::Digits9,
            _ => return None,
        })
    }

    /// The same verdict as [`codesets::check`] under this set's name.
    #[inline]
    fn allows(self, v: &[u8]) -> bool {
        match self {
            CodeSet::States => codesets::state(v),
            CodeSet::Zip => codesets::zip(v),
            CodeSet::Icd10Cm => codesets::icd10cm_shape(v),
            CodeSet::Icd10Pcs => codesets::icd10pcs_shape(v),
            CodeSet::Hcpcs => codesets::hcpcs_shape(v),
            CodeSet::Cdt => codesets::cdt_shape(v),
            CodeSet::Taxonomy => codesets::taxonomy_shape(v),
            CodeSet::PlaceOfService => codesets::place_of_service(v),
            CodeSet::Npi => codesets::npi_valid(v),
            CodeSet::Digits9 => v.len() == 9 && v.iter().all(u8::is_ascii_digit),
        }
    }
}

/// A syntax rule as presence masks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rule {
    kind: RuleKind,
    /// Every position the rule names.
    all: u64,
    /// The first position named.
    first: u64,
    /// The others.
    rest: u64,
}

/// A segment definition's element checks, compiled for the fast verdict (derived when
/// the guide is parsed; see the module documentation of `schema::program`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckProgram {
    /// Op of position `p` at index `p - 1`.
    ops: Vec<Op>,
    /// Ops of the composites' components, by component position.
    comps: Vec<Op>,
    /// The ops' code lists, packed and sorted, one run per op.
    keys: Vec<u64>,
    /// Positions that must hold a value.
    required: u64,
    rules: Vec<Rule>,
    /// Positions of the date/time period pair (format, value), when the segment has one.
    period: Option<(u8, u8)>,
    /// A rule the masks cannot express: never give the fast verdict.
    slow: bool,
}

fn simple(e: &ElementDef, element: usize, component: u8, keys: &mut Vec<u64>) -> Op {
    if e.usage == Usage::NotUsed {
        return Op::EMPTY;
    }
    let packed = if e.codes.is_empty() || e.code_keys.is_empty() {
        (0, 0)
    } else {
        match (u16::try_from(keys.len()), u16::try_from(e.code_keys.len())) {
            (Ok(at), Ok(len)) => {
                keys.extend_from_slice(&e.code_keys);
                (at, len)
            }
            _ => (0, 0),
        }
    };
    Op {
        kind: Kind::Simple,
        data_type: e.data_type,
        min: e.min,
        max: e.max,
        codes: !e.codes.is_empty() && packed.1 == 0,
        keys: packed,
        code_set: e.code_set.as_deref().and_then(CodeSet::from_name),
        element: element as u8,
        component,
    }
}

impl CheckProgram {
    /// Compiles the element checks of `sd` (its `by_position`, `required` and `period`
    /// already derived).
    pub(crate) fn compile(sd: &SegmentDef) -> CheckProgram {
        let mut p = CheckProgram {
            required: sd.required,
            period: sd
                .period
                .map(|(f, v)| (sd.elements[f].position, sd.elements[v].position)),
            ..CheckProgram::default()
        };
        let last = sd.elements.iter().map(|e| e.position).max().unwrap_or(0);
        p.ops = vec![Op::EMPTY; usize::from(last)];
        for (i, e) in sd.elements.iter().enumerate() {
            if e.position == 0 || i > usize::from(u8::MAX) {
                p.slow = true;
                continue;
            }
            let op = if e.usage == Usage::NotUsed {
                Op::EMPTY
            } else if e.is_composite() {
                let width = e.components.iter().map(|c| c.position).max().unwrap_or(0);
                let at = p.comps.len();
                p.comps
                    .extend(std::iter::repeat_n(Op::EMPTY, usize::from(width)));
                let mut required = 0u64;
                for (ci, c) in e.components.iter().enumerate() {
                    if c.position == 0 || c.position > 63 || ci > 254 {
                        p.slow = true;
                        continue;
                    }
                    p.comps[at + usize::from(c.position) - 1] = simple(c, i, ci as u8, &mut p.keys);
                    if c.usage == Usage::Required {
                        required |= 1 << c.position;
                    }
                }
                if at > usize::from(u16::MAX) {
                    p.slow = true;
                }
                Op {
                    kind: Kind::Composite {
                        at: at as u16,
                        len: width,
                        required,
                    },
                    element: i as u8,
                    ..Op::EMPTY
                }
            } else {
                simple(e, i, u8::MAX, &mut p.keys)
            };
            p.ops[usize::from(e.position) - 1] = op;
        }
        for r in &sd.rules {
            let mut all = 0u64;
            let mut duplicate = false;
            for &pos in &r.positions {
                let bit = 1u64 << pos.min(63);
                duplicate |= pos > 63 || all & bit != 0;
                all |= bit;
            }
            let Some(&head) = r.positions.first() else {
                continue;
            };
            if duplicate {
                p.slow = true;
                continue;
            }
            let first = 1u64 << head;
            p.rules.push(Rule {
                kind: r.kind,
                all,
                first,
                rest: all & !first,
            });
        }
        p
    }

    /// Whether the full element checks of `sd` would find nothing in the segment
    /// `content` whose element separators are at `seps`. `printable`: every byte of the
    /// segment is in the X12 character sets; `rep`: the repetition separator, when the
    /// transaction set uses it anywhere; `comp`: the component separator. `false` says
    /// only "look closer".
    #[inline]
    pub(crate) fn passes(
        &self,
        sd: &SegmentDef,
        content: &[u8],
        seps: &[u32],
        printable: bool,
        rep: Option<u8>,
        comp: u8,
    ) -> bool {
        if self.slow || !printable {
            return false;
        }
        if let Some(r) = rep {
            if content.contains(&r) {
                return false;
            }
        }
        let mut present = 0u64;
        let n = seps.len();
        for k in 0..n {
            let start = seps[k] as usize + 1;
            let end = match seps.get(k + 1) {
                Some(&e) => e as usize,
                None => content.len(),
            };
            if start >= end {
                continue;
            }
            let Some(v) = content.get(start..end) else {
                return false;
            };
            let Some(op) = self.ops.get(k) else {
                return false;
            };
            let pos = k + 1;
            match op.kind {
                Kind::Empty => return false,
                Kind::Simple => {
                    if !value_ok(op, &self.keys, sd, v) {
                        return false;
                    }
                }
                Kind::Composite { at, len, required } => {
                    if !self.composite_ok(sd, v, comp, usize::from(at), usize::from(len), required)
                    {
                        return false;
                    }
                }
            }
            present |= 1 << pos;
        }
        if self.required & !present != 0 {
            return false;
        }
        for r in &self.rules {
            let x = present & r.all;
            let broken = match r.kind {
                RuleKind::Paired => x != 0 && x != r.all,
                RuleKind::Required => x == 0,
                RuleKind::Exclusion => x & x.wrapping_sub(1) != 0,
                RuleKind::Conditional => present & r.first != 0 && present & r.rest != r.rest,
                RuleKind::ListConditional => present & r.first != 0 && present & r.rest == 0,
            };
            if broken {
                return false;
            }
        }
        if let Some((f, val)) = self.period {
            // read once, after the loop: most segments have no period pair
            let field = |p: u8| -> &[u8] {
                let k = usize::from(p);
                match (k.checked_sub(1).and_then(|i| seps.get(i)), seps.get(k)) {
                    (Some(&s), Some(&e)) => content.get(s as usize + 1..e as usize).unwrap_or(b""),
                    (Some(&s), None) => content.get(s as usize + 1..).unwrap_or(b""),
                    _ => b"",
                }
            };
            if !period_ok(field(f), field(val)) {
                return false;
            }
        }
        true
    }

    #[inline]
    fn composite_ok(
        &self,
        sd: &SegmentDef,
        v: &[u8],
        comp: u8,
        at: usize,
        len: usize,
        required: u64,
    ) -> bool {
        let ops = &self.comps[at..at + len];
        let mut present = 0u64;
        let mut c = 0usize;
        let mut start = 0usize;
        loop {
            let end = match v[start..].iter().position(|b| *b == comp) {
                Some(i) => start + i,
                None => v.len(),
            };
            if end > start {
                let Some(op) = ops.get(c) else {
                    return false;
                };
                if op.kind != Kind::Simple || !value_ok(op, &self.keys, sd, &v[start..end]) {
                    return false;
                }
                if c < 63 {
                    present |= 1 << (c + 1);
                }
            }
            c += 1;
            if end >= v.len() {
                break;
            }
            start = end + 1;
        }
        required & !present == 0
    }
}

/// The checks of the full path's `value_ok` for a value known to be printable.
#[inline(always)]
fn value_ok(op: &Op, keys: &[u64], sd: &SegmentDef, v: &[u8]) -> bool {
    if !shape_ok(op.data_type, op.min, op.max, v) {
        return false;
    }
    if let Some(set) = op.code_set {
        if !set.allows(v) {
            return false;
        }
    }
    if op.keys.1 != 0 {
        let (at, len) = (usize::from(op.keys.0), usize::from(op.keys.1));
        let (Some(k), Some(list)) = (code_key(v), keys.get(at..at + len)) else {
            return false;
        };
        return if len <= 16 {
            list.contains(&k)
        } else {
            list.binary_search(&k).is_ok()
        };
    }
    if op.codes {
        let Some(e) = sd.elements.get(usize::from(op.element)) else {
            return false;
        };
        let def = if op.component == u8::MAX {
            e
        } else {
            match e.components.get(usize::from(op.component)) {
                Some(c) => c,
                None => return false,
            }
        };
        return def.allows(v);
    }
    true
}

/// The date/time period pair's check (the full path's `check_period` reports what
/// it finds false).
#[inline]
pub(crate) fn period_ok(format: &[u8], value: &[u8]) -> bool {
    if value.is_empty() {
        return true;
    }
    match format {
        b"D8" => value.len() == 8 && is_valid_date(value),
        b"RD8" => {
            value.len() == 17
                && value[8] == b'-'
                && is_valid_date(&value[..8])
                && is_valid_date(&value[9..])
                && cmp_dates(&value[..8], &value[9..]).is_le()
        }
        b"DT" => value.len() == 12 && is_valid_date(&value[..8]) && is_valid_time(&value[8..]),
        b"TM" => value.len() == 4 && is_valid_time(value),
        _ => true,
    }
}

/// Whether a printable value has the shape its data type and length bounds ask for: a
/// number of digits (N, R: digits counted, sign and point not), a valid date or time
/// (DT, TM: all characters counted), or any characters (AN, ID, B). Both the fast
/// verdict and the full checks' verdict use it.
#[inline(always)]
pub(crate) fn shape_ok(data_type: DataType, min: u16, max: u16, v: &[u8]) -> bool {
    let len = match data_type {
        DataType::N(_) => {
            let digits = v.strip_prefix(b"-").unwrap_or(v);
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return false;
            }
            digits.len()
        }
        DataType::R => {
            let digits = v.strip_prefix(b"-").unwrap_or(v);
            let mut n = 0usize;
            let mut dots = 0usize;
            for b in digits {
                match b {
                    b'0'..=b'9' => n += 1,
                    b'.' => dots += 1,
                    _ => return false,
                }
            }
            if n == 0 || dots > 1 {
                return false;
            }
            n
        }
        DataType::DT => {
            return is_valid_date(v) && v.len() >= usize::from(min) && v.len() <= usize::from(max)
        }
        DataType::TM => {
            return is_valid_time(v) && v.len() >= usize::from(min) && v.len() <= usize::from(max)
        }
        _ => v.len(),
    };
    len >= usize::from(min) && len <= usize::from(max)
}
