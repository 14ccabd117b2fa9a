//! The durable store: SQLite through rusqlite (`bundled`), WAL, `synchronous=FULL`.
//!
//! | table | holds |
//! |---|---|
//! | `files` | every received file: partner, inbox name, where it came from (so a file taken just before a crash is recognized), content hash, size, path of the fsynced copy, state |
//! | `interchanges` | every interchange read: its file and position, ISA06/ISA13, outcome, state (`acking` until its acknowledgments are in the outbox, then `done`); UNIQUE(partner, ISA06, ISA13) over the interchanges that claimed the key |
//! | `acks` | every outbox file (TA1, 999, rejection note): name, bytes, whether it is written |
//! | `queue` | vendor queue items: vendor, PA type, state, attempts, `visible_at` (and the bytes of items queued before migration 6) |
//! | `queue_body` | a queue item's bytes: X12, JSON, routing trace |
//! | `pa_status` | the status of each 278 work item (`pending` until its vendor decides; or answered at once by the gateway: `rejected`, `no_pa_required`, `approved`/`pended` by the pharmacy criteria), the decision (certification number, dates, reason, message), its interchange and, when queued, its queue row |
//! | `pa_history` | what happened to each PA request, in order |
//! | `pa_numbers` | every authorization number the gateway issued (pharmacy auto-approval), to its PA status |
//! | `claim_rejects` | 837 claims kept from every vendor (a `reject` route, or rejected by their 277CA), `recorded` until the 277CA answering them is recorded |
//! | `attachments` | PWK attachment uploads: partner, control number, content type, size, hash, stored path, `pending` or `linked`, whether a pending report was logged |
//! | `attachment_refs` | every PWK with a control number in an accepted 278 request or 837 claim: partner, control number, interchange, ST02, request id, PWK01/PWK02 |
//! | `queue_refs` | which of those references each queue item shows its vendor: the ones of the part of the request it holds |
//! | `counters` | the acknowledgment interchange control number, the pharmacy authorization sequence, the payer claim control number sequence |
//!
//! Schema changes are numbered migrations; `PRAGMA user_version` holds how many ran.

use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite said no.
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A file of the store could not be read or written.
    #[error("store: {0}")]
    Io(#[from] std::io::Error),
    /// The database was written by a newer gatewayd.
    #[error("store: schema version {found} is newer than this build's {known}")]
    TooNew {
        /// The version in the file.
        found: u32,
        /// The newest this build knows.
        known: u32,
    },
}

