//! The 278 request rules beyond the tables (SNIP 4-5): an event in every request,
//! services named in a health services review and consistent with a cancelled event,
//! service dates inside the event's, attachment control numbers, diagnosis qualifiers
//! in their place, diagnosis, procedure and revenue code shapes, the state of US
//! addresses, and the identifier checks every HIPAA guide shares.
//!
//! Facts: the X217 front matter as public companion guides summarize it (2000F names
//! the services of a health services review, HS; PWK06 identifies an attachment sent
//! separately; requested service dates fall within the event's), `shared/ROUTING.md`.
//! Diagnosis qualifiers: X12 RFI 603 (the principal diagnosis is HI01; an admitting
//! diagnosis and a patient's reason for visit are not reported together: here the first
//! goes with an admission review, the second with any other request) and RFI 1479 (the
//! admitting diagnosis is an inpatient element), with the pyx12 maps of
//! 005010X222A1/X223A1 (HI01 holds ABK or BK, other diagnoses ABF or BF); ICD-9-CM
//! qualifiers (BK, BF, BJ, BN, PR) only for dates before the ICD-10 compliance date,
//! 2015-10-01 (45 CFR 162.1002). N402 is required for addresses in the US (the N4 note
//! of the 5010 HIPAA guides, N404 absent meaning the US). Revenue codes are the
//! four-digit NUBC codes (SV201, as in the 837I). An event cancelled as a whole (2000E
//! UM02 3) cannot ask for a review of its services: its 2000F loops are cancelled with it.

use crate::request::events;
use x12_core::codesets;
use x12_core::schema::{check_identifiers, text, At, Guide, LoopRef, LoopTree, Qualified};
use x12_core::{Code, GuideRules, Issue, TransactionSet};

/// SNIP 4-5 rules for the 278 request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rules278;

/// (start, end) of a DTP value: `CCYYMMDD` or `CCYYMMDD-CCYYMMDD`.
fn period<'a>(d: &Qualified<'a>) -> Option<(&'a str, &'a str)> {
    match d.format {
        "D8" if d.value.len() == 8 => Some((d.value, d.value)),
        "RD8" => d
            .value
            .split_once('-')
            .filter(|(a, b)| a.len() == 8 && b.len() == 8),
        _ => None,
    }
}

/// The event's requested period: the event date (AAH) or, for an admission, the
/// admission date through the discharge date.
fn event_period<'a>(event: &crate::Event<'a>) -> Option<(&'a str, &'a str)> {
    let (mut admission, mut discharge) = (None, None);
    for d in event.dates() {
        match d.qualifier {
            "AAH" | "472" => return period(&d),
            "435" => admission = period(&d),
            "096" => discharge = period(&d),
            _ => {}
        }
    }
    match (admission, discharge) {
        (Some((from, _)), Some((_, to))) => Some((from, to)),
        (Some((from, to)), None) if from != to => Some((from, to)),
        _ => None,
    }
}

/// ICD-9-CM diagnosis qualifiers (principal, other, admitting, external cause, reason for visit).
const ICD9_DIAGNOSIS: [&[u8]; 5] = [b"BK", b"BF", b"BJ", b"BN", b"PR"];

/// The ICD-10 compliance date: ICD-9-CM codes serve only dates of service before it.
const ICD10_FROM: &str = "20151001";

