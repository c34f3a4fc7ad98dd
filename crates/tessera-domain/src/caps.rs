//! Purchase caps: how many tickets one account may hold.
//!
//! Paris 2024's rules are the defaults: at most 30 tickets per account across all phases,
//! 6 per session, 4 for a ceremony; phase 1 sold only packs spanning at least 3 sessions.
//! The store gathers what the account already holds (paid tickets plus seats held in live
//! carts) inside the same transaction that reserves, and asks [`check_reserve`].

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caps {
    pub per_account: i64,
    pub per_session: i64,
    pub per_ceremony: i64,
    /// An order in the phase must span at least this many distinct sessions (1 = no pack rule).
    pub min_sessions_per_order: i64,
}

impl Default for Caps {
    fn default() -> Self {
        Caps { per_account: 30, per_session: 6, per_ceremony: 4, min_sessions_per_order: 1 }
    }
}

impl Caps {
    pub fn validate(&self) -> Result<(), String> {
        if self.per_account < 1 || self.per_session < 1 || self.per_ceremony < 1 {
            return Err("caps must be at least 1".into());
        }
        if self.per_session > self.per_account || self.per_ceremony > self.per_account {
            return Err("a per-session cap cannot exceed the per-account cap".into());
        }
        if !(1..=50).contains(&self.min_sessions_per_order) {
            return Err("min_sessions_per_order must be between 1 and 50".into());
        }
        Ok(())
    }
}

/// What the account holds now: paid tickets plus seats in live carts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Holdings {
    pub account_total: i64,
    pub in_session: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CapViolation {
    Quantity { qty: i64 },
    PerAccount { cap: i64, held: i64, requested: i64 },
    PerSession { cap: i64, held: i64, requested: i64, ceremony: bool },
    Pack { min_sessions: i64, sessions: i64 },
}

impl fmt::Display for CapViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CapViolation::Quantity { qty } => write!(f, "quantity must be between 1 and 50, got {qty}"),
            CapViolation::PerAccount { cap, held, requested } => write!(
                f,
                "an account may hold at most {cap} tickets across all phases; you hold {held} and asked for {requested} more"
            ),
            CapViolation::PerSession { cap, held, requested, ceremony } => write!(
                f,
                "at most {cap} tickets per {} session; you hold {held} for it and asked for {requested} more",
                if *ceremony { "ceremony" } else { "" }
            ),
            CapViolation::Pack { min_sessions, sessions } => write!(
                f,
                "this phase sells packs only: an order must span at least {min_sessions} different sessions, this cart spans {sessions}"
            ),
        }
    }
}

/// May the account add `qty` seats of one session to its cart?
pub fn check_reserve(caps: &Caps, held: Holdings, qty: i64, ceremony: bool) -> Result<(), CapViolation> {
    if !(1..=50).contains(&qty) {
        return Err(CapViolation::Quantity { qty });
    }
    if held.account_total + qty > caps.per_account {
        return Err(CapViolation::PerAccount { cap: caps.per_account, held: held.account_total, requested: qty });
    }
    let cap = if ceremony { caps.per_ceremony } else { caps.per_session };
    if held.in_session + qty > cap {
        return Err(CapViolation::PerSession { cap, held: held.in_session, requested: qty, ceremony });
    }
    Ok(())
}

/// May a cart spanning `distinct_sessions` sessions be checked out?
pub fn check_pack(caps: &Caps, distinct_sessions: i64) -> Result<(), CapViolation> {
    if distinct_sessions < caps.min_sessions_per_order {
        return Err(CapViolation::Pack { min_sessions: caps.min_sessions_per_order, sessions: distinct_sessions });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn paris_defaults() {
        let c = Caps::default();
        assert!(check_reserve(&c, Holdings { account_total: 0, in_session: 0 }, 6, false).is_ok());
        assert!(check_reserve(&c, Holdings { account_total: 0, in_session: 0 }, 7, false).is_err());
        assert!(check_reserve(&c, Holdings { account_total: 0, in_session: 0 }, 5, true).is_err());
        assert!(check_reserve(&c, Holdings { account_total: 28, in_session: 0 }, 3, false).is_err());
        assert!(check_reserve(&c, Holdings { account_total: 0, in_session: 0 }, 0, false).is_err());
        assert!(check_reserve(&c, Holdings { account_total: 0, in_session: 0 }, -2, false).is_err());
        let pack = Caps { min_sessions_per_order: 3, ..c };
        assert!(check_pack(&pack, 2).is_err());
        assert!(check_pack(&pack, 3).is_ok());
    }

    proptest! {
        // Whatever sequence of requests an account makes, accepting only what check_reserve
        // allows never leaves it above any cap.
        #[test]
        fn accepted_requests_never_exceed_caps(reqs in prop::collection::vec((0usize..5, -3i64..12), 0..80)) {
            let caps = Caps::default();
            let ceremony = [false, false, true, false, true];
            let mut per = [0i64; 5];
            for (s, q) in reqs {
                let held = Holdings { account_total: per.iter().sum(), in_session: per[s] };
                if check_reserve(&caps, held, q, ceremony[s]).is_ok() {
                    per[s] += q;
                }
            }
            prop_assert!(per.iter().sum::<i64>() <= caps.per_account);
            for s in 0..5 {
                let cap = if ceremony[s] { caps.per_ceremony } else { caps.per_session };
                prop_assert!(per[s] <= cap);
                prop_assert!(per[s] >= 0);
            }
        }
    }
}
