//! The contractor table as data: the TOML model, its loading and its validation.
//!
//! [`Table::parse`] reads `contractors.toml` (the bundled default is
//! [`BUNDLED_TABLE`]) and checks everything a start-up must refuse: unknown keys,
//! unknown vendors, PA types, sets and benefit plans, duplicate rule ids or priorities,
//! bad ranges, bad dates. Every error is a [`TableError`] naming the rule (or vendor,
//! set) and the key.
//!
//! ```
//! use gatewayd::route::Table;
//! let table = Table::bundled().unwrap();
//! assert_eq!(table.home_state, "NC");
//! assert!(table.rules.iter().any(|r| r.id == "default"));
//!
//! let bad = "schema_version = 1\nhome_state = \"NC\"\ncolour = 1\n";
//! let err = Table::parse(bad).unwrap_err();
//! assert_eq!(err.to_string(), "top level: unknown key `colour`");
//! ```

use super::value::{Code, Date};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use thiserror::Error;

/// The contractor table shipped with the gateway (`gatewayd/contractors.toml`).
pub const BUNDLED_TABLE: &str = include_str!("../../contractors.toml");

/// Segment ids a `has_segment` condition may name.
pub const KNOWN_SEGMENTS: [&str; 12] = [
    "CR1", "CR2", "CR5", "CR6", "CRC", "CL1", "HSD", "PWK", "MSG", "TOO", "HI", "REF",
];

/// Flags a rule may raise through its `flags` list.
pub const RULE_FLAGS: [&str; 2] = ["default_route", "needs_manual_review"];

/// A start-up error in the contractor table. `context` names where: `rule <id>`,
/// `vendor <id>`, `sets.<name>`, `location`, `benefit_plans` or `top level`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TableError {
    /// Not TOML at all.
    #[error("contractor table is not valid TOML: {0}")]
    Syntax(String),
    /// A key the table format does not define.
    #[error("{context}: unknown key `{key}`")]
    UnknownKey {
        /// Where.
        context: String,
        /// The key (dotted path inside a rule: `when.prc`).
        key: String,
    },
    /// A required key is absent.
    #[error("{context}: missing key `{key}`")]
    MissingKey {
        /// Where.
        context: String,
        /// The key.
        key: String,
    },
    /// A value of the wrong type or outside its allowed values.
    #[error("{context}: key `{key}`: {message}")]
    BadValue {
        /// Where.
        context: String,
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A rule names a vendor no `[[vendor]]` defines.
    #[error("rule {rule}: key `vendor`: unknown vendor `{vendor}`")]
    UnknownVendor {
        /// The rule id.
        rule: String,
        /// The vendor named.
        vendor: String,
    },
    /// A rule's `pa_type` is not among its vendor's `pa_types`.
    #[error("rule {rule}: key `pa_type`: `{pa_type}` is not a PA type of vendor `{vendor}`")]
    UnknownPaType {
        /// The rule id.
        rule: String,
        /// The PA type named.
        pa_type: String,
        /// The rule's vendor.
        vendor: String,
    },
    /// A `set` condition names a set no `[sets.*]` defines.
    #[error("{context}: key `{key}`: unknown set `{set}`")]
    UnknownSet {
        /// Where.
        context: String,
        /// The key (`any.set`).
        key: String,
        /// The set named.
        set: String,
    },
    /// A benefit plan not listed in `[benefit_plans] values`.
    #[error("{context}: key `{key}`: unknown benefit plan `{plan}`")]
    UnknownPlan {
        /// Where.
        context: String,
        /// The key.
        key: String,
        /// The plan named.
        plan: String,
    },
    /// A range `A-B` whose ends differ in length or run backwards, or an empty code.
    #[error("{context}: key `{key}`: bad range `{value}`: {reason}")]
    BadRange {
        /// Where.
        context: String,
        /// The key.
        key: String,
        /// The value as written.
        value: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A date that is not `YYYY-MM-DD`, or an `effective` window that ends before it starts.
    #[error("{context}: key `{key}`: bad date `{value}`")]
    BadDate {
        /// Where.
        context: String,
        /// The key (`effective.from`).
        key: String,
        /// The value as written.
        value: String,
    },
    /// Two rules (or vendors) share an id.
    #[error("{context}: key `id`: duplicate id `{id}`")]
    DuplicateId {
        /// Where.
        context: String,
        /// The id.
        id: String,
    },
    /// Two rules share a priority, so their order would be undefined.
    #[error("rule {rule}: key `priority`: priority {priority} is also used by rule {other}")]
    DuplicatePriority {
        /// The later rule.
        rule: String,
        /// The earlier rule with the same priority.
        other: String,
        /// The priority.
        priority: u32,
    },
}

/// Condition keys (`when`, `any`, `unless`, `expect`, and the keys of a set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// `transaction`: 278, 837P, 837I, 837D.
    Transaction,
    /// `service_type`: UM03.
    ServiceType,
    /// `request_category`: UM01.
    RequestCategory,
    /// `level_of_service`: UM06.
    LevelOfService,
    /// `proc.HC`: HCPCS/CPT ranges.
    ProcHc,
    /// `proc.AD`: CDT ranges.
    ProcAd,
    /// `proc.REV`: revenue code ranges (4 digits).
    ProcRev,
    /// `proc.ICD10PCS`: ICD-10-PCS prefixes (`*` = any).
    ProcIcd10Pcs,
    /// `ndc_only`: the line is identified only by an NDC.
    NdcOnly,
    /// `drg`: MS-DRG.
    Drg,
    /// `dx_prefix`: ICD-10-CM prefixes.
    DxPrefix,
    /// `pos`: place of service.
    Pos,
    /// `bill_type`: first two type-of-bill digits.
    BillType,
    /// `has_segment`: segment present in 2000E/2000F.
    HasSegment,
    /// `taxonomy_prefix`: servicing provider taxonomy prefixes.
    TaxonomyPrefix,
    /// `servicing_location`: `out_of_state_non_border`.
    ServicingLocation,
    /// `transport_location`: `out_of_state`.
    TransportLocation,
    /// `emergency`: 837P SV109.
    Emergency,
    /// `age_lt`: age in whole years below.
    AgeLt,
    /// `age_ge`: age in whole years at least.
    AgeGe,
    /// `benefit_plan`: eligibility-derived plan.
    BenefitPlan,
    /// `modifier`: procedure modifiers.
    Modifier,
    /// `set`: named sets.
    Set,
}

