//! The results feed's documents and position (see `tessera_store::ResultsStore`), on SQLite.

use crate::sql::*;
use crate::SqliteStore;
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use tessera_store::*;

#[async_trait]
impl ResultsStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn save_result_change(&self, epoch: i64, seq: i64, doc_key: &str, change_json: Option<&str>) -> Result<()> {
        let (key, change) = (doc_key.to_string(), change_json.map(str::to_string));
        self.write(move |c| {
            match &change {
                Some(j) => c
                    .execute(
                        "INSERT INTO result_documents (doc_key, seq, change) VALUES (?1, ?2, ?3) \
                         ON CONFLICT (doc_key) DO UPDATE SET seq = excluded.seq, change = excluded.change",
                        params![key, seq, j],
                    )
                    .sql()?,
                None => c.execute("DELETE FROM result_documents WHERE doc_key = ?1", [&key]).sql()?,
            };
            c.execute(
                "INSERT INTO result_feed (id, epoch, seq) VALUES (1, ?1, ?2) \
                 ON CONFLICT (id) DO UPDATE SET epoch = excluded.epoch, seq = excluded.seq",
                params![epoch, seq],
            )
            .sql()?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn result_feed(&self) -> Result<Option<StoredFeed>> {
        self.read(move |c| {
            let head: Option<(i64, i64)> = c
                .query_row("SELECT epoch, seq FROM result_feed WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .sql()?;
            let Some((epoch, seq)) = head else { return Ok(None) };
            let changes = c
                .prepare_cached("SELECT change FROM result_documents ORDER BY seq")
                .sql()?
                .query_map([], |r| r.get(0))
                .sql()?
                .collect::<rusqlite::Result<Vec<String>>>()
                .sql()?;
            Ok(Some(StoredFeed { epoch, seq, changes }))
        })
        .await
    }
}
