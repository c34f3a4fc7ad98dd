//! Accreditations (see `tessera_store::accreditation`), on PostgreSQL.

use crate::sql::*;
use crate::{sqlstate, transaction, PgStore};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use std::collections::HashMap;
use tessera_domain::Timestamp;
use tessera_store::*;
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;

/// First half of the advisory lock key serialising the additions to one organisation.
///
/// An advisory lock rather than `SELECT ... FOR UPDATE` on the organisation's row: the quotas
/// come with the call, so the row need not exist (nor be read), and an officer's edit of the
/// organisation (`put_organisation`) should not wait for a bulk import of its people. What
/// must be serial is "read the places held, then insert" per organisation: taken before the
/// read, the lock makes the next caller's read (a new snapshot per statement under READ
/// COMMITTED) see every place the previous one committed.
const ADD_LOCK: i32 = 0x7e55_acc0;

/// How many times an addition is run when a concurrent one of another organisation committed
/// the same duplicate key between its lookup and its insert; run again, the lookup finds it.
const DUPLICATE_RACE_ATTEMPTS: u32 = 5;

/// A row holds a quota place: `QUOTA_RELEASED_STATES` as SQL, and the condition of the partial
/// unique index `accreditations_live_duplicate`, which the planner uses only for a query that
/// implies it.
macro_rules! holds_place {
    () => {
        "state NOT IN ('refused', 'withdrawn', 'revoked')"
    };
}

/// The columns [`accreditation_row`] reads, with the photo or, for lists, without it.
macro_rules! cols {
    ($photo:literal) => {
        concat!(
            "SELECT id, org, category, state, duplicate_key, vetting, sealed, ",
            $photo,
            ", serial, version, submitted_at, updated_at FROM accreditations"
        )
    };
}

fn accreditation_row(r: &Row) -> Result<StoredAccreditation> {
    Ok(StoredAccreditation {
        id: get(r, 0)?,
        org: get(r, 1)?,
        category: get(r, 2)?,
        state: get(r, 3)?,
        duplicate_key: get(r, 4)?,
        vetting: get(r, 5)?,
        sealed: get(r, 6)?,
        photo: get(r, 7)?,
        serial: get(r, 8)?,
        version: get(r, 9)?,
        submitted_at: Timestamp(get(r, 10)?),
        updated_at: Timestamp(get(r, 11)?),
    })
}

fn hand_over_row(r: &Row) -> Result<StoredHandOver> {
    Ok(StoredHandOver {
        person: get(r, 0)?,
        serial: get(r, 1)?,
        desk: get(r, 2)?,
        at: Timestamp(get(r, 3)?),
        by: get(r, 4)?,
        flagged: get(r, 5)?,
    })
}

/// What a row offered to `add` became, before the inserted rows have their ids.
enum Decision {
    /// The `n`th row inserted.
    Added(usize),
    Duplicate(i64),
    /// A duplicate of the `n`th row inserted by this same call.
    DuplicateOfNew(usize),
    OverQuota,
}

