//! HL hierarchy checks, for any guide whose loops start with HL: HL01 numbering,
//! HL02 parent references, HL04 child codes (X12 hierarchical structure rules).

use super::locate::At;
use super::model::Guide;
use super::tree::{LoopTree, NONE};
use crate::envelope::TransactionSet;
use crate::isa::lossy;
use crate::issue::{Code, Issue};

/// Checks every HL of `set` against the loop tree the engine built.
pub fn check_hierarchy(
    guide: &Guide,
    set: &TransactionSet,
    tree: &LoopTree,
    issues: &mut Vec<Issue>,
) {
    // a loop is an HL level when its trigger is HL; a node is one when its trigger
    // segment was placed (not a stray HL)
    let hl_loop: Vec<bool> = guide
        .loops
        .iter()
        .map(|l| guide.segments[l.trigger].id == "HL")
        .collect();
    let is_hl = |node: u32| -> bool {
        let n = tree.nodes[node as usize];
        n.loop_index != 0
            && hl_loop[n.loop_index as usize]
            && tree
                .segments
                .get(n.first_segment as usize)
                .is_some_and(|s| s.node == node)
    };
    // whether each node has an HL level below it, in one pass from the leaves up
    let mut hl_below = vec![false; tree.nodes.len()];
    for node in (1..tree.nodes.len()).rev() {
        let parent = tree.nodes[node].parent;
        if parent != NONE && (hl_below[node] || is_hl(node as u32)) {
            hl_below[parent as usize] = true;
        }
    }
    let mut expected: u64 = 1;
    for node in 1..tree.nodes.len() as u32 {
        if !is_hl(node) {
            continue;
        }
        let n = tree.nodes[node as usize];
        let hl = tree.segment(set, n.first_segment);
        let at = || At::new(set, tree, guide, n.first_segment);
        let hl01 = hl.get(1);
        match parse(hl01) {
            Some(v) if v == expected => {}
            _ => issues.push(
                at().element(1, None, "628", "I12", Some(hl01))
                    .issue(
                        Code::Hierarchy,
                        3,
                        format!("HL01 is {:?}; HL numbers must run 1, 2, 3... in order, so {expected} was expected", lossy(hl01)),
                    ),
            ),
        }
        expected = parse(hl01).map_or(expected + 1, |v| v + 1);
        // parent: the nearest enclosing HL loop
        let mut p = n.parent;
        while p != NONE && !is_hl(p) {
            p = tree.nodes[p as usize].parent;
        }
        let hl02 = hl.get(2);
        if p == NONE {
            if !hl02.is_empty() {
                issues.push(at().element(2, None, "734", "I12", Some(hl02)).issue(
                    Code::Hierarchy,
                    3,
                    format!("HL02 is {:?} but this HL has no parent level", lossy(hl02)),
                ));
            }
        } else {
            let parent_hl = tree.segment(set, tree.nodes[p as usize].first_segment);
            if hl02 != parent_hl.get(1) {
                issues.push(at().element(2, None, "734", "I12", Some(hl02)).issue(
                    Code::Hierarchy,
                    3,
                    format!(
                        "HL02 is {:?} but this level sits under HL {:?}; the parent reference must name the enclosing level",
                        lossy(hl02),
                        lossy(parent_hl.get(1))
                    ),
                ));
            }
        }
        let has_children = hl_below[node as usize];
        let hl04 = hl.get(4);
        let want: &[u8] = if has_children { b"1" } else { b"0" };
        if !hl04.is_empty() && hl04 != want {
            issues.push(at().element(4, None, "736", "I12", Some(hl04)).issue(
                Code::Hierarchy,
                3,
                format!(
                    "HL04 is {:?} but this level {} child levels; it must be {}",
                    lossy(hl04),
                    if has_children { "has" } else { "has no" },
                    lossy(want)
                ),
            ));
        }
    }
}

fn parse(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 12 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0')))
}
