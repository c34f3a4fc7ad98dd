//! Tessera's use cases: what a fan or an operator can do, as async functions over the store,
//! the payment provider and the mail outbox.
//!
//! This crate owns the order of steps (check the slot, hold seats, charge once, issue tickets),
//! the credentials (Argon2id password hashes, signed expiring tokens) and the background duties
//! (draining the mail outbox, releasing expired carts). It knows no HTTP: the HTTP crate and
//! the command line both call it.

pub mod accreditation;
pub mod airlock;
pub mod auth;
pub mod background;
pub mod cache;
pub mod catalogue;
pub mod cluster;
pub mod error;
pub mod gates;
pub mod health;
pub mod leaks;
pub mod live;
pub mod payments;
pub mod results;
pub mod sale;
mod seal;
pub mod security;
pub mod soc;
pub mod tickets;
pub mod toc;
pub mod tokens;
pub mod volunteers;

pub use error::AppError;

use secrecy::SecretBox;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use tessera_domain::Timestamp;
use tessera_payments::PaymentProvider;
use tessera_store::Store;

pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// Where "now" comes from, so that tests can move time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
    /// Milliseconds, for the waiting room's outflow; a coarse clock may just scale `now`.
    fn now_ms(&self) -> i64 {
        self.now().0 * 1000
    }
}

pub struct SystemClock;
impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
    }
}

/// A clock that tests set by hand.
pub struct ManualClock(AtomicI64);
impl ManualClock {
    pub fn new(t: Timestamp) -> Self {
        ManualClock(AtomicI64::new(t.0))
    }
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.0, Ordering::SeqCst);
    }
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}
impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

/// Argon2id cost. The default is OWASP's minimum recommendation (19 MiB, 2 passes).
#[derive(Debug, Clone, Copy)]
pub struct PasswordCost {
    pub memory_kib: u32,
    pub iterations: u32,
}

impl Default for PasswordCost {
    fn default() -> Self {
        PasswordCost { memory_kib: 19 * 1024, iterations: 2 }
    }
}

pub struct AppConfig {
    /// Signs every token and cookie. Rotating it signs everybody out.
    pub secret_key: SecretBox<[u8; 32]>,
    /// Base URL put in mails, e.g. `http://127.0.0.1:8080`.
    pub public_url: String,
    pub sign_in_ttl_secs: i64,
    pub verify_ttl_secs: i64,
    pub reset_ttl_secs: i64,
    /// How long a cart may stay in payment before its seats are released regardless.
    pub pay_window_secs: i64,
    pub password_cost: PasswordCost,
    pub edge_limits: airlock::EdgeLimits,
    pub tickets: tickets::TicketSettings,
    /// The zone every time shown to fans is in (pages and mail): the event's, not the server's.
    pub event_zone: tessera_domain::zone::EventZone,
    /// Networks the security engine never decides against (the gates', partners').
    pub soc_allow: Vec<ipnet::IpNet>,
    /// What the operations centre watches, and whom it pages.
    pub toc: toc::TocConfig,
    /// The event's official domains, whose lookalikes the SOC watches for (none: not watched).
    pub official_domains: Vec<String>,
}

impl AppConfig {
    pub fn new(secret_key: [u8; 32], public_url: impl Into<String>) -> Self {
        AppConfig {
            secret_key: SecretBox::new(Box::new(secret_key)),
            public_url: public_url.into(),
            sign_in_ttl_secs: 7 * 86_400,
            verify_ttl_secs: 3 * 86_400,
            reset_ttl_secs: 3600,
            pay_window_secs: 120,
            password_cost: PasswordCost::default(),
            edge_limits: airlock::EdgeLimits::default(),
            tickets: tickets::TicketSettings::default(),
            event_zone: tessera_domain::zone::EventZone::default(),
            soc_allow: Vec::new(),
            toc: toc::TocConfig::default(),
            official_domains: Vec::new(),
        }
    }
}

/// Everything a use case needs; cheap to clone.
#[derive(Clone)]
pub struct App {
    pub store: Arc<dyn Store>,
    pub payments: Arc<dyn PaymentProvider>,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<AppConfig>,
    pub airlock: Arc<airlock::Airlock>,
    /// Per-account sign-in budgets (see `tessera_airlock::signin`).
    pub signin: Arc<tessera_airlock::SignInGuard>,
    pub security: Arc<security::SecurityLog>,
    /// The security engine's queue, alerts and figures (`soc.rs`).
    pub soc: Arc<soc::Soc>,
    /// The results feed and its subscribers (`results.rs`).
    pub results: Arc<results::Results>,
    /// Accreditation: the matrix, the screening authority (sandbox), imports (`accreditation.rs`).
    pub accreditations: Arc<accreditation::Accreditations>,
    /// The operations centre: the engine over the watched model, incidents, switches (`toc`).
    pub toc: Arc<toc::Toc>,
    /// Lookalikes of the official domains and their takedowns (`soc/takedowns.rs`).
    pub takedowns: Option<Arc<soc::takedowns::Takedowns>>,
    /// Password hashes known from breaches, refused when chosen (`leaks.rs`).
    leaked: Arc<std::sync::RwLock<Option<Arc<tessera_lookalike::leaks::LeakedSet>>>>,
    /// Sign-in attempts refused by the throttle without a password check.
    pub signin_refusals: Arc<std::sync::atomic::AtomicU64>,
    signer: Arc<tokens::Signer>,
    caches: Arc<Caches>,
    /// The last payment reconciliation's report.
    reconciled: Arc<std::sync::Mutex<Option<payments::ReconcileReport>>>,
    /// Settlements waiting to be recorded together.
    settled: Arc<payments::SettledQueue>,
    /// The other nodes, when this node is one of several (`with_bus`).
    cluster: Option<Arc<cluster::Cluster>>,
    /// The readiness probe's write, one at a time (`health.rs`).
    store_probe: Arc<health::StoreProbe>,
}

