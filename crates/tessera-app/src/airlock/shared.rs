//! Waiting rooms shared by every node: one log on the bus, replayed by every node.
//!
//! A room (`tessera_airlock::room::Room`) is a pure state machine: it reads no clock, time is
//! an argument, and a time earlier than one it has seen counts as that time. So every node
//! that applies the same operations in the same order holds the same room. On several nodes,
//! nothing changes a room directly: every change is a [`RoomOp`] published to the room's
//! subject of the `TESSERA_ROOMS` stream, and each node's replica applies the stream in its
//! order ([`rooms_loop`]), from its first message when the node starts. Hence:
//!
//! - **one place per account**, whichever node the fan asks: a join is published, and its
//!   answer read from the replica once the replica has applied it;
//! - **one order and one rate**: numbers and the serving counter come from the one log; the
//!   serving counter moves on `Tick`s, which every node publishes (their times interleave,
//!   and the room's clock only moves forward, so more tickers do not mean more admissions);
//! - **a queue that survives restarts**: a node started later replays the log.
//!
//! Reads (status, a fan's place, the figures) never move a replica's clock: only the log
//! does ([`read_ms`]). Claims of admission passes and observed checkouts ride on the next
//! tick of the node that saw them, within 100 ms. The status answer stays a read of memory.
//!
//! While the bus is down, a node keeps answering from its replica and admitted fans keep
//! buying, but joins are refused with 503 (`bus_unavailable`): a place handed out then would
//! not be one place across nodes. The serving counter waits too (no tick can be ordered); when
//! the bus returns, the first tick admits what the gap allowed, at most `max_active` at once.

use super::{Place, RoomSettings};
use crate::{App, AppError, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tessera_airlock::room::Joined;
use tessera_bus::StreamKind;
use tokio::sync::watch;

/// How long a join waits for its own operation to come back from the log.
const APPLY_TIMEOUT: Duration = Duration::from_secs(3);
/// Claims held for the next tick at most; past it the oldest are dropped (a claim only
/// counts a fan as active, so losing some errs towards admitting a little more).
const MAX_PENDING_CLAIMS: usize = 100_000;
/// Checkout latencies carried per tick at most (the room keeps 1,024 per step anyway).
const MAX_PENDING_SAMPLES: usize = 1024;
/// A node announces a stored room's settings at most this often while the log disagrees.
const ANNOUNCE_EVERY: Duration = Duration::from_secs(2);

/// One change to a room, as the log carries it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum RoomOp {
    /// Creates the room, or changes its settings (its counters stay).
    Config {
        settings: RoomSettings,
        seed_hex: String,
    },
    /// Removes the room.
    Remove,
    Join {
        account: u64,
        at_ms: i64,
    },
    /// Moves the room to `at_ms`, after recording what the publishing node saw since its
    /// last tick: passes claimed, checkout latencies (ms, ok), checkouts completed.
    Tick {
        at_ms: i64,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        claims: Vec<(u64, u64)>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        observed: Vec<(f64, bool)>,
        #[serde(default, skip_serializing_if = "is_zero")]
        completed: u32,
        /// The operations centre has paused the rooms: the clock moves, nobody is admitted.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        held: bool,
    },
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Serialize, Deserialize)]
struct LogEntry {
    phase: String,
    #[serde(flatten)]
    op: RoomOp,
}

/// What this node saw since its last tick, per phase.
#[derive(Default)]
struct Pending {
    claims: Vec<(u64, u64)>,
    observed: Vec<(f64, bool)>,
    completed: u32,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.claims.is_empty() && self.observed.is_empty() && self.completed == 0
    }

    fn merge(&mut self, other: Pending) {
        self.claims.extend(other.claims);
        if self.claims.len() > MAX_PENDING_CLAIMS {
            let extra = self.claims.len() - MAX_PENDING_CLAIMS;
            self.claims.drain(..extra);
        }
        self.observed.extend(other.observed);
        self.observed.truncate(MAX_PENDING_SAMPLES);
        self.completed = self.completed.saturating_add(other.completed);
    }
}

/// A node's side of the shared rooms.
pub struct SharedRooms {
    /// The last stream sequence the replica applied.
    applied: watch::Sender<u64>,
    /// Whether this process follows the log (a node does; `tessera admin` only publishes).
    following: std::sync::atomic::AtomicBool,
    pending: Mutex<HashMap<String, Pending>>,
    /// When this node last announced each stored room's settings.
    announced: Mutex<HashMap<String, std::time::Instant>>,
}

impl Default for SharedRooms {
    fn default() -> Self {
        SharedRooms {
            applied: watch::channel(0).0,
            following: Default::default(),
            pending: Default::default(),
            announced: Default::default(),
        }
    }
}

/// The time a read passes to a room: on shared rooms, none (the room keeps the log's clock).
pub(crate) fn read_ms(app: &App, now_ms: i64) -> i64 {
    if app.cluster.is_some() {
        i64::MIN
    } else {
        now_ms
    }
}

impl App {
    fn shared(&self) -> Option<&SharedRooms> {
        self.cluster.as_deref().map(|c| &c.rooms)
    }

