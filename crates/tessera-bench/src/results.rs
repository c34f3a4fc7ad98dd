//! `tessera bench results`: a `tessera serve` process, thousands of WebSocket subscribers on
//! the results feed, a venue source publishing; publish to receipt measured on the
//! subscribers' side, the server's memory per connection, and a reconnect storm (every
//! subscriber drops and comes back at once with its position while the source goes on) checked
//! for gaps and duplicates.
//!
//! The server is a separate process so that its memory is its own: the subscribers' side
//! (this process) is not in the figure. Each subscriber connects from its own loopback
//! address in 127.1.0.0/16 (the edge allows 64 connections per address), and the server's file
//! descriptor limit is raised to the hard limit with `ulimit -n` in the shell that starts it;
//! this process's own limit must allow the clients (it says how when it does not).

use crate::common::{ms, pct};
use anyhow::{bail, Context};
use clap::Args;
use futures_util::StreamExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

#[derive(Args)]
pub struct ResultsArgs {
    /// WebSocket subscribers.
    #[arg(long, default_value_t = 10_000)]
    subscribers: usize,
    /// Changes published while every subscriber listens.
    #[arg(long, default_value_t = 100)]
    changes: u64,
    /// Changes a second from the source.
    #[arg(long, default_value_t = 10)]
    rate: u64,
    /// Changes published during the reconnect storm.
    #[arg(long, default_value_t = 20)]
    storm_changes: u64,
}

/// What one subscriber saw.
#[derive(Default)]
struct Seen {
    latencies_us: Vec<u32>,
    gaps: u64,
    duplicates: u64,
    resets_after_storm: u64,
    cut: bool,
}

fn now_us() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// The server's resident memory, KiB (`VmRSS` of its process).
fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// The soft limit on open files of this process.
fn open_files_limit() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = s.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

