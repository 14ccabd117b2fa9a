//! A bounded loopback load generator for real-time 278: starts `gatewayd` (SQLite
//! store; with `--nats-server PATH`, a single-node nats-server with JetStream and
//! `sync_interval: always` and `store = "nats"`) on a temporary data dir and a free
//! 127.0.0.1 port, then keeps N clients
//! posting CAQH CORE SOAP envelopes (or plain X12) for a fixed time, each request a
//! new interchange (its own ISA13), and prints requests/s and p50/p90/p99 latency.
//!
//! ```text
//! cargo build --release -p gatewayd --bins --examples
//! target/release/examples/realtime_load --gatewayd target/release/gatewayd \
//!     --seconds 30 --concurrency 8 [--envelope soap|raw] [--fixture PATH] \
//!     [--nats-server PATH]
//! ```
//!
//! At most 60 seconds of load. The default fixture is the pharmacy request the
//! bundled criteria approve (HCR01=A1, answered by the gateway itself);
//! `fixtures/routing/ex01-dme.x12` measures the vendor-queue path (A4 pended).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    gatewayd: PathBuf,
    seconds: u64,
    concurrency: usize,
    envelope: String,
    fixture: PathBuf,
    nats_server: Option<PathBuf>,
}

fn args() -> Args {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut a = Args {
        gatewayd: root.join("target/release/gatewayd"),
        seconds: 30,
        concurrency: 8,
        envelope: "soap".into(),
        fixture: root.join("fixtures/valid/278/pharmacy.x12"),
        nats_server: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--gatewayd" => a.gatewayd = v.into(),
            "--seconds" => a.seconds = v.parse::<u64>().expect("--seconds N").clamp(1, 60),
            "--concurrency" => {
                a.concurrency = v.parse::<usize>().expect("--concurrency N").clamp(1, 256)
            }
            "--envelope" => a.envelope = v,
            "--fixture" => a.fixture = v.into(),
            "--nats-server" => a.nats_server = Some(v.into()),
            other => panic!("unknown argument {other}"),
        }
    }
    assert!(
        matches!(a.envelope.as_str(), "soap" | "raw"),
        "--envelope soap|raw"
    );
    a
}

fn token_hash(t: &str) -> String {
    gatewayd::daemon::config::token_hash(t)
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The fixture with ISA13 and IEA02 set to `n`.
fn numbered(template: &str, old: &str, n: u32) -> String {
    let new = format!("{n:09}");
    let mut s = template.to_string();
    s.replace_range(90..99, &new);
    s.replacen(&format!("IEA*1*{old}"), &format!("IEA*1*{new}"), 1)
}

fn soap(x12: &str, n: u32) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soapenv:Envelope xmlns:soapenv=\"http://www.w3.org/2003/05/soap-envelope\"><soapenv:Header><wsse:Security xmlns:wsse=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd\"><wsse:UsernameToken><wsse:Username>load</wsse:Username><wsse:Password>load-token</wsse:Password></wsse:UsernameToken></wsse:Security></soapenv:Header><soapenv:Body><ns1:COREEnvelopeRealTimeRequest xmlns:ns1=\"http://www.caqh.org/SOAP/WSDL/CORERule2.2.0.xsd\"><PayloadType>X12_278_Request_005010X217E1_2</PayloadType><ProcessingMode>RealTime</ProcessingMode><PayloadID>{n:08x}-0000-4000-8000-000000000000</PayloadID><TimeStamp>2026-12-04T00:00:00Z</TimeStamp><SenderID>CLEARINGHOUSE</SenderID><ReceiverID>NCMEDICAID</ReceiverID><CORERuleVersion>2.2.0</CORERuleVersion><Payload><![CDATA[{x12}]]></Payload></ns1:COREEnvelopeRealTimeRequest></soapenv:Body></soapenv:Envelope>"
    )
}

