//! Small time-bounded caches for what every request reads and what almost never changes:
//! sign-in sessions and sales phases. Each request would otherwise cost a store read or two
//! before doing anything useful, which at thousands of purchases a second is most of the work.
//!
//! What a cached value may get wrong is bounded by its age: a sign-in session ended on
//! another node keeps working here for at most [`SESSION_TTL`] (ended on this node, at once);
//! a phase's status, or a category's price and seats left, may lag by [`PHASE_TTL`], which is
//! harmless because the store checks the slot, the caps, the seats and the total again inside
//! every purchase transaction.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const SESSION_TTL: Duration = Duration::from_secs(5);
pub const PHASE_TTL: Duration = Duration::from_secs(1);
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
}
