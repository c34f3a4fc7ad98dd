//! The block list: decisions taken elsewhere (security operations, automatic detectors, an
//! operator) about an address, a network or an account, applied to every request at the edge.
//!
//! A [`Decision`] says what to do ([`Kind`]: throttle, demand a challenge, block), to whom
//! ([`Scope`]), until when, why and who decided. [`BlockList::check`] answers for one request with
//! at most three hash lookups (the address, its network, the account), so its cost does not grow
//! with the list; the most severe live decision wins. Decisions always carry an expiry: an edge
//! block that outlives its reason is an outage for whoever inherits the address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, PoisonError, RwLock};

use serde::{Deserialize, Serialize};

use crate::net::{canonical, network_of, Network};

/// Longest accepted reason, in characters.
pub const MAX_REASON_CHARS: usize = 200;
/// Longest accepted origin, in characters.
pub const MAX_ORIGIN_CHARS: usize = 64;

/// Whom a decision applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Scope {
    /// One address; an IPv4-mapped IPv6 address is stored as the IPv4 address.
    Address(IpAddr),
    /// An IPv4 /24 or IPv6 /48.
    Network(Network),
    /// One account, by id.
    Account(u64),
}

impl Scope {
    /// The same scope with its address in [`canonical`] form, so that the two spellings of an
    /// IPv4 address are one key.
    pub fn canonical(self) -> Self {
        match self {
            Scope::Address(ip) => Scope::Address(canonical(ip)),
            other => other,
        }
    }
}

/// What to do with a matching request, ordered by severity (`Throttle < Challenge < Block`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Apply a much tighter rate limit.
    Throttle,
    /// Require a proof of work (or another challenge) before going on.
    Challenge,
    /// Refuse.
    Block,
}

/// Why a decision was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    /// The reason is longer than [`MAX_REASON_CHARS`].
    #[error("reason is longer than {MAX_REASON_CHARS} characters")]
    ReasonTooLong,
    /// The origin is empty or longer than [`MAX_ORIGIN_CHARS`].
    #[error("origin must be 1 to {MAX_ORIGIN_CHARS} characters")]
    BadOrigin,
    /// Reason or origin contain control characters (they end up in logs and admin pages).
    #[error("reason and origin must not contain control characters")]
    ControlCharacter,
    /// The list holds its maximum number of entries; sweep or remove some first.
    #[error("the block list is full")]
    Full,
}

/// One decision about one scope, valid until `expires_ms` (exclusive, unix milliseconds).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawDecision")]
pub struct Decision {
    /// Whom it applies to.
    pub scope: Scope,
    /// What to do.
    pub kind: Kind,
    /// Unix milliseconds at which it stops applying.
    pub expires_ms: i64,
    /// Human-readable cause, at most [`MAX_REASON_CHARS`] characters.
    pub reason: String,
    /// Who decided (a detector's name, an operator), at most [`MAX_ORIGIN_CHARS`] characters.
    pub origin: String,
}

/// The unvalidated wire form; deserialising a [`Decision`] goes through [`Decision::new`].
#[derive(Deserialize)]
struct RawDecision {
    scope: Scope,
    kind: Kind,
    expires_ms: i64,
    reason: String,
    origin: String,
}

impl TryFrom<RawDecision> for Decision {
    type Error = DecisionError;

    fn try_from(r: RawDecision) -> Result<Self, Self::Error> {
        Decision::new(r.scope, r.kind, r.expires_ms, r.reason, r.origin)
    }
}

impl Decision {
    /// A validated decision; the scope's address is stored in [`canonical`] form.
    pub fn new(
        scope: Scope,
        kind: Kind,
        expires_ms: i64,
        reason: impl Into<String>,
        origin: impl Into<String>,
    ) -> Result<Self, DecisionError> {
        let d = Decision { scope: scope.canonical(), kind, expires_ms, reason: reason.into(), origin: origin.into() };
        d.validate()?;
        Ok(d)
    }

