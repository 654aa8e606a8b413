//! Exact-enough uniqueness tracking with a hard memory bound.
//!
//! Each tracked value is stored as a 64-bit hash ([`Val::hash`](super::values::Val::hash), xxh3) in an
//! open-addressing table (linear probing). One bit of the hash is used to mark "seen more than once" and
//! one is forced on to tell used slots from empty ones, leaving 62 bits of the hash. Two different values
//! are taken as equal only if their 62-bit hashes collide: for `n` distinct values the probability of
//! any false duplicate is about `n² / 2^63` (≈ 2·10⁻⁶ at 4 million values, ≈ 10⁻⁵ at 10 million).
//! There are no false "unique" answers.
//!
//! Memory: 8 bytes per slot, at most 7/8 of the slots used, so about 9.2 bytes per distinct value
//! (≈ 37 MiB at the default cap of 4,000,000 values). The table grows by doubling up to a final size fitted
//! to the cap; while it grows, the old and the new table coexist, so the transient peak is up to 1.5× the
//! final size. Past `limits.max_unique_values` distinct values the table refuses to grow and validation
//! stops with a `UniqueLimit` error naming the column and the cap, instead of using unbounded memory.

/// Set of value hashes, each with a "seen more than once" flag.
pub(crate) struct HashCounter {
    slots: Vec<u64>,
    len: usize,
    max_values: usize,
    max_slots: usize,
}

const USED: u64 = 1 << 63;
const DUP: u64 = 1;
const INITIAL_SLOTS: usize = 1024;

/// The table already holds its maximum number of distinct values.
#[derive(Debug)]
pub(crate) struct Full;

impl HashCounter {
    pub(crate) fn new(max_values: u64) -> Self {
        let max_values = usize::try_from(max_values)
            .unwrap_or(usize::MAX / 16)
            .min(usize::MAX / 16);
        let max_slots = (max_values.saturating_mul(8) / 7 + 1).max(8);
        HashCounter {
            slots: Vec::new(),
            len: 0,
            max_values,
            max_slots,
        }
    }

    /// Bytes a table at the cap would use (for error messages).
    pub(crate) fn max_bytes(max_values: u64) -> u64 {
        (max_values.saturating_mul(8) / 7 + 1).saturating_mul(8)
    }

    /// Record one occurrence of `hash`. `Ok(true)` if it was not seen before, `Ok(false)` if it was
    /// (it is then flagged as a duplicate), `Err(Full)` if it is new and the table is at its cap.
    #[inline]
    pub(crate) fn insert(&mut self, hash: u64) -> Result<bool, Full> {
        let key = (hash | USED) & !DUP;
        if self.slots.is_empty() {
            self.slots = vec![0; INITIAL_SLOTS.min(self.max_slots)];
        }
        let n = self.slots.len();
        let mut i = slot_of(key, n);
        loop {
            let s = self.slots[i];
            if s == 0 {
                break;
            }
            if s & !DUP == key {
                self.slots[i] = s | DUP;
                return Ok(false);
            }
            i += 1;
            if i == n {
                i = 0;
            }
        }
        if self.len >= self.max_values {
            return Err(Full);
        }
        if (self.len + 1) * 8 > n * 7 {
            self.grow();
            return self.insert(hash);
        }
        self.slots[i] = key;
        self.len += 1;
        Ok(true)
    }

    fn grow(&mut self) {
        let new_len = (self.slots.len() * 2)
            .min(self.max_slots)
            .max(self.slots.len() + 1);
        let old = std::mem::replace(&mut self.slots, vec![0; new_len]);
        for s in old.into_iter().filter(|&s| s != 0) {
            let mut i = slot_of(s & !DUP, new_len);
            while self.slots[i] != 0 {
                i += 1;
                if i == new_len {
                    i = 0;
                }
            }
            self.slots[i] = s;
        }
    }

    /// Distinct values recorded.
    #[cfg(test)]
    pub(crate) fn len(&self) -> u64 {
        self.len as u64
    }

    /// Values seen exactly once.
    pub(crate) fn singles(&self) -> u64 {
        self.slots.iter().filter(|&&s| s != 0 && s & DUP == 0).count() as u64
    }
}

/// Map a key to a slot: multiply-shift over bits 1..63 of the key (bit 0 is the flag, bit 63 is forced).
#[inline]
fn slot_of(key: u64, n: usize) -> usize {
    (((key << 1) as u128 * n as u128) >> 64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::values::Val;

    #[test]
    fn counts_duplicates_and_singles() {
        let mut t = HashCounter::new(1000);
        for i in 0..100 {
            assert!(t.insert(Val::Int(i).hash()).unwrap());
        }
        for i in 0..10 {
            assert!(!t.insert(Val::Int(i).hash()).unwrap());
            assert!(!t.insert(Val::Int(i).hash()).unwrap());
        }
        assert_eq!(t.len(), 100);
        assert_eq!(t.singles(), 90);
    }

    #[test]
    fn grows_and_stops_at_the_cap() {
        let mut t = HashCounter::new(5000);
        for i in 0..5000 {
            assert!(t.insert(Val::Int(i).hash()).unwrap(), "{i}");
        }
        assert!(t.slots.len() <= 5000 * 8 / 7 + 1);
        // Known values are still found at the cap; a new one is refused.
        assert!(!t.insert(Val::Int(17).hash()).unwrap());
        assert!(t.insert(Val::Int(5000).hash()).is_err());
        assert_eq!(t.len(), 5000);
        assert_eq!(t.singles(), 4999);
    }

    #[test]
    fn tiny_caps_work() {
        let mut t = HashCounter::new(1);
        assert!(t.insert(1).unwrap());
        assert!(!t.insert(1).unwrap());
        assert!(t.insert(2 << 8).is_err());
        let mut t = HashCounter::new(0);
        assert!(t.insert(1).is_err());
    }
}
