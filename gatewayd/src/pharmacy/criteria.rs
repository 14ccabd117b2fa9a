//! The auto-approval criteria file: its TOML model, loading and validation.
//!
//! ```toml
//! schema_version = 1
//!
//! [class.glp1_t2dm]                     # the class id (lower case, digits, `_`, `-`)
//! name = "GLP-1 receptor agonists"      # required
//! ndc = ["00002143480"]                 # 11-digit NDCs (5-4-2, no hyphens) ...
//! ndc_prefix = ["001694132"]            # ... and/or prefixes of 5 to 10 digits
//! dx_prefix = ["E11"]                   # ICD-10-CM prefixes, no dot; any one must match
//! min_age = 10                          # whole years on the date of service, inclusive
//! max_age = 120
//! max_quantity = 4                      # SV104 units per request (SV103 UN)
//! max_days = 365                        # days the request covers
//! effective = { from = "2022-10-01", to = "2023-03-31" }   # dates of service, inclusive
//! source = "where the criteria come from"
//! ```
//!
//! Every key but `name` and one of `ndc` / `ndc_prefix` is optional; a criterion that
//! is absent is not checked. [`Criteria::parse`] refuses, each with a
//! [`CriteriaError`] naming the class, the key and the line: unknown keys (serde
//! `deny_unknown_fields`, located through the toml crate's spans), values of the wrong
//! type, malformed NDCs, NDC prefixes and ICD-10-CM prefixes, an NDC or prefix that
//! overlaps one of another class (an NDC must decide one class), bad ranges (negative
//! or reversed ages, a quantity or day limit that is not positive, an effective window
//! that ends before it starts) and bad dates.
//!
//! ```
//! use gatewayd::pharmacy::{Criteria, CriteriaError};
//! let c = Criteria::bundled().unwrap();
//! assert_eq!(c.class_for_ndc("00002143480").unwrap().id, "glp1_t2dm");
//!
//! let bad = "schema_version = 1\n[class.a]\nname = \"A\"\nndc = [\"0000214348\"]\n";
//! let err = Criteria::parse(bad).unwrap_err();
//! assert!(matches!(err, CriteriaError::MalformedNdc { .. }));
//! assert_eq!(
//!     err.to_string(),
//!     "class a, line 4: key `ndc`: malformed NDC `0000214348`: an NDC has 11 digits (5-4-2 without hyphens)"
//! );
//! ```

use super::date::Ymd;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;
use std::path::Path;
use thiserror::Error;
use toml::de::{DeTable, DeValue};

/// The criteria file shipped with the gateway (`gatewayd/pharmacy-criteria.toml`): a
/// small illustrative sample, not NC Medicaid's clinical criteria.
pub const BUNDLED_CRITERIA: &str = include_str!("../../pharmacy-criteria.toml");

/// The `schema_version` this build reads.
pub const SCHEMA_VERSION: i64 = 1;

/// Where in the criteria file an error is: a class (or the top level) and a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The class id, or `None` for the top level.
    pub class: Option<String>,
    /// The 1-based line, when the toml crate gave a span for it.
    pub line: Option<u32>,
}

impl fmt::Display for Location {
    /// `class glp1, line 12`, `top level, line 1`, `class glp1` (no line known).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.class {
            Some(c) => write!(f, "class {c}")?,
            None => f.write_str("top level")?,
        }
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        Ok(())
    }
}

