//! The payment records in SQL (see `tessera_store::payments`).

use crate::sql::{conv_err, Sql};
use crate::SqliteStore;
use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension, Row};
use tessera_domain::*;
use tessera_store::*;

/// The states that still owe the provider a step (`PaymentState::is_pending`), as SQL.
const PENDING: &str = "state IN ('capture_pending', 'void_pending', 'refund_pending')";

const COLS: &str = "id, provider_ref, account_id, kind, amount_cents, subject_id, state, attempts, \
                    next_attempt_at, last_error, created_at, updated_at";

fn payment_row(r: &Row) -> rusqlite::Result<PaymentRecord> {
    let kind: String = r.get(3)?;
    let state: String = r.get(6)?;
    Ok(PaymentRecord {
        id: r.get(0)?,
        provider_ref: r.get(1)?,
        account_id: AccountId(r.get(2)?),
        kind: PaymentKind::parse(&kind).ok_or_else(|| conv_err(3, format!("unknown payment kind {kind}")))?,
        amount: Cents(r.get(4)?),
        subject_id: r.get(5)?,
        state: PaymentState::parse(&state).ok_or_else(|| conv_err(6, format!("unknown payment state {state}")))?,
        attempts: r.get(7)?,
        next_attempt_at: Timestamp(r.get(8)?),
        last_error: r.get(9)?,
        created_at: Timestamp(r.get(10)?),
        updated_at: Timestamp(r.get(11)?),
    })
}

/// The condition that finds one row by its key, its parameters numbered from `?{first}`.
fn key_clause(key: &PaymentKey, first: usize) -> (String, Vec<Value>) {
    match key {
        PaymentKey::Id(id) => (format!("id = ?{first}"), vec![Value::Integer(*id)]),
        PaymentKey::Sale { kind, subject_id } => (
            format!("kind = ?{first} AND subject_id = ?{}", first + 1),
            vec![Value::Text(kind.as_str().into()), Value::Integer(*subject_id)],
        ),
        PaymentKey::Attempt { provider_ref } => {
            (format!("kind = 'attempt' AND provider_ref = ?{first}"), vec![Value::Text(provider_ref.clone())])
        }
    }
}

/// Runs `sql`, whose `{key}` is replaced by the key's condition, with `head` as its first
/// parameters; returns the rows changed.
fn execute_keyed(conn: &Connection, sql: &str, head: Vec<Value>, key: &PaymentKey) -> Result<usize> {
    let (clause, values) = key_clause(key, head.len() + 1);
    let all: Vec<Value> = head.into_iter().chain(values).collect();
    conn.prepare_cached(&sql.replace("{key}", &clause)).sql()?.execute(rusqlite::params_from_iter(all)).sql()
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
         created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, 'capture_pending', ?6, ?7, ?7)",
    )
    .sql()?
    .execute(params![provider_ref, account.0, kind.as_str(), amount.0, subject, now.0 + REQUEST_GRACE_SECS, now.0])
    .sql()
    .map(drop)
}

fn settle_done(conn: &Connection, key: &PaymentKey, from: PaymentState, now: Timestamp) -> Result<usize> {
    execute_keyed(
        conn,
        "UPDATE payments SET state = ?2, last_error = NULL, updated_at = ?3 WHERE state = ?1 AND {key}",
        vec![Value::Text(from.as_str().into()), Value::Text(from.done().as_str().into()), Value::Integer(now.0)],
        key,
    )
}

