//! JSON Lines: one JSON object per line. A line that is not valid JSON, or valid JSON that is not an
//! object, is a violation at that row and byte offset; blank lines are skipped. Keys are matched to
//! columns by name; a missing key or `null` is NULL; unknown keys are ignored (and counted for
//! `ColumnCount`). Values are typed as JSON types them (a JSON string is not an int, even if it holds
//! digits), except that date and timestamp columns read JSON strings.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;

use memchr::memchr;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserializer as _;

use super::checks::{Loc, Run, Structural};
use super::decode::{Decoded, StreamError, Window};
use super::values::{shown_bytes, Cell};

/// Distinct keys tracked for `ColumnCount`; past this the count is reported as unknown.
const MAX_KEYS: usize = 10_000;

pub(crate) fn read(run: &mut Run, input: &mut Decoded) -> Result<(), StreamError> {
    let plan = run.plan();
    let max_record = usize::try_from(plan.max_record_bytes).unwrap_or(usize::MAX / 4);
    let names: Vec<String> = plan.columns.iter().map(|c| c.name.clone()).collect();
    let index: HashMap<String, usize> = names.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect();
    let mut r = JsonlReader {
        keys: Keys {
            names,
            index,
            union: plan.needs_key_union.then(HashSet::new),
            overflow: false,
        },
        seen: vec![false; plan.columns.len()],
        row: 0,
        max_record,
        stop: false,
    };
    for ci in 0..plan.columns.len() {
        run.set_present(ci, true);
    }
    let mut win = Window::new(plan.max_record_bytes);
    while !r.stop && run.fatal.is_none() {
        let hay = win.avail();
        match memchr(b'\n', hay) {
            Some(p) => {
                let start = win.start;
                win.start += p + 1;
                r.line(run, &win.data[start..start + p], win.offset(start));
            }
            None if win.eof => {
                if !hay.is_empty() {
                    let start = win.start;
                    win.start = win.end;
                    r.line(run, &win.data[start..win.end], win.offset(start));
                }
                break;
            }
            None if hay.len() > max_record => {
                // Skip the rest of an oversized line without buffering it.
                let offset = win.offset(win.start);
                let mut len = hay.len();
                win.start = win.end;
                loop {
                    if !win.fill(input)? {
                        break;
                    }
                    let hay = win.avail();
                    if let Some(p) = memchr(b'\n', hay) {
                        len += p;
                        win.start += p + 1;
                        break;
                    }
                    len += hay.len();
                    win.start = win.end;
                }
                r.row += 1;
                run.rows += 1;
                let loc = Loc {
                    row: r.row,
                    byte_offset: Some(offset),
                    row_group: None,
                };
                run.record_violation(
                    Structural::Size,
                    &loc,
                    None,
                    None,
                    format!(
                        "line of {len} bytes is over the limit of {} bytes; skipped",
                        plan.max_record_bytes
                    ),
                );
            }
            None => {
                win.fill(input)?;
            }
        }
    }
    for (ci, &seen) in r.seen.iter().enumerate() {
        if seen {
            run.mark_seen(ci);
        }
    }
    if let Some(union) = &r.keys.union {
        run.column_count = (!r.keys.overflow).then_some(union.len() as u64);
    }
    Ok(())
}

struct Keys {
    names: Vec<String>,
    index: HashMap<String, usize>,
    union: Option<HashSet<String>>,
    overflow: bool,
}

impl Keys {
    /// Column of `key`; `guess` is tried first (keys usually come in the same order on every line).
    #[inline]
    fn lookup(&self, key: &str, guess: usize) -> Option<usize> {
        if self.names.get(guess).is_some_and(|n| n == key) {
            return Some(guess);
        }
        self.index.get(key).copied()
    }

    fn note(&mut self, key: &str) {
        if let Some(u) = &mut self.union {
            if !u.contains(key) {
                if u.len() >= MAX_KEYS {
                    self.overflow = true;
                } else {
                    u.insert(key.to_string());
                }
            }
        }
    }
}

