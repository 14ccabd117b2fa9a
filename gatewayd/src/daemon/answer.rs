//! Requests the gateway answers itself, without a vendor (ROUTING.md §4).
//!
//! | routed to | what happens |
//! |---|---|
//! | a `reject` route (LME/MCO, PHP), 278 | a 278 response HCR01=`CT` with an MSG naming where to go ([`crate::route::respond`]); PA status `rejected`; never queued |
//! | a `no_pa_required` route, 278 | a 278 response HCR01=`NA`; PA status `no_pa_required`; never queued |
//! | `csra/pharmacy`, 278, criteria met | [`crate::pharmacy`] decides with the criteria file: HCR01=`A1` with an authorization number per service from the store's sequence ([`StoreSequence`]); PA status `approved`; never queued |
//! | `csra/pharmacy`, criteria not met | HCR01=`A4` (pended) naming the failed criteria goes out at once, AND the item goes to the CSRA queue for review, its JSON carrying the outcome (`pharmacy`); PA status `pended`, which CSRA decides like any pended request |
//! | a `reject` route, 837 claim | not forwarded to any vendor: a row in `claim_rejects` (state `recorded`, the claim's JSON and routing trace) for the 277CA that answers it; no outbox file yet |
//! | any route, 837 claim the 277CA rejects (see [`super::claimack`]) | the same: a `claim_rejects` row (its JSON names the STC statuses under `rejected_by_277ca`), never queued |
//!
//! Everything here happens inside the interchange's own SQLite transaction (the one open
//! from its ISA to its IEA): the PA status, its history, the authorization numbers and
//! the sequence value behind them, and the response, recorded as an outbox file of the
//! interchange after its TA1/999. The pipeline writes the responses to the outbox
//! (`*.part`, fsync, rename) like the 999s, and only then marks the interchange done:
//! durable before visible. A crash before the commit leaves nothing (the sequence value
//! taken is not committed either, and was never shown to anyone); a crash after it
//! writes the recorded responses again under the same names. A rejected group takes
//! its answers with it.
//!
//! An answer that cannot be built (a stored item the response builder refuses) is not
//! lost: the item is queued to its vendor as before, with the reason in its JSON
//! (`answer_error`).

use super::items::NewItem;
use super::pa::{answer_item, response_name};
use crate::pharmacy::{self, Criteria, NumberFormat, Sequence, SequenceError};
use crate::route::{respond::immediate_answer, Action, RequestRouting, WorkItem};
use rusqlite::Connection;
use serde_json::{json, Value};
use x12_278::EventDecision;
use x12_core::Validator;

/// The pharmacy work items' vendor and PA type (the `pharmacy` rule of the table).
pub const PHARMACY: (&str, &str) = ("csra", "pharmacy");

/// The authorization sequence in the store (`counters`, name `pa_authorization`). Each
/// value is taken by an UPDATE in the caller's transaction, so it is persisted with
/// the response that shows it, and a restart continues after the last committed value.
pub struct StoreSequence<'a> {
    /// The connection, inside the interchange's transaction.
    pub conn: &'a Connection,
}

impl Sequence for StoreSequence<'_> {
    fn next(&mut self) -> Result<u64, SequenceError> {
        let v: i64 = self
            .conn
            .query_row(
                "INSERT INTO counters (name, value) VALUES ('pa_authorization', 1)
                 ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value",
                [],
                |r| r.get(0),
            )
            .map_err(|e| SequenceError {
                message: e.to_string(),
            })?;
        u64::try_from(v).map_err(|_| SequenceError {
            message: format!("stored value {v} is negative"),
        })
    }
}

/// What to do with one queue item the router produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Into its vendor's queue (a vendor decides).
    Queue,
    /// A 278 `reject` or `no_pa_required` route: answered at once.
    Immediate,
    /// A 278 `csra/pharmacy` route: decided by the criteria.
    Pharmacy,
    /// An 837 claim on a `reject` route, or one its 277CA rejects: recorded for the
    /// 277CA, never forwarded.
    ClaimReject,
}

/// Where an item goes.
pub fn disposition(it: &NewItem) -> Disposition {
    let is_278 = it.transaction == "278";
    match it.action.as_str() {
        "reject" if is_278 => Disposition::Immediate,
        "no_pa_required" if is_278 => Disposition::Immediate,
        "reject" => Disposition::ClaimReject,
        _ if !is_278 && super::claimack::is_rejected(it) => Disposition::ClaimReject,
        "route" if is_278 && (it.vendor.as_str(), it.pa_type.as_str()) == PHARMACY => {
            Disposition::Pharmacy
        }
        _ => Disposition::Queue,
    }
}

/// A built answer, before it is recorded.
#[derive(Debug, Clone)]
pub struct Answer {
    /// PA status: `rejected`, `no_pa_required`, `approved`, `pended`.
    pub status: &'static str,
    /// The response's outbox file name.
    pub name: String,
    /// The response interchange.
    pub body: Vec<u8>,
    /// HCR01 of the event.
    pub code: String,
    /// Authorization numbers issued (pharmacy), in service order.
    pub numbers: Vec<String>,
    /// Certification period of the event (pharmacy approvals).
    pub period: Option<(String, String)>,
    /// MSG of the event, if any.
    pub message: Option<String>,
    /// Whether the item also goes to its vendor's queue (a pended pharmacy request).
    pub queue: bool,
    /// What the queued item's JSON gets under `pharmacy` (the criteria outcome).
    pub outcome: Option<Value>,
}

