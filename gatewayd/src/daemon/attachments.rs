//! PWK attachments in the daemon: uploads, links to the items that cite them, vendor
//! access, pending reports.
//!
//! - An upload (`POST /v1/attachments`, see [`super::http`]) is checked from its bytes
//!   ([`crate::attachments::sniff()`]: PDF, TIFF, JPEG or PNG, at most
//!   `attachments.max_bytes`), written under `<data_dir>/attachments/` (`*.part`,
//!   fsync, rename, folder fsync) and then recorded: one `attachments` row, `linked`
//!   when a transaction of the same partner already cites its control number,
//!   `pending` otherwise, in one SQLite transaction.
//! - Every PWK with a control number (PWK06) of an accepted 278 request or 837 claim is
//!   recorded as an `attachment_refs` row (partner, control number, interchange, ST02,
//!   request id) in the interchange's transaction; the same transaction links the
//!   partner's pending uploads with that control number. So whichever arrives second
//!   links, and nothing links across partners: every join is on (partner, control
//!   number).
//! - Each queue item is linked (`queue_refs`, in the same transaction) to the
//!   references of the part of the request it holds ([`link_item`]): a 278 work item to
//!   the PWKs of its own services (2000F) and those of its patient event (2000E), which
//!   every work item of the event shares; an 837 claim item to the PWKs of its claim
//!   (2300) and lines (2400). When a request is split among vendors, a PWK cited only
//!   in another vendor's services is not this vendor's to see.
//! - The vendor whose queue holds an item linked to an attachment's reference sees it
//!   in the lease response (`attachments`: id, content type, control number, size) and
//!   may fetch its bytes while it holds or held the item (leased, acked, or leased
//!   before); PA inquiry lists the attachments of each request (the partner's own, all
//!   of them).
//! - An upload still pending after `attachments.pending_after_seconds` is counted by
//!   the gauge `gatewayd_attachments_pending` and reported once in the log (attachment
//!   id, partner, age; never the content nor the control number).

use super::outbox;
use super::store::{now_ms, StoreError};
use crate::attachments::{AttachmentRef, ContentType};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::Path;

/// The folder of stored uploads under the data dir.
pub const DIR: &str = "attachments";

/// The longest attachment control number accepted (PWK06 is at most 80 characters).
pub const MAX_CONTROL_NUMBER: usize = 80;

/// An attachment as vendors and PA inquiry see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct AttachmentInfo {
    /// Attachment id (for `GET /v1/queues/{vendor}/attachments/{id}`).
    pub id: i64,
    /// The attachment control number (PWK06).
    pub control_number: String,
    /// The content type read from the bytes.
    pub content_type: String,
    /// Size in bytes.
    pub bytes: i64,
    /// When it was uploaded (ms since 1970).
    pub received_at_ms: i64,
}

/// A stored upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stored {
    /// Attachment id.
    pub attachment_id: i64,
    /// The control number it was uploaded with.
    pub control_number: String,
    /// The content type read from the bytes.
    pub content_type: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    /// `linked` (a transaction of the partner cites it) or `pending`.
    pub state: String,
}

/// Whether `s` can be an attachment control number: 1 to 80 printable ASCII
/// characters other than the usual X12 delimiters.
pub fn valid_control_number(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_CONTROL_NUMBER
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'*' | b'~' | b'^' | b':' | b'|'))
}

/// The cluster's counter of attachment ids (`store = "nats"`).
pub const ID_COUNTER: &str = "attachment_id";

fn nats_error(e: super::nats::NatsError) -> StoreError {
    StoreError::Io(std::io::Error::other(e.to_string()))
}

