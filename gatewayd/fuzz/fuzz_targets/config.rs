//! Fuzz target: the daemon's configuration loader on arbitrary text. It must return a
//! configuration or an error naming the key, never panic. Paths in the text are read
//! (a contractor table, an eligibility file): inputs naming the host's special files
//! (`/dev`, `/proc`, `/sys`) are skipped, as a read of `/dev/zero` never ends.
#![no_main]

use gatewayd::daemon::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if ["/dev", "/proc", "/sys"].iter().any(|p| text.contains(p)) {
        return;
    }
    let base = std::env::temp_dir().join("gatewayd-fuzz-config");
    if let Err(e) = Config::from_toml(&text, &base) {
        assert!(!e.to_string().is_empty());
    }
});
