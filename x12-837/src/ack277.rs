//! 277CA claim acknowledgments (005010X214), built from an 837 transaction set that
//! passed the 999 and the issues found in it.
//!
//! A 277CA answers each claim of an accepted (or accepted-with-errors) 837 set: accepted
//! into adjudication, with the payer claim control number the gateway assigns, or
//! rejected, with the claim status codes and the entity that point at the failing data.
//! It is a projection of the [`Issue`] list, like the 999: an error located inside a
//! claim's 2300 loop (or its 2400 lines), or in a loop the claim hangs under (its
//! billing provider 2000A/2010AA, subscriber 2000B/2010BA, patient 2000C/2010CA),
//! rejects that claim; errors in the set header or the submitter and receiver loops
//! reject no claim (the 999 reported them).
//!
//! The hierarchy follows the 277CA table (`guides/277ca.guide`, generated from pyx12's
//! map `277.5010.X214.xml`): 2000A information source (the payer) with its receipt
//! and process dates, 2000B information receiver (the 837's submitter) with the batch
//! status and the totals of accepted and rejected claims (`QTY*90`/`QTY*AA`,
//! `AMT*YU`/`AMT*YY`), one 2000C per billing provider with its own totals
//! (`QTY*QA`/`QTY*QC`), and one 2000D patient per claim with the claim's TRN, STC,
//! REF and service dates. Rejected service lines get a 2220D.
//!
//! ## Status codes
//!
//! Category codes (code source 507) and status codes (code source 508) used here, each
//! present in pyx12 4.0.0 `map/codes.xml` (`claim_status_cat`, `claim_status`). Meanings
//! from public copies of the code lists: category codes from X12's external code list
//! page (x12.org/codes/claim-status-category-codes) and eMedNY's ePACES help page
//! "Claim Status Codes"; status codes from the public copies of the WPC list
//! (medicarepaymentandreimbursement.com "Health Care Claim Status Codes (full)",
//! primeclinical.com "5010 Claim Status Codes"; 109 as worded in codingbooks.com's
//! "Health Care Claim Status Codes", "Entity not eligible. Note: This code requires
//! use of an Entity Code."); usage of 145 with entity 85 for a
//! billing provider taxonomy from Stedi's changelog "Claim edit: Invalid taxonomy
//! code" (`STC*A7>145>85`), of 562 with entity 85 from Office Ally's "A3, 562 and
//! Entity 85" and Humana Military's NPI page (`A7:562:85`, `A8:562:85`). X12's RFI 2203
//! states that the 277CA has no "accepted with warnings" status (A2 is accepted, A3,
//! A6, A7, A8 are rejections; STC03 `WQ` accepts, `U` rejects) and RFI 1942 that batch
//! 277CAs use only category `A` codes.
//!
//! | code | meaning | used for |
//! |---|---|---|
//! | A1 | Acknowledgement/Receipt: received, not yet accepted for adjudication | 2200B and 2200C batch status |
//! | A2 | Acknowledgement/Acceptance into adjudication system | accepted claims (999 `A` or `E`) |
//! | A6 | Acknowledgement/Rejected for Missing Information | missing segment, loop or element |
//! | A7 | Acknowledgement/Rejected for Invalid Information | invalid value |
//! | A8 | Acknowledgement/Rejected for relational field in error | a valid value that does not match reference data (SNIP 7 code value `7`: taxonomy or location not on the provider file for the NPI on the date of service) |
//! | 0 | Cannot provide further status electronically | an error no row below names (the 999 locates it) |
//! | 19 | Entity acknowledges receipt of claim/encounter (entity code required) | 2200B/2200C with entity PR |
//! | 20 | Accepted for processing | accepted claims |
//! | 109 | Entity not eligible (entity code required) | SNIP 7 relational finding (IK403 `7`) on the NM109 of the subscriber (IL) or patient (QC): no eligibility span of the member covers the claim's dates of service |
//! | 145 | Entity's specialty/taxonomy code (entity code required) | PRV findings |
//! | 178 | Submitted charges | CLM02 |
//! | 187 | Date(s) of service | DTP findings (with A8: a date of service no eligibility span of the member covers, when other claims of the member are covered) |
//! | 255 | Diagnosis code | HI findings |
//! | 400 | Claim is out of balance | balancing (SNIP 3) |
//! | 454 | Procedure code for services rendered | SV1/SV2/SV3 findings |
//! | 500 | Entity's Postal/Zip Code (entity code required) | N4 ZIP, or a provider with no location |
//! | 562 | Entity's National Provider Identifier (NPI) (entity code required) | NM108/NM109 NPI findings |
//!
//! The entity code (STC01-3) is the NM101 of the loop holding the failing segment (for
//! 2000A/2000B/2000C, of its name loop: 85 billing provider, IL subscriber, QC
//! patient), kept only when the 277CA table lists it for 2200D STC01-3.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use x12_core::schema::{LoopRef, LoopTree};
//! use x12_core::{Delimiters, Item, Reader, Validator, Writer};
//! use x12_837::ack277::{Ack277, Ack277Options, ClaimSequence};
//! let validator = x12_837::register(Validator::new());
//! let data = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/valid/837p-minimal.x12"))?;
//! let mut tree = LoopTree::default();
//! let mut numbers = ClaimSequence::new("24075", 1);
//! let opts = Ack277Options::dated("20240315", "1200");
//! for item in Reader::new(&data[..]) {
//!     if let Item::Transaction(set) = item? {
//!         let (guide, issues) = validator.check_set(&set, &mut tree);
//!         let root = LoopRef::root(&set, &tree, guide.expect("an 837P table"));
//!         let ack = Ack277::build(root, &issues, &opts, &mut numbers)?;
//!         assert_eq!(ack.totals(), ((1, "150".into()), (0, "0".into())));
//!         let mut w = Writer::new(Vec::new(), Delimiters::default());
//!         ack.write_set(&mut w, "0001")?;
//!         let text = String::from_utf8(w.into_inner())?;
//!         assert!(text.contains("TRN*2*PFP0001~STC*A2:20*20240315*WQ*150~REF*1K*240750000001~"));
//!         assert!(text.contains("DTP*472*D8*20240301~"));
//!     }
//! }
//! # Ok(()) }
//! ```