fn main() {
    let a = args();
    let template = std::fs::read_to_string(&a.fixture).expect("the fixture");
    assert!(
        template.len() > 106 && template.starts_with("ISA"),
        "an X12 fixture"
    );
    let old = template[90..99].to_string();
    let dir = std::env::temp_dir().join(format!("gatewayd-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    // the NATS store: one JetStream node on loopback, every write synced
    let (_nats, store) = match &a.nats_server {
        None => (None, String::new()),
        Some(bin) => {
            let nats_port = free();
            let conf = dir.join("nats.conf");
            std::fs::write(
                &conf,
                format!(
                    "listen: 127.0.0.1:{nats_port}\njetstream {{ store_dir: {:?}, sync_interval: always }}\n",
                    dir.join("nats").display().to_string()
                ),
            )
            .unwrap();
            let child = Command::new(bin)
                .arg("-c")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("nats-server starts");
            let up = Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect(("127.0.0.1", nats_port)).is_err() {
                assert!(Instant::now() < up, "nats-server not listening");
                std::thread::sleep(Duration::from_millis(20));
            }
            (
                Some(Daemon(child)),
                format!("store = \"nats\"\n[nats]\nservers = [\"nats://127.0.0.1:{nats_port}\"]\n"),
            )
        }
    };
    let cfg = dir.join("gatewayd.toml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir = {:?}\n{store}[http]\nlisten = \"127.0.0.1:{port}\"\n[limits]\nsettle_ms = 0\n[[partner]]\nid = \"load\"\ntoken_sha256 = \"{}\"\n",
            dir.join("var").display().to_string(),
            token_hash("load-token")
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("gatewayd.log")).unwrap();
    let _daemon = Daemon(
        Command::new(&a.gatewayd)
            .args(["serve", "--config"])
            .arg(&cfg)
            .env("GATEWAYD_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("gatewayd starts (build it with --release first)"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let ready = Instant::now() + Duration::from_secs(30);
    while !agent
        .get(&format!("{base}/readyz"))
        .call()
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(Instant::now() < ready, "gatewayd not ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    let next = Arc::new(AtomicU32::new(100_000_000));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers: Vec<_> = (0..a.concurrency)
        .map(|_| {
            let (agent, next, stop, base, template, old, envelope) = (
                agent.clone(),
                next.clone(),
                stop.clone(),
                base.clone(),
                template.clone(),
                old.clone(),
                a.envelope.clone(),
            );
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                let mut errors = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let x12 = numbered(&template, &old, n);
                    let t = Instant::now();
                    let r = if envelope == "soap" {
                        agent
                            .post(&format!("{base}/core/soap"))
                            .header("Content-Type", "application/soap+xml; charset=utf-8")
                            .send(soap(&x12, n).as_bytes())
                    } else {
                        agent
                            .post(&format!("{base}/v1/realtime/278"))
                            .header("Authorization", "Bearer load-token")
                            .send(x12.as_bytes())
                    };
                    let ok = match r {
                        Ok(mut resp) => {
                            let status = resp.status().as_u16();
                            let body = resp.body_mut().read_to_string().unwrap_or_default();
                            status == 200 && body.contains("HCR*")
                        }
                        Err(_) => false,
                    };
                    lat.push(t.elapsed().as_micros() as u64);
                    if !ok {
                        errors += 1;
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(a.seconds));
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.join().unwrap();
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |us| *us as f64 / 1000.0)
    };
    println!(
        "real-time 278 ({}, {}, {}): {} requests in {elapsed:.1} s with {} clients: {:.0} requests/s, latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {errors} not answered with a 278",
        a.envelope,
        a.fixture.file_name().and_then(|n| n.to_str()).unwrap_or("?"),
        if a.nats_server.is_some() {
            "nats"
        } else {
            "sqlite"
        },
        all.len(),
        a.concurrency,
        all.len() as f64 / elapsed,
        pct(0.50),
        pct(0.90),
        pct(0.99),
        all.last().map_or(0.0, |us| *us as f64 / 1000.0),
    );
    let _ = std::fs::remove_dir_all(&dir);
}
