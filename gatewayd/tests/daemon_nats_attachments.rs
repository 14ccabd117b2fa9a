//! The suite of `daemon_attachments.rs`, run on `store = "nats"` (the support module sees this
//! binary's name): each test folder gets its own nats-server with JetStream.

#[path = "daemon_attachments.rs"]
mod suite;
