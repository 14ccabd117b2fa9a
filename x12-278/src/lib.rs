//! Prior-approval requests and responses (ASC X12 005010X217), typed over the
//! generic [`x12_core`] reader.
//!
//! This crate is the home of the 278 guide table, typed views and response builder.
//! For now it identifies 278 transaction sets so callers can route them.

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