    /// Checks the text limits; fields are public, so [`BlockList::insert`] checks again.
    pub fn validate(&self) -> Result<(), DecisionError> {
        if self.reason.chars().count() > MAX_REASON_CHARS {
            return Err(DecisionError::ReasonTooLong);
        }
        let origin_chars = self.origin.chars().count();
        if origin_chars == 0 || origin_chars > MAX_ORIGIN_CHARS {
            return Err(DecisionError::BadOrigin);
        }
        if self.reason.chars().chain(self.origin.chars()).any(char::is_control) {
            return Err(DecisionError::ControlCharacter);
        }
        Ok(())
    }

    /// Whether the decision still applies at `now_ms`.
    pub fn is_live(&self, now_ms: i64) -> bool {
        now_ms < self.expires_ms
    }
}

/// What [`BlockList::check`] found: the most severe live decision matching a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// What to do.
    pub kind: Kind,
    /// Which decision matched (address, network or account).
    pub scope: Scope,
    /// Its reason, shared with the list so that a match costs no allocation.
    pub reason: Arc<str>,
}

#[derive(Debug)]
struct Entry {
    kind: Kind,
    expires_ms: i64,
    reason: Arc<str>,
    origin: String,
}

impl Entry {
    fn live_verdict(&self, scope: Scope, now_ms: i64) -> Option<Verdict> {
        (now_ms < self.expires_ms).then(|| Verdict { kind: self.kind, scope, reason: Arc::clone(&self.reason) })
    }
}

#[derive(Debug, Default)]
struct Inner {
    addresses: HashMap<IpAddr, Entry>,
    networks: HashMap<Network, Entry>,
    accounts: HashMap<u64, Entry>,
}

impl Inner {
    fn len(&self) -> usize {
        self.addresses.len() + self.networks.len() + self.accounts.len()
    }

    fn contains(&self, scope: &Scope) -> bool {
        match scope {
            Scope::Address(ip) => self.addresses.contains_key(ip),
            Scope::Network(n) => self.networks.contains_key(n),
            Scope::Account(a) => self.accounts.contains_key(a),
        }
    }
}

/// The live set of decisions, bounded to `max_entries`, read on every request.
#[derive(Debug)]
pub struct BlockList {
    inner: RwLock<Inner>,
    max_entries: usize,
    /// Entries held, kept beside the lock so that the common case, an empty list, costs every
    /// request one atomic load instead of a lock. Updated under the write lock.
    held: std::sync::atomic::AtomicUsize,
}

impl BlockList {
    /// An empty list that will hold at most `max_entries` decisions.
    pub fn new(max_entries: usize) -> Self {
        Self { inner: RwLock::new(Inner::default()), max_entries, held: std::sync::atomic::AtomicUsize::new(0) }
    }

