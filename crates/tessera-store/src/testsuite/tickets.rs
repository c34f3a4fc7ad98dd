//! Phone tickets: credentials, holdings, transfers and resale.

use super::*;
use tessera_domain::caps::CapViolation;

/// Sells `qty` seats of a category to `a` at once, as "buy now" does; returns the tickets.
pub(super) async fn tickets(
    store: &dyn Store,
    phase: &Phase,
    a: AccountId,
    cat: CategoryId,
    qty: i64,
    key: &str,
) -> Vec<Ticket> {
    let price = store.category_price(cat).await.unwrap().expect("category exists").price.0;
    match store.sell_now(&sell(phase, a, vec![(cat, qty)], price * qty, key, T0.plus_secs(1))).await.unwrap() {
        SellOutcome::Sold(order) => order.tickets,
        other => panic!("not sold: {other:?}"),
    }
}

const ISSUED_AT: Timestamp = Timestamp(T0.0 + 10);

pub(super) fn credential(ticket: TicketId, account: AccountId, serial: i64, replace: bool) -> IssueCredential {
    IssueCredential {
        ticket_id: ticket,
        account,
        record: CredentialRecord {
            serial,
            device_key: vec![2; 33],
            key_id: 3,
            pass: vec![serial as u8; 16],
            issued_at: ISSUED_AT,
        },
        replace,
        max_issues: 2,
        now: ISSUED_AT,
    }
}

pub(super) fn revoked(ticket: TicketId, serial: i64) -> (FeedKind, i64, i64, String, i64) {
    (FeedKind::Revoked, ticket.0, serial, String::new(), ISSUED_AT.0 * 1000)
}

/// A venue's whole feed, without the sequence numbers.
pub(super) async fn feed(store: &dyn Store, venue: &str) -> Vec<(FeedKind, i64, i64, String, i64)> {
    let events = store.gate_feed(venue, 0, 1000).await.unwrap();
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq), "the feed is in order");
    events.into_iter().map(|e| (e.kind, e.ticket_id, e.serial, e.gate_id, e.at_ms)).collect()
}

/// Tight caps, so that refusals are easy to provoke: 3 tickets per account, 2 per session,
/// 1 per ceremony.
pub(super) fn tight() -> PhaseSettings {
    let caps =
        tessera_domain::caps::Caps { per_account: 3, per_session: 2, per_ceremony: 1, min_sessions_per_order: 1 };
    PhaseSettings { caps, ..PhaseSettings::default() }
}

