//! `kill -9` in the middle of a sale, as a process: buyers keep buying (each retrying its own
//! idempotency key through refused connections and 503s), the server is killed without warning
//! and started again on the same data directory, and then every purchase must have answered
//! with exactly one order, every order must have exactly one captured payment, nothing else may
//! be left charged, and `tessera admin reconcile` must find no disagreement.

mod common;

use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

const FANS: usize = 24;
const PURCHASES_EACH: usize = 5;

/// A `tessera serve` process on `dir` (and the PostgreSQL database `db`, if given); its base
/// URL once it printed it.
async fn serve(dir: &Path, db: Option<&str>) -> (tokio::process::Child, String) {
    match db {
        Some(url) => common::serve(dir, &["--database-url", url]).await,
        None => common::serve(dir, &[]).await,
    }
}

/// Fans drawn in a phase whose slots are open now, for a session tomorrow: set up through the
/// use cases on the data directory the server will open. Returns the fans' and an operator's
/// sign-in tokens, the phase and the price category.
async fn prepare(dir: &Path, db: Option<&str>) -> (Vec<String>, String, String, i64) {
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    std::fs::write(dir.join("secret.key"), key).unwrap();
    let store: Arc<dyn tessera_store::Store> = match db {
        Some(url) => Arc::new(tessera_store_postgres::PgStore::connect(url).await.unwrap()),
        None => Arc::new(
            tessera_store_sqlite::SqliteStore::open(dir.join("tessera.db"), tessera_store_sqlite::Durability::Full)
                .unwrap(),
        ),
    };
    let app = common::use_cases(store, key);
    let (_, session, phase, _) = app.live_venue(86_400).await.unwrap();
    let (fans, ops) = common::drawn_phase(&app, &phase, "Kill test", FANS, "k").await;
    let category = app.store.session(&session).await.unwrap().unwrap().categories[0].id.0;
    (fans, ops, phase, category)
}

/// Buys once under `key`, retrying through connection failures and 503s (the server may be
/// dead or starting) and 429s until a final answer, which must be the order.
async fn buy(
    http: &reqwest::Client,
    base: &RwLock<String>,
    token: &str,
    phase: &str,
    key: &str,
    body: &Value,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "purchase {key} got no final answer in 2 minutes");
        let url = format!("{}/api/v1/phases/{phase}/orders", base.read().unwrap());
        let sent = http.post(url).bearer_auth(token).header("Idempotency-Key", key).json(body).send().await;
        match sent {
            Ok(r) if r.status() == reqwest::StatusCode::CREATED => return r.json().await.unwrap(),
            // Not final: the server is starting or busy, or asks this address to slow down.
            Ok(r) if matches!(r.status().as_u16(), 503 | 429) => {}
            Ok(r) => panic!("purchase {key}: {} {}", r.status(), r.text().await.unwrap_or_default()),
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_killed_mid_sale_leaves_every_order_paid_once_on_sqlite() {
    killed_mid_sale(None).await;
}

/// The same on PostgreSQL, in a database of its own (made with `psql`, dropped after).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_killed_mid_sale_leaves_every_order_paid_once_on_postgres() {
    let Ok(url) = std::env::var("TESSERA_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED a_server_killed_mid_sale_leaves_every_order_paid_once_on_postgres: TESSERA_TEST_POSTGRES_URL is not set");
        return;
    };
    let name = format!("kill_{}", tessera_app::random_hex(6));
    let psql = |sql: String| {
        let out = std::process::Command::new("psql").args([url.as_str(), "-Atqc", &sql]).output().expect("psql runs");
        assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
    };
    // Another test creating its database at the same moment holds template1 ("being
    // accessed by other users"): try again for a while.
    for attempt in 0.. {
        let out = std::process::Command::new("psql")
            .args([url.as_str(), "-Atqc", &format!("CREATE DATABASE {name}")])
            .output()
            .expect("psql runs");
        if out.status.success() {
            break;
        }
        assert!(attempt < 50, "CREATE DATABASE {name}: {}", String::from_utf8_lossy(&out.stderr));
        std::thread::sleep(Duration::from_millis(200));
    }
    // The same server and credentials, another database.
    let db_url = match url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => panic!("TESSERA_TEST_POSTGRES_URL names no database: {url}"),
    };
    killed_mid_sale(Some(db_url)).await;
    psql(format!("DROP DATABASE {name} WITH (FORCE)"));
}

