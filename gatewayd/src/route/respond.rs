//! The gateway's own 278 answers for requests it does not forward (ROUTING.md §4):
//! `reject` (LME/MCO, PHP) is answered HCR01=CT with an MSG naming where to go;
//! `no_pa_required` is answered HCR01=NA. Services that are forwarded are answered
//! pended (A4) in the same response when a request mixes both. The response itself is
//! written by [`x12_278::respond`], which echoes the request's hierarchy.

use super::eval::Decision;
use super::table::Action;
use super::RequestRouting;
use x12_278::{Action as Hcr, Decision as Answer, EventDecision};

fn answer(d: &Decision) -> Answer {
    match d.action {
        Action::Reject => Answer {
            message: Some(contact_message(&d.vendor_name)),
            ..Answer::new(Hcr::ContactPayer)
        },
        Action::NoPaRequired => Answer {
            message: Some("No prior approval is required for this service.".to_string()),
            ..Answer::new(Hcr::NoActionRequired)
        },
        Action::Route => Answer {
            message: Some(format!("Forwarded for review: {}.", d.pa_type)),
            ..Answer::new(Hcr::Pended)
        },
    }
}

/// The MSG of a contact-payer answer: at most 264 characters (MSG01's limit), without
/// the characters X12 uses as separators.
///
/// ```
/// use gatewayd::route::respond::contact_message;
/// assert_eq!(contact_message("LME*MCO: Wake"), "Not reviewed through NCTracks. Contact LME MCO  Wake.");
/// ```
pub fn contact_message(target: &str) -> String {
    let target: String = target
        .chars()
        .map(|c| {
            if matches!(c, '*' | ':' | '^' | '~' | '|') {
                ' '
            } else {
                c
            }
        })
        .collect();
    let mut m = format!("Not reviewed through NCTracks. Contact {target}.");
    if m.len() > 264 {
        let mut cut = 263;
        while !m.is_char_boundary(cut) {
            cut -= 1;
        }
        m.truncate(cut);
        m.push('.');
    }
    m
}

/// The immediate answer to one routed 278 event, or `None` when every service is
/// forwarded (the vendor answers). The event's HCR is the services' common action, or
/// A4 (pended) when they differ.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use gatewayd::route::{respond::immediate_answer, route_file, Lookups, Router};
/// let router = Router::bundled()?;
/// let data = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/routing/ex07b-2022-radiology.x12"))?;
/// let sets = route_file(&router, &data[..], &Lookups::default())?;
/// let answer = immediate_answer(&sets[0].requests[0]).unwrap();
/// assert_eq!(answer.event.action.code(), "NA");
/// # Ok(()) }
/// ```
pub fn immediate_answer(r: &RequestRouting) -> Option<EventDecision> {
    let decisions: Vec<&Decision> = r.routed.lines.iter().map(|l| &l.decision).collect();
    if decisions.iter().all(|d| d.action == Action::Route) {
        return None;
    }
    let answers: Vec<Answer> = decisions.iter().map(|d| answer(d)).collect();
    let event = match answers.first() {
        Some(first) if answers.iter().all(|a| a.action == first.action) => first.clone(),
        _ => Answer::new(Hcr::Pended),
    };
    let synthetic = r.routed.lines.len() == 1 && r.routed.lines[0].line == "event";
    Some(EventDecision {
        event,
        services: if synthetic { Vec::new() } else { answers },
    })
}
