//! The 278 request rules beyond the tables (SNIP 4-5): an event in every request,
//! services named in a health services review, service dates inside the event's,
//! attachment control numbers, diagnosis and procedure code shapes, and the identifier
//! checks every HIPAA guide shares.
//!
//! Facts: the X217 front matter as public companion guides summarize it (2000F names
//! the services of a health services review, HS; PWK06 identifies an attachment sent
//! separately; requested service dates fall within the event's), `shared/ROUTING.md`.

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

impl GuideRules for Rules278 {
    fn check(&self, guide: &Guide, set: &TransactionSet, tree: &LoopTree, issues: &mut Vec<Issue>) {
        let root = LoopRef::root(set, tree, guide);
        let at = |index: u32| At::new(set, tree, guide, index);
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
            let event_period = event
                .dates()
                .filter(|d| matches!(d.qualifier, "AAH" | "472"))
                .find_map(|d| period(&d));
            for service in event.services() {
                if let Some((from, to)) = event_period {
                    for (i, dtp) in service.node.indexed("DTP") {
                        let d = Qualified {
                            qualifier: text(dtp.get(1)),
                            format: text(dtp.get(2)),
                            value: text(dtp.get(3)),
                        };
                        if let Some((a, b)) = period(&d) {
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
                }
                if let Some(p) = service.procedure() {
                    let (ok, what) = match p.qualifier {
                        "HC" => (
                            codesets::hcpcs_shape(p.code.as_bytes()),
                            "a HCPCS or CPT code",
                        ),
                        "AD" => (codesets::cdt_shape(p.code.as_bytes()), "a CDT code"),
                        "N4" => (
                            p.code.len() == 11 && p.code.bytes().all(|b| b.is_ascii_digit()),
                            "an 11-digit NDC",
                        ),
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
            }
            // diagnosis code shapes
            for (i, hi) in event.node.indexed("HI") {
                for (e, el) in hi.elements().enumerate() {
                    let q = el.component(1).unwrap_or(b"");
                    let code = el.component(2).unwrap_or(b"");
                    if matches!(q, b"ABK" | b"ABF" | b"ABJ" | b"APR")
                        && !code.is_empty()
                        && !codesets::icd10cm_shape(code)
                    {
                        issues.push(
                            at(i)
                                .element(e as u16 + 1, Some(2), "1271", "I12", Some(code))
                                .issue(
                                    Code::CodeSet,
                                    5,
                                    format!(
                                        "2000E HI{:02} {} {:?} is not an ICD-10-CM code (no dot)",
                                        e + 1,
                                        text(q),
                                        text(code)
                                    ),
                                ),
                        );
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
        // attachments sent separately need their control number
        for index in 0..tree.segments.len() as u32 {
            let seg = tree.segment(set, index);
            if seg.id() == b"PWK" && seg.get(2) != b"AA" && seg.get(6).is_empty() {
                issues.push(at(index).element(6, None, "67", "I12", None).issue(
                    Code::Situational,
                    4,
                    format!(
                        "PWK02 is {:?} (sent separately): PWK06 must carry the attachment control number",
                        text(seg.get(2))
                    ),
                ));
            }
        }
        check_identifiers(guide, set, tree, issues);
    }
}
