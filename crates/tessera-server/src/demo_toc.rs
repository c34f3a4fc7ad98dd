//! The operations centre in the demo: the wall lives from real signals where the demo has the
//! real thing, and from a named simulation where it has not.
//!
//! Real: this node's heartbeat and health, its store probed from it, and three probe agents
//! (`toc-paris`, `toc-barcelona`, `cloud-eu`, run here beside the node, the same code as
//! `tessera toc-probe`) that check the systems over HTTP on the node's own address, walk a
//! synthetic fan's purchase to the payment sandbox's declining card (`fan-journey`, on a phase
//! and an account kept for it), and post their results with their keys through
//! `/api/v1/toc/observations`. Simulated: the three
//! venues' gates, desks, result sources and networks, and nodes 2 and 3 (the demo has one
//! machine); their heartbeats go through the same use case as a real device's. NATS is not
//! run by the demo, so the wall shows it unknown: the TOC says what it cannot see.
//!
//! Two minutes in, the demo operator rehearses "Stade de France loses its network": the
//! incident opens, the operator acknowledges it and switches the gates offline-first, then
//! resolves it and switches back when the rehearsal is over; the run's score is on the wall.

use crate::demo::DEMO_OPERATOR;
use anyhow::Context;
use std::time::Duration;
use tessera_app::toc::probes::{post, round, Check, Target};
use tessera_app::toc::{Mode, Observed, Toc};
use tessera_app::App;
use tessera_domain::Email;

/// The systems the outside probe agents check, and how (the sandbox payment provider and the
/// mail outbox live inside the node: the node's readiness stands for them).
fn outside_checks(base: &str) -> Vec<Check> {
    let http = |component: &str, path: &str| Check {
        component: component.into(),
        target: Target::Http { url: format!("{base}{path}"), status: Some(200) },
    };
    vec![
        http("shop", "/api/v1/sessions?limit=1"),
        http("waiting-room", "/livez"),
        http("soc", "/readyz"),
        http("results", "/api/v1/results/medals"),
        http("accreditation", "/readyz"),
        http("gate-service", "/readyz"),
        http("payment-provider", "/readyz"),
        http("mail", "/readyz"),
    ]
}

/// The synthetic fan's account.
const DEMO_PROBE_FAN: &str = "synthetic-fan@demo.tessera.invalid";

/// The synthetic fan's account and its own phase (a slot open for two days, no waiting room),
/// as a deployment keeps them for its journey probe, and the check that walks them. The
/// account's password is derived from the node's secret like an observer's key, so a restarted
/// demo signs in again without storing it anywhere.
async fn journey_check(app: &App, base: &str) -> anyhow::Result<Check> {
    use tessera_app::toc::journey::{Expect, Journey};
    let password = Toc::observer_key(app, "fan-journey").map_err(|e| anyhow::anyhow!("{e}"))?;
    let email = Email::parse(DEMO_PROBE_FAN).map_err(anyhow::Error::msg)?;
    if app.store.phase("PROBE").await?.is_none() {
        let fan = match app.store.account_by_email(&email).await? {
            Some(a) => a,
            None => app.create_account(DEMO_PROBE_FAN, &password, "Synthetic fan", tessera_store::Role::Fan).await?,
        };
        app.store.mark_email_verified(fan.id).await?;
        let settings = tessera_store::PhaseSettings::default();
        app.create_phase("PROBE", "Synthetic fan's phase (operations centre)", &settings).await?;
        app.open_registration("PROBE").await?;
        let phase = app.phase("PROBE").await?;
        let mut random = [0u8; 6];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut random);
        app.store.enter_lottery(phase.id, fan.id, &tessera_domain::lottery::entry_code(random), app.now()).await?;
        app.close_registration("PROBE").await?;
        app.draw("PROBE", Some(app.now().plus_secs(-60))).await?;
    }
    let session = app.store.list_sessions(&Default::default()).await?.into_iter().next().context("no session")?;
    let detail = app.store.session(&session.code).await?.context("no session detail")?;
    let category = detail.categories.first().context("no category")?;
    let j = Journey {
        base_url: base.to_string(),
        email: DEMO_PROBE_FAN.into(),
        password,
        phase: "PROBE".into(),
        category_id: category.id.0,
        expect: Expect::Declined,
    };
    Ok(Check { component: "fan-journey".into(), target: Target::Journey(j) })
}

