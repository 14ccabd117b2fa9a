//! Routing through real files: the ROUTING.md §6 examples and extra checks, every vendor
//! reached, rejects and no-PA outcomes, follow-ups, the table and eligibility errors, and
//! the valid 278 request per PA type.

use gatewayd::route::{
    route_file, Action, Code, CodeSet, Decision, EligibilityError, EligibilityFile, Lookups,
    MemoryPaIndex, NoPaIndex, PaIndex, PrefixSet, RequestRouting, Router, Table, TableError,
    BUNDLED_TABLE,
};
use std::collections::BTreeSet;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn router() -> Router {
    Router::bundled().expect("bundled table")
}

fn eligibility(router: &Router) -> EligibilityFile {
    EligibilityFile::load(
        &fixtures().join("routing/eligibility.csv"),
        &router.table().benefit_plans,
    )
    .expect("fixture eligibility")
}

/// Routes a fixture with the fixture eligibility file and `pa`; asserts the file is valid.
fn route_with(name: &str, pa: &dyn PaIndex) -> Vec<RequestRouting> {
    let router = router();
    let elig = eligibility(&router);
    let data = std::fs::read(fixtures().join("routing").join(name)).expect(name);
    let sets = route_file(
        &router,
        &data[..],
        &Lookups {
            eligibility: &elig,
            pa_index: pa,
            providers: None,
        },
    )
    .expect("read");
    assert_eq!(sets.len(), 1, "{name}: one transaction set");
    assert_eq!(sets[0].errors, 0, "{name}: the fixture validates");
    sets.into_iter().flat_map(|s| s.requests).collect()
}

fn route(name: &str) -> RequestRouting {
    let mut r = route_with(name, &NoPaIndex);
    assert_eq!(r.len(), 1, "{name}: one request");
    r.remove(0)
}

fn line<'a>(r: &'a RequestRouting, label: &str) -> &'a Decision {
    &r.routed
        .lines
        .iter()
        .find(|l| l.line == label)
        .unwrap_or_else(|| panic!("line {label}"))
        .decision
}

/// The single work item of a 278 (or the claim queue of an 837) as (vendor, pa_type, action).
fn target(r: &RequestRouting) -> (String, String, Action) {
    if let Some(c) = &r.claim_route {
        return (c.vendor.clone(), c.pa_type.clone(), c.action);
    }
    assert_eq!(r.work_items.len(), 1, "one work item: {:#?}", r.work_items);
    let w = &r.work_items[0];
    (w.vendor.clone(), w.pa_type.clone(), w.action)
}

fn is(r: &RequestRouting, vendor: &str, pa_type: &str) {
    let (v, p, a) = target(r);
    assert_eq!(
        (v.as_str(), p.as_str()),
        (vendor, pa_type),
        "{:#?}",
        r.routed
    );
    assert_eq!(a, Action::Route);
}

#[test]
fn example_01_dme() {
    let r = route("ex01-dme.x12");
    is(&r, "csra", "dme");
    let d = line(&r, "5");
    assert_eq!(d.rule, "dme");
    assert_eq!(d.decided_by, "any.proc.HC");
    assert!(
        r.routed.flags.is_empty(),
        "plan known: {:?}",
        r.routed.flags
    );
}

#[test]
fn example_02_split_dme_and_therapies() {
    let r = route("ex02-split-dme-therapies.x12");
    assert_eq!(r.work_items.len(), 2);
    let dme = &r.work_items[0];
    assert_eq!((dme.vendor.as_str(), dme.pa_type.as_str()), ("csra", "dme"));
    assert_eq!(dme.services, ["5", "7"], "lines 1 and 3 (HL 5 and 7)");
    let ost = &r.work_items[1];
    assert_eq!(
        (ost.vendor.as_str(), ost.pa_type.as_str()),
        ("ccme", "outpatient_specialized_therapies")
    );
    assert_eq!(ost.services, ["6"]);
    // the default-rule line joined the first group, flagged
    assert_eq!(line(&r, "7").rule, "default");
    assert!(dme.flags.contains(&"default_route".to_string()));
    // both items carry the same context and correlation, and only their own 2000F loops
    assert_eq!(dme.context_spans, ost.context_spans);
    assert_eq!(dme.correlation.bht03, "RT6002");
    assert_eq!(dme.correlation.trn.as_deref(), Some("RT6002EV"));
    assert_eq!(dme.service_spans.len(), 2);
    assert_eq!(ost.service_spans.len(), 1);
    let ctx_end = dme.context_spans.iter().map(|s| s.1).max().unwrap();
    let (first, _) = dme.service_spans[0];
    assert!(dme.context_spans[0].0 == 0 && first <= ctx_end);
    for (a, b) in dme.service_spans.iter().chain(&ost.service_spans) {
        assert!(a < b);
        assert!(!dme
            .context_spans
            .iter()
            .any(|(c, d)| c < b && a < d && *d - *c < 3 && *c != 0));
    }
}

#[test]
fn example_03_pcs() {
    let r = route("ex03-pcs.x12");
    is(&r, "liberty", "pcs");
    assert!(
        line(&r, "5").flags.is_empty(),
        "modifier HB meets expect.modifier"
    );
}

#[test]
fn example_04_out_of_state_ambulance() {
    let r = route("ex04-oos-ambulance.x12");
    is(&r, "csra", "out_of_state_ambulance");
    assert_eq!(line(&r, "5").rule, "ambulance.out_of_state");
}

