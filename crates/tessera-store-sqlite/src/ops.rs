//! The SQL of the `Store` operations, shared by the capability modules that implement the
//! store's traits (`catalogue.rs`, `accounts.rs`, ... ) and the health checks.

use crate::sql::*;
use crate::{payments, sql_err, SqliteStore};
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};
use tessera_domain::caps::{self, Caps, Holdings};
use tessera_domain::catalogue::Catalogue;
use tessera_domain::*;
use tessera_store::*;

pub(crate) const ACCOUNT_COLS: &str =
    "id, email, password_hash, display_name, role, email_verified, created_at, credential_epoch";

pub(crate) fn account_row(r: &Row) -> rusqlite::Result<Account> {
    let email: String = r.get(1)?;
    let role: String = r.get(4)?;
    Ok(Account {
        id: AccountId(r.get(0)?),
        email: Email::parse(&email).map_err(|e| conv_err(1, e))?,
        password_hash: r.get(2)?,
        display_name: r.get(3)?,
        role: Role::parse(&role).ok_or_else(|| conv_err(4, format!("unknown role {role}")))?,
        email_verified: r.get(5)?,
        created_at: Timestamp(r.get(6)?),
        credential_epoch: r.get(7)?,
    })
}

pub(crate) const PHASE_COLS: &str = "p.id, p.code, p.name, p.status, p.per_account, p.per_session, p.per_ceremony, \
    p.min_sessions, p.cart_ttl_secs, p.slot_secs, p.wave_size, p.wave_interval_secs, p.announce_ahead_secs, \
    p.winners, p.seed_hex, p.seed_sha256, p.entries_sha256, p.registration_opened_at, \
    p.registration_closed_at, p.drawn_at, p.entry_count";

pub(crate) fn phase_row(r: &Row) -> rusqlite::Result<Phase> {
    let status: String = r.get(3)?;
    Ok(Phase {
        id: PhaseId(r.get(0)?),
        code: r.get(1)?,
        name: r.get(2)?,
        status: PhaseStatus::parse(&status).ok_or_else(|| conv_err(3, format!("unknown status {status}")))?,
        settings: PhaseSettings {
            caps: Caps {
                per_account: r.get(4)?,
                per_session: r.get(5)?,
                per_ceremony: r.get(6)?,
                min_sessions_per_order: r.get(7)?,
            },
            cart_ttl_secs: r.get(8)?,
            slot_secs: r.get(9)?,
            wave_size: r.get(10)?,
            wave_interval_secs: r.get(11)?,
            announce_ahead_secs: r.get(12)?,
            winners: r.get(13)?,
        },
        seed_hex: r.get(14)?,
        seed_sha256: r.get(15)?,
        entries_sha256: r.get(16)?,
        registration_opened_at: r.get::<_, Option<i64>>(17)?.map(Timestamp),
        registration_closed_at: r.get::<_, Option<i64>>(18)?.map(Timestamp),
        drawn_at: r.get::<_, Option<i64>>(19)?.map(Timestamp),
        entries: r.get(20)?,
    })
}

pub(crate) fn phase_by_id(conn: &Connection, id: PhaseId) -> Result<Option<Phase>> {
    conn.prepare_cached(&format!("SELECT {PHASE_COLS} FROM phases p WHERE p.id = ?1"))
        .sql()?
        .query_row([id.0], phase_row)
        .optional()
        .sql()
}

pub(crate) const SUMMARY_COLS: &str =
    "s.id, s.code, s.sport, s.title, v.code, v.name, v.city, s.starts_at, s.ends_at, s.ceremony, \
    (SELECT COALESCE(SUM(c.quota), 0) FROM categories c WHERE c.session_id = s.id), \
    (SELECT COALESCE(SUM(c.quota - c.held - c.sold), 0) FROM categories c WHERE c.session_id = s.id), \
    (SELECT COALESCE(MIN(c.price_cents), 0) FROM categories c WHERE c.session_id = s.id)";

