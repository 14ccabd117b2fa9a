//! Evaluation (ROUTING.md §1): sticky follow-ups, pass 1 (request scope), pass 2 (line
//! scope), `when` / `any` / `unless` / `expect`, effective windows, flags, and the trace
//! of every decision.

use super::compile::{compile, Block, CompiledRule, Field, Matcher};
use super::features::{Extracted, Facility, Line, Request};
use super::lookup::PaIndex;
use super::table::{Action, Key, RuleScope, Table, TableError};
use super::value::{Code, Date};
use super::Lookups;
use serde::Serialize;

/// Flag bits (the rest of a [`Flags`] is the `expect_failed` key mask).
const PLAN_UNVERIFIED: u8 = 1;
const BORDER_UNVERIFIED: u8 = 2;
const MEDICARE_PRIMARY: u8 = 4;
const DEFAULT_ROUTE: u8 = 8;
const NEEDS_MANUAL_REVIEW: u8 = 16;
const PRIOR_AUTH_UNKNOWN: u8 = 32;

/// The flags of a decision, without allocation: named bits plus the `expect` keys that
/// missed. [`Flags::names`] gives the stable names:
/// `plan_unverified`, `border_unverified`, `medicare_primary`, `prior_auth_unknown`,
/// `default_route`, `needs_manual_review`, `expect_failed:<key>`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    bits: u8,
    expect_failed: u32,
}

impl Flags {
    fn set(&mut self, bit: u8) {
        self.bits |= bit;
    }

    fn merge(&mut self, other: Flags) {
        self.bits |= other.bits;
        self.expect_failed |= other.expect_failed;
    }

    /// Whether no flag is raised.
    pub fn is_empty(&self) -> bool {
        self.bits == 0 && self.expect_failed == 0
    }

    /// The flags' stable names, in a fixed order.
    pub fn names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (bit, name) in [
            (PLAN_UNVERIFIED, "plan_unverified"),
            (BORDER_UNVERIFIED, "border_unverified"),
            (MEDICARE_PRIMARY, "medicare_primary"),
            (PRIOR_AUTH_UNKNOWN, "prior_auth_unknown"),
            (DEFAULT_ROUTE, "default_route"),
            (NEEDS_MANUAL_REVIEW, "needs_manual_review"),
        ] {
            if self.bits & bit != 0 {
                out.push(name.to_string());
            }
        }
        for (i, k) in Key::ALL.iter().enumerate() {
            if self.expect_failed & (1 << i) != 0 {
                out.push(format!("expect_failed:{}", k.name()));
            }
        }
        out
    }
}

fn key_bit(k: Key) -> u32 {
    1 << (Key::ALL.iter().position(|x| *x == k).unwrap_or(0))
}

/// Which block of a rule a trace step speaks of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The `effective` window (date of service outside it, or no date).
    Effective,
    /// A `when` key.
    When(Key),
    /// No `any` key matched.
    Any,
    /// An `any` key.
    AnyKey(Key),
    /// An `unless` key.
    Unless(Key),
    /// A rule with no conditions (`default`).
    Always,
    /// The gateway's PA index (sticky follow-up): REF*BB or REF*G1.
    PaIndex,
}

impl Part {
    /// The stable name: `effective`, `when.<key>`, `any`, `any.<key>`, `unless.<key>`,
    /// `always`, `pa_index`.
    pub fn name(&self) -> String {
        match self {
            Part::Effective => "effective".into(),
            Part::When(k) => format!("when.{}", k.name()),
            Part::Any => "any".into(),
            Part::AnyKey(k) => format!("any.{}", k.name()),
            Part::Unless(k) => format!("unless.{}", k.name()),
            Part::Always => "always".into(),
            Part::PaIndex => "pa_index".into(),
        }
    }
}

/// One rule tried: did it match, and which condition decided (for a non-match, the first
/// failing key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Index of the rule in [`Table::rules`].
    pub rule: usize,
    /// Matched or not.
    pub matched: bool,
    /// The deciding condition.
    pub part: Part,
    /// For a request-scope match: the line (index) whose features matched; `None` = the
    /// request-level features.
    pub on_line: Option<usize>,
}

