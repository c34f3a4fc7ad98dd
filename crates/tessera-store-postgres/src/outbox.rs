//! The mail outbox (see `tessera_store`), on PostgreSQL.

use crate::PgStore;
use crate::{rows::*, sql::*};
use async_trait::async_trait;
use tessera_domain::*;
use tessera_store::*;

#[async_trait]
impl OutboxStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn enqueue_mail(&self, to: &str, subject: &str, body: &str, now: Timestamp) -> Result<i64> {
        let c = self.client().await?;
        let r = row(
            &c,
            "INSERT INTO outbox (to_addr, subject, body, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $4) \
             RETURNING id",
            &[&to, &subject, &body, &now.0],
        )
        .await?;
        get(&r, 0)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn claim_mail(&self, now: Timestamp, lease_until: Timestamp, limit: i64) -> Result<Vec<OutboxMail>> {
        // SKIP LOCKED: two nodes claiming at once take disjoint mails instead of queueing.
        const SQL: &str = concat!(
            "UPDATE outbox SET next_attempt_at = $2 WHERE id IN (SELECT id FROM outbox \
             WHERE sent_at IS NULL AND next_attempt_at <= $1 ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING ",
            outbox_cols!()
        );
        let c = self.client().await?;
        let mut mail: Vec<OutboxMail> =
            rows(&c, SQL, &[&now.0, &lease_until.0, &limit]).await?.iter().map(outbox_row).collect::<Result<_>>()?;
        mail.sort_by_key(|m| m.id);
        Ok(mail)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn mark_mail_sent(&self, id: i64, now: Timestamp) -> Result<()> {
        let c = self.client().await?;
        exec(
            &c,
            "UPDATE outbox SET sent_at = $2, attempts = attempts + 1, next_attempt_at = NULL WHERE id = $1",
            &[&id, &now.0],
        )
        .await
        .map(drop)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn mark_mail_failed(&self, id: i64, error: &str, retry_at: Option<Timestamp>) -> Result<()> {
        let c = self.client().await?;
        exec(
            &c,
            "UPDATE outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3 WHERE id = $1",
            &[&id, &error, &retry_at.map(|t| t.0)],
        )
        .await
        .map(drop)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn recent_mail(&self, to: Option<&str>, limit: i64) -> Result<Vec<OutboxMail>> {
        const SQL: &str = concat!(
            "SELECT ",
            outbox_cols!(),
            " FROM outbox WHERE ($1::TEXT IS NULL OR to_addr = $1) ORDER BY id DESC LIMIT $2"
        );
        let c = self.client().await?;
        rows(&c, SQL, &[&to, &limit]).await?.iter().map(outbox_row).collect()
    }
}
