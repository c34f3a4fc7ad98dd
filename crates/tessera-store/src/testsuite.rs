//! The conformance suite: every backend runs these same tests (quickwit's metastore suite is
//! the model). A backend's test file calls [`conformance_suite!`] with an async function that
//! returns a [`Harness`], or `None` (after saying so loudly) when its database is unavailable.

use crate::*;
use std::sync::Arc;
use tessera_domain::caps::CapViolation;
use tessera_domain::catalogue::{PriceCategory, Session, Venue};
use tessera_domain::lottery::SlotAssignment;

/// Opens the same database again and again, so that a test can simulate a restart.
#[async_trait]
pub trait Harness: Send + Sync {
    async fn open(&self) -> Arc<dyn Store>;
}

#[macro_export]
macro_rules! conformance_suite {
    ($make:path) => {
        $crate::conformance_suite!(@tests $make;
            catalogue_import_is_atomic, accounts_and_sign_in_sessions, mail_outbox,
            lottery_lifecycle, no_oversell_under_contention, caps_hold_under_contention,
            purchases_only_inside_the_slot, cart_expiry_returns_seats, checkout_is_idempotent,
            pack_rule, restart_keeps_paid_orders, sell_now_is_atomic_and_idempotent, sell_now_never_oversells,
            waiting_rooms_and_edge_decisions, phone_credentials_and_holdings, transfers_respect_caps,
            resale_at_face_value, gate_scans_entries_and_feed, payment_records_follow_their_state_machine,
            gate_revocations_only_move_later);
    };
    (@tests $make:path; $($name:ident),*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            match $make().await {
                Some(h) => $crate::testsuite::$name(h).await,
                None => eprintln!("SKIPPED {}: backend unavailable", stringify!($name)),
            }
        }
    )*};
}

pub const T0: Timestamp = Timestamp(1_722_000_000);

fn code(s: &str) -> Code {
    Code::parse(s).unwrap()
}

/// Two venues, three sessions (one a ceremony), categories with small quotas.
pub fn fixture() -> Catalogue {
    let venue = |c: &str, cap| Venue {
        code: code(c),
        name: format!("Venue {c}"),
        city: "Paris".into(),
        capacity: cap,
        zones: vec!["Gate A".into(), "Gate B".into()],
    };
    let session = |c: &str, v: &str, ceremony| Session {
        code: code(c),
        sport: if ceremony { "Ceremony".into() } else { "Athletics".into() },
        title: format!("Session {c}"),
        venue: code(v),
        starts_at: T0.plus_secs(86_400),
        ends_at: T0.plus_secs(86_400 + 7200),
        ceremony,
    };
    let cat = |s: &str, c: &str, price, quota| PriceCategory {
        session: code(s),
        code: code(c),
        name: format!("Category {c}"),
        price: Cents(price),
        quota,
    };
    Catalogue {
        venues: vec![venue("STF", 80_000), venue("BRC", 20_000)],
        sessions: vec![session("ATH01", "STF", false), session("BKB01", "BRC", false), session("CER01", "STF", true)],
        categories: vec![
            cat("ATH01", "CAT-A", 8500, 100),
            cat("ATH01", "CAT-B", 2400, 1000),
            cat("BKB01", "CAT-A", 4500, 1000),
            cat("CER01", "CAT-A", 27000, 1000),
        ],
    }
}

pub async fn category_id(store: &dyn Store, session: &str, cat: &str) -> CategoryId {
    let s = store.session(session).await.unwrap().expect("session exists");
    s.categories.iter().find(|c| c.code == cat).expect("category exists").id
}

