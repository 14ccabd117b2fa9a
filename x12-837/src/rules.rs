//! The 837 rules beyond the guide tables: balancing (SNIP 3), situational rules the
//! guides state (SNIP 4) and code-set formats (SNIP 5).
//!
//! Facts: the 837 TR3s' front matter as summarized in public companion guides and in
//! pyx12's map notes (claim charge equals the sum of line charges; COB: payer paid plus
//! claim and line adjustments equals the claim charge; line adjudication: paid plus
//! line adjustments equals the line charge; the patient loop is used only when the
//! patient is not the subscriber; service dates at claim or line level; diagnosis
//! pointers refer to HI codes).

use crate::amount::Amount;
use crate::claim::{claims, Claim};
use x12_core::codesets;
use x12_core::schema::{text, At, Guide, LoopRef, LoopTree};
use x12_core::{Code, GuideRules, Issue, TransactionSet};

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

fn first_index(node: LoopRef<'_>, id: &'static str) -> Option<u32> {
    node.indexed(id).next().map(|(i, _)| i)
}

impl GuideRules for Rules837 {
    fn check(&self, guide: &Guide, set: &TransactionSet, tree: &LoopTree, issues: &mut Vec<Issue>) {
        let root = LoopRef::root(set, tree, guide);
        let mut cx = Cx {
            set,
            tree,
            guide,
            issues,
        };
        for claim in claims(root) {
            self.balance(&mut cx, &claim);
            self.numbering(&mut cx, &claim);
            self.situational(&mut cx, &claim);
            self.codes(&mut cx, &claim);
        }
        for sub in root.descendants("2000B") {
            patient_loop_rule(&mut cx, sub);
        }
        npi_and_taxonomy(&mut cx, root);
    }
}

fn amount(s: &str) -> Option<Amount> {
    Amount::parse(s)
}