/// Stores an upload durably and records it (see the module documentation). The same
/// bytes uploaded again by the same partner with the same control number give the
/// same attachment. With `shared` (`store = "nats"`) the upload is in the cluster first
/// (see [`super::shared_attachments`]), under an id from the cluster's counter, and
/// counts as linked when a transaction through any instance cites its number.
pub fn store_upload(
    conn: &mut Connection,
    data_dir: &Path,
    partner: &str,
    control_number: &str,
    content_type: ContentType,
    body: &[u8],
    shared: Option<&super::nats::Nats>,
) -> Result<Stored, StoreError> {
    let sha256 = format!("{:x}", Sha256::digest(body));
    let dir = data_dir.join(DIR);
    std::fs::create_dir_all(&dir)?;
    let name = format!("{sha256}.{}", content_type.extension());
    if !dir.join(&name).exists() {
        outbox::write_durably(&dir, &name, body)?;
    }
    if let Some(n) = shared {
        let local: Option<i64> = conn
            .query_row(
                "SELECT id FROM attachments WHERE partner = ?1 AND control_number = ?2
                 AND sha256 = ?3",
                params![partner, control_number, sha256],
                |r| r.get(0),
            )
            .optional()?;
        if local.is_none() {
            let a = n.attachments();
            let cited = conn
                .query_row(
                    "SELECT 1 FROM attachment_refs WHERE partner = ?1 AND control_number = ?2
                     LIMIT 1",
                    params![partner, control_number],
                    |_| Ok(()),
                )
                .optional()?
                .is_some()
                || n.block_on(a.cited(partner, control_number))
                    .map_err(nats_error)?;
            // ids above this store's own, from blocks of the cluster's counter
            conn.execute(
                "INSERT OR IGNORE INTO counters (name, value)
                 SELECT ?1, COALESCE(MAX(id), 0) FROM attachments",
                params![ID_COUNTER],
            )?;
            n.ensure_numbers(conn, ID_COUNTER, 1).map_err(nats_error)?;
            let id: i64 = conn.query_row(
                "UPDATE counters SET value = value + 1 WHERE name = ?1 RETURNING value",
                params![ID_COUNTER],
                |r| r.get(0),
            )?;
            let u = super::shared_attachments::SharedUpload {
                id,
                partner: partner.to_string(),
                control_number: control_number.to_string(),
                content_type: content_type.mime().to_string(),
                size: body.len() as i64,
                sha256: sha256.clone(),
                file: name.clone(),
                received_at: now_ms(),
            };
            let u = n.block_on(a.put(&u, body)).map_err(nats_error)?;
            insert_shared(conn, &u, cited)?;
        }
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let existing: Option<(i64, String)> = tx
        .query_row(
            "SELECT id, state FROM attachments WHERE partner = ?1 AND control_number = ?2
             AND sha256 = ?3",
            params![partner, control_number, sha256],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (id, state) = match existing {
        Some(e) => e,
        None => {
            let cited = tx
                .query_row(
                    "SELECT 1 FROM attachment_refs WHERE partner = ?1 AND control_number = ?2
                     LIMIT 1",
                    params![partner, control_number],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            let state = if cited { "linked" } else { "pending" };
            let now = now_ms();
            tx.execute(
                "INSERT INTO attachments (partner, control_number, content_type, size, sha256,
                    path, state, received_at, linked_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    partner,
                    control_number,
                    content_type.mime(),
                    body.len() as i64,
                    sha256,
                    format!("{DIR}/{name}"),
                    state,
                    now,
                    cited.then_some(now)
                ],
            )?;
            (tx.last_insert_rowid(), state.to_string())
        }
    };
    tx.commit()?;
    Ok(Stored {
        attachment_id: id,
        control_number: control_number.to_string(),
        content_type: content_type.mime().to_string(),
        bytes: body.len() as u64,
        sha256,
        state,
    })
}

/// Records an upload of the cluster in this store (with its cluster id) unless it is
/// here; `linked` when `cited`, else `pending` (the interchange that cites it links it).
fn insert_shared(
    conn: &Connection,
    u: &super::shared_attachments::SharedUpload,
    cited: bool,
) -> Result<(), StoreError> {
    let now = now_ms();
    conn.execute(
        "INSERT OR IGNORE INTO attachments (id, partner, control_number, content_type, size,
            sha256, path, state, received_at, linked_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            u.id,
            u.partner,
            u.control_number,
            u.content_type,
            u.size,
            u.sha256,
            format!("{DIR}/{}", u.file),
            if cited { "linked" } else { "pending" },
            u.received_at,
            cited.then_some(now)
        ],
    )?;
    Ok(())
}

/// With `store = "nats"`, for the references an interchange records: notes in the
/// cluster that `partner` cites each control number, and copies the uploads of it made
/// through other instances into this store (`pending`: the interchange's transaction
/// links them). Inside the interchange's open transaction.
pub fn import_shared(
    conn: &Connection,
    n: &super::nats::Nats,
    partner: &str,
    refs: &[AttachmentRef<'_>],
) -> Result<usize, StoreError> {
    let mut numbers: Vec<&str> = with_control(refs).map(|r| r.control_number).collect();
    numbers.sort_unstable();
    numbers.dedup();
    let a = n.attachments();
    let mut added = 0;
    for cn in numbers {
        n.block_on(a.cite(partner, cn)).map_err(nats_error)?;
        for u in n.block_on(a.of_control(partner, cn)).map_err(nats_error)? {
            insert_shared(conn, &u, false)?;
            added += 1;
        }
    }
    Ok(added)
}

/// The bytes of a stored upload: this instance's copy under the data dir, else (with
/// `store = "nats"`) the cluster's, kept here from then on.
pub fn read_bytes(
    data_dir: &Path,
    path: &str,
    sha256: &str,
    shared: Option<&super::nats::Nats>,
) -> Result<Vec<u8>, StoreError> {
    let full = data_dir.join(path);
    match (std::fs::read(&full), shared) {
        (Ok(b), _) => Ok(b),
        (Err(e), Some(n)) if e.kind() == std::io::ErrorKind::NotFound => {
            let b = n
                .block_on(n.attachments().bytes(sha256))
                .map_err(nats_error)?;
            if let (Some(dir), Some(name)) = (full.parent(), full.file_name()) {
                std::fs::create_dir_all(dir)?;
                outbox::write_durably(dir, &name.to_string_lossy(), &b)?;
            }
            Ok(b)
        }
        (Err(e), _) => Err(e.into()),
    }
}

/// The references that are recorded: those with a control number, in order.
fn with_control<'r, 'a>(
    refs: &'r [AttachmentRef<'a>],
) -> impl Iterator<Item = &'r AttachmentRef<'a>> + 'r {
    refs.iter().filter(|r| !r.control_number.is_empty())
}

