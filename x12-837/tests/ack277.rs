//! 277CA claim acknowledgments: built from the 837 fixtures, read back by our own
//! validator, and the two public 277CA samples read with their verdicts.

use x12_837::ack277::{render_277ca_interchange, Ack277, Ack277Options, ClaimSequence};
use x12_core::schema::{LoopRef, LoopTree};
use x12_core::{AckEnvelope, InterchangeReport, Issue, Item, Reader, Validator};

fn path(rel: &str) -> String {
    format!("{}/../{rel}", env!("CARGO_MANIFEST_DIR"))
}

fn validator() -> Validator {
    x12_837::register(Validator::with_core_guides())
}

/// Every 837 set of `data` with its issues run through `edit`, as 277CAs; and the
/// interchange report and GS02/GS03 of the last interchange.
fn build(
    data: &[u8],
    edit: impl Fn(&mut Vec<Issue>),
) -> (Vec<Ack277>, Option<InterchangeReport>, (String, String)) {
    let v = validator();
    let mut tree = LoopTree::default();
    let mut numbers = ClaimSequence::new("24075", 1);
    let opts = Ack277Options::dated("20240315", "1200");
    let mut out = Vec::new();
    let mut report = None;
    let mut group = (String::new(), String::new());
    for item in Reader::new(data) {
        match item.expect("read") {
            Item::Transaction(set) => {
                let (guide, mut issues) = v.check_set(&set, &mut tree);
                edit(&mut issues);
                let guide = guide.expect("a guide");
                if let Some(g) = set.group() {
                    group = (
                        String::from_utf8_lossy(g.sender()).into_owned(),
                        String::from_utf8_lossy(g.receiver()).into_owned(),
                    );
                }
                let root = LoopRef::root(&set, &tree, guide);
                out.push(Ack277::build(root, &issues, &opts, &mut numbers).expect("build"));
            }
            Item::InterchangeEnd(r) => report = Some(r),
            _ => {}
        }
    }
    (out, report, group)
}

fn render(acks: &[Ack277], report: &InterchangeReport, group: &(String, String)) -> String {
    let env = AckEnvelope {
        control_number: 7,
        date: "240315".into(),
        time: "1200".into(),
    };
    let bytes = render_277ca_interchange(report, (&group.0, &group.1), acks, &env, "20240315")
        .expect("render");
    String::from_utf8(bytes).expect("ascii")
}

/// Validates a whole interchange; returns (guide ids, every issue).
fn check(data: &[u8]) -> (Vec<String>, Vec<Issue>) {
    let v = validator();
    let mut tree = LoopTree::default();
    let mut guides = Vec::new();
    let mut issues = Vec::new();
    for item in Reader::new(data) {
        match item.expect("read") {
            Item::Transaction(set) => {
                let (g, i) = v.check_set(&set, &mut tree);
                guides.push(g.map(|g| g.id.clone()).unwrap_or_default());
                issues.extend(i);
            }
            Item::GroupEnd(r) => issues.extend(r.issues),
            Item::InterchangeEnd(r) => issues.extend(r.issues),
            Item::Segment(_) => {}
        }
    }
    (guides, issues)
}

fn segments(text: &str) -> Vec<&str> {
    text.split('~').filter(|s| !s.is_empty()).collect()
}

/// The segments of `text` from the first one starting with `from` up to (not
/// including) the next one starting with any of `until`.
fn slice<'t>(segs: &[&'t str], from: &str, until: &[&str]) -> Vec<&'t str> {
    let Some(start) = segs.iter().position(|s| s.starts_with(from)) else {
        return Vec::new();
    };
    let end = segs[start + 1..]
        .iter()
        .position(|s| until.iter().any(|u| s.starts_with(u)))
        .map_or(segs.len(), |e| start + 1 + e);
    segs[start..end].to_vec()
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(path(rel)).expect("fixture")
}

/// Builds, renders and re-validates: the 277CA text, which our validator accepts.
fn answer(data: &[u8], edit: impl Fn(&mut Vec<Issue>)) -> (Vec<Ack277>, String) {
    let (acks, report, group) = build(data, edit);
    let text = render(&acks, report.as_ref().expect("an interchange"), &group);
    let (guides, issues) = check(text.as_bytes());
    assert!(guides.iter().all(|g| g == "277CA"), "{guides:?}");
    assert!(issues.is_empty(), "{text}\n{issues:#?}");
    (acks, text)
}

