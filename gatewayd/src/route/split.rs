//! Requests that span several PA types (ROUTING.md §3).
//!
//! * A 278 is split by (vendor, PA type, action) into [`WorkItem`]s: each holds the full
//!   2000A–2000E context and only its own 2000F loops (as segment index spans of the
//!   transaction set), correlated by BHT03 and the 2000E TRN. Lines that reached only the
//!   `default` rule join the group of the first line that did not; a request-scope or
//!   sticky decision is never split.
//! * An 837 claim is never split: its queue ([`ClaimRoute`]) is the route of the line
//!   whose matched rule has the lowest priority; every line keeps its own decision.

use super::eval::{Decision, Routed};
use super::features::Extracted;
use super::table::Action;
use serde::Serialize;
use x12_core::schema::LoopRef;

/// A half-open range `[start, end)` of segment indexes in a transaction set (ST is 0).
pub type SegmentSpan = (u32, u32);

/// What ties a work item back to its request: BHT03 and the submitter's 2000E TRN02.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Correlation {
    /// BHT03, the submitter's transaction identifier.
    pub bht03: String,
    /// 2000E TRN02 (the first trace), when given.
    pub trn: Option<String>,
}

/// One child work item of a 278: a vendor queue entry.
/// Stable field names: `vendor`, `vendor_name`, `pa_type`, `action`, `rules`,
/// `correlation`, `services`, `service_spans`, `context_spans`, `flags`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WorkItem {
    /// Vendor id.
    pub vendor: String,
    /// Vendor display name.
    pub vendor_name: String,
    /// PA type.
    pub pa_type: String,
    /// Action.
    pub action: Action,
    /// The rule ids that put lines here, in line order, without repeats.
    pub rules: Vec<String>,
    /// Correlation key.
    pub correlation: Correlation,
    /// 2000F HL01 of the services it holds (empty for a 278 with no 2000F).
    pub services: Vec<String>,
    /// Segment spans of those 2000F loops.
    pub service_spans: Vec<SegmentSpan>,
    /// Segment spans of the 2000A–2000E context (ST, BHT and SE included).
    pub context_spans: Vec<SegmentSpan>,
    /// Union of the lines' flags.
    pub flags: Vec<String>,
}

/// The queue of an 837 claim: the route of its deciding line (or of the request decision).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ClaimRoute {
    /// Vendor id.
    pub vendor: String,
    /// Vendor display name.
    pub vendor_name: String,
    /// PA type.
    pub pa_type: String,
    /// Action.
    pub action: Action,
    /// Rule id.
    pub rule: String,
    /// The deciding line (LX01); `None` when a request-level decision decided.
    pub line: Option<String>,
}

fn is_hl_level(l: &LoopRef<'_>) -> bool {
    l.segments().next().is_some_and(|s| s.id() == b"HL")
}

/// The segment spans of a 2000E's context: every segment whose nearest HL-level loop is
/// the event or one of its HL ancestors, plus the set's own segments (ST, BHT, SE).
pub fn context_spans(event: LoopRef<'_>) -> Vec<SegmentSpan> {
    let mut keep: Vec<u32> = Vec::new();
    let mut cur = Some(event);
    while let Some(l) = cur {
        if is_hl_level(&l) {
            keep.push(l.node);
        }
        cur = l.parent();
    }
    let tree = event.tree;
    let mut spans: Vec<SegmentSpan> = Vec::new();
    for (i, slot) in tree.segments.iter().enumerate() {
        let mut node = LoopRef {
            node: slot.node,
            ..event
        };
        let owner = loop {
            if node.node == 0 || is_hl_level(&node) {
                break node.node;
            }
            match node.parent() {
                Some(p) => node = p,
                None => break 0,
            }
        };
        if owner == 0 || keep.contains(&owner) {
            let i = i as u32;
            match spans.last_mut() {
                Some(last) if last.1 == i => last.1 = i + 1,
                _ => spans.push((i, i + 1)),
            }
        }
    }
    spans
}

