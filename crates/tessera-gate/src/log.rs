//! The gate's durable record: every decision it took, what it learned from others, the bundle in
//! force and the feed cursor, in one SQLite file on the device. Synchronous on purpose: a
//! decision is on disk (WAL with `synchronous=FULL`) before the gate answers, so a power cut
//! cannot forget an admission and let the same ticket in twice.

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::bundle::SignedBundle;
use crate::engine::{reason_code, Engine, FeedEvent, GateDecision, Kind, Outcome, PreviousEntry};

/// Why the log failed. The gate must not open on an error: a decision that is not durable is not
/// taken.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// SQLite failed (disk full, I/O error, locked beyond the busy timeout).
    #[error("decision log: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored value this version cannot read.
    #[error("decision log: corrupt row: {0}")]
    Corrupt(String),
}

/// Results of the log.
pub type Result<T> = std::result::Result<T, LogError>;

const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS decisions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL,
    ticket_id INTEGER NOT NULL,
    serial INTEGER NOT NULL,
    session TEXT NOT NULL,
    entrance TEXT NOT NULL,
    holder TEXT NOT NULL,
    seat TEXT NOT NULL,
    prev_gate TEXT,
    prev_at_ms INTEGER,
    synced INTEGER NOT NULL DEFAULT 0,
    annulled INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS decisions_admitted ON decisions (ticket_id) WHERE outcome = 'admitted';
