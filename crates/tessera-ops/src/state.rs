//! The state engine: observations in, a [`Snapshot`] of every component out.
//!
//! Observations carry their own time (unix milliseconds): heartbeats pushed by devices and
//! nodes, probe results from several vantage points, health reports. The engine keeps, per
//! component, only the latest of each (a fixed amount of memory per component of the
//! [`Model`], which holds at most [`crate::model::MAX_COMPONENTS`]); [`Engine::evaluate`]
//! reads them at a time passed in and decides, in dependency order:
//!
//! - **Heartbeats**: silent for longer than `interval × tolerance`, a component is down. The
//!   detection bound is therefore `interval × tolerance + evaluation period` (10 s × 3 + 5 s
//!   = 35 s for a gate of the demo). A component never heard from counts from the engine's
//!   start, so a device that never came up is found too. A device clock further than
//!   `max_skew_ms` from the receiver's degrades it.
//! - **Probes, N of M**: a component is down only when `down_when` of its vantage points
//!   report a fresh failure; one failing vantage point is the vantage point's problem. Too few
//!   fresh results to decide is *unknown*, never up: the TOC says what it cannot see.
//! - **Health reports**: pass up, warn degraded, fail down, while fresh.
//! - **Redundancy**: a group is down when fewer than its needed members are up, degraded when
//!   any is missing; its *headroom* is how many more members may fail. Headroom zero on a
//!   redundant group raises an alert of its own ([`Snapshot::alerts`]).
//! - **Dependencies**: a component that fails or cannot be seen while something it
//!   `depends_on` is down is *unreachable*, with the root cause named; `degrades_with`
//!   dependencies down degrade it. A component behind one in maintenance is in maintenance.
//! - **Status page**: each public service rolls up its components ([`PublicStatus`]).

use crate::alerts::{Alert, Labels};
use crate::health::HealthStatus;
use crate::model::Model;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Observations further ahead of the engine's `now_ms` are refused (a wrong clock must not keep
/// a component up for ever).
pub const MAX_FUTURE_MS: i64 = 60_000;
/// A health report of a component without heartbeat or probe counts for this long.
pub const DEFAULT_HEALTH_MAX_AGE_MS: i64 = 60_000;
/// Longest failure detail kept, in characters.
pub const MAX_DETAIL_CHARS: usize = 200;

/// A component's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Up,
    Degraded,
    Down,
    /// Something it depends on is down: it cannot be seen, and is not a cause of its own.
    Unreachable,
    /// Not enough fresh observations to say.
    Unknown,
    Maintenance,
}

impl State {
    /// Out of service, whatever the reason.
    pub fn is_out(self) -> bool {
        matches!(self, State::Down | State::Unreachable)
    }

    fn rank(self) -> u8 {
        match self {
            State::Up => 0,
            State::Degraded => 1,
            State::Unknown => 2,
            State::Maintenance => 3,
            State::Unreachable => 4,
            State::Down => 5,
        }
    }
}

/// One observation, with the receiver's time.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// A device or node is alive; `device_ms` is its own clock, if it said.
    Heartbeat { component: String, at_ms: i64, device_ms: Option<i64> },
    /// A synthetic check from one vantage point.
    Probe { component: String, vantage: String, ok: bool, at_ms: i64, detail: Option<String> },
    /// A component's health report (its overall status).
    Health { component: String, status: HealthStatus, at_ms: i64, output: Option<String> },
}

/// Why an observation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObserveError {
    #[error("unknown component {0:?}")]
    UnknownComponent(String),
    #[error("component {component:?} has no vantage point {vantage:?}")]
    UnknownVantage { component: String, vantage: String },
    #[error("component {0:?} is not probed")]
    NotProbed(String),
    #[error("observation at {at_ms} is more than {MAX_FUTURE_MS} ms after now ({now_ms})")]
    FromTheFuture { at_ms: i64, now_ms: i64 },
    #[error("a maintenance window ends after it starts")]
    BadWindow,
}

