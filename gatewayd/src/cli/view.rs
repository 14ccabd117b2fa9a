//! `x12 view`: one segment per line with its position, indented by envelope level and,
//! where a guide table knows the transaction set, by loop, with each loop's id and name.

use super::input::Input;
use std::io::Write;
use std::path::Path;
use x12_core::schema::{LoopTree, NONE};
use x12_core::{Item, Reader, SegmentRef};

fn line(out: &mut dyn Write, depth: usize, r: &SegmentRef<'_>) -> std::io::Result<()> {
    let text = String::from_utf8_lossy(r.segment.as_bytes());
    writeln!(
        out,
        "{:>7}  {:indent$}{text}",
        r.position,
        "",
        indent = depth * 2
    )
}

/// Runs the command; returns the exit code.
pub fn run(path: &Path, out: &mut dyn Write) -> i32 {
    let (source, _progress) = match Input::for_command(path) {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let mut depth = 0usize;
    let validator = crate::guides::validator();
    let mut tree = LoopTree::default();
    let mut reader = Reader::new(source);
    let result = (|| -> std::io::Result<()> {
        while let Some(item) = reader.next_item()? {
            match item {
                Item::Segment(s) => {
                    let r = s.as_ref();
                    match r.segment.id() {
                        b"ISA" => depth = 0,
                        b"GS" => depth = 1,
                        b"GE" => depth = 1,
                        b"IEA" => depth = 0,
                        _ => {}
                    }
                    if !r.segment.as_bytes().is_empty() {
                        line(out, depth, &r)?;
                    }
                    match r.segment.id() {
                        b"ISA" => depth = 1,
                        b"GS" => depth = 2,
                        b"GE" => depth = 1,
                        _ => {}
                    }
                }
                Item::Transaction(t) => {
                    let (guide, _) = validator.check_set(&t, &mut tree);
                    for (n, s) in t.segments().enumerate() {
                        let slot = guide.and(tree.segments.get(n)).copied();
                        let (node, loop_depth) = match slot {
                            Some(slot) => (slot.node, depth_of(&tree, slot.node)),
                            None => (NONE, 0),
                        };
                        if let (Some(g), true) = (guide, node != NONE && node != 0) {
                            let nd = tree.nodes[node as usize];
                            if nd.first_segment as usize == n {
                                let l = &g.loops[nd.loop_index as usize];
                                writeln!(
                                    out,
                                    "{:>7}  {:indent$}-- {} {}",
                                    "",
                                    "",
                                    l.id,
                                    l.name,
                                    indent = (depth + loop_depth) * 2
                                )?;
                            }
                        }
                        let last = n + 1 == t.segment_count() as usize && t.is_complete();
                        let d = if n == 0 || last {
                            depth
                        } else {
                            depth + 1 + loop_depth
                        };
                        line(out, d, &s)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    })();
    super::input::finish(path, result, 0)
}

/// How many loops deep `node` is (the transaction set itself is 0).
fn depth_of(tree: &LoopTree, node: u32) -> usize {
    let mut d = 0;
    let mut n = node;
    while n != NONE && n != 0 {
        d += 1;
        n = tree.nodes[n as usize].parent;
    }
    d
}
