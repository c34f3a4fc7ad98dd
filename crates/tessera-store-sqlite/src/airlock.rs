//! The airlock's settings and edge decisions (see `tessera_store`), on SQLite.

use crate::sql::*;
use crate::SqliteStore;
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use tessera_domain::*;
use tessera_store::*;

#[async_trait]
impl AirlockStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn put_waiting_room(
        &self,
        phase_code: &str,
        settings_json: &str,
        seed_hex: &str,
        now: Timestamp,
    ) -> Result<WaitingRoomRecord> {
        let (code, settings, seed) = (phase_code.to_string(), settings_json.to_string(), seed_hex.to_string());
        self.write(move |c| {
            let phase: i64 = c
                .query_row("SELECT id FROM phases WHERE code = ?1", [&code], |r| r.get(0))
                .optional()
                .sql()?
                .ok_or_else(|| StoreError::NotFound("phase".into()))?;
            let seed_hex: String = c
                .query_row(
                    "INSERT INTO waiting_rooms (phase_id, settings, seed_hex, updated_at) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (phase_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at \
                     RETURNING seed_hex",
                    params![phase, settings, seed, now.0],
                    |r| r.get(0),
                )
                .sql()?;
            Ok(WaitingRoomRecord { phase_code: code, settings_json: settings, seed_hex, updated_at: now })
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_waiting_room(&self, phase_code: &str) -> Result<bool> {
        let code = phase_code.to_string();
        self.write(move |c| {
            let n = c
                .execute("DELETE FROM waiting_rooms WHERE phase_id = (SELECT id FROM phases WHERE code = ?1)", [code])
                .sql()?;
            Ok(n > 0)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn waiting_rooms(&self) -> Result<Vec<WaitingRoomRecord>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT p.code, w.settings, w.seed_hex, w.updated_at FROM waiting_rooms w \
                 JOIN phases p ON p.id = w.phase_id ORDER BY p.code",
            )
            .sql()?
            .query_map([], |r| {
                Ok(WaitingRoomRecord {
                    phase_code: r.get(0)?,
                    settings_json: r.get(1)?,
                    seed_hex: r.get(2)?,
                    updated_at: Timestamp(r.get(3)?),
                })
            })
            .sql()?
            .collect::<rusqlite::Result<Vec<_>>>()
            .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn put_edge_decision(&self, scope: &str, decision_json: &str, expires: Timestamp) -> Result<()> {
        let (scope, decision) = (scope.to_string(), decision_json.to_string());
        self.write(move |c| {
            c.execute(
                "INSERT INTO edge_decisions (scope, decision, expires_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (scope) DO UPDATE SET decision = excluded.decision, expires_at = excluded.expires_at",
                params![scope, decision, expires.0],
            )
            .sql()?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_edge_decision(&self, scope: &str) -> Result<bool> {
        let scope = scope.to_string();
        self.write(move |c| Ok(c.execute("DELETE FROM edge_decisions WHERE scope = ?1", [scope]).sql()? > 0)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn edge_decisions(&self, now: Timestamp) -> Result<Vec<String>> {
        self.read(move |c| {
            c.prepare_cached("SELECT decision FROM edge_decisions WHERE expires_at > ?1 ORDER BY scope")
                .sql()?
                .query_map([now.0], |r| r.get(0))
                .sql()?
                .collect::<rusqlite::Result<Vec<String>>>()
                .sql()
        })
        .await
    }
}
