//! The scale-out store: NATS JetStream (`store = "nats"`).
//!
//! Several gateways share one JetStream cluster; each keeps its own data dir (the
//! fsynced copy of what it took from its inboxes, and its SQLite working store for the
//! interchanges it is reading and the outbox files it owes). What must be one across
//! the instances lives in JetStream:
//!
//! | what | where | guarantee |
//! |---|---|---|
//! | raw files | object store `<prefix>_raw`, object `<instance>/<file id>`, and the file's record in KV `<prefix>_files` (`received`, then `processed`; or `taking`, then `taken`, with the `owner` that took it over) | put before any acknowledgment of the file is written |
//! | duplicate interchanges | KV `<prefix>_interchanges`, key `partner.ISA06.ISA13` (each part escaped), created with `create` (fails if the key exists); the value names the owning file (`instance:file id:position`) | an ISA13 is accepted once across every instance, forever (not a 2-minute window); a re-run of the owning file after a crash recognises its own key; a TA1-rejected interchange gives its key back |
//! | duplicate claims | KV `<prefix>_claims`, key `partner.fingerprint` (the 277CA's claim fingerprint, a hash), created with `create` when the 277CA is built; the value names the owning interchange like an interchange key | a claim is accepted once across every instance (A3:54 for the same claim through another); a re-run of the owning file recognises its own keys; the keys of a rejected group or interchange are given back |
//! | heartbeats | KV `<prefix>_instances` (max age `nats.takeover_after_seconds`), key `instance`, put every `nats.heartbeat_seconds` | an instance whose key expired counts as gone |
//! | takeover | a gone instance's file record still `received` gets `owner` (this instance) and state `taking` with compare-and-set on its revision, then `taken` once recorded here from the object store | one live instance takes each abandoned file and processes it through the normal pipeline; the keys the gone run created (owner `instance:file id:position`) count as the new run's, so nothing is a duplicate of itself; items keep their `Nats-Msg-Id` |
//! | vendor queues | one work-queue stream `<PREFIX>_QUEUE`, subject `<prefix>.queue.<vendor>`, one durable pull consumer per vendor; `Nats-Msg-Id` = `partner:ISA06:ISA13:GS06:ST02[:n]` | a republish after a crash inside the duplicate window is dropped by the server; vendors dedupe by the item's `msg_id` beyond it |
//! | leases | the consumer's AckWait (`nats.ack_wait_seconds`); the receipt is the delivery's ack subject | a lease that runs out is redelivered |
//! | PA status | KV `<prefix>_pa`, key `partner.number.instance.id` per number a request is found by, the value its inquiry answer with its whole history; mirrored by the pipeline after the local commit | a PA inquiry through any instance finds every instance's requests with their history; the PA index asks it for numbers its own store does not know ([`Nats::pa_index_lookup`]) |
//! | numbers the gateway issues | KV `<prefix>_counters`: acknowledgment control numbers, pharmacy authorization numbers, payer claim control numbers, in blocks taken with compare-and-set (`update` on the revision) | no two instances send the same ISA13 or issue the same number |
//! | decisions | request-reply on `<prefix>.decide.<instance>` to the instance that took the item; KV `<prefix>_decisions`, key `instance.item id`, holds each published 278 item's request, PA keys and decision state (`open`, `deciding` by an instance, `decided`), changed with compare-and-set only | a vendor decides through any instance; with the owner silent, another instance adopts the decision from the cluster (see [`super::adopt`]); a decision is applied once |
//! | attachment uploads | object store and KV `<prefix>_attachments` (see [`super::shared_attachments`]) | an upload through any instance is linked, listed and fetched through every other, with the one that took it gone |
//! | acknowledgments owed | KV `<prefix>_acks` (see [`super::shared_acks`]): each interchange's outbox files, recorded before the first is written, and which are written | a takeover writes what the gone instance recorded (same names, same ISA13s), each once |
//! | retries, dead letters | the consumer's MaxDeliver (`nats.max_deliver`); a nack on the last delivery, or a last lease that runs out (the server's max-deliveries advisory), copies the item to `<PREFIX>_DEAD` (subject `<prefix>.dead.<vendor>`) and removes it from the queue | |
//!
//! The pipeline is a plain thread: it calls in through [`Nats::block_on`] on the
//! daemon's tokio runtime; the HTTP handlers await the same calls directly.
//!
//! ISA06 is part of the message id (the design names `partner:ISA13:GS06:ST02`): the
//! duplicate check is per ISA06, so two accepted interchanges of one partner may share
//! an ISA13 under two sender ids, and their items must not be taken for replays.

use super::config::{Config, NatsSettings};
use async_nats::jetstream::{self, consumer, kv, object_store, stream};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;

/// Errors of the NATS store.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    /// A call to the servers failed (connection, timeout, refused request).
    #[error("nats {op}: {message}")]
    Call {
        /// What was asked.
        op: &'static str,
        /// The client's error.
        message: String,
    },
    /// A local file could not be read or written.
    #[error("nats: {0}")]
    Io(#[from] std::io::Error),
    /// The local store failed while recording what the cluster gave.
    #[error("nats: local store: {0}")]
    Store(#[from] rusqlite::Error),
}

fn call<E: std::fmt::Display>(op: &'static str) -> impl FnOnce(E) -> NatsError {
    move |e| NatsError::Call {
        op,
        message: e.to_string(),
    }
}

/// A queue item as published: what a lease hands to the vendor, less the lease.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueuedItem {
    /// The item's id in the store of the gateway that took it (decisions name it).
    pub id: i64,
    /// `partner:ISA06:ISA13:GS06:ST02[:n]`, the `Nats-Msg-Id`.
    pub msg_id: String,
    /// The gateway instance that took the file.
    pub instance: String,
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
    /// The item as an X12 interchange.
    pub x12: String,
    /// The item's JSON.
    pub item: serde_json::Value,
    /// The routing trace.
    pub trace: serde_json::Value,
    /// PWK attachments uploaded for the item when it was published.
    pub attachments: Vec<super::attachments::AttachmentInfo>,
    /// The partner that sent it.
    #[serde(default)]
    pub partner: String,
    /// The attachment control numbers its part of the request cites (a lease lists
    /// the cluster's uploads of them, see [`super::shared_attachments`]).
    #[serde(default)]
    pub cites: Vec<String>,
}

/// A leased item with what the lease needs to list its attachments.
#[derive(Debug, Clone)]
pub struct LeasedItem {
    /// The item as the vendor gets it.
    pub leased: super::queue::Leased,
    /// The instance that published it.
    pub instance: String,
    /// The partner that sent it.
    pub partner: String,
    /// The attachment control numbers its part of the request cites.
    pub cites: Vec<String>,
}

/// A vendor's decision forwarded to the instance that took the item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForwardedDecision {
    /// The vendor (authenticated by the instance that forwards).
    pub vendor: String,
    /// The decision as the vendor posted it.
    pub request: serde_json::Value,
}

/// What the owning instance answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ForwardedAnswer {
    status: u16,
    body: serde_json::Value,
}

/// A published 278 item's decision state in KV `<prefix>_decisions` (key
/// [`Nats::decision_key`]): what another instance needs to decide it when the one that
/// took it is gone, and who is deciding it. Changed with compare-and-set only.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// The vendor whose item it is.
    pub vendor: String,
    /// The partner that sent the request.
    pub partner: String,
    /// The item's sequence in the queue stream (removed once decided).
    pub seq: u64,
    /// The KV `<prefix>_pa` keys the request's status is under now.
    pub pa_keys: Vec<String>,
    /// The item as an X12 interchange (the request the 278 response answers).
    pub x12: String,
    /// `open` (pending or pended), `deciding` (by `by`), `decided`.
    pub state: String,
    /// The PA status (`pending`, `pended`, `approved`, ...).
    pub status: String,
    /// The instance deciding it (`deciding`), or that decided it last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// When `state` last changed (ms since 1970).
    #[serde(default)]
    pub at_ms: i64,
    /// The 278 response an adopting instance built, recorded before it is written (an
    /// instance that takes the decision over writes these bytes under this name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<RecordedResponse>,
    /// The instance whose store holds the request's PA status now, with its id there,
    /// when an instance adopted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<(String, i64)>,
}

