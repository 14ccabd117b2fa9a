//! Typed, borrowed views of 837 claims over the generic loop tree.
//!
//! Nothing is copied: every accessor returns a slice of the transaction set's bytes.
//! [`claims`] walks the 2300 loops lazily, so an 837 with thousands of claims costs
//! nothing until a claim is looked at. The serde form (`x12 json`) is documented on
//! [`Claim`]'s `Serialize` implementation.

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use x12_core::schema::{qualified_all, text, LoopRef};
pub use x12_core::schema::{Party, Qualified};
use x12_core::Segment;

/// The claims of a validated 837 transaction set, in order (2300 loops, lazily).
pub fn claims<'a>(root: LoopRef<'a>) -> impl Iterator<Item = Claim<'a>> + 'a {
    root.descendants("2300").map(|node| Claim { node })
}

/// One claim (loop 2300) with its context.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// The 2300 loop instance.
    pub node: LoopRef<'a>,
}

/// One service line (loop 2400).
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    /// The 2400 loop instance.
    pub node: LoopRef<'a>,
}

/// A diagnosis code with its qualifier (HI composite).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Diagnosis<'a> {
    /// Code list qualifier (ABK principal, ABF other, ABJ admitting, APR reason for visit, BBR/BBQ procedures...).
    pub qualifier: &'a str,
    /// The code, without a dot.
    pub code: &'a str,
}

/// A PWK attachment reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Attachment<'a> {
    /// PWK01 report type.
    pub report_type: &'a str,
    /// PWK02 transmission code (EL, FX, BM, FT, EM, AA).
    pub transmission: &'a str,
    /// PWK06 attachment control number.
    pub control_number: &'a str,
}

fn component<'a>(s: &Segment<'a>, e: usize, c: usize) -> &'a str {
    text(s.element(e).and_then(|el| el.component(c)).unwrap_or(b""))
}

