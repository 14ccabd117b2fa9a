//! Element-level checks of one segment against its definition (SNIP 1–2): presence,
//! usage, repetitions, components, length, data type, dates, times, codes, syntax rules.

use super::engine::Ctx;
use super::model::{DataType, ElementDef, RuleKind, SegmentDef, Usage};
use crate::datetime::{is_valid_date, is_valid_time};
use crate::isa::lossy;
use crate::issue::{Code, Ik4, Issue};
use crate::segment::{split_seps, Element, Segment};

struct Spot<'a> {
    sd: &'a SegmentDef,
    ctx: &'a Ctx<'a>,
    position: u16,
    component: Option<u16>,
    repetition: Option<u16>,
}

impl<'a> Spot<'a> {
    /// Element `position` of the segment (no component, no repetition).
    fn element(sd: &'a SegmentDef, ctx: &'a Ctx<'a>, position: u16) -> Self {
        Spot {
            sd,
            ctx,
            position,
            component: None,
            repetition: None,
        }
    }

    fn name(&self) -> String {
        let mut s = format!("{}{:02}", self.sd.id, self.position);
        if let Some(c) = self.component {
            s.push_str(&format!("-{c}"));
        }
        if let Some(r) = self.repetition {
            if r > 1 {
                s.push_str(&format!(" (repetition {r})"));
            }
        }
        s
    }

    fn push(
        &self,
        issues: &mut Vec<Issue>,
        def: &ElementDef,
        code: Code,
        ik403: &'static str,
        value: Option<&[u8]>,
        msg: String,
    ) {
        let mut i = self.ctx.issue(code, &self.sd.id, "8", msg);
        i.snip = match code {
            Code::InvalidCode | Code::NotUsedElement | Code::MissingElement => 2,
            _ => 1,
        };
        i.location.element = Some(self.position);
        i.location.component = self.component;
        let span = self
            .ctx
            .segment
            .span_of(usize::from(self.position), self.component.map(usize::from));
        i.location.span = Some((span.0 as u32, span.1 as u32));
        i.location.repetition = self.repetition;
        i.ik4 = Some(Ik4 {
            position: self.position,
            component: self.component,
            repetition: self.repetition,
            reference: def.reference.clone(),
            code: ik403,
            value: value
                .filter(|v| !v.is_empty())
                .map(|v| lossy(&v[..v.len().min(99)])),
        });
        issues.push(i);
    }
}

/// "2300 " before a message, formatted only when a message is made.
struct Prefix<'a>(Option<&'a str>);

impl std::fmt::Display for Prefix<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(l) => write!(f, "{l} "),
            None => Ok(()),
        }
    }
}

fn prefix<'a>(ctx: &Ctx<'a>) -> Prefix<'a> {
    Prefix(ctx.loop_id)
}

/// Checks every element of `seg` against `sd`. `printable` says that every byte of
/// the segment is in the X12 character sets, so no value needs to be looked at for
/// that again.
pub(crate) fn check_elements(
    sd: &SegmentDef,
    seg: &Segment<'_>,
    printable: bool,
    ctx: &Ctx<'_>,
    issues: &mut Vec<Issue>,
) {
    let bytes = seg.as_bytes();
    let d = seg.delimiters();
    let has_rep = ctx.repeats
        && d.repetition
            .is_some_and(|r| memchr::memchr(r, bytes).is_some());
    let mut present: u64 = 0; // bit per position 1..=63 that holds a value
    let mut reported: u64 = 0; // required positions already reported missing
                               // the date/time period pair (1250 format, 1251 value), read on the way
    let period_at = sd.period.map_or((0, 0), |(q, i)| {
        (
            usize::from(sd.elements[q].position),
            usize::from(sd.elements[i].position),
        )
    });
    let mut period: (&[u8], &[u8]) = (b"", b"");
    // the walk gives the separators; a segment built elsewhere has them found here
    let mut found = Vec::new();
    let seps = if seg.seps().is_empty() {
        split_seps(bytes, d.element, &mut found);
        &found[..]
    } else {
        seg.seps()
    };
    for (k, &sep) in seps.iter().enumerate() {
        let pos = k + 1;
        let end = seps.get(pos).map_or(bytes.len(), |&e| e as usize);
        let Some(value) = bytes.get(sep as usize + 1..end) else {
            break;
        };
        if pos == period_at.0 {
            period.0 = value;
        } else if pos == period_at.1 {
            period.1 = value;
        }
        if !value.is_empty() {
            // required elements before this one that hold nothing, in position order
            let below = if pos < 64 {
                (1u64 << pos) - 1
            } else {
                u64::MAX
            };
            let due = sd.required & !present & !reported & below;
            if due != 0 {
                report_missing(sd, due, ctx, issues);
                reported |= due;
            }
            let at = if pos < 64 { sd.by_position[pos] } else { 0 };
            if at == 0 {
                too_many(sd, seg, value, pos, ctx, issues);
            } else {
                let def = &sd.elements[usize::from(at - 1)];
                present |= 1 << pos;
                if def.usage == Usage::NotUsed {
                    not_used(sd, def, value, pos, ctx, issues);
                } else {
                    let el = Element::new(value, d);
                    check_element(sd, def, &el, printable, ctx, pos as u16, has_rep, issues);
                }
            }
        }
    }
    let due = sd.required & !present & !reported;
    if due != 0 {
        report_missing(sd, due, ctx, issues);
    }
    for rule in &sd.rules {
        check_rule(sd, rule, present, ctx, issues);
    }
    if sd.period.is_some() {
        check_period(sd, period.0, period.1, ctx, issues);
    }
}

