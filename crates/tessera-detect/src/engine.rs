//! The streaming engine: every event goes through every rule once, in arrival order, and an
//! overflow becomes an [`Alert`], with a [`Decision`] when the rule decides one.
//!
//! Time is the events' own (`at_ms`), never a clock: replaying a day of logs gives the same
//! alerts as living it, and a time earlier than one a key has seen counts as that time.
//!
//! **Memory is bounded** whatever the traffic. Each rule holds its keys in two generations
//! ([`Generations`]): new keys go into the young one; when it is full, the old generation is
//! dropped whole and the young one becomes old. A key that is used again is moved to the
//! young generation, so hot keys stay and cold ones go: with millions of distinct addresses,
//! a rule holds at most `max_keys` of them, and an evicted key only forgets counts too cold to
//! overflow soon (an attacker spreading over more addresses than `max_keys` to stay cold is
//! what the baseline rules are for). The per-key state is bounded too: a value count holds at
//! most `distinct` values, a temporal rule one time per kind.
//!
//! **Quiet after firing**: a key that overflowed stays quiet for its decision's duration, so
//! that a flood gives one alert, not one per request. A scope that offends again after its
//! decision ran out gets twice the duration (up to a week): repeat offenders escalate.

use crate::event::Event;
use crate::rules::{Condition, Decide, Field, GroupBy, Level, Rule, MAX_MINUTES};
use ipnet::IpNet;
use serde::Serialize;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::net::IpAddr;

/// What a decision applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Scope {
    Address(IpAddr),
    Network(IpNet),
    Account(u64),
    Ticket(String),
    /// Everyone (a challenge during a distributed flood).
    Everyone,
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Address(a) => write!(f, "address {a}"),
            Scope::Network(n) => write!(f, "network {n}"),
            Scope::Account(a) => write!(f, "account {a}"),
            Scope::Ticket(t) => write!(f, "ticket {t}"),
            Scope::Everyone => f.write_str("everyone"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub action: Decide,
    pub scope: Scope,
    pub from_ms: i64,
    pub until_ms: i64,
    /// The rule that decided.
    pub reason: String,
    /// How many times this scope was decided on before (the duration doubled each time).
    pub repeat: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub rule: String,
    pub title: String,
    pub level: Level,
    pub at_ms: i64,
    pub group_by: GroupBy,
    /// The key that overflowed, as text (`203.0.113.7`, `203.0.113.0/24`, `*`).
    pub key: String,
    /// What overflowed: the bucket's level, the distinct values, the second's count.
    pub measure: f64,
    pub decision: Option<Decision>,
    /// The decision was not taken because the source is on the allow list (gates, partners).
    pub allow_listed: bool,
}

/// Figures per rule, for the console and `tessera soc`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RuleStats {
    pub id: String,
    /// Events that passed the filter and had the rule's key.
    pub matched: u64,
    pub alerts: u64,
    pub keys: usize,
    pub evicted: u64,
}

/// Keys are already hashed (with a per-engine random key): the map need not hash them again.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type KeyMap<V> = HashMap<u64, V, BuildHasherDefault<Prehashed>>;

/// A map of at most `cap` keys that forgets its coldest half when full (see the module).
pub struct Generations<V> {
    half: usize,
    young: KeyMap<V>,
    old: KeyMap<V>,
    evicted: u64,
}

impl<V> Generations<V> {
    pub fn new(cap: usize) -> Self {
        Generations { half: (cap / 2).max(1), young: KeyMap::default(), old: KeyMap::default(), evicted: 0 }
    }

    pub fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    pub fn get_or_insert_with(&mut self, key: u64, new: impl FnOnce() -> V) -> &mut V {
        if !self.young.contains_key(&key) {
            let v = self.old.remove(&key).unwrap_or_else(new);
            if self.young.len() >= self.half {
                self.evicted += self.old.len() as u64;
                self.old = std::mem::take(&mut self.young);
            }
            self.young.insert(key, v);
        }
        self.young.get_mut(&key).expect("just inserted")
    }
}

enum KeyState {
    Bucket { level: f64, last_ms: i64 },
    Values { values: Vec<(u64, i64)>, last_ms: i64 },
    Temporal { seen: Vec<i64> },
    Baseline(Box<BaselineState>),
}

/// One key of a baseline rule: the current second, and the learned rate per second.
struct BaselineState {
    second: i64,
    count: u64,
    /// Linear counting of the second's distinct sources: 4,096 bits.
    sources: [u64; 64],
    rate: f64,
    learned: u64,
    overflowing: bool,
}

