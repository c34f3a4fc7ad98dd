//! The operations centre's switch log and documents (see `tessera_store::TocStore`), on
//! PostgreSQL.

use crate::sql::*;
use crate::PgStore;
use async_trait::async_trait;
use tessera_domain::Timestamp;
use tessera_store::*;

#[async_trait]
impl TocStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn record_switch(&self, s: &SwitchRecord) -> Result<i64> {
        let c = self.client().await?;
        let inserted = row(
            &c,
            "INSERT INTO toc_switches (mode, is_on, by_whom, why, incident, at) VALUES ($1, $2, $3, $4, $5, $6) \
             RETURNING id",
            &[&s.mode, &s.on, &s.by, &s.why, &s.incident, &s.at.0],
        )
        .await?;
        get(&inserted, 0)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn switch_log(&self, after: i64, limit: i64) -> Result<Vec<SwitchRecord>> {
        let c = self.client().await?;
        rows(
            &c,
            "SELECT id, mode, is_on, by_whom, why, incident, at FROM toc_switches WHERE id > $1 ORDER BY id LIMIT $2",
            &[&after, &limit],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(SwitchRecord {
                id: get(r, 0)?,
                mode: get(r, 1)?,
                on: get(r, 2)?,
                by: get(r, 3)?,
                why: get(r, 4)?,
                incident: get(r, 5)?,
                at: Timestamp(get(r, 6)?),
            })
        })
        .collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn put_toc_document(&self, kind: TocKind, doc: &TocDocument) -> Result<()> {
        let c = self.client().await?;
        exec(
            &c,
            "INSERT INTO toc_documents (kind, doc_key, is_open, body, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (kind, doc_key) DO UPDATE SET is_open = excluded.is_open, body = excluded.body, \
             updated_at = excluded.updated_at",
            &[&kind.as_str(), &doc.key, &doc.open, &doc.json, &doc.updated_at.0],
        )
        .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn toc_documents(&self, kind: TocKind, limit: i64) -> Result<Vec<TocDocument>> {
        let c = self.client().await?;
        rows(
            &c,
            "SELECT doc_key, is_open, body, updated_at FROM toc_documents WHERE kind = $1 \
             ORDER BY is_open DESC, updated_at DESC, doc_key LIMIT $2",
            &[&kind.as_str(), &limit],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(TocDocument { key: get(r, 0)?, open: get(r, 1)?, json: get(r, 2)?, updated_at: Timestamp(get(r, 3)?) })
        })
        .collect()
    }
}
