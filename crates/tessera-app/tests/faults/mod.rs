//! Money and tickets under faults: random sequences of purchases (buy-now, cart checkout,
//! resale) through a provider that fails, loses answers and hangs, a store whose writes fail
//! or lose their answers (`store.rs`), clients that hang up, and restarts of the whole process; then the worker and reconciliation get a bounded time, and
//! every paid order must have exactly one captured payment, every other authorisation must be
//! released, and reconciliation must find nothing.

pub(crate) mod store;

use super::*;
use proptest::prelude::*;
use std::sync::atomic::{AtomicU8, Ordering};
use tessera_payments::{
    Authorization, AuthorizeRequest, Capture, PaymentError, PaymentProvider, ProviderRecord, Refund,
};

/// What the provider does to the next calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    /// Capture, void and refund answer `Unavailable` without doing anything.
    Down,
    /// Capture, void and refund happen, but their answer is lost (`Timeout`).
    LostAnswer,
    /// Capture, void and refund never answer (the caller gives up or hangs up).
    Hang,
    /// Authorisations happen, but their answer is lost: the purchase must not happen, and
    /// the authorisation is an orphan that reconciliation releases.
    AuthorizeLost,
}

/// The journalled sandbox behind a switch of faults.
struct FaultyProvider {
    inner: SandboxProvider,
    fault: AtomicU8,
}

impl FaultyProvider {
    fn fault(&self) -> Fault {
        match self.fault.load(Ordering::SeqCst) {
            1 => Fault::Down,
            2 => Fault::LostAnswer,
            3 => Fault::Hang,
            4 => Fault::AuthorizeLost,
            _ => Fault::None,
        }
    }

    async fn faulty<T>(
        &self,
        step: impl std::future::Future<Output = Result<T, PaymentError>>,
    ) -> Result<T, PaymentError> {
        match self.fault() {
            Fault::None | Fault::AuthorizeLost => step.await,
            Fault::Down => Err(PaymentError::Unavailable("injected".into())),
            Fault::LostAnswer => {
                let _ = step.await;
                Err(PaymentError::Timeout)
            }
            Fault::Hang => std::future::pending().await,
        }
    }
}

#[async_trait::async_trait]
impl PaymentProvider for FaultyProvider {
    fn name(&self) -> &'static str {
        "faulty sandbox"
    }
    async fn authorize(&self, req: &AuthorizeRequest) -> Result<Authorization, PaymentError> {
        // Authorisations lose their answer too: the purchase must then not happen, and the
        // authorisation is an orphan that reconciliation releases.
        match self.fault() {
            Fault::AuthorizeLost => {
                let _ = self.inner.authorize(req).await;
                Err(PaymentError::Timeout)
            }
            _ => self.inner.authorize(req).await,
        }
    }
    async fn capture(&self, id: &str) -> Result<Capture, PaymentError> {
        self.faulty(self.inner.capture(id)).await
    }
    async fn void(&self, id: &str) -> Result<(), PaymentError> {
        self.faulty(self.inner.void(id)).await
    }
    async fn refund(&self, id: &str, amount: tessera_domain::Cents, key: &str) -> Result<Refund, PaymentError> {
        self.faulty(self.inner.refund(id, amount, key)).await
    }
    async fn authorizations_since(&self, since: i64, limit: usize) -> Result<Vec<ProviderRecord>, PaymentError> {
        self.inner.authorizations_since(since, limit).await
    }
}

#[derive(Debug, Clone)]
enum Op {
    BuyNow {
        fan: usize,
        qty: i64,
    },
    Checkout {
        fan: usize,
        qty: i64,
    },
    /// The first fan's first ticket is listed, and another fan buys it.
    Resale {
        buyer: usize,
    },
    /// The same purchase retried with its key.
    Retry,
    /// The provider starts failing (or stops).
    Fault(u8),
    /// The store's writes start failing (`store::BEFORE`), or losing their answers after
    /// committing (`store::AFTER`), or stop (`store::NONE`).
    StoreFault(u8),
    /// The client of the next purchase hangs up after a moment.
    HangUp,
    /// The process dies and starts again on the same store and provider journal.
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, 1..3i64).prop_map(|(fan, qty)| Op::BuyNow { fan, qty }),
        2 => (0..3usize, 1..3i64).prop_map(|(fan, qty)| Op::Checkout { fan, qty }),
        1 => (1..3usize).prop_map(|buyer| Op::Resale { buyer }),
        2 => Just(Op::Retry),
        3 => (0..5u8).prop_map(Op::Fault),
        2 => (0..3u8).prop_map(Op::StoreFault),
        1 => Just(Op::HangUp),
        1 => Just(Op::Restart),
    ]
}

struct World {
    dir: tempfile::TempDir,
    backend: Backend,
    clock: Arc<ManualClock>,
    provider: Arc<FaultyProvider>,
    store_fault: Arc<AtomicU8>,
    app: App,
    fans: Vec<Principal>,
    category: CategoryId,
    /// The last purchase, for `Retry`: (fan, qty, key, cart flow).
    last: Option<(usize, i64, String, bool)>,
    hang_up_next: bool,
    listed: Option<i64>,
    keys: usize,
}

