//! Routing throughput: pass 2 over 1 million pre-extracted service lines with mixed codes
//! (HCPCS, CDT, revenue, NDC-only, service-type-only), with and without a trace; and the
//! same lines against a table whose medical/surgical rule lists 20,000 single codes, to
//! show that per-line cost does not grow with the length of a code list.
//!
//! `cargo bench -p benches --bench route`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gatewayd::route::{
    Code, Date, Facility, Line, Request, Router, Servicing, Table, Transaction, BUNDLED_TABLE,
};
use std::hint::black_box;

const LINES: usize = 1_000_000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

/// A pool of distinct (request, line) pairs; the benchmark cycles through it.
fn pool(n: usize) -> (Vec<Request>, Vec<Line>) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let hcpcs = [
        "E0260", "E1390", "K0823", "L3000", "A4253", "99213", "99214", "99509", "97163", "97153",
        "90837", "H0036", "H2017", "70553", "74177", "27447", "33945", "A0428", "A0021", "V5261",
        "T1000", "G0156", "V2020", "98940", "Q5001", "J3490", "80053", "36415", "99199", "Q2041",
    ];
    let cdt = ["D0120", "D1110", "D2391", "D8080", "D8090", "D9999"];
    let rev = [
        "0120", "0183", "0450", "0651", "0420", "0551", "0900", "0300",
    ];
    let st = [
        "1", "2", "12", "45", "54", "56", "AL", "88", "PT", "MH", "33", "74",
    ];
    let pos = ["11", "12", "21", "22", "23", "31", "34", "41"];
    let states = ["NC", "NC", "NC", "NC", "SC", "VA", "TN", "GA"];
    let txs = [
        Transaction::X278,
        Transaction::P837,
        Transaction::I837,
        Transaction::D837,
    ];
    let dos = [
        Date::parse("2019-05-01"),
        Date::parse("2022-06-01"),
        Date::parse("2023-03-01"),
    ];
    let mut reqs = Vec::with_capacity(n);
    let mut lines = Vec::with_capacity(n);
    for i in 0..n {
        let t = txs[i % txs.len()];
        let mut req = Request::new(t);
        req.benefit_plan = Some((rng.next() % 3) as u8); // MEDICAID_DIRECT, MPW, PHP_STANDARD
        req.birth_date =
            Date::parse(["1950-01-01", "1990-06-15", "2012-03-03", "2021-01-01"][i % 4]);
        req.date = dos[i % dos.len()];
        req.dx = vec![Code::new(rng.pick(&["J449", "E119", "D5700", "F329", "I10"])).unwrap()];
        req.facility = match t {
            Transaction::I837 => {
                Code::new(rng.pick(&["11", "13", "21", "81", "32"])).map(Facility::BillType)
            }
            _ => Code::new(rng.pick(&pos)).map(Facility::Pos),
        };
        if t == Transaction::X278 {
            req.segments = Some(gatewayd::route::Segments::default());
            req.level_of_service = Code::new(rng.pick(&["E", "U", "03"]));
        }
        let mut line = Line {
            date: req.date,
            servicing: Some(Servicing {
                state: Code::new(rng.pick(&states)).unwrap(),
                border: None,
                npi: None,
                zip: None,
            }),
            taxonomy: Code::new(rng.pick(&[
                "332B00000X",
                "207Q00000X",
                "251E00000X",
                "2251P0200X",
            ])),
            ..Line::default()
        };
        match (t, rng.next() % 6) {
            (Transaction::D837, _) => line.ad = Code::new(rng.pick(&cdt)),
            (Transaction::I837, _) => line.rev = Code::new(rng.pick(&rev)),
            (_, 0) => line.service_type = Code::new(rng.pick(&st)),
            (Transaction::X278, 1) => line.ndc_only = true,
            _ => line.hc = Code::new(rng.pick(&hcpcs)),
        }
        if t == Transaction::P837 {
            line.emergency = Some(rng.next().is_multiple_of(20));
        }
        reqs.push(req);
        lines.push(line);
    }
    (reqs, lines)
}

fn run(router: &Router, reqs: &[Request], lines: &[Line]) -> usize {
    let mut matched = 0usize;
    let n = lines.len();
    for i in 0..LINES {
        let out = router.route_line(&reqs[i % n], &lines[i % n]);
        matched += out.rule.unwrap_or(0);
    }
    matched
}

fn big_table() -> Table {
    // medical/surgical lists 20,000 single codes instead of two ranges
    let codes: Vec<String> = (10_004..30_004).map(|c| format!("\"{c:05}\"")).collect();
    let text = BUNDLED_TABLE.replacen(
        "any.proc.HC = [\"00100-01999\", \"10004-69990\"]",
        &format!(
            "any.proc.HC = [\"00100-01999\", {}, \"30004-69990\"]",
            codes.join(", ")
        ),
        1,
    );
    assert_ne!(text, BUNDLED_TABLE, "the medical/surgical rule moved");
    Table::parse(&text).expect("big table")
}

fn route(c: &mut Criterion) {
    let router = Router::bundled().expect("bundled table");
    let big = Router::new(big_table());
    let (reqs, lines) = pool(10_000);
    let mut g = c.benchmark_group("route");
    g.throughput(Throughput::Elements(LINES as u64));
    g.sample_size(10);
    g.bench_function("pass 2, 1M lines", |b| {
        b.iter(|| black_box(run(&router, black_box(&reqs), black_box(&lines))))
    });
    g.bench_function("pass 2, 1M lines, 20k-code list", |b| {
        b.iter(|| black_box(run(&big, black_box(&reqs), black_box(&lines))))
    });
    g.bench_function("pass 2 with trace, 1M lines", |b| {
        let mut trace = Vec::with_capacity(64);
        b.iter(|| {
            let mut matched = 0usize;
            for i in 0..LINES {
                trace.clear();
                let n = lines.len();
                let out = router.route_line_traced(&reqs[i % n], &lines[i % n], Some(&mut trace));
                matched += out.rule.unwrap_or(0) + trace.len();
            }
            black_box(matched)
        })
    });
    g.finish();
}

criterion_group!(benches, route);
criterion_main!(benches);
