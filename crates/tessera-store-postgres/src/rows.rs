//! Column lists and row readers, and the views assembled from several rows (carts, orders),
//! shared by the capability modules.

use crate::sql::*;
use deadpool_postgres::GenericClient;
use std::collections::HashMap;
use tessera_domain::caps::Caps;
use tessera_domain::*;
use tessera_store::*;
use tokio_postgres::Row;

macro_rules! account_cols {
    () => {
        "id, email, password_hash, display_name, role, email_verified, created_at, credential_epoch"
    };
}

pub(crate) fn account_row(r: &Row) -> Result<Account> {
    let email: String = get(r, 1)?;
    let role: String = get(r, 4)?;
    Ok(Account {
        id: AccountId(get(r, 0)?),
        email: Email::parse(&email).map_err(corrupt)?,
        password_hash: get(r, 2)?,
        display_name: get(r, 3)?,
        role: Role::parse(&role).ok_or_else(|| corrupt(format!("unknown role {role}")))?,
        email_verified: get(r, 5)?,
        created_at: Timestamp(get(r, 6)?),
        credential_epoch: get(r, 7)?,
    })
}

macro_rules! phase_cols {
    () => {
        "p.id, p.code, p.name, p.status, p.per_account, p.per_session, p.per_ceremony, \
         p.min_sessions, p.cart_ttl_secs, p.slot_secs, p.wave_size, p.wave_interval_secs, p.announce_ahead_secs, \
         p.winners, p.seed_hex, p.seed_sha256, p.entries_sha256, p.registration_opened_at, \
         p.registration_closed_at, p.drawn_at, p.entry_count"
    };
}

pub(crate) fn phase_row(r: &Row) -> Result<Phase> {
    let status: String = get(r, 3)?;
    Ok(Phase {
        id: PhaseId(get(r, 0)?),
        code: get(r, 1)?,
        name: get(r, 2)?,
        status: PhaseStatus::parse(&status).ok_or_else(|| corrupt(format!("unknown phase status {status}")))?,
        settings: PhaseSettings {
            caps: Caps {
                per_account: get(r, 4)?,
                per_session: get(r, 5)?,
                per_ceremony: get(r, 6)?,
                min_sessions_per_order: get(r, 7)?,
            },
            cart_ttl_secs: get(r, 8)?,
            slot_secs: get(r, 9)?,
            wave_size: get(r, 10)?,
            wave_interval_secs: get(r, 11)?,
            announce_ahead_secs: get(r, 12)?,
            winners: get(r, 13)?,
        },
        seed_hex: get(r, 14)?,
        seed_sha256: get(r, 15)?,
        entries_sha256: get(r, 16)?,
        registration_opened_at: get::<Option<i64>>(r, 17)?.map(Timestamp),
        registration_closed_at: get::<Option<i64>>(r, 18)?.map(Timestamp),
        drawn_at: get::<Option<i64>>(r, 19)?.map(Timestamp),
        entries: get(r, 20)?,
    })
}

pub(crate) async fn phase_by_id<C: GenericClient>(c: &C, id: PhaseId) -> Result<Option<Phase>> {
    const SQL: &str = concat!("SELECT ", phase_cols!(), " FROM phases p WHERE p.id = $1");
    row_opt(c, SQL, &[&id.0]).await?.map(|r| phase_row(&r)).transpose()
}

/// A session's summary columns; the category figures come from one aggregate per session.
macro_rules! summary_from {
    () => {
        "s.id, s.code, s.sport, s.title, v.code, v.name, v.city, s.starts_at, s.ends_at, \
    s.ceremony, a.quota, a.available, a.min_price, v.zones \
    FROM sessions s JOIN venues v ON v.id = s.venue_id \
    CROSS JOIN LATERAL (SELECT COALESCE(SUM(c.quota), 0)::BIGINT AS quota, \
        COALESCE(SUM(c.quota - c.held - c.sold), 0)::BIGINT AS available, \
        COALESCE(MIN(c.price_cents), 0)::BIGINT AS min_price \
        FROM categories c WHERE c.session_id = s.id) a"
    };
}

pub(crate) fn summary_row(r: &Row) -> Result<SessionSummary> {
    Ok(SessionSummary {
        id: SessionId(get(r, 0)?),
        code: get(r, 1)?,
        sport: get(r, 2)?,
        title: get(r, 3)?,
        venue_code: get(r, 4)?,
        venue_name: get(r, 5)?,
        city: get(r, 6)?,
        starts_at: Timestamp(get(r, 7)?),
        ends_at: Timestamp(get(r, 8)?),
        ceremony: get(r, 9)?,
        quota: get(r, 10)?,
        available: get(r, 11)?,
        min_price: Cents(get(r, 12)?),
    })
}

pub(crate) struct CartHead {
    pub(crate) account: i64,
    pub(crate) phase: i64,
    pub(crate) status: CartStatus,
    pub(crate) expires_at: i64,
}

/// The cart's own row; `lock` holds it until the transaction ends, so that no sweeper or
/// concurrent request changes its status underneath.
pub(crate) async fn cart_head<C: GenericClient>(c: &C, cart: CartId, lock: bool) -> Result<Option<CartHead>> {
    let sql = if lock {
        "SELECT account_id, phase_id, status, expires_at FROM carts WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT account_id, phase_id, status, expires_at FROM carts WHERE id = $1"
    };
    let Some(r) = row_opt(c, sql, &[&cart.0]).await? else {
        return Ok(None);
    };
    let status: String = get(&r, 2)?;
    Ok(Some(CartHead {
        account: get(&r, 0)?,
        phase: get(&r, 1)?,
        status: CartStatus::parse(&status).unwrap_or(CartStatus::Expired),
        expires_at: get(&r, 3)?,
    }))
}