#[test]
fn example_05_out_of_state_medical_surgical_by_date() {
    let r = route("ex05a-2022-oos-med-surg.x12");
    is(&r, "dma", "out_of_state_medical_surgical");
    let d = line(&r, "5");
    assert_eq!(d.rule, "oos_medical_surgical.dma");
    assert!(d.flags.contains(&"border_unverified".to_string()));
    let r = route("ex05b-2023-oos-med-surg.x12");
    is(&r, "csra", "out_of_state_medical_surgical");
    let d = line(&r, "5");
    assert_eq!(d.rule, "oos_medical_surgical.gdit");
    // the DMA rule was tried and failed on its window
    let dma = d
        .trace
        .iter()
        .find(|s| s.rule == "oos_medical_surgical.dma")
        .unwrap();
    assert!(!dma.matched);
    assert_eq!(dma.key, "effective");
}

#[test]
fn example_06_transplant_whole_request() {
    let r = route("ex06-transplant.x12");
    is(&r, "dma", "transplant");
    let d = r.routed.request.as_ref().expect("pass 1 decided");
    assert_eq!(d.rule, "transplant");
    assert_eq!(d.scope, "request");
    assert_eq!(r.work_items[0].services, ["5", "6"], "never split");
    assert!(r
        .routed
        .lines
        .iter()
        .all(|l| l.decision.rule == "transplant"));
}

#[test]
fn example_07_radiology_then_no_pa() {
    let r = route("ex07a-2019-radiology.x12");
    is(&r, "medsolutions", "radiology");
    let r = route("ex07b-2022-radiology.x12");
    let (v, p, a) = target(&r);
    assert_eq!(
        (v.as_str(), p.as_str(), a),
        ("none", "none", Action::NoPaRequired)
    );
    assert_eq!(line(&r, "5").rule, "radiology.no_pa");
}

#[test]
fn example_08_hospice_837i() {
    let r = route("ex08-hospice.x12");
    is(&r, "dma", "hospice");
    assert_eq!(r.transaction.name(), "837I");
}

#[test]
fn example_09_orthodontic_837d() {
    let r = route("ex09-orthodontic.x12");
    is(&r, "csra", "orthodontic");
    assert!(line(&r, "1").flags.is_empty(), "age 14 meets expect.age_lt");
}

#[test]
fn example_10_behavioral_health_837p() {
    let r = route("ex10-behavioral-health.x12");
    is(&r, "beacon", "behavioral_health");
}

#[test]
fn example_11_state_funded_reject_names_the_lme_mco() {
    let r = route("ex11-lme-mco-reject.x12");
    let (v, p, a) = target(&r);
    assert_eq!(
        (v.as_str(), p.as_str(), a),
        ("lme_mco", "behavioral_health_state_funded", Action::Reject)
    );
    let d = r.routed.request.as_ref().unwrap();
    assert_eq!(d.rule, "plan.dmh_state_funded");
    assert_eq!(d.decided_by, "when.benefit_plan");
    assert!(
        d.vendor_name
            .contains("Local Management Entity / Managed Care Organization"),
        "{}",
        d.vendor_name
    );
}

#[test]
fn example_12_sickle_cell() {
    let r = route("ex12-sickle-cell.x12");
    is(&r, "dph", "sickle_cell_program");
    let d = r.routed.request.as_ref().unwrap();
    assert!(
        d.flags.is_empty(),
        "D5700 and age 27 meet the expectations: {:?}",
        d.flags
    );
}

#[test]
fn extra_therapeutic_leave_837i() {
    let r = route("extra-a-therapeutic-leave.x12");
    is(&r, "csra", "therapeutic_leave");
    assert!(
        line(&r, "1").flags.is_empty(),
        "bill type 21 meets expect.bill_type"
    );
}

#[test]
fn extra_aba_is_behavioral_health_not_ccme() {
    let r = route("extra-b-aba.x12");
    is(&r, "beacon", "behavioral_health");
    let ost = line(&r, "5")
        .trace
        .iter()
        .find(|s| s.rule == "outpatient_specialized_therapies")
        .unwrap();
    assert!(!ost.matched);
    assert_eq!(
        ost.key, "unless.proc.HC",
        "ABA 97151-97158 is excluded from CCME"
    );
}

#[test]
fn extra_out_of_state_dme_stays_dme() {
    let r = route("extra-c-dme-out-of-state.x12");
    is(&r, "csra", "dme");
    assert!(line(&r, "5").flags.is_empty());
}

#[test]
fn managed_care_member_is_rejected_to_the_health_plan() {
    let r = route("php-managed-care-reject.x12");
    let (v, p, a) = target(&r);
    assert_eq!(
        (v.as_str(), p.as_str(), a),
        ("php", "managed_care", Action::Reject)
    );
    assert!(r
        .routed
        .request
        .as_ref()
        .unwrap()
        .vendor_name
        .contains("health plan"));
}

#[test]
fn synthetic_line_when_no_service_level() {
    let r = route("synthetic-optical.x12");
    is(&r, "csra", "optical");
    assert_eq!(r.routed.lines.len(), 1);
    assert_eq!(r.routed.lines[0].line, "event");
    assert!(r.work_items[0].services.is_empty());
}

#[test]
fn unknown_plan_means_plan_gates_cannot_fire() {
    let router = router();
    let data = std::fs::read(fixtures().join("routing/ex12-sickle-cell.x12")).unwrap();
    let sets = route_file(&router, &data[..], &Lookups::default()).unwrap();
    let r = &sets[0].requests[0];
    assert!(r.routed.request.is_none(), "no plan gate fired");
    assert!(r.routed.flags.contains(&"plan_unverified".to_string()));
    let d = line(r, "5");
    assert_eq!(d.rule, "default");
    assert!(d.flags.contains(&"plan_unverified".to_string()));
    assert!(d.flags.contains(&"needs_manual_review".to_string()));
}