/// Reports the required elements at the positions set in `due`, in position order.
fn report_missing(sd: &SegmentDef, mut due: u64, ctx: &Ctx<'_>, issues: &mut Vec<Issue>) {
    while due != 0 {
        let p = due.trailing_zeros() as usize;
        due &= due - 1;
        let at = sd.by_position[p];
        if at != 0 {
            missing(sd, &sd.elements[usize::from(at - 1)], ctx, issues);
        }
    }
}

/// A value at a position the guide does not define.
fn too_many(
    sd: &SegmentDef,
    seg: &Segment<'_>,
    value: &[u8],
    pos: usize,
    ctx: &Ctx<'_>,
    issues: &mut Vec<Issue>,
) {
    let spot = Spot::element(sd, ctx, pos as u16);
    let def = ElementDef {
        position: pos.min(usize::from(u8::MAX)) as u8,
        reference: String::new(),
        usage: Usage::NotUsed,
        data_type: DataType::AN,
        min: 0,
        max: 0,
        repeat: 1,
        name: String::new(),
        codes: Vec::new(),
        code_set: None,
        components: Vec::new(),
        code_keys: Vec::new(),
    };
    spot.push(
        issues,
        &def,
        Code::TooManyElements,
        "3",
        Some(value),
        format!(
            "{}{} has {} elements; the guide defines {}",
            prefix(ctx),
            sd.id,
            seg.element_count(),
            sd.elements.last().map_or(0, |e| e.position)
        ),
    );
}

/// A value in an element the guide marks not used.
fn not_used(
    sd: &SegmentDef,
    def: &ElementDef,
    value: &[u8],
    pos: usize,
    ctx: &Ctx<'_>,
    issues: &mut Vec<Issue>,
) {
    let spot = Spot::element(sd, ctx, pos as u16);
    spot.push(
        issues,
        def,
        Code::NotUsedElement,
        "I10",
        Some(value),
        format!(
            "{}{} ({}) is marked not used in this guide but holds a value",
            prefix(ctx),
            spot.name(),
            def.name
        ),
    );
}

fn missing(sd: &SegmentDef, def: &ElementDef, ctx: &Ctx<'_>, issues: &mut Vec<Issue>) {
    if def.usage != Usage::Required {
        return;
    }
    let spot = Spot::element(sd, ctx, u16::from(def.position));
    spot.push(
        issues,
        def,
        Code::MissingElement,
        "1",
        None,
        format!(
            "{}{} ({}) is required but missing",
            prefix(ctx),
            spot.name(),
            def.name
        ),
    );
}

