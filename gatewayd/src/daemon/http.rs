//! The HTTP API (axum): health, readiness, metrics and the vendor queues.
//!
//! | route | what |
//! |---|---|
//! | `GET /healthz` | 200 while the process serves |
//! | `GET /readyz` | 200 once the store is open and unfinished work resumed, 503 while stopping |
//! | `GET /metrics` | Prometheus text |
//! | `POST /v1/queues/{vendor}/lease` | body `{"max_items": 10, "lease_seconds": 300}` (both optional) → `{"items": [...]}` |
//! | `POST /v1/queues/{vendor}/ack` | body `{"receipts": ["ID.ATTEMPT", ...]}` → `{"done": n, "dead": 0, "stale": [...]}` |
//! | `POST /v1/queues/{vendor}/nack` | body `{"receipts": [...], "retry_after_seconds": 0}` → `{"done": n, "dead": n, "stale": [...]}` |
//!
//! | `POST /v1/decisions` | vendor token; body `{"item_id", "decision": "approve"\|"deny"\|"pend"\|"modify", "certification_number", "effective", "expires", "reason", "message"}` → `{"item_id", "status", "response"}`; the 278 response goes to the submitter's outbox |
//! | `POST /v1/batches` | partner token; the body is an X12 file, taken like an inbox file (acknowledgments go to the partner's outbox) → 202 `{"file_id", "sha256", "bytes"}`; 413 over `max_file_bytes` |
//! | `GET /v1/pa/{number}` | partner token; the partner's PA requests whose tracking number (2000E TRN02), BHT03 or certification number it is: status, vendor, decision, dates, history, attachments |
//! | `POST /v1/attachments?control_number=CN` | partner token; the body is the attachment (PDF, TIFF, JPEG or PNG, read from the bytes); the attachment control number (PWK06) as the query parameter `control_number` or the header `X-Attachment-Control-Number` → 201 `{"attachment_id", "control_number", "content_type", "bytes", "sha256", "state": "linked"\|"pending"}` (200 when the same bytes were already uploaded with that number); 400 no or bad control number, empty body; 413 over `attachments.max_bytes`; 415 another type |
//! | `POST /core/soap`, `POST /core/multipart`, `POST /v1/realtime/278` | real-time 278 over CAQH CORE connectivity (partner credentials); see [`super::realtime`] |
//! | `GET /v1/queues/{vendor}/attachments/{id}` | vendor token; the attachment's bytes with its content type, when the vendor holds or held (leased) an item that cites it; 404 otherwise |
//!
//! Queue and decision routes need `Authorization: Bearer TOKEN`, where the SHA-256 of
//! TOKEN is a vendor's `token_sha256`: 401 without a known token, 403 with another
//! vendor's queue. PA inquiry takes a partner's token and shows that partner's requests
//! only (404 for anything else).
//! Errors are JSON: `{"error": "..."}`.

use super::config::{token_hash, Config};
use super::metrics::Metrics;
use super::pa;
use super::queue;
use super::store;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use rusqlite::Connection;
use serde::Deserialize;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// What the handlers share.
pub struct AppState {
    /// The API's own store connection.
    pub db: Mutex<Connection>,
    /// The configuration.
    pub cfg: Arc<Config>,
    /// The counters.
    pub metrics: Arc<Metrics>,
    /// Set once the pipeline has resumed; cleared when stopping.
    pub ready: Arc<AtomicBool>,
    /// Wakes the pipeline thread (it writes recorded 278 responses to the outboxes).
    pub wake: Mutex<std::sync::mpsc::Sender<()>>,
    /// The NATS store, with `store = "nats"`: the vendor queues are its consumers.
    pub nats: Option<Arc<super::nats::Nats>>,
    /// Real-time requests waiting for their file's outcome.
    pub completions: Arc<super::realtime::Completions>,
}

