//! A results feed: the latest version of every document, the ODF rules that decide what a
//! new version does, and a sequence that ODF itself lacks.
//!
//! **Rules** (FND §6.7, §6.19), for a document of the same [`Key`]:
//! - a higher version replaces the stored one whole;
//! - the same version with a body is a duplicate (a retry): answered, changes nothing;
//! - the same version without a body withdraws the document (gone from the feed);
//! - a lower version is refused as a regression: the stored one stays.
//!
//! **Sequence.** Every accepted change gets the next position of the feed (`seq`, from 1),
//! within an `epoch` (a number chosen when the feed began: a feed rebuilt from nothing has
//! another epoch, so a consumer's old position cannot be mistaken for a new one). A consumer
//! that knows `(epoch, seq)` asks for what followed ([`Feed::since`]): the changes themselves
//! while the bounded log still holds them, or else the whole current state and the position
//! it stands at; never a silent gap.

use crate::document::{Body, Document, Header, Key};
use crate::medals::MedalTable;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// Changes kept for catch-up, at most (and at most [`LOG_BYTES`] of bodies).
pub const LOG_CHANGES: usize = 100_000;
pub const LOG_BYTES: usize = 256 << 20;
/// Documents a feed holds, at most (Paris 2024: some 329 events, a few thousand units, each
/// with a handful of document types).
pub const MAX_DOCUMENTS: usize = 500_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A document seen for the first time.
    Created,
    /// A higher version replaced the stored one.
    Replaced,
    /// The version was withdrawn: the document is gone.
    Withdrawn,
}

/// One accepted change, as subscribers receive it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub epoch: u64,
    pub seq: u64,
    pub kind: ChangeKind,
    pub header: Header,
    /// `None` for a withdrawal.
    pub body: Option<Arc<Body>>,
    /// When the feed accepted it (ms since the epoch), for delivery latency.
    pub at_ms: i64,
}

impl Change {
    pub fn key(&self) -> &Key {
        &self.header.key
    }
}

/// What a document did to the feed.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    Accepted(Box<Change>),
    /// The same version again: nothing changed.
    Duplicate {
        version: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    #[error("version {given} of {key} is older than the stored version {stored}; the stored one stays")]
    Regression { key: String, stored: u32, given: u32 },
    #[error("{key} version {given} cannot be withdrawn: the stored version is {stored}")]
    WithdrawOther { key: String, stored: u32, given: u32 },
    #[error("{0} is not in the feed: nothing to withdraw")]
    WithdrawUnknown(String),
    #[error("the feed holds {MAX_DOCUMENTS} documents, its limit")]
    Full,
}

/// Where a consumer stands, or asks to start from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Position {
    pub epoch: u64,
    pub seq: u64,
}