#[test]
fn follow_ups_go_to_the_issuing_vendor() {
    let mut pa = MemoryPaIndex::default();
    pa.insert("PA20230001", "liberty", "pcs");
    pa.insert("PA20230002", "ccme", "outpatient_specialized_therapies");
    let r = route_with("sticky-extension.x12", &pa).remove(0);
    let d = r.routed.request.as_ref().expect("step 0 decided");
    assert_eq!(
        (d.vendor.as_str(), d.rule.as_str()),
        ("liberty", "pa_index")
    );
    assert_eq!(target(&r).0, "liberty");
    // an unknown number falls through to the rules, flagged
    let r = route_with("sticky-unknown.x12", &pa).remove(0);
    assert!(r.routed.request.is_none());
    assert_eq!(target(&r).1, "dme");
    assert!(r.routed.flags.contains(&"prior_auth_unknown".to_string()));
    // an 837 quoting a known PA (REF*G1) goes to that vendor
    let r = route_with("sticky-claim-medicare.x12", &pa).remove(0);
    let c = r.claim_route.as_ref().unwrap();
    assert_eq!(c.vendor, "ccme");
    assert_eq!(c.rule, "pa_index");
}

#[test]
fn medicare_primary_is_flagged_never_rejected() {
    let r = route("sticky-claim-medicare.x12");
    assert!(r.routed.flags.contains(&"medicare_primary".to_string()));
    is(&r, "beacon", "behavioral_health");
}

#[test]
fn every_vendor_is_reached_by_a_fixture() {
    let router = router();
    let mut pa = MemoryPaIndex::default();
    pa.insert("PA20230001", "liberty", "pcs");
    let mut reached = BTreeSet::new();
    for entry in std::fs::read_dir(fixtures().join("routing")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "x12") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            for r in route_with(&name, &pa) {
                for l in &r.routed.lines {
                    reached.insert(l.decision.vendor.clone());
                }
            }
        }
    }
    let all: BTreeSet<String> = router
        .table()
        .vendors
        .iter()
        .map(|v| v.id.clone())
        .collect();
    assert_eq!(reached, all);
}

#[test]
fn valid_278_requests_route_to_their_pa_type() {
    let dir = fixtures().join("valid/278");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return; // written by the 278 fixture work; nothing to check before it lands
    };
    let router = router();
    let mut seen = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "x12") {
            continue;
        }
        let want = path.file_stem().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(&path).unwrap();
        // plan-gated PA types come from eligibility, not from the file: the member is
        // given the plan the PA type needs; everyone else is Medicaid Direct
        let plan = match want.as_str() {
            "managed_care" => "PHP_STANDARD",
            "behavioral_health_state_funded" => "DMH_STATE_FUNDED",
            "sickle_cell_program" => "DPH_SICKLE_CELL",
            "infant_toddler_program" => "DPH_ITP",
            _ => "MEDICAID_DIRECT",
        };
        let elig = |_: &str, _: gatewayd::route::Date| Some(plan.to_string());
        let sets = route_file(
            &router,
            &data[..],
            &Lookups {
                eligibility: &elig,
                ..Lookups::default()
            },
        )
        .unwrap();
        assert!(
            sets.iter().all(|s| s.errors == 0),
            "{}: valid",
            path.display()
        );
        let items: usize = sets
            .iter()
            .flat_map(|s| &s.requests)
            .map(|r| r.work_items.len())
            .sum();
        assert!(items > 0, "{}: routed", path.display());
        for s in &sets {
            for r in &s.requests {
                for w in &r.work_items {
                    assert_eq!(w.pa_type, want, "{}: {:#?}", path.display(), r.routed);
                }
            }
        }
        seen += 1;
    }
    assert!(seen > 0 || dir.read_dir().is_err());
}

// ---- the table: every error kind names the rule and the key ----

fn table_with(from: &str, to: &str) -> Result<Table, TableError> {
    assert!(BUNDLED_TABLE.contains(from), "{from}");
    Table::parse(&BUNDLED_TABLE.replacen(from, to, 1))
}

#[test]
fn bundled_table_loads() {
    let t = Table::bundled().unwrap();
    assert_eq!(t.rules.len(), 32);
    assert_eq!(t.vendors.len(), 10);
}

#[test]
fn table_unknown_key_in_a_rule() {
    let e = table_with(
        "any.proc.AD = [\"D8000-D8999\"]",
        "any.proc.AD = [\"D8000-D8999\"]\nany.colour = [\"red\"]",
    )
    .unwrap_err();
    assert_eq!(
        e,
        TableError::UnknownKey {
            context: "rule orthodontic".into(),
            key: "any.colour".into()
        }
    );
    let e = table_with(
        "any.proc.AD = [\"D8000-D8999\"]",
        "any.proc.XX = [\"D8000-D8999\"]",
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "rule orthodontic: unknown key `any.proc.XX`");
    let e = table_with("id = \"orthodontic\"", "id = \"orthodontic\"\nweight = 3").unwrap_err();
    assert_eq!(e.to_string(), "rule orthodontic: unknown key `weight`");
    let e = table_with("id = \"liberty\"", "id = \"liberty\"\nwebsite = \"x\"").unwrap_err();
    assert_eq!(e.to_string(), "vendor liberty: unknown key `website`");
}

#[test]
fn table_unknown_vendor() {
    let e = table_with("vendor = \"liberty\"", "vendor = \"libertee\"").unwrap_err();
    assert_eq!(
        e,
        TableError::UnknownVendor {
            rule: "pcs".into(),
            vendor: "libertee".into()
        }
    );
    let e = table_with("pa_type = \"pcs\"", "pa_type = \"personal_care\"").unwrap_err();
    assert!(
        matches!(e, TableError::UnknownPaType { ref rule, .. } if rule == "pcs"),
        "{e}"
    );
}

#[test]
fn table_unknown_set() {
    let e = table_with("any.set = [\"car_t\"]", "any.set = [\"car_tt\"]").unwrap_err();
    assert_eq!(
        e.to_string(),
        "rule transplant.car_t.dma: key `any.set`: unknown set `car_tt`"
    );
}