impl Rules837 {
    fn service_id(&self) -> &'static str {
        match self.kind {
            Kind837::Professional => "SV1",
            Kind837::Institutional => "SV2",
            Kind837::Dental => "SV3",
        }
    }

    fn balance(&self, cx: &mut Cx<'_>, claim: &Claim<'_>) {
        let Some(clm_i) = first_index(claim.node, "CLM") else {
            return;
        };
        let Some(total) = amount(claim.total_charge()) else {
            return;
        };
        let mut sum = Amount(0);
        let mut lines = 0;
        for line in claim.lines() {
            if let Some(c) = amount(line.charge()) {
                sum = sum + c;
                lines += 1;
            }
            // 2430: paid + line adjustments = line charge
            let Some(charge) = amount(line.charge()) else {
                continue;
            };
            for adj in line.node.children_with("2430") {
                let Some((svd_i, svd)) = adj.indexed("SVD").next() else {
                    continue;
                };
                let paid = amount(text(svd.get(2))).unwrap_or_default();
                let cas = cas_total(adj);
                if paid + cas != charge {
                    cx.issues.push(
                        cx.at(svd_i)
                            .element(2, None, "782", "I12", Some(svd.get(2)))
                            .issue(
                                Code::Balancing,
                                3,
                                format!(
                                    "2430 line adjudication for line {}: paid {} plus adjustments {} is {}, not the line charge {}",
                                    line.number(),
                                    paid,
                                    cas,
                                    paid + cas,
                                    charge
                                ),
                            ),
                    );
                }
            }
        }
        if lines > 0 && sum != total {
            cx.issues.push(
                cx.at(clm_i)
                    .element(2, None, "782", "I12", claim.total_charge().as_bytes().into())
                    .issue(
                        Code::Balancing,
                        3,
                        format!(
                            "claim {}: CLM02 total charge {} differs from the sum of its {} line charges, {}",
                            claim.id(),
                            total,
                            lines,
                            sum
                        ),
                    ),
            );
        }
        // COB: for each other payer, paid + claim adjustments + that payer's line adjustments = charge
        for other in claim.other_subscribers() {
            let Some((amt_i, amt)) = other.indexed("AMT").find(|(_, s)| s.get(1) == b"D") else {
                continue;
            };
            let payer_id = other
                .children_with("2330B")
                .next()
                .map(|p| p.value("NM1", 9))
                .unwrap_or("");
            let paid = amount(text(amt.get(2))).unwrap_or_default();
            let claim_adj = cas_total(other);
            let line_adj: Amount = claim
                .lines()
                .flat_map(|l| l.node.children_with("2430").collect::<Vec<_>>())
                .filter(|a| payer_id.is_empty() || a.value("SVD", 1) == payer_id)
                .map(cas_total)
                .sum();
            let line_paid: Amount = claim
                .lines()
                .flat_map(|l| l.node.children_with("2430").collect::<Vec<_>>())
                .filter(|a| payer_id.is_empty() || a.value("SVD", 1) == payer_id)
                .filter_map(|a| amount(a.value("SVD", 2)))
                .sum();
            let has_lines = claim
                .lines()
                .any(|l| l.node.children_with("2430").next().is_some());
            // with line adjudication, the line paid amounts must add up to the claim paid amount
            if has_lines && line_paid != paid {
                cx.issues.push(
                    cx.at(amt_i)
                        .element(2, None, "782", "I12", Some(amt.get(2)))
                        .issue(
                            Code::Balancing,
                            3,
                            format!(
                                "claim {}: 2320 AMT*D payer paid {} differs from the sum of 2430 SVD02 line paid amounts {}",
                                claim.id(),
                                paid,
                                line_paid
                            ),
                        ),
                );
            }
            if paid + claim_adj + line_adj != total {
                cx.issues.push(
                    cx.at(amt_i)
                        .element(2, None, "782", "I12", Some(amt.get(2)))
                        .issue(
                            Code::Balancing,
                            3,
                            format!(
                                "claim {}: other payer paid {} + claim adjustments {} + line adjustments {} = {}, not the claim charge {}",
                                claim.id(),
                                paid,
                                claim_adj,
                                line_adj,
                                paid + claim_adj + line_adj,
                                total
                            ),
                        ),
                );
            }
        }
    }

    fn numbering(&self, cx: &mut Cx<'_>, claim: &Claim<'_>) {
        for (n, line) in claim.lines().enumerate() {
            let want = (n + 1).to_string();
            if line.number() != want {
                if let Some(i) = first_index(line.node, "LX") {
                    cx.issues.push(
                        cx.at(i)
                            .element(1, None, "554", "I12", Some(line.number().as_bytes()))
                            .issue(
                                Code::Hierarchy,
                                3,
                                format!(
                                    "claim {}: LX01 is {:?}; service lines are numbered 1, 2, 3... so {want} was expected",
                                    claim.id(),
                                    line.number()
                                ),
                            ),
                    );
                }
            }
        }
    }

    fn situational(&self, cx: &mut Cx<'_>, claim: &Claim<'_>) {
        let claim_has_472 = claim.dates().any(|d| d.qualifier == "472");
        let claim_has_434 = claim.dates().any(|d| d.qualifier == "434");
        let diagnoses = claim
            .diagnoses()
            .iter()
            .filter(|d| matches!(d.qualifier, "ABK" | "ABF" | "BK" | "BF"))
            .count();
        for line in claim.lines() {
            let Some(sv_i) = first_index(line.node, self.service_id()) else {
                continue;
            };
            // DTP*472 at claim or line level (837I: statement dates DTP*434 cover it)
            let covered = line.service_date().is_some()
                || claim_has_472
                || (self.kind == Kind837::Institutional && claim_has_434);
            if !covered {
                let lx = first_index(line.node, "LX").unwrap_or(sv_i);
                cx.issues.push(cx.at(lx).issue(
                    Code::Situational,
                    4,
                    format!(
                        "claim {} line {}: no service date: DTP*472 is required at the claim or line level",
                        claim.id(),
                        line.number()
                    ),
                ));
            }
            // diagnosis pointers refer to existing HI codes
            let (pointer_el, reference) = match self.kind {
                Kind837::Professional => (7u16, "1328"),
                Kind837::Dental => (11u16, "1328"),
                Kind837::Institutional => continue,
            };
            for (c, p) in line.diagnosis_pointers().iter().enumerate() {
                let ok = p
                    .parse::<usize>()
                    .is_ok_and(|v| v >= 1 && v <= diagnoses && v <= 12);
                if !ok {
                    cx.issues.push(
                        cx.at(sv_i)
                            .element(pointer_el, Some(c as u16 + 1), reference, "I12", Some(p.as_bytes()))
                            .issue(
                                Code::Situational,
                                4,
                                format!(
                                    "claim {} line {}: diagnosis pointer {p:?} does not point at one of the claim's {diagnoses} HI diagnosis code(s)",
                                    claim.id(),
                                    line.number()
                                ),
                            ),
                    );
                }
            }
        }
        // rendering provider equal to the billing provider should not be sent (837P 2310B note)
        if let (Some(billing), Some(rendering)) = (
            claim.billing_provider(),
            claim.providers().find(|p| p.entity() == "82"),
        ) {
            if billing.npi().is_some() && billing.npi() == rendering.npi() {
                if let Some(i) = first_index(rendering.node, "NM1") {
                    let mut issue = cx.at(i).element(9, None, "67", "I12", rendering.id().as_bytes().into()).issue(
                        Code::Situational,
                        4,
                        format!(
                            "claim {}: rendering provider {} is the billing provider; send the rendering loop only when it differs",
                            claim.id(),
                            rendering.loop_id()
                        ),
                    );
                    issue.severity = x12_core::Severity::Warning;
                    cx.issues.push(issue);
                }
            }
        }
    }

    fn codes(&self, cx: &mut Cx<'_>, claim: &Claim<'_>) {
        // ICD-9 qualifiers are allowed only when every date of service precedes the
        // ICD-10 compliance date, 2015-10-01
        let dates = claim_dates(claim);
        let icd9_era = !dates.is_empty() && dates.iter().all(|d| d.as_str() < "20151001");
        // HI codes by qualifier
        for (hi_i, hi) in claim.node.indexed("HI") {
            for (e, el) in hi.elements().enumerate() {
                let q = text(el.component(1).unwrap_or(b""));
                let code = el.component(2).unwrap_or(b"");
                if code.is_empty() {
                    continue; // reported by the table as a missing component
                }
                let check: Option<(bool, &str)> = match q {
                    "ABK" | "ABF" | "ABJ" | "APR" | "ABN" => Some((codesets::icd10cm_shape(code), "an ICD-10-CM code (no dot)")),
                    "BBR" | "BBQ" => Some((codesets::icd10pcs_shape(code), "an ICD-10-PCS code")),
                    "BK" | "BF" | "BJ" | "PR" | "BN" if icd9_era => Some((
                        (3..=5).contains(&code.len()) && code.iter().all(|b| b.is_ascii_alphanumeric()),
                        "an ICD-9-CM diagnosis code (3-5 characters, no dot)",
                    )),
                    "BK" | "BF" | "BJ" | "PR" | "BN" => Some((
                        false,
                        "an ICD-10 code: ICD-9 qualifiers are not used for dates of service from 2015-10-01 on",
                    )),
                    _ => None,
                };
                if let Some((false, what)) = check {
                    cx.issues.push(
                        cx.at(hi_i)
                            .element(
                                e as u16 + 1,
                                Some(if q.starts_with('B') && q.len() == 2 {
                                    1
                                } else {
                                    2
                                }),
                                "1271",
                                "I12",
                                Some(code),
                            )
                            .issue(
                                Code::CodeSet,
                                5,
                                format!(
                                    "claim {}: HI{:02} {q} {:?} is not {what}",
                                    claim.id(),
                                    e + 1,
                                    text(code)
                                ),
                            ),
                    );
                }
            }
        }
        // procedure codes
        for line in claim.lines() {
            let Some(sv_i) = first_index(line.node, self.service_id()) else {
                continue;
            };
            let q = line.procedure_qualifier();
            let code = line.procedure_code();
            let el = if self.kind == Kind837::Institutional {
                2
            } else {
                1
            };
            let check = match q {
                "HC" => Some((
                    codesets::hcpcs_shape(code.as_bytes()),
                    "a HCPCS or CPT code",
                )),
                "AD" => Some((
                    codesets::cdt_shape(code.as_bytes()),
                    "a CDT code (D and 4 digits)",
                )),
                "N4" => Some((
                    code.len() == 11 && code.bytes().all(|b| b.is_ascii_digit()),
                    "an 11-digit NDC",
                )),
                _ => None,
            };
            if let Some((false, what)) = check {
                cx.issues.push(
                    cx.at(sv_i)
                        .element(el, Some(2), "234", "I12", Some(code.as_bytes()))
                        .issue(
                            Code::CodeSet,
                            5,
                            format!(
                                "claim {} line {}: procedure {q} {code:?} is not {what}",
                                claim.id(),
                                line.number()
                            ),
                        ),
                );
            }
            if self.kind == Kind837::Professional {
                let pos = line.place_of_service();
                if !pos.is_empty() && !codesets::place_of_service(pos.as_bytes()) {
                    cx.issues.push(
                        cx.at(sv_i)
                            .element(5, None, "1331", "I12", Some(pos.as_bytes()))
                            .issue(
                                Code::CodeSet,
                                5,
                                format!("claim {} line {}: SV105 {pos:?} is not a CMS place-of-service code", claim.id(), line.number()),
                            ),
                    );
                }
            }
        }
        // claim facility code: place of service (P, D) or type of bill (I)
        if let Some(clm_i) = first_index(claim.node, "CLM") {
            let fc = claim.facility_code();
            let ok = match self.kind {
                Kind837::Institutional => {
                    fc.len() == 2 && fc.bytes().all(|b| b.is_ascii_digit()) && !fc.starts_with('0')
                }
                _ => codesets::place_of_service(fc.as_bytes()),
            };
            if !fc.is_empty() && !ok {
                let what = if self.kind == Kind837::Institutional {
                    "the first two digits of a type of bill (facility type and bill classification)"
                } else {
                    "a CMS place-of-service code"
                };
                cx.issues.push(
                    cx.at(clm_i)
                        .element(5, Some(1), "1331", "I12", Some(fc.as_bytes()))
                        .issue(
                            Code::CodeSet,
                            5,
                            format!("claim {}: CLM05-1 {fc:?} is not {what}", claim.id()),
                        ),
                );
            }
        }
    }
}

