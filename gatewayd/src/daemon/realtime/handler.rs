//! The real-time handlers: read the body (bounded), parse and check the envelope,
//! authenticate, take the X12 like a received file, wait for the pipeline's outcome
//! (or the deadline), answer. See the [module documentation](super) for the flow.

use super::envelope::{self, CoreRequest, CoreResponse};
use super::errors::{CoreEnvelopeError, CoreErrorCode, Field};
use super::multipart;
use crate::daemon::config::token_hash;
use crate::daemon::http::{partner_of, AppState};
use crate::daemon::{ingest, pa, store};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rusqlite::{params, Connection, OptionalExtension};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use x12_278::{Action, Decision, EventDecision};

/// The header of `POST /v1/realtime/278` answers naming the payload's CORE type.
pub const PAYLOAD_TYPE_HEADER: &str = "x-core-payload-type";

/// The shortest time a request is given to be recorded and answered when the store is
/// slow, whatever `realtime.answer_within_ms` says.
pub const HARD_FLOOR: Duration = Duration::from_secs(5);

/// Which envelope a request came in (and its answer goes out in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Soap,
    Multipart,
}

/// `POST /core/soap`.
pub async fn soap(State(st): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let bytes = match read_body(&headers, body, st.cfg.realtime.max_body_bytes).await {
        Ok(b) => b,
        Err(e) => return reply(&st, started, Form::Soap, CoreResponse::error(None, &e)),
    };
    let req = match envelope::parse_soap(&bytes) {
        Ok(r) => r,
        Err(e) => return reply(&st, started, Form::Soap, CoreResponse::error(None, &e)),
    };
    enveloped(&st, req, started, Form::Soap).await
}

/// `POST /core/multipart`.
pub async fn multipart(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let bytes = match read_body(&headers, body, st.cfg.realtime.max_body_bytes).await {
        Ok(b) => b,
        Err(e) => return reply(&st, started, Form::Multipart, CoreResponse::error(None, &e)),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let req = match multipart::parse_form(content_type, &bytes) {
        Ok(r) => r,
        Err(e) => return reply(&st, started, Form::Multipart, CoreResponse::error(None, &e)),
    };
    enveloped(&st, req, started, Form::Multipart).await
}

/// `POST /v1/realtime/278`: the body is the X12; the partner's bearer token.
pub async fn raw(State(st): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let fail = |e: CoreEnvelopeError| {
        st.metrics
            .realtime(e.code.as_str(), started.elapsed().as_secs_f64());
        let status =
            StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (
            status,
            Json(serde_json::json!({ "error": e.message, "code": e.code.as_str() })),
        )
            .into_response()
    };
    let Ok(partner) = partner_of(&st, &headers) else {
        return fail(CoreEnvelopeError::new(
            CoreErrorCode::UnAuthorized,
            "a partner's token is required: Authorization: Bearer TOKEN",
        ));
    };
    let bytes = match read_body(&headers, body, st.cfg.realtime.max_body_bytes).await {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let lead = bytes.iter().take_while(|b| b.is_ascii_whitespace()).count();
    let x12 = bytes.slice(lead..);
    if !x12.starts_with(b"ISA") {
        return fail(CoreEnvelopeError::illegal(
            Field::Payload,
            "not an X12 interchange (it must begin with ISA)",
        ));
    }
    match answer(&st, &partner, x12, "rt".into(), started).await {
        Ok((payload_type, body)) => {
            st.metrics
                .realtime(payload_type, started.elapsed().as_secs_f64());
            let mut r = (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/edi-x12"),
                )],
                body,
            )
                .into_response();
            r.headers_mut()
                .insert(PAYLOAD_TYPE_HEADER, HeaderValue::from_static(payload_type));
            r
        }
        Err(e) => fail(e),
    }
}

