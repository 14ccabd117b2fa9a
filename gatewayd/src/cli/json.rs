//! `x12 json`: the typed views of a file as JSON, one object per transaction set
//! (JSON Lines): its envelope, the guide used, for 837s every claim in the stable form
//! documented on `x12_837::Claim`, and for 278 requests every patient event with its
//! services (`x12_278::Event`).

use super::input::Input;
use serde_json::json;
use std::io::Write;
use std::path::Path;
use x12_core::schema::{LoopRef, LoopTree};
use x12_core::{Item, Reader};

/// Runs the command; returns the exit code.
pub fn run(path: &Path, out: &mut dyn Write) -> i32 {
    let (source, _progress) = match Input::for_command(path) {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let validator = crate::guides::validator();
    let mut tree = LoopTree::default();
    let mut code = 0;
    let result = (|| -> std::io::Result<()> {
        for item in Reader::new(source) {
            let Item::Transaction(set) = item? else {
                continue;
            };
            let (guide, issues) = validator.check_set(&set, &mut tree);
            let errors = issues.iter().filter(|i| i.is_error()).count();
            if errors > 0 {
                code = 1;
            }
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            let mut v = json!({
                "transaction_set": text(set.id()),
                "control_number": text(set.control_number()),
                "version": text(set.version()),
                "guide": guide.map(|g| format!("{} {}", g.id, g.version)),
                "interchange_control_number": set.interchange().map(|h| text(h.control_number())),
                "group_control_number": set.group().map(|g| text(g.control_number())),
                "errors": errors,
            });
            if let Some(g) = guide {
                let root = LoopRef::root(&set, &tree, g);
                if set.id() == b"837" {
                    let claims: Vec<_> = x12_837::claims(root).collect();
                    v["claims"] = serde_json::to_value(&claims).map_err(std::io::Error::other)?;
                } else if g.id == "278REQ" {
                    let events: Vec<_> = x12_278::events(root).collect();
                    v["events"] = serde_json::to_value(&events).map_err(std::io::Error::other)?;
                }
            }
            serde_json::to_writer(&mut *out, &v)?;
            writeln!(out)?;
        }
        Ok(())
    })();
    super::input::finish(path, result, code)
}
