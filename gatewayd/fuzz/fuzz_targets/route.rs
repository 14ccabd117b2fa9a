//! Fuzz target: routing and the gateway's own answers on arbitrary bytes: the reader,
//! the validator with every guide, feature extraction from the 278 and 837 views, the
//! bundled contractor table, 278 splitting, decisions as JSON, and pharmacy
//! auto-approval decisions. Never a panic, whatever the input.
#![no_main]

use gatewayd::pharmacy::{decide, Criteria};
use gatewayd::route::{route_set, Lookups, Router, Table};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use x12_core::schema::{LoopRef, LoopTree};
use x12_core::{Item, Reader, Validator};

static VALIDATOR: LazyLock<Validator> = LazyLock::new(gatewayd::guides::validator);
static ROUTER: LazyLock<Option<Router>> =
    LazyLock::new(|| Table::bundled().ok().map(Router::new));
static CRITERIA: LazyLock<Option<Criteria>> = LazyLock::new(|| Criteria::bundled().ok());

fuzz_target!(|data: &[u8]| {
    let (Some(router), Some(criteria)) = (ROUTER.as_ref(), CRITERIA.as_ref()) else {
        return;
    };
    let lookups = Lookups::default();
    let mut tree = LoopTree::default();
    for item in Reader::new(data) {
        let Ok(Item::Transaction(set)) = item else {
            continue;
        };
        let (guide, _) = VALIDATOR.check_set(&set, &mut tree);
        let Some(guide) = guide else { continue };
        for r in route_set(router, &set, &tree, guide, &lookups) {
            let _ = serde_json::to_string(&r);
        }
        let root = LoopRef::root(&set, &tree, guide);
        if guide.id == "278REQ" {
            for e in x12_278::events(root) {
                let _ = serde_json::to_string(&e);
            }
            let _ = decide(criteria, root);
        }
    }
});
