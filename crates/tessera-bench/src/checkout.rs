//! `tessera bench checkout`: many HTTP clients buy on one hot session until it sells out.

use crate::common::*;
use anyhow::{bail, Context};
use clap::Args;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_app::{App, AppConfig, SystemClock};
use tessera_payments::{SandboxConfig, SandboxProvider};
use tessera_store::Store;

#[derive(Args, Clone)]
pub(crate) struct CheckoutArgs {
    /// Concurrent HTTP clients (each one keep-alive connection).
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Seats in the hot session's single price category.
    #[arg(long, default_value_t = 20_000)]
    quota: i64,
    /// Tickets per order.
    #[arg(long, default_value_t = 1)]
    tickets_per_order: i64,
    /// Independent runs, each on a fresh store; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// `postgres://...` to measure PostgreSQL; default: the embedded SQLite store in a temporary directory.
    #[arg(long, env = "TESSERA_BENCH_DATABASE_URL")]
    database_url: Option<String>,
    /// SQLite commit durability: `full` (survives power loss, the default) or `normal`
    /// (survives a crash of the process).
    #[arg(long, default_value = "full", value_parser = ["full", "normal"])]
    sqlite_sync: String,
    /// `buy-now`: one request per order (hold and pay, `POST /phases/{code}/orders`);
    /// `cart`: two (`POST .../cart/items`, then `POST .../checkout`), as the shop's pages do.
    #[arg(long, default_value = "buy-now", value_parser = ["buy-now", "cart"])]
    flow: String,
}

struct RunResult {
    paid: usize,
    refused_sold_out: usize,
    errors: usize,
    elapsed: Duration,
    order_latencies: Vec<Duration>,
    request_latencies: Vec<Duration>,
    oversell_ok: bool,
    check: String,
}

pub(crate) async fn run(a: CheckoutArgs) -> anyhow::Result<()> {
    if a.clients == 0 || a.quota <= 0 || !(1..=6).contains(&a.tickets_per_order) || a.runs == 0 {
        bail!("--clients, --quota and --runs must be positive, --tickets-per-order 1 to 6");
    }
    let backend = if a.database_url.is_some() { "postgres" } else { "sqlite" };
    println!(
        "bench checkout: {backend} store, {} flow, {} clients, quota {} seats, {} ticket(s) per order, {} run(s); machine: {} cores",
        a.flow,
        a.clients,
        a.quota,
        a.tickets_per_order,
        a.runs,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    let mut results = Vec::new();
    for run in 1..=a.runs {
        let r = one_run(&a).await?;
        let rate = r.paid as f64 / r.elapsed.as_secs_f64();
        println!(
            "run {run}: {} paid orders in {:.2} s = {:.0} paid orders/s; order p50 {:.1} ms p99 {:.1} ms; request p50 {:.1} ms p99 {:.1} ms; {} refused sold out, {} errors; oversell check: {}",
            r.paid,
            r.elapsed.as_secs_f64(),
            rate,
            ms(pct(&r.order_latencies, 0.50)),
            ms(pct(&r.order_latencies, 0.99)),
            ms(pct(&r.request_latencies, 0.50)),
            ms(pct(&r.request_latencies, 0.99)),
            r.refused_sold_out,
            r.errors,
            r.check
        );
        results.push(r);
    }
    results.sort_by(|x, y| {
        let rx = x.paid as f64 / x.elapsed.as_secs_f64();
        let ry = y.paid as f64 / y.elapsed.as_secs_f64();
        rx.total_cmp(&ry)
    });
    let m = &results[results.len() / 2];
    println!(
        "median: {:.0} paid orders/s, order p50 {:.1} ms, p99 {:.1} ms ({backend}); oversell check {}",
        m.paid as f64 / m.elapsed.as_secs_f64(),
        ms(pct(&m.order_latencies, 0.50)),
        ms(pct(&m.order_latencies, 0.99)),
        if results.iter().all(|r| r.oversell_ok) { "PASSED in every run" } else { "FAILED" }
    );
    if results.iter().any(|r| !r.oversell_ok || r.errors > 0) {
        bail!("a run oversold or had errors");
    }
    Ok(())
}

async fn open_bench_store(a: &CheckoutArgs, dir: &std::path::Path) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match &a.database_url {
        Some(url) => {
            let schema = format!("bench_{}", tessera_app::random_hex(6));
            Arc::new(tessera_store_postgres::PgStore::connect_with_schema(url, &schema).await.context("PostgreSQL")?)
        }
        None => {
            let durability = if a.sqlite_sync == "normal" {
                tessera_store_sqlite::Durability::Normal
            } else {
                tessera_store_sqlite::Durability::Full
            };
            Arc::new(tessera_store_sqlite::SqliteStore::open(dir.join("bench.db"), durability)?)
        }
    })
}