impl GuideRules for Rules278 {
    fn check(&self, guide: &Guide, set: &TransactionSet, tree: &LoopTree, issues: &mut Vec<Issue>) {
        let root = LoopRef::root(set, tree, guide);
        let at = |index: u32| At::new(set, tree, guide, index);
        let created = root.value("BHT", 4);
        let mut any_event = false;
        for event in events(root) {
            any_event = true;
            let trigger = tree.nodes[event.node.node as usize].first_segment;
            // a health services review names its services
            if event.category() == "HS" && event.services().next().is_none() {
                issues.push(at(trigger).issue(
                    Code::Situational,
                    4,
                    "2000E UM01 is HS (health services review) but no 2000F service level names the services",
                ));
            }
            // service dates inside the event's requested period
            let event_period = event_period(&event);
            // the latest date the event names, for the ICD-9/ICD-10 choice
            let mut latest = event
                .dates()
                .filter_map(|d| period(&d))
                .map(|(_, to)| to)
                .max();
            let cancelled = event.certification_type() == "3";
            for service in event.services() {
                for (i, dtp) in service.node.indexed("DTP") {
                    let d = Qualified {
                        qualifier: text(dtp.get(1)),
                        format: text(dtp.get(2)),
                        value: text(dtp.get(3)),
                    };
                    let Some((a, b)) = period(&d) else {
                        continue;
                    };
                    latest = latest.max(Some(b));
                    if let Some((from, to)) = event_period {
                        if a < from || b > to {
                            issues.push(at(i).element(3, None, "1251", "I12", Some(dtp.get(3))).issue(
                                Code::Situational,
                                4,
                                format!(
                                    "2000F service date {} falls outside the event's requested period {from}-{to}",
                                    d.value
                                ),
                            ));
                        }
                    }
                }
                // a cancelled event takes its services with it
                if cancelled {
                    if let Some((i, um)) = service.node.indexed("UM").next() {
                        let own = um.get(2);
                        if !own.is_empty() && own != b"3" {
                            issues.push(at(i).element(2, None, "1322", "I12", Some(own)).issue(
                                Code::Situational,
                                4,
                                format!(
                                    "2000F UM02 is {:?} but the event's UM02 is 3 (cancel): the services of a cancelled event are cancelled too (UM02 3)",
                                    text(own)
                                ),
                            ));
                        }
                    }
                }
                if let Some(p) = service.procedure() {
                    let (ok, what) = match p.qualifier {
                        "HC" => (
                            codesets::hcpcs_shape(p.code.as_bytes()),
                            "a HCPCS or CPT code",
                        ),
                        "N4" => (
                            p.code.len() == 11 && p.code.bytes().all(|b| b.is_ascii_digit()),
                            "an 11-digit NDC (5-4-2, no hyphens)",
                        ),
                        // AD (SV3) is checked by the table's CDT code set
                        _ => (true, ""),
                    };
                    if !ok {
                        let found = ["SV1", "SV2", "SV3"]
                            .iter()
                            .find_map(|id| service.node.indexed(id).next());
                        if let Some((i, sv)) = found {
                            let e = if sv.id() == b"SV2" { 2 } else { 1 };
                            issues.push(
                                at(i)
                                    .element(e, Some(2), "234", "I12", Some(p.code.as_bytes()))
                                    .issue(
                                        Code::CodeSet,
                                        5,
                                        format!(
                                            "2000F procedure {} {:?} is not {what}",
                                            p.qualifier, p.code
                                        ),
                                    ),
                            );
                        }
                    }
                }
                // revenue codes are four NUBC digits
                if let Some((i, sv2)) = service.node.indexed("SV2").next() {
                    let rev = sv2.get(1);
                    let nubc = rev.len() == 4 && rev.iter().all(u8::is_ascii_digit);
                    if !rev.is_empty() && !nubc {
                        issues.push(at(i).element(1, None, "234", "I12", Some(rev)).issue(
                            Code::CodeSet,
                            5,
                            format!(
                                "2000F SV201 revenue code {:?} is not a NUBC revenue code (4 digits, leading zero kept: 0120, not 120)",
                                text(rev)
                            ),
                        ));
                    }
                }
            }
            let icd9_era = latest.unwrap_or(created) < ICD10_FROM;
            // diagnosis qualifiers in their place, and code shapes
            let admission = event.category() == "AR";
            let mut principal = 0;
            for (i, hi) in event.node.indexed("HI") {
                for (e, el) in hi.elements().enumerate() {
                    let q = el.component(1).unwrap_or(b"");
                    let code = el.component(2).unwrap_or(b"");
                    let n = e as u16 + 1;
                    let qualifier = |why: String| {
                        at(i).element(n, Some(1), "1270", "I12", Some(q)).issue(
                            Code::Situational,
                            4,
                            why,
                        )
                    };
                    match q {
                        b"ABK" | b"BK" => {
                            principal += 1;
                            if e != 0 || principal > 1 {
                                issues.push(qualifier(format!(
                                    "2000E HI{n:02} {}: the principal diagnosis is reported once, in HI01; later diagnoses use ABF",
                                    text(q)
                                )));
                            }
                        }
                        b"ABJ" | b"BJ" if !admission => issues.push(qualifier(format!(
                            "2000E HI{n:02} {}: an admitting diagnosis belongs to an admission review (UM01 AR), not UM01 {}",
                            text(q),
                            event.category()
                        ))),
                        b"APR" | b"PR" if admission => issues.push(qualifier(format!(
                            "2000E HI{n:02} {}: a patient's reason for visit belongs to outpatient requests, not to an admission review (UM01 AR)",
                            text(q)
                        ))),
                        _ => {}
                    }
                    if code.is_empty() {
                        continue; // the table reports the missing component
                    }
                    let check = match q {
                        b"ABK" | b"ABF" | b"ABJ" | b"APR" | b"ABN" => Some((
                            codesets::icd10cm_shape(code),
                            "an ICD-10-CM code (no dot)",
                        )),
                        q if ICD9_DIAGNOSIS.contains(&q) && icd9_era => Some((
                            (3..=5).contains(&code.len())
                                && code.iter().all(u8::is_ascii_alphanumeric),
                            "an ICD-9-CM code (3-5 characters, no dot)",
                        )),
                        q if ICD9_DIAGNOSIS.contains(&q) => Some((
                            false,
                            "an ICD-10-CM code: ICD-9-CM qualifiers serve only dates before 2015-10-01 (use ABK, ABF, ABJ, ABN, APR)",
                        )),
                        _ => None,
                    };
                    if let Some((false, what)) = check {
                        issues.push(at(i).element(n, Some(2), "1271", "I12", Some(code)).issue(
                            Code::CodeSet,
                            5,
                            format!("2000E HI{n:02} {} {:?} is not {what}", text(q), text(code)),
                        ));
                    }
                }
            }
        }
        if !any_event {
            let last = tree.segments.len().saturating_sub(1) as u32;
            issues.push(at(last).issue(
                Code::Situational,
                4,
                "the request has no patient event (2000E): a 278 request asks about at least one event",
            ));
        }
        for index in 0..tree.segments.len() as u32 {
            let seg = tree.segment(set, index);
            match seg.id() {
                // attachments sent separately need their control number
                b"PWK" if seg.get(2) != b"AA" && seg.get(6).is_empty() => {
                    issues.push(at(index).element(6, None, "67", "I12", None).issue(
                        Code::Situational,
                        4,
                        format!(
                            "PWK02 is {:?} (sent separately): PWK06 must carry the attachment control number",
                            text(seg.get(2))
                        ),
                    ));
                }
                // a US address names its state (a transport location decides routing by it)
                b"N4"
                    if seg.get(2).is_empty() && seg.get(4).is_empty() && seg.get(7).is_empty() =>
                {
                    let at = at(index);
                    let loop_id = at.loop_id().unwrap_or("").to_string();
                    issues.push(at.element(2, None, "156", "I9", None).issue(
                        Code::Situational,
                        4,
                        format!("{loop_id} N4 has no N402 state: a US address (no N404 country) names its state"),
                    ));
                }
                // CR6 last admission period (CR615 RD8, CR616); the table checks CR603/CR604
                b"CR6" if seg.get(15) == b"RD8" => {
                    let v = seg.get(16);
                    let ok = v.len() == 17
                        && v[8] == b'-'
                        && x12_core::datetime::is_valid_date(&v[..8])
                        && x12_core::datetime::is_valid_date(&v[9..])
                        && v[..8] <= v[9..];
                    if !v.is_empty() && !ok {
                        issues.push(at(index).element(16, None, "1251", "8", Some(v)).issue(
                            Code::InvalidDate,
                            2,
                            format!(
                                "CR616 last admission period {:?} is not a valid RD8 range (CCYYMMDD-CCYYMMDD, start not after end)",
                                text(v)
                            ),
                        ));
                    }
                }
                _ => {}
            }
        }
        check_identifiers(guide, set, tree, issues);
    }
}
