//! End-to-end tests of the engine: every format, compression, check, DQDL rule type and bad input.

use std::io::{self, Write};
use std::sync::Arc;

use bytes::Bytes;

use super::decode::SourceState;
use super::{RandomAccess, Validator};
use crate::contract::Contract;
use crate::error::Error;
use crate::validate::report::{RuleOutcome, ValidationReport, Violation};

#[test]
fn bytes_read_ranges_and_clamp_at_the_end() -> io::Result<()> {
    let src = Bytes::from_static(b"0123456789");
    assert_eq!(RandomAccess::len(&src), 10);
    assert_eq!(&src.read_at(2, 3)?[..], b"234");
    assert_eq!(&src.read_at(8, 10)?[..], b"89");
    assert!(src.read_at(10, 4)?.is_empty());
    assert!(src.read_at(u64::MAX, usize::MAX)?.is_empty());
    Ok(())
}

fn contract(yaml: &str) -> Contract {
    serde_yaml::from_str(yaml).unwrap()
}

fn check(yaml: &str, name: &str, data: &[u8]) -> ValidationReport {
    let v = Validator::new(contract(yaml), "test.yaml").unwrap();
    v.validate(&Bytes::copy_from_slice(data), name, &|_| {}).unwrap()
}

fn rule<'a>(r: &'a ValidationReport, name: &str) -> &'a RuleOutcome {
    r.rules
        .iter()
        .find(|o| o.rule == name)
        .unwrap_or_else(|| panic!("no rule {name:?} in {:#?}", r.rules))
}

fn violations_of<'a>(r: &'a ValidationReport, name: &str) -> Vec<&'a Violation> {
    r.violations.iter().filter(|v| v.rule == name).collect()
}

