//! Stateless gateways on NATS JetStream, with the real `gatewayd` binary and a real
//! nats-server: what an instance took outlives it. Each test `kill -9`s a gateway and
//! deletes its data dir, then works through the others:
//!
//! - decisions on an item the gone gateway took are adopted by live ones (a pend by
//!   one, which then dies too; the approval by another, once, with two asked at the
//!   same time): each 278 response reaches the partner's outbox once, and PA inquiry
//!   through any gateway shows the decided status with the request's whole history;
//! - a request the gone gateway took keeps its history through another, and a
//!   follow-up quoting the number its vendor issued goes to that vendor;
//! - attachments uploaded through the gone gateway are fetched through another by the
//!   vendors whose items list them (only those), and linked to a claim that comes
//!   through another; one uploaded through another after it is gone is listed on the
//!   gone gateway's item that cites it and fetched by that item's vendor;
//! - acknowledgments too large to keep in a KV value (an 837 batch's 277CAs), recorded
//!   by the gone gateway but not written, reach the outbox through another as the gone
//!   one made them.
//!
//! Each skips loudly without nats-server, except under `CI=true`.

mod daemon_support;

use daemon_support::nats::{binary_or_skip, NatsServer};
use daemon_support::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The partner's token in these tests.
const PARTNER_TOKEN: &str = "tok-demo";

/// Gateways on one nats-server, writing partner `demo`'s files to one outbox.
struct Gateways {
    dir: PathBuf,
    urls: String,
    outbox: PathBuf,
    _server: NatsServer,
}

impl Gateways {
    fn new(name: &str) -> Gateways {
        let dir = temp_dir(name);
        let server = NatsServer::start(&dir.join("nats"));
        let urls = format!("[{:?}]", server.url());
        let outbox = dir.join("outbox");
        std::fs::create_dir_all(&outbox).unwrap();
        Gateways {
            dir,
            urls,
            outbox,
            _server: server,
        }
    }

    /// Starts gateway `gw-<name>` (its data dir under `<dir>/<name>`).
    fn start(&self, name: &str) -> Daemon {
        self.start_env(name, &[])
    }

    /// Starts gateway `gw-<name>` with environment variables `env`.
    fn start_env(&self, name: &str, env: &[(&str, &str)]) -> Daemon {
        let d = self.dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        let port = free_port();
        let partners = format!(
            "[[partner]]\nid = \"demo\"\noutbox = {:?}\ntoken_sha256 = \"{}\"\n",
            self.outbox.display().to_string(),
            gatewayd::daemon::config::token_hash(PARTNER_TOKEN)
        );
        let mut text = config_text(&d, port, &partners);
        text.insert_str(0, "store = \"nats\"\n");
        text.push_str(&nats_config(
            &self.urls,
            Some(&format!("gw-{name}")),
            "heartbeat_seconds = 1\ntakeover_after_seconds = 3\n",
        ));
        Daemon::start_config_env(&d, &text, port, None, env)
    }

    /// `kill -9`s a gateway and deletes its data dir.
    fn destroy(&self, mut d: Daemon) {
        d.child.kill().unwrap();
        d.child.wait().unwrap();
        std::fs::remove_dir_all(d.dir.join("var")).unwrap();
        assert!(!Path::new(&d.dir.join("var")).exists());
    }
}

/// Waits until every PA status of `d` is in the cluster (its mirror has run).
fn mirrored(d: &Daemon) {
    let db = d.db();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let behind: i64 = db
            .query_row(
                "SELECT COUNT(*) FROM pa_status p WHERE NOT EXISTS
                   (SELECT 1 FROM nats_pa m WHERE m.pa_id = p.id AND m.status = p.status)",
                [],
                |r| r.get(0),
            )
            .unwrap_or(1);
        let all: i64 = db
            .query_row("SELECT COUNT(*) FROM pa_status", [], |r| r.get(0))
            .unwrap_or(0);
        if all > 0 && behind == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "not mirrored:\n{}", d.log_text());
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The 278 responses in `outbox`: (name, body).
fn responses(outbox: &Path) -> Vec<(String, Vec<u8>)> {
    outbox_files(outbox)
        .into_iter()
        .filter(|(k, _)| k.starts_with("278-"))
        .collect()
}

