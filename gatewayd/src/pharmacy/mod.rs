//! Pharmacy auto-approval: NCTracks approves many outpatient drug classes at once when
//! the clinical criteria are met (`shared/ROUTING.md` §4, the `pharmacy` rule of the
//! contractor table), and pends the rest for review at CSRA.
//!
//! Three parts, one module each:
//!
//! - [`criteria`]: the criteria file (TOML, `gatewayd/pharmacy-criteria.toml` bundled,
//!   replaceable by a path): per drug class its NDCs or NDC prefixes, required ICD-10-CM
//!   prefixes, age limits, quantity and day limits and an optional window of dates of
//!   service; validated at load ([`CriteriaError`] names class, key and line);
//! - [`decide`](mod@decide): per service (2000F) of a 278 request, met or not met with
//!   the list of [`Failure`]s;
//! - [`number`]: authorization numbers from a caller-persisted [`Sequence`]
//!   ([`NumberFormat`] documents the format).
//!
//! [`respond`] puts them together and writes the 278 response with the `x12_278`
//! builder:
//!
//! - a met service: HCR\*A1 with the authorization number in HCR02 and the
//!   certification period in DTP\*007 (effective) and DTP\*036 (expiration);
//! - a service not met: HCR\*A4 (pended) and a MSG saying it is pended for CSRA review
//!   and listing the failed criteria (MSG01 is the 2000F's free text, AN 1-264; a list
//!   that does not fit ends with "and N more");
//! - the event (2000E): HCR\*A1 with the period spanning its services' when every
//!   service is met, else HCR\*A4 with a MSG counting the services pended. Numbers are
//!   issued per service, one per drug, so the event carries none.
//!
//! One sequence value is taken per met service, in request order; a sequence failure
//! stops the response before anything is written (values already taken are wasted,
//! never reused).
//!
//! ```
//! use gatewayd::pharmacy::{self, Criteria, MemorySequence, NumberFormat};
//! use x12_278::Responder;
//! use x12_core::{Item, Reader};
//! use x12_core::schema::LoopTree;
//!
//! let data = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/valid/278/pharmacy.x12")).unwrap();
//! let set = Reader::new(&data[..]).find_map(|i| match i.unwrap() {
//!     Item::Transaction(t) => Some(t),
//!     _ => None,
//! }).unwrap();
//! let v = gatewayd::guides::validator();
//! let mut tree = LoopTree::default();
//! let (guide, issues) = v.check_set(&set, &mut tree);
//! assert!(issues.is_empty());
//! let who = Responder {
//!     control_number: "0001".into(),
//!     date: "20230728".into(),
//!     time: "1451".into(),
//!     originator: "1560000012".into(),
//!     trace_prefix: "RX".into(),
//!     rejections: Vec::new(),
//! };
//! let r = pharmacy::respond(
//!     &set, &tree, guide.unwrap(), &Criteria::bundled().unwrap(),
//!     &mut MemorySequence::new(), &NumberFormat::default(), &who,
//! ).unwrap();
//! let text = String::from_utf8(r.set).unwrap();
//! assert!(text.contains(&format!("HCR*A1*{}~", r.authorizations[0])));
//! // the response table puts the expiration date before the effective date
//! assert!(text.contains("DTP*036*D8*20240131~DTP*007*D8*20230801~"));
//! ```

pub mod criteria;
mod date;
pub mod decide;
pub mod number;

pub use criteria::{
    Criteria, CriteriaError, DrugClass, Location, Window, BUNDLED_CRITERIA, SCHEMA_VERSION,
};
pub use date::Ymd;
pub use decide::{decide, decide_service, EventOutcome, Failure, ServiceOutcome};
pub use number::{
    luhn_check_digit, MemorySequence, NumberFormat, PrefixError, Sequence, SequenceError,
};

use thiserror::Error;
use x12_278::{Action, Decision, EventDecision, Responder};
use x12_core::schema::{Guide, LoopRef, LoopTree};
use x12_core::{TransactionSet, WriteError};

/// MSG01 is AN 1-264.
const MSG_MAX: usize = 264;

