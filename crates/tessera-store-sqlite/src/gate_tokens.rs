//! Revoked gate tokens in SQL (see `tessera_store::gate_tokens`).

use crate::sql::Sql;
use crate::SqliteStore;
use async_trait::async_trait;
use rusqlite::params;
use tessera_store::*;

#[async_trait]
impl GateTokens for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn revoke_gate(&self, r: &GateRevocation) -> Result<()> {
        let r = r.clone();
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO gate_revocations (gate_id, revoked_at_ms, reason) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (gate_id) DO UPDATE SET revoked_at_ms = MAX(revoked_at_ms, excluded.revoked_at_ms), \
                 reason = excluded.reason",
            )
            .sql()?
            .execute(params![r.gate_id, r.revoked_at_ms, r.reason])
            .sql()
            .map(drop)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn gate_revocations(&self) -> Result<Vec<GateRevocation>> {
        self.read(|c| {
            c.prepare_cached("SELECT gate_id, revoked_at_ms, reason FROM gate_revocations")
                .sql()?
                .query_map([], |r| {
                    Ok(GateRevocation { gate_id: r.get(0)?, revoked_at_ms: r.get(1)?, reason: r.get(2)? })
                })
                .sql()?
                .collect::<rusqlite::Result<_>>()
                .sql()
        })
        .await
    }
}