#[derive(Debug, Clone, Default)]
struct Seen {
    heartbeat_ms: Option<i64>,
    skew_ms: i64,
    probes: Box<[Option<(i64, bool)>]>,
    health: Option<(i64, HealthStatus)>,
    detail: Option<Box<str>>,
    maintenance: Option<(i64, i64)>,
}

/// The state engine over one model.
#[derive(Debug, Clone)]
pub struct Engine {
    model: Model,
    seen: Vec<Seen>,
    started_ms: i64,
}

/// Redundancy of one group component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Headroom {
    pub component: String,
    pub members: usize,
    pub up: usize,
    pub needed: usize,
    /// How many more members may fail before the group is down (negative: it is).
    pub headroom: i64,
}

impl Headroom {
    /// A group built redundant that has no redundancy left: an incident by itself.
    pub fn exhausted(&self) -> bool {
        self.members > self.needed && self.headroom <= 0
    }
}

/// What the public status page says of a service (Atlassian Statuspage's values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PublicStatus {
    Operational,
    Maintenance,
    Degraded,
    PartialOutage,
    MajorOutage,
}

/// One line of the status page; `unknown` components were left out of the rollup (a TOC that
/// cannot see must not announce an outage) and are the console's business.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceStatus {
    pub id: String,
    pub name: String,
    pub status: PublicStatus,
    pub unknown: usize,
}

/// One component's state and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentStatus {
    pub id: String,
    pub state: State,
    pub reason: String,
    /// For an unreachable component, or one degraded by a `degrades_with` dependency, the
    /// down component behind it (its alerts join that component's group).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// Everything at one instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub at_ms: i64,
    /// In the model's order.
    pub components: Vec<ComponentStatus>,
    pub headroom: Vec<Headroom>,
    pub services: Vec<ServiceStatus>,
    pub counts: BTreeMap<&'static str, usize>,
}

impl Engine {
    /// An engine that has seen nothing yet; `started_ms` is when silence starts to count.
    pub fn new(model: Model, started_ms: i64) -> Engine {
        let seen = model
            .components()
            .iter()
            .map(|c| Seen {
                probes: vec![None; c.probe.as_ref().map_or(0, |p| p.vantage_points.len())].into(),
                ..Seen::default()
            })
            .collect();
        Engine { model, seen, started_ms }
    }

    /// The model watched.
    pub fn model(&self) -> &Model {
        &self.model
    }

    fn index(&self, id: &str) -> Result<usize, ObserveError> {
        self.model.index_of(id).ok_or_else(|| ObserveError::UnknownComponent(id.chars().take(200).collect()))
    }

    /// Records one observation received at `now_ms`. Only the latest of each kind counts.
    pub fn observe(&mut self, obs: &Observation, now_ms: i64) -> Result<(), ObserveError> {
        let at_ms = match obs {
            Observation::Heartbeat { at_ms, .. }
            | Observation::Probe { at_ms, .. }
            | Observation::Health { at_ms, .. } => *at_ms,
        };
        if at_ms > now_ms.saturating_add(MAX_FUTURE_MS) {
            return Err(ObserveError::FromTheFuture { at_ms, now_ms });
        }
        match obs {
            Observation::Heartbeat { component, device_ms, .. } => {
                let i = self.index(component)?;
                self.heartbeat(i, at_ms, *device_ms);
            }
            Observation::Probe { component, vantage, ok, detail, .. } => {
                let i = self.index(component)?;
                let probe = self.model.components()[i].probe.as_ref();
                let v = probe.ok_or_else(|| ObserveError::NotProbed(component.clone()))?;
                let v =
                    v.vantage_points.iter().position(|p| p == vantage).ok_or_else(|| ObserveError::UnknownVantage {
                        component: component.clone(),
                        vantage: vantage.chars().take(200).collect(),
                    })?;
                let seen = &mut self.seen[i];
                if seen.probes[v].is_none_or(|(t, _)| t <= at_ms) {
                    seen.probes[v] = Some((at_ms, *ok));
                    if !ok {
                        seen.detail = detail.as_deref().map(short);
                    }
                }
            }
            Observation::Health { component, status, output, .. } => {
                let i = self.index(component)?;
                if self.model.components()[i].heartbeat.is_some() {
                    self.heartbeat(i, at_ms, None);
                }
                let seen = &mut self.seen[i];
                if seen.health.is_none_or(|(t, _)| t <= at_ms) {
                    seen.health = Some((at_ms, *status));
                    if *status != HealthStatus::Pass {
                        seen.detail = output.as_deref().map(short);
                    }
                }
            }
        }
        Ok(())
    }

