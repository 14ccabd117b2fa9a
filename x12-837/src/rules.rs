//! The 837 rules beyond the guide tables: balancing (SNIP 3), situational rules the
//! guides state (SNIP 4) and code-set formats (SNIP 5).
//!
//! Facts: the 837 TR3s' front matter as summarized in public companion guides and in
//! pyx12's map notes (claim charge equals the sum of line charges; COB: payer paid plus
//! claim and line adjustments equals the claim charge; line adjudication: paid plus
//! line adjustments equals the line charge; the patient loop is used only when the
//! patient is not the subscriber; service dates at claim or line level; diagnosis
//! pointers refer to HI codes).
//!
//! Each claim is read once into a [`ClaimScan`] (its segments of interest, with their
//! positions) and every rule works from that, so the rules cost one pass over the
//! claim's segments.

use crate::amount::Amount;
use x12_core::codesets;
use x12_core::schema::{loop_key, text, At, Guide, LoopRef, LoopTree, NONE};
use x12_core::{Code, GuideRules, Issue, Segment, Severity, TransactionSet};

/// Which 837 a rule set checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind837 {
    /// 005010X222A1.
    Professional,
    /// 005010X223A2.
    Institutional,
    /// 005010X224A2.
    Dental,
}

/// SNIP 3–5 rules for one kind of 837.
#[derive(Debug, Clone, Copy)]
pub struct Rules837 {
    /// The kind.
    pub kind: Kind837,
}

struct Cx<'a> {
    set: &'a TransactionSet,
    tree: &'a LoopTree,
    guide: &'a Guide,
    issues: &'a mut Vec<Issue>,
}

impl Cx<'_> {
    fn at(&self, index: u32) -> At<'_> {
        At::new(self.set, self.tree, self.guide, index)
    }
}

/// A segment with its index in the set.
type Indexed<'a> = (u32, Segment<'a>);

/// One service line, read once.
struct LineScan<'a> {
    lx: Option<Indexed<'a>>,
    service: Option<Indexed<'a>>,
    has_472: bool,
    first_date: &'a [u8],
    /// 2430 loops: (SVD, sum of CAS amounts).
    adjudications: Vec<(Indexed<'a>, Amount)>,
}

/// One other payer of a claim (2320), read once.
struct OtherScan<'a> {
    /// The first AMT*D (payer paid amount).
    amt_d: Option<Indexed<'a>>,
    /// The sum of the 2320 CAS amounts.
    claim_adj: Amount,
    /// The 2330B NM1 of the first 2330B loop, once seen.
    payer: Option<Segment<'a>>,
    /// Whether a 2330B loop was seen (its first one names the payer).
    payer_seen: bool,
}

/// One 2310 provider loop of a claim: its id and first NM1.
struct ProviderScan<'a> {
    id: &'a str,
    nm1: Option<Indexed<'a>>,
}

/// One claim, read once.
struct ClaimScan<'a> {
    id: &'a str,
    clm: Option<Indexed<'a>>,
    /// Every HI element: (the HI's index, element number from 0, qualifier, code), its
    /// first two components read once.
    diags: Vec<(u32, usize, &'a [u8], &'a [u8])>,
    has_472: bool,
    has_434: bool,
    /// Earliest and latest dates of service seen (CCYYMMDD).
    dates: (Option<&'a [u8]>, Option<&'a [u8]>),
    lines: Vec<LineScan<'a>>,
    others: Vec<OtherScan<'a>>,
    providers: Vec<ProviderScan<'a>>,
}

/// What a loop is to the claim rules (by the loop's index in the guide).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Other,
    Billing,
    Subscriber,
    Claim,
    /// 2310A-F.
    Provider,
    /// 2320.
    OtherSubscriber,
    /// 2330B.
    OtherPayer,
    /// 2400.
    Line,
    /// 2430.
    LineAdjudication,
}

fn roles(guide: &Guide) -> Vec<Role> {
    guide
        .loops
        .iter()
        .map(|l| match l.id.as_str() {
            "2010AA" => Role::Billing,
            "2000B" => Role::Subscriber,
            "2300" => Role::Claim,
            "2320" => Role::OtherSubscriber,
            "2330B" => Role::OtherPayer,
            "2400" => Role::Line,
            "2430" => Role::LineAdjudication,
            id if id.starts_with("2310") => Role::Provider,
            _ => Role::Other,
        })
        .collect()
}

