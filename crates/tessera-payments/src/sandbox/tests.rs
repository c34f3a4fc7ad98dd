use super::*;
use crate::{test_cards, Card, DeclineCode};
use std::sync::Arc;
use tokio::time::Instant;

fn card(number: &str) -> Card {
    Card { number: number.into(), exp_month: 12, exp_year: 2099, cvc: "123".into(), holder: "Ada Lovelace".into() }
}

fn req(key: &str, number: &str) -> AuthorizeRequest {
    AuthorizeRequest {
        idempotency_key: key.into(),
        amount: Cents(12_000),
        reference: "order-1".into(),
        card: card(number),
    }
}

fn fixed_now() -> time::OffsetDateTime {
    time::macros::datetime!(2026-06-15 12:00 UTC)
}

fn psp() -> SandboxProvider {
    SandboxProvider::new(SandboxConfig { now: fixed_now, ..SandboxConfig::default() })
}

fn invalid_card(result: Result<Authorization, PaymentError>) -> String {
    match result {
        Err(PaymentError::InvalidCard(msg)) => msg,
        other => panic!("expected InvalidCard, got {other:?}"),
    }
}

fn decline_code(result: Result<Authorization, PaymentError>) -> DeclineCode {
    match result {
        Err(PaymentError::Declined { code, message }) => {
            assert!(!message.is_empty());
            code
        }
        other => panic!("expected a decline, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn success_card_with_and_without_spaces() {
    let psp = psp();
    let start = Instant::now();
    let a = psp.authorize(&req("k1", test_cards::SUCCESS)).await.unwrap();
    assert!(a.id.starts_with("sbx_auth_"), "{}", a.id);
    let hex = &a.id["sbx_auth_".len()..];
    assert_eq!(hex.len(), 16);
    assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(a.amount, Cents(12_000));
    assert_eq!(a.card_last4, "4242");
    let b = psp.authorize(&req("k2", "4242424242424242")).await.unwrap();
    assert_ne!(a.id, b.id);
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(psp.authorizations_for_reference("order-1"), 2);
    assert_eq!(psp.name(), "sandbox");
}

#[tokio::test]
async fn decline_cards() {
    let psp = psp();
    let cases = [
        (test_cards::DECLINED, DeclineCode::Generic),
        (test_cards::INSUFFICIENT_FUNDS, DeclineCode::InsufficientFunds),
        (test_cards::EXPIRED, DeclineCode::ExpiredCard),
        (test_cards::INCORRECT_CVC, DeclineCode::IncorrectCvc),
        (test_cards::FRAUDULENT, DeclineCode::Fraudulent),
    ];
    for (i, (number, expected)) in cases.into_iter().enumerate() {
        let got = decline_code(psp.authorize(&req(&format!("d{i}"), number)).await);
        assert_eq!(got, expected, "{number}");
    }
    assert_eq!(psp.authorizations_for_reference("order-1"), 0);
}

#[tokio::test]
async fn declines_are_remembered_under_their_key() {
    let psp = psp();
    let r = req("k", test_cards::INSUFFICIENT_FUNDS);
    let first = psp.authorize(&r).await.unwrap_err();
    assert_eq!(psp.authorize(&r).await.unwrap_err(), first);
    // Trying another card needs a new key.
    assert_eq!(psp.authorize(&req("k", test_cards::SUCCESS)).await, Err(PaymentError::IdempotencyConflict));
    assert!(psp.authorize(&req("k2", test_cards::SUCCESS)).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn slow_card_answers_after_slow_delay() {
    let psp = psp();
    let start = Instant::now();
    let a = psp.authorize(&req("k", test_cards::SLOW)).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert_eq!(a.card_last4, "0077");
    // The replay is immediate.
    let start = Instant::now();
    assert_eq!(psp.authorize(&req("k", test_cards::SLOW)).await.unwrap(), a);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn slow_card_slower_than_timeout_is_a_lost_answer() {
    let psp = SandboxProvider::new(SandboxConfig {
        timeout: Duration::from_secs(2),
        slow_delay: Duration::from_secs(5),
        now: fixed_now,
    });
    let start = Instant::now();
    let r = req("k", test_cards::SLOW);
    assert_eq!(psp.authorize(&r).await, Err(PaymentError::Timeout));
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert!(psp.authorize(&r).await.is_ok());
    assert_eq!(psp.authorizations_for_reference("order-1"), 1);
}

#[tokio::test(start_paused = true)]
async fn lost_answer_then_retry_charges_once() {
    let psp = psp();
    let r = req("checkout-7", test_cards::LOST_ANSWER);
    let start = Instant::now();
    assert_eq!(psp.authorize(&r).await, Err(PaymentError::Timeout));
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    assert_eq!(psp.authorizations_for_reference("order-1"), 1);

    let start = Instant::now();
    let a = psp.authorize(&r).await.unwrap();
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(a.card_last4, "0101");
    assert_eq!(psp.authorize(&r).await.unwrap().id, a.id);
    assert_eq!(psp.authorizations_for_reference("order-1"), 1);
    psp.capture(&a.id).await.unwrap();
    assert_eq!(psp.captured_total(), Cents(12_000));
}

#[tokio::test]
async fn processing_error_records_nothing() {
    let psp = psp();
    let r = req("k", test_cards::PROCESSING_ERROR);
    let err = psp.authorize(&r).await.unwrap_err();
    assert_eq!(err, PaymentError::Unavailable("processing error".into()));
    assert!(err.is_retryable());
    assert_eq!(psp.authorizations_for_reference("order-1"), 0);
    // Not remembered: the same key may be used with another card.
    assert!(psp.authorize(&req("k", test_cards::SUCCESS)).await.is_ok());
}

#[tokio::test]
async fn other_luhn_valid_numbers_succeed() {
    let psp = psp();
    for (i, n) in
        ["5555555555554444", "378282246310005", "6011 1111 1111 1117", "4222222222222"].into_iter().enumerate()
    {
        let a = psp.authorize(&req(&format!("k{i}"), n)).await.unwrap();
        assert!(n.ends_with(&a.card_last4), "{n}: {}", a.card_last4);
        assert_eq!(a.card_last4.len(), 4);
    }
}

#[tokio::test]
async fn malformed_numbers_are_invalid_cards() {
    let psp = psp();
    let msg = invalid_card(psp.authorize(&req("a", "4242424242424241")).await);
    assert!(msg.contains("Luhn"), "{msg}");
    let msg = invalid_card(psp.authorize(&req("b", "4242-4242-4242-4242")).await);
    assert!(msg.contains("'-'") && msg.contains("position 5"), "{msg}");
    let msg = invalid_card(psp.authorize(&req("c", "424242424242")).await);
    assert!(msg.contains("12 digits"), "{msg}");
    let msg = invalid_card(psp.authorize(&req("d", "42424242424242424242")).await);
    assert!(msg.contains("20 digits"), "{msg}");
    let msg = invalid_card(psp.authorize(&req("e", "  ")).await);
    assert!(msg.contains("empty"), "{msg}");
    assert_eq!(psp.authorizations_for_reference("order-1"), 0);
}

#[tokio::test]
async fn cvc_and_expiry_month_are_checked() {
    let psp = psp();
    for cvc in ["", "12", "12345", "12a", "１２３"] {
        let mut r = req("k", test_cards::SUCCESS);
        r.card.cvc = cvc.into();
        let msg = invalid_card(psp.authorize(&r).await);
        assert!(msg.contains("CVC"), "{msg}");
    }
    for cvc in ["123", "1234"] {
        let mut r = req(cvc, test_cards::SUCCESS);
        r.card.cvc = cvc.into();
        assert!(psp.authorize(&r).await.is_ok());
    }
    for month in [0, 13] {
        let mut r = req("m", test_cards::SUCCESS);
        r.card.exp_month = month;
        let msg = invalid_card(psp.authorize(&r).await);
        assert!(msg.contains("month"), "{msg}");
    }
}

#[tokio::test]
async fn expired_dates_are_declined() {
    // fixed_now is June 2026.
    let psp = psp();
    for (i, (year, month, expired)) in
        [(2026, 5, true), (2025, 12, true), (26, 5, true), (2026, 6, false), (26, 6, false), (2030, 1, false)]
            .into_iter()
            .enumerate()
    {
        let mut r = req(&format!("k{i}"), test_cards::SUCCESS);
        r.card.exp_year = year;
        r.card.exp_month = month;
        let result = psp.authorize(&r).await;
        if expired {
            assert_eq!(decline_code(result), DeclineCode::ExpiredCard, "{year}-{month}");
        } else {
            assert!(result.is_ok(), "{year}-{month}: {result:?}");
        }
    }
}

#[tokio::test]
async fn amount_limits() {
    let psp = psp();
    for (i, (amount, ok)) in
        [(0, false), (-5, false), (1, true), (100_000_000, true), (100_000_001, false)].into_iter().enumerate()
    {
        let mut r = req(&format!("k{i}"), test_cards::SUCCESS);
        r.amount = Cents(amount);
        match psp.authorize(&r).await {
            Ok(a) => assert!(ok && a.amount == Cents(amount), "{amount}"),
            Err(PaymentError::InvalidRequest(msg)) => assert!(!ok, "{amount}: {msg}"),
            Err(e) => panic!("{amount}: {e:?}"),
        }
    }
}

#[tokio::test]
async fn idempotency_key_is_required_and_bounded() {
    let psp = psp();
    let r = req("", test_cards::SUCCESS);
    assert!(matches!(psp.authorize(&r).await, Err(PaymentError::InvalidRequest(_))));
    let r = req(&"x".repeat(256), test_cards::SUCCESS);
    assert!(matches!(psp.authorize(&r).await, Err(PaymentError::InvalidRequest(_))));
    let r = req(&"x".repeat(255), test_cards::SUCCESS);
    assert!(psp.authorize(&r).await.is_ok());
}

#[tokio::test]
async fn same_key_same_request_is_one_authorization() {
    let psp = psp();
    let a = psp.authorize(&req("k", test_cards::SUCCESS)).await.unwrap();
    // Spacing of the number is not a different request.
    let b = psp.authorize(&req("k", "4242424242424242")).await.unwrap();
    assert_eq!(a, b);
    assert_eq!(psp.authorizations_for_reference("order-1"), 1);
}

#[tokio::test]
async fn same_key_different_request_is_a_conflict() {
    let psp = psp();
    psp.authorize(&req("k", test_cards::SUCCESS)).await.unwrap();
    let mut other_amount = req("k", test_cards::SUCCESS);
    other_amount.amount = Cents(1);
    let mut other_reference = req("k", test_cards::SUCCESS);
    other_reference.reference = "order-2".into();
    let other_card = req("k", "5555555555554444");
    let mut other_cvc = req("k", test_cards::SUCCESS);
    other_cvc.card.cvc = "999".into();
    for r in [other_amount, other_reference, other_card, other_cvc] {
        assert_eq!(psp.authorize(&r).await, Err(PaymentError::IdempotencyConflict));
    }
    assert_eq!(psp.authorizations_for_reference("order-1"), 1);
    assert_eq!(psp.authorizations_for_reference("order-2"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_charge_once() {
    let psp = Arc::new(psp());
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let psp = Arc::clone(&psp);
            tokio::spawn(async move { psp.authorize(&req("same", test_cards::SUCCESS)).await })
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        ids.insert(t.await.unwrap().unwrap().id);
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(psp.authorizations_for_reference("order-1"), 1);
}

#[tokio::test]
async fn capture_twice_is_one_capture() {
    let psp = psp();
    let a = psp.authorize(&req("k", test_cards::SUCCESS)).await.unwrap();
    let c1 = psp.capture(&a.id).await.unwrap();
    let c2 = psp.capture(&a.id).await.unwrap();
    assert_eq!(c1, c2);
    assert!(c1.id.starts_with("sbx_cap_"));
    assert_eq!(c1.authorization_id, a.id);
    assert_eq!(c1.amount, Cents(12_000));
    assert_eq!(psp.capture_count(), 1);
    assert_eq!(psp.captured_total(), Cents(12_000));
    assert_eq!(psp.capture("sbx_auth_0000000000000000").await, Err(PaymentError::NotFound));
}

#[tokio::test]
async fn a_voided_authorization_cannot_be_captured() {
    let psp = psp();
    let a = psp.authorize(&req("k", test_cards::SUCCESS)).await.unwrap();
    psp.void(&a.id).await.unwrap();
    psp.void(&a.id).await.unwrap();
    assert!(matches!(psp.capture(&a.id).await, Err(PaymentError::InvalidRequest(_))));
    assert_eq!(psp.capture_count(), 0);
    let b = psp.authorize(&req("k2", test_cards::SUCCESS)).await.unwrap();
    psp.capture(&b.id).await.unwrap();
    assert!(matches!(psp.void(&b.id).await, Err(PaymentError::InvalidRequest(_))));
}

#[tokio::test]
async fn a_key_whose_authorization_was_voided_never_authorizes_again() {
    let psp = psp();
    let a = psp.authorize(&req("k", test_cards::SUCCESS)).await.unwrap();
    assert_eq!(psp.authorize(&req("k", test_cards::SUCCESS)).await.unwrap().id, a.id, "a replay before the void");
    psp.void(&a.id).await.unwrap();
    assert_eq!(psp.authorize(&req("k", test_cards::SUCCESS)).await, Err(PaymentError::AuthorizationVoided));
}

/// Issue: after `kill -9` the in-memory sandbox forgot every authorisation, so replays
/// authorised anew and the old ones were never voided. Opened on a journal, it remembers.
#[tokio::test]
async fn a_journalled_sandbox_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sandbox.jsonl");
    let (a, captured) = {
        let psp = SandboxProvider::open(&path, SandboxConfig::default()).unwrap();
        let a = psp.authorize(&req("k", test_cards::SUCCESS)).await.unwrap();
        let b = psp.authorize(&req("k2", test_cards::SUCCESS)).await.unwrap();
        psp.capture(&b.id).await.unwrap();
        psp.refund(&b.id, Cents(100), "r1").await.unwrap();
        let v = psp.authorize(&req("k3", test_cards::SUCCESS)).await.unwrap();
        psp.void(&v.id).await.unwrap();
        assert!(psp.authorize(&req("k4", test_cards::DECLINED)).await.is_err());
        (a, psp.captured_total())
    };
    // A crash in the middle of a line loses that line only.
    std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{\"op\":\"capt").unwrap();
    let psp = SandboxProvider::open(&path, SandboxConfig::default()).unwrap();
    assert_eq!(psp.authorize(&req("k", test_cards::SUCCESS)).await.unwrap(), a, "the same authorisation");
    assert_eq!((psp.captured_total(), psp.capture_count(), psp.refunded_total()), (captured, 1, Cents(100)));
    assert_eq!(psp.authorize(&req("k3", test_cards::SUCCESS)).await, Err(PaymentError::AuthorizationVoided));
    assert!(matches!(psp.authorize(&req("k4", test_cards::DECLINED)).await, Err(PaymentError::Declined { .. })));
    assert_eq!(psp.authorize(&req("k", test_cards::DECLINED)).await, Err(PaymentError::IdempotencyConflict));
    psp.capture(&a.id).await.unwrap();
    drop(psp);
    let psp = SandboxProvider::open(&path, SandboxConfig::default()).unwrap();
    assert_eq!(psp.capture_count(), 2, "a capture after the restart is journalled too");
}

#[tokio::test]
async fn an_uncaptured_authorization_lapses_after_a_week() {
    fn later() -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc() + time::Duration::seconds(AUTHORIZATION_LIFETIME_SECS + 60)
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sandbox.jsonl");
    let a = SandboxProvider::open(&path, SandboxConfig::default())
        .unwrap()
        .authorize(&req("k", test_cards::SUCCESS))
        .await
        .unwrap();
    let psp = SandboxProvider::open(&path, SandboxConfig { now: later, ..SandboxConfig::default() }).unwrap();
    assert!(matches!(psp.capture(&a.id).await, Err(PaymentError::InvalidRequest(_))));
    assert_eq!(psp.authorize(&req("k", test_cards::SUCCESS)).await, Err(PaymentError::AuthorizationVoided));
}

#[tokio::test]
async fn refunds_never_exceed_the_capture() {
    let psp = psp();
    let a = psp.authorize(&req("k", test_cards::SUCCESS)).await.unwrap();
    // Not captured yet.
    assert!(matches!(psp.refund(&a.id, Cents(100), "r0").await, Err(PaymentError::InvalidRequest(_))));
    psp.capture(&a.id).await.unwrap();
    let r1 = psp.refund(&a.id, Cents(2_000), "r1").await.unwrap();
    assert!(r1.id.starts_with("sbx_refund_"));
    assert_eq!(r1.amount, Cents(2_000));
    assert_eq!(r1.authorization_id, a.id);
    // 10 000 left: 10 001 is too much, 10 000 is fine, then nothing is left.
    match psp.refund(&a.id, Cents(10_001), "r2").await {
        Err(PaymentError::InvalidRequest(msg)) => assert!(msg.contains("€100.00"), "{msg}"),
        other => panic!("{other:?}"),
    }
    psp.refund(&a.id, Cents(10_000), "r2").await.unwrap();
    assert!(matches!(psp.refund(&a.id, Cents(1), "r3").await, Err(PaymentError::InvalidRequest(_))));
    assert_eq!(psp.refunded_total(), Cents(12_000));
    assert_eq!(psp.captured_total(), Cents(12_000));
    for bad in [0, -1] {
        assert!(matches!(psp.refund(&a.id, Cents(bad), "r4").await, Err(PaymentError::InvalidRequest(_))));
    }
    assert_eq!(psp.refund("nope", Cents(1), "r5").await, Err(PaymentError::NotFound));
}

#[tokio::test]
async fn refunds_are_idempotent() {
    let psp = psp();
    let a = psp.authorize(&req("k", test_cards::SUCCESS)).await.unwrap();
    psp.capture(&a.id).await.unwrap();
    let r1 = psp.refund(&a.id, Cents(5_000), "r1").await.unwrap();
    assert_eq!(psp.refund(&a.id, Cents(5_000), "r1").await.unwrap(), r1);
    assert_eq!(psp.refunded_total(), Cents(5_000));
    assert_eq!(psp.refund(&a.id, Cents(4_000), "r1").await, Err(PaymentError::IdempotencyConflict));
    let b = psp.authorize(&req("k2", test_cards::SUCCESS)).await.unwrap();
    assert_eq!(psp.refund(&b.id, Cents(5_000), "r1").await, Err(PaymentError::IdempotencyConflict));
    assert_eq!(psp.refunded_total(), Cents(5_000));
}

#[tokio::test]
async fn thousands_of_calls_are_cheap() {
    let psp = psp();
    let start = std::time::Instant::now();
    for i in 0..5_000 {
        let mut r = req(&format!("k{i}"), test_cards::SUCCESS);
        r.reference = format!("order-{i}");
        let a = psp.authorize(&r).await.unwrap();
        psp.capture(&a.id).await.unwrap();
    }
    assert_eq!(psp.capture_count(), 5_000);
    assert_eq!(psp.captured_total(), Cents(5_000 * 12_000));
    // Generous bound for a slow, shared debug build.
    assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
}