#[test]
fn table_duplicate_priority() {
    let e = table_with("priority = 430", "priority = 420").unwrap_err();
    assert_eq!(
        e,
        TableError::DuplicatePriority {
            rule: "pcs".into(),
            other: "long_term_care".into(),
            priority: 420
        }
    );
}

#[test]
fn table_bad_ranges() {
    let e = table_with("\"D8000-D8999\"", "\"D8000-D899\"").unwrap_err();
    assert_eq!(
        e.to_string(),
        "rule orthodontic: key `any.proc.AD`: bad range `D8000-D899`: the ends differ in length"
    );
    let e = table_with("\"D8000-D8999\"", "\"D8999-D8000\"").unwrap_err();
    assert!(
        matches!(e, TableError::BadRange { ref context, ref key, reason, .. }
        if context == "rule orthodontic" && key == "any.proc.AD" && reason.contains("after")),
        "{e}"
    );
}

#[test]
fn table_bad_dates() {
    let e = table_with(
        "effective = { to = \"2022-08-31\" }",
        "effective = { to = \"2022-02-30\" }",
    )
    .unwrap_err();
    assert_eq!(
        e,
        TableError::BadDate {
            context: "rule transplant.car_t.dma".into(),
            key: "effective.to".into(),
            value: "2022-02-30".into()
        }
    );
    let e = table_with(
        "effective = { to = \"2022-08-31\" }",
        "effective = { from = \"2023-01-01\", to = \"2022-08-31\" }",
    )
    .unwrap_err();
    assert!(
        matches!(e, TableError::BadDate { ref key, .. } if key == "effective"),
        "{e}"
    );
}

#[test]
fn table_unknown_benefit_plan() {
    let e = table_with(
        "when.benefit_plan = [\"DPH_ITP\"]",
        "when.benefit_plan = [\"DPH_ITP2\"]",
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "rule plan.dph_itp: key `when.benefit_plan`: unknown benefit plan `DPH_ITP2`"
    );
}

#[test]
fn table_other_errors() {
    assert!(matches!(
        Table::parse("rule = ["),
        Err(TableError::Syntax(_))
    ));
    let e = table_with("id = \"pdn\"", "id = \"pcs\"").unwrap_err();
    assert!(
        matches!(e, TableError::DuplicateId { ref id, .. } if id == "pcs"),
        "{e}"
    );
    let e = table_with("scope = \"line\"", "scope = \"lane\"").unwrap_err();
    assert!(
        matches!(e, TableError::BadValue { ref context, .. } if context == "rule plan.lme_mco_waiver_bh"),
        "{e}"
    );
    let e = table_with(
        "when.transport_location = \"out_of_state\"",
        "when.transport_location = \"abroad\"",
    )
    .unwrap_err();
    assert!(
        matches!(e, TableError::BadValue { ref key, .. } if key == "when.transport_location"),
        "{e}"
    );
    let e = table_with("expect.age_ge = 19", "expect.age_ge = \"19\"").unwrap_err();
    assert!(
        matches!(e, TableError::BadValue { ref key, .. } if key == "expect.age_ge"),
        "{e}"
    );
}

#[test]
fn a_replacement_table_is_used() {
    // the same table with the PCS rule moved to CCME's vendor would be refused: the PA
    // type belongs to Liberty; moving hearing aids ahead of DME is accepted and changes nothing
    let t = table_with("priority = 260", "priority = 265").unwrap();
    let router = Router::new(t);
    let data = std::fs::read(fixtures().join("routing/ex01-dme.x12")).unwrap();
    let sets = route_file(&router, &data[..], &Lookups::default()).unwrap();
    assert_eq!(sets[0].requests[0].work_items[0].pa_type, "dme");
}

// ---- eligibility file ----

fn elig(text: &str) -> Result<EligibilityFile, EligibilityError> {
    EligibilityFile::parse(text, &router().table().benefit_plans)
}

#[test]
fn eligibility_errors_name_the_line() {
    const H: &str = "member_id,benefit_plan,from,to,dob\n";
    assert_eq!(
        elig("id,plan\n").unwrap_err(),
        EligibilityError::Header { line: 1 }
    );
    assert_eq!(
        elig(&format!(
            "{H}M1,MPW,2023-01-01,,1990-01-01\nM2,MPW,2023-01-01\n"
        ))
        .unwrap_err(),
        EligibilityError::Columns { line: 3, found: 3 }
    );
    assert_eq!(
        elig(&format!("{H}M1,GOLD,2023-01-01,,1990-01-01\n")).unwrap_err(),
        EligibilityError::UnknownPlan {
            line: 2,
            plan: "GOLD".into()
        }
    );
    let e = elig(&format!("# comment\n{H}\nM1,MPW,2023-13-01,,1990-01-01\n")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "eligibility file line 4: column `from`: bad date `2023-13-01`"
    );
    let e = elig(&format!("{H}M1,MPW,2023-01-01,,1990-02-30\n")).unwrap_err();
    assert!(
        matches!(e, EligibilityError::BadDate { line: 2, column: "dob", ref value } if value.is_empty()),
        "the date of birth is not echoed"
    );
    assert_eq!(
        elig(&format!("{H}M1,MPW,2023-02-01,2023-01-01,1990-01-01\n")).unwrap_err(),
        EligibilityError::Window { line: 2 }
    );
    assert_eq!(
        elig(&format!("{H},MPW,2023-02-01,,1990-01-01\n")).unwrap_err(),
        EligibilityError::EmptyMember { line: 2 }
    );
}

// ---- compiled matchers agree with the plain definition ----