const CLM: u32 = key(b"CLM");
const HI: u32 = key(b"HI");
const DTP: u32 = key(b"DTP");
const LX: u32 = key(b"LX");
const SV1: u32 = key(b"SV1");
const SV2: u32 = key(b"SV2");
const SV3: u32 = key(b"SV3");
const SVD: u32 = key(b"SVD");
const CAS: u32 = key(b"CAS");
const AMT: u32 = key(b"AMT");
const NM1: u32 = key(b"NM1");

/// [`id_key`] at compile time.
const fn key(id: &[u8]) -> u32 {
    let mut k = id.len() as u32;
    let mut i = 0;
    while i < id.len() {
        k = (k << 8) | id[i] as u32;
        i += 1;
    }
    k
}

fn note_date<'a>(dates: &mut (Option<&'a [u8]>, Option<&'a [u8]>), value: &'a [u8]) {
    for part in value.split(|b| *b == b'-') {
        if part.len() == 8 {
            if dates.0.is_none_or(|d| before(part, d)) {
                dates.0 = Some(part);
            }
            if dates.1.is_none_or(|d| before(d, part)) {
                dates.1 = Some(part);
            }
        }
    }
}

/// `a < b` for dates (CCYYMMDD).
#[inline]
fn before(a: &[u8], b: &[u8]) -> bool {
    x12_core::datetime::cmp_dates(a, b).is_lt()
}

fn cas_sum(seg: &Segment<'_>) -> Amount {
    // CAS02/03, 05/06, 08/09, 11/12, 14/15, 17/18: reason code, amount
    [3usize, 6, 9, 12, 15, 18]
        .iter()
        .filter_map(|&e| amount(seg.get(e)))
        .sum()
}

/// A whole number as `str::parse::<usize>` reads it (an optional `+`, then digits),
/// from the bytes.
fn count(b: &[u8]) -> Option<usize> {
    let digits = b.strip_prefix(b"+").unwrap_or(b);
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0usize, |v, d| {
        if d.is_ascii_digit() {
            v.checked_mul(10)?.checked_add(usize::from(d - b'0'))
        } else {
            None
        }
    })
}

fn amount(b: &[u8]) -> Option<Amount> {
    Amount::parse_bytes(b)
}

