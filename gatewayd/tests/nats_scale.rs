//! Scale-out on NATS JetStream with real servers and the real `gatewayd` binary:
//!
//! - a 3-node nats-server cluster on loopback with R3 streams and buckets; two gateways
//!   ingest different partners at once (and both get the same file of a shared
//!   partner) while one node is `kill -9`ed and restarted: after consumer-side
//!   idempotency (dedupe by the item's `msg_id`) every transaction reaches its vendor
//!   exactly once, none is lost, and the shared interchange is accepted by one gateway
//!   only;
//! - a gateway `kill -9`ed while it publishes the items of a large batch, then
//!   restarted: every item is in its queue stream exactly once;
//! - the same claims through two gateways: the second's 277CA says A3:54 and nothing of
//!   it is queued (and the claims of a TA1-rejected interchange do not count);
//! - a gateway `kill -9`ed with a recorded file (before reading it, with an
//!   interchange read but not committed, or with an interchange's acknowledgments
//!   recorded in the cluster but not written) and its data dir deleted: another
//!   gateway takes the file over once the heartbeat runs out; every item reaches its
//!   vendor once and every acknowledgment is written once to the shared outbox, what
//!   the gone gateway recorded as it made it (same names, same ISA13s);
//! - a real-time answer pended before its gateway's pipeline took any number gets an
//!   ISA13 from the cluster's counter, not one another gateway already used.
//!
//! Each skips loudly without nats-server, except under `CI=true`.

mod daemon_support;

use daemon_support::nats::{binary_or_skip, Cluster, NatsServer};
use daemon_support::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// Starts a gateway on NATS at `urls` (a TOML array) with `partners` (`[[partner]]`
/// tables) and instance name `instance`.
fn gateway(dir: &Path, urls: &str, instance: &str, replicas: u32, partners: &str) -> Daemon {
    gateway_env(dir, urls, instance, replicas, partners, &[])
}

/// [`gateway`] with these environment variables set for the binary.
fn gateway_env(
    dir: &Path,
    urls: &str,
    instance: &str,
    replicas: u32,
    partners: &str,
    env: &[(&str, &str)],
) -> Daemon {
    std::fs::create_dir_all(dir).unwrap();
    let port = free_port();
    let mut text = config_text(dir, port, partners);
    text.insert_str(0, "store = \"nats\"\n");
    text.push_str(&nats_config(
        urls,
        Some(instance),
        &format!("replicas = {replicas}\n"),
    ));
    Daemon::start_config_env(dir, &text, port, None, env)
}

/// A test's folder and its single nats-server, with the server's URL as a TOML array;
/// `None` (the test skips) without nats-server, except under `CI=true`.
fn one_server(test: &str, folder: &str) -> Option<(std::path::PathBuf, NatsServer, String)> {
    binary_or_skip(test)?;
    let dir = temp_dir(folder);
    let server = NatsServer::start(&dir.join("nats"));
    let urls = format!("[{:?}]", server.url());
    Some((dir, server, urls))
}

/// Waits (up to `secs`) until the gateway has finished `n` files and published every
/// ready item.
fn settle(d: &Daemon, n: i64, secs: u64) {
    let db = d.db();
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let q = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap_or(-1) };
        let all = q("SELECT COUNT(*) FROM files");
        let open = q("SELECT COUNT(*) FROM files WHERE state = 'received'");
        let acking = q("SELECT COUNT(*) FROM interchanges WHERE state = 'acking'");
        let unpublished = q(
            "SELECT COUNT(*) FROM queue q WHERE q.state = 'ready' AND NOT EXISTS
               (SELECT 1 FROM nats_published p WHERE p.queue_id = q.id)",
        );
        if all >= n && open == 0 && acking == 0 && unpublished == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{all} of {n} files, {open} unfinished, {acking} acking, {unpublished} unpublished:\n{}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Leases everything of every vendor through `d`, acking as it goes; returns the
/// deliveries (vendor, item).
fn drain(d: &Daemon) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for v in vendors() {
        loop {
            let (s, r) = d.post(
                &format!("/v1/queues/{v}/lease"),
                Some(&token(&v)),
                json!({"max_items": 200}),
            );
            assert_eq!(s, 200, "{r}");
            let items = r["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                break;
            }
            let receipts: Vec<Value> = items.iter().map(|i| i["receipt"].clone()).collect();
            let (s, a) = d.post(
                &format!("/v1/queues/{v}/ack"),
                Some(&token(&v)),
                json!({ "receipts": receipts }),
            );
            assert_eq!(s, 200, "{a}");
            out.extend(items.into_iter().map(|i| (v.clone(), i)));
        }
    }
    out
}