/// The compact result of routing one line: the rule that matched (index into
/// [`Table::rules`]) and the flags. No allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The matching rule, if any (the bundled table's `default` always matches).
    pub rule: Option<usize>,
    /// Flags.
    pub flags: Flags,
}

/// The compiled contractor table, ready to route.
///
/// ```
/// use gatewayd::route::{Code, Line, Request, Router, Transaction};
/// let router = Router::bundled().unwrap();
/// let req = Request::new(Transaction::X278);
/// let line = Line { hc: Code::new("E0260"), ..Line::default() };
/// let out = router.route_line(&req, &line);
/// assert_eq!(router.table().rules[out.rule.unwrap()].pa_type, "dme");
/// ```
#[derive(Debug, Clone)]
pub struct Router {
    table: Table,
    rules: Vec<CompiledRule>,
    home_state: Code,
}

/// A routing decision for a request or a line: where it goes, why, with which flags.
/// Field names are stable: `vendor`, `vendor_name`, `pa_type`, `action`, `rule`,
/// `priority`, `scope` (`request`, `line`, `pa_index`), `decided_by`, `flags`, `trace`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Decision {
    /// Vendor id.
    pub vendor: String,
    /// Vendor display name (the LME/MCO or health plan for a reject).
    pub vendor_name: String,
    /// PA type.
    pub pa_type: String,
    /// `route`, `reject` or `no_pa_required`.
    pub action: Action,
    /// Matched rule id (`pa_index` for a sticky follow-up).
    pub rule: String,
    /// Matched rule priority (0 for a sticky follow-up).
    pub priority: u32,
    /// `request`, `line` or `pa_index`.
    pub scope: &'static str,
    /// The condition that decided (`any.proc.HC`, `when.benefit_plan`, `always`...).
    pub decided_by: String,
    /// Flags (stable names, see [`Flags::names`]).
    pub flags: Vec<String>,
    /// Rules tried, in order.
    pub trace: Vec<TraceStep>,
}

/// One step of a trace, serialized: `{"rule", "priority", "matched", "key", "line"?}`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TraceStep {
    /// Rule id.
    pub rule: String,
    /// Rule priority.
    pub priority: u32,
    /// Whether it matched.
    pub matched: bool,
    /// The deciding condition (first failing key for a non-match).
    pub key: String,
    /// For a request-scope match on a line: that line's label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
}

/// The decision for one line.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LineDecision {
    /// The line label (278 2000F HL01, `event` for a synthetic line; 837 LX01).
    pub line: String,
    /// The decision.
    pub decision: Decision,
}

/// Routing of one request (a 278 patient event or an 837 claim), before splitting.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Routed {
    /// Request-level flags (`plan_unverified`, `medicare_primary`, `prior_auth_unknown`).
    pub flags: Vec<String>,
    /// The decision of the whole request when step 0 or pass 1 decided it.
    pub request: Option<Decision>,
    /// Pass-1 trace (request-scope rules tried).
    pub request_trace: Vec<TraceStep>,
    /// One decision per line.
    pub lines: Vec<LineDecision>,
}