impl<'a> ClaimScan<'a> {
    /// Reads the claim at `node` in one pass over its segments, which are contiguous
    /// in the set (the tree is in pre-order): each segment is told apart by the role of
    /// its loop and by its segment id, and only the segments of interest are viewed.
    fn read(
        set: &'a TransactionSet,
        tree: &'a LoopTree,
        guide: &'a Guide,
        roles: &[Role],
        node: u32,
    ) -> Self {
        let mut c = ClaimScan {
            id: "",
            clm: None,
            diags: Vec::new(),
            has_472: false,
            has_434: false,
            dates: (None, None),
            lines: Vec::new(),
            others: Vec::new(),
            providers: Vec::new(),
        };
        let n = tree.nodes[node as usize];
        let end = tree
            .nodes
            .get(n.subtree_end as usize)
            .map_or(tree.segments.len() as u32, |next| next.first_segment);
        // the loop instances being filled: (node, index into lines / others / providers)
        let (mut line, mut other, mut provider) = ((NONE, 0usize), (NONE, 0usize), (NONE, 0usize));
        // the 2330B loop that names the payer of the current 2320
        let mut payer = NONE;
        // each 2430 loop: (its node, its line, its last SVD, the sum of its CAS), given
        // to its line at the end (one with an SVD)
        let mut adjs: Vec<(u32, usize, Option<Indexed<'a>>, Amount)> = Vec::new();
        for i in n.first_segment..end {
            let slot = tree.segments[i as usize];
            let k = slot.key;
            let owner = slot.node;
            if owner == node {
                match k {
                    CLM => {
                        let s = tree.segment(set, i);
                        c.id = text(s.get(1));
                        c.clm = Some((i, s));
                    }
                    HI => {
                        let hi = tree.segment(set, i);
                        let comp = set.delimiters().component;
                        for (e, el) in hi.elements().enumerate() {
                            let b = el.as_bytes();
                            let (q, code) = match b.iter().position(|x| *x == comp) {
                                Some(at) => {
                                    let rest = &b[at + 1..];
                                    let end =
                                        rest.iter().position(|x| *x == comp).unwrap_or(rest.len());
                                    (&b[..at], &rest[..end])
                                }
                                None => (b, &b""[..]),
                            };
                            c.diags.push((i, e, q, code));
                        }
                    }
                    DTP => {
                        let s = tree.segment(set, i);
                        match s.get(1) {
                            b"472" => {
                                c.has_472 = true;
                                note_date(&mut c.dates, s.get(3));
                            }
                            b"434" => {
                                c.has_434 = true;
                                note_date(&mut c.dates, s.get(3));
                            }
                            _ => {}
                        }
                    }
                    _ => {}
                }
                continue;
            }
            let on = tree.nodes[owner as usize];
            let role = roles[on.loop_index as usize];
            match role {
                Role::Line if on.parent == node => {
                    if line.0 != owner {
                        c.lines.push(LineScan {
                            lx: None,
                            service: None,
                            has_472: false,
                            first_date: b"",
                            adjudications: Vec::new(),
                        });
                        line = (owner, c.lines.len() - 1);
                    }
                    let l = &mut c.lines[line.1];
                    match k {
                        LX => l.lx = Some((i, tree.segment(set, i))),
                        SV1 | SV2 | SV3 => l.service = Some((i, tree.segment(set, i))),
                        DTP => {
                            let s = tree.segment(set, i);
                            if s.get(1) == b"472" {
                                l.has_472 = true;
                                if l.first_date.is_empty() {
                                    l.first_date = s.get(3);
                                }
                                note_date(&mut c.dates, s.get(3));
                            }
                        }
                        _ => {}
                    }
                }
                Role::LineAdjudication if on.parent == line.0 && line.0 != NONE => {
                    let at = match adjs.iter().rposition(|a| a.0 == owner) {
                        Some(at) => at,
                        None => {
                            adjs.push((owner, line.1, None, Amount(0)));
                            adjs.len() - 1
                        }
                    };
                    match k {
                        SVD => adjs[at].2 = Some((i, tree.segment(set, i))),
                        CAS => adjs[at].3 = adjs[at].3 + cas_sum(&tree.segment(set, i)),
                        _ => {}
                    }
                }
                Role::OtherSubscriber if on.parent == node => {
                    if other.0 != owner {
                        c.others.push(OtherScan {
                            amt_d: None,
                            claim_adj: Amount(0),
                            payer: None,
                            payer_seen: false,
                        });
                        other = (owner, c.others.len() - 1);
                    }
                    let o = &mut c.others[other.1];
                    match k {
                        AMT if o.amt_d.is_none() => {
                            let s = tree.segment(set, i);
                            if s.get(1) == b"D" {
                                o.amt_d = Some((i, s));
                            }
                        }
                        CAS => o.claim_adj = o.claim_adj + cas_sum(&tree.segment(set, i)),
                        _ => {}
                    }
                }
                Role::OtherPayer if on.parent == other.0 && other.0 != NONE => {
                    let o = &mut c.others[other.1];
                    // the first 2330B of the 2320 names the payer: its first NM1
                    if !o.payer_seen {
                        o.payer_seen = true;
                        payer = owner;
                    }
                    if payer == owner && o.payer.is_none() && k == NM1 {
                        o.payer = Some(tree.segment(set, i));
                    }
                }
                Role::Provider if on.parent == node => {
                    if provider.0 != owner {
                        c.providers.push(ProviderScan {
                            id: guide.loops[on.loop_index as usize].id.as_str(),
                            nm1: None,
                        });
                        provider = (owner, c.providers.len() - 1);
                    }
                    let p = &mut c.providers[provider.1];
                    if p.nm1.is_none() && k == NM1 {
                        p.nm1 = Some((i, tree.segment(set, i)));
                    }
                }
                _ => {}
            }
        }
        for (_, l, svd, cas) in adjs {
            if let Some(svd) = svd {
                c.lines[l].adjudications.push((svd, cas));
            }
        }
        c
    }
}

impl LineScan<'_> {
    fn number(&self) -> &str {
        self.lx.as_ref().map_or("", |(_, s)| text(s.get(1)))
    }
}

