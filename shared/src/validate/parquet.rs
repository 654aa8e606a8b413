//! Parquet, read row group by row group through the footer, only the columns the contract refers to.
//!
//! The `parquet` crate wants a `'static` [`ChunkReader`], while the source is borrowed for the length of
//! one validation; [`Fetcher`] bridges the two with a channel to a scoped thread that owns the borrow and
//! performs the `read_at` calls. Small reads (page headers) are served from a one-block cache so reading a
//! page costs about one ranged read. Violations carry the row group and the row within it; a file that is
//! not Parquet (bad magic, truncated footer, corrupt pages) is a fatal `InvalidParquet`.
//!
//! Every page header is read here before the `parquet` crate reads it ([`Fetcher`]'s `get_read`, see
//! [`super::page_header`]): a page whose uncompressed size is over `limits.max_parquet_page_bytes`, or
//! over 1 MiB and more than `limits.max_compression_ratio` times its compressed size, stops the file
//! with a fatal `ParquetPageLimit` / `CompressionRatioLimit` before anything is allocated for it.

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, FileReader, Length};
use parquet::file::serialized_reader::SerializedFileReader;
use parquet::record::Field;
use parquet::schema::types::Type;

use super::checks::{Loc, Run};
use super::page_header::{HeaderBytes, PageSizes, SchemaError, SchemaShape};
use super::values::Cell;
use super::RandomAccess;

/// Bytes fetched at once for small reads.
const BLOCK: usize = 1 << 20;

type Request = (u64, usize, SyncSender<io::Result<Bytes>>);

/// What the fetching thread reports back.
#[derive(Default)]
pub(crate) struct FetchState {
    pub bytes_read: AtomicU64,
    pub error: Mutex<Option<io::Error>>,
}

impl FetchState {
    fn take_error(&self) -> Option<io::Error> {
        self.error.lock().ok().and_then(|mut e| e.take())
    }
}

/// The contract's bounds on what a Parquet file claims: its pages (checked from each header) and its
/// footer (checked before the crate parses it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageLimits {
    pub max_page_bytes: u64,
    pub max_ratio: u64,
    pub max_footer_bytes: u64,
    pub max_schema_depth: u64,
    pub max_columns: u64,
}

impl PageLimits {
    /// The limits of `limits`, with the page bytes held at once capped at `max_page_bytes`.
    pub(crate) fn of(limits: &crate::contract::Limits, max_page_bytes: u64) -> PageLimits {
        PageLimits {
            max_page_bytes: limits.max_parquet_page_bytes.min(max_page_bytes),
            max_ratio: limits.max_compression_ratio,
            max_footer_bytes: limits.max_parquet_footer_bytes,
            max_schema_depth: limits.max_parquet_schema_depth,
            max_columns: limits.max_parquet_columns,
        }
    }
}

/// Pages up to this uncompressed size are not held to the compression ratio.
const RATIO_FREE_PAGE: u64 = 1 << 20;

/// Parquet's `PageType` of a dictionary page.
const DICTIONARY_PAGE: i64 = 2;

/// The pages the reader holds at once: per column read, its current data page and its dictionary
/// page, as their headers declare them.
#[derive(Default)]
struct Pages {
    /// Every column chunk's byte range and leaf column, sorted by start (from the footer).
    chunks: Vec<(u64, u64, usize)>,
    /// Per leaf column.
    held: HashMap<usize, Held>,
    /// The limit a page header broke (its fatal kind and message), for [`read`]'s report.
    broken: Option<(&'static str, String)>,
}

#[derive(Default)]
struct Held {
    /// The column chunk (its start) the pages belong to.
    chunk: u64,
    dictionary: u64,
    data: u64,
    /// Where the last checked page's data starts: the crate reads there again after peeking at a
    /// header, and those bytes are not a header.
    data_start: u64,
}

impl Pages {
    /// The column chunk holding `offset`, and its leaf column (`usize::MAX` before the footer is read).
    fn chunk_of(&self, offset: u64) -> (u64, usize) {
        let i = self.chunks.partition_point(|c| c.0 <= offset);
        match i.checked_sub(1).map(|i| self.chunks[i]) {
            Some((start, end, leaf)) if offset < end => (start, leaf),
            _ => (0, usize::MAX),
        }
    }

