//! Hostile inputs through `greenpipe validate`, as a user would hand them over: each run in a child
//! process whose peak RSS is read from `wait4`'s resource usage (the kernel's figure, as a benchmark
//! would measure it; no wall time is asserted). Each must end with a typed, reported reason (exit 1:
//! the file is INVALID, "could not be validated") under the budget, however much the file claims.
//!
//! The inputs are made in a process of their own ([`generated`]): a child's `ru_maxrss` includes the
//! spawning process's peak (the child runs in the parent's address space until it execs), so this
//! test process must stay small, and its own peak is checked too.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

/// Peak RSS a hostile input may cost `greenpipe validate`, in KiB.
const RSS_BUDGET_KIB: i64 = 256 * 1024;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    peak_rss_kib: i64,
}

impl Run {
    /// Exit 1 (INVALID) with `kind` reported, or exit 2 with the error type `kind`; under the budget.
    fn assert_stopped(&self, name: &str, code: i32, kind: &str) {
        assert_eq!(self.code, Some(code), "{name}: {}{}", self.stdout, self.stderr);
        let text = if code == 1 { &self.stdout } else { &self.stderr };
        assert!(text.contains(kind), "{name}: no {kind} in {text}");
        assert!(
            self.peak_rss_kib < RSS_BUDGET_KIB,
            "{name}: peak RSS {} KiB over the budget of {RSS_BUDGET_KIB} KiB",
            self.peak_rss_kib
        );
        println!("{name}: {kind}, peak RSS {} KiB", self.peak_rss_kib);
    }
}

/// `greenpipe validate FILE -c CONTRACT`, its output in files (no pipe to drain), reaped with `wait4`
/// for its own resource usage.
fn validate(dir: &Path, file: &Path, contract: &Path) -> Run {
    let out = dir.join("stdout.txt");
    let child = Command::new(env!("CARGO_BIN_EXE_greenpipe"))
        .arg("validate")
        .arg(file)
        .arg("-c")
        .arg(contract)
        .stdout(Stdio::from(File::create(&out).unwrap()))
        .stderr(Stdio::from(File::create(dir.join("stderr.txt")).unwrap()))
        .spawn()
        .expect("run the greenpipe binary");
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    let mut status: libc::c_int = 0;
    // SAFETY: wait4 writes a status and a rusage it is given; both are plain data owned here, and the
    // child is this process's own, reaped once (the `Child` handle is never waited on).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    drop(child);
    Run {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        stdout: std::fs::read_to_string(out).unwrap(),
        stderr: std::fs::read_to_string(dir.join("stderr.txt")).unwrap(),
        // Linux reports ru_maxrss in KiB.
        peak_rss_kib: usage.ru_maxrss,
    }
}

fn contract(dir: &Path, yaml: &str) -> std::path::PathBuf {
    let path = dir.join("contract.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// This process's peak RSS so far, in KiB (`VmHWM`).
fn own_peak_rss_kib() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// `kind`'s input written to `path` by this test binary's `generate_input`, run in a process of its own.
fn generated(kind: &str, path: &Path) {
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["hostile::generate_input", "--exact", "--ignored", "--quiet"])
        .env("GREENPIPE_HOSTILE_KIND", kind)
        .env("GREENPIPE_HOSTILE_OUTPUT", path)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "generating {kind}: {status}");
    assert!(
        own_peak_rss_kib() < RSS_BUDGET_KIB / 4,
        "the test process itself peaked at {} KiB",
        own_peak_rss_kib()
    );
}

/// Writes one hostile input (the test binary runs it for [`generated`]; nothing to do otherwise).
#[test]
#[ignore = "a helper: generated() runs it in a process of its own"]
fn generate_input() {
    let Some(path) = std::env::var_os("GREENPIPE_HOSTILE_OUTPUT") else {
        return;
    };
    let path = Path::new(&path);
    match std::env::var("GREENPIPE_HOSTILE_KIND").as_deref() {
        Ok("parquet-80mib-page") => parquet_one_huge_value(path, 80 << 20),
        Ok("csv-huge-line") => {
            // 300 MiB without a line break, written as it is made.
            let mut w = std::io::BufWriter::new(File::create(path).unwrap());
            w.write_all(b"s\n").unwrap();
            for _ in 0..300 {
                w.write_all(&[b'x'; 1 << 20]).unwrap();
            }
            w.flush().unwrap();
        }
        Ok("zstd-wide-window") => {
            // A frame that asks for a 1 GiB window (window log 30) to decode.
            let mut e = zstd::stream::Encoder::new(File::create(path).unwrap(), 1).unwrap();
            e.window_log(30).unwrap();
            e.long_distance_matching(true).unwrap();
            e.write_all(b"s\n").unwrap();
            for i in 0..64u32 {
                e.write_all(&vec![(i % 251) as u8 | 0x20; 1 << 20]).unwrap();
            }
            e.finish().unwrap();
        }
        Ok("csv-zstd-64mib") => {
            let mut data = b"s\n".to_vec();
            data.extend(std::iter::repeat_n(*b"0\n", 32 << 20).flatten());
            std::fs::write(path, zstd::encode_all(&data[..], 3).unwrap()).unwrap();
        }
        other => panic!("unknown input {other:?}"),
    }
}