    /// Adds a decision, replacing any decision for the same scope (a later decision about the
    /// same scope supersedes, it may also lift or shorten). Refused when the list is full and the
    /// scope is new: nothing is evicted silently, the caller should [`sweep`](Self::sweep).
    pub fn insert(&self, d: Decision) -> Result<(), DecisionError> {
        d.validate()?;
        let scope = d.scope.canonical();
        let entry = Entry { kind: d.kind, expires_ms: d.expires_ms, reason: Arc::from(d.reason), origin: d.origin };
        let mut inner = self.write();
        if !inner.contains(&scope) && inner.len() >= self.max_entries {
            return Err(DecisionError::Full);
        }
        match scope {
            Scope::Address(ip) => inner.addresses.insert(ip, entry),
            Scope::Network(n) => inner.networks.insert(n, entry),
            Scope::Account(a) => inner.accounts.insert(a, entry),
        };
        self.held.store(inner.len(), std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Removes the decision for `scope`; whether there was one.
    pub fn remove(&self, scope: &Scope) -> bool {
        let mut inner = self.write();
        let removed = match scope.canonical() {
            Scope::Address(ip) => inner.addresses.remove(&ip).is_some(),
            Scope::Network(n) => inner.networks.remove(&n).is_some(),
            Scope::Account(a) => inner.accounts.remove(&a).is_some(),
        };
        self.held.store(inner.len(), std::sync::atomic::Ordering::Relaxed);
        removed
    }

    /// Every decision still live at `now_ms`, most severe first, then by soonest expiry.
    pub fn list(&self, now_ms: i64) -> Vec<Decision> {
        let inner = self.read();
        let decision = |scope: Scope, e: &Entry| Decision {
            scope,
            kind: e.kind,
            expires_ms: e.expires_ms,
            reason: e.reason.to_string(),
            origin: e.origin.clone(),
        };
        let mut out: Vec<Decision> = inner
            .addresses
            .iter()
            .map(|(ip, e)| decision(Scope::Address(*ip), e))
            .chain(inner.networks.iter().map(|(n, e)| decision(Scope::Network(*n), e)))
            .chain(inner.accounts.iter().map(|(a, e)| decision(Scope::Account(*a), e)))
            .filter(|d| d.is_live(now_ms))
            .collect();
        out.sort_by(|a, b| b.kind.cmp(&a.kind).then(a.expires_ms.cmp(&b.expires_ms)));
        out
    }

    /// The most severe live decision matching a request from `addr` (and `account`, when the
    /// request is authenticated). On equal severity the most specific scope is reported:
    /// address, then account, then network.
    pub fn check(&self, addr: IpAddr, account: Option<u64>, now_ms: i64) -> Option<Verdict> {
        if self.held.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            return None;
        }
        let addr = canonical(addr);
        let net = network_of(addr);
        let inner = self.read();
        let candidates = [
            inner.addresses.get(&addr).and_then(|e| e.live_verdict(Scope::Address(addr), now_ms)),
            account.and_then(|a| inner.accounts.get(&a).and_then(|e| e.live_verdict(Scope::Account(a), now_ms))),
            inner.networks.get(&net).and_then(|e| e.live_verdict(Scope::Network(net), now_ms)),
        ];
        // `reduce` keeps the earlier (more specific) verdict on a tie.
        candidates.into_iter().flatten().reduce(|best, v| if v.kind > best.kind { v } else { best })
    }

    /// The live decision on an account alone, for requests whose address was already screened.
    pub fn check_account(&self, account: u64, now_ms: i64) -> Option<Verdict> {
        if self.held.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            return None;
        }
        self.read().accounts.get(&account).and_then(|e| e.live_verdict(Scope::Account(account), now_ms))
    }

    /// Drops every decision that has expired at `now_ms`; returns how many.
    pub fn sweep(&self, now_ms: i64) -> usize {
        let mut inner = self.write();
        let before = inner.len();
        inner.addresses.retain(|_, e| now_ms < e.expires_ms);
        inner.networks.retain(|_, e| now_ms < e.expires_ms);
        inner.accounts.retain(|_, e| now_ms < e.expires_ms);
        self.held.store(inner.len(), std::sync::atomic::Ordering::Relaxed);
        before - inner.len()
    }

