//! The online writer: rows → `PutRecord`, at bounded in-flight concurrency, with adaptive retries.
//!
//! - Rows come from [`super::rows`] on a blocking thread, in order. Each row is mapped to a record
//!   ([`Mapping::record`]); a row that cannot be mapped is a failure at once (no request).
//! - At most `concurrency` PutRecord requests are in flight. The limit adapts (AIMD): a throttling answer
//!   cuts it by a quarter (at most once per 50 ms), and every `limit` successes raise it by one back up to
//!   `concurrency`.
//! - Requests are made by up to `concurrency` long-lived slots (tasks), each writing one record at a time.
//!   The slot that finished last takes the next record, so the next request is built in memory its
//!   predecessor just used: no task and no boxed request future per record. The SDK's request future is
//!   about 5 KB and is copied several times while it is built; in a fresh block, between waves of responses
//!   after an idle gap, those copies and the task's bookkeeping were cold cache misses (bench/README.md).
//! - Throttling, 5xx, timeouts and connection failures are retried with full-jitter exponential backoff
//!   (`random(0, min(cap, base × 2^attempt))`). The SDK's own retries are off for this client, so every
//!   attempt is seen here and a row is counted exactly once: `written` on its first success, `failed`
//!   once its attempts run out or the service rejects it (`ValidationError`).
//! - Past the deadline no new row is taken; the requests in flight finish (their retries stop at the
//!   drain deadline), and the continuation names the first row not taken. Every row before it is written
//!   or reported failed, none after it was sent: the next invocation resumes with no gap and no duplicate.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sagemakerfeaturestoreruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sagemakerfeaturestoreruntime::types::{FeatureValue, TargetStore as SdkTargetStore};
use aws_sdk_sagemakerfeaturestoreruntime::Client as FeatureStoreClient;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::rows::{Resume, Row};
use super::{FeatureGroup, Mapping, RowError, TargetStore};
use crate::{Error, Result};

/// How the writer behaves.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// Most PutRecord requests in flight.
    pub concurrency: usize,
    pub target_stores: Option<Vec<TargetStore>>,
    /// No row is taken after this instant.
    pub deadline: Option<Instant>,
    /// Retries stop after this instant (requests in flight are drained by then).
    pub drain_deadline: Option<Instant>,
    /// Attempts per record (first try included).
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Failure lines kept for the report (all failures are counted).
    pub max_failure_lines: usize,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            concurrency: super::DEFAULT_CONCURRENCY,
            target_stores: None,
            deadline: None,
            drain_deadline: None,
            max_attempts: 10,
            backoff_base: Duration::from_millis(20),
            backoff_cap: Duration::from_secs(2),
            max_failure_lines: 100_000,
        }
    }
}

/// One row that was not written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    /// 1-based data row number (header excluded), as in validation reports.
    pub row: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
    pub error_type: String,
    pub message: String,
}

/// What one run of the writer did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOutcome {
    /// Rows taken (each is then written or failed).
    pub read: u64,
    pub written: u64,
    pub failed: u64,
    /// PutRecord attempts retried (throttling, 5xx, network).
    pub retries: u64,
    pub throttled: u64,
    /// The first failures (up to `max_failure_lines`).
    pub failures: Vec<Failure>,
    /// Set when the deadline stopped the run before the end of the data: where to resume.
    pub continuation: Option<Resume>,
}

/// AIMD limit on requests in flight (the writer loop keeps the number in flight under it). It stays in
/// `1..=max`: a cut takes a quarter, rounded down.
struct Limiter {
    max: usize,
    limit: AtomicUsize,
    successes: AtomicUsize,
    last_cut: Mutex<Instant>,
}

impl Limiter {
    fn new(max: usize) -> Limiter {
        Limiter {
            max,
            limit: AtomicUsize::new(max),
            successes: AtomicUsize::new(0),
            last_cut: Mutex::new(Instant::now() - Duration::from_secs(1)),
        }
    }

    fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    fn on_success(&self) {
        let limit = self.limit.load(Ordering::Relaxed);
        if limit < self.max && self.successes.fetch_add(1, Ordering::Relaxed) + 1 >= limit {
            self.successes.store(0, Ordering::Relaxed);
            self.limit.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn on_throttle(&self) {
        let mut last = self.last_cut.lock().unwrap_or_else(|p| p.into_inner());
        if last.elapsed() < Duration::from_millis(50) {
            return;
        }
        *last = Instant::now();
        let limit = self.limit.load(Ordering::Relaxed);
        self.limit.fetch_sub(limit / 4, Ordering::Relaxed);
    }
}

/// Why one attempt failed.
enum Attempt {
    Retry { throttled: bool, text: String },
    Reject(RowError),
    Fatal(Error),
}

/// Write `rows` (received from the row reader) to `group` with PutRecord.
pub async fn write_online(
    client: &FeatureStoreClient,
    group: &FeatureGroup,
    mapping: &Mapping,
    opts: &WriteOptions,
    start: Resume,
    rows: tokio::sync::mpsc::Receiver<Vec<Row>>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<WriteOutcome> {
    let mut rows = rows;
    let limiter = Arc::new(Limiter::new(opts.concurrency.max(1)));
    let retries = Arc::new(AtomicU64::new(0));
    let throttled = Arc::new(AtomicU64::new(0));
    let stores: Option<Vec<SdkTargetStore>> = opts.target_stores.as_ref().map(|s| {
        s.iter()
            .map(|t| match t {
                TargetStore::OnlineStore => SdkTargetStore::OnlineStore,
                TargetStore::OfflineStore => SdkTargetStore::OfflineStore,
            })
            .collect()
    });
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        group: group.name.clone(),
        stores,
        max_attempts: opts.max_attempts.max(1),
        base: opts.backoff_base,
        cap: opts.backoff_cap,
        drain_deadline: opts.drain_deadline,
        limiter: limiter.clone(),
        retries: retries.clone(),
        throttled: throttled.clone(),
    });

    let mut out = WriteOutcome::default();
    let mut slots = Slots::new(ctx);
    let mut fatal: Option<Error> = None;
    let mut next = start;
    let mut stopped = false;
    'rows: while let Some(batch) = rows.recv().await {
        for row in batch {
            // Settle what has been answered, then wait for a free slot under the limit (never 0).
            while let Some(done) = slots.try_done() {
                settle(done, &mut out, opts, &mut fatal, &limiter);
            }
            while slots.busy >= limiter.limit() {
                let done = slots.done().await;
                settle(done, &mut out, opts, &mut fatal, &limiter);
            }
            if fatal.is_some() || opts.deadline.is_some_and(|d| Instant::now() >= d) {
                stopped = true;
                break 'rows;
            }
            out.read += 1;
            next = Resume {
                next_row: row.index + 1,
                byte_offset: row.end_offset,
            };
            let record = row
                .values
                .map_err(|m| RowError::new("InvalidRecord", m))
                .and_then(|values| mapping.record(values));
            match record {
                Ok(record) => slots.start(row.index, record),
                Err(e) => fail(&mut out, opts, row.index, None, e),
            }
            progress(out.written + out.failed);
        }
    }
    // Drain: every row taken ends written or failed.
    while slots.busy > 0 {
        let done = slots.done().await;
        settle(done, &mut out, opts, &mut fatal, &limiter);
    }
    slots.close().await;
    progress(out.written + out.failed);
    out.retries = retries.load(Ordering::Relaxed);
    out.throttled = throttled.load(Ordering::Relaxed);
    if let Some(e) = fatal {
        return Err(e);
    }
    if stopped {
        out.continuation = Some(next);
    }
    Ok(out)
}

/// One record handed to a slot: its row index and its (feature, value) pairs.
type Job = (u64, Vec<(String, String)>);
/// A slot's answer: the row index and how the write ended (with the record id when it failed); `None`
/// when the slot's task itself failed (a panic), which stops the run.
type Done = Option<(u64, std::result::Result<(), (String, Attempt)>)>;

/// The long-lived request slots (see the module documentation).
struct Slots {
    ctx: Arc<Ctx>,
    /// One job channel per slot.
    jobs: Vec<mpsc::Sender<Job>>,
    /// Slots waiting for a job; the last one to finish is taken first.
    idle: Vec<usize>,
    /// Jobs started and not yet answered.
    busy: usize,
    done_tx: mpsc::UnboundedSender<(usize, Done)>,
    done_rx: mpsc::UnboundedReceiver<(usize, Done)>,
    tasks: JoinSet<()>,
}

impl Slots {
    fn new(ctx: Arc<Ctx>) -> Slots {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        Slots {
            ctx,
            jobs: Vec::new(),
            idle: Vec::new(),
            busy: 0,
            done_tx,
            done_rx,
            tasks: JoinSet::new(),
        }
    }

    /// Write `record` (row `index`) on an idle slot, or on a new one.
    fn start(&mut self, index: u64, record: Vec<(String, String)>) {
        let slot = match self.idle.pop() {
            Some(slot) => slot,
            None => self.spawn(),
        };
        self.busy += 1;
        // An idle slot's channel is empty and its task is waiting on it, so this cannot fail; if the task
        // is gone anyway, the job is answered as a failed task.
        if self.jobs[slot].try_send((index, record)).is_err() {
            let _ = self.done_tx.send((slot, None));
        }
    }

