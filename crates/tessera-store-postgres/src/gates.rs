//! Phone tickets and gates in SQL: credentials, transfers, resale, scans and the venue feed.
//!
//! Locks, in the crate's global order: the receiving account (caps), then the ticket row
//! (every change to a ticket's holder, credential, transfer or listing takes it first, so
//! those are read fresh after it), then a venue's feed lock (see [`lock_feed`]).

use crate::sale::holdings;
use crate::sql::{conflict_if_unique, corrupt, exec, get, row, row_opt, rows};
use deadpool_postgres::GenericClient;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use tessera_domain::caps::{self, Caps};
use tessera_domain::*;
use tessera_store::*;
use tokio_postgres::Row;

/// First half of the advisory lock key serialising the writers of one venue's feed.
const FEED_LOCK: i32 = 0x7e55_fee0;

/// Identity values are drawn before commit, so two writers of one feed could commit their
/// events in the other order than their sequence numbers, and a gate that has read past the
/// larger one would never see the smaller. Writers of a venue's feed therefore queue on this
/// lock, held until commit: a feed's sequence numbers become visible in order.
pub(crate) async fn lock_feed<C: GenericClient>(c: &C, venue: &str) -> Result<()> {
    exec(c, "SELECT pg_advisory_xact_lock($1, hashtext($2))", &[&FEED_LOCK, &venue]).await?;
    Ok(())
}

pub(crate) fn parsed<T>(text: String, parse: impl FnOnce(&str) -> Option<T>) -> Result<T> {
    parse(&text).ok_or_else(|| corrupt(format!("unexpected value {text:?}")))
}

macro_rules! holding_select {
    () => {
        "SELECT t.id, t.code, t.account_id, a.display_name, s.code, s.title, v.code, v.name, \
         v.zones, s.starts_at, s.ends_at, c.code, c.name, t.price_cents, \
         (SELECT COUNT(*) FROM tickets r WHERE r.category_id = t.category_id AND r.id < t.id) \
         FROM tickets t JOIN accounts a ON a.id = t.account_id JOIN sessions s ON s.id = t.session_id \
         JOIN venues v ON v.id = s.venue_id JOIN categories c ON c.id = t.category_id"
    };
}

macro_rules! transfer_select {
    () => {
        "SELECT x.id, x.ticket_id, t.code, s.code, x.from_account, f.display_name, \
         x.to_account, o.email, x.status, x.created_at, x.closed_at FROM transfers x \
         JOIN tickets t ON t.id = x.ticket_id JOIN sessions s ON s.id = t.session_id \
         JOIN accounts f ON f.id = x.from_account JOIN accounts o ON o.id = x.to_account"
    };
}

macro_rules! listing_select {
    () => {
        "SELECT l.id, l.ticket_id, t.code, s.code, s.title, c.name, s.starts_at, l.seller, \
         l.price_cents, l.buyer_fee_cents, l.seller_fee_cents, l.status, l.buyer, l.payment_ref, l.created_at, \
         l.closed_at FROM resale_listings l JOIN tickets t ON t.id = l.ticket_id \
         JOIN sessions s ON s.id = t.session_id JOIN categories c ON c.id = t.category_id"
    };
}

macro_rules! event_select {
    () => {
        "SELECT e.id, e.kind, e.ticket_id, e.created_at, \
         f.id, f.gate_id, f.device_seq, f.ticket_id, f.serial, f.session_code, f.entrance, f.admitted, f.reason, \
         f.at_ms, n.id, n.gate_id, n.device_seq, n.ticket_id, n.serial, n.session_code, n.entrance, n.admitted, \
         n.reason, n.at_ms FROM security_events e JOIN gate_scans f ON f.id = e.first_scan \
         JOIN gate_scans n ON n.id = e.second_scan"
    };
}

pub(crate) fn holding_row(r: &Row) -> Result<Holding> {
    let zones: String = get(r, 8)?;
    Ok(Holding {
        ticket_id: TicketId(get(r, 0)?),
        code: get(r, 1)?,
        account_id: AccountId(get(r, 2)?),
        holder_name: get(r, 3)?,
        session_code: get(r, 4)?,
        session_title: get(r, 5)?,
        venue_code: get(r, 6)?,
        venue_name: get(r, 7)?,
        zones: tessera_store::zones_from_column(&zones),
        starts_at: Timestamp(get(r, 9)?),
        ends_at: Timestamp(get(r, 10)?),
        category_code: get(r, 11)?,
        category_name: get(r, 12)?,
        price: Cents(get(r, 13)?),
        seat_rank: get(r, 14)?,
        credential: None,
        pending_transfer: None,
        listing: None,
        entered_at_ms: None,
    })
}

