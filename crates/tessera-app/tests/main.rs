//! The use cases end to end, on SQLite always and on PostgreSQL when
//! `TESSERA_TEST_POSTGRES_URL` is set.

mod faults;
mod toc;

use toc::*;

use std::sync::Arc;
use tessera_app::auth::{Principal, Registered};
use tessera_app::sale::CheckoutRequest;
use tessera_app::{App, AppConfig, AppError, ManualClock, PasswordCost};
use tessera_domain::lottery;
use tessera_domain::{CategoryId, ErrorCode, Timestamp};
use tessera_payments::{test_cards, Card, SandboxConfig, SandboxProvider};
use tessera_store::testsuite::{fixture, T0};
use tessera_store::{PhaseSettings, Role, Store, StoreError};

struct TestApp {
    app: App,
    clock: Arc<ManualClock>,
    payments: Arc<SandboxProvider>,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite() -> Option<TestApp> {
    let dir = tempfile::tempdir().unwrap();
    let store =
        tessera_store_sqlite::SqliteStore::open(dir.path().join("t.db"), tessera_store_sqlite::Durability::Normal)
            .unwrap();
    Some(build(Arc::new(store), Some(dir)))
}

async fn postgres() -> Option<TestApp> {
    let Ok(url) = std::env::var("TESSERA_TEST_POSTGRES_URL") else {
        use std::io::Write;
        // Straight to stderr: the test harness swallows eprintln! output of passing tests.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: TESSERA_TEST_POSTGRES_URL is not set; the PostgreSQL use-case tests did not run"
        );
        return None;
    };
    let schema = format!("t_{}", tessera_app::random_hex(6));
    let store = tessera_store_postgres::PgStore::connect_with_schema(&url, &schema).await.unwrap();
    Some(build(Arc::new(store), None))
}

fn build(store: Arc<dyn Store>, dir: Option<tempfile::TempDir>) -> TestApp {
    let clock = Arc::new(ManualClock::new(T0));
    // The lost-answer card waits `timeout` before failing: keep it short in tests.
    let payments = Arc::new(SandboxProvider::new(SandboxConfig {
        timeout: std::time::Duration::from_millis(50),
        slow_delay: std::time::Duration::from_millis(10),
        ..SandboxConfig::default()
    }));
    let mut config = AppConfig::new([3; 32], "http://shop.test");
    // Cheap hashing keeps the suite fast; the algorithm is still Argon2id.
    config.password_cost = PasswordCost { memory_kib: 1024, iterations: 1 };
    let app = App::new(store, payments.clone(), clock.clone(), config);
    TestApp { app, clock, payments, _dir: dir }
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { if let Some(t) = super::sqlite().await { super::$name(t).await } }
        )* }
        mod postgres_backend { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { if let Some(t) = super::postgres().await { super::$name(t).await } }
        )* }
    };
}

mod volunteers;

on_both_backends!(
    accounts_verify_login_reset,
    verify_draw_recomputes_and_catches_tampering,
    retried_checkout_charges_once,
    declined_payment_is_remembered_and_a_new_key_pays,
    purchase_outside_the_slot_fails,
    buy_now_charges_once_and_voids_refusals,
    a_paid_order_replays_after_its_session_sold_out,
    a_silent_gate_is_found_within_its_bound_and_opens_one_incident,
    a_cut_venue_is_one_incident_with_its_devices_unreachable,
    a_failing_store_is_found_by_the_nodes_probe,
    readiness_requests_at_once_share_one_probe_write,
    the_shop_goes_read_only_while_its_store_is_down,
    a_rehearsal_is_scored,
    observers_speak_only_for_themselves,
    silences_and_maintenance_mute_what_they_match,
    the_desks_and_the_queue_follow_their_modes,
    lookalikes_open_takedowns_that_follow_their_workflow,
    the_paused_waiting_room_keeps_every_place_with_the_store_down,
    results_are_served_from_the_last_state_with_the_store_down,
    a_followed_certificate_stream_opens_takedowns_across_its_drops,
    a_restarted_node_takes_its_incidents_back,
);

