//! `tessera bench airlock`: the waiting room and the edge under load and under attack.
//!
//! Part 1 measures the queue-status endpoint with `wrk`, beside nginx serving a small static
//! file on the same machine in the same sitting, and records the ratio.
//!
//! Part 2 runs simulated fans (join, wait, get admitted, buy) first alone and then under a
//! flood of ten times their request rate from attackers that also try to skip the queue
//! with forged, stolen and replayed tokens. It reports the fans' purchases in both runs and
//! every attacker request's outcome; any attacker purchase fails the benchmark.
//!
//! All traffic stays on loopback: every fan and attacker binds its own 127.x.y.z address, so
//! that the per-address and per-network limits see many clients.

use crate::common::{bench_serve_limits, drawn_buyers, ms, pct, sessions_for, unlimited_edge};
use anyhow::{bail, Context};
use base64::Engine;
use clap::Args;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tessera_app::airlock::{PowMode, RoomSettings};
use tessera_app::{App, AppConfig, SystemClock};
use tessera_payments::{SandboxConfig, SandboxProvider};
use tokio::process::Command;

#[derive(Args, Clone)]
pub struct AirlockArgs {
    /// Seconds of each wrk run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// wrk runs per server; medians are reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// wrk connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// wrk threads (the server and wrk share this machine's cores).
    #[arg(long, default_value_t = 1)]
    wrk_threads: usize,
    /// Simulated fans in the goodput runs.
    #[arg(long, default_value_t = 1000)]
    fans: usize,
    /// The waiting room's admissions per second in the goodput runs.
    #[arg(long, default_value_t = 40.0)]
    admit_rate: f64,
    /// Seconds of each goodput run.
    #[arg(long, default_value_t = 20.0)]
    window: f64,
    /// The attackers' request rate as a multiple of the fans' rate.
    #[arg(long, default_value_t = 10.0)]
    attack_factor: f64,
    /// Addresses the attack comes from, four per /24 network. Few addresses are mostly
    /// stopped by the per-address limit; many (2,000 and more) each stay under it, so that
    /// their requests reach the handlers and their tokens are checked.
    #[arg(long, default_value_t = 100)]
    attacker_addresses: usize,
    /// Part 1 only: instead of running wrk, print the status URL and its headers and keep the
    /// server up this many seconds (for profiling, or for another load generator).
    #[arg(long)]
    hold_secs: Option<u64>,
    /// Skip part 1 (status throughput against nginx).
    #[arg(long)]
    skip_throughput: bool,
    /// Skip part 2 (fans' goodput under attack).
    #[arg(long)]
    skip_goodput: bool,
}

pub async fn run(a: AirlockArgs) -> anyhow::Result<()> {
    if a.runs == 0 || a.fans == 0 || a.connections == 0 || a.window <= 0.0 || a.admit_rate <= 0.0 {
        bail!("--runs, --fans, --connections, --window and --admit-rate must be positive");
    }
    if a.fans > 50_000 || !(1..=65_536).contains(&a.attacker_addresses) {
        bail!("--fans at most 50,000 and --attacker-addresses 1 to 65,536: one loopback address each");
    }
    println!(
        "bench airlock: machine {} cores; wrk {} thread(s), {} connections, {} s x {} runs; {} fans, admission {}/s, window {} s, attack x{} from {} addresses",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        a.wrk_threads,
        a.connections,
        a.seconds,
        a.runs,
        a.fans,
        a.admit_rate,
        a.window,
        a.attack_factor,
        a.attacker_addresses
    );
    if !a.skip_throughput {
        throughput(&a).await?;
    }
    if !a.skip_goodput {
        goodput(&a).await?;
    }
    Ok(())
}

fn new_app(unlimited: bool) -> anyhow::Result<(App, tempfile::TempDir, Arc<SandboxProvider>)> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(tessera_store_sqlite::SqliteStore::open(
        dir.path().join("bench.db"),
        tessera_store_sqlite::Durability::Full,
    )?);
    let payments = Arc::new(SandboxProvider::new(SandboxConfig::default()));
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    let mut config = AppConfig::new(key, "http://127.0.0.1");
    if unlimited {
        config.edge_limits = unlimited_edge();
    }
    Ok((App::new(store, payments.clone(), Arc::new(SystemClock), config), dir, payments))
}