/// Adds what hangs off the tickets, in three queries whatever their number.
pub(crate) async fn with_state<C: GenericClient>(c: &C, mut held: Vec<Holding>) -> Result<Vec<Holding>> {
    let ids: Vec<i64> = held.iter().map(|h| h.ticket_id.0).collect();
    let mut credentials = HashMap::new();
    for r in rows(
        c,
        "SELECT ticket_id, serial, device_key, key_id, pass, issued_at FROM ticket_credentials \
         WHERE ticket_id = ANY($1) AND revoked_at IS NULL",
        &[&ids],
    )
    .await?
    {
        credentials.insert(get::<i64>(&r, 0)?, credential_at(&r, 1)?);
    }
    const TRANSFERS: &str = concat!(transfer_select!(), " WHERE x.ticket_id = ANY($1) AND x.status = 'pending'");
    let mut transfers = HashMap::new();
    for r in rows(c, TRANSFERS, &[&ids]).await? {
        let t = transfer_row(&r)?;
        transfers.insert(t.ticket_id, t);
    }
    const LISTINGS: &str = concat!(listing_select!(), " WHERE l.ticket_id = ANY($1) AND l.status = 'open'");
    let mut listings = HashMap::new();
    for r in rows(c, LISTINGS, &[&ids]).await? {
        let l = listing_row(&r)?;
        listings.insert(l.ticket_id, l);
    }
    let mut entered = HashMap::new();
    for r in rows(
        c,
        "SELECT e.ticket_id, g.at_ms FROM ticket_entries e JOIN gate_scans g ON g.id = e.scan_id \
         WHERE e.ticket_id = ANY($1)",
        &[&ids],
    )
    .await?
    {
        entered.insert(get::<i64>(&r, 0)?, get::<i64>(&r, 1)?);
    }
    for h in &mut held {
        h.entered_at_ms = entered.remove(&h.ticket_id.0);
        h.credential = credentials.remove(&h.ticket_id.0);
        h.pending_transfer = transfers.remove(&h.ticket_id);
        h.listing = listings.remove(&h.ticket_id);
    }
    Ok(held)
}

pub(crate) async fn holdings_of<C: GenericClient>(c: &C, account: AccountId) -> Result<Vec<Holding>> {
    const SQL: &str =
        concat!(holding_select!(), " WHERE t.account_id = $1 AND t.status = 'valid' ORDER BY s.starts_at, t.id");
    let held = rows(c, SQL, &[&account.0]).await?.iter().map(holding_row).collect::<Result<Vec<_>>>()?;
    with_state(c, held).await
}

pub(crate) async fn holding<C: GenericClient>(c: &C, code: &str) -> Result<Option<Holding>> {
    const SQL: &str = concat!(holding_select!(), " WHERE t.code = $1");
    let Some(r) = row_opt(c, SQL, &[&code]).await? else { return Ok(None) };
    Ok(with_state(c, vec![holding_row(&r)?]).await?.pop())
}

/// A credential from the five columns starting at `i`.
pub(crate) fn credential_at(r: &Row, i: usize) -> Result<CredentialRecord> {
    let key_id: i64 = get(r, i + 2)?;
    Ok(CredentialRecord {
        serial: get(r, i)?,
        device_key: get(r, i + 1)?,
        key_id: u32::try_from(key_id).map_err(|_| corrupt(format!("key id {key_id} out of range")))?,
        pass: get(r, i + 3)?,
        issued_at: Timestamp(get(r, i + 4)?),
    })
}

pub(crate) async fn has_active_credential<C: GenericClient>(c: &C, ticket: i64) -> Result<bool> {
    let r = row(
        c,
        "SELECT EXISTS (SELECT 1 FROM ticket_credentials WHERE ticket_id = $1 AND revoked_at IS NULL)",
        &[&ticket],
    )
    .await?;
    get(&r, 0)
}

pub(crate) fn transfer_row(r: &Row) -> Result<Transfer> {
    Ok(Transfer {
        id: get(r, 0)?,
        ticket_id: TicketId(get(r, 1)?),
        ticket_code: get(r, 2)?,
        session_code: get(r, 3)?,
        from_account: AccountId(get(r, 4)?),
        from_name: get(r, 5)?,
        to_account: AccountId(get(r, 6)?),
        to_email: get(r, 7)?,
        status: parsed(get(r, 8)?, TransferStatus::parse)?,
        created_at: Timestamp(get(r, 9)?),
        closed_at: get::<Option<i64>>(r, 10)?.map(Timestamp),
    })
}

