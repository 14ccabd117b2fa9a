//! Routing features (ROUTING.md §2): what the rules look at, extracted once per request
//! and per line from the typed 278 and 837 views.
//!
//! A [`Request`] holds what every line inherits (diagnoses, DRG, age inputs, plan,
//! facility code, transport locations); a [`Line`] holds what belongs to one 2000F
//! service or 2400 line (service type after §1.6 inheritance, procedure, modifiers,
//! servicing provider, date of service). Missing input stays `None`, so that a rule key
//! that needs it does not match (§1.5).
//!
//! Choices where ROUTING.md leaves room (marked VERIFY there):
//! * ICD-10-PCS on a 278 line: SV101-1 / SV202-1 qualifier `ID` or `ZZ`
//!   ([`PCS_QUALIFIERS_278`]); at the event level, HI `BBR` / `BBQ`.
//! * ICD-10-PCS of an 837I (HI `BBR` / `BBQ`) are claim-level: request-scope rules see
//!   them, line rules see only the line's own codes.
//! * The servicing provider of a 278 is the first 2010F (else 2010EA) whose NM101 is
//!   SJ (service provider), FA (facility) or 77 (service location).

use super::value::{Code, Date};
use serde::Serialize;
use x12_278::{Event, Service};
use x12_837::{Claim, ClaimKind};
use x12_core::schema::{text, LoopRef, Party};

/// 278 service qualifiers read as ICD-10-PCS (VERIFY against the NCTracks companion guide).
pub const PCS_QUALIFIERS_278: [&str; 2] = ["ID", "ZZ"];
/// HI qualifiers read as ICD-10-CM diagnoses.
pub const DX_QUALIFIERS: [&str; 5] = ["ABK", "ABF", "ABJ", "APR", "ABN"];
/// HI qualifiers read as ICD-10-PCS procedures.
pub const PCS_HI_QUALIFIERS: [&str; 2] = ["BBR", "BBQ"];
/// 2010EA / 2010F entity codes that name the servicing provider or location.
pub const SERVICING_ENTITIES: [&str; 3] = ["SJ", "FA", "77"];
/// 2010EB entity codes that are transport locations.
pub const TRANSPORT_ENTITIES: [&str; 5] = ["PW", "45", "FS", "ND", "R3"];

/// The transaction a request came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Transaction {
    /// 278 request (005010X217).
    #[serde(rename = "278")]
    X278,
    /// 837P.
    #[serde(rename = "837P")]
    P837,
    /// 837I.
    #[serde(rename = "837I")]
    I837,
    /// 837D.
    #[serde(rename = "837D")]
    D837,
}

impl Transaction {
    /// The table's spelling (`278`, `837P`...).
    pub fn name(self) -> &'static str {
        match self {
            Transaction::X278 => "278",
            Transaction::P837 => "837P",
            Transaction::I837 => "837I",
            Transaction::D837 => "837D",
        }
    }

    /// Bit for a transaction mask.
    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// The transaction of a table spelling.
    pub fn from_name(s: &str) -> Option<Transaction> {
        [
            Transaction::X278,
            Transaction::P837,
            Transaction::I837,
            Transaction::D837,
        ]
        .into_iter()
        .find(|t| t.name() == s)
    }
}

/// A facility code: place of service (qualifier B) or the first two type-of-bill digits (A).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Facility {
    /// Place of service.
    Pos(Code),
    /// Type of bill, first two digits.
    BillType(Code),
}

/// Where the servicing provider is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Servicing {
    /// N402 state.
    pub state: Code,
    /// Border provider (within 40 miles), when a provider file says; `None` = unknown.
    pub border: Option<bool>,
    /// The provider's NPI (NM109 with NM108 XX), to look the border flag up.
    pub npi: Option<Code>,
    /// N403 ZIP code, to look the border flag up.
    pub zip: Option<Code>,
}

fn servicing_of(p: &Party<'_>) -> Option<Servicing> {
    let (_, state, zip) = p.city_state_zip();
    Some(Servicing {
        state: code(state)?,
        border: None,
        npi: p.npi().and_then(code),
        zip: code(zip),
    })
}

