//! The streaming validation engine.
//!
//! Input is anything with random access ([`RandomAccess`]): a local file, or an S3 object read with
//! ranged GETs. CSV and JSON Lines are read front to back in bounded chunks (optionally through a gzip /
//! zstd decoder with an expanded-size limit); Parquet is read row group by row group through its footer.
//! Memory stays bounded whatever the size of the input: the only structures that grow with the data are
//! the uniqueness sets, which have a configured cap (`limits.max_unique_values`, see `uniq.rs`).
//!
//! [`Validator::new`] compiles a contract once (regexes, bounds, DQDL); [`Validator::validate`] runs it
//! over one input and returns a [`ValidationReport`]. Bad data never makes `validate` fail: it gives a
//! report with `valid: false` (violations, or `fatal` when the data cannot be read to the end).

mod checks;
pub(crate) mod compile;
pub(crate) mod csv;
pub(crate) mod decode;
mod dqdl_eval;
mod jsonl;
mod page_header;
pub(crate) mod parquet;
pub mod report;
mod swar;
mod uniq;
pub(crate) mod values;

#[cfg(test)]
pub(crate) mod tests;

use std::io;
use std::time::Instant;

use bytes::Bytes;

use self::checks::{Run, Totals};
use self::compile::Plan;
pub use self::decode::Fingerprint;
use self::decode::{Decoded, Direct, Prefetch, SourceState, StreamError};
pub use self::report::ValidationReport;

/// A value as the engine reads a column of type `ty` (`greenpipe infer` guesses types with the same
/// parsers validation uses): the number for int and float, days or microseconds since the epoch for
/// dates and timestamps, 0/1 for bool; `None` when the value does not parse, and always for strings.
pub fn parse_as(ty: crate::contract::ColumnType, text: &str) -> Option<f64> {
    use crate::contract::ColumnType;
    let b = text.as_bytes();
    match ty {
        ColumnType::Int => values::parse_i64(b).map(|v| v as f64),
        ColumnType::Float => values::parse_f64(text),
        ColumnType::Bool => values::parse_bool(b).map(|v| f64::from(u8::from(v))),
        ColumnType::Date => values::parse_date(b).map(f64::from),
        ColumnType::Timestamp => values::parse_timestamp(b).map(|v| v as f64),
        ColumnType::String => None,
    }
}
use crate::contract::{Compression, Contract, FormatSpec};
use crate::error::{Error, Result};

/// Random-access bytes: the one capability validation needs from a data source.
pub trait RandomAccess: Send + Sync {
    /// Total size in bytes.
    fn len(&self) -> u64;
    /// Read `len` bytes starting at `offset` (fewer only at the end of the data).
    fn read_at(&self, offset: u64, len: usize) -> io::Result<Bytes>;
    /// Whether the source is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The source as a local file, when it is one. An uncompressed local file is read on the validating
    /// thread with `pread` straight into the record reader's buffer (see [`decode::Direct`]) instead of
    /// through prefetch threads and a copy. `None` (the default): always [`RandomAccess::read_at`].
    fn local_file(&self) -> Option<&std::fs::File> {
        None
    }
}

/// Bytes held in memory: the CLI's embedded samples, the tests and the fuzz targets. A read past the end
/// is short (or empty), never an error.
impl RandomAccess for Bytes {
    fn len(&self) -> u64 {
        Bytes::len(self) as u64
    }

    fn read_at(&self, offset: u64, len: usize) -> io::Result<Bytes> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(Bytes::len(self));
        let end = start.saturating_add(len).min(Bytes::len(self));
        Ok(self.slice(start..end))
    }
}

/// A local file, read with positioned reads (no shared cursor, so Parquet can read column chunks freely).
pub struct LocalFile {
    file: std::fs::File,
    len: u64,
}

impl LocalFile {
    pub fn open(path: &std::path::Path) -> io::Result<Self> {
        let file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        Ok(LocalFile { file, len })
    }
}

impl RandomAccess for LocalFile {
    fn len(&self) -> u64 {
        self.len
    }

    fn local_file(&self) -> Option<&std::fs::File> {
        Some(&self.file)
    }

