//! Rows of a dataset, for the Feature Store writer: the validation engine's sources and decoders
//! ([`Prefetch`], [`Decoded`], [`Window`]: ranged GETs ahead of the reader, gzip / zstd with the
//! expanded-size guard; Parquet through the engine's block fetcher), with the projected columns of each
//! row as text.
//!
//! A read can start where an earlier one stopped ([`Resume`]): uncompressed CSV / JSON Lines continue at
//! the byte offset of the next row (the CSV header is read from the start first); compressed text is
//! decoded from the start and the rows before `next_row` are skipped; Parquet skips whole row groups
//! from its footer, then rows.

use bytes::Bytes;
use csv_core::{ReadRecordResult, ReaderBuilder};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use parquet::schema::types::Type;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::contract::{Compression, FormatSpec};
use crate::validate::decode::{Decoded, Prefetch, SourceState, StreamError, Window};
use crate::validate::parquet as pq;
use crate::validate::values::{format_date, format_timestamp};
use crate::validate::RandomAccess;
use crate::{Error, Result};

/// Where to start reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resume {
    /// Index (0-based) of the first data row to read; the rows before it are skipped.
    pub next_row: u64,
    /// Decoded byte offset where that row starts (CSV / JSON Lines), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byte_offset: Option<u64>,
}

/// One data row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// 0-based data row index (header excluded).
    pub index: u64,
    /// Decoded byte offset just after the row (where the next row starts), for text formats.
    pub end_offset: Option<u64>,
    /// The projected columns' values (`None`: null or absent), or why the row cannot be read.
    pub values: std::result::Result<Vec<Option<String>>, String>,
}

/// What to read.
#[derive(Debug, Clone)]
pub struct RowSpec {
    pub format: FormatSpec,
    pub compression: Compression,
    /// Columns to project, by name.
    pub columns: Vec<String>,
    /// Column names of a headerless CSV, in file order (the contract's columns).
    pub csv_names: Vec<String>,
    pub max_record_bytes: u64,
    pub max_expanded_bytes: u64,
    /// The contract's `limits`.
    pub limits: crate::contract::Limits,
    /// The most Parquet page bytes held at once, whatever `limits` allows.
    pub max_parquet_page_bytes: u64,
}

/// Rows are sent in batches to amortise channel hand-offs.
pub const BATCH: usize = 256;

/// Read the rows of `source` from `resume` on, handing them to `send` in batches; stops early (Ok) when
/// `send` returns false. Runs on a blocking thread (the S3 source blocks on its runtime).
pub fn read_rows(
    source: &dyn RandomAccess,
    spec: &RowSpec,
    resume: Resume,
    send: &mut dyn FnMut(Vec<Row>) -> bool,
) -> Result<()> {
    let mut out = Sender {
        send,
        batch: Vec::with_capacity(BATCH),
        open: true,
    };
    match &spec.format {
        FormatSpec::Parquet => parquet_rows(source, spec, resume, &mut out)?,
        FormatSpec::Csv { .. } | FormatSpec::Jsonl => text_rows(source, spec, resume, &mut out)?,
    }
    out.flush();
    Ok(())
}

struct Sender<'a> {
    send: &'a mut dyn FnMut(Vec<Row>) -> bool,
    batch: Vec<Row>,
    open: bool,
}

impl Sender<'_> {
    /// Queue a row; `false` once the receiver is gone.
    fn push(&mut self, row: Row) -> bool {
        self.batch.push(row);
        if self.batch.len() >= BATCH {
            self.flush();
        }
        self.open
    }

    fn flush(&mut self) {
        if self.open && !self.batch.is_empty() {
            let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
            self.open = (self.send)(batch);
        }
    }
}

/// A source seen from `start` on (to resume uncompressed text at a row's offset).
struct From<'a> {
    inner: &'a dyn RandomAccess,
    start: u64,
}

impl RandomAccess for From<'_> {
    fn len(&self) -> u64 {
        self.inner.len().saturating_sub(self.start)
    }

    fn read_at(&self, offset: u64, len: usize) -> std::io::Result<Bytes> {
        self.inner.read_at(self.start + offset, len)
    }
}

fn stream_error(e: StreamError) -> Error {
    match e {
        StreamError::Source(e) => Error::from_source_io(e),
        StreamError::Decode(m) => {
            Error::DataUnreadable(format!("compressed data is corrupt or truncated: {m}"))
        }
        StreamError::Limit(l) => Error::DataUnreadable(format!(
            "decompressed data exceeds limits.max_expanded_bytes = {l} bytes"
        )),
        StreamError::Ratio(r) => Error::DataUnreadable(format!(
            "compressed data expands more than limits.max_compression_ratio = {r} times"
        )),
    }
}

