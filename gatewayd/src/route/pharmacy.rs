//! Pharmacy auto-approval (issue 5): a criteria file decides pharmacy PA requests (278
//! services identified by an NDC that routed to `csra` / `pharmacy`).
//!
//! * Met: HCR01=A1 with a new authorization number ([`authorization_number`], from a
//!   sequence the caller persists: [`AuthSequence`]) and certification dates.
//! * Not met: HCR01=A4, pended for review at CSRA, the failed criteria listed in MSG.
//!
//! The criteria file is TOML ([`Criteria::parse`]); an example ships as
//! `gatewayd/pharmacy-criteria.toml` ([`EXAMPLE_CRITERIA`]).
//!
//! ```
//! use gatewayd::route::pharmacy::{Criteria, EXAMPLE_CRITERIA};
//! let c = Criteria::parse(EXAMPLE_CRITERIA).unwrap();
//! assert_eq!(c.class_for("00173071820").unwrap().id, "inhaled_corticosteroid");
//! assert_eq!(c.class_for("00173069600").unwrap().id, "inhaled_corticosteroid");
//! assert!(c.class_for("99999999999").is_none());
//! ```

use super::eval::Decision as Routed;
use super::table::Action as RouteAction;
use super::value::{Code, Date};
use super::RequestRouting;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use x12_278::{Action as Hcr, Decision as Answer, Event, EventDecision, Service};
use x12_core::schema::text;

/// The example criteria file (`gatewayd/pharmacy-criteria.toml`).
pub const EXAMPLE_CRITERIA: &str = include_str!("../../pharmacy-criteria.toml");

/// A start-up error in the criteria file, naming the class and the key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CriteriaError {
    /// Not TOML.
    #[error("criteria file is not valid TOML: {0}")]
    Syntax(String),
    /// A key the format does not define.
    #[error("{context}: unknown key `{key}`")]
    UnknownKey {
        /// `class <id>` or `top level`.
        context: String,
        /// The key.
        key: String,
    },
    /// A missing key.
    #[error("{context}: missing key `{key}`")]
    MissingKey {
        /// Where.
        context: String,
        /// The key.
        key: String,
    },
    /// A value that does not fit its key.
    #[error("{context}: key `{key}`: {message}")]
    BadValue {
        /// Where.
        context: String,
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// One drug class and its criteria.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrugClass {
    /// Stable id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Exact NDCs (11 digits after normalization).
    #[serde(default)]
    pub ndc: Vec<String>,
    /// NDC prefixes (labeler, labeler-product).
    #[serde(default)]
    pub ndc_prefix: Vec<String>,
    /// Required diagnosis prefixes (any one).
    #[serde(default)]
    pub dx_prefix: Vec<String>,
    /// Minimum age.
    pub age_ge: Option<u32>,
    /// Age below.
    pub age_lt: Option<u32>,
    /// Most units per request (SV104).
    pub max_quantity: Option<u32>,
    /// Longest period a request may cover, and the longest certification.
    pub max_days: u32,
    /// Where the criteria come from.
    pub source: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    schema_version: u32,
    #[serde(default)]
    class: Vec<toml::Value>,
}

/// The criteria file, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Criteria {
    /// Classes in file order (NDCs normalized to digits).
    pub classes: Vec<DrugClass>,
}

/// An NDC as 11 digits: `5-4-2` with dashes is padded per part (`0173-0718-20` ->
/// `00173071820`); digits pass through.
pub fn normalize_ndc(s: &str) -> String {
    let parts: Vec<&str> = s.trim().split('-').collect();
    if parts.len() == 3 {
        let pad = |p: &str, n: usize| format!("{}{p}", "0".repeat(n.saturating_sub(p.len())));
        return format!(
            "{}{}{}",
            pad(parts[0], 5),
            pad(parts[1], 4),
            pad(parts[2], 2)
        );
    }
    if parts.len() == 2 {
        let pad = |p: &str, n: usize| format!("{}{p}", "0".repeat(n.saturating_sub(p.len())));
        return format!("{}{}", pad(parts[0], 5), pad(parts[1], 4));
    }
    s.chars().filter(|c| *c != '-').collect()
}

fn map_err(context: &str, e: toml::de::Error) -> CriteriaError {
    let msg = e.message().to_string();
    let quoted = |m: &str| m.split('`').nth(1).unwrap_or_default().to_string();
    if let Some(rest) = msg.strip_prefix("unknown field") {
        CriteriaError::UnknownKey {
            context: context.into(),
            key: quoted(rest),
        }
    } else if let Some(rest) = msg.strip_prefix("missing field") {
        CriteriaError::MissingKey {
            context: context.into(),
            key: quoted(rest),
        }
    } else {
        CriteriaError::BadValue {
            context: context.into(),
            key: String::new(),
            message: msg,
        }
    }
}

