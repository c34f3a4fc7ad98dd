//! Phone tickets and gates in SQL: credentials, transfers, resale, scans and the venue feed.
//! Each function runs inside the caller's savepoint (writes) or on a read connection.

use crate::ops::holdings;
use crate::sql::{conv_err, is_unique_violation, Sql};
use crate::sql_err;
use rusqlite::{params, Connection, OptionalExtension, Params, Row};
use std::collections::BTreeMap;
use tessera_domain::caps::{self, Caps};
use tessera_domain::*;
use tessera_store::*;

fn one<T, P: Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    f: impl FnOnce(&Row) -> rusqlite::Result<T>,
) -> Result<Option<T>> {
    conn.prepare_cached(sql).sql()?.query_row(params, f).optional().sql()
}

fn all<T, P: Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    f: impl FnMut(&Row) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    conn.prepare_cached(sql).sql()?.query_map(params, f).sql()?.collect::<rusqlite::Result<Vec<_>>>().sql()
}

fn exec<P: Params>(conn: &Connection, sql: &str, params: P) -> Result<usize> {
    conn.prepare_cached(sql).sql()?.execute(params).sql()
}

fn parsed<T>(col: usize, text: String, parse: impl FnOnce(&str) -> Option<T>) -> rusqlite::Result<T> {
    parse(&text).ok_or_else(|| conv_err(col, format!("unexpected value {text:?}")))
}

const HOLDING_SELECT: &str = "SELECT t.id, t.code, t.account_id, a.display_name, s.code, s.title, v.code, v.name, \
    v.zones, s.starts_at, s.ends_at, c.code, c.name, t.price_cents, \
    (SELECT COUNT(*) FROM tickets r WHERE r.category_id = t.category_id AND r.id < t.id) \
    FROM tickets t JOIN accounts a ON a.id = t.account_id JOIN sessions s ON s.id = t.session_id \
    JOIN venues v ON v.id = s.venue_id JOIN categories c ON c.id = t.category_id";

fn holding_row(r: &Row) -> rusqlite::Result<Holding> {
    let zones: String = r.get(8)?;
    Ok(Holding {
        ticket_id: TicketId(r.get(0)?),
        code: r.get(1)?,
        account_id: AccountId(r.get(2)?),
        holder_name: r.get(3)?,
        session_code: r.get(4)?,
        session_title: r.get(5)?,
        venue_code: r.get(6)?,
        venue_name: r.get(7)?,
        zones: tessera_store::zones_from_column(&zones),
        starts_at: Timestamp(r.get(9)?),
        ends_at: Timestamp(r.get(10)?),
        category_code: r.get(11)?,
        category_name: r.get(12)?,
        price: Cents(r.get(13)?),
        seat_rank: r.get(14)?,
        credential: None,
        pending_transfer: None,
        listing: None,
        entered_at_ms: None,
    })
}

/// Adds what hangs off the ticket: its credential, pending transfer and open listing.
fn with_state(conn: &Connection, mut h: Holding) -> Result<Holding> {
    let id = h.ticket_id.0;
    h.credential = active_credential(conn, id)?;
    h.pending_transfer =
        one(conn, &format!("{TRANSFER_SELECT} WHERE x.ticket_id = ?1 AND x.status = 'pending'"), [id], transfer_row)?;
    h.listing =
        one(conn, &format!("{LISTING_SELECT} WHERE l.ticket_id = ?1 AND l.status = 'open'"), [id], listing_row)?;
    h.entered_at_ms = one(
        conn,
        "SELECT g.at_ms FROM ticket_entries e JOIN gate_scans g ON g.id = e.scan_id WHERE e.ticket_id = ?1",
        [id],
        |r| r.get(0),
    )?;
    Ok(h)
}

pub(crate) fn holdings_of(conn: &Connection, account: AccountId) -> Result<Vec<Holding>> {
    let sql = format!("{HOLDING_SELECT} WHERE t.account_id = ?1 AND t.status = 'valid' ORDER BY s.starts_at, t.id");
    all(conn, &sql, [account.0], holding_row)?.into_iter().map(|h| with_state(conn, h)).collect()
}

