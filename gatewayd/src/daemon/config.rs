//! The daemon's configuration: a TOML file (see `gatewayd.example.toml` at the top of
//! the repository), or the embedded defaults when none is given.
//!
//! Every key is checked at start-up; an error names the key (`partner[1].inbox`,
//! `limits.max_file_bytes`) and says what is wrong. Unknown keys are errors too.

use crate::route::{Router, Table};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("config {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        message: String,
    },
    /// Not TOML, an unknown key, or a value of the wrong type.
    #[error("config: {0}")]
    Syntax(String),
    /// A key with a value the daemon cannot use.
    #[error("config key `{key}`: {message}")]
    Key {
        /// The key, e.g. `partner[0].sender_ids`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

fn key_error(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Key {
        key: key.into(),
        message: message.into(),
    }
}

/// The transaction kinds a partner may send (and the default: all of them).
pub const TRANSACTIONS: [&str; 4] = ["278", "837P", "837I", "837D"];

/// The file as written (every field optional where a default exists).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    data_dir: Option<PathBuf>,
    store: Option<String>,
    contractor_table: Option<PathBuf>,
    eligibility_file: Option<PathBuf>,
    provider_file: Option<PathBuf>,
    pharmacy_criteria: Option<PathBuf>,
    accept_with_errors: Option<Vec<u8>>,
    #[serde(default)]
    http: RawHttp,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    attachments: RawAttachments,
    #[serde(default)]
    nats: RawNats,
    #[serde(default)]
    realtime: RawRealtime,
    #[serde(default)]
    partner: Vec<RawPartner>,
    #[serde(default)]
    vendor: Vec<RawVendor>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    listen: Option<String>,
    tls_listen: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRealtime {
    answer_within_ms: Option<u64>,
    max_body_bytes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_file_bytes: Option<u64>,
    max_sets_per_file: Option<u64>,
    max_attempts: Option<u32>,
    settle_ms: Option<u64>,
    rescan_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAttachments {
    max_bytes: Option<u64>,
    pending_after_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNats {
    servers: Option<Vec<String>>,
    prefix: Option<String>,
    replicas: Option<u64>,
    ack_wait_seconds: Option<u64>,
    max_deliver: Option<u64>,
    duplicate_window_seconds: Option<u64>,
    credentials: Option<PathBuf>,
    instance: Option<String>,
    heartbeat_seconds: Option<u64>,
    takeover_after_seconds: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPartner {
    id: String,
    #[serde(default)]
    sender_ids: Vec<String>,
    inbox: Option<PathBuf>,
    outbox: Option<PathBuf>,
    transactions: Option<Vec<String>>,
    token_sha256: Option<String>,
    accept_with_errors: Option<Vec<u8>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVendor {
    id: String,
    token_sha256: String,
}

/// Limits on what the daemon accepts and how it retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Files larger than this are refused with a rejection file (bytes).
    pub max_file_bytes: u64,
    /// Files with more transaction sets than this are refused.
    pub max_sets_per_file: u64,
    /// A queue item leased this many times without an ack goes to the dead letters.
    pub max_attempts: u32,
    /// A file in an inbox is taken once it has not changed for this long (ms).
    pub settle_ms: u64,
    /// Inboxes are rescanned this often even without a file-system event (ms).
    pub rescan_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 256 * 1024 * 1024,
            max_sets_per_file: 100_000,
            max_attempts: 5,
            settle_ms: 200,
            rescan_ms: 1_000,
        }
    }
}

/// Settings of PWK attachment uploads (`POST /v1/attachments`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentSettings {
    /// Uploads larger than this are refused with 413 (bytes).
    pub max_bytes: u64,
    /// An upload no transaction of its partner cites after this long is reported
    /// (`gatewayd_attachments_pending` and one log line), seconds.
    pub pending_after_seconds: u64,
}

impl Default for AttachmentSettings {
    fn default() -> Self {
        AttachmentSettings {
            max_bytes: 20 * 1024 * 1024,
            pending_after_seconds: 72 * 3600,
        }
    }
}

/// Settings of the NATS JetStream store (`store = "nats"`, table `[nats]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsSettings {
    /// Server URLs (`nats://host:port`); the client fails over between them.
    pub servers: Vec<String>,
    /// Prefix of every stream, bucket and subject the gateway uses (letters, digits,
    /// `_`, `-`), so several gateway deployments can share one cluster.
    pub prefix: String,
    /// Replicas of each stream and bucket (1 on a single server, 3 on a cluster).
    pub replicas: usize,
    /// How long a vendor's lease lasts: the consumers' AckWait (seconds).
    pub ack_wait_seconds: u64,
    /// Deliveries of a queue item before it goes to the dead letters: the consumers'
    /// MaxDeliver (defaults to `limits.max_attempts`).
    pub max_deliver: u32,
    /// The queue stream's duplicate window: a republish with the same `Nats-Msg-Id`
    /// within it is dropped by the server (seconds).
    pub duplicate_window_seconds: u64,
    /// A NATS credentials file (JWT and NKey seed), when the servers need one.
    pub credentials: Option<PathBuf>,
    /// This gateway's name among the instances sharing the cluster; `None` = a name
    /// made once and kept in the data dir (`instance-id`).
    pub instance: Option<String>,
    /// How often this gateway says it is alive (KV `<prefix>_instances`), seconds.
    pub heartbeat_seconds: u64,
    /// How long after its last heartbeat a gateway counts as gone: its files still
    /// `received` are then taken over by a live gateway (seconds; the bucket's max age).
    pub takeover_after_seconds: u64,
}

