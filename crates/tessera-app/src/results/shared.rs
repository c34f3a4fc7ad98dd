//! The results feed on several nodes: one log on the bus, applied by every node.
//!
//! A [`Feed`] is a pure state machine (time is an argument), so every node that applies the
//! same documents in the same order holds the same feed: the same documents, the same positions
//! and the same epoch. On several nodes nothing changes a feed directly: a source's document is
//! published to the `TESSERA_RESULTS` stream, each node's replica applies the stream in its order
//! ([`results_loop`], from its first message when the node starts), and the node that published
//! it answers the source with what its replica's application did. Hence a subscriber may move
//! from one node to another with its position, and a source may send to any node.
//!
//! **The epoch** of a replica that has applied nothing is the one the first document in the log
//! carries (its publisher's), so every replica takes the same one.
//!
//! **Durable** in the stream (JetStream's file storage acknowledges a document once written),
//! not in the store: a node starting replays the stream rather than reading the store, which
//! a node alone uses.
//!
//! While the bus is down, a source's document is refused with 503 (`bus_unavailable`) and
//! retried by the source; subscribers keep what they have.

use super::{refusal, Published, Results, LIVE_BUFFER};
use crate::cluster::Cluster;
use crate::{App, AppError, Result};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tessera_bus::StreamKind;
use tessera_results::{Applied, Document, Feed, FeedError};
use tokio::sync::watch;

/// How long a source's publication waits for its document to come back from the log.
const APPLY_TIMEOUT: Duration = Duration::from_secs(3);
/// Outcomes kept for the publishing node to read: far more than can be in flight.
const OUTCOMES: usize = LIVE_BUFFER;

/// One document, as the log carries it.
#[derive(Serialize, Deserialize)]
struct ResultOp {
    /// When the publishing node accepted it (ms since the epoch): the change's time.
    at_ms: i64,
    /// The publisher's epoch, taken by a replica that has applied nothing yet.
    epoch: u64,
    doc: Document,
}

/// A node's side of the shared feed.
pub(crate) struct SharedFeed {
    /// The last stream sequence the replica applied.
    applied: watch::Sender<u64>,
    /// What each recently applied sequence did.
    outcomes: std::sync::Mutex<VecDeque<(u64, std::result::Result<Published, FeedError>)>>,
}

impl Default for SharedFeed {
    fn default() -> Self {
        SharedFeed { applied: watch::channel(0).0, outcomes: Default::default() }
    }
}

impl App {
    /// Publishes `doc` to the log and answers with what this node's replica made of it.
    pub(super) async fn publish_result_shared(&self, cluster: &Cluster, doc: Document, now: i64) -> Result<Published> {
        let epoch = self.results.feed.lock().unwrap_or_else(|e| e.into_inner()).position().epoch;
        let op = ResultOp { at_ms: now, epoch, doc };
        let payload = serde_json::to_vec(&op).map_err(|e| AppError::Internal(e.to_string()))?;
        let seq = cluster
            .bus
            .publish(cluster.bus.results_subject(), payload)
            .await
            .map_err(|e| AppError::BusUnavailable(e.to_string()))?;
        let shared = &cluster.results;
        let mut applied = shared.applied.subscribe();
        tokio::time::timeout(APPLY_TIMEOUT, applied.wait_for(|&a| a >= seq))
            .await
            .map_err(|_| AppError::BusUnavailable("this node is still catching up with the results feed".into()))?
            .map_err(|_| AppError::BusUnavailable("stopping".into()))?;
        let outcomes = shared.outcomes.lock().unwrap_or_else(|e| e.into_inner());
        match outcomes.iter().find(|(s, _)| *s == seq) {
            Some((_, Ok(p))) => Ok(p.clone()),
            Some((_, Err(e))) => Err(refusal(e.clone())),
            None => Err(AppError::Internal(format!("the outcome of results log entry {seq} was not kept"))),
        }
    }

    /// Waits until this node's replica has applied the results log as it stands now. `false`
    /// if the bus could not say or the replica did not get there within `limit`.
    pub async fn catch_up_results(&self, limit: Duration) -> bool {
        let Some(cluster) = &self.cluster else { return true };
        cluster.caught_up(StreamKind::Results, &cluster.results.applied, limit).await
    }
}

impl Results {
    /// Applies one document of the log to this replica.
    fn apply_op(&self, op: ResultOp) -> std::result::Result<Published, FeedError> {
        let mut feed = self.feed.lock().unwrap_or_else(|e| e.into_inner());
        if feed.position().seq == 0 && feed.documents() == 0 && feed.position().epoch != op.epoch {
            *feed = Feed::new(op.epoch);
        }
        let p = feed.position();
        match feed.prepare(op.doc, op.at_ms)? {
            Applied::Duplicate { .. } => {
                self.duplicates.fetch_add(1, Ordering::Relaxed);
                Ok(Published { outcome: "duplicate", epoch: p.epoch, seq: p.seq })
            }
            Applied::Accepted(change) => {
                let json = serde_json::to_string(&*change).unwrap_or_default();
                Ok(self.commit(&mut feed, *change, json))
            }
        }
    }
}

/// Replays the results log from its start, then follows it, until `shutdown`.
pub async fn results_loop(app: App, mut shutdown: watch::Receiver<bool>) {
    let Some(cluster) = app.cluster.clone() else { return };
    let mut log = cluster.bus.follow(StreamKind::Results, tessera_bus::From::Start);
    loop {
        let d = tokio::select! {
            d = log.recv() => match d { Some(d) => d, None => return },
            _ = shutdown.changed() => return,
        };
        match serde_json::from_slice::<ResultOp>(&d.payload) {
            Ok(op) => {
                let outcome = app.results.apply_op(op);
                let mut outcomes = cluster.results.outcomes.lock().unwrap_or_else(|e| e.into_inner());
                if outcomes.len() == OUTCOMES {
                    outcomes.pop_front();
                }
                outcomes.push_back((d.seq, outcome));
            }
            Err(e) => tracing::warn!(seq = d.seq, error = %e, "unreadable results log entry skipped"),
        }
        cluster.results.applied.send_replace(d.seq);
    }
}