pub(crate) fn holding(conn: &Connection, code: &str) -> Result<Option<Holding>> {
    let h = one(conn, &format!("{HOLDING_SELECT} WHERE t.code = ?1"), [code], holding_row)?;
    h.map(|h| with_state(conn, h)).transpose()
}

fn active_credential(conn: &Connection, ticket: i64) -> Result<Option<CredentialRecord>> {
    one(
        conn,
        "SELECT serial, device_key, key_id, pass, issued_at FROM ticket_credentials \
         WHERE ticket_id = ?1 AND revoked_at IS NULL",
        [ticket],
        |r| {
            Ok(CredentialRecord {
                serial: r.get(0)?,
                device_key: r.get(1)?,
                key_id: u32::try_from(r.get::<_, i64>(2)?).map_err(|e| conv_err(2, e.to_string()))?,
                pass: r.get(3)?,
                issued_at: Timestamp(r.get(4)?),
            })
        },
    )
}

const TRANSFER_SELECT: &str = "SELECT x.id, x.ticket_id, t.code, s.code, x.from_account, f.display_name, \
    x.to_account, o.email, x.status, x.created_at, x.closed_at FROM transfers x \
    JOIN tickets t ON t.id = x.ticket_id JOIN sessions s ON s.id = t.session_id \
    JOIN accounts f ON f.id = x.from_account JOIN accounts o ON o.id = x.to_account";

fn transfer_row(r: &Row) -> rusqlite::Result<Transfer> {
    Ok(Transfer {
        id: r.get(0)?,
        ticket_id: TicketId(r.get(1)?),
        ticket_code: r.get(2)?,
        session_code: r.get(3)?,
        from_account: AccountId(r.get(4)?),
        from_name: r.get(5)?,
        to_account: AccountId(r.get(6)?),
        to_email: r.get(7)?,
        status: parsed(8, r.get(8)?, TransferStatus::parse)?,
        created_at: Timestamp(r.get(9)?),
        closed_at: r.get::<_, Option<i64>>(10)?.map(Timestamp),
    })
}

fn transfer_by_id(conn: &Connection, id: i64) -> Result<Transfer> {
    one(conn, &format!("{TRANSFER_SELECT} WHERE x.id = ?1"), [id], transfer_row)?
        .ok_or_else(|| StoreError::NotFound(format!("transfer {id}")))
}

const LISTING_SELECT: &str = "SELECT l.id, l.ticket_id, t.code, s.code, s.title, c.name, s.starts_at, l.seller, \
    l.price_cents, l.buyer_fee_cents, l.seller_fee_cents, l.status, l.buyer, l.payment_ref, l.created_at, \
    l.closed_at FROM resale_listings l JOIN tickets t ON t.id = l.ticket_id \
    JOIN sessions s ON s.id = t.session_id JOIN categories c ON c.id = t.category_id";

fn listing_row(r: &Row) -> rusqlite::Result<Listing> {
    Ok(Listing {
        id: r.get(0)?,
        ticket_id: TicketId(r.get(1)?),
        ticket_code: r.get(2)?,
        session_code: r.get(3)?,
        session_title: r.get(4)?,
        category_name: r.get(5)?,
        starts_at: Timestamp(r.get(6)?),
        seller: AccountId(r.get(7)?),
        price: Cents(r.get(8)?),
        buyer_fee: Cents(r.get(9)?),
        seller_fee: Cents(r.get(10)?),
        status: parsed(11, r.get(11)?, ListingStatus::parse)?,
        buyer: r.get::<_, Option<i64>>(12)?.map(AccountId),
        payment_ref: r.get(13)?,
        created_at: Timestamp(r.get(14)?),
        closed_at: r.get::<_, Option<i64>>(15)?.map(Timestamp),
    })
}

pub(crate) fn listing(conn: &Connection, id: i64) -> Result<Option<Listing>> {
    one(conn, &format!("{LISTING_SELECT} WHERE l.id = ?1"), [id], listing_row)
}

