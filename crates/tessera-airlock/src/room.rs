//! The waiting room of one sale phase: who gets into checkout, in which order, how fast.
//!
//! **Order.** Fans who arrive before the sale opens wait in a *pre-queue* without a number. At
//! opening (the first call with `now_ms >= opens_at_ms`, exactly once) the pre-queue accounts are
//! sorted by id, so that hash-map iteration order cannot matter, then shuffled with
//! [`shuffle`] under the room's secret seed, and numbered `0..n` in that
//! order. Fans who arrive later are numbered `n, n+1, ...` first come, first served. Arriving
//! early, or arriving early many times, gives no advantage (Queue-it's and Cloudflare's
//! "randomise at event start"). An account holds one place: joining again returns the same one.
//!
//! **Admission.** A single counter, `serving`, admits every number below it. [`Room::tick`]
//! advances it by `rate * elapsed` (the fractional part carries over, so low rates work with
//! frequent ticks), but never by more than `max_active - active` and never past the numbers
//! handed out. Unused budget is dropped: capacity not used while nobody was waiting is not
//! saved up into a burst. Nothing is admitted before opening.
//!
//! **Active fans** are counted with per-second counters only: passes claimed during the last
//! `pass_ttl_ms` minus completions, plus fans admitted during the last [`CLAIM_GRACE_MS`] who have
//! not claimed yet. A completion does not say whose it is, so it cancels the oldest claim still
//! in the window: claims then leave the count no earlier than the passes they stand for, so
//! `active` errs high, never low (subtracting all completions in the window from all claims in
//! it would under-count once a claim leaves the window before its completion does). The second
//! term keeps `max_active` true while admitted fans are on their way (their next poll claims the
//! pass); without it every tick could admit another `max_active` before the first claim arrives.
//! A fan who never shows up stops holding a slot after the grace period; one who shows up later
//! is still admitted (admission is never taken back), which can briefly lift `active` above
//! `max_active` and pauses admission until it is back under. Completions should only be reported
//! for passes still valid.
//!
//! **Rate.** Without `auto_rate` the rate is `max_rate_per_sec`. With it, the rate starts at
//! `max_rate_per_sec` and follows the shop's measured capacity by AIMD (additive increase,
//! multiplicative decrease, as TCP congestion control), once per second during `tick`: if the
//! 90th percentile of checkout latencies reported by [`Room::observe_checkout`] since the last
//! step exceeds `latency_target_ms`, or more than 5% of them failed, the rate is multiplied by
//! 0.7 (not below `min_rate_per_sec`); otherwise, including a second without reports, it grows
//! by 5% of `max_rate_per_sec` (not above it). The cut is fast and the recovery slow, so a
//! struggling shop gets relief within seconds and is not overrun again when it recovers.
//!
//! **State.** The room keeps counters, not a record per waiting fan, except one small entry per
//! joined account (its place, the serving counter when it joined, whether it claimed), bounded
//! by `max_entries`. [`Room::status`] is arithmetic on counters: no lookup, O(1). The room does
//! no I/O and reads no clock; time is an argument. A time earlier than one already seen is
//! treated as that time, so a caller's clock skew cannot move counters backwards.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};

use crate::shuffle::shuffle;

/// Highest accepted admission rate (fans per second).
pub const MAX_RATE_PER_SEC: f64 = 1_000_000.0;
/// Longest accepted pass lifetime: the per-second counters span this window.
pub const MAX_PASS_TTL_MS: i64 = 3_600_000;
/// How long an admitted fan who has not claimed yet still counts as active.
pub const CLAIM_GRACE_MS: i64 = 60_000;
/// Rate cut applied when the shop struggles.
const DECREASE_FACTOR: f64 = 0.7;
/// Rate increase per second when it copes, as a share of `max_rate_per_sec`.
const INCREASE_SHARE: f64 = 0.05;
/// The shop "struggles" when more than this share of checkouts failed.
const MAX_ERROR_SHARE: f64 = 0.05;
/// Latency samples kept per AIMD step; the newest overwrite the oldest beyond this.
const MAX_SAMPLES: usize = 1024;
/// Window over which `joins_per_sec` is averaged.
const JOIN_RATE_WINDOW_SECS: i64 = 10;
const RING_SECS: usize = (MAX_PASS_TTL_MS / 1000) as usize + 1;

