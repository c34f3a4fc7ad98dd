//! Per-account sign-in throttling (OWASP ASVS 4.0 V2.2.1: anti-automation against credential
//! stuffing and brute force), independent of the source address.
//!
//! Limits per address do not stop a botnet: 200 addresses each guessing once at one account
//! pass every one of them. So the budget is the account's: after a few free failures each
//! further attempt must wait, the wait doubling up to a ceiling, and while it runs no guess is
//! checked at all. That would let anyone lock an owner out by failing on purpose, so a browser
//! or app that has signed in to the account before carries a *known-device* token, and its
//! attempts draw on a budget of their own that strangers cannot spend.
//!
//! A budget is keyed by the address as typed (normalised) whether or not an account has it,
//! so the throttle answers alike for customers and strangers. Time is passed in. The maps
//! are bounded: when the strangers' map is full of live budgets a new one is refused (fails
//! closed) rather than growing, while known devices keep their own map.

use std::collections::HashMap;
use std::sync::Mutex;

/// How fast the waits grow.
#[derive(Debug, Clone, Copy)]
pub struct SignInPolicy {
    /// Failures allowed before any wait.
    pub free_failures: u32,
    /// The first wait; each further failure doubles it.
    pub base_delay_ms: i64,
    /// The longest wait, so that an owner is never shut out for long.
    pub max_delay_ms: i64,
    /// A budget with no failure for this long is forgotten.
    pub forget_after_ms: i64,
    /// Every this many failures in a row on one budget is reported as a burst.
    pub burst_every: u32,
    /// Live budgets kept per map.
    pub capacity: usize,
}

impl Default for SignInPolicy {
    fn default() -> Self {
        SignInPolicy {
            free_failures: 5,
            base_delay_ms: 1_000,
            max_delay_ms: 15 * 60 * 1_000,
            forget_after_ms: 24 * 3_600 * 1_000,
            burst_every: 20,
            capacity: 100_000,
        }
    }
}

/// Whose budget an attempt draws on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Budget {
    /// Anyone trying the address, from anywhere.
    Strangers(String),
    /// A device that signed in to this address before: (address, device id).
    KnownDevice(String, String),
}

impl Budget {
    pub fn address(&self) -> &str {
        match self {
            Budget::Strangers(a) | Budget::KnownDevice(a, _) => a,
        }
    }
}

/// The answer before checking a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Check the password.
    Try,
    /// Do not check it; try again in this many milliseconds.
    Wait { retry_after_ms: i64 },
}

/// What a failure means for the security operations centre.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alarm {
    None,
    /// This failure started the waits on the budget.
    Throttled {
        failures: u32,
    },
    /// Another `burst_every` failures in a row.
    Burst {
        failures: u32,
    },
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure_ms: i64,
}

/// The throttle. Cheap to share between threads (one lock per map; sign-in costs an Argon2
/// run of tens of milliseconds, far more than the lock).
#[derive(Debug)]
pub struct SignInGuard {
    policy: SignInPolicy,
    strangers: Mutex<HashMap<String, Entry>>,
    devices: Mutex<HashMap<(String, String), Entry>>,
}

impl SignInGuard {
    pub fn new(policy: SignInPolicy) -> Self {
        SignInGuard { policy, strangers: Mutex::new(HashMap::new()), devices: Mutex::new(HashMap::new()) }
    }

    /// The wait after `failures` failures in a row.
    pub fn delay_after(&self, failures: u32) -> i64 {
        let p = &self.policy;
        if failures < p.free_failures {
            return 0;
        }
        let doublings = (failures - p.free_failures).min(40);
        p.base_delay_ms.saturating_mul(1_i64 << doublings.min(62)).min(p.max_delay_ms)
    }

    /// May an attempt on `budget` be checked now?
    pub fn gate(&self, budget: &Budget, now_ms: i64) -> Gate {
        let entry = self.with(budget, |m| m.copied());
        match entry {
            Some(e) => {
                let until = e.last_failure_ms.saturating_add(self.delay_after(e.failures));
                if now_ms < until {
                    Gate::Wait { retry_after_ms: until - now_ms }
                } else {
                    Gate::Try
                }
            }
            None if self.full(budget, now_ms) => Gate::Wait { retry_after_ms: self.policy.base_delay_ms.max(1_000) },
            None => Gate::Try,
        }
    }

