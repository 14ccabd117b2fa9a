//! Real-time 278 over CAQH CORE connectivity against the real `gatewayd` binary on
//! 127.0.0.1, with a real client (curl): SOAP 1.2 and multipart envelopes, the plain
//! X12 POST, every envelope error with its code and HTTP status, the deadline, HTTPS.

mod daemon_support;

use daemon_support::*;
use gatewayd::daemon::config::token_hash;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const REQUEST_TYPE: &str = "X12_278_Request_005010X217E1_2";
const PARTNER_TOKEN: &str = "demo-partner";

fn curl_bin() -> &'static str {
    if Path::new("/usr/bin/curl").exists() {
        "/usr/bin/curl"
    } else {
        "curl"
    }
}

/// Runs curl with `args` plus `-w` for the status; returns (status, body).
fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new(curl_bin())
        .args(["-sS", "--max-time", "30", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl runs (.ci/run installs it)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", ""));
    let status = code.trim().parse().unwrap_or_else(|_| {
        panic!(
            "curl gave no status: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (status, body.to_string())
}

static NEXT: AtomicU32 = AtomicU32::new(1);

fn uuid() -> String {
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    format!("{n:08x}-7dec-41d0-a765-{:012x}", u64::from(n) * 7919)
}

/// The valid fields of a request carrying `x12`.
fn fields(x12: &[u8]) -> Vec<(&'static str, String)> {
    vec![
        ("PayloadType", REQUEST_TYPE.into()),
        ("ProcessingMode", "RealTime".into()),
        ("PayloadID", uuid()),
        ("TimeStamp", "2026-12-03T23:45:00Z".into()),
        ("SenderID", "CLEARINGHOUSE".into()),
        ("ReceiverID", "NCMEDICAID".into()),
        ("CORERuleVersion", "2.2.0".into()),
        ("Payload", String::from_utf8(x12.to_vec()).unwrap()),
    ]
}

fn with(
    mut f: Vec<(&'static str, String)>,
    name: &str,
    value: &str,
) -> Vec<(&'static str, String)> {
    for (n, v) in f.iter_mut() {
        if *n == name {
            *v = value.to_string();
        }
    }
    f
}

fn without(f: Vec<(&'static str, String)>, name: &str) -> Vec<(&'static str, String)> {
    f.into_iter().filter(|(n, _)| *n != name).collect()
}

fn soap_text(f: &[(&str, String)], creds: Option<(&str, &str)>) -> String {
    let header = match creds {
        Some((u, p)) => format!(
            "<soapenv:Header><wsse:Security xmlns:wsse=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd\" soapenv:mustUnderstand=\"true\"><wsse:UsernameToken><wsse:Username>{u}</wsse:Username><wsse:Password Type=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText\">{p}</wsse:Password></wsse:UsernameToken></wsse:Security></soapenv:Header>"
        ),
        None => String::new(),
    };
    let mut body = String::new();
    for (n, v) in f {
        if *n == "Payload" {
            body.push_str(&format!("<Payload><![CDATA[{v}]]></Payload>\n"));
        } else {
            body.push_str(&format!("<{n}>{v}</{n}>\n"));
        }
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soapenv:Envelope xmlns:soapenv=\"http://www.w3.org/2003/05/soap-envelope\">{header}<soapenv:Body>\n<ns1:COREEnvelopeRealTimeRequest xmlns:ns1=\"http://www.caqh.org/SOAP/WSDL/CORERule2.2.0.xsd\">\n{body}</ns1:COREEnvelopeRealTimeRequest>\n</soapenv:Body>\n</soapenv:Envelope>\n"
    )
}

/// A parsed answer: status, every field by name.
#[derive(Debug)]
struct Answer {
    status: u16,
    text: String,
}

impl Answer {
    fn field(&self, name: &str) -> String {
        if let Some(rest) = self.text.split(&format!("<{name}>")).nth(1) {
            let v = rest.split(&format!("</{name}>")).next().unwrap_or("");
            return v
                .trim_start_matches("<![CDATA[")
                .trim_end_matches("]]>")
                .to_string();
        }
        // multipart
        let key = format!("name=\"{name}\"\r\n\r\n");
        self.text
            .split(&key)
            .nth(1)
            .and_then(|r| r.split("\r\n--").next())
            .unwrap_or("")
            .to_string()
    }

    fn code(&self) -> String {
        self.field("ErrorCode")
    }

    /// (status, ErrorCode, PayloadType).
    fn summary(&self) -> (u16, String, String) {
        (self.status, self.code(), self.field("PayloadType"))
    }
}

fn post_soap(d: &Daemon, text: &str, base: &str) -> Answer {
    let file = d
        .dir
        .join(format!("req-{}.xml", NEXT.fetch_add(1, Ordering::SeqCst)));
    std::fs::write(&file, text).unwrap();
    let at = format!("@{}", file.display());
    let url = format!("{base}/core/soap");
    let (status, text) = curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/soap+xml; charset=utf-8",
        "--data-binary",
        &at,
        &url,
    ]);
    Answer { status, text }
}

fn soap(d: &Daemon, f: &[(&str, String)]) -> Answer {
    post_soap(d, &soap_text(f, Some(("demo", PARTNER_TOKEN))), &d.url(""))
}

fn post_form(d: &Daemon, f: &[(&str, String)], creds: Option<(&str, &str)>) -> Answer {
    let mut args: Vec<String> = Vec::new();
    for (n, v) in f {
        if *n == "Payload" {
            let file = d.dir.join(format!(
                "payload-{}.x12",
                NEXT.fetch_add(1, Ordering::SeqCst)
            ));
            std::fs::write(&file, v).unwrap();
            args.push("-F".into());
            args.push(format!("Payload=<{}", file.display()));
        } else {
            args.push("-F".into());
            args.push(format!("{n}={v}"));
        }
    }
    if let Some((u, p)) = creds {
        args.extend([
            "-F".into(),
            format!("UserName={u}"),
            "-F".into(),
            format!("Password={p}"),
        ]);
    }
    args.push(d.url("/core/multipart"));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let (status, text) = curl(&refs);
    Answer { status, text }
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(repo().join(path)).unwrap()
}

fn config(extra: &str) -> String {
    format!(
        "eligibility_file = {:?}\n{extra}\n[[partner]]\nid = \"demo\"\ntoken_sha256 = \"{}\"\n",
        repo()
            .join("fixtures/routing/eligibility.csv")
            .display()
            .to_string(),
        token_hash(PARTNER_TOKEN)
    )
}

/// Whether every HCR of the payload is A4 (pended), and there is one.
fn all_pended(payload: &str) -> bool {
    let h = hcr(payload);
    !h.is_empty() && h.iter().all(|s| s.starts_with("HCR*A4"))
}

fn hcr(payload: &str) -> Vec<String> {
    payload
        .split('~')
        .map(str::trim)
        .filter(|s| s.starts_with("HCR*"))
        .map(str::to_string)
        .collect()
}

#[test]
fn soap_answers_each_outcome_synchronously() {
    let dir = temp_dir("rt-soap");
    let d = Daemon::start(&dir, &config(""));
    // pharmacy, criteria met: A1 with an authorization number
    let a = soap(
        &d,
        &fields(&renumber(&read("fixtures/valid/278/pharmacy.x12"), 9101)),
    );
    assert_eq!(
        a.summary(),
        (
            200,
            "Success".into(),
            "X12_278_Response_005010X217E1_2".into()
        ),
        "{}",
        a.text
    );
    assert_eq!(a.field("ErrorMessage"), "None");
    assert_eq!(a.field("ProcessingMode"), "RealTime");
    assert_eq!(a.field("CORERuleVersion"), "2.2.0");
    let h = hcr(&a.field("Payload"));
    assert!(h.iter().any(|s| s.starts_with("HCR*A1*")), "{h:?}");
    // pharmacy, criteria not met: A4 at once (and queued to CSRA)
    let a = soap(
        &d,
        &fields(&renumber(
            &read("fixtures/routing/pharmacy-pended.x12"),
            9102,
        )),
    );
    assert_eq!(a.summary().0, 200, "{}", a.text);
    assert!(
        hcr(&a.field("Payload"))
            .iter()
            .all(|s| s.starts_with("HCR*A4")),
        "{}",
        a.text
    );
    // a request for a vendor: A4 pended, naming the review and the tracking number
    let a = soap(
        &d,
        &fields(&renumber(&read("fixtures/routing/ex01-dme.x12"), 9103)),
    );
    assert_eq!(a.summary().0, 200, "{}", a.text);
    let p = a.field("Payload");
    assert!(all_pended(&p), "{p}");
    assert!(p.contains("MSG*Pended for review"), "{p}");
    // the vendor's queue has it, and PA inquiry knows it
    let db = d.db();
    let queued: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM queue q JOIN interchanges i ON i.id = q.interchange_id WHERE i.isa13 = '000009103'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(queued >= 1);
    // LME/MCO member: CT
    let a = soap(
        &d,
        &fields(&renumber(
            &read("fixtures/routing/ex11-lme-mco-reject.x12"),
            9104,
        )),
    );
    assert_eq!(hcr(&a.field("Payload"))[0].as_str(), "HCR*CT", "{}", a.text);
    // no PA required: NA
    let a = soap(
        &d,
        &fields(&renumber(
            &read("fixtures/routing/ex07b-2022-radiology.x12"),
            9105,
        )),
    );
    assert!(
        hcr(&a.field("Payload"))[0].starts_with("HCR*NA"),
        "{}",
        a.text
    );
    // the X12 rejected by the 999: an invalid code in UM01
    let bad = String::from_utf8(renumber(&read("fixtures/valid/278/pharmacy.x12"), 9106))
        .unwrap()
        .replace("UM*HS*", "UM*ZZ*");
    let a = soap(&d, &fields(bad.as_bytes()));
    assert_eq!(
        a.summary(),
        (
            200,
            "Success".into(),
            "X12_999_Response_005010X231A1".into()
        ),
        "{}",
        a.text
    );
    assert!(a.field("Payload").contains("IK5*R"), "{}", a.text);
    // the same interchange again: a duplicate, TA1 note 025
    let a = soap(
        &d,
        &fields(&renumber(&read("fixtures/valid/278/pharmacy.x12"), 9101)),
    );
    assert_eq!(
        a.summary(),
        (200, "Success".into(), "X12_TA1_Response_00501X231A1".into()),
        "{}",
        a.text
    );
    assert!(a.field("Payload").contains("*R*025"), "{}", a.text);
    // an interchange whose IEA02 differs from its ISA13: TA1 note 001, rejected
    let broken = String::from_utf8(renumber(&read("fixtures/valid/278/pharmacy.x12"), 9107))
        .unwrap()
        .replace("IEA*1*000009107", "IEA*1*000009999");
    let a = soap(&d, &fields(broken.as_bytes()));
    assert_eq!(
        a.summary(),
        (200, "Success".into(), "X12_TA1_Response_00501X231A1".into()),
        "{}",
        a.text
    );
    assert!(a.field("Payload").contains("*R*001"), "{}", a.text);
    // every answer is an outbox file too
    d.wait_files(8);
    let out = outbox_files(&d.outbox("demo"));
    assert!(
        out.keys().filter(|k| k.starts_with("278-")).count() >= 5,
        "{:?}",
        out.keys()
    );
    // the answers are counted by payload type
    assert_eq!(
        d.metric("gatewayd_realtime_total{answer=\"X12_TA1_Response_00501X231A1\"}"),
        2.0
    );
    assert!(d.metric("gatewayd_realtime_seconds_count") >= 8.0);
    // no PHI in the log: member ids, names, birth dates
    let log = d.log_text();
    for phi in ["901112233L", "CARRAWAY", "NCRT0001"] {
        assert!(!log.contains(phi), "{phi} in the log");
    }
}

#[test]
fn soap_envelope_errors_have_their_codes_and_statuses() {
    let dir = temp_dir("rt-errors");
    let d = Daemon::start(&dir, &config("[realtime]\nmax_body_bytes = 16384\n"));
    let x12 = renumber(&read("fixtures/valid/278/pharmacy.x12"), 9201);
    let base = d.url("");
    let check = |a: Answer, status: u16, code: &str| {
        assert_eq!((a.status, a.code().as_str()), (status, code), "{}", a.text);
        assert_eq!(a.field("PayloadType"), "CoreEnvelopeError", "{}", a.text);
    };
    // not XML, not well-formed, a DTD, SOAP 1.1, not the CORE request
    for text in [
        "hello".to_string(),
        "<soapenv:Envelope xmlns:soapenv=\"http://www.w3.org/2003/05/soap-envelope\"><soapenv:Body>".into(),
        "<!DOCTYPE x [<!ENTITY a \"aaaa\">]><x>&a;</x>".into(),
        soap_text(&fields(&x12), Some(("demo", PARTNER_TOKEN)))
            .replace("http://www.w3.org/2003/05/soap-envelope", "http://schemas.xmlsoap.org/soap/envelope/"),
        soap_text(&fields(&x12), Some(("demo", PARTNER_TOKEN)))
            .replace("COREEnvelopeRealTimeRequest", "COREEnvelopeBatchSubmission"),
    ] {
        check(post_soap(&d, &text, &base), 400, "EnvelopeMalformed");
    }
    // each required field missing
    for name in [
        "PayloadType",
        "ProcessingMode",
        "PayloadID",
        "TimeStamp",
        "SenderID",
        "ReceiverID",
        "CORERuleVersion",
        "Payload",
    ] {
        let a = soap(&d, &without(fields(&x12), name));
        let code = format!("{name}Required");
        check(a, 400, &code);
    }
    // illegal values
    check(
        soap(&d, &with(fields(&x12), "PayloadID", "12345")),
        400,
        "PayloadIDIllegal",
    );
    check(
        soap(
            &d,
            &with(
                fields(&x12),
                "PayloadID",
                "f81d4fae-7dec-11d0-c765-00a0c91e6bf6",
            ),
        ),
        400,
        "PayloadIDIllegal",
    );
    check(
        soap(&d, &with(fields(&x12), "CORERuleVersion", "2.1.0")),
        400,
        "VersionMismatch",
    );
    check(
        soap(
            &d,
            &with(fields(&x12), "PayloadType", "X12_270_Request_005010X279A1"),
        ),
        400,
        "PayloadTypeIllegal",
    );
    check(
        soap(&d, &with(fields(&x12), "ProcessingMode", "Batch")),
        400,
        "ProcessingModeIllegal",
    );
    check(
        soap(&d, &with(fields(&x12), "TimeStamp", "yesterday")),
        400,
        "TimeStampIllegal",
    );
    check(
        soap(&d, &with(fields(&x12), "Payload", "hello")),
        400,
        "PayloadIllegal",
    );
    // credentials: wrong password, unknown user, none
    let f = fields(&x12);
    check(
        post_soap(&d, &soap_text(&f, Some(("demo", "wrong"))), &base),
        401,
        "UnAuthorized",
    );
    check(
        post_soap(&d, &soap_text(&f, Some(("other", PARTNER_TOKEN))), &base),
        401,
        "UnAuthorized",
    );
    let a = post_soap(&d, &soap_text(&f, None), &base);
    assert_eq!(
        a.field("PayloadID"),
        f[2].1,
        "the request's PayloadID is echoed"
    );
    check(a, 401, "UnAuthorized");
    // oversized
    let big = format!(
        "{}{}",
        String::from_utf8(x12.clone()).unwrap(),
        " ".repeat(20_000)
    );
    check(
        soap(&d, &with(fields(&x12), "Payload", &big)),
        413,
        "PayloadTooLarge",
    );
    // none of these reached the store
    let files: i64 = d
        .db()
        .query_row("SELECT COUNT(*) FROM files", [], |r| r.get(0))
        .unwrap();
    assert_eq!(files, 0);
    // and the daemon still answers a good request
    let a = soap(&d, &fields(&x12));
    assert_eq!(a.summary().0, 200, "{}", a.text);
}

#[test]
fn multipart_and_plain_x12() {
    let dir = temp_dir("rt-form");
    let d = Daemon::start(&dir, &config("[realtime]\nmax_body_bytes = 16384\n"));
    let creds = Some(("demo", PARTNER_TOKEN));
    let a = post_form(
        &d,
        &fields(&renumber(&read("fixtures/valid/278/pharmacy.x12"), 9301)),
        creds,
    );
    assert_eq!(
        a.summary(),
        (
            200,
            "Success".into(),
            "X12_278_Response_005010X217E1_2".into()
        ),
        "{}",
        a.text
    );
    assert!(
        hcr(&a.field("Payload"))
            .iter()
            .any(|s| s.starts_with("HCR*A1*")),
        "{}",
        a.text
    );
    let a = post_form(
        &d,
        &fields(&renumber(&read("fixtures/routing/ex01-dme.x12"), 9302)),
        creds,
    );
    assert!(all_pended(&a.field("Payload")), "{}", a.text);
    let x12 = renumber(&read("fixtures/valid/278/pharmacy.x12"), 9303);
    let a = post_form(&d, &without(fields(&x12), "PayloadID"), creds);
    assert_eq!(
        (a.status, a.code()),
        (400, "PayloadIDRequired".into()),
        "{}",
        a.text
    );
    let a = post_form(&d, &fields(&x12), Some(("demo", "wrong")));
    assert_eq!(
        (a.status, a.code()),
        (401, "UnAuthorized".into()),
        "{}",
        a.text
    );
    let a = post_form(&d, &with(fields(&x12), "CORERuleVersion", "3.0.0"), creds);
    assert_eq!(
        (a.status, a.code()),
        (400, "VersionMismatch".into()),
        "{}",
        a.text
    );
    let big = format!(
        "{}{}",
        String::from_utf8(x12.clone()).unwrap(),
        " ".repeat(20_000)
    );
    let a = post_form(&d, &with(fields(&x12), "Payload", &big), creds);
    assert_eq!(
        (a.status, a.code()),
        (413, "PayloadTooLarge".into()),
        "{}",
        a.text
    );
    let (status, text) = curl(&[
        "-H",
        "Content-Type: multipart/form-data; boundary=zz",
        "--data-binary",
        "junk",
        &d.url("/core/multipart"),
    ]);
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("EnvelopeMalformed"), "{text}");

    // the plain POST: the partner's bearer token, the X12 in, the X12 out
    let file = dir.join("plain.x12");
    std::fs::write(&file, &x12).unwrap();
    let at = format!("@{}", file.display());
    let headers = dir.join("plain.headers");
    let auth = format!("Authorization: Bearer {PARTNER_TOKEN}");
    let url = d.url("/v1/realtime/278");
    let (status, body) = curl(&[
        "-D",
        headers.to_str().unwrap(),
        "-H",
        &auth,
        "--data-binary",
        &at,
        &url,
    ]);
    assert_eq!(status, 200, "{body}");
    assert!(
        hcr(&body).iter().any(|s| s.starts_with("HCR*A1*")),
        "{body}"
    );
    let h = std::fs::read_to_string(&headers)
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        h.contains("x-core-payload-type: x12_278_response_005010x217e1_2"),
        "{h}"
    );
    assert!(h.contains("content-type: application/edi-x12"), "{h}");
    let (status, body) = curl(&["--data-binary", &at, &url]);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("\"code\":\"UnAuthorized\""), "{body}");
    let (status, body) = curl(&["-H", &auth, "--data-binary", "not x12", &url]);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("PayloadIllegal"), "{body}");
    let bigfile = dir.join("big.x12");
    std::fs::write(&bigfile, vec![b'X'; 20_000]).unwrap();
    let (status, body) = curl(&[
        "-H",
        &auth,
        "--data-binary",
        &format!("@{}", bigfile.display()),
        &url,
    ]);
    assert_eq!(status, 413, "{body}");
}