impl DecisionRecord {
    /// Whether an instance other than the one that took the item adopted a decision
    /// on it (its PA status lives in that instance's store since, or a response it
    /// built is recorded): every later decision goes the adopting way.
    pub fn adopted(&self) -> bool {
        self.local.is_some() || self.response.is_some()
    }
}

/// A 278 response recorded in a [`DecisionRecord`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordedResponse {
    /// Its name in the partner's outbox.
    pub name: String,
    /// The interchange.
    pub body: String,
    /// The PA status it gives.
    pub status: String,
}

/// Why a decision could not be begun ([`Nats::begin_decision`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecisionBusy {
    /// Decided for good, with this status.
    Decided(String),
    /// A live instance is deciding it now.
    Deciding,
    /// The item is another vendor's.
    OtherVendor,
}

/// A file's record in KV `<prefix>_files`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct FileRecord {
    instance: String,
    partner: String,
    name: String,
    sha256: String,
    object: String,
    /// `received`, `processed`, `taking` (an instance is taking it over), `taken`.
    state: String,
    /// The instance that took it over, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
    /// The taking instance's record of it (`instance.file id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    by: Option<String>,
}

impl FileRecord {
    /// The instance whose file it is now.
    fn owner(&self) -> &str {
        self.owner.as_deref().unwrap_or(&self.instance)
    }
}

/// A gone instance's file this instance took over ([`Nats::take_abandoned`]).
#[derive(Debug, Clone)]
pub struct Abandoned {
    /// Its record's key in KV `<prefix>_files` (`instance.file id`).
    pub key: String,
    /// `instance:file id` of the gone instance: the owner its keys were created for
    /// (with `:position`), which the new run takes for its own.
    pub origin: String,
    /// Partner id.
    pub partner: String,
    /// Its name as received.
    pub name: String,
    /// Hex SHA-256 of its bytes.
    pub sha256: String,
    /// Its object in `<prefix>_raw`.
    pub object: String,
}

/// What the duplicate check found for an interchange key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is this file's (new, or claimed by an earlier run of the same file).
    Ours,
    /// Another file holds it: a duplicate (TA1 025).
    Other,
}

/// A delivery named by its receipt: `EXPIRES_MS~ACK` where ACK is the delivery's ack
/// subject without `$JS.ACK.` and EXPIRES_MS the end of the lease (ms since 1970, the
/// gateway's clock). JetStream would take an ack on an old delivery's subject for the
/// current one, so a receipt past its lease is refused as stale by the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The ack subject.
    pub subject: String,
    /// Its stream.
    pub stream: String,
    /// Its consumer.
    pub consumer: String,
    /// Which delivery it is (1 = the first).
    pub delivered: u64,
    /// The message's stream sequence.
    pub stream_seq: u64,
    /// When its lease runs out (ms since 1970).
    pub expires_ms: i64,
}

impl Receipt {
    /// Whether the lease has run out (its receipt is stale then, whether or not the
    /// item was delivered again since).
    pub fn expired(&self) -> bool {
        super::store::now_ms() >= self.expires_ms
    }
}

/// Reads a receipt: `EXPIRES_MS~STREAM.CONSUMER.DELIVERED.SSEQ.CSEQ.TS.PENDING`, or
/// with domain and account hash before the stream (and a trailing token).
pub fn parse_receipt(r: &str) -> Option<Receipt> {
    let (expires, r) = r.split_once('~')?;
    let expires_ms = expires.parse().ok()?;
    let t: Vec<&str> = r.split('.').collect();
    let at = match t.len() {
        7 => 0,
        9 | 10 => 2,
        _ => return None,
    };
    if t.iter()
        .any(|x| x.is_empty() || x.contains(['*', '>', ' ']))
    {
        return None;
    }
    Some(Receipt {
        subject: format!("$JS.ACK.{r}"),
        stream: t[at].to_string(),
        consumer: t[at + 1].to_string(),
        delivered: t[at + 2].parse().ok()?,
        stream_seq: t[at + 3].parse().ok()?,
        expires_ms,
    })
}

/// One part of a KV key: letters, digits, `-` and `_` as they are, anything else
/// `=XX` (hex), so any ISA06 or ISA13 makes a valid key and two values never meet.
pub fn key_part(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(b as char);
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    if out.is_empty() {
        out.push('=');
    }
    out
}

/// The connection and the handles of the streams and buckets.
pub struct Nats {
    handle: tokio::runtime::Handle,
    client: async_nats::Client,
    js: jetstream::Context,
    settings: NatsSettings,
    instance: String,
    interchanges: kv::Store,
    files: kv::Store,
    counters: kv::Store,
    pa: kv::Store,
    claims: kv::Store,
    instances: kv::Store,
    decisions: kv::Store,
    attachments: super::shared_attachments::SharedAttachments,
    acks: super::shared_acks::SharedAcks,
    raw: object_store::ObjectStore,
    queue: stream::Stream,
    dead_subject_prefix: String,
    consumers: tokio::sync::Mutex<HashMap<String, consumer::PullConsumer>>,
}

impl std::fmt::Debug for Nats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nats")
            .field("servers", &self.settings.servers)
            .field("prefix", &self.settings.prefix)
            .field("instance", &self.instance)
            .finish()
    }
}

/// The acknowledgment interchange control number's counter (store and KV).
pub const ACK_CONTROL: &str = "ack_control";

/// The file under the data dir that keeps a generated instance name.
pub const INSTANCE_FILE: &str = "instance-id";

/// This gateway's instance name: the configured one, else the one kept in the data
/// dir, else a new one (written there durably).
fn instance_name(cfg: &Config) -> Result<String, NatsError> {
    if let Some(i) = &cfg.nats.instance {
        return Ok(i.clone());
    }
    let path = cfg.data_dir.join(INSTANCE_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let t = text.trim();
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(t.to_string());
        }
    }
    let seed = format!(
        "{}:{}:{}",
        std::process::id(),
        super::store::now_ms(),
        cfg.data_dir.display()
    );
    let digest = super::config::hex(&<sha2::Sha256 as sha2::Digest>::digest(seed.as_bytes()));
    let name = format!("gw{}", &digest[..12]);
    super::outbox::write_durably(&cfg.data_dir, INSTANCE_FILE, name.as_bytes())?;
    Ok(name)
}