fn card(number: &str) -> Card {
    Card { number: number.into(), exp_month: 12, exp_year: 2099, cvc: "123".into(), holder: "Test Fan".into() }
}

async fn fan(t: &TestApp, n: usize) -> Principal {
    let email = format!("fan{n}@example.org");
    let a = t.app.create_account(&email, "correct horse battery", &format!("Fan {n}"), Role::Fan).await.unwrap();
    t.app.store.mark_email_verified(a.id).await.unwrap();
    let s = t.app.login(&email, "correct horse battery").await.unwrap();
    (*t.app.authenticate(&s.token).await.unwrap()).clone()
}

/// A phase with the given fans entered and drawn; slots open at T0 for 48 hours.
async fn drawn(t: &TestApp, fans: &[&Principal]) {
    t.app.create_phase("P1", "Phase 1", &PhaseSettings::default()).await.unwrap();
    t.app.open_registration("P1").await.unwrap();
    for f in fans {
        t.app.enter_lottery(f, "P1").await.unwrap();
    }
    t.app.close_registration("P1").await.unwrap();
    t.app.draw("P1", Some(T0)).await.unwrap();
}

async fn category(t: &TestApp) -> CategoryId {
    t.app.import_catalogue(&fixture()).await.unwrap();
    tessera_store::testsuite::category_id(&*t.app.store, "BKB01", "CAT-A").await
}

fn mail_token(body: &str, path: &str) -> String {
    let start = body.find(&format!("{path}?token=")).expect("link in mail") + path.len() + 7;
    body[start..].split_whitespace().next().unwrap().to_string()
}

async fn accounts_verify_login_reset(t: TestApp) {
    let Registered::New(a) = t.app.register("Marie@Example.org", "correct horse battery", "Marie").await.unwrap()
    else {
        panic!("a new address makes a new account")
    };
    // Registering a taken address answers as for a new one, and mails the owner instead.
    let again = t.app.register("marie@example.org", "another long passphrase", "Marie 2").await.unwrap();
    assert!(matches!(&again, Registered::Existing(e) if e.as_str() == "marie@example.org"));
    let notice = t.app.store.recent_mail(Some("marie@example.org"), 10).await.unwrap();
    assert_eq!(notice[0].subject, "You already have an account");
    assert!(matches!(
        t.app.create_account("marie@example.org", "another long passphrase", "Marie 2", Role::Fan).await,
        Err(AppError::Store(StoreError::Conflict(_)))
    ));
    assert!(matches!(
        t.app.register("not-an-email", "correct horse battery", "X").await,
        Err(AppError::Invalid { field: "email", .. })
    ));
    assert!(matches!(
        t.app.register("b@example.org", "short", "X").await,
        Err(AppError::Invalid { field: "password", .. })
    ));

    let mails = t.app.store.recent_mail(Some("marie@example.org"), 10).await.unwrap();
    let token = mail_token(&mails[1].body, "/verify");
    assert!(matches!(t.app.verify_email(&token.replace('1', "2")).await, Err(AppError::BadToken(_))));
    t.app.verify_email(&token).await.unwrap();

    assert!(matches!(t.app.login("marie@example.org", "wrong password!").await, Err(AppError::BadCredentials)));
    assert!(matches!(t.app.login("nobody@example.org", "correct horse battery").await, Err(AppError::BadCredentials)));
    let s = t.app.login("MARIE@example.org", "correct horse battery").await.unwrap();
    let p = t.app.authenticate(&s.token).await.unwrap();
    assert!(p.email_verified);
    assert_eq!((p.account_id, p.role), (a.id, Role::Fan));
    // A tampered or expired token is refused.
    let mut tampered = s.token.clone();
    tampered.insert(10, 'x');
    assert!(matches!(t.app.authenticate(&tampered).await, Err(AppError::Unauthenticated)));
    t.clock.advance(8 * 86_400);
    assert!(matches!(t.app.authenticate(&s.token).await, Err(AppError::Unauthenticated)));
    t.clock.set(T0);

    // Reset: the link works once and signs out every session.
    t.app.request_password_reset("marie@example.org").await.unwrap();
    t.app.request_password_reset("nobody@example.org").await.unwrap();
    let mails = t.app.store.recent_mail(Some("marie@example.org"), 10).await.unwrap();
    let reset = mail_token(&mails[0].body, "/reset");
    assert!(matches!(t.app.reset_password(&reset, "short").await, Err(AppError::Invalid { .. })));
    t.app.reset_password(&reset, "a brand new passphrase").await.unwrap();
    assert!(matches!(t.app.reset_password(&reset, "yet another passphrase").await, Err(AppError::BadToken(_))));
    assert!(matches!(t.app.authenticate(&s.token).await, Err(AppError::Unauthenticated)));
    assert!(t.app.login("marie@example.org", "a brand new passphrase").await.is_ok());
    t.app
        .logout(
            &t.app
                .authenticate(&t.app.login("marie@example.org", "a brand new passphrase").await.unwrap().token)
                .await
                .unwrap(),
        )
        .await
        .unwrap();
}