/// A criteria file the gateway must refuse to start with. Each names where
/// ([`Location`]: class and line) and the key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CriteriaError {
    /// The file could not be read.
    #[error("criteria file {path}: {message}")]
    Io {
        /// The path given.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// Not TOML at all.
    #[error("criteria file is not valid TOML (line {line}): {message}")]
    Syntax {
        /// The line of the first syntax error.
        line: u32,
        /// The toml crate's message.
        message: String,
    },
    /// A key the criteria format does not define.
    #[error("{at}: unknown key `{key}`")]
    UnknownKey {
        /// Where.
        at: Location,
        /// The key (`effective.form` inside the window).
        key: String,
    },
    /// A required key is absent.
    #[error("{at}: missing key `{key}`")]
    MissingKey {
        /// Where.
        at: Location,
        /// The key.
        key: String,
    },
    /// A value of the wrong type or shape.
    #[error("{at}: key `{key}`: {message}")]
    BadValue {
        /// Where.
        at: Location,
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A `schema_version` this build does not read.
    #[error("{at}: key `schema_version`: unsupported version {found} (this build reads {SCHEMA_VERSION})")]
    UnsupportedVersion {
        /// Where.
        at: Location,
        /// The version written.
        found: i64,
    },
    /// An `ndc` entry that is not 11 digits, or an `ndc_prefix` that is not 5-10 digits.
    #[error("{at}: key `{key}`: malformed NDC `{value}`: {reason}")]
    MalformedNdc {
        /// Where.
        at: Location,
        /// `ndc` or `ndc_prefix`.
        key: &'static str,
        /// The value as written.
        value: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A `dx_prefix` entry that is not an ICD-10-CM code prefix.
    #[error("{at}: key `dx_prefix`: malformed ICD-10-CM prefix `{value}`: {reason}")]
    MalformedDiagnosis {
        /// Where.
        at: Location,
        /// The value as written.
        value: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// An NDC or prefix that covers (or is covered by) one of another class, or is
    /// listed twice: an NDC must decide exactly one class.
    #[error("{at}: key `{key}`: `{value}` overlaps `{other_value}` of class {other}")]
    Overlap {
        /// Where (the later of the two entries in key order).
        at: Location,
        /// `ndc` or `ndc_prefix`.
        key: &'static str,
        /// The value.
        value: String,
        /// The other class (may be the same class for a duplicate).
        other: String,
        /// The other class's entry.
        other_value: String,
    },
    /// A limit that is negative, zero where it must be positive, or a minimum above
    /// its maximum.
    #[error("{at}: key `{key}`: bad range: {message}")]
    BadRange {
        /// Where.
        at: Location,
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A date that is not `YYYY-MM-DD`.
    #[error("{at}: key `{key}`: bad date `{value}` (YYYY-MM-DD)")]
    BadDate {
        /// Where.
        at: Location,
        /// The key (`effective.from`, `effective.to`).
        key: String,
        /// The value as written.
        value: String,
    },
}

/// An inclusive window of dates of service; an absent end is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First date of service covered.
    pub from: Option<Ymd>,
    /// Last date of service covered.
    pub to: Option<Ymd>,
}

impl Window {
    /// Whether `d` is inside the window.
    pub fn contains(&self, d: Ymd) -> bool {
        self.from.is_none_or(|f| f <= d) && self.to.is_none_or(|t| d <= t)
    }
}

impl fmt::Display for Window {
    /// `2022-10-01 to 2023-03-31`, `from 2022-10-01`, `to 2023-03-31`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.from, self.to) {
            (Some(a), Some(b)) => write!(f, "{a} to {b}"),
            (Some(a), None) => write!(f, "from {a}"),
            (None, Some(b)) => write!(f, "to {b}"),
            (None, None) => f.write_str("always"),
        }
    }
}

/// One drug class and its auto-approval criteria.
#[derive(Debug, Clone, PartialEq)]
pub struct DrugClass {
    /// The class id (its `[class.<id>]` key).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Exact 11-digit NDCs.
    pub ndc: Vec<String>,
    /// NDC prefixes (5-10 digits).
    pub ndc_prefix: Vec<String>,
    /// ICD-10-CM prefixes; one diagnosis of the event must start with one of them.
    /// Empty: no diagnosis criterion.
    pub dx_prefix: Vec<String>,
    /// Minimum age in whole years on the date of service, inclusive.
    pub min_age: Option<u32>,
    /// Maximum age in whole years on the date of service, inclusive.
    pub max_age: Option<u32>,
    /// Maximum SV104 units per request.
    pub max_quantity: Option<f64>,
    /// Maximum days a request may cover; also the certification length when the
    /// request gives a single date.
    pub max_days: Option<u32>,
    /// Dates of service the class auto-approves.
    pub effective: Option<Window>,
    /// Where the criteria come from.
    pub source: Option<String>,
}

impl DrugClass {
    /// Whether the class covers `ndc` (exactly, or by prefix).
    pub fn covers(&self, ndc: &str) -> bool {
        self.ndc.iter().any(|n| n == ndc) || self.ndc_prefix.iter().any(|p| ndc.starts_with(p))
    }
}

/// A loaded, validated criteria file.
#[derive(Debug, Clone, PartialEq)]
pub struct Criteria {
    /// The file's `schema_version`.
    pub schema_version: i64,
    /// The classes, by id.
    pub classes: Vec<DrugClass>,
    /// Exact NDC -> class index.
    exact: HashMap<String, usize>,
    /// (prefix, class index), sorted by prefix.
    prefixes: Vec<(String, usize)>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    schema_version: Option<i64>,
    #[serde(default)]
    class: BTreeMap<String, RawClass>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClass {
    name: Option<String>,
    #[serde(default)]
    ndc: Vec<String>,
    #[serde(default)]
    ndc_prefix: Vec<String>,
    #[serde(default)]
    dx_prefix: Vec<String>,
    min_age: Option<i64>,
    max_age: Option<i64>,
    max_quantity: Option<f64>,
    max_days: Option<i64>,
    effective: Option<RawWindow>,
    source: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    from: Option<String>,
    to: Option<String>,
}

/// One key of the file with its spans, for locating errors.
#[derive(Debug)]
struct Entry {
    class: Option<String>,
    key: String,
    span: Range<usize>,
    /// Spans of the array elements, when the value is an array.
    elements: Vec<Range<usize>>,
}

/// Spans of the file's keys, from the toml crate's spanned document.
#[derive(Debug, Default)]
struct Spans {
    /// Start of every line.
    line_starts: Vec<usize>,
    entries: Vec<Entry>,
    /// Span of each class's header key.
    classes: HashMap<String, Range<usize>>,
}

fn cover(a: &Range<usize>, b: &Range<usize>) -> Range<usize> {
    a.start.min(b.start)..a.end.max(b.end)
}

impl Spans {
    fn new(text: &str) -> Spans {
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        let mut s = Spans {
            line_starts,
            ..Spans::default()
        };
        let Ok(doc) = DeTable::parse(text) else {
            return s;
        };
        for (k, v) in doc.get_ref() {
            let key = k.get_ref().to_string();
            s.add(None, &key, &k.span(), v.get_ref(), &v.span());
            if key != "class" {
                continue;
            }
            let Some(classes) = v.get_ref().as_table() else {
                continue;
            };
            for (ck, cv) in classes {
                let id = ck.get_ref().to_string();
                s.classes.insert(id.clone(), ck.span());
                let Some(fields) = cv.get_ref().as_table() else {
                    continue;
                };
                for (fk, fv) in fields {
                    let fkey = fk.get_ref().to_string();
                    s.add(Some(&id), &fkey, &fk.span(), fv.get_ref(), &fv.span());
                    if let Some(inner) = fv.get_ref().as_table() {
                        for (ik, iv) in inner {
                            let ikey = format!("{fkey}.{}", ik.get_ref());
                            s.add(Some(&id), &ikey, &ik.span(), iv.get_ref(), &iv.span());
                        }
                    }
                }
            }
        }
        s
    }

    fn add(
        &mut self,
        class: Option<&str>,
        key: &str,
        key_span: &Range<usize>,
        value: &DeValue<'_>,
        value_span: &Range<usize>,
    ) {
        let elements = value
            .as_array()
            .map(|a| a.iter().map(|e| e.span()).collect())
            .unwrap_or_default();
        self.entries.push(Entry {
            class: class.map(str::to_string),
            key: key.to_string(),
            span: cover(key_span, value_span),
            elements,
        });
    }

    fn line(&self, offset: usize) -> u32 {
        let n = self.line_starts.partition_point(|s| *s <= offset).max(1);
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    fn entry(&self, class: Option<&str>, key: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.class.as_deref() == class && e.key == key)
    }

    /// The location of a class's key (or of the class header when the key is absent).
    fn at(&self, class: Option<&str>, key: &str) -> Location {
        let line = self
            .entry(class, key)
            .map(|e| self.line(e.span.start))
            .or_else(|| {
                class
                    .and_then(|c| self.classes.get(c))
                    .map(|r| self.line(r.start))
            });
        Location {
            class: class.map(str::to_string),
            line,
        }
    }

    /// The location of element `i` of a class's array key.
    fn at_element(&self, class: &str, key: &str, i: usize) -> Location {
        let line = self
            .entry(Some(class), key)
            .and_then(|e| e.elements.get(i).or(Some(&e.span)))
            .map(|r| self.line(r.start));
        Location {
            class: Some(class.to_string()),
            line,
        }
    }

    /// The innermost key whose span holds `offset`: (class, key).
    fn locate(&self, offset: usize) -> Option<(Option<String>, String)> {
        self.entries
            .iter()
            .filter(|e| e.span.contains(&offset) || e.span.start == offset)
            .min_by_key(|e| e.span.len())
            .map(|e| (e.class.clone(), e.key.clone()))
    }
}

fn serde_error(spans: &Spans, e: &toml::de::Error) -> CriteriaError {
    let offset = e.span().map(|s| s.start);
    let line = offset.map(|o| spans.line(o));
    let (class, key) = offset
        .and_then(|o| spans.locate(o))
        .unwrap_or((None, String::new()));
    let message = e.message().trim().to_string();
    let at = Location { class, line };
    if message.starts_with("unknown field") {
        let key = if key.is_empty() {
            backticked(&message).unwrap_or_default()
        } else {
            key
        };
        return CriteriaError::UnknownKey { at, key };
    }
    if let Some(field) = message
        .strip_prefix("missing field")
        .and_then(|_| backticked(&message))
    {
        return CriteriaError::MissingKey { at, key: field };
    }
    CriteriaError::BadValue { at, key, message }
}

/// The first `` `name` `` of a serde message.
fn backticked(message: &str) -> Option<String> {
    let rest = message.split_once('`')?.1;
    Some(rest.split_once('`')?.0.to_string())
}

fn check_ndc(value: &str, prefix: bool) -> Result<(), &'static str> {
    if value.contains('-') {
        return Err("write NDCs in 11-digit 5-4-2 form without hyphens");
    }
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err("an NDC has digits only");
    }
    match (prefix, value.len()) {
        (false, 11) => Ok(()),
        (false, _) => Err("an NDC has 11 digits (5-4-2 without hyphens)"),
        (true, 5..=10) => Ok(()),
        (true, _) => Err("an NDC prefix has 5 to 10 digits (at least the labeler code)"),
    }
}

