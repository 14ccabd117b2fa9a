//! Fuzz target: the contractor-table loader on arbitrary text. It must return a table
//! (which then compiles into a router) or an error naming the rule and key, never panic.
#![no_main]

use gatewayd::route::{Router, Table};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match Table::parse(&text) {
        Ok(table) => {
            let _ = Router::new(table);
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
