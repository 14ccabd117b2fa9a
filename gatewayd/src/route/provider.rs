//! The provider file and provider validation (ROUTING.md §5, §1.8).
//!
//! The provider file is a CSV with the header
//! `npi,taxonomy,location,state,border,from,to`: one row per taxonomy an NPI holds at a
//! service location, with the NC Medicaid border flag (`Y` within 40 miles of the state
//! line, `N` otherwise) and the active window (`to` empty = open-ended). `location` is a
//! ZIP code (5 digits, or ZIP+4 as 9 digits) or an NCTracks location code. Malformed rows
//! fail the load with their line number.
//!
//! It serves two purposes:
//! * **border status** for `servicing_location = "out_of_state_non_border"`: a known
//!   border flag replaces the state-only fallback (and its `border_unverified` flag);
//! * **provider validation** ([`validate_278`], [`validate_claim`]): the requesting,
//!   billing and rendering providers each need a PRV taxonomy of the NUCC shape and an
//!   N3/N4 location; the taxonomy must be on file and active for that NPI at that location
//!   on the date of service, and, where the matched rule has `expect.taxonomy_prefix`,
//!   fit the service. A failure is a [`ProviderFinding`] (a SNIP 7 [`Issue`] with IK3/IK4
//!   through [`ProviderFinding::issue`]) and the flag `provider_validation_failed`; it
//!   never changes the route.
//!
//! ```
//! use gatewayd::route::{Date, ProviderFile, ProviderStatus};
//! let csv = "npi,taxonomy,location,state,border,from,to\n\
//!            1234567893,332B00000X,29708,SC,Y,2020-01-01,\n";
//! let file = ProviderFile::parse(csv).unwrap();
//! let dos = Date::parse("2023-03-01").unwrap();
//! assert_eq!(file.border("1234567893", "297081234"), Some(true));
//! assert_eq!(file.status("1234567893", "332B00000X", "29708", dos), ProviderStatus::Active);
//! assert_eq!(file.status("1234567893", "207Q00000X", "29708", dos), ProviderStatus::TaxonomyNotOnFile);
//! ```

use super::eval::Decision;
use super::value::Date;
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use thiserror::Error;
use x12_278::Event;
use x12_837::{Claim, ClaimKind};
use x12_core::codesets::{npi_valid, state, taxonomy_shape};
use x12_core::schema::{At, Guide, LoopRef, LoopTree, Party};
use x12_core::{Issue, TransactionSet};

/// The flag every decision of a request carries when provider validation failed.
pub const PROVIDER_VALIDATION_FAILED: &str = "provider_validation_failed";

/// 2010EA / 2010F entity codes read as the billing provider of a 278. X217 has no billing
/// loop; NCTracks' companion guide should name the code (VERIFY). Empty: not checked.
pub const BILLING_ENTITIES_278: [&str; 0] = [];

/// A provider file row that cannot be used; the load fails.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProviderError {
    /// The file could not be read.
    #[error("provider file: {0}")]
    Io(String),
    /// The first line is not the expected header.
    #[error("provider file line {line}: expected the header `npi,taxonomy,location,state,border,from,to`")]
    Header {
        /// Line number (1-based).
        line: usize,
    },
    /// A row the CSV grammar rejects (an unterminated quote, say).
    #[error("provider file line {line}: {what}")]
    Csv {
        /// Line number (1-based).
        line: usize,
        /// What is wrong.
        what: String,
    },
    /// A row with the wrong number of columns.
    #[error("provider file line {line}: expected 7 columns, found {found}")]
    Columns {
        /// Line number (1-based).
        line: usize,
        /// Columns found.
        found: usize,
    },
    /// A value that does not fit its column.
    #[error("provider file line {line}: column `{column}`: bad value `{value}`: {reason}")]
    BadValue {
        /// Line number (1-based).
        line: usize,
        /// The column.
        column: &'static str,
        /// The value as written.
        value: String,
        /// What is expected.
        reason: &'static str,
    },
    /// `from` after `to`.
    #[error("provider file line {line}: `from` is after `to`")]
    Window {
        /// Line number (1-based).
        line: usize,
    },
}

