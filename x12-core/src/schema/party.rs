//! A person or organization named by an NM1 loop, and qualified values (REF, DTP):
//! the borrowed accessors every HIPAA guide's typed views share.

use super::view::{text, LoopRef};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

/// A person or organization named by an NM1 loop (with its N3/N4, REF, PRV, DMG).
#[derive(Debug, Clone, Copy)]
pub struct Party<'a> {
    /// The loop instance.
    pub node: LoopRef<'a>,
}

/// A qualified value (DTP date, REF reference...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Qualified<'a> {
    /// The qualifier (DTP01, REF01).
    pub qualifier: &'a str,
    /// DTP02 date format (D8, RD8), when a date.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub format: &'a str,
    /// The value.
    pub value: &'a str,
}

/// The DTP (qualifier, format, value) or REF (qualifier, value) segments of a loop.
pub fn qualified_all<'a>(
    node: LoopRef<'a>,
    id: &'a str,
) -> impl Iterator<Item = Qualified<'a>> + 'a {
    node.segments_with(id).map(move |s| {
        if id == "DTP" {
            Qualified {
                qualifier: text(s.get(1)),
                format: text(s.get(2)),
                value: text(s.get(3)),
            }
        } else {
            Qualified {
                qualifier: text(s.get(1)),
                format: "",
                value: text(s.get(2)),
            }
        }
    })
}

impl<'a> Party<'a> {
    /// The loop id (`2010AA`, `2310B`...).
    pub fn loop_id(&self) -> &'a str {
        self.node.id()
    }

    /// NM101 entity identifier code (85 billing provider, IL insured, 82 rendering...).
    pub fn entity(&self) -> &'a str {
        self.node.value("NM1", 1)
    }

    /// NM103 last or organization name.
    pub fn last_name(&self) -> &'a str {
        self.node.value("NM1", 3)
    }

    /// NM104 first name.
    pub fn first_name(&self) -> &'a str {
        self.node.value("NM1", 4)
    }

    /// NM108 identification code qualifier (XX NPI, MI member id, PI payer id...).
    pub fn id_qualifier(&self) -> &'a str {
        self.node.value("NM1", 8)
    }

    /// NM109 identifier (NPI, member id, payer id...).
    pub fn id(&self) -> &'a str {
        self.node.value("NM1", 9)
    }

    /// The NPI, when NM108 is XX.
    pub fn npi(&self) -> Option<&'a str> {
        (self.id_qualifier() == "XX").then(|| self.id())
    }

    /// PRV03 taxonomy code.
    pub fn taxonomy(&self) -> &'a str {
        let own = self.node.value("PRV", 3);
        if !own.is_empty() {
            return own;
        }
        // a level's PRV may sit in the enclosing HL loop (837 2000A above 2010AA)
        match self.node.parent() {
            Some(p) if p.segments().next().is_some_and(|s| s.id() == b"HL") => p.value("PRV", 3),
            _ => "",
        }
    }

    /// N3 address lines.
    pub fn address(&self) -> (&'a str, &'a str) {
        (self.node.value("N3", 1), self.node.value("N3", 2))
    }

    /// N4 city, state, ZIP.
    pub fn city_state_zip(&self) -> (&'a str, &'a str, &'a str) {
        (
            self.node.value("N4", 1),
            self.node.value("N4", 2),
            self.node.value("N4", 3),
        )
    }

    /// DMG02 date of birth (CCYYMMDD).
    pub fn birth_date(&self) -> &'a str {
        self.node.value("DMG", 2)
    }

    /// DMG03 gender code.
    pub fn gender(&self) -> &'a str {
        self.node.value("DMG", 3)
    }

    /// REF segments (secondary ids: EI tax id, SY SSN, G2 provider commercial number...).
    pub fn references(&self) -> impl Iterator<Item = Qualified<'a>> + 'a {
        qualified_all(self.node, "REF")
    }
}

impl Serialize for Party<'_> {
    /// `{"loop", "entity", "last_name", "first_name", "id_qualifier", "id", "taxonomy",
    /// "address": [line1, line2], "city", "state", "zip", "birth_date", "gender", "references"}`;
    /// empty fields are left out.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        let (a1, a2) = self.address();
        let (city, state, zip) = self.city_state_zip();
        let fields = [
            ("loop", self.loop_id()),
            ("entity", self.entity()),
            ("last_name", self.last_name()),
            ("first_name", self.first_name()),
            ("id_qualifier", self.id_qualifier()),
            ("id", self.id()),
            ("taxonomy", self.taxonomy()),
            ("address_line1", a1),
            ("address_line2", a2),
            ("city", city),
            ("state", state),
            ("zip", zip),
            ("birth_date", self.birth_date()),
            ("gender", self.gender()),
        ];
        for (k, v) in fields {
            if !v.is_empty() {
                m.serialize_entry(k, v)?;
            }
        }
        let refs: Vec<_> = self.references().collect();
        if !refs.is_empty() {
            m.serialize_entry("references", &refs)?;
        }
        m.end()
    }
}