/// Reads the body, refusing more than `limit` bytes (`PayloadTooLarge`).
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: u64,
) -> Result<Bytes, CoreEnvelopeError> {
    let too_large = || {
        CoreEnvelopeError::new(
            CoreErrorCode::PayloadTooLarge,
            format!("the request body is larger than the limit of {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())
}

fn reply(st: &AppState, started: Instant, form: Form, resp: CoreResponse) -> Response {
    let answer = if resp.error_code == CoreErrorCode::Success {
        resp.payload_type.as_str()
    } else {
        resp.error_code.as_str()
    };
    st.metrics.realtime(answer, started.elapsed().as_secs_f64());
    let status =
        StatusCode::from_u16(resp.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match form {
        Form::Soap => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/soap+xml; charset=utf-8"),
            )],
            resp.to_soap(),
        )
            .into_response(),
        Form::Multipart => {
            let (ct, body) = multipart::render(&resp);
            let ct = HeaderValue::from_str(&ct)
                .unwrap_or_else(|_| HeaderValue::from_static("multipart/form-data"));
            (status, [(header::CONTENT_TYPE, ct)], body).into_response()
        }
    }
}

/// The partner whose id and API token the envelope carries.
fn authenticate(st: &AppState, req: &CoreRequest) -> Result<String, CoreEnvelopeError> {
    let unauthorized = |m: &str| CoreEnvelopeError::new(CoreErrorCode::UnAuthorized, m);
    let (Some(user), Some(password)) = (req.username.as_deref(), req.password.as_deref()) else {
        return Err(unauthorized(
            "credentials are required: a WS-Security UsernameToken (SOAP) or the UserName and Password parts (multipart)",
        ));
    };
    let hash = token_hash(password.trim());
    st.cfg
        .partners
        .iter()
        .find(|p| p.id == user.trim() && p.token_sha256.as_deref() == Some(hash.as_str()))
        .map(|p| p.id.clone())
        .ok_or_else(|| unauthorized("unknown user name or wrong password"))
}

async fn enveloped(st: &Arc<AppState>, req: CoreRequest, started: Instant, form: Form) -> Response {
    let partner = match authenticate(st, &req) {
        Ok(p) => p,
        Err(e) => return reply(st, started, form, CoreResponse::error(Some(&req), &e)),
    };
    let checked = match req.check() {
        Ok(c) => c,
        Err(e) => return reply(st, started, form, CoreResponse::error(Some(&req), &e)),
    };
    let prefix = format!("rt-{}", checked.payload_id.to_ascii_lowercase());
    let x12 = Bytes::from(checked.payload.clone());
    match answer(st, &partner, x12, prefix, started).await {
        Ok((payload_type, body)) => reply(
            st,
            started,
            form,
            CoreResponse::success(&checked, payload_type, body),
        ),
        Err(e) => reply(st, started, form, CoreResponse::error(Some(&req), &e)),
    }
}

fn server_error(what: &str, e: impl std::fmt::Display) -> CoreEnvelopeError {
    tracing::error!(error = %e, "real-time: {what}");
    CoreEnvelopeError::new(
        CoreErrorCode::ServerError,
        "the gateway could not process the request; send it again later",
    )
}

fn wake(st: &AppState) {
    if let Ok(w) = st.wake.lock() {
        let _ = w.send(());
    }
}

/// Takes the X12 like a received file, waits for its outcome (or the deadline) and
/// returns the answer's CORE payload type and bytes.
async fn answer(
    st: &Arc<AppState>,
    partner: &str,
    x12: Bytes,
    prefix: String,
    started: Instant,
) -> Result<(&'static str, Vec<u8>), CoreEnvelopeError> {
    let within = Duration::from_millis(st.cfg.realtime.answer_within_ms);
    let margin = (within / 4).min(Duration::from_secs(1));
    let deadline = started + within.saturating_sub(margin);
    // past this, answer whatever the store is doing (a disk stalling on fsync); never
    // less than HARD_FLOOR, so a short setting still leaves room to record the request
    let hard = tokio::time::Instant::from_std(started + within.max(HARD_FLOOR));
    let (st2, p, x) = (st.clone(), partner.to_string(), x12.clone());
    let taken = tokio::task::spawn_blocking(move || {
        let db = st2
            .db
            .lock()
            .map_err(|_| server_error("store", "store lock poisoned"))?;
        let f = ingest::receive_named(&db, &st2.cfg.data_dir, &p, &x, &prefix)
            .map_err(|e| server_error("receiving", e))?;
        // register first, then look: a finish in between is not missed
        let rx = st2.completions.register(f.id);
        let state: String = db
            .query_row("SELECT state FROM files WHERE id = ?1", [f.id], |r| {
                r.get(0)
            })
            .map_err(|e| server_error("store", e))?;
        if state == "received" {
            Ok((f.id, Some(rx)))
        } else {
            st2.completions.forget(f.id);
            Ok((f.id, None))
        }
    });
    let taken = tokio::time::timeout_at(hard, taken)
        .await
        .map_err(|_| {
            tracing::warn!(partner = %partner, "real-time: the request was not recorded before the deadline");
            CoreEnvelopeError::new(
                CoreErrorCode::RequestTimedOut,
                "the gateway could not confirm in time that it recorded the request; if it did, its acknowledgments will be in your outbox (the same interchange sent again gets TA1 025)",
            )
        })?
        .map_err(|e| server_error("task", e))??;
    let (file, rx) = taken;
    st.metrics.file_received();
    st.completions.recorded();
    wake(st);
    if let Some(rx) = rx {
        let until = tokio::time::Instant::from_std(deadline);
        if tokio::time::timeout_at(until, rx).await.is_err() {
            st.completions.forget(file);
            tracing::warn!(partner = %partner, file, "real-time: no outcome before the deadline; answering pended");
        }
    }
    let (st2, p) = (st.clone(), partner.to_string());
    let out = tokio::task::spawn_blocking(move || {
        let mut db = st2
            .db
            .lock()
            .map_err(|_| server_error("store", "store lock poisoned"))?;
        if let Some(n) = &st2.nats {
            // a pended answer's control number from this instance's block
            n.ensure_ack_numbers(&db, 1)
                .map_err(|e| server_error("numbers", e))?;
        }
        outcome(&mut db, file, &p, &x12)
    });
    let out = match tokio::time::timeout_at(hard, out).await {
        Ok(r) => r.map_err(|e| server_error("task", e))?,
        Err(_) => Err(CoreEnvelopeError::new(
            CoreErrorCode::RequestTimedOut,
            format!("no answer in time; the request was kept (file {file}) and its acknowledgments will be in your outbox: do not send it again"),
        )),
    };
    // a recorded real-time A4 is written to the outbox by the pipeline thread
    wake(st);
    let ms = started.elapsed().as_millis() as u64;
    match &out {
        Ok((t, _)) => {
            tracing::info!(partner = %partner, file, payload_type = *t, ms, "real-time answered")
        }
        Err(e) => tracing::info!(partner = %partner, file, code = %e.code, ms, "real-time refused"),
    }
    out
}

/// What the store holds for a file after (or while) the pipeline processed it.
struct Recorded {
    state: String,
    note: Option<String>,
    answers: Vec<Vec<u8>>,
    ta1: Vec<Vec<u8>>,
    a999: Vec<Vec<u8>>,
    refused: bool,
    /// Queued 278 items: vendor, PA type, tracking number (2000E TRN02), PA status id.
    queued: Vec<(String, String, Option<String>, Option<i64>)>,
}

fn recorded(conn: &Connection, file: i64) -> rusqlite::Result<Option<Recorded>> {
    let Some((state, note)) = conn
        .query_row("SELECT state, note FROM files WHERE id = ?1", [file], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
        })
        .optional()?
    else {
        return Ok(None);
    };
    let bodies = |kind: &str| -> rusqlite::Result<Vec<Vec<u8>>> {
        // the pipeline's own acknowledgments and answers name their interchange
        let mut q = conn.prepare_cached(
            "SELECT body FROM acks WHERE file_id = ?1 AND kind = ?2
               AND interchange_id IS NOT NULL ORDER BY id",
        )?;
        let rows = q.query_map(params![file, kind], |r| r.get(0))?;
        rows.collect()
    };
    let refused: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM interchanges WHERE file_id = ?1
            AND outcome IN ('rejected', 'duplicate', 'sender_refused'))",
        [file],
        |r| r.get(0),
    )?;
    let mut q = conn.prepare_cached(
        "SELECT q.vendor, q.pa_type, p.trn, p.id FROM queue q
         JOIN interchanges i ON i.id = q.interchange_id
         LEFT JOIN pa_status p ON p.queue_id = q.id
         WHERE i.file_id = ?1 AND q.txn = '278' ORDER BY q.id",
    )?;
    let queued = q
        .query_map([file], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(Recorded {
        state,
        note,
        answers: bodies("278")?,
        ta1: bodies("TA1")?,
        a999: bodies("999")?,
        refused,
        queued,
    }))
}

