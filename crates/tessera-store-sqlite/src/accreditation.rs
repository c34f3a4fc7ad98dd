//! Accreditations (see `tessera_store::accreditation`), on SQLite.

use crate::sql::{is_unique_violation, Sql};
use crate::{sql_err, SqliteStore};
use async_trait::async_trait;
use rusqlite::types::ToSql;
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use tessera_domain::Timestamp;
use tessera_store::*;

/// A row holds a quota place: `QUOTA_RELEASED_STATES` as SQL, word for word the condition of
/// the partial unique index `accreditations_live_duplicate`, which SQLite uses only for a
/// query repeating it.
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

fn accreditation_row(r: &Row) -> rusqlite::Result<StoredAccreditation> {
    Ok(StoredAccreditation {
        id: r.get(0)?,
        org: r.get(1)?,
        category: r.get(2)?,
        state: r.get(3)?,
        duplicate_key: r.get(4)?,
        vetting: r.get(5)?,
        sealed: r.get(6)?,
        photo: r.get(7)?,
        serial: r.get(8)?,
        version: r.get(9)?,
        submitted_at: Timestamp(r.get(10)?),
        updated_at: Timestamp(r.get(11)?),
    })
}

fn hand_over_row(r: &Row) -> rusqlite::Result<StoredHandOver> {
    Ok(StoredHandOver {
        person: r.get(0)?,
        serial: r.get(1)?,
        desk: r.get(2)?,
        at: Timestamp(r.get(3)?),
        by: r.get(4)?,
        flagged: r.get(5)?,
    })
}

/// The body of [`AccreditationStore::add_accreditations`], in the writer's transaction (the
/// only writer, so nothing can change the counts between the check and the insert).
fn add(c: &Connection, rows: &[NewAccreditation], quotas: &[QuotaLimit]) -> Result<Vec<Added>> {
    let quotas: HashMap<(&str, &str), i64> =
        quotas.iter().map(|q| ((q.org.as_str(), q.category.as_str()), q.max)).collect();
    // Places held per (org, category): read once from `accreditation_places`, then kept up
    // to date here as rows are added; the places taken are written back once per category.
    let mut held: HashMap<(&str, &str), i64> = HashMap::new();
    let mut taken: HashMap<(&str, &str), i64> = HashMap::new();
    // Duplicate keys added by this call: the index lookup would find them too; this saves it.
    let mut added_keys: HashMap<&str, i64> = HashMap::new();
    let mut places =
        c.prepare_cached("SELECT held FROM accreditation_places WHERE org = ?1 AND category = ?2").sql()?;
    let mut find = c
        .prepare_cached(concat!("SELECT id FROM accreditations WHERE duplicate_key = ?1 AND ", holds_place!()))
        .sql()?;
    let mut insert = c
        .prepare_cached(
            "INSERT INTO accreditations \
             (org, category, state, duplicate_key, vetting, sealed, photo, serial, version, submitted_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 1, ?8, ?8)",
        )
        .sql()?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        // A row arriving in a released state (none does today) takes no place and collides
        // with nobody, exactly as the unique index sees it.
        let holds = holds_place(&r.state);
        if holds {
            let dup = match added_keys.get(r.duplicate_key.as_str()) {
                Some(&id) => Some(id),
                None => find.query_row([&r.duplicate_key], |x| x.get(0)).optional().sql()?,
            };
            if let Some(id) = dup {
                out.push(Added::Duplicate(id));
                continue;
            }
            let pair = (r.org.as_str(), r.category.as_str());
            let n = match held.entry(pair) {
                Entry::Occupied(o) => *o.get(),
                Entry::Vacant(v) => {
                    *v.insert(places.query_row(params![pair.0, pair.1], |x| x.get(0)).optional().sql()?.unwrap_or(0))
                }
            };
            if n >= quotas.get(&pair).copied().unwrap_or(0) {
                out.push(Added::OverQuota);
                continue;
            }
        }
        insert
            .execute(params![
                r.org,
                r.category,
                r.state,
                r.duplicate_key,
                r.vetting,
                r.sealed,
                r.photo,
                r.submitted_at.0
            ])
            .sql()?;
        let id = c.last_insert_rowid();
        if holds {
            let pair = (r.org.as_str(), r.category.as_str());
            *held.entry(pair).or_default() += 1;
            *taken.entry(pair).or_default() += 1;
            added_keys.insert(r.duplicate_key.as_str(), id);
        }
        out.push(Added::Added(id));
    }
    for ((org, category), n) in taken {
        move_places(c, org, category, n)?;
    }
    Ok(out)
}