/// Run `f` over the decoded stream of `source` (from byte `start` of the raw source).
fn with_stream<T>(
    source: &dyn RandomAccess,
    start: u64,
    spec: &RowSpec,
    f: impl FnOnce(&mut Decoded) -> std::result::Result<T, StreamError>,
) -> Result<T> {
    let view = From { inner: source, start };
    let state = SourceState::default();
    let progress = |_: u64| {};
    std::thread::scope(|scope| {
        let prefetch = Prefetch::start(scope, &view, &state, &progress);
        let mut input = Decoded::new(
            prefetch,
            spec.compression,
            spec.max_expanded_bytes,
            spec.limits.max_compression_ratio,
            &state,
        )
        .map_err(stream_error)?;
        f(&mut input).map_err(stream_error)
    })
}

fn text_rows(source: &dyn RandomAccess, spec: &RowSpec, resume: Resume, out: &mut Sender) -> Result<()> {
    let seek = match resume.byte_offset {
        Some(offset) if spec.compression == Compression::None && resume.next_row > 0 => Some(offset),
        _ => None,
    };
    match &spec.format {
        FormatSpec::Csv {
            delimiter,
            quote,
            header,
        } => {
            let (delimiter, quote) = crate::validate::compile::csv_bytes(delimiter, quote)
                .map_err(|m| Error::contract_invalid("contract", m))?;
            let csv = Csv {
                delimiter,
                quote,
                max_record: spec.max_record_bytes,
            };
            // The header names the columns; when resuming at an offset it is read from the start first.
            let mut names: Option<Vec<String>> = if *header {
                None
            } else {
                Some(spec.csv_names.clone())
            };
            if *header && seek.is_some() {
                let mut first = None;
                with_stream(source, 0, spec, |input| {
                    csv.records(input, 0, &mut |fields, _| {
                        first = Some(
                            fields
                                .iter()
                                .map(|f| String::from_utf8_lossy(f).into_owned())
                                .collect(),
                        );
                        false
                    })
                })?;
                names = first;
            }
            let mut projection: Option<Vec<Option<usize>>> =
                names.as_ref().map(|n| project(n, &spec.columns));
            let mut index = if seek.is_some() { resume.next_row } else { 0 };
            let start = seek.unwrap_or(0);
            with_stream(source, start, spec, |input| {
                csv.records(input, start, &mut |fields, end| {
                    let Some(projection) = &projection else {
                        let header: Vec<String> = fields
                            .iter()
                            .map(|f| String::from_utf8_lossy(f).into_owned())
                            .collect();
                        projection = Some(project(&header, &spec.columns));
                        return true;
                    };
                    let i = index;
                    index += 1;
                    if i < resume.next_row {
                        return true;
                    }
                    let values = projection
                        .iter()
                        .map(|p| match p {
                            Some(fi) => match fields.get(*fi) {
                                Some([]) => Ok(None),
                                Some(f) => std::str::from_utf8(f)
                                    .map(|s| Some(s.to_string()))
                                    .map_err(|_| format!("field {} is not UTF-8", fi + 1)),
                                None => Ok(None),
                            },
                            None => Ok(None),
                        })
                        .collect::<std::result::Result<Vec<_>, String>>();
                    out.push(Row {
                        index: i,
                        end_offset: Some(end),
                        values,
                    })
                })
            })
        }
        FormatSpec::Jsonl => {
            let mut index = if seek.is_some() { resume.next_row } else { 0 };
            let start = seek.unwrap_or(0);
            with_stream(source, start, spec, |input| {
                lines(input, start, spec.max_record_bytes, &mut |line, end| {
                    let i = index;
                    index += 1;
                    if i < resume.next_row {
                        return true;
                    }
                    out.push(Row {
                        index: i,
                        end_offset: Some(end),
                        values: json_values(line, &spec.columns),
                    })
                })
            })
        }
        FormatSpec::Parquet => unreachable!("text formats only"),
    }
}

/// Field index of each projected column in `names` (None: the data has no such column).
fn project(names: &[String], columns: &[String]) -> Vec<Option<usize>> {
    columns
        .iter()
        .map(|c| names.iter().position(|n| n.trim() == c))
        .collect()
}

struct Csv {
    delimiter: u8,
    quote: u8,
    max_record: u64,
}

