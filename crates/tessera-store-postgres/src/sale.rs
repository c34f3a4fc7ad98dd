//! The sale's SQL: holding seats in carts, the caps and slots, and the two ways to pay (buy now,
//! cart checkout), each in one transaction with its idempotency key.

use crate::payments;
use crate::{rows::*, sql::*};
use deadpool_postgres::GenericClient;
use tessera_domain::caps::{self, Caps, Holdings};
use tessera_domain::*;
use tessera_store::*;

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
    Ok(Some(match key_verdict(request_hash, &m.hash, &m.state, m.order, m.code, m.message)? {
        KeyVerdict::Reused => BeginOutcome::KeyReused,
        KeyVerdict::InProgress => BeginOutcome::InProgress,
        KeyVerdict::Paid(order) => BeginOutcome::Replay(Remembered::Paid(order_view(c, order.0).await?)),
        KeyVerdict::Failed(r) => BeginOutcome::Replay(Remembered::Failed(r)),
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

/// A sale written but for its seats (`Written`), or answered without writing (a key seen
/// before).
pub(crate) enum Prepared {
    Answered(SellOutcome),
    Written { order_id: i64 },
}

/// One sale, alone in its transaction: written, then its seats claimed, then read back.
pub(crate) async fn sell_now<C: GenericClient>(c: &C, req: &SellNow) -> Result<SellOutcome> {
    let order_id = match sell_prepared(c, req).await? {
        Prepared::Answered(outcome) => return Ok(outcome),
        Prepared::Written { order_id } => order_id,
    };
    let order = order_view(c, order_id).await?;
    // Last: the category rows are the most contended, so they are locked for the shortest time.
    let mut items = req.items.clone();
    items.sort_unstable_by_key(|(category, _)| category.0);
    for (category, qty) in &items {
        claim_seats(c, Claim::Sell, category.0, *qty, req.now).await?;
    }
    Ok(SellOutcome::Sold(order))
}

/// Claims exactly `qty` seats of a category for sale, or refuses with what is left; unlike
/// [`claim_seats`] it frees no expired cart first (the caller falls back to the path that does).
pub(crate) async fn claim_seats_exact<C: GenericClient>(c: &C, category: i64, qty: i64) -> Result<()> {
    let sql = "UPDATE categories SET sold = sold + $2 WHERE id = $1 AND quota - held - sold >= $2";
    if exec(c, sql, &[&category, &qty]).await? == 1 {
        return Ok(());
    }
    let r = row(c, "SELECT quota - held - sold FROM categories WHERE id = $1", &[&category]).await?;
    Err(StoreError::SoldOut { available: get(&r, 0)? })
}

/// Everything a sale checks and writes except its seats: the account's lock, the key, the
/// slot, the caps, the prices, then the order, its tickets, the key and the payment.
pub(crate) async fn sell_prepared<C: GenericClient>(c: &C, req: &SellNow) -> Result<Prepared> {
    lock_account(c, req.account).await?;
    // Independent reads go out together (one connection pipelines them); their verdicts are
    // then taken in the order a sale alone takes them: a key seen before answers first.
    let mut ids: Vec<i64> = req.items.iter().map(|(category, _)| category.0).collect();
    ids.sort_unstable();
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&ids];
    let (known, slot, found) = tokio::join!(
        known_key(c, req.account, &req.idempotency_key, &req.request_hash),
        check_slot(c, req.phase, req.account, req.now),
        rows(
            c,
            "SELECT c.id, c.session_id, s.ceremony, c.price_cents FROM categories c \
             JOIN sessions s ON s.id = c.session_id WHERE c.id = ANY($1)",
            &params,
        ),
    );
    match known? {
        Some(BeginOutcome::Replay(r)) => return Ok(Prepared::Answered(SellOutcome::Replay(r))),
        Some(BeginOutcome::KeyReused) => return Ok(Prepared::Answered(SellOutcome::KeyReused)),
        Some(_) => return Ok(Prepared::Answered(SellOutcome::InProgress)),
        None => {}
    }
    slot?;
    let mut info = std::collections::HashMap::new();
    for r in found? {
        info.insert(get::<i64>(&r, 0)?, (get::<i64>(&r, 1)?, get::<bool>(&r, 2)?, get::<i64>(&r, 3)?));
    }
    // Category id order, like every other writer that locks several categories.
    let mut items = req.items.clone();
    items.sort_unstable_by_key(|(category, _)| category.0);
    let (mut added_total, mut per_session, mut total) = (0i64, Vec::<(i64, i64)>::new(), 0i64);
    let (mut cats, mut sessions, mut prices) = (Vec::new(), Vec::new(), Vec::new());
    for (category, qty) in &items {
        let &(session, ceremony, price) =
            info.get(&category.0).ok_or_else(|| StoreError::NotFound(format!("price category {category}")))?;
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
    // Every check is behind: from here on only writes, which refuse nothing on their merits.
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
    let key_params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
        [&req.account.0, &req.idempotency_key, &req.request_hash, &order_id, &req.now.0];
    let (tickets, key, payment) = tokio::join!(
        insert_tickets(c, &codes, order_id, req.account, &cats, &sessions, &prices),
        exec(
            c,
            "INSERT INTO idempotency (account_id, key, request_hash, cart_id, state, order_id, created_at) \
             VALUES ($1, $2, $3, NULL, 'paid', $4, $5)",
            &key_params,
        ),
        payments::insert_sale_payment(
            c,
            &req.payment_ref,
            req.account,
            PaymentKind::Order,
            Cents(total),
            order_id,
            req.now,
        ),
    );
    tickets?;
    key?;
    payment?;
    Ok(Prepared::Written { order_id })
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
