//! Typed, borrowed views of 278 requests over the generic loop tree: the patient events
//! (2000E) and their services (2000F) with their context.
//!
//! A service carries its own UM03 service type; it inherits the event's only when it has
//! no procedure, revenue or NDC code of its own (`shared/ROUTING.md` §1.6), so that an
//! event-level "DME" does not drag a therapy line into DME.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use x12_core::schema::{qualified_all, text, LoopRef, Party, Qualified};
use x12_core::Segment;

/// The patient events (2000E) of a 278, in order, lazily.
pub fn events<'a>(root: LoopRef<'a>) -> impl Iterator<Item = Event<'a>> + 'a {
    root.descendants("2000E").map(|node| Event { node })
}

/// One patient event (2000E): what is being asked for, for whom, by whom.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// The 2000E loop instance.
    pub node: LoopRef<'a>,
}

/// One service (2000F) of an event.
#[derive(Debug, Clone, Copy)]
pub struct Service<'a> {
    /// The 2000F loop instance.
    pub node: LoopRef<'a>,
    /// The event it belongs to.
    pub event: Event<'a>,
}

/// A procedure as a service segment names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Procedure<'a> {
    /// Code qualifier: HC (HCPCS/CPT), AD (CDT), N4 (NDC), IV, ZZ...
    pub qualifier: &'a str,
    /// The code.
    pub code: &'a str,
}

/// What an HSD segment says: HSD01 quantity qualifier (DY days, VS visits...) with
/// HSD02 its count, and HSD05 time period qualifier (7 day, 34 month...) with HSD06 the
/// number of periods. Empty strings where the segment leaves an element out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Delivery<'a> {
    /// HSD01 quantity qualifier.
    pub qualifier: &'a str,
    /// HSD02 service unit count.
    pub count: &'a str,
    /// HSD05 time period qualifier.
    pub period_qualifier: &'a str,
    /// HSD06 number of periods.
    pub periods: &'a str,
}

fn um(node: LoopRef<'_>, n: usize) -> &str {
    node.value("UM", n)
}

fn um_component(node: LoopRef<'_>, n: usize, c: usize) -> &str {
    node.segment("UM")
        .and_then(|s| s.element(n))
        .and_then(|e| e.component(c))
        .map_or("", text)
}

fn party<'a>(node: Option<LoopRef<'a>>) -> Option<Party<'a>> {
    node.map(|node| Party { node })
}

impl<'a> Event<'a> {
    /// TRN02 trace numbers of the event (the submitter's first).
    pub fn traces(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.node.segments_with("TRN").map(|s| text(s.get(2)))
    }

    /// UM01 request category (AR admission review, HS health services review, SC specialty care).
    pub fn category(&self) -> &'a str {
        um(self.node, 1)
    }

    /// UM02 certification type (I initial, 1/2 appeal, 3 cancel, 4 extension, R renewal, S revision, N reconsideration).
    pub fn certification_type(&self) -> &'a str {
        um(self.node, 2)
    }

    /// UM03 service type code.
    pub fn service_type(&self) -> &'a str {
        um(self.node, 3)
    }

    /// UM04-1 facility code (place of service or first two type-of-bill digits) and UM04-2 qualifier (B, A).
    pub fn facility(&self) -> (&'a str, &'a str) {
        (um_component(self.node, 4, 1), um_component(self.node, 4, 2))
    }

    /// UM06 level of service (03 emergency, E elective, U urgent...).
    pub fn level_of_service(&self) -> &'a str {
        um(self.node, 6)
    }

    /// Event dates (DTP).
    pub fn dates(&self) -> impl Iterator<Item = Qualified<'a>> + 'a {
        qualified_all(self.node, "DTP")
    }

    /// Event references (REF: BB previous authorization number, NT administrative reference).
    pub fn references(&self) -> impl Iterator<Item = Qualified<'a>> + 'a {
        qualified_all(self.node, "REF")
    }

    /// HI diagnoses: (qualifier, code), in order.
    pub fn diagnoses(&self) -> Vec<(&'a str, &'a str)> {
        let mut out = Vec::new();
        for hi in self.node.segments_with("HI") {
            for el in hi.elements() {
                let q = text(el.component(1).unwrap_or(b""));
                if !q.is_empty() {
                    out.push((q, text(el.component(2).unwrap_or(b""))));
                }
            }
        }
        out
    }

    /// The subscriber (2010C).
    pub fn subscriber(&self) -> Option<Party<'a>> {
        party(self.node.ancestor("2000C").and_then(|c| c.child("2010C")))
    }

    /// The patient: the dependent (2010D) when there is one, else the subscriber.
    pub fn patient(&self) -> Option<Party<'a>> {
        match self.node.ancestor("2000D") {
            Some(d) => party(d.child("2010D")),
            None => self.subscriber(),
        }
    }

    /// The requester (2010B).
    pub fn requester(&self) -> Option<Party<'a>> {
        party(self.node.ancestor("2000B").and_then(|b| b.child("2010B")))
    }

    /// The utilization management organization (2010A).
    pub fn umo(&self) -> Option<Party<'a>> {
        party(self.node.ancestor("2000A").and_then(|a| a.child("2010A")))
    }

    /// Event providers (2010EA: attending, facility, referring...).
    pub fn providers(&self) -> impl Iterator<Item = Party<'a>> + 'a {
        self.node.children_with("2010EA").map(|node| Party { node })
    }

    /// Transport locations (2010EB: pick-up, drop-off...).
    pub fn transport(&self) -> impl Iterator<Item = Party<'a>> + 'a {
        self.node.children_with("2010EB").map(|node| Party { node })
    }

    /// PWK attachments: (report type, transmission code, attachment control number).
    pub fn attachments(&self) -> impl Iterator<Item = (&'a str, &'a str, &'a str)> + 'a {
        attachments(self.node)
    }

    /// The services (2000F), lazily.
    pub fn services(&self) -> impl Iterator<Item = Service<'a>> + 'a {
        let event = *self;
        self.node
            .children_with("2000F")
            .map(move |node| Service { node, event })
    }
}

