//! Configuration of the AWS-facing stages, read once per cold start from the environment.
//!
//! Every setting is an environment variable; a malformed value fails the cold start with
//! [`Error::Config`] naming the variable. AWS endpoint, region and credentials come from the standard SDK
//! chain (`AWS_ENDPOINT_URL`, `AWS_REGION`, ...), so the same binary talks to AWS or to a local emulator.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::{Error, Result};

/// Settings of the validate-dataset stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `GREENPIPE_STATE_MACHINE_ARN` (optional): the pipeline state machine started for every valid
    /// object. Unset: valid objects are reported, nothing is started.
    pub state_machine_arn: Option<String>,
    /// `GREENPIPE_CONTRACTS_BUCKET` (optional): bucket holding the data contracts. Default: the bucket of
    /// the object being validated.
    pub contracts_bucket: Option<String>,
    /// `GREENPIPE_CONTRACTS_PREFIX` (default `contracts/`): where contracts live; see
    /// [`crate::aws::contracts`] for how a key finds its contract. Objects under it are never validated.
    pub contracts_prefix: String,
    /// `GREENPIPE_REPORTS_PREFIX` (default `greenpipe/reports/`): validation reports are written to
    /// `<prefix><key>/<version-id or etag>.json` in the object's bucket. Objects under it are ignored.
    pub reports_prefix: String,
    /// `GREENPIPE_QUARANTINE_PREFIX` (default `greenpipe/quarantine/`): invalid objects are copied to
    /// `<prefix><key>/<version-or-etag>/<file name>` in the object's bucket (the source is never changed).
    /// Objects under it are ignored.
    pub quarantine_prefix: String,
    /// `GREENPIPE_MAX_OBJECT_BYTES` (optional): objects larger than this are rejected with
    /// `ObjectTooLarge` before a byte is read. Unset: no limit.
    pub max_object_bytes: Option<u64>,
    /// `GREENPIPE_CONTRACTS_CACHE_SECONDS` (default 300): how long a warm function reuses its listing of
    /// the contracts prefix. A key whose contract is missing from the cached listing triggers one fresh
    /// listing anyway, so new contracts are found at once; changed contracts are seen after this delay.
    pub contracts_cache_ttl: Duration,
    /// `GREENPIPE_S3_FORCE_PATH_STYLE` (default `false`): path-style S3 URLs, for S3-compatible endpoints
    /// such as a local emulator on `localhost`.
    pub s3_force_path_style: bool,
    /// `GREENPIPE_MULTIPART_COPY_THRESHOLD_BYTES` (default and maximum 5 GiB, S3's CopyObject limit):
    /// server-side copies of larger objects use multipart copy (UploadPartCopy). Lower only to test it.
    pub multipart_copy_threshold: u64,
    /// `GREENPIPE_MULTIPART_COPY_PART_BYTES` (default 512 MiB, at least 5 MiB, S3's smallest part): part
    /// size of multipart copies (raised automatically to stay within S3's 10,000 parts).
    pub multipart_copy_part_bytes: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            state_machine_arn: None,
            contracts_bucket: None,
            contracts_prefix: "contracts/".into(),
            reports_prefix: "greenpipe/reports/".into(),
            quarantine_prefix: "greenpipe/quarantine/".into(),
            max_object_bytes: None,
            contracts_cache_ttl: Duration::from_secs(300),
            s3_force_path_style: false,
            multipart_copy_threshold: 5 << 30,
            multipart_copy_part_bytes: 512 << 20,
        }
    }
}

