use super::*;
use crate::demo::demo;
use crate::fleet::observations;
use crate::rehearsal::Effect;
use std::collections::HashMap;

/// The demo, fed every 5 s from 0 to `until_ms`; `effects` apply from `fault_ms`.
fn drive(effects: &[(&str, Effect)], fault_ms: i64, until_ms: i64) -> Engine {
    let model = demo();
    let mut engine = Engine::new(model.clone(), 0);
    let effects: HashMap<String, Effect> = effects.iter().map(|(k, e)| (k.to_string(), *e)).collect();
    let mut t = 0;
    while t <= until_ms {
        let now = if t >= fault_ms { effects.clone() } else { HashMap::new() };
        for o in observations(&model, &now, t) {
            engine.observe(&o, t).unwrap();
        }
        t += 5_000;
    }
    engine
}

fn state(s: &Snapshot, id: &str) -> State {
    s.get(id).unwrap_or_else(|| panic!("no {id}")).state
}

#[test]
fn a_healthy_demo_is_up_everywhere_and_operational() {
    let snap = drive(&[], 0, 60_000).evaluate(60_000);
    let not_up: Vec<_> = snap.components.iter().filter(|c| c.state != State::Up).collect();
    assert!(not_up.is_empty(), "{not_up:?}");
    assert!(snap.services.iter().all(|s| s.status == PublicStatus::Operational && s.unknown == 0));
    assert!(snap.alerts(&demo()).is_empty());
    assert!(snap.headroom.iter().all(|h| h.headroom >= 1), "{:?}", snap.headroom);
}

#[test]
fn a_cut_venue_network_makes_its_devices_unreachable_behind_one_cause() {
    let cut: Vec<(String, Effect)> = crate::rehearsal::Fault::VenueNetworkCut { venue: "sdf".into() }.effects(&demo());
    let cut: Vec<(&str, Effect)> = cut.iter().map(|(k, e)| (k.as_str(), *e)).collect();
    let engine = drive(&cut, 60_000, 120_000);
    let snap = engine.evaluate(120_000);
    assert_eq!(state(&snap, "sdf-network"), State::Down);
    for id in ["sdf-gate-1", "sdf-gate-4", "sdf-desk-2", "sdf-results-a", "sdf-gates", "sdf-results"] {
        let c = snap.get(id).unwrap();
        assert_eq!((c.state, c.cause.as_deref()), (State::Unreachable, Some("sdf-network")), "{id}: {c:?}");
    }
    assert_eq!(state(&snap, "bercy-gate-1"), State::Up);
    assert_eq!(snap.service("venue-entry").unwrap().status, PublicStatus::PartialOutage);
    // Every alert of the cut names one group and one cause.
    let alerts = snap.alerts(engine.model());
    assert_eq!(alerts.len(), 1 + 10, "{alerts:#?}");
    assert!(alerts.iter().all(|a| a.label("group") == "venue:sdf" && a.label("cause") == "sdf-network"));
    assert_eq!(alerts.iter().filter(|a| a.label("alertname") == "ComponentDown").count(), 1);
    // Before the devices' heartbeat bound runs out, they are still up: no false cause.
    let early = engine.evaluate(60_000 + 20_000);
    assert_eq!(state(&early, "sdf-gate-1"), State::Up);
}

#[test]
fn one_failing_vantage_point_is_not_down_two_are_and_stale_results_are_unknown() {
    let model = demo();
    let mut e = Engine::new(model, 0);
    let probe = |v: &str, ok: bool, at_ms: i64| Observation::Probe {
        component: "nats".into(),
        vantage: v.into(),
        ok,
        at_ms,
        detail: (!ok).then(|| "connection refused".into()),
    };
    assert_eq!(state(&e.evaluate(0), "nats"), State::Unknown);
    e.observe(&probe("tessera-node-1", false, 1_000), 1_000).unwrap();
    e.observe(&probe("tessera-node-2", true, 1_000), 1_000).unwrap();
    e.observe(&probe("tessera-node-3", true, 1_000), 1_000).unwrap();
    let s = e.evaluate(2_000);
    assert_eq!(state(&s, "nats"), State::Up);
    assert_eq!(s.get("nats").unwrap().reason, "1 of 3 vantage points fail (2 needed for down)");
    e.observe(&probe("tessera-node-2", false, 3_000), 3_000).unwrap();
    let s = e.evaluate(4_000);
    assert_eq!(state(&s, "nats"), State::Down);
    assert_eq!(s.get("nats").unwrap().reason, "2 of 3 vantage points fail: connection refused");
    // An older result does not overwrite a newer one.
    e.observe(&probe("tessera-node-2", true, 2_000), 4_000).unwrap();
    assert_eq!(state(&e.evaluate(4_000), "nats"), State::Down);
    // 15 s max age (3 × 5 s): all stale, nothing to say.
    assert_eq!(state(&e.evaluate(19_001), "nats"), State::Unknown);
}