/// The log of `d` shows no patient name, member id or date of birth of the fixtures.
fn assert_no_phi(d: &Daemon) {
    let log = d.log_text();
    assert!(log.contains("gatewayd serving"), "{log}");
    for p in [
        "TESTPATIENT",
        "NCRT0001",
        "NCAT0001",
        "900000001A",
        "19800101",
    ] {
        assert!(!log.contains(p), "the log shows `{p}`:\n{log}");
    }
}

fn events(result: &Value) -> Vec<String> {
    result["history"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|h| h["event"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_decision_on_a_gone_gateways_item_is_adopted_once() {
    if binary_or_skip("a_decision_on_a_gone_gateways_item_is_adopted_once").is_none() {
        return;
    }
    let g = Gateways::new("stateless-decision");
    let a = g.start("a");
    let b = g.start("b");
    let c = g.start("c");
    let d = g.start("d");
    // A takes a 278 request; the vendor leases it through A
    let pcs = std::fs::read(repo().join("fixtures/routing/ex03-pcs.x12")).unwrap();
    drop_file(&a.inbox("demo"), "pcs.x12", &pcs);
    a.wait_files(1);
    mirrored(&a);
    let items = a.lease_all("liberty");
    assert_eq!(items.len(), 1, "{items:?}");
    let item = &items[0];
    assert_eq!(item["instance"], "gw-a");
    assert_eq!(item["transaction"], "278");
    let tracking = item["item"]["trace_number"].as_str().unwrap().to_string();
    let before = outbox_files(&g.outbox);
    assert!(responses(&g.outbox).is_empty(), "{:?}", before.keys());
    // A dies for good
    g.destroy(a);
    // a refused decision is refused as A would have refused it, and changes nothing
    let liberty = token("liberty");
    let (s, r) = b.post(
        "/v1/decisions",
        Some(&liberty),
        json!({"item_id": item["id"], "instance": "gw-a", "decision": "approve"}),
    );
    assert_eq!(s, 400, "a certification number is required: {r}");
    let (s, r) = b.post(
        "/v1/decisions",
        Some(&token("csra")),
        json!({"item_id": item["id"], "instance": "gw-a", "decision": "pend"}),
    );
    assert_eq!(s, 404, "another vendor's item: {r}");
    // the vendor pends it through B: B adopts the request
    let (s, r) = b.post(
        "/v1/decisions",
        Some(&liberty),
        json!({"item_id": item["id"], "instance": "gw-a", "decision": "pend"}),
    );
    assert_eq!((s, r["status"].as_str()), (200, Some("pended")), "{r}");
    let pended = r["response"].as_str().unwrap().to_string();
    assert_eq!(responses(&g.outbox).len(), 1);
    assert!(outbox_files(&g.outbox).contains_key(&pended));
    let (s, v) = c.get_json(&format!("/v1/pa/{tracking}"), Some(PARTNER_TOKEN));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["results"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["results"][0]["status"], "pended", "{v}");
    assert_eq!(events(&v["results"][0]), ["queued", "pended"], "{v}");
    // B dies for good too; the vendor approves through C and D at the same time: one
    // adopts, once
    g.destroy(b);
    let decision = json!({"item_id": item["id"], "instance": "gw-a", "decision": "approve",
        "certification_number": "PA77", "effective": "20230301", "expires": "20230601"});
    let (rc, rd) = std::thread::scope(|s| {
        let hc = s.spawn(|| c.post("/v1/decisions", Some(&liberty), decision.clone()));
        let hd = s.spawn(|| d.post("/v1/decisions", Some(&liberty), decision.clone()));
        (hc.join().unwrap(), hd.join().unwrap())
    });
    let mut statuses = [rc.0, rd.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "C: {rc:?}\nD: {rd:?}");
    let (adopter, other, answer) = if rc.0 == 200 {
        (&c, &d, rc.1)
    } else {
        (&d, &c, rd.1)
    };
    assert_eq!(answer["status"], "approved", "{answer}");
    assert_eq!(answer["item_id"], item["id"]);
    let name = answer["response"].as_str().unwrap().to_string();
    assert!(name.starts_with("278-000006003-RT6003-"), "{name}");
    // each response is in the outbox once: the pend's and the approval's, valid 278
    // responses with the decision
    let found = responses(&g.outbox);
    let names: Vec<&String> = found.iter().map(|f| &f.0).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names.contains(&&pended) && names.contains(&&name),
        "{names:?}"
    );
    let approval = &found.iter().find(|f| f.0 == name).unwrap().1;
    let text = String::from_utf8_lossy(approval).into_owned();
    assert!(text.contains("HCR*A1*PA77"), "{text}");
    let validator = gatewayd::guides::validator();
    let mut tree = x12_core::schema::LoopTree::default();
    let mut sets = 0;
    for it in x12_core::Reader::new(&approval[..]) {
        if let x12_core::Item::Transaction(s) = it.unwrap() {
            let (guide, issues) = validator.check_set(&s, &mut tree);
            assert_eq!(guide.map(|g| g.id.as_str()), Some("278RESP"));
            assert!(!issues.iter().any(|i| i.is_error()), "{issues:?}");
            sets += 1;
        }
    }
    assert_eq!(sets, 1);
    // decided once: again, or otherwise, through either is a conflict
    for d in [&c, &d] {
        let (s, r) = d.post(
            "/v1/decisions",
            Some(&liberty),
            json!({"item_id": item["id"], "instance": "gw-a", "decision": "deny", "reason": "AD"}),
        );
        assert_eq!(s, 409, "{r}");
    }
    assert_eq!(responses(&g.outbox).len(), 2);
    // PA inquiry through either shows the decided status with the whole history, once
    for d in [adopter, other] {
        let (s, v) = d.get_json(&format!("/v1/pa/{tracking}"), Some(PARTNER_TOKEN));
        assert_eq!(s, 200, "{v}");
        let results = v["results"].as_array().cloned().unwrap_or_default();
        assert_eq!(results.len(), 1, "{v}");
        let r = &results[0];
        assert_eq!(r["status"], "approved", "{v}");
        assert_eq!(r["certification"], "PA77");
        assert_eq!(r["effective"], "20230301");
        assert_eq!(r["vendor"], "liberty");
        assert_eq!(events(r), ["queued", "pended", "approved"], "{v}");
        let (s, v) = d.get_json("/v1/pa/PA77", Some(PARTNER_TOKEN));
        assert_eq!(
            (s, v["results"][0]["bht03"].as_str()),
            (200, Some("RT6003"))
        );
    }
    // the adopter holds the request in its own store now
    let status: String = adopter
        .db()
        .query_row(
            "SELECT status FROM pa_status WHERE certification = 'PA77'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(status, "approved");
    assert_no_phi(&c);
    assert_no_phi(&d);
    drop(c);
    drop(d);
    let _ = std::fs::remove_dir_all(&g.dir);
}

#[test]
fn a_gone_gateways_requests_keep_their_history_and_their_vendor() {
    if binary_or_skip("a_gone_gateways_requests_keep_their_history_and_their_vendor").is_none() {
        return;
    }
    let g = Gateways::new("stateless-pa");
    let a = g.start("a");
    let b = g.start("b");
    // A takes a 278 request; the vendor pends, then approves it through A
    let pcs = std::fs::read(repo().join("fixtures/routing/ex03-pcs.x12")).unwrap();
    drop_file(&a.inbox("demo"), "pcs.x12", &pcs);
    a.wait_files(1);
    mirrored(&a);
    let items = a.lease_all("liberty");
    assert_eq!(items.len(), 1, "{items:?}");
    let tracking = items[0]["item"]["trace_number"]
        .as_str()
        .unwrap()
        .to_string();
    let liberty = token("liberty");
    for (decision, status) in [
        (json!({"decision": "pend"}), "pended"),
        (
            json!({"decision": "approve", "certification_number": "PA20230001"}),
            "approved",
        ),
    ] {
        let mut body = decision;
        body["item_id"] = items[0]["id"].clone();
        body["instance"] = json!("gw-a");
        let (s, r) = a.post("/v1/decisions", Some(&liberty), body);
        assert_eq!((s, r["status"].as_str()), (200, Some(status)), "{r}");
    }
    mirrored(&a);
    // A dies for good
    g.destroy(a);
    // B shows the request's whole history
    for number in [tracking.as_str(), "PA20230001", "RT6003"] {
        let (s, v) = b.get_json(&format!("/v1/pa/{number}"), Some(PARTNER_TOKEN));
        assert_eq!(s, 200, "{v}");
        let results = v["results"].as_array().cloned().unwrap_or_default();
        assert_eq!(results.len(), 1, "{v}");
        assert_eq!(results[0]["status"], "approved", "{v}");
        assert_eq!(results[0]["instance"], "gw-a", "{v}");
        assert_eq!(events(&results[0]), ["queued", "pended", "approved"], "{v}");
        let details: Vec<&str> = results[0]["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["detail"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(details[2], "A1 certification PA20230001", "{v}");
    }
    // a follow-up quoting the number A's vendor issued, through B, goes to that vendor
    let ext = std::fs::read(repo().join("fixtures/routing/sticky-extension.x12")).unwrap();
    drop_file(&b.inbox("demo"), "extension.x12", &ext);
    b.wait_files(1);
    let follow = b.lease_all("liberty");
    assert_eq!(follow.len(), 1, "{follow:?}");
    assert_eq!(follow[0]["pa_type"], "pcs");
    assert_eq!(follow[0]["instance"], "gw-b");
    assert!(b.lease_all("csra").is_empty());
    assert_no_phi(&b);
    drop(b);
    let _ = std::fs::remove_dir_all(&g.dir);
}

fn pdf(tag: &str) -> Vec<u8> {
    format!("%PDF-1.4\n% attachment {tag}\n%%EOF\n").into_bytes()
}

fn upload(d: &Daemon, control: &str, body: &[u8]) -> Value {
    let (s, v) = d.post_bytes(
        &format!(
            "/v1/attachments?control_number={}",
            control.replace('/', "%2F")
        ),
        Some(PARTNER_TOKEN),
        body,
    );
    assert!(s == 201 || s == 200, "{s} {v}");
    v
}

/// Every item of every vendor leased through `d`: (vendor, item).
fn lease_everything(d: &Daemon) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for v in vendors() {
        for item in d.lease_all(&v) {
            out.push((v.clone(), item));
        }
    }
    out
}

fn attachment_ids(item: &Value) -> Vec<i64> {
    item["attachments"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect()
}

/// GETs an attachment as `vendor` from its own queue: status and bytes.
fn fetch(d: &Daemon, vendor: &str, id: i64) -> (u16, Vec<u8>) {
    let r = d
        .agent
        .get(&d.url(&format!("/v1/queues/{vendor}/attachments/{id}")))
        .header("Authorization", &format!("Bearer {}", token(vendor)))
        .call();
    match r {
        Ok(mut r) => (
            r.status().as_u16(),
            r.body_mut().read_to_vec().unwrap_or_default(),
        ),
        Err(ureq::Error::StatusCode(s)) => (s, Vec::new()),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn attachments_uploaded_through_a_gone_gateway_are_linked_and_fetched_through_another() {
    if binary_or_skip(
        "attachments_uploaded_through_a_gone_gateway_are_linked_and_fetched_through_another",
    )
    .is_none()
    {
        return;
    }
    let g = Gateways::new("stateless-attachments");
    let a = g.start("a");
    let b = g.start("b");
    // through A: the event's evaluation and the DME service's CMN before their 278,
    // and a claim's document before its 837
    let (eval, cmn, claim_doc) = (pdf("eval"), pdf("cmn"), pdf("claim"));
    let eval_up = upload(&a, "EV7001EL", &eval);
    let cmn_up = upload(&a, "CMN7001BM", &cmn);
    let claim_up = upload(&a, "CLM8001BM", &claim_doc);
    for u in [&eval_up, &cmn_up, &claim_up] {
        assert_eq!(u["state"], "pending", "{u}");
    }
    let id = |v: &Value| v["attachment_id"].as_i64().unwrap();
    let (eval_id, cmn_id, claim_id) = (id(&eval_up), id(&cmn_up), id(&claim_up));
    let request = renumber(
        &std::fs::read(repo().join("fixtures/attachments/278-pwk-fax-mail.x12")).unwrap(),
        896_001,
    );
    drop_file(&a.inbox("demo"), "pa.x12", &request);
    a.wait_files(1);
    mirrored(&a);
    // the split request's two vendors lease their parts through A
    let parts = lease_everything(&a);
    assert_eq!(parts.len(), 2, "{parts:?}");
    let dme = parts
        .iter()
        .find(|(_, i)| i["item"]["work_item"]["services"] == json!(["5"]))
        .expect("the DME part");
    let therapy = parts
        .iter()
        .find(|(_, i)| i["item"]["work_item"]["services"] == json!(["6"]))
        .expect("the therapy part");
    let mut want = vec![eval_id, cmn_id];
    want.sort();
    assert_eq!(attachment_ids(&dme.1), want);
    assert_eq!(attachment_ids(&therapy.1), vec![eval_id]);
    // A dies for good
    g.destroy(a);
    // each vendor fetches what its part lists through B, the bytes as uploaded; never
    // the other part's
    assert_eq!(fetch(&b, &dme.0, cmn_id), (200, cmn.clone()));
    assert_eq!(fetch(&b, &dme.0, eval_id), (200, eval.clone()));
    assert_eq!(fetch(&b, &therapy.0, eval_id), (200, eval.clone()));
    assert_eq!(fetch(&b, &therapy.0, cmn_id).0, 404);
    assert_eq!(fetch(&b, &therapy.0, claim_id).0, 404);
    // PA inquiry through B lists the request's attachments
    let (s, v) = b.get_json("/v1/pa/AT7001EV", Some(PARTNER_TOKEN));
    assert_eq!(s, 200, "{v}");
    for r in v["results"].as_array().unwrap() {
        let mut ids = attachment_ids(r);
        ids.sort();
        let mut all = vec![eval_id, cmn_id];
        all.sort();
        assert_eq!(ids, all, "{r}");
    }
    // an upload through B after A is gone, of a number A's request cites: linked at
    // once, listed on the part that cites it when it is leased again through B, and
    // fetched through B by that part's vendor only
    let poc = pdf("poc");
    let poc_up = upload(&b, "POC/7001", &poc);
    assert_eq!(poc_up["state"], "linked", "{poc_up}");
    let poc_id = id(&poc_up);
    let (s, r) = b.post(
        &format!("/v1/queues/{}/nack", therapy.0),
        Some(&token(&therapy.0)),
        json!({"receipts": [therapy.1["receipt"]]}),
    );
    assert_eq!((s, r["done"].as_i64()), (200, Some(1)), "{r}");
    let again = b.lease_all(&therapy.0);
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0]["instance"], "gw-a");
    let mut want = vec![eval_id, poc_id];
    want.sort();
    assert_eq!(attachment_ids(&again[0]), want);
    assert_eq!(fetch(&b, &therapy.0, poc_id), (200, poc.clone()));
    assert_eq!(fetch(&b, &dme.0, poc_id).0, 404);
    // the claim citing A's pending upload comes through B: linked, listed, fetched
    let claim = renumber(
        &std::fs::read(repo().join("fixtures/attachments/837p-pwk-fax-mail.x12")).unwrap(),
        896_101,
    );
    drop_file(&b.inbox("demo"), "claim.x12", &claim);
    b.wait_files(1);
    let state: String = b
        .db()
        .query_row(
            "SELECT state FROM attachments WHERE id = ?1",
            [claim_id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(state, "linked");
    let items = lease_everything(&b);
    let (vendor, item) = items
        .iter()
        .find(|(_, i)| attachment_ids(i).contains(&claim_id))
        .unwrap_or_else(|| panic!("no item lists the claim's upload: {items:?}"));
    assert!(
        item["transaction"].as_str().unwrap().starts_with("837"),
        "{item}"
    );
    assert_eq!(fetch(&b, vendor, claim_id), (200, claim_doc.clone()));
    // the same bytes again through B: the same attachment, linked now
    let again = upload(&b, "CLM8001BM", &claim_doc);
    assert_eq!(again["attachment_id"].as_i64(), Some(claim_id), "{again}");
    assert_eq!(again["state"], "linked", "{again}");
    assert_no_phi(&b);
    drop(b);
    let _ = std::fs::remove_dir_all(&g.dir);
}

#[test]
fn large_acknowledgments_a_gone_gateway_recorded_are_written_as_recorded() {
    if binary_or_skip("large_acknowledgments_a_gone_gateway_recorded_are_written_as_recorded")
        .is_none()
    {
        return;
    }
    let g = Gateways::new("stateless-large-acks");
    // A stops once the first interchange's acknowledgments are in the cluster
    let a = g.start_env("a", &[("GATEWAYD_TEST_PAUSE", "ack_recorded=600000")]);
    let b = g.start("b");
    let o = fixtures::generate::Options::new(fixtures::generate::Kind::Professional837, 1_500_000)
        .with_seed(11);
    let data = renumber(&fixtures::generate::generate_to_vec(&o), 760_000);
    drop_file(&a.inbox("demo"), "claims.x12", &data);
    let deadline = Instant::now() + Duration::from_secs(180);
    while !a.log_text().contains("test pause at ack_recorded") {
        assert!(
            Instant::now() < deadline,
            "A never paused:\n{}",
            a.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
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
    // the group is over what a KV value holds inline: its bytes are an object
    let total: usize = owed.iter().map(|o| o.1.len()).sum();
    assert!(
        total > 512 * 1024,
        "{total} bytes: {:?}",
        owed.iter().map(|o| &o.0).collect::<Vec<_>>()
    );
    assert!(owed.iter().any(|o| o.0.starts_with("277CA-000760000-")));
    g.destroy(a);
    assert!(outbox_files(&g.outbox).is_empty());
    // B takes the file over and writes what A recorded, as A made it, once
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let out = outbox_files(&g.outbox);
        if owed.iter().all(|(n, _)| out.contains_key(n))
            && b.db()
                .query_row("SELECT COUNT(*) FROM files WHERE state = 'done'", [], |r| {
                    r.get::<_, i64>(0)
                })
                .unwrap_or(0)
                == 1
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{:?}\n{}",
            out.keys(),
            b.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = outbox_files(&g.outbox);
    for (name, body) in &owed {
        assert!(out.get(name) == Some(body), "{name} not as A made it");
    }
    // the first interchange's files are exactly A's: none made again by B
    let first: std::collections::BTreeSet<&String> =
        out.keys().filter(|k| k.contains("-000760000-")).collect();
    let recorded: std::collections::BTreeSet<&String> = owed.iter().map(|o| &o.0).collect();
    assert_eq!(first, recorded);
    assert_eq!(
        out.keys()
            .filter(|k| k.starts_with("999-000760000-"))
            .count(),
        1
    );
    assert!(
        !out.keys().any(|k| k.starts_with("TA1-")),
        "{:?}",
        out.keys()
    );
    // no ISA13 twice
    let mut isa13s: Vec<String> = out
        .values()
        .map(|b| String::from_utf8_lossy(&b[90..99]).into_owned())
        .collect();
    let all = isa13s.len();
    isa13s.sort();
    isa13s.dedup();
    assert_eq!(isa13s.len(), all);
    assert_no_phi(&b);
    drop(b);
    let _ = std::fs::remove_dir_all(&g.dir);
}
