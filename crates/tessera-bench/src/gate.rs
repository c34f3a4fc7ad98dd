//! `tessera bench gate`: the three figures of a gate.
//!
//! 1. **Verifications per second per core**: `Engine::decide` on scanner lines of distinct
//!    tickets, each a full check (Base45, the issuer's Ed25519 signature, the phone's P-256
//!    signature, time, session, entrance, revocation, entries), on one thread and then on every
//!    core.
//! 2. **Decision time with its durable record**: `Device::scan` on a log with
//!    `synchronous=FULL` in `--data-dir` (on the disk, not in memory): decide, append, fsync,
//!    answer. p50, p99 and max over `--scans` admissions.
//! 3. **Central sync throughput**: a real central server (embedded SQLite with full durability,
//!    or PostgreSQL) receives batches of scans from `--gates` concurrent gates over HTTP,
//!    exactly as the agents send them, and records them (entries, double-entry checks, feed).

use anyhow::{bail, Context};
use clap::Args;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_gate::device::Device;
use tessera_gate::fixture::GateFixture;

#[derive(Args, Clone)]
pub struct GateArgs {
    /// Seconds per verification run.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Admissions recorded per durable-decision run.
    #[arg(long, default_value_t = 2_000)]
    scans: usize,
    /// Scans sent to the central system per sync run.
    #[arg(long, default_value_t = 200_000)]
    sync_scans: usize,
    /// Concurrent gates syncing.
    #[arg(long, default_value_t = 8)]
    gates: usize,
    /// Scans per sync request (the agent sends up to 1,000).
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// Where the gate's decision log and the central store go (a directory on the disk).
    #[arg(long, default_value = ".")]
    data_dir: std::path::PathBuf,
    /// `postgres://...` for the central store; default: embedded SQLite.
    #[arg(long, env = "TESSERA_BENCH_DATABASE_URL")]
    database_url: Option<String>,
    /// Skip parts: any of `verify`, `durable`, `sync`.
    #[arg(long, value_delimiter = ',')]
    skip: Vec<String>,
}

pub async fn run(a: GateArgs) -> anyhow::Result<()> {
    if !(a.seconds > 0.0 && a.seconds <= 600.0 && (1..=20).contains(&a.runs)) {
        bail!("--seconds must be in (0, 600] and --runs 1 to 20");
    }
    if !(1..=100_000).contains(&a.scans) || !(1..=5_000_000).contains(&a.sync_scans) {
        bail!("--scans must be 1 to 100,000 and --sync-scans 1 to 5,000,000");
    }
    if !(1..=256).contains(&a.gates) || !(1..=tessera_app::gates::MAX_SYNC_BATCH).contains(&a.batch) {
        bail!("--gates must be 1 to 256 and --batch 1 to {}", tessera_app::gates::MAX_SYNC_BATCH);
    }
    println!("bench gate: {} cores", std::thread::available_parallelism().map_or(1, |n| n.get()));
    if !a.skip.iter().any(|s| s == "verify") {
        let b = a.clone();
        tokio::task::spawn_blocking(move || verify(&b)).await??;
    }
    if !a.skip.iter().any(|s| s == "durable") {
        let b = a.clone();
        tokio::task::spawn_blocking(move || durable(&b)).await??;
    }
    if !a.skip.iter().any(|s| s == "sync") {
        sync(&a).await?;
    }
    Ok(())
}

const TICKETS: i64 = 20_000;

