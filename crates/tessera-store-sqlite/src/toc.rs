//! The operations centre's switch log and documents (see `tessera_store::TocStore`), on SQLite.

use crate::sql::*;
use crate::SqliteStore;
use async_trait::async_trait;
use rusqlite::params;
use tessera_domain::Timestamp;
use tessera_store::*;

#[async_trait]
impl TocStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn record_switch(&self, s: &SwitchRecord) -> Result<i64> {
        let s = s.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO toc_switches (mode, is_on, by_whom, why, incident, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![s.mode, s.on, s.by, s.why, s.incident, s.at.0],
            )
            .sql()?;
            Ok(c.last_insert_rowid())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn switch_log(&self, after: i64, limit: i64) -> Result<Vec<SwitchRecord>> {
        self.read(move |c| {
            c.prepare_cached(
                "SELECT id, mode, is_on, by_whom, why, incident, at FROM toc_switches WHERE id > ?1 ORDER BY id LIMIT ?2",
            )
            .sql()?
            .query_map(params![after, limit], |r| {
                Ok(SwitchRecord {
                    id: r.get(0)?,
                    mode: r.get(1)?,
                    on: r.get(2)?,
                    by: r.get(3)?,
                    why: r.get(4)?,
                    incident: r.get(5)?,
                    at: Timestamp(r.get(6)?),
                })
            })
            .sql()?
            .collect::<rusqlite::Result<Vec<_>>>()
            .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn put_toc_document(&self, kind: TocKind, doc: &TocDocument) -> Result<()> {
        let doc = doc.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO toc_documents (kind, doc_key, is_open, body, updated_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (kind, doc_key) DO UPDATE SET is_open = excluded.is_open, body = excluded.body, \
                 updated_at = excluded.updated_at",
                params![kind.as_str(), doc.key, doc.open, doc.json, doc.updated_at.0],
            )
            .sql()?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn toc_documents(&self, kind: TocKind, limit: i64) -> Result<Vec<TocDocument>> {
        self.read(move |c| {
            c.prepare_cached(
                "SELECT doc_key, is_open, body, updated_at FROM toc_documents WHERE kind = ?1 \
                 ORDER BY is_open DESC, updated_at DESC, doc_key LIMIT ?2",
            )
            .sql()?
            .query_map(params![kind.as_str(), limit], |r| {
                Ok(TocDocument { key: r.get(0)?, open: r.get(1)?, json: r.get(2)?, updated_at: Timestamp(r.get(3)?) })
            })
            .sql()?
            .collect::<rusqlite::Result<Vec<_>>>()
            .sql()
        })
        .await
    }
}