impl Nats {
    /// Connects, makes sure every stream, bucket and the dead-letter stream exist (with
    /// the configured replicas), and starts the task that moves items whose last lease
    /// ran out to the dead letters. Runs on `handle`'s runtime.
    pub async fn connect(
        cfg: &Config,
        handle: tokio::runtime::Handle,
    ) -> Result<std::sync::Arc<Nats>, NatsError> {
        let s = cfg.nats.clone();
        let instance = instance_name(cfg)?;
        let mut opts = async_nats::ConnectOptions::new()
            .name(format!("gatewayd {instance}"))
            .connection_timeout(Duration::from_secs(5))
            .retry_on_initial_connect();
        if let Some(c) = &s.credentials {
            opts = opts
                .credentials_file(c)
                .await
                .map_err(call("credentials file"))?;
        }
        let addrs: Vec<async_nats::ServerAddr> =
            s.servers.iter().filter_map(|a| a.parse().ok()).collect();
        let client = tokio::time::timeout(Duration::from_secs(30), opts.connect(addrs))
            .await
            .map_err(call("connect"))?
            .map_err(call("connect"))?;
        let mut js = jetstream::new(client.clone());
        js.set_timeout(Duration::from_secs(10));
        let p = &s.prefix;
        let big = p.to_ascii_uppercase();
        let replicas = s.replicas;
        // creating what exists is a no-op; a cluster still electing answers late
        let retry = |op: &'static str| move |e: String| NatsError::Call { op, message: e };
        let interchanges = kv_bucket(
            &js,
            format!("{p}_interchanges"),
            "gatewayd: partner.ISA06.ISA13 -> the file that holds it",
            replicas,
            Duration::ZERO,
        )
        .await
        .map_err(retry("interchanges bucket"))?;
        let files = kv_bucket(
            &js,
            format!("{p}_files"),
            "gatewayd: received files and their state",
            replicas,
            Duration::ZERO,
        )
        .await
        .map_err(retry("files bucket"))?;
        let counters = kv_bucket(
            &js,
            format!("{p}_counters"),
            "gatewayd: blocks of acknowledgment control numbers",
            replicas,
            Duration::ZERO,
        )
        .await
        .map_err(retry("counters bucket"))?;
        let pa = kv_bucket(
            &js,
            format!("{p}_pa"),
            "gatewayd: PA status by partner and number",
            replicas,
            Duration::ZERO,
        )
        .await
        .map_err(retry("pa bucket"))?;
        let claims = kv_bucket(
            &js,
            format!("{p}_claims"),
            "gatewayd: partner.fingerprint of accepted claims -> the file",
            replicas,
            Duration::ZERO,
        )
        .await
        .map_err(retry("claims bucket"))?;
        let instances = kv_bucket(
            &js,
            format!("{p}_instances"),
            "gatewayd: heartbeats of the live instances",
            replicas,
            Duration::from_secs(s.takeover_after_seconds),
        )
        .await
        .map_err(retry("instances bucket"))?;
        let decisions = kv_bucket(
            &js,
            format!("{p}_decisions"),
            "gatewayd: instance.item id -> the decision state of a published 278 item",
            replicas,
            Duration::ZERO,
        )
        .await
        .map_err(retry("decisions bucket"))?;
        let attachments_kv = kv_bucket(
            &js,
            format!("{p}_attachments"),
            "gatewayd: PWK attachment uploads, citations and vendor access",
            replicas,
            Duration::ZERO,
        )
        .await
        .map_err(retry("attachments bucket"))?;
        let attachments_objects = match js.get_object_store(format!("{p}_attachments")).await {
            Ok(o) => o,
            Err(_) => with_retries(|| {
                js.create_object_store(
                    super::shared_attachments::SharedAttachments::objects_config(
                        format!("{p}_attachments"),
                        replicas,
                    ),
                )
            })
            .await
            .map_err(retry("attachments object store"))?,
        };
        let raw = match js.get_object_store(format!("{p}_raw")).await {
            Ok(o) => o,
            Err(_) => with_retries(|| {
                js.create_object_store(object_store::Config {
                    bucket: format!("{p}_raw"),
                    description: Some("gatewayd: raw received files".into()),
                    storage: jetstream::stream::StorageType::File,
                    num_replicas: replicas,
                    ..Default::default()
                })
            })
            .await
            .map_err(retry("raw object store"))?,
        };
        let acks_kv = kv_bucket(
            &js,
            format!("{p}_acks"),
            "gatewayd: the acknowledgments each file's interchanges owe, and which are written",
            replicas,
            Duration::ZERO,
        )
        .await
        .map_err(retry("acknowledgments bucket"))?;
        let queue_name = format!("{big}_QUEUE");
        with_retries(|| {
            js.create_or_update_stream(stream::Config {
                name: queue_name.clone(),
                description: Some("gatewayd: vendor queues, one subject per vendor".into()),
                subjects: vec![format!("{p}.queue.*")],
                retention: stream::RetentionPolicy::WorkQueue,
                storage: stream::StorageType::File,
                num_replicas: replicas,
                duplicate_window: Duration::from_secs(s.duplicate_window_seconds),
                ..Default::default()
            })
        })
        .await
        .map_err(retry("queue stream"))?;
        with_retries(|| {
            js.create_or_update_stream(stream::Config {
                name: format!("{big}_DEAD"),
                description: Some("gatewayd: dead letters of the vendor queues".into()),
                subjects: vec![format!("{p}.dead.*")],
                storage: stream::StorageType::File,
                num_replicas: replicas,
                duplicate_window: Duration::from_secs(s.duplicate_window_seconds),
                ..Default::default()
            })
        })
        .await
        .map_err(retry("dead-letter stream"))?;
        let queue = js
            .get_stream(&queue_name)
            .await
            .map_err(call("queue stream"))?;
        let nats = std::sync::Arc::new(Nats {
            handle,
            client,
            js,
            dead_subject_prefix: format!("{p}.dead"),
            settings: s,
            instance,
            interchanges,
            files,
            counters,
            pa,
            claims,
            instances,
            decisions,
            attachments: super::shared_attachments::SharedAttachments::new(
                attachments_kv,
                attachments_objects,
            ),
            acks: super::shared_acks::SharedAcks::new(acks_kv, raw.clone()),
            raw,
            queue,
            consumers: tokio::sync::Mutex::new(HashMap::new()),
        });
        let advisories = nats
            .client
            .subscribe(format!(
                "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{queue_name}.*"
            ))
            .await
            .map_err(call("advisory subscription"))?;
        nats.handle.spawn(dead_letter_loop(
            std::sync::Arc::downgrade(&nats),
            advisories,
        ));
        // alive from now on: the first heartbeat before any file is taken
        nats.heartbeat().await?;
        nats.handle
            .spawn(heartbeat_loop(std::sync::Arc::downgrade(&nats)));
        // every configured vendor's consumer, before the first lease asks for it
        for vendor in cfg.vendor_tokens.keys() {
            nats.consumer(vendor).await?;
        }
        tracing::info!(instance = %nats.instance, prefix = %nats.settings.prefix,
            replicas = nats.settings.replicas, "nats store ready");
        Ok(nats)
    }

    /// Runs `fut` to its end on the daemon's runtime, from a thread outside it (the
    /// pipeline thread).
    pub fn block_on<F: std::future::Future>(&self, fut: F) -> F::Output {
        self.handle.block_on(fut)
    }

    /// This gateway's instance name.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The PWK attachment uploads in the cluster.
    pub fn attachments(&self) -> &super::shared_attachments::SharedAttachments {
        &self.attachments
    }

    /// The acknowledgments owed, in the cluster.
    pub fn acks(&self) -> &super::shared_acks::SharedAcks {
        &self.acks
    }

    /// The settings.
    pub fn settings(&self) -> &NatsSettings {
        &self.settings
    }

    /// The queue stream's name.
    pub fn queue_stream(&self) -> &str {
        self.queue.cached_info().config.name.as_str()
    }

    /// The queue subject of a vendor.
    pub fn queue_subject(&self, vendor: &str) -> String {
        format!("{}.queue.{vendor}", self.settings.prefix)
    }

    /// The durable consumer name of a vendor.
    pub fn consumer_name(vendor: &str) -> String {
        format!("vendor_{vendor}")
    }

    /// Stores a received file's bytes in the object store and its record in KV
    /// (state `received`); the same name again overwrites the same object. `false`
    /// when the record says another instance took the file over (this one was taken
    /// for gone): the file is then not this instance's to process.
    pub async fn put_raw(
        &self,
        file_id: i64,
        partner: &str,
        name: &str,
        sha256: &str,
        path: &std::path::Path,
    ) -> Result<bool, NatsError> {
        let object = format!("{}/{file_id}", self.instance);
        let key = format!("{}.{file_id}", self.instance);
        if let Some(e) = self.files.entry(&key).await.map_err(call("file record"))? {
            if let Ok(r) = serde_json::from_slice::<FileRecord>(&e.value) {
                if r.owner() != self.instance {
                    return Ok(false);
                }
            }
        }
        // a re-run after a crash finds the object already there
        let done = matches!(self.raw.info(&object).await, Ok(i) if i.digest.is_some()
            && !i.deleted);
        if !done {
            let mut f = tokio::fs::File::open(path).await?;
            self.raw
                .put(object.as_str(), &mut f)
                .await
                .map_err(call("raw file put"))?;
        }
        self.put_file_record(&key, partner, name, sha256, "received")
            .await?;
        Ok(true)
    }