struct Server {
    addr: SocketAddr,
    /// The bearer token its /metrics asks for.
    metrics_token: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    ticker: tokio::task::JoinHandle<()>,
    stop_ticker: tokio::sync::watch::Sender<bool>,
}

async fn start_server(app: &App, limits: tessera_http::serve::ServeLimits) -> anyhow::Result<Server> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let metrics_token = tessera_app::random_hex(32);
    let access = tessera_http::exposition::MetricsAccess::ScrapeToken(metrics_token.clone().into());
    let state = tessera_http::AppState::new(app.clone(), false, None).with_metrics_access(access);
    let task = tokio::spawn(tessera_http::serve::serve_with(listener, state, limits, async move {
        let _ = stop_rx.await;
    }));
    let (stop_ticker, rx) = tokio::sync::watch::channel(false);
    let ticker = tokio::spawn(tessera_app::background::airlock_loop(app.clone(), rx));
    Ok(Server { addr, metrics_token, stop: Some(stop), task, ticker, stop_ticker })
}

impl Server {
    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = self.stop_ticker.send(true);
        let _ = self.task.await;
        let _ = self.ticker.await;
    }
}

// ---- part 1: the status endpoint beside nginx ---------------------------------------------

async fn throughput(a: &AirlockArgs) -> anyhow::Result<()> {
    let (app, _dir, _) = new_app(true)?;
    let (_, accounts) = drawn_buyers(&app, 100, 2).await?;
    let tokens = sessions_for(&app, accounts.clone()).await?;
    // A room that admits almost no one, so that the second fan stays in line: most status
    // requests in a real queue come from fans who wait.
    let mut settings = RoomSettings::new(app.now().plus_secs(-1), 0.001);
    settings.room.min_rate_per_sec = 0.001;
    settings.room.auto_rate = false;
    settings.pow = PowMode::Off;
    app.configure_waiting_room("BENCH", &settings).await?;
    let server = start_server(&app, bench_serve_limits()).await?;
    let base = format!("http://{}/api/v1/phases/BENCH/queue", server.addr);
    let client = reqwest::Client::new();
    let mut ticket = String::new();
    for t in &tokens {
        let v: serde_json::Value = client
            .post(&base)
            .bearer_auth(t)
            .json(&serde_json::json!({}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        ticket = v["ticket"].as_str().context("ticket")?.to_string();
    }
    let status_url = format!("{base}/status");
    let sample = client
        .get(&status_url)
        .bearer_auth(&tokens[1])
        .header("Tessera-Queue", &ticket)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    println!("status answer ({} bytes): {sample}", sample.len());
    if let Some(secs) = a.hold_secs {
        println!(
            "holding for {secs} s: {status_url}\n  -H 'Authorization: Bearer {}' -H 'Tessera-Queue: {ticket}'",
            tokens[1]
        );
        tokio::time::sleep(Duration::from_secs(secs)).await;
        server.stop().await;
        return Ok(());
    }

    let nginx = Nginx::start(&sample).await?;
    let headers = [format!("Authorization: Bearer {}", tokens[1]), format!("Tessera-Queue: {ticket}")];
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for run in 1..=a.runs {
        let n = wrk(a, &nginx.url, &[]).await?;
        let t = wrk(a, &status_url, &headers).await?;
        println!(
            "run {run}: nginx static file {:.0} req/s (p99 {:.2} ms); tessera queue status {:.0} req/s (p99 {:.2} ms); ratio {:.2}",
            n.rps,
            n.p99_ms,
            t.rps,
            t.p99_ms,
            t.rps / n.rps
        );
        if t.non_2xx > 0 || n.non_2xx > 0 {
            println!("  non-2xx answers: tessera {}, nginx {}; tessera's counts by status:", t.non_2xx, n.non_2xx);
            let metrics = client
                .get(format!("http://{}/metrics", server.addr))
                .bearer_auth(&server.metrics_token)
                .send()
                .await?
                .text()
                .await?;
            for l in metrics
                .lines()
                .filter(|l| l.starts_with("tessera_http_requests_total") || l.starts_with("tessera_edge_refused_total"))
            {
                println!("    {l}");
            }
        }
        ours.push(t);
        theirs.push(n);
    }
    let med = |v: &mut Vec<Wrk>| {
        v.sort_by(|x, y| x.rps.total_cmp(&y.rps));
        v[v.len() / 2].clone()
    };
    let (t, n) = (med(&mut ours), med(&mut theirs));
    println!(
        "median: tessera queue status {:.0} req/s (p99 {:.2} ms), nginx static {:.0} req/s (p99 {:.2} ms), ratio {:.2}; target 50,000 req/s: {}",
        t.rps,
        t.p99_ms,
        n.rps,
        n.p99_ms,
        t.rps / n.rps,
        if t.rps >= 50_000.0 { "MET" } else { "NOT MET" }
    );
    drop(nginx);
    server.stop().await;
    Ok(())
}

#[derive(Clone)]
struct Wrk {
    rps: f64,
    p99_ms: f64,
    non_2xx: u64,
}

async fn wrk(a: &AirlockArgs, url: &str, headers: &[String]) -> anyhow::Result<Wrk> {
    let mut cmd = Command::new("wrk");
    cmd.arg(format!("-t{}", a.wrk_threads))
        .arg(format!("-c{}", a.connections))
        .arg(format!("-d{}s", a.seconds))
        .arg("--latency");
    for h in headers {
        cmd.arg("-H").arg(h);
    }
    let out = cmd.arg(url).output().await.context("running wrk (Debian package `wrk`)")?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        bail!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    }
    let field = |prefix: &str| -> Option<String> {
        text.lines().map(str::trim).find(|l| l.starts_with(prefix)).map(|l| l[prefix.len()..].trim().to_string())
    };
    let rps: f64 = field("Requests/sec:").and_then(|v| v.parse().ok()).context("wrk output without Requests/sec")?;
    let p99_ms = field("99%").map(|v| parse_wrk_duration(&v)).unwrap_or(f64::NAN);
    let non_2xx = field("Non-2xx or 3xx responses:").and_then(|v| v.parse().ok()).unwrap_or(0);
    Ok(Wrk { rps, p99_ms, non_2xx })
}

/// wrk prints latencies as `812.00us`, `1.25ms` or `2.01s`.
fn parse_wrk_duration(v: &str) -> f64 {
    let (num, scale) = if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (v, f64::NAN)
    };
    num.parse::<f64>().map(|x| x * scale).unwrap_or(f64::NAN)
}