pub async fn phone_credentials_and_holdings(h: Box<dyn Harness>) {
    let store = h.open().await;
    store.import_catalogue(&fixture()).await.unwrap();
    let bkb = category_id(&*store, "BKB01", "CAT-A").await;
    let ath = category_id(&*store, "ATH01", "CAT-B").await;
    let (a, b) = (account(&*store, 1).await, account(&*store, 2).await);
    let phase = drawn_phase(&*store, "P1", PhaseSettings::default(), &[a, b]).await;
    let mine = tickets(&*store, &phase, a, bkb, 2, "a1").await;
    let theirs = tickets(&*store, &phase, b, bkb, 1, "b1").await;
    let athletics = tickets(&*store, &phase, a, ath, 1, "a2").await;

    let held = store.holdings(a).await.unwrap();
    assert_eq!(held.iter().map(|h| h.ticket_id).collect::<Vec<_>>(), vec![mine[0].id, mine[1].id, athletics[0].id]);
    let first = &held[0];
    assert_eq!(
        (first.code.as_str(), first.account_id, first.holder_name.as_str()),
        (mine[0].code.as_str(), a, "Fan 1")
    );
    assert_eq!(
        (first.session_code.as_str(), first.venue_code.as_str(), first.venue_name.as_str()),
        ("BKB01", "BRC", "Venue BRC")
    );
    assert_eq!(
        (first.category_code.as_str(), first.price, first.zones.clone()),
        ("CAT-A", Cents(4500), vec!["Gate A".into(), "Gate B".into()])
    );
    assert_eq!(held.iter().map(|h| h.seat_rank).collect::<Vec<_>>(), vec![0, 1, 0], "rank within the category");
    assert!(first.credential.is_none() && first.pending_transfer.is_none() && first.listing.is_none());
    let other = store.holding(&theirs[0].code).await.unwrap().expect("any holder's ticket");
    assert_eq!((other.account_id, other.holder_name.as_str(), other.seat_rank), (b, "Fan 2", 2));
    assert!(store.holding("T-NOPE").await.unwrap().is_none());

    // Only the holder activates; once, then again only as a replacement, at most twice.
    let t = mine[0].id;
    assert!(matches!(store.issue_credential(&credential(t, b, 1, false)).await, Err(StoreError::NotFound(_))));
    assert!(matches!(
        store.issue_credential(&credential(TicketId(999_999), a, 1, false)).await,
        Err(StoreError::NotFound(_))
    ));
    let c1 = store.issue_credential(&credential(t, a, 1, false)).await.unwrap();
    assert_eq!(store.holding(&mine[0].code).await.unwrap().unwrap().credential, Some(c1));
    let again = store.issue_credential(&credential(t, a, 2, false)).await;
    assert!(matches!(&again, Err(StoreError::Conflict(m)) if m.contains("already activated")), "{again:?}");
    assert!(feed(&*store, "BRC").await.is_empty(), "a refusal revokes nothing");
    let c2 = store.issue_credential(&credential(t, a, 2, true)).await.unwrap();
    assert_eq!(store.holding(&mine[0].code).await.unwrap().unwrap().credential, Some(c2.clone()));
    assert_eq!(feed(&*store, "BRC").await, vec![revoked(t, 1)]);
    let third = store.issue_credential(&credential(t, a, 3, true)).await;
    assert!(matches!(third, Err(StoreError::State(_))), "{third:?}");
    assert_eq!(store.holding(&mine[0].code).await.unwrap().unwrap().credential, Some(c2), "the refusal kept the phone");
    assert_eq!(feed(&*store, "BRC").await.len(), 1);

    let data = store.venue_gate_data("BRC", T0, T0.plus_secs(3 * 86_400)).await.unwrap();
    assert_eq!(data.revoked, vec![(t.0, 1)]);
    assert_eq!(data.feed_seq, store.gate_feed("BRC", 0, 10).await.unwrap()[0].seq);
}