pub(crate) async fn cart_lines<C: GenericClient>(c: &C, cart: CartId) -> Result<Vec<CartLine>> {
    rows(
        c,
        "SELECT ci.category_id, c.code, c.name, ci.session_id, s.code, s.title, c.price_cents, ci.qty \
         FROM cart_items ci JOIN categories c ON c.id = ci.category_id JOIN sessions s ON s.id = ci.session_id \
         WHERE ci.cart_id = $1 ORDER BY s.starts_at, s.code, c.code",
        &[&cart.0],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(CartLine {
            category_id: CategoryId(get(r, 0)?),
            category_code: get(r, 1)?,
            category_name: get(r, 2)?,
            session_id: SessionId(get(r, 3)?),
            session_code: get(r, 4)?,
            session_title: get(r, 5)?,
            unit_price: Cents(get(r, 6)?),
            qty: get(r, 7)?,
        })
    })
    .collect()
}

pub(crate) fn assemble_cart(id: CartId, head: CartHead, lines: Vec<CartLine>) -> Cart {
    Cart {
        id,
        account_id: AccountId(head.account),
        phase_id: PhaseId(head.phase),
        status: head.status,
        expires_at: Timestamp(head.expires_at),
        lines,
    }
}

pub(crate) async fn cart_view<C: GenericClient>(c: &C, cart: CartId) -> Result<Cart> {
    let head = cart_head(c, cart, false).await?.ok_or_else(|| StoreError::NotFound("cart".into()))?;
    Ok(assemble_cart(cart, head, cart_lines(c, cart).await?))
}

/// The orders with their tickets, in the order of `ids`, in two queries whatever their number.
pub(crate) async fn order_views<C: GenericClient>(c: &C, ids: &[i64]) -> Result<Vec<Order>> {
    let mut orders: HashMap<i64, Order> = HashMap::with_capacity(ids.len());
    for r in rows(
        c,
        "SELECT id, code, account_id, phase_id, total_cents, payment_ref, created_at FROM orders WHERE id = ANY($1)",
        &[&ids],
    )
    .await?
    {
        let id: i64 = get(&r, 0)?;
        orders.insert(
            id,
            Order {
                id: OrderId(id),
                code: get(&r, 1)?,
                account_id: AccountId(get(&r, 2)?),
                phase_id: PhaseId(get(&r, 3)?),
                total: Cents(get(&r, 4)?),
                payment_ref: get(&r, 5)?,
                created_at: Timestamp(get(&r, 6)?),
                tickets: vec![],
            },
        );
    }
    for r in rows(
        c,
        "SELECT t.order_id, t.id, t.code, s.code, s.title, v.name, s.starts_at, c.code, c.name, t.price_cents \
         FROM tickets t JOIN categories c ON c.id = t.category_id JOIN sessions s ON s.id = t.session_id \
         JOIN venues v ON v.id = s.venue_id WHERE t.order_id = ANY($1) ORDER BY t.id",
        &[&ids],
    )
    .await?
    {
        let order: i64 = get(&r, 0)?;
        let ticket = Ticket {
            id: TicketId(get(&r, 1)?),
            code: get(&r, 2)?,
            session_code: get(&r, 3)?,
            session_title: get(&r, 4)?,
            venue_name: get(&r, 5)?,
            starts_at: Timestamp(get(&r, 6)?),
            category_code: get(&r, 7)?,
            category_name: get(&r, 8)?,
            price: Cents(get(&r, 9)?),
        };
        if let Some(o) = orders.get_mut(&order) {
            o.tickets.push(ticket);
        }
    }
    ids.iter().map(|id| orders.remove(id).ok_or_else(|| StoreError::NotFound("order".into()))).collect()
}

pub(crate) async fn order_view<C: GenericClient>(c: &C, order: i64) -> Result<Order> {
    order_views(c, &[order]).await?.pop().ok_or_else(|| StoreError::NotFound("order".into()))
}

/// Serialises the purchase operations of one account, so that its caps are counted and
/// updated by one transaction at a time. Taken first, before any cart or category, by every
/// operation that takes it: one lock order, no deadlock between them.
pub(crate) async fn lock_account<C: GenericClient>(c: &C, account: AccountId) -> Result<()> {
    row_opt(c, "SELECT id FROM accounts WHERE id = $1 FOR UPDATE", &[&account.0]).await?;
    Ok(())
}

macro_rules! outbox_cols {
    () => {
        "id, to_addr, subject, body, created_at, sent_at, attempts, last_error"
    };
}

pub(crate) fn outbox_row(r: &Row) -> Result<OutboxMail> {
    Ok(OutboxMail {
        id: get(r, 0)?,
        to: get(r, 1)?,
        subject: get(r, 2)?,
        body: get(r, 3)?,
        created_at: Timestamp(get(r, 4)?),
        sent_at: get::<Option<i64>>(r, 5)?.map(Timestamp),
        attempts: get(r, 6)?,
        last_error: get(r, 7)?,
    })
}

pub(crate) async fn entry<C: GenericClient>(c: &C, phase: PhaseId, account: AccountId) -> Result<Option<Entry>> {
    let r = row_opt(
        c,
        "SELECT entry_code, created_at FROM entries WHERE phase_id = $1 AND account_id = $2",
        &[&phase.0, &account.0],
    )
    .await?;
    r.map(|r| {
        Ok(Entry { phase_id: phase, account_id: account, entry_code: get(&r, 0)?, created_at: Timestamp(get(&r, 1)?) })
    })
    .transpose()
}

// The column lists, for the capability modules.
pub(crate) use {account_cols, outbox_cols, phase_cols, summary_from};
