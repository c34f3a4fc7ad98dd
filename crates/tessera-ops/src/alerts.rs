//! Alerts with Prometheus Alertmanager's semantics, as a pure state machine.
//!
//! The pipeline is Alertmanager's: **dedupe** (an alert is its labels: the same labels are the
//! same alert, fingerprinted as Prometheus does, FNV-1a over sorted name/value pairs) →
//! **group** (by the route's `group_by` labels) → **suppress** (silences, inhibition) →
//! **notify**, on a plan computed from time passed in to [`Alerter::flush`]:
//!
//! - a new group waits `group_wait` before its first notification, so that the alerts of one
//!   failure arriving a few seconds apart go out together;
//! - after that a group is looked at every `group_interval`: it notifies when an alert joined
//!   it or resolved since the last notification;
//! - an unchanged group with firing alerts is notified again after `repeat_interval`;
//! - a resolved alert is told once, then forgotten; one that resolved before it was ever told
//!   is forgotten silently. An alert not refreshed for `resolve_timeout` resolves by itself.
//!
//! An **inhibition** rule mutes target alerts while a firing source alert has the same values
//! of the `equal` labels (a missing label is the empty value): a venue's network down mutes its
//! devices. An alert that matches both sides cannot be inhibited by alerts that also do. A
//! **silence** mutes matching alerts between its start and end (maintenance windows); it must
//! have a matcher that does not match the empty value, so no silence mutes everything.
//!
//! Not implemented: the route tree (one route here) and receivers; the caller delivers
//! [`Notification`]s (mail outbox, webhooks, incidents). **Bounded**: at most [`MAX_ALERTS`]
//! alerts (more are refused and counted in [`Alerter::refused`], which the TOC must alert on:
//! a refused alert is a missed one) and [`MAX_SILENCES`] silences.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Labels: name → value, sorted.
pub type Labels = BTreeMap<String, String>;

/// Alerts held at most.
pub const MAX_ALERTS: usize = 100_000;
/// Silences held at most (expired ones are dropped first).
pub const MAX_SILENCES: usize = 10_000;
/// Labels one alert may have at most.
pub const MAX_LABELS: usize = 64;
/// Longest label value or matcher value, in bytes.
pub const MAX_VALUE_LEN: usize = 1_024;
/// Matchers one silence or rule side may have at most.
pub const MAX_MATCHERS: usize = 32;
/// Inhibition rules at most.
pub const MAX_INHIBIT_RULES: usize = 256;

/// One alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub labels: Labels,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub starts_at_ms: i64,
    /// When it resolved (or will); `None` while firing.
    #[serde(default)]
    pub ends_at_ms: Option<i64>,
}

impl Alert {
    /// A firing alert.
    pub fn firing(labels: Labels, starts_at_ms: i64) -> Alert {
        Alert { labels, annotations: BTreeMap::new(), starts_at_ms, ends_at_ms: None }
    }

    /// The same alert with a `summary` annotation.
    pub fn summary(mut self, text: &str) -> Alert {
        self.annotations.insert("summary".into(), text.into());
        self
    }

    /// Its identity.
    pub fn fingerprint(&self) -> u64 {
        fingerprint(&self.labels)
    }

    /// The value of label `name`, empty when missing (Alertmanager's rule).
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }

    fn resolved_at(&self, now_ms: i64) -> bool {
        self.ends_at_ms.is_some_and(|e| e <= now_ms)
    }
}