pub async fn demo_toc(app: App, addr: std::net::SocketAddr, mut stop: tokio::sync::watch::Receiver<bool>) {
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    let model = app.toc.config().model.clone();
    let devices: Vec<String> = model.components().iter().filter(|c| c.kind.is_device()).map(|c| c.id.clone()).collect();
    let networks: Vec<(String, String)> = model
        .components()
        .iter()
        .filter(|c| c.kind == tessera_ops::Kind::Network)
        .map(|c| (c.id.clone(), format!("{}-4g", c.venue.clone().unwrap_or_default())))
        .collect();
    let mut checks = outside_checks(&base);
    match journey_check(&app, &base).await {
        Ok(j) => checks.push(j),
        Err(e) => tracing::warn!(error = %e, "demo fan journey not set up; the wall shows it unknown"),
    }
    let mut tick = tokio::time::interval(Duration::from_secs(3));
    let mut n: u64 = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let now = app.now_ms();
        // Simulated: every venue device is alive, every venue network answers.
        for d in &devices {
            let hb = vec![Observed::Heartbeat { component: d.clone(), at_ms: now, device_time_ms: Some(now) }];
            let _ = app.toc_observe(d, hb).await;
        }
        if n.is_multiple_of(3) {
            for (net, venue_4g) in &networks {
                for v in ["toc-paris", "toc-barcelona", venue_4g.as_str()] {
                    let p = Observed::Probe {
                        component: net.clone(),
                        vantage: v.into(),
                        ok: true,
                        at_ms: now,
                        detail: None,
                    };
                    let _ = app.toc_observe(v, vec![p]).await;
                }
            }
            // Nodes 2 and 3 (simulated) are alive and see the store as the node's readiness says.
            let ready = client.get(format!("{base}/readyz")).timeout(Duration::from_secs(5)).send().await;
            let ok = ready.is_ok_and(|r| r.status().is_success());
            for node in ["tessera-node-2", "tessera-node-3"] {
                let mut obs = vec![Observed::Heartbeat { component: node.into(), at_ms: now, device_time_ms: None }];
                for db in ["postgres-primary", "postgres-standby"] {
                    obs.push(Observed::Probe {
                        component: db.into(),
                        vantage: node.into(),
                        ok,
                        at_ms: now,
                        detail: None,
                    });
                }
                let _ = app.toc_observe(node, obs.drain(..1).collect()).await;
                let _ = app.toc_observe(node, obs).await;
            }
            // Real: the probe agents check the systems over HTTP and post with their keys.
            for vantage in tessera_ops::demo::OUTSIDE {
                let Ok(key) = Toc::observer_key(&app, vantage) else { continue };
                let results = round(&client, vantage, &checks, app.now_ms()).await;
                if let Err(e) = post(&client, &base, vantage, &key, &results).await {
                    tracing::debug!(error = %e, vantage, "demo probe round not reported");
                }
            }
        }
        n += 1;
        // Beside the simulation, which must go on while the rehearsal runs.
        if n == 40 {
            tokio::spawn(rehearse(app.clone(), stop.clone()));
        }
    }
}

/// The demo operator rehearses a venue's network cut, and answers it as the runbook says.
async fn rehearse(app: App, mut stop: tokio::sync::watch::Receiver<bool>) {
    let Ok(Some(op)) = app.store.account_by_email(&Email::parse(DEMO_OPERATOR).expect("static")).await else {
        return;
    };
    let op = tessera_app::auth::Principal::of_account(&op);
    if let Err(e) = app.toc_rehearse(&op, "venue-network-cut", 90) {
        tracing::warn!(error = %e, "demo rehearsal not started");
        return;
    }
    let mut answered = None;
    for _ in 0..600 {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = stop.changed() => return,
        }
        let wall = app.toc_wall();
        if answered.is_none() {
            if let Some(i) = wall.incidents.iter().find(|i| i.is_open() && i.group_key.contains("sdf")) {
                let _ = app.toc_acknowledge(&op, i.id).await;
                let _ = app
                    .toc_switch(
                        &op,
                        Mode::GatesOfflineFirst,
                        true,
                        "rehearsal: Stade de France network cut",
                        Some(i.id),
                    )
                    .await;
                answered = Some(i.id);
            }
        }
        let Some(r) = &wall.rehearsal else { return };
        // The fault is over and the venue's devices are back: leave the mode, resolve.
        let back = wall
            .components
            .iter()
            .filter(|c| c.venue.as_deref() == Some("sdf"))
            .all(|c| c.state == tessera_ops::State::Up);
        if app.now_ms() >= r.until_ms && back {
            if let Some(id) = answered {
                let _ = app
                    .toc_switch(
                        &op,
                        Mode::GatesOfflineFirst,
                        false,
                        "rehearsal over: the venue network is back",
                        Some(id),
                    )
                    .await;
                let _ = app.toc_resolve(&op, id).await;
            }
            if app.toc_wall().rehearsal.is_some() {
                let _ = app.toc_stop_rehearsal().await;
            }
            return;
        }
    }
}