    /// Marks a file's KV record `processed`.
    pub async fn file_processed(
        &self,
        file_id: i64,
        partner: &str,
        name: &str,
        sha256: &str,
    ) -> Result<(), NatsError> {
        let key = format!("{}.{file_id}", self.instance);
        self.put_file_record(&key, partner, name, sha256, "processed")
            .await
    }

    async fn put_file_record(
        &self,
        key: &str,
        partner: &str,
        name: &str,
        sha256: &str,
        state: &str,
    ) -> Result<(), NatsError> {
        let v = FileRecord {
            instance: self.instance.clone(),
            partner: partner.to_string(),
            name: name.to_string(),
            sha256: sha256.to_string(),
            object: key.replacen('.', "/", 1),
            state: state.to_string(),
            owner: None,
            by: None,
        };
        self.files
            .put(
                key,
                serde_json::to_vec(&v).map_err(call("file record"))?.into(),
            )
            .await
            .map_err(call("file record"))?;
        Ok(())
    }

    /// Says this instance is alive: its key in KV `<prefix>_instances` (whose entries
    /// expire after `takeover_after_seconds`).
    pub async fn heartbeat(&self) -> Result<(), NatsError> {
        self.instances
            .put(
                key_part(&self.instance),
                super::store::now_ms().to_string().into(),
            )
            .await
            .map_err(call("heartbeat"))?;
        Ok(())
    }

