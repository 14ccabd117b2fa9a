//! PWK attachments of 278 requests and 837 claims: the parts that need no daemon.
//!
//! | module | holds |
//! |---|---|
//! | [`pwk`] | every PWK reference of a 278 or 837 with its place, report type, transmission and control number ([`AttachmentRef`]) |
//! | [`sniff`] | the content type of an upload from its magic bytes, with a size limit ([`sniff()`], [`ContentType`], [`SniffError`]) |
//! | [`destination`] | the vendor that receives a paper attachment, from the item's routing ([`destinations`], [`Unrouted`]) |
//! | [`cover`] | the fax/mail cover sheet PDF with a Code 128 barcode of the control number ([`CoverSheet`]) |
//!
//! `x12 cover-sheets FILE` writes the cover sheets of every `FX` and `BM` reference of
//! a file. The daemon's part — the upload endpoint, storage beside the transaction,
//! linking an upload to the item that cites it, vendor access, pending reports and
//! cover sheets in the partner's outbox — builds on these
//! ([`crate::daemon::attachments`]).
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use gatewayd::attachments::{cover_sheets, references, Transmission};
//! use gatewayd::route::{route_set, Lookups, Router};
//! use x12_core::schema::{LoopRef, LoopTree};
//! use x12_core::{Item, Reader};
//! let router = Router::bundled()?;
//! let data = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/valid/278-request.x12"))?;
//! let validator = gatewayd::guides::validator();
//! let mut tree = LoopTree::default();
//! for item in Reader::new(&data[..]) {
//!     let Item::Transaction(set) = item? else { continue };
//!     let (guide, _) = validator.check_set(&set, &mut tree);
//!     let guide = guide.ok_or("no guide")?;
//!     let refs = references(LoopRef::root(&set, &tree, guide), guide);
//!     assert_eq!(refs[0].control_number, "ATT0001");
//!     assert_eq!(refs[0].transmission, Transmission::Fax);
//!     let routing = route_set(&router, &set, &tree, guide, &Lookups::default());
//!     let sheets = cover_sheets(&refs[0], &routing, router.table())?;
//!     assert_eq!(sheets[0].vendor_id, "csra");
//!     assert_eq!(sheets[0].fax.as_deref(), Some("855-710-1964"));
//!     assert!(sheets[0].render()?.starts_with(b"%PDF-"));
//! }
//! # Ok(()) }
//! ```

pub mod cover;
pub mod destination;
pub mod pwk;
pub mod sniff;

pub use cover::{code128_modules, file_name, CoverError, CoverSheet};
pub use destination::{cover_sheets, destinations, Destination, Unrouted};
pub use pwk::{references, AttachmentRef, ItemKind, Transmission};
pub use sniff::{sniff, sniff_head, ContentType, SniffError};
