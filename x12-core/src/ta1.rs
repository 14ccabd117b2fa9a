//! TA1 interchange acknowledgments, rendered from an [`InterchangeReport`].

use crate::envelope::InterchangeReport;
use crate::isa::{trim_end, ISA_LEN};
use crate::issue::{Severity, Ta1Note};
use crate::writer::{WriteError, Writer};
use serde::Serialize;

/// TA104, the interchange acknowledgment code. Serialized as `A`, `E` or `R`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ta1Ack {
    /// `A`: accepted, no errors.
    Accepted,
    /// `E`: accepted with errors noted.
    AcceptedWithErrors,
    /// `R`: rejected.
    Rejected,
}

impl Serialize for Ta1Ack {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl Ta1Ack {
    /// The code written in TA104.
    pub fn code(self) -> &'static str {
        match self {
            Ta1Ack::Accepted => "A",
            Ta1Ack::AcceptedWithErrors => "E",
            Ta1Ack::Rejected => "R",
        }
    }
}

/// Which TA1 notes reject an interchange and which only mark it accepted with errors.
/// Structural notes reject by default; list the ones a trading partner agreement
/// tolerates in `accept_with_errors`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ta1Policy {
    /// Notes that yield `E` instead of `R`.
    pub accept_with_errors: Vec<Ta1Note>,
}

/// One TA1 segment's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ta1 {
    /// TA101: the acknowledged interchange's ISA13.
    pub control_number: String,
    /// TA102: its ISA09.
    pub date: String,
    /// TA103: its ISA10.
    pub time: String,
    /// TA104.
    pub ack: Ta1Ack,
    /// TA105.
    pub note: Ta1Note,
}

/// The sender's side of an acknowledgment interchange: our control number and clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckEnvelope {
    /// ISA13 of the acknowledgment interchange (1..=999_999_999).
    pub control_number: u32,
    /// ISA09, YYMMDD.
    pub date: String,
    /// ISA10, HHMM.
    pub time: String,
}

impl Ta1 {
    /// The TA1 for an interchange, or `None` when there was no ISA to acknowledge.
    /// `duplicate` is the caller's knowledge that this sender already sent this ISA13
    /// (note 025). The first interchange-level error with a note decides TA104/TA105.
    pub fn from_report(
        report: &InterchangeReport,
        duplicate: bool,
        policy: &Ta1Policy,
    ) -> Option<Ta1> {
        let h = report.header.as_ref()?;
        let first = report
            .issues
            .iter()
            .filter(|i| i.severity == Severity::Error)
            .find_map(|i| i.ta1_note);
        let note = if duplicate {
            Ta1Note::DuplicateControlNumber
        } else {
            first.unwrap_or(Ta1Note::NoError)
        };
        let ack = if note == Ta1Note::NoError {
            Ta1Ack::Accepted
        } else if policy.accept_with_errors.contains(&note) {
            Ta1Ack::AcceptedWithErrors
        } else {
            Ta1Ack::Rejected
        };
        let s = |b: &[u8]| String::from_utf8_lossy(trim_end(b)).into_owned();
        Some(Ta1 {
            control_number: s(h.control_number()),
            date: s(h.date()),
            time: s(h.time()),
            ack,
            note,
        })
    }

    /// Whether a TA1 must be sent: the sender asked (ISA14 = 1) or it is not a plain accept.
    pub fn is_due(&self, report: &InterchangeReport) -> bool {
        self.ack != Ta1Ack::Accepted || report.header.as_ref().is_some_and(|h| h.ack_requested())
    }