/// A bit set of segment ids present ([`super::table::KNOWN_SEGMENTS`] order).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Segments(pub u16);

impl Segments {
    /// The bit of a segment id, if routing knows it.
    pub fn bit(id: &[u8]) -> Option<u16> {
        super::table::KNOWN_SEGMENTS
            .iter()
            .position(|k| k.as_bytes() == id)
            .map(|i| 1u16 << i)
    }

    /// Adds a segment id.
    pub fn add(&mut self, id: &[u8]) {
        if let Some(b) = Segments::bit(id) {
            self.0 |= b;
        }
    }
}

/// Request-level features, inherited by every line.
#[derive(Debug, Clone, Serialize)]
pub struct Request {
    /// The transaction.
    pub transaction: Transaction,
    /// 278 UM01.
    pub request_category: Option<Code>,
    /// 278 UM06.
    pub level_of_service: Option<Code>,
    /// 278 2000E UM04; 837 CLM05.
    pub facility: Option<Facility>,
    /// ICD-10-CM diagnoses, no dots.
    pub dx: Vec<Code>,
    /// MS-DRG (HI DR).
    pub drg: Vec<Code>,
    /// Request-level ICD-10-PCS (HI BBR/BBQ).
    pub icd10pcs: Vec<Code>,
    /// 278 2000E segments present (`None` for an 837).
    pub segments: Option<Segments>,
    /// Transport location states (278 2010EB; 837P 2310E/2310F).
    pub transport_states: Vec<Code>,
    /// Patient date of birth.
    #[serde(skip)]
    pub birth_date: Option<Date>,
    /// Member id as given in the file (2010C / 2010BA NM109); used for the eligibility
    /// lookup, never logged.
    #[serde(skip)]
    pub member_id: Option<String>,
    /// Benefit plan index into the table's `[benefit_plans]`, after the eligibility lookup.
    pub benefit_plan: Option<u8>,
    /// Request-level date of service (278 event date or BHT04; 837 statement date).
    pub date: Option<Date>,
    /// Prior authorization numbers at request level (278 2000E REF*BB; 837 2300 REF*G1).
    pub prior_auth: Vec<String>,
    /// 278 UM02 certification type.
    pub certification_type: Option<Code>,
    /// Medicare pays first (837 2320 SBR01=P with SBR09 MA/MB).
    pub medicare_primary: bool,
}

impl Request {
    /// An empty request of `transaction` (every feature missing).
    pub fn new(transaction: Transaction) -> Request {
        Request {
            transaction,
            request_category: None,
            level_of_service: None,
            facility: None,
            dx: Vec::new(),
            drg: Vec::new(),
            icd10pcs: Vec::new(),
            segments: None,
            transport_states: Vec::new(),
            birth_date: None,
            member_id: None,
            benefit_plan: None,
            date: None,
            prior_auth: Vec::new(),
            certification_type: None,
            medicare_primary: false,
        }
    }
}

/// Line-level features.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Line {
    /// The line's label: 278 2000F HL01 (or `event` for the synthetic line); 837 LX01.
    pub label: String,
    /// UM03 after §1.6 inheritance.
    pub service_type: Option<Code>,
    /// HCPCS/CPT (qualifier HC).
    pub hc: Option<Code>,
    /// CDT (qualifier AD).
    pub ad: Option<Code>,
    /// Revenue code, 4 digits.
    pub rev: Option<Code>,
    /// ICD-10-PCS codes of the line.
    pub icd10pcs: Option<Code>,
    /// Identified only by an NDC.
    pub ndc_only: bool,
    /// Procedure modifiers.
    pub modifiers: [Option<Code>; 4],
    /// Line facility code (278 2000F UM04; 837P SV105), overriding the request's.
    pub facility: Option<Facility>,
    /// 278 2000F segments present.
    pub segments: Segments,
    /// Servicing provider taxonomy.
    pub taxonomy: Option<Code>,
    /// Servicing provider location.
    pub servicing: Option<Servicing>,
    /// Line transport locations (837P 2420G/2420H), overriding the request's.
    pub transport_states: Vec<Code>,
    /// 837P SV109 (`None` where the transaction has no such element).
    pub emergency: Option<bool>,
    /// Date of service.
    pub date: Option<Date>,
    /// Prior authorization numbers of the line (278 2000F REF*BB; 837 2400 REF*G1).
    pub prior_auth: Vec<String>,
    /// Segment index range `[start, end)` of the line's loop in its transaction set.
    #[serde(skip)]
    pub span: (u32, u32),
}