/// Debian's nginx serving one small static file, started in a temporary prefix.
struct Nginx {
    url: String,
    child: tokio::process::Child,
    dir: tempfile::TempDir,
}

impl Nginx {
    async fn start(body: &str) -> anyhow::Result<Nginx> {
        let dir = tempfile::tempdir()?;
        let p = dir.path();
        std::fs::create_dir_all(p.join("www"))?;
        std::fs::write(p.join("www/status.json"), body)?;
        // The workers run as `nobody` when started by root: they must be able to read the file.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755))?;
            std::fs::set_permissions(p.join("www"), std::fs::Permissions::from_mode(0o755))?;
            std::fs::set_permissions(p.join("www/status.json"), std::fs::Permissions::from_mode(0o644))?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let conf = format!(
            "worker_processes auto;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n  access_log off;\n  default_type application/json;\n  keepalive_requests 1000000;\n\
             client_body_temp_path {d}/tmp_body;\n  proxy_temp_path {d}/tmp_proxy;\n  fastcgi_temp_path {d}/tmp_fcgi;\n\
             uwsgi_temp_path {d}/tmp_uwsgi;\n  scgi_temp_path {d}/tmp_scgi;\n\
             server {{ listen 127.0.0.1:{port}; location / {{ root {d}/www; }} }}\n}}\n",
            d = p.display()
        );
        std::fs::write(p.join("nginx.conf"), conf)?;
        let child = Command::new("nginx")
            .arg("-p")
            .arg(p)
            .arg("-c")
            .arg(p.join("nginx.conf"))
            .arg("-e")
            .arg(p.join("error.log"))
            // Workers inherit the master's streams: they must not hold the bench's output open.
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting nginx (Debian package `nginx`)")?;
        let url = format!("http://127.0.0.1:{port}/status.json");
        for _ in 0..100 {
            if reqwest::get(&url).await.map(|r| r.status().is_success()).unwrap_or(false) {
                return Ok(Nginx { url, child, dir });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("nginx did not serve {url}: {}", std::fs::read_to_string(p.join("error.log")).unwrap_or_default())
    }
}

impl Drop for Nginx {
    /// `nginx -s stop` makes the master stop its workers; killing the master alone would leave
    /// them running. Done on drop, so that an early error stops nginx too.
    fn drop(&mut self) {
        let p = self.dir.path();
        let _ = std::process::Command::new("nginx")
            .arg("-p")
            .arg(p)
            .arg("-c")
            .arg(p.join("nginx.conf"))
            .arg("-s")
            .arg("stop")
            .stderr(std::process::Stdio::null())
            .status();
        let _ = self.child.start_kill();
    }
}

// ---- part 2: fans' goodput under attack ----------------------------------------------------

const ATTACKER_ACCOUNTS: usize = 20;
/// How often a waiting fan asks for news (the page's polling fallback; the event stream
/// would cost less).
const FAN_POLL: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Outcomes {
    /// Fan purchases completed within the window.
    purchases: usize,
    fans_admitted: usize,
    fan_requests: usize,
    fan_errors: BTreeMap<String, usize>,
    to_purchase: Vec<Duration>,
    attacker_requests: usize,
    /// By kind of attack, then status and code.
    attacker_outcomes: BTreeMap<String, usize>,
    attacker_successes: usize,
    elapsed: Duration,
}

async fn goodput(a: &AirlockArgs) -> anyhow::Result<()> {
    let calm = scenario(a, false).await?;
    report("no attack", &calm);
    let attacked = scenario(a, true).await?;
    report("under attack", &attacked);
    let fan_rate = attacked.fan_requests as f64 / attacked.elapsed.as_secs_f64();
    let attack_rate = attacked.attacker_requests as f64 / attacked.elapsed.as_secs_f64();
    let ratio = attacked.purchases as f64 / calm.purchases.max(1) as f64;
    println!(
        "goodput: {} purchases under attack vs {} without = {:.1}% (target at least 90%: {}); attack {:.0} req/s = {:.1}x the fans' {:.0} req/s; attacker purchases or admissions: {} ({})",
        attacked.purchases,
        calm.purchases,
        ratio * 100.0,
        if ratio >= 0.9 { "MET" } else { "NOT MET" },
        attack_rate,
        attack_rate / fan_rate.max(1.0),
        fan_rate,
        attacked.attacker_successes,
        if attacked.attacker_successes == 0 { "none, as required" } else { "FAILED" }
    );
    if attacked.attacker_successes > 0 {
        bail!("an attacker got through");
    }
    Ok(())
}

fn report(label: &str, o: &Outcomes) {
    println!(
        "{label}: {} fan purchases in {:.1} s ({} admitted); time to purchase p50 {:.0} ms p99 {:.0} ms; fans sent {} requests ({:.0}/s); fan errors {:?}",
        o.purchases,
        o.elapsed.as_secs_f64(),
        o.fans_admitted,
        ms(pct(&o.to_purchase, 0.5)),
        ms(pct(&o.to_purchase, 0.99)),
        o.fan_requests,
        o.fan_requests as f64 / o.elapsed.as_secs_f64(),
        o.fan_errors
    );
    if o.attacker_requests > 0 {
        println!(
            "  attackers sent {} requests ({:.0}/s); outcomes: {:?}",
            o.attacker_requests,
            o.attacker_requests as f64 / o.elapsed.as_secs_f64(),
            o.attacker_outcomes
        );
    }
}

/// The address of fan `i`: 200 fans per /24, as behind a busy carrier's addresses.
fn fan_address(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 1, (i / 200) as u8, (i % 200 + 1) as u8))
}

