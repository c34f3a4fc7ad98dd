//! Purchases: carts, checkout, buy-now and orders (see `tessera_store`), on SQLite.

use crate::ops::*;
use crate::sql::*;
use crate::SqliteStore;
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use tessera_domain::*;
use tessera_store::*;

#[async_trait]
impl PurchaseStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn reserve(&self, req: &ReserveRequest) -> Result<Cart> {
        let req = req.clone();
        self.write(move |c| reserve(c, &req)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn current_cart(&self, account: AccountId, phase: PhaseId, now: Timestamp) -> Result<Option<Cart>> {
        self.read(move |c| {
            let id: Option<i64> = c
                .prepare_cached(
                    "SELECT id FROM carts WHERE account_id = ?1 AND phase_id = ?2 AND status IN ('open', 'paying') \
                     AND expires_at > ?3 ORDER BY id DESC LIMIT 1",
                )
                .sql()?
                .query_row(params![account.0, phase.0, now.0], |r| r.get(0))
                .optional()
                .sql()?;
            id.map(|id| cart_view(c, CartId(id))).transpose()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn remove_from_cart(
        &self,
        account: AccountId,
        cart: CartId,
        category: CategoryId,
        now: Timestamp,
    ) -> Result<Cart> {
        self.write(move |c| {
            let view = cart_view(c, cart)?;
            if view.account_id != account {
                return Err(StoreError::NotFound("cart".into()));
            }
            if view.status != CartStatus::Open || view.expires_at <= now {
                return Err(StoreError::CartExpired);
            }
            let qty: i64 = c
                .query_row(
                    "SELECT qty FROM cart_items WHERE cart_id = ?1 AND category_id = ?2",
                    params![cart.0, category.0],
                    |r| r.get(0),
                )
                .optional()
                .sql()?
                .ok_or_else(|| StoreError::NotFound("cart line".into()))?;
            c.execute("DELETE FROM cart_items WHERE cart_id = ?1 AND category_id = ?2", params![cart.0, category.0])
                .sql()?;
            c.execute("UPDATE categories SET held = held - ?2 WHERE id = ?1", params![category.0, qty]).sql()?;
            cart_view(c, cart)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn release_expired(&self, now: Timestamp) -> Result<u64> {
        self.write(move |c| release_expired(c, now, None)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn begin_checkout(&self, req: &BeginCheckout) -> Result<BeginOutcome> {
        let req = req.clone();
        self.write(move |c| begin_checkout(c, &req)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn known_key(&self, account: AccountId, key: &str, request_hash: &str) -> Result<Option<BeginOutcome>> {
        let (key, hash) = (key.to_string(), request_hash.to_string());
        self.read(move |c| known_key(c, account, &key, &hash)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn category_price(&self, id: CategoryId) -> Result<Option<CategoryPrice>> {
        self.read(move |c| {
            c.prepare_cached("SELECT price_cents, quota - held - sold FROM categories WHERE id = ?1")
                .sql()?
                .query_row([id.0], |r| Ok(CategoryPrice { id, price: Cents(r.get(0)?), available: r.get(1)? }))
                .optional()
                .sql()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn sell_now(&self, req: &SellNow) -> Result<SellOutcome> {
        let req = req.clone();
        self.write(move |c| sell_now(c, &req)).await
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
        let (key, hash, code, message) =
            (key.to_string(), request_hash.to_string(), refusal.code.as_str(), refusal.message.clone());
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO idempotency (account_id, key, request_hash, cart_id, state, error_code, \
                 error_message, created_at) VALUES (?1, ?2, ?3, NULL, 'failed', ?4, ?5, ?6) \
                 ON CONFLICT (account_id, key) DO NOTHING",
            )
            .sql()?
            .execute(params![account.0, key, hash, code, message, now.0])
            .sql()
            .map(drop)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn abort_checkout(&self, account: AccountId, key: &str, cart: CartId) -> Result<()> {
        let key = key.to_string();
        self.write(move |c| {
            c.execute(
                "DELETE FROM idempotency WHERE account_id = ?1 AND key = ?2 AND state = 'pending'",
                params![account.0, key],
            )
            .sql()?;
            reopen_cart(c, account, cart)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn fail_checkout(&self, account: AccountId, key: &str, cart: CartId, refusal: &Refusal) -> Result<()> {
        let (key, Refusal { code, message }) = (key.to_string(), refusal.clone());
        let code = code.as_str();
        self.write(move |c| {
            c.execute(
                "UPDATE idempotency SET state = 'failed', error_code = ?3, error_message = ?4 \
                 WHERE account_id = ?1 AND key = ?2 AND state = 'pending'",
                params![account.0, key, code, message],
            )
            .sql()?;
            reopen_cart(c, account, cart)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn complete_checkout(&self, req: &CompleteCheckout) -> Result<Order> {
        let req = req.clone();
        self.write(move |c| complete_checkout(c, &req)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn orders(&self, account: AccountId) -> Result<Vec<Order>> {
        self.read(move |c| {
            let ids: Vec<i64> = c
                .prepare_cached("SELECT id FROM orders WHERE account_id = ?1 ORDER BY id DESC LIMIT 200")
                .sql()?
                .query_map([account.0], |r| r.get(0))
                .sql()?
                .collect::<rusqlite::Result<_>>()
                .sql()?;
            ids.into_iter().map(|id| order_view(c, OrderId(id))).collect()
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn sales_figures(&self, now: Timestamp) -> Result<SalesFigures> {
        self.read_blocking(move |c| {
            c.query_row(
                "SELECT (SELECT COUNT(*) FROM accounts), (SELECT COUNT(*) FROM orders), (SELECT COUNT(*) FROM tickets), \
                 (SELECT COALESCE(SUM(total_cents), 0) FROM orders), (SELECT COALESCE(SUM(held), 0) FROM categories), \
                 (SELECT COUNT(*) FROM carts WHERE status IN ('open', 'paying') AND expires_at > ?1)",
                [now.0],
                |r| {
                    Ok(SalesFigures {
                        accounts: r.get(0)?,
                        paid_orders: r.get(1)?,
                        tickets_sold: r.get(2)?,
                        revenue: Cents(r.get(3)?),
                        seats_held_in_carts: r.get(4)?,
                        open_carts: r.get(5)?,
                    })
                },
            )
            .sql()
        })
        .await
    }
}