async fn verify_draw_recomputes_and_catches_tampering(t: TestApp) {
    let mut fans = Vec::new();
    for i in 0..30 {
        fans.push(fan(&t, i).await);
    }
    let unverified =
        t.app.create_account("late@example.org", "correct horse battery", "Late", Role::Fan).await.unwrap();
    let settings = PhaseSettings { winners: Some(10), wave_size: 4, ..PhaseSettings::default() };
    t.app.create_phase("P1", "Phase 1", &settings).await.unwrap();
    let commitment = t.app.open_registration("P1").await.unwrap();
    for f in &fans {
        t.app.enter_lottery(f, "P1").await.unwrap();
    }
    let s = t.app.issue_session(t.app.store.account(unverified.id).await.unwrap().unwrap()).await.unwrap();
    let late = t.app.authenticate(&s.token).await.unwrap();
    assert!(matches!(t.app.enter_lottery(&late, "P1").await, Err(AppError::EmailNotVerified)));
    let entries = t.app.close_registration("P1").await.unwrap();
    assert!(t.app.enter_lottery(&fans[0], "P1").await.is_ok(), "an existing entry is returned");
    let result = t.app.draw("P1", Some(T0.plus_secs(3600))).await.unwrap();
    assert_eq!(lottery::verify(&commitment, &entries, &result), Ok(30));

    // The published files rebuilt from the store verify too.
    let p = t.app.publication("P1").await.unwrap();
    assert_eq!(lottery::verify(&p.commitment, p.entries.as_deref().unwrap(), p.result.as_ref().unwrap()), Ok(30));

    // A tampered entry list is refused.
    let mut lines: Vec<&str> = entries.lines().collect();
    lines.remove(3);
    let tampered = lines.iter().map(|l| format!("{l}\n")).collect::<String>();
    assert!(lottery::verify(&commitment, &tampered, &result).is_err());

    // Ten winners in waves of four, with slots an interval apart; everyone got a mail.
    let mut winners = 0;
    for (rank, code) in result.order.iter().enumerate() {
        let account = t
            .app
            .store
            .entries(t.app.phase("P1").await.unwrap().id)
            .await
            .unwrap()
            .into_iter()
            .find(|(c, _)| c == code)
            .unwrap()
            .1;
        let slot = t.app.store.slot(t.app.phase("P1").await.unwrap().id, account).await.unwrap();
        if rank < 10 {
            let s = slot.expect("winner has a slot");
            assert_eq!(s.rank as usize, rank + 1);
            assert_eq!(s.starts_at, T0.plus_secs(3600 + (rank as i64 / 4) * settings.wave_interval_secs));
            winners += 1;
        } else {
            assert!(slot.is_none());
        }
    }
    assert_eq!(winners, 10);
    let mail = t.app.store.recent_mail(Some("fan0@example.org"), 5).await.unwrap();
    assert!(mail[0].subject.contains("draw") || mail[0].subject.contains("won"), "{}", mail[0].subject);
}

