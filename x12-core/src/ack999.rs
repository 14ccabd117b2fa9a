//! 999 implementation acknowledgments (005010X231A1), rendered from issues.
//!
//! A 999 is a projection of the [`Issue`] list, not a second validator: each
//! transaction set's errors with IK3/IK4 coordinates become IK3/IK4 segments, its
//! envelope errors become IK5 codes, and group errors become AK9 codes. Facts from
//! `shared/X12-NOTES.md` ("999") and the 999 guide table in `guides/999.guide`.

use crate::envelope::{GroupHeader, GroupReport, InterchangeReport, TransactionSet};
use crate::isa::lossy;
use crate::issue::{Issue, Scope, Severity};
use crate::ta1::{write_isa, AckEnvelope};
use crate::writer::{WriteError, Writer};
use serde::Serialize;

/// IK501 / AK901 acknowledgment codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AckCode {
    /// `A`: accepted.
    Accepted,
    /// `E`: accepted, but errors were noted.
    AcceptedWithErrors,
    /// `P`: partially accepted (AK9 only): some sets were rejected.
    Partial,
    /// `R`: rejected.
    Rejected,
}

impl AckCode {
    /// The code letter.
    pub fn code(self) -> &'static str {
        match self {
            AckCode::Accepted => "A",
            AckCode::AcceptedWithErrors => "E",
            AckCode::Partial => "P",
            AckCode::Rejected => "R",
        }
    }
}

/// Which issues reject a transaction set. By default every error rejects; list the
/// SNIP levels whose errors only mark the set accepted with errors (`E`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AckPolicy {
    /// SNIP levels whose errors give `E` instead of `R`.
    pub accept_with_errors: Vec<u8>,
}

/// One transaction set's response (AK2 loop).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetResponse {
    /// AK201: ST01.
    pub id: String,
    /// AK202: ST02.
    pub control_number: String,
    /// AK203: ST03, when present.
    pub version: String,
    /// IK501.
    pub status: AckCode,
    /// IK502..IK506: set-level syntax error codes.
    pub codes: Vec<&'static str>,
    /// The segment notes, each with its element notes.
    pub segments: Vec<SegmentNote>,
}

/// One IK3 with its CTX and IK4s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentNote {
    /// IK3 contents.
    pub ik3: crate::issue::Ik3,
    /// CTX business-unit context (e.g. `CLM01`, `A37YH556`), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<(String, String)>,
    /// IK4s.
    pub elements: Vec<crate::issue::Ik4>,
}

/// A 999 for one functional group, built set by set.
///
/// ```
/// use x12_core::{Ack999, AckEnvelope, AckPolicy, Item, Reader};
/// let data = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/invalid/se01-count.x12")).unwrap();
/// let mut acks = Vec::new();
/// let mut current = None;
/// for item in Reader::new(&data[..]) {
///     match item.unwrap() {
///         Item::Transaction(set) => {
///             let ack = current.get_or_insert_with(|| Ack999::new(set.group().map(|g| &**g)));
///             ack.add_set(&set, set.issues(), &AckPolicy::default());
///         }
///         Item::GroupEnd(report) => acks.extend(current.take().map(|a| a.finish(&report))),
///         _ => {}
///     }
/// }
/// let ack = &acks[0];
/// assert_eq!(ack.status.code(), "R");
/// assert_eq!(ack.sets[0].codes, ["4"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ack999 {
    /// AK101: GS01 of the acknowledged group.
    pub functional_id: String,
    /// AK102: GS06.
    pub group_control: String,
    /// AK103: GS08.
    pub version: String,
    /// GS02 and GS03 of the acknowledged group (swapped when responding).
    pub sender: String,
    /// GS03 of the acknowledged group.
    pub receiver: String,
    /// The AK2 loops.
    pub sets: Vec<SetResponse>,
    /// AK901.
    pub status: AckCode,
    /// AK902: sets the group says it holds (GE01), or the count read.
    pub included: u32,
    /// AK903: sets received.
    pub received: u32,
    /// AK904: sets accepted (A or E).
    pub accepted: u32,
    /// AK905..: group-level error codes.
    pub group_codes: Vec<&'static str>,
}

