//! Fuzz target: the whole validation path (reader, schema engine on every guide, HL
//! checks, 837 and 278 rules, 999 and TA1 rendering, typed claim and prior-approval
//! views and their JSON, the 278 response builder) on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use x12_core::schema::{LoopRef, LoopTree};
use x12_core::{acknowledge, render_999_interchange, AckEnvelope, Item, Reader, Validator};

static VALIDATOR: LazyLock<Validator> =
    LazyLock::new(|| x12_278::register(x12_837::register(Validator::with_core_guides())));

fuzz_target!(|data: &[u8]| {
    let v = &*VALIDATOR;
    let mut tree = LoopTree::default();
    for item in Reader::new(data) {
        let Ok(Item::Transaction(set)) = item else { continue };
        let (guide, issues) = v.check_set(&set, &mut tree);
        for i in &issues {
            assert!(i.location.byte_offset <= data.len() as u64 + 1);
        }
        if let Some(g) = guide {
            let root = LoopRef::root(&set, &tree, g);
            for claim in x12_837::claims(root) {
                let _ = serde_json::to_string(&claim);
            }
            if g.id == "278REQ" {
                for event in x12_278::events(root) {
                    let _ = serde_json::to_string(&event);
                }
                let who = x12_278::Responder {
                    control_number: "0001".into(),
                    date: "20240101".into(),
                    time: "1200".into(),
                    originator: "1999999999".into(),
                    trace_prefix: "UMO".into(),
                    rejections: x12_278::rejections_for(&issues),
                };
                let _ = x12_278::respond(&set, &tree, g, &x12_278::response(), &[], &who);
            }
        }
    }
    let env = AckEnvelope { control_number: 1, date: "240101".into(), time: "1200".into() };
    if let Ok(acks) = acknowledge(data, v, false) {
        for a in &acks {
            if let Some(t) = &a.ta1 {
                let _ = t.render(&a.report, &env);
            }
            if !a.groups.is_empty() {
                let _ = render_999_interchange(&a.report, &a.groups, &env, "20240101");
            }
        }
    }
});