use crate::amount::Amount;
use crate::claim::{claims, Claim, Line};
use std::fmt;
use x12_core::schema::{text, Guide, LoopRef, NONE};
use x12_core::{
    write_ack_interchange, AckEnvelope, AckGroup, Code, Delimiters, InterchangeReport, Issue,
    Segment, WriteError, Writer,
};

/// Why a 277CA could not be built or written.
#[derive(Debug)]
pub enum Ack277Error {
    /// The set was not read with an 837 guide table (its guide id is given).
    NotAClaimSet(String),
    /// Writing failed.
    Write(WriteError),
}

impl fmt::Display for Ack277Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ack277Error::NotAClaimSet(id) => write!(
                f,
                "a 277CA answers an 837 claim set; this set was read with the {id:?} table"
            ),
            Ack277Error::Write(e) => write!(f, "writing the 277CA failed: {e}"),
        }
    }
}

impl std::error::Error for Ack277Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Ack277Error::Write(e) => Some(e),
            Ack277Error::NotAClaimSet(_) => None,
        }
    }
}

impl From<WriteError> for Ack277Error {
    fn from(e: WriteError) -> Self {
        Ack277Error::Write(e)
    }
}

/// Hands out payer claim control numbers (REF*1K) for accepted claims. The caller
/// persists whatever state it needs, so numbers are never reused.
pub trait ClaimNumbers {
    /// The next number, for `claim`.
    fn next_number(&mut self, claim: &Claim<'_>) -> String;
}

/// A prefix and a counter: `prefix` followed by the counter as seven digits
/// (`24075` and 1 give `240750000001`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimSequence {
    /// Text before the counter (e.g. the Julian date `YYDDD`).
    pub prefix: String,
    /// The next counter value.
    pub next: u64,
}

impl ClaimSequence {
    /// A sequence starting at `next`.
    pub fn new(prefix: &str, next: u64) -> Self {
        ClaimSequence {
            prefix: prefix.to_string(),
            next,
        }
    }
}

impl ClaimNumbers for ClaimSequence {
    fn next_number(&mut self, _claim: &Claim<'_>) -> String {
        let n = self.next;
        self.next = self.next.wrapping_add(1);
        format!("{}{n:07}", self.prefix)
    }
}

/// A party as the 277CA names it (NM1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Name {
    /// NM101 entity identifier (PR, 41, 85, QC).
    pub entity: String,
    /// NM102: 1 person, 2 organization.
    pub kind: String,
    /// NM103 last or organization name.
    pub last: String,
    /// NM104 first name.
    pub first: String,
    /// NM105 middle name.
    pub middle: String,
    /// NM107 suffix.
    pub suffix: String,
    /// NM108 identification code qualifier.
    pub qualifier: String,
    /// NM109 identifier.
    pub id: String,
}

/// Settings of one 277CA: who sends it and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack277Options {
    /// The information source (2100A, NM1*PR); `None` names the 837's receiver (1000B)
    /// with qualifier 46.
    pub source: Option<Name>,
    /// DTP*050: the date the 837 was received (CCYYMMDD).
    pub receipt_date: String,
    /// DTP*009, BHT04 and the STC effective dates (CCYYMMDD).
    pub process_date: String,
    /// BHT05 (HHMM).
    pub time: String,
    /// 2200A TRN02, the information source's trace of this 277CA; empty uses the 837's
    /// ST02.
    pub trace: String,
}