    /// Take the page of `sizes` at `offset` into account, or say which limit it breaks.
    fn admit(
        &mut self,
        limits: &PageLimits,
        sizes: PageSizes,
        offset: u64,
    ) -> Result<(), (&'static str, String)> {
        let uncompressed = u64::try_from(sizes.uncompressed).unwrap_or(0);
        let compressed = u64::try_from(sizes.compressed).unwrap_or(0);
        let max = limits.max_page_bytes;
        if uncompressed > max {
            return Err((
                "ParquetPageLimit",
                format!(
                    "the page at byte {offset} declares {uncompressed} uncompressed bytes, over \
                     limits.max_parquet_page_bytes = {max}; not read"
                ),
            ));
        }
        if uncompressed > RATIO_FREE_PAGE && uncompressed / compressed.max(1) >= limits.max_ratio {
            return Err((
                "CompressionRatioLimit",
                format!(
                    "the page at byte {offset} expands {compressed} compressed bytes to {uncompressed}, \
                     over limits.max_compression_ratio = {}; not read (decompression-bomb guard)",
                    limits.max_ratio
                ),
            ));
        }
        let (chunk, leaf) = self.chunk_of(offset);
        let held = self.held.entry(leaf).or_default();
        if held.chunk != chunk {
            *held = Held {
                chunk,
                ..Held::default()
            };
        }
        if sizes.kind == DICTIONARY_PAGE {
            held.dictionary = uncompressed;
        } else {
            held.data = uncompressed;
        }
        held.data_start = offset + sizes.header_len;
        let total: u64 = self.held.values().map(|h| h.dictionary + h.data).sum();
        if total > max {
            return Err((
                "ParquetPageLimit",
                format!(
                    "the {} columns read would hold {total} uncompressed page bytes at once with the page \
                     at byte {offset}, over limits.max_parquet_page_bytes = {max}; not read",
                    self.held.len()
                ),
            ));
        }
        Ok(())
    }
}

/// Serve `read_at` requests until every [`Fetcher`] is gone.
pub(crate) fn serve(source: &dyn RandomAccess, requests: Receiver<Request>, state: &FetchState) {
    for (off, len, reply) in requests {
        let r = source.read_at(off, len).and_then(|b| {
            if b.len() == len {
                Ok(b)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("short read at offset {off}"),
                ))
            }
        });
        let r = match r {
            Ok(b) => {
                state.bytes_read.fetch_add(b.len() as u64, Ordering::Relaxed);
                Ok(b)
            }
            Err(e) => {
                let msg = e.to_string();
                if let Ok(mut slot) = state.error.lock() {
                    slot.get_or_insert(e);
                }
                Err(io::Error::other(msg))
            }
        };
        if reply.send(r).is_err() {
            break;
        }
    }
}

pub(crate) fn channel() -> (SyncSender<Request>, Receiver<Request>) {
    sync_channel(1)
}

/// A `'static` handle on the source for the `parquet` crate.
#[derive(Clone)]
pub(crate) struct Fetcher(Arc<FetcherInner>);

struct FetcherInner {
    tx: SyncSender<Request>,
    len: u64,
    cache: Mutex<Option<(u64, Bytes)>>,
    limits: PageLimits,
    pages: Mutex<Pages>,
}

impl Fetcher {
    pub(crate) fn new(tx: SyncSender<Request>, len: u64, limits: PageLimits) -> Self {
        Fetcher(Arc::new(FetcherInner {
            tx,
            len,
            cache: Mutex::new(None),
            limits,
            pages: Mutex::default(),
        }))
    }

    fn take_broken(&self) -> Option<(&'static str, String)> {
        self.0.pages.lock().ok().and_then(|mut p| p.broken.take())
    }

    /// The column chunks of every row group, from the footer, for the accounting of held pages. Pages are
    /// counted against the chunk that holds them, so chunks that share bytes would let one column's
    /// pages pass as another's: a footer whose chunks overlap is refused (`Err`: why).
    pub(crate) fn set_chunks(
        &self,
        metadata: &parquet::file::metadata::ParquetMetaData,
    ) -> Result<(), String> {
        let mut chunks: Vec<(u64, u64, usize)> = metadata
            .row_groups()
            .iter()
            .flat_map(|rg| rg.columns().iter().enumerate())
            .map(|(leaf, c)| {
                let (start, len) = c.byte_range();
                (start, start.saturating_add(len), leaf)
            })
            .filter(|&(start, end, _)| end > start)
            .collect();
        chunks.sort_unstable();
        if let Some(w) = chunks.windows(2).find(|w| w[1].0 < w[0].1) {
            let ((a, b, x), (c, d, y)) = (w[0], w[1]);
            return Err(format!(
                "the footer's column chunks overlap: column {x} at bytes {a}..{b} and column {y} at bytes \
                 {c}..{d}; not read"
            ));
        }
        if let Ok(mut pages) = self.0.pages.lock() {
            pages.chunks = chunks;
        }
        Ok(())
    }

