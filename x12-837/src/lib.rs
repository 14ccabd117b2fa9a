//! Health care claims (ASC X12 837): professional (005010X222A1), institutional
//! (005010X223A2) and dental (005010X224A2), over the generic [`x12_core`] reader.
//!
//! This crate is the home of the 837 guide tables, typed claim views and balancing.
//! For now it classifies an 837 transaction set by its guide label.

/// The kind of 837 a version label (GS08 or ST03) names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimKind {
    /// 837P, 005010X222 and its addenda.
    Professional,
    /// 837I, 005010X223 and its addenda.
    Institutional,
    /// 837D, 005010X224 and its addenda.
    Dental,
}

/// Classifies a version label such as `005010X222A1`.
///
/// ```
/// use x12_837::{kind_of, ClaimKind};
/// assert_eq!(kind_of(b"005010X223A2"), Some(ClaimKind::Institutional));
/// assert_eq!(kind_of(b"005010X217"), None);
/// ```
pub fn kind_of(label: &[u8]) -> Option<ClaimKind> {
    match label.get(..10)? {
        b"005010X222" => Some(ClaimKind::Professional),
        b"005010X223" => Some(ClaimKind::Institutional),
        b"005010X224" => Some(ClaimKind::Dental),
        _ => None,
    }
}