#[test]
fn past_the_deadline_the_answer_is_pended_and_the_outcome_follows() {
    let dir = temp_dir("rt-deadline");
    let d = Daemon::start(&dir, &config("[realtime]\nanswer_within_ms = 1\n"));
    let started = Instant::now();
    let a = soap(
        &d,
        &fields(&renumber(&read("fixtures/valid/278/pharmacy.x12"), 9401)),
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        a.summary(),
        (
            200,
            "Success".into(),
            "X12_278_Response_005010X217E1_2".into()
        ),
        "{}",
        a.text
    );
    assert!(all_pended(&a.field("Payload")), "{}", a.text);
    // the pipeline still decides it: its A1 reaches the outbox
    d.wait_files(1);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = outbox_files(&d.outbox("demo"));
        let texts: Vec<String> = out
            .iter()
            .filter(|(k, _)| k.starts_with("278-"))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect();
        if texts.iter().any(|t| t.contains("HCR*A1*")) && texts.iter().any(|t| t.contains("HCR*A4"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "{:?}", out.keys());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn gatewayd_cmd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gatewayd"))
}

#[test]
fn https_with_a_generated_dev_certificate() {
    let dir = temp_dir("rt-https");
    let certs: PathBuf = dir.join("certs");
    let out = gatewayd_cmd()
        .args(["dev-cert", "--out"])
        .arg(&certs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key_mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(certs.join("key.pem"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(key_mode & 0o077, 0, "the key is private");
    let port = free_port();
    let extra = config(&format!(
        "[realtime]\nmax_body_bytes = 65536\n[http]\ntls_listen = \"127.0.0.1:{port}\"\ntls_cert = {:?}\ntls_key = {:?}\n",
        certs.join("cert.pem").display().to_string(),
        certs.join("key.pem").display().to_string()
    ));
    // `[http]` of the test config holds `listen`: put the TLS keys beside it
    let extra = extra.replace("[http]\n", "");
    let d = start_with_http_keys(&dir, &extra);
    let base = format!("https://localhost:{port}");
    let cacert = certs.join("cert.pem");
    let text = soap_text(
        &fields(&renumber(&read("fixtures/valid/278/pharmacy.x12"), 9501)),
        Some(("demo", PARTNER_TOKEN)),
    );
    let file = dir.join("https.xml");
    std::fs::write(&file, &text).unwrap();
    let (status, body) = curl(&[
        "--cacert",
        cacert.to_str().unwrap(),
        "-H",
        "Content-Type: application/soap+xml",
        "--data-binary",
        &format!("@{}", file.display()),
        &format!("{base}/core/soap"),
    ]);
    let a = Answer { status, text: body };
    assert_eq!(a.summary().0, 200, "{}", a.text);
    assert!(
        hcr(&a.field("Payload"))
            .iter()
            .any(|s| s.starts_with("HCR*A1*")),
        "{}",
        a.text
    );
    // without the certificate, curl refuses the server
    let (status, _) = curl(&[&format!("{base}/healthz")]);
    assert_eq!(status, 0);
    drop(d);
}

/// Starts the daemon with TLS keys moved into the `[http]` table the test config
/// writes.
fn start_with_http_keys(dir: &Path, extra: &str) -> Daemon {
    let (tls, rest): (Vec<&str>, Vec<&str>) = extra.lines().partition(|l| l.starts_with("tls_"));
    let port = free_port();
    let text = config_text(dir, port, &rest.join("\n")).replacen(
        "[http]\n",
        &format!("[http]\n{}\n", tls.join("\n")),
        1,
    );
    Daemon::start_config(dir, &text, port, None)
}

#[test]
fn a_real_time_request_goes_before_a_queue_of_batches() {
    let dir = temp_dir("rt-first");
    // batches of 278 requests, in the inbox before the daemon starts, so its first scan
    // lists them all
    let files = 8;
    let batches: Vec<Vec<u8>> = (0..files)
        .map(|i| {
            let o = fixtures::generate::Options::new(fixtures::generate::Kind::Request278, 300_000)
                .with_seed(40 + i);
            renumber(
                &fixtures::generate::generate_to_vec(&o),
                9600 + i as u32 * 10,
            )
        })
        .collect();
    let inbox = dir.join("var/partners/demo/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    for (i, data) in batches.iter().enumerate() {
        drop_file(&inbox, &format!("batch-{i}.x12"), data);
    }
    let d = Daemon::start(&dir, &config(""));
    // wait until the pipeline works on the first of them
    let db = d.db();
    let deadline = Instant::now() + Duration::from_secs(30);
    while db
        .query_row("SELECT COUNT(*) FROM files", [], |r| r.get::<_, i64>(0))
        .unwrap_or(0)
        == 0
    {
        assert!(Instant::now() < deadline, "no batch taken");
        std::thread::sleep(Duration::from_millis(10));
    }
    let a = soap(
        &d,
        &fields(&renumber(&read("fixtures/valid/278/pharmacy.x12"), 9701)),
    );
    assert!(
        hcr(&a.field("Payload"))
            .iter()
            .any(|s| s.starts_with("HCR*A1*")),
        "{}",
        a.text
    );
    // answered while batches were still waiting (in the inbox or received)
    let finished: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM files WHERE name LIKE 'batch-%' AND state != 'received'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        finished <= files as i64 / 2,
        "the real-time request waited for the batches ({finished} of {files} finished)"
    );
    d.wait_files(files as i64 + 1);
}