CREATE INDEX IF NOT EXISTS decisions_unsynced ON decisions (seq) WHERE synced = 0;
CREATE TABLE IF NOT EXISTS remote (
    ticket_id INTEGER PRIMARY KEY,
    serial INTEGER NOT NULL,
    gate_id TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS revoked (
    ticket_id INTEGER NOT NULL,
    serial INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, serial)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

const BUNDLE_KEY: &str = "bundle";
const CURSOR_KEY: &str = "feed_cursor";

const DECISION_COLUMNS: &str =
    "seq, at_ms, kind, outcome, reason, ticket_id, serial, session, entrance, holder, seat, prev_gate, prev_at_ms";

/// The on-device decision log.
#[derive(Debug)]
pub struct DecisionLog {
    conn: Connection,
}

fn corrupt(what: &str, value: &str) -> LogError {
    LogError::Corrupt(format!("{what} {value:?}"))
}

fn decision_from_row(row: &Row<'_>) -> Result<GateDecision> {
    let kind: String = row.get(2)?;
    let outcome: String = row.get(3)?;
    let reason: String = row.get(4)?;
    let prev_gate: Option<String> = row.get(11)?;
    let prev_at_ms: Option<i64> = row.get(12)?;
    Ok(GateDecision {
        seq: row.get(0)?,
        at_ms: row.get(1)?,
        kind: Kind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
        outcome: Outcome::parse(&outcome).ok_or_else(|| corrupt("outcome", &outcome))?,
        reason: reason_code(&reason).ok_or_else(|| corrupt("reason", &reason))?,
        ticket_id: row.get(5)?,
        serial: row.get(6)?,
        session: row.get(7)?,
        entrance: row.get(8)?,
        holder: row.get(9)?,
        seat: row.get(10)?,
        previous: match (prev_gate, prev_at_ms) {
            (Some(gate_id), Some(at_ms)) => Some(PreviousEntry { gate_id, at_ms }),
            _ => None,
        },
    })
}

fn record_event(conn: &Connection, event: &FeedEvent) -> rusqlite::Result<()> {
    match event {
        FeedEvent::Entry { ticket_id, serial, gate_id, at_ms } => {
            // The earliest entry is the one a second scan is told about.
            conn.execute(
                "INSERT INTO remote (ticket_id, serial, gate_id, at_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (ticket_id) DO UPDATE SET serial = excluded.serial, gate_id = excluded.gate_id,
                     at_ms = excluded.at_ms
                 WHERE excluded.at_ms < remote.at_ms",
                params![ticket_id, serial, gate_id, at_ms],
            )?;
        }
        FeedEvent::Annulment { ticket_id } => {
            conn.execute("DELETE FROM remote WHERE ticket_id = ?1", [ticket_id])?;
            conn.execute(
                "UPDATE decisions SET annulled = 1 WHERE ticket_id = ?1 AND outcome = 'admitted' AND annulled = 0",
                [ticket_id],
            )?;
        }
        FeedEvent::Revocation { ticket_id, serial } => {
            conn.execute("INSERT OR IGNORE INTO revoked (ticket_id, serial) VALUES (?1, ?2)", [ticket_id, serial])?;
        }
    }
    Ok(())
}

impl DecisionLog {
    /// Opens (creating if needed) the log at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<DecisionLog> {
        let conn = Connection::open(path)?;
        // WAL lets a reader (the operator's screen, the sync) run beside the scanning path; FULL
        // makes each commit durable before it returns, which is the point of this log.
        let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(LogError::Corrupt(format!("journal_mode {mode} (WAL refused)")));
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(LogError::Corrupt(format!("schema version {version} is newer than this gate's")));
        }
        conn.execute_batch(SCHEMA)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        Ok(DecisionLog { conn })
    }

    /// Appends a decision durably and sets its `seq`, which it also returns.
    pub fn append(&mut self, d: &mut GateDecision) -> Result<i64> {
        let (prev_gate, prev_at_ms) = match &d.previous {
            Some(p) => (Some(p.gate_id.as_str()), Some(p.at_ms)),
            None => (None, None),
        };
        self.conn.execute(
            "INSERT INTO decisions (at_ms, kind, outcome, reason, ticket_id, serial, session, entrance, holder,
                 seat, prev_gate, prev_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                d.at_ms,
                d.kind.as_str(),
                d.outcome.as_str(),
                d.reason,
                d.ticket_id,
                d.serial,
                d.session,
                d.entrance,
                d.holder,
                d.seat,
                prev_gate,
                prev_at_ms
            ],
        )?;
        d.seq = self.conn.last_insert_rowid();
        Ok(d.seq)
    }

    fn decisions(&self, filter_order: &str, limit: usize) -> Result<Vec<GateDecision>> {
        let sql = format!("SELECT {DECISION_COLUMNS} FROM decisions {filter_order} LIMIT ?1");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows = stmt.query([limit])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(decision_from_row(row)?);
        }
        Ok(out)
    }

    /// The oldest decisions not yet sent to the central system, oldest first.
    pub fn unsynced(&self, limit: usize) -> Result<Vec<GateDecision>> {
        self.decisions("WHERE synced = 0 ORDER BY seq", limit)
    }

    /// Marks every decision up to `up_to_seq` as received by the central system.
    pub fn mark_synced(&mut self, up_to_seq: i64) -> Result<()> {
        self.conn.execute("UPDATE decisions SET synced = 1 WHERE seq <= ?1 AND synced = 0", [up_to_seq])?;
        Ok(())
    }

    /// The latest decisions, newest first (the operator's screen).
    pub fn recent(&self, limit: usize) -> Result<Vec<GateDecision>> {
        self.decisions("ORDER BY seq DESC", limit)
    }

    /// Number of admissions and refusals recorded.
    pub fn counts(&self) -> Result<(u64, u64)> {
        let (admitted, refused): (i64, i64) = self.conn.query_row(
            "SELECT COALESCE(SUM(outcome = 'admitted'), 0), COALESCE(SUM(outcome = 'refused'), 0) FROM decisions",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((u64::try_from(admitted).unwrap_or(0), u64::try_from(refused).unwrap_or(0)))
    }

    /// Records an entry made at another gate (the earliest per ticket is kept).
    pub fn record_remote_entry(&mut self, ticket_id: i64, serial: i64, gate_id: &str, at_ms: i64) -> Result<()> {
        let event = FeedEvent::Entry { ticket_id, serial, gate_id: gate_id.to_owned(), at_ms };
        self.record_feed(std::slice::from_ref(&event), None)
    }

    /// Records that a ticket's entries no longer count: its remote entry is forgotten and this
    /// gate's admissions of it are marked annulled, so a restart does not count them again.
    pub fn record_annulment(&mut self, ticket_id: i64) -> Result<()> {
        self.record_feed(&[FeedEvent::Annulment { ticket_id }], None)
    }

    /// Records a revoked credential.
    pub fn record_revocation(&mut self, ticket_id: i64, serial: i64) -> Result<()> {
        self.record_feed(&[FeedEvent::Revocation { ticket_id, serial }], None)
    }

    /// Records a batch of feed events and, if given, the cursor after them, in one transaction:
    /// one disk sync per batch rather than per event, and never a cursor ahead of its events.
    pub fn record_feed(&mut self, events: &[FeedEvent], cursor: Option<i64>) -> Result<()> {
        let tx = self.conn.transaction()?;
        for event in events {
            record_event(&tx, event)?;
        }
        if let Some(cursor) = cursor {
            set_kv(&tx, CURSOR_KEY, &cursor.to_string())?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Stores the bundle in force, to reopen it after a restart.
    pub fn save_bundle(&mut self, bundle: &SignedBundle) -> Result<()> {
        set_kv(&self.conn, BUNDLE_KEY, &bundle.to_json())?;
        Ok(())
    }

    /// The stored bundle, if any. It is checked again when opened.
    pub fn load_bundle(&self) -> Result<Option<SignedBundle>> {
        match get_kv(&self.conn, BUNDLE_KEY)? {
            None => Ok(None),
            Some(json) => SignedBundle::from_json(&json).map(Some).map_err(|e| LogError::Corrupt(e.to_string())),
        }
    }

    /// Stores the feed cursor.
    pub fn set_cursor(&mut self, cursor: i64) -> Result<()> {
        set_kv(&self.conn, CURSOR_KEY, &cursor.to_string())?;
        Ok(())
    }

    /// The feed cursor, if one was stored.
    pub fn get_cursor(&self) -> Result<Option<i64>> {
        match get_kv(&self.conn, CURSOR_KEY)? {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| corrupt("cursor", &v)),
        }
    }

    /// Replays into a fresh engine what this gate knew before a restart: its own admissions that
    /// were not annulled, entries learned from others, and revocations. Rows are streamed, not
    /// loaded at once.
    pub fn restore(&self, engine: &mut Engine) -> Result<()> {
        let own = engine.config().gate_id.clone();
        let mut stmt = self.conn.prepare(
            "SELECT ticket_id, serial, at_ms FROM decisions WHERE outcome = 'admitted' AND annulled = 0 ORDER BY seq",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            engine.apply_remote_entry(r.get(0)?, r.get(1)?, &own, r.get(2)?);
        }
        let mut stmt = self.conn.prepare("SELECT ticket_id, serial, gate_id, at_ms FROM remote")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let gate_id: String = r.get(2)?;
            engine.apply_remote_entry(r.get(0)?, r.get(1)?, &gate_id, r.get(3)?);
        }
        let mut stmt = self.conn.prepare("SELECT ticket_id, serial FROM revoked")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            engine.apply_revocation(r.get(0)?, r.get(1)?);
        }
        Ok(())
    }
}

