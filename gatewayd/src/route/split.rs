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
///
/// Walks only the loops of the event's HL chain (and the root): for each, its segment
/// range less the subtrees of the HL levels below it, stepping over each such subtree
/// at once (the tree is in pre-order). So an event costs its chain's own segments and
/// child levels, never a pass over the whole set, and a set of many events stays
/// linear in its events instead of quadratic.
pub fn context_spans(event: LoopRef<'_>) -> Vec<SegmentSpan> {
    let tree = event.tree;
    let mut owners: Vec<u32> = vec![0];
    let mut cur = Some(event);
    while let Some(l) = cur {
        if l.node != 0 && is_hl_level(&l) {
            owners.push(l.node);
        }
        cur = l.parent();
    }
    let mut spans: Vec<SegmentSpan> = Vec::new();
    for owner in owners {
        let Some(n) = tree.nodes.get(owner as usize) else {
            continue;
        };
        let mut pos = n.first_segment;
        let mut next = owner + 1;
        while next < n.subtree_end {
            let Some(child) = tree.nodes.get(next as usize) else {
                break;
            };
            if is_hl_level(&LoopRef {
                node: next,
                ..event
            }) {
                // an HL level below the owner: its segments are its own context
                if child.first_segment > pos {
                    spans.push((pos, child.first_segment));
                }
                pos = pos.max(child.end_segment);
                next = child.subtree_end.max(next + 1);
            } else {
                next += 1;
            }
        }
        if n.end_segment > pos {
            spans.push((pos, n.end_segment));
        }
    }
    spans.sort_unstable();
    let mut merged: Vec<SegmentSpan> = Vec::with_capacity(spans.len());
    for (a, b) in spans {
        match merged.last_mut() {
            Some(last) if last.1 >= a => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
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

#[cfg(test)]
mod tests {
    use super::*;
    use x12_core::{Item, Reader};

    /// The first version: a pass over every segment of the set per event.
    fn context_spans_by_segment(event: LoopRef<'_>) -> Vec<SegmentSpan> {
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

    fn check(data: &[u8]) -> usize {
        let validator = crate::guides::validator();
        let mut tree = x12_core::schema::LoopTree::default();
        let mut events = 0;
        for item in Reader::new(data) {
            let Ok(Item::Transaction(set)) = item else {
                continue;
            };
            let (Some(guide), _) = validator.check_set(&set, &mut tree) else {
                continue;
            };
            if guide.id != "278REQ" {
                continue;
            }
            let root = LoopRef::root(&set, &tree, guide);
            for event in x12_278::events(root) {
                assert_eq!(
                    context_spans(event.node),
                    context_spans_by_segment(event.node)
                );
                events += 1;
            }
        }
        events
    }

    #[test]
    fn same_spans_as_a_pass_over_every_segment() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut events = 0;
        for d in ["fixtures/valid/278", "fixtures/routing", "fixtures/invalid"] {
            let Ok(rd) = std::fs::read_dir(root.join(d)) else {
                continue;
            };
            for e in rd.filter_map(Result::ok) {
                if e.path().extension().is_some_and(|x| x == "x12") {
                    events += check(&std::fs::read(e.path()).unwrap());
                }
            }
        }
        assert!(events >= 20, "{events}");
        // many subscribers and events in one set
        let one =
            std::fs::read_to_string(root.join("fixtures/routing/ex02-split-dme-therapies.x12"))
                .unwrap();
        let segs: Vec<&str> = one
            .split('~')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let start = segs.iter().position(|s| s.starts_with("HL*3*")).unwrap();
        let end = segs.iter().position(|s| s.starts_with("SE*")).unwrap();
        let mut many: String = segs[..start].iter().map(|s| format!("{s}~\n")).collect();
        for k in 0..200u32 {
            // a copy of the subscriber, event and services, HL01/HL02 moved by 10k
            for seg in &segs[start..end] {
                match seg.strip_prefix("HL*") {
                    Some(rest) => {
                        let f: Vec<&str> = rest.split('*').collect();
                        let shift = |v: &str| match v.parse::<u32>() {
                            Ok(n) if n >= 3 => (n + 10 * k).to_string(),
                            _ => v.to_string(),
                        };
                        many.push_str(&format!(
                            "HL*{}*{}*{}~\n",
                            shift(f[0]),
                            shift(f[1]),
                            f[2..].join("*")
                        ));
                    }
                    None => many.push_str(&format!("{seg}~\n")),
                }
            }
        }
        let tail: String = segs[end..].iter().map(|s| format!("{s}~\n")).collect();
        many.push_str(&tail);
        assert!(check(many.as_bytes()) >= 200);
    }
}