impl GuideRules for Rules837 {
    fn check(&self, guide: &Guide, set: &TransactionSet, tree: &LoopTree, issues: &mut Vec<Issue>) {
        let root = LoopRef::root(set, tree, guide);
        let roles = roles(guide);
        let mut cx = Cx {
            set,
            tree,
            guide,
            issues,
        };
        let mut billing_npi: &[u8] = b"";
        let (billing, subscriber, claim) =
            (loop_key("2010AA"), loop_key("2000B"), loop_key("2300"));
        for node in root.subtree() {
            let key = guide.loops[tree.nodes[node.node as usize].loop_index as usize].key;
            match key {
                k if k == billing => {
                    billing_zip_rule(&mut cx, node);
                    billing_npi = node.segment("NM1").map_or(&b""[..], |s| {
                        if s.get(8) == b"XX" {
                            s.get(9)
                        } else {
                            b""
                        }
                    })
                }
                k if k == subscriber => patient_loop_rule(&mut cx, node),
                k if k == claim => {
                    let scan = ClaimScan::read(set, tree, guide, &roles, node.node);
                    self.balance(&mut cx, &scan);
                    self.numbering(&mut cx, &scan);
                    self.situational(&mut cx, &scan, billing_npi);
                    self.codes(&mut cx, &scan);
                }
                _ => {}
            }
        }
        x12_core::schema::check_identifiers(guide, set, tree, cx.issues);
    }
}

