//! `tessera bench toc`: the operations centre watching a fleet of 10,000 devices (100 venues of
//! gates, desks and result sources, each venue's network probed from three vantage points).
//!
//! Three figures:
//!
//! 1. **Heartbeats over HTTP**: a `tessera serve` process with the fleet as its TOC model; every
//!    device posts its own heartbeat with its own key to `/api/v1/toc/observations`, from
//!    `--connections` clients at once, for `--seconds`. Heartbeats accepted per second (the
//!    fleet needs 1,000 a second at a 10 s interval).
//! 2. **Observations through the use case**: the same fleet's heartbeats and probes, in
//!    batches, through `App::toc_observe` on one thread: observations per second, and the
//!    time one evaluation of the 10,300 components takes (the engine evaluates every second).
//! 3. **Detection of dead devices**, in the engine's time: the fleet heartbeats every 10 s
//!    (staggered), the engine ticks every second, `--dead` devices die at random instants;
//!    the time from each one's last heartbeat to its first `down` state, p50, p99 and max,
//!    against the bound of 10 s × 3 + one tick.

use crate::common::{ms, pct};
use anyhow::bail;
use clap::Args;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_app::toc::{Observed, Toc, TocConfig};
use tessera_app::{App, AppConfig, ManualClock};
use tessera_domain::Timestamp;
use tessera_ops::fleet::fleet_model;

#[derive(Args, Clone)]
pub(crate) struct TocArgs {
    /// Devices watched.
    #[arg(long, default_value_t = 10_000)]
    devices: usize,
    /// HTTP clients posting heartbeats at once.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds of HTTP posting.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Devices killed in the detection run.
    #[arg(long, default_value_t = 500)]
    dead: usize,
    /// Timed passes of the in-process figures (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

pub(crate) async fn run(a: TocArgs) -> anyhow::Result<()> {
    if a.devices == 0 || a.connections == 0 || a.seconds == 0 || a.runs == 0 || a.dead > a.devices {
        bail!("--devices, --connections, --seconds and --runs must be at least 1, and --dead at most --devices");
    }
    println!(
        "machine: {} cores; {} devices in {} venues",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        a.devices,
        a.devices.div_ceil(tessera_ops::fleet::DEVICES_PER_VENUE)
    );
    let model = fleet_model(a.devices);
    in_process(&a, &model).await?;
    detection(&a, &model).await?;
    over_http(&a, &model).await?;
    Ok(())
}

fn app_with(
    model: &tessera_ops::Model,
    key: [u8; 32],
    clock: Arc<dyn tessera_app::Clock>,
    dir: &std::path::Path,
) -> anyhow::Result<App> {
    let store = Arc::new(tessera_store_sqlite::SqliteStore::open(
        dir.join("toc.db"),
        tessera_store_sqlite::Durability::Normal,
    )?);
    let payments = Arc::new(tessera_payments::SandboxProvider::new(tessera_payments::SandboxConfig::default()));
    let mut config = AppConfig::new(key, "http://127.0.0.1");
    config.toc = TocConfig {
        model: Arc::new(model.clone()),
        node: "bench".into(),
        store_component: None,
        ..TocConfig::default()
    };
    Ok(App::new(store, payments, clock, config))
}

/// Every device's heartbeat and every network's probes at `now_ms`, by speaker.
fn fleet_round(model: &tessera_ops::Model, now_ms: i64, dead: &HashMap<String, i64>) -> Vec<(String, Vec<Observed>)> {
    let mut by: HashMap<String, Vec<Observed>> = HashMap::new();
    for c in model.components() {
        if c.heartbeat.is_some() && dead.get(&c.id).is_none_or(|&t| now_ms < t) {
            by.entry(c.id.clone()).or_default().push(Observed::Heartbeat {
                component: c.id.clone(),
                at_ms: now_ms,
                device_time_ms: Some(now_ms),
            });
        }
        for v in c.probe.iter().flat_map(|p| p.vantage_points.iter()) {
            by.entry(v.clone()).or_default().push(Observed::Probe {
                component: c.id.clone(),
                vantage: v.clone(),
                ok: true,
                at_ms: now_ms,
                detail: None,
            });
        }
    }
    by.into_iter().collect()
}

async fn in_process(a: &TocArgs, model: &tessera_ops::Model) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let clock = Arc::new(ManualClock::new(Timestamp(1_722_000_000)));
    let app = app_with(model, [7; 32], clock.clone(), dir.path())?;
    let mut rates = Vec::new();
    let mut evaluations = Vec::new();
    for _ in 0..a.runs {
        let rounds: Vec<Vec<(String, Vec<Observed>)>> = (0..10)
            .map(|_| {
                clock.advance(10);
                fleet_round(model, app.now_ms(), &HashMap::new())
            })
            .collect();
        let n: usize = rounds.iter().flatten().map(|(_, b)| b.len()).sum();
        let started = Instant::now();
        for round in rounds {
            for (speaker, batch) in round {
                app.toc_observe(&speaker, batch).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            }
        }
        rates.push(n as f64 / started.elapsed().as_secs_f64());
        for _ in 0..10 {
            let started = Instant::now();
            app.toc_tick(false).await;
            evaluations.push(started.elapsed());
        }
    }
    rates.sort_by(f64::total_cmp);
    let up = app.toc_wall().counts.get("up").copied().unwrap_or(0);
    println!(
        "in process: {:.0} observations/s through App::toc_observe (median of {}); one tick (evaluate {} components, alerts) p50 {:.1} ms, p99 {:.1} ms; {} up",
        rates[rates.len() / 2],
        a.runs,
        model.components().len(),
        ms(pct(&evaluations, 0.5)),
        ms(pct(&evaluations, 0.99)),
        up
    );
    Ok(())
}