/// The body of [`AccreditationStore::add_accreditations`]: whatever the chunk's size, four
/// statements (lock, places held, duplicates, insert), each for all its rows at once.
async fn add<C: GenericClient>(tx: &C, rows: &[NewAccreditation], quotas: &[QuotaLimit]) -> Result<Vec<Added>> {
    // A row arriving in a released state (none does today) takes no place and collides with
    // nobody, exactly as the unique index sees it.
    let holds = |r: &NewAccreditation| !QUOTA_RELEASED_STATES.contains(&r.state.as_str());
    let holding: Vec<&NewAccreditation> = rows.iter().filter(|r| holds(r)).collect();

    // In the order of the keys themselves, so that two calls locking several organisations
    // never wait for each other in a cycle. The schema is part of the key, so that tenants
    // (and the tests' schemas) do not wait for each other.
    let orgs: Vec<&str> = holding.iter().map(|r| r.org.as_str()).collect();
    exec(
        tx,
        "SELECT pg_advisory_xact_lock($1, k) FROM \
         (SELECT DISTINCT hashtext(COALESCE(current_schema(), '') || '/' || o) AS k \
          FROM UNNEST($2::TEXT[]) AS u(o) ORDER BY k) AS l",
        &[&ADD_LOCK, &orgs],
    )
    .await?;

    // Places held per (org, category): read once under the lock from the counters the
    // triggers keep, then kept up to date here as rows are added.
    let mut held: HashMap<(&str, &str), i64> = HashMap::new();
    for r in &holding {
        held.insert((r.org.as_str(), r.category.as_str()), 0);
    }
    let pairs: Vec<(&str, &str)> = held.keys().copied().collect();
    let (pair_orgs, pair_cats): (Vec<&str>, Vec<&str>) = pairs.iter().copied().unzip();
    for r in crate::sql::rows(
        tx,
        "SELECT u.n, COALESCE(p.held, 0) FROM UNNEST($1::TEXT[], $2::TEXT[]) WITH ORDINALITY AS u(org, category, n) \
         LEFT JOIN accreditation_places p ON p.org = u.org AND p.category = u.category",
        &[&pair_orgs, &pair_cats],
    )
    .await?
    {
        let n: i64 = get(&r, 0)?;
        let pair =
            usize::try_from(n - 1).ok().and_then(|i| pairs.get(i)).ok_or_else(|| corrupt(format!("no pair {n}")))?;
        held.insert(*pair, get(&r, 1)?);
    }

    let keys: Vec<&str> = holding.iter().map(|r| r.duplicate_key.as_str()).collect();
    let mut live: HashMap<String, Decision> = HashMap::new();
    for r in crate::sql::rows(
        tx,
        concat!("SELECT duplicate_key, id FROM accreditations WHERE duplicate_key = ANY($1) AND ", holds_place!()),
        &[&keys],
    )
    .await?
    {
        live.insert(get(&r, 0)?, Decision::Duplicate(get(&r, 1)?));
    }

    let quotas: HashMap<(&str, &str), i64> =
        quotas.iter().map(|q| ((q.org.as_str(), q.category.as_str()), q.max)).collect();
    let mut decisions = Vec::with_capacity(rows.len());
    let mut new: Vec<&NewAccreditation> = Vec::with_capacity(rows.len());
    for r in rows {
        if holds(r) {
            match live.get(&r.duplicate_key) {
                Some(Decision::Duplicate(id)) => {
                    decisions.push(Decision::Duplicate(*id));
                    continue;
                }
                Some(Decision::Added(n)) => {
                    decisions.push(Decision::DuplicateOfNew(*n));
                    continue;
                }
                _ => {}
            }
            let pair = (r.org.as_str(), r.category.as_str());
            let n = held.entry(pair).or_default();
            if *n >= quotas.get(&pair).copied().unwrap_or(0) {
                decisions.push(Decision::OverQuota);
                continue;
            }
            *n += 1;
            live.insert(r.duplicate_key.clone(), Decision::Added(new.len()));
        }
        decisions.push(Decision::Added(new.len()));
        new.push(r);
    }

    let ids = insert(tx, &new).await?;
    Ok(decisions
        .into_iter()
        .map(|d| match d {
            Decision::Added(n) => Added::Added(ids[n]),
            Decision::DuplicateOfNew(n) => Added::Duplicate(ids[n]),
            Decision::Duplicate(id) => Added::Duplicate(id),
            Decision::OverQuota => Added::OverQuota,
        })
        .collect())
}

/// Inserts the rows in one statement; returns their ids, in the rows' order.
async fn insert<C: GenericClient>(tx: &C, new: &[&NewAccreditation]) -> Result<Vec<i64>> {
    if new.is_empty() {
        return Ok(Vec::new());
    }
    let orgs: Vec<&str> = new.iter().map(|r| r.org.as_str()).collect();
    let categories: Vec<&str> = new.iter().map(|r| r.category.as_str()).collect();
    let states: Vec<&str> = new.iter().map(|r| r.state.as_str()).collect();
    let keys: Vec<&str> = new.iter().map(|r| r.duplicate_key.as_str()).collect();
    let vettings: Vec<&str> = new.iter().map(|r| r.vetting.as_str()).collect();
    let sealed: Vec<&[u8]> = new.iter().map(|r| r.sealed.as_slice()).collect();
    let photos: Vec<Option<&[u8]>> = new.iter().map(|r| r.photo.as_deref()).collect();
    let submitted: Vec<i64> = new.iter().map(|r| r.submitted_at.0).collect();
    let mut ids = crate::sql::rows(
        tx,
        "INSERT INTO accreditations \
         (org, category, state, duplicate_key, vetting, sealed, photo, serial, version, submitted_at, updated_at) \
         SELECT o, c, s, k, v, b, p, 0, 1, t, t FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], \
         $5::TEXT[], $6::BYTEA[], $7::BYTEA[], $8::BIGINT[]) WITH ORDINALITY AS u(o, c, s, k, v, b, p, t, n) \
         ORDER BY n RETURNING id",
        &[&orgs, &categories, &states, &keys, &vettings, &sealed, &photos, &submitted],
    )
    .await?
    .iter()
    .map(|r| get::<i64>(r, 0))
    .collect::<Result<Vec<i64>>>()?;
    // The rows are inserted in the order asked, each drawing the next identity value, so
    // their ids grow in that order whatever order RETURNING lists them in.
    ids.sort_unstable();
    if ids.len() != new.len() {
        return Err(corrupt(format!("{} rows inserted, {} returned", new.len(), ids.len())));
    }
    Ok(ids)
}