#[allow(clippy::too_many_arguments)]
fn check_element(
    sd: &SegmentDef,
    def: &ElementDef,
    el: &Element<'_>,
    printable: bool,
    ctx: &Ctx<'_>,
    pos: u16,
    has_rep: bool,
    issues: &mut Vec<Issue>,
) {
    let reps = if has_rep
        && el
            .delimiters()
            .repetition
            .is_some_and(|r| el.as_bytes().contains(&r))
    {
        el.repetitions().count()
    } else {
        1
    };
    if reps == 1 && !def.is_composite() {
        // the common case: one simple value
        if value_ok(def, el.as_bytes(), printable) {
            return;
        }
        let spot = Spot::element(sd, ctx, pos);
        check_value(def, el.as_bytes(), &spot, issues);
        return;
    }
    if reps > usize::from(def.repeat) {
        let spot = Spot::element(sd, ctx, pos);
        spot.push(
            issues,
            def,
            Code::TooManyRepetitions,
            "12",
            Some(el.as_bytes()),
            format!(
                "{}{} ({}) repeats {reps} times; the guide allows {}",
                prefix(ctx),
                spot.name(),
                def.name,
                def.repeat
            ),
        );
        return;
    }
    // (one repetition: no need to look for the separator again)
    for (r, rep) in el.split_repetitions(reps > 1).enumerate() {
        let repetition = (reps > 1).then_some(r as u16 + 1);
        if rep.is_empty() {
            continue;
        }
        if def.is_composite() {
            let mut n = 0usize;
            let mut comps = def.components.iter().peekable();
            for (c, value) in rep.components().enumerate() {
                n = c + 1;
                while let Some(d) = comps.next_if(|d| usize::from(d.position) < n) {
                    missing_component(sd, def, d, ctx, pos, repetition, issues);
                }
                let cdef = match comps.next_if(|d| usize::from(d.position) == n) {
                    Some(d) => d,
                    _ => {
                        if !value.is_empty() {
                            let spot = Spot {
                                sd,
                                ctx,
                                position: pos,
                                component: Some(n as u16),
                                repetition,
                            };
                            spot.push(
                                issues,
                                def,
                                Code::TooManyComponents,
                                "13",
                                Some(value),
                                format!(
                                    "{}{} ({}) has more components than the {} defined",
                                    prefix(ctx),
                                    spot.name(),
                                    def.name,
                                    def.components.len()
                                ),
                            );
                        }
                        continue;
                    }
                };
                let spot = Spot {
                    sd,
                    ctx,
                    position: pos,
                    component: Some(n as u16),
                    repetition,
                };
                if value.is_empty() {
                    if cdef.usage == Usage::Required {
                        missing_component(sd, def, cdef, ctx, pos, repetition, issues);
                    }
                    continue;
                }
                if cdef.usage == Usage::NotUsed {
                    spot.push(
                        issues,
                        cdef,
                        Code::NotUsedElement,
                        "I10",
                        Some(value),
                        format!(
                            "{}{} ({}) is marked not used in this guide but holds a value",
                            prefix(ctx),
                            spot.name(),
                            cdef.name
                        ),
                    );
                    continue;
                }
                if !value_ok(cdef, value, printable) {
                    check_value(cdef, value, &spot, issues);
                }
            }
            let _ = n;
            for d in comps {
                missing_component(sd, def, d, ctx, pos, repetition, issues);
            }
        } else {
            let spot = Spot {
                sd,
                ctx,
                position: pos,
                component: None,
                repetition,
            };
            check_value(def, rep.as_bytes(), &spot, issues);
        }
    }
}

fn missing_component(
    sd: &SegmentDef,
    composite: &ElementDef,
    d: &ElementDef,
    ctx: &Ctx<'_>,
    pos: u16,
    repetition: Option<u16>,
    issues: &mut Vec<Issue>,
) {
    if d.usage != Usage::Required {
        return;
    }
    let spot = Spot {
        sd,
        ctx,
        position: pos,
        component: Some(u16::from(d.position)),
        repetition,
    };
    spot.push(
        issues,
        d,
        Code::MissingElement,
        "1",
        None,
        format!(
            "{}{} ({} of {}) is required but missing",
            prefix(ctx),
            spot.name(),
            d.name,
            composite.name
        ),
    );
}

/// Whether [`check_value`] would find nothing wrong with `v`: the same checks, without
/// building a finding. Most values are fine; only the others pay for a message.
/// `printable`: the whole segment is known to be in the X12 character sets.
#[inline(always)]
fn value_ok(def: &ElementDef, v: &[u8], printable: bool) -> bool {
    if !printable && !v.iter().all(|b| (0x20..=0x7E).contains(b)) {
        return false;
    }
    if !super::program::shape_ok(def.data_type, def.min, def.max, v) {
        return false;
    }
    if let Some(set) = def.code_set.as_deref() {
        if crate::codesets::check(set, v).is_some_and(|(ok, _)| !ok) {
            return false;
        }
    }
    def.allows(v)
}