#[derive(Debug, Clone)]
struct Row {
    taxonomy: String,
    location: String,
    border: bool,
    from: Date,
    to: Option<Date>,
}

/// What the provider file says about an NPI, taxonomy and location on a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderStatus {
    /// On file and active.
    Active,
    /// The NPI is not on file.
    NpiNotOnFile,
    /// The NPI is on file, but not at that location.
    LocationNotOnFile,
    /// The NPI is on file at that location, but not with that taxonomy.
    TaxonomyNotOnFile,
    /// On file, but not active on that date.
    Inactive,
}

/// The provider file.
#[derive(Debug, Clone, Default)]
pub struct ProviderFile {
    by_npi: HashMap<String, Vec<Row>>,
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// Whether a file location matches a transaction's N403: ZIP+4 both sides compare whole,
/// otherwise the first five digits; a location code compares as written.
fn location_matches(file: &str, zip: &str) -> bool {
    if !file.chars().all(|c| c.is_ascii_digit()) {
        return file == zip;
    }
    let z = digits(zip);
    if file.len() == 9 && z.len() == 9 {
        file == z
    } else {
        file.len() >= 5 && z.len() >= 5 && file[..5] == z[..5]
    }
}

impl ProviderFile {
    /// Reads a file.
    pub fn load(path: &Path) -> Result<ProviderFile, ProviderError> {
        let text = std::fs::read_to_string(path).map_err(|e| ProviderError::Io(e.to_string()))?;
        ProviderFile::parse(&text)
    }

    /// Parses CSV text (blank lines and `#` comments skipped).
    pub fn parse(text: &str) -> Result<ProviderFile, ProviderError> {
        let mut by_npi: HashMap<String, Vec<Row>> = HashMap::new();
        let mut header = false;
        for row in super::csv_rows::csv_rows(text) {
            let row = row.map_err(|(line, what)| ProviderError::Csv { line, what })?;
            let line = row.line;
            let cols = row.cells();
            if !header {
                if cols
                    != [
                        "npi", "taxonomy", "location", "state", "border", "from", "to",
                    ]
                {
                    return Err(ProviderError::Header { line });
                }
                header = true;
                continue;
            }
            let [npi, taxonomy, location, st, border, from, to] = cols[..] else {
                return Err(ProviderError::Columns {
                    line,
                    found: cols.len(),
                });
            };
            let bad = |column, value: &str, reason| ProviderError::BadValue {
                line,
                column,
                value: value.to_string(),
                reason,
            };
            if !npi_valid(npi.as_bytes()) {
                return Err(bad("npi", npi, "10 digits with a valid check digit"));
            }
            if !taxonomy_shape(taxonomy.as_bytes()) {
                return Err(bad(
                    "taxonomy",
                    taxonomy,
                    "a NUCC taxonomy code like 207Q00000X",
                ));
            }
            let loc_ok = if location.chars().all(|c| c.is_ascii_digit()) {
                location.len() == 5 || location.len() == 9
            } else {
                !location.is_empty() && location.chars().all(|c| c.is_ascii_alphanumeric())
            };
            if !loc_ok {
                return Err(bad(
                    "location",
                    location,
                    "a ZIP (5 or 9 digits) or a location code",
                ));
            }
            if !state(st.as_bytes()) {
                return Err(bad("state", st, "a USPS state code"));
            }
            let border = match border {
                "Y" | "y" | "true" => true,
                "N" | "n" | "false" => false,
                other => return Err(bad("border", other, "Y or N")),
            };
            let from = Date::parse(from).ok_or_else(|| bad("from", from, "a date YYYY-MM-DD"))?;
            let to = match to {
                "" => None,
                t => {
                    Some(Date::parse(t).ok_or_else(|| bad("to", t, "a date YYYY-MM-DD or empty"))?)
                }
            };
            if to.is_some_and(|t| t < from) {
                return Err(ProviderError::Window { line });
            }
            by_npi.entry(npi.to_string()).or_default().push(Row {
                taxonomy: taxonomy.to_string(),
                location: location.to_string(),
                border,
                from,
                to,
            });
        }
        if !header {
            return Err(ProviderError::Header { line: 1 });
        }
        Ok(ProviderFile { by_npi })
    }