/// Sets a decision's flags: its own, the request's, and any it already carries.
fn finish(d: &mut Decision, f: Flags, base: Flags) {
    let mut all = f;
    all.merge(base);
    let mut names = all.names();
    for n in std::mem::take(&mut d.flags) {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    d.flags = names;
}

/// The certification types (UM02) of follow-ups (§1 step 0). A follow-up quoting no
/// known previous authorization number (REF*BB) falls through to the rules with the flag
/// `prior_auth_unknown`.
pub const FOLLOW_UP_TYPES: [&str; 7] = ["3", "4", "R", "S", "1", "2", "N"];

impl Router {
    /// Compiles a validated table.
    pub fn new(table: Table) -> Router {
        let rules = compile(&table);
        let home_state = Code::new(&table.home_state)
            .unwrap_or(Code::new("NC").unwrap_or_else(|| unreachable!()));
        Router {
            table,
            rules,
            home_state,
        }
    }

    /// The bundled table, compiled.
    pub fn bundled() -> Result<Router, TableError> {
        Ok(Router::new(Table::bundled()?))
    }

    /// The table.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// The index of a benefit plan name in `[benefit_plans]`.
    pub fn plan_index(&self, plan: &str) -> Option<u8> {
        self.table
            .benefit_plans
            .iter()
            .position(|p| p == plan)
            .and_then(|i| u8::try_from(i).ok())
    }

    #[inline]
    fn codes(
        &self,
        field: Field,
        req: &Request,
        line: &Line,
        at_request: bool,
        f: impl Fn(&Code) -> bool,
    ) -> bool {
        let facility = line.facility.or(req.facility);
        match field {
            Field::ServiceType => line.service_type.as_ref().is_some_and(f),
            Field::RequestCategory => req.request_category.as_ref().is_some_and(f),
            Field::LevelOfService => req.level_of_service.as_ref().is_some_and(f),
            Field::Hc => line.hc.as_ref().is_some_and(f),
            Field::Ad => line.ad.as_ref().is_some_and(f),
            Field::Rev => line.rev.as_ref().is_some_and(f),
            Field::Drg => req.drg.iter().any(&f),
            Field::Pos => matches!(facility, Some(Facility::Pos(c)) if f(&c)),
            Field::BillType => matches!(facility, Some(Facility::BillType(c)) if f(&c)),
            Field::Modifier => line.modifiers.iter().flatten().any(&f),
            Field::Icd10Pcs => {
                line.icd10pcs.as_ref().is_some_and(&f)
                    || (at_request && req.icd10pcs.iter().any(&f))
            }
            Field::Dx => req.dx.iter().any(&f),
            Field::Taxonomy => line.taxonomy.as_ref().is_some_and(f),
        }
    }

    fn age(req: &Request, line: &Line) -> Option<u32> {
        let on: Date = line.date.or(req.date)?;
        Some(req.birth_date?.years_until(on))
    }

    fn test(
        &self,
        m: &Matcher,
        req: &Request,
        line: &Line,
        at_request: bool,
        flags: &mut Flags,
    ) -> bool {
        match m {
            Matcher::Transaction(mask) => req.transaction.bit() & mask != 0,
            Matcher::Codes(field, set) => {
                self.codes(*field, req, line, at_request, |c| set.contains(c))
            }
            Matcher::Prefixes(field, set) => {
                self.codes(*field, req, line, at_request, |c| set.contains(c))
            }
            Matcher::NdcOnly(b) => line.ndc_only == *b,
            Matcher::Emergency(b) => line.emergency == Some(*b),
            Matcher::AgeLt(n) => Router::age(req, line).is_some_and(|a| a < *n),
            Matcher::AgeGe(n) => Router::age(req, line).is_some_and(|a| a >= *n),
            Matcher::Plan(mask) => req
                .benefit_plan
                .is_some_and(|i| u32::from(i) < 32 && mask & (1 << i) != 0),
            Matcher::Segments(mask) => match req.segments {
                Some(s) => (s.0 | line.segments.0) & mask != 0,
                None => false,
            },
            Matcher::ServicingOutOfState => match line.servicing {
                Some(s) if s.state != self.home_state => match s.border {
                    Some(border) => !border,
                    None => {
                        // §1.8: no provider file: state only, flagged
                        flags.set(BORDER_UNVERIFIED);
                        true
                    }
                },
                _ => false,
            },
            Matcher::TransportOutOfState => {
                let states = if line.transport_states.is_empty() {
                    &req.transport_states
                } else {
                    &line.transport_states
                };
                states.iter().any(|s| *s != self.home_state)
            }
            Matcher::Set(block) => block
                .iter()
                .any(|(_, m)| self.test(m, req, line, at_request, flags)),
        }
    }

    /// Whether `rule` fires on (`req`, `line`): `Ok(deciding part)` or `Err(first failing part)`.
    fn check(
        &self,
        rule: &CompiledRule,
        req: &Request,
        line: &Line,
        at_request: bool,
        flags: &mut Flags,
    ) -> Result<Part, Part> {
        if let Some(w) = rule.effective {
            match line.date.or(req.date) {
                Some(d) if w.contains(d) => {}
                _ => return Err(Part::Effective),
            }
        }
        let mut local = *flags;
        let mut decided = Part::Always;
        for (k, m) in &rule.when {
            if !self.test(m, req, line, at_request, &mut local) {
                return Err(Part::When(*k));
            }
            decided = Part::When(*k);
        }
        if !rule.any.is_empty() {
            match rule
                .any
                .iter()
                .find(|(_, m)| self.test(m, req, line, at_request, &mut local))
            {
                Some((k, _)) => decided = Part::AnyKey(*k),
                None => return Err(Part::Any),
            }
        }
        for (k, m) in &rule.unless {
            if self.test(m, req, line, at_request, &mut local) {
                *flags = local;
                return Err(Part::Unless(*k));
            }
        }
        *flags = local;
        Ok(decided)
    }

    fn expect(
        &self,
        block: &Block,
        req: &Request,
        line: &Line,
        at_request: bool,
        flags: &mut Flags,
    ) {
        for (k, m) in block {
            let mut scratch = Flags::default();
            if !self.test(m, req, line, at_request, &mut scratch) {
                flags.expect_failed |= key_bit(*k);
            }
        }
    }

    fn matched(
        &self,
        rule: &CompiledRule,
        req: &Request,
        line: &Line,
        at_request: bool,
        flags: &mut Flags,
    ) {
        let r = &self.table.rules[rule.index];
        self.expect(&rule.expect, req, line, at_request, flags);
        for f in &r.flags {
            match f.as_str() {
                "default_route" => flags.set(DEFAULT_ROUTE),
                "needs_manual_review" => flags.set(NEEDS_MANUAL_REVIEW),
                _ => {}
            }
        }
    }

    /// Pass 2 for one line: the first line-scope rule that fires. `trace`, when given,
    /// receives every rule tried. The fast path of routing (no allocation without a trace).
    pub fn route_line_traced(
        &self,
        req: &Request,
        line: &Line,
        mut trace: Option<&mut Vec<Step>>,
    ) -> Outcome {
        let mut flags = Flags::default();
        for rule in &self.rules {
            if rule.scope != RuleScope::Line {
                continue;
            }
            let result = self.check(rule, req, line, false, &mut flags);
            if let Some(t) = trace.as_deref_mut() {
                let (matched, part) = match result {
                    Ok(p) => (true, p),
                    Err(p) => (false, p),
                };
                t.push(Step {
                    rule: rule.index,
                    matched,
                    part,
                    on_line: None,
                });
            }
            if result.is_ok() {
                self.matched(rule, req, line, false, &mut flags);
                return Outcome {
                    rule: Some(rule.index),
                    flags,
                };
            }
        }
        Outcome { rule: None, flags }
    }

    /// Pass 2 for one line, without a trace.
    pub fn route_line(&self, req: &Request, line: &Line) -> Outcome {
        self.route_line_traced(req, line, None)
    }

    /// Pass 1: the first request-scope rule that fires on the request-level features or
    /// on any line.
    pub fn route_request_traced(&self, ex: &Extracted, trace: &mut Vec<Step>) -> Outcome {
        let mut flags = Flags::default();
        let req = &ex.request;
        for rule in &self.rules {
            if rule.scope != RuleScope::Request {
                continue;
            }
            let first = self.check(rule, req, &ex.request_line, true, &mut flags);
            let hit = match first {
                Ok(p) => Some((p, None)),
                Err(_) => ex.lines.iter().enumerate().find_map(|(i, l)| {
                    self.check(rule, req, l, false, &mut flags)
                        .ok()
                        .map(|p| (p, Some(i)))
                }),
            };
            match hit {
                Some((part, on_line)) => {
                    trace.push(Step {
                        rule: rule.index,
                        matched: true,
                        part,
                        on_line,
                    });
                    let line = on_line
                        .and_then(|i| ex.lines.get(i))
                        .unwrap_or(&ex.request_line);
                    self.matched(rule, req, line, on_line.is_none(), &mut flags);
                    return Outcome {
                        rule: Some(rule.index),
                        flags,
                    };
                }
                None => trace.push(Step {
                    rule: rule.index,
                    matched: false,
                    part: first.err().unwrap_or(Part::Always),
                    on_line: None,
                }),
            }
        }
        Outcome { rule: None, flags }
    }

    fn steps(&self, steps: &[Step], ex: &Extracted) -> Vec<TraceStep> {
        steps
            .iter()
            .map(|s| {
                let r = &self.table.rules[s.rule];
                TraceStep {
                    rule: r.id.clone(),
                    priority: r.priority,
                    matched: s.matched,
                    key: s.part.name(),
                    line: s
                        .on_line
                        .and_then(|i| ex.lines.get(i))
                        .map(|l| l.label.clone()),
                }
            })
            .collect()
    }

    fn decision(&self, rule: usize, part: Part, flags: Flags, trace: Vec<TraceStep>) -> Decision {
        let r = &self.table.rules[rule];
        Decision {
            vendor: r.vendor.clone(),
            vendor_name: self
                .table
                .vendor(&r.vendor)
                .map(|v| v.name.clone())
                .unwrap_or_default(),
            pa_type: r.pa_type.clone(),
            action: r.action,
            rule: r.id.clone(),
            priority: r.priority,
            scope: match r.scope {
                RuleScope::Request => "request",
                RuleScope::Line => "line",
            },
            decided_by: part.name(),
            flags: flags.names(),
            trace,
        }
    }

    fn sticky(&self, numbers: &[String], pa: &dyn PaIndex, flags: &mut Flags) -> Option<Decision> {
        if numbers.is_empty() {
            return None;
        }
        for n in numbers {
            if let Some(rec) = pa.lookup(n) {
                return Some(Decision {
                    vendor_name: self
                        .table
                        .vendor(&rec.vendor)
                        .map(|v| v.name.clone())
                        .unwrap_or_default(),
                    vendor: rec.vendor,
                    pa_type: rec.pa_type,
                    action: Action::Route,
                    rule: "pa_index".into(),
                    priority: 0,
                    scope: "pa_index",
                    decided_by: Part::PaIndex.name(),
                    flags: Vec::new(),
                    trace: Vec::new(),
                });
            }
        }
        flags.set(PRIOR_AUTH_UNKNOWN);
        None
    }

    /// Routes one extracted request: benefit plan lookup, step 0 (sticky follow-ups),
    /// pass 1, pass 2, with flags and traces.
    pub fn route(&self, mut ex: Extracted, lookups: &Lookups<'_>) -> (Extracted, Routed) {
        let (eligibility, pa) = (lookups.eligibility, lookups.pa_index);
        if let Some(file) = lookups.providers {
            // §1.8: the provider file's border flag replaces the state-only fallback
            let lines = std::iter::once(&mut ex.request_line).chain(ex.lines.iter_mut());
            for l in lines {
                if let Some(s) = l.servicing.as_mut() {
                    if let (Some(npi), Some(zip)) = (s.npi, s.zip) {
                        s.border = file.border(npi.as_str(), zip.as_str());
                    }
                }
            }
        }
        let mut base = Flags::default();
        if ex.request.benefit_plan.is_none() {
            let plan = match (
                &ex.request.member_id,
                ex.request
                    .date
                    .or_else(|| ex.lines.first().and_then(|l| l.date)),
            ) {
                (Some(m), Some(d)) => eligibility.benefit_plan(m, d),
                _ => None,
            };
            ex.request.benefit_plan = plan.and_then(|p| self.plan_index(&p));
        }
        if ex.request.benefit_plan.is_none() {
            base.set(PLAN_UNVERIFIED);
        }
        if ex.request.medicare_primary {
            base.set(MEDICARE_PRIMARY);
        }
        // step 0: the request's own previous authorization number
        let mut sticky_flags = Flags::default();
        if let Some(mut d) = self.sticky(&ex.request.prior_auth, pa, &mut sticky_flags) {
            base.merge(sticky_flags);
            finish(&mut d, Flags::default(), base);
            let routed = whole_request(&ex, d, Vec::new(), base);
            return (ex, routed);
        }
        base.merge(sticky_flags);
        // a follow-up (cancel, extension, renewal, revision, appeal, reconsideration) that
        // quotes no previous authorization cannot be matched to its vendor: flagged
        let follow_up = ex
            .request
            .certification_type
            .is_some_and(|c| FOLLOW_UP_TYPES.contains(&c.as_str()));
        if follow_up
            && ex.request.prior_auth.is_empty()
            && ex.lines.iter().all(|l| l.prior_auth.is_empty())
        {
            base.set(PRIOR_AUTH_UNKNOWN);
        }

        // pass 1
        let mut steps = Vec::new();
        let out = self.route_request_traced(&ex, &mut steps);
        let request_trace = self.steps(&steps, &ex);
        if let Some(rule) = out.rule {
            let part = steps.last().map_or(Part::Always, |s| s.part);
            let mut d = self.decision(rule, part, out.flags, request_trace.clone());
            finish(&mut d, out.flags, base);
            let routed = whole_request(&ex, d, request_trace, base);
            return (ex, routed);
        }
        base.merge(out.flags);

        // pass 2
        let mut lines = Vec::with_capacity(ex.lines.len());
        for l in &ex.lines {
            let mut lf = Flags::default();
            if let Some(mut d) = self.sticky(&l.prior_auth, pa, &mut lf) {
                finish(&mut d, lf, base);
                lines.push(LineDecision {
                    line: l.label.clone(),
                    decision: d,
                });
                continue;
            }
            let mut steps = Vec::new();
            let out = self.route_line_traced(&ex.request, l, Some(&mut steps));
            let mut f = out.flags;
            f.merge(lf);
            let trace = self.steps(&steps, &ex);
            let decision = match out.rule {
                Some(rule) => {
                    let part = steps.last().map_or(Part::Always, |s| s.part);
                    let mut d = self.decision(rule, part, f, trace);
                    finish(&mut d, f, base);
                    d
                }
                None => {
                    // a table without a catch-all rule: nothing matched
                    let mut d = Decision {
                        vendor: String::new(),
                        vendor_name: String::new(),
                        pa_type: String::new(),
                        action: Action::Route,
                        rule: String::new(),
                        priority: u32::MAX,
                        scope: "line",
                        decided_by: String::new(),
                        flags: Vec::new(),
                        trace,
                    };
                    let mut nf = f;
                    nf.set(NEEDS_MANUAL_REVIEW);
                    finish(&mut d, nf, base);
                    d
                }
            };
            lines.push(LineDecision {
                line: l.label.clone(),
                decision,
            });
        }
        let routed = Routed {
            flags: base.names(),
            request: None,
            request_trace,
            lines,
        };
        (ex, routed)
    }
}

/// A request decided as a whole (a follow-up to a known authorization, or a
/// request-scope rule): every line carries the request's decision.
fn whole_request(
    ex: &Extracted,
    d: Decision,
    request_trace: Vec<TraceStep>,
    base: Flags,
) -> Routed {
    let lines = ex
        .lines
        .iter()
        .map(|l| LineDecision {
            line: l.label.clone(),
            decision: d.clone(),
        })
        .collect();
    Routed {
        flags: base.names(),
        request: Some(d),
        request_trace,
        lines,
    }
}