impl Key {
    /// Every key, in a fixed order.
    pub const ALL: [Key; 23] = [
        Key::Transaction,
        Key::ServiceType,
        Key::RequestCategory,
        Key::LevelOfService,
        Key::ProcHc,
        Key::ProcAd,
        Key::ProcRev,
        Key::ProcIcd10Pcs,
        Key::NdcOnly,
        Key::Drg,
        Key::DxPrefix,
        Key::Pos,
        Key::BillType,
        Key::HasSegment,
        Key::TaxonomyPrefix,
        Key::ServicingLocation,
        Key::TransportLocation,
        Key::Emergency,
        Key::AgeLt,
        Key::AgeGe,
        Key::BenefitPlan,
        Key::Modifier,
        Key::Set,
    ];

    /// The key as the table spells it (`proc.HC`, `dx_prefix`).
    pub fn name(self) -> &'static str {
        match self {
            Key::Transaction => "transaction",
            Key::ServiceType => "service_type",
            Key::RequestCategory => "request_category",
            Key::LevelOfService => "level_of_service",
            Key::ProcHc => "proc.HC",
            Key::ProcAd => "proc.AD",
            Key::ProcRev => "proc.REV",
            Key::ProcIcd10Pcs => "proc.ICD10PCS",
            Key::NdcOnly => "ndc_only",
            Key::Drg => "drg",
            Key::DxPrefix => "dx_prefix",
            Key::Pos => "pos",
            Key::BillType => "bill_type",
            Key::HasSegment => "has_segment",
            Key::TaxonomyPrefix => "taxonomy_prefix",
            Key::ServicingLocation => "servicing_location",
            Key::TransportLocation => "transport_location",
            Key::Emergency => "emergency",
            Key::AgeLt => "age_lt",
            Key::AgeGe => "age_ge",
            Key::BenefitPlan => "benefit_plan",
            Key::Modifier => "modifier",
            Key::Set => "set",
        }
    }

    /// The key for a table spelling.
    pub fn from_name(name: &str) -> Option<Key> {
        Key::ALL.into_iter().find(|k| k.name() == name)
    }

    fn kind(self) -> ValueKind {
        match self {
            Key::NdcOnly | Key::Emergency => ValueKind::Bool,
            Key::AgeLt | Key::AgeGe => ValueKind::Int,
            Key::ProcHc | Key::ProcAd | Key::ProcRev | Key::Drg => ValueKind::Ranges,
            Key::ProcIcd10Pcs | Key::DxPrefix | Key::TaxonomyPrefix => ValueKind::Prefixes,
            _ => ValueKind::Names,
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Copy)]
enum ValueKind {
    Bool,
    Int,
    Ranges,
    Prefixes,
    Names,
}