struct Caches {
    principals: cache::TtlCache<String, Arc<auth::Principal>>,
    phases: cache::TtlCache<String, tessera_store::Phase>,
    prices: cache::TtlCache<tessera_domain::CategoryId, tessera_store::CategoryPrice>,
    /// Session codes per venue, for checking what gates report.
    venue_sessions: cache::TtlCache<String, Arc<std::collections::HashSet<String>>>,
    /// When each gate last synced with this node, scans or not (see `gates::App::gates`).
    gate_syncs: std::sync::Mutex<std::collections::HashMap<String, (gates::GateIdentity, i64)>>,
    /// When the other nodes were last told of each gate's sync.
    gate_told: std::sync::Mutex<std::collections::HashMap<String, i64>>,
    /// What the session list offers to filter by.
    facets: cache::TtlCache<(), Arc<catalogue::Facets>>,
}

impl App {
    pub fn new(
        store: Arc<dyn Store>,
        payments: Arc<dyn PaymentProvider>,
        clock: Arc<dyn Clock>,
        config: AppConfig,
    ) -> Self {
        let caches = Caches {
            principals: cache::TtlCache::new(cache::SESSION_TTL),
            phases: cache::TtlCache::new(cache::PHASE_TTL),
            prices: cache::TtlCache::new(cache::PHASE_TTL),
            venue_sessions: cache::TtlCache::new(std::time::Duration::from_secs(60)),
            gate_syncs: Default::default(),
            gate_told: Default::default(),
            facets: cache::TtlCache::new(std::time::Duration::from_secs(10)),
        };
        // The proof-of-work key is derived from the secret key, so that rotating one rotates both,
        // and a leaked challenge key would not reveal the token key.
        let pow_key = {
            use hmac::{Hmac, Mac};
            use secrecy::ExposeSecret;
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(config.secret_key.expose_secret()).expect("any length");
            mac.update(b"tessera airlock proof-of-work key");
            mac.finalize().into_bytes().into()
        };
        let airlock = Arc::new(airlock::Airlock::new(pow_key, config.edge_limits));
        let signer = Arc::new(tokens::Signer::new(&config.secret_key));
        let toc = Arc::new(toc::Toc::new(config.toc.clone(), clock.now_ms()));
        let takedowns = match config.official_domains.is_empty() {
            true => None,
            false => match soc::takedowns::Takedowns::new(&config.official_domains) {
                Ok(t) => Some(Arc::new(t)),
                Err(e) => {
                    // The server checks the domains before it builds the app; a library caller
                    // with a bad list gets no watch rather than a panic.
                    tracing::error!(error = %e, "official domains refused; lookalikes are not watched");
                    None
                }
            },
        };
        App {
            store,
            payments,
            clock,
            config: Arc::new(config),
            airlock,
            signin: Arc::new(tessera_airlock::SignInGuard::new(tessera_airlock::SignInPolicy::default())),
            security: Arc::default(),
            soc: Arc::default(),
            results: Arc::default(),
            accreditations: Arc::new(accreditation::Accreditations::new(rand::random())),
            toc,
            takedowns,
            leaked: Arc::default(),
            signin_refusals: Arc::default(),
            signer,
            caches: Arc::new(caches),
            reconciled: Arc::default(),
            settled: Arc::default(),
            cluster: None,
            store_probe: Arc::default(),
        }
    }

    /// Makes this node one of several: what it decides reaches the others over `bus`, and
    /// its waiting rooms are the shared ones (`airlock/shared.rs`). Call before serving.
    pub fn with_bus(mut self, bus: tessera_bus::Bus) -> App {
        self.cluster = Some(Arc::new(cluster::Cluster::new(bus)));
        self
    }

    /// This node's name on the bus, when it has one.
    pub fn node_name(&self) -> Option<&str> {
        self.cluster.as_ref().map(|c| c.bus.node())
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The catalogue in figures, as the home page and the start-up banner both show it: one
    /// read of the store, so that they cannot disagree (the demo adds its live session after
    /// the import, and a count taken at import missed it).
    pub async fn catalogue_figures(&self) -> Result<String> {
        use tessera_domain::figures::thousands;
        let c = self.store.catalogue_stats().await?;
        Ok(format!(
            "{} venues · {} sessions · {} seats · {} sold",
            thousands(c.venues),
            thousands(c.sessions),
            thousands(c.seats),
            thousands(c.sold)
        ))
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub(crate) fn tokens(&self) -> &tokens::Signer {
        &self.signer
    }
}

/// Random bytes as lower-case hex, from a cryptographically secure generator (the thread's
/// ChaCha generator, seeded by the operating system: one system call per seed, not per code).
pub fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut b = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// A human-friendly random code from an alphabet without look-alikes (no 0/O, 1/I/L).
pub fn random_code(prefix: &str, len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    let body: String = (0..len).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
    format!("{prefix}{body}")
}