    /// The files of gone instances (no heartbeat for `takeover_after_seconds`) still
    /// `received`, each now this instance's: its record's owner set with
    /// compare-and-set (`update` on the revision), so one live instance takes each. A
    /// file this instance began to take before a restart (`taking`, owned by it) comes
    /// again (the caller finds it recorded, or records it). Only files of partners this
    /// instance `serves` are taken.
    pub async fn take_abandoned(
        &self,
        serves: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<Abandoned>, NatsError> {
        let mut alive = std::collections::HashSet::new();
        let mut keys = self.instances.keys().await.map_err(call("instances"))?;
        while let Some(k) = keys.next().await {
            alive.insert(k.map_err(call("instances"))?);
        }
        let mut out = Vec::new();
        let mut keys = self.files.keys().await.map_err(call("file records"))?;
        let mut candidates = Vec::new();
        while let Some(k) = keys.next().await {
            let k = k.map_err(call("file records"))?;
            // only a gone instance's records can be abandoned (or taken by us)
            let Some((inst, _)) = k.split_once('.') else {
                continue;
            };
            if inst != self.instance && !alive.contains(inst) {
                candidates.push(k);
            }
        }
        for k in candidates {
            let Some(e) = self.files.entry(&k).await.map_err(call("file record"))? else {
                continue;
            };
            if e.operation != kv::Operation::Put {
                continue;
            }
            let Ok(mut r) = serde_json::from_slice::<FileRecord>(&e.value) else {
                continue;
            };
            if !serves(&r.partner) {
                continue;
            }
            let owner = r.owner().to_string();
            let origin = format!("{}:{}", r.instance, k.split_once('.').map_or("", |x| x.1));
            match r.state.as_str() {
                "taking" if owner == self.instance => {}
                "received" | "taking" if owner != self.instance && !alive.contains(&owner) => {
                    r.state = "taking".into();
                    r.owner = Some(self.instance.clone());
                    let body = serde_json::to_vec(&r).map_err(call("file record"))?;
                    if self
                        .files
                        .update(&k, body.into(), e.revision)
                        .await
                        .is_err()
                    {
                        // another instance took it first
                        continue;
                    }
                    tracing::warn!(file = %k, gone = %owner, "taking over a gone instance's file");
                }
                _ => continue,
            }
            out.push(Abandoned {
                key: k,
                origin,
                partner: r.partner,
                name: r.name,
                sha256: r.sha256,
                object: r.object,
            });
        }
        Ok(out)
    }

    /// The bytes of a raw file in the object store.
    pub async fn fetch_raw(&self, object: &str) -> Result<Vec<u8>, NatsError> {
        use tokio::io::AsyncReadExt;
        let mut o = self.raw.get(object).await.map_err(call("raw file get"))?;
        let mut out = Vec::new();
        o.read_to_end(&mut out).await?;
        Ok(out)
    }

    /// Marks a taken-over file's record `taken`, by this instance's file `file_id`.
    pub async fn file_taken_over(&self, a: &Abandoned, file_id: i64) -> Result<(), NatsError> {
        let v = FileRecord {
            instance: a.origin.split(':').next().unwrap_or_default().to_string(),
            partner: a.partner.clone(),
            name: a.name.clone(),
            sha256: a.sha256.clone(),
            object: a.object.clone(),
            state: "taken".into(),
            owner: Some(self.instance.clone()),
            by: Some(format!("{}.{file_id}", self.instance)),
        };
        self.files
            .put(
                &a.key,
                serde_json::to_vec(&v).map_err(call("file record"))?.into(),
            )
            .await
            .map_err(call("file record"))?;
        Ok(())
    }

    /// Takes the next `n` numbers of the counter `key`, above `floor` too (the values a
    /// store used before it joined the cluster), with compare-and-set on the revision;
    /// returns the first and the last. The acknowledgment control number wraps after
    /// 999,999,999 (ISA13 has nine digits); the other counters do not.
    pub async fn reserve(&self, key: &str, n: u64, floor: u64) -> Result<(u64, u64), NatsError> {
        let max: u64 = if key == ACK_CONTROL {
            999_999_999
        } else {
            u64::MAX / 4
        };
        let n = n.clamp(1, max / 2);
        let mut last = String::new();
        for _ in 0..200 {
            let entry = self.counters.entry(key).await.map_err(call("counter"))?;
            let (cur, revision) = match entry {
                Some(e) if e.operation == kv::Operation::Put => (
                    std::str::from_utf8(&e.value)
                        .ok()
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .unwrap_or(0),
                    Some(e.revision),
                ),
                _ => (0, None),
            };
            let base = cur.max(floor);
            let first = if base + n > max { 1 } else { base + 1 };
            let end = first + n - 1;
            let value: bytes::Bytes = end.to_string().into();
            let done = match revision {
                Some(r) => self
                    .counters
                    .update(key, value, r)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                None => self
                    .counters
                    .create(key, value)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
            };
            match done {
                Ok(()) => return Ok((first, end)),
                // another instance took a block meanwhile: read again
                Err(e) => last = e,
            }
        }
        Err(NatsError::Call {
            op: "counter",
            message: last,
        })
    }

    /// Makes sure the local store has at least `need` acknowledgment control numbers
    /// left in a block this instance reserved in the cluster (so two instances never
    /// send the same ISA13); see [`Nats::ensure_numbers`].
    pub fn ensure_ack_numbers(
        &self,
        conn: &rusqlite::Connection,
        need: u64,
    ) -> Result<(), NatsError> {
        self.ensure_numbers(conn, ACK_CONTROL, need)
    }

    /// Makes sure the local counter `counter` (a row of the store's `counters`: the last
    /// value used) has at least `need` values left in a block this instance reserved in
    /// the cluster (KV `<prefix>_counters`, key `counter`); the block's last value is
    /// the row `<counter>_end`. A block is at least 1,000 values; what is left of the old
    /// one is skipped. The gateway's counters (acknowledgment control numbers, pharmacy
    /// authorization numbers, payer claim control numbers) so never give two instances
    /// the same value. Blocking: the pipeline thread, or a blocking task.
    pub fn ensure_numbers(
        &self,
        conn: &rusqlite::Connection,
        counter: &str,
        need: u64,
    ) -> Result<(), NatsError> {
        let read = |name: &str| -> Option<u64> {
            conn.query_row("SELECT value FROM counters WHERE name = ?1", [name], |r| {
                r.get::<_, i64>(0)
            })
            .ok()
            .map(|v| v.max(0) as u64)
        };
        let end_row = format!("{counter}_end");
        let cur = read(counter).unwrap_or(0);
        let floor = match read(&end_row) {
            Some(end) if end >= cur && end - cur >= need => return Ok(()),
            Some(_) => 0,
            // the first block: above what this store numbered on its own
            None => cur,
        };
        let (first, end) = self.block_on(self.reserve(counter, need.max(1_000), floor))?;
        let tx = conn.unchecked_transaction()?;
        for (name, value) in [(counter, first - 1), (end_row.as_str(), end)] {
            tx.execute(
                "INSERT INTO counters (name, value) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                rusqlite::params![name, value as i64],
            )?;
        }
        tx.commit()?;
        tracing::info!(counter, first, end, "numbers reserved");
        Ok(())
    }

    /// The KV key of an interchange: `partner.ISA06.ISA13`.
    pub fn interchange_key(partner: &str, isa06: &str, isa13: &str) -> String {
        format!(
            "{}.{}.{}",
            key_part(partner),
            key_part(isa06),
            key_part(isa13)
        )
    }

    /// The owner value of an interchange key.
    pub fn owner(&self, file_id: i64, seq: i64) -> String {
        format!("{}:{file_id}:{seq}", self.instance)
    }

    /// The permanent duplicate check: creates the interchange's key for `owner`, or
    /// finds who holds it; a key `alias` holds (the file this one took over from a gone
    /// instance) is this file's too, and passes to `owner`.
    pub async fn claim_interchange(
        &self,
        key: &str,
        owner: &str,
        alias: Option<&str>,
    ) -> Result<Claim, NatsError> {
        claim_key(&self.interchanges, key, owner, alias, "interchange key").await
    }

    /// Gives back an interchange key this file holds (its interchange was rejected by
    /// the TA1, so a corrected one may use the number again).
    pub async fn release_interchange(&self, key: &str, owner: &str) -> Result<(), NatsError> {
        release_key(&self.interchanges, key, owner, "interchange key").await
    }

    /// The KV key of an accepted claim: `partner.fingerprint`.
    pub fn claim_key(partner: &str, fingerprint: &str) -> String {
        format!("{}.{}", key_part(partner), key_part(fingerprint))
    }

    /// The duplicate-claim check across every instance: creates the claim's key
    /// (`partner.fingerprint`, KV `<prefix>_claims`) for `owner` (the interchange's
    /// owner value), or finds who holds it (another file: a duplicate, A3:54). Like
    /// [`Nats::claim_interchange`], a re-run of the owning file recognises its keys.
    pub async fn claim_fingerprint(
        &self,
        partner: &str,
        fingerprint: &str,
        owner: &str,
        alias: Option<&str>,
    ) -> Result<Claim, NatsError> {
        let key = Nats::claim_key(partner, fingerprint);
        claim_key(&self.claims, &key, owner, alias, "claim key").await
    }

    /// Gives back the claim keys `owner` holds (their group or interchange was
    /// rejected, so the claims were never accepted).
    pub async fn release_fingerprints(
        &self,
        partner: &str,
        fingerprints: &[String],
        owner: &str,
    ) -> Result<(), NatsError> {
        for f in fingerprints {
            let key = Nats::claim_key(partner, f);
            release_key(&self.claims, &key, owner, "claim key").await?;
        }
        Ok(())
    }

    /// Publishes queue items, all sent before their acknowledgments are awaited (the
    /// server syncs each to disk, so one at a time would wait for every sync); returns
    /// each one's stream sequence (the first one's when the server took it for a
    /// replay). What fails is sent again, under the same `Nats-Msg-Id`, until a cluster
    /// that lost a node answers again.
    pub async fn publish_items(&self, items: &[QueuedItem]) -> Result<Vec<u64>, NatsError> {
        let mut sends = Vec::with_capacity(items.len());
        for item in items {
            let payload: bytes::Bytes = serde_json::to_vec(item)
                .map_err(|e| NatsError::Call {
                    op: "item",
                    message: e.to_string(),
                })?
                .into();
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", item.msg_id.as_str());
            sends.push((self.queue_subject(&item.vendor), headers, payload));
        }
        let mut seqs = vec![0u64; items.len()];
        let mut todo: Vec<usize> = (0..items.len()).collect();
        let mut last = String::new();
        for attempt in 0..40u32 {
            let mut acks = Vec::with_capacity(todo.len());
            let mut failed = Vec::new();
            for &i in &todo {
                let (subject, headers, payload) = &sends[i];
                match self
                    .js
                    .publish_with_headers(subject.clone(), headers.clone(), payload.clone())
                    .await
                {
                    Ok(ack) => acks.push((i, ack)),
                    Err(e) => {
                        last = e.to_string();
                        failed.push(i);
                    }
                }
            }
            for (i, ack) in acks {
                match ack.await {
                    Ok(a) => {
                        if a.duplicate {
                            tracing::debug!(seq = a.sequence, "queue item already published");
                        }
                        seqs[i] = a.sequence;
                    }
                    Err(e) => {
                        last = e.to_string();
                        failed.push(i);
                    }
                }
            }
            if failed.is_empty() {
                return Ok(seqs);
            }
            failed.sort_unstable();
            tracing::warn!(attempt, items = failed.len(), error = %last, "queue publish; retrying");
            todo = failed;
            tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt.min(8) + 1))).await;
        }
        Err(NatsError::Call {
            op: "queue publish",
            message: last,
        })
    }

    async fn consumer(&self, vendor: &str) -> Result<consumer::PullConsumer, NatsError> {
        let mut map = self.consumers.lock().await;
        if let Some(c) = map.get(vendor) {
            return Ok(c.clone());
        }
        let name = Nats::consumer_name(vendor);
        let config = consumer::pull::Config {
            durable_name: Some(name.clone()),
            description: Some(format!("gatewayd: the {vendor} queue")),
            filter_subject: self.queue_subject(vendor),
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: Duration::from_secs(self.settings.ack_wait_seconds),
            max_deliver: i64::from(self.settings.max_deliver),
            max_ack_pending: 100_000,
            num_replicas: self.settings.replicas,
            ..Default::default()
        };
        // a busy or electing server answers late: ask again
        let c: consumer::PullConsumer = with_retries(|| {
            self.queue
                .get_or_create_consumer::<consumer::pull::Config>(&name, config.clone())
        })
        .await
        .map_err(|message| NatsError::Call {
            op: "vendor consumer",
            message,
        })?;
        map.insert(vendor.to_string(), c.clone());
        Ok(c)
    }

    /// Leases up to `max` items of `vendor`: the deliveries of its durable consumer,
    /// each leased for the consumer's AckWait, each with the instance that published
    /// it, its partner and the control numbers it cites.
    pub async fn lease(&self, vendor: &str, max: u32) -> Result<Vec<LeasedItem>, NatsError> {
        let c = self.consumer(vendor).await?;
        let mut batch = c
            .fetch()
            .max_messages(max as usize)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .map_err(call("lease"))?;
        // the server's AckWait started at the delivery, a little before this: the lease
        // ends 5% early, so a receipt the gateway takes never acks a newer delivery
        let wait_ms = (self.settings.ack_wait_seconds as i64).saturating_mul(1000);
        let expires = super::store::now_ms() + wait_ms - wait_ms / 20;
        let mut out = Vec::new();
        while let Some(m) = batch.next().await {
            let m = match m {
                Ok(m) => m,
                Err(e) => {
                    // what was fetched so far is leased; the rest comes next time
                    tracing::warn!(vendor = %vendor, error = %e, "lease fetch cut short");
                    break;
                }
            };
            let Some(reply) = m.reply.as_ref().map(|r| r.to_string()) else {
                continue;
            };
            let Some(receipt) = reply
                .strip_prefix("$JS.ACK.")
                .map(|tail| format!("{expires}~{tail}"))
            else {
                continue;
            };
            let Some(r) = parse_receipt(&receipt) else {
                continue;
            };
            let Ok(it) = serde_json::from_slice::<QueuedItem>(&m.payload) else {
                // not ours: keep it from every vendor, in the dead letters
                tracing::error!(vendor = %vendor, seq = r.stream_seq, "a queue message that is not a gateway item");
                let _ = self.to_dead(vendor, r.stream_seq).await;
                let _ = self.settle_subject(&r.subject, "+TERM".into()).await;
                continue;
            };
            let instance = it.instance.clone();
            out.push(LeasedItem {
                leased: super::queue::Leased {
                    id: it.id,
                    receipt,
                    vendor: it.vendor,
                    pa_type: it.pa_type,
                    action: it.action,
                    transaction: it.transaction,
                    request_id: it.request_id,
                    attempts: r.delivered as i64,
                    lease_expires_at_ms: expires,
                    x12: it.x12,
                    item: it.item,
                    trace: it.trace,
                    attachments: it.attachments,
                    msg_id: Some(it.msg_id),
                    instance: Some(it.instance),
                },
                instance,
                partner: it.partner,
                cites: it.cites,
            });
        }
        Ok(out)
    }

    /// Sends an ack-kind to a delivery and waits for the server's answer.
    async fn settle_subject(&self, subject: &str, body: bytes::Bytes) -> Result<(), NatsError> {
        tokio::time::timeout(
            Duration::from_secs(5),
            self.client.request(subject.to_string(), body),
        )
        .await
        .map_err(call("settle"))?
        .map_err(call("settle"))?;
        Ok(())
    }

    /// The receipt, when it names a current lease of this vendor's consumer.
    fn vendor_receipt(&self, vendor: &str, r: &str) -> Option<Receipt> {
        parse_receipt(r).filter(|p| {
            p.stream == self.queue_stream()
                && p.consumer == Nats::consumer_name(vendor)
                && !p.expired()
        })
    }

    /// Acks deliveries of `vendor`: the items leave the queue.
    pub async fn ack(
        &self,
        vendor: &str,
        receipts: &[String],
    ) -> Result<super::queue::Settled, NatsError> {
        let mut out = super::queue::Settled::default();
        // every ack in flight at once; each waits for the server's answer
        let results = futures_util::future::join_all(receipts.iter().map(|r| async move {
            match self.vendor_receipt(vendor, r) {
                Some(p) => self.settle_subject(&p.subject, "+ACK".into()).await.is_ok(),
                None => false,
            }
        }))
        .await;
        for (r, ok) in receipts.iter().zip(results) {
            if ok {
                out.done += 1;
            } else {
                out.stale.push(r.clone());
            }
        }
        Ok(out)
    }

    /// Nacks deliveries of `vendor`: redelivered after `delay`, or, on the last
    /// delivery, moved to the dead letters.
    pub async fn nack(
        &self,
        vendor: &str,
        receipts: &[String],
        delay: Duration,
    ) -> Result<super::queue::Settled, NatsError> {
        let mut out = super::queue::Settled::default();
        for r in receipts {
            let Some(p) = self.vendor_receipt(vendor, r) else {
                out.stale.push(r.clone());
                continue;
            };
            if p.delivered >= u64::from(self.settings.max_deliver) {
                self.to_dead(vendor, p.stream_seq).await?;
                match self.settle_subject(&p.subject, "+TERM".into()).await {
                    Ok(()) => out.dead += 1,
                    Err(_) => out.stale.push(r.clone()),
                }
                continue;
            }
            let body = if delay.is_zero() {
                bytes::Bytes::from_static(b"-NAK")
            } else {
                format!("-NAK {{\"delay\":{}}}", delay.as_nanos()).into()
            };
            match self.settle_subject(&p.subject, body).await {
                Ok(()) => out.done += 1,
                Err(_) => out.stale.push(r.clone()),
            }
        }
        Ok(out)
    }

    /// Copies the queue message at `seq` to the dead letters and removes it from the
    /// queue (nothing happens when it is gone already).
    async fn to_dead(&self, vendor: &str, seq: u64) -> Result<(), NatsError> {
        let Ok(m) = self.queue.get_raw_message(seq).await else {
            return Ok(());
        };
        let mut headers = async_nats::HeaderMap::new();
        let id = m
            .headers
            .get("Nats-Msg-Id")
            .map(|v| v.as_str().to_string())
            .unwrap_or_else(|| format!("seq:{seq}"));
        headers.insert("Nats-Msg-Id", id.as_str());
        self.js
            .publish_with_headers(
                format!("{}.{vendor}", self.dead_subject_prefix),
                headers,
                m.payload.clone(),
            )
            .await
            .map_err(call("dead letter"))?
            .await
            .map_err(call("dead letter"))?;
        let _ = self.queue.delete_message(seq).await;
        tracing::warn!(vendor = %vendor, seq, "queue item moved to the dead letters");
        Ok(())
    }

    /// Sends a vendor's decision (`body`, the request as posted) to the instance that
    /// took the item; returns the HTTP status and the JSON answer it gave.
    pub async fn forward_decision(
        &self,
        owner: &str,
        vendor: &str,
        body: &[u8],
    ) -> Result<(u16, serde_json::Value), NatsError> {
        let request: serde_json::Value = serde_json::from_slice(body).map_err(call("decision"))?;
        let f = ForwardedDecision {
            vendor: vendor.to_string(),
            request,
        };
        let payload = serde_json::to_vec(&f).map_err(call("decision"))?;
        let subject = format!("{}.decide.{}", self.settings.prefix, key_part(owner));
        let m = tokio::time::timeout(
            Duration::from_secs(20),
            self.client.request(subject, payload.into()),
        )
        .await
        .map_err(call("decision forward"))?
        .map_err(call("decision forward"))?;
        let a: ForwardedAnswer = serde_json::from_slice(&m.payload).map_err(call("decision"))?;
        Ok((a.status, a.body))
    }

    /// The subscription to the decisions forwarded to this instance.
    pub async fn decision_requests(&self) -> Result<async_nats::Subscriber, NatsError> {
        self.client
            .subscribe(format!(
                "{}.decide.{}",
                self.settings.prefix,
                key_part(&self.instance)
            ))
            .await
            .map_err(call("decision subscription"))
    }

    /// Answers a forwarded decision.
    pub async fn answer_decision(
        &self,
        reply: async_nats::Subject,
        status: u16,
        body: serde_json::Value,
    ) {
        let a = ForwardedAnswer { status, body };
        if let Ok(payload) = serde_json::to_vec(&a) {
            if let Err(e) = self.client.publish(reply, payload.into()).await {
                tracing::warn!(error = %e, "forwarded decision not answered");
            }
        }
    }

    /// The KV key of an item's decision record: `instance.item id`.
    pub fn decision_key(instance: &str, item_id: i64) -> String {
        format!("{}.{item_id}", key_part(instance))
    }

    /// Whether `instance`'s heartbeat is in KV (it has not gone silent).
    pub async fn is_alive(&self, instance: &str) -> bool {
        matches!(self.instances.get(key_part(instance)).await, Ok(Some(_)))
    }

    /// Creates an item's decision record unless it exists (the first mirror of its
    /// request's status creates it; a later one leaves it to the deciders).
    pub async fn open_decision(&self, key: &str, r: &DecisionRecord) -> Result<(), NatsError> {
        let body: bytes::Bytes = serde_json::to_vec(r)
            .map_err(call("decision record"))?
            .into();
        retrying("decision record", || async {
            match self.decisions.create(key, body.clone()).await {
                Err(e) if e.kind() != kv::CreateErrorKind::AlreadyExists => Err(e),
                _ => Ok(()),
            }
        })
        .await
    }

    /// An item's decision record and its revision.
    pub async fn decision(&self, key: &str) -> Result<Option<(DecisionRecord, u64)>, NatsError> {
        let Some(e) = self
            .decisions
            .entry(key)
            .await
            .map_err(call("decision record"))?
        else {
            return Ok(None);
        };
        if e.operation != kv::Operation::Put {
            return Ok(None);
        }
        let r = serde_json::from_slice(&e.value).map_err(call("decision record"))?;
        Ok(Some((r, e.revision)))
    }

    /// Replaces an item's decision record if it is still at `revision`: its new
    /// revision, or `None` when another instance changed it meanwhile.
    pub async fn update_decision(
        &self,
        key: &str,
        r: &DecisionRecord,
        revision: u64,
    ) -> Result<Option<u64>, NatsError> {
        let body = serde_json::to_vec(r).map_err(call("decision record"))?;
        Ok(self.decisions.update(key, body.into(), revision).await.ok())
    }

    /// Marks an item `deciding` by this instance (compare-and-set), unless it is
    /// decided or a live instance is deciding it. A record `deciding` by a gone
    /// instance (or by this one, before a restart) is taken. `None` when the item has
    /// no record (published before records existed, or its status not mirrored yet):
    /// only the instance that took it can decide it then.
    pub async fn begin_decision(
        &self,
        key: &str,
        vendor: &str,
    ) -> Result<Result<Option<(DecisionRecord, u64)>, DecisionBusy>, NatsError> {
        for _ in 0..5 {
            let Some((r, revision)) = self.decision(key).await? else {
                return Ok(Ok(None));
            };
            if r.vendor != vendor {
                return Ok(Err(DecisionBusy::OtherVendor));
            }
            match r.state.as_str() {
                "decided" => return Ok(Err(DecisionBusy::Decided(r.status))),
                "deciding" => {
                    let by = r.by.as_deref().unwrap_or_default();
                    if by != self.instance && self.is_alive(by).await {
                        return Ok(Err(DecisionBusy::Deciding));
                    }
                }
                _ => {}
            }
            let mut next = r.clone();
            next.state = "deciding".into();
            next.by = Some(self.instance.clone());
            next.at_ms = super::store::now_ms();
            if let Some(rev) = self.update_decision(key, &next, revision).await? {
                return Ok(Ok(Some((next, rev))));
            }
        }
        Ok(Err(DecisionBusy::Deciding))
    }

    /// Ends a decision begun with [`Nats::begin_decision`]: the record becomes `r`
    /// (its state `decided`, or `open` again after a pend or a refusal).
    pub async fn end_decision(
        &self,
        key: &str,
        r: &DecisionRecord,
        revision: u64,
    ) -> Result<(), NatsError> {
        if self.update_decision(key, r, revision).await?.is_none() {
            return Err(NatsError::Call {
                op: "decision record",
                message: "changed by another instance while deciding".into(),
            });
        }
        Ok(())
    }

    /// The value of a PA status key (a request's inquiry answer with its history).
    pub async fn pa_value(&self, key: &str) -> Result<Option<serde_json::Value>, NatsError> {
        match self.pa.get(key).await.map_err(call("pa status"))? {
            Some(v) => Ok(serde_json::from_slice(&v).ok()),
            None => Ok(None),
        }
    }

    /// The KV keys of a PA request of this instance: one per number it is found by,
    /// `partner.number.instance.id`.
    pub fn pa_keys(&self, partner: &str, numbers: &[String], pa_id: i64) -> Vec<String> {
        numbers
            .iter()
            .map(|n| {
                format!(
                    "{}.{}.{}.{pa_id}",
                    key_part(partner),
                    key_part(n.trim()),
                    key_part(&self.instance)
                )
            })
            .collect()
    }

    /// Puts a PA request's status under each of `keys`, and deletes `stale` keys (a
    /// number it is no longer found by).
    pub async fn put_pa(
        &self,
        keys: &[String],
        stale: &[String],
        value: &serde_json::Value,
    ) -> Result<(), NatsError> {
        let body: bytes::Bytes = value.to_string().into();
        for k in keys {
            retrying("pa status", || self.pa.put(k, body.clone())).await?;
        }
        for k in stale {
            retrying("pa status", || self.pa.delete(k)).await?;
        }
        Ok(())
    }

    /// The PA requests of `partner` found by `number` that other instances took, from
    /// KV (so an instance that is down is still answered for): the bucket's subjects
    /// under `partner.number.` first, then the value of each.
    pub async fn pa_lookup(&self, partner: &str, number: &str) -> Vec<serde_json::Value> {
        let head = format!("{}.{}.", key_part(partner), key_part(number.trim()));
        let own = format!("{head}{}.", key_part(&self.instance));
        let prefix = format!("{}.", self.pa.prefix.trim_end_matches('.'));
        let keys: Vec<String> = match self
            .pa
            .stream
            .info_with_subjects(format!("{prefix}{head}>"))
            .await
        {
            Ok(mut subjects) => {
                let mut keys = Vec::new();
                while let Some(Ok((subject, _))) = subjects.next().await {
                    if let Some(k) = subject.strip_prefix(&prefix) {
                        if !k.starts_with(&own) {
                            keys.push(k.to_string());
                        }
                    }
                }
                keys
            }
            Err(e) => {
                tracing::warn!(error = %e, "pa lookup");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for k in keys {
            // a deleted key has no value
            if let Ok(Some(v)) = self.pa.get(k).await {
                if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&v) {
                    out.push(v);
                }
            }
        }
        out
    }

    /// The vendor and PA type of the request a PA number was issued for, from KV (any
    /// partner, any instance): a request whose certification number it is (approved or
    /// modified), or one found by it that is neither its BHT03 nor its tracking number
    /// (an authorization number the gateway issued); the latest when several are.
    pub async fn pa_index_lookup(&self, number: &str) -> Option<(String, String)> {
        let number = number.trim();
        let prefix = format!("{}.", self.pa.prefix.trim_end_matches('.'));
        let filter = format!("{prefix}*.{}.>", key_part(number));
        let listed = retrying("pa index lookup", || async {
            let mut subjects = self.pa.stream.info_with_subjects(filter.as_str()).await?;
            let mut keys = Vec::new();
            while let Some(s) = subjects.next().await {
                let (subject, _) = s?;
                if let Some(k) = subject.strip_prefix(&prefix) {
                    keys.push(k.to_string());
                }
            }
            Ok::<_, async_nats::Error>(keys)
        })
        .await;
        let keys = match listed {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!(error = %e, "pa index lookup");
                return None;
            }
        };
        let mut best: Option<(i64, String, String)> = None;
        for k in keys {
            let Ok(Some(v)) = self.pa_value(&k).await else {
                continue;
            };
            let s = |f: &str| v[f].as_str().unwrap_or_default();
            let certified =
                s("certification") == number && matches!(s("status"), "approved" | "modified");
            let issued =
                s("certification") != number && s("bht03") != number && s("tracking") != number;
            if !(certified || issued) {
                continue;
            }
            let at = v["history"]
                .as_array()
                .and_then(|h| h.last())
                .and_then(|h| h["at_ms"].as_i64())
                .unwrap_or(0);
            if best.as_ref().is_none_or(|b| at >= b.0) {
                best = Some((at, s("vendor").to_string(), s("pa_type").to_string()));
            }
        }
        best.map(|(_, vendor, pa_type)| (vendor, pa_type))
    }

    /// Removes a decided item from its queue (a vendor's decision settles it).
    pub async fn remove(&self, seq: u64) -> Result<(), NatsError> {
        let _ = self.queue.delete_message(seq).await;
        Ok(())
    }

    /// Items waiting, leased and dead, per vendor, for `/metrics`.
    pub async fn depths(&self, vendors: &[String]) -> Vec<(String, String, i64)> {
        let mut out = Vec::new();
        let dead: HashMap<String, usize> = match self
            .js
            .get_stream(format!(
                "{}_DEAD",
                self.settings.prefix.to_ascii_uppercase()
            ))
            .await
        {
            Ok(s) => match s
                .info_with_subjects(format!("{}.*", self.dead_subject_prefix))
                .await
            {
                Ok(mut subjects) => {
                    let mut m = HashMap::new();
                    while let Some(Ok((subject, n))) = subjects.next().await {
                        if let Some(v) = subject.rsplit('.').next() {
                            m.insert(v.to_string(), n);
                        }
                    }
                    m
                }
                Err(_) => HashMap::new(),
            },
            Err(_) => HashMap::new(),
        };
        for v in vendors {
            let Ok(mut c) = self.consumer(v).await else {
                continue;
            };
            if let Ok(i) = c.info().await {
                out.push((v.clone(), "ready".into(), i.num_pending as i64));
                out.push((v.clone(), "leased".into(), i.num_ack_pending as i64));
            }
            if let Some(n) = dead.get(v) {
                out.push((v.clone(), "dead".into(), *n as i64));
            }
        }
        out
    }
}

