//! Small time-bounded caches for what every request reads and what almost never changes:
//! sign-in sessions and sales phases. Each request would otherwise cost a store read or two
//! before doing anything useful, which at thousands of purchases a second is most of the work.
//!
//! What a cached value may get wrong is bounded by its age: a sign-in session ended on
//! another node keeps working here for at most [`SESSION_TTL`] (ended on this node, at once);
//! a phase's status, or a category's price and seats left, may lag by [`PHASE_TTL`], which is
//! harmless because the store checks the slot, the caps, the seats and the total again inside
//! every purchase transaction.
//!
//! While the store does not answer, a sign-in this node checked within the last
//! [`STORE_DOWN_GRACE`] (and not ended since, as far as this node heard) is still taken
//! ([`TtlCache::get_stale`]): operators keep their consoles through a store outage, the
//! operations centre above all, which is what they look at then. Writes fail anyway.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const SESSION_TTL: Duration = Duration::from_secs(5);
pub const PHASE_TTL: Duration = Duration::from_secs(1);
/// How old a checked sign-in may be and still be taken while the store does not answer.
pub const STORE_DOWN_GRACE: Duration = Duration::from_secs(30 * 60);
/// Past this many entries the cache starts over, which bounds its memory.
const MAX_ENTRIES: usize = 200_000;

pub struct TtlCache<K, V> {
    ttl: Duration,
    map: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        TtlCache { ttl, map: Mutex::new(HashMap::new()) }
    }

    pub fn get<Q: ?Sized + Eq + Hash>(&self, k: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
    {
        let map = self.map.lock().expect("cache lock");
        map.get(k).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, v)| v.clone())
    }

    /// The value however old, up to `max_age`: only for when the source of truth cannot be
    /// read. Entries removed or cleared are gone for this too.
    pub fn get_stale<Q: ?Sized + Eq + Hash>(&self, k: &Q, max_age: Duration) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
    {
        let map = self.map.lock().expect("cache lock");
        map.get(k).filter(|(at, _)| at.elapsed() < max_age).map(|(_, v)| v.clone())
    }

    pub fn put(&self, k: K, v: V) {
        let mut map = self.map.lock().expect("cache lock");
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(k, (Instant::now(), v));
    }

    pub fn remove(&self, k: &K) {
        self.map.lock().expect("cache lock").remove(k);
    }

    pub fn clear(&self) {
        self.map.lock().expect("cache lock").clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_and_bounds() {
        let c = TtlCache::new(Duration::from_millis(30));
        c.put(1, "a");
        assert_eq!(c.get(&1), Some("a"));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(c.get(&1), None);
        c.put(2, "b");
        c.remove(&2);
        assert_eq!(c.get(&2), None);
    }

    #[test]
    fn a_stale_value_is_kept_for_outages_until_removed_or_too_old() {
        let c = TtlCache::new(Duration::from_millis(10));
        c.put(1, "a");
        c.put(2, "b");
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(c.get(&1), None, "past its time to live");
        assert_eq!(c.get_stale(&1, Duration::from_secs(60)), Some("a"), "kept for when the store is down");
        assert_eq!(c.get_stale(&1, Duration::from_millis(5)), None, "but not older than asked");
        c.remove(&2);
        assert_eq!(c.get_stale(&2, Duration::from_secs(60)), None, "an ended sign-in is gone");
    }
}