/// The value of one condition key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `true` / `false`.
    Bool(bool),
    /// An integer (ages).
    Int(u32),
    /// Inclusive code ranges (a single code is a range of one).
    Ranges(Vec<(Code, Code)>),
    /// Code prefixes; an empty prefix list with `any` set means `*`.
    Prefixes {
        /// The prefixes.
        prefixes: Vec<Code>,
        /// `*` was listed.
        any: bool,
    },
    /// Plain names or codes (service types, places of service, plan names, set names).
    Names(Vec<String>),
}

/// One `key = value` of a condition block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The key.
    pub key: Key,
    /// The value.
    pub value: Value,
}

/// A condition block (`when`, `any`, `unless`, `expect`, or a set), in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions(pub Vec<Condition>);

impl Conditions {
    /// Whether the block has no keys.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `scope`: which pass evaluates the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleScope {
    /// Pass 1: decides the whole request.
    Request,
    /// Pass 2: decides one service line.
    Line,
}

/// `action`: what a match does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Forward to the vendor's queue.
    #[default]
    Route,
    /// Answer the submitter (278 HCR01=CT, 837 277CA); never forward.
    Reject,
    /// Answer that no PA is required (278 HCR01=NA).
    NoPaRequired,
}

impl Action {
    /// The stable name (`route`, `reject`, `no_pa_required`).
    pub fn name(self) -> &'static str {
        match self {
            Action::Route => "route",
            Action::Reject => "reject",
            Action::NoPaRequired => "no_pa_required",
        }
    }
}

/// `effective`: an inclusive date-of-service window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Window {
    /// First date, if bounded.
    pub from: Option<Date>,
    /// Last date, if bounded.
    pub to: Option<Date>,
}

impl Window {
    /// Whether `d` is inside the window.
    pub fn contains(&self, d: Date) -> bool {
        self.from.is_none_or(|f| d >= f) && self.to.is_none_or(|t| d <= t)
    }
}

/// `[location]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// Border radius in miles (informational: the provider file carries the flag).
    pub border_radius_miles: u32,
    /// What to do without border data: `state_only`.
    pub fallback_when_border_unknown: String,
    /// Where the rule comes from.
    #[serde(default)]
    pub sources: Vec<String>,
}

/// One `[[vendor]]`: a vendor, agency or external target.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vendor {
    /// Stable id (`csra`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// `vendor`, `state_agency` or `external`.
    pub kind: String,
    /// False for targets answered back to the submitter, never forwarded.
    #[serde(default = "yes")]
    pub routable: bool,
    /// The PA types it reviews.
    pub pa_types: Vec<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Pharmacy PA phone.
    pub pharmacy_pa_phone: Option<String>,
    /// Provider services phone.
    pub provider_services_phone: Option<String>,
    /// Fax.
    pub fax: Option<String>,
    /// Fax for non-pharmacy PAs.
    pub fax_non_pharmacy_pa: Option<String>,
    /// Fax for pharmacy PAs.
    pub fax_pharmacy_pa: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Postal address.
    pub mail: Option<String>,
    /// Submission channel.
    pub channel: Option<String>,
    /// Note.
    pub note: Option<String>,
    /// Sources.
    #[serde(default)]
    pub sources: Vec<String>,
}

fn yes() -> bool {
    true
}

/// One `[[rule]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Stable id (`dme`).
    pub id: String,
    /// Evaluation order, ascending, unique.
    pub priority: u32,
    /// Pass.
    pub scope: RuleScope,
    /// What a match does.
    pub action: Action,
    /// Target vendor id.
    pub vendor: String,
    /// PA type (one of the vendor's).
    pub pa_type: String,
    /// Date-of-service window.
    pub effective: Option<Window>,
    /// All must match.
    pub when: Conditions,
    /// At least one must match (if any).
    pub any: Conditions,
    /// None may match.
    pub unless: Conditions,
    /// Validation only: a miss adds `expect_failed:<key>`.
    pub expect: Conditions,
    /// Flags raised on a match.
    pub flags: Vec<String>,
    /// Why the rule exists.
    pub rationale: Option<String>,
    /// Where it comes from.
    pub source: Option<String>,
    /// Note.
    pub note: Option<String>,
}