/// The migrations, in order. Never edit one that shipped: add another.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema
    "CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        partner TEXT NOT NULL,
        name TEXT NOT NULL,
        source TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        path TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('received', 'done', 'rejected')),
        note TEXT,
        UNIQUE (partner, name, source)
    );
    CREATE INDEX files_state ON files(state);
    CREATE TABLE interchanges (
        id INTEGER PRIMARY KEY,
        file_id INTEGER NOT NULL REFERENCES files(id),
        seq INTEGER NOT NULL,
        partner TEXT NOT NULL,
        isa06 TEXT NOT NULL,
        isa13 TEXT NOT NULL,
        outcome TEXT NOT NULL,
        holds_key INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('acking', 'done')),
        sets INTEGER NOT NULL,
        routed INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        UNIQUE (file_id, seq)
    );
    CREATE UNIQUE INDEX interchange_key ON interchanges(partner, isa06, isa13) WHERE holds_key = 1;
    CREATE INDEX interchanges_state ON interchanges(state);
    CREATE TABLE acks (
        id INTEGER PRIMARY KEY,
        file_id INTEGER NOT NULL REFERENCES files(id),
        interchange_id INTEGER REFERENCES interchanges(id),
        kind TEXT NOT NULL,
        partner TEXT NOT NULL,
        name TEXT NOT NULL,
        body BLOB NOT NULL,
        written INTEGER NOT NULL DEFAULT 0,
        UNIQUE (partner, name)
    );
    CREATE INDEX acks_unwritten ON acks(written) WHERE written = 0;
    CREATE TABLE queue (
        id INTEGER PRIMARY KEY,
        interchange_id INTEGER NOT NULL REFERENCES interchanges(id),
        vendor TEXT NOT NULL,
        pa_type TEXT NOT NULL,
        action TEXT NOT NULL,
        txn TEXT NOT NULL,
        request_id TEXT NOT NULL,
        set_control TEXT NOT NULL,
        x12 BLOB NOT NULL,
        item TEXT NOT NULL,
        trace TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('held', 'ready', 'leased', 'acked', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        visible_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX queue_lease ON queue(vendor, state, visible_at);
    CREATE INDEX queue_interchange ON queue(interchange_id);
    CREATE TABLE pa_status (
        id INTEGER PRIMARY KEY,
        queue_id INTEGER NOT NULL UNIQUE REFERENCES queue(id),
        partner TEXT NOT NULL,
        bht03 TEXT NOT NULL,
        trn TEXT,
        vendor TEXT NOT NULL,
        pa_type TEXT NOT NULL,
        status TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX pa_status_trn ON pa_status(partner, trn);
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);",
    // 2: vendor decisions on PA requests, their history, lookups by number
    "ALTER TABLE pa_status ADD COLUMN certification TEXT;
    ALTER TABLE pa_status ADD COLUMN effective TEXT;
    ALTER TABLE pa_status ADD COLUMN expires TEXT;
    ALTER TABLE pa_status ADD COLUMN reason TEXT;
    ALTER TABLE pa_status ADD COLUMN message TEXT;
    ALTER TABLE pa_status ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX pa_status_certification ON pa_status(certification);
    CREATE INDEX pa_status_bht03 ON pa_status(partner, bht03);
    CREATE TABLE pa_history (
        id INTEGER PRIMARY KEY,
        pa_id INTEGER NOT NULL REFERENCES pa_status(id),
        at INTEGER NOT NULL,
        event TEXT NOT NULL,
        detail TEXT
    );
    CREATE INDEX pa_history_pa ON pa_history(pa_id);",
    // 3: requests the gateway answers itself (reject, no PA required, pharmacy) have a
    // PA status without a queue row, so pa_status is rebuilt with queue_id nullable and
    // the interchange it came from; authorization numbers issued per service; 837
    // claims a `reject` route keeps from every vendor (the record a 277CA answers from)
    "CREATE TABLE pa_status_v3 (
        id INTEGER PRIMARY KEY,
        queue_id INTEGER UNIQUE REFERENCES queue(id),
        interchange_id INTEGER REFERENCES interchanges(id),
        partner TEXT NOT NULL,
        bht03 TEXT NOT NULL,
        trn TEXT,
        vendor TEXT NOT NULL,
        pa_type TEXT NOT NULL,
        action TEXT NOT NULL DEFAULT 'route',
        status TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        certification TEXT,
        effective TEXT,
        expires TEXT,
        reason TEXT,
        message TEXT,
        created_at INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO pa_status_v3 (id, queue_id, interchange_id, partner, bht03, trn, vendor,
        pa_type, action, status, updated_at, certification, effective, expires, reason,
        message, created_at)
      SELECT p.id, p.queue_id, q.interchange_id, p.partner, p.bht03, p.trn, p.vendor,
        p.pa_type, COALESCE(q.action, 'route'), p.status, p.updated_at, p.certification,
        p.effective, p.expires, p.reason, p.message, p.created_at
      FROM pa_status p LEFT JOIN queue q ON q.id = p.queue_id;
    DROP TABLE pa_status;
    ALTER TABLE pa_status_v3 RENAME TO pa_status;
    CREATE INDEX pa_status_trn ON pa_status(partner, trn);
    CREATE INDEX pa_status_certification ON pa_status(certification);
    CREATE INDEX pa_status_bht03 ON pa_status(partner, bht03);
    CREATE INDEX pa_status_interchange ON pa_status(interchange_id);
    CREATE TABLE pa_numbers (
        number TEXT PRIMARY KEY,
        pa_id INTEGER NOT NULL REFERENCES pa_status(id)
    );
    CREATE INDEX pa_numbers_pa ON pa_numbers(pa_id);
    CREATE TABLE claim_rejects (
        id INTEGER PRIMARY KEY,
        interchange_id INTEGER NOT NULL REFERENCES interchanges(id),
        partner TEXT NOT NULL,
        txn TEXT NOT NULL,
        set_control TEXT NOT NULL,
        claim_id TEXT NOT NULL,
        vendor TEXT NOT NULL,
        pa_type TEXT NOT NULL,
        rule TEXT NOT NULL,
        item TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'recorded' CHECK (state IN ('recorded', 'answered')),
        created_at INTEGER NOT NULL
    );
    CREATE INDEX claim_rejects_interchange ON claim_rejects(interchange_id);
    CREATE INDEX claim_rejects_state ON claim_rejects(state);",
    // 4: PWK attachments: uploads and the transactions that cite them
    "CREATE TABLE attachments (
        id INTEGER PRIMARY KEY,
        partner TEXT NOT NULL,
        control_number TEXT NOT NULL,
        content_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        path TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'linked')),
        received_at INTEGER NOT NULL,
        linked_at INTEGER,
        reported INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX attachments_key ON attachments(partner, control_number);
    CREATE INDEX attachments_pending ON attachments(state, received_at);
    CREATE TABLE attachment_refs (
        id INTEGER PRIMARY KEY,
        interchange_id INTEGER NOT NULL REFERENCES interchanges(id),
        partner TEXT NOT NULL,
        control_number TEXT NOT NULL,
        set_control TEXT NOT NULL,
        request_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        transmission TEXT NOT NULL,
        report_type TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX attachment_refs_key ON attachment_refs(partner, control_number);
    CREATE INDEX attachment_refs_item ON attachment_refs(interchange_id, set_control, request_id);",
    // 5: fingerprints of the claims a 277CA accepted (a SHA-256, never the claim's
    // data), for the duplicate claim edit
    "CREATE TABLE claim_fingerprints (
        partner TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        interchange_id INTEGER NOT NULL REFERENCES interchanges(id),
        created_at INTEGER NOT NULL,
        PRIMARY KEY (partner, fingerprint)
    );",
    // 6: a queue item's bytes (X12, JSON, routing trace: about 8 KB for a claim) in a
    // table of their own, so the row updates of its life (held -> ready -> leased ->
    // acked) rewrite a small row instead of the bytes each time; rows queued before
    // keep their bytes in `queue` (readers take the body's, else the row's)
    "CREATE TABLE queue_body (
        queue_id INTEGER PRIMARY KEY REFERENCES queue(id),
        x12 BLOB NOT NULL,
        item TEXT NOT NULL,
        trace TEXT NOT NULL
    );",
    // 7: which PWK references each queue item may show: the part of the request it
    // holds (a 278 work item: its own services' and its event's, not another vendor's
    // services'). Items queued before keep what they showed (every reference of their
    // request). Removed with their item or reference.
    "CREATE TABLE queue_refs (
        queue_id INTEGER NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
        ref_id INTEGER NOT NULL REFERENCES attachment_refs(id) ON DELETE CASCADE,
        PRIMARY KEY (queue_id, ref_id)
    ) WITHOUT ROWID;
    CREATE INDEX queue_refs_ref ON queue_refs(ref_id);
    INSERT OR IGNORE INTO queue_refs (queue_id, ref_id)
        SELECT q.id, r.id FROM queue q
        JOIN interchanges i ON i.id = q.interchange_id
        JOIN attachment_refs r ON r.interchange_id = q.interchange_id
            AND r.set_control = q.set_control AND r.request_id = q.request_id
            AND r.partner = i.partner;",
    // 8: a file's acknowledgments and answers found by the file (a real-time request
    // reads its outcome by file id)
    "CREATE INDEX acks_file ON acks(file_id);",
];

