//! Keyed rate limiting with the Generic Cell Rate Algorithm (ITU-T I.371).
//!
//! GCRA is a leaky bucket without the bucket (Tony Finch, "GCRA: leaky buckets without the
//! buckets"): instead of a token count and a refill timestamp it keeps one number per key, the
//! *theoretical arrival time* (TAT) of the next request if the key sent at exactly the permitted
//! rate. For a quota of "X requests per P" the emission interval is `T = P / X` and the burst
//! tolerance `tau = T * (burst - 1)`. A request at `now` is allowed iff `now >= TAT - tau`, and
//! then `TAT = max(now, TAT) + T`; a denied request learns exactly when to retry (`TAT - tau`).
//! One `u64` per key and no background refill make it cheap enough to run on every request.
//!
//! Keys live in 64 shards, each a `Mutex<HashMap>`, chosen by hash, so that at tens of
//! thousands of checks per second threads rarely wait on each other.
//!
//! Memory is bounded: a shard holds at most its share of `max_keys`. A key whose TAT is in the
//! past is indistinguishable from a key never seen (both get the full burst), so forgetting it is
//! free; a full shard first forgets such keys. If it is still full, a **new** key is denied: under
//! a flood of distinct keys (spoofed accounts, a botnet) the limiter fails closed instead of
//! growing without bound or evicting keys that are still being limited. Known keys are unaffected.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

const SHARDS: usize = 64;
const NANOS_PER_SEC: f64 = 1_000_000_000.0;
/// Longest emission interval (about 31 years); keeps `now + T` far from overflow and gives a
/// non-positive or NaN rate a meaning: "the burst, then nothing".
const MAX_INTERVAL_NS: u64 = 1_000_000_000_000_000_000;

/// "`per_second` requests per second, with bursts of up to `burst`".
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Quota {
    /// Sustained rate. Not finite-positive values are clamped: `+inf` means unlimited, zero,
    /// negative or NaN mean that only the burst is ever allowed.
    pub per_second: f64,
    /// Requests allowed at once after a quiet period; 0 is treated as 1.
    pub burst: u32,
}

impl Quota {
    /// The emission interval `T` in nanoseconds.
    pub fn interval_ns(&self) -> u64 {
        if self.per_second.is_nan() || self.per_second <= 0.0 {
            return MAX_INTERVAL_NS;
        }
        // `as` saturates, and +inf yields 0 (no limit).
        ((NANOS_PER_SEC / self.per_second) as u64).min(MAX_INTERVAL_NS)
    }

    /// The burst tolerance `tau = T * (burst - 1)` in nanoseconds.
    pub fn tolerance_ns(&self) -> u64 {
        self.interval_ns().saturating_mul(u64::from(self.burst.max(1) - 1))
    }
}

/// A request refused by a [`KeyedLimiter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("rate limited; retry in {retry_after_ns} ns")]
pub struct Denied {
    /// How long until the same request would be allowed.
    pub retry_after_ns: u64,
}

impl Denied {
    /// `retry_after_ns` rounded up to whole seconds, as HTTP `Retry-After` wants it.
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after_ns.div_ceil(1_000_000_000)
    }
}

struct Shard<K> {
    tats: HashMap<K, u64>,
    /// A lower bound on every TAT in `tats`: until `now` reaches it a sweep cannot free anything,
    /// which keeps a key flood against a full shard from costing a full scan per request.
    earliest: u64,
    /// The latest time a caller brought. A caller that read the clock, then waited for a core
    /// or for the lock, brings a time already past: using the latest instead keeps it from
    /// being refused for a burst that other callers used up after its reading.
    latest: u64,
}

/// GCRA limits for many keys (addresses, networks, accounts), safe to share between threads.
pub struct KeyedLimiter<K: Hash + Eq + Clone> {
    shards: Box<[Mutex<Shard<K>>]>,
    capacity: Box<[usize]>,
    hasher: RandomState,
    interval_ns: AtomicU64,
    tolerance_ns: AtomicU64,
}