/// An appeal (or any move back into a state holding a place) while the same person holds
/// another live application: the caller must settle one of the two first.
const DUPLICATE_ON_UPDATE: &str =
    "the same person already holds another application in a state that holds a quota place";

#[async_trait]
impl AccreditationStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn put_organisation(&self, code: &str, json: &str) -> Result<()> {
        let c = self.client().await?;
        exec(
            &c,
            "INSERT INTO accreditation_orgs (code, json) VALUES ($1, $2) \
             ON CONFLICT (code) DO UPDATE SET json = excluded.json",
            &[&code, &json],
        )
        .await
        .map(drop)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn organisations(&self) -> Result<Vec<(String, String)>> {
        let c = self.client().await?;
        rows(&c, "SELECT code, json FROM accreditation_orgs ORDER BY code", &[])
            .await?
            .iter()
            .map(|r| Ok((get(r, 0)?, get(r, 1)?)))
            .collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rows = rows.len()))]
    async fn add_accreditations(&self, rows: &[NewAccreditation], quotas: &[QuotaLimit]) -> Result<Vec<Added>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut attempt = 1;
        loop {
            // The organisation's lock does not cover a person applying through two
            // organisations at once: the second insert waits for the first's commit, then
            // fails on the unique index, and everything is done again (now seeing the row).
            match transaction!(self, |tx| add(tx, rows, quotas).await) {
                Err(e) if sqlstate(&e) == Some(&SqlState::UNIQUE_VIOLATION) => {
                    if attempt >= DUPLICATE_RACE_ATTEMPTS {
                        return Err(conflict_if_unique(e, || {
                            "another addition of the same person kept racing this one; send it again".into()
                        }));
                    }
                    tracing::warn!(attempt, "a concurrent addition stored the same person; adding again");
                    attempt += 1;
                }
                r => return r,
            }
        }
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn accreditation(&self, id: i64) -> Result<Option<StoredAccreditation>> {
        let c = self.client().await?;
        row_opt(&c, concat!(cols!("photo"), " WHERE id = $1"), &[&id])
            .await?
            .as_ref()
            .map(accreditation_row)
            .transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn accreditations(&self, q: &AccreditationQuery) -> Result<Vec<StoredAccreditation>> {
        let c = self.client().await?;
        // One statement per filter, rather than `($3 IS NULL OR org = $3)`: a cached
        // statement ends up on a generic plan, which cannot pick the index for the filter.
        let limit = q.limit.max(0);
        let found = match (&q.org, &q.state) {
            (None, None) => {
                rows(&c, concat!(cols!("NULL::BYTEA"), " WHERE id > $1 ORDER BY id LIMIT $2"), &[&q.after, &limit])
                    .await?
            }
            (Some(org), None) => {
                rows(
                    &c,
                    concat!(cols!("NULL::BYTEA"), " WHERE org = $3 AND id > $1 ORDER BY id LIMIT $2"),
                    &[&q.after, &limit, org],
                )
                .await?
            }
            (None, Some(state)) => {
                rows(
                    &c,
                    concat!(cols!("NULL::BYTEA"), " WHERE state = $3 AND id > $1 ORDER BY id LIMIT $2"),
                    &[&q.after, &limit, state],
                )
                .await?
            }
            (Some(org), Some(state)) => {
                rows(
                    &c,
                    concat!(cols!("NULL::BYTEA"), " WHERE org = $3 AND state = $4 AND id > $1 ORDER BY id LIMIT $2"),
                    &[&q.after, &limit, org, state],
                )
                .await?
            }
        };
        found.iter().map(accreditation_row).collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn update_accreditation(&self, u: &AccreditationUpdate) -> Result<bool> {
        // A transaction of its own only to be run again if it loses a deadlock: its trigger
        // moves the organisation's counter, which an import may hold at the same time.
        let changed = transaction!(self, |tx| exec(
            tx,
            "UPDATE accreditations SET state = $3, vetting = $4, serial = $5, photo = COALESCE($6, photo), \
             sealed = COALESCE($7, sealed), version = version + 1, updated_at = $8 \
             WHERE id = $1 AND version = $2",
            &[&u.id, &u.version, &u.state, &u.vetting, &u.serial, &u.photo, &u.sealed, &u.now.0],
        )
        .await)
        .map_err(|e| conflict_if_unique(e, || DUPLICATE_ON_UPDATE.into()))?;
        Ok(changed == 1)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn accreditation_counts(&self) -> Result<Vec<AccreditationCount>> {
        let c = self.client().await?;
        rows(
            &c,
            "SELECT org, category, state, COUNT(*) FROM accreditations \
             GROUP BY org, category, state ORDER BY org, category, state",
            &[],
        )
        .await?
        .iter()
        .map(|r| Ok(AccreditationCount { org: get(r, 0)?, category: get(r, 1)?, state: get(r, 2)?, count: get(r, 3)? }))
        .collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn badge_revocations(&self) -> Result<(Vec<i64>, Vec<(i64, i64)>)> {
        let c = self.client().await?;
        let revoked = rows(&c, "SELECT id FROM accreditations WHERE state = 'revoked' ORDER BY id", &[])
            .await?
            .iter()
            .map(|r| get(r, 0))
            .collect::<Result<Vec<i64>>>()?;
        let reprinted = rows(&c, "SELECT id, serial FROM accreditations WHERE serial > 1 ORDER BY id", &[])
            .await?
            .iter()
            .map(|r| Ok((get(r, 0)?, get(r, 1)?)))
            .collect::<Result<Vec<(i64, i64)>>>()?;
        Ok((revoked, reprinted))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rows = rows.len()))]
    async fn record_hand_overs(&self, rows: &[StoredHandOver]) -> Result<u64> {
        if rows.is_empty() {
            return Ok(0);
        }
        let persons: Vec<i64> = rows.iter().map(|h| h.person).collect();
        let serials: Vec<i64> = rows.iter().map(|h| h.serial).collect();
        let desks: Vec<&str> = rows.iter().map(|h| h.desk.as_str()).collect();
        let at: Vec<i64> = rows.iter().map(|h| h.at.0).collect();
        let by: Vec<&str> = rows.iter().map(|h| h.by.as_str()).collect();
        let flagged: Vec<bool> = rows.iter().map(|h| h.flagged).collect();
        let c = self.client().await?;
        // In the order sent, so that of two claims of one card in the same call the first is kept.
        exec(
            &c,
            "INSERT INTO accreditation_hand_overs (person, serial, desk, at, by_whom, flagged) \
             SELECT p, s, d, a, b, f FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::BIGINT[], $5::TEXT[], \
             $6::BOOLEAN[]) WITH ORDINALITY AS u(p, s, d, a, b, f, n) ORDER BY n \
             ON CONFLICT (person, serial) DO NOTHING",
            &[&persons, &serials, &desks, &at, &by, &flagged],
        )
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn hand_overs(&self, person: i64) -> Result<Vec<StoredHandOver>> {
        let c = self.client().await?;
        rows(
            &c,
            "SELECT person, serial, desk, at, by_whom, flagged FROM accreditation_hand_overs \
             WHERE person = $1 ORDER BY at, serial",
            &[&person],
        )
        .await?
        .iter()
        .map(hand_over_row)
        .collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn hand_over_figures(&self) -> Result<HandOverFigures> {
        let c = self.client().await?;
        let issued = rows(&c, "SELECT COALESCE(SUM(serial), 0)::BIGINT FROM accreditations", &[]).await?;
        let cards_issued = match issued.first() {
            Some(r) => get(r, 0)?,
            None => 0,
        };
        let desks = rows(
            &c,
            "SELECT desk, COUNT(*)::BIGINT, COUNT(*) FILTER (WHERE flagged)::BIGINT \
             FROM accreditation_hand_overs GROUP BY desk ORDER BY desk",
            &[],
        )
        .await?
        .iter()
        .map(|r| Ok(DeskHandOvers { desk: get(r, 0)?, handed_over: get(r, 1)?, flagged: get(r, 2)? }))
        .collect::<Result<Vec<_>>>()?;
        Ok(HandOverFigures { cards_issued, desks })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The store's SQL, the partial unique index and the counters' triggers all name the
    /// released states: the same ones.
    #[test]
    fn the_sql_conditions_are_the_released_states() {
        let listed = format!("NOT IN ({})", QUOTA_RELEASED_STATES.map(|s| format!("'{s}'")).join(", "));
        assert_eq!(holds_place!(), format!("state {listed}"));
        let migration = include_str!("../migrations/0010_accreditation.sql");
        assert!(migration.contains(concat!("WHERE ", holds_place!())), "the index's condition is the same");
        let lists: Vec<&str> =
            migration.match_indices("NOT IN (").map(|(i, _)| &migration[i..i + listed.len()]).collect();
        assert!(!lists.is_empty() && lists.iter().all(|l| *l == listed), "{lists:?}");
    }
}
