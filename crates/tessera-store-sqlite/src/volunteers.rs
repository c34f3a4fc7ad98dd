//! The volunteer programme (see `tessera_store::volunteers`), on SQLite.

use crate::sql::{is_unique_violation, Sql};
use crate::{sql_err, SqliteStore};
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};
use tessera_domain::Timestamp;
use tessera_store::*;

const APPLICATION_COLS: &str =
    "SELECT id, account, state, sealed, submitted_at, updated_at FROM volunteer_applications";
const OFFER_COLS: &str =
    "SELECT id, run, application, mission, venue, offered_at, deadline, state, answered_at FROM volunteer_offers";

/// An account that applies twice, or an import that names one twice.
const ALREADY_APPLIED: &str = "this account has already applied to volunteer";

fn application_row(r: &Row) -> rusqlite::Result<StoredVolunteerApplication> {
    Ok(StoredVolunteerApplication {
        id: r.get(0)?,
        account: r.get(1)?,
        state: r.get(2)?,
        sealed: r.get(3)?,
        submitted_at: Timestamp(r.get(4)?),
        updated_at: Timestamp(r.get(5)?),
    })
}

fn offer_row(r: &Row) -> rusqlite::Result<StoredVolunteerOffer> {
    Ok(StoredVolunteerOffer {
        id: r.get(0)?,
        run: r.get(1)?,
        application: r.get(2)?,
        mission: r.get(3)?,
        venue: r.get(4)?,
        offered_at: Timestamp(r.get(5)?),
        deadline: Timestamp(r.get(6)?),
        state: r.get(7)?,
        answered_at: r.get::<_, Option<i64>>(8)?.map(Timestamp),
    })
}

fn run_row(r: &Row) -> rusqlite::Result<StoredVolunteerRun> {
    Ok(StoredVolunteerRun {
        id: r.get(0)?,
        by: r.get(1)?,
        at: Timestamp(r.get(2)?),
        summary: r.get(3)?,
        proposals: r.get(4)?,
    })
}

/// The body of [`VolunteerStore::save_volunteer_run`], in the writer's transaction.
fn save_run(c: &Connection, run: &NewVolunteerRun) -> Result<i64> {
    let last: Option<Option<i64>> = c
        .prepare_cached("SELECT last_run FROM volunteer_programme WHERE id = 1")
        .sql()?
        .query_row([], |r| r.get(0))
        .optional()
        .sql()?;
    match last {
        None => return Err(StoreError::Conflict("the volunteer programme is not set up yet".into())),
        Some(last) if last != run.after => {
            return Err(StoreError::Conflict("another matching run was saved meanwhile; run it again".into()))
        }
        Some(_) => {}
    }
    c.prepare_cached("INSERT INTO volunteer_runs (by_whom, at, summary, proposals) VALUES (?1, ?2, ?3, ?4)")
        .sql()?
        .execute(params![run.by, run.at.0, run.summary, run.proposals])
        .sql()?;
    let id = c.last_insert_rowid();
    c.prepare_cached("UPDATE volunteer_programme SET last_run = ?1 WHERE id = 1").sql()?.execute([id]).sql()?;
    let mut offer = c
        .prepare_cached(
            "INSERT INTO volunteer_offers (run, application, mission, venue, offered_at, deadline, state) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'offered')",
        )
        .sql()?;
    let mut moved =
        c.prepare_cached("UPDATE volunteer_applications SET state = 'offered', updated_at = ?2 WHERE id = ?1").sql()?;
    for o in &run.offers {
        offer.execute(params![id, o.application, o.mission, o.venue, run.at.0, o.deadline.0]).sql()?;
        if moved.execute(params![o.application, run.at.0]).sql()? != 1 {
            return Err(StoreError::NotFound(format!("volunteer application {}", o.application)));
        }
    }
    let mut used = c.prepare_cached("UPDATE volunteer_overrides SET run = ?2 WHERE id = ?1 AND run IS NULL").sql()?;
    for o in &run.overrides_used {
        used.execute(params![o, id]).sql()?;
    }
    Ok(id)
}

