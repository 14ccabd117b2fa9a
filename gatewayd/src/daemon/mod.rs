//! The `gatewayd` daemon: partner inboxes in, acknowledgments and vendor queues out,
//! nothing lost.
//!
//! ```text
//! inbox ─► ingest (copy, fsync, record, remove) ─► pipeline (dedupe, validate, route)
//!       ─► one SQLite transaction: interchange + TA1/999 + held queue items
//!       ─► outbox (*.part, fsync, rename) ─► items ready ─► vendors lease/ack over HTTP
//! ```
//!
//! | module | holds |
//! |---|---|
//! | [`config`] | the TOML configuration, its checks, the embedded defaults |
//! | [`answer`] | what the gateway answers itself: `reject`, `no_pa_required`, pharmacy criteria; 837 claim rejects |
//! | [`attachments`] | PWK attachment uploads, their links to the items that cite them, vendor access, pending reports |
//! | [`claimack`] | 277CA claim acknowledgments of accepted 837 sets, payer claim control numbers |
//! | [`store`] | the SQLite schema, migrations and the queries the pipeline needs |
//! | [`ingest`] | taking complete files from the inboxes into the store |
//! | [`pipeline`] | from a stored file to acknowledgments and queue items |
//! | [`items`] | queue items (X12 and JSON) built from routed transactions |
//! | [`outbox`] | durable writes (`*.part`, fsync, rename) |
//! | [`queue`] | leasing, ack and nack |
//! | [`nats`] | the scale-out store (`store = "nats"`): raw files, the duplicate check and the vendor queues in NATS JetStream |
//! | [`pa`] | vendor decisions, 278 responses, the PA index, PA inquiry |
//! | [`http`] | the HTTP API (axum) |
//! | [`realtime`] | real-time 278: CAQH CORE SOAP 1.2 and multipart envelopes, plain X12 POST |
//! | [`tls`] | HTTPS (rustls) and `gatewayd dev-cert` |
//! | [`metrics`] | Prometheus counters |
//! | [`sftp`] | `gatewayd sftp-setup`: sshd `Match` blocks and commands for chrooted partner users |
//!
//! With `store = "nats"` the gateway is one of several sharing a NATS JetStream
//! cluster: raw files, the duplicate check, the vendor queues, PA status and the
//! numbers the gateway issues are the cluster's (see [`nats`]); the SQLite store in the
//! data dir stays the instance's working store.
//!
//! One thread runs the pipeline (inbox events from `notify` plus a periodic rescan);
//! a tokio runtime serves HTTP. SIGTERM (or Ctrl-C) stops taking files, lets the file
//! in flight finish, and exits 0. Logs (`tracing`, to standard error, filtered by
//! `GATEWAYD_LOG`, default `info`) carry ids, counts and control numbers, never the
//! content of a transaction.

#![warn(missing_docs)]

pub mod adopt;
pub mod answer;
pub mod attachments;
pub mod claimack;
pub mod config;
pub mod http;
pub mod ingest;
pub mod items;
pub mod metrics;
pub mod nats;
pub mod outbox;
pub mod pa;
pub mod pipeline;
pub mod queue;
pub mod realtime;
pub mod sftp;
pub mod shared_acks;
pub mod shared_attachments;
pub mod store;
pub mod tls;

