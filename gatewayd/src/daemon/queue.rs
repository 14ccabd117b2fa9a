//! Vendor queues in the store: leasing by `visible_at` and `attempts`.
//!
//! An item is `held` until its interchange's acknowledgments are in the outbox, then
//! `ready`. A lease makes it `leased` until `visible_at` (now + lease seconds) and
//! counts an attempt; the receipt `ID.ATTEMPT` names that lease, so an ack or nack with
//! the receipt of an expired lease (the item was leased again since) is refused as
//! stale. A lease that runs out makes the item available again; an item leased
//! `max_attempts` times without an ack, or nacked on its last attempt, goes `dead`.

use super::store::{now_ms, StoreError};
use rusqlite::{params, Connection};
use serde::Serialize;

/// One leased item, as handed to the vendor.
#[derive(Debug, Clone, Serialize)]
pub struct Leased {
    /// Item id.
    pub id: i64,
    /// The lease's receipt (`ID.ATTEMPT`), for ack and nack.
    pub receipt: String,
    /// Vendor id.
    pub vendor: String,
    /// PA type.
    pub pa_type: String,
    /// `route`, `reject` or `no_pa_required`.
    pub action: String,
    /// `278`, `837P`, `837I`, `837D`.
    pub transaction: String,
    /// 278 BHT03 or 837 CLM01.
    pub request_id: String,
    /// Leases so far, this one included.
    pub attempts: i64,
    /// When the lease runs out (ms since 1970).
    pub lease_expires_at_ms: i64,
    /// The item as an X12 interchange.
    pub x12: String,
    /// The item's JSON.
    pub item: serde_json::Value,
    /// The routing trace.
    pub trace: serde_json::Value,
    /// PWK attachments uploaded for this item (fetch each with
    /// `GET /v1/queues/{vendor}/attachments/{id}`).
    pub attachments: Vec<super::attachments::AttachmentInfo>,
    /// With `store = "nats"`: the item's `Nats-Msg-Id` (`partner:ISA06:ISA13:GS06:ST02[:n]`),
    /// the same for every delivery of the item, so a consumer can drop a redelivery.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_id: Option<String>,
    /// With `store = "nats"`: the gateway instance that took the item (decisions about it
    /// name it; any instance forwards them there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

/// What a lease call found besides the items.
#[derive(Debug, Clone, Default)]
pub struct LeaseResult {
    /// The items leased.
    pub items: Vec<Leased>,
    /// Expired leases found (counted once, when they are noticed).
    pub expired: u64,
    /// Items that went dead because their last lease ran out.
    pub dead: u64,
}

/// Leases up to `max` visible items of `vendor` for `lease_ms`.
pub fn lease(
    conn: &mut Connection,
    vendor: &str,
    max: u32,
    lease_ms: i64,
    max_attempts: u32,
) -> Result<LeaseResult, StoreError> {
    let now = now_ms();
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut out = LeaseResult::default();
    // leases that ran out: dead after the last attempt, otherwise ready again
    out.dead = tx.execute(
        "UPDATE queue SET state = 'dead', updated_at = ?2
         WHERE vendor = ?1 AND state = 'leased' AND visible_at <= ?2 AND attempts >= ?3",
        params![vendor, now, max_attempts],
    )? as u64;
    out.expired = out.dead
        + tx.execute(
            "UPDATE queue SET state = 'ready', updated_at = ?2
             WHERE vendor = ?1 AND state = 'leased' AND visible_at <= ?2",
            params![vendor, now],
        )? as u64;
    let expires = now + lease_ms;
    {
        let mut pick = tx.prepare(
            "SELECT q.id, q.vendor, q.pa_type, q.action, q.txn, q.request_id, q.attempts,
                COALESCE(b.x12, q.x12), COALESCE(b.item, q.item), COALESCE(b.trace, q.trace)
             FROM queue q LEFT JOIN queue_body b ON b.queue_id = q.id
             WHERE q.vendor = ?1 AND q.state = 'ready' AND q.visible_at <= ?2
             ORDER BY q.visible_at, q.id LIMIT ?3",
        )?;
        let rows = pick.query_map(params![vendor, now, max], |r| {
            let attempts: i64 = r.get(6)?;
            let x12: Vec<u8> = r.get(7)?;
            let item: String = r.get(8)?;
            let trace: String = r.get(9)?;
            let id: i64 = r.get(0)?;
            Ok(Leased {
                id,
                receipt: format!("{id}.{}", attempts + 1),
                vendor: r.get(1)?,
                pa_type: r.get(2)?,
                action: r.get(3)?,
                transaction: r.get(4)?,
                request_id: r.get(5)?,
                attempts: attempts + 1,
                lease_expires_at_ms: expires,
                x12: String::from_utf8_lossy(&x12).into_owned(),
                item: serde_json::from_str(&item).unwrap_or(serde_json::Value::Null),
                trace: serde_json::from_str(&trace).unwrap_or(serde_json::Value::Null),
                attachments: Vec::new(),
                msg_id: None,
                instance: None,
            })
        })?;
        for r in rows {
            out.items.push(r?);
        }
    }
    for it in &mut out.items {
        it.attachments = super::attachments::of_queue_item(&tx, it.id)?;
        tx.execute(
            "UPDATE queue SET state = 'leased', attempts = attempts + 1, visible_at = ?2,
             updated_at = ?3 WHERE id = ?1",
            params![it.id, expires, now],
        )?;
    }
    tx.commit()?;
    Ok(out)
}

/// The outcome of an ack or nack call.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Settled {
    /// Items acked (ack) or made available again (nack).
    pub done: u64,
    /// Items nacked on their last attempt, now dead.
    pub dead: u64,
    /// Receipts that name no current lease of this vendor (expired, settled, unknown).
    pub stale: Vec<String>,
}

