//! Totals and issues of a whole input, gathered from a reader's items.

use crate::envelope::Item;
use crate::issue::{Issue, Severity};
use crate::schema::LoopTree;
use crate::ta1::{Ta1, Ta1Policy};
use crate::validate::Validator;
use serde::Serialize;
use std::collections::BTreeMap;

/// What a whole input held and what was wrong with it, gathered item by item.
///
/// ```
/// use x12_core::{Reader, Summary};
/// let data = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/valid/837p-minimal.x12")).unwrap();
/// let summary = Summary::of(Reader::new(&data[..])).unwrap();
/// assert!(summary.is_valid());
/// assert_eq!((summary.interchanges, summary.groups, summary.sets), (1, 1, 1));
/// ```
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Interchanges read (ISA headers).
    pub interchanges: u64,
    /// Functional groups read.
    pub groups: u64,
    /// Transaction sets read.
    pub sets: u64,
    /// Segments read.
    pub segments: u64,
    /// Every issue, in input order per structure, up to the cap.
    pub issues: Vec<Issue>,
    /// Issues beyond the cap, counted but not kept.
    pub issues_dropped: u64,
    /// Errors among the dropped issues.
    pub errors_dropped: u64,
    /// The TA1 of each interchange (whether due or not).
    pub ta1: Vec<Ta1>,
    /// How many transaction sets each guide table checked (`"837P 005010X222A1"`).
    pub guides: BTreeMap<String, u64>,
    #[serde(skip)]
    cap: usize,
    #[serde(skip)]
    policy: Ta1Policy,
    #[serde(skip)]
    validator: Option<Validator>,
    #[serde(skip)]
    max_snip: u8,
    #[serde(skip)]
    tree: LoopTree,
}

impl Summary {
    /// An empty summary keeping at most `cap` issues.
    pub fn new(cap: usize, policy: Ta1Policy) -> Self {
        Summary {
            cap,
            policy,
            ..Summary::default()
        }
    }

    /// Keeps only findings of WEDI SNIP levels up to `level` (1–7; default 7).
    pub fn max_snip(mut self, level: u8) -> Self {
        self.max_snip = level;
        self
    }

    /// Also checks every transaction set against the guides `validator` knows.
    pub fn with_validator(mut self, validator: Validator) -> Self {
        self.validator = Some(validator);
        self
    }

    /// Reads every item of `items` into a summary keeping up to 10,000 issues.
    pub fn of<I: IntoIterator<Item = std::io::Result<Item>>>(items: I) -> std::io::Result<Summary> {
        let mut s = Summary::new(10_000, Ta1Policy::default());
        for item in items {
            s.add(&item?);
        }
        s.sort();
        Ok(s)
    }

    fn keep(&mut self, issues: &[Issue]) {
        for i in issues {
            if self.max_snip != 0 && i.snip > self.max_snip {
                continue;
            }
            if self.issues.len() < self.cap {
                self.issues.push(i.clone());
            } else {
                self.issues_dropped += 1;
                self.errors_dropped += u64::from(i.is_error());
            }
        }
    }

    /// Takes one item into account.
    pub fn add(&mut self, item: &Item) {
        match item {
            Item::Segment(s) => {
                if !s.segment().as_bytes().is_empty() {
                    self.segments += 1;
                }
                if s.segment().id() == b"ISA" {
                    self.interchanges += 1;
                } else if s.segment().id() == b"GS" {
                    self.groups += 1;
                }
            }
            Item::Transaction(t) => {
                self.sets += 1;
                self.segments += u64::from(t.segment_count());
                match self.validator.take() {
                    Some(v) => {
                        let (guide, issues) = v.check_set(t, &mut self.tree);
                        if let Some(g) = guide {
                            *self
                                .guides
                                .entry(format!("{} {}", g.id, g.version))
                                .or_default() += 1;
                        }
                        self.keep(&issues);
                        self.validator = Some(v);
                    }
                    None => self.keep(t.issues()),
                }
            }
            Item::GroupEnd(g) => self.keep(&g.issues),
            Item::InterchangeEnd(r) => {
                self.keep(&r.issues);
                if let Some(ta1) = Ta1::from_report(r, false, &self.policy) {
                    self.ta1.push(ta1);
                }
            }
        }
    }

    /// Puts the kept issues in input order (by segment position, then byte offset);
    /// readers report a structure's issues when it closes, so an interchange's ISA
    /// findings would otherwise follow its transaction sets'.
    pub fn sort(&mut self) {
        self.issues
            .sort_by_key(|i| (i.location.segment_position, i.location.byte_offset));
    }

    /// Whether no error (warnings allowed) was found.
    pub fn is_valid(&self) -> bool {
        self.interchanges > 0
            && self.errors_dropped == 0
            && !self.issues.iter().any(|i| i.severity == Severity::Error)
    }

    /// Number of errors (kept and dropped).
    pub fn error_count(&self) -> u64 {
        self.issues.iter().filter(|i| i.is_error()).count() as u64 + self.errors_dropped
    }
}