async fn detection(a: &TocArgs, model: &tessera_ops::Model) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let start = Timestamp(1_722_000_000);
    let clock = Arc::new(ManualClock::new(start));
    let app = app_with(model, [7; 32], clock.clone(), dir.path())?;
    let devices: Vec<String> =
        model.components().iter().filter(|c| c.heartbeat.is_some()).map(|c| c.id.clone()).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    // Each device heartbeats every 10 s at its own phase (0-9 s); the dead stop after their
    // last heartbeat somewhere between 20 s and 60 s in.
    let phase: HashMap<&str, i64> = devices.iter().map(|d| (d.as_str(), rng.gen_range(0..10))).collect();
    let mut dead: HashMap<String, i64> = HashMap::new();
    while dead.len() < a.dead {
        let d = &devices[rng.gen_range(0..devices.len())];
        dead.insert(d.clone(), rng.gen_range(20..60));
    }
    let mut last_beat: HashMap<String, i64> = HashMap::new();
    let mut found: HashMap<String, i64> = HashMap::new();
    let mut ticks = Vec::new();
    for s in 0..120i64 {
        let now = app.now_ms();
        for d in &devices {
            let beats = (s - phase[d.as_str()]).rem_euclid(10) == 0;
            let alive = dead.get(d).is_none_or(|&t| s < t);
            if beats && alive {
                let hb = vec![Observed::Heartbeat { component: d.clone(), at_ms: now, device_time_ms: Some(now) }];
                app.toc_observe(d, hb).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                last_beat.insert(d.clone(), now);
            }
        }
        if s % 10 == 0 {
            for (speaker, batch) in fleet_round(model, now, &HashMap::new()) {
                if batch.iter().all(|o| matches!(o, Observed::Probe { .. })) {
                    app.toc_observe(&speaker, batch).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                }
            }
        }
        let started = Instant::now();
        app.toc_tick(false).await;
        ticks.push(started.elapsed());
        if let Some(snap) = app.toc.snapshot() {
            for (c, st) in model.components().iter().zip(&snap.components) {
                if st.state == tessera_ops::State::Down && dead.contains_key(&c.id) && !found.contains_key(&c.id) {
                    found.insert(c.id.clone(), now);
                }
            }
        }
        clock.advance(1);
    }
    let mut latencies: Vec<Duration> = Vec::new();
    for d in dead.keys() {
        let (Some(&f), Some(&l)) = (found.get(d), last_beat.get(d)) else { continue };
        latencies.push(Duration::from_millis((f - l).max(0) as u64));
    }
    let missed = dead.len() - latencies.len();
    let false_downs = app
        .toc_wall()
        .components
        .iter()
        .filter(|c| c.state == tessera_ops::State::Down && !dead.contains_key(&c.id))
        .count();
    println!(
        "detection: {} dead devices, {} found; from the last heartbeat to down: p50 {:.1} s, p99 {:.1} s, max {:.1} s (bound 30 s silence + a 1 s tick); {} healthy devices reported down; tick p99 {:.1} ms",
        dead.len(),
        latencies.len(),
        pct(&latencies, 0.5).as_secs_f64(),
        pct(&latencies, 0.99).as_secs_f64(),
        latencies.iter().max().copied().unwrap_or_default().as_secs_f64(),
        false_downs,
        ms(pct(&ticks, 0.99)),
    );
    if missed > 0 || false_downs > 0 {
        bail!("{missed} dead devices not found, {false_downs} healthy ones reported down");
    }
    let incidents = app.toc_wall().incidents_open;
    let venues_hit = dead
        .keys()
        .filter_map(|d| model.component(d).and_then(|c| c.venue.clone()))
        .collect::<std::collections::HashSet<_>>()
        .len();
    println!("detection: {incidents} incidents for {} dead devices in {venues_hit} venues (one per venue)", dead.len());
    Ok(())
}