struct JsonlReader {
    keys: Keys,
    seen: Vec<bool>,
    row: u64,
    max_record: usize,
    stop: bool,
}

impl JsonlReader {
    fn line(&mut self, run: &mut Run, line: &[u8], offset: u64) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        self.row += 1;
        run.rows += 1;
        let loc = Loc {
            row: self.row,
            byte_offset: Some(offset),
            row_group: None,
        };
        if line.len() > self.max_record {
            let limit = run.plan().max_record_bytes;
            run.record_violation(
                Structural::Size,
                &loc,
                None,
                None,
                format!(
                    "line of {} bytes is over the limit of {limit} bytes; skipped",
                    line.len()
                ),
            );
            return;
        }
        let text = match std::str::from_utf8(line) {
            Ok(t) => t,
            Err(e) => {
                let at = e.valid_up_to();
                let lo = at.saturating_sub(20);
                run.record_violation(
                    Structural::Utf8,
                    &loc,
                    None,
                    Some(shown_bytes(&line[lo..])),
                    format!("invalid UTF-8 at byte {at} of the line"),
                );
                return;
            }
        };
        let mut slots: Vec<Option<JVal>> = (0..self.keys.names.len()).map(|_| None).collect();
        let mut de = serde_json::Deserializer::from_str(text);
        let parsed = de
            .deserialize_map(RowVisitor {
                keys: &mut self.keys,
                slots: &mut slots,
                seen: &mut self.seen,
            })
            .and_then(|()| de.end());
        if let Err(e) = parsed {
            let first = text.trim_start().as_bytes().first().copied();
            let message = match first {
                Some(b'{') => format!("invalid JSON: {e}"),
                Some(b'[') => "not a JSON object: the line is an array".to_string(),
                Some(b'"') => "not a JSON object: the line is a string".to_string(),
                _ => format!("not a JSON object: {e}"),
            };
            run.record_violation(
                Structural::WellFormed,
                &loc,
                None,
                Some(shown_bytes(line)),
                message,
            );
            return;
        }
        for (ci, slot) in slots.iter().enumerate() {
            let cell = match slot {
                None | Some(JVal::Null) => Cell::Null,
                Some(JVal::Bool(b)) => Cell::Bool(*b),
                Some(JVal::Int(i)) => Cell::Int(*i),
                Some(JVal::Float(f)) => Cell::Float(*f),
                Some(JVal::Str(s)) => Cell::Str(s),
                Some(JVal::Other(k)) => Cell::Other(k),
            };
            run.cell(ci, cell, &loc);
        }
        if !run.end_row(&loc) {
            self.stop = true;
        }
    }
}

enum JVal<'de> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'de, str>),
    Other(&'static str),
}

struct RowVisitor<'a, 'de> {
    keys: &'a mut Keys,
    slots: &'a mut [Option<JVal<'de>>],
    seen: &'a mut [bool],
}

impl<'de> Visitor<'de> for RowVisitor<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut guess = 0;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            self.keys.note(&key);
            match self.keys.lookup(&key, guess) {
                Some(ci) => {
                    self.slots[ci] = Some(map.next_value_seed(ValSeed)?);
                    self.seen[ci] = true;
                    guess = ci + 1;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(StrVisitor)
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

struct ValSeed;

impl<'de> DeserializeSeed<'de> for ValSeed {
    type Value = JVal<'de>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(ValVisitor)
    }
}

struct ValVisitor;

impl<'de> Visitor<'de> for ValVisitor {
    type Value = JVal<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(JVal::Null)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(JVal::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(JVal::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(JVal::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(v).map(JVal::Int).unwrap_or(JVal::Float(v as f64)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(JVal::Float(v))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(JVal::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(JVal::Str(Cow::Owned(v.to_string())))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(JVal::Str(Cow::Owned(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(JVal::Other("array"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(JVal::Other("object"))
    }
}