#[test]
fn compiled_sets_agree_with_a_linear_scan() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet = b"0123456789ABCDE";
    let code = |len: usize, next: &mut dyn FnMut() -> u64| {
        let s: String = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize] as char)
            .collect();
        Code::new(&s).unwrap()
    };
    for _ in 0..50 {
        let mut ranges = Vec::new();
        for _ in 0..(next() % 20) {
            let len = 3 + (next() % 3) as usize;
            let (a, b) = (code(len, &mut next), code(len, &mut next));
            ranges.push(if a <= b { (a, b) } else { (b, a) });
        }
        let set = CodeSet::new(ranges.clone());
        let prefixes: Vec<Code> = (0..(next() % 10))
            .map(|_| code(1 + (next() % 3) as usize, &mut next))
            .collect();
        let pset = PrefixSet::new(prefixes.clone(), false);
        for _ in 0..200 {
            let c = code(3 + (next() % 3) as usize, &mut next);
            let linear = ranges.iter().any(|(a, b)| {
                a.len() == c.len() && a.packed() <= c.packed() && c.packed() <= b.packed()
            });
            assert_eq!(set.contains(&c), linear, "{c} in {ranges:?}");
            let plinear = prefixes
                .iter()
                .any(|p| c.as_bytes().starts_with(p.as_bytes()));
            assert_eq!(pset.contains(&c), plinear, "{c} prefixes {prefixes:?}");
        }
    }
}

// ---- the command line ----