async fn over_http(a: &TocArgs, model: &tessera_ops::Model) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let model_file = dir.path().join("fleet.yaml");
    std::fs::write(&model_file, serde_norway::to_string(model.doc())?)?;
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    let exe = std::env::current_exe()?;
    let mut cmd = tokio::process::Command::new(&exe);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--edge-per-address", "10000000", "--edge-per-network", "10000000"])
        .arg("--data-dir")
        .arg(dir.path().join("server"))
        .arg("--toc-model")
        .arg(&model_file)
        .env("TESSERA_SECRET_KEY", hex::encode(key))
        .env("TESSERA_LOG", "error");
    let (mut child, base) = crate::common::start_server(cmd).await?;
    // The devices' keys, derived from the shared secret as the server derives them.
    let signer = app_with(model, key, Arc::new(tessera_app::SystemClock), dir.path())?;
    let devices: Arc<Vec<(String, String)>> = Arc::new(
        model
            .components()
            .iter()
            .filter(|c| c.heartbeat.is_some())
            .map(|c| Ok((c.id.clone(), Toc::observer_key(&signer, &c.id).map_err(|e| anyhow::anyhow!("{e}"))?)))
            .collect::<anyhow::Result<_>>()?,
    );
    let http = reqwest::Client::builder().pool_max_idle_per_host(a.connections).build()?;
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let mut workers = Vec::new();
    for w in 0..a.connections {
        let (http, devices, base) = (http.clone(), devices.clone(), base.clone());
        let connections = a.connections;
        workers.push(tokio::spawn(async move {
            let (mut ok, mut failed, mut i) = (0u64, 0u64, w);
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let (id, key) = &devices[i % devices.len()];
                i += connections;
                let started = Instant::now();
                let r = http
                    .post(format!("{base}/api/v1/toc/observations"))
                    .header("Authorization", format!("Observer {id}:{key}"))
                    .json(&serde_json::json!({"observations": [{"type": "heartbeat", "component": id}]}))
                    .send()
                    .await;
                latencies.push(started.elapsed());
                match r {
                    Ok(r) if r.status().is_success() => ok += 1,
                    _ => failed += 1,
                }
            }
            (ok, failed, latencies)
        }));
    }
    let (mut ok, mut failed, mut latencies) = (0, 0, Vec::new());
    for w in workers {
        let (o, f, l) = w.await?;
        ok += o;
        failed += f;
        latencies.extend(l);
    }
    println!(
        "over HTTP: {:.0} heartbeats/s accepted ({} in {} s from {} clients, {} refused or failed); latency p50 {:.1} ms, p99 {:.1} ms; the fleet needs {:.0}/s at a 10 s interval",
        ok as f64 / a.seconds as f64,
        ok,
        a.seconds,
        a.connections,
        failed,
        ms(pct(&latencies, 0.5)),
        ms(pct(&latencies, 0.99)),
        devices.len() as f64 / 10.0
    );
    let _ = child.kill().await;
    Ok(())
}
