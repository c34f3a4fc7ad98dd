//! Bursts of versions of one document, coalesced for consumers that ask (FND §4.4): at most one
//! delivery per document every [`INTERVAL_MS`], the last version winning. The first change of
//! a quiet document goes at once; the ones within the interval wait, each replacing the one
//! before, and the last goes when the interval is over. Withdrawals are never held back behind
//! the version they withdraw.

use crate::document::Key;
use crate::feed::{Change, ChangeKind};
use std::collections::HashMap;

pub const INTERVAL_MS: i64 = 250;
/// Documents tracked at most; past it, changes go through uncoalesced (never dropped).
pub const MAX_TRACKED: usize = 100_000;

#[derive(Default)]
pub struct Coalescer {
    last_sent: HashMap<Key, i64>,
    held: HashMap<Key, Change>,
}

impl Coalescer {
    /// A change offered at `now_ms`: what to deliver now (nothing, or this change).
    pub fn offer(&mut self, change: Change, now_ms: i64) -> Option<Change> {
        let key = change.key().clone();
        let recent = self.last_sent.get(&key).is_some_and(|t| now_ms - t < INTERVAL_MS);
        if !recent || change.kind == ChangeKind::Withdrawn || self.last_sent.len() >= MAX_TRACKED {
            self.held.remove(&key);
            self.last_sent.insert(key, now_ms);
            return Some(change);
        }
        self.held.insert(key, change);
        None
    }

    /// Held changes whose interval is over at `now_ms`, in feed order.
    pub fn due(&mut self, now_ms: i64) -> Vec<Change> {
        let ready: Vec<Key> = self
            .held
            .keys()
            .filter(|k| self.last_sent.get(*k).is_none_or(|t| now_ms - t >= INTERVAL_MS))
            .cloned()
            .collect();
        let mut out: Vec<Change> = ready.into_iter().filter_map(|k| self.held.remove(&k)).collect();
        for c in &out {
            self.last_sent.insert(c.key().clone(), now_ms);
        }
        out.sort_by_key(|c| c.seq);
        // Documents quiet for a while need not be remembered.
        self.last_sent.retain(|_, t| now_ms - *t < 10 * INTERVAL_MS);
        out
    }

    /// When the next held change falls due, if one is held.
    pub fn next_due(&self) -> Option<i64> {
        self.held.keys().filter_map(|k| self.last_sent.get(k)).map(|t| t + INTERVAL_MS).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::{Applied, Feed};

    #[test]
    fn a_burst_becomes_one_delivery_per_interval_and_the_last_version_wins() {
        let mut f = Feed::new(1);
        let mut c = Coalescer::default();
        let mut delivered = Vec::new();
        for (v, at) in [(1, 0), (2, 50), (3, 100), (4, 240)] {
            let Ok(Applied::Accepted(ch)) = f.apply(crate::feed::tests::doc("A", v, true), at) else { panic!() };
            delivered.extend(c.offer(*ch, at));
        }
        assert_eq!(delivered.iter().map(|c| c.header.version).collect::<Vec<_>>(), [1]);
        assert!(c.due(249).is_empty());
        assert_eq!(c.next_due(), Some(250));
        let due = c.due(250);
        assert_eq!(due.iter().map(|c| c.header.version).collect::<Vec<_>>(), [4], "the last version wins");
        // Another document is not held behind this one.
        let Ok(Applied::Accepted(b)) = f.apply(crate::feed::tests::doc("B", 1, true), 260) else { panic!() };
        assert!(c.offer(*b, 260).is_some());
        // A withdrawal goes at once.
        let Ok(Applied::Accepted(w)) = f.apply(crate::feed::tests::doc("A", 4, false), 300) else { panic!() };
        assert!(c.offer(*w, 300).is_some());
    }
}