impl Config {
    /// The call tables' placeholders these settings decide (see `aws::access::values`); `bucket` is the
    /// data bucket, where contracts live unless a contracts bucket is set.
    pub fn placeholders(&self, bucket: &str) -> BTreeMap<&'static str, String> {
        let mut v = BTreeMap::from([
            ("reports", self.reports_prefix.clone()),
            ("quarantine", self.quarantine_prefix.clone()),
            ("contracts", self.contracts_prefix.clone()),
            (
                "contracts_bucket",
                self.contracts_bucket
                    .clone()
                    .unwrap_or_else(|| bucket.to_string()),
            ),
        ]);
        if let Some(arn) = &self.state_machine_arn {
            v.insert("state_machine", arn.clone());
        }
        v
    }

    /// Read the configuration from the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Read the configuration through `lookup` (the environment, or a map in tests). Empty values count
    /// as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let defaults = Config::default();
        let config = Config {
            state_machine_arn: get("GREENPIPE_STATE_MACHINE_ARN")
                .map(|arn| check_state_machine_arn("GREENPIPE_STATE_MACHINE_ARN", arn))
                .transpose()?,
            contracts_bucket: get("GREENPIPE_CONTRACTS_BUCKET"),
            contracts_prefix: prefix(get, "GREENPIPE_CONTRACTS_PREFIX", defaults.contracts_prefix)?,
            reports_prefix: prefix(get, "GREENPIPE_REPORTS_PREFIX", defaults.reports_prefix)?,
            quarantine_prefix: prefix(get, "GREENPIPE_QUARANTINE_PREFIX", defaults.quarantine_prefix)?,
            max_object_bytes: get("GREENPIPE_MAX_OBJECT_BYTES")
                .map(|v| parse_u64("GREENPIPE_MAX_OBJECT_BYTES", &v))
                .transpose()?,
            contracts_cache_ttl: get("GREENPIPE_CONTRACTS_CACHE_SECONDS")
                .map(|v| parse_u64("GREENPIPE_CONTRACTS_CACHE_SECONDS", &v).map(Duration::from_secs))
                .transpose()?
                .unwrap_or(defaults.contracts_cache_ttl),
            s3_force_path_style: get("GREENPIPE_S3_FORCE_PATH_STYLE")
                .map(|v| parse_bool("GREENPIPE_S3_FORCE_PATH_STYLE", &v))
                .transpose()?
                .unwrap_or(false),
            multipart_copy_threshold: bounded(
                get("GREENPIPE_MULTIPART_COPY_THRESHOLD_BYTES"),
                "GREENPIPE_MULTIPART_COPY_THRESHOLD_BYTES",
                1..=defaults.multipart_copy_threshold,
            )?
            .unwrap_or(defaults.multipart_copy_threshold),
            multipart_copy_part_bytes: bounded(
                get("GREENPIPE_MULTIPART_COPY_PART_BYTES"),
                "GREENPIPE_MULTIPART_COPY_PART_BYTES",
                (5 << 20)..=(5 << 30),
            )?
            .unwrap_or(defaults.multipart_copy_part_bytes),
        };
        config.check_prefixes()?;
        Ok(config)
    }

    /// The S3 client every stage uses: the standard SDK configuration, plus path-style addressing when
    /// `GREENPIPE_S3_FORCE_PATH_STYLE` asks for it (S3-compatible endpoints and emulators on localhost).
    pub fn s3_client(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(self.s3_force_path_style)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// The S3 client of a deployed stage: [`Config::s3_client`] with the stage's
    /// [`Guard`](super::access::Guard).
    pub fn stage_s3_client(
        &self,
        stage: crate::stages::Stage,
        sdk: &aws_config::SdkConfig,
    ) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(self.s3_force_path_style)
            .interceptor(super::access::Guard(stage))
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// Whether `key` is one of greenpipe's own outputs or a contract: events for those are ignored, so
    /// writing a report or a quarantine copy never triggers another validation.
    pub fn is_own_key(&self, key: &str) -> bool {
        [
            &self.contracts_prefix,
            &self.reports_prefix,
            &self.quarantine_prefix,
        ]
        .iter()
        .any(|p| key.starts_with(p.as_str()))
    }

    fn check_prefixes(&self) -> Result<()> {
        let named = [
            ("GREENPIPE_REPORTS_PREFIX", &self.reports_prefix),
            ("GREENPIPE_QUARANTINE_PREFIX", &self.quarantine_prefix),
            ("GREENPIPE_CONTRACTS_PREFIX", &self.contracts_prefix),
        ];
        for (i, (a_name, a)) in named.iter().enumerate() {
            for (b_name, b) in &named[i + 1..] {
                if a.starts_with(b.as_str()) || b.starts_with(a.as_str()) {
                    return Err(Error::Config(format!(
                        "{a_name} ({a}) and {b_name} ({b}) overlap; they must be distinct prefixes"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Normalise a key prefix to end with exactly one `/` (and no leading `/`, which S3 keys rarely have).
/// The bucket root is refused: every object would then be one of our own.
fn prefix(get: impl Fn(&str) -> Option<String>, name: &str, default: String) -> Result<String> {
    match get(name) {
        None => Ok(default),
        Some(v) if v.trim_matches('/').is_empty() => Err(Error::Config(format!(
            "{name}={v:?} must name a folder, not the bucket root"
        ))),
        Some(v) => Ok(format!("{}/", v.trim_matches('/'))),
    }
}

fn parse_u64(name: &str, value: &str) -> Result<u64> {
    value
        .replace('_', "")
        .parse()
        .map_err(|_| Error::Config(format!("{name}={value:?} is not a whole number")))
}

/// An optional whole number within `range`.
fn bounded(value: Option<String>, name: &str, range: std::ops::RangeInclusive<u64>) -> Result<Option<u64>> {
    let Some(v) = value else {
        return Ok(None);
    };
    let n = parse_u64(name, &v)?;
    if !range.contains(&n) {
        return Err(Error::Config(format!(
            "{name}={v:?} is not within {}..={}",
            range.start(),
            range.end()
        )));
    }
    Ok(Some(n))
}

fn parse_bool(name: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(Error::Config(format!(
            "{name}={value:?} is not a boolean (true/false)"
        ))),
    }
}

fn check_state_machine_arn(name: &str, arn: String) -> Result<String> {
    // arn:<partition>:states:<region>:<account>:stateMachine:<name>
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() >= 7 && parts[0] == "arn" && parts[2] == "states" && parts[5] == "stateMachine" {
        Ok(arn)
    } else {
        Err(Error::Config(format!(
            "{name}={arn:?} is not a Step Functions state machine ARN"
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults() {
        assert_eq!(config(&[]).unwrap(), Config::default());
    }

    #[test]
    fn reads_and_normalises() {
        let c = config(&[
            (
                "GREENPIPE_STATE_MACHINE_ARN",
                "arn:aws:states:us-east-1:123456789012:stateMachine:pipe",
            ),
            ("GREENPIPE_REPORTS_PREFIX", "/out/reports"),
            ("GREENPIPE_MAX_OBJECT_BYTES", "1_000"),
            ("GREENPIPE_CONTRACTS_CACHE_SECONDS", "0"),
            ("GREENPIPE_S3_FORCE_PATH_STYLE", "TRUE"),
            ("GREENPIPE_CONTRACTS_BUCKET", " "),
        ])
        .unwrap();
        assert_eq!(c.reports_prefix, "out/reports/");
        assert_eq!(c.max_object_bytes, Some(1000));
        assert_eq!(c.contracts_cache_ttl, Duration::ZERO);
        assert!(c.s3_force_path_style);
        assert_eq!(c.contracts_bucket, None);
        assert!(c.is_own_key("out/reports/x.csv/v.json"));
        assert!(c.is_own_key("contracts/sales.yaml"));
        assert!(!c.is_own_key("sales/x.csv"));
    }

    #[test]
    fn errors_name_the_variable() {
        for (name, value) in [
            ("GREENPIPE_MAX_OBJECT_BYTES", "10MB"),
            ("GREENPIPE_STATE_MACHINE_ARN", "pipeline"),
            ("GREENPIPE_S3_FORCE_PATH_STYLE", "maybe"),
            ("GREENPIPE_CONTRACTS_CACHE_SECONDS", "-1"),
            ("GREENPIPE_MULTIPART_COPY_THRESHOLD_BYTES", "6000000000"),
            ("GREENPIPE_MULTIPART_COPY_PART_BYTES", "1024"),
        ] {
            let err = config(&[(name, value)]).unwrap_err();
            assert_eq!(err.error_type(), "ConfigError");
            assert!(err.to_string().contains(name), "{err}");
        }
        let err = config(&[("GREENPIPE_REPORTS_PREFIX", "/")]).unwrap_err();
        assert!(err.to_string().contains("GREENPIPE_REPORTS_PREFIX"), "{err}");
        let err = config(&[("GREENPIPE_QUARANTINE_PREFIX", "greenpipe/reports/q")]).unwrap_err();
        assert!(err.to_string().contains("GREENPIPE_QUARANTINE_PREFIX"), "{err}");
    }
}
