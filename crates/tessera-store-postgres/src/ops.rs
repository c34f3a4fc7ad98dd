//! The SQL of the `Store` operations, shared by the capability modules that implement the
//! store's traits (`catalogue.rs`, `accounts.rs`, ... ) and the health checks.

use crate::{payments, pg, sqlstate, PgStore};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use std::collections::HashMap;
use tessera_domain::caps::{self, Caps, Holdings};
use tessera_domain::catalogue::Catalogue;
use tessera_domain::*;
use tessera_store::*;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::Row;

pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

pub(crate) async fn rows<C: GenericClient>(c: &C, sql: &str, params: Params<'_>) -> Result<Vec<Row>> {
    let stmt = c.prepare_cached(sql).await.map_err(pg)?;
    c.query(&stmt, params).await.map_err(pg)
}

pub(crate) async fn row_opt<C: GenericClient>(c: &C, sql: &str, params: Params<'_>) -> Result<Option<Row>> {
    let stmt = c.prepare_cached(sql).await.map_err(pg)?;
    c.query_opt(&stmt, params).await.map_err(pg)
}

pub(crate) async fn row<C: GenericClient>(c: &C, sql: &str, params: Params<'_>) -> Result<Row> {
    let stmt = c.prepare_cached(sql).await.map_err(pg)?;
    c.query_one(&stmt, params).await.map_err(pg)
}

pub(crate) async fn exec<C: GenericClient>(c: &C, sql: &str, params: Params<'_>) -> Result<u64> {
    let stmt = c.prepare_cached(sql).await.map_err(pg)?;
    c.execute(&stmt, params).await.map_err(pg)
}

/// Reads a column without ever panicking: a type mismatch is a backend error.
pub(crate) fn get<'a, T: FromSql<'a>>(r: &'a Row, i: usize) -> Result<T> {
    r.try_get(i).map_err(pg)
}

pub(crate) fn corrupt(msg: String) -> StoreError {
    StoreError::Backend(msg.into())
}

/// Turns a unique violation into the conflict the caller can act on; other errors pass.
pub(crate) fn conflict_if_unique(e: StoreError, conflict: impl FnOnce() -> String) -> StoreError {
    if sqlstate(&e) == Some(&SqlState::UNIQUE_VIOLATION) {
        StoreError::Conflict(conflict())
    } else {
        e
    }
}

// Column lists as macros, so that `concat!` builds each statement at compile time and
// `prepare_cached` sees one stable string per statement.
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

/// Gives the seats of carts the caller has locked back to the quota, forgets any payment
/// attempt still pending on them, and returns how many were still live. A cart already paid or
/// released meanwhile (by another node's sweeper) is left alone.
pub(crate) async fn release_carts<C: GenericClient>(c: &C, carts: &[i64]) -> Result<u64> {
    if carts.is_empty() {
        return Ok(0);
    }
    let live: Vec<i64> = rows(
        c,
        "UPDATE carts SET status = 'expired' WHERE id = ANY($1) AND status IN ('open', 'paying') RETURNING id",
        &[&carts],
    )
    .await?
    .iter()
    .map(|r| get(r, 0))
    .collect::<Result<_>>()?;
    if live.is_empty() {
        return Ok(0);
    }
    // Category locks in id order, like every other multi-category writer, so that two
    // releases sharing categories queue instead of deadlocking. NO KEY UPDATE is what the
    // UPDATE below takes anyway, and it lets reservations keep inserting cart lines meanwhile.
    rows(
        c,
        "SELECT id FROM categories WHERE id IN (SELECT category_id FROM cart_items WHERE cart_id = ANY($1)) \
         ORDER BY id FOR NO KEY UPDATE",
        &[&live],
    )
    .await?;
    exec(
        c,
        "UPDATE categories c SET held = c.held - x.qty \
         FROM (SELECT category_id, SUM(qty)::BIGINT AS qty FROM cart_items WHERE cart_id = ANY($1) GROUP BY category_id) x \
         WHERE c.id = x.category_id",
        &[&live],
    )
    .await?;
    exec(c, "DELETE FROM idempotency WHERE cart_id = ANY($1) AND state = 'pending'", &[&live]).await?;
    Ok(live.len() as u64)
}

