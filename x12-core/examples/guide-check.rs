//! Reads guide table files and reports the first error in each, or their counts.
//!
//! `cargo run -q -p x12-core --example guide-check -- FILE...`

fn main() {
    let mut failed = false;
    for path in std::env::args().skip(1) {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{path}: {e}");
                failed = true;
                continue;
            }
        };
        match x12_core::schema::parse_guide(&path, &text) {
            Ok(g) => {
                let (l, s, e) = g.counts();
                println!(
                    "{path}: {} {}: {l} loops, {s} segments, {e} elements",
                    g.id, g.version
                );
            }
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    std::process::exit(i32::from(failed));
}
