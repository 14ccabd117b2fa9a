//! Prior approvals: vendor decisions, the 278 responses they produce, the PA index that
//! sends follow-ups to the vendor that issued a PA, and PA inquiry.
//!
//! A vendor decides a 278 work item it was given (`POST /v1/decisions`): approve (with
//! a certification number and optional dates), deny (with a reason code), pend, or
//! modify (with a certification number). In one SQLite transaction the PA status and
//! its history are updated, the item is settled, and the 278 response (built by
//! `x12-278` from the item's own request, addressed back to the submitter) is recorded
//! as an outbox file; the pipeline thread writes it to the partner's outbox like any
//! acknowledgment. Approve, deny and modify are final; a pended request can be decided
//! again.

use super::outbox::name_part;
use super::store::{self, now_ms, StoreError};
use crate::clock::Stamp;
use crate::route::{PaIndex, PaRecord};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use x12_278::{respond, Action, Decision, EventDecision, Responder};
use x12_core::schema::LoopTree;
use x12_core::{write_isa, AckEnvelope, Delimiters, Item, Reader, Writer};

/// TRN03 of the gateway's own traces in 278 responses: `1` and a 9-digit identifier.
pub const RESPONDER_ID: &str = "1560000000";

/// Why a decision was refused.
#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    /// No such item in this vendor's queue.
    #[error("no item {0} in this queue")]
    UnknownItem(i64),
    /// The item is not a 278 work item (837 claims are not decided here).
    #[error("item {0} is not a 278 request")]
    NotA278(i64),
    /// The request was already decided for good.
    #[error("item {0} was already decided ({1})")]
    AlreadyDecided(i64, String),
    /// A field the decision needs is missing or malformed.
    #[error("{0}")]
    Invalid(String),
    /// The stored request could not be answered.
    #[error("the 278 response could not be built: {0}")]
    Response(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for DecisionError {
    fn from(e: rusqlite::Error) -> Self {
        DecisionError::Store(StoreError::Sqlite(e))
    }
}

/// A decision as a vendor posts it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// The queue item decided.
    pub item_id: i64,
    /// `approve`, `deny`, `pend` or `modify`.
    pub decision: String,
    /// HCR02, required to approve or modify.
    pub certification_number: Option<String>,
    /// Certification effective date, CCYYMMDD.
    pub effective: Option<String>,
    /// Certification expiration date, CCYYMMDD.
    pub expires: Option<String>,
    /// HCR03 review decision reason code, required to deny.
    pub reason: Option<String>,
    /// Free text for the submitter (MSG).
    pub message: Option<String>,
    /// With `store = "nats"`: the instance that took the item (the leased item's
    /// `instance`); a decision sent to another instance is forwarded to the instance
    /// that holds the request, or adopted when that one is gone.
    pub instance: Option<String>,
}

/// What a decision did.
#[derive(Debug, Clone, Serialize)]
pub struct Decided {
    /// The item.
    pub item_id: i64,
    /// The PA status now (`approved`, `denied`, `pended`, `modified`).
    pub status: String,
    /// The 278 response's file name in the submitter's outbox.
    pub response: String,
}

fn field(v: &Option<String>, what: &str, max: usize) -> Result<Option<String>, DecisionError> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) if t.len() > max || !t.bytes().all(|b| b.is_ascii_graphic() || b == b' ') => Err(
            DecisionError::Invalid(format!("`{what}` must be 1-{max} printable characters")),
        ),
        Some(t) => Ok(Some(t.to_string())),
    }
}

fn date(v: &Option<String>, what: &str) -> Result<Option<String>, DecisionError> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) if t.len() == 8 && x12_core::datetime::is_valid_date(t.as_bytes()) => {
            Ok(Some(t.to_string()))
        }
        Some(_) => Err(DecisionError::Invalid(format!(
            "`{what}` must be a date CCYYMMDD"
        ))),
    }
}