#[test]
fn cli_route_json_and_text() {
    let x12 = env!("CARGO_BIN_EXE_x12");
    let file = fixtures().join("routing/ex02-split-dme-therapies.x12");
    let elig = fixtures().join("routing/eligibility.csv");
    let out = std::process::Command::new(x12)
        .args(["route", "--format", "json", "--eligibility"])
        .arg(&elig)
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["control_number"], "0001");
    let req = &v["requests"][0];
    assert_eq!(req["transaction"], "278");
    assert_eq!(req["id"], "RT6002");
    assert_eq!(req["lines"][0]["decision"]["rule"], "dme");
    assert_eq!(req["lines"][0]["decision"]["action"], "route");
    assert_eq!(req["work_items"][1]["vendor"], "ccme");
    assert!(
        req["lines"][0]["decision"]["trace"]
            .as_array()
            .unwrap()
            .len()
            > 3
    );
    let text = std::process::Command::new(x12)
        .args(["route"])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("line 6: ccme / outpatient_specialized_therapies  route  rule=outpatient_specialized_therapies"), "{text}");
    assert!(text.contains("plan_unverified"), "{text}");
    // a bad table is a start-up error naming the rule and key
    let dir = std::env::temp_dir().join(format!("ncx12-route-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("contractors.toml");
    std::fs::write(
        &bad,
        BUNDLED_TABLE.replacen("priority = 430", "priority = 420", 1),
    )
    .unwrap();
    let out = std::process::Command::new(x12)
        .args(["route", "--contractors"])
        .arg(&bad)
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rule pcs: key `priority`"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- semantics on hand-built features (the files above cover extraction) ----

fn features(
    t: gatewayd::route::Transaction,
    date: &str,
) -> (gatewayd::route::Request, gatewayd::route::Line) {
    let mut req = gatewayd::route::Request::new(t);
    req.date = gatewayd::route::Date::parse(date);
    req.benefit_plan = router().plan_index("MEDICAID_DIRECT");
    let line = gatewayd::route::Line {
        date: req.date,
        ..Default::default()
    };
    (req, line)
}

fn rule_of(
    router: &Router,
    req: &gatewayd::route::Request,
    line: &gatewayd::route::Line,
) -> String {
    let out = router.route_line(req, line);
    router.table().rules[out.rule.expect("a rule")].id.clone()
}

#[test]
fn missing_input_is_no_match() {
    use gatewayd::route::{Code, Transaction};
    let router = router();
    // no facility code: `unless.pos` cannot exempt, so 2019 imaging still needs PA
    let (req, mut line) = features(Transaction::X278, "2019-05-01");
    line.hc = Code::new("70553");
    assert_eq!(rule_of(&router, &req, &line), "radiology");
    // no date of service: windowed rules cannot fire
    let (mut req, mut line) = features(Transaction::X278, "2019-05-01");
    req.date = None;
    line.date = None;
    line.hc = Code::new("70553");
    assert_eq!(rule_of(&router, &req, &line), "default");
    // no transport locations: `when.transport_location` fails, plain ambulance
    let (req, mut line) = features(Transaction::X278, "2023-03-01");
    line.hc = Code::new("A0428");
    assert_eq!(rule_of(&router, &req, &line), "ambulance");
    // no servicing location: not out of state
    let (req, mut line) = features(Transaction::X278, "2023-03-01");
    line.hc = Code::new("27447");
    assert_eq!(rule_of(&router, &req, &line), "medical_surgical");
    // revenue codes compare left-padded
    let (req, mut line) = features(Transaction::I837, "2023-03-01");
    line.rev = Code::revenue("183");
    assert_eq!(rule_of(&router, &req, &line), "therapeutic_leave");
}

#[test]
fn icd10_pcs_prefix_decides_a_transplant_request() {
    use gatewayd::route::{Code, Extracted, Transaction};
    let router = router();
    let (request, line) = features(Transaction::X278, "2023-03-01");
    let mut pcs = line.clone();
    pcs.icd10pcs = Code::new("0FY00Z0");
    let ex = Extracted {
        request,
        request_line: line.clone(),
        lines: vec![line, pcs],
        synthetic: false,
    };
    let mut steps = Vec::new();
    let out = router.route_request_traced(&ex, &mut steps);
    assert_eq!(router.table().rules[out.rule.unwrap()].id, "transplant");
    assert_eq!(
        steps.last().unwrap().on_line,
        Some(1),
        "matched on the PCS line"
    );
    // a diagnosis prefix is not a procedure
    let mut ex2 = ex.clone();
    ex2.lines[1].icd10pcs = Code::new("0FT00ZZ");
    assert!(router
        .route_request_traced(&ex2, &mut Vec::new())
        .rule
        .is_none());
}

#[test]
fn table_unknown_key_in_a_set() {
    let e = table_with("[sets.car_t]\n", "[sets.car_t]\ncolour = [\"red\"]\n").unwrap_err();
    assert_eq!(e.to_string(), "sets.car_t: unknown key `colour`");
}

// ---- the provider file: border flags and provider validation ----

fn providers() -> gatewayd::route::ProviderFile {
    gatewayd::route::ProviderFile::load(&fixtures().join("routing/providers.csv"))
        .expect("fixture provider file")
}

fn route_full(name: &str, with_providers: bool) -> RequestRouting {
    let router = router();
    let elig = eligibility(&router);
    let file = providers();
    let data = std::fs::read(fixtures().join("routing").join(name)).unwrap();
    let lookups = Lookups {
        eligibility: &elig,
        providers: with_providers.then_some(&file),
        ..Lookups::default()
    };
    let mut sets = route_file(&router, &data[..], &lookups).unwrap();
    sets.remove(0).requests.remove(0)
}

#[test]
fn border_flag_comes_from_the_provider_file() {
    // Danville VA: out of state by the state alone, in-state by the 40-mile border rule
    let r = route_full("border-provider-va.x12", false);
    let d = line(&r, "5");
    assert_eq!(d.rule, "oos_medical_surgical.gdit");
    assert!(d.flags.contains(&"border_unverified".to_string()));
    let r = route_full("border-provider-va.x12", true);
    let d = line(&r, "5");
    assert_eq!(d.rule, "medical_surgical");
    assert!(d.flags.is_empty(), "{:?}", d.flags);
    // Nashville TN is on file as not border: out of state, verified
    let r = route_full("ex05b-2023-oos-med-surg.x12", true);
    let d = line(&r, "5");
    assert_eq!(d.rule, "oos_medical_surgical.gdit");
    assert!(!d.flags.contains(&"border_unverified".to_string()));
}

#[test]
fn provider_validation_flags_and_never_reroutes() {
    let without = route_full("ex01-dme.x12", false);
    let with = route_full("ex01-dme.x12", true);
    assert_eq!(target(&without), target(&with), "never a reroute");
    assert!(without.provider_findings.is_empty());
    let f = &with.provider_findings;
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(
        (f[0].party, f[0].loop_id.as_str(), f[0].check),
        ("rendering", "2010EA", "taxonomy_not_for_service")
    );
    assert!(with
        .routed
        .flags
        .contains(&"provider_validation_failed".to_string()));
    assert!(with.work_items[0]
        .flags
        .contains(&"provider_validation_failed".to_string()));
    // an out-of-state DME supplier on file with a DME taxonomy passes
    let r = route_full("extra-c-dme-out-of-state.x12", true);
    assert!(r.provider_findings.is_empty(), "{:#?}", r.provider_findings);
    // JSON names are stable
    let v = serde_json::to_value(&with.provider_findings[0]).unwrap();
    assert_eq!(v["loop"], "2010EA");
    assert_eq!(v["check"], "taxonomy_not_for_service");
}

#[test]
fn an_inactive_taxonomy_is_a_snip7_issue_with_999_coordinates() {
    use x12_core::schema::LoopTree;
    use x12_core::{Item, Reader};
    let r = route_full("ex08-hospice.x12", true);
    let f = &r.provider_findings;
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(
        (f[0].party, f[0].loop_id.as_str(), f[0].check),
        ("billing", "2010AA", "taxonomy_inactive")
    );
    assert_eq!(target(&r).1, "hospice", "still routed");
    let validator = gatewayd::guides::validator();
    let data = std::fs::read(fixtures().join("routing/ex08-hospice.x12")).unwrap();
    let mut tree = LoopTree::default();
    for item in Reader::new(&data[..]) {
        if let Ok(Item::Transaction(set)) = item {
            let (guide, _) = validator.check_set(&set, &mut tree);
            let issue = f[0].issue(&set, &tree, guide.unwrap());
            assert_eq!(issue.snip, 7);
            let ik3 = issue.ik3.as_ref().unwrap();
            assert_eq!(ik3.segment_id, "PRV");
            assert_eq!(ik3.loop_id.as_deref(), Some("2000A"));
            let ik4 = issue.ik4.as_ref().unwrap();
            assert_eq!((ik4.position, ik4.code), (3, "7"));
            assert_eq!(ik4.value.as_deref(), Some("282N00000X"));
        }
    }
}

#[test]
fn provider_file_errors_name_the_line() {
    use gatewayd::route::{ProviderError, ProviderFile};
    const H: &str = "npi,taxonomy,location,state,border,from,to\n";
    assert_eq!(
        ProviderFile::parse("npi,taxonomy\n").unwrap_err(),
        ProviderError::Header { line: 1 }
    );
    assert_eq!(
        ProviderFile::parse(&format!("{H}1234567893,207Q00000X,27601,NC,N\n")).unwrap_err(),
        ProviderError::Columns { line: 2, found: 5 }
    );
    let bad = |row: &str| ProviderFile::parse(&format!("# c\n{H}{row}\n")).unwrap_err();
    let e = bad("1234567890,207Q00000X,27601,NC,N,2020-01-01,");
    assert_eq!(
        e.to_string(),
        "provider file line 3: column `npi`: bad value `1234567890`: 10 digits with a valid check digit"
    );
    for (row, column) in [
        ("1234567893,207Q0000,27601,NC,N,2020-01-01,", "taxonomy"),
        ("1234567893,207Q00000X,2760,NC,N,2020-01-01,", "location"),
        ("1234567893,207Q00000X,27601,XX,N,2020-01-01,", "state"),
        ("1234567893,207Q00000X,27601,NC,maybe,2020-01-01,", "border"),
        ("1234567893,207Q00000X,27601,NC,N,2020-31-01,", "from"),
        ("1234567893,207Q00000X,27601,NC,N,2020-01-01,soon", "to"),
    ] {
        assert!(
            matches!(bad(row), ProviderError::BadValue { line: 3, column: c, .. } if c == column),
            "{row}"
        );
    }
    assert_eq!(
        bad("1234567893,207Q00000X,27601,NC,N,2020-01-01,2019-01-01"),
        ProviderError::Window { line: 3 }
    );
}

// ---- the gateway's own 278 answers ----

/// Routes a 278 fixture and writes the immediate answer; returns the response text, or
/// `None` when the request is forwarded. The response is checked against the response table.
fn answer_for(name: &str) -> Option<String> {
    use x12_278::{respond, Responder};
    use x12_core::schema::LoopTree;
    use x12_core::{Item, Reader, Summary};
    let router = router();
    let elig = eligibility(&router);
    let validator = gatewayd::guides::validator();
    let data = std::fs::read(fixtures().join("routing").join(name)).unwrap();
    let mut tree = LoopTree::default();
    let lookups = Lookups {
        eligibility: &elig,
        ..Lookups::default()
    };
    for item in Reader::new(&data[..]) {
        let Ok(Item::Transaction(set)) = item else {
            continue;
        };
        let (guide, _) = validator.check_set(&set, &mut tree);
        let guide = guide.unwrap();
        let routed = gatewayd::route::route_set(&router, &set, &tree, guide, &lookups);
        let decisions: Vec<_> = routed
            .iter()
            .map(gatewayd::route::respond::immediate_answer)
            .collect::<Option<Vec<_>>>()?;
        let who = Responder {
            control_number: "0001".into(),
            date: "20230301".into(),
            time: "1200".into(),
            originator: "1561234567".into(),
            trace_prefix: "NCX".into(),
            rejections: Vec::new(),
        };
        let body = respond(&set, &tree, guide, &x12_278::response(), &decisions, &who).unwrap();
        let mut interchange = b"ISA*00*          *00*          *ZZ*NCMEDICAID     *ZZ*CLEARINGHOUSE  *230301*1200*^*00501*000000777*0*T*:~GS*HI*NCMEDICAID*CLEARINGHOUSE*20230301*1200*777*X*005010X217~".to_vec();
        interchange.extend_from_slice(&body);
        interchange.extend_from_slice(b"GE*1*777~IEA*1*000000777~");
        let mut s = Summary::new(1000, Default::default()).with_validator(validator.clone());
        for item in Reader::new(&interchange[..]) {
            s.add(&item.unwrap());
        }
        let text = String::from_utf8_lossy(&interchange).into_owned();
        assert!(s.is_valid(), "{text}\n{:#?}", s.issues);
        assert_eq!(s.guides.get("278RESP 005010X217"), Some(&1), "{text}");
        return Some(text);
    }
    None
}

#[test]
fn rejects_are_answered_contact_payer_naming_where_to_go() {
    let text = answer_for("ex11-lme-mco-reject.x12").expect("answered, not forwarded");
    assert_eq!(
        text.matches("HCR*CT").count(),
        2,
        "event and service: {text}"
    );
    assert!(
        text.contains("MSG*Not reviewed through NCTracks. Contact Local Management Entity / Managed Care Organization (by county)."),
        "{text}"
    );
    let text = answer_for("php-managed-care-reject.x12").expect("answered");
    assert!(text.contains("HCR*CT"), "{text}");
    assert!(
        text.contains("Contact NC Medicaid Managed Care health plan"),
        "{text}"
    );
}

#[test]
fn no_pa_required_is_answered_na() {
    let text = answer_for("ex07b-2022-radiology.x12").expect("answered");
    assert_eq!(text.matches("HCR*NA").count(), 2, "{text}");
    assert!(!text.contains("HCR*A4"), "{text}");
}

#[test]
fn forwarded_requests_get_no_immediate_answer() {
    assert!(answer_for("ex01-dme.x12").is_none());
    assert!(answer_for("ex02-split-dme-therapies.x12").is_none());
}

#[test]
fn routing_never_panics_on_any_fixture() {
    // every file under fixtures/ (valid, invalid, public samples) goes through extraction
    // and evaluation without a panic, whatever its validation findings
    let router = router();
    let mut stack = vec![fixtures()];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if !matches!(ext, "x12" | "txt" | "edi" | "837" | "837i") {
                continue;
            }
            let data = std::fs::read(&path).unwrap();
            let _ = route_file(&router, &data[..], &Lookups::default());
            files += 1;
        }
    }
    assert!(files > 50, "{files} files");
}