/// The settings of one room; every field can change while the room runs ([`Room::set_config`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoomConfig {
    /// Unix milliseconds at which the sale opens and the pre-queue is shuffled.
    pub opens_at_ms: i64,
    /// Admissions per second (the ceiling when `auto_rate` is on).
    pub max_rate_per_sec: f64,
    /// Floor for the automatic rate.
    pub min_rate_per_sec: f64,
    /// Most fans in checkout at once.
    pub max_active: u64,
    /// How long a claimed pass lasts; the window over which claims count as active.
    pub pass_ttl_ms: i64,
    /// Whether the rate follows measured checkout latency and errors (AIMD).
    pub auto_rate: bool,
    /// Checkout latency (90th percentile) above which the automatic rate backs off.
    pub latency_target_ms: f64,
    /// Most accounts the room will hold; joins beyond are refused with [`RoomError::Full`].
    pub max_entries: usize,
}

impl Default for RoomConfig {
    fn default() -> Self {
        Self {
            opens_at_ms: 0,
            max_rate_per_sec: 50.0,
            min_rate_per_sec: 5.0,
            max_active: 1_000,
            pass_ttl_ms: 600_000,
            auto_rate: true,
            latency_target_ms: 1_000.0,
            max_entries: 1_000_000,
        }
    }
}

/// A configuration that makes no sense, with the reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid room configuration: {0}")]
pub struct ConfigError(pub String);

impl RoomConfig {
    /// Checks the configuration, explaining the first problem found. [`Room::new`] and
    /// [`Room::set_config`] accept anything (they clamp), so call this where a human can fix it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |msg: String| Err(ConfigError(msg));
        if !self.max_rate_per_sec.is_finite() || !(0.0..=MAX_RATE_PER_SEC).contains(&self.max_rate_per_sec) {
            return fail(format!(
                "max_rate_per_sec must be a number from 0 to {MAX_RATE_PER_SEC}, got {}",
                self.max_rate_per_sec
            ));
        }
        if !self.min_rate_per_sec.is_finite() || self.min_rate_per_sec < 0.0 {
            return fail(format!("min_rate_per_sec must be a number of at least 0, got {}", self.min_rate_per_sec));
        }
        if self.min_rate_per_sec > self.max_rate_per_sec {
            return fail(format!(
                "min_rate_per_sec ({}) must not exceed max_rate_per_sec ({})",
                self.min_rate_per_sec, self.max_rate_per_sec
            ));
        }
        if self.max_active == 0 {
            return fail("max_active must be at least 1".to_owned());
        }
        if !(1..=MAX_PASS_TTL_MS).contains(&self.pass_ttl_ms) {
            return fail(format!("pass_ttl_ms must be from 1 to {MAX_PASS_TTL_MS}, got {}", self.pass_ttl_ms));
        }
        if !self.latency_target_ms.is_finite() || self.latency_target_ms <= 0.0 {
            return fail(format!("latency_target_ms must be a positive number, got {}", self.latency_target_ms));
        }
        if self.max_entries == 0 {
            return fail("max_entries must be at least 1".to_owned());
        }
        Ok(())
    }

    /// The nearest configuration that passes [`validate`](Self::validate).
    pub fn sanitized(&self) -> Self {
        let rate = |r: f64| if r.is_finite() { r.clamp(0.0, MAX_RATE_PER_SEC) } else { 0.0 };
        let max_rate = rate(self.max_rate_per_sec);
        let latency = self.latency_target_ms;
        Self {
            opens_at_ms: self.opens_at_ms,
            max_rate_per_sec: max_rate,
            min_rate_per_sec: rate(self.min_rate_per_sec).min(max_rate),
            max_active: self.max_active.max(1),
            pass_ttl_ms: self.pass_ttl_ms.clamp(1, MAX_PASS_TTL_MS),
            auto_rate: self.auto_rate,
            latency_target_ms: if latency.is_finite() && latency > 0.0 { latency } else { 1_000.0 },
            max_entries: self.max_entries.max(1),
        }
    }
}

/// Where an account stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Place {
    /// Joined before opening; gets a number when the room opens.
    PreQueue,
    /// Its number in line; admitted once `serving` exceeds it.
    Number(u64),
}