/// Releases expired carts (of one category, or all), skipping carts another transaction has
/// locked: that one is releasing, paying or extending them, and waiting for it would only
/// queue the sweepers of several nodes behind each other.
pub(crate) async fn release_expired<C: GenericClient>(c: &C, now: Timestamp, category: Option<i64>) -> Result<u64> {
    let found = match category {
        None => {
            rows(
                c,
                "SELECT id FROM carts WHERE status IN ('open', 'paying') AND expires_at <= $1 \
                 ORDER BY expires_at LIMIT 1000 FOR UPDATE SKIP LOCKED",
                &[&now.0],
            )
            .await?
        }
        Some(cat) => {
            rows(
                c,
                "SELECT c.id FROM carts c JOIN cart_items ci ON ci.cart_id = c.id \
                 WHERE ci.category_id = $2 AND c.status IN ('open', 'paying') AND c.expires_at <= $1 \
                 LIMIT 1000 FOR UPDATE OF c SKIP LOCKED",
                &[&now.0, &cat],
            )
            .await?
        }
    };
    let ids: Vec<i64> = found.iter().map(|r| get(r, 0)).collect::<Result<_>>()?;
    release_carts(c, &ids).await
}

pub(crate) async fn holdings<C: GenericClient>(
    c: &C,
    account: AccountId,
    session: i64,
    now: Timestamp,
) -> Result<Holdings> {
    let r = row(
        c,
        "SELECT t.total + k.total, t.in_session + k.in_session FROM \
         (SELECT COUNT(*) AS total, COUNT(*) FILTER (WHERE session_id = $2) AS in_session \
          FROM tickets WHERE account_id = $1 AND status = 'valid') t, \
         (SELECT COALESCE(SUM(ci.qty), 0)::BIGINT AS total, \
                 COALESCE(SUM(ci.qty) FILTER (WHERE ci.session_id = $2), 0)::BIGINT AS in_session \
          FROM carts c JOIN cart_items ci ON ci.cart_id = c.id \
          WHERE c.account_id = $1 AND c.status IN ('open', 'paying') AND c.expires_at > $3) k",
        &[&account.0, &session, &now.0],
    )
    .await?;
    Ok(Holdings { account_total: get(&r, 0)?, in_session: get(&r, 1)? })
}

/// Refuses unless `now` lies inside the account's purchase slot for the phase.
pub(crate) async fn check_slot<C: GenericClient>(
    c: &C,
    phase: PhaseId,
    account: AccountId,
    now: Timestamp,
) -> Result<()> {
    let slot = row_opt(
        c,
        "SELECT starts_at, ends_at FROM slots WHERE phase_id = $1 AND account_id = $2",
        &[&phase.0, &account.0],
    )
    .await?;
    let slot = match slot {
        Some(r) => Some((Timestamp(get(&r, 0)?), Timestamp(get(&r, 1)?))),
        None => None,
    };
    slot_verdict(slot, now)
}

/// Where claimed seats go: into a cart's hold, or straight into an order.
#[derive(Clone, Copy)]
enum Claim {
    Hold,
    Sell,
}

