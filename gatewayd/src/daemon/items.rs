//! Vendor queue items built from routed transactions.
//!
//! A 278 work item carries the request's 2000A–2000E context and only its own 2000F
//! loops; an 837 claim carries the envelope, the billing provider and subscriber (and
//! patient) context and its own 2300 loop, never the other claims of the set. Either is
//! a whole interchange a vendor can read with any X12 tool: the partner's ISA and GS,
//! the item's segments with SE01 recounted, then GE and IEA with one group and one set.

use crate::route::split::{context_spans, SegmentSpan};
use crate::route::RequestRouting;
use serde_json::json;
use x12_core::schema::{LoopRef, LoopTree};
use x12_core::TransactionSet;

/// One item to queue, before it has a row.
#[derive(Debug, Clone)]
pub struct NewItem {
    /// Vendor id (queue name).
    pub vendor: String,
    /// PA type.
    pub pa_type: String,
    /// `route`, `reject` or `no_pa_required`.
    pub action: String,
    /// `278`, `837P`, `837I`, `837D`.
    pub transaction: String,
    /// 278 BHT03; 837 CLM01.
    pub request_id: String,
    /// ST02 of the set it came from.
    pub set_control: String,
    /// The item as an interchange.
    pub x12: Vec<u8>,
    /// The item's JSON (envelope, routing result of the item).
    pub item: serde_json::Value,
    /// The routing trace of the request (decisions, rules tried, flags).
    pub trace: serde_json::Value,
    /// For 278 items: BHT03 and the 2000E TRN02, for the PA status.
    pub pa: Option<(String, Option<String>)>,
}

/// The envelope facts copied into each item's JSON.
#[derive(Debug, Clone)]
pub struct Envelope<'a> {
    /// Partner id.
    pub partner: &'a str,
    /// ISA06 (trimmed).
    pub isa06: &'a str,
    /// ISA13.
    pub isa13: &'a str,
}

/// Builds the queue items of one routed request of `set` (walked into `tree`).
/// `claim` is the 837 claim loop the request is for.
pub fn build(
    set: &TransactionSet,
    tree: &LoopTree,
    routing: &RequestRouting,
    claim: Option<LoopRef<'_>>,
    env: &Envelope<'_>,
) -> Vec<NewItem> {
    let gs06 = set
        .group()
        .map(|g| String::from_utf8_lossy(g.control_number()).into_owned())
        .unwrap_or_default();
    let st02 = String::from_utf8_lossy(set.control_number()).into_owned();
    let envelope = json!({
        "partner": env.partner,
        "isa06": env.isa06,
        "isa13": env.isa13,
        "gs06": gs06,
        "st02": st02,
    });
    let trace = serde_json::to_value(&routing.routed).unwrap_or(serde_json::Value::Null);
    let transaction = routing.transaction.name().to_string();
    let mut out = Vec::new();
    for w in &routing.work_items {
        let mut spans: Vec<SegmentSpan> = w.context_spans.clone();
        spans.extend(w.service_spans.iter().copied());
        out.push(NewItem {
            vendor: w.vendor.clone(),
            pa_type: w.pa_type.clone(),
            action: w.action.name().to_string(),
            transaction: transaction.clone(),
            request_id: routing.id.clone(),
            set_control: st02.clone(),
            x12: interchange(set, tree, &spans),
            item: json!({
                "envelope": envelope,
                "transaction": transaction,
                "id": routing.id,
                "trace_number": routing.trace_number,
                "work_item": w,
            }),
            trace: trace.clone(),
            pa: Some((w.correlation.bht03.clone(), w.correlation.trn.clone())),
        });
    }
    if let (Some(route), Some(claim)) = (&routing.claim_route, claim) {
        out.push(NewItem {
            vendor: route.vendor.clone(),
            pa_type: route.pa_type.clone(),
            action: route.action.name().to_string(),
            transaction: transaction.clone(),
            request_id: routing.id.clone(),
            set_control: st02.clone(),
            x12: interchange(set, tree, &claim_spans(claim)),
            item: json!({
                "envelope": envelope,
                "transaction": transaction,
                "id": routing.id,
                "claim_route": route,
            }),
            trace,
            pa: None,
        });
    }
    out
}