/// A Parquet file of one string column holding one `len`-byte value, in one gzip page (no dictionary,
/// no page size limit): what `pyarrow` writes for a huge cell with those settings.
fn parquet_one_huge_value(path: &Path, len: usize) {
    use parquet::basic::{Compression, GzipLevel};
    use parquet::data_type::{ByteArray, ByteArrayType};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;
    let schema = Arc::new(parse_message_type("message schema { REQUIRED BYTE_ARRAY s (UTF8); }").unwrap());
    let props = WriterProperties::builder()
        .set_compression(Compression::GZIP(GzipLevel::default()))
        .set_dictionary_enabled(false)
        .set_data_page_size_limit(usize::MAX)
        .build();
    let mut w = SerializedFileWriter::new(File::create(path).unwrap(), schema, Arc::new(props)).unwrap();
    let mut rg = w.next_row_group().unwrap();
    let mut col = rg.next_column().unwrap().unwrap();
    let value = ByteArray::from(vec![b'a'; len]);
    col.typed::<ByteArrayType>()
        .write_batch(&[value], None, None)
        .unwrap();
    col.close().unwrap();
    rg.close().unwrap();
    w.close().unwrap();
}

#[test]
fn a_parquet_page_claiming_80_mib_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bomb.parquet");
    generated("parquet-80mib-page", &file);
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(size < 200_000, "{size} bytes");
    let contract = contract(dir.path(), "columns: [ { name: s, type: string } ]\n");

    let run = validate(dir.path(), &file, &contract);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    assert!(run.stdout.contains("INVALID"), "{}", run.stdout);
    assert!(
        run.stdout.contains("ParquetPageLimit") && run.stdout.contains("limits.max_parquet_page_bytes"),
        "{}",
        run.stdout
    );
    assert!(
        run.peak_rss_kib < RSS_BUDGET_KIB,
        "peak RSS {} KiB over the budget of {RSS_BUDGET_KIB} KiB",
        run.peak_rss_kib
    );
    println!(
        "bomb.parquet ({size} bytes, one 80 MiB page): peak RSS {} KiB",
        run.peak_rss_kib
    );
}

#[test]
fn a_zstd_bomb_stops_at_the_compression_ratio() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bomb.csv.zst");
    generated("csv-zstd-64mib", &file);
    let size = std::fs::metadata(&file).unwrap().len();
    let contract = contract(
        dir.path(),
        "format: { type: csv }\ncolumns: [ { name: s, type: string } ]\n",
    );

    let run = validate(dir.path(), &file, &contract);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    assert!(run.stdout.contains("CompressionRatioLimit"), "{}", run.stdout);
    assert!(
        run.peak_rss_kib < RSS_BUDGET_KIB,
        "peak RSS {} KiB over the budget of {RSS_BUDGET_KIB} KiB",
        run.peak_rss_kib
    );
    println!(
        "bomb.csv.zst ({size} bytes, 64 MiB of CSV): peak RSS {} KiB",
        run.peak_rss_kib
    );
}

#[test]
fn a_300_mib_line_is_a_violation_not_a_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("line.csv");
    generated("csv-huge-line", &file);
    let contract = contract(
        dir.path(),
        "format: { type: csv }\ncolumns: [ { name: s, type: string } ]\n",
    );
    validate(dir.path(), &file, &contract).assert_stopped(
        "line.csv (300 MiB, one line)",
        1,
        "at most 1048576 bytes",
    );
}

#[test]
fn a_zstd_frame_asking_for_a_1_gib_window_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("window.csv.zst");
    generated("zstd-wide-window", &file);
    let contract = contract(
        dir.path(),
        "format: { type: csv }\ncolumns: [ { name: s, type: string } ]\n",
    );
    validate(dir.path(), &file, &contract).assert_stopped("window.csv.zst (window log 30)", 1, "DecodeError");
}

#[test]
fn json_nested_100000_deep_is_a_violation() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deep.jsonl");
    let depth = 100_000;
    let line = format!("{{\"s\": {}{}}}\n", "[".repeat(depth), "]".repeat(depth));
    std::fs::write(&file, format!("{{\"s\": \"ok\"}}\n{line}")).unwrap();
    let contract = contract(
        dir.path(),
        "format: { type: jsonl }\ncolumns: [ { name: s, type: string } ]\n",
    );
    let run = validate(dir.path(), &file, &contract);
    run.assert_stopped("deep.jsonl (100,000 nested arrays)", 1, "INVALID");
    // Read without recursion: the nested value is reported as what it is, not a string.
    assert!(
        run.stdout.contains("1 values are not valid string"),
        "{}",
        run.stdout
    );
}