/// Creates `key` for `owner` in `store`, or finds who holds it: `owner` (a re-run of
/// the same file) or `alias` (the file this one took over; the key passes to `owner`
/// with compare-and-set) is [`Claim::Ours`], anyone else [`Claim::Other`].
async fn claim_key(
    store: &kv::Store,
    key: &str,
    owner: &str,
    alias: Option<&str>,
    op: &'static str,
) -> Result<Claim, NatsError> {
    for _ in 0..5 {
        match store.create(key, owner.to_string().into()).await {
            Ok(_) => return Ok(Claim::Ours),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {}
            Err(e) => return Err(call(op)(e)),
        }
        let Some(held) = store.entry(key).await.map_err(call(op))? else {
            // deleted between the two calls: try again
            continue;
        };
        if held.operation != kv::Operation::Put {
            continue;
        }
        if held.value.as_ref() == owner.as_bytes() {
            return Ok(Claim::Ours);
        }
        if alias.is_some_and(|a| held.value.as_ref() == a.as_bytes()) {
            match store
                .update(key, owner.to_string().into(), held.revision)
                .await
            {
                Ok(_) => return Ok(Claim::Ours),
                // changed meanwhile: look again
                Err(_) => continue,
            }
        }
        return Ok(Claim::Other);
    }
    Ok(Claim::Other)
}