async fn one_run(a: &CheckoutArgs) -> anyhow::Result<RunResult> {
    let dir = tempfile::tempdir()?;
    let store = open_bench_store(a, dir.path()).await?;
    // Journalled, as `tessera serve` runs it: its writes are part of what an order costs.
    let payments =
        Arc::new(SandboxProvider::open(dir.path().join("payments-sandbox.jsonl"), SandboxConfig::default())?);
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    let mut config = AppConfig::new(key, "http://127.0.0.1");
    config.edge_limits = unlimited_edge();
    let app = App::new(store.clone(), payments.clone(), Arc::new(SystemClock), config);

    // Setup, not measured: the hot session, the buyers, a drawn phase giving each an open slot.
    let setup = Instant::now();
    let orders_possible = (a.quota + a.tickets_per_order - 1) / a.tickets_per_order;
    // 10% more buyers than seats, so that the run ends on real sold-out refusals.
    let buyers = (orders_possible as usize) * 11 / 10 + a.clients;
    let (category, accounts) = drawn_buyers(&app, a.quota, buyers).await?;
    let tokens = sessions_for(&app, accounts).await?;
    let setup_secs = setup.elapsed().as_secs_f64();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let state = tessera_http::AppState::new(app.clone(), false, None);
    let server = tokio::spawn(tessera_http::serve::serve_with(listener, state, bench_serve_limits(), async move {
        let _ = stop_rx.await;
    }));

    let client =
        reqwest::Client::builder().pool_max_idle_per_host(a.clients).timeout(Duration::from_secs(30)).build()?;
    let base = format!("http://{addr}/api/v1/phases/BENCH");
    let tokens = Arc::new(tokens);
    let next = Arc::new(AtomicUsize::new(0));
    let sold_out = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..a.clients {
        let (client, base, tokens, next, sold_out) =
            (client.clone(), base.clone(), tokens.clone(), next.clone(), sold_out.clone());
        let qty = a.tickets_per_order;
        let buy_now = a.flow == "buy-now";
        set.spawn(async move {
            let mut r = ClientTally::default();
            while !sold_out.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(token) = tokens.get(i) else { break };
                let t0 = Instant::now();
                let card = serde_json::json!({"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2099, "cvc": "123", "holder": "Bench Buyer"});
                let item = serde_json::json!({"category_id": category.0, "quantity": qty});
                let paid = if buy_now {
                    client
                        .post(format!("{base}/orders"))
                        .bearer_auth(token)
                        .header("Idempotency-Key", format!("bench-{i}"))
                        .json(&serde_json::json!({"items": [item], "card": card}))
                        .send()
                        .await
                } else {
                    let resp = client.post(format!("{base}/cart/items")).bearer_auth(token).json(&item).send().await;
                    r.requests.push(t0.elapsed());
                    let cart: serde_json::Value = match resp {
                        Ok(resp) if resp.status().is_success() => resp.json().await.unwrap_or_default(),
                        Ok(resp) if resp.status() == reqwest::StatusCode::CONFLICT => {
                            r.sold_out += 1;
                            sold_out.store(true, Ordering::Relaxed);
                            break;
                        }
                        Ok(resp) => {
                            r.note_error(format!("cart: {} {}", resp.status(), resp.text().await.unwrap_or_default()));
                            continue;
                        }
                        Err(e) => {
                            r.note_error(format!("cart: {e}"));
                            continue;
                        }
                    };
                    client
                        .post(format!("{base}/checkout"))
                        .bearer_auth(token)
                        .header("Idempotency-Key", format!("bench-{i}"))
                        .json(&serde_json::json!({"cart_id": cart["id"], "card": card}))
                        .send()
                        .await
                };
                let t1 = Instant::now();
                r.requests.push(if buy_now { t1 - t0 } else { t1 - t0 - *r.requests.last().expect("cart request timed") });
                match paid {
                    Ok(resp) if resp.status() == reqwest::StatusCode::CREATED => {
                        r.paid += 1;
                        r.orders.push(t1 - t0);
                        r.last_paid = Some(t1);
                    }
                    Ok(resp) if resp.status() == reqwest::StatusCode::CONFLICT => {
                        let body = resp.text().await.unwrap_or_default();
                        if body.contains("sold_out") {
                            r.sold_out += 1;
                            sold_out.store(true, Ordering::Relaxed);
                            break;
                        }
                        r.note_error(format!("order: 409 {body}"));
                    }
                    Ok(resp) => r.note_error(format!("order: {} {}", resp.status(), resp.text().await.unwrap_or_default())),
                    Err(e) => r.note_error(format!("order: {e}")),
                }
            }
            r
        });
    }
    let mut total = ClientTally::default();
    while let Some(r) = set.join_next().await {
        total.merge(r?);
    }
    let elapsed = total.last_paid.map(|t| t - started).unwrap_or_default();
    let _ = stop_tx.send(());
    let _ = server.await;

    // The oversell check reads the store, not the clients' word.
    let s = store.session("ATH01").await?.context("hot session")?;
    let c = &s.categories[0];
    let figures = store.sales_figures(app.now()).await?;
    let sold_by_clients = total.paid as i64 * a.tickets_per_order;
    let oversell_ok = c.sold <= c.quota
        && c.sold == sold_by_clients
        && figures.tickets_sold == c.sold
        && figures.paid_orders == total.paid as i64
        && payments.capture_count() == total.paid
        && c.held == 0;
    let check = format!(
        "{} (quota {}, sold {}, held {}, tickets {}, paid orders {}, captures {})",
        if oversell_ok { "PASSED" } else { "FAILED" },
        c.quota,
        c.sold,
        c.held,
        figures.tickets_sold,
        figures.paid_orders,
        payments.capture_count()
    );
    if let Some(e) = &total.first_error {
        eprintln!("first error: {e}");
    }
    tracing::debug!(setup_secs, "bench run done");
    Ok(RunResult {
        paid: total.paid,
        refused_sold_out: total.sold_out,
        errors: total.errors,
        elapsed,
        order_latencies: total.orders,
        request_latencies: total.requests,
        oversell_ok,
        check,
    })
}

#[derive(Default)]
struct ClientTally {
    paid: usize,
    sold_out: usize,
    errors: usize,
    first_error: Option<String>,
    orders: Vec<Duration>,
    requests: Vec<Duration>,
    last_paid: Option<Instant>,
}

impl ClientTally {
    fn note_error(&mut self, e: String) {
        self.errors += 1;
        self.first_error.get_or_insert(e);
    }
    fn merge(&mut self, o: ClientTally) {
        self.paid += o.paid;
        self.sold_out += o.sold_out;
        self.errors += o.errors;
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
        self.orders.extend(o.orders);
        self.requests.extend(o.requests);
        self.last_paid = self.last_paid.max(o.last_paid);
    }
}