impl Default for NatsSettings {
    fn default() -> Self {
        NatsSettings {
            servers: vec!["nats://127.0.0.1:4222".into()],
            prefix: "ncx12".into(),
            replicas: 1,
            ack_wait_seconds: 300,
            max_deliver: Limits::default().max_attempts,
            duplicate_window_seconds: 86_400,
            credentials: None,
            instance: None,
            heartbeat_seconds: 5,
            takeover_after_seconds: 30,
        }
    }
}

/// Settings of real-time 278 (CAQH CORE SOAP and multipart, and `POST /v1/realtime/278`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealtimeSettings {
    /// Every real-time request is answered within this long (ms); what the pipeline has
    /// not decided by then is answered A4 (pended), see [`super::realtime`].
    pub answer_within_ms: u64,
    /// Request bodies larger than this are refused with 413 (bytes).
    pub max_body_bytes: u64,
}

impl Default for RealtimeSettings {
    fn default() -> Self {
        RealtimeSettings {
            answer_within_ms: 20_000,
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// HTTPS: where to listen, and the certificate chain and private key (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// The HTTPS address (served besides the plain HTTP `listen`).
    pub listen: SocketAddr,
    /// The certificate chain, PEM.
    pub cert: PathBuf,
    /// The private key, PEM.
    pub key: PathBuf,
}

/// One trading partner (a clearinghouse or submitter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partner {
    /// Stable id (lower-case letters, digits, `_`, `-`).
    pub id: String,
    /// ISA06 values the partner may send (trimmed); empty = any.
    pub sender_ids: Vec<String>,
    /// Where the partner drops files.
    pub inbox: PathBuf,
    /// Where acknowledgments and rejection notes go.
    pub outbox: PathBuf,
    /// Transaction kinds accepted from the partner (`278`, `837P`, `837I`, `837D`).
    pub transactions: Vec<String>,
    /// SHA-256 (hex) of the partner's API token, for the partner endpoints.
    pub token_sha256: Option<String>,
    /// WEDI SNIP levels whose errors in an 837 set give the 999 `E` (accepted with
    /// errors) instead of `R`, the claims holding them then rejected in the 277CA: the
    /// partner's own `accept_with_errors`, else the global one (see
    /// [`Config::accept_with_errors`]).
    pub accept_with_errors: Vec<u8>,
}

impl Partner {
    /// Whether the partner may send interchanges with this ISA06 (trimmed).
    pub fn allows_sender(&self, isa06: &str) -> bool {
        self.sender_ids.is_empty() || self.sender_ids.iter().any(|s| s == isa06.trim())
    }
}

/// Where the daemon keeps received files, interchanges, queues and PA status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreBackend {
    /// SQLite in the data dir (WAL, `synchronous=FULL`): one machine, nothing to install.
    Sqlite,
    /// NATS JetStream (see [`crate::daemon::nats`]): raw files, the duplicate check and
    /// the vendor queues shared by every gateway of a cluster; settings in `[nats]`.
    Nats,
}

