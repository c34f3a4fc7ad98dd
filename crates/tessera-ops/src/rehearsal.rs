//! Rehearsals: scripted failure scenarios, as data, with what the TOC is expected to detect and
//! how fast the operators are expected to act; and a scorer for a run, as Atos's Technology
//! Rehearsal Officers graded 1,400 scenarios before Paris 2024 (and a separate team graded
//! Athens 2004's).
//!
//! A [`Scenario`] names a [`Fault`] (what the rehearsal officer injects), the detections it must
//! cause (component, state, within how long), the contingency mode the runbook calls for, if
//! any, and targets to acknowledge and resolve. [`Fault::effects`] says what the fault does to
//! each component's observations, so a drill or a test can simulate it
//! ([`crate::fleet::observations`]). A [`Run`] is what happened: injection time, detection
//! times (a [`Recorder`] takes them from snapshots), operator actions. [`score`] grades it:
//!
//! | part | points | rule |
//! |---|---|---|
//! | detection | 40 | split over the expected detections: on time full, late half, missed none |
//! | acknowledge | 20 | within target 20, within twice the target 10, else 0 |
//! | mitigation | 20 | the expected mode switched within the resolve target 20, later 10, never 0; 20 when none is expected |
//! | resolve | 20 | within target 20, within twice the target 10, else 0 |
//!
//! Times count from injection. A run passes with no missed detection and at least 70 points.

use crate::contingency::Mode;
use crate::model::{Kind, Model};
use crate::state::{Snapshot, State};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Points a run needs (with no missed detection) to pass.
pub const PASS_POINTS: u32 = 70;

/// What the rehearsal officer breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Fault {
    NodeKilled { node: String },
    PostgresStopped,
    NatsStopped,
    VenueNetworkCut { venue: String },
    GateClockSkewed { gate: String, skew_ms: i64 },
    PaymentProviderTimeout,
    Flood { requests_per_sec: u64 },
}

/// What a fault does to one component's observations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// No heartbeats, no health reports.
    Silent,
    /// Every vantage point's probe fails.
    ProbesFail,
    /// Heartbeats carry a device clock this far off.
    ClockSkew(i64),
    /// Health reports warn (overloaded).
    HealthWarn,
}

impl Fault {
    /// The components it touches in `model` (the demo's naming) and how.
    pub fn effects(&self, model: &Model) -> Vec<(String, Effect)> {
        let one = |id: &str, e| vec![(id.to_string(), e)];
        match self {
            Fault::NodeKilled { node } => one(node, Effect::Silent),
            // The journeys through the lost dependency fail too.
            Fault::PostgresStopped => ["postgres-primary", "postgres-standby", "shop", "accreditation"]
                .iter()
                .map(|id| (id.to_string(), Effect::ProbesFail))
                .collect(),
            Fault::NatsStopped => {
                ["nats", "results", "gate-service"].iter().map(|id| (id.to_string(), Effect::ProbesFail)).collect()
            }
            Fault::VenueNetworkCut { venue } => model
                .components()
                .iter()
                .filter(|c| c.venue.as_deref() == Some(venue))
                .filter_map(|c| match c.kind {
                    Kind::Network => Some((c.id.clone(), Effect::ProbesFail)),
                    k if k.is_device() => Some((c.id.clone(), Effect::Silent)),
                    _ => None,
                })
                .collect(),
            Fault::GateClockSkewed { gate, skew_ms } => one(gate, Effect::ClockSkew(*skew_ms)),
            Fault::PaymentProviderTimeout => one("payment-provider", Effect::ProbesFail),
            Fault::Flood { .. } => one("waiting-room", Effect::HealthWarn),
        }
    }
}

/// A detection the scenario must cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expected {
    pub component: String,
    pub state: State,
    pub within_ms: i64,
}

/// How fast operators should act, from injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Targets {
    pub acknowledge_ms: i64,
    pub resolve_ms: i64,
}

/// One scripted scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scenario {
    pub id: String,
    pub title: String,
    pub fault: Fault,
    pub expected: Vec<Expected>,
    #[serde(default)]
    pub expected_mode: Option<Mode>,
    pub targets: Targets,
}

fn expect(component: &str, state: State, within_ms: i64) -> Expected {
    Expected { component: component.into(), state, within_ms }
}

