//! A seeded, unbiased, reproducible shuffle.
//!
//! The pre-queue's order is decided by this function once, at opening, so it must be fair (every
//! order equally likely) and auditable (anyone holding the seed can recompute it). It is the
//! Fisher–Yates shuffle driven by ChaCha20 seeded with the 32-byte seed; each swap index comes
//! from `gen_range`, which rejects samples instead of taking a biased modulo. Indices are drawn as
//! `u64` so the result is the same on 32- and 64-bit machines.

use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha20Rng;

/// Shuffles `items` in place; the same seed and length always give the same permutation.
pub fn shuffle<T>(seed: [u8; 32], items: &mut [T]) {
    let mut rng = ChaCha20Rng::from_seed(seed);
    for i in (1..items.len()).rev() {
        // `i` fits in u64 and the draw is at most `i`, so both conversions are lossless.
        let j = rng.gen_range(0..=i as u64);
        let j = usize::try_from(j).unwrap_or(i);
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    /// Critical values of the chi-square distribution at p = 0.001.
    const CHI2_CRIT_DF23: f64 = 49.728;
    const CHI2_CRIT_DF9: f64 = 27.877;

    fn seed(base: &[u8], i: u64) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(base);
        h.update(i.to_le_bytes());
        h.finalize().into()
    }

    fn chi_square(counts: &[u64], expected: f64) -> f64 {
        counts.iter().map(|&c| (c as f64 - expected).powi(2) / expected).sum()
    }

    /// Lehmer code: a bijection from permutations of 0..4 to 0..24.
    fn rank4(p: &[usize; 4]) -> usize {
        let mut rank = 0;
        for i in 0..4 {
            let smaller_after = p[i + 1..].iter().filter(|&&x| x < p[i]).count();
            rank = rank * (4 - i) + smaller_after;
        }
        rank
    }

    /// The textbook mistake: swap every position with any position. n^n equally likely paths
    /// onto n! permutations cannot be uniform when n! does not divide n^n.
    fn naive_shuffle<T>(seed: [u8; 32], items: &mut [T]) {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let n = items.len() as u64;
        for i in 0..items.len() {
            let j = rng.gen_range(0..n) as usize;
            items.swap(i, j);
        }
    }

    fn permutation_chi_square(shuffler: fn([u8; 32], &mut [usize])) -> f64 {
        const RUNS: u64 = 48_000;
        let mut counts = [0u64; 24];
        for i in 0..RUNS {
            let mut p = [0, 1, 2, 3];
            shuffler(seed(b"tessera-airlock shuffle test", i), &mut p);
            counts[rank4(&p)] += 1;
        }
        chi_square(&counts, RUNS as f64 / 24.0)
    }

    #[test]
    fn rank4_is_a_bijection() {
        let mut seen = [false; 24];
        for a in 0..4 {
            for b in 0..4 {
                for c in 0..4 {
                    for d in 0..4 {
                        let p = [a, b, c, d];
                        let mut sorted = p;
                        sorted.sort_unstable();
                        if sorted == [0, 1, 2, 3] {
                            seen[rank4(&p)] = true;
                        }
                    }
                }
            }
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn all_24_orders_are_equally_likely() {
        let stat = permutation_chi_square(shuffle::<usize>);
        assert!(stat < CHI2_CRIT_DF23, "chi-square {stat:.2} >= {CHI2_CRIT_DF23}");
    }

    #[test]
    fn negative_control_naive_shuffle_fails_the_same_check() {
        let stat = permutation_chi_square(naive_shuffle::<usize>);
        assert!(stat > CHI2_CRIT_DF23, "the test cannot see a known bias: chi-square {stat:.2}");
    }

    #[test]
    fn every_item_lands_everywhere_equally() {
        const N: usize = 10;
        const RUNS: u64 = 20_000;
        let mut table = [[0u64; N]; N]; // table[item][position]
        for i in 0..RUNS {
            let mut items: [usize; N] = std::array::from_fn(|k| k);
            shuffle(seed(b"tessera-airlock position test", i), &mut items);
            for (position, &item) in items.iter().enumerate() {
                table[item][position] += 1;
            }
        }
        for (item, row) in table.iter().enumerate() {
            let stat = chi_square(row, RUNS as f64 / N as f64);
            assert!(stat < CHI2_CRIT_DF9, "item {item}: chi-square {stat:.2} >= {CHI2_CRIT_DF9}");
        }
    }

    #[test]
    fn reproducible_and_seed_dependent() {
        let mut a: Vec<u32> = (0..100).collect();
        let mut b = a.clone();
        let mut c = a.clone();
        shuffle([1; 32], &mut a);
        shuffle([1; 32], &mut b);
        shuffle([2; 32], &mut c);
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        // Degenerate lengths are fine.
        shuffle::<u8>([0; 32], &mut []);
        let mut one = [5];
        shuffle([0; 32], &mut one);
        assert_eq!(one, [5]);
    }
}
