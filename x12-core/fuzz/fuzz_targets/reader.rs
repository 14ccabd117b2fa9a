//! Fuzz target: every parser path of x12-core on arbitrary bytes.
//!
//! The first byte picks how the input is cut into reads (to exercise every chunk
//! boundary of the streaming decoder); the rest is the input. Each run reads it with
//! the streaming reader, walks every segment, element, component and repetition,
//! renders the TA1s, iterates the zero-copy `Segments`, and rewrites it with the
//! writer, checking that the items cover the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Read;
use x12_core::{AckEnvelope, Item, Reader, ReaderOptions, Segments, Ta1, Ta1Policy, Writer};

struct Chunked<'a> {
    data: &'a [u8],
    n: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.n.min(buf.len()).min(self.data.len());
        buf[..k].copy_from_slice(&self.data[..k]);
        self.data = &self.data[k..];
        Ok(k)
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&first, data)) = input.split_first() else { return };
    let n = usize::from(first % 16) + 1;
    let opts = ReaderOptions { max_segment_len: 4096, max_set_len: 1 << 16 };
    let mut covered = Vec::new();
    let env = AckEnvelope { control_number: 1, date: "240101".into(), time: "1200".into() };
    for item in Reader::with_options(Chunked { data, n }, opts) {
        match item.expect("memory reads cannot fail") {
            Item::Segment(s) => covered.extend_from_slice(s.as_bytes()),
            Item::Transaction(t) => {
                covered.extend_from_slice(t.as_bytes());
                for s in t.segments() {
                    for e in s.segment.elements() {
                        for r in e.repetitions() {
                            let _ = r.components().count();
                        }
                    }
                }
                let _ = (t.id(), t.control_number(), t.version());
            }
            Item::GroupEnd(_) => {}
            Item::InterchangeEnd(r) => {
                if let Some(ta1) = Ta1::from_report(&r, false, &Ta1Policy::default()) {
                    let _ = ta1.render(&r, &env);
                }
            }
        }
    }
    assert!(data.starts_with(&covered));
    let mut out = Vec::new();
    for s in Segments::new(data) {
        let _ = Writer::preserving(&mut out, s.segment.delimiters()).write_ref(&s);
    }
    assert!(data.starts_with(&out));
});
