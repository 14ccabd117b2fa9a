//! PWK attachment uploads in the cluster (`store = "nats"`), so they outlive the
//! instance that took them.
//!
//! | what | where |
//! |---|---|
//! | the bytes | object store `<prefix>_attachments`, object `<sha256>` (the same bytes once) |
//! | an upload | KV `<prefix>_attachments`, key `id.<id>`: partner, control number, content type, size, SHA-256, its stored name; ids come from the cluster's counter `attachment_id`, so no two instances give the same id |
//! | the upload of a partner's bytes under a control number | key `up.<partner>.<control number hash>.<sha256>` (the first 16 bytes of the number's SHA-256, in hex: keys never show a control number) (created once: the same bytes again, through any instance, are the same upload) naming its id |
//! | a control number a transaction cited | key `cited.<partner>.<control number hash>` (an upload through any instance is `linked` then) |
//! | a vendor's access | key `grant.<id>.<vendor>`, put when the vendor leases an item that lists the upload (it may fetch it through any instance from then on, as from the instance that holds the item) |
//!
//! Each instance keeps its SQLite rows as before (linking, leases and PA inquiry read
//! them); an instance reading a transaction that cites a control number first copies
//! the cluster's uploads of it into its store ([`super::attachments::import_shared`]), and
//! fetches the bytes from the object store when its data dir has no copy.

use super::nats::{key_part, retrying, NatsError};
use async_nats::jetstream::{self, kv, object_store};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

/// A control number as a key part: a hash (keys reach the client's debug log, a
/// control number must not).
fn control_part(control_number: &str) -> String {
    let d = <sha2::Sha256 as sha2::Digest>::digest(control_number.as_bytes());
    super::config::hex(&d[..16])
}

fn call<E: std::fmt::Display>(op: &'static str) -> impl FnOnce(E) -> NatsError {
    move |e| NatsError::Call {
        op,
        message: e.to_string(),
    }
}

/// An upload as the cluster keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedUpload {
    /// Attachment id (the same on every instance).
    pub id: i64,
    /// The partner that uploaded it.
    pub partner: String,
    /// Its attachment control number (PWK06).
    pub control_number: String,
    /// The content type read from the bytes.
    pub content_type: String,
    /// Size in bytes.
    pub size: i64,
    /// Hex SHA-256 of the bytes (its object's name).
    pub sha256: String,
    /// Its file name under an instance's `attachments/` folder.
    pub file: String,
    /// When it was uploaded (ms since 1970).
    pub received_at: i64,
}

impl SharedUpload {
    /// The upload as a lease or PA inquiry lists it.
    pub fn info(&self) -> super::attachments::AttachmentInfo {
        super::attachments::AttachmentInfo {
            id: self.id,
            control_number: self.control_number.clone(),
            content_type: self.content_type.clone(),
            bytes: self.size,
            received_at_ms: self.received_at,
        }
    }
}

/// The attachments bucket and object store.
pub struct SharedAttachments {
    kv: kv::Store,
    objects: object_store::ObjectStore,
}

impl std::fmt::Debug for SharedAttachments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedAttachments").finish_non_exhaustive()
    }
}

impl SharedAttachments {
    /// The uploads in `kv` (KV `<prefix>_attachments`) and `objects` (its object store).
    pub(super) fn new(kv: kv::Store, objects: object_store::ObjectStore) -> SharedAttachments {
        SharedAttachments { kv, objects }
    }

    /// The object store's configuration.
    pub(super) fn objects_config(bucket: String, replicas: usize) -> object_store::Config {
        object_store::Config {
            bucket,
            description: Some("gatewayd: PWK attachment uploads".into()),
            storage: jetstream::stream::StorageType::File,
            num_replicas: replicas,
            ..Default::default()
        }
    }

