//! The `gatewayd` daemon binary: `gatewayd [serve] [--config PATH]`.
//!
//! With no config file it runs on the embedded defaults (data dir `./var`, partner
//! `demo` with `./var/partners/demo/{inbox,outbox}`, the bundled contractor table,
//! HTTP on 127.0.0.1:8080). Exit status: 0 after SIGTERM, 2 for a refused
//! configuration or a failure to start, 1 for an error while serving.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// The ncx12 gateway daemon: partner inboxes in, TA1/999 and vendor queues out.
#[derive(Debug, Parser)]
#[command(name = "gatewayd", version, about)]
struct Cli {
    /// What to do (default: serve on the embedded defaults).
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve: watch the partner inboxes, acknowledge, route, serve the HTTP API.
    Serve {
        /// The configuration file (TOML; see gatewayd.example.toml). Without it the
        /// embedded defaults apply.
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
    },
}

fn main() {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("GATEWAYD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let config = match cli.command {
        None | Some(Command::Serve { config: None }) => {
            gatewayd::daemon::config::Config::embedded()
        }
        Some(Command::Serve { config: Some(path) }) => {
            gatewayd::daemon::config::Config::load(&path)
        }
    };
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gatewayd: {e}");
            std::process::exit(2);
        }
    };
    match gatewayd::daemon::run(config) {
        Ok(()) => {}
        Err(e @ gatewayd::daemon::DaemonError::Runtime(_))
        | Err(e @ gatewayd::daemon::DaemonError::PipelineThread) => {
            eprintln!("gatewayd: {e}");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("gatewayd: {e}");
            std::process::exit(2);
        }
    }
}
