//! `x12 pharmacy`: decides the 278 pharmacy requests of a file against the auto-approval
//! criteria ([`crate::pharmacy`]) and prints, per transaction set, each service's
//! decision and the 278 response.
//!
//! Authorization numbers come from an in-memory sequence starting at
//! `--first-sequence`: the command is a dry run, nothing is persisted, and the same
//! numbers come out on every run. Exit codes: 0 when every set was decided, 1 when a
//! set was skipped (not a 278 request, or it has validation errors), 2 for usage, I/O
//! and criteria-file errors.

use super::input::Input;
use crate::pharmacy::{self, Criteria, MemorySequence, NumberFormat};
use std::io::Write;
use std::path::{Path, PathBuf};
use x12_278::Responder;
use x12_core::schema::LoopTree;
use x12_core::{Item, Reader};

/// Arguments of `x12 pharmacy`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// File of 278 requests; `-` reads standard input.
    pub file: PathBuf,
    /// A criteria file (TOML) replacing the bundled one.
    #[arg(long)]
    pub criteria: Option<PathBuf>,
    /// First value of the (in-memory, dry-run) authorization sequence.
    #[arg(long, default_value_t = 1)]
    pub first_sequence: u64,
}

/// Runs the command; returns the exit code.
pub fn run(args: &Args, out: &mut dyn Write) -> i32 {
    let criteria = match Criteria::load_or_bundled(args.criteria.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("x12: {e}");
            return 2;
        }
    };
    let (source, _progress) = match Input::for_command(&args.file) {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let mut sequence = MemorySequence::starting_at(args.first_sequence);
    let validator = crate::guides::validator();
    let mut tree = LoopTree::default();
    let now = crate::clock::Stamp::now();
    let mut code = 0;
    let result = (|| -> std::io::Result<()> {
        let mut sets = 0u32;
        for item in Reader::new(source) {
            let Item::Transaction(set) = item? else {
                continue;
            };
            let control = String::from_utf8_lossy(set.control_number()).into_owned();
            let (guide, issues) = validator.check_set(&set, &mut tree);
            let errors = issues.iter().filter(|i| i.is_error()).count();
            let Some(guide) = guide.filter(|g| g.id == "278REQ" && errors == 0) else {
                writeln!(
                    out,
                    "ST {control}: skipped (not a valid 278 request: {errors} error(s))"
                )?;
                code = 1;
                continue;
            };
            sets += 1;
            let who = Responder {
                control_number: format!("{sets:04}"),
                date: now.ccyymmdd(),
                time: now.hhmm(),
                originator: "1560000000".into(),
                trace_prefix: "RX".into(),
                rejections: Vec::new(),
            };
            let r = match pharmacy::respond(
                &set,
                &tree,
                guide,
                &criteria,
                &mut sequence,
                &NumberFormat::default(),
                &who,
            ) {
                Ok(r) => r,
                Err(e) => {
                    writeln!(out, "ST {control}: no response: {e}")?;
                    code = 1;
                    continue;
                }
            };
            write_decisions(&control, &r, out)?;
            let text = String::from_utf8_lossy(&r.set).replace('~', "~\n");
            write!(out, "{text}")?;
        }
        Ok(())
    })();
    super::input::finish(Path::new(&args.file), result, code)
}

fn write_decisions(
    control: &str,
    r: &pharmacy::PharmacyResponse,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let mut numbers = r.authorizations.iter();
    for (e, event) in r.outcomes.iter().enumerate() {
        for f in &event.failures {
            writeln!(out, "ST {control} event {}: pended: {f}", e + 1)?;
        }
        for (s, service) in event.services.iter().enumerate() {
            let ndc = service.ndc.as_deref().unwrap_or("-");
            let class = service.class.as_deref().unwrap_or("-");
            write!(
                out,
                "ST {control} event {} service {}: NDC {ndc} class {class}: ",
                e + 1,
                s + 1
            )?;
            if service.is_met() {
                let number = numbers.next().map_or("-", String::as_str);
                write!(out, "certified (A1), authorization {number}")?;
                if let Some((from, to)) = service.period {
                    write!(out, ", {from} to {to}")?;
                }
                writeln!(out)?;
            } else {
                let failed: Vec<String> = service.failures.iter().map(|f| f.to_string()).collect();
                writeln!(out, "pended for CSRA review (A4): {}", failed.join("; "))?;
            }
        }
    }
    Ok(())
}