/// Claims `qty` seats of the category, or says how many are left. The conditional update is
/// the whole concurrency story: PostgreSQL re-evaluates its condition on the newest row
/// version after waiting for a concurrent writer, so no interleaving sells past the quota.
async fn claim_seats<C: GenericClient>(c: &C, claim: Claim, category: i64, qty: i64, now: Timestamp) -> Result<()> {
    let sql = match claim {
        Claim::Hold => "UPDATE categories SET held = held + $2 WHERE id = $1 AND quota - held - sold >= $2",
        Claim::Sell => "UPDATE categories SET sold = sold + $2 WHERE id = $1 AND quota - held - sold >= $2",
    };
    if exec(c, sql, &[&category, &qty]).await? == 1 {
        return Ok(());
    }
    // Seats may be sitting in carts whose time ran out before any sweeper passed.
    if release_expired(c, now, Some(category)).await? > 0 && exec(c, sql, &[&category, &qty]).await? == 1 {
        return Ok(());
    }
    let r = row(c, "SELECT quota - held - sold FROM categories WHERE id = $1", &[&category]).await?;
    Err(StoreError::SoldOut { available: get(&r, 0)? })
}

pub(crate) async fn reserve<C: GenericClient>(c: &C, req: &ReserveRequest) -> Result<Cart> {
    lock_account(c, req.account).await?;
    check_slot(c, req.phase, req.account, req.now).await?;
    let cat = row_opt(
        c,
        "SELECT c.session_id, s.ceremony FROM categories c JOIN sessions s ON s.id = c.session_id WHERE c.id = $1",
        &[&req.category.0],
    )
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("price category {}", req.category)))?;
    let (session, ceremony): (i64, bool) = (get(&cat, 0)?, get(&cat, 1)?);

    let live = row_opt(
        c,
        "SELECT id, status, expires_at FROM carts WHERE account_id = $1 AND phase_id = $2 \
         AND status IN ('open', 'paying') ORDER BY id DESC LIMIT 1 FOR UPDATE",
        &[&req.account.0, &req.phase.0],
    )
    .await?;
    let live = match live {
        Some(r) => Some((get::<i64>(&r, 0)?, get::<String>(&r, 1)?, get::<i64>(&r, 2)?)),
        None => None,
    };
    let cart = match live {
        Some((id, _, expires_at)) if expires_at <= req.now.0 => {
            release_carts(c, &[id]).await?;
            None
        }
        Some((_, status, _)) if status == "paying" => {
            return Err(StoreError::State("this cart is being paid for; wait for the payment to finish".into()))
        }
        Some((id, _, _)) => Some(id),
        None => None,
    };

    caps::check_reserve(&req.caps, holdings(c, req.account, session, req.now).await?, req.qty, ceremony)
        .map_err(StoreError::Cap)?;

    let cart_id = match cart {
        Some(id) => id,
        None => {
            let until = req.now.plus_secs(req.cart_ttl_secs).0;
            get(
                &row(
                    c,
                    "INSERT INTO carts (account_id, phase_id, status, created_at, expires_at, hold_until) \
                     VALUES ($1, $2, 'open', $3, $4, $4) RETURNING id",
                    &[&req.account.0, &req.phase.0, &req.now.0, &until],
                )
                .await?,
                0,
            )?
        }
    };
    exec(
        c,
        "INSERT INTO cart_items (cart_id, category_id, session_id, qty) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (cart_id, category_id) DO UPDATE SET qty = cart_items.qty + excluded.qty",
        &[&cart_id, &req.category.0, &session, &req.qty],
    )
    .await?;
    let view = cart_view(c, CartId(cart_id)).await?;
    // Last, so that the category row, which every buyer of it contends for, stays locked
    // only from here to the commit.
    claim_seats(c, Claim::Hold, req.category.0, req.qty, req.now).await?;
    Ok(view)
}

struct RememberedRow {
    hash: String,
    state: String,
    order: Option<i64>,
    code: Option<String>,
    message: Option<String>,
}

async fn remembered<C: GenericClient>(c: &C, account: AccountId, key: &str) -> Result<Option<RememberedRow>> {
    let Some(r) = row_opt(
        c,
        "SELECT request_hash, state, order_id, error_code, error_message \
         FROM idempotency WHERE account_id = $1 AND key = $2",
        &[&account.0, &key],
    )
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(RememberedRow {
        hash: get(&r, 0)?,
        state: get(&r, 1)?,
        order: get(&r, 2)?,
        code: get(&r, 3)?,
        message: get(&r, 4)?,
    }))
}