fn attachments<'a>(node: LoopRef<'a>) -> impl Iterator<Item = (&'a str, &'a str, &'a str)> + 'a {
    node.segments_with("PWK")
        .map(|s| (text(s.get(1)), text(s.get(2)), text(s.get(6))))
}

impl<'a> Service<'a> {
    /// TRN02 trace numbers of the service.
    pub fn traces(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.node.segments_with("TRN").map(|s| text(s.get(2)))
    }

    fn service_segment(&self) -> Option<Segment<'a>> {
        self.node
            .segments()
            .find(|s| matches!(s.id(), b"SV1" | b"SV2" | b"SV3"))
    }

    /// The procedure: SV101, SV202 or SV301 (qualifier and code).
    pub fn procedure(&self) -> Option<Procedure<'a>> {
        let s = self.service_segment()?;
        let e = if s.id() == b"SV2" { 2 } else { 1 };
        let el = s.element(e)?;
        let code = text(el.component(2).unwrap_or(b""));
        (!code.is_empty()).then(|| Procedure {
            qualifier: text(el.component(1).unwrap_or(b"")),
            code,
        })
    }

    /// Procedure modifiers (components 3-6).
    pub fn modifiers(&self) -> Vec<&'a str> {
        let Some(s) = self.service_segment() else {
            return Vec::new();
        };
        let e = if s.id() == b"SV2" { 2 } else { 1 };
        s.element(e)
            .map(|el| {
                (3..=6)
                    .filter_map(|c| el.component(c))
                    .map(text)
                    .filter(|m| !m.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The quantity asked for, as (unit or basis code, count): SV103/SV104 (UN units,
    /// MJ minutes), SV204/SV205 (DA days, UN units), or SV306 (a procedure count, with
    /// no unit code). `None` when the service segment gives no count.
    pub fn quantity(&self) -> Option<(&'a str, &'a str)> {
        let s = self.service_segment()?;
        let (unit, count) = match s.id() {
            b"SV1" => (text(s.get(3)), text(s.get(4))),
            b"SV2" => (text(s.get(4)), text(s.get(5))),
            _ => ("", text(s.get(6))),
        };
        (!count.is_empty()).then_some((unit, count))
    }

    /// The HSD segment (health care services delivery): how much of the service, over
    /// what period. `None` when the service has no HSD.
    pub fn delivery(&self) -> Option<Delivery<'a>> {
        let s = self.node.segment("HSD")?;
        Some(Delivery {
            qualifier: text(s.get(1)),
            count: text(s.get(2)),
            period_qualifier: text(s.get(5)),
            periods: text(s.get(6)),
        })
    }

    /// SV201 revenue code.
    pub fn revenue_code(&self) -> &'a str {
        match self.service_segment() {
            Some(s) if s.id() == b"SV2" => text(s.get(1)),
            _ => "",
        }
    }

    /// Whether the service names a code of its own (procedure, revenue or NDC).
    pub fn has_own_code(&self) -> bool {
        self.procedure().is_some() || !self.revenue_code().is_empty()
    }

    /// The service's own UM04-1 facility code and UM04-2 qualifier (B place of service,
    /// A type of bill); empty when the service gives none.
    pub fn facility(&self) -> (&'a str, &'a str) {
        (um_component(self.node, 4, 1), um_component(self.node, 4, 2))
    }

    /// Service references (REF: BB previous authorization number, NT administrative reference).
    pub fn references(&self) -> impl Iterator<Item = Qualified<'a>> + 'a {
        qualified_all(self.node, "REF")
    }

    /// Every service provider (2010F) of the service, in order.
    pub fn providers(&self) -> impl Iterator<Item = Party<'a>> + 'a {
        self.node.children_with("2010F").map(|node| Party { node })
    }

    /// The service's own UM03.
    pub fn own_service_type(&self) -> &'a str {
        um(self.node, 3)
    }

    /// The service type that applies: the service's own UM03; else the event's, but
    /// only when the service has no code of its own (ROUTING.md §1.6).
    pub fn service_type(&self) -> &'a str {
        let own = self.own_service_type();
        if !own.is_empty() || self.has_own_code() {
            own
        } else {
            self.event.service_type()
        }
    }

    /// Service dates (DTP).
    pub fn dates(&self) -> impl Iterator<Item = Qualified<'a>> + 'a {
        qualified_all(self.node, "DTP")
    }

    /// The service provider (2010F), when given.
    pub fn provider(&self) -> Option<Party<'a>> {
        party(self.node.child("2010F"))
    }

    /// PWK attachments of the service.
    pub fn attachments(&self) -> impl Iterator<Item = (&'a str, &'a str, &'a str)> + 'a {
        attachments(self.node)
    }
}