/// Records the PWK references (with a control number) of one accepted transaction set,
/// inside the interchange's open transaction. Returns the rows added, one per
/// reference with a control number, in order (what [`link_item`] takes).
pub fn record_refs(
    conn: &Connection,
    interchange_id: i64,
    partner: &str,
    set_control: &str,
    refs: &[AttachmentRef<'_>],
) -> Result<Vec<i64>, StoreError> {
    let mut rows = Vec::new();
    for r in with_control(refs) {
        conn.prepare_cached(
            "INSERT INTO attachment_refs (interchange_id, partner, control_number, set_control,
                request_id, kind, transmission, report_type, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            interchange_id,
            partner,
            r.control_number,
            set_control,
            r.id,
            match r.kind {
                crate::attachments::ItemKind::PriorApproval => "278",
                crate::attachments::ItemKind::Claim => "837",
            },
            r.transmission_code,
            r.report_type,
            now_ms()
        ])?;
        rows.push(conn.last_insert_rowid());
    }
    Ok(rows)
}

/// Links queue items (`queue_rows`, the rows of one routed item of the set: none when
/// the gateway answered it itself) to the references of the part of the request they
/// hold, inside the interchange's transaction. `refs` are the set's references and
/// `rows` what [`record_refs`] returned for them; `item` is the request's index in the
/// set (the 278 patient event, the 837 claim: the order of
/// [`crate::route::route_set`]); `services` the 2000F HL01s of a 278 work item (`None`
/// or empty: every service of the event, as for a claim). Returns the links added.
pub fn link_item(
    conn: &Connection,
    queue_rows: &[i64],
    refs: &[AttachmentRef<'_>],
    rows: &[i64],
    item: usize,
    services: Option<&[String]>,
) -> Result<usize, StoreError> {
    if queue_rows.is_empty() || rows.is_empty() {
        return Ok(0);
    }
    let mut n = 0;
    for (r, row) in with_control(refs).zip(rows) {
        if !visible_to(r, item, services) {
            continue;
        }
        for q in queue_rows {
            n += conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO queue_refs (queue_id, ref_id) VALUES (?1, ?2)",
                )?
                .execute(params![q, row])?;
        }
    }
    Ok(n)
}

/// Whether reference `r` concerns the part of request `item` that holds `services`:
/// the request's own (2000E, 2300) and line-level ones of a claim always; a 278
/// service's (2000F) only when the part holds that service.
pub fn visible_to(r: &AttachmentRef<'_>, item: usize, services: Option<&[String]>) -> bool {
    if r.item != item {
        return false;
    }
    match (r.kind, r.line, services) {
        (crate::attachments::ItemKind::PriorApproval, Some(hl), Some(held)) if !held.is_empty() => {
            held.iter().any(|s| s == hl)
        }
        _ => true,
    }
}

/// Links the pending uploads of the partner whose control numbers the interchange's
/// references cite; inside the interchange's transaction. Returns how many.
pub fn link_interchange(conn: &Connection, interchange_id: i64) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "UPDATE attachments SET state = 'linked', linked_at = ?2
         WHERE state = 'pending' AND EXISTS (SELECT 1 FROM attachment_refs r
            WHERE r.interchange_id = ?1 AND r.partner = attachments.partner
            AND r.control_number = attachments.control_number)",
        params![interchange_id, now_ms()],
    )?)
}

