//! From a received file to acknowledgments and queue items, each step durable before
//! the next is visible.
//!
//! For each interchange of a stored file, in one streaming pass:
//!
//! 1. the duplicate check: UNIQUE(partner, ISA06, ISA13) over the interchanges that
//!    were not rejected; a duplicate gets TA1 note 025 and nothing else. An ISA06 the
//!    partner may not use gets TA1 note 006;
//! 2. every transaction set is validated against its guide and added to its group's
//!    999; sets of a kind the partner may not send are rejected (IK502 1); an 837 set
//!    whose errors are all of the partner's `accept_with_errors` levels and located in
//!    claims is accepted with errors (`E`), its 277CA rejecting those claims (see
//!    [`super::claimack`]);
//! 3. each accepted 278 request and 837 claim is routed into queue items; what the
//!    gateway answers itself (`reject`, `no_pa_required`, pharmacy by its criteria,
//!    see [`super::answer`]) gets its 278 response and PA status instead of a queue
//!    row (a pended pharmacy request gets both), an 837 claim on a `reject` route or
//!    rejected by its 277CA a `claim_rejects` record;
//! 4. one SQLite transaction records the interchange (state `acking`), its TA1 (when
//!    due) and 999s (one per functional group, each its own interchange), one 277CA per
//!    837 set the 999 accepted (see [`super::claimack`]), the 278 responses of the
//!    gateway's own answers, and its queue items (state `held`);
//! 5. the acknowledgments and responses are written to the partner's outbox (`*.part`,
//!    fsync, rename), then one transaction marks them written, the interchange `done`
//!    and its items `ready`.
//!
//! With `store = "nats"` (see [`super::nats`]) the same steps run on the local store,
//! with four additions: the file's bytes go to the JetStream object store before it is
//! read; the duplicate check also creates the interchange's key in the cluster's KV
//! bucket (a key another file holds is a duplicate, TA1 025; a TA1-rejected interchange
//! gives its key back); acknowledgment control numbers come from a block reserved in
//! the cluster; and, after step 5, the ready items are published to the queue stream
//! (`Nats-Msg-Id` = `partner:ISA06:ISA13:GS06:ST02[:n]`) and their stream sequences
//! recorded in `nats_published`, and the PA statuses that changed are put in the
//! cluster's KV bucket (`nats_pa` remembers what was put). The duplicate-claim edit of
//! the 277CA also creates each accepted claim's fingerprint key in the cluster (a key
//! another file holds is a duplicate, A3:54; a rejected group or interchange gives its
//! keys back). Between files the pipeline takes over the files gone instances left
//! `received` ([`Pipeline::take_over_abandoned`]): recorded here from the object store
//! (`nats_takeover` names where each came from), processed like any file, with the
//! keys the gone run created counted as this run's.
//!
//! An interchange the TA1 rejects gets only its TA1, and nothing of it is routed. A
//! file with no interchange, or over the limits, gets a rejection note in the outbox.
//! After a crash, files still `received` are read again from their stored copy:
//! interchanges already recorded are skipped, unwritten acknowledgments are written
//! again under the same names, so the result is the same as without the crash.

use super::answer::{self, Disposition};
use super::claimack;
use super::config::{Config, Partner};
use super::items::{self, Envelope, NewItem};
use super::metrics::Metrics;
use super::outbox::{self, name_part};
use super::store::{self, FileRow, StoreError};
use crate::clock::Stamp;
use crate::route::{EligibilityFile, Lookups, Router};
use rusqlite::{params, Connection, OptionalExtension};
use std::io::BufReader;
use std::sync::Arc;
use x12_837::ack277::render_277ca_interchange;
use x12_core::schema::{LoopRef, LoopTree};
use x12_core::{
    render_999_interchange, Ack999, AckCode, AckEnvelope, AckPolicy, Code, InterchangeHeader,
    InterchangeReport, Issue, Item, Reader, Scope, Ta1, Ta1Ack, Ta1Note, Ta1Policy, Validator,
};

/// Errors while processing a file (the file stays `received` and is retried).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// SQLite failed.
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A file could not be read or written.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A configured file could not be loaded.
    #[error("{0}")]
    Config(String),
    /// A 277CA could not be built (the store could not number its claims).
    #[error(transparent)]
    ClaimAck(#[from] claimack::ClaimAckError),
    /// A file names a partner that is no longer configured.
    #[error("file {0}: its partner is not configured")]
    UnknownPartner(i64),
    /// The NATS store failed (`store = "nats"`).
    #[error(transparent)]
    Nats(#[from] super::nats::NatsError),
}

/// Queue items published to NATS together (sent at once, then their acknowledgments
/// awaited, then recorded in one transaction).
const PUBLISH_BATCH: usize = 256;

/// What an interchange came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// TA1 accepted and every group accepted (fully or with errors).
    Accepted,
    /// TA1 accepted, some sets or groups rejected.
    Partial,
    /// The TA1 rejected it (envelope errors).
    Rejected,
    /// Its ISA13 was already received from this sender (TA1 025).
    Duplicate,
    /// Its ISA06 is not one the partner may use (TA1 006).
    SenderRefused,
}

impl Outcome {
    /// The stable name (`accepted`, `partial`, `rejected`, `duplicate`, `sender_refused`).
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Partial => "partial",
            Outcome::Rejected => "rejected",
            Outcome::Duplicate => "duplicate",
            Outcome::SenderRefused => "sender_refused",
        }
    }

    /// Every outcome, for metrics.
    pub const ALL: [Outcome; 5] = [
        Outcome::Accepted,
        Outcome::Partial,
        Outcome::Rejected,
        Outcome::Duplicate,
        Outcome::SenderRefused,
    ];
}

/// The processing side of the daemon: one SQLite connection, the router, the guides.
pub struct Pipeline {
    conn: Connection,
    cfg: Arc<Config>,
    tables: Arc<Tables>,
    metrics: Arc<Metrics>,
    /// The NATS store, with `store = "nats"`: raw files, the duplicate check across
    /// instances, and the vendor queues the items are published to.
    nats: Option<Arc<super::nats::Nats>>,
    /// Told each file id the pipeline finished (real-time requests wait on it).
    on_done: Option<Arc<dyn Fn(i64) + Send + Sync>>,
    /// Set when a real-time request was recorded: it is processed before the next file.
    urgent: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// The file being processed was taken over from a gone instance: its
    /// `instance:file id` there (the keys it created there are this run's too).
    origin: Option<String>,
    /// When the files of gone instances were last looked for.
    last_takeover: Option<std::time::Instant>,
}

/// What validation and routing read: loaded once.
struct Tables {
    router: Router,
    eligibility: Option<EligibilityFile>,
    providers: Option<crate::route::ProviderFile>,
    validator: Validator,
    criteria: crate::pharmacy::Criteria,
}

