//! Claim-level edits of the daemon's 277CA through the real `gatewayd` binary: the
//! eligibility edit on the date of service (with `eligibility_file`), duplicate
//! claims (the same claim accepted before from the same partner), and guide errors the
//! 999 accepted with errors (`accept_with_errors`). A claim the 277CA rejects reaches
//! no vendor; its accepted siblings do.

mod daemon_support;

use daemon_support::*;

/// The 277CAs in `out` whose name starts with `prefix`, as segment lists.
fn acks_277(out: &std::collections::BTreeMap<String, Vec<u8>>, prefix: &str) -> Vec<Vec<String>> {
    out.iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(k, v)| check_277ca(k, v))
        .collect()
}

/// Every item every vendor can lease now: (vendor, claim id, ISA13 of its interchange).
fn leasable(d: &Daemon) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for v in vendors() {
        for item in d.lease_all(&v) {
            out.push((
                v.clone(),
                item["request_id"].as_str().unwrap().to_string(),
                item["item"]["envelope"]["isa13"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            ));
        }
    }
    out.sort();
    out
}

/// The claims kept from every vendor: (claim id, the 277CA statuses that rejected it).
fn kept(d: &Daemon) -> Vec<(String, String)> {
    let db = d.db();
    let mut st = db
        .prepare(
            "SELECT claim_id, json_extract(item, '$.rejected_by_277ca'), state
             FROM claim_rejects ORDER BY id",
        )
        .unwrap();
    st.query_map([], |r| {
        let state: String = r.get(2)?;
        assert_eq!(state, "answered");
        Ok((
            r.get(0)?,
            r.get::<_, Option<String>>(1)?.unwrap_or_default(),
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// The STC after a claim's TRN, with its date element replaced by `DATE`.
fn stc_of(segs: &[String], claim: &str) -> String {
    let at = segs
        .iter()
        .position(|s| *s == format!("TRN*2*{claim}"))
        .expect("the claim's TRN");
    let mut stc: Vec<&str> = segs[at + 1].split('*').collect();
    assert_eq!(stc[0], "STC");
    stc[2] = "DATE";
    stc.join("*")
}

#[test]
fn a_member_not_eligible_on_the_date_of_service_is_rejected_in_the_277ca() {
    let dir = temp_dir("claims-elig");
    let eligibility = repo().join("fixtures/ack277/eligibility.csv");
    let d = Daemon::start(
        &dir,
        &format!(
            "eligibility_file = {:?}\n",
            eligibility.display().to_string()
        ),
    );
    let data = renumber(
        &std::fs::read(repo().join("fixtures/ack277/two-providers.x12")).unwrap(),
        720_000,
    );
    drop_file(&d.inbox("demo"), "two.x12", &data);
    d.wait_files(1);
    let out = outbox_files(&d.outbox("demo"));
    // the daemon's 999 knows only the guide: the set is accepted
    let ack999 = out.iter().find(|(k, _)| k.starts_with("999-")).unwrap().1;
    assert!(String::from_utf8_lossy(ack999).contains("AK9*A*1*1*1"));
    let acks = acks_277(&out, "277CA-000720000-");
    assert_eq!(acks.len(), 1, "{:?}", out.keys());
    let segs = &acks[0];
    assert_eq!(stc_of(segs, "ACK0001"), "STC*A2:20*DATE*WQ*150");
    assert_eq!(stc_of(segs, "ACK0002"), "STC*A8:109:IL*DATE*U*175");
    assert_eq!(segs.iter().filter(|s| s.starts_with("REF*1K*")).count(), 1);
    // the rejected claim is kept from every vendor; its accepted sibling is queued
    let got = leasable(&d);
    let ids: Vec<&str> = got.iter().map(|g| g.1.as_str()).collect();
    assert_eq!(ids, ["ACK0001"], "{got:?}");
    assert_eq!(
        kept(&d),
        [("ACK0002".to_string(), "[\"A8:109:IL\"]".to_string())]
    );
    let queued: i64 = d
        .db()
        .query_row(
            "SELECT COUNT(*) FROM queue WHERE request_id = 'ACK0002'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(queued, 0);
    // the daemon's log lines never carry the member id
    let log = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect::<String>();
    assert!(!log.contains("NCRT0102"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_claim_accepted_before_from_the_partner_is_a_duplicate() {
    let dir = temp_dir("claims-dup");
    let d = Daemon::start(&dir, "");
    let data = std::fs::read(repo().join("fixtures/ack277/two-providers.x12")).unwrap();
    // first interchange: both claims accepted
    drop_file(&d.inbox("demo"), "first.x12", &renumber(&data, 730_000));
    d.wait_files(1);
    let out = outbox_files(&d.outbox("demo"));
    let first = acks_277(&out, "277CA-000730000-");
    assert_eq!(first.len(), 1, "{:?}", out.keys());
    assert_eq!(stc_of(&first[0], "ACK0001"), "STC*A2:20*DATE*WQ*150");
    assert_eq!(stc_of(&first[0], "ACK0002"), "STC*A2:20*DATE*WQ*175");
    // a second interchange (new ISA13) with the same claims, ACK0002 with another
    // line charge: ACK0001 is a duplicate, ACK0002 is not
    let text = String::from_utf8(renumber(&data, 730_001)).unwrap();
    let changed = text
        .replacen("CLM*ACK0002*175*", "CLM*ACK0002*176*", 1)
        .replacen("SV1*HC:99214*175*", "SV1*HC:99214*176*", 1);
    assert_ne!(changed, text, "the fixture's second claim changed");
    drop_file(&d.inbox("demo"), "second.x12", changed.as_bytes());
    d.wait_files(2);
    let out = outbox_files(&d.outbox("demo"));
    let second = acks_277(&out, "277CA-000730001-");
    assert_eq!(second.len(), 1, "{:?}", out.keys());
    assert_eq!(stc_of(&second[0], "ACK0001"), "STC*A3:54*DATE*U*150");
    assert_eq!(stc_of(&second[0], "ACK0002"), "STC*A2:20*DATE*WQ*176");
    assert_eq!(
        second[0]
            .iter()
            .filter(|s| s.starts_with("REF*1K*"))
            .count(),
        1
    );
    // the duplicate reaches no vendor: ACK0001 once (its first acceptance), ACK0002
    // twice (two different claims, both accepted)
    let got = leasable(&d);
    let claims: Vec<(&str, &str)> = got.iter().map(|g| (g.1.as_str(), g.2.as_str())).collect();
    assert_eq!(
        claims,
        [
            ("ACK0001", "000730000"),
            ("ACK0002", "000730000"),
            ("ACK0002", "000730001")
        ],
        "{got:?}"
    );
    assert_eq!(
        kept(&d),
        [("ACK0001".to_string(), "[\"A3:54\"]".to_string())]
    );
    // the store keeps hashes only, one per accepted claim
    let db = d.db();
    let n: i64 = db
        .query_row("SELECT COUNT(*) FROM claim_fingerprints", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 3);
    let f: String = db
        .query_row(
            "SELECT fingerprint FROM claim_fingerprints LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        f.len() == 64 && f.bytes().all(|b| b.is_ascii_hexdigit()),
        "{f}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_claim_the_277ca_rejected_does_not_make_a_later_one_a_duplicate() {
    let dir = temp_dir("claims-dup-rej");
    let eligibility = repo().join("fixtures/ack277/eligibility.csv");
    let d = Daemon::start(
        &dir,
        &format!(
            "eligibility_file = {:?}\n",
            eligibility.display().to_string()
        ),
    );
    let data = std::fs::read(repo().join("fixtures/ack277/two-providers.x12")).unwrap();
    drop_file(&d.inbox("demo"), "first.x12", &renumber(&data, 740_000));
    d.wait_files(1);
    drop_file(&d.inbox("demo"), "second.x12", &renumber(&data, 740_001));
    d.wait_files(2);
    let out = outbox_files(&d.outbox("demo"));
    let first = acks_277(&out, "277CA-000740000-");
    let second = acks_277(&out, "277CA-000740001-");
    assert_eq!((first.len(), second.len()), (1, 1), "{:?}", out.keys());
    assert_eq!(stc_of(&first[0], "ACK0002"), "STC*A8:109:IL*DATE*U*175");
    // ACK0001 was accepted: now a duplicate; ACK0002 was rejected: rejected again for
    // eligibility, never as a duplicate
    assert_eq!(stc_of(&second[0], "ACK0001"), "STC*A3:54*DATE*U*150");
    assert_eq!(stc_of(&second[0], "ACK0002"), "STC*A8:109:IL*DATE*U*175");
    // only the first acceptance reaches a vendor
    let got = leasable(&d);
    let claims: Vec<(&str, &str)> = got.iter().map(|g| (g.1.as_str(), g.2.as_str())).collect();
    assert_eq!(claims, [("ACK0001", "000740000")], "{got:?}");
    let mut k = kept(&d);
    k.sort();
    assert_eq!(
        k,
        [
            ("ACK0001".to_string(), "[\"A3:54\"]".to_string()),
            ("ACK0002".to_string(), "[\"A8:109:IL\"]".to_string()),
            ("ACK0002".to_string(), "[\"A8:109:IL\"]".to_string()),
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_claim_snip_7_rejects_reaches_no_vendor_and_its_sibling_does() {
    let dir = temp_dir("claims-snip7");
    let providers = repo().join("fixtures/routing/providers.csv");
    let d = Daemon::start(
        &dir,
        &format!("provider_file = {:?}\n", providers.display().to_string()),
    );
    let data = renumber(
        &std::fs::read(repo().join("fixtures/ack277/two-providers.x12")).unwrap(),
        750_000,
    );
    drop_file(&d.inbox("demo"), "two.x12", &data);
    d.wait_files(1);
    let out = outbox_files(&d.outbox("demo"));
    let acks = acks_277(&out, "277CA-000750000-");
    assert_eq!(acks.len(), 1, "{:?}", out.keys());
    // the billing provider's taxonomy is not on the provider file at that location
    assert_eq!(stc_of(&acks[0], "ACK0001"), "STC*A2:20*DATE*WQ*150");
    assert_eq!(stc_of(&acks[0], "ACK0002"), "STC*A8:145:85*DATE*U*175");
    let got = leasable(&d);
    let claims: Vec<(&str, &str)> = got.iter().map(|g| (g.1.as_str(), g.2.as_str())).collect();
    assert_eq!(claims, [("ACK0001", "000750000")], "{got:?}");
    assert_eq!(
        kept(&d),
        [("ACK0002".to_string(), "[\"A8:145:85\"]".to_string())]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_duplicate_claim_gets_no_cover_sheet() {
    let dir = temp_dir("claims-dup-cover");
    let d = Daemon::start(&dir, "");
    let data = std::fs::read(repo().join("fixtures/attachments/837p-pwk-fax-mail.x12")).unwrap();
    drop_file(&d.inbox("demo"), "first.x12", &renumber(&data, 760_000));
    d.wait_files(1);
    drop_file(&d.inbox("demo"), "second.x12", &renumber(&data, 760_001));
    d.wait_files(2);
    let out = outbox_files(&d.outbox("demo"));
    let second = acks_277(&out, "277CA-000760001-");
    assert_eq!(second.len(), 1, "{:?}", out.keys());
    assert!(stc_of(&second[0], "AT8001CLM").starts_with("STC*A3:54*"));
    // the fax and mail cover sheets of the first claim, none for its duplicate
    let covers: Vec<&String> = out.keys().filter(|k| k.starts_with("COVER-")).collect();
    assert_eq!(covers.len(), 2, "{covers:?}");
    assert!(covers.iter().all(|k| k.starts_with("COVER-000760000-")));
    let got = leasable(&d);
    let claims: Vec<(&str, &str)> = got.iter().map(|g| (g.1.as_str(), g.2.as_str())).collect();
    assert_eq!(claims, [("AT8001CLM", "000760000")], "{got:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `fixtures/ack277/two-providers.x12` with its text edited by `from` -> `to`.
fn two_providers_with(from: &str, to: &str) -> Vec<u8> {
    let data = std::fs::read_to_string(repo().join("fixtures/ack277/two-providers.x12")).unwrap();
    let edited = data.replacen(from, to, 1);
    assert_ne!(edited, data, "{from} is in the fixture");
    edited.into_bytes()
}

/// The 999 answering the interchange with ISA13 `isa13`, as text.
fn ack999_of(out: &std::collections::BTreeMap<String, Vec<u8>>, isa13: &str) -> String {
    let acks: Vec<_> = out
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("999-{isa13}-")))
        .collect();
    assert_eq!(acks.len(), 1, "{:?}", out.keys());
    String::from_utf8_lossy(acks[0].1).into_owned()
}

/// The outcome of each interchange, in order.
fn outcomes(d: &Daemon) -> Vec<(String, String)> {
    let db = d.db();
    let mut st = db
        .prepare("SELECT isa13, outcome FROM interchanges ORDER BY id")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn claim_level_guide_errors_the_999_accepts_with_errors_reject_only_their_claims() {
    let dir = temp_dir("claims-awe");
    // the embedded default: SNIP 3, 4 and 5 are accepted with errors
    let d = Daemon::start(&dir, "");
    // ACK0002's total charge (CLM02) is not the sum of its line charges (SNIP 3)
    let balancing = renumber(
        &two_providers_with("CLM*ACK0002*175*", "CLM*ACK0002*170*"),
        770_000,
    );
    // ACK0102's principal diagnosis is written with a dot (SNIP 5 code set)
    let diagnosis = renumber(
        &std::fs::read(repo().join("fixtures/ack277/two-claims-bad-diagnosis.x12")).unwrap(),
        770_001,
    );
    // the model agrees: the bad claim is kept from every vendor, its sibling queued
    let e = expect(&balancing);
    let ids: Vec<&str> = e.items.iter().map(|i| i.2.as_str()).collect();
    assert_eq!((ids, e.claim_rejects, e.acks277), (vec!["ACK0001"], 1, 1));
    drop_file(&d.inbox("demo"), "balancing.x12", &balancing);
    drop_file(&d.inbox("demo"), "diagnosis.x12", &diagnosis);
    d.wait_files(2);
    let out = outbox_files(&d.outbox("demo"));

    // the 999 accepts each set with errors, the error still located
    let ack = ack999_of(&out, "000770000");
    for seg in [
        "IK3*CLM*40*2300*8~",
        "IK4*2*782*I12*170~",
        "IK5*E*5~",
        "AK9*E*1*1*1~",
    ] {
        assert!(ack.contains(seg), "{seg}: {ack}");
    }
    let ack = ack999_of(&out, "000770001");
    assert!(
        ack.contains("IK5*E*5~") && ack.contains("AK9*E*1*1*1~"),
        "{ack}"
    );

    // the 277CA (which our validator accepts) rejects the bad claim with the code of
    // the failing data and accepts the other with a payer claim control number
    let first = acks_277(&out, "277CA-000770000-");
    assert_eq!(first.len(), 1, "{:?}", out.keys());
    assert_eq!(stc_of(&first[0], "ACK0001"), "STC*A2:20*DATE*WQ*150");
    assert_eq!(stc_of(&first[0], "ACK0002"), "STC*A7:400*DATE*U*170");
    let second = acks_277(&out, "277CA-000770001-");
    assert_eq!(second.len(), 1, "{:?}", out.keys());
    assert_eq!(stc_of(&second[0], "ACK0101"), "STC*A2:20*DATE*WQ*100");
    assert_eq!(stc_of(&second[0], "ACK0102"), "STC*A7:255*DATE*U*100");
    for segs in [&first[0], &second[0]] {
        let numbers = segs.iter().filter(|s| s.starts_with("REF*1K*")).count();
        assert_eq!(numbers, 1, "{segs:?}");
    }

    // only the good claims reach a vendor; the bad ones are kept with their statuses
    let got = leasable(&d);
    let claims: Vec<(&str, &str)> = got.iter().map(|g| (g.1.as_str(), g.2.as_str())).collect();
    assert_eq!(
        claims,
        [("ACK0001", "000770000"), ("ACK0101", "000770001")],
        "{got:?}"
    );
    let mut k = kept(&d);
    k.sort();
    assert_eq!(
        k,
        [
            ("ACK0002".to_string(), "[\"A7:400\"]".to_string()),
            ("ACK0102".to_string(), "[\"A7:255\"]".to_string()),
        ]
    );
    let queued: i64 = d
        .db()
        .query_row(
            "SELECT COUNT(*) FROM queue WHERE request_id IN ('ACK0002', 'ACK0102')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(queued, 0);
    // accepted with errors is accepted
    assert_eq!(
        outcomes(&d),
        [
            ("000770000".to_string(), "accepted".to_string()),
            ("000770001".to_string(), "accepted".to_string())
        ]
    );
    // a rejected claim is not remembered: the same claims again, ACK0002 corrected,
    // make ACK0001 a duplicate and ACK0002 a new claim
    let corrected = renumber(
        &std::fs::read(repo().join("fixtures/ack277/two-providers.x12")).unwrap(),
        770_002,
    );
    drop_file(&d.inbox("demo"), "corrected.x12", &corrected);
    d.wait_files(3);
    let out = outbox_files(&d.outbox("demo"));
    assert!(ack999_of(&out, "000770002").contains("AK9*A*1*1*1~"));
    let third = acks_277(&out, "277CA-000770002-");
    assert_eq!(stc_of(&third[0], "ACK0001"), "STC*A3:54*DATE*U*150");
    assert_eq!(stc_of(&third[0], "ACK0002"), "STC*A2:20*DATE*WQ*175");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_billing_provider_error_rejects_every_claim_of_that_provider() {
    let dir = temp_dir("claims-awe-provider");
    let d = Daemon::start(&dir, "accept_with_errors = [3, 4, 5]\n");
    // the second billing provider's NPI fails its check digit (SNIP 5, 2010AA): not in
    // any claim's 2300, but every claim of that provider carries it
    let data = renumber(
        &two_providers_with(
            "NM1*85*2*PIEDMONT PROVIDER GROUP*****XX*1234567893",
            "NM1*85*2*PIEDMONT PROVIDER GROUP*****XX*1234567890",
        ),
        790_000,
    );
    drop_file(&d.inbox("demo"), "npi.x12", &data);
    d.wait_files(1);
    let out = outbox_files(&d.outbox("demo"));
    let ack = ack999_of(&out, "000790000");
    assert!(ack.contains("IK3*NM1*29*2010AA*8~"), "{ack}");
    assert!(ack.contains("AK9*E*1*1*1~"), "{ack}");
    let acks = acks_277(&out, "277CA-000790000-");
    assert_eq!(acks.len(), 1, "{:?}", out.keys());
    assert_eq!(stc_of(&acks[0], "ACK0001"), "STC*A2:20*DATE*WQ*150");
    assert_eq!(stc_of(&acks[0], "ACK0002"), "STC*A7:562:85*DATE*U*175");
    let got = leasable(&d);
    let ids: Vec<&str> = got.iter().map(|g| g.1.as_str()).collect();
    assert_eq!(ids, ["ACK0001"], "{got:?}");
    assert_eq!(
        kept(&d),
        [("ACK0002".to_string(), "[\"A7:562:85\"]".to_string())]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn with_accept_with_errors_off_the_999_rejects_the_set_and_no_277ca_goes_out() {
    let dir = temp_dir("claims-awe-off");
    // off for every partner but `lenient`, which turns it on for itself
    let d = Daemon::start(
        &dir,
        "accept_with_errors = []\n\
         [[partner]]\nid = \"demo\"\n\
         [[partner]]\nid = \"lenient\"\naccept_with_errors = [3, 4, 5]\n",
    );
    let data = two_providers_with("CLM*ACK0002*175*", "CLM*ACK0002*170*");
    let mut oracle = Oracle::with_levels(&[]);
    let e = oracle.expect(&renumber(&data, 780_000));
    assert!(
        e.items.is_empty() && e.acks277 == 0 && e.claim_rejects == 0,
        "{e:?}"
    );
    drop_file(&d.inbox("demo"), "balancing.x12", &renumber(&data, 780_000));
    d.wait_files(1);
    let out = outbox_files(&d.outbox("demo"));
    let ack = ack999_of(&out, "000780000");
    assert!(ack.contains("IK3*CLM*40*2300*8~"), "{ack}");
    assert!(
        ack.contains("IK5*R*5~") && ack.contains("AK9*R*1*1*0~"),
        "{ack}"
    );
    assert!(
        !out.keys().any(|k| k.starts_with("277CA-")),
        "{:?}",
        out.keys()
    );
    assert!(leasable(&d).is_empty());
    assert!(kept(&d).is_empty());
    // the same file from the partner that accepts with errors
    drop_file(
        &d.inbox("lenient"),
        "balancing.x12",
        &renumber(&data, 780_001),
    );
    d.wait_files(2);
    let out = outbox_files(&d.outbox("lenient"));
    assert!(ack999_of(&out, "000780001").contains("AK9*E*1*1*1~"));
    let acks = acks_277(&out, "277CA-000780001-");
    assert_eq!(acks.len(), 1, "{:?}", out.keys());
    assert_eq!(stc_of(&acks[0], "ACK0002"), "STC*A7:400*DATE*U*170");
    let got = leasable(&d);
    let claims: Vec<(&str, &str)> = got.iter().map(|g| (g.1.as_str(), g.2.as_str())).collect();
    assert_eq!(claims, [("ACK0001", "000780001")], "{got:?}");
    assert_eq!(
        outcomes(&d),
        [
            ("000780000".to_string(), "partial".to_string()),
            ("000780001".to_string(), "accepted".to_string())
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