fn is_default(d: &Decision) -> bool {
    d.flags.iter().any(|f| f == "default_route")
}

fn item(d: &Decision, correlation: &Correlation, context: &[SegmentSpan]) -> WorkItem {
    WorkItem {
        vendor: d.vendor.clone(),
        vendor_name: d.vendor_name.clone(),
        pa_type: d.pa_type.clone(),
        action: d.action,
        rules: Vec::new(),
        correlation: correlation.clone(),
        services: Vec::new(),
        service_spans: Vec::new(),
        context_spans: context.to_vec(),
        flags: Vec::new(),
    }
}

fn add(w: &mut WorkItem, d: &Decision, label: &str, span: Option<SegmentSpan>) {
    if !w.rules.contains(&d.rule) {
        w.rules.push(d.rule.clone());
    }
    if let Some(span) = span {
        w.services.push(label.to_string());
        w.service_spans.push(span);
    }
    for f in &d.flags {
        if !w.flags.contains(f) {
            w.flags.push(f.clone());
        }
    }
}

/// Splits a routed 278 event into work items.
pub fn split_278(
    ex: &Extracted,
    routed: &Routed,
    correlation: &Correlation,
    context: &[SegmentSpan],
) -> Vec<WorkItem> {
    let spans: Vec<Option<SegmentSpan>> = ex
        .lines
        .iter()
        .map(|l| (!ex.synthetic).then_some(l.span))
        .collect();
    if let Some(d) = &routed.request {
        let mut w = item(d, correlation, context);
        for (ld, span) in routed.lines.iter().zip(&spans) {
            add(&mut w, &ld.decision, &ld.line, *span);
        }
        return vec![w];
    }
    let mut items: Vec<WorkItem> = Vec::new();
    let mut defaults: Vec<usize> = Vec::new();
    for (i, ld) in routed.lines.iter().enumerate() {
        let d = &ld.decision;
        if is_default(d) {
            defaults.push(i);
            continue;
        }
        let slot = match items
            .iter()
            .position(|w| w.vendor == d.vendor && w.pa_type == d.pa_type && w.action == d.action)
        {
            Some(s) => s,
            None => {
                items.push(item(d, correlation, context));
                items.len() - 1
            }
        };
        add(&mut items[slot], d, &ld.line, spans[i]);
    }
    if !defaults.is_empty() {
        if items.is_empty() {
            items.push(item(
                &routed.lines[defaults[0]].decision,
                correlation,
                context,
            ));
        }
        // default lines join the group of the first non-default line
        for i in defaults {
            let ld = &routed.lines[i];
            add(&mut items[0], &ld.decision, &ld.line, spans[i]);
        }
        // keep each item's services in file order
        for w in &mut items {
            let mut pairs: Vec<(String, SegmentSpan)> = w
                .services
                .drain(..)
                .zip(w.service_spans.drain(..))
                .collect();
            pairs.sort_by_key(|(_, s)| s.0);
            for (l, s) in pairs {
                w.services.push(l);
                w.service_spans.push(s);
            }
        }
    }
    items
}

/// The queue of a routed 837 claim.
pub fn claim_queue(routed: &Routed) -> Option<ClaimRoute> {
    let route = |d: &Decision, line: Option<String>| ClaimRoute {
        vendor: d.vendor.clone(),
        vendor_name: d.vendor_name.clone(),
        pa_type: d.pa_type.clone(),
        action: d.action,
        rule: d.rule.clone(),
        line,
    };
    if let Some(d) = &routed.request {
        return Some(route(d, None));
    }
    routed
        .lines
        .iter()
        .filter(|l| !l.decision.rule.is_empty())
        .min_by_key(|l| l.decision.priority)
        .map(|l| route(&l.decision, Some(l.line.clone())))
}
