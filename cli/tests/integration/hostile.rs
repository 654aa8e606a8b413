//! Hostile inputs through `greenpipe validate`, as a user would hand them over: each run in a child
//! process whose peak RSS is read from `wait4`'s resource usage (the kernel's figure, as a benchmark
//! would measure it; no wall time is asserted). Each must end with a typed, reported reason (exit 1:
//! the file is INVALID, "could not be validated") under the budget, however much the file claims.
//!
//! The inputs are made in a process of their own ([`generated`]): a child's `ru_maxrss` includes the
//! spawning process's peak (the child runs in the parent's address space until it execs), so this
//! test process must stay small, and its own peak is checked too.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

/// Peak RSS a hostile input may cost `greenpipe validate`, in KiB.
const RSS_BUDGET_KIB: i64 = 256 * 1024;

struct Run {
    code: Option<i32>,
    stdout: String,
    peak_rss_kib: i64,
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