fn fingerprint(data: &[u8]) -> String {
    super::Fingerprint::of(data)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// zstd as the `zstd` command line writes it (with a content checksum).
fn zstd(data: &[u8]) -> Vec<u8> {
    let mut e = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
    e.include_checksum(true).unwrap();
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

const PEOPLE: &str = r#"
name: people
format: { type: csv }
columns:
  - { name: id, type: int, nullable: false, unique: true, min: 1 }
  - { name: name, type: string, min_length: 2, max_length: 5, regex: "[A-Z][a-zé]+" }
  - { name: score, type: float, min: 0, max: 100 }
  - { name: active, type: bool }
  - { name: born, type: date, min: "1900-01-01", max: "2030-12-31" }
  - { name: seen, type: timestamp, max: "2030-01-01T00:00:00Z" }
  - { name: tier, type: string, allowed: [gold, silver] }
row_count: { min: 1, max: 10 }
"#;

const PEOPLE_OK: &str = "id,name,score,active,born,seen,tier\n\
1,Ann,12.5,true,1990-01-31,2026-11-27T10:00:00Z,gold\n\
2,Bob,0,FALSE,2001-02-03,2026-11-27 10:00:00.5,silver\n\
3,Chloé,100,1,,,\n";

#[test]
fn csv_valid_file_reports_rows_bytes_stats_and_fingerprint() {
    let r = check(PEOPLE, "people.csv", PEOPLE_OK.as_bytes());
    assert!(r.valid, "{r:#?}");
    assert_eq!(r.rows, 3);
    assert_eq!(r.format, "csv");
    assert_eq!(r.compression, "none");
    assert_eq!(r.bytes_read, PEOPLE_OK.len() as u64);
    assert_eq!(r.bytes_decoded, PEOPLE_OK.len() as u64);
    assert_eq!(r.fingerprint, fingerprint(PEOPLE_OK.as_bytes()));
    assert_eq!(r.violation_count, 0);
    assert!(r.fatal.is_none());
    assert_eq!(r.contract.source, "test.yaml");
    let score = r.columns.iter().find(|c| c.name == "score").unwrap();
    assert_eq!((score.count, score.nulls), (3, 0));
    assert_eq!(score.min, Some(serde_json::json!(0.0)));
    assert_eq!(score.max, Some(serde_json::json!(100.0)));
    let born = r.columns.iter().find(|c| c.name == "born").unwrap();
    assert_eq!((born.count, born.nulls), (2, 1));
    assert_eq!(born.min, Some(serde_json::json!("1990-01-31")));
    let name = r.columns.iter().find(|c| c.name == "name").unwrap();
    assert_eq!(name.max, Some(serde_json::json!("Chloé")));
    assert!(rule(&r, "column \"id\": min 1").passed);
    assert_eq!(rule(&r, "row_count: min 1, max 10").measured, Some(3.0));
}

#[test]
fn csv_every_declared_check_reports_row_column_offset_value_and_rule() {
    let data = "id,name,score,active,born,seen,tier\n\
1,Ann,12.5,true,1990-01-31,2026-11-27T10:00:00Z,gold\n\
0,ann,101,maybe,1899-12-31,2031-01-01T00:00:00Z,bronze\n\
1,Annabelle,-1,true,2024-02-30,yesterday,gold\n\
,A,x,true,1990-01-01,2026-01-01,silver\n";
    let r = check(PEOPLE, "p.csv", data.as_bytes());
    assert!(!r.valid);
    let row2_offset = data.find("0,ann").unwrap() as u64;
    let expect = |rule_name: &str, row: u64, column: &str, value: Option<&str>| {
        let vs = violations_of(&r, rule_name);
        let v = vs
            .iter()
            .find(|v| v.row == row)
            .unwrap_or_else(|| panic!("no violation of {rule_name} at row {row}: {:#?}", r.violations));
        assert_eq!(v.column.as_deref(), Some(column), "{rule_name}");
        assert_eq!(v.value.as_deref(), value, "{rule_name}");
        assert!(v.byte_offset.is_some());
        assert!(!rule(&r, rule_name).passed, "{rule_name}");
        v.byte_offset
    };
    assert_eq!(
        expect("column \"id\": min 1", 2, "id", Some("0")),
        Some(row2_offset)
    );
    expect("column \"name\": regex \"[A-Z][a-zé]+\"", 2, "name", Some("ann"));
    expect("column \"score\": max 100", 2, "score", Some("101"));
    expect("column \"active\": type bool", 2, "active", Some("maybe"));
    expect(
        "column \"born\": min \"1900-01-01\"",
        2,
        "born",
        Some("1899-12-31"),
    );
    expect(
        "column \"seen\": max \"2030-01-01T00:00:00Z\"",
        2,
        "seen",
        Some("2031-01-01T00:00:00Z"),
    );
    expect(
        "column \"tier\": allowed [\"gold\",\"silver\"]",
        2,
        "tier",
        Some("bronze"),
    );
    expect("column \"name\": max_length 5", 3, "name", Some("Annabelle"));
    expect("column \"score\": min 0", 3, "score", Some("-1"));
    expect("column \"born\": type date", 3, "born", Some("2024-02-30"));
    expect("column \"seen\": type timestamp", 3, "seen", Some("yesterday"));
    expect("column \"id\": unique", 3, "id", None);
    expect("column \"id\": not null", 4, "id", None);
    expect("column \"name\": min_length 2", 4, "name", Some("A"));
    expect("column \"score\": type float", 4, "score", Some("x"));
    // "Chloé" is 5 characters (6 bytes): within max_length 5.
    let ok = check(PEOPLE, "p.csv", PEOPLE_OK.as_bytes());
    assert!(ok.valid);
    assert_eq!(rule(&r, "column \"id\": unique").failed_rows, 1);
    assert_eq!(
        r.violation_count,
        r.rules
            .iter()
            .filter(|o| !o.passed)
            .map(|o| o.failed_rows.max(1))
            .sum::<u64>()
    );
}

#[test]
fn csv_counts_all_violations_but_keeps_max_examples() {
    let yaml = r#"
format: { type: csv }
columns: [ { name: n, type: int, max: 5 } ]
limits: { max_examples: 3 }
"#;
    let mut data = String::from("n\n");
    for i in 0..100 {
        data.push_str(&format!("{i}\n"));
    }
    let r = check(yaml, "x.csv", data.as_bytes());
    assert_eq!(r.violation_count, 94);
    assert_eq!(r.violations.len(), 3);
    assert_eq!(
        r.violations.iter().map(|v| v.row).collect::<Vec<_>>(),
        vec![7, 8, 9]
    );
    assert_eq!(rule(&r, "column \"n\": max 5").failed_rows, 94);
}

#[test]
fn csv_quoted_fields_crlf_bom_and_missing_final_newline() {
    let yaml = r#"
format: { type: csv }
columns:
  - { name: id, type: int }
  - { name: text, type: string, allowed: ["a,b", "say \"hi\"", "two\nlines", ""] }
"#;
    let data = "\u{feff}id,text\r\n1,\"a,b\"\r\n\r\n2,\"say \"\"hi\"\"\"\r\n3,\"two\nlines\"\r\n4,";
    let r = check(yaml, "q.csv", data.as_bytes());
    assert!(r.valid, "{r:#?}");
    assert_eq!(r.rows, 4);
    let text = r.columns.iter().find(|c| c.name == "text").unwrap();
    assert_eq!(text.nulls, 1, "an empty CSV field is NULL");
}

#[test]
fn csv_ragged_rows_are_violations_with_row_and_offset() {
    let yaml = "format: { type: csv }\ncolumns: [ { name: a, type: int }, { name: b, type: int } ]\n";
    let data = "a,b\n1,2\n3\n4,5,6\n7,8\n";
    let r = check(yaml, "r.csv", data.as_bytes());
    assert!(!r.valid);
    let vs = violations_of(&r, "records: well-formed");
    assert_eq!(vs.len(), 2);
    assert_eq!((vs[0].row, vs[0].byte_offset), (2, Some(8)));
    assert_eq!((vs[1].row, vs[1].byte_offset), (3, Some(10)));
    assert!(vs[0].message.contains("1 fields, expected 2"));
    assert_eq!(r.rows, 4);
    // Malformed rows are not checked value by value.
    assert_eq!(r.columns[0].count, 2);
}

#[test]
fn csv_wrong_delimiter_shows_as_missing_columns() {
    let yaml = "format: { type: csv }\ncolumns: [ { name: a, type: int }, { name: b, type: int } ]\n";
    let r = check(yaml, "d.csv", b"a;b\n1;2\n3;4\n");
    assert!(!r.valid);
    let a = rule(&r, "column \"a\": type int");
    assert!(!a.passed);
    assert!(a.message.as_deref().unwrap().contains("not found"), "{a:?}");
    assert!(!rule(&r, "column \"b\": type int").passed);
    assert!(rule(&r, "records: well-formed").passed);
}

#[test]
fn csv_unterminated_quote_is_fatal_with_offset() {
    let yaml = "format: { type: csv }\ncolumns: [ { name: a, type: string } ]\n";
    let data = b"a\nok\n\"never closed\nmore\nlines\n";
    let r = check(yaml, "u.csv", data);
    assert!(!r.valid);
    let f = r.fatal.as_ref().expect("fatal");
    assert_eq!(f.kind, "UnterminatedQuote");
    assert_eq!(f.byte_offset, Some(5));
    assert_eq!(r.rows, 1);
}

#[test]
fn csv_invalid_utf8_is_a_violation_at_row_column_offset() {
    let yaml = "format: { type: csv }\ncolumns: [ { name: a, type: string }, { name: b, type: string } ]\n";
    let data = b"a,b\nfine,ok\nbad,x\xff\xfey\nalso,fine\n";
    let r = check(yaml, "utf.csv", data);
    assert!(!r.valid);
    let vs = violations_of(&r, "records: valid UTF-8");
    assert_eq!(vs.len(), 1);
    assert_eq!(vs[0].row, 2);
    assert_eq!(vs[0].column.as_deref(), Some("b"));
    assert_eq!(vs[0].byte_offset, Some(12));
    assert_eq!(r.rows, 3);
}

#[test]
fn csv_records_over_the_size_limit_are_skipped() {
    let yaml = "format: { type: csv }\nmax_record_bytes: 16\ncolumns: [ { name: a, type: string } ]\n";
    let long = "x".repeat(3 << 20);
    let data = format!("a\nshort\n{long}\n\"quoted{long}\"\nafter\n");
    let r = check(yaml, "big.csv", data.as_bytes());
    assert!(!r.valid);
    let vs = violations_of(&r, "records: at most 16 bytes");
    assert_eq!(vs.len(), 2, "{vs:#?}");
    assert_eq!(vs[0].row, 2);
    assert_eq!(vs[0].byte_offset, Some(8));
    assert_eq!(vs[1].row, 3);
    assert_eq!(r.rows, 4);
    assert_eq!(r.columns[0].count, 2, "short and after are checked");
    assert!(r.fatal.is_none());
}

#[test]
fn csv_empty_object_and_header_only() {
    let yaml = "format: { type: csv }\ncolumns: [ { name: a, type: int } ]\nrow_count: { min: 1 }\n";
    let r = check(yaml, "e.csv", b"");
    assert!(!r.valid);
    assert_eq!(r.rows, 0);
    assert!(!rule(&r, "row_count: min 1").passed);
    assert!(!rule(&r, "column \"a\": type int").passed);
    assert!(violations_of(&r, "records: well-formed")[0]
        .message
        .contains("no header"));
    assert_eq!(r.fingerprint, fingerprint(b""));

    let r = check(yaml, "h.csv", b"a\n");
    assert_eq!(r.rows, 0);
    assert!(rule(&r, "column \"a\": type int").passed);
    assert!(!rule(&r, "row_count: min 1").passed);
    let no_bounds = "format: { type: csv }\ncolumns: [ { name: a, type: int } ]\n";
    assert!(check(no_bounds, "h.csv", b"a\n").valid);
}

#[test]
fn csv_without_header_uses_positions_and_tsv_from_extension() {
    let yaml = r#"
format: { type: csv, header: false }
columns: [ { name: a, type: int }, { name: b, type: string } ]
"#;
    let r = check(yaml, "x.csv", b"1,x\n2,y\n");
    assert!(r.valid, "{r:#?}");
    assert_eq!(r.rows, 2);
    let tsv = "columns: [ { name: a, type: int }, { name: b, type: string } ]\n";
    let r = check(tsv, "data.tsv", b"a\tb\n1\tx y\n");
    assert!(r.valid, "{r:#?}");
    assert_eq!(r.rows, 1);
}

#[test]
fn gzip_zstd_and_multi_member_gzip() {
    let data = PEOPLE_OK.as_bytes();
    for (name, bytes) in [("p.csv.gz", gzip(data)), ("p.csv.zst", zstd(data))] {
        let r = check(PEOPLE, name, &bytes);
        assert!(r.valid, "{name}: {r:#?}");
        assert_eq!(r.rows, 3);
        assert_eq!(r.bytes_read, bytes.len() as u64);
        assert_eq!(r.bytes_decoded, data.len() as u64);
        assert_eq!(
            r.fingerprint,
            fingerprint(data),
            "fingerprint is of the decoded bytes"
        );
    }
    let (head, tail) = PEOPLE_OK.split_at(PEOPLE_OK.find("2,Bob").unwrap());
    let mut multi = gzip(head.as_bytes());
    multi.extend(gzip(tail.as_bytes()));
    let r = check(PEOPLE, "p.csv.gz", &multi);
    assert!(r.valid, "{r:#?}");
    assert_eq!(r.rows, 3);
    // The contract can name the compression regardless of the key.
    let yaml = format!("{PEOPLE}\ncompression: zstd\n");
    assert!(check(&yaml, "p.csv", &zstd(data)).valid);
}

#[test]
fn truncated_and_corrupt_compression_is_fatal_decode_error() {
    let mut data = String::from("id,name,score,active,born,seen,tier\n");
    for i in 1..60_000 {
        data.push_str(&format!("{i},Ann,1,true,,,gold\n"));
    }
    let yaml = PEOPLE.replace("max: 10\n", "max: 100000\n");
    for (name, bytes) in [
        ("t.csv.gz", gzip(data.as_bytes())),
        ("t.csv.zst", zstd(data.as_bytes())),
    ] {
        let truncated = &bytes[..bytes.len() * 2 / 3];
        let r = check(&yaml, name, truncated);
        let f = r.fatal.as_ref().unwrap_or_else(|| panic!("{name}: no fatal"));
        assert_eq!(f.kind, "DecodeError", "{name}");
        assert!(
            f.byte_offset.is_some_and(|o| o > 0 && o < data.len() as u64),
            "{name}: {f:?}"
        );
        assert!(!r.valid);
        let mut corrupt = bytes.clone();
        let mid = corrupt.len() / 2;
        for b in &mut corrupt[mid..mid + 64] {
            *b ^= 0x5a;
        }
        let r = check(&yaml, name, &corrupt);
        assert_eq!(
            r.fatal.as_ref().map(|f| f.kind.as_str()),
            Some("DecodeError"),
            "{name}: {:?}",
            r.fatal
        );
        assert!(!r.valid);
        // Corrupt headers.
        let mut corrupt = bytes.clone();
        for b in &mut corrupt[2..12] {
            *b ^= 0xa5;
        }
        let r = check(&yaml, name, &corrupt);
        assert_eq!(
            r.fatal.as_ref().map(|f| f.kind.as_str()),
            Some("DecodeError"),
            "{name}: {:?}",
            r.fatal
        );
    }
    let r = check(&yaml, "plain.csv.gz", data.as_bytes());
    assert_eq!(r.fatal.as_ref().map(|f| f.kind.as_str()), Some("DecodeError"));
}

#[test]
fn decompression_bomb_stops_at_the_expanded_size_limit() {
    let yaml = "format: { type: csv }\ncolumns: [ { name: a, type: string } ]\nlimits: { max_expanded_bytes: 1000000 }\n";
    let mut bomb = b"a\n".to_vec();
    bomb.extend(std::iter::repeat_n(b'a', 50 << 20));
    for (name, bytes) in [("b.csv.gz", gzip(&bomb)), ("b.csv.zst", zstd(&bomb))] {
        assert!(bytes.len() < 200_000);
        let r = check(yaml, name, &bytes);
        let f = r.fatal.as_ref().expect("fatal");
        assert_eq!(f.kind, "ExpandedSizeLimit", "{name}");
        assert_eq!(f.byte_offset, Some(1_000_000));
        assert_eq!(r.bytes_decoded, 1_000_000);
        assert!(!r.valid);
    }
}

#[test]
fn decompression_bomb_stops_at_the_compression_ratio_limit() {
    // 32 MiB from about 32 KB of gzip, 100 KB of zstd: past the first 16 MiB the ratio is checked.
    let yaml = "format: { type: csv }\ncolumns: [ { name: a, type: string } ]\nlimits: { max_compression_ratio: 100 }\n";
    let mut bomb = b"a\n".to_vec();
    bomb.extend(std::iter::repeat_n(b"0\n", 16 << 20).flatten());
    for (name, bytes) in [("b.csv.gz", gzip(&bomb)), ("b.csv.zst", zstd(&bomb))] {
        let r = check(yaml, name, &bytes);
        let f = r.fatal.as_ref().expect("fatal");
        assert_eq!(f.kind, "CompressionRatioLimit", "{name}");
        assert!(
            f.message.contains("limits.max_compression_ratio = 100"),
            "{}",
            f.message
        );
        assert!(r.bytes_decoded > super::decode::RATIO_FREE_BYTES);
        assert!(
            r.bytes_decoded < bomb.len() as u64,
            "{name}: stopped before the end"
        );
        assert!(!r.valid);
    }
    // The same data under the default ratio (1000) is read to the end: gzip and zstd of this data
    // stay under it.
    let r = check(
        "format: { type: csv }\ncolumns: [ { name: a, type: string } ]\n",
        "b.csv.gz",
        &gzip(&bomb),
    );
    assert!(r.fatal.is_none(), "{:?}", r.fatal);
    assert_eq!(r.rows, 16 << 20);
}

/// A Parquet file of one string column holding `values`, every page compressed with `codec`, one page
/// per row group whatever its size (no dictionary, no page size limit).
fn parquet_strings(values: &[String], codec: parquet::basic::Compression) -> Vec<u8> {
    use parquet::data_type::{ByteArray, ByteArrayType};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;
    let schema = Arc::new(parse_message_type("message schema { REQUIRED BYTE_ARRAY s (UTF8); }").unwrap());
    let props = WriterProperties::builder()
        .set_compression(codec)
        .set_dictionary_enabled(false)
        .set_data_page_size_limit(usize::MAX)
        .build();
    let mut buf = Vec::new();
    let mut w = SerializedFileWriter::new(&mut buf, schema, Arc::new(props)).unwrap();
    let mut rg = w.next_row_group().unwrap();
    let mut col = rg.next_column().unwrap().unwrap();
    let v: Vec<ByteArray> = values.iter().map(|s| ByteArray::from(s.as_str())).collect();
    col.typed::<ByteArrayType>().write_batch(&v, None, None).unwrap();
    col.close().unwrap();
    rg.close().unwrap();
    w.close().unwrap();
    buf
}

#[test]
fn parquet_pages_are_bounded_before_they_are_read() {
    use parquet::basic::{Compression as Codec, GzipLevel};
    let gzip_codec = Codec::GZIP(GzipLevel::default());
    // One 3 MiB value: a few KB of gzip.
    let bomb = parquet_strings(&["a".repeat(3 << 20)], gzip_codec);
    assert!(bomb.len() < 50_000, "{}", bomb.len());
    let base = "columns: [ { name: s, type: string } ]\n";

    let r = check(
        &format!("{base}limits: {{ max_parquet_page_bytes: 1048576 }}\n"),
        "b.parquet",
        &bomb,
    );
    let f = r.fatal.as_ref().expect("fatal");
    assert_eq!(f.kind, "ParquetPageLimit");
    assert!(
        f.message.contains("3145") && f.message.contains("limits.max_parquet_page_bytes = 1048576"),
        "{}",
        f.message
    );
    assert!(!r.valid);
    assert_eq!(r.rows, 0, "nothing was read");

    let r = check(
        &format!("{base}limits: {{ max_compression_ratio: 100 }}\n"),
        "b.parquet",
        &bomb,
    );
    let f = r.fatal.as_ref().expect("fatal");
    assert_eq!(f.kind, "CompressionRatioLimit", "{}", f.message);
    assert!(!r.valid);

    // Its gzip page is at deflate's best ratio (about 1019:1), over the default of 1000. Within
    // limits that allow it, the same file is read and its value checked.
    let r = check(&format!("{base}limits: {{}}\n"), "b.parquet", &bomb);
    assert_eq!(
        r.fatal.as_ref().map(|f| f.kind.as_str()),
        Some("CompressionRatioLimit")
    );
    let r = check(
        "columns: [ { name: s, type: string, max_length: 10 } ]\nlimits: { max_compression_ratio: 2000 }\n",
        "b.parquet",
        &bomb,
    );
    assert!(r.fatal.is_none(), "{:?}", r.fatal);
    assert_eq!(r.rows, 1);
    assert!(!rule(&r, "column \"s\": max_length 10").passed);

    // Ordinary pages under every codec (headers with statistics; many rows) pass the header check.
    let values: Vec<String> = (0..20_000).map(|i| format!("value-{i}")).collect();
    for codec in [
        Codec::UNCOMPRESSED,
        Codec::SNAPPY,
        gzip_codec,
        Codec::ZSTD(Default::default()),
        Codec::LZ4_RAW,
    ] {
        let file = parquet_strings(&values, codec);
        let r = check(
            "columns: [ { name: s, type: string, unique: true } ]\n",
            "ok.parquet",
            &file,
        );
        assert!(r.valid, "{codec:?}: {:?}", r.fatal);
        assert_eq!(r.rows, 20_000, "{codec:?}");
    }
}

/// A Parquet file of one row group, one row and `columns` string columns named `a`, `b`, ..., each
/// one uncompressed page holding a `value_len`-byte value (no dictionary). Also used by write-features'
/// tests, which bound held pages the same way.
pub(crate) fn wide_parquet(columns: usize, value_len: usize) -> Vec<u8> {
    use parquet::data_type::{ByteArray, ByteArrayType};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;
    let fields: String = (b'a'..)
        .take(columns)
        .map(|c| format!("REQUIRED BYTE_ARRAY {} (UTF8); ", char::from(c)))
        .collect();
    let schema = Arc::new(parse_message_type(&format!("message schema {{ {fields}}}")).unwrap());
    let props = WriterProperties::builder()
        .set_dictionary_enabled(false)
        .set_data_page_size_limit(usize::MAX)
        .build();
    let mut file = Vec::new();
    let mut w = SerializedFileWriter::new(&mut file, schema, Arc::new(props)).unwrap();
    let mut rg = w.next_row_group().unwrap();
    while let Some(mut col) = rg.next_column().unwrap() {
        let value = ByteArray::from(vec![b'x'; value_len]);
        col.typed::<ByteArrayType>()
            .write_batch(&[value], None, None)
            .unwrap();
        col.close().unwrap();
    }
    rg.close().unwrap();
    w.close().unwrap();
    file
}

#[test]
fn parquet_pages_held_at_once_are_bounded_across_the_columns_read() {
    // Three columns, each one 400 KB page (uncompressed, no dictionary).
    let file = wide_parquet(3, 400_000);
    let limits = "limits: { max_parquet_page_bytes: 1048576 }\n";
    let all = format!("columns: [ {{ name: a, type: string }}, {{ name: b, type: string }}, {{ name: c, type: string }} ]\n{limits}");
    let r = check(&all, "wide.parquet", &file);
    let f = r.fatal.as_ref().expect("fatal");
    assert_eq!(f.kind, "ParquetPageLimit");
    assert!(
        f.message.contains("the 3 columns read would hold 1200"),
        "{}",
        f.message
    );
    // Two of the three columns are within the limit: the one not read is not counted.
    let two = format!("columns: [ {{ name: a, type: string }}, {{ name: c, type: string }} ]\n{limits}");
    let r = check(&two, "wide.parquet", &file);
    assert!(r.fatal.is_none(), "{:?}", r.fatal);
    assert_eq!(r.rows, 1);
}

#[test]
fn jsonl_values_types_and_bad_lines() {
    let yaml = r#"
format: { type: jsonl }
columns:
  - { name: id, type: int, nullable: false }
  - { name: name, type: string, nullable: true }
  - { name: at, type: timestamp }
  - { name: ok, type: bool }
  - { name: amount, type: float, min: 0 }
"#;
    let data = concat!(
        "{\"id\": 1, \"name\": \"a\\u00e9\", \"at\": \"2026-01-01T00:00:00Z\", \"ok\": true, \"amount\": 2}\n",
        "{\"id\": 2, \"extra\": [1, {\"x\": 2}]}\n",
        "[1, 2]\n",
        "42\n",
        "{\"id\": \"3\", \"amount\": -1.5}\n",
        "{\"id\": 4, \"name\": {\"nested\": true}}\n",
        "{\"id\": 5,\n",
        "{\"name\": null, \"ok\": false}\r\n",
        "\n",
    );
    let r = check(yaml, "d.jsonl", data.as_bytes());
    assert!(!r.valid);
    assert_eq!(r.rows, 8);
    let wf = violations_of(&r, "records: well-formed");
    assert_eq!(wf.iter().map(|v| v.row).collect::<Vec<_>>(), vec![3, 4, 7]);
    assert!(wf[0].message.contains("array"));
    assert!(wf[1].message.contains("not a JSON object"));
    assert!(wf[2].message.contains("invalid JSON"));
    assert_eq!(wf[0].byte_offset, Some(data.find("[1, 2]").unwrap() as u64));
    let ty = violations_of(&r, "column \"id\": type int");
    assert_eq!((ty[0].row, ty[0].value.as_deref()), (5, Some("3")));
    assert_eq!(violations_of(&r, "column \"name\": type string")[0].row, 6);
    assert_eq!(violations_of(&r, "column \"amount\": min 0")[0].row, 5);
    assert_eq!(violations_of(&r, "column \"id\": not null")[0].row, 8);
    let name = r.columns.iter().find(|c| c.name == "name").unwrap();
    assert_eq!(name.max, Some(serde_json::json!("aé")));
    assert_eq!(r.fingerprint, fingerprint(data.as_bytes()));
}

#[test]
fn jsonl_invalid_utf8_oversized_and_compressed() {
    let yaml = "format: { type: jsonl }\nmax_record_bytes: 64\ncolumns: [ { name: a, type: string } ]\n";
    let mut data = b"{\"a\": \"x\"}\n{\"a\": \"\xff\"}\n".to_vec();
    data.extend(format!("{{\"a\": \"{}\"}}\n", "y".repeat(2 << 20)).as_bytes());
    data.extend(b"{\"a\": \"z\"}");
    let r = check(yaml, "x.jsonl", &data);
    assert_eq!(r.rows, 4);
    assert_eq!(violations_of(&r, "records: valid UTF-8")[0].row, 2);
    assert_eq!(violations_of(&r, "records: at most 64 bytes")[0].row, 3);
    assert_eq!(r.columns[0].count, 2);
    let r = check(yaml, "x.ndjson.gz", &gzip(&data));
    assert_eq!(r.rows, 4);
    assert_eq!(r.compression, "gzip");
}

type PqRow<'a> = (i64, Option<&'a str>, Option<f64>);

fn parquet_file(groups: &[&[PqRow]]) -> Vec<u8> {
    use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;
    let schema = Arc::new(
        parse_message_type(
            "message schema { REQUIRED INT64 id; OPTIONAL BYTE_ARRAY name (UTF8); OPTIONAL DOUBLE amount; \
             REQUIRED INT32 day (DATE); REQUIRED INT64 at (TIMESTAMP(MICROS,true)); }",
        )
        .unwrap(),
    );
    let mut buf = Vec::new();
    let mut w =
        SerializedFileWriter::new(&mut buf, schema, Arc::new(WriterProperties::builder().build())).unwrap();
    for rows in groups {
        let mut rg = w.next_row_group().unwrap();
        let mut idx = 0;
        while let Some(mut col) = rg.next_column().unwrap() {
            match idx {
                0 => {
                    let v: Vec<i64> = rows.iter().map(|r| r.0).collect();
                    col.typed::<Int64Type>().write_batch(&v, None, None).unwrap();
                }
                1 => {
                    let v: Vec<ByteArray> = rows.iter().filter_map(|r| r.1).map(ByteArray::from).collect();
                    let d: Vec<i16> = rows.iter().map(|r| i16::from(r.1.is_some())).collect();
                    col.typed::<ByteArrayType>()
                        .write_batch(&v, Some(&d), None)
                        .unwrap();
                }
                2 => {
                    let v: Vec<f64> = rows.iter().filter_map(|r| r.2).collect();
                    let d: Vec<i16> = rows.iter().map(|r| i16::from(r.2.is_some())).collect();
                    col.typed::<DoubleType>().write_batch(&v, Some(&d), None).unwrap();
                }
                3 => {
                    let v: Vec<i32> = rows.iter().map(|_| 20_000).collect();
                    col.typed::<Int32Type>().write_batch(&v, None, None).unwrap();
                }
                _ => {
                    let v: Vec<i64> = rows.iter().map(|r| 1_700_000_000_000_000 + r.0).collect();
                    col.typed::<Int64Type>().write_batch(&v, None, None).unwrap();
                }
            }
            col.close().unwrap();
            idx += 1;
        }
        rg.close().unwrap();
    }
    w.close().unwrap();
    buf
}

const PQ: &str = r#"
columns:
  - { name: id, type: int, unique: true }
  - { name: name, type: string, nullable: false }
  - { name: amount, type: float, max: 10 }
  - { name: day, type: date, min: "2020-01-01" }
  - { name: at, type: timestamp, min: "2023-01-01T00:00:00Z" }
dqdl: 'Rules = [ ColumnCount = 5, IsComplete "amount" ]'
"#;

#[test]
fn parquet_row_groups_and_violations() {
    let file = parquet_file(&[
        &[(1, Some("a"), Some(1.0)), (2, Some("b"), Some(2.0))],
        &[(3, None, Some(11.0)), (2, Some("d"), None)],
    ]);
    let r = check(PQ, "x.parquet", &file);
    assert!(!r.valid);
    assert_eq!(r.format, "parquet");
    assert_eq!(r.rows, 4);
    assert_eq!(r.fingerprint, fingerprint(&file));
    assert_eq!(r.bytes_decoded, file.len() as u64);
    assert!(r.bytes_read >= file.len() as u64);
    let v = violations_of(&r, "column \"name\": not null");
    assert_eq!((v[0].row_group, v[0].row, v[0].byte_offset), (Some(1), 1, None));
    let v = violations_of(&r, "column \"amount\": max 10");
    assert_eq!(
        (v[0].row_group, v[0].row, v[0].value.as_deref()),
        (Some(1), 1, Some("11"))
    );
    let v = violations_of(&r, "column \"id\": unique");
    assert_eq!((v[0].row_group, v[0].row), (Some(1), 2));
    assert!(rule(&r, "ColumnCount = 5").passed);
    assert!(!rule(&r, "IsComplete \"amount\"").passed);
    assert!(rule(&r, "column \"day\": min \"2020-01-01\"").passed);
    assert!(rule(&r, "column \"at\": min \"2023-01-01T00:00:00Z\"").passed);
    let day = r.columns.iter().find(|c| c.name == "day").unwrap();
    assert_eq!(day.min, Some(serde_json::json!("2024-10-04")));
    assert!(
        r.rules.iter().all(|o| !o.rule.starts_with("records:")),
        "no record rules for Parquet"
    );

    let good = parquet_file(&[&[(1, Some("a"), Some(1.0))]]);
    let r = check(PQ, "ok.parquet", &good);
    assert!(r.valid, "{r:#?}");
}

#[test]
fn parquet_bad_magic_truncated_and_missing_columns() {
    let file = parquet_file(&[&[(1, Some("a"), Some(1.0))]]);
    let mut bad = file.clone();
    let n = bad.len();
    bad[n - 1] = b'X';
    // The reader only checks the footer's magic: a file whose leading "PAR1" is gone is not Parquet
    // either, however readable its footer.
    let mut bad_head = file.clone();
    bad_head[..4].copy_from_slice(b"XAR1");
    for (what, bytes) in [
        ("bad magic", &bad[..]),
        ("bad leading magic", &bad_head[..]),
        ("truncated", &file[..file.len() / 2]),
        ("empty", &[][..]),
    ] {
        let r = check(PQ, "x.parquet", bytes);
        assert_eq!(
            r.fatal.as_ref().map(|f| f.kind.as_str()),
            Some("InvalidParquet"),
            "{what}"
        );
        assert!(!r.valid);
        assert_eq!(r.fingerprint, fingerprint(bytes));
    }
    // A corrupt page inside an otherwise intact file.
    let mut corrupt = file.clone();
    for b in &mut corrupt[4..40] {
        *b = 0xff;
    }
    let r = check(PQ, "x.parquet", &corrupt);
    assert!(r.fatal.is_some() || !r.valid);

    let yaml = "columns: [ { name: nope, type: int } ]\ndqdl: 'Rules = [ ColumnExists \"id\", ColumnExists \"nope\" ]'\n";
    let r = check(yaml, "x.parquet", &file);
    assert!(!rule(&r, "column \"nope\": type int").passed);
    assert!(rule(&r, "ColumnExists \"id\"").passed);
    assert!(!rule(&r, "ColumnExists \"nope\"").passed);
    assert_eq!(r.rows, 1);
    // No column of the file checked: the rows are still counted as read (the first column is decoded),
    // not taken from the footer, in every row group.
    let two_groups = parquet_file(&[
        &[(1, Some("a"), Some(1.0)), (2, Some("b"), Some(2.0))],
        &[(3, None, Some(11.0))],
    ]);
    let yaml = "columns: [ { name: nope, type: int, nullable: true } ]\nrow_count: { min: 3, max: 3 }\n";
    let r = check(yaml, "x.parquet", &two_groups);
    assert_eq!(r.rows, 3);
    assert!(rule(&r, "row_count: min 3, max 3").passed);
}

/// A footer whose column chunks share bytes would let one column's pages be counted as another's (the
/// held-pages bound is per column): it is refused before any page is read.
#[test]
fn parquet_overlapping_column_chunks_are_refused() {
    use parquet::file::metadata::ParquetMetaDataWriter;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let file = parquet_file(&[&[(1, Some("a"), Some(1.0)), (2, Some("b"), Some(2.0))]]);
    let meta = SerializedFileReader::new(Bytes::from(file.clone()))
        .unwrap()
        .metadata()
        .clone();
    let footer_len = u32::from_le_bytes(file[file.len() - 8..file.len() - 4].try_into().unwrap());
    let footer_start = file.len() - 8 - footer_len as usize;
    let group = &meta.row_groups()[0];
    let first_start = group.column(0).byte_range().0;
    let mut columns = group.columns().to_vec();
    // The second column now starts one byte into the first.
    columns[1] = columns[1]
        .clone()
        .into_builder()
        .set_dictionary_page_offset(None)
        .set_data_page_offset(i64::try_from(first_start).unwrap() + 1)
        .build()
        .unwrap();
    let group = group
        .clone()
        .into_builder()
        .set_column_metadata(columns)
        .build()
        .unwrap();
    let meta = meta.into_builder().set_row_groups(vec![group]).build();
    let mut lying = file[..footer_start].to_vec();
    ParquetMetaDataWriter::new(&mut lying, &meta).finish().unwrap();
    // The same file with its own footer rewritten the same way reads as before: only the overlap is refused.
    let honest = {
        let meta = SerializedFileReader::new(Bytes::from(file.clone()))
            .unwrap()
            .metadata()
            .clone();
        let mut f = file[..footer_start].to_vec();
        ParquetMetaDataWriter::new(&mut f, &meta).finish().unwrap();
        f
    };
    assert_eq!(check(PQ, "x.parquet", &honest).rows, 2);
    let r = check(PQ, "x.parquet", &lying);
    let fatal = r.fatal.as_ref().expect("refused");
    assert_eq!(fatal.kind, "InvalidParquet");
    assert!(
        fatal.message.contains("column chunks overlap"),
        "{}",
        fatal.message
    );
    assert_eq!(r.rows, 0);
}

fn dqdl_csv(rules: &str, data: &str) -> ValidationReport {
    let yaml = format!(
        "format: {{ type: csv }}\ndqdl: {}\n",
        serde_json::to_string(rules).unwrap()
    );
    check(&yaml, "d.csv", data.as_bytes())
}

const DQ: &str = "id,name,age,city,day\n\
1,ann,30,Paris,2024-01-01\n\
2,bob,,Oslo,2024-02-01\n\
3,cy,17,Paris,not-a-date\n\
3,dee,45,,2024-03-01\n";

#[test]
fn dqdl_dataset_rules() {
    let r = dqdl_csv(
        "Rules = [ RowCount = 4, RowCount between 4 and 10, ColumnCount = 5, ColumnExists \"city\", \
         ColumnExists \"zip\", IsComplete \"id\", IsComplete \"age\", Completeness \"age\" >= 0.75, \
         Completeness \"age\" > 0.8 ]",
        DQ,
    );
    let p = |n: &str| rule(&r, n).passed;
    assert!(p("RowCount = 4"));
    assert!(!p("RowCount between 4 and 10"), "between is exclusive");
    assert!(p("ColumnCount = 5"));
    assert!(p("ColumnExists \"city\""));
    assert!(!p("ColumnExists \"zip\""));
    assert!(p("IsComplete \"id\""));
    assert!(!p("IsComplete \"age\""));
    assert_eq!(rule(&r, "IsComplete \"age\"").failed_rows, 1);
    assert!(p("Completeness \"age\" >= 0.75"));
    assert_eq!(rule(&r, "Completeness \"age\" > 0.8").measured, Some(0.75));
    assert!(!p("Completeness \"age\" > 0.8"));
    let v = violations_of(&r, "IsComplete \"age\"");
    assert_eq!((v[0].row, v[0].column.as_deref()), (2, Some("age")));
    assert!(
        violations_of(&r, "Completeness \"age\" >= 0.75").is_empty(),
        "passing rules add no violations"
    );
}

#[test]
fn dqdl_uniqueness_rules() {
    let r = dqdl_csv(
        "Rules = [ IsUnique \"id\", IsUnique \"name\", Uniqueness \"id\" = 0.5, Uniqueness \"city\" > 0.2, \
         IsPrimaryKey \"name\", IsPrimaryKey \"id\", IsPrimaryKey \"id\" \"name\", IsPrimaryKey \"id\" \"city\" ]",
        DQ,
    );
    let p = |n: &str| rule(&r, n).passed;
    assert!(!p("IsUnique \"id\""));
    assert_eq!(rule(&r, "IsUnique \"id\"").failed_rows, 2);
    assert!(p("IsUnique \"name\""));
    assert!(p("Uniqueness \"id\" = 0.5"));
    // city: Paris twice, Oslo once, one NULL → 1 of 4 rows is unique.
    assert_eq!(rule(&r, "Uniqueness \"city\" > 0.2").measured, Some(0.25));
    assert!(p("IsPrimaryKey \"name\""));
    assert!(!p("IsPrimaryKey \"id\""));
    assert!(p("IsPrimaryKey \"id\" \"name\""));
    assert!(!p("IsPrimaryKey \"id\" \"city\""), "a NULL in a key column");
    let v = violations_of(&r, "IsUnique \"id\"");
    assert_eq!(v[0].row, 4);
}

#[test]
fn dqdl_column_values_rules() {
    let r = dqdl_csv(
        "Rules = [ ColumnValues \"age\" > 10, ColumnValues \"age\" != 17, ColumnValues \"age\" between 16 and 46, \
         ColumnValues \"city\" in [\"Paris\", \"Oslo\", NULL], ColumnValues \"city\" in [\"Paris\", \"Oslo\"], \
         ColumnValues \"city\" not in [\"Rome\"], ColumnValues \"name\" matches \"[a-z]+\", \
         ColumnValues \"name\" matches \"[a-z]\", ColumnValues \"age\" > 20 with threshold >= 0.5, \
         ColumnValues \"age\" > 20 with threshold > 0.5, ColumnValues \"day\" <= \"2024-02-01\" ]",
        DQ,
    );
    let p = |n: &str| rule(&r, n).passed;
    assert!(!p("ColumnValues \"age\" > 10"), "NULL fails");
    assert_eq!(rule(&r, "ColumnValues \"age\" > 10").failed_rows, 1);
    assert!(!p("ColumnValues \"age\" != 17"));
    assert_eq!(
        rule(&r, "ColumnValues \"age\" != 17").failed_rows,
        1,
        "NULL passes !="
    );
    assert!(!p("ColumnValues \"age\" between 16 and 46"));
    assert!(p("ColumnValues \"city\" in [\"Paris\", \"Oslo\", NULL]"));
    assert!(!p("ColumnValues \"city\" in [\"Paris\", \"Oslo\"]"));
    assert!(p("ColumnValues \"city\" not in [\"Rome\"]"));
    assert!(p("ColumnValues \"name\" matches \"[a-z]+\""));
    assert!(!p("ColumnValues \"name\" matches \"[a-z]\""));
    assert!(p("ColumnValues \"age\" > 20 with threshold >= 0.5"));
    assert_eq!(
        rule(&r, "ColumnValues \"age\" > 20 with threshold >= 0.5").measured,
        Some(0.5)
    );
    assert!(!p("ColumnValues \"age\" > 20 with threshold > 0.5"));
    // Undeclared column: text compare; "not-a-date" > "2024-02-01" and 2024-03-01 too.
    assert_eq!(rule(&r, "ColumnValues \"day\" <= \"2024-02-01\"").failed_rows, 2);
    let v = violations_of(&r, "ColumnValues \"age\" > 10");
    assert_eq!(
        (v[0].row, v[0].column.as_deref(), v[0].value.as_deref()),
        (2, Some("age"), None)
    );
}

#[test]
fn dqdl_length_datatype_and_composites() {
    let r = dqdl_csv(
        "Rules = [ ColumnLength \"name\" <= 3, ColumnLength \"city\" > 3, ColumnLength \"city\" < 6, \
         ColumnDataType \"day\" = \"DATE\", ColumnDataType \"day\" = \"DATE\" with threshold >= 0.6, \
         ColumnDataType \"age\" = \"INTEGER\", (RowCount = 4) and (IsComplete \"id\"), \
         (RowCount = 5) or (IsComplete \"age\"), (ColumnValues \"age\" > 20) or (ColumnValues \"age\" = NULL), \
         (RowCount = 4) and ((IsComplete \"age\") or (ColumnExists \"name\")) ]",
        DQ,
    );
    let p = |n: &str| rule(&r, n).passed;
    assert!(p("ColumnLength \"name\" <= 3"));
    assert!(!p("ColumnLength \"city\" > 3"), "NULL has length 0");
    assert!(p("ColumnLength \"city\" < 6"));
    assert!(!p("ColumnDataType \"day\" = \"DATE\""));
    assert_eq!(rule(&r, "ColumnDataType \"day\" = \"DATE\"").measured, Some(0.75));
    assert!(p("ColumnDataType \"day\" = \"DATE\" with threshold >= 0.6"));
    assert!(p("ColumnDataType \"age\" = \"INTEGER\""), "NULLs are not counted");
    assert!(p("(RowCount = 4) and (IsComplete \"id\")"));
    let or = rule(&r, "(RowCount = 5) or (IsComplete \"age\")");
    assert!(!or.passed);
    assert!(or.message.as_deref().unwrap().contains("2 of 2"));
    // Each side is evaluated over the whole dataset: both sides fail, so the composite fails.
    assert!(!p("(ColumnValues \"age\" > 20) or (ColumnValues \"age\" = NULL)"));
    assert!(p(
        "(RowCount = 4) and ((IsComplete \"age\") or (ColumnExists \"name\"))"
    ));
    let v = violations_of(&r, "(RowCount = 5) or (IsComplete \"age\")");
    assert!(
        v.iter().any(|v| v.row == 0) && v.iter().any(|v| v.row == 2),
        "{v:#?}"
    );
}

#[test]
fn dqdl_on_declared_types_and_empty_data() {
    let yaml = r#"
format: { type: csv }
columns: [ { name: day, type: date }, { name: n, type: float } ]
dqdl: 'Rules = [ ColumnValues "day" > "2024-01-15", ColumnValues "n" in [1, 2.5], ColumnValues "n" != "3" ]'
"#;
    let r = check(yaml, "x.csv", b"day,n\n2024-02-01,1.0\n2024-01-20,2.50\n");
    assert!(r.valid, "{r:#?}");
    let r = check(yaml, "x.csv", b"day,n\n");
    assert!(!r.valid, "fractions over zero rows fail");
    assert_eq!(
        rule(&r, "ColumnValues \"day\" > \"2024-01-15\"")
            .message
            .as_deref(),
        Some("no rows to evaluate")
    );
}

#[test]
fn unique_limit_is_a_clear_fatal_error() {
    let yaml = "format: { type: csv }\ncolumns: [ { name: id, type: int, unique: true } ]\nlimits: { max_unique_values: 100 }\n";
    let mut data = String::from("id\n");
    for i in 0..1000 {
        data.push_str(&format!("{i}\n"));
    }
    let r = check(yaml, "u.csv", data.as_bytes());
    let f = r.fatal.as_ref().expect("fatal");
    assert_eq!(f.kind, "UniqueLimit");
    assert!(
        f.message.contains("\"id\"") && f.message.contains("100"),
        "{}",
        f.message
    );
    assert_eq!(f.row, Some(101));
    assert!(!r.valid);
    // Repeated values do not count against the cap.
    let mut data = String::from("id\n");
    for i in 0..1000 {
        data.push_str(&format!("{}\n", i % 50));
    }
    let r = check(yaml, "u.csv", data.as_bytes());
    assert!(r.fatal.is_none());
    assert_eq!(rule(&r, "column \"id\": unique").failed_rows, 950);
}

struct Failing;

impl RandomAccess for Failing {
    fn len(&self) -> u64 {
        10 << 20
    }

    fn read_at(&self, offset: u64, _len: usize) -> io::Result<Bytes> {
        if offset == 0 {
            Ok(Bytes::from(vec![b'a'; super::decode::CHUNK]))
        } else {
            Err(io::Error::other(Error::throttled("slow down")))
        }
    }
}

#[test]
fn source_errors_are_errors_not_reports() {
    let v = Validator::new(contract("format: { type: csv }\n"), "c").unwrap();
    match v.validate(&Failing, "x.csv", &|_| {}) {
        Err(Error::Throttled { message, .. }) => assert_eq!(message, "slow down"),
        other => panic!("{other:?}"),
    }
    match v.validate(&Failing, "x.csv.gz", &|_| {}) {
        Err(Error::Throttled { .. }) | Ok(_) => {}
        Err(other) => panic!("{other:?}"),
    }
    let pq = Validator::new(contract("format: { type: parquet }\n"), "c").unwrap();
    assert!(matches!(
        pq.validate(&Failing, "x.parquet", &|_| {}),
        Err(Error::Throttled { .. })
    ));
}

#[test]
fn format_and_contract_errors() {
    let v = Validator::new(contract("columns: []\n"), "c").unwrap();
    assert!(matches!(
        v.validate(&Bytes::new(), "data.xlsx", &|_| {}),
        Err(Error::UnsupportedFormat(_))
    ));
    assert!(matches!(
        v.validate(&Bytes::new(), "data.parquet.gz", &|_| {}),
        Err(Error::UnsupportedFormat(_))
    ));
    let bad = |yaml: &str| Validator::new(contract(yaml), "c.yaml").unwrap_err();
    assert!(matches!(
        bad("columns: [ { name: a, type: string, regex: \"(\" } ]"),
        Error::ContractInvalid { .. }
    ));
    assert!(matches!(
        bad("columns: [ { name: a, type: int, min: abc } ]"),
        Error::ContractInvalid { .. }
    ));
    assert!(matches!(
        bad("columns: [ { name: a, type: bool, max: 1 } ]"),
        Error::ContractInvalid { .. }
    ));
    assert!(matches!(
        bad("columns: [ { name: a, type: int }, { name: a, type: int } ]"),
        Error::ContractInvalid { .. }
    ));
    assert!(matches!(
        bad("format: { type: csv, delimiter: \"ab\" }"),
        Error::ContractInvalid { .. }
    ));
    assert!(matches!(
        bad("dqdl: 'Rules = [ CustomSql \"select 1\" > 0 ]'"),
        Error::UnsupportedRule { .. }
    ));
    assert!(matches!(
        bad("dqdl: 'Rules = [ RowCount >'"),
        Error::ContractInvalid { .. }
    ));
    assert!(matches!(
        bad("max_record_bytes: 0"),
        Error::ContractInvalid { .. }
    ));
}

#[test]
fn progress_reports_bytes_read() {
    let data = vec![b'\n'; 5 << 20];
    let seen = std::sync::Mutex::new(Vec::new());
    let v = Validator::new(contract("format: { type: csv }\n"), "c").unwrap();
    let r = v
        .validate(&Bytes::from(data), "x.csv", &|n| seen.lock().unwrap().push(n))
        .unwrap();
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.last(), Some(&(5 << 20)));
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(r.rows, 0);
}

