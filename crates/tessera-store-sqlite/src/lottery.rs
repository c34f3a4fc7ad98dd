//! Sales phases and the lottery (see `tessera_store`), on SQLite.

use crate::ops::*;
use crate::sql::*;
use crate::{sql_err, SqliteStore};
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use tessera_domain::lottery;
use tessera_domain::*;
use tessera_store::*;

#[async_trait]
impl LotteryStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn create_phase(&self, code: &str, name: &str, s: &PhaseSettings) -> Result<Phase> {
        let (code, name, s) = (code.to_string(), name.to_string(), s.clone());
        self.write(move |c| {
            c.execute(
                "INSERT INTO phases (code, name, status, per_account, per_session, per_ceremony, min_sessions, \
                 cart_ttl_secs, slot_secs, wave_size, wave_interval_secs, announce_ahead_secs, winners) \
                 VALUES (?1, ?2, 'draft', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    code,
                    name,
                    s.caps.per_account,
                    s.caps.per_session,
                    s.caps.per_ceremony,
                    s.caps.min_sessions_per_order,
                    s.cart_ttl_secs,
                    s.slot_secs,
                    s.wave_size,
                    s.wave_interval_secs,
                    s.announce_ahead_secs,
                    s.winners
                ],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict(format!("phase {code} already exists"))
                } else {
                    sql_err(e)
                }
            })?;
            phase_by_id(c, PhaseId(c.last_insert_rowid()))?.ok_or_else(|| StoreError::NotFound("phase".into()))
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn phase(&self, code: &str) -> Result<Option<Phase>> {
        let code = code.to_string();
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {PHASE_COLS} FROM phases p WHERE p.code = ?1"))
                .sql()?
                .query_row([&code], phase_row)
                .optional()
                .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn phase_by_id(&self, id: PhaseId) -> Result<Option<Phase>> {
        self.read(move |c| phase_by_id(c, id)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn list_phases(&self) -> Result<Vec<Phase>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {PHASE_COLS} FROM phases p ORDER BY p.id"))
                .sql()?
                .query_map([], phase_row)
                .sql()?
                .collect::<rusqlite::Result<Vec<_>>>()
                .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn open_registration(&self, id: PhaseId, seed_hex: &str, seed_sha256: &str, now: Timestamp) -> Result<Phase> {
        let (seed_hex, seed_sha256) = (seed_hex.to_string(), seed_sha256.to_string());
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE phases SET status = 'registration', seed_hex = ?2, seed_sha256 = ?3, registration_opened_at = ?4 \
                     WHERE id = ?1 AND status = 'draft'",
                    params![id.0, seed_hex, seed_sha256, now.0],
                )
                .sql()?;
            if n == 0 {
                return Err(StoreError::State("only a draft phase can open its registration".into()));
            }
            phase_by_id(c, id)?.ok_or_else(|| StoreError::NotFound("phase".into()))
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn close_registration(&self, id: PhaseId, now: Timestamp) -> Result<Vec<String>> {
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE phases SET status = 'closed', registration_closed_at = ?2 \
                     WHERE id = ?1 AND status = 'registration'",
                    params![id.0, now.0],
                )
                .sql()?;
            if n == 0 {
                return Err(StoreError::State("only a phase open for registration can close".into()));
            }
            let codes = c
                .prepare_cached("SELECT entry_code FROM entries WHERE phase_id = ?1 ORDER BY entry_code")
                .sql()?
                .query_map([id.0], |r| r.get(0))
                .sql()?
                .collect::<rusqlite::Result<Vec<String>>>()
                .sql()?;
            let digest = lottery::sha256_hex(lottery::entries_file(&codes).as_bytes());
            c.execute("UPDATE phases SET entries_sha256 = ?2 WHERE id = ?1", params![id.0, digest]).sql()?;
            Ok(codes)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn enter_lottery(&self, phase: PhaseId, account: AccountId, code: &str, now: Timestamp) -> Result<Entry> {
        let code = code.to_string();
        self.write(move |c| {
            let status: Option<String> =
                c.query_row("SELECT status FROM phases WHERE id = ?1", [phase.0], |r| r.get(0)).optional().sql()?;
            match status.as_deref() {
                None => return Err(StoreError::NotFound("phase".into())),
                Some("registration") => {}
                Some(_) => return Err(StoreError::State("this phase is not open for lottery entries".into())),
            }
            c.prepare_cached(
                "INSERT INTO entries (phase_id, account_id, entry_code, created_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (phase_id, account_id) DO NOTHING",
            )
            .sql()?
            .execute(params![phase.0, account.0, code, now.0])
            .sql()?;
            if c.changes() == 1 {
                c.prepare_cached("UPDATE phases SET entry_count = entry_count + 1 WHERE id = ?1")
                    .sql()?
                    .execute([phase.0])
                    .sql()?;
            }
            c.prepare_cached("SELECT entry_code, created_at FROM entries WHERE phase_id = ?1 AND account_id = ?2")
                .sql()?
                .query_row(params![phase.0, account.0], |r| {
                    Ok(Entry {
                        phase_id: phase,
                        account_id: account,
                        entry_code: r.get(0)?,
                        created_at: Timestamp(r.get(1)?),
                    })
                })
                .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn entry(&self, phase: PhaseId, account: AccountId) -> Result<Option<Entry>> {
        self.read(move |c| {
            c.prepare_cached("SELECT entry_code, created_at FROM entries WHERE phase_id = ?1 AND account_id = ?2")
                .sql()?
                .query_row(params![phase.0, account.0], |r| {
                    Ok(Entry {
                        phase_id: phase,
                        account_id: account,
                        entry_code: r.get(0)?,
                        created_at: Timestamp(r.get(1)?),
                    })
                })
                .optional()
                .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn entries(&self, phase: PhaseId) -> Result<Vec<(String, AccountId)>> {
        self.read_blocking(move |c| {
            c.prepare_cached("SELECT entry_code, account_id FROM entries WHERE phase_id = ?1 ORDER BY entry_code")
                .sql()?
                .query_map([phase.0], |r| Ok((r.get(0)?, AccountId(r.get(1)?))))
                .sql()?
                .collect::<rusqlite::Result<Vec<_>>>()
                .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn record_draw(&self, draw: &DrawRecord) -> Result<()> {
        let draw = draw.clone();
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE phases SET status = 'drawn', drawn_at = ?2 WHERE id = ?1 AND status = 'closed' AND seed_hex = ?3",
                    params![draw.phase_id.0, draw.drawn_at.0, draw.seed_hex],
                )
                .sql()?;
            if n == 0 {
                return Err(StoreError::State("only a closed phase can be drawn, with its own seed".into()));
            }
            let mut ins = c
                .prepare_cached(
                    "INSERT INTO slots (phase_id, account_id, rank, wave, starts_at, ends_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .sql()?;
            for (account, s) in &draw.slots {
                ins.execute(params![draw.phase_id.0, account.0, s.rank as i64, s.wave as i64, s.starts_at.0, s.ends_at.0])
                    .sql()?;
            }
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn slot(&self, phase: PhaseId, account: AccountId) -> Result<Option<Slot>> {
        self.read(move |c| {
            c.prepare_cached("SELECT rank, wave, starts_at, ends_at FROM slots WHERE phase_id = ?1 AND account_id = ?2")
                .sql()?
                .query_row(params![phase.0, account.0], |r| {
                    Ok(Slot {
                        phase_id: phase,
                        account_id: account,
                        rank: r.get(0)?,
                        wave: r.get(1)?,
                        starts_at: Timestamp(r.get(2)?),
                        ends_at: Timestamp(r.get(3)?),
                    })
                })
                .optional()
                .sql()
        })
        .await
    }
}