/// The longest lease a vendor may ask for (seconds).
pub const MAX_LEASE_SECONDS: u64 = 3_600;
/// The most items one lease call returns.
pub const MAX_LEASE_ITEMS: u32 = 500;

/// The API's routes.
pub fn router(state: Arc<AppState>) -> axum::Router {
    axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/queues/{vendor}/lease", post(lease))
        .route("/v1/queues/{vendor}/ack", post(ack))
        .route("/v1/queues/{vendor}/nack", post(nack))
        .route("/v1/decisions", post(decisions))
        .route(
            "/v1/batches",
            post(upload).layer(axum::extract::DefaultBodyLimit::max(
                usize::try_from(state.cfg.limits.max_file_bytes)
                    .unwrap_or(usize::MAX)
                    .saturating_add(1),
            )),
        )
        .route("/v1/pa/{number}", get(pa_inquiry))
        .route(
            "/v1/attachments",
            post(upload_attachment).layer(axum::extract::DefaultBodyLimit::max(
                usize::try_from(state.cfg.attachments.max_bytes)
                    .unwrap_or(usize::MAX)
                    .saturating_add(1),
            )),
        )
        .route(
            "/v1/queues/{vendor}/attachments/{id}",
            get(vendor_attachment),
        )
        .merge(super::realtime::routes())
        .with_state(state)
}

/// An error answer: a status and a sentence, sent as `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

pub(super) fn error(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError(status, message.into())
}

async fn readyz(State(st): State<Arc<AppState>>) -> Response {
    if st.ready.load(Ordering::SeqCst) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

async fn metrics(State(st): State<Arc<AppState>>) -> Response {
    let st2 = st.clone();
    let depths = tokio::task::spawn_blocking(move || -> Result<_, String> {
        let db = st2
            .db
            .lock()
            .map_err(|_| "store lock poisoned".to_string())?;
        let after = st2
            .cfg
            .attachments
            .pending_after_seconds
            .saturating_mul(1000);
        let pending =
            super::attachments::pending_count(&db, i64::try_from(after).unwrap_or(i64::MAX))
                .map_err(|e| e.to_string())?;
        Ok((
            store::queue_depths(&db).map_err(|e| e.to_string())?,
            pending,
        ))
    })
    .await;
    let depths = match (&st.nats, depths) {
        // with NATS the depths are the consumers' (the local rows are handed over)
        (Some(n), Ok(Ok((_, pending)))) => {
            let vendors: Vec<String> = st.cfg.vendor_tokens.keys().cloned().collect();
            Ok(Ok((n.depths(&vendors).await, pending)))
        }
        (_, d) => d,
    };
    match depths {
        Ok(Ok((d, pending))) => {
            let mut text = st.metrics.render(&d, st.ready.load(Ordering::SeqCst));
            text.push_str(&format!(
                "# HELP gatewayd_attachments_pending Attachment uploads no transaction of their partner cites, older than attachments.pending_after_seconds.\n# TYPE gatewayd_attachments_pending gauge\ngatewayd_attachments_pending {pending}\n"
            ));
            ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "metrics: store");
            error(StatusCode::INTERNAL_SERVER_ERROR, "store unavailable").into_response()
        }
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response(),
    }
}

/// The SHA-256 of the bearer token.
fn bearer_hash(headers: &HeaderMap) -> Result<String, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    match token {
        Some(t) => Ok(token_hash(t)),
        None => Err(error(
            StatusCode::UNAUTHORIZED,
            "a bearer token is required",
        )),
    }
}

/// The vendor whose token this is.
fn vendor_of(st: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    let hash = bearer_hash(headers)?;
    st.cfg
        .vendor_tokens
        .iter()
        .find(|(_, h)| **h == hash)
        .map(|(v, _)| v.clone())
        .ok_or_else(|| error(StatusCode::UNAUTHORIZED, "unknown token"))
}

