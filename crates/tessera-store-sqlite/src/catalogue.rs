//! The catalogue (see `tessera_store`), on SQLite.

use crate::ops::*;
use crate::sql::*;
use crate::SqliteStore;
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use tessera_domain::catalogue::Catalogue;
use tessera_domain::*;
use tessera_store::*;

#[async_trait]
impl CatalogueStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn import_catalogue(&self, cat: &Catalogue) -> Result<CatalogueStats> {
        let cat = cat.clone();
        self.write(move |c| {
            import_catalogue(c, &cat)?;
            catalogue_stats(c)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn catalogue_stats(&self) -> Result<CatalogueStats> {
        self.read(catalogue_stats).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn list_sessions(&self, f: &SessionFilter) -> Result<Vec<SessionSummary>> {
        let f = f.clone();
        self.read_blocking(move |c| {
            let sql = format!(
                "SELECT {SUMMARY_COLS} FROM sessions s JOIN venues v ON v.id = s.venue_id \
                 WHERE (?1 IS NULL OR s.sport = ?1) AND (?2 IS NULL OR v.code = ?2) \
                 AND (?3 = 0 OR EXISTS (SELECT 1 FROM categories c WHERE c.session_id = s.id AND c.quota > c.held + c.sold)) \
                 AND (?6 IS NULL OR s.starts_at >= ?6) AND (?7 IS NULL OR s.starts_at < ?7) \
                 AND (?8 IS NULL OR EXISTS (SELECT 1 FROM categories c WHERE c.session_id = s.id AND c.price_cents <= ?8)) \
                 AND (?9 IS NULL OR instr(lower(s.title || ' ' || s.sport || ' ' || s.code || ' ' || v.name || ' ' || v.city), lower(?9)) > 0) \
                 ORDER BY s.starts_at, s.code LIMIT ?4 OFFSET ?5"
            );
            let args = params![
                f.sport,
                f.venue,
                f.available_only,
                f.limit.clamp(1, 1000),
                f.offset.max(0),
                f.from.map(|t| t.0),
                f.until.map(|t| t.0),
                f.max_price.map(|p| p.0),
                f.text,
            ];
            c.prepare_cached(&sql)
                .sql()?
                .query_map(args, summary_row)
                .sql()?
                .collect::<rusqlite::Result<Vec<_>>>()
                .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn session(&self, code: &str) -> Result<Option<SessionDetail>> {
        let code = code.to_string();
        self.read(move |c| {
            let row = c
                .prepare_cached(&format!(
                    "SELECT {SUMMARY_COLS}, v.zones FROM sessions s JOIN venues v ON v.id = s.venue_id WHERE s.code = ?1"
                ))
                .sql()?
                .query_row([&code], |r| Ok((summary_row(r)?, r.get::<_, String>(13)?)))
                .optional()
                .sql()?;
            let Some((summary, zones)) = row else { return Ok(None) };
            let categories = c
                .prepare_cached(
                    "SELECT id, code, name, price_cents, quota, sold, held FROM categories WHERE session_id = ?1 ORDER BY price_cents DESC, code",
                )
                .sql()?
                .query_map([summary.id.0], |r| {
                    let (quota, sold, held): (i64, i64, i64) = (r.get(4)?, r.get(5)?, r.get(6)?);
                    Ok(CategoryAvailability {
                        id: CategoryId(r.get(0)?),
                        code: r.get(1)?,
                        name: r.get(2)?,
                        price: Cents(r.get(3)?),
                        quota,
                        sold,
                        held,
                        available: quota - sold - held,
                    })
                })
                .sql()?
                .collect::<rusqlite::Result<Vec<_>>>()
                .sql()?;
            Ok(Some(SessionDetail { summary, zones: tessera_store::zones_from_column(&zones), categories }))
        })
        .await
    }
}
