//! The 278 views read the guide's own examples (3.1-3.3, as published with the wrong
//! envelope labels the public copies carry) and keep the service-type inheritance rule.

use std::path::Path;
use x12_core::schema::{LoopRef, LoopTree};
use x12_core::{Item, Reader, TransactionSet, Validator};

fn with_events(file: &str, f: impl Fn(&[x12_278::Event<'_>])) {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/public/KeyMarkInc__OopFactory.X12")
        .join(file);
    let data = std::fs::read(p).expect("public 278 example");
    check_events(&data, f);
}

fn check_events(data: &[u8], f: impl Fn(&[x12_278::Event<'_>])) {
    let v = x12_278::register(Validator::new());
    let mut tree = LoopTree::default();
    let sets: Vec<TransactionSet> = Reader::new(data)
        .filter_map(|i| match i.expect("memory read") {
            Item::Transaction(t) => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(sets.len(), 1);
    let (guide, _) = v.check_set(&sets[0], &mut tree);
    let guide = guide.expect("the 278 request table");
    assert_eq!(guide.id, "278REQ");
    let events: Vec<_> = x12_278::events(LoopRef::root(&sets[0], &tree, guide)).collect();
    f(&events);
}

#[test]
fn example_3_1_1_an_event_without_services() {
    with_events("Example_3_1_1_Request.txt", |events| {
        assert_eq!(events.len(), 1);
        let e = events[0];
        assert_eq!(
            (e.category(), e.certification_type(), e.service_type()),
            ("SC", "I", "3")
        );
        assert_eq!(e.facility(), ("11", "B"));
        assert_eq!(e.traces().collect::<Vec<_>>(), ["111099"]);
        assert_eq!(e.diagnoses(), [("BF", "41090")]);
        assert_eq!(e.patient().map(|p| p.last_name()), Some("SMITH"));
        assert_eq!(e.requester().map(|p| p.last_name()), Some("GARDENER"));
        assert_eq!(
            e.umo().map(|p| p.last_name()),
            Some("MARYLAND CAPITAL INSURANCE COMPANY")
        );
        assert_eq!(
            e.providers().map(|p| p.entity()).collect::<Vec<_>>(),
            ["SJ"]
        );
        assert_eq!(e.services().count(), 0);
        let json = serde_json::to_value(e).expect("serializes");
        assert_eq!(json["service_type"], "3");
        assert_eq!(json["patient"]["last_name"], "SMITH");
    });
}

#[test]
fn example_3_2_1_an_admission_with_a_procedure() {
    with_events("Example_3_2_1_Request.txt", |events| {
        let e = events[0];
        assert_eq!(
            (e.category(), e.service_type(), e.level_of_service()),
            ("AR", "2", "")
        );
        assert_eq!(e.facility(), ("21", "B"));
        assert!(e
            .dates()
            .any(|d| d.qualifier == "435" && d.value == "20050516"));
        assert_eq!(
            e.providers().map(|p| p.entity()).collect::<Vec<_>>(),
            ["FA"]
        );
        let s: Vec<_> = e.services().collect();
        assert_eq!(s.len(), 1);
        let p = s[0].procedure().expect("SV202");
        assert_eq!((p.qualifier, p.code), ("HC", "33510"));
        assert_eq!(s[0].service_type(), "2");
        assert_eq!(s[0].provider().map(|p| p.taxonomy()), Some("203BS0133X"));
    });
}

#[test]
fn a_service_inherits_the_event_type_only_without_a_code_of_its_own() {
    let request = b"ISA*00*          *00*          *ZZ*SUBMITTER      *ZZ*RECEIVER       *240315*1430*^*00501*000000001*0*P*:~\
GS*HI*SUBMITTER*RECEIVER*20240315*1430*1*X*005010X217~ST*278*0001*005010X217~BHT*0007*13*R1*20240315*1430~\
HL*1**20*1~NM1*X3*2*NC MEDICAID*****PI*NCMEDICAID~HL*2*1*21*1~NM1*1P*2*CLINIC*****XX*1234567893~\
HL*3*2*22*1~NM1*IL*1*DOE*JANE****MI*NC000000001~HL*4*3*EV*1~TRN*1*T1*9561234567~UM*HS*I*12*11:B~\
HL*5*4*SS*0~TRN*1*S1*9561234567~UM*HS*I~SV1*HC:E1390*900*UN*1~\
HL*6*4*SS*0~TRN*1*S2*9561234567~UM*HS*I*PT~SV1*HC:97163*120*UN*1~\
HL*7*4*SS*0~TRN*1*S3*9561234567~UM*HS*I~\
SE*22*0001~GE*1*1~IEA*1*000000001~";
    check_events(request, |events| {
        let types: Vec<_> = events[0].services().map(|s| s.service_type()).collect();
        // a coded line without UM03 keeps none; a line with its own UM03 keeps it;
        // a line with neither code nor type inherits the event's DME (12)
        assert_eq!(types, ["", "PT", "12"]);
    });
}