    fn heartbeat(&mut self, i: usize, at_ms: i64, device_ms: Option<i64>) {
        let seen = &mut self.seen[i];
        if seen.heartbeat_ms.is_none_or(|t| t <= at_ms) {
            seen.heartbeat_ms = Some(at_ms);
            seen.skew_ms = device_ms.map_or(0, |d| d.saturating_sub(at_ms));
        }
    }

    /// Puts `id` in maintenance from `from_ms` until `until_ms` (one window per component; a new
    /// one replaces it).
    pub fn set_maintenance(&mut self, id: &str, from_ms: i64, until_ms: i64) -> Result<(), ObserveError> {
        if until_ms <= from_ms {
            return Err(ObserveError::BadWindow);
        }
        let i = self.index(id)?;
        self.seen[i].maintenance = Some((from_ms, until_ms));
        Ok(())
    }

    /// Ends `id`'s maintenance window.
    pub fn clear_maintenance(&mut self, id: &str) -> Result<(), ObserveError> {
        let i = self.index(id)?;
        self.seen[i].maintenance = None;
        Ok(())
    }

    /// Every component's state at `now_ms`, its redundancy headroom and the status page.
    pub fn evaluate(&self, now_ms: i64) -> Snapshot {
        let comps = self.model.components();
        let n = comps.len();
        let mut state = vec![State::Unknown; n];
        let mut reason: Vec<String> = vec![String::new(); n];
        let mut cause: Vec<Option<u32>> = vec![None; n];
        let mut headroom = Vec::new();
        for i in self.model.topological_order() {
            let seen = &self.seen[i];
            if let Some((_, until)) = seen.maintenance.filter(|&(f, u)| f <= now_ms && now_ms < u) {
                state[i] = State::Maintenance;
                reason[i] = format!("maintenance until {}", crate::health::rfc3339(until));
                continue;
            }
            let mut own = self.own_signals(i, now_ms);
            let members = &self.model.members[i];
            if !members.is_empty() {
                let (s, why, h) = redundancy(&self.model, i, members, &state);
                headroom.push(h);
                // A group lost because its missing members are all unreachable is unreachable
                // behind their cause, not a cause of its own.
                let missing = members.iter().filter(|&&m| !matches!(state[m as usize], State::Up | State::Degraded));
                let behind: Option<Vec<u32>> = missing.map(|&m| cause[m as usize]).collect();
                match behind.as_deref() {
                    Some([root, ..]) if s == State::Down && state[*root as usize].is_out() => {
                        cause[i] = Some(*root);
                        state[i] = State::Unreachable;
                        reason[i] = format!("behind {} (members unreachable; {why})", comps[*root as usize].id);
                        continue;
                    }
                    _ => own = worst(own, Some((s, why))),
                }
            }
            let bad_dep = self.model.deps[i].iter().copied().find(|&d| state[d as usize].is_out());
            let maint_dep = self.model.deps[i].iter().copied().find(|&d| state[d as usize] == State::Maintenance);
            let hidden = own.as_ref().is_none_or(|(s, _)| matches!(s, State::Down | State::Unknown));
            let (mut s, mut why) = match (hidden, bad_dep, maint_dep) {
                (true, Some(d), _) => {
                    let root = cause[d as usize].unwrap_or(d);
                    cause[i] = Some(root);
                    let d = d as usize;
                    (State::Unreachable, format!("behind {} ({})", comps[d].id, reason_or(&reason[d], state[d])))
                }
                (true, None, Some(d)) => {
                    (State::Maintenance, format!("behind {} in maintenance", comps[d as usize].id))
                }
                _ => own.unwrap_or_else(|| from_dependencies(&self.model.deps[i], &state, comps)),
            };
            if s == State::Up {
                if let Some(d) = self.model.degraders[i].iter().copied().find(|&d| state[d as usize].is_out()) {
                    (s, why) = (State::Degraded, format!("without {} ({:?})", comps[d as usize].id, state[d as usize]));
                    cause[i] = Some(cause[d as usize].unwrap_or(d));
                }
            }
            state[i] = s;
            reason[i] = why;
        }
        let services = self
            .model
            .doc()
            .services
            .iter()
            .zip(&self.model.services)
            .map(|(s, members)| {
                let (status, unknown) = rollup(members.iter().map(|&m| state[m as usize]));
                ServiceStatus { id: s.id.clone(), name: s.name.clone(), status, unknown }
            })
            .collect();
        let mut counts = BTreeMap::new();
        for s in &state {
            *counts.entry(state_name(*s)).or_insert(0) += 1;
        }
        let components = (0..n)
            .map(|i| ComponentStatus {
                id: comps[i].id.clone(),
                state: state[i],
                reason: std::mem::take(&mut reason[i]),
                cause: cause[i].map(|c| comps[c as usize].id.clone()),
            })
            .collect();
        Snapshot { at_ms: now_ms, components, headroom, services, counts }
    }

