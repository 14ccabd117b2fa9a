//! Shared helpers for the benchmarks: the generated inputs.

/// Size of the generated benchmark inputs: `BENCH_MB` megabytes (default 100).
pub fn bench_bytes() -> u64 {
    std::env::var("BENCH_MB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(100)
        * 1_000_000
}

/// A valid 837P batch of about `bytes` bytes from the fixtures generator.
pub fn data_837p(bytes: u64) -> Vec<u8> {
    data(fixtures::generate::Kind::Professional837, bytes)
}

/// A valid batch of `kind` of about `bytes` bytes from the fixtures generator.
pub fn data(kind: fixtures::generate::Kind, bytes: u64) -> Vec<u8> {
    fixtures::generate::generate_to_vec(&fixtures::generate::Options::new(kind, bytes))
}