/// Checks a decision and turns it into the HCR content and the new status.
pub fn check(req: &DecisionRequest) -> Result<(Decision, &'static str), DecisionError> {
    let certification = field(&req.certification_number, "certification_number", 50)?;
    let reason = field(&req.reason, "reason", 2)?;
    let message = field(&req.message, "message", 264)?;
    let effective = date(&req.effective, "effective")?;
    let expires = date(&req.expires, "expires")?;
    let (action, status) = match req.decision.as_str() {
        "approve" => (Action::Certified, "approved"),
        "deny" => (Action::NotCertified, "denied"),
        "pend" => (Action::Pended, "pended"),
        "modify" => (Action::Modified, "modified"),
        other => {
            return Err(DecisionError::Invalid(format!(
                "`decision` `{other}` is not approve, deny, pend or modify"
            )))
        }
    };
    if matches!(action, Action::Certified | Action::Modified) && certification.is_none() {
        return Err(DecisionError::Invalid(format!(
            "`certification_number` is required to {}",
            req.decision
        )));
    }
    if action == Action::NotCertified && reason.is_none() {
        return Err(DecisionError::Invalid(
            "`reason` (HCR03 code) is required to deny".into(),
        ));
    }
    let period = match (effective, expires) {
        (Some(a), Some(b)) if a <= b => Some((a, b)),
        (None, None) => None,
        _ => {
            return Err(DecisionError::Invalid(
                "`effective` and `expires` go together, effective first".into(),
            ))
        }
    };
    let mut d = Decision::new(action);
    d.certification = if matches!(action, Action::Certified | Action::Modified) {
        certification
    } else {
        None
    };
    d.reason = reason;
    d.period = period;
    d.message = message;
    Ok((d, status))
}

/// Records a vendor's decision on one of its items (see the module documentation).
pub fn decide(
    conn: &mut Connection,
    vendor: &str,
    req: &DecisionRequest,
) -> Result<Decided, DecisionError> {
    let (decision, status) = check(req)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let row: Option<(String, Vec<u8>, String, i64, i64, String)> = tx
        .query_row(
            "SELECT q.txn, COALESCE(b.x12, q.x12), q.state, i.file_id, p.id, p.status
             FROM queue q JOIN interchanges i ON i.id = q.interchange_id
             LEFT JOIN queue_body b ON b.queue_id = q.id
             LEFT JOIN pa_status p ON p.queue_id = q.id
             WHERE q.id = ?1 AND q.vendor = ?2 AND q.state != 'held'",
            params![req.item_id, vendor],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get::<_, Option<i64>>(4)?.unwrap_or(0),
                    r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                ))
            },
        )
        .optional()?;
    let Some((txn, x12, _state, file_id, pa_id, current)) = row else {
        return Err(DecisionError::UnknownItem(req.item_id));
    };
    if txn != "278" || pa_id == 0 {
        return Err(DecisionError::NotA278(req.item_id));
    }
    if !matches!(current.as_str(), "pending" | "pended") {
        return Err(DecisionError::AlreadyDecided(req.item_id, current));
    }
    let ctl = store::next_ack_control(&tx)?;
    let (body, isa13, bht03) =
        response_interchange(&x12, &decision, ctl).map_err(DecisionError::Response)?;
    let partner: String = tx.query_row(
        "SELECT partner FROM pa_status WHERE id = ?1",
        params![pa_id],
        |r| r.get(0),
    )?;
    let name = response_name(&isa13, &bht03, ctl);
    let now = now_ms();
    tx.execute(
        "INSERT INTO acks (file_id, interchange_id, kind, partner, name, body)
         VALUES (?1, NULL, '278', ?2, ?3, ?4)",
        params![file_id, partner, name, body],
    )?;
    record_decision(
        &tx,
        pa_id,
        status,
        &decision,
        now,
        &decision_detail(&decision),
    )?;
    tx.execute(
        "UPDATE queue SET state = 'acked', updated_at = ?2
         WHERE id = ?1 AND state IN ('ready', 'leased')",
        params![req.item_id, now],
    )?;
    tx.commit()?;
    Ok(Decided {
        item_id: req.item_id,
        status: status.to_string(),
        response: name,
    })
}

/// Writes a decision into a PA request's status row and its history, inside the
/// caller's transaction (the request decided here, or one adopted from a gone instance).
pub(crate) fn record_decision(
    tx: &rusqlite::Transaction<'_>,
    pa_id: i64,
    status: &str,
    decision: &Decision,
    now: i64,
    detail: &str,
) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE pa_status SET status = ?2, certification = COALESCE(?3, certification),
            effective = ?4, expires = ?5, reason = ?6, message = ?7, updated_at = ?8
         WHERE id = ?1",
        params![
            pa_id,
            status,
            decision.certification,
            decision.period.as_ref().map(|p| p.0.clone()),
            decision.period.as_ref().map(|p| p.1.clone()),
            decision.reason,
            decision.message,
            now
        ],
    )?;
    tx.execute(
        "INSERT INTO pa_history (pa_id, at, event, detail) VALUES (?1, ?2, ?3, ?4)",
        params![pa_id, now, status, detail],
    )?;
    Ok(())
}

