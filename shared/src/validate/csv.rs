//! CSV records, with exactly csv-core's (and so the `csv` crate's) interpretation of the bytes: RFC 4180
//! quoting with doubled quotes, CR, LF and CRLF all ending a record, blank lines skipped, a UTF-8 BOM at
//! the start ignored.
//!
//! Two paths produce the same records:
//! - fast: a record with no quote character is found with one `memchr3` (LF, CR, quote) and split at the
//!   delimiter with a SWAR scan, in place in the read window, without copying;
//! - slow: a record that contains the quote character is handed to `csv_core::Reader` from its first byte
//!   (streaming, so quoted fields may span reads).
//!
//! Records are then checked a batch at a time, each column in one loop ([`RowBatch`]), when every mapped
//! column has a hot kernel and nothing is kept per row (no uniqueness rule); otherwise, or for a record
//! that cannot join a batch (wrong width, invalid UTF-8, over the size limit), one at a time
//! ([`Records::record`]). Both give the same report.
//!
//! An unterminated quote swallows the rest of the input; it is reported as a `UnterminatedQuote` fatal
//! error at the record's offset. Records longer than the size limit are skipped without being buffered.

use csv_core::{ReadRecordResult, Reader, ReaderBuilder};

use super::checks::{deferred_at, Batch, FieldOp, Loc, Run, Structural, QUOTED};
use super::decode::{Decoded, StreamError, Window};
use super::values::shown_bytes;

pub(crate) struct CsvOptions {
    pub delimiter: u8,
    pub quote: u8,
    pub header: bool,
}

/// Where a record's bytes come from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// In place in the input, and all ASCII.
    Ascii,
    /// In place in the input.
    Raw,
    /// Unquoted by csv-core: field contents concatenated.
    Unquoted,
}

/// What happens to a record once its fields are known.
struct Records {
    header: bool,
    schema_done: bool,
    /// Expected number of fields (the header's, or the first record's).
    width: usize,
    /// The mapped fields (field index, plan column, the column's kernel), sorted by field.
    ops: Vec<FieldOp>,
    bounds: Vec<(usize, usize)>,
    row: u64,
    stop: bool,
    /// Every op has a column kernel and the run keeps nothing per row: records go to a [`RowBatch`].
    batching: bool,
    /// Tests and fuzzing: every data record's fields, as parsed.
    #[cfg(any(test, feature = "fuzzing"))]
    captured: Option<Vec<Vec<String>>>,
}

/// Records kept to be checked a column at a time (see [`checks::ColKernel`](super::checks::ColKernel)):
/// each column's values go through one small loop whose constants and counters stay in registers, instead
/// of one indirect call per field. Well-formed records whose fields are valid UTF-8 are kept: in place in
/// the read window, or, for quoted ones, their unquoted contents copied here. The batch is checked before
/// any other record, and before the window moves.
struct RowBatch {
    /// Each record's index in the window's data.
    starts: Vec<usize>,
    /// Each record's offset in the stream.
    offsets: Vec<u64>,
    /// `width` field bounds per record, relative to its start.
    bounds: Vec<(usize, usize)>,
    /// The field contents of quoted records, which [`quoted`] unquotes out of the window: their starts
    /// have [`QUOTED`] set and index this.
    qdata: Vec<u8>,
    /// Values the column kernels left to the general path: [`defer`](super::checks::defer)`(row, op)`.
    deferred: Vec<u64>,
}

#[cfg(any(test, feature = "fuzzing"))]
thread_local! {
    /// Tests and fuzzing, on the validating thread: keep every record out of batches (`.0`), and count the batches
    /// checked (`.1`).
    pub(crate) static BATCH_TEST: std::cell::Cell<(bool, u64)> = const { std::cell::Cell::new((false, 0)) };
}

/// Records per [`RowBatch`]: their bounds (20 fields: 40 KB) and bytes stay in the core's L2 cache while
/// each column is checked.
const BATCH_ROWS: usize = 128;

/// Read CSV from `input` into `run`.
pub(crate) fn read(run: &mut Run, input: &mut Decoded, opts: &CsvOptions) -> Result<(), StreamError> {
    reader(run, opts).run(run, input)
}

fn reader(run: &Run, opts: &CsvOptions) -> CsvReader {
    let max_record = usize::try_from(run.plan().max_record_bytes).unwrap_or(usize::MAX / 4);
    CsvReader {
        delim: opts.delimiter,
        quote: opts.quote,
        max_record,
        win: Window::new(run.plan().max_record_bytes),
        core: ReaderBuilder::new()
            .delimiter(opts.delimiter)
            .quote(opts.quote)
            .build(),
        out: vec![0; 4096],
        qout: Vec::with_capacity(4096),
        ends: vec![0; 64],
        scratch_out: vec![0; 64 << 10],
        scratch_ends: vec![0; 1024],
        rec: Records {
            header: opts.header,
            schema_done: false,
            width: 0,
            ops: Vec::new(),
            bounds: Vec::with_capacity(64),
            row: 0,
            stop: false,
            batching: false,
            #[cfg(any(test, feature = "fuzzing"))]
            captured: None,
        },
        batch: RowBatch {
            starts: Vec::with_capacity(BATCH_ROWS),
            offsets: Vec::with_capacity(BATCH_ROWS),
            bounds: Vec::new(),
            qdata: Vec::new(),
            deferred: Vec::new(),
        },
    }
}

