//! Decisions with `store = "nats"`: each applied once across the instances, and
//! decided by any live instance when the one that took the item is gone.
//!
//! Every published 278 item has a decision record in KV `<prefix>_decisions` (see
//! [`super::nats::DecisionRecord`]: the request's X12, its PA status keys, its state),
//! created when its PA status is first mirrored. Whoever decides first marks the
//! record `deciding` with compare-and-set, so two instances never apply one decision
//! (the other gets 409); a record left `deciding` by a gone instance is taken over.
//!
//! The instance that took the item decides it in its own store ([`super::http`]'s
//! local decision). Another instance **adopts** the decision when the owner does not
//! answer (its heartbeat is gone, or the forwarded request finds no responder or times
//! out): it builds the 278 response from the recorded X12 with a control number of its
//! own block, records the response in the decision record, writes it to the partner's
//! outbox, copies the request's PA status and history from KV into its own store with
//! the new step, puts it in KV under its own keys (the owner's are deleted), marks the
//! record decided (or open again after a pend) and removes the item from its queue. An
//! instance that takes over a decision left `deciding` writes the recorded response
//! under its recorded name, so the submitter gets it once.

use super::http::AppState;
use super::nats::{DecisionBusy, DecisionRecord, Nats, RecordedResponse};
use super::pa::{self, DecisionError, DecisionRequest};
use super::store::{self, StoreError};
use axum::http::StatusCode;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};
use std::sync::Arc;

