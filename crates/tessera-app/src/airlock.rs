//! The purchase airlock: a waiting room per sale phase, and the edge's shared state (rate
//! limiters, the block list, proof-of-work).
//!
//! A fan joins a phase's room and gets a **queue ticket**; when the room's serving counter
//! passes their number they get an **admission pass**. Both are HMAC-signed, expiring tokens
//! bound to the account (`v1.queue.<phase>.<account>.<place>.<serving at join>.<expires>` and
//! `v1.admit.<phase>.<account>.<number>.<expires>`), so checking them reads no store and a
//! token stolen from one account is refused on another. The rooms themselves keep counters
//! and one small map entry per joined account (one place per account); nothing per waiting fan
//! goes to the store. The operator's settings and the block list do: they must survive a
//! restart, and `tessera admin` changes them from another process.

use crate::{random_hex, App, AppError, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use tessera_airlock::blocklist::{BlockList, Decision, Kind, Verdict};
use tessera_airlock::gcra::KeyedLimiter;
use tessera_airlock::net::{network_of, Network};
use tessera_airlock::pow::{Challenge, Difficulty, Pow, PowError, ReplayGuard, Solution};
use tessera_airlock::room::{Place, Room, RoomConfig, RoomStats, Status};
use tessera_domain::Timestamp;

mod decisions;
mod edge;
pub(crate) mod shared;
pub use edge::*;
pub use shared::{rooms_loop, RoomOp};

const QUEUE: &str = "queue";
const ADMIT: &str = "admit";
/// A queue ticket outlives any realistic wait; the room's number is what orders fans.
const QUEUE_TICKET_TTL_SECS: i64 = 24 * 3600;
/// A proof-of-work challenge must be solved within this time.
const POW_TTL_MS: i64 = 5 * 60 * 1000;

/// When joining a room needs a proof-of-work solution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PowMode {
    Off,
    On,
    /// On while joins arrive faster than `calm_joins_per_sec`; difficulty rises with the load.
    #[default]
    Auto,
}

/// What the operator sets for a phase's waiting room; stored as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomSettings {
    #[serde(flatten)]
    pub room: RoomConfig,
    #[serde(default)]
    pub pow: PowMode,
    #[serde(default = "default_calm")]
    pub calm_joins_per_sec: f64,
}

fn default_calm() -> f64 {
    50.0
}

impl RoomSettings {
    /// A room opening at `opens_at` that admits `rate` fans a second, 20-minute passes.
    pub fn new(opens_at: Timestamp, rate: f64) -> Self {
        RoomSettings {
            room: RoomConfig {
                opens_at_ms: opens_at.0 * 1000,
                max_rate_per_sec: rate,
                min_rate_per_sec: (rate / 10.0).max(0.1),
                max_active: 5_000,
                pass_ttl_ms: 20 * 60 * 1000,
                auto_rate: true,
                latency_target_ms: 1_000.0,
                max_entries: 5_000_000,
            },
            pow: PowMode::Auto,
            calm_joins_per_sec: default_calm(),
        }
    }

    pub fn validate(&self) -> Result<()> {
        self.room.validate().map_err(|e| AppError::invalid("waiting_room", e.to_string()))?;
        if !self.calm_joins_per_sec.is_finite() || self.calm_joins_per_sec < 0.0 {
            return Err(AppError::invalid("calm_joins_per_sec", "must be a number >= 0"));
        }
        Ok(())
    }
}