    /// Publishes one room operation; with `wait`, returns once this node's replica applied it
    /// (when this process has one).
    pub(crate) async fn publish_room_op(&self, phase: &str, op: RoomOp, wait: bool) -> Result<()> {
        let Some(cluster) = &self.cluster else { return Ok(()) };
        let entry = LogEntry { phase: phase.to_string(), op };
        let payload = serde_json::to_vec(&entry).map_err(|e| AppError::Internal(e.to_string()))?;
        let seq = cluster
            .bus
            .publish(cluster.bus.room_subject(phase), payload)
            .await
            .map_err(|e| AppError::BusUnavailable(e.to_string()))?;
        if wait && cluster.rooms.following.load(std::sync::atomic::Ordering::Acquire) {
            let mut applied = cluster.rooms.applied.subscribe();
            tokio::time::timeout(APPLY_TIMEOUT, applied.wait_for(|&a| a >= seq))
                .await
                .map_err(|_| AppError::BusUnavailable("this node is still catching up with the waiting room".into()))?
                .map_err(|_| AppError::BusUnavailable("stopping".into()))?;
        }
        Ok(())
    }

    /// Waits until this node's replica has applied the room log as it stands now, so that a
    /// node starting (or restarting) answers with the rooms every other node holds. `false`
    /// if the bus could not say or the replica did not get there within `limit`.
    pub async fn catch_up_rooms(&self, limit: Duration) -> bool {
        let Some(cluster) = &self.cluster else { return true };
        cluster.caught_up(StreamKind::Rooms, &cluster.rooms.applied, limit).await
    }

    /// Joins through the log: the place is the one the log gave, whichever node asked first.
    pub(crate) async fn join_shared(&self, phase: &str, account: u64, now_ms: i64) -> Result<Joined> {
        let entry = self.room_for(phase)?;
        if let Some(j) = entry.room.joined(account) {
            return Ok(j);
        }
        self.publish_room_op(phase, RoomOp::Join { account, at_ms: now_ms }, true).await?;
        let entry = self.room_for(phase)?;
        match entry.room.joined(account) {
            Some(j) => Ok(Joined { again: false, ..j }),
            None => Err(AppError::Conflict("the waiting room is full".into())),
        }
    }

    /// Records a pass handed out, for the next tick. `false` when `account` does not hold
    /// `number` (a number copied from someone else is worthless).
    pub(crate) fn claim_shared(&self, entry: &super::RoomEntry, account: u64, number: u64, phase: &str) -> bool {
        let Some(shared) = self.shared() else { return false };
        if entry.room.joined(account).map(|j| j.place) != Some(Place::Number(number)) {
            return false;
        }
        let mut pending = shared.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending
            .entry(phase.to_string())
            .or_default()
            .merge(Pending { claims: vec![(account, number)], ..Default::default() });
        true
    }

    /// Records one checkout seen on this node, for the next tick.
    pub(crate) fn observe_shared(&self, phase: &str, latency_ms: f64, ok: bool, completed: bool) {
        let Some(shared) = self.shared() else { return };
        let mut pending = shared.pending.lock().unwrap_or_else(|e| e.into_inner());
        let p = Pending { observed: vec![(latency_ms, ok)], completed: completed as u32, ..Default::default() };
        pending.entry(phase.to_string()).or_default().merge(p);
    }

    /// One step of every waiting room's serving counter (the airlock loop's, ten a second).
    /// None while the operations centre has paused the rooms: nobody is admitted and nobody
    /// loses their place, whatever else is down, since the counters live in memory (or on the
    /// bus) and a step reads no store. Returns whether the rooms moved.
    pub async fn step_waiting_rooms(&self) -> bool {
        let paused = self.mode_on(crate::toc::Mode::WaitingRoomPaused);
        if paused {
            self.airlock.hold(self.now_ms(), self.cluster.is_none());
        } else {
            self.airlock.tick(self.now_ms(), self.cluster.is_none());
        }
        self.tick_shared_rooms(paused).await;
        !paused
    }