/// Prometheus' label-set fingerprint: FNV-1a 64 over sorted names and values, each followed
/// by the separator byte 0xff.
pub fn fingerprint(labels: &Labels) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in labels {
        for b in k.bytes().chain([0xff]).chain(v.bytes()).chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Why an alert, matcher, silence or configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertError {
    #[error("bad matcher {0:?}: name op value, op one of = != =~ !~")]
    BadMatcher(String),
    #[error("bad regex {value:?}: {reason}")]
    BadRegex { value: String, reason: String },
    #[error("a silence needs 1 to {MAX_MATCHERS} matchers, one of which does not match the empty value")]
    SilenceMatchesEverything,
    #[error("a silence ends after it starts")]
    BadSilenceWindow,
    #[error("no silence {0}")]
    NoSilence(u64),
    #[error("too many {0}")]
    Full(&'static str),
    #[error("an alert has 1 to {MAX_LABELS} labels of at most {MAX_VALUE_LEN} bytes")]
    BadLabels,
    #[error("bad timing: {0}")]
    BadTiming(&'static str),
}

mod matcher;
use matcher::label_name_ok;
pub use matcher::{MatchOp, Matcher};

fn all_match(ms: &[Matcher], labels: &Labels) -> bool {
    ms.iter().all(|m| m.matches(labels))
}

/// A silence: matching alerts are muted from `starts_at_ms` until `ends_at_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub id: u64,
    pub matchers: Vec<Matcher>,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    pub created_by: String,
    pub comment: String,
}

impl Silence {
    /// Whether it mutes at `now_ms`.
    pub fn is_active(&self, now_ms: i64) -> bool {
        self.starts_at_ms <= now_ms && now_ms < self.ends_at_ms
    }
}

/// While a firing alert matches `source_matchers`, alerts matching `target_matchers` with the
/// same values of the `equal` labels are muted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InhibitRule {
    pub source_matchers: Vec<Matcher>,
    pub target_matchers: Vec<Matcher>,
    #[serde(default)]
    pub equal: Vec<String>,
}

/// The one route: grouping and timing, in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Labels that make a group; `["..."]` groups by every label (no grouping).
    pub group_by: Vec<String>,
    pub group_wait_ms: i64,
    pub group_interval_ms: i64,
    pub repeat_interval_ms: i64,
    pub resolve_timeout_ms: i64,
}

impl Default for Route {
    /// Alertmanager's defaults: 30 s, 5 min, 4 h, 5 min.
    fn default() -> Route {
        Route {
            group_by: vec!["group".into()],
            group_wait_ms: 30_000,
            group_interval_ms: 300_000,
            repeat_interval_ms: 4 * 3_600_000,
            resolve_timeout_ms: 300_000,
        }
    }
}

/// The route and the inhibition rules.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AlertConfig {
    pub route: Route,
    #[serde(default)]
    pub inhibit_rules: Vec<InhibitRule>,
}

impl AlertConfig {
    /// The TOC's configuration for [`crate::state::Snapshot::alerts`]: group by `group` (one
    /// root cause, one group), Alertmanager's timings, a down cause inhibits what is
    /// unreachable behind it, and a venue's network down inhibits that venue's devices.
    pub fn toc_default() -> AlertConfig {
        let m = |s: &str| Matcher::parse(s).expect("a valid built-in matcher");
        AlertConfig {
            route: Route::default(),
            inhibit_rules: vec![
                InhibitRule {
                    source_matchers: vec![m("alertname=ComponentDown")],
                    target_matchers: vec![m("alertname=ComponentUnreachable")],
                    equal: vec!["cause".into()],
                },
                InhibitRule {
                    source_matchers: vec![m("alertname=ComponentDown"), m("kind=network")],
                    target_matchers: vec![m("kind=~gate|desk|result_source")],
                    equal: vec!["venue".into()],
                },
            ],
        }
    }

    fn check(&self) -> Result<(), AlertError> {
        let r = &self.route;
        let day = 86_400_000;
        if !(0..=day).contains(&r.group_wait_ms) || !(1_000..=day).contains(&r.group_interval_ms) {
            return Err(AlertError::BadTiming("group_wait 0 to 1 day, group_interval 1 s to 1 day"));
        }
        if r.repeat_interval_ms < r.group_interval_ms || r.repeat_interval_ms > 30 * day {
            return Err(AlertError::BadTiming("repeat_interval from group_interval to 30 days"));
        }
        if !(1_000..=30 * day).contains(&r.resolve_timeout_ms) {
            return Err(AlertError::BadTiming("resolve_timeout 1 s to 30 days"));
        }
        let too_many = |ms: &[Matcher]| ms.len() > MAX_MATCHERS;
        if self.inhibit_rules.len() > MAX_INHIBIT_RULES
            || self.inhibit_rules.iter().any(|r| too_many(&r.source_matchers) || too_many(&r.target_matchers))
        {
            return Err(AlertError::Full("inhibition rules or matchers"));
        }
        Ok(())
    }
}