/// The airlock's shared state; one per process, behind `App`.
pub struct Airlock {
    rooms: RwLock<HashMap<String, Arc<RoomEntry>>>,
    pub blocklist: BlockList,
    pub per_address: KeyedLimiter<IpAddr>,
    pub per_network: KeyedLimiter<Network>,
    pub throttled: KeyedLimiter<IpAddr>,
    pub per_gate: KeyedLimiter<String>,
    /// Revoked gates: gate id → the moment (unix ms) up to which its tokens are refused.
    revoked_keys: RwLock<HashMap<String, i64>>,
    pow: Pow,
    replays: ReplayGuard,
    difficulty: Difficulty,
    refused: [AtomicU64; Refused::ALL.len()],
    admitted_passes: AtomicU64,
    /// Snapshots of `refused`, one a second over the last `RATE_WINDOW_MS`: the per-second
    /// figures are differences of the same counters the reason table shows, taken here rather
    /// than between an operator page's polls (which a flood rate-limits, leaving 0.0 on screen).
    refused_samples: std::sync::Mutex<std::collections::VecDeque<(i64, Vec<u64>)>>,
}

/// The window over which refusal rates are measured.
pub const RATE_WINDOW_MS: i64 = 10_000;

pub struct RoomEntry {
    pub room: Room,
    settings: RwLock<RoomSettings>,
}