/// The answer to [`Room::join`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Joined {
    /// The account's place.
    pub place: Place,
    /// Whether the account had joined before (the place is the one it already held).
    pub again: bool,
    /// The serving counter when the account first joined; the base of its progress bar.
    pub serving_at_join: u64,
}

/// Why a join was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RoomError {
    /// The room holds `max_entries` accounts.
    #[error("the waiting room is full")]
    Full,
}

/// What a waiting fan is shown.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// Whether the number is admitted (may claim a checkout pass).
    pub admitted: bool,
    /// 1-based place in line among those not yet admitted; 0 when admitted.
    pub position: u64,
    /// Fans still waiting in front; 0 when admitted.
    pub ahead: u64,
    /// `ahead / rate` rounded up, plus the time to opening; `None` while the rate is 0. An
    /// estimate: when `max_active` binds, admission is slower than the rate.
    pub eta_secs: Option<u64>,
    /// Share of the way from joining to admission, in `0..=1`; never decreases for a given fan.
    pub progress: f64,
    /// Time until opening; `None` once open.
    pub opens_in_ms: Option<i64>,
}

/// Counters for dashboards and for the proof-of-work difficulty.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RoomStats {
    /// Whether the room has opened (and shuffled its pre-queue).
    pub opened: bool,
    /// Accounts that joined before opening.
    pub prequeue: u64,
    /// Accounts that joined in total.
    pub joined: u64,
    /// Numbers below this are admitted.
    pub serving: u64,
    /// Accounts not admitted yet.
    pub waiting: u64,
    /// Fans counted as active (see the module documentation).
    pub active: u64,
    /// Accounts that claimed a pass.
    pub claimed_total: u64,
    /// Completions reported.
    pub completed_total: u64,
    /// The admission rate in force.
    pub effective_rate: f64,
    /// New accounts joining per second, averaged over the last 10 seconds.
    pub joins_per_sec: f64,
}

#[derive(Clone, Copy, Debug)]
struct Member {
    place: Place,
    serving_at_join: u64,
    claimed: bool,
}

/// Counters for one wall-clock second.
#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    sec: i64,
    joins: u64,
    /// Numbers admitted during this second are `admitted_from..admitted_from + admitted`.
    admitted_from: u64,
    admitted: u64,
    /// Of those, how many have not claimed yet.
    unclaimed: u64,
    /// Claims made during this second not yet cancelled by a completion.
    open: u64,
}

#[derive(Debug, Default)]
struct Samples {
    latencies: Vec<f64>,
    next: usize,
    total: u64,
    errors: u64,
}

impl Samples {
    fn record(&mut self, latency_ms: f64, ok: bool) {
        self.total = self.total.saturating_add(1);
        if !ok {
            self.errors = self.errors.saturating_add(1);
        }
        if !latency_ms.is_finite() {
            return;
        }
        let latency_ms = latency_ms.max(0.0);
        if self.latencies.len() < MAX_SAMPLES {
            self.latencies.push(latency_ms);
        } else {
            // Keep the newest: overwrite in a ring.
            let i = self.next % MAX_SAMPLES;
            self.latencies[i] = latency_ms;
            self.next = i + 1;
        }
    }

    /// Nearest-rank 90th percentile, or 0 without samples.
    fn p90(&mut self) -> f64 {
        let n = self.latencies.len();
        if n == 0 {
            return 0.0;
        }
        let rank = (n * 9).div_ceil(10).clamp(1, n);
        let (_, p90, _) = self.latencies.select_nth_unstable_by(rank - 1, f64::total_cmp);
        *p90
    }

    fn clear(&mut self) {
        self.latencies.clear();
        self.next = 0;
        self.total = 0;
        self.errors = 0;
    }
}

#[derive(Debug)]
struct State {
    config: RoomConfig,
    seed: [u8; 32],
    opened: bool,
    members: HashMap<u64, Member>,
    prequeue: u64,
    /// Numbers handed out: `0..issued`.
    issued: u64,
    serving: u64,
    carry: f64,
    last_tick_ms: i64,
    /// Latest time seen; earlier times are read as this one.
    clock_ms: i64,
    effective_rate: f64,
    last_adjust_ms: i64,
    claimed_total: u64,
    completed_total: u64,
    ring: Vec<Bucket>,
    samples: Samples,
}