#[test]
fn validator_is_send_and_sync() {
    fn check<T: Send + Sync + 'static>() {}
    check::<Validator>();
}

#[test]
fn nan_is_outside_every_float_range() {
    let yaml =
        "format: { type: csv }\ncolumns: [ { name: x, type: float, max: 1 }, { name: y, type: float } ]\n";
    let r = check(yaml, "n.csv", b"x,y\nNaN,NaN\n0.5,inf\n");
    assert_eq!(rule(&r, "column \"x\": max 1").failed_rows, 1);
    assert!(rule(&r, "column \"y\": type float").passed);
    assert_eq!(r.rows, 2);
}

#[test]
fn bad_rows_counts_distinct_rows_not_cells() {
    // Row 2 breaks three rules (two cells), row 3 is malformed, row 5 repeats id 1; rows 1 and 4 are fine.
    let data = "id,name,score,active,born,seen,tier\n\
1,Ann,12.5,true,1990-01-31,2026-11-27T10:00:00Z,gold\n\
2,x,500,true,1990-01-31,,gold\n\
3,Bob\n\
4,Cy,1,false,,,silver\n\
1,Dee,2,true,,,\n";
    let r = check(PEOPLE, "p.csv", data.as_bytes());
    assert!(!r.valid);
    assert_eq!(r.rows, 5);
    assert!(r.violation_count >= 5, "{}", r.violation_count);
    assert_eq!(r.bad_rows, 3, "{r:#?}");
    // A dataset-level failure marks no row.
    let small = "id,name,score,active,born,seen,tier\n";
    let r = check(PEOPLE, "p.csv", small.as_bytes());
    assert!(!rule(&r, "row_count: min 1, max 10").passed);
    assert_eq!(r.bad_rows, 0);
    // The same through JSON Lines.
    let yaml = "format: { type: jsonl }\ncolumns:\n  - { name: a, type: int, max: 5 }\n  - { name: b, type: int, nullable: false }\n";
    let r = check(
        yaml,
        "x.jsonl",
        b"{\"a\":9}\n{\"a\":1,\"b\":2}\nnot json\n{\"a\":1,\"b\":\"q\"}\n",
    );
    assert_eq!(r.bad_rows, 3, "{r:#?}");
}