fn is_hl_level(l: &LoopRef<'_>) -> bool {
    l.segments().next().is_some_and(|s| s.id() == b"HL")
}

/// The segments of one 837 claim: its HL context (billing provider, subscriber,
/// patient), the set's own segments, and its 2300 loop; other claims left out.
pub fn claim_spans(claim: LoopRef<'_>) -> Vec<SegmentSpan> {
    let mut hl = claim.parent();
    while let Some(l) = hl {
        if is_hl_level(&l) {
            break;
        }
        hl = l.parent();
    }
    let Some(hl) = hl else {
        return vec![(0, claim.tree.segments.len() as u32)];
    };
    let tree = claim.tree;
    let root = LoopRef { node: 0, ..claim };
    let others: Vec<(u32, u32)> = root
        .descendants("2300")
        .filter(|c| c.node != claim.node)
        .filter_map(|c| tree.nodes.get(c.node as usize))
        .map(|n| (n.first_segment, n.end_segment))
        .collect();
    let mut out: Vec<SegmentSpan> = Vec::new();
    for (a, b) in context_spans(hl) {
        for i in a..b {
            if others.iter().any(|&(s, e)| i >= s && i < e) {
                continue;
            }
            match out.last_mut() {
                Some(last) if last.1 == i => last.1 = i + 1,
                _ => out.push((i, i + 1)),
            }
        }
    }
    out
}

/// An interchange holding the segments of `spans` (segment indexes of `set`, in any
/// order; SE is recounted) inside the set's own ISA and GS.
pub fn interchange(set: &TransactionSet, tree: &LoopTree, spans: &[SegmentSpan]) -> Vec<u8> {
    let d = set.delimiters();
    let term = d.segment;
    let el = d.element;
    let bytes = set.as_bytes();
    let mut idx: Vec<u32> = spans.iter().flat_map(|&(a, b)| a..b).collect();
    idx.sort_unstable();
    idx.dedup();
    // a line break after each terminator, unless the terminator is one
    let nl: &[u8] = if term == b'\n' || term == b'\r' {
        b""
    } else {
        b"\n"
    };
    let mut out = Vec::with_capacity(bytes.len() / 2 + 256);
    let isa13 = match set.interchange() {
        Some(h) => {
            let isa = h.as_bytes();
            let trimmed = isa.trim_ascii_end();
            if trimmed.ends_with(&[term]) || term.is_ascii_whitespace() {
                out.extend_from_slice(isa);
            } else {
                out.extend_from_slice(trimmed);
                out.push(term);
            }
            String::from_utf8_lossy(h.control_number()).into_owned()
        }
        None => String::new(),
    };
    if !out.ends_with(b"\n") {
        out.extend_from_slice(nl);
    }
    let gs06 = match set.group() {
        Some(g) => {
            out.extend_from_slice(g.segment().as_bytes());
            out.push(term);
            out.extend_from_slice(nl);
            String::from_utf8_lossy(g.control_number()).into_owned()
        }
        None => String::new(),
    };
    let mut count = 0u32;
    let st02 = set.control_number();
    for i in idx {
        let Some(slot) = tree.segments.get(i as usize) else {
            continue;
        };
        let seg = bytes
            .get(slot.start as usize..slot.end as usize)
            .unwrap_or_default();
        if seg.starts_with(b"SE") && seg.get(2) == Some(&el) {
            continue;
        }
        out.extend_from_slice(seg);
        out.push(term);
        out.extend_from_slice(nl);
        count += 1;
    }
    let mut tail = Vec::new();
    tail.extend_from_slice(b"SE");
    tail.push(el);
    tail.extend_from_slice((count + 1).to_string().as_bytes());
    tail.push(el);
    tail.extend_from_slice(st02);
    tail.push(term);
    tail.extend_from_slice(nl);
    for (id, n, ctl) in [("GE", "1", gs06.as_str()), ("IEA", "1", isa13.as_str())] {
        tail.extend_from_slice(id.as_bytes());
        tail.push(el);
        tail.extend_from_slice(n.as_bytes());
        tail.push(el);
        tail.extend_from_slice(ctl.as_bytes());
        tail.push(term);
        tail.extend_from_slice(nl);
    }
    out.extend_from_slice(&tail);
    out
}