fn sec_of(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

fn ring_index(sec: i64) -> usize {
    // rem_euclid is in 0..RING_SECS, which fits usize.
    usize::try_from(sec.rem_euclid(RING_SECS as i64)).unwrap_or(0)
}

impl State {
    fn clock(&mut self, now_ms: i64) -> i64 {
        self.clock_ms = self.clock_ms.max(now_ms);
        self.clock_ms
    }

    fn open_if_due(&mut self, now: i64) {
        if self.opened || now < self.config.opens_at_ms {
            return;
        }
        let mut ids: Vec<u64> =
            self.members.iter().filter(|(_, m)| m.place == Place::PreQueue).map(|(&id, _)| id).collect();
        ids.sort_unstable();
        shuffle(self.seed, &mut ids);
        for (number, id) in (0u64..).zip(&ids) {
            if let Some(m) = self.members.get_mut(id) {
                m.place = Place::Number(number);
            }
        }
        self.issued = ids.len() as u64;
        self.opened = true;
        self.last_tick_ms = now;
        self.last_adjust_ms = now;
    }

    fn bucket_mut(&mut self, now: i64) -> &mut Bucket {
        let sec = sec_of(now);
        let b = &mut self.ring[ring_index(sec)];
        if b.sec != sec {
            *b = Bucket { sec, ..Bucket::default() };
        }
        b
    }

    /// Buckets of the `secs` seconds ending with `now`'s (bounded by the ring size).
    fn recent(&self, now: i64, secs: i64) -> impl Iterator<Item = &Bucket> {
        let last = sec_of(now);
        let secs = secs.clamp(0, RING_SECS as i64);
        (last - secs + 1..=last).filter_map(move |s| self.ring.get(ring_index(s)).filter(|b| b.sec == s))
    }

    fn ttl_secs(&self) -> i64 {
        (self.config.pass_ttl_ms.max(1) + 999) / 1000
    }

    fn grace_secs(&self) -> i64 {
        (CLAIM_GRACE_MS / 1000).min(self.ttl_secs())
    }

    fn active(&self, now: i64) -> u64 {
        let open: u64 = self.recent(now, self.ttl_secs()).map(|b| b.open).sum();
        let pending: u64 = self.recent(now, self.grace_secs()).map(|b| b.unclaimed).sum();
        open.saturating_add(pending)
    }

    /// Cancels the oldest claim still within the pass lifetime (see the module documentation).
    fn cancel_oldest_claim(&mut self, now: i64) {
        let last = sec_of(now);
        for s in last - self.ttl_secs() + 1..=last {
            let b = &mut self.ring[ring_index(s)];
            if b.sec == s && b.open > 0 {
                b.open -= 1;
                return;
            }
        }
    }

    fn rate(&self) -> f64 {
        if self.config.auto_rate {
            self.effective_rate
        } else {
            self.config.max_rate_per_sec
        }
    }

    fn adjust_rate(&mut self, now: i64) {
        let (min, max) = (self.config.min_rate_per_sec, self.config.max_rate_per_sec);
        if !self.config.auto_rate {
            self.effective_rate = max;
            return;
        }
        if now.saturating_sub(self.last_adjust_ms) < 1000 {
            return;
        }
        // One step however long since the last one: a late tick is not several seconds of signal.
        self.last_adjust_ms = now;
        let struggling = self.samples.total > 0
            && (self.samples.p90() > self.config.latency_target_ms
                || self.samples.errors as f64 > MAX_ERROR_SHARE * self.samples.total as f64);
        self.samples.clear();
        self.effective_rate = if struggling {
            (self.effective_rate * DECREASE_FACTOR).max(min)
        } else {
            (self.effective_rate + INCREASE_SHARE * max).min(max)
        };
    }

    fn tick(&mut self, now: i64) {
        if !self.opened {
            return;
        }
        self.adjust_rate(now);
        let elapsed_ms = now.saturating_sub(self.last_tick_ms).max(0);
        self.last_tick_ms = now;
        let budget = self.rate() * (elapsed_ms as f64 / 1000.0) + self.carry;
        let whole = budget.floor();
        self.carry = if (budget - whole).is_finite() { budget - whole } else { 0.0 };
        // `as` saturates (and maps NaN to 0).
        let room = self.config.max_active.saturating_sub(self.active(now));
        let admit = (whole as u64).min(room).min(self.issued - self.serving);
        if admit == 0 {
            return;
        }
        let serving = self.serving;
        let b = self.bucket_mut(now);
        if b.admitted == 0 {
            b.admitted_from = serving;
        }
        b.admitted += admit;
        b.unclaimed += admit;
        self.serving += admit;
    }

    fn joins_per_sec(&self, now: i64) -> f64 {
        let joins: u64 = self.recent(now, JOIN_RATE_WINDOW_SECS).map(|b| b.joins).sum();
        joins as f64 / JOIN_RATE_WINDOW_SECS as f64
    }
}

/// The waiting room of one sale phase, shared between request handlers.
pub struct Room {
    state: Mutex<State>,
}

impl std::fmt::Debug for Room {
    // The seed decides the pre-queue order: it must not leak into logs before opening.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Room { .. }")
    }
}

