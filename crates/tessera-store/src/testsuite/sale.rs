//! The sale: no oversell, caps and slots under contention, carts, checkout and buy-now with their idempotency keys.

use super::*;
use std::sync::Arc;

pub async fn no_oversell_under_contention(h: Box<dyn Harness>) {
    let store = h.open().await;
    store.import_catalogue(&fixture()).await.unwrap();
    let cat = category_id(&*store, "ATH01", "CAT-A").await; // quota 100
    let mut accounts = Vec::new();
    for i in 0..500 {
        accounts.push(account(&*store, i).await);
    }
    let phase = drawn_phase(&*store, "P1", PhaseSettings::default(), &accounts).await;
    let tasks: Vec<_> = accounts
        .iter()
        .map(|a| {
            let (store, phase, a) = (store.clone(), phase.clone(), *a);
            tokio::spawn(async move { buy(&*store, &phase, a, cat, 1, T0.plus_secs(1)).await })
        })
        .collect();
    let (mut sold, mut refused) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(o) => sold += o.tickets.len(),
            Err(StoreError::SoldOut { .. }) => refused += 1,
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!((sold, refused), (100, 400));
    let s = store.session("ATH01").await.unwrap().unwrap();
    let a = s.categories.iter().find(|c| c.id == cat).unwrap();
    assert_eq!((a.sold, a.held, a.available), (100, 0, 0));
    assert_eq!(store.sales_figures(T0).await.unwrap().tickets_sold, 100);
}

pub async fn caps_hold_under_contention(h: Box<dyn Harness>) {
    let store = h.open().await;
    store.import_catalogue(&fixture()).await.unwrap();
    let ath = category_id(&*store, "ATH01", "CAT-B").await;
    let cer = category_id(&*store, "CER01", "CAT-A").await;
    let bkb = category_id(&*store, "BKB01", "CAT-A").await;
    let a = account(&*store, 1).await;
    let phase = drawn_phase(&*store, "P1", PhaseSettings::default(), &[a]).await;
    let now = T0.plus_secs(1);

    // Twenty simultaneous requests for one seat each of one session: exactly 6 pass.
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (store, r) = (store.clone(), reserve_req(&phase, a, ath, 1, now));
            tokio::spawn(async move { store.reserve(&r).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::Cap(_)) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok, 6, "per-session cap of 6");
    assert!(matches!(store.reserve(&reserve_req(&phase, a, cer, 5, now)).await, Err(StoreError::Cap(_))));
    store.reserve(&reserve_req(&phase, a, cer, 4, now)).await.unwrap();
    assert!(matches!(store.reserve(&reserve_req(&phase, a, cer, 1, now)).await, Err(StoreError::Cap(_))));
    for bad in [0, -1] {
        assert!(matches!(store.reserve(&reserve_req(&phase, a, bkb, bad, now)).await, Err(StoreError::Cap(_))));
    }

    // The 30-per-account cap counts paid tickets too, across phases.
    let cart = store.current_cart(a, phase.id, now).await.unwrap().unwrap();
    assert_eq!(cart.ticket_count(), 10);
    store.begin_checkout(&begin(a, &cart, "k1", "h", now)).await.unwrap();
    store.complete_checkout(&complete(a, cart.id, "k1", now)).await.unwrap();
    let wide = PhaseSettings {
        caps: tessera_domain::caps::Caps { per_session: 30, ..Default::default() },
        ..PhaseSettings::default()
    };
    let p2 = drawn_phase(&*store, "P2", wide, &[a]).await;
    assert!(matches!(store.reserve(&reserve_req(&p2, a, bkb, 21, now)).await, Err(StoreError::Cap(_))));
    store.reserve(&reserve_req(&p2, a, bkb, 20, now)).await.unwrap();
    let s = store.session("ATH01").await.unwrap().unwrap();
    assert_eq!(s.categories.iter().find(|c| c.id == ath).unwrap().sold, 6);
}

