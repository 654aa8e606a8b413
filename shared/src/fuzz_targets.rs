//! What each fuzz target in `fuzz/` does with its input, here so that the normal test suite replays
//! every committed corpus file through the same code on stable (`replay_committed_corpora_<target>`), in
//! seconds, while `cargo +nightly fuzz run <target>` explores from it. Each body must never panic,
//! hang or allocate without bound on any input; where two paths must agree it asserts that they do.
//! See docs/fuzzing.md for the runs and what they found.

use std::sync::OnceLock;

use bytes::Bytes;

use crate::contract::{dqdl, parse_contract};
use crate::events::{parse_invocation, Invocation, ObjectRef};
use crate::validate::csv::{differential, BATCH_TEST};
use crate::validate::Validator;

const CSV: &str = r#"
format: { type: csv, header: true }
max_record_bytes: 4096
columns:
  - { name: id, type: int, unique: true, min: 0 }
  - { name: name, type: string, nullable: false, min_length: 1, max_length: 20, regex: "^[A-Za-z ]+$" }
  - { name: amount, type: float, min: -1e6, max: 1e6 }
  - { name: day, type: date, min: "2000-01-01" }
  - { name: at, type: timestamp }
  - { name: ok, type: bool }
  - { name: kind, type: string, allowed: [a, b, c] }
dqdl: 'Rules = [ RowCount > 0, IsUnique "id", ColumnValues "amount" between -10 and 10 with threshold > 0.5, Completeness "name" >= 0.9 ]'
limits: { max_unique_values: 10000, max_examples: 5, max_parquet_page_bytes: 4194304, max_parquet_footer_bytes: 1048576 }
"#;

const JSONL: &str = r#"
format: { type: jsonl }
max_record_bytes: 4096
columns:
  - { name: id, type: int, unique: true }
  - { name: name, type: string, regex: "^[a-z]*$" }
  - { name: amount, type: float, max: 100 }
  - { name: at, type: timestamp, nullable: false }
limits: { max_unique_values: 10000, max_examples: 5 }
"#;

/// Every field op of this contract has a column kernel and nothing is kept per row, so well-formed
/// records are checked in batches (a column at a time).
const BATCHABLE: &str = r#"
format: { type: csv }
max_record_bytes: 200
limits: { max_examples: 40 }
columns:
  - { name: i, type: int, min: -5, max: 1000000000000 }
  - { name: f, type: float, min: -1.5, max: 1e9, nullable: false }
  - { name: b, type: bool }
  - { name: d, type: date, min: "2000-01-01", max: "2030-12-31" }
  - { name: t, type: timestamp, min: "2001-01-01T00:00:00Z" }
  - { name: s, type: string, min_length: 2, max_length: 6 }
  - { name: c, type: string, allowed: [aa, bb, cc, ééé, dd], nullable: false }
  - { name: r, type: string, regex: "[a-z]{2}[0-9]" }
"#;