fn code(s: &str) -> Option<Code> {
    Code::new(s)
}

fn state_of(p: &Party<'_>) -> Option<Code> {
    code(p.city_state_zip().1)
}

fn facility(code_value: &str, qualifier: &str) -> Option<Facility> {
    let c = code(
        code_value
            .get(..2.min(code_value.len()))
            .unwrap_or(code_value),
    )?;
    match qualifier {
        "B" => Some(Facility::Pos(c)),
        "A" => Some(Facility::BillType(c)),
        _ => None,
    }
}

fn span(node: LoopRef<'_>) -> (u32, u32) {
    node.tree
        .nodes
        .get(node.node as usize)
        .map_or((0, 0), |n| (n.first_segment, n.end_segment))
}

fn modifiers<'a>(list: impl IntoIterator<Item = &'a str>) -> [Option<Code>; 4] {
    let mut out = [None; 4];
    for (slot, m) in out.iter_mut().zip(list) {
        *slot = code(m);
    }
    out
}

fn servicing_party<'a>(parties: impl Iterator<Item = Party<'a>>) -> Option<Party<'a>> {
    parties
        .into_iter()
        .find(|p| SERVICING_ENTITIES.contains(&p.entity()))
}

fn segments_of(node: LoopRef<'_>) -> Segments {
    let mut s = Segments::default();
    for seg in node.segments() {
        s.add(seg.id());
    }
    s
}