pub(crate) async fn transfer_by_id<C: GenericClient>(c: &C, id: i64) -> Result<Transfer> {
    const SQL: &str = concat!(transfer_select!(), " WHERE x.id = $1");
    let r = row_opt(c, SQL, &[&id]).await?.ok_or_else(|| StoreError::NotFound(format!("transfer {id}")))?;
    transfer_row(&r)
}

pub(crate) fn listing_row(r: &Row) -> Result<Listing> {
    Ok(Listing {
        id: get(r, 0)?,
        ticket_id: TicketId(get(r, 1)?),
        ticket_code: get(r, 2)?,
        session_code: get(r, 3)?,
        session_title: get(r, 4)?,
        category_name: get(r, 5)?,
        starts_at: Timestamp(get(r, 6)?),
        seller: AccountId(get(r, 7)?),
        price: Cents(get(r, 8)?),
        buyer_fee: Cents(get(r, 9)?),
        seller_fee: Cents(get(r, 10)?),
        status: parsed(get(r, 11)?, ListingStatus::parse)?,
        buyer: get::<Option<i64>>(r, 12)?.map(AccountId),
        payment_ref: get(r, 13)?,
        created_at: Timestamp(get(r, 14)?),
        closed_at: get::<Option<i64>>(r, 15)?.map(Timestamp),
    })
}

pub(crate) async fn listing<C: GenericClient>(c: &C, id: i64) -> Result<Option<Listing>> {
    const SQL: &str = concat!(listing_select!(), " WHERE l.id = $1");
    row_opt(c, SQL, &[&id]).await?.map(|r| listing_row(&r)).transpose()
}

pub(crate) async fn listing_by_id<C: GenericClient>(c: &C, id: i64) -> Result<Listing> {
    listing(c, id).await?.ok_or_else(|| StoreError::NotFound(format!("listing {id}")))
}

/// Locks the ticket with this code if `account` holds it and returns its id; `NotFound`
/// otherwise, so that nobody learns which codes exist.
pub(crate) async fn held_ticket<C: GenericClient>(c: &C, code: &str, account: AccountId) -> Result<i64> {
    let r = row_opt(
        c,
        "SELECT id FROM tickets WHERE code = $1 AND account_id = $2 AND status = 'valid' FOR UPDATE",
        &[&code, &account.0],
    )
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("ticket {code}")))?;
    get(&r, 0)
}

/// Locks the ticket and returns its holder, if it is valid.
pub(crate) async fn lock_ticket<C: GenericClient>(c: &C, ticket: i64) -> Result<Option<AccountId>> {
    let r = row_opt(c, "SELECT account_id, status = 'valid' FROM tickets WHERE id = $1 FOR UPDATE", &[&ticket]).await?;
    match r {
        Some(r) if get::<bool>(&r, 1)? => Ok(Some(AccountId(get(&r, 0)?))),
        _ => Ok(None),
    }
}

/// Refuses while the ticket is offered to someone: a ticket has one pending change at a time.
pub(crate) async fn ensure_not_offered<C: GenericClient>(c: &C, ticket: i64) -> Result<()> {
    let r = row(
        c,
        "SELECT EXISTS (SELECT 1 FROM transfers WHERE ticket_id = $1 AND status = 'pending'), \
         EXISTS (SELECT 1 FROM resale_listings WHERE ticket_id = $1 AND status = 'open')",
        &[&ticket],
    )
    .await?;
    if get::<bool>(&r, 0)? {
        return Err(StoreError::Conflict("the ticket is offered in a pending transfer; cancel it first".into()));
    }
    if get::<bool>(&r, 1)? {
        return Err(StoreError::Conflict("the ticket is listed for resale; cancel the listing first".into()));
    }
    Ok(())
}

pub(crate) async fn ensure_unused<C: GenericClient>(c: &C, ticket: i64) -> Result<()> {
    let r = row(c, "SELECT EXISTS (SELECT 1 FROM ticket_entries WHERE ticket_id = $1)", &[&ticket]).await?;
    if get::<bool>(&r, 0)? {
        return Err(StoreError::Conflict(
            "this ticket has already been used to enter the venue: it can no longer be transferred or resold".into(),
        ));
    }
    Ok(())
}