/// The partner whose token this is.
pub(super) fn partner_of(st: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    let hash = bearer_hash(headers)?;
    st.cfg
        .partners
        .iter()
        .find(|p| p.token_sha256.as_deref() == Some(hash.as_str()))
        .map(|p| p.id.clone())
        .ok_or_else(|| error(StatusCode::UNAUTHORIZED, "unknown token"))
}

/// Checks the bearer token against the vendor's.
fn authorize(st: &AppState, headers: &HeaderMap, vendor: &str) -> Result<(), ApiError> {
    if vendor_of(st, headers)? != vendor {
        return Err(error(
            StatusCode::FORBIDDEN,
            "this token does not give access to that queue",
        ));
    }
    Ok(())
}

fn parse_body<T: for<'de> Deserialize<'de> + Default>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("request body: {e}")))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LeaseRequest {
    max_items: Option<u32>,
    lease_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettleRequest {
    #[serde(default)]
    receipts: Vec<String>,
    retry_after_seconds: Option<u64>,
}

async fn blocking<T: Send + 'static>(
    st: &Arc<AppState>,
    f: impl FnOnce(&mut Connection, &AppState) -> Result<T, store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let st = st.clone();
    let r = tokio::task::spawn_blocking(move || {
        let mut db = st
            .db
            .lock()
            .map_err(|_| store::StoreError::Io(std::io::Error::other("store lock poisoned")))?;
        f(&mut db, &st)
    })
    .await;
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "queue: store");
            Err(error(StatusCode::SERVICE_UNAVAILABLE, "store unavailable"))
        }
        Err(_) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")),
    }
}

async fn lease(
    State(st): State<Arc<AppState>>,
    Path(vendor): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = authorize(&st, &headers, &vendor) {
        return r.into_response();
    }
    let req: LeaseRequest = match parse_body(&body) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    let max = req.max_items.unwrap_or(10).clamp(1, MAX_LEASE_ITEMS);
    let secs = req.lease_seconds.unwrap_or(300).clamp(1, MAX_LEASE_SECONDS);
    if let Some(n) = &st.nats {
        // the lease is the consumer's AckWait, whatever the request asks
        return match n.lease(&vendor, max).await {
            Ok(leased) => {
                // items this instance published: the lease counts on the local row (the
                // vendor may fetch the attachments they cite), and their attachments are
                // listed as they are now (an upload may have come after the publish);
                // with the uploads in the cluster of what each item cites, whichever
                // instance published it and took the uploads
                let ours: Vec<i64> = leased
                    .iter()
                    .filter(|l| l.instance == n.instance())
                    .map(|l| l.leased.id)
                    .collect();
                let mut found = std::collections::HashMap::new();
                if !ours.is_empty() {
                    let counted = blocking(&st, move |db, _| {
                        let mut found = std::collections::HashMap::new();
                        for id in &ours {
                            db.execute(
                                "UPDATE queue SET attempts = attempts + 1 WHERE id = ?1",
                                rusqlite::params![id],
                            )?;
                            found.insert(*id, super::attachments::of_queue_item(db, *id)?);
                        }
                        Ok(found)
                    })
                    .await;
                    match counted {
                        Ok(f) => found = f,
                        Err(e) => return e.into_response(),
                    }
                }
                let mut items: Vec<queue::Leased> = Vec::with_capacity(leased.len());
                for l in leased {
                    let mut it = l.leased;
                    if l.instance == n.instance() {
                        if let Some(a) = found.remove(&it.id) {
                            it.attachments = a;
                        }
                    }
                    for cn in &l.cites {
                        match n.attachments().of_control(&l.partner, cn).await {
                            Ok(uploads) => {
                                for u in uploads {
                                    if !it.attachments.iter().any(|a| a.id == u.id) {
                                        it.attachments.push(u.info());
                                    }
                                }
                            }
                            Err(e) => {
                                tracing::error!(error = %e, "queue: attachments");
                                return error(StatusCode::SERVICE_UNAVAILABLE, "store unavailable")
                                    .into_response();
                            }
                        }
                    }
                    it.attachments.sort_by_key(|a| a.id);
                    items.push(it);
                }
                // the vendor may fetch what its items list through any instance
                let listed: Vec<i64> = items
                    .iter()
                    .flat_map(|it| it.attachments.iter())
                    .map(|a| a.id)
                    .collect();
                for id in listed {
                    if let Err(e) = n.attachments().grant(id, &vendor).await {
                        tracing::error!(error = %e, "queue: attachment access");
                        return error(StatusCode::SERVICE_UNAVAILABLE, "store unavailable")
                            .into_response();
                    }
                }
                tracing::info!(vendor = %vendor, items = items.len(), "leased");
                Json(json!({ "items": items })).into_response()
            }
            Err(e) => {
                tracing::error!(error = %e, "queue: nats");
                error(StatusCode::SERVICE_UNAVAILABLE, "store unavailable").into_response()
            }
        };
    }
    let v = vendor.clone();
    let r = blocking(&st, move |db, st| {
        queue::lease(db, &v, max, secs as i64 * 1000, st.cfg.limits.max_attempts)
    })
    .await;
    match r {
        Ok(res) => {
            st.metrics.lease_expired(res.expired);
            tracing::info!(vendor = %vendor, items = res.items.len(), expired = res.expired, "leased");
            Json(json!({ "items": res.items })).into_response()
        }
        Err(r) => r.into_response(),
    }
}

