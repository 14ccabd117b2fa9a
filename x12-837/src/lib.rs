//! # x12-837
//!
//! Health care claims (ASC X12 837) over the generic [`x12_core`] engine:
//! professional (005010X222A1), institutional (005010X223A2) and dental (005010X224A2).
//!
//! * **Guide tables** (`guides/*.guide`, data read once at first use): every loop,
//!   segment and element of the three guides with usage, repeats, lengths and codes.
//!   [`professional`], [`institutional`], [`dental`] return them; [`register`] adds all
//!   three, with their rules, to a [`Validator`]. Common version labels map to the
//!   right table (X222, X222A1, X222A2; X223, X223A1, X223A2, X223A3; X224, X224A2,
//!   X224A3); the validator reports which table it used.
//! * **Rules** beyond the tables ([`rules::Rules837`]): claim and COB balancing (SNIP
//!   3), HL/LX numbering, the patient-loop, service-date and diagnosis-pointer rules
//!   (SNIP 4), NPI check digits and code shapes (SNIP 5).
//! * **Typed views** ([`claims`], [`Claim`], [`Line`], [`Party`]): thin borrowed
//!   accessors over the loop tree, lazily iterated, with a stable serde form.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use x12_core::schema::{LoopRef, LoopTree};
//! use x12_core::{Item, Reader, Validator};
//! let validator = x12_837::register(Validator::new());
//! let data = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/valid/837p-minimal.x12"))?;
//! let mut tree = LoopTree::default();
//! for item in Reader::new(&data[..]) {
//!     if let Item::Transaction(set) = item? {
//!         let (guide, issues) = validator.check_set(&set, &mut tree);
//!         let guide = guide.expect("an 837P table");
//!         assert_eq!(guide.version, "005010X222A1");
//!         assert!(issues.is_empty(), "{issues:#?}");
//!         for claim in x12_837::claims(LoopRef::root(&set, &tree, guide)) {
//!             assert_eq!(claim.id(), "PFP0001");
//!             assert_eq!(claim.lines().count(), 2);
//!             assert_eq!(claim.billing_provider().and_then(|p| p.npi()), Some("1234567893"));
//!         }
//!     }
//! }
//! # Ok(()) }
//! ```

pub mod ack277;
pub mod amount;
mod claim;
pub mod rules;

pub use ack277::{
    render_277ca_interchange, Ack277, Ack277Error, Ack277Options, ClaimNumbers, ClaimSequence,
};
pub use claim::{claims, Attachment, Claim, Diagnosis, Line, Party, Qualified};

use std::sync::{Arc, LazyLock};
use x12_core::schema::{parse_guide, Guide};
use x12_core::Validator;

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

fn load(name: &str, text: &str) -> Arc<Guide> {
    match parse_guide(name, text) {
        Ok(g) => Arc::new(g),
        // The tables are part of this crate and are parsed by its tests: a failure
        // here is a build defect, not bad input.
        Err(e) => panic!("bundled guide table is malformed: {e}"),
    }
}

static PROFESSIONAL: LazyLock<Arc<Guide>> =
    LazyLock::new(|| load("837p.guide", include_str!("../guides/837p.guide")));
static INSTITUTIONAL: LazyLock<Arc<Guide>> =
    LazyLock::new(|| load("837i.guide", include_str!("../guides/837i.guide")));

/// The 837P table (005010X222A1).
pub fn professional() -> Arc<Guide> {
    PROFESSIONAL.clone()
}

/// The 837I table (005010X223A2).
pub fn institutional() -> Arc<Guide> {
    INSTITUTIONAL.clone()
}

static DENTAL: LazyLock<Arc<Guide>> =
    LazyLock::new(|| load("837d.guide", include_str!("../guides/837d.guide")));

/// The 837D table (005010X224A2).
pub fn dental() -> Arc<Guide> {
    DENTAL.clone()
}

static CLAIM_ACK: LazyLock<Arc<Guide>> =
    LazyLock::new(|| load("277ca.guide", include_str!("../guides/277ca.guide")));

/// The 277CA claim acknowledgment table (005010X214).
pub fn x277ca() -> Arc<Guide> {
    CLAIM_ACK.clone()
}

/// Adds the 837 guides (and the 277CA that answers them) and their rules to `v`.
pub fn register(v: Validator) -> Validator {
    use rules::{Kind837, Rules837};
    v.with_guide(
        professional(),
        Some(Arc::new(Rules837 {
            kind: Kind837::Professional,
        })),
    )
    .with_guide(
        institutional(),
        Some(Arc::new(Rules837 {
            kind: Kind837::Institutional,
        })),
    )
    .with_guide(
        dental(),
        Some(Arc::new(Rules837 {
            kind: Kind837::Dental,
        })),
    )
    .with_guide(x277ca(), None)
}