fn now_real() -> Timestamp {
    Timestamp(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64)
}

/// Where a world keeps its store: a SQLite file in its directory, or a PostgreSQL schema.
#[derive(Clone)]
enum Backend {
    Sqlite,
    Postgres { url: String, schema: String },
}

async fn open(
    dir: &std::path::Path,
    backend: &Backend,
    clock: Arc<ManualClock>,
    fault: u8,
    store_fault: Arc<AtomicU8>,
) -> (App, Arc<FaultyProvider>) {
    let inner: Arc<dyn Store> = match backend {
        Backend::Sqlite => Arc::new(
            tessera_store_sqlite::SqliteStore::open(dir.join("t.db"), tessera_store_sqlite::Durability::Normal)
                .unwrap(),
        ),
        Backend::Postgres { url, schema } => {
            Arc::new(tessera_store_postgres::PgStore::connect_with_schema(url, schema).await.unwrap())
        }
    };
    let store: Arc<dyn Store> = Arc::new(store::FaultyStore::new(inner, store_fault));
    let config = SandboxConfig {
        timeout: std::time::Duration::from_millis(20),
        slow_delay: std::time::Duration::from_millis(5),
        ..SandboxConfig::default()
    };
    let inner = SandboxProvider::open(dir.join("sandbox.jsonl"), config).unwrap();
    let provider = Arc::new(FaultyProvider { inner, fault: AtomicU8::new(fault) });
    let mut app_config = AppConfig::new([3; 32], "http://shop.test");
    app_config.password_cost = PasswordCost { memory_kib: 1024, iterations: 1 };
    (App::new(store, provider.clone(), clock, app_config), provider)
}

impl World {
    async fn new(backend: Backend) -> World {
        let dir = tempfile::tempdir().unwrap();
        // The sandbox stamps authorisations with the real time: the shop's clock starts there.
        let clock = Arc::new(ManualClock::new(now_real()));
        let store_fault = Arc::new(AtomicU8::new(store::NONE));
        let (app, provider) = open(dir.path(), &backend, clock.clone(), 0, store_fault.clone()).await;
        app.import_catalogue(&fixture()).await.unwrap();
        let category = tessera_store::testsuite::category_id(&*app.store, "BKB01", "CAT-A").await;
        let mut fans = Vec::new();
        for n in 0..3 {
            let t = TestApp {
                app: app.clone(),
                clock: clock.clone(),
                payments: Arc::new(SandboxProvider::default()),
                _dir: None,
            };
            fans.push(fan(&t, n).await);
        }
        let mut settings = PhaseSettings::default();
        settings.caps.per_account = 100;
        settings.caps.per_session = 100;
        app.create_phase("P1", "Phase 1", &settings).await.unwrap();
        app.open_registration("P1").await.unwrap();
        for f in &fans {
            app.enter_lottery(f, "P1").await.unwrap();
        }
        app.close_registration("P1").await.unwrap();
        app.draw("P1", Some(app.now())).await.unwrap();
        clock.advance(1);
        World {
            dir,
            backend,
            clock,
            provider,
            store_fault,
            app,
            fans,
            category,
            last: None,
            hang_up_next: false,
            listed: None,
            keys: 0,
        }
    }

    /// Runs a purchase as a client would: it may hang up (the future is dropped) after 30 ms.
    async fn purchase(&mut self, fan: usize, qty: i64, key: String, cart: bool) {
        let (app, who, category) = (self.app.clone(), self.fans[fan].clone(), self.category);
        let ok = card(test_cards::SUCCESS);
        let run = async move {
            if cart {
                let c = app.add_to_cart(&who, "P1", category, qty).await?;
                app.checkout(&who, "P1", &CheckoutRequest { cart: c.id, idempotency_key: key, card: ok })
                    .await
                    .map(drop)
            } else {
                app.buy_now(&who, "P1", &[(category, qty)], &key, &ok).await.map(drop)
            }
        };
        if std::mem::take(&mut self.hang_up_next) {
            let _ = tokio::time::timeout(std::time::Duration::from_millis(30), run).await;
        } else {
            // A hanging provider is given up on after a while, as a client would.
            let _ = tokio::time::timeout(std::time::Duration::from_millis(500), run).await;
        }
    }