struct CsvReader {
    delim: u8,
    quote: u8,
    max_record: usize,
    win: Window,
    core: Reader,
    out: Vec<u8>,
    /// A quoted record's field contents (see [`quoted`]).
    qout: Vec<u8>,
    ends: Vec<usize>,
    scratch_out: Vec<u8>,
    scratch_ends: Vec<usize>,
    rec: Records,
    batch: RowBatch,
}

impl CsvReader {
    fn run(&mut self, run: &mut Run, input: &mut Decoded) -> Result<(), StreamError> {
        while self.win.end < 3 && self.win.fill(input)? {}
        if self.win.avail().starts_with(b"\xEF\xBB\xBF") {
            self.win.start += 3;
        }
        while !self.rec.stop && run.fatal.is_none() {
            let hay = &self.win.data[self.win.start..self.win.end];
            let mut ascii = false;
            let scanned = if self.rec.batching {
                // Scan straight into the batch; a record that does not join it takes its bounds back.
                let mark = self.batch.bounds.len();
                let scanned = scan(hay, 0, self.delim, self.quote, &mut self.batch.bounds, &mut ascii);
                if let Scan::Record(len) = scanned {
                    let fields = self.batch.bounds.len() - mark;
                    if len > 0
                        && len <= self.max_record
                        && fields == self.rec.width
                        && (ascii || std::str::from_utf8(&hay[..len]).is_ok())
                    {
                        let start = self.win.start;
                        self.batch.starts.push(start);
                        self.batch.offsets.push(self.win.offset(start));
                        self.win.start += len + 1;
                        if self.batch.starts.len() == BATCH_ROWS {
                            self.batch.check(&mut self.rec, run, &self.win.data);
                        }
                        continue;
                    }
                }
                self.rec.bounds.clear();
                self.rec.bounds.extend_from_slice(&self.batch.bounds[mark..]);
                self.batch.bounds.truncate(mark);
                scanned
            } else {
                self.rec.bounds.clear();
                scan(hay, 0, self.delim, self.quote, &mut self.rec.bounds, &mut ascii)
            };
            if let Scan::Quote(at) = scanned {
                let (delim, quote) = (self.delim, self.quote);
                match quoted(hay, at, delim, quote, &mut self.rec.bounds, &mut self.qout) {
                    Quoted::Record(len) => {
                        let offset = self.win.offset(self.win.start);
                        self.win.start += len + 1;
                        if self.rec.batching
                            && len <= self.max_record
                            && self
                                .batch
                                .keep_quoted(&self.rec.bounds, &self.qout, self.rec.width, offset)
                        {
                            if self.batch.starts.len() == BATCH_ROWS {
                                self.batch.check(&mut self.rec, run, &self.win.data);
                            }
                            continue;
                        }
                        self.batch.check(&mut self.rec, run, &self.win.data);
                        if len > self.max_record {
                            self.rec.oversized(run, offset, len);
                        } else {
                            self.rec
                                .record(run, &self.qout, self.qout.len(), offset, Shape::Unquoted);
                        }
                    }
                    Quoted::Incomplete if !self.win.eof && hay.len() <= self.max_record => {
                        self.batch.check(&mut self.rec, run, &self.win.data);
                        self.win.fill(input)?;
                    }
                    Quoted::Incomplete | Quoted::Other => {
                        self.batch.check(&mut self.rec, run, &self.win.data);
                        self.slow(run, input, false)?
                    }
                }
                continue;
            }
            // Any other record is checked after the batch, and the window may move.
            self.batch.check(&mut self.rec, run, &self.win.data);
            if self.rec.stop || run.fatal.is_some() {
                break;
            }
            let hay = &self.win.data[self.win.start..self.win.end];
            match scanned {
                Scan::Quote(_) => unreachable!("handled above"),
                Scan::Record(0) => self.win.start += 1,
                Scan::Record(len) => {
                    let start = self.win.start;
                    self.win.start += len + 1;
                    self.fast(run, start, len, ascii);
                }
                Scan::Incomplete if self.win.eof => {
                    if !hay.is_empty() {
                        let (start, len) = (self.win.start, hay.len());
                        let last = self.rec.bounds.last().map_or(0, |b| b.1 + 1);
                        self.rec.bounds.push((last, len));
                        self.win.start = self.win.end;
                        self.fast(run, start, len, ascii);
                    }
                    break;
                }
                Scan::Incomplete if hay.len() > self.max_record => self.slow(run, input, true)?,
                Scan::Incomplete => {
                    self.win.fill(input)?;
                }
            }
        }
        self.batch.check(&mut self.rec, run, &self.win.data);
        if !self.rec.schema_done && run.fatal.is_none() {
            if self.rec.header {
                run.record_violation(
                    Structural::WellFormed,
                    &Loc::default(),
                    None,
                    None,
                    "no header row: the input is empty".into(),
                );
            }
            let names = self.rec.header.then(Vec::new);
            self.rec.set_schema(run, names, 0);
        }
        Ok(())
    }

