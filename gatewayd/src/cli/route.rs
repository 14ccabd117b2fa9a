//! `x12 route`: where each 278 request and 837 claim of a file goes, and why — per
//! transaction, claim and service: vendor, PA type, action, rule, flags and the trace of
//! rules tried.
//!
//! JSON output is JSON Lines: one object per transaction set, `{"file", "control_number",
//! "errors", "requests"}`, each request in the form documented on
//! [`crate::route::RequestRouting`].
//!
//! The contractor table is the bundled one unless `--contractors` names another; without
//! `--eligibility` every benefit plan is unknown (`plan_unverified`); without
//! `--providers` border status falls back to the state (`border_unverified`) and provider
//! validation does not run. Exit codes: 0 when every file was routed, 2 when the table,
//! the eligibility file, the provider file or an input could not be read.

use super::input::Input;
use super::Format;
use crate::route::{
    route_each, Decision, EligibilityFile, Lookups, NoEligibility, NoPaIndex, ProviderFile,
    RequestRouting, Router, Table,
};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The reference data routing (and provider validation) read: shared by `x12 route`,
/// `x12 validate` and `x12 ack`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Options {
    /// A contractor table (TOML) replacing the bundled one.
    #[arg(long)]
    pub contractors: Option<PathBuf>,
    /// A member eligibility file (CSV: member_id,benefit_plan,from,to,dob); with it,
    /// `x12 validate` and `x12 ack` also check that each 837 claim's member is eligible
    /// on its dates of service (SNIP 7).
    #[arg(long)]
    pub eligibility: Option<PathBuf>,
    /// A provider file (CSV: npi,taxonomy,location,state,border,from,to); with it,
    /// provider checks run (SNIP 7).
    #[arg(long)]
    pub providers: Option<PathBuf>,
}

/// One JSON line: the file name and the set's routing.
#[derive(serde::Serialize)]
struct JsonSet<'a> {
    file: &'a str,
    #[serde(flatten)]
    set: &'a crate::route::SetRouting,
}

type Loaded = (Router, Option<EligibilityFile>, Option<ProviderFile>);

pub(crate) fn load(opts: &Options) -> Result<Loaded, String> {
    let table = match &opts.contractors {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            Table::parse(&text).map_err(|e| format!("{}: {e}", p.display()))?
        }
        None => Table::bundled().map_err(|e| e.to_string())?,
    };
    let eligibility = match &opts.eligibility {
        Some(p) => Some(
            EligibilityFile::load(p, &table.benefit_plans)
                .map_err(|e| format!("{}: {e}", p.display()))?,
        ),
        None => None,
    };
    let providers = match &opts.providers {
        Some(p) => Some(ProviderFile::load(p).map_err(|e| format!("{}: {e}", p.display()))?),
        None => None,
    };
    Ok((Router::new(table), eligibility, providers))
}

/// The validator of every guide, with the provider checks (SNIP 7) when `opts` names a
/// provider file and the eligibility edit (SNIP 7) when it names an eligibility file.
pub(crate) fn validator_for(opts: &Options) -> Result<x12_core::Validator, String> {
    if opts.providers.is_none() && opts.eligibility.is_none() {
        return Ok(crate::guides::validator());
    }
    let (router, eligibility, providers) = load(opts)?;
    let eligibility = eligibility.map(std::sync::Arc::new);
    let mut v = crate::guides::validator();
    if let Some(providers) = providers {
        v = crate::route::with_provider_checks(
            v,
            std::sync::Arc::new(router),
            std::sync::Arc::new(providers),
            eligibility.clone(),
        );
    }
    if let Some(e) = eligibility {
        v = crate::route::snip7::with_eligibility_checks(v, e);
    }
    Ok(v)
}