#[test]
fn pathological_contracts_are_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data.csv");
    std::fs::write(&file, "s\nx\n").unwrap();
    // A regex whose compiled program is far over the regex crate's size limit.
    let regex = contract(
        dir.path(),
        "format: { type: csv }\ncolumns: [ { name: s, type: string, regex: \"((a{1000}){1000}){1000}\" } ]\n",
    );
    validate(dir.path(), &file, &regex).assert_stopped("regex (a{1000}){1000}){1000}", 2, "ContractInvalid");
    // DQDL nested 100,000 parentheses deep.
    let rules = format!(
        "Rules = [ {}IsComplete \\\"s\\\"{} ]",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let dqdl = contract(
        dir.path(),
        &format!("format: {{ type: csv }}\ncolumns: [ {{ name: s, type: string }} ]\ndqdl: \"{rules}\"\n"),
    );
    validate(dir.path(), &file, &dqdl).assert_stopped("DQDL nested 100,000 deep", 2, "ContractInvalid");
}

/// A Parquet file of nothing but a footer: `FileMetaData { version: 1, schema: elements, num_rows: 0,
/// row_groups: [] }` in Thrift's compact protocol. Each element is `(name, num_children)`; a leaf is an
/// INT32.
fn parquet_footer_only(elements: impl ExactSizeIterator<Item = (&'static str, i32)>) -> Vec<u8> {
    fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    let zigzag = |v: i64| ((v << 1) ^ (v >> 63)) as u64;
    let mut meta = vec![0x15, 2]; // 1: version = 1 (i32)
    meta.push(0x19); // 2: schema, a list
    meta.push(0xfc); // of structs, size follows
    varint(&mut meta, elements.len() as u64);
    for (name, children) in elements {
        if children > 0 {
            meta.push(0x48); // 4: name (binary)
            varint(&mut meta, name.len() as u64);
            meta.extend(name.as_bytes());
            meta.push(0x15); // 5: num_children (i32)
            varint(&mut meta, zigzag(i64::from(children)));
        } else {
            meta.push(0x15); // 1: type = INT32 (1)
            meta.push(2);
            meta.push(0x28); // 3: repetition type REQUIRED (0) ... then 4: name
            meta.push(0);
            meta.push(0x18);
            varint(&mut meta, name.len() as u64);
            meta.extend(name.as_bytes());
        }
        meta.push(0); // end of element
    }
    meta.push(0x16); // 3: num_rows = 0 (i64)
    meta.push(0);
    meta.push(0x19); // 4: row_groups, an empty list of structs
    meta.push(0x0c);
    meta.push(0); // end of FileMetaData
    let mut file = b"PAR1".to_vec();
    file.extend(&meta);
    file.extend((meta.len() as u32).to_le_bytes());
    file.extend(b"PAR1");
    file
}

/// `bytes` in `dir/name`, validated against `yaml`.
fn validate_bytes(dir: &Path, name: &str, bytes: &[u8], yaml: &str) -> Run {
    let file = dir.join(name);
    std::fs::write(&file, bytes).unwrap();
    validate(dir, &file, &contract(dir, yaml))
}

#[test]
fn parquet_footers_are_bounded_before_they_are_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let yaml = "columns: [ { name: x, type: int } ]\n";
    // A well-formed footer of this kind is read by the Parquet crate: one column, no rows.
    let ok = parquet_footer_only([("schema", 1), ("x", 0)].into_iter());
    let run = validate_bytes(dir, "ok.parquet", &ok, yaml);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);

    // 100,000 groups nested in each other (a 1.1 MB file): the crate converts a schema recursively,
    // which overflows the reading thread's stack (an abort, not an error) long before the end.
    let deep = parquet_footer_only(
        std::iter::repeat_n(("g", 1), 100_000)
            .chain([("x", 0)])
            .collect::<Vec<_>>()
            .into_iter(),
    );
    let run = validate_bytes(dir, "deep.parquet", &deep, yaml);
    run.assert_stopped("deep.parquet (schema 100,000 deep)", 1, "ParquetSchemaLimit");
    assert!(
        run.stdout.contains("limits.max_parquet_schema_depth = 32"),
        "{}",
        run.stdout
    );

    // 20,000 columns: refused by default, read when the contract allows them.
    let wide = parquet_footer_only(
        std::iter::once(("schema", 20_000))
            .chain(std::iter::repeat_n(("x", 0), 20_000))
            .collect::<Vec<_>>()
            .into_iter(),
    );
    validate_bytes(dir, "wide.parquet", &wide, yaml).assert_stopped(
        "wide.parquet (20,000 columns)",
        1,
        "ParquetSchemaLimit",
    );
    let allowed = format!("{yaml}limits: {{ max_parquet_columns: 20000 }}\n");
    let run = validate_bytes(dir, "wide.parquet", &wide, &allowed);
    assert!(!run.stdout.contains("ParquetSchemaLimit"), "{}", run.stdout);

    // A footer claiming 100 MiB.
    let mut huge = ok.clone();
    let n = huge.len();
    huge[n - 8..n - 4].copy_from_slice(&(100u32 << 20).to_le_bytes());
    let run = validate_bytes(dir, "huge.parquet", &huge, yaml);
    run.assert_stopped("huge.parquet (footer of 100 MiB)", 1, "ParquetFooterLimit");
    assert!(run.stdout.contains("104857600"), "{}", run.stdout);
}
