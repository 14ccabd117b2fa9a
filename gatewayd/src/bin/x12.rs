//! The `x12` command-line tool.

use clap::Parser;

fn main() {
    let cli = gatewayd::cli::Cli::parse();
    std::process::exit(gatewayd::cli::run(cli));
}