/// The history detail of a decision: its action code with the certification number or
/// the reason.
pub fn decision_detail(decision: &Decision) -> String {
    match (&decision.certification, &decision.reason) {
        (Some(c), _) => format!("{} certification {c}", decision.action.code()),
        (None, Some(r)) => format!("{} reason {r}", decision.action.code()),
        _ => decision.action.code().to_string(),
    }
}

/// The 278 response of `decision` to a stored work item, with interchange control
/// number `control`: its outbox name and bytes.
pub fn build_response(
    item_x12: &[u8],
    decision: &Decision,
    control: u32,
) -> Result<(String, Vec<u8>), DecisionError> {
    let (body, isa13, bht03) =
        response_interchange(item_x12, decision, control).map_err(DecisionError::Response)?;
    Ok((response_name(&isa13, &bht03, control), body))
}

/// The 278 response to a work item's request, as a whole interchange addressed back
/// to the submitter; with the request's ISA13 and BHT03.
fn response_interchange(
    item_x12: &[u8],
    decision: &Decision,
    control: u32,
) -> Result<(Vec<u8>, String, String), String> {
    let validator = crate::guides::validator();
    let decisions = [EventDecision {
        event: decision.clone(),
        services: Vec::new(),
    }];
    let r = answer_item(item_x12, &validator, control, |set, tree, guide, who| {
        respond(set, tree, guide, &x12_278::response(), &decisions, who)
            .map(|body| (body, ()))
            .map_err(|e| e.to_string())
    })?;
    Ok((r.body, r.isa13, r.bht03))
}

/// A 278 response built for a stored work item: the whole interchange, the request's
/// ISA13 and BHT03, and what the builder returned besides the set.
#[derive(Debug)]
pub struct ItemResponse<T> {
    /// The response interchange (ISA to IEA), addressed back to the submitter.
    pub body: Vec<u8>,
    /// The request's ISA13.
    pub isa13: String,
    /// The request's BHT03.
    pub bht03: String,
    /// What `build` returned with the set.
    pub extra: T,
}

/// Reads a stored work item (an interchange of one 278 request), walks it with its
/// guide and wraps the response set `build` writes (ST to SE) in an interchange and a
/// group addressed back to the submitter, with interchange control number `control`.
/// `build` gets the request set, its tree and guide, and the gateway as [`Responder`].
pub fn answer_item<T>(
    item_x12: &[u8],
    validator: &x12_core::Validator,
    control: u32,
    build: impl FnOnce(
        &x12_core::TransactionSet,
        &LoopTree,
        &x12_core::schema::Guide,
        &Responder,
    ) -> Result<(Vec<u8>, T), String>,
) -> Result<ItemResponse<T>, String> {
    let mut tree = LoopTree::default();
    let mut set = None;
    let mut report = None;
    for item in Reader::new(item_x12) {
        match item.map_err(|e| e.to_string())? {
            Item::Transaction(s) if set.is_none() => set = Some(s),
            Item::InterchangeEnd(r) if r.header.is_some() => report = Some(r),
            _ => {}
        }
    }
    let (Some(set), Some(report)) = (set, report) else {
        return Err("the stored item holds no transaction".into());
    };
    let (guide, _) = validator.check_set(&set, &mut tree);
    let guide = guide.ok_or("the stored item matches no guide")?;
    let now = Stamp::now();
    let who = Responder {
        control_number: "0001".into(),
        date: now.ccyymmdd(),
        time: now.hhmm(),
        originator: RESPONDER_ID.into(),
        trace_prefix: format!("NCX{control:09}"),
        rejections: Vec::new(),
    };
    let (body, extra) = build(&set, &tree, guide, &who)?;
    let env = AckEnvelope {
        control_number: control,
        date: now.yymmdd(),
        time: now.hhmm(),
    };
    let d = Delimiters::default();
    let mut w = Writer::new(Vec::with_capacity(body.len() + 256), d);
    write_isa(&mut w, &report, &env).map_err(|e| e.to_string())?;
    let group = set.group();
    let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let (gs02, gs03) = group
        .map(|g| (lossy(g.receiver()), lossy(g.sender())))
        .unwrap_or_else(|| ("RECEIVER".into(), "SENDER".into()));
    let gs06 = control.to_string();
    w.write_fields(
        b"GS",
        &[
            b"HI",
            gs02.as_bytes(),
            gs03.as_bytes(),
            now.ccyymmdd().as_bytes(),
            now.hhmm().as_bytes(),
            gs06.as_bytes(),
            b"X",
            x12_278::GUIDE_VERSION.as_bytes(),
        ],
    )
    .map_err(|e| e.to_string())?;
    let mut out = w.into_inner();
    out.extend_from_slice(&body);
    let mut w = Writer::new(out, d);
    w.write_fields(b"GE", &[b"1", gs06.as_bytes()])
        .map_err(|e| e.to_string())?;
    let icn = format!("{control:09}");
    w.write_fields(b"IEA", &[b"1", icn.as_bytes()])
        .map_err(|e| e.to_string())?;
    let isa13 = report
        .header
        .as_ref()
        .map(|h| lossy(h.control_number()))
        .unwrap_or_default();
    let bht03 = set
        .segments()
        .find(|s| s.segment.id() == b"BHT")
        .map(|s| lossy(s.segment.get(3)))
        .unwrap_or_default();
    Ok(ItemResponse {
        body: w.into_inner(),
        isa13,
        bht03,
        extra,
    })
}