pub(crate) async fn ticket_venue<C: GenericClient>(c: &C, ticket: i64) -> Result<Option<String>> {
    row_opt(
        c,
        "SELECT v.code FROM tickets t JOIN sessions s ON s.id = t.session_id JOIN venues v ON v.id = s.venue_id \
         WHERE t.id = $1",
        &[&ticket],
    )
    .await?
    .map(|r| get(&r, 0))
    .transpose()
}

/// Appends to a venue's feed, whose lock the caller holds; returns the event with its number.
pub(crate) async fn push_feed<C: GenericClient>(
    c: &C,
    venue: &str,
    event: FeedEvent,
    reason: Option<&str>,
) -> Result<FeedEvent> {
    let r = row(
        c,
        "INSERT INTO gate_feed (venue_code, kind, ticket_id, serial, gate_id, at_ms, reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq",
        &[&venue, &event.kind.as_str(), &event.ticket_id, &event.serial, &event.gate_id, &event.at_ms, &reason],
    )
    .await?;
    Ok(FeedEvent { seq: get(&r, 0)?, ..event })
}

/// Withdraws the ticket's credential in force, if any, and tells the venue's gates.
pub(crate) async fn revoke<C: GenericClient>(c: &C, ticket: i64, reason: RevokeReason, now: Timestamp) -> Result<()> {
    let Some(r) = row_opt(
        c,
        "UPDATE ticket_credentials SET revoked_at = $2, revoke_reason = $3 \
         WHERE ticket_id = $1 AND revoked_at IS NULL RETURNING serial",
        &[&ticket, &now.0, &reason.as_str()],
    )
    .await?
    else {
        return Ok(());
    };
    let serial: i64 = get(&r, 0)?;
    let venue = ticket_venue(c, ticket).await?.ok_or_else(|| StoreError::NotFound(format!("ticket {ticket}")))?;
    lock_feed(c, &venue).await?;
    let event = FeedEvent::revoked(ticket, serial, now.0 * 1000);
    push_feed(c, &venue, event, Some(reason.as_str())).await?;
    Ok(())
}

/// Gives the locked ticket to `to` (whose account the caller locked) within the caps of the
/// phase it was sold in, as if `to` bought it.
pub(crate) async fn move_ticket<C: GenericClient>(
    c: &C,
    ticket: i64,
    to: AccountId,
    reason: RevokeReason,
    now: Timestamp,
) -> Result<()> {
    let r = row_opt(
        c,
        "SELECT p.per_account, p.per_session, p.per_ceremony, p.min_sessions, t.session_id, s.ceremony \
         FROM tickets t JOIN orders o ON o.id = t.order_id JOIN phases p ON p.id = o.phase_id \
         JOIN sessions s ON s.id = t.session_id WHERE t.id = $1",
        &[&ticket],
    )
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("ticket {ticket}")))?;
    let caps = Caps {
        per_account: get(&r, 0)?,
        per_session: get(&r, 1)?,
        per_ceremony: get(&r, 2)?,
        min_sessions_per_order: get(&r, 3)?,
    };
    let (session, ceremony): (i64, bool) = (get(&r, 4)?, get(&r, 5)?);
    caps::check_reserve(&caps, holdings(c, to, session, now).await?, 1, ceremony).map_err(StoreError::Cap)?;
    exec(c, "UPDATE tickets SET account_id = $2 WHERE id = $1", &[&ticket, &to.0]).await?;
    revoke(c, ticket, reason, now).await
}

pub(crate) async fn issue_credential<C: GenericClient>(c: &C, req: &IssueCredential) -> Result<CredentialRecord> {
    let ticket = req.ticket_id.0;
    if lock_ticket(c, ticket).await? != Some(req.account) {
        return Err(StoreError::NotFound(format!("ticket {ticket}")));
    }
    ensure_not_offered(c, ticket).await?;
    if !req.replace && has_active_credential(c, ticket).await? {
        return Err(StoreError::Conflict("the ticket is already activated on another phone".into()));
    }
    let r = row(
        c,
        "SELECT COUNT(*) FROM ticket_credentials WHERE ticket_id = $1 AND account_id = $2",
        &[&ticket, &req.account.0],
    )
    .await?;
    let issued: i64 = get(&r, 0)?;
    if issued >= req.max_issues {
        return Err(StoreError::State(format!(
            "this ticket was already activated {issued} times, the most allowed; ask the support to activate it again"
        )));
    }
    revoke(c, ticket, RevokeReason::Reissued, req.now).await?;
    let rec = &req.record;
    exec(
        c,
        "INSERT INTO ticket_credentials (ticket_id, account_id, serial, device_key, key_id, pass, issued_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[&ticket, &req.account.0, &rec.serial, &rec.device_key, &i64::from(rec.key_id), &rec.pass, &rec.issued_at.0],
    )
    .await
    .map_err(|e| conflict_if_unique(e, || format!("serial {} was already issued for this ticket", rec.serial)))?;
    Ok(rec.clone())
}