#[test]
fn a_follow_up_without_a_previous_authorization_is_flagged() {
    use gatewayd::route::{Code, Extracted, Transaction};
    let router = router();
    let (mut request, mut line) = features(Transaction::X278, "2023-03-01");
    request.certification_type = Code::new("3");
    line.hc = Code::new("E0260");
    let ex = Extracted {
        request,
        request_line: line.clone(),
        lines: vec![line],
        synthetic: false,
    };
    let (_, routed) = router.route(ex.clone(), &Lookups::default());
    assert!(routed.flags.contains(&"prior_auth_unknown".to_string()));
    assert_eq!(
        routed.lines[0].decision.pa_type, "dme",
        "falls through to the rules"
    );
    let mut initial = ex;
    initial.request.certification_type = Code::new("I");
    let (_, routed) = router.route(initial, &Lookups::default());
    assert!(!routed.flags.contains(&"prior_auth_unknown".to_string()));
}

// ---- eligibility over a date range (the 277CA edit on the dates of service) ----

/// An eligibility file for member NCRT0101 with `spans` (from, to; to empty = open),
/// plans alternating, NCRT0102 always covered.
fn spans_file(spans: &[(&str, &str)]) -> EligibilityFile {
    let mut text = String::from("member_id,benefit_plan,from,to,dob\n");
    for (i, (from, to)) in spans.iter().enumerate() {
        let plan = if i % 2 == 0 { "MEDICAID_DIRECT" } else { "MPW" };
        text.push_str(&format!("NCRT0101,{plan},{from},{to},1980-01-01\n"));
    }
    text.push_str("NCRT0102,MEDICAID_DIRECT,2000-01-01,,1980-01-01\n");
    elig(&text).unwrap()
}

