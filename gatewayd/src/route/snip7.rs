//! Provider validation as part of validation (SNIP 7): wraps a guide's own rules so
//! that, with a provider file loaded, every 278 request and 837 claim also gets the
//! provider checks of ROUTING.md §5 as located issues, in the report and the 999.
//!
//! The checks need the route (the matched rule's `expect.taxonomy_prefix`), so the
//! wrapper routes each set with the same table, eligibility and provider file the
//! gateway routes with. A failed check is a finding, never a reroute.

use super::{route_set, EligibilityFile, Lookups, NoEligibility, NoPaIndex, ProviderFile, Router};
use std::sync::Arc;
use x12_core::schema::{Guide, LoopTree};
use x12_core::{GuideRules, Issue, TransactionSet};

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