    /// Records a failed attempt (a wrong password, or an address without an account).
    pub fn failed(&self, budget: &Budget, now_ms: i64) -> Alarm {
        let p = self.policy;
        let failures = self.with_mut(budget, now_ms, |e| {
            if now_ms - e.last_failure_ms > p.forget_after_ms {
                e.failures = 0;
            }
            e.failures = e.failures.saturating_add(1);
            e.last_failure_ms = now_ms;
            e.failures
        });
        match failures {
            None => Alarm::None,
            Some(n) if n == p.free_failures.max(1) => Alarm::Throttled { failures: n },
            Some(n)
                if p.burst_every > 0 && n > p.free_failures && (n - p.free_failures).is_multiple_of(p.burst_every) =>
            {
                Alarm::Burst { failures: n }
            }
            Some(_) => Alarm::None,
        }
    }

    /// A good password: the budget starts afresh.
    pub fn succeeded(&self, budget: &Budget) {
        match budget {
            Budget::Strangers(a) => {
                self.strangers.lock().unwrap_or_else(|e| e.into_inner()).remove(a);
            }
            Budget::KnownDevice(a, d) => {
                self.devices.lock().unwrap_or_else(|e| e.into_inner()).remove(&(a.clone(), d.clone()));
            }
        }
    }

    fn with<T>(&self, budget: &Budget, f: impl FnOnce(Option<&Entry>) -> T) -> T {
        match budget {
            Budget::Strangers(a) => f(self.strangers.lock().unwrap_or_else(|e| e.into_inner()).get(a)),
            Budget::KnownDevice(a, d) => {
                f(self.devices.lock().unwrap_or_else(|e| e.into_inner()).get(&(a.clone(), d.clone())))
            }
        }
    }

    /// Applies `f` to the budget's entry, creating it if there is room; `None` when the map
    /// is full of live budgets (the caller's `gate` already refused such an attempt).
    fn with_mut<T>(&self, budget: &Budget, now_ms: i64, f: impl FnOnce(&mut Entry) -> T) -> Option<T> {
        let fresh = Entry { failures: 0, last_failure_ms: now_ms };
        match budget {
            Budget::Strangers(a) => {
                let mut m = self.strangers.lock().unwrap_or_else(|e| e.into_inner());
                room_for(&mut m, a, &self.policy, now_ms).then(|| f(m.entry(a.clone()).or_insert(fresh)))
            }
            Budget::KnownDevice(a, d) => {
                let mut m = self.devices.lock().unwrap_or_else(|e| e.into_inner());
                let key = (a.clone(), d.clone());
                room_for(&mut m, &key, &self.policy, now_ms).then(|| f(m.entry(key).or_insert(fresh)))
            }
        }
    }

    fn full(&self, budget: &Budget, now_ms: i64) -> bool {
        match budget {
            Budget::Strangers(a) => {
                !room_for(&mut self.strangers.lock().unwrap_or_else(|e| e.into_inner()), a, &self.policy, now_ms)
            }
            Budget::KnownDevice(a, d) => !room_for(
                &mut self.devices.lock().unwrap_or_else(|e| e.into_inner()),
                &(a.clone(), d.clone()),
                &self.policy,
                now_ms,
            ),
        }
    }