/// The answer for a file (see the module documentation's table).
fn outcome(
    conn: &mut Connection,
    file: i64,
    partner: &str,
    x12: &[u8],
) -> Result<(&'static str, Vec<u8>), CoreEnvelopeError> {
    let rec = recorded(conn, file)
        .map_err(|e| server_error("store", e))?
        .ok_or_else(|| server_error("store", "the received file is not recorded"))?;
    let concat = |v: &[Vec<u8>]| v.concat();
    // an interchange's outcome is committed before its file is marked done
    let decided = !rec.answers.is_empty()
        || !rec.ta1.is_empty()
        || !rec.a999.is_empty()
        || !rec.queued.is_empty();
    match rec.state.as_str() {
        "rejected" => {
            return Err(CoreEnvelopeError::illegal(
                Field::Payload,
                rec.note.unwrap_or_else(|| "the file was refused".into()),
            ))
        }
        "received" if !decided => {
            let body = pended(
                conn,
                file,
                partner,
                x12,
                "Received and under review. The decision follows in your outbox and PA inquiry.",
                &[],
            )
            .map_err(|e| {
                tracing::warn!(file, error = %e, "real-time: no pended answer for a request not yet processed");
                CoreEnvelopeError::new(
                    CoreErrorCode::RequestTimedOut,
                    format!(
                        "no answer in time; the request was kept (file {file}) and its acknowledgments will be in your outbox: do not send it again"
                    ),
                )
            })?;
            return Ok((envelope::PAYLOAD_278_RESPONSE, body));
        }
        _ => {}
    }
    if !rec.answers.is_empty() {
        return Ok((envelope::PAYLOAD_278_RESPONSE, concat(&rec.answers)));
    }
    if rec.refused && !rec.ta1.is_empty() {
        return Ok((envelope::PAYLOAD_TA1, concat(&rec.ta1)));
    }
    if !rec.queued.is_empty() {
        let mut reviews: Vec<String> = Vec::new();
        for (vendor, pa_type, _, _) in &rec.queued {
            let r = format!("{pa_type} by {vendor}");
            if !reviews.contains(&r) {
                reviews.push(r);
            }
        }
        let trn = rec.queued.iter().find_map(|q| q.2.clone());
        let mut msg = format!("Pended for review of {}.", reviews.join(", "));
        if let Some(t) = trn {
            msg.push_str(&format!(" PA inquiry by tracking number {t}."));
        }
        let pas: Vec<i64> = rec.queued.iter().filter_map(|q| q.3).collect();
        let body = pended(conn, file, partner, x12, &msg, &pas)
            .map_err(|e| server_error("pended answer", e))?;
        return Ok((envelope::PAYLOAD_278_RESPONSE, body));
    }
    if !rec.a999.is_empty() {
        return Ok((envelope::PAYLOAD_999, concat(&rec.a999)));
    }
    if !rec.ta1.is_empty() {
        return Ok((envelope::PAYLOAD_TA1, concat(&rec.ta1)));
    }
    Err(CoreEnvelopeError::illegal(
        Field::Payload,
        "the interchange holds no 278 request to answer",
    ))
}

