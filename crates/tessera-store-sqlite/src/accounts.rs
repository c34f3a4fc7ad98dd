//! Accounts and sign-in sessions (see `tessera_store`), on SQLite.

use crate::ops::*;
use crate::sql::*;
use crate::{sql_err, SqliteStore};
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use tessera_domain::*;
use tessera_store::*;

#[async_trait]
impl AccountStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn create_account(&self, new: &NewAccount) -> Result<Account> {
        let new = new.clone();
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO accounts (email, password_hash, display_name, role, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .sql()?
            .execute(params![new.email.as_str(), new.password_hash, new.display_name, new.role.as_str(), new.now.0])
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict("an account with this email already exists".into())
                } else {
                    sql_err(e)
                }
            })?;
            let id = c.last_insert_rowid();
            c.prepare_cached(&format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE id = ?1"))
                .sql()?
                .query_row([id], account_row)
                .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn account(&self, id: AccountId) -> Result<Option<Account>> {
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE id = ?1"))
                .sql()?
                .query_row([id.0], account_row)
                .optional()
                .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn account_by_email(&self, email: &Email) -> Result<Option<Account>> {
        let email = email.clone();
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE email = ?1"))
                .sql()?
                .query_row([email.as_str()], account_row)
                .optional()
                .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn mark_email_verified(&self, id: AccountId) -> Result<()> {
        self.write(move |c| {
            let n = c.execute("UPDATE accounts SET email_verified = 1 WHERE id = ?1", [id.0]).sql()?;
            if n == 0 {
                return Err(StoreError::NotFound("account".into()));
            }
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn set_password_hash(&self, id: AccountId, hash: &str) -> Result<()> {
        let hash = hash.to_string();
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE accounts SET password_hash = ?2, credential_epoch = credential_epoch + 1 WHERE id = ?1",
                    params![id.0, hash],
                )
                .sql()?;
            if n == 0 {
                return Err(StoreError::NotFound("account".into()));
            }
            c.execute("DELETE FROM auth_sessions WHERE account_id = ?1", [id.0]).sql()?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn create_auth_session(&self, s: &AuthSession) -> Result<()> {
        let s = s.clone();
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO auth_sessions (id, account_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
            )
            .sql()?
            .execute(params![s.id, s.account_id.0, s.created_at.0, s.expires_at.0])
            .sql()?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn auth_session(&self, id: &str) -> Result<Option<AuthSession>> {
        let id = id.to_string();
        self.read(move |c| {
            c.prepare_cached("SELECT id, account_id, created_at, expires_at FROM auth_sessions WHERE id = ?1")
                .sql()?
                .query_row([&id], |r| {
                    Ok(AuthSession {
                        id: r.get(0)?,
                        account_id: AccountId(r.get(1)?),
                        created_at: Timestamp(r.get(2)?),
                        expires_at: Timestamp(r.get(3)?),
                    })
                })
                .optional()
                .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn session_account(&self, id: &str) -> Result<Option<(AuthSession, Account)>> {
        let id = id.to_string();
        self.read(move |c| {
            c.prepare_cached(
                "SELECT a.id, a.email, a.password_hash, a.display_name, a.role, a.email_verified, a.created_at, \
                 a.credential_epoch, s.id, s.created_at, s.expires_at FROM auth_sessions s \
                 JOIN accounts a ON a.id = s.account_id WHERE s.id = ?1",
            )
            .sql()?
            .query_row([&id], |r| {
                let account = account_row(r)?;
                let session = AuthSession {
                    id: r.get(8)?,
                    account_id: account.id,
                    created_at: Timestamp(r.get(9)?),
                    expires_at: Timestamp(r.get(10)?),
                };
                Ok((session, account))
            })
            .optional()
            .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_auth_session(&self, id: &str) -> Result<()> {
        let id = id.to_string();
        self.write(move |c| c.execute("DELETE FROM auth_sessions WHERE id = ?1", [&id]).sql().map(drop)).await
    }
}