    /// Check the page header at `start` against the limits before the crate reads it. The footer's
    /// last 8 bytes and a page's data after a peeked header are not headers and pass.
    fn check_page(&self, start: u64) -> parquet::errors::Result<()> {
        if start.saturating_add(8) == self.0.len {
            return Ok(());
        }
        let mut pages = self
            .0
            .pages
            .lock()
            .map_err(|_| ParquetError::General("page accounting poisoned".into()))?;
        if pages.held.values().any(|h| h.data_start == start) {
            return Ok(());
        }
        let mut at = At {
            fetcher: self,
            pos: start,
        };
        let sizes = PageSizes::read(&mut at).map_err(|e| ParquetError::External(Box::new(e)))?;
        pages.admit(&self.0.limits, sizes, start).map_err(|broken| {
            let message = broken.1.clone();
            pages.broken.get_or_insert(broken);
            ParquetError::General(message)
        })
    }

    fn fetch(&self, off: u64, len: usize) -> io::Result<Bytes> {
        let (reply_tx, reply_rx) = sync_channel(1);
        self.0
            .tx
            .send((off, len, reply_tx))
            .map_err(|_| io::Error::other("source reader stopped"))?;
        reply_rx
            .recv()
            .map_err(|_| io::Error::other("source reader stopped"))?
    }

    fn bytes(&self, start: u64, len: usize) -> io::Result<Bytes> {
        let end = start
            .checked_add(len as u64)
            .filter(|&e| e <= self.0.len)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("read of {len} bytes at {start} is past the end"),
                )
            })?;
        if len == 0 {
            return Ok(Bytes::new());
        }
        if let Ok(cache) = self.0.cache.lock() {
            if let Some((cs, b)) = cache.as_ref() {
                if start >= *cs && end <= cs + b.len() as u64 {
                    return Ok(b.slice((start - cs) as usize..(end - cs) as usize));
                }
            }
        }
        if len >= BLOCK {
            return self.fetch(start, len);
        }
        let block_len = (self.0.len - start).min(BLOCK as u64) as usize;
        let block = self.fetch(start, block_len)?;
        let out = block.slice(0..len);
        if let Ok(mut cache) = self.0.cache.lock() {
            *cache = Some((start, block));
        }
        Ok(out)
    }
}

impl Length for Fetcher {
    fn len(&self) -> u64 {
        self.0.len
    }
}

impl ChunkReader for Fetcher {
    type T = FetchRead;

    fn get_read(&self, start: u64) -> parquet::errors::Result<FetchRead> {
        self.check_page(start)?;
        Ok(FetchRead {
            fetcher: self.clone(),
            pos: start,
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.bytes(start, length)
            .map_err(|e| ParquetError::External(Box::new(e)))
    }
}

/// The limit the footer of the file behind `fetcher` breaks, if any (its fatal kind and message).
/// A file too short for a footer passes: the crate reports it.
pub(crate) fn check_footer(fetcher: &Fetcher) -> io::Result<Option<(&'static str, String)>> {
    let limits = fetcher.0.limits;
    let len = fetcher.0.len;
    if len < 12 {
        return Ok(None);
    }
    let tail = fetcher.bytes(len - 8, 8)?;
    let footer = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if footer > limits.max_footer_bytes {
        return Ok(Some((
            "ParquetFooterLimit",
            format!(
                "the footer declares {footer} bytes of metadata, over limits.max_parquet_footer_bytes = {}; \
                 not read",
                limits.max_footer_bytes
            ),
        )));
    }
    let Some(start) = (len - 8).checked_sub(footer) else {
        return Ok(None);
    };
    let mut at = At { fetcher, pos: start };
    Ok(
        match SchemaShape::read(&mut at, limits.max_schema_depth, limits.max_columns) {
            Ok(_) => None,
            Err(SchemaError::TooDeep(max)) => Some((
                "ParquetSchemaLimit",
                format!(
                    "the schema nests groups more than limits.max_parquet_schema_depth = {max} deep; not read"
                ),
            )),
            Err(SchemaError::TooManyColumns(max)) => Some((
                "ParquetSchemaLimit",
                format!("the schema has more than limits.max_parquet_columns = {max} columns; not read"),
            )),
            // The crate's own parse says what is wrong with it.
            Err(SchemaError::Malformed) => None,
        },
    )
}

/// A page header's bytes through the fetcher's block cache (the crate reads the same block next).
struct At<'a> {
    fetcher: &'a Fetcher,
    pos: u64,
}

impl HeaderBytes for At<'_> {
    fn byte(&mut self) -> io::Result<u8> {
        let b = self.fetcher.bytes(self.pos, 1)?;
        self.pos += 1;
        Ok(b[0])
    }

