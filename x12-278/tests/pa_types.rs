//! The hand-written requests of `fixtures/valid/278/`, one per PA type of the
//! contractor table (`shared/contractors.toml`), read through the typed request view:
//! each file's events and services, as written, with the service type that routing
//! sees (ROUTING.md §1.6), and no finding from the validator.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use x12_278::{Event, Service};
use x12_core::schema::{LoopRef, LoopTree};
use x12_core::{Item, Reader, TransactionSet, Validator};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/valid/278")
}

/// Reads `file`, validates it with every 278 table, and hands its events to `f` along
/// with the validator's findings.
fn with_file(file: &str, f: impl Fn(&[Event<'_>], &[x12_core::Issue])) {
    let data = std::fs::read(dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let v = x12_278::register(Validator::with_core_guides());
    let mut tree = LoopTree::default();
    let sets: Vec<TransactionSet> = Reader::new(&data[..])
        .filter_map(|i| match i.expect("memory read") {
            Item::Transaction(t) => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(sets.len(), 1, "{file}: one transaction set");
    let (guide, issues) = v.check_set(&sets[0], &mut tree);
    let guide = guide.unwrap_or_else(|| panic!("{file}: no guide answers"));
    assert_eq!(guide.id, "278REQ", "{file}");
    let events: Vec<_> = x12_278::events(LoopRef::root(&sets[0], &tree, guide)).collect();
    f(&events, &issues);
}

/// What one 2000F says, as routing reads it.
struct Line {
    /// Procedure qualifier and code (SV101, SV202, SV301), if any.
    procedure: Option<(&'static str, &'static str)>,
    /// SV201 revenue code ("" if none).
    revenue: &'static str,
    /// The line's own UM03.
    own_type: &'static str,
    /// The service type routing uses (own, or the event's for an uncoded line).
    service_type: &'static str,
    modifiers: &'static [&'static str],
    quantity: Option<(&'static str, &'static str)>,
    /// DTP*472 (format, value).
    date: (&'static str, &'static str),
    /// 2010F PRV03 and N402.
    taxonomy: &'static str,
    state: &'static str,
}

/// What one file says.
struct Case {
    file: &'static str,
    /// UM01, UM02, UM03 of the event.
    um: (&'static str, &'static str, &'static str),
    /// UM04 facility code and qualifier.
    facility: (&'static str, &'static str),
    diagnoses: &'static [(&'static str, &'static str)],
    /// Patient DMG02.
    birth_date: &'static str,
    /// Requester PRV03 and N402.
    requester: (&'static str, &'static str),
    lines: &'static [Line],
}

const fn line(
    procedure: Option<(&'static str, &'static str)>,
    own_type: &'static str,
    service_type: &'static str,
    modifiers: &'static [&'static str],
    quantity: Option<(&'static str, &'static str)>,
    date: (&'static str, &'static str),
    provider: (&'static str, &'static str),
) -> Line {
    Line {
        procedure,
        revenue: "",
        own_type,
        service_type,
        modifiers,
        quantity,
        date,
        taxonomy: provider.0,
        state: provider.1,
    }
}

const fn revenue(mut l: Line, code: &'static str) -> Line {
    l.revenue = code;
    l
}

const NC_DME: (&str, &str) = ("332B00000X", "NC");

const CASES: &[Case] = &[
    Case {
        file: "dme.x12",
        um: ("HS", "I", "12"),
        facility: ("12", "B"),
        diagnoses: &[("ABK", "G35"), ("ABF", "R262")],
        birth_date: "19470612",
        requester: ("207R00000X", "NC"),
        lines: &[
            line(
                Some(("HC", "E0260")),
                "12",
                "12",
                &["RR"],
                Some(("UN", "6")),
                ("RD8", "20230315-20230914"),
                NC_DME,
            ),
            // coded, no UM03 of its own: it does not inherit the event's 12
            line(
                Some(("HC", "E0910")),
                "",
                "",
                &["NU"],
                Some(("UN", "1")),
                ("D8", "20230315"),
                NC_DME,
            ),
        ],
    },
    Case {
        file: "optical.x12",
        um: ("HS", "I", "AL"),
        facility: ("11", "B"),
        diagnoses: &[("ABK", "H5213"), ("ABF", "H52223")],
        birth_date: "20120917",
        requester: ("152W00000X", "NC"),
        lines: &[
            line(
                Some(("HC", "V2103")),
                "AL",
                "AL",
                &[],
                Some(("UN", "2")),
                ("D8", "20230410"),
                ("152W00000X", "NC"),
            ),
            line(
                Some(("HC", "V2020")),
                "",
                "",
                &[],
                Some(("UN", "1")),
                ("D8", "20230410"),
                ("152W00000X", "NC"),
            ),
            // no code and no UM03: the line inherits the event's AL (visual aids)
            line(
                None,
                "",
                "AL",
                &[],
                None,
                ("D8", "20230410"),
                ("152W00000X", "NC"),
            ),
        ],
    },
    Case {
        file: "hearing_aids.x12",
        um: ("HS", "I", ""),
        facility: ("11", "B"),
        diagnoses: &[("ABK", "H903")],
        birth_date: "20150203",
        requester: ("231H00000X", "NC"),
        lines: &[
            line(
                Some(("HC", "V5261")),
                "",
                "",
                &[],
                Some(("UN", "1")),
                ("D8", "20230522"),
                ("231H00000X", "NC"),
            ),
            line(
                Some(("HC", "V5160")),
                "",
                "",
                &[],
                Some(("UN", "1")),
                ("D8", "20230522"),
                ("231H00000X", "NC"),
            ),
        ],
    },
    Case {
        file: "long_term_care.x12",
        um: ("AR", "I", "54"),
        facility: ("32", "B"),
        diagnoses: &[("ABK", "G309"), ("ABF", "I10"), ("ABF", "R2681")],
        birth_date: "19380129",
        requester: ("207Q00000X", "NC"),
        lines: &[revenue(
            line(
                None,
                "54",
                "54",
                &[],
                Some(("DA", "184")),
                ("RD8", "20230501-20231031"),
                ("313M00000X", "NC"),
            ),
            "0120",
        )],
    },
    Case {
        file: "medical_surgical.x12",
        um: ("AR", "I", "2"),
        facility: ("21", "B"),
        diagnoses: &[("ABK", "M1711"), ("ABF", "E669")],
        birth_date: "19680304",
        requester: ("207X00000X", "NC"),
        lines: &[line(
            Some(("HC", "27447")),
            "2",
            "2",
            &["RT"],
            Some(("UN", "1")),
            ("D8", "20230612"),
            ("207X00000X", "NC"),
        )],
    },
    Case {
        file: "mpw.x12",
        um: ("HS", "I", "33"),
        facility: ("11", "B"),
        diagnoses: &[("ABK", "O26892"), ("ABF", "M5450"), ("ABF", "Z3A22")],
        birth_date: "19960815",
        requester: ("111N00000X", "NC"),
        lines: &[line(
            Some(("HC", "98941")),
            "33",
            "33",
            &[],
            Some(("UN", "8")),
            ("RD8", "20230306-20230505"),
            ("111N00000X", "NC"),
        )],
    },
    Case {
        file: "ambulance.x12",
        um: ("HS", "I", "56"),
        facility: ("41", "B"),
        diagnoses: &[("ABK", "N186"), ("ABF", "Z992"), ("ABF", "I69351")],
        birth_date: "19520708",
        requester: ("3416L0300X", "NC"),
        lines: &[
            line(
                Some(("HC", "A0428")),
                "56",
                "56",
                &["RJ"],
                Some(("UN", "39")),
                ("RD8", "20230320-20230616"),
                ("3416L0300X", "NC"),
            ),
            line(
                Some(("HC", "A0425")),
                "56",
                "56",
                &["RJ"],
                Some(("UN", "234")),
                ("RD8", "20230320-20230616"),
                ("3416L0300X", "NC"),
            ),
        ],
    },
    Case {
        file: "out_of_state_ambulance.x12",
        um: ("HS", "I", "56"),
        facility: ("41", "B"),
        diagnoses: &[("ABK", "I5023"), ("ABF", "I420")],
        birth_date: "19610322",
        requester: ("3416L0300X", "NC"),
        lines: &[
            line(
                Some(("HC", "A0426")),
                "56",
                "56",
                &["HH"],
                Some(("UN", "1")),
                ("D8", "20230418"),
                ("3416L0300X", "NC"),
            ),
            line(
                Some(("HC", "A0425")),
                "56",
                "56",
                &["HH"],
                Some(("UN", "207")),
                ("D8", "20230418"),
                ("3416L0300X", "NC"),
            ),
        ],
    },
    Case {
        file: "dental.x12",
        um: ("HS", "I", "35"),
        facility: ("11", "B"),
        diagnoses: &[("ABK", "K011")],
        birth_date: "20031130",
        requester: ("1223S0112X", "NC"),
        lines: &[
            line(
                Some(("AD", "D7240")),
                "35",
                "35",
                &[],
                Some(("", "1")),
                ("D8", "20230524"),
                ("1223S0112X", "NC"),
            ),
            line(
                Some(("AD", "D7240")),
                "",
                "",
                &[],
                Some(("", "1")),
                ("D8", "20230524"),
                ("1223S0112X", "NC"),
            ),
        ],
    },
    Case {
        file: "orthodontic.x12",
        um: ("HS", "I", "38"),
        facility: ("11", "B"),
        diagnoses: &[("ABK", "M26212"), ("ABF", "M2631")],
        birth_date: "20090211",
        requester: ("1223X0400X", "NC"),
        lines: &[
            line(
                Some(("AD", "D8080")),
                "38",
                "38",
                &[],
                Some(("", "1")),
                ("D8", "20230601"),
                ("1223X0400X", "NC"),
            ),
            line(
                Some(("AD", "D8670")),
                "38",
                "38",
                &[],
                Some(("", "22")),
                ("RD8", "20230701-20250531"),
                ("1223X0400X", "NC"),
            ),
        ],
    },
    Case {
        file: "therapeutic_leave.x12",
        um: ("HS", "I", "54"),
        facility: ("21", "A"),
        diagnoses: &[("ABK", "F0390"), ("ABF", "I10")],
        birth_date: "19380129",
        requester: ("314000000X", "NC"),
        // a revenue code is a code of its own: no inherited 54
        lines: &[revenue(
            line(
                None,
                "",
                "",
                &[],
                Some(("DA", "5")),
                ("RD8", "20230701-20230705"),
                ("314000000X", "NC"),
            ),
            "0183",
        )],
    },
    Case {
        file: "pharmacy.x12",
        um: ("HS", "I", "88"),
        facility: ("01", "B"),
        diagnoses: &[("ABK", "E1165"), ("ABF", "E6601")],
        birth_date: "19790406",
        requester: ("207RE0101X", "NC"),
        lines: &[line(
            Some(("N4", "00002143480")),
            "88",
            "88",
            &[],
            Some(("UN", "4")),
            ("RD8", "20230801-20240131"),
            ("3336C0003X", "NC"),
        )],
    },
    Case {
        file: "radiology.x12",
        um: ("HS", "I", "4"),
        facility: ("11", "B"),
        diagnoses: &[("ABK", "M5416"), ("ABF", "M5136")],
        birth_date: "19730918",
        requester: ("207Q00000X", "NC"),
        lines: &[line(
            Some(("HC", "72148")),
            "4",
            "4",
            &[],
            Some(("UN", "1")),
            ("D8", "20210503"),
            ("261QR0200X", "NC"),
        )],
    },
    Case {
        file: "none.x12",
        um: ("HS", "I", "62"),
        facility: ("22", "B"),
        diagnoses: &[("ABK", "G43909"), ("ABF", "R519")],
        birth_date: "19880530",
        requester: ("2084N0400X", "NC"),
        lines: &[line(
            Some(("HC", "70553")),
            "62",
            "62",
            &[],
            Some(("UN", "1")),
            ("D8", "20230301"),
            ("282N00000X", "NC"),
        )],
    },
    Case {
        file: "pcs.x12",
        um: ("HS", "I", "42"),
        facility: ("12", "B"),
        diagnoses: &[("ABK", "I69351"), ("ABF", "R2689"), ("ABF", "Z741")],
        birth_date: "19780211",
        requester: ("207Q00000X", "NC"),
        lines: &[line(
            Some(("HC", "99509")),
            "",
            "",
            &["HB"],
            Some(("UN", "1920")),
            ("RD8", "20230401-20230930"),
            ("251E00000X", "NC"),
        )],
    },
    Case {
        file: "pdn.x12",
        um: ("HS", "I", "74"),
        facility: ("12", "B"),
        diagnoses: &[("ABK", "J9611"), ("ABF", "Z930"), ("ABF", "Z9911")],
        birth_date: "20150914",
        requester: ("2080P0214X", "NC"),
        lines: &[
            line(
                Some(("HC", "T1002")),
                "74",
                "74",
                &[],
                Some(("UN", "5888")),
                ("RD8", "20230701-20231231"),
                ("251J00000X", "NC"),
            ),
            line(
                Some(("HC", "T1003")),
                "74",
                "74",
                &[],
                Some(("UN", "2944")),
                ("RD8", "20230701-20231231"),
                ("251J00000X", "NC"),
            ),
        ],
    },
    Case {
        file: "home_health.x12",
        um: ("HS", "I", "44"),
        facility: ("32", "A"),
        diagnoses: &[("ABK", "L89154"), ("ABF", "E1151")],
        birth_date: "19550127",
        requester: ("251E00000X", "NC"),
        lines: &[
            line(
                Some(("HC", "G0299")),
                "44",
                "44",
                &[],
                Some(("UN", "72")),
                ("RD8", "20230301-20230429"),
                ("251E00000X", "NC"),
            ),
            line(
                Some(("HC", "G0156")),
                "",
                "",
                &[],
                Some(("UN", "64")),
                ("RD8", "20230301-20230429"),
                ("251E00000X", "NC"),
            ),
        ],
    },
    Case {
        file: "hospice.x12",
        um: ("HS", "I", "45"),
        facility: ("81", "A"),
        diagnoses: &[("ABK", "C3490"), ("ABF", "C7951")],
        birth_date: "19490503",
        requester: ("207RX0202X", "NC"),
        lines: &[revenue(
            line(
                Some(("HC", "Q5001")),
                "45",
                "45",
                &[],
                Some(("DA", "90")),
                ("RD8", "20230815-20231112"),
                ("251G00000X", "NC"),
            ),
            "0651",
        )],
    },
    Case {
        file: "outpatient_specialized_therapies.x12",
        um: ("HS", "I", "PT"),
        facility: ("11", "B"),
        diagnoses: &[("ABK", "M25561"), ("ABF", "Z96651")],
        birth_date: "19840722",
        requester: ("225100000X", "NC"),
        lines: &[
            line(
                Some(("HC", "97163")),
                "PT",
                "PT",
                &["GP"],
                Some(("UN", "1")),
                ("D8", "20230405"),
                ("225100000X", "NC"),
            ),
            line(
                Some(("HC", "97110")),
                "PT",
                "PT",
                &["GP"],
                Some(("UN", "48")),
                ("RD8", "20230406-20230704"),
                ("225100000X", "NC"),
            ),
        ],
    },
    Case {
        file: "behavioral_health.x12",
        um: ("HS", "I", "MH"),
        facility: ("12", "B"),
        diagnoses: &[("ABK", "F840")],
        birth_date: "20180419",
        requester: ("2080P0006X", "NC"),
        lines: &[
            line(
                Some(("HC", "97151")),
                "MH",
                "MH",
                &[],
                Some(("UN", "8")),
                ("D8", "20230901"),
                ("103K00000X", "NC"),
            ),
            line(
                Some(("HC", "97153")),
                "",
                "",
                &[],
                Some(("UN", "1200")),
                ("RD8", "20230905-20240229"),
                ("103K00000X", "NC"),
            ),
        ],
    },
    Case {
        file: "transplant.x12",
        um: ("AR", "I", "70"),
        facility: ("11", "A"),
        diagnoses: &[("ABK", "K7469"), ("ABF", "R188")],
        birth_date: "19700614",
        requester: ("208600000X", "NC"),
        lines: &[
            // ICD-10-PCS 0FY00Z0 (liver transplantation, allogeneic, open) on an SV2 line
            revenue(
                line(
                    Some(("ZZ", "0FY00Z0")),
                    "70",
                    "70",
                    &[],
                    Some(("UN", "1")),
                    ("D8", "20231009"),
                    ("282N00000X", "NC"),
                ),
                "0360",
            ),
            line(
                Some(("HC", "47135")),
                "70",
                "70",
                &[],
                Some(("UN", "1")),
                ("D8", "20231009"),
                ("208600000X", "NC"),
            ),
        ],
    },
    Case {
        file: "out_of_state_medical_surgical.x12",
        um: ("SC", "I", "2"),
        facility: ("22", "B"),
        diagnoses: &[("ABK", "M48062"), ("ABF", "M5416")],
        birth_date: "19660909",
        requester: ("207T00000X", "TN"),
        lines: &[line(
            Some(("HC", "63047")),
            "2",
            "2",
            &[],
            Some(("UN", "1")),
            ("D8", "20230808"),
            ("207T00000X", "TN"),
        )],
    },
    Case {
        file: "sickle_cell_program.x12",
        um: ("HS", "I", "1"),
        facility: ("11", "B"),
        diagnoses: &[("ABK", "D5700")],
        birth_date: "19960220",
        requester: ("207RH0003X", "NC"),
        lines: &[
            line(
                Some(("HC", "99214")),
                "",
                "",
                &[],
                Some(("UN", "6")),
                ("RD8", "20230301-20230831"),
                ("207RH0003X", "NC"),
            ),
            line(
                Some(("HC", "85025")),
                "",
                "",
                &[],
                Some(("UN", "6")),
                ("RD8", "20230301-20230831"),
                ("207RH0003X", "NC"),
            ),
        ],
    },
    Case {
        file: "infant_toddler_program.x12",
        um: ("HS", "I", "1"),
        facility: ("12", "B"),
        diagnoses: &[("ABK", "F802"), ("ABF", "R6250")],
        birth_date: "20210510",
        requester: ("261QD1600X", "NC"),
        lines: &[
            line(
                Some(("HC", "T1027")),
                "",
                "",
                &[],
                Some(("UN", "52")),
                ("RD8", "20230615-20231214"),
                ("261QD1600X", "NC"),
            ),
            line(
                Some(("HC", "T1024")),
                "",
                "",
                &[],
                Some(("UN", "1")),
                ("D8", "20230615"),
                ("261QD1600X", "NC"),
            ),
        ],
    },
    Case {
        file: "managed_care.x12",
        um: ("HS", "I", "2"),
        facility: ("22", "B"),
        diagnoses: &[("ABK", "S83241A")],
        birth_date: "19990112",
        requester: ("207X00000X", "NC"),
        lines: &[line(
            Some(("HC", "29881")),
            "2",
            "2",
            &["RT"],
            Some(("UN", "1")),
            ("D8", "20231016"),
            ("207X00000X", "NC"),
        )],
    },
    Case {
        file: "behavioral_health_state_funded.x12",
        um: ("HS", "I", "MH"),
        facility: ("53", "B"),
        diagnoses: &[("ABK", "F209")],
        birth_date: "19850302",
        requester: ("261QM0801X", "NC"),
        lines: &[line(
            Some(("HC", "H0036")),
            "MH",
            "MH",
            &[],
            Some(("UN", "96")),
            ("RD8", "20230410-20231009"),
            ("261QM0801X", "NC"),
        )],
    },
];

fn check_line(file: &str, n: usize, s: &Service<'_>, want: &Line) {
    let at = format!("{file} service {}", n + 1);
    assert_eq!(
        s.procedure().map(|p| (p.qualifier, p.code)),
        want.procedure,
        "{at}: procedure"
    );
    assert_eq!(s.revenue_code(), want.revenue, "{at}: revenue code");
    assert_eq!(s.own_service_type(), want.own_type, "{at}: own UM03");
    assert_eq!(s.service_type(), want.service_type, "{at}: service type");
    assert_eq!(s.modifiers(), want.modifiers, "{at}: modifiers");
    assert_eq!(s.quantity(), want.quantity, "{at}: quantity");
    let dates: Vec<_> = s
        .dates()
        .map(|d| (d.qualifier, d.format, d.value))
        .collect();
    assert_eq!(
        dates,
        [("472", want.date.0, want.date.1)],
        "{at}: service dates"
    );
    let provider = s.provider().unwrap_or_else(|| panic!("{at}: no 2010F"));
    assert_eq!(provider.taxonomy(), want.taxonomy, "{at}: 2010F taxonomy");
    assert_eq!(provider.city_state_zip().1, want.state, "{at}: 2010F state");
    assert_eq!(provider.id_qualifier(), "XX", "{at}: 2010F NPI");
}

#[test]
fn every_pa_type_file_reads_as_written_and_validates() {
    for case in CASES {
        with_file(case.file, |events, issues| {
            let file = case.file;
            assert!(issues.is_empty(), "{file}: {issues:#?}");
            assert_eq!(events.len(), 1, "{file}: events");
            let e = events[0];
            assert_eq!(
                (e.category(), e.certification_type(), e.service_type()),
                case.um,
                "{file}: UM01-UM03"
            );
            assert_eq!(e.facility(), case.facility, "{file}: UM04");
            assert_eq!(e.diagnoses(), case.diagnoses, "{file}: HI");
            let patient = e.patient().unwrap_or_else(|| panic!("{file}: no patient"));
            assert_eq!(patient.birth_date(), case.birth_date, "{file}: DMG02");
            assert_eq!(patient.id_qualifier(), "MI", "{file}: member id");
            let requester = e
                .requester()
                .unwrap_or_else(|| panic!("{file}: no requester"));
            assert_eq!(
                (requester.taxonomy(), requester.city_state_zip().1),
                case.requester,
                "{file}: requester PRV03, N402"
            );
            assert!(requester.npi().is_some(), "{file}: requester NPI");
            assert_eq!(e.umo().map(|u| u.entity()), Some("X3"), "{file}: UMO");
            let services: Vec<_> = e.services().collect();
            assert_eq!(services.len(), case.lines.len(), "{file}: services");
            for (n, (s, want)) in services.iter().zip(case.lines).enumerate() {
                check_line(file, n, s, want);
            }
        });
    }
}

#[test]
fn every_file_has_a_case_and_a_readme_line() {
    let files: BTreeSet<String> = std::fs::read_dir(dir())
        .expect("fixtures/valid/278")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".x12"))
        .collect();
    let cases: BTreeSet<String> = CASES.iter().map(|c| c.file.to_string()).collect();
    assert_eq!(files, cases);
    let readme = std::fs::read_to_string(dir().join("README.md")).expect("README.md");
    for f in &files {
        assert!(
            readme.contains(&format!("`{f}`")),
            "README.md has no line for {f}"
        );
    }
}

#[test]
fn every_pa_type_of_the_contractor_table_has_a_file() {
    let table = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/contractors.toml");
    let text =
        std::fs::read_to_string(&table).unwrap_or_else(|e| panic!("{}: {e}", table.display()));
    let pa_types: BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pa_type = \""))
        .filter_map(|l| l.split('"').next())
        .collect();
    assert!(pa_types.len() >= 20, "{pa_types:?}");
    for t in &pa_types {
        assert!(
            dir().join(format!("{t}.x12")).exists(),
            "no fixture for PA type {t}"
        );
    }
}

