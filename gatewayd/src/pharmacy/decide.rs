//! Evaluating a 278 pharmacy request against the criteria, service by service.
//!
//! What is read from the request (005010X217, through the `x12_278` view):
//!
//! | criterion | element |
//! |---|---|
//! | NDC | 2000F SV101-1 = `N4`, SV101-2 the 11-digit NDC |
//! | date of service | 2000F DTP\*472 (D8 or RD8), else 2000E DTP\*AAH, else BHT04 |
//! | diagnoses | 2000E HI, ICD-10-CM qualifiers ABK, ABF, ABJ, APR; dots dropped |
//! | age | 2010D DMG02 (dependent), else 2010C DMG02; whole years on the first date of service |
//! | quantity | SV104 with SV103 `UN` (units) or no unit; `MJ` (minutes) is refused |
//! | days requested | the service's RD8 range, both ends counted; for a single date (D8), HSD\*DY (HSD01 `DY` days, HSD02 the count) when given |
//!
//! The days requested come from the service's date range first because X217 has no
//! days-supply element: a pharmacy request asks for a period (DTP\*472 RD8) and the
//! units for it (SV103/SV104). HSD01 `DY` is the only other day count the guide's
//! service loop carries, so it stands in when the service gives a single date.
//!
//! A service is *met* when its NDC falls in a class and every criterion the class sets
//! holds: the service dates inside the class's `effective` window, one diagnosis
//! starting with one of `dx_prefix`, the age within `min_age..=max_age`, the quantity
//! at most `max_quantity`, the days requested at most `max_days`. Input a criterion
//! needs but the request lacks (no birth date, no quantity) fails that criterion: the
//! request then goes to a reviewer instead of being approved blind. A service with no
//! NDC, or an NDC no class covers, is not met.
//!
//! Failure texts name the criterion and the value seen (NDC, diagnosis codes, age,
//! quantity, days, service date): they go back to the submitter in the response's
//! MSG. They never carry a name, member id or birth date; ages of 90 and over are
//! shown as "90 or over" (the HIPAA Safe Harbor aggregation, 45 CFR
//! 164.514(b)(2)(i)(C)). For logs use [`Failure::criterion`], which carries no value.

use super::criteria::{Criteria, DrugClass, Window};
use super::date::Ymd;
use std::fmt;
use x12_278::{Event, Service};
use x12_core::schema::{LoopRef, Qualified};

/// ICD-10-CM diagnosis qualifiers of the 2000E HI (principal, other, admitting, reason
/// for visit).
const ICD10_QUALIFIERS: [&str; 4] = ["ABK", "ABF", "ABJ", "APR"];

/// Ages from this one up are shown aggregated.
const AGE_SHOWN_BELOW: u32 = 90;

/// One criterion a service did not meet, with the value seen.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The event has no 2000F service to decide.
    NoService,
    /// The service names no NDC (SV101-1 is not `N4`); the qualifier seen, if any.
    NoNdc {
        /// SV101-1 as written (`HC`...), `None` when the service has no SV1 procedure.
        qualifier: Option<String>,
    },
    /// SV101-2 under `N4` is not 11 digits.
    MalformedNdc {
        /// The code as written.
        ndc: String,
    },
    /// No class covers the NDC.
    NoClass {
        /// The NDC.
        ndc: String,
    },
    /// No date of service could be read.
    NoServiceDate,
    /// The service dates fall outside the class's effective window.
    OutsideWindow {
        /// The service's first date.
        from: Ymd,
        /// The service's last date.
        to: Ymd,
        /// The class window.
        window: Window,
    },
    /// The event has no ICD-10-CM diagnosis.
    NoDiagnosis {
        /// The prefixes the class requires.
        required: Vec<String>,
    },
    /// No diagnosis starts with a required prefix.
    Diagnosis {
        /// The prefixes the class requires.
        required: Vec<String>,
        /// The diagnoses seen.
        seen: Vec<String>,
    },
    /// The patient's birth date is missing or not a date.
    NoBirthDate,
    /// The birth date is after the date of service.
    BornAfterService,
    /// Younger than the class minimum.
    AgeBelow {
        /// Age in whole years.
        age: u32,
        /// The class minimum.
        min: u32,
    },
    /// Older than the class maximum.
    AgeAbove {
        /// Age in whole years.
        age: u32,
        /// The class maximum.
        max: u32,
    },
    /// SV104 is absent.
    NoQuantity,
    /// SV103 is a unit other than `UN`.
    QuantityUnit {
        /// SV103 as written.
        unit: String,
    },
    /// SV104 is not a number.
    BadQuantity {
        /// SV104 as written.
        quantity: String,
    },
    /// More units than the class allows.
    QuantityAbove {
        /// SV104 as written.
        quantity: String,
        /// The class maximum.
        max: f64,
    },
    /// The request covers more days than the class allows.
    DaysAbove {
        /// Days requested.
        days: i64,
        /// The class maximum.
        max: u32,
    },
}

