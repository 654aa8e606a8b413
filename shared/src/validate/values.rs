//! Values as the formats hand them to the checks ([`Cell`]), typed values ([`Val`]) and the hand-written
//! parsers of the hot loop.
//!
//! Text syntax accepted for each declared type (no surrounding whitespace is trimmed, ever):
//! - `int`: optional `+`/`-`, then ASCII digits; must fit in an i64.
//! - `float`: what Rust's `f64::from_str` accepts (`1`, `-2.5`, `.5`, `5.`, `1e-3`, `inf`, `NaN`). The
//!   common forms take an exact fast path (Clinger's: ≤ 19 digits, mantissa ≤ 2^53, |exponent| ≤ 22),
//!   everything else goes to the standard library, so results are always correctly rounded.
//! - `bool`: `true` / `false` in any letter case, `1` / `0`.
//! - `date`: `YYYY-MM-DD` (a real calendar day).
//! - `timestamp`: `YYYY-MM-DD`, optionally followed by `T`, `t` or a space and `HH:MM[:SS[.fraction]]`
//!   (fraction up to 9 digits, kept to the microsecond), optionally followed by `Z` or `±HH[:MM]`.
//!   A timestamp without an offset is taken as UTC.

use std::fmt::Write as _;

use twox_hash::XxHash3_64;

use crate::contract::ColumnType;

/// One value as read from the data, before it is checked against the column's declared type.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cell<'a> {
    /// NULL: JSON `null` or a missing key, a Parquet null.
    Null,
    /// Untyped text (a CSV field): parsed according to the declared type; empty = NULL.
    Text(&'a str),
    /// A typed string (JSON string, Parquet UTF-8): valid for string columns, parsed for date/timestamp.
    Str(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since 1970-01-01T00:00:00Z.
    Timestamp(i64),
    /// A value no column type accepts (a JSON object or array, Parquet binary / time / nested data).
    Other(&'static str),
}

impl<'a> Cell<'a> {
    #[cfg(test)]
    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Cell::Null) || matches!(self, Cell::Text(s) if s.is_empty())
    }

    /// The value's text, formatting non-text values into `scratch`.
    pub(crate) fn text<'s>(&self, scratch: &'s mut String) -> &'s str
    where
        'a: 's,
    {
        match *self {
            Cell::Text(s) | Cell::Str(s) => s,
            _ => {
                scratch.clear();
                self.write_display(scratch);
                scratch.as_str()
            }
        }
    }

    fn write_display(&self, out: &mut String) {
        let _ = match *self {
            Cell::Null => Ok(()),
            Cell::Text(s) | Cell::Str(s) => out.write_str(s),
            Cell::Int(i) => write!(out, "{i}"),
            Cell::Float(f) => write!(out, "{f}"),
            Cell::Bool(b) => write!(out, "{b}"),
            Cell::Date(d) => write_date(out, d),
            Cell::Timestamp(t) => write_timestamp(out, t),
            Cell::Other(kind) => write!(out, "<{kind}>"),
        };
    }

    /// The value as shown in a violation (`None` for NULL), truncated to [`MAX_VALUE_BYTES`].
    pub(crate) fn shown(&self) -> Option<String> {
        match *self {
            Cell::Null | Cell::Text("") => None,
            Cell::Text(s) | Cell::Str(s) => Some(truncate(s).to_string()),
            _ => {
                let mut s = String::new();
                self.write_display(&mut s);
                Some(s)
            }
        }
    }
}

/// Values in violations are cut to this many bytes.
pub(crate) const MAX_VALUE_BYTES: usize = 200;