/// Attacker `i`'s address: four per /24, from 127.64.0.0 on (up to 16,384 networks).
fn attacker_address(i: usize) -> IpAddr {
    let net = i / 4;
    IpAddr::V4(Ipv4Addr::new(127, 64 + (net / 256) as u8, (net % 256) as u8, (i % 4 + 1) as u8))
}

fn client_from(ip: IpAddr) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .local_address(ip)
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(4)
        .build()?)
}

/// What fans leave on the wire that an attacker may capture and replay.
#[derive(Default)]
struct Loot {
    passes: Vec<String>,
    pow: Vec<String>,
}

async fn scenario(a: &AirlockArgs, attack: bool) -> anyhow::Result<Outcomes> {
    let (app, _dir, _payments) = new_app(false)?;
    let (category, accounts) = drawn_buyers(&app, (a.fans * 2) as i64, a.fans + ATTACKER_ACCOUNTS).await?;
    let attacker_ids: Vec<_> = accounts[a.fans..].iter().map(|x| x.id).collect();
    let tokens = Arc::new(sessions_for(&app, accounts).await?);
    let mut settings = RoomSettings::new(app.now(), a.admit_rate);
    settings.room.opens_at_ms = app.now_ms();
    // Every join pays the proof-of-work, so that a replayed solution is tried for real.
    settings.pow = PowMode::On;
    app.configure_waiting_room("BENCH", &settings).await?;
    let server = start_server(&app, tessera_http::serve::ServeLimits::default()).await?;
    let base = Arc::new(format!("http://{}/api/v1/phases/BENCH", server.addr));
    let window = Duration::from_secs_f64(a.window);
    let started = Instant::now();
    let deadline = started + window;
    let loot = Arc::new(Mutex::new(Loot::default()));
    let out = Arc::new(Mutex::new(Outcomes::default()));

    let mut fans = tokio::task::JoinSet::new();
    for i in 0..a.fans {
        let client = client_from(fan_address(i))?;
        let (base, tokens, loot, out) = (base.clone(), tokens.clone(), loot.clone(), out.clone());
        // Arrivals spread over the first second.
        let start_at = started + Duration::from_micros((i as u64 * 1_000_000) / a.fans as u64);
        fans.spawn(async move {
            tokio::time::sleep_until(start_at.into()).await;
            fan(i, client, &base, &tokens[i], category.0, deadline, started, &loot, &out).await;
        });
    }
    let mut attackers = tokio::task::JoinSet::new();
    if attack {
        // The fans poll once a second: their rate is about one request per fan per second.
        let total_rate = a.attack_factor * a.fans as f64 / FAN_POLL.as_secs_f64();
        let per_task = total_rate / a.attacker_addresses as f64;
        for i in 0..a.attacker_addresses {
            let client = client_from(attacker_address(i))?;
            let (base, tokens, loot, out) = (base.clone(), tokens.clone(), loot.clone(), out.clone());
            let token = tokens[a.fans + i % ATTACKER_ACCOUNTS].clone();
            attackers.spawn(async move {
                attacker(i, client, &base, &token, category.0, per_task, deadline, &loot, &out).await;
            });
        }
    }
    while fans.join_next().await.is_some() {}
    while attackers.join_next().await.is_some() {}
    server.stop().await;
    let mut o = std::mem::take(&mut *out.lock().unwrap_or_else(|e| e.into_inner()));
    o.elapsed = window.min(started.elapsed());
    // The store's word, not the clients': no attacker account may hold an order.
    for id in attacker_ids {
        if !app.store.orders(id).await?.is_empty() {
            o.attacker_successes += 1;
        }
    }
    Ok(o)
}

