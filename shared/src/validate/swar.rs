//! Word-at-a-time parsers for the CSV hot loop: short integers and decimals are read 8 or 16 bytes at a
//! time instead of byte by byte.
//!
//! They need to load whole words from the field's start, so they take the field's bytes (`s`) together
//! with the bytes that follow it in memory (`pad`, with `pad[..s.len()] == s`): the rest of the record
//! and of the read window. Only `pad[..s.len()]` decides the result; when `pad` is too short for a
//! whole-word load, or the value is not in the simple form, they fall back to the byte-wise parsers of
//! [`super::values`], so the results are always exactly theirs.

use super::values::{parse_f64, parse_i64};

const ZEROS: u64 = 0x3030_3030_3030_3030;
const HIGH_NIBBLES: u64 = 0xf0f0_f0f0_f0f0_f0f0;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The value of the `len` (1..=8) ASCII digits in the low `len` bytes of `w` (loaded little-endian, so
/// the first digit is the lowest byte); `None` when one of them is not a digit. The bytes above `len`
/// are ignored.
#[inline(always)]
fn digits8(w: u64, len: usize) -> Option<u64> {
    debug_assert!((1..=8).contains(&len));
    // Move the digits to the top bytes: the zero bytes below them read as leading zeros.
    let shift = 8 * (8 - len as u32);
    let x = w << shift;
    let zeros = ZEROS << shift;
    let d = x.wrapping_sub(zeros);
    // Every digit byte is 0x30..=0x3f (so no borrow above) and at most 9 once `0` is subtracted.
    if x & (HIGH_NIBBLES << shift) != zeros || d.wrapping_add(0x7676_7676_7676_7676) & HIGH_BITS != 0 {
        return None;
    }
    // Combine pairs of digits, then pairs of pairs, then the two halves.
    let v = (d * 10 + (d >> 8)) & 0x00ff_00ff_00ff_00ff;
    let v = (v * 100 + (v >> 16)) & 0x0000_ffff_0000_ffff;
    Some((v * 10_000 + (v >> 32)) & 0xffff_ffff)
}

/// `[+-]?[0-9]+` as an i64, like [`parse_i64`].
#[inline(always)]
pub(crate) fn int(s: &[u8], pad: &[u8]) -> Option<i64> {
    match int_word(s, pad) {
        Some(v) => v,
        None => parse_i64(s),
    }
}

/// [`int`] for up to 8 digits and a sign, read as one word: `Some(value)`, or `None` when the field is
/// not in that form (which may still be a valid integer: ask [`int`]).
#[inline(always)]
pub(crate) fn int_short(s: &[u8], pad: &[u8]) -> Option<i64> {
    int_word(s, pad).flatten()
}

/// `None`: not in the short form; `Some(parsed)` otherwise.
#[inline(always)]
fn int_word(s: &[u8], pad: &[u8]) -> Option<Option<i64>> {
    let first = *s.first()?;
    let sign = usize::from(first == b'-' || first == b'+');
    let n = s.len() - sign;
    if !(1..=8).contains(&n) {
        return None;
    }
    let w = pad.get(sign..sign + 8)?;
    let w = u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
    Some(digits8(w, n).map(|v| if first == b'-' { -(v as i64) } else { v as i64 }))
}

const POW10: [f64; 9] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8];

/// A float, exactly as [`parse_f64`] (and so `f64::from_str`) reads it. Fast for up to 8 digits with at
/// most one `.` and no exponent: the mantissa and the power of ten are then exact doubles, so one
/// division is correctly rounded (Clinger's fast path).
#[inline(always)]
pub(crate) fn float(s: &str, pad: &[u8]) -> Option<f64> {
    match float_word(s, pad) {
        Some(v) => v,
        None => parse_f64(s),
    }
}

/// [`float`] for its fast form (up to 8 digits, at most one `.`, no exponent): `Some(value)`, or `None`
/// when the field is not in that form (which may still be a valid float: ask [`float`]).
#[inline(always)]
pub(crate) fn float_short(s: &str, pad: &[u8]) -> Option<f64> {
    float_word(s, pad).flatten()
}

/// `None`: not in the fast form; `Some(parsed)` otherwise.
#[inline(always)]
fn float_word(s: &str, pad: &[u8]) -> Option<Option<f64>> {
    let b = s.as_bytes();
    let first = *b.first()?;
    let sign = usize::from(first == b'-' || first == b'+');
    let n = b.len() - sign;
    if (1..=9).contains(&n) {
        if let Some(w) = pad.get(sign..sign + 9) {
            let a = u64::from_le_bytes(w[..8].try_into().unwrap_or([0; 8]));
            // High bit set in exactly the bytes of the first min(n, 8) that are `.` (zero bytes of `x`).
            let x = a ^ u64::from_ne_bytes([b'.'; 8]);
            let body = HIGH_BITS >> (8 * (8 - n.min(8) as u32));
            let dots = !(((x & LO7) + LO7) | x | LO7) & body;
            let (digits, n_digits, frac) = if dots == 0 {
                (a, n, 0)
            } else if dots & (dots - 1) == 0 {
                // Drop the dot: the bytes above it move down one; a 9th byte becomes the 8th digit.
                let k = dots.trailing_zeros() / 8;
                let below = (1u64 << (8 * k)) - 1;
                let joined = (a & below) | ((a >> 8) & !below) | (u64::from(w[8]) << 56);
                (joined, n - 1, n - 1 - k as usize)
            } else {
                return None;
            };
            if (1..=8).contains(&n_digits) {
                if let Some(m) = digits8(digits, n_digits) {
                    let v = m as f64 / POW10[frac];
                    return Some(Some(if first == b'-' { -v } else { v }));
                }
            }
        }
    }
    None
}