    /// A record without quotes at `data[start..start + len]`, its fields already in `rec.bounds`.
    #[inline]
    fn fast(&mut self, run: &mut Run, start: usize, len: usize, ascii: bool) {
        let offset = self.win.offset(start);
        if len > self.max_record {
            self.rec.oversized(run, offset, len);
            return;
        }
        let shape = if ascii { Shape::Ascii } else { Shape::Raw };
        self.rec.record(run, &self.win.data[start..], len, offset, shape);
    }

    /// A record handed to csv-core from its first byte (it contains a quote, or it is already over the
    /// size limit and is only skipped: `discard`).
    fn slow(&mut self, run: &mut Run, input: &mut Decoded, mut discard: bool) -> Result<(), StreamError> {
        let offset = self.win.offset(self.win.start);
        self.core.reset();
        // Mark the reader as used so it does not strip a "BOM" in the middle of the input.
        let _ = self
            .core
            .read_record(b"\n", &mut self.scratch_out, &mut self.scratch_ends);
        let (mut nout, mut nends, mut raw) = (0usize, 0usize, 0usize);
        let mut terminated = true;
        loop {
            if self.win.start == self.win.end {
                if self.win.fill(input)? {
                    continue;
                }
                // End of input inside the record: a newline ends it, unless it is inside quotes.
                if nout == self.out.len() {
                    self.out.resize(self.out.len() * 2, 0);
                }
                if nends == self.ends.len() {
                    self.ends.resize(self.ends.len() * 2, 0);
                }
                let (res, _, o, e) = if discard {
                    self.core
                        .read_record(b"\n", &mut self.scratch_out, &mut self.scratch_ends)
                } else {
                    self.core
                        .read_record(b"\n", &mut self.out[nout..], &mut self.ends[nends..])
                };
                if res != ReadRecordResult::Record {
                    run.set_fatal(
                        "UnterminatedQuote",
                        format!("a quoted field starting in the record at byte {offset} is never closed"),
                        Some(offset),
                        Some(self.rec.row + 1),
                    );
                    return Ok(());
                }
                if !discard {
                    nout += o;
                    nends += e;
                }
                terminated = false;
                break;
            }
            let avail = &self.win.data[self.win.start..self.win.end];
            let (res, nin, o, e) = if discard {
                self.core
                    .read_record(avail, &mut self.scratch_out, &mut self.scratch_ends)
            } else {
                self.core
                    .read_record(avail, &mut self.out[nout..], &mut self.ends[nends..])
            };
            self.win.start += nin;
            raw += nin;
            if !discard {
                nout += o;
                nends += e;
            }
            match res {
                ReadRecordResult::Record | ReadRecordResult::End => break,
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull if !discard => self.out.resize(self.out.len() * 2, 0),
                ReadRecordResult::OutputEndsFull if !discard => self.ends.resize(self.ends.len() * 2, 0),
                ReadRecordResult::OutputFull | ReadRecordResult::OutputEndsFull => {}
            }
            // `raw` may include the record's terminator byte: only past limit + 1 is it surely too long.
            if !discard && raw > self.max_record.saturating_add(1) {
                discard = true;
            }
        }
        let len = if terminated { raw.saturating_sub(1) } else { raw };
        if discard || len > self.max_record {
            self.rec.oversized(run, offset, len);
            return Ok(());
        }
        let bounds = &mut self.rec.bounds;
        bounds.clear();
        let mut prev = 0;
        for &e in &self.ends[..nends] {
            bounds.push((prev, e));
            prev = e;
        }
        self.rec.record(run, &self.out, nout, offset, Shape::Unquoted);
        Ok(())
    }
}

impl RowBatch {
    /// Keep a quoted record (its fields `bounds` over its unquoted contents `out`) when it has `width`
    /// fields, each valid UTF-8. `false`: it is checked on its own.
    fn keep_quoted(&mut self, bounds: &[(usize, usize)], out: &[u8], width: usize, offset: u64) -> bool {
        let ok = bounds.len() == width
            && (out.is_ascii()
                || std::str::from_utf8(out).is_ok_and(|t| {
                    // The contents are concatenated: a character may span two fields.
                    bounds
                        .iter()
                        .all(|&(a, b)| t.is_char_boundary(a) && t.is_char_boundary(b))
                }));
        if ok {
            self.starts.push(self.qdata.len() | QUOTED);
            self.offsets.push(offset);
            self.bounds.extend_from_slice(bounds);
            self.qdata.extend_from_slice(out);
        }
        ok
    }