    fn skip(&mut self, n: u64) -> io::Result<()> {
        self.pos = self
            .pos
            .checked_add(n)
            .filter(|&p| p <= self.fetcher.0.len)
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "page header past the end"))?;
        Ok(())
    }
}

/// Sequential reads from an offset (page headers).
pub(crate) struct FetchRead {
    fetcher: Fetcher,
    pos: u64,
}

impl Read for FetchRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.fetcher.0.len.saturating_sub(self.pos);
        let n = (buf.len() as u64).min(left).min(BLOCK as u64) as usize;
        if n == 0 {
            return Ok(0);
        }
        let b = self.fetcher.bytes(self.pos, n)?;
        buf[..n].copy_from_slice(&b);
        self.pos += n as u64;
        Ok(n)
    }
}

/// The four bytes a Parquet file starts and ends with.
const PARQUET_MAGIC: &[u8; 4] = b"PAR1";

/// Validate the Parquet file behind `fetcher`. `Err` only for source failures.
pub(crate) fn read(run: &mut Run, fetcher: Fetcher, state: &FetchState) -> io::Result<()> {
    let head = fetcher.clone();
    let invalid = |run: &mut Run, e: ParquetError, rg: Option<usize>, row: Option<u64>| -> io::Result<()> {
        if let Some(source) = state.take_error() {
            return Err(source);
        }
        if let Some((kind, message)) = head.take_broken() {
            let at = rg.map(|g| format!(" (row group {g})")).unwrap_or_default();
            run.set_fatal(kind, format!("{message}{at}"), None, row);
            return Ok(());
        }
        let at = match (rg, row) {
            (Some(g), Some(r)) => format!(" (row group {g}, row {r})"),
            (Some(g), None) => format!(" (row group {g})"),
            _ => String::new(),
        };
        run.set_fatal(
            "InvalidParquet",
            format!("not a readable Parquet file{at}: {e}"),
            None,
            row,
        );
        Ok(())
    };
    // What the footer claims (its size, its schema's depth and width), before the crate parses it.
    match check_footer(&head) {
        Ok(None) => {}
        Ok(Some((kind, message))) => {
            run.set_fatal(kind, message, None, None);
            return Ok(());
        }
        Err(e) => {
            if let Some(source) = state.take_error() {
                return Err(source);
            }
            return invalid(run, ParquetError::External(Box::new(e)), None, None);
        }
    }
    // The footer first (a source that fails is an error, not a report), then the head: the footer
    // carries the magic too, and it is all the reader checks, but a Parquet file starts with it as well.
    let reader = match SerializedFileReader::new(fetcher) {
        Ok(r) => r,
        Err(e) => return invalid(run, e, None, None),
    };
    match head.get_bytes(0, PARQUET_MAGIC.len()) {
        Ok(magic) if magic.as_ref() == PARQUET_MAGIC => {}
        Ok(_) => {
            let e = ParquetError::General("the file does not start with the Parquet magic PAR1".into());
            return invalid(run, e, None, None);
        }
        Err(e) => return invalid(run, e, None, None),
    }
    if let Err(message) = head.set_chunks(reader.metadata()) {
        return invalid(run, ParquetError::General(message), None, None);
    }
    let plan = run.plan();
    let fields = reader.metadata().file_metadata().schema().get_fields().to_vec();
    run.column_count = Some(fields.len() as u64);
    let mut proj_fields = Vec::new();
    let mut proj_cols = Vec::new();
    for f in &fields {
        if let Some(ci) = plan.columns.iter().position(|c| c.name == f.name()) {
            if !proj_cols.contains(&ci) {
                proj_fields.push(f.clone());
                proj_cols.push(ci);
            }
        }
    }
    for ci in 0..plan.columns.len() {
        run.set_present(ci, proj_cols.contains(&ci));
    }
    // A contract that checks none of the file's columns still counts the rows it reads, not the ones
    // the footer claims: the first column is read for that (a row count is one value per row of it).
    let counting_only = proj_cols.is_empty();
    if counting_only {
        proj_fields.extend(fields.first().cloned());
    }
    let projection = match Type::group_type_builder("schema")
        .with_fields(proj_fields)
        .build()
    {
        Ok(p) => p,
        Err(e) => return invalid(run, e, None, None),
    };
    for rg in 0..reader.num_row_groups() {
        let group = match reader.get_row_group(rg) {
            Ok(g) => g,
            Err(e) => return invalid(run, e, Some(rg), None),
        };
        if fields.is_empty() {
            continue;
        }
        let rows = match group.get_row_iter(Some(projection.clone())) {
            Ok(it) => it,
            Err(e) => return invalid(run, e, Some(rg), None),
        };
        let mut n = 0u64;
        for row in rows {
            n += 1;
            let row = match row {
                Ok(r) => r,
                Err(e) => return invalid(run, e, Some(rg), Some(n)),
            };
            run.rows += 1;
            if counting_only {
                run.checked += 1;
                continue;
            }
            let loc = Loc {
                row: n,
                byte_offset: None,
                row_group: Some(rg as u64),
            };
            for ((_, field), &ci) in row.get_column_iter().zip(&proj_cols) {
                run.cell(ci, to_cell(field), &loc);
            }
            if !run.end_row(&loc) {
                return Ok(());
            }
        }
    }
    Ok(())
}

