//! Accounts and sign-in sessions (see `tessera_store`), on PostgreSQL.

use crate::{rows::*, sql::*};
use crate::{transaction, PgStore};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tessera_domain::*;
use tessera_store::*;

#[async_trait]
impl AccountStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn create_account(&self, new: &NewAccount) -> Result<Account> {
        const SQL: &str = concat!(
            "INSERT INTO accounts (email, password_hash, display_name, role, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING ",
            account_cols!()
        );
        transaction!(self, |tx| {
            match row(
                tx,
                SQL,
                &[&new.email.as_str(), &new.password_hash, &new.display_name, &new.role.as_str(), &new.now.0],
            )
            .await
            {
                Ok(r) => account_row(&r),
                Err(e) => Err(conflict_if_unique(e, || "an account with this email already exists".into())),
            }
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn account(&self, id: AccountId) -> Result<Option<Account>> {
        const SQL: &str = concat!("SELECT ", account_cols!(), " FROM accounts WHERE id = $1");
        let c = self.client().await?;
        row_opt(&c, SQL, &[&id.0]).await?.map(|r| account_row(&r)).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn account_by_email(&self, email: &Email) -> Result<Option<Account>> {
        const SQL: &str = concat!("SELECT ", account_cols!(), " FROM accounts WHERE email = $1");
        let c = self.client().await?;
        row_opt(&c, SQL, &[&email.as_str()]).await?.map(|r| account_row(&r)).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn mark_email_verified(&self, id: AccountId) -> Result<()> {
        let c = self.client().await?;
        if exec(&c, "UPDATE accounts SET email_verified = TRUE WHERE id = $1", &[&id.0]).await? == 0 {
            return Err(StoreError::NotFound("account".into()));
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn set_password_hash(&self, id: AccountId, hash: &str) -> Result<()> {
        transaction!(self, |tx| {
            async {
                let n = exec(
                    tx,
                    "UPDATE accounts SET password_hash = $2, credential_epoch = credential_epoch + 1 WHERE id = $1",
                    &[&id.0, &hash],
                )
                .await?;
                if n == 0 {
                    return Err(StoreError::NotFound("account".into()));
                }
                exec(tx, "DELETE FROM auth_sessions WHERE account_id = $1", &[&id.0]).await?;
                Ok(())
            }
            .await
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn create_auth_session(&self, s: &AuthSession) -> Result<()> {
        let c = self.client().await?;
        exec(
            &c,
            "INSERT INTO auth_sessions (id, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            &[&s.id, &s.account_id.0, &s.created_at.0, &s.expires_at.0],
        )
        .await
        .map(drop)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn auth_session(&self, id: &str) -> Result<Option<AuthSession>> {
        let c = self.client().await?;
        row_opt(&c, "SELECT id, account_id, created_at, expires_at FROM auth_sessions WHERE id = $1", &[&id])
            .await?
            .map(|r| {
                Ok(AuthSession {
                    id: get(&r, 0)?,
                    account_id: AccountId(get(&r, 1)?),
                    created_at: Timestamp(get(&r, 2)?),
                    expires_at: Timestamp(get(&r, 3)?),
                })
            })
            .transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn session_account(&self, id: &str) -> Result<Option<(AuthSession, Account)>> {
        let c = self.client().await?;
        row_opt(
            &c,
            "SELECT a.id, a.email, a.password_hash, a.display_name, a.role, a.email_verified, a.created_at, \
             a.credential_epoch, s.id, s.created_at, s.expires_at FROM auth_sessions s \
             JOIN accounts a ON a.id = s.account_id WHERE s.id = $1",
            &[&id],
        )
        .await?
        .map(|r| {
            let account = account_row(&r)?;
            let session = AuthSession {
                id: get(&r, 8)?,
                account_id: account.id,
                created_at: Timestamp(get(&r, 9)?),
                expires_at: Timestamp(get(&r, 10)?),
            };
            Ok((session, account))
        })
        .transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_auth_session(&self, id: &str) -> Result<()> {
        let c = self.client().await?;
        exec(&c, "DELETE FROM auth_sessions WHERE id = $1", &[&id]).await.map(drop)
    }
}