/// Deletes `key` when `owner` holds it (compare-and-set on its revision).
async fn release_key(
    store: &kv::Store,
    key: &str,
    owner: &str,
    op: &'static str,
) -> Result<(), NatsError> {
    let entry = store.entry(key).await.map_err(call(op))?;
    if let Some(e) = entry {
        if e.operation == kv::Operation::Put && e.value.as_ref() == owner.as_bytes() {
            store
                .delete_expect_revision(key, Some(e.revision))
                .await
                .map_err(call(op))?;
        }
    }
    Ok(())
}

/// Puts this instance's heartbeat every `heartbeat_seconds` while the store lives.
async fn heartbeat_loop(nats: std::sync::Weak<Nats>) {
    loop {
        let every = match nats.upgrade() {
            Some(n) => Duration::from_secs(n.settings.heartbeat_seconds),
            None => return,
        };
        tokio::time::sleep(every).await;
        let Some(n) = nats.upgrade() else { return };
        if let Err(e) = n.heartbeat().await {
            tracing::warn!(error = %e, "heartbeat");
        }
    }
}

/// Creates (or finds, unchanged) the KV bucket `bucket` with one value per key, on
/// file storage with `replicas` copies; `max_age` ZERO keeps entries for good.
async fn kv_bucket(
    js: &jetstream::Context,
    bucket: String,
    description: &str,
    replicas: usize,
    max_age: Duration,
) -> Result<kv::Store, String> {
    with_retries(|| {
        js.create_or_update_key_value(kv::Config {
            bucket: bucket.clone(),
            description: description.into(),
            history: 1,
            max_age,
            storage: jetstream::stream::StorageType::File,
            num_replicas: replicas,
            ..Default::default()
        })
    })
    .await
}