fn info(r: &rusqlite::Row<'_>) -> rusqlite::Result<AttachmentInfo> {
    Ok(AttachmentInfo {
        id: r.get(0)?,
        control_number: r.get(1)?,
        content_type: r.get(2)?,
        bytes: r.get(3)?,
        received_at_ms: r.get(4)?,
    })
}

/// The attachments cited by the part of the request queue item `queue_id` holds (its
/// `queue_refs`, see [`link_item`]).
pub fn of_queue_item(conn: &Connection, queue_id: i64) -> Result<Vec<AttachmentInfo>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT DISTINCT a.id, a.control_number, a.content_type, a.size, a.received_at
         FROM queue_refs qr
         JOIN attachment_refs r ON r.id = qr.ref_id
         JOIN attachments a ON a.partner = r.partner AND a.control_number = r.control_number
         WHERE qr.queue_id = ?1 ORDER BY a.id",
    )?;
    let rows = st.query_map(params![queue_id], info)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The attachment control numbers the part of the request queue item `queue_id`
/// holds cites (its `queue_refs`), sorted.
pub fn cited_by_item(conn: &Connection, queue_id: i64) -> Result<Vec<String>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT DISTINCT r.control_number FROM queue_refs qr
         JOIN attachment_refs r ON r.id = qr.ref_id
         WHERE qr.queue_id = ?1 ORDER BY r.control_number",
    )?;
    let rows = st.query_map(params![queue_id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The attachments cited by PA request `pa_id` (its partner's uploads only).
pub fn of_pa(conn: &Connection, pa_id: i64) -> Result<Vec<AttachmentInfo>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT DISTINCT a.id, a.control_number, a.content_type, a.size, a.received_at
         FROM pa_status p
         JOIN attachment_refs r ON r.interchange_id = p.interchange_id
            AND r.request_id = p.bht03 AND r.partner = p.partner
         JOIN attachments a ON a.partner = r.partner AND a.control_number = r.control_number
         WHERE p.id = ?1 ORDER BY a.id",
    )?;
    let rows = st.query_map(params![pa_id], info)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The stored file (path relative to the data dir) and content type of attachment
/// `id`, when `vendor` holds or held an item whose part of the request cites it
/// ([`link_item`]); `None` otherwise (unknown id, an item the vendor never leased, or a
/// PWK only in another vendor's part of a split request). With them, its SHA-256.
pub fn for_vendor(
    conn: &Connection,
    vendor: &str,
    id: i64,
) -> Result<Option<(String, String, String)>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT a.path, a.content_type, a.sha256 FROM attachments a
             JOIN attachment_refs r ON r.partner = a.partner
                AND r.control_number = a.control_number
             JOIN queue_refs qr ON qr.ref_id = r.id
             JOIN queue q ON q.id = qr.queue_id
             WHERE a.id = ?1 AND q.vendor = ?2
                AND (q.state IN ('leased', 'acked') OR q.attempts > 0)
             LIMIT 1",
            params![id, vendor],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?)
}

/// How many uploads are pending for longer than `after_ms`.
pub fn pending_count(conn: &Connection, after_ms: i64) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM attachments WHERE state = 'pending' AND received_at <= ?1",
        params![now_ms() - after_ms],
        |r| r.get(0),
    )?)
}

/// Logs, once each, the uploads pending for longer than `after_ms` (id, partner, age;
/// no content, no control number). Returns how many were reported now.
pub fn report_pending(conn: &Connection, after_ms: i64) -> Result<usize, StoreError> {
    let now = now_ms();
    let rows: Vec<(i64, String, i64)> = {
        let mut st = conn.prepare_cached(
            "SELECT id, partner, received_at FROM attachments
             WHERE state = 'pending' AND reported = 0 AND received_at <= ?1 ORDER BY id",
        )?;
        let rows = st.query_map(params![now - after_ms], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        rows.collect::<Result<_, _>>()?
    };
    for (id, partner, at) in &rows {
        tracing::warn!(
            attachment = id,
            partner = %partner,
            age_s = (now - at) / 1000,
            "attachment pending: no transaction of its partner cites its control number"
        );
        conn.execute(
            "UPDATE attachments SET reported = 1 WHERE id = ?1",
            params![id],
        )?;
    }
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_numbers() {
        assert!(valid_control_number("ATT0001"));
        assert!(!valid_control_number(""));
        assert!(!valid_control_number("A B"));
        assert!(!valid_control_number("A*B"));
        assert!(!valid_control_number(&"A".repeat(81)));
    }
}