impl Ack999 {
    /// Starts a 999 for the group with header `gs` (none when the sets had no GS).
    pub fn new(gs: Option<&GroupHeader>) -> Self {
        let f = |b: Option<&[u8]>| b.map(lossy).unwrap_or_default();
        Ack999 {
            functional_id: echo_text(&f(gs.map(|g| g.functional_id())), 2, 2),
            group_control: echo_number(&f(gs.map(|g| g.control_number())), 9),
            version: echo_text(&f(gs.map(|g| g.version())), 1, 12),
            sender: f(gs.map(|g| g.sender())),
            receiver: f(gs.map(|g| g.receiver())),
            sets: Vec::new(),
            status: AckCode::Accepted,
            included: 0,
            received: 0,
            accepted: 0,
            group_codes: Vec::new(),
        }
    }

    /// Adds one transaction set with every issue found in it (envelope and guide).
    pub fn add_set(&mut self, set: &TransactionSet, issues: &[Issue], policy: &AckPolicy) {
        let mut codes: Vec<&'static str> = Vec::new();
        let mut notes: Vec<SegmentNote> = Vec::new();
        let mut rejected = false;
        let mut noted = false;
        for i in issues
            .iter()
            .filter(|i| i.severity == Severity::Error && i.scope == Scope::Set)
        {
            if policy.accept_with_errors.contains(&i.snip) {
                noted = true;
            } else {
                rejected = true;
            }
            if let Some(c) = i.code.ik502() {
                if !codes.contains(&c) {
                    codes.push(c);
                }
            }
            let Some(ik3) = &i.ik3 else { continue };
            let at = match notes
                .iter()
                .position(|n| n.ik3.position == ik3.position && n.ik3.code == ik3.code)
            {
                Some(at) => at,
                None => {
                    notes.push(SegmentNote {
                        ik3: ik3.clone(),
                        context: i.context.clone(),
                        elements: Vec::new(),
                    });
                    notes.len() - 1
                }
            };
            let note = &mut notes[at];
            // IK301 is a 2-3 character id: an unrecognizable one is cut or padded
            // (IK302 still locates the segment exactly)
            note.ik3.segment_id = echo_text(&note.ik3.segment_id, 2, 3);
            if let Some(ik4) = &i.ik4 {
                if note.elements.len() < 99 {
                    note.elements.push(ik4.clone());
                }
            }
        }
        if !notes.is_empty() && !codes.contains(&"5") {
            codes.push("5");
        }
        codes.truncate(5);
        let status = if rejected {
            AckCode::Rejected
        } else if noted {
            AckCode::AcceptedWithErrors
        } else {
            AckCode::Accepted
        };
        self.received += 1;
        if status != AckCode::Rejected {
            self.accepted += 1;
        }
        let h = set.header();
        self.sets.push(SetResponse {
            id: echo_text(&lossy(h.get(1)), 3, 3),
            control_number: echo_text(&lossy(h.get(2)), 4, 9),
            version: {
                let v = lossy(h.get(3));
                if v.is_empty() {
                    v
                } else {
                    echo_text(&v, 1, 35)
                }
            },
            status,
            codes,
            segments: notes,
        });
    }

    /// Closes the 999 with the group's own findings (GE01, GE02, GS fields, missing GE).
    pub fn finish(mut self, group: &GroupReport) -> Ack999 {
        for i in group.issues.iter().filter(|i| i.is_error()) {
            if let Some(c) = i.code.ak905() {
                if !self.group_codes.contains(&c) {
                    self.group_codes.push(c);
                }
            }
        }
        self.group_codes.truncate(5);
        self.included = if group.trailer {
            group.sets
        } else {
            self.received
        };
        self.status = if !self.group_codes.is_empty() || self.accepted == 0 {
            AckCode::Rejected
        } else if self.accepted < self.received {
            AckCode::Partial
        } else if self
            .sets
            .iter()
            .any(|s| s.status == AckCode::AcceptedWithErrors)
        {
            AckCode::AcceptedWithErrors
        } else {
            AckCode::Accepted
        };
        self
    }