/// Why a notification goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyKind {
    /// The group's first, after `group_wait`.
    First,
    /// Alerts joined or resolved.
    Update,
    /// Nothing changed for `repeat_interval`.
    Repeat,
}

/// One message for one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    pub group_key: String,
    pub group_labels: Labels,
    pub kind: NotifyKind,
    pub firing: Vec<Alert>,
    pub resolved: Vec<Alert>,
    pub at_ms: i64,
}

/// Why an alert is not notified.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Muted {
    pub silenced_by: Vec<u64>,
    pub inhibited: bool,
}

#[derive(Debug, Clone)]
struct Entry {
    alert: Alert,
    updated_ms: i64,
}

#[derive(Debug, Clone)]
struct Group {
    labels: Labels,
    alerts: BTreeSet<u64>,
    next_flush_ms: i64,
    last_notified_ms: Option<i64>,
    notified_firing: BTreeSet<u64>,
}

/// The alert store, its groups, silences and notification plan.
#[derive(Debug, Clone)]
pub struct Alerter {
    config: AlertConfig,
    alerts: HashMap<u64, Entry>,
    groups: BTreeMap<String, Group>,
    silences: BTreeMap<u64, Silence>,
    next_silence: u64,
    refused: u64,
}

/// For each inhibition rule, the `equal` values of firing sources: (all, those also targets).
type SourceIndex = Vec<HashMap<Vec<String>, (usize, usize)>>;

impl Alerter {
    /// An empty alerter; the configuration is checked.
    pub fn new(config: AlertConfig) -> Result<Alerter, AlertError> {
        config.check()?;
        Ok(Alerter {
            config,
            alerts: HashMap::new(),
            groups: BTreeMap::new(),
            silences: BTreeMap::new(),
            next_silence: 1,
            refused: 0,
        })
    }

    /// Alerts refused because the store was full.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Alerts held (firing, or resolved and not yet told).
    pub fn len(&self) -> usize {
        self.alerts.len()
    }