pub(crate) fn summary_row(r: &Row) -> rusqlite::Result<SessionSummary> {
    Ok(SessionSummary {
        id: SessionId(r.get(0)?),
        code: r.get(1)?,
        sport: r.get(2)?,
        title: r.get(3)?,
        venue_code: r.get(4)?,
        venue_name: r.get(5)?,
        city: r.get(6)?,
        starts_at: Timestamp(r.get(7)?),
        ends_at: Timestamp(r.get(8)?),
        ceremony: r.get(9)?,
        quota: r.get(10)?,
        available: r.get(11)?,
        min_price: Cents(r.get(12)?),
    })
}

pub(crate) fn cart_view(conn: &Connection, cart: CartId) -> Result<Cart> {
    let (account, phase, status, expires_at): (i64, i64, String, i64) = conn
        .prepare_cached("SELECT account_id, phase_id, status, expires_at FROM carts WHERE id = ?1")
        .sql()?
        .query_row([cart.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()
        .sql()?
        .ok_or_else(|| StoreError::NotFound("cart".into()))?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT ci.category_id, c.code, c.name, ci.session_id, s.code, s.title, c.price_cents, ci.qty \
             FROM cart_items ci JOIN categories c ON c.id = ci.category_id JOIN sessions s ON s.id = ci.session_id \
             WHERE ci.cart_id = ?1 ORDER BY s.starts_at, s.code, c.code",
        )
        .sql()?;
    let lines = stmt
        .query_map([cart.0], |r| {
            Ok(CartLine {
                category_id: CategoryId(r.get(0)?),
                category_code: r.get(1)?,
                category_name: r.get(2)?,
                session_id: SessionId(r.get(3)?),
                session_code: r.get(4)?,
                session_title: r.get(5)?,
                unit_price: Cents(r.get(6)?),
                qty: r.get(7)?,
            })
        })
        .sql()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .sql()?;
    Ok(Cart {
        id: cart,
        account_id: AccountId(account),
        phase_id: PhaseId(phase),
        status: CartStatus::parse(&status).unwrap_or(CartStatus::Expired),
        expires_at: Timestamp(expires_at),
        lines,
    })
}

pub(crate) fn order_view(conn: &Connection, order: OrderId) -> Result<Order> {
    let mut o = conn
        .prepare_cached(
            "SELECT id, code, account_id, phase_id, total_cents, payment_ref, created_at FROM orders WHERE id = ?1",
        )
        .sql()?
        .query_row([order.0], |r| {
            Ok(Order {
                id: OrderId(r.get(0)?),
                code: r.get(1)?,
                account_id: AccountId(r.get(2)?),
                phase_id: PhaseId(r.get(3)?),
                total: Cents(r.get(4)?),
                payment_ref: r.get(5)?,
                created_at: Timestamp(r.get(6)?),
                tickets: vec![],
            })
        })
        .optional()
        .sql()?
        .ok_or_else(|| StoreError::NotFound("order".into()))?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT t.id, t.code, s.code, s.title, v.name, s.starts_at, c.code, c.name, t.price_cents \
             FROM tickets t JOIN categories c ON c.id = t.category_id JOIN sessions s ON s.id = t.session_id \
             JOIN venues v ON v.id = s.venue_id WHERE t.order_id = ?1 ORDER BY t.id",
        )
        .sql()?;
    o.tickets = stmt
        .query_map([order.0], |r| {
            Ok(Ticket {
                id: TicketId(r.get(0)?),
                code: r.get(1)?,
                session_code: r.get(2)?,
                session_title: r.get(3)?,
                venue_name: r.get(4)?,
                starts_at: Timestamp(r.get(5)?),
                category_code: r.get(6)?,
                category_name: r.get(7)?,
                price: Cents(r.get(8)?),
            })
        })
        .sql()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .sql()?;
    Ok(o)
}