fn verify(a: &GateArgs) -> anyhow::Result<()> {
    let fx = GateFixture::new(7);
    print!("verify: making {TICKETS} codes of distinct tickets and phones... ");
    let lines: Vec<Vec<u8>> = (1..=TICKETS).map(|t| fx.line(t, 1, t as u64, fx.now)).collect();
    println!("done");
    let engine = Arc::new(fx.engine("BENCH"));
    let now_ms = fx.now_ms();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    for workers in [1, threads] {
        let mut rates = Vec::new();
        for run in 1..=a.runs {
            let start = Instant::now();
            let counts: Vec<usize> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..workers)
                    .map(|w| {
                        let (engine, lines) = (&engine, &lines);
                        s.spawn(move || {
                            let mut n = 0usize;
                            let mut i = w * (lines.len() / workers);
                            while start.elapsed().as_secs_f64() < a.seconds {
                                let d = engine.decide(&lines[i % lines.len()], now_ms);
                                // Every decision must be an admission: a refused genuine code would
                                // mean the bench measures a shortcut.
                                assert!(d.admitted(), "a genuine code was refused: {}", d.reason);
                                n += 1;
                                i += 1;
                            }
                            n
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().expect("worker")).collect()
            });
            let total: usize = counts.iter().sum();
            let rate = total as f64 / start.elapsed().as_secs_f64();
            println!(
                "verify run {run}: {workers} thread(s), {total} decisions, {rate:.0}/s in all, {:.0}/s per core",
                rate / workers as f64
            );
            rates.push(rate / workers as f64);
        }
        rates.sort_by(f64::total_cmp);
        println!(
            "verify median ({workers} thread(s)): {:.0} verifications per second per core",
            rates[rates.len() / 2]
        );
    }
    Ok(())
}

