//! The mail outbox (see `tessera_store`), on SQLite.

use crate::ops::*;
use crate::sql::*;
use crate::SqliteStore;
use async_trait::async_trait;
use rusqlite::params;
use tessera_domain::*;
use tessera_store::*;

#[async_trait]
impl OutboxStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn enqueue_mail(&self, to: &str, subject: &str, body: &str, now: Timestamp) -> Result<i64> {
        let (to, subject, body) = (to.to_string(), subject.to_string(), body.to_string());
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO outbox (to_addr, subject, body, created_at, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?4)",
            )
            .sql()?
            .execute(params![to, subject, body, now.0])
            .sql()?;
            Ok(c.last_insert_rowid())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn claim_mail(&self, now: Timestamp, lease_until: Timestamp, limit: i64) -> Result<Vec<OutboxMail>> {
        // One writer: the claim is atomic; the lease keeps a second process's sender off it.
        self.write(move |c| {
            let mut mail = c
                .prepare_cached(&format!(
                    "UPDATE outbox SET next_attempt_at = ?2 WHERE id IN (SELECT id FROM outbox \
                     WHERE sent_at IS NULL AND next_attempt_at <= ?1 ORDER BY id LIMIT ?3) RETURNING {OUTBOX_COLS}"
                ))
                .sql()?
                .query_map(params![now.0, lease_until.0, limit], outbox_row)
                .sql()?
                .collect::<rusqlite::Result<Vec<_>>>()
                .sql()?;
            mail.sort_by_key(|m| m.id);
            Ok(mail)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn mark_mail_sent(&self, id: i64, now: Timestamp) -> Result<()> {
        self.write(move |c| {
            c.execute(
                "UPDATE outbox SET sent_at = ?2, attempts = attempts + 1, next_attempt_at = NULL WHERE id = ?1",
                params![id, now.0],
            )
            .sql()
            .map(drop)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn mark_mail_failed(&self, id: i64, error: &str, retry_at: Option<Timestamp>) -> Result<()> {
        let error = error.to_string();
        self.write(move |c| {
            c.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3 WHERE id = ?1",
                params![id, error, retry_at.map(|t| t.0)],
            )
            .sql()
            .map(drop)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn recent_mail(&self, to: Option<&str>, limit: i64) -> Result<Vec<OutboxMail>> {
        let to = to.map(str::to_string);
        self.read_blocking(move |c| {
            c.prepare_cached(&format!(
                "SELECT {OUTBOX_COLS} FROM outbox WHERE (?1 IS NULL OR to_addr = ?1) ORDER BY id DESC LIMIT ?2"
            ))
            .sql()?
            .query_map(params![to, limit], outbox_row)
            .sql()?
            .collect::<rusqlite::Result<Vec<_>>>()
            .sql()
        })
        .await
    }
}