impl<'a> Claim<'a> {
    fn clm(&self) -> Option<Segment<'a>> {
        self.node.segment("CLM")
    }

    /// CLM01, the patient control number (the submitter's claim id).
    pub fn id(&self) -> &'a str {
        self.node.value("CLM", 1)
    }

    /// CLM02, the total claim charge, as written.
    pub fn total_charge(&self) -> &'a str {
        self.node.value("CLM", 2)
    }

    /// CLM05-1: place of service (837P/D) or the first two digits of the type of bill (837I).
    pub fn facility_code(&self) -> &'a str {
        self.clm().map_or("", |s| component(&s, 5, 1))
    }

    /// CLM05-2: `B` place of service, `A` institutional facility type.
    pub fn facility_qualifier(&self) -> &'a str {
        self.clm().map_or("", |s| component(&s, 5, 2))
    }

    /// CLM05-3: claim frequency (1 original, 7 replacement, 8 void).
    pub fn frequency(&self) -> &'a str {
        self.clm().map_or("", |s| component(&s, 5, 3))
    }

    /// The billing provider (2010AA of the enclosing 2000A).
    pub fn billing_provider(&self) -> Option<Party<'a>> {
        self.node
            .ancestor("2000A")?
            .child("2010AA")
            .map(|node| Party { node })
    }

    /// The pay-to address (2010AB), when different from the billing provider.
    pub fn pay_to(&self) -> Option<Party<'a>> {
        self.node
            .ancestor("2000A")?
            .child("2010AB")
            .map(|node| Party { node })
    }

    /// The subscriber (2010BA of the enclosing 2000B).
    pub fn subscriber(&self) -> Option<Party<'a>> {
        self.node
            .ancestor("2000B")?
            .child("2010BA")
            .map(|node| Party { node })
    }

    /// The subscriber's SBR segment (payer responsibility, relationship, claim filing).
    pub fn sbr(&self) -> Option<Segment<'a>> {
        self.node.ancestor("2000B")?.segment("SBR")
    }

    /// The payer (2010BB).
    pub fn payer(&self) -> Option<Party<'a>> {
        self.node
            .ancestor("2000B")?
            .child("2010BB")
            .map(|node| Party { node })
    }

    /// The patient: 2010CA when the patient is not the subscriber, else the subscriber.
    pub fn patient(&self) -> Option<Party<'a>> {
        match self.node.ancestor("2000C") {
            Some(c) => c.child("2010CA").map(|node| Party { node }),
            None => self.subscriber(),
        }
    }

    /// Whether a 2000C patient loop holds this claim.
    pub fn patient_is_dependent(&self) -> bool {
        self.node.ancestor("2000C").is_some()
    }

    /// HI diagnosis (and, for 837I, procedure and value) codes, in order.
    pub fn diagnoses(&self) -> Vec<Diagnosis<'a>> {
        let mut out = Vec::new();
        for hi in self.node.segments_with("HI") {
            for el in hi.elements() {
                for rep in el.repetitions() {
                    let q = text(rep.component(1).unwrap_or(b""));
                    let c = text(rep.component(2).unwrap_or(b""));
                    if !q.is_empty() {
                        out.push(Diagnosis {
                            qualifier: q,
                            code: c,
                        });
                    }
                }
            }
        }
        out
    }

    /// Claim dates (DTP).
    pub fn dates(&self) -> impl Iterator<Item = Qualified<'a>> + 'a {
        qualified_all(self.node, "DTP")
    }

    /// Claim references (REF), e.g. G1 prior authorization, F8 payer claim number.
    pub fn references(&self) -> impl Iterator<Item = Qualified<'a>> + 'a {
        qualified_all(self.node, "REF")
    }

    /// PWK attachments.
    pub fn attachments(&self) -> impl Iterator<Item = Attachment<'a>> + 'a {
        attachments(self.node)
    }

    /// NTE notes (NTE02 text).
    pub fn notes(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.node.segments_with("NTE").map(|s| text(s.get(2)))
    }

    /// Claim-level providers (2310A–2310F), each with its loop id.
    pub fn providers(&self) -> impl Iterator<Item = Party<'a>> + 'a {
        self.node
            .children()
            .filter(|c| c.id().starts_with("2310"))
            .map(|node| Party { node })
    }

    /// Other subscribers (2320), for coordination of benefits.
    pub fn other_subscribers(&self) -> impl Iterator<Item = LoopRef<'a>> + 'a {
        self.node.children_with("2320")
    }

    /// Service lines (2400), lazily.
    pub fn lines(&self) -> impl Iterator<Item = Line<'a>> + 'a {
        self.node.children_with("2400").map(|node| Line { node })
    }
}

fn attachments<'a>(node: LoopRef<'a>) -> impl Iterator<Item = Attachment<'a>> + 'a {
    node.segments_with("PWK").map(|s| Attachment {
        report_type: text(s.get(1)),
        transmission: text(s.get(2)),
        control_number: text(s.get(6)),
    })
}