impl BaselineState {
    fn distinct_sources(&self) -> f64 {
        let m = 4096.0;
        let zeros = self.sources.iter().map(|w| w.count_zeros()).sum::<u32>() as f64;
        if zeros == 0.0 {
            return m * 8.0;
        }
        -m * (zeros / m).ln()
    }
}

struct Held {
    state: KeyState,
    quiet_until: i64,
}

struct RuleRun {
    rule: Rule,
    keys: Generations<Held>,
    matched: u64,
    alerts: u64,
}

/// The engine: rules, their state, the allow list and the repeat offenders.
pub struct Engine {
    rules: Vec<RuleRun>,
    hasher: RandomState,
    allow: Vec<IpNet>,
    /// Scope → (times decided, until when the last decision ran).
    offenders: Generations<(u32, i64)>,
}

/// The key's network: /24 for IPv4, /48 for IPv6.
pub fn network_of(ip: IpAddr) -> IpNet {
    let prefix = if ip.is_ipv4() { 24 } else { 48 };
    IpNet::new(ip, prefix).expect("a valid prefix").trunc()
}

impl Engine {
    pub fn new(rules: Vec<Rule>, allow: Vec<IpNet>) -> Engine {
        let rules = rules
            .into_iter()
            .map(|rule| RuleRun { keys: Generations::new(rule.max_keys()), rule, matched: 0, alerts: 0 })
            .collect();
        Engine { rules, hasher: RandomState::new(), allow, offenders: Generations::new(1 << 20) }
    }

    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().map(|r| &r.rule)
    }

    pub fn stats(&self) -> Vec<RuleStats> {
        self.rules
            .iter()
            .map(|r| RuleStats {
                id: r.rule.id.clone(),
                matched: r.matched,
                alerts: r.alerts,
                keys: r.keys.len(),
                evicted: r.keys.evicted(),
            })
            .collect()
    }

    fn allowed(&self, ip: IpAddr) -> bool {
        self.allow.iter().any(|n| n.contains(&ip))
    }

    /// Runs one event through every rule; alerts are appended to `out`.
    pub fn observe(&mut self, e: &Event, out: &mut Vec<Alert>) {
        for i in 0..self.rules.len() {
            if !self.rules[i].rule.filter.matches(e) {
                continue;
            }
            let Some(key) = group_hash(&self.hasher, self.rules[i].rule.group_by, e) else { continue };
            if let Some(measure) = self.step(i, key, e) {
                let alert = self.alert(i, e, measure);
                self.rules[i].alerts += 1;
                out.push(alert);
            }
        }
    }

    /// Moves rule `i`'s state for `key`; the measure that overflowed, if it did.
    fn step(&mut self, i: usize, key: u64, e: &Event) -> Option<f64> {
        let hasher = &self.hasher;
        let run = &mut self.rules[i];
        run.matched += 1;
        let rule = &run.rule;
        let t = e.at_ms;
        let held = run.keys.get_or_insert_with(key, || Held {
            state: match &rule.condition {
                Condition::EventCount(_) => KeyState::Bucket { level: 0.0, last_ms: t },
                Condition::ValueCount(_) => KeyState::Values { values: Vec::new(), last_ms: t },
                Condition::Temporal(c) => KeyState::Temporal { seen: vec![i64::MIN; c.kinds.len()] },
                Condition::Baseline(_) => KeyState::Baseline(Box::new(BaselineState {
                    second: t.div_euclid(1000),
                    count: 0,
                    sources: [0; 64],
                    rate: 0.0,
                    learned: 0,
                    overflowing: false,
                })),
            },
            quiet_until: i64::MIN,
        });
        let quiet = t < held.quiet_until;
        let measure = match (&rule.condition, &mut held.state) {
            (Condition::EventCount(c), KeyState::Bucket { level, last_ms }) => {
                let now = t.max(*last_ms);
                let leaked = c.rate_per_sec * (now - *last_ms) as f64 / 1000.0;
                *level = (*level - leaked).max(0.0) + 1.0;
                *last_ms = now;
                (*level > c.burst && !quiet).then(|| std::mem::replace(level, 0.0))
            }
            (Condition::ValueCount(c), KeyState::Values { values, last_ms }) => {
                let v = field_hash(hasher, c.field, e)?;
                let now = t.max(*last_ms);
                *last_ms = now;
                let horizon = now - (c.window_secs as i64) * 1000;
                values.retain(|(_, at)| *at > horizon);
                match values.iter_mut().find(|(h, _)| *h == v) {
                    Some(slot) => slot.1 = now,
                    None => values.push((v, now)),
                }
                if values.len() >= c.distinct as usize && !quiet {
                    let n = values.len() as f64;
                    values.clear();
                    Some(n)
                } else {
                    None
                }
            }
            (Condition::Temporal(c), KeyState::Temporal { seen }) => {
                let k = c.kinds.iter().position(|k| *k == e.kind)?;
                seen[k] = seen[k].max(t);
                let horizon = t - (c.window_secs as i64) * 1000;
                if !quiet && seen.iter().all(|s| *s != i64::MIN && *s >= horizon) {
                    seen.fill(i64::MIN);
                    Some(c.kinds.len() as f64)
                } else {
                    None
                }
            }
            (Condition::Baseline(c), KeyState::Baseline(b)) => {
                let second = t.div_euclid(1000).max(b.second);
                if second > b.second {
                    // Close the second (and learn from it unless it overflowed: an attack
                    // does not become the baseline), then the idle ones after it.
                    let alpha = 1.0 / c.learn_secs as f64;
                    if !b.overflowing {
                        b.rate += alpha * (b.count as f64 - b.rate);
                        b.learned += 1;
                    }
                    let idle = (second - b.second - 1).min(c.learn_secs as i64);
                    for _ in 0..idle {
                        b.rate -= alpha * b.rate;
                        b.learned += 1;
                    }
                    b.second = second;
                    b.count = 0;
                    b.sources = [0; 64];
                    b.overflowing = false;
                }
                b.count += 1;
                if let Some(ip) = e.source {
                    let h = hasher.hash_one(ip) as usize & 4095;
                    b.sources[h / 64] |= 1 << (h % 64);
                }
                let threshold = (b.rate * c.factor).max(c.min_rate_per_sec);
                // A second above the threshold from many sources overflows, alert or not (the
                // key may be quiet): it is not learned, so that a flood that lasts does not
                // become the baseline and is challenged again when the quiet ends. Above the
                // rate from few sources is the per-source rules' work.
                if b.learned >= c.learn_secs
                    && b.count as f64 > threshold
                    && (c.min_sources == 0 || b.distinct_sources() >= f64::from(c.min_sources))
                {
                    let first = !b.overflowing;
                    b.overflowing = true;
                    (first && !quiet).then_some(b.count as f64)
                } else {
                    None
                }
            }
            _ => unreachable!("a key's state is made from its rule's condition"),
        };
        if measure.is_some() {
            held.quiet_until = t.saturating_add(rule.action.minutes as i64 * 60_000);
        }
        measure
    }

    fn alert(&mut self, i: usize, e: &Event, measure: f64) -> Alert {
        let rule = &self.rules[i].rule;
        let key = group_text(rule.group_by, e);
        let scope = match (rule.action.decide, rule.group_by) {
            (Decide::Alert, _) => None,
            (_, GroupBy::Source) => e.source.map(Scope::Address),
            (_, GroupBy::Network) => e.source.map(|ip| Scope::Network(network_of(ip))),
            (_, GroupBy::Account) => e.account.map(Scope::Account),
            (_, GroupBy::Ticket) => e.ticket.clone().map(Scope::Ticket),
            (_, GroupBy::All) => Some(Scope::Everyone),
            _ => None,
        };
        let allow_listed =
            e.source.is_some_and(|ip| self.allowed(ip)) && matches!(scope, Some(Scope::Address(_) | Scope::Network(_)));
        let (id, title, level, group_by, action, minutes) =
            (rule.id.clone(), rule.title.clone(), rule.level, rule.group_by, rule.action.decide, rule.action.minutes);
        let decision = match scope {
            Some(scope) if !allow_listed => {
                let h = self.hasher.hash_one(&scope);
                let (times, until) = self.offenders.get_or_insert_with(h, || (0, i64::MIN));
                // A repeat is a decision on a scope whose last one ran out less than a day ago.
                let repeat = if *until != i64::MIN && e.at_ms - *until < 86_400_000 { *times } else { 0 };
                let minutes = (minutes << repeat.min(10)).min(MAX_MINUTES);
                let until_ms = e.at_ms.saturating_add(minutes as i64 * 60_000);
                *times = repeat + 1;
                *until = until_ms;
                Some(Decision { action, scope, from_ms: e.at_ms, until_ms, reason: id.clone(), repeat })
            }
            _ => None,
        };
        Alert { rule: id, title, level, at_ms: e.at_ms, group_by, key, measure, decision, allow_listed }
    }
}

