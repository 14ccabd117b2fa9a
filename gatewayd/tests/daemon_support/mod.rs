//! Shared by the daemon tests: start the real `gatewayd` binary on a temporary data dir
//! and a free loopback port, drop files into inboxes the way an SFTP client does
//! (`*.part`, then rename), talk to it over HTTP with a real client, and compute what
//! it should have produced with the library (the oracle).

#![allow(dead_code)]

pub mod nats;

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A fresh temporary folder for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "gatewayd-test-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Every vendor of the bundled table, with the test token `tok-<vendor>`.
pub fn vendors() -> Vec<String> {
    gatewayd::route::Table::bundled()
        .unwrap()
        .vendors
        .iter()
        .map(|v| v.id.clone())
        .collect()
}

pub fn token(vendor: &str) -> String {
    format!("tok-{vendor}")
}

/// The store a test daemon runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `store = "sqlite"` (the default).
    Sqlite,
    /// `store = "nats"` on a nats-server the support starts (one per test folder).
    Nats,
}

/// The backend of this test binary: `GATEWAYD_TEST_STORE` (`sqlite` or `nats`) when set,
/// else `nats` for the binaries named `daemon_nats*` (the same suites run on NATS
/// JetStream), else `sqlite`.
pub fn backend() -> Backend {
    match std::env::var("GATEWAYD_TEST_STORE").as_deref() {
        Ok("nats") => return Backend::Nats,
        Ok("sqlite") => return Backend::Sqlite,
        _ => {}
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let name = exe
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.starts_with("daemon_nats") {
        Backend::Nats
    } else {
        Backend::Sqlite
    }
}

/// Lease length of the test daemons on NATS (the consumers' AckWait), seconds.
pub const NATS_ACK_WAIT_SECONDS: u64 = 30;

/// The nats-server of a test folder, started on first use and shared by the daemons
/// started in that folder (a restart keeps the JetStream store); stopped when the
/// last of them is dropped.
fn nats_for(dir: &Path) -> std::sync::Arc<nats::NatsServer> {
    use std::sync::{Arc, Mutex, OnceLock, Weak};
    static SERVERS: OnceLock<Mutex<BTreeMap<PathBuf, Weak<nats::NatsServer>>>> = OnceLock::new();
    let mut map = SERVERS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(s) = map.get(dir).and_then(Weak::upgrade) {
        return s;
    }
    let s = Arc::new(nats::NatsServer::start(&dir.join("nats")));
    map.insert(dir.to_path_buf(), Arc::downgrade(&s));
    s
}

/// On NATS, keeps the nats-server of `dir` running while the result lives (a test
/// that starts and kills several daemons in one folder keeps one server and its store).
pub fn keep_nats(dir: &Path) -> Option<std::sync::Arc<nats::NatsServer>> {
    (backend() == Backend::Nats).then(|| nats_for(dir))
}

/// The `store` key and `[nats]` table of a test daemon on `server_urls` (a TOML array).
pub fn nats_config(server_urls: &str, instance: Option<&str>, extra: &str) -> String {
    let mut s = format!(
        "[nats]\nservers = {server_urls}\nprefix = \"t\"\nack_wait_seconds = {NATS_ACK_WAIT_SECONDS}\n"
    );
    if let Some(i) = instance {
        s.push_str(&format!("instance = {i:?}\n"));
    }
    s.push_str(extra);
    s
}

/// The config text for a test daemon: `extra` is appended (partners, limits).
pub fn config_text(dir: &Path, port: u16, extra: &str) -> String {
    // top-level keys of `extra` (before its first table) go before the tables
    let split = extra
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .chain([0])
        .filter(|i| extra[*i..].starts_with('['))
        .min()
        .unwrap_or(extra.len());
    let (top, extra) = extra.split_at(split);
    let mut s = format!(
        "data_dir = {:?}\n{top}\n[http]\nlisten = \"127.0.0.1:{port}\"\n",
        dir.join("var").display().to_string()
    );
    if !extra.contains("[limits]") {
        s.push_str("[limits]\nsettle_ms = 0\nrescan_ms = 100\n");
    }
    s.push_str(extra);
    s.push('\n');
    if !extra.contains("[[partner]]") {
        s.push_str("[[partner]]\nid = \"demo\"\n");
    }
    for v in vendors() {
        s.push_str(&format!(
            "[[vendor]]\nid = \"{v}\"\ntoken_sha256 = \"{}\"\n",
            gatewayd::daemon::config::token_hash(&token(&v))
        ));
    }
    s
}

/// A running daemon.
pub struct Daemon {
    pub child: Child,
    pub port: u16,
    pub dir: PathBuf,
    pub log: PathBuf,
    pub agent: ureq::Agent,
    /// The nats-server it uses, when the backend is NATS.
    pub nats: Option<std::sync::Arc<nats::NatsServer>>,
}

impl Daemon {
    /// Starts the binary with a config made of `extra` and waits until /readyz answers.
    pub fn start(dir: &Path, extra: &str) -> Daemon {
        let port = free_port();
        Daemon::start_on(dir, extra, port)
    }

    pub fn start_on(dir: &Path, extra: &str, port: u16) -> Daemon {
        match backend() {
            Backend::Sqlite => {
                Daemon::start_config(dir, &config_text(dir, port, extra), port, None)
            }
            Backend::Nats => {
                let server = nats_for(dir);
                // a `[nats]` table of the test's own goes last, its keys over the support's
                let (extra, own) = match extra.find("[nats]") {
                    Some(at) => (&extra[..at], &extra[at + "[nats]".len()..]),
                    None => (extra, ""),
                };
                let mut text = config_text(dir, port, extra);
                text.insert_str(0, "store = \"nats\"\n");
                let mut table = nats_config(&format!("[{:?}]", server.url()), None, "");
                for line in own.lines().filter(|l| l.contains('=')) {
                    let key = line.split('=').next().unwrap_or_default().trim();
                    table = table
                        .lines()
                        .filter(|l| l.split('=').next().unwrap_or_default().trim() != key)
                        .map(|l| format!("{l}\n"))
                        .collect();
                    table.push_str(line);
                    table.push('\n');
                }
                text.push_str(&table);
                Daemon::start_config(dir, &text, port, Some(server))
            }
        }
    }

    /// Starts the binary with exactly this config text.
    pub fn start_config(
        dir: &Path,
        text: &str,
        port: u16,
        nats: Option<std::sync::Arc<nats::NatsServer>>,
    ) -> Daemon {
        Daemon::start_config_env(dir, text, port, nats, &[])
    }

    /// [`Daemon::start_config`] with these environment variables set for the binary.
    pub fn start_config_env(
        dir: &Path,
        text: &str,
        port: u16,
        nats: Option<std::sync::Arc<nats::NatsServer>>,
        env: &[(&str, &str)],
    ) -> Daemon {
        let cfg = dir.join("gatewayd.toml");
        std::fs::write(&cfg, text).unwrap();
        let log = dir.join("gatewayd.log");
        let logfile = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_gatewayd"))
            .arg("serve")
            .arg("--config")
            .arg(cfg)
            .env("GATEWAYD_LOG", "debug")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(logfile)
            .spawn()
            .unwrap();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        let mut d = Daemon {
            child,
            port,
            dir: dir.to_path_buf(),
            log,
            agent,
            nats,
        };
        d.wait_ready();
        d
    }

    fn wait_ready(&mut self) {
        // on NATS the start makes streams, buckets and a consumer per vendor first
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.nats.is_some() && !self.log_text().contains("nats store ready") {
                assert!(
                    Instant::now() < deadline,
                    "gatewayd never reached its NATS store:\n{}",
                    self.log_text()
                );
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "gatewayd exited with {status} before it was ready:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if let Ok(r) = self.agent.get(&self.url("/readyz")).call() {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "gatewayd not ready in time");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn inbox(&self, partner: &str) -> PathBuf {
        self.dir.join("var/partners").join(partner).join("inbox")
    }

    pub fn outbox(&self, partner: &str) -> PathBuf {
        self.dir.join("var/partners").join(partner).join("outbox")
    }

    pub fn db(&self) -> rusqlite::Connection {
        let c = rusqlite::Connection::open(self.dir.join("var/gatewayd.sqlite")).unwrap();
        c.busy_timeout(Duration::from_secs(10)).unwrap();
        c
    }

    /// POSTs JSON with a bearer token; returns status and JSON body.
    pub fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut req = self.agent.post(&self.url(path));
        if let Some(t) = token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        let mut r = req.send_json(body).unwrap();
        let status = r.status().as_u16();
        let v = r.body_mut().read_json::<Value>().unwrap_or(Value::Null);
        (status, v)
    }

    /// GETs JSON with a bearer token; returns status and JSON body.
    pub fn get_json(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self.agent.get(&self.url(path));
        if let Some(t) = token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        let mut r = req.call().unwrap();
        let status = r.status().as_u16();
        let v = r.body_mut().read_json::<Value>().unwrap_or(Value::Null);
        (status, v)
    }

    /// POSTs raw bytes with a bearer token; returns status and JSON body.
    pub fn post_bytes(&self, path: &str, token: Option<&str>, body: &[u8]) -> (u16, Value) {
        let mut req = self.agent.post(&self.url(path));
        if let Some(t) = token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        let mut r = req.send(body).unwrap();
        let status = r.status().as_u16();
        let v = r.body_mut().read_json::<Value>().unwrap_or(Value::Null);
        (status, v)
    }

    pub fn get_text(&self, path: &str) -> (u16, String) {
        let mut r = self.agent.get(&self.url(path)).call().unwrap();
        let status = r.status().as_u16();
        (status, r.body_mut().read_to_string().unwrap_or_default())
    }

    /// Leases everything visible in a vendor's queue.
    pub fn lease_all(&self, vendor: &str) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let (status, v) = self.post(
                &format!("/v1/queues/{vendor}/lease"),
                Some(&token(vendor)),
                json!({"max_items": 100, "lease_seconds": 600}),
            );
            assert_eq!(status, 200, "{v}");
            let items = v["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                return out;
            }
            out.extend(items);
        }
    }

    /// A metric's value from /metrics (0 when absent).
    pub fn metric(&self, series: &str) -> f64 {
        let (_, text) = self.get_text("/metrics");
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    }

    /// Waits until `n` files are recorded and none is left unfinished.
    pub fn wait_files(&self, n: i64) {
        let db = self.db();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (all, open): (i64, i64) = db
                .query_row(
                    "SELECT COUNT(*), COALESCE(SUM(state = 'received'), 0) FROM files",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap_or((0, 0));
            let acking: i64 = db
                .query_row(
                    "SELECT COUNT(*) FROM interchanges WHERE state = 'acking'",
                    [],
                    |r| r.get(0),
                )
                .unwrap_or(0);
            // on NATS, ready items are still to be published to the queue stream
            let unpublished: i64 = if self.nats.is_some() {
                db.query_row(
                    "SELECT COUNT(*) FROM queue q WHERE q.state = 'ready' AND NOT EXISTS
                       (SELECT 1 FROM nats_published p WHERE p.queue_id = q.id)",
                    [],
                    |r| r.get(0),
                )
                .unwrap_or(1)
            } else {
                0
            };
            // a rejected file's note is written after its state changes
            let unwritten: i64 = db
                .query_row("SELECT COUNT(*) FROM acks WHERE written = 0", [], |r| {
                    r.get(0)
                })
                .unwrap_or(0);
            if all >= n && open == 0 && acking == 0 && unpublished == 0 && unwritten == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "only {all} of {n} files recorded ({open} unfinished):\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub fn sigterm(&mut self) -> std::process::ExitStatus {
        let ok = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "gatewayd did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Drops a file the way an SFTP client does: write `NAME.part`, then rename.
pub fn drop_file(inbox: &Path, name: &str, bytes: &[u8]) {
    let part = inbox.join(format!("{name}.part"));
    std::fs::write(&part, bytes).unwrap();
    std::fs::rename(&part, inbox.join(name)).unwrap();
}

/// The fixtures the brief names: fixtures/valid/*.x12, fixtures/valid/278/*.x12,
/// fixtures/routing/*.x12.
pub fn fixture_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in ["fixtures/valid", "fixtures/valid/278", "fixtures/routing"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join(d))
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "x12"))
            .collect();
        files.sort();
        out.extend(files);
    }
    out
}

