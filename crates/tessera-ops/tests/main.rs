//! The whole pipeline, end to end and still pure: observations → state engine → alerts →
//! notification groups → incidents and escalation, with contingency switches and a rehearsal
//! scored at the end. The TOC evaluates every 5 s; every component reports every 5 s.

use std::collections::HashMap;
use tessera_ops::alerts::{AlertConfig, Alerter, Notification};
use tessera_ops::contingency::{Contingency, Mode};
use tessera_ops::fleet::observations;
use tessera_ops::incidents::{EscalationLevel, EscalationPolicy, IncidentBook, IncidentState};
use tessera_ops::rehearsal::{self, Acted, Effect, OperatorAction, Recorder, Run};
use tessera_ops::state::{Engine, PublicStatus, State};
use tessera_ops::{demo, Model};

const S: i64 = 1_000;
const MIN: i64 = 60 * S;
const PERIOD: i64 = 5 * S;

struct Toc {
    model: Model,
    engine: Engine,
    alerter: Alerter,
    book: IncidentBook,
    contingency: Contingency,
    recorder: Recorder,
    notifications: Vec<Notification>,
    now: i64,
}

impl Toc {
    fn new() -> Toc {
        let model = demo();
        let policy = EscalationPolicy::new(
            vec![
                EscalationLevel { targets: vec!["venue-it-manager".into()], delay_ms: 5 * MIN },
                EscalationLevel { targets: vec!["toc-duty-lead".into()], delay_ms: 10 * MIN },
            ],
            0,
        )
        .unwrap();
        Toc {
            engine: Engine::new(model.clone(), 0),
            model,
            alerter: Alerter::new(AlertConfig::toc_default()).unwrap(),
            book: IncidentBook::new(policy),
            contingency: Contingency::new(),
            recorder: Recorder::default(),
            notifications: Vec::new(),
            now: 0,
        }
    }

    /// Runs every period until `until_ms` with `effects` applied.
    fn run_until(&mut self, until_ms: i64, effects: &HashMap<String, Effect>) {
        while self.now + PERIOD <= until_ms {
            self.now += PERIOD;
            let t = self.now;
            for o in observations(&self.model, effects, t) {
                self.engine.observe(&o, t).unwrap();
            }
            let snap = self.engine.evaluate(t);
            self.recorder.record(&snap);
            assert_eq!(self.alerter.sync(snap.alerts(&self.model), t), 0);
            for n in self.alerter.flush(t) {
                self.book.on_notification(&n);
                self.notifications.push(n);
            }
            self.book.escalate(t);
        }
    }

    fn opened_since(&self, t: i64) -> Vec<&tessera_ops::Incident> {
        self.book.list(false).into_iter().filter(|i| i.opened_ms >= t).collect()
    }
}

fn effects(fault: &rehearsal::Fault, model: &Model) -> HashMap<String, Effect> {
    fault.effects(model).into_iter().collect()
}

#[test]
fn a_cut_venue_raises_one_grouped_incident_not_one_per_device() {
    let mut toc = Toc::new();
    toc.run_until(MIN, &HashMap::new());
    assert!(toc.book.list(false).is_empty(), "a healthy demo raises nothing");
    let cut = effects(&rehearsal::Fault::VenueNetworkCut { venue: "sdf".into() }, &toc.model);
    toc.run_until(5 * MIN, &cut);
    let incidents = toc.opened_since(MIN);
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    let inc = incidents[0];
    assert_eq!((inc.group_key.as_str(), inc.severity), ("{group=\"venue:sdf\"}", tessera_ops::Severity::Sev2));
    let id = inc.id;
    // Devices were inhibited behind the network: the notifications named the network only.
    let told: Vec<&str> =
        toc.notifications.iter().flat_map(|n| n.firing.iter().map(|a| a.label("component"))).collect();
    assert!(told.iter().all(|c| *c == "sdf-network"), "{told:?}");
    let snap = toc.engine.evaluate(toc.now);
    assert_eq!(snap.get("sdf-gate-3").unwrap().state, State::Unreachable);
    assert_eq!(snap.service("venue-entry").unwrap().status, PublicStatus::PartialOutage);
    // The network comes back: the resolution is told once, on the same incident.
    toc.run_until(15 * MIN, &HashMap::new());
    let resolved: usize = toc.notifications.iter().map(|n| n.resolved.len()).sum();
    assert_eq!(resolved, 1);
    assert_eq!(toc.opened_since(MIN).len(), 1);
    assert!(toc
        .book
        .get(id)
        .unwrap()
        .timeline
        .iter()
        .any(|e| e.action == tessera_ops::incidents::Action::AlertsCleared));
}