    /// Check the kept records, a column at a time, then the values the column kernels left to the general
    /// path, record by record in order (so violations are reported as [`Records::record`] would report
    /// them), and empty the batch. `data`: the window's bytes, which the records' starts index.
    fn check(&mut self, rec: &mut Records, run: &mut Run, data: &[u8]) {
        let rows = self.starts.len();
        if rows == 0 {
            return;
        }
        debug_assert!(rec.batching && self.bounds.len() == rows * rec.width);
        #[cfg(any(test, feature = "fuzzing"))]
        BATCH_TEST.set((BATCH_TEST.get().0, BATCH_TEST.get().1 + 1));
        // SAFETY: each kept unquoted record is `data[start..start + len]`, valid UTF-8 (checked when it was
        // kept), with exactly `width` fields whose bounds the scan produced within it; the delimiter is one
        // ASCII byte, so every field is valid UTF-8 too. The window has not moved since: it is checked
        // first. Each kept quoted record is in `qdata`, its fields checked one by one in `keep_quoted`.
        let batch = unsafe { Batch::new(data, &self.qdata, &self.starts, &self.bounds, rec.width) };
        self.deferred.clear();
        for (k, op) in rec.ops.iter().enumerate() {
            if let Some(col) = op.col {
                col(run, op, k as u32, &batch, &mut self.deferred);
            }
        }
        self.deferred.sort_unstable();
        let mut r = 0;
        let mut d = 0;
        while r < rows {
            let next = self.deferred.get(d).map_or(rows, |&x| deferred_at(x).0);
            let clean = (next - r) as u64;
            rec.row += clean;
            run.rows += clean;
            run.clean_rows(clean);
            if next == rows {
                break;
            }
            r = next;
            let loc = rec.next_row(run, self.offsets[r]);
            while let Some((_, k)) = self
                .deferred
                .get(d)
                .map(|&x| deferred_at(x))
                .filter(|&(at, _)| at == r)
            {
                let op = &rec.ops[k];
                // SAFETY: r < rows, and every op's field is below `width` (`set_schema`).
                let (s, pad) = unsafe { batch.field(r, op.fi) };
                run.text(op.ci, s, pad, &loc);
                d += 1;
            }
            if !run.end_row(&loc) {
                rec.stop = true;
                break;
            }
            r += 1;
        }
        self.starts.clear();
        self.offsets.clear();
        self.bounds.clear();
        self.qdata.clear();
    }
}

impl Records {
    /// Learn the columns from the header (`names`) or, without one, from the first record's width.
    fn set_schema(&mut self, run: &mut Run, names: Option<Vec<String>>, width: usize) {
        self.schema_done = true;
        let plan = run.plan();
        self.ops.clear();
        match names {
            Some(names) => {
                self.width = names.len();
                for (ci, col) in plan.columns.iter().enumerate() {
                    match names.iter().position(|n| *n == col.name) {
                        Some(fi) => {
                            self.ops.push(run.field_op(fi, ci));
                            run.set_present(ci, true);
                        }
                        None => run.set_present(ci, false),
                    }
                }
            }
            None => {
                self.width = width;
                let empty = width == 0 && run.rows == 0;
                for ci in 0..plan.columns.len() {
                    let declared = ci < plan.n_declared;
                    if declared && ci < width {
                        self.ops.push(run.field_op(ci, ci));
                    }
                    // An empty headerless input says nothing about its columns.
                    run.set_present(ci, declared && (ci < width || empty));
                }
            }
        }
        self.ops.sort_unstable_by_key(|op| (op.fi, op.ci));
        run.column_count = Some(self.width as u64);
        self.batching = run.batchable() && self.ops.iter().all(|op| op.col.is_some());
        #[cfg(any(test, feature = "fuzzing"))]
        if self.captured.is_some() || BATCH_TEST.get().0 {
            self.batching = false;
        }
    }

    /// The next data record, at stream offset `offset`: counted, and its location.
    fn next_row(&mut self, run: &mut Run, offset: u64) -> Loc {
        self.row += 1;
        run.rows += 1;
        Loc {
            row: self.row,
            byte_offset: Some(offset),
            row_group: None,
        }
    }

    fn oversized(&mut self, run: &mut Run, offset: u64, len: usize) {
        let loc = if !self.schema_done && self.header {
            Loc {
                row: 0,
                byte_offset: Some(offset),
                row_group: None,
            }
        } else {
            self.next_row(run, offset)
        };
        let limit = run.plan().max_record_bytes;
        run.record_violation(
            Structural::Size,
            &loc,
            None,
            None,
            format!("record of {len} bytes is over the limit of {limit} bytes; skipped"),
        );
        if !self.schema_done {
            // An unreadable header: no column can be found.
            self.set_schema(run, self.header.then(Vec::new), 0);
        }
    }