impl Rules837 {
    /// Line charge: SV102, SV203 or SV302.
    fn charge<'a>(&self, sv: &Segment<'a>) -> &'a [u8] {
        if sv.id() == b"SV2" {
            sv.get(3)
        } else {
            sv.get(2)
        }
    }

    fn balance(&self, cx: &mut Cx<'_>, scan: &ClaimScan<'_>) {
        let Some((clm_i, clm)) = scan.clm else { return };
        let Some(total) = amount(clm.get(2)) else {
            return;
        };
        let mut sum = Amount(0);
        let mut lines = 0;
        for line in &scan.lines {
            let Some((_, sv)) = line.service else {
                continue;
            };
            let Some(charge) = amount(self.charge(&sv)) else {
                continue;
            };
            sum = sum + charge;
            lines += 1;
            // 2430: paid + line adjustments = line charge
            for ((svd_i, svd), cas) in &line.adjudications {
                let paid = amount(svd.get(2)).unwrap_or_default();
                if paid + *cas != charge {
                    cx.issues.push(cx.at(*svd_i).element(2, None, "782", "I12", Some(svd.get(2))).issue(
                        Code::Balancing,
                        3,
                        format!(
                            "2430 line adjudication for line {}: paid {} plus adjustments {} is {}, not the line charge {}",
                            line.number(),
                            paid,
                            cas,
                            paid + *cas,
                            charge
                        ),
                    ));
                }
            }
        }
        if lines > 0 && sum != total {
            cx.issues.push(cx.at(clm_i).element(2, None, "782", "I12", Some(clm.get(2))).issue(
                Code::Balancing,
                3,
                format!(
                    "claim {}: CLM02 total charge {} differs from the sum of its {} line charges, {}",
                    scan.id, total, lines, sum
                ),
            ));
        }
        // COB: for each other payer, paid + claim adjustments + that payer's line adjustments = charge
        for other in &scan.others {
            let claim_adj = other.claim_adj;
            let Some((amt_i, amt)) = other.amt_d else {
                continue;
            };
            let payer_id = other.payer.as_ref().map_or(&b""[..], |s| s.get(9));
            let paid = amount(amt.get(2)).unwrap_or_default();
            let mine = |svd: &Segment<'_>| payer_id.is_empty() || svd.get(1) == payer_id;
            let adjudicated = scan.lines.iter().flat_map(|l| l.adjudications.iter());
            let (mut line_adj, mut line_paid, mut has_lines) = (Amount(0), Amount(0), false);
            for ((_, svd), cas) in adjudicated.filter(|((_, s), _)| mine(s)) {
                has_lines = true;
                line_adj = line_adj + *cas;
                line_paid = line_paid + amount(svd.get(2)).unwrap_or_default();
            }
            if has_lines && line_paid != paid {
                cx.issues.push(cx.at(amt_i).element(2, None, "782", "I12", Some(amt.get(2))).issue(
                    Code::Balancing,
                    3,
                    format!(
                        "claim {}: 2320 AMT*D payer paid {} differs from the sum of 2430 SVD02 line paid amounts {}",
                        scan.id, paid, line_paid
                    ),
                ));
            }
            if paid + claim_adj + line_adj != total {
                cx.issues.push(cx.at(amt_i).element(2, None, "782", "I12", Some(amt.get(2))).issue(
                    Code::Balancing,
                    3,
                    format!(
                        "claim {}: other payer paid {} + claim adjustments {} + line adjustments {} = {}, not the claim charge {}",
                        scan.id,
                        paid,
                        claim_adj,
                        line_adj,
                        paid + claim_adj + line_adj,
                        total
                    ),
                ));
            }
        }
    }

    fn numbering(&self, cx: &mut Cx<'_>, scan: &ClaimScan<'_>) {
        for (n, line) in scan.lines.iter().enumerate() {
            let Some((lx_i, lx)) = line.lx else { continue };
            let number = lx.get(1);
            if count(number) != Some(n + 1) {
                cx.issues.push(cx.at(lx_i).element(1, None, "554", "I12", Some(number)).issue(
                    Code::Hierarchy,
                    3,
                    format!(
                        "claim {}: LX01 is {:?}; service lines are numbered 1, 2, 3... so {} was expected",
                        scan.id,
                        text(number),
                        n + 1
                    ),
                ));
            }
        }
    }

    fn situational(&self, cx: &mut Cx<'_>, scan: &ClaimScan<'_>, billing_npi: &[u8]) {
        let diagnoses = scan
            .diags
            .iter()
            .filter(|d| matches!(d.2, b"ABK" | b"ABF" | b"BK" | b"BF"))
            .count();
        for line in &scan.lines {
            let Some((sv_i, sv)) = line.service else {
                continue;
            };
            // DTP*472 at claim or line level (837I: statement dates DTP*434 cover it);
            // the 837P table already requires it on every line
            let covered = self.kind == Kind837::Professional
                || line.has_472
                || scan.has_472
                || (self.kind == Kind837::Institutional && scan.has_434);
            if !covered {
                let at = line.lx.map_or(sv_i, |(i, _)| i);
                cx.issues.push(cx.at(at).issue(
                    Code::Situational,
                    4,
                    format!(
                        "claim {} line {}: no service date: DTP*472 is required at the claim or line level",
                        scan.id,
                        line.number()
                    ),
                ));
            }
            // diagnosis pointers refer to existing HI codes
            let pointer_el = match self.kind {
                Kind837::Professional => 7u16,
                Kind837::Dental => 11u16,
                Kind837::Institutional => continue,
            };
            let Some(pointers) = sv.element(usize::from(pointer_el)) else {
                continue;
            };
            for (c, p) in pointers.components().enumerate() {
                if p.is_empty() {
                    continue;
                }
                let ok = count(p).is_some_and(|v| v >= 1 && v <= diagnoses && v <= 12);
                if !ok {
                    cx.issues.push(
                        cx.at(sv_i)
                            .element(pointer_el, Some(c as u16 + 1), "1328", "I12", Some(p))
                            .issue(
                                Code::Situational,
                                4,
                                format!(
                                    "claim {} line {}: diagnosis pointer {:?} does not point at one of the claim's {diagnoses} HI diagnosis code(s)",
                                    scan.id,
                                    line.number(),
                                    text(p)
                                ),
                            ),
                    );
                }
            }
        }
        // a rendering provider equal to the billing provider should not be sent
        if !billing_npi.is_empty() {
            for p in &scan.providers {
                let Some((i, nm1)) = p.nm1 else {
                    continue;
                };
                if nm1.get(1) == b"82" && nm1.get(8) == b"XX" && nm1.get(9) == billing_npi {
                    let mut issue = cx.at(i).element(9, None, "67", "I12", Some(nm1.get(9))).issue(
                        Code::Situational,
                        4,
                        format!(
                            "claim {}: rendering provider {} is the billing provider; send the rendering loop only when it differs",
                            scan.id,
                            p.id
                        ),
                    );
                    issue.severity = Severity::Warning;
                    cx.issues.push(issue);
                }
            }
        }
    }

    fn codes(&self, cx: &mut Cx<'_>, scan: &ClaimScan<'_>) {
        // ICD-9 qualifiers are allowed only when every date of service precedes the
        // ICD-10 compliance date, 2015-10-01
        let icd9_era = scan.dates.1.is_some_and(|last| before(last, b"20151001"));
        for &(hi_i, e, q, code) in &scan.diags {
            if code.is_empty() {
                continue; // reported by the table as a missing component
            }
            let check: Option<(bool, &str)> = match q {
                    b"ABK" | b"ABF" | b"ABJ" | b"APR" | b"ABN" => {
                        Some((codesets::icd10cm_shape(code), "an ICD-10-CM code (no dot)"))
                    }
                    b"BBR" | b"BBQ" => Some((codesets::icd10pcs_shape(code), "an ICD-10-PCS code")),
                    b"BK" | b"BF" | b"BJ" | b"PR" | b"BN" if icd9_era => Some((
                        (3..=5).contains(&code.len()) && code.iter().all(|b| b.is_ascii_alphanumeric()),
                        "an ICD-9-CM diagnosis code (3-5 characters, no dot)",
                    )),
                    b"BK" | b"BF" | b"BJ" | b"PR" | b"BN" => Some((
                        false,
                        "an ICD-10 code: ICD-9 qualifiers are not used for dates of service from 2015-10-01 on",
                    )),
                    _ => None,
                };
            if let Some((false, what)) = check {
                cx.issues.push(
                    cx.at(hi_i)
                        .element(e as u16 + 1, Some(2), "1271", "I12", Some(code))
                        .issue(
                            Code::CodeSet,
                            5,
                            format!(
                                "claim {}: HI{:02} {} {:?} is not {what}",
                                scan.id,
                                e + 1,
                                text(q),
                                text(code)
                            ),
                        ),
                );
            }
        }
        for line in &scan.lines {
            let Some((sv_i, sv)) = line.service else {
                continue;
            };
            let el = if sv.id() == b"SV2" { 2 } else { 1 };
            let proc = sv.element(el);
            let q = proc.and_then(|p| p.component(1)).unwrap_or(b"");
            let code = proc.and_then(|p| p.component(2)).unwrap_or(b"");
            // a table that names the code set for the procedure code checks it itself
            let table_checks = cx
                .tree
                .segments
                .get(sv_i as usize)
                .filter(|slot| slot.def != NONE)
                .and_then(|slot| cx.guide.segments[slot.def as usize].element(el))
                .and_then(|e| e.components.get(1))
                .is_some_and(|c| c.code_set.is_some());
            let check = match q {
                _ if table_checks => None,
                b"HC" => Some((codesets::hcpcs_shape(code), "a HCPCS or CPT code")),
                b"AD" => Some((codesets::cdt_shape(code), "a CDT code (D and 4 digits)")),
                b"N4" => Some((
                    code.len() == 11 && code.iter().all(u8::is_ascii_digit),
                    "an 11-digit NDC",
                )),
                _ => None,
            };
            if let Some((false, what)) = check {
                cx.issues.push(
                    cx.at(sv_i)
                        .element(el as u16, Some(2), "234", "I12", Some(code))
                        .issue(
                            Code::CodeSet,
                            5,
                            format!(
                                "claim {} line {}: procedure {} {:?} is not {what}",
                                scan.id,
                                line.number(),
                                text(q),
                                text(code)
                            ),
                        ),
                );
            }
            if self.kind == Kind837::Professional {
                let pos = sv.get(5);
                if !pos.is_empty() && !codesets::place_of_service(pos) {
                    cx.issues.push(
                        cx.at(sv_i)
                            .element(5, None, "1331", "I12", Some(pos))
                            .issue(
                                Code::CodeSet,
                                5,
                                format!(
                            "claim {} line {}: SV105 {:?} is not a CMS place-of-service code",
                            scan.id,
                            line.number(),
                            text(pos)
                        ),
                            ),
                    );
                }
            }
            let _ = line.first_date;
        }
        // claim facility code: the type of bill (I); the P and D tables check the place
        // of service themselves
        if let (Some((clm_i, clm)), Kind837::Institutional) = (scan.clm, self.kind) {
            let fc = clm.element(5).and_then(|e| e.component(1)).unwrap_or(b"");
            let ok = match self.kind {
                Kind837::Institutional => {
                    fc.len() == 2 && fc.iter().all(u8::is_ascii_digit) && fc[0] != b'0'
                }
                _ => codesets::place_of_service(fc),
            };
            if !fc.is_empty() && !ok {
                let what = if self.kind == Kind837::Institutional {
                    "the first two digits of a type of bill (facility type and bill classification)"
                } else {
                    "a CMS place-of-service code"
                };
                cx.issues.push(
                    cx.at(clm_i)
                        .element(5, Some(1), "1331", "I12", Some(fc))
                        .issue(
                            Code::CodeSet,
                            5,
                            format!("claim {}: CLM05-1 {:?} is not {what}", scan.id, text(fc)),
                        ),
                );
            }
        }
    }
}

