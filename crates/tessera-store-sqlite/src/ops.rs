//! The `Store` operations in SQL.

use crate::{gates, payments, sql_err, SqliteStore};
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};
use tessera_domain::caps::{self, Caps, Holdings};
use tessera_domain::catalogue::Catalogue;
use tessera_domain::lottery;
use tessera_domain::*;
use tessera_store::*;

pub(crate) trait Sql<T> {
    fn sql(self) -> Result<T>;
}
impl<T> Sql<T> for rusqlite::Result<T> {
    fn sql(self) -> Result<T> {
        self.map_err(sql_err)
    }
}

const ACCOUNT_COLS: &str = "id, email, password_hash, display_name, role, email_verified, created_at, credential_epoch";

fn account_row(r: &Row) -> rusqlite::Result<Account> {
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

pub(crate) fn conv_err(col: usize, msg: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, msg.into())
}

const PHASE_COLS: &str = "p.id, p.code, p.name, p.status, p.per_account, p.per_session, p.per_ceremony, \
    p.min_sessions, p.cart_ttl_secs, p.slot_secs, p.wave_size, p.wave_interval_secs, p.announce_ahead_secs, \
    p.winners, p.seed_hex, p.seed_sha256, p.entries_sha256, p.registration_opened_at, \
    p.registration_closed_at, p.drawn_at, p.entry_count";