    /// One record whose fields are `self.bounds` over `rec[..len]`; the bytes after it in `rec` are only
    /// read ahead by word-at-a-time parsers.
    #[inline]
    fn record(&mut self, run: &mut Run, rec: &[u8], len: usize, offset: u64, shape: Shape) {
        let bytes = &rec[..len];
        if !self.schema_done {
            if self.header {
                let names = self
                    .bounds
                    .iter()
                    .map(|&(a, b)| String::from_utf8_lossy(&bytes[a..b]).into_owned());
                self.set_schema(run, Some(names.collect()), 0);
                return;
            }
            self.set_schema(run, None, self.bounds.len());
        }
        #[cfg(any(test, feature = "fuzzing"))]
        if let Some(c) = &mut self.captured {
            c.push(
                self.bounds
                    .iter()
                    .map(|&(a, b)| String::from_utf8_lossy(&bytes[a..b]).into_owned())
                    .collect(),
            );
        }
        let loc = self.next_row(run, offset);
        if self.bounds.len() != self.width {
            run.record_violation(
                Structural::WellFormed,
                &loc,
                None,
                Some(shown_bytes(bytes)),
                format!("{} fields, expected {}", self.bounds.len(), self.width),
            );
            return;
        }
        let text = match shape {
            // SAFETY: the scan saw no byte with the high bit set: all ASCII, so valid UTF-8.
            Shape::Ascii => Ok(unsafe { std::str::from_utf8_unchecked(bytes) }),
            Shape::Raw | Shape::Unquoted => std::str::from_utf8(bytes),
        };
        let text = match text {
            Ok(t) => t,
            Err(e) => {
                let at = e.valid_up_to();
                let field = self
                    .bounds
                    .iter()
                    .position(|&(a, b)| at >= a && at <= b)
                    .unwrap_or(0);
                let col = self.ops.iter().find(|op| op.fi == field).map(|op| op.ci);
                let (a, b) = self.bounds.get(field).copied().unwrap_or((0, bytes.len()));
                run.record_violation(
                    Structural::Utf8,
                    &loc,
                    col,
                    Some(shown_bytes(&bytes[a..b])),
                    format!(
                        "invalid UTF-8 in field {} at byte {} of the record",
                        field + 1,
                        at
                    ),
                );
                return;
            }
        };
        run.set_loc(loc);
        if shape == Shape::Unquoted {
            // Fields of a csv-core record: their bounds need not be character boundaries of the
            // concatenated output, so slice with checks.
            for op in &self.ops {
                let (a, b) = self.bounds[op.fi];
                (op.kernel)(run, op, text.get(a..b).unwrap_or(""), &rec[a..]);
            }
        } else {
            // The hottest loop: no bounds checks, and the bounds in a local slice, so that the values it
            // keeps across the kernel calls fit in registers.
            let bounds = &self.bounds[..];
            for op in &self.ops {
                debug_assert!(op.fi < bounds.len());
                // SAFETY: every op's field index is below `width` (`set_schema`), and a record whose field
                // count is not `width` was turned away above.
                let (a, b) = unsafe { *bounds.get_unchecked(op.fi) };
                debug_assert!(
                    a <= b && b <= text.len() && text.is_char_boundary(a) && text.is_char_boundary(b)
                );
                // SAFETY: in a raw record, `a` is 0 or follows a delimiter and `b` is a delimiter or the end;
                // the delimiter is one ASCII byte, so both are character boundaries of valid UTF-8 `text`,
                // and the scan only produces bounds within the record, so `a <= b <= len <= rec.len()`.
                let (s, pad) = unsafe { (text.get_unchecked(a..b), rec.get_unchecked(a..)) };
                (op.kernel)(run, op, s, pad);
            }
        }
        if !run.end_row(&loc) {
            self.stop = true;
        }
    }
}

/// How [`quoted`] ended.
#[derive(Debug, PartialEq)]
enum Quoted {
    /// The record ends at the terminator at this index; its fields are in `bounds` over `out`.
    Record(usize),
    /// The input ends inside the record.
    Incomplete,
    /// A form left to csv-core: a quote inside an unquoted field, or text after a closing quote.
    Other,
}

/// A record containing the quote character, its first quote at `hay[at]` and the fields before it already
/// in `bounds` (as [`scan`] left them): its field contents are written to `out`, as csv-core would
/// unquote them, and `bounds` is rewritten over `out`. Handles the RFC 4180 forms (a quoted field starts
/// at a field start, `""` inside is one quote, the closing quote is followed by the delimiter or a
/// terminator); anything else is [`Quoted::Other`], for csv-core.
fn quoted(
    hay: &[u8],
    at: usize,
    delim: u8,
    quote: u8,
    bounds: &mut Vec<(usize, usize)>,
    out: &mut Vec<u8>,
) -> Quoted {
    let field_start = |bounds: &[(usize, usize)], from: usize, n0: usize| {
        if bounds.len() > n0 {
            bounds[bounds.len() - 1].1 + 1
        } else {
            from
        }
    };
    if at != field_start(bounds, 0, 0) {
        return Quoted::Other;
    }
    // The fields before the quote are copied as they are: their bounds stay valid over `out`.
    out.clear();
    out.extend_from_slice(&hay[..at]);
    let mut pos = at;
    loop {
        // `pos` is the start of a field, at a quote.
        let a = out.len();
        let mut j = pos + 1;
        loop {
            let Some(r) = memchr::memchr(quote, hay.get(j..).unwrap_or_default()) else {
                return Quoted::Incomplete;
            };
            let q = j + r;
            out.extend_from_slice(&hay[j..q]);
            match hay.get(q + 1) {
                None => return Quoted::Incomplete,
                Some(&c) if c == quote => {
                    out.push(quote);
                    j = q + 2;
                }
                Some(&c) if c == delim => {
                    bounds.push((a, out.len()));
                    out.push(delim);
                    pos = q + 2;
                    break;
                }
                Some(b'\n' | b'\r') => {
                    bounds.push((a, out.len()));
                    return Quoted::Record(q + 1);
                }
                Some(_) => return Quoted::Other,
            }
        }
        // Unquoted fields up to the next quote or the end of the record, copied as they are.
        let n0 = bounds.len();
        let mut ascii = false;
        let res = scan(hay, pos, delim, quote, bounds, &mut ascii);
        let end = match res {
            Scan::Record(k) => k,
            Scan::Quote(k) if k == field_start(bounds, pos, n0) => k,
            Scan::Quote(_) => return Quoted::Other,
            Scan::Incomplete => return Quoted::Incomplete,
        };
        // `out` is shorter than `hay[..pos]`: every quoted field dropped at least its two quotes.
        let shift = pos - out.len();
        out.extend_from_slice(&hay[pos..end]);
        for b in &mut bounds[n0..] {
            *b = (b.0 - shift, b.1 - shift);
        }
        if let Scan::Record(k) = res {
            return Quoted::Record(k);
        }
        pos = end;
    }
}

