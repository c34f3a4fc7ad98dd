//! The `Store` operations in SQL.

use crate::{gates, payments, pg, snapshot, sqlstate, transaction, PgStore};
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

fn account_row(r: &Row) -> Result<Account> {
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

fn phase_row(r: &Row) -> Result<Phase> {
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

async fn phase_by_id<C: GenericClient>(c: &C, id: PhaseId) -> Result<Option<Phase>> {
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

fn summary_row(r: &Row) -> Result<SessionSummary> {
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

struct CartHead {
    account: i64,
    phase: i64,
    status: CartStatus,
    expires_at: i64,
}

/// The cart's own row; `lock` holds it until the transaction ends, so that no sweeper or
/// concurrent request changes its status underneath.
async fn cart_head<C: GenericClient>(c: &C, cart: CartId, lock: bool) -> Result<Option<CartHead>> {
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

async fn cart_lines<C: GenericClient>(c: &C, cart: CartId) -> Result<Vec<CartLine>> {
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

fn assemble_cart(id: CartId, head: CartHead, lines: Vec<CartLine>) -> Cart {
    Cart {
        id,
        account_id: AccountId(head.account),
        phase_id: PhaseId(head.phase),
        status: head.status,
        expires_at: Timestamp(head.expires_at),
        lines,
    }
}

async fn cart_view<C: GenericClient>(c: &C, cart: CartId) -> Result<Cart> {
    let head = cart_head(c, cart, false).await?.ok_or_else(|| StoreError::NotFound("cart".into()))?;
    Ok(assemble_cart(cart, head, cart_lines(c, cart).await?))
}

/// The orders with their tickets, in the order of `ids`, in two queries whatever their number.
async fn order_views<C: GenericClient>(c: &C, ids: &[i64]) -> Result<Vec<Order>> {
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

async fn order_view<C: GenericClient>(c: &C, order: i64) -> Result<Order> {
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
async fn release_carts<C: GenericClient>(c: &C, carts: &[i64]) -> Result<u64> {
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
async fn release_expired<C: GenericClient>(c: &C, now: Timestamp, category: Option<i64>) -> Result<u64> {
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
async fn check_slot<C: GenericClient>(c: &C, phase: PhaseId, account: AccountId, now: Timestamp) -> Result<()> {
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

async fn reserve<C: GenericClient>(c: &C, req: &ReserveRequest) -> Result<Cart> {
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
    status: Option<i32>,
    code: Option<String>,
    message: Option<String>,
}

async fn remembered<C: GenericClient>(c: &C, account: AccountId, key: &str) -> Result<Option<RememberedRow>> {
    let Some(r) = row_opt(
        c,
        "SELECT request_hash, state, order_id, error_status, error_code, error_message \
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
        status: get(&r, 3)?,
        code: get(&r, 4)?,
        message: get(&r, 5)?,
    }))
}

/// How a key seen before answers, if it was seen before.
async fn known_key<C: GenericClient>(
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
            _ => Remembered::Failed {
                status: m.status.unwrap_or(402) as u16,
                code: m.code.unwrap_or_default(),
                message: m.message.unwrap_or_default(),
            },
        })
    }))
}

/// Writes an order's tickets in one statement, one row per code, in the codes' order.
async fn insert_tickets<C: GenericClient>(
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

async fn sell_now<C: GenericClient>(c: &C, req: &SellNow) -> Result<SellOutcome> {
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

async fn begin_checkout<C: GenericClient>(c: &C, req: &BeginCheckout) -> Result<BeginOutcome> {
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
async fn reopen_cart<C: GenericClient>(c: &C, account: AccountId, cart: CartId) -> Result<()> {
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
async fn lock_payment<C: GenericClient>(c: &C, account: AccountId, cart: CartId) -> Result<()> {
    lock_account(c, account).await?;
    row_opt(c, "SELECT id FROM carts WHERE id = $1 FOR UPDATE", &[&cart.0]).await?;
    Ok(())
}

async fn complete_checkout<C: GenericClient>(c: &C, req: &CompleteCheckout) -> Result<Order> {
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

async fn import_catalogue<C: GenericClient>(c: &C, cat: &Catalogue) -> Result<()> {
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

async fn catalogue_stats<C: GenericClient>(c: &C) -> Result<CatalogueStats> {
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

fn outbox_row(r: &Row) -> Result<OutboxMail> {
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

async fn entry<C: GenericClient>(c: &C, phase: PhaseId, account: AccountId) -> Result<Option<Entry>> {
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

    async fn import_catalogue(&self, cat: &Catalogue) -> Result<CatalogueStats> {
        transaction!(self, |tx| async {
            import_catalogue(tx, cat).await?;
            catalogue_stats(tx).await
        }
        .await)
    }

    async fn catalogue_stats(&self) -> Result<CatalogueStats> {
        catalogue_stats(&self.client().await?).await
    }

    async fn list_sessions(&self, f: &SessionFilter) -> Result<Vec<SessionSummary>> {
        const SQL: &str = concat!(
            "SELECT ",
            summary_from!(),
            " WHERE ($1::TEXT IS NULL OR s.sport = $1) AND ($2::TEXT IS NULL OR v.code = $2) \
             AND (NOT $3::BOOLEAN OR EXISTS (SELECT 1 FROM categories c WHERE c.session_id = s.id \
                                             AND c.quota > c.held + c.sold)) \
             ORDER BY s.starts_at, s.code LIMIT $4 OFFSET $5"
        );
        let c = self.client().await?;
        rows(&c, SQL, &[&f.sport, &f.venue, &f.available_only, &f.limit.clamp(1, 1000), &f.offset.max(0)])
            .await?
            .iter()
            .map(summary_row)
            .collect()
    }

    async fn session(&self, code: &str) -> Result<Option<SessionDetail>> {
        const SQL: &str = concat!("SELECT ", summary_from!(), " WHERE s.code = $1");
        snapshot!(self, |tx| {
            async {
                let Some(r) = row_opt(tx, SQL, &[&code]).await? else { return Ok(None) };
                let summary = summary_row(&r)?;
                let zones: String = get(&r, 13)?;
                let categories = rows(
                    tx,
                    "SELECT id, code, name, price_cents, quota, sold, held FROM categories WHERE session_id = $1 \
                 ORDER BY price_cents DESC, code",
                    &[&summary.id.0],
                )
                .await?
                .iter()
                .map(|r| {
                    let (quota, sold, held): (i64, i64, i64) = (get(r, 4)?, get(r, 5)?, get(r, 6)?);
                    Ok(CategoryAvailability {
                        id: CategoryId(get(r, 0)?),
                        code: get(r, 1)?,
                        name: get(r, 2)?,
                        price: Cents(get(r, 3)?),
                        quota,
                        sold,
                        held,
                        available: quota - sold - held,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
                Ok(Some(SessionDetail { summary, zones: tessera_store::zones_from_column(&zones), categories }))
            }
            .await
        })
    }

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

    async fn account(&self, id: AccountId) -> Result<Option<Account>> {
        const SQL: &str = concat!("SELECT ", account_cols!(), " FROM accounts WHERE id = $1");
        let c = self.client().await?;
        row_opt(&c, SQL, &[&id.0]).await?.map(|r| account_row(&r)).transpose()
    }

    async fn account_by_email(&self, email: &Email) -> Result<Option<Account>> {
        const SQL: &str = concat!("SELECT ", account_cols!(), " FROM accounts WHERE email = $1");
        let c = self.client().await?;
        row_opt(&c, SQL, &[&email.as_str()]).await?.map(|r| account_row(&r)).transpose()
    }

    async fn mark_email_verified(&self, id: AccountId) -> Result<()> {
        let c = self.client().await?;
        if exec(&c, "UPDATE accounts SET email_verified = TRUE WHERE id = $1", &[&id.0]).await? == 0 {
            return Err(StoreError::NotFound("account".into()));
        }
        Ok(())
    }

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

    async fn delete_auth_session(&self, id: &str) -> Result<()> {
        let c = self.client().await?;
        exec(&c, "DELETE FROM auth_sessions WHERE id = $1", &[&id]).await.map(drop)
    }

    async fn enqueue_mail(&self, to: &str, subject: &str, body: &str, now: Timestamp) -> Result<i64> {
        let c = self.client().await?;
        let r = row(
            &c,
            "INSERT INTO outbox (to_addr, subject, body, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $4) \
             RETURNING id",
            &[&to, &subject, &body, &now.0],
        )
        .await?;
        get(&r, 0)
    }

    async fn due_mail(&self, now: Timestamp, limit: i64) -> Result<Vec<OutboxMail>> {
        const SQL: &str = concat!(
            "SELECT ",
            outbox_cols!(),
            " FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= $1 ORDER BY id LIMIT $2"
        );
        let c = self.client().await?;
        rows(&c, SQL, &[&now.0, &limit]).await?.iter().map(outbox_row).collect()
    }

    async fn mark_mail_sent(&self, id: i64, now: Timestamp) -> Result<()> {
        let c = self.client().await?;
        exec(
            &c,
            "UPDATE outbox SET sent_at = $2, attempts = attempts + 1, next_attempt_at = NULL WHERE id = $1",
            &[&id, &now.0],
        )
        .await
        .map(drop)
    }

    async fn mark_mail_failed(&self, id: i64, error: &str, retry_at: Option<Timestamp>) -> Result<()> {
        let c = self.client().await?;
        exec(
            &c,
            "UPDATE outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3 WHERE id = $1",
            &[&id, &error, &retry_at.map(|t| t.0)],
        )
        .await
        .map(drop)
    }

    async fn recent_mail(&self, to: Option<&str>, limit: i64) -> Result<Vec<OutboxMail>> {
        const SQL: &str = concat!(
            "SELECT ",
            outbox_cols!(),
            " FROM outbox WHERE ($1::TEXT IS NULL OR to_addr = $1) ORDER BY id DESC LIMIT $2"
        );
        let c = self.client().await?;
        rows(&c, SQL, &[&to, &limit]).await?.iter().map(outbox_row).collect()
    }

    async fn create_phase(&self, code: &str, name: &str, s: &PhaseSettings) -> Result<Phase> {
        transaction!(self, |tx| {
            async {
                let r = row(
                    tx,
                    "INSERT INTO phases (code, name, status, per_account, per_session, per_ceremony, min_sessions, \
                 cart_ttl_secs, slot_secs, wave_size, wave_interval_secs, announce_ahead_secs, winners) \
                 VALUES ($1, $2, 'draft', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
                    &[
                        &code,
                        &name,
                        &s.caps.per_account,
                        &s.caps.per_session,
                        &s.caps.per_ceremony,
                        &s.caps.min_sessions_per_order,
                        &s.cart_ttl_secs,
                        &s.slot_secs,
                        &s.wave_size,
                        &s.wave_interval_secs,
                        &s.announce_ahead_secs,
                        &s.winners,
                    ],
                )
                .await
                .map_err(|e| conflict_if_unique(e, || format!("phase {code} already exists")))?;
                phase_by_id(tx, PhaseId(get(&r, 0)?)).await?.ok_or_else(|| StoreError::NotFound("phase".into()))
            }
            .await
        })
    }

    async fn phase(&self, code: &str) -> Result<Option<Phase>> {
        const SQL: &str = concat!("SELECT ", phase_cols!(), " FROM phases p WHERE p.code = $1");
        let c = self.client().await?;
        row_opt(&c, SQL, &[&code]).await?.map(|r| phase_row(&r)).transpose()
    }

    async fn phase_by_id(&self, id: PhaseId) -> Result<Option<Phase>> {
        phase_by_id(&self.client().await?, id).await
    }

    async fn list_phases(&self) -> Result<Vec<Phase>> {
        const SQL: &str = concat!("SELECT ", phase_cols!(), " FROM phases p ORDER BY p.id");
        let c = self.client().await?;
        rows(&c, SQL, &[]).await?.iter().map(phase_row).collect()
    }

    async fn open_registration(&self, id: PhaseId, seed_hex: &str, seed_sha256: &str, now: Timestamp) -> Result<Phase> {
        transaction!(self, |tx| {
            async {
            let n = exec(
                tx,
                "UPDATE phases SET status = 'registration', seed_hex = $2, seed_sha256 = $3, registration_opened_at = $4 \
                 WHERE id = $1 AND status = 'draft'",
                &[&id.0, &seed_hex, &seed_sha256, &now.0],
            )
            .await?;
            if n == 0 {
                return Err(StoreError::State("only a draft phase can open its registration".into()));
            }
            phase_by_id(tx, id).await?.ok_or_else(|| StoreError::NotFound("phase".into()))
        }
        .await
        })
    }

    async fn close_registration(&self, id: PhaseId, now: Timestamp) -> Result<Vec<String>> {
        transaction!(self, |tx| {
            async {
                // The update waits for entries in flight (they lock the phase row), and the
                // query below, run after it, sees all of them: the frozen list is complete, no
                // entry can slip in after it, and its digest is of exactly that list.
                let n = exec(
                    tx,
                    "UPDATE phases SET status = 'closed', registration_closed_at = $2 \
                 WHERE id = $1 AND status = 'registration'",
                    &[&id.0, &now.0],
                )
                .await?;
                if n == 0 {
                    return Err(StoreError::State("only a phase open for registration can close".into()));
                }
                let codes: Vec<String> =
                    rows(tx, "SELECT entry_code FROM entries WHERE phase_id = $1 ORDER BY entry_code", &[&id.0])
                        .await?
                        .iter()
                        .map(|r| get(r, 0))
                        .collect::<Result<_>>()?;
                let digest =
                    tessera_domain::lottery::sha256_hex(tessera_domain::lottery::entries_file(&codes).as_bytes());
                exec(tx, "UPDATE phases SET entries_sha256 = $2 WHERE id = $1", &[&id.0, &digest]).await?;
                Ok(codes)
            }
            .await
        })
    }

    async fn enter_lottery(&self, phase: PhaseId, account: AccountId, code: &str, now: Timestamp) -> Result<Entry> {
        transaction!(self, |tx| {
            async {
                // FOR UPDATE, not FOR SHARE: the entry count below updates this row, and two
                // share-lockers upgrading at once would deadlock.
                let status = row_opt(tx, "SELECT status FROM phases WHERE id = $1 FOR UPDATE", &[&phase.0]).await?;
                let status: Option<String> = status.map(|r| get(&r, 0)).transpose()?;
                match status.as_deref() {
                    None => return Err(StoreError::NotFound("phase".into())),
                    Some("registration") => {}
                    Some(_) => return Err(StoreError::State("this phase is not open for lottery entries".into())),
                }
                let inserted = exec(
                    tx,
                    "INSERT INTO entries (phase_id, account_id, entry_code, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (phase_id, account_id) DO NOTHING",
                    &[&phase.0, &account.0, &code, &now.0],
                )
                .await?;
                if inserted == 1 {
                    exec(tx, "UPDATE phases SET entry_count = entry_count + 1 WHERE id = $1", &[&phase.0]).await?;
                }
                entry(tx, phase, account).await?.ok_or_else(|| StoreError::NotFound("entry".into()))
            }
            .await
        })
    }

    async fn entry(&self, phase: PhaseId, account: AccountId) -> Result<Option<Entry>> {
        entry(&self.client().await?, phase, account).await
    }

    async fn entries(&self, phase: PhaseId) -> Result<Vec<(String, AccountId)>> {
        let c = self.client().await?;
        rows(&c, "SELECT entry_code, account_id FROM entries WHERE phase_id = $1 ORDER BY entry_code", &[&phase.0])
            .await?
            .iter()
            .map(|r| Ok((get(r, 0)?, AccountId(get(r, 1)?))))
            .collect()
    }

    async fn record_draw(&self, draw: &DrawRecord) -> Result<()> {
        let accounts: Vec<i64> = draw.slots.iter().map(|(a, _)| a.0).collect();
        let ranks: Vec<i64> = draw.slots.iter().map(|(_, s)| s.rank as i64).collect();
        let waves: Vec<i64> = draw.slots.iter().map(|(_, s)| s.wave as i64).collect();
        let starts: Vec<i64> = draw.slots.iter().map(|(_, s)| s.starts_at.0).collect();
        let ends: Vec<i64> = draw.slots.iter().map(|(_, s)| s.ends_at.0).collect();
        transaction!(self, |tx| {
            async {
            let n = exec(
                tx,
                "UPDATE phases SET status = 'drawn', drawn_at = $2 WHERE id = $1 AND status = 'closed' AND seed_hex = $3",
                &[&draw.phase_id.0, &draw.drawn_at.0, &draw.seed_hex],
            )
            .await?;
            if n == 0 {
                return Err(StoreError::State("only a closed phase can be drawn, with its own seed".into()));
            }
            exec(
                tx,
                "INSERT INTO slots (phase_id, account_id, rank, wave, starts_at, ends_at) \
                 SELECT $1, u.account_id, u.rank, u.wave, u.starts_at, u.ends_at \
                 FROM UNNEST($2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::BIGINT[], $6::BIGINT[]) \
                      AS u(account_id, rank, wave, starts_at, ends_at)",
                &[&draw.phase_id.0, &accounts, &ranks, &waves, &starts, &ends],
            )
            .await?;
            Ok(())
        }
        .await
        })
    }

    async fn slot(&self, phase: PhaseId, account: AccountId) -> Result<Option<Slot>> {
        let c = self.client().await?;
        row_opt(
            &c,
            "SELECT rank, wave, starts_at, ends_at FROM slots WHERE phase_id = $1 AND account_id = $2",
            &[&phase.0, &account.0],
        )
        .await?
        .map(|r| {
            Ok(Slot {
                phase_id: phase,
                account_id: account,
                rank: get(&r, 0)?,
                wave: get(&r, 1)?,
                starts_at: Timestamp(get(&r, 2)?),
                ends_at: Timestamp(get(&r, 3)?),
            })
        })
        .transpose()
    }

    async fn reserve(&self, req: &ReserveRequest) -> Result<Cart> {
        transaction!(self, |tx| reserve(tx, req).await)
    }

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

    async fn release_expired(&self, now: Timestamp) -> Result<u64> {
        transaction!(self, |tx| release_expired(tx, now, None).await)
    }

    async fn begin_checkout(&self, req: &BeginCheckout) -> Result<BeginOutcome> {
        transaction!(self, |tx| begin_checkout(tx, req).await)
    }

    async fn known_key(&self, account: AccountId, key: &str, request_hash: &str) -> Result<Option<BeginOutcome>> {
        snapshot!(self, |tx| known_key(tx, account, key, request_hash).await)
    }

    async fn category_price(&self, id: CategoryId) -> Result<Option<CategoryPrice>> {
        let c = self.client().await?;
        let r = row_opt(&c, "SELECT price_cents, quota - held - sold FROM categories WHERE id = $1", &[&id.0]).await?;
        r.map(|r| Ok(CategoryPrice { id, price: Cents(get(&r, 0)?), available: get(&r, 1)? })).transpose()
    }

    async fn sell_now(&self, req: &SellNow) -> Result<SellOutcome> {
        transaction!(self, |tx| sell_now(tx, req).await)
    }

    async fn remember_refusal(
        &self,
        account: AccountId,
        key: &str,
        request_hash: &str,
        refusal: &Refusal,
        now: Timestamp,
    ) -> Result<()> {
        let (status, code, message) = (refusal.status, refusal.code.as_str(), refusal.message.as_str());
        let c = self.client().await?;
        exec(
            &c,
            "INSERT INTO idempotency (account_id, key, request_hash, cart_id, state, error_status, error_code, \
             error_message, created_at) VALUES ($1, $2, $3, NULL, 'failed', $4, $5, $6, $7) \
             ON CONFLICT (account_id, key) DO NOTHING",
            &[&account.0, &key, &request_hash, &i32::from(status), &code, &message, &now.0],
        )
        .await
        .map(drop)
    }

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

    async fn fail_checkout(&self, account: AccountId, key: &str, cart: CartId, refusal: &Refusal) -> Result<()> {
        let (status, code, message) = (i32::from(refusal.status), refusal.code.as_str(), refusal.message.as_str());
        transaction!(self, |tx| {
            async {
                lock_payment(tx, account, cart).await?;
                exec(
                    tx,
                    "UPDATE idempotency SET state = 'failed', error_status = $3, error_code = $4, error_message = $5 \
                 WHERE account_id = $1 AND key = $2 AND state = 'pending'",
                    &[&account.0, &key, &status, &code, &message],
                )
                .await?;
                reopen_cart(tx, account, cart).await
            }
            .await
        })
    }

    async fn complete_checkout(&self, req: &CompleteCheckout) -> Result<Order> {
        transaction!(self, |tx| complete_checkout(tx, req).await)
    }

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

    async fn put_waiting_room(
        &self,
        phase_code: &str,
        settings_json: &str,
        seed_hex: &str,
        now: Timestamp,
    ) -> Result<WaitingRoomRecord> {
        let c = self.client().await?;
        let found = rows(
            &c,
            "INSERT INTO waiting_rooms (phase_id, settings, seed_hex, updated_at) \
             SELECT id, $2, $3, $4 FROM phases WHERE code = $1 \
             ON CONFLICT (phase_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at \
             RETURNING seed_hex",
            &[&phase_code, &settings_json, &seed_hex, &now.0],
        )
        .await?;
        let r = found.first().ok_or_else(|| StoreError::NotFound("phase".into()))?;
        Ok(WaitingRoomRecord {
            phase_code: phase_code.to_string(),
            settings_json: settings_json.to_string(),
            seed_hex: get(r, 0)?,
            updated_at: now,
        })
    }

    async fn delete_waiting_room(&self, phase_code: &str) -> Result<bool> {
        let c = self.client().await?;
        let n = exec(
            &c,
            "DELETE FROM waiting_rooms WHERE phase_id = (SELECT id FROM phases WHERE code = $1)",
            &[&phase_code],
        )
        .await?;
        Ok(n > 0)
    }

    async fn waiting_rooms(&self) -> Result<Vec<WaitingRoomRecord>> {
        let c = self.client().await?;
        rows(
            &c,
            "SELECT p.code, w.settings, w.seed_hex, w.updated_at FROM waiting_rooms w \
             JOIN phases p ON p.id = w.phase_id ORDER BY p.code",
            &[],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(WaitingRoomRecord {
                phase_code: get(r, 0)?,
                settings_json: get(r, 1)?,
                seed_hex: get(r, 2)?,
                updated_at: Timestamp(get(r, 3)?),
            })
        })
        .collect()
    }

    async fn put_edge_decision(&self, scope: &str, decision_json: &str, expires: Timestamp) -> Result<()> {
        let c = self.client().await?;
        exec(
            &c,
            "INSERT INTO edge_decisions (scope, decision, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (scope) DO UPDATE SET decision = excluded.decision, expires_at = excluded.expires_at",
            &[&scope, &decision_json, &expires.0],
        )
        .await?;
        Ok(())
    }

    async fn delete_edge_decision(&self, scope: &str) -> Result<bool> {
        let c = self.client().await?;
        Ok(exec(&c, "DELETE FROM edge_decisions WHERE scope = $1", &[&scope]).await? > 0)
    }

    async fn edge_decisions(&self, now: Timestamp) -> Result<Vec<String>> {
        let c = self.client().await?;
        rows(&c, "SELECT decision FROM edge_decisions WHERE expires_at > $1 ORDER BY scope", &[&now.0])
            .await?
            .iter()
            .map(|r| get(r, 0))
            .collect()
    }

    async fn holdings(&self, account: AccountId) -> Result<Vec<Holding>> {
        snapshot!(self, |tx| gates::holdings_of(tx, account).await)
    }

    async fn holding(&self, ticket_code: &str) -> Result<Option<Holding>> {
        snapshot!(self, |tx| gates::holding(tx, ticket_code).await)
    }

    async fn issue_credential(&self, req: &IssueCredential) -> Result<CredentialRecord> {
        transaction!(self, |tx| gates::issue_credential(tx, req).await)
    }

    async fn create_transfer(
        &self,
        ticket_code: &str,
        from: AccountId,
        to: &Email,
        now: Timestamp,
    ) -> Result<Transfer> {
        transaction!(self, |tx| gates::create_transfer(tx, ticket_code, from, to, now).await)
    }

    async fn cancel_transfer(&self, id: i64, from: AccountId, now: Timestamp) -> Result<Transfer> {
        transaction!(self, |tx| gates::cancel_transfer(tx, id, from, now).await)
    }

    async fn accept_transfer(&self, id: i64, to: AccountId, now: Timestamp) -> Result<Transfer> {
        transaction!(self, |tx| gates::accept_transfer(tx, id, to, now).await)
    }

    async fn transfers(&self, account: AccountId) -> Result<Vec<Transfer>> {
        gates::transfers(&self.client().await?, account).await
    }

    async fn list_for_resale(
        &self,
        ticket_code: &str,
        seller: AccountId,
        buyer_fee: Cents,
        seller_fee: Cents,
        now: Timestamp,
    ) -> Result<Listing> {
        transaction!(self, |tx| gates::list_for_resale(tx, ticket_code, seller, (buyer_fee, seller_fee), now).await)
    }

    async fn cancel_listing(&self, id: i64, seller: AccountId, now: Timestamp) -> Result<Listing> {
        transaction!(self, |tx| gates::cancel_listing(tx, id, seller, now).await)
    }

    async fn listing(&self, id: i64) -> Result<Option<Listing>> {
        gates::listing(&self.client().await?, id).await
    }

    async fn open_listings(&self, session_code: Option<&str>, limit: i64) -> Result<Vec<Listing>> {
        gates::open_listings(&self.client().await?, session_code, limit).await
    }

    async fn buy_resale(&self, req: &BuyResale) -> Result<Listing> {
        transaction!(self, |tx| gates::buy_resale(tx, req).await)
    }

    async fn record_scans(
        &self,
        venue_code: &str,
        entrance: &str,
        scans: &[ScanRecord],
        now_ms: i64,
    ) -> Result<SyncOutcome> {
        transaction!(self, |tx| gates::record_scans(tx, venue_code, entrance, scans, now_ms).await)
    }

    async fn annul_entry(&self, ticket_id: i64, reason: &str, now_ms: i64) -> Result<FeedEvent> {
        transaction!(self, |tx| gates::annul_entry(tx, ticket_id, reason, now_ms).await)
    }

    async fn gate_feed(&self, venue_code: &str, after_seq: i64, limit: i64) -> Result<Vec<FeedEvent>> {
        gates::gate_feed(&self.client().await?, venue_code, after_seq, limit).await
    }

    async fn venue_gate_data(&self, venue_code: &str, from: Timestamp, until: Timestamp) -> Result<VenueGateData> {
        snapshot!(self, |tx| gates::venue_gate_data(tx, venue_code, from, until).await)
    }

    async fn gates(&self) -> Result<Vec<GateRecord>> {
        gates::gates(&self.client().await?).await
    }

    async fn gate_figures(&self, since_ms: i64) -> Result<GateFigures> {
        snapshot!(self, |tx| gates::gate_figures(tx, since_ms).await)
    }

    async fn security_events(&self, limit: i64) -> Result<Vec<SecurityEvent>> {
        gates::security_events(&self.client().await?, limit).await
    }
}