/// Cut `s` to at most [`MAX_VALUE_BYTES`] bytes at a character boundary.
pub(crate) fn truncate(s: &str) -> &str {
    if s.len() <= MAX_VALUE_BYTES {
        return s;
    }
    let mut end = MAX_VALUE_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Lossy, truncated rendering of raw bytes (for records that are not valid UTF-8).
pub(crate) fn shown_bytes(b: &[u8]) -> String {
    let cut = &b[..b.len().min(MAX_VALUE_BYTES)];
    String::from_utf8_lossy(cut).into_owned()
}

/// The first 8 bytes of `s` as a big-endian integer (zero-padded): comparing two of these orders strings
/// like comparing them, except on ties.
#[inline]
pub(crate) fn prefix8(s: &str) -> u64 {
    let b = s.as_bytes();
    if let Some(head) = b.first_chunk::<8>() {
        return u64::from_be_bytes(*head);
    }
    let mut v = 0u64;
    for (i, &c) in b.iter().enumerate() {
        v |= u64::from(c) << (56 - 8 * i);
    }
    v
}

/// A value of a column's declared type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Val<'a> {
    Str(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
    Date(i32),
    Ts(i64),
}

impl Val<'_> {
    /// As a number, for numeric comparisons.
    pub(crate) fn number(&self) -> Option<f64> {
        match *self {
            Val::Int(i) => Some(i as f64),
            Val::Float(f) => Some(f),
            Val::Str(s) => parse_f64(s),
            _ => None,
        }
    }

    /// As microseconds since the epoch, for chronological comparisons.
    pub(crate) fn micros(&self) -> Option<i64> {
        match *self {
            Val::Date(d) => Some(date_micros_saturating(d)),
            Val::Ts(t) => Some(t),
            Val::Str(s) => parse_timestamp(s.as_bytes()),
            _ => None,
        }
    }

    /// A 64-bit hash of the value (xxh3), equal for equal values of the same type. A type tag is mixed in
    /// so that, in an untyped column, the string `"1"` and the number `1` are different values.
    pub(crate) fn hash(&self) -> u64 {
        match *self {
            Val::Str(s) => XxHash3_64::oneshot_with_seed(1, s.as_bytes()),
            Val::Int(i) => XxHash3_64::oneshot_with_seed(2, &i.to_le_bytes()),
            Val::Float(f) => {
                // One bit pattern per value: -0.0 == 0.0, and all NaNs are the same value.
                let bits = if f == 0.0 {
                    0u64
                } else if f.is_nan() {
                    f64::NAN.to_bits()
                } else {
                    f.to_bits()
                };
                XxHash3_64::oneshot_with_seed(3, &bits.to_le_bytes())
            }
            Val::Bool(b) => XxHash3_64::oneshot_with_seed(4, &[u8::from(b)]),
            Val::Date(d) => XxHash3_64::oneshot_with_seed(5, &d.to_le_bytes()),
            Val::Ts(t) => XxHash3_64::oneshot_with_seed(6, &t.to_le_bytes()),
        }
    }
}

/// Why a cell does not have the column's type.
pub(crate) struct TypeMismatch;

/// Read `cell` as a value of type `ty` (`None` = untyped column: keep the value as it is).
/// `Ok(None)` is NULL.
#[inline]
pub(crate) fn coerce<'a>(cell: &Cell<'a>, ty: Option<ColumnType>) -> Result<Option<Val<'a>>, TypeMismatch> {
    use ColumnType as T;
    let v = match *cell {
        Cell::Null => return Ok(None),
        Cell::Text(s) => {
            if s.is_empty() {
                return Ok(None);
            }
            match ty {
                None | Some(T::String) => Val::Str(s),
                Some(T::Int) => Val::Int(parse_i64(s.as_bytes()).ok_or(TypeMismatch)?),
                Some(T::Float) => Val::Float(parse_f64(s).ok_or(TypeMismatch)?),
                Some(T::Bool) => Val::Bool(parse_bool(s.as_bytes()).ok_or(TypeMismatch)?),
                Some(T::Date) => Val::Date(parse_date(s.as_bytes()).ok_or(TypeMismatch)?),
                Some(T::Timestamp) => Val::Ts(parse_timestamp(s.as_bytes()).ok_or(TypeMismatch)?),
            }
        }
        Cell::Str(s) => match ty {
            None | Some(T::String) => Val::Str(s),
            Some(T::Date) => Val::Date(parse_date(s.as_bytes()).ok_or(TypeMismatch)?),
            Some(T::Timestamp) => Val::Ts(parse_timestamp(s.as_bytes()).ok_or(TypeMismatch)?),
            Some(T::Int | T::Float | T::Bool) => return Err(TypeMismatch),
        },
        Cell::Int(i) => match ty {
            None | Some(T::Int) => Val::Int(i),
            Some(T::Float) => Val::Float(i as f64),
            _ => return Err(TypeMismatch),
        },
        Cell::Float(f) => match ty {
            None | Some(T::Float) => Val::Float(f),
            _ => return Err(TypeMismatch),
        },
        Cell::Bool(b) => match ty {
            None | Some(T::Bool) => Val::Bool(b),
            _ => return Err(TypeMismatch),
        },
        Cell::Date(d) => match ty {
            None | Some(T::Date) => Val::Date(d),
            // A date no timestamp can hold (Parquet DATE is any i32 of days) is not a timestamp; it
            // must not wrap into one that might pass a range check.
            Some(T::Timestamp) => Val::Ts(i64::from(d).checked_mul(MICROS_PER_DAY).ok_or(TypeMismatch)?),
            _ => return Err(TypeMismatch),
        },
        Cell::Timestamp(t) => match ty {
            None | Some(T::Timestamp) => Val::Ts(t),
            _ => return Err(TypeMismatch),
        },
        Cell::Other(_) => return Err(TypeMismatch),
    };
    Ok(Some(v))
}

