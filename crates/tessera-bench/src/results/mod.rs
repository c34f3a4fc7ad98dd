//! `tessera bench results`: a `tessera serve` process, thousands of subscribers on the results
//! feed (WebSocket, and server-sent events for a share with `--sse`), a venue source
//! publishing; publish to receipt measured on the subscribers' side, the server's memory per
//! connection, and a reconnect storm (every subscriber drops and comes back at once with its
//! position while the source goes on) checked for gaps and duplicates.
//!
//! The server is a separate process so that its memory is its own: the subscribers' side
//! (this process) is not in the figure. Each subscriber connects from its own loopback
//! address in 127.1.0.0/16 (the edge allows 64 connections per address), and the server's file
//! descriptor limit is raised to the hard limit with `ulimit -n` in the shell that starts it;
//! this process's own limit must allow the clients (it says how when it does not).
//!
//! The subscribers share the machine with the server they measure, so each is read by hand
//! ([`Sub`]): an HTTP request, then the server's WebSocket frames (or event-stream chunks)
//! scanned in place in one buffer for the three fields the bench checks (event, position, the
//! source's send time). No allocation, copy or JSON parse per message: what a browser spends
//! on its own machine is not taken from the server's cores here. For the same reason their
//! threads run under `SCHED_IDLE` (unless `--contend`), and a change's receipt is its arrival
//! at the subscriber's socket, the kernel's receive time-stamp (`SO_TIMESTAMPNS`), whenever
//! the process reads it; the reading time is printed beside it.
//!
//! With `--peer nats` the same subscribers and source measure a NATS server instead
//! ([`nats`] says why that peer); `peers/results/run.sh` alternates the two in one sitting.

mod nats;
mod source;
mod sub;

use crate::common::{ms, pct};
use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use source::Source;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use sub::{Event, Feed, Sub};