    /// How many NPIs the file knows.
    pub fn len(&self) -> usize {
        self.by_npi.len()
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.by_npi.is_empty()
    }

    /// The border flag of an NPI at a location (any taxonomy), if on file.
    pub fn border(&self, npi: &str, zip: &str) -> Option<bool> {
        self.by_npi
            .get(npi)?
            .iter()
            .find(|r| location_matches(&r.location, zip))
            .map(|r| r.border)
    }

    /// Whether `taxonomy` is active for `npi` at `zip` on `dos`.
    pub fn status(&self, npi: &str, taxonomy: &str, zip: &str, dos: Date) -> ProviderStatus {
        let Some(rows) = self.by_npi.get(npi) else {
            return ProviderStatus::NpiNotOnFile;
        };
        let here: Vec<&Row> = rows
            .iter()
            .filter(|r| location_matches(&r.location, zip))
            .collect();
        if here.is_empty() {
            return ProviderStatus::LocationNotOnFile;
        }
        let with: Vec<&&Row> = here.iter().filter(|r| r.taxonomy == taxonomy).collect();
        if with.is_empty() {
            return ProviderStatus::TaxonomyNotOnFile;
        }
        if with
            .iter()
            .any(|r| dos >= r.from && r.to.is_none_or(|t| dos <= t))
        {
            ProviderStatus::Active
        } else {
            ProviderStatus::Inactive
        }
    }
}

/// One failed provider check. Stable field names: `party`, `loop`, `check`, `message`.
/// `check` is one of `taxonomy_missing`, `taxonomy_shape`, `location_missing`,
/// `npi_missing`, `npi_not_on_file`, `location_not_on_file`, `taxonomy_not_on_file`,
/// `taxonomy_inactive`, `taxonomy_not_for_service`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProviderFinding {
    /// `requester`, `billing` or `rendering`.
    pub party: &'static str,
    /// The loop of the party (`2010B`, `2010F`, `2010AA`...).
    #[serde(rename = "loop")]
    pub loop_id: String,
    /// Which check failed.
    pub check: &'static str,
    /// A sentence without PHI (no names, member ids or dates of birth).
    pub message: String,
    /// Segment index (in the set) the 999 IK3 points at.
    #[serde(skip)]
    pub segment: u32,
    /// PRV03 named in the IK4, when the finding is about the taxonomy value.
    #[serde(skip)]
    pub on_taxonomy: bool,
}

impl ProviderFinding {
    /// The finding as a SNIP 7 issue with its 999 coordinates (IK3 at the party's PRV or
    /// NM1; IK4 PRV03 for a taxonomy value).
    pub fn issue(&self, set: &TransactionSet, tree: &LoopTree, guide: &Guide) -> Issue {
        let at = At::new(set, tree, guide, self.segment);
        let at = if self.on_taxonomy {
            let code = if self.check == "taxonomy_shape" {
                "I12"
            } else {
                "7"
            };
            let seg = tree.segment(set, self.segment);
            let value = seg.get(3).to_vec();
            at.element(3, None, "127", code, Some(&value))
        } else {
            at
        };
        at.issue(x12_core::Code::CodeSet, 7, self.message.clone())
    }
}