/// A scan from the ten columns starting at `i`.
pub(crate) fn scan_at(r: &Row, i: usize) -> Result<StoredScan> {
    Ok(StoredScan {
        id: get(r, i)?,
        scan: ScanRecord {
            gate_id: get(r, i + 1)?,
            device_seq: get(r, i + 2)?,
            ticket_id: get(r, i + 3)?,
            serial: get(r, i + 4)?,
            session_code: get(r, i + 5)?,
            entrance: get(r, i + 6)?,
            admitted: get(r, i + 7)?,
            reason: get(r, i + 8)?,
            at_ms: get(r, i + 9)?,
            // Only ticket scans are stored (badges are decided at the gate alone).
            kind: "ticket".into(),
        },
    })
}

pub(crate) fn event_row(r: &Row) -> Result<SecurityEvent> {
    Ok(SecurityEvent {
        id: get(r, 0)?,
        kind: get(r, 1)?,
        ticket_id: get(r, 2)?,
        created_at: Timestamp(get(r, 3)?),
        first: scan_at(r, 4)?,
        second: scan_at(r, 14)?,
    })
}

/// Records the new scans (their `(gate_id, device_seq)` are distinct) in their order, so
/// their ids grow in it; returns the id of each, `None` for one a gate sent before.
pub(crate) async fn insert_scans<C: GenericClient>(c: &C, scans: &[&ScanRecord]) -> Result<Vec<Option<i64>>> {
    if scans.is_empty() {
        return Ok(Vec::new());
    }
    let gates: Vec<&str> = scans.iter().map(|s| s.gate_id.as_str()).collect();
    let seqs: Vec<i64> = scans.iter().map(|s| s.device_seq).collect();
    let tickets: Vec<i64> = scans.iter().map(|s| s.ticket_id).collect();
    let serials: Vec<i64> = scans.iter().map(|s| s.serial).collect();
    let sessions: Vec<&str> = scans.iter().map(|s| s.session_code.as_str()).collect();
    let entrances: Vec<&str> = scans.iter().map(|s| s.entrance.as_str()).collect();
    let admitted: Vec<bool> = scans.iter().map(|s| s.admitted).collect();
    let reasons: Vec<&str> = scans.iter().map(|s| s.reason.as_str()).collect();
    let at: Vec<i64> = scans.iter().map(|s| s.at_ms).collect();
    let inserted = rows(
        c,
        "INSERT INTO gate_scans \
         (gate_id, device_seq, ticket_id, serial, session_code, entrance, admitted, reason, at_ms) \
         SELECT g, d, t, s, c, e, a, r, m FROM UNNEST($1::TEXT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], \
         $5::TEXT[], $6::TEXT[], $7::BOOLEAN[], $8::TEXT[], $9::BIGINT[]) \
         WITH ORDINALITY AS u(g, d, t, s, c, e, a, r, m, o) ORDER BY o \
         ON CONFLICT (gate_id, device_seq) DO NOTHING RETURNING id, gate_id, device_seq",
        &[&gates, &seqs, &tickets, &serials, &sessions, &entrances, &admitted, &reasons, &at],
    )
    .await?;
    let mut ids = HashMap::with_capacity(inserted.len());
    for r in &inserted {
        ids.insert((get::<&str>(r, 1)?, get::<i64>(r, 2)?), get::<i64>(r, 0)?);
    }
    Ok(scans.iter().map(|s| ids.get(&(s.gate_id.as_str(), s.device_seq)).copied()).collect())
}

