//! Reading a source front to back: prefetching reader threads, gzip / zstd decoding, the expanded-size
//! guard and the content fingerprint.
//!
//! The source is read in [`CHUNK`]-sized `read_at` calls (ranged GETs on S3) by [`READERS`] scoped
//! threads, each at most one chunk ahead, so I/O latency overlaps with validation and at most
//! `(2 × READERS + 1) × CHUNK` bytes of input are in memory at once.
//!
//! An uncompressed local file is read by [`Direct`] instead: `pread` straight into the record reader's
//! buffer on the validating thread.

use std::cell::{Cell, RefCell};
use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::Scope;

use bytes::Bytes;

use super::RandomAccess;
use crate::contract::Compression;

/// Size of one `read_at` call.
pub(crate) const CHUNK: usize = 2 << 20;
/// Reader threads (each keeps one chunk in flight and one queued).
pub(crate) const READERS: usize = 2;
/// Largest zstd window accepted (2^25 = 32 MiB): a frame asking for more is a decode error, so a crafted
/// frame cannot make the decoder allocate gigabytes. Standard levels 1–19 use at most 2^23.
const ZSTD_WINDOW_LOG_MAX: u32 = 25;

/// What the reading side shares with the consumer: bytes read so far and the first source error.
#[derive(Default)]
pub(crate) struct SourceState {
    pub bytes_read: Cell<u64>,
    pub error: RefCell<Option<io::Error>>,
}

/// Sequential reader over a [`RandomAccess`], fed by background threads.
pub(crate) struct Prefetch<'a> {
    rxs: Vec<Receiver<io::Result<Bytes>>>,
    next: u64,
    chunks: u64,
    cur: Bytes,
    pos: usize,
    state: &'a SourceState,
    progress: &'a (dyn Fn(u64) + Sync),
}

impl<'a> Prefetch<'a> {
    pub(crate) fn start<'scope, 'env: 'scope>(
        scope: &'scope Scope<'scope, 'env>,
        source: &'env dyn RandomAccess,
        state: &'a SourceState,
        progress: &'a (dyn Fn(u64) + Sync),
    ) -> Self {
        let total = source.len();
        let chunks = total.div_ceil(CHUNK as u64);
        let mut rxs = Vec::with_capacity(READERS);
        for k in 0..READERS as u64 {
            let (tx, rx) = sync_channel::<io::Result<Bytes>>(1);
            rxs.push(rx);
            if k >= chunks {
                continue;
            }
            scope.spawn(move || {
                let mut idx = k;
                while idx < chunks {
                    let off = idx * CHUNK as u64;
                    let want = (total - off).min(CHUNK as u64) as usize;
                    let got = source.read_at(off, want).and_then(|b| {
                        if b.len() == want {
                            Ok(b)
                        } else {
                            Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                format!("short read at offset {off}: {} of {want} bytes", b.len()),
                            ))
                        }
                    });
                    let failed = got.is_err();
                    if tx.send(got).is_err() || failed {
                        break;
                    }
                    idx += READERS as u64;
                }
            });
        }
        Prefetch {
            rxs,
            next: 0,
            chunks,
            cur: Bytes::new(),
            pos: 0,
            state,
            progress,
        }
    }

    fn next_chunk(&mut self) -> io::Result<bool> {
        if self.next >= self.chunks {
            return Ok(false);
        }
        let rx = &self.rxs[(self.next % READERS as u64) as usize];
        self.next += 1;
        match rx.recv() {
            Ok(Ok(b)) => {
                let read = self.state.bytes_read.get() + b.len() as u64;
                self.state.bytes_read.set(read);
                (self.progress)(read);
                self.cur = b;
                self.pos = 0;
                Ok(true)
            }
            Ok(Err(e)) => Err(self.fail(e)),
            Err(_) => Err(self.fail(io::Error::other("source reader thread stopped"))),
        }
    }

    fn fail(&mut self, e: io::Error) -> io::Error {
        self.chunks = 0;
        source_failed(self.state, e)
    }
}

/// Keep the first source error in `state` (so the stream ends as [`StreamError::Source`]) and return the
/// error the reading side passes on.
fn source_failed(state: &SourceState, e: io::Error) -> io::Error {
    let msg = e.to_string();
    let mut slot = state.error.borrow_mut();
    if slot.is_none() {
        *slot = Some(e);
    }
    io::Error::other(format!("source read failed: {msg}"))
}