/// How a key seen before answers, if it was seen before.
pub(crate) async fn known_key<C: GenericClient>(
    c: &C,
    account: AccountId,
    key: &str,
    request_hash: &str,
) -> Result<Option<BeginOutcome>> {
    let Some(m) = remembered(c, account, key).await? else { return Ok(None) };
    Ok(Some(if m.hash != request_hash {
        BeginOutcome::KeyReused
    } else if m.state == "pending" {
        BeginOutcome::InProgress
    } else {
        BeginOutcome::Replay(match (m.state.as_str(), m.order) {
            ("paid", Some(order)) => Remembered::Paid(order_view(c, order).await?),
            _ => Remembered::Failed(Refusal::stored(m.code, m.message)?),
        })
    }))
}

/// Writes an order's tickets in one statement, one row per code, in the codes' order.
pub(crate) async fn insert_tickets<C: GenericClient>(
    c: &C,
    codes: &[&str],
    order_id: i64,
    account: AccountId,
    cats: &[i64],
    sessions: &[i64],
    prices: &[i64],
) -> Result<()> {
    exec(
        c,
        "INSERT INTO tickets (code, order_id, account_id, category_id, session_id, price_cents) \
         SELECT u.code, $2, $3, u.category_id, u.session_id, u.price_cents \
         FROM UNNEST($1::TEXT[], $4::BIGINT[], $5::BIGINT[], $6::BIGINT[]) WITH ORDINALITY \
              AS u(code, category_id, session_id, price_cents, i) \
         ORDER BY u.i",
        &[&codes, &order_id, &account.0, &cats, &sessions, &prices],
    )
    .await?;
    Ok(())
}

pub(crate) async fn sell_now<C: GenericClient>(c: &C, req: &SellNow) -> Result<SellOutcome> {
    lock_account(c, req.account).await?;
    match known_key(c, req.account, &req.idempotency_key, &req.request_hash).await? {
        Some(BeginOutcome::Replay(r)) => return Ok(SellOutcome::Replay(r)),
        Some(BeginOutcome::KeyReused) => return Ok(SellOutcome::KeyReused),
        Some(_) => return Ok(SellOutcome::InProgress),
        None => {}
    }
    check_slot(c, req.phase, req.account, req.now).await?;
    // Category id order, like every other writer that locks several categories.
    let mut items = req.items.clone();
    items.sort_unstable_by_key(|(category, _)| category.0);
    let (mut added_total, mut per_session, mut total) = (0i64, Vec::<(i64, i64)>::new(), 0i64);
    let (mut cats, mut sessions, mut prices) = (Vec::new(), Vec::new(), Vec::new());
    for (category, qty) in &items {
        let r = row_opt(
            c,
            "SELECT c.session_id, s.ceremony, c.price_cents FROM categories c \
             JOIN sessions s ON s.id = c.session_id WHERE c.id = $1",
            &[&category.0],
        )
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("price category {category}")))?;
        let (session, ceremony, price): (i64, bool, i64) = (get(&r, 0)?, get(&r, 1)?, get(&r, 2)?);
        // This order's own earlier lines count towards the caps too.
        let mut held = holdings(c, req.account, session, req.now).await?;
        held.account_total += added_total;
        held.in_session += per_session.iter().filter(|(s, _)| *s == session).map(|(_, q)| q).sum::<i64>();
        caps::check_reserve(&req.caps, held, *qty, ceremony).map_err(StoreError::Cap)?;
        added_total += qty;
        per_session.push((session, *qty));
        total += price * qty;
        for _ in 0..*qty {
            cats.push(category.0);
            sessions.push(session);
            prices.push(price);
        }
    }
    let mut distinct: Vec<i64> = per_session.iter().map(|(s, _)| *s).collect();
    distinct.sort_unstable();
    distinct.dedup();
    req.check_priced(distinct.len(), total, added_total)?;
    let order_id: i64 = get(
        &row(
            c,
            "INSERT INTO orders (code, account_id, phase_id, cart_id, total_cents, payment_ref, created_at) \
             VALUES ($1, $2, $3, NULL, $4, $5, $6) RETURNING id",
            &[&req.order_code, &req.account.0, &req.phase.0, &total, &req.payment_ref, &req.now.0],
        )
        .await?,
        0,
    )?;
    let codes: Vec<&str> = req.ticket_codes.iter().take(added_total as usize).map(String::as_str).collect();
    insert_tickets(c, &codes, order_id, req.account, &cats, &sessions, &prices).await?;
    exec(
        c,
        "INSERT INTO idempotency (account_id, key, request_hash, cart_id, state, order_id, created_at) \
         VALUES ($1, $2, $3, NULL, 'paid', $4, $5)",
        &[&req.account.0, &req.idempotency_key, &req.request_hash, &order_id, &req.now.0],
    )
    .await?;
    payments::insert_sale_payment(
        c,
        &req.payment_ref,
        req.account,
        PaymentKind::Order,
        Cents(total),
        order_id,
        req.now,
    )
    .await?;
    let order = order_view(c, order_id).await?;
    // Last: the category rows are the most contended, so they are locked for the shortest time.
    for (category, qty) in &items {
        claim_seats(c, Claim::Sell, category.0, *qty, req.now).await?;
    }
    Ok(SellOutcome::Sold(order))
}

