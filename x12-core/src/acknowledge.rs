//! Acknowledging whole inputs: a TA1 (when due) and a 999 per functional group for
//! each interchange, from one streaming pass.

use crate::ack999::{Ack999, AckPolicy};
use crate::envelope::{InterchangeReport, Item};
use crate::schema::LoopTree;
use crate::ta1::{Ta1, Ta1Policy};
use crate::validate::Validator;
use crate::Reader;
use std::io::Read;

/// The acknowledgments of one interchange. Functional groups of acknowledgments
/// (GS01 `FA`) get no 999: an acknowledgment is not acknowledged.
#[derive(Debug, Clone)]
pub struct InterchangeAcks {
    /// What the envelope checks found.
    pub report: InterchangeReport,
    /// The TA1 verdict (none without an ISA).
    pub ta1: Option<Ta1>,
    /// Whether the TA1 must be sent (ISA14 = 1 or not accepted).
    pub ta1_due: bool,
    /// One 999 per functional group, in order.
    pub groups: Vec<Ack999>,
}

/// Reads `source` once and acknowledges every interchange in it: each transaction set
/// is validated against the guides `validator` knows.
///
/// ```
/// use x12_core::{acknowledge, Validator};
/// let data = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/invalid/iea02-control.x12")).unwrap();
/// let acks = acknowledge(&data[..], &Validator::new(), false).unwrap();
/// assert_eq!(acks.len(), 1);
/// assert!(acks[0].ta1_due);
/// assert_eq!(acks[0].ta1.as_ref().unwrap().note.code(), "001");
/// assert_eq!(acks[0].groups.len(), 1);
/// ```
pub fn acknowledge<R: Read>(
    source: R,
    validator: &Validator,
    duplicate: bool,
) -> std::io::Result<Vec<InterchangeAcks>> {
    let mut out = Vec::new();
    let mut groups = Vec::new();
    let mut current: Option<Ack999> = None;
    let mut tree = LoopTree::default();
    let policy = AckPolicy::default();
    for item in Reader::new(source) {
        match item? {
            Item::Transaction(set) => {
                let (_, issues) = validator.check_set(&set, &mut tree);
                current
                    .get_or_insert_with(|| Ack999::new(set.group().map(|g| &**g)))
                    .add_set(&set, &issues, &policy);
            }
            Item::GroupEnd(report) => {
                let ack = current
                    .take()
                    .unwrap_or_else(|| Ack999::new(report.header.as_deref()));
                // acknowledgments (GS01 FA: 999, 997) are never acknowledged themselves
                let is_ack = report
                    .header
                    .as_ref()
                    .is_some_and(|h| h.functional_id() == b"FA");
                if !is_ack {
                    groups.push(ack.finish(&report));
                }
            }
            Item::InterchangeEnd(report) => {
                let ta1 = Ta1::from_report(&report, duplicate, &Ta1Policy::default());
                let ta1_due = ta1.as_ref().is_some_and(|t| t.is_due(&report));
                out.push(InterchangeAcks {
                    report,
                    ta1,
                    ta1_due,
                    groups: std::mem::take(&mut groups),
                });
            }
            Item::Segment(_) => {}
        }
    }
    Ok(out)
}