pub async fn transfers_respect_caps(h: Box<dyn Harness>) {
    let store = h.open().await;
    store.import_catalogue(&fixture()).await.unwrap();
    let bkb = category_id(&*store, "BKB01", "CAT-A").await;
    let ath = category_id(&*store, "ATH01", "CAT-B").await;
    let cer = category_id(&*store, "CER01", "CAT-A").await;
    let mut fans = Vec::new();
    for i in 1..=4 {
        fans.push(account(&*store, i).await);
    }
    let (a, b, c, d) = (fans[0], fans[1], fans[2], fans[3]);
    let phase = drawn_phase(&*store, "P1", tight(), &fans).await;
    let t = tickets(&*store, &phase, a, bkb, 1, "a").await.remove(0);
    tickets(&*store, &phase, b, bkb, 2, "b").await; // at the per-session cap
    tickets(&*store, &phase, c, ath, 2, "c1").await;
    tickets(&*store, &phase, c, cer, 1, "c2").await; // at the per-account cap
    store.issue_credential(&credential(t.id, a, 1, false)).await.unwrap();
    let email = |n: usize| Email::parse(&format!("fan{n}@example.org")).unwrap();
    let now = T0.plus_secs(100);

    let unknown = Email::parse("nobody@example.org").unwrap();
    assert!(matches!(store.create_transfer(&t.code, a, &unknown, now).await, Err(StoreError::NotFound(_))));
    assert!(matches!(store.create_transfer(&t.code, a, &email(1), now).await, Err(StoreError::Conflict(_))));
    assert!(matches!(store.create_transfer(&t.code, b, &email(3), now).await, Err(StoreError::NotFound(_))));

    let x = store.create_transfer(&t.code, a, &email(2), now).await.unwrap();
    assert_eq!(
        (x.status, x.from_name.as_str(), x.to_email.as_str()),
        (TransferStatus::Pending, "Fan 1", "fan2@example.org")
    );
    assert_eq!((x.ticket_code.as_str(), x.session_code.as_str(), x.to_account), (t.code.as_str(), "BKB01", b));
    assert_eq!(store.transfers(a).await.unwrap(), vec![x.clone()]);
    assert_eq!(store.transfers(b).await.unwrap(), vec![x.clone()]);
    assert_eq!(store.holding(&t.code).await.unwrap().unwrap().pending_transfer, Some(x.clone()));
    assert!(matches!(store.create_transfer(&t.code, a, &email(3), now).await, Err(StoreError::Conflict(_))));
    assert!(matches!(store.issue_credential(&credential(t.id, a, 2, true)).await, Err(StoreError::Conflict(_))));
    assert!(matches!(store.list_for_resale(&t.code, a, Cents(0), Cents(0), now).await, Err(StoreError::Conflict(_))));

    // A recipient at a cap is refused, and the refusal changes nothing.
    let r = store.accept_transfer(x.id, b, now).await;
    assert!(matches!(r, Err(StoreError::Cap(CapViolation::PerSession { cap: 2, held: 2, requested: 1, .. }))), "{r:?}");
    let still = store.holding(&t.code).await.unwrap().unwrap();
    assert_eq!((still.account_id, still.pending_transfer.is_some(), still.credential.is_some()), (a, true, true));
    assert!(feed(&*store, "BRC").await.is_empty());

    assert!(matches!(store.cancel_transfer(x.id, b, now).await, Err(StoreError::NotFound(_))));
    let cancelled = store.cancel_transfer(x.id, a, now).await.unwrap();
    assert_eq!((cancelled.status, cancelled.closed_at), (TransferStatus::Cancelled, Some(now)));
    assert!(matches!(store.cancel_transfer(x.id, a, now).await, Err(StoreError::State(_))));
    assert!(matches!(store.accept_transfer(x.id, b, now).await, Err(StoreError::State(_))));
    assert!(store.transfers(a).await.unwrap().is_empty());

    let y = store.create_transfer(&t.code, a, &email(3), now).await.unwrap();
    let r = store.accept_transfer(y.id, c, now).await;
    assert!(matches!(r, Err(StoreError::Cap(CapViolation::PerAccount { cap: 3, held: 3, requested: 1 }))), "{r:?}");
    store.cancel_transfer(y.id, a, now).await.unwrap();

    let z = store.create_transfer(&t.code, a, &email(4), now).await.unwrap();
    assert!(matches!(store.accept_transfer(z.id, c, now).await, Err(StoreError::NotFound(_))), "not the recipient");
    let later = now.plus_secs(5);
    let accepted = store.accept_transfer(z.id, d, later).await.unwrap();
    assert_eq!((accepted.status, accepted.closed_at), (TransferStatus::Accepted, Some(later)));
    assert!(store.holdings(a).await.unwrap().is_empty());
    let moved = store.holdings(d).await.unwrap();
    assert_eq!((moved.len(), moved[0].holder_name.as_str()), (1, "Fan 4"));
    assert!(moved[0].credential.is_none() && moved[0].pending_transfer.is_none(), "the sender's phone is void");
    assert_eq!(feed(&*store, "BRC").await, vec![(FeedKind::Revoked, t.id.0, 1, String::new(), later.0 * 1000)]);
    assert_eq!(store.orders(a).await.unwrap()[0].account_id, a, "the order keeps its buyer");
    // The new holder activates it, on the count of their own issuances.
    store.issue_credential(&credential(t.id, d, 5, false)).await.unwrap();
}

