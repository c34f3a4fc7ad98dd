//! Tessera's store for more than one machine: PostgreSQL through tokio-postgres and a pool of
//! connections, so that several application nodes can sell from one database.
//!
//! This crate owns the PostgreSQL schema (`migrations/`, applied at start under an advisory
//! lock so that nodes starting together do not race) and the SQL behind every `Store`
//! operation; its observable behaviour is the SQLite store's, as the shared conformance suite
//! checks. Concurrency is made safe by the database, not by the process: every mutating
//! operation is one READ COMMITTED transaction that takes row locks in one global order:
//! the buying account (`FOR UPDATE`, so caps are counted and updated serially per account),
//! then the cart, then price categories in id order. Seats are taken by a conditional
//! `UPDATE ... WHERE quota - held - sold >= qty`, which PostgreSQL re-checks on the latest row
//! version after waiting, so no interleaving can sell past the quota (and a CHECK constraint
//! refuses it anyway). Sweepers on several nodes skip each other's carts (`SKIP LOCKED`) and
//! only release carts still open or in payment. A transaction that loses a deadlock or a
//! serialization conflict anyway is retried whole, a few times.

mod accounts;
mod accreditation;
mod airlock;
mod batch;
mod catalogue;
mod gates;
mod key_revocations;
mod lottery;
mod outbox;
mod payments;
mod purchases;
mod resale;
mod results;
mod rows;
mod sale;
mod sql;
mod tickets;
mod toc;
mod volunteers;

use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::time::Duration;
use tessera_store::{Result, StoreError};
use tokio_postgres::error::SqlState;
use tokio_postgres::{IsolationLevel, NoTls};

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_airlock.sql")),
    (3, include_str!("../migrations/0003_gates.sql")),
    (4, include_str!("../migrations/0004_readiness.sql")),
    (5, include_str!("../migrations/0005_payments.sql")),
    (6, include_str!("../migrations/0006_gate_tokens.sql")),
    (7, include_str!("../migrations/0007_refusal_codes.sql")),
    (8, include_str!("../migrations/0008_analyst_role.sql")),
    (9, include_str!("../migrations/0009_results.sql")),
    (10, include_str!("../migrations/0010_accreditation.sql")),
    (11, include_str!("../migrations/0011_volunteers.sql")),
    (12, include_str!("../migrations/0012_toc.sql")),
    (13, include_str!("../migrations/0013_key_revocations.sql")),
];

/// The connections one node keeps; PostgreSQL's default `max_connections` is 100, shared
/// by every node.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// First half of the advisory lock key guarding schema creation and migrations; the second
/// half is the schema's name, so that separate schemas migrate independently.
const MIGRATION_LOCK: i32 = 0x7e55_e4a0;

/// How many times a transaction is run when PostgreSQL aborts it to break a deadlock or a
/// serialization conflict; such an abort undid everything, so running it again is safe.
const MAX_ATTEMPTS: u32 = 5;

#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Schema holding Tessera's tables, created if missing; `None` uses the server's
    /// `search_path` (normally `public`).
    pub schema: Option<String>,
    pub pool_size: usize,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions { schema: None, pool_size: DEFAULT_POOL_SIZE }
    }
}

#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    schema: Option<String>,
    /// Buy-now sales grouped into shared transactions (`batch.rs`); `None` in the workers'
    /// own handle, which sells each group directly.
    sales: Option<batch::Batcher>,
}

pub(crate) fn pg(e: tokio_postgres::Error) -> StoreError {
    if e.code() == Some(&SqlState::CHECK_VIOLATION) {
        // The schema's last line of defence fired: some code path tried to commit an
        // impossible state (e.g. more seats than the quota). It is refused, but it is a bug.
        tracing::error!(error = %e, "postgres refused a write that breaks a CHECK constraint");
    }
    if is_unavailable(&e) {
        StoreError::unavailable(e)
    } else {
        StoreError::backend(e)
    }
}

/// The errors that say the database cannot serve now, not that the statement is wrong: a lost
/// or closed connection (no SQLSTATE at all), a connection exception (class 08), an operator
/// intervention such as a shutdown (class 57), insufficient resources such as a full disk
/// (class 53), a read-only transaction on a standby (25006). They answer 503, never a refusal.
fn is_unavailable(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        None => true,
        Some(code) => {
            let c = code.code();
            c.starts_with("08") || c.starts_with("57") || c.starts_with("53") || c == "25006"
        }
    }
}

pub(crate) fn sqlstate(e: &StoreError) -> Option<&SqlState> {
    match e {
        StoreError::Backend(b) | StoreError::Unavailable(b) => b.downcast_ref::<tokio_postgres::Error>()?.code(),
        _ => None,
    }
}

fn is_retryable(e: &StoreError) -> bool {
    matches!(sqlstate(e), Some(s) if *s == SqlState::T_R_DEADLOCK_DETECTED || *s == SqlState::T_R_SERIALIZATION_FAILURE)
}

/// Commits on success; on a refusal rolls back, so that a refused operation leaves nothing
/// behind, as in the SQLite store.
pub(crate) async fn finish<T>(tx: deadpool_postgres::Transaction<'_>, result: Result<T>) -> Result<T> {
    match result {
        Ok(v) => {
            tx.commit().await.map_err(pg)?;
            Ok(v)
        }
        Err(e) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::warn!(error = %rollback, "postgres rollback failed");
            }
            Err(e)
        }
    }
}

