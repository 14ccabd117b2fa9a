//! Real-time 278 over CAQH CORE connectivity (Phase II/III): SOAP 1.2 and MIME
//! multipart envelopes, and a plain POST of X12.
//!
//! | route | auth | body | answer |
//! |---|---|---|---|
//! | `POST /core/soap` | WS-Security UsernameToken: `Username` = partner id, `Password` = the partner's API token | SOAP 1.2 `COREEnvelopeRealTimeRequest` | SOAP 1.2 `COREEnvelopeRealTimeResponse` |
//! | `POST /core/multipart` | parts `UserName` = partner id, `Password` = the partner's API token | multipart/form-data, one part per CORE field | multipart/form-data, the same parts plus `ErrorCode`, `ErrorMessage` |
//! | `POST /v1/realtime/278` | `Authorization: Bearer TOKEN` (the partner's API token) | the X12 interchange | the X12 answer (`Content-Type: application/edi-x12`, its CORE payload type in `X-CORE-Payload-Type`), or JSON `{"error", "code"}` |
//!
//! The credentials are the partner's existing API token (its SHA-256 is the partner's
//! `token_sha256`): no second secret to configure. Envelope errors and their HTTP
//! statuses are in [`errors`].
//!
//! ## The flow
//!
//! The request's X12 is taken like a received file ([`super::ingest::receive_named`]:
//! fsynced copy, then the record), so nothing is lost and the duplicate check applies;
//! the pipeline is woken and the handler waits for that file, through
//! [`Completions`]: the pipeline thread reports a file as soon as an interchange of it
//! is committed (its TA1/999 and the gateway's answers durable in the store, the
//! outbox files still being written) and again when it is finished; a waiting request
//! gets a one-shot message at the first. A real-time payload is one interchange; with
//! several, the answer covers those committed by then. Real-time requests go first:
//! once one is recorded, the pipeline takes it before its next file (inbox or
//! unfinished), so it waits for at most the file in progress, not for a queue of
//! batches. The answer is read from what the pipeline recorded for the file:
//!
//! | recorded | payload |
//! |---|---|
//! | the gateway's own 278 response (pharmacy A1, pharmacy A4 pended and queued to CSRA, CT for `reject` routes, NA for `no_pa_required`) | that 278 response |
//! | the TA1 rejected the interchange (envelope errors, duplicate ISA13 025, sender 006) | the TA1 |
//! | the 999 rejected the request | the 999 |
//! | the request went to a vendor's queue | a 278 response HCR01=A4 (pended), its MSG naming the review and the tracking number (2000E TRN02); the vendor's decision later goes to the partner's outbox and PA inquiry, as for batch files |
//! | the file was refused as a whole (over the limits) | `PayloadIllegal` (400) |
//!
//! Every answer (including the real-time A4) is also recorded as an outbox file, like
//! a batch's. Every request is answered within `realtime.answer_within_ms` (default
//! 20 s, CORE's real-time limit): when the pipeline has not finished the file a second
//! before that (a quarter of the limit when it is under 4 s), the answer is an A4
//! (pended) built from the request itself, the same answer a clearinghouse gets for a
//! request forwarded to a reviewer; the file is still processed, and its TA1/999 and
//! final 278 response go to the outbox and PA inquiry. A payload that cannot be
//! answered that way gets `RequestTimedOut` (503), saying the request was kept. When
//! the store itself stalls (a disk slow to fsync, the pipeline holding the write lock
//! for a very large interchange), the request gets `RequestTimedOut` at the deadline
//! (never sooner than [`handler::HARD_FLOOR`]) rather than an answer later: whether it
//! was recorded is then unknown to the client, and the same interchange sent again gets
//! TA1 025 if it was.

pub mod envelope;
pub mod errors;
pub mod handler;
pub mod multipart;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

pub use errors::{CoreEnvelopeError, CoreErrorCode, Field};

/// The SOAP route.
pub const SOAP_PATH: &str = "/core/soap";
/// The multipart route.
pub const MULTIPART_PATH: &str = "/core/multipart";
/// The plain X12 route.
pub const RAW_PATH: &str = "/v1/realtime/278";

/// Real-time requests waiting for their file: file id → the waiter's one-shot sender.
/// The pipeline thread calls [`Completions::done`] for every file it finishes.
#[derive(Debug, Default)]
pub struct Completions {
    waiting: Mutex<HashMap<i64, oneshot::Sender<()>>>,
    urgent: Arc<AtomicBool>,
}

impl Completions {
    /// The flag [`Completions::recorded`] sets; the pipeline processes waiting
    /// real-time requests before its next file when it is set.
    pub fn urgent_flag(&self) -> Arc<AtomicBool> {
        self.urgent.clone()
    }

    /// A real-time request was recorded: the pipeline takes it before its next file.
    pub fn recorded(&self) {
        self.urgent.store(true, Ordering::Release);
    }

    /// Registers interest in `file`; the receiver fires when the pipeline finishes it.
    /// Register before looking at the file's state, so a finish in between is seen.
    pub fn register(&self, file: i64) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut w) = self.waiting.lock() {
            w.insert(file, tx);
        }
        rx
    }

    /// Drops the interest in `file` (its request stopped waiting).
    pub fn forget(&self, file: i64) {
        if let Ok(mut w) = self.waiting.lock() {
            w.remove(&file);
        }
    }

    /// Tells the waiter of `file`, if any, that the file is finished.
    pub fn done(&self, file: i64) {
        let tx = self.waiting.lock().ok().and_then(|mut w| w.remove(&file));
        if let Some(tx) = tx {
            let _ = tx.send(());
        }
    }

    /// How many requests wait.
    pub fn len(&self) -> usize {
        self.waiting.lock().map(|w| w.len()).unwrap_or(0)
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The real-time routes (their bodies are read here, bounded by
/// `realtime.max_body_bytes`).
pub fn routes() -> axum::Router<std::sync::Arc<super::http::AppState>> {
    use axum::routing::post;
    axum::Router::new()
        .route(SOAP_PATH, post(handler::soap))
        .route(MULTIPART_PATH, post(handler::multipart))
        .route(RAW_PATH, post(handler::raw))
        .layer(axum::extract::DefaultBodyLimit::disable())
}
