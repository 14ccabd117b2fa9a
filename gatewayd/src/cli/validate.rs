//! `x12 validate`: envelope checks with located issues, as text or JSON.
//!
//! JSON contract (one object per file, one per line when several files are given):
//!
//! ```json
//! {"path": "a.x12", "valid": false, "interchanges": 1, "groups": 1, "sets": 1,
//!  "segments": 31, "issues_dropped": 0,
//!  "ta1": [{"control_number": "000000101", "date": "240315", "time": "1430", "ack": "A", "note": "000"}],
//!  "issues": [{"severity": "error", "code": "SE01_COUNT", "scope": "set", "snip": 1,
//!              "message": "SE01 says 26 segments; the set has 27 from ST to SE",
//!              "byte_offset": 812, "segment_position": 29, "set_position": 27,
//!              "segment_id": "SE", "element": 1, "control_number": "0001"}]}
//! ```
//!
//! `severity`, `code`, `message`, `segment_position`, `segment_id` and `byte_offset` are
//! always present; `element`, `component`, `repetition`, `loop`, `set_position`,
//! `control_number` and `ta1_note` appear when known.

use super::input::Input;
use super::Format;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use x12_core::{Reader, Summary, Ta1Policy};

#[derive(Serialize)]
struct FileResult<'a> {
    path: String,
    valid: bool,
    #[serde(flatten)]
    summary: &'a Summary,
}

/// How `x12 validate` checks.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Keep at most this many issues per file.
    pub max_issues: usize,
    /// Report only findings up to this WEDI SNIP level.
    pub max_snip: u8,
    /// Check envelopes only, no guide tables.
    pub envelope_only: bool,
    /// Reference data: with a provider file, the provider checks (SNIP 7) run too.
    pub reference: super::route::Options,
}

/// Checks one input with `validator` (none: envelopes only).
pub fn check(
    path: &Path,
    opts: &Options,
    validator: Option<&x12_core::Validator>,
) -> std::io::Result<Summary> {
    let input = Input::open(path)?;
    let mut summary = Summary::new(opts.max_issues, Ta1Policy::default()).max_snip(opts.max_snip);
    if let Some(v) = validator {
        summary = summary.with_validator(v.clone());
    }
    let (source, progress) = input.split();
    let mut reader = Reader::new(source);
    let result = (|| {
        while let Some(item) = reader.next_item()? {
            summary.add(&item);
        }
        Ok(())
    })();
    drop(progress);
    summary.sort();
    result.map(|()| summary)
}

/// Runs the command; returns the exit code.
pub fn run(files: &[PathBuf], format: Format, opts: &Options, out: &mut dyn Write) -> i32 {
    let validator = if opts.envelope_only {
        None
    } else {
        match super::route::validator_for(&opts.reference) {
            Ok(v) => Some(v),
            Err(e) => {
                eprintln!("x12 validate: {e}");
                return 2;
            }
        }
    };
    let mut code = 0;
    for path in files {
        let summary = match check(path, opts, validator.as_ref()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("x12: {}: {e}", path.display());
                code = 2;
                continue;
            }
        };
        if !summary.is_valid() && code == 0 {
            code = 1;
        }
        let written = match format {
            Format::Json => write_json(path, &summary, out),
            Format::Text => write_text(path, &summary, out),
        };
        if written.is_err() {
            return 2;
        }
    }
    code
}

fn write_json(path: &Path, summary: &Summary, out: &mut dyn Write) -> std::io::Result<()> {
    let r = FileResult {
        path: path.display().to_string(),
        valid: summary.is_valid(),
        summary,
    };
    serde_json::to_writer(&mut *out, &r)?;
    writeln!(out)
}

fn write_text(path: &Path, s: &Summary, out: &mut dyn Write) -> std::io::Result<()> {
    let p = path.display();
    for i in &s.issues {
        let l = &i.location;
        let mut at = format!("segment {}", l.segment_position);
        if !l.segment_id.is_empty() {
            at.push(' ');
            at.push_str(&l.segment_id);
            if let Some(e) = l.element {
                at.push_str(&format!("{e:02}"));
                if let Some(c) = l.component {
                    at.push_str(&format!("-{c}"));
                }
            }
        }
        if let Some(c) = &l.control_number {
            at.push_str(&format!(", control number {c}"));
        }
        if let Some(lp) = &l.loop_id {
            at.push_str(&format!(" in loop {lp}"));
        }
        writeln!(
            out,
            "{p}: {}: {} at {at} (byte {}): {}",
            i.severity, i.code, l.byte_offset, i.message
        )?;
        if let Some(ex) = &l.excerpt {
            write_snippet(out, l.segment_position, ex, l.span)?;
        }
    }
    if s.issues_dropped > 0 {
        writeln!(out, "{p}: {} more issue(s) not shown", s.issues_dropped)?;
    }
    let verdict = if s.is_valid() { "valid" } else { "INVALID" };
    writeln!(
        out,
        "{p}: {verdict}: {} interchange(s), {} group(s), {} transaction set(s), {} segment(s), {} error(s), {} warning(s)",
        s.interchanges,
        s.groups,
        s.sets,
        s.segments,
        s.error_count(),
        s.issues.iter().filter(|i| !i.is_error()).count()
    )
}

/// The segment under the finding, with a caret under the element:
///
/// ```text
///      21 | CLM*PFP0001*150***11:X:1*Y*A*Y*Y
///         |                      ^
/// ```
fn write_snippet(
    out: &mut dyn Write,
    position: u64,
    excerpt: &str,
    span: Option<(u32, u32)>,
) -> std::io::Result<()> {
    const WIDTH: usize = 100;
    let chars: Vec<char> = excerpt
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    let (start, end) = span.map_or((0, 0), |(a, b)| (a as usize, b as usize));
    let from = start.saturating_sub(WIDTH - 20);
    let to = chars.len().min(from + WIDTH);
    let shown: String = chars[from.min(to)..to].iter().collect();
    let more = if to < chars.len() { "..." } else { "" };
    let lead = if from > 0 { "..." } else { "" };
    writeln!(out, "{position:>8} | {lead}{shown}{more}")?;
    if span.is_some() {
        let pad = lead.len() + start.saturating_sub(from);
        let width = end.saturating_sub(start).clamp(1, WIDTH);
        writeln!(out, "{:>8} | {}{}", "", " ".repeat(pad), "^".repeat(width))?;
    }
    Ok(())
}
