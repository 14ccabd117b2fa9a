//! The 278 response builder: given a request and a decision per event and service,
//! writes the response transaction set that echoes the request's hierarchy, as the
//! guide's examples do (3.1.2-3.3.2): every HL level again, the requester's trace
//! (TRN*1) returned as the referenced trace (TRN*2) beside the UMO's own (TRN*1), the UM
//! echoed, and an HCR with the decision after it; certification dates and a message
//! where the decision has them. Segments are put in the order of the response table.

use x12_core::schema::{Child, Guide, LoopRef, LoopTree};
use x12_core::{Delimiters, Segment, TransactionSet, WriteError, Writer};

/// HCR01 action codes (`shared/X12-NOTES.md`, "278 response").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A1: certified in total.
    Certified,
    /// A3: not certified.
    NotCertified,
    /// A4: pended.
    Pended,
    /// A6: modified.
    Modified,
    /// C: cancelled.
    Cancelled,
    /// CT: contact payer.
    ContactPayer,
    /// NA: no action required.
    NoActionRequired,
}

impl Action {
    /// The HCR01 code.
    pub fn code(self) -> &'static str {
        match self {
            Action::Certified => "A1",
            Action::NotCertified => "A3",
            Action::Pended => "A4",
            Action::Modified => "A6",
            Action::Cancelled => "C",
            Action::ContactPayer => "CT",
            Action::NoActionRequired => "NA",
        }
    }
}

/// One decision: HCR01, HCR02, HCR03, certification dates, a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// HCR01.
    pub action: Action,
    /// HCR02: the certification (authorization) number.
    pub certification: Option<String>,
    /// HCR03: the review decision reason code.
    pub reason: Option<String>,
    /// Certification effective (DTP*007) and expiration (DTP*036) dates, CCYYMMDD.
    pub period: Option<(String, String)>,
    /// MSG text (e.g. whom to contact).
    pub message: Option<String>,
}

impl Decision {
    /// A decision with only an action.
    pub fn new(action: Action) -> Self {
        Decision {
            action,
            certification: None,
            reason: None,
            period: None,
            message: None,
        }
    }
}

/// The decisions for one event and its services, in request order. Services without
/// a decision of their own take the event's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDecision {
    /// The event's decision.
    pub event: Decision,
    /// One per 2000F, in order.
    pub services: Vec<Decision>,
}

/// A request rejected at one level: the response carries `AAA*N**reason*follow_up`
/// in that loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The loop (2010A, 2010B, 2010C, 2010D, 2000E, 2000F...).
    pub loop_id: String,
    /// AAA03 reject reason code (72 invalid member id, 73 invalid member name...).
    pub reason: String,
    /// AAA04 follow-up action code (C correct and resubmit, N do not resubmit...).
    pub follow_up: String,
}

/// The AAA rejections a request's validation findings call for, one per level and
/// reason: member id and name problems at 2010C/2010D (72/73, 64/65), birth dates (58),
/// requester id, name, specialty and state at 2010B (43/44/45/47), anything else at
/// its level as input errors (33); follow-up C (correct and resubmit). AAA03 codes as
/// the 270/271 and 278 guides share them (public companion guides).
pub fn rejections_for(issues: &[x12_core::Issue]) -> Vec<Rejection> {
    let mut out: Vec<Rejection> = Vec::new();
    for i in issues.iter().filter(|i| i.is_error()) {
        let Some(loop_id) = i.location.loop_id.as_deref() else {
            continue;
        };
        let seg = i.location.segment_id.as_str();
        let el = i.location.element.unwrap_or(0);
        let reason = match (loop_id, seg, el) {
            ("2010C", "NM1", 9) => "72",
            ("2010C", "NM1", 3 | 4) => "73",
            ("2010D", "NM1", 9) => "64",
            ("2010D", "NM1", 3 | 4) => "65",
            ("2010C" | "2010D", "DMG", 2) => "58",
            ("2010B", "NM1", 8 | 9) => "43",
            ("2010B", "NM1", 3 | 4) => "44",
            ("2010B", "PRV", _) => "45",
            ("2010B", "N4", 2) => "47",
            _ => "33",
        };
        if !out
            .iter()
            .any(|r| r.loop_id == loop_id && r.reason == reason)
        {
            out.push(Rejection {
                loop_id: loop_id.to_string(),
                reason: reason.to_string(),
                follow_up: "C".to_string(),
            });
        }
    }
    out
}

/// Who answers and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Responder {
    /// ST02 of the response.
    pub control_number: String,
    /// BHT04, CCYYMMDD.
    pub date: String,
    /// BHT05, HHMM.
    pub time: String,
    /// TRN03 of the UMO's own trace: "1" and the UMO's 9-digit id (10 characters).
    pub originator: String,
    /// Prefix of the UMO's trace numbers (TRN02), one per event and service.
    pub trace_prefix: String,
    /// Levels at which the request is rejected (AAA).
    pub rejections: Vec<Rejection>,
}

