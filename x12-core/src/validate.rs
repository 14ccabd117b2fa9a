//! The validator: picks the guide table for each transaction set, walks it through the
//! schema engine (SNIP 1–2), runs the guide's own rules (SNIP 3–7, supplied by the
//! crates that know the transaction), and adds 999 CTX context.

use crate::envelope::TransactionSet;
use crate::isa::lossy;
use crate::issue::{Code, Issue, Location, Scope};
use crate::schema::{Engine, Guide, LoopTree, NONE};
use std::sync::Arc;

/// Checks of one guide beyond its table: balancing, situational rules, code sets
/// (SNIP 3–7). Implemented by `x12-837`, `x12-278`...
pub trait GuideRules: Send + Sync {
    /// Appends findings for `set`, whose loop tree is `tree`.
    fn check(&self, guide: &Guide, set: &TransactionSet, tree: &LoopTree, issues: &mut Vec<Issue>);
}

/// A guide table with its rules.
#[derive(Clone)]
pub struct GuideEntry {
    /// The table.
    pub guide: Arc<Guide>,
    /// Its further rules, if any.
    pub rules: Option<Arc<dyn GuideRules>>,
}

/// The guides a validator knows, and the validation of one transaction set.
///
/// ```
/// use x12_core::{Item, Reader, Validator};
/// let v = Validator::new();
/// let data = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/valid/837p-minimal.x12")).unwrap();
/// for item in Reader::new(&data[..]) {
///     if let Item::Transaction(set) = item.unwrap() {
///         let (guide, issues) = v.check_set(&set, &mut Default::default());
///         assert!(guide.is_none(), "no guide registered");
///         assert_eq!(issues[0].code.as_str(), "UNKNOWN_GUIDE");
///     }
/// }
/// ```
#[derive(Clone, Default)]
pub struct Validator {
    entries: Vec<GuideEntry>,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.entries
                    .iter()
                    .map(|e| format!("{} {}", e.guide.id, e.guide.version)),
            )
            .finish()
    }
}

impl Validator {
    /// A validator that knows no guide (envelope checks only, and every set is reported
    /// as having no guide).
    pub fn new() -> Self {
        Validator::default()
    }

    /// Adds a guide and its rules.
    pub fn with_guide(mut self, guide: Arc<Guide>, rules: Option<Arc<dyn GuideRules>>) -> Self {
        self.entries.push(GuideEntry { guide, rules });
        self
    }

    /// Replaces each guide's rules with what `f` makes of them: the way to add checks
    /// of one deployment (a provider file, say) on top of a guide's own rules.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use x12_core::{GuideRules, Validator};
    /// let v = Validator::with_core_guides().map_rules(|_guide, rules| rules);
    /// assert!(v.guides().count() > 0);
    /// ```
    pub fn map_rules(
        mut self,
        mut f: impl FnMut(&Arc<Guide>, Option<Arc<dyn GuideRules>>) -> Option<Arc<dyn GuideRules>>,
    ) -> Self {
        for e in &mut self.entries {
            e.rules = f(&e.guide, e.rules.take());
        }
        self
    }

    /// The registered guides.
    pub fn guides(&self) -> impl Iterator<Item = &Arc<Guide>> {
        self.entries.iter().map(|e| &e.guide)
    }

    /// The guide for a set: by ST01 and its version label (ST03, else GS08).
    pub fn guide_for(&self, set: &TransactionSet) -> Option<&GuideEntry> {
        let id = set.id();
        let label = set.version();
        self.entries.iter().find(|e| {
            e.guide.transaction.as_bytes() == id
                && e.guide.answers_to(label)
                && selects(&e.guide, set)
        })
    }