/// Makes the new admissions (scan and id, in batch order) the entries of tickets that have
/// none, or reports the double entries they make, as one admission at a time would.
pub(crate) async fn admit<C: GenericClient>(
    c: &C,
    venue: &str,
    admissions: &[(&ScanRecord, i64)],
    now_ms: i64,
) -> Result<Vec<SecurityEvent>> {
    // The first admission of a ticket in the batch makes its entry if it has none. In
    // ticket order, so that batches of two venues holding the same tickets wait in turn.
    let mut leaders: BTreeMap<i64, i64> = BTreeMap::new();
    for &(s, id) in admissions {
        leaders.entry(s.ticket_id).or_insert(id);
    }
    let (tickets, firsts): (Vec<i64>, Vec<i64>) = leaders.into_iter().unzip();
    // Another venue's batch may hold the same ticket: the insert waits for it.
    let made = rows(
        c,
        "INSERT INTO ticket_entries (ticket_id, scan_id) \
         SELECT t, s FROM UNNEST($1::BIGINT[], $2::BIGINT[]) AS u(t, s) ORDER BY t \
         ON CONFLICT (ticket_id) DO NOTHING RETURNING ticket_id",
        &[&tickets, &firsts],
    )
    .await?
    .iter()
    .map(|r| get::<i64>(r, 0))
    .collect::<Result<HashSet<i64>>>()?;
    // Ticket → (at_ms, scan id) of the entry that stands; the others' are read and locked.
    let mut standing: HashMap<i64, (i64, i64)> = HashMap::new();
    let contested: Vec<i64> = tickets.iter().copied().filter(|t| !made.contains(t)).collect();
    if !contested.is_empty() {
        for r in rows(
            c,
            "SELECT e.ticket_id, g.at_ms, e.scan_id FROM ticket_entries e JOIN gate_scans g ON g.id = e.scan_id \
             WHERE e.ticket_id = ANY($1) ORDER BY e.ticket_id FOR UPDATE OF e",
            &[&contested],
        )
        .await?
        {
            standing.insert(get(&r, 0)?, (get(&r, 1)?, get(&r, 2)?));
        }
        if standing.len() != contested.len() {
            return Err(StoreError::Conflict("the ticket's entry changed meanwhile; send the batch again".into()));
        }
    }
    let (mut feed_tickets, mut feed_serials, mut feed_gates, mut feed_at) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut pair_tickets, mut pair_firsts, mut pair_seconds) = (Vec::new(), Vec::new(), Vec::new());
    // Ticket → the admission of this batch that became its entry, replacing another.
    let mut moved: BTreeMap<i64, i64> = BTreeMap::new();
    for &(s, id) in admissions {
        match standing.entry(s.ticket_id) {
            // Only a ticket whose entry this batch made is not there yet: its first admission.
            Entry::Vacant(v) => {
                v.insert((s.at_ms, id));
                feed_tickets.push(s.ticket_id);
                feed_serials.push(s.serial);
                feed_gates.push(s.gate_id.as_str());
                feed_at.push(s.at_ms);
            }
            Entry::Occupied(mut o) => {
                let (entry_at, entry) = *o.get();
                // The earliest admission is the one that let the holder in, whatever order
                // gates sync in.
                let (first, second) = if (s.at_ms, id) < (entry_at, entry) {
                    o.insert((s.at_ms, id));
                    moved.insert(s.ticket_id, id);
                    (id, entry)
                } else {
                    (entry, id)
                };
                pair_tickets.push(s.ticket_id);
                pair_firsts.push(first);
                pair_seconds.push(second);
            }
        }
    }
    if !feed_tickets.is_empty() {
        exec(
            c,
            "INSERT INTO gate_feed (venue_code, kind, ticket_id, serial, gate_id, at_ms) \
             SELECT $1::TEXT, $2::TEXT, t, s, g, m FROM UNNEST($3::BIGINT[], $4::BIGINT[], $5::TEXT[], $6::BIGINT[]) \
             WITH ORDINALITY AS u(t, s, g, m, o) ORDER BY o",
            &[&venue, &FeedKind::Entered.as_str(), &feed_tickets, &feed_serials, &feed_gates, &feed_at],
        )
        .await?;
    }
    if pair_tickets.is_empty() {
        return Ok(Vec::new());
    }
    if !moved.is_empty() {
        let (tickets, scans): (Vec<i64>, Vec<i64>) = moved.into_iter().unzip();
        exec(
            c,
            "UPDATE ticket_entries e SET scan_id = u.s FROM UNNEST($1::BIGINT[], $2::BIGINT[]) AS u(t, s) \
             WHERE e.ticket_id = u.t",
            &[&tickets, &scans],
        )
        .await?;
    }
    let ids = rows(
        c,
        "INSERT INTO security_events (kind, ticket_id, first_scan, second_scan, created_at) \
         SELECT 'double_entry', t, f, s, $4::BIGINT FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[]) \
         WITH ORDINALITY AS u(t, f, s, o) ORDER BY o RETURNING id",
        &[&pair_tickets, &pair_firsts, &pair_seconds, &now_ms.div_euclid(1000)],
    )
    .await?
    .iter()
    .map(|r| get::<i64>(r, 0))
    .collect::<Result<Vec<i64>>>()?;
    const SQL: &str = concat!(event_select!(), " WHERE e.id = ANY($1)");
    let mut events = HashMap::with_capacity(ids.len());
    for r in rows(c, SQL, &[&ids]).await? {
        let e = event_row(&r)?;
        events.insert(e.id, e);
    }
    // In the batch's order, as the ids were drawn.
    ids.iter().map(|id| events.remove(id).ok_or_else(|| corrupt(format!("security event {id} vanished")))).collect()
}

