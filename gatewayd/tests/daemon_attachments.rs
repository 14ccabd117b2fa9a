//! PWK attachments through the real `gatewayd` binary: uploads over HTTP before and
//! after the transaction that cites them, refused uploads, partners kept apart, cover
//! sheets in the outbox (read back with `pdftotext` from poppler-utils), the vendor
//! that holds the item fetching the bytes, PA inquiry, and the pending report.

mod daemon_support;

use daemon_support::*;
use gatewayd::daemon::config::token_hash;
use serde_json::Value;
use std::process::Command;

const DEMO: &str = "demo-partner";
const OTHER: &str = "other-partner";

fn pdf(tag: &str) -> Vec<u8> {
    format!("%PDF-1.4\n% attachment {tag}\n%%EOF\n").into_bytes()
}

fn png() -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend_from_slice(&[0u8; 32]);
    v
}

fn start(dir: &std::path::Path) -> Daemon {
    let extra = format!(
        "[attachments]\nmax_bytes = 4096\npending_after_seconds = 0\n\
         [[partner]]\nid = \"demo\"\ntoken_sha256 = \"{}\"\n\
         [[partner]]\nid = \"other\"\ntoken_sha256 = \"{}\"\n",
        token_hash(DEMO),
        token_hash(OTHER)
    );
    Daemon::start(dir, &extra)
}

fn upload(d: &Daemon, token: Option<&str>, control: &str, body: &[u8]) -> (u16, Value) {
    d.post_bytes(
        &format!("/v1/attachments?control_number={control}"),
        token,
        body,
    )
}