async fn retried_checkout_charges_once(t: TestApp) {
    let cat = category(&t).await;
    let f = fan(&t, 1).await;
    drawn(&t, &[&f]).await;
    t.clock.set(T0.plus_secs(10));
    let cart = t.app.add_to_cart(&f, "P1", cat, 2).await.unwrap();
    let req = CheckoutRequest { cart: cart.id, idempotency_key: "retry-1".into(), card: card(test_cards::LOST_ANSWER) };
    // The provider charged but its answer was lost.
    assert!(matches!(t.app.checkout(&f, "P1", &req).await, Err(AppError::PaymentUnavailable(_))));
    assert_eq!(t.payments.authorizations_for_reference(&format!("cart-{}", cart.id)), 1);
    // The retry finds the same authorisation: one charge, one order.
    let order = t.app.checkout(&f, "P1", &req).await.unwrap();
    let again = t.app.checkout(&f, "P1", &req).await.unwrap();
    assert_eq!(order, again);
    assert_eq!(t.payments.capture_count(), 1);
    assert_eq!(t.payments.captured_total(), cart.total());
    assert_eq!(t.app.orders(&f).await.unwrap().len(), 1);
    // The same key with another body is refused, and charges nothing.
    let other = CheckoutRequest { card: card(test_cards::SUCCESS), ..req.clone() };
    assert!(matches!(t.app.checkout(&f, "P1", &other).await, Err(AppError::IdempotencyKeyReused)));
    assert_eq!(t.payments.capture_count(), 1);
}

async fn declined_payment_is_remembered_and_a_new_key_pays(t: TestApp) {
    let cat = category(&t).await;
    let f = fan(&t, 1).await;
    drawn(&t, &[&f]).await;
    t.clock.set(T0.plus_secs(10));
    let cart = t.app.add_to_cart(&f, "P1", cat, 1).await.unwrap();
    let declined = CheckoutRequest { cart: cart.id, idempotency_key: "k1".into(), card: card(test_cards::DECLINED) };
    let e = t.app.checkout(&f, "P1", &declined).await.unwrap_err();
    assert!(matches!(&e, AppError::PaymentRefused(r) if r.code == ErrorCode::CardDeclined), "{e:?}");
    let e2 = t.app.checkout(&f, "P1", &declined).await.unwrap_err();
    assert_eq!(e.to_string(), e2.to_string());
    let bad = CheckoutRequest { cart: cart.id, idempotency_key: "k-bad".into(), card: card("1234") };
    assert!(
        matches!(t.app.checkout(&f, "P1", &bad).await, Err(AppError::PaymentRefused(r)) if r.code == ErrorCode::InvalidCard)
    );
    let ok = CheckoutRequest { cart: cart.id, idempotency_key: "k2".into(), card: card(test_cards::SUCCESS) };
    let order = t.app.checkout(&f, "P1", &ok).await.unwrap();
    assert_eq!(order.tickets.len(), 1);
    assert_eq!(t.payments.capture_count(), 1);
    // A bad key is refused before anything happens.
    let weird = CheckoutRequest { idempotency_key: "not ok!".into(), ..ok.clone() };
    assert!(matches!(t.app.checkout(&f, "P1", &weird).await, Err(AppError::Invalid { field: "idempotency_key", .. })));
    // Someone else cannot pay (or see) this cart.
    let g = fan(&t, 2).await;
    let steal = CheckoutRequest { idempotency_key: "k3".into(), ..ok };
    assert!(t.app.checkout(&g, "P1", &steal).await.is_err());
}