fn listing_by_id(conn: &Connection, id: i64) -> Result<Listing> {
    listing(conn, id)?.ok_or_else(|| StoreError::NotFound(format!("listing {id}")))
}

/// The id of the ticket with this code if `account` holds it; `NotFound` otherwise, so that
/// nobody learns which codes exist.
fn held_ticket(conn: &Connection, code: &str, account: AccountId) -> Result<i64> {
    one(
        conn,
        "SELECT id FROM tickets WHERE code = ?1 AND account_id = ?2 AND status = 'valid'",
        params![code, account.0],
        |r| r.get(0),
    )?
    .ok_or_else(|| StoreError::NotFound(format!("ticket {code}")))
}

fn holder(conn: &Connection, ticket: i64) -> Result<Option<AccountId>> {
    one(conn, "SELECT account_id FROM tickets WHERE id = ?1 AND status = 'valid'", [ticket], |r| {
        r.get(0).map(AccountId)
    })
}

/// Refuses while the ticket is offered to someone: a ticket has one pending change at a time.
fn ensure_not_offered(conn: &Connection, ticket: i64) -> Result<()> {
    let (transfer, listed): (bool, bool) = one(
        conn,
        "SELECT EXISTS (SELECT 1 FROM transfers WHERE ticket_id = ?1 AND status = 'pending'), \
         EXISTS (SELECT 1 FROM resale_listings WHERE ticket_id = ?1 AND status = 'open')",
        [ticket],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?
    .unwrap_or_default();
    if transfer {
        return Err(StoreError::Conflict("the ticket is offered in a pending transfer; cancel it first".into()));
    }
    if listed {
        return Err(StoreError::Conflict("the ticket is listed for resale; cancel the listing first".into()));
    }
    Ok(())
}

fn ensure_unused(conn: &Connection, ticket: i64) -> Result<()> {
    let entered: bool =
        one(conn, "SELECT EXISTS (SELECT 1 FROM ticket_entries WHERE ticket_id = ?1)", [ticket], |r| r.get(0))?
            .unwrap_or_default();
    if entered {
        return Err(StoreError::Conflict(
            "this ticket has already been used to enter the venue: it can no longer be transferred or resold".into(),
        ));
    }
    Ok(())
}

fn ticket_venue(conn: &Connection, ticket: i64) -> Result<Option<String>> {
    one(
        conn,
        "SELECT v.code FROM tickets t JOIN sessions s ON s.id = t.session_id JOIN venues v ON v.id = s.venue_id \
         WHERE t.id = ?1",
        [ticket],
        |r| r.get(0),
    )
}

/// Appends to a venue's feed; returns the event with its sequence number.
fn push_feed(conn: &Connection, venue: &str, event: FeedEvent, reason: Option<&str>) -> Result<FeedEvent> {
    exec(
        conn,
        "INSERT INTO gate_feed (venue_code, kind, ticket_id, serial, gate_id, at_ms, reason) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![venue, event.kind.as_str(), event.ticket_id, event.serial, event.gate_id, event.at_ms, reason],
    )?;
    Ok(FeedEvent { seq: conn.last_insert_rowid(), ..event })
}

/// Withdraws the ticket's credential in force, if any, and tells the venue's gates.
fn revoke(conn: &Connection, ticket: i64, reason: RevokeReason, now: Timestamp) -> Result<()> {
    let serial: Option<i64> = one(
        conn,
        "UPDATE ticket_credentials SET revoked_at = ?2, revoke_reason = ?3 \
         WHERE ticket_id = ?1 AND revoked_at IS NULL RETURNING serial",
        params![ticket, now.0, reason.as_str()],
        |r| r.get(0),
    )?;
    let Some(serial) = serial else { return Ok(()) };
    let venue = ticket_venue(conn, ticket)?.ok_or_else(|| StoreError::NotFound(format!("ticket {ticket}")))?;
    let event = FeedEvent::revoked(ticket, serial, now.0 * 1000);
    push_feed(conn, &venue, event, Some(reason.as_str()))?;
    Ok(())
}

/// Gives the ticket to `to` within the caps of the phase it was sold in, as if `to` bought it.
fn move_ticket(conn: &Connection, ticket: i64, to: AccountId, reason: RevokeReason, now: Timestamp) -> Result<()> {
    let (caps, session, ceremony) = one(
        conn,
        "SELECT p.per_account, p.per_session, p.per_ceremony, p.min_sessions, t.session_id, s.ceremony \
         FROM tickets t JOIN orders o ON o.id = t.order_id JOIN phases p ON p.id = o.phase_id \
         JOIN sessions s ON s.id = t.session_id WHERE t.id = ?1",
        [ticket],
        |r| {
            let caps = Caps {
                per_account: r.get(0)?,
                per_session: r.get(1)?,
                per_ceremony: r.get(2)?,
                min_sessions_per_order: r.get(3)?,
            };
            Ok((caps, r.get::<_, i64>(4)?, r.get::<_, bool>(5)?))
        },
    )?
    .ok_or_else(|| StoreError::NotFound(format!("ticket {ticket}")))?;
    caps::check_reserve(&caps, holdings(conn, to, session, now)?, 1, ceremony).map_err(StoreError::Cap)?;
    exec(conn, "UPDATE tickets SET account_id = ?2 WHERE id = ?1", params![ticket, to.0])?;
    revoke(conn, ticket, reason, now)
}

pub(crate) fn issue_credential(conn: &Connection, req: &IssueCredential) -> Result<CredentialRecord> {
    let ticket = req.ticket_id.0;
    if holder(conn, ticket)? != Some(req.account) {
        return Err(StoreError::NotFound(format!("ticket {ticket}")));
    }
    ensure_not_offered(conn, ticket)?;
    if !req.replace && active_credential(conn, ticket)?.is_some() {
        return Err(StoreError::Conflict("the ticket is already activated on another phone".into()));
    }
    let issued: i64 = one(
        conn,
        "SELECT COUNT(*) FROM ticket_credentials WHERE ticket_id = ?1 AND account_id = ?2",
        params![ticket, req.account.0],
        |r| r.get(0),
    )?
    .unwrap_or_default();
    if issued >= req.max_issues {
        return Err(StoreError::State(format!(
            "this ticket was already activated {issued} times, the most allowed; ask the support to activate it again"
        )));
    }
    revoke(conn, ticket, RevokeReason::Reissued, req.now)?;
    let r = &req.record;
    conn.prepare_cached(
        "INSERT INTO ticket_credentials (ticket_id, account_id, serial, device_key, key_id, pass, issued_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .sql()?
    .execute(params![ticket, req.account.0, r.serial, r.device_key, r.key_id, r.pass, r.issued_at.0])
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(format!("serial {} was already issued for this ticket", r.serial))
        } else {
            sql_err(e)
        }
    })?;
    Ok(r.clone())
}