/// The outbox name of a 278 response: the request's ISA13 and BHT03 and the response's
/// own interchange control number.
pub fn response_name(isa13: &str, bht03: &str, control: u32) -> String {
    format!(
        "278-{}-{}-{control:09}.x12",
        name_part(isa13),
        name_part(bht03)
    )
}

/// The PA index over the store: a follow-up quoting a certification number goes to
/// the vendor that issued it.
pub struct StorePaIndex<'a> {
    /// The store.
    pub conn: &'a Connection,
}

impl PaIndex for StorePaIndex<'_> {
    fn lookup(&self, pa_number: &str) -> Option<PaRecord> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT vendor, pa_type FROM pa_status WHERE (certification = ?1
                   AND status IN ('approved', 'modified'))
                   OR id = (SELECT pa_id FROM pa_numbers WHERE number = ?1)
                 ORDER BY id DESC LIMIT 1",
            )
            .ok()?;
        st.query_row(params![pa_number.trim()], |r| {
            Ok(PaRecord {
                vendor: r.get(0)?,
                pa_type: r.get(1)?,
            })
        })
        .optional()
        .ok()
        .flatten()
    }
}

/// The PA index of an instance on the NATS store: its own store first, then the PA
/// status KV, which holds the requests of every instance (gone ones too).
pub struct ClusterPaIndex<'a> {
    /// This instance's store.
    pub local: StorePaIndex<'a>,
    /// The NATS store (none with `store = "sqlite"`).
    pub nats: Option<&'a super::nats::Nats>,
}

impl PaIndex for ClusterPaIndex<'_> {
    fn lookup(&self, pa_number: &str) -> Option<PaRecord> {
        self.local.lookup(pa_number).or_else(|| {
            let n = self.nats?;
            let (vendor, pa_type) = n.block_on(n.pa_index_lookup(pa_number))?;
            Some(PaRecord { vendor, pa_type })
        })
    }
}

/// One step of a PA request's history.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryStep {
    /// When (ms since 1970).
    pub at_ms: i64,
    /// `queued`, `approved`, `denied`, `pended`, `modified`.
    pub event: String,
    /// Vendor, or action code with certification number or reason.
    pub detail: Option<String>,
}

/// What PA inquiry answers for one request.
#[derive(Debug, Clone, Serialize)]
pub struct PaInquiry {
    /// The submitter's BHT03.
    pub bht03: String,
    /// The submitter's 2000E trace number (TRN02).
    pub tracking: Option<String>,
    /// The vendor or agency that decides it.
    pub vendor: String,
    /// PA type.
    pub pa_type: String,
    /// `pending`, `approved`, `denied`, `pended`, `modified`.
    pub status: String,
    /// The certification (authorization) number.
    pub certification: Option<String>,
    /// Certification effective date.
    pub effective: Option<String>,
    /// Certification expiration date.
    pub expires: Option<String>,
    /// Denial reason code.
    pub reason: Option<String>,
    /// Message to the submitter.
    pub message: Option<String>,
    /// What happened, in order.
    pub history: Vec<HistoryStep>,
    /// PWK attachments uploaded for the request (id, control number, content type).
    pub attachments: Vec<super::attachments::AttachmentInfo>,
}