/// Sequential reader over a local file: `pread` on the calling thread, straight into the caller's buffer.
/// The page cache and the kernel's readahead already keep a sequential file read ahead of its consumer,
/// so this saves [`Prefetch`]'s threads, its chunk allocations and its copy from each chunk into the
/// caller's buffer: one pass of `memcpy` over the whole file.
pub(crate) struct Direct<'a> {
    file: &'a std::fs::File,
    pos: u64,
    len: u64,
    state: &'a SourceState,
    progress: &'a (dyn Fn(u64) + Sync),
}

impl<'a> Direct<'a> {
    /// Read `file`'s first `len` bytes (its length when it was opened).
    pub(crate) fn new(
        file: &'a std::fs::File,
        len: u64,
        state: &'a SourceState,
        progress: &'a (dyn Fn(u64) + Sync),
    ) -> Self {
        Direct {
            file,
            pos: 0,
            len,
            state,
            progress,
        }
    }
}

impl Read for Direct<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let want = usize::try_from(self.len - self.pos).map_or(buf.len(), |left| left.min(buf.len()));
        if want == 0 {
            return Ok(0);
        }
        let n = match self.file.read_at(&mut buf[..want], self.pos) {
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("file ended at byte {} of {}", self.pos, self.len),
            )),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            r => r,
        }
        .map_err(|e| {
            // Nothing more is read after a failure.
            self.len = self.pos;
            source_failed(self.state, e)
        })?;
        self.pos += n as u64;
        let read = self.state.bytes_read.get() + n as u64;
        self.state.bytes_read.set(read);
        (self.progress)(read);
        Ok(n)
    }
}

impl Read for Prefetch<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.cur.len() {
            if !self.next_chunk()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Why the decoded stream ended early.
#[derive(Debug)]
pub(crate) enum StreamError {
    /// The source itself failed: an `Err` of `validate`, not a data problem.
    Source(io::Error),
    /// The compressed data is corrupt or truncated.
    Decode(String),
    /// More than `max_expanded_bytes` came out of the decompressor.
    Limit(u64),
    /// The decompressor's output outgrew its input by more than `max_compression_ratio` (this ratio).
    Ratio(u64),
}

/// Decoded bytes a stream may produce before its compression ratio is checked: small files of
/// repetitive data are harmless whatever their ratio.
pub(crate) const RATIO_FREE_BYTES: u64 = 16 << 20;

/// The content fingerprint of a dataset: XXH3-128 of its decoded bytes, written `xxh3-128:<32 hex>`.
///
/// It decides whether later stages redo work (training is skipped when it is unchanged), so it must
/// tell different data apart, not resist a forger: whoever could forge a collision could as well upload
/// the data itself. XXH3 hashes at memory speed (about 0.25 s of CPU per GB here, where BLAKE3 took
/// 0.95 s: a fifth of the whole single-core validation time at 1 GB), and 128 bits make an accidental
/// collision negligible (about 2^-64 even among 2^32 datasets).
pub struct Fingerprint(twox_hash::XxHash3_128);

impl Fingerprint {
    pub const PREFIX: &'static str = "xxh3-128:";

    pub fn new() -> Self {
        Fingerprint(twox_hash::XxHash3_128::new())
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.write(bytes);
    }

    /// `xxh3-128:<32 lower-case hex digits>` of the bytes so far.
    pub fn value(&self) -> String {
        format!("{}{:032x}", Self::PREFIX, self.0.finish_128())
    }

    /// The fingerprint of `bytes`.
    pub fn of(bytes: &[u8]) -> String {
        let mut f = Fingerprint::new();
        f.update(bytes);
        f.value()
    }
}

impl Default for Fingerprint {
    fn default() -> Self {
        Fingerprint::new()
    }
}

/// The decoded byte stream with its running length and fingerprint.
pub(crate) struct Decoded<'a> {
    inner: Box<dyn Read + 'a>,
    state: &'a SourceState,
    hasher: Fingerprint,
    decoded: u64,
    limit: Option<u64>,
    max_ratio: u64,
}

impl<'a> Decoded<'a> {
    /// Wrap `input` in the decoder for `compression`. `max_expanded` and `max_ratio` (decoded bytes per
    /// byte read from the source) apply to compressed input only.
    pub(crate) fn new(
        input: impl Read + 'a,
        compression: Compression,
        max_expanded: u64,
        max_ratio: u64,
        state: &'a SourceState,
    ) -> Result<Self, StreamError> {
        let (inner, limit): (Box<dyn Read + 'a>, _) = match compression {
            Compression::None => (Box::new(input), None),
            Compression::Gzip => (
                Box::new(flate2::read::MultiGzDecoder::new(input)),
                Some(max_expanded),
            ),
            Compression::Zstd => {
                let mut d = zstd::stream::read::Decoder::new(input).map_err(|e| classify(state, e))?;
                d.window_log_max(ZSTD_WINDOW_LOG_MAX)
                    .map_err(|e| classify(state, e))?;
                (Box::new(d), Some(max_expanded))
            }
        };
        Ok(Decoded {
            inner,
            state,
            hasher: Fingerprint::new(),
            decoded: 0,
            limit,
            max_ratio,
        })
    }