/// SNIP 4: the patient loop (2000C) is used only when the patient is not the
/// subscriber: SBR02 = 18 (self) means no 2000C; an empty SBR02 needs one.
fn patient_loop_rule(cx: &mut Cx<'_>, sub: LoopRef<'_>) {
    let Some((sbr_i, sbr)) = sub.indexed("SBR").next() else {
        return;
    };
    let has_patient = sub.children_with("2000C").next().is_some();
    let rel = text(sbr.get(2));
    if rel == "18" && has_patient {
        cx.issues.push(
            cx.at(sbr_i)
                .element(2, None, "1069", "I12", Some(sbr.get(2)))
                .issue(
                    Code::Situational,
                    4,
                    "SBR02 is 18 (the subscriber is the patient) but a patient loop 2000C follows; 2000C is used only when the patient is someone else",
                ),
        );
    }
    if rel.is_empty() && !has_patient && sub.descendants("2300").next().is_some() {
        cx.issues.push(cx.at(sbr_i).issue(
            Code::Situational,
            4,
            "SBR02 is empty (the patient is not the subscriber) but no patient loop 2000C holds the claims; send SBR02 = 18 or a 2000C",
        ));
    }
}

/// The billing provider's ZIP is the full nine digits (837 TR3s, 2010AA N403), unless
/// the table already says so (`{digits9}`).
fn billing_zip_rule(cx: &mut Cx<'_>, node: LoopRef<'_>) {
    let Some((i, n4)) = node.indexed("N4").next() else {
        return;
    };
    let def = cx.tree.segments[i as usize].def;
    let table_checks = def != NONE
        && cx.guide.segments[def as usize]
            .element(3)
            .is_some_and(|e| e.code_set.is_some());
    let (zip, country) = (n4.get(3), n4.get(4));
    if !table_checks
        && !zip.is_empty()
        && zip.len() != 9
        && (country.is_empty() || country == b"US")
    {
        cx.issues
            .push(cx.at(i).element(3, None, "116", "I12", Some(zip)).issue(
                Code::Situational,
                4,
                format!(
                    "2010AA N403 billing provider ZIP {:?} must be the full 9-digit ZIP+4",
                    text(zip)
                ),
            ));
    }
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn count_reads_what_str_parse_reads() {
        for s in [
            "",
            "+",
            "0",
            "1",
            "+7",
            "-1",
            "12",
            "1a",
            " 1",
            "99999999999999999999",
            "007",
        ] {
            assert_eq!(count(s.as_bytes()), s.parse::<usize>().ok(), "{s:?}");
        }
    }
}
