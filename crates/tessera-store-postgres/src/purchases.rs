//! Purchases: carts, checkout, buy-now and orders (see `tessera_store`), on PostgreSQL.

use crate::{rows::*, sale::*, sql::*};
use crate::{snapshot, transaction, PgStore};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tessera_domain::*;
use tessera_store::*;

#[async_trait]
impl PurchaseStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn reserve(&self, req: &ReserveRequest) -> Result<Cart> {
        transaction!(self, |tx| reserve(tx, req).await)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn current_cart(&self, account: AccountId, phase: PhaseId, now: Timestamp) -> Result<Option<Cart>> {
        snapshot!(self, |tx| {
            async {
                let id = row_opt(
                    tx,
                    "SELECT id FROM carts WHERE account_id = $1 AND phase_id = $2 AND status IN ('open', 'paying') \
                 AND expires_at > $3 ORDER BY id DESC LIMIT 1",
                    &[&account.0, &phase.0, &now.0],
                )
                .await?;
                match id {
                    Some(r) => Ok(Some(cart_view(tx, CartId(get(&r, 0)?)).await?)),
                    None => Ok(None),
                }
            }
            .await
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn remove_from_cart(
        &self,
        account: AccountId,
        cart: CartId,
        category: CategoryId,
        now: Timestamp,
    ) -> Result<Cart> {
        transaction!(self, |tx| async {
            lock_account(tx, account).await?;
            let head = cart_head(tx, cart, true).await?.ok_or_else(|| StoreError::NotFound("cart".into()))?;
            if head.account != account.0 {
                return Err(StoreError::NotFound("cart".into()));
            }
            if head.status != CartStatus::Open || head.expires_at <= now.0 {
                return Err(StoreError::CartExpired);
            }
            let removed = row_opt(
                tx,
                "DELETE FROM cart_items WHERE cart_id = $1 AND category_id = $2 RETURNING qty",
                &[&cart.0, &category.0],
            )
            .await?
            .ok_or_else(|| StoreError::NotFound("cart line".into()))?;
            let qty: i64 = get(&removed, 0)?;
            exec(tx, "UPDATE categories SET held = held - $2 WHERE id = $1", &[&category.0, &qty]).await?;
            cart_view(tx, cart).await
        }
        .await)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn release_expired(&self, now: Timestamp) -> Result<u64> {
        transaction!(self, |tx| release_expired(tx, now, None).await)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn begin_checkout(&self, req: &BeginCheckout) -> Result<BeginOutcome> {
        transaction!(self, |tx| begin_checkout(tx, req).await)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn known_key(&self, account: AccountId, key: &str, request_hash: &str) -> Result<Option<BeginOutcome>> {
        snapshot!(self, |tx| known_key(tx, account, key, request_hash).await)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn category_price(&self, id: CategoryId) -> Result<Option<CategoryPrice>> {
        let c = self.client().await?;
        let r = row_opt(&c, "SELECT price_cents, quota - held - sold FROM categories WHERE id = $1", &[&id.0]).await?;
        r.map(|r| Ok(CategoryPrice { id, price: Cents(get(&r, 0)?), available: get(&r, 1)? })).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn sell_now(&self, req: &SellNow) -> Result<SellOutcome> {
        match &self.sales {
            // Grouped with the sales arriving with it (`batch.rs`).
            Some(batcher) => batcher.sell(req.clone()).await,
            None => transaction!(self, |tx| sell_now(tx, req).await),
        }
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn remember_refusal(
        &self,
        account: AccountId,
        key: &str,
        request_hash: &str,
        refusal: &Refusal,
        now: Timestamp,
    ) -> Result<()> {
        let (code, message) = (refusal.code.as_str(), refusal.message.as_str());
        let c = self.client().await?;
        exec(
            &c,
            "INSERT INTO idempotency (account_id, key, request_hash, cart_id, state, error_code, \
             error_message, created_at) VALUES ($1, $2, $3, NULL, 'failed', $4, $5, $6) \
             ON CONFLICT (account_id, key) DO NOTHING",
            &[&account.0, &key, &request_hash, &code, &message, &now.0],
        )
        .await
        .map(drop)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn abort_checkout(&self, account: AccountId, key: &str, cart: CartId) -> Result<()> {
        transaction!(self, |tx| async {
            lock_payment(tx, account, cart).await?;
            exec(
                tx,
                "DELETE FROM idempotency WHERE account_id = $1 AND key = $2 AND state = 'pending'",
                &[&account.0, &key],
            )
            .await?;
            reopen_cart(tx, account, cart).await
        }
        .await)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn fail_checkout(&self, account: AccountId, key: &str, cart: CartId, refusal: &Refusal) -> Result<()> {
        let (code, message) = (refusal.code.as_str(), refusal.message.as_str());
        transaction!(self, |tx| {
            async {
                lock_payment(tx, account, cart).await?;
                exec(
                    tx,
                    "UPDATE idempotency SET state = 'failed', error_code = $3, error_message = $4 \
                 WHERE account_id = $1 AND key = $2 AND state = 'pending'",
                    &[&account.0, &key, &code, &message],
                )
                .await?;
                reopen_cart(tx, account, cart).await
            }
            .await
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn complete_checkout(&self, req: &CompleteCheckout) -> Result<Order> {
        transaction!(self, |tx| complete_checkout(tx, req).await)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn orders(&self, account: AccountId) -> Result<Vec<Order>> {
        snapshot!(self, |tx| async {
            let ids: Vec<i64> =
                rows(tx, "SELECT id FROM orders WHERE account_id = $1 ORDER BY id DESC LIMIT 200", &[&account.0])
                    .await?
                    .iter()
                    .map(|r| get(r, 0))
                    .collect::<Result<_>>()?;
            order_views(tx, &ids).await
        }
        .await)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn sales_figures(&self, now: Timestamp) -> Result<SalesFigures> {
        let c = self.client().await?;
        let r = row(
            &c,
            "SELECT (SELECT COUNT(*) FROM accounts), (SELECT COUNT(*) FROM orders), (SELECT COUNT(*) FROM tickets), \
             (SELECT COALESCE(SUM(total_cents), 0)::BIGINT FROM orders), \
             (SELECT COALESCE(SUM(held), 0)::BIGINT FROM categories), \
             (SELECT COUNT(*) FROM carts WHERE status IN ('open', 'paying') AND expires_at > $1)",
            &[&now.0],
        )
        .await?;
        Ok(SalesFigures {
            accounts: get(&r, 0)?,
            paid_orders: get(&r, 1)?,
            tickets_sold: get(&r, 2)?,
            revenue: Cents(get(&r, 3)?),
            seats_held_in_carts: get(&r, 4)?,
            open_carts: get(&r, 5)?,
        })
    }
}
