//! What routing looks up outside the transaction: the member's benefit plan
//! ([`Eligibility`], with the CSV [`EligibilityFile`]) and the gateway's own index of
//! issued prior authorizations ([`PaIndex`], with the in-memory [`MemoryPaIndex`]).

use super::value::Date;
use std::collections::HashMap;
use std::path::Path;
use thiserror::Error;

/// The benefit plan of a member on a date of service (ROUTING.md §2 `benefit_plan`).
///
/// Closures implement it too:
///
/// ```
/// use gatewayd::route::{Date, Eligibility};
/// let lookup = |member: &str, _dos: Date| (member == "M1").then(|| "MPW".to_string());
/// assert_eq!(lookup.benefit_plan("M1", Date::parse("2023-03-01").unwrap()).as_deref(), Some("MPW"));
/// ```
pub trait Eligibility {
    /// The plan name, or `None` when the member is unknown on that date.
    fn benefit_plan(&self, member_id: &str, dos: Date) -> Option<String>;

    /// Whether every day from `from` to `to` (both included, in either order) is covered
    /// by some eligibility span of the member, whatever its plan: spans may meet or
    /// overlap, and one day no span covers, at an end or in the middle, makes it
    /// `false`. The default asks [`Eligibility::benefit_plan`] day by day and stops at
    /// the first uncovered day; [`EligibilityFile`] walks its spans instead.
    ///
    /// ```
    /// use gatewayd::route::{Date, Eligibility};
    /// let d = |s| Date::parse(s).unwrap();
    /// // covered in March except on the 10th
    /// let lookup = |_: &str, dos: Date| {
    ///     (dos.ymd().1 == 3 && dos.ymd().2 != 10).then(|| "MPW".to_string())
    /// };
    /// assert!(lookup.covers("M1", d("2023-03-01"), d("2023-03-09")));
    /// assert!(!lookup.covers("M1", d("2023-03-01"), d("2023-03-31")));
    /// ```
    fn covers(&self, member_id: &str, from: Date, to: Date) -> bool {
        let (from, to) = (from.min(to).to_days(), from.max(to).to_days());
        (from..=to).all(|day| {
            Date::from_days(day).is_some_and(|d| self.benefit_plan(member_id, d).is_some())
        })
    }
}

impl<F: Fn(&str, Date) -> Option<String>> Eligibility for F {
    fn benefit_plan(&self, member_id: &str, dos: Date) -> Option<String> {
        self(member_id, dos)
    }
}

/// No eligibility source: every plan is unknown (decisions carry `plan_unverified`).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEligibility;

impl Eligibility for NoEligibility {
    fn benefit_plan(&self, _: &str, _: Date) -> Option<String> {
        None
    }

    fn covers(&self, _: &str, _: Date, _: Date) -> bool {
        false
    }
}

/// An eligibility file row that cannot be used; the load fails.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EligibilityError {
    /// The file could not be read.
    #[error("eligibility file: {0}")]
    Io(String),
    /// The first line is not the expected header.
    #[error(
        "eligibility file line {line}: expected the header `member_id,benefit_plan,from,to,dob`"
    )]
    Header {
        /// Line number (1-based).
        line: usize,
    },
    /// A row the CSV grammar rejects (an unterminated quote, say).
    #[error("eligibility file line {line}: {what}")]
    Csv {
        /// Line number (1-based).
        line: usize,
        /// What is wrong.
        what: String,
    },
    /// A row with the wrong number of columns.
    #[error("eligibility file line {line}: expected 5 columns, found {found}")]
    Columns {
        /// Line number (1-based).
        line: usize,
        /// Columns found.
        found: usize,
    },
    /// An empty member id.
    #[error("eligibility file line {line}: column `member_id` is empty")]
    EmptyMember {
        /// Line number (1-based).
        line: usize,
    },
    /// A plan not in the contractor table's `[benefit_plans]`.
    #[error("eligibility file line {line}: column `benefit_plan`: unknown plan `{plan}`")]
    UnknownPlan {
        /// Line number (1-based).
        line: usize,
        /// The plan as written.
        plan: String,
    },
    /// A date that is not `YYYY-MM-DD` (or `CCYYMMDD`); `to` may be empty (open-ended).
    #[error("eligibility file line {line}: column `{column}`: bad date `{value}`")]
    BadDate {
        /// Line number (1-based).
        line: usize,
        /// The column.
        column: &'static str,
        /// The value as written (never a date of birth: that column reports no value).
        value: String,
    },
    /// `from` after `to`.
    #[error("eligibility file line {line}: `from` is after `to`")]
    Window {
        /// Line number (1-based).
        line: usize,
    },
}

#[derive(Debug, Clone)]
struct Span {
    plan: String,
    from: Date,
    to: Option<Date>,
    #[allow(dead_code)]
    dob: Date,
}

/// A member eligibility file: CSV with the header `member_id,benefit_plan,from,to,dob`;
/// dates `YYYY-MM-DD`; `to` empty = open-ended; blank lines and lines starting with `#`
/// are skipped. Malformed rows fail the load with their line number.
///
/// ```
/// use gatewayd::route::{Date, Eligibility, EligibilityFile};
/// let plans = ["MEDICAID_DIRECT".to_string(), "MPW".to_string()];
/// let csv = "member_id,benefit_plan,from,to,dob\nM1,MPW,2023-01-01,2023-12-31,1990-05-01\n";
/// let file = EligibilityFile::parse(csv, &plans).unwrap();
/// let dos = Date::parse("2023-03-01").unwrap();
/// assert_eq!(file.benefit_plan("M1", dos).as_deref(), Some("MPW"));
/// assert_eq!(file.benefit_plan("M1", Date::parse("2024-03-01").unwrap()), None);
/// let err = EligibilityFile::parse("member_id,benefit_plan,from,to,dob\nM1,GOLD,2023-01-01,,1990-05-01\n", &plans);
/// assert_eq!(err.unwrap_err().to_string(), "eligibility file line 2: column `benefit_plan`: unknown plan `GOLD`");
/// ```
#[derive(Debug, Clone, Default)]
pub struct EligibilityFile {
    members: HashMap<String, Vec<Span>>,
}

