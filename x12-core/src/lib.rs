//! # x12-core
//!
//! A zero-copy, streaming reader for ASC X12 interchanges (HIPAA 5010), with the
//! envelope checks, TA1 acknowledgments and a writer that round-trips.
//!
//! The crate has two layers, like `csv-core` under `csv`:
//!
//! * the **core** knows bytes and states: [`Segment`] is a borrowed view of one
//!   segment (identifier, elements, components, repetitions — all `&[u8]` slices of
//!   the input); the [`Decoder`] is a sans-I/O state machine that finds segments with
//!   `memchr` on the terminator, reads the ISA with `nom`, and checks the envelope
//!   (ISA/IEA, GS/GE, ST/SE: counts, control numbers, dates, structure);
//! * the **readers** drive it: [`Reader`] over `std::io::Read` and [`AsyncReader`] over
//!   tokio's `AsyncRead` hand out one [`Item`] at a time — envelope segments, whole
//!   transaction sets ([`TransactionSet`], an owned `bytes::Bytes` with borrowed segment
//!   views), and reports closing each group and interchange. Memory is bounded by the
//!   largest transaction set, not by the file. [`Segments`] iterates an in-memory input
//!   with no checks and no copies.
//!
//! Nothing is hard-coded: delimiters come from each ISA (element separator, ISA11
//! repetition separator, ISA16 component separator, the byte after ISA16 as terminator),
//! and CR/LF after terminators, a byte-order mark or white space before the ISA are
//! tolerated and reported.
//!
//! Every problem in the data is an [`Issue`]: a severity, a stable [`Code`], a sentence,
//! and a [`Location`] (byte offset, segment position in the file and in the set, segment
//! id, element) plus the acknowledgment code it maps to. Readers never fail on bad data,
//! only on I/O errors; a TA1 is a rendering of the issues ([`Ta1::from_report`]).
//!
//! ## Reading a file
//!
//! ```
//! # fn main() -> std::io::Result<()> {
//! use x12_core::{Item, Reader};
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/valid/837p-minimal.x12");
//! for item in Reader::new(std::fs::File::open(path)?) {
//!     match item? {
//!         Item::Transaction(set) => {
//!             println!("{} {} with {} segments", String::from_utf8_lossy(set.id()),
//!                 String::from_utf8_lossy(set.control_number()), set.segment_count());
//!             for seg in set.segments() {
//!                 if seg.segment.id() == b"CLM" {
//!                     let claim_id = seg.segment.get(1);
//!                     assert!(!claim_id.is_empty());
//!                 }
//!             }
//!             for issue in set.issues() {
//!                 eprintln!("{issue}");
//!             }
//!         }
//!         Item::InterchangeEnd(report) => assert!(!report.has_errors()),
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! ## Validating against a guide
//!
//! Guides are data ([`schema`]: a text table per implementation guide, read once). A
//! [`Validator`] picks the table for each transaction set by its version label, walks
//! the segments into a loop tree (SNIP 1-2), runs the guide's own rules (SNIP 3-7,
//! supplied by the crates that know the transaction, through [`GuideRules`]) and returns
//! every finding with its 999 coordinates. [`acknowledge`] turns a whole input into
//! TA1s and 999s.
//!
//! ```
//! # fn main() -> std::io::Result<()> {
//! use x12_core::{acknowledge, Item, Reader, Validator};
//! use x12_core::schema::LoopTree;
//! let validator = Validator::with_core_guides(); // knows the 999; x12-837 and x12-278 add theirs
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/public/imsweb__x12-parser/x12_999_rejected.txt");
//! let data = std::fs::read(path)?;
//! let mut tree = LoopTree::default();
//! for item in Reader::new(&data[..]) {
//!     if let Item::Transaction(set) = item? {
//!         let (guide, issues) = validator.check_set(&set, &mut tree);
//!         assert_eq!(guide.map(|g| g.id.as_str()), Some("999"));
//!         assert!(issues.is_empty());
//!     }
//! }
//! let acks = acknowledge(&data[..], &validator, false)?;
//! assert!(acks[0].groups.is_empty(), "acknowledgments are not acknowledged");
//! # Ok(()) }
//! ```
//!
//! ## Cookbook
//!
//! * Element `NM109` of a segment: `seg.get(9)`; component 2 of `CLM05`:
//!   `seg.element(5).and_then(|e| e.component(2))`; repetitions of `HI01`:
//!   `seg.element(1).map(|e| e.repetitions())`.
//! * Round-trip a file: feed every [`Segments`] item to [`Writer::write_ref`] of a
//!   [`Writer::preserving`] writer with the same delimiters.
//! * Change delimiters: [`Writer::new`] with other [`Delimiters`] and
//!   [`Writer::write_segment`].
//! * Acknowledge an interchange: [`Ta1::from_report`] then [`Ta1::render`].

#![warn(missing_docs)]

mod ack999;
mod acknowledge;
pub mod codesets;
pub mod datetime;
mod decoder;
mod delimiters;
mod envelope;
pub mod guides;
mod isa;
mod issue;
mod reader;
pub mod schema;
mod segment;
mod segments;
mod summary;
mod ta1;
mod tokenize;
mod validate;
mod writer;

pub use ack999::{
    render_999_interchange, write_ack_interchange, Ack999, AckCode, AckGroup, AckPolicy,
    SegmentNote, SetResponse,
};
pub use acknowledge::{acknowledge, InterchangeAcks};
pub use decoder::{Decoder, ReaderOptions};
pub use delimiters::Delimiters;
pub use envelope::{
    GroupHeader, GroupReport, InterchangeReport, Item, RawSegment, SegmentRef, SetSegments,
    TransactionSet,
};
pub use isa::{InterchangeHeader, IsaError, ISA_LEN, ISA_WIDTHS};
pub use issue::{Code, Ik3, Ik4, Issue, Location, Scope, Severity, Ta1Note};
#[cfg(feature = "tokio")]
pub use reader::AsyncReader;
pub use reader::{Reader, CHUNK};
pub use segment::{Element, Elements, Segment, Split};
pub use segments::Segments;
pub use summary::Summary;
pub use ta1::{write_isa, AckEnvelope, Ta1, Ta1Ack, Ta1Policy};
pub use validate::{GuideEntry, GuideRules, Validator};
pub use writer::{WriteError, Writer};
