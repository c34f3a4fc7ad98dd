//! Payment records and their state machine.

use super::*;

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