#[test]
fn valid_837p_i_d_claims_are_accepted_with_totals() {
    for (file, claim, charge, bill_type) in [
        ("837p-minimal", "PFP0001", "150", None),
        ("837i-minimal", "INS0001", "860", Some("REF*BLT*131")),
        ("837d-minimal", "DEN0001", "240", None),
    ] {
        let (acks, text) = answer(&read(&format!("fixtures/valid/{file}.x12")), |_| {});
        assert_eq!(acks.len(), 1);
        assert_eq!(acks[0].totals(), ((1, charge.into()), (0, "0".into())));
        let segs = segments(&text);
        assert_eq!(segs[0].len() + 1, 106, "ISA is fixed width");
        assert!(segs.contains(&"GS*HN*NCMEDICAID*CLEARINGHOUSE*20240315*1200*7*X*005010X214"));
        assert!(segs.contains(&"ST*277*0001*005010X214"));
        // information receiver: receipt of the batch and its totals
        let receiver = slice(&segs, "HL*2*1*21*1", &["HL*3"]);
        assert_eq!(
            receiver[1..],
            [
                "NM1*41*2*CAROLINA BILLING SERVICE*****46*CH12345",
                &format!("TRN*2*{}", acks[0].batch),
                &format!("STC*A1:19:PR*20240315*WQ*{charge}"),
                "QTY*90*1",
                &format!("AMT*YU*{charge}"),
            ]
            .map(|s| s.to_string())
        );
        // billing provider: STC02 not used, its own totals
        let provider = slice(&segs, "HL*3*2*19*1", &["HL*4"]);
        assert_eq!(provider[2], "TRN*1*0001-1");
        assert_eq!(provider[3], format!("STC*A1:19:PR**WQ*{charge}"));
        assert_eq!(
            provider[4..],
            ["QTY*QA*1".to_string(), format!("AMT*YU*{charge}")]
        );
        // the claim: accepted into adjudication with its payer claim control number
        let patient = slice(&segs, "HL*4*3*PT", &["SE*"]);
        assert_eq!(patient[1], "NM1*QC*1*DOE*JANE****MI*900000001A");
        assert_eq!(patient[2], format!("TRN*2*{claim}"));
        assert_eq!(patient[3], format!("STC*A2:20*20240315*WQ*{charge}"));
        assert_eq!(patient[4], "REF*1K*240750000001");
        let mut rest: Vec<&str> = patient[5..].to_vec();
        if let Some(blt) = bill_type {
            assert_eq!(rest.remove(0), blt);
        }
        assert_eq!(rest, ["DTP*472*D8*20240301"]);
        assert_eq!(segs[segs.len() - 3], format!("SE*{}*0001", segs.len() - 4));
        assert_eq!(segs[segs.len() - 1], "IEA*1*000000007");
    }
}
#[test]
fn one_claim_rejected_one_accepted_in_the_same_set() {
    let data = read("fixtures/ack277/two-claims-bad-diagnosis.x12");
    // the validator finds one SNIP 5 error in the second claim's HI
    let (_, issues) = check(&data);
    assert_eq!(issues.len(), 1, "{issues:#?}");
    assert_eq!((issues[0].snip, issues[0].code.as_str()), (5, "CODE_SET"));
    // a 999 whose policy accepts SNIP 5 errors accepts the set with errors
    let mut ack = None;
    let policy = x12_core::AckPolicy {
        accept_with_errors: vec![5],
    };
    for item in Reader::new(&data[..]) {
        if let Item::Transaction(set) = item.expect("read") {
            let (_, i) = validator().check_set(&set, &mut LoopTree::default());
            let a = ack.get_or_insert_with(|| x12_core::Ack999::new(set.group().map(|g| &**g)));
            a.add_set(&set, &i, &policy);
        }
    }
    assert_eq!(ack.expect("a 999").sets[0].status.code(), "E");
    // so the 277CA rejects that claim and accepts the other
    let (acks, text) = answer(&data, |_| {});
    assert_eq!(acks[0].totals(), ((1, "100".into()), (1, "100".into())));
    let segs = segments(&text);
    let receiver = slice(&segs, "HL*2*1*21*1", &["HL*3"]);
    assert_eq!(
        receiver[3..],
        [
            "STC*A1:19:PR*20240315*WQ*200",
            "QTY*90*1",
            "QTY*AA*1",
            "AMT*YU*100",
            "AMT*YY*100"
        ]
    );
    let provider = slice(&segs, "HL*3*2*19*1", &["HL*4"]);
    assert_eq!(
        provider[3..],
        [
            "STC*A1:19:PR**WQ*200",
            "QTY*QA*1",
            "QTY*QC*1",
            "AMT*YU*100",
            "AMT*YY*100"
        ]
    );
    let first = slice(&segs, "HL*4*3*PT", &["HL*5"]);
    assert_eq!(
        first[2..],
        [
            "TRN*2*ACK0101",
            "STC*A2:20*20240315*WQ*100",
            "REF*1K*240750000001",
            "DTP*472*D8*20230301"
        ]
    );
    // A7 invalid information, 255 diagnosis code; no entity (the claim's own HI); no
    // payer claim control number for a rejected claim
    let second = slice(&segs, "HL*5*3*PT", &["SE*"]);
    assert_eq!(
        second[1..],
        [
            "NM1*QC*1*TESTPATIENT*DELTA****MI*NCRT0202",
            "TRN*2*ACK0102",
            "STC*A7:255*20240315*U*100",
            "DTP*472*D8*20230301"
        ]
    );
}

