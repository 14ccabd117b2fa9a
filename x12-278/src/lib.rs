//! Prior-approval requests and responses (ASC X12 005010X217), over the generic
//! [`x12_core`] engine.
//!
//! The request and response guide tables (`guides/278-request.guide`,
//! `guides/278-response.guide`) are data, written from public sources that each file
//! cites; lines the sources did not settle are marked `# inferred`. Both answer to the
//! label 005010X217; BHT02 tells them apart (11 response; 01, 13, 36 request).
//! [`register`] adds them to a [`Validator`]. [`events`] walks the patient events of a
//! request with their services ([`Event`], [`Service`]): borrowed accessors with a stable
//! serde form (`x12 json`). The response builder comes with the rest of the 278 work.
//!
//! ```
//! use x12_core::Validator;
//! let v = x12_278::register(Validator::new());
//! assert_eq!(v.guides().count(), 2);
//! ```

mod request;
mod response;
pub mod rules;

pub use request::{events, Delivery, Event, Procedure, Service};
pub use response::{
    rejections_for, respond, Action, Decision, EventDecision, Rejection, Responder,
};

use std::sync::{Arc, LazyLock};
use x12_core::schema::{parse_guide, Guide};
use x12_core::Validator;

/// The implementation guide version this crate targets (GS08 / ST03).
pub const GUIDE_VERSION: &str = "005010X217";

/// Whether a transaction set header (ST01, ST03) names a 278 of this guide.
///
/// ```
/// assert!(x12_278::is_278(b"278", Some(b"005010X217")));
/// assert!(!x12_278::is_278(b"837", Some(b"005010X222A1")));
/// ```
pub fn is_278(st01: &[u8], st03: Option<&[u8]>) -> bool {
    st01 == b"278" && st03.is_none_or(|v| v.starts_with(GUIDE_VERSION.as_bytes()))
}

fn load(name: &str, text: &str) -> Arc<Guide> {
    match parse_guide(name, text) {
        Ok(g) => Arc::new(g),
        // bundled data, parsed by this crate's tests: a failure is a build defect
        Err(e) => panic!("bundled guide table is malformed: {e}"),
    }
}

static REQUEST: LazyLock<Arc<Guide>> = LazyLock::new(|| {
    load(
        "278-request.guide",
        include_str!("../guides/278-request.guide"),
    )
});
static RESPONSE: LazyLock<Arc<Guide>> = LazyLock::new(|| {
    load(
        "278-response.guide",
        include_str!("../guides/278-response.guide"),
    )
});

/// The 278 request table.
pub fn request() -> Arc<Guide> {
    REQUEST.clone()
}

/// The 278 response table.
pub fn response() -> Arc<Guide> {
    RESPONSE.clone()
}

/// Adds the 278 request table (with its rules) and the response table to `v`.
pub fn register(v: Validator) -> Validator {
    v.with_guide(request(), Some(Arc::new(rules::Rules278)))
        .with_guide(response(), None)
}