impl Ack277Options {
    /// Options with the receipt and process date `date` (CCYYMMDD) and time `time`.
    pub fn dated(date: &str, time: &str) -> Self {
        Ack277Options {
            source: None,
            receipt_date: date.to_string(),
            process_date: date.to_string(),
            time: time.to_string(),
            trace: String::new(),
        }
    }
}

/// One STC01 (or STC10/STC11) status composite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Category code (code source 507): A2, A3, A6, A7, A8.
    pub category: &'static str,
    /// Status code (code source 508).
    pub code: &'static str,
    /// Entity identifier code, when the status points at one.
    pub entity: Option<String>,
}

/// A rejected service line (2220D).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineAck {
    /// SVC01 qualifier (HC, AD, NU...).
    pub qualifier: String,
    /// SVC01 code (procedure, or the revenue code under NU).
    pub code: String,
    /// Procedure modifiers.
    pub modifiers: Vec<String>,
    /// SVC02 line charge.
    pub charge: String,
    /// SVC04 revenue code (837I with a procedure).
    pub revenue: String,
    /// SVC07 units.
    pub units: String,
    /// The line's statuses (at most three).
    pub statuses: Vec<Status>,
    /// REF*FJ: the 837's line item control number (REF*6R).
    pub control_number: String,
    /// DTP*472: qualifier (D8/RD8) and date, when the line has one.
    pub date: Option<(String, String)>,
}

/// One claim's acknowledgment (2000D/2200D).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimAck {
    /// The patient (2100D, NM1*QC).
    pub patient: Name,
    /// TRN02: CLM01, the patient control number.
    pub patient_control_number: String,
    /// CLM02 as written.
    pub charge: String,
    /// Accepted into adjudication.
    pub accepted: bool,
    /// STC01, STC10, STC11 (at most three).
    pub statuses: Vec<Status>,
    /// REF*1K, for accepted claims.
    pub payer_claim_number: Option<String>,
    /// REF*D9: the clearinghouse's claim id from the 837 (2300 REF*D9).
    pub clearinghouse_id: Option<String>,
    /// REF*BLT: the type of bill (837I: facility code and frequency).
    pub bill_type: Option<String>,
    /// DTP*472: D8 or RD8 and the claim's service period.
    pub service_period: (String, String),
    /// Rejected lines (2220D).
    pub lines: Vec<LineAck>,
}

/// One billing provider (2000C) with its claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderAck {
    /// NM1*85.
    pub name: Name,
    /// 2200C TRN02.
    pub trace: String,
    /// Its claims, in 837 order.
    pub claims: Vec<ClaimAck>,
}

/// A 277CA transaction set answering one 837 set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack277 {
    /// BHT03: the 837's BHT03.
    pub reference: String,
    /// BHT04, DTP*009 and the STC dates.
    pub process_date: String,
    /// DTP*050.
    pub receipt_date: String,
    /// BHT05.
    pub time: String,
    /// 2100A.
    pub source: Name,
    /// 2200A TRN02.
    pub trace: String,
    /// 2100B: the 837's submitter.
    pub receiver: Name,
    /// 2200B TRN02: the 837's BHT03 (claim transaction batch number).
    pub batch: String,
    /// 2000C loops.
    pub providers: Vec<ProviderAck>,
}

/// Status codes used (see the module table).
mod codes {
    pub const RECEIVED: (&str, &str) = ("A1", "19");
    pub const ACCEPTED: (&str, &str) = ("A2", "20");
    pub const MISSING: &str = "A6";
    pub const INVALID: &str = "A7";
    pub const RELATIONAL: &str = "A8";
    pub const NO_FURTHER: &str = "0";
    pub const TAXONOMY: &str = "145";
    pub const CHARGES: &str = "178";
    pub const SERVICE_DATES: &str = "187";
    pub const DIAGNOSIS: &str = "255";
    pub const OUT_OF_BALANCE: &str = "400";
    pub const PROCEDURE: &str = "454";
    pub const ZIP: &str = "500";
    pub const NPI: &str = "562";
    pub const NOT_ELIGIBLE: &str = "109";
}

/// The entity codes the 277CA table allows in 2200D STC01-3.
fn allowed_entities(guide: &Guide) -> Vec<String> {
    guide
        .loop_by_id("2200D")
        .and_then(|l| guide.segment_in(l, "STC"))
        .and_then(|s| s.element(1))
        .and_then(|e| e.components.get(2))
        .map(|c| c.codes.clone())
        .unwrap_or_default()
}

fn name_of(seg: Option<Segment<'_>>, entity: &str) -> Name {
    let g = |n: usize| seg.map_or(String::new(), |s| text(s.get(n)).to_string());
    Name {
        entity: entity.to_string(),
        kind: g(2),
        last: g(3),
        first: g(4),
        middle: g(5),
        suffix: g(7),
        qualifier: g(8),
        id: g(9),
    }
}

