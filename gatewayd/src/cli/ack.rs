//! `x12 ack`: the acknowledgments a gateway would send back for a file: a TA1
//! interchange where one is due, and a 999 interchange for each interchange's groups.

use super::input::Input;
use crate::clock::Stamp;
use std::io::Write;
use std::path::Path;
use x12_core::{acknowledge, render_999_interchange, AckEnvelope};

/// Runs the command; returns the exit code (1 when anything was rejected).
pub fn run(
    path: &Path,
    first_control: u32,
    reference: &super::route::Options,
    out: &mut dyn Write,
) -> i32 {
    let validator = match super::route::validator_for(reference) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("x12 ack: {e}");
            return 2;
        }
    };
    let (source, _progress) = match Input::for_command(path) {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let acks = match acknowledge(source, &validator, false) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("x12: {}: {e}", path.display());
            return 2;
        }
    };
    let now = Stamp::now();
    let mut control = first_control;
    let mut next = || {
        let c = control;
        control = if control >= 999_999_999 {
            1
        } else {
            control + 1
        };
        AckEnvelope {
            control_number: c,
            date: now.yymmdd(),
            time: now.hhmm(),
        }
    };
    let mut code = 0;
    let result = (|| -> std::io::Result<()> {
        for a in &acks {
            if let (Some(ta1), true) = (&a.ta1, a.ta1_due) {
                if ta1.ack != x12_core::Ta1Ack::Accepted {
                    code = 1;
                }
                let bytes = ta1
                    .render(&a.report, &next())
                    .map_err(std::io::Error::other)?;
                out.write_all(&bytes)?;
                out.write_all(b"\n")?;
            }
            if a.ta1.is_none() {
                for i in &a.report.issues {
                    eprintln!("x12: {}: {i}", path.display());
                }
                code = 1;
            }
            if !a.groups.is_empty() {
                if a.groups.iter().any(|g| g.status.code() != "A") {
                    code = 1;
                }
                let bytes = render_999_interchange(&a.report, &a.groups, &next(), &now.ccyymmdd())
                    .map_err(std::io::Error::other)?;
                out.write_all(&bytes)?;
                out.write_all(b"\n")?;
            }
        }
        Ok(())
    })();
    super::input::finish(path, result, code)
}