/// (vendor, transaction, request id) of each delivery whose msg_id was not seen
/// before, sorted; and how many deliveries were repeats.
fn dedupe(deliveries: &[(String, Value)]) -> (Vec<(String, String, String)>, usize) {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    let mut repeats = 0;
    for (v, i) in deliveries {
        let id = i["msg_id"]
            .as_str()
            .expect("a NATS item carries its msg_id");
        if !seen.insert(id.to_string()) {
            repeats += 1;
            continue;
        }
        out.push((
            v.clone(),
            i["transaction"].as_str().unwrap().to_string(),
            i["request_id"].as_str().unwrap().to_string(),
        ));
    }
    out.sort();
    (out, repeats)
}

fn outcomes(d: &Daemon, partner: &str) -> BTreeMap<String, i64> {
    let db = d.db();
    let mut st = db
        .prepare("SELECT outcome, COUNT(*) FROM interchanges WHERE partner = ?1 GROUP BY outcome")
        .unwrap();
    st.query_map([partner], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The index of the node leading the queue stream (`T_QUEUE`), from a node's `/jsz`.
fn queue_leader(cluster: &Cluster) -> Option<usize> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    for n in &cluster.nodes {
        let url = format!(
            "http://127.0.0.1:{}/jsz?accounts=true&streams=true",
            n.http_port
        );
        let Ok(mut r) = agent.get(&url).call() else {
            continue;
        };
        let Ok(v) = r.body_mut().read_json::<Value>() else {
            continue;
        };
        for acc in v["account_details"].as_array().into_iter().flatten() {
            for st in acc["stream_detail"].as_array().into_iter().flatten() {
                if st["name"] == "T_QUEUE" {
                    if let Some(leader) = st["cluster"]["leader"].as_str() {
                        return leader
                            .strip_prefix('n')
                            .and_then(|i| i.parse::<usize>().ok())
                            .map(|i| i - 1);
                    }
                }
            }
        }
    }
    None
}

#[test]
fn two_gateways_on_a_3_node_cluster_survive_a_node_kill() {
    if binary_or_skip("two_gateways_on_a_3_node_cluster_survive_a_node_kill").is_none() {
        return;
    }
    let started = Instant::now();
    let dir = temp_dir("nats-cluster");
    let mut cluster = Cluster::start(&dir.join("cluster"), 3);
    let urls = cluster.urls_toml();
    let shared_partner = format!(
        "[[partner]]\nid = \"shared\"\ntoken_sha256 = \"{}\"\n",
        gatewayd::daemon::config::token_hash("tok-shared")
    );
    let mut a = gateway(
        &dir.join("a"),
        &urls,
        "gw-a",
        3,
        &format!("[[partner]]\nid = \"alpha\"\n{shared_partner}"),
    );
    let mut b = gateway(
        &dir.join("b"),
        &urls,
        "gw-b",
        3,
        &format!("[[partner]]\nid = \"beta\"\n{shared_partner}"),
    );
    let inbox = |d: &Daemon, p: &str| d.dir.join("var/partners").join(p).join("inbox");
    let pool: Vec<Vec<u8>> = fixture_files()
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    // each partner its own numbers; the oracle follows each partner's files in order
    let mut expected: Vec<(String, String, String)> = Vec::new();
    let mut files = BTreeMap::<&str, i64>::new();
    let rounds = 3;
    let mut plan: Vec<(usize, &str, String, Vec<u8>)> = Vec::new();
    let (mut oa, mut ob) = (Oracle::new(), Oracle::new());
    for round in 0..rounds {
        for (k, data) in pool.iter().enumerate() {
            for (gw, partner, base, oracle) in [
                (0usize, "alpha", 100_000u32, &mut oa),
                (1, "beta", 200_000, &mut ob),
            ] {
                let n = base + (round * pool.len() + k) as u32 * 10;
                let data = renumber(data, n);
                expected.extend(oracle.expect(&data).items);
                plan.push((gw, partner, format!("r{round}-{k:03}.x12"), data));
            }
        }
    }
    // one interchange of the shared partner, to both gateways
    let shared = renumber(
        &std::fs::read(repo().join("fixtures/routing/ex03-pcs.x12")).unwrap(),
        900_001,
    );
    expected.extend(Oracle::new().expect(&shared).items);
    expected.sort();
    let gws = [&a, &b];
    let total = plan.len();
    let mut killed_at = None;
    let mut victim = 1;
    let mut leader_found = false;
    let mut down_for = None;
    for (i, (gw, partner, name, data)) in plan.into_iter().enumerate() {
        drop_file(&inbox(gws[gw], partner), &name, &data);
        *files.entry(if gw == 0 { "a" } else { "b" }).or_default() += 1;
        if i == total / 3 {
            drop_file(&inbox(&a, "shared"), "shared.x12", &shared);
            drop_file(&inbox(&b, "shared"), "shared.x12", &shared);
            *files.entry("a").or_default() += 1;
            *files.entry("b").or_default() += 1;
            // one node dies without warning, in the middle of the ingest: the queue
            // stream's leader
            let leader = queue_leader(&cluster);
            leader_found = leader.is_some();
            let leader = leader.unwrap_or(1);
            cluster.nodes[leader].kill9();
            victim = leader;
            killed_at = Some(Instant::now());
        }
        if i == 2 * total / 3 {
            // down for at least 3 s while both gateways keep working
            while killed_at.is_some_and(|k: Instant| k.elapsed() < Duration::from_secs(3)) {
                std::thread::sleep(Duration::from_millis(20));
            }
            cluster.nodes[victim].restart();
            down_for = killed_at.map(|k: Instant| k.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    settle(&a, files["a"], 180);
    settle(&b, files["b"], 180);
    // the shared interchange: accepted by one gateway, a duplicate (TA1 025) at the other
    let (sa, sb) = (outcomes(&a, "shared"), outcomes(&b, "shared"));
    let accepted =
        sa.get("accepted").copied().unwrap_or(0) + sb.get("accepted").copied().unwrap_or(0);
    let duplicate =
        sa.get("duplicate").copied().unwrap_or(0) + sb.get("duplicate").copied().unwrap_or(0);
    assert_eq!((accepted, duplicate), (1, 1), "a: {sa:?}, b: {sb:?}");
    for (d, p) in [(&a, "alpha"), (&b, "beta")] {
        let o = outcomes(d, p);
        assert_eq!(o.get("duplicate"), None, "{p}: {o:?}");
    }
    // the gateways' own interchanges (TA1, 999, 277CA, 278) never share an ISA13: each
    // instance numbers from blocks it reserved in the cluster
    let mut isa13s = BTreeMap::<String, String>::new();
    for (d, p) in [(&a, "alpha"), (&a, "shared"), (&b, "beta"), (&b, "shared")] {
        for (name, body) in outbox_files(&d.dir.join("var/partners").join(p).join("outbox")) {
            if !name.ends_with(".x12") {
                continue;
            }
            let isa13 = String::from_utf8_lossy(&body[90..99]).into_owned();
            if let Some(before) = isa13s.insert(isa13.clone(), format!("{p}/{name}")) {
                panic!("ISA13 {isa13} in {before} and {p}/{name}");
            }
        }
    }
    assert!(isa13s.len() > files.values().sum::<i64>() as usize / 2);
    // every transaction at its vendor exactly once after dedupe, none lost; half the
    // queues drained through each gateway
    let mut deliveries = drain(&a);
    deliveries.extend(drain(&b));
    let (got, repeats) = dedupe(&deliveries);
    assert_eq!(got.len(), expected.len(), "items delivered vs expected");
    assert_eq!(got, expected);
    // the shared partner's PA inquiry answers through either gateway, whichever took
    // the request
    let (_, shared_item) = deliveries
        .iter()
        .find(|(_, i)| i["item"]["envelope"]["partner"] == "shared" && i["transaction"] == "278")
        .expect("the shared partner's request");
    let number = shared_item["request_id"].as_str().unwrap();
    for d in [&a, &b] {
        let (s, r) = d.get_json(&format!("/v1/pa/{number}"), Some("tok-shared"));
        assert_eq!(s, 200, "{r}");
        assert_eq!(r["results"].as_array().map(Vec::len), Some(1), "{r}");
    }
    // a vendor decides through either gateway: the instance that took the request
    // answers (its 278 response in its partner's outbox)
    for (owner, via, owner_name) in [(&b, &a, "gw-b"), (&a, &b, "gw-a")] {
        let (vendor, item) = deliveries
            .iter()
            .find(|(_, i)| i["instance"] == owner_name && i["transaction"] == "278")
            .expect("a 278 item of each gateway");
        let (s, r) = via.post(
            "/v1/decisions",
            Some(&token(vendor)),
            json!({"item_id": item["id"], "instance": owner_name, "decision": "approve",
                   "certification_number": "CERT42"}),
        );
        assert_eq!(s, 200, "{r}");
        let partner = item["item"]["envelope"]["partner"].as_str().unwrap();
        let response = r["response"].as_str().unwrap();
        let path = owner
            .dir
            .join("var/partners")
            .join(partner)
            .join("outbox")
            .join(response);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !path.exists() {
            assert!(Instant::now() < deadline, "{} not written", path.display());
            std::thread::sleep(Duration::from_millis(20));
        }
        // decided once: the same decision again is a conflict, wherever it is sent
        let (s, r) = owner.post(
            "/v1/decisions",
            Some(&token(vendor)),
            json!({"item_id": item["id"], "instance": owner_name, "decision": "approve",
                   "certification_number": "CERT42"}),
        );
        assert_eq!(s, 409, "{r}");
    }
    // PA status lives in KV too: with the gateway that took the shared request gone,
    // the other still answers its partner's inquiry (after the mirror caught up)
    let a_took_it = sa.contains_key("accepted");
    let (gone, alive) = if a_took_it {
        (&mut a, &b)
    } else {
        (&mut b, &a)
    };
    gone.child.kill().unwrap();
    gone.child.wait().unwrap();
    let (s, r) = alive.get_json(&format!("/v1/pa/{number}"), Some("tok-shared"));
    assert_eq!(s, 200, "{r}");
    let results = r["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 1, "{r}");
    assert_eq!(
        results[0]["instance"],
        if a_took_it { "gw-a" } else { "gw-b" },
        "{r}"
    );
    eprintln!(
        "cluster test: 2 gateways, {} files, {} items, {repeats} repeated deliveries dropped by msg_id, node n{} (queue leader: {}) down {:?}, in {:?}",
        files.values().sum::<i64>(),
        expected.len(),
        victim + 1,
        leader_found,
        down_for,
        started.elapsed()
    );
    drop(a);
    drop(b);
    drop(cluster);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn gateway_kill_9_mid_publish_loses_and_repeats_nothing() {
    let Some((dir, server, urls)) = one_server(
        "gateway_kill_9_mid_publish_loses_and_repeats_nothing",
        "nats-kill",
    ) else {
        return;
    };
    let partners = "[[partner]]\nid = \"demo\"\n";
    // a batch of many 278 requests: thousands of items to publish, one at a time
    let mut o = fixtures::generate::Options::new(fixtures::generate::Kind::Request278, 1_500_000)
        .with_seed(7);
    o.sets_per_group = 50;
    let data = renumber(&fixtures::generate::generate_to_vec(&o), 700_000);
    let expected = {
        let mut e = Oracle::new().expect(&data).items;
        e.sort();
        e
    };
    assert!(expected.len() > 500, "{} items", expected.len());
    let gw = dir.join("gw");
    let mut d = gateway(&gw, &urls, "gw-k", 1, partners);
    drop_file(&d.inbox("demo"), "big.x12", &data);
    // kill once some items are published and some are not
    let deadline = Instant::now() + Duration::from_secs(120);
    let published_at_kill = loop {
        let n: i64 = d
            .db()
            .query_row("SELECT COUNT(*) FROM nats_published", [], |r| r.get(0))
            .unwrap_or(0);
        if n >= 256 {
            break n;
        }
        assert!(
            Instant::now() < deadline,
            "nothing published:\n{}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(2));
    };
    d.child.kill().unwrap();
    d.child.wait().unwrap();
    assert!(
        (published_at_kill as usize) < expected.len(),
        "killed after the last publish ({published_at_kill})"
    );
    drop(d);
    let restarted = Instant::now();
    let d = gateway(&gw, &urls, "gw-k", 1, partners);
    settle(&d, 1, 180);
    let finished_in = restarted.elapsed();
    let deliveries = drain(&d);
    let (got, repeats) = dedupe(&deliveries);
    assert_eq!(repeats, 0, "the stream holds each item once (Nats-Msg-Id)");
    assert_eq!(got.len(), expected.len());
    assert_eq!(got, expected);
    let resumed = d.log_text().contains("resumed unfinished files");
    eprintln!(
        "kill test: killed with {published_at_kill} of {} items published, resumed a file: {resumed}; the restart finished the file in {finished_in:?}",
        expected.len()
    );
    drop(d);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_last_lease_that_runs_out_goes_to_the_dead_letters() {
    if binary_or_skip("a_last_lease_that_runs_out_goes_to_the_dead_letters").is_none() {
        return;
    }
    let dir = temp_dir("nats-dead");
    let server = NatsServer::start(&dir.join("nats"));
    let port = free_port();
    let mut text = config_text(&dir, port, "[[partner]]\nid = \"demo\"\n");
    text.insert_str(0, "store = \"nats\"\n");
    text.push_str(&format!(
        "[nats]\nservers = [{:?}]\nprefix = \"t\"\nack_wait_seconds = 1\nmax_deliver = 2\n",
        server.url()
    ));
    let d = Daemon::start_config(&dir, &text, port, None);
    let data = std::fs::read(repo().join("fixtures/routing/ex03-pcs.x12")).unwrap();
    drop_file(&d.inbox("demo"), "pcs.x12", &data);
    settle(&d, 1, 60);
    let lease = |d: &Daemon| -> Vec<Value> {
        let (s, r) = d.post(
            "/v1/queues/liberty/lease",
            Some(&token("liberty")),
            json!({}),
        );
        assert_eq!(s, 200, "{r}");
        r["items"].as_array().cloned().unwrap_or_default()
    };
    // two deliveries, each lease left to run out
    let mut attempts = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while attempts.len() < 2 {
        for it in lease(&d) {
            attempts.push(it["attempts"].as_i64().unwrap());
        }
        assert!(Instant::now() < deadline, "deliveries: {attempts:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(attempts, vec![1, 2]);
    // after the last one runs out, the server's advisory moves the item to the dead
    // letters: never delivered again, counted as dead
    let series = "gatewayd_queue_depth{vendor=\"liberty\",state=\"dead\"}";
    let deadline = Instant::now() + Duration::from_secs(30);
    while d.metric(series) < 1.0 {
        assert!(
            Instant::now() < deadline,
            "no dead letter:\n{}",
            d.log_text()
        );
        assert!(lease(&d).is_empty(), "delivered a third time");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(lease(&d).is_empty());
    assert!(d.log_text().contains("moved to the dead letters"));
    drop(d);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The segments of an X12 file (`~` terminated), trimmed.
fn segments(body: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(body)
        .split('~')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The STC after a claim's TRN in 277CA segments.
fn stc_of(segs: &[String], claim: &str) -> String {
    let at = segs
        .iter()
        .position(|s| *s == format!("TRN*2*{claim}"))
        .expect("the claim's TRN");
    let stc: Vec<&str> = segs[at + 1].split('*').collect();
    assert_eq!(stc[0], "STC");
    stc[1].to_string()
}

#[test]
fn the_same_claim_through_two_gateways_is_a_duplicate_at_the_second() {
    let Some((dir, server, urls)) = one_server(
        "the_same_claim_through_two_gateways_is_a_duplicate_at_the_second",
        "nats-claims",
    ) else {
        return;
    };
    let partners = "[[partner]]\nid = \"demo\"\n";
    let a = gateway(&dir.join("a"), &urls, "gw-a", 1, partners);
    let b = gateway(&dir.join("b"), &urls, "gw-b", 1, partners);
    let data = std::fs::read(repo().join("fixtures/ack277/two-providers.x12")).unwrap();
    // first to B in an interchange the TA1 rejects (IEA02 is not its ISA13): its claims
    // are not accepted, and their keys go back
    let broken = String::from_utf8(renumber(&data, 739_999))
        .unwrap()
        .replace("IEA*1*000739999", "IEA*1*000739990");
    drop_file(&b.inbox("demo"), "broken.x12", broken.as_bytes());
    settle(&b, 1, 60);
    assert_eq!(
        outcomes(&b, "demo"),
        BTreeMap::from([("rejected".to_string(), 1)])
    );
    // the same claims under two ISA13s: not a duplicate interchange, duplicate claims
    drop_file(&a.inbox("demo"), "first.x12", &renumber(&data, 740_000));
    settle(&a, 1, 60);
    drop_file(&b.inbox("demo"), "second.x12", &renumber(&data, 740_001));
    settle(&b, 2, 60);
    let ack = |d: &Daemon, isa13: &str| -> Vec<String> {
        let out = outbox_files(&d.outbox("demo"));
        let (_, body) = out
            .iter()
            .find(|(k, _)| k.starts_with(&format!("277CA-{isa13}-")))
            .unwrap_or_else(|| panic!("no 277CA for {isa13}: {:?}", out.keys()));
        segments(body)
    };
    let first = ack(&a, "000740000");
    assert_eq!(stc_of(&first, "ACK0001"), "A2:20");
    assert_eq!(stc_of(&first, "ACK0002"), "A2:20");
    let second = ack(&b, "000740001");
    assert_eq!(stc_of(&second, "ACK0001"), "A3:54");
    assert_eq!(stc_of(&second, "ACK0002"), "A3:54");
    assert!(!second.iter().any(|s| s.starts_with("REF*1K*")));
    // nothing of the second queued: kept from every vendor as duplicates
    let db = b.db();
    let q = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(q("SELECT COUNT(*) FROM queue"), 0);
    assert_eq!(
        q("SELECT COUNT(*) FROM claim_rejects WHERE json_extract(item, '$.rejected_by_277ca') = '[\"A3:54\"]'"),
        2
    );
    // the vendors see the first acceptance only
    let mut deliveries = drain(&a);
    deliveries.extend(drain(&b));
    let (got, repeats) = dedupe(&deliveries);
    assert_eq!(repeats, 0);
    let ids: Vec<&str> = got.iter().map(|g| g.2.as_str()).collect();
    assert_eq!(ids, ["ACK0001", "ACK0002"], "{got:?}");
    drop(a);
    drop(b);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_gone_gateways_recorded_file_is_taken_over_by_another() {
    if binary_or_skip("a_gone_gateways_recorded_file_is_taken_over_by_another").is_none() {
        return;
    }
    takeover("raw");
}

#[test]
fn a_file_a_gone_gateway_was_reading_is_taken_over_with_its_keys() {
    if binary_or_skip("a_file_a_gone_gateway_was_reading_is_taken_over_with_its_keys").is_none() {
        return;
    }
    takeover("interchange_end");
}

#[test]
fn acknowledgments_a_gone_gateway_recorded_are_written_once_as_recorded() {
    if binary_or_skip("acknowledgments_a_gone_gateway_recorded_are_written_once_as_recorded")
        .is_none()
    {
        return;
    }
    takeover("ack_recorded");
}

#[test]
fn acknowledgments_a_gone_gateway_wrote_in_part_are_completed_once() {
    if binary_or_skip("acknowledgments_a_gone_gateway_wrote_in_part_are_completed_once").is_none() {
        return;
    }
    takeover("ack_written");
}

/// Gateway A records a file of two interchanges (an 837 with two claims, a 278) and is
/// `kill -9`ed at the pipeline's test pause `point` (`raw`: only the raw copy and the
/// file's record are in the cluster; `interchange_end`: the 837's interchange key and
/// claim keys are created too, nothing is committed; `ack_recorded`: the 837's
/// interchange is committed and its acknowledgments recorded in the cluster, none
/// written; `ack_written`: the first of them written too), its data dir deleted; gateway B, on the same cluster and writing the same
/// partner outbox, takes the file over. What A recorded reaches the outbox as A made
/// it (its names, its ISA13s), once.
fn takeover(point: &str) {
    let dir = temp_dir(&format!("nats-takeover-{point}"));
    let server = NatsServer::start(&dir.join("nats"));
    let urls = format!("[{:?}]", server.url());
    // both gateways write the partner's acknowledgments to one outbox
    let outbox = dir.join("outbox");
    std::fs::create_dir_all(&outbox).unwrap();
    let partners = format!(
        "[[partner]]\nid = \"demo\"\noutbox = {:?}\n",
        outbox.display().to_string()
    );
    let timing = "heartbeat_seconds = 1\ntakeover_after_seconds = 3\n";
    let start = |name: &str, env: &[(&str, &str)]| -> Daemon {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        let port = free_port();
        let mut text = config_text(&d, port, &partners);
        text.insert_str(0, "store = \"nats\"\n");
        text.push_str(&nats_config(&urls, Some(&format!("gw-{name}")), timing));
        Daemon::start_config_env(&d, &text, port, None, env)
    };
    // A records the file (raw copy in the object store, record in KV) and stops there
    let pause = format!("{point}=600000");
    let mut a = start("a", &[("GATEWAYD_TEST_PAUSE", &pause)]);
    let b = start("b", &[]);
    let mut data = renumber(
        &std::fs::read(repo().join("fixtures/ack277/two-providers.x12")).unwrap(),
        750_000,
    );
    data.extend(renumber(
        &std::fs::read(repo().join("fixtures/routing/ex03-pcs.x12")).unwrap(),
        750_001,
    ));
    let expected = {
        let mut e = Oracle::new().expect(&data).items;
        e.sort();
        e
    };
    assert!(expected.len() >= 3, "{expected:?}");
    drop_file(&a.inbox("demo"), "batch.x12", &data);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !a.log_text().contains(&format!("test pause at {point}")) {
        assert!(
            Instant::now() < deadline,
            "A never paused:\n{}",
            a.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // what A owes, as it made it (committed in its store before the pause)
    let owed: Vec<(String, Vec<u8>)> = {
        let db = a.db();
        let mut st = db
            .prepare("SELECT name, body FROM acks ORDER BY id")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    if point.starts_with("ack_") {
        let names: Vec<&String> = owed.iter().map(|o| &o.0).collect();
        assert!(
            names.iter().any(|n| n.starts_with("999-000750000-"))
                && names.iter().any(|n| n.starts_with("277CA-000750000-")),
            "{names:?}"
        );
    } else {
        assert!(owed.is_empty());
    }
    // A dies for good: kill -9, its data dir gone
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    let killed = Instant::now();
    std::fs::remove_dir_all(dir.join("a/var")).unwrap();
    // A wrote nothing, or (`ack_written`) the first file it recorded
    let written_by_a = outbox_files(&outbox);
    assert_eq!(
        written_by_a.len(),
        usize::from(point == "ack_written"),
        "{:?}",
        written_by_a.keys()
    );
    // the partner collects what is there (B must not write it again)
    for name in written_by_a.keys() {
        std::fs::remove_file(outbox.join(name)).unwrap();
    }
    // B takes the file over once A's heartbeat ran out, and processes it
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n: i64 = b
            .db()
            .query_row("SELECT COUNT(*) FROM nats_takeover", [], |r| r.get(0))
            .unwrap_or(0);
        if n == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "no takeover:\n{}", b.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    let took = killed.elapsed();
    settle(&b, 1, 60);
    // every item at its vendor exactly once
    let deliveries = drain(&b);
    let (got, repeats) = dedupe(&deliveries);
    assert_eq!(repeats, 0);
    assert_eq!(got, expected);
    // the acknowledgments once each: one 999 per interchange, the 837's 277CA (what
    // the partner collected after A wrote it is not written again)
    let left = outbox_files(&outbox);
    for name in written_by_a.keys() {
        assert!(!left.contains_key(name), "{name} written again");
    }
    let mut out = left;
    out.extend(written_by_a.clone());
    let count = |p: &str| out.keys().filter(|k| k.starts_with(p)).count();
    assert_eq!(count("999-000750000-"), 1, "{:?}", out.keys());
    assert_eq!(count("999-000750001-"), 1, "{:?}", out.keys());
    assert_eq!(count("277CA-000750000-"), 1, "{:?}", out.keys());
    assert_eq!(count("277CA-"), 1, "{:?}", out.keys());
    assert_eq!(count("TA1-"), 0, "{:?}", out.keys());
    // what A recorded is written as A made it: the same names, the same bytes (ISA13)
    for (name, body) in &owed {
        assert_eq!(out.get(name), Some(body), "{name} not as A made it");
    }
    // no ISA13 twice
    let mut isa13s: Vec<String> = out
        .values()
        .filter(|b| b.starts_with(b"ISA"))
        .map(|b| String::from_utf8_lossy(&b[90..99]).into_owned())
        .collect();
    let all = isa13s.len();
    isa13s.sort();
    isa13s.dedup();
    assert_eq!(isa13s.len(), all, "{:?}", out.keys());
    // the keys A created are the new run's: the interchanges and claims are accepted
    let (_, ack) = out
        .iter()
        .find(|(k, _)| k.starts_with("277CA-000750000-"))
        .unwrap();
    let segs = segments(ack);
    assert_eq!(stc_of(&segs, "ACK0001"), "A2:20");
    assert_eq!(stc_of(&segs, "ACK0002"), "A2:20");
    assert_eq!(
        outcomes(&b, "demo"),
        BTreeMap::from([("accepted".to_string(), 2)])
    );
    // B's scan after the takeover finds nothing more to take
    std::thread::sleep(Duration::from_secs(2));
    let n: i64 = b
        .db()
        .query_row("SELECT COUNT(*) FROM files", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
    let log = b.log_text();
    assert!(log.contains("took over a gone instance's file"), "{log}");
    eprintln!("takeover test: taken over {took:?} after the kill");
    drop(b);
    drop(a);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// ISA13 of an interchange's text.
fn isa13(x12: &[u8]) -> String {
    String::from_utf8_lossy(x12)
        .split('*')
        .nth(13)
        .unwrap_or_default()
        .to_string()
}

/// A real-time request answered pended before its gateway's pipeline has taken any
/// number: the 278 response's ISA13 comes from a block of the cluster's counter, as
/// every acknowledgment's does. It came from the store's own count, which starts at 1
/// on every gateway: the same ISA13 as another gateway's first acknowledgment, and on
/// a loaded machine the same file name as the pipeline's own answer to the request,
/// whose recording then failed again and again.
#[test]
fn a_pended_real_time_answer_takes_its_number_from_the_cluster() {
    let Some((dir, server, urls)) = one_server(
        "a_pended_real_time_answer_takes_its_number_from_the_cluster",
        "nats-rt-number",
    ) else {
        return;
    };
    let token = "rt-partner";
    let partner = format!(
        "eligibility_file = {:?}\n[realtime]\nanswer_within_ms = 1\n[[partner]]\nid = \"demo\"\ntoken_sha256 = \"{}\"\n",
        repo().join("fixtures/routing/eligibility.csv").display().to_string(),
        gatewayd::daemon::config::token_hash(token)
    );
    let request = |n: u32| {
        renumber(
            &std::fs::read(repo().join("fixtures/valid/278/pharmacy.x12")).unwrap(),
            n,
        )
    };
    // gateway A acknowledges a file first: the cluster's first block is A's
    let a = gateway(&dir.join("a"), &urls, "gwa", 1, &partner);
    drop_file(&a.inbox("demo"), "first.x12", &request(9501));
    settle(&a, 1, 60);
    let a_numbers: Vec<String> = outbox_files(&a.outbox("demo"))
        .values()
        .map(|b| isa13(b))
        .collect();
    assert!(
        a_numbers.contains(&"000000001".to_string()),
        "{a_numbers:?}"
    );
    // gateway B's pipeline holds every file before reading it, so the real-time answer
    // (past its 1 ms) is pended and is the first number B takes
    let b = gateway_env(
        &dir.join("b"),
        &urls,
        "gwb",
        1,
        &partner,
        &[("GATEWAYD_TEST_PAUSE", "raw=3000")],
    );
    let mut r = b
        .agent
        .post(&b.url("/v1/realtime/278"))
        .header("Authorization", &format!("Bearer {token}"))
        .send(&request(9502)[..])
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let answer = r.body_mut().read_to_vec().unwrap();
    assert!(
        String::from_utf8_lossy(&answer).contains("HCR*A4"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let pended = isa13(&answer);
    assert!(
        !a_numbers.contains(&pended),
        "{pended} is also A's: {a_numbers:?}"
    );
    // B's pipeline then answers the request itself, under a number of its own
    settle(&b, 1, 60);
    let b_out = outbox_files(&b.outbox("demo"));
    let mut all: Vec<String> = b_out.values().map(|v| isa13(v)).collect();
    assert!(all.contains(&pended), "{all:?}");
    assert!(
        b_out
            .values()
            .any(|v| String::from_utf8_lossy(v).contains("HCR*A1")),
        "{:?}",
        b_out.keys()
    );
    all.extend(a_numbers);
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), n, "an ISA13 given twice: {all:?}");
    drop(a);
    drop(b);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
