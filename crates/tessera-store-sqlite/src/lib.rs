//! Tessera's embedded store: one SQLite file under the data directory, zero configuration.
//!
//! SQLite allows one writer at a time, so instead of letting connections fight over the write
//! lock, every write goes to a single writer thread that runs the waiting operations together
//! in one transaction (group commit), each inside its own savepoint so that one refused
//! operation rolls back alone. Callers get their answer only after the commit, so an answer
//! is never given for data that could still be lost. Reads run on a small pool of read-only
//! connections, which WAL mode lets proceed while the writer writes.
//!
//! The SQL here is the only place that knows this schema; `migrations/` owns its history.

mod accounts;
mod accreditation;
mod airlock;
mod catalogue;
mod gates;
mod key_revocations;
mod lottery;
mod ops;
mod outbox;
mod payments;
mod purchases;
mod results;
mod sql;
mod tickets;
mod toc;
mod volunteers;

use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use tessera_store::{Result, StoreError};

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

/// The migrations that edit a table's definition in place (`writable_schema`): the version,
/// the table, and text its definition must hold once the edit has taken.
const SCHEMA_EDITS: &[(i64, &str, &str)] =
    &[(8, "accounts", "'analyst'"), (10, "accounts", "'desk'"), (11, "accounts", "'volunteers'")];

/// Most operations one transaction may carry; bounds the latency a batch adds.
const MAX_BATCH: usize = 256;
const READERS: usize = 4;
/// Batches between two forced WAL rewinds (see [`restart_wal`]).
const CHECKPOINT_EVERY: u64 = 200;

type Reply = Box<dyn FnOnce(Option<String>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> Reply + Send>;

pub struct SqliteStore {
    path: PathBuf,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Arc<Vec<Mutex<Connection>>>,
    next_reader: AtomicUsize,
    /// The last write failed as `Unavailable` (a commit refused for lack of room, say) and no
    /// write has succeeded since. A readiness probe's own small write may still fit where a
    /// purchase does not, so readiness also asks this; any ordinary write that commits (the
    /// cart sweeper runs one every second) clears it.
    write_fault: AtomicBool,
}

/// How hard a commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=FULL`: a commit survives power loss. The default.
    Full,
    /// `synchronous=NORMAL`: survives a crash of the process, not of the machine.
    Normal,
}

/// SQLite's errors that say the store cannot write or read now (the disk is full, an I/O
/// error, the file cannot be opened or is read-only, a lock held past the busy timeout), as
/// opposed to an error about the statement itself: the first are `Unavailable` and answer 503,
/// never a business refusal.
fn sql_err(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode as C;
    match e.sqlite_error_code() {
        Some(
            C::DiskFull
            | C::SystemIoFailure
            | C::CannotOpen
            | C::ReadOnly
            | C::DatabaseBusy
            | C::DatabaseLocked
            | C::OutOfMemory
            | C::DatabaseCorrupt
            | C::NotADatabase
            | C::FileLockingProtocolFailed,
        ) => StoreError::unavailable(e),
        _ => StoreError::backend(e),
    }
}

/// The writer cannot take or finish a job (it is stopping, or it has stopped), or cannot
/// commit.
fn writer_gone(why: &'static str) -> StoreError {
    StoreError::unavailable(std::io::Error::other(why))
}

/// A failed COMMIT fails every operation of the batch: none of it was written.
#[derive(Debug, thiserror::Error)]
#[error("commit failed: {0}")]
struct CommitFailed(String);

fn configure(conn: &Connection, durability: Durability) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", if durability == Durability::Full { "FULL" } else { "NORMAL" })?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "cache_size", -32_000)?;
    // Each operation runs in a savepoint; its undo copies go to memory, not to a temp file.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    tune(conn)
}