/// The validated contractor table.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// `schema_version` (1).
    pub schema_version: u32,
    /// `home_state` (NC).
    pub home_state: String,
    /// `[location]`.
    pub location: Location,
    /// `[benefit_plans] values`.
    pub benefit_plans: Vec<String>,
    /// Vendors in file order.
    pub vendors: Vec<Vendor>,
    /// Named sets.
    pub sets: BTreeMap<String, Conditions>,
    /// Rules in file order.
    pub rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleHeader {
    id: String,
    priority: u32,
    scope: RuleScope,
    #[serde(default)]
    action: Action,
    vendor: String,
    pa_type: String,
    effective: Option<RawWindow>,
    #[serde(default)]
    flags: Vec<String>,
    rationale: Option<String>,
    source: Option<String>,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    from: Option<String>,
    to: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BenefitPlans {
    values: Vec<String>,
}

/// Maps a serde error from a `deny_unknown_fields` struct to a typed error.
fn serde_error(context: &str, e: toml::de::Error) -> TableError {
    let msg = e.message().to_string();
    let quoted = |m: &str| m.split('`').nth(1).map(str::to_string);
    if let Some(rest) = msg.strip_prefix("unknown field") {
        return TableError::UnknownKey {
            context: context.to_string(),
            key: quoted(rest).unwrap_or_default(),
        };
    }
    if let Some(rest) = msg.strip_prefix("missing field") {
        return TableError::MissingKey {
            context: context.to_string(),
            key: quoted(rest).unwrap_or_default(),
        };
    }
    TableError::BadValue {
        context: context.to_string(),
        key: String::new(),
        message: msg,
    }
}

fn typed<T: for<'de> Deserialize<'de>>(
    context: &str,
    key: &str,
    v: toml::Value,
) -> Result<T, TableError> {
    v.try_into::<T>()
        .map_err(|e| match serde_error(context, e) {
            TableError::BadValue {
                context, message, ..
            } => TableError::BadValue {
                context,
                key: key.to_string(),
                message,
            },
            other => other,
        })
}

fn strings(context: &str, key: &str, v: &toml::Value) -> Result<Vec<String>, TableError> {
    let bad = |what: &str| TableError::BadValue {
        context: context.to_string(),
        key: key.to_string(),
        message: format!("expected a string or a list of strings, found {what}"),
    };
    match v {
        toml::Value::String(s) => Ok(vec![s.clone()]),
        toml::Value::Array(a) => a
            .iter()
            .map(|x| match x {
                toml::Value::String(s) => Ok(s.clone()),
                other => Err(bad(other.type_str())),
            })
            .collect(),
        other => Err(bad(other.type_str())),
    }
}

fn parse_range(context: &str, key: &str, s: &str) -> Result<(Code, Code), TableError> {
    let bad = |reason| TableError::BadRange {
        context: context.to_string(),
        key: key.to_string(),
        value: s.to_string(),
        reason,
    };
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (a.trim(), b.trim()),
        None => (s.trim(), s.trim()),
    };
    let (Some(lo), Some(hi)) = (Code::new(a), Code::new(b)) else {
        return Err(bad("empty or longer than 16 characters"));
    };
    if lo.len() != hi.len() {
        return Err(bad("the ends differ in length"));
    }
    if lo > hi {
        return Err(bad("the start is after the end"));
    }
    if !lo.as_bytes().iter().all(u8::is_ascii_alphanumeric)
        || !hi.as_bytes().iter().all(u8::is_ascii_alphanumeric)
    {
        return Err(bad("codes are letters and digits"));
    }
    Ok((lo, hi))
}

/// The allowed values of name-valued keys, where the set is closed.
fn allowed_names(key: Key) -> Option<&'static [&'static str]> {
    match key {
        Key::Transaction => Some(&["278", "837P", "837I", "837D"]),
        Key::ServicingLocation => Some(&["out_of_state_non_border"]),
        Key::TransportLocation => Some(&["out_of_state"]),
        Key::HasSegment => Some(&KNOWN_SEGMENTS),
        _ => None,
    }
}