fn durable(a: &GateArgs) -> anyhow::Result<()> {
    let fx = GateFixture::new(11);
    let scans = a.scans as i64;
    let lines: Vec<Vec<u8>> = (1..=scans).map(|t| fx.line(t, 1, t as u64, fx.now)).collect();
    std::fs::create_dir_all(&a.data_dir)?;
    let mut p99s = Vec::new();
    for run in 1..=a.runs {
        let dir = tempfile::Builder::new().prefix("tessera-bench-gate-").tempdir_in(&a.data_dir)?;
        let mut device = Device::enroll(
            dir.path().join("gate.db"),
            fx.config("BENCH"),
            fx.trust.clone(),
            &fx.signed_bundle(),
            fx.now,
        )
        .map_err(|e| anyhow::anyhow!("enrol: {e}"))?;
        let mut lat = Vec::with_capacity(lines.len());
        let started = Instant::now();
        for (i, line) in lines.iter().enumerate() {
            let t = Instant::now();
            let d = device.scan(line, fx.now_ms() + i as i64).map_err(|e| anyhow::anyhow!("scan: {e}"))?;
            lat.push(t.elapsed());
            if !d.admitted() {
                bail!("a genuine code was refused: {}", d.reason);
            }
        }
        let total = started.elapsed();
        // A second scan of each is refused from the log-backed entry set: the record is real.
        let again = device.scan(&lines[0], fx.now_ms() + scans).map_err(|e| anyhow::anyhow!("scan: {e}"))?;
        if again.reason != tessera_gate::engine::ALREADY_USED {
            bail!("a second entry was not refused: {}", again.reason);
        }
        lat.sort();
        let p = |q: f64| lat[((lat.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0;
        println!(
            "durable run {run}: {} admissions in {:.2} s; decision with fsync'd record: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            lat.len(),
            total.as_secs_f64(),
            p(0.5),
            p(0.99),
            lat.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        );
        p99s.push(p(0.99));
    }
    p99s.sort_by(f64::total_cmp);
    println!("durable median p99: {:.2} ms (target: under 20 ms)", p99s[p99s.len() / 2]);
    Ok(())
}

async fn sync(a: &GateArgs) -> anyhow::Result<()> {
    let mut rates = Vec::new();
    for run in 1..=a.runs {
        let dir = tempfile::Builder::new().prefix("tessera-bench-central-").tempdir_in(&a.data_dir)?;
        let store: Arc<dyn tessera_store::Store> = match &a.database_url {
            Some(url) => {
                let schema = format!("bench_gate_{}", tessera_app::random_hex(4));
                Arc::new(
                    tessera_store_postgres::PgStore::connect_with_schema(url, &schema).await.context("PostgreSQL")?,
                )
            }
            None => Arc::new(tessera_store_sqlite::SqliteStore::open(
                dir.path().join("tessera.db"),
                tessera_store_sqlite::Durability::Full,
            )?),
        };
        let app = tessera_app::App::new(
            store,
            Arc::new(tessera_payments::SandboxProvider::new(Default::default())),
            Arc::new(tessera_app::SystemClock),
            tessera_app::AppConfig::new([3; 32], "http://bench.invalid"),
        );
        let (venue, session, _, _) = app.live_venue(3600).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let state = tessera_http::AppState::new(app.clone(), false, None);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(tessera_http::serve::serve_with(
            listener,
            state,
            crate::common::bench_serve_limits(),
            async move {
                let _ = stop_rx.await;
            },
        ));
        let per_gate = a.sync_scans / a.gates;
        let mut tokens = Vec::new();
        for g in 0..a.gates {
            tokens.push(app.enroll_gate(&format!("B{g}"), &venue, "", 3600).await?);
        }
        let http = reqwest::Client::builder().pool_max_idle_per_host(a.gates).build()?;
        let now_ms = app.now_ms();
        let start = Instant::now();
        let mut tasks = Vec::new();
        for (g, token) in tokens.into_iter().enumerate() {
            let (http, base, batch, session) = (http.clone(), base.clone(), a.batch, session.clone());
            tasks.push(tokio::spawn(async move {
                let mut sent = 0usize;
                let mut doubles = 0usize;
                while sent < per_gate {
                    let n = batch.min(per_gate - sent);
                    // Distinct tickets per gate, except every 100th, which another gate admitted
                    // too: the double-entry path is measured as well.
                    let scans: Vec<serde_json::Value> = (0..n)
                        .map(|i| {
                            let k = sent + i;
                            let ticket = if k.is_multiple_of(100) { 1 + k as i64 } else { 1 + (g * per_gate + k) as i64 };
                            serde_json::json!({"gate_id": format!("B{g}"), "device_seq": k + 1, "ticket_id": ticket, "serial": 1,
                                "session_code": session, "entrance": "Gate-A", "admitted": true, "reason": "valid",
                                "at_ms": now_ms + k as i64})
                        })
                        .collect();
                    let r = http
                        .post(format!("{base}/api/v1/gate/sync"))
                        .bearer_auth(&token)
                        .json(&serde_json::json!({"scans": scans, "after_seq": i64::MAX - 1}))
                        .send()
                        .await?;
                    if !r.status().is_success() {
                        bail!("sync refused: {} {}", r.status(), r.text().await.unwrap_or_default());
                    }
                    let v: serde_json::Value = r.json().await?;
                    if v["recorded"].as_u64() != Some(n as u64) {
                        bail!("the central system recorded {} of {n}", v["recorded"]);
                    }
                    doubles += v["double_entries"].as_array().map_or(0, |d| d.len());
                    sent += n;
                }
                anyhow::Ok((sent, doubles))
            }));
        }
        let mut total = 0usize;
        let mut doubles = 0usize;
        for t in tasks {
            let (s, d) = t.await??;
            total += s;
            doubles += d;
        }
        let elapsed = start.elapsed();
        let rate = total as f64 / elapsed.as_secs_f64();
        println!(
            "sync run {run}: {} store, {} gates x {per_gate} scans in batches of {}: {total} recorded in {:.2} s, {rate:.0} scans/s ({doubles} double entries found)",
            app.store.backend(),
            a.gates,
            a.batch,
            elapsed.as_secs_f64()
        );
        rates.push(rate);
        let _ = stop_tx.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    }
    rates.sort_by(f64::total_cmp);
    println!("sync median: {:.0} scans per second (target: at least 10,000)", rates[rates.len() / 2]);
    Ok(())
}