async fn purchase_outside_the_slot_fails(t: TestApp) {
    let cat = category(&t).await;
    let f = fan(&t, 1).await;
    let g = fan(&t, 2).await;
    drawn(&t, &[&f]).await;
    t.clock.set(T0.plus_secs(-10));
    assert!(matches!(t.app.add_to_cart(&f, "P1", cat, 1).await, Err(AppError::Store(StoreError::OutsideSlot(_)))));
    t.clock.set(T0.plus_secs(10));
    assert!(matches!(t.app.add_to_cart(&g, "P1", cat, 1).await, Err(AppError::Store(StoreError::OutsideSlot(_)))));
    assert!(matches!(t.app.add_to_cart(&f, "P1", cat, 0).await, Err(AppError::Invalid { .. })));
    t.app.add_to_cart(&f, "P1", cat, 1).await.unwrap();
    t.clock.set(Timestamp(T0.0 + 48 * 3600));
    assert!(matches!(t.app.add_to_cart(&f, "P1", cat, 1).await, Err(AppError::Store(StoreError::OutsideSlot(_)))));
}

async fn buy_now_charges_once_and_voids_refusals(t: TestApp) {
    t.app.import_catalogue(&fixture()).await.unwrap();
    let bkb = tessera_store::testsuite::category_id(&*t.app.store, "BKB01", "CAT-A").await;
    let scarce = tessera_store::testsuite::category_id(&*t.app.store, "ATH01", "CAT-A").await; // quota 100
    let f = fan(&t, 1).await;
    let g = fan(&t, 2).await;
    drawn(&t, &[&f, &g]).await;
    t.clock.set(T0.plus_secs(10));
    // The provider charged but its answer was lost; the retry with the same key finds it.
    let lost = card(test_cards::LOST_ANSWER);
    assert!(matches!(t.app.buy_now(&f, "P1", &[(bkb, 2)], "b1", &lost).await, Err(AppError::PaymentUnavailable(_))));
    let order = t.app.buy_now(&f, "P1", &[(bkb, 2)], "b1", &lost).await.unwrap();
    let again = t.app.buy_now(&f, "P1", &[(bkb, 2)], "b1", &lost).await.unwrap();
    assert_eq!(order, again);
    assert_eq!((t.payments.capture_count(), t.payments.captured_total().0), (1, 9000));
    assert!(matches!(
        t.app.buy_now(&f, "P1", &[(bkb, 3)], "b1", &card(test_cards::SUCCESS)).await,
        Err(AppError::IdempotencyKeyReused)
    ));
    // A declined card is remembered under its key.
    let declined = card(test_cards::DECLINED);
    for _ in 0..2 {
        let e = t.app.buy_now(&f, "P1", &[(bkb, 1)], "b2", &declined).await.unwrap_err();
        assert!(matches!(&e, AppError::PaymentRefused(r) if r.code == ErrorCode::CardDeclined), "{e:?}");
    }
    // Over a cap: the authorisation is voided, nothing is captured, the refusal is remembered.
    let ok = card(test_cards::SUCCESS);
    let e = t.app.buy_now(&f, "P1", &[(bkb, 5)], "b3", &ok).await.unwrap_err();
    assert!(matches!(e, AppError::Store(StoreError::Cap(_))), "{e:?}");
    let e = t.app.buy_now(&f, "P1", &[(bkb, 5)], "b3", &ok).await.unwrap_err();
    assert!(matches!(&e, AppError::PaymentRefused(r) if r.code == ErrorCode::CapExceeded), "{e:?}");
    assert_eq!(t.payments.capture_count(), 1);
    // Outside the slot, bad input: refused before any payment.
    let outsider = fan(&t, 3).await;
    assert!(t.app.buy_now(&outsider, "P1", &[(bkb, 1)], "b4", &ok).await.is_err());
    assert!(matches!(t.app.buy_now(&g, "P1", &[], "b5", &ok).await, Err(AppError::Invalid { .. })));
    assert!(matches!(t.app.buy_now(&g, "P1", &[(bkb, 1), (bkb, 1)], "b5", &ok).await, Err(AppError::Invalid { .. })));
    assert!(matches!(t.app.buy_now(&g, "P1", &[(bkb, 0)], "b5", &ok).await, Err(AppError::Invalid { .. })));
    // Two categories of two sessions in one order.
    let e = t.app.buy_now(&g, "P1", &[(scarce, 4), (bkb, 2)], "b6", &ok).await;
    assert!(e.is_ok(), "{e:?}");
    assert_eq!(t.payments.capture_count(), 2);
    assert_eq!(t.app.orders(&g).await.unwrap()[0].tickets.len(), 6);
    assert_eq!(t.payments.captured_total().0, 9000 + 4 * 8500 + 2 * 4500);
}