pub(crate) async fn begin_checkout<C: GenericClient>(c: &C, req: &BeginCheckout) -> Result<BeginOutcome> {
    lock_account(c, req.account).await?;
    if let Some(known) = known_key(c, req.account, &req.idempotency_key, &req.request_hash).await? {
        return Ok(known);
    }
    let head = cart_head(c, req.cart, true).await?.ok_or_else(|| StoreError::NotFound("cart".into()))?;
    if head.account != req.account.0 || head.phase != req.phase.0 {
        return Err(StoreError::NotFound("cart in this phase".into()));
    }
    check_slot(c, PhaseId(head.phase), req.account, req.now).await?;
    match head.status {
        CartStatus::Open if head.expires_at > req.now.0 => {}
        // Refused, hence rolled back like every refusal (the SQLite store's release here is
        // undone by its savepoint too): the sweeper or a competing reservation frees the seats.
        CartStatus::Open | CartStatus::Expired => return Err(StoreError::CartExpired),
        CartStatus::Paying => return Ok(BeginOutcome::InProgress),
        CartStatus::Paid => return Err(StoreError::State("this cart is already paid".into())),
    }
    let cart = assemble_cart(req.cart, head, cart_lines(c, req.cart).await?);
    if cart.lines.is_empty() {
        return Err(StoreError::CartEmpty);
    }
    let caps = Caps { min_sessions_per_order: req.min_sessions_per_order, ..Caps::default() };
    caps::check_pack(&caps, cart.distinct_sessions()).map_err(StoreError::Cap)?;
    exec(
        c,
        "INSERT INTO idempotency (account_id, key, request_hash, cart_id, state, created_at) \
         VALUES ($1, $2, $3, $4, 'pending', $5)",
        &[&req.account.0, &req.idempotency_key, &req.request_hash, &req.cart.0, &req.now.0],
    )
    .await?;
    exec(
        c,
        "UPDATE carts SET status = 'paying', expires_at = GREATEST(expires_at, $2) WHERE id = $1",
        &[&req.cart.0, &req.now.plus_secs(req.pay_window_secs).0],
    )
    .await?;
    Ok(BeginOutcome::Started(Cart { status: CartStatus::Paying, ..cart }))
}