/// Where the scan of a record from its first byte stopped.
#[derive(Debug, PartialEq)]
enum Scan {
    /// A terminator (CR or LF) at this index ends a quote-free record; its fields are in `bounds`.
    Record(usize),
    /// The quote character at this index, before any terminator (the fields before it are in `bounds`).
    Quote(usize),
    /// Neither a terminator nor a quote before the end of the input; `bounds` has the fields so far.
    Incomplete,
}

const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const ONES: u64 = 0x0101_0101_0101_0101;

/// High bit set in exactly the bytes of `x` that are zero (no carries cross bytes).
#[inline]
fn zero_bytes(x: u64) -> u64 {
    !(((x & LO7) + LO7) | x | LO7)
}

/// Push the fields ended by the delimiters marked in `mask` (bit j = byte `base + j`).
#[inline]
fn push_fields(
    mut mask: u64,
    base: usize,
    start: &mut usize,
    bounds: &mut Vec<(usize, usize)>,
    bits_per_byte: u32,
) {
    while mask != 0 {
        let i = base + (mask.trailing_zeros() / bits_per_byte) as usize;
        bounds.push((*start, i));
        *start = i + 1;
        mask &= mask - 1;
    }
}

/// Find the end of the record starting at `hay[0]` and split it at `delim`, in one pass: 32 bytes at a
/// time with AVX2 (when the CPU has it), then 16 with SSE2 on x86_64, 8 bytes at a time (SWAR) elsewhere
/// and for the tail. The scan starts at
/// `from`, a field start; fields are appended to `bounds`.
#[inline]
fn scan(
    hay: &[u8],
    from: usize,
    delim: u8,
    quote: u8,
    bounds: &mut Vec<(usize, usize)>,
    ascii: &mut bool,
) -> Scan {
    let mut start = from;
    let mut i = from;
    // OR of the bytes scanned (a superset of the record's): no high bit set = the record is ASCII.
    let mut seen: u64 = 0;
    let end_at = |pos: usize, start: usize, bounds: &mut Vec<(usize, usize)>| {
        if hay[pos] == quote {
            Scan::Quote(pos)
        } else {
            bounds.push((start, pos));
            Scan::Record(pos)
        }
    };
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        let mut high = false;
        // SAFETY: the CPU supports AVX2 (checked just above).
        if let Some(stop) = unsafe { scan32(hay, &mut i, &mut start, delim, quote, bounds, &mut high) } {
            *ascii = !high;
            return end_at(stop, start, bounds);
        }
        if high {
            seen = 0x80;
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
            _mm_setzero_si128,
        };
        // SAFETY: SSE2 is part of the x86_64 baseline, so these intrinsics are always available; every load
        // reads the 16 bytes hay[i..i + 16], which the loop condition keeps inside `hay`.
        unsafe {
            let vd = _mm_set1_epi8(delim as i8);
            let vq = _mm_set1_epi8(quote as i8);
            let vn = _mm_set1_epi8(b'\n' as i8);
            let vr = _mm_set1_epi8(b'\r' as i8);
            let mut acc = _mm_setzero_si128();
            while i + 16 <= hay.len() {
                let x = _mm_loadu_si128(hay.as_ptr().add(i).cast::<__m128i>());
                acc = _mm_or_si128(acc, x);
                let md = _mm_movemask_epi8(_mm_cmpeq_epi8(x, vd)) as u32 as u64;
                let stop = _mm_or_si128(
                    _mm_or_si128(_mm_cmpeq_epi8(x, vn), _mm_cmpeq_epi8(x, vr)),
                    _mm_cmpeq_epi8(x, vq),
                );
                let ms = _mm_movemask_epi8(stop) as u32 as u64;
                if ms == 0 {
                    push_fields(md, i, &mut start, bounds, 1);
                    i += 16;
                    continue;
                }
                let k = ms.trailing_zeros() as usize;
                push_fields(md & ((1u64 << k) - 1), i, &mut start, bounds, 1);
                *ascii = _mm_movemask_epi8(acc) == 0 && seen & 0x80 == 0;
                return end_at(i + k, start, bounds);
            }
            if _mm_movemask_epi8(acc) != 0 {
                seen = 0x80;
            }
        }
    }
    let (pd, pq, pn, pr) = (
        ONES * u64::from(delim),
        ONES * u64::from(quote),
        ONES * u64::from(b'\n'),
        ONES * u64::from(b'\r'),
    );
    while let Some(word) = hay.get(i..i + 8) {
        let w = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        seen |= w;
        let md = zero_bytes(w ^ pd);
        let ms = zero_bytes(w ^ pn) | zero_bytes(w ^ pr) | zero_bytes(w ^ pq);
        if ms == 0 {
            push_fields(md, i, &mut start, bounds, 8);
            i += 8;
            continue;
        }
        let k = (ms.trailing_zeros() / 8) as usize;
        push_fields(md & ((1u64 << (k * 8)) - 1), i, &mut start, bounds, 8);
        *ascii = seen & 0x8080_8080_8080_8080 == 0;
        return end_at(i + k, start, bounds);
    }
    while i < hay.len() {
        let b = hay[i];
        seen |= u64::from(b);
        if b == delim {
            bounds.push((start, i));
            start = i + 1;
        } else if b == b'\n' || b == b'\r' || b == quote {
            *ascii = seen & 0x8080_8080_8080_8080 == 0;
            return end_at(i, start, bounds);
        }
        i += 1;
    }
    *ascii = seen & 0x8080_8080_8080_8080 == 0;
    Scan::Incomplete
}

