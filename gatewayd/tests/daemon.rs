//! The real `gatewayd` binary, end to end: files into an inbox, TA1/999 in the outbox,
//! items in the vendor queues over HTTP, duplicates, bad input, leases, SIGTERM, and
//! no PHI in the logs.

mod daemon_support;

use daemon_support::*;
use serde_json::json;
use std::collections::BTreeMap;
use x12_core::{Item, Reader};

/// Every fixture of the brief's list, renumbered so none is a duplicate of another,
/// and a generated 837P and 837I with several claims per set and several subscribers.
fn numbered_fixtures(first: u32) -> Vec<(String, Vec<u8>)> {
    let mut n = first;
    let mut out: Vec<(String, Vec<u8>)> = fixture_files()
        .into_iter()
        .map(|p| {
            let data = renumber(&std::fs::read(&p).unwrap(), n);
            n += 10;
            let name = format!(
                "{}-{}",
                p.parent().unwrap().file_name().unwrap().to_string_lossy(),
                p.file_name().unwrap().to_string_lossy()
            );
            (name, data)
        })
        .collect();
    for (i, kind) in [
        fixtures::generate::Kind::Professional837,
        fixtures::generate::Kind::Institutional837,
    ]
    .into_iter()
    .enumerate()
    {
        let mut o = fixtures::generate::Options::new(kind, 20_000).with_seed(7 + i as u64);
        o.claims_per_set = 12;
        o.sets_per_group = 2;
        let data = renumber(&fixtures::generate::generate_to_vec(&o), n);
        n += 10;
        out.push((format!("generated-{i}.x12"), data));
    }
    out
}

fn segments_of(bytes: &[u8]) -> Vec<String> {
    x12_core::Segments::new(bytes)
        .map(|s| String::from_utf8_lossy(s.segment.as_bytes()).into_owned())
        .collect()
}

