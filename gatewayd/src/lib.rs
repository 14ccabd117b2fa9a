//! # gatewayd
//!
//! The ncx12 gateway: the `x12` command-line tool (validate, view, acknowledge X12
//! files) and, in later work, the `gatewayd` daemon that takes batches from
//! clearinghouses, acknowledges and routes them.
//!
//! The command implementations live in [`cli`]; the binaries in `src/bin` only parse
//! arguments and call them.

#[warn(missing_docs)]
pub mod attachments;
pub mod cli;
pub mod clock;
pub mod daemon;
pub mod guides;
#[warn(missing_docs)]
pub mod pharmacy;
#[warn(missing_docs)]
pub mod route;