/// The first segment index of `id` in a party's loop (or, for PRV, its HL-level parent).
fn segment_index(p: &Party<'_>, id: &str) -> Option<u32> {
    if let Some((i, _)) = p.node.indexed(id).next() {
        return Some(i);
    }
    let parent = p.node.parent()?;
    if id == "PRV" && parent.segments().next().is_some_and(|s| s.id() == b"HL") {
        return parent.indexed(id).next().map(|(i, _)| i);
    }
    None
}

fn nm1_index(p: &Party<'_>) -> u32 {
    p.node
        .tree
        .nodes
        .get(p.node.node as usize)
        .map_or(0, |n| n.first_segment)
}

/// Checks one party; `location` is the party whose N3/N4 stands for its location.
fn check_party(
    out: &mut Vec<ProviderFinding>,
    role: &'static str,
    p: Party<'_>,
    location: Option<Party<'_>>,
    file: &ProviderFile,
    dos: Option<Date>,
) {
    let loop_id = p.loop_id().to_string();
    let mut push = |check: &'static str, message: String, segment: u32, on_taxonomy: bool| {
        out.push(ProviderFinding {
            party: role,
            loop_id: loop_id.clone(),
            check,
            message,
            segment,
            on_taxonomy,
        })
    };
    let taxonomy = p.taxonomy();
    let prv = segment_index(&p, "PRV");
    match prv {
        None => push(
            "taxonomy_missing",
            format!("the {role} provider has no PRV taxonomy"),
            nm1_index(&p),
            false,
        ),
        Some(i) if !taxonomy_shape(taxonomy.as_bytes()) => push(
            "taxonomy_shape",
            format!("the {role} provider taxonomy `{taxonomy}` is not a NUCC code"),
            i,
            true,
        ),
        Some(_) => {}
    }
    let loc = location.unwrap_or(p);
    let (_, st, zip) = loc.city_state_zip();
    if loc.address().0.is_empty() || st.is_empty() || zip.is_empty() {
        push(
            "location_missing",
            format!("the {role} provider has no N3/N4 location"),
            nm1_index(&p),
            false,
        );
        return;
    }
    let Some(npi) = p.npi() else {
        push(
            "npi_missing",
            format!("the {role} provider has no NPI (NM108 XX)"),
            nm1_index(&p),
            false,
        );
        return;
    };
    let (Some(i), Some(dos)) = (prv, dos) else {
        return;
    };
    if !taxonomy_shape(taxonomy.as_bytes()) {
        return;
    }
    let (check, what) = match file.status(npi, taxonomy, zip, dos) {
        ProviderStatus::Active => return,
        ProviderStatus::NpiNotOnFile => ("npi_not_on_file", "is not in the provider file"),
        ProviderStatus::LocationNotOnFile => {
            ("location_not_on_file", "is not on file at this location")
        }
        ProviderStatus::TaxonomyNotOnFile => (
            "taxonomy_not_on_file",
            "does not hold this taxonomy at this location",
        ),
        ProviderStatus::Inactive => (
            "taxonomy_inactive",
            "is not active with this taxonomy on the date of service",
        ),
    };
    push(
        check,
        format!("the {role} provider (NPI {npi}, taxonomy {taxonomy}) {what}"),
        i,
        true,
    );
}

fn servicing<'a>(parties: impl Iterator<Item = Party<'a>>) -> Option<Party<'a>> {
    let mut parties = parties;
    parties.find(|p| super::features::SERVICING_ENTITIES.contains(&p.entity()))
}

fn taxonomy_for_service(
    out: &mut Vec<ProviderFinding>,
    rendering: Option<Party<'_>>,
    decisions: &[&Decision],
) {
    let Some(p) = rendering else {
        return;
    };
    if decisions
        .iter()
        .any(|d| d.flags.iter().any(|f| f == "expect_failed:taxonomy_prefix"))
    {
        let taxonomy = p.taxonomy();
        out.push(ProviderFinding {
            party: "rendering",
            loop_id: p.loop_id().to_string(),
            check: "taxonomy_not_for_service",
            message: format!(
                "the rendering provider taxonomy `{taxonomy}` does not fit the service requested"
            ),
            segment: segment_index(&p, "PRV").unwrap_or_else(|| nm1_index(&p)),
            on_taxonomy: segment_index(&p, "PRV").is_some(),
        });
    }
}

