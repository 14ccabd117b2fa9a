//! PWK attachments without the daemon: the references of a 278 and an 837, and the
//! fax/mail cover sheets `x12 cover-sheets` writes for them, read back as a person and a
//! scanner would: the text with `pdftotext`, the barcode rendered with `pdftoppm` and
//! decoded with rxing.
//!
//! The PDF tools come from poppler-utils (installed by `.ci/run`); without them these
//! tests fail, naming the package.

use gatewayd::attachments::{references, ItemKind, Transmission};
use std::path::{Path, PathBuf};
use std::process::Command;
use x12_core::schema::{LoopRef, LoopTree};
use x12_core::{Item, Reader};

const PA: &str = "attachments/278-pwk-fax-mail.x12";
const CLAIM: &str = "attachments/837p-pwk-fax-mail.x12";

fn fixture(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(p)
}

fn x12(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_x12"))
        .args(args)
        .output()
        .expect("run x12");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p =
            std::env::temp_dir().join(format!("ncx12-attachments-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a poppler tool; a missing tool fails the test with the package to install.
fn poppler(tool: &str, args: &[&str]) -> Vec<u8> {
    let out = match Command::new(tool).args(args).output() {
        Ok(o) => o,
        Err(e) => panic!(
            "{tool} could not be run ({e}): install poppler-utils \
             (apt-get install poppler-utils; .ci/run does it) to test the cover sheets"
        ),
    };
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn pdf_text(pdf: &Path) -> String {
    let path = pdf.to_str().expect("utf-8 path");
    String::from_utf8(poppler("pdftotext", &["-layout", path, "-"])).expect("utf-8 text")
}

/// Renders page 1 at 200 dpi in gray, decodes the PNG, and reads the Code 128 symbol.
fn decode_barcode(pdf: &Path, dir: &Path) -> String {
    let stem = dir.join(format!(
        "render-{}",
        pdf.file_stem().and_then(|s| s.to_str()).unwrap_or("page")
    ));
    poppler(
        "pdftoppm",
        &[
            "-r",
            "200",
            "-gray",
            "-png",
            "-singlefile",
            pdf.to_str().expect("utf-8 path"),
            stem.to_str().expect("utf-8 path"),
        ],
    );
    let png_path = stem.with_extension("png");
    let file = std::fs::File::open(&png_path).expect("rendered page");
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("buffer size")];
    let info = reader.next_frame(&mut buf).expect("png frame");
    buf.truncate(info.buffer_size());
    let luma: Vec<u8> = match info.color_type {
        png::ColorType::Grayscale => buf,
        png::ColorType::GrayscaleAlpha => buf.chunks(2).map(|p| p[0]).collect(),
        png::ColorType::Rgb => buf
            .chunks(3)
            .map(|p| ((u16::from(p[0]) + u16::from(p[1]) + u16::from(p[2])) / 3) as u8)
            .collect(),
        other => panic!("unexpected PNG color type {other:?}"),
    };
    let result = rxing::helpers::detect_in_luma(
        luma,
        info.width,
        info.height,
        Some(rxing::BarcodeFormat::CODE_128),
    )
    .unwrap_or_else(|e| panic!("{}: no Code 128 symbol found: {e:?}", pdf.display()));
    result.getText().to_string()
}

/// Collapses runs of spaces so that assertions do not depend on the layout.
fn squeeze(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What must never be on a cover sheet: the member's name, id and date of birth, the
/// diagnosis, the providers' names.
fn assert_no_phi(text: &str, pdf: &Path) {
    for phi in [
        "TESTPATIENT",
        "ATTACH ",
        "NCAT0001",
        "900000001A",
        "19800101",
        "J449",
        "PIEDMONT",
        "WAKE SERVICES",
        "OAK LANE",
    ] {
        assert!(
            !text.contains(phi),
            "{}: {phi:?} on a cover sheet",
            pdf.display()
        );
    }
}

#[test]
fn fixtures_validate_with_zero_errors() {
    for f in [PA, CLAIM] {
        let path = fixture(f);
        let (code, out, err) = x12(&["validate", path.to_str().expect("path")]);
        assert_eq!(code, 0, "{f}: {out}{err}");
        assert!(out.contains(" 0 error(s), 0 warning(s)"), "{f}: {out}");
    }
}

/// (kind, item number, loop, line, PWK01, PWK02, PWK06) of every PWK of a file.
type Row = (
    ItemKind,
    String,
    String,
    Option<String>,
    String,
    Transmission,
    String,
);

fn rows(f: &str) -> Vec<Row> {
    let data = std::fs::read(fixture(f)).expect("fixture");
    let validator = gatewayd::guides::validator();
    let mut tree = LoopTree::default();
    let mut out = Vec::new();
    for item in Reader::new(&data[..]) {
        let Item::Transaction(set) = item.expect("readable") else {
            continue;
        };
        let (guide, issues) = validator.check_set(&set, &mut tree);
        assert!(issues.is_empty(), "{issues:#?}");
        let guide = guide.expect("a guide");
        for r in references(LoopRef::root(&set, &tree, guide), guide) {
            out.push((
                r.kind,
                r.item_number().to_string(),
                r.loop_id.to_string(),
                r.line.map(str::to_string),
                r.report_type.to_string(),
                r.transmission,
                r.control_number.to_string(),
            ));
        }
    }
    out
}

fn row(
    kind: ItemKind,
    number: &str,
    loop_id: &str,
    line: Option<&str>,
    report: &str,
    t: Transmission,
    control: &str,
) -> Row {
    (
        kind,
        number.into(),
        loop_id.into(),
        line.map(Into::into),
        report.into(),
        t,
        control.into(),
    )
}

#[test]
fn references_of_a_278_and_an_837() {
    use ItemKind::*;
    use Transmission::*;
    assert_eq!(
        rows(PA),
        vec![
            row(
                PriorApproval,
                "AT7001EV",
                "2000E",
                None,
                "77",
                Fax,
                "EV7001FX"
            ),
            row(
                PriorApproval,
                "AT7001EV",
                "2000E",
                None,
                "OZ",
                Electronic,
                "EV7001EL"
            ),
            row(
                PriorApproval,
                "AT7001EV",
                "2000F",
                Some("5"),
                "M1",
                Mail,
                "CMN7001BM"
            ),
            row(
                PriorApproval,
                "AT7001EV",
                "2000F",
                Some("6"),
                "08",
                Fax,
                "POC/7001"
            ),
        ]
    );
    assert_eq!(
        rows(CLAIM),
        vec![
            row(Claim, "AT8001CLM", "2300", None, "OZ", Mail, "CLM8001BM"),
            row(Claim, "AT8001CLM", "2400", Some("1"), "B3", Fax, "LN8001FX"),
        ]
    );
    // the public 278 fixture: one event-level fax attachment
    let data = std::fs::read(fixture("valid/278-request.x12")).expect("fixture");
    let validator = gatewayd::guides::validator();
    let mut tree = LoopTree::default();
    for item in Reader::new(&data[..]) {
        if let Item::Transaction(set) = item.expect("readable") {
            let (guide, _) = validator.check_set(&set, &mut tree);
            let guide = guide.expect("guide");
            let refs = references(LoopRef::root(&set, &tree, guide), guide);
            assert_eq!(refs.len(), 1);
            assert_eq!(refs[0].id, "PA0001");
            assert_eq!(refs[0].tracking, "PA0001EV");
            assert_eq!(refs[0].position, 19); // ST is 1
            assert_eq!(refs[0].transmission_code, "FX");
        }
    }
}

/// Runs `x12 cover-sheets` on a fixture; returns stdout and the PDFs written, by name.
fn cover_sheets(f: &str, dir: &TempDir) -> (String, Vec<String>) {
    let path = fixture(f);
    let (code, out, err) = x12(&[
        "cover-sheets",
        path.to_str().expect("path"),
        "--out",
        dir.0.to_str().expect("path"),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let mut names: Vec<String> = std::fs::read_dir(&dir.0)
        .expect("out dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pdf"))
        .collect();
    names.sort();
    (out, names)
}

#[test]
fn cover_sheets_of_a_278_name_the_pa_the_attachment_and_the_reviewer() {
    let dir = TempDir::new("pa");
    let (out, names) = cover_sheets(PA, &dir);
    // the event-level fax goes to both vendors of the split request; EL gets no sheet
    assert_eq!(
        names,
        [
            "CMN7001BM.pdf",
            "EV7001FX-ccme.pdf",
            "EV7001FX-csra.pdf",
            "POC_7001.pdf"
        ]
    );
    assert!(!out.contains("EV7001EL"), "{out}");
    assert_eq!(out.lines().count(), 4, "{out}");

    let csra_mail = "Prior Approval Requests, P.O. Box 31188, Raleigh, NC 27622-1188";
    let cases: [(&str, &str, &[&str]); 4] = [
        (
            "EV7001FX-csra.pdf",
            "EV7001FX",
            &[
                "Report type (PWK01) 77",
                "FX - by fax",
                "Reviewer CSRA, NCTracks fiscal agent",
                "Fax to 855-710-1964",
                csra_mail,
            ],
        ),
        (
            "EV7001FX-ccme.pdf",
            "EV7001FX",
            &[
                "Reviewer The Carolinas Center for Medical Excellence (CCME)",
                "Fax to 800-228-1437",
                "no mailing address in the contractor table",
            ],
        ),
        (
            "CMN7001BM.pdf",
            "CMN7001BM",
            &[
                "Report type (PWK01) M1",
                "BM - by mail",
                "Reviewer CSRA",
                "Mail to Prior Approval Requests, P.O. Box 31188, Raleigh, NC 27622-1188",
                "Fax 855-710-1964",
            ],
        ),
        (
            "POC_7001.pdf",
            "POC/7001",
            &["Report type (PWK01) 08", "Fax to 800-228-1437"],
        ),
    ];
    for (name, control, expect) in cases {
        let pdf = dir.0.join(name);
        let text = squeeze(&pdf_text(&pdf));
        assert!(text.contains("ATTACHMENT COVER SHEET"), "{name}: {text}");
        assert!(
            text.contains("PA tracking number AT7001EV Request (BHT03) AT7001"),
            "{name}: {text}"
        );
        assert!(
            text.contains(&format!("Attachment control number (PWK06) {control}")),
            "{name}: {text}"
        );
        for e in expect {
            assert!(text.contains(e), "{name}: {e:?} not in {text}");
        }
        assert_no_phi(&text, &pdf);
        assert_eq!(decode_barcode(&pdf, &dir.0), control, "{name}");
    }
}

#[test]
fn cover_sheets_of_an_837_name_the_claim() {
    let dir = TempDir::new("claim");
    let (out, names) = cover_sheets(CLAIM, &dir);
    assert_eq!(names, ["CLM8001BM.pdf", "LN8001FX.pdf"], "{out}");
    for (name, control, expect) in [
        (
            "CLM8001BM.pdf",
            "CLM8001BM",
            "Mail to Prior Approval Requests, P.O. Box 31188",
        ),
        ("LN8001FX.pdf", "LN8001FX", "Fax to 855-710-1964"),
    ] {
        let pdf = dir.0.join(name);
        let text = squeeze(&pdf_text(&pdf));
        assert!(text.contains("Claim id (CLM01) AT8001CLM"), "{text}");
        assert!(!text.contains("BHT03"), "{text}");
        assert!(
            text.contains(&format!("Attachment control number (PWK06) {control}")),
            "{text}"
        );
        assert!(text.contains(expect), "{name}: {expect:?} not in {text}");
        assert_no_phi(&text, &pdf);
        assert_eq!(decode_barcode(&pdf, &dir.0), control, "{name}");
    }
}

/// `fixtures/routing/ex11-lme-mco-reject.x12` (a behavioral health request for a
/// member on state-funded services) with a fax attachment on its event, written to
/// `dir`.
fn bh_request_with_fax(dir: &TempDir) -> PathBuf {
    let text =
        std::fs::read_to_string(fixture("routing/ex11-lme-mco-reject.x12")).expect("fixture");
    let mut segs: Vec<String> = text
        .split('~')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let ev = segs
        .iter()
        .position(|s| s.starts_with("HL*") && s.contains("*EV*"))
        .expect("2000E");
    let event_segments = [
        "TRN", "UM", "REF", "DTP", "HI", "HSD", "CRC", "CL1", "CR1", "CR2",
    ];
    let at = (ev + 1..segs.len())
        .find(|&i| {
            !event_segments
                .iter()
                .any(|id| segs[i].starts_with(&format!("{id}*")))
        })
        .expect("end of the 2000E segments");
    segs.insert(at, "PWK*77*FX***AC*BH6011FX".to_string());
    let se = segs.iter().position(|s| s.starts_with("SE*")).expect("SE");
    let parts: Vec<String> = segs[se].split('*').map(str::to_string).collect();
    let count: usize = parts[1].parse().expect("SE01");
    segs[se] = format!("SE*{}*{}", count + 1, parts[2]);
    let input = dir.0.join("bh-fax.x12");
    std::fs::write(&input, segs.join("~\n") + "~\n").expect("write");
    let (code, out, err) = x12(&["validate", input.to_str().expect("path")]);
    assert_eq!(code, 0, "{out}{err}");
    input
}

/// With eligibility, the request is answered back to the submitter (the member's
/// LME/MCO reviews it): no cover sheet, and exit code 1.
#[test]
fn a_rejected_request_gets_no_cover_sheet() {
    let dir = TempDir::new("reject");
    let input = bh_request_with_fax(&dir);
    let out_dir = dir.0.join("out");
    let eligibility = fixture("routing/eligibility.csv");
    let (code, out, err) = x12(&[
        "cover-sheets",
        input.to_str().expect("path"),
        "--eligibility",
        eligibility.to_str().expect("path"),
        "--out",
        out_dir.to_str().expect("path"),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(
            "BH6011FX: no cover sheet: the item is not sent to a reviewer (routing action reject)"
        ),
        "{out}"
    );
    assert_eq!(std::fs::read_dir(&out_dir).expect("out dir").count(), 0);
}

/// Without eligibility the same request goes to Beacon, whose entry in the table has no
/// fax number: the sheet is written, says so, and the command warns (exit code 1).
#[test]
fn a_vendor_without_a_fax_number_is_reported() {
    let dir = TempDir::new("nofax");
    let input = bh_request_with_fax(&dir);
    let out_dir = dir.0.join("out");
    let (code, out, err) = x12(&[
        "cover-sheets",
        input.to_str().expect("path"),
        "--out",
        out_dir.to_str().expect("path"),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("BH6011FX: warning: beacon has no fax number in the contractor table"),
        "{out}"
    );
    let pdf = out_dir.join("BH6011FX.pdf");
    let text = squeeze(&pdf_text(&pdf));
    assert!(
        text.contains("Fax to no fax number in the contractor table"),
        "{text}"
    );
    assert!(text.contains("Reviewer Beacon Health Options"), "{text}");
}

#[test]
fn an_unreadable_table_is_a_usage_error() {
    let dir = TempDir::new("table");
    let bad = dir.0.join("contractors.toml");
    std::fs::write(&bad, "schema_version = \"one\"\n").expect("write");
    let input = fixture(PA);
    let (code, _, err) = x12(&[
        "cover-sheets",
        input.to_str().expect("path"),
        "--contractors",
        bad.to_str().expect("path"),
        "--out",
        dir.0.to_str().expect("path"),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("contractors.toml"), "{err}");
}