    /// This node's tick of every shared room that has something to move: fans waiting, a
    /// pre-queue to open, or what this node saw since its last tick. Called every 100 ms;
    /// `held` while the rooms are paused.
    pub async fn tick_shared_rooms(&self, held: bool) {
        let Some(shared) = self.shared() else { return };
        let now = self.now_ms();
        for (phase, entry) in self.airlock.rooms() {
            let seen = shared.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&phase).unwrap_or_default();
            let stats = entry.room.stats(i64::MIN);
            let due = stats.waiting > 0 || (!stats.opened && stats.prequeue > 0) || !seen.is_empty();
            if !due {
                continue;
            }
            let Pending { claims, observed, completed } = seen;
            let op = RoomOp::Tick { at_ms: now, claims: claims.clone(), observed: observed.clone(), completed, held };
            if let Err(e) = self.publish_room_op(&phase, op, false).await {
                tracing::debug!(phase = %phase, error = %e, "room tick not published; kept for the next");
                let mut pending = shared.pending.lock().unwrap_or_else(|e| e.into_inner());
                pending.entry(phase).or_default().merge(Pending { claims, observed, completed });
            }
        }
    }

    /// The room a fan joins. On several nodes, a room the store holds that this replica has
    /// not seen yet (the node has just started, or `tessera admin` configured it and no node's
    /// refresh has announced it to the log) is announced now and waited for: a fan is never
    /// told "not found" about a room that exists.
    pub(super) async fn room_for_join(&self, phase: &str) -> Result<std::sync::Arc<super::RoomEntry>> {
        if let Some(entry) = self.airlock.room(phase) {
            return Ok(entry);
        }
        if self.cluster.is_some() {
            let stored = self.store.waiting_rooms().await?.into_iter().find(|r| r.phase_code == phase);
            if let Some(r) = stored {
                match serde_json::from_str::<RoomSettings>(&r.settings_json) {
                    Ok(settings) => {
                        self.publish_room_op(phase, RoomOp::Config { settings, seed_hex: r.seed_hex }, true).await?
                    }
                    Err(e) => tracing::error!(phase, error = %e, "unreadable waiting-room settings"),
                }
            }
        }
        self.room_for(phase)
    }

    /// Makes the log agree with the stored rooms: announces a stored room the replica lacks
    /// or holds with other settings, and the removal of one the store no longer has. Every
    /// node does it; the log makes the duplicates harmless.
    pub(crate) async fn announce_rooms(&self, stored: Vec<(String, RoomSettings, String)>) {
        let Some(shared) = self.shared() else { return };
        let due = |phase: &str| {
            let mut announced = shared.announced.lock().unwrap_or_else(|e| e.into_inner());
            let last = announced.get(phase).copied();
            if last.is_some_and(|t| t.elapsed() < ANNOUNCE_EVERY) {
                return false;
            }
            announced.insert(phase.to_string(), std::time::Instant::now());
            true
        };
        let mut keep = Vec::with_capacity(stored.len());
        for (phase, settings, seed_hex) in stored {
            keep.push(phase.clone());
            let current = self.airlock.room(&phase).map(|e| e.settings());
            if current.as_ref() != Some(&settings) && due(&phase) {
                if let Err(e) = self.publish_room_op(&phase, RoomOp::Config { settings, seed_hex }, false).await {
                    tracing::warn!(phase = %phase, error = %e, "waiting room not announced");
                }
            }
        }
        for (phase, _) in self.airlock.rooms() {
            if !keep.contains(&phase) && due(&phase) {
                if let Err(e) = self.publish_room_op(&phase, RoomOp::Remove, false).await {
                    tracing::warn!(phase = %phase, error = %e, "waiting room removal not announced");
                }
            }
        }
    }

    /// Applies one operation of the log to this node's replica.
    fn apply_room_op(&self, phase: &str, op: RoomOp) {
        match op {
            RoomOp::Config { settings, seed_hex } => {
                let mut seed = [0u8; 32];
                if hex::decode_to_slice(&seed_hex, &mut seed).is_err() {
                    return tracing::error!(phase, "unreadable seed in the room log; skipped");
                }
                self.airlock.install(phase, settings, seed);
            }
            RoomOp::Remove => {
                let keep: Vec<String> =
                    self.airlock.rooms().into_iter().map(|(k, _)| k).filter(|k| k != phase).collect();
                self.airlock.uninstall_missing(&keep);
            }
            RoomOp::Join { account, at_ms } => {
                if let Some(e) = self.airlock.room(phase) {
                    // A full room refuses on every replica alike; the joiner reads it.
                    let _ = e.room.join(account, at_ms);
                }
            }
            RoomOp::Tick { at_ms, claims, observed, completed, held } => {
                let Some(e) = self.airlock.room(phase) else { return };
                for (account, number) in claims {
                    e.room.claim(account, number, at_ms);
                }
                for (latency, ok) in observed {
                    e.room.observe_checkout(latency, ok, at_ms);
                }
                for _ in 0..completed {
                    e.room.complete(at_ms);
                }
                if held {
                    e.room.hold(at_ms);
                } else {
                    e.room.tick(at_ms);
                }
            }
        }
    }
}

/// Replays the rooms' log from its start, then follows it, until `shutdown`.
pub async fn rooms_loop(app: App, mut shutdown: watch::Receiver<bool>) {
    let Some(cluster) = app.cluster.clone() else { return };
    let mut log = cluster.bus.follow(StreamKind::Rooms, tessera_bus::From::Start);
    cluster.rooms.following.store(true, std::sync::atomic::Ordering::Release);
    loop {
        let d = tokio::select! {
            d = log.recv() => match d { Some(d) => d, None => return },
            _ = shutdown.changed() => return,
        };
        match serde_json::from_slice::<LogEntry>(&d.payload) {
            Ok(entry) => app.apply_room_op(&entry.phase, entry.op),
            Err(e) => tracing::warn!(seq = d.seq, error = %e, "unreadable room operation skipped"),
        }
        cluster.rooms.applied.send_replace(d.seq);
    }
}
