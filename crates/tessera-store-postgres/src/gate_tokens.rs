//! Revoked gate tokens in SQL (see `tessera_store::gate_tokens`).

use crate::sql::{exec, get, rows};
use crate::PgStore;
use async_trait::async_trait;
use tessera_store::*;

#[async_trait]
impl GateTokens for PgStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn revoke_gate(&self, r: &GateRevocation) -> Result<()> {
        let c = self.client().await?;
        exec(
            &c,
            "INSERT INTO gate_revocations (gate_id, revoked_at_ms, reason) VALUES ($1, $2, $3) \
             ON CONFLICT (gate_id) DO UPDATE SET \
             revoked_at_ms = GREATEST(gate_revocations.revoked_at_ms, excluded.revoked_at_ms), reason = excluded.reason",
            &[&r.gate_id, &r.revoked_at_ms, &r.reason],
        )
        .await
        .map(drop)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn gate_revocations(&self) -> Result<Vec<GateRevocation>> {
        let c = self.client().await?;
        rows(&c, "SELECT gate_id, revoked_at_ms, reason FROM gate_revocations", &[])
            .await?
            .iter()
            .map(|r| Ok(GateRevocation { gate_id: get(r, 0)?, revoked_at_ms: get(r, 1)?, reason: get(r, 2)? }))
            .collect()
    }
}