    /// Fill `buf` with the next decoded bytes; `Ok(0)` at the end of the data.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> Result<usize, StreamError> {
        let n = loop {
            match self.inner.read(buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(classify(self.state, e)),
            }
        };
        if let Some(limit) = self.limit {
            if self.decoded + n as u64 > limit {
                let keep = (limit - self.decoded) as usize;
                self.hasher.update(&buf[..keep]);
                self.decoded = limit;
                return Err(StreamError::Limit(limit));
            }
            // The source's bytes read so far include what the prefetch threads fetched ahead of the
            // decoder, so the ratio is if anything understated.
            let decoded = self.decoded + n as u64;
            let read = self.state.bytes_read.get().max(1);
            if decoded > RATIO_FREE_BYTES && decoded / read >= self.max_ratio {
                self.hasher.update(&buf[..n]);
                self.decoded = decoded;
                return Err(StreamError::Ratio(self.max_ratio));
            }
        }
        self.hasher.update(&buf[..n]);
        self.decoded += n as u64;
        Ok(n)
    }

    /// Decoded bytes so far.
    pub(crate) fn decoded(&self) -> u64 {
        self.decoded
    }

    /// The [`Fingerprint`] of the decoded bytes so far.
    pub(crate) fn fingerprint(&self) -> String {
        self.hasher.value()
    }
}

fn classify(state: &SourceState, e: io::Error) -> StreamError {
    match state.error.borrow_mut().take() {
        Some(source) => StreamError::Source(source),
        None => StreamError::Decode(e.to_string()),
    }
}

/// Hash a whole source sequentially (Parquet's fingerprint is of the file bytes). Returns the fingerprint
/// and the bytes read.
pub(crate) fn hash_source(
    source: &dyn RandomAccess,
    progress: &(dyn Fn(u64) + Sync),
) -> io::Result<(String, u64)> {
    let total = source.len();
    let mut hasher = Fingerprint::new();
    let mut off = 0u64;
    while off < total {
        let want = (total - off).min(CHUNK as u64) as usize;
        let b = source.read_at(off, want)?;
        if b.len() != want {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("short read at offset {off}"),
            ));
        }
        hasher.update(&b);
        off += want as u64;
        progress(off);
    }
    Ok((hasher.value(), total))
}

/// A window over the decoded stream for record readers: `data[start..end]` is unread input and
/// `data[0]` is at stream offset `base`. It grows only up to `max_cap` (the record size limit plus one
/// read), so a record reader never holds more than one oversized record's worth of bytes.
pub(crate) struct Window {
    pub data: Vec<u8>,
    pub start: usize,
    pub end: usize,
    pub base: u64,
    pub eof: bool,
    max_cap: usize,
}

/// Bytes asked of the decoded stream per read.
pub(crate) const READ_SIZE: usize = 1 << 20;

impl Window {
    pub(crate) fn new(max_record: u64) -> Self {
        let max_cap = usize::try_from(max_record)
            .unwrap_or(usize::MAX / 2)
            .saturating_add(READ_SIZE);
        Window {
            data: vec![0; READ_SIZE.min(max_cap)],
            start: 0,
            end: 0,
            base: 0,
            eof: false,
            max_cap,
        }
    }

    /// Unread bytes.
    pub(crate) fn avail(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// Stream offset of `data[i]`.
    pub(crate) fn offset(&self, i: usize) -> u64 {
        self.base + i as u64
    }

    /// Read more input, keeping the unread bytes. `Ok(false)` at the end of the stream. Callers keep the
    /// unread part at most `max_record` bytes long, so there is always room for one more read.
    pub(crate) fn fill(&mut self, input: &mut Decoded) -> Result<bool, StreamError> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 {
            self.data.copy_within(self.start..self.end, 0);
            self.base += self.start as u64;
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.data.len() {
            let grown =
                (self.data.len() * 2).clamp(self.data.len() + 1, self.max_cap.max(self.data.len() + 1));
            self.data.resize(grown, 0);
        }
        let n = input.read(&mut self.data[self.end..])?;
        if n == 0 {
            self.eof = true;
            return Ok(false);
        }
        self.end += n;
        Ok(true)
    }
}