impl Room {
    /// A room with `config` (clamped to sensible values, see [`RoomConfig::validate`]) whose
    /// pre-queue will be shuffled with `seed`. The seed must be secret until opening.
    pub fn new(config: RoomConfig, seed: [u8; 32]) -> Self {
        let config = config.sanitized();
        let state = State {
            effective_rate: config.max_rate_per_sec,
            config,
            seed,
            opened: false,
            members: HashMap::new(),
            prequeue: 0,
            issued: 0,
            serving: 0,
            carry: 0.0,
            last_tick_ms: 0,
            clock_ms: i64::MIN,
            last_adjust_ms: 0,
            claimed_total: 0,
            completed_total: 0,
            ring: vec![Bucket { sec: i64::MIN, ..Bucket::default() }; RING_SECS],
            samples: Samples::default(),
        };
        Self { state: Mutex::new(state) }
    }

    /// Locks the state, advances its clock to `now_ms` and opens the room if it is time.
    fn enter(&self, now_ms: i64) -> (MutexGuard<'_, State>, i64) {
        // Every mutation below is a few counter updates that cannot panic, so a poisoned lock
        // still guards consistent counters.
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let now = st.clock(now_ms);
        st.open_if_due(now);
        (st, now)
    }

    /// Joins `account`: before opening into the pre-queue, after opening at the end of the
    /// line. A second join returns the place already held, with `again: true`.
    pub fn join(&self, account: u64, now_ms: i64) -> Result<Joined, RoomError> {
        let (mut st, now) = self.enter(now_ms);
        if let Some(m) = st.members.get(&account) {
            return Ok(Joined { place: m.place, again: true, serving_at_join: m.serving_at_join });
        }
        if st.members.len() >= st.config.max_entries {
            return Err(RoomError::Full);
        }
        let place = if st.opened {
            let number = st.issued;
            st.issued += 1;
            Place::Number(number)
        } else {
            st.prequeue += 1;
            Place::PreQueue
        };
        let serving_at_join = st.serving;
        st.members.insert(account, Member { place, serving_at_join, claimed: false });
        st.bucket_mut(now).joins += 1;
        Ok(Joined { place, again: false, serving_at_join })
    }

    /// The place `account` holds, if it joined.
    pub fn place_of(&self, account: u64, now_ms: i64) -> Option<Place> {
        let (st, _) = self.enter(now_ms);
        st.members.get(&account).map(|m| m.place)
    }

    /// The place `account` holds and the serving counter when it joined, without reading a
    /// clock: for a node whose rooms follow a shared log, where only the log moves time.
    pub fn joined(&self, account: u64) -> Option<Joined> {
        let st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        st.members.get(&account).map(|m| Joined { place: m.place, again: true, serving_at_join: m.serving_at_join })
    }

    /// Advances admission to `now_ms` (call it often, e.g. every 100 ms; the interval does not
    /// change the rate). Also takes the once-per-second AIMD step.
    pub fn tick(&self, now_ms: i64) {
        let (mut st, now) = self.enter(now_ms);
        st.tick(now);
    }

    /// Time passes and nobody is admitted (the operations centre has paused the room). The
    /// paused time's admissions are dropped, not saved up: resuming admits at the room's rate
    /// from then on, not the whole pause's worth at once.
    pub fn hold(&self, now_ms: i64) {
        let (mut st, now) = self.enter(now_ms);
        st.last_tick_ms = st.last_tick_ms.max(now);
        st.carry = 0.0;
    }