/// WAL pages (4 KiB) after which the pipeline's own commit checkpoints: a backstop,
/// since a checkpoint thread copies the WAL in passively every 50 ms (SQLite's default,
/// 1,000 pages, made nearly every interchange of a thousand claims checkpoint inline).
pub const PIPELINE_AUTOCHECKPOINT_PAGES: u32 = 16_384;

/// Milliseconds since 1970-01-01 UTC.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Waits for a lock another connection holds: 0.25 ms at a time for the first second,
/// then 5 ms at a time, giving up after about 10 s. SQLite's own busy timeout sleeps
/// up to 100 ms between tries, which made real-time requests (the API inserting a
/// file while the pipeline commits another) wait tens of milliseconds for a lock held
/// for one.
fn busy_wait(tries: i32) -> bool {
    const SHORT: i32 = 4_000;
    if tries < SHORT {
        std::thread::sleep(std::time::Duration::from_micros(250));
        true
    } else if tries < SHORT + 1_800 {
        std::thread::sleep(std::time::Duration::from_millis(5));
        true
    } else {
        false
    }
}

/// Opens (creating when needed) the store at `path`, in WAL mode with
/// `synchronous=FULL`, and runs the migrations it lacks.
pub fn open(path: &Path) -> Result<Connection, StoreError> {
    let mut conn = Connection::open(path)?;
    conn.busy_handler(Some(busy_wait))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // migrations that rebuild a table run with foreign keys off (SQLite's documented
    // procedure; the pragma cannot change inside a transaction), then they are on
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    migrate(&conn)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Runs the migrations the store lacks, each in its own transaction.
pub fn migrate(conn: &Connection) -> Result<u32, StoreError> {
    let known = MIGRATIONS.len() as u32;
    loop {
        let version: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > known {
            return Err(StoreError::TooNew {
                found: version,
                known,
            });
        }
        if version == known {
            return Ok(version);
        }
        // IMMEDIATE: the write lock is taken before reading, so two processes opening
        // one store never race on a migration
        let tx =
            rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate)?;
        // re-read inside the write transaction: another process may have migrated
        let inside: u32 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if inside == version {
            tx.execute_batch(MIGRATIONS[version as usize])?;
            tx.pragma_update(None, "user_version", version + 1)?;
        }
        tx.commit()?;
    }
}