impl RoomEntry {
    pub fn settings(&self) -> RoomSettings {
        self.settings.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Airlock {
    pub fn new(pow_key: [u8; 32], limits: EdgeLimits) -> Self {
        Airlock {
            rooms: RwLock::new(HashMap::new()),
            blocklist: BlockList::new(1_000_000),
            per_address: KeyedLimiter::new(limits.per_address, 1_000_000),
            per_network: KeyedLimiter::new(limits.per_network, 200_000),
            throttled: KeyedLimiter::new(limits.throttled, 200_000),
            per_gate: KeyedLimiter::new(limits.per_gate, 100_000),
            revoked_keys: RwLock::new(HashMap::new()),
            pow: Pow::new(pow_key),
            replays: ReplayGuard::new(1_000_000),
            difficulty: Difficulty { base: 20_000, max: 2_000_000 },
            refused: std::array::from_fn(|_| AtomicU64::new(0)),
            admitted_passes: AtomicU64::new(0),
            refused_samples: Default::default(),
        }
    }

    /// Refusals per second by reason code over the last [`RATE_WINDOW_MS`] (as sampled by
    /// `tick`), from the counters of [`Airlock::refusals`]; zero before the first sample.
    pub fn refusal_rates(&self, now_ms: i64) -> Vec<(&'static str, f64)> {
        let now = self.refusals();
        let samples = self.refused_samples.lock().unwrap_or_else(|e| e.into_inner());
        let oldest = samples.iter().find(|(at, _)| now_ms - at <= RATE_WINDOW_MS);
        now.into_iter()
            .enumerate()
            .map(|(i, (code, n))| {
                let rate = match oldest {
                    Some((at, then)) if now_ms > *at => {
                        n.saturating_sub(then[i]) as f64 * 1000.0 / (now_ms - at) as f64
                    }
                    _ => 0.0,
                };
                (code, rate)
            })
            .collect()
    }

    fn sample_refusals(&self, now_ms: i64) {
        let mut samples = self.refused_samples.lock().unwrap_or_else(|e| e.into_inner());
        if samples.back().is_some_and(|(at, _)| now_ms - at < 1000) {
            return;
        }
        samples.push_back((now_ms, self.refused.iter().map(|n| n.load(Ordering::Relaxed)).collect()));
        while samples.front().is_some_and(|(at, _)| now_ms - at > RATE_WINDOW_MS) {
            samples.pop_front();
        }
    }

    /// Counts a refusal for `/metrics` and the operator page.
    pub fn count(&self, r: Refused) {
        let i = Refused::ALL.iter().position(|x| *x == r).unwrap_or(0);
        self.refused[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Refusals so far, by reason code.
    pub fn refusals(&self) -> Vec<(&'static str, u64)> {
        Refused::ALL.iter().zip(&self.refused).map(|(r, n)| (r.code().as_str(), n.load(Ordering::Relaxed))).collect()
    }

    pub fn passes_issued(&self) -> u64 {
        self.admitted_passes.load(Ordering::Relaxed)
    }

    /// The edge's verdict on a request from `ip`, before routing: block list, then limits.
    /// Constant work per request: three hash look-ups and two or three GCRA cells.
    pub fn screen(&self, ip: IpAddr, now_ms: i64, now_ns: u64) -> std::result::Result<Option<Verdict>, Refused> {
        let verdict = self.blocklist.check(ip, None, now_ms);
        if let Some(v) = &verdict {
            match v.kind {
                Kind::Block => return Err(Refused::Blocked),
                Kind::Throttle => {
                    if self.throttled.check(&ip, now_ns).is_err() {
                        return Err(Refused::Throttled);
                    }
                }
                Kind::Challenge => {}
            }
        }
        if self.per_address.check(&ip, now_ns).is_err() {
            return Err(Refused::RateLimitedAddress);
        }
        if self.per_network.check(&network_of(ip), now_ns).is_err() {
            return Err(Refused::RateLimitedNetwork);
        }
        Ok(verdict)
    }

    /// Whether a key issued at `issued_at_ms` to `holder` (a gate, a results source) has been
    /// revoked since.
    pub fn keys_revoked(&self, holder: &str, issued_at_ms: i64) -> bool {
        self.keys_revoked_at(holder).is_some_and(|r| issued_at_ms <= r)
    }

    pub fn keys_revoked_at(&self, holder: &str) -> Option<i64> {
        self.revoked_keys.read().unwrap_or_else(|e| e.into_inner()).get(holder).copied()
    }

    /// Records a revocation (from this node's operator, or read from the store).
    pub fn revoke_keys(&self, holder: &str, revoked_at_ms: i64) {
        let mut m = self.revoked_keys.write().unwrap_or_else(|e| e.into_inner());
        let at = m.entry(holder.to_string()).or_insert(revoked_at_ms);
        *at = (*at).max(revoked_at_ms);
    }

    /// [`Airlock::screen`] for a request exempt from the rate limits (an operator's): only the
    /// block list applies.
    pub fn screen_blocks_only(&self, ip: IpAddr, now_ms: i64) -> std::result::Result<Option<Verdict>, Refused> {
        match self.blocklist.check(ip, None, now_ms) {
            Some(v) if v.kind == Kind::Block => Err(Refused::Blocked),
            v => Ok(v),
        }
    }

    pub fn room(&self, phase: &str) -> Option<Arc<RoomEntry>> {
        self.rooms.read().unwrap_or_else(|e| e.into_inner()).get(phase).cloned()
    }

    pub fn rooms(&self) -> Vec<(String, Arc<RoomEntry>)> {
        let rooms = self.rooms.read().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = rooms.iter().map(|(k, r)| (k.clone(), r.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Installs or updates a room. Its counters survive a settings change.
    fn install(&self, phase: &str, settings: RoomSettings, seed: [u8; 32]) {
        if let Some(e) = self.room(phase) {
            let mut current = e.settings.write().unwrap_or_else(|e| e.into_inner());
            if *current != settings {
                e.room.set_config(settings.room.clone());
                *current = settings;
            }
            return;
        }
        let room = Room::new(settings.room.clone(), seed);
        let entry = Arc::new(RoomEntry { room, settings: RwLock::new(settings) });
        self.rooms.write().unwrap_or_else(|e| e.into_inner()).entry(phase.to_string()).or_insert(entry);
    }

    fn uninstall_missing(&self, keep: &[String]) {
        self.rooms.write().unwrap_or_else(|e| e.into_inner()).retain(|k, _| keep.contains(k));
    }

    /// Moves every room's serving counter (unless `rooms` is false: shared rooms move by
    /// their log) and samples the refusal counters; called a few times a second.
    pub fn tick(&self, now_ms: i64, rooms: bool) {
        self.sample_refusals(now_ms);
        if rooms {
            for (_, r) in self.rooms() {
                r.room.tick(now_ms);
            }
        }
    }

    /// As [`Airlock::tick`] while the operations centre has paused the rooms: their clocks move,
    /// nobody is admitted.
    pub fn hold(&self, now_ms: i64, rooms: bool) {
        self.sample_refusals(now_ms);
        if rooms {
            for (_, r) in self.rooms() {
                r.room.hold(now_ms);
            }
        }
    }

    /// Forgets limiter cells, decisions and spent proof-of-work solutions that no longer
    /// matter; each is bounded anyway, this returns the memory early.
    pub fn sweep(&self, now_ms: i64, now_ns: u64) {
        self.per_address.sweep(now_ns);
        self.per_network.sweep(now_ns);
        self.throttled.sweep(now_ns);
        self.blocklist.sweep(now_ms);
        self.replays.sweep(now_ms);
    }

    fn pow_needed(&self, entry: &RoomEntry, stats: &RoomStats, challenged: bool) -> Option<u64> {
        let settings = entry.settings();
        let calm = settings.calm_joins_per_sec;
        match settings.pow {
            _ if challenged => Some(self.difficulty.for_load(stats.joins_per_sec.max(calm * 2.0), calm)),
            PowMode::On => Some(self.difficulty.for_load(stats.joins_per_sec, calm)),
            PowMode::Auto if stats.joins_per_sec > calm => Some(self.difficulty.for_load(stats.joins_per_sec, calm)),
            _ => None,
        }
    }
}

/// What a fan gets on joining: the ticket to present, and where they stand.
#[derive(Debug, Clone, Serialize)]
pub struct QueueTicket {
    pub ticket: String,
    pub again: bool,
    pub view: QueueView,
}

/// A fan's view of the queue, computed from counters alone. A field that does not apply in
/// the current state is left out of the JSON (the answer is sent tens of thousands of times a
/// second).
#[derive(Debug, Clone, Serialize)]
pub struct QueueView {
    pub phase: String,
    /// `pre_queue` before opening, `waiting`, then `your_turn`.
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ahead: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta_secs: Option<u64>,
    pub progress: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opens_in_secs: Option<i64>,
    /// Present once admitted: send it as `Tessera-Admission` (or the cookie) to the shop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass_expires_at: Option<Timestamp>,
    /// Present when the ticket changed (pre-queue numbers are given at opening).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
}

/// Whether a join needs a proof-of-work first, and the challenge to solve.
#[derive(Debug, Clone, Serialize)]
pub struct JoinRequirements {
    pub pow_required: bool,
    pub challenge: Option<Challenge>,
}

impl App {
    /// Loads the rooms and the block list from the store; at start and then every few seconds,
    /// so that changes made by `tessera admin` or another node arrive.
    pub async fn refresh_airlock(&self) -> Result<()> {
        let records = self.store.waiting_rooms().await?;
        let mut keep = Vec::with_capacity(records.len());
        let mut shared = Vec::new();
        for r in records {
            let settings: RoomSettings = match serde_json::from_str(&r.settings_json) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(phase = %r.phase_code, error = %e, "unreadable waiting-room settings; room left out");
                    continue;
                }
            };
            let mut seed = [0u8; 32];
            if hex::decode_to_slice(&r.seed_hex, &mut seed).is_err() {
                tracing::error!(phase = %r.phase_code, "unreadable waiting-room seed; room left out");
                continue;
            }
            if self.cluster.is_some() {
                shared.push((r.phase_code, settings, r.seed_hex));
            } else {
                self.airlock.install(&r.phase_code, settings, seed);
                keep.push(r.phase_code);
            }
        }
        if self.cluster.is_some() {
            // Shared rooms change only through their log: announce what the store holds.
            self.announce_rooms(shared).await;
        } else {
            self.airlock.uninstall_missing(&keep);
        }
        // Gates revoked on another node (or by `tessera admin`) are refused here too.
        for r in self.store.key_revocations().await? {
            self.airlock.revoke_keys(&r.holder, r.revoked_at_ms);
        }
        let mut stored = Vec::new();
        for json in self.store.edge_decisions(self.now()).await? {
            match serde_json::from_str::<Decision>(&json) {
                Ok(d) => stored.push(d),
                Err(e) => tracing::error!(error = %e, "unreadable edge decision"),
            }
        }
        // A decision lifted elsewhere (another node, `tessera admin`) is gone from the store:
        // lift it here too.
        let in_store: std::collections::HashSet<String> = stored.iter().map(|d| scope_key(&d.scope)).collect();
        for d in self.airlock.blocklist.list(self.now_ms()) {
            if !in_store.contains(&scope_key(&d.scope)) {
                self.airlock.blocklist.remove(&d.scope);
            }
        }
        for d in stored {
            if let Err(e) = self.airlock.blocklist.insert(d) {
                tracing::warn!(error = %e, "edge decision not loaded");
            }
        }
        Ok(())
    }

    /// Creates or changes a phase's waiting room.
    pub async fn configure_waiting_room(&self, phase_code: &str, settings: &RoomSettings) -> Result<()> {
        settings.validate()?;
        self.phase(phase_code).await?;
        let json = serde_json::to_string(settings).map_err(|e| AppError::Internal(e.to_string()))?;
        let r = self.store.put_waiting_room(phase_code, &json, &random_hex(32), self.now()).await?;
        let mut seed = [0u8; 32];
        hex::decode_to_slice(&r.seed_hex, &mut seed).map_err(|_| AppError::Internal("stored seed".into()))?;
        if self.cluster.is_some() {
            let op = RoomOp::Config { settings: settings.clone(), seed_hex: r.seed_hex };
            return self.publish_room_op(phase_code, op, true).await;
        }
        self.airlock.install(phase_code, settings.clone(), seed);
        Ok(())
    }

    pub async fn remove_waiting_room(&self, phase_code: &str) -> Result<()> {
        if !self.store.delete_waiting_room(phase_code).await? {
            return Err(AppError::NotFound(format!("waiting room of phase {phase_code}")));
        }
        if self.cluster.is_some() {
            return self.publish_room_op(phase_code, RoomOp::Remove, true).await;
        }
        let keep: Vec<String> = self.airlock.rooms().into_iter().map(|(k, _)| k).filter(|k| k != phase_code).collect();
        self.airlock.uninstall_missing(&keep);
        Ok(())
    }

    /// A room's figures now. Read through here, never with `room.stats(now)` directly: on
    /// shared rooms a read must not move the replica's clock (only the log does).
    pub fn room_stats(&self, entry: &RoomEntry) -> RoomStats {
        entry.room.stats(shared::read_ms(self, self.now_ms()))
    }

    fn room_for(&self, phase: &str) -> Result<Arc<RoomEntry>> {
        self.airlock.room(phase).ok_or_else(|| AppError::NotFound(format!("waiting room of phase {phase}")))
    }

    /// What joining needs right now: a fresh challenge when proof-of-work is on for this fan.
    pub fn join_requirements(
        &self,
        who: &crate::auth::Principal,
        phase: &str,
        ip: Option<IpAddr>,
    ) -> Result<JoinRequirements> {
        let entry = self.room_for(phase)?;
        let now = self.now_ms();
        let stats = entry.room.stats(shared::read_ms(self, now));
        match self.airlock.pow_needed(&entry, &stats, self.challenged(who, ip)) {
            None => Ok(JoinRequirements { pow_required: false, challenge: None }),
            Some(maxnumber) => {
                let c = self.airlock.pow.challenge(
                    &mut rand::thread_rng(),
                    maxnumber,
                    now,
                    POW_TTL_MS,
                    &pow_binding(phase, who),
                );
                Ok(JoinRequirements { pow_required: true, challenge: Some(c) })
            }
        }
    }

    /// Joins a phase's waiting room; a second join returns the same place (on several nodes,
    /// whichever node the fan asks: see `airlock/shared.rs`).
    pub async fn join_queue(
        &self,
        who: &crate::auth::Principal,
        phase: &str,
        pow: Option<&str>,
        ip: Option<IpAddr>,
    ) -> Result<QueueTicket> {
        let entry = self.room_for_join(phase).await?;
        let now = self.now_ms();
        let account = who.account_id.0 as u64;
        // A fan who already holds a place never pays twice: the check comes after.
        let read = shared::read_ms(self, now);
        let known = entry.room.place_of(account, read);
        if known.is_none() {
            let stats = entry.room.stats(read);
            if self.airlock.pow_needed(&entry, &stats, self.challenged(who, ip)).is_some() {
                let Some(text) = pow else {
                    self.airlock.count(Refused::PowRequired);
                    return Err(airlock_error(Refused::PowRequired, "solve the proof-of-work challenge first"));
                };
                if let Err(e) = self.check_pow(text, phase, who, now) {
                    let mut ev = tessera_detect::Event::new(now, tessera_detect::Kind::PowFailed);
                    ev.outcome = tessera_detect::Outcome::Failure;
                    ev.source = ip;
                    ev.account = Some(account);
                    self.observe(ev);
                    return Err(e);
                }
            }
        }
        let joined = if self.cluster.is_some() {
            self.join_shared(phase, account, now).await?
        } else {
            entry.room.join(account, now).map_err(|e| AppError::Conflict(e.to_string()))?
        };
        let entry = self.room_for(phase)?;
        let ticket = self.queue_ticket(phase, account, joined.place, joined.serving_at_join);
        let view = self.view(phase, &entry, account, joined.place, joined.serving_at_join, read, None, true);
        if !joined.again {
            self.observe_now(tessera_detect::Kind::QueueJoined, |e| {
                e.outcome = tessera_detect::Outcome::Success;
                e.account = Some(account);
                e.source = ip;
            });
        }
        Ok(QueueTicket { ticket, again: joined.again, view })
    }

    fn check_pow(&self, text: &str, phase: &str, who: &crate::auth::Principal, now: i64) -> Result<()> {
        let fail = |r: Refused, e: PowError| {
            self.airlock.count(r);
            airlock_error(r, &format!("proof-of-work refused ({})", e.as_str()))
        };
        let solution = Solution::from_base64_json(text).map_err(|e| fail(Refused::PowFailed, e))?;
        let id = self
            .airlock
            .pow
            .verify(&solution, now, &pow_binding(phase, who))
            .map_err(|e| fail(Refused::PowFailed, e))?;
        self.airlock.replays.first_use(id, now + POW_TTL_MS, now).map_err(|e| fail(Refused::PowReplayed, e))
    }

    fn queue_ticket(&self, phase: &str, account: u64, place: Place, serving_at_join: u64) -> String {
        let place = match place {
            Place::PreQueue => "pre".to_string(),
            Place::Number(n) => n.to_string(),
        };
        let expires = self.now().plus_secs(QUEUE_TICKET_TTL_SECS);
        self.tokens().sign(QUEUE, &[phase, &account.to_string(), &place, &serving_at_join.to_string()], expires)
    }

    /// Checks a token's signature, expiry, phase and account; counts and names every refusal.
    fn check_token<'t>(
        &self,
        purpose: &str,
        token: &'t str,
        phase: &str,
        account: u64,
    ) -> Result<crate::tokens::Fields<'t>> {
        use crate::tokens::TokenError;
        let refuse = |r: Refused, msg: &str| {
            self.airlock.count(r);
            if matches!(r, Refused::TokenForged | Refused::TokenOtherAccount) {
                let mut ev = tessera_detect::Event::new(self.now_ms(), tessera_detect::Kind::TokenForged);
                ev.outcome = tessera_detect::Outcome::Failure;
                ev.account = Some(account);
                self.observe(ev);
            }
            airlock_error(r, msg)
        };
        let fields = match self.tokens().verify(purpose, token, self.now()) {
            Ok(f) => f,
            Err(TokenError::Expired) => return Err(refuse(Refused::TokenExpired, "this token has expired")),
            Err(_) => return Err(refuse(Refused::TokenForged, "this token is not one of ours")),
        };
        if fields.first() != Some(&phase) {
            return Err(refuse(Refused::TokenForged, "this token is for another phase"));
        }
        if fields.get(1).and_then(|a| a.parse::<u64>().ok()) != Some(account) {
            return Err(refuse(Refused::TokenOtherAccount, "this token belongs to another account"));
        }
        Ok(fields)
    }

    /// Where a ticket's holder stands; hands out the admission pass once it is their turn.
    pub fn queue_status(&self, who: &crate::auth::Principal, phase: &str, ticket: &str) -> Result<QueueView> {
        self.ticket_view(who, phase, ticket, true)
    }

    /// The same view without handing out a pass, for the event stream: a pass travels only in
    /// the answer that also sets its cookie.
    pub fn peek_queue(&self, who: &crate::auth::Principal, phase: &str, ticket: &str) -> Result<QueueView> {
        self.ticket_view(who, phase, ticket, false)
    }

    fn ticket_view(&self, who: &crate::auth::Principal, phase: &str, ticket: &str, claim: bool) -> Result<QueueView> {
        let entry = self.room_for(phase)?;
        let account = who.account_id.0 as u64;
        let fields = self.check_token(QUEUE, ticket, phase, account)?;
        let malformed = || airlock_error(Refused::TokenForged, "malformed queue ticket");
        let serving_at_join: u64 = fields.get(3).and_then(|s| s.parse().ok()).ok_or_else(malformed)?;
        let now = shared::read_ms(self, self.now_ms());
        let (place, renewed) = match fields.get(2).copied() {
            Some("pre") => match entry.room.place_of(account, now) {
                // The pre-queue was shuffled at opening: the ticket learns its number once.
                Some(Place::Number(n)) => {
                    (Place::Number(n), Some(self.queue_ticket(phase, account, Place::Number(n), serving_at_join)))
                }
                Some(Place::PreQueue) => (Place::PreQueue, None),
                // The room was recreated (restart): the fan must join again.
                None => return Err(AppError::NotFound("your place (join the queue again)".into())),
            },
            Some(n) => (Place::Number(n.parse().map_err(|_| malformed())?), None),
            None => return Err(malformed()),
        };
        Ok(self.view(phase, &entry, account, place, serving_at_join, now, renewed, claim))
    }

    #[allow(clippy::too_many_arguments)]
    fn view(
        &self,
        phase: &str,
        entry: &RoomEntry,
        account: u64,
        place: Place,
        serving_at_join: u64,
        now_ms: i64,
        ticket: Option<String>,
        claim: bool,
    ) -> QueueView {
        let mut v = QueueView {
            phase: phase.to_string(),
            state: "pre_queue",
            number: None,
            position: None,
            ahead: None,
            eta_secs: None,
            progress: 0.0,
            opens_in_secs: None,
            pass: None,
            pass_expires_at: None,
            ticket,
        };
        let Place::Number(number) = place else {
            // A shared room's reads pass no time; the countdown is still the wall clock's.
            let opens = entry.settings().room.opens_at_ms - self.now_ms();
            v.opens_in_secs = Some((opens.max(0) + 999) / 1000);
            return v;
        };
        let s: Status = entry.room.status(number, serving_at_join, now_ms);
        v.number = Some(number);
        v.progress = s.progress;
        if s.admitted && !claim {
            v.state = "your_turn";
        } else if s.admitted
            && if self.cluster.is_some() {
                self.claim_shared(entry, account, number, phase)
            } else {
                entry.room.claim(account, number, now_ms)
            }
        {
            let expires = Timestamp((self.now_ms() + entry.settings().room.pass_ttl_ms).div_euclid(1000));
            v.state = "your_turn";
            v.pass = Some(self.tokens().sign(ADMIT, &[phase, &account.to_string(), &number.to_string()], expires));
            v.pass_expires_at = Some(expires);
            self.airlock.admitted_passes.fetch_add(1, Ordering::Relaxed);
        } else {
            v.state = "waiting";
            v.position = Some(s.position);
            v.ahead = Some(s.ahead);
            v.eta_secs = s.eta_secs;
        }
        v
    }

    /// The shop's gate: a phase with a waiting room sells only to holders of a valid pass for
    /// this phase and this account. A phase without a room is open to all.
    pub fn check_admission(&self, who: &crate::auth::Principal, phase: &str, pass: Option<&str>) -> Result<()> {
        if self.airlock.room(phase).is_none() {
            return Ok(());
        }
        // Queue-only: the queue stands, nobody goes on to checkout, passes keep until it lifts.
        if self.mode_on(crate::toc::Mode::ShopQueueOnly) {
            return Err(AppError::Contingency {
                mode: crate::toc::Mode::ShopQueueOnly.as_str(),
                message: crate::toc::switches_notice(crate::toc::Mode::ShopQueueOnly).into(),
            });
        }
        let Some(pass) = pass else {
            self.airlock.count(Refused::NotAdmitted);
            return Err(airlock_error(Refused::NotAdmitted, "this sale has a waiting room: join the queue first"));
        };
        self.check_token(ADMIT, pass, phase, who.account_id.0 as u64).map(|_| ())
    }

    /// Runs a sale and tells the phase's room how the shop coped, so that admissions follow
    /// its capacity. A refusal (sold out, a declined card) is the shop working; a failure of
    /// the store or of the payment provider is the shop struggling.
    pub(crate) async fn observed_sale<T>(
        &self,
        phase: &str,
        sale: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let started = std::time::Instant::now();
        let r = sale.await;
        self.observe_sale(phase, started.elapsed(), &r);
        r
    }

    fn observe_sale<T>(&self, phase: &str, latency: std::time::Duration, r: &Result<T>) {
        let Some(e) = self.airlock.room(phase) else { return };
        let now = self.now_ms();
        let struggling = matches!(r, Err(AppError::Store(_) | AppError::Internal(_) | AppError::PaymentUnavailable(_)));
        if self.cluster.is_some() {
            return self.observe_shared(phase, latency.as_secs_f64() * 1000.0, !struggling, r.is_ok());
        }
        e.room.observe_checkout(latency.as_secs_f64() * 1000.0, !struggling, now);
        if r.is_ok() {
            e.room.complete(now);
        }
    }
}

fn pow_binding(phase: &str, who: &crate::auth::Principal) -> String {
    format!("{phase}/{}", who.account_id.0)
}

/// Nanoseconds since the process started, from the monotonic clock: rate limits must not jump
/// when the wall clock is set.
pub fn monotonic_ns() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed().as_nanos() as u64
}

#[cfg(test)]
mod rate_tests {
    use super::*;

    #[test]
    fn refusal_rates_are_differences_of_the_counted_refusals() {
        let a = Airlock::new([0; 32], EdgeLimits::default());
        assert!(a.refusal_rates(0).iter().all(|(_, r)| *r == 0.0));
        a.tick(0, true);
        for _ in 0..50 {
            a.count(Refused::RateLimitedAddress);
        }
        a.count(Refused::Blocked);
        let rates: HashMap<_, _> = a.refusal_rates(5_000).into_iter().collect();
        assert_eq!(rates["rate_limited_address"], 10.0);
        assert_eq!(rates["blocked"], 0.2);
        // Ticks every second: after a quiet window the rate falls back to zero.
        for t in 1..=12 {
            a.tick(t * 1000, true);
        }
        let rates: HashMap<_, _> = a.refusal_rates(12_000).into_iter().collect();
        assert_eq!(rates["rate_limited_address"], 0.0);
        assert_eq!(a.refusals().iter().find(|(k, _)| *k == "rate_limited_address").unwrap().1, 50);
    }
}