fn check_dx(value: &str) -> Result<(), &'static str> {
    let b = value.as_bytes();
    if value.contains('.') {
        return Err("write ICD-10-CM codes without the dot");
    }
    if b.is_empty() || b.len() > 7 {
        return Err("a prefix has 1 to 7 characters");
    }
    if !b[0].is_ascii_uppercase() {
        return Err("an ICD-10-CM code starts with an upper-case letter");
    }
    if !b
        .iter()
        .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    {
        return Err("an ICD-10-CM code has upper-case letters and digits only");
    }
    Ok(())
}

fn check_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A non-negative whole number of at most `max`, as a u32.
fn limit(
    spans: &Spans,
    class: &str,
    key: &str,
    v: Option<i64>,
    min: i64,
    max: i64,
) -> Result<Option<u32>, CriteriaError> {
    let Some(v) = v else { return Ok(None) };
    if v < min || v > max {
        return Err(CriteriaError::BadRange {
            at: spans.at(Some(class), key),
            key: key.to_string(),
            message: format!("{v} is outside {min}..={max}"),
        });
    }
    Ok(u32::try_from(v).ok())
}

impl Criteria {
    /// The bundled criteria ([`BUNDLED_CRITERIA`]).
    pub fn bundled() -> Result<Criteria, CriteriaError> {
        Criteria::parse(BUNDLED_CRITERIA)
    }