#[test]
fn a_rejected_line_gets_its_own_2220d() {
    let data = String::from_utf8(read("fixtures/ack277/two-claims-bad-diagnosis.x12"))
        .expect("ascii")
        .replace("E11.9", "E119")
        .replace("SV1*HC:36415*20", "SV1*HC:3641*20");
    let (acks, text) = answer(data.as_bytes(), |_| {});
    assert_eq!(acks[0].totals(), ((1, "100".into()), (1, "100".into())));
    let segs = segments(&text);
    let second = slice(&segs, "HL*5*3*PT", &["SE*"]);
    assert_eq!(
        second[2..],
        [
            "TRN*2*ACK0102",
            "STC*A7:454*20240315*U*100",
            "DTP*472*D8*20230301",
            "SVC*HC:3641*20*****1",
            "STC*A7:454*20240315*U",
            "DTP*472*D8*20230301"
        ]
    );
}

#[test]
fn billing_provider_findings_reject_every_claim_of_that_provider_with_entity_85() {
    // a SNIP 7 finding as the provider checks locate it: IK3 at the billing provider's
    // PRV (2000A, set position 28), IK4 PRV03 code 7 (the taxonomy is a valid code, not on file for
    // the NPI at that location on the date of service)
    let data = read("fixtures/ack277/two-providers.x12");
    let (acks, text) = answer(&data, |issues| {
        issues.push(
            Issue::error(
                x12_core::Code::CodeSet,
                x12_core::Scope::Set,
                "the billing provider is not active with this taxonomy",
            )
            .snip(7)
            .pipe_ik(28, "PRV", "2000A", Some((3, "7"))),
        );
    });
    assert_eq!(acks[0].totals(), ((1, "150".into()), (1, "175".into())));
    let segs = segments(&text);
    // one 2000C per billing provider, each with its own totals
    assert_eq!(
        slice(&segs, "HL*3*2*19*1", &["HL*4"])[1..],
        [
            "NM1*85*2*WAKE FAMILY MEDICINE*****XX*1497758544",
            "TRN*1*0001-1",
            "STC*A1:19:PR**WQ*150",
            "QTY*QA*1",
            "AMT*YU*150"
        ]
    );
    assert_eq!(
        slice(&segs, "HL*5*2*19*1", &["HL*6"])[1..],
        [
            "NM1*85*2*PIEDMONT PROVIDER GROUP*****XX*1234567893",
            "TRN*1*0001-3",
            "STC*A1:19:PR**U*175",
            "QTY*QC*1",
            "AMT*YY*175"
        ]
    );
    assert!(segs.contains(&"STC*A2:20*20240315*WQ*150"), "{text}");
    assert!(segs.contains(&"STC*A8:145:85*20240315*U*175"), "{text}");
    // the information receiver's totals add both providers up
    assert_eq!(
        slice(&segs, "HL*2*1*21*1", &["HL*3"])[3..],
        [
            "STC*A1:19:PR*20240315*WQ*325",
            "QTY*90*1",
            "QTY*AA*1",
            "AMT*YU*150",
            "AMT*YY*175"
        ]
    );
}