pub async fn purchases_only_inside_the_slot(h: Box<dyn Harness>) {
    let store = h.open().await;
    store.import_catalogue(&fixture()).await.unwrap();
    let cat = category_id(&*store, "BKB01", "CAT-A").await;
    let winner = account(&*store, 1).await;
    let loser = account(&*store, 2).await;
    let phase = drawn_phase(&*store, "P1", PhaseSettings::default(), &[winner]).await;
    let before = T0.plus_secs(-1);
    let after = T0.plus_secs(48 * 3600);
    assert!(matches!(
        store.reserve(&reserve_req(&phase, winner, cat, 1, before)).await,
        Err(StoreError::OutsideSlot(_))
    ));
    assert!(matches!(
        store.reserve(&reserve_req(&phase, winner, cat, 1, after)).await,
        Err(StoreError::OutsideSlot(_))
    ));
    assert!(matches!(store.reserve(&reserve_req(&phase, loser, cat, 1, T0)).await, Err(StoreError::OutsideSlot(_))));
    // A cart filled in the slot's last minute cannot be paid after the slot.
    let cart = store.reserve(&reserve_req(&phase, winner, cat, 2, after.plus_secs(-60))).await.unwrap();
    let r = store.begin_checkout(&begin(winner, &cart, "k", "h", after)).await;
    assert!(matches!(r, Err(StoreError::OutsideSlot(_))), "{r:?}");
    assert_eq!(store.sales_figures(T0).await.unwrap().tickets_sold, 0);
}

pub async fn cart_expiry_returns_seats(h: Box<dyn Harness>) {
    let store = h.open().await;
    store.import_catalogue(&fixture()).await.unwrap();
    let cat = category_id(&*store, "ATH01", "CAT-A").await; // quota 100
    let mut accounts = Vec::new();
    for i in 0..20 {
        accounts.push(account(&*store, i).await);
    }
    let phase = drawn_phase(&*store, "P1", PhaseSettings::default(), &accounts).await;
    let ttl = phase.settings.cart_ttl_secs;
    let mut carts = Vec::new();
    for a in &accounts[..16] {
        carts.push(store.reserve(&reserve_req(&phase, *a, cat, 6, T0)).await.unwrap());
    }
    // 96 of 100 held: 4 left.
    let late = accounts[17];
    assert!(matches!(
        store.reserve(&reserve_req(&phase, late, cat, 6, T0.plus_secs(1))).await,
        Err(StoreError::SoldOut { available: 4 })
    ));
    // Once the holds run out, a buyer gets the seats: the reservation itself releases them.
    let later = T0.plus_secs(ttl);
    store.reserve(&reserve_req(&phase, late, cat, 6, later)).await.unwrap();
    let held = |store: Arc<dyn Store>| async move {
        let s = store.session("ATH01").await.unwrap().unwrap();
        let a = s.categories.iter().find(|x| x.id == cat).unwrap().clone();
        (a.held, a.sold, a.available)
    };
    assert_eq!(held(store.clone()).await, (6, 0, 94));
    let r = store.begin_checkout(&begin(accounts[1], &carts[1], "k", "h", later)).await;
    assert!(matches!(r, Err(StoreError::CartExpired)), "{r:?}");

    // The sweeper releases holds nobody competes for, including a cart still in payment
    // when the payment window has passed; such a cart can no longer complete.
    let bkb = category_id(&*store, "BKB01", "CAT-A").await;
    store.reserve(&reserve_req(&phase, accounts[18], bkb, 3, later)).await.unwrap();
    let c2 = store.reserve(&reserve_req(&phase, accounts[19], cat, 2, later)).await.unwrap();
    store.begin_checkout(&begin(accounts[19], &c2, "k2", "h", later)).await.unwrap();
    assert_eq!(store.release_expired(later.plus_secs(ttl - 1)).await.unwrap(), 0);
    assert_eq!(store.release_expired(later.plus_secs(ttl)).await.unwrap(), 3);
    let r = store.complete_checkout(&complete(accounts[19], c2.id, "k2", later)).await;
    assert!(matches!(r, Err(StoreError::CartExpired)), "{r:?}");
    assert_eq!(held(store.clone()).await, (0, 0, 100));
    let b = store.session("BKB01").await.unwrap().unwrap();
    assert_eq!((b.categories[0].held, b.categories[0].available), (0, 1000));
    assert_eq!(store.sales_figures(later).await.unwrap().tickets_sold, 0);
}