async fn ack(
    State(st): State<Arc<AppState>>,
    Path(vendor): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    settle(st, vendor, headers, body, false).await
}

async fn nack(
    State(st): State<Arc<AppState>>,
    Path(vendor): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    settle(st, vendor, headers, body, true).await
}

async fn settle(
    st: Arc<AppState>,
    vendor: String,
    headers: HeaderMap,
    body: Bytes,
    is_nack: bool,
) -> Response {
    if let Err(r) = authorize(&st, &headers, &vendor) {
        return r.into_response();
    }
    let req: SettleRequest = match parse_body(&body) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    if req.receipts.is_empty() {
        return error(StatusCode::BAD_REQUEST, "`receipts` must list at least one").into_response();
    }
    if req.retry_after_seconds.is_some() && !is_nack {
        return error(
            StatusCode::BAD_REQUEST,
            "`retry_after_seconds` belongs to nack",
        )
        .into_response();
    }
    let delay = req.retry_after_seconds.unwrap_or(0).min(86_400) as i64 * 1000;
    if let Some(n) = &st.nats {
        let r = if is_nack {
            n.nack(
                &vendor,
                &req.receipts,
                std::time::Duration::from_millis(delay as u64),
            )
            .await
        } else {
            n.ack(&vendor, &req.receipts).await
        };
        return match r {
            Ok(s) => {
                tracing::info!(vendor = %vendor, done = s.done, dead = s.dead, stale = s.stale.len(),
                    kind = if is_nack { "nack" } else { "ack" }, "settled");
                Json(s).into_response()
            }
            Err(e) => {
                tracing::error!(error = %e, "queue: nats");
                error(StatusCode::SERVICE_UNAVAILABLE, "store unavailable").into_response()
            }
        };
    }
    let v = vendor.clone();
    let receipts = req.receipts;
    let r = blocking(&st, move |db, st| {
        if is_nack {
            queue::nack(db, &v, &receipts, delay, st.cfg.limits.max_attempts)
        } else {
            queue::ack(db, &v, &receipts)
        }
    })
    .await;
    match r {
        Ok(s) => {
            tracing::info!(vendor = %vendor, done = s.done, dead = s.dead, stale = s.stale.len(),
                kind = if is_nack { "nack" } else { "ack" }, "settled");
            Json(s).into_response()
        }
        Err(r) => r.into_response(),
    }
}

