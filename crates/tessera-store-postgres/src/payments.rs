//! The payment records in SQL (see `tessera_store::payments`).

use crate::ops::{corrupt, exec, get, row, row_opt, rows};
use crate::PgStore;
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tessera_domain::*;
use tessera_store::*;
use tokio_postgres::Row;

const COLS: &str = "provider_ref, account_id, kind, amount_cents, subject_id, state, attempts, next_attempt_at, \
                    last_error, created_at, updated_at";

fn payment_row(r: &Row) -> Result<PaymentRecord> {
    let kind: String = get(r, 2)?;
    let state: String = get(r, 5)?;
    Ok(PaymentRecord {
        provider_ref: get(r, 0)?,
        account_id: AccountId(get(r, 1)?),
        kind: PaymentKind::parse(&kind).ok_or_else(|| corrupt(format!("unknown payment kind {kind}")))?,
        amount: Cents(get(r, 3)?),
        subject_id: get(r, 4)?,
        state: PaymentState::parse(&state).ok_or_else(|| corrupt(format!("unknown payment state {state}")))?,
        attempts: get(r, 6)?,
        next_attempt_at: Timestamp(get(r, 7)?),
        last_error: get(r, 8)?,
        created_at: Timestamp(get(r, 9)?),
        updated_at: Timestamp(get(r, 10)?),
    })
}

/// The row of a sale, written inside the sale's own transaction (see the SQLite store).
pub(crate) async fn insert_sale_payment<C: GenericClient>(
    c: &C,
    provider_ref: &str,
    account: AccountId,
    kind: PaymentKind,
    amount: Cents,
    subject: i64,
    now: Timestamp,
) -> Result<()> {
    if provider_ref == "free" || amount.0 <= 0 {
        return Ok(());
    }
    exec(
        c,
        "INSERT INTO payments (provider_ref, account_id, kind, amount_cents, subject_id, state, next_attempt_at, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'capture_pending', $6, $7, $7) \
         ON CONFLICT (provider_ref) DO UPDATE SET kind = excluded.kind, subject_id = excluded.subject_id, \
         state = 'capture_pending', next_attempt_at = excluded.next_attempt_at, updated_at = excluded.updated_at",
        &[&provider_ref, &account.0, &kind.as_str(), &amount.0, &subject, &(now.0 + REQUEST_GRACE_SECS), &now.0],
    )
    .await
    .map(drop)
}

#[async_trait]
impl PaymentRecords for PgStore {
    async fn record_payment_intent(&self, i: &NewPaymentIntent) -> Result<()> {
        let c = self.client().await?;
        exec(
            &c,
            "INSERT INTO payments (provider_ref, account_id, kind, amount_cents, state, next_attempt_at, \
             created_at, updated_at) VALUES ($1, $2, 'attempt', $3, $4, $5, $5, $5) \
             ON CONFLICT (provider_ref) DO NOTHING",
            &[&i.provider_ref, &i.account_id.0, &i.amount.0, &i.state.as_str(), &i.now.0],
        )
        .await
        .map(drop)
    }

    async fn claim_due_payments(&self, now: Timestamp, limit: i64) -> Result<Vec<PaymentRecord>> {
        // Workers on several nodes skip each other's rows (SKIP LOCKED) and lease what they
        // take, in one statement.
        let c = self.client().await?;
        let sql = format!(
            "WITH due AS (SELECT provider_ref FROM payments \
                 WHERE state IN ('capture_pending', 'void_pending', 'refund_pending') AND next_attempt_at <= $1 \
                 ORDER BY next_attempt_at, provider_ref LIMIT $2 FOR UPDATE SKIP LOCKED) \
             UPDATE payments p SET next_attempt_at = $3, attempts = p.attempts + 1 FROM due \
             WHERE p.provider_ref = due.provider_ref RETURNING {}",
            COLS.split(", ").map(|c| format!("p.{c}")).collect::<Vec<_>>().join(", ")
        );
        rows(&c, &sql, &[&now.0, &limit, &(now.0 + LEASE_SECS)]).await?.iter().map(payment_row).collect()
    }

    async fn settle_payment(
        &self,
        provider_ref: &str,
        from: PaymentState,
        settlement: &Settlement,
        now: Timestamp,
    ) -> Result<()> {
        let c = self.client().await?;
        match settlement {
            Settlement::Done => {
                exec(
                    &c,
                    "UPDATE payments SET state = $3, last_error = NULL, updated_at = $4 \
                     WHERE provider_ref = $1 AND state = $2",
                    &[&provider_ref, &from.as_str(), &from.done().as_str(), &now.0],
                )
                .await
            }
            Settlement::Failed { error, retry_at } => {
                exec(
                    &c,
                    "UPDATE payments SET last_error = $3, next_attempt_at = $4, updated_at = $5 \
                     WHERE provider_ref = $1 AND state = $2",
                    &[&provider_ref, &from.as_str(), error, &retry_at.0, &now.0],
                )
                .await
            }
        }
        .map(drop)
    }

    async fn move_payment(
        &self,
        provider_ref: &str,
        from: PaymentState,
        to: PaymentState,
        now: Timestamp,
    ) -> Result<bool> {
        if !from.may_become(to) {
            return Ok(false);
        }
        let c = self.client().await?;
        let n = exec(
            &c,
            "UPDATE payments SET state = $3, next_attempt_at = $4, updated_at = $4 \
             WHERE provider_ref = $1 AND state = $2",
            &[&provider_ref, &from.as_str(), &to.as_str(), &now.0],
        )
        .await?;
        Ok(n > 0)
    }

    async fn payments_since(&self, since: Timestamp, limit: i64) -> Result<Vec<PaymentRecord>> {
        let c = self.client().await?;
        let sql =
            format!("SELECT {COLS} FROM payments WHERE created_at >= $1 ORDER BY created_at, provider_ref LIMIT $2");
        rows(&c, &sql, &[&since.0, &limit]).await?.iter().map(payment_row).collect()
    }

    async fn payment(&self, provider_ref: &str) -> Result<Option<PaymentRecord>> {
        let c = self.client().await?;
        let sql = format!("SELECT {COLS} FROM payments WHERE provider_ref = $1");
        row_opt(&c, &sql, &[&provider_ref]).await?.as_ref().map(payment_row).transpose()
    }

    async fn payment_figures(&self) -> Result<PaymentFigures> {
        let c = self.client().await?;
        let by_state = rows(&c, "SELECT state, COUNT(*) FROM payments GROUP BY state ORDER BY state", &[])
            .await?
            .iter()
            .map(|r| Ok((get::<String>(r, 0)?, get::<i64>(r, 1)?)))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .filter_map(|(s, n)| PaymentState::parse(&s).map(|s| (s, n)))
            .collect();
        let oldest: Option<i64> = get(
            &row(
                &c,
                "SELECT MIN(created_at) FROM payments \
                 WHERE state IN ('capture_pending', 'void_pending', 'refund_pending')",
                &[],
            )
            .await?,
            0,
        )?;
        Ok(PaymentFigures { by_state, oldest_pending_at: oldest.map(Timestamp) })
    }
}
