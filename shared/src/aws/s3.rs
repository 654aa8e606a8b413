//! An S3 object as a [`RandomAccess`] source: one HeadObject at open, then ranged GetObject calls pinned to
//! the version (or ETag) seen at open, so a validation never mixes bytes of two versions of a key.

use std::collections::HashMap;
use std::io;

use aws_sdk_s3::Client;
use bytes::Bytes;
use tokio::runtime::Handle;

use super::sdk_error;
use crate::validate::RandomAccess;
use crate::{Error, Result};

/// Attempts per ranged read when the response body breaks off mid-stream (the SDK retries failed requests
/// itself, but not a body that fails after the headers arrived).
const BODY_ATTEMPTS: u32 = 3;

/// An S3 object opened for reading.
///
/// `read_at` is synchronous: it runs the async GET on the runtime captured by [`S3Object::open`] with
/// `Handle::block_on`, so it must be called from a thread that is not driving that runtime (the engine
/// runs in `tokio::task::spawn_blocking`, which is such a thread). Calling it from async code panics.
#[derive(Debug, Clone)]
pub struct S3Object {
    client: Client,
    handle: Handle,
    bucket: String,
    key: String,
    size: u64,
    e_tag: String,
    version_id: Option<String>,
    content_type: Option<String>,
    content_encoding: Option<String>,
    metadata: HashMap<String, String>,
    /// LastModified, in microseconds since the epoch.
    last_modified_micros: Option<i64>,
}

impl S3Object {
    /// HeadObject the object (a specific version when `version_id` is given) and remember its size, ETag
    /// and version. Must be called inside a tokio runtime (its handle serves later reads).
    pub async fn open(
        client: &Client,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<S3Object> {
        let what = || format!("HeadObject {}", s3_uri(bucket, key, version_id));
        let head = client
            .head_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_string))
            .send()
            .await
            .map_err(|e| sdk_error(&what(), e))?;
        let size = head
            .content_length()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| Error::aws(format!("{}: no Content-Length", what())))?;
        let e_tag = head
            .e_tag()
            .ok_or_else(|| Error::aws(format!("{}: no ETag", what())))?
            .to_string();
        Ok(S3Object {
            client: client.clone(),
            handle: Handle::current(),
            bucket: bucket.to_string(),
            key: key.to_string(),
            size,
            e_tag,
            // "null" is the version of objects written while versioning was off or suspended: it is
            // overwritten in place, so it does not identify content; the ETag does.
            version_id: head
                .version_id()
                .filter(|v| !v.is_empty() && *v != "null")
                .map(str::to_string),
            content_type: head.content_type().map(str::to_string),
            content_encoding: head.content_encoding().map(str::to_string),
            metadata: head.metadata().cloned().unwrap_or_default(),
            last_modified_micros: head
                .last_modified()
                .map(|t| t.secs() * 1_000_000 + i64::from(t.subsec_nanos() / 1000)),
        })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// The version read, when the bucket is versioned (never `"null"`).
    pub fn version_id(&self) -> Option<&str> {
        self.version_id.as_deref()
    }

    /// The ETag as S3 returns it, with its quotes.
    pub fn e_tag(&self) -> &str {
        &self.e_tag
    }

    /// The ETag without quotes (`d41d8cd9...` or `<md5>-<parts>` for multipart uploads).
    pub fn e_tag_unquoted(&self) -> &str {
        self.e_tag.trim_matches('"')
    }

    /// What identifies the exact bytes read: the version id, else the ETag.
    pub fn identity(&self) -> &str {
        self.version_id().unwrap_or_else(|| self.e_tag_unquoted())
    }

    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    pub fn content_encoding(&self) -> Option<&str> {
        self.content_encoding.as_deref()
    }

    /// User metadata (`x-amz-meta-*`).
    pub fn metadata(&self) -> &HashMap<String, String> {
        &self.metadata
    }

    /// Size in bytes (also available as `RandomAccess::len`).
    /// The object's LastModified, in microseconds since the epoch.
    pub fn last_modified_micros(&self) -> Option<i64> {
        self.last_modified_micros
    }

    pub fn len_bytes(&self) -> u64 {
        self.size
    }

    /// `s3://bucket/key`.
    pub fn uri(&self) -> String {
        s3_uri(&self.bucket, &self.key, None)
    }

    /// Read `[offset, offset + len)` (clamped to the object) with one ranged GET.
    pub async fn read_range(&self, offset: u64, len: usize) -> Result<Bytes> {
        let end = offset.saturating_add(len as u64).min(self.size);
        if offset >= end {
            return Ok(Bytes::new());
        }
        let what = || format!("GetObject {} bytes {offset}-{}", self.uri(), end - 1);
        let mut attempt = 1;
        loop {
            let response = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(&self.key)
                .range(format!("bytes={offset}-{}", end - 1))
                .set_version_id(self.version_id.clone())
                // Unversioned: refuse bytes of a newer object written under the same key (412).
                .set_if_match(self.version_id.is_none().then(|| self.e_tag.clone()))
                .send()
                .await
                .map_err(|e| sdk_error(&what(), e))?;
            match response.body.collect().await {
                Ok(data) => {
                    let bytes = data.into_bytes();
                    if bytes.len() as u64 != end - offset {
                        return Err(Error::aws(format!("{}: got {} bytes", what(), bytes.len())));
                    }
                    return Ok(bytes);
                }
                Err(e) if attempt < BODY_ATTEMPTS => {
                    tracing::warn!(attempt, error = %e, "{}: body read failed, retrying", what());
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100 << attempt)).await;
                }
                Err(e) => {
                    return Err(Error::retryable(format!("{}: body read failed: {e}", what())).with_source(e))
                }
            }
        }
    }
}

impl RandomAccess for S3Object {
    fn len(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, len: usize) -> io::Result<Bytes> {
        // The greenpipe Error travels inside the io::Error; the engine gets it back with
        // Error::from_source_io, so Throttled / Retryable keep their error_type.
        self.handle
            .block_on(self.read_range(offset, len))
            .map_err(io::Error::other)
    }
}

/// `s3://bucket/key` (with `?versionId=` when given), for messages.
pub fn s3_uri(bucket: &str, key: &str, version_id: Option<&str>) -> String {
    match version_id {
        Some(v) => format!("s3://{bucket}/{key}?versionId={v}"),
        None => format!("s3://{bucket}/{key}"),
    }
}

/// PutObject of `value` as JSON.
/// Every object under `prefix` in `bucket`, following pagination to the end.
pub async fn list_all(s3: &Client, bucket: &str, prefix: &str) -> Result<Vec<aws_sdk_s3::types::Object>> {
    let mut objects = Vec::new();
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("ListObjectsV2 s3://{bucket}/{prefix}"), e))?;
        objects.extend(page.contents().iter().cloned());
        token = page.next_continuation_token().map(str::to_string);
        if token.is_none() || page.is_truncated() != Some(true) {
            return Ok(objects);
        }
    }
}

pub async fn put_json(s3: &Client, bucket: &str, key: &str, value: &impl serde::Serialize) -> Result<()> {
    let body = serde_json::to_vec_pretty(value).map_err(Error::serialize(key))?;
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/json")
        .body(body.into())
        .send()
        .await
        .map_err(|e| sdk_error(&format!("PutObject {}", s3_uri(bucket, key, None)), e))?;
    Ok(())
}