    /// Whether no alert is held.
    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }

    /// Groups held.
    pub fn groups(&self) -> usize {
        self.groups.len()
    }

    fn group_of(&self, labels: &Labels) -> (String, Labels) {
        let by = &self.config.route.group_by;
        let gl: Labels = if by.iter().any(|b| b == "...") {
            labels.clone()
        } else {
            by.iter().filter_map(|b| labels.get(b).map(|v| (b.clone(), v.clone()))).collect()
        };
        let key = gl.iter().map(|(k, v)| format!("{k}={v:?}")).collect::<Vec<_>>().join(",");
        (format!("{{{key}}}"), gl)
    }

    /// Receives one alert at `now_ms`: the same labels update the alert already held (dedupe).
    pub fn receive(&mut self, alert: Alert, now_ms: i64) -> Result<u64, AlertError> {
        if alert.labels.is_empty()
            || alert.labels.len() > MAX_LABELS
            || alert.labels.iter().any(|(k, v)| !label_name_ok(k) || v.len() > MAX_VALUE_LEN)
        {
            return Err(AlertError::BadLabels);
        }
        let fp = alert.fingerprint();
        if let Some(e) = self.alerts.get_mut(&fp) {
            let was_resolved = e.alert.resolved_at(now_ms);
            let starts = if was_resolved { alert.starts_at_ms } else { e.alert.starts_at_ms.min(alert.starts_at_ms) };
            e.alert = Alert { starts_at_ms: starts, ..alert };
            e.updated_ms = now_ms;
            return Ok(fp);
        }
        if self.alerts.len() >= MAX_ALERTS {
            self.refused += 1;
            return Err(AlertError::Full("alerts"));
        }
        let (key, labels) = self.group_of(&alert.labels);
        let wait = self.config.route.group_wait_ms;
        let g = self.groups.entry(key).or_insert_with(|| Group {
            labels,
            alerts: BTreeSet::new(),
            next_flush_ms: now_ms.saturating_add(wait),
            last_notified_ms: None,
            notified_firing: BTreeSet::new(),
        });
        g.alerts.insert(fp);
        self.alerts.insert(fp, Entry { alert, updated_ms: now_ms });
        Ok(fp)
    }

    /// Makes `firing` the whole set of firing alerts at `now_ms`: each is received, and any
    /// other alert still firing resolves now. For a source that re-evaluates everything (the
    /// state engine's snapshots). Returns how many were refused.
    pub fn sync(&mut self, firing: Vec<Alert>, now_ms: i64) -> usize {
        let mut present = HashSet::with_capacity(firing.len());
        let mut refused = 0;
        for a in firing {
            match self.receive(a, now_ms) {
                Ok(fp) => {
                    present.insert(fp);
                }
                Err(_) => refused += 1,
            }
        }
        for (fp, e) in &mut self.alerts {
            if e.alert.ends_at_ms.is_none() && !present.contains(fp) {
                e.alert.ends_at_ms = Some(now_ms);
                e.updated_ms = now_ms;
            }
        }
        refused
    }

    /// Adds a silence; returns its id.
    pub fn silence(
        &mut self,
        matchers: Vec<Matcher>,
        starts_at_ms: i64,
        ends_at_ms: i64,
        created_by: &str,
        comment: &str,
    ) -> Result<u64, AlertError> {
        let id = self.next_silence;
        let s =
            Silence { id, matchers, starts_at_ms, ends_at_ms, created_by: created_by.into(), comment: comment.into() };
        self.put_silence(s)?;
        self.next_silence += 1;
        Ok(id)
    }

    /// Adds silence `s`, or replaces the one with its id: a silence made elsewhere (another
    /// node's, read from the shared store) keeps its maker's id. Checked as [`Alerter::silence`].
    pub fn put_silence(&mut self, mut s: Silence) -> Result<(), AlertError> {
        let empty = Labels::new();
        if s.matchers.is_empty() || s.matchers.len() > MAX_MATCHERS || s.matchers.iter().all(|m| m.matches(&empty)) {
            return Err(AlertError::SilenceMatchesEverything);
        }
        if s.ends_at_ms <= s.starts_at_ms {
            return Err(AlertError::BadSilenceWindow);
        }
        if !self.silences.contains_key(&s.id) && self.silences.len() >= MAX_SILENCES {
            // Expired silences go first; only then is a new one refused.
            let expired: Vec<u64> =
                self.silences.values().filter(|x| x.ends_at_ms <= s.starts_at_ms).map(|x| x.id).collect();
            for id in expired {
                self.silences.remove(&id);
            }
            if self.silences.len() >= MAX_SILENCES {
                return Err(AlertError::Full("silences"));
            }
        }
        s.created_by = s.created_by.chars().take(200).collect();
        s.comment = s.comment.chars().take(2_000).collect();
        self.silences.insert(s.id, s);
        Ok(())
    }

    /// Silence `id`.
    pub fn silence_by_id(&self, id: u64) -> Option<&Silence> {
        self.silences.get(&id)
    }

    /// Ends silence `id` at `now_ms`.
    pub fn expire_silence(&mut self, id: u64, now_ms: i64) -> Result<(), AlertError> {
        let s = self.silences.get_mut(&id).ok_or(AlertError::NoSilence(id))?;
        s.ends_at_ms = s.ends_at_ms.min(now_ms).max(s.starts_at_ms);
        Ok(())
    }

    /// Every silence, active or not.
    pub fn silences(&self) -> impl Iterator<Item = &Silence> {
        self.silences.values()
    }

    fn source_index(&self, now_ms: i64) -> SourceIndex {
        let rules = &self.config.inhibit_rules;
        let mut idx: SourceIndex = vec![HashMap::new(); rules.len()];
        for e in self.alerts.values().filter(|e| !e.alert.resolved_at(now_ms)) {
            for (r, rule) in rules.iter().enumerate() {
                if all_match(&rule.source_matchers, &e.alert.labels) {
                    let key: Vec<String> = rule.equal.iter().map(|l| e.alert.label(l).to_string()).collect();
                    let slot = idx[r].entry(key).or_default();
                    slot.0 += 1;
                    slot.1 += usize::from(all_match(&rule.target_matchers, &e.alert.labels));
                }
            }
        }
        idx
    }

    fn inhibited(&self, idx: &SourceIndex, alert: &Alert) -> bool {
        self.config.inhibit_rules.iter().enumerate().any(|(r, rule)| {
            if !all_match(&rule.target_matchers, &alert.labels) {
                return false;
            }
            let key: Vec<String> = rule.equal.iter().map(|l| alert.label(l).to_string()).collect();
            let Some(&(all, both)) = idx[r].get(&key) else { return false };
            // An alert on both sides is only inhibited by a source that is not a target too.
            if all_match(&rule.source_matchers, &alert.labels) {
                all > both
            } else {
                all > 0
            }
        })
    }

    fn silenced_by(&self, alert: &Alert, now_ms: i64) -> Vec<u64> {
        self.silences
            .values()
            .filter(|s| s.is_active(now_ms) && all_match(&s.matchers, &alert.labels))
            .map(|s| s.id)
            .collect()
    }

    /// Why the alert with `labels` is muted at `now_ms` (empty: it is not).
    pub fn muted(&self, labels: &Labels, now_ms: i64) -> Muted {
        let alert = Alert::firing(labels.clone(), now_ms);
        Muted {
            silenced_by: self.silenced_by(&alert, now_ms),
            inhibited: self.inhibited(&self.source_index(now_ms), &alert),
        }
    }

    /// When the next group is due; call [`Alerter::flush`] then.
    pub fn next_flush_at(&self) -> Option<i64> {
        self.groups.values().map(|g| g.next_flush_ms).min()
    }

    /// The notifications due at `now_ms`.
    pub fn flush(&mut self, now_ms: i64) -> Vec<Notification> {
        let timeout = self.config.route.resolve_timeout_ms;
        for e in self.alerts.values_mut() {
            if e.alert.ends_at_ms.is_none() && now_ms.saturating_sub(e.updated_ms) >= timeout {
                e.alert.ends_at_ms = Some(e.updated_ms.saturating_add(timeout));
            }
        }
        let idx = self.source_index(now_ms);
        let (interval, repeat) = (self.config.route.group_interval_ms, self.config.route.repeat_interval_ms);
        let due: Vec<String> =
            self.groups.iter().filter(|(_, g)| g.next_flush_ms <= now_ms).map(|(k, _)| k.clone()).collect();
        let mut out = Vec::new();
        for key in due {
            let g = &self.groups[&key];
            let (mut firing, mut resolved, mut gone) = (Vec::new(), Vec::new(), Vec::new());
            for fp in &g.alerts {
                let Some(e) = self.alerts.get(fp) else { continue };
                if e.alert.resolved_at(now_ms) {
                    if g.notified_firing.contains(fp) {
                        resolved.push(e.alert.clone());
                    }
                    gone.push(*fp);
                } else if !self.inhibited(&idx, &e.alert) && self.silenced_by(&e.alert, now_ms).is_empty() {
                    firing.push((*fp, e.alert.clone()));
                }
            }
            let new = firing.iter().any(|(fp, _)| !g.notified_firing.contains(fp));
            let repeat_due =
                !firing.is_empty() && g.last_notified_ms.is_some_and(|t| now_ms.saturating_sub(t) >= repeat);
            let g = self.groups.get_mut(&key).expect("due group");
            if new || !resolved.is_empty() || repeat_due {
                let kind = match g.last_notified_ms {
                    None => NotifyKind::First,
                    Some(_) if !new && resolved.is_empty() => NotifyKind::Repeat,
                    Some(_) => NotifyKind::Update,
                };
                g.notified_firing = firing.iter().map(|(fp, _)| *fp).collect();
                g.last_notified_ms = Some(now_ms);
                out.push(Notification {
                    group_key: key.clone(),
                    group_labels: g.labels.clone(),
                    kind,
                    firing: firing.into_iter().map(|(_, a)| a).collect(),
                    resolved,
                    at_ms: now_ms,
                });
            }
            for fp in gone {
                g.alerts.remove(&fp);
                g.notified_firing.remove(&fp);
                self.alerts.remove(&fp);
            }
            g.next_flush_ms = now_ms.saturating_add(interval);
            if g.alerts.is_empty() {
                self.groups.remove(&key);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
