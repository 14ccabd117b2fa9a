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