impl Criteria {
    /// Reads and validates a criteria file.
    pub fn parse(text: &str) -> Result<Criteria, CriteriaError> {
        let doc: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| CriteriaError::Syntax(e.message().to_string()))?;
        let file: File = toml::Value::Table(doc)
            .try_into()
            .map_err(|e| map_err("top level", e))?;
        if file.schema_version != 1 {
            return Err(CriteriaError::BadValue {
                context: "top level".into(),
                key: "schema_version".into(),
                message: "only version 1 is supported".into(),
            });
        }
        let mut classes: Vec<DrugClass> = Vec::new();
        for (i, raw) in file.class.into_iter().enumerate() {
            let context = raw
                .get("id")
                .and_then(|v| v.as_str())
                .map_or_else(|| format!("class #{}", i + 1), |id| format!("class {id}"));
            let mut c: DrugClass = raw.try_into().map_err(|e| map_err(&context, e))?;
            let bad = |key: &str, message: String| CriteriaError::BadValue {
                context: context.clone(),
                key: key.into(),
                message,
            };
            if classes.iter().any(|x| x.id == c.id) {
                return Err(bad("id", format!("duplicate class `{}`", c.id)));
            }
            if c.ndc.is_empty() && c.ndc_prefix.is_empty() {
                return Err(bad("ndc", "a class needs `ndc` or `ndc_prefix`".into()));
            }
            for n in &mut c.ndc {
                let d = normalize_ndc(n);
                if d.len() != 11 || !d.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad("ndc", format!("`{n}` is not an 11-digit NDC")));
                }
                *n = d;
            }
            for n in &mut c.ndc_prefix {
                let d = normalize_ndc(n);
                if d.is_empty() || d.len() > 11 || !d.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad("ndc_prefix", format!("`{n}` is not an NDC prefix")));
                }
                *n = d;
            }
            for p in &c.dx_prefix {
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(bad(
                        "dx_prefix",
                        format!("`{p}` is not an ICD-10-CM prefix"),
                    ));
                }
            }
            if c.max_days == 0 {
                return Err(bad("max_days", "must be at least 1".into()));
            }
            if let (Some(ge), Some(lt)) = (c.age_ge, c.age_lt) {
                if lt <= ge {
                    return Err(bad("age_lt", format!("{lt} is not above age_ge {ge}")));
                }
            }
            classes.push(c);
        }
        Ok(Criteria { classes })
    }

    /// Reads a criteria file from disk.
    pub fn load(path: &std::path::Path) -> Result<Criteria, CriteriaError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CriteriaError::Syntax(format!("{}: {e}", path.display())))?;
        Criteria::parse(&text)
    }

    /// The class of an NDC (11 digits), first match in file order.
    pub fn class_for(&self, ndc: &str) -> Option<&DrugClass> {
        let ndc = normalize_ndc(ndc);
        self.classes.iter().find(|c| {
            c.ndc.contains(&ndc) || c.ndc_prefix.iter().any(|p| ndc.starts_with(p.as_str()))
        })
    }
}

/// The sequence authorization numbers are drawn from. The caller persists it (the daemon
/// in its store), so that a number is never issued twice.
pub trait AuthSequence {
    /// The next value; never returns a value twice.
    fn next_value(&mut self) -> u64;
}

/// An in-memory sequence (tests, tools): starts after `last`.
#[derive(Debug, Clone, Default)]
pub struct MemorySequence {
    /// The last value handed out.
    pub last: u64,
}

impl AuthSequence for MemorySequence {
    fn next_value(&mut self) -> u64 {
        self.last += 1;
        self.last
    }
}

/// The authorization number of a sequence value: `RX` and ten digits.
///
/// ```
/// assert_eq!(gatewayd::route::pharmacy::authorization_number(42), "RX0000000042");
/// ```
pub fn authorization_number(seq: u64) -> String {
    format!("RX{seq:010}")
}

/// The decision on one pharmacy service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PharmacyOutcome {
    /// Criteria met: certified.
    Approved {
        /// Drug class id.
        class: String,
        /// Authorization number (HCR02).
        authorization: String,
        /// Certification start.
        from: Date,
        /// Certification end.
        to: Date,
    },
    /// Criteria not met: pended for review at CSRA.
    Pended {
        /// Drug class id, when the NDC is in one.
        class: Option<String>,
        /// The failed criteria: `ndc`, `dx_prefix`, `age_ge`, `age_lt`, `max_quantity`,
        /// `max_days`, `date_of_service`.
        failed: Vec<&'static str>,
    },
}

fn period(s: &Service<'_>, event: &Event<'_>) -> Option<(Date, Date)> {
    let dtp = s
        .dates()
        .find(|d| d.qualifier == "472")
        .or_else(|| event.dates().find(|d| d.qualifier == "AAH"))?;
    let mut parts = dtp.value.split('-');
    let from = Date::parse(parts.next()?)?;
    let to = parts.next().and_then(Date::parse).unwrap_or(from);
    Some((from, to))
}