fn phase_row(r: &Row) -> rusqlite::Result<Phase> {
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

fn phase_by_id(conn: &Connection, id: PhaseId) -> Result<Option<Phase>> {
    conn.prepare_cached(&format!("SELECT {PHASE_COLS} FROM phases p WHERE p.id = ?1"))
        .sql()?
        .query_row([id.0], phase_row)
        .optional()
        .sql()
}

const SUMMARY_COLS: &str =
    "s.id, s.code, s.sport, s.title, v.code, v.name, v.city, s.starts_at, s.ends_at, s.ceremony, \
    (SELECT COALESCE(SUM(c.quota), 0) FROM categories c WHERE c.session_id = s.id), \
    (SELECT COALESCE(SUM(c.quota - c.held - c.sold), 0) FROM categories c WHERE c.session_id = s.id), \
    (SELECT COALESCE(MIN(c.price_cents), 0) FROM categories c WHERE c.session_id = s.id)";

fn summary_row(r: &Row) -> rusqlite::Result<SessionSummary> {
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

fn cart_view(conn: &Connection, cart: CartId) -> Result<Cart> {
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

fn order_view(conn: &Connection, order: OrderId) -> Result<Order> {
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
fn release_cart(conn: &Connection, cart: i64) -> Result<()> {
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

fn release_expired(conn: &Connection, now: Timestamp, category: Option<i64>) -> Result<u64> {
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
fn check_slot(conn: &Connection, phase: PhaseId, account: AccountId, now: Timestamp) -> Result<()> {
    let slot: Option<(i64, i64)> = conn
        .prepare_cached("SELECT starts_at, ends_at FROM slots WHERE phase_id = ?1 AND account_id = ?2")
        .sql()?
        .query_row(params![phase.0, account.0], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .sql()?;
    slot_verdict(slot.map(|(s, e)| (Timestamp(s), Timestamp(e))), now)
}

fn reserve(conn: &Connection, req: &ReserveRequest) -> Result<Cart> {
    let cart = reserve_seats(conn, req)?;
    cart_view(conn, CartId(cart))
}

/// Holds the seats; returns the cart's id.
fn reserve_seats(conn: &Connection, req: &ReserveRequest) -> Result<i64> {
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

fn remembered(conn: &Connection, account: AccountId, key: &str) -> Result<Option<(String, String, Remembered)>> {
    type Row = (String, String, Option<i64>, Option<i64>, Option<String>, Option<String>);
    let row: Option<Row> = conn
        .prepare_cached(
            "SELECT request_hash, state, order_id, error_status, error_code, error_message \
             FROM idempotency WHERE account_id = ?1 AND key = ?2",
        )
        .sql()?
        .query_row(params![account.0, key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .optional()
        .sql()?;
    let Some((hash, state, order, status, code, message)) = row else {
        return Ok(None);
    };
    let outcome = match (state.as_str(), order) {
        ("paid", Some(order)) => Remembered::Paid(order_view(conn, OrderId(order))?),
        _ => Remembered::Failed {
            status: status.unwrap_or(402) as u16,
            code: code.unwrap_or_default(),
            message: message.unwrap_or_default(),
        },
    };
    Ok(Some((hash, state, outcome)))
}

/// How a key seen before answers, if it was seen before.
fn known_key(conn: &Connection, account: AccountId, key: &str, request_hash: &str) -> Result<Option<BeginOutcome>> {
    Ok(remembered(conn, account, key)?.map(|(hash, state, outcome)| {
        if hash != request_hash {
            BeginOutcome::KeyReused
        } else if state == "pending" {
            BeginOutcome::InProgress
        } else {
            BeginOutcome::Replay(outcome)
        }
    }))
}

fn sell_now(conn: &Connection, req: &SellNow) -> Result<SellOutcome> {
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

fn begin_checkout(conn: &Connection, req: &BeginCheckout) -> Result<BeginOutcome> {
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
fn reopen_cart(conn: &Connection, account: AccountId, cart: CartId) -> Result<()> {
    conn.prepare_cached(
        "UPDATE carts SET status = 'open', expires_at = hold_until WHERE id = ?1 AND account_id = ?2 AND status = 'paying'",
    )
    .sql()?
    .execute(params![cart.0, account.0])
    .sql()?;
    Ok(())
}

fn complete_checkout(conn: &Connection, req: &CompleteCheckout) -> Result<Order> {
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

fn import_catalogue(conn: &Connection, cat: &Catalogue) -> Result<()> {
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

fn catalogue_stats(conn: &Connection) -> Result<CatalogueStats> {
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

fn outbox_row(r: &Row) -> rusqlite::Result<OutboxMail> {
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
const OUTBOX_COLS: &str = "id, to_addr, subject, body, created_at, sent_at, attempts, last_error";

pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
        || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<()> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())).sql()).await
    }

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

    async fn import_catalogue(&self, cat: &Catalogue) -> Result<CatalogueStats> {
        let cat = cat.clone();
        self.write(move |c| {
            import_catalogue(c, &cat)?;
            catalogue_stats(c)
        })
        .await
    }

    async fn catalogue_stats(&self) -> Result<CatalogueStats> {
        self.read(catalogue_stats).await
    }

    async fn list_sessions(&self, f: &SessionFilter) -> Result<Vec<SessionSummary>> {
        let f = f.clone();
        self.read_blocking(move |c| {
            let sql = format!(
                "SELECT {SUMMARY_COLS} FROM sessions s JOIN venues v ON v.id = s.venue_id \
                 WHERE (?1 IS NULL OR s.sport = ?1) AND (?2 IS NULL OR v.code = ?2) \
                 AND (?3 = 0 OR EXISTS (SELECT 1 FROM categories c WHERE c.session_id = s.id AND c.quota > c.held + c.sold)) \
                 ORDER BY s.starts_at, s.code LIMIT ?4 OFFSET ?5"
            );
            c.prepare_cached(&sql)
                .sql()?
                .query_map(params![f.sport, f.venue, f.available_only, f.limit.clamp(1, 1000), f.offset.max(0)], summary_row)
                .sql()?
                .collect::<rusqlite::Result<Vec<_>>>()
                .sql()
        })
        .await
    }

    async fn session(&self, code: &str) -> Result<Option<SessionDetail>> {
        let code = code.to_string();
        self.read(move |c| {
            let row = c
                .prepare_cached(&format!(
                    "SELECT {SUMMARY_COLS}, v.zones FROM sessions s JOIN venues v ON v.id = s.venue_id WHERE s.code = ?1"
                ))
                .sql()?
                .query_row([&code], |r| Ok((summary_row(r)?, r.get::<_, String>(13)?)))
                .optional()
                .sql()?;
            let Some((summary, zones)) = row else { return Ok(None) };
            let categories = c
                .prepare_cached(
                    "SELECT id, code, name, price_cents, quota, sold, held FROM categories WHERE session_id = ?1 ORDER BY price_cents DESC, code",
                )
                .sql()?
                .query_map([summary.id.0], |r| {
                    let (quota, sold, held): (i64, i64, i64) = (r.get(4)?, r.get(5)?, r.get(6)?);
                    Ok(CategoryAvailability {
                        id: CategoryId(r.get(0)?),
                        code: r.get(1)?,
                        name: r.get(2)?,
                        price: Cents(r.get(3)?),
                        quota,
                        sold,
                        held,
                        available: quota - sold - held,
                    })
                })
                .sql()?
                .collect::<rusqlite::Result<Vec<_>>>()
                .sql()?;
            Ok(Some(SessionDetail { summary, zones: tessera_store::zones_from_column(&zones), categories }))
        })
        .await
    }

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

    async fn delete_auth_session(&self, id: &str) -> Result<()> {
        let id = id.to_string();
        self.write(move |c| c.execute("DELETE FROM auth_sessions WHERE id = ?1", [&id]).sql().map(drop)).await
    }

    async fn enqueue_mail(&self, to: &str, subject: &str, body: &str, now: Timestamp) -> Result<i64> {
        let (to, subject, body) = (to.to_string(), subject.to_string(), body.to_string());
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO outbox (to_addr, subject, body, created_at, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?4)",
            )
            .sql()?
            .execute(params![to, subject, body, now.0])
            .sql()?;
            Ok(c.last_insert_rowid())
        })
        .await
    }

    async fn due_mail(&self, now: Timestamp, limit: i64) -> Result<Vec<OutboxMail>> {
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {OUTBOX_COLS} FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= ?1 ORDER BY id LIMIT ?2"
            ))
            .sql()?
            .query_map(params![now.0, limit], outbox_row)
            .sql()?
            .collect::<rusqlite::Result<Vec<_>>>()
            .sql()
        })
        .await
    }

    async fn mark_mail_sent(&self, id: i64, now: Timestamp) -> Result<()> {
        self.write(move |c| {
            c.execute(
                "UPDATE outbox SET sent_at = ?2, attempts = attempts + 1, next_attempt_at = NULL WHERE id = ?1",
                params![id, now.0],
            )
            .sql()
            .map(drop)
        })
        .await
    }

    async fn mark_mail_failed(&self, id: i64, error: &str, retry_at: Option<Timestamp>) -> Result<()> {
        let error = error.to_string();
        self.write(move |c| {
            c.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3 WHERE id = ?1",
                params![id, error, retry_at.map(|t| t.0)],
            )
            .sql()
            .map(drop)
        })
        .await
    }

    async fn recent_mail(&self, to: Option<&str>, limit: i64) -> Result<Vec<OutboxMail>> {
        let to = to.map(str::to_string);
        self.read_blocking(move |c| {
            c.prepare_cached(&format!(
                "SELECT {OUTBOX_COLS} FROM outbox WHERE (?1 IS NULL OR to_addr = ?1) ORDER BY id DESC LIMIT ?2"
            ))
            .sql()?
            .query_map(params![to, limit], outbox_row)
            .sql()?
            .collect::<rusqlite::Result<Vec<_>>>()
            .sql()
        })
        .await
    }

    async fn create_phase(&self, code: &str, name: &str, s: &PhaseSettings) -> Result<Phase> {
        let (code, name, s) = (code.to_string(), name.to_string(), s.clone());
        self.write(move |c| {
            c.execute(
                "INSERT INTO phases (code, name, status, per_account, per_session, per_ceremony, min_sessions, \
                 cart_ttl_secs, slot_secs, wave_size, wave_interval_secs, announce_ahead_secs, winners) \
                 VALUES (?1, ?2, 'draft', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    code,
                    name,
                    s.caps.per_account,
                    s.caps.per_session,
                    s.caps.per_ceremony,
                    s.caps.min_sessions_per_order,
                    s.cart_ttl_secs,
                    s.slot_secs,
                    s.wave_size,
                    s.wave_interval_secs,
                    s.announce_ahead_secs,
                    s.winners
                ],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict(format!("phase {code} already exists"))
                } else {
                    sql_err(e)
                }
            })?;
            phase_by_id(c, PhaseId(c.last_insert_rowid()))?.ok_or_else(|| StoreError::NotFound("phase".into()))
        })
        .await
    }

    async fn phase(&self, code: &str) -> Result<Option<Phase>> {
        let code = code.to_string();
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {PHASE_COLS} FROM phases p WHERE p.code = ?1"))
                .sql()?
                .query_row([&code], phase_row)
                .optional()
                .sql()
        })
        .await
    }

    async fn phase_by_id(&self, id: PhaseId) -> Result<Option<Phase>> {
        self.read(move |c| phase_by_id(c, id)).await
    }

    async fn list_phases(&self) -> Result<Vec<Phase>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {PHASE_COLS} FROM phases p ORDER BY p.id"))
                .sql()?
                .query_map([], phase_row)
                .sql()?
                .collect::<rusqlite::Result<Vec<_>>>()
                .sql()
        })
        .await
    }

    async fn open_registration(&self, id: PhaseId, seed_hex: &str, seed_sha256: &str, now: Timestamp) -> Result<Phase> {
        let (seed_hex, seed_sha256) = (seed_hex.to_string(), seed_sha256.to_string());
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE phases SET status = 'registration', seed_hex = ?2, seed_sha256 = ?3, registration_opened_at = ?4 \
                     WHERE id = ?1 AND status = 'draft'",
                    params![id.0, seed_hex, seed_sha256, now.0],
                )
                .sql()?;
            if n == 0 {
                return Err(StoreError::State("only a draft phase can open its registration".into()));
            }
            phase_by_id(c, id)?.ok_or_else(|| StoreError::NotFound("phase".into()))
        })
        .await
    }

    async fn close_registration(&self, id: PhaseId, now: Timestamp) -> Result<Vec<String>> {
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE phases SET status = 'closed', registration_closed_at = ?2 \
                     WHERE id = ?1 AND status = 'registration'",
                    params![id.0, now.0],
                )
                .sql()?;
            if n == 0 {
                return Err(StoreError::State("only a phase open for registration can close".into()));
            }
            let codes = c
                .prepare_cached("SELECT entry_code FROM entries WHERE phase_id = ?1 ORDER BY entry_code")
                .sql()?
                .query_map([id.0], |r| r.get(0))
                .sql()?
                .collect::<rusqlite::Result<Vec<String>>>()
                .sql()?;
            let digest = lottery::sha256_hex(lottery::entries_file(&codes).as_bytes());
            c.execute("UPDATE phases SET entries_sha256 = ?2 WHERE id = ?1", params![id.0, digest]).sql()?;
            Ok(codes)
        })
        .await
    }

    async fn enter_lottery(&self, phase: PhaseId, account: AccountId, code: &str, now: Timestamp) -> Result<Entry> {
        let code = code.to_string();
        self.write(move |c| {
            let status: Option<String> =
                c.query_row("SELECT status FROM phases WHERE id = ?1", [phase.0], |r| r.get(0)).optional().sql()?;
            match status.as_deref() {
                None => return Err(StoreError::NotFound("phase".into())),
                Some("registration") => {}
                Some(_) => return Err(StoreError::State("this phase is not open for lottery entries".into())),
            }
            c.prepare_cached(
                "INSERT INTO entries (phase_id, account_id, entry_code, created_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (phase_id, account_id) DO NOTHING",
            )
            .sql()?
            .execute(params![phase.0, account.0, code, now.0])
            .sql()?;
            if c.changes() == 1 {
                c.prepare_cached("UPDATE phases SET entry_count = entry_count + 1 WHERE id = ?1")
                    .sql()?
                    .execute([phase.0])
                    .sql()?;
            }
            c.prepare_cached("SELECT entry_code, created_at FROM entries WHERE phase_id = ?1 AND account_id = ?2")
                .sql()?
                .query_row(params![phase.0, account.0], |r| {
                    Ok(Entry {
                        phase_id: phase,
                        account_id: account,
                        entry_code: r.get(0)?,
                        created_at: Timestamp(r.get(1)?),
                    })
                })
                .sql()
        })
        .await
    }

    async fn entry(&self, phase: PhaseId, account: AccountId) -> Result<Option<Entry>> {
        self.read(move |c| {
            c.prepare_cached("SELECT entry_code, created_at FROM entries WHERE phase_id = ?1 AND account_id = ?2")
                .sql()?
                .query_row(params![phase.0, account.0], |r| {
                    Ok(Entry {
                        phase_id: phase,
                        account_id: account,
                        entry_code: r.get(0)?,
                        created_at: Timestamp(r.get(1)?),
                    })
                })
                .optional()
                .sql()
        })
        .await
    }

    async fn entries(&self, phase: PhaseId) -> Result<Vec<(String, AccountId)>> {
        self.read_blocking(move |c| {
            c.prepare_cached("SELECT entry_code, account_id FROM entries WHERE phase_id = ?1 ORDER BY entry_code")
                .sql()?
                .query_map([phase.0], |r| Ok((r.get(0)?, AccountId(r.get(1)?))))
                .sql()?
                .collect::<rusqlite::Result<Vec<_>>>()
                .sql()
        })
        .await
    }

    async fn record_draw(&self, draw: &DrawRecord) -> Result<()> {
        let draw = draw.clone();
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE phases SET status = 'drawn', drawn_at = ?2 WHERE id = ?1 AND status = 'closed' AND seed_hex = ?3",
                    params![draw.phase_id.0, draw.drawn_at.0, draw.seed_hex],
                )
                .sql()?;
            if n == 0 {
                return Err(StoreError::State("only a closed phase can be drawn, with its own seed".into()));
            }
            let mut ins = c
                .prepare_cached(
                    "INSERT INTO slots (phase_id, account_id, rank, wave, starts_at, ends_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .sql()?;
            for (account, s) in &draw.slots {
                ins.execute(params![draw.phase_id.0, account.0, s.rank as i64, s.wave as i64, s.starts_at.0, s.ends_at.0])
                    .sql()?;
            }
            Ok(())
        })
        .await
    }

    async fn slot(&self, phase: PhaseId, account: AccountId) -> Result<Option<Slot>> {
        self.read(move |c| {
            c.prepare_cached("SELECT rank, wave, starts_at, ends_at FROM slots WHERE phase_id = ?1 AND account_id = ?2")
                .sql()?
                .query_row(params![phase.0, account.0], |r| {
                    Ok(Slot {
                        phase_id: phase,
                        account_id: account,
                        rank: r.get(0)?,
                        wave: r.get(1)?,
                        starts_at: Timestamp(r.get(2)?),
                        ends_at: Timestamp(r.get(3)?),
                    })
                })
                .optional()
                .sql()
        })
        .await
    }

    async fn reserve(&self, req: &ReserveRequest) -> Result<Cart> {
        let req = req.clone();
        self.write(move |c| reserve(c, &req)).await
    }

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

    async fn release_expired(&self, now: Timestamp) -> Result<u64> {
        self.write(move |c| release_expired(c, now, None)).await
    }

    async fn begin_checkout(&self, req: &BeginCheckout) -> Result<BeginOutcome> {
        let req = req.clone();
        self.write(move |c| begin_checkout(c, &req)).await
    }

    async fn known_key(&self, account: AccountId, key: &str, request_hash: &str) -> Result<Option<BeginOutcome>> {
        let (key, hash) = (key.to_string(), request_hash.to_string());
        self.read(move |c| known_key(c, account, &key, &hash)).await
    }

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

    async fn sell_now(&self, req: &SellNow) -> Result<SellOutcome> {
        let req = req.clone();
        self.write(move |c| sell_now(c, &req)).await
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
        let (key, hash, code, message) =
            (key.to_string(), request_hash.to_string(), code.to_string(), message.to_string());
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO idempotency (account_id, key, request_hash, cart_id, state, error_status, error_code, \
                 error_message, created_at) VALUES (?1, ?2, ?3, NULL, 'failed', ?4, ?5, ?6, ?7) \
                 ON CONFLICT (account_id, key) DO NOTHING",
            )
            .sql()?
            .execute(params![account.0, key, hash, status, code, message, now.0])
            .sql()
            .map(drop)
        })
        .await
    }

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

    async fn fail_checkout(&self, account: AccountId, key: &str, cart: CartId, refusal: &Refusal) -> Result<()> {
        let (key, Refusal { status, code, message }) = (key.to_string(), refusal.clone());
        self.write(move |c| {
            c.execute(
                "UPDATE idempotency SET state = 'failed', error_status = ?3, error_code = ?4, error_message = ?5 \
                 WHERE account_id = ?1 AND key = ?2 AND state = 'pending'",
                params![account.0, key, status, code, message],
            )
            .sql()?;
            reopen_cart(c, account, cart)
        })
        .await
    }

    async fn complete_checkout(&self, req: &CompleteCheckout) -> Result<Order> {
        let req = req.clone();
        self.write(move |c| complete_checkout(c, &req)).await
    }

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

    async fn put_waiting_room(
        &self,
        phase_code: &str,
        settings_json: &str,
        seed_hex: &str,
        now: Timestamp,
    ) -> Result<WaitingRoomRecord> {
        let (code, settings, seed) = (phase_code.to_string(), settings_json.to_string(), seed_hex.to_string());
        self.write(move |c| {
            let phase: i64 = c
                .query_row("SELECT id FROM phases WHERE code = ?1", [&code], |r| r.get(0))
                .optional()
                .sql()?
                .ok_or_else(|| StoreError::NotFound("phase".into()))?;
            let seed_hex: String = c
                .query_row(
                    "INSERT INTO waiting_rooms (phase_id, settings, seed_hex, updated_at) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (phase_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at \
                     RETURNING seed_hex",
                    params![phase, settings, seed, now.0],
                    |r| r.get(0),
                )
                .sql()?;
            Ok(WaitingRoomRecord { phase_code: code, settings_json: settings, seed_hex, updated_at: now })
        })
        .await
    }

    async fn delete_waiting_room(&self, phase_code: &str) -> Result<bool> {
        let code = phase_code.to_string();
        self.write(move |c| {
            let n = c
                .execute("DELETE FROM waiting_rooms WHERE phase_id = (SELECT id FROM phases WHERE code = ?1)", [code])
                .sql()?;
            Ok(n > 0)
        })
        .await
    }

    async fn waiting_rooms(&self) -> Result<Vec<WaitingRoomRecord>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT p.code, w.settings, w.seed_hex, w.updated_at FROM waiting_rooms w \
                 JOIN phases p ON p.id = w.phase_id ORDER BY p.code",
            )
            .sql()?
            .query_map([], |r| {
                Ok(WaitingRoomRecord {
                    phase_code: r.get(0)?,
                    settings_json: r.get(1)?,
                    seed_hex: r.get(2)?,
                    updated_at: Timestamp(r.get(3)?),
                })
            })
            .sql()?
            .collect::<rusqlite::Result<Vec<_>>>()
            .sql()
        })
        .await
    }

    async fn put_edge_decision(&self, scope: &str, decision_json: &str, expires: Timestamp) -> Result<()> {
        let (scope, decision) = (scope.to_string(), decision_json.to_string());
        self.write(move |c| {
            c.execute(
                "INSERT INTO edge_decisions (scope, decision, expires_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (scope) DO UPDATE SET decision = excluded.decision, expires_at = excluded.expires_at",
                params![scope, decision, expires.0],
            )
            .sql()?;
            Ok(())
        })
        .await
    }

    async fn delete_edge_decision(&self, scope: &str) -> Result<bool> {
        let scope = scope.to_string();
        self.write(move |c| Ok(c.execute("DELETE FROM edge_decisions WHERE scope = ?1", [scope]).sql()? > 0)).await
    }

    async fn edge_decisions(&self, now: Timestamp) -> Result<Vec<String>> {
        self.read(move |c| {
            c.prepare_cached("SELECT decision FROM edge_decisions WHERE expires_at > ?1 ORDER BY scope")
                .sql()?
                .query_map([now.0], |r| r.get(0))
                .sql()?
                .collect::<rusqlite::Result<Vec<String>>>()
                .sql()
        })
        .await
    }

    async fn holdings(&self, account: AccountId) -> Result<Vec<Holding>> {
        self.read(move |c| gates::holdings_of(c, account)).await
    }

    async fn holding(&self, ticket_code: &str) -> Result<Option<Holding>> {
        let code = ticket_code.to_string();
        self.read(move |c| gates::holding(c, &code)).await
    }

    async fn issue_credential(&self, req: &IssueCredential) -> Result<CredentialRecord> {
        let req = req.clone();
        self.write(move |c| gates::issue_credential(c, &req)).await
    }

    async fn create_transfer(
        &self,
        ticket_code: &str,
        from: AccountId,
        to: &Email,
        now: Timestamp,
    ) -> Result<Transfer> {
        let (code, to) = (ticket_code.to_string(), to.clone());
        self.write(move |c| gates::create_transfer(c, &code, from, &to, now)).await
    }

    async fn cancel_transfer(&self, id: i64, from: AccountId, now: Timestamp) -> Result<Transfer> {
        self.write(move |c| gates::cancel_transfer(c, id, from, now)).await
    }

    async fn accept_transfer(&self, id: i64, to: AccountId, now: Timestamp) -> Result<Transfer> {
        self.write(move |c| gates::accept_transfer(c, id, to, now)).await
    }

    async fn transfers(&self, account: AccountId) -> Result<Vec<Transfer>> {
        self.read(move |c| gates::transfers(c, account)).await
    }

    async fn list_for_resale(
        &self,
        ticket_code: &str,
        seller: AccountId,
        buyer_fee: Cents,
        seller_fee: Cents,
        now: Timestamp,
    ) -> Result<Listing> {
        let code = ticket_code.to_string();
        self.write(move |c| gates::list_for_resale(c, &code, seller, (buyer_fee, seller_fee), now)).await
    }

    async fn cancel_listing(&self, id: i64, seller: AccountId, now: Timestamp) -> Result<Listing> {
        self.write(move |c| gates::cancel_listing(c, id, seller, now)).await
    }

    async fn listing(&self, id: i64) -> Result<Option<Listing>> {
        self.read(move |c| gates::listing(c, id)).await
    }

    async fn open_listings(&self, session_code: Option<&str>, limit: i64) -> Result<Vec<Listing>> {
        let session = session_code.map(str::to_string);
        self.read_blocking(move |c| gates::open_listings(c, session.as_deref(), limit)).await
    }

    async fn buy_resale(&self, req: &BuyResale) -> Result<Listing> {
        let req = req.clone();
        self.write(move |c| gates::buy_resale(c, &req)).await
    }

    async fn record_scans(
        &self,
        venue_code: &str,
        entrance: &str,
        scans: &[ScanRecord],
        now_ms: i64,
    ) -> Result<SyncOutcome> {
        let (venue, entrance, scans) = (venue_code.to_string(), entrance.to_string(), scans.to_vec());
        self.write(move |c| gates::record_scans(c, &venue, &entrance, &scans, now_ms)).await
    }

    async fn annul_entry(&self, ticket_id: i64, reason: &str, now_ms: i64) -> Result<FeedEvent> {
        let reason = reason.to_string();
        self.write(move |c| gates::annul_entry(c, ticket_id, &reason, now_ms)).await
    }

    async fn gate_feed(&self, venue_code: &str, after_seq: i64, limit: i64) -> Result<Vec<FeedEvent>> {
        let venue = venue_code.to_string();
        self.read_blocking(move |c| gates::gate_feed(c, &venue, after_seq, limit)).await
    }

    async fn venue_gate_data(&self, venue_code: &str, from: Timestamp, until: Timestamp) -> Result<VenueGateData> {
        let venue = venue_code.to_string();
        self.read_blocking(move |c| gates::venue_gate_data(c, &venue, from, until)).await
    }

    async fn gates(&self) -> Result<Vec<GateRecord>> {
        self.read_blocking(gates::gates).await
    }

    async fn gate_figures(&self, since_ms: i64) -> Result<GateFigures> {
        self.read_blocking(move |c| gates::gate_figures(c, since_ms)).await
    }

    async fn security_events(&self, limit: i64) -> Result<Vec<SecurityEvent>> {
        self.read_blocking(move |c| gates::security_events(c, limit)).await
    }
}