fn to_cell(f: &Field) -> Cell<'_> {
    match f {
        Field::Null => Cell::Null,
        Field::Bool(b) => Cell::Bool(*b),
        Field::Byte(i) => Cell::Int(i64::from(*i)),
        Field::Short(i) => Cell::Int(i64::from(*i)),
        Field::Int(i) => Cell::Int(i64::from(*i)),
        Field::Long(i) => Cell::Int(*i),
        Field::UByte(i) => Cell::Int(i64::from(*i)),
        Field::UShort(i) => Cell::Int(i64::from(*i)),
        Field::UInt(i) => Cell::Int(i64::from(*i)),
        Field::ULong(u) => i64::try_from(*u).map(Cell::Int).unwrap_or(Cell::Float(*u as f64)),
        Field::Float16(h) => Cell::Float(h.to_f64()),
        Field::Float(x) => Cell::Float(f64::from(*x)),
        Field::Double(x) => Cell::Float(*x),
        Field::Decimal(d) => decimal(d.data(), d.scale())
            .map(Cell::Float)
            .unwrap_or(Cell::Other("decimal")),
        Field::Str(s) => Cell::Str(s),
        Field::Bytes(b) => std::str::from_utf8(b.data())
            .map(Cell::Str)
            .unwrap_or(Cell::Other("binary")),
        Field::Date(d) => Cell::Date(*d),
        Field::TimeMillis(_) | Field::TimeMicros(_) => Cell::Other("time of day"),
        Field::TimestampMillis(ms) => Cell::Timestamp(ms.saturating_mul(1000)),
        Field::TimestampMicros(us) => Cell::Timestamp(*us),
        Field::Group(_) => Cell::Other("group"),
        Field::ListInternal(_) => Cell::Other("list"),
        Field::MapInternal(_) => Cell::Other("map"),
    }
}

/// Big-endian two's complement unscaled value → f64.
pub(crate) fn decimal(be: &[u8], scale: i32) -> Option<f64> {
    if be.is_empty() || be.len() > 16 {
        return None;
    }
    let fill = if be[0] & 0x80 != 0 { 0xff } else { 0 };
    let mut buf = [fill; 16];
    buf[16 - be.len()..].copy_from_slice(be);
    let v = i128::from_be_bytes(buf) as f64;
    Some(v / 10f64.powi(scale))
}