/// Puts a cart that was in payment back on its own hold time.
pub(crate) async fn reopen_cart<C: GenericClient>(c: &C, account: AccountId, cart: CartId) -> Result<()> {
    exec(
        c,
        "UPDATE carts SET status = 'open', expires_at = hold_until WHERE id = $1 AND account_id = $2 AND status = 'paying'",
        &[&cart.0, &account.0],
    )
    .await?;
    Ok(())
}

/// Takes the locks an end of payment needs, in the global order: account, then cart (before
/// its idempotency row, which a sweeper releasing the cart deletes under the cart's lock).
pub(crate) async fn lock_payment<C: GenericClient>(c: &C, account: AccountId, cart: CartId) -> Result<()> {
    lock_account(c, account).await?;
    row_opt(c, "SELECT id FROM carts WHERE id = $1 FOR UPDATE", &[&cart.0]).await?;
    Ok(())
}

pub(crate) async fn complete_checkout<C: GenericClient>(c: &C, req: &CompleteCheckout) -> Result<Order> {
    lock_account(c, req.account).await?;
    let head = cart_head(c, req.cart, true).await?;
    let pending = row_opt(
        c,
        "SELECT cart_id FROM idempotency WHERE account_id = $1 AND key = $2 AND state = 'pending'",
        &[&req.account.0, &req.idempotency_key],
    )
    .await?;
    let pending: Option<i64> = match pending {
        Some(r) => Some(get(&r, 0)?),
        None => None,
    };
    if pending != Some(req.cart.0) {
        return Err(StoreError::CartExpired);
    }
    let head = head.ok_or_else(|| StoreError::NotFound("cart".into()))?;
    if head.account != req.account.0 || head.status != CartStatus::Paying {
        return Err(StoreError::CartExpired);
    }
    let cart = assemble_cart(req.cart, head, cart_lines(c, req.cart).await?);
    let seats = cart.ticket_count() as usize;
    if req.ticket_codes.len() < seats {
        return Err(StoreError::State(format!("{} ticket codes given for {seats} seats", req.ticket_codes.len())));
    }
    let order_id: i64 = get(
        &row(
            c,
            "INSERT INTO orders (code, account_id, phase_id, cart_id, total_cents, payment_ref, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            &[
                &req.order_code,
                &req.account.0,
                &cart.phase_id.0,
                &cart.id.0,
                &cart.total().0,
                &req.payment_ref,
                &req.now.0,
            ],
        )
        .await?,
        0,
    )?;
    let (mut codes, mut cats, mut sessions, mut prices) =
        (Vec::with_capacity(seats), Vec::with_capacity(seats), Vec::with_capacity(seats), Vec::with_capacity(seats));
    let mut given = req.ticket_codes.iter();
    for line in &cart.lines {
        for code in given.by_ref().take(line.qty as usize) {
            codes.push(code.as_str());
            cats.push(line.category_id.0);
            sessions.push(line.session_id.0);
            prices.push(line.unit_price.0);
        }
    }
    insert_tickets(c, &codes, order_id, req.account, &cats, &sessions, &prices).await?;
    exec(c, "UPDATE carts SET status = 'paid' WHERE id = $1", &[&cart.id.0]).await?;
    exec(
        c,
        "UPDATE idempotency SET state = 'paid', order_id = $3 WHERE account_id = $1 AND key = $2",
        &[&req.account.0, &req.idempotency_key, &order_id],
    )
    .await?;
    payments::insert_sale_payment(
        c,
        &req.payment_ref,
        req.account,
        PaymentKind::Order,
        cart.total(),
        order_id,
        req.now,
    )
    .await?;
    let order = order_view(c, order_id).await?;
    // Last and in category id order: these rows are the most contended, so they are locked
    // for the shortest time and in the same order as every other multi-category writer.
    let mut lines: Vec<(i64, i64)> = cart.lines.iter().map(|l| (l.category_id.0, l.qty)).collect();
    lines.sort_unstable();
    for (category, qty) in lines {
        exec(c, "UPDATE categories SET held = held - $2, sold = sold + $2 WHERE id = $1", &[&category, &qty]).await?;
    }
    Ok(order)
}

