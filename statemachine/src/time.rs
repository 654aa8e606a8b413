//! Timestamps as Step Functions reads and writes them: RFC 3339 with an uppercase `T` separator
//! and an uppercase `Z` (or a numeric offset), e.g. `2016-08-18T17:33:00Z`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch (negative before 1970).
pub(crate) type EpochNanos = i128;

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn digits(s: &[u8], at: usize, n: usize) -> Option<u32> {
    let part = s.get(at..at + n)?;
    let mut v = 0u32;
    for &c in part {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// Parses a Step Functions timestamp; `None` when it is not one.
pub(crate) fn parse(s: &str) -> Option<EpochNanos> {
    let b = s.as_bytes();
    let year = digits(b, 0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || b.get(10) != Some(&b'T') {
        return None;
    }
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let hour = digits(b, 11, 2)?;
    let minute = digits(b, 14, 2)?;
    let second = digits(b, 17, 2)?;
    let y = i64::from(year);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(y, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut i = 19;
    let mut nanos: i128 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        let mut scale: i128 = 100_000_000;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            nanos += i128::from(c - b'0') * scale;
            scale /= 10;
            i += 1;
        }
        if i == start || i - start > 9 {
            return None;
        }
    }
    let offset_secs: i64 = match b.get(i) {
        Some(b'Z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && b.get(i + 3) == Some(&b':') => {
            let oh = digits(b, i + 1, 2)?;
            let om = digits(b, i + 4, 2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let off = i64::from(oh * 3600 + om * 60);
            if sign == b'-' {
                -off
            } else {
                off
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_secs;
    Some(i128::from(secs) * 1_000_000_000 + nanos)
}

pub(crate) fn to_epoch_nanos(t: SystemTime) -> EpochNanos {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

/// Duration from `now` until `target`, zero when `target` is in the past.
pub(crate) fn until(now: SystemTime, target: EpochNanos) -> Duration {
    let delta = target - to_epoch_nanos(now);
    if delta <= 0 {
        Duration::ZERO
    } else {
        let secs = (delta / 1_000_000_000).min(i128::from(u64::MAX)) as u64;
        Duration::new(secs, (delta % 1_000_000_000) as u32)
    }
}

/// Formats as `2024-01-02T03:04:05.678Z` (millisecond precision, like Step Functions).
pub fn format_rfc3339(t: SystemTime) -> String {
    let n = to_epoch_nanos(t);
    let ms_total = n.div_euclid(1_000_000);
    let secs = ms_total.div_euclid(1000) as i64;
    let ms = ms_total.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utc_and_offsets() {
        let a = parse("2016-08-18T17:33:00Z").unwrap();
        let b = parse("2016-08-18T19:33:00+02:00").unwrap();
        assert_eq!(a, b);
        assert_eq!(parse("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse("1970-01-01T00:00:00.5Z"), Some(500_000_000));
        assert_eq!(parse("1969-12-31T23:59:59Z"), Some(-1_000_000_000));
    }

    #[test]
    fn rejects_lowercase_and_bad_dates() {
        for s in [
            "2016-08-18t17:33:00Z",
            "2016-08-18T17:33:00z",
            "2016-08-18 17:33:00Z",
            "2016-02-30T00:00:00Z",
            "2016-08-18T24:00:00Z",
            "2016-08-18T17:33:00",
            "2016-08-18T17:33:00.Z",
            "2016-08-18",
            "",
            "2016-08-18T17:33:00+0200",
        ] {
            assert_eq!(parse(s), None, "{s}");
        }
        assert!(parse("2016-02-29T00:00:00Z").is_some());
        assert!(parse("2015-02-29T00:00:00Z").is_none());
    }

    #[test]
    fn formats_round_trip() {
        let t = UNIX_EPOCH + Duration::from_millis(1_471_541_580_123);
        let s = format_rfc3339(t);
        assert_eq!(s, "2016-08-18T17:33:00.123Z");
        assert_eq!(parse(&s), Some(to_epoch_nanos(t)));
    }
}
