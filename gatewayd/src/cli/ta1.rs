//! `x12 ta1`: the TA1 acknowledgment interchange for each interchange of a file.

use super::input::Input;
use crate::clock::Stamp;
use std::io::Write;
use std::path::Path;
use x12_core::{AckEnvelope, Item, Reader, Ta1, Ta1Policy};

/// Runs the command; returns the exit code (1 when any interchange is rejected).
pub fn run(path: &Path, first_control: u32, only_due: bool, out: &mut dyn Write) -> i32 {
    let (source, _progress) = match Input::for_command(path) {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let now = Stamp::now();
    let mut control = first_control;
    let mut code = 0;
    let mut reader = Reader::new(source);
    let policy = Ta1Policy::default();
    let result = (|| -> std::io::Result<()> {
        while let Some(item) = reader.next_item()? {
            let Item::InterchangeEnd(report) = item else {
                continue;
            };
            let Some(ta1) = Ta1::from_report(&report, false, &policy) else {
                for i in &report.issues {
                    eprintln!("x12: {}: {i}", path.display());
                }
                code = 1;
                continue;
            };
            if ta1.ack != x12_core::Ta1Ack::Accepted {
                code = 1;
            }
            if only_due && !ta1.is_due(&report) {
                continue;
            }
            let env = AckEnvelope {
                control_number: control,
                date: now.yymmdd(),
                time: now.hhmm(),
            };
            control = if control >= 999_999_999 {
                1
            } else {
                control + 1
            };
            let bytes = ta1.render(&report, &env).map_err(std::io::Error::other)?;
            out.write_all(&bytes)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    })();
    super::input::finish(path, result, code)
}