const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

#[cfg(test)]
mod tests {
    use super::*;

    /// `s` followed by filler bytes, as a field sits in a record.
    fn padded(s: &str, filler: u8) -> Vec<u8> {
        let mut v = s.as_bytes().to_vec();
        v.extend(std::iter::repeat_n(filler, 20));
        v
    }

    fn samples() -> Vec<String> {
        let mut out: Vec<String> = [
            "",
            "-",
            "+",
            ".",
            "-.",
            "+.",
            "0",
            "-0",
            "+0",
            "00",
            "1",
            "9",
            "12",
            "123",
            "1234",
            "12345",
            "123456",
            "1234567",
            "12345678",
            "123456789",
            "1234567890",
            "99999999",
            "999999999",
            "-99999999",
            "12x",
            "x12",
            "1 2",
            " 12",
            "12 ",
            "1.",
            ".1",
            "-.1",
            "+1.",
            "1.5",
            "12.3.4",
            "1..2",
            "0.0",
            "-0.0",
            "95062.26",
            "0.246",
            "-798.5830",
            "59.45309",
            "1234567.8",
            "1.2345678",
            "12345678.",
            ".12345678",
            "1.23456789",
            "1e5",
            "1E-3",
            "-1e+2",
            "inf",
            "-inf",
            "NaN",
            "nan",
            "infinity",
            "1.5e",
            "0x10",
            "1_000",
            "١٢",
            "12\u{e9}",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "000000001",
            "0000000.1",
            "/",
            ":",
            "12/4",
            "12:4",
            "-:",
            "1-2",
            "+-1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Every length and position of the dot, with every digit and a few non-digits around it.
        for len in 1..=11 {
            for dot in 0..=len {
                for d in [b'0', b'5', b'9'] {
                    let mut s: Vec<u8> = (0..len).map(|i| b'1' + (i as u8 * 3 + d) % 9).collect();
                    if dot < len {
                        s[dot] = b'.';
                    }
                    let s = String::from_utf8(s).unwrap();
                    out.push(format!("-{s}"));
                    out.push(s);
                }
            }
            for bad in [b'/', b':', b' ', b'e', 0xff] {
                for at in 0..len {
                    let mut s: Vec<u8> = (0..len).map(|i| b'0' + (i as u8 * 7) % 10).collect();
                    s[at] = bad;
                    if let Ok(s) = String::from_utf8(s) {
                        out.push(s);
                    }
                }
            }
        }
        // Pseudo-random decimals.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = (x % 100_000_000) as f64;
            let scale = (x >> 40) % 9;
            out.push(format!(
                "{:.*}",
                scale as usize,
                digits / 10f64.powi(scale as i32)
            ));
            out.push(format!("{}", (x >> 20) % 100_000_000));
        }
        out
    }

    #[test]
    fn int_is_parse_i64() {
        for s in samples() {
            for filler in [b'0', b',', b'.', 0] {
                let p = padded(&s, filler);
                assert_eq!(int(s.as_bytes(), &p), parse_i64(s.as_bytes()), "{s:?}");
                // No room for a whole word: the byte-wise path.
                assert_eq!(int(s.as_bytes(), s.as_bytes()), parse_i64(s.as_bytes()), "{s:?}");
            }
        }
    }

    #[test]
    fn float_is_f64_from_str() {
        for s in samples() {
            let want = s.parse::<f64>().ok();
            for filler in [b'0', b',', b'.', 0] {
                let p = padded(&s, filler);
                for got in [float(&s, &p), float(&s, s.as_bytes())] {
                    match (got, want) {
                        (Some(a), Some(b)) if a.is_nan() && b.is_nan() => {}
                        (Some(a), Some(b)) => assert_eq!(a.to_bits(), b.to_bits(), "{s:?}"),
                        (a, b) => assert_eq!(a, b, "{s:?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn digits8_every_length() {
        for len in 1..=8usize {
            for v in [0u64, 1, 7, 10, 99, 12_345_678, 99_999_999, 10_000_000] {
                let s = format!("{v:0len$}");
                if s.len() != len {
                    continue;
                }
                let mut b = s.into_bytes();
                b.resize(8, b'x');
                assert_eq!(digits8(u64::from_le_bytes(b.try_into().unwrap()), len), Some(v));
            }
        }
    }
}