impl EligibilityFile {
    /// Reads a file; `plans` is the contractor table's `[benefit_plans]` list.
    pub fn load(path: &Path, plans: &[String]) -> Result<EligibilityFile, EligibilityError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| EligibilityError::Io(e.to_string()))?;
        EligibilityFile::parse(&text, plans)
    }

    /// Parses CSV text.
    pub fn parse(text: &str, plans: &[String]) -> Result<EligibilityFile, EligibilityError> {
        let mut members: HashMap<String, Vec<Span>> = HashMap::new();
        let mut header = false;
        for row in super::csv_rows::csv_rows(text) {
            let row = row.map_err(|(line, what)| EligibilityError::Csv { line, what })?;
            let line = row.line;
            let cols = row.cells();
            if !header {
                if cols != ["member_id", "benefit_plan", "from", "to", "dob"] {
                    return Err(EligibilityError::Header { line });
                }
                header = true;
                continue;
            }
            let [member, plan, from, to, dob] = cols[..] else {
                return Err(EligibilityError::Columns {
                    line,
                    found: cols.len(),
                });
            };
            if member.is_empty() {
                return Err(EligibilityError::EmptyMember { line });
            }
            if !plans.iter().any(|p| p == plan) {
                return Err(EligibilityError::UnknownPlan {
                    line,
                    plan: plan.to_string(),
                });
            }
            let date = |column: &'static str, v: &str| {
                Date::parse(v).ok_or_else(|| EligibilityError::BadDate {
                    line,
                    column,
                    value: v.to_string(),
                })
            };
            let from = date("from", from)?;
            let to = if to.is_empty() {
                None
            } else {
                Some(date("to", to)?)
            };
            let dob = Date::parse(dob).ok_or(EligibilityError::BadDate {
                line,
                column: "dob",
                value: String::new(),
            })?;
            if to.is_some_and(|t| t < from) {
                return Err(EligibilityError::Window { line });
            }
            members.entry(member.to_string()).or_default().push(Span {
                plan: plan.to_string(),
                from,
                to,
                dob,
            });
        }
        if !header {
            return Err(EligibilityError::Header { line: 1 });
        }
        Ok(EligibilityFile { members })
    }

    /// How many members the file knows.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the file has no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

impl Eligibility for EligibilityFile {
    fn benefit_plan(&self, member_id: &str, dos: Date) -> Option<String> {
        self.members
            .get(member_id)?
            .iter()
            .find(|s| dos >= s.from && s.to.is_none_or(|t| dos <= t))
            .map(|s| s.plan.clone())
    }

    /// The member's spans in order of their first day, each carrying the covered
    /// stretch on past its last day; a span starting after the first day not yet
    /// covered leaves a gap. Costs the member's spans, not the range's days.
    fn covers(&self, member_id: &str, from: Date, to: Date) -> bool {
        let Some(spans) = self.members.get(member_id) else {
            return false;
        };
        let (first, last) = (from.min(to).to_days(), from.max(to).to_days());
        let mut spans: Vec<(i64, Option<i64>)> = spans
            .iter()
            .map(|s| (s.from.to_days(), s.to.map(|t| t.to_days())))
            .collect();
        spans.sort_unstable();
        // the first day of the range not yet known to be covered
        let mut next = first;
        for (start, end) in spans {
            if start > next {
                return false;
            }
            match end {
                None => return true,
                Some(end) => next = next.max(end + 1),
            }
            if next > last {
                return true;
            }
        }
        false
    }
}

/// A prior authorization the gateway has issued or relayed: who reviewed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaRecord {
    /// Vendor id.
    pub vendor: String,
    /// PA type.
    pub pa_type: String,
}

/// The gateway's index of prior authorization numbers (§1 step 0): a follow-up (cancel,
/// extension, renewal, revision, appeal, reconsideration) or a claim quoting a PA goes
/// to the vendor that issued it. The daemon implements it over its store.
pub trait PaIndex {
    /// The record of a PA number, if the gateway knows it.
    fn lookup(&self, pa_number: &str) -> Option<PaRecord>;
}

/// No PA index: every number is unknown.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPaIndex;

impl PaIndex for NoPaIndex {
    fn lookup(&self, _: &str) -> Option<PaRecord> {
        None
    }
}

/// An in-memory PA index (tests, tools).
///
/// ```
/// use gatewayd::route::{MemoryPaIndex, PaIndex};
/// let mut idx = MemoryPaIndex::default();
/// idx.insert("PA123", "liberty", "pcs");
/// assert_eq!(idx.lookup("PA123").unwrap().vendor, "liberty");
/// assert!(idx.lookup("PA999").is_none());
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryPaIndex {
    map: HashMap<String, PaRecord>,
}

impl MemoryPaIndex {
    /// Records that `pa_number` was issued by `vendor` as a `pa_type` PA.
    pub fn insert(&mut self, pa_number: &str, vendor: &str, pa_type: &str) {
        self.map.insert(
            pa_number.to_string(),
            PaRecord {
                vendor: vendor.to_string(),
                pa_type: pa_type.to_string(),
            },
        );
    }
}

impl PaIndex for MemoryPaIndex {
    fn lookup(&self, pa_number: &str) -> Option<PaRecord> {
        self.map.get(pa_number).cloned()
    }
}