#[derive(Args)]
pub struct ResultsArgs {
    /// Subscribers, WebSocket unless `--sse` says otherwise.
    #[arg(long, default_value_t = 10_000)]
    subscribers: usize,
    /// How many of the subscribers follow the server-sent events stream instead.
    #[arg(long, default_value_t = 0)]
    sse: usize,
    /// Changes published while every subscriber listens.
    #[arg(long, default_value_t = 100)]
    changes: u64,
    /// Changes a second from the source.
    #[arg(long, default_value_t = 10)]
    rate: u64,
    /// Changes published during the reconnect storm.
    #[arg(long, default_value_t = 20)]
    storm_changes: u64,
    /// Run the subscribers at the server's priority, competing with it for the cores, instead
    /// of at the lowest (`SCHED_IDLE`), which leaves the cores to the server as subscribers on
    /// machines of their own would.
    #[arg(long)]
    contend: bool,
    /// Measure a peer instead of Tessera, with the same subscribers and source: `nats`, a NATS
    /// server's WebSocket listener (see `nats.rs` for why that peer). No reconnect storm: the
    /// peer keeps no position to come back to.
    #[arg(long, value_enum)]
    peer: Option<Peer>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Peer {
    Nats,
}

/// What one subscriber saw.
#[derive(Default)]
struct Seen {
    sse: bool,
    /// Publish to the change's arrival at the subscriber's socket (the kernel's time-stamp).
    latencies_us: Vec<u32>,
    /// Publish to the subscriber process reading it whole.
    read_latencies_us: Vec<u32>,
    /// Changes read without the kernel's time-stamp.
    unstamped: u64,
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

/// CPU time a process has used, user and system, seconds (`/proc/PID/stat`, all its threads;
/// the kernel counts in USER_HZ, 100 a second on Linux).
fn cpu_secs(pid: &str) -> Option<(f64, f64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command's name, which is in parentheses and may hold spaces.
    let mut f = s.rsplit_once(')')?.1.split_whitespace();
    let user: f64 = f.nth(11)?.parse().ok()?;
    let system: f64 = f.next()?.parse().ok()?;
    Some((user / 100.0, system / 100.0))
}

/// The soft limit on open files of this process.
fn open_files_limit() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = s.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

pub async fn run(mut a: ResultsArgs) -> anyhow::Result<()> {
    if a.sse > a.subscribers {
        bail!("--sse {} is more than the {} subscribers", a.sse, a.subscribers);
    }
    if a.peer.is_some() {
        if a.sse > 0 {
            bail!("--sse is Tessera's event stream: the peer has none");
        }
        a.storm_changes = 0;
    }
    let need = a.subscribers as u64 + 512;
    match open_files_limit() {
        Some(n) if n >= need => {}
        n => bail!(
            "this process may open {} files and the subscribers need {need}: run it as `sh -c 'ulimit -n \"$(ulimit -Hn)\" && tessera bench results ...'` (the hard limit must allow {need})",
            n.map_or("an unknown number of".to_string(), |n| n.to_string()),
        ),
    }
    println!(
        "machine: {} cores; {} subscribers ({} WebSocket, {} server-sent events), {} changes at {}/s, then a reconnect storm with {} more{}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        a.subscribers,
        a.subscribers - a.sse,
        a.sse,
        a.changes,
        a.rate,
        a.storm_changes,
        if a.peer.is_some() { " (none: a peer is measured)" } else { "" }
    );
    let dir = tempfile::tempdir()?;
    let (mut child, addr, source, feed) = match a.peer {
        None => {
            let (child, addr, source) = start_tessera(dir.path()).await?;
            (child, addr, source, Feed::Socket)
        }
        Some(Peer::Nats) => {
            let peer = nats::start(&dir.path().join("nats")).await?;
            println!("server: the peer, {}, its WebSocket listener (core NATS, subject `results`)", peer.version);
            (peer.child, peer.websocket, Source::Nats { url: peer.url }, Feed::Nats)
        }
    };
    let pid = child.id().context("the server's pid")?;
    let before_kib = rss_kib(pid).context("the server's memory")?;

    // Subscribers: connected, each waits for its catch-up to end, then counts changes.
    let ready = Arc::new(AtomicUsize::new(0));
    let reached = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let (storm_tx, storm_rx) = tokio::sync::watch::channel(false);
    let total = a.changes + a.storm_changes;
    let started = Instant::now();
    // The subscribers' runtime, its threads at the lowest priority unless `--contend`: on one
    // machine they would otherwise take the cores the server's fan-out needs, which
    // subscribers on machines of their own do not. What they measure does not depend on when
    // they run: each change's arrival is the kernel's time-stamp on its socket.
    let contend = a.contend;
    let subscribers_rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("subscribers")
        .enable_all()
        .on_thread_start(move || {
            if !contend {
                lowest_priority();
            }
        })
        .build()?;
    let mut tasks = tokio::task::JoinSet::new();
    let connecting = Arc::new(tokio::sync::Semaphore::new(256));
    for i in 0..a.subscribers {
        let (ready, reached, done, connecting) = (ready.clone(), reached.clone(), done.clone(), connecting.clone());
        let mut storm = storm_rx.clone();
        let changes = a.changes;
        // The SSE subscribers spread among the others.
        let sse = a.sse > 0 && i * a.sse / a.subscribers != (i + 1) * a.sse / a.subscribers;
        let feed = if sse { Feed::Events } else { feed };
        tasks.spawn_on(
            async move {
                // 30 a loopback address: the edge allows 64 connections per address, and in the
                // storm an old connection may not be gone yet when its successor arrives.
                let from = std::net::Ipv4Addr::new(127, 1, (i / 30 / 250) as u8, (i / 30 % 250) as u8 + 1);
                let permit = connecting.acquire_owned().await;
                let mut sub = Sub::connect(addr, from, feed, None).await?;
                let mut seen = Seen { sse, ..Seen::default() };
                let mut last: Option<(u64, u64)>;
                let mut count = 0u64;
                // The catch-up: retry, reset, (no state yet), position.
                loop {
                    let m = sub.next().await?;
                    if m.event == Event::Position {
                        last = m.id;
                        break;
                    }
                }
                drop(permit);
                ready.fetch_add(1, Ordering::Relaxed);
                let mut stormed = false;
                while count < total {
                    // Until every live change is in, nothing but reading: the storm comes after.
                    let m = if count < changes || stormed {
                        sub.next().await?
                    } else {
                        tokio::select! {
                            m = sub.next() => m?,
                            // The guard `wait_for` returns is not `Send`: dropped at once.
                            _ = async { drop(storm.wait_for(|s| *s).await) } => {
                                // Everyone drops at once and comes back with its position.
                                stormed = true;
                                sub.close().await;
                                sub = Sub::connect(addr, from, feed, last).await?;
                                continue;
                            }
                        }
                    };
                    match m.event {
                        Event::Change => {
                            let Some((e, s)) = m.id else { continue };
                            match last {
                                Some((le, ls)) if le == e && s <= ls => seen.duplicates += 1,
                                Some((le, ls)) if le == e && s > ls + 1 => seen.gaps += s - ls - 1,
                                _ => {}
                            }
                            last = Some((e, s));
                            count += 1;
                            // Publish to receipt for the live changes; in the storm a change may
                            // have waited for the reconnection, which the storm's figure measures.
                            if count <= changes {
                                if let Some(sent) = m.sent_us {
                                    let since = |t: u64| t.saturating_sub(sent).min(u32::MAX as u64) as u32;
                                    seen.read_latencies_us.push(since(m.read_us));
                                    match m.arrived_us {
                                        Some(t) => seen.latencies_us.push(since(t)),
                                        None => seen.unstamped += 1,
                                    }
                                }
                            }
                            if count == changes {
                                reached.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Event::Reset if stormed => seen.resets_after_storm += 1,
                        Event::Cut => {
                            seen.cut = true;
                            break;
                        }
                        _ => {}
                    }
                }
                done.fetch_add(1, Ordering::Relaxed);
                anyhow::Ok(seen)
            },
            subscribers_rt.handle(),
        );
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
    let (server_cpu, own_cpu) = (cpu_secs(&pid.to_string()), cpu_secs("self"));
    let answered = source.publish(1..=a.changes, gap).await?;
    wait_for(&reached, a.subscribers, Duration::from_secs(60), "subscribers that received every change").await?;
    let live_secs = publishing.elapsed().as_secs_f64();
    let used = |before: Option<(f64, f64)>, pid: &str| {
        let ((u0, s0), (u1, s1)) = (before?, cpu_secs(pid)?);
        Some((u1 - u0, s1 - s0))
    };
    let (server_cpu, own_cpu) = (used(server_cpu, &pid.to_string()), used(own_cpu, "self"));

    // The storm: every subscriber drops and reconnects at once; the source goes on.
    let storm = Instant::now();
    storm_tx.send_replace(true);
    source.publish(a.changes + 1..=total, gap).await?;
    wait_for(&done, a.subscribers, Duration::from_secs(120), "subscribers caught up after the storm").await?;
    let storm_secs = storm.elapsed().as_secs_f64();

    let (mut ws_latencies, mut sse_latencies, mut read) = (Vec::new(), Vec::new(), Vec::new());
    let (mut gaps, mut dups, mut resets, mut cut, mut unstamped) = (0, 0, 0, 0, 0);
    let us = |u: &u32| Duration::from_micros(*u as u64);
    while let Some(r) = tasks.join_next().await {
        let seen = r??;
        let into = if seen.sse { &mut sse_latencies } else { &mut ws_latencies };
        into.extend(seen.latencies_us.iter().map(us));
        read.extend(seen.read_latencies_us.iter().map(us));
        unstamped += seen.unstamped;
        gaps += seen.gaps;
        dups += seen.duplicates;
        resets += seen.resets_after_storm;
        cut += usize::from(seen.cut);
    }
    subscribers_rt.shutdown_background();
    if unstamped > 0 {
        bail!("{unstamped} changes arrived without the kernel's receive time-stamp (SO_TIMESTAMPNS)");
    }
    let delivered = read.len();
    let all: Vec<Duration> = ws_latencies.iter().chain(&sse_latencies).copied().collect();
    println!(
        "live: {} changes to {} subscribers{}: {delivered} deliveries in {live_secs:.1} s ({:.0} deliveries/s); publish to receipt (arrival at the subscriber's socket, the kernel's time-stamp) p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; publish to the subscriber process reading it p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; the source's request answered in p50 {:.1} ms, max {:.1} ms",
        a.changes,
        a.subscribers,
        if a.contend { " (competing with the server for the cores)" } else { " (at the lowest priority)" },
        delivered as f64 / live_secs,
        ms(pct(&all, 0.50)),
        ms(pct(&all, 0.99)),
        ms(pct(&all, 1.0)),
        ms(pct(&read, 0.50)),
        ms(pct(&read, 0.99)),
        ms(pct(&read, 1.0)),
        ms(pct(&answered, 0.50)),
        ms(pct(&answered, 1.0)),
    );
    for (name, l) in [("WebSocket", &ws_latencies), ("server-sent events", &sse_latencies)] {
        if a.sse > 0 && !l.is_empty() {
            println!(
                "  {name}: {} deliveries, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                l.len(),
                ms(pct(l, 0.50)),
                ms(pct(l, 0.99)),
                ms(pct(l, 1.0))
            );
        }
    }
    // Where a delivery's cost lies: the server's part (its system share is mostly the
    // kernel's loopback TCP, the subscriber's receiving side included) and the subscribers'.
    if let (Some((su, ss)), Some((ou, os))) = (server_cpu, own_cpu) {
        let per = |secs: f64| secs * 1e6 / delivered.max(1) as f64;
        println!(
            "CPU in the live phase: server {:.1} s (user {su:.1}, system {ss:.1}): {:.1} µs a delivery (user {:.1}, system {:.1}); subscribers and source {:.1} s: {:.1} µs a delivery",
            su + ss,
            per(su + ss),
            per(su),
            per(ss),
            ou + os,
            per(ou + os),
        );
    }
    if a.peer.is_some() {
        println!("storm: not run (the peer keeps no position to reconnect with); gaps {gaps}, duplicates {dups}");
    } else {
        println!(
            "storm: all {} reconnected with their position and caught up in {storm_secs:.1} s while {} changes were published; gaps {gaps}, duplicates {dups}, resets {resets}, cut off {cut}",
            a.subscribers, a.storm_changes
        );
    }
    let _ = child.kill().await;
    if gaps > 0 || dups > 0 || cut > 0 {
        bail!("a subscriber missed, repeated or lost changes");
    }
    println!("checks: no gap, no duplicate, nobody cut off: PASSED");
    Ok(())
}

/// `tessera serve`, its own process, on the embedded store in `dir`, and the venue's source
/// with a key signed by the server's secret (shared with this process, which issues it).
async fn start_tessera(dir: &std::path::Path) -> anyhow::Result<(tokio::process::Child, std::net::SocketAddr, Source)> {
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    let exe = std::env::current_exe()?;
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(r#"ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" serve --listen 127.0.0.1:0 --data-dir "$1" --edge-per-address 10000000 --edge-per-network 10000000"#)
        .arg(&exe)
        .arg(dir.join("server"))
        .env("TESSERA_SECRET_KEY", hex::encode(key))
        .env("TESSERA_LOG", "error");
    let (child, base) = crate::common::start_server(cmd).await?;
    let source_key = {
        let store = Arc::new(tessera_store_sqlite::SqliteStore::open(
            dir.join("signer.db"),
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
    let addr = base.trim_start_matches("http://").parse()?;
    Ok((child, addr, Source::Tessera { url: format!("{base}/api/v1/results/documents"), key: source_key }))
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

/// Puts the calling thread under `SCHED_IDLE` (util-linux's `chrt`, for this thread's id): it
/// runs only when the cores have nothing else to run, and the server's threads preempt it as
/// soon as they wake. Where that fails, `nice` 19 (Linux's `setpriority` of the calling
/// thread), which still lets it finish a time slice first.
fn lowest_priority() {
    let tid = rustix::thread::gettid().as_raw_nonzero().get().to_string();
    let idle = std::process::Command::new("chrt").args(["--idle", "-p", "0", &tid]).status();
    if idle.is_ok_and(|s| s.success()) {
        return;
    }
    tracing::warn!("chrt --idle failed for a subscribers' thread: nice 19 instead");
    if let Err(e) = rustix::process::setpriority_process(None, 19) {
        tracing::warn!(error = %e, "the subscribers' thread keeps its priority");
    }
}