pub(crate) async fn import_catalogue<C: GenericClient>(c: &C, cat: &Catalogue) -> Result<()> {
    // Each level is checked for the first offending row in catalogue order, then inserted in
    // one statement: the refusals are those of a row-by-row import, at a fraction of the cost.
    let codes: Vec<&str> = cat.venues.iter().map(|v| v.code.as_str()).collect();
    if let Some(r) = row_opt(
        c,
        "SELECT u.code FROM UNNEST($1::TEXT[]) WITH ORDINALITY AS u(code, i) \
         WHERE EXISTS (SELECT 1 FROM venues v WHERE v.code = u.code) ORDER BY u.i LIMIT 1",
        &[&codes],
    )
    .await?
    {
        return Err(StoreError::Conflict(format!("venue {} already exists", get::<String>(&r, 0)?)));
    }
    let names: Vec<&str> = cat.venues.iter().map(|v| v.name.as_str()).collect();
    let cities: Vec<&str> = cat.venues.iter().map(|v| v.city.as_str()).collect();
    let capacities: Vec<i64> = cat.venues.iter().map(|v| v.capacity).collect();
    let zones: Vec<String> = cat.venues.iter().map(|v| tessera_store::zones_to_column(&v.zones)).collect();
    exec(
        c,
        "INSERT INTO venues (code, name, city, capacity, zones) \
         SELECT u.code, u.name, u.city, u.capacity, u.zones \
         FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::TEXT[]) WITH ORDINALITY \
              AS u(code, name, city, capacity, zones, i) \
         ORDER BY u.i",
        &[&codes, &names, &cities, &capacities, &zones],
    )
    .await
    .map_err(|e| conflict_if_unique(e, || "the catalogue names a venue code twice".into()))?;

    let codes: Vec<&str> = cat.sessions.iter().map(|s| s.code.as_str()).collect();
    let venues: Vec<&str> = cat.sessions.iter().map(|s| s.venue.as_str()).collect();
    if let Some(r) = row_opt(
        c,
        "SELECT u.code, u.venue, EXISTS (SELECT 1 FROM sessions s WHERE s.code = u.code) \
         FROM UNNEST($1::TEXT[], $2::TEXT[]) WITH ORDINALITY AS u(code, venue, i) \
         WHERE EXISTS (SELECT 1 FROM sessions s WHERE s.code = u.code) \
            OR NOT EXISTS (SELECT 1 FROM venues v WHERE v.code = u.venue) \
         ORDER BY u.i LIMIT 1",
        &[&codes, &venues],
    )
    .await?
    {
        let (code, venue, exists): (String, String, bool) = (get(&r, 0)?, get(&r, 1)?, get(&r, 2)?);
        return Err(if exists {
            StoreError::Conflict(format!("session {code} already exists"))
        } else {
            StoreError::NotFound(format!("venue {venue} of session {code}"))
        });
    }
    let sports: Vec<&str> = cat.sessions.iter().map(|s| s.sport.as_str()).collect();
    let titles: Vec<&str> = cat.sessions.iter().map(|s| s.title.as_str()).collect();
    let starts: Vec<i64> = cat.sessions.iter().map(|s| s.starts_at.0).collect();
    let ends: Vec<i64> = cat.sessions.iter().map(|s| s.ends_at.0).collect();
    let ceremonies: Vec<bool> = cat.sessions.iter().map(|s| s.ceremony).collect();
    exec(
        c,
        "INSERT INTO sessions (code, sport, title, venue_id, starts_at, ends_at, ceremony) \
         SELECT u.code, u.sport, u.title, v.id, u.starts_at, u.ends_at, u.ceremony \
         FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::BIGINT[], $6::BIGINT[], $7::BOOLEAN[]) \
              WITH ORDINALITY AS u(code, sport, title, venue, starts_at, ends_at, ceremony, i) \
         JOIN venues v ON v.code = u.venue ORDER BY u.i",
        &[&codes, &sports, &titles, &venues, &starts, &ends, &ceremonies],
    )
    .await
    .map_err(|e| conflict_if_unique(e, || "the catalogue names a session code twice".into()))?;

    let sessions: Vec<&str> = cat.categories.iter().map(|c| c.session.as_str()).collect();
    let codes: Vec<&str> = cat.categories.iter().map(|c| c.code.as_str()).collect();
    if let Some(r) = row_opt(
        c,
        "SELECT u.session, u.code, s.id IS NOT NULL \
         FROM UNNEST($1::TEXT[], $2::TEXT[]) WITH ORDINALITY AS u(session, code, i) \
         LEFT JOIN sessions s ON s.code = u.session \
         WHERE s.id IS NULL OR EXISTS (SELECT 1 FROM categories c WHERE c.session_id = s.id AND c.code = u.code) \
         ORDER BY u.i LIMIT 1",
        &[&sessions, &codes],
    )
    .await?
    {
        let (session, code, known): (String, String, bool) = (get(&r, 0)?, get(&r, 1)?, get(&r, 2)?);
        return Err(if known {
            StoreError::Conflict(format!("category {code} of session {session} already exists"))
        } else {
            StoreError::NotFound(format!("session {session} of category {code}"))
        });
    }
    let names: Vec<&str> = cat.categories.iter().map(|c| c.name.as_str()).collect();
    let prices: Vec<i64> = cat.categories.iter().map(|c| c.price.0).collect();
    let quotas: Vec<i64> = cat.categories.iter().map(|c| c.quota).collect();
    exec(
        c,
        "INSERT INTO categories (session_id, code, name, price_cents, quota) \
         SELECT s.id, u.code, u.name, u.price_cents, u.quota \
         FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::BIGINT[]) WITH ORDINALITY \
              AS u(session, code, name, price_cents, quota, i) \
         JOIN sessions s ON s.code = u.session ORDER BY u.i",
        &[&sessions, &codes, &names, &prices, &quotas],
    )
    .await
    .map_err(|e| conflict_if_unique(e, || "the catalogue names a price category twice in one session".into()))?;
    Ok(())
}