    /// Reads and validates a criteria file.
    pub fn load(path: &Path) -> Result<Criteria, CriteriaError> {
        let text = std::fs::read_to_string(path).map_err(|e| CriteriaError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Criteria::parse(&text)
    }

    /// The criteria in `path`, or the bundled ones when `path` is `None`.
    pub fn load_or_bundled(path: Option<&Path>) -> Result<Criteria, CriteriaError> {
        match path {
            Some(p) => Criteria::load(p),
            None => Criteria::bundled(),
        }
    }

    /// Parses and validates criteria text. Never panics, whatever the text.
    pub fn parse(text: &str) -> Result<Criteria, CriteriaError> {
        if let Err(e) = DeTable::parse(text) {
            let line = e
                .span()
                .map_or(1, |s| Spans::new(text).line(s.start.min(text.len())));
            return Err(CriteriaError::Syntax {
                line,
                message: e.message().trim().to_string(),
            });
        }
        let spans = Spans::new(text);
        let raw: RawFile = toml::from_str(text).map_err(|e| serde_error(&spans, &e))?;
        let version = raw
            .schema_version
            .ok_or_else(|| CriteriaError::MissingKey {
                at: Location {
                    class: None,
                    line: Some(1),
                },
                key: "schema_version".into(),
            })?;
        if version != SCHEMA_VERSION {
            return Err(CriteriaError::UnsupportedVersion {
                at: spans.at(None, "schema_version"),
                found: version,
            });
        }
        let mut classes = Vec::with_capacity(raw.class.len());
        for (id, c) in raw.class {
            classes.push(Criteria::build_class(&spans, id, c)?);
        }
        let (exact, prefixes) = Criteria::index(&spans, &classes)?;
        Ok(Criteria {
            schema_version: version,
            classes,
            exact,
            prefixes,
        })
    }

    fn build_class(spans: &Spans, id: String, c: RawClass) -> Result<DrugClass, CriteriaError> {
        if !check_id(&id) {
            return Err(CriteriaError::BadValue {
                at: spans.at(Some(&id), ""),
                key: "class".into(),
                message: format!("class id `{id}`: use lower-case letters, digits, `_` and `-`"),
            });
        }
        let name = match c.name {
            Some(n) if !n.trim().is_empty() => n,
            Some(_) => {
                return Err(CriteriaError::BadValue {
                    at: spans.at(Some(&id), "name"),
                    key: "name".into(),
                    message: "the name is empty".into(),
                })
            }
            None => {
                return Err(CriteriaError::MissingKey {
                    at: spans.at(Some(&id), ""),
                    key: "name".into(),
                })
            }
        };
        if c.ndc.is_empty() && c.ndc_prefix.is_empty() {
            return Err(CriteriaError::MissingKey {
                at: spans.at(Some(&id), ""),
                key: "ndc".into(),
            });
        }
        for (key, list, prefix) in [("ndc", &c.ndc, false), ("ndc_prefix", &c.ndc_prefix, true)] {
            for (i, v) in list.iter().enumerate() {
                check_ndc(v, prefix).map_err(|reason| CriteriaError::MalformedNdc {
                    at: spans.at_element(&id, key, i),
                    key,
                    value: v.clone(),
                    reason,
                })?;
            }
        }
        for (i, v) in c.dx_prefix.iter().enumerate() {
            check_dx(v).map_err(|reason| CriteriaError::MalformedDiagnosis {
                at: spans.at_element(&id, "dx_prefix", i),
                value: v.clone(),
                reason,
            })?;
        }
        let min_age = limit(spans, &id, "min_age", c.min_age, 0, 150)?;
        let max_age = limit(spans, &id, "max_age", c.max_age, 0, 150)?;
        if let (Some(lo), Some(hi)) = (min_age, max_age) {
            if lo > hi {
                return Err(CriteriaError::BadRange {
                    at: spans.at(Some(&id), "max_age"),
                    key: "max_age".into(),
                    message: format!("max_age {hi} is below min_age {lo}"),
                });
            }
        }
        let max_days = limit(spans, &id, "max_days", c.max_days, 1, 3660)?;
        if let Some(q) = c.max_quantity {
            if !(q.is_finite() && q > 0.0 && q < 1e12) {
                return Err(CriteriaError::BadRange {
                    at: spans.at(Some(&id), "max_quantity"),
                    key: "max_quantity".into(),
                    message: format!("{q} is not a positive quantity"),
                });
            }
        }
        let effective = match c.effective {
            None => None,
            Some(w) => {
                let date = |key: &str, v: Option<String>| -> Result<Option<Ymd>, CriteriaError> {
                    let Some(v) = v else { return Ok(None) };
                    Ymd::from_iso(&v)
                        .map(Some)
                        .ok_or_else(|| CriteriaError::BadDate {
                            at: spans.at(Some(&id), key),
                            key: key.into(),
                            value: v,
                        })
                };
                let window = Window {
                    from: date("effective.from", w.from)?,
                    to: date("effective.to", w.to)?,
                };
                if let (Some(a), Some(b)) = (window.from, window.to) {
                    if b < a {
                        return Err(CriteriaError::BadRange {
                            at: spans.at(Some(&id), "effective.to"),
                            key: "effective".into(),
                            message: format!("the window ends ({b}) before it starts ({a})"),
                        });
                    }
                }
                Some(window)
            }
        };
        Ok(DrugClass {
            id,
            name,
            ndc: c.ndc,
            ndc_prefix: c.ndc_prefix,
            dx_prefix: c.dx_prefix,
            min_age,
            max_age,
            max_quantity: c.max_quantity,
            max_days,
            effective,
            source: c.source,
        })
    }

    /// Builds the lookup and refuses overlaps: after sorting every NDC and prefix,
    /// an entry overlaps an earlier one exactly when that one is a prefix of it (or
    /// equal), so a stack of the open prefixes finds every overlap in one pass.
    #[allow(clippy::type_complexity)]
    fn index(
        spans: &Spans,
        classes: &[DrugClass],
    ) -> Result<(HashMap<String, usize>, Vec<(String, usize)>), CriteriaError> {
        // (value, class index, key, element index)
        let mut all: Vec<(&str, usize, &'static str, usize)> = Vec::new();
        for (ci, c) in classes.iter().enumerate() {
            all.extend(
                c.ndc
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (v.as_str(), ci, "ndc", i)),
            );
            all.extend(
                c.ndc_prefix
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (v.as_str(), ci, "ndc_prefix", i)),
            );
        }
        all.sort();
        let mut open: Vec<(&str, usize)> = Vec::new();
        for &(value, ci, key, i) in &all {
            while open.last().is_some_and(|(p, _)| !value.starts_with(p)) {
                open.pop();
            }
            if let Some(&(p, other)) = open.last() {
                // equal entries, or an entry under another class's prefix
                if other != ci || p == value {
                    return Err(CriteriaError::Overlap {
                        at: spans.at_element(&classes[ci].id, key, i),
                        key,
                        value: value.into(),
                        other: classes[other].id.clone(),
                        other_value: p.into(),
                    });
                }
            }
            open.push((value, ci));
        }
        let mut exact = HashMap::new();
        let mut prefixes = Vec::new();
        for (ci, c) in classes.iter().enumerate() {
            exact.extend(c.ndc.iter().map(|n| (n.clone(), ci)));
            prefixes.extend(c.ndc_prefix.iter().map(|p| (p.clone(), ci)));
        }
        prefixes.sort();
        Ok((exact, prefixes))
    }