impl Csv {
    /// Call `visit(fields, end_offset)` for every record (header included) until it returns false.
    /// `base` is the stream offset of the input's first byte. Blank lines are skipped (csv-core's rule).
    fn records(
        &self,
        input: &mut Decoded,
        base: u64,
        visit: &mut dyn FnMut(&[&[u8]], u64) -> bool,
    ) -> std::result::Result<(), StreamError> {
        let mut reader = ReaderBuilder::new()
            .delimiter(self.delimiter)
            .quote(self.quote)
            .build();
        let mut win = Window::new(self.max_record);
        let mut out = vec![0u8; 4096];
        let mut ends = vec![0usize; 64];
        let (mut outlen, mut nends) = (0usize, 0usize);
        if base == 0 {
            while win.end < 3 && win.fill(input)? {}
            if win.avail().starts_with(b"\xEF\xBB\xBF") {
                win.start += 3;
            }
        }
        loop {
            if win.start == win.end && !win.eof {
                win.fill(input)?;
            }
            let (res, nin, nout, nend) = reader.read_record(
                &win.data[win.start..win.end],
                &mut out[outlen..],
                &mut ends[nends..],
            );
            win.start += nin;
            outlen += nout;
            nends += nend;
            match res {
                ReadRecordResult::InputEmpty => {
                    if !win.eof && !win.fill(input)? {
                        // End of data: the next call with empty input finishes the last record.
                    }
                }
                ReadRecordResult::OutputFull => {
                    if out.len() as u64 > self.max_record.saturating_mul(2) {
                        return Err(StreamError::Decode(format!(
                            "a record at offset {} is longer than the {}-byte record limit",
                            base + win.offset(win.start),
                            self.max_record
                        )));
                    }
                    out.resize(out.len() * 2, 0);
                }
                ReadRecordResult::OutputEndsFull => ends.resize(ends.len() * 2, 0),
                ReadRecordResult::Record => {
                    let mut fields: Vec<&[u8]> = Vec::with_capacity(nends);
                    let mut a = 0;
                    for &e in &ends[..nends] {
                        fields.push(&out[a..e]);
                        a = e;
                    }
                    let end = base + win.offset(win.start);
                    let more = visit(&fields, end);
                    outlen = 0;
                    nends = 0;
                    if !more {
                        return Ok(());
                    }
                }
                ReadRecordResult::End => return Ok(()),
            }
        }
    }
}

/// Call `visit(line, end_offset)` for every non-blank line (without its terminator).
fn lines(
    input: &mut Decoded,
    base: u64,
    max_record: u64,
    visit: &mut dyn FnMut(&[u8], u64) -> bool,
) -> std::result::Result<(), StreamError> {
    let mut win = Window::new(max_record);
    loop {
        let avail = win.avail();
        match memchr::memchr(b'\n', avail) {
            Some(i) => {
                let line = trim_line(&avail[..i]);
                let end = base + win.offset(win.start + i + 1);
                let keep = line.is_empty() || visit(line, end);
                win.start += i + 1;
                if !keep {
                    return Ok(());
                }
            }
            None => {
                if (avail.len() as u64) > max_record {
                    return Err(StreamError::Decode(format!(
                        "a line at offset {} is longer than the {max_record}-byte record limit",
                        base + win.offset(win.start)
                    )));
                }
                if !win.fill(input)? {
                    let line = trim_line(win.avail());
                    if !line.is_empty() {
                        let end = base + win.offset(win.end);
                        visit(line, end);
                    }
                    return Ok(());
                }
            }
        }
    }
}

fn trim_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        &[]
    } else {
        line
    }
}

fn json_values(line: &[u8], columns: &[String]) -> std::result::Result<Vec<Option<String>>, String> {
    let object: serde_json::Map<String, Value> =
        serde_json::from_slice(line).map_err(|e| format!("not a JSON object: {e}"))?;
    Ok(columns
        .iter()
        .map(|c| match object.get(c) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Bool(b)) => Some(b.to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(other) => Some(other.to_string()),
        })
        .collect())
}

