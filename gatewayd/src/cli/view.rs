//! `x12 view`: one segment per line, indented by envelope level, with positions.

use super::input::Input;
use std::io::Write;
use std::path::Path;
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
    let input = match Input::open(path) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("x12: {}: {e}", path.display());
            return 2;
        }
    };
    let mut depth = 0usize;
    let (source, _progress) = input.split();
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
                    for (n, s) in t.segments().enumerate() {
                        let last = n + 1 == t.segment_count() as usize && t.is_complete();
                        let d = if n == 0 || last { depth } else { depth + 1 };
                        line(out, d, &s)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    })();
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("x12: {}: {e}", path.display());
            2
        }
    }
}