/// Length, type, date, time and code of one simple value.
fn check_value(def: &ElementDef, v: &[u8], spot: &Spot<'_>, issues: &mut Vec<Issue>) {
    let p = prefix(spot.ctx);
    let shown = || lossy(v);
    // characters: the X12 basic and extended character sets are printable ASCII
    if let Some(bad) = v.iter().find(|b| !(0x20..=0x7E).contains(*b)) {
        spot.push(
            issues,
            def,
            Code::InvalidCharacter,
            "6",
            Some(v),
            format!(
                "{p}{} ({}) holds byte 0x{bad:02X}, outside the X12 character set",
                spot.name(),
                def.name
            ),
        );
        return;
    }
    let len = match def.data_type {
        DataType::N(_) | DataType::R => v.iter().filter(|b| b.is_ascii_digit()).count(),
        _ => v.len(),
    };
    let type_ok = match def.data_type {
        DataType::N(_) => {
            let digits = v.strip_prefix(b"-").unwrap_or(v);
            !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
        }
        DataType::R => is_decimal(v),
        _ => true,
    };
    if !type_ok {
        let what = if def.data_type == DataType::R {
            "a decimal number"
        } else {
            "a whole number"
        };
        spot.push(
            issues,
            def,
            Code::InvalidCharacter,
            "6",
            Some(v),
            format!(
                "{p}{} ({}) is {:?}; it must be {what}",
                spot.name(),
                def.name,
                shown()
            ),
        );
        return;
    }
    match def.data_type {
        DataType::DT => {
            if !is_valid_date(v) || len < usize::from(def.min) || len > usize::from(def.max) {
                spot.push(
                    issues,
                    def,
                    Code::InvalidDate,
                    "8",
                    Some(v),
                    format!(
                        "{p}{} ({}) {:?} is not a valid {} date",
                        spot.name(),
                        def.name,
                        shown(),
                        if def.max == 6 { "YYMMDD" } else { "CCYYMMDD" }
                    ),
                );
            }
            return;
        }
        DataType::TM => {
            if !is_valid_time(v) || len < usize::from(def.min) || len > usize::from(def.max) {
                spot.push(
                    issues,
                    def,
                    Code::InvalidTime,
                    "9",
                    Some(v),
                    format!(
                        "{p}{} ({}) {:?} is not a valid HHMM[SS[DD]] time",
                        spot.name(),
                        def.name,
                        shown()
                    ),
                );
            }
            return;
        }
        _ => {}
    }
    if len < usize::from(def.min) {
        spot.push(
            issues,
            def,
            Code::TooShort,
            "4",
            Some(v),
            format!(
                "{p}{} ({}) {:?} is {len} long; the minimum is {}",
                spot.name(),
                def.name,
                shown(),
                def.min
            ),
        );
        return;
    }
    if len > usize::from(def.max) {
        spot.push(
            issues,
            def,
            Code::TooLong,
            "5",
            Some(v),
            format!(
                "{p}{} ({}) {:?} is {len} long; the maximum is {}",
                spot.name(),
                def.name,
                shown(),
                def.max
            ),
        );
        return;
    }
    if let Some((false, what)) = def
        .code_set
        .as_deref()
        .and_then(|set| crate::codesets::check(set, v))
    {
        // a digit pattern is the guide's own rule (IK403 I12, SNIP 2); a code set is SNIP 5
        let pattern = def
            .code_set
            .as_deref()
            .is_some_and(|s| s.starts_with("digits"));
        let mut i = Vec::with_capacity(1);
        spot.push(
            &mut i,
            def,
            Code::CodeSet,
            if pattern { "I12" } else { "7" },
            Some(v),
            format!(
                "{p}{} ({}) {:?} is not {what}",
                spot.name(),
                def.name,
                shown()
            ),
        );
        for mut x in i {
            x.snip = if pattern { 2 } else { 5 };
            issues.push(x);
        }
        return;
    }
    if !def.allows(v) {
        let list: Vec<&str> = def.codes.iter().take(12).map(String::as_str).collect();
        let more = if def.codes.len() > 12 { ", ..." } else { "" };
        spot.push(
            issues,
            def,
            Code::InvalidCode,
            "7",
            Some(v),
            format!(
                "{p}{} ({}) {:?} is not a code this guide allows here (expected one of {}{more})",
                spot.name(),
                def.name,
                shown(),
                list.join(", ")
            ),
        );
    }
}