fn hash_str(h: &RandomState, tag: u8, s: &str) -> u64 {
    let mut hasher = h.build_hasher();
    hasher.write_u8(tag);
    hasher.write(s.as_bytes());
    hasher.finish()
}

fn hash_ip(h: &RandomState, tag: u8, ip: IpAddr) -> u64 {
    let mut hasher = h.build_hasher();
    hasher.write_u8(tag);
    match ip {
        IpAddr::V4(a) => hasher.write(&a.octets()),
        IpAddr::V6(a) => hasher.write(&a.octets()),
    }
    hasher.finish()
}

fn hash_u64(h: &RandomState, tag: u8, n: u64) -> u64 {
    let mut hasher = h.build_hasher();
    hasher.write_u8(tag);
    hasher.write_u64(n);
    hasher.finish()
}

/// The hash of an event's key for a grouping; `None` when the event has no such key.
fn group_hash(h: &RandomState, g: GroupBy, e: &Event) -> Option<u64> {
    match g.field() {
        Some(f) => field_hash(h, f, e),
        None => Some(0),
    }
}

fn field_hash(h: &RandomState, f: Field, e: &Event) -> Option<u64> {
    Some(match f {
        Field::Source => hash_ip(h, 1, e.source?),
        Field::Network => hash_ip(h, 2, network_of(e.source?).network()),
        Field::Account => hash_u64(h, 3, e.account?),
        Field::User => hash_str(h, 4, e.user.as_deref()?),
        Field::Card => hash_str(h, 5, e.card.as_deref()?),
        Field::Device => hash_str(h, 6, e.device.as_deref()?),
        Field::Ticket => hash_str(h, 7, e.ticket.as_deref()?),
        Field::Gate => hash_str(h, 8, e.gate.as_deref()?),
        Field::Subject => hash_u64(h, 9, e.subject?),
        Field::Path => hash_str(h, 10, &e.http.as_ref()?.path),
        Field::UserAgent => hash_str(h, 11, &e.http.as_ref()?.user_agent),
    })
}