pub async fn resale_at_face_value(h: Box<dyn Harness>) {
    let store = h.open().await;
    store.import_catalogue(&fixture()).await.unwrap();
    let bkb = category_id(&*store, "BKB01", "CAT-A").await;
    let mut fans = Vec::new();
    for i in 1..=3 {
        fans.push(account(&*store, i).await);
    }
    let (a, b, c) = (fans[0], fans[1], fans[2]);
    let phase = drawn_phase(&*store, "P1", tight(), &fans).await;
    let t = tickets(&*store, &phase, a, bkb, 1, "a").await.remove(0);
    tickets(&*store, &phase, b, bkb, 2, "b").await; // at the per-session cap
    store.issue_credential(&credential(t.id, a, 1, false)).await.unwrap();
    let now = T0.plus_secs(100);

    assert!(matches!(
        store.list_for_resale(&t.code, b, Cents(300), Cents(200), now).await,
        Err(StoreError::NotFound(_))
    ));
    let l = store.list_for_resale(&t.code, a, Cents(300), Cents(200), now).await.unwrap();
    assert_eq!(
        (l.price, l.buyer_fee, l.seller_fee, l.status),
        (Cents(4500), Cents(300), Cents(200), ListingStatus::Open)
    );
    assert_eq!(
        (l.ticket_code.as_str(), l.session_code.as_str(), l.seller, l.buyer),
        (t.code.as_str(), "BKB01", a, None)
    );
    assert_eq!(store.listing(l.id).await.unwrap(), Some(l.clone()));
    assert!(store.listing(999_999).await.unwrap().is_none());
    assert_eq!(store.holding(&t.code).await.unwrap().unwrap().listing, Some(l.clone()));
    assert!(matches!(store.list_for_resale(&t.code, a, Cents(0), Cents(0), now).await, Err(StoreError::Conflict(_))));
    let email2 = Email::parse("fan2@example.org").unwrap();
    assert!(matches!(store.create_transfer(&t.code, a, &email2, now).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.open_listings(None, 10).await.unwrap(), vec![l.clone()]);
    assert_eq!(store.open_listings(Some("BKB01"), 10).await.unwrap(), vec![l.clone()]);
    assert!(store.open_listings(Some("ATH01"), 10).await.unwrap().is_empty());

    let buy = |buyer, listing| BuyResale { listing, buyer, payment_ref: format!("resale-{}", buyer), now };
    assert!(matches!(store.buy_resale(&buy(a, l.id)).await, Err(StoreError::Conflict(_))), "own listing");
    let r = store.buy_resale(&buy(b, l.id)).await;
    assert!(matches!(r, Err(StoreError::Cap(CapViolation::PerSession { .. }))), "{r:?}");
    assert_eq!(store.listing(l.id).await.unwrap(), Some(l.clone()), "a refusal changes nothing");
    assert_eq!(store.holding(&t.code).await.unwrap().unwrap().account_id, a);
    assert!(matches!(store.buy_resale(&buy(c, 999_999)).await, Err(StoreError::NotFound(_))));

    assert!(matches!(store.cancel_listing(l.id, b, now).await, Err(StoreError::NotFound(_))));
    let cancelled = store.cancel_listing(l.id, a, now).await.unwrap();
    assert_eq!((cancelled.status, cancelled.closed_at), (ListingStatus::Cancelled, Some(now)));
    assert!(matches!(store.cancel_listing(l.id, a, now).await, Err(StoreError::State(_))));
    assert!(matches!(store.buy_resale(&buy(c, l.id)).await, Err(StoreError::State(_))));
    assert!(store.open_listings(None, 10).await.unwrap().is_empty());

    let l = store.list_for_resale(&t.code, a, Cents(300), Cents(200), now).await.unwrap();
    let sold = store.buy_resale(&buy(c, l.id)).await.unwrap();
    assert_eq!(
        (sold.status, sold.buyer, sold.payment_ref.as_deref()),
        (ListingStatus::Sold, Some(c), Some("resale-3"))
    );
    assert_eq!(sold.closed_at, Some(now));
    let h = store.holding(&t.code).await.unwrap().unwrap();
    assert_eq!((h.account_id, h.credential.is_none(), h.listing.is_none()), (c, true, true));
    assert_eq!(feed(&*store, "BRC").await, vec![(FeedKind::Revoked, t.id.0, 1, String::new(), now.0 * 1000)]);
    assert!(matches!(store.buy_resale(&buy(b, l.id)).await, Err(StoreError::State(_))), "sold once");

    // A ticket used at the gate can no longer change hands: not offered before, not after,
    // not for sale (its new holder would be refused at the gate as already used).
    let offered = store.create_transfer(&t.code, c, &email2, now).await.unwrap();
    let entry = ScanRecord { ticket_id: t.id.0, ..scan("G1", 1, true, 1_000) };
    store.record_scans("BRC", "Gate A", &[entry], 2_000).await.unwrap();
    fn used<T>(r: &Result<T>) -> bool {
        matches!(r, Err(StoreError::Conflict(m)) if m.contains("already been used"))
    }
    let accepted = store.accept_transfer(offered.id, b, now).await;
    assert!(used(&accepted), "{accepted:?}");
    store.cancel_transfer(offered.id, c, now).await.unwrap();
    let transfer = store.create_transfer(&t.code, c, &email2, now).await;
    assert!(used(&transfer), "{transfer:?}");
    let listing = store.list_for_resale(&t.code, c, Cents(0), Cents(0), now).await;
    assert!(used(&listing), "{listing:?}");
    assert_eq!(store.holding(&t.code).await.unwrap().unwrap().account_id, c);
}