pub async fn checkout_is_idempotent(h: Box<dyn Harness>) {
    let store = h.open().await;
    store.import_catalogue(&fixture()).await.unwrap();
    let cat = category_id(&*store, "BKB01", "CAT-A").await;
    let a = account(&*store, 1).await;
    let other = account(&*store, 2).await;
    let phase = drawn_phase(&*store, "P1", PhaseSettings::default(), &[a, other]).await;
    let now = T0.plus_secs(5);
    let cart = store.reserve(&reserve_req(&phase, a, cat, 3, now)).await.unwrap();
    assert_eq!(cart.total(), Cents(3 * 4500));

    // Someone else's cart is not yours.
    assert!(matches!(store.begin_checkout(&begin(other, &cart, "x", "h", now)).await, Err(StoreError::NotFound(_))));
    // Nor is it paid through another phase than its own (that phase's waiting room, slot and
    // caps are not the ones the seats were held under).
    let mut elsewhere = begin(a, &cart, "x", "h", now);
    elsewhere.phase = PhaseId(cart.phase_id.0 + 1);
    assert!(matches!(store.begin_checkout(&elsewhere).await, Err(StoreError::NotFound(_))));

    // A declined payment is remembered under its key; the cart stays open.
    assert!(matches!(store.begin_checkout(&begin(a, &cart, "k1", "h1", now)).await.unwrap(), BeginOutcome::Started(_)));
    assert_eq!(store.begin_checkout(&begin(a, &cart, "k1", "h1", now)).await.unwrap(), BeginOutcome::InProgress);
    let declined = Refusal { code: ErrorCode::CardDeclined, message: "declined".into() };
    store.fail_checkout(a, "k1", cart.id, &declined).await.unwrap();
    let replay = store.begin_checkout(&begin(a, &cart, "k1", "h1", now)).await.unwrap();
    assert_eq!(replay, BeginOutcome::Replay(Remembered::Failed(declined.clone())));
    assert_eq!(store.begin_checkout(&begin(a, &cart, "k1", "other-body", now)).await.unwrap(), BeginOutcome::KeyReused);

    // A lost answer from the provider: the key is forgotten and the same key can try again.
    assert!(matches!(store.begin_checkout(&begin(a, &cart, "k2", "h2", now)).await.unwrap(), BeginOutcome::Started(_)));
    store.abort_checkout(a, "k2", cart.id).await.unwrap();
    assert!(matches!(store.begin_checkout(&begin(a, &cart, "k2", "h2", now)).await.unwrap(), BeginOutcome::Started(_)));
    let order = store.complete_checkout(&complete(a, cart.id, "k2", now)).await.unwrap();
    assert_eq!((order.tickets.len(), order.total), (3, Cents(13_500)));
    // Completing twice does not issue twice.
    assert!(store.complete_checkout(&complete(a, cart.id, "k2", now)).await.is_err());
    // Retrying the paid checkout replays the same order.
    assert_eq!(
        store.begin_checkout(&begin(a, &cart, "k2", "h2", now)).await.unwrap(),
        BeginOutcome::Replay(Remembered::Paid(order.clone()))
    );
    // A new key on a paid cart is refused.
    assert!(matches!(store.begin_checkout(&begin(a, &cart, "k3", "h3", now)).await, Err(StoreError::State(_))));
    assert_eq!(store.orders(a).await.unwrap(), vec![order]);
    let s = store.session("BKB01").await.unwrap().unwrap();
    assert_eq!((s.categories[0].sold, s.categories[0].held), (3, 0));
}