/// Issue: replaying the key of a paid buy-now after the session sold out answered `409
/// sold_out`, because the availability was checked before the key was looked up.
async fn a_paid_order_replays_after_its_session_sold_out(t: TestApp) {
    t.app.import_catalogue(&fixture()).await.unwrap();
    let scarce = tessera_store::testsuite::category_id(&*t.app.store, "ATH01", "CAT-A").await; // quota 100
    let (f, g) = (fan(&t, 1).await, fan(&t, 2).await);
    let mut settings = PhaseSettings::default();
    settings.caps.per_account = 100;
    settings.caps.per_session = 100;
    t.app.create_phase("P1", "Phase 1", &settings).await.unwrap();
    t.app.open_registration("P1").await.unwrap();
    for p in [&f, &g] {
        t.app.enter_lottery(p, "P1").await.unwrap();
    }
    t.app.close_registration("P1").await.unwrap();
    t.app.draw("P1", Some(T0)).await.unwrap();
    t.clock.set(T0.plus_secs(10));
    let ok = card(test_cards::SUCCESS);
    let order = t.app.buy_now(&f, "P1", &[(scarce, 4)], "mine", &ok).await.unwrap();
    t.app.buy_now(&g, "P1", &[(scarce, 48)], "rest-1", &ok).await.unwrap();
    t.app.buy_now(&g, "P1", &[(scarce, 48)], "rest-2", &ok).await.unwrap();
    // Past the price cache's life, the shop knows the category is sold out...
    tokio::time::sleep(tessera_app::cache::PHASE_TTL + std::time::Duration::from_millis(100)).await;
    let e = t.app.buy_now(&f, "P1", &[(scarce, 4)], "another", &ok).await.unwrap_err();
    assert!(matches!(e, AppError::Store(StoreError::SoldOut { available: 0 })), "{e:?}");
    // ...and the paid order's key still answers with the order, charged once.
    assert_eq!(t.app.buy_now(&f, "P1", &[(scarce, 4)], "mine", &ok).await.unwrap(), order);
    assert_eq!(t.payments.capture_count(), 3);
}

/// A gate that syncs with nothing to report stays online: liveness comes from its syncs.
#[tokio::test]
async fn a_gate_that_syncs_without_scans_stays_online() {
    let t = sqlite().await.unwrap();
    t.app.import_catalogue(&fixture()).await.unwrap();
    let gate =
        tessera_app::gates::GateIdentity { gate_id: "G1".into(), venue_code: "STF".into(), entrance: String::new() };
    for _ in 0..20 {
        t.app.gate_sync(&gate, &tessera_wire::SyncRequest::default()).await.unwrap();
        t.clock.advance(5);
    }
    let o = t.app.gate_overview(0).await.unwrap();
    assert_eq!(o.gates.len(), 1, "{:?}", o.gates);
    assert!(o.gates[0].online, "synced 5 s ago: {:?}", o.gates[0]);
    t.clock.advance(40);
    assert!(!t.app.gate_overview(0).await.unwrap().gates[0].online, "silent for 45 s");
}

