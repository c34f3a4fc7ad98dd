//! Sales phases and the lottery (see `tessera_store`), on PostgreSQL.

use crate::{rows::*, sql::*};
use crate::{transaction, PgStore};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tessera_domain::*;
use tessera_store::*;

#[async_trait]
impl LotteryStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn create_phase(&self, code: &str, name: &str, s: &PhaseSettings) -> Result<Phase> {
        transaction!(self, |tx| {
            async {
                let r = row(
                    tx,
                    "INSERT INTO phases (code, name, status, per_account, per_session, per_ceremony, min_sessions, \
                 cart_ttl_secs, slot_secs, wave_size, wave_interval_secs, announce_ahead_secs, winners) \
                 VALUES ($1, $2, 'draft', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
                    &[
                        &code,
                        &name,
                        &s.caps.per_account,
                        &s.caps.per_session,
                        &s.caps.per_ceremony,
                        &s.caps.min_sessions_per_order,
                        &s.cart_ttl_secs,
                        &s.slot_secs,
                        &s.wave_size,
                        &s.wave_interval_secs,
                        &s.announce_ahead_secs,
                        &s.winners,
                    ],
                )
                .await
                .map_err(|e| conflict_if_unique(e, || format!("phase {code} already exists")))?;
                phase_by_id(tx, PhaseId(get(&r, 0)?)).await?.ok_or_else(|| StoreError::NotFound("phase".into()))
            }
            .await
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn phase(&self, code: &str) -> Result<Option<Phase>> {
        const SQL: &str = concat!("SELECT ", phase_cols!(), " FROM phases p WHERE p.code = $1");
        let c = self.client().await?;
        row_opt(&c, SQL, &[&code]).await?.map(|r| phase_row(&r)).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn phase_by_id(&self, id: PhaseId) -> Result<Option<Phase>> {
        phase_by_id(&self.client().await?, id).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn list_phases(&self) -> Result<Vec<Phase>> {
        const SQL: &str = concat!("SELECT ", phase_cols!(), " FROM phases p ORDER BY p.id");
        let c = self.client().await?;
        rows(&c, SQL, &[]).await?.iter().map(phase_row).collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn open_registration(&self, id: PhaseId, seed_hex: &str, seed_sha256: &str, now: Timestamp) -> Result<Phase> {
        transaction!(self, |tx| {
            async {
            let n = exec(
                tx,
                "UPDATE phases SET status = 'registration', seed_hex = $2, seed_sha256 = $3, registration_opened_at = $4 \
                 WHERE id = $1 AND status = 'draft'",
                &[&id.0, &seed_hex, &seed_sha256, &now.0],
            )
            .await?;
            if n == 0 {
                return Err(StoreError::State("only a draft phase can open its registration".into()));
            }
            phase_by_id(tx, id).await?.ok_or_else(|| StoreError::NotFound("phase".into()))
        }
        .await
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn close_registration(&self, id: PhaseId, now: Timestamp) -> Result<Vec<String>> {
        transaction!(self, |tx| {
            async {
                // The update waits for entries in flight (they lock the phase row), and the
                // query below, run after it, sees all of them: the frozen list is complete, no
                // entry can slip in after it, and its digest is of exactly that list.
                let n = exec(
                    tx,
                    "UPDATE phases SET status = 'closed', registration_closed_at = $2 \
                 WHERE id = $1 AND status = 'registration'",
                    &[&id.0, &now.0],
                )
                .await?;
                if n == 0 {
                    return Err(StoreError::State("only a phase open for registration can close".into()));
                }
                let codes: Vec<String> =
                    rows(tx, "SELECT entry_code FROM entries WHERE phase_id = $1 ORDER BY entry_code", &[&id.0])
                        .await?
                        .iter()
                        .map(|r| get(r, 0))
                        .collect::<Result<_>>()?;
                let digest =
                    tessera_domain::lottery::sha256_hex(tessera_domain::lottery::entries_file(&codes).as_bytes());
                exec(tx, "UPDATE phases SET entries_sha256 = $2 WHERE id = $1", &[&id.0, &digest]).await?;
                Ok(codes)
            }
            .await
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn enter_lottery(&self, phase: PhaseId, account: AccountId, code: &str, now: Timestamp) -> Result<Entry> {
        transaction!(self, |tx| {
            async {
                // FOR UPDATE, not FOR SHARE: the entry count below updates this row, and two
                // share-lockers upgrading at once would deadlock.
                let status = row_opt(tx, "SELECT status FROM phases WHERE id = $1 FOR UPDATE", &[&phase.0]).await?;
                let status: Option<String> = status.map(|r| get(&r, 0)).transpose()?;
                match status.as_deref() {
                    None => return Err(StoreError::NotFound("phase".into())),
                    Some("registration") => {}
                    Some(_) => return Err(StoreError::State("this phase is not open for lottery entries".into())),
                }
                let inserted = exec(
                    tx,
                    "INSERT INTO entries (phase_id, account_id, entry_code, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (phase_id, account_id) DO NOTHING",
                    &[&phase.0, &account.0, &code, &now.0],
                )
                .await?;
                if inserted == 1 {
                    exec(tx, "UPDATE phases SET entry_count = entry_count + 1 WHERE id = $1", &[&phase.0]).await?;
                }
                entry(tx, phase, account).await?.ok_or_else(|| StoreError::NotFound("entry".into()))
            }
            .await
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn entry(&self, phase: PhaseId, account: AccountId) -> Result<Option<Entry>> {
        entry(&self.client().await?, phase, account).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn entries(&self, phase: PhaseId) -> Result<Vec<(String, AccountId)>> {
        let c = self.client().await?;
        rows(&c, "SELECT entry_code, account_id FROM entries WHERE phase_id = $1 ORDER BY entry_code", &[&phase.0])
            .await?
            .iter()
            .map(|r| Ok((get(r, 0)?, AccountId(get(r, 1)?))))
            .collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn record_draw(&self, draw: &DrawRecord) -> Result<()> {
        let accounts: Vec<i64> = draw.slots.iter().map(|(a, _)| a.0).collect();
        let ranks: Vec<i64> = draw.slots.iter().map(|(_, s)| s.rank as i64).collect();
        let waves: Vec<i64> = draw.slots.iter().map(|(_, s)| s.wave as i64).collect();
        let starts: Vec<i64> = draw.slots.iter().map(|(_, s)| s.starts_at.0).collect();
        let ends: Vec<i64> = draw.slots.iter().map(|(_, s)| s.ends_at.0).collect();
        transaction!(self, |tx| {
            async {
            let n = exec(
                tx,
                "UPDATE phases SET status = 'drawn', drawn_at = $2 WHERE id = $1 AND status = 'closed' AND seed_hex = $3",
                &[&draw.phase_id.0, &draw.drawn_at.0, &draw.seed_hex],
            )
            .await?;
            if n == 0 {
                return Err(StoreError::State("only a closed phase can be drawn, with its own seed".into()));
            }
            exec(
                tx,
                "INSERT INTO slots (phase_id, account_id, rank, wave, starts_at, ends_at) \
                 SELECT $1, u.account_id, u.rank, u.wave, u.starts_at, u.ends_at \
                 FROM UNNEST($2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::BIGINT[], $6::BIGINT[]) \
                      AS u(account_id, rank, wave, starts_at, ends_at)",
                &[&draw.phase_id.0, &accounts, &ranks, &waves, &starts, &ends],
            )
            .await?;
            Ok(())
        }
        .await
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn slot(&self, phase: PhaseId, account: AccountId) -> Result<Option<Slot>> {
        let c = self.client().await?;
        row_opt(
            &c,
            "SELECT rank, wave, starts_at, ends_at FROM slots WHERE phase_id = $1 AND account_id = $2",
            &[&phase.0, &account.0],
        )
        .await?
        .map(|r| {
            Ok(Slot {
                phase_id: phase,
                account_id: account,
                rank: get(&r, 0)?,
                wave: get(&r, 1)?,
                starts_at: Timestamp(get(&r, 2)?),
                ends_at: Timestamp(get(&r, 3)?),
            })
        })
        .transpose()
    }
}
