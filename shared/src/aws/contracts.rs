//! Finding and loading the data contract of an object.
//!
//! **Rule:** a contract belongs to a folder. For a key `d1/d2/.../dn/file`, the candidates are
//! `<contracts-prefix>d1/d2/.../di.<ext>` for i = n down to 1, each with the extensions `yaml`, `yml`,
//! `json`, `dqdl` in that order; the first one that exists wins (the longest matching folder prefix).
//! So `incoming/sales/2026/x.csv` uses `contracts/incoming/sales/2026.yaml` if present, else
//! `contracts/incoming/sales.yaml`, else `contracts/incoming.yaml`. Objects at the bucket root have no
//! folder and so no contract. With Hive-style partitions (`sales/date=2026-01-01/x.csv`), one
//! `contracts/sales.yaml` covers every partition.
//!
//! The contracts prefix is listed once (paginated) and the listing cached for
//! [`Config::contracts_cache_ttl`](super::Config); a key whose contract is missing from a cached listing
//! causes one fresh listing before `ContractNotFound`. Compiled contracts are cached by key and ETag, so a
//! warm function compiles each contract version once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use tokio::sync::Mutex;

use super::s3::s3_uri;
use super::sdk_error;
use crate::contract::{parse_contract, Contract};
use crate::pipeline::Dataset;
use crate::validate::Validator;
use crate::{Error, Result};

/// Contract file extensions, in order of preference when several exist for the same folder.
pub const CONTRACT_EXTENSIONS: [&str; 4] = ["yaml", "yml", "json", "dqdl"];

/// Contracts are small; anything bigger is a mistake, not something to load into memory.
const MAX_CONTRACT_BYTES: i64 = 1 << 20;

/// The candidate contract keys for `key`, most specific first (see the module docs).
pub fn candidate_keys(contracts_prefix: &str, key: &str) -> Vec<String> {
    let folders: Vec<&str> = match key.rsplit_once('/') {
        Some((dir, _file)) => dir.split('/').collect(),
        None => Vec::new(),
    };
    let mut out = Vec::with_capacity(folders.len() * CONTRACT_EXTENSIONS.len());
    for depth in (1..=folders.len()).rev() {
        let base = folders[..depth].join("/");
        for ext in CONTRACT_EXTENSIONS {
            out.push(format!("{contracts_prefix}{base}.{ext}"));
        }
    }
    out
}

/// A compiled contract and where it came from.
pub struct LoadedContract {
    /// `s3://bucket/key` of the contract file.
    pub source: String,
    pub key: String,
    /// The contract as written (later stages read their own sections from it, e.g. `catalog`).
    pub contract: Contract,
    pub validator: Validator,
}

/// A contract as written, and where it is.
pub struct SourcedContract {
    /// `s3://bucket/key` of the contract file.
    pub source: String,
    pub key: String,
    pub contract: Contract,
}

/// Cached listings of contract prefixes and compiled contracts, shared by the invocations of a warm
/// function.
pub struct ContractStore {
    ttl: Duration,
    listings: Mutex<HashMap<(String, String), Listing>>,
    compiled: Mutex<HashMap<(String, String, String), Arc<LoadedContract>>>,
}

struct Listing {
    /// Contract key → ETag.
    keys: HashMap<String, String>,
    fetched: Instant,
}

impl ContractStore {
    pub fn new(ttl: Duration) -> Self {
        ContractStore {
            ttl,
            listings: Mutex::default(),
            compiled: Mutex::default(),
        }
    }

