//! The payment records in SQL (see `tessera_store::payments`).

use crate::ops::{conv_err, Sql};
use crate::SqliteStore;
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};
use tessera_domain::*;
use tessera_store::*;

const COLS: &str = "provider_ref, account_id, kind, amount_cents, subject_id, state, attempts, next_attempt_at, \
                    last_error, created_at, updated_at";

fn payment_row(r: &Row) -> rusqlite::Result<PaymentRecord> {
    let kind: String = r.get(2)?;
    let state: String = r.get(5)?;
    Ok(PaymentRecord {
        provider_ref: r.get(0)?,
        account_id: AccountId(r.get(1)?),
        kind: PaymentKind::parse(&kind).ok_or_else(|| conv_err(2, format!("unknown payment kind {kind}")))?,
        amount: Cents(r.get(3)?),
        subject_id: r.get(4)?,
        state: PaymentState::parse(&state).ok_or_else(|| conv_err(5, format!("unknown payment state {state}")))?,
        attempts: r.get(6)?,
        next_attempt_at: Timestamp(r.get(7)?),
        last_error: r.get(8)?,
        created_at: Timestamp(r.get(9)?),
        updated_at: Timestamp(r.get(10)?),
    })
}

/// The row of a sale, written inside the sale's own transaction: the authorisation is owed a
/// capture. The request captures at once; the worker takes the row only after the grace.
pub(crate) fn insert_sale_payment(
    conn: &Connection,
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
    conn.prepare_cached(
        "INSERT INTO payments (provider_ref, account_id, kind, amount_cents, subject_id, state, next_attempt_at, \
         created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, 'capture_pending', ?6, ?7, ?7) \
         ON CONFLICT (provider_ref) DO UPDATE SET kind = excluded.kind, subject_id = excluded.subject_id, \
         state = 'capture_pending', next_attempt_at = excluded.next_attempt_at, updated_at = excluded.updated_at",
    )
    .sql()?
    .execute(params![provider_ref, account.0, kind.as_str(), amount.0, subject, now.0 + REQUEST_GRACE_SECS, now.0])
    .sql()
    .map(drop)
}

#[async_trait]
impl PaymentRecords for SqliteStore {
    async fn record_payment_intent(&self, i: &NewPaymentIntent) -> Result<()> {
        let i = i.clone();
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO payments (provider_ref, account_id, kind, amount_cents, state, next_attempt_at, \
                 created_at, updated_at) VALUES (?1, ?2, 'attempt', ?3, ?4, ?5, ?5, ?5) \
                 ON CONFLICT (provider_ref) DO NOTHING",
            )
            .sql()?
            .execute(params![i.provider_ref, i.account_id.0, i.amount.0, i.state.as_str(), i.now.0])
            .sql()
            .map(drop)
        })
        .await
    }

    async fn claim_due_payments(&self, now: Timestamp, limit: i64) -> Result<Vec<PaymentRecord>> {
        // One writer: the select and the lease are one transaction, so no two claims overlap.
        self.write(move |c| {
            let rows: Vec<PaymentRecord> = c
                .prepare_cached(&format!(
                    "SELECT {COLS} FROM payments \
                     WHERE state IN ('capture_pending', 'void_pending', 'refund_pending') AND next_attempt_at <= ?1 \
                     ORDER BY next_attempt_at, provider_ref LIMIT ?2"
                ))
                .sql()?
                .query_map(params![now.0, limit], payment_row)
                .sql()?
                .collect::<rusqlite::Result<_>>()
                .sql()?;
            let mut lease = c
                .prepare_cached(
                    "UPDATE payments SET next_attempt_at = ?2, attempts = attempts + 1 WHERE provider_ref = ?1",
                )
                .sql()?;
            for r in &rows {
                lease.execute(params![r.provider_ref, now.0 + LEASE_SECS]).sql()?;
            }
            Ok(rows)
        })
        .await
    }

    async fn settle_payment(
        &self,
        provider_ref: &str,
        from: PaymentState,
        settlement: &Settlement,
        now: Timestamp,
    ) -> Result<()> {
        let (r, s) = (provider_ref.to_string(), settlement.clone());
        self.write(move |c| {
            match s {
                Settlement::Done => c
                    .prepare_cached(
                        "UPDATE payments SET state = ?3, last_error = NULL, updated_at = ?4 \
                         WHERE provider_ref = ?1 AND state = ?2",
                    )
                    .sql()?
                    .execute(params![r, from.as_str(), from.done().as_str(), now.0]),
                Settlement::Failed { error, retry_at } => c
                    .prepare_cached(
                        "UPDATE payments SET last_error = ?3, next_attempt_at = ?4, updated_at = ?5 \
                         WHERE provider_ref = ?1 AND state = ?2",
                    )
                    .sql()?
                    .execute(params![r, from.as_str(), error, retry_at.0, now.0]),
            }
            .sql()
            .map(drop)
        })
        .await
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
        let r = provider_ref.to_string();
        self.write(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE payments SET state = ?3, next_attempt_at = ?4, updated_at = ?4 \
                     WHERE provider_ref = ?1 AND state = ?2",
                )
                .sql()?
                .execute(params![r, from.as_str(), to.as_str(), now.0])
                .sql()?;
            Ok(n > 0)
        })
        .await
    }

    async fn payments_since(&self, since: Timestamp, limit: i64) -> Result<Vec<PaymentRecord>> {
        self.read_blocking(move |c| {
            c.prepare_cached(&format!(
                "SELECT {COLS} FROM payments WHERE created_at >= ?1 ORDER BY created_at, provider_ref LIMIT ?2"
            ))
            .sql()?
            .query_map(params![since.0, limit], payment_row)
            .sql()?
            .collect::<rusqlite::Result<_>>()
            .sql()
        })
        .await
    }

    async fn payment(&self, provider_ref: &str) -> Result<Option<PaymentRecord>> {
        let r = provider_ref.to_string();
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {COLS} FROM payments WHERE provider_ref = ?1"))
                .sql()?
                .query_row([r], payment_row)
                .optional()
                .sql()
        })
        .await
    }

    async fn payment_figures(&self) -> Result<PaymentFigures> {
        self.read_blocking(|c| {
            let by_state = c
                .prepare_cached("SELECT state, COUNT(*) FROM payments GROUP BY state ORDER BY state")
                .sql()?
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                .sql()?
                .collect::<rusqlite::Result<Vec<_>>>()
                .sql()?
                .into_iter()
                .filter_map(|(s, n)| PaymentState::parse(&s).map(|s| (s, n)))
                .collect();
            let oldest: Option<i64> = c
                .prepare_cached(
                    "SELECT MIN(created_at) FROM payments \
                     WHERE state IN ('capture_pending', 'void_pending', 'refund_pending')",
                )
                .sql()?
                .query_row([], |r| r.get(0))
                .sql()?;
            Ok(PaymentFigures { by_state, oldest_pending_at: oldest.map(Timestamp) })
        })
        .await
    }
}