impl StoreBackend {
    /// The backends this build has, by their config name.
    pub const NAMES: [&'static str; 2] = ["sqlite", "nats"];

    /// The backend named `name` in the config.
    pub fn from_name(name: &str) -> Option<StoreBackend> {
        match name {
            "sqlite" => Some(StoreBackend::Sqlite),
            "nats" => Some(StoreBackend::Nats),
            _ => None,
        }
    }
}

/// The daemon's configuration, checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the store, the received files and the default partner folders live.
    pub data_dir: PathBuf,
    /// The store backend (`store = "sqlite"`, the default, or `"nats"`).
    pub store: StoreBackend,
    /// The NATS settings (used with `store = "nats"`).
    pub nats: NatsSettings,
    /// The contractor table's path; `None` = the bundled table.
    pub contractor_table: Option<PathBuf>,
    /// The eligibility CSV (benefit plans by member), when one is configured.
    pub eligibility_file: Option<PathBuf>,
    /// The provider file (border flags, provider validation), when one is configured.
    pub provider_file: Option<PathBuf>,
    /// The pharmacy auto-approval criteria file; `None` = the bundled criteria.
    pub pharmacy_criteria: Option<PathBuf>,
    /// WEDI SNIP levels (1-7, sorted, once each) whose errors in an 837 set give the 999
    /// `E` (accepted with errors) instead of `R`, for partners without their own
    /// setting; default [`DEFAULT_ACCEPT_WITH_ERRORS`]. Empty: every error rejects the
    /// set. Such a set goes on: the 277CA rejects each claim an error is located in or
    /// under (A6/A7), and only those; an error no claim carries (set header, submitter,
    /// receiver, no position) still rejects the set, and 278 sets are never accepted
    /// with errors (see `super::claimack::ack_policy`).
    pub accept_with_errors: Vec<u8>,
    /// The HTTP listen address.
    pub listen: SocketAddr,
    /// Limits.
    pub limits: Limits,
    /// Attachment uploads.
    pub attachments: AttachmentSettings,
    /// Real-time 278 settings.
    pub realtime: RealtimeSettings,
    /// HTTPS, when `http.tls_listen`, `http.tls_cert` and `http.tls_key` are set.
    pub tls: Option<TlsSettings>,
    /// Trading partners, in file order.
    pub partners: Vec<Partner>,
    /// Vendor id → SHA-256 (hex) of its API token.
    pub vendor_tokens: BTreeMap<String, String>,
}

/// The demo partner of the embedded defaults.
pub const DEMO_PARTNER: &str = "demo";

/// The default HTTP listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The SNIP levels accepted with errors by default: balancing (3), situational rules
/// (4) and code sets (5), the claim-content edits a payer reports claim by claim in the
/// 277CA. Syntax and guide-structure errors (1-2) reject the set in the 999, which is
/// what the 999 is for; provider and eligibility edits (7) never reach the 999 in the
/// daemon (they reject the claim in the 277CA).
pub const DEFAULT_ACCEPT_WITH_ERRORS: [u8; 3] = [3, 4, 5];

impl Config {
    /// The embedded defaults: data dir `./var`, partner `demo` with
    /// `./var/partners/demo/{inbox,outbox}` taking any ISA06 and every transaction kind,
    /// the bundled contractor table, HTTP on 127.0.0.1:8080, and for each vendor of the
    /// bundled table the demo token `demo-<vendor id>`, for the partner the token
    /// `demo-partner` (loopback only; replace them with a config file before exposing
    /// the port).
    pub fn embedded() -> Result<Config, ConfigError> {
        Config::from_toml("", Path::new("."))
    }