/// Every date of service of a claim (CCYYMMDD): claim and line DTP*472, and 837I
/// statement dates (DTP*434, both ends of a range).
fn claim_dates(claim: &Claim<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let mut take = |d: crate::Qualified<'_>| {
        if matches!(d.qualifier, "472" | "434") {
            for part in d.value.split('-') {
                if part.len() == 8 {
                    out.push(part.to_string());
                }
            }
        }
    };
    claim.dates().for_each(&mut take);
    for line in claim.lines() {
        line.dates().for_each(&mut take);
    }
    out
}

fn cas_total(node: LoopRef<'_>) -> Amount {
    node.segments_with("CAS")
        .map(|cas| {
            // CAS02/03, 05/06, 08/09, 11/12, 14/15, 17/18: reason code, amount
            [3usize, 6, 9, 12, 15, 18]
                .iter()
                .filter_map(|&e| amount(text(cas.get(e))))
                .sum::<Amount>()
        })
        .sum()
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

/// SNIP 5: every NM1 with NM108 = XX carries a valid NPI; every PRV03 is a taxonomy
/// code; every N4 state and ZIP is well formed.
fn npi_and_taxonomy(cx: &mut Cx<'_>, root: LoopRef<'_>) {
    let tree = cx.tree;
    for index in 0..tree.segments.len() as u32 {
        let seg = tree.segment(cx.set, index);
        match seg.id() {
            b"NM1" if seg.get(8) == b"XX" => {
                let npi = seg.get(9);
                if !codesets::npi_valid(npi) {
                    let at = cx.at(index);
                    let loop_id = at.loop_id().unwrap_or("").to_string();
                    cx.issues
                        .push(at.element(9, None, "67", "I12", Some(npi)).issue(
                            Code::CodeSet,
                            5,
                            format!(
                                "{loop_id} NM109 {} NPI {} fails the check digit",
                                entity_name(seg.get(1)),
                                text(npi)
                            ),
                        ));
                }
            }
            b"PRV" => {
                let t = seg.get(3);
                if !t.is_empty() && !codesets::taxonomy_shape(t) {
                    let at = cx.at(index);
                    let loop_id = at.loop_id().unwrap_or("").to_string();
                    cx.issues.push(at.element(3, None, "127", "I12", Some(t)).issue(
                        Code::CodeSet,
                        5,
                        format!("{loop_id} PRV03 {:?} is not a NUCC taxonomy code (10 characters ending in X)", text(t)),
                    ));
                }
            }
            b"N4" => {
                let (state, zip, country) = (seg.get(2), seg.get(3), seg.get(4));
                if country.is_empty() || country == b"US" {
                    if !state.is_empty() && !codesets::state(state) {
                        let at = cx.at(index);
                        let loop_id = at.loop_id().unwrap_or("").to_string();
                        cx.issues
                            .push(at.element(2, None, "156", "I12", Some(state)).issue(
                                Code::CodeSet,
                                5,
                                format!("{loop_id} N402 {:?} is not a US state code", text(state)),
                            ));
                    }
                    if !zip.is_empty() && !codesets::zip(zip) {
                        let at = cx.at(index);
                        let loop_id = at.loop_id().unwrap_or("").to_string();
                        cx.issues
                            .push(at.element(3, None, "116", "I12", Some(zip)).issue(
                                Code::CodeSet,
                                5,
                                format!(
                                    "{loop_id} N403 {:?} is not a 5- or 9-digit ZIP code",
                                    text(zip)
                                ),
                            ));
                    }
                }
            }
            _ => {}
        }
    }
    let _ = root;
}

fn entity_name(code: &[u8]) -> &'static str {
    match code {
        b"85" => "billing provider",
        b"87" => "pay-to provider",
        b"82" => "rendering provider",
        b"77" => "service facility",
        b"DN" | b"P3" => "referring provider",
        b"DQ" => "supervising provider",
        b"71" => "attending provider",
        b"72" => "operating physician",
        b"ZZ" => "other operating physician",
        b"DD" => "assistant surgeon",
        b"QB" => "purchased service provider",
        _ => "provider",
    }
}