struct Ctx<'t> {
    plans: &'t HashSet<String>,
    sets: Option<&'t HashSet<String>>,
}

fn one_condition(
    context: &str,
    path: &str,
    key: Key,
    v: &toml::Value,
    ctx: &Ctx<'_>,
) -> Result<Condition, TableError> {
    let bad = |message: String| TableError::BadValue {
        context: context.to_string(),
        key: path.to_string(),
        message,
    };
    let value = match key.kind() {
        ValueKind::Bool => match v {
            toml::Value::Boolean(b) => Value::Bool(*b),
            other => {
                return Err(bad(format!(
                    "expected true or false, found {}",
                    other.type_str()
                )))
            }
        },
        ValueKind::Int => match v {
            toml::Value::Integer(i) if (0..=200).contains(i) => Value::Int(*i as u32),
            other => return Err(bad(format!("expected an age 0-200, found {other:?}"))),
        },
        ValueKind::Ranges => {
            let mut out = Vec::new();
            for s in strings(context, path, v)? {
                let s = if key == Key::ProcRev {
                    pad_revenue_range(&s)
                } else {
                    s
                };
                out.push(parse_range(context, path, &s)?);
            }
            Value::Ranges(out)
        }
        ValueKind::Prefixes => {
            let mut prefixes = Vec::new();
            let mut any = false;
            for s in strings(context, path, v)? {
                if s == "*" {
                    any = true;
                    continue;
                }
                match Code::new(&s) {
                    Some(c) if c.as_bytes().iter().all(u8::is_ascii_alphanumeric) => {
                        prefixes.push(c)
                    }
                    _ => return Err(bad(format!("bad prefix `{s}`"))),
                }
            }
            Value::Prefixes { prefixes, any }
        }
        ValueKind::Names => {
            let names = strings(context, path, v)?;
            for n in &names {
                if n.is_empty() {
                    return Err(bad("empty value".into()));
                }
                if let Some(allowed) = allowed_names(key) {
                    if !allowed.contains(&n.as_str()) {
                        return Err(bad(format!("`{n}` is not one of {}", allowed.join(", "))));
                    }
                }
                if key == Key::BenefitPlan && !ctx.plans.contains(n) {
                    return Err(TableError::UnknownPlan {
                        context: context.to_string(),
                        key: path.to_string(),
                        plan: n.clone(),
                    });
                }
                if key == Key::Set {
                    match ctx.sets {
                        None => return Err(bad("a set cannot name other sets".into())),
                        Some(sets) if !sets.contains(n) => {
                            return Err(TableError::UnknownSet {
                                context: context.to_string(),
                                key: path.to_string(),
                                set: n.clone(),
                            })
                        }
                        Some(_) => {}
                    }
                }
            }
            Value::Names(names)
        }
    };
    let empty = match &value {
        Value::Names(n) => n.is_empty(),
        Value::Ranges(r) => r.is_empty(),
        Value::Prefixes { prefixes, any } => prefixes.is_empty() && !any,
        Value::Bool(_) | Value::Int(_) => false,
    };
    if empty {
        return Err(bad("empty list".into()));
    }
    Ok(Condition { key, value })
}

/// `"183-185"` -> `"0183-0185"`: revenue codes compare left-padded to four digits.
fn pad_revenue_range(s: &str) -> String {
    let pad = |x: &str| {
        let x = x.trim();
        if x.len() < 4 && !x.is_empty() {
            format!("{}{x}", "0".repeat(4 - x.len()))
        } else {
            x.to_string()
        }
    };
    match s.split_once('-') {
        Some((a, b)) => format!("{}-{}", pad(a), pad(b)),
        None => pad(s),
    }
}