/// The answer to "what followed this position".
#[derive(Debug, Clone, PartialEq)]
pub enum Catchup {
    /// Every change after the position, in order (possibly none).
    Changes(Vec<Change>),
    /// The position cannot be continued (another epoch, or older than the log holds): the
    /// current state, and the position it stands at.
    Reset { reason: &'static str, state: Vec<Change>, at: Position },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("position {asked} is ahead of the feed, which stands at {current}")]
pub struct FutureError {
    pub asked: u64,
    pub current: u64,
}

pub struct Feed {
    epoch: u64,
    seq: u64,
    docs: BTreeMap<Key, Change>,
    log: VecDeque<Change>,
    log_bytes: usize,
    medals: MedalTable,
}

impl Feed {
    /// A new feed in `epoch` (choose it at random, or from the time, when a feed begins).
    pub fn new(epoch: u64) -> Feed {
        Feed { epoch, seq: 0, docs: BTreeMap::new(), log: VecDeque::new(), log_bytes: 0, medals: MedalTable::default() }
    }

    pub fn position(&self) -> Position {
        Position { epoch: self.epoch, seq: self.seq }
    }

    pub fn documents(&self) -> usize {
        self.docs.len()
    }

    pub fn medals(&self) -> &MedalTable {
        &self.medals
    }

    pub fn get(&self, key: &Key) -> Option<&Change> {
        self.docs.get(key)
    }

    /// Applies a document by the ODF rules (see the module); an accepted change takes the next
    /// position. [`Feed::prepare`] then [`Feed::commit`], for a caller with nothing to do between.
    pub fn apply(&mut self, doc: Document, at_ms: i64) -> Result<Applied, FeedError> {
        let prepared = self.prepare(doc, at_ms)?;
        if let Applied::Accepted(c) = &prepared {
            self.commit((**c).clone());
        }
        Ok(prepared)
    }

    /// What a document would do, the feed unchanged: the change it would make (at the next
    /// position), a duplicate, or a refusal. A caller that must record the change durably first
    /// (the store) prepares, records, then commits; it must let no other document in between.
    pub fn prepare(&self, doc: Document, at_ms: i64) -> Result<Applied, FeedError> {
        let key = doc.header.key.clone();
        let stored = self.docs.get(&key).map(|c| c.header.version);
        let kind = match (stored, &doc.body) {
            (None, None) => return Err(FeedError::WithdrawUnknown(key.to_string())),
            (None, Some(_)) => {
                if self.docs.len() >= MAX_DOCUMENTS {
                    return Err(FeedError::Full);
                }
                ChangeKind::Created
            }
            (Some(v), _) if doc.header.version < v => {
                return Err(FeedError::Regression { key: key.to_string(), stored: v, given: doc.header.version })
            }
            (Some(v), Some(_)) if doc.header.version == v => return Ok(Applied::Duplicate { version: v }),
            (Some(_), Some(_)) => ChangeKind::Replaced,
            (Some(v), None) if doc.header.version == v => ChangeKind::Withdrawn,
            (Some(v), None) => {
                return Err(FeedError::WithdrawOther { key: key.to_string(), stored: v, given: doc.header.version })
            }
        };
        let change = Change {
            epoch: self.epoch,
            seq: self.seq + 1,
            kind,
            header: doc.header,
            body: doc.body.map(Arc::new),
            at_ms,
        };
        Ok(Applied::Accepted(Box::new(change)))
    }

    /// Makes a prepared change (the next position of this epoch) part of the feed.
    pub fn commit(&mut self, change: Change) {
        debug_assert_eq!((change.epoch, change.seq), (self.epoch, self.seq + 1), "commit what was prepared, in order");
        self.seq = change.seq;
        let key = change.header.key.clone();
        let medals_move = self.medals.counts(&change.header);
        if change.kind == ChangeKind::Withdrawn {
            self.docs.remove(&key);
        } else {
            self.docs.insert(key, change.clone());
        }
        if medals_move {
            self.medals = MedalTable::from_results(self.docs.values());
        }
        self.remember(change);
    }

    /// A feed as it was recorded: its epoch and position, and each document's latest change.
    /// Its catch-up log starts empty: a consumer from before is answered with a reset (the
    /// current state), never with a gap.
    pub fn restore(epoch: u64, seq: u64, latest: Vec<Change>) -> Feed {
        let mut f = Feed::new(epoch);
        f.seq = seq;
        for c in latest {
            f.docs.insert(c.header.key.clone(), c);
        }
        f.medals = MedalTable::from_results(f.docs.values());
        f
    }

    fn remember(&mut self, change: Change) {
        self.log_bytes += change.body.as_ref().map_or(0, |b| b.weight());
        self.log.push_back(change);
        while self.log.len() > LOG_CHANGES || self.log_bytes > LOG_BYTES {
            let Some(old) = self.log.pop_front() else { break };
            self.log_bytes -= old.body.as_ref().map_or(0, |b| b.weight());
        }
    }

    /// What followed `from`, filtered by `wanted`. `None`: from the beginning of this epoch.
    pub fn since(&self, from: Option<Position>, wanted: impl Fn(&Change) -> bool) -> Result<Catchup, FutureError> {
        let from = from.unwrap_or(Position { epoch: self.epoch, seq: 0 });
        if from.epoch != self.epoch {
            return Ok(self.reset("the feed began again (another epoch)", &wanted));
        }
        if from.seq > self.seq {
            return Err(FutureError { asked: from.seq, current: self.seq });
        }
        let oldest = self.log.front().map_or(self.seq + 1, |c| c.seq);
        if from.seq + 1 < oldest {
            return Ok(self.reset("the position is older than the changes kept", &wanted));
        }
        let skip = (from.seq + 1 - oldest) as usize;
        Ok(Catchup::Changes(self.log.iter().skip(skip).filter(|c| wanted(c)).cloned().collect()))
    }

    /// The current state as changes (each document's latest), and the position.
    pub fn snapshot(&self, wanted: impl Fn(&Change) -> bool) -> Vec<Change> {
        let mut state: Vec<Change> = self.docs.values().filter(|c| wanted(c)).cloned().collect();
        state.sort_by_key(|c| c.seq);
        state
    }

    fn reset(&self, reason: &'static str, wanted: &impl Fn(&Change) -> bool) -> Catchup {
        Catchup::Reset { reason, state: self.snapshot(wanted), at: self.position() }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::document::{FeedFlag, ResultStatus};

    pub(crate) fn doc(code: &str, version: u32, body: bool) -> Document {
        Document {
            header: Header {
                key: Key {
                    competition: "OG2024".into(),
                    document_code: code.into(),
                    document_subcode: String::new(),
                    document_type: "DT_RESULT".into(),
                    document_subtype: String::new(),
                    language: String::new(),
                },
                version,
                result_status: Some(ResultStatus::Live),
                feed_flag: FeedFlag::P,
                date: "2024-08-04".into(),
                time: "215512000".into(),
                logical_date: "2024-08-04".into(),
                source: "ATHOLY1".into(),
            },
            body: body.then(|| Body { json: Some(serde_json::json!({"v": version})), xml: None, ranked: vec![] }),
        }
    }

    fn accepted(a: Result<Applied, FeedError>) -> Change {
        match a {
            Ok(Applied::Accepted(c)) => *c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn versions_replace_duplicates_change_nothing_and_regressions_are_refused() {
        let mut f = Feed::new(7);
        let c1 = accepted(f.apply(doc("ATHM100M", 1, true), 0));
        assert_eq!((c1.kind, c1.seq, c1.epoch), (ChangeKind::Created, 1, 7));
        let c3 = accepted(f.apply(doc("ATHM100M", 3, true), 0));
        assert_eq!((c3.kind, c3.seq), (ChangeKind::Replaced, 2));
        assert_eq!(f.apply(doc("ATHM100M", 3, true), 0), Ok(Applied::Duplicate { version: 3 }));
        let e = f.apply(doc("ATHM100M", 2, true), 0).unwrap_err();
        assert!(e.to_string().contains("older than the stored version 3"), "{e}");
        assert_eq!(f.get(&doc("ATHM100M", 1, true).header.key).unwrap().header.version, 3);
        assert_eq!(f.position(), Position { epoch: 7, seq: 2 }, "refusals take no position");
    }

    #[test]
    fn a_bodyless_resend_of_the_stored_version_withdraws() {
        let mut f = Feed::new(1);
        accepted(f.apply(doc("SWM", 2, true), 0));
        assert!(matches!(f.apply(doc("SWM", 1, false), 0), Err(FeedError::Regression { .. })));
        assert!(matches!(f.apply(doc("SWM", 3, false), 0), Err(FeedError::WithdrawOther { .. })));
        let w = accepted(f.apply(doc("SWM", 2, false), 0));
        assert_eq!((w.kind, w.body.is_none()), (ChangeKind::Withdrawn, true));
        assert_eq!(f.documents(), 0);
        assert!(matches!(f.apply(doc("SWM", 2, false), 0), Err(FeedError::WithdrawUnknown(_))));
        // After a withdrawal the document may come back.
        assert_eq!(accepted(f.apply(doc("SWM", 1, true), 0)).kind, ChangeKind::Created);
    }

    #[test]
    fn a_consumer_gets_what_it_missed_exactly_once_or_is_told_to_reset() {
        let mut f = Feed::new(5);
        for v in 1..=10 {
            accepted(f.apply(doc(if v % 2 == 0 { "A" } else { "B" }, v, true), 0));
        }
        let Catchup::Changes(missed) = f.since(Some(Position { epoch: 5, seq: 4 }), |_| true).unwrap() else {
            panic!()
        };
        assert_eq!(missed.iter().map(|c| c.seq).collect::<Vec<_>>(), [5, 6, 7, 8, 9, 10]);
        let Catchup::Changes(none) = f.since(Some(f.position()), |_| true).unwrap() else { panic!() };
        assert!(none.is_empty());
        let only_a = f.since(Some(Position { epoch: 5, seq: 0 }), |c| c.key().document_code == "A").unwrap();
        assert!(matches!(only_a, Catchup::Changes(ref v) if v.len() == 5));
        assert_eq!(
            f.since(Some(Position { epoch: 5, seq: 11 }), |_| true),
            Err(FutureError { asked: 11, current: 10 })
        );
        let Catchup::Reset { state, at, .. } = f.since(Some(Position { epoch: 4, seq: 3 }), |_| true).unwrap() else {
            panic!()
        };
        assert_eq!(at, Position { epoch: 5, seq: 10 });
        assert_eq!(
            state.iter().map(|c| (c.key().document_code.as_str(), c.header.version)).collect::<Vec<_>>(),
            [("B", 9), ("A", 10)]
        );
    }

    #[test]
    fn a_position_older_than_the_log_is_reset_not_skipped() {
        let mut f = Feed::new(1);
        for v in 1..=(LOG_CHANGES as u32 + 10) {
            accepted(f.apply(doc("A", v, true), 0));
        }
        assert!(matches!(f.since(Some(Position { epoch: 1, seq: 3 }), |_| true), Ok(Catchup::Reset { .. })));
        let Catchup::Changes(c) = f.since(Some(Position { epoch: 1, seq: 10 }), |_| true).unwrap() else { panic!() };
        assert_eq!(c.first().map(|c| c.seq), Some(11));
    }

    #[test]
    fn a_restored_feed_numbers_on_and_resets_an_older_position() {
        let mut f = Feed::new(9);
        accepted(f.apply(doc("A", 1, true), 0));
        let latest = accepted(f.apply(doc("A", 2, true), 0));
        let mut g = Feed::restore(9, 2, vec![latest]);
        assert_eq!(g.position(), Position { epoch: 9, seq: 2 });
        assert_eq!(g.apply(doc("A", 2, true), 0), Ok(Applied::Duplicate { version: 2 }));
        assert_eq!(accepted(g.apply(doc("A", 3, true), 0)).seq, 3);
        assert!(matches!(g.since(Some(Position { epoch: 9, seq: 1 }), |_| true), Ok(Catchup::Reset { .. })));
        let Catchup::Changes(c) = g.since(Some(Position { epoch: 9, seq: 2 }), |_| true).unwrap() else { panic!() };
        assert_eq!(c.len(), 1);
    }
}