pub(crate) async fn record_scans<C: GenericClient>(
    c: &C,
    venue: &str,
    entrance: &str,
    scans: &[ScanRecord],
    now_ms: i64,
) -> Result<SyncOutcome> {
    lock_feed(c, venue).await?;
    let mut out = SyncOutcome::default();
    // Per gate, in gate order (the row lock order): (admitted, refused) among new scans.
    let mut tallies: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    // A scan the batch holds twice is recorded once, as its first copy.
    let mut seen = HashSet::with_capacity(scans.len());
    let mut fresh = Vec::with_capacity(scans.len());
    for s in scans {
        tallies.entry(s.gate_id.as_str()).or_default();
        if seen.insert((s.gate_id.as_str(), s.device_seq)) {
            fresh.push(s);
        } else {
            out.duplicates += 1;
        }
    }
    let mut admissions = Vec::new();
    for (s, id) in fresh.iter().zip(insert_scans(c, &fresh).await?) {
        let Some(id) = id else {
            out.duplicates += 1;
            continue;
        };
        out.recorded += 1;
        let tally = tallies.entry(s.gate_id.as_str()).or_default();
        if !s.admitted {
            tally.1 += 1;
            continue;
        }
        tally.0 += 1;
        if s.ticket_id != 0 {
            admissions.push((*s, id));
        }
    }
    if !admissions.is_empty() {
        out.double_entries = admit(c, venue, &admissions, now_ms).await?;
    }
    if !tallies.is_empty() {
        let mut gates = Vec::with_capacity(tallies.len());
        let (mut admitted, mut refused) = (Vec::with_capacity(tallies.len()), Vec::with_capacity(tallies.len()));
        for (gate, (a, r)) in tallies {
            gates.push(gate);
            admitted.push(a);
            refused.push(r);
        }
        exec(
            c,
            "INSERT INTO gates (gate_id, venue_code, entrance, last_sync_at_ms, admitted, refused) \
             SELECT g, $2::TEXT, $3::TEXT, $4::BIGINT, a, r FROM UNNEST($1::TEXT[], $5::BIGINT[], $6::BIGINT[]) \
             WITH ORDINALITY AS u(g, a, r, o) ORDER BY o \
             ON CONFLICT (gate_id) DO UPDATE SET venue_code = excluded.venue_code, entrance = excluded.entrance, \
             last_sync_at_ms = excluded.last_sync_at_ms, \
             admitted = gates.admitted + excluded.admitted, refused = gates.refused + excluded.refused",
            &[&gates, &venue, &entrance, &now_ms, &admitted, &refused],
        )
        .await?;
    }
    Ok(out)
}

pub(crate) async fn annul_entry<C: GenericClient>(c: &C, ticket: i64, reason: &str, now_ms: i64) -> Result<FeedEvent> {
    let venue = ticket_venue(c, ticket).await?.ok_or_else(|| StoreError::NotFound(format!("ticket {ticket}")))?;
    lock_feed(c, &venue).await?;
    if exec(c, "DELETE FROM ticket_entries WHERE ticket_id = $1", &[&ticket]).await? == 0 {
        return Err(StoreError::NotFound(format!("an entry of ticket {ticket}")));
    }
    let event = FeedEvent::annulled(ticket, now_ms);
    push_feed(c, &venue, event, Some(reason)).await
}

pub(crate) async fn gate_feed<C: GenericClient>(c: &C, venue: &str, after: i64, limit: i64) -> Result<Vec<FeedEvent>> {
    rows(
        c,
        "SELECT seq, kind, ticket_id, serial, gate_id, at_ms FROM gate_feed \
         WHERE venue_code = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        &[&venue, &after, &limit.max(0)],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(FeedEvent {
            seq: get(r, 0)?,
            kind: parsed(get(r, 1)?, FeedKind::parse)?,
            ticket_id: get(r, 2)?,
            serial: get(r, 3)?,
            gate_id: get(r, 4)?,
            at_ms: get(r, 5)?,
        })
    })
    .collect()
}

