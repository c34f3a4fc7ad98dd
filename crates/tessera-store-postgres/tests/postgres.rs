//! What only a shared database can get wrong, beyond the conformance suite: nodes starting
//! together, several sweepers racing buyers, and the import at Paris scale. Runs when
//! `TESSERA_TEST_POSTGRES_URL` is set, like the conformance suite.

use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_domain::lottery::{Seed, SlotAssignment};
use tessera_domain::*;
use tessera_store::testsuite::{category_id, fixture, T0};
use tessera_store::*;
use tessera_store_postgres::PgStore;

fn url() -> Option<String> {
    let url = std::env::var("TESSERA_TEST_POSTGRES_URL").unwrap_or_default();
    if url.trim().is_empty() {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: TESSERA_TEST_POSTGRES_URL is not set; PostgreSQL-specific tests did not run"
        );
        return None;
    }
    Some(url)
}

fn fresh_schema() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    h.write_u32(std::process::id());
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("t_{:016x}", h.finish())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_starting_together_migrate_once() {
    let Some(url) = url() else { return };
    let schema = fresh_schema();
    let nodes: Vec<_> = (0..6)
        .map(|_| {
            let (url, schema) = (url.clone(), schema.clone());
            tokio::spawn(async move { PgStore::connect_with_schema(&url, &schema).await })
        })
        .collect();
    for n in nodes {
        let store = n.await.unwrap().expect("every node starts");
        store.ping().await.unwrap();
    }
    assert!(PgStore::connect_with_schema(&url, "Robert'); DROP TABLE x;--").await.is_err(), "schema names are not SQL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn paris_scale_catalogue_imports_in_one_go() {
    let Some(url) = url() else { return };
    let store = PgStore::connect_with_schema(&url, &fresh_schema()).await.unwrap();
    let cat = tessera_domain::catalogue::demo::generate(2024);
    let started = Instant::now();
    let stats = store.import_catalogue(&cat).await.unwrap();
    let took = started.elapsed();
    assert_eq!(
        (stats.venues, stats.sessions, stats.categories, stats.seats),
        (cat.venues.len() as i64, cat.sessions.len() as i64, cat.categories.len() as i64, cat.total_seats())
    );
    assert!(took < Duration::from_secs(20), "import took {took:?}");
    let all = store.list_sessions(&SessionFilter { limit: 1000, ..Default::default() }).await.unwrap();
    assert_eq!(all.len(), cat.sessions.len().min(1000));
    assert!(all.windows(2).all(|w| (w[0].starts_at, &w[0].code) <= (w[1].starts_at, &w[1].code)));
    // The whole catalogue again: refused as a whole, nothing added.
    assert!(matches!(store.import_catalogue(&cat).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.catalogue_stats().await.unwrap(), stats);
}

/// Sweepers of several nodes, buyers taking the seats of expired carts and payments finishing
/// all run at once; afterwards every seat is accounted for exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sweepers_racing_buyers_lose_no_seat() {
    let Some(url) = url() else { return };
    let store: Arc<dyn Store> = Arc::new(PgStore::connect_with_schema(&url, &fresh_schema()).await.unwrap());
    store.import_catalogue(&fixture()).await.unwrap();
    let cat = category_id(&*store, "ATH01", "CAT-A").await; // quota 100
    let other = category_id(&*store, "ATH01", "CAT-B").await;
    let mut accounts = Vec::new();
    for n in 0..200 {
        let a = store
            .create_account(&NewAccount {
                email: Email::parse(&format!("fan{n}@example.org")).unwrap(),
                password_hash: "x".into(),
                display_name: format!("Fan {n}"),
                role: Role::Fan,
                now: T0,
            })
            .await
            .unwrap();
        accounts.push(a.id);
    }
    let seed = Seed([7; 32]);
    let phase = store.create_phase("P1", "Phase", &PhaseSettings::default()).await.unwrap();
    store.open_registration(phase.id, &seed.to_hex(), &seed.commitment(), T0).await.unwrap();
    let slots = accounts
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let slot = SlotAssignment {
                entry_code: format!("E{i:012X}"),
                rank: i + 1,
                wave: 1,
                starts_at: T0,
                ends_at: T0.plus_secs(48 * 3600),
            };
            (*a, slot)
        })
        .collect();
    store.close_registration(phase.id, T0).await.unwrap();
    store.record_draw(&DrawRecord { phase_id: phase.id, seed_hex: seed.to_hex(), drawn_at: T0, slots }).await.unwrap();
    let reserve = |a: AccountId, category: CategoryId, now: Timestamp| ReserveRequest {
        account: a,
        phase: phase.id,
        category,
        qty: 1,
        caps: phase.settings.caps,
        cart_ttl_secs: phase.settings.cart_ttl_secs,
        now,
    };

    // The first hundred fill the category (and a line elsewhere, so that releases span two
    // categories); every other one starts paying.
    let mut paying = Vec::new();
    for (i, a) in accounts[..100].iter().enumerate() {
        store.reserve(&reserve(*a, other, T0)).await.unwrap();
        let cart = store.reserve(&reserve(*a, cat, T0)).await.unwrap();
        if i % 2 == 0 {
            let b = BeginCheckout {
                account: *a,
                cart: cart.id,
                phase: cart.phase_id,
                idempotency_key: format!("k{i}"),
                request_hash: "h".into(),
                pay_window_secs: 120,
                min_sessions_per_order: 1,
                now: T0,
            };
            assert!(matches!(store.begin_checkout(&b).await.unwrap(), BeginOutcome::Started(_)));
            paying.push((*a, cart.id, format!("k{i}")));
        }
    }

    let later = T0.plus_secs(phase.settings.cart_ttl_secs);
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut released = 0;
            loop {
                match store.release_expired(later).await.unwrap() {
                    0 => return Ok::<u64, StoreError>(released),
                    n => released += n,
                }
            }
        }));
    }
    for a in &accounts[100..] {
        let (store, r) = (store.clone(), reserve(*a, cat, later));
        tasks.push(tokio::spawn(async move {
            match store.reserve(&r).await {
                Ok(_) => Ok(0),
                Err(StoreError::SoldOut { .. }) => Ok(0),
                Err(e) => Err(e),
            }
        }));
    }
    for (i, (a, cart, key)) in paying.into_iter().enumerate() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let done = CompleteCheckout {
                account: a,
                cart,
                idempotency_key: key,
                order_code: format!("ORD-{i}"),
                payment_ref: format!("pay-{i}"),
                ticket_codes: (0..4).map(|t| format!("T-{i}-{t}")).collect(),
                now: later,
            };
            match store.complete_checkout(&done).await {
                Ok(_) | Err(StoreError::CartExpired) => Ok(0),
                Err(e) => Err(e),
            }
        }));
    }
    for t in tasks {
        t.await.unwrap().expect("only sold-out or expired refusals");
    }

    // Everything still held runs out; what is left is exactly what was paid for.
    while store.release_expired(later.plus_secs(100_000)).await.unwrap() > 0 {}
    let s = store.session("ATH01").await.unwrap().unwrap();
    let tickets = store.sales_figures(later).await.unwrap().tickets_sold;
    let sold: i64 = s.categories.iter().map(|c| c.sold).sum();
    assert!(s.categories.iter().all(|c| c.held == 0), "{s:?}");
    assert!(s.categories.iter().all(|c| c.available == c.quota - c.sold));
    assert_eq!(sold, tickets);
}