/// Why an adopted decision failed (the HTTP answer says which).
#[derive(Debug, thiserror::Error)]
pub enum AdoptError {
    /// The decision was refused (as the owner would have refused it).
    #[error(transparent)]
    Decision(#[from] DecisionError),
    /// The cluster holds no record of the item, and its instance does not answer.
    #[error("the instance that took this item does not answer")]
    Unreachable,
    /// Another live instance is deciding the item now.
    #[error("item {0} is being decided through another instance")]
    Busy(i64),
    /// The NATS store failed.
    #[error(transparent)]
    Nats(#[from] super::nats::NatsError),
    /// The local store or the outbox failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Mirroring the PA status failed.
    #[error(transparent)]
    Pipeline(#[from] super::pipeline::PipelineError),
}

impl From<rusqlite::Error> for AdoptError {
    fn from(e: rusqlite::Error) -> Self {
        AdoptError::Store(StoreError::Sqlite(e))
    }
}

impl AdoptError {
    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        match self {
            AdoptError::Decision(e) => decision_status(e),
            AdoptError::Unreachable => StatusCode::SERVICE_UNAVAILABLE,
            AdoptError::Busy(_) => StatusCode::CONFLICT,
            AdoptError::Nats(_) | AdoptError::Store(_) | AdoptError::Pipeline(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }
}

/// The HTTP status of a refused decision.
pub fn decision_status(e: &DecisionError) -> StatusCode {
    match e {
        DecisionError::UnknownItem(_) => StatusCode::NOT_FOUND,
        DecisionError::AlreadyDecided(..) => StatusCode::CONFLICT,
        DecisionError::NotA278(_) | DecisionError::Invalid(_) => StatusCode::BAD_REQUEST,
        DecisionError::Response(_) => StatusCode::UNPROCESSABLE_ENTITY,
        DecisionError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Decides item `req.item_id` that instance `owner` took, on this instance: in its
/// own store when `owner` is this instance and no other adopted the item, else by
/// adoption (see the module documentation). The status and the JSON answer.
pub async fn decide(
    st: &Arc<AppState>,
    owner: &str,
    vendor: String,
    req: DecisionRequest,
) -> (StatusCode, Value) {
    let Some(n) = st.nats.clone() else {
        return super::http::decide_local(st, vendor, req).await;
    };
    // a malformed decision is refused before the record is touched
    if let Err(e) = pa::check(&req) {
        return refused(&e.into());
    }
    let key = Nats::decision_key(owner, req.item_id);
    let begun = match n.begin_decision(&key, &vendor).await {
        Ok(Ok(b)) => b,
        Ok(Err(busy)) => {
            let e = match busy {
                DecisionBusy::Decided(s) => {
                    AdoptError::Decision(DecisionError::AlreadyDecided(req.item_id, s))
                }
                DecisionBusy::Deciding => AdoptError::Busy(req.item_id),
                DecisionBusy::OtherVendor => {
                    AdoptError::Decision(DecisionError::UnknownItem(req.item_id))
                }
            };
            return refused(&e);
        }
        Err(e) => return refused(&AdoptError::Nats(e)),
    };
    let ours = owner == n.instance();
    let Some((record, revision)) = begun else {
        // no record: only the instance that took it can decide it
        return if ours {
            super::http::decide_local(st, vendor, req).await
        } else {
            refused(&AdoptError::Unreachable)
        };
    };
    if ours && !record.adopted() {
        return local_guarded(st, &n, &key, record, revision, vendor, req).await;
    }
    let item = req.item_id;
    match adopt(st, &n, &key, record, revision, ours, req).await {
        Ok(d) => {
            tracing::info!(vendor = %vendor, item, owner = %owner, status = %d.status, "decided (adopted)");
            (
                StatusCode::OK,
                serde_json::to_value(&d).unwrap_or(Value::Null),
            )
        }
        Err(e) => {
            // what was not applied is open again; a response already recorded stays, to
            // be written by whoever decides next
            if let Ok(Some((mut now, rev))) = n.decision(&key).await {
                if now.by.as_deref() == Some(n.instance()) && now.state == "deciding" {
                    match &e {
                        AdoptError::Decision(DecisionError::AlreadyDecided(_, s)) => {
                            now.state = "decided".into();
                            now.status = s.clone();
                        }
                        _ => now.state = "open".into(),
                    }
                    let _ = n.update_decision(&key, &now, rev).await;
                }
            }
            refused(&e)
        }
    }
}

fn refused(e: &AdoptError) -> (StatusCode, Value) {
    let status = e.status();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        tracing::error!(error = %e, "decision");
        if !matches!(e, AdoptError::Unreachable) {
            return (status, json!({ "error": "store unavailable" }));
        }
    }
    (status, json!({ "error": e.to_string() }))
}

/// The owner's decision in its own store, with the record held `deciding` meanwhile.
async fn local_guarded(
    st: &Arc<AppState>,
    n: &Nats,
    key: &str,
    record: DecisionRecord,
    revision: u64,
    vendor: String,
    req: DecisionRequest,
) -> (StatusCode, Value) {
    let (status, v) = super::http::decide_local(st, vendor, req).await;
    let mut next = record;
    next.at_ms = store::now_ms();
    next.by = Some(n.instance().to_string());
    match v["status"].as_str() {
        Some(s) if status == StatusCode::OK => {
            next.status = s.to_string();
            next.state = if s == "pended" { "open" } else { "decided" }.into();
        }
        _ => next.state = "open".into(),
    }
    if status == StatusCode::CONFLICT {
        // decided here already: the record says so from now on
        next.state = "decided".into();
    }
    if let Err(e) = n.end_decision(key, &next, revision).await {
        tracing::error!(error = %e, "decision record not updated");
    }
    (status, v)
}

/// Applies a decision by adoption (see the module documentation): to an item another
/// instance took, or (`ours`) to one of this instance's another adopted before; the
/// record is `deciding` by this instance at `revision`.
async fn adopt(
    st: &Arc<AppState>,
    n: &Arc<Nats>,
    key: &str,
    mut record: DecisionRecord,
    mut revision: u64,
    ours: bool,
    req: DecisionRequest,
) -> Result<pa::Decided, AdoptError> {
    let (decision, asked) = pa::check(&req)?;
    let first = record
        .pa_keys
        .first()
        .cloned()
        .ok_or(AdoptError::Unreachable)?;
    let pa_value = n.pa_value(&first).await?.ok_or(AdoptError::Unreachable)?;
    let current = pa_value["status"].as_str().unwrap_or_default().to_string();
    let response = match record.response.clone() {
        // a decision a gone instance began: its response, as recorded
        Some(r) => r,
        None => {
            if !matches!(current.as_str(), "pending" | "pended") {
                return Err(DecisionError::AlreadyDecided(req.item_id, current).into());
            }
            let n2 = n.clone();
            let x12 = record.x12.clone();
            let d = decision.clone();
            let (name, body) = blocking(st, move |db| {
                n2.ensure_ack_numbers(db, 1)?;
                let tx = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let ctl = store::next_ack_control(&tx)?;
                tx.commit()?;
                Ok(pa::build_response(x12.as_bytes(), &d, ctl)?)
            })
            .await?;
            let r = RecordedResponse {
                name,
                body: String::from_utf8_lossy(&body).into_owned(),
                status: asked.to_string(),
            };
            record.response = Some(r.clone());
            revision = n
                .update_decision(key, &record, revision)
                .await?
                .ok_or(AdoptError::Busy(req.item_id))?;
            r
        }
    };
    // the response, once: the same name and bytes whoever writes it
    let partner = record.partner.clone();
    let outbox = st
        .cfg
        .partner(&partner)
        .map(|p| p.outbox.clone())
        .ok_or(AdoptError::Unreachable)?;
    {
        let (name, body) = (response.name.clone(), response.body.clone());
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&outbox)?;
            super::outbox::write_durably(&outbox, &name, body.as_bytes()).map(|_| ())
        })
        .await
        .map_err(|e| StoreError::Io(std::io::Error::other(e.to_string())))?
        .map_err(StoreError::Io)?;
    }
    // the PA status and its history in this store, then in KV under this instance
    let status = response.status.clone();
    let step = pa::decision_detail(&decision);
    let local = record
        .local
        .clone()
        .filter(|(i, _)| i == n.instance())
        .map(|(_, id)| id);
    let old_keys = record.pa_keys.clone();
    let n2 = n.clone();
    let item = req.item_id;
    let (pa_id, keys) = blocking(st, move |db| {
        // the request's own row when this instance took it
        let local = match local {
            Some(id) => Some(id),
            None if ours => db
                .query_row(
                    "SELECT id FROM pa_status WHERE queue_id = ?1",
                    params![item],
                    |r| r.get(0),
                )
                .optional()?,
            None => None,
        };
        let id = record_locally(db, local, &partner, &pa_value, &status, &decision, &step)?;
        let keys = super::pipeline::mirror_pa_row(db, &n2, id, &old_keys)?;
        Ok((id, keys))
    })
    .await?;
    record.state = if response.status == "pended" {
        "open"
    } else {
        "decided"
    }
    .into();
    record.status = response.status.clone();
    record.by = Some(n.instance().to_string());
    record.at_ms = store::now_ms();
    record.response = None;
    record.pa_keys = keys;
    record.local = Some((n.instance().to_string(), pa_id));
    n.end_decision(key, &record, revision).await?;
    if let Err(e) = n.remove(record.seq).await {
        tracing::warn!(error = %e, "decided item left in its queue stream");
    }
    Ok(pa::Decided {
        item_id: req.item_id,
        status: response.status,
        response: response.name,
    })
}

/// Runs `f` on the API's store connection on a blocking thread.
async fn blocking<T: Send + 'static>(
    st: &Arc<AppState>,
    f: impl FnOnce(&mut Connection) -> Result<T, AdoptError> + Send + 'static,
) -> Result<T, AdoptError> {
    let st = st.clone();
    tokio::task::spawn_blocking(move || {
        let mut db = st
            .db
            .lock()
            .map_err(|_| StoreError::Io(std::io::Error::other("store lock poisoned")))?;
        f(&mut db)
    })
    .await
    .map_err(|e| AdoptError::Store(StoreError::Io(std::io::Error::other(e.to_string()))))?
}

/// Records an adopted request's PA status in this store: updates the row `local`
/// (adopted here before), else inserts one with the history KV holds (`pa_value`, the
/// request's inquiry answer); then adds the decision's step. Returns the row's id.
fn record_locally(
    db: &mut Connection,
    local: Option<i64>,
    partner: &str,
    pa_value: &Value,
    status: &str,
    decision: &x12_278::Decision,
    detail: &str,
) -> Result<i64, AdoptError> {
    let now = store::now_ms();
    let s = |k: &str| pa_value[k].as_str().map(str::to_string);
    let tx = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let id = match local {
        Some(id) => id,
        None => {
            tx.execute(
                "INSERT INTO pa_status (queue_id, interchange_id, partner, bht03, trn, vendor,
                    pa_type, action, status, updated_at, certification, effective, expires,
                    reason, message, created_at)
                 VALUES (NULL, NULL, ?1, ?2, ?3, ?4, ?5, 'route', ?6, ?7, ?8, ?9, ?10, ?11,
                    ?12, ?13)",
                params![
                    partner,
                    s("bht03").unwrap_or_default(),
                    s("tracking"),
                    s("vendor").unwrap_or_default(),
                    s("pa_type").unwrap_or_default(),
                    s("status").unwrap_or_default(),
                    now,
                    s("certification"),
                    s("effective"),
                    s("expires"),
                    s("reason"),
                    s("message"),
                    pa_value["history"][0]["at_ms"].as_i64().unwrap_or(now),
                ],
            )?;
            let id = tx.last_insert_rowid();
            for h in pa_value["history"].as_array().into_iter().flatten() {
                tx.execute(
                    "INSERT INTO pa_history (pa_id, at, event, detail) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        id,
                        h["at_ms"].as_i64().unwrap_or(now),
                        h["event"].as_str().unwrap_or_default(),
                        h["detail"].as_str()
                    ],
                )?;
            }
            id
        }
    };
    pa::record_decision(&tx, id, status, decision, now, detail)?;
    tx.commit()?;
    Ok(id)
}