async fn decisions(State(st): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let vendor = match vendor_of(&st, &headers) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let req: pa::DecisionRequest = match parse_body(&body) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    // with NATS, an item another instance holds (it took the request, or adopted a
    // decision on it) is decided there; with that instance silent, here from what the
    // cluster holds
    if let (Some(n), Some(owner)) = (&st.nats, req.instance.clone()) {
        let key = super::nats::Nats::decision_key(&owner, req.item_id);
        let holder = match n.decision(&key).await {
            Ok(Some((r, _))) => r.local.map(|(i, _)| i).unwrap_or_else(|| owner.clone()),
            _ => owner.clone(),
        };
        if holder != n.instance() && n.is_alive(&holder).await {
            match n.forward_decision(&holder, &vendor, &body).await {
                Ok((status, v)) => {
                    return (
                        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
                        Json(v),
                    )
                        .into_response()
                }
                Err(e) => {
                    tracing::warn!(error = %e, "decision: the instance holding it does not answer; adopting")
                }
            }
        }
    }
    let (status, v) = decide_here(&st, vendor, req).await;
    (status, Json(v)).into_response()
}

/// Decides an item on this instance: with NATS through its decision record (applied
/// once; an item another instance took is adopted, see [`super::adopt`]), else in this
/// instance's store.
pub async fn decide_here(
    st: &Arc<AppState>,
    vendor: String,
    req: pa::DecisionRequest,
) -> (StatusCode, serde_json::Value) {
    match &st.nats {
        Some(n) => {
            let owner = req
                .instance
                .clone()
                .unwrap_or_else(|| n.instance().to_string());
            super::adopt::decide(st, &owner, vendor, req).await
        }
        None => decide_local(st, vendor, req).await,
    }
}

/// Decides an item of this instance's store: the status and the JSON answer.
pub(super) async fn decide_local(
    st: &Arc<AppState>,
    vendor: String,
    req: pa::DecisionRequest,
) -> (StatusCode, serde_json::Value) {
    let v = vendor.clone();
    let st2 = st.clone();
    let r = tokio::task::spawn_blocking(move || {
        let mut db = st2
            .db
            .lock()
            .map_err(|_| pa::DecisionError::Invalid("store lock poisoned".into()))?;
        if let Some(n) = &st2.nats {
            // the 278 response's control number from this instance's block
            n.ensure_ack_numbers(&db, 1).map_err(|e| {
                pa::DecisionError::Store(store::StoreError::Io(std::io::Error::other(
                    e.to_string(),
                )))
            })?;
        }
        let d = pa::decide(&mut db, &v, &req)?;
        // with NATS, the decided item leaves its queue stream too
        let seq: Option<i64> = if st2.nats.is_some() {
            db.query_row(
                "SELECT seq FROM nats_published WHERE queue_id = ?1",
                rusqlite::params![d.item_id],
                |r| r.get(0),
            )
            .ok()
        } else {
            None
        };
        Ok((d, seq))
    })
    .await;
    let fail = |status: StatusCode, m: &str| (status, json!({ "error": m }));
    match r {
        Ok(Ok((d, seq))) => {
            if let (Some(n), Some(seq)) = (&st.nats, seq) {
                if let Err(e) = n.remove(seq as u64).await {
                    tracing::warn!(error = %e, "decided item left in its queue stream");
                }
            }
            if let Ok(w) = st.wake.lock() {
                let _ = w.send(());
            }
            tracing::info!(vendor = %vendor, item = d.item_id, status = %d.status, "decided");
            (
                StatusCode::OK,
                serde_json::to_value(&d).unwrap_or(serde_json::Value::Null),
            )
        }
        Ok(Err(e)) => {
            if let pa::DecisionError::Store(_) = &e {
                tracing::error!(error = %e, "decision: store");
                return fail(StatusCode::SERVICE_UNAVAILABLE, "store unavailable");
            }
            fail(super::adopt::decision_status(&e), &e.to_string())
        }
        Err(_) => fail(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
    }
}

/// With NATS: answers the decisions other instances forward to this one (subject
/// `<prefix>.decide.<instance>`), until the connection closes.
pub async fn serve_forwarded_decisions(st: Arc<AppState>) {
    let Some(n) = st.nats.clone() else { return };
    let mut sub = match n.decision_requests().await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "forwarded decisions not served");
            return;
        }
    };
    while let Some(m) = futures_util::StreamExt::next(&mut sub).await {
        let Some(reply) = m.reply.clone() else {
            continue;
        };
        let answer = match serde_json::from_slice::<super::nats::ForwardedDecision>(&m.payload) {
            Ok(f) if st.cfg.vendor_tokens.contains_key(&f.vendor) => {
                match serde_json::from_value::<pa::DecisionRequest>(f.request) {
                    Ok(req) => decide_here(&st, f.vendor, req).await,
                    Err(e) => (
                        StatusCode::BAD_REQUEST,
                        json!({ "error": format!("request body: {e}") }),
                    ),
                }
            }
            _ => (
                StatusCode::BAD_REQUEST,
                json!({ "error": "not a forwarded decision" }),
            ),
        };
        n.answer_decision(reply, answer.0.as_u16(), answer.1).await;
    }
}