async fn killed_mid_sale(db: Option<String>) {
    let db = db.as_deref();
    let dir = tempfile::tempdir().unwrap();
    let (fans, ops, phase, category) = prepare(dir.path(), db).await;
    let (mut child, first) = serve(dir.path(), db).await;
    let base = Arc::new(RwLock::new(first));
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let body = json!({"items": [{"category_id": category, "quantity": 1}],
                      "card": {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2099, "cvc": "123", "holder": "Fan"}});
    let done = Arc::new(AtomicUsize::new(0));

    let mut buyers = Vec::new();
    for (i, token) in fans.iter().enumerate() {
        // Each fan from an address of its own, as fans are: the per-address limit is not under test.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .local_address(std::net::IpAddr::from([127, 0, 20, i as u8 + 1]))
            .build()
            .unwrap();
        let (base, token, phase, body, done) = (base.clone(), token.clone(), phase.clone(), body.clone(), done.clone());
        buyers.push(tokio::spawn(async move {
            let mut orders = Vec::new();
            for n in 0..PURCHASES_EACH {
                let key = format!("kill-{i}-{n}");
                let order = buy(&http, &base, &token, &phase, &key, &body).await;
                orders.push((key, order["code"].as_str().unwrap().to_string()));
                done.fetch_add(1, Ordering::Relaxed);
            }
            orders
        }));
    }
    // Kill once about a third of the purchases have answered: the rest are in flight or queued.
    let total = FANS * PURCHASES_EACH;
    let started = Instant::now();
    while done.load(Ordering::Relaxed) < total / 3 {
        assert!(started.elapsed() < Duration::from_secs(60), "the sale did not get going");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let answered_before_kill = done.load(Ordering::Relaxed);
    let (mut child, second) = serve(dir.path(), db).await;
    *base.write().unwrap() = second.clone();

    let mut orders = Vec::new();
    for b in buyers {
        orders.extend(b.await.unwrap());
    }
    assert!(answered_before_kill < total, "the kill came after the sale: nothing was in flight");
    let codes: std::collections::HashSet<&str> = orders.iter().map(|(_, c)| c.as_str()).collect();
    assert_eq!(codes.len(), total, "every purchase is its own order");

    // Every key replays its order after the restart.
    for (i, token) in fans.iter().enumerate() {
        let key = format!("kill-{i}-0");
        let again = buy(&http, &base, token, &phase, &key, &body).await;
        let first = &orders.iter().find(|(k, _)| *k == key).unwrap().1;
        assert_eq!(again["code"].as_str(), Some(first.as_str()), "{key} replays its order");
    }

    // The worker finishes what the kill left (captures after the commit, voids of
    // authorisations that sold nothing) within seconds.
    let deadline = Instant::now() + Duration::from_secs(90);
    let payments = loop {
        let p: Value = http
            .get(format!("{second}/api/v1/admin/payments"))
            .bearer_auth(&ops)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if p["pending"] == 0 {
            break p;
        }
        assert!(Instant::now() < deadline, "payments still pending after 90 s: {p}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let count = |state: &str| {
        payments["by_state"].as_array().unwrap().iter().find(|s| s["state"] == state).unwrap()["count"]
            .as_i64()
            .unwrap()
    };
    let sales: Value =
        http.get(format!("{second}/api/v1/admin/sales")).bearer_auth(&ops).send().await.unwrap().json().await.unwrap();
    assert_eq!(sales["paid_orders"].as_i64(), Some(total as i64), "{sales}");
    assert_eq!(count("captured"), total as i64, "one captured payment per order: {payments}");
    assert_eq!(count("refunded"), 0, "{payments}");

    // Reconciliation, as an operator runs it, against the provider's own journal.
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let mut reconcile = tokio::process::Command::new(env!("CARGO_BIN_EXE_tessera"));
    reconcile.args(["admin", "--data-dir"]).arg(dir.path());
    if let Some(url) = db {
        reconcile.args(["--database-url", url]);
    }
    let out = reconcile.arg("reconcile").env("TESSERA_LOG", "warn").output().await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "reconcile: {text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains(": 0 disagreements"), "{text}");
}