    /// Validates one set: its envelope issues, then the guide (if one answers to it).
    /// Returns the guide used and every issue, in segment order.
    pub fn check_set<'v>(
        &'v self,
        set: &TransactionSet,
        tree: &mut LoopTree,
    ) -> (Option<&'v Arc<Guide>>, Vec<Issue>) {
        let mut issues = set.issues().to_vec();
        let Some(entry) = self.guide_for(set) else {
            tree.clear();
            let header = set.header();
            // guides that answer to the label but whose `select` the set does not meet
            // (a 278 that is neither a request nor a response): say what is supported
            let near: Vec<String> = self
                .entries
                .iter()
                .filter(|e| {
                    e.guide.transaction.as_bytes() == set.id() && e.guide.answers_to(set.version())
                })
                .filter_map(|e| {
                    e.guide.select.as_ref().map(|(seg, pos, vals)| {
                        format!(
                            "{} when {seg}{pos:02} is {}",
                            e.guide.name,
                            vals.join(" or ")
                        )
                    })
                })
                .collect();
            let message = if near.is_empty() {
                format!(
                    "no guide table for transaction set {} version {:?}; known: {}",
                    lossy(set.id()),
                    lossy(set.version()),
                    self.entries
                        .iter()
                        .map(|e| format!("{} {}", e.guide.transaction, e.guide.version))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                format!(
                    "transaction set {} {} of this kind is not supported; supported: {}",
                    lossy(set.id()),
                    lossy(set.version()),
                    near.join("; ")
                )
            };
            issues.push(
                Issue::error(Code::UnknownGuide, Scope::Set, message).at(Location {
                    byte_offset: set.byte_offset(),
                    segment_position: set.position(),
                    set_position: Some(1),
                    segment_id: lossy(header.id()),
                    element: Some(if header.get(3).is_empty() { 1 } else { 3 }),
                    control_number: Some(lossy(set.control_number())),
                    ..Location::default()
                }),
            );
            return (None, issues);
        };
        let guide = &entry.guide;
        let start = issues.len();
        Engine::new(guide).walk(set, tree, &mut issues);
        crate::schema::check_hierarchy(guide, set, tree, &mut issues);
        if let Some(rules) = &entry.rules {
            rules.check(guide, set, tree, &mut issues);
        }
        if let Some((seg_id, pos)) = &guide.context {
            add_context(guide, set, tree, seg_id, *pos, &mut issues[start..]);
        }
        issues.sort_by_key(|i| (i.location.segment_position, i.location.element.unwrap_or(0)));
        (Some(guide), issues)
    }
}

/// Whether `set` meets the guide's `select` condition (always, without one): the
/// named element of the first segment with that id among the set's first few.
fn selects(guide: &Guide, set: &TransactionSet) -> bool {
    let Some((seg_id, pos, values)) = &guide.select else {
        return true;
    };
    set.segments()
        .take(4)
        .find(|s| s.segment.id() == seg_id.as_bytes())
        .is_some_and(|s| {
            let v = s.segment.get(usize::from(*pos));
            values.iter().any(|x| x.as_bytes() == v)
        })
}

/// Sets the 999 CTX (business unit: e.g. CLM01) of issues inside a loop instance that
/// holds the guide's context segment, or that descends from one.
fn add_context(
    guide: &Guide,
    set: &TransactionSet,
    tree: &LoopTree,
    seg_id: &str,
    pos: u8,
    issues: &mut [Issue],
) {
    for issue in issues.iter_mut() {
        let Some(ik3) = &issue.ik3 else { continue };
        let index = ik3.position.saturating_sub(1) as usize;
        let Some(slot) = tree.segments.get(index) else {
            continue;
        };
        let mut node = slot.node;
        while node != NONE {
            let found = tree.own_segments(node).find(|s| {
                let d = tree.segments[*s as usize].def;
                d != NONE && guide.segments[d as usize].id == seg_id
            });
            if let Some(s) = found {
                let value = lossy(tree.segment(set, s).get(usize::from(pos)));
                if !value.is_empty() {
                    issue.context = Some((format!("{seg_id}{pos:02}"), value));
                }
                break;
            }
            node = tree.nodes[node as usize].parent;
        }
    }
}