/// Whether segment index `idx` (its loop node `node`) concerns `claim`: inside the
/// claim's loops, or in a loop the claim hangs under (the set itself excluded).
fn concerns(claim: LoopRef<'_>, idx: u32, node: u32) -> bool {
    let tree = claim.tree;
    let Some(n) = tree.nodes.get(claim.node as usize) else {
        return false;
    };
    if (n.first_segment..n.end_segment).contains(&idx) {
        return true;
    }
    // a name loop (2010AA, 2010BA...) of a level the claim hangs under concerns it too
    let name_loop_of = tree.nodes.get(node as usize).and_then(|m| {
        let id = &claim.guide.loops.get(m.loop_index as usize)?.id;
        id.starts_with("2010").then_some(m.parent)
    });
    let mut cur = n.parent;
    while cur != NONE && cur != 0 {
        if cur == node || name_loop_of == Some(cur) {
            return true;
        }
        cur = tree.nodes.get(cur as usize).map_or(NONE, |p| p.parent);
    }
    false
}

/// Whether [`Ack277::build`] would reject at least one claim of the set for `issue`:
/// it is an error with a segment position (IK3) inside a claim's loops (2300, 2400...)
/// or in a loop a claim hangs under (its billing provider, subscriber or patient level
/// and their name loops). An error without a position, or in the set header or the
/// submitter (1000A) and receiver (1000B) loops, concerns no claim.
///
/// A gateway that accepts a set with errors (999 `E`) relies on the 277CA to reject
/// the claims they are in; an error no claim carries must reject the set in the 999.
pub fn concerns_a_claim(root: LoopRef<'_>, issue: &Issue) -> bool {
    if !issue.is_error() {
        return false;
    }
    let Some(idx) = issue.ik3.as_ref().and_then(|l| l.position.checked_sub(1)) else {
        return false;
    };
    let Some(node) = root.tree.segments.get(idx as usize).map(|s| s.node) else {
        return false;
    };
    claims(root).any(|c| concerns(c.node, idx, node))
}

/// NM101 of the loop `node`, or of its first child name loop for an HL level.
fn entity_of(root: LoopRef<'_>, node: u32, allowed: &[String]) -> Option<String> {
    let l = LoopRef { node, ..root };
    let nm1 = l.segment("NM1").or_else(|| {
        l.segments()
            .next()
            .filter(|s| s.id() == b"HL")
            .and_then(|_| l.children().find_map(|c| c.segment("NM1")))
    })?;
    let e = text(nm1.get(1));
    allowed.iter().any(|a| a == e).then(|| e.to_string())
}

fn is_missing(issue: &Issue) -> bool {
    matches!(
        issue.code,
        Code::MissingSegment | Code::MissingLoop | Code::MissingElement
    ) || issue
        .ik4
        .as_ref()
        .is_some_and(|e| matches!(e.code, "1" | "2" | "I9"))
}

/// The status of one error located at segment index `idx`.
fn status_of(root: LoopRef<'_>, issue: &Issue, idx: u32, allowed: &[String]) -> Status {
    let tree = root.tree;
    let node = tree.segments.get(idx as usize).map_or(NONE, |s| s.node);
    let entity = if node == NONE {
        None
    } else {
        entity_of(root, node, allowed)
    };
    let seg = tree.segment(root.set, idx);
    let element = issue.ik4.as_ref().map(|e| e.position);
    let relational = issue.snip == 7 && issue.ik4.as_ref().is_some_and(|e| e.code == "7");
    let mut missing = is_missing(issue);
    let code = match (seg.id(), element) {
        _ if issue.code == Code::Balancing => codes::OUT_OF_BALANCE,
        (b"PRV", _) => codes::TAXONOMY,
        (b"NM1", Some(9)) if relational && matches!(seg.get(1), b"IL" | b"QC") => {
            codes::NOT_ELIGIBLE
        }
        (b"NM1", Some(8 | 9)) => codes::NPI,
        (b"NM1", None) if issue.snip == 7 => {
            // a provider check on the party itself: say what the party lacks
            let l = LoopRef { node, ..root };
            let has_prv = l.segment("PRV").is_some()
                || l.parent().is_some_and(|p| {
                    p.segments().next().is_some_and(|s| s.id() == b"HL")
                        && p.segment("PRV").is_some()
                });
            missing = true;
            if !has_prv {
                codes::TAXONOMY
            } else if l.segment("N3").is_none() || l.segment("N4").is_none() {
                codes::ZIP
            } else if seg.get(8) != b"XX" || seg.get(9).is_empty() {
                codes::NPI
            } else {
                missing = false;
                codes::NO_FURTHER
            }
        }
        (b"N4", Some(3)) => codes::ZIP,
        (b"DTP", _) => codes::SERVICE_DATES,
        (b"HI", _) => codes::DIAGNOSIS,
        (b"SV1" | b"SV2" | b"SV3", _) => codes::PROCEDURE,
        (b"CLM", Some(2)) => codes::CHARGES,
        _ => codes::NO_FURTHER,
    };
    let category = if relational {
        codes::RELATIONAL
    } else if missing {
        codes::MISSING
    } else {
        codes::INVALID
    };
    Status {
        category,
        code,
        entity,
    }
}

