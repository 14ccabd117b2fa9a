//! Routing by the contractor table (ROUTING.md): which vendor or agency queue each 278
//! request and 837 claim goes to, and why.
//!
//! Routing lives in `gatewayd` (the design puts it there, beside the queues it feeds);
//! embedders of the parser crates do not need it.
//!
//! | module | holds |
//! |---|---|
//! | [`table`] | the TOML model of `contractors.toml`, its loading and validation ([`Table`], [`TableError`]) |
//! | [`compile`] | compiled matchers: merged code ranges with binary search, prefix sets ([`CodeSet`], [`PrefixSet`]) |
//! | [`features`] | feature extraction from the typed 278 and 837 views ([`Request`], [`Line`]) |
//! | [`lookup`] | eligibility ([`Eligibility`], the CSV [`EligibilityFile`]) and the PA index ([`PaIndex`]) |
//! | [`eval`] | step 0, pass 1, pass 2, flags and traces ([`Router`], [`Decision`]) |
//! | [`provider`] | the provider file (border flags) and provider validation ([`ProviderFile`], [`ProviderFinding`]) |
//! | [`respond`] | the gateway's own 278 answers: reject (HCR01=CT), no PA required (NA) |
//! | [`split`] | 278 work items, the 837 claim queue ([`WorkItem`], [`ClaimRoute`]) |
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use gatewayd::route::{route_file, Lookups, Router};
//! let router = Router::bundled()?;
//! let data = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/valid/278-request.x12"))?;
//! let sets = route_file(&router, &data[..], &Lookups::default())?;
//! let request = &sets[0].requests[0];
//! assert_eq!(request.work_items.len(), 1);
//! assert_eq!(request.work_items[0].vendor, "csra");
//! assert_eq!(request.work_items[0].pa_type, "dme");
//! assert!(request.routed.flags.contains(&"plan_unverified".to_string()));
//! # Ok(()) }
//! ```

pub mod compile;
mod csv_rows;
pub mod eval;
pub mod features;
pub mod lookup;
pub mod provider;
pub mod respond;
pub mod snip7;
pub mod split;
pub mod table;
mod value;

pub use compile::{CodeSet, PrefixSet};
pub use eval::{Decision, Flags, LineDecision, Outcome, Routed, Router, TraceStep};
pub use features::{Extracted, Facility, Line, Request, Segments, Servicing, Transaction};
pub use lookup::{
    Eligibility, EligibilityError, EligibilityFile, MemoryPaIndex, NoEligibility, NoPaIndex,
    PaIndex, PaRecord,
};
pub use provider::{
    ProviderError, ProviderFile, ProviderFinding, ProviderStatus, PROVIDER_VALIDATION_FAILED,
};
pub use snip7::{with_provider_checks, ProviderRules};
pub use split::{ClaimRoute, Correlation, WorkItem};
pub use table::{Action, Key, Table, TableError, BUNDLED_TABLE};
pub use value::{Code, Date};

use serde::Serialize;
use x12_core::schema::{text, LoopRef, LoopTree};
use x12_core::{Item, Reader, TransactionSet};

/// What routing looks up outside the transaction: eligibility (benefit plans), the PA
/// index (follow-ups) and, when loaded, the provider file (border flags and provider
/// validation). [`Lookups::default`] has none of them.
#[derive(Clone, Copy)]
pub struct Lookups<'a> {
    /// Benefit plans by member and date of service.
    pub eligibility: &'a dyn Eligibility,
    /// Issued prior authorizations.
    pub pa_index: &'a dyn PaIndex,
    /// The provider file; `None` = no border data (state-only fallback) and no provider
    /// validation.
    pub providers: Option<&'a ProviderFile>,
}

impl Default for Lookups<'_> {
    fn default() -> Self {
        Lookups {
            eligibility: &NoEligibility,
            pa_index: &NoPaIndex,
            providers: None,
        }
    }
}

impl std::fmt::Debug for Lookups<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lookups")
            .field("providers", &self.providers.map(|p| p.len()))
            .finish_non_exhaustive()
    }
}

/// The routing of one request: a 278 patient event or an 837 claim.
/// Stable field names: `transaction`, `id`, `trace_number`, `flags`, `request`,
/// `request_trace`, `lines`, `work_items`, `claim_route`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RequestRouting {
    /// `278`, `837P`, `837I`, `837D`.
    pub transaction: Transaction,
    /// 278 BHT03; 837 CLM01.
    pub id: String,
    /// 278 2000E TRN02 (the submitter's first trace).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_number: Option<String>,
    /// Decisions and traces.
    #[serde(flatten)]
    pub routed: Routed,
    /// 278: the child work items (§3).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub work_items: Vec<WorkItem>,
    /// 837: the claim's queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim_route: Option<ClaimRoute>,
    /// Failed provider checks (only with a provider file); any failure adds the flag
    /// `provider_validation_failed` to the request, its lines and work items.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub provider_findings: Vec<ProviderFinding>,
}