/// [`scan`]'s first part with AVX2, 32 bytes at a time from `hay[*i]`: `Some(index)` of the first
/// terminator or quote (the fields before it pushed), or `None` with `*i` at the first of the fewer than
/// 32 bytes left. `high`: some scanned byte had its high bit set.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn scan32(
    hay: &[u8],
    i: &mut usize,
    start: &mut usize,
    delim: u8,
    quote: u8,
    bounds: &mut Vec<(usize, usize)>,
    high: &mut bool,
) -> Option<usize> {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256,
        _mm256_set1_epi8, _mm256_setzero_si256,
    };
    // SAFETY: the caller guarantees AVX2; every load reads hay[*i..*i + 32], which the loop condition
    // keeps inside `hay`.
    unsafe {
        let vd = _mm256_set1_epi8(delim as i8);
        let vq = _mm256_set1_epi8(quote as i8);
        let vn = _mm256_set1_epi8(b'\n' as i8);
        let vr = _mm256_set1_epi8(b'\r' as i8);
        let mut acc = _mm256_setzero_si256();
        while *i + 32 <= hay.len() {
            let x = _mm256_loadu_si256(hay.as_ptr().add(*i).cast::<__m256i>());
            acc = _mm256_or_si256(acc, x);
            let md = _mm256_movemask_epi8(_mm256_cmpeq_epi8(x, vd)) as u32 as u64;
            let stop = _mm256_or_si256(
                _mm256_or_si256(_mm256_cmpeq_epi8(x, vn), _mm256_cmpeq_epi8(x, vr)),
                _mm256_cmpeq_epi8(x, vq),
            );
            let ms = _mm256_movemask_epi8(stop) as u32 as u64;
            if ms == 0 {
                push_fields(md, *i, start, bounds, 1);
                *i += 32;
                continue;
            }
            let k = ms.trailing_zeros() as usize;
            push_fields(md & ((1u64 << k) - 1), *i, start, bounds, 1);
            *high = _mm256_movemask_epi8(acc) != 0;
            return Some(*i + k);
        }
        *high = _mm256_movemask_epi8(acc) != 0;
        None
    }
}

/// The record splitter against csv-core, for the unit tests and the `csv` fuzz target.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) mod differential {
    use bytes::Bytes;
    use csv_core::{ReadRecordResult, ReaderBuilder};

    use super::{reader, CsvOptions, Run};
    use crate::contract::{Compression, Contract};
    use crate::validate::compile::compile;
    use crate::validate::decode::{Decoded, Prefetch, SourceState};

    /// Run `f` over `data` as the engine streams an uncompressed object.
    fn with_stream<R>(data: &[u8], f: impl FnOnce(&mut Decoded) -> R) -> R {
        let src = Bytes::copy_from_slice(data);
        let state = SourceState::default();
        std::thread::scope(|scope| {
            let p = Prefetch::start(scope, &src, &state, &|_| {});
            let Ok(mut d) = Decoded::new(p, Compression::None, u64::MAX, u64::MAX, &state) else {
                panic!("a stream from memory opens");
            };
            f(&mut d)
        })
    }

    /// Records as the `csv` crate would see them: csv-core over the whole input at once.
    pub(crate) fn reference(data: &[u8], delim: u8) -> Vec<Vec<String>> {
        let mut rdr = ReaderBuilder::new().delimiter(delim).build();
        let mut out = vec![0u8; data.len() + 16];
        let mut ends = vec![0usize; data.len() + 16];
        let mut input = data;
        let mut records = Vec::new();
        let (mut nout, mut nends) = (0, 0);
        loop {
            let (res, nin, o, e) = rdr.read_record(input, &mut out[nout..], &mut ends[nends..]);
            input = &input[nin..];
            nout += o;
            nends += e;
            match res {
                ReadRecordResult::Record => {
                    let mut prev = 0;
                    let nend = std::mem::take(&mut nends);
                    nout = 0;
                    records.push(
                        ends[..nend]
                            .iter()
                            .map(|&e| {
                                let f = String::from_utf8_lossy(&out[prev..e]).into_owned();
                                prev = e;
                                f
                            })
                            .collect(),
                    );
                }
                ReadRecordResult::End => return records,
                ReadRecordResult::InputEmpty => {}
                other => panic!("{other:?}"),
            }
        }
    }

    /// Our records for `data` (every data record's fields, as parsed), or `None` when the reader stopped
    /// on a fatal problem (a record over the default size limit).
    pub(crate) fn ours(data: &[u8], delim: u8) -> Option<Vec<Vec<String>>> {
        let plan = compile(&Contract::default(), "differential").expect("the default contract compiles");
        let mut run = Run::new(&plan);
        let opts = CsvOptions {
            delimiter: delim,
            quote: b'"',
            header: false,
        };
        let mut r = reader(&run, &opts);
        r.rec.captured = Some(Vec::new());
        with_stream(data, |input| r.run(&mut run, input)).expect("memory does not fail");
        if run.fatal.is_some() {
            return None;
        }
        r.rec.captured.take()
    }
}