pub(crate) async fn venue_gate_data<C: GenericClient>(
    c: &C,
    venue: &str,
    from: Timestamp,
    until: Timestamp,
) -> Result<VenueGateData> {
    let r = row_opt(c, "SELECT id, name, zones FROM venues WHERE code = $1", &[&venue])
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("venue {venue}")))?;
    let (id, venue_name, zones): (i64, String, String) = (get(&r, 0)?, get(&r, 1)?, get(&r, 2)?);
    // Read before the revocations (the SQLite store's reads are not one snapshot): one
    // committed after this read has a larger number, and reaches the gate through the feed.
    let feed_seq: i64 =
        get(&row(c, "SELECT COALESCE(MAX(seq), 0)::BIGINT FROM gate_feed WHERE venue_code = $1", &[&venue]).await?, 0)?;
    let sessions = rows(
        c,
        "SELECT code, title, starts_at, ends_at FROM sessions \
         WHERE venue_id = $1 AND starts_at < $3 AND ends_at > $2 ORDER BY starts_at, code",
        &[&id, &from.0, &until.0],
    )
    .await?
    .iter()
    .map(|r| Ok((get(r, 0)?, get(r, 1)?, Timestamp(get(r, 2)?), Timestamp(get(r, 3)?))))
    .collect::<Result<Vec<_>>>()?;
    let revoked = rows(
        c,
        "SELECT c.ticket_id, c.serial FROM ticket_credentials c JOIN tickets t ON t.id = c.ticket_id \
         JOIN sessions s ON s.id = t.session_id WHERE s.venue_id = $1 AND s.starts_at < $3 AND s.ends_at > $2 \
         AND c.revoked_at IS NOT NULL ORDER BY c.ticket_id, c.serial",
        &[&id, &from.0, &until.0],
    )
    .await?
    .iter()
    .map(|r| Ok((get(r, 0)?, get(r, 1)?)))
    .collect::<Result<Vec<_>>>()?;
    Ok(VenueGateData {
        venue_code: venue.to_string(),
        venue_name,
        zones: tessera_store::zones_from_column(&zones),
        sessions,
        revoked,
        feed_seq,
    })
}

pub(crate) async fn gates<C: GenericClient>(c: &C) -> Result<Vec<GateRecord>> {
    rows(c, "SELECT gate_id, venue_code, entrance, last_sync_at_ms, admitted, refused FROM gates ORDER BY gate_id", &[])
        .await?
        .iter()
        .map(|r| {
            Ok(GateRecord {
                gate_id: get(r, 0)?,
                venue_code: get(r, 1)?,
                entrance: get(r, 2)?,
                last_sync_at_ms: get(r, 3)?,
                admitted: get(r, 4)?,
                refused: get(r, 5)?,
            })
        })
        .collect()
}

pub(crate) async fn gate_figures<C: GenericClient>(c: &C, since_ms: i64) -> Result<GateFigures> {
    let entries_per_minute = rows(
        c,
        "SELECT gate_id, at_ms / 60000 * 60 AS minute, COUNT(*) FROM gate_scans \
         WHERE admitted AND at_ms >= $1 GROUP BY gate_id, minute ORDER BY gate_id, minute",
        &[&since_ms],
    )
    .await?
    .iter()
    .map(|r| Ok((get(r, 0)?, get(r, 1)?, get(r, 2)?)))
    .collect::<Result<Vec<_>>>()?;
    let refusals = rows(
        c,
        "SELECT reason, COUNT(*) AS n FROM gate_scans WHERE NOT admitted AND at_ms >= $1 \
         GROUP BY reason ORDER BY n DESC, reason",
        &[&since_ms],
    )
    .await?
    .iter()
    .map(|r| Ok((get(r, 0)?, get(r, 1)?)))
    .collect::<Result<Vec<_>>>()?;
    let security_events: i64 = get(&row(c, "SELECT COUNT(*) FROM security_events", &[]).await?, 0)?;
    Ok(GateFigures { entries_per_minute, refusals, security_events })
}

pub(crate) async fn security_events<C: GenericClient>(c: &C, limit: i64) -> Result<Vec<SecurityEvent>> {
    const SQL: &str = concat!(event_select!(), " ORDER BY e.id DESC LIMIT $1");
    rows(c, SQL, &[&limit.max(0)]).await?.iter().map(event_row).collect()
}

// The column lists, for the transfers and resale module.
pub(crate) use {listing_select, transfer_select};
