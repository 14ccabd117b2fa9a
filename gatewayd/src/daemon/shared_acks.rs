//! The acknowledgments an instance owes, in the cluster (`store = "nats"`), so that an
//! instance taking over a file writes what the gone one would have written: the same
//! names and bytes (the same ISA13s), each once.
//!
//! | what | where |
//! |---|---|
//! | the outbox files of one interchange of a file (TA1, 999s, 277CAs, the gateway's own 278 answers, cover sheets), or a file's own notes | KV `<prefix>_acks`, key `<instance>.<file id>.<interchange position>` (`f` for the file's notes), created once before the first of them is written: a line of JSON (partner, name and size of each), then the bytes; over 512 KiB the bytes are object `acks/<key>/<ms>` of `<prefix>_raw` |
//! | each one written | key `w.<group key>.<index>`, created once the file is in the outbox |
//!
//! The pipeline ([`flush`]) records a group, writes its files, marks each written.
//! For a file taken over from a gone instance, a group that instance recorded is
//! written from the record (what is not marked written yet) instead of the new run's
//! files, whose rows are settled without being written; a group it never recorded is
//! the new run's, recorded under this instance.
//!
//! Decisions' 278 responses are not recorded here (a decision adopted from a gone
//! instance records its response in its decision record, see [`super::adopt`]).

use super::config::Config;
use super::nats::{key_part, retrying, NatsError};
use super::outbox;
use super::pipeline::PipelineError;
use super::store::PendingAck;
use async_nats::jetstream::{kv, object_store};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Bytes of a group kept in its KV value; more go to the object store.
const INLINE_MAX: usize = 512 * 1024;

fn call<E: std::fmt::Display>(op: &'static str) -> impl FnOnce(E) -> NatsError {
    move |e| NatsError::Call {
        op,
        message: e.to_string(),
    }
}

/// One recorded outbox file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedAck {
    /// The partner whose outbox it goes to.
    pub partner: String,
    /// Its name there.
    pub name: String,
    /// Its bytes.
    #[serde(skip)]
    pub body: Vec<u8>,
    /// How many bytes.
    pub len: usize,
}

#[derive(Debug, Serialize, Deserialize)]
struct GroupHead {
    acks: Vec<RecordedAck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    object: Option<String>,
}

/// The acknowledgments bucket (and the raw object store for large groups).
pub struct SharedAcks {
    kv: kv::Store,
    objects: object_store::ObjectStore,
}

impl std::fmt::Debug for SharedAcks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedAcks").finish_non_exhaustive()
    }
}

impl SharedAcks {
    /// The groups in `kv` (KV `<prefix>_acks`), large ones' bytes in `objects`.
    pub(super) fn new(kv: kv::Store, objects: object_store::ObjectStore) -> SharedAcks {
        SharedAcks { kv, objects }
    }

    /// The key of a group: `<instance>.<file id>.<interchange position or f>`.
    pub fn group_key(instance: &str, file_id: i64, seq: Option<i64>) -> String {
        match seq {
            Some(s) => format!("{}.{file_id}.{s}", key_part(instance)),
            None => format!("{}.{file_id}.f", key_part(instance)),
        }
    }

    /// Records a group unless it is recorded; returns the group as recorded (the first
    /// record wins).
    pub async fn record(
        &self,
        key: &str,
        acks: &[RecordedAck],
    ) -> Result<Vec<RecordedAck>, NatsError> {
        let total: usize = acks.iter().map(|a| a.body.len()).sum();
        let mut bytes = Vec::with_capacity(total);
        for a in acks {
            bytes.extend_from_slice(&a.body);
        }
        let mut head = GroupHead {
            acks: acks
                .iter()
                .map(|a| RecordedAck {
                    len: a.body.len(),
                    body: Vec::new(),
                    ..a.clone()
                })
                .collect(),
            object: None,
        };
        let mut value = Vec::new();
        if total > INLINE_MAX {
            // a name of its own: a record made first keeps the object it names
            let object = format!("acks/{key}/{}", super::store::now_ms());
            retrying("acknowledgments put", || async {
                let mut r: &[u8] = &bytes;
                self.objects.put(object.as_str(), &mut r).await
            })
            .await?;
            head.object = Some(object);
        }
        value.extend(serde_json::to_vec(&head).map_err(call("acknowledgments"))?);
        value.push(b'\n');
        if head.object.is_none() {
            value.extend_from_slice(&bytes);
        }
        let value: bytes::Bytes = value.into();
        // a create the server made but whose answer was lost is found on the next try
        let created = retrying("acknowledgments", || async {
            match self.kv.create(key, value.clone()).await {
                Ok(_) => Ok(true),
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(e),
            }
        })
        .await?;
        if created {
            return Ok(acks.to_vec());
        }
        Ok(self.recorded(key).await?.unwrap_or_else(|| acks.to_vec()))
    }