/// The scenarios of the demo model. Detection bounds follow from its specs: a node heartbeats
/// every 5 s with tolerance 3 (≤ 15 s + the 5 s evaluation period = 20 s); probes run every
/// 5 or 10 s (≤ interval + evaluation); a gate heartbeats every 10 s (≤ 30 s + 5 s).
pub fn catalogue() -> Vec<Scenario> {
    let t = |ack_min: i64, res_min: i64| Targets { acknowledge_ms: ack_min * 60_000, resolve_ms: res_min * 60_000 };
    let s = |id: &str, title: &str, fault, expected, mode, targets| Scenario {
        id: id.into(),
        title: title.into(),
        fault,
        expected,
        expected_mode: mode,
        targets,
    };
    vec![
        s(
            "node-killed",
            "A Tessera node is killed",
            Fault::NodeKilled { node: "tessera-node-2".into() },
            vec![expect("tessera-node-2", State::Down, 20_000), expect("tessera-cluster", State::Degraded, 20_000)],
            None,
            t(5, 30),
        ),
        s(
            "postgres-stopped",
            "PostgreSQL is stopped",
            Fault::PostgresStopped,
            vec![expect("postgres", State::Down, 15_000), expect("shop", State::Unreachable, 25_000)],
            Some(Mode::ShopReadOnly),
            t(5, 30),
        ),
        s(
            "nats-stopped",
            "NATS is stopped",
            Fault::NatsStopped,
            vec![expect("nats", State::Down, 15_000)],
            Some(Mode::ResultsFromLastState),
            t(5, 30),
        ),
        s(
            "venue-network-cut",
            "Stade de France loses its network",
            Fault::VenueNetworkCut { venue: "sdf".into() },
            vec![expect("sdf-network", State::Down, 20_000), expect("sdf-gate-1", State::Unreachable, 40_000)],
            Some(Mode::GatesOfflineFirst),
            t(3, 20),
        ),
        s(
            "gate-clock-skewed",
            "A gate's clock jumps 90 s ahead",
            Fault::GateClockSkewed { gate: "bercy-gate-3".into(), skew_ms: 90_000 },
            vec![expect("bercy-gate-3", State::Degraded, 15_000)],
            None,
            t(10, 60),
        ),
        s(
            "payment-timeout",
            "The payment provider times out",
            Fault::PaymentProviderTimeout,
            vec![expect("payment-provider", State::Down, 25_000), expect("shop", State::Degraded, 25_000)],
            Some(Mode::ShopQueueOnly),
            t(5, 30),
        ),
        s(
            "flood",
            "A flood at the opening of a sale",
            Fault::Flood { requests_per_sec: 200_000 },
            vec![expect("waiting-room", State::Degraded, 15_000)],
            None,
            t(5, 30),
        ),
    ]
}

/// When the TOC first saw a component in a state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detection {
    pub component: String,
    pub state: State,
    pub at_ms: i64,
}

/// What an operator did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "mode", rename_all = "snake_case")]
pub enum OperatorAction {
    Acknowledged,
    SwitchedMode(Mode),
    Resolved,
}

/// An operator action with its time and author.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acted {
    pub at_ms: i64,
    pub who: String,
    pub action: OperatorAction,
}

/// What happened in one run of a scenario.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Run {
    pub injected_at_ms: i64,
    pub detections: Vec<Detection>,
    pub actions: Vec<Acted>,
}

/// Records the first time each component is seen in each state other than up, from
/// successive snapshots (bounded by components × states).
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    first: HashMap<(String, State), i64>,
}

impl Recorder {
    /// Notes the states of one snapshot.
    pub fn record(&mut self, snapshot: &Snapshot) {
        for c in snapshot.components.iter().filter(|c| c.state != State::Up) {
            self.first.entry((c.id.clone(), c.state)).or_insert(snapshot.at_ms);
        }
    }

    /// Every detection, in time order.
    pub fn detections(&self) -> Vec<Detection> {
        let mut v: Vec<Detection> = self
            .first
            .iter()
            .map(|((component, state), &at_ms)| Detection { component: component.clone(), state: *state, at_ms })
            .collect();
        v.sort_by(|a, b| (a.at_ms, &a.component).cmp(&(b.at_ms, &b.component)));
        v
    }
}

/// One expected detection, graded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DetectionScore {
    pub component: String,
    pub state: State,
    pub within_ms: i64,
    /// Time from injection; `None`: missed.
    pub after_ms: Option<i64>,
    pub on_time: bool,
}

/// The grade of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Score {
    pub scenario: String,
    pub detections: Vec<DetectionScore>,
    /// Expected detections that never happened, as `component state`.
    pub missed: Vec<String>,
    /// Until the last expected detection, if all happened.
    pub time_to_detect_ms: Option<i64>,
    pub time_to_acknowledge_ms: Option<i64>,
    pub time_to_mitigate_ms: Option<i64>,
    pub time_to_resolve_ms: Option<i64>,
    /// Out of 100, per the table in the module's documentation.
    pub points: u32,
    pub passed: bool,
}

fn graded(after: Option<i64>, target: i64, full: u32) -> u32 {
    match after {
        Some(t) if t <= target => full,
        Some(t) if t <= target.saturating_mul(2) => full / 2,
        _ => 0,
    }
}