impl<'a> Line<'a> {
    /// LX01, the line number.
    pub fn number(&self) -> &'a str {
        self.node.value("LX", 1)
    }

    /// The service segment: SV1 (837P), SV2 (837I) or SV3 (837D).
    pub fn service(&self) -> Option<Segment<'a>> {
        self.node
            .segments()
            .find(|s| matches!(s.id(), b"SV1" | b"SV2" | b"SV3"))
    }

    /// The procedure composite element of the service segment: SV101, SV202, SV301.
    fn procedure_element(&self) -> Option<(Segment<'a>, usize)> {
        let s = self.service()?;
        let e = if s.id() == b"SV2" { 2 } else { 1 };
        Some((s, e))
    }

    /// Procedure qualifier (HC, AD, N4, ER, IV, WK...).
    pub fn procedure_qualifier(&self) -> &'a str {
        self.procedure_element()
            .map_or("", |(s, e)| component(&s, e, 1))
    }

    /// Procedure code (CPT/HCPCS, CDT...).
    pub fn procedure_code(&self) -> &'a str {
        self.procedure_element()
            .map_or("", |(s, e)| component(&s, e, 2))
    }

    /// Procedure modifiers (components 3–6).
    pub fn modifiers(&self) -> Vec<&'a str> {
        self.procedure_element().map_or_else(Vec::new, |(s, e)| {
            (3..=6)
                .map(|c| component(&s, e, c))
                .filter(|m| !m.is_empty())
                .collect()
        })
    }

    /// SV201 revenue code (837I).
    pub fn revenue_code(&self) -> &'a str {
        match self.service() {
            Some(s) if s.id() == b"SV2" => text(s.get(1)),
            _ => "",
        }
    }

    /// Line charge: SV102, SV203 or SV302.
    pub fn charge(&self) -> &'a str {
        match self.service() {
            Some(s) if s.id() == b"SV2" => text(s.get(3)),
            Some(s) => text(s.get(2)),
            None => "",
        }
    }

    /// Unit basis (UN, MJ...) and quantity: SV103/SV104 or SV204/SV205; SV306 for 837D.
    pub fn units(&self) -> (&'a str, &'a str) {
        match self.service() {
            Some(s) if s.id() == b"SV1" => (text(s.get(3)), text(s.get(4))),
            Some(s) if s.id() == b"SV2" => (text(s.get(4)), text(s.get(5))),
            Some(s) if s.id() == b"SV3" => ("UN", text(s.get(6))),
            _ => ("", ""),
        }
    }

    /// SV105 place of service (837P, overrides CLM05-1); SV303 for 837D.
    pub fn place_of_service(&self) -> &'a str {
        match self.service() {
            Some(s) if s.id() == b"SV1" => text(s.get(5)),
            Some(s) if s.id() == b"SV3" => text(s.get(3)),
            _ => "",
        }
    }

    /// Diagnosis code pointers (SV107 for 837P, SV311 for 837D), 1-based into the claim's HI.
    pub fn diagnosis_pointers(&self) -> Vec<&'a str> {
        match self.service() {
            Some(s) if s.id() == b"SV1" => s
                .element(7)
                .map(|e| e.components().map(text).filter(|p| !p.is_empty()).collect())
                .unwrap_or_default(),
            Some(s) if s.id() == b"SV3" => s
                .element(11)
                .map(|e| e.components().map(text).filter(|p| !p.is_empty()).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// SV109 emergency indicator (837P).
    pub fn emergency(&self) -> bool {
        matches!(self.service(), Some(s) if s.id() == b"SV1" && s.get(9) == b"Y")
    }

    /// Line dates (DTP; 472 is the service date).
    pub fn dates(&self) -> impl Iterator<Item = Qualified<'a>> + 'a {
        qualified_all(self.node, "DTP")
    }

    /// The service date (DTP*472 value), if given at line level.
    pub fn service_date(&self) -> Option<&'a str> {
        self.node.qualified("DTP", "472").map(|s| text(s.get(3)))
    }

    /// Line references (REF).
    pub fn references(&self) -> impl Iterator<Item = Qualified<'a>> + 'a {
        qualified_all(self.node, "REF")
    }

    /// Teeth (TOO: code qualifier, tooth code, surfaces), 837D.
    pub fn teeth(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.node
            .segments_with("TOO")
            .map(|s| (text(s.get(2)), text(s.get(3))))
    }

    /// PWK attachments of the line.
    pub fn attachments(&self) -> impl Iterator<Item = Attachment<'a>> + 'a {
        attachments(self.node)
    }

    /// Line-level providers (2420A–2420H).
    pub fn providers(&self) -> impl Iterator<Item = Party<'a>> + 'a {
        self.node
            .children()
            .filter(|c| c.id().starts_with("2420"))
            .map(|node| Party { node })
    }

    /// Line adjudications (2430 SVD): (payer id, paid amount).
    pub fn adjudications(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.node
            .children_with("2430")
            .filter_map(|a| a.segment("SVD"))
            .map(|s| (text(s.get(1)), text(s.get(2))))
    }
}

