//! The suite of `daemon_realtime.rs`, run on `store = "nats"` (the support module sees
//! this binary's name): each test folder gets its own nats-server with JetStream. (The
//! HTTPS test writes its own config and stays on SQLite.)

#[path = "daemon_realtime.rs"]
mod suite;