async fn account(store: &dyn Store, n: usize) -> AccountId {
    store
        .create_account(&NewAccount {
            email: Email::parse(&format!("fan{n}@example.org")).unwrap(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            display_name: format!("Fan {n}"),
            role: Role::Fan,
            now: T0,
        })
        .await
        .unwrap()
        .id
}

/// A drawn phase in which the given accounts hold slots open from T0 for 48 hours.
async fn drawn_phase(store: &dyn Store, code: &str, settings: PhaseSettings, accounts: &[AccountId]) -> Phase {
    let seed = tessera_domain::lottery::Seed([9; 32]);
    let p = store.create_phase(code, "Phase", &settings).await.unwrap();
    store.open_registration(p.id, &seed.to_hex(), &seed.commitment(), T0).await.unwrap();
    for (i, a) in accounts.iter().enumerate() {
        store.enter_lottery(p.id, *a, &format!("E{:012X}", i), T0).await.unwrap();
    }
    store.close_registration(p.id, T0).await.unwrap();
    let slots = accounts
        .iter()
        .enumerate()
        .map(|(i, a)| {
            (
                *a,
                SlotAssignment {
                    entry_code: format!("E{:012X}", i),
                    rank: i + 1,
                    wave: 1,
                    starts_at: T0,
                    ends_at: T0.plus_secs(48 * 3600),
                },
            )
        })
        .collect();
    store.record_draw(&DrawRecord { phase_id: p.id, seed_hex: seed.to_hex(), drawn_at: T0, slots }).await.unwrap();
    store.phase_by_id(p.id).await.unwrap().unwrap()
}

fn reserve_req(phase: &Phase, account: AccountId, category: CategoryId, qty: i64, now: Timestamp) -> ReserveRequest {
    ReserveRequest {
        account,
        phase: phase.id,
        category,
        qty,
        caps: phase.settings.caps,
        cart_ttl_secs: phase.settings.cart_ttl_secs,
        now,
    }
}

fn begin(account: AccountId, cart: &Cart, key: &str, hash: &str, now: Timestamp) -> BeginCheckout {
    BeginCheckout {
        account,
        cart: cart.id,
        phase: cart.phase_id,
        idempotency_key: key.into(),
        request_hash: hash.into(),
        pay_window_secs: 120,
        min_sessions_per_order: 1,
        now,
    }
}

fn complete(account: AccountId, cart: CartId, key: &str, now: Timestamp) -> CompleteCheckout {
    CompleteCheckout {
        account,
        cart,
        idempotency_key: key.into(),
        order_code: format!("ORD-{}-{}", account.0, cart.0),
        payment_ref: format!("pay-{}", cart.0),
        ticket_codes: (0..60).map(|i| format!("T-{}-{}-{i}", account.0, cart.0)).collect(),
        now,
    }
}

/// Reserve then pay, as the application does; returns the order.
async fn buy(
    store: &dyn Store,
    phase: &Phase,
    a: AccountId,
    cat: CategoryId,
    qty: i64,
    now: Timestamp,
) -> Result<Order> {
    let cart = store.reserve(&reserve_req(phase, a, cat, qty, now)).await?;
    let key = format!("k-{}", cart.id.0);
    match store.begin_checkout(&begin(a, &cart, &key, "h", now)).await? {
        BeginOutcome::Started(_) => {}
        other => panic!("unexpected {other:?}"),
    }
    store.complete_checkout(&complete(a, cart.id, &key, now)).await
}

pub async fn catalogue_import_is_atomic(h: Box<dyn Harness>) {
    let store = h.open().await;
    let stats = store.import_catalogue(&fixture()).await.unwrap();
    assert_eq!((stats.venues, stats.sessions, stats.categories, stats.seats), (2, 3, 4, 3100));

    // A second catalogue that is fine but for one session code already present: nothing of it lands.
    let mut again = fixture();
    again.venues = vec![Venue { code: code("NEW"), ..fixture().venues[0].clone() }];
    again.sessions[0].venue = code("NEW");
    again.sessions.truncate(1);
    again.categories.truncate(1);
    assert!(matches!(store.import_catalogue(&again).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.catalogue_stats().await.unwrap(), stats);

    let list = store.list_sessions(&SessionFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(list.len(), 3);
    let ath = store.session("ATH01").await.unwrap().unwrap();
    assert_eq!(ath.summary.quota, 1100);
    assert_eq!(ath.summary.available, 1100);
    assert_eq!(ath.summary.min_price, Cents(2400));
    assert_eq!(ath.zones, vec!["Gate A", "Gate B"]);
    assert!(store.session("NOPE1").await.unwrap().is_none());
    let bkb = store
        .list_sessions(&SessionFilter { venue: Some("BRC".into()), limit: 10, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(bkb.iter().map(|s| s.code.as_str()).collect::<Vec<_>>(), vec!["BKB01"]);

    // Search and filters: words in title, sport, code, venue or city (case aside), a start
    // window, a price ceiling met by any category.
    let codes = |f: SessionFilter| {
        let store = store.clone();
        async move {
            let list = store.list_sessions(&SessionFilter { limit: 10, ..f }).await.unwrap();
            list.into_iter().map(|s| s.code).collect::<Vec<_>>()
        }
    };
    assert_eq!(codes(SessionFilter { text: Some("venue brc".into()), ..Default::default() }).await, ["BKB01"]);
    assert_eq!(codes(SessionFilter { text: Some("CEREMONY".into()), ..Default::default() }).await, ["CER01"]);
    assert!(codes(SessionFilter { text: Some("nothing like it".into()), ..Default::default() }).await.is_empty());
    assert_eq!(codes(SessionFilter { max_price: Some(Cents(3000)), ..Default::default() }).await, ["ATH01"]);
    let start = T0.plus_secs(86_400);
    assert_eq!(
        codes(SessionFilter { from: Some(start), until: Some(start.plus_secs(1)), ..Default::default() }).await.len(),
        3
    );
    assert!(codes(SessionFilter { from: Some(start.plus_secs(1)), ..Default::default() }).await.is_empty());
    assert!(codes(SessionFilter { until: Some(start), ..Default::default() }).await.is_empty());
}

pub async fn accounts_and_sign_in_sessions(h: Box<dyn Harness>) {
    let store = h.open().await;
    let id = account(&*store, 1).await;
    let dup = store
        .create_account(&NewAccount {
            email: Email::parse("FAN1@example.org").unwrap(),
            password_hash: "x".into(),
            display_name: "Dup".into(),
            role: Role::Fan,
            now: T0,
        })
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let a = store.account(id).await.unwrap().unwrap();
    assert!(!a.email_verified);
    assert_eq!(a.credential_epoch, 0);
    store.mark_email_verified(id).await.unwrap();
    assert!(store.account_by_email(&a.email).await.unwrap().unwrap().email_verified);

    let s = AuthSession { id: "s1".into(), account_id: id, created_at: T0, expires_at: T0.plus_secs(3600) };
    store.create_auth_session(&s).await.unwrap();
    assert_eq!(store.auth_session("s1").await.unwrap(), Some(s.clone()));
    let (joined, acc) = store.session_account("s1").await.unwrap().unwrap();
    assert_eq!((joined, acc.id, acc.email_verified), (s, id, true));
    assert!(store.session_account("nope").await.unwrap().is_none());
    store.set_password_hash(id, "new-hash").await.unwrap();
    let a = store.account(id).await.unwrap().unwrap();
    assert_eq!((a.password_hash.as_str(), a.credential_epoch), ("new-hash", 1));
    assert_eq!(store.auth_session("s1").await.unwrap(), None, "a password change ends every session");
    assert!(matches!(store.mark_email_verified(AccountId(999_999)).await, Err(StoreError::NotFound(_))));
}

pub async fn mail_outbox(h: Box<dyn Harness>) {
    let store = h.open().await;
    let a = store.enqueue_mail("a@example.org", "Hello", "Body", T0).await.unwrap();
    let b = store.enqueue_mail("b@example.org", "Hi", "Body", T0).await.unwrap();
    assert_eq!(store.due_mail(T0, 10).await.unwrap().len(), 2);
    store.mark_mail_failed(a, "connection refused", Some(T0.plus_secs(60))).await.unwrap();
    store.mark_mail_sent(b, T0).await.unwrap();
    assert!(store.due_mail(T0, 10).await.unwrap().is_empty());
    let due = store.due_mail(T0.plus_secs(60), 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].attempts, due[0].last_error.as_deref()), (1, Some("connection refused")));
    store.mark_mail_failed(a, "mailbox does not exist", None).await.unwrap();
    assert!(store.due_mail(T0.plus_secs(10_000), 10).await.unwrap().is_empty(), "given up");
    assert_eq!(store.recent_mail(Some("b@example.org"), 10).await.unwrap()[0].sent_at, Some(T0));
}

pub async fn lottery_lifecycle(h: Box<dyn Harness>) {
    let store = h.open().await;
    let a = account(&*store, 1).await;
    let b = account(&*store, 2).await;
    let p = store.create_phase("P1", "Phase 1", &PhaseSettings::default()).await.unwrap();
    assert_eq!(p.status, PhaseStatus::Draft);
    assert!(matches!(store.create_phase("P1", "again", &PhaseSettings::default()).await, Err(StoreError::Conflict(_))));
    assert!(matches!(store.enter_lottery(p.id, a, "E000000000001", T0).await, Err(StoreError::State(_))));
    let p = store.open_registration(p.id, "00", "c0ffee", T0).await.unwrap();
    assert_eq!((p.status, p.seed_sha256.as_deref()), (PhaseStatus::Registration, Some("c0ffee")));
    assert!(matches!(store.open_registration(p.id, "00", "c0ffee", T0).await, Err(StoreError::State(_))));

    let e1 = store.enter_lottery(p.id, a, "E00000000000B", T0).await.unwrap();
    let again = store.enter_lottery(p.id, a, "E00000000000C", T0.plus_secs(5)).await.unwrap();
    assert_eq!(e1, again, "one entry per account");
    store.enter_lottery(p.id, b, "E00000000000A", T0).await.unwrap();
    assert_eq!(store.phase_by_id(p.id).await.unwrap().unwrap().entries, 2);

    let codes = store.close_registration(p.id, T0).await.unwrap();
    assert_eq!(codes, vec!["E00000000000A", "E00000000000B"]);
    let expected = tessera_domain::lottery::sha256_hex(b"E00000000000A\nE00000000000B\n");
    assert_eq!(store.phase_by_id(p.id).await.unwrap().unwrap().entries_sha256, Some(expected));
    assert!(matches!(store.enter_lottery(p.id, b, "E00000000000D", T0).await, Err(StoreError::State(_))));

    let slot = SlotAssignment {
        entry_code: "E00000000000B".into(),
        rank: 1,
        wave: 1,
        starts_at: T0,
        ends_at: T0.plus_secs(10),
    };
    let wrong_seed = DrawRecord { phase_id: p.id, seed_hex: "ff".into(), drawn_at: T0, slots: vec![(a, slot.clone())] };
    assert!(store.record_draw(&wrong_seed).await.is_err(), "the revealed seed must be the stored one");
    assert!(store.slot(p.id, a).await.unwrap().is_none(), "a refused draw writes no slot");
    store.record_draw(&DrawRecord { seed_hex: "00".into(), ..wrong_seed }).await.unwrap();
    let s = store.slot(p.id, a).await.unwrap().unwrap();
    assert_eq!((s.rank, s.wave, s.starts_at, s.ends_at), (1, 1, T0, T0.plus_secs(10)));
    assert!(store.slot(p.id, b).await.unwrap().is_none());
    let p = store.phase_by_id(p.id).await.unwrap().unwrap();
    assert_eq!(p.status, PhaseStatus::Drawn);
    assert_eq!(store.entries(p.id).await.unwrap().len(), 2);
}

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

fn sell(
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

pub async fn waiting_rooms_and_edge_decisions(h: Box<dyn Harness>) {
    let store = h.open().await;
    store.create_phase("P1", "Phase 1", &PhaseSettings::default()).await.unwrap();
    assert!(matches!(store.put_waiting_room("NOPE", "{}", "00", T0).await, Err(StoreError::NotFound(_))));
    let r = store.put_waiting_room("P1", r#"{"rate":1}"#, "aa", T0).await.unwrap();
    assert_eq!((r.phase_code.as_str(), r.settings_json.as_str(), r.seed_hex.as_str()), ("P1", r#"{"rate":1}"#, "aa"));
    let r = store.put_waiting_room("P1", r#"{"rate":2}"#, "bb", T0.plus_secs(5)).await.unwrap();
    assert_eq!((r.settings_json.as_str(), r.seed_hex.as_str(), r.updated_at), (r#"{"rate":2}"#, "aa", T0.plus_secs(5)));
    drop(store);
    let store = h.open().await;
    assert_eq!(store.waiting_rooms().await.unwrap().len(), 1, "settings survive a restart");
    assert!(store.delete_waiting_room("P1").await.unwrap());
    assert!(!store.delete_waiting_room("P1").await.unwrap());
    assert!(store.waiting_rooms().await.unwrap().is_empty());

    store.put_edge_decision("address:10.0.0.1", "{\"a\":1}", T0.plus_secs(60)).await.unwrap();
    store.put_edge_decision("address:10.0.0.1", "{\"a\":2}", T0.plus_secs(60)).await.unwrap();
    store.put_edge_decision("account:7", "{\"b\":1}", T0.plus_secs(10)).await.unwrap();
    let mut live = store.edge_decisions(T0).await.unwrap();
    live.sort();
    assert_eq!(live, vec!["{\"a\":2}".to_string(), "{\"b\":1}".to_string()]);
    assert_eq!(store.edge_decisions(T0.plus_secs(10)).await.unwrap(), vec!["{\"a\":2}".to_string()], "expired");
    assert!(store.delete_edge_decision("address:10.0.0.1").await.unwrap());
    assert!(store.edge_decisions(T0).await.unwrap().len() == 1);
}

/// Sells `qty` seats of a category to `a` at once, as "buy now" does; returns the tickets.
async fn tickets(store: &dyn Store, phase: &Phase, a: AccountId, cat: CategoryId, qty: i64, key: &str) -> Vec<Ticket> {
    let price = store.category_price(cat).await.unwrap().expect("category exists").price.0;
    match store.sell_now(&sell(phase, a, vec![(cat, qty)], price * qty, key, T0.plus_secs(1))).await.unwrap() {
        SellOutcome::Sold(order) => order.tickets,
        other => panic!("not sold: {other:?}"),
    }
}

const ISSUED_AT: Timestamp = Timestamp(T0.0 + 10);

fn credential(ticket: TicketId, account: AccountId, serial: i64, replace: bool) -> IssueCredential {
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

fn revoked(ticket: TicketId, serial: i64) -> (FeedKind, i64, i64, String, i64) {
    (FeedKind::Revoked, ticket.0, serial, String::new(), ISSUED_AT.0 * 1000)
}

/// A venue's whole feed, without the sequence numbers.
async fn feed(store: &dyn Store, venue: &str) -> Vec<(FeedKind, i64, i64, String, i64)> {
    let events = store.gate_feed(venue, 0, 1000).await.unwrap();
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq), "the feed is in order");
    events.into_iter().map(|e| (e.kind, e.ticket_id, e.serial, e.gate_id, e.at_ms)).collect()
}

/// Tight caps, so that refusals are easy to provoke: 3 tickets per account, 2 per session,
/// 1 per ceremony.
fn tight() -> PhaseSettings {
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

fn scan(gate: &str, seq: i64, admitted: bool, at_ms: i64) -> ScanRecord {
    ScanRecord {
        gate_id: gate.into(),
        device_seq: seq,
        ticket_id: 0,
        serial: 7,
        session_code: "BKB01".into(),
        entrance: "Gate A".into(),
        admitted,
        reason: if admitted { "valid".into() } else { "forged".into() },
        at_ms,
    }
}

pub async fn gate_scans_entries_and_feed(h: Box<dyn Harness>) {
    let store = h.open().await;
    store.import_catalogue(&fixture()).await.unwrap();
    let bkb = category_id(&*store, "BKB01", "CAT-A").await;
    let a = account(&*store, 1).await;
    let phase = drawn_phase(&*store, "P1", PhaseSettings::default(), &[a]).await;
    let issued = tickets(&*store, &phase, a, bkb, 1, "a").await.remove(0);
    let (t, code) = (issued.id.0, issued.code.clone());
    let ms = (T0.0 + 86_400) * 1000; // the session's start
    let admit = |gate: &str, seq, at| ScanRecord { ticket_id: t, ..scan(gate, seq, true, ms + at) };
    assert_eq!(store.holding(&code).await.unwrap().unwrap().entered_at_ms, None);

    let batch = vec![admit("G1", 1, 60_000), scan("G1", 2, false, ms + 61_000), scan("G1", 3, true, ms + 62_000)];
    let out = store.record_scans("BRC", "Gate A", &batch, ms + 70_000).await.unwrap();
    assert_eq!((out.recorded, out.duplicates, out.double_entries.len()), (3, 0, 0));
    let entered = (FeedKind::Entered, t, 7, "G1".to_string(), ms + 60_000);
    assert_eq!(feed(&*store, "BRC").await, vec![entered.clone()]);
    assert!(feed(&*store, "STF").await.is_empty());
    // The gate did not hear the answer and sends the batch again: nothing is counted twice.
    let out = store.record_scans("BRC", "Gate A", &batch, ms + 80_000).await.unwrap();
    assert_eq!((out.recorded, out.duplicates, out.double_entries.len()), (0, 3, 0));
    assert_eq!(feed(&*store, "BRC").await.len(), 1);
    let g1 = GateRecord {
        gate_id: "G1".into(),
        venue_code: "BRC".into(),
        entrance: "Gate A".into(),
        last_sync_at_ms: ms + 80_000,
        admitted: 2,
        refused: 1,
    };
    assert_eq!(store.gates().await.unwrap(), vec![g1.clone()]);

    // Another gate admits the same ticket later: the first admission stands.
    let out = store.record_scans("BRC", "Gate B", &[admit("G2", 1, 120_000)], ms + 130_000).await.unwrap();
    assert_eq!((out.recorded, out.double_entries.len()), (1, 1));
    let e = &out.double_entries[0];
    assert_eq!((e.kind.as_str(), e.ticket_id), ("double_entry", t));
    assert_eq!((e.first.scan.gate_id.as_str(), e.first.scan.at_ms), ("G1", ms + 60_000));
    assert_eq!((e.second.scan.gate_id.as_str(), e.second.scan.at_ms), ("G2", ms + 120_000));
    assert_eq!(e.second.scan, admit("G2", 1, 120_000));

    assert_eq!(store.holding(&code).await.unwrap().unwrap().entered_at_ms, Some(ms + 60_000));

    // A gate cut off from the network syncs an earlier admission: it becomes the entry.
    let out = store.record_scans("BRC", "Gate B", &[admit("G3", 1, 30_000)], ms + 140_000).await.unwrap();
    let late = &out.double_entries[0];
    assert_eq!((late.first.scan.gate_id.as_str(), late.second.scan.gate_id.as_str()), ("G3", "G1"));
    assert_eq!(feed(&*store, "BRC").await, vec![entered], "the ticket already counted as entered");
    assert_eq!(store.security_events(10).await.unwrap(), vec![late.clone(), e.clone()], "newest first");
    assert_eq!(store.security_events(1).await.unwrap(), vec![late.clone()]);
    // A fourth admission is compared with the entry that stands, the earliest.
    let out = store.record_scans("BRC", "Gate B", &[admit("G2", 2, 50_000)], ms + 150_000).await.unwrap();
    let (first, second) = (&out.double_entries[0].first.scan, &out.double_entries[0].second.scan);
    assert_eq!((first.gate_id.as_str(), second.at_ms), ("G3", ms + 50_000));
    assert_eq!(store.holdings(a).await.unwrap()[0].entered_at_ms, Some(ms + 30_000), "the entry that stands");

    let figures = store.gate_figures(ms).await.unwrap();
    let minute = |at: i64| (ms + at) / 60_000 * 60;
    assert_eq!(
        figures.entries_per_minute,
        vec![
            ("G1".to_string(), minute(60_000), 2),
            ("G2".to_string(), minute(50_000), 1),
            ("G2".to_string(), minute(120_000), 1),
            ("G3".to_string(), minute(30_000), 1),
        ]
    );
    assert_eq!((figures.refusals, figures.security_events), (vec![("forged".to_string(), 1)], 3));
    assert!(store.gate_figures(ms + 10_000_000).await.unwrap().entries_per_minute.is_empty());
    let gates = store.gates().await.unwrap();
    assert_eq!(
        gates.iter().map(|g| (g.gate_id.as_str(), g.admitted, g.entrance.as_str())).collect::<Vec<_>>(),
        vec![("G1", 2, "Gate A"), ("G2", 2, "Gate B"), ("G3", 1, "Gate B")]
    );

    // The operator annuls the entry: the ticket may enter again, and enters once.
    let annulled = store.annul_entry(t, "turnstile jammed", ms + 200_000).await.unwrap();
    assert_eq!(
        (annulled.kind, annulled.ticket_id, annulled.serial, annulled.at_ms),
        (FeedKind::Annulled, t, 0, ms + 200_000)
    );
    assert!(matches!(store.annul_entry(t, "again", ms).await, Err(StoreError::NotFound(_))));
    assert!(matches!(store.annul_entry(999_999, "unknown", ms).await, Err(StoreError::NotFound(_))));
    let out = store.record_scans("BRC", "Gate A", &[admit("G1", 4, 210_000)], ms + 220_000).await.unwrap();
    assert!(out.double_entries.is_empty());
    let events = store.gate_feed("BRC", 0, 100).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.kind).collect::<Vec<_>>(),
        vec![FeedKind::Entered, FeedKind::Annulled, FeedKind::Entered]
    );
    assert_eq!(events[1], annulled);
    assert_eq!(store.gate_feed("BRC", events[0].seq, 1).await.unwrap(), vec![annulled]);
    assert!(store.gate_feed("BRC", events[2].seq, 10).await.unwrap().is_empty());

    let data = store.venue_gate_data("BRC", T0, T0.plus_secs(3 * 86_400)).await.unwrap();
    assert_eq!(
        (data.venue_name.as_str(), data.zones.clone()),
        ("Venue BRC", vec!["Gate A".to_string(), "Gate B".to_string()])
    );
    let start = T0.plus_secs(86_400);
    assert_eq!(data.sessions, vec![("BKB01".into(), "Session BKB01".into(), start, start.plus_secs(7200))]);
    assert_eq!((data.revoked.len(), data.feed_seq), (0, events[2].seq));
    let stf = store.venue_gate_data("STF", start.plus_secs(7199), start.plus_secs(7200)).await.unwrap();
    assert_eq!(stf.sessions.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(), vec!["ATH01", "CER01"]);
    assert_eq!(stf.feed_seq, 0);
    assert!(store
        .venue_gate_data("STF", start.plus_secs(7200), start.plus_secs(9000))
        .await
        .unwrap()
        .sessions
        .is_empty());
    assert!(matches!(store.venue_gate_data("NOPE", T0, start).await, Err(StoreError::NotFound(_))));
}

/// A sale writes its payment row in its own transaction; the worker's claims never overlap;
/// settlements and reconciliation's moves follow the state machine and nothing else.
pub async fn payment_records_follow_their_state_machine(h: Box<dyn Harness>) {
    let store = h.open().await;
    store.import_catalogue(&fixture()).await.unwrap();
    let bkb = category_id(&*store, "BKB01", "CAT-A").await;
    let a = account(&*store, 1).await;
    let phase = drawn_phase(&*store, "P1", PhaseSettings::default(), &[a]).await;
    let now = T0.plus_secs(1);
    let SellOutcome::Sold(order) = store.sell_now(&sell(&phase, a, vec![(bkb, 2)], 9000, "k1", now)).await.unwrap()
    else {
        panic!("not sold")
    };
    let sale = PaymentKey::Sale { kind: PaymentKind::Order, subject_id: order.id.0 };
    let row = store.payment(&sale).await.unwrap().expect("the sale wrote its payment");
    assert_eq!(
        (row.state, row.kind, row.amount, row.subject_id, row.account_id, row.provider_ref.as_str()),
        (
            PaymentState::CapturePending,
            PaymentKind::Order,
            Cents(9000),
            Some(order.id.0),
            a,
            order.payment_ref.as_str()
        )
    );
    // A refused sale writes nothing; its attempt is recorded apart, once.
    assert!(store.sell_now(&sell(&phase, a, vec![(bkb, 5)], 22_500, "k2", now)).await.is_err());
    let attempt = PaymentKey::Attempt { provider_ref: "auth-k2".into() };
    assert!(store.payment(&attempt).await.unwrap().is_none(), "a refused sale writes no payment row");
    let intent = NewPaymentIntent {
        provider_ref: "auth-k2".into(),
        account_id: a,
        amount: Cents(22_500),
        state: PaymentState::VoidPending,
        now,
    };
    store.record_payment_intent(&intent).await.unwrap();
    store.record_payment_intent(&intent).await.unwrap();
    let f = store.payment_figures().await.unwrap();
    assert_eq!((f.count(PaymentState::CapturePending), f.count(PaymentState::VoidPending), f.pending()), (1, 1, 2));

    // The request's grace: the sale's row is not the worker's yet; the attempt's is.
    let due = store.claim_due_payments(now, 10).await.unwrap();
    assert_eq!(due.iter().map(|p| p.provider_ref.as_str()).collect::<Vec<_>>(), vec!["auth-k2"]);
    assert!(store.claim_due_payments(now, 10).await.unwrap().is_empty(), "a claimed row is leased");
    let later = now.plus_secs(REQUEST_GRACE_SECS);
    let due = store.claim_due_payments(later, 10).await.unwrap();
    assert_eq!(due.iter().map(|p| p.id).collect::<Vec<_>>(), vec![row.id]);
    // A failure keeps the row pending until its retry time; success ends it.
    let failed = Settlement::Failed { error: "provider down".into(), retry_at: later.plus_secs(5) };
    store.settle_payment(&sale, PaymentState::CapturePending, &failed, later).await.unwrap();
    assert!(store.claim_due_payments(later.plus_secs(4), 10).await.unwrap().is_empty());
    let due = store.claim_due_payments(later.plus_secs(5), 10).await.unwrap();
    assert_eq!((due.len(), due[0].last_error.as_deref()), (1, Some("provider down")));
    store
        .settle_payment(&PaymentKey::Id(row.id), PaymentState::CapturePending, &Settlement::Done, later)
        .await
        .unwrap();
    // Another worker, or the requests' gathered settlements, finishing the same step change nothing.
    let done = [(sale.clone(), PaymentState::CapturePending), (attempt.clone(), PaymentState::VoidPending)];
    store.settle_payments_done(&done, later).await.unwrap();
    store.settle_payments_done(&done, later).await.unwrap();
    let f = store.payment_figures().await.unwrap();
    assert_eq!((f.count(PaymentState::Captured), f.count(PaymentState::Voided), f.pending()), (1, 1, 0));
    assert_eq!(f.oldest_pending_at, None);

    // Reconciliation's moves: forward only, and only from the state the caller saw.
    let r = &PaymentKey::Id(row.id);
    assert!(!store.move_payment(r, PaymentState::Captured, PaymentState::Voided, later).await.unwrap());
    assert!(!store.move_payment(r, PaymentState::VoidPending, PaymentState::Voided, later).await.unwrap());
    assert!(store.move_payment(r, PaymentState::Captured, PaymentState::RefundPending, later).await.unwrap());
    assert_eq!(store.payment(&attempt).await.unwrap().unwrap().state, PaymentState::Voided);
    assert_eq!(store.claim_due_payments(later, 10).await.unwrap()[0].state, PaymentState::RefundPending);
    assert_eq!(store.payments_since(T0, 10).await.unwrap().len(), 2);
    assert!(store.payments_since(later.plus_secs(1), 10).await.unwrap().is_empty());
}

pub async fn gate_revocations_only_move_later(h: Box<dyn Harness>) {
    let store = h.open().await;
    assert!(store.gate_revocations().await.unwrap().is_empty());
    let r =
        |gate: &str, at: i64, why: &str| GateRevocation { gate_id: gate.into(), revoked_at_ms: at, reason: why.into() };
    store.revoke_gate(&r("BRC-1", 1_000, "stolen")).await.unwrap();
    store.revoke_gate(&r("BRC-2", 2_000, "lost")).await.unwrap();
    store.revoke_gate(&r("BRC-1", 500, "earlier")).await.unwrap();
    let mut all = store.gate_revocations().await.unwrap();
    all.sort_by(|a, b| a.gate_id.cmp(&b.gate_id));
    assert_eq!(all, vec![r("BRC-1", 1_000, "earlier"), r("BRC-2", 2_000, "lost")]);
    store.revoke_gate(&r("BRC-1", 3_000, "again")).await.unwrap();
    let all = store.gate_revocations().await.unwrap();
    assert!(all.contains(&r("BRC-1", 3_000, "again")), "{all:?}");
}