pub async fn pack_rule(h: Box<dyn Harness>) {
    let store = h.open().await;
    store.import_catalogue(&fixture()).await.unwrap();
    let a = account(&*store, 1).await;
    let settings = PhaseSettings {
        caps: tessera_domain::caps::Caps { min_sessions_per_order: 2, ..Default::default() },
        ..PhaseSettings::default()
    };
    let phase = drawn_phase(&*store, "P1", settings, &[a]).await;
    let now = T0.plus_secs(1);
    let cart =
        store.reserve(&reserve_req(&phase, a, category_id(&*store, "BKB01", "CAT-A").await, 2, now)).await.unwrap();
    let mut b = begin(a, &cart, "k", "h", now);
    b.min_sessions_per_order = 2;
    assert!(matches!(store.begin_checkout(&b).await, Err(StoreError::Cap(_))));
    store.reserve(&reserve_req(&phase, a, category_id(&*store, "ATH01", "CAT-B").await, 1, now)).await.unwrap();
    assert!(matches!(store.begin_checkout(&b).await.unwrap(), BeginOutcome::Started(_)));
}

pub async fn restart_keeps_paid_orders(h: Box<dyn Harness>) {
    let orders = {
        let store = h.open().await;
        store.import_catalogue(&fixture()).await.unwrap();
        let cat = category_id(&*store, "BKB01", "CAT-A").await;
        let mut accounts = Vec::new();
        for i in 0..10 {
            accounts.push(account(&*store, i).await);
        }
        let phase = drawn_phase(&*store, "P1", PhaseSettings::default(), &accounts).await;
        let mut orders = Vec::new();
        for a in accounts {
            orders.push(buy(&*store, &phase, a, cat, 2, T0.plus_secs(1)).await.unwrap());
        }
        orders
    };
    let store = h.open().await;
    for o in &orders {
        assert_eq!(store.orders(o.account_id).await.unwrap(), vec![o.clone()]);
    }
    let s = store.session("BKB01").await.unwrap().unwrap();
    assert_eq!(s.categories[0].sold, 20);
}

pub(super) fn sell(
    phase: &Phase,
    account: AccountId,
    items: Vec<(CategoryId, i64)>,
    total: i64,
    key: &str,
    now: Timestamp,
) -> SellNow {
    SellNow {
        account,
        phase: phase.id,
        items,
        caps: phase.settings.caps,
        idempotency_key: key.into(),
        request_hash: format!("hash-{key}"),
        total: Cents(total),
        order_code: format!("ORD-{}-{key}", account.0),
        payment_ref: format!("auth-{key}"),
        ticket_codes: (0..60).map(|i| format!("T-{}-{key}-{i}", account.0)).collect(),
        now,
    }
}