fn conditions(
    context: &str,
    block: &str,
    v: &toml::Value,
    ctx: &Ctx<'_>,
) -> Result<Conditions, TableError> {
    let toml::Value::Table(t) = v else {
        return Err(TableError::BadValue {
            context: context.to_string(),
            key: block.to_string(),
            message: "expected a table of condition keys".into(),
        });
    };
    let join = |k: &str| {
        if block.is_empty() {
            k.to_string()
        } else {
            format!("{block}.{k}")
        }
    };
    let mut out = Vec::new();
    for (k, v) in t {
        if k == "proc" {
            let toml::Value::Table(p) = v else {
                return Err(TableError::BadValue {
                    context: context.to_string(),
                    key: join(k),
                    message: "expected a table (HC, AD, REV, ICD10PCS)".into(),
                });
            };
            for (pk, pv) in p {
                let path = format!("{}.{pk}", join("proc"));
                let key = match Key::from_name(&format!("proc.{pk}")) {
                    Some(key) => key,
                    None => {
                        return Err(TableError::UnknownKey {
                            context: context.to_string(),
                            key: path,
                        })
                    }
                };
                out.push(one_condition(context, &path, key, pv, ctx)?);
            }
            continue;
        }
        let path = join(k);
        let key = match Key::from_name(k) {
            Some(key) if !k.starts_with("proc.") => key,
            _ => {
                return Err(TableError::UnknownKey {
                    context: context.to_string(),
                    key: path,
                })
            }
        };
        out.push(one_condition(context, &path, key, v, ctx)?);
    }
    out.sort_by_key(|c| c.key);
    Ok(Conditions(out))
}

fn date(context: &str, key: &str, s: &Option<String>) -> Result<Option<Date>, TableError> {
    match s {
        None => Ok(None),
        Some(s) => Date::parse(s).map(Some).ok_or_else(|| TableError::BadDate {
            context: context.to_string(),
            key: key.to_string(),
            value: s.clone(),
        }),
    }
}

impl Table {
    /// The bundled table ([`BUNDLED_TABLE`]).
    pub fn bundled() -> Result<Table, TableError> {
        Table::parse(BUNDLED_TABLE)
    }

    /// Reads and validates a contractor table.
    pub fn parse(text: &str) -> Result<Table, TableError> {
        let doc: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| TableError::Syntax(e.message().to_string()))?;
        let top = "top level";
        for k in doc.keys() {
            if !matches!(
                k.as_str(),
                "schema_version"
                    | "home_state"
                    | "location"
                    | "benefit_plans"
                    | "vendor"
                    | "sets"
                    | "rule"
            ) {
                return Err(TableError::UnknownKey {
                    context: top.into(),
                    key: k.clone(),
                });
            }
        }
        let get = |k: &str| {
            doc.get(k).cloned().ok_or_else(|| TableError::MissingKey {
                context: top.into(),
                key: k.into(),
            })
        };
        let schema_version: u32 = typed(top, "schema_version", get("schema_version")?)?;
        if schema_version != 1 {
            return Err(TableError::BadValue {
                context: top.into(),
                key: "schema_version".into(),
                message: format!("version {schema_version} is not supported (1 is)"),
            });
        }
        let home_state: String = typed(top, "home_state", get("home_state")?)?;
        let location: Location = typed("location", "location", get("location")?)?;
        if location.fallback_when_border_unknown != "state_only" {
            return Err(TableError::BadValue {
                context: "location".into(),
                key: "fallback_when_border_unknown".into(),
                message: "only `state_only` is supported".into(),
            });
        }
        let benefit_plans: BenefitPlans =
            typed("benefit_plans", "benefit_plans", get("benefit_plans")?)?;
        if benefit_plans.values.len() > 32 {
            return Err(TableError::BadValue {
                context: "benefit_plans".into(),
                key: "values".into(),
                message: "at most 32 plans".into(),
            });
        }
        let plans: HashSet<String> = benefit_plans.values.iter().cloned().collect();

        let mut vendors = Vec::new();
        let raw_vendors = match get("vendor")? {
            toml::Value::Array(a) => a,
            _ => {
                return Err(TableError::BadValue {
                    context: top.into(),
                    key: "vendor".into(),
                    message: "expected [[vendor]] tables".into(),
                })
            }
        };
        for (i, v) in raw_vendors.into_iter().enumerate() {
            let label = v
                .get("id")
                .and_then(|x| x.as_str())
                .map_or_else(|| format!("vendor #{}", i + 1), |id| format!("vendor {id}"));
            let vendor: Vendor = typed(&label, "", v)?;
            if vendors.iter().any(|x: &Vendor| x.id == vendor.id) {
                return Err(TableError::DuplicateId {
                    context: label,
                    id: vendor.id,
                });
            }
            vendors.push(vendor);
        }