#[allow(clippy::too_many_arguments)]
async fn fan(
    i: usize,
    client: reqwest::Client,
    base: &str,
    token: &str,
    category: i64,
    deadline: Instant,
    started: Instant,
    loot: &Mutex<Loot>,
    out: &Mutex<Outcomes>,
) {
    let mut requests = 0usize;
    let mut errors: Vec<String> = Vec::new();
    let result: anyhow::Result<Option<Duration>> = async {
        // Join, solving the proof-of-work when asked.
        let ticket = loop {
            if Instant::now() >= deadline {
                return Ok(None);
            }
            requests += 1;
            let req: serde_json::Value =
                client.get(format!("{base}/queue")).bearer_auth(token).send().await?.json().await?;
            let mut body = serde_json::json!({});
            if req["pow_required"].as_bool() == Some(true) {
                let c: tessera_airlock::pow::Challenge = serde_json::from_value(req["challenge"].clone())?;
                let number = tessera_airlock::pow::solve(&c).context("unsolvable challenge")?;
                let sol = serde_json::json!({"algorithm": c.algorithm, "challenge": c.challenge, "number": number, "salt": c.salt, "signature": c.signature});
                let text = base64::engine::general_purpose::STANDARD.encode(sol.to_string());
                loot.lock().unwrap_or_else(|e| e.into_inner()).pow.push(text.clone());
                body = serde_json::json!({ "pow": text });
            }
            requests += 1;
            let resp = client.post(format!("{base}/queue")).bearer_auth(token).json(&body).send().await?;
            let status = resp.status();
            let v: serde_json::Value = resp.json().await.unwrap_or_default();
            if status.is_success() {
                break v["ticket"].as_str().context("ticket")?.to_string();
            }
            errors.push(format!("join {status} {}", v["error"]["code"]));
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        // Wait for the turn.
        let pass = loop {
            if Instant::now() >= deadline {
                return Ok(None);
            }
            requests += 1;
            let resp = client
                .get(format!("{base}/queue/status"))
                .bearer_auth(token)
                .header("Tessera-Queue", &ticket)
                .send()
                .await?;
            let status = resp.status();
            let v: serde_json::Value = resp.json().await.unwrap_or_default();
            if status.is_success() {
                if let Some(p) = v["pass"].as_str() {
                    break p.to_string();
                }
            } else {
                errors.push(format!("status {status} {}", v["error"]["code"]));
            }
            tokio::time::sleep(FAN_POLL).await;
        };
        loot.lock().unwrap_or_else(|e| e.into_inner()).passes.push(pass.clone());
        out.lock().unwrap_or_else(|e| e.into_inner()).fans_admitted += 1;
        // Buy, retrying with the same idempotency key if the answer is lost.
        for _ in 0..5 {
            if Instant::now() >= deadline {
                return Ok(None);
            }
            requests += 1;
            let resp = client
                .post(format!("{base}/orders"))
                .bearer_auth(token)
                .header("Tessera-Admission", &pass)
                .header("Idempotency-Key", format!("fan-{i}"))
                .json(&serde_json::json!({"items": [{"category_id": category, "quantity": 1}],
                    "card": {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2099, "cvc": "123", "holder": "Fan"}}))
                .send()
                .await;
            match resp {
                Ok(r) if r.status() == reqwest::StatusCode::CREATED => return Ok(Some(started.elapsed())),
                Ok(r) => {
                    let status = r.status();
                    let v: serde_json::Value = r.json().await.unwrap_or_default();
                    errors.push(format!("order {status} {}", v["error"]["code"]));
                }
                Err(e) => errors.push(format!("order: {e}")),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Ok(None)
    }
    .await;
    let mut o = out.lock().unwrap_or_else(|e| e.into_inner());
    o.fan_requests += requests;
    match result {
        Ok(Some(t)) => {
            o.purchases += 1;
            o.to_purchase.push(t);
        }
        Ok(None) => {}
        Err(e) => errors.push(format!("transport: {e}")),
    }
    for e in errors {
        *o.fan_errors.entry(e).or_default() += 1;
    }
}

/// One attacking address: floods the queue and the shop, and tries every way around the
/// queue, at `rate` requests a second.
#[allow(clippy::too_many_arguments)]
async fn attacker(
    i: usize,
    client: reqwest::Client,
    base: &str,
    token: &str,
    category: i64,
    rate: f64,
    deadline: Instant,
    loot: &Mutex<Loot>,
    out: &Mutex<Outcomes>,
) {
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    let mut successes = 0usize;
    let mut sent = 0usize;
    let mut every = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.1)));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let order_body = serde_json::json!({"items": [{"category_id": category, "quantity": 1}],
        "card": {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2099, "cvc": "123", "holder": "Bot"}});
    let mut n = i;
    while Instant::now() < deadline {
        every.tick().await;
        n = n.wrapping_add(1);
        let (stolen_pass, stolen_pow) = {
            let l = loot.lock().unwrap_or_else(|e| e.into_inner());
            (l.passes.get(n % l.passes.len().max(1)).cloned(), l.pow.get(n % l.pow.len().max(1)).cloned())
        };
        let (kind, req) = match n % 6 {
            // Flood the status endpoint with made-up tickets.
            0 => (
                "flood_status",
                client
                    .get(format!("{base}/queue/status"))
                    .bearer_auth(token)
                    .header("Tessera-Queue", "v1.queue.BENCH.1.0.0.9999999999.AAAA"),
            ),
            // Flood joins without proof-of-work.
            1 => ("flood_join", client.post(format!("{base}/queue")).bearer_auth(token).json(&serde_json::json!({}))),
            // Skip the queue: buy without a pass.
            2 => (
                "no_pass",
                client
                    .post(format!("{base}/orders"))
                    .bearer_auth(token)
                    .header("Idempotency-Key", format!("bot-{i}-{n}"))
                    .json(&order_body),
            ),
            // Forge a pass: a real one with its number changed, or one made up.
            3 => {
                let forged = match &stolen_pass {
                    Some(p) => p.replacen(".BENCH.", ".BENCH.0", 1),
                    None => "v1.admit.BENCH.1.0.9999999999.AAAA".to_string(),
                };
                (
                    "forged_pass",
                    client
                        .post(format!("{base}/orders"))
                        .bearer_auth(token)
                        .header("Tessera-Admission", forged)
                        .header("Idempotency-Key", format!("bot-{i}-{n}"))
                        .json(&order_body),
                )
            }
            // Replay a pass stolen from a fan, on the attacker's own account.
            4 => match stolen_pass {
                Some(p) => (
                    "stolen_pass",
                    client
                        .post(format!("{base}/orders"))
                        .bearer_auth(token)
                        .header("Tessera-Admission", p)
                        .header("Idempotency-Key", format!("bot-{i}-{n}"))
                        .json(&order_body),
                ),
                None => continue,
            },
            // Replay a fan's solved proof-of-work to join without working.
            _ => match stolen_pow {
                Some(p) => (
                    "replayed_pow",
                    client.post(format!("{base}/queue")).bearer_auth(token).json(&serde_json::json!({ "pow": p })),
                ),
                None => continue,
            },
        };
        sent += 1;
        let outcome = match req.send().await {
            Ok(r) => {
                let status = r.status();
                let code = if status.is_success() {
                    String::new()
                } else {
                    r.json::<serde_json::Value>()
                        .await
                        .ok()
                        .and_then(|v| v["error"]["code"].as_str().map(String::from))
                        .unwrap_or_default()
                };
                // A purchase is a success; a join answered 2xx is not (the account may hold a
                // place already, which costs the fans nothing).
                if status.is_success() && matches!(kind, "no_pass" | "forged_pass" | "stolen_pass") {
                    successes += 1;
                }
                format!("{kind} {} {code}", status.as_u16())
            }
            Err(e) if e.is_timeout() => format!("{kind} timeout"),
            Err(_) => format!("{kind} connection refused or reset"),
        };
        *tally.entry(outcome).or_default() += 1;
    }
    let mut o = out.lock().unwrap_or_else(|e| e.into_inner());
    o.attacker_requests += sent;
    o.attacker_successes += successes;
    for (k, v) in tally {
        *o.attacker_outcomes.entry(k).or_default() += v;
    }
}