/// An entered ticket cannot change hands, and an operator annuls its admission by its code.
#[tokio::test]
async fn an_entered_ticket_stays_put_and_its_admission_is_annulled_by_code() {
    let t = sqlite().await.unwrap();
    let bkb = category(&t).await;
    let f = fan(&t, 1).await;
    let g = fan(&t, 2).await;
    drawn(&t, &[&f, &g]).await;
    t.clock.set(T0.plus_secs(10));
    let order = t.app.buy_now(&f, "P1", &[(bkb, 1)], "k1", &card(test_cards::SUCCESS)).await.unwrap();
    let ticket = &order.tickets[0];
    let entry = tessera_store::ScanRecord {
        gate_id: "G1".into(),
        device_seq: 1,
        ticket_id: ticket.id.0,
        serial: 1,
        session_code: "BKB01".into(),
        entrance: "Gate A".into(),
        admitted: true,
        reason: "valid".into(),
        at_ms: t.app.now_ms(),
        kind: "ticket".into(),
    };
    t.app.store.record_scans("BRC", "Gate A", &[entry], t.app.now_ms()).await.unwrap();
    let e = t.app.offer_transfer(&f, &ticket.code, "fan2@example.org").await.unwrap_err();
    assert!(e.to_string().contains("already been used to enter"), "{e}");
    assert!(matches!(t.app.annul_entry("NO-SUCH-TICKET", "jam").await, Err(AppError::NotFound(_))));
    t.app.annul_entry(&ticket.code, "turnstile jammed").await.unwrap();
    // Annulled: the ticket may enter again, and change hands again.
    t.app.offer_transfer(&f, &ticket.code, "fan2@example.org").await.unwrap();
}

/// A bot buying faster than a human: after its sixth order within seconds, the node's own
/// security engine suspends the account (every node's edge then refuses it), and one card
/// paying for three accounts is reported as a ring. A fan buying at a human pace is left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_checkout_is_suspended_by_the_engine_and_a_ring_reported() {
    let t = sqlite().await.unwrap();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let engine = tokio::spawn(tessera_app::soc::soc_loop(t.app.clone(), stop));
    t.app.import_catalogue(&fixture()).await.unwrap();
    let bkb = tessera_store::testsuite::category_id(&*t.app.store, "BKB01", "CAT-A").await;
    let ath = tessera_store::testsuite::category_id(&*t.app.store, "ATH01", "CAT-A").await;
    let (bot, human, a, b, c) =
        (fan(&t, 1).await, fan(&t, 2).await, fan(&t, 3).await, fan(&t, 4).await, fan(&t, 5).await);
    drawn(&t, &[&bot, &human, &a, &b, &c]).await;
    t.clock.set(T0.plus_secs(10));
    let ok = card(test_cards::SUCCESS);
    for k in 0..6 {
        t.clock.advance(2);
        let cat = if k % 2 == 0 { bkb } else { ath };
        t.app.buy_now(&bot, "P1", &[(cat, 1)], &format!("bot{k}"), &ok).await.unwrap();
    }
    for k in 0..3 {
        t.clock.advance(600);
        t.app.buy_now(&human, "P1", &[(bkb, 1)], &format!("h{k}"), &card("5555 5555 5555 4444")).await.unwrap();
    }
    let shared = card("4000 0566 5566 5556");
    for (k, who) in [&a, &b, &c].into_iter().enumerate() {
        t.app.buy_now(who, "P1", &[(ath, 1)], &format!("ring{k}"), &shared).await.unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while t.app.screen_account(&bot).is_ok() {
        assert!(std::time::Instant::now() < deadline, "the bot was not suspended: {:?}", t.app.soc_alerts(10));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(t.app.screen_account(&human).is_ok(), "{:?}", t.app.soc_alerts(10));
    while !t.app.soc_alerts(10).iter().any(|a| a.rule == "scalping-ring-card") {
        assert!(std::time::Instant::now() < deadline, "no ring reported: {:?}", t.app.soc_alerts(10));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let alerts = t.app.soc_alerts(10);
    assert_eq!(alerts.iter().filter(|a| a.rule == "checkout-velocity").count(), 1, "{alerts:?}");
    let _ = stop_tx.send(true);
    engine.await.unwrap();
}

/// A fan's acts beyond buying reach the security engine as events: a password reset asked
/// for (a known name and an unknown one), a transfer offered, a listing on the resale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resets_transfers_and_resale_listings_are_security_events() {
    let t = sqlite().await.unwrap();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut stream = t.app.soc_subscribe();
    let engine = tokio::spawn(tessera_app::soc::soc_loop(t.app.clone(), stop));
    let bkb = category(&t).await;
    let f = fan(&t, 1).await;
    let _receiver = fan(&t, 2).await;
    drawn(&t, &[&f]).await;
    t.clock.set(T0.plus_secs(10));
    let order = t.app.buy_now(&f, "P1", &[(bkb, 2)], "k1", &card(test_cards::SUCCESS)).await.unwrap();
    t.app.offer_transfer(&f, &order.tickets[0].code, "fan2@example.org").await.unwrap();
    t.app.list_for_resale(&f, &order.tickets[1].code).await.unwrap();
    t.app.request_password_reset("fan1@example.org").await.unwrap();
    t.app.request_password_reset("nobody@example.org").await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 4 {
        let e = tokio::time::timeout(std::time::Duration::from_secs(5), stream.recv())
            .await
            .unwrap_or_else(|_| panic!("only {seen:?}"))
            .unwrap();
        match e.kind.as_str() {
            "ticket_transferred" => {
                assert_eq!(e.ticket.as_deref(), Some(order.tickets[0].code.as_str()));
                assert_eq!(e.account, Some(f.account_id.0 as u64));
                assert!(e.user.as_deref().is_some_and(|u| !u.contains("fan2")), "the receiver is keyed: {e:?}");
            }
            "resale_listed" => assert_eq!(e.ticket.as_deref(), Some(order.tickets[1].code.as_str())),
            "password_reset" => assert!(e.user.as_deref().is_some_and(|u| !u.contains('@')), "{e:?}"),
            _ => continue,
        }
        seen.push((e.kind.as_str(), e.outcome.as_str()));
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            ("password_reset", "failure"),
            ("password_reset", "success"),
            ("resale_listed", "success"),
            ("ticket_transferred", "success")
        ]
    );
    let _ = stop_tx.send(true);
    engine.await.unwrap();
}