#[test]
fn fixtures_flow_to_outbox_and_vendor_queues() {
    let dir = temp_dir("flow");
    let d = Daemon::start(&dir, "");
    // dropped in name order, the order the daemon takes them, so the model knows which
    // claim a later file repeats (277CA A3:54, kept from every vendor)
    let mut files = numbered_fixtures(100_000);
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut oracle = Oracle::new();
    let mut expected_items = Vec::new();
    let mut expected_responses = Vec::new();
    let (mut ta1, mut n999, mut interchanges, mut claim_rejects) = (0, 0, 0, 0);
    let mut n277 = 0;
    for (name, data) in &files {
        let e = oracle.expect(data);
        ta1 += e.ta1;
        n277 += e.acks277;
        n999 += e.acks999;
        interchanges += e.interchanges;
        claim_rejects += e.claim_rejects;
        expected_items.extend(e.items);
        expected_responses.extend(e.responses);
        drop_file(&d.inbox("demo"), name, data);
    }
    expected_items.sort();
    assert!(expected_items.len() >= 40, "{expected_items:?}");
    d.wait_files(files.len() as i64);

    // the outbox: exactly the TA1s due and one 999 per group, none partial
    let out = outbox_files(&d.outbox("demo"));
    assert!(
        out.keys().all(|k| !k.ends_with(".part")),
        "{:?}",
        out.keys()
    );
    let ta1s: Vec<_> = out.keys().filter(|k| k.starts_with("TA1-")).collect();
    let acks: Vec<_> = out.iter().filter(|(k, _)| k.starts_with("999-")).collect();
    assert_eq!(ta1s.len(), ta1, "{:?}", out.keys());
    assert_eq!(acks.len(), n999, "{:?}", out.keys());
    assert!(
        out.keys().all(|k| k.starts_with("TA1-")
            || k.starts_with("999-")
            || k.starts_with("278-")
            || k.starts_with("277CA-")
            || k.starts_with("COVER-")),
        "{:?}",
        out.keys()
    );
    // one 277CA per accepted 837 set, each valid under the 277CA table
    let acks277: Vec<_> = out
        .iter()
        .filter(|(k, _)| k.starts_with("277CA-"))
        .collect();
    assert!(n277 >= 4, "{n277}");
    assert_eq!(acks277.len(), n277, "{:?}", out.keys());
    let mut per_set = std::collections::BTreeSet::new();
    for (name, body) in &acks277 {
        check_277ca(name, body);
        let key: Vec<&str> = name.split('-').take(4).collect();
        assert!(per_set.insert(key), "two 277CAs for one set: {name}");
    }
    // the gateway's own answers (no PA required, pharmacy; the plan gates that reject
    // need an eligibility file, see `answers_without_a_vendor`): one 278 response each, valid under the response guide, with the HCR01 its status calls for
    expected_responses.sort();
    assert!(
        expected_responses.iter().any(|r| r.0 == "no_pa_required")
            && expected_responses.iter().any(|r| r.0 == "approved")
            && expected_responses.iter().any(|r| r.0 == "pended"),
        "{expected_responses:?}"
    );
    let mut got_responses = Vec::new();
    for (name, body) in out.iter().filter(|(k, _)| k.starts_with("278-")) {
        let text = String::from_utf8_lossy(body);
        let validator = gatewayd::guides::validator();
        let mut tree = x12_core::schema::LoopTree::default();
        for it in Reader::new(&body[..]) {
            if let Item::Transaction(s) = it.unwrap() {
                let (guide, issues) = validator.check_set(&s, &mut tree);
                assert_eq!(guide.map(|g| g.id.as_str()), Some("278RESP"), "{name}");
                let errors: Vec<_> = issues.iter().filter(|i| i.is_error()).collect();
                assert!(errors.is_empty(), "{name}: {errors:?}\n{text}");
            }
        }
        let segs = segments_of(body);
        let hcr = segs.iter().find(|s| s.starts_with("HCR")).unwrap();
        let bht03 = segs
            .iter()
            .find(|s| s.starts_with("BHT"))
            .and_then(|s| s.split('*').nth(3))
            .unwrap()
            .to_string();
        let status = match &hcr[4..6] {
            "CT" => "rejected",
            "NA" => "no_pa_required",
            "A1" => "approved",
            "A4" => "pended",
            other => panic!("{name}: HCR01 {other}"),
        };
        got_responses.push((status.to_string(), bht03));
    }
    got_responses.sort();
    assert_eq!(got_responses, expected_responses);
    let db = d.db();
    let recorded: i64 = db
        .query_row("SELECT COUNT(*) FROM claim_rejects", [], |r| r.get(0))
        .unwrap();
    assert_eq!(recorded as usize, claim_rejects);
    for (name, body) in &acks {
        // each 999 is a whole interchange that reads back without envelope errors
        let mut ended = 0;
        for item in Reader::new(&body[..]) {
            if let Item::InterchangeEnd(r) = item.unwrap() {
                assert!(!r.has_errors(), "{name}: {:?}", r.issues);
                ended += 1;
            }
        }
        assert_eq!(ended, 1, "{name}");
        let segs = segments_of(body);
        assert!(
            segs.iter().any(|s| s.starts_with("AK9*A")),
            "{name}: {segs:?}"
        );
        // the file name carries the acknowledged interchange's control number
        let icn: u32 = name.split('-').nth(1).unwrap().parse().unwrap();
        assert!(icn >= 100_000, "{name}");
    }

    // every vendor's queue holds exactly what the routing oracle says, over HTTP
    let mut got = Vec::new();
    for v in vendors() {
        for item in d.lease_all(&v) {
            assert_eq!(item["vendor"], v.as_str());
            let x12 = item["x12"].as_str().unwrap();
            // a leased item is an interchange of its own that reads back cleanly
            let mut sets = 0;
            for it in Reader::new(x12.as_bytes()) {
                match it.unwrap() {
                    Item::Transaction(s) => {
                        assert!(s.is_valid(), "{:?}\n{x12}", s.issues());
                        sets += 1;
                    }
                    Item::InterchangeEnd(r) => assert!(!r.has_errors(), "{:?}\n{x12}", r.issues),
                    _ => {}
                }
            }
            assert_eq!(sets, 1, "{x12}");
            // and is a valid transaction of its own: the guide finds no error in it,
            // and an 837 item holds its one claim
            let validator = gatewayd::guides::validator();
            let mut tree = x12_core::schema::LoopTree::default();
            for it in Reader::new(x12.as_bytes()) {
                if let Item::Transaction(s) = it.unwrap() {
                    let (_, issues) = validator.check_set(&s, &mut tree);
                    let errors: Vec<_> = issues.iter().filter(|i| i.is_error()).collect();
                    assert!(errors.is_empty(), "{errors:?}\n{x12}");
                }
            }
            let clms: Vec<_> = segments_of(x12.as_bytes())
                .into_iter()
                .filter(|s| s.starts_with("CLM"))
                .collect();
            if item["transaction"].as_str().unwrap().starts_with("837") {
                assert_eq!(clms.len(), 1, "{x12}");
                let sep = &clms[0][3..4];
                assert_eq!(
                    clms[0].split(sep).nth(1),
                    item["request_id"].as_str(),
                    "{x12}"
                );
            }
            assert!(item["trace"].is_object(), "{item}");
            assert_eq!(item["item"]["envelope"]["partner"], "demo");
            got.push((
                v.clone(),
                item["transaction"].as_str().unwrap().to_string(),
                item["request_id"].as_str().unwrap().to_string(),
            ));
            let (status, r) = d.post(
                &format!("/v1/queues/{v}/ack"),
                Some(&token(&v)),
                json!({"receipts": [item["receipt"]]}),
            );
            assert_eq!((status, r["done"].as_u64()), (200, Some(1)), "{r}");
        }
    }
    got.sort();
    assert_eq!(got, expected_items);

    // metrics
    assert_eq!(
        d.metric("gatewayd_files_received_total"),
        files.len() as f64
    );
    assert_eq!(
        d.metric("gatewayd_interchanges_total{outcome=\"accepted\"}")
            + d.metric("gatewayd_interchanges_total{outcome=\"partial\"}"),
        interchanges as f64
    );
    let mut per_vendor: BTreeMap<&str, f64> = BTreeMap::new();
    for (v, _, _) in &expected_items {
        *per_vendor.entry(v).or_default() += 1.0;
    }
    for (v, n) in per_vendor {
        assert_eq!(
            d.metric(&format!(
                "gatewayd_transactions_routed_total{{vendor=\"{v}\"}}"
            )),
            n,
            "{v}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_837_gets_its_999_then_a_277ca_with_payer_claim_numbers() {
    let dir = temp_dir("ca277");
    let d = Daemon::start(&dir, "");
    let mut o = fixtures::generate::Options::new(fixtures::generate::Kind::Professional837, 4_000)
        .with_seed(11);
    o.claims_per_set = 3;
    o.sets_per_group = 2;
    let data = renumber(&fixtures::generate::generate_to_vec(&o), 700_000);
    let e = expect(&data);
    assert!(e.acks277 >= 2, "{e:?}");
    drop_file(&d.inbox("demo"), "claims.x12", &data);
    d.wait_files(1);
    let out = outbox_files(&d.outbox("demo"));
    let n999 = out.keys().filter(|k| k.starts_with("999-")).count();
    assert_eq!(n999, e.acks999);
    let acks: Vec<_> = out
        .iter()
        .filter(|(k, _)| k.starts_with("277CA-"))
        .collect();
    assert_eq!(acks.len(), e.acks277, "{:?}", out.keys());
    // written after the 999: its interchange control number is higher
    let ctl = |k: &str| -> u32 {
        k.trim_end_matches(".x12")
            .rsplit('-')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let max999 = out
        .keys()
        .filter(|k| k.starts_with("999-"))
        .map(|k| ctl(k))
        .max()
        .unwrap();
    let mut numbers = Vec::new();
    let clms = segments_of(&data)
        .iter()
        .filter(|s| s.starts_with("CLM*"))
        .count();
    let mut answered = 0;
    for (name, body) in &acks {
        assert!(name.starts_with("277CA-000700000-"), "{name}");
        assert!(ctl(name) > max999, "{name}");
        let segs = check_277ca(name, body);
        for s in &segs {
            if s.starts_with("STC*A2:20*") || s.starts_with("STC*A2>20*") {
                answered += 1;
            }
            if let Some(n) = s.strip_prefix("REF*1K*") {
                numbers.push(n.to_string());
            }
        }
    }
    // every claim accepted, each with its own payer claim control number
    assert_eq!(answered, clms);
    assert_eq!(numbers.len(), clms);
    let distinct: std::collections::BTreeSet<_> = numbers.iter().collect();
    assert_eq!(distinct.len(), clms, "{numbers:?}");
    // the numbers survive a restart: the next file's claims get new ones
    let mut d = d;
    assert!(d.sigterm().success());
    let d = Daemon::start(&dir, "");
    // other claims (the same ones again would be duplicates, rejected A3:54)
    let data2 = renumber(
        &fixtures::generate::generate_to_vec(&o.clone().with_seed(12)),
        700_100,
    );
    let clms2 = segments_of(&data2)
        .iter()
        .filter(|s| s.starts_with("CLM*"))
        .count();
    drop_file(&d.inbox("demo"), "claims2.x12", &data2);
    d.wait_files(2);
    let out = outbox_files(&d.outbox("demo"));
    let mut again = Vec::new();
    for (name, body) in out
        .iter()
        .filter(|(k, _)| k.starts_with("277CA-000700100-"))
    {
        for s in check_277ca(name, body) {
            if let Some(n) = s.strip_prefix("REF*1K*") {
                again.push(n.to_string());
            }
        }
    }
    assert_eq!(again.len(), clms2);
    assert!(again.iter().all(|n| !numbers.contains(n)), "{again:?}");
    let answered: i64 = d
        .db()
        .query_row(
            "SELECT COUNT(*) FROM claim_rejects WHERE state = 'recorded'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(answered, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn provider_findings_reject_the_claim_in_the_277ca() {
    let dir = temp_dir("ca277snip7");
    let providers = repo().join("fixtures/routing/providers.csv");
    let d = Daemon::start(
        &dir,
        &format!("provider_file = {:?}\n", providers.display().to_string()),
    );
    let data = renumber(
        &std::fs::read(repo().join("fixtures/ack277/two-providers.x12")).unwrap(),
        710_000,
    );
    drop_file(&d.inbox("demo"), "two.x12", &data);
    d.wait_files(1);
    let out = outbox_files(&d.outbox("demo"));
    // the 999 accepts the set (the guide finds nothing); the 277CA rejects one claim
    let ack999 = out.iter().find(|(k, _)| k.starts_with("999-")).unwrap().1;
    assert!(segments_of(ack999).iter().any(|s| s.starts_with("AK9*A")));
    let (name, body) = out.iter().find(|(k, _)| k.starts_with("277CA-")).unwrap();
    let segs = check_277ca(name, body);
    let stc: Vec<&String> = segs.iter().filter(|s| s.starts_with("STC*A")).collect();
    let text = segs.join("~");
    assert!(text.contains("TRN*2*ACK0001~STC*A2:20*"), "{text}");
    assert!(text.contains("TRN*2*ACK0002~STC*A8:145:85*"), "{text}");
    assert_eq!(
        segs.iter().filter(|s| s.starts_with("REF*1K*")).count(),
        1,
        "{stc:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn duplicates_get_ta1_025_and_are_never_routed() {
    let dir = temp_dir("dup");
    let d = Daemon::start(&dir, "");
    let data = std::fs::read(repo().join("fixtures/routing/ex02-split-dme-therapies.x12")).unwrap();
    drop_file(&d.inbox("demo"), "first.x12", &data);
    d.wait_files(1);
    drop_file(&d.inbox("demo"), "again.x12", &data);
    d.wait_files(2);
    // the same interchange under another name and with other bytes around it
    let mut padded = data.clone();
    padded.extend_from_slice(b"\r\n");
    drop_file(&d.inbox("demo"), "third.x12", &padded);
    d.wait_files(3);
    let out = outbox_files(&d.outbox("demo"));
    let dups: Vec<_> = out
        .iter()
        .filter(|(k, v)| {
            k.starts_with("TA1-000006002-") && String::from_utf8_lossy(v).contains("*R*025")
        })
        .collect();
    assert_eq!(dups.len(), 2, "{:?}", out.keys());
    assert_eq!(
        out.keys().filter(|k| k.starts_with("999-")).count(),
        1,
        "{:?}",
        out.keys()
    );
    assert_eq!(
        d.metric("gatewayd_interchanges_total{outcome=\"duplicate\"}"),
        2.0
    );
    // split into two work items once: csra/dme and ccme/therapies, never again
    let csra = d.lease_all("csra");
    let ccme = d.lease_all("ccme");
    assert_eq!((csra.len(), ccme.len()), (1, 1), "{csra:?} {ccme:?}");
    assert_eq!(csra[0]["pa_type"], "dme");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_files_get_their_outcome_and_the_daemon_keeps_serving() {
    let dir = temp_dir("bad");
    let extra = "[limits]\nsettle_ms = 0\nrescan_ms = 100\nmax_file_bytes = 8000\n\
                 [[partner]]\nid = \"demo\"\nsender_ids = [\"CLEARINGHOUSE\"]\ntransactions = [\"278\", \"837P\"]\n";
    let d = Daemon::start(&dir, extra);
    let inbox = d.inbox("demo");
    let valid = std::fs::read(repo().join("fixtures/valid/837p-minimal.x12")).unwrap();
    let mut rng = Rng(0x5eed);
    let binary: Vec<u8> = (0..4096).map(|_| rng.next() as u8).collect();
    drop_file(
        &inbox,
        "garbage.x12",
        b"hello, this is not an interchange\n",
    );
    drop_file(&inbox, "empty.x12", b"");
    drop_file(&inbox, "binary.bin", &binary);
    drop_file(&inbox, "big.x12", &vec![b'A'; 9000]);
    drop_file(
        &inbox,
        "truncated.x12",
        &renumber(&valid[..valid.len() / 2], 7001),
    );
    let wrong_sender = String::from_utf8(renumber(&valid, 7002)).unwrap().replacen(
        "*CLEARINGHOUSE  *",
        "*SOMEONEELSE    *",
        1,
    );
    drop_file(&inbox, "wrong-sender.x12", wrong_sender.as_bytes());
    let i837 = std::fs::read(repo().join("fixtures/valid/837i-minimal.x12")).unwrap();
    drop_file(&inbox, "not-allowed-837i.x12", &renumber(&i837, 7003));
    drop_file(&inbox, "ok.x12", &renumber(&valid, 7004));
    drop_file(&inbox, "a;rm -rf $HOME & ..\\name.x12", b"not X12 either");
    // never taken: hidden, still uploading, a folder, a link out of the inbox
    std::fs::write(inbox.join(".hidden.x12"), &valid).unwrap();
    std::fs::write(inbox.join("uploading.x12.part"), &valid).unwrap();
    std::fs::create_dir(inbox.join("sub.x12")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", inbox.join("link.x12")).unwrap();
    d.wait_files(9);

    let out = outbox_files(&d.outbox("demo"));
    let text = |prefix: &str| -> String {
        out.iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let rejected: Vec<_> = out.keys().filter(|k| k.starts_with("REJECTED-")).collect();
    assert_eq!(rejected.len(), 5, "{:?}", out.keys());
    assert!(text("REJECTED-").contains("the file is empty"));
    assert!(text("REJECTED-").contains("not an X12 interchange"));
    assert!(text("REJECTED-").contains("larger than the limit of 8000 bytes"));
    assert!(out
        .keys()
        .all(|k| !k.contains('/') && !k.contains(' ') && !k.contains('$')));
    // truncated: TA1 premature end of file (023), rejected
    assert!(
        text("TA1-000007001-").contains("*R*023"),
        "{}",
        text("TA1-")
    );
    // wrong sender: TA1 006
    assert!(
        text("TA1-000007002-").contains("*R*006"),
        "{}",
        text("TA1-")
    );
    // an 837I from a partner that may send only 278 and 837P: IK502 1, rejected
    assert!(
        text("999-000007003-").contains("IK5*R*1"),
        "{}",
        text("999-000007003-")
    );
    // an odd name is echoed only in a safe form
    assert!(
        out.keys()
            .any(|k| k.starts_with("REJECTED-") && k.ends_with("a_rm_-rf__HOME___.._name.x12.txt")),
        "{:?}",
        out.keys()
    );
    // the valid file was taken like any other, its 837P routed
    assert!(text("999-000007004-").contains("AK9*A"));
    assert_eq!(d.lease_all("csra").len(), 1);
    // untouched
    for n in [".hidden.x12", "uploading.x12.part", "sub.x12", "link.x12"] {
        assert!(
            std::fs::symlink_metadata(inbox.join(n)).is_ok(),
            "{n} was taken"
        );
    }
    assert_eq!(d.get_text("/healthz").0, 200);
    assert_eq!(d.get_text("/readyz").0, 200);
    assert_eq!(d.metric("gatewayd_files_rejected_total"), 5.0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn leases_tokens_nack_and_dead_letters() {
    let dir = temp_dir("lease");
    // on NATS a lease is the consumer's AckWait, whatever the request asks
    let nats = backend() == Backend::Nats;
    let extra = if nats {
        "[limits]\nsettle_ms = 0\nrescan_ms = 100\nmax_attempts = 2\n[nats]\nack_wait_seconds = 2\n"
    } else {
        "[limits]\nsettle_ms = 0\nrescan_ms = 100\nmax_attempts = 2\n"
    };
    let d = Daemon::start(&dir, extra);
    let data = std::fs::read(repo().join("fixtures/routing/ex01-dme.x12")).unwrap();
    drop_file(&d.inbox("demo"), "dme.x12", &data);
    d.wait_files(1);
    let lease = "/v1/queues/csra/lease";
    assert_eq!(d.post(lease, None, json!({})).0, 401);
    assert_eq!(d.post(lease, Some("nope"), json!({})).0, 401);
    assert_eq!(d.post(lease, Some(&token("ccme")), json!({})).0, 403);
    assert_eq!(
        d.post(lease, Some(&token("csra")), json!({"colour": 1})).0,
        400
    );
    // first lease runs out
    let (s, v) = d.post(
        lease,
        Some(&token("csra")),
        json!({"max_items": 5, "lease_seconds": 1}),
    );
    assert_eq!(s, 200);
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let first = items[0]["receipt"].as_str().unwrap().to_string();
    assert_eq!(
        d.post(lease, Some(&token("csra")), json!({})).1["items"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "a leased item is invisible"
    );
    std::thread::sleep(std::time::Duration::from_millis(if nats {
        2100
    } else {
        1100
    }));
    // (the server redelivers on its own timer: ask again until it has)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let v = loop {
        let (_, v) = d.post(lease, Some(&token("csra")), json!({"lease_seconds": 60}));
        if v["items"][0]["receipt"].is_string() || std::time::Instant::now() > deadline {
            break v;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let second = v["items"][0]["receipt"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    assert_eq!(v["items"][0]["attempts"], 2);
    // the expired lease's receipt is stale
    let (_, r) = d.post(
        "/v1/queues/csra/ack",
        Some(&token("csra")),
        json!({"receipts": [first]}),
    );
    assert_eq!(r["stale"].as_array().unwrap().len(), 1, "{r}");
    // another vendor cannot settle it
    assert_eq!(
        d.post(
            "/v1/queues/ccme/ack",
            Some(&token("csra")),
            json!({"receipts": [second]})
        )
        .0,
        403
    );
    // nack on the last attempt: dead letter
    let (s, r) = d.post(
        "/v1/queues/csra/nack",
        Some(&token("csra")),
        json!({"receipts": [second]}),
    );
    assert_eq!((s, r["dead"].as_u64()), (200, Some(1)), "{r}");
    assert_eq!(d.lease_all("csra").len(), 0);
    assert_eq!(
        d.metric("gatewayd_queue_depth{vendor=\"csra\",state=\"dead\"}"),
        1.0
    );
    if !nats {
        // on NATS the server redelivers without telling the gateway
        assert_eq!(d.metric("gatewayd_lease_expiries_total"), 1.0);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn nack_requeues_and_ack_settles() {
    let dir = temp_dir("nack");
    let d = Daemon::start(&dir, "");
    let data = std::fs::read(repo().join("fixtures/routing/ex03-pcs.x12")).unwrap();
    drop_file(&d.inbox("demo"), "pcs.x12", &data);
    d.wait_files(1);
    let items = d.lease_all("liberty");
    assert_eq!(items.len(), 1);
    let (_, r) = d.post(
        "/v1/queues/liberty/nack",
        Some(&token("liberty")),
        json!({"receipts": [items[0]["receipt"]], "retry_after_seconds": 0}),
    );
    assert_eq!(r["done"], 1, "{r}");
    let again = d.lease_all("liberty");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["attempts"], 2);
    let (_, r) = d.post(
        "/v1/queues/liberty/ack",
        Some(&token("liberty")),
        json!({"receipts": [again[0]["receipt"]]}),
    );
    assert_eq!(r["done"], 1, "{r}");
    assert_eq!(d.lease_all("liberty").len(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigterm_finishes_and_exits_zero() {
    let dir = temp_dir("term");
    let mut d = Daemon::start(&dir, "");
    let data = std::fs::read(repo().join("fixtures/valid/837p-minimal.x12")).unwrap();
    drop_file(&d.inbox("demo"), "a.x12", &data);
    d.wait_files(1);
    assert_eq!(d.get_text("/readyz").0, 200);
    let status = d.sigterm();
    assert_eq!(status.code(), Some(0), "{}", d.log_text());
    assert!(d.log_text().contains("gatewayd stopped"));
    // a restart on the same data dir resumes cleanly and keeps the item
    let d2 = Daemon::start(&dir, "");
    assert_eq!(d2.lease_all("csra").len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Member names, ids and birth dates of the fixtures: NM1*IL / NM1*QC (last name,
/// first name, id) and DMG02.
fn phi_of(data: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for s in x12_core::Segments::new(data) {
        let seg = s.segment;
        let txt = |n| String::from_utf8_lossy(seg.get(n)).trim().to_string();
        match seg.id() {
            b"NM1" if matches!(seg.get(1), b"IL" | b"QC") => {
                out.extend([txt(3), txt(4), txt(9)]);
            }
            b"DMG" => out.push(txt(2)),
            _ => {}
        }
    }
    out.retain(|v| v.len() >= 4);
    out
}

#[test]
fn no_phi_in_logs() {
    let dir = temp_dir("phi");
    let mut d = Daemon::start(&dir, "");
    let files = numbered_fixtures(200_000);
    let mut phi = Vec::new();
    for (name, data) in &files {
        phi.extend(phi_of(data));
        drop_file(&d.inbox("demo"), name, data);
    }
    phi.sort();
    phi.dedup();
    assert!(phi.len() >= 10, "{phi:?}");
    d.wait_files(files.len() as i64);
    for v in vendors() {
        let _ = d.lease_all(&v);
    }
    assert_eq!(d.sigterm().code(), Some(0));
    let log = d.log_text();
    assert!(log.contains("interchange acknowledged"), "{log}");
    for p in &phi {
        assert!(!log.contains(p.as_str()), "the log shows `{p}`:\n{log}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn decisions_answer_the_submitter_and_pa_inquiry_follows() {
    use gatewayd::daemon::config::token_hash;
    let dir = temp_dir("decide");
    let extra = format!(
        "[[partner]]\nid = \"demo\"\ntoken_sha256 = \"{}\"\n[[partner]]\nid = \"other\"\ntoken_sha256 = \"{}\"\n",
        token_hash("demo-partner"),
        token_hash("other-partner")
    );
    let d = Daemon::start(&dir, &extra);
    let pcs = std::fs::read(repo().join("fixtures/routing/ex03-pcs.x12")).unwrap();
    drop_file(&d.inbox("demo"), "pcs.x12", &pcs);
    d.wait_files(1);
    let items = d.lease_all("liberty");
    assert_eq!(items.len(), 1);
    let id = items[0]["id"].as_i64().unwrap();
    let tracking = items[0]["item"]["trace_number"]
        .as_str()
        .unwrap()
        .to_string();
    let liberty = token("liberty");
    let decide = |tok: &str, body: serde_json::Value| d.post("/v1/decisions", Some(tok), body);

    // refused decisions
    assert_eq!(
        decide(&liberty, json!({"item_id": id, "decision": "approve"})).0,
        400,
        "a certification number is required"
    );
    assert_eq!(
        decide(&liberty, json!({"item_id": id, "decision": "deny"})).0,
        400,
        "a reason is required"
    );
    assert_eq!(
        decide(&liberty, json!({"item_id": id, "decision": "approve", "certification_number": "X", "effective": "20230231"})).0,
        400
    );
    assert_eq!(
        decide(&token("csra"), json!({"item_id": id, "decision": "pend"})).0,
        404,
        "another vendor's item"
    );
    assert_eq!(d.post("/v1/decisions", None, json!({})).0, 401);

    // pend, then approve
    let (s, r) = decide(&liberty, json!({"item_id": id, "decision": "pend"}));
    assert_eq!((s, r["status"].as_str()), (200, Some("pended")), "{r}");
    let (s, r) = decide(
        &liberty,
        json!({"item_id": id, "decision": "approve", "certification_number": "PA20230001",
               "effective": "20230301", "expires": "20230601"}),
    );
    assert_eq!((s, r["status"].as_str()), (200, Some("approved")), "{r}");
    let response = r["response"].as_str().unwrap().to_string();
    assert!(response.starts_with("278-000006003-RT6003-"), "{response}");
    assert_eq!(
        decide(
            &liberty,
            json!({"item_id": id, "decision": "deny", "reason": "AD"})
        )
        .0,
        409,
        "an approval is final"
    );

    // the 278 responses reach the submitter's outbox and pass the response guide
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let out = loop {
        let out = outbox_files(&d.outbox("demo"));
        if out.contains_key(&response) {
            break out;
        }
        assert!(std::time::Instant::now() < deadline, "{:?}", out.keys());
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let responses: Vec<_> = out.keys().filter(|k| k.starts_with("278-")).collect();
    assert_eq!(responses.len(), 2, "pend and approve: {responses:?}");
    let body = &out[&response];
    let text = String::from_utf8_lossy(body);
    assert!(text.contains("HCR*A1*PA20230001"), "{text}");
    assert!(
        text.contains("*ZZ*NCMEDICAID     *ZZ*CLEARINGHOUSE  *"),
        "{text}"
    );
    let validator = gatewayd::guides::validator();
    let mut tree = x12_core::schema::LoopTree::default();
    let mut sets = 0;
    for it in Reader::new(&body[..]) {
        match it.unwrap() {
            Item::Transaction(s) => {
                let (guide, issues) = validator.check_set(&s, &mut tree);
                assert_eq!(guide.map(|g| g.id.as_str()), Some("278RESP"));
                let errors: Vec<_> = issues.iter().filter(|i| i.is_error()).collect();
                assert!(errors.is_empty(), "{errors:?}\n{text}");
                sets += 1;
            }
            Item::InterchangeEnd(r) => assert!(!r.has_errors(), "{:?}", r.issues),
            _ => {}
        }
    }
    assert_eq!(sets, 1);

    // PA inquiry: the submitter only, by tracking or certification number
    let (s, v) = d.get_json(&format!("/v1/pa/{tracking}"), Some("demo-partner"));
    assert_eq!(s, 200, "{v}");
    let r = &v["results"][0];
    assert_eq!(r["status"], "approved");
    assert_eq!(r["vendor"], "liberty");
    assert_eq!(r["certification"], "PA20230001");
    assert_eq!(r["effective"], "20230301");
    let events: Vec<_> = r["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(events, ["queued", "pended", "approved"]);
    assert_eq!(
        d.get_json("/v1/pa/PA20230001", Some("demo-partner")).1["results"][0]["bht03"],
        "RT6003"
    );
    assert_eq!(
        d.get_json(&format!("/v1/pa/{tracking}"), Some("other-partner"))
            .0,
        404
    );
    assert_eq!(d.get_json(&format!("/v1/pa/{tracking}"), None).0, 401);
    assert_eq!(
        d.get_json(&format!("/v1/pa/{tracking}"), Some(&liberty)).0,
        401
    );

    // a follow-up quoting the issued number goes to the vendor that issued it
    let ext = std::fs::read(repo().join("fixtures/routing/sticky-extension.x12")).unwrap();
    drop_file(&d.inbox("demo"), "extension.x12", &ext);
    d.wait_files(2);
    let follow = d.lease_all("liberty");
    assert_eq!(follow.len(), 1, "{follow:?}");
    assert_eq!(follow[0]["pa_type"], "pcs");
    assert!(d.lease_all("csra").is_empty());

    // a denial carries its reason
    let (s, r) = decide(
        &liberty,
        json!({"item_id": follow[0]["id"], "decision": "deny", "reason": "AD", "message": "see policy"}),
    );
    assert_eq!((s, r["status"].as_str()), (200, Some("denied")), "{r}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn http_upload_is_taken_like_an_inbox_file() {
    use gatewayd::daemon::config::token_hash;
    let dir = temp_dir("upload");
    let extra = format!(
        "[limits]\nsettle_ms = 0\nrescan_ms = 100\nmax_file_bytes = 8000\n[[partner]]\nid = \"demo\"\ntoken_sha256 = \"{}\"\n",
        token_hash("demo-partner")
    );
    let d = Daemon::start(&dir, &extra);
    let data = std::fs::read(repo().join("fixtures/valid/837p-minimal.x12")).unwrap();
    assert_eq!(d.post_bytes("/v1/batches", None, &data).0, 401);
    assert_eq!(
        d.post_bytes("/v1/batches", Some(&token("csra")), &data).0,
        401,
        "a vendor token is no partner token"
    );
    assert_eq!(
        d.post_bytes("/v1/batches", Some("demo-partner"), &vec![b'A'; 9000])
            .0,
        413
    );
    let (s, v) = d.post_bytes("/v1/batches", Some("demo-partner"), &data);
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["bytes"].as_u64(), Some(data.len() as u64));
    d.wait_files(1);
    let out = outbox_files(&d.outbox("demo"));
    assert!(
        out.keys().any(|k| k.starts_with("999-000000101-")),
        "{:?}",
        out.keys()
    );
    assert_eq!(d.lease_all("csra").len(), 1);
    // the same interchange again over HTTP is a duplicate
    assert_eq!(
        d.post_bytes("/v1/batches", Some("demo-partner"), &data).0,
        202
    );
    d.wait_files(2);
    assert_eq!(
        d.metric("gatewayd_interchanges_total{outcome=\"duplicate\"}"),
        1.0
    );
    assert_eq!(d.metric("gatewayd_latency_seconds_count"), 2.0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// HCR01 and HCR02 of the first HCR of a 278 response, and its MSGs.
fn hcr_of(body: &[u8]) -> (String, String, Vec<String>) {
    let segs = segments_of(body);
    let hcr = segs.iter().find(|s| s.starts_with("HCR*")).unwrap();
    let f: Vec<&str> = hcr.split('*').collect();
    let msgs = segs
        .iter()
        .filter(|s| s.starts_with("MSG*"))
        .map(|s| s[4..].to_string())
        .collect();
    (
        f.get(1).unwrap_or(&"").to_string(),
        f.get(2).unwrap_or(&"").to_string(),
        msgs,
    )
}

/// Waits for an outbox file whose name starts with `prefix`, returning every such file.
fn wait_outbox(d: &Daemon, prefix: &str, n: usize) -> BTreeMap<String, Vec<u8>> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let out: BTreeMap<_, _> = outbox_files(&d.outbox("demo"))
            .into_iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .collect();
        if out.len() >= n {
            return out;
        }
        assert!(std::time::Instant::now() < deadline, "{:?}", out.keys());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn answers_without_a_vendor() {
    use gatewayd::daemon::config::token_hash;
    let dir = temp_dir("answers");
    let extra = format!(
        "eligibility_file = {:?}\n[[partner]]\nid = \"demo\"\ntoken_sha256 = \"{}\"\n",
        repo()
            .join("fixtures/routing/eligibility.csv")
            .display()
            .to_string(),
        token_hash("demo-partner")
    );
    let port = free_port();
    let mut d = Daemon::start_on(&dir, &extra, port);
    let read = |n: &str| std::fs::read(repo().join("fixtures/routing").join(n)).unwrap();
    // meets the bundled pharmacy criteria
    let rx_met = std::fs::read(repo().join("fixtures/valid/278/pharmacy.x12")).unwrap();
    // an 837P claim of a PHP member: a `reject` route, kept from every vendor
    let claim = String::from_utf8(read("ex10-behavioral-health.x12"))
        .unwrap()
        .replace("*MI*NCRT0001", "*MI*NCRT0031");
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("lme.x12", renumber(&read("ex11-lme-mco-reject.x12"), 8001)),
        (
            "php.x12",
            renumber(&read("php-managed-care-reject.x12"), 8002),
        ),
        ("img.x12", renumber(&read("ex07b-2022-radiology.x12"), 8003)),
        ("rx-ok.x12", renumber(&rx_met, 8004)),
        ("rx-pend.x12", renumber(&read("pharmacy-pended.x12"), 8005)),
        ("claim.x12", renumber(claim.as_bytes(), 8006)),
    ];
    for (name, data) in &files {
        drop_file(&d.inbox("demo"), name, data);
    }
    d.wait_files(files.len() as i64);
    let out = wait_outbox(&d, "278-", 5);
    let by_icn = |icn: &str| -> (String, String, Vec<String>) {
        let (_, body) = out
            .iter()
            .find(|(k, _)| k.starts_with(&format!("278-00000{icn}-")))
            .unwrap_or_else(|| panic!("no response to {icn}: {:?}", out.keys()));
        hcr_of(body)
    };
    // reject: HCR01=CT with a MSG naming where to go
    let (code, _, msgs) = by_icn("8001");
    assert_eq!(code, "CT");
    assert!(msgs.iter().any(|m| m.contains("Contact")), "{msgs:?}");
    assert_eq!(by_icn("8002").0, "CT");
    // no PA required: NA
    assert_eq!(by_icn("8003").0, "NA");
    // pharmacy, criteria met: A1 with an authorization number
    let (code, _, _) = by_icn("8004");
    assert_eq!(code, "A1");
    let body = &out
        .iter()
        .find(|(k, _)| k.starts_with("278-000008004-"))
        .unwrap()
        .1;
    let first_number = segments_of(body)
        .iter()
        .filter(|s| s.starts_with("HCR*A1*"))
        .find_map(|s| {
            s.split('*')
                .nth(2)
                .filter(|n| !n.is_empty())
                .map(String::from)
        })
        .expect("an authorization number");
    let format = gatewayd::pharmacy::NumberFormat::default();
    let (_, first_seq) = format.parse(&first_number).expect("a well-formed number");
    // pharmacy, criteria not met: A4 at once, and the CSRA queue gets it for review
    assert_eq!(by_icn("8005").0, "A4");
    let every_response_first = out.keys().all(|k| {
        let icn = &k[4..13];
        outbox_files(&d.outbox("demo"))
            .keys()
            .any(|a| a.starts_with(&format!("999-{icn}-")))
    });
    assert!(every_response_first, "each answer follows its 999");
    let csra = d.lease_all("csra");
    assert_eq!(csra.len(), 1, "{csra:?}");
    assert_eq!(csra[0]["pa_type"], "pharmacy");
    let rx = &csra[0]["item"]["pharmacy"];
    assert_eq!(rx["decision"], "pended", "{rx}");
    let failures = rx["services"][0]["failures"].as_array().unwrap();
    assert!(!failures.is_empty(), "{rx}");
    assert!(failures[0]["criterion"].is_string(), "{rx}");
    // nothing sits in a queue for the rejects, the no-PA request or the approval
    for v in ["lme_mco", "php", "none"] {
        assert!(d.lease_all(v).is_empty(), "{v}");
    }
    assert_eq!(
        d.lease_all("beacon").len(),
        0,
        "the PHP claim is not forwarded"
    );
    let db = d.db();
    let (n, state): (i64, String) = db
        .query_row(
            "SELECT COUNT(*), MAX(state) FROM claim_rejects WHERE vendor = 'php'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((n, state.as_str()), (1, "answered"));
    // the record keeps the claim's JSON with its routing trace
    let item: String = db
        .query_row(
            "SELECT item FROM claim_rejects WHERE vendor = 'php'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let item: serde_json::Value = serde_json::from_str(&item).unwrap();
    assert_eq!(item["claim_route"]["vendor"], "php", "{item}");
    assert!(item["trace"]["lines"].is_array(), "{item}");
    // the 277CA answers it: rejected, sent to the incorrect payer, no payer claim number
    let all = outbox_files(&d.outbox("demo"));
    let (name, body) = all
        .iter()
        .find(|(k, _)| k.starts_with("277CA-000008006-"))
        .unwrap_or_else(|| panic!("no 277CA: {:?}", all.keys()));
    let segs = check_277ca(name, body);
    let stc: Vec<_> = segs.iter().filter(|s| s.starts_with("STC*A3")).collect();
    assert_eq!(stc.len(), 1, "{segs:?}");
    assert!(
        stc[0][6..].starts_with(":116") || stc[0][6..].starts_with(">116"),
        "{stc:?}"
    );
    assert!(!segs.iter().any(|s| s.starts_with("REF*1K")), "{segs:?}");
    assert_eq!(
        d.metric("gatewayd_answered_total{answer=\"rejected\"}"),
        2.0
    );
    assert_eq!(
        d.metric("gatewayd_answered_total{answer=\"approved\"}"),
        1.0
    );

    // PA inquiry knows the gateway's answers
    let statuses: BTreeMap<String, String> = db
        .prepare("SELECT bht03, status FROM pa_status")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let lme_bht03 = statuses
        .iter()
        .find(|(_, s)| *s == "rejected")
        .map(|(b, _)| b.clone())
        .unwrap();
    let (s, v) = d.get_json(&format!("/v1/pa/{lme_bht03}"), Some("demo-partner"));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["results"][0]["history"][0]["event"], "rejected", "{v}");
    let (s, v) = d.get_json(&format!("/v1/pa/{first_number}"), Some("demo-partner"));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["results"][0]["status"], "approved", "{v}");
    assert_eq!(v["results"][0]["vendor"], "csra", "{v}");
    // CSRA decides the pended one like any pended request
    let (s, r) = d.post(
        "/v1/decisions",
        Some(&token("csra")),
        json!({"item_id": csra[0]["id"], "decision": "approve", "certification_number": "CSRA0001"}),
    );
    assert_eq!((s, r["status"].as_str()), (200, Some("approved")), "{r}");

    // the authorization sequence survives a restart: never a number twice
    assert!(d.sigterm().success());
    drop(d);
    let d = Daemon::start_on(&dir, &extra, port);
    drop_file(&d.inbox("demo"), "rx-again.x12", &renumber(&rx_met, 8007));
    d.wait_files(files.len() as i64 + 1);
    let out = wait_outbox(&d, "278-000008007-", 1);
    let second_number = out
        .values()
        .flat_map(|b| segments_of(b))
        .filter(|s| s.starts_with("HCR*A1*"))
        .find_map(|s| {
            s.split('*')
                .nth(2)
                .filter(|n| !n.is_empty())
                .map(String::from)
        })
        .expect("an authorization number");
    let (_, second_seq) = format.parse(&second_number).unwrap();
    assert!(
        second_seq > first_seq,
        "{first_number} then {second_number}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_sparse_2gb_file_and_path_tricks_in_names() {
    use std::os::unix::ffi::OsStrExt;
    let dir = temp_dir("names");
    // the default size limit (256 MiB)
    let d = Daemon::start(&dir, "");
    let inbox = d.inbox("demo");
    let valid = std::fs::read(repo().join("fixtures/valid/837p-minimal.x12")).unwrap();

    // 2 GB, sparse: no disk used, and gatewayd must not read it to refuse it
    let part = inbox.join("huge.x12.part");
    std::fs::File::create(&part)
        .unwrap()
        .set_len(2 << 30)
        .unwrap();
    let started = std::time::Instant::now();
    std::fs::rename(&part, inbox.join("huge.x12")).unwrap();
    d.wait_files(1);
    let took = started.elapsed();
    let out = outbox_files(&d.outbox("demo"));
    let note = out
        .iter()
        .find(|(k, _)| k.starts_with("REJECTED-") && k.ends_with("huge.x12.txt"))
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_else(|| panic!("{:?}", out.keys()));
    assert!(
        note.contains("larger than the limit of 268435456 bytes (2147483648 bytes)"),
        "{note}"
    );
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
    // recorded (and rejected) first, then removed from the inbox
    let gone = |inbox: &std::path::Path| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::fs::read_dir(inbox).unwrap().next().is_some() {
            assert!(
                std::time::Instant::now() < deadline,
                "the inbox was not emptied"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    };
    gone(&inbox);
    let stored: u64 = std::fs::read_dir(dir.join("var/files"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .sum();
    assert_eq!(stored, 0, "no copy of an oversized file");

    // names: a newline, bytes that are not UTF-8, a leading dash, dots, and the longest
    // name the file system takes (255 bytes). `/` cannot be in a name in a folder, and
    // an upload over HTTP never uses the client's name; what the partner sees back is
    // always a plain, short name in its own outbox
    let long = format!("{}.x12", "a".repeat(251));
    let names: Vec<(std::ffi::OsString, Vec<u8>)> = vec![
        ("evil\nname.x12".into(), b"not X12\n".to_vec()),
        (
            std::ffi::OsStr::from_bytes(b"\xff\xfe..x12").to_os_string(),
            b"garbage".to_vec(),
        ),
        ("-rf *.x12".into(), b"garbage".to_vec()),
        ("name .. ...x12".into(), b"garbage".to_vec()),
        (long.clone().into(), renumber(&valid, 9901)),
    ];
    for (name, data) in &names {
        let part = inbox.join(format!("p{}.part", names.len()));
        std::fs::write(&part, data).unwrap();
        std::fs::rename(&part, inbox.join(name)).unwrap();
    }
    d.wait_files(1 + names.len() as i64);
    let out = outbox_files(&d.outbox("demo"));
    for k in out.keys() {
        assert!(
            k.len() <= 120
                && !k.starts_with('.')
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
            "outbox name {k:?}"
        );
    }
    assert_eq!(
        out.keys().filter(|k| k.starts_with("REJECTED-")).count(),
        5,
        "{:?}",
        out.keys()
    );
    assert!(
        out.keys().any(|k| k.ends_with("-evil_name.x12.txt")),
        "{:?}",
        out.keys()
    );
    // the long name was taken like any file
    assert!(
        out.keys().any(|k| k.starts_with("999-000009901-")),
        "{:?}",
        out.keys()
    );
    // nothing was written beside the outbox, and the inbox is empty
    let partner_dir: Vec<String> = std::fs::read_dir(dir.join("var/partners/demo"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut partner_dir = partner_dir;
    partner_dir.sort();
    assert_eq!(partner_dir, ["inbox", "outbox"]);
    gone(&inbox);
    // and it keeps serving
    assert_eq!(d.get_text("/healthz").0, 200);
    assert_eq!(d.lease_all("csra").len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}