fn holds_place(state: &str) -> bool {
    !QUOTA_RELEASED_STATES.contains(&state)
}

/// Adds `n` (negative: gives back) to the places `org` holds in `category`.
fn move_places(c: &Connection, org: &str, category: &str, n: i64) -> Result<()> {
    // Giving back is an UPDATE: the row exists since the place was taken, and an INSERT of a
    // negative count would break the CHECK before ON CONFLICT could make it an update.
    let sql = if n > 0 {
        "INSERT INTO accreditation_places (org, category, held) VALUES (?1, ?2, ?3) \
         ON CONFLICT (org, category) DO UPDATE SET held = held + excluded.held"
    } else {
        "UPDATE accreditation_places SET held = held + ?3 WHERE org = ?1 AND category = ?2"
    };
    c.prepare_cached(sql).sql()?.execute(params![org, category, n]).sql()?;
    Ok(())
}

/// The body of [`AccreditationStore::update_accreditation`], in the writer's transaction.
fn update(c: &Connection, u: &AccreditationUpdate) -> Result<bool> {
    let before: Option<(String, String, String)> = c
        .prepare_cached("SELECT org, category, state FROM accreditations WHERE id = ?1 AND version = ?2")
        .sql()?
        .query_row(params![u.id, u.version], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()
        .sql()?;
    let Some((org, category, was)) = before else { return Ok(false) };
    c.prepare_cached(
        "UPDATE accreditations SET state = ?3, vetting = ?4, serial = ?5, photo = COALESCE(?6, photo), \
         sealed = COALESCE(?7, sealed), version = version + 1, updated_at = ?8 \
         WHERE id = ?1 AND version = ?2",
    )
    .sql()?
    .execute(params![u.id, u.version, u.state, u.vetting, u.serial, u.photo, u.sealed, u.now.0])
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(DUPLICATE_ON_UPDATE.into())
        } else {
            sql_err(e)
        }
    })?;
    let moved = i64::from(holds_place(&u.state)) - i64::from(holds_place(&was));
    if moved != 0 {
        move_places(c, &org, &category, moved)?;
    }
    Ok(true)
}

