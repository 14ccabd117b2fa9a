//! The `x12` command line as a user runs it: the real binary, real files, stdin, exit
//! codes and the JSON contract.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn x12() -> Command {
    Command::new(env!("CARGO_BIN_EXE_x12"))
}

fn fixture(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(p)
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = x12().args(args).output().expect("run x12");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn validate_exit_codes() {
    let valid = fixture("valid/837p-minimal.x12");
    let invalid = fixture("invalid/se01-count.x12");
    assert_eq!(run(&["validate", valid.to_str().unwrap()]).0, 0);
    assert_eq!(run(&["validate", invalid.to_str().unwrap()]).0, 1);
    assert_eq!(
        run(&[
            "validate",
            valid.to_str().unwrap(),
            invalid.to_str().unwrap()
        ])
        .0,
        1
    );
    let (code, _, err) = run(&["validate", "/nonexistent/file.x12"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/file.x12"), "{err}");
    assert_eq!(run(&["validate"]).0, 2, "usage error");
    assert_eq!(run(&["frobnicate"]).0, 2, "unknown command");
}

#[test]
fn validate_text_names_the_place() {
    let (code, out, _) = run(&[
        "validate",
        fixture("invalid/se01-count.x12").to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    let line = out
        .lines()
        .find(|l| l.contains("SE01_COUNT"))
        .expect("an SE01 line");
    assert!(line.contains("se01-count.x12"), "{line}");
    assert!(line.contains("segment 29 SE01"), "{line}");
    assert!(
        line.contains("SE01 says 26 segments; the set has 27"),
        "{line}"
    );
    assert!(
        out.lines().last().unwrap_or("").contains("INVALID"),
        "{out}"
    );
}

#[test]
fn validate_json_contract() {
    let (code, out, _) = run(&[
        "validate",
        "--format",
        "json",
        fixture("invalid/se01-count.x12").to_str().unwrap(),
        fixture("valid/837p-minimal.x12").to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["valid"], false);
    assert_eq!(lines[1]["valid"], true);
    assert!(lines[0]["path"]
        .as_str()
        .unwrap()
        .ends_with("se01-count.x12"));
    let issue = &lines[0]["issues"][0];
    for key in [
        "severity",
        "code",
        "message",
        "segment_position",
        "segment_id",
        "byte_offset",
    ] {
        assert!(issue.get(key).is_some(), "missing {key}: {issue}");
    }
    assert_eq!(issue["severity"], "error");
    assert_eq!(issue["code"], "SE01_COUNT");
    assert_eq!(issue["segment_position"], 29);
    assert_eq!(issue["segment_id"], "SE");
    assert_eq!(issue["element"], 1);
    assert_eq!(issue["control_number"], "0001");
    assert_eq!(lines[1]["guides"]["837P 005010X222A1"], 1);
}

#[test]
fn guide_findings_carry_loop_and_999_coordinates() {
    let (_, out, _) = run(&[
        "validate",
        "--format",
        "json",
        fixture("invalid/lowercase-segment-id.x12")
            .to_str()
            .unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    let missing = v["issues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == "MISSING_LOOP")
        .expect("the missing payer loop");
    assert_eq!(missing["loop"], "2010BB");
    assert_eq!(missing["ik3"]["code"], "3");
    assert_eq!(missing["ik3"]["segment_id"], "NM1");
    assert_eq!(missing["snip"], 2);
}

#[test]
fn stdin_is_read_with_a_dash() {
    let data = std::fs::read(fixture("valid/837p-pipes.x12")).expect("fixture");
    let mut child = x12()
        .args(["validate", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&data)
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // piped output has no progress bar, only the verdict
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("-: valid"));
}

#[test]
fn view_prints_one_segment_per_line() {
    let (code, out, _) = run(&["view", fixture("valid/837p-pipes.x12").to_str().unwrap()]);
    assert_eq!(code, 0);
    // segment lines start with their position; loop headings ("-- 2300 Claim
    // Information") sit between them
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert_eq!(lines.len(), 31);
    assert!(out.contains("-- 2010AA Billing Provider Name"), "{out}");
    assert!(
        lines[0].trim_start().starts_with("1  ISA|00|"),
        "{}",
        lines[0]
    );
    assert!(lines[2].contains("ST|837|0001"), "{}", lines[2]);
    assert!(
        lines[30].trim_start().starts_with("31  IEA|1|000000101"),
        "{}",
        lines[30]
    );
}

#[test]
fn ta1_answers_each_interchange() {
    let (code, out, _) = run(&[
        "ta1",
        fixture("invalid/iea02-control.x12").to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(out.contains("TA1*000000101*240315*1430*R*001~"), "{out}");
    assert!(
        out.contains("*ZZ*NCMEDICAID     *ZZ*CLEARINGHOUSE  *"),
        "{out}"
    );
    let (code, out, _) = run(&[
        "ta1",
        fixture("valid/two-interchanges.x12").to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 2);
    // each TA1 answers with the delimiters of the interchange it acknowledges
    assert!(out.contains("TA1|000000102|240315|1430|A|000~"), "{out}");
}

#[test]
fn ack_writes_a_999() {
    let (code, out, _) = run(&["ack", fixture("invalid/se01-count.x12").to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        out.contains("ST*999*0001*005010X231A1~AK1*HC*101*005010X222A1~"),
        "{out}"
    );
    assert!(out.contains("IK5*R*4~"), "{out}");
    assert!(out.contains("AK9*R*1*1*0~"), "{out}");
}

#[test]
fn json_prints_claims_and_events() {
    let (code, out, _) = run(&["json", fixture("valid/837p-minimal.x12").to_str().unwrap()]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(v["guide"], "837P 005010X222A1");
    assert_eq!(v["claims"][0]["claim_id"], "PFP0001");
    assert_eq!(v["claims"][0]["lines"][1]["procedure_code"], "36415");
    let (_, out, _) = run(&[
        "json",
        fixture("public/KeyMarkInc__OopFactory.X12/Example_3_2_1_Request.txt")
            .to_str()
            .unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(v["events"][0]["category"], "AR");
    assert_eq!(v["events"][0]["services"][0]["procedure"]["code"], "33510");
}

#[test]
fn provider_checks_run_with_a_provider_file_and_reach_the_999() {
    let file = fixture("routing/ex08-hospice.x12");
    let providers = fixture("routing/providers.csv");
    let (f, p) = (file.to_str().unwrap(), providers.to_str().unwrap());
    // without the provider file the claim is valid
    assert_eq!(run(&["validate", f]).0, 0);
    let (code, out, _) = run(&["validate", "--format", "json", "--providers", p, f]);
    assert_eq!(code, 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let issues = v["issues"].as_array().unwrap();
    assert_eq!(issues.len(), 1, "{out}");
    let i = &issues[0];
    assert_eq!(i["snip"], 7);
    assert_eq!(i["segment_id"], "PRV");
    assert_eq!(i["element"], 3);
    assert_eq!(i["loop"], "2000A");
    assert!(
        i["message"]
            .as_str()
            .unwrap()
            .contains("not active with this taxonomy"),
        "{i}"
    );
    let (code, out, _) = run(&["ack", "--providers", p, f]);
    assert_eq!(code, 1);
    let segs: Vec<&str> = out.split('~').map(str::trim).collect();
    assert!(segs.contains(&"IK3*PRV*7*2000A*8"), "{out}");
    assert!(segs.contains(&"IK4*3*127*7*282N00000X"), "{out}");
    assert!(segs.contains(&"IK5*R*5"), "{out}");
    // a provider file that does not load is a usage error naming it
    let (code, _, err) = run(&["validate", "--providers", "/nonexistent/providers.csv", f]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/providers.csv"), "{err}");
}

/// The interchanges of `x12 ack` output (one per line), as segment lists.
fn interchanges(out: &str) -> Vec<Vec<&str>> {
    out.lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split('~').filter(|s| !s.is_empty()).collect())
        .collect()
}

/// Runs `x12 validate -` on `text`: (exit code, stdout).
fn validate_stdin(text: &str) -> (i32, String) {
    let mut child = x12()
        .args(["validate", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run x12");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The STC of a claim in a 277CA with its date element replaced by `DATE`, after
/// checking that it is a CCYYMMDD.
fn stc_of(segs: &[&str], claim: &str) -> String {
    let at = segs
        .iter()
        .position(|s| *s == format!("TRN*2*{claim}"))
        .expect("the claim's TRN");
    let stc: Vec<&str> = segs[at + 1].split('*').collect();
    assert_eq!(stc[0], "STC");
    assert!(stc[2].len() == 8 && stc[2].bytes().all(|b| b.is_ascii_digit()));
    let mut masked = stc.clone();
    masked[2] = "DATE";
    masked.join("*")
}

#[test]
fn ack_277ca_rejects_the_claim_of_a_provider_finding_with_entity_85() {
    let file = fixture("routing/ex08-hospice.x12");
    let providers = fixture("routing/providers.csv");
    let (f, p) = (file.to_str().unwrap(), providers.to_str().unwrap());
    let (code, out, _) = run(&["ack", "--277ca", "--providers", p, f]);
    assert_eq!(code, 1, "a rejected claim is a rejection");
    let ix = interchanges(&out);
    assert_eq!(ix.len(), 2, "{out}");
    // the 999 accepts the set with errors: the provider finding is the claim's
    assert!(ix[0].contains(&"IK3*PRV*7*2000A*8"), "{out}");
    assert!(ix[0].contains(&"IK4*3*127*7*282N00000X"), "{out}");
    assert!(ix[0].contains(&"IK5*E*5"), "{out}");
    assert!(ix[0].contains(&"AK9*E*1*1*1"), "{out}");
    // the 277CA rejects it: relational error on the billing provider's taxonomy
    let ca = &ix[1];
    assert!(
        ca[1].starts_with("GS*HN*NCMEDICAID*CLEARINGHOUSE*"),
        "{out}"
    );
    assert!(ca.contains(&"ST*277*0001*005010X214"), "{out}");
    assert!(
        ca[0].starts_with("ISA*00*          *00*          *ZZ*NCMEDICAID     *ZZ*CLEARINGHOUSE  *"),
        "{out}"
    );
    assert!(ca[0].ends_with("*000000002*0*T*:"), "{out}");
    assert_eq!(stc_of(ca, "HSP0008"), "STC*A8:145:85*DATE*U*1500");
    assert!(!ca.iter().any(|s| s.starts_with("REF*1K")), "{out}");
    for s in [
        "QTY*AA*1",
        "AMT*YY*1500",
        "QTY*QC*1",
        "REF*BLT*811",
        "DTP*472*RD8*20230301-20230310",
    ] {
        assert!(ca.contains(&s), "{s}: {out}");
    }
    assert!(!ca.iter().any(|s| s.starts_with("QTY*90")), "{out}");
    // our own validator reads the 277CA with no finding
    let (code, report) = validate_stdin(out.lines().nth(1).unwrap());
    assert_eq!(code, 0, "{report}");
    // without --277ca the output is what it was: the set rejected by its finding
    let (code, out, _) = run(&["ack", "--providers", p, f]);
    assert_eq!(code, 1);
    assert_eq!(interchanges(&out).len(), 1, "{out}");
    assert!(out.contains("IK5*R*5~"), "{out}");
}

#[test]
fn ack_277ca_accepts_one_claim_and_rejects_the_other() {
    let file = fixture("ack277/two-providers.x12");
    let providers = fixture("routing/providers.csv");
    let (f, p) = (file.to_str().unwrap(), providers.to_str().unwrap());
    let (code, out, _) = run(&[
        "ack",
        "--277ca",
        "--control-number",
        "40",
        "--providers",
        p,
        f,
    ]);
    assert_eq!(code, 1);
    let ix = interchanges(&out);
    assert_eq!(ix.len(), 2, "{out}");
    assert!(ix[0][0].contains("*000000040*"), "{out}");
    assert!(ix[1][0].contains("*000000041*"), "{out}");
    let ca = &ix[1];
    let accepted = stc_of(ca, "ACK0001");
    assert_eq!(accepted, "STC*A2:20*DATE*WQ*150");
    let at = ca.iter().position(|s| *s == "TRN*2*ACK0001").unwrap();
    assert!(ca[at + 2].starts_with("REF*1K*"), "{out}");
    assert_eq!(stc_of(ca, "ACK0002"), "STC*A8:145:85*DATE*U*175");
    let from = ca
        .iter()
        .position(|s| s.starts_with("HL*2*1*21*1"))
        .unwrap();
    assert_eq!(
        ca[from + 4..from + 8],
        ["QTY*90*1", "QTY*AA*1", "AMT*YU*150", "AMT*YY*175"],
        "{out}"
    );
    let (code, report) = validate_stdin(out.lines().nth(1).unwrap());
    assert_eq!(code, 0, "{report}");
}

#[test]
fn ack_277ca_rejects_the_claim_of_a_member_not_eligible_on_the_date_of_service() {
    let file = fixture("ack277/two-providers.x12");
    let eligibility = fixture("ack277/eligibility.csv");
    let (f, e) = (file.to_str().unwrap(), eligibility.to_str().unwrap());
    let (code, out, err) = run(&["ack", "--277ca", "--eligibility", e, f]);
    assert_eq!(code, 1, "{err}");
    let ix = interchanges(&out);
    assert_eq!(ix.len(), 2, "{out}");
    // the 999 accepts the set with errors, pointing at the member id of 2010BA
    assert!(ix[0].contains(&"IK3*NM1*35*2010BA*8"), "{out}");
    assert!(ix[0].contains(&"IK4*9*67*7*NCRT0102"), "{out}");
    assert!(ix[0].contains(&"AK9*E*1*1*1"), "{out}");
    // NCRT0101 is covered on 2023-03-01; NCRT0102's span ended the day before
    let ca = &ix[1];
    assert_eq!(stc_of(ca, "ACK0001"), "STC*A2:20*DATE*WQ*150");
    assert_eq!(stc_of(ca, "ACK0002"), "STC*A8:109:IL*DATE*U*175");
    assert_eq!(ca.iter().filter(|s| s.starts_with("REF*1K*")).count(), 1);
    let (code, report) = validate_stdin(out.lines().nth(1).unwrap());
    assert_eq!(code, 0, "{report}");
    // the message names neither the member id nor a date of birth
    let (code, report, _) = run(&["validate", "--eligibility", e, f]);
    assert_eq!(code, 1);
    assert!(
        report.contains("the member has no eligibility span covering the claim's dates of service"),
        "{report}"
    );
    for line in report.lines().filter(|l| l.contains("error:")) {
        assert!(
            !line.contains("NCRT0102") && !line.contains("19800101"),
            "{line}"
        );
    }
    // everyone covered: both accepted
    let dir = std::env::temp_dir().join(format!("x12-elig-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let all = dir.join("all.csv");
    std::fs::write(
        &all,
        "member_id,benefit_plan,from,to,dob\nNCRT0101,MEDICAID_DIRECT,2023-01-01,,1980-01-01\nNCRT0102,MEDICAID_DIRECT,2023-03-01,2023-03-01,1980-01-01\n",
    )
    .unwrap();
    let (code, out, err) = run(&["ack", "--277ca", "--eligibility", all.to_str().unwrap(), f]);
    assert_eq!(code, 0, "{out}{err}");
    let ca = &interchanges(&out)[1];
    assert_eq!(stc_of(ca, "ACK0002"), "STC*A2:20*DATE*WQ*175");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ack_277ca_for_valid_claims_keeps_the_999_unchanged() {
    for name in [
        "valid/837p-minimal.x12",
        "valid/837i-minimal.x12",
        "valid/837d-minimal.x12",
    ] {
        let file = fixture(name);
        let f = file.to_str().unwrap();
        let (code, plain, _) = run(&["ack", f]);
        assert_eq!(code, 0);
        let (code, out, _) = run(&["ack", "--277ca", f]);
        assert_eq!(code, 0, "{out}");
        let (a, b) = (interchanges(&plain), interchanges(&out));
        // the TA1 (ISA14 = 1) and the 999 come first, as without the flag (the clock
        // may have moved between the two runs: compare all but ISA and GS)
        assert_eq!(b.len(), a.len() + 1, "{out}");
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x[2..], y[2..], "{name}");
        }
        let ca = b.last().unwrap();
        let total = ca
            .iter()
            .find(|s| s.starts_with("AMT*YU*"))
            .expect("accepted amount");
        assert!(ca.contains(&"QTY*90*1"), "{out}");
        assert!(!ca.iter().any(|s| s.starts_with("QTY*AA")), "{out}");
        let claim_stc = ca
            .iter()
            .find(|s| s.starts_with("STC*A2:20*"))
            .expect("an accepted claim");
        assert!(
            claim_stc.ends_with(&format!("*WQ*{}", &total[7..])),
            "{out}"
        );
        let (code, report) = validate_stdin(out.lines().last().unwrap());
        assert_eq!(code, 0, "{report}");
    }
}

#[test]
fn ack_277ca_is_not_written_for_a_rejected_group() {
    let (code, out, _) = run(&[
        "ack",
        "--277ca",
        fixture("invalid/se01-count.x12").to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(out.contains("AK9*R*1*1*0~"), "{out}");
    assert!(!out.contains("GS*HN*"), "{out}");
}

#[test]
fn ack_277ca_rejects_claims_with_errors_the_999_accepts() {
    let file = fixture("ack277/two-claims-bad-diagnosis.x12");
    let f = file.to_str().unwrap();
    // by default a SNIP 5 error rejects the set: no 277CA
    let (_, out, _) = run(&["ack", "--277ca", f]);
    assert!(out.contains("IK5*R*5~"), "{out}");
    assert!(!out.contains("GS*HN*"), "{out}");
    // accepted with errors, the claim holding the error is rejected in the 277CA
    let (code, out, _) = run(&["ack", "--277ca", "--accept-with-errors", "5", f]);
    assert_eq!(code, 1);
    let ix = interchanges(&out);
    assert!(ix[0].contains(&"IK5*E*5"), "{out}");
    assert!(ix[0].contains(&"CTX*CLM01:ACK0102"), "{out}");
    assert_eq!(stc_of(&ix[1], "ACK0101"), "STC*A2:20*DATE*WQ*100");
    assert_eq!(stc_of(&ix[1], "ACK0102"), "STC*A7:255*DATE*U*100");
    let (code, report) = validate_stdin(out.lines().nth(1).unwrap());
    assert_eq!(code, 0, "{report}");
}

#[test]
fn ack_277ca_accepts_with_errors_only_what_a_claim_carries() {
    // a 278 with a SNIP 5 finding (a diagnosis code that is not ICD-10 shaped)
    let dir = std::env::temp_dir().join(format!("x12-awe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("278-bad-hi.x12");
    let text = std::fs::read_to_string(fixture("valid/278-request.x12")).unwrap();
    assert!(text.contains("HI*ABK:J449"));
    std::fs::write(&path, text.replace("HI*ABK:J449", "HI*ABK:1449")).unwrap();
    let f = path.to_str().unwrap();
    // without a 277CA to follow, the 999 policy alone decides: accepted with errors
    let (_, out, _) = run(&["ack", "--accept-with-errors", "5", f]);
    assert!(out.contains("IK5*E*5~"), "{out}");
    // with one, as the daemon: no claim can carry the error, so the set is rejected
    let (code, out, _) = run(&["ack", "--277ca", "--accept-with-errors", "5", f]);
    assert_eq!(code, 1);
    assert!(out.contains("IK5*R*5~"), "{out}");
    assert!(!out.contains("GS*HN*"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}