/// Gives every interchange of `data` a new ISA13 (and IEA02), `first`, `first + 1`...
/// so fixtures that share control numbers are not duplicates of each other.
pub fn renumber(data: &[u8], first: u32) -> Vec<u8> {
    let mut d = data.to_vec();
    let mut n = first;
    let mut at = 0;
    while let Some(i) = find(&d, b"ISA", at) {
        let Some(&sep) = d.get(i + 3) else { break };
        if d.len() < i + 106 || d[i + 89] != sep || d[i + 99] != sep {
            at = i + 3;
            continue;
        }
        let old = d[i + 90..i + 99].to_vec();
        let new = format!("{n:09}").into_bytes();
        d[i + 90..i + 99].copy_from_slice(&new);
        // IEA<sep>count<sep>old
        let mut j = i + 106;
        while let Some(k) = find(&d, b"IEA", j) {
            if d.get(k + 3) == Some(&sep) {
                if let Some(p) = d[k + 4..].iter().position(|b| *b == sep) {
                    let s = k + 4 + p + 1;
                    if d.get(s..s + 9) == Some(&old[..]) {
                        d[s..s + 9].copy_from_slice(&new);
                        break;
                    }
                }
            }
            j = k + 3;
        }
        n += 1;
        at = i + 106;
    }
    d
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// What the daemon should produce for one file, computed with the library.
#[derive(Debug, Default, Clone)]
pub struct Expected {
    /// Interchanges with an ISA.
    pub interchanges: usize,
    /// TA1 files due.
    pub ta1: usize,
    /// 999 files (one per group of interchanges the TA1 did not reject).
    pub acks999: usize,
    /// Queue items: (vendor, transaction, request id), sorted.
    pub items: Vec<(String, String, String)>,
    /// The gateway's own 278 responses: (status, request id), sorted.
    pub responses: Vec<(String, String)>,
    /// 837 claims kept from every vendor: on a `reject` route, or rejected by their
    /// 277CA (a duplicate of a claim accepted before, in this file or an earlier one).
    pub claim_rejects: usize,
    /// Of `claim_rejects`, those the 277CA rejected as duplicates (A3:54): (vendor the
    /// route named, transaction, claim id), sorted.
    pub duplicates: Vec<(String, String, String)>,
    /// 277CA files: one per 837 set the 999 accepted, in groups it did not reject.
    pub acks277: usize,
}

/// What the daemon should produce for one file sent alone (no claim accepted before).
pub fn expect(data: &[u8]) -> Expected {
    Oracle::new().expect(data)
}

/// The expectation model over a stream of files from partner `demo`, in the order the
/// daemon takes them: which claims the 277CA accepts (they reach their vendor) and which
/// it rejects (they reach none: a duplicate of a claim accepted earlier, in the same
/// group or an earlier file). It keeps the fingerprints of accepted claims in a store
/// of its own and computes them with the daemon's own 277CA code
/// (`gatewayd::daemon::claimack`), recorded when a group is accepted, as the daemon does.
/// The 999 follows the partner's `accept_with_errors` levels like the daemon's (an 837
/// set whose errors of those levels claims carry is accepted with errors, and its
/// 277CA rejects those claims).
pub struct Oracle {
    conn: rusqlite::Connection,
    dir: PathBuf,
    /// The partner's `accept_with_errors` SNIP levels.
    levels: Vec<u8>,
}

impl Drop for Oracle {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Default for Oracle {
    fn default() -> Self {
        Oracle::new()
    }
}

impl Oracle {
    /// A model with no claim accepted yet, for a partner with the default
    /// `accept_with_errors`.
    pub fn new() -> Oracle {
        Oracle::with_levels(&gatewayd::daemon::config::DEFAULT_ACCEPT_WITH_ERRORS)
    }

    /// A model for a partner whose `accept_with_errors` is `levels`.
    pub fn with_levels(levels: &[u8]) -> Oracle {
        let dir = temp_dir("oracle");
        let conn = gatewayd::daemon::store::open(&dir.join("oracle.sqlite")).unwrap();
        // fingerprints without the interchanges they came from
        conn.pragma_update(None, "foreign_keys", false).unwrap();
        Oracle {
            conn,
            dir,
            levels: levels.to_vec(),
        }
    }

    /// What the daemon should produce for `data`, the next file of the stream.
    pub fn expect(&mut self, data: &[u8]) -> Expected {
        let validator = gatewayd::guides::validator();
        // whether the 999 accepts each transaction set (fully or with errors), in order
        let (acks, sets_ok) = acknowledge_as_daemon(data, &validator, &self.levels);
        let mut set_index = 0usize;
        let mut e = Expected::default();
        let mut accepted = true;
        // whether each functional group is accepted, in file order
        let mut groups_ok: Vec<bool> = Vec::new();
        for a in &acks {
            let Some(t) = &a.ta1 else { continue };
            e.interchanges += 1;
            if a.ta1_due {
                e.ta1 += 1;
            }
            if t.ack == x12_core::Ta1Ack::Rejected {
                accepted = false;
            } else {
                e.acks999 += a.groups.len();
                e.acks277 += a
                    .groups
                    .iter()
                    .filter(|g| g.status != x12_core::AckCode::Rejected)
                    .flat_map(|g| g.sets.iter())
                    .filter(|s| s.id == "837" && s.status != x12_core::AckCode::Rejected)
                    .count();
                groups_ok.extend(
                    a.groups
                        .iter()
                        .map(|g| g.status != x12_core::AckCode::Rejected),
                );
            }
        }
        if accepted {
            let router = gatewayd::route::Router::bundled().unwrap();
            let criteria = gatewayd::pharmacy::Criteria::bundled().unwrap();
            let lookups = gatewayd::route::Lookups::default();
            let mut tree = x12_core::schema::LoopTree::default();
            let mut group = 0usize;
            // the 277CAs of the current group, remembered when the group is accepted
            let mut group_277: Vec<gatewayd::daemon::claimack::Pending> = Vec::new();
            for item in x12_core::Reader::new(data) {
                let set = match item.unwrap() {
                    x12_core::Item::Transaction(set) => set,
                    x12_core::Item::GroupEnd(r) => {
                        if r.header
                            .as_ref()
                            .is_some_and(|h| h.functional_id() == b"FA")
                        {
                            continue;
                        }
                        if groups_ok.get(group).copied().unwrap_or(false) {
                            for p in group_277.drain(..) {
                                gatewayd::daemon::claimack::remember(
                                    &self.conn,
                                    "demo",
                                    0,
                                    &p.fingerprints,
                                )
                                .unwrap();
                            }
                        }
                        group_277.clear();
                        group += 1;
                        continue;
                    }
                    _ => continue,
                };
                let (guide, issues) = validator.check_set(&set, &mut tree);
                set_index += 1;
                let Some(guide) = guide else { continue };
                if !sets_ok.get(set_index - 1).copied().unwrap_or(false) {
                    continue;
                }
                let root = x12_core::schema::LoopRef::root(&set, &tree, guide);
                let pharmacy: Vec<bool> = if guide.id == "278REQ" {
                    gatewayd::pharmacy::decide(&criteria, root)
                        .iter()
                        .map(|o| o.is_met())
                        .collect()
                } else {
                    Vec::new()
                };
                let routings = gatewayd::route::route_set(&router, &set, &tree, guide, &lookups);
                let mut rejections = Vec::new();
                if x12_837::kind_of(guide.version.as_bytes()).is_some() {
                    let pending = gatewayd::daemon::claimack::build(
                        &self.conn,
                        &set,
                        root,
                        &issues,
                        &routings,
                        0,
                        &gatewayd::daemon::claimack::Edits {
                            partner: "demo",
                            eligibility: None,
                            earlier: &group_277,
                            shared: None,
                        },
                    )
                    .unwrap();
                    rejections = pending.rejections();
                    group_277.push(pending);
                }
                for (event, r) in routings.iter().enumerate() {
                    let txn = r.transaction.name().to_string();
                    for w in &r.work_items {
                        match (w.action.name(), w.vendor.as_str(), w.pa_type.as_str()) {
                            ("reject", ..) => e.responses.push(("rejected".into(), r.id.clone())),
                            ("no_pa_required", ..) => {
                                e.responses.push(("no_pa_required".into(), r.id.clone()))
                            }
                            ("route", "csra", "pharmacy") => {
                                if pharmacy.get(event).copied().unwrap_or(false) {
                                    e.responses.push(("approved".into(), r.id.clone()));
                                } else {
                                    e.responses.push(("pended".into(), r.id.clone()));
                                    e.items.push((w.vendor.clone(), txn.clone(), r.id.clone()));
                                }
                            }
                            _ => e.items.push((w.vendor.clone(), txn.clone(), r.id.clone())),
                        }
                    }
                    if let Some(c) = &r.claim_route {
                        let rejected = rejections.get(event).cloned().flatten();
                        let key = (c.vendor.clone(), txn.clone(), r.id.clone());
                        if c.action.name() == "reject" {
                            e.claim_rejects += 1;
                        } else if let Some(statuses) = rejected {
                            e.claim_rejects += 1;
                            if statuses.iter().any(|s| s == "A3:54") {
                                e.duplicates.push(key);
                            }
                        } else {
                            e.items.push(key);
                        }
                    }
                }
            }
        }
        e.items.sort();
        e.responses.sort();
        e.duplicates.sort();
        e
    }
}

/// `x12_core::acknowledge` with the daemon's 999 policy: an 837 set whose errors of
/// the SNIP `levels` claims carry is accepted with errors
/// (`gatewayd::daemon::claimack::accepts_with_errors`), every other error rejects.
/// Also returns, for each transaction set in file order, whether the 999 accepted it.
pub fn acknowledge_as_daemon(
    data: &[u8],
    validator: &x12_core::Validator,
    levels: &[u8],
) -> (Vec<x12_core::InterchangeAcks>, Vec<bool>) {
    use x12_core::{Ack999, AckCode, AckPolicy, Item, Ta1, Ta1Policy};
    let (strict, lenient) = (
        AckPolicy::default(),
        AckPolicy {
            accept_with_errors: levels.to_vec(),
        },
    );
    let mut out = Vec::new();
    let mut sets_ok = Vec::new();
    let mut groups = Vec::new();
    let mut current: Option<Ack999> = None;
    let mut tree = x12_core::schema::LoopTree::default();
    for item in x12_core::Reader::new(data) {
        match item.unwrap() {
            Item::Transaction(set) => {
                let (guide, issues) = validator.check_set(&set, &mut tree);
                let root = guide.map(|g| x12_core::schema::LoopRef::root(&set, &tree, g));
                let policy =
                    if gatewayd::daemon::claimack::accepts_with_errors(levels, root, &issues) {
                        &lenient
                    } else {
                        &strict
                    };
                let ack = current.get_or_insert_with(|| Ack999::new(set.group().map(|g| &**g)));
                ack.add_set(&set, &issues, policy);
                sets_ok.push(
                    ack.sets
                        .last()
                        .is_some_and(|s| s.status != AckCode::Rejected),
                );
            }
            Item::GroupEnd(report) => {
                let ack = current
                    .take()
                    .unwrap_or_else(|| Ack999::new(report.header.as_deref()));
                let is_ack = report
                    .header
                    .as_ref()
                    .is_some_and(|h| h.functional_id() == b"FA");
                if !is_ack {
                    groups.push(ack.finish(&report));
                }
            }
            Item::InterchangeEnd(report) => {
                let ta1 = Ta1::from_report(&report, false, &Ta1Policy::default());
                let ta1_due = ta1.as_ref().is_some_and(|t| t.is_due(&report));
                out.push(x12_core::InterchangeAcks {
                    report,
                    ta1,
                    ta1_due,
                    groups: std::mem::take(&mut groups),
                });
            }
            Item::Segment(_) => {}
        }
    }
    (out, sets_ok)
}

/// Outbox files by kind prefix (`TA1`, `999`, `REJECTED`...): the whole ones, not a
/// `.part` the daemon is still writing (and renames when it is whole, so it may be gone
/// by the time it would be read).
pub fn outbox_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".part") {
                return None;
            }
            Some((name, std::fs::read(e.path()).ok()?))
        })
        .collect()
}

