//! The conformance suite: every backend runs these same tests (quickwit's metastore suite is
//! the model). A backend's test file calls [`conformance_suite!`] with an async function that
//! returns a [`Harness`], or `None` (after saying so loudly) when its database is unavailable.

use crate::*;
use std::sync::Arc;
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
            waiting_rooms_and_edge_decisions);
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

fn begin(account: AccountId, cart: CartId, key: &str, hash: &str, now: Timestamp) -> BeginCheckout {
    BeginCheckout {
        account,
        cart,
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
    match store.begin_checkout(&begin(a, cart.id, &key, "h", now)).await? {
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
    store.begin_checkout(&begin(a, cart.id, "k1", "h", now)).await.unwrap();
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
    let r = store.begin_checkout(&begin(winner, cart.id, "k", "h", after)).await;
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
    let r = store.begin_checkout(&begin(accounts[1], carts[1].id, "k", "h", later)).await;
    assert!(matches!(r, Err(StoreError::CartExpired)), "{r:?}");

    // The sweeper releases holds nobody competes for, including a cart still in payment
    // when the payment window has passed; such a cart can no longer complete.
    let bkb = category_id(&*store, "BKB01", "CAT-A").await;
    store.reserve(&reserve_req(&phase, accounts[18], bkb, 3, later)).await.unwrap();
    let c2 = store.reserve(&reserve_req(&phase, accounts[19], cat, 2, later)).await.unwrap();
    store.begin_checkout(&begin(accounts[19], c2.id, "k2", "h", later)).await.unwrap();
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
    assert!(matches!(store.begin_checkout(&begin(other, cart.id, "x", "h", now)).await, Err(StoreError::NotFound(_))));

    // A declined payment is remembered under its key; the cart stays open.
    assert!(matches!(
        store.begin_checkout(&begin(a, cart.id, "k1", "h1", now)).await.unwrap(),
        BeginOutcome::Started(_)
    ));
    assert_eq!(store.begin_checkout(&begin(a, cart.id, "k1", "h1", now)).await.unwrap(), BeginOutcome::InProgress);
    let declined = Refusal { status: 402, code: "card_declined".into(), message: "declined".into() };
    store.fail_checkout(a, "k1", cart.id, &declined).await.unwrap();
    let replay = store.begin_checkout(&begin(a, cart.id, "k1", "h1", now)).await.unwrap();
    assert_eq!(
        replay,
        BeginOutcome::Replay(Remembered::Failed {
            status: 402,
            code: "card_declined".into(),
            message: "declined".into()
        })
    );
    assert_eq!(
        store.begin_checkout(&begin(a, cart.id, "k1", "other-body", now)).await.unwrap(),
        BeginOutcome::KeyReused
    );

    // A lost answer from the provider: the key is forgotten and the same key can try again.
    assert!(matches!(
        store.begin_checkout(&begin(a, cart.id, "k2", "h2", now)).await.unwrap(),
        BeginOutcome::Started(_)
    ));
    store.abort_checkout(a, "k2", cart.id).await.unwrap();
    assert!(matches!(
        store.begin_checkout(&begin(a, cart.id, "k2", "h2", now)).await.unwrap(),
        BeginOutcome::Started(_)
    ));
    let order = store.complete_checkout(&complete(a, cart.id, "k2", now)).await.unwrap();
    assert_eq!((order.tickets.len(), order.total), (3, Cents(13_500)));
    // Completing twice does not issue twice.
    assert!(store.complete_checkout(&complete(a, cart.id, "k2", now)).await.is_err());
    // Retrying the paid checkout replays the same order.
    assert_eq!(
        store.begin_checkout(&begin(a, cart.id, "k2", "h2", now)).await.unwrap(),
        BeginOutcome::Replay(Remembered::Paid(order.clone()))
    );
    // A new key on a paid cart is refused.
    assert!(matches!(store.begin_checkout(&begin(a, cart.id, "k3", "h3", now)).await, Err(StoreError::State(_))));
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
    let mut b = begin(a, cart.id, "k", "h", now);
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
    assert_eq!(figures(store.clone()).await, (before.0 + 3, 0, before.2 + 1));
    // Caps count what was bought: 6 per session.
    assert!(matches!(
        store.sell_now(&sell(&phase, a, vec![(bkb, 5)], 5 * 4500, "k2", now)).await,
        Err(StoreError::Cap(_))
    ));
    // A remembered refusal answers the same to a retry.
    let refusal = Refusal { status: 402, code: "card_declined".into(), message: "declined".into() };
    store.remember_refusal(a, "k3", "hash-k3", &refusal, now).await.unwrap();
    assert_eq!(
        store.sell_now(&sell(&phase, a, vec![(bkb, 1)], 4500, "k3", now)).await.unwrap(),
        SellOutcome::Replay(Remembered::Failed {
            status: 402,
            code: "card_declined".into(),
            message: "declined".into()
        })
    );
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