fn push_status(out: &mut Vec<Status>, s: Status) {
    if out.len() < 3 && !out.contains(&s) {
        out.push(s);
    }
}

/// `(qualifier, value)` for a service period from `from`/`to` dates (CCYYMMDD).
fn period(from: &str, to: &str) -> (String, String) {
    if to.is_empty() || from == to {
        ("D8".into(), from.to_string())
    } else {
        ("RD8".into(), format!("{from}-{to}"))
    }
}

/// The claim's service period: claim-level DTP*472, else the 837I statement dates
/// (DTP*434), else the span of the line dates; the 837's BHT04 when none is given.
fn service_period(claim: &Claim<'_>, fallback: &str) -> (String, String) {
    let split = |v: &str| -> (String, String) {
        match v.split_once('-') {
            Some((a, b)) => period(a, b),
            None => period(v, ""),
        }
    };
    for q in ["472", "434"] {
        if let Some(s) = claim.node.qualified("DTP", q) {
            let v = text(s.get(3));
            if !v.is_empty() {
                return split(v);
            }
        }
    }
    let mut dates: Vec<&str> = Vec::new();
    for line in claim.lines() {
        if let Some(d) = line.service_date() {
            let (a, b) = d.split_once('-').unwrap_or((d, d));
            dates.push(a);
            dates.push(b);
        }
    }
    dates.retain(|d| d.len() == 8);
    match (dates.iter().min(), dates.iter().max()) {
        (Some(a), Some(b)) => period(a, b),
        _ => period(fallback, ""),
    }
}

fn line_ack(line: &Line<'_>, statuses: Vec<Status>) -> LineAck {
    let (_, units) = line.units();
    let (qualifier, code, revenue) = match (line.procedure_code(), line.revenue_code()) {
        ("", rev) => ("NU".to_string(), rev.to_string(), String::new()),
        (p, rev) => (
            line.procedure_qualifier().to_string(),
            p.to_string(),
            rev.to_string(),
        ),
    };
    LineAck {
        qualifier,
        code,
        modifiers: line.modifiers().iter().map(|m| m.to_string()).collect(),
        charge: line.charge().to_string(),
        revenue,
        units: units.to_string(),
        statuses,
        control_number: line
            .node
            .qualified("REF", "6R")
            .map_or(String::new(), |s| text(s.get(2)).to_string()),
        date: line.node.qualified("DTP", "472").map(|s| {
            let v = text(s.get(3));
            match v.split_once('-') {
                Some((a, b)) => period(a, b),
                None => period(v, ""),
            }
        }),
    }
}