    async fn apply(&mut self, op: Op) {
        match op {
            Op::BuyNow { fan, qty } | Op::Checkout { fan, qty } => {
                let cart = matches!(op, Op::Checkout { .. });
                self.keys += 1;
                let key = format!("k{}", self.keys);
                self.last = Some((fan, qty, key.clone(), cart));
                self.purchase(fan, qty, key, cart).await;
            }
            Op::Retry => {
                if let Some((fan, qty, key, cart)) = self.last.clone() {
                    self.purchase(fan, qty, key, cart).await;
                }
            }
            Op::Resale { buyer } => {
                let seller = &self.fans[0];
                if self.listed.is_none() {
                    if let Some(t) = self.app.store.holdings(seller.account_id).await.unwrap().first() {
                        if let Ok(l) = self.app.list_for_resale(seller, &t.code).await {
                            self.listed = Some(l.id);
                        }
                    }
                }
                if let Some(id) = self.listed {
                    self.keys += 1;
                    let (app, who) = (self.app.clone(), self.fans[buyer].clone());
                    let key = format!("r{}", self.keys);
                    let run = async move { app.buy_resale(&who, id, &key, &card(test_cards::SUCCESS)).await };
                    let _ = tokio::time::timeout(std::time::Duration::from_millis(500), run).await;
                }
            }
            Op::Fault(f) => self.provider.fault.store(f, Ordering::SeqCst),
            Op::StoreFault(f) => self.store_fault.store(f, Ordering::SeqCst),
            Op::HangUp => self.hang_up_next = true,
            Op::Restart => {
                // Whatever was in flight is gone with the process; the files stay.
                let fault = self.provider.fault.load(Ordering::SeqCst);
                let (app, provider) =
                    open(self.dir.path(), &self.backend, self.clock.clone(), fault, self.store_fault.clone()).await;
                self.app = app;
                self.provider = provider;
            }
        }
        self.clock.advance(1);
    }

    /// The faults end; the worker and reconciliation get a bounded time (simulated minutes).
    async fn settle(&mut self) {
        self.provider.fault.store(0, Ordering::SeqCst);
        self.store_fault.store(store::NONE, Ordering::SeqCst);
        // Let any settling task of a dropped request finish against the working provider.
        // A request given up on after 500 ms may still have its sale in the store's hands (on
        // PostgreSQL, in a group commit): its row appears later, in real time. In production
        // the worker runs for ever and captures it then; here the worker's passes are spread
        // over a second of real time, so that such a late row is still among them (once, on a
        // loaded CI machine, a row committed after 20 instant passes was left pending).
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        for _ in 0..20 {
            self.clock.advance(30);
            self.app.drive_payments().await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        self.clock.advance(tessera_app::payments::ORPHAN_GRACE_SECS + 1);
        self.app.reconcile(true).await.unwrap();
        for _ in 0..20 {
            self.clock.advance(30);
            self.app.drive_payments().await.unwrap();
        }
    }

    /// Every paid order and sold listing has exactly one captured payment of its amount;
    /// every other authorisation is released; reconciliation finds nothing.
    async fn check(&self) -> Result<(), String> {
        let records = self.provider.inner.authorizations_since(0, 100_000).await.unwrap();
        let by_id: std::collections::HashMap<&str, &ProviderRecord> =
            records.iter().map(|r| (r.id.as_str(), r)).collect();
        let mut paid_for = std::collections::HashSet::new();
        for f in &self.fans {
            for o in self.app.orders(f).await.unwrap() {
                let Some(p) = by_id.get(o.payment_ref.as_str()) else {
                    return Err(format!("order {} names an authorisation the provider never made", o.code));
                };
                if !p.captured || p.voided || p.refunded.0 != 0 || p.amount != o.total {
                    return Err(format!("order {} of {} is paid by {p:?}", o.code, o.total));
                }
                paid_for.insert(o.payment_ref.clone());
            }
        }
        if let Some(id) = self.listed {
            let l = self.app.store.listing(id).await.unwrap().unwrap();
            if let Some(r) = &l.payment_ref {
                let p = by_id.get(r.as_str()).ok_or("a sold listing without its authorisation")?;
                if !p.captured || p.refunded.0 != 0 {
                    return Err(format!("sold listing {id} is paid by {p:?}"));
                }
                paid_for.insert(r.clone());
            }
        }
        for p in &records {
            let released = p.voided || (p.captured && p.refunded == p.amount);
            if !paid_for.contains(&p.id) && !released {
                return Err(format!("authorisation {p:?} pays for nothing and was not released"));
            }
        }
        let report = self.app.reconcile(false).await.unwrap();
        if !report.disagreements.is_empty() {
            return Err(format!("reconciliation disagrees: {:?}", report.disagreements));
        }
        Ok(())
    }
}

fn run_world(backend: Backend, ops: Vec<Op>) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async move {
        let mut w = World::new(backend).await;
        for op in ops {
            w.apply(op).await;
        }
        w.settle().await;
        w.check().await
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_sequence_of_faults_makes_money_and_tickets_disagree_on_sqlite(ops in proptest::collection::vec(op(), 1..14)) {
        let outcome = run_world(Backend::Sqlite, ops);
        prop_assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
    }

    #[test]
    fn no_sequence_of_faults_makes_money_and_tickets_disagree_on_postgres(ops in proptest::collection::vec(op(), 1..14)) {
        let Ok(url) = std::env::var("TESSERA_TEST_POSTGRES_URL") else {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "SKIPPED: TESSERA_TEST_POSTGRES_URL is not set; the PostgreSQL fault sequences did not run");
            return Ok(());
        };
        let schema = format!("t_{}", tessera_app::random_hex(6));
        let outcome = run_world(Backend::Postgres { url, schema }, ops);
        prop_assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
    }
}
