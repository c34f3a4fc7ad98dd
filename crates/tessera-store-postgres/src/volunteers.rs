//! The volunteer programme (see `tessera_store::volunteers`), on PostgreSQL.

use crate::sql::*;
use crate::{transaction, PgStore};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tessera_domain::Timestamp;
use tessera_store::*;
use tokio_postgres::Row;

const APPLICATION_COLS: &str =
    "SELECT id, account, state, sealed, submitted_at, updated_at FROM volunteer_applications";
const OFFER_COLS: &str =
    "SELECT id, run, application, mission, venue, offered_at, deadline, state, answered_at FROM volunteer_offers";

/// An account that applies twice, or an import that names one twice.
const ALREADY_APPLIED: &str = "this account has already applied to volunteer";

fn application_row(r: &Row) -> Result<StoredVolunteerApplication> {
    Ok(StoredVolunteerApplication {
        id: get(r, 0)?,
        account: get(r, 1)?,
        state: get(r, 2)?,
        sealed: get(r, 3)?,
        submitted_at: Timestamp(get(r, 4)?),
        updated_at: Timestamp(get(r, 5)?),
    })
}

fn offer_row(r: &Row) -> Result<StoredVolunteerOffer> {
    Ok(StoredVolunteerOffer {
        id: get(r, 0)?,
        run: get(r, 1)?,
        application: get(r, 2)?,
        mission: get(r, 3)?,
        venue: get(r, 4)?,
        offered_at: Timestamp(get(r, 5)?),
        deadline: Timestamp(get(r, 6)?),
        state: get(r, 7)?,
        answered_at: get::<Option<i64>>(r, 8)?.map(Timestamp),
    })
}

fn run_row(r: &Row) -> Result<StoredVolunteerRun> {
    Ok(StoredVolunteerRun {
        id: get(r, 0)?,
        by: get(r, 1)?,
        at: Timestamp(get(r, 2)?),
        summary: get(r, 3)?,
        proposals: get(r, 4)?,
    })
}

/// The body of [`VolunteerStore::save_volunteer_run`]: the programme's row is locked first,
/// so that two runs saved at once are serial and the second sees the first's id.
async fn save_run<C: GenericClient>(tx: &C, run: &NewVolunteerRun) -> Result<i64> {
    let Some(last) = row_opt(tx, "SELECT last_run FROM volunteer_programme WHERE id = 1 FOR UPDATE", &[]).await? else {
        return Err(StoreError::Conflict("the volunteer programme is not set up yet".into()));
    };
    if get::<Option<i64>>(&last, 0)? != run.after {
        return Err(StoreError::Conflict("another matching run was saved meanwhile; run it again".into()));
    }
    let id: i64 = get(
        &row(
            tx,
            "INSERT INTO volunteer_runs (by_whom, at, summary, proposals) VALUES ($1, $2, $3, $4) RETURNING id",
            &[&run.by, &run.at.0, &run.summary, &run.proposals],
        )
        .await?,
        0,
    )?;
    exec(tx, "UPDATE volunteer_programme SET last_run = $1 WHERE id = 1", &[&id]).await?;
    let apps: Vec<i64> = run.offers.iter().map(|o| o.application).collect();
    let missions: Vec<&str> = run.offers.iter().map(|o| o.mission.as_str()).collect();
    let venues: Vec<&str> = run.offers.iter().map(|o| o.venue.as_str()).collect();
    let deadlines: Vec<i64> = run.offers.iter().map(|o| o.deadline.0).collect();
    exec(
        tx,
        "INSERT INTO volunteer_offers (run, application, mission, venue, offered_at, deadline, state) \
         SELECT $1, a, m, v, $2, d, 'offered' FROM UNNEST($3::BIGINT[], $4::TEXT[], $5::TEXT[], $6::BIGINT[]) \
         WITH ORDINALITY AS u(a, m, v, d, n) ORDER BY n",
        &[&id, &run.at.0, &apps, &missions, &venues, &deadlines],
    )
    .await?;
    let moved = exec(
        tx,
        "UPDATE volunteer_applications SET state = 'offered', updated_at = $2 WHERE id = ANY($1)",
        &[&apps, &run.at.0],
    )
    .await?;
    if moved as usize != apps.len() {
        return Err(StoreError::Conflict("an offer names an application that does not exist, or twice".into()));
    }
    exec(tx, "UPDATE volunteer_overrides SET run = $2 WHERE id = ANY($1) AND run IS NULL", &[&run.overrides_used, &id])
        .await?;
    Ok(id)
}