    /// Reads and checks a config file. Relative paths in it are relative to the
    /// directory the daemon runs in.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Config::from_toml(&text, Path::new("."))
    }

    /// Parses and checks config text; relative paths are joined to `base`.
    ///
    /// ```
    /// use gatewayd::daemon::config::Config;
    /// let err = Config::from_toml("[limits]\nmax_file_bytes = 0\n", std::path::Path::new(".")).unwrap_err();
    /// assert_eq!(err.to_string(), "config key `limits.max_file_bytes`: must be at least 1");
    /// let err = Config::from_toml("colour = 1\n", std::path::Path::new(".")).unwrap_err();
    /// assert!(err.to_string().contains("unknown field `colour`"));
    /// ```
    pub fn from_toml(text: &str, base: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            ConfigError::Syntax(match e.span() {
                Some(span) => format!(
                    "{} (line {})",
                    e.message(),
                    text[..span.start.min(text.len())].lines().count().max(1)
                ),
                None => e.message().to_string(),
            })
        })?;
        let abs = |p: PathBuf| {
            if p.is_absolute() || base == Path::new(".") {
                p
            } else {
                base.join(p)
            }
        };
        let data_dir = abs(raw.data_dir.unwrap_or_else(|| PathBuf::from("./var")));
        if data_dir.as_os_str().is_empty() {
            return Err(key_error("data_dir", "must not be empty"));
        }
        let listen_text = raw
            .http
            .listen
            .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            key_error(
                "http.listen",
                format!("`{listen_text}` is not an address and port such as 127.0.0.1:8080"),
            )
        })?;
        let tls = match (raw.http.tls_listen, raw.http.tls_cert, raw.http.tls_key) {
            (None, None, None) => None,
            (Some(l), Some(cert), Some(key)) => Some(TlsSettings {
                listen: l.parse().map_err(|_| {
                    key_error(
                        "http.tls_listen",
                        format!("`{l}` is not an address and port such as 0.0.0.0:8443"),
                    )
                })?,
                cert: abs(cert),
                key: abs(key),
            }),
            _ => {
                return Err(key_error(
                    "http.tls_listen",
                    "HTTPS needs all three of tls_listen, tls_cert and tls_key",
                ))
            }
        };
        let d = Limits::default();
        let at_least = |key: &str, v: Option<u64>, min: u64, default: u64| {
            let v = v.unwrap_or(default);
            if v < min {
                Err(key_error(key, format!("must be at least {min}")))
            } else {
                Ok(v)
            }
        };
        let limits = Limits {
            max_file_bytes: at_least(
                "limits.max_file_bytes",
                raw.limits.max_file_bytes,
                1,
                d.max_file_bytes,
            )?,
            max_sets_per_file: at_least(
                "limits.max_sets_per_file",
                raw.limits.max_sets_per_file,
                1,
                d.max_sets_per_file,
            )?,
            max_attempts: at_least(
                "limits.max_attempts",
                raw.limits.max_attempts.map(u64::from),
                1,
                u64::from(d.max_attempts),
            )?
            .min(u64::from(u32::MAX)) as u32,
            settle_ms: raw.limits.settle_ms.unwrap_or(d.settle_ms),
            rescan_ms: at_least("limits.rescan_ms", raw.limits.rescan_ms, 10, d.rescan_ms)?,
        };
        let da = AttachmentSettings::default();
        let attachments = AttachmentSettings {
            max_bytes: at_least(
                "attachments.max_bytes",
                raw.attachments.max_bytes,
                1,
                da.max_bytes,
            )?,
            pending_after_seconds: raw
                .attachments
                .pending_after_seconds
                .unwrap_or(da.pending_after_seconds),
        };
        let dr = RealtimeSettings::default();
        let realtime = RealtimeSettings {
            answer_within_ms: at_least(
                "realtime.answer_within_ms",
                raw.realtime.answer_within_ms,
                1,
                dr.answer_within_ms,
            )?,
            max_body_bytes: at_least(
                "realtime.max_body_bytes",
                raw.realtime.max_body_bytes,
                512,
                dr.max_body_bytes,
            )?,
        };
        let contractor_table = raw.contractor_table.map(abs);
        let table = match &contractor_table {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| key_error("contractor_table", format!("{}: {e}", p.display())))?;
                Table::parse(&text).map_err(|e| key_error("contractor_table", e.to_string()))?
            }
            None => Table::bundled().map_err(|e| key_error("contractor_table", e.to_string()))?,
        };
        let eligibility_file = raw.eligibility_file.map(abs);
        if let Some(p) = &eligibility_file {
            crate::route::EligibilityFile::load(p, &table.benefit_plans)
                .map_err(|e| key_error("eligibility_file", e.to_string()))?;
        }

        let provider_file = raw.provider_file.map(abs);
        if let Some(p) = &provider_file {
            crate::route::ProviderFile::load(p)
                .map_err(|e| key_error("provider_file", e.to_string()))?;
        }

        let store = match raw.store.as_deref() {
            None => StoreBackend::Sqlite,
            Some(name) => StoreBackend::from_name(name).ok_or_else(|| {
                key_error(
                    "store",
                    format!(
                        "unknown backend `{name}`; this build has {}",
                        StoreBackend::NAMES.join(", ")
                    ),
                )
            })?,
        };
        let nats = nats_settings(raw.nats, &limits, &abs)?;
        let pharmacy_criteria = raw.pharmacy_criteria.map(abs);
        crate::pharmacy::Criteria::load_or_bundled(pharmacy_criteria.as_deref())
            .map_err(|e| key_error("pharmacy_criteria", e.to_string()))?;
        let accept_with_errors = match raw.accept_with_errors {
            Some(levels) => snip_levels("accept_with_errors", &levels)?,
            None => DEFAULT_ACCEPT_WITH_ERRORS.to_vec(),
        };

        let mut partners = Vec::new();
        let raw_partners = if raw.partner.is_empty() {
            vec![RawPartner {
                id: DEMO_PARTNER.into(),
                sender_ids: Vec::new(),
                inbox: None,
                outbox: None,
                transactions: None,
                token_sha256: None,
                accept_with_errors: None,
            }]
        } else {
            raw.partner
        };
        for (i, p) in raw_partners.into_iter().enumerate() {
            let key = |k: &str| format!("partner[{i}].{k}");
            if !is_id(&p.id) {
                return Err(key_error(
                    key("id"),
                    format!(
                        "`{}` must be 1-32 lower-case letters, digits, `_` or `-`",
                        p.id
                    ),
                ));
            }
            if partners.iter().any(|q: &Partner| q.id == p.id) {
                return Err(key_error(key("id"), format!("`{}` is used twice", p.id)));
            }
            let mut sender_ids = Vec::new();
            for (j, s) in p.sender_ids.iter().enumerate() {
                let t = s.trim();
                if t.is_empty() || t.len() > 15 || !t.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(key_error(
                        format!("partner[{i}].sender_ids[{j}]"),
                        format!("`{s}` is not an ISA06 value (1-15 printable characters)"),
                    ));
                }
                if t != "*" {
                    sender_ids.push(t.to_string());
                }
            }
            if p.sender_ids.iter().any(|s| s.trim() == "*") {
                sender_ids.clear();
            }
            let transactions = match p.transactions {
                None => TRANSACTIONS.iter().map(|s| s.to_string()).collect(),
                Some(list) => {
                    if list.is_empty() {
                        return Err(key_error(key("transactions"), "must name at least one"));
                    }
                    for (j, t) in list.iter().enumerate() {
                        if !TRANSACTIONS.contains(&t.as_str()) {
                            return Err(key_error(
                                format!("partner[{i}].transactions[{j}]"),
                                format!("`{t}` is not one of {}", TRANSACTIONS.join(", ")),
                            ));
                        }
                    }
                    list
                }
            };
            let token_sha256 = match p.token_sha256 {
                Some(h) => {
                    let h = check_hash(&key("token_sha256"), &h)?;
                    if partners
                        .iter()
                        .any(|q: &Partner| q.token_sha256.as_deref() == Some(h.as_str()))
                    {
                        return Err(key_error(key("token_sha256"), "is another partner's token"));
                    }
                    Some(h)
                }
                None => None,
            };
            let home = data_dir.join("partners").join(&p.id);
            let inbox = p.inbox.map(abs).unwrap_or_else(|| home.join("inbox"));
            let outbox = p.outbox.map(abs).unwrap_or_else(|| home.join("outbox"));
            if inbox == outbox {
                return Err(key_error(key("outbox"), "must differ from the inbox"));
            }
            for (k, dir) in [("inbox", &inbox), ("outbox", &outbox)] {
                if partners
                    .iter()
                    .any(|q: &Partner| &q.inbox == dir || &q.outbox == dir)
                {
                    return Err(key_error(
                        key(k),
                        format!("{} is already another partner's folder", dir.display()),
                    ));
                }
            }
            let partner_levels = match p.accept_with_errors {
                Some(levels) => snip_levels(&key("accept_with_errors"), &levels)?,
                None => accept_with_errors.clone(),
            };
            partners.push(Partner {
                id: p.id,
                sender_ids,
                inbox,
                outbox,
                transactions,
                token_sha256,
                accept_with_errors: partner_levels,
            });
        }

        let mut vendor_tokens = BTreeMap::new();
        if text.trim().is_empty() {
            for p in &mut partners {
                p.token_sha256 = Some(token_hash(&format!("{}-partner", p.id)));
            }
        }
        if raw.vendor.is_empty() && text.trim().is_empty() {
            for v in &table.vendors {
                vendor_tokens.insert(v.id.clone(), token_hash(&format!("demo-{}", v.id)));
            }
        }
        for (i, v) in raw.vendor.into_iter().enumerate() {
            if table.vendor(&v.id).is_none() {
                return Err(key_error(
                    format!("vendor[{i}].id"),
                    format!("`{}` is not a vendor of the contractor table", v.id),
                ));
            }
            if vendor_tokens.contains_key(&v.id) {
                return Err(key_error(
                    format!("vendor[{i}].id"),
                    format!("`{}` is used twice", v.id),
                ));
            }
            let h = check_hash(&format!("vendor[{i}].token_sha256"), &v.token_sha256)?;
            if vendor_tokens.values().any(|t| *t == h)
                || partners
                    .iter()
                    .any(|p| p.token_sha256.as_deref() == Some(h.as_str()))
            {
                return Err(key_error(
                    format!("vendor[{i}].token_sha256"),
                    "is another vendor's or a partner's token",
                ));
            }
            vendor_tokens.insert(v.id, h);
        }
        Ok(Config {
            data_dir,
            store,
            nats,
            contractor_table,
            eligibility_file,
            provider_file,
            pharmacy_criteria,
            accept_with_errors,
            listen,
            limits,
            attachments,
            realtime,
            tls,
            partners,
            vendor_tokens,
        })
    }

    /// The router for the configured contractor table.
    pub fn router(&self) -> Result<Router, ConfigError> {
        let table = match &self.contractor_table {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| key_error("contractor_table", format!("{}: {e}", p.display())))?;
                Table::parse(&text).map_err(|e| key_error("contractor_table", e.to_string()))?
            }
            None => Table::bundled().map_err(|e| key_error("contractor_table", e.to_string()))?,
        };
        Ok(Router::new(table))
    }

    /// The partner with this id.
    pub fn partner(&self, id: &str) -> Option<&Partner> {
        self.partners.iter().find(|p| p.id == id)
    }
}

