//! Property tests: the reader survives any mutation of real fixtures (truncation, byte
//! flips, swapped delimiters, arbitrary bytes) without a panic, every issue it reports
//! is located, every input byte still belongs to an item, and delimiters can be changed
//! and changed back without loss.

use proptest::prelude::*;
use std::path::Path;
use x12_core::{Delimiters, Item, Reader, Segments, Summary, Writer};

fn fixtures() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let mut out = Vec::new();
    for dir in ["valid", "invalid"] {
        for e in std::fs::read_dir(root.join(dir))
            .expect("fixtures dir")
            .flatten()
        {
            let p = e.path();
            if p.extension().is_some_and(|x| x != "json") {
                out.push(std::fs::read(p).expect("read fixture"));
            }
        }
    }
    out
}

/// Reads `data` fully and checks the invariants that hold for any input.
fn check(data: &[u8]) {
    let mut covered = 0usize;
    let mut issues = Vec::new();
    for item in Reader::new(data) {
        match item.expect("reading memory cannot fail") {
            Item::Segment(s) => covered += s.as_bytes().len(),
            Item::Transaction(t) => {
                covered += t.as_bytes().len();
                issues.extend(t.issues().to_vec());
                // segment views of a set never panic either
                for s in t.segments() {
                    let _ = s.segment.elements().count();
                }
            }
            Item::GroupEnd(g) => issues.extend(g.issues),
            Item::InterchangeEnd(r) => issues.extend(r.issues),
        }
    }
    assert!(covered <= data.len());
    for i in &issues {
        assert!(!i.message.is_empty());
        assert!(
            i.location.byte_offset <= data.len() as u64,
            "issue {i} points past the end ({} > {})",
            i.location.byte_offset,
            data.len()
        );
    }
}

fn arb_mutation() -> impl Strategy<Value = (usize, u64, Vec<(usize, u8)>, usize)> {
    (
        0usize..64,
        any::<u64>(),
        prop::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        any::<usize>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn mutated_fixtures_never_panic((pick, _seed, flips, cut) in arb_mutation()) {
        let all = fixtures();
        let mut data = all[pick % all.len()].clone();
        for (at, b) in flips {
            if !data.is_empty() {
                let n = data.len();
                data[at % n] = b;
            }
        }
        check(&data);
        if !data.is_empty() {
            let n = data.len();
            check(&data[..cut % n]);
        }
    }

    #[test]
    fn swapped_delimiters_never_panic(pick in 0usize..64, a in any::<u8>(), b in any::<u8>()) {
        let all = fixtures();
        let data: Vec<u8> = all[pick % all.len()]
            .iter()
            .map(|&c| if c == a { b } else if c == b { a } else { c })
            .collect();
        check(&data);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..600)) {
        check(&data);
        let mut isa = b"ISA*00*          *00*          *ZZ*A              *ZZ*B              *240101*1200*^*00501*000000001*0*P*:~".to_vec();
        isa.extend_from_slice(&data);
        check(&isa);
    }
}

#[test]
fn delimiters_change_and_change_back() {
    let pipes = Delimiters {
        element: b'|',
        repetition: Some(b'{'),
        component: b'>',
        segment: b'\'',
    };
    for data in fixtures() {
        let before = Summary::of(Reader::new(&data[..])).expect("read");
        if !before.is_valid() {
            continue;
        }
        let mut converted = Vec::new();
        let mut w = Writer::new(&mut converted, pipes).line_ending(b"\n");
        for s in Segments::new(&data) {
            w.write_segment(&s.segment).expect("convert");
        }
        let after = Summary::of(Reader::new(&converted[..])).expect("read converted");
        assert!(after.is_valid(), "{:?}", after.issues);
        assert_eq!((before.sets, before.segments), (after.sets, after.segments));
        let mut back = Vec::new();
        let mut w = Writer::new(&mut back, Delimiters::default()).line_ending(b"\n");
        for s in Segments::new(&converted) {
            w.write_segment(&s.segment).expect("convert back");
        }
        let original: Vec<u8> = Segments::new(&data)
            .flat_map(|s| {
                let mut v = s.segment.as_bytes().to_vec();
                v.extend_from_slice(b"~\n");
                v
            })
            .collect();
        if Segments::new(&data).all(|s| s.segment.delimiters() == Delimiters::default()) {
            assert_eq!(
                String::from_utf8_lossy(&back),
                String::from_utf8_lossy(&original)
            );
        }
    }
}