/// Gives a cart's seats back to the quota and forgets any payment attempt still pending on it.
pub(crate) fn release_cart(conn: &Connection, cart: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE categories SET held = held - (SELECT qty FROM cart_items WHERE cart_id = ?1 AND category_id = categories.id) \
         WHERE id IN (SELECT category_id FROM cart_items WHERE cart_id = ?1)",
    )
    .sql()?
    .execute([cart])
    .sql()?;
    conn.prepare_cached("UPDATE carts SET status = 'expired' WHERE id = ?1").sql()?.execute([cart]).sql()?;
    conn.prepare_cached("DELETE FROM idempotency WHERE cart_id = ?1 AND state = 'pending'")
        .sql()?
        .execute([cart])
        .sql()?;
    Ok(())
}

pub(crate) fn release_expired(conn: &Connection, now: Timestamp, category: Option<i64>) -> Result<u64> {
    let ids: Vec<i64> = match category {
        None => conn
            .prepare_cached(
                "SELECT id FROM carts WHERE status IN ('open', 'paying') AND expires_at <= ?1 ORDER BY expires_at LIMIT 1000",
            )
            .sql()?
            .query_map([now.0], |r| r.get(0))
            .sql()?
            .collect::<rusqlite::Result<_>>()
            .sql()?,
        Some(cat) => conn
            .prepare_cached(
                "SELECT c.id FROM carts c JOIN cart_items ci ON ci.cart_id = c.id \
                 WHERE ci.category_id = ?2 AND c.status IN ('open', 'paying') AND c.expires_at <= ?1 LIMIT 1000",
            )
            .sql()?
            .query_map([now.0, cat], |r| r.get(0))
            .sql()?
            .collect::<rusqlite::Result<_>>()
            .sql()?,
    };
    for id in &ids {
        release_cart(conn, *id)?;
    }
    Ok(ids.len() as u64)
}

pub(crate) fn holdings(conn: &Connection, account: AccountId, session: i64, now: Timestamp) -> Result<Holdings> {
    let (t_all, t_sess): (i64, i64) = conn
        .prepare_cached(
            "SELECT COUNT(*), COALESCE(SUM(session_id = ?2), 0) FROM tickets WHERE account_id = ?1 AND status = 'valid'",
        )
        .sql()?
        .query_row(params![account.0, session], |r| Ok((r.get(0)?, r.get(1)?)))
        .sql()?;
    let (c_all, c_sess): (i64, i64) = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(ci.qty), 0), COALESCE(SUM(CASE WHEN ci.session_id = ?2 THEN ci.qty ELSE 0 END), 0) \
             FROM carts c JOIN cart_items ci ON ci.cart_id = c.id \
             WHERE c.account_id = ?1 AND c.status IN ('open', 'paying') AND c.expires_at > ?3",
        )
        .sql()?
        .query_row(params![account.0, session, now.0], |r| Ok((r.get(0)?, r.get(1)?)))
        .sql()?;
    Ok(Holdings { account_total: t_all + c_all, in_session: t_sess + c_sess })
}