pub async fn run(a: ResultsArgs) -> anyhow::Result<()> {
    let need = a.subscribers as u64 + 512;
    match open_files_limit() {
        Some(n) if n >= need => {}
        n => bail!(
            "this process may open {} files and the subscribers need {need}: run it as `sh -c 'ulimit -n \"$(ulimit -Hn)\" && tessera bench results ...'` (the hard limit must allow {need})",
            n.map_or("an unknown number of".to_string(), |n| n.to_string()),
        ),
    }
    println!(
        "machine: {} cores; {} subscribers, {} changes at {}/s, then a reconnect storm with {} more",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        a.subscribers,
        a.changes,
        a.rate,
        a.storm_changes
    );
    // The server, its own process; a key shared with this process, which signs the source's key.
    let dir = tempfile::tempdir()?;
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    let exe = std::env::current_exe()?;
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(r#"ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" serve --listen 127.0.0.1:0 --data-dir "$1" --edge-per-address 10000000 --edge-per-network 10000000"#)
        .arg(&exe)
        .arg(dir.path().join("server"))
        .env("TESSERA_SECRET_KEY", hex::encode(key))
        .env("TESSERA_LOG", "error");
    let (mut child, base) = crate::common::start_server(cmd).await?;
    let pid = child.id().context("the server's pid")?;
    let source_key = {
        let store = Arc::new(tessera_store_sqlite::SqliteStore::open(
            dir.path().join("signer.db"),
            tessera_store_sqlite::Durability::Normal,
        )?);
        let payments = Arc::new(tessera_payments::SandboxProvider::new(tessera_payments::SandboxConfig::default()));
        let signer = tessera_app::App::new(
            store,
            payments,
            Arc::new(tessera_app::SystemClock),
            tessera_app::AppConfig::new(key, "http://127.0.0.1"),
        );
        signer.issue_results_source("BENCH1", &["ATH".to_string()])?.0
    };
    let http = reqwest::Client::new();
    let publish = |version: u64| {
        let doc = serde_json::json!({
            "competition": "OG2024", "document_code": format!("ATHM100M----------FNL-{:06}--", version % 8),
            "document_type": "DT_RESULT", "version": version, "result_status": "LIVE", "feed_flag": "P",
            "date": "2024-08-04", "time": "213000000", "logical_date": "2024-08-04", "source": "BENCH1",
            "body": {"sent_us": now_us()},
        });
        http.post(format!("{base}/api/v1/results/documents"))
            .header("X-API-KEY", &source_key)
            .header("Content-Type", "application/json")
            .body(doc.to_string())
            .send()
    };
    let before_kib = rss_kib(pid).context("the server's memory")?;

    // Subscribers: connected, each waits for its catch-up to end, then counts changes.
    let ws_base = base.replace("http://", "ws://");
    let ready = Arc::new(AtomicUsize::new(0));
    let reached = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let (storm_tx, storm_rx) = tokio::sync::watch::channel(false);
    let total = a.changes + a.storm_changes;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let connecting = Arc::new(tokio::sync::Semaphore::new(256));
    for i in 0..a.subscribers {
        let (ws_base, ready, reached, done, connecting) =
            (ws_base.clone(), ready.clone(), reached.clone(), done.clone(), connecting.clone());
        let mut storm = storm_rx.clone();
        let changes = a.changes;
        tasks.spawn(async move {
            // 30 a loopback address: the edge allows 64 connections per address, and in the
            // storm an old connection may not be gone yet when its successor arrives.
            let from = std::net::Ipv4Addr::new(127, 1, (i / 30 / 250) as u8, (i / 30 % 250) as u8 + 1);
            let permit = connecting.acquire_owned().await;
            let mut ws = connect(&ws_base, from, None).await?;
            let mut seen = Seen::default();
            let mut last: Option<(u64, u64)>;
            let mut count = 0u64;
            // The catch-up: retry, reset, (no state yet), position.
            loop {
                let m = next(&mut ws).await?;
                if m.0 == "position" {
                    last = parse_id(&m.1);
                    break;
                }
            }
            drop(permit);
            ready.fetch_add(1, Ordering::Relaxed);
            let mut stormed = false;
            while count < total {
                let (event, id, text) = tokio::select! {
                    m = next(&mut ws) => m?,
                    _ = async { let _ = storm.wait_for(|s| *s).await; }, if count >= changes && !stormed => {
                        // Everyone drops at once and comes back with its position.
                        stormed = true;
                        let _ = ws.close(None).await;
                        let since = last.map(|(e, s)| format!("{e}:{s}"));
                        ws = connect(&ws_base, from, since).await?;
                        continue;
                    }
                };
                match event.as_str() {
                    "change" => {
                        let Some((e, s)) = parse_id(&id) else { continue };
                        match last {
                            Some((le, ls)) if le == e && s <= ls => seen.duplicates += 1,
                            Some((le, ls)) if le == e && s > ls + 1 => seen.gaps += s - ls - 1,
                            _ => {}
                        }
                        last = Some((e, s));
                        count += 1;
                        // Publish to receipt while listening; after the storm a change may
                        // have waited for the reconnection, which the storm's figure measures.
                        if let (false, Some(sent)) = (stormed, sent_us(&text)) {
                            seen.latencies_us.push(now_us().saturating_sub(sent).min(u32::MAX as u64) as u32);
                        }
                        if count == changes {
                            reached.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    "reset" if stormed => seen.resets_after_storm += 1,
                    "cut" => {
                        seen.cut = true;
                        break;
                    }
                    _ => {}
                }
            }
            done.fetch_add(1, Ordering::Relaxed);
            anyhow::Ok(seen)
        });
    }
    wait_for(&ready, a.subscribers, Duration::from_secs(300), "subscribers connected").await?;
    let connect_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after_kib = rss_kib(pid).context("the server's memory")?;
    let per_conn_kib = (after_kib.saturating_sub(before_kib)) as f64 / a.subscribers as f64;
    println!(
        "connected: {} subscribers in {connect_secs:.1} s; server RSS {:.1} MiB before, {:.1} MiB after: {per_conn_kib:.2} KiB per connection",
        a.subscribers,
        before_kib as f64 / 1024.0,
        after_kib as f64 / 1024.0
    );

    // The source publishes while everyone listens.
    let gap = Duration::from_micros(1_000_000 / a.rate.max(1));
    let publishing = Instant::now();
    for v in 1..=a.changes {
        let r = publish(v).await?;
        if !r.status().is_success() {
            bail!("publishing version {v}: {} {}", r.status(), r.text().await.unwrap_or_default());
        }
        tokio::time::sleep(gap).await;
    }
    wait_for(&reached, a.subscribers, Duration::from_secs(60), "subscribers that received every change").await?;
    let live_secs = publishing.elapsed().as_secs_f64();

    // The storm: every subscriber drops and reconnects at once; the source goes on.
    let storm = Instant::now();
    storm_tx.send_replace(true);
    for v in a.changes + 1..=total {
        let r = publish(v).await?;
        if !r.status().is_success() {
            bail!("publishing version {v} in the storm: {}", r.status());
        }
        tokio::time::sleep(gap).await;
    }
    wait_for(&done, a.subscribers, Duration::from_secs(120), "subscribers caught up after the storm").await?;
    let storm_secs = storm.elapsed().as_secs_f64();

    let mut latencies = Vec::new();
    let (mut gaps, mut dups, mut resets, mut cut) = (0, 0, 0, 0);
    while let Some(r) = tasks.join_next().await {
        let seen = r??;
        latencies.extend(seen.latencies_us.iter().map(|u| Duration::from_micros(*u as u64)));
        gaps += seen.gaps;
        dups += seen.duplicates;
        resets += seen.resets_after_storm;
        cut += usize::from(seen.cut);
    }
    let delivered = latencies.len();
    println!(
        "live: {} changes to {} subscribers: {delivered} deliveries in {live_secs:.1} s ({:.0} deliveries/s); publish to receipt p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        a.changes,
        a.subscribers,
        delivered as f64 / live_secs,
        ms(pct(&latencies, 0.50)),
        ms(pct(&latencies, 0.99)),
        ms(pct(&latencies, 1.0)),
    );
    println!(
        "storm: all {} reconnected with their position and caught up in {storm_secs:.1} s while {} changes were published; gaps {gaps}, duplicates {dups}, resets {resets}, cut off {cut}",
        a.subscribers, a.storm_changes
    );
    let _ = child.kill().await;
    if gaps > 0 || dups > 0 || cut > 0 {
        bail!("a subscriber missed, repeated or lost changes");
    }
    println!("checks: no gap, no duplicate, nobody cut off: PASSED");
    Ok(())
}

async fn wait_for(n: &AtomicUsize, want: usize, within: Duration, what: &str) -> anyhow::Result<()> {
    let until = Instant::now() + within;
    while n.load(Ordering::Relaxed) < want {
        if Instant::now() > until {
            bail!("{what}: {} of {want} after {} s", n.load(Ordering::Relaxed), within.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn connect(ws_base: &str, from: std::net::Ipv4Addr, since: Option<String>) -> anyhow::Result<Ws> {
    let url = format!(
        "{ws_base}/api/v1/results/socket?types=DT_RESULT{}",
        since.map(|s| format!("&since={s}")).unwrap_or_default()
    );
    let addr: std::net::SocketAddr = ws_base.trim_start_matches("ws://").parse()?;
    for attempt in 0..20 {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(std::net::SocketAddr::from((from, 0)))?;
        match socket.connect(addr).await {
            Ok(stream) => match tokio_tungstenite::client_async(url.as_str(), stream).await {
                Ok((ws, _)) => return Ok(ws),
                Err(e) if attempt < 19 => tracing::debug!(error = %e, "handshake; again"),
                Err(e) => return Err(e.into()),
            },
            Err(e) if attempt < 19 => tracing::debug!(error = %e, "connect; again"),
            Err(e) => return Err(e.into()),
        }
        // The backoff with jitter the feed advises.
        tokio::time::sleep(Duration::from_millis(50 + rand::random::<u64>() % 200)).await;
    }
    bail!("no connection after 20 attempts")
}

/// The next message: (event, id, the whole text).
async fn next(ws: &mut Ws) -> anyhow::Result<(String, String, String)> {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(60), ws.next()).await.context("a minute without a message")?;
        match m {
            Some(Ok(Message::Text(t))) => {
                // `{"event":"...","id":"...",...}`: read by position rather than parsed
                // whole, so that the subscribers' side does not weigh on the figures.
                let field = |name: &str| -> String {
                    let key = format!("\"{name}\":\"");
                    t.find(&key)
                        .map(|at| t[at + key.len()..].chars().take_while(|c| *c != '"').collect())
                        .unwrap_or_default()
                };
                return Ok((field("event"), field("id"), t.to_string()));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => bail!("the server closed the connection"),
        }
    }
}

fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (e, s) = id.split_once(':')?;
    Some((e.parse().ok()?, s.parse().ok()?))
}

fn sent_us(text: &str) -> Option<u64> {
    let at = text.find("\"sent_us\":")? + "\"sent_us\":".len();
    let digits: String = text[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}