struct Seq<I>(std::cell::RefCell<Option<I>>);

impl<I: Iterator<Item = T>, T: Serialize> Serialize for Seq<I> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        if let Some(it) = self.0.borrow_mut().take() {
            for v in it {
                seq.serialize_element(&v)?;
            }
        }
        seq.end()
    }
}

fn seq<I: Iterator>(it: I) -> Seq<I> {
    Seq(std::cell::RefCell::new(Some(it)))
}

impl Serialize for Line<'_> {
    /// `{"number", "procedure_qualifier", "procedure_code", "modifiers", "revenue_code",
    /// "charge", "unit", "quantity", "place_of_service", "diagnosis_pointers", "emergency",
    /// "service_date", "dates", "references", "teeth", "attachments", "providers",
    /// "adjudications"}`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        let (unit, qty) = self.units();
        m.serialize_entry("number", self.number())?;
        for (k, v) in [
            ("procedure_qualifier", self.procedure_qualifier()),
            ("procedure_code", self.procedure_code()),
            ("revenue_code", self.revenue_code()),
            ("charge", self.charge()),
            ("unit", unit),
            ("quantity", qty),
            ("place_of_service", self.place_of_service()),
            ("service_date", self.service_date().unwrap_or("")),
        ] {
            if !v.is_empty() {
                m.serialize_entry(k, v)?;
            }
        }
        m.serialize_entry("modifiers", &self.modifiers())?;
        m.serialize_entry("diagnosis_pointers", &self.diagnosis_pointers())?;
        m.serialize_entry("emergency", &self.emergency())?;
        m.serialize_entry("dates", &seq(self.dates()))?;
        m.serialize_entry("references", &seq(self.references()))?;
        m.serialize_entry("teeth", &seq(self.teeth()))?;
        m.serialize_entry("attachments", &seq(self.attachments()))?;
        m.serialize_entry("providers", &seq(self.providers()))?;
        m.serialize_entry("adjudications", &seq(self.adjudications()))?;
        m.end()
    }
}

impl Serialize for Claim<'_> {
    /// The JSON form of a claim (`x12 json`): `{"claim_id", "total_charge",
    /// "facility_code", "facility_qualifier", "frequency", "billing_provider", "pay_to",
    /// "subscriber", "payer", "patient", "patient_is_dependent", "payer_responsibility",
    /// "claim_filing", "diagnoses", "dates", "references", "attachments", "notes",
    /// "providers", "other_subscribers" (count), "lines"}`. Field names are stable.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("claim_id", self.id())?;
        m.serialize_entry("total_charge", self.total_charge())?;
        m.serialize_entry("facility_code", self.facility_code())?;
        m.serialize_entry("facility_qualifier", self.facility_qualifier())?;
        m.serialize_entry("frequency", self.frequency())?;
        m.serialize_entry("billing_provider", &self.billing_provider())?;
        m.serialize_entry("pay_to", &self.pay_to())?;
        m.serialize_entry("subscriber", &self.subscriber())?;
        m.serialize_entry("payer", &self.payer())?;
        m.serialize_entry("patient", &self.patient())?;
        m.serialize_entry("patient_is_dependent", &self.patient_is_dependent())?;
        let sbr = self.sbr();
        m.serialize_entry("payer_responsibility", sbr.map_or("", |s| text(s.get(1))))?;
        m.serialize_entry("claim_filing", sbr.map_or("", |s| text(s.get(9))))?;
        m.serialize_entry("diagnoses", &self.diagnoses())?;
        m.serialize_entry("dates", &seq(self.dates()))?;
        m.serialize_entry("references", &seq(self.references()))?;
        m.serialize_entry("attachments", &seq(self.attachments()))?;
        m.serialize_entry("notes", &seq(self.notes()))?;
        m.serialize_entry("providers", &seq(self.providers()))?;
        m.serialize_entry("other_subscribers", &self.other_subscribers().count())?;
        m.serialize_entry("lines", &seq(self.lines()))?;
        m.end()
    }
}