pub(crate) fn create_transfer(
    conn: &Connection,
    code: &str,
    from: AccountId,
    to: &Email,
    now: Timestamp,
) -> Result<Transfer> {
    let ticket = held_ticket(conn, code, from)?;
    let to_account: i64 = one(conn, "SELECT id FROM accounts WHERE email = ?1", [to.as_str()], |r| r.get(0))?
        .ok_or_else(|| StoreError::NotFound(format!("account with email {}", to.as_str())))?;
    if to_account == from.0 {
        return Err(StoreError::Conflict("a ticket cannot be transferred to its own holder".into()));
    }
    ensure_not_offered(conn, ticket)?;
    // The holder of an entered ticket would be refused at the gate as "already used".
    ensure_unused(conn, ticket)?;
    exec(
        conn,
        "INSERT INTO transfers (ticket_id, from_account, to_account, status, created_at) \
         VALUES (?1, ?2, ?3, 'pending', ?4)",
        params![ticket, from.0, to_account, now.0],
    )?;
    transfer_by_id(conn, conn.last_insert_rowid())
}

/// The pending transfer `id` as one of its parties sees it; `NotFound` for anyone else.
fn pending_transfer(
    conn: &Connection,
    id: i64,
    party: impl FnOnce(&Transfer) -> AccountId,
    who: AccountId,
) -> Result<Transfer> {
    let t = transfer_by_id(conn, id)?;
    if party(&t) != who {
        return Err(StoreError::NotFound(format!("transfer {id}")));
    }
    if t.status != TransferStatus::Pending {
        return Err(StoreError::State(format!("transfer {id} is already {}", t.status.as_str())));
    }
    Ok(t)
}

