//! `x12 ack`: the acknowledgments a gateway would send back for a file: a TA1
//! interchange where one is due, and a 999 interchange for each interchange's groups;
//! with `--277ca`, a 277CA interchange for each accepted 837 group after them.

use super::input::Input;
use crate::clock::Stamp;
use std::io::{Read, Write};
use std::path::Path;
use x12_837::ack277::{render_277ca_interchange, Ack277, Ack277Options, ClaimSequence};
use x12_core::schema::{LoopRef, LoopTree};
use x12_core::{
    acknowledge, render_999_interchange, Ack999, AckCode, AckEnvelope, AckPolicy, InterchangeAcks,
    Item, Reader, Ta1, Ta1Policy, Validator,
};

/// What `x12 ack` prints besides the TA1 and 999.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Print a 277CA for every 837 group the 999 accepted (fully, partly or with
    /// errors); provider findings (SNIP 7) then reject the claim in the 277CA instead of
    /// the whole set in the 999.
    pub claim_ack: bool,
    /// SNIP levels whose errors only mark a set accepted with errors in the 999 (and,
    /// with `claim_ack`, reject the claims they are in).
    pub accept_with_errors: Vec<u8>,
}

/// Runs the command; returns the exit code (1 when anything was rejected).
pub fn run(
    path: &Path,
    first_control: u32,
    reference: &super::route::Options,
    options: &Options,
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
    let now = Stamp::now();
    let plain = !options.claim_ack && options.accept_with_errors.is_empty();
    let acks = if plain {
        acknowledge(source, &validator, false).map(|a| {
            a.into_iter()
                .map(|a| (a, Vec::new()))
                .collect::<Vec<(InterchangeAcks, Vec<Group277>)>>()
        })
    } else {
        let mut policy = AckPolicy {
            accept_with_errors: options.accept_with_errors.clone(),
        };
        if options.claim_ack && !policy.accept_with_errors.contains(&7) {
            policy.accept_with_errors.push(7);
        }
        acknowledge_with_277(source, &validator, &policy, options.claim_ack, &now)
    };
    let acks = match acks {
        Ok(a) => a,
        Err(e) => {
            eprintln!("x12: {}: {e}", path.display());
            return 2;
        }
    };
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
        for (a, claim_acks) in &acks {
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
            for g in claim_acks {
                if g.sets.iter().any(|s| s.claims().any(|c| !c.accepted)) {
                    code = 1;
                }
                let bytes = render_277ca_interchange(
                    &a.report,
                    (&g.sender, &g.receiver),
                    &g.sets,
                    &next(),
                    &now.ccyymmdd(),
                )
                .map_err(std::io::Error::other)?;
                out.write_all(&bytes)?;
                out.write_all(b"\n")?;
            }
        }
        Ok(())
    })();
    super::input::finish(path, result, code)
}

/// The 277CA sets answering one accepted 837 group.
struct Group277 {
    /// GS02 of the 837 group.
    sender: String,
    /// GS03 of the 837 group.
    receiver: String,
    /// One 277CA per accepted 837 set.
    sets: Vec<Ack277>,
}

/// [`acknowledge`] with a 999 policy of our own and, when `claim_ack`, a 277CA for each
/// 837 set the 999 accepts (in groups it does not reject).
fn acknowledge_with_277(
    source: impl Read,
    validator: &Validator,
    policy: &AckPolicy,
    claim_ack: bool,
    now: &Stamp,
) -> std::io::Result<Vec<(InterchangeAcks, Vec<Group277>)>> {
    let mut out = Vec::new();
    let mut groups = Vec::new();
    let mut groups_277 = Vec::new();
    let mut current: Option<Ack999> = None;
    let mut current_277: Vec<Ack277> = Vec::new();
    let mut tree = LoopTree::default();
    let strict = AckPolicy::default();
    let date = now.ccyymmdd();
    let opts = Ack277Options::dated(&date, &now.hhmm());
    // payer claim control numbers: the date and a counter (a dry run, like the
    // pharmacy command's authorization numbers; the daemon persists its own sequence)
    let mut numbers = ClaimSequence::new(&date[2..], 1);
    for item in Reader::new(source) {
        match item? {
            Item::Transaction(set) => {
                let (guide, issues) = validator.check_set(&set, &mut tree);
                let ack = current.get_or_insert_with(|| Ack999::new(set.group().map(|g| &**g)));
                // as the daemon does: with a 277CA to follow, a set is accepted with errors
                // only when every such error concerns a claim the 277CA can reject
                let root = guide.map(|g| LoopRef::root(&set, &tree, g));
                let claims_carry = !claim_ack
                    || crate::daemon::claimack::accepts_with_errors(
                        &policy.accept_with_errors,
                        root,
                        &issues,
                    );
                ack.add_set(&set, &issues, if claims_carry { policy } else { &strict });
                let passed = ack
                    .sets
                    .last()
                    .is_some_and(|s| s.status != AckCode::Rejected);
                let claims = guide.filter(|g| x12_837::kind_of(g.version.as_bytes()).is_some());
                if let (true, true, Some(guide)) = (claim_ack, passed, claims) {
                    let root = LoopRef::root(&set, &tree, guide);
                    match Ack277::build(root, &issues, &opts, &mut numbers) {
                        Ok(a) => current_277.push(a),
                        Err(e) => eprintln!("x12 ack: no 277CA for a set: {e}"),
                    }
                }
            }
            Item::GroupEnd(report) => {
                let ack = current
                    .take()
                    .unwrap_or_else(|| Ack999::new(report.header.as_deref()));
                let sets = std::mem::take(&mut current_277);
                let is_ack = report
                    .header
                    .as_ref()
                    .is_some_and(|h| h.functional_id() == b"FA");
                if is_ack {
                    continue;
                }
                let ack = ack.finish(&report);
                if ack.status != AckCode::Rejected && !sets.is_empty() {
                    let f =
                        |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or(b"")).into_owned();
                    let h = report.header.as_deref();
                    groups_277.push(Group277 {
                        sender: f(h.map(|h| h.sender())),
                        receiver: f(h.map(|h| h.receiver())),
                        sets,
                    });
                }
                groups.push(ack);
            }
            Item::InterchangeEnd(report) => {
                let ta1 = Ta1::from_report(&report, false, &Ta1Policy::default());
                let ta1_due = ta1.as_ref().is_some_and(|t| t.is_due(&report));
                out.push((
                    InterchangeAcks {
                        report,
                        ta1,
                        ta1_due,
                        groups: std::mem::take(&mut groups),
                    },
                    std::mem::take(&mut groups_277),
                ));
            }
            Item::Segment(_) => {}
        }
    }
    Ok(out)
}