#[async_trait]
impl VolunteerStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all, fields(rows = rows.len()))]
    async fn add_volunteer_applications(&self, rows: &[NewVolunteerApplication]) -> Result<Vec<i64>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let accounts: Vec<Option<i64>> = rows.iter().map(|r| r.account).collect();
        let sealed: Vec<&[u8]> = rows.iter().map(|r| r.sealed.as_slice()).collect();
        let at: Vec<i64> = rows.iter().map(|r| r.submitted_at.0).collect();
        let mut ids = transaction!(self, |tx| {
            crate::sql::rows(
                tx,
                "INSERT INTO volunteer_applications (account, state, sealed, submitted_at, updated_at) \
                 SELECT a, 'submitted', s, t, t FROM UNNEST($1::BIGINT[], $2::BYTEA[], $3::BIGINT[]) \
                 WITH ORDINALITY AS u(a, s, t, n) ORDER BY n RETURNING id",
                &[&accounts, &sealed, &at],
            )
            .await
        })
        .map_err(|e| conflict_if_unique(e, || ALREADY_APPLIED.into()))?
        .iter()
        .map(|r| get::<i64>(r, 0))
        .collect::<Result<Vec<i64>>>()?;
        // Inserted in the order asked, each drawing the next identity value: the ids grow in
        // that order whatever order RETURNING lists them in.
        ids.sort_unstable();
        Ok(ids)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn volunteer_application(&self, id: i64) -> Result<Option<StoredVolunteerApplication>> {
        let c = self.client().await?;
        row_opt(&c, &format!("{APPLICATION_COLS} WHERE id = $1"), &[&id])
            .await?
            .as_ref()
            .map(application_row)
            .transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn volunteer_application_of(&self, account: i64) -> Result<Option<StoredVolunteerApplication>> {
        let c = self.client().await?;
        row_opt(&c, &format!("{APPLICATION_COLS} WHERE account = $1"), &[&account])
            .await?
            .as_ref()
            .map(application_row)
            .transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn volunteer_applications(&self, after: i64, limit: i64) -> Result<Vec<StoredVolunteerApplication>> {
        let c = self.client().await?;
        rows(&c, &format!("{APPLICATION_COLS} WHERE id > $1 ORDER BY id LIMIT $2"), &[&after, &limit.max(0)])
            .await?
            .iter()
            .map(application_row)
            .collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn put_volunteer_programme(&self, json: &str, now: Timestamp) -> Result<()> {
        let c = self.client().await?;
        exec(
            &c,
            "INSERT INTO volunteer_programme (id, json, updated_at) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET json = excluded.json, updated_at = excluded.updated_at",
            &[&json, &now.0],
        )
        .await
        .map(drop)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn volunteer_programme(&self) -> Result<Option<String>> {
        let c = self.client().await?;
        row_opt(&c, "SELECT json FROM volunteer_programme WHERE id = 1", &[]).await?.map(|r| get(&r, 0)).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(offers = run.offers.len()))]
    async fn save_volunteer_run(&self, run: &NewVolunteerRun) -> Result<i64> {
        transaction!(self, |tx| save_run(tx, run).await)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn latest_volunteer_run(&self) -> Result<Option<StoredVolunteerRun>> {
        let c = self.client().await?;
        row_opt(&c, "SELECT id, by_whom, at, summary, proposals FROM volunteer_runs ORDER BY id DESC LIMIT 1", &[])
            .await?
            .as_ref()
            .map(run_row)
            .transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn volunteer_run(&self, id: i64) -> Result<Option<StoredVolunteerRun>> {
        let c = self.client().await?;
        row_opt(&c, "SELECT id, by_whom, at, summary, proposals FROM volunteer_runs WHERE id = $1", &[&id])
            .await?
            .as_ref()
            .map(run_row)
            .transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn volunteer_offers(&self, application: Option<i64>) -> Result<Vec<StoredVolunteerOffer>> {
        let c = self.client().await?;
        let found = match application {
            Some(a) => rows(&c, &format!("{OFFER_COLS} WHERE application = $1 ORDER BY id"), &[&a]).await?,
            None => rows(&c, &format!("{OFFER_COLS} ORDER BY id"), &[]).await?,
        };
        found.iter().map(offer_row).collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn answer_volunteer_offer(&self, id: i64, application: i64, accept: bool, now: Timestamp) -> Result<bool> {
        let state = if accept { "accepted" } else { "refused" };
        // The conditional UPDATE is the compare-and-set: of two answers at once, the second
        // waits for the first's row lock, re-reads the row, finds it no longer `offered`.
        transaction!(self, |tx| async {
            let changed = exec(
                tx,
                "UPDATE volunteer_offers SET state = $3, answered_at = $4 \
                 WHERE id = $1 AND application = $2 AND state = 'offered' AND deadline > $4",
                &[&id, &application, &state, &now.0],
            )
            .await?;
            if changed == 1 {
                exec(
                    tx,
                    "UPDATE volunteer_applications SET state = $2, updated_at = $3 WHERE id = $1",
                    &[&application, &state, &now.0],
                )
                .await?;
            }
            Ok(changed == 1)
        }
        .await)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn add_volunteer_override(&self, o: &NewVolunteerOverride) -> Result<i64> {
        let c = self.client().await?;
        get(
            &row(
                &c,
                "INSERT INTO volunteer_overrides (application, action, by_whom, reason, at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[&o.application, &o.action, &o.by, &o.reason, &o.at.0],
            )
            .await?,
            0,
        )
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn volunteer_overrides(&self) -> Result<Vec<StoredVolunteerOverride>> {
        let c = self.client().await?;
        rows(&c, "SELECT id, application, action, by_whom, reason, at, run FROM volunteer_overrides ORDER BY id", &[])
            .await?
            .iter()
            .map(|r| {
                Ok(StoredVolunteerOverride {
                    id: get(r, 0)?,
                    application: get(r, 1)?,
                    action: get(r, 2)?,
                    by: get(r, 3)?,
                    reason: get(r, 4)?,
                    at: Timestamp(get(r, 5)?),
                    run: get(r, 6)?,
                })
            })
            .collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn save_volunteer_roster(&self, at: Timestamp, json: &str) -> Result<i64> {
        let c = self.client().await?;
        get(
            &row(&c, "INSERT INTO volunteer_rosters (at, json) VALUES ($1, $2) RETURNING id", &[&at.0, &json]).await?,
            0,
        )
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn volunteer_roster(&self) -> Result<Option<StoredVolunteerRoster>> {
        let c = self.client().await?;
        row_opt(&c, "SELECT id, at, json FROM volunteer_rosters ORDER BY id DESC LIMIT 1", &[])
            .await?
            .map(|r| Ok(StoredVolunteerRoster { id: get(&r, 0)?, at: Timestamp(get(&r, 1)?), json: get(&r, 2)? }))
            .transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn volunteer_counts(&self, now: Timestamp) -> Result<VolunteerCounts> {
        let c = self.client().await?;
        let pairs = |found: Vec<Row>| -> Result<Vec<(String, i64)>> {
            found.iter().map(|r| Ok((get(r, 0)?, get(r, 1)?))).collect()
        };
        let applications = pairs(
            rows(&c, "SELECT state, COUNT(*) FROM volunteer_applications GROUP BY state ORDER BY state", &[]).await?,
        )?;
        let offers = pairs(
            rows(
                &c,
                "SELECT s, COUNT(*) FROM (SELECT CASE WHEN state = 'offered' AND deadline <= $1 THEN 'expired' \
                 ELSE state END AS s FROM volunteer_offers) AS o GROUP BY s ORDER BY s COLLATE \"C\"",
                &[&now.0],
            )
            .await?,
        )?;
        let runs: i64 = get(&row(&c, "SELECT COUNT(*) FROM volunteer_runs", &[]).await?, 0)?;
        let overrides: i64 = get(&row(&c, "SELECT COUNT(*) FROM volunteer_overrides", &[]).await?, 0)?;
        Ok(VolunteerCounts { applications, offers, runs, overrides })
    }
}
