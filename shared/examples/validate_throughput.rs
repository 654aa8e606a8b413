//! Throughput of the validation engine on a generated CSV (20 mixed columns, ~0.1 % bad rows).
//!
//! ```text
//! cargo run --release -p greenpipe-shared --example validate_throughput -- [MB] [path]
//! taskset -c 0 target/release/examples/validate_throughput 1024   # one core
//! ```
//! Generates `MB` megabytes of CSV at `path` (default: a temp file, reused if it exists with the right
//! size), validates it with a contract of type, range, null and allowed-value checks, and prints MB/s,
//! rows, violations and the process's peak RSS.

use std::io::{BufWriter, Write};
use std::time::Instant;

use greenpipe::contract::Contract;
use greenpipe::validate::{LocalFile, Validator};

const CONTRACT: &str = r#"
name: bench
format: { type: csv }
columns:
  - { name: id, type: int, nullable: false, min: 1 }
  - { name: user_id, type: int, nullable: false }
  - { name: age, type: int, min: 0, max: 120 }
  - { name: score, type: float, min: 0, max: 1 }
  - { name: amount, type: float, min: 0 }
  - { name: qty, type: int, min: 0, max: 1000 }
  - { name: price, type: float, min: 0, max: 10000 }
  - { name: country, type: string, nullable: false, allowed: [US, FR, DE, JP, BR, IN, GB, ES] }
  - { name: city, type: string }
  - { name: email, type: string, max_length: 64 }
  - { name: active, type: bool, nullable: false }
  - { name: created, type: date, min: "2000-01-01", max: "2030-12-31" }
  - { name: updated, type: timestamp }
  - { name: category, type: string, allowed: [a, b, c, d, e] }
  - { name: rating, type: int, min: 1, max: 5 }
  - { name: lat, type: float, min: -90, max: 90 }
  - { name: lon, type: float, min: -180, max: 180 }
  - { name: code, type: string, max_length: 8 }
  - { name: discount, type: float, min: 0, max: 1 }
  - { name: note, type: string }
"#;

fn generate(path: &std::path::Path, bytes: u64) -> std::io::Result<u64> {
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let header = "id,user_id,age,score,amount,qty,price,country,city,email,active,created,updated,category,\
                  rating,lat,lon,code,discount,note\n";
    w.write_all(header.as_bytes())?;
    let mut written = header.len() as u64;
    let countries = ["US", "FR", "DE", "JP", "BR", "IN", "GB", "ES"];
    let cities = [
        "Paris",
        "Berlin",
        "Tokyo",
        "New York",
        "Sao Paulo",
        "Mumbai",
        "London",
        "Madrid",
    ];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut id = 0u64;
    let mut line = String::with_capacity(512);
    while written < bytes {
        id += 1;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let r = x;
        line.clear();
        use std::fmt::Write as _;
        let bad = id.is_multiple_of(1000);
        let age = if bad { 150 } else { r % 100 };
        let _ = writeln!(
            line,
            "{id},{},{age},{:.4},{}.{:02},{},{}.{:02},{},{},user{}@example.com,{},20{:02}-{:02}-{:02},\
             2026-{:02}-{:02}T{:02}:{:02}:{:02}Z,{},{},{:.5},{:.5},C{:05},{},{}",
            r % 1_000_000,
            ((r >> 8) % 10_000) as f64 / 10_000.0,
            (r >> 12) % 100_000,
            (r >> 3) % 100,
            (r >> 20) % 1000,
            (r >> 24) % 5000,
            (r >> 5) % 100,
            countries[(r % 8) as usize],
            cities[((r >> 4) % 8) as usize],
            r % 100_000,
            if r & 1 == 0 { "true" } else { "false" },
            (r >> 10) % 30,
            (r >> 15) % 12 + 1,
            (r >> 19) % 28 + 1,
            (r >> 23) % 12 + 1,
            (r >> 27) % 28 + 1,
            (r >> 31) % 24,
            (r >> 35) % 60,
            (r >> 41) % 60,
            ["a", "b", "c", "d", "e"][((r >> 7) % 5) as usize],
            (r >> 9) % 5 + 1,
            ((r >> 11) % 180_000) as f64 / 1000.0 - 90.0,
            ((r >> 13) % 360_000) as f64 / 1000.0 - 180.0,
            (r >> 17) % 100_000,
            if r.is_multiple_of(3) {
                String::new()
            } else {
                format!("0.{}", (r >> 21) % 100)
            },
            if r.is_multiple_of(5) { "" } else { "some free text" },
        );
        w.write_all(line.as_bytes())?;
        written += line.len() as u64;
    }
    w.flush()?;
    Ok(id)
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mb: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(256);
    let path = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("greenpipe-bench-{mb}mb.csv")));
    let want = mb << 20;
    if std::fs::metadata(&path)
        .map(|m| m.len() < want || m.len() > want + 4096)
        .unwrap_or(true)
    {
        let t = Instant::now();
        let rows = generate(&path, want)?;
        eprintln!(
            "generated {} ({rows} rows) in {:.1}s",
            path.display(),
            t.elapsed().as_secs_f64()
        );
    }
    let contract: Contract = serde_yaml::from_str(CONTRACT)?;
    let validator = Validator::new(contract, "bench.yaml")?;
    let file = LocalFile::open(&path)?;
    let t = Instant::now();
    let report = validator.validate(&file, &path.display().to_string(), &|_| {})?;
    let secs = t.elapsed().as_secs_f64();
    let size = report.bytes_read as f64 / 1e6;
    println!(
        "{:.0} MB in {secs:.2}s = {:.0} MB/s; rows {}; violations {}; valid {}; peak RSS {:.1} MB",
        size,
        size / secs,
        report.rows,
        report.violation_count,
        report.valid,
        peak_rss_mb()
    );
    Ok(())
}