async fn pa_inquiry(
    State(st): State<Arc<AppState>>,
    Path(number): Path<String>,
    headers: HeaderMap,
) -> Response {
    let partner = match partner_of(&st, &headers) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let n = number.trim().to_string();
    if n.is_empty() || n.len() > 50 {
        return error(
            StatusCode::BAD_REQUEST,
            "a tracking or authorization number",
        )
        .into_response();
    }
    let p = partner.clone();
    let number = n.clone();
    let r = blocking(&st, move |db, _| pa::inquire(db, &p, &n)).await;
    // with NATS, the requests other instances took come from the KV bucket
    let r = match (r, &st.nats) {
        (Ok(found), Some(nats)) => {
            let mut all: Vec<serde_json::Value> = found
                .iter()
                .filter_map(|f| serde_json::to_value(f).ok())
                .collect();
            all.extend(nats.pa_lookup(&partner, &number).await);
            Ok(all)
        }
        (Ok(found), None) => Ok(found
            .iter()
            .filter_map(|f| serde_json::to_value(f).ok())
            .collect()),
        (Err(e), _) => Err(e),
    };
    match r {
        Ok(found) if found.is_empty() => error(
            StatusCode::NOT_FOUND,
            "no prior approval request by that number",
        )
        .into_response(),
        Ok(found) => {
            tracing::info!(partner = %partner, results = found.len(), "pa inquiry");
            Json(json!({ "results": found })).into_response()
        }
        Err(r) => r.into_response(),
    }
}

async fn upload(State(st): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let partner = match partner_of(&st, &headers) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    if body.len() as u64 > st.cfg.limits.max_file_bytes {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the file is larger than the limit of {} bytes",
                st.cfg.limits.max_file_bytes
            ),
        )
        .into_response();
    }
    let p = partner.clone();
    let st2 = st.clone();
    let r = tokio::task::spawn_blocking(move || {
        let db = st2
            .db
            .lock()
            .map_err(|_| std::io::Error::other("store lock poisoned"))
            .map_err(super::pipeline::PipelineError::Io)?;
        super::ingest::receive_upload(&db, &st2.cfg.data_dir, &p, &body)
    })
    .await;
    match r {
        Ok(Ok(f)) => {
            st.metrics.file_received();
            if let Ok(w) = st.wake.lock() {
                let _ = w.send(());
            }
            tracing::info!(partner = %partner, file = f.id, bytes = f.size, "file uploaded");
            (
                StatusCode::ACCEPTED,
                Json(json!({ "file_id": f.id, "sha256": f.sha256, "bytes": f.size })),
            )
                .into_response()
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "upload: store");
            error(StatusCode::SERVICE_UNAVAILABLE, "store unavailable").into_response()
        }
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response(),
    }
}

