//! Results to the world (`tessera_results` for the rules): venue sources publish ODF documents,
//! the node keeps the feed, and subscribers follow it with their position.
//!
//! **Who.** A source publishes with a signed key naming it and its disciplines
//! ([`App::issue_results_source`], an operator's act); it may publish only under its own
//! `Source` code and for its disciplines. A subscriber's entitlement rides on a signed token
//! that lasts an hour and is refreshed with itself before it runs out
//! ([`App::refresh_results_token`]); no token is the public's entitlement.
//!
//! **No gap, no duplicate.** [`App::results_subscribe`] subscribes to the live changes
//! *before* it reads the catch-up from the feed, under the feed's lock: every change is either
//! in the catch-up or in the live receiver (or both, and the reader skips a position it has
//! already passed). A reader more than [`LIVE_BUFFER`] changes behind is cut off (the
//! broadcast ring overtakes it) and comes back with its position: a slow client never holds
//! the others.
//!
//! **Durable.** A change is written to the store (each document's latest version, the
//! feed's epoch and position) before it is committed to the feed and sent; a node reads the
//! feed back at start-up ([`App::load_results`]) and numbers on in the same epoch, so a
//! consumer's position from before a restart is answered with a reset and the current state.
//!
//! **Several nodes** share one feed through the bus (`results/shared.rs`).

use crate::{App, AppError, Result};
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tessera_domain::Timestamp;
use tessera_results::{Applied, Catchup, Change, Entitlement, Feed, FeedError, Filter, Position};
use tokio::sync::broadcast;

pub(crate) mod shared;
pub use shared::results_loop;

/// Live changes a subscriber may lag behind before it is cut off.
pub const LIVE_BUFFER: usize = 4096;
const SOURCE: &str = "results-source";
const SUBSCRIBER: &str = "results-sub";
/// A source's key lasts the Games; a subscriber's token an hour (refreshed with itself).
pub const SOURCE_KEY_SECS: i64 = 120 * 86_400;
pub const SUBSCRIBER_TOKEN_SECS: i64 = 3600;

pub struct Results {
    feed: Mutex<Feed>,
    /// One publication at a time between preparing a change and committing it, the store's
    /// write in between.
    publishing: tokio::sync::Mutex<()>,
    live: broadcast::Sender<Arc<LiveChange>>,
    accepted: AtomicU64,
    duplicates: AtomicU64,
    refused: AtomicU64,
    cut_off: AtomicU64,
    resets: AtomicU64,
    delivered: AtomicU64,
    delivery_ms: Mutex<std::collections::VecDeque<u32>>,
    /// Subscribers connected now, by entitlement (public, media, broadcaster, internal).
    connected: [AtomicU64; 4],
    /// Each source's last accepted message and counts.
    sources: Mutex<std::collections::BTreeMap<String, SourceFigures>>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SourceFigures {
    /// When it last published (ms since the epoch), whatever became of it.
    pub last_ms: i64,
    /// Changes it made, the same version sent again, documents refused.
    pub accepted: u64,
    pub duplicates: u64,
    pub refused: u64,
}

impl Default for Results {
    fn default() -> Self {
        // A feed begun now: its epoch is the time, so a restarted node's positions differ.
        let epoch =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_millis() as u64);
        Results {
            feed: Mutex::new(Feed::new(epoch)),
            publishing: tokio::sync::Mutex::new(()),
            live: broadcast::channel(LIVE_BUFFER).0,
            accepted: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            cut_off: AtomicU64::new(0),
            resets: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            delivery_ms: Mutex::new(Default::default()),
            connected: Default::default(),
            sources: Mutex::new(Default::default()),
        }
    }
}

/// What a published document did.
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    /// `created`, `replaced`, `withdrawn` or `duplicate`.
    pub outcome: &'static str,
    pub epoch: u64,
    /// The change's position (`duplicate`: the feed's position, unchanged).
    pub seq: u64,
}

/// The name a source's keys are revoked under, beside the gates' (no gate id has a colon).
fn source_holder(id: &str) -> String {
    format!("results-source:{id}")
}