/// Runs `$body`, an expression awaiting work on `$tx`, in one transaction on a pooled
/// connection: committed if it returns `Ok`, rolled back otherwise, run again when PostgreSQL
/// aborted it to break a deadlock.
macro_rules! transaction {
    ($store:expr, |$tx:ident| $body:expr) => {{
        let mut attempt = 1;
        loop {
            let mut client = $store.client().await?;
            let result = match client.transaction().await {
                Err(e) => Err($crate::pg(e)),
                Ok(tx) => {
                    let $tx = &tx;
                    let result = $body;
                    $crate::finish(tx, result).await
                }
            };
            match result {
                Err(e) if attempt < $crate::MAX_ATTEMPTS && $crate::is_retryable(&e) => {
                    tracing::warn!(attempt, error = %e, "postgres aborted a transaction; running it again");
                    attempt += 1;
                }
                r => break r,
            }
        }
    }};
}

/// Runs `$body` on one consistent snapshot, for reads made of several queries.
macro_rules! snapshot {
    ($store:expr, |$tx:ident| $body:expr) => {{
        let mut client = $store.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err($crate::pg)?;
        let $tx = &tx;
        let result = $body;
        $crate::finish(tx, result).await
    }};
}

pub(crate) use {snapshot, transaction};

/// Schema names go into SQL text and a startup option, so only plain lower-case identifiers
/// are accepted: no quoting, no case folding surprises.
fn check_schema_name(schema: &str) -> Result<()> {
    let ok = (1..=63).contains(&schema.len())
        && schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && schema.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::State(format!(
            "{schema:?} is not a schema name: 1 to 63 characters a-z, 0-9 or '_', not starting with a digit"
        )))
    }
}

impl PgStore {
    /// Connects with the default pool, creates or updates the schema, and returns the store.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, &PgOptions::default()).await
    }

    /// Like [`PgStore::connect`], with every connection confined to `schema` (created if
    /// missing), so that tests or tenants can share one database without seeing each other.
    pub async fn connect_with_schema(url: &str, schema: &str) -> Result<Self> {
        Self::connect_with(url, &PgOptions { schema: Some(schema.to_string()), ..PgOptions::default() }).await
    }

    pub async fn connect_with_pool_size(url: &str, pool_size: usize) -> Result<Self> {
        Self::connect_with(url, &PgOptions { pool_size, ..PgOptions::default() }).await
    }

    pub async fn connect_with(url: &str, options: &PgOptions) -> Result<Self> {
        let mut config: tokio_postgres::Config = url.parse().map_err(pg)?;
        if let Some(schema) = &options.schema {
            check_schema_name(schema)?;
            // A startup option rather than a `SET` after connecting: it holds for every
            // connection the pool ever opens, including ones replacing broken connections.
            let opt = match config.get_options() {
                Some(o) if !o.trim().is_empty() => format!("{o} -c search_path={schema}"),
                _ => format!("-c search_path={schema}"),
            };
            config.options(opt);
        }
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(Duration::from_secs(10)))
            .build()
            .map_err(StoreError::backend)?;
        let mut store = PgStore { pool, schema: options.schema.clone(), sales: None };
        store.migrate().await?;
        store.sales = Some(batch::Batcher::start(store.clone()));
        Ok(store)
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Client> {
        // No connection to be had (the database is down, or every connection is busy past the
        // pool's timeout): the store is unavailable, not the request wrong.
        self.pool.get().await.map_err(StoreError::unavailable)
    }

    async fn migrate(&self) -> Result<()> {
        let mut client = self.client().await?;
        if let Some(schema) = &self.schema {
            let tx = client.transaction().await.map_err(pg)?;
            tx.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", &[&MIGRATION_LOCK, schema])
                .await
                .map_err(pg)?;
            tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}")).await.map_err(pg)?;
            tx.commit().await.map_err(pg)?;
        }
        for (version, sql) in MIGRATIONS {
            let tx =
                client.build_transaction().isolation_level(IsolationLevel::ReadCommitted).start().await.map_err(pg)?;
            // Whoever holds the lock migrates; the others wait, then find the version applied.
            tx.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext(COALESCE(current_schema(), '')))",
                &[&MIGRATION_LOCK],
            )
            .await
            .map_err(pg)?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
            )
            .await
            .map_err(pg)?;
            let done = tx
                .query_opt("SELECT 1 FROM schema_migrations WHERE version = $1", &[version])
                .await
                .map_err(pg)?
                .is_some();
            if !done {
                tracing::info!(
                    version,
                    schema = self.schema.as_deref().unwrap_or("(search_path)"),
                    "applying postgres migration"
                );
                tx.batch_execute(sql).await.map_err(pg)?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, EXTRACT(EPOCH FROM now())::BIGINT)",
                    &[version],
                )
                .await
                .map_err(pg)?;
            }
            tx.commit().await.map_err(pg)?;
        }
        Ok(())
    }

    /// The schema this store was confined to, if any.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }
}

#[async_trait::async_trait]
impl tessera_store::Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn ping(&self) -> Result<()> {
        let c = self.client().await?;
        sql::row(&c, "SELECT 1", &[]).await.map(drop)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn ping_write(&self, now: tessera_domain::Timestamp) -> Result<()> {
        let c = self.client().await?;
        sql::exec(
            &c,
            "INSERT INTO readiness (id, checked_at, pad) VALUES (1, $1, decode(repeat('00', $2::INT), 'hex')) \
             ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at, pad = excluded.pad",
            &[&now.0, &(tessera_store::READINESS_PROBE_BYTES as i32)],
        )
        .await
        .map(drop)
    }
}

// The column lists and row readers, for the capability modules.