impl Ack277 {
    /// Builds the 277CA for one 837 set: `root` is the set's loop tree read with its
    /// 837 guide, `issues` every issue found in it (the validator's list). Errors that
    /// concern a claim reject it; every other claim is accepted and gets the next
    /// number from `numbers`.
    pub fn build(
        root: LoopRef<'_>,
        issues: &[Issue],
        opts: &Ack277Options,
        numbers: &mut dyn ClaimNumbers,
    ) -> Result<Ack277, Ack277Error> {
        if crate::kind_of(root.guide.version.as_bytes()).is_none() {
            return Err(Ack277Error::NotAClaimSet(root.guide.id.clone()));
        }
        let allowed = allowed_entities(&crate::x277ca());
        let bht = root.segment("BHT");
        let bht03 = bht.map_or("", |s| text(s.get(3)));
        let bht04 = bht.map_or("", |s| text(s.get(4)));
        let submitter = root.child("1000A").and_then(|l| l.segment("NM1"));
        let receiver_837 = root.child("1000B").and_then(|l| l.segment("NM1"));
        let source = opts.source.clone().unwrap_or_else(|| {
            let mut n = name_of(receiver_837, "PR");
            n.kind = "2".into();
            n.qualifier = "46".into();
            n.first.clear();
            n.middle.clear();
            n.suffix.clear();
            n
        });
        let mut receiver = name_of(submitter, "41");
        receiver.qualifier = "46".into();
        let st02 = text(root.set.control_number());
        // located errors: (segment index, node, issue)
        let located: Vec<(u32, u32, &Issue)> = issues
            .iter()
            .filter(|i| i.is_error())
            .filter_map(|i| {
                let idx = i.ik3.as_ref()?.position.checked_sub(1)?;
                let node = root.tree.segments.get(idx as usize)?.node;
                Some((idx, node, i))
            })
            .collect();
        let mut providers: Vec<(u32, ProviderAck)> = Vec::new();
        for claim in claims(root) {
            let mut statuses = Vec::new();
            let mut lines: Vec<(u32, Vec<Status>)> = Vec::new();
            for (idx, node, issue) in &located {
                if !concerns(claim.node, *idx, *node) {
                    continue;
                }
                let s = status_of(root, issue, *idx, &allowed);
                let line = claim
                    .lines()
                    .find(|l| {
                        let n = &root.tree.nodes[l.node.node as usize];
                        (n.first_segment..n.end_segment).contains(idx)
                    })
                    .map(|l| l.node.node);
                if let Some(l) = line {
                    match lines.iter_mut().find(|(n, _)| *n == l) {
                        Some((_, v)) => push_status(v, s.clone()),
                        None => lines.push((l, vec![s.clone()])),
                    }
                }
                push_status(&mut statuses, s);
            }
            let accepted = statuses.is_empty();
            if accepted {
                statuses.push(Status {
                    category: codes::ACCEPTED.0,
                    code: codes::ACCEPTED.1,
                    entity: None,
                });
            }
            let billing = claim.node.ancestor("2000A");
            let billing_node = billing.map_or(NONE, |b| b.node);
            let patient = claim.patient().map(|p| p.node.segment("NM1"));
            let mut patient = name_of(patient.flatten(), "QC");
            patient.kind = "1".into();
            if patient.id.is_empty() {
                patient.id = claim
                    .subscriber()
                    .and_then(|s| s.node.segment("NM1"))
                    .map_or(String::new(), |s| text(s.get(9)).to_string());
            }
            patient.qualifier = "MI".into();
            let bill_type = (crate::kind_of(root.guide.version.as_bytes())
                == Some(crate::ClaimKind::Institutional))
            .then(|| format!("{}{}", claim.facility_code(), claim.frequency()))
            .filter(|b| b.len() >= 2);
            let ack = ClaimAck {
                patient,
                patient_control_number: claim.id().to_string(),
                charge: claim.total_charge().to_string(),
                accepted,
                statuses,
                payer_claim_number: accepted.then(|| numbers.next_number(&claim)),
                clearinghouse_id: claim
                    .node
                    .qualified("REF", "D9")
                    .map(|s| text(s.get(2)).to_string())
                    .filter(|s| !s.is_empty()),
                bill_type,
                service_period: service_period(&claim, bht04),
                lines: claim
                    .lines()
                    .filter_map(|l| {
                        let (_, st) = lines.iter().find(|(n, _)| *n == l.node.node)?;
                        Some(line_ack(&l, st.clone()))
                    })
                    .collect(),
            };
            match providers.iter_mut().find(|(n, _)| *n == billing_node) {
                Some((_, p)) => p.claims.push(ack),
                None => {
                    let nm1 = billing
                        .and_then(|b| b.child("2010AA"))
                        .and_then(|l| l.segment("NM1"));
                    let hl = billing.map_or("", |b| b.value("HL", 1));
                    providers.push((
                        billing_node,
                        ProviderAck {
                            name: name_of(nm1, "85"),
                            trace: format!("{st02}-{hl}"),
                            claims: vec![ack],
                        },
                    ));
                }
            }
        }
        Ok(Ack277 {
            reference: bht03.to_string(),
            process_date: opts.process_date.clone(),
            receipt_date: opts.receipt_date.clone(),
            time: opts.time.clone(),
            source,
            trace: if opts.trace.is_empty() {
                st02.to_string()
            } else {
                opts.trace.clone()
            },
            receiver,
            batch: bht03.to_string(),
            providers: providers.into_iter().map(|(_, p)| p).collect(),
        })
    }

    /// Every claim, in order.
    pub fn claims(&self) -> impl Iterator<Item = &ClaimAck> {
        self.providers.iter().flat_map(|p| p.claims.iter())
    }

    /// `((accepted count, accepted charges), (rejected count, rejected charges))`.
    pub fn totals(&self) -> ((u32, String), (u32, String)) {
        let (a, r) = totals(self.claims());
        ((a.0, a.1.to_string()), (r.0, r.1.to_string()))
    }

