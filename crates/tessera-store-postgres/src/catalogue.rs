//! The catalogue (see `tessera_store`), on PostgreSQL.

use crate::{rows::*, sql::*};
use crate::{snapshot, transaction, PgStore};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tessera_domain::catalogue::Catalogue;
use tessera_domain::*;
use tessera_store::*;

#[async_trait]
impl CatalogueStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn import_catalogue(&self, cat: &Catalogue) -> Result<CatalogueStats> {
        transaction!(self, |tx| async {
            import_catalogue(tx, cat).await?;
            catalogue_stats(tx).await
        }
        .await)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn catalogue_stats(&self) -> Result<CatalogueStats> {
        catalogue_stats(&self.client().await?).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn list_sessions(&self, f: &SessionFilter) -> Result<Vec<SessionSummary>> {
        const SQL: &str = concat!(
            "SELECT ",
            summary_from!(),
            " WHERE ($1::TEXT IS NULL OR s.sport = $1) AND ($2::TEXT IS NULL OR v.code = $2) \
             AND (NOT $3::BOOLEAN OR EXISTS (SELECT 1 FROM categories c WHERE c.session_id = s.id \
                                             AND c.quota > c.held + c.sold)) \
             AND ($6::BIGINT IS NULL OR s.starts_at >= $6) AND ($7::BIGINT IS NULL OR s.starts_at < $7) \
             AND ($8::BIGINT IS NULL OR EXISTS (SELECT 1 FROM categories c WHERE c.session_id = s.id \
                                                AND c.price_cents <= $8)) \
             AND ($9::TEXT IS NULL OR strpos(lower(s.title || ' ' || s.sport || ' ' || s.code || ' ' || v.name || ' ' || v.city), \
                                             lower($9)) > 0) \
             ORDER BY s.starts_at, s.code LIMIT $4 OFFSET $5"
        );
        let c = self.client().await?;
        let (from, until, max_price) = (f.from.map(|t| t.0), f.until.map(|t| t.0), f.max_price.map(|p| p.0));
        let args: Params<'_> = &[
            &f.sport,
            &f.venue,
            &f.available_only,
            &f.limit.clamp(1, 1000),
            &f.offset.max(0),
            &from,
            &until,
            &max_price,
            &f.text,
        ];
        rows(&c, SQL, args).await?.iter().map(summary_row).collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn session(&self, code: &str) -> Result<Option<SessionDetail>> {
        const SQL: &str = concat!("SELECT ", summary_from!(), " WHERE s.code = $1");
        snapshot!(self, |tx| {
            async {
                let Some(r) = row_opt(tx, SQL, &[&code]).await? else { return Ok(None) };
                let summary = summary_row(&r)?;
                let zones: String = get(&r, 13)?;
                let categories = rows(
                    tx,
                    "SELECT id, code, name, price_cents, quota, sold, held FROM categories WHERE session_id = $1 \
                 ORDER BY price_cents DESC, code",
                    &[&summary.id.0],
                )
                .await?
                .iter()
                .map(|r| {
                    let (quota, sold, held): (i64, i64, i64) = (get(r, 4)?, get(r, 5)?, get(r, 6)?);
                    Ok(CategoryAvailability {
                        id: CategoryId(get(r, 0)?),
                        code: get(r, 1)?,
                        name: get(r, 2)?,
                        price: Cents(get(r, 3)?),
                        quota,
                        sold,
                        held,
                        available: quota - sold - held,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
                Ok(Some(SessionDetail { summary, zones: tessera_store::zones_from_column(&zones), categories }))
            }
            .await
        })
    }
}

pub(crate) async fn import_catalogue<C: GenericClient>(c: &C, cat: &Catalogue) -> Result<()> {
    // Each level is checked for the first offending row in catalogue order, then inserted in
    // one statement: the refusals are those of a row-by-row import, at a fraction of the cost.
    let codes: Vec<&str> = cat.venues.iter().map(|v| v.code.as_str()).collect();
    if let Some(r) = row_opt(
        c,
        "SELECT u.code FROM UNNEST($1::TEXT[]) WITH ORDINALITY AS u(code, i) \
         WHERE EXISTS (SELECT 1 FROM venues v WHERE v.code = u.code) ORDER BY u.i LIMIT 1",
        &[&codes],
    )
    .await?
    {
        return Err(StoreError::Conflict(format!("venue {} already exists", get::<String>(&r, 0)?)));
    }
    let names: Vec<&str> = cat.venues.iter().map(|v| v.name.as_str()).collect();
    let cities: Vec<&str> = cat.venues.iter().map(|v| v.city.as_str()).collect();
    let capacities: Vec<i64> = cat.venues.iter().map(|v| v.capacity).collect();
    let zones: Vec<String> = cat.venues.iter().map(|v| tessera_store::zones_to_column(&v.zones)).collect();
    exec(
        c,
        "INSERT INTO venues (code, name, city, capacity, zones) \
         SELECT u.code, u.name, u.city, u.capacity, u.zones \
         FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::TEXT[]) WITH ORDINALITY \
              AS u(code, name, city, capacity, zones, i) \
         ORDER BY u.i",
        &[&codes, &names, &cities, &capacities, &zones],
    )
    .await
    .map_err(|e| conflict_if_unique(e, || "the catalogue names a venue code twice".into()))?;

    let codes: Vec<&str> = cat.sessions.iter().map(|s| s.code.as_str()).collect();
    let venues: Vec<&str> = cat.sessions.iter().map(|s| s.venue.as_str()).collect();
    if let Some(r) = row_opt(
        c,
        "SELECT u.code, u.venue, EXISTS (SELECT 1 FROM sessions s WHERE s.code = u.code) \
         FROM UNNEST($1::TEXT[], $2::TEXT[]) WITH ORDINALITY AS u(code, venue, i) \
         WHERE EXISTS (SELECT 1 FROM sessions s WHERE s.code = u.code) \
            OR NOT EXISTS (SELECT 1 FROM venues v WHERE v.code = u.venue) \
         ORDER BY u.i LIMIT 1",
        &[&codes, &venues],
    )
    .await?
    {
        let (code, venue, exists): (String, String, bool) = (get(&r, 0)?, get(&r, 1)?, get(&r, 2)?);
        return Err(if exists {
            StoreError::Conflict(format!("session {code} already exists"))
        } else {
            StoreError::NotFound(format!("venue {venue} of session {code}"))
        });
    }
    let sports: Vec<&str> = cat.sessions.iter().map(|s| s.sport.as_str()).collect();
    let titles: Vec<&str> = cat.sessions.iter().map(|s| s.title.as_str()).collect();
    let starts: Vec<i64> = cat.sessions.iter().map(|s| s.starts_at.0).collect();
    let ends: Vec<i64> = cat.sessions.iter().map(|s| s.ends_at.0).collect();
    let ceremonies: Vec<bool> = cat.sessions.iter().map(|s| s.ceremony).collect();
    exec(
        c,
        "INSERT INTO sessions (code, sport, title, venue_id, starts_at, ends_at, ceremony) \
         SELECT u.code, u.sport, u.title, v.id, u.starts_at, u.ends_at, u.ceremony \
         FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::BIGINT[], $6::BIGINT[], $7::BOOLEAN[]) \
              WITH ORDINALITY AS u(code, sport, title, venue, starts_at, ends_at, ceremony, i) \
         JOIN venues v ON v.code = u.venue ORDER BY u.i",
        &[&codes, &sports, &titles, &venues, &starts, &ends, &ceremonies],
    )
    .await
    .map_err(|e| conflict_if_unique(e, || "the catalogue names a session code twice".into()))?;

    let sessions: Vec<&str> = cat.categories.iter().map(|c| c.session.as_str()).collect();
    let codes: Vec<&str> = cat.categories.iter().map(|c| c.code.as_str()).collect();
    if let Some(r) = row_opt(
        c,
        "SELECT u.session, u.code, s.id IS NOT NULL \
         FROM UNNEST($1::TEXT[], $2::TEXT[]) WITH ORDINALITY AS u(session, code, i) \
         LEFT JOIN sessions s ON s.code = u.session \
         WHERE s.id IS NULL OR EXISTS (SELECT 1 FROM categories c WHERE c.session_id = s.id AND c.code = u.code) \
         ORDER BY u.i LIMIT 1",
        &[&sessions, &codes],
    )
    .await?
    {
        let (session, code, known): (String, String, bool) = (get(&r, 0)?, get(&r, 1)?, get(&r, 2)?);
        return Err(if known {
            StoreError::Conflict(format!("category {code} of session {session} already exists"))
        } else {
            StoreError::NotFound(format!("session {session} of category {code}"))
        });
    }
    let names: Vec<&str> = cat.categories.iter().map(|c| c.name.as_str()).collect();
    let prices: Vec<i64> = cat.categories.iter().map(|c| c.price.0).collect();
    let quotas: Vec<i64> = cat.categories.iter().map(|c| c.quota).collect();
    exec(
        c,
        "INSERT INTO categories (session_id, code, name, price_cents, quota) \
         SELECT s.id, u.code, u.name, u.price_cents, u.quota \
         FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::BIGINT[]) WITH ORDINALITY \
              AS u(session, code, name, price_cents, quota, i) \
         JOIN sessions s ON s.code = u.session ORDER BY u.i",
        &[&sessions, &codes, &names, &prices, &quotas],
    )
    .await
    .map_err(|e| conflict_if_unique(e, || "the catalogue names a price category twice in one session".into()))?;
    Ok(())
}

pub(crate) async fn catalogue_stats<C: GenericClient>(c: &C) -> Result<CatalogueStats> {
    let r = row(
        c,
        "SELECT (SELECT COUNT(*) FROM venues), (SELECT COUNT(*) FROM sessions), COUNT(*), \
         COALESCE(SUM(quota), 0)::BIGINT, COALESCE(SUM(sold), 0)::BIGINT, COALESCE(SUM(held), 0)::BIGINT FROM categories",
        &[],
    )
    .await?;
    Ok(CatalogueStats {
        venues: get(&r, 0)?,
        sessions: get(&r, 1)?,
        categories: get(&r, 2)?,
        seats: get(&r, 3)?,
        sold: get(&r, 4)?,
        held: get(&r, 5)?,
    })
}