pub(crate) fn type_name(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::String => "string",
        ColumnType::Int => "int",
        ColumnType::Float => "float",
        ColumnType::Bool => "bool",
        ColumnType::Timestamp => "timestamp",
        ColumnType::Date => "date",
    }
}

// ---------------------------------------------------------------------------------------------------
// Parsers

/// Signed 64-bit integer: `[+-]?[0-9]+`.
#[inline]
pub(crate) fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    if digits.len() <= 18 {
        // 18 digits cannot overflow an i64: no checks in the common case.
        let mut v: i64 = 0;
        for &b in digits {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            v = v * 10 + i64::from(d);
        }
        return Some(if neg { -v } else { v });
    }
    let mut v: u64 = 0;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    if neg {
        if v == 1u64 << 63 {
            Some(i64::MIN)
        } else {
            i64::try_from(v).ok().map(|v| -v)
        }
    } else {
        i64::try_from(v).ok()
    }
}

const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
    1e19, 1e20, 1e21, 1e22,
];

/// A float with the exact semantics of `f64::from_str`.
#[inline]
pub(crate) fn parse_f64(s: &str) -> Option<f64> {
    match fast_f64(s.as_bytes()) {
        Some(v) => Some(v),
        None => s.parse::<f64>().ok(),
    }
}

/// Clinger's fast path: exact when the decimal mantissa fits in 53 bits and the power of ten is exact.
/// `None` means "ask the standard library" (which also decides what is invalid).
#[inline]
fn fast_f64(b: &[u8]) -> Option<f64> {
    let first = *b.first()?;
    let neg = first == b'-';
    let mut i = usize::from(matches!(first, b'-' | b'+'));
    let int_start = i;
    let mut mant: u64 = 0;
    while let Some(&c) = b.get(i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        mant = mant.wrapping_mul(10).wrapping_add(u64::from(d));
        i += 1;
    }
    let mut digits = i - int_start;
    let mut exp: i32 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        while let Some(&c) = b.get(i) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            mant = mant.wrapping_mul(10).wrapping_add(u64::from(d));
            i += 1;
        }
        digits += i - frac_start;
        exp = -((i - frac_start).min(64) as i32);
    }
    if digits == 0 || digits > 19 {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        let eneg = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        let mut e: i32 = 0;
        while i < b.len() && i - start < 4 {
            let d = b[i].wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            e = e * 10 + i32::from(d);
            i += 1;
        }
        if i == start {
            return None;
        }
        exp += if eneg { -e } else { e };
    }
    if i != b.len() || mant > (1u64 << 53) {
        return None;
    }
    let m = mant as f64;
    let v = if exp == 0 {
        m
    } else if (1..=22).contains(&exp) {
        m * POW10[exp as usize]
    } else if (-22..0).contains(&exp) {
        m / POW10[(-exp) as usize]
    } else {
        return None;
    };
    Some(if neg { -v } else { v })
}