/// Why no response could be built.
#[derive(Debug, Error)]
pub enum PharmacyError {
    /// The authorization sequence gave no value.
    #[error(transparent)]
    Sequence(#[from] SequenceError),
    /// The responder's date (BHT04 of the response, the issue date of numbers) is not
    /// `CCYYMMDD`.
    #[error("responder date `{0}` is not CCYYMMDD")]
    BadIssueDate(String),
    /// The set was not read with the 278 request table.
    #[error("not a 278 request (guide {0})")]
    NotARequest(String),
    /// Writing the response failed.
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// A built response with what decided it.
#[derive(Debug, Clone)]
pub struct PharmacyResponse {
    /// Per event, per service: met or not, and why.
    pub outcomes: Vec<EventOutcome>,
    /// The decisions written, as the `x12_278` builder takes them.
    pub decisions: Vec<EventDecision>,
    /// The authorization numbers issued, in request order.
    pub authorizations: Vec<String>,
    /// The response transaction set (ST to SE), ready to wrap in GS/ISA.
    pub set: Vec<u8>,
}

/// The MSG of a pended service: pended for CSRA review, then as many failed criteria
/// as fit in MSG01.
pub fn pended_message(failures: &[Failure]) -> String {
    // room kept for "; and NN more" while more failures follow
    const RESERVE: usize = "; and 99 more".len();
    let mut msg = String::from("Pended for CSRA review. Not met - ");
    for (i, f) in failures.iter().enumerate() {
        let item = f.to_string();
        let sep = if i == 0 { "" } else { "; " };
        let reserve = if i + 1 < failures.len() { RESERVE } else { 0 };
        if msg.len() + sep.len() + item.len() + reserve > MSG_MAX {
            msg.push_str(&format!("{sep}and {} more", failures.len() - i));
            break;
        }
        msg.push_str(sep);
        msg.push_str(&item);
    }
    msg
}

/// Turns outcomes into the builder's decisions, taking one number per met service.
/// Returns the decisions and the numbers issued.
pub fn decisions(
    outcomes: &[EventOutcome],
    sequence: &mut dyn Sequence,
    format: &NumberFormat,
    issued: Ymd,
) -> Result<(Vec<EventDecision>, Vec<String>), SequenceError> {
    let mut numbers = Vec::new();
    let mut out = Vec::with_capacity(outcomes.len());
    for event in outcomes {
        let mut services = Vec::with_capacity(event.services.len());
        for s in &event.services {
            let d = if s.is_met() {
                let number = format.format(issued, sequence.next()?);
                numbers.push(number.clone());
                Decision {
                    action: Action::Certified,
                    certification: Some(number),
                    reason: None,
                    period: s.period.map(|(a, b)| (a.ccyymmdd(), b.ccyymmdd())),
                    message: None,
                }
            } else {
                Decision {
                    message: Some(pended_message(&s.failures)),
                    ..Decision::new(Action::Pended)
                }
            };
            services.push(d);
        }
        let event_decision = if event.is_met() {
            let from = event
                .services
                .iter()
                .filter_map(|s| s.period)
                .map(|p| p.0)
                .min();
            let to = event
                .services
                .iter()
                .filter_map(|s| s.period)
                .map(|p| p.1)
                .max();
            Decision {
                period: from.zip(to).map(|(a, b)| (a.ccyymmdd(), b.ccyymmdd())),
                ..Decision::new(Action::Certified)
            }
        } else if !event.failures.is_empty() {
            Decision {
                message: Some(pended_message(&event.failures)),
                ..Decision::new(Action::Pended)
            }
        } else {
            let pended = event.services.iter().filter(|s| !s.is_met()).count();
            Decision {
                message: Some(format!(
                    "Pended for CSRA review. {pended} of {} services did not meet the auto-approval criteria",
                    event.services.len()
                )),
                ..Decision::new(Action::Pended)
            }
        };
        out.push(EventDecision {
            event: event_decision,
            services,
        });
    }
    Ok((out, numbers))
}

/// Decides a 278 pharmacy request and writes its response. `request` must have been
/// walked into `tree` with `guide`, the 278 request table (call it for a request that
/// passed validation and routed to `csra/pharmacy`). Numbers are issued on `who.date`.
pub fn respond(
    request: &TransactionSet,
    tree: &LoopTree,
    guide: &Guide,
    criteria: &Criteria,
    sequence: &mut dyn Sequence,
    format: &NumberFormat,
    who: &Responder,
) -> Result<PharmacyResponse, PharmacyError> {
    if guide.id != "278REQ" {
        return Err(PharmacyError::NotARequest(guide.id.clone()));
    }
    let issued = Ymd::from_ccyymmdd(&who.date)
        .ok_or_else(|| PharmacyError::BadIssueDate(who.date.clone()))?;
    let outcomes = decide(criteria, LoopRef::root(request, tree, guide));
    let (decisions, authorizations) = decisions(&outcomes, sequence, format, issued)?;
    let set = x12_278::respond(request, tree, guide, &x12_278::response(), &decisions, who)?;
    Ok(PharmacyResponse {
        outcomes,
        decisions,
        authorizations,
        set,
    })
}