/// The attachment control number of an upload: the query parameter `control_number`,
/// else the header `X-Attachment-Control-Number`.
fn control_number_of(
    query: &std::collections::HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<String, ApiError> {
    let n = query
        .get("control_number")
        .cloned()
        .or_else(|| {
            headers
                .get("x-attachment-control-number")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    if n.is_empty() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "the attachment control number (PWK06) is required: query parameter `control_number` or header `X-Attachment-Control-Number`",
        ));
    }
    if !super::attachments::valid_control_number(&n) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!(
                "an attachment control number is 1 to {} printable characters without X12 delimiters",
                super::attachments::MAX_CONTROL_NUMBER
            ),
        ));
    }
    Ok(n)
}

async fn upload_attachment(
    State(st): State<Arc<AppState>>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let partner = match partner_of(&st, &headers) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let control = match control_number_of(&query, &headers) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let kind = match crate::attachments::sniff(&body, st.cfg.attachments.max_bytes) {
        Ok(k) => k,
        Err(e) => {
            let status = match e {
                crate::attachments::SniffError::Empty => StatusCode::BAD_REQUEST,
                crate::attachments::SniffError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                crate::attachments::SniffError::Unsupported { .. } => {
                    StatusCode::UNSUPPORTED_MEDIA_TYPE
                }
            };
            return error(status, e.to_string()).into_response();
        }
    };
    let p = partner.clone();
    let r = blocking(&st, move |db, st| {
        super::attachments::store_upload(
            db,
            &st.cfg.data_dir,
            &p,
            &control,
            kind,
            &body,
            st.nats.as_deref(),
        )
    })
    .await;
    match r {
        Ok(stored) => {
            tracing::info!(partner = %partner, attachment = stored.attachment_id,
                bytes = stored.bytes, state = %stored.state, "attachment uploaded");
            (StatusCode::CREATED, Json(stored)).into_response()
        }
        Err(r) => r.into_response(),
    }
}

async fn vendor_attachment(
    State(st): State<Arc<AppState>>,
    Path((vendor, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize(&st, &headers, &vendor) {
        return r.into_response();
    }
    let not_found = || {
        error(
            StatusCode::NOT_FOUND,
            "no attachment by that id for this vendor",
        )
    };
    let Ok(id) = id.parse::<i64>() else {
        return not_found().into_response();
    };
    let v = vendor.clone();
    let r = blocking(&st, move |db, st| {
        let nats = st.nats.as_deref();
        if let Some((path, content_type, sha256)) = super::attachments::for_vendor(db, &v, id)? {
            let bytes = super::attachments::read_bytes(&st.cfg.data_dir, &path, &sha256, nats)?;
            return Ok(Some((content_type, bytes)));
        }
        // with NATS: an upload the vendor was given through any instance
        let Some(n) = nats else { return Ok(None) };
        let a = n.attachments();
        let shared = n.block_on(async {
            match a.get(id).await? {
                Some(u) if a.granted(id, &v).await? => Ok(Some(u)),
                _ => Ok(None),
            }
        });
        let shared = shared.map_err(|e: super::nats::NatsError| {
            store::StoreError::Io(std::io::Error::other(e.to_string()))
        })?;
        let Some(u) = shared else { return Ok(None) };
        let path = format!("{}/{}", super::attachments::DIR, u.file);
        let bytes = super::attachments::read_bytes(&st.cfg.data_dir, &path, &u.sha256, nats)?;
        Ok(Some((u.content_type, bytes)))
    })
    .await;
    match r {
        Ok(Some((content_type, bytes))) => {
            tracing::info!(vendor = %vendor, attachment = id, "attachment fetched");
            ([(header::CONTENT_TYPE, content_type)], bytes).into_response()
        }
        Ok(None) => not_found().into_response(),
        Err(r) => r.into_response(),
    }
}