impl Serialize for Service<'_> {
    /// `{"traces", "service_type", "own_service_type", "procedure", "modifiers",
    /// "revenue_code", "quantity", "dates", "provider", "attachments"}`; `quantity` is
    /// `{"unit", "count"}` or null.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("traces", &self.traces().collect::<Vec<_>>())?;
        m.serialize_entry("service_type", self.service_type())?;
        m.serialize_entry("own_service_type", self.own_service_type())?;
        m.serialize_entry("procedure", &self.procedure())?;
        m.serialize_entry("modifiers", &self.modifiers())?;
        m.serialize_entry("revenue_code", self.revenue_code())?;
        m.serialize_entry(
            "quantity",
            &self.quantity().map(|(unit, count)| {
                [("unit", unit), ("count", count)]
                    .into_iter()
                    .collect::<std::collections::BTreeMap<_, _>>()
            }),
        )?;
        m.serialize_entry("dates", &self.dates().collect::<Vec<_>>())?;
        m.serialize_entry("provider", &self.provider())?;
        m.serialize_entry("attachments", &self.attachments().collect::<Vec<_>>())?;
        m.end()
    }
}

impl Serialize for Event<'_> {
    /// The JSON form of an event (`x12 json`): `{"traces", "category",
    /// "certification_type", "service_type", "facility_code", "facility_qualifier",
    /// "level_of_service", "dates", "diagnoses", "umo", "requester", "subscriber",
    /// "patient", "providers", "transport", "attachments", "services"}`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        let (facility, qualifier) = self.facility();
        m.serialize_entry("traces", &self.traces().collect::<Vec<_>>())?;
        m.serialize_entry("category", self.category())?;
        m.serialize_entry("certification_type", self.certification_type())?;
        m.serialize_entry("service_type", self.service_type())?;
        m.serialize_entry("facility_code", facility)?;
        m.serialize_entry("facility_qualifier", qualifier)?;
        m.serialize_entry("level_of_service", self.level_of_service())?;
        m.serialize_entry("dates", &self.dates().collect::<Vec<_>>())?;
        m.serialize_entry("diagnoses", &self.diagnoses())?;
        m.serialize_entry("umo", &self.umo())?;
        m.serialize_entry("requester", &self.requester())?;
        m.serialize_entry("subscriber", &self.subscriber())?;
        m.serialize_entry("patient", &self.patient())?;
        m.serialize_entry("providers", &self.providers().collect::<Vec<_>>())?;
        m.serialize_entry("transport", &self.transport().collect::<Vec<_>>())?;
        m.serialize_entry("attachments", &self.attachments().collect::<Vec<_>>())?;
        m.serialize_entry("services", &self.services().collect::<Vec<_>>())?;
        m.end()
    }
}
