//! Buy-now sales committed in groups: the PostgreSQL side of a sales opening.
//!
//! On one hot session every sale updates the same category row, and PostgreSQL holds that
//! row's lock until the sale's commit is on disk: sales one at a time, each waiting for a
//! flush, about 500 a second. So sales wait here a moment to be sold together: a worker takes
//! what is queued (up to [`MAX_BATCH`]) and runs them in **one transaction**, each sale with
//! the same code as a sale alone (`sale::sell_prepared`: account lock, key, slot, caps, order,
//! tickets, key and payment rows; the sales of distinct accounts pipelined on the one
//! connection), reads every order back in two queries, then claims the seats of the whole
//! group with one conditional update per category and commits: one row lock, held from that
//! update to the commit, and one flush for the group.
//!
//! A sale refused on its merits (a key seen before, the slot, the caps, the prices) is refused
//! before it writes anything, and leaves the others. When the
//! group's seats are not all there (the sale is selling out), or PostgreSQL aborts the group
//! (a deadlock with another node's group), the group is rolled back whole and its sales are
//! run again one by one, each in its own transaction, exactly as without grouping: who gets
//! the last seats is decided as before, and nothing is sold twice or past the quota.
//!
//! Why not split the category row into shards instead: every reader of availability (the
//! cart, the sweeper, the figures) would then sum shards, and each sale would still pay its
//! own flush; grouping changes one write path and keeps the schema.

use crate::sale::{claim_seats_exact, sell_now, sell_prepared, Prepared};
use crate::{pg, transaction, PgStore};
use std::sync::Arc;
use tessera_store::{Result, SellNow, SellOutcome, StoreError};
use tokio::sync::{mpsc, oneshot, Mutex};

/// Sales per group at most.
pub(crate) const MAX_BATCH: usize = 64;
/// Groups in flight at once (each on a connection of its own).
pub(crate) const WORKERS: usize = 4;
/// Sales waiting for a worker at most; past it a sale is a 503, not an unbounded queue.
const QUEUE: usize = 4096;

type Job = (SellNow, oneshot::Sender<Result<SellOutcome>>);

/// The queue sales wait in and the workers that empty it; they stop when the store is dropped.
#[derive(Clone)]
pub(crate) struct Batcher {
    tx: mpsc::Sender<Job>,
}

impl Batcher {
    /// Starts the workers on `store`'s pool.
    pub(crate) fn start(store: PgStore) -> Batcher {
        let (tx, rx) = mpsc::channel::<Job>(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..WORKERS {
            let (store, rx) = (store.clone(), rx.clone());
            tokio::spawn(async move {
                loop {
                    let mut jobs = Vec::with_capacity(MAX_BATCH);
                    {
                        let mut rx = rx.lock().await;
                        match rx.recv().await {
                            Some(j) => jobs.push(j),
                            None => return,
                        }
                        while jobs.len() < MAX_BATCH {
                            match rx.try_recv() {
                                Ok(j) => jobs.push(j),
                                Err(_) => break,
                            }
                        }
                    }
                    run_group(&store, jobs).await;
                }
            });
        }
        Batcher { tx }
    }

    pub(crate) async fn sell(&self, req: SellNow) -> Result<SellOutcome> {
        let (done, answer) = oneshot::channel();
        self.tx
            .try_send((req, done))
            .map_err(|_| StoreError::Unavailable("too many sales waiting for the database".into()))?;
        answer.await.map_err(|_| StoreError::Unavailable("the sale's worker stopped".into()))?
    }
}

async fn run_group(store: &PgStore, jobs: Vec<Job>) {
    let (reqs, answers): (Vec<SellNow>, Vec<_>) = jobs.into_iter().unzip();
    let outcomes = match sell_group(store, &reqs).await {
        Ok(outcomes) => outcomes,
        Err(e) => {
            if !matches!(e, StoreError::SoldOut { .. }) {
                tracing::debug!(error = %e, sales = reqs.len(), "group of sales rolled back; selling one by one");
            }
            let mut one_by_one = Vec::with_capacity(reqs.len());
            for req in &reqs {
                one_by_one.push(sell_alone(store, req).await);
            }
            one_by_one
        }
    };
    for (answer, outcome) in answers.into_iter().zip(outcomes) {
        let _ = answer.send(outcome);
    }
}

async fn sell_alone(store: &PgStore, req: &SellNow) -> Result<SellOutcome> {
    transaction!(store, |tx| sell_now(tx, req).await)
}

/// The whole group in one transaction; `Err` means nothing of it was written.
async fn sell_group(store: &PgStore, reqs: &[SellNow]) -> Result<Vec<Result<SellOutcome>>> {
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(pg)?;
    // The sales of distinct accounts are checked and written together: one connection
    // pipelines their statements, so a group costs a few round trips rather than a few per
    // sale. A second sale of the same account in the group waits for the first, so that its
    // caps and its key see the first's writes. No savepoint: a sale refuses (key, slot, caps,
    // prices) before it writes anything, and a statement that fails aborts the whole group,
    // which is then sold one by one.
    let mut seen = std::collections::HashSet::new();
    let (first, later): (Vec<usize>, Vec<usize>) = (0..reqs.len()).partition(|&i| seen.insert(reqs[i].account));
    let mut prepared: Vec<Option<Result<Prepared>>> = (0..reqs.len()).map(|_| None).collect();
    let together = futures_util::future::join_all(first.iter().map(|&i| sell_prepared(&tx, &reqs[i]))).await;
    for (i, p) in first.into_iter().zip(together) {
        prepared[i] = Some(p);
    }
    for i in later {
        prepared[i] = Some(sell_prepared(&tx, &reqs[i]).await);
    }
    let mut outcomes: Vec<Option<Result<SellOutcome>>> = Vec::with_capacity(reqs.len());
    let mut sold: Vec<(usize, i64)> = Vec::new();
    let mut seats: std::collections::BTreeMap<i64, i64> = Default::default();
    for (i, (req, p)) in reqs.iter().zip(prepared).enumerate() {
        match p.expect("every sale prepared") {
            Ok(Prepared::Answered(outcome)) => outcomes.push(Some(Ok(outcome))),
            Ok(Prepared::Written { order_id }) => {
                for (category, qty) in &req.items {
                    *seats.entry(category.0).or_default() += qty;
                }
                sold.push((i, order_id));
                outcomes.push(None);
            }
            // A fault is no answer about this sale: the group goes one by one.
            Err(e @ (StoreError::Unavailable(_) | StoreError::Backend(_))) => return Err(e),
            Err(refused) => outcomes.push(Some(Err(refused))),
        }
    }
    let ids: Vec<i64> = sold.iter().map(|(_, id)| *id).collect();
    let orders = if ids.is_empty() { Vec::new() } else { crate::rows::order_views(&tx, &ids).await? };
    // Last, in id order like every writer: the hot rows are locked for the shortest time,
    // from this update to the commit.
    for (category, qty) in &seats {
        claim_seats_exact(&tx, *category, *qty).await?;
    }
    tx.commit().await.map_err(pg)?;
    for ((i, _), order) in sold.into_iter().zip(orders) {
        outcomes[i] = Some(Ok(SellOutcome::Sold(order)));
    }
    Ok(outcomes.into_iter().map(|o| o.expect("every sale answered")).collect())
}