    /// The class that covers `ndc` (11 digits): by exact NDC, else by prefix. At most
    /// one class can, since overlaps are refused at load.
    pub fn class_for_ndc(&self, ndc: &str) -> Option<&DrugClass> {
        if let Some(&i) = self.exact.get(ndc) {
            return self.classes.get(i);
        }
        self.prefixes
            .iter()
            .find(|(p, _)| ndc.starts_with(p.as_str()))
            .and_then(|(_, i)| self.classes.get(*i))
    }

    /// The class with id `id`.
    pub fn class(&self, id: &str) -> Option<&DrugClass> {
        self.classes.iter().find(|c| c.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift64*), so the test needs no crate.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    const PIECES: [&str; 40] = [
        "[class.a]",
        "[class.b]",
        "[[class]]",
        "[class]",
        "name = \"x\"",
        "ndc = [\"00002143480\"]",
        "ndc_prefix = [\"00002\"]",
        "ndc = \"1\"",
        "dx_prefix = [\"E11\"]",
        "min_age = -1",
        "max_age = 99999999999999999999",
        "max_age = 3",
        "min_age = 5",
        "max_quantity = nan",
        "max_quantity = -inf",
        "max_quantity = 1e400",
        "max_days = 0",
        "max_days = 1.5",
        "effective = { from = \"2023-02-30\" }",
        "effective = { to = 2023-01-01 }",
        "effective.from = \"2022-01-01\"",
        "schema_version = 1",
        "schema_version = 2",
        "schema_version = \"1\"",
        "\"\u{e9}\u{301}\" = 1",
        "a.b.c = []",
        "x = { y = { z = 1 } }",
        "=",
        "\"",
        "'''",
        "[",
        "]",
        "#",
        "\n",
        " ",
        "\u{0}",
        "\u{feff}",
        "ndc = [1, 2]",
        "[class.\"\u{1F48A}\"]",
        "source = '''multi\nline'''",
    ];

    #[test]
    fn arbitrary_text_never_panics() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let bundled = BUNDLED_CRITERIA.as_bytes();
        for round in 0..3000 {
            let text = match round % 3 {
                // pieces of criteria syntax, shuffled
                0 => (0..rng.below(12))
                    .map(|_| PIECES[rng.below(PIECES.len())])
                    .collect::<Vec<_>>()
                    .join(if rng.below(2) == 0 { "\n" } else { " " }),
                // the bundled file with bytes flipped, cut or repeated
                1 => {
                    let mut b = bundled.to_vec();
                    for _ in 0..=rng.below(8) {
                        let i = rng.below(b.len());
                        match rng.below(3) {
                            0 => b[i] = (rng.next() & 0x7f) as u8,
                            1 => b.truncate(i),
                            _ => {
                                let lo = rng.below(b.len());
                                let hi = (lo + 1 + rng.below(64)).min(b.len());
                                let piece = b[lo..hi].to_vec();
                                let at = rng.below(b.len());
                                b.splice(at..at, piece);
                            }
                        }
                        if b.is_empty() {
                            break;
                        }
                    }
                    String::from_utf8_lossy(&b).into_owned()
                }
                // random bytes
                _ => {
                    let b: Vec<u8> = (0..rng.below(200)).map(|_| rng.next() as u8).collect();
                    String::from_utf8_lossy(&b).into_owned()
                }
            };
            let _ = Criteria::parse(&text);
        }
    }

    #[test]
    fn prefix_lookup_finds_the_one_class() {
        let c = Criteria::parse(
            "schema_version = 1\n[class.a]\nname = \"A\"\nndc_prefix = [\"12345\"]\n[class.b]\nname = \"B\"\nndc = [\"12346000001\"]\n",
        )
        .unwrap();
        assert_eq!(
            c.class_for_ndc("12345678901").map(|c| c.id.as_str()),
            Some("a")
        );
        assert_eq!(
            c.class_for_ndc("12346000001").map(|c| c.id.as_str()),
            Some("b")
        );
        assert_eq!(c.class_for_ndc("12346000002"), None);
    }

    #[test]
    fn a_prefix_and_its_own_ndc_are_not_an_overlap() {
        let c = Criteria::parse(
            "schema_version = 1\n[class.a]\nname = \"A\"\nndc_prefix = [\"12345\"]\nndc = [\"12345000001\"]\n",
        );
        assert!(c.is_ok(), "{c:?}");
    }
}