/// Writes the response to `request` (walked into `tree` with the request `guide`)
/// using the `response` table's order, one [`EventDecision`] per event.
pub fn respond(
    request: &TransactionSet,
    tree: &LoopTree,
    guide: &Guide,
    response: &Guide,
    decisions: &[EventDecision],
    who: &Responder,
) -> Result<Vec<u8>, WriteError> {
    let d = Delimiters::default();
    let mut out: Vec<(Vec<u8>, usize)> = Vec::new(); // (segment bytes, sort key) per level
    let mut body: Vec<u8> = Vec::new();
    let mut count = 0usize;
    let root = LoopRef::root(request, tree, guide);
    let mut w = Writer::new(&mut body, d);
    w.write_fields(
        b"ST",
        &[b"278", who.control_number.as_bytes(), b"005010X217"],
    )?;
    count += 1;
    let bht = root.segment("BHT");
    let bht03 = bht.map_or(&b""[..], |s| s.get(3));
    w.write_fields(
        b"BHT",
        &[
            b"0007",
            b"11",
            bht03,
            who.date.as_bytes(),
            who.time.as_bytes(),
            b"18",
        ],
    )?;
    count += 1;
    let (mut event_no, mut service_no, mut trace_no) = (0usize, 0usize, 0usize);
    for node in root.subtree() {
        let decision: Option<Decision> = match node.id() {
            "2000E" => {
                event_no += 1;
                service_no = 0;
                Some(
                    decisions
                        .get(event_no - 1)
                        .map_or(Decision::new(Action::Pended), |e| e.event.clone()),
                )
            }
            "2000F" => {
                service_no += 1;
                let e = decisions.get(event_no.saturating_sub(1));
                Some(
                    e.and_then(|e| e.services.get(service_no - 1).cloned())
                        .or_else(|| e.map(|e| e.event.clone()))
                        .unwrap_or(Decision::new(Action::Pended)),
                )
            }
            _ => None,
        };
        let Some(rloop) = response.loop_by_id(node.id()) else {
            continue;
        };
        out.clear();
        for seg in node.segments() {
            let Some(key) = order(response, rloop, &seg) else {
                continue;
            }; // not in the response
            let mut v = Vec::new();
            let mut sw = Writer::new(&mut v, d);
            if seg.id() == b"TRN" && seg.get(1) == b"1" {
                // the requester's trace comes back as the referenced one
                let mut els: Vec<&[u8]> = seg.elements().map(|e| e.as_bytes()).collect();
                els[0] = b"2";
                sw.write_fields(b"TRN", &els)?;
            } else {
                sw.write_segment(&seg)?;
            }
            out.push((v, key));
        }
        for r in who.rejections.iter().filter(|r| r.loop_id == node.id()) {
            add(
                &mut out,
                response,
                rloop,
                "AAA",
                &[b"N", b"", r.reason.as_bytes(), r.follow_up.as_bytes()],
                d,
            )?;
        }
        if let Some(dec) = &decision {
            trace_no += 1;
            let trace = format!("{}{trace_no:04}", who.trace_prefix);
            add(
                &mut out,
                response,
                rloop,
                "TRN",
                &[b"1", trace.as_bytes(), who.originator.as_bytes()],
                d,
            )?;
            let hcr: Vec<&[u8]> = [
                dec.action.code().as_bytes(),
                dec.certification.as_deref().unwrap_or("").as_bytes(),
                dec.reason.as_deref().unwrap_or("").as_bytes(),
            ]
            .into_iter()
            .collect();
            let keep = hcr.iter().rposition(|e| !e.is_empty()).map_or(1, |i| i + 1);
            add(&mut out, response, rloop, "HCR", &hcr[..keep], d)?;
            if let Some((from, to)) = &dec.period {
                add(
                    &mut out,
                    response,
                    rloop,
                    "DTP*007",
                    &[b"007", b"D8", from.as_bytes()],
                    d,
                )?;
                add(
                    &mut out,
                    response,
                    rloop,
                    "DTP*036",
                    &[b"036", b"D8", to.as_bytes()],
                    d,
                )?;
            }
            if let Some(m) = &dec.message {
                let clean: String = m
                    .chars()
                    .filter(|ch| ch.is_ascii() && !d.is_delimiter(*ch as u8))
                    .take(264)
                    .collect();
                add(&mut out, response, rloop, "MSG", &[clean.as_bytes()], d)?;
            }
        }
        out.sort_by_key(|(_, k)| *k);
        for (v, _) in &out {
            body.extend_from_slice(v);
            count += 1;
        }
    }
    let mut tail = Vec::new();
    let se_count = (count + 1).to_string();
    Writer::new(&mut tail, d)
        .write_fields(b"SE", &[se_count.as_bytes(), who.control_number.as_bytes()])?;
    body.extend_from_slice(&tail);
    Ok(body)
}

/// Writes a segment into the level's list with its place in the response loop.
fn add(
    out: &mut Vec<(Vec<u8>, usize)>,
    response: &Guide,
    rloop: usize,
    what: &str,
    elements: &[&[u8]],
    d: Delimiters,
) -> Result<(), WriteError> {
    // `what` is an id, optionally with the qualifier it is written with ("DTP*007")
    let id = what.split_once('*').map_or(what, |(id, _)| id);
    let mut v = Vec::new();
    Writer::new(&mut v, d).write_fields(id.as_bytes(), elements)?;
    let seg = Segment::new(&v[..v.len() - 1], d);
    let key = order(response, rloop, &seg).unwrap_or(usize::MAX);
    out.push((v, key));
    Ok(())
}

/// The index of the first segment definition in the response loop that takes `seg`
/// (same id, and its qualifier accepts the value), or `None` when the response has no
/// place for it.
fn order(response: &Guide, rloop: usize, seg: &Segment<'_>) -> Option<usize> {
    let l = &response.loops[rloop];
    let mut first_same_id = None;
    for (i, child) in l.children.iter().enumerate() {
        let Child::Segment(s) = child else { continue };
        let def = &response.segments[*s];
        if def.id.as_bytes() != seg.id() {
            continue;
        }
        first_same_id.get_or_insert(i);
        let accepts = match def.qualifier {
            Some((q, None)) => {
                def.elements[q].allows(seg.get(usize::from(def.elements[q].position)))
            }
            _ => true,
        };
        if accepts {
            return Some(i);
        }
    }
    first_same_id
}
