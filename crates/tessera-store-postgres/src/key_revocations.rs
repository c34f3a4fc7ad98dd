//! Revoked signed keys in SQL (see `tessera_store::key_revocations`).

use crate::sql::{exec, get, rows};
use crate::PgStore;
use async_trait::async_trait;
use tessera_store::*;

#[async_trait]
impl KeyRevocations for PgStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn revoke_keys(&self, r: &KeyRevocation) -> Result<()> {
        let c = self.client().await?;
        exec(
            &c,
            "INSERT INTO key_revocations (holder, revoked_at_ms, reason) VALUES ($1, $2, $3) \
             ON CONFLICT (holder) DO UPDATE SET \
             revoked_at_ms = GREATEST(key_revocations.revoked_at_ms, excluded.revoked_at_ms), reason = excluded.reason",
            &[&r.holder, &r.revoked_at_ms, &r.reason],
        )
        .await
        .map(drop)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn key_revocations(&self) -> Result<Vec<KeyRevocation>> {
        let c = self.client().await?;
        rows(&c, "SELECT holder, revoked_at_ms, reason FROM key_revocations", &[])
            .await?
            .iter()
            .map(|r| Ok(KeyRevocation { holder: get(r, 0)?, revoked_at_ms: get(r, 1)?, reason: get(r, 2)? }))
            .collect()
    }
}