/// Checks the `[nats]` table.
fn nats_settings(
    raw: RawNats,
    limits: &Limits,
    abs: &dyn Fn(PathBuf) -> PathBuf,
) -> Result<NatsSettings, ConfigError> {
    let d = NatsSettings::default();
    let servers = raw.servers.unwrap_or(d.servers);
    if servers.is_empty() {
        return Err(key_error("nats.servers", "must list at least one server"));
    }
    for (i, s) in servers.iter().enumerate() {
        if s.parse::<async_nats::ServerAddr>().is_err() {
            return Err(key_error(
                format!("nats.servers[{i}]"),
                format!("`{s}` is not a server URL such as nats://127.0.0.1:4222"),
            ));
        }
    }
    let prefix = raw.prefix.unwrap_or(d.prefix);
    let name_ok = |s: &str| {
        (1..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    if !name_ok(&prefix) {
        return Err(key_error(
            "nats.prefix",
            "must be 1-32 letters, digits, `_` or `-`",
        ));
    }
    if let Some(i) = &raw.instance {
        if !name_ok(i) {
            return Err(key_error(
                "nats.instance",
                "must be 1-32 letters, digits, `_` or `-`",
            ));
        }
    }
    let replicas = raw.replicas.unwrap_or(d.replicas as u64);
    if !(1..=5).contains(&replicas) {
        return Err(key_error("nats.replicas", "must be 1 to 5"));
    }
    let ack_wait_seconds = raw.ack_wait_seconds.unwrap_or(d.ack_wait_seconds);
    if !(1..=86_400).contains(&ack_wait_seconds) {
        return Err(key_error("nats.ack_wait_seconds", "must be 1 to 86400"));
    }
    let max_deliver = raw.max_deliver.unwrap_or(u64::from(limits.max_attempts));
    if !(1..=1_000).contains(&max_deliver) {
        return Err(key_error("nats.max_deliver", "must be 1 to 1000"));
    }
    let duplicate_window_seconds = raw
        .duplicate_window_seconds
        .unwrap_or(d.duplicate_window_seconds);
    if !(60..=30 * 86_400).contains(&duplicate_window_seconds) {
        return Err(key_error(
            "nats.duplicate_window_seconds",
            "must be 60 to 2592000 (30 days)",
        ));
    }
    let heartbeat_seconds = raw.heartbeat_seconds.unwrap_or(d.heartbeat_seconds);
    if !(1..=300).contains(&heartbeat_seconds) {
        return Err(key_error("nats.heartbeat_seconds", "must be 1 to 300"));
    }
    let takeover_after_seconds = raw
        .takeover_after_seconds
        .unwrap_or(d.takeover_after_seconds);
    if takeover_after_seconds < 3 * heartbeat_seconds || takeover_after_seconds > 86_400 {
        return Err(key_error(
            "nats.takeover_after_seconds",
            "must be at least 3 heartbeats (3 x nats.heartbeat_seconds) and at most 86400",
        ));
    }
    Ok(NatsSettings {
        servers,
        prefix,
        replicas: replicas as usize,
        ack_wait_seconds,
        max_deliver: max_deliver as u32,
        duplicate_window_seconds,
        credentials: raw.credentials.map(abs),
        instance: raw.instance,
        heartbeat_seconds,
        takeover_after_seconds,
    })
}

fn is_id(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A list of WEDI SNIP levels: each 1-7; returned sorted, each once.
fn snip_levels(key: &str, levels: &[u8]) -> Result<Vec<u8>, ConfigError> {
    if let Some(bad) = levels.iter().find(|l| !(1..=7).contains(*l)) {
        return Err(key_error(
            key,
            format!("`{bad}` is not a WEDI SNIP level (1-7)"),
        ));
    }
    let mut v = levels.to_vec();
    v.sort_unstable();
    v.dedup();
    Ok(v)
}

fn check_hash(key: &str, h: &str) -> Result<String, ConfigError> {
    let h = h.trim().to_ascii_lowercase();
    if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(key_error(
            key,
            "must be the SHA-256 of the token as 64 hex digits (sha256sum)",
        ));
    }
    Ok(h)
}

/// The SHA-256 of a token as 64 lower-case hex digits (what the config holds).
///
/// ```
/// assert_eq!(gatewayd::daemon::config::token_hash("abc"),
///     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
/// ```
pub fn token_hash(token: &str) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(token.as_bytes()))
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Config::from_toml(text, Path::new("/base"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn nats_settings_are_checked() {
        let c = Config::from_toml(
            "store = \"nats\"\n[limits]\nmax_attempts = 7\n[nats]\n\
             servers = [\"nats://127.0.0.1:4333\", \"nats://127.0.0.2:4333\"]\n\
             replicas = 3\ncredentials = \"n.creds\"\n",
            Path::new("/base"),
        )
        .unwrap();
        assert_eq!(c.store, StoreBackend::Nats);
        assert_eq!(c.nats.servers.len(), 2);
        assert_eq!(c.nats.replicas, 3);
        assert_eq!(c.nats.max_deliver, 7, "defaults to limits.max_attempts");
        assert_eq!(c.nats.prefix, "ncx12");
        assert_eq!(
            c.nats.credentials.as_deref(),
            Some(Path::new("/base/n.creds"))
        );
        assert_eq!(Config::embedded().unwrap().store, StoreBackend::Sqlite);
        assert!(err("[nats]\nreplicas = 0\n").starts_with("config key `nats.replicas`"));
        assert!(err("[nats]\nservers = []\n").starts_with("config key `nats.servers`"));
        assert!(
            err("[nats]\nservers = [\"http://x y\"]\n").starts_with("config key `nats.servers[0]`")
        );
        assert!(err("[nats]\nprefix = \"a.b\"\n").starts_with("config key `nats.prefix`"));
        assert!(err("[nats]\ninstance = \"a b\"\n").starts_with("config key `nats.instance`"));
        assert!(
            err("[nats]\nack_wait_seconds = 0\n").starts_with("config key `nats.ack_wait_seconds`")
        );
        assert!(err("[nats]\nduplicate_window_seconds = 1\n")
            .starts_with("config key `nats.duplicate_window_seconds`"));
        assert!(err("[nats]\nheartbeat_seconds = 0\n")
            .starts_with("config key `nats.heartbeat_seconds`"));
        assert!(
            err("[nats]\nheartbeat_seconds = 5\ntakeover_after_seconds = 10\n")
                .starts_with("config key `nats.takeover_after_seconds`")
        );
        assert_eq!(c.nats.heartbeat_seconds, 5);
        assert_eq!(c.nats.takeover_after_seconds, 30);
        assert!(err("[nats]\ncolour = 1\n").starts_with("config: unknown field"));
    }

    #[test]
    fn embedded_defaults() {
        let c = Config::embedded().unwrap();
        assert_eq!(c.data_dir, Path::new("./var"));
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.partners.len(), 1);
        let p = &c.partners[0];
        assert_eq!(p.id, "demo");
        assert!(p.allows_sender("ANYONE"));
        assert_eq!(p.inbox, Path::new("./var/partners/demo/inbox"));
        assert_eq!(p.outbox, Path::new("./var/partners/demo/outbox"));
        assert_eq!(c.vendor_tokens["csra"], token_hash("demo-csra"));
        assert_eq!(
            p.token_sha256.as_deref(),
            Some(token_hash("demo-partner").as_str())
        );
        assert_eq!(c.accept_with_errors, DEFAULT_ACCEPT_WITH_ERRORS);
        assert_eq!(p.accept_with_errors, [3, 4, 5]);
    }

    #[test]
    fn accept_with_errors_globally_and_per_partner() {
        let text = "accept_with_errors = [5, 3, 3]\n\
                    [[partner]]\nid = \"a\"\n\
                    [[partner]]\nid = \"b\"\naccept_with_errors = []\n\
                    [[partner]]\nid = \"c\"\naccept_with_errors = [4]\n";
        let c = Config::from_toml(text, Path::new("/base")).unwrap();
        assert_eq!(c.accept_with_errors, [3, 5]);
        let levels = |id: &str| c.partner(id).unwrap().accept_with_errors.clone();
        assert_eq!(levels("a"), [3, 5], "the global setting");
        assert!(levels("b").is_empty(), "every error rejects");
        assert_eq!(levels("c"), [4]);
        assert_eq!(
            err("accept_with_errors = [0]\n"),
            "config key `accept_with_errors`: `0` is not a WEDI SNIP level (1-7)"
        );
        assert!(err("[[partner]]\nid = \"a\"\naccept_with_errors = [8]\n")
            .starts_with("config key `partner[0].accept_with_errors`"));
        assert!(err("accept_with_errors = [-1]\n").starts_with("config: "));
    }

    #[test]
    fn every_key_is_checked() {
        assert!(err("[http]\nlisten = \"nowhere\"\n").starts_with("config key `http.listen`"));
        assert!(err("[[partner]]\nid = \"Bad Id\"\n").starts_with("config key `partner[0].id`"));
        assert!(err("[[partner]]\nid = \"a\"\n[[partner]]\nid = \"a\"\n")
            .starts_with("config key `partner[1].id`"));
        assert!(err("[[partner]]\nid = \"a\"\ntransactions = [\"270\"]\n")
            .starts_with("config key `partner[0].transactions[0]`"),);
        assert!(err("[[partner]]\nid = \"a\"\nsender_ids = [\"\"]\n")
            .starts_with("config key `partner[0].sender_ids[0]`"),);
        assert!(err("[[partner]]\nid = \"a\"\ntoken_sha256 = \"xyz\"\n")
            .starts_with("config key `partner[0].token_sha256`"));
        assert!(err("[[vendor]]\nid = \"acme\"\ntoken_sha256 = \"00\"\n")
            .starts_with("config key `vendor[0].id`"));
        assert!(err("[limits]\nmax_attempts = 0\n").starts_with("config key `limits.max_attempts`"));
        assert!(err("contractor_table = \"/nonexistent.toml\"\n")
            .starts_with("config key `contractor_table`"));
        assert!(
            err("provider_file = \"/nonexistent.csv\"\n").starts_with("config key `provider_file`")
        );
        assert!(err("eligibility_file = \"/nonexistent.csv\"\n")
            .starts_with("config key `eligibility_file`"));
        assert!(err("[limits]\nmax_files = 1\n").contains("unknown field `max_files`"));
        assert!(err("pharmacy_criteria = \"/nonexistent.toml\"\n")
            .starts_with("config key `pharmacy_criteria`"));
        assert_eq!(
            err("store = \"postgres\"\n"),
            "config key `store`: unknown backend `postgres`; this build has sqlite, nats"
        );
        assert!(
            err("[[partner]]\nid = \"a\"\ninbox = \"x\"\noutbox = \"x\"\n")
                .starts_with("config key `partner[0].outbox`")
        );
    }

    #[test]
    fn the_example_parses() {
        let text = include_str!("../../../gatewayd.example.toml");
        let c = Config::from_toml(text, Path::new(".")).unwrap();
        assert_eq!(c.partners[0].sender_ids, ["CLEARINGHOUSE"]);
        assert_eq!(c.vendor_tokens["csra"], token_hash("demo-csra"));
        assert_eq!(c.limits, Limits::default());
    }

    #[test]
    fn a_written_config() {
        let text = format!(
            "data_dir = \"d\"\n[[partner]]\nid = \"acme\"\nsender_ids = [\"ACME  \"]\ntransactions = [\"278\"]\n[[vendor]]\nid = \"csra\"\ntoken_sha256 = \"{}\"\n",
            token_hash("t")
        );
        let c = Config::from_toml(&text, Path::new("/base")).unwrap();
        assert_eq!(c.data_dir, Path::new("/base/d"));
        let p = c.partner("acme").unwrap();
        assert!(p.allows_sender("ACME           "));
        assert!(!p.allows_sender("OTHER"));
        assert_eq!(p.inbox, Path::new("/base/d/partners/acme/inbox"));
        assert_eq!(
            c.vendor_tokens.len(),
            1,
            "no demo tokens once a file is given"
        );
    }
}