fn parquet_rows(source: &dyn RandomAccess, spec: &RowSpec, resume: Resume, out: &mut Sender) -> Result<()> {
    let invalid =
        |e: parquet::errors::ParquetError| Error::DataUnreadable(format!("not a readable Parquet file: {e}"));
    let state = pq::FetchState::default();
    std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = pq::channel();
        let st = &state;
        scope.spawn(move || pq::serve(source, rx, st));
        let result = (|| -> Result<()> {
            let fetcher = pq::Fetcher::new(
                tx,
                source.len(),
                pq::PageLimits::of(&spec.limits, spec.max_parquet_page_bytes),
            );
            if let Some((kind, message)) = pq::check_footer(&fetcher).map_err(Error::from_source_io)? {
                return Err(Error::DataUnreadable(format!("{kind}: {message}")));
            }
            let reader = SerializedFileReader::new(fetcher.clone()).map_err(invalid)?;
            // The pages held at once are counted per column, as validation counts them.
            fetcher
                .set_chunks(reader.metadata())
                .map_err(|m| invalid(parquet::errors::ParquetError::General(m)))?;
            let fields = reader.metadata().file_metadata().schema().get_fields().to_vec();
            // Projected fields in file order, and where each lands in the row's values.
            let mut proj_fields = Vec::new();
            let mut slots = Vec::new();
            for f in &fields {
                if let Some(slot) = spec.columns.iter().position(|c| c == f.name()) {
                    if !slots.contains(&slot) {
                        proj_fields.push(f.clone());
                        slots.push(slot);
                    }
                }
            }
            let projection = Type::group_type_builder("schema")
                .with_fields(proj_fields)
                .build()
                .map_err(invalid)?;
            let mut first = 0u64;
            for rg in 0..reader.num_row_groups() {
                let group = reader.get_row_group(rg).map_err(invalid)?;
                let n = u64::try_from(group.metadata().num_rows()).unwrap_or(0);
                if first + n <= resume.next_row {
                    first += n;
                    continue;
                }
                let mut index = first;
                first += n;
                if slots.is_empty() {
                    for _ in 0..n {
                        if index >= resume.next_row
                            && !out.push(Row {
                                index,
                                end_offset: None,
                                values: Ok(vec![None; spec.columns.len()]),
                            })
                        {
                            return Ok(());
                        }
                        index += 1;
                    }
                    continue;
                }
                for row in group.get_row_iter(Some(projection.clone())).map_err(invalid)? {
                    let row = row.map_err(invalid)?;
                    let i = index;
                    index += 1;
                    if i < resume.next_row {
                        continue;
                    }
                    let mut values = vec![None; spec.columns.len()];
                    let mut bad = None;
                    for ((name, field), &slot) in row.get_column_iter().zip(&slots) {
                        match field_text(field) {
                            Ok(v) => values[slot] = v,
                            Err(m) => bad = Some(format!("column {name:?}: {m}")),
                        }
                    }
                    let values = match bad {
                        Some(m) => Err(m),
                        None => Ok(values),
                    };
                    if !out.push(Row {
                        index: i,
                        end_offset: None,
                        values,
                    }) {
                        return Ok(());
                    }
                }
            }
            Ok(())
        })();
        match (result, state.error.lock().ok().and_then(|mut e| e.take())) {
            (Err(_), Some(source_error)) => Err(Error::from_source_io(source_error)),
            (r, _) => r,
        }
    })
}

fn field_text(f: &Field) -> std::result::Result<Option<String>, String> {
    Ok(Some(match f {
        Field::Null => return Ok(None),
        Field::Bool(b) => b.to_string(),
        Field::Byte(i) => i.to_string(),
        Field::Short(i) => i.to_string(),
        Field::Int(i) => i.to_string(),
        Field::Long(i) => i.to_string(),
        Field::UByte(i) => i.to_string(),
        Field::UShort(i) => i.to_string(),
        Field::UInt(i) => i.to_string(),
        Field::ULong(i) => i.to_string(),
        Field::Float16(h) => h.to_f64().to_string(),
        Field::Float(x) => x.to_string(),
        Field::Double(x) => x.to_string(),
        Field::Decimal(d) => {
            let v = pq::decimal(d.data(), d.scale()).ok_or("decimal out of range")?;
            v.to_string()
        }
        Field::Str(s) => s.clone(),
        Field::Bytes(b) => std::str::from_utf8(b.data())
            .map_err(|_| "binary value is not UTF-8")?
            .to_string(),
        Field::Date(d) => format_date(*d),
        Field::TimestampMillis(ms) => format_timestamp(ms.saturating_mul(1000)),
        Field::TimestampMicros(us) => format_timestamp(*us),
        Field::TimeMillis(_) | Field::TimeMicros(_) => {
            return Err("time-of-day values are not supported".into())
        }
        Field::Group(_) | Field::ListInternal(_) | Field::MapInternal(_) => {
            return Err("nested values are not supported".into())
        }
    }))
}