fn close_transfer(conn: &Connection, id: i64, status: TransferStatus, now: Timestamp) -> Result<Transfer> {
    exec(conn, "UPDATE transfers SET status = ?2, closed_at = ?3 WHERE id = ?1", params![id, status.as_str(), now.0])?;
    transfer_by_id(conn, id)
}

pub(crate) fn cancel_transfer(conn: &Connection, id: i64, from: AccountId, now: Timestamp) -> Result<Transfer> {
    pending_transfer(conn, id, |t| t.from_account, from)?;
    close_transfer(conn, id, TransferStatus::Cancelled, now)
}

pub(crate) fn accept_transfer(conn: &Connection, id: i64, to: AccountId, now: Timestamp) -> Result<Transfer> {
    let t = pending_transfer(conn, id, |t| t.to_account, to)?;
    if holder(conn, t.ticket_id.0)? != Some(t.from_account) {
        return Err(StoreError::State("the sender no longer holds this ticket".into()));
    }
    // The ticket may have entered since the offer.
    ensure_unused(conn, t.ticket_id.0)?;
    move_ticket(conn, t.ticket_id.0, to, RevokeReason::Transferred, now)?;
    close_transfer(conn, id, TransferStatus::Accepted, now)
}

pub(crate) fn transfers(conn: &Connection, account: AccountId) -> Result<Vec<Transfer>> {
    let sql = format!(
        "{TRANSFER_SELECT} WHERE x.status = 'pending' AND (x.from_account = ?1 OR x.to_account = ?1) ORDER BY x.id"
    );
    all(conn, &sql, [account.0], transfer_row)
}

pub(crate) fn list_for_resale(
    conn: &Connection,
    code: &str,
    seller: AccountId,
    fees: (Cents, Cents),
    now: Timestamp,
) -> Result<Listing> {
    let ticket = held_ticket(conn, code, seller)?;
    ensure_not_offered(conn, ticket)?;
    ensure_unused(conn, ticket)?;
    let price: i64 =
        one(conn, "SELECT price_cents FROM tickets WHERE id = ?1", [ticket], |r| r.get(0))?.unwrap_or_default();
    let (buyer_fee, seller_fee) = fees;
    if buyer_fee.0 < 0 || seller_fee.0 < 0 || seller_fee.0 > price {
        return Err(StoreError::State(format!(
            "resale fees must not be negative, and the seller's at most the price ({})",
            Cents(price)
        )));
    }
    exec(
        conn,
        "INSERT INTO resale_listings (ticket_id, seller, price_cents, buyer_fee_cents, seller_fee_cents, status, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6)",
        params![ticket, seller.0, price, buyer_fee.0, seller_fee.0, now.0],
    )?;
    listing_by_id(conn, conn.last_insert_rowid())
}

fn open_listing(conn: &Connection, id: i64) -> Result<Listing> {
    let l = listing_by_id(conn, id)?;
    if l.status != ListingStatus::Open {
        return Err(StoreError::State(format!("listing {id} is no longer on sale ({})", l.status.as_str())));
    }
    Ok(l)
}

pub(crate) fn cancel_listing(conn: &Connection, id: i64, seller: AccountId, now: Timestamp) -> Result<Listing> {
    if listing_by_id(conn, id)?.seller != seller {
        return Err(StoreError::NotFound(format!("listing {id}")));
    }
    open_listing(conn, id)?;
    exec(conn, "UPDATE resale_listings SET status = 'cancelled', closed_at = ?2 WHERE id = ?1", params![id, now.0])?;
    listing_by_id(conn, id)
}

