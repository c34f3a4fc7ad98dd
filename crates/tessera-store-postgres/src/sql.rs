//! The driver's calls in this store's terms: statements run on any client (pool, connection
//! or transaction), errors mapped to `StoreError` once.

use crate::{pg, sqlstate};
use deadpool_postgres::GenericClient;
use tessera_store::*;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::Row;

pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

pub(crate) async fn rows<C: GenericClient>(c: &C, sql: &str, params: Params<'_>) -> Result<Vec<Row>> {
    let stmt = c.prepare_cached(sql).await.map_err(pg)?;
    c.query(&stmt, params).await.map_err(pg)
}

pub(crate) async fn row_opt<C: GenericClient>(c: &C, sql: &str, params: Params<'_>) -> Result<Option<Row>> {
    let stmt = c.prepare_cached(sql).await.map_err(pg)?;
    c.query_opt(&stmt, params).await.map_err(pg)
}

pub(crate) async fn row<C: GenericClient>(c: &C, sql: &str, params: Params<'_>) -> Result<Row> {
    let stmt = c.prepare_cached(sql).await.map_err(pg)?;
    c.query_one(&stmt, params).await.map_err(pg)
}

pub(crate) async fn exec<C: GenericClient>(c: &C, sql: &str, params: Params<'_>) -> Result<u64> {
    let stmt = c.prepare_cached(sql).await.map_err(pg)?;
    c.execute(&stmt, params).await.map_err(pg)
}

/// Reads a column without ever panicking: a type mismatch is a backend error.
pub(crate) fn get<'a, T: FromSql<'a>>(r: &'a Row, i: usize) -> Result<T> {
    r.try_get(i).map_err(pg)
}

pub(crate) fn corrupt(msg: String) -> StoreError {
    StoreError::Backend(msg.into())
}

/// Turns a unique violation into the conflict the caller can act on; other errors pass.
pub(crate) fn conflict_if_unique(e: StoreError, conflict: impl FnOnce() -> String) -> StoreError {
    if sqlstate(&e) == Some(&SqlState::UNIQUE_VIOLATION) {
        StoreError::Conflict(conflict())
    } else {
        e
    }
}

// Column lists as macros, so that `concat!` builds each statement at compile time and
// `prepare_cached` sees one stable string per statement.
