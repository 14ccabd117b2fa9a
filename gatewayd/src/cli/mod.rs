//! The `x12` command-line tool: argument definitions and one module per command.
//!
//! Exit codes are part of the contract: 0 when every file is valid, 1 when any file has
//! errors, 2 for usage and I/O errors.

pub mod ack;
pub mod cover;
pub mod input;
pub mod json;
pub mod pharmacy;
pub mod route;
pub mod ta1;
pub mod validate;
pub mod view;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Validate, view and acknowledge ASC X12 (HIPAA 5010) files.
#[derive(Debug, Parser)]
#[command(name = "x12", version, about)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Output formats of `x12 validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One line per issue, for people.
    Text,
    /// One JSON object per file (JSON Lines when several files are given).
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check files: envelopes (ISA/IEA, GS/GE, ST/SE), the guide tables (SNIP 1-2) and the
    /// guides' rules (SNIP 3-5); with a provider file, the provider checks (SNIP 7).
    Validate {
        /// Files to check; `-` reads standard input.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Keep at most this many issues per file (the rest are counted).
        #[arg(long, default_value_t = 10_000)]
        max_issues: usize,
        /// Check only the envelopes (ISA/IEA, GS/GE, ST/SE), not the guides.
        #[arg(long)]
        envelope_only: bool,
        /// Report only findings of WEDI SNIP levels up to this one (1-7).
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u8).range(1..=7))]
        max_snip: u8,
        /// Reference data for the provider checks (SNIP 7).
        #[command(flatten)]
        reference: route::Options,
    },
    /// Print one segment per line, indented by envelope level, with its position.
    View {
        /// File to show; `-` reads standard input.
        file: PathBuf,
    },
    /// Print the acknowledgments for a file: a TA1 where one is due, and a 999 for
    /// each interchange's functional groups; with `--277ca`, a 277CA claim
    /// acknowledgment for each 837 group the 999 accepted.
    Ack {
        /// File to acknowledge; `-` reads standard input.
        file: PathBuf,
        /// Interchange control number of the first acknowledgment (ISA13).
        #[arg(long, default_value_t = 1)]
        control_number: u32,
        /// After the 999, print a 277CA (005010X214) for each 837 group it accepted:
        /// every claim accepted into adjudication (A2, with a payer claim control
        /// number) or rejected (A3/A6/A7/A8 with status and entity codes). Provider
        /// findings (SNIP 7) then reject the claim, not the set.
        #[arg(long = "277ca")]
        claim_ack: bool,
        /// SNIP levels (1-7, comma-separated) whose errors mark a set accepted with
        /// errors (IK5 E) instead of rejected; with `--277ca` they reject the claim.
        #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u8).range(1..=7))]
        accept_with_errors: Vec<u8>,
        /// Reference data for the provider checks (SNIP 7), reported in the 999.
        #[command(flatten)]
        reference: route::Options,
    },
    /// Print each transaction set as JSON (JSON Lines): envelope, guide, for 837s every
    /// claim with its providers, subscriber, patient, diagnoses and lines, for 278
    /// requests every patient event with its services.
    Json {
        /// File to read; `-` reads standard input.
        file: PathBuf,
    },
    /// Route 278 requests and 837 claims by the contractor table: per transaction, claim
    /// and service the vendor, PA type, action, rule, flags and trace.
    Route {
        /// Files to route; `-` reads standard input.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// The contractor table, eligibility and provider files.
        #[command(flatten)]
        reference: route::Options,
    },
    /// Decide 278 pharmacy requests against the auto-approval criteria: per service
    /// certified (A1, with an authorization number) or pended for CSRA review (A4, with
    /// the failed criteria), and the 278 response. Numbers are a dry run.
    Pharmacy(pharmacy::Args),
    /// Write a fax/mail cover sheet PDF for every attachment that 278 requests and 837
    /// claims send on paper (PWK02 FX or BM): item number, attachment control number
    /// (also as a Code 128 barcode), report type, and the reviewing vendor's fax number
    /// and mailing address from the contractor table.
    CoverSheets(cover::Args),
    /// Print the TA1 acknowledgment interchange for each interchange in a file.
    Ta1 {
        /// File to acknowledge; `-` reads standard input.
        file: PathBuf,
        /// Interchange control number of the first acknowledgment (ISA13).
        #[arg(long, default_value_t = 1)]
        control_number: u32,
        /// Print a TA1 only where one is due (ISA14 = 1, or errors found).
        #[arg(long)]
        only_due: bool,
    },
}

/// Runs a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let code = match cli.command {
        Command::Validate {
            files,
            format,
            max_issues,
            envelope_only,
            max_snip,
            reference,
        } => {
            let opts = validate::Options {
                max_issues,
                max_snip,
                envelope_only,
                reference,
            };
            validate::run(&files, format, &opts, &mut out)
        }
        Command::View { file } => view::run(&file, &mut out),
        Command::Json { file } => json::run(&file, &mut out),
        Command::Route {
            files,
            format,
            reference,
        } => route::run(&files, format, &reference, &mut out),
        Command::Pharmacy(args) => pharmacy::run(&args, &mut out),
        Command::CoverSheets(args) => cover::run(&args, &mut out),
        Command::Ack {
            file,
            control_number,
            claim_ack,
            accept_with_errors,
            reference,
        } => {
            let opts = ack::Options {
                claim_ack,
                accept_with_errors,
            };
            ack::run(&file, control_number, &reference, &opts, &mut out)
        }
        Command::Ta1 {
            file,
            control_number,
            only_due,
        } => ta1::run(&file, control_number, only_due, &mut out),
    };
    use std::io::Write;
    if out.flush().is_err() {
        return 2;
    }
    code
}