#[test]
fn bad_rows_counts_dqdl_rows_only_when_the_rule_fails() {
    // age > 20 fails on rows 2 (NULL), 3 and 4. With a threshold the rule can pass: its rows then do
    // not count, unless another failing rule breaks them too.
    let passing = dqdl_csv(
        "Rules = [ ColumnValues \"age\" > 20 with threshold >= 0.25, RowCount > 100 ]",
        "id,age\n1,30\n2,\n3,17\n4,5\n",
    );
    assert!(rule(&passing, "ColumnValues \"age\" > 20 with threshold >= 0.25").passed);
    assert!(!passing.valid);
    assert_eq!(passing.bad_rows, 0);
    let failing = dqdl_csv(
        "Rules = [ ColumnValues \"age\" > 20 with threshold >= 0.5 ]",
        "id,age\n1,30\n2,\n3,17\n4,5\n",
    );
    assert_eq!(failing.bad_rows, 3);
    // Rows broken by a passing rule and a failing one count once, through the failing one.
    let mixed = dqdl_csv(
        "Rules = [ ColumnValues \"age\" > 20 with threshold >= 0.25, ColumnValues \"age\" > 10, \
         ColumnValues \"id\" < 4 ]",
        "id,age\n1,30\n2,\n3,17\n4,5\n",
    );
    // age > 10 fails rows 2 and 4; id < 4 fails row 4.
    assert_eq!(mixed.bad_rows, 2, "{mixed:#?}");
    // An Or that passes hides its failing rows; duplicates count from their second occurrence.
    let or = dqdl_csv(
        "Rules = [ (ColumnValues \"age\" > 20) or (RowCount = 4), IsUnique \"id\" ]",
        "id,age\n1,30\n2,\n1,17\n1,5\n",
    );
    assert!(rule(&or, "IsUnique \"id\"").rule.contains("IsUnique"));
    assert!(!rule(&or, "IsUnique \"id\"").passed);
    assert_eq!(or.bad_rows, 2, "{or:#?}");
}