/// Every connection: enough cached statements for all of the store's SQL (the default 16
/// would re-parse the hot statements on every call), and reads through a memory map, because
/// in WAL mode a reader drops its page cache whenever the writer has committed, and re-reading
/// pages through the map costs no copy.
fn tune(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_prepared_statement_cache_capacity(256);
    conn.pragma_update(None, "mmap_size", 1i64 << 30)?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )?;
    for (version, sql) in MIGRATIONS {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let done: bool =
            tx.query_row("SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?1)", [version], |r| {
                r.get(0)
            })?;
        if !done {
            tracing::info!(version, "applying sqlite migration");
            tx.execute_batch(sql)?;
            if sql.contains("writable_schema") {
                // The documented end of an in-place schema edit: a new schema version, so
                // that every connection re-reads the schema; and the edit must have taken
                // (if not, the store does not open: `InvalidQuery`).
                let v: i64 = tx.query_row("PRAGMA schema_version", [], |r| r.get(0))?;
                tx.pragma_update(None, "schema_version", v + 1)?;
                let Some(&(_, table, expected)) = SCHEMA_EDITS.iter().find(|(v, _, _)| v == version) else {
                    return Err(rusqlite::Error::InvalidQuery);
                };
                let ok: bool = tx.query_row(
                    "SELECT instr(sql, ?2) > 0 FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                    [table, expected],
                    |r| r.get(0),
                )?;
                if !ok {
                    return Err(rusqlite::Error::InvalidQuery);
                }
            }
            tx.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?1, unixepoch())", [version])?;
        }
        tx.commit()?;
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub fn open(path: impl AsRef<Path>, durability: Durability) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(StoreError::backend)?;
            }
        }
        let mut conn = Connection::open(&path).map_err(sql_err)?;
        configure(&conn, durability).map_err(sql_err)?;
        migrate(&mut conn).map_err(sql_err)?;

        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let r = Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
            )
            .map_err(sql_err)?;
            r.busy_timeout(std::time::Duration::from_secs(10)).map_err(sql_err)?;
            tune(&r).map_err(sql_err)?;
            readers.push(Mutex::new(r));
        }

        let (tx, rx) = mpsc::channel::<Job>();
        let writer = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(StoreError::backend)?;
        Ok(SqliteStore {
            path,
            jobs: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
            readers: Arc::new(readers),
            next_reader: AtomicUsize::new(0),
            write_fault: AtomicBool::new(false),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in the writer's transaction, inside its own savepoint; answers after commit.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let answer = self.write_job(f).await;
        match &answer {
            Err(StoreError::Unavailable(_)) => self.write_fault.store(true, Ordering::Relaxed),
            Ok(_) => self.write_fault.store(false, Ordering::Relaxed),
            Err(_) => {}
        }
        answer
    }

    /// The readiness probe: a write of its own, which does not clear a fault that ordinary
    /// writes met (see `write_fault`).
    pub(crate) async fn probe_write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let answer = self.write_job(f).await?;
        if self.write_fault.load(Ordering::Relaxed) {
            return Err(writer_gone("the last write could not be committed, and none has been since"));
        }
        Ok(answer)
    }

    async fn write_job<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<T>>();
        let job: Job = Box::new(move |conn: &Connection| {
            let run = |sql: &str| conn.prepare_cached(sql).and_then(|mut s| s.execute([])).map_err(sql_err);
            let result = match run("SAVEPOINT op") {
                Err(e) => Err(e),
                Ok(_) => {
                    let r = f(conn);
                    let end = if r.is_ok() {
                        run("RELEASE op")
                    } else {
                        run("ROLLBACK TO op").and_then(|_| run("RELEASE op"))
                    };
                    end.and(r)
                }
            };
            Box::new(move |commit_error: Option<String>| {
                let answer = match (commit_error, result) {
                    (Some(e), Ok(_)) => Err(StoreError::unavailable(CommitFailed(e))),
                    (_, r) => r,
                };
                let _ = tx.send(answer);
            })
        });
        let sent = match self.jobs.lock().expect("writer channel lock").as_ref() {
            Some(s) => s.send(job).is_ok(),
            None => false,
        };
        if !sent {
            return Err(writer_gone("the store is shut down"));
        }
        rx.await.map_err(|_| writer_gone("the writer could not run the operation (it stopped or could not begin)"))?
    }

    /// Runs `f` on a pooled read-only connection.
    ///
    /// A point read from a warm page cache takes microseconds, less than handing it to another
    /// thread and back, so it runs right here when a connection is free; only when every
    /// connection is busy does it wait for one on the blocking pool. Reads that scan many rows
    /// use [`SqliteStore::read_blocking`] instead.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..self.readers.len() {
            if let Ok(conn) = self.readers[(start + i) % self.readers.len()].try_lock() {
                return f(&conn);
            }
        }
        self.read_blocking(f).await
    }

    /// Runs `f` on a pooled read-only connection on the blocking pool, off the async threads.
    pub(crate) async fn read_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let readers = self.readers.clone();
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % readers.len();
        tokio::task::spawn_blocking(move || {
            let conn = readers[i].lock().expect("reader lock");
            f(&conn)
        })
        .await
        .map_err(StoreError::unavailable)?
    }

    /// Stops the writer after it has committed everything already queued.
    pub fn close(&self) {
        self.jobs.lock().expect("writer channel lock").take();
        if let Some(h) = self.writer.lock().expect("writer handle lock").take() {
            let _ = h.join();
        }
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.close();
    }
}

/// Under constant reading, SQLite's automatic (passive) checkpoints can copy the WAL into the
/// database but never start it over, so the WAL grows without end and every page read has to
/// search a longer WAL index: throughput falls as the sale goes on. A RESTART checkpoint every
/// so many batches waits the few microseconds until no reader uses the old WAL, then rewinds it.
fn restart_wal(conn: &Connection) {
    match conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))) {
        Ok((busy, frames)) => tracing::trace!(busy, frames, "wal checkpoint"),
        Err(e) => tracing::warn!(error = %e, "wal checkpoint failed"),
    }
}

fn writer_loop(conn: Connection, rx: mpsc::Receiver<Job>) {
    let mut batches: u64 = 0;
    while let Ok(first) = rx.recv() {
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            // Running the job outside a transaction would commit it piecemeal; dropping it
            // tells its caller the write failed.
            tracing::error!(error = %e, "sqlite could not begin a transaction");
            drop(first);
            continue;
        }
        let mut replies = Vec::with_capacity(16);
        replies.push(first(&conn));
        while replies.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => replies.push(job(&conn)),
                Err(_) => break,
            }
        }
        let commit_error = conn.execute_batch("COMMIT").err().map(|e| {
            tracing::error!(error = %e, "sqlite commit failed");
            let _ = conn.execute_batch("ROLLBACK");
            e.to_string()
        });
        for reply in replies {
            reply(commit_error.clone());
        }
        batches += 1;
        if batches.is_multiple_of(CHECKPOINT_EVERY) {
            restart_wal(&conn);
        }
    }
    tracing::debug!("sqlite writer stopped");
}