fn refs(node: LoopRef<'_>, qualifier: &str) -> Vec<String> {
    node.segments_with("REF")
        .filter(|s| s.get(1) == qualifier.as_bytes())
        .map(|s| text(s.get(2)).to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

/// The features of one 278 patient event: the request and its lines (one per 2000F; a
/// single synthetic line from 2000E when there is none), plus the request-level line
/// that pass 1 also looks at.
#[derive(Debug, Clone, Serialize)]
pub struct Extracted {
    /// Request-level features.
    pub request: Request,
    /// The request itself seen as a line (278: the 2000E; 837: the claim without codes).
    pub request_line: Line,
    /// The lines.
    pub lines: Vec<Line>,
    /// Whether `lines` is one synthetic line (a 278 with no 2000F).
    pub synthetic: bool,
}

/// Extracts the features of a 278 event. `bht04` is the request's creation date, the last
/// fallback for the date of service.
pub fn from_event(event: Event<'_>, bht04: Option<Date>) -> Extracted {
    let mut req = Request::new(Transaction::X278);
    req.request_category = code(event.category());
    req.level_of_service = code(event.level_of_service());
    req.certification_type = code(event.certification_type());
    let (fc, fq) = event.facility();
    req.facility = facility(fc, fq);
    for (q, c) in event.diagnoses() {
        if DX_QUALIFIERS.contains(&q) {
            req.dx.extend(code(c));
        } else if q == "DR" {
            req.drg.extend(code(c));
        } else if PCS_HI_QUALIFIERS.contains(&q) {
            req.icd10pcs.extend(code(c));
        }
    }
    req.segments = Some(segments_of(event.node));
    req.transport_states = event
        .transport()
        .filter(|p| TRANSPORT_ENTITIES.contains(&p.entity()))
        .filter_map(|p| state_of(&p))
        .collect();
    req.birth_date = event
        .patient()
        .and_then(|p| Date::parse(p.birth_date()))
        .or_else(|| event.subscriber().and_then(|p| Date::parse(p.birth_date())));
    req.member_id = event
        .subscriber()
        .map(|p| p.id().to_string())
        .filter(|s| !s.is_empty());
    let event_date = event
        .dates()
        .find(|d| d.qualifier == "AAH")
        .or_else(|| event.dates().find(|d| d.qualifier == "435"))
        .and_then(|d| Date::from_x12(d.value));
    req.date = event_date.or(bht04);
    req.prior_auth = refs(event.node, "BB");

    let event_provider = servicing_party(event.providers());
    let event_taxonomy = event_provider.and_then(|p| code(p.taxonomy()));
    let event_servicing = event_provider.and_then(|p| servicing_of(&p));

    let request_line = Line {
        label: "event".into(),
        service_type: code(event.service_type()),
        segments: Segments::default(),
        taxonomy: event_taxonomy,
        servicing: event_servicing,
        date: req.date,
        span: span(event.node),
        ..Line::default()
    };

    let lines: Vec<Line> = event
        .services()
        .map(|s| service_line(s, &request_line))
        .collect();
    let synthetic = lines.is_empty();
    let lines = if synthetic {
        vec![request_line.clone()]
    } else {
        lines
    };
    Extracted {
        request: req,
        request_line,
        lines,
        synthetic,
    }
}

fn service_line(s: Service<'_>, event: &Line) -> Line {
    let mut line = Line {
        label: s.node.value("HL", 1).to_string(),
        service_type: code(s.service_type()),
        segments: segments_of(s.node),
        span: span(s.node),
        prior_auth: s
            .references()
            .filter(|r| r.qualifier == "BB")
            .map(|r| r.value.to_string())
            .collect(),
        ..Line::default()
    };
    let rev = s.revenue_code();
    line.rev = Code::revenue(rev);
    if let Some(p) = s.procedure() {
        match p.qualifier {
            "HC" => line.hc = code(p.code),
            "AD" => line.ad = code(p.code),
            "N4" => line.ndc_only = rev.is_empty(),
            q if PCS_QUALIFIERS_278.contains(&q) => line.icd10pcs = code(p.code),
            _ => {}
        }
    }
    line.modifiers = modifiers(s.modifiers());
    let (fc, fq) = s.facility();
    line.facility = facility(fc, fq);
    let provider = servicing_party(s.providers());
    line.taxonomy = provider.and_then(|p| code(p.taxonomy())).or(event.taxonomy);
    line.servicing = provider.and_then(|p| servicing_of(&p)).or(event.servicing);
    line.date = s
        .dates()
        .find(|d| d.qualifier == "472")
        .and_then(|d| Date::from_x12(d.value))
        .or(event.date);
    line
}

fn party(node: Option<LoopRef<'_>>) -> Option<Party<'_>> {
    node.map(|node| Party { node })
}

/// Extracts the features of one 837 claim of kind `kind`.
pub fn from_claim(claim: Claim<'_>, kind: ClaimKind) -> Extracted {
    let transaction = match kind {
        ClaimKind::Professional => Transaction::P837,
        ClaimKind::Institutional => Transaction::I837,
        ClaimKind::Dental => Transaction::D837,
    };
    let mut req = Request::new(transaction);
    req.facility = facility(claim.facility_code(), claim.facility_qualifier());
    for d in claim.diagnoses() {
        if DX_QUALIFIERS.contains(&d.qualifier) {
            req.dx.extend(code(d.code));
        } else if d.qualifier == "DR" {
            req.drg.extend(code(d.code));
        } else if PCS_HI_QUALIFIERS.contains(&d.qualifier) {
            req.icd10pcs.extend(code(d.code));
        }
    }
    let claim_provider = |id: &str| party(claim.node.child(id));
    if transaction == Transaction::P837 {
        req.transport_states = ["2310E", "2310F"]
            .iter()
            .filter_map(|id| claim_provider(id))
            .filter_map(|p| state_of(&p))
            .collect();
    }
    req.birth_date = claim
        .patient()
        .and_then(|p| Date::parse(p.birth_date()))
        .or_else(|| claim.subscriber().and_then(|p| Date::parse(p.birth_date())));
    req.member_id = claim
        .subscriber()
        .map(|p| p.id().to_string())
        .filter(|s| !s.is_empty());
    req.date = claim
        .dates()
        .find(|d| d.qualifier == "434")
        .or_else(|| claim.dates().find(|d| d.qualifier == "472"))
        .and_then(|d| Date::from_x12(d.value));
    req.prior_auth = claim
        .references()
        .filter(|r| r.qualifier == "G1")
        .map(|r| r.value.to_string())
        .collect();
    req.medicare_primary = claim.other_subscribers().any(|o| {
        o.segment("SBR")
            .is_some_and(|s| s.get(1) == b"P" && matches!(s.get(9), b"MA" | b"MB"))
    });

    let billing = claim.billing_provider();
    let facility_loop = match transaction {
        Transaction::I837 => "2310E",
        _ => "2310C",
    };
    // the service facility location names no NPI of its own for the rendering
    // provider: its state and ZIP, with the billing provider's NPI, look up the border
    let servicing = claim_provider(facility_loop)
        .and_then(|p| servicing_of(&p))
        .or_else(|| billing.and_then(|p| servicing_of(&p)))
        .map(|mut s| {
            if s.npi.is_none() {
                s.npi = billing.and_then(|b| b.npi()).and_then(code);
            }
            s
        });
    let claim_taxonomy = match transaction {
        Transaction::I837 => claim_provider("2310A").and_then(|p| code(p.taxonomy())),
        _ => claim_provider("2310B").and_then(|p| code(p.taxonomy())),
    }
    .or_else(|| billing.and_then(|p| code(p.taxonomy())));

    let request_line = Line {
        label: "claim".into(),
        taxonomy: claim_taxonomy,
        servicing,
        date: req.date,
        emergency: (transaction == Transaction::P837).then_some(false),
        span: span(claim.node),
        ..Line::default()
    };
    let lines: Vec<Line> = claim
        .lines()
        .map(|l| {
            let mut line = Line {
                label: l.number().to_string(),
                modifiers: modifiers(l.modifiers()),
                taxonomy: claim_taxonomy,
                servicing,
                span: span(l.node),
                ..Line::default()
            };
            let (q, c) = (l.procedure_qualifier(), l.procedure_code());
            match (transaction, q) {
                (Transaction::D837, "AD") => line.ad = code(c),
                (_, "HC") => line.hc = code(c),
                (_, "AD") => line.ad = code(c),
                _ => {}
            }
            line.rev = Code::revenue(l.revenue_code());
            if transaction == Transaction::P837 {
                line.facility = code(l.place_of_service()).map(Facility::Pos);
                line.emergency = Some(l.emergency());
                line.transport_states = ["2420G", "2420H"]
                    .iter()
                    .filter_map(|id| party(l.node.child(id)))
                    .filter_map(|p| state_of(&p))
                    .collect();
                if let Some(t) = party(l.node.child("2420A")).and_then(|p| code(p.taxonomy())) {
                    line.taxonomy = Some(t);
                }
            }
            if transaction == Transaction::D837 {
                if let Some(t) = party(l.node.child("2420A")).and_then(|p| code(p.taxonomy())) {
                    line.taxonomy = Some(t);
                }
            }
            line.date = l.service_date().and_then(Date::from_x12).or(req.date);
            line.prior_auth = l
                .references()
                .filter(|r| r.qualifier == "G1")
                .map(|r| r.value.to_string())
                .collect();
            line
        })
        .collect();
    // 837P and 837D carry dates of service on the lines only: the request's is the earliest
    let mut request_line = request_line;
    if req.date.is_none() {
        req.date = lines.iter().filter_map(|l: &Line| l.date).min();
        request_line.date = req.date;
    }
    Extracted {
        request: req,
        request_line,
        lines,
        synthetic: false,
    }
}