fn validator(slot: &'static OnceLock<Validator>, yaml: &str) -> &'static Validator {
    slot.get_or_init(|| {
        let contract = parse_contract(yaml.as_bytes(), "fuzz.yaml").expect("the fuzz contract loads");
        Validator::new(contract, "fuzz.yaml").expect("the fuzz contract compiles")
    })
}

/// `validate`: the first byte picks the format and compression (CSV, JSON Lines, Parquet; none, gzip,
/// zstd), the rest is the object. Each validation must end in a report (with or without a fatal
/// problem), and a report's counts must agree with each other.
pub fn validate(data: &[u8]) {
    static CSV_V: OnceLock<Validator> = OnceLock::new();
    static JSONL_V: OnceLock<Validator> = OnceLock::new();
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let (v, name) = match selector % 7 {
        0 => (validator(&CSV_V, CSV), "o.csv"),
        1 => (validator(&CSV_V, CSV), "o.csv.gz"),
        2 => (validator(&CSV_V, CSV), "o.csv.zst"),
        3 => (validator(&JSONL_V, JSONL), "o.jsonl"),
        4 => (validator(&JSONL_V, JSONL), "o.jsonl.gz"),
        5 => (validator(&JSONL_V, JSONL), "o.jsonl.zst"),
        _ => (validator(&CSV_V, CSV), "o.parquet"),
    };
    let Ok(report) = v.validate(&Bytes::copy_from_slice(body), name, &|_| {}) else {
        // Only a failing source is an Err, and memory does not fail.
        panic!("validation of {name} returned an error");
    };
    assert!(report.bad_rows <= report.rows, "{name}: more bad rows than rows");
    assert!(report.violations.len() as u64 <= report.violation_count, "{name}");
    assert_eq!(
        report.valid,
        report.fatal.is_none() && report.rules.iter().all(|r| r.passed),
        "{name}"
    );
}

/// `csv`: the first byte picks the delimiter (`,` `;` tab `|`), the rest is the data. Two differentials:
/// the reader splits records and unquotes fields as csv-core does (the reference the `csv` crate is
/// built on), and a validation that checks well-formed records in batches, a column at a time, gives the
/// same report as one that checks every record on its own (the invariant the fast path relies on).
pub fn csv(data: &[u8]) {
    static BATCH_V: OnceLock<Validator> = OnceLock::new();
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let delim = [b',', b';', b'\t', b'|'][usize::from(selector % 4)];
    // `None`: a record over the default size limit stopped the reader, which csv-core has no limit for.
    if let Some(ours) = differential::ours(body, delim) {
        let reference = differential::reference(body, delim);
        assert!(
            ours == reference,
            "records differ: ours {ours:?}, csv-core {reference:?}"
        );
    }
    let v = validator(&BATCH_V, BATCHABLE);
    let report = |one_at_a_time: bool| {
        BATCH_TEST.set((one_at_a_time, 0));
        let Ok(report) = v.validate(&Bytes::copy_from_slice(body), "o.csv", &|_| {}) else {
            panic!("validation from memory returned an error");
        };
        let mut json = serde_json::to_value(&report).expect("a report serialises");
        if let Some(map) = json.as_object_mut() {
            map.remove("duration_ms");
        }
        json
    };
    let (batched, single) = (report(false), report(true));
    assert_eq!(batched, single, "batched and record-at-a-time reports differ");
}

/// `events`: any JSON, as validate-dataset receives it. Parsing ends in an `InvalidEvent` error or in
/// objects that each name a bucket and a key, never a panic.
pub fn events(data: &[u8]) {
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let named = |o: &ObjectRef| {
        assert!(!o.bucket.is_empty() && !o.key.is_empty(), "{o:?}");
        assert!(
            o.version_id.as_deref() != Some("") && o.e_tag.as_deref() != Some(""),
            "{o:?}"
        );
    };
    match parse_invocation(event) {
        Ok(Invocation::Direct { object, .. }) => named(&object),
        Ok(Invocation::Objects(objects)) => objects.iter().for_each(named),
        Ok(Invocation::Sqs(items)) => {
            for item in items {
                assert!(!item.message_id.is_empty());
                match item.objects {
                    Ok(objects) => objects.iter().for_each(named),
                    Err(e) => assert_eq!(e.error_type(), "InvalidEvent", "{e}"),
                }
            }
        }
        Err(e) => assert_eq!(e.error_type(), "InvalidEvent", "{e}"),
    }
}

/// `dqdl`: any text. A ruleset that parses prints (Display) as text that parses to the same ruleset.
pub fn dqdl(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(rules) = dqdl::parse(text) else {
        return;
    };
    let shown = rules.to_string();
    match dqdl::parse(&shown) {
        Ok(again) => assert_eq!(again, rules, "{text:?} printed as {shown:?}"),
        Err(e) => panic!("{text:?} printed as {shown:?}, which does not parse: {e}"),
    }
}

/// `contract`: the first byte picks YAML, JSON or DQDL, the rest is the contract file. Loading and
/// compiling it into a validator may fail, with an error, never a panic.
pub fn contract(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let name = ["c.yaml", "c.json", "c.dqdl"][usize::from(selector % 3)];
    if let Ok(contract) = parse_contract(body, name) {
        let _ = Validator::new(contract, name);
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every file of `fuzz/corpus/<target>/` through its target's body, and of
    /// `fuzz/regressions/<target>/`: the inputs of the crashes found, which `cargo fuzz cmin` (it keeps
    /// only what adds coverage) never prunes. One test per target, so that the test runner replays
    /// them side by side.
    fn replay_committed_corpus(target: &str, body: fn(&[u8])) {
        // The checkout the test runs in (cargo sets the variable at run time too): a test binary reused
        // from a build in another checkout keeps the compile-time path of that one.
        let manifest =
            std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
        let fuzz = Path::new(&manifest).join("../fuzz");
        let dir = fuzz.join("corpus").join(target);
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            body(&std::fs::read(&path).unwrap());
            n += 1;
        }
        assert!(n > 0, "{target}: an empty corpus");
        if let Ok(regressions) = std::fs::read_dir(fuzz.join("regressions").join(target)) {
            for entry in regressions {
                body(&std::fs::read(entry.unwrap().path()).unwrap());
            }
        }
    }

    #[test]
    fn replay_committed_corpora_validate() {
        replay_committed_corpus("validate", super::validate);
    }

    #[test]
    fn replay_committed_corpora_csv() {
        replay_committed_corpus("csv", super::csv);
    }

    #[test]
    fn replay_committed_corpora_events() {
        replay_committed_corpus("events", super::events);
    }

    #[test]
    fn replay_committed_corpora_dqdl() {
        replay_committed_corpus("dqdl", super::dqdl);
    }

    #[test]
    fn replay_committed_corpora_contract() {
        replay_committed_corpus("contract", super::contract);
    }
}