/// Grades `run` against `scenario`.
pub fn score(scenario: &Scenario, run: &Run) -> Score {
    let t0 = run.injected_at_ms;
    let mut detections = Vec::new();
    let mut missed = Vec::new();
    let mut detect_points = 0u32;
    for e in &scenario.expected {
        let after = run
            .detections
            .iter()
            .filter(|d| d.component == e.component && d.state == e.state && d.at_ms >= t0)
            .map(|d| d.at_ms - t0)
            .min();
        let on_time = after.is_some_and(|a| a <= e.within_ms);
        detect_points += match after {
            None => {
                missed.push(format!("{} {:?}", e.component, e.state).to_lowercase());
                0
            }
            Some(_) if on_time => 40,
            Some(_) => 20,
        };
        detections.push(DetectionScore {
            component: e.component.clone(),
            state: e.state,
            within_ms: e.within_ms,
            after_ms: after,
            on_time,
        });
    }
    let detect_points = if scenario.expected.is_empty() { 40 } else { detect_points / scenario.expected.len() as u32 };
    let first = |want: &dyn Fn(&OperatorAction) -> bool| {
        run.actions.iter().filter(|a| a.at_ms >= t0 && want(&a.action)).map(|a| a.at_ms - t0).min()
    };
    let ack = first(&|a| *a == OperatorAction::Acknowledged);
    let resolve = first(&|a| *a == OperatorAction::Resolved);
    let mitigate = scenario.expected_mode.and_then(|m| first(&|a| *a == OperatorAction::SwitchedMode(m)));
    let mitigate_points = match scenario.expected_mode {
        None => 20,
        Some(_) => graded(mitigate, scenario.targets.resolve_ms, 20).max(if mitigate.is_some() { 10 } else { 0 }),
    };
    let points = detect_points
        + graded(ack, scenario.targets.acknowledge_ms, 20)
        + mitigate_points
        + graded(resolve, scenario.targets.resolve_ms, 20);
    let time_to_detect_ms = if missed.is_empty() { detections.iter().filter_map(|d| d.after_ms).max() } else { None };
    Score {
        scenario: scenario.id.clone(),
        passed: missed.is_empty() && points >= PASS_POINTS,
        detections,
        missed,
        time_to_detect_ms,
        time_to_acknowledge_ms: ack,
        time_to_mitigate_ms: mitigate,
        time_to_resolve_ms: resolve,
        points,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acted(at_ms: i64, action: OperatorAction) -> Acted {
        Acted { at_ms, who: "tro".into(), action }
    }

    #[test]
    fn a_perfect_run_a_late_run_and_a_missed_detection() {
        let sc = catalogue().into_iter().find(|s| s.id == "postgres-stopped").unwrap();
        let t0 = 1_000_000;
        let d = |c: &str, s, after| Detection { component: c.into(), state: s, at_ms: t0 + after };
        let mut run = Run {
            injected_at_ms: t0,
            detections: vec![d("postgres", State::Down, 10_000), d("shop", State::Unreachable, 20_000)],
            actions: vec![
                acted(t0 + 120_000, OperatorAction::Acknowledged),
                acted(t0 + 180_000, OperatorAction::SwitchedMode(Mode::ShopReadOnly)),
                acted(t0 + 900_000, OperatorAction::Resolved),
            ],
        };
        let s = score(&sc, &run);
        assert_eq!((s.points, s.passed, s.time_to_detect_ms), (100, true, Some(20_000)));
        assert_eq!((s.time_to_acknowledge_ms, s.time_to_mitigate_ms), (Some(120_000), Some(180_000)));

        // Late detection of the shop (half), acknowledgement late (half), wrong mode (none).
        run.detections[1].at_ms = t0 + 60_000;
        run.actions[0].at_ms = t0 + 8 * 60_000;
        run.actions[1].action = OperatorAction::SwitchedMode(Mode::ShopQueueOnly);
        let s = score(&sc, &run);
        assert_eq!(s.points, 30 + 10 + 20, "detection 30, acknowledge 10, mitigation 0, resolve 20");
        assert!(!s.passed && s.missed.is_empty());

        // A detection before injection does not count: the shop is missed.
        run.detections[1].at_ms = t0 - 1;
        let s = score(&sc, &run);
        assert_eq!(s.missed, ["shop unreachable"]);
        assert_eq!(s.time_to_detect_ms, None);
        assert!(!s.passed);
    }

    #[test]
    fn the_catalogue_covers_every_fault_and_reads_back_from_yaml() {
        let all = catalogue();
        assert_eq!(all.len(), 7);
        let yaml = serde_norway::to_string(&all).unwrap();
        let back: Vec<Scenario> = serde_norway::from_str(&yaml).unwrap();
        assert_eq!(back, all);
        let model = crate::demo::demo();
        for s in &all {
            let effects = s.fault.effects(&model);
            assert!(!effects.is_empty(), "{}", s.id);
            for (id, _) in effects {
                assert!(model.index_of(&id).is_some(), "{} touches unknown {id}", s.id);
            }
            for e in &s.expected {
                assert!(model.index_of(&e.component).is_some(), "{} expects unknown {}", s.id, e.component);
            }
        }
        let cut = Fault::VenueNetworkCut { venue: "sdf".into() }.effects(&model);
        assert_eq!(cut.len(), 1 + 4 + 2 + 2);
    }
}