    /// The worst of a component's own signals; `None` when it has none configured.
    fn own_signals(&self, i: usize, now_ms: i64) -> Option<(State, String)> {
        let c = &self.model.components()[i];
        let seen = &self.seen[i];
        let detail = seen.detail.as_deref().unwrap_or("");
        let mut out: Option<(State, String)> = None;
        if let Some(h) = &c.heartbeat {
            let last = seen.heartbeat_ms.unwrap_or(self.started_ms);
            let silent = now_ms.saturating_sub(last);
            let bound = h.silence_bound_ms();
            let s = if silent > bound {
                let what = if seen.heartbeat_ms.is_some() { "silent for" } else { "never heard from in" };
                (State::Down, format!("{what} {} s (bound {} s)", silent / 1000, bound / 1000))
            } else if seen.skew_ms.abs() > h.max_skew_ms {
                (State::Degraded, format!("clock skewed by {:+} ms", seen.skew_ms))
            } else {
                (State::Up, String::new())
            };
            out = worst(out, Some(s));
        }
        if let Some(p) = &c.probe {
            let fresh = seen.probes.iter().flatten().filter(|(t, _)| now_ms.saturating_sub(*t) <= p.max_age());
            let (mut ok, mut failing) = (0usize, 0usize);
            for (_, good) in fresh {
                if *good {
                    ok += 1
                } else {
                    failing += 1
                }
            }
            let (m, need) = (p.vantage_points.len(), p.down_when as usize);
            let s = if failing >= need {
                (State::Down, format!("{failing} of {m} vantage points fail: {detail}"))
            } else if ok == 0 {
                (State::Unknown, format!("{failing} of {m} vantage points fail, {need} needed; {} silent", m - failing))
            } else if failing > 0 {
                (State::Up, format!("{failing} of {m} vantage points fail ({need} needed for down)"))
            } else {
                (State::Up, String::new())
            };
            out = worst(out, Some(s));
        }
        let max_age = c
            .heartbeat
            .map(|h| h.silence_bound_ms())
            .or(c.probe.as_ref().map(|p| p.max_age()))
            .unwrap_or(DEFAULT_HEALTH_MAX_AGE_MS);
        if let Some((t, status)) = seen.health {
            let s = if now_ms.saturating_sub(t) > max_age {
                (State::Unknown, "health report too old".to_string())
            } else {
                match status {
                    HealthStatus::Pass => (State::Up, String::new()),
                    HealthStatus::Warn => (State::Degraded, format!("health warn: {detail}")),
                    HealthStatus::Fail => (State::Down, format!("health fail: {detail}")),
                }
            };
            out = worst(out, Some(s));
        }
        out
    }
}