/// A received file, as the store knows it.
#[derive(Debug, Clone)]
pub struct FileRow {
    /// Row id.
    pub id: i64,
    /// Partner id.
    pub partner: String,
    /// Name in the inbox.
    pub name: String,
    /// Content hash (hex SHA-256).
    pub sha256: String,
    /// Size in bytes.
    pub size: i64,
    /// The stored copy, relative to the data dir (empty when none was kept).
    pub path: String,
    /// `received`, `done` or `rejected`.
    pub state: String,
    /// When it was taken (ms since 1970).
    pub received_at: i64,
}

/// What is known of a file before its row exists.
#[derive(Debug, Clone)]
pub struct NewFile<'a> {
    /// Partner id.
    pub partner: &'a str,
    /// Name in the inbox.
    pub name: &'a str,
    /// Device, inode, size and modification time of the inbox file.
    pub source: &'a str,
    /// Content hash (hex SHA-256).
    pub sha256: &'a str,
    /// Size in bytes.
    pub size: u64,
    /// The stored copy, relative to the data dir.
    pub path: &'a str,
}

/// Whether this inbox file (same partner, name and source stamp) was already taken.
pub fn file_taken(
    conn: &Connection,
    partner: &str,
    name: &str,
    source: &str,
) -> Result<bool, StoreError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM files WHERE partner = ?1 AND name = ?2 AND source = ?3",
            params![partner, name, source],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Records a received file (state `received`); returns its id.
