//! The catalogue (see `tessera_store`), on PostgreSQL.

use crate::ops::*;
use crate::{snapshot, transaction, PgStore};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tessera_domain::catalogue::Catalogue;
use tessera_domain::*;
use tessera_store::*;

#[async_trait]
impl CatalogueStore for PgStore {
    async fn import_catalogue(&self, cat: &Catalogue) -> Result<CatalogueStats> {
        transaction!(self, |tx| async {
            import_catalogue(tx, cat).await?;
            catalogue_stats(tx).await
        }
        .await)
    }

    async fn catalogue_stats(&self) -> Result<CatalogueStats> {
        catalogue_stats(&self.client().await?).await
    }

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
