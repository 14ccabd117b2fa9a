//! Pharmacy auto-approval through real 278 files: the criteria met (HCR*A1 with an
//! authorization number and certification dates) and not met (HCR*A4 pended for CSRA
//! review with the failed criteria in a MSG), every response checked by the gateway's
//! own validator; and a malformed criteria file per error kind.

use gatewayd::pharmacy::{
    self, Criteria, CriteriaError, Failure, Location, MemorySequence, NumberFormat, PharmacyError,
    PharmacyResponse, Sequence, SequenceError, Ymd,
};
use std::path::PathBuf;
use x12_278::Responder;
use x12_core::schema::LoopTree;
use x12_core::{Item, Reader, Summary, TransactionSet};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn responder() -> Responder {
    Responder {
        control_number: "0001".into(),
        date: "20230728".into(),
        time: "1451".into(),
        originator: "1560000012".into(),
        trace_prefix: "RX".into(),
        rejections: Vec::new(),
    }
}

fn set_of(data: &[u8]) -> TransactionSet {
    let sets: Vec<TransactionSet> = Reader::new(data)
        .filter_map(|i| match i.expect("memory read") {
            Item::Transaction(t) => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(sets.len(), 1, "one transaction set");
    sets.into_iter().next().expect("one set")
}

fn wrap(set: &[u8]) -> Vec<u8> {
    let mut out = b"ISA*00*          *00*          *ZZ*NCMEDICAID     *ZZ*CLEARINGHOUSE  *230728*1451*^*00501*000000901*0*T*:~GS*HI*NCMEDICAID*CLEARINGHOUSE*20230728*1451*901*X*005010X217~".to_vec();
    out.extend_from_slice(set);
    out.extend_from_slice(b"GE*1*901~IEA*1*000000901~");
    out
}

/// What one request comes to.
struct Run {
    response: PharmacyResponse,
    /// The response set, one segment per line.
    text: String,
}

impl Run {
    /// The HCR segments of the response, in order (event, then its services).
    fn hcr(&self) -> Vec<&str> {
        self.segments("HCR*")
    }

    fn segments(&self, start: &str) -> Vec<&str> {
        self.text.lines().filter(|l| l.starts_with(start)).collect()
    }

    /// The failure texts of service `i` of the first event.
    fn failures(&self, i: usize) -> Vec<String> {
        self.response.outcomes[0].services[i]
            .failures
            .iter()
            .map(Failure::to_string)
            .collect()
    }
}

/// Decides `data` with `criteria` and `seq`; asserts the request and the response
/// both validate with no finding.
fn run_bytes(data: &[u8], criteria: &Criteria, seq: &mut dyn Sequence) -> Run {
    let v = gatewayd::guides::validator();
    let set = set_of(data);
    let mut tree = LoopTree::default();
    let (guide, issues) = v.check_set(&set, &mut tree);
    assert!(issues.is_empty(), "request: {issues:#?}");
    let guide = guide.expect("278 request table");
    let response = pharmacy::respond(
        &set,
        &tree,
        guide,
        criteria,
        seq,
        &NumberFormat::default(),
        &responder(),
    )
    .expect("response");
    let interchange = wrap(&response.set);
    let mut s = Summary::new(1000, Default::default()).with_validator(v);
    for item in Reader::new(&interchange[..]) {
        s.add(&item.expect("memory read"));
    }
    let text = String::from_utf8(response.set.clone())
        .expect("ASCII")
        .replace('~', "~\n");
    assert!(s.is_valid(), "{text}\n{:#?}", s.issues);
    assert!(s.issues.is_empty(), "{text}\n{:#?}", s.issues);
    assert_eq!(s.guides.get("278RESP 005010X217"), Some(&1), "{text}");
    Run { response, text }
}

fn run_file(path: &str, seq: &mut dyn Sequence) -> Run {
    let data = std::fs::read(fixtures().join(path)).expect(path);
    run_bytes(&data, &Criteria::bundled().expect("bundled criteria"), seq)
}

fn number(seq: u64) -> String {
    NumberFormat::default().format(Ymd::from_ccyymmdd("20230728").expect("date"), seq)
}

const EVENT_PENDED_1_OF_1: &str =
    "MSG*Pended for CSRA review. 1 of 1 services did not meet the auto-approval criteria~";

// ---------------------------------------------------------------- criteria met

#[test]
fn glp1_request_is_certified_with_a_number_and_the_requested_dates() {
    let mut seq = MemorySequence::new();
    let r = run_file("valid/278/pharmacy.x12", &mut seq);
    let s = &r.response.outcomes[0].services[0];
    assert!(s.is_met(), "{:?}", s.failures);
    assert_eq!(s.ndc.as_deref(), Some("00002143480"));
    assert_eq!(s.class.as_deref(), Some("glp1_t2dm"));
    assert_eq!(r.response.authorizations, [number(1)]);
    assert_eq!(number(1), "RX23072800000000016");
    assert_eq!(
        r.hcr(),
        ["HCR*A1~", "HCR*A1*RX23072800000000016~"],
        "{}",
        r.text
    );
    // event and service both certified 2023-08-01 through 2024-01-31 (the RD8 asked for)
    assert_eq!(r.segments("DTP*007*D8*20230801~").len(), 2, "{}", r.text);
    assert_eq!(r.segments("DTP*036*D8*20240131~").len(), 2, "{}", r.text);
    assert!(r.segments("MSG*").is_empty(), "{}", r.text);
    assert_eq!(seq.next(), Ok(2), "one value taken");
}

#[test]
fn hepatitis_c_request_is_certified() {
    let mut seq = MemorySequence::starting_at(500);
    let r = run_file("pharmacy/met-hepatitis-c.x12", &mut seq);
    let s = &r.response.outcomes[0].services[0];
    assert!(s.is_met(), "{:?}", s.failures);
    assert_eq!(s.class.as_deref(), Some("hepatitis_c"));
    assert_eq!(
        r.hcr(),
        ["HCR*A1~".to_string(), format!("HCR*A1*{}~", number(500))]
    );
    assert!(
        r.text
            .contains("DTP*036*D8*20231126~\nDTP*007*D8*20230904~"),
        "{}",
        r.text
    );
}

#[test]
fn a_single_date_is_certified_for_the_hsd_days() {
    let r = run_file("pharmacy/single-date-hsd.x12", &mut MemorySequence::new());
    let s = &r.response.outcomes[0].services[0];
    assert!(s.is_met(), "{:?}", s.failures);
    assert_eq!(s.class.as_deref(), Some("cystic_fibrosis"));
    // DTP*472*D8*20230815 with HSD*DY*28: 28 days, both ends counted
    assert_eq!(
        s.period,
        Some((
            Ymd::from_ccyymmdd("20230815").expect("date"),
            Ymd::from_ccyymmdd("20230911").expect("date")
        ))
    );
    assert_eq!(
        r.hcr(),
        ["HCR*A1~".to_string(), format!("HCR*A1*{}~", number(1))]
    );
    assert!(
        r.text
            .contains("DTP*036*D8*20230911~\nDTP*007*D8*20230815~"),
        "{}",
        r.text
    );
}

// ---------------------------------------------------------------- criteria not met

#[test]
fn an_ndc_in_no_class_is_pended() {
    let mut seq = MemorySequence::new();
    let r = run_file("pharmacy/ndc-unknown.x12", &mut seq);
    let s = &r.response.outcomes[0].services[0];
    assert_eq!(s.class, None);
    assert_eq!(
        r.failures(0),
        ["no auto-approval class for NDC 00093505698"]
    );
    assert_eq!(r.hcr(), ["HCR*A4~", "HCR*A4~"]);
    assert_eq!(
        r.segments("MSG*"),
        [
            EVENT_PENDED_1_OF_1,
            "MSG*Pended for CSRA review. Not met - no auto-approval class for NDC 00093505698~"
        ]
    );
    assert!(r.response.authorizations.is_empty());
    assert!(r.segments("DTP*007").is_empty() && r.segments("DTP*036").is_empty());
    assert_eq!(seq.next(), Ok(1), "no value taken for a pended request");
}

#[test]
fn an_age_out_of_range_is_pended() {
    let r = run_file("pharmacy/age-out-of-range.x12", &mut MemorySequence::new());
    assert_eq!(
        r.response.outcomes[0].services[0].class.as_deref(),
        Some("synagis")
    );
    assert_eq!(r.failures(0), ["age 2 is above the class maximum of 1"]);
    assert_eq!(r.hcr(), ["HCR*A4~", "HCR*A4~"]);
    assert_eq!(
        r.segments("MSG*")[1],
        "MSG*Pended for CSRA review. Not met - age 2 is above the class maximum of 1~"
    );
    // no birth date in the response text, only the age
    assert!(!r.segments("MSG*").concat().contains("2020"));
}

#[test]
fn a_missing_diagnosis_is_pended() {
    let r = run_file("pharmacy/dx-missing.x12", &mut MemorySequence::new());
    assert_eq!(
        r.failures(0),
        ["no diagnosis starting with E11 (seen E6601, I10)"]
    );
    assert_eq!(r.hcr(), ["HCR*A4~", "HCR*A4~"]);
    assert_eq!(
        r.segments("MSG*"),
        [
            EVENT_PENDED_1_OF_1,
            "MSG*Pended for CSRA review. Not met - no diagnosis starting with E11 (seen E6601, I10)~"
        ]
    );
}

#[test]
fn a_quantity_over_the_limit_is_pended() {
    let r = run_file("pharmacy/quantity-over.x12", &mut MemorySequence::new());
    assert_eq!(
        r.response.outcomes[0].services[0].class.as_deref(),
        Some("glp1_t2dm"),
        "Ozempic by NDC prefix"
    );
    assert_eq!(
        r.failures(0),
        ["quantity 8 is above the class maximum of 4"]
    );
    assert_eq!(r.hcr(), ["HCR*A4~", "HCR*A4~"]);
    assert_eq!(
        r.segments("MSG*")[1],
        "MSG*Pended for CSRA review. Not met - quantity 8 is above the class maximum of 4~"
    );
}

#[test]
fn out_of_season_lists_every_failed_criterion() {
    let r = run_file("pharmacy/out-of-season.x12", &mut MemorySequence::new());
    assert_eq!(
        r.failures(0),
        [
            "service dates 2023-10-01 to 2024-03-31 fall outside the class window 2022-10-01 to 2023-03-31",
            "183 days requested is above the class maximum of 182 days",
        ]
    );
    assert_eq!(
        r.segments("MSG*")[1],
        "MSG*Pended for CSRA review. Not met - service dates 2023-10-01 to 2024-03-31 fall outside the class window 2022-10-01 to 2023-03-31; 183 days requested is above the class maximum of 182 days~"
    );
}

#[test]
fn two_services_one_met_one_not() {
    let mut seq = MemorySequence::starting_at(7);
    let r = run_file("pharmacy/two-services.x12", &mut seq);
    let e = &r.response.outcomes[0];
    assert!(e.services[0].is_met(), "{:?}", e.services[0].failures);
    assert_eq!(e.services[0].class.as_deref(), Some("hepatitis_c"));
    assert!(!e.services[1].is_met());
    assert_eq!(e.services[1].class.as_deref(), Some("glp1_t2dm"));
    assert_eq!(
        r.failures(1),
        ["393 days requested is above the class maximum of 365 days"]
    );
    assert_eq!(r.response.authorizations, [number(7)]);
    assert_eq!(
        r.hcr(),
        [
            "HCR*A4~".to_string(),
            format!("HCR*A1*{}~", number(7)),
            "HCR*A4~".to_string()
        ]
    );
    assert_eq!(
        r.segments("MSG*"),
        [
            "MSG*Pended for CSRA review. 1 of 2 services did not meet the auto-approval criteria~",
            "MSG*Pended for CSRA review. Not met - 393 days requested is above the class maximum of 365 days~"
        ]
    );
    // only the certified service carries certification dates
    assert_eq!(r.segments("DTP*007*D8*20230904~").len(), 1, "{}", r.text);
    assert_eq!(r.segments("DTP*036*D8*20231126~").len(), 1, "{}", r.text);
    assert_eq!(seq.next(), Ok(8));
}

#[test]
fn a_service_without_an_ndc_is_pended() {
    let data = std::fs::read_to_string(fixtures().join("valid/278/pharmacy.x12"))
        .expect("fixture")
        .replace("SV1*N4:00002143480**UN*4~", "SV1*HC:J3490**UN*4~");
    let r = run_bytes(
        data.as_bytes(),
        &Criteria::bundled().expect("bundled"),
        &mut MemorySequence::new(),
    );
    assert_eq!(
        r.failures(0),
        ["no NDC on the service (SV101 qualifier HC, not N4)"]
    );
    assert_eq!(r.hcr(), ["HCR*A4~", "HCR*A4~"]);
}

#[test]
fn a_missing_birth_date_fails_the_age_criterion() {
    let data = std::fs::read_to_string(fixtures().join("valid/278/pharmacy.x12"))
        .expect("fixture")
        .replace("DMG*D8*19790406*F~", "");
    let data = data.replace("SE*30*0001~", "SE*29*0001~");
    let r = run_bytes(
        data.as_bytes(),
        &Criteria::bundled().expect("bundled"),
        &mut MemorySequence::new(),
    );
    assert_eq!(
        r.failures(0),
        ["patient birth date not given, so the age cannot be checked"]
    );
}

#[test]
fn numbers_are_never_reused_across_requests() {
    let mut seq = MemorySequence::new();
    let mut numbers = Vec::new();
    for file in [
        "valid/278/pharmacy.x12",
        "pharmacy/met-hepatitis-c.x12",
        "pharmacy/ndc-unknown.x12",
        "pharmacy/two-services.x12",
        "pharmacy/single-date-hsd.x12",
        "valid/278/pharmacy.x12",
    ] {
        numbers.extend(run_file(file, &mut seq).response.authorizations);
    }
    assert_eq!(numbers, (1..=5).map(number).collect::<Vec<_>>());
}

/// A sequence whose storage fails.
struct Broken;

impl Sequence for Broken {
    fn next(&mut self) -> Result<u64, SequenceError> {
        Err(SequenceError {
            message: "disk full".into(),
        })
    }
}

#[test]
fn no_response_without_a_persisted_number() {
    let data = std::fs::read(fixtures().join("valid/278/pharmacy.x12")).expect("fixture");
    let set = set_of(&data);
    let v = gatewayd::guides::validator();
    let mut tree = LoopTree::default();
    let (guide, _) = v.check_set(&set, &mut tree);
    let err = pharmacy::respond(
        &set,
        &tree,
        guide.expect("table"),
        &Criteria::bundled().expect("bundled"),
        &mut Broken,
        &NumberFormat::default(),
        &responder(),
    )
    .expect_err("no number, no response");
    assert!(matches!(err, PharmacyError::Sequence(_)), "{err}");
    assert_eq!(err.to_string(), "authorization sequence: disk full");
    // a pended request needs no number, so it still gets its answer
    let data = std::fs::read(fixtures().join("pharmacy/ndc-unknown.x12")).expect("fixture");
    let r = run_bytes(&data, &Criteria::bundled().expect("bundled"), &mut Broken);
    assert_eq!(r.hcr(), ["HCR*A4~", "HCR*A4~"]);
}

#[test]
fn criteria_from_a_path_replace_the_bundled_ones() {
    let dir = std::env::temp_dir().join(format!("ncx12-pharmacy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("criteria.toml");
    // the GLP-1 class allows 2 pens only
    std::fs::write(
        &path,
        "schema_version = 1\n[class.glp1]\nname = \"GLP-1\"\nndc_prefix = [\"00002\"]\nmax_quantity = 2\n",
    )
    .expect("write");
    let criteria = Criteria::load_or_bundled(Some(&path)).expect("load");
    let data = std::fs::read(fixtures().join("valid/278/pharmacy.x12")).expect("fixture");
    let r = run_bytes(&data, &criteria, &mut MemorySequence::new());
    assert_eq!(
        r.failures(0),
        ["quantity 4 is above the class maximum of 2"]
    );
    let missing = Criteria::load(&dir.join("absent.toml")).expect_err("no file");
    assert!(matches!(missing, CriteriaError::Io { .. }), "{missing}");
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------- criteria file errors

const HEAD: &str = "schema_version = 1\n";

fn err(text: &str) -> CriteriaError {
    Criteria::parse(text).expect_err(text)
}

fn at(class: Option<&str>, line: u32) -> Location {
    Location {
        class: class.map(str::to_string),
        line: Some(line),
    }
}

#[test]
fn the_bundled_criteria_load() {
    let c = Criteria::bundled().expect("bundled");
    let ids: Vec<&str> = c.classes.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        ["cystic_fibrosis", "glp1_t2dm", "hepatitis_c", "synagis"]
    );
    for class in &c.classes {
        assert!(class.source.is_some(), "{} cites a source", class.id);
    }
}

#[test]
fn unknown_keys_name_class_key_and_line() {
    let e = err(&format!(
        "{HEAD}[class.a]\nname = \"A\"\nndc = [\"00002143480\"]\ncolour = 1\n"
    ));
    assert_eq!(
        e,
        CriteriaError::UnknownKey {
            at: at(Some("a"), 5),
            key: "colour".into()
        }
    );
    assert_eq!(e.to_string(), "class a, line 5: unknown key `colour`");

    let e = err(&format!("{HEAD}colour = 1\n"));
    assert_eq!(e.to_string(), "top level, line 2: unknown key `colour`");

    let e = err(&format!(
        "{HEAD}[class.a]\nname = \"A\"\nndc = [\"00002143480\"]\neffective = {{ from = \"2022-10-01\", untill = \"2023-03-31\" }}\n"
    ));
    assert_eq!(
        e,
        CriteriaError::UnknownKey {
            at: at(Some("a"), 5),
            key: "effective.untill".into()
        }
    );
}

#[test]
fn malformed_ndcs_are_refused() {
    let e = err(&format!(
        "{HEAD}[class.a]\nname = \"A\"\nndc = [\n  \"00002143480\",\n  \"0002-1434-80\",\n]\n"
    ));
    assert_eq!(
        e,
        CriteriaError::MalformedNdc {
            at: at(Some("a"), 6),
            key: "ndc",
            value: "0002-1434-80".into(),
            reason: "write NDCs in 11-digit 5-4-2 form without hyphens",
        }
    );
    let e = err(&format!(
        "{HEAD}[class.a]\nname = \"A\"\nndc = [\"0000214348\"]\n"
    ));
    assert_eq!(
        e.to_string(),
        "class a, line 4: key `ndc`: malformed NDC `0000214348`: an NDC has 11 digits (5-4-2 without hyphens)"
    );
    let e = err(&format!(
        "{HEAD}[class.a]\nname = \"A\"\nndc_prefix = [\"0002\"]\n"
    ));
    assert!(
        matches!(&e, CriteriaError::MalformedNdc { key, value, .. } if *key == "ndc_prefix" && value == "0002"),
        "{e}"
    );
}

#[test]
fn overlapping_classes_are_refused() {
    let e = err(&format!(
        "{HEAD}[class.a]\nname = \"A\"\nndc = [\"00002143480\"]\n[class.b]\nname = \"B\"\nndc = [\"00002143480\"]\n"
    ));
    assert_eq!(
        e,
        CriteriaError::Overlap {
            at: at(Some("b"), 7),
            key: "ndc",
            value: "00002143480".into(),
            other: "a".into(),
            other_value: "00002143480".into(),
        }
    );
    assert_eq!(
        e.to_string(),
        "class b, line 7: key `ndc`: `00002143480` overlaps `00002143480` of class a"
    );
    // an NDC under another class's prefix
    let e = err(&format!(
        "{HEAD}[class.a]\nname = \"A\"\nndc_prefix = [\"00002\"]\n[class.b]\nname = \"B\"\nndc = [\"00002143480\"]\n"
    ));
    assert!(
        matches!(&e, CriteriaError::Overlap { at, other, other_value, .. }
            if at.class.as_deref() == Some("b") && other == "a" && other_value == "00002"),
        "{e}"
    );
    // two prefixes, one inside the other
    let e = err(&format!(
        "{HEAD}[class.a]\nname = \"A\"\nndc_prefix = [\"000021434\"]\n[class.b]\nname = \"B\"\nndc_prefix = [\"00002\"]\n"
    ));
    assert!(
        matches!(&e, CriteriaError::Overlap { at, other, .. }
            if at.class.as_deref() == Some("a") && other == "b"),
        "{e}"
    );
}

#[test]
fn bad_ranges_are_refused() {
    let base = format!("{HEAD}[class.a]\nname = \"A\"\nndc = [\"00002143480\"]\n");
    let e = err(&format!("{base}min_age = 18\nmax_age = 10\n"));
    assert_eq!(
        e,
        CriteriaError::BadRange {
            at: at(Some("a"), 6),
            key: "max_age".into(),
            message: "max_age 10 is below min_age 18".into(),
        }
    );
    let e = err(&format!("{base}max_days = 0\n"));
    assert_eq!(
        e.to_string(),
        "class a, line 5: key `max_days`: bad range: 0 is outside 1..=3660"
    );
    let e = err(&format!("{base}min_age = -1\n"));
    assert!(
        matches!(&e, CriteriaError::BadRange { key, .. } if key == "min_age"),
        "{e}"
    );
    let e = err(&format!("{base}max_quantity = -4\n"));
    assert_eq!(
        e.to_string(),
        "class a, line 5: key `max_quantity`: bad range: -4 is not a positive quantity"
    );
    let e = err(&format!(
        "{base}effective = {{ from = \"2023-03-31\", to = \"2022-10-01\" }}\n"
    ));
    assert!(
        matches!(&e, CriteriaError::BadRange { key, .. } if key == "effective"),
        "{e}"
    );
}

#[test]
fn bad_dates_and_diagnoses_are_refused() {
    let base = format!("{HEAD}[class.a]\nname = \"A\"\nndc = [\"00002143480\"]\n");
    let e = err(&format!("{base}effective = {{ from = \"2023-02-30\" }}\n"));
    assert_eq!(
        e,
        CriteriaError::BadDate {
            at: at(Some("a"), 5),
            key: "effective.from".into(),
            value: "2023-02-30".into(),
        }
    );
    let e = err(&format!("{base}dx_prefix = [\"E11\", \"E11.6\"]\n"));
    assert_eq!(
        e.to_string(),
        "class a, line 5: key `dx_prefix`: malformed ICD-10-CM prefix `E11.6`: write ICD-10-CM codes without the dot"
    );
}

#[test]
fn missing_keys_and_wrong_types_are_refused() {
    let e = err(&format!("{HEAD}[class.a]\nndc = [\"00002143480\"]\n"));
    assert_eq!(
        e,
        CriteriaError::MissingKey {
            at: at(Some("a"), 2),
            key: "name".into()
        }
    );
    let e = err(&format!("{HEAD}[class.a]\nname = \"A\"\n"));
    assert_eq!(e.to_string(), "class a, line 2: missing key `ndc`");
    let e = err(&format!(
        "{HEAD}[class.a]\nname = \"A\"\nndc = \"00002143480\"\n"
    ));
    assert!(
        matches!(&e, CriteriaError::BadValue { at: l, key, .. } if key == "ndc" && *l == at(Some("a"), 4)),
        "{e:?}"
    );
    let e = err(&format!(
        "{HEAD}[class.a]\nname = \"A\"\nndc = [\"00002143480\"]\nmin_age = \"ten\"\n"
    ));
    assert!(
        matches!(&e, CriteriaError::BadValue { key, .. } if key == "min_age"),
        "{e:?}"
    );
    let e = err("[class.a]\nname = \"A\"\nndc = [\"00002143480\"]\n");
    assert_eq!(
        e.to_string(),
        "top level, line 1: missing key `schema_version`"
    );
    let e = err("schema_version = 2\n");
    assert_eq!(
        e.to_string(),
        "top level, line 1: key `schema_version`: unsupported version 2 (this build reads 1)"
    );
    let e = err(&format!(
        "{HEAD}[class.\"Bad Id\"]\nname = \"A\"\nndc = [\"00002143480\"]\n"
    ));
    assert!(
        matches!(&e, CriteriaError::BadValue { key, .. } if key == "class"),
        "{e:?}"
    );
}

#[test]
fn text_that_is_not_toml_is_refused_with_its_line() {
    let e = err(&format!("{HEAD}[class.a]\nname = \"A\n"));
    assert!(matches!(&e, CriteriaError::Syntax { line: 3, .. }), "{e:?}");
}

// ---------------------------------------------------------------- x12 pharmacy

#[test]
fn x12_pharmacy_prints_decisions_and_the_response() {
    let file = fixtures().join("pharmacy/two-services.x12");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_x12"))
        .arg("pharmacy")
        .arg(&file)
        .output()
        .expect("run x12");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ST 0001 event 1 service 1: NDC 61958220101 class hepatitis_c: certified (A1), authorization RX"),
        "{text}"
    );
    assert!(
        text.contains("ST 0001 event 1 service 2: NDC 00002143480 class glp1_t2dm: pended for CSRA review (A4): 393 days requested is above the class maximum of 365 days"),
        "{text}"
    );
    assert!(
        text.contains("HCR*A1*RX") && text.contains("SE*38*0001~"),
        "{text}"
    );

    // a malformed criteria file stops the command with its error
    let dir = std::env::temp_dir().join(format!("ncx12-pharmacy-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "schema_version = 1\n[class.a]\nname = \"A\"\nndc = [\"123\"]\n",
    )
    .expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_x12"))
        .arg("pharmacy")
        .arg(&file)
        .arg("--criteria")
        .arg(&bad)
        .output()
        .expect("run x12");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "x12: class a, line 4: key `ndc`: malformed NDC `123`: an NDC has 11 digits (5-4-2 without hyphens)"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