/// One PA request as PA inquiry shows it, with what a copy of it elsewhere needs.
#[derive(Debug, Clone)]
pub struct PaSnapshot {
    /// The partner that sent it.
    pub partner: String,
    /// When its status last changed (ms since 1970).
    pub updated_at: i64,
    /// Every number an inquiry finds it by (BHT03, tracking number, certification
    /// number, the authorization numbers the gateway issued), sorted.
    pub numbers: Vec<String>,
    /// What PA inquiry shows.
    pub inquiry: PaInquiry,
}

/// A PA request by its `pa_status` id (see [`PaSnapshot`]).
pub fn inquiry_by_id(conn: &Connection, pa_id: i64) -> Result<Option<PaSnapshot>, StoreError> {
    let row = conn
        .query_row(
            "SELECT partner, updated_at, bht03, trn, vendor, pa_type, status, certification,
                effective, expires, reason, message
             FROM pa_status WHERE id = ?1",
            params![pa_id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    inquiry_row(r, 2)?,
                ))
            },
        )
        .optional()?;
    let Some((partner, updated_at, mut p)) = row else {
        return Ok(None);
    };
    with_history(conn, pa_id, &mut p)?;
    let mut numbers: Vec<String> = [
        Some(p.bht03.clone()),
        p.tracking.clone(),
        p.certification.clone(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut st = conn.prepare_cached("SELECT number FROM pa_numbers WHERE pa_id = ?1")?;
    for n in st.query_map(params![pa_id], |r| r.get::<_, String>(0))? {
        numbers.push(n?);
    }
    numbers.retain(|n| !n.trim().is_empty());
    numbers.sort();
    numbers.dedup();
    Ok(Some(PaSnapshot {
        partner,
        updated_at,
        numbers,
        inquiry: p,
    }))
}

/// The PA requests of `partner` whose tracking number (TRN02), BHT03 or certification
/// number is `number`, whichever vendor decided them.
pub fn inquire(
    conn: &Connection,
    partner: &str,
    number: &str,
) -> Result<Vec<PaInquiry>, StoreError> {
    let mut st = conn.prepare(
        "SELECT id, bht03, trn, vendor, pa_type, status, certification, effective, expires,
            reason, message
         FROM pa_status WHERE partner = ?1 AND (trn = ?2 OR bht03 = ?2 OR certification = ?2
            OR id IN (SELECT pa_id FROM pa_numbers WHERE number = ?2))
         ORDER BY id",
    )?;
    let rows = st.query_map(params![partner, number], |r| {
        Ok((r.get::<_, i64>(0)?, inquiry_row(r, 1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, mut p) = row?;
        with_history(conn, id, &mut p)?;
        out.push(p);
    }
    Ok(out)
}

/// A [`PaInquiry`] from the ten `pa_status` columns starting at `at` (bht03, trn,
/// vendor, pa_type, status, certification, effective, expires, reason, message), its
/// history and attachments still empty.
fn inquiry_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<PaInquiry> {
    Ok(PaInquiry {
        bht03: r.get(at)?,
        tracking: r.get(at + 1)?,
        vendor: r.get(at + 2)?,
        pa_type: r.get(at + 3)?,
        status: r.get(at + 4)?,
        certification: r.get(at + 5)?,
        effective: r.get(at + 6)?,
        expires: r.get(at + 7)?,
        reason: r.get(at + 8)?,
        message: r.get(at + 9)?,
        history: Vec::new(),
        attachments: Vec::new(),
    })
}

/// Fills in the history and the attachments of request `pa_id`.
fn with_history(conn: &Connection, pa_id: i64, p: &mut PaInquiry) -> Result<(), StoreError> {
    let mut h = conn
        .prepare_cached("SELECT at, event, detail FROM pa_history WHERE pa_id = ?1 ORDER BY id")?;
    let steps = h.query_map(params![pa_id], |r| {
        Ok(HistoryStep {
            at_ms: r.get(0)?,
            event: r.get(1)?,
            detail: r.get(2)?,
        })
    })?;
    for s in steps {
        p.history.push(s?);
    }
    p.attachments = super::attachments::of_pa(conn, pa_id)?;
    Ok(())
}