fn squeeze(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn pdf_text(bytes: &[u8], dir: &std::path::Path) -> String {
    let p = dir.join("cover-check.pdf");
    std::fs::write(&p, bytes).unwrap();
    let out = Command::new("pdftotext")
        .args(["-layout", p.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils; .ci/run installs it)");
    assert!(out.status.success());
    squeeze(&String::from_utf8_lossy(&out.stdout))
}

fn state_of(d: &Daemon, id: i64) -> String {
    d.db()
        .query_row("SELECT state FROM attachments WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap()
}

#[test]
fn uploads_link_to_the_claim_that_cites_them_and_reach_its_vendor() {
    let dir = temp_dir("attach");
    let d = start(&dir);

    // refused uploads
    let (s, v) = upload(&d, Some("nobody"), "CLM8001BM", &pdf("x"));
    assert_eq!(s, 401, "{v}");
    let (s, v) = upload(&d, None, "CLM8001BM", &pdf("x"));
    assert_eq!(s, 401, "{v}");
    let (s, v) = upload(
        &d,
        Some(DEMO),
        "CLM8001BM",
        b"just some text, not a document",
    );
    assert_eq!(s, 415, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("PDF, TIFF, JPEG or PNG"),
        "{v}"
    );
    let mut big = pdf("big");
    big.resize(5000, b' ');
    let (s, v) = upload(&d, Some(DEMO), "CLM8001BM", &big);
    assert_eq!(s, 413, "{v}");
    let (s, v) = d.post_bytes("/v1/attachments", Some(DEMO), &pdf("x"));
    assert_eq!(s, 400, "{v}");
    let (s, v) = upload(&d, Some(DEMO), "CLM%2A8001", &pdf("x"));
    assert_eq!(s, 400, "{v}");
    let (s, v) = upload(&d, Some(DEMO), "CLM8001BM", b"");
    assert_eq!(s, 400, "{v}");

    // before the claim: pending; another partner's upload with a number the claim
    // cites stays pending for good
    let claim_pdf = pdf("claim");
    let (s, before) = upload(&d, Some(DEMO), "CLM8001BM", &claim_pdf);
    assert_eq!(
        (s, before["state"].as_str()),
        (201, Some("pending")),
        "{before}"
    );
    assert_eq!(before["content_type"], "application/pdf");
    let before_id = before["attachment_id"].as_i64().unwrap();
    // the same bytes again: the same attachment
    let (s, again) = upload(&d, Some(DEMO), "CLM8001BM", &claim_pdf);
    assert_eq!((s, again["attachment_id"].as_i64()), (201, Some(before_id)));
    let (s, foreign) = upload(&d, Some(OTHER), "LN8001FX", &pdf("other"));
    assert_eq!(
        (s, foreign["state"].as_str()),
        (201, Some("pending")),
        "{foreign}"
    );
    let foreign_id = foreign["attachment_id"].as_i64().unwrap();

    let data = renumber(
        &std::fs::read(repo().join("fixtures/attachments/837p-pwk-fax-mail.x12")).unwrap(),
        880_001,
    );
    drop_file(&d.inbox("demo"), "claim.x12", &data);
    d.wait_files(1);
    assert_eq!(state_of(&d, before_id), "linked");
    assert_eq!(state_of(&d, foreign_id), "pending", "never across partners");

    // after the claim: linked at once (control number in a header this time)
    let mut r = d
        .agent
        .post(&d.url("/v1/attachments"))
        .header("Authorization", &format!("Bearer {DEMO}"))
        .header("X-Attachment-Control-Number", "LN8001FX")
        .send(&png()[..])
        .unwrap();
    assert_eq!(r.status(), 201);
    let after: Value = r.body_mut().read_json().unwrap();
    assert_eq!(after["state"], "linked", "{after}");
    assert_eq!(after["content_type"], "image/png");
    let after_id = after["attachment_id"].as_i64().unwrap();

    // the cover sheets of the BM and FX references, whole, in the outbox
    let out = outbox_files(&d.outbox("demo"));
    assert!(
        out.keys().all(|k| !k.ends_with(".part")),
        "{:?}",
        out.keys()
    );
    let covers: Vec<_> = out
        .iter()
        .filter(|(k, _)| k.starts_with("COVER-"))
        .collect();
    assert_eq!(covers.len(), 2, "{:?}", out.keys());
    let texts: Vec<String> = covers.iter().map(|(_, b)| pdf_text(b, &dir)).collect();
    for (control, to) in [
        (
            "CLM8001BM",
            "Mail to Prior Approval Requests, P.O. Box 31188",
        ),
        ("LN8001FX", "Fax to 855-710-1964"),
    ] {
        let t = texts
            .iter()
            .find(|t| t.contains(&format!("Attachment control number (PWK06) {control}")))
            .unwrap_or_else(|| panic!("no cover sheet for {control}: {texts:?}"));
        assert!(t.contains("Claim id (CLM01) AT8001CLM"), "{t}");
        assert!(t.contains(to), "{to:?} not in {t}");
        assert!(!t.contains("TESTPATIENT"), "{t}");
    }
    assert!(
        out.keys().any(|k| k.starts_with("999-")) && out.keys().any(|k| k.starts_with("277CA-"))
    );

    // the vendor that holds the claim sees both of the partner's attachments, and
    // only it, and only once it has leased the item
    let mut holder = None;
    for v in vendors() {
        let (s, _) = d.get_json(
            &format!("/v1/queues/{v}/attachments/{before_id}"),
            Some(&token(&v)),
        );
        assert_eq!(s, 404, "{v} has not leased anything yet");
    }
    for v in vendors() {
        for item in d.lease_all(&v) {
            if item["request_id"] == "AT8001CLM" {
                holder = Some((v.clone(), item));
            }
        }
    }
    let (vendor, item) = holder.expect("the claim is in a queue");
    let listed: Vec<(i64, String)> = item["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["id"].as_i64().unwrap(),
                a["content_type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            (before_id, "application/pdf".into()),
            (after_id, "image/png".into())
        ]
    );
    let mut r = d
        .agent
        .get(&d.url(&format!("/v1/queues/{vendor}/attachments/{before_id}")))
        .header("Authorization", &format!("Bearer {}", token(&vendor)))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers().get("content-type").unwrap().to_str().unwrap(),
        "application/pdf"
    );
    assert_eq!(r.body_mut().read_to_vec().unwrap(), claim_pdf);
    let (s, _) = d.get_json(
        &format!("/v1/queues/{vendor}/attachments/{after_id}"),
        Some(&token(&vendor)),
    );
    assert_eq!(s, 200);
    // the other partner's upload is not the vendor's to see
    let (s, _) = d.get_json(
        &format!("/v1/queues/{vendor}/attachments/{foreign_id}"),
        Some(&token(&vendor)),
    );
    assert_eq!(s, 404);
    // another vendor: refused on this queue, nothing on its own
    let other = vendors().into_iter().find(|v| *v != vendor).unwrap();
    let (s, _) = d.get_json(
        &format!("/v1/queues/{vendor}/attachments/{before_id}"),
        Some(&token(&other)),
    );
    assert_eq!(s, 403);
    let (s, _) = d.get_json(
        &format!("/v1/queues/{other}/attachments/{before_id}"),
        Some(&token(&other)),
    );
    assert_eq!(s, 404);

    // the pending report: the other partner's upload, in the gauge and the log once
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !d.log_text().contains("attachment pending") {
        assert!(std::time::Instant::now() < deadline, "{}", d.log_text());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(d.metric("gatewayd_attachments_pending"), 1.0);
    let log = d.log_text();
    // each reported once (the demo upload too, while it waited for its claim)
    let reports: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("attachment pending"))
        .collect();
    assert!(
        reports.len() == 2
            && reports
                .iter()
                .any(|l| l.contains(&format!("attachment={foreign_id} ")))
            && reports
                .iter()
                .any(|l| l.contains(&format!("attachment={before_id} "))),
        "{log}"
    );
    assert!(
        !log.contains("LN8001FX") && !log.contains("CLM8001BM"),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pa_inquiry_lists_the_attachments_of_a_request() {
    let dir = temp_dir("attach-pa");
    let d = start(&dir);
    let data = renumber(
        &std::fs::read(repo().join("fixtures/attachments/278-pwk-fax-mail.x12")).unwrap(),
        890_001,
    );
    drop_file(&d.inbox("demo"), "pa.x12", &data);
    d.wait_files(1);
    // after the request
    let (s, up) = upload(&d, Some(DEMO), "EV7001EL", &pdf("eval"));
    assert_eq!((s, up["state"].as_str()), (201, Some("linked")), "{up}");
    let id = up["attachment_id"].as_i64().unwrap();
    let (s, v) = d.get_json("/v1/pa/AT7001EV", Some(DEMO));
    assert_eq!(s, 200, "{v}");
    let results = v["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for r in results {
        let ids: Vec<i64> = r["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, vec![id], "{r}");
        assert_eq!(r["attachments"][0]["content_type"], "application/pdf");
    }
    // the other partner sees neither the request nor the upload
    let (s, _) = d.get_json("/v1/pa/AT7001EV", Some(OTHER));
    assert_eq!(s, 404);
    // fax and mail references got their cover sheets
    let out = outbox_files(&d.outbox("demo"));
    let covers = out.keys().filter(|k| k.starts_with("COVER-")).count();
    assert!(covers >= 3, "{:?}", out.keys());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Uploads `body` as the partner `demo` with the control number in the header.
fn upload_header(d: &Daemon, control: &str, body: &[u8]) -> Value {
    let mut r = d
        .agent
        .post(&d.url("/v1/attachments"))
        .header("Authorization", &format!("Bearer {DEMO}"))
        .header("X-Attachment-Control-Number", control)
        .send(body)
        .unwrap();
    assert_eq!(r.status(), 201);
    r.body_mut().read_json().unwrap()
}

#[test]
fn each_part_of_a_split_request_shows_only_its_own_and_the_shared_attachments() {
    let dir = temp_dir("attach-split");
    let d = start(&dir);
    // the request's event (2000E) cites EV7001FX and EV7001EL, shared by every part;
    // its DME service (HL 5) CMN7001BM, its therapy service (HL 6) POC/7001
    let (s, cmn) = upload(&d, Some(DEMO), "CMN7001BM", &pdf("cmn"));
    assert_eq!((s, cmn["state"].as_str()), (201, Some("pending")), "{cmn}");
    let data = renumber(
        &std::fs::read(repo().join("fixtures/attachments/278-pwk-fax-mail.x12")).unwrap(),
        895_001,
    );
    drop_file(&d.inbox("demo"), "pa.x12", &data);
    d.wait_files(1);
    let poc = upload_header(&d, "POC/7001", &pdf("poc"));
    let shared = upload_header(&d, "EV7001EL", &pdf("eval"));
    assert_eq!(poc["state"], "linked");
    assert_eq!(shared["state"], "linked");
    let id = |v: &Value| v["attachment_id"].as_i64().unwrap();
    let (cmn, poc, shared) = (id(&cmn), id(&poc), id(&shared));

    // the request is split in two work items for two vendors
    let mut parts: Vec<(String, Vec<String>, Vec<i64>)> = Vec::new();
    for v in vendors() {
        for item in d.lease_all(&v) {
            assert_eq!(item["request_id"], "AT7001");
            let services: Vec<String> = item["item"]["work_item"]["services"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect();
            let ids: Vec<i64> = item["attachments"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_i64().unwrap())
                .collect();
            parts.push((v.clone(), services, ids));
        }
    }
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert_ne!(parts[0].0, parts[1].0, "{parts:?}");
    let dme = parts.iter().find(|p| p.1 == ["5"]).expect("the DME part");
    let therapy = parts
        .iter()
        .find(|p| p.1 == ["6"])
        .expect("the therapy part");
    // each lease lists its own part's attachments and the shared one, in id order
    let mut want = vec![cmn, shared];
    want.sort();
    assert_eq!(dme.2, want, "{parts:?}");
    let mut want = vec![poc, shared];
    want.sort();
    assert_eq!(therapy.2, want, "{parts:?}");

    let get = |queue: &str, as_vendor: &str, id: i64| -> u16 {
        d.get_json(
            &format!("/v1/queues/{queue}/attachments/{id}"),
            Some(&token(as_vendor)),
        )
        .0
    };
    let (a, b) = (dme.0.as_str(), therapy.0.as_str());
    // each fetches its own and the shared one
    assert_eq!(get(a, a, cmn), 200);
    assert_eq!(get(a, a, shared), 200);
    assert_eq!(get(b, b, poc), 200);
    assert_eq!(get(b, b, shared), 200);
    // never the other part's: on its own queue not found, on the other's refused
    assert_eq!(get(a, a, poc), 404);
    assert_eq!(get(b, b, cmn), 404);
    assert_eq!(get(b, a, poc), 403);
    assert_eq!(get(a, b, cmn), 403);
    // PA inquiry (the partner's own view) still lists all of the request's
    let (s, v) = d.get_json("/v1/pa/AT7001EV", Some(DEMO));
    assert_eq!(s, 200, "{v}");
    for r in v["results"].as_array().unwrap() {
        let mut ids: Vec<i64> = r["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_i64().unwrap())
            .collect();
        ids.sort();
        let mut all = vec![cmn, poc, shared];
        all.sort();
        assert_eq!(ids, all, "{r}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