pub async fn sell_now_is_atomic_and_idempotent(h: Box<dyn Harness>) {
    let store = h.open().await;
    store.import_catalogue(&fixture()).await.unwrap();
    let bkb = category_id(&*store, "BKB01", "CAT-A").await; // 4500
    let ath = category_id(&*store, "ATH01", "CAT-B").await; // 2400
    let cer = category_id(&*store, "CER01", "CAT-A").await;
    let a = account(&*store, 1).await;
    let outsider = account(&*store, 2).await;
    let phase = drawn_phase(&*store, "P1", PhaseSettings::default(), &[a]).await;
    let now = T0.plus_secs(1);
    let figures = |store: Arc<dyn Store>| async move {
        let c = store.catalogue_stats().await.unwrap();
        (c.sold, c.held, store.sales_figures(now).await.unwrap().paid_orders)
    };
    let before = figures(store.clone()).await;
    // A refused item refuses the whole sale: nothing is sold.
    for (items, key) in [(vec![(bkb, 2), (cer, 5)], "cap"), (vec![(bkb, 2), (CategoryId(999_999), 1)], "unknown")] {
        let total = 2 * 4500 + 27000 * items[1].1;
        assert!(store.sell_now(&sell(&phase, a, items, total, key, now)).await.is_err());
    }
    assert!(matches!(
        store.sell_now(&sell(&phase, outsider, vec![(bkb, 1)], 4500, "o", now)).await,
        Err(StoreError::OutsideSlot(_))
    ));
    assert!(matches!(
        store.sell_now(&sell(&phase, a, vec![(bkb, 1)], 4501, "price", now)).await,
        Err(StoreError::State(_))
    ));
    assert_eq!(figures(store.clone()).await, before);

    let req = sell(&phase, a, vec![(bkb, 2), (ath, 1)], 2 * 4500 + 2400, "k1", now);
    let SellOutcome::Sold(order) = store.sell_now(&req).await.unwrap() else { panic!("not sold") };
    assert_eq!((order.tickets.len(), order.total), (3, Cents(11_400)));
    assert_eq!(store.orders(a).await.unwrap(), vec![order.clone()]);
    // The same key again: the same order, nothing sold twice; with another body: refused.
    assert_eq!(store.sell_now(&req).await.unwrap(), SellOutcome::Replay(Remembered::Paid(order.clone())));
    let mut other = req.clone();
    other.request_hash = "other".into();
    assert_eq!(store.sell_now(&other).await.unwrap(), SellOutcome::KeyReused);
    // The same answers read without a write, as every purchase path asks first.
    assert_eq!(
        store.known_key(a, "k1", &req.request_hash).await.unwrap(),
        Some(BeginOutcome::Replay(Remembered::Paid(order.clone())))
    );
    assert_eq!(store.known_key(a, "k1", "other").await.unwrap(), Some(BeginOutcome::KeyReused));
    assert_eq!(store.known_key(a, "never-used", "h").await.unwrap(), None);
    assert_eq!(store.known_key(outsider, "k1", &req.request_hash).await.unwrap(), None, "keys are per account");
    assert_eq!(figures(store.clone()).await, (before.0 + 3, 0, before.2 + 1));
    // Caps count what was bought: 6 per session.
    assert!(matches!(
        store.sell_now(&sell(&phase, a, vec![(bkb, 5)], 5 * 4500, "k2", now)).await,
        Err(StoreError::Cap(_))
    ));
    // A remembered refusal answers the same to a retry.
    let declined = Refusal { code: ErrorCode::CardDeclined, message: "declined".into() };
    store.remember_refusal(a, "k3", "hash-k3", &declined, now).await.unwrap();
    assert_eq!(
        store.sell_now(&sell(&phase, a, vec![(bkb, 1)], 4500, "k3", now)).await.unwrap(),
        SellOutcome::Replay(Remembered::Failed(declined.clone()))
    );
    // The readiness probe writes and commits, again and again.
    store.ping_write(now).await.unwrap();
    store.ping_write(now.plus_secs(1)).await.unwrap();
}

pub async fn sell_now_never_oversells(h: Box<dyn Harness>) {
    let store = h.open().await;
    store.import_catalogue(&fixture()).await.unwrap();
    let cat = category_id(&*store, "ATH01", "CAT-A").await; // quota 100, 8500
    let mut accounts = Vec::new();
    for i in 0..300 {
        accounts.push(account(&*store, i).await);
    }
    let phase = drawn_phase(&*store, "P1", PhaseSettings::default(), &accounts).await;
    // A third of the seats sit in carts that have run out: selling must reclaim them.
    for a in &accounts[..10] {
        store.reserve(&reserve_req(&phase, *a, cat, 3, T0)).await.unwrap();
    }
    let later = T0.plus_secs(phase.settings.cart_ttl_secs + 1);
    let tasks: Vec<_> = accounts
        .iter()
        .map(|a| {
            let (store, req) = (store.clone(), sell(&phase, *a, vec![(cat, 1)], 8500, "buy", later));
            tokio::spawn(async move { store.sell_now(&req).await })
        })
        .collect();
    let (mut sold, mut refused) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(SellOutcome::Sold(o)) => sold += o.tickets.len(),
            Err(StoreError::SoldOut { .. }) => refused += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((sold, refused), (100, 200));
    let s = store.session("ATH01").await.unwrap().unwrap();
    let c = s.categories.iter().find(|c| c.id == cat).unwrap();
    assert_eq!((c.sold, c.held, c.available), (100, 0, 0));
}
