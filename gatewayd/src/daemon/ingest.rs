//! Taking files from the partner inboxes.
//!
//! A file is taken when it is complete: a regular file (not a link, not a folder),
//! not hidden, not `*.part` (clients upload as `NAME.part` and rename), unchanged for
//! `limits.settle_ms`. Taking it means: copy its bytes to `DATA/files/<sha256>`
//! (`*.part`, fsync, rename, fsync the folder), record it in the store, then remove it
//! from the inbox. The record holds the inbox file's device, inode, size and
//! modification time, so a file recorded just before a crash and still in the inbox
//! afterwards is recognized and only removed, never taken twice.
//!
//! A file over `limits.max_file_bytes` is recorded without a copy and rejected (a note
//! in the outbox); it is removed from the inbox all the same.

use super::config::Partner;
use super::outbox::sync_dir;
use super::pipeline::{Pipeline, PipelineError};
use super::store::{self, FileRow, NewFile};
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// What one scan of an inbox did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Scan {
    /// Files taken.
    pub taken: usize,
    /// Files seen but still settling (look again soon).
    pub settling: usize,
}

/// Where received copies live, under the data dir.
pub const FILES_DIR: &str = "files";

/// Scans one partner's inbox and takes every complete file, processing each right
/// after it is taken. Stops between files when `stop` says so.
pub fn scan_inbox(
    pipeline: &mut Pipeline,
    partner: &Partner,
    stop: &dyn Fn() -> bool,
) -> Result<Scan, PipelineError> {
    let mut scan = Scan::default();
    let settle = Duration::from_millis(pipeline.config().limits.settle_ms);
    let mut names: Vec<_> = match fs::read_dir(&partner.inbox) {
        Ok(rd) => rd.filter_map(Result::ok).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(&partner.inbox)?;
            return Ok(scan);
        }
        Err(e) => return Err(e.into()),
    };
    names.sort_by_key(|e| e.file_name());
    for entry in names {
        if stop() {
            break;
        }
        // real-time requests recorded meanwhile go first
        pipeline.process_urgent()?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.ends_with(".part") {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.file_type().is_file() {
            continue;
        }
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let age = SystemTime::now()
            .duration_since(modified)
            .unwrap_or(Duration::ZERO);
        if age < settle {
            scan.settling += 1;
            continue;
        }
        if let Some(row) = take_file(pipeline, partner, &path, &name, &meta)? {
            scan.taken += 1;
            if row.state == "received" {
                pipeline.process_file(&row)?;
            }
        }
    }
    Ok(scan)
}

fn source_stamp(meta: &fs::Metadata) -> String {
    format!(
        "{}:{}:{}:{}.{}",
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec()
    )
}

/// Takes one inbox file into the store; returns its row (`None` when it was already
/// taken before a crash and has only been removed now).
pub fn take_file(
    pipeline: &mut Pipeline,
    partner: &Partner,
    path: &Path,
    name: &str,
    meta: &fs::Metadata,
) -> Result<Option<FileRow>, PipelineError> {
    let source = source_stamp(meta);
    if store::file_taken(pipeline.conn(), &partner.id, name, &source)? {
        remove_from_inbox(path, &partner.inbox)?;
        return Ok(None);
    }
    let max = pipeline.config().limits.max_file_bytes;
    let files_dir = pipeline.config().data_dir.join(FILES_DIR);
    fs::create_dir_all(&files_dir)?;
    let copied = if meta.len() > max {
        None
    } else {
        copy_in(path, &files_dir, max)?
    };
    let (sha, size, rel) = match &copied {
        Some((sha, size)) => (sha.clone(), *size, format!("{FILES_DIR}/{sha}")),
        None => (String::new(), meta.len(), String::new()),
    };
    let id = store::insert_file(
        pipeline.conn(),
        &NewFile {
            partner: &partner.id,
            name,
            source: &source,
            sha256: &sha,
            size,
            path: &rel,
        },
    )?;
    pipeline.metrics().file_received();
    tracing::info!(file = id, partner = %partner.id, bytes = size, "file received");
    let row = FileRow {
        id,
        partner: partner.id.clone(),
        name: name.to_string(),
        sha256: sha,
        size: size as i64,
        path: rel,
        state: "received".into(),
        received_at: store::now_ms(),
    };
    if copied.is_none() {
        let why = format!(
            "the file is larger than the limit of {max} bytes ({} bytes)",
            meta.len().max(size)
        );
        pipeline.reject_file(&row, &why)?;
    }
    remove_from_inbox(path, &partner.inbox)?;
    Ok(Some(FileRow {
        state: if copied.is_some() {
            "received".into()
        } else {
            "rejected".into()
        },
        ..row
    }))
}

/// Takes a file uploaded over HTTP (`POST /v1/batches`): its bytes are stored like an
/// inbox file's (fsynced copy, then the record); the pipeline processes it next and
/// its acknowledgments go to the partner's outbox. The caller checks the size limit.
pub fn receive_upload(
    conn: &rusqlite::Connection,
    data_dir: &Path,
    partner: &str,
    bytes: &[u8],
) -> Result<FileRow, PipelineError> {
    receive_named(conn, data_dir, partner, bytes, "upload")
}

/// Takes bytes received over HTTP like an inbox file, under the name
/// `<prefix>-<ms>.x12` (real-time requests use `rt-<PayloadID>`); see
/// [`receive_upload`].
pub fn receive_named(
    conn: &rusqlite::Connection,
    data_dir: &Path,
    partner: &str,
    bytes: &[u8],
    prefix: &str,
) -> Result<FileRow, PipelineError> {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let files_dir = data_dir.join(FILES_DIR);
    fs::create_dir_all(&files_dir)?;
    let sha = super::config::hex(&Sha256::digest(bytes));
    let tmp = files_dir.join(format!(
        "upload-{}-{}-{n}.part",
        std::process::id(),
        store::now_ms()
    ));
    {
        let mut out = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        out.write_all(bytes)?;
        out.sync_all()?;
    }
    fs::rename(&tmp, files_dir.join(&sha))?;
    sync_dir(&files_dir)?;
    let now = store::now_ms();
    let name = format!("{prefix}-{now}.x12");
    let source = format!("http:{now}:{n}:{sha}");
    let rel = format!("{FILES_DIR}/{sha}");
    let id = store::insert_file(
        conn,
        &NewFile {
            partner,
            name: &name,
            source: &source,
            sha256: &sha,
            size: bytes.len() as u64,
            path: &rel,
        },
    )?;
    Ok(FileRow {
        id,
        partner: partner.to_string(),
        name,
        sha256: sha,
        size: bytes.len() as i64,
        path: rel,
        state: "received".into(),
        received_at: now,
    })
}

fn remove_from_inbox(path: &Path, inbox: &Path) -> std::io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    sync_dir(inbox)
}

/// Copies a file into `dir` under its SHA-256, durably; `None` when it grew past `max`
/// while being read.
fn copy_in(src: &Path, dir: &Path, max: u64) -> std::io::Result<Option<(String, u64)>> {
    let tmp = dir.join(format!(
        "incoming-{}-{}.part",
        std::process::id(),
        store::now_ms()
    ));
    let mut input = File::open(src)?;
    let mut out = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        if size > max {
            drop(out);
            let _ = fs::remove_file(&tmp);
            return Ok(None);
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])?;
    }
    out.sync_all()?;
    drop(out);
    let sha = super::config::hex(&hasher.finalize());
    fs::rename(&tmp, dir.join(&sha))?;
    sync_dir(dir)?;
    Ok(Some((sha, size)))
}