#[async_trait]
impl AccreditationStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn put_organisation(&self, code: &str, json: &str) -> Result<()> {
        let (code, json) = (code.to_string(), json.to_string());
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO accreditation_orgs (code, json) VALUES (?1, ?2) \
                 ON CONFLICT (code) DO UPDATE SET json = excluded.json",
            )
            .sql()?
            .execute(params![code, json])
            .sql()?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn organisations(&self) -> Result<Vec<(String, String)>> {
        self.read_blocking(|c| {
            c.prepare_cached("SELECT code, json FROM accreditation_orgs ORDER BY code")
                .sql()?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .sql()?
                .collect::<rusqlite::Result<Vec<_>>>()
                .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rows = rows.len()))]
    async fn add_accreditations(&self, rows: &[NewAccreditation], quotas: &[QuotaLimit]) -> Result<Vec<Added>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let (rows, quotas) = (rows.to_vec(), quotas.to_vec());
        self.write(move |c| add(c, &rows, &quotas)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn accreditation(&self, id: i64) -> Result<Option<StoredAccreditation>> {
        self.read(move |c| {
            c.prepare_cached(concat!(cols!("photo"), " WHERE id = ?1"))
                .sql()?
                .query_row([id], accreditation_row)
                .optional()
                .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn accreditations(&self, q: &AccreditationQuery) -> Result<Vec<StoredAccreditation>> {
        let q = q.clone();
        self.read_blocking(move |c| {
            // One statement per filter, rather than `(?3 IS NULL OR org = ?3)`: SQLite plans
            // a statement once, and only a plain equality lets it pick the matching index.
            let limit = q.limit.max(0);
            let (sql, params): (&str, Vec<&dyn ToSql>) = match (&q.org, &q.state) {
                (None, None) => (concat!(cols!("NULL"), " WHERE id > ?1 ORDER BY id LIMIT ?2"), vec![&q.after, &limit]),
                (Some(org), None) => (
                    concat!(cols!("NULL"), " WHERE org = ?3 AND id > ?1 ORDER BY id LIMIT ?2"),
                    vec![&q.after, &limit, org],
                ),
                (None, Some(state)) => (
                    concat!(cols!("NULL"), " WHERE state = ?3 AND id > ?1 ORDER BY id LIMIT ?2"),
                    vec![&q.after, &limit, state],
                ),
                (Some(org), Some(state)) => (
                    concat!(cols!("NULL"), " WHERE org = ?3 AND state = ?4 AND id > ?1 ORDER BY id LIMIT ?2"),
                    vec![&q.after, &limit, org, state],
                ),
            };
            c.prepare_cached(sql)
                .sql()?
                .query_map(params.as_slice(), accreditation_row)
                .sql()?
                .collect::<rusqlite::Result<Vec<_>>>()
                .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn update_accreditation(&self, u: &AccreditationUpdate) -> Result<bool> {
        let u = u.clone();
        self.write(move |c| update(c, &u)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn accreditation_counts(&self) -> Result<Vec<AccreditationCount>> {
        self.read_blocking(|c| {
            c.prepare_cached(
                "SELECT org, category, state, COUNT(*) FROM accreditations \
                 GROUP BY org, category, state ORDER BY org, category, state",
            )
            .sql()?
            .query_map([], |r| {
                Ok(AccreditationCount { org: r.get(0)?, category: r.get(1)?, state: r.get(2)?, count: r.get(3)? })
            })
            .sql()?
            .collect::<rusqlite::Result<Vec<_>>>()
            .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn badge_revocations(&self) -> Result<(Vec<i64>, Vec<(i64, i64)>)> {
        self.read_blocking(|c| {
            let revoked = c
                .prepare_cached("SELECT id FROM accreditations WHERE state = 'revoked' ORDER BY id")
                .sql()?
                .query_map([], |r| r.get(0))
                .sql()?
                .collect::<rusqlite::Result<Vec<i64>>>()
                .sql()?;
            let reprinted = c
                .prepare_cached("SELECT id, serial FROM accreditations WHERE serial > 1 ORDER BY id")
                .sql()?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .sql()?
                .collect::<rusqlite::Result<Vec<(i64, i64)>>>()
                .sql()?;
            Ok((revoked, reprinted))
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rows = rows.len()))]
    async fn record_hand_overs(&self, rows: &[StoredHandOver]) -> Result<u64> {
        if rows.is_empty() {
            return Ok(0);
        }
        let rows = rows.to_vec();
        self.write(move |c| {
            let mut insert = c
                .prepare_cached(
                    "INSERT INTO accreditation_hand_overs (person, serial, desk, at, by_whom, flagged) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (person, serial) DO NOTHING",
                )
                .sql()?;
            let mut new = 0u64;
            for h in &rows {
                new += insert.execute(params![h.person, h.serial, h.desk, h.at.0, h.by, h.flagged]).sql()? as u64;
            }
            Ok(new)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn hand_overs(&self, person: i64) -> Result<Vec<StoredHandOver>> {
        self.read(move |c| {
            c.prepare_cached(
                "SELECT person, serial, desk, at, by_whom, flagged FROM accreditation_hand_overs \
                 WHERE person = ?1 ORDER BY at, serial",
            )
            .sql()?
            .query_map([person], hand_over_row)
            .sql()?
            .collect::<rusqlite::Result<Vec<_>>>()
            .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn hand_over_figures(&self) -> Result<HandOverFigures> {
        self.read_blocking(|c| {
            let cards_issued = c
                .prepare_cached("SELECT COALESCE(SUM(serial), 0) FROM accreditations")
                .sql()?
                .query_row([], |r| r.get(0))
                .sql()?;
            let desks = c
                .prepare_cached(
                    "SELECT desk, COUNT(*), COALESCE(SUM(CASE WHEN flagged THEN 1 ELSE 0 END), 0) \
                     FROM accreditation_hand_overs GROUP BY desk ORDER BY desk",
                )
                .sql()?
                .query_map([], |r| Ok(DeskHandOvers { desk: r.get(0)?, handed_over: r.get(1)?, flagged: r.get(2)? }))
                .sql()?
                .collect::<rusqlite::Result<Vec<_>>>()
                .sql()?;
            Ok(HandOverFigures { cards_issued, desks })
        })
        .await
    }
}

/// An appeal (or any move back into a state holding a place) while the same person holds
/// another live application: the caller must settle one of the two first.
const DUPLICATE_ON_UPDATE: &str =
    "the same person already holds another application in a state that holds a quota place";

#[cfg(test)]
mod tests {
    use super::*;

    /// The store's SQL and the partial unique index name the released states: the same ones.
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