/// A source's rights, read from its key.
#[derive(Debug, Clone)]
pub struct SourceRights {
    pub id: String,
    pub disciplines: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResultsFigures {
    pub epoch: u64,
    pub seq: u64,
    pub documents: usize,
    pub accepted: u64,
    pub duplicates: u64,
    pub refused: u64,
    /// Subscribers cut off for falling behind, and catch-ups that had to start again from the
    /// current state.
    pub cut_off: u64,
    pub resets: u64,
    pub connected: std::collections::BTreeMap<&'static str, u64>,
    pub sources: std::collections::BTreeMap<String, SourceFigures>,
    /// From acceptance to the hand-over to a subscriber's connection, ms, over the last
    /// [`DELIVERY_SAMPLES`] sampled deliveries (one in [`DELIVERY_SAMPLE_EVERY`]).
    pub delivery_p50_ms: Option<u32>,
    pub delivery_p99_ms: Option<u32>,
    /// Changes handed to subscribers' connections since start-up.
    pub delivered: u64,
}

/// Delivery times kept for the percentiles, and how often one is sampled: with 10,000
/// subscribers a change is 10,000 deliveries, and a lock per delivery would cost more than it
/// tells.
pub const DELIVERY_SAMPLES: usize = 2048;
pub const DELIVERY_SAMPLE_EVERY: u64 = 16;

/// A change as it goes to every subscriber: serialised once, not once per subscriber.
#[derive(Debug)]
pub struct LiveChange {
    pub change: Change,
    /// `change` in JSON.
    pub json: String,
    /// The whole WebSocket message, `{"event":"change","id":"EPOCH:SEQ","data":…}`: with
    /// 10,000 subscribers, each send takes a reference to these bytes instead of formatting
    /// and allocating its own copy.
    pub ws: bytes::Bytes,
    /// The entitlement it needs ([`tessera_results::access::needs`]), decided once rather than
    /// by every subscriber's connection.
    pub needs: Entitlement,
}

impl LiveChange {
    pub fn new(change: Change, json: String) -> LiveChange {
        let ws = format!(r#"{{"event":"change","id":"{}:{}","data":{json}}}"#, change.epoch, change.seq);
        let needs = tessera_results::access::needs(&change.header);
        LiveChange { change, json, ws: ws.into(), needs }
    }

    /// Whether a subscriber with `entitlement` and `filter` receives it: the same answer as
    /// [`tessera_results::access::receives`].
    pub fn for_subscriber(&self, entitlement: Entitlement, filter: &Filter) -> bool {
        entitlement >= self.needs && filter.admits(&self.change.header)
    }
}

/// A subscription: what to send first, then the live receiver.
pub struct Subscription {
    pub catchup: Catchup,
    pub live: broadcast::Receiver<Arc<LiveChange>>,
    pub entitlement: Entitlement,
    pub guard: Connected,
}

/// Counts a subscriber as connected while it lives.
pub struct Connected {
    results: Arc<Results>,
    slot: usize,
}

impl Drop for Connected {
    fn drop(&mut self) {
        self.results.connected[self.slot].fetch_sub(1, Ordering::Relaxed);
    }
}

fn slot(e: Entitlement) -> usize {
    match e {
        Entitlement::Public => 0,
        Entitlement::Media => 1,
        Entitlement::Broadcaster => 2,
        Entitlement::Internal => 3,
    }
}

fn valid_code(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

impl App {
    /// A key for a venue's result system `id` (its ODF `Source` code) to publish for
    /// `disciplines` (three-letter codes, or `*` for a central system).
    pub fn issue_results_source(&self, id: &str, disciplines: &[String]) -> Result<(String, Timestamp)> {
        if !valid_code(id, 20) {
            return Err(AppError::invalid("id", "1 to 20 capital letters and digits (the ODF Source code)"));
        }
        if disciplines.is_empty() || disciplines.len() > 60 {
            return Err(AppError::invalid("disciplines", "1 to 60 discipline codes"));
        }
        if let Some(d) = disciplines.iter().find(|d| !(d.as_str() == "*" || (d.len() == 3 && valid_code(d, 3)))) {
            return Err(AppError::invalid("disciplines", format!("{d:?} is not a three-letter discipline code or *")));
        }
        let expires = self.now().plus_secs(SOURCE_KEY_SECS);
        let issued_ms = self.now_ms().to_string();
        Ok((self.tokens().sign(SOURCE, &[id, &disciplines.join("+"), &issued_ms], expires), expires))
    }

    /// The rights a source's key gives, unless the key is expired, forged or revoked.
    pub fn results_source(&self, key: &str) -> Result<SourceRights> {
        let f = self.tokens().verify(SOURCE, key, self.now()).map_err(|e| AppError::BadToken(e.as_str()))?;
        let (Some(id), Some(d)) = (f.first(), f.get(1)) else { return Err(AppError::BadToken("malformed")) };
        // Keys from before keys said when they were issued: any revocation voids them.
        let issued_ms = f.get(2).and_then(|t| t.parse::<i64>().ok()).unwrap_or(0);
        if self.airlock.keys_revoked(&source_holder(id), issued_ms) {
            return Err(AppError::BadToken("revoked"));
        }
        Ok(SourceRights { id: id.to_string(), disciplines: d.split('+').map(String::from).collect() })
    }

    /// Revokes every key issued so far to the source `id` (a venue system lost, a key
    /// leaked): refused at once on this node, within a moment on the others (the bus, or
    /// their next refresh from the store). A key issued after works.
    pub async fn revoke_results_source(&self, id: &str, reason: &str) -> Result<()> {
        if !valid_code(id, 20) {
            return Err(AppError::invalid("id", "1 to 20 capital letters and digits (the ODF Source code)"));
        }
        self.revoke_key_holder(&source_holder(id), reason, "results_source_revoked", &source_holder(id)).await
    }

    /// A subscriber's token, for an hour.
    pub fn issue_results_subscriber(&self, name: &str, entitlement: Entitlement) -> Result<(String, Timestamp)> {
        let name = name.trim();
        if name.is_empty()
            || name.len() > 60
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(AppError::invalid("name", "1 to 60 letters, digits, - and _"));
        }
        let expires = self.now().plus_secs(SUBSCRIBER_TOKEN_SECS);
        Ok((self.tokens().sign(SUBSCRIBER, &[name, entitlement.as_str()], expires), expires))
    }

    /// A fresh hour for a token that has not run out yet.
    pub fn refresh_results_token(&self, token: &str) -> Result<(String, Timestamp)> {
        let (name, e) = self.results_token(token)?;
        self.issue_results_subscriber(&name, e)
    }

    fn results_token(&self, token: &str) -> Result<(String, Entitlement)> {
        let f = self.tokens().verify(SUBSCRIBER, token, self.now()).map_err(|e| AppError::BadToken(e.as_str()))?;
        let (Some(name), Some(e)) = (f.first(), f.get(1).and_then(|e| Entitlement::parse(e))) else {
            return Err(AppError::BadToken("malformed"));
        };
        Ok((name.to_string(), e))
    }

    /// The entitlement a subscriber's token gives; the public's without one.
    pub fn results_entitlement(&self, token: Option<&str>) -> Result<Entitlement> {
        match token {
            None => Ok(Entitlement::Public),
            Some(t) => Ok(self.results_token(t)?.1),
        }
    }

    /// A document from a source: read (XML or JSON), checked against the source's rights, and
    /// applied by the ODF rules; an accepted change goes to every subscriber. On several nodes
    /// it goes through the results log first (`results/shared.rs`), so that every node's feed
    /// applies the same documents in the same order.
    pub async fn publish_result(&self, source: &SourceRights, xml: bool, bytes: &[u8]) -> Result<Published> {
        self.toc.heard(&source.id, self.now_ms());
        let r = &self.results;
        let parsed = if xml { tessera_results::from_xml(bytes) } else { tessera_results::from_json(bytes) };
        let checked = parsed.map_err(|e| AppError::invalid("document", e.to_string())).and_then(|doc| {
            if doc.header.source != source.id {
                return Err(AppError::Forbidden(format!(
                    "this key is source {}'s; the document says Source {}",
                    source.id, doc.header.source
                )));
            }
            if !tessera_results::access::may_publish(&source.disciplines, &doc.header) {
                return Err(AppError::Forbidden(format!(
                    "source {} publishes for {}, not {}",
                    source.id,
                    source.disciplines.join(", "),
                    doc.header.key.discipline()
                )));
            }
            Ok(doc)
        });
        let now = self.now_ms();
        let outcome = match checked {
            Err(e) => Err(e),
            Ok(doc) => match &self.cluster {
                Some(cluster) => self.publish_result_shared(cluster, doc, now).await,
                None => self.publish_result_alone(doc, now).await,
            },
        };
        let mut sources = r.sources.lock().unwrap_or_else(|e| e.into_inner());
        let s = sources.entry(source.id.clone()).or_default();
        s.last_ms = now;
        match &outcome {
            Ok(p) if p.outcome == "duplicate" => s.duplicates += 1,
            Ok(_) => s.accepted += 1,
            // A fault is not the source's doing.
            Err(AppError::Store(_) | AppError::BusUnavailable(_)) => {}
            Err(_) => {
                s.refused += 1;
                r.refused.fetch_add(1, Ordering::Relaxed);
            }
        }
        outcome
    }

    /// On a node alone: prepared, written to the store, then committed and sent.
    async fn publish_result_alone(&self, doc: tessera_results::Document, now: i64) -> Result<Published> {
        let r = &self.results;
        let _one_at_a_time = r.publishing.lock().await;
        let prepared = r.feed.lock().unwrap_or_else(|e| e.into_inner()).prepare(doc, now);
        match prepared.map_err(refusal)? {
            Applied::Duplicate { .. } => {
                r.duplicates.fetch_add(1, Ordering::Relaxed);
                let p = r.feed.lock().unwrap_or_else(|e| e.into_inner()).position();
                Ok(Published { outcome: "duplicate", epoch: p.epoch, seq: p.seq })
            }
            Applied::Accepted(change) => {
                // Stored first: what a subscriber is told survives a restart. A store that
                // cannot take it is a fault (503), and the feed stays as it was.
                let json = serde_json::to_string(&*change).unwrap_or_default();
                let key = serde_json::to_string(&change.header.key).unwrap_or_default();
                let latest = (change.kind != tessera_results::ChangeKind::Withdrawn).then_some(json.as_str());
                self.store.save_result_change(change.epoch as i64, change.seq as i64, &key, latest).await?;
                // Committed and sent under the feed's lock (a send never waits): subscribers
                // receive the changes in the order of their positions.
                let mut feed = r.feed.lock().unwrap_or_else(|e| e.into_inner());
                Ok(r.commit(&mut feed, *change, json))
            }
        }
    }

    /// Reads the feed back from the store at start-up: the same epoch and position, and each
    /// document's latest version. Returns the documents read.
    pub async fn load_results(&self) -> Result<usize> {
        if self.cluster.is_some() {
            // One of several nodes: the results log on the bus is the feed's record, replayed
            // by `results_loop`.
            return Ok(0);
        }
        let Some(stored) = self.store.result_feed().await? else { return Ok(0) };
        let mut latest = Vec::with_capacity(stored.changes.len());
        for json in &stored.changes {
            match serde_json::from_str::<Change>(json) {
                Ok(c) => latest.push(c),
                Err(e) => return Err(AppError::Internal(format!("a stored result does not read back: {e}"))),
            }
        }
        let n = latest.len();
        *self.results.feed.lock().unwrap_or_else(|e| e.into_inner()) =
            Feed::restore(stored.epoch as u64, stored.seq as u64, latest);
        Ok(n)
    }

    /// Follows the feed from `since` (nothing: the current state first): the catch-up, then
    /// the live changes, both for `entitlement` and `filter` only.
    pub fn results_subscribe(
        &self,
        entitlement: Entitlement,
        filter: &Filter,
        since: Option<Position>,
    ) -> Result<Subscription> {
        Ok(self.results_subscribe_with(entitlement, filter, since, |_| ())?.0)
    }

    /// As [`App::results_subscribe`], and `register` is called under the feed's lock with the
    /// feed's position, which the catch-up covers: a fan-out that `register` hands the
    /// subscriber to (and that reads [`App::results_live`]) must send it exactly the live
    /// changes past that position.
    pub fn results_subscribe_with<T>(
        &self,
        entitlement: Entitlement,
        filter: &Filter,
        since: Option<Position>,
        register: impl FnOnce(Position) -> T,
    ) -> Result<(Subscription, T)> {
        let r = &self.results;
        let wanted = |c: &Change| tessera_results::access::receives(entitlement, filter, &c.header);
        let feed = r.feed.lock().unwrap_or_else(|e| e.into_inner());
        // Subscribed under the lock, before the catch-up is read: nothing falls between.
        let live = r.live.subscribe();
        let catchup = match since {
            Some(p) => feed.since(Some(p), wanted).map_err(|e| AppError::invalid("since", e.to_string()))?,
            None => Catchup::Reset { reason: "the current state", state: feed.snapshot(wanted), at: feed.position() },
        };
        let registered = register(feed.position());
        drop(feed);
        if since.is_some() && matches!(catchup, Catchup::Reset { .. }) {
            r.resets.fetch_add(1, Ordering::Relaxed);
        }
        r.connected[slot(entitlement)].fetch_add(1, Ordering::Relaxed);
        let sub = Subscription {
            catchup,
            live,
            entitlement,
            guard: Connected { results: self.results.clone(), slot: slot(entitlement) },
        };
        Ok((sub, registered))
    }

    /// Every live change from now on, for a fan-out that serves many subscribers (see
    /// [`App::results_subscribe_with`]).
    pub fn results_live(&self) -> broadcast::Receiver<Arc<LiveChange>> {
        self.results.live.subscribe()
    }

    /// `n` live changes accepted at `accepted_ms` handed to subscribers' connections now: one
    /// count for a fan-out's batch instead of one per subscriber.
    pub fn results_delivered_many(&self, accepted_ms: i64, n: u64) {
        let before = self.results.delivered.fetch_add(n, Ordering::Relaxed);
        // As many samples as one in DELIVERY_SAMPLE_EVERY deliveries would have taken.
        let samples = (before + n).div_ceil(DELIVERY_SAMPLE_EVERY) - before.div_ceil(DELIVERY_SAMPLE_EVERY);
        if samples > 0 {
            let ms = (self.now_ms() - accepted_ms).clamp(0, u32::MAX as i64) as u32;
            let mut d = self.results.delivery_ms.lock().unwrap_or_else(|e| e.into_inner());
            for _ in 0..samples.min(DELIVERY_SAMPLES as u64) {
                if d.len() == DELIVERY_SAMPLES {
                    d.pop_front();
                }
                d.push_back(ms);
            }
        }
    }

    /// A live change accepted at `accepted_ms` is handed to a subscriber's connection now.
    pub fn results_delivered(&self, accepted_ms: i64) {
        self.results_delivered_many(accepted_ms, 1);
    }

    /// Counts a subscriber cut off for falling behind.
    pub fn results_cut_off(&self) {
        self.results.cut_off.fetch_add(1, Ordering::Relaxed);
    }

    /// The current documents for `entitlement` and `filter`, oldest change first.
    pub fn results_documents(&self, entitlement: Entitlement, filter: &Filter) -> (Position, Vec<Change>) {
        let feed = self.results.feed.lock().unwrap_or_else(|e| e.into_inner());
        let wanted = |c: &Change| tessera_results::access::receives(entitlement, filter, &c.header);
        (feed.position(), feed.snapshot(wanted))
    }

    pub fn results_medals(&self) -> (Position, tessera_results::MedalTable) {
        let feed = self.results.feed.lock().unwrap_or_else(|e| e.into_inner());
        (feed.position(), feed.medals().clone())
    }

    pub fn results_figures(&self) -> ResultsFigures {
        let r = &self.results;
        let (p, documents) = {
            let feed = r.feed.lock().unwrap_or_else(|e| e.into_inner());
            (feed.position(), feed.documents())
        };
        let names = ["public", "media", "broadcaster", "internal"];
        ResultsFigures {
            epoch: p.epoch,
            seq: p.seq,
            documents,
            accepted: r.accepted.load(Ordering::Relaxed),
            duplicates: r.duplicates.load(Ordering::Relaxed),
            refused: r.refused.load(Ordering::Relaxed),
            cut_off: r.cut_off.load(Ordering::Relaxed),
            resets: r.resets.load(Ordering::Relaxed),
            connected: names.iter().zip(&r.connected).map(|(n, c)| (*n, c.load(Ordering::Relaxed))).collect(),
            sources: r.sources.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            delivery_p50_ms: percentile(&r.delivery_ms, 0.50),
            delivery_p99_ms: percentile(&r.delivery_ms, 0.99),
            delivered: r.delivered.load(Ordering::Relaxed),
        }
    }
}

/// A document the feed's rules refuse.
fn refusal(e: FeedError) -> AppError {
    match e {
        FeedError::WithdrawUnknown(_) => AppError::NotFound(e.to_string()),
        _ => AppError::Conflict(e.to_string()),
    }
}

impl Results {
    /// Makes an accepted change part of `feed` (this results' feed, locked by the caller) and
    /// sends it to every subscriber.
    fn commit(&self, feed: &mut Feed, change: Change, json: String) -> Published {
        self.accepted.fetch_add(1, Ordering::Relaxed);
        let out = Published {
            outcome: match change.kind {
                tessera_results::ChangeKind::Created => "created",
                tessera_results::ChangeKind::Replaced => "replaced",
                tessera_results::ChangeKind::Withdrawn => "withdrawn",
            },
            epoch: change.epoch,
            seq: change.seq,
        };
        feed.commit(change.clone());
        let _ = self.live.send(Arc::new(LiveChange::new(change, json)));
        out
    }
}

fn percentile(samples: &Mutex<std::collections::VecDeque<u32>>, p: f64) -> Option<u32> {
    let mut v: Vec<u32> = samples.lock().unwrap_or_else(|e| e.into_inner()).iter().copied().collect();
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    Some(v[((v.len() - 1) as f64 * p).round() as usize])
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_results::access::receives;
    use tessera_results::document::{FeedFlag, Header, Key, ResultStatus};

    fn change(document_type: &str, feed_flag: FeedFlag) -> Change {
        Change {
            epoch: 7,
            seq: 42,
            kind: tessera_results::ChangeKind::Created,
            header: Header {
                key: Key {
                    competition: "OG2024".into(),
                    document_code: "ATHM100M----------FNL-000100--".into(),
                    document_subcode: String::new(),
                    document_type: document_type.into(),
                    document_subtype: String::new(),
                    language: String::new(),
                },
                version: 1,
                result_status: Some(ResultStatus::Live),
                feed_flag,
                date: "2024-08-04".into(),
                time: "215512000".into(),
                logical_date: "2024-08-04".into(),
                source: "ATHOLY1".into(),
            },
            body: None,
            at_ms: 0,
        }
    }

    #[test]
    fn a_live_change_goes_to_whom_the_rules_say_as_one_message_for_all() {
        let filters = [
            Filter::default(),
            Filter { types: vec!["DT_RESULT".into()], ..Filter::default() },
            Filter { sports: vec!["SWM".into()], ..Filter::default() },
        ];
        let entitlements = [Entitlement::Public, Entitlement::Media, Entitlement::Broadcaster, Entitlement::Internal];
        let mut received = 0;
        for (document_type, flag) in [
            ("DT_RESULT", FeedFlag::P),
            ("DT_CURRENT", FeedFlag::P),
            ("DT_ALERT", FeedFlag::P),
            ("DT_RESULT", FeedFlag::T),
            ("DT_PARTIC", FeedFlag::P),
        ] {
            let c = change(document_type, flag);
            let json = serde_json::to_string(&c).unwrap();
            let live = LiveChange::new(c.clone(), json);
            for e in entitlements {
                for f in &filters {
                    assert_eq!(
                        live.for_subscriber(e, f),
                        receives(e, f, &c.header),
                        "{document_type} {flag:?} {e:?} {f:?}"
                    );
                    received += usize::from(live.for_subscriber(e, f));
                }
            }
            let message: serde_json::Value = serde_json::from_slice(&live.ws).unwrap();
            assert_eq!((message["event"].as_str(), message["id"].as_str()), (Some("change"), Some("7:42")));
            assert_eq!(serde_json::from_value::<Change>(message["data"].clone()).unwrap(), c);
        }
        assert!(received > 0 && received < 5 * entitlements.len() * filters.len(), "some receive, some do not");
    }
}