    /// Stores an upload: the bytes (unless there), its record, then its
    /// `up.<partner>.<control number hash>.<sha256>` key. When that key exists (the same
    /// bytes under the same number, through any instance), the upload it names.
    pub async fn put(&self, u: &SharedUpload, body: &[u8]) -> Result<SharedUpload, NatsError> {
        let there = matches!(self.objects.info(&u.sha256).await,
            Ok(i) if i.digest.is_some() && !i.deleted);
        if !there {
            let mut r: &[u8] = body;
            self.objects
                .put(u.sha256.as_str(), &mut r)
                .await
                .map_err(call("attachment put"))?;
        }
        let key = format!(
            "up.{}.{}.{}",
            key_part(&u.partner),
            control_part(&u.control_number),
            key_part(&u.sha256)
        );
        if let Ok(Some(held)) = self.kv.get(&key).await {
            if let Some(existing) = self.held(&held).await? {
                return Ok(existing);
            }
        }
        let record = serde_json::to_vec(u).map_err(call("attachment record"))?;
        self.kv
            .put(format!("id.{}", u.id), record.into())
            .await
            .map_err(call("attachment record"))?;
        match self.kv.create(&key, u.id.to_string().into()).await {
            Ok(_) => Ok(u.clone()),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                // uploaded through another instance meanwhile: that one's
                let held = self
                    .kv
                    .get(&key)
                    .await
                    .map_err(call("attachment key"))?
                    .unwrap_or_default();
                Ok(self.held(&held).await?.unwrap_or_else(|| u.clone()))
            }
            Err(e) => Err(call("attachment key")(e)),
        }
    }

    /// The upload a key's value (an id) names.
    async fn held(&self, value: &[u8]) -> Result<Option<SharedUpload>, NatsError> {
        match std::str::from_utf8(value).ok().and_then(|v| v.parse().ok()) {
            Some(id) => self.get(id).await,
            None => Ok(None),
        }
    }

    /// The upload `id`.
    pub async fn get(&self, id: i64) -> Result<Option<SharedUpload>, NatsError> {
        match self
            .kv
            .get(format!("id.{id}"))
            .await
            .map_err(call("attachment record"))?
        {
            Some(v) => Ok(serde_json::from_slice(&v).ok()),
            None => Ok(None),
        }
    }

    /// The uploads of `partner` under `control_number`, through every instance.
    pub async fn of_control(
        &self,
        partner: &str,
        control_number: &str,
    ) -> Result<Vec<SharedUpload>, NatsError> {
        let prefix = format!("{}.", self.kv.prefix.trim_end_matches('.'));
        let head = format!("up.{}.{}.", key_part(partner), control_part(control_number));
        let filter = format!("{prefix}{head}*");
        let keys = retrying("attachment keys", || async {
            let mut subjects = self.kv.stream.info_with_subjects(filter.as_str()).await?;
            let mut keys = Vec::new();
            while let Some(s) = subjects.next().await {
                let (subject, _) = s?;
                if let Some(k) = subject.strip_prefix(&prefix) {
                    keys.push(k.to_string());
                }
            }
            Ok::<_, async_nats::Error>(keys)
        })
        .await?;
        let mut out = Vec::new();
        for k in keys {
            if let Some(v) = self.kv.get(&k).await.map_err(call("attachment key"))? {
                if let Some(u) = self.held(&v).await? {
                    out.push(u);
                }
            }
        }
        out.sort_by_key(|u| u.id);
        Ok(out)
    }

    /// The bytes of the upload with this SHA-256.
    pub async fn bytes(&self, sha256: &str) -> Result<Vec<u8>, NatsError> {
        use tokio::io::AsyncReadExt;
        let mut o = self
            .objects
            .get(sha256)
            .await
            .map_err(call("attachment get"))?;
        let mut out = Vec::new();
        o.read_to_end(&mut out).await?;
        Ok(out)
    }

    /// Notes that a transaction of `partner` cites `control_number`.
    pub async fn cite(&self, partner: &str, control_number: &str) -> Result<(), NatsError> {
        let key = format!(
            "cited.{}.{}",
            key_part(partner),
            control_part(control_number)
        );
        retrying("attachment citation", || async {
            match self.kv.create(key.as_str(), "1".into()).await {
                Err(e) if e.kind() != kv::CreateErrorKind::AlreadyExists => Err(e),
                _ => Ok(()),
            }
        })
        .await
    }

    /// Whether a transaction of `partner` cites `control_number` (through any
    /// instance).
    pub async fn cited(&self, partner: &str, control_number: &str) -> Result<bool, NatsError> {
        let key = format!(
            "cited.{}.{}",
            key_part(partner),
            control_part(control_number)
        );
        Ok(self
            .kv
            .get(&key)
            .await
            .map_err(call("attachment citation"))?
            .is_some())
    }

    /// Lets `vendor` fetch upload `id` through any instance.
    pub async fn grant(&self, id: i64, vendor: &str) -> Result<(), NatsError> {
        let key = format!("grant.{id}.{}", key_part(vendor));
        match self.kv.create(&key, "1".into()).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(call("attachment grant")(e)),
        }
    }

    /// Whether `vendor` may fetch upload `id`.
    pub async fn granted(&self, id: i64, vendor: &str) -> Result<bool, NatsError> {
        let key = format!("grant.{id}.{}", key_part(vendor));
        Ok(self
            .kv
            .get(&key)
            .await
            .map_err(call("attachment grant"))?
            .is_some())
    }
}