pub fn insert_file(conn: &Connection, f: &NewFile<'_>) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO files (partner, name, source, sha256, size, path, received_at, state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'received')",
        params![
            f.partner,
            f.name,
            f.source,
            f.sha256,
            f.size as i64,
            f.path,
            now_ms()
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Files received but not finished, oldest first.
pub fn unfinished_files(conn: &Connection) -> Result<Vec<FileRow>, StoreError> {
    unfinished(conn, "")
}

/// Real-time requests received but not finished (files named `rt-*`), oldest first.
pub fn unfinished_realtime(conn: &Connection) -> Result<Vec<FileRow>, StoreError> {
    unfinished(conn, "AND name LIKE 'rt-%'")
}

fn unfinished(conn: &Connection, and: &str) -> Result<Vec<FileRow>, StoreError> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT id, partner, name, sha256, size, path, state, received_at FROM files
         WHERE state = 'received' {and} ORDER BY id"
    ))?;
    let rows = st.query_map([], |r| {
        Ok(FileRow {
            id: r.get(0)?,
            partner: r.get(1)?,
            name: r.get(2)?,
            sha256: r.get(3)?,
            size: r.get(4)?,
            path: r.get(5)?,
            state: r.get(6)?,
            received_at: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Sets a file's state and note.
pub fn set_file_state(
    conn: &Connection,
    id: i64,
    state: &str,
    note: Option<&str>,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE files SET state = ?2, note = COALESCE(?3, note) WHERE id = ?1",
        params![id, state, note],
    )?;
    Ok(())
}

/// The next acknowledgment interchange control number (1..=999,999,999, wrapping).
pub fn next_ack_control(conn: &Connection) -> Result<u32, StoreError> {
    let cur: Option<i64> = conn
        .query_row(
            "SELECT value FROM counters WHERE name = 'ack_control'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let next = match cur {
        Some(v) if (1..999_999_999).contains(&v) => v + 1,
        _ => 1,
    };
    conn.execute(
        "INSERT INTO counters (name, value) VALUES ('ack_control', ?1)
         ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        params![next],
    )?;
    Ok(next as u32)
}

/// Which interchange (file id, position) holds a partner's ISA06/ISA13 key, if any.
pub fn key_holder(
    conn: &Connection,
    partner: &str,
    isa06: &str,
    isa13: &str,
) -> Result<Option<(i64, i64)>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT file_id, seq FROM interchanges
             WHERE partner = ?1 AND isa06 = ?2 AND isa13 = ?3 AND holds_key = 1",
            params![partner, isa06, isa13],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// Whether the interchange at this position of a file is already recorded.
pub fn interchange_recorded(conn: &Connection, file_id: i64, seq: i64) -> Result<bool, StoreError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM interchanges WHERE file_id = ?1 AND seq = ?2",
            params![file_id, seq],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// An outbox file waiting to be written.
#[derive(Debug, Clone)]
pub struct PendingAck {
    /// Row id.
    pub id: i64,
    /// Partner id.
    pub partner: String,
    /// File name in the outbox.
    pub name: String,
    /// The bytes.
    pub body: Vec<u8>,
    /// The interchange it acknowledges (none for a file-level rejection note).
    pub interchange_id: Option<i64>,
}

/// Outbox files not yet written, in order.
pub fn unwritten_acks(conn: &Connection) -> Result<Vec<PendingAck>, StoreError> {
    let mut st = conn.prepare(
        "SELECT id, partner, name, body, interchange_id FROM acks WHERE written = 0 ORDER BY id",
    )?;
    let rows = st.query_map([], |r| {
        Ok(PendingAck {
            id: r.get(0)?,
            partner: r.get(1)?,
            name: r.get(2)?,
            body: r.get(3)?,
            interchange_id: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Marks acknowledgments written and, in the same transaction, makes their
/// interchanges `done` and their held queue items visible.
pub fn acks_written(conn: &mut Connection, ids: &[i64]) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let now = now_ms();
    for id in ids {
        tx.execute("UPDATE acks SET written = 1 WHERE id = ?1", params![id])?;
    }
    // an interchange whose acknowledgments are all written is done; its items go live
    let done: Vec<i64> = {
        let mut st = tx.prepare(
            "SELECT i.id FROM interchanges i WHERE i.state = 'acking'
             AND NOT EXISTS (SELECT 1 FROM acks a WHERE a.interchange_id = i.id AND a.written = 0)",
        )?;
        let rows = st.query_map([], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    for id in done {
        tx.execute(
            "UPDATE queue SET state = 'ready', visible_at = ?2, updated_at = ?2
             WHERE interchange_id = ?1 AND state = 'held'",
            params![id, now],
        )?;
        tx.execute(
            "UPDATE interchanges SET state = 'done' WHERE id = ?1",
            params![id],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Queue depth per vendor: items ready or leased (not acked, not dead).
pub fn queue_depths(conn: &Connection) -> Result<Vec<(String, String, i64)>, StoreError> {
    let mut st = conn.prepare(
        "SELECT vendor, state, COUNT(*) FROM queue WHERE state IN ('ready', 'leased', 'dead')
         GROUP BY vendor, state ORDER BY vendor, state",
    )?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_3_keeps_pa_statuses() {
        let dir = std::env::temp_dir().join(format!("gatewayd-store3-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.sqlite");
        let _ = std::fs::remove_file(&path);
        {
            let c = Connection::open(&path).unwrap();
            for m in &MIGRATIONS[..2] {
                c.execute_batch(m).unwrap();
            }
            c.pragma_update(None, "user_version", 2).unwrap();
            c.execute_batch(
                "INSERT INTO files VALUES (1, 'demo', 'a', 's', 'h', 1, 'p', 0, 'done', NULL);
                 INSERT INTO interchanges VALUES (7, 1, 1, 'demo', 'S', '1', 'accepted', 1, 'done', 1, 1, 0);
                 INSERT INTO queue (id, interchange_id, vendor, pa_type, action, txn, request_id,
                    set_control, x12, item, trace, state, attempts, visible_at, created_at, updated_at)
                   VALUES (3, 7, 'liberty', 'pcs', 'route', '278', 'B', '1', x'', '{}', '{}', 'ready', 0, 0, 0, 0);
                 INSERT INTO pa_status (id, queue_id, partner, bht03, trn, vendor, pa_type, status,
                    updated_at, certification) VALUES (5, 3, 'demo', 'B', 'T', 'liberty', 'pcs', 'approved', 0, 'C1');
                 INSERT INTO pa_history (pa_id, at, event) VALUES (5, 0, 'queued');",
            )
            .unwrap();
        }
        let c = open(&path).unwrap();
        let row: (i64, i64, String, String) = c
            .query_row(
                "SELECT queue_id, interchange_id, action, certification FROM pa_status WHERE id = 5",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(row, (3, 7, "route".into(), "C1".into()));
        let fk: i64 = c
            .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(fk, 0);
        // answered requests need no queue row
        c.execute(
            "INSERT INTO pa_status (interchange_id, partner, bht03, vendor, pa_type, status, updated_at)
             VALUES (7, 'demo', 'X', 'lme_mco', 'bh', 'rejected', 0)",
            [],
        )
        .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn migration_7_keeps_what_older_items_showed_and_cascades() {
        let dir = std::env::temp_dir().join(format!("gatewayd-store7-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.sqlite");
        let _ = std::fs::remove_file(&path);
        {
            let c = Connection::open(&path).unwrap();
            for m in &MIGRATIONS[..6] {
                c.execute_batch(m).unwrap();
            }
            c.pragma_update(None, "user_version", 6).unwrap();
            c.execute_batch(
                "INSERT INTO files VALUES (1, 'demo', 'a', 's', 'h', 1, 'p', 0, 'done', NULL);
                 INSERT INTO interchanges VALUES (7, 1, 1, 'demo', 'S', '1', 'accepted', 1, 'done', 1, 1, 0);
                 INSERT INTO queue (id, interchange_id, vendor, pa_type, action, txn, request_id,
                    set_control, x12, item, trace, state, attempts, visible_at, created_at, updated_at)
                   VALUES (3, 7, 'csra', 'dme', 'route', '278', 'B', '1', x'', '{}', '{}', 'ready', 0, 0, 0, 0),
                          (4, 7, 'ccme', 'therapies', 'route', '278', 'B', '1', x'', '{}', '{}', 'ready', 0, 0, 0, 0),
                          (5, 7, 'csra', 'dme', 'route', '278', 'OTHER', '1', x'', '{}', '{}', 'ready', 0, 0, 0, 0);
                 INSERT INTO attachment_refs (id, interchange_id, partner, control_number, set_control,
                    request_id, kind, transmission, report_type, created_at)
                   VALUES (10, 7, 'demo', 'CN1', '1', 'B', '278', 'EL', '77', 0),
                          (11, 7, 'other', 'CN2', '1', 'B', '278', 'EL', '77', 0);",
            )
            .unwrap();
        }
        let c = open(&path).unwrap();
        let links = |c: &Connection| -> Vec<(i64, i64)> {
            let mut st = c
                .prepare("SELECT queue_id, ref_id FROM queue_refs ORDER BY 1, 2")
                .unwrap();
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        // both parts of request B keep its reference (as before); never across partners
        assert_eq!(links(&c), [(3, 10), (4, 10)]);
        c.execute("DELETE FROM queue WHERE id = 3", []).unwrap();
        assert_eq!(links(&c), [(4, 10)]);
        c.execute("DELETE FROM attachment_refs WHERE id = 10", [])
            .unwrap();
        assert!(links(&c).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn migrates_once_and_refuses_newer() {
        let dir = std::env::temp_dir().join(format!("gatewayd-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.sqlite");
        let _ = std::fs::remove_file(&path);
        let c = open(&path).unwrap();
        assert_eq!(migrate(&c).unwrap(), MIGRATIONS.len() as u32);
        let mode: String = c
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = c
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "FULL");
        assert_eq!(next_ack_control(&c).unwrap(), 1);
        assert_eq!(next_ack_control(&c).unwrap(), 2);
        c.pragma_update(None, "user_version", 99).unwrap();
        drop(c);
        assert!(matches!(
            open(&path),
            Err(StoreError::TooNew { found: 99, .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