/// A node that restarts reads its results feed back: the same epoch and position, each
/// document's latest version, and a source's resend of that version is a duplicate.
#[tokio::test]
async fn the_results_feed_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        let store =
            tessera_store_sqlite::SqliteStore::open(dir.path().join("t.db"), tessera_store_sqlite::Durability::Normal)
                .unwrap();
        build(Arc::new(store), None)
    };
    let doc = |v: u32| {
        serde_json::json!({"competition": "OG2024", "document_code": "ATHM100M----------FNL-000100--",
            "document_type": "DT_RESULT", "version": v, "result_status": "OFFICIAL", "feed_flag": "P",
            "date": "2024-08-04", "time": "215512000", "logical_date": "2024-08-04", "source": "ATHOLY1",
            "body": {}, "ranking": [{"rank": 1, "organisation": "USA"}]})
        .to_string()
    };
    let (epoch, seq) = {
        let t = open();
        let (key, _) = t.app.issue_results_source("ATHOLY1", &["ATH".to_string()]).unwrap();
        let rights = t.app.results_source(&key).unwrap();
        t.app.publish_result(&rights, false, doc(1).as_bytes()).await.unwrap();
        let p = t.app.publish_result(&rights, false, doc(2).as_bytes()).await.unwrap();
        (p.epoch, p.seq)
    };
    let t = open();
    assert_eq!(t.app.load_results().await.unwrap(), 1);
    let (at, docs) = t.app.results_documents(tessera_results::Entitlement::Public, &tessera_results::Filter::default());
    assert_eq!((at.epoch, at.seq), (epoch, seq));
    assert_eq!(docs[0].header.version, 2);
    assert_eq!(t.app.results_medals().1.of("USA").gold, 1);
    let (key, _) = t.app.issue_results_source("ATHOLY1", &["ATH".to_string()]).unwrap();
    let rights = t.app.results_source(&key).unwrap();
    assert_eq!(t.app.publish_result(&rights, false, doc(2).as_bytes()).await.unwrap().outcome, "duplicate");
    let p = t.app.publish_result(&rights, false, doc(3).as_bytes()).await.unwrap();
    assert_eq!((p.epoch, p.seq), (epoch, seq + 1), "numbered on in the same epoch");
}
