//! Crash test: the real `gatewayd` binary is fed a stream of files and killed with
//! SIGKILL at random moments, then restarted, round after round. At the end every
//! interchange has exactly one acknowledgment set, every transaction sits in exactly one
//! queue exactly once, no outbox file is partial and nothing is missing.
//!
//! Files of the pool are sent more than once (each time as a new interchange): the
//! duplicate-claim edit rejects a claim accepted before (277CA A3:54), and a rejected
//! claim goes to no vendor. The expectation model ([`Oracle`]) follows the files in the
//! order the daemon takes them (inbox names sort in the order they were dropped), so
//! it knows which claims reach their vendor (the first acceptance) and which must not
//! (every later copy, and a claim whose guide error the 999 accepted with errors).

mod daemon_support;

use daemon_support::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[test]
fn kill_9_at_random_moments_loses_and_repeats_nothing() {
    let started = Instant::now();
    let dir = temp_dir("crash");
    let extra = "[limits]\nsettle_ms = 0\nrescan_ms = 50\n";
    let mut pool: Vec<Vec<u8>> = fixture_files()
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    // an 837 the 999 accepts with errors (the default accept_with_errors): its 277CA
    // rejects the claim with the bad diagnosis, which reaches no vendor, every time
    pool.push(std::fs::read(repo().join("fixtures/ack277/two-claims-bad-diagnosis.x12")).unwrap());
    // a few larger batches (the last three of the pool), so that kills land inside the processing of a file too
    for (kind, seed) in [
        (fixtures::generate::Kind::Professional837, 1),
        (fixtures::generate::Kind::Request278, 2),
        (fixtures::generate::Kind::Institutional837, 3),
    ] {
        let mut o = fixtures::generate::Options::new(kind, 50_000).with_seed(seed);
        o.claims_per_set = 20;
        o.sets_per_group = 3;
        pool.push(fixtures::generate::generate_to_vec(&o));
    }
    let seed = Rng::seeded().0;
    let mut rng = Rng(seed);
    let port = free_port();
    // on NATS one server lives through every round of gatewayd kills
    let _nats = keep_nats(&dir);
    let mut expected = Expected::default();
    let mut oracle = Oracle::new();
    let mut dropped = 0u32;
    let mut control = 500_000u32;
    let rounds = 24;
    for round in 0..rounds {
        let mut d = Daemon::start_on(&dir, extra, port);
        let inbox = d.inbox("demo");
        for _ in 0..(1 + rng.below(4)) {
            let pick = if rng.below(4) == 0 {
                pool.len() - 1 - rng.below(3) as usize
            } else {
                rng.below(pool.len() as u64) as usize
            };
            let data = renumber(&pool[pick], control);
            control += 10;
            let e = oracle.expect(&data);
            expected.interchanges += e.interchanges;
            expected.ta1 += e.ta1;
            expected.acks999 += e.acks999;
            expected.items.extend(e.items);
            expected.responses.extend(e.responses);
            expected.claim_rejects += e.claim_rejects;
            expected.duplicates.extend(e.duplicates);
            expected.acks277 += e.acks277;
            drop_file(&inbox, &format!("r{round:02}-{dropped:04}.x12"), &data);
            dropped += 1;
            std::thread::sleep(Duration::from_millis(rng.below(15)));
        }
        std::thread::sleep(Duration::from_millis(rng.below(60)));
        d.child.kill().unwrap();
        d.child.wait().unwrap();
    }
    expected.items.sort();
    expected.duplicates.sort();

    // the last run finishes everything
    let d = Daemon::start_on(&dir, extra, port);
    d.wait_files(i64::from(dropped));
    let db = d.db();
    let files: i64 = db
        .query_row("SELECT COUNT(*) FROM files", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        files,
        i64::from(dropped),
        "each file taken exactly once (seed {seed})"
    );
    // exactly one interchange per ISA13, none a duplicate of itself
    let (interchanges, keys, dups): (i64, i64, i64) = db
        .query_row(
            "SELECT COUNT(*), COUNT(DISTINCT isa13), COALESCE(SUM(outcome = 'duplicate'), 0) FROM interchanges",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (interchanges, keys, dups),
        (
            expected.interchanges as i64,
            expected.interchanges as i64,
            0
        ),
        "seed {seed}"
    );
    // the outbox holds exactly the recorded acknowledgments, whole
    let acks: BTreeMap<String, Vec<u8>> = {
        let mut st = db
            .prepare("SELECT name, body FROM acks WHERE written = 1")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let unwritten: i64 = db
        .query_row("SELECT COUNT(*) FROM acks WHERE written = 0", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(unwritten, 0);
    let out = outbox_files(&d.outbox("demo"));
    assert!(
        out.keys().all(|k| !k.ends_with(".part")),
        "{:?}",
        out.keys()
    );
    assert_eq!(
        out, acks,
        "outbox files are exactly the acknowledgments (seed {seed})"
    );
    assert_eq!(
        out.keys().filter(|k| k.starts_with("TA1-")).count(),
        expected.ta1,
        "seed {seed}"
    );
    assert_eq!(
        out.keys().filter(|k| k.starts_with("999-")).count(),
        expected.acks999,
        "seed {seed}"
    );
    // one 277CA per accepted 837 set, never two, each valid
    let mut per_set: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    for (name, body) in out.iter().filter(|(k, _)| k.starts_with("277CA-")) {
        check_277ca(name, body);
        let key = name.split('-').take(4).map(str::to_string).collect();
        *per_set.entry(key).or_default() += 1;
    }
    assert!(
        per_set.values().all(|n| *n == 1),
        "seed {seed}: {per_set:?}"
    );
    assert_eq!(per_set.len(), expected.acks277, "seed {seed}");
    // the gateway's own answers: one 278 response per answered request, never two
    assert_eq!(
        out.keys().filter(|k| k.starts_with("278-")).count(),
        expected.responses.len(),
        "seed {seed}"
    );
    let answered: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM pa_status WHERE queue_id IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let pended = expected
        .responses
        .iter()
        .filter(|r| r.0 == "pended")
        .count();
    assert_eq!(
        answered as usize,
        expected.responses.len() - pended,
        "seed {seed}"
    );
    // one acknowledgment set per interchange: no ISA13 acknowledged twice
    let mut per_icn: BTreeMap<String, usize> = BTreeMap::new();
    for k in out.keys().filter(|k| k.starts_with("TA1-")) {
        *per_icn
            .entry(k.split('-').nth(1).unwrap().to_string())
            .or_default() += 1;
    }
    assert!(per_icn.values().all(|n| *n == 1), "{per_icn:?}");
    // every transaction in exactly one queue exactly once, over HTTP
    let mut got = Vec::new();
    for v in vendors() {
        for item in d.lease_all(&v) {
            got.push((
                v.clone(),
                item["transaction"].as_str().unwrap().to_string(),
                item["request_id"].as_str().unwrap().to_string(),
            ));
        }
    }
    got.sort();
    assert_eq!(got, expected.items, "seed {seed}");
    let queued: i64 = db
        .query_row("SELECT COUNT(*) FROM queue", [], |r| r.get(0))
        .unwrap();
    assert_eq!(queued as usize, expected.items.len(), "seed {seed}");
    // the claims kept from every vendor: exactly those the model rejects, among them
    // every later copy of a claim accepted before (and never its first acceptance)
    let kept: i64 = db
        .query_row("SELECT COUNT(*) FROM claim_rejects", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept as usize, expected.claim_rejects, "seed {seed}");
    let mut duplicates: Vec<(String, String, String)> = {
        let mut st = db
            .prepare(
                "SELECT vendor, txn, claim_id FROM claim_rejects
                 WHERE EXISTS (SELECT 1 FROM json_each(item, '$.rejected_by_277ca')
                    WHERE value = 'A3:54')",
            )
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    duplicates.sort();
    assert_eq!(duplicates, expected.duplicates, "seed {seed}");
    assert!(
        !expected.duplicates.is_empty(),
        "pool files were sent again, so later copies were rejected (seed {seed})"
    );
    assert!(
        started.elapsed() < Duration::from_secs(90),
        "took {:?}",
        started.elapsed()
    );
    let resumed = d.log_text().matches("resumed unfinished files").count();
    eprintln!(
        "crash test: {rounds} kills, {dropped} files, {} interchanges, {} items, {} duplicate claims held back, {resumed} restarts resumed a file, in {:?} (seed {seed})",
        expected.interchanges,
        expected.items.len(),
        expected.duplicates.len(),
        started.elapsed()
    );
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}
