//! The daemon suite of `daemon.rs`, run on `store = "nats"`: each test starts its own
//! nats-server (JetStream, `sync_interval: always`) on a loopback port it picks (see
//! `daemon_support::nats`); the support module sees this binary's name and configures
//! every daemon with the NATS store.

#[path = "daemon.rs"]
mod suite;