    /// Renders a whole acknowledgment interchange (ISA, TA1, IEA) addressed back to the
    /// sender of `report`, with its delimiters when they are usable.
    ///
    /// ```
    /// use x12_core::{AckEnvelope, Item, Reader, Ta1, Ta1Policy};
    /// let input = b"ISA*00*          *00*          *ZZ*SUBMITTER      *ZZ*RECEIVER       *240101*1200*^*00501*000000123*1*P*:~IEA*1*000000123~";
    /// let report = Reader::new(&input[..]).filter_map(Result::ok).find_map(|i| match i {
    ///     Item::InterchangeEnd(r) => Some(r),
    ///     _ => None,
    /// }).unwrap();
    /// let ta1 = Ta1::from_report(&report, false, &Ta1Policy::default()).unwrap();
    /// assert_eq!((ta1.ack.code(), ta1.note.code().as_str()), ("R", "021"));
    /// let env = AckEnvelope { control_number: 7, date: "240102".into(), time: "0800".into() };
    /// let out = String::from_utf8(ta1.render(&report, &env).unwrap()).unwrap();
    /// assert!(out.contains("*ZZ*RECEIVER       *ZZ*SUBMITTER      *240102*0800*^*00501*000000007*0*P*:~"));
    /// assert!(out.contains("TA1*000000123*240101*1200*R*021~IEA*0*000000007~"));
    /// ```
    pub fn render(
        &self,
        report: &InterchangeReport,
        env: &AckEnvelope,
    ) -> Result<Vec<u8>, WriteError> {
        let d = report
            .header
            .as_ref()
            .map(|h| h.delimiters())
            .filter(|d| d.are_distinct() && d.repetition.is_some())
            .filter(|d| {
                [d.element, d.component, d.segment]
                    .iter()
                    .all(|b| crate::delimiters::usable_as_delimiter(*b))
            })
            .unwrap_or_default();
        let mut w = Writer::new(Vec::with_capacity(ISA_LEN + 64), d);
        write_isa(&mut w, report, env)?;
        w.write_fields(
            b"TA1",
            &[
                self.control_number.as_bytes(),
                self.date.as_bytes(),
                self.time.as_bytes(),
                self.ack.code().as_bytes(),
                self.note.code().as_bytes(),
            ],
        )?;
        let icn = format!("{:09}", env.control_number);
        w.write_fields(b"IEA", &[b"0", icn.as_bytes()])?;
        Ok(w.into_inner())
    }
}

/// Writes the ISA of an acknowledgment interchange: sender and receiver swapped,
/// our control number, date and time, no TA1 requested, the original usage indicator.
pub fn write_isa<W: std::io::Write>(
    w: &mut Writer<W>,
    report: &InterchangeReport,
    env: &AckEnvelope,
) -> Result<(), WriteError> {
    let d = w.delimiters();
    let h = report.header.as_ref();
    let qual = |b: Option<&[u8]>| -> String {
        match b {
            Some(q) if crate::isa::QUALIFIERS.contains(&q) => {
                String::from_utf8_lossy(q).into_owned()
            }
            _ => "ZZ".into(),
        }
    };
    let id = |b: Option<&[u8]>| -> String {
        let s: String = String::from_utf8_lossy(b.unwrap_or(b"UNKNOWN"))
            .chars()
            .filter(|c| c.is_ascii() && !d.is_delimiter(*c as u8))
            .take(15)
            .collect();
        format!("{s:<15}")
    };
    let usage = match h.map(|h| h.usage()) {
        Some(b"T") => "T",
        _ => "P",
    };
    let rep = [d.repetition.unwrap_or(b'^')];
    let comp = [d.component];
    let icn = format!("{:09}", env.control_number);
    let (rq, ri) = (
        qual(h.map(|h| h.receiver_qualifier())),
        id(h.map(|h| h.receiver_id())),
    );
    let (sq, si) = (
        qual(h.map(|h| h.sender_qualifier())),
        id(h.map(|h| h.sender_id())),
    );
    let fields: [&[u8]; 16] = [
        b"00",
        b"          ",
        b"00",
        b"          ",
        rq.as_bytes(),
        ri.as_bytes(),
        sq.as_bytes(),
        si.as_bytes(),
        env.date.as_bytes(),
        env.time.as_bytes(),
        &rep,
        b"00501",
        icn.as_bytes(),
        b"0",
        usage.as_bytes(),
        &comp,
    ];
    w.write_fields(b"ISA", &fields)
}