    /// What the fan holding `number`, who joined when the room was serving `serving_at_join`,
    /// should be shown. Arithmetic on counters only.
    pub fn status(&self, number: u64, serving_at_join: u64, now_ms: i64) -> Status {
        let (st, now) = self.enter(now_ms);
        let opens_in_ms = (!st.opened).then(|| st.config.opens_at_ms.saturating_sub(now));
        let serving = st.serving;
        if st.opened && number < serving {
            return Status { admitted: true, position: 0, ahead: 0, eta_secs: Some(0), progress: 1.0, opens_in_ms };
        }
        let ahead = number - serving;
        let rate = st.rate();
        let eta_secs = (rate > 0.0).then(|| {
            let wait_open = opens_in_ms.map_or(0, |ms| u64::try_from(ms).unwrap_or(0).div_ceil(1000));
            ((ahead as f64 / rate).ceil() as u64).saturating_add(wait_open)
        });
        // A base above `serving` cannot be genuine; treat it as "joined now".
        let base = serving_at_join.min(serving);
        let progress = (serving - base) as f64 / (number - base).saturating_add(1) as f64;
        Status {
            admitted: false,
            position: ahead.saturating_add(1),
            ahead,
            eta_secs,
            progress: progress.clamp(0.0, 1.0),
            opens_in_ms,
        }
    }

    /// Whether `account`, holding `number`, is admitted. The first successful claim counts the
    /// account as active (its checkout pass starts). `false` for a number the account does not
    /// hold, so a number copied from someone else is worthless.
    pub fn claim(&self, account: u64, number: u64, now_ms: i64) -> bool {
        let (mut st, now) = self.enter(now_ms);
        if number >= st.serving {
            return false;
        }
        let first = match st.members.get_mut(&account) {
            Some(m) if m.place == Place::Number(number) => !std::mem::replace(&mut m.claimed, true),
            _ => return false,
        };
        if first {
            st.claimed_total += 1;
            st.bucket_mut(now).open += 1;
            // No longer "admitted, on the way": find the second that admitted it, if recent.
            let grace = st.grace_secs();
            let last = sec_of(now);
            for s in (last - grace + 1..=last).rev() {
                let b = &mut st.ring[ring_index(s)];
                if b.sec == s && (b.admitted_from..b.admitted_from + b.admitted).contains(&number) {
                    b.unclaimed = b.unclaimed.saturating_sub(1);
                    break;
                }
            }
        }
        true
    }

    /// Reports one checkout's latency and outcome, for the automatic rate.
    pub fn observe_checkout(&self, latency_ms: f64, ok: bool, now_ms: i64) {
        let (mut st, _) = self.enter(now_ms);
        st.samples.record(latency_ms, ok);
    }

    /// Reports that a fan finished checkout (bought or gave up), freeing an active slot. Costs a
    /// scan of at most `pass_ttl_ms / 1000` counters.
    pub fn complete(&self, now_ms: i64) {
        let (mut st, now) = self.enter(now_ms);
        st.completed_total += 1;
        st.cancel_oldest_claim(now);
    }

    /// Replaces the configuration (clamped like in [`new`](Self::new)). Rate, `max_active` and
    /// the rest apply from the next call; a new `opens_at_ms` only matters before opening, the
    /// numbering done at opening never changes.
    pub fn set_config(&self, config: RoomConfig) {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        st.config = config.sanitized();
        let (min, max) = (st.config.min_rate_per_sec, st.config.max_rate_per_sec);
        st.effective_rate = if st.config.auto_rate { st.effective_rate.clamp(min, max) } else { max };
    }

    /// The configuration in force (after clamping).
    pub fn config(&self) -> RoomConfig {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).config.clone()
    }

    /// Counters at `now_ms`.
    pub fn stats(&self, now_ms: i64) -> RoomStats {
        let (st, now) = self.enter(now_ms);
        RoomStats {
            opened: st.opened,
            prequeue: st.prequeue,
            joined: st.members.len() as u64,
            serving: st.serving,
            waiting: if st.opened { st.issued - st.serving } else { st.prequeue },
            active: st.active(now),
            claimed_total: st.claimed_total,
            completed_total: st.completed_total,
            effective_rate: st.rate(),
            joins_per_sec: st.joins_per_sec(now),
        }
    }
}

#[cfg(test)]
mod tests;