    /// Writes the 277CA transaction set (ST..SE) with control number `st02`; returns
    /// the segment count.
    pub fn write_set<W: std::io::Write>(
        &self,
        w: &mut Writer<W>,
        st02: &str,
    ) -> Result<u32, WriteError> {
        let d = w.delimiters();
        let c = d.component as char;
        let mut n = 0u32;
        let mut put = |w: &mut Writer<W>, id: &[u8], els: &[&str]| -> Result<(), WriteError> {
            let keep = els.iter().rposition(|e| !e.is_empty()).map_or(0, |i| i + 1);
            let clean: Vec<String> = els[..keep].iter().map(|e| clean(e, d)).collect();
            let refs: Vec<&[u8]> = clean.iter().map(|e| e.as_bytes()).collect();
            n += 1;
            w.write_fields(id, &refs)
        };
        let composite = |s: &Status| -> String {
            match &s.entity {
                Some(e) => format!("{}{c}{}{c}{e}", s.category, s.code),
                None => format!("{}{c}{}", s.category, s.code),
            }
        };
        // names hold no component separator (NM1 has no composites)
        let name = |n: &Name| -> Vec<String> {
            [
                &n.entity,
                &n.kind,
                &n.last,
                &n.first,
                &n.middle,
                "",
                &n.suffix,
                &n.qualifier,
                &n.id,
            ]
            .iter()
            .map(|v| v.chars().filter(|ch| *ch != c).collect())
            .collect()
        };
        put(w, b"ST", &["277", st02, "005010X214"])?;
        put(
            w,
            b"BHT",
            &[
                "0085",
                "08",
                &self.reference,
                &self.process_date,
                &self.time,
                "TH",
            ],
        )?;
        let mut hl = 0u32;
        let mut next_hl = || {
            hl += 1;
            hl
        };
        // 2000A information source
        let source_hl = next_hl().to_string();
        put(w, b"HL", &[&source_hl, "", "20", "1"])?;
        let mut src = self.source.clone();
        // 2100A: the payer is an organization; name parts beyond NM103 are not used
        src.kind = "2".into();
        src.first.clear();
        src.middle.clear();
        src.suffix.clear();
        let els = name(&src);
        put(
            w,
            b"NM1",
            &els.iter().map(String::as_str).collect::<Vec<_>>(),
        )?;
        put(w, b"TRN", &["1", &self.trace])?;
        put(w, b"DTP", &["050", "D8", &self.receipt_date])?;
        put(w, b"DTP", &["009", "D8", &self.process_date])?;
        // 2000B information receiver
        let receiver_hl = next_hl().to_string();
        let has_providers = if self.providers.is_empty() { "0" } else { "1" };
        put(w, b"HL", &[&receiver_hl, &source_hl, "21", has_providers])?;
        let mut rcv = self.receiver.clone();
        rcv.suffix.clear();
        let els = name(&rcv);
        put(
            w,
            b"NM1",
            &els.iter().map(String::as_str).collect::<Vec<_>>(),
        )?;
        put(w, b"TRN", &["2", &self.batch])?;
        let ((acc_n, acc_amt), (rej_n, rej_amt)) = totals(self.claims());
        let all = (acc_amt + rej_amt).to_string();
        let received = composite(&Status {
            category: codes::RECEIVED.0,
            code: codes::RECEIVED.1,
            entity: Some("PR".into()),
        });
        let action = |accepted: u32| if accepted > 0 { "WQ" } else { "U" };
        put(
            w,
            b"STC",
            &[&received, &self.process_date, action(acc_n), &all],
        )?;
        write_totals(
            &mut put,
            w,
            ("90", "AA"),
            (acc_n, acc_amt),
            (rej_n, rej_amt),
        )?;
        for p in &self.providers {
            // 2000C billing provider
            let provider_hl = next_hl().to_string();
            put(w, b"HL", &[&provider_hl, &receiver_hl, "19", "1"])?;
            let els = name(&p.name);
            put(
                w,
                b"NM1",
                &els.iter().map(String::as_str).collect::<Vec<_>>(),
            )?;
            put(w, b"TRN", &["1", &p.trace])?;
            let ((pa_n, pa_amt), (pr_n, pr_amt)) = totals(p.claims.iter());
            let all = (pa_amt + pr_amt).to_string();
            // 2200C STC02 is not used
            put(w, b"STC", &[&received, "", action(pa_n), &all])?;
            write_totals(&mut put, w, ("QA", "QC"), (pa_n, pa_amt), (pr_n, pr_amt))?;
            for claim in &p.claims {
                // 2000D patient (HL04 not used)
                let patient_hl = next_hl().to_string();
                put(w, b"HL", &[&patient_hl, &provider_hl, "PT"])?;
                let els = name(&claim.patient);
                put(
                    w,
                    b"NM1",
                    &els.iter().map(String::as_str).collect::<Vec<_>>(),
                )?;
                put(w, b"TRN", &["2", &claim.patient_control_number])?;
                let mut stc: Vec<String> = vec![
                    composite(&claim.statuses[0]),
                    self.process_date.clone(),
                    if claim.accepted { "WQ" } else { "U" }.into(),
                    claim.charge.clone(),
                ];
                if claim.statuses.len() > 1 {
                    stc.resize(9, String::new());
                    stc.extend(claim.statuses[1..].iter().map(composite));
                }
                put(
                    w,
                    b"STC",
                    &stc.iter().map(String::as_str).collect::<Vec<_>>(),
                )?;
                if let Some(num) = &claim.payer_claim_number {
                    put(w, b"REF", &["1K", num])?;
                }
                if let Some(d9) = &claim.clearinghouse_id {
                    put(w, b"REF", &["D9", d9])?;
                }
                if let Some(blt) = &claim.bill_type {
                    put(w, b"REF", &["BLT", blt])?;
                }
                put(
                    w,
                    b"DTP",
                    &["472", &claim.service_period.0, &claim.service_period.1],
                )?;
                for line in &claim.lines {
                    let mut svc01 = format!("{}{c}{}", line.qualifier, line.code);
                    for m in &line.modifiers {
                        svc01.push(c);
                        svc01.push_str(m);
                    }
                    put(
                        w,
                        b"SVC",
                        &[&svc01, &line.charge, "", &line.revenue, "", "", &line.units],
                    )?;
                    let mut stc: Vec<String> = vec![
                        line.statuses.first().map(composite).unwrap_or_default(),
                        self.process_date.clone(),
                        "U".into(),
                    ];
                    if line.statuses.len() > 1 {
                        stc.resize(9, String::new());
                        stc.extend(line.statuses[1..].iter().map(composite));
                    }
                    put(
                        w,
                        b"STC",
                        &stc.iter().map(String::as_str).collect::<Vec<_>>(),
                    )?;
                    if !line.control_number.is_empty() {
                        put(w, b"REF", &["FJ", &line.control_number])?;
                    }
                    if let Some((q, v)) = &line.date {
                        put(w, b"DTP", &["472", q, v])?;
                    }
                }
            }
        }
        let count = (n + 1).to_string();
        w.write_fields(b"SE", &[count.as_bytes(), st02.as_bytes()])?;
        Ok(n + 1)
    }
}

