//! Vendor queue items built from routed transactions.
//!
//! A 278 work item carries the request's 2000A–2000E context and only its own 2000F
//! loops; an 837 claim carries the envelope, the billing provider and subscriber (and
//! patient) context and its own 2300 loop, never the other claims of the set. Either is
//! a whole interchange a vendor can read with any X12 tool: the partner's ISA and GS,
//! the item's segments with SE01 recounted, then GE and IEA with one group and one set.
//! When levels were left out, HL01/HL02 are renumbered 1, 2, 3... and HL04 says
//! whether a child level is still there, so the item passes the guide on its own; the
//! item's JSON keeps the request's own 2000F HL01s (`work_item.services`).

use crate::route::split::SegmentSpan;
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
    /// The routing trace of the request (decisions, rules tried, flags), as JSON text:
    /// serialized once per request, straight to text (it is most of an item's bytes).
    pub trace: String,
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
    let trace = serde_json::to_string(&routing.routed).unwrap_or_else(|_| "null".into());
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
/// patient, with their name loops), the set's own segments, and its 2300 loop; other
/// claims and other HL branches left out. Walks only the claim's HL ancestors and
/// their direct children, so a set of many claims costs no more than its size.
pub fn claim_spans(claim: LoopRef<'_>) -> Vec<SegmentSpan> {
    let tree = claim.tree;
    let mut chain: Vec<u32> = Vec::new();
    let mut cur = claim.parent();
    while let Some(l) = cur {
        chain.push(l.node);
        cur = l.parent();
    }
    let root = LoopRef { node: 0, ..claim };
    let mut out: Vec<SegmentSpan> = Vec::new();
    let total = tree.segments.len() as u32;
    collect(root, (0, total), &chain, claim.node, &mut out);
    out
}

fn range_of(l: &LoopRef<'_>) -> Option<SegmentSpan> {
    l.tree
        .nodes
        .get(l.node as usize)
        .map(|n| (n.first_segment, n.end_segment))
}

fn push(out: &mut Vec<SegmentSpan>, (a, b): SegmentSpan) {
    if a >= b {
        return;
    }
    match out.last_mut() {
        Some(last) if last.1 == a => last.1 = b,
        _ => out.push((a, b)),
    }
}

/// The segments of `node` (spanning `range`) that belong to the claim's context.
fn collect(
    node: LoopRef<'_>,
    range: SegmentSpan,
    chain: &[u32],
    claim: u32,
    out: &mut Vec<SegmentSpan>,
) {
    let mut pos = range.0;
    for child in node.children() {
        let Some((cs, ce)) = range_of(&child) else {
            continue;
        };
        push(out, (pos, cs));
        if child.node == claim {
            push(out, (cs, ce));
        } else if chain.contains(&child.node) {
            collect(child, (cs, ce), chain, claim, out);
        } else if !(child.is("2300") || is_hl_level(&child)) {
            // a name or header loop of a level in the chain
            push(out, (cs, ce));
        }
        pos = pos.max(ce);
    }
    push(out, (pos, range.1));
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
    let st02 = set.control_number();
    let segs: Vec<&[u8]> = idx
        .iter()
        .filter_map(|&i| tree.segments.get(i as usize))
        .map(|slot| {
            bytes
                .get(slot.start as usize..slot.end as usize)
                .unwrap_or_default()
        })
        .filter(|seg| !(seg.starts_with(b"SE") && seg.get(2) == Some(&el)))
        .collect();
    let hl = Renumber::new(&segs, el);
    let mut count = 0u32;
    for seg in &segs {
        match hl.rewrite(seg, el) {
            Some(new) => out.extend_from_slice(&new),
            None => out.extend_from_slice(seg),
        }
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

/// HL renumbering for an item that left some hierarchical levels out: HL01 runs 1, 2,
/// 3... again, HL02 follows its parent, HL04 says whether a child level is still there.
struct Renumber {
    /// Old HL01 → new HL01.
    ids: std::collections::HashMap<Vec<u8>, usize>,
    /// Old HL01 of levels that keep a child.
    parents: std::collections::HashSet<Vec<u8>>,
    /// Whether anything changes at all.
    needed: bool,
}

fn hl_fields(seg: &[u8], el: u8) -> Option<Vec<&[u8]>> {
    if !(seg.starts_with(b"HL") && seg.get(2) == Some(&el)) {
        return None;
    }
    Some(seg[3..].split(|b| *b == el).collect())
}

impl Renumber {
    fn new(segs: &[&[u8]], el: u8) -> Renumber {
        let mut r = Renumber {
            ids: Default::default(),
            parents: Default::default(),
            needed: false,
        };
        let mut n = 0usize;
        for seg in segs {
            let Some(f) = hl_fields(seg, el) else {
                continue;
            };
            n += 1;
            let id = f.first().copied().unwrap_or_default();
            if id != n.to_string().as_bytes() {
                r.needed = true;
            }
            r.ids.insert(id.to_vec(), n);
            if let Some(p) = f.get(1).filter(|p| !p.is_empty()) {
                r.parents.insert(p.to_vec());
            }
        }
        if !r.needed {
            // HL04 may still claim a child that was left out
            for seg in segs {
                if let Some(f) = hl_fields(seg, el) {
                    let has = r.parents.contains(f.first().copied().unwrap_or_default());
                    if f.get(3).is_some_and(|c| (*c == b"1") != has) {
                        r.needed = true;
                    }
                }
            }
        }
        r
    }

    /// The rewritten HL segment, or `None` to keep `seg` as it is.
    fn rewrite(&self, seg: &[u8], el: u8) -> Option<Vec<u8>> {
        if !self.needed {
            return None;
        }
        let f = hl_fields(seg, el)?;
        let old = f.first().copied().unwrap_or_default();
        let id = self.ids.get(old)?.to_string();
        let parent = match f.get(1).filter(|p| !p.is_empty()) {
            Some(p) => self.ids.get(*p).map(|n| n.to_string()).unwrap_or_default(),
            None => String::new(),
        };
        let mut out = b"HL".to_vec();
        for (i, v) in f.iter().enumerate() {
            out.push(el);
            match i {
                0 => out.extend_from_slice(id.as_bytes()),
                1 => out.extend_from_slice(parent.as_bytes()),
                3 if !v.is_empty() => out.push(if self.parents.contains(old) {
                    b'1'
                } else {
                    b'0'
                }),
                _ => out.extend_from_slice(v),
            }
        }
        Some(out)
    }
}
