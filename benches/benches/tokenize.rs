//! Tokenization and envelope parsing of a large generated 837P, next to a baseline that
//! only counts segment terminators with memchr over the same bytes.
//!
//! `cargo bench -p benches --bench tokenize` (set `BENCH_MB` to change the size,
//! default 100).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use x12_core::{Item, Reader, Segments};

fn tokenize(c: &mut Criterion) {
    let data = benches::data_837p(benches::bench_bytes());
    let mut g = c.benchmark_group("837p");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    // The baseline a tokenizer is measured against: find every terminator with memchr,
    // one call per segment, and do nothing else.
    g.bench_function("baseline: memchr per terminator", |b| {
        b.iter(|| {
            let data = black_box(&data[..]);
            let (mut at, mut n) = (0usize, 0usize);
            while let Some(i) = memchr::memchr(b'~', &data[at..]) {
                n += 1;
                at += i + 1;
            }
            black_box(n)
        })
    });
    // For reference: memchr's vectorized count, which never stops at a match.
    g.bench_function("reference: memchr_iter count (vectorized)", |b| {
        b.iter(|| black_box(memchr::memchr_iter(b'~', black_box(&data)).count()))
    });
    g.bench_function("tokenize: Segments (ids + spans)", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for s in Segments::new(black_box(&data)) {
                n += s.segment.id().len();
            }
            black_box(n)
        })
    });
    g.bench_function("envelope: Reader (ISA/GS/ST checks, owned sets)", |b| {
        b.iter(|| {
            let mut sets = 0usize;
            for item in Reader::new(black_box(&data[..])) {
                if let Ok(Item::Transaction(_)) = item {
                    sets += 1;
                }
            }
            black_box(sets)
        })
    });
    g.finish();
}

criterion_group!(benches, tokenize);
criterion_main!(benches);