/// The eligibility issues of the 277CA fixture with claim ACK0001's lines dated `dtp03`
/// (`D8` or `RD8` by its form), under `e`: their messages.
fn range_issues(dtp03: &str, e: &EligibilityFile) -> Vec<String> {
    let text = std::fs::read_to_string(fixtures().join("ack277/two-providers.x12")).unwrap();
    let at = text.find("CLM*ACK0001").unwrap();
    let end = text.find("CLM*ACK0002").unwrap();
    let format = if dtp03.contains('-') { "RD8" } else { "D8" };
    let first = text[at..end].replace("DTP*472*D8*20230301", &format!("DTP*472*{format}*{dtp03}"));
    let data = format!("{}{first}{}", &text[..at], &text[end..]);
    let validator = gatewayd::guides::validator();
    let mut tree = x12_core::schema::LoopTree::default();
    let mut out = Vec::new();
    for item in x12_core::Reader::new(data.as_bytes()) {
        if let x12_core::Item::Transaction(set) = item.unwrap() {
            let (guide, issues) = validator.check_set(&set, &mut tree);
            let errors: Vec<_> = issues.iter().filter(|i| i.is_error()).collect();
            assert!(errors.is_empty(), "{errors:?}");
            let guide = guide.unwrap();
            out.extend(
                gatewayd::route::snip7::eligibility_issues(&set, &tree, guide, e)
                    .into_iter()
                    .map(|i| i.message),
            );
        }
    }
    out
}

#[test]
fn eligibility_covers_every_day_of_a_range() {
    use gatewayd::route::{Date, Eligibility};
    let d = |s: &str| Date::parse(s).unwrap();
    let covers = |spans: &[(&str, &str)], from: &str, to: &str| {
        spans_file(spans).covers("NCRT0101", d(from), d(to))
    };
    // a gap in the middle: both ends covered, the 10th is not
    let gap = [("2023-01-01", "2023-03-09"), ("2023-03-11", "2023-12-31")];
    assert!(!covers(&gap, "2023-03-01", "2023-03-20"));
    assert!(covers(&gap, "2023-03-01", "2023-03-09"));
    assert!(covers(&gap, "2023-03-11", "2023-03-20"));
    assert!(!covers(&gap, "2023-03-10", "2023-03-10"));
    // adjacent spans (another plan from the next day on)
    let adjacent = [("2023-01-01", "2023-03-10"), ("2023-03-11", "")];
    assert!(covers(&adjacent, "2023-03-01", "2023-03-20"));
    assert!(covers(&adjacent, "2023-03-01", "2031-01-01"));
    // overlapping spans, listed out of order
    let overlap = [
        ("2023-03-05", "2023-04-30"),
        ("2023-01-01", "2023-03-15"),
        ("2023-02-01", "2023-02-10"),
    ];
    assert!(covers(&overlap, "2023-01-15", "2023-04-30"));
    assert!(!covers(&overlap, "2023-01-15", "2023-05-01"));
    assert!(!covers(&overlap, "2022-12-31", "2023-01-15"));
    // a single day, and a range given backwards
    let one = [("2023-03-01", "2023-03-01")];
    assert!(covers(&one, "2023-03-01", "2023-03-01"));
    assert!(!covers(&one, "2023-03-02", "2023-03-02"));
    assert!(!covers(&one, "2023-03-01", "2023-03-02"));
    assert!(covers(&gap, "2023-03-09", "2023-03-01"));
    // entirely inside one span; an unknown member is never covered
    let wide = [("2022-01-01", "2023-12-31")];
    assert!(covers(&wide, "2023-03-01", "2023-03-31"));
    assert!(!spans_file(&wide).covers("NCRT9999", d("2023-03-01"), d("2023-03-01")));
    // the trait's default (a lookup closure) agrees, day by day
    let f = spans_file(&gap);
    let by_day = |m: &str, dos: Date| f.benefit_plan(m, dos);
    assert!(!by_day.covers("NCRT0101", d("2023-03-01"), d("2023-03-20")));
    assert!(by_day.covers("NCRT0101", d("2023-03-11"), d("2023-03-20")));
}

#[test]
fn the_eligibility_edit_checks_the_whole_range_of_service() {
    let gap = spans_file(&[("2023-01-01", "2023-03-09"), ("2023-03-11", "2023-12-31")]);
    let adjacent = spans_file(&[("2023-01-01", "2023-03-10"), ("2023-03-11", "")]);
    let overlap = spans_file(&[("2023-01-01", "2023-03-15"), ("2023-03-05", "2023-04-30")]);
    let inside = spans_file(&[("2022-01-01", "2023-12-31")]);
    let single = spans_file(&[("2023-03-01", "2023-03-01")]);
    // a gap in the middle of the range rejects the claim (both ends are covered)
    let issues = range_issues("20230301-20230320", &gap);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert!(
        issues[0].contains("no eligibility span covering"),
        "{issues:?}"
    );
    // no gap: adjacent, overlapping, one span around it
    for e in [&adjacent, &overlap, &inside] {
        assert_eq!(range_issues("20230301-20230320", e), Vec::<String>::new());
    }
    // one day: D8 and a one-day RD8, covered or not
    assert!(range_issues("20230301", &single).is_empty());
    assert!(range_issues("20230301-20230301", &single).is_empty());
    assert_eq!(range_issues("20230302", &single).len(), 1);
    assert_eq!(range_issues("20230301-20230302", &single).len(), 1);
    // the issue never repeats the member id
    assert!(issues.iter().all(|m| !m.contains("NCRT0101")));
}
