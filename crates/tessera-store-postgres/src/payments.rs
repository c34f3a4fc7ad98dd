//! The payment records in SQL (see `tessera_store::payments`).

use crate::sql::{corrupt, exec, get, row, row_opt, rows};
use crate::PgStore;
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tessera_domain::*;
use tessera_store::*;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

/// The states that still owe the provider a step (`PaymentState::is_pending`), as SQL.
const PENDING: &str = "state IN ('capture_pending', 'void_pending', 'refund_pending')";

const COLS: &str = "id, provider_ref, account_id, kind, amount_cents, subject_id, state, attempts, \
                    next_attempt_at, last_error, created_at, updated_at";

fn payment_row(r: &Row) -> Result<PaymentRecord> {
    let kind: String = get(r, 3)?;
    let state: String = get(r, 6)?;
    Ok(PaymentRecord {
        id: get(r, 0)?,
        provider_ref: get(r, 1)?,
        account_id: AccountId(get(r, 2)?),
        kind: PaymentKind::parse(&kind).ok_or_else(|| corrupt(format!("unknown payment kind {kind}")))?,
        amount: Cents(get(r, 4)?),
        subject_id: get(r, 5)?,
        state: PaymentState::parse(&state).ok_or_else(|| corrupt(format!("unknown payment state {state}")))?,
        attempts: get(r, 7)?,
        next_attempt_at: Timestamp(get(r, 8)?),
        last_error: get(r, 9)?,
        created_at: Timestamp(get(r, 10)?),
        updated_at: Timestamp(get(r, 11)?),
    })
}

type Param = Box<dyn ToSql + Sync + Send>;

/// The condition that finds one row by its key, its parameters numbered from `${first}`.
fn key_clause(key: &PaymentKey, first: usize) -> (String, Vec<Param>) {
    match key {
        PaymentKey::Id(id) => (format!("id = ${first}"), vec![Box::new(*id)]),
        PaymentKey::Sale { kind, subject_id } => (
            format!("kind = ${first} AND subject_id = ${}", first + 1),
            vec![Box::new(kind.as_str()), Box::new(*subject_id)],
        ),
        PaymentKey::Attempt { provider_ref } => {
            (format!("kind = 'attempt' AND provider_ref = ${first}"), vec![Box::new(provider_ref.clone())])
        }
    }
}

/// Runs `sql`, whose `{key}` is replaced by the key's condition, with `head` as its first
/// parameters; returns the rows changed.
async fn execute_keyed<C: GenericClient>(c: &C, sql: &str, head: Vec<Param>, key: &PaymentKey) -> Result<u64> {
    let (clause, values) = key_clause(key, head.len() + 1);
    let all: Vec<Param> = head.into_iter().chain(values).collect();
    let refs: Vec<&(dyn ToSql + Sync)> = all.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
    exec(c, &sql.replace("{key}", &clause), &refs).await
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
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'capture_pending', $6, $7, $7)",
        &[&provider_ref, &account.0, &kind.as_str(), &amount.0, &subject, &(now.0 + REQUEST_GRACE_SECS), &now.0],
    )
    .await
    .map(drop)
}

async fn settle_done<C: GenericClient>(c: &C, key: &PaymentKey, from: PaymentState, now: Timestamp) -> Result<u64> {
    execute_keyed(
        c,
        "UPDATE payments SET state = $2, last_error = NULL, updated_at = $3 WHERE state = $1 AND {key}",
        vec![Box::new(from.as_str()), Box::new(from.done().as_str()), Box::new(now.0)],
        key,
    )
    .await
}

