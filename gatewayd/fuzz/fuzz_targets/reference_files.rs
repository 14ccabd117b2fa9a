//! Fuzz target: the loaders of the files an operator supplies beside the contractor
//! table: member eligibility (CSV), the provider file (CSV) and the pharmacy
//! auto-approval criteria (TOML). Each must load or fail with an error naming where,
//! never panic. The first byte picks the loader, the rest is the file.
#![no_main]

use gatewayd::pharmacy::Criteria;
use gatewayd::route::{EligibilityFile, ProviderFile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((which, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let message = match which % 3 {
        0 => {
            let plans = ["MEDICAID_DIRECT".to_string(), "MPW".to_string()];
            EligibilityFile::parse(&text, &plans).err().map(|e| e.to_string())
        }
        1 => ProviderFile::parse(&text).err().map(|e| e.to_string()),
        _ => Criteria::parse(&text).err().map(|e| e.to_string()),
    };
    if let Some(m) = message {
        assert!(!m.is_empty());
    }
});
