//! A small non-cryptographic PRNG (SplitMix64) for `States.MathRandom` and retry jitter.
//! Like AWS's, MathRandom is not meant for security-sensitive use.

pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub fn seeded(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// Seeded from the OS random source (through a v4 UUID, which uuid draws from getrandom).
    pub fn from_entropy() -> Self {
        SplitMix64(uuid::Uuid::new_v4().as_u64_pair().0)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[start, end)`; `start < end` required (callers check).
    pub fn range_i64(&mut self, start: i64, end: i64) -> i64 {
        let span = (i128::from(end) - i128::from(start)).max(1) as u128;
        let r = u128::from(self.next_u64()) % span;
        (i128::from(start) + r as i128) as i64
    }

    /// Uniform in `[0, 1)`.
    pub fn unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_is_half_open_and_seed_is_deterministic() {
        let mut r = SplitMix64::seeded(7);
        for _ in 0..1000 {
            let v = r.range_i64(-3, 4);
            assert!((-3..4).contains(&v));
        }
        assert_eq!(
            SplitMix64::seeded(42).next_u64(),
            SplitMix64::seeded(42).next_u64()
        );
        let u = SplitMix64::from_entropy().unit_f64();
        assert!((0.0..1.0).contains(&u));
    }
}