/// [`with_retries`] with the last error as a [`NatsError`] of `op`: for the calls the
/// pipeline makes between files, which a cluster that just lost a node refuses for a
/// few seconds.
pub(super) async fn retrying<T, E: std::fmt::Display, F, Fut>(
    op: &'static str,
    f: F,
) -> Result<T, NatsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    with_retries(f)
        .await
        .map_err(|message| NatsError::Call { op, message })
}

/// Calls `f` until it succeeds, for up to about 30 s (a cluster electing a leader
/// answers with errors meanwhile).
async fn with_retries<T, E: std::fmt::Display, F, Fut>(mut f: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut last = String::new();
    for attempt in 0..30u64 {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(200 * attempt.min(5) + 100)).await;
    }
    Err(last)
}

#[derive(Deserialize)]
struct MaxDeliveries {
    consumer: String,
    stream_seq: u64,
}

/// Moves items whose last lease ran out (the server's max-deliveries advisory) to the
/// dead letters. Every instance hears the advisory; the copy is idempotent (same
/// `Nats-Msg-Id`) and the removal happens once.
async fn dead_letter_loop(nats: std::sync::Weak<Nats>, mut advisories: async_nats::Subscriber) {
    while let Some(m) = advisories.next().await {
        let Some(n) = nats.upgrade() else { return };
        let Ok(a) = serde_json::from_slice::<MaxDeliveries>(&m.payload) else {
            continue;
        };
        let Some(vendor) = a.consumer.strip_prefix("vendor_") else {
            continue;
        };
        if let Err(e) = n.to_dead(vendor, a.stream_seq).await {
            tracing::error!(error = %e, "dead letter");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_and_keys() {
        let r = parse_receipt("99~NCX12_QUEUE.vendor_csra.2.17.9.1700000000000000000.3").unwrap();
        assert!(r.expired());
        assert_eq!(
            r.subject,
            "$JS.ACK.NCX12_QUEUE.vendor_csra.2.17.9.1700000000000000000.3"
        );
        assert_eq!(
            (
                r.stream.as_str(),
                r.consumer.as_str(),
                r.delivered,
                r.stream_seq
            ),
            ("NCX12_QUEUE", "vendor_csra", 2, 17)
        );
        let r = parse_receipt("1~_.ACCHASH.S.C.1.5.5.1700000000000000000.0.tok").unwrap();
        assert_eq!((r.stream.as_str(), r.stream_seq), ("S", 5));
        assert!(parse_receipt("1~S.C.x.5.5.1.0").is_none());
        assert!(parse_receipt("S.C.1.5.5.1.0").is_none());
        assert!(parse_receipt("1~S.>.1.5.5.1.0").is_none());
        assert!(parse_receipt("").is_none());
        assert_eq!(key_part("AB 12*"), "AB=2012=2A");
        assert_eq!(key_part(""), "=");
        assert_eq!(Nats::claim_key("demo", "ab12"), "demo.ab12");
        // a record written before takeovers existed has no owner: its instance's
        let r: FileRecord = serde_json::from_str(
            r#"{"instance":"gw1","partner":"p","name":"n","sha256":"s","object":"gw1/1","state":"received"}"#,
        )
        .unwrap();
        assert_eq!(r.owner(), "gw1");
        let taken = FileRecord {
            owner: Some("gw2".into()),
            ..r
        };
        assert_eq!(taken.owner(), "gw2");
        let text = serde_json::to_string(&taken).unwrap();
        assert!(
            text.contains(r#""owner":"gw2""#) && !text.contains("\"by\""),
            "{text}"
        );
        assert_eq!(
            Nats::interchange_key("demo", "SUBMITTER01", "000000001"),
            "demo.SUBMITTER01.000000001"
        );
    }
}
