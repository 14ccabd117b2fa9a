//! Checks of identifiers and addresses that every HIPAA guide shares (SNIP 5), for the
//! guides' rule sets to call.

use super::locate::At;
use super::model::{id_key, Guide};
use super::tree::{LoopTree, NONE};
use super::view::text;
use crate::codesets;
use crate::envelope::TransactionSet;
use crate::issue::{Code, Issue};

/// SNIP 5 checks every HIPAA guide shares: every NM1 with NM108 = XX carries an NPI
/// with a valid check digit; every PRV03 is a NUCC taxonomy code and every US N402 a
/// state code (where the table does not already name the code set); every US N403 is a
/// 5- or 9-digit ZIP code.
pub fn check_identifiers(
    guide: &Guide,
    set: &TransactionSet,
    tree: &LoopTree,
    issues: &mut Vec<Issue>,
) {
    let at = |index: u32| At::new(set, tree, guide, index);
    let (nm1, prv, n4) = (id_key(b"NM1"), id_key(b"PRV"), id_key(b"N4"));
    for index in 0..tree.segments.len() as u32 {
        let slot = &tree.segments[index as usize];
        let (def, key) = (slot.def, slot.key);
        if def == NONE || key != nm1 && key != prv && key != n4 {
            continue;
        }
        let seg = tree.segment(set, index);
        match seg.id() {
            b"NM1" if seg.get(8) == b"XX" => {
                let npi = seg.get(9);
                if !codesets::npi_valid(npi) {
                    let at = at(index);
                    let loop_id = at.loop_id().unwrap_or("").to_string();
                    issues.push(at.element(9, None, "67", "I12", Some(npi)).issue(
                        Code::CodeSet,
                        5,
                        format!(
                            "{loop_id} NM109 {} NPI {} fails the check digit",
                            entity_name(seg.get(1)),
                            text(npi)
                        ),
                    ));
                }
            }
            b"PRV" => {
                let t = seg.get(3);
                let table_checks = guide.segments[def as usize]
                    .element(3)
                    .is_some_and(|e| e.code_set.is_some());
                if !t.is_empty() && !table_checks && !codesets::taxonomy_shape(t) {
                    let at = at(index);
                    let loop_id = at.loop_id().unwrap_or("").to_string();
                    issues.push(at.element(3, None, "127", "I12", Some(t)).issue(
                        Code::CodeSet,
                        5,
                        format!("{loop_id} PRV03 {:?} is not a NUCC taxonomy code (10 characters ending in X)", text(t)),
                    ));
                }
            }
            b"N4" => {
                let (state, zip, country) = (seg.get(2), seg.get(3), seg.get(4));
                // the tables mark most state elements {states}; check the others here
                let table_checks_state = guide.segments[def as usize]
                    .element(2)
                    .is_some_and(|e| e.code_set.is_some());
                if (country.is_empty() || country == b"US")
                    && !table_checks_state
                    && !state.is_empty()
                    && !codesets::state(state)
                {
                    let at = at(index);
                    let loop_id = at.loop_id().unwrap_or("").to_string();
                    issues.push(at.element(2, None, "156", "I12", Some(state)).issue(
                        Code::CodeSet,
                        5,
                        format!("{loop_id} N402 {:?} is not a US state code", text(state)),
                    ));
                }
                if (country.is_empty() || country == b"US")
                    && !zip.is_empty()
                    && !codesets::zip(zip)
                {
                    let at = at(index);
                    let loop_id = at.loop_id().unwrap_or("").to_string();
                    issues.push(at.element(3, None, "116", "I12", Some(zip)).issue(
                        Code::CodeSet,
                        5,
                        format!(
                            "{loop_id} N403 {:?} is not a 5- or 9-digit ZIP code",
                            text(zip)
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
}

fn entity_name(code: &[u8]) -> &'static str {
    match code {
        b"85" => "billing provider",
        b"87" => "pay-to provider",
        b"82" => "rendering provider",
        b"77" => "service facility",
        b"DN" | b"P3" => "referring provider",
        b"DQ" => "supervising provider",
        b"71" => "attending provider",
        b"72" => "operating physician",
        b"ZZ" => "other operating physician",
        b"DD" => "assistant surgeon",
        b"QB" => "purchased service provider",
        _ => "provider",
    }
}