pub(crate) fn open_listings(conn: &Connection, session: Option<&str>, limit: i64) -> Result<Vec<Listing>> {
    let sql = format!(
        "{LISTING_SELECT} WHERE l.status = 'open' AND (?1 IS NULL OR s.code = ?1) ORDER BY l.created_at, l.id LIMIT ?2"
    );
    all(conn, &sql, params![session, limit.max(0)], listing_row)
}

pub(crate) fn buy_resale(conn: &Connection, req: &BuyResale) -> Result<Listing> {
    let l = open_listing(conn, req.listing)?;
    if l.seller == req.buyer {
        return Err(StoreError::Conflict("you cannot buy your own listing".into()));
    }
    // Listing refuses a used ticket; this refuses one used after it was listed.
    ensure_unused(conn, l.ticket_id.0)?;
    if holder(conn, l.ticket_id.0)? != Some(l.seller) {
        return Err(StoreError::State("the seller no longer holds this ticket".into()));
    }
    move_ticket(conn, l.ticket_id.0, req.buyer, RevokeReason::Resold, req.now)?;
    exec(
        conn,
        "UPDATE resale_listings SET status = 'sold', buyer = ?2, payment_ref = ?3, closed_at = ?4 WHERE id = ?1",
        params![l.id, req.buyer.0, req.payment_ref, req.now.0],
    )?;
    let amount = Cents(l.price.0 + l.buyer_fee.0);
    crate::payments::insert_sale_payment(
        conn,
        &req.payment_ref,
        req.buyer,
        PaymentKind::Resale,
        amount,
        l.id,
        req.now,
    )?;
    listing_by_id(conn, l.id)
}

const EVENT_SELECT: &str = "SELECT e.id, e.kind, e.ticket_id, e.created_at, \
    f.id, f.gate_id, f.device_seq, f.ticket_id, f.serial, f.session_code, f.entrance, f.admitted, f.reason, f.at_ms, \
    n.id, n.gate_id, n.device_seq, n.ticket_id, n.serial, n.session_code, n.entrance, n.admitted, n.reason, n.at_ms \
    FROM security_events e JOIN gate_scans f ON f.id = e.first_scan JOIN gate_scans n ON n.id = e.second_scan";

/// A scan from the ten columns starting at `i`.
fn scan_at(r: &Row, i: usize) -> rusqlite::Result<StoredScan> {
    Ok(StoredScan {
        id: r.get(i)?,
        scan: ScanRecord {
            gate_id: r.get(i + 1)?,
            device_seq: r.get(i + 2)?,
            ticket_id: r.get(i + 3)?,
            serial: r.get(i + 4)?,
            session_code: r.get(i + 5)?,
            entrance: r.get(i + 6)?,
            admitted: r.get(i + 7)?,
            reason: r.get(i + 8)?,
            at_ms: r.get(i + 9)?,
            // Only ticket scans are stored (badges are decided at the gate alone).
            kind: "ticket".into(),
        },
    })
}

fn event_row(r: &Row) -> rusqlite::Result<SecurityEvent> {
    Ok(SecurityEvent {
        id: r.get(0)?,
        kind: r.get(1)?,
        ticket_id: r.get(2)?,
        created_at: Timestamp(r.get(3)?),
        first: scan_at(r, 4)?,
        second: scan_at(r, 14)?,
    })
}

/// Records the scan unless the gate sent it before; returns its id if it is new.
fn insert_scan(conn: &Connection, s: &ScanRecord) -> Result<Option<i64>> {
    one(
        conn,
        "INSERT INTO gate_scans (gate_id, device_seq, ticket_id, serial, session_code, entrance, admitted, reason, at_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (gate_id, device_seq) DO NOTHING RETURNING id",
        params![s.gate_id, s.device_seq, s.ticket_id, s.serial, s.session_code, s.entrance, s.admitted, s.reason, s.at_ms],
        |r| r.get(0),
    )
}

