//! The results feed's documents and position (see `tessera_store::ResultsStore`), on
//! PostgreSQL.

use crate::sql::*;
use crate::{transaction, PgStore};
use async_trait::async_trait;
use tessera_store::*;

#[async_trait]
impl ResultsStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn save_result_change(&self, epoch: i64, seq: i64, doc_key: &str, change_json: Option<&str>) -> Result<()> {
        transaction!(self, |tx| async {
            match change_json {
                Some(j) => {
                    exec(
                        tx,
                        "INSERT INTO result_documents (doc_key, seq, change) VALUES ($1, $2, $3) \
                         ON CONFLICT (doc_key) DO UPDATE SET seq = excluded.seq, change = excluded.change",
                        &[&doc_key, &seq, &j],
                    )
                    .await?
                }
                None => exec(tx, "DELETE FROM result_documents WHERE doc_key = $1", &[&doc_key]).await?,
            };
            exec(
                tx,
                "INSERT INTO result_feed (id, epoch, seq) VALUES (1, $1, $2) \
                 ON CONFLICT (id) DO UPDATE SET epoch = excluded.epoch, seq = excluded.seq",
                &[&epoch, &seq],
            )
            .await?;
            Ok(())
        }
        .await)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn result_feed(&self) -> Result<Option<StoredFeed>> {
        let c = self.client().await?;
        let Some(head) = row_opt(&c, "SELECT epoch, seq FROM result_feed WHERE id = 1", &[]).await? else {
            return Ok(None);
        };
        let changes = rows(&c, "SELECT change FROM result_documents ORDER BY seq", &[])
            .await?
            .iter()
            .map(|r| get(r, 0))
            .collect::<Result<Vec<String>>>()?;
        Ok(Some(StoredFeed { epoch: get(&head, 0)?, seq: get(&head, 1)?, changes }))
    }
}