fn parse_receipt(r: &str) -> Option<(i64, i64)> {
    let (id, attempt) = r.split_once('.')?;
    Some((id.parse().ok()?, attempt.parse().ok()?))
}

/// Acks leased items: they are done.
pub fn ack(
    conn: &mut Connection,
    vendor: &str,
    receipts: &[String],
) -> Result<Settled, StoreError> {
    settle(conn, vendor, receipts, None, 0)
}

/// Nacks leased items: available again after `delay_ms`, or dead on their last attempt.
pub fn nack(
    conn: &mut Connection,
    vendor: &str,
    receipts: &[String],
    delay_ms: i64,
    max_attempts: u32,
) -> Result<Settled, StoreError> {
    settle(conn, vendor, receipts, Some(delay_ms), max_attempts)
}

fn settle(
    conn: &mut Connection,
    vendor: &str,
    receipts: &[String],
    nack_delay: Option<i64>,
    max_attempts: u32,
) -> Result<Settled, StoreError> {
    let now = now_ms();
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut out = Settled::default();
    for r in receipts {
        let Some((id, attempt)) = parse_receipt(r) else {
            out.stale.push(r.clone());
            continue;
        };
        let n = match nack_delay {
            None => tx.execute(
                "UPDATE queue SET state = 'acked', updated_at = ?4
                 WHERE id = ?1 AND vendor = ?2 AND attempts = ?3 AND state = 'leased'
                 AND visible_at > ?4",
                params![id, vendor, attempt, now],
            )?,
            Some(delay) => {
                let dead = tx.execute(
                    "UPDATE queue SET state = 'dead', updated_at = ?4
                     WHERE id = ?1 AND vendor = ?2 AND attempts = ?3 AND state = 'leased'
                     AND visible_at > ?4 AND attempts >= ?5",
                    params![id, vendor, attempt, now, max_attempts],
                )?;
                out.dead += dead as u64;
                if dead > 0 {
                    continue;
                }
                tx.execute(
                    "UPDATE queue SET state = 'ready', visible_at = ?4 + ?5, updated_at = ?4
                     WHERE id = ?1 AND vendor = ?2 AND attempts = ?3 AND state = 'leased'
                     AND visible_at > ?4",
                    params![id, vendor, attempt, now, delay],
                )?
            }
        };
        if n == 0 {
            out.stale.push(r.clone());
        } else {
            out.done += n as u64;
        }
    }
    tx.commit()?;
    Ok(out)
}