/// Decides one pharmacy service of `event` by the criteria.
pub fn decide(
    criteria: &Criteria,
    event: &Event<'_>,
    service: &Service<'_>,
    seq: &mut dyn AuthSequence,
) -> PharmacyOutcome {
    let ndc = service
        .procedure()
        .filter(|p| p.qualifier == "N4")
        .map(|p| p.code)
        .unwrap_or("");
    let Some(class) = criteria.class_for(ndc) else {
        return PharmacyOutcome::Pended {
            class: None,
            failed: vec!["ndc"],
        };
    };
    let mut failed = Vec::new();
    let dx: Vec<Code> = event
        .diagnoses()
        .into_iter()
        .filter(|(q, _)| super::features::DX_QUALIFIERS.contains(q))
        .filter_map(|(_, c)| Code::new(c))
        .collect();
    if !class.dx_prefix.is_empty()
        && !dx.iter().any(|d| {
            class
                .dx_prefix
                .iter()
                .any(|p| d.as_str().starts_with(p.to_ascii_uppercase().as_str()))
        })
    {
        failed.push("dx_prefix");
    }
    let period = period(service, event);
    let dob = event.patient().and_then(|p| Date::parse(p.birth_date()));
    let age = match (dob, period) {
        (Some(b), Some((from, _))) => Some(b.years_until(from)),
        _ => None,
    };
    if let Some(ge) = class.age_ge {
        if age.is_none_or(|a| a < ge) {
            failed.push("age_ge");
        }
    }
    if let Some(lt) = class.age_lt {
        if age.is_none_or(|a| a >= lt) {
            failed.push("age_lt");
        }
    }
    if let Some(max) = class.max_quantity {
        let qty = service
            .node
            .segment("SV1")
            .map(|s| text(s.get(4)))
            .and_then(|q| q.parse::<f64>().ok());
        if qty.is_none_or(|q| q > f64::from(max)) {
            failed.push("max_quantity");
        }
    }
    let Some((from, to)) = period else {
        failed.push("date_of_service");
        return PharmacyOutcome::Pended {
            class: Some(class.id.clone()),
            failed,
        };
    };
    let days = to.to_days() - from.to_days() + 1;
    if days > i64::from(class.max_days) {
        failed.push("max_days");
    }
    if !failed.is_empty() {
        return PharmacyOutcome::Pended {
            class: Some(class.id.clone()),
            failed,
        };
    }
    let end = from.plus_days(days - 1).unwrap_or(to);
    PharmacyOutcome::Approved {
        class: class.id.clone(),
        authorization: authorization_number(seq.next_value()),
        from,
        to: end,
    }
}

/// The 278 answer of an outcome.
pub fn answer(outcome: &PharmacyOutcome) -> Answer {
    match outcome {
        PharmacyOutcome::Approved {
            authorization,
            from,
            to,
            ..
        } => Answer {
            certification: Some(authorization.clone()),
            period: Some((from.x12(), to.x12())),
            ..Answer::new(Hcr::Certified)
        },
        PharmacyOutcome::Pended { failed, .. } => Answer {
            message: Some(format!(
                "Pended for review at CSRA. Criteria not met - {}.",
                failed.join(", ")
            )),
            ..Answer::new(Hcr::Pended)
        },
    }
}

/// Decides the pharmacy services of a routed 278 event (`r`, from [`super::route_set`]
/// on the same event): each service routed to `pharmacy` is decided by the criteria;
/// other services are answered by [`super::respond`]'s rules (forwarded ones pended).
/// `None` when no service is a pharmacy request. The event's HCR is the services'
/// common answer, or A4 when they differ.
pub fn answer_event(
    criteria: &Criteria,
    event: &Event<'_>,
    r: &RequestRouting,
    seq: &mut dyn AuthSequence,
) -> Option<(EventDecision, Vec<Option<PharmacyOutcome>>)> {
    let is_pharmacy = |d: &Routed| d.pa_type == "pharmacy" && d.action == RouteAction::Route;
    if !r.routed.lines.iter().any(|l| is_pharmacy(&l.decision)) {
        return None;
    }
    let services: Vec<Service<'_>> = event.services().collect();
    let mut outcomes = Vec::new();
    let mut answers = Vec::new();
    for (i, l) in r.routed.lines.iter().enumerate() {
        match services.get(i) {
            Some(s) if is_pharmacy(&l.decision) => {
                let o = decide(criteria, event, s, seq);
                answers.push(answer(&o));
                outcomes.push(Some(o));
            }
            _ => {
                let d = &l.decision;
                answers.push(match d.action {
                    RouteAction::Reject => Answer {
                        message: Some(super::respond::contact_message(&d.vendor_name)),
                        ..Answer::new(Hcr::ContactPayer)
                    },
                    RouteAction::NoPaRequired => Answer::new(Hcr::NoActionRequired),
                    RouteAction::Route => Answer::new(Hcr::Pended),
                });
                outcomes.push(None);
            }
        }
    }
    let event_answer = match answers.first() {
        Some(first) if answers.iter().all(|a| a.action == first.action) => first.clone(),
        _ => Answer::new(Hcr::Pended),
    };
    Some((
        EventDecision {
            event: event_answer,
            services: answers,
        },
        outcomes,
    ))
}