    /// Number of entries held, expired or not.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // Every write leaves the maps consistent (single insert/remove/retain), so a poisoned lock
    // still guards valid data; keep serving rather than turning one panic into an outage.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn decision(scope: Scope, kind: Kind, expires_ms: i64) -> Decision {
        Decision::new(scope, kind, expires_ms, "test", "unit-test").unwrap()
    }

    #[test]
    fn each_scope_matches_and_only_its_own() {
        let list = BlockList::new(100);
        list.insert(decision(Scope::Address(ip("198.51.100.7")), Kind::Block, NOW + 1000)).unwrap();
        list.insert(decision(Scope::Network("203.0.113.0/24".parse().unwrap()), Kind::Challenge, NOW + 1000)).unwrap();
        list.insert(decision(Scope::Account(42), Kind::Throttle, NOW + 1000)).unwrap();
        list.insert(decision(Scope::Network("2001:db8:1::/48".parse().unwrap()), Kind::Block, NOW + 1000)).unwrap();

        let v = list.check(ip("198.51.100.7"), None, NOW).unwrap();
        assert_eq!((v.kind, v.scope), (Kind::Block, Scope::Address(ip("198.51.100.7"))));
        assert_eq!(&*v.reason, "test");
        assert_eq!(list.check(ip("198.51.100.8"), None, NOW), None);

        let v = list.check(ip("203.0.113.250"), None, NOW).unwrap();
        assert_eq!(v.kind, Kind::Challenge);
        assert_eq!(v.scope, Scope::Network(Network::V4([203, 0, 113])));

        let v = list.check(ip("192.0.2.1"), Some(42), NOW).unwrap();
        assert_eq!((v.kind, v.scope), (Kind::Throttle, Scope::Account(42)));
        assert_eq!(list.check(ip("192.0.2.1"), Some(43), NOW), None);
        assert_eq!(list.check(ip("192.0.2.1"), None, NOW), None);

        assert_eq!(list.check(ip("2001:db8:1:9::5"), None, NOW).unwrap().kind, Kind::Block);
        assert_eq!(list.check(ip("2001:db8:2::5"), None, NOW), None);
    }

    #[test]
    fn most_severe_wins() {
        assert!(Kind::Throttle < Kind::Challenge && Kind::Challenge < Kind::Block);
        let list = BlockList::new(100);
        list.insert(decision(Scope::Address(ip("203.0.113.5")), Kind::Throttle, NOW + 1000)).unwrap();
        list.insert(decision(Scope::Account(7), Kind::Challenge, NOW + 1000)).unwrap();
        assert_eq!(list.check(ip("203.0.113.5"), Some(7), NOW).unwrap().kind, Kind::Challenge);
        list.insert(decision(Scope::Network(Network::V4([203, 0, 113])), Kind::Block, NOW + 1000)).unwrap();
        let v = list.check(ip("203.0.113.5"), Some(7), NOW).unwrap();
        assert_eq!((v.kind, v.scope), (Kind::Block, Scope::Network(Network::V4([203, 0, 113]))));
        // A tie is reported on the most specific scope.
        list.insert(decision(Scope::Address(ip("203.0.113.5")), Kind::Block, NOW + 1000)).unwrap();
        assert_eq!(list.check(ip("203.0.113.5"), Some(7), NOW).unwrap().scope, Scope::Address(ip("203.0.113.5")));
    }

    #[test]
    fn expired_decisions_never_match() {
        let list = BlockList::new(100);
        list.insert(decision(Scope::Address(ip("203.0.113.5")), Kind::Block, NOW + 1000)).unwrap();
        list.insert(decision(Scope::Account(7), Kind::Throttle, NOW + 5000)).unwrap();
        assert_eq!(list.check(ip("203.0.113.5"), Some(7), NOW + 999).unwrap().kind, Kind::Block);
        // The expired block no longer hides the live, milder throttle.
        assert_eq!(list.check(ip("203.0.113.5"), Some(7), NOW + 1000).unwrap().kind, Kind::Throttle);
        assert_eq!(list.check(ip("203.0.113.5"), None, NOW + 1000), None);
        assert_eq!(list.list(NOW + 1000).len(), 1);
        assert_eq!(list.len(), 2);
        assert_eq!(list.sweep(NOW + 1000), 1);
        assert_eq!(list.len(), 1);
        assert_eq!(list.sweep(NOW + 5000), 1);
        assert!(list.is_empty());
    }

    #[test]
    fn mapped_addresses_match_v4_decisions() {
        let list = BlockList::new(100);
        list.insert(decision(Scope::Address(ip("203.0.113.5")), Kind::Block, NOW + 1000)).unwrap();
        list.insert(decision(Scope::Network(Network::V4([198, 51, 100])), Kind::Challenge, NOW + 1000)).unwrap();
        assert_eq!(list.check(ip("::ffff:203.0.113.5"), None, NOW).unwrap().kind, Kind::Block);
        assert_eq!(list.check(ip("::ffff:198.51.100.77"), None, NOW).unwrap().kind, Kind::Challenge);
        // And a decision written with the mapped spelling is stored, matched and removed as IPv4.
        list.insert(decision(Scope::Address(ip("::ffff:192.0.2.9")), Kind::Throttle, NOW + 1000)).unwrap();
        let v = list.check(ip("192.0.2.9"), None, NOW).unwrap();
        assert_eq!(v.scope, Scope::Address(ip("192.0.2.9")));
        assert!(list.remove(&Scope::Address(ip("::ffff:192.0.2.9"))));
        assert_eq!(list.check(ip("192.0.2.9"), None, NOW), None);
    }

    #[test]
    fn bounded_and_replacing() {
        let list = BlockList::new(2);
        list.insert(decision(Scope::Account(1), Kind::Block, NOW + 10)).unwrap();
        list.insert(decision(Scope::Account(2), Kind::Block, NOW + 1000)).unwrap();
        assert_eq!(list.insert(decision(Scope::Account(3), Kind::Block, NOW + 1000)), Err(DecisionError::Full));
        // Replacing an existing scope is allowed when full, and replaces rather than adds.
        list.insert(decision(Scope::Account(2), Kind::Throttle, NOW + 1000)).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list.check(ip("192.0.2.1"), Some(2), NOW).unwrap().kind, Kind::Throttle);
        // Sweeping the expired entry makes room.
        list.sweep(NOW + 10);
        list.insert(decision(Scope::Account(3), Kind::Block, NOW + 1000)).unwrap();
        assert!(!list.remove(&Scope::Account(1)));
        assert!(list.remove(&Scope::Account(3)));
    }

    #[test]
    fn validation() {
        let s = Scope::Account(1);
        assert!(Decision::new(s, Kind::Block, NOW, "é".repeat(200), "ops").is_ok());
        assert_eq!(Decision::new(s, Kind::Block, NOW, "x".repeat(201), "ops"), Err(DecisionError::ReasonTooLong));
        assert_eq!(Decision::new(s, Kind::Block, NOW, "ok", ""), Err(DecisionError::BadOrigin));
        assert_eq!(Decision::new(s, Kind::Block, NOW, "ok", "o".repeat(65)), Err(DecisionError::BadOrigin));
        assert_eq!(Decision::new(s, Kind::Block, NOW, "a\nb", "ops"), Err(DecisionError::ControlCharacter));
        // Fields are public: insert re-validates.
        let mut d = decision(s, Kind::Block, NOW + 1);
        d.reason = "x".repeat(1000);
        assert_eq!(BlockList::new(10).insert(d), Err(DecisionError::ReasonTooLong));
    }

    #[test]
    fn serde_shape() {
        let d =
            Decision::new(Scope::Address(ip("1.2.3.4")), Kind::Challenge, NOW, "burst of joins", "detector").unwrap();
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "scope": {"type": "address", "value": "1.2.3.4"},
                "kind": "challenge",
                "expires_ms": NOW,
                "reason": "burst of joins",
                "origin": "detector"
            })
        );
        assert_eq!(serde_json::from_value::<Decision>(json).unwrap(), d);
        let net = serde_json::to_value(Scope::Network("2001:db8:1::/48".parse().unwrap())).unwrap();
        assert_eq!(net, serde_json::json!({"type": "network", "value": "2001:db8:1::/48"}));
        assert_eq!(
            serde_json::to_value(Scope::Account(9)).unwrap(),
            serde_json::json!({"type": "account", "value": 9})
        );
        // Deserialising validates.
        let bad = serde_json::json!({
            "scope": {"type": "account", "value": 1}, "kind": "block", "expires_ms": 0,
            "reason": "x".repeat(201), "origin": "ops"
        });
        assert!(serde_json::from_value::<Decision>(bad).is_err());
        let mapped = serde_json::json!({
            "scope": {"type": "address", "value": "::ffff:1.2.3.4"}, "kind": "block", "expires_ms": 0,
            "reason": "", "origin": "ops"
        });
        assert_eq!(serde_json::from_value::<Decision>(mapped).unwrap().scope, Scope::Address(ip("1.2.3.4")));
    }

    #[test]
    fn list_shows_live_only_most_severe_first() {
        let list = BlockList::new(10);
        list.insert(decision(Scope::Account(1), Kind::Throttle, NOW + 100)).unwrap();
        list.insert(decision(Scope::Account(2), Kind::Block, NOW + 200)).unwrap();
        list.insert(decision(Scope::Account(3), Kind::Block, NOW - 1)).unwrap();
        let live: Vec<_> = list.list(NOW).into_iter().map(|d| d.scope).collect();
        assert_eq!(live, vec![Scope::Account(2), Scope::Account(1)]);
    }
}