/// Refuses unless `now` lies inside the account's purchase slot for the phase.
pub(crate) fn check_slot(conn: &Connection, phase: PhaseId, account: AccountId, now: Timestamp) -> Result<()> {
    let slot: Option<(i64, i64)> = conn
        .prepare_cached("SELECT starts_at, ends_at FROM slots WHERE phase_id = ?1 AND account_id = ?2")
        .sql()?
        .query_row(params![phase.0, account.0], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .sql()?;
    slot_verdict(slot.map(|(s, e)| (Timestamp(s), Timestamp(e))), now)
}

pub(crate) fn reserve(conn: &Connection, req: &ReserveRequest) -> Result<Cart> {
    let cart = reserve_seats(conn, req)?;
    cart_view(conn, CartId(cart))
}

/// Holds the seats; returns the cart's id.
pub(crate) fn reserve_seats(conn: &Connection, req: &ReserveRequest) -> Result<i64> {
    check_slot(conn, req.phase, req.account, req.now)?;
    let (quota, held, sold, session, ceremony): (i64, i64, i64, i64, bool) = conn
        .prepare_cached(
            "SELECT c.quota, c.held, c.sold, c.session_id, s.ceremony FROM categories c \
             JOIN sessions s ON s.id = c.session_id WHERE c.id = ?1",
        )
        .sql()?
        .query_row([req.category.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .optional()
        .sql()?
        .ok_or_else(|| StoreError::NotFound(format!("price category {}", req.category)))?;

    let live: Option<(i64, String, i64)> = conn
        .prepare_cached(
            "SELECT id, status, expires_at FROM carts WHERE account_id = ?1 AND phase_id = ?2 \
             AND status IN ('open', 'paying') ORDER BY id DESC LIMIT 1",
        )
        .sql()?
        .query_row(params![req.account.0, req.phase.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()
        .sql()?;
    let mut cart = match live {
        Some((id, _, expires_at)) if expires_at <= req.now.0 => {
            release_cart(conn, id)?;
            None
        }
        Some((_, status, _)) if status == "paying" => {
            return Err(StoreError::State("this cart is being paid for; wait for the payment to finish".into()))
        }
        Some((id, _, _)) => Some(id),
        None => None,
    };

    caps::check_reserve(&req.caps, holdings(conn, req.account, session, req.now)?, req.qty, ceremony)
        .map_err(StoreError::Cap)?;

    let mut available = quota - held - sold;
    if req.qty > available && release_expired(conn, req.now, Some(req.category.0))? > 0 {
        available = conn
            .prepare_cached("SELECT quota - held - sold FROM categories WHERE id = ?1")
            .sql()?
            .query_row([req.category.0], |r| r.get(0))
            .sql()?;
    }
    if req.qty > available {
        return Err(StoreError::SoldOut { available });
    }

    let cart_id = match cart.take() {
        Some(id) => id,
        None => {
            let until = req.now.plus_secs(req.cart_ttl_secs).0;
            conn.prepare_cached(
                "INSERT INTO carts (account_id, phase_id, status, created_at, expires_at, hold_until) \
                 VALUES (?1, ?2, 'open', ?3, ?4, ?4)",
            )
            .sql()?
            .execute(params![req.account.0, req.phase.0, req.now.0, until])
            .sql()?;
            conn.last_insert_rowid()
        }
    };
    conn.prepare_cached(
        "INSERT INTO cart_items (cart_id, category_id, session_id, qty) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (cart_id, category_id) DO UPDATE SET qty = qty + excluded.qty",
    )
    .sql()?
    .execute(params![cart_id, req.category.0, session, req.qty])
    .sql()?;
    conn.prepare_cached("UPDATE categories SET held = held + ?2 WHERE id = ?1")
        .sql()?
        .execute(params![req.category.0, req.qty])
        .sql()?;
    Ok(cart_id)
}

/// How a key seen before answers, if it was seen before.
pub(crate) fn known_key(
    conn: &Connection,
    account: AccountId,
    key: &str,
    request_hash: &str,
) -> Result<Option<BeginOutcome>> {
    type Row = (String, String, Option<i64>, Option<String>, Option<String>);
    let row: Option<Row> = conn
        .prepare_cached(
            "SELECT request_hash, state, order_id, error_code, error_message \
             FROM idempotency WHERE account_id = ?1 AND key = ?2",
        )
        .sql()?
        .query_row(params![account.0, key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .optional()
        .sql()?;
    let Some((hash, state, order, code, message)) = row else {
        return Ok(None);
    };
    Ok(Some(match key_verdict(request_hash, &hash, &state, order, code, message)? {
        KeyVerdict::Reused => BeginOutcome::KeyReused,
        KeyVerdict::InProgress => BeginOutcome::InProgress,
        KeyVerdict::Paid(order) => BeginOutcome::Replay(Remembered::Paid(order_view(conn, order)?)),
        KeyVerdict::Failed(r) => BeginOutcome::Replay(Remembered::Failed(r)),
    }))
}

pub(crate) fn sell_now(conn: &Connection, req: &SellNow) -> Result<SellOutcome> {
    match known_key(conn, req.account, &req.idempotency_key, &req.request_hash)? {
        Some(BeginOutcome::Replay(r)) => return Ok(SellOutcome::Replay(r)),
        Some(BeginOutcome::KeyReused) => return Ok(SellOutcome::KeyReused),
        Some(_) => return Ok(SellOutcome::InProgress),
        None => {}
    }
    check_slot(conn, req.phase, req.account, req.now)?;
    struct Line {
        category: i64,
        session: i64,
        qty: i64,
        price: i64,
        category_code: String,
        category_name: String,
        session_code: String,
        session_title: String,
        venue_name: String,
        starts_at: i64,
    }
    let mut lines: Vec<Line> = Vec::with_capacity(req.items.len());
    let mut added_total = 0;
    for (category, qty) in &req.items {
        let row = conn
            .prepare_cached(
                "SELECT c.quota - c.held - c.sold, c.session_id, s.ceremony, c.price_cents, c.code, c.name,                  s.code, s.title, v.name, s.starts_at                  FROM categories c JOIN sessions s ON s.id = c.session_id JOIN venues v ON v.id = s.venue_id WHERE c.id = ?1",
            )
            .sql()?
            .query_row([category.0], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, bool>(2)?,
                    Line {
                        category: category.0,
                        session: r.get(1)?,
                        qty: *qty,
                        price: r.get(3)?,
                        category_code: r.get(4)?,
                        category_name: r.get(5)?,
                        session_code: r.get(6)?,
                        session_title: r.get(7)?,
                        venue_name: r.get(8)?,
                        starts_at: r.get(9)?,
                    },
                ))
            })
            .optional()
            .sql()?;
        let (mut available, session, ceremony, line) =
            row.ok_or_else(|| StoreError::NotFound(format!("price category {category}")))?;
        // This order's own earlier lines count towards the caps too.
        let mut held = holdings(conn, req.account, session, req.now)?;
        held.account_total += added_total;
        held.in_session += lines.iter().filter(|l| l.session == session).map(|l| l.qty).sum::<i64>();
        caps::check_reserve(&req.caps, held, *qty, ceremony).map_err(StoreError::Cap)?;
        if *qty > available && release_expired(conn, req.now, Some(category.0))? > 0 {
            available = conn
                .prepare_cached("SELECT quota - held - sold FROM categories WHERE id = ?1")
                .sql()?
                .query_row([category.0], |r| r.get(0))
                .sql()?;
        }
        if *qty > available {
            return Err(StoreError::SoldOut { available });
        }
        conn.prepare_cached("UPDATE categories SET sold = sold + ?2 WHERE id = ?1")
            .sql()?
            .execute(params![category.0, qty])
            .sql()?;
        added_total += qty;
        lines.push(line);
    }
    let mut sessions: Vec<i64> = lines.iter().map(|l| l.session).collect();
    sessions.sort_unstable();
    sessions.dedup();
    let total: i64 = lines.iter().map(|l| l.price * l.qty).sum();
    req.check_priced(sessions.len(), total, added_total)?;
    conn.prepare_cached(
        "INSERT INTO orders (code, account_id, phase_id, cart_id, total_cents, payment_ref, created_at) \
         VALUES (?1, ?2, ?3, NULL, ?4, ?5, ?6)",
    )
    .sql()?
    .execute(params![req.order_code, req.account.0, req.phase.0, total, req.payment_ref, req.now.0])
    .sql()?;
    let order_id = conn.last_insert_rowid();
    let mut ticket = conn
        .prepare_cached(
            "INSERT INTO tickets (code, order_id, account_id, category_id, session_id, price_cents) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .sql()?;
    let mut codes = req.ticket_codes.iter();
    let mut tickets = Vec::with_capacity(added_total as usize);
    for l in &lines {
        for _ in 0..l.qty {
            let code = codes.next().expect("counted above");
            ticket.execute(params![code, order_id, req.account.0, l.category, l.session, l.price]).sql()?;
            tickets.push(Ticket {
                id: TicketId(conn.last_insert_rowid()),
                code: code.clone(),
                session_code: l.session_code.clone(),
                session_title: l.session_title.clone(),
                venue_name: l.venue_name.clone(),
                starts_at: Timestamp(l.starts_at),
                category_code: l.category_code.clone(),
                category_name: l.category_name.clone(),
                price: Cents(l.price),
            });
        }
    }
    conn.prepare_cached(
        "INSERT INTO idempotency (account_id, key, request_hash, cart_id, state, order_id, created_at) \
         VALUES (?1, ?2, ?3, NULL, 'paid', ?4, ?5)",
    )
    .sql()?
    .execute(params![req.account.0, req.idempotency_key, req.request_hash, order_id, req.now.0])
    .sql()?;
    payments::insert_sale_payment(
        conn,
        &req.payment_ref,
        req.account,
        PaymentKind::Order,
        Cents(total),
        order_id,
        req.now,
    )?;
    Ok(SellOutcome::Sold(Order {
        id: OrderId(order_id),
        code: req.order_code.clone(),
        account_id: req.account,
        phase_id: req.phase,
        total: Cents(total),
        payment_ref: req.payment_ref.clone(),
        created_at: req.now,
        tickets,
    }))
}

pub(crate) fn begin_checkout(conn: &Connection, req: &BeginCheckout) -> Result<BeginOutcome> {
    if let Some(known) = known_key(conn, req.account, &req.idempotency_key, &req.request_hash)? {
        return Ok(known);
    }
    let cart = cart_view(conn, req.cart)?;
    if cart.account_id != req.account || cart.phase_id != req.phase {
        return Err(StoreError::NotFound("cart in this phase".into()));
    }
    check_slot(conn, cart.phase_id, req.account, req.now)?;
    match cart.status {
        CartStatus::Open if cart.expires_at > req.now => {}
        // An open cart past its time is released by the sweeper (or by the next reservation
        // that needs its seats); an error here would roll a release back anyway.
        CartStatus::Open | CartStatus::Expired => return Err(StoreError::CartExpired),
        CartStatus::Paying => return Ok(BeginOutcome::InProgress),
        CartStatus::Paid => return Err(StoreError::State("this cart is already paid".into())),
    }
    if cart.lines.is_empty() {
        return Err(StoreError::CartEmpty);
    }
    let caps = Caps { min_sessions_per_order: req.min_sessions_per_order, ..Caps::default() };
    caps::check_pack(&caps, cart.distinct_sessions()).map_err(StoreError::Cap)?;
    conn.prepare_cached(
        "INSERT INTO idempotency (account_id, key, request_hash, cart_id, state, created_at) \
         VALUES (?1, ?2, ?3, ?4, 'pending', ?5)",
    )
    .sql()?
    .execute(params![req.account.0, req.idempotency_key, req.request_hash, req.cart.0, req.now.0])
    .sql()?;
    conn.prepare_cached("UPDATE carts SET status = 'paying', expires_at = MAX(expires_at, ?2) WHERE id = ?1")
        .sql()?
        .execute(params![req.cart.0, req.now.plus_secs(req.pay_window_secs).0])
        .sql()?;
    Ok(BeginOutcome::Started(Cart { status: CartStatus::Paying, ..cart }))
}

/// Puts a cart that was in payment back on its own hold time.
pub(crate) fn reopen_cart(conn: &Connection, account: AccountId, cart: CartId) -> Result<()> {
    conn.prepare_cached(
        "UPDATE carts SET status = 'open', expires_at = hold_until WHERE id = ?1 AND account_id = ?2 AND status = 'paying'",
    )
    .sql()?
    .execute(params![cart.0, account.0])
    .sql()?;
    Ok(())
}

pub(crate) fn complete_checkout(conn: &Connection, req: &CompleteCheckout) -> Result<Order> {
    let pending: Option<i64> = conn
        .prepare_cached("SELECT cart_id FROM idempotency WHERE account_id = ?1 AND key = ?2 AND state = 'pending'")
        .sql()?
        .query_row(params![req.account.0, req.idempotency_key], |r| r.get(0))
        .optional()
        .sql()?;
    if pending != Some(req.cart.0) {
        return Err(StoreError::CartExpired);
    }
    let cart = cart_view(conn, req.cart)?;
    if cart.account_id != req.account || cart.status != CartStatus::Paying {
        return Err(StoreError::CartExpired);
    }
    let seats = cart.ticket_count() as usize;
    if req.ticket_codes.len() < seats {
        return Err(StoreError::State(format!("{} ticket codes given for {seats} seats", req.ticket_codes.len())));
    }
    conn.prepare_cached(
        "INSERT INTO orders (code, account_id, phase_id, cart_id, total_cents, payment_ref, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .sql()?
    .execute(params![
        req.order_code,
        req.account.0,
        cart.phase_id.0,
        cart.id.0,
        cart.total().0,
        req.payment_ref,
        req.now.0
    ])
    .sql()?;
    let order_id = conn.last_insert_rowid();
    let mut codes = req.ticket_codes.iter();
    let mut tickets = Vec::with_capacity(seats);
    let mut place = conn
        .prepare_cached("SELECT v.name, s.starts_at FROM sessions s JOIN venues v ON v.id = s.venue_id WHERE s.id = ?1")
        .sql()?;
    let mut sell =
        conn.prepare_cached("UPDATE categories SET held = held - ?2, sold = sold + ?2 WHERE id = ?1").sql()?;
    let mut ticket = conn
        .prepare_cached(
            "INSERT INTO tickets (code, order_id, account_id, category_id, session_id, price_cents) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .sql()?;
    for line in &cart.lines {
        sell.execute(params![line.category_id.0, line.qty]).sql()?;
        let (venue_name, starts_at): (String, i64) =
            place.query_row([line.session_id.0], |r| Ok((r.get(0)?, r.get(1)?))).sql()?;
        for _ in 0..line.qty {
            let code = codes.next().expect("counted above");
            ticket
                .execute(params![
                    code,
                    order_id,
                    req.account.0,
                    line.category_id.0,
                    line.session_id.0,
                    line.unit_price.0
                ])
                .sql()?;
            tickets.push(Ticket {
                id: TicketId(conn.last_insert_rowid()),
                code: code.clone(),
                session_code: line.session_code.clone(),
                session_title: line.session_title.clone(),
                venue_name: venue_name.clone(),
                starts_at: Timestamp(starts_at),
                category_code: line.category_code.clone(),
                category_name: line.category_name.clone(),
                price: line.unit_price,
            });
        }
    }
    conn.prepare_cached("UPDATE carts SET status = 'paid' WHERE id = ?1").sql()?.execute([cart.id.0]).sql()?;
    conn.prepare_cached("UPDATE idempotency SET state = 'paid', order_id = ?3 WHERE account_id = ?1 AND key = ?2")
        .sql()?
        .execute(params![req.account.0, req.idempotency_key, order_id])
        .sql()?;
    payments::insert_sale_payment(
        conn,
        &req.payment_ref,
        req.account,
        PaymentKind::Order,
        cart.total(),
        order_id,
        req.now,
    )?;
    // Built from what was just written rather than read back: this is the hottest write.
    Ok(Order {
        id: OrderId(order_id),
        code: req.order_code.clone(),
        account_id: req.account,
        phase_id: cart.phase_id,
        total: cart.total(),
        payment_ref: req.payment_ref.clone(),
        created_at: req.now,
        tickets,
    })
}

pub(crate) fn import_catalogue(conn: &Connection, cat: &Catalogue) -> Result<()> {
    let exists = |sql: &str, code: &str| -> Result<bool> {
        conn.prepare_cached(sql).sql()?.query_row([code], |r| r.get(0)).sql()
    };
    for v in &cat.venues {
        if exists("SELECT EXISTS (SELECT 1 FROM venues WHERE code = ?1)", v.code.as_str())? {
            return Err(StoreError::Conflict(format!("venue {} already exists", v.code)));
        }
        conn.prepare_cached("INSERT INTO venues (code, name, city, capacity, zones) VALUES (?1, ?2, ?3, ?4, ?5)")
            .sql()?
            .execute(params![v.code.as_str(), v.name, v.city, v.capacity, tessera_store::zones_to_column(&v.zones)])
            .sql()?;
    }
    for s in &cat.sessions {
        if exists("SELECT EXISTS (SELECT 1 FROM sessions WHERE code = ?1)", s.code.as_str())? {
            return Err(StoreError::Conflict(format!("session {} already exists", s.code)));
        }
        let n = conn
            .prepare_cached(
                "INSERT INTO sessions (code, sport, title, venue_id, starts_at, ends_at, ceremony) \
                 SELECT ?1, ?2, ?3, id, ?5, ?6, ?7 FROM venues WHERE code = ?4",
            )
            .sql()?
            .execute(params![
                s.code.as_str(),
                s.sport,
                s.title,
                s.venue.as_str(),
                s.starts_at.0,
                s.ends_at.0,
                s.ceremony
            ])
            .sql()?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("venue {} of session {}", s.venue, s.code)));
        }
    }
    for c in &cat.categories {
        let n = conn
            .prepare_cached(
                "INSERT INTO categories (session_id, code, name, price_cents, quota) \
                 SELECT id, ?2, ?3, ?4, ?5 FROM sessions WHERE code = ?1",
            )
            .sql()?
            .execute(params![c.session.as_str(), c.code.as_str(), c.name, c.price.0, c.quota])
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                    StoreError::Conflict(format!("category {} of session {} already exists", c.code, c.session))
                }
                e => sql_err(e),
            })?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("session {} of category {}", c.session, c.code)));
        }
    }
    Ok(())
}