    /// Writes the 999 transaction set (ST..SE) with control number `st02`.
    pub fn write_set<W: std::io::Write>(
        &self,
        w: &mut Writer<W>,
        st02: &str,
    ) -> Result<u32, WriteError> {
        let c = w.delimiters().component;
        let mut n = 0u32;
        let mut put = |w: &mut Writer<W>, id: &[u8], els: &[&[u8]]| -> Result<(), WriteError> {
            // drop trailing empty elements
            let keep = els.iter().rposition(|e| !e.is_empty()).map_or(0, |i| i + 1);
            n += 1;
            w.write_fields(id, &els[..keep])
        };
        put(w, b"ST", &[b"999", st02.as_bytes(), b"005010X231A1"])?;
        put(
            w,
            b"AK1",
            &[
                self.functional_id.as_bytes(),
                self.group_control.as_bytes(),
                self.version.as_bytes(),
            ],
        )?;
        for s in &self.sets {
            put(
                w,
                b"AK2",
                &[
                    s.id.as_bytes(),
                    s.control_number.as_bytes(),
                    s.version.as_bytes(),
                ],
            )?;
            for note in &s.segments {
                let pos = note.ik3.position.to_string();
                put(
                    w,
                    b"IK3",
                    &[
                        note.ik3.segment_id.as_bytes(),
                        pos.as_bytes(),
                        note.ik3.loop_id.as_deref().unwrap_or("").as_bytes(),
                        note.ik3.code.as_bytes(),
                    ],
                )?;
                if let Some((name, value)) = &note.context {
                    let ctx = format!("{name}{}{value}", c as char);
                    put(w, b"CTX", &[ctx.as_bytes()])?;
                }
                for e in &note.elements {
                    let mut p = e.position.to_string();
                    if e.component.is_some() || e.repetition.is_some() {
                        p.push(c as char);
                        if let Some(cp) = e.component {
                            p.push_str(&cp.to_string());
                        }
                    }
                    if let Some(r) = e.repetition {
                        p.push(c as char);
                        p.push_str(&r.to_string());
                    }
                    // IK402 is numeric: a composite's id (C022) is left out
                    let reference = if e.reference.bytes().all(|b| b.is_ascii_digit()) {
                        e.reference.as_str()
                    } else {
                        ""
                    };
                    let value: String = e
                        .value
                        .as_deref()
                        .unwrap_or("")
                        .chars()
                        .filter(|ch| ch.is_ascii() && !w.delimiters().is_delimiter(*ch as u8))
                        .collect();
                    put(
                        w,
                        b"IK4",
                        &[
                            p.as_bytes(),
                            reference.as_bytes(),
                            e.code.as_bytes(),
                            value.as_bytes(),
                        ],
                    )?;
                }
            }
            let mut ik5: Vec<&[u8]> = vec![s.status.code().as_bytes()];
            ik5.extend(s.codes.iter().map(|c| c.as_bytes()));
            put(w, b"IK5", &ik5)?;
        }
        let (inc, rec, acc) = (
            self.included.to_string(),
            self.received.to_string(),
            self.accepted.to_string(),
        );
        let mut ak9: Vec<&[u8]> = vec![
            self.status.code().as_bytes(),
            inc.as_bytes(),
            rec.as_bytes(),
            acc.as_bytes(),
        ];
        ak9.extend(self.group_codes.iter().map(|c| c.as_bytes()));
        put(w, b"AK9", &ak9)?;
        let count = (n + 1).to_string();
        w.write_fields(b"SE", &[count.as_bytes(), st02.as_bytes()])?;
        Ok(n + 1)
    }
}

