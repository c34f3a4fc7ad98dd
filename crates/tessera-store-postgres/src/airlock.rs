//! The airlock's settings and edge decisions (see `tessera_store`), on PostgreSQL.

use crate::sql::*;
use crate::PgStore;
use async_trait::async_trait;
use tessera_domain::*;
use tessera_store::*;

#[async_trait]
impl AirlockStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn put_waiting_room(
        &self,
        phase_code: &str,
        settings_json: &str,
        seed_hex: &str,
        now: Timestamp,
    ) -> Result<WaitingRoomRecord> {
        let c = self.client().await?;
        let found = rows(
            &c,
            "INSERT INTO waiting_rooms (phase_id, settings, seed_hex, updated_at) \
             SELECT id, $2, $3, $4 FROM phases WHERE code = $1 \
             ON CONFLICT (phase_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at \
             RETURNING seed_hex",
            &[&phase_code, &settings_json, &seed_hex, &now.0],
        )
        .await?;
        let r = found.first().ok_or_else(|| StoreError::NotFound("phase".into()))?;
        Ok(WaitingRoomRecord {
            phase_code: phase_code.to_string(),
            settings_json: settings_json.to_string(),
            seed_hex: get(r, 0)?,
            updated_at: now,
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_waiting_room(&self, phase_code: &str) -> Result<bool> {
        let c = self.client().await?;
        let n = exec(
            &c,
            "DELETE FROM waiting_rooms WHERE phase_id = (SELECT id FROM phases WHERE code = $1)",
            &[&phase_code],
        )
        .await?;
        Ok(n > 0)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn waiting_rooms(&self) -> Result<Vec<WaitingRoomRecord>> {
        let c = self.client().await?;
        rows(
            &c,
            "SELECT p.code, w.settings, w.seed_hex, w.updated_at FROM waiting_rooms w \
             JOIN phases p ON p.id = w.phase_id ORDER BY p.code",
            &[],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(WaitingRoomRecord {
                phase_code: get(r, 0)?,
                settings_json: get(r, 1)?,
                seed_hex: get(r, 2)?,
                updated_at: Timestamp(get(r, 3)?),
            })
        })
        .collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn put_edge_decision(&self, scope: &str, decision_json: &str, expires: Timestamp) -> Result<()> {
        let c = self.client().await?;
        exec(
            &c,
            "INSERT INTO edge_decisions (scope, decision, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (scope) DO UPDATE SET decision = excluded.decision, expires_at = excluded.expires_at",
            &[&scope, &decision_json, &expires.0],
        )
        .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_edge_decision(&self, scope: &str) -> Result<bool> {
        let c = self.client().await?;
        Ok(exec(&c, "DELETE FROM edge_decisions WHERE scope = $1", &[&scope]).await? > 0)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn edge_decisions(&self, now: Timestamp) -> Result<Vec<String>> {
        let c = self.client().await?;
        rows(&c, "SELECT decision FROM edge_decisions WHERE expires_at > $1 ORDER BY scope", &[&now.0])
            .await?
            .iter()
            .map(|r| get(r, 0))
            .collect()
    }
}