fn is_decimal(v: &[u8]) -> bool {
    let v = v.strip_prefix(b"-").unwrap_or(v);
    let mut dots = 0;
    let mut digits = 0;
    for b in v {
        match b {
            b'0'..=b'9' => digits += 1,
            b'.' => dots += 1,
            _ => return false,
        }
    }
    digits > 0 && dots <= 1
}

fn check_rule(
    sd: &SegmentDef,
    rule: &super::model::SyntaxRule,
    present: u64,
    ctx: &Ctx<'_>,
    issues: &mut Vec<Issue>,
) {
    let has = |p: u8| p < 64 && present & (1 << p) != 0;
    let ps = &rule.positions;
    let n = ps.iter().filter(|p| has(**p)).count();
    let (broken, at, code, ik403) = match rule.kind {
        RuleKind::Paired => (
            n > 0 && n < ps.len(),
            ps.iter().find(|p| !has(**p)).copied(),
            Code::SyntaxRule,
            "2",
        ),
        RuleKind::Required => (n == 0, ps.first().copied(), Code::SyntaxRule, "2"),
        RuleKind::Exclusion => (
            n > 1,
            ps.iter().filter(|p| has(**p)).nth(1).copied(),
            Code::SyntaxRule,
            "10",
        ),
        RuleKind::Conditional => (
            has(ps[0]) && ps[1..].iter().any(|p| !has(*p)),
            ps[1..].iter().find(|p| !has(**p)).copied(),
            Code::SyntaxRule,
            "2",
        ),
        RuleKind::ListConditional => (
            has(ps[0]) && !ps[1..].iter().any(|p| has(*p)),
            ps.get(1).copied(),
            Code::SyntaxRule,
            "2",
        ),
    };
    if !broken {
        return;
    }
    let at = at.unwrap_or(ps[0]);
    let Some(def) = sd.element(usize::from(at)) else {
        return;
    };
    let spot = Spot::element(sd, ctx, u16::from(at));
    let list: Vec<String> = ps.iter().map(|p| format!("{}{p:02}", sd.id)).collect();
    let what = match rule.kind {
        RuleKind::Paired => "must all be present or all absent",
        RuleKind::Required => "need at least one present",
        RuleKind::Exclusion => "may not be present together",
        RuleKind::Conditional => "must all be present when the first is",
        RuleKind::ListConditional => "need at least one of the others when the first is present",
    };
    spot.push(
        issues,
        def,
        code,
        ik403,
        None,
        format!(
            "{}syntax rule {}: {} {what}",
            prefix(ctx),
            rule.notation(),
            list.join(", ")
        ),
    );
}

/// X12's date/time period pair: element 1251 holds a date in the format its 1250
/// qualifier names (D8 `CCYYMMDD`, RD8 `CCYYMMDD-CCYYMMDD`, DT `CCYYMMDDHHMM`, TM
/// `HHMM`). A rule of the standard, not of one guide.
fn check_period(
    sd: &SegmentDef,
    format: &[u8],
    value: &[u8],
    ctx: &Ctx<'_>,
    issues: &mut Vec<Issue>,
) {
    if let Some((_, i)) = sd.period {
        let def = &sd.elements[i];
        if value.is_empty() {
            return;
        }
        if !super::program::period_ok(format, value) {
            let spot = Spot::element(sd, ctx, u16::from(def.position));
            spot.push(
                issues,
                def,
                Code::InvalidDate,
                "8",
                Some(value),
                format!(
                    "{}{} ({}) {:?} is not a valid {} value{}",
                    prefix(ctx),
                    spot.name(),
                    def.name,
                    lossy(value),
                    lossy(format),
                    if format == b"RD8" {
                        " (CCYYMMDD-CCYYMMDD, start not after end)"
                    } else {
                        ""
                    }
                ),
            );
        }
    }
}