pub(crate) fn group_text(g: GroupBy, e: &Event) -> String {
    let s = |o: &Option<String>| o.clone().unwrap_or_default();
    match g {
        GroupBy::Source => e.source.map(|ip| ip.to_string()).unwrap_or_default(),
        GroupBy::Network => e.source.map(|ip| network_of(ip).to_string()).unwrap_or_default(),
        GroupBy::Account => e.account.map(|a| a.to_string()).unwrap_or_default(),
        GroupBy::User => s(&e.user),
        GroupBy::Card => s(&e.card),
        GroupBy::Device => s(&e.device),
        GroupBy::Ticket => s(&e.ticket),
        GroupBy::Gate => s(&e.gate),
        GroupBy::Subject => e.subject.map(|a| a.to_string()).unwrap_or_default(),
        GroupBy::All => "*".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Kind;

    fn engine(yaml: &str) -> Engine {
        Engine::new(crate::rules::parse_rules(yaml).unwrap(), Vec::new())
    }

    fn hit(e: &mut Engine, at_ms: i64, source: u32) -> Vec<Alert> {
        let mut ev = Event::new(at_ms, Kind::HttpRequest);
        ev.source = Some(IpAddr::from(source.to_be_bytes()));
        let mut out = Vec::new();
        e.observe(&ev, &mut out);
        out
    }

    /// A flood that outlasts its decision is challenged again when the quiet ends: the
    /// seconds it overflowed were not learned as the new normal.
    #[test]
    fn a_lasting_flood_does_not_become_the_baseline() {
        let mut e = engine(
            "- id: all\n  title: t\n  level: high\n  group_by: all\n  condition: { baseline: { factor: 4, min_rate_per_sec: 100, learn_secs: 20 } }\n  action: { decide: challenge, minutes: 1 }\n",
        );
        let mut alerts = Vec::new();
        for s in 0..30i64 {
            for k in 0..10 {
                alerts.extend(hit(&mut e, s * 1000 + k * 100, k as u32));
            }
        }
        assert!(alerts.is_empty());
        for s in 30..180i64 {
            for k in 0..200 {
                alerts.extend(hit(&mut e, s * 1000 + k * 5, 1000 + k as u32));
            }
        }
        let at: Vec<i64> = alerts.iter().map(|a| a.at_ms / 1000).collect();
        assert!(
            at.len() >= 2 && at[0] == 30 && at[1] >= 90,
            "challenged at the start and again after the quiet: {at:?}"
        );
    }

    #[test]
    fn generations_hold_at_most_their_cap_and_keep_what_is_used() {
        let mut g: Generations<u32> = Generations::new(100);
        for k in 0..10_000u64 {
            *g.get_or_insert_with(k, || 0) += 1;
            // Key 7 is used all the time: it stays.
            *g.get_or_insert_with(7, || 0) += 1;
            assert!(g.len() <= 100);
        }
        assert_eq!(*g.get_or_insert_with(7, || 0), 10_001);
        assert!(g.evicted() > 9_000);
    }
}