/// Validates the providers of a 278 event: the requester (2010B), the billing provider
/// ([`BILLING_ENTITIES_278`]) and the rendering providers (each service's 2010F, else the
/// event's 2010EA: SJ, FA or 77). `decisions` are the lines' decisions (in service order);
/// pharmacy requests are not checked.
pub fn validate_278(
    event: Event<'_>,
    decisions: &[&Decision],
    file: &ProviderFile,
    dos: Option<Date>,
) -> Vec<ProviderFinding> {
    let mut out = Vec::new();
    if !decisions.is_empty() && decisions.iter().all(|d| d.pa_type == "pharmacy") {
        return out;
    }
    if let Some(r) = event.requester() {
        check_party(&mut out, "requester", r, None, file, dos);
    }
    for p in event
        .providers()
        .filter(|p| BILLING_ENTITIES_278.contains(&p.entity()))
    {
        check_party(&mut out, "billing", p, None, file, dos);
    }
    let event_rendering = servicing(event.providers());
    let mut seen: Vec<u32> = Vec::new();
    let services: Vec<_> = event.services().collect();
    if services.is_empty() {
        if let Some(p) = event_rendering {
            check_party(&mut out, "rendering", p, None, file, dos);
            taxonomy_for_service(&mut out, Some(p), decisions);
        }
    }
    for (i, s) in services.iter().enumerate() {
        let Some(p) = servicing(s.providers()).or(event_rendering) else {
            continue;
        };
        let d: Vec<&Decision> = decisions.get(i).copied().into_iter().collect();
        if seen.contains(&p.node.node) {
            continue;
        }
        seen.push(p.node.node);
        check_party(&mut out, "rendering", p, None, file, dos);
        taxonomy_for_service(&mut out, Some(p), &d);
    }
    out
}

fn child<'a>(node: LoopRef<'a>, id: &str) -> Option<Party<'a>> {
    node.child(id).map(|node| Party { node })
}

/// Validates the providers of an 837 claim: the billing provider (2010AA, PRV in 2000A)
/// and the rendering provider (P, D: 2420A else 2310B; I: 2310D else attending 2310A),
/// whose location is the service facility (P, D: 2310C; I: 2310E) else the billing
/// provider's.
pub fn validate_claim(
    claim: Claim<'_>,
    kind: ClaimKind,
    decisions: &[&Decision],
    file: &ProviderFile,
    dos: Option<Date>,
) -> Vec<ProviderFinding> {
    let mut out = Vec::new();
    let billing = claim.billing_provider();
    if let Some(b) = billing {
        check_party(&mut out, "billing", b, None, file, dos);
    }
    let (facility, rendering) = match kind {
        ClaimKind::Institutional => (
            child(claim.node, "2310E"),
            child(claim.node, "2310D").or_else(|| child(claim.node, "2310A")),
        ),
        _ => (child(claim.node, "2310C"), child(claim.node, "2310B")),
    };
    let location = facility.or(billing);
    let mut seen: Vec<u32> = Vec::new();
    for (i, line) in claim.lines().enumerate() {
        let own = if kind == ClaimKind::Institutional {
            None
        } else {
            child(line.node, "2420A")
        };
        let Some(p) = own.or(rendering) else {
            continue;
        };
        let d: Vec<&Decision> = decisions.get(i).copied().into_iter().collect();
        if seen.contains(&p.node.node) {
            continue;
        }
        seen.push(p.node.node);
        check_party(&mut out, "rendering", p, location, file, dos);
        taxonomy_for_service(&mut out, Some(p), &d);
    }
    out
}