    /// Find, load and compile the contract for `key`, from `contracts_bucket` under `contracts_prefix`.
    pub async fn contract_for(
        &self,
        client: &Client,
        contracts_bucket: &str,
        contracts_prefix: &str,
        key: &str,
    ) -> Result<Arc<LoadedContract>> {
        let candidates = candidate_keys(contracts_prefix, key);
        let (contract_key, e_tag) = match self
            .lookup(client, contracts_bucket, contracts_prefix, &candidates, false)
            .await?
        {
            Some(found) => found,
            // Not in a cached listing: maybe the contract was added since; list again once.
            None => self
                .lookup(client, contracts_bucket, contracts_prefix, &candidates, true)
                .await?
                .ok_or_else(|| not_found(contracts_bucket, contracts_prefix, key, &candidates))?,
        };

        let cache_key = (contracts_bucket.to_string(), contract_key.clone(), e_tag.clone());
        if let Some(hit) = self.compiled.lock().await.get(&cache_key) {
            return Ok(hit.clone());
        }
        let loaded = Arc::new(load(client, contracts_bucket, &contract_key, &e_tag).await?);
        self.compiled.lock().await.insert(cache_key, loaded.clone());
        Ok(loaded)
    }

    /// The contract `dataset` was validated against: the one its `contract.source` names (what the
    /// pipeline's stages get), else the one validate-dataset would find for its key (a stage invoked by
    /// hand with `{bucket, key}` alone).
    pub async fn contract_of(
        &self,
        client: &Client,
        dataset: &Dataset,
        contracts_bucket: &str,
        contracts_prefix: &str,
    ) -> Result<SourcedContract> {
        if let Some(uri) = dataset.contract_source() {
            let (_, key) = parse_s3_uri(uri)?;
            return Ok(SourcedContract {
                source: uri.to_string(),
                key: key.to_string(),
                contract: contract_at(client, uri).await?,
            });
        }
        let loaded = self
            .contract_for(client, contracts_bucket, contracts_prefix, &dataset.key)
            .await?;
        Ok(SourcedContract {
            source: loaded.source.clone(),
            key: loaded.key.clone(),
            contract: loaded.contract.clone(),
        })
    }

    /// The first candidate present in the (possibly cached) listing, with its ETag.
    async fn lookup(
        &self,
        client: &Client,
        bucket: &str,
        prefix: &str,
        candidates: &[String],
        refresh: bool,
    ) -> Result<Option<(String, String)>> {
        let mut listings = self.listings.lock().await;
        let id = (bucket.to_string(), prefix.to_string());
        let stale = listings
            .get(&id)
            .is_none_or(|l| refresh || l.fetched.elapsed() >= self.ttl);
        if stale {
            let keys = list(client, bucket, prefix).await?;
            listings.insert(
                id.clone(),
                Listing {
                    keys,
                    fetched: Instant::now(),
                },
            );
        }
        let Some(listing) = listings.get(&id) else {
            return Ok(None);
        };
        Ok(candidates
            .iter()
            .find_map(|c| listing.keys.get(c).map(|tag| (c.clone(), tag.clone()))))
    }
}

/// All keys (with ETags) under `prefix`, following pagination.
async fn list(client: &Client, bucket: &str, prefix: &str) -> Result<HashMap<String, String>> {
    let keys: HashMap<String, String> = super::s3::list_all(client, bucket, prefix)
        .await?
        .iter()
        .filter_map(|o| Some((o.key()?.to_string(), o.e_tag().unwrap_or_default().to_string())))
        .collect();
    tracing::debug!(bucket, prefix, contracts = keys.len(), "listed contracts");
    Ok(keys)
}

/// The contract at `uri` (`s3://bucket/key`), as written: the one a dataset was validated against
/// ([`Dataset::contract_source`](crate::pipeline::Dataset::contract_source)), which the later stages read
/// instead of searching the contracts prefix again.
pub async fn contract_at(client: &Client, uri: &str) -> Result<Contract> {
    let (bucket, key) = parse_s3_uri(uri)?;
    let what = format!("GetObject {uri}");
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| match e.as_service_error() {
            Some(se) if se.is_no_such_key() => Error::ContractNotFound {
                key: key.to_string(),
                searched: vec![uri.to_string()],
            },
            _ => sdk_error(&what, e),
        })?;
    if out.content_length().unwrap_or(0) > MAX_CONTRACT_BYTES {
        return Err(Error::contract_invalid(uri, "over the 1 MiB limit for contracts"));
    }
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| Error::retryable(format!("{what}: body read failed: {e}")).with_source(e))?
        .into_bytes();
    parse_contract(&bytes, key)
}