/// Checks a 277CA outbox file: one interchange, one 277 set read with the 277CA table
/// and no error from our validator. Returns its segments.
pub fn check_277ca(name: &str, body: &[u8]) -> Vec<String> {
    let validator = gatewayd::guides::validator();
    let mut tree = x12_core::schema::LoopTree::default();
    let (mut sets, mut ended) = (0, 0);
    for it in x12_core::Reader::new(body) {
        match it.unwrap() {
            x12_core::Item::Transaction(s) => {
                let (guide, issues) = validator.check_set(&s, &mut tree);
                assert_eq!(
                    guide.map(|g| g.version.as_str()),
                    Some("005010X214"),
                    "{name}"
                );
                let errors: Vec<_> = issues.iter().filter(|i| i.is_error()).collect();
                assert!(
                    errors.is_empty(),
                    "{name}: {errors:?}\n{}",
                    String::from_utf8_lossy(body)
                );
                sets += 1;
            }
            x12_core::Item::InterchangeEnd(r) => {
                assert!(!r.has_errors(), "{name}: {:?}", r.issues);
                ended += 1;
            }
            _ => {}
        }
    }
    assert_eq!((sets, ended), (1, 1), "{name}");
    x12_core::Segments::new(body)
        .map(|s| String::from_utf8_lossy(s.segment.as_bytes()).into_owned())
        .collect()
}

/// A small deterministic random source (xorshift).
pub struct Rng(pub u64);

impl Rng {
    pub fn seeded() -> Rng {
        let s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Rng(s | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