    /// A recorded group, with the bytes.
    pub async fn recorded(&self, key: &str) -> Result<Option<Vec<RecordedAck>>, NatsError> {
        let Some(v) = retrying("acknowledgments", || self.kv.get(key)).await? else {
            return Ok(None);
        };
        let Some(cut) = v.iter().position(|b| *b == b'\n') else {
            return Ok(None);
        };
        let head: GroupHead = serde_json::from_slice(&v[..cut]).map_err(call("acknowledgments"))?;
        let bytes = match &head.object {
            Some(o) => {
                use tokio::io::AsyncReadExt;
                let mut r = self
                    .objects
                    .get(o)
                    .await
                    .map_err(call("acknowledgments get"))?;
                let mut out = Vec::new();
                r.read_to_end(&mut out).await?;
                out
            }
            None => v[cut + 1..].to_vec(),
        };
        let mut at = 0;
        let mut out = Vec::with_capacity(head.acks.len());
        for mut a in head.acks {
            let end = at + a.len;
            let Some(body) = bytes.get(at..end) else {
                return Err(NatsError::Call {
                    op: "acknowledgments",
                    message: format!("group {key} is shorter than its list"),
                });
            };
            a.body = body.to_vec();
            at = end;
            out.push(a);
        }
        Ok(Some(out))
    }

    /// Marks file `index` of group `key` written.
    pub async fn mark_written(&self, key: &str, index: usize) -> Result<(), NatsError> {
        let mark = format!("w.{key}.{index}");
        retrying("acknowledgment written", || async {
            match self.kv.create(mark.as_str(), "1".into()).await {
                Err(e) if e.kind() != kv::CreateErrorKind::AlreadyExists => Err(e),
                _ => Ok(()),
            }
        })
        .await
    }

    /// Whether file `index` of group `key` is written.
    pub async fn written(&self, key: &str, index: usize) -> Result<bool, NatsError> {
        let mark = format!("w.{key}.{index}");
        Ok(
            retrying("acknowledgment written", || self.kv.get(mark.as_str()))
                .await?
                .is_some(),
        )
    }
}

/// Writes one outbox file durably to its partner's outbox; `false` when the partner
/// is no longer configured.
fn write(cfg: &Config, partner: &str, name: &str, body: &[u8]) -> Result<bool, PipelineError> {
    let Some(p) = cfg.partner(partner) else {
        tracing::warn!("acknowledgment for a partner no longer configured");
        return Ok(false);
    };
    std::fs::create_dir_all(&p.outbox)?;
    outbox::write_durably(&p.outbox, name, body)?;
    Ok(true)
}

/// Writes the `pending` outbox files through the cluster's record (see the module
/// documentation); returns the ids of the rows settled (written, or replaced by what
/// a gone instance recorded).
pub fn flush(
    conn: &Connection,
    n: &super::nats::Nats,
    cfg: &Config,
    pending: &[PendingAck],
) -> Result<Vec<i64>, PipelineError> {
    let shared = n.acks();
    // (file id, interchange position) of each; decisions' responses go as they are
    let mut groups: BTreeMap<(i64, Option<i64>), Vec<&PendingAck>> = BTreeMap::new();
    let mut done = Vec::with_capacity(pending.len());
    for a in pending {
        let (file_id, seq, kind): (i64, Option<i64>, String) = conn
            .prepare_cached(
                "SELECT a.file_id, i.seq, a.kind FROM acks a
                 LEFT JOIN interchanges i ON i.id = a.interchange_id WHERE a.id = ?1",
            )?
            .query_row(params![a.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        if seq.is_none() && !matches!(kind.as_str(), "note" | "reject") {
            if write(cfg, &a.partner, &a.name, &a.body)? {
                done.push(a.id);
            }
            continue;
        }
        groups.entry((file_id, seq)).or_default().push(a);
    }
    for ((file_id, seq), acks) in groups {
        let origin: Option<String> = conn
            .prepare_cached("SELECT origin FROM nats_takeover WHERE file_id = ?1")?
            .query_row(params![file_id], |r| r.get(0))
            .optional()?;
        let gone = origin.as_deref().and_then(|o| {
            let (inst, file) = o.split_once(':')?;
            Some(SharedAcks::group_key(inst, file.parse().ok()?, seq))
        });
        if let Some(key) = gone {
            if let Some(recorded) = n.block_on(shared.recorded(&key))? {
                // what the gone instance owed: its files, not this run's
                for (i, r) in recorded.iter().enumerate() {
                    if n.block_on(shared.written(&key, i))? {
                        continue;
                    }
                    write(cfg, &r.partner, &r.name, &r.body)?;
                    n.block_on(shared.mark_written(&key, i))?;
                }
                tracing::info!(
                    file = file_id,
                    files = recorded.len(),
                    "acknowledgments a gone instance recorded written in its stead"
                );
                done.extend(acks.iter().map(|a| a.id));
                continue;
            }
        }
        let key = SharedAcks::group_key(n.instance(), file_id, seq);
        let ours: Vec<RecordedAck> = acks
            .iter()
            .map(|a| RecordedAck {
                partner: a.partner.clone(),
                name: a.name.clone(),
                len: a.body.len(),
                body: a.body.clone(),
            })
            .collect();
        let recorded = n.block_on(shared.record(&key, &ours))?;
        super::pipeline::test_pause("ack_recorded");
        for a in acks {
            let index = recorded
                .iter()
                .position(|r| r.partner == a.partner && r.name == a.name);
            if write(cfg, &a.partner, &a.name, &a.body)? {
                if let Some(i) = index {
                    n.block_on(shared.mark_written(&key, i))?;
                }
                super::pipeline::test_pause("ack_written");
                done.push(a.id);
            }
        }
    }
    Ok(done)
}
