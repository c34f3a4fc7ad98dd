//! `tessera bench cluster`: three `tessera serve` processes on one PostgreSQL database and
//! one NATS JetStream server, fans spread over them through a waiting room into a hot
//! session, one node killed with SIGKILL mid-sale and started again, while an operator's
//! edge decisions and fans' sign-outs are timed until every other node enforces them.
//!
//! Reports paid orders per second per node and in total, the propagation times, and the
//! checks: nothing oversold, every answered order in the store (none lost), no fan with two
//! places or two orders, no mail sent twice.

use crate::common::*;
use anyhow::{bail, Context};
use clap::Args;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tessera_app::{App, AppConfig, SystemClock};
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(Args, Clone)]
pub(crate) struct ClusterArgs {
    /// PostgreSQL server the nodes share (a schema of its own is made for the run).
    #[arg(long, env = "TESSERA_BENCH_DATABASE_URL", default_value = "postgres://postgres@127.0.0.1:5432/test")]
    database_url: String,
    /// NATS server with JetStream.
    #[arg(long, env = "TESSERA_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
    /// Seats in the hot session.
    #[arg(long, default_value_t = 20_000)]
    quota: i64,
    /// Concurrent fans at any moment (each from an address of its own).
    #[arg(long, default_value_t = 96)]
    clients: usize,
    /// The waiting room's admissions a second.
    #[arg(long, default_value_t = 5_000.0)]
    rate: f64,
}

const NODES: usize = 3;

/// The node processes, by index; `None` while one is down.
struct Nodes {
    exe: PathBuf,
    root: PathBuf,
    db_url: String,
    nats: String,
    key_hex: String,
    ports: Vec<u16>,
    children: Mutex<Vec<Option<tokio::process::Child>>>,
    alive: Vec<AtomicBool>,
}

impl Nodes {
    fn base(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.ports[i])
    }

    async fn start(&self, i: usize) -> anyhow::Result<()> {
        let dir = self.root.join(format!("node{i}"));
        std::fs::create_dir_all(&dir)?;
        let mut child = tokio::process::Command::new(&self.exe)
            .args(["serve", "--listen", &format!("127.0.0.1:{}", self.ports[i]), "--node-name", &format!("n{i}")])
            .args(["--edge-per-address", "10000000", "--edge-per-network", "10000000"])
            .arg("--data-dir")
            .arg(&dir)
            .args(["--database-url", &self.db_url, "--nats-url", &self.nats])
            .env("TESSERA_SECRET_KEY", &self.key_hex)
            .env("TESSERA_LOG", "error")
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting a node")?;
        let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
        tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(l) = lines.next_line().await? {
                if l.trim().starts_with("Tessera is running on") {
                    return Ok(());
                }
            }
            bail!("node {i} exited before it served")
        })
        .await
        .context("node start-up")??;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.children.lock().expect("nodes")[i] = Some(child);
        self.alive[i].store(true, Ordering::SeqCst);
        Ok(())
    }

    async fn kill(&self, i: usize) {
        self.alive[i].store(false, Ordering::SeqCst);
        let child = self.children.lock().expect("nodes")[i].take();
        if let Some(mut c) = child {
            let _ = c.start_kill();
            let _ = c.wait().await;
        }
    }

    /// A node that is up, preferring `i`.
    fn pick(&self, i: usize) -> usize {
        (0..NODES).map(|k| (i + k) % NODES).find(|&k| self.alive[k].load(Ordering::SeqCst)).unwrap_or(i % NODES)
    }
}

#[derive(Default)]
struct Tally {
    orders_per_node: [usize; NODES],
    codes: HashMap<usize, String>,
    numbers: HashMap<usize, u64>,
    sold_out: usize,
    errors: Vec<String>,
}