type Put<'p, W> = dyn FnMut(&mut Writer<W>, &[u8], &[&str]) -> Result<(), WriteError> + 'p;

/// QTY and AMT of accepted and rejected claims, each only when its count is not zero.
fn write_totals<W: std::io::Write>(
    put: &mut Put<'_, W>,
    w: &mut Writer<W>,
    (acc_q, rej_q): (&str, &str),
    (acc_n, acc_amt): (u32, Amount),
    (rej_n, rej_amt): (u32, Amount),
) -> Result<(), WriteError> {
    if acc_n > 0 {
        put(w, b"QTY", &[acc_q, &acc_n.to_string()])?;
    }
    if rej_n > 0 {
        put(w, b"QTY", &[rej_q, &rej_n.to_string()])?;
    }
    if acc_n > 0 {
        put(w, b"AMT", &["YU", &acc_amt.to_string()])?;
    }
    if rej_n > 0 {
        put(w, b"AMT", &["YY", &rej_amt.to_string()])?;
    }
    Ok(())
}

fn totals<'c>(claims: impl Iterator<Item = &'c ClaimAck>) -> ((u32, Amount), (u32, Amount)) {
    let mut acc = (0u32, Amount(0));
    let mut rej = (0u32, Amount(0));
    for c in claims {
        let amt = Amount::parse(&c.charge).unwrap_or_default();
        let t = if c.accepted { &mut acc } else { &mut rej };
        t.0 += 1;
        t.1 = t.1 + amt;
    }
    (acc, rej)
}

/// A value made safe to write: printable ASCII without the output delimiters.
fn clean(v: &str, d: Delimiters) -> String {
    v.chars()
        .filter(|ch| {
            // composites are joined with the component separator before this
            ch.is_ascii()
                && !ch.is_ascii_control()
                && (*ch == d.component as char || !d.is_delimiter(*ch as u8))
        })
        .collect()
}

/// Renders a whole interchange (ISA/GS*HN/ST..SE/GE/IEA) holding one 277CA set per
/// entry of `acks`, addressed back to the sender of the 837 interchange `report`;
/// `group` is the GS02/GS03 of the acknowledged 837 group (swapped here).
pub fn render_277ca_interchange(
    report: &InterchangeReport,
    group: (&str, &str),
    acks: &[Ack277],
    env: &AckEnvelope,
    gs_date: &str,
) -> Result<Vec<u8>, WriteError> {
    let id = |s: &str, d: &str| -> String {
        let t: String = s
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == ' ')
            .take(15)
            .collect();
        if t.trim().len() >= 2 {
            t.trim().to_string()
        } else {
            d.to_string()
        }
    };
    let (sender, receiver) = (id(group.1, "RECEIVER"), id(group.0, "SENDER"));
    let group = AckGroup {
        functional_id: "HN",
        sender: &sender,
        receiver: &receiver,
        version: "005010X214",
    };
    write_ack_interchange(report, env, gs_date, group, acks.len(), |w, n, st02| {
        acks[n].write_set(w, st02).map(drop)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_entities_come_from_the_guide() {
        let allowed = allowed_entities(&crate::x277ca());
        for e in ["85", "82", "IL", "QC", "PR", "77"] {
            assert!(allowed.iter().any(|a| a == e), "{e} in {allowed:?}");
        }
        assert!(!allowed.iter().any(|a| a == "ZZ"));
    }

    #[test]
    fn periods() {
        assert_eq!(period("20240301", ""), ("D8".into(), "20240301".into()));
        assert_eq!(
            period("20240301", "20240301"),
            ("D8".into(), "20240301".into())
        );
        assert_eq!(
            period("20240301", "20240310"),
            ("RD8".into(), "20240301-20240310".into())
        );
    }
}