#[async_trait]
impl PaymentRecords for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn record_payment_intent(&self, i: &NewPaymentIntent) -> Result<()> {
        let i = i.clone();
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO payments (provider_ref, account_id, kind, amount_cents, state, next_attempt_at, \
                 created_at, updated_at) VALUES (?1, ?2, 'attempt', ?3, ?4, ?5, ?5, ?5) \
                 ON CONFLICT (provider_ref) WHERE kind = 'attempt' DO NOTHING",
            )
            .sql()?
            .execute(params![i.provider_ref, i.account_id.0, i.amount.0, i.state.as_str(), i.now.0])
            .sql()
            .map(drop)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn claim_due_payments(&self, now: Timestamp, limit: i64) -> Result<Vec<PaymentRecord>> {
        // One writer: the select and the lease are one transaction, so no two claims overlap.
        self.write(move |c| {
            let rows: Vec<PaymentRecord> = c
                .prepare_cached(&format!(
                    "SELECT {COLS} FROM payments \
                     WHERE {PENDING} AND next_attempt_at <= ?1 \
                     ORDER BY next_attempt_at, id LIMIT ?2"
                ))
                .sql()?
                .query_map(params![now.0, limit], payment_row)
                .sql()?
                .collect::<rusqlite::Result<_>>()
                .sql()?;
            let mut lease = c
                .prepare_cached("UPDATE payments SET next_attempt_at = ?2, attempts = attempts + 1 WHERE id = ?1")
                .sql()?;
            for r in &rows {
                lease.execute(params![r.id, now.0 + LEASE_SECS]).sql()?;
            }
            Ok(rows)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn settle_payment(
        &self,
        key: &PaymentKey,
        from: PaymentState,
        settlement: &Settlement,
        now: Timestamp,
    ) -> Result<()> {
        let (key, s) = (key.clone(), settlement.clone());
        self.write(move |c| {
            match s {
                Settlement::Done => settle_done(c, &key, from, now),
                Settlement::Failed { error, retry_at } => execute_keyed(
                    c,
                    "UPDATE payments SET last_error = ?2, next_attempt_at = ?3, updated_at = ?4 \
                     WHERE state = ?1 AND {key}",
                    vec![
                        Value::Text(from.as_str().into()),
                        Value::Text(error),
                        Value::Integer(retry_at.0),
                        Value::Integer(now.0),
                    ],
                    &key,
                ),
            }
            .map(drop)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn settle_payments_done(&self, done: &[(PaymentKey, PaymentState)], now: Timestamp) -> Result<()> {
        let done = done.to_vec();
        self.write(move |c| {
            for (key, from) in &done {
                settle_done(c, key, *from, now)?;
            }
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn move_payment(
        &self,
        key: &PaymentKey,
        from: PaymentState,
        to: PaymentState,
        now: Timestamp,
    ) -> Result<bool> {
        if !from.may_become(to) {
            return Ok(false);
        }
        let key = key.clone();
        self.write(move |c| {
            let n = execute_keyed(
                c,
                "UPDATE payments SET state = ?2, next_attempt_at = ?3, updated_at = ?3 WHERE state = ?1 AND {key}",
                vec![Value::Text(from.as_str().into()), Value::Text(to.as_str().into()), Value::Integer(now.0)],
                &key,
            )?;
            Ok(n > 0)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn payments_since(&self, since: Timestamp, limit: i64) -> Result<Vec<PaymentRecord>> {
        self.read_blocking(move |c| {
            c.prepare_cached(&format!(
                "SELECT {COLS} FROM payments WHERE created_at >= ?1 ORDER BY created_at, id LIMIT ?2"
            ))
            .sql()?
            .query_map(params![since.0, limit], payment_row)
            .sql()?
            .collect::<rusqlite::Result<_>>()
            .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn payment(&self, key: &PaymentKey) -> Result<Option<PaymentRecord>> {
        let key = key.clone();
        self.read(move |c| {
            let (clause, values) = key_clause(&key, 1);
            c.prepare_cached(&format!("SELECT {COLS} FROM payments WHERE {clause}"))
                .sql()?
                .query_row(rusqlite::params_from_iter(values), payment_row)
                .optional()
                .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
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
                .prepare_cached(&format!("SELECT MIN(created_at) FROM payments WHERE {PENDING}"))
                .sql()?
                .query_row([], |r| r.get(0))
                .sql()?;
            Ok(PaymentFigures { by_state, oldest_pending_at: oldest.map(Timestamp) })
        })
        .await
    }
}