    fn spawn(&mut self) -> usize {
        let slot = self.jobs.len();
        let (tx, mut rx) = mpsc::channel::<Job>(1);
        self.jobs.push(tx);
        let ctx = self.ctx.clone();
        let done = self.done_tx.clone();
        self.tasks.spawn(async move {
            // Answers `None` if this task unwinds while a job is running.
            struct Guard(Option<(usize, mpsc::UnboundedSender<(usize, Done)>)>);
            impl Drop for Guard {
                fn drop(&mut self) {
                    if let Some((slot, done)) = self.0.take() {
                        let _ = done.send((slot, None));
                    }
                }
            }
            while let Some((index, record)) = rx.recv().await {
                let mut guard = Guard(Some((slot, done.clone())));
                let result = ctx.put(record, index).await;
                guard.0 = None;
                if done.send((slot, Some((index, result)))).is_err() {
                    return;
                }
            }
        });
        slot
    }

    fn answered(&mut self, (slot, done): (usize, Done)) -> Done {
        self.busy -= 1;
        if done.is_some() {
            self.idle.push(slot);
        }
        done
    }

    /// An answer that is already there.
    fn try_done(&mut self) -> Option<Done> {
        let answer = self.done_rx.try_recv().ok()?;
        Some(self.answered(answer))
    }

    /// The next answer; only called while a job is running (`busy > 0`).
    async fn done(&mut self) -> Done {
        match self.done_rx.recv().await {
            Some(answer) => self.answered(answer),
            // Unreachable: `self` holds a sender.
            None => None,
        }
    }

    /// Stop the slots' tasks (every job has been answered).
    async fn close(mut self) {
        self.jobs.clear();
        while self.tasks.join_next().await.is_some() {}
    }
}

fn settle(
    done: Done,
    out: &mut WriteOutcome,
    opts: &WriteOptions,
    fatal: &mut Option<Error>,
    limiter: &Limiter,
) {
    match done {
        Some((_, Ok(()))) => {
            out.written += 1;
            limiter.on_success();
        }
        Some((index, Err((id, Attempt::Reject(e))))) => fail(out, opts, index, Some(id), e),
        Some((index, Err((id, Attempt::Retry { throttled, text })))) => {
            let kind = if throttled { "Throttled" } else { "Retryable" };
            fail(
                out,
                opts,
                index,
                Some(id),
                RowError::new(kind, format!("gave up after retries: {text}")),
            )
        }
        Some((index, Err((id, Attempt::Fatal(e))))) => {
            fail(
                out,
                opts,
                index,
                Some(id),
                RowError::new(e.error_type(), e.to_string()),
            );
            fatal.get_or_insert(e);
        }
        None => {
            fatal.get_or_insert(Error::retryable("a PutRecord task failed"));
        }
    }
}

fn fail(out: &mut WriteOutcome, opts: &WriteOptions, index: u64, id: Option<String>, e: RowError) {
    out.failed += 1;
    if out.failures.len() < opts.max_failure_lines {
        out.failures.push(Failure {
            row: index + 1,
            record_id: id,
            error_type: e.error_type,
            message: e.message,
        });
    }
}

struct Ctx {
    client: FeatureStoreClient,
    group: String,
    stores: Option<Vec<SdkTargetStore>>,
    max_attempts: u32,
    base: Duration,
    cap: Duration,
    drain_deadline: Option<Instant>,
    limiter: Arc<Limiter>,
    retries: Arc<AtomicU64>,
    throttled: Arc<AtomicU64>,
}

