//! Opening command-line inputs: files or standard input, with a progress bar for large
//! files on a terminal.

use indicatif::{ProgressBar, ProgressStyle};
use std::fs::File;
use std::io::{self, IsTerminal, Read};
use std::path::Path;

/// Files at least this large get a progress bar (when stderr is a terminal).
pub const PROGRESS_MIN_BYTES: u64 = 16 << 20;

/// An opened input and the progress bar drawing its consumption, if any.
pub struct Input {
    /// The bytes.
    pub reader: Box<dyn Read>,
    /// The progress bar, to finish when done.
    pub progress: Option<ProgressBar>,
}

impl Input {
    /// Opens `path` (`-` for standard input).
    pub fn open(path: &Path) -> io::Result<Input> {
        if path.as_os_str() == "-" {
            return Ok(Input {
                reader: Box::new(io::stdin().lock()),
                progress: None,
            });
        }
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        if len >= PROGRESS_MIN_BYTES && io::stderr().is_terminal() {
            let pb = ProgressBar::new(len);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} {msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            ) {
                pb.set_style(style.progress_chars("=> "));
            }
            pb.set_message(path.display().to_string());
            return Ok(Input {
                reader: Box::new(pb.wrap_read(file)),
                progress: Some(pb),
            });
        }
        Ok(Input {
            reader: Box::new(file),
            progress: None,
        })
    }

    /// Opens `path` for a command: the reader and its progress bar, or, when it cannot
    /// be opened, the error printed and exit code 2.
    pub fn for_command(path: &Path) -> Result<(Box<dyn Read>, ProgressGuard), i32> {
        match Input::open(path) {
            Ok(i) => Ok(i.split()),
            Err(e) => {
                eprintln!("x12: {}: {e}", path.display());
                Err(2)
            }
        }
    }

    /// Splits into the reader and a handle that removes the progress bar when dropped.
    pub fn split(self) -> (Box<dyn Read>, ProgressGuard) {
        (self.reader, ProgressGuard(self.progress))
    }
}

/// Clears a progress bar when dropped.
pub struct ProgressGuard(Option<ProgressBar>);

impl Drop for ProgressGuard {
    fn drop(&mut self) {
        if let Some(pb) = &self.0 {
            pb.finish_and_clear();
        }
    }
}

/// Ends a command: its exit code, or 2 (with the error printed) when it failed on I/O.
pub fn finish(path: &Path, result: std::io::Result<()>, code: i32) -> i32 {
    match result {
        Ok(()) => code,
        Err(e) => {
            eprintln!("x12: {}: {e}", path.display());
            2
        }
    }
}