fn short(s: &str) -> Box<str> {
    s.chars().filter(|c| !c.is_control()).take(MAX_DETAIL_CHARS).collect::<String>().into()
}

/// Combines two signals: the worse wins, but an unknown never hides a known one.
fn worst(a: Option<(State, String)>, b: Option<(State, String)>) -> Option<(State, String)> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(a), Some(b)) => {
            let key = |s: State| if s == State::Unknown { 0 } else { s.rank() + 1 };
            Some(if key(b.0) > key(a.0) { b } else { a })
        }
    }
}

fn reason_or(reason: &str, s: State) -> String {
    if reason.is_empty() {
        state_name(s).to_string()
    } else {
        reason.to_string()
    }
}

fn state_name(s: State) -> &'static str {
    match s {
        State::Up => "up",
        State::Degraded => "degraded",
        State::Down => "down",
        State::Unreachable => "unreachable",
        State::Unknown => "unknown",
        State::Maintenance => "maintenance",
    }
}

/// A component with no checks of its own is what its dependencies are.
fn from_dependencies(deps: &[u32], state: &[State], comps: &[crate::model::Component]) -> (State, String) {
    match deps.iter().copied().max_by_key(|&d| state[d as usize].rank()) {
        None => (State::Unknown, "no checks".into()),
        Some(d) => match state[d as usize] {
            State::Up => (State::Up, String::new()),
            s => (s, format!("{} is {}", comps[d as usize].id, state_name(s))),
        },
    }
}

fn redundancy(model: &Model, i: usize, members: &[u32], state: &[State]) -> (State, String, Headroom) {
    let comps = model.components();
    let c = &comps[i];
    let needed = c.redundancy.needed();
    let up = members.iter().filter(|&&m| matches!(state[m as usize], State::Up | State::Degraded)).count();
    let unknown = members.iter().filter(|&&m| state[m as usize] == State::Unknown).count();
    let h =
        Headroom { component: c.id.clone(), members: members.len(), up, needed, headroom: up as i64 - needed as i64 };
    let missing: Vec<&str> = members
        .iter()
        .filter(|&&m| !matches!(state[m as usize], State::Up | State::Degraded))
        .map(|&m| comps[m as usize].id.as_str())
        .collect();
    let (s, why) = if unknown == members.len() {
        (State::Unknown, "no member seen".to_string())
    } else if up < needed {
        (State::Down, format!("quorum lost: {up} of {} up, {needed} needed", members.len()))
    } else if !missing.is_empty() {
        let standby = matches!(c.redundancy, crate::model::Redundancy::ActiveStandby { .. })
            && missing[0] == comps[members[0] as usize].id;
        let lead = if standby { "running on standby; ".to_string() } else { String::new() };
        (State::Degraded, format!("{lead}{} not up, headroom {}", missing.join(", "), h.headroom))
    } else {
        (State::Up, String::new())
    };
    (s, why, h)
}

