//! Responses built for a request pass the response table, for every HCR action code,
//! and carry the request's traces and hierarchy back.

use std::path::Path;
use x12_278::{respond, Action, Decision, EventDecision, Responder};
use x12_core::schema::LoopTree;
use x12_core::{Item, Reader, Summary, TransactionSet, Validator};

fn request() -> TransactionSet {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/valid/278-request.x12");
    let data = std::fs::read(p).expect("fixture");
    Reader::new(&data[..])
        .filter_map(|i| match i.expect("memory read") {
            Item::Transaction(t) => Some(t),
            _ => None,
        })
        .next()
        .expect("one set")
}

fn wrap(set: &[u8]) -> Vec<u8> {
    let mut out = b"ISA*00*          *00*          *ZZ*NCMEDICAID     *ZZ*CLEARINGHOUSE  *240316*0900*^*00501*000000777*0*T*:~GS*HI*NCMEDICAID*CLEARINGHOUSE*20240316*0900*777*X*005010X217~".to_vec();
    out.extend_from_slice(set);
    out.extend_from_slice(b"GE*1*777~IEA*1*000000777~");
    out
}

#[test]
fn every_action_code_round_trips() {
    let v = x12_278::register(Validator::new());
    let req = request();
    let mut tree = LoopTree::default();
    let (guide, issues) = v.check_set(&req, &mut tree);
    assert!(issues.is_empty(), "{issues:#?}");
    let guide = guide.expect("request table");
    let who = Responder {
        control_number: "0001".into(),
        date: "20240316".into(),
        time: "0900".into(),
        originator: "1561234567".into(),
        trace_prefix: "UMO".into(),
        rejections: Vec::new(),
    };
    for action in [
        Action::Certified,
        Action::NotCertified,
        Action::Pended,
        Action::Modified,
        Action::Cancelled,
        Action::ContactPayer,
        Action::NoActionRequired,
    ] {
        let mut d = Decision::new(action);
        if matches!(action, Action::Certified | Action::Modified) {
            d.certification = Some("NC24000123".into());
            d.period = Some(("20240401".into(), "20240430".into()));
        }
        if action == Action::ContactPayer {
            d.message = Some("MEMBER ENROLLED WITH AN LME/MCO: CONTACT THE HEALTH PLAN".into());
        }
        let decisions = [EventDecision {
            event: d.clone(),
            services: vec![d.clone(), Decision::new(Action::Pended)],
        }];
        let set =
            respond(&req, &tree, guide, &x12_278::response(), &decisions, &who).expect("write");
        let interchange = wrap(&set);
        let mut s = Summary::new(1000, Default::default()).with_validator(v.clone());
        for item in Reader::new(&interchange[..]) {
            s.add(&item.expect("memory read"));
        }
        let text = String::from_utf8_lossy(&interchange);
        assert!(s.is_valid(), "{action:?}:\n{text}\n{:#?}", s.issues);
        assert_eq!(s.guides.get("278RESP 005010X217"), Some(&1), "{text}");
        let hcr = format!("HCR*{}", action.code());
        let expected = if action == Action::Pended { 3 } else { 2 };
        assert_eq!(
            text.matches(&hcr).count(),
            expected,
            "event and first service: {text}"
        );
        assert!(text.contains("HCR*A4~"), "second service pended: {text}");
        assert!(
            text.contains("TRN*2*PA0001EV*9561234567~"),
            "the requester's trace comes back: {text}"
        );
        assert!(
            text.contains("TRN*1*UMO0001*1561234567~"),
            "the UMO's own trace: {text}"
        );
        assert!(
            text.contains("BHT*0007*11*PA0001*20240316*0900*18~"),
            "{text}"
        );
        if d.certification.is_some() {
            assert!(
                text.contains(&format!("HCR*{}*NC24000123~", action.code())),
                "{text}"
            );
            assert!(
                text.contains("DTP*007*D8*20240401~") && text.contains("DTP*036*D8*20240430~"),
                "{text}"
            );
        }
        if action == Action::ContactPayer {
            // free text loses the delimiters X12 cannot escape (here the component ':')
            assert!(
                text.contains("MSG*MEMBER ENROLLED WITH AN LME/MCO CONTACT THE HEALTH PLAN~"),
                "{text}"
            );
        }
        // the hierarchy comes back level by level
        assert_eq!(text.matches("~HL*").count(), 6, "{text}");
    }
}

#[test]
fn a_request_failing_validation_gets_aaa_at_its_level() {
    let v = x12_278::register(Validator::new());
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/valid/278-request.x12");
    // the member id is missing: the 999 reports it, and the 278 response rejects at 2010C
    let data = std::fs::read_to_string(p)
        .expect("fixture")
        .replace("****MI*NC000000001~", "****MI~");
    let req = Reader::new(data.as_bytes())
        .filter_map(|i| match i.expect("memory read") {
            Item::Transaction(t) => Some(t),
            _ => None,
        })
        .next()
        .expect("one set");
    let mut tree = LoopTree::default();
    let (guide, issues) = v.check_set(&req, &mut tree);
    let rejections = x12_278::rejections_for(&issues);
    assert_eq!(
        rejections,
        [x12_278::Rejection {
            loop_id: "2010C".into(),
            reason: "72".into(),
            follow_up: "C".into()
        }]
    );
    let who = Responder {
        control_number: "0002".into(),
        date: "20240316".into(),
        time: "0900".into(),
        originator: "1561234567".into(),
        trace_prefix: "UMO".into(),
        rejections,
    };
    let decisions = [EventDecision {
        event: Decision::new(Action::NotCertified),
        services: Vec::new(),
    }];
    let set = respond(
        &req,
        &tree,
        guide.expect("request table"),
        &x12_278::response(),
        &decisions,
        &who,
    )
    .expect("write");
    let interchange = wrap(&set);
    let text = String::from_utf8_lossy(&interchange);
    assert!(
        text.contains("NM1*IL*1*DOE*JANE****MI~AAA*N**72*C~"),
        "{text}"
    );
    let mut s = Summary::new(1000, Default::default()).with_validator(v);
    for item in Reader::new(&interchange[..]) {
        s.add(&item.expect("memory read"));
    }
    // the echoed NM1 still lacks the id: that finding is the request's, and the AAA says so
    assert!(
        s.issues.iter().all(|i| i.location.segment_id == "NM1"),
        "{:#?}",
        s.issues
    );
}