/// Makes a new admission the ticket's entry, or reports the double entry it makes.
fn admit(conn: &Connection, venue: &str, scan: i64, s: &ScanRecord, now_ms: i64) -> Result<Option<SecurityEvent>> {
    let standing: Option<(i64, i64)> = one(
        conn,
        "SELECT e.scan_id, g.at_ms FROM ticket_entries e JOIN gate_scans g ON g.id = e.scan_id WHERE e.ticket_id = ?1",
        [s.ticket_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let Some((entry, entry_at)) = standing else {
        exec(conn, "INSERT INTO ticket_entries (ticket_id, scan_id) VALUES (?1, ?2)", params![s.ticket_id, scan])?;
        push_feed(conn, venue, FeedEvent::entered(s), None)?;
        return Ok(None);
    };
    // The earliest admission is the one that let the holder in, whatever order gates sync in.
    let (first, second) = if (s.at_ms, scan) < (entry_at, entry) {
        exec(conn, "UPDATE ticket_entries SET scan_id = ?2 WHERE ticket_id = ?1", params![s.ticket_id, scan])?;
        (scan, entry)
    } else {
        (entry, scan)
    };
    exec(
        conn,
        "INSERT INTO security_events (kind, ticket_id, first_scan, second_scan, created_at) \
         VALUES ('double_entry', ?1, ?2, ?3, ?4)",
        params![s.ticket_id, first, second, now_ms.div_euclid(1000)],
    )?;
    one(conn, &format!("{EVENT_SELECT} WHERE e.id = ?1"), [conn.last_insert_rowid()], event_row)?
        .ok_or_else(|| StoreError::NotFound("security event".into()))
        .map(Some)
}

pub(crate) fn record_scans(
    conn: &Connection,
    venue: &str,
    entrance: &str,
    scans: &[ScanRecord],
    now_ms: i64,
) -> Result<SyncOutcome> {
    let mut out = SyncOutcome::default();
    // Per gate: (admitted, refused) among the scans new in this batch.
    let mut tallies: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for s in scans {
        let tally = tallies.entry(s.gate_id.as_str()).or_default();
        let Some(id) = insert_scan(conn, s)? else {
            out.duplicates += 1;
            continue;
        };
        out.recorded += 1;
        if !s.admitted {
            tally.1 += 1;
            continue;
        }
        tally.0 += 1;
        if s.ticket_id != 0 {
            out.double_entries.extend(admit(conn, venue, id, s, now_ms)?);
        }
    }
    for (gate, (admitted, refused)) in tallies {
        exec(
            conn,
            "INSERT INTO gates (gate_id, venue_code, entrance, last_sync_at_ms, admitted, refused) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (gate_id) DO UPDATE SET venue_code = excluded.venue_code, \
             entrance = excluded.entrance, last_sync_at_ms = excluded.last_sync_at_ms, \
             admitted = gates.admitted + excluded.admitted, refused = gates.refused + excluded.refused",
            params![gate, venue, entrance, now_ms, admitted, refused],
        )?;
    }
    Ok(out)
}

pub(crate) fn annul_entry(conn: &Connection, ticket: i64, reason: &str, now_ms: i64) -> Result<FeedEvent> {
    let venue = ticket_venue(conn, ticket)?.ok_or_else(|| StoreError::NotFound(format!("ticket {ticket}")))?;
    if exec(conn, "DELETE FROM ticket_entries WHERE ticket_id = ?1", [ticket])? == 0 {
        return Err(StoreError::NotFound(format!("an entry of ticket {ticket}")));
    }
    let event = FeedEvent::annulled(ticket, now_ms);
    push_feed(conn, &venue, event, Some(reason))
}

pub(crate) fn gate_feed(conn: &Connection, venue: &str, after: i64, limit: i64) -> Result<Vec<FeedEvent>> {
    all(
        conn,
        "SELECT seq, kind, ticket_id, serial, gate_id, at_ms FROM gate_feed \
         WHERE venue_code = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        params![venue, after, limit.max(0)],
        |r| {
            Ok(FeedEvent {
                seq: r.get(0)?,
                kind: parsed(1, r.get(1)?, FeedKind::parse)?,
                ticket_id: r.get(2)?,
                serial: r.get(3)?,
                gate_id: r.get(4)?,
                at_ms: r.get(5)?,
            })
        },
    )
}

pub(crate) fn venue_gate_data(
    conn: &Connection,
    venue: &str,
    from: Timestamp,
    until: Timestamp,
) -> Result<VenueGateData> {
    let (id, venue_name, zones): (i64, String, String) =
        one(conn, "SELECT id, name, zones FROM venues WHERE code = ?1", [venue], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .ok_or_else(|| StoreError::NotFound(format!("venue {venue}")))?;
    // Read before the revocations: one committed after this read has a larger sequence
    // number, so a gate that misses it in the list gets it from the feed.
    let feed_seq: i64 =
        one(conn, "SELECT COALESCE(MAX(seq), 0) FROM gate_feed WHERE venue_code = ?1", [venue], |r| r.get(0))?
            .unwrap_or_default();
    let sessions = all(
        conn,
        "SELECT code, title, starts_at, ends_at FROM sessions \
         WHERE venue_id = ?1 AND starts_at < ?3 AND ends_at > ?2 ORDER BY starts_at, code",
        params![id, from.0, until.0],
        |r| Ok((r.get(0)?, r.get(1)?, Timestamp(r.get(2)?), Timestamp(r.get(3)?))),
    )?;
    let revoked = all(
        conn,
        "SELECT c.ticket_id, c.serial FROM ticket_credentials c JOIN tickets t ON t.id = c.ticket_id \
         JOIN sessions s ON s.id = t.session_id WHERE s.venue_id = ?1 AND s.starts_at < ?3 AND s.ends_at > ?2 \
         AND c.revoked_at IS NOT NULL ORDER BY c.ticket_id, c.serial",
        params![id, from.0, until.0],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(VenueGateData {
        venue_code: venue.to_string(),
        venue_name,
        zones: tessera_store::zones_from_column(&zones),
        sessions,
        revoked,
        feed_seq,
    })
}

pub(crate) fn gates(conn: &Connection) -> Result<Vec<GateRecord>> {
    all(
        conn,
        "SELECT gate_id, venue_code, entrance, last_sync_at_ms, admitted, refused FROM gates ORDER BY gate_id",
        [],
        |r| {
            Ok(GateRecord {
                gate_id: r.get(0)?,
                venue_code: r.get(1)?,
                entrance: r.get(2)?,
                last_sync_at_ms: r.get(3)?,
                admitted: r.get(4)?,
                refused: r.get(5)?,
            })
        },
    )
}

pub(crate) fn gate_figures(conn: &Connection, since_ms: i64) -> Result<GateFigures> {
    let entries_per_minute = all(
        conn,
        "SELECT gate_id, at_ms / 60000 * 60 AS minute, COUNT(*) FROM gate_scans \
         WHERE admitted AND at_ms >= ?1 GROUP BY gate_id, minute ORDER BY gate_id, minute",
        [since_ms],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let refusals = all(
        conn,
        "SELECT reason, COUNT(*) AS n FROM gate_scans WHERE NOT admitted AND at_ms >= ?1 \
         GROUP BY reason ORDER BY n DESC, reason",
        [since_ms],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let security_events = one(conn, "SELECT COUNT(*) FROM security_events", [], |r| r.get(0))?.unwrap_or_default();
    Ok(GateFigures { entries_per_minute, refusals, security_events })
}

pub(crate) fn security_events(conn: &Connection, limit: i64) -> Result<Vec<SecurityEvent>> {
    all(conn, &format!("{EVENT_SELECT} ORDER BY e.id DESC LIMIT ?1"), [limit.max(0)], event_row)
}
