//! Provider validation as part of validation (SNIP 7): wraps a guide's own rules so
//! that, with a provider file loaded, every 278 request and 837 claim also gets the
//! provider checks of ROUTING.md §5 as located issues, in the report and the 999.
//!
//! The checks need the route (the matched rule's `expect.taxonomy_prefix`), so the
//! wrapper routes each set with the same table, eligibility and provider file the
//! gateway routes with. A failed check is a finding, never a reroute.
//!
//! With an eligibility file loaded, [`EligibilityRules`] adds the eligibility edit: an
//! 837 claim whose member (2010BA NM109) is not covered on every day of the claim's
//! dates of service (each day of an `RD8` range, not only its ends: the member's spans
//! may meet or overlap, a gap of one day in the middle fails, see
//! [`Eligibility::covers`]) gets a located issue (SNIP 7, IK403 `7`), which the 277CA
//! turns into a claim rejection (`x12_837::ack277`: `A8:109` with entity `IL`). The
//! issue points at the subscriber's NM109 when every claim of that subscriber fails;
//! when only some do, at each failing claim's own date of service (its DTP*472 or
//! DTP*434, else the first uncovered line's DTP*472), so the others stay accepted.
//! Messages never repeat the member id or a date of birth: the 999's IK4 carries the
//! element value, and nothing else does.

use super::{
    route_set, Date, Eligibility, EligibilityFile, Lookups, NoEligibility, NoPaIndex, ProviderFile,
    Router,
};
use std::sync::Arc;
use x12_core::schema::{first_segment, text, At, Guide, LoopRef, LoopTree};
use x12_core::{Code, GuideRules, Issue, TransactionSet};

/// A guide's rules plus the provider checks.
pub struct ProviderRules {
    /// The guide's own rules, run first.
    pub inner: Option<Arc<dyn GuideRules>>,
    /// The router whose decisions name the taxonomy a service expects.
    pub router: Arc<Router>,
    /// The provider file.
    pub providers: Arc<ProviderFile>,
    /// Member eligibility, when loaded (the benefit plan can change the matched rule).
    pub eligibility: Option<Arc<EligibilityFile>>,
}

impl GuideRules for ProviderRules {
    fn check(&self, guide: &Guide, set: &TransactionSet, tree: &LoopTree, issues: &mut Vec<Issue>) {
        if let Some(inner) = &self.inner {
            inner.check(guide, set, tree, issues);
        }
        let lookups = Lookups {
            eligibility: match &self.eligibility {
                Some(e) => e.as_ref(),
                None => &NoEligibility,
            },
            pa_index: &NoPaIndex,
            providers: Some(&self.providers),
        };
        for r in route_set(&self.router, set, tree, guide, &lookups) {
            for f in &r.provider_findings {
                issues.push(f.issue(set, tree, guide));
            }
        }
    }
}

/// `v` with the provider checks added to every guide's rules.
pub fn with_provider_checks(
    v: x12_core::Validator,
    router: Arc<Router>,
    providers: Arc<ProviderFile>,
    eligibility: Option<Arc<EligibilityFile>>,
) -> x12_core::Validator {
    v.map_rules(|_, inner| {
        Some(Arc::new(ProviderRules {
            inner,
            router: router.clone(),
            providers: providers.clone(),
            eligibility: eligibility.clone(),
        }) as Arc<dyn GuideRules>)
    })
}

/// A guide's rules plus the eligibility edit on the date of service (837 claims only).
pub struct EligibilityRules {
    /// The guide's own rules (or the provider checks), run first.
    pub inner: Option<Arc<dyn GuideRules>>,
    /// Member eligibility.
    pub eligibility: Arc<EligibilityFile>,
}

impl GuideRules for EligibilityRules {
    fn check(&self, guide: &Guide, set: &TransactionSet, tree: &LoopTree, issues: &mut Vec<Issue>) {
        if let Some(inner) = &self.inner {
            inner.check(guide, set, tree, issues);
        }
        issues.extend(eligibility_issues(
            set,
            tree,
            guide,
            self.eligibility.as_ref(),
        ));
    }
}

