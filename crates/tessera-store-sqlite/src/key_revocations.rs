//! Revoked signed keys in SQL (see `tessera_store::key_revocations`).

use crate::sql::Sql;
use crate::SqliteStore;
use async_trait::async_trait;
use rusqlite::params;
use tessera_store::*;

#[async_trait]
impl KeyRevocations for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn revoke_keys(&self, r: &KeyRevocation) -> Result<()> {
        let r = r.clone();
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO key_revocations (holder, revoked_at_ms, reason) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (holder) DO UPDATE SET revoked_at_ms = MAX(revoked_at_ms, excluded.revoked_at_ms), \
                 reason = excluded.reason",
            )
            .sql()?
            .execute(params![r.holder, r.revoked_at_ms, r.reason])
            .sql()
            .map(drop)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn key_revocations(&self) -> Result<Vec<KeyRevocation>> {
        self.read(|c| {
            c.prepare_cached("SELECT holder, revoked_at_ms, reason FROM key_revocations")
                .sql()?
                .query_map([], |r| Ok(KeyRevocation { holder: r.get(0)?, revoked_at_ms: r.get(1)?, reason: r.get(2)? }))
                .sql()?
                .collect::<rusqlite::Result<_>>()
                .sql()
        })
        .await
    }
}