    /// How many budgets are tracked (strangers', known devices').
    pub fn len(&self) -> (usize, usize) {
        (
            self.strangers.lock().unwrap_or_else(|e| e.into_inner()).len(),
            self.devices.lock().unwrap_or_else(|e| e.into_inner()).len(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }
}

/// Whether `key` has or can get an entry; when the map is full, first forgets the budgets
/// whose wait is over and whose failures are old, which an attacker's fresh ones are not.
fn room_for<K: std::hash::Hash + Eq>(m: &mut HashMap<K, Entry>, key: &K, p: &SignInPolicy, now_ms: i64) -> bool {
    if m.contains_key(key) || m.len() < p.capacity {
        return true;
    }
    m.retain(|_, e| now_ms - e.last_failure_ms <= p.forget_after_ms.min(p.max_delay_ms.max(60_000)));
    m.len() < p.capacity
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strangers() -> Budget {
        Budget::Strangers("marie@example.org".into())
    }

    #[test]
    fn waits_start_after_the_free_failures_and_double_to_a_ceiling() {
        let g = SignInGuard::new(SignInPolicy::default());
        let b = strangers();
        let mut now = 0;
        for i in 1..=5 {
            assert_eq!(g.gate(&b, now), Gate::Try, "attempt {i}");
            let alarm = g.failed(&b, now);
            assert_eq!(alarm == (Alarm::Throttled { failures: 5 }), i == 5);
        }
        assert_eq!(g.gate(&b, now), Gate::Wait { retry_after_ms: 1_000 });
        now += 1_000;
        assert_eq!(g.gate(&b, now), Gate::Try);
        g.failed(&b, now);
        assert_eq!(g.gate(&b, now), Gate::Wait { retry_after_ms: 2_000 });
        assert_eq!(g.delay_after(100), 15 * 60 * 1_000, "never more than the ceiling");
        assert_eq!(g.delay_after(u32::MAX), 15 * 60 * 1_000);
    }

    #[test]
    fn two_hundred_guesses_from_anywhere_get_only_a_few_checks() {
        // 200 guesses within a minute, as from 200 addresses: the address is not in the key.
        let g = SignInGuard::new(SignInPolicy::default());
        let b = strangers();
        let mut checked = 0;
        for i in 0..200 {
            let now = i * 300;
            if g.gate(&b, now) == Gate::Try {
                checked += 1;
                g.failed(&b, now);
            }
        }
        // 5 free, then waits of 1, 2, 4, 8, 16, 32 s fit in the minute.
        assert!(checked <= 11, "{checked} guesses checked");
    }

    #[test]
    fn a_known_device_is_not_locked_out_by_strangers() {
        let g = SignInGuard::new(SignInPolicy::default());
        for i in 0..50 {
            g.failed(&strangers(), i);
        }
        assert!(matches!(g.gate(&strangers(), 100), Gate::Wait { .. }));
        let mine = Budget::KnownDevice("marie@example.org".into(), "d1".into());
        assert_eq!(g.gate(&mine, 100), Gate::Try);
        g.succeeded(&mine);
        assert!(matches!(g.gate(&strangers(), 100), Gate::Wait { .. }), "the strangers' budget is not reset");
    }

    #[test]
    fn success_resets_and_old_failures_are_forgotten() {
        let p = SignInPolicy::default();
        let g = SignInGuard::new(p);
        let b = strangers();
        for _ in 0..4 {
            g.failed(&b, 0);
        }
        g.succeeded(&b);
        for _ in 0..4 {
            g.failed(&b, 10);
        }
        assert_eq!(g.gate(&b, 10), Gate::Try, "four failures after a success are free");
        g.failed(&b, p.forget_after_ms + 11);
        assert_eq!(g.gate(&b, p.forget_after_ms + 11), Gate::Try, "the old four were forgotten");
    }

    #[test]
    fn bursts_are_reported_every_so_many_failures() {
        let g = SignInGuard::new(SignInPolicy { burst_every: 10, ..SignInPolicy::default() });
        let alarms: Vec<Alarm> = (0..25).map(|i| g.failed(&strangers(), i)).filter(|a| *a != Alarm::None).collect();
        assert_eq!(
            alarms,
            vec![Alarm::Throttled { failures: 5 }, Alarm::Burst { failures: 15 }, Alarm::Burst { failures: 25 }]
        );
    }

    #[test]
    fn a_full_map_refuses_new_strangers_but_not_known_devices() {
        let g = SignInGuard::new(SignInPolicy { capacity: 3, ..SignInPolicy::default() });
        for a in ["a", "b", "c"] {
            g.failed(&Budget::Strangers(a.into()), 0);
        }
        assert!(matches!(g.gate(&Budget::Strangers("d".into()), 1), Gate::Wait { .. }), "fails closed");
        assert_eq!(g.failed(&Budget::Strangers("d".into()), 1), Alarm::None);
        assert_eq!(g.len(), (3, 0));
        assert_eq!(g.gate(&Budget::KnownDevice("d".into(), "x".into()), 1), Gate::Try);
        // Once the old budgets' waits are long over, there is room again.
        assert_eq!(g.gate(&Budget::Strangers("d".into()), 16 * 60 * 1_000), Gate::Try);
    }
}