/// `s3://bucket/key` → (bucket, key).
pub fn parse_s3_uri(uri: &str) -> Result<(&str, &str)> {
    uri.strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        .ok_or_else(|| Error::InvalidEvent(format!("{uri:?} is not an s3://bucket/key URI")))
}

/// Download and compile one contract file (pinned to the ETag seen in the listing).
async fn load(client: &Client, bucket: &str, key: &str, e_tag: &str) -> Result<LoadedContract> {
    let source = s3_uri(bucket, key, None);
    let what = format!("GetObject {source}");
    let response = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_if_match((!e_tag.is_empty()).then(|| e_tag.to_string()))
        .send()
        .await
        .map_err(|e| sdk_error(&what, e))?;
    if response.content_length().unwrap_or(0) > MAX_CONTRACT_BYTES {
        return Err(Error::contract_invalid(
            &source,
            format!(
                "{} bytes is over the {MAX_CONTRACT_BYTES}-byte limit for contracts",
                response.content_length().unwrap_or(0)
            ),
        ));
    }
    let bytes = response
        .body
        .collect()
        .await
        .map_err(|e| Error::retryable(format!("{what}: body read failed: {e}")).with_source(e))?
        .into_bytes();
    let contract = parse_contract(&bytes, key)?;
    let validator = Validator::new(contract.clone(), &source)?;
    tracing::info!(contract = %source, "compiled contract");
    Ok(LoadedContract {
        source,
        key: key.to_string(),
        contract,
        validator,
    })
}

fn not_found(bucket: &str, prefix: &str, key: &str, candidates: &[String]) -> Error {
    let exts = CONTRACT_EXTENSIONS.join(",");
    let mut searched: Vec<String> = candidates
        .chunks(CONTRACT_EXTENSIONS.len())
        .filter_map(|group| group.first())
        .filter_map(|first| first.rsplit_once('.'))
        .map(|(base, _)| format!("s3://{bucket}/{base}.{{{exts}}}"))
        .collect();
    if searched.is_empty() {
        searched.push(format!(
            "s3://{bucket}/{prefix}<folder>.{{{exts}}} (the key has no folder)"
        ));
    }
    Error::ContractNotFound {
        key: key.to_string(),
        searched,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_longest_folder_first() {
        let c = candidate_keys("contracts/", "incoming/sales/2026/x.csv");
        assert_eq!(c.len(), 12);
        assert_eq!(
            &c[..4],
            &[
                "contracts/incoming/sales/2026.yaml",
                "contracts/incoming/sales/2026.yml",
                "contracts/incoming/sales/2026.json",
                "contracts/incoming/sales/2026.dqdl",
            ]
        );
        assert_eq!(c[4], "contracts/incoming/sales.yaml");
        assert_eq!(c[8], "contracts/incoming.yaml");
        assert!(candidate_keys("contracts/", "root.csv").is_empty());
    }

    #[test]
    fn not_found_lists_what_was_searched() {
        let key = "a/b/x.csv";
        let err = not_found("bkt", "contracts/", key, &candidate_keys("contracts/", key));
        let Error::ContractNotFound { searched, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(
            searched,
            &[
                "s3://bkt/contracts/a/b.{yaml,yml,json,dqdl}".to_string(),
                "s3://bkt/contracts/a.{yaml,yml,json,dqdl}".to_string(),
            ]
        );
        let err = not_found("bkt", "contracts/", "x.csv", &[]);
        assert!(err.to_string().contains("no folder"), "{err}");
    }
}