        let mut sets = BTreeMap::new();
        if let Some(raw) = doc.get("sets") {
            let toml::Value::Table(t) = raw else {
                return Err(TableError::BadValue {
                    context: top.into(),
                    key: "sets".into(),
                    message: "expected [sets.<name>] tables".into(),
                });
            };
            let ctx = Ctx {
                plans: &plans,
                sets: None,
            };
            for (name, body) in t {
                let context = format!("sets.{name}");
                let c = conditions(&context, "", body, &ctx)?;
                if c.is_empty() {
                    return Err(TableError::BadValue {
                        context,
                        key: String::new(),
                        message: "a set needs at least one key".into(),
                    });
                }
                sets.insert(name.clone(), c);
            }
        }
        let set_names: HashSet<String> = sets.keys().cloned().collect();
        let ctx = Ctx {
            plans: &plans,
            sets: Some(&set_names),
        };

        let raw_rules = match get("rule")? {
            toml::Value::Array(a) => a,
            _ => {
                return Err(TableError::BadValue {
                    context: top.into(),
                    key: "rule".into(),
                    message: "expected [[rule]] tables".into(),
                })
            }
        };
        let mut rules: Vec<Rule> = Vec::new();
        let mut priorities: HashMap<u32, String> = HashMap::new();
        for (i, raw) in raw_rules.into_iter().enumerate() {
            let toml::Value::Table(mut t) = raw else {
                continue;
            };
            let context = t
                .get("id")
                .and_then(|x| x.as_str())
                .map_or_else(|| format!("rule #{}", i + 1), |id| format!("rule {id}"));
            let mut blocks: [Conditions; 4] = Default::default();
            for (slot, name) in ["when", "any", "unless", "expect"].iter().enumerate() {
                if let Some(v) = t.remove(*name) {
                    blocks[slot] = conditions(&context, name, &v, &ctx)?;
                }
            }
            let h: RuleHeader = typed(&context, "", toml::Value::Table(t))?;
            let vendor = vendors.iter().find(|v| v.id == h.vendor).ok_or_else(|| {
                TableError::UnknownVendor {
                    rule: h.id.clone(),
                    vendor: h.vendor.clone(),
                }
            })?;
            if !vendor.pa_types.contains(&h.pa_type) {
                return Err(TableError::UnknownPaType {
                    rule: h.id.clone(),
                    pa_type: h.pa_type.clone(),
                    vendor: h.vendor.clone(),
                });
            }
            if h.action == Action::Route && !vendor.routable {
                return Err(TableError::BadValue {
                    context,
                    key: "action".into(),
                    message: format!(
                        "vendor `{}` is not routable: use reject or no_pa_required",
                        vendor.id
                    ),
                });
            }
            for f in &h.flags {
                if !RULE_FLAGS.contains(&f.as_str()) {
                    return Err(TableError::BadValue {
                        context,
                        key: "flags".into(),
                        message: format!("unknown flag `{f}` (known: {})", RULE_FLAGS.join(", ")),
                    });
                }
            }
            let effective = match &h.effective {
                None => None,
                Some(w) => {
                    let from = date(&context, "effective.from", &w.from)?;
                    let to = date(&context, "effective.to", &w.to)?;
                    if let (Some(f), Some(t)) = (from, to) {
                        if f > t {
                            return Err(TableError::BadDate {
                                context,
                                key: "effective".into(),
                                value: format!("{f} after {t}"),
                            });
                        }
                    }
                    Some(Window { from, to })
                }
            };
            if rules.iter().any(|r| r.id == h.id) {
                return Err(TableError::DuplicateId { context, id: h.id });
            }
            if let Some(other) = priorities.get(&h.priority) {
                return Err(TableError::DuplicatePriority {
                    rule: h.id,
                    other: other.clone(),
                    priority: h.priority,
                });
            }
            priorities.insert(h.priority, h.id.clone());
            let [when, any, unless, expect] = blocks;
            rules.push(Rule {
                id: h.id,
                priority: h.priority,
                scope: h.scope,
                action: h.action,
                vendor: h.vendor,
                pa_type: h.pa_type,
                effective,
                when,
                any,
                unless,
                expect,
                flags: h.flags,
                rationale: h.rationale,
                source: h.source,
                note: h.note,
            });
        }
        Ok(Table {
            schema_version,
            home_state,
            location,
            benefit_plans: benefit_plans.values,
            vendors,
            sets,
            rules,
        })
    }

    /// The vendor with id `id`.
    pub fn vendor(&self, id: &str) -> Option<&Vendor> {
        self.vendors.iter().find(|v| v.id == id)
    }
}