pub(crate) async fn run(a: ClusterArgs) -> anyhow::Result<()> {
    if a.quota <= 0 || a.clients == 0 || !a.rate.is_finite() || a.rate <= 0.0 {
        bail!("--quota, --clients and --rate must be positive");
    }
    println!(
        "bench cluster: {NODES} nodes, PostgreSQL and NATS JetStream, quota {} seats, {} concurrent fans, room rate {}/s; machine: {} cores",
        a.quota,
        a.clients,
        a.rate,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    let root = tempfile::tempdir()?;
    let schema = format!("bench_{}", tessera_app::random_hex(6));
    let store = Arc::new(tessera_store_postgres::PgStore::connect_with_schema(&a.database_url, &schema).await?);
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    let mut config = AppConfig::new(key, "http://127.0.0.1");
    config.edge_limits = unlimited_edge();
    let payments = Arc::new(tessera_payments::SandboxProvider::new(Default::default()));
    let app = App::new(store.clone(), payments, Arc::new(SystemClock), config);

    let setup = Instant::now();
    let fans = (a.quota as usize) * 21 / 20 + a.clients;
    let (category, accounts) = drawn_buyers(&app, a.quota, fans + 40).await?;
    let tokens = sessions_for(&app, accounts).await?;
    let (fan_tokens, signout_tokens) = tokens.split_at(fans);
    let ops = app
        .create_account("ops@bench.tessera.invalid", "operator passphrase", "Ops", tessera_store::Role::Operator)
        .await?;
    let ops = app.issue_session(ops).await?.token;
    let mut settings = tessera_app::airlock::RoomSettings::new(app.now().plus_secs(-1), a.rate);
    settings.room.auto_rate = false;
    settings.room.max_active = 1_000_000;
    settings.pow = tessera_app::airlock::PowMode::Off;
    app.configure_waiting_room("BENCH", &settings).await?;
    let separator = if a.database_url.contains('?') { '&' } else { '?' };
    let nodes = Arc::new(Nodes {
        exe: std::env::current_exe()?,
        root: root.path().to_path_buf(),
        db_url: format!("{}{separator}options=-c%20search_path%3D{schema}", a.database_url),
        nats: a.nats_url.clone(),
        key_hex: hex::encode(key),
        ports: (0..NODES).map(|_| free_port()).collect::<anyhow::Result<_>>()?,
        children: Mutex::new((0..NODES).map(|_| None).collect()),
        alive: (0..NODES).map(|_| AtomicBool::new(false)).collect(),
    });
    for i in 0..NODES {
        nodes.start(i).await?;
    }
    println!("setup: {fans} fans drawn and signed in, {NODES} nodes up in {:.1} s", setup.elapsed().as_secs_f64());

    let tally = Arc::new(Mutex::new(Tally::default()));
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let tokens = Arc::new(fan_tokens.to_vec());
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for c in 0..a.clients {
        let (nodes, tally, next, done, tokens) =
            (nodes.clone(), tally.clone(), next.clone(), done.clone(), tokens.clone());
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .local_address(std::net::IpAddr::from([127, 1, (c / 250) as u8, (c % 250) as u8 + 1]))
            .build()?;
        set.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(token) = tokens.get(i) else { break };
                fan(&http, &nodes, &tally, i, token, category.0).await;
                done.fetch_add(1, Ordering::Relaxed);
            }
        });
    }

    // Decisions and sign-outs, timed while the sale runs.
    let propagation = Arc::new(Mutex::new(Vec::<(String, Duration)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let prober = {
        let (nodes, propagation, stop, ops) = (nodes.clone(), propagation.clone(), stop.clone(), ops.clone());
        let signouts = signout_tokens.to_vec();
        tokio::spawn(async move {
            let mut k = 0usize;
            while !stop.load(Ordering::Relaxed) && k < 40 {
                let from = nodes.pick(k);
                let timed = if k.is_multiple_of(2) {
                    block_and_time(&nodes, from, &ops, [127, 9, (k / 250) as u8, (k % 250) as u8 + 1]).await
                } else {
                    sign_out_and_time(&nodes, from, &signouts[k]).await
                };
                match timed {
                    Ok(t) => propagation
                        .lock()
                        .expect("times")
                        .push((if k.is_multiple_of(2) { "decision" } else { "sign-out" }.into(), t)),
                    Err(e) => tracing::warn!(error = %e, "a propagation probe failed"),
                }
                k += 1;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };

    // One node killed without warning a third of the way, started again two seconds later.
    let third = fans / 3;
    while done.load(Ordering::Relaxed) < third && !set.is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if started.elapsed() > Duration::from_secs(600) {
            bail!("the sale did not get a third of the way in 10 minutes");
        }
    }
    let killed_at = started.elapsed();
    nodes.kill(1).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    nodes.start(1).await?;
    let back_at = started.elapsed();
    while set.join_next().await.is_some() {}
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let _ = prober.await;

    // The outbox: the draw queued a mail per fan; give the nodes a moment, then count.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mails = count_mails(root.path());
    let twice = mails.values().filter(|&&n| n > 1).count();

    let tally = std::mem::take(&mut *tally.lock().expect("tally"));
    let paid: usize = tally.orders_per_node.iter().sum();
    let figures = app.store.sales_figures(app.now()).await?;
    let session = app.store.session("ATH01").await?.context("hot session")?;
    let cat = &session.categories[0];
    let numbers: HashSet<u64> = tally.numbers.values().copied().collect();
    let codes: HashSet<&String> = tally.codes.values().collect();
    let oversell_ok = cat.sold <= cat.quota && figures.tickets_sold == cat.sold && cat.held == 0;
    let lost_ok = figures.paid_orders as usize == codes.len() && codes.len() == paid;
    let places_ok = numbers.len() == tally.numbers.len();
    let mail_ok = twice == 0;

    println!(
        "sale: {paid} paid orders in {:.2} s = {:.0} paid orders/s; node 1 killed at {:.1} s, serving again at {:.1} s; {} refused sold out, {} errors",
        elapsed.as_secs_f64(),
        paid as f64 / elapsed.as_secs_f64(),
        killed_at.as_secs_f64(),
        back_at.as_secs_f64(),
        tally.sold_out,
        tally.errors.len()
    );
    for (i, n) in tally.orders_per_node.iter().enumerate() {
        println!("  node {i}: {n} paid orders = {:.0}/s", *n as f64 / elapsed.as_secs_f64());
    }
    let times = std::mem::take(&mut *propagation.lock().expect("times"));
    for kind in ["decision", "sign-out"] {
        let mut v: Vec<Duration> = times.iter().filter(|(k, _)| k == kind).map(|(_, t)| *t).collect();
        v.sort();
        if v.is_empty() {
            println!("{kind} propagation: no probe completed");
            continue;
        }
        println!(
            "{kind} propagation to every other node ({} probes): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            v.len(),
            ms(pct(&v, 0.5)),
            ms(pct(&v, 0.99)),
            ms(*v.last().expect("non-empty"))
        );
    }
    println!(
        "checks: oversell {} (quota {}, sold {}, held {}, tickets {}); paid orders lost {} (answered {}, in the store {}); fans with two places {} ({} numbers for {} fans); mails sent twice {} ({} recipients mailed)",
        if oversell_ok { "PASSED" } else { "FAILED" },
        cat.quota,
        cat.sold,
        cat.held,
        figures.tickets_sold,
        if lost_ok { "none: PASSED" } else { "FAILED" },
        codes.len(),
        figures.paid_orders,
        if places_ok { "none: PASSED" } else { "FAILED" },
        numbers.len(),
        tally.numbers.len(),
        if mail_ok { "none: PASSED" } else { "FAILED" },
        mails.len()
    );
    for e in tally.errors.iter().take(5) {
        println!("  error: {e}");
    }
    for i in 0..NODES {
        nodes.kill(i).await;
    }
    if !(oversell_ok && lost_ok && places_ok && mail_ok) {
        bail!("a check failed");
    }
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// One fan: joins the room on a node, waits for its turn, buys one ticket; moves to another
/// node whenever the one it asks is down, keeping its idempotency key.
async fn fan(http: &reqwest::Client, nodes: &Nodes, tally: &Mutex<Tally>, i: usize, token: &str, category: i64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut n = i;
    let note = |e: String| tally.lock().expect("tally").errors.push(e);
    let retry = |n: &mut usize| *n += 1;
    // Join.
    let mut ticket = loop {
        if Instant::now() > deadline {
            return note(format!("fan {i}: no place in 2 minutes"));
        }
        let node = nodes.pick(n);
        let r = http
            .post(format!("{}/api/v1/phases/BENCH/queue", nodes.base(node)))
            .bearer_auth(token)
            .json(&json!({}))
            .send()
            .await;
        match r {
            Ok(r) if r.status().is_success() => {
                let v: Value = r.json().await.unwrap_or_default();
                break v["ticket"].as_str().unwrap_or_default().to_string();
            }
            Ok(r) if r.status() == 503 => retry(&mut n),
            Ok(r) => return note(format!("join: {} {}", r.status(), r.text().await.unwrap_or_default())),
            Err(_) => retry(&mut n),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Wait for the pass, asking whichever node.
    let pass = loop {
        if Instant::now() > deadline {
            return note(format!("fan {i}: not admitted in 2 minutes"));
        }
        let node = nodes.pick(n);
        let r = http
            .get(format!("{}/api/v1/phases/BENCH/queue/status", nodes.base(node)))
            .bearer_auth(token)
            .header("Tessera-Queue", &ticket)
            .send()
            .await;
        match r {
            Ok(r) if r.status().is_success() => {
                let v: Value = r.json().await.unwrap_or_default();
                if let Some(t) = v["ticket"].as_str() {
                    ticket = t.to_string();
                }
                if let Some(number) = v["number"].as_u64() {
                    tally.lock().expect("tally").numbers.insert(i, number);
                }
                if let Some(p) = v["pass"].as_str() {
                    break p.to_string();
                }
            }
            Ok(r) if r.status() == 503 => retry(&mut n),
            Ok(r) => return note(format!("status: {} {}", r.status(), r.text().await.unwrap_or_default())),
            Err(_) => retry(&mut n),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Buy, with one key whatever the node.
    let body = json!({"items": [{"category_id": category, "quantity": 1}],
                      "card": {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2099, "cvc": "123", "holder": "Fan"}});
    loop {
        if Instant::now() > deadline {
            return note(format!("fan {i}: no answer to the purchase in 2 minutes"));
        }
        let node = nodes.pick(n);
        let r = http
            .post(format!("{}/api/v1/phases/BENCH/orders", nodes.base(node)))
            .bearer_auth(token)
            .header("Tessera-Admission", &pass)
            .header("Idempotency-Key", format!("cluster-{i}"))
            .json(&body)
            .send()
            .await;
        match r {
            Ok(r) if r.status() == 201 => {
                let v: Value = r.json().await.unwrap_or_default();
                let mut t = tally.lock().expect("tally");
                t.orders_per_node[node] += 1;
                t.codes.insert(i, v["code"].as_str().unwrap_or_default().to_string());
                return;
            }
            Ok(r) if r.status() == 409 => {
                tally.lock().expect("tally").sold_out += 1;
                return;
            }
            Ok(r) if matches!(r.status().as_u16(), 503 | 429) => retry(&mut n),
            Ok(r) => return note(format!("buy: {} {}", r.status(), r.text().await.unwrap_or_default())),
            Err(_) => retry(&mut n),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Blocks `address` on node `from`, then returns how long until every other live node refuses it.
async fn block_and_time(nodes: &Nodes, from: usize, ops: &str, address: [u8; 4]) -> anyhow::Result<Duration> {
    let value = std::net::Ipv4Addr::from(address).to_string();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
    let r = http
        .post(format!("{}/api/v1/admin/edge/decisions", nodes.base(from)))
        .bearer_auth(ops)
        .json(&json!({"scope": "address", "value": value, "kind": "block", "duration_secs": 600, "reason": "bench"}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("decision refused: {}", r.status());
    }
    let since = Instant::now();
    let probe = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .local_address(std::net::IpAddr::from(address))
        .build()?;
    wait_all(nodes, from, since, |base| {
        let probe = probe.clone();
        async move { matches!(probe.get(format!("{base}/api/v1/phases")).send().await, Ok(r) if r.status() == 403) }
    })
    .await
}

/// Signs `token` out on node `from` (after the others cached it), then returns how long until
/// every other live node refuses it.
async fn sign_out_and_time(nodes: &Nodes, from: usize, token: &str) -> anyhow::Result<Duration> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
    for k in (0..NODES).filter(|&k| k != from && nodes.alive[k].load(Ordering::SeqCst)) {
        http.get(format!("{}/api/v1/me", nodes.base(k))).bearer_auth(token).send().await?;
    }
    let r = http.post(format!("{}/api/v1/auth/logout", nodes.base(from))).bearer_auth(token).send().await?;
    if !r.status().is_success() {
        bail!("sign-out refused: {}", r.status());
    }
    let since = Instant::now();
    let token = token.to_string();
    wait_all(nodes, from, since, |base| {
        let (http, token) = (http.clone(), token.clone());
        async move {
            matches!(http.get(format!("{base}/api/v1/me")).bearer_auth(&token).send().await, Ok(r) if r.status() == 401)
        }
    })
    .await
}

async fn wait_all<F, Fut>(nodes: &Nodes, from: usize, since: Instant, enforced: F) -> anyhow::Result<Duration>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut pending: Vec<usize> = (0..NODES).filter(|&k| k != from).collect();
    while !pending.is_empty() {
        if since.elapsed() > Duration::from_secs(10) {
            bail!("not enforced on nodes {pending:?} after 10 s");
        }
        let mut still = Vec::new();
        for k in pending {
            // A node that is down enforces nothing and is not waited for.
            if nodes.alive[k].load(Ordering::SeqCst) && !enforced(nodes.base(k)).await {
                still.push(k);
            }
        }
        pending = still;
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    Ok(since.elapsed())
}

/// Mail files per recipient across the nodes' mail directories.
fn count_mails(root: &Path) -> HashMap<String, usize> {
    let mut per = HashMap::new();
    for i in 0..NODES {
        for e in std::fs::read_dir(root.join(format!("node{i}")).join("mail")).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            // `<millis>-<counter>-<recipient>.eml`
            if let Some(recipient) = name.splitn(3, '-').nth(2) {
                *per.entry(recipient.to_string()).or_insert(0) += 1;
            }
        }
    }
    per
}