use config::Config;
use metrics::Metrics;
use pipeline::{Pipeline, PipelineError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The store's file name under the data dir.
pub const STORE_FILE: &str = "gatewayd.sqlite";

/// Why the daemon could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The configuration was refused.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The pipeline could not start.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// A folder could not be created or read.
    #[error("{path}: {source}")]
    Dir {
        /// The folder.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The HTTP address could not be bound.
    #[error("http.listen {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The runtime or the server failed.
    #[error("{0}")]
    Runtime(std::io::Error),
    /// The pipeline thread died.
    #[error("the pipeline thread stopped unexpectedly")]
    PipelineThread,
    /// The NATS store could not be reached or set up (`store = "nats"`).
    #[error(transparent)]
    Nats(#[from] nats::NatsError),
    /// HTTPS could not start (certificate, key, address).
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}

fn dir(path: &std::path::Path) -> Result<(), DaemonError> {
    std::fs::create_dir_all(path).map_err(|source| DaemonError::Dir {
        path: path.display().to_string(),
        source,
    })
}

/// Runs the daemon until SIGTERM or Ctrl-C.
pub fn run(cfg: Config) -> Result<(), DaemonError> {
    let cfg = Arc::new(cfg);
    dir(&cfg.data_dir)?;
    dir(&cfg.data_dir.join(ingest::FILES_DIR))?;
    dir(&cfg.data_dir.join(attachments::DIR))?;
    for p in &cfg.partners {
        dir(&p.inbox)?;
        dir(&p.outbox)?;
    }
    // what a crash left half-written is written again from the store
    for d in [
        cfg.data_dir.join(ingest::FILES_DIR),
        cfg.data_dir.join(attachments::DIR),
    ]
    .into_iter()
    .chain(cfg.partners.iter().map(|p| p.outbox.clone()))
    {
        outbox::sweep_parts(&d).map_err(|source| DaemonError::Dir {
            path: d.display().to_string(),
            source,
        })?;
    }
    let metrics = Arc::new(Metrics::default());
    let completions = Arc::new(realtime::Completions::default());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(DaemonError::Runtime)?;
    let mut pipeline = Pipeline::new(cfg.clone(), metrics.clone())?;
    let nats = match cfg.store {
        config::StoreBackend::Sqlite => None,
        config::StoreBackend::Nats => {
            let n = rt.block_on(nats::Nats::connect(&cfg, rt.handle().clone()))?;
            pipeline = pipeline.with_nats(n.clone())?;
            Some(n)
        }
    };
    {
        let c = completions.clone();
        pipeline.set_on_done(Arc::new(move |file| c.done(file)));
        pipeline.set_urgent(completions.urgent_flag());
    }
    let api_db = store::open(&cfg.data_dir.join(STORE_FILE))?;
    let checkpoint_db = store::open(&cfg.data_dir.join(STORE_FILE))?;
    let ready = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));

    let listener = rt
        .block_on(tokio::net::TcpListener::bind(cfg.listen))
        .map_err(|source| DaemonError::Bind {
            addr: cfg.listen.to_string(),
            source,
        })?;
    let addr = listener.local_addr().map_err(DaemonError::Runtime)?;
    tracing::info!(listen = %addr, data_dir = %cfg.data_dir.display(), partners = cfg.partners.len(), "gatewayd serving");

    let (wake_tx, wake_rx) = mpsc::channel::<()>();
    let worker = {
        let (stop, ready, wake_tx) = (stop.clone(), ready.clone(), wake_tx.clone());
        std::thread::Builder::new()
            .name("pipeline".into())
            .spawn(move || pipeline_loop(pipeline, wake_tx, wake_rx, &stop, &ready))
            .map_err(DaemonError::Runtime)?
    };
    let checkpointer = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("checkpoint".into())
            .spawn(move || checkpoint_loop(checkpoint_db, &stop))
            .map_err(DaemonError::Runtime)?
    };
    let state = Arc::new(http::AppState {
        db: Mutex::new(api_db),
        cfg: cfg.clone(),
        metrics,
        ready: ready.clone(),
        wake: Mutex::new(wake_tx.clone()),
        nats,
        completions,
    });
    if state.nats.is_some() {
        rt.spawn(http::serve_forwarded_decisions(state.clone()));
    }
    let app = http::router(state);
    let https = match &cfg.tls {
        Some(t) => Some(rt.block_on(tls::serve(t, app.clone()))?),
        None => None,
    };
    let served = {
        let (stop, ready) = (stop.clone(), ready.clone());
        rt.block_on(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    shutdown_signal().await;
                    tracing::info!("stopping: no new files; finishing the one in flight");
                    stop.store(true, Ordering::SeqCst);
                    ready.store(false, Ordering::SeqCst);
                    if let Some(h) = &https {
                        h.graceful_shutdown(Some(Duration::from_secs(2)));
                    }
                    let _ = wake_tx.send(());
                })
                .await
        })
    };
    stop.store(true, Ordering::SeqCst);
    let joined = worker.join();
    let _ = checkpointer.join();
    rt.shutdown_timeout(Duration::from_secs(2));
    served.map_err(DaemonError::Runtime)?;
    joined.map_err(|_| DaemonError::PipelineThread)?;
    tracing::info!("gatewayd stopped");
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Copies the WAL into the database file beside the pipeline, so the pipeline's commits
/// seldom pay for it (its own automatic checkpoint waits for a much larger WAL, see
/// [`store::PIPELINE_AUTOCHECKPOINT_PAGES`]). A passive checkpoint never blocks a
/// writer or a reader, and is safe at any moment: a crash in the middle leaves the WAL
/// in charge.
fn checkpoint_loop(conn: rusqlite::Connection, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::debug!(error = %e, "checkpoint");
        }
    }
}