impl<K: Hash + Eq + Clone> std::fmt::Debug for KeyedLimiter<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedLimiter")
            .field("interval_ns", &self.interval_ns.load(Ordering::Relaxed))
            .field("tolerance_ns", &self.tolerance_ns.load(Ordering::Relaxed))
            .field("keys", &self.len())
            .finish()
    }
}

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    /// A limiter holding at most `max_keys` keys in total. The bound is split evenly over 64
    /// shards, so it should be well above 64 for every key to find room.
    pub fn new(quota: Quota, max_keys: usize) -> Self {
        let shards =
            (0..SHARDS).map(|_| Mutex::new(Shard { tats: HashMap::new(), earliest: u64::MAX, latest: 0 })).collect();
        // Spread the remainder over the first shards so the total is exactly `max_keys`.
        let capacity = (0..SHARDS).map(|i| max_keys / SHARDS + usize::from(i < max_keys % SHARDS)).collect();
        Self {
            shards,
            capacity,
            hasher: RandomState::new(),
            interval_ns: AtomicU64::new(quota.interval_ns()),
            tolerance_ns: AtomicU64::new(quota.tolerance_ns()),
        }
    }

    /// Changes the quota for every key from now on; existing TATs are kept, so a key that was
    /// ahead of the old rate stays ahead by the same amount of time.
    pub fn set_quota(&self, quota: Quota) {
        // The two values are read without a common lock; a check racing with a change may use
        // one old and one new value once, which is harmless.
        self.interval_ns.store(quota.interval_ns(), Ordering::Relaxed);
        self.tolerance_ns.store(quota.tolerance_ns(), Ordering::Relaxed);
    }

    /// Allows or denies one request for `key` at monotonic time `now_ns`.
    pub fn check(&self, key: &K, now_ns: u64) -> Result<(), Denied> {
        let interval = self.interval_ns.load(Ordering::Relaxed);
        let tolerance = self.tolerance_ns.load(Ordering::Relaxed);
        let index = self.shard_index(key);
        let mut shard = self.lock(index);
        let now_ns = now_ns.max(shard.latest);
        shard.latest = now_ns;

        let tat = match shard.tats.get(key) {
            Some(&tat) => tat,
            None => {
                let cap = self.capacity.get(index).copied().unwrap_or(0);
                if shard.tats.len() >= cap {
                    sweep_shard(&mut shard, now_ns);
                    if shard.tats.len() >= cap {
                        // Fail closed: see the module documentation.
                        let wait = shard.earliest.saturating_sub(now_ns).max(1);
                        return Err(Denied { retry_after_ns: wait });
                    }
                }
                now_ns
            }
        };

        let allow_at = tat.saturating_sub(tolerance);
        if now_ns < allow_at {
            return Err(Denied { retry_after_ns: allow_at - now_ns });
        }
        let new_tat = tat.max(now_ns).saturating_add(interval);
        shard.earliest = shard.earliest.min(new_tat);
        shard.tats.insert(key.clone(), new_tat);
        Ok(())
    }

    /// Forgets every key whose TAT is not after `now_ns`; they are back to a full burst, so this
    /// changes no decision and only returns memory.
    pub fn sweep(&self, now_ns: u64) {
        for index in 0..self.shards.len() {
            sweep_shard(&mut self.lock(index), now_ns);
        }
    }

    /// Number of keys currently remembered.
    pub fn len(&self) -> usize {
        (0..self.shards.len()).map(|i| self.lock(i).tats.len()).sum()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard_index(&self, key: &K) -> usize {
        // Truncation is fine: only the low bits pick the shard.
        (self.hasher.hash_one(key) as usize) % self.shards.len()
    }

    fn lock(&self, index: usize) -> MutexGuard<'_, Shard<K>> {
        // No code path panics while holding the lock, but if one ever did the map is still
        // consistent (every write is a single insert), so carry on rather than propagate.
        self.shards[index % self.shards.len()].lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn sweep_shard<K: Hash + Eq>(shard: &mut Shard<K>, now_ns: u64) {
    if now_ns < shard.earliest {
        return;
    }
    let mut earliest = u64::MAX;
    shard.tats.retain(|_, &mut tat| {
        let keep = tat > now_ns;
        if keep {
            earliest = earliest.min(tat);
        }
        keep
    });
    shard.earliest = earliest;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const SEC: u64 = 1_000_000_000;

    fn limiter(per_second: f64, burst: u32) -> KeyedLimiter<u32> {
        KeyedLimiter::new(Quota { per_second, burst }, 64 * 1024)
    }

    #[test]
    fn a_late_caller_is_judged_at_the_latest_time_seen() {
        // 1,000/s with a burst of 2: one request a millisecond, a little slack.
        let l = limiter(1_000.0, 2);
        let t0 = 1_000 * SEC;
        for i in 0..100 {
            assert_eq!(l.check(&1, t0 + i * SEC / 1_000), Ok(()));
        }
        // A caller that read the clock at t0 and only now gets the lock: as of the latest time
        // seen, the key is within its rate, so it must not be refused for its stale reading.
        assert_eq!(l.check(&1, t0 + 100 * SEC / 1_000), Ok(()));
        let l = limiter(1_000.0, 2);
        for i in 0..100 {
            assert_eq!(l.check(&1, t0 + i * SEC / 1_000), Ok(()));
        }
        assert_eq!(l.check(&1, t0), Ok(()), "a stale time counts as the latest one");
    }

    #[test]
    fn exact_burst_then_denial() {
        let l = limiter(10.0, 5);
        let t0 = 1_000 * SEC;
        for i in 0..5 {
            assert_eq!(l.check(&1, t0), Ok(()), "request {i} of the burst");
        }
        let denied = l.check(&1, t0).unwrap_err();
        // The sixth request fits once one emission interval (100 ms) has passed.
        assert_eq!(denied.retry_after_ns, SEC / 10);
        assert_eq!(denied.retry_after_secs(), 1);
        // Other keys are independent.
        assert_eq!(l.check(&2, t0), Ok(()));
    }

    #[test]
    fn refills_one_per_interval() {
        let l = limiter(10.0, 3);
        let t0 = 5 * SEC;
        for _ in 0..3 {
            l.check(&7, t0).unwrap();
        }
        assert!(l.check(&7, t0 + SEC / 10 - 1).is_err());
        assert_eq!(l.check(&7, t0 + SEC / 10), Ok(()));
        assert!(l.check(&7, t0 + SEC / 10).is_err());
        // After a long pause the whole burst is back, and no more than the burst.
        let later = t0 + 10 * SEC;
        for _ in 0..3 {
            l.check(&7, later).unwrap();
        }
        assert!(l.check(&7, later).is_err());
    }

    #[test]
    fn retry_after_is_exact() {
        let l = limiter(2.0, 1); // T = 500 ms, no burst.
        let t0 = 10 * SEC;
        l.check(&1, t0).unwrap();
        let d = l.check(&1, t0 + 100_000_000).unwrap_err();
        assert_eq!(d.retry_after_ns, 400_000_000);
        assert!(l.check(&1, t0 + 499_999_999).is_err());
        assert!(l.check(&1, t0 + 500_000_000).is_ok());
        // Denied requests do not push the TAT further.
        assert_eq!(l.check(&1, t0 + 500_000_000).unwrap_err().retry_after_ns, 500_000_000);
    }

    #[test]
    fn sustained_rate_is_respected() {
        let l = limiter(100.0, 10);
        let mut allowed = 0;
        // Hammer every millisecond for 10 s: at most burst + rate * 10 s.
        for ms in 0..10_000u64 {
            if l.check(&3, SEC + ms * 1_000_000).is_ok() {
                allowed += 1;
            }
        }
        assert!((1000..=1010).contains(&allowed), "allowed {allowed}");
    }

    #[test]
    fn quota_change_applies_live() {
        let l = limiter(1.0, 1);
        let t0 = 100 * SEC;
        l.check(&1, t0).unwrap();
        assert!(l.check(&1, t0).is_err());
        l.set_quota(Quota { per_second: 1000.0, burst: 50 });
        // Key 1's TAT (t0 + 1 s) is kept and lies further ahead than the new tolerance (49 ms).
        assert!(l.check(&1, t0).is_err());
        // A fresh key gets the new burst immediately.
        for _ in 0..50 {
            l.check(&2, t0).unwrap();
        }
        assert!(l.check(&2, t0).is_err());
        // Tighten: one request per 10 s.
        l.set_quota(Quota { per_second: 0.1, burst: 1 });
        l.check(&3, t0).unwrap();
        assert_eq!(l.check(&3, t0 + SEC).unwrap_err().retry_after_ns, 9 * SEC);
    }

    #[test]
    fn nonsense_quotas_do_not_panic() {
        for q in [
            Quota { per_second: f64::NAN, burst: 0 },
            Quota { per_second: -5.0, burst: 2 },
            Quota { per_second: 0.0, burst: u32::MAX },
            Quota { per_second: f64::INFINITY, burst: 1 },
            Quota { per_second: f64::MIN_POSITIVE, burst: 3 },
        ] {
            let l = KeyedLimiter::new(q, 128);
            for t in [0, 1, u64::MAX / 2, u64::MAX - 1, u64::MAX] {
                let _ = l.check(&1u8, t);
            }
            l.sweep(u64::MAX);
        }
        // Zero rate: the burst, then nothing for a very long time.
        let l = KeyedLimiter::new(Quota { per_second: 0.0, burst: 2 }, 128);
        assert!(l.check(&1, 0).is_ok() && l.check(&1, 0).is_ok());
        assert!(l.check(&1, 1_000 * SEC).is_err());
        // Infinite rate: unlimited.
        let l = KeyedLimiter::new(Quota { per_second: f64::INFINITY, burst: 1 }, 128);
        assert!((0..1000).all(|_| l.check(&1, 5).is_ok()));
    }

    #[test]
    fn sweep_forgets_only_idle_keys() {
        let l = limiter(1.0, 2);
        l.check(&1, 0).unwrap(); // TAT = 1 s
        l.check(&2, 0).unwrap();
        l.check(&2, 0).unwrap(); // TAT = 2 s
        assert_eq!(l.len(), 2);
        l.sweep(SEC);
        assert_eq!(l.len(), 1);
        // Forgetting key 1 changed nothing: it has its full burst either way.
        assert!(l.check(&1, SEC).is_ok() && l.check(&1, SEC).is_ok());
        assert!(l.check(&1, SEC).is_err());
        l.sweep(10 * SEC);
        assert!(l.is_empty());
    }

    #[test]
    fn bound_is_respected_and_fails_closed() {
        let max = 640;
        let l = KeyedLimiter::new(Quota { per_second: 1.0, burst: 2 }, max);
        let mut known = Vec::new();
        for key in 0..10_000u32 {
            if l.check(&key, SEC).is_ok() {
                known.push(key);
            }
            assert!(l.len() <= max);
        }
        assert_eq!(l.len(), max);
        assert_eq!(known.len(), max);
        // New keys are refused while every remembered key is still being limited...
        let refused = l.check(&1_000_000, SEC).unwrap_err();
        assert_eq!(refused.retry_after_ns, SEC);
        // ...but keys already known keep their own budget (the second request of their burst).
        for key in &known {
            assert_eq!(l.check(key, SEC), Ok(()));
            assert!(l.check(key, SEC).is_err());
        }
        // Once the flood's TATs lie in the past, new keys find room again.
        assert!(l.check(&1_000_000, 3 * SEC).is_ok());
        assert!(l.len() <= max);
    }

    #[test]
    fn tiny_bounds_stay_exact() {
        let l = KeyedLimiter::new(Quota { per_second: 1.0, burst: 1 }, 10);
        for key in 0..1000u32 {
            let _ = l.check(&key, 0);
        }
        assert!(l.len() <= 10);
        let l = KeyedLimiter::new(Quota { per_second: 1.0, burst: 1 }, 0);
        assert!(l.check(&1u32, 0).is_err());
        assert!(l.is_empty());
    }

    #[test]
    fn concurrent_checks_count_exactly() {
        // 8 threads share 4 keys at a frozen instant: exactly burst per key may pass.
        let l = Arc::new(KeyedLimiter::new(Quota { per_second: 1.0, burst: 100 }, 4096));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let l = Arc::clone(&l);
                std::thread::spawn(move || (0..400).filter(|i| l.check(&(i % 4), SEC).is_ok()).count())
            })
            .collect();
        let allowed: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(allowed, 4 * 100);
        assert_eq!(l.len(), 4);
    }
}