impl Ctx {
    /// Write one record; on failure, the record id and why.
    async fn put(
        &self,
        record: Vec<(String, String)>,
        index: u64,
    ) -> std::result::Result<(), (String, Attempt)> {
        // Each attempt's input is moved into the SDK: the first gets the record's own strings, a retry
        // is rebuilt from this copy (one buffer instead of a string per feature name and value).
        let kept = Kept::new(&record);
        let mut values = Some(
            record
                .into_iter()
                .map(|(name, value)| feature_value(name, value))
                .collect::<Vec<FeatureValue>>(),
        );
        let mut rng = seed(index);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let result = self
                .client
                .put_record()
                .feature_group_name(&self.group)
                .set_record(Some(values.take().unwrap_or_else(|| kept.values())))
                .set_target_stores(self.stores.clone())
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(()),
                Err(e) => classify(&self.group, e),
            };
            let Attempt::Retry { throttled, .. } = &err else {
                return Err((kept.id(), err));
            };
            if *throttled {
                self.throttled.fetch_add(1, Ordering::Relaxed);
                self.limiter.on_throttle();
            }
            if attempt >= self.max_attempts {
                return Err((kept.id(), err));
            }
            // Full jitter: uniform in [0, min(cap, base × 2^attempt)).
            let ceiling = self.base.saturating_mul(1u32 << attempt.min(16)).min(self.cap);
            let sleep = ceiling.mul_f64(next_f64(&mut rng));
            if self.drain_deadline.is_some_and(|d| Instant::now() + sleep >= d) {
                return Err((kept.id(), err));
            }
            self.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(sleep).await;
        }
    }
}

fn feature_value(name: String, value: String) -> FeatureValue {
    FeatureValue::builder()
        .feature_name(name)
        .value_as_string(value)
        .build()
}

/// A record's (feature, value) pairs in one buffer, for retries and the failure report.
struct Kept {
    /// Every name and value, one after the other.
    text: String,
    /// Where each name and each value ends in `text`.
    ends: Vec<usize>,
}

impl Kept {
    fn new(record: &[(String, String)]) -> Kept {
        let mut text = String::with_capacity(record.iter().map(|(n, v)| n.len() + v.len()).sum());
        let mut ends = Vec::with_capacity(record.len() * 2);
        for (name, value) in record {
            text.push_str(name);
            ends.push(text.len());
            text.push_str(value);
            ends.push(text.len());
        }
        Kept { text, ends }
    }

    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.ends.chunks_exact(2).scan(0, |start, ends| {
            let (name, value) = (&self.text[*start..ends[0]], &self.text[ends[0]..ends[1]]);
            *start = ends[1];
            Some((name, value))
        })
    }

    fn values(&self) -> Vec<FeatureValue> {
        self.pairs()
            .map(|(name, value)| feature_value(name.to_string(), value.to_string()))
            .collect()
    }

    /// The record identifier (the first value).
    fn id(&self) -> String {
        self.pairs()
            .next()
            .map(|(_, v)| v.to_string())
            .unwrap_or_default()
    }
}

/// Throttling, 5xx, timeouts and connection failures are retried; `ValidationError` (and any other 4xx)
/// fails the record; a missing feature group or access denied stops the run.
fn classify<E>(
    group: &str,
    err: SdkError<E, aws_sdk_sagemakerfeaturestoreruntime::config::http::HttpResponse>,
) -> Attempt
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
    let code = err.code().unwrap_or("").to_string();
    let message = err.message().unwrap_or("").to_string();
    let text = if code.is_empty() {
        format!("PutRecord: {}", crate::aws::error_text(&err))
    } else {
        format!("PutRecord: {code} (HTTP {status}): {message}")
    };
    match &err {
        SdkError::ServiceError(_) => {
            let throttled = status == 429 || crate::aws::is_throttling_code(&code);
            if throttled || status >= 500 {
                Attempt::Retry { throttled, text }
            } else if code == "ResourceNotFound" {
                Attempt::Fatal(Error::FeatureGroupNotFound(group.to_string()))
            } else if code == "AccessForbidden" || status == 403 {
                Attempt::Fatal(Error::aws(text).with_source(err))
            } else {
                let code = if code.is_empty() {
                    "ServiceError".to_string()
                } else {
                    code
                };
                Attempt::Reject(RowError::new(&code, message))
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => Attempt::Retry {
            throttled: false,
            text,
        },
        SdkError::ResponseError(_) if status >= 500 || status == 0 => Attempt::Retry {
            throttled: false,
            text,
        },
        _ => Attempt::Fatal(Error::aws(text).with_source(err)),
    }
}

fn seed(index: u64) -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// splitmix64 → [0, 1).
fn next_f64(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_records_rebuild_the_same_input() {
        let record: Vec<(String, String)> = [("id", "7"), ("prénom", "Zoë"), ("note", "a b"), ("x", "1")]
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .to_vec();
        let kept = Kept::new(&record);
        let pairs: Vec<(String, String)> = kept
            .pairs()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        assert_eq!(pairs, record);
        let first: Vec<FeatureValue> = record
            .iter()
            .map(|(n, v)| feature_value(n.clone(), v.clone()))
            .collect();
        assert_eq!(kept.values(), first);
        assert_eq!(kept.id(), "7");
        assert_eq!(Kept::new(&[]).id(), "");
    }
}