fn pipeline_loop(
    mut pipeline: Pipeline,
    wake_tx: mpsc::Sender<()>,
    wake_rx: mpsc::Receiver<()>,
    stop: &AtomicBool,
    ready: &AtomicBool,
) {
    let stopping = || stop.load(Ordering::SeqCst);
    let limits = pipeline.config().limits.clone();
    let rescan = Duration::from_millis(limits.rescan_ms);
    // resume what a previous run left unfinished before taking anything new
    loop {
        match pipeline.process_pending(&stopping) {
            Ok(n) => {
                if n > 0 {
                    tracing::info!(files = n, "resumed unfinished files");
                }
                break;
            }
            Err(e) => {
                tracing::error!(error = %e, "resuming unfinished files");
                if stopping() || wake_rx.recv_timeout(rescan).is_ok() && stopping() {
                    return;
                }
            }
        }
    }
    if stopping() {
        return;
    }
    ready.store(true, Ordering::SeqCst);
    let watcher = {
        use notify::Watcher;
        let tx = wake_tx.clone();
        match notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if res.is_ok() {
                let _ = tx.send(());
            }
        }) {
            Ok(mut w) => {
                for p in &pipeline.config().partners {
                    if let Err(e) = w.watch(&p.inbox, notify::RecursiveMode::NonRecursive) {
                        tracing::warn!(partner = %p.id, error = %e, "inbox not watched; periodic rescans only");
                    }
                }
                Some(w)
            }
            Err(e) => {
                tracing::warn!(error = %e, "no file-system events; periodic rescans only");
                None
            }
        }
    };
    let partners = pipeline.config().partners.clone();
    while !stopping() {
        let mut settling = false;
        for p in &partners {
            if stopping() {
                break;
            }
            match ingest::scan_inbox(&mut pipeline, p, &stopping) {
                Ok(s) => settling |= s.settling > 0,
                Err(e) => tracing::error!(partner = %p.id, error = %e, "inbox scan"),
            }
        }
        if !stopping() {
            if let Err(e) = pipeline.take_over_abandoned() {
                tracing::error!(error = %e, "taking over the files of gone instances");
            }
            if let Err(e) = pipeline.process_pending(&stopping) {
                tracing::error!(error = %e, "processing received files");
            }
            let after = pipeline.config().attachments.pending_after_seconds;
            let after_ms = i64::try_from(after.saturating_mul(1000)).unwrap_or(i64::MAX);
            if let Err(e) = attachments::report_pending(pipeline.conn(), after_ms) {
                tracing::error!(error = %e, "reporting pending attachments");
            }
        }
        let wait = if settling {
            Duration::from_millis(limits.settle_ms.max(10)).min(rescan)
        } else {
            rescan
        };
        let _ = wake_rx.recv_timeout(wait);
        // a burst of events needs one scan
        while wake_rx.try_recv().is_ok() {}
    }
    drop(watcher);
}