#[test]
fn ambulance_transport_locations_name_their_states() {
    for (file, want) in [
        ("ambulance.x12", [("PW", "NC"), ("45", "NC")]),
        ("out_of_state_ambulance.x12", [("PW", "NC"), ("45", "GA")]),
    ] {
        with_file(file, |events, _| {
            let got: Vec<_> = events[0]
                .transport()
                .map(|p| (p.entity(), p.city_state_zip().1))
                .collect();
            assert_eq!(got, want, "{file}");
            assert_eq!(
                events[0].level_of_service(),
                "E",
                "{file}: not an emergency"
            );
        });
    }
}

#[test]
fn segments_the_rules_key_on_are_where_the_rules_look() {
    // home health: CR6 in 2000E (has_segment); MPW: CR2 and the pregnancy dates
    with_file("home_health.x12", |events, _| {
        let cr6 = events[0].node.segment("CR6").expect("CR6 in 2000E");
        assert_eq!(cr6.get(4), b"20230301-20230429");
    });
    with_file("mpw.x12", |events, _| {
        let e = events[0];
        assert!(e.node.segment("CR2").is_some());
        let dates: Vec<_> = e.dates().map(|d| (d.qualifier, d.value)).collect();
        assert_eq!(
            dates,
            [
                ("484", "20221005"),
                ("ABC", "20230712"),
                ("AAH", "20230306-20230505")
            ]
        );
        assert_eq!(
            e.providers()
                .map(|p| (p.entity(), p.taxonomy()))
                .collect::<Vec<_>>(),
            [("DN", "207V00000X")]
        );
    });
    // admissions: event dates the service dates must sit within
    with_file("transplant.x12", |events, _| {
        let dates: Vec<_> = events[0].dates().map(|d| (d.qualifier, d.value)).collect();
        assert_eq!(dates, [("435", "20231009"), ("096", "20231023")]);
        assert_eq!(
            events[0]
                .providers()
                .map(|p| p.entity())
                .collect::<Vec<_>>(),
            ["FA"]
        );
    });
    // attachments sent separately carry their control numbers
    with_file("orthodontic.x12", |events, _| {
        assert_eq!(
            events[0].attachments().collect::<Vec<_>>(),
            [("DA", "BM", "ORT2310MOD"), ("RB", "EL", "ORT2310CEPH")]
        );
    });
}