struct Age(u32);

impl fmt::Display for Age {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 >= AGE_SHOWN_BELOW {
            write!(f, "{AGE_SHOWN_BELOW} or over")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl Failure {
    /// A stable name of the criterion, with no value: what logs may carry.
    pub fn criterion(&self) -> &'static str {
        match self {
            Failure::NoService => "service",
            Failure::NoNdc { .. } | Failure::MalformedNdc { .. } => "ndc",
            Failure::NoClass { .. } => "class",
            Failure::NoServiceDate | Failure::OutsideWindow { .. } => "effective",
            Failure::NoDiagnosis { .. } | Failure::Diagnosis { .. } => "dx_prefix",
            Failure::NoBirthDate | Failure::BornAfterService => "age",
            Failure::AgeBelow { .. } => "min_age",
            Failure::AgeAbove { .. } => "max_age",
            Failure::NoQuantity
            | Failure::QuantityUnit { .. }
            | Failure::BadQuantity { .. }
            | Failure::QuantityAbove { .. } => "max_quantity",
            Failure::DaysAbove { .. } => "max_days",
        }
    }
}

impl fmt::Display for Failure {
    /// One short sentence naming the criterion and the value seen, with no X12
    /// delimiter in it (it goes into a MSG).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::NoService => f.write_str("the event names no service (2000F) to decide"),
            Failure::NoNdc { qualifier: Some(q) } => {
                write!(f, "no NDC on the service (SV101 qualifier {q}, not N4)")
            }
            Failure::NoNdc { qualifier: None } => {
                f.write_str("no NDC on the service (no SV101 procedure)")
            }
            Failure::MalformedNdc { ndc } => {
                write!(f, "NDC {ndc} is not 11 digits (5-4-2 without hyphens)")
            }
            Failure::NoClass { ndc } => write!(f, "no auto-approval class for NDC {ndc}"),
            Failure::NoServiceDate => f.write_str("no date of service could be read"),
            Failure::OutsideWindow { from, to, window } if from == to => write!(
                f,
                "date of service {from} is outside the class window {window}"
            ),
            Failure::OutsideWindow { from, to, window } => write!(
                f,
                "service dates {from} to {to} fall outside the class window {window}"
            ),
            Failure::NoDiagnosis { required } => write!(
                f,
                "no ICD-10-CM diagnosis given (the class needs one starting with {})",
                required.join(" or ")
            ),
            Failure::Diagnosis { required, seen } => write!(
                f,
                "no diagnosis starting with {} (seen {})",
                required.join(" or "),
                seen.join(", ")
            ),
            Failure::NoBirthDate => {
                f.write_str("patient birth date not given, so the age cannot be checked")
            }
            Failure::BornAfterService => {
                f.write_str("patient birth date is after the date of service")
            }
            Failure::AgeBelow { age, min } => {
                write!(f, "age {} is below the class minimum of {min}", Age(*age))
            }
            Failure::AgeAbove { age, max } => {
                write!(f, "age {} is above the class maximum of {max}", Age(*age))
            }
            Failure::NoQuantity => f.write_str("quantity not given (SV104)"),
            Failure::QuantityUnit { unit } => {
                write!(f, "quantity unit {unit} is not UN (units)")
            }
            Failure::BadQuantity { quantity } => write!(f, "quantity {quantity} is not a number"),
            Failure::QuantityAbove { quantity, max } => {
                write!(f, "quantity {quantity} is above the class maximum of {max}")
            }
            Failure::DaysAbove { days, max } => write!(
                f,
                "{days} days requested is above the class maximum of {max} days"
            ),
        }
    }
}

/// The decision for one service (2000F).
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceOutcome {
    /// The NDC (SV101-2 under `N4`), when the service has one.
    pub ndc: Option<String>,
    /// The id of the class covering the NDC.
    pub class: Option<String>,
    /// The criteria not met; empty when the service is met.
    pub failures: Vec<Failure>,
    /// The certification period when met: the requested period (service range, or the
    /// first date plus the HSD days), or for a single date the first date plus the
    /// class's `max_days`; cut at the class window's end.
    pub period: Option<(Ymd, Ymd)>,
}

