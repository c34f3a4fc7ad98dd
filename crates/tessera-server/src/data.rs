//! The data directory and the store: where a node keeps its database file, keys and tokens.

use anyhow::{bail, Context};
use std::path::Path;
use std::sync::Arc;
use tessera_store::Store;

/// The embedded SQLite file under `data_dir`, or PostgreSQL when `database_url` names it.
pub async fn open_store(data_dir: &Path, database_url: Option<&str>) -> anyhow::Result<Arc<dyn Store>> {
    match database_url {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let s = tessera_store_postgres::PgStore::connect(url).await.context("connecting to PostgreSQL")?;
            Ok(Arc::new(s))
        }
        Some(other) => {
            bail!("unsupported database URL {other:?}: use postgres://... or leave it unset for the embedded store")
        }
        None => {
            let path = data_dir.join("tessera.db");
            let s = tessera_store_sqlite::SqliteStore::open(&path, tessera_store_sqlite::Durability::Full)
                .with_context(|| format!("opening {}", path.display()))?;
            Ok(Arc::new(s))
        }
    }
}

/// The key that signs tokens and cookies: `TESSERA_SECRET_KEY` (64 hex digits, shared by every
/// node), else a file in the data directory created on first start.
pub fn secret_key(data_dir: &Path) -> anyhow::Result<[u8; 32]> {
    if let Ok(hexkey) = std::env::var("TESSERA_SECRET_KEY") {
        let bytes = hex::decode(hexkey.trim()).context("TESSERA_SECRET_KEY is not hex")?;
        return bytes.try_into().map_err(|_| anyhow::anyhow!("TESSERA_SECRET_KEY must be 32 bytes (64 hex digits)"));
    }
    let path = data_dir.join("secret.key");
    if let Ok(bytes) = std::fs::read(&path) {
        return bytes.try_into().map_err(|_| anyhow::anyhow!("{} must hold exactly 32 bytes", path.display()));
    }
    std::fs::create_dir_all(data_dir)?;
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    write_private(&path, &key)?;
    Ok(key)
}

/// Writes a new file only this user may read (a key, a token, a password); never overwrites.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path)?.write_all(bytes)?;
    Ok(())
}

/// Makes sure the data directory is a directory this process can write, and says why not
/// otherwise: SQLite's own words ("unable to open database file", "File exists") do not.
pub fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    if let Ok(meta) = std::fs::metadata(dir) {
        if !meta.is_dir() {
            bail!(
                "the data directory {} is a file, not a directory: pass --data-dir a directory (it is created if missing)",
                dir.display()
            );
        }
    }
    if let Err(e) = std::fs::create_dir_all(dir) {
        bail!(
            "cannot create the data directory {}: {e}; pass --data-dir a directory this user may write",
            dir.display()
        );
    }
    let probe = dir.join(format!(".tessera-write-check-{}", std::process::id()));
    match std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => bail!(
            "the data directory {} is not writable by this user ({e}): the database, the signing key and the demo mail live there; \
             pass --data-dir a directory this user may write, or fix its permissions",
            dir.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::prepare_data_dir;

    #[test]
    fn a_data_dir_that_is_a_file_or_cannot_be_made_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain");
        std::fs::write(&file, b"x").unwrap();
        let e = prepare_data_dir(&file).unwrap_err().to_string();
        assert!(e.contains("is a file, not a directory"), "{e}");
        let e = prepare_data_dir(&file.join("below")).unwrap_err().to_string();
        assert!(e.contains("cannot create the data directory"), "{e}");
        prepare_data_dir(&dir.path().join("new/nested")).unwrap();
        assert_eq!(std::fs::read_dir(dir.path().join("new/nested")).unwrap().count(), 0, "the probe is removed");
    }

    #[cfg(unix)]
    #[test]
    fn an_unwritable_data_dir_says_so() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ro = dir.path().join("ro");
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o500)).unwrap();
        if std::fs::write(ro.join("probe"), b"").is_ok() {
            // Root writes anywhere: nothing to check here (the message is the same code path).
            eprintln!("SKIPPED: running as a user who may write a read-only directory");
            return;
        }
        let e = prepare_data_dir(&ro).unwrap_err().to_string();
        assert!(e.contains("is not writable by this user"), "{e}");
    }
}