#[cfg(test)]
mod tests {
    use super::differential::{ours, reference};
    use super::*;

    #[test]
    fn same_records_as_csv_core() {
        let cases: &[&[u8]] = &[
            b"a,b,c\n1,2,3\n",
            b"a,b\r\n1,2\r\n",
            b"a,b\r1,2\r",
            b"\n\n\r\na,b\n\n1,2",
            b"\xEF\xBB\xBFa,b\n1,2\n",
            b"\"a,b\",c\n\"x\"\"y\",z\n",
            b"\"multi\nline\",2\r\nnext,row\n",
            b"ab\"c,d\n\"q\"tail,e\n",
            b"\"\",\"\"\n,\n",
            b"x,\"a\r\nb\"\r\n\r\ny,z",
            b"only\n",
            b"",
            b"\"\"",
            b" , \n",
            b"\"a\",\"b\"\nx,\"\",y\r\n\"a\"\"\",b\n\"x\"\r\n",
            b"1,\"a\nb\",\"c\"\"d\",e\n2,\"\"\"\",\"\"\n3,\"\",\n",
            b"\"a\"b,c\n\"a\" ,c\nx\"y\",z\n",
            b"a,\"b\"",
            b"a,\"b\",",
            b"\"caf\xc3\xa9, bar\",\"\xe2\x82\xac\"\n",
        ];
        for &c in cases {
            assert_eq!(
                ours(c, b',').unwrap(),
                reference(c, b','),
                "{:?}",
                String::from_utf8_lossy(c)
            );
        }
        assert_eq!(
            ours(b"a;b\n\"x;y\";z\n", b';').unwrap(),
            reference(b"a;b\n\"x;y\";z\n", b';')
        );
    }

    #[test]
    fn same_records_across_read_boundaries() {
        // Several MiB of mixed records so records straddle window refills and chunk boundaries.
        let mut data = Vec::new();
        let mut i = 0u64;
        while data.len() < (5 << 20) {
            let line = match i % 7 {
                0 => format!("{i},plain,{}\n", i * 3),
                1 => format!("{i},\"quoted, with comma\",x\r\n"),
                2 => format!("{i},\"esc \"\"q\"\" and\nnewline\",y\n"),
                3 => "\n".to_string(),
                4 => format!("{i},{},z\r", "w".repeat((i % 300) as usize)),
                5 => format!("{i},,\n"),
                _ => format!("\"{i}\",\"\",\"end\"\n"),
            };
            data.extend_from_slice(line.as_bytes());
            i += 1;
        }
        let want = reference(&data, b',');
        let got = ours(&data, b',').unwrap();
        assert_eq!(got.len(), want.len());
        assert!(got == want);
    }

    #[test]
    fn scan_matches_naive() {
        let mut cases: Vec<Vec<u8>> = [
            &b""[..],
            b",",
            b"a",
            b"a,b",
            b",,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,",
            b"abcdefgh,ijklmnop,qrstuvwx",
            b"1234567,",
            b"\x80,\xff,\x2c\x2c",
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,b",
        ]
        .iter()
        .map(|c| c.to_vec())
        .collect();
        // Every position of a stop byte (and of a non-ASCII byte) relative to the 16- and 8-byte blocks.
        for len in 0..80usize {
            for hi in [0, len / 2, len.saturating_sub(1)] {
                let mut c: Vec<u8> = (0..len).map(|i| if i % 3 == 1 { b',' } else { b'x' }).collect();
                if len > 0 {
                    c[hi] = 0xc3;
                }
                c.extend_from_slice(b"\nnext");
                cases.push(c);
            }
            for stop in [b'\n', b'\r', b'"'] {
                let mut c: Vec<u8> = (0..len).map(|i| if i % 3 == 1 { b',' } else { b'x' }).collect();
                c.push(stop);
                c.extend_from_slice(b"y,z\n");
                cases.push(c);
            }
        }
        for c in &cases {
            let mut got = Vec::new();
            let mut ascii = false;
            let res = scan(c, 0, b',', b'"', &mut got, &mut ascii);
            if let Scan::Record(n) = res {
                // Claiming ASCII must be right; missing it only costs a UTF-8 check.
                assert!(!ascii || c[..n].is_ascii(), "{:?}", String::from_utf8_lossy(c));
                assert!(ascii || !c.is_ascii(), "{:?}", String::from_utf8_lossy(c));
            }
            let mut want = Vec::new();
            let mut s = 0;
            let mut want_res = Scan::Incomplete;
            for (i, &b) in c.iter().enumerate() {
                if b == b',' {
                    want.push((s, i));
                    s = i + 1;
                } else if b == b'"' {
                    want_res = Scan::Quote(i);
                    break;
                } else if b == b'\n' || b == b'\r' {
                    want.push((s, i));
                    want_res = Scan::Record(i);
                    break;
                }
            }
            assert_eq!(res, want_res, "{:?}", String::from_utf8_lossy(c));
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(c));
        }
    }
}