fn set_kv(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO kv (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )?;
    Ok(())
}

fn get_kv(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM kv WHERE key = ?1", [key], |r| r.get(0)).optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_is_durable_by_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let log = DecisionLog::open(dir.path().join("g.db")).unwrap();
        let mode: String = log.conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        // 2 = FULL.
        let sync: i64 = log.conn.pragma_query_value(None, "synchronous", |r| r.get(0)).unwrap();
        assert_eq!(sync, 2);
    }

    #[test]
    fn kv_cursor_and_corrupt_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let mut log = DecisionLog::open(&path).unwrap();
        assert_eq!(log.get_cursor().unwrap(), None);
        assert!(log.load_bundle().unwrap().is_none());
        log.set_cursor(12).unwrap();
        log.set_cursor(13).unwrap();
        assert_eq!(log.get_cursor().unwrap(), Some(13));
        log.conn
            .execute(
                "INSERT INTO decisions (at_ms, kind, outcome, reason, ticket_id, serial, session, entrance, holder, seat)
                 VALUES (0, 'ticket', 'refused', 'from_the_future', 0, 0, '', '', '', '')",
                [],
            )
            .unwrap();
        assert!(matches!(log.recent(1), Err(LogError::Corrupt(_))));
        drop(log);
        // A log written by a newer gate version is not reinterpreted.
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        assert!(matches!(DecisionLog::open(&path), Err(LogError::Corrupt(_))));
    }

    #[test]
    fn own_remote_entries_keep_the_earliest() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = DecisionLog::open(dir.path().join("g.db")).unwrap();
        log.record_remote_entry(1, 1, "B", 50).unwrap();
        log.record_remote_entry(1, 2, "C", 40).unwrap();
        log.record_remote_entry(1, 3, "D", 60).unwrap();
        let row: (i64, String, i64) = log
            .conn
            .query_row("SELECT serial, gate_id, at_ms FROM remote", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap();
        assert_eq!(row, (2, "C".into(), 40));
        log.record_revocation(1, 1).unwrap();
        log.record_revocation(1, 1).unwrap();
        log.record_annulment(1).unwrap();
        let n: i64 = log.conn.query_row("SELECT COUNT(*) FROM remote", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 0);
    }
}
