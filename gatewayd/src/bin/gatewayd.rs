//! The `gatewayd` daemon binary.
//!
//! The serving daemon (inboxes over SFTP, durable store, acknowledgments, vendor
//! queues) is not built yet; until it is, this binary says so and exits with status 2
//! rather than pretending to serve.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--version" || a == "-V") {
        println!("gatewayd {}", env!("CARGO_PKG_VERSION"));
        return;
    }
    eprintln!(
        "gatewayd {}: the daemon is not built yet; use the `x12` tool (x12 validate, x12 view, x12 ta1)",
        env!("CARGO_PKG_VERSION")
    );
    std::process::exit(2);
}