fn validator() -> &'static x12_core::Validator {
    static V: OnceLock<x12_core::Validator> = OnceLock::new();
    V.get_or_init(crate::guides::validator)
}

/// MSG01 text: at most 264 characters, without X12 separators.
fn msg_text(s: &str) -> String {
    let mut t: String = s
        .chars()
        .map(|c| {
            if matches!(c, '*' | ':' | '^' | '~' | '|') || !(c.is_ascii_graphic() || c == ' ') {
                ' '
            } else {
                c
            }
        })
        .collect();
    t.truncate(264);
    t
}

/// Builds the A4 (pended) answer to the request in `x12` and records it as an outbox
/// file of `file` (with a history step on each PA status in `pas`), in one transaction.
fn pended(
    conn: &mut Connection,
    file: i64,
    partner: &str,
    x12: &[u8],
    message: &str,
    pas: &[i64],
) -> Result<Vec<u8>, String> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| e.to_string())?;
    let control = store::next_ack_control(&tx).map_err(|e| e.to_string())?;
    let decisions = [EventDecision {
        event: Decision {
            message: Some(msg_text(message)),
            ..Decision::new(Action::Pended)
        },
        services: Vec::new(),
    }];
    let r = pa::answer_item(x12, validator(), control, |set, tree, guide, who| {
        x12_278::respond(set, tree, guide, &x12_278::response(), &decisions, who)
            .map(|b| (b, ()))
            .map_err(|e| e.to_string())
    })?;
    let name = pa::response_name(&r.isa13, &r.bht03, control);
    tx.execute(
        "INSERT INTO acks (file_id, interchange_id, kind, partner, name, body)
         VALUES (?1, NULL, '278', ?2, ?3, ?4) ON CONFLICT(partner, name) DO NOTHING",
        params![file, partner, name, r.body],
    )
    .map_err(|e| e.to_string())?;
    let now = store::now_ms();
    for pa in pas {
        tx.execute(
            "INSERT INTO pa_history (pa_id, at, event, detail) VALUES (?1, ?2, 'answered', ?3)",
            params![pa, now, "A4 pended (real-time answer)"],
        )
        .map_err(|e| e.to_string())?;
    }
    tx.commit().map_err(|e| e.to_string())?;
    Ok(r.body)
}