/// CSV of `rows` records over several of the record reader's 1 MiB reads, with a bad row every 1,000.
fn many_rows(rows: usize) -> String {
    let mut data = String::from("id,name,x\n");
    for i in 0..rows {
        let x = if i % 1000 == 999 {
            "oops".to_string()
        } else {
            format!("{}.5", i % 97)
        };
        data.push_str(&format!("{i},name {i} é,{x}\n"));
    }
    data
}

const MANY_ROWS_CONTRACT: &str =
    "format: { type: csv }\ncolumns:\n  - { name: id, type: int, unique: true }\n  \
    - { name: name, type: string, max_length: 20 }\n  - { name: x, type: float, min: 0 }\n";

/// A local file, as `greenpipe validate FILE` reads it: uncompressed through `Direct` (`pread` into the
/// record reader's buffer), gzip through the prefetch threads. Both give the report an in-memory source
/// gives, with records straddling the reads, and report progress up to the file's size.
#[test]
fn local_files_give_the_same_report_as_memory() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let data = many_rows(150_000);
    assert!(data.len() > 3 << 20);
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("d.csv");
    std::fs::write(&plain, &data).unwrap();
    let gz = dir.path().join("d.csv.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data.as_bytes()).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();

    let v = Validator::new(contract(MANY_ROWS_CONTRACT), "c").unwrap();
    let json = |r: &ValidationReport| {
        let mut j = serde_json::to_value(r).unwrap();
        j.as_object_mut().unwrap().remove("duration_ms");
        j
    };
    let from_mem = v
        .validate(&Bytes::copy_from_slice(data.as_bytes()), "d.csv", &|_| {})
        .unwrap();
    assert!(!from_mem.valid);
    assert_eq!(from_mem.rows, 150_000);
    assert_eq!(rule(&from_mem, "column \"x\": type float").failed_rows, 150);

    let file = super::LocalFile::open(&plain).unwrap();
    assert!(file.local_file().is_some());
    let seen = AtomicU64::new(0);
    let from_file = v
        .validate(&file, "d.csv", &|n| seen.store(n, Ordering::Relaxed))
        .unwrap();
    assert_eq!(json(&from_file), json(&from_mem));
    assert_eq!(seen.load(Ordering::Relaxed), data.len() as u64);

    let file = super::LocalFile::open(&gz).unwrap();
    let from_gz = v.validate(&file, "d.csv.gz", &|_| {}).unwrap();
    assert_eq!(from_gz.rows, from_mem.rows);
    assert_eq!(from_gz.fingerprint, from_mem.fingerprint);
    assert_eq!(from_gz.bytes_decoded, from_mem.bytes_decoded);
}