/// The body of [`VolunteerStore::answer_volunteer_offer`], in the writer's transaction.
fn answer(c: &Connection, id: i64, application: i64, accept: bool, now: Timestamp) -> Result<bool> {
    let state = if accept { "accepted" } else { "refused" };
    let changed = c
        .prepare_cached(
            "UPDATE volunteer_offers SET state = ?3, answered_at = ?4 \
             WHERE id = ?1 AND application = ?2 AND state = 'offered' AND deadline > ?4",
        )
        .sql()?
        .execute(params![id, application, state, now.0])
        .sql()?;
    if changed == 1 {
        c.prepare_cached("UPDATE volunteer_applications SET state = ?2, updated_at = ?3 WHERE id = ?1")
            .sql()?
            .execute(params![application, state, now.0])
            .sql()?;
    }
    Ok(changed == 1)
}

#[async_trait]
impl VolunteerStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, fields(rows = rows.len()))]
    async fn add_volunteer_applications(&self, rows: &[NewVolunteerApplication]) -> Result<Vec<i64>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let rows = rows.to_vec();
        self.write(move |c| {
            let mut insert = c
                .prepare_cached(
                    "INSERT INTO volunteer_applications (account, state, sealed, submitted_at, updated_at) \
                     VALUES (?1, 'submitted', ?2, ?3, ?3)",
                )
                .sql()?;
            let mut ids = Vec::with_capacity(rows.len());
            for r in &rows {
                insert.execute(params![r.account, r.sealed, r.submitted_at.0]).map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Conflict(ALREADY_APPLIED.into())
                    } else {
                        sql_err(e)
                    }
                })?;
                ids.push(c.last_insert_rowid());
            }
            Ok(ids)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn volunteer_application(&self, id: i64) -> Result<Option<StoredVolunteerApplication>> {
        self.read(move |c| {
            c.prepare_cached(&format!("{APPLICATION_COLS} WHERE id = ?1"))
                .sql()?
                .query_row([id], application_row)
                .optional()
                .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn volunteer_application_of(&self, account: i64) -> Result<Option<StoredVolunteerApplication>> {
        self.read(move |c| {
            c.prepare_cached(&format!("{APPLICATION_COLS} WHERE account = ?1"))
                .sql()?
                .query_row([account], application_row)
                .optional()
                .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn volunteer_applications(&self, after: i64, limit: i64) -> Result<Vec<StoredVolunteerApplication>> {
        self.read_blocking(move |c| {
            c.prepare_cached(&format!("{APPLICATION_COLS} WHERE id > ?1 ORDER BY id LIMIT ?2"))
                .sql()?
                .query_map(params![after, limit.max(0)], application_row)
                .sql()?
                .collect::<rusqlite::Result<Vec<_>>>()
                .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn put_volunteer_programme(&self, json: &str, now: Timestamp) -> Result<()> {
        let json = json.to_owned();
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO volunteer_programme (id, json, updated_at) VALUES (1, ?1, ?2) \
                 ON CONFLICT (id) DO UPDATE SET json = excluded.json, updated_at = excluded.updated_at",
            )
            .sql()?
            .execute(params![json, now.0])
            .sql()?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn volunteer_programme(&self) -> Result<Option<String>> {
        self.read(|c| {
            c.prepare_cached("SELECT json FROM volunteer_programme WHERE id = 1")
                .sql()?
                .query_row([], |r| r.get(0))
                .optional()
                .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(offers = run.offers.len()))]
    async fn save_volunteer_run(&self, run: &NewVolunteerRun) -> Result<i64> {
        let run = run.clone();
        self.write(move |c| save_run(c, &run)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn latest_volunteer_run(&self) -> Result<Option<StoredVolunteerRun>> {
        self.read_blocking(|c| {
            c.prepare_cached("SELECT id, by_whom, at, summary, proposals FROM volunteer_runs ORDER BY id DESC LIMIT 1")
                .sql()?
                .query_row([], run_row)
                .optional()
                .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn volunteer_run(&self, id: i64) -> Result<Option<StoredVolunteerRun>> {
        self.read_blocking(move |c| {
            c.prepare_cached("SELECT id, by_whom, at, summary, proposals FROM volunteer_runs WHERE id = ?1")
                .sql()?
                .query_row([id], run_row)
                .optional()
                .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn volunteer_offers(&self, application: Option<i64>) -> Result<Vec<StoredVolunteerOffer>> {
        self.read_blocking(move |c| {
            let found = match application {
                Some(a) => c
                    .prepare_cached(&format!("{OFFER_COLS} WHERE application = ?1 ORDER BY id"))
                    .sql()?
                    .query_map([a], offer_row)
                    .sql()?
                    .collect::<rusqlite::Result<Vec<_>>>(),
                None => c
                    .prepare_cached(&format!("{OFFER_COLS} ORDER BY id"))
                    .sql()?
                    .query_map([], offer_row)
                    .sql()?
                    .collect::<rusqlite::Result<Vec<_>>>(),
            };
            found.sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn answer_volunteer_offer(&self, id: i64, application: i64, accept: bool, now: Timestamp) -> Result<bool> {
        self.write(move |c| answer(c, id, application, accept, now)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn add_volunteer_override(&self, o: &NewVolunteerOverride) -> Result<i64> {
        let o = o.clone();
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO volunteer_overrides (application, action, by_whom, reason, at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .sql()?
            .execute(params![o.application, o.action, o.by, o.reason, o.at.0])
            .sql()?;
            Ok(c.last_insert_rowid())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn volunteer_overrides(&self) -> Result<Vec<StoredVolunteerOverride>> {
        self.read_blocking(|c| {
            c.prepare_cached(
                "SELECT id, application, action, by_whom, reason, at, run FROM volunteer_overrides ORDER BY id",
            )
            .sql()?
            .query_map([], |r| {
                Ok(StoredVolunteerOverride {
                    id: r.get(0)?,
                    application: r.get(1)?,
                    action: r.get(2)?,
                    by: r.get(3)?,
                    reason: r.get(4)?,
                    at: Timestamp(r.get(5)?),
                    run: r.get(6)?,
                })
            })
            .sql()?
            .collect::<rusqlite::Result<Vec<_>>>()
            .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn save_volunteer_roster(&self, at: Timestamp, json: &str) -> Result<i64> {
        let json = json.to_owned();
        self.write(move |c| {
            c.prepare_cached("INSERT INTO volunteer_rosters (at, json) VALUES (?1, ?2)")
                .sql()?
                .execute(params![at.0, json])
                .sql()?;
            Ok(c.last_insert_rowid())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn volunteer_roster(&self) -> Result<Option<StoredVolunteerRoster>> {
        self.read_blocking(|c| {
            c.prepare_cached("SELECT id, at, json FROM volunteer_rosters ORDER BY id DESC LIMIT 1")
                .sql()?
                .query_row([], |r| {
                    Ok(StoredVolunteerRoster { id: r.get(0)?, at: Timestamp(r.get(1)?), json: r.get(2)? })
                })
                .optional()
                .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn volunteer_counts(&self, now: Timestamp) -> Result<VolunteerCounts> {
        self.read_blocking(move |c| {
            let pairs = |sql: &str, p: &[&dyn rusqlite::ToSql]| -> Result<Vec<(String, i64)>> {
                c.prepare_cached(sql)
                    .sql()?
                    .query_map(p, |r| Ok((r.get(0)?, r.get(1)?)))
                    .sql()?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .sql()
            };
            let applications =
                pairs("SELECT state, COUNT(*) FROM volunteer_applications GROUP BY state ORDER BY state", &[])?;
            let offers = pairs(
                "SELECT s, COUNT(*) FROM (SELECT CASE WHEN state = 'offered' AND deadline <= ?1 THEN 'expired' \
                 ELSE state END AS s FROM volunteer_offers) GROUP BY s ORDER BY s",
                &[&now.0],
            )?;
            let one = |sql: &str| -> Result<i64> { c.prepare_cached(sql).sql()?.query_row([], |r| r.get(0)).sql() };
            Ok(VolunteerCounts {
                applications,
                offers,
                runs: one("SELECT COUNT(*) FROM volunteer_runs")?,
                overrides: one("SELECT COUNT(*) FROM volunteer_overrides")?,
            })
        })
        .await
    }
}