/// Sets an issue's 999 coordinates.
trait PipeIk {
    fn pipe_ik(
        self,
        position: u32,
        seg: &str,
        loop_id: &str,
        ik4: Option<(u16, &'static str)>,
    ) -> Issue;
}

impl PipeIk for Issue {
    fn pipe_ik(
        mut self,
        position: u32,
        seg: &str,
        loop_id: &str,
        ik4: Option<(u16, &'static str)>,
    ) -> Issue {
        self.ik3 = Some(x12_core::Ik3 {
            segment_id: seg.into(),
            position,
            loop_id: Some(loop_id.into()),
            code: "8",
        });
        self.ik4 = ik4.map(|(p, code)| x12_core::Ik4 {
            position: p,
            component: None,
            repetition: None,
            reference: "127".into(),
            code,
            value: None,
        });
        self
    }
}

#[test]
fn errors_outside_any_claim_reject_no_claim() {
    let data = read("fixtures/valid/837p-minimal.x12");
    let (acks, _) = answer(&data, |issues| {
        // an error on the submitter's PER (1000A): reported by the 999, no claim's
        issues.push(
            Issue::error(x12_core::Code::InvalidCode, x12_core::Scope::Set, "PER").pipe_ik(
                5,
                "PER",
                "1000A",
                Some((1, "7")),
            ),
        );
    });
    assert_eq!(acks[0].totals(), ((1, "150".into()), (0, "0".into())));
}

#[test]
fn which_errors_concern_a_claim() {
    // what a gateway may accept with errors in the 999: only errors the 277CA rejects
    // a claim for
    let data = read("fixtures/ack277/two-providers.x12");
    let v = validator();
    let mut tree = LoopTree::default();
    let mut seen = 0;
    for item in Reader::new(&data[..]) {
        let Item::Transaction(set) = item.expect("read") else {
            continue;
        };
        let (guide, _) = v.check_set(&set, &mut tree);
        let root = LoopRef::root(&set, &tree, guide.expect("an 837P table"));
        let at = |position: u32, seg: &str, loop_id: &str| {
            Issue::error(x12_core::Code::CodeSet, x12_core::Scope::Set, "test")
                .snip(5)
                .pipe_ik(position, seg, loop_id, Some((1, "7")))
        };
        let concerns = |i: &Issue| x12_837::ack277::concerns_a_claim(root, i);
        // the submitter's PER (1000A) and the receiver's NM1 (1000B): no claim's
        assert!(!concerns(&at(4, "PER", "1000A")));
        assert!(!concerns(&at(5, "NM1", "1000B")));
        // a billing provider's PRV (2000A), a subscriber's NM1 (2010BA), a claim's HI
        assert!(concerns(&at(7, "PRV", "2000A")));
        assert!(concerns(&at(14, "NM1", "2010BA")));
        assert!(concerns(&at(20, "HI", "2300")));
        // no position, or a warning: nothing to reject a claim for
        let mut loose = at(20, "HI", "2300");
        loose.ik3 = None;
        assert!(!concerns(&loose));
        let mut warning = at(20, "HI", "2300");
        warning.severity = x12_core::Severity::Warning;
        assert!(!concerns(&warning));
        seen += 1;
    }
    assert_eq!(seen, 1);
}

#[test]
fn a_set_read_with_another_table_is_not_a_claim_set() {
    let data = read("fixtures/valid/278-request.x12");
    let v = Validator::with_core_guides();
    let mut tree = LoopTree::default();
    for item in Reader::new(&data[..]) {
        if let Item::Transaction(set) = item.expect("read") {
            // the 837 guide table cannot read a 278; use the 999's table as "not an 837"
            let guide = v.guides().next().expect("the 999 table").clone();
            tree.clear();
            x12_core::schema::Engine::new(&guide).walk(&set, &mut tree, &mut Vec::new());
            let root = LoopRef::root(&set, &tree, &guide);
            let err = Ack277::build(
                root,
                &[],
                &Ack277Options::dated("20240315", "1200"),
                &mut ClaimSequence::new("X", 1),
            )
            .expect_err("not an 837");
            assert!(err.to_string().contains("837"), "{err}");
        }
    }
}

/// The two public 277CA samples (imsweb/x12-parser, `src/test/resources/277_5010`)
/// read by our validator: both have the same one defect. The billing provider level
/// (2200C) has no STC, which pyx12's X214 map (and so our table) requires: IK3
/// `STC*17*2200C*3`, at segment 19 of the file (after `TRN*1*...FF`). pyx12 4.0.0
/// reports the same, and for the accepted sample also DTP03 `10010101` as an invalid
/// date; that is a well-formed CCYYMMDD (year 1001), which our D8 check accepts.
#[test]
fn public_277ca_samples_and_their_one_defect() {
    for (file, segments_read, claim_stc) in [
        ("x12_277CA_accepted.txt", 27, "STC*A2:20*20110311*WQ*125"),
        (
            "x12_277CA_rejected.txt",
            28,
            "STC*A7|562|85*20110311*WQ*199.14",
        ),
    ] {
        let data = read(&format!("fixtures/public/imsweb__x12-parser/{file}"));
        let (guides, issues) = check(&data);
        assert_eq!(guides, ["277CA"], "{file}");
        assert_eq!(issues.len(), 1, "{file}: {issues:#?}");
        let i = &issues[0];
        assert_eq!(i.code.as_str(), "MISSING_SEGMENT", "{file}");
        assert_eq!(i.location.segment_position, 19, "{file}");
        let ik3 = i.ik3.as_ref().expect("IK3");
        assert_eq!(
            (
                ik3.segment_id.as_str(),
                ik3.position,
                ik3.loop_id.as_deref(),
                ik3.code
            ),
            ("STC", 17, Some("2200C"), "3"),
            "{file}"
        );
        let text = String::from_utf8(data).expect("ascii");
        let segs: Vec<&str> = text
            .split('~')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        assert_eq!(segs.len(), segments_read, "{file}");
        assert!(segs.contains(&claim_stc), "{file}");
        // what the builder writes instead at that level
        assert!(!segs.iter().any(|s| s.starts_with("STC*A1:19:PR**")));
    }
}