#[test]
fn every_scenario_is_detected_within_its_bound_and_raises_one_incident() {
    for sc in rehearsal::catalogue() {
        let mut toc = Toc::new();
        toc.run_until(MIN, &HashMap::new());
        let fx = effects(&sc.fault, &toc.model);
        toc.run_until(4 * MIN, &fx);
        let score =
            rehearsal::score(&sc, &Run { injected_at_ms: MIN, detections: toc.recorder.detections(), actions: vec![] });
        assert!(score.missed.is_empty(), "{}: {score:#?}", sc.id);
        assert!(score.detections.iter().all(|d| d.on_time), "{}: {score:#?}", sc.id);
        let opened = toc.opened_since(MIN);
        assert_eq!(opened.len(), 1, "{}: {opened:#?}", sc.id);
        assert!(toc.opened_since(0).len() == 1, "{}: nothing before the fault", sc.id);
    }
}

#[test]
fn a_silent_gate_is_detected_within_interval_times_tolerance_plus_one_period() {
    // Bound: 10 s × 3 + 5 s. The gate dies at each phase of its heartbeat period.
    let bound = 10 * S * 3 + PERIOD;
    for phase in [0, 1, 2, 3, 4] {
        let mut toc = Toc::new();
        let dead_at = MIN + phase * S;
        toc.run_until(dead_at, &HashMap::new());
        toc.run_until(3 * MIN, &[("lille-gate-2".to_string(), Effect::Silent)].into());
        let found = toc
            .recorder
            .detections()
            .into_iter()
            .find(|d| d.component == "lille-gate-2" && d.state == State::Down)
            .expect("detected");
        assert!(found.at_ms - dead_at <= bound, "phase {phase}: {} ms", found.at_ms - dead_at);
        assert_eq!(toc.opened_since(0).len(), 1);
    }
}

#[test]
fn a_scripted_rehearsal_run_is_scored() {
    let sc = rehearsal::catalogue().into_iter().find(|s| s.id == "venue-network-cut").unwrap();
    let mut toc = Toc::new();
    toc.run_until(MIN, &HashMap::new());
    let fx = effects(&sc.fault, &toc.model);
    toc.run_until(2 * MIN, &fx);
    let id = toc.opened_since(MIN)[0].id;
    let mut actions = Vec::new();
    let mut act = |at_ms, action| actions.push(Acted { at_ms, who: "ana".into(), action });
    toc.run_until(3 * MIN, &fx);
    toc.book.acknowledge(id, "ana", toc.now).unwrap();
    act(toc.now, OperatorAction::Acknowledged);
    toc.contingency.switch(Mode::GatesOfflineFirst, true, "ana", "sdf network cut", Some(id), toc.now).unwrap();
    act(toc.now, OperatorAction::SwitchedMode(Mode::GatesOfflineFirst));
    toc.run_until(10 * MIN, &fx);
    toc.run_until(12 * MIN, &HashMap::new());
    toc.contingency.switch(Mode::GatesOfflineFirst, false, "ana", "network back", Some(id), toc.now).unwrap();
    toc.book.resolve(id, "ana", toc.now).unwrap();
    act(toc.now, OperatorAction::Resolved);
    let run = Run { injected_at_ms: MIN, detections: toc.recorder.detections(), actions };
    let s = rehearsal::score(&sc, &run);
    assert_eq!((s.points, s.passed), (100, true), "{s:#?}");
    assert!(s.time_to_detect_ms.unwrap() <= 40 * S);
    assert_eq!((s.time_to_acknowledge_ms, s.time_to_resolve_ms), (Some(2 * MIN), Some(11 * MIN)));
    assert_eq!(toc.book.get(id).unwrap().state, IncidentState::Resolved);
    // The same run without the operators: detection only.
    let idle = rehearsal::score(&sc, &Run { actions: vec![], ..run });
    assert_eq!((idle.points, idle.passed), (40, false));
}

#[test]
fn nobody_acknowledging_escalates_level_by_level_once_through() {
    let mut toc = Toc::new();
    toc.run_until(MIN, &HashMap::new());
    let fx = effects(&rehearsal::Fault::NatsStopped, &toc.model);
    toc.run_until(30 * MIN, &fx);
    let inc = toc.opened_since(MIN)[0];
    let paged: Vec<(i64, &str)> = inc
        .timeline
        .iter()
        .filter_map(|e| match &e.action {
            tessera_ops::incidents::Action::Paged { level, .. } => {
                Some((e.at_ms - inc.opened_ms, ["it", "lead"][*level]))
            }
            _ => None,
        })
        .collect();
    assert_eq!(paged, [(0, "it"), (5 * MIN, "lead")]);
}
