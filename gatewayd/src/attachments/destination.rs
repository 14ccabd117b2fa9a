//! Where a paper attachment goes: the vendor or agency that reviews the item citing it,
//! from the item's routing by the contractor table.
//!
//! * An 837 claim is never split: every attachment of the claim, claim- or line-level,
//!   goes to the claim's queue ([`RequestRouting::claim_route`]).
//! * A 278 event may be split into work items for several vendors: a service-level
//!   attachment (2000F) goes to the work item holding that service; an event-level one
//!   (2000E) to every vendor with a work item of the event, one cover sheet each.
//! * Nothing goes to an item that is rejected or needs no PA, nor to a target the table
//!   marks not routable (LME/MCO, health plans): those are answered back to the
//!   submitter, and so is the attachment.

use super::cover::{CoverError, CoverSheet};
use super::pwk::{AttachmentRef, ItemKind};
use crate::route::table::{Action, Vendor};
use crate::route::{RequestRouting, Table};

/// A vendor that reviews an item, with the PA type it reviews it as.
#[derive(Debug, Clone)]
pub struct Destination<'t> {
    /// The vendor entry of the contractor table.
    pub vendor: &'t Vendor,
    /// The PA type (`dme`, `pharmacy`...): picks the vendor's fax number.
    pub pa_type: String,
}

/// Why a paper attachment gets no cover sheet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unrouted {
    /// The item was not routed to a reviewer: rejected, or no PA required.
    #[error("the item is not sent to a reviewer (routing action {action})")]
    NotForwarded {
        /// `reject` or `no_pa_required`.
        action: &'static str,
    },
    /// The routing has no queue for the item.
    #[error("the item has no vendor queue")]
    NoQueue,
    /// The routing names a vendor the table does not list.
    #[error("vendor {0:?} is not in the contractor table")]
    UnknownVendor(String),
    /// The vendor is answered back to the submitter, never forwarded.
    #[error("{0} is not routable: the submitter is answered instead")]
    NotRoutable(String),
    /// The reference and the routing are not of the same transaction.
    #[error("no routing for {kind:?} {item} of the set")]
    NoRouting {
        /// A PA request or a claim.
        kind: ItemKind,
        /// Its index in the set.
        item: usize,
    },
    /// The cover sheet itself could not be made.
    #[error(transparent)]
    Cover(#[from] CoverError),
}

fn vendor<'t>(table: &'t Table, id: &str, pa_type: &str) -> Result<Destination<'t>, Unrouted> {
    let v = table
        .vendor(id)
        .ok_or_else(|| Unrouted::UnknownVendor(id.to_string()))?;
    if !v.routable {
        return Err(Unrouted::NotRoutable(v.name.clone()));
    }
    Ok(Destination {
        vendor: v,
        pa_type: pa_type.to_string(),
    })
}

/// The vendors that receive `reference`, given the routing of its item (`routing[i]`
/// for `reference.item == i`, as [`crate::route::route_set`] returns them).
pub fn destinations<'t>(
    reference: &AttachmentRef<'_>,
    routing: &[RequestRouting],
    table: &'t Table,
) -> Result<Vec<Destination<'t>>, Unrouted> {
    let no_routing = || Unrouted::NoRouting {
        kind: reference.kind,
        item: reference.item,
    };
    let r = routing.get(reference.item).ok_or_else(no_routing)?;
    match reference.kind {
        ItemKind::Claim => {
            if !r.transaction.name().starts_with("837") {
                return Err(no_routing());
            }
            let q = r.claim_route.as_ref().ok_or(Unrouted::NoQueue)?;
            if q.action != Action::Route {
                return Err(Unrouted::NotForwarded {
                    action: q.action.name(),
                });
            }
            Ok(vec![vendor(table, &q.vendor, &q.pa_type)?])
        }
        ItemKind::PriorApproval => {
            if r.transaction.name() != "278" {
                return Err(no_routing());
            }
            let holding: Vec<_> = match reference.line {
                Some(hl) => r
                    .work_items
                    .iter()
                    .filter(|w| w.services.iter().any(|s| s == hl))
                    .collect(),
                None => Vec::new(),
            };
            let items = if holding.is_empty() {
                r.work_items.iter().collect()
            } else {
                holding
            };
            let Some(first) = items.first() else {
                return Err(match &r.routed.request {
                    Some(d) if d.action != Action::Route => Unrouted::NotForwarded {
                        action: d.action.name(),
                    },
                    _ => Unrouted::NoQueue,
                });
            };
            let forwarded: Vec<_> = items.iter().filter(|w| w.action == Action::Route).collect();
            if forwarded.is_empty() {
                return Err(Unrouted::NotForwarded {
                    action: first.action.name(),
                });
            }
            let mut out: Vec<Destination<'t>> = Vec::new();
            for w in forwarded {
                if out.iter().any(|d| d.vendor.id == w.vendor) {
                    continue;
                }
                out.push(vendor(table, &w.vendor, &w.pa_type)?);
            }
            Ok(out)
        }
    }
}

/// The cover sheets of one reference: one per vendor receiving it.
pub fn cover_sheets(
    reference: &AttachmentRef<'_>,
    routing: &[RequestRouting],
    table: &Table,
) -> Result<Vec<CoverSheet>, Unrouted> {
    destinations(reference, routing, table)?
        .into_iter()
        .map(|d| CoverSheet::new(reference, d.vendor, &d.pa_type).map_err(Unrouted::from))
        .collect()
}