fn trace_text(d: &Decision) -> String {
    d.trace
        .iter()
        .map(|s| {
            let mark = if s.matched { "+" } else { "-" };
            format!("{mark}{}:{}", s.rule, s.key)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn decision_text(d: &Decision) -> String {
    let flags = if d.flags.is_empty() {
        String::new()
    } else {
        format!("  flags={}", d.flags.join(","))
    };
    format!(
        "{} / {}  {}  rule={} ({}){flags}",
        if d.vendor.is_empty() { "-" } else { &d.vendor },
        if d.pa_type.is_empty() {
            "-"
        } else {
            &d.pa_type
        },
        d.action.name(),
        if d.rule.is_empty() { "-" } else { &d.rule },
        d.decided_by,
    )
}

fn write_text(
    out: &mut dyn Write,
    path: &Path,
    control: &str,
    r: &RequestRouting,
) -> std::io::Result<()> {
    let trn = r
        .trace_number
        .as_deref()
        .map(|t| format!(" trn={t}"))
        .unwrap_or_default();
    writeln!(
        out,
        "{}: ST02={control} {} id={}{trn}  flags={}",
        path.display(),
        r.transaction.name(),
        r.id,
        if r.routed.flags.is_empty() {
            "-".to_string()
        } else {
            r.routed.flags.join(",")
        }
    )?;
    match &r.routed.request {
        Some(d) => {
            writeln!(out, "  request: {}", decision_text(d))?;
            writeln!(out, "    trace: {}", trace_text(d))?;
        }
        None => {
            let pass1: Vec<String> = r
                .routed
                .request_trace
                .iter()
                .map(|s| format!("-{}:{}", s.rule, s.key))
                .collect();
            writeln!(
                out,
                "  request: no request-scope rule  trace: {}",
                pass1.join(" ")
            )?;
            for l in &r.routed.lines {
                writeln!(out, "  line {}: {}", l.line, decision_text(&l.decision))?;
                writeln!(out, "    trace: {}", trace_text(&l.decision))?;
            }
        }
    }
    for (i, w) in r.work_items.iter().enumerate() {
        writeln!(
            out,
            "  work item {}: {} / {}  {}  services=[{}]  correlation={}{}",
            i + 1,
            w.vendor,
            w.pa_type,
            w.action.name(),
            w.services.join(","),
            w.correlation.bht03,
            w.correlation
                .trn
                .as_deref()
                .map(|t| format!("+{t}"))
                .unwrap_or_default()
        )?;
    }
    for f in &r.provider_findings {
        writeln!(
            out,
            "  provider check failed: {} {} {}: {}",
            f.party, f.loop_id, f.check, f.message
        )?;
    }
    if let Some(c) = &r.claim_route {
        writeln!(
            out,
            "  claim queue: {} / {}  {}  rule={}{}",
            c.vendor,
            c.pa_type,
            c.action.name(),
            c.rule,
            c.line
                .as_deref()
                .map(|l| format!(" (line {l})"))
                .unwrap_or_default()
        )?;
    }
    Ok(())
}

/// Runs the command; returns the exit code.
pub fn run(files: &[PathBuf], format: Format, opts: &Options, out: &mut dyn Write) -> i32 {
    let (router, eligibility, providers) = match load(opts) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("x12 route: {e}");
            return 2;
        }
    };
    let mut code = 0;
    for path in files {
        let (source, _progress) = match Input::for_command(path) {
            Ok(opened) => opened,
            Err(c) => {
                code = c;
                continue;
            }
        };
        let file = path.display().to_string();
        let mut write = |s: crate::route::SetRouting| -> std::io::Result<()> {
            match format {
                Format::Json => {
                    let v = JsonSet {
                        file: &file,
                        set: &s,
                    };
                    serde_json::to_writer(&mut *out, &v)?;
                    writeln!(out)
                }
                Format::Text => {
                    for r in &s.requests {
                        write_text(out, path, &s.control_number, r)?;
                    }
                    Ok(())
                }
            }
        };
        let lookups = Lookups {
            eligibility: match &eligibility {
                Some(e) => e,
                None => &NoEligibility,
            },
            pa_index: &NoPaIndex,
            providers: providers.as_ref(),
        };
        let result = route_each(&router, source, &lookups, &mut write);
        let c = super::input::finish(path, result, 0);
        if c != 0 {
            code = c;
        }
    }
    code
}
