//! Full validation (envelope, guide table, SNIP 1-5 rules) of a generated 837P and a
//! generated 278 request batch.
//!
//! `cargo bench -p benches --bench validate` (`BENCH_MB` sets the size, default 100).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use x12_core::schema::LoopTree;
use x12_core::{Item, Reader, Validator};

/// One benchmark group: every transaction set of `data` read and checked, the findings
/// counted.
fn group(c: &mut Criterion, name: &str, data: &[u8], validator: &Validator) {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    g.bench_function("validate: envelope + guide + rules", |b| {
        b.iter(|| {
            let mut tree = LoopTree::default();
            let mut errors = 0usize;
            for item in Reader::new(black_box(data)) {
                if let Ok(Item::Transaction(set)) = item {
                    let (_, issues) = validator.check_set(&set, &mut tree);
                    errors += issues.len();
                }
            }
            black_box(errors)
        })
    });
    g.finish();
}

fn validate(c: &mut Criterion) {
    let validator = x12_278::register(x12_837::register(Validator::with_core_guides()));
    let data = benches::data_837p(benches::bench_bytes());
    group(c, "837p", &data, &validator);
    let data = benches::data(fixtures::generate::Kind::Request278, benches::bench_bytes());
    group(c, "278", &data, &validator);
}

criterion_group!(benches, validate);
criterion_main!(benches);