pub(crate) async fn catalogue_stats<C: GenericClient>(c: &C) -> Result<CatalogueStats> {
    let r = row(
        c,
        "SELECT (SELECT COUNT(*) FROM venues), (SELECT COUNT(*) FROM sessions), COUNT(*), \
         COALESCE(SUM(quota), 0)::BIGINT, COALESCE(SUM(sold), 0)::BIGINT, COALESCE(SUM(held), 0)::BIGINT FROM categories",
        &[],
    )
    .await?;
    Ok(CatalogueStats {
        venues: get(&r, 0)?,
        sessions: get(&r, 1)?,
        categories: get(&r, 2)?,
        seats: get(&r, 3)?,
        sold: get(&r, 4)?,
        held: get(&r, 5)?,
    })
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

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<()> {
        let c = self.client().await?;
        row(&c, "SELECT 1", &[]).await.map(drop)
    }

    async fn ping_write(&self, now: Timestamp) -> Result<()> {
        let c = self.client().await?;
        exec(
            &c,
            "INSERT INTO readiness (id, checked_at, pad) VALUES (1, $1, decode(repeat('00', $2::INT), 'hex')) \
             ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at, pad = excluded.pad",
            &[&now.0, &(tessera_store::READINESS_PROBE_BYTES as i32)],
        )
        .await
        .map(drop)
    }
}

// The column lists and row readers, for the capability modules.
pub(crate) use {account_cols, outbox_cols, phase_cols, summary_from};