    fn read_at(&self, offset: u64, len: usize) -> io::Result<Bytes> {
        let end = (offset.saturating_add(len as u64)).min(self.len);
        let want = end.saturating_sub(offset) as usize;
        // Read straight into the new buffer's spare capacity: zero-filling it first (`vec![0; n]` and
        // `read_exact_at`) cost about 3 % of a 1 GB validation (a memset of every byte read).
        let mut buf: Vec<u8> = Vec::with_capacity(want);
        let fd = std::os::fd::AsRawFd::as_raw_fd(&self.file);
        while buf.len() < want {
            let at = offset + buf.len() as u64;
            let at = libc::off_t::try_from(at).map_err(|_| io::Error::other("offset beyond off_t"))?;
            let room = want - buf.len();
            let spare = &mut buf.spare_capacity_mut()[..room];
            // SAFETY: `spare` is writable memory of `room` bytes owned by `buf` (the capacity is at least
            // `want`); pread writes at most that many bytes into it and reports how many it wrote.
            let n = unsafe { libc::pread(fd, spare.as_mut_ptr().cast(), room, at) };
            match n {
                n if n > 0 => {
                    // SAFETY: pread initialized the `n` bytes after the current length (n <= room).
                    unsafe { buf.set_len(buf.len() + n as usize) };
                }
                0 => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("file ended at byte {} while reading {want} bytes at {offset}", at),
                    ))
                }
                _ => {
                    let e = io::Error::last_os_error();
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(e);
                    }
                }
            }
        }
        Ok(Bytes::from(buf))
    }
}

/// A compiled data contract, ready to validate any number of inputs (it is `Send + Sync`).
#[derive(Debug)]
pub struct Validator {
    plan: Plan,
}

impl Validator {
    /// Compile `contract` (loaded from `contract_source`, used in error messages and reports): regexes,
    /// bounds and the DQDL ruleset are checked here, so a bad contract fails before any data is read.
    pub fn new(contract: Contract, contract_source: &str) -> Result<Validator> {
        Ok(Validator {
            plan: compile::compile(&contract, contract_source)?,
        })
    }

