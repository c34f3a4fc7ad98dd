//! Synthetic observations, for drills, the demo and benchmarks: what every component of a
//! model reports at one instant when healthy, or under a rehearsal fault's [`Effect`]s, and a
//! large fleet model (10,000 devices) with the function a benchmark times.

use crate::health::HealthStatus;
use crate::model::{Component, HeartbeatSpec, Kind, Model, ModelDoc, ProbeSpec, Venue};
use crate::rehearsal::Effect;
use crate::state::{Engine, Observation};
use std::collections::HashMap;

/// Devices per venue in [`fleet_model`].
pub const DEVICES_PER_VENUE: usize = 100;

/// What every component of `model` reports at `now_ms`: a heartbeat for each heartbeating
/// component, a result from each vantage point of each probed one, a health report from each
/// node, changed by `effects` (component id → effect).
pub fn observations(model: &Model, effects: &HashMap<String, Effect>, now_ms: i64) -> Vec<Observation> {
    let mut out = Vec::new();
    for c in model.components() {
        let effect = effects.get(&c.id).copied();
        if effect == Some(Effect::Silent) {
            continue;
        }
        if c.heartbeat.is_some() {
            let device_ms = match effect {
                Some(Effect::ClockSkew(skew)) => Some(now_ms.saturating_add(skew)),
                _ => Some(now_ms),
            };
            out.push(Observation::Heartbeat { component: c.id.clone(), at_ms: now_ms, device_ms });
        }
        if let Some(p) = &c.probe {
            let ok = effect != Some(Effect::ProbesFail);
            for v in &p.vantage_points {
                out.push(Observation::Probe {
                    component: c.id.clone(),
                    vantage: v.clone(),
                    ok,
                    at_ms: now_ms,
                    detail: (!ok).then(|| "timeout after 5 s".to_string()),
                });
            }
        }
        if c.kind == Kind::Node || effect == Some(Effect::HealthWarn) {
            let status = if effect == Some(Effect::HealthWarn) { HealthStatus::Warn } else { HealthStatus::Pass };
            let output = (status == HealthStatus::Warn).then(|| "admission queue over its soft limit".to_string());
            out.push(Observation::Health { component: c.id.clone(), status, at_ms: now_ms, output });
        }
    }
    out
}

/// A fleet of `devices` devices (gates, desks, result sources in turn) in venues of
/// [`DEVICES_PER_VENUE`], each venue with a network probed from three vantage points.
pub fn fleet_model(devices: usize) -> Model {
    let venues = devices.div_ceil(DEVICES_PER_VENUE).max(1);
    let mut doc = ModelDoc::default();
    for v in 0..venues {
        let venue = format!("v{v}");
        doc.venues.push(Venue { id: venue.clone(), name: format!("Venue {v}") });
        let mut net = Component::new(&format!("{venue}-network"), Kind::Network);
        net.venue = Some(venue.clone());
        net.probe = Some(ProbeSpec {
            vantage_points: vec!["a".into(), "b".into(), "c".into()],
            down_when: 2,
            interval_ms: 10_000,
            max_age_ms: None,
        });
        doc.components.push(net);
        let here = DEVICES_PER_VENUE.min(devices - v * DEVICES_PER_VENUE);
        for d in 0..here {
            let kind = [Kind::Gate, Kind::Desk, Kind::ResultSource][d % 3];
            let mut c = Component::new(&format!("{venue}-d{d}"), kind);
            c.venue = Some(venue.clone());
            c.depends_on = vec![format!("{venue}-network")];
            c.heartbeat = Some(HeartbeatSpec { interval_ms: 10_000, tolerance: 3, max_skew_ms: 5_000 });
            doc.components.push(c);
        }
    }
    Model::new(doc).expect("the fleet model is valid")
}

/// Feeds a batch of observations received at `now_ms`; returns (accepted, refused). This is
/// what `tessera bench toc` times.
pub fn process(engine: &mut Engine, batch: &[Observation], now_ms: i64) -> (usize, usize) {
    let mut accepted = 0;
    for o in batch {
        if engine.observe(o, now_ms).is_ok() {
            accepted += 1;
        }
    }
    (accepted, batch.len() - accepted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::State;

    #[test]
    fn a_healthy_fleet_is_up_and_a_silent_device_goes_down() {
        let model = fleet_model(250);
        assert_eq!(model.components().len(), 250 + 3);
        let mut engine = Engine::new(model.clone(), 0);
        let dead: HashMap<String, Effect> = [("v1-d7".to_string(), Effect::Silent)].into();
        let mut t = 0;
        while t <= 60_000 {
            let effects = if t >= 20_000 { dead.clone() } else { HashMap::new() };
            let batch = observations(&model, &effects, t);
            assert_eq!(process(&mut engine, &batch, t).1, 0);
            t += 10_000;
        }
        let snap = engine.evaluate(60_000);
        assert_eq!(snap.get("v1-d7").unwrap().state, State::Down);
        assert_eq!(snap.counts.get("up"), Some(&252));
    }

    /// Rough throughput, not a benchmark: run with
    /// `cargo test -p tessera-ops --release -- --ignored --nocapture rough_throughput`.
    #[test]
    #[ignore]
    fn rough_throughput() {
        let model = fleet_model(10_000);
        let mut engine = Engine::new(model.clone(), 0);
        let rounds: Vec<Vec<Observation>> =
            (0..30).map(|r| observations(&model, &HashMap::new(), r * 10_000)).collect();
        let n: usize = rounds.iter().map(Vec::len).sum();
        let start = std::time::Instant::now();
        for (r, batch) in rounds.iter().enumerate() {
            process(&mut engine, batch, r as i64 * 10_000);
        }
        let observe = start.elapsed();
        let start = std::time::Instant::now();
        let mut down = 0;
        for r in 0..30 {
            down += engine.evaluate(r * 10_000).counts.get("down").copied().unwrap_or(0);
        }
        let evaluate = start.elapsed() / 30;
        println!(
            "rough: {n} observations in {observe:?} = {:.0} observations/s; evaluate over {} components {evaluate:?} each; down {down}",
            n as f64 / observe.as_secs_f64(),
            model.components().len()
        );
    }
}