fn mark_provider_failure(r: &mut RequestRouting) {
    let flag = PROVIDER_VALIDATION_FAILED.to_string();
    let add = |flags: &mut Vec<String>| {
        if !flags.contains(&flag) {
            flags.push(flag.clone());
        }
    };
    add(&mut r.routed.flags);
    if let Some(d) = r.routed.request.as_mut() {
        add(&mut d.flags);
    }
    for l in &mut r.routed.lines {
        add(&mut l.decision.flags);
    }
    for w in &mut r.work_items {
        add(&mut w.flags);
    }
}

/// The routing of one transaction set.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SetRouting {
    /// ST02.
    pub control_number: String,
    /// Validation errors found in the set (routing still ran on what was readable).
    pub errors: usize,
    /// One entry per 278 event or 837 claim.
    pub requests: Vec<RequestRouting>,
}

/// Routes one walked transaction set (`tree` built by a validator with `guide`): every
/// 278 request event and every 837 claim. Other transactions give no requests.
pub fn route_set(
    router: &Router,
    set: &TransactionSet,
    tree: &LoopTree,
    guide: &x12_core::schema::Guide,
    lookups: &Lookups<'_>,
) -> Vec<RequestRouting> {
    let root = LoopRef::root(set, tree, guide);
    let mut out = Vec::new();
    if guide.id == "278REQ" {
        let bht = root.segment("BHT");
        let bht03 = bht.map_or("", |s| text(s.get(3))).to_string();
        let bht04 = bht.and_then(|s| Date::parse(text(s.get(4))));
        for event in x12_278::events(root) {
            let ex = features::from_event(event, bht04);
            let trn = event.traces().next().map(str::to_string);
            let context = split::context_spans(event.node);
            let (ex, routed) = router.route(ex, lookups);
            let findings = match lookups.providers {
                Some(file) => {
                    let decisions: Vec<&Decision> =
                        routed.lines.iter().map(|l| &l.decision).collect();
                    provider::validate_278(event, &decisions, file, ex.request.date)
                }
                None => Vec::new(),
            };
            let correlation = Correlation {
                bht03: bht03.clone(),
                trn: trn.clone(),
            };
            let work_items = split::split_278(&ex, &routed, &correlation, &context);
            let mut r = RequestRouting {
                transaction: Transaction::X278,
                id: bht03.clone(),
                trace_number: trn,
                routed,
                work_items,
                claim_route: None,
                provider_findings: findings,
            };
            if !r.provider_findings.is_empty() {
                mark_provider_failure(&mut r);
            }
            out.push(r);
        }
    } else if set.id() == b"837" {
        let Some(kind) =
            x12_837::kind_of(guide.version.as_bytes()).or_else(|| x12_837::kind_of(set.version()))
        else {
            return out;
        };
        for claim in x12_837::claims(root) {
            let ex = features::from_claim(claim, kind);
            let (ex, routed) = router.route(ex, lookups);
            let claim_route = split::claim_queue(&routed);
            let findings = match lookups.providers {
                Some(file) => {
                    let decisions: Vec<&Decision> =
                        routed.lines.iter().map(|l| &l.decision).collect();
                    provider::validate_claim(claim, kind, &decisions, file, ex.request.date)
                }
                None => Vec::new(),
            };
            let mut r = RequestRouting {
                transaction: ex.request.transaction,
                id: claim.id().to_string(),
                trace_number: None,
                routed,
                work_items: Vec::new(),
                claim_route,
                provider_findings: findings,
            };
            if !r.provider_findings.is_empty() {
                mark_provider_failure(&mut r);
            }
            out.push(r);
        }
    }
    out
}

/// Reads, validates and routes every transaction set of an input, handing each set's
/// routing to `sink` as soon as it is done: memory stays bounded by the largest set.
pub fn route_each(
    router: &Router,
    input: impl std::io::Read,
    lookups: &Lookups<'_>,
    mut sink: impl FnMut(SetRouting) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let validator = crate::guides::validator();
    let mut tree = LoopTree::default();
    for item in Reader::new(input) {
        let Item::Transaction(set) = item? else {
            continue;
        };
        let (guide, issues) = validator.check_set(&set, &mut tree);
        let Some(guide) = guide else {
            continue;
        };
        sink(SetRouting {
            control_number: String::from_utf8_lossy(set.control_number()).into_owned(),
            errors: issues.iter().filter(|i| i.is_error()).count(),
            requests: route_set(router, &set, &tree, guide, lookups),
        })?;
    }
    Ok(())
}

/// Reads, validates and routes every transaction set of an input, collected (for small
/// inputs and tests; [`route_each`] streams).
pub fn route_file(
    router: &Router,
    input: impl std::io::Read,
    lookups: &Lookups<'_>,
) -> std::io::Result<Vec<SetRouting>> {
    let mut out = Vec::new();
    route_each(router, input, lookups, |s| {
        out.push(s);
        Ok(())
    })?;
    Ok(out)
}