/// The answer to a `reject` or `no_pa_required` work item: the services it holds all
/// get the work item's own decision ([`immediate_answer`] over its lines).
pub fn immediate(
    conn: &Connection,
    validator: &Validator,
    r: &RequestRouting,
    w: &WorkItem,
    it: &NewItem,
) -> Result<Answer, String> {
    let decision = work_item_decision(r, w).ok_or("no decision of the work item's action")?;
    let control = super::store::next_ack_control(conn).map_err(|e| e.to_string())?;
    let decisions = [decision];
    let resp = answer_item(&it.x12, validator, control, |set, tree, guide, who| {
        x12_278::respond(set, tree, guide, &x12_278::response(), &decisions, who)
            .map(|b| (b, ()))
            .map_err(|e| e.to_string())
    })?;
    let [d] = decisions;
    let status = match w.action {
        Action::NoPaRequired => "no_pa_required",
        _ => "rejected",
    };
    Ok(Answer {
        status,
        name: response_name(&resp.isa13, &resp.bht03, control),
        body: resp.body,
        code: d.event.action.code().to_string(),
        numbers: Vec::new(),
        period: None,
        message: d.event.message,
        queue: false,
        outcome: None,
    })
}

/// The decision of a `reject`/`no_pa_required` work item: its lines, each given the
/// decision of the first line (or the request decision) with the item's action, so a
/// default line that joined the group is answered like the group.
fn work_item_decision(r: &RequestRouting, w: &WorkItem) -> Option<EventDecision> {
    let lines: Vec<_> = r
        .routed
        .lines
        .iter()
        .filter(|l| w.services.is_empty() || w.services.contains(&l.line))
        .collect();
    let lead = r
        .routed
        .request
        .as_ref()
        .filter(|d| d.action == w.action)
        .or_else(|| {
            lines
                .iter()
                .map(|l| &l.decision)
                .find(|d| d.action == w.action)
        })?
        .clone();
    let mut only = RequestRouting {
        work_items: Vec::new(),
        provider_findings: Vec::new(),
        claim_route: None,
        ..r.clone()
    };
    only.routed.lines = lines
        .into_iter()
        .map(|l| {
            let mut l = l.clone();
            l.decision = lead.clone();
            l
        })
        .collect();
    immediate_answer(&only)
}

/// The answer to a `csra/pharmacy` work item, decided by `criteria` with numbers from
/// the store's sequence.
pub fn pharmacy(
    conn: &Connection,
    validator: &Validator,
    criteria: &Criteria,
    it: &NewItem,
) -> Result<Answer, String> {
    let control = super::store::next_ack_control(conn).map_err(|e| e.to_string())?;
    let mut seq = StoreSequence { conn };
    let resp = answer_item(&it.x12, validator, control, |set, tree, guide, who| {
        let r = pharmacy::respond(
            set,
            tree,
            guide,
            criteria,
            &mut seq,
            &NumberFormat::default(),
            who,
        )
        .map_err(|e| e.to_string())?;
        let mut r = r;
        let set = std::mem::take(&mut r.set);
        Ok((set, r))
    })?;
    let r = resp.extra;
    let met = !r.outcomes.is_empty() && r.outcomes.iter().all(|e| e.is_met());
    let event = r.decisions.first().map(|d| d.event.clone());
    let labels = w_services(it);
    let services: Vec<Value> = r
        .outcomes
        .iter()
        .flat_map(|e| &e.services)
        .enumerate()
        .map(|(i, s)| {
            let hl = labels.get(i);
            json!({
                "service": hl,
                "ndc": s.ndc,
                "class": s.class,
                "met": s.is_met(),
                "failures": s.failures.iter().map(|f| json!({
                    "criterion": f.criterion(),
                    "message": f.to_string(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let event_failures: Vec<Value> = r
        .outcomes
        .iter()
        .flat_map(|e| &e.failures)
        .map(|f| json!({"criterion": f.criterion(), "message": f.to_string()}))
        .collect();
    let name = response_name(&resp.isa13, &resp.bht03, control);
    let outcome = json!({
        "decision": if met { "approved" } else { "pended" },
        "response": name,
        "authorizations": r.authorizations,
        "services": services,
        "event_failures": event_failures,
    });
    Ok(Answer {
        status: if met { "approved" } else { "pended" },
        name,
        body: resp.body,
        code: event
            .as_ref()
            .map(|e| e.action.code().to_string())
            .unwrap_or_default(),
        numbers: r.authorizations,
        period: event.as_ref().and_then(|e| e.period.clone()),
        message: event.and_then(|e| e.message),
        queue: !met,
        outcome: Some(outcome),
    })
}

/// The 2000F HL01s of a work item, from its JSON (`work_item.services`), in order.
fn w_services(it: &NewItem) -> Vec<String> {
    it.item["work_item"]["services"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