/// A local file that shrinks while it is read is a source error (`Err`), not a report about the data.
#[test]
fn a_local_file_cut_short_while_read_is_an_error() {
    let data = many_rows(150_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.csv");
    std::fs::write(&path, &data).unwrap();
    let file = super::LocalFile::open(&path).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(3 << 19)
        .unwrap();
    let v = Validator::new(contract(MANY_ROWS_CONTRACT), "c").unwrap();
    match v.validate(&file, "d.csv", &|_| {}) {
        Err(Error::Io(e)) => {
            assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
            assert!(e.to_string().contains("file ended at byte 1572864"), "{e}");
        }
        other => panic!("{other:?}"),
    }
}

/// `Direct` reads the file in order into the buffers it is given, counts the bytes and stops at the length
/// the file had when it was opened.
#[test]
fn direct_reads_fill_the_callers_buffers() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.txt");
    std::fs::write(&path, b"hello, world").unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let state = SourceState::default();
    let calls = std::sync::Mutex::new(Vec::new());
    let progress = |n| calls.lock().unwrap().push(n);
    let mut d = super::decode::Direct::new(&file, 10, &state, &progress);
    let mut out = Vec::new();
    let mut buf = [0u8; 4];
    loop {
        let n = d.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    assert_eq!(out, b"hello, wor");
    assert_eq!(state.bytes_read.get(), 10);
    assert_eq!(*calls.lock().unwrap(), [4, 8, 10]);
}

/// The hot kernels (columns without a uniqueness rule) and the general ones (the same columns, each
/// unique) agree on every value: the same rule outcomes, violations, row counts and column stats, over
/// values in and out of each kernel's short form (long integers, exponents, NaN, non-canonical
/// timestamps, non-ASCII strings) and values that break each rule.
#[test]
fn hot_and_general_kernels_agree() {
    let columns = |unique: bool| {
        let u = if unique { ", unique: true" } else { "" };
        format!(
            "format: {{ type: csv }}\ncolumns:\n\
             - {{ name: i, type: int, min: -5, max: 1000000000000{u} }}\n\
             - {{ name: f, type: float, min: -1.5, max: 1e9, nullable: false{u} }}\n\
             - {{ name: b, type: bool{u} }}\n\
             - {{ name: d, type: date, min: \"2000-01-01\", max: \"2030-12-31\"{u} }}\n\
             - {{ name: t, type: timestamp, min: \"2001-01-01T00:00:00Z\"{u} }}\n\
             - {{ name: s, type: string, min_length: 2, max_length: 6{u} }}\n\
             - {{ name: c, type: string, allowed: [aa, bb, cc, ééé, dd, ee, ff, gg, hh, ii, jj, kk], nullable: false{u} }}\n\
             - {{ name: r, type: string, regex: \"[a-z]{{2}}[0-9]\"{u} }}\n"
        )
    };
    let rows = [
        "1,1.5,true,2020-01-01,2020-01-01T00:00:00Z,ab,aa,ab1",
        "123456789012,-1.5,false,2000-01-01,2020-01-01 10:00,abcdef,bb,cd2",
        "+7,1e3,1,2030-12-31,2020-01-02T10:00:00.5Z,ééé,ééé,ef3",
        "-0,NaN,0,2030-13-01,2020-01-03T25:00:00Z,a,cc,g4",
        "-6,12.3.4,maybe,1999-12-31,2000-12-31T23:59:59Z,abcdefg,zz,ZZ9",
        "9999999999999,,TRUE,2024-02-30,2020-01-04t01:02:03+01:00,ééééééé,dd,ab12",
        "12x,1.25e-1,False,2024-02-29,2020-01-05T00:00:00,é,ee,hi5",
        ",99999999.5,,2024-2-01,,x\u{301}y,ff,jk6",
        "42,-2,yes, 2024-01-01,2020-01-06T00:00:60Z,abc ,gg,",
        "-99999999,0.000001,true,,2020-01-07T00:00:00Z,,hh,lm7",
        "100000000,1234567.891,false,2021-06-15,1970-01-01T00:00:00Z,abcd,ii,no8",
        "5,+3.5,t,2021-06-16,2020-01-08T00:00:00Z,ab\u{e9},jj,pq\u{e9}",
    ];
    let data = format!("i,f,b,d,t,s,c,r\n{}\n", rows.join("\n"));
    let run = |unique: bool| {
        let v = Validator::new(contract(&columns(unique)), "c.yaml").unwrap();
        let r = v
            .validate(&Bytes::copy_from_slice(data.as_bytes()), "x.csv", &|_| {})
            .unwrap();
        let mut j = serde_json::to_value(&r).unwrap();
        let o = j.as_object_mut().unwrap();
        // A bool column has duplicates: leave out what the uniqueness rules add.
        for key in ["duration_ms", "contract", "bad_rows", "violation_count"] {
            o.remove(key);
        }
        for key in ["rules", "violations"] {
            o[key]
                .as_array_mut()
                .unwrap()
                .retain(|r| !r["rule"].as_str().unwrap().ends_with(": unique"));
        }
        j
    };
    let (hot, general) = (run(false), run(true));
    assert_eq!(hot, general);
    // The data does break rules of every kind, so both paths were taken.
    let failed: Vec<&str> = hot["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["passed"] == false)
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert!(failed.len() >= 12, "{failed:?}");
}

/// Records checked a column at a time (a batch) give the same report as records checked one at a time:
/// the same rule outcomes, the same first violations in the same order, the same row counts, offsets and
/// column stats. The input mixes the edge-case rows above with what must leave a batch early: quoted
/// records, ragged rows, blank lines, invalid UTF-8, records over the size limit, CRLF, a missing final
/// newline, and enough bytes (1.9 MB) that the read window moves several times.
#[test]
fn batched_and_record_at_a_time_agree() {
    use super::csv::BATCH_TEST;
    let yaml = "format: { type: csv }\nmax_record_bytes: 200\nlimits: { max_examples: 40 }\ncolumns:\n\
                - { name: i, type: int, min: -5, max: 1000000000000 }\n\
                - { name: f, type: float, min: -1.5, max: 1e9, nullable: false }\n\
                - { name: b, type: bool }\n\
                - { name: d, type: date, min: \"2000-01-01\", max: \"2030-12-31\" }\n\
                - { name: t, type: timestamp, min: \"2001-01-01T00:00:00Z\" }\n\
                - { name: s, type: string, min_length: 2, max_length: 6 }\n\
                - { name: c, type: string, allowed: [aa, bb, cc, ééé, dd], nullable: false }\n\
                - { name: r, type: string, regex: \"[a-z]{2}[0-9]\" }\n";
    let edge: [&[u8]; 11] = [
        b"123456789012,-1.5,false,2000-01-01,2020-01-01 10:00,abcdef,bb,cd2",
        b"-0,NaN,0,2030-13-01,2020-01-03T25:00:00Z,a,cc,g4",
        "9999999999999,,TRUE,2024-02-30,2020-01-04t01:02:03+01:00,ééééééé,dd,ab12".as_bytes(),
        b",99999999.5,,2024-2-01,,xy,zz,jk6",
        b"\"7\",\"2.5\",true,2020-01-01,2020-01-01T00:00:00Z,\"a,b\",aa,ab1",
        b"1,2,3",
        b"1,1.5,true,2020-01-01,2020-01-01T00:00:00Z,a\xffb,aa,ab1",
        b"",
        "\"-3\",\"\"\"0.5\"\"\",false,2020-02-02,2020-01-01T00:00:00Z,\"é,\"\"é\",\"ééé\",zz9".as_bytes(),
        // After unquoting, the two halves of `é` sit side by side: valid UTF-8, but not field by field.
        b"4,0.5,true,2020-01-01,2020-01-01T00:00:00Z,\"ab\xc3\",\"\xa9\",ab1",
        b"8,0.5,true,2020-01-01,2020-01-01T00:00:00Z,\"abc\",dd,\"ab1\"",
    ];
    let mut data = b"i,f,b,d,t,s,c,r\n".to_vec();
    for n in 0..30_000u32 {
        match n % 97 {
            k @ 0..=10 => data.extend_from_slice(edge[k as usize]),
            11 => data.extend_from_slice(
                format!(
                    "1,1.5,true,2020-01-01,2020-01-01T00:00:00Z,{},aa,ab1",
                    "x".repeat(250)
                )
                .as_bytes(),
            ),
            _ => data.extend_from_slice(
                format!(
                    "{},{}.{},{},20{:02}-0{}-1{},2020-01-0{}T10:00:00Z,{},{},{}{}",
                    n,
                    n % 1000,
                    n % 7,
                    n % 2 == 0,
                    n % 30,
                    1 + n % 9,
                    n % 10,
                    1 + n % 9,
                    ["ab", "abc", "ééé", "abcdef"][(n % 4) as usize],
                    ["aa", "bb", "cc", "ééé", "dd"][(n % 5) as usize],
                    ["ab", "cd", "zz"][(n % 3) as usize],
                    n % 10,
                )
                .as_bytes(),
            ),
        }
        data.extend_from_slice(if n % 7 == 0 { b"\r\n" } else { b"\n" });
    }
    data.extend_from_slice(b"5,1.5,true,2020-01-01,2020-01-01T00:00:00Z,ab,aa,ab1");
    assert!(data.len() > 1_800_000, "{}", data.len());
    let run = |batched: bool| {
        BATCH_TEST.set((!batched, 0));
        let mut j = serde_json::to_value(check(yaml, "x.csv", &data)).unwrap();
        j.as_object_mut().unwrap().remove("duration_ms");
        (j, BATCH_TEST.get().1)
    };
    let ((batched, batches), (single, none)) = (run(true), run(false));
    assert!(batches > 200 && none == 0, "{batches} batches, {none}");
    assert_eq!(batched, single);
    // Rows of every kind were read, and rules of every kind broken.
    let blank_lines = (0..30_000).filter(|n| n % 97 == 7).count();
    assert_eq!(batched["rows"], 30_001 - blank_lines, "{batched:#}");
    let failed = batched["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["passed"] == false)
        .count();
    assert!(failed >= 10, "{batched:#}");
}
