//! The shared conformance suite on SQLite: always runs.

use std::sync::Arc;
use tessera_store::testsuite::Harness;
use tessera_store::Store;
use tessera_store_sqlite::{Durability, SqliteStore};

struct Sqlite {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

#[async_trait::async_trait]
impl Harness for Sqlite {
    async fn open(&self) -> Arc<dyn Store> {
        Arc::new(SqliteStore::open(&self.path, Durability::Normal).expect("open sqlite"))
    }
}

async fn harness() -> Option<Box<dyn Harness>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tessera.db");
    Some(Box::new(Sqlite { _dir: dir, path }))
}

tessera_store::conformance_suite!(harness);
