//! Streaming readers: over `std::io::Read`, and over tokio's `AsyncRead`.

use crate::decoder::{Decoder, ReaderOptions};
use crate::envelope::Item;
use bytes::BytesMut;
use std::io::{self, Read};

/// How much a reader asks its source for at a time.
pub const CHUNK: usize = 256 * 1024;

/// A streaming reader over any `std::io::Read`: yields [`Item`]s in input order,
/// holding in memory only the transaction set being read.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use x12_core::{Item, Reader};
/// let file = std::fs::File::open(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/valid/837p-minimal.x12"))?;
/// let mut sets = 0;
/// for item in Reader::new(file) {
///     match item? {
///         Item::Transaction(set) => {
///             assert!(set.is_valid());
///             sets += 1;
///         }
///         Item::InterchangeEnd(report) => assert!(!report.has_errors()),
///         _ => {}
///     }
/// }
/// assert_eq!(sets, 1);
/// # Ok(()) }
/// ```
pub struct Reader<R> {
    source: R,
    buf: BytesMut,
    decoder: Decoder,
    eof: bool,
    read: u64,
    /// Bytes asked for per read: grows while reads fill it, shrinks when they do not
    /// (a pipe or socket that trickles), between 4 KiB and [`CHUNK`].
    window: usize,
}

impl<R: Read> Reader<R> {
    /// A reader with the default limits.
    pub fn new(source: R) -> Self {
        Reader::with_options(source, ReaderOptions::default())
    }

    /// A reader with the given limits.
    pub fn with_options(source: R, opts: ReaderOptions) -> Self {
        Reader {
            source,
            buf: BytesMut::with_capacity(CHUNK),
            decoder: Decoder::new(opts),
            eof: false,
            read: 0,
            window: 64 * 1024,
        }
    }

    /// Bytes read from the source so far.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    /// The next item; `Ok(None)` at the end of input. I/O errors are returned as they
    /// come; problems in the data are never errors here but [`Issue`](crate::Issue)s
    /// inside the items.
    pub fn next_item(&mut self) -> io::Result<Option<Item>> {
        loop {
            if let Some(item) = self.decoder.decode(&mut self.buf, self.eof) {
                return Ok(Some(item));
            }
            if self.eof || self.decoder.is_finished() {
                return Ok(None);
            }
            self.fill()?;
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        let len = self.buf.len();
        self.buf.resize(len + self.window, 0);
        loop {
            match self.source.read(&mut self.buf[len..]) {
                Ok(n) => {
                    self.buf.truncate(len + n);
                    self.read += n as u64;
                    if n == self.window {
                        self.window = (self.window * 2).min(CHUNK);
                    } else if n < self.window / 4 {
                        self.window = (self.window / 2).max(4096);
                    }
                    if n == 0 {
                        self.eof = true;
                    }
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.buf.truncate(len);
                    return Err(e);
                }
            }
        }
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = io::Result<Item>;

    fn next(&mut self) -> Option<io::Result<Item>> {
        self.next_item().transpose()
    }
}

/// A streaming reader over tokio's `AsyncRead`, with the same items as [`Reader`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use x12_core::{AsyncReader, Item};
/// let file = tokio::fs::File::open(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/valid/837p-minimal.x12")).await?;
/// let mut reader = AsyncReader::new(file);
/// let mut sets = 0;
/// while let Some(item) = reader.next_item().await? {
///     if let Item::Transaction(_) = item {
///         sets += 1;
///     }
/// }
/// assert_eq!(sets, 1);
/// # Ok(()) }
/// ```
#[cfg(feature = "tokio")]
pub struct AsyncReader<R> {
    source: R,
    buf: BytesMut,
    decoder: Decoder,
    eof: bool,
}

#[cfg(feature = "tokio")]
impl<R: tokio::io::AsyncRead + Unpin> AsyncReader<R> {
    /// A reader with the default limits.
    pub fn new(source: R) -> Self {
        AsyncReader::with_options(source, ReaderOptions::default())
    }

    /// A reader with the given limits.
    pub fn with_options(source: R, opts: ReaderOptions) -> Self {
        AsyncReader {
            source,
            buf: BytesMut::with_capacity(CHUNK),
            decoder: Decoder::new(opts),
            eof: false,
        }
    }

    /// The next item; `Ok(None)` at the end of input.
    pub async fn next_item(&mut self) -> io::Result<Option<Item>> {
        use tokio::io::AsyncReadExt;
        loop {
            if let Some(item) = self.decoder.decode(&mut self.buf, self.eof) {
                return Ok(Some(item));
            }
            if self.eof || self.decoder.is_finished() {
                return Ok(None);
            }
            self.buf.reserve(CHUNK);
            if self.source.read_buf(&mut self.buf).await? == 0 {
                self.eof = true;
            }
        }
    }
}
