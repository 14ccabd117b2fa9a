//! Fuzz target: the guide-table parser on arbitrary text. It must return a guide or
//! an error naming a line, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Err(e) = x12_core::schema::parse_guide("fuzz.guide", &text) {
        assert!(e.line >= 1);
    }
});
