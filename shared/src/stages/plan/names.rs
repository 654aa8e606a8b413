//! Deterministic SageMaker resource names. Training jobs, models and transform jobs share SageMaker's
//! rule: 1..=63 characters of `[a-zA-Z0-9-]`, starting and ending with a letter or digit, unique per
//! account and region.

/// SageMaker's limit for job and model names.
pub const MAX_NAME: usize = 63;
/// Room kept for a retry suffix (`-2` .. `-99`) after a failed or stopped job of the same name.
const SUFFIX_ROOM: usize = 3;

/// `dataset` reduced to SageMaker's alphabet: other characters become `-`, runs of `-` collapse, no
/// leading or trailing `-`. An empty result is `dataset`.
pub fn sanitize(dataset: &str) -> String {
    let mut out = String::with_capacity(dataset.len());
    for c in dataset.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        "dataset".into()
    } else {
        out
    }
}

/// The hex digest of a fingerprint (`blake3:<hex>` → `<hex>`), lower-cased; other characters dropped.
pub fn fingerprint_hex(fingerprint: &str) -> String {
    let digest = fingerprint.rsplit(':').next().unwrap_or(fingerprint);
    let hex: String = digest
        .chars()
        .filter(char::is_ascii_hexdigit)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if hex.is_empty() {
        // Not a digest: hash whatever it is, so the name still follows the data.
        blake3::hash(fingerprint.as_bytes()).to_hex().to_string()
    } else {
        hex
    }
}

/// A short hex hash of `text` (the first `len` hex digits of its BLAKE3).
pub fn short_hash(text: &str, len: usize) -> String {
    let hex = blake3::hash(text.as_bytes()).to_hex();
    hex[..len.min(hex.len())].to_string()
}

/// `<dataset>-<part>-<part>...`, the dataset part cut so that the name, plus room for a retry suffix,
/// fits in 63 characters. Parts must already be in SageMaker's alphabet (hex digests, short words).
pub fn job_name(dataset: &str, parts: &[&str]) -> String {
    let tail: String = parts.iter().map(|p| format!("-{p}")).collect();
    let room = MAX_NAME.saturating_sub(SUFFIX_ROOM + tail.len()).max(1);
    let mut head: String = sanitize(dataset).chars().take(room).collect();
    while head.ends_with('-') {
        head.pop();
    }
    format!("{head}{tail}")
}

/// The name of the `attempt`-th try (1 = the name itself, 2 = `<name>-2`, ...).
pub fn with_attempt(name: &str, attempt: u32) -> String {
    if attempt <= 1 {
        name.to_string()
    } else {
        format!("{name}-{attempt}")
    }
}

/// Whether `name` is a valid SageMaker job or model name.
pub fn is_valid(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_and_stable() {
        let fp = "blake3:4C1B2A4F0E6BD4A0B8F1A2F4E3D6C9B8A7F6E5D4C3B2A1908F7E6D5C4B3A2918";
        let hex = fingerprint_hex(fp);
        assert_eq!(&hex[..12], "4c1b2a4f0e6b");
        let a = job_name("Sales / EU_2026", &[&hex[..12], "a1b2c3"]);
        assert_eq!(a, "Sales-EU-2026-4c1b2a4f0e6b-a1b2c3");
        assert_eq!(a, job_name("Sales / EU_2026", &[&hex[..12], "a1b2c3"]));
        assert!(is_valid(&a));
        let long = job_name(&"x_".repeat(100), &[&hex[..12], "a1b2c3", "tf"]);
        assert!(is_valid(&long), "{long}");
        assert!(long.len() <= MAX_NAME - 3, "{long}");
        assert!(is_valid(&with_attempt(&long, 99)));
        assert_eq!(job_name("___", &["ab"]), "dataset-ab");
        assert_eq!(job_name("é", &["ab"]), "dataset-ab");
    }

    #[test]
    fn fingerprints_without_a_digest_are_hashed() {
        assert_eq!(fingerprint_hex("blake3:00ff"), "00ff");
        assert_eq!(fingerprint_hex("zzz").len(), 64);
    }
}