/// A numeric control number echoed in a 999 (N0): its digits, or 0 when it had none,
/// so a broken header still gets a well-formed acknowledgment.
fn echo_number(v: &str, max: usize) -> String {
    let d: String = v.chars().filter(char::is_ascii_digit).take(max).collect();
    if d.is_empty() {
        "0".into()
    } else {
        d
    }
}

/// An identifier echoed in a 999 (AN min-max): printable characters only, cut to the
/// maximum and left-padded with zeros to the minimum.
fn echo_text(v: &str, min: usize, max: usize) -> String {
    let t: String = v
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(max)
        .collect();
    format!("{t:0>min$}")
}

/// The group header of an acknowledgment interchange: GS01, the application sender and
/// receiver (GS02/GS03, already addressed back to the original sender) and GS08.
#[derive(Debug, Clone, Copy)]
pub struct AckGroup<'a> {
    /// GS01 (`FA` for a 999, `HN` for a 277CA).
    pub functional_id: &'a str,
    /// GS02.
    pub sender: &'a str,
    /// GS03.
    pub receiver: &'a str,
    /// GS08 (`005010X231A1`, `005010X214`).
    pub version: &'a str,
}

/// Writes an acknowledgment interchange holding one functional group: the ISA that
/// answers `report`, GS from `group` (dated `gs_date`, control number = ISA13), `sets`
/// transaction sets written by `write_set` (given the writer, the set's index and its
/// ST02 `0001`, `0002`...), GE and IEA.
pub fn write_ack_interchange(
    report: &InterchangeReport,
    env: &AckEnvelope,
    gs_date: &str,
    group: AckGroup<'_>,
    sets: usize,
    mut write_set: impl FnMut(&mut Writer<Vec<u8>>, usize, &str) -> Result<(), WriteError>,
) -> Result<Vec<u8>, WriteError> {
    let mut w = Writer::new(Vec::with_capacity(512), crate::Delimiters::default());
    write_isa(&mut w, report, env)?;
    let gs06 = env.control_number.to_string();
    w.write_fields(
        b"GS",
        &[
            group.functional_id.as_bytes(),
            group.sender.as_bytes(),
            group.receiver.as_bytes(),
            gs_date.as_bytes(),
            env.time.as_bytes(),
            gs06.as_bytes(),
            b"X",
            group.version.as_bytes(),
        ],
    )?;
    for n in 0..sets {
        write_set(&mut w, n, &format!("{:04}", n + 1))?;
    }
    let count = sets.to_string();
    w.write_fields(b"GE", &[count.as_bytes(), gs06.as_bytes()])?;
    let icn = format!("{:09}", env.control_number);
    w.write_fields(b"IEA", &[b"1", icn.as_bytes()])?;
    Ok(w.into_inner())
}

/// Renders a whole acknowledgment interchange holding one functional group (GS*FA)
/// with a 999 for each of `acks`, addressed back to the sender of `report`.
pub fn render_999_interchange(
    report: &InterchangeReport,
    acks: &[Ack999],
    env: &AckEnvelope,
    gs_date: &str,
) -> Result<Vec<u8>, WriteError> {
    let (app_sender, app_receiver) = acks
        .first()
        .map(|a| (a.receiver.clone(), a.sender.clone()))
        .unwrap_or_default();
    let or = |s: String, d: &str| if s.len() >= 2 { s } else { d.to_string() };
    let (sender, receiver) = (or(app_sender, "RECEIVER"), or(app_receiver, "SENDER"));
    let group = AckGroup {
        functional_id: "FA",
        sender: &sender,
        receiver: &receiver,
        version: "005010X231A1",
    };
    write_ack_interchange(report, env, gs_date, group, acks.len(), |w, n, st02| {
        acks[n].write_set(w, st02).map(drop)
    })
}