/// A service's public status from its components' states (unknown ones left out, and
/// counted).
fn rollup(states: impl Iterator<Item = State>) -> (PublicStatus, usize) {
    let (mut known, mut unknown, mut out, mut maint, mut degraded) = (0, 0, 0, 0, 0);
    for s in states {
        match s {
            State::Unknown => unknown += 1,
            State::Down | State::Unreachable => out += 1,
            State::Maintenance => maint += 1,
            State::Degraded => degraded += 1,
            State::Up => {}
        }
        if s != State::Unknown {
            known += 1;
        }
    }
    let status = if known > 0 && out == known {
        PublicStatus::MajorOutage
    } else if out > 0 {
        PublicStatus::PartialOutage
    } else if degraded > 0 {
        PublicStatus::Degraded
    } else if maint > 0 {
        PublicStatus::Maintenance
    } else {
        PublicStatus::Operational
    };
    (status, unknown)
}

impl Snapshot {
    /// The status of component `id` (a linear search; the console indexes by model position).
    pub fn get(&self, id: &str) -> Option<&ComponentStatus> {
        self.components.iter().find(|c| c.id == id)
    }

    /// The status page line of service `id`.
    pub fn service(&self, id: &str) -> Option<&ServiceStatus> {
        self.services.iter().find(|s| s.id == id)
    }

    /// The alerts this snapshot raises, for [`crate::alerts::Alerter::sync`]: `ComponentDown`,
    /// `ComponentUnreachable` (labelled with its `cause`, so the cause's alert inhibits it),
    /// `ComponentDegraded` (not for groups: their members and headroom speak), and
    /// `RedundancyExhausted` (SEV3: no redundancy left). Each carries `group`, the alert group
    /// of its root cause ([`Model::group_key`]), so one failure makes one notification group.
    pub fn alerts(&self, model: &Model) -> Vec<Alert> {
        let comps = model.components();
        let mut out = Vec::new();
        for (i, st) in self.components.iter().enumerate() {
            let c = &comps[i];
            let (name, severity) = match st.state {
                State::Down => ("ComponentDown", c.severity.unwrap_or(c.kind.default_severity())),
                State::Unreachable => ("ComponentUnreachable", crate::incidents::Severity::Sev4),
                State::Degraded if c.redundancy.members().is_empty() => {
                    ("ComponentDegraded", crate::incidents::Severity::Sev4)
                }
                _ => continue,
            };
            let root = st.cause.as_deref().and_then(|id| model.index_of(id)).unwrap_or(i);
            let mut labels = Labels::new();
            labels.insert("alertname".into(), name.into());
            labels.insert("component".into(), c.id.clone());
            labels.insert("kind".into(), c.kind.as_str().into());
            if let Some(v) = &c.venue {
                labels.insert("venue".into(), v.clone());
            }
            labels.insert("cause".into(), comps[root].id.clone());
            labels.insert("group".into(), model.group_key(root).into());
            labels.insert("severity".into(), severity.as_str().into());
            out.push(Alert::firing(labels, self.at_ms).summary(&format!(
                "{}: {}",
                c.name,
                reason_or(&st.reason, st.state)
            )));
        }
        for h in self.headroom.iter().filter(|h| h.exhausted()) {
            let Some(i) = model.index_of(&h.component) else { continue };
            // A group that is down or unreachable has an alert of its own, or a cause's.
            if !matches!(self.components[i].state, State::Up | State::Degraded) {
                continue;
            }
            let mut labels = Labels::new();
            labels.insert("alertname".into(), "RedundancyExhausted".into());
            labels.insert("component".into(), h.component.clone());
            labels.insert("kind".into(), comps[i].kind.as_str().into());
            if let Some(v) = &comps[i].venue {
                labels.insert("venue".into(), v.clone());
            }
            labels.insert("cause".into(), h.component.clone());
            labels.insert("group".into(), model.group_key(i).into());
            labels.insert("severity".into(), crate::incidents::Severity::Sev3.as_str().into());
            let text =
                format!("{}: {} of {} up, {} needed: no redundancy left", comps[i].name, h.up, h.members, h.needed);
            out.push(Alert::firing(labels, self.at_ms).summary(&text));
        }
        out
    }
}

#[cfg(test)]
mod tests;