#[async_trait]
impl PaymentRecords for PgStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn record_payment_intent(&self, i: &NewPaymentIntent) -> Result<()> {
        let c = self.client().await?;
        exec(
            &c,
            "INSERT INTO payments (provider_ref, account_id, kind, amount_cents, state, next_attempt_at, \
             created_at, updated_at) VALUES ($1, $2, 'attempt', $3, $4, $5, $5, $5) \
             ON CONFLICT (provider_ref) WHERE kind = 'attempt' DO NOTHING",
            &[&i.provider_ref, &i.account_id.0, &i.amount.0, &i.state.as_str(), &i.now.0],
        )
        .await
        .map(drop)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn claim_due_payments(&self, now: Timestamp, limit: i64) -> Result<Vec<PaymentRecord>> {
        // Workers on several nodes skip each other's rows (SKIP LOCKED) and lease what they
        // take, in one statement.
        let c = self.client().await?;
        let sql = format!(
            "WITH due AS (SELECT id FROM payments \
                 WHERE {PENDING} AND next_attempt_at <= $1 \
                 ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) \
             UPDATE payments p SET next_attempt_at = $3, attempts = p.attempts + 1 FROM due \
             WHERE p.id = due.id RETURNING {}",
            COLS.split(", ").map(|c| format!("p.{}", c.trim())).collect::<Vec<_>>().join(", ")
        );
        let mut found: Vec<PaymentRecord> = rows(&c, &sql, &[&now.0, &limit, &(now.0 + LEASE_SECS)])
            .await?
            .iter()
            .map(payment_row)
            .collect::<Result<_>>()?;
        found.sort_by_key(|p| (p.created_at, p.id));
        Ok(found)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn settle_payment(
        &self,
        key: &PaymentKey,
        from: PaymentState,
        settlement: &Settlement,
        now: Timestamp,
    ) -> Result<()> {
        let c = self.client().await?;
        match settlement {
            Settlement::Done => settle_done(&c, key, from, now).await,
            Settlement::Failed { error, retry_at } => execute_keyed(
                &c,
                "UPDATE payments SET last_error = $2, next_attempt_at = $3, updated_at = $4 WHERE state = $1 AND {key}",
                vec![Box::new(from.as_str()), Box::new(error.clone()), Box::new(retry_at.0), Box::new(now.0)],
                key,
            )
            .await,
        }
        .map(drop)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn settle_payments_done(&self, done: &[(PaymentKey, PaymentState)], now: Timestamp) -> Result<()> {
        // Sales, the bulk of them, in one statement; the rest one by one.
        let (mut kinds, mut subjects, mut from, mut to) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let c = self.client().await?;
        for (key, state) in done {
            match key {
                PaymentKey::Sale { kind, subject_id } => {
                    kinds.push(kind.as_str());
                    subjects.push(*subject_id);
                    from.push(state.as_str());
                    to.push(state.done().as_str());
                }
                other => {
                    settle_done(&c, other, *state, now).await?;
                }
            }
        }
        if !kinds.is_empty() {
            exec(
                &c,
                "UPDATE payments p SET state = d.to_state, last_error = NULL, updated_at = $5 \
                 FROM UNNEST($1::TEXT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[]) AS d(kind, subject_id, from_state, to_state) \
                 WHERE p.kind = d.kind AND p.subject_id = d.subject_id AND p.state = d.from_state",
                &[&kinds, &subjects, &from, &to, &now.0],
            )
            .await?;
        }
        Ok(())
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
        let c = self.client().await?;
        let n = execute_keyed(
            &c,
            "UPDATE payments SET state = $2, next_attempt_at = $3, updated_at = $3 WHERE state = $1 AND {key}",
            vec![Box::new(from.as_str()), Box::new(to.as_str()), Box::new(now.0)],
            key,
        )
        .await?;
        Ok(n > 0)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn payments_since(&self, since: Timestamp, limit: i64) -> Result<Vec<PaymentRecord>> {
        let c = self.client().await?;
        let sql = format!("SELECT {COLS} FROM payments WHERE created_at >= $1 ORDER BY created_at, id LIMIT $2");
        rows(&c, &sql, &[&since.0, &limit]).await?.iter().map(payment_row).collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn payment(&self, key: &PaymentKey) -> Result<Option<PaymentRecord>> {
        let c = self.client().await?;
        let (clause, values) = key_clause(key, 1);
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
        row_opt(&c, &format!("SELECT {COLS} FROM payments WHERE {clause}"), &refs)
            .await?
            .as_ref()
            .map(payment_row)
            .transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
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
        let oldest: Option<i64> =
            get(&row(&c, &format!("SELECT MIN(created_at) FROM payments WHERE {PENDING}"), &[]).await?, 0)?;
        Ok(PaymentFigures { by_state, oldest_pending_at: oldest.map(Timestamp) })
    }
}
