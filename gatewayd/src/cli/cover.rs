//! `x12 cover-sheets`: a fax/mail cover sheet PDF for every PWK attachment sent on
//! paper (PWK02 = `FX` or `BM`) by the 278 requests and 837 claims of a file.
//!
//! Each transaction set is validated and routed with the contractor table (the bundled
//! one unless `--contractors` names another; benefit plans from `--eligibility` when
//! given) to find the vendor that reviews the item;
//! each sheet is written to `--out` (default: the current directory) as
//! `<control number>.pdf` (sanitized; `-<vendor>` added when an event-level attachment
//! goes to several vendors, `-2`, `-3`... when a name is already taken in this run).
//!
//! One line per paper attachment on standard output: the file written, or why none was.
//! Exit codes: 0 when every paper attachment got its sheet, 1 when one did not (no
//! control number, not routed to a reviewer, or its vendor has no fax number or
//! mailing address in the table), 2 when the table or an input could not be read or a
//! sheet could not be written.

use super::input::Input;
use crate::attachments::{cover_sheets, file_name, references, CoverSheet};
use crate::route::{route_set, Lookups, NoEligibility, NoPaIndex, Router};
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use x12_core::schema::{LoopRef, LoopTree};
use x12_core::{Item, Reader};

/// Arguments of `x12 cover-sheets`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// File of 278 requests and/or 837 claims; `-` reads standard input.
    pub file: PathBuf,
    /// Directory to write the PDFs to (created if missing).
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// A contractor table (TOML) replacing the bundled one.
    #[arg(long)]
    pub contractors: Option<PathBuf>,
    /// A member eligibility file (CSV: member_id,benefit_plan,from,to,dob): without it
    /// every benefit plan is unknown, as in `x12 route`.
    #[arg(long)]
    pub eligibility: Option<PathBuf>,
}

/// A name not yet used in this run: `stem.pdf`, else `stem-2.pdf`, `stem-3.pdf`...
fn unique(taken: &mut HashSet<String>, name: String) -> String {
    let stem = name.strip_suffix(".pdf").unwrap_or(&name).to_string();
    let mut candidate = name;
    let mut n = 2;
    while !taken.insert(candidate.clone()) {
        candidate = format!("{stem}-{n}.pdf");
        n += 1;
    }
    candidate
}

fn write_sheet(dir: &Path, name: &str, sheet: &CoverSheet) -> Result<PathBuf, String> {
    let pdf = sheet.render().map_err(|e| e.to_string())?;
    let path = dir.join(name);
    std::fs::write(&path, pdf).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// Runs the command; returns the exit code.
pub fn run(args: &Args, out: &mut dyn Write) -> i32 {
    let opts = super::route::Options {
        contractors: args.contractors.clone(),
        eligibility: args.eligibility.clone(),
        providers: None,
    };
    let (router, eligibility, _) = match super::route::load(&opts) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("x12 cover-sheets: {e}");
            return 2;
        }
    };
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("x12 cover-sheets: {}: {e}", args.out.display());
        return 2;
    }
    let (source, _progress) = match Input::for_command(&args.file) {
        Ok(opened) => opened,
        Err(c) => return c,
    };
    let mut code = 0;
    let lookups = Lookups {
        eligibility: match &eligibility {
            Some(e) => e,
            None => &NoEligibility,
        },
        pa_index: &NoPaIndex,
        providers: None,
    };
    let result = sheets(&router, &lookups, source, args, out, &mut code);
    super::input::finish(&args.file, result, code)
}

fn sheets(
    router: &Router,
    lookups: &Lookups<'_>,
    source: impl std::io::Read,
    args: &Args,
    out: &mut dyn Write,
    code: &mut i32,
) -> std::io::Result<()> {
    let validator = crate::guides::validator();
    let mut tree = LoopTree::default();
    let mut taken = HashSet::new();
    let file = args.file.display().to_string();
    for item in Reader::new(source) {
        let Item::Transaction(set) = item? else {
            continue;
        };
        let (guide, _) = validator.check_set(&set, &mut tree);
        let Some(guide) = guide else {
            continue;
        };
        let st02 = String::from_utf8_lossy(set.control_number()).into_owned();
        let refs = references(LoopRef::root(&set, &tree, guide), guide);
        let paper: Vec<_> = refs
            .iter()
            .filter(|r| r.transmission.needs_cover_sheet())
            .collect();
        if paper.is_empty() {
            continue;
        }
        let routing = route_set(router, &set, &tree, guide, lookups);
        for r in paper {
            let place = format!(
                "{file}: ST02={st02} {} {} {}{} PWK*{}*{} {}",
                match r.kind {
                    crate::attachments::ItemKind::PriorApproval => "278",
                    crate::attachments::ItemKind::Claim => "837",
                },
                r.item_number(),
                r.loop_id,
                r.line.map(|l| format!("/{l}")).unwrap_or_default(),
                r.report_type,
                r.transmission_code,
                if r.control_number.is_empty() {
                    "-"
                } else {
                    r.control_number
                },
            );
            let sheets = match cover_sheets(r, &routing, router.table()) {
                Ok(s) => s,
                Err(e) => {
                    writeln!(out, "{place}: no cover sheet: {e}")?;
                    *code = (*code).max(1);
                    continue;
                }
            };
            let several = sheets.len() > 1;
            for sheet in &sheets {
                let base = if several {
                    file_name(&format!("{}-{}", sheet.control_number, sheet.vendor_id))
                } else {
                    file_name(&sheet.control_number)
                };
                let name = unique(&mut taken, base);
                match write_sheet(&args.out, &name, sheet) {
                    Ok(path) => {
                        let to = match sheet.transmission {
                            crate::attachments::Transmission::Mail => sheet.mail.as_deref(),
                            _ => sheet.fax.as_deref(),
                        };
                        writeln!(
                            out,
                            "{place}: {} -> {}{}",
                            path.display(),
                            sheet.vendor_id,
                            to.map(|t| format!(" ({t})")).unwrap_or_default()
                        )?;
                        if !sheet.has_destination() {
                            writeln!(
                                out,
                                "{place}: warning: {} has no {} in the contractor table",
                                sheet.vendor_id,
                                match sheet.transmission {
                                    crate::attachments::Transmission::Mail => "mailing address",
                                    _ => "fax number",
                                }
                            )?;
                            *code = (*code).max(1);
                        }
                    }
                    Err(e) => {
                        eprintln!("x12 cover-sheets: {e}");
                        *code = 2;
                    }
                }
            }
        }
    }
    Ok(())
}