/// `v` with the eligibility edit added to every guide's rules.
pub fn with_eligibility_checks(
    v: x12_core::Validator,
    eligibility: Arc<EligibilityFile>,
) -> x12_core::Validator {
    v.map_rules(|_, inner| {
        Some(Arc::new(EligibilityRules {
            inner,
            eligibility: eligibility.clone(),
        }) as Arc<dyn GuideRules>)
    })
}

/// What the edit says; never the member id nor a date of birth.
const NOT_ELIGIBLE: &str =
    "the member has no eligibility span covering the claim's dates of service";
const DATE_NOT_ELIGIBLE: &str = "the member has no eligibility span covering this date of service";

/// The eligibility edit of one walked 837 set (`tree` built with `guide`): one located
/// issue per failure (see the module docs). Claims with no member id or no readable
/// date of service are left to the guide's own checks.
pub fn eligibility_issues(
    set: &TransactionSet,
    tree: &LoopTree,
    guide: &Guide,
    eligibility: &dyn Eligibility,
) -> Vec<Issue> {
    let mut out = Vec::new();
    if set.id() != b"837" {
        return out;
    }
    let root = LoopRef::root(set, tree, guide);
    // per subscriber loop: claims checked, and those that failed
    let mut subscribers: Vec<(u32, usize, Vec<u32>)> = Vec::new();
    for claim in x12_837::claims(root) {
        let Some(sub) = claim.subscriber() else {
            continue;
        };
        let member = sub.id();
        let dates = service_dates(&claim);
        if member.is_empty() || dates.is_empty() {
            continue;
        }
        let nm1 = first_segment(tree, sub.node.node);
        let at = match subscribers.iter().position(|(n, ..)| *n == nm1) {
            Some(i) => i,
            None => {
                subscribers.push((nm1, 0, Vec::new()));
                subscribers.len() - 1
            }
        };
        let Some(entry) = subscribers.get_mut(at) else {
            continue;
        };
        entry.1 += 1;
        let uncovered = dates
            .iter()
            .find(|(from, to, _)| !eligibility.covers(member, *from, *to));
        if let Some((.., dtp)) = uncovered {
            entry.2.push(*dtp);
        }
    }
    for (nm1, checked, failed) in subscribers {
        if failed.is_empty() {
            continue;
        }
        if failed.len() == checked {
            let seg = tree.segment(set, nm1);
            out.push(
                At::new(set, tree, guide, nm1)
                    .element(9, None, "67", "7", Some(seg.get(9)))
                    .issue(Code::CodeSet, 7, NOT_ELIGIBLE),
            );
            continue;
        }
        for dtp in failed {
            let seg = tree.segment(set, dtp);
            out.push(
                At::new(set, tree, guide, dtp)
                    .element(3, None, "1251", "7", Some(seg.get(3)))
                    .issue(Code::CodeSet, 7, DATE_NOT_ELIGIBLE),
            );
        }
    }
    out
}

/// The dates a claim must be covered on, each a range (first and last day, one day for
/// a `D8`) with the DTP segment that gives it: the claim-level service period
/// (DTP*472, else the 837I statement dates DTP*434), else every line's DTP*472. A range
/// with one unreadable end is the other end's day.
fn service_dates(claim: &x12_837::Claim<'_>) -> Vec<(Date, Date, u32)> {
    let range = |v: &str| -> Option<(Date, Date)> {
        let (a, b) = v.split_once('-').unwrap_or((v, v));
        match (Date::parse(a), Date::parse(b)) {
            (Some(a), Some(b)) => Some((a.min(b), a.max(b))),
            (Some(d), None) | (None, Some(d)) => Some((d, d)),
            (None, None) => None,
        }
    };
    for q in ["472", "434"] {
        let found = claim.node.indexed("DTP").find(|(_, s)| text(s.get(1)) == q);
        if let Some((i, s)) = found {
            if let Some((a, b)) = range(text(s.get(3))) {
                return vec![(a, b, i)];
            }
        }
    }
    let mut out = Vec::new();
    for line in claim.lines() {
        if let Some((i, s)) = line
            .node
            .indexed("DTP")
            .find(|(_, s)| text(s.get(1)) == "472")
        {
            out.extend(range(text(s.get(3))).map(|(a, b)| (a, b, i)));
        }
    }
    out
}