    /// Validate one input. `name` (object key or path) gives the format and compression when the contract
    /// does not; `progress` is called with the bytes read from the source so far.
    ///
    /// `Err` only when the format is unknown or the source fails to read; problems with the data are in
    /// the report (`valid: false`).
    pub fn validate(
        &self,
        source: &dyn RandomAccess,
        name: &str,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<ValidationReport> {
        let started = Instant::now();
        let format = self
            .plan
            .format
            .clone()
            .or_else(|| FormatSpec::from_extension(name))
            .ok_or_else(|| {
                Error::UnsupportedFormat(format!(
                "cannot tell the format of {name}: the contract names none and the extension is not one of \
                 .csv, .tsv, .jsonl, .ndjson, .json, .parquet (optionally + .gz / .zst)"
            ))
            })?;
        let compression = self
            .plan
            .compression
            .unwrap_or_else(|| Compression::from_extension(name));
        let mut run = Run::new(&self.plan);
        let totals = match &format {
            FormatSpec::Parquet => {
                if compression != Compression::None {
                    return Err(Error::UnsupportedFormat(format!(
                        "{name}: a Parquet file compresses its pages itself; whole-file {} is not supported",
                        compression_name(compression)
                    )));
                }
                self.parquet(&mut run, source, name, progress)?
            }
            FormatSpec::Csv { .. } | FormatSpec::Jsonl => {
                self.text(&mut run, source, name, &format, compression, progress)?
            }
        };
        Ok(run.finish(totals, started))
    }

    fn text(
        &self,
        run: &mut Run,
        source: &dyn RandomAccess,
        name: &str,
        format: &FormatSpec,
        compression: Compression,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Totals> {
        let csv_opts = match format {
            FormatSpec::Csv {
                delimiter,
                quote,
                header,
            } => {
                let (delimiter, quote) = compile::csv_bytes(delimiter, quote)
                    .map_err(|m| Error::contract_invalid(&self.plan.source, m))?;
                Some(csv::CsvOptions {
                    delimiter,
                    quote,
                    header: *header,
                })
            }
            _ => None,
        };
        let state = SourceState::default();
        let max_expanded = self.plan.limits.max_expanded_bytes;
        let max_ratio = self.plan.limits.max_compression_ratio;
        let (fingerprint, decoded) = std::thread::scope(|scope| -> Result<(String, u64)> {
            let input: Box<dyn io::Read + '_> = match source.local_file() {
                // Decompression, not reading, bounds a compressed file: it keeps the prefetch threads.
                Some(file) if compression == Compression::None => {
                    Box::new(Direct::new(file, source.len(), &state, progress))
                }
                _ => Box::new(Prefetch::start(scope, source, &state, progress)),
            };
            let result =
                Decoded::new(input, compression, max_expanded, max_ratio, &state).map(|mut input| {
                    let r = match &csv_opts {
                        Some(opts) => csv::read(run, &mut input, opts),
                        None => jsonl::read(run, &mut input),
                    };
                    (r, input.fingerprint(), input.decoded())
                });
            let (r, fingerprint, decoded) = match result {
                Ok(x) => x,
                Err(e) => (Err(e), Fingerprint::of(b""), 0),
            };
            match r {
                Ok(()) => {}
                Err(StreamError::Source(e)) => return Err(Error::from_source_io(e)),
                Err(StreamError::Decode(m)) => run.set_fatal(
                    "DecodeError",
                    format!(
                        "{} data is corrupt or truncated after {decoded} decoded bytes: {m}",
                        compression_name(compression)
                    ),
                    Some(decoded),
                    Some(run.rows),
                ),
                Err(StreamError::Limit(limit)) => run.set_fatal(
                    "ExpandedSizeLimit",
                    format!(
                        "decompressed data exceeds limits.max_expanded_bytes = {limit} bytes; stopped there \
                         (decompression-bomb guard)"
                    ),
                    Some(limit),
                    Some(run.rows),
                ),
                Err(StreamError::Ratio(ratio)) => run.set_fatal(
                    "CompressionRatioLimit",
                    format!(
                        "{} data expands more than limits.max_compression_ratio = {ratio} times its \
                         compressed size; stopped after {decoded} decoded bytes (decompression-bomb guard)",
                        compression_name(compression)
                    ),
                    Some(decoded),
                    Some(run.rows),
                ),
            }
            Ok((fingerprint, decoded))
        })?;
        Ok(Totals {
            source: name.to_string(),
            format: format.name(),
            compression: compression_name(compression),
            text_format: true,
            bytes_read: state.bytes_read.get(),
            bytes_decoded: decoded,
            fingerprint,
        })
    }

    fn parquet(
        &self,
        run: &mut Run,
        source: &dyn RandomAccess,
        name: &str,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Totals> {
        let state = parquet::FetchState::default();
        let (fingerprint, hashed) = std::thread::scope(|scope| -> Result<(String, u64)> {
            let hasher = scope.spawn(|| decode::hash_source(source, progress));
            let (tx, rx) = parquet::channel();
            let st = &state;
            scope.spawn(move || parquet::serve(source, rx, st));
            let limits = parquet::PageLimits::of(&self.plan.limits, u64::MAX);
            let checked = parquet::read(run, parquet::Fetcher::new(tx, source.len(), limits), &state);
            let hashed = hasher
                .join()
                .map_err(|payload| Error::from_panic("the fingerprint thread", payload.as_ref()))?;
            checked.map_err(Error::from_source_io)?;
            hashed.map_err(Error::from_source_io)
        })?;
        Ok(Totals {
            source: name.to_string(),
            format: "parquet",
            compression: "none",
            text_format: false,
            bytes_read: hashed + state.bytes_read.load(std::sync::atomic::Ordering::Relaxed),
            bytes_decoded: source.len(),
            fingerprint,
        })
    }
}

fn compression_name(c: Compression) -> &'static str {
    match c {
        Compression::None => "none",
        Compression::Gzip => "gzip",
        Compression::Zstd => "zstd",
    }
}