pub(crate) fn catalogue_stats(conn: &Connection) -> Result<CatalogueStats> {
    conn.prepare_cached(
        "SELECT (SELECT COUNT(*) FROM venues), (SELECT COUNT(*) FROM sessions), COUNT(*), \
         COALESCE(SUM(quota), 0), COALESCE(SUM(sold), 0), COALESCE(SUM(held), 0) FROM categories",
    )
    .sql()?
    .query_row([], |r| {
        Ok(CatalogueStats {
            venues: r.get(0)?,
            sessions: r.get(1)?,
            categories: r.get(2)?,
            seats: r.get(3)?,
            sold: r.get(4)?,
            held: r.get(5)?,
        })
    })
    .sql()
}

pub(crate) fn outbox_row(r: &Row) -> rusqlite::Result<OutboxMail> {
    Ok(OutboxMail {
        id: r.get(0)?,
        to: r.get(1)?,
        subject: r.get(2)?,
        body: r.get(3)?,
        created_at: Timestamp(r.get(4)?),
        sent_at: r.get::<_, Option<i64>>(5)?.map(Timestamp),
        attempts: r.get(6)?,
        last_error: r.get(7)?,
    })
}
pub(crate) const OUTBOX_COLS: &str = "id, to_addr, subject, body, created_at, sent_at, attempts, last_error";

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn ping(&self) -> Result<()> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())).sql()).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn ping_write(&self, now: Timestamp) -> Result<()> {
        self.probe_write(move |c| {
            c.prepare_cached(
                "INSERT INTO readiness (id, checked_at, pad) VALUES (1, ?1, zeroblob(?2)) \
                 ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at, pad = excluded.pad",
            )
            .sql()?
            .execute([now.0, tessera_store::READINESS_PROBE_BYTES])
            .sql()
            .map(drop)
        })
        .await
    }
}