/// One interchange being read. Unless it is skipped, a write transaction is open
/// from its ISA to its IEA: its row, its queue items as they are routed, and at the
/// end its outcome and acknowledgments, committed together.
struct Open {
    seq: i64,
    skip: bool,
    refused: Option<Ta1Note>,
    isa06: String,
    isa13: String,
    /// Its row (inside the open transaction).
    id: i64,
    sets: u32,
    groups: Vec<Ack999>,
    current: Option<Ack999>,
    /// Queue rows of the current group (deleted if the group is rejected).
    group_rows: Vec<i64>,
    /// Queue rows kept so far, by vendor.
    routed: std::collections::BTreeMap<String, u64>,
    group_routed: std::collections::BTreeMap<String, u64>,
    /// PA statuses of the current group answered without a queue row.
    group_pas: Vec<i64>,
    /// `claim_rejects` rows of the current group.
    group_claims: Vec<i64>,
    /// The gateway's own 278 responses of the current group: (name, body, status).
    group_answers: Vec<(String, Vec<u8>, &'static str)>,
    /// The responses of accepted groups, recorded after the 999s.
    answers: Vec<(String, Vec<u8>, &'static str)>,
    /// 277CAs of the current group's accepted 837 sets.
    group_277: Vec<claimack::Pending>,
    /// 277CAs of accepted groups, recorded after the 999s.
    claim_acks: Vec<claimack::Ready>,
    /// `attachment_refs` rows of the current group.
    group_refs: Vec<i64>,
    /// Cover sheets (control number, PDF) of the current group's paper attachments.
    group_covers: Vec<(String, Vec<u8>)>,
    /// Cover sheets of accepted groups, recorded after the 999s.
    covers: Vec<(String, Vec<u8>)>,
    /// Fingerprints of the claims accepted groups accept (claimed in the cluster).
    fps_kept: Vec<String>,
    /// Fingerprints claimed for groups rejected since: given back at the end.
    fps_dropped: Vec<String>,
}

impl Pipeline {
    /// Opens the pipeline's store connection and loads the routing tables.
    pub fn new(cfg: Arc<Config>, metrics: Arc<Metrics>) -> Result<Pipeline, PipelineError> {
        let conn = store::open(&cfg.data_dir.join(super::STORE_FILE))?;
        conn.pragma_update(
            None,
            "wal_autocheckpoint",
            store::PIPELINE_AUTOCHECKPOINT_PAGES,
        )
        .map_err(StoreError::from)?;
        let router = cfg
            .router()
            .map_err(|e| PipelineError::Config(e.to_string()))?;
        let eligibility = match &cfg.eligibility_file {
            Some(p) => Some(
                EligibilityFile::load(p, &router.table().benefit_plans)
                    .map_err(|e| PipelineError::Config(e.to_string()))?,
            ),
            None => None,
        };
        let providers = match &cfg.provider_file {
            Some(p) => Some(
                crate::route::ProviderFile::load(p)
                    .map_err(|e| PipelineError::Config(e.to_string()))?,
            ),
            None => None,
        };
        let criteria = crate::pharmacy::Criteria::load_or_bundled(cfg.pharmacy_criteria.as_deref())
            .map_err(|e| PipelineError::Config(e.to_string()))?;
        Ok(Pipeline {
            conn,
            cfg,
            tables: Arc::new(Tables {
                router,
                eligibility,
                providers,
                validator: crate::guides::validator(),
                criteria,
            }),
            metrics,
            nats: None,
            on_done: None,
            urgent: None,
            origin: None,
            last_takeover: None,
        })
    }

    /// Uses the NATS store (`store = "nats"`): files are put in its object store before
    /// they are read, interchange keys are claimed in its KV bucket, and ready queue
    /// items are published to its queue stream (the local `nats_published` table keeps
    /// each item's stream sequence).
    pub fn with_nats(mut self, nats: Arc<super::nats::Nats>) -> Result<Pipeline, PipelineError> {
        self.conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS nats_published (
                queue_id INTEGER PRIMARY KEY REFERENCES queue(id),
                seq INTEGER NOT NULL,
                msg_id TEXT NOT NULL
            );
            CREATE TABLE IF NOT EXISTS nats_pa (
                pa_id INTEGER PRIMARY KEY,
                updated_at INTEGER NOT NULL,
                status TEXT NOT NULL,
                keys TEXT NOT NULL
            );
            CREATE INDEX IF NOT EXISTS nats_pa_status_updated ON pa_status(updated_at);
            CREATE TABLE IF NOT EXISTS nats_takeover (
                file_id INTEGER PRIMARY KEY REFERENCES files(id),
                origin TEXT NOT NULL UNIQUE
            );",
        )?;
        self.nats = Some(nats);
        Ok(self)
    }

    /// The flag real-time requests set once recorded: between files (inbox files,
    /// unfinished files) the pipeline then processes the waiting real-time requests
    /// first, so one waits for at most the file in progress.
    pub fn set_urgent(&mut self, flag: Arc<std::sync::atomic::AtomicBool>) {
        self.urgent = Some(flag);
    }

    /// Processes the real-time requests waiting (files named `rt-*`) when the flag says
    /// some arrived; returns the ids processed.
    pub fn process_urgent(&mut self) -> Result<Vec<i64>, PipelineError> {
        let due = self
            .urgent
            .as_ref()
            .is_some_and(|f| f.swap(false, std::sync::atomic::Ordering::AcqRel));
        if !due {
            return Ok(Vec::new());
        }
        let files = store::unfinished_realtime(&self.conn)?;
        for f in &files {
            self.process_file(f)?;
        }
        Ok(files.iter().map(|f| f.id).collect())
    }

    /// Calls `f` with a file's id as soon as an outcome of it is durable: when the
    /// transaction of each of its interchanges commits (its TA1/999 and the gateway's
    /// answers are in the store; the outbox files follow), and when the file is
    /// finished (processed to the end, or rejected).
    pub fn set_on_done(&mut self, f: Arc<dyn Fn(i64) + Send + Sync>) {
        self.on_done = Some(f);
    }

    fn done(&self, file: i64) {
        if let Some(f) = &self.on_done {
            f(file);
        }
    }

    /// The pipeline's connection (the inbox scanner records files through it).
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Writes every acknowledgment recorded but not yet in an outbox, then marks them
    /// written (making their interchanges `done` and their items visible).
    pub fn flush_acks(&mut self) -> Result<usize, PipelineError> {
        let pending = store::unwritten_acks(&self.conn)?;
        if let Some(n) = self.nats.clone() {
            // recorded in the cluster before they are written (see super::shared_acks)
            let ids = super::shared_acks::flush(&self.conn, &n, &self.cfg, &pending)?;
            store::acks_written(&mut self.conn, &ids)?;
            self.publish_ready()?;
            self.mirror_pa()?;
            return Ok(ids.len());
        }
        let mut ids = Vec::with_capacity(pending.len());
        for a in &pending {
            let Some(p) = self.cfg.partner(&a.partner) else {
                tracing::warn!(
                    ack = a.id,
                    "acknowledgment for a partner no longer configured"
                );
                continue;
            };
            std::fs::create_dir_all(&p.outbox)?;
            outbox::write_durably(&p.outbox, &a.name, &a.body)?;
            ids.push(a.id);
        }
        store::acks_written(&mut self.conn, &ids)?;
        self.publish_ready()?;
        self.mirror_pa()?;
        Ok(ids.len())
    }

    /// With the NATS store: publishes every ready item not yet published, in order,
    /// each with its `Nats-Msg-Id`, and records its stream sequence in `nats_published`
    /// (the local row stays `ready`: its leases, acks and dead letters are the stream's;
    /// a lease through this instance counts an attempt on it, which gives the vendor
    /// access to its attachments).
    /// A crash between the publish and the record publishes again under the same id,
    /// which the server drops.
    fn publish_ready(&mut self) -> Result<usize, PipelineError> {
        let Some(nats) = self.nats.clone() else {
            return Ok(0);
        };
        let rows = {
            let mut st = self.conn.prepare(
                "SELECT q.id, q.vendor, q.pa_type, q.action, q.txn, q.request_id, q.set_control,
                    i.partner, i.isa06, i.isa13, COALESCE(b.x12, q.x12), COALESCE(b.item, q.item),
                    COALESCE(b.trace, q.trace),
                    (SELECT COUNT(*) FROM queue e WHERE e.interchange_id = q.interchange_id
                       AND e.set_control = q.set_control AND e.id < q.id)
                 FROM queue q JOIN interchanges i ON i.id = q.interchange_id
                 LEFT JOIN queue_body b ON b.queue_id = q.id
                 WHERE q.state = 'ready'
                   AND NOT EXISTS (SELECT 1 FROM nats_published p WHERE p.queue_id = q.id)
                 ORDER BY q.id",
            )?;
            let rows = st.query_map([], |r| {
                let item: String = r.get(11)?;
                let trace: String = r.get(12)?;
                let x12: Vec<u8> = r.get(10)?;
                let item: serde_json::Value =
                    serde_json::from_str(&item).unwrap_or(serde_json::Value::Null);
                let gs06 = item["envelope"]["gs06"].as_str().unwrap_or("").to_string();
                let partner: String = r.get(7)?;
                let isa06: String = r.get(8)?;
                let isa13: String = r.get(9)?;
                let st02: String = r.get(6)?;
                let split: i64 = r.get(13)?;
                let mut msg_id = format!("{partner}:{isa06}:{isa13}:{gs06}:{st02}");
                if split > 0 {
                    msg_id.push_str(&format!(":{}", split + 1));
                }
                Ok(super::nats::QueuedItem {
                    id: r.get(0)?,
                    msg_id,
                    instance: nats.instance().to_string(),
                    vendor: r.get(1)?,
                    pa_type: r.get(2)?,
                    action: r.get(3)?,
                    transaction: r.get(4)?,
                    request_id: r.get(5)?,
                    x12: String::from_utf8_lossy(&x12).into_owned(),
                    item,
                    trace: serde_json::from_str(&trace).unwrap_or(serde_json::Value::Null),
                    attachments: Vec::new(),
                    partner,
                    cites: Vec::new(),
                })
            })?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        let n = rows.len();
        let mut rows = rows;
        for chunk in rows.chunks_mut(PUBLISH_BATCH) {
            for it in chunk.iter_mut() {
                it.attachments = super::attachments::of_queue_item(&self.conn, it.id)?;
                it.cites = super::attachments::cited_by_item(&self.conn, it.id)?;
            }
            let seqs = nats.block_on(nats.publish_items(chunk))?;
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            for (it, seq) in chunk.iter().zip(seqs) {
                tx.execute(
                    "INSERT OR REPLACE INTO nats_published (queue_id, seq, msg_id)
                     VALUES (?1, ?2, ?3)",
                    params![it.id, seq as i64, it.msg_id],
                )?;
            }
            tx.commit()?;
        }
        if n > 0 {
            tracing::debug!(items = n, "queue items published");
        }
        Ok(n)
    }

    /// With the NATS store: puts the PA requests whose status changed since they were
    /// last mirrored in the cluster's KV bucket (one key per number they are found by),
    /// so a PA inquiry through any instance finds them, even with this one down. Looks
    /// at the rows changed in the last minute (a decision commits beside the pipeline)
    /// and skips those mirrored as they are.
    fn mirror_pa(&mut self) -> Result<usize, PipelineError> {
        let Some(nats) = self.nats.clone() else {
            return Ok(0);
        };
        let mark: i64 = self.conn.query_row(
            "SELECT COALESCE(MAX(updated_at), 0) FROM nats_pa",
            [],
            |r| r.get(0),
        )?;
        let changed: Vec<(i64, Option<String>)> = {
            let mut st = self.conn.prepare_cached(
                "SELECT p.id, m.keys FROM pa_status p LEFT JOIN nats_pa m ON m.pa_id = p.id
                 WHERE p.updated_at >= ?1 - 60000
                   AND (m.pa_id IS NULL OR m.updated_at != p.updated_at OR m.status != p.status)
                 ORDER BY p.id",
            )?;
            let rows = st.query_map(params![mark], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let n = changed.len();
        for (id, old) in changed {
            let old: Vec<String> = old
                .and_then(|o| serde_json::from_str(&o).ok())
                .unwrap_or_default();
            mirror_pa_row(&self.conn, &nats, id, &old)?;
        }
        Ok(n)
    }

    /// The NATS store, with `store = "nats"`.
    pub fn nats(&self) -> Option<&Arc<super::nats::Nats>> {
        self.nats.as_ref()
    }

    /// With `store = "nats"`, at most every `nats.heartbeat_seconds`: takes over the
    /// files gone instances left `received` (see [`super::nats::Nats::take_abandoned`]):
    /// each one's bytes from the object store are recorded here like a received file
    /// (with its origin in `nats_takeover`), so the next [`Pipeline::process_pending`]
    /// processes it; returns how many were taken.
    pub fn take_over_abandoned(&mut self) -> Result<usize, PipelineError> {
        let Some(n) = self.nats.clone() else {
            return Ok(0);
        };
        let every = std::time::Duration::from_secs(n.settings().heartbeat_seconds);
        if self.last_takeover.is_some_and(|t| t.elapsed() < every) {
            return Ok(0);
        }
        self.last_takeover = Some(std::time::Instant::now());
        let cfg = &self.cfg;
        // a partner this gateway does not serve: left to an instance that does
        let serves = |partner: &str| cfg.partner(partner).is_some();
        let found = n.block_on(n.take_abandoned(&serves))?;
        let mut taken = 0;
        for a in found {
            let existing: Option<i64> = self
                .conn
                .query_row(
                    "SELECT file_id FROM nats_takeover WHERE origin = ?1",
                    [&a.origin],
                    |r| r.get(0),
                )
                .optional()?;
            let id = match existing {
                Some(id) => id,
                None => {
                    let bytes = n.block_on(n.fetch_raw(&a.object))?;
                    let tx = self
                        .conn
                        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                    let row = super::ingest::receive_named(
                        &tx,
                        &self.cfg.data_dir,
                        &a.partner,
                        &bytes,
                        "takeover",
                    )?;
                    tx.execute(
                        "UPDATE files SET name = ?2 WHERE id = ?1",
                        params![row.id, a.name],
                    )?;
                    tx.execute(
                        "INSERT INTO nats_takeover (file_id, origin) VALUES (?1, ?2)",
                        params![row.id, a.origin],
                    )?;
                    tx.commit()?;
                    self.metrics.file_received();
                    row.id
                }
            };
            n.block_on(n.file_taken_over(&a, id))?;
            tracing::warn!(file = id, origin = %a.origin, "took over a gone instance's file");
            taken += 1;
        }
        Ok(taken)
    }

    /// Processes every file received but not finished, oldest first. Stops between
    /// files when `stop` says so.
    pub fn process_pending(&mut self, stop: &dyn Fn() -> bool) -> Result<usize, PipelineError> {
        self.flush_acks()?;
        let mut n = 0;
        let mut urgent = std::collections::HashSet::new();
        for f in store::unfinished_files(&self.conn)? {
            if stop() {
                break;
            }
            for id in self.process_urgent()? {
                urgent.insert(id);
                n += 1;
            }
            if urgent.contains(&f.id) {
                continue;
            }
            self.process_file(&f)?;
            n += 1;
        }
        Ok(n)
    }

    /// Records a file-level rejection (oversized, not X12, too many sets) and writes its
    /// note to the partner's outbox.
    pub fn reject_file(&mut self, file: &FileRow, reason: &str) -> Result<(), PipelineError> {
        let body = format!(
            "gatewayd rejected file {:?}\nreceived as file {} ({} bytes, sha256 {})\nreason: {}\nnothing in this file was acknowledged or routed; correct it and send it again\n",
            file.name, file.id, file.size, file.sha256, reason
        );
        let name = format!("REJECTED-{}-{}.txt", file.id, safe_name(&file.name));
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO acks (file_id, interchange_id, kind, partner, name, body)
             VALUES (?1, NULL, 'reject', ?2, ?3, ?4)
             ON CONFLICT(partner, name) DO NOTHING",
            params![file.id, file.partner, name, body.as_bytes()],
        )?;
        store::set_file_state(&tx, file.id, "rejected", Some(reason))?;
        tx.commit()?;
        self.metrics.file_rejected();
        tracing::info!(file = file.id, partner = %file.partner, "file rejected");
        self.flush_acks()?;
        self.done(file.id);
        Ok(())
    }

    /// Processes one stored file to the end (see the module documentation).
    pub fn process_file(&mut self, file: &FileRow) -> Result<(), PipelineError> {
        let partner = self
            .cfg
            .partner(&file.partner)
            .cloned()
            .ok_or(PipelineError::UnknownPartner(file.id))?;
        if file.path.is_empty() {
            // recorded without a copy: over the size limit (the rejection was cut short)
            let why = format!(
                "the file is larger than the limit of {} bytes ({} bytes)",
                self.cfg.limits.max_file_bytes, file.size
            );
            return self.reject_file(file, &why);
        }
        let path = self.cfg.data_dir.join(&file.path);
        self.origin = None;
        if let Some(n) = self.nats.clone() {
            // the shared copy, before anything of the file is acknowledged
            if !n.block_on(n.put_raw(file.id, &file.partner, &file.name, &file.sha256, &path))? {
                // taken for gone meanwhile: another instance processes it
                store::set_file_state(
                    &self.conn,
                    file.id,
                    "done",
                    Some("taken over by another instance"),
                )?;
                tracing::warn!(
                    file = file.id,
                    "file taken over by another instance; skipped"
                );
                self.done(file.id);
                return Ok(());
            }
            self.origin = self
                .conn
                .query_row(
                    "SELECT origin FROM nats_takeover WHERE file_id = ?1",
                    [file.id],
                    |r| r.get(0),
                )
                .optional()?;
            test_pause("raw");
        }
        let open = || -> Result<BufReader<std::fs::File>, PipelineError> {
            Ok(BufReader::with_capacity(
                1 << 16,
                std::fs::File::open(&path)?,
            ))
        };
        // a first, envelope-only pass: is it X12 at all, and within the limits?
        let (mut interchanges, mut sets) = (0u64, 0u64);
        let mut first_issue: Option<String> = None;
        for item in Reader::new(open()?) {
            match item? {
                Item::Transaction(_) => sets += 1,
                Item::InterchangeEnd(r) => {
                    if r.header.is_some() {
                        interchanges += 1;
                    } else if first_issue.is_none() {
                        first_issue = r.issues.first().map(|i| i.message.clone());
                    }
                }
                _ => {}
            }
        }
        if interchanges == 0 {
            let why = match (file.size, first_issue) {
                (0, _) => "the file is empty".to_string(),
                (_, Some(m)) => format!("not an X12 interchange: {m}"),
                (_, None) => "not an X12 interchange: no ISA segment".to_string(),
            };
            return self.reject_file(file, &why);
        }
        if sets > self.cfg.limits.max_sets_per_file {
            let why = format!(
                "{sets} transaction sets, more than the limit of {} per file",
                self.cfg.limits.max_sets_per_file
            );
            return self.reject_file(file, &why);
        }
        if let Some(n) = &self.nats {
            // enough numbers of this instance's blocks for the whole file: acknowledgment
            // control numbers (TA1, 999s, 277CAs, the gateway's own 278 answers),
            // pharmacy authorization numbers (a few per 278 set at most), payer claim
            // control numbers (a claim takes more than 150 bytes)
            n.ensure_ack_numbers(&self.conn, 4 * sets + 8 * interchanges + 64)?;
            n.ensure_numbers(&self.conn, "pa_authorization", 4 * sets + 64)?;
            n.ensure_numbers(
                &self.conn,
                claimack::COUNTER,
                (file.size.max(0) as u64) / 150 + 64,
            )?;
        }

        let tables = self.tables.clone();
        let mut stray: Vec<String> = Vec::new();
        let mut seq = 0i64;
        let result = self.read_interchanges(file, &partner, &tables, open()?, &mut stray, &mut seq);
        if !self.conn.is_autocommit() {
            // an error (or an ISA the reader gave up on) left a transaction open
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        result?;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if !stray.is_empty() {
            let mut body = format!(
                "gatewayd found data outside any interchange in file {:?} (file {}):\n",
                file.name, file.id
            );
            for s in stray.iter().take(100) {
                body.push_str(s);
                body.push('\n');
            }
            tx.execute(
                "INSERT INTO acks (file_id, interchange_id, kind, partner, name, body)
                 VALUES (?1, NULL, 'note', ?2, ?3, ?4) ON CONFLICT(partner, name) DO NOTHING",
                params![
                    file.id,
                    file.partner,
                    format!("NOTE-{}-{}.txt", file.id, safe_name(&file.name)),
                    body.as_bytes()
                ],
            )?;
        }
        store::set_file_state(&tx, file.id, "done", None)?;
        tx.commit()?;
        self.flush_acks()?;
        if let Some(n) = &self.nats {
            n.block_on(n.file_processed(file.id, &file.partner, &file.name, &file.sha256))?;
        }
        tracing::info!(
            file = file.id,
            partner = %file.partner,
            interchanges = seq,
            "file processed"
        );
        self.done(file.id);
        Ok(())
    }

    /// The main pass over a stored file.
    fn read_interchanges(
        &mut self,
        file: &FileRow,
        partner: &Partner,
        tables: &Tables,
        input: BufReader<std::fs::File>,
        stray: &mut Vec<String>,
        seq: &mut i64,
    ) -> Result<(), PipelineError> {
        let eligibility: &dyn crate::route::Eligibility = match &tables.eligibility {
            Some(e) => e,
            None => &crate::route::NoEligibility,
        };
        let mut tree = LoopTree::default();
        let mut cur: Option<Open> = None;
        // every error rejects, or (837 sets whose errors claims carry) the partner's
        // levels only mark the set accepted with errors
        let strict = AckPolicy::default();
        let lenient = AckPolicy {
            accept_with_errors: partner.accept_with_errors.clone(),
        };
        for item in Reader::new(input) {
            match item? {
                Item::Segment(raw) => {
                    // an interchange opens at its ISA, so groups without sets are
                    // acknowledged too; an ISA the reader cannot use opens nothing
                    let r = raw.as_ref();
                    if r.segment.id() != b"ISA" {
                        continue;
                    }
                    let at = r.lead.len().min(raw.as_bytes().len());
                    if let Ok((h, _)) = InterchangeHeader::parse(&raw.as_bytes()[at..]) {
                        self.abandon(file.id, &partner.id, cur.take())?;
                        *seq += 1;
                        cur = Some(self.open_interchange(file, partner, &h, *seq)?);
                    }
                }
                Item::Transaction(set) => {
                    let Some(h) = set.interchange().cloned() else {
                        continue;
                    };
                    if cur.is_none() {
                        *seq += 1;
                        cur = Some(self.open_interchange(file, partner, &h, *seq)?);
                    }
                    let Some(ic) = cur.as_mut() else { continue };
                    ic.sets += 1;
                    if ic.skip || ic.refused.is_some() {
                        continue;
                    }
                    let (guide, mut issues) = tables.validator.check_set(&set, &mut tree);
                    if let Some(kind) = transaction_kind(&set) {
                        if !partner.transactions.iter().any(|t| t == kind) {
                            issues.push(Issue::error(
                                Code::UnknownGuide,
                                Scope::Set,
                                format!("{kind} transactions are not accepted from this partner"),
                            ));
                        }
                    }
                    let root = guide.map(|g| LoopRef::root(&set, &tree, g));
                    let policy = if claimack::accepts_with_errors(
                        &lenient.accept_with_errors,
                        root,
                        &issues,
                    ) {
                        &lenient
                    } else {
                        &strict
                    };
                    let ack = ic
                        .current
                        .get_or_insert_with(|| Ack999::new(set.group().map(|g| &**g)));
                    ack.add_set(&set, &issues, policy);
                    let accepted = ack
                        .sets
                        .last()
                        .is_some_and(|s| s.status != AckCode::Rejected);
                    let Some(guide) = guide.filter(|_| accepted) else {
                        continue;
                    };
                    let pa_index = super::pa::ClusterPaIndex {
                        local: super::pa::StorePaIndex { conn: &self.conn },
                        nats: self.nats.as_deref(),
                    };
                    let lookups = Lookups {
                        eligibility,
                        pa_index: &pa_index,
                        providers: tables.providers.as_ref(),
                    };
                    let routings =
                        crate::route::route_set(&tables.router, &set, &tree, guide, &lookups);
                    let root = LoopRef::root(&set, &tree, guide);
                    let mut rejections = Vec::new();
                    if x12_837::kind_of(guide.version.as_bytes()).is_some() {
                        let nats = self.nats.clone();
                        let owner = nats.as_ref().map(|n| n.owner(file.id, ic.seq));
                        let alias = self.origin.as_ref().map(|o| format!("{o}:{}", ic.seq));
                        let shared = |f: &str| -> Result<bool, String> {
                            let (Some(n), Some(owner)) = (&nats, &owner) else {
                                return Ok(false);
                            };
                            n.block_on(n.claim_fingerprint(&partner.id, f, owner, alias.as_deref()))
                                .map(|c| c == super::nats::Claim::Other)
                                .map_err(|e| e.to_string())
                        };
                        let pending = claimack::build(
                            &self.conn,
                            &set,
                            root,
                            &issues,
                            &routings,
                            file.received_at,
                            &claimack::Edits {
                                partner: &partner.id,
                                eligibility: tables.eligibility.as_ref(),
                                earlier: &ic.group_277,
                                shared: nats.is_some().then_some(&shared as _),
                            },
                        )?;
                        rejections = pending.rejections();
                        ic.group_277.push(pending);
                    }
                    // PWK attachments: the references uploads link to, and a cover
                    // sheet for each one sent by fax or mail
                    let refs = crate::attachments::references(root, guide);
                    let st02 = String::from_utf8_lossy(set.control_number()).into_owned();
                    if let Some(n) = &self.nats {
                        super::attachments::import_shared(&self.conn, n, &partner.id, &refs)?;
                    }
                    let rows = super::attachments::record_refs(
                        &self.conn,
                        ic.id,
                        &partner.id,
                        &st02,
                        &refs,
                    )?;
                    ic.group_refs.extend(&rows);
                    // (none for a claim its 277CA rejects: no vendor will look for it)
                    let held = |i: usize| matches!(rejections.get(i), Some(Some(_)));
                    for r in refs
                        .iter()
                        .filter(|r| r.transmission.needs_cover_sheet() && !held(r.item))
                    {
                        match crate::attachments::cover_sheets(r, &routings, tables.router.table())
                        {
                            Ok(sheets) => {
                                for sheet in sheets {
                                    match sheet.render() {
                                        Ok(pdf) => ic
                                            .group_covers
                                            .push((sheet.control_number.clone(), pdf)),
                                        Err(e) => tracing::warn!(
                                            partner = %partner.id,
                                            set = %st02,
                                            error = %e,
                                            "no cover sheet"
                                        ),
                                    }
                                }
                            }
                            Err(e) => tracing::warn!(
                                partner = %partner.id,
                                set = %st02,
                                error = %e,
                                "no cover sheet"
                            ),
                        }
                    }
                    let mut claims = x12_837::claims(root);
                    let (isa06, isa13) = (ic.isa06.clone(), ic.isa13.clone());
                    let env = Envelope {
                        partner: &partner.id,
                        isa06: &isa06,
                        isa13: &isa13,
                    };
                    for (n, r) in routings.iter().enumerate() {
                        // route_set gives one routing per claim, in claim order
                        let claim = if r.transaction.name() == "278" {
                            None
                        } else {
                            claims.next().map(|c| c.node)
                        };
                        let built = items::build(&set, &tree, r, claim, &env);
                        for (k, mut it) in built.into_iter().enumerate() {
                            // a claim its 277CA rejects goes to no vendor
                            if let Some(Some(statuses)) = rejections.get(n) {
                                claimack::mark_rejected(&mut it, statuses);
                            }
                            // 278 items come one per work item, in order
                            let w = r.work_items.get(k);
                            let first = ic.group_rows.len();
                            self.place_item(ic, &partner.id, tables, r, w, it)?;
                            // its vendor sees the PWKs of the part it holds
                            super::attachments::link_item(
                                &self.conn,
                                &ic.group_rows[first..],
                                &refs,
                                &rows,
                                n,
                                w.map(|w| w.services.as_slice()),
                            )?;
                        }
                    }
                }
                Item::GroupEnd(report) => {
                    let Some(ic) = cur.as_mut() else { continue };
                    if ic.skip || ic.refused.is_some() {
                        continue;
                    }
                    let ack = ic
                        .current
                        .take()
                        .unwrap_or_else(|| Ack999::new(report.header.as_deref()))
                        .finish(&report);
                    if ack.status == AckCode::Rejected {
                        drop_group(&self.conn, ic)?;
                    } else {
                        ic.group_rows.clear();
                        ic.group_pas.clear();
                        ic.group_claims.clear();
                        ic.group_refs.clear();
                        ic.covers.append(&mut ic.group_covers);
                        for (v, n) in std::mem::take(&mut ic.group_routed) {
                            *ic.routed.entry(v).or_default() += n;
                        }
                        ic.answers.append(&mut ic.group_answers);
                        let h = report.header.as_deref();
                        let f = |b: Option<&[u8]>| {
                            String::from_utf8_lossy(b.unwrap_or(b"")).into_owned()
                        };
                        for p in ic.group_277.drain(..) {
                            // accepted claims count for later duplicates from here on
                            claimack::remember(&self.conn, &partner.id, ic.id, &p.fingerprints)?;
                            ic.fps_kept.extend(p.fingerprints.iter().cloned());
                            ic.claim_acks.push(claimack::Ready {
                                gs02: f(h.map(|h| h.sender())),
                                gs03: f(h.map(|h| h.receiver())),
                                gs06: ack.group_control.clone(),
                                st02: p.st02,
                                ack: p.ack,
                            });
                        }
                    }
                    let is_ack = report
                        .header
                        .as_ref()
                        .is_some_and(|h| h.functional_id() == b"FA");
                    if !is_ack {
                        ic.groups.push(ack);
                    }
                }
                Item::InterchangeEnd(report) => {
                    let Some(h) = report.header.clone() else {
                        stray.extend(
                            report
                                .issues
                                .iter()
                                .filter(|i| i.is_error())
                                .map(|i| i.to_string()),
                        );
                        continue;
                    };
                    let ic = match cur.take() {
                        Some(ic) => ic,
                        None => {
                            *seq += 1;
                            self.open_interchange(file, partner, &h, *seq)?
                        }
                    };
                    if !ic.skip {
                        self.finish_interchange(file, partner, ic, &report)?;
                    }
                }
            }
        }
        self.abandon(file.id, &partner.id, cur.take())
    }

    /// Drops an interchange the reader never closed (its ISA could be read but the
    /// reader did not accept it): nothing of it is kept.
    fn abandon(&mut self, file: i64, partner: &str, ic: Option<Open>) -> Result<(), PipelineError> {
        let Some(mut ic) = ic.filter(|ic| !ic.skip) else {
            return Ok(());
        };
        if !self.conn.is_autocommit() {
            self.conn.execute_batch("ROLLBACK")?;
        }
        if let Some(n) = &self.nats {
            // nothing of it is kept: neither are its claims
            let mut back = std::mem::take(&mut ic.fps_kept);
            back.append(&mut ic.fps_dropped);
            back.extend(ic.group_277.drain(..).flat_map(|p| p.fingerprints));
            n.block_on(n.release_fingerprints(partner, &back, &n.owner(file, ic.seq)))?;
        }
        Ok(())
    }

    fn open_interchange(
        &mut self,
        file: &FileRow,
        partner: &Partner,
        h: &InterchangeHeader,
        seq: i64,
    ) -> Result<Open, PipelineError> {
        let isa06 = String::from_utf8_lossy(h.sender_id()).trim().to_string();
        let isa13 = String::from_utf8_lossy(h.control_number())
            .trim()
            .to_string();
        let skip = store::interchange_recorded(&self.conn, file.id, seq)?;
        let mut id = 0;
        let mut refused = None;
        if !skip {
            refused = if !partner.allows_sender(&isa06) {
                Some(Ta1Note::InvalidSenderId)
            } else {
                match store::key_holder(&self.conn, &partner.id, &isa06, &isa13)? {
                    Some(holder) if holder != (file.id, seq) => {
                        Some(Ta1Note::DuplicateControlNumber)
                    }
                    _ => match &self.nats {
                        // the permanent check across every instance
                        Some(n) => {
                            let key =
                                super::nats::Nats::interchange_key(&partner.id, &isa06, &isa13);
                            let alias = self.origin.as_ref().map(|o| format!("{o}:{seq}"));
                            match n.block_on(n.claim_interchange(
                                &key,
                                &n.owner(file.id, seq),
                                alias.as_deref(),
                            ))? {
                                super::nats::Claim::Ours => None,
                                super::nats::Claim::Other => Some(Ta1Note::DuplicateControlNumber),
                            }
                        }
                        None => None,
                    },
                }
            };
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            self.conn.execute(
                "INSERT INTO interchanges (file_id, seq, partner, isa06, isa13, outcome, holds_key,
                    state, sets, routed, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'reading', 0, 'acking', 0, 0, ?6)",
                params![file.id, seq, partner.id, isa06, isa13, store::now_ms()],
            )?;
            id = self.conn.last_insert_rowid();
        }
        Ok(Open {
            seq,
            skip,
            refused,
            isa06,
            isa13,
            id,
            sets: 0,
            groups: Vec::new(),
            current: None,
            group_rows: Vec::new(),
            routed: Default::default(),
            group_routed: Default::default(),
            group_pas: Vec::new(),
            group_claims: Vec::new(),
            group_answers: Vec::new(),
            answers: Vec::new(),
            group_277: Vec::new(),
            claim_acks: Vec::new(),
            group_refs: Vec::new(),
            group_covers: Vec::new(),
            covers: Vec::new(),
            fps_kept: Vec::new(),
            fps_dropped: Vec::new(),
        })
    }

    /// Closes an interchange: outcome, TA1, 999s, in the transaction opened at its ISA
    /// (which already holds its queue items), then the outbox.
    fn finish_interchange(
        &mut self,
        file: &FileRow,
        partner: &Partner,
        mut ic: Open,
        report: &InterchangeReport,
    ) -> Result<(), PipelineError> {
        test_pause("interchange_end");
        // a group left open (no GE) was never accepted
        drop_group(&self.conn, &mut ic)?;
        let ic_isa06 = ic.isa06.clone();
        if let Some(n) = &self.nats {
            // claims of rejected groups were never accepted: their keys go back
            let back = std::mem::take(&mut ic.fps_dropped);
            n.block_on(n.release_fingerprints(&partner.id, &back, &n.owner(file.id, ic.seq)))?;
        }
        let Open {
            seq,
            refused,
            isa13,
            id: interchange_id,
            sets,
            groups,
            mut routed,
            mut answers,
            mut claim_acks,
            mut covers,
            fps_kept,
            ..
        } = ic;
        let ta1 = match refused {
            Some(note) => report.header.as_ref().map(|h| Ta1 {
                control_number: isa13.clone(),
                date: String::from_utf8_lossy(h.date()).into_owned(),
                time: String::from_utf8_lossy(h.time()).into_owned(),
                ack: Ta1Ack::Rejected,
                note,
            }),
            None => Ta1::from_report(report, false, &Ta1Policy::default()),
        };
        let rejected = ta1.as_ref().is_none_or(|t| t.ack == Ta1Ack::Rejected);
        let ta1_due = refused.is_some()
            || ta1
                .as_ref()
                .is_some_and(|t| t.is_due(report) || t.ack != Ta1Ack::Accepted);
        let outcome = match refused {
            Some(Ta1Note::DuplicateControlNumber) => Outcome::Duplicate,
            Some(_) => Outcome::SenderRefused,
            None if rejected => Outcome::Rejected,
            None if groups
                .iter()
                .all(|g| matches!(g.status, AckCode::Accepted | AckCode::AcceptedWithErrors)) =>
            {
                Outcome::Accepted
            }
            None => Outcome::Partial,
        };
        if rejected && refused.is_none() {
            if let Some(n) = &self.nats {
                // a rejected interchange does not hold its number: give the key back
                let key = super::nats::Nats::interchange_key(&partner.id, &ic_isa06, &isa13);
                n.block_on(n.release_interchange(&key, &n.owner(file.id, seq)))?;
                n.block_on(n.release_fingerprints(&partner.id, &fps_kept, &n.owner(file.id, seq)))?;
            }
        }
        let conn = &self.conn;
        if rejected {
            conn.execute_batch(&format!(
                "DELETE FROM pa_numbers WHERE pa_id IN
                   (SELECT id FROM pa_status WHERE interchange_id = {interchange_id});
                 DELETE FROM pa_history WHERE pa_id IN
                   (SELECT id FROM pa_status WHERE interchange_id = {interchange_id});
                 DELETE FROM pa_status WHERE interchange_id = {interchange_id};
                 DELETE FROM queue_body WHERE queue_id IN
                   (SELECT id FROM queue WHERE interchange_id = {interchange_id});
                 DELETE FROM queue WHERE interchange_id = {interchange_id};
                 DELETE FROM claim_rejects WHERE interchange_id = {interchange_id};
                 DELETE FROM claim_fingerprints WHERE interchange_id = {interchange_id};
                 DELETE FROM attachment_refs WHERE interchange_id = {interchange_id};"
            ))?;
            covers.clear();
            routed.clear();
            answers.clear();
            claim_acks.clear();
        }
        let items: u64 = routed.values().sum();
        conn.execute(
            "UPDATE interchanges SET outcome = ?2, holds_key = ?3, sets = ?4, routed = ?5
             WHERE id = ?1",
            params![
                interchange_id,
                outcome.name(),
                !rejected,
                sets,
                items as i64
            ],
        )?;
        let now = Stamp::now();
        let icn = name_part(&isa13);
        let add_ack = |kind: &str, name: String, body: Vec<u8>| -> rusqlite::Result<()> {
            conn.execute(
                "INSERT INTO acks (file_id, interchange_id, kind, partner, name, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![file.id, interchange_id, kind, partner.id, name, body],
            )
            .map(|_| ())
        };
        if let (Some(t), true) = (&ta1, ta1_due) {
            let ctl = store::next_ack_control(conn)?;
            let env = ack_envelope(ctl, &now);
            if let Ok(body) = t.render(report, &env) {
                add_ack("TA1", format!("TA1-{icn}-{ctl:09}.x12"), body)?;
            }
        }
        if !rejected {
            for g in &groups {
                let ctl = store::next_ack_control(conn)?;
                let env = ack_envelope(ctl, &now);
                if let Ok(body) =
                    render_999_interchange(report, std::slice::from_ref(g), &env, &now.ccyymmdd())
                {
                    let gs06 = name_part(&g.group_control);
                    add_ack("999", format!("999-{icn}-{gs06}-{ctl:09}.x12"), body)?;
                }
            }
        }
        // one 277CA per accepted 837 set, after the 999 that accepted it
        for c in &claim_acks {
            let ctl = store::next_ack_control(conn)?;
            let env = ack_envelope(ctl, &now);
            if let Ok(body) = render_277ca_interchange(
                report,
                (&c.gs02, &c.gs03),
                std::slice::from_ref(&c.ack),
                &env,
                &now.ccyymmdd(),
            ) {
                let name = format!(
                    "277CA-{icn}-{}-{}-{ctl:09}.x12",
                    name_part(&c.gs06),
                    name_part(&c.st02)
                );
                add_ack("277CA", name, body)?;
            }
        }
        if !claim_acks.is_empty() {
            conn.execute(
                "UPDATE claim_rejects SET state = 'answered' WHERE interchange_id = ?1",
                params![interchange_id],
            )?;
        }
        // uploads waiting for these references are linked now; cover sheets follow
        super::attachments::link_interchange(conn, interchange_id)?;
        for (n, (control, pdf)) in covers.iter().enumerate() {
            let name = format!(
                "COVER-{icn}-{interchange_id}-{:03}-{}.pdf",
                n + 1,
                name_part(control)
            );
            add_ack("COVER", name, pdf.clone())?;
        }
        // the gateway's own 278 answers follow the 999 that accepted their requests
        for (name, body, _) in &answers {
            add_ack("278", name.clone(), body.clone())?;
        }
        conn.execute_batch("COMMIT")?;
        // its outcome is durable: a real-time request waiting for it is answered now,
        // while the outbox files are written
        self.done(file.id);
        self.metrics.interchange(outcome);
        for (v, n) in &routed {
            self.metrics.routed(v, *n);
        }
        for (_, _, status) in &answers {
            self.metrics.answered(status);
        }
        tracing::info!(
            file = file.id,
            partner = %partner.id,
            interchange = %isa13,
            seq,
            outcome = outcome.name(),
            sets,
            items,
            "interchange acknowledged"
        );
        self.flush_acks()?;
        self.metrics
            .latency((store::now_ms() - file.received_at).max(0) as f64 / 1000.0);
        Ok(())
    }
}

impl Pipeline {
    /// Puts one routed item where it belongs (see [`super::answer`]): answered at once,
    /// recorded as a claim reject, or queued (a pended pharmacy request both answered
    /// and queued). Inside the interchange's transaction.
    fn place_item(
        &self,
        ic: &mut Open,
        partner: &str,
        tables: &Tables,
        r: &crate::route::RequestRouting,
        w: Option<&crate::route::WorkItem>,
        mut it: NewItem,
    ) -> Result<(), PipelineError> {
        let conn = &self.conn;
        let built = match (answer::disposition(&it), w) {
            (Disposition::Immediate, Some(w)) => {
                Some(answer::immediate(conn, &tables.validator, r, w, &it))
            }
            (Disposition::Pharmacy, _) => Some(answer::pharmacy(
                conn,
                &tables.validator,
                &tables.criteria,
                &it,
            )),
            (Disposition::ClaimReject, _) => {
                let row = insert_claim_reject(conn, ic.id, partner, &it)?;
                ic.group_claims.push(row);
                return Ok(());
            }
            _ => None,
        };
        match built {
            Some(Ok(a)) => {
                let queue_id = if a.queue {
                    if let (Some(obj), Some(outcome)) = (it.item.as_object_mut(), &a.outcome) {
                        obj.insert("pharmacy".into(), outcome.clone());
                    }
                    let row = insert_queue_row(conn, ic.id, &it)?;
                    ic.group_rows.push(row);
                    *ic.group_routed.entry(it.vendor.clone()).or_default() += 1;
                    Some(row)
                } else {
                    None
                };
                let pa = record_answer(conn, ic.id, partner, &it, &a, queue_id)?;
                if queue_id.is_none() {
                    ic.group_pas.push(pa);
                }
                ic.group_answers.push((a.name, a.body, a.status));
                return Ok(());
            }
            Some(Err(e)) => {
                // never lost: the vendor gets it, with the reason
                tracing::warn!(
                    partner = %partner,
                    vendor = %it.vendor,
                    pa_type = %it.pa_type,
                    "the gateway's own answer could not be built; item queued to its vendor"
                );
                if let Some(obj) = it.item.as_object_mut() {
                    obj.insert("answer_error".into(), e.into());
                }
            }
            None => {}
        }
        let row = insert_queue_row(conn, ic.id, &it)?;
        ic.group_rows.push(row);
        *ic.group_routed.entry(it.vendor).or_default() += 1;
        Ok(())
    }
}

/// With the NATS store: puts PA request `id` of this instance's store in the cluster's
/// KV bucket under one key per number it is found by, deletes the keys of `old` it is
/// no longer under (what was put before, or the keys of the instance it was adopted
/// from), and records what was put in `nats_pa`. A routed 278 request whose item is
/// published gets its decision record too (see [`super::nats::DecisionRecord`]), so
/// any instance can decide it with this one gone. Returns the keys it is under now.
pub fn mirror_pa_row(
    conn: &Connection,
    nats: &super::nats::Nats,
    id: i64,
    old: &[String],
) -> Result<Vec<String>, PipelineError> {
    let Some(super::pa::PaSnapshot {
        partner,
        updated_at,
        numbers,
        inquiry,
    }) = super::pa::inquiry_by_id(conn, id)?
    else {
        return Ok(Vec::new());
    };
    let keys = nats.pa_keys(&partner, &numbers, id);
    let stale: Vec<String> = old.iter().filter(|k| !keys.contains(k)).cloned().collect();
    let mut value = serde_json::to_value(&inquiry).unwrap_or_default();
    if let Some(o) = value.as_object_mut() {
        o.insert("instance".into(), nats.instance().into());
    }
    nats.block_on(nats.put_pa(&keys, &stale, &value))?;
    let item: Option<(i64, String, i64, Vec<u8>)> = conn
        .query_row(
            "SELECT q.id, q.vendor, n.seq, COALESCE(b.x12, q.x12)
             FROM pa_status p JOIN queue q ON q.id = p.queue_id
             JOIN nats_published n ON n.queue_id = q.id
             LEFT JOIN queue_body b ON b.queue_id = q.id
             WHERE p.id = ?1 AND q.txn = '278'",
            params![id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    if let Some((item_id, vendor, seq, x12)) = item {
        let open = matches!(inquiry.status.as_str(), "pending" | "pended");
        let record = super::nats::DecisionRecord {
            vendor,
            partner: partner.clone(),
            seq: seq as u64,
            pa_keys: keys.clone(),
            x12: String::from_utf8_lossy(&x12).into_owned(),
            state: if open { "open" } else { "decided" }.into(),
            status: inquiry.status.clone(),
            by: Some(nats.instance().to_string()),
            at_ms: updated_at,
            response: None,
            local: None,
        };
        let key = super::nats::Nats::decision_key(nats.instance(), item_id);
        nats.block_on(nats.open_decision(&key, &record))?;
    }
    conn.execute(
        "INSERT OR REPLACE INTO nats_pa (pa_id, updated_at, status, keys)
         VALUES (?1, ?2, ?3, ?4)",
        params![
            id,
            updated_at,
            inquiry.status,
            serde_json::to_string(&keys).unwrap_or_default()
        ],
    )?;
    Ok(keys)
}

/// Undoes what the current group of `ic` recorded (the group was rejected, or never
/// closed): its queue rows, answered PA statuses, claim rejects and responses.
fn drop_group(conn: &Connection, ic: &mut Open) -> Result<(), PipelineError> {
    for row in ic.group_rows.drain(..) {
        delete_item(conn, row)?;
    }
    for pa in ic.group_pas.drain(..) {
        delete_pa(conn, pa)?;
    }
    for row in ic.group_claims.drain(..) {
        conn.execute("DELETE FROM claim_rejects WHERE id = ?1", params![row])?;
    }
    ic.group_routed.clear();
    ic.group_answers.clear();
    for p in ic.group_277.drain(..) {
        ic.fps_dropped.extend(p.fingerprints);
    }
    for row in ic.group_refs.drain(..) {
        conn.execute("DELETE FROM attachment_refs WHERE id = ?1", params![row])?;
    }
    ic.group_covers.clear();
    Ok(())
}

/// Records an 837 claim kept from every vendor (a `reject` route, or its 277CA
/// rejects it).
fn insert_claim_reject(
    conn: &Connection,
    interchange_id: i64,
    partner: &str,
    it: &NewItem,
) -> Result<i64, PipelineError> {
    let rule = it.item["claim_route"]["rule"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let item = json_with_trace(&it.item, &it.trace);
    conn.prepare_cached(
        "INSERT INTO claim_rejects (interchange_id, partner, txn, set_control, claim_id, vendor,
            pa_type, rule, item, state, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'recorded', ?10)",
    )?
    .execute(params![
        interchange_id,
        partner,
        it.transaction,
        it.set_control,
        it.request_id,
        it.vendor,
        it.pa_type,
        rule,
        item,
        store::now_ms()
    ])?;
    Ok(conn.last_insert_rowid())
}

fn json_with_trace(item: &serde_json::Value, trace: &str) -> String {
    // `item` is an object: its text with `"trace": TRACE` added before the closing brace
    let text = item.to_string();
    match text.strip_suffix('}') {
        Some(head) if head.len() > 1 => format!("{head},\"trace\":{trace}}}"),
        Some(_) => format!("{{\"trace\":{trace}}}"),
        None => text,
    }
}

/// Records the PA status of an answered request (or, with `queue_id`, updates the one
/// its queue row got), its history and the authorization numbers issued.
fn record_answer(
    conn: &Connection,
    interchange_id: i64,
    partner: &str,
    it: &NewItem,
    a: &answer::Answer,
    queue_id: Option<i64>,
) -> Result<i64, PipelineError> {
    let now = store::now_ms();
    let (bht03, trn) = it.pa.clone().unwrap_or_default();
    let certification = a.numbers.first().cloned();
    let (effective, expires) = a.period.clone().unzip();
    let pa = match queue_id {
        Some(q) => conn
            .prepare_cached(
                "UPDATE pa_status SET status = ?2, certification = ?3, effective = ?4,
                    expires = ?5, message = ?6, updated_at = ?7
                 WHERE queue_id = ?1 RETURNING id",
            )?
            .query_row(
                params![
                    q,
                    a.status,
                    certification,
                    effective,
                    expires,
                    a.message,
                    now
                ],
                |r| r.get(0),
            )?,
        None => {
            conn.prepare_cached(
                "INSERT INTO pa_status (queue_id, interchange_id, partner, bht03, trn, vendor,
                    pa_type, action, status, certification, effective, expires, message,
                    updated_at, created_at)
                 VALUES (NULL, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)",
            )?
            .execute(params![
                interchange_id,
                partner,
                bht03,
                trn,
                it.vendor,
                it.pa_type,
                it.action,
                a.status,
                certification,
                effective,
                expires,
                a.message,
                now
            ])?;
            conn.last_insert_rowid()
        }
    };
    let mut detail = a.code.clone();
    if a.numbers.is_empty() {
        detail.push(' ');
        detail.push_str(&it.vendor);
    }
    for n in &a.numbers {
        detail.push_str(" certification ");
        detail.push_str(n);
        conn.prepare_cached("INSERT INTO pa_numbers (number, pa_id) VALUES (?1, ?2)")?
            .execute(params![n, pa])?;
    }
    detail.push_str(" (answered by the gateway)");
    conn.prepare_cached(
        "INSERT INTO pa_history (pa_id, at, event, detail) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![pa, now, a.status, detail])?;
    Ok(pa)
}

fn delete_pa(conn: &Connection, pa: i64) -> Result<(), PipelineError> {
    conn.execute("DELETE FROM pa_numbers WHERE pa_id = ?1", params![pa])?;
    conn.execute("DELETE FROM pa_history WHERE pa_id = ?1", params![pa])?;
    conn.execute("DELETE FROM pa_status WHERE id = ?1", params![pa])?;
    Ok(())
}

/// Inserts one held queue item (and, for a 278 work item, its PA status `pending`).
fn insert_queue_row(
    conn: &Connection,
    interchange_id: i64,
    it: &NewItem,
) -> Result<i64, PipelineError> {
    let now = store::now_ms();
    // the bytes go to queue_body, so the row's state changes stay small writes
    conn.prepare_cached(
        "INSERT INTO queue (interchange_id, vendor, pa_type, action, txn, request_id,
            set_control, x12, item, trace, state, attempts, visible_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, x'', '', '', 'held', 0, ?8, ?8, ?8)",
    )?
    .execute(params![
        interchange_id,
        it.vendor,
        it.pa_type,
        it.action,
        it.transaction,
        it.request_id,
        it.set_control,
        now
    ])?;
    let id = conn.last_insert_rowid();
    conn.prepare_cached(
        "INSERT INTO queue_body (queue_id, x12, item, trace) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![id, it.x12, it.item.to_string(), it.trace])?;
    if let Some((bht03, trn)) = &it.pa {
        conn.prepare_cached(
            "INSERT INTO pa_status (queue_id, interchange_id, partner, bht03, trn, vendor,
                pa_type, action, status, updated_at, created_at)
             SELECT ?1, ?2, q.partner, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?8
             FROM interchanges q WHERE q.id = ?2",
        )?
        .execute(params![
            id,
            interchange_id,
            bht03,
            trn,
            it.vendor,
            it.pa_type,
            it.action,
            now
        ])?;
        let pa = conn.last_insert_rowid();
        conn.prepare_cached(
            "INSERT INTO pa_history (pa_id, at, event, detail) VALUES (?1, ?2, 'queued', ?3)",
        )?
        .execute(params![pa, now, it.vendor])?;
    }
    Ok(id)
}

fn delete_item(conn: &Connection, id: i64) -> Result<(), PipelineError> {
    conn.execute(
        "DELETE FROM pa_numbers WHERE pa_id IN (SELECT id FROM pa_status WHERE queue_id = ?1)",
        params![id],
    )?;
    conn.execute(
        "DELETE FROM pa_history WHERE pa_id IN (SELECT id FROM pa_status WHERE queue_id = ?1)",
        params![id],
    )?;
    conn.execute("DELETE FROM pa_status WHERE queue_id = ?1", params![id])?;
    conn.execute("DELETE FROM queue_body WHERE queue_id = ?1", params![id])?;
    conn.execute("DELETE FROM queue WHERE id = ?1", params![id])?;
    Ok(())
}

fn ack_envelope(control_number: u32, now: &Stamp) -> AckEnvelope {
    AckEnvelope {
        control_number,
        date: now.yymmdd(),
        time: now.hhmm(),
    }
}

/// The partner-facing kind of a set (`278`, `837P`, `837I`, `837D`), or `None` for
/// other transactions.
fn transaction_kind(set: &x12_core::TransactionSet) -> Option<&'static str> {
    match set.id() {
        b"278" => Some("278"),
        b"837" => match x12_837::kind_of(set.version())? {
            x12_837::ClaimKind::Professional => Some("837P"),
            x12_837::ClaimKind::Institutional => Some("837I"),
            x12_837::ClaimKind::Dental => Some("837D"),
        },
        _ => None,
    }
}

/// An inbox file name made safe to echo into an outbox file name.
pub fn safe_name(name: &str) -> String {
    let t: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let t = t.trim_start_matches('.').to_string();
    if t.is_empty() {
        "file".into()
    } else {
        t
    }
}

/// Test hook: with `GATEWAYD_TEST_PAUSE=<point>=<ms>` set, the pipeline waits that long
/// at `point`: `raw` (the NATS store has a file's raw copy and record, nothing of it is
/// read), `interchange_end` (an interchange is read and its keys claimed, nothing of
/// it is committed), `ack_recorded` (an interchange's acknowledgments are recorded
/// in the cluster, none is written) or `ack_written` (the first of them is written
/// and marked so). The takeover tests kill the gateway there.
/// Unset: nothing.
pub(super) fn test_pause(point: &str) {
    static PAUSE: std::sync::OnceLock<Option<(String, u64)>> = std::sync::OnceLock::new();
    let pause = PAUSE.get_or_init(|| {
        let v = std::env::var("GATEWAYD_TEST_PAUSE").ok()?;
        let (p, ms) = v.split_once('=')?;
        Some((p.to_string(), ms.parse().ok()?))
    });
    if let Some((_, ms)) = pause.as_ref().filter(|(p, _)| p == point) {
        tracing::warn!(ms, "test pause at {point}");
        std::thread::sleep(std::time::Duration::from_millis(*ms));
    }
}
