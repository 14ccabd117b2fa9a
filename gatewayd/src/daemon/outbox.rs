//! Durable file writes: a partner never sees a half-written file.
//!
//! A file is written as `NAME.part`, fsynced, renamed to `NAME`, and the folder is
//! fsynced so the rename itself survives a crash. Leftover `*.part` files of a crash
//! are removed at start-up ([`sweep_parts`]); what they were to hold is written again
//! from the store.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `dir/name` through `dir/name.part`, fsync and rename.
pub fn write_durably(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let part = dir.join(format!("{name}.part"));
    let target = dir.join(name);
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&part)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&part, &target)?;
    sync_dir(dir)?;
    Ok(target)
}

/// Fsyncs a folder, so renames and removals in it are durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Removes `*.part` files the daemon left in `dir` when it stopped mid-write.
/// Returns how many were removed.
pub fn sweep_parts(dir: &Path) -> std::io::Result<usize> {
    let mut n = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().ends_with(".part") && entry.file_type()?.is_file() {
            fs::remove_file(entry.path())?;
            n += 1;
        }
    }
    if n > 0 {
        sync_dir(dir)?;
    }
    Ok(n)
}

/// A control number or other identifier made safe for a file name: ASCII letters and
/// digits only, at most 15 of them, `0` when nothing is left.
///
/// ```
/// use gatewayd::daemon::outbox::name_part;
/// assert_eq!(name_part("000000123"), "000000123");
/// assert_eq!(name_part("../../etc"), "etc");
/// assert_eq!(name_part(""), "0");
/// ```
pub fn name_part(s: &str) -> String {
    let t: String = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(15)
        .collect();
    if t.is_empty() {
        "0".into()
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_then_sweeps() {
        let dir = std::env::temp_dir().join(format!("gatewayd-outbox-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = write_durably(&dir, "a.x12", b"ISA~").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"ISA~");
        assert!(!dir.join("a.x12.part").exists());
        fs::write(dir.join("b.x12.part"), b"half").unwrap();
        assert_eq!(sweep_parts(&dir).unwrap(), 1);
        assert!(dir.join("a.x12").exists());
        let _ = fs::remove_dir_all(&dir);
    }
}