#[test]
fn a_silent_heartbeat_is_down_past_its_bound_even_if_never_heard() {
    let mut e = Engine::new(demo(), 0);
    let hb = |at_ms| Observation::Heartbeat { component: "lille-gate-2".into(), at_ms, device_ms: Some(at_ms) };
    e.observe(&hb(10_000), 10_000).unwrap();
    // Bound: 10 s × 3.
    assert_eq!(state(&e.evaluate(40_000), "lille-gate-2"), State::Up);
    let s = e.evaluate(40_001);
    assert_eq!(state(&s, "lille-gate-2"), State::Down);
    assert_eq!(s.get("lille-gate-2").unwrap().reason, "silent for 30 s (bound 30 s)");
    let never = s.get("lille-gate-3").unwrap();
    assert_eq!(never.state, State::Down, "{never:?}");
    assert!(never.reason.starts_with("never heard from"), "{never:?}");
}

#[test]
fn a_killed_node_leaves_no_headroom_and_that_raises_an_alert_by_itself() {
    let engine = drive(&[("tessera-node-2", Effect::Silent)], 30_000, 60_000);
    let snap = engine.evaluate(60_000);
    assert_eq!(state(&snap, "tessera-node-2"), State::Down);
    assert_eq!(state(&snap, "tessera-cluster"), State::Degraded);
    assert_eq!(state(&snap, "shop"), State::Up);
    let h = snap.headroom.iter().find(|h| h.component == "tessera-cluster").unwrap();
    assert_eq!((h.members, h.up, h.needed, h.headroom, h.exhausted()), (3, 2, 2, 0, true));
    let alerts = snap.alerts(engine.model());
    let names: Vec<(&str, &str, &str)> =
        alerts.iter().map(|a| (a.label("alertname"), a.label("severity"), a.label("group"))).collect();
    assert_eq!(
        names,
        [
            ("ComponentDown", "sev4", "system:tessera-cluster"),
            ("RedundancyExhausted", "sev3", "system:tessera-cluster")
        ]
    );
    // A second node: quorum lost, and everything on the cluster is unreachable behind it.
    let lost = [
        ("tessera-node-2", Effect::Silent),
        ("tessera-node-3", Effect::Silent),
        ("shop", Effect::ProbesFail),
        ("waiting-room", Effect::ProbesFail),
        ("fan-journey", Effect::ProbesFail),
    ];
    let snap = drive(&lost, 30_000, 60_000).evaluate(60_000);
    assert_eq!(state(&snap, "tessera-cluster"), State::Down);
    let shop = snap.get("shop").unwrap();
    assert_eq!((shop.state, shop.cause.as_deref()), (State::Unreachable, Some("tessera-cluster")), "{shop:?}");
    assert_eq!(snap.service("tickets").unwrap().status, PublicStatus::MajorOutage);
    // The cluster's own alert speaks; no separate headroom alert for a group that is down.
    let alerts = snap.alerts(&demo());
    assert!(alerts.iter().all(|a| a.label("alertname") != "RedundancyExhausted"));
    assert!(alerts.iter().all(|a| a.label("group") == "system:tessera-cluster"), "{alerts:#?}");
}

#[test]
fn dependencies_explain_failures_and_degraders_degrade() {
    let engine = drive(
        &[
            ("postgres-primary", Effect::ProbesFail),
            ("postgres-standby", Effect::ProbesFail),
            ("shop", Effect::ProbesFail),
        ],
        30_000,
        60_000,
    );
    let snap = engine.evaluate(60_000);
    assert_eq!(state(&snap, "postgres"), State::Down);
    let shop = snap.get("shop").unwrap();
    assert_eq!((shop.state, shop.cause.as_deref()), (State::Unreachable, Some("postgres")));
    assert_eq!(shop.reason, "behind postgres (quorum lost: 0 of 2 up, 1 needed)");
    assert_eq!(snap.service("tickets").unwrap().status, PublicStatus::PartialOutage);
    let primary = drive(&[("postgres-primary", Effect::ProbesFail)], 30_000, 60_000).evaluate(60_000);
    let pg = primary.get("postgres").unwrap();
    assert_eq!(pg.state, State::Degraded);
    assert!(pg.reason.starts_with("running on standby; postgres-primary not up"), "{pg:?}");
    let pay = drive(&[("payment-provider", Effect::ProbesFail)], 30_000, 60_000).evaluate(60_000);
    assert_eq!(state(&pay, "shop"), State::Degraded);
    assert_eq!(pay.get("shop").unwrap().reason, "without payment-provider (Down)");
    assert_eq!(pay.get("shop").unwrap().cause.as_deref(), Some("payment-provider"));
    let alerts = pay.alerts(&demo());
    assert!(alerts.iter().all(|a| a.label("group") == "system:payment-provider"), "{alerts:#?}");
    assert_eq!(pay.service("tickets").unwrap().status, PublicStatus::Degraded);
}