/// `true` / `false` (any case), `1` / `0`.
#[inline]
pub(crate) fn parse_bool(b: &[u8]) -> Option<bool> {
    // OR-ing 0x20 lowercases a letter and maps a byte to a lowercase letter only from that letter or its
    // uppercase form, so one compare per word checks every letter in any case.
    const LOWER: u32 = 0x2020_2020;
    let word = |w: &[u8; 4]| u32::from_le_bytes(*w) | LOWER;
    match b.len() {
        1 => match b[0] {
            b'1' => Some(true),
            b'0' => Some(false),
            _ => None,
        },
        4 if b.first_chunk().map(word) == Some(u32::from_le_bytes(*b"true")) => Some(true),
        5 if b.first_chunk().map(word) == Some(u32::from_le_bytes(*b"fals")) && b[4] | 0x20 == b'e' => {
            Some(false)
        }
        _ => None,
    }
}

#[inline]
fn digits2(b: &[u8]) -> Option<u32> {
    let a = b[0].wrapping_sub(b'0');
    let c = b[1].wrapping_sub(b'0');
    if a > 9 || c > 9 {
        return None;
    }
    Some(u32::from(a) * 10 + u32::from(c))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if is_leap(y) {
                29
            } else {
                28
            }
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
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

/// First year of [`MONTH_START`].
const TABLE_Y0: i64 = 1900;
/// Years covered by [`MONTH_START`].
const TABLE_YEARS: usize = 200;

/// Days since the epoch of the first day of each month from 1900-01 to 2100-01 (one past the end, so every
/// month's length is the next entry's difference): dates in that range need no calendar arithmetic.
static MONTH_START: [i32; TABLE_YEARS * 12 + 1] = month_starts();

const fn month_starts() -> [i32; TABLE_YEARS * 12 + 1] {
    let mut t = [0i32; TABLE_YEARS * 12 + 1];
    let mut i = 0;
    while i <= TABLE_YEARS * 12 {
        let y = TABLE_Y0 + (i / 12) as i64;
        let m = (i % 12) as i64 + 1;
        // days_from_civil(y, m, 1), as a const fn.
        let yy = if m <= 2 { y - 1 } else { y };
        let era = if yy >= 0 { yy } else { yy - 399 } / 400;
        let yoe = yy - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        t[i] = (era * 146_097 + doe - 719_468) as i32;
        i += 1;
    }
    t
}

/// `YYYY-MM-DD` at the start of `b` → days since the epoch. The ten bytes are checked as two words: the
/// eight of `YYYY-MM-` at once (digits and dashes in place), then the two of `DD`. Inlined into the hot
/// date and timestamp kernels: a call cost ~15 of its ~80 instructions.
#[inline(always)]
fn date_prefix(b: &[u8]) -> Option<i64> {
    const DASHES: u64 = 0x2d00_002d_0000_0000;
    const DASH_BYTES: u64 = 0xff00_00ff_0000_0000;
    const DIGIT_BYTES: u64 = 0x00ff_ff00_ffff_ffff;
    const ZEROS: u64 = 0x3030_3030_3030_3030 & DIGIT_BYTES;
    let head = b.first_chunk::<10>()?;
    let w = u64::from_le_bytes(*b.first_chunk::<8>()?);
    let x = w & DIGIT_BYTES;
    let d = x.wrapping_sub(ZEROS);
    // Dashes in place; every digit byte is 0x30..=0x3f (no borrow) and at most 9 once `0` is subtracted.
    if w & DASH_BYTES != DASHES
        || x & (0xf0f0_f0f0_f0f0_f0f0 & DIGIT_BYTES) != ZEROS
        || d.wrapping_add(0x7676_7676_7676_7676) & (0x8080_8080_8080_8080 & DIGIT_BYTES) != 0
    {
        return None;
    }
    let digit = |k: u32| ((d >> (8 * k)) & 0xff) as u32;
    let y = i64::from(digit(0) * 1000 + digit(1) * 100 + digit(2) * 10 + digit(3));
    let m = digit(5) * 10 + digit(6);
    // `DD` as one 16-bit word, checked like the digits above.
    let dd = u16::from_le_bytes([head[8], head[9]]);
    let e = dd.wrapping_sub(0x3030);
    if dd & 0xf0f0 != 0x3030 || e.wrapping_add(0x7676) & 0x8080 != 0 {
        return None;
    }
    let d = u32::from(e & 0xff) * 10 + u32::from(e >> 8);
    if m == 0 || m > 12 || d == 0 {
        return None;
    }
    let k = usize::try_from(y - TABLE_Y0).map_or(usize::MAX, |yy| yy * 12 + (m as usize - 1));
    if let (Some(&start), Some(&next)) = (MONTH_START.get(k), MONTH_START.get(k.wrapping_add(1))) {
        if d as i32 > next - start {
            return None;
        }
        return Some(i64::from(start) + i64::from(d) - 1);
    }
    if d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// [`parse_timestamp`] of the canonical `YYYY-MM-DDTHH:MM:SSZ` only: `None` for any other form, which
/// may still be a valid timestamp.
#[inline(always)]
pub(crate) fn parse_timestamp_canonical(b: &[u8]) -> Option<i64> {
    canonical_timestamp(b).flatten()
}

/// `None`: not in the canonical form (20 bytes, `T`, `:`, six digits, `Z`); `Some(parsed)` otherwise.
#[inline(always)]
fn canonical_timestamp(b: &[u8]) -> Option<Option<i64>> {
    let &[.., b'T', h1, h0, b':', m1, m0, b':', s1, s0, b'Z'] = b.first_chunk::<20>()? else {
        return None;
    };
    // One check for the six time digits.
    let hms = u64::from_be_bytes([h1, h0, m1, m0, s1, s0, b'0', b'0']);
    let d = hms.wrapping_sub(0x3030_3030_3030_3030);
    // Every byte is a digit: no borrow, and each byte is at most 9.
    let digits = (hms & 0xf0f0_f0f0_f0f0_f0f0) == 0x3030_3030_3030_3030
        && ((d + 0x7676_7676_7676_7676) & 0x8080_8080_8080_8080) == 0;
    if b.len() != 20 || !digits {
        return None;
    }
    let at = |k: u32| ((d >> (56 - 8 * k)) & 0xff) as i64;
    let (hh, mm, ss) = (at(0) * 10 + at(1), at(2) * 10 + at(3), at(4) * 10 + at(5));
    if hh > 23 || mm > 59 || ss > 59 {
        return Some(None);
    }
    Some(date_prefix(b).map(|days| days * MICROS_PER_DAY + (hh * 3600 + mm * 60 + ss) * 1_000_000))
}

/// `YYYY-MM-DD` → days since 1970-01-01.
#[inline]
pub(crate) fn parse_date(b: &[u8]) -> Option<i32> {
    if b.len() != 10 {
        return None;
    }
    i32::try_from(date_prefix(b)?).ok()
}

pub(crate) const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Days since the epoch as microseconds, for ordering only: dates past what an `i64` of microseconds
/// holds (about 292,000 years) saturate, so they still compare after (or before) every timestamp
/// instead of wrapping around.
pub(crate) fn date_micros_saturating(days: i32) -> i64 {
    i64::from(days).saturating_mul(MICROS_PER_DAY)
}

/// An ISO 8601 / RFC 3339 timestamp (see the module doc) → microseconds since the epoch, UTC.
#[inline]
pub(crate) fn parse_timestamp(b: &[u8]) -> Option<i64> {
    if let Some(v) = canonical_timestamp(b) {
        return v;
    }
    let days = date_prefix(b)?;
    let mut micros = days * MICROS_PER_DAY;
    if b.len() == 10 {
        return Some(micros);
    }
    if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 16 || b[13] != b':' {
        return None;
    }
    let hh = digits2(&b[11..13])?;
    let mm = digits2(&b[14..16])?;
    let mut i = 16;
    let mut ss = 0;
    let mut frac: i64 = 0;
    if b.get(i) == Some(&b':') {
        ss = digits2(b.get(i + 1..i + 3)?)?;
        i += 3;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                if i - start < 6 {
                    frac = frac * 10 + i64::from(b[i] - b'0');
                }
                i += 1;
            }
            let n = i - start;
            if n == 0 || n > 9 {
                return None;
            }
            for _ in n..6 {
                frac *= 10;
            }
        }
    }
    if hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    micros += (i64::from(hh) * 3600 + i64::from(mm) * 60 + i64::from(ss)) * 1_000_000 + frac;
    match b.get(i) {
        None => Some(micros),
        Some(b'Z' | b'z') if i + 1 == b.len() => Some(micros),
        Some(&sign @ (b'+' | b'-')) => {
            let rest = &b[i + 1..];
            let (oh, om) = match rest.len() {
                2 => (digits2(rest)?, 0),
                4 => (digits2(&rest[0..2])?, digits2(&rest[2..4])?),
                5 if rest[2] == b':' => (digits2(&rest[0..2])?, digits2(&rest[3..5])?),
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let offset = (i64::from(oh) * 3600 + i64::from(om) * 60) * 1_000_000;
            Some(if sign == b'+' {
                micros - offset
            } else {
                micros + offset
            })
        }
        _ => None,
    }
}

fn write_date(out: &mut String, days: i32) -> std::fmt::Result {
    let (y, m, d) = civil_from_days(i64::from(days));
    write!(out, "{y:04}-{m:02}-{d:02}")
}

fn write_timestamp(out: &mut String, micros: i64) -> std::fmt::Result {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let rem = micros.rem_euclid(MICROS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let secs = rem / 1_000_000;
    let frac = rem % 1_000_000;
    write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )?;
    if frac != 0 {
        write!(out, ".{frac:06}")?;
    }
    out.write_char('Z')
}

pub(crate) fn format_date(days: i32) -> String {
    let mut s = String::new();
    let _ = write_date(&mut s, days);
    s
}

pub(crate) fn format_timestamp(micros: i64) -> String {
    let mut s = String::new();
    let _ = write_timestamp(&mut s, micros);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-42"), Some(-42));
        assert_eq!(parse_i64(b"+7"), Some(7));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"99999999999999999999"), None);
        for v in [
            1i64,
            9,
            12,
            12345678,
            123456789,
            9999999999999999,
            10000000000000000,
            -77,
            100200300,
        ] {
            assert_eq!(parse_i64(v.to_string().as_bytes()), Some(v));
            assert_eq!(parse_i64(format!("{v}x").as_bytes()), None);
        }
        for bad in [
            &b"12/4"[..],
            b"1:",
            b"12345678a",
            b"a2345678",
            b"123456789012\xff",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        for bad in [
            &b""[..],
            b"-",
            b"+",
            b"1.0",
            b" 1",
            b"1 ",
            b"1e3",
            b"0x10",
            b"--1",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn floats_match_std() {
        let cases = [
            "0",
            "-0",
            "1",
            "1.5",
            "-2.25",
            ".5",
            "5.",
            "1e3",
            "1E-3",
            "+3.14",
            "123456789.123456789",
            "0.1",
            "0.30000000000000004",
            "9007199254740993",
            "1e22",
            "1e23",
            "1e-22",
            "1e-23",
            "2.5e+10",
            "inf",
            "-inf",
            "NaN",
            "infinity",
            "1e400",
            "12345678901234567890",
            "0.000000000000000000001",
        ];
        for c in cases {
            let ours = parse_f64(c);
            let std = c.parse::<f64>().ok();
            match (ours, std) {
                (Some(a), Some(b)) if a.is_nan() => assert!(b.is_nan(), "{c}"),
                (a, b) => assert_eq!(a.map(f64::to_bits), b.map(f64::to_bits), "{c}"),
            }
        }
        for bad in [
            "", ".", "-", "e5", "1e", "1e+", "1.2.3", "1,5", " 1", "abc", "1_000",
        ] {
            assert_eq!(parse_f64(bad), None, "{bad}");
        }
    }

    #[test]
    fn bools() {
        for t in ["true", "TRUE", "True", "1"] {
            assert_eq!(parse_bool(t.as_bytes()), Some(true));
        }
        for f in ["false", "FALSE", "False", "0"] {
            assert_eq!(parse_bool(f.as_bytes()), Some(false));
        }
        for bad in ["", "yes", "t", "2", "truee"] {
            assert_eq!(parse_bool(bad.as_bytes()), None);
        }
        // Every mix of case, and the bytes that differ from a letter only in bit 5 (`@`, `[`, `{`, ...).
        let reference = |b: &[u8]| match b {
            b"1" => Some(true),
            b"0" => Some(false),
            _ if b.eq_ignore_ascii_case(b"true") => Some(true),
            _ if b.eq_ignore_ascii_case(b"false") => Some(false),
            _ => None,
        };
        for word in [&b"true"[..], b"false"] {
            for pos in 0..word.len() {
                for c in 0..=255u8 {
                    let mut w = word.to_vec();
                    w[pos] = c;
                    assert_eq!(parse_bool(&w), reference(&w), "{w:?}");
                    for mask in 0..1u32 << word.len() {
                        let v: Vec<u8> = w
                            .iter()
                            .enumerate()
                            .map(|(i, &b)| if mask >> i & 1 == 1 { b ^ 0x20 } else { b })
                            .collect();
                        assert_eq!(parse_bool(&v), reference(&v), "{v:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date(b"1970-01-01"), Some(0));
        assert_eq!(parse_date(b"1970-01-02"), Some(1));
        assert_eq!(parse_date(b"1969-12-31"), Some(-1));
        assert_eq!(parse_date(b"2000-02-29"), Some(11_016));
        assert_eq!(
            parse_date(b"2024-02-29").map(format_date).as_deref(),
            Some("2024-02-29")
        );
        for bad in [
            "2023-02-29",
            "1900-02-29",
            "2023-13-01",
            "2023-00-10",
            "2023-01-32",
            "2023-1-01",
            "20230101",
            "2023/01/01",
            "2023-01_01",
            "2023-0/-10",
            "2023-:1-10",
            "/023-01-10",
            "202:-01-10",
            "2023-01-1:",
            "2023-01-/1",
            "2\u{e9}3-01-1",
            "2023-01-10x",
            "2023-01-1",
        ] {
            assert_eq!(parse_date(bad.as_bytes()), None, "{bad}");
        }
        for d in [-719_162, -1, 0, 1, 19_000, 2_000_000] {
            assert_eq!(parse_date(format_date(d).as_bytes()), Some(d));
        }
    }

    #[test]
    fn month_table_agrees_with_the_calendar() {
        for y in 1890..2110 {
            for m in 1..=12u32 {
                for d in 1..=31u32 {
                    let text = format!("{y:04}-{m:02}-{d:02}");
                    let want = (d <= days_in_month(y, m)).then(|| days_from_civil(y, m, d));
                    assert_eq!(date_prefix(text.as_bytes()), want, "{text}");
                }
            }
        }
    }

    #[test]
    fn timestamps() {
        let base = parse_timestamp(b"2026-11-27T10:00:00Z").unwrap();
        assert_eq!(format_timestamp(base), "2026-11-27T10:00:00Z");
        assert_eq!(parse_timestamp(b"2026-11-27 10:00:00"), Some(base));
        assert_eq!(parse_timestamp(b"2026-11-27T10:00"), Some(base));
        assert_eq!(parse_timestamp(b"2026-11-27T12:00:00+02:00"), Some(base));
        assert_eq!(parse_timestamp(b"2026-11-27T05:30:00-0430"), Some(base));
        assert_eq!(
            parse_timestamp(b"2026-11-27T10:00:00.123456789Z"),
            Some(base + 123_456)
        );
        assert_eq!(parse_timestamp(b"2026-11-27T10:00:00.5"), Some(base + 500_000));
        assert_eq!(parse_timestamp(b"2026-11-27"), Some(base - 10 * 3_600_000_000));
        assert_eq!(parse_timestamp(b"1970-01-01T00:00:00Z"), Some(0));
        for bad in [
            "2026-11-27T24:00:00",
            "2026-11-27T10:60",
            "2026-11-27T10:00:00.",
            "2026-11-27X10:00",
            "2026-11-27T10:00:00ZZ",
            "2026-11-27T10:00:00+2",
            "2026-02-30T00:00:00",
            "2026-11-27T10:00:00.1234567890",
        ] {
            assert_eq!(parse_timestamp(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn canonical_timestamps_agree_with_the_general_parser() {
        // `...Z` takes the fast path; the same instant with `+00:00` takes the general one.
        let digits = [
            b'0', b'1', b'5', b'9', b'/', b':', b'a', b'\xd9', b'2', b'3', b'6',
        ];
        let mut n = 0;
        for &h0 in &digits {
            for &h1 in &digits {
                for &m in &digits {
                    for &s in &digits {
                        let fast =
                            [b"2024-02-29T".as_slice(), &[h0, h1, b':', m, b'9', b':', b'5', s]].concat();
                        let z = [fast.as_slice(), b"Z"].concat();
                        let plus = [fast.as_slice(), b"+00:00"].concat();
                        assert_eq!(
                            parse_timestamp(&z),
                            parse_timestamp(&plus),
                            "{:?}",
                            String::from_utf8_lossy(&z)
                        );
                        n += usize::from(parse_timestamp(&z).is_some());
                    }
                }
            }
        }
        assert!(n > 100);
        assert_eq!(
            parse_timestamp(b"1899-12-31T23:59:59Z"),
            parse_timestamp(b"1899-12-31T23:59:59+00:00")
        );
        assert_eq!(parse_timestamp(b"2024-02-30T00:00:00Z"), None);
    }

    #[test]
    fn coercion() {
        use ColumnType as T;
        assert!(matches!(coerce(&Cell::Text(""), Some(T::Int)), Ok(None)));
        assert!(matches!(
            coerce(&Cell::Text("12"), Some(T::Int)),
            Ok(Some(Val::Int(12)))
        ));
        assert!(coerce(&Cell::Text("x"), Some(T::Int)).is_err());
        assert!(matches!(
            coerce(&Cell::Str(""), Some(T::String)),
            Ok(Some(Val::Str("")))
        ));
        assert!(coerce(&Cell::Str("12"), Some(T::Int)).is_err());
        assert!(matches!(coerce(&Cell::Int(3), Some(T::Float)), Ok(Some(Val::Float(f))) if f == 3.0));
        assert!(coerce(&Cell::Float(3.5), Some(T::Int)).is_err());
        assert!(matches!(
            coerce(&Cell::Date(1), Some(T::Timestamp)),
            Ok(Some(Val::Ts(MICROS_PER_DAY)))
        ));
        assert!(coerce(&Cell::Other("object"), None).is_err());
        // Far dates: no wrap-around into the timestamp range.
        for days in [i32::MAX, i32::MIN] {
            assert!(coerce(&Cell::Date(days), Some(T::Timestamp)).is_err(), "{days}");
        }
        assert_eq!(Val::Date(i32::MAX).micros(), Some(i64::MAX));
        assert_eq!(Val::Date(i32::MIN).micros(), Some(i64::MIN));
        assert_eq!(Val::Date(1).micros(), Some(MICROS_PER_DAY));
    }

    #[test]
    fn hashes_distinguish_types_and_normalize_floats() {
        assert_ne!(Val::Str("1").hash(), Val::Int(1).hash());
        assert_eq!(Val::Float(0.0).hash(), Val::Float(-0.0).hash());
        assert_eq!(Val::Int(5).hash(), Val::Int(5).hash());
        assert_ne!(Val::Int(5).hash(), Val::Int(6).hash());
    }

    #[test]
    fn prefixes_order_like_strings() {
        let words = [
            "",
            "a",
            "ab",
            "ab\0",
            "abcdefgh",
            "abcdefghi",
            "abd",
            "b",
            "zzzzzzzzzz",
            "é",
        ];
        for x in words {
            for y in words {
                let (px, py) = (prefix8(x), prefix8(y));
                if px != py {
                    assert_eq!(px < py, x < y, "{x:?} {y:?}");
                }
            }
        }
        for w in words {
            let mut buf = [0u8; 8];
            let n = w.len().min(8);
            buf[..n].copy_from_slice(&w.as_bytes()[..n]);
            assert_eq!(prefix8(w), u64::from_be_bytes(buf), "{w:?}");
        }
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        let s = "é".repeat(150);
        let t = truncate(&s);
        assert!(t.len() <= MAX_VALUE_BYTES && t.len() >= MAX_VALUE_BYTES - 1);
        assert_eq!(truncate("abc"), "abc");
    }
}