impl ServiceOutcome {
    /// Every criterion met: auto-approve.
    pub fn is_met(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The decisions for one patient event (2000E).
#[derive(Debug, Clone, PartialEq)]
pub struct EventOutcome {
    /// One per 2000F, in order.
    pub services: Vec<ServiceOutcome>,
    /// Event-level failures ([`Failure::NoService`]).
    pub failures: Vec<Failure>,
}

impl EventOutcome {
    /// Every service met (and there is at least one).
    pub fn is_met(&self) -> bool {
        self.failures.is_empty() && self.services.iter().all(ServiceOutcome::is_met)
    }
}

/// (first, last) date of a DTP value (D8 or RD8).
fn period(d: &Qualified<'_>) -> Option<(Ymd, Ymd)> {
    match d.format {
        "D8" => Ymd::from_ccyymmdd(d.value).map(|x| (x, x)),
        "RD8" => {
            let (a, b) = d.value.split_once('-')?;
            let (a, b) = (Ymd::from_ccyymmdd(a)?, Ymd::from_ccyymmdd(b)?);
            (a <= b).then_some((a, b))
        }
        _ => None,
    }
}

/// The dates a service asks for: its own DTP*472, else the event's DTP*AAH, else
/// BHT04 (a single date); and whether they are a range.
fn service_dates(service: &Service<'_>, created: Option<Ymd>) -> Option<((Ymd, Ymd), bool)> {
    let own = service
        .dates()
        .filter(|d| d.qualifier == "472")
        .find_map(|d| period(&d).map(|p| (p, d.format == "RD8")));
    own.or_else(|| {
        service
            .event
            .dates()
            .filter(|d| d.qualifier == "AAH")
            .find_map(|d| period(&d).map(|p| (p, d.format == "RD8")))
    })
    .or_else(|| created.map(|c| ((c, c), false)))
}

/// The event's ICD-10-CM diagnoses, upper-cased, without dots.
fn diagnoses(event: &Event<'_>) -> Vec<String> {
    event
        .diagnoses()
        .into_iter()
        .filter(|(q, _)| ICD10_QUALIFIERS.contains(q))
        .map(|(_, code)| {
            code.chars()
                .filter(|c| *c != '.')
                .map(|c| c.to_ascii_uppercase())
                .collect::<String>()
        })
        .filter(|c| !c.is_empty())
        .collect()
}

/// Decides every service of every event of a 278 request (`root` is the request's
/// loop tree walked with the request table).
///
/// ```
/// # use gatewayd::pharmacy::{decide, Criteria};
/// # use x12_core::{Item, Reader};
/// # use x12_core::schema::{LoopRef, LoopTree};
/// let data = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/valid/278/pharmacy.x12")).unwrap();
/// let set = Reader::new(&data[..]).find_map(|i| match i.unwrap() {
///     Item::Transaction(t) => Some(t),
///     _ => None,
/// }).unwrap();
/// let v = gatewayd::guides::validator();
/// let mut tree = LoopTree::default();
/// let (guide, _) = v.check_set(&set, &mut tree);
/// let outcomes = decide(&Criteria::bundled().unwrap(), LoopRef::root(&set, &tree, guide.unwrap()));
/// assert!(outcomes[0].services[0].is_met());
/// assert_eq!(outcomes[0].services[0].class.as_deref(), Some("glp1_t2dm"));
/// ```
pub fn decide(criteria: &Criteria, root: LoopRef<'_>) -> Vec<EventOutcome> {
    let created = Ymd::from_ccyymmdd(root.value("BHT", 4));
    x12_278::events(root)
        .map(|event| {
            let services: Vec<ServiceOutcome> = event
                .services()
                .map(|s| decide_service(criteria, &s, created))
                .collect();
            let failures = if services.is_empty() {
                vec![Failure::NoService]
            } else {
                Vec::new()
            };
            EventOutcome { services, failures }
        })
        .collect()
}

/// Decides one service; `created` is the request's BHT04, the date of service of last
/// resort.
pub fn decide_service(
    criteria: &Criteria,
    service: &Service<'_>,
    created: Option<Ymd>,
) -> ServiceOutcome {
    let mut out = ServiceOutcome {
        ndc: None,
        class: None,
        failures: Vec::new(),
        period: None,
    };
    let ndc = match service.procedure() {
        Some(p) if p.qualifier == "N4" => p.code,
        other => {
            out.failures.push(Failure::NoNdc {
                qualifier: other.map(|p| p.qualifier.to_string()),
            });
            return out;
        }
    };
    out.ndc = Some(ndc.to_string());
    if ndc.len() != 11 || !ndc.bytes().all(|b| b.is_ascii_digit()) {
        out.failures.push(Failure::MalformedNdc { ndc: ndc.into() });
        return out;
    }
    let Some(class) = criteria.class_for_ndc(ndc) else {
        out.failures.push(Failure::NoClass { ndc: ndc.into() });
        return out;
    };
    out.class = Some(class.id.clone());
    let dates = service_dates(service, created);
    check(class, service, dates, &mut out.failures);
    if out.failures.is_empty() {
        out.period = dates.map(|d| certification(class, service, d));
    }
    out
}

/// Days asked for: the range when the dates are one, else HSD*DY.
fn days_requested(service: &Service<'_>, ((from, to), range): ((Ymd, Ymd), bool)) -> Option<i64> {
    if range {
        return Some(from.days_through(to));
    }
    let d = service.delivery()?;
    if d.qualifier != "DY" {
        return None;
    }
    let n: f64 = d.count.parse().ok()?;
    (n.is_finite() && n >= 1.0 && n.fract() == 0.0 && n < 1e6).then_some(n as i64)
}

fn certification(
    class: &DrugClass,
    service: &Service<'_>,
    dates: ((Ymd, Ymd), bool),
) -> (Ymd, Ymd) {
    let ((from, _), _) = dates;
    let days = days_requested(service, dates).or(class.max_days.map(i64::from));
    let mut to = days.map_or(from, |n| from.add_days(n - 1));
    if let Some(end) = class.effective.and_then(|w| w.to) {
        to = to.min(end);
    }
    (from, to)
}

fn check(
    class: &DrugClass,
    service: &Service<'_>,
    dates: Option<((Ymd, Ymd), bool)>,
    failures: &mut Vec<Failure>,
) {
    let needs_date =
        class.effective.is_some() || class.min_age.is_some() || class.max_age.is_some();
    let first = dates.map(|((from, _), _)| from);
    match (dates, class.effective) {
        (Some(((from, to), _)), Some(window))
            if !(window.contains(from) && window.contains(to)) =>
        {
            failures.push(Failure::OutsideWindow { from, to, window });
        }
        (None, _) if needs_date => failures.push(Failure::NoServiceDate),
        _ => {}
    }
    if !class.dx_prefix.is_empty() {
        let seen = diagnoses(&service.event);
        if seen.is_empty() {
            failures.push(Failure::NoDiagnosis {
                required: class.dx_prefix.clone(),
            });
        } else if !seen
            .iter()
            .any(|d| class.dx_prefix.iter().any(|p| d.starts_with(p.as_str())))
        {
            failures.push(Failure::Diagnosis {
                required: class.dx_prefix.clone(),
                seen,
            });
        }
    }
    if class.min_age.is_some() || class.max_age.is_some() {
        let born = service
            .event
            .patient()
            .and_then(|p| Ymd::from_ccyymmdd(p.birth_date()));
        match (born, first) {
            (None, _) => failures.push(Failure::NoBirthDate),
            (Some(b), Some(on)) => match b.age_on(on) {
                None => failures.push(Failure::BornAfterService),
                Some(age) => {
                    if let Some(min) = class.min_age.filter(|m| age < *m) {
                        failures.push(Failure::AgeBelow { age, min });
                    }
                    if let Some(max) = class.max_age.filter(|m| age > *m) {
                        failures.push(Failure::AgeAbove { age, max });
                    }
                }
            },
            (Some(_), None) => {} // NoServiceDate already said
        }
    }
    if let Some(max) = class.max_quantity {
        match service.quantity() {
            None => failures.push(Failure::NoQuantity),
            Some((unit, _)) if !unit.is_empty() && unit != "UN" => {
                failures.push(Failure::QuantityUnit { unit: unit.into() })
            }
            Some((_, count)) => match count.parse::<f64>() {
                Ok(q) if q.is_finite() => {
                    if q > max {
                        failures.push(Failure::QuantityAbove {
                            quantity: count.into(),
                            max,
                        });
                    }
                }
                _ => failures.push(Failure::BadQuantity {
                    quantity: count.into(),
                }),
            },
        }
    }
    if let (Some(max), Some(d)) = (class.max_days, dates) {
        if let Some(days) = days_requested(service, d) {
            if days > i64::from(max) {
                failures.push(Failure::DaysAbove { days, max });
            }
        }
    }
}