#[test]
fn maintenance_covers_what_is_behind_it_and_skew_and_health_degrade() {
    let mut engine = drive(&[("bercy-network", Effect::ProbesFail), ("bercy-gate-1", Effect::Silent)], 30_000, 90_000);
    engine.set_maintenance("bercy-network", 20_000, 200_000).unwrap();
    let snap = engine.evaluate(90_000);
    assert_eq!(state(&snap, "bercy-network"), State::Maintenance);
    assert_eq!(state(&snap, "bercy-gate-1"), State::Maintenance);
    assert_eq!(state(&snap, "bercy-gate-2"), State::Up);
    assert!(snap.alerts(engine.model()).iter().all(|a| a.label("venue") != "bercy"));
    engine.clear_maintenance("bercy-network").unwrap();
    assert_eq!(state(&engine.evaluate(90_000), "bercy-gate-1"), State::Unreachable);
    assert_eq!(engine.set_maintenance("bercy-network", 5, 5), Err(ObserveError::BadWindow));

    let snap = drive(&[("sdf-gate-2", Effect::ClockSkew(-90_000)), ("waiting-room", Effect::HealthWarn)], 0, 30_000)
        .evaluate(30_000);
    assert_eq!(snap.get("sdf-gate-2").unwrap().reason, "clock skewed by -90000 ms");
    assert_eq!(state(&snap, "waiting-room"), State::Degraded);
    assert_eq!(snap.service("tickets").unwrap().status, PublicStatus::Degraded);
}

#[test]
fn bad_observations_are_refused() {
    let mut e = Engine::new(demo(), 0);
    let hb = |c: &str, at_ms| Observation::Heartbeat { component: c.into(), at_ms, device_ms: None };
    assert_eq!(e.observe(&hb("ghost", 0), 0), Err(ObserveError::UnknownComponent("ghost".into())));
    assert_eq!(
        e.observe(&hb("sdf-gate-1", MAX_FUTURE_MS + 1), 0),
        Err(ObserveError::FromTheFuture { at_ms: MAX_FUTURE_MS + 1, now_ms: 0 })
    );
    let probe = |c: &str, v: &str| Observation::Probe {
        component: c.into(),
        vantage: v.into(),
        ok: true,
        at_ms: 0,
        detail: None,
    };
    assert_eq!(e.observe(&probe("sdf-gate-1", "toc-paris"), 0), Err(ObserveError::NotProbed("sdf-gate-1".into())));
    assert_eq!(
        e.observe(&probe("nats", "mars"), 0),
        Err(ObserveError::UnknownVantage { component: "nats".into(), vantage: "mars".into() })
    );
    let fail = Observation::Health {
        component: "tessera-node-1".into(),
        status: HealthStatus::Fail,
        at_ms: 0,
        output: Some("disk full".into()),
    };
    e.observe(&fail, 0).unwrap();
    let s = e.evaluate(1_000);
    assert_eq!(
        (state(&s, "tessera-node-1"), s.get("tessera-node-1").unwrap().reason.as_str()),
        (State::Down, "health fail: disk full")
    );
}

proptest::proptest! {
    #[test]
    fn arbitrary_observations_never_panic_and_every_component_gets_a_state(
        ops in proptest::collection::vec((0usize..60, 0usize..5, proptest::bool::ANY, -100_000i64..400_000, 0u8..3), 0..200),
        now in -10_000i64..500_000,
    ) {
        let model = demo();
        let ids: Vec<String> = model.components().iter().map(|c| c.id.clone()).chain(["ghost".to_string()]).collect();
        let vantage = ["toc-paris", "cloud-eu", "tessera-node-2", "sdf-4g", "x"];
        let mut e = Engine::new(model.clone(), 0);
        for (c, v, ok, at, kind) in ops {
            let component = ids[c % ids.len()].clone();
            let o = match kind {
                0 => Observation::Heartbeat { component, at_ms: at, device_ms: Some(at.wrapping_mul(3)) },
                1 => Observation::Probe { component, vantage: vantage[v].into(), ok, at_ms: at, detail: Some("é\n".repeat(300)) },
                _ => Observation::Health { component, status: if ok { HealthStatus::Pass } else { HealthStatus::Fail }, at_ms: at, output: None },
            };
            let _ = e.observe(&o, now);
        }
        let snap = e.evaluate(now);
        proptest::prop_assert_eq!(snap.components.len(), model.components().len());
        proptest::prop_assert!(snap.components.iter().all(|c| c.reason.chars().count() < 600));
        for c in snap.components.iter().filter(|c| c.state == State::Unreachable) {
            let cause = c.cause.as_deref().and_then(|id| snap.get(id)).map(|c| c.state);
            proptest::prop_assert!(cause.is_some_and(State::is_out), "{:?} -> {:?}", c, cause);
        }
        let mut alerter = crate::alerts::Alerter::new(crate::alerts::AlertConfig::toc_default()).unwrap();
        proptest::prop_assert_eq!(alerter.sync(snap.alerts(&model), now), 0);
        let _ = alerter.flush(now + 30_000);
    }
}
