//! The `gatewayd` daemon binary: `gatewayd [serve] [--config PATH]`, and
//! `gatewayd sftp-setup [--config PATH] [--root /srv/sftp]` to print the OpenSSH setup
//! of the partners' chrooted SFTP users, and `gatewayd dev-cert --out DIR` to write a
//! self-signed development certificate for HTTPS.
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
    /// Print the OpenSSH setup for the configured partners: sshd_config `Match User`
    /// blocks (chroot, internal-sftp, no forwarding), the commands that create users,
    /// folders and key files, and the inbox/outbox keys for the config. Changes nothing.
    SftpSetup {
        /// The configuration file (default: the embedded defaults).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        /// The folder holding one chroot per partner.
        #[arg(long, value_name = "DIR", default_value = "/srv/sftp")]
        root: PathBuf,
        /// The folder of the partners' authorized keys files (one per partner id).
        #[arg(long, value_name = "DIR", default_value = "/etc/ssh/authorized_keys")]
        keys_dir: PathBuf,
        /// The user gatewayd runs as (added to each partner's group).
        #[arg(long, value_name = "USER", default_value = "gatewayd")]
        service_user: String,
        /// What to print: all, sshd (the sshd_config lines) or commands.
        #[arg(long, value_name = "PART", default_value = "all")]
        print: String,
    },
    /// Write a self-signed development certificate (DIR/cert.pem) and its key
    /// (DIR/key.pem, mode 0600) for `http.tls_cert` / `http.tls_key`. For tests and
    /// local trials only: never commit one, never use one in production.
    DevCert {
        /// The folder to write to.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// The names the certificate is for (DNS names or IP addresses).
        #[arg(long = "name", value_name = "NAME", default_values = ["localhost", "127.0.0.1"])]
        names: Vec<String>,
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
    let load = |path: Option<PathBuf>| {
        let config = match path {
            None => gatewayd::daemon::config::Config::embedded(),
            Some(path) => gatewayd::daemon::config::Config::load(&path),
        };
        match config {
            Ok(c) => c,
            Err(e) => {
                eprintln!("gatewayd: {e}");
                std::process::exit(2);
            }
        }
    };
    let config = match cli.command {
        None => load(None),
        Some(Command::Serve { config }) => load(config),
        Some(Command::SftpSetup {
            config,
            root,
            keys_dir,
            service_user,
            print,
        }) => {
            use gatewayd::daemon::sftp;
            let part = match print.as_str() {
                "all" => sftp::Part::All,
                "sshd" => sftp::Part::Sshd,
                "commands" => sftp::Part::Commands,
                other => {
                    eprintln!("gatewayd: --print {other}: expected all, sshd or commands");
                    std::process::exit(2);
                }
            };
            let ok_user = !service_user.is_empty()
                && service_user
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !ok_user || !root.is_absolute() || !keys_dir.is_absolute() {
                eprintln!(
                    "gatewayd: --root and --keys-dir must be absolute paths and --service-user a user name"
                );
                std::process::exit(2);
            }
            let opts = sftp::SetupOptions {
                root,
                keys_dir,
                service_user,
            };
            print!("{}", sftp::setup(&load(config), &opts, part));
            return;
        }
        Some(Command::DevCert { out, names }) => {
            match gatewayd::daemon::tls::dev_cert(&out, &names) {
                Ok((cert, key)) => {
                    println!("{}\n{}", cert.display(), key.display());
                    return;
                }
                Err(e) => {
                    eprintln!("gatewayd: {e}");
                    std::process::exit(2);
                }
            }
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
