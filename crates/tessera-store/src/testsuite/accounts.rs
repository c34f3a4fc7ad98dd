//! Accounts, sign-in sessions and the mail outbox.

use super::*;

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

    // Every role is stored and read back as itself (the analyst and accreditation's three
    // came with migrations that widened the CHECK).
    let roles =
        [Role::Fan, Role::Operator, Role::Analyst, Role::Accreditation, Role::Vetting, Role::Desk, Role::Volunteers];
    for (n, role) in roles.into_iter().enumerate() {
        let a = store
            .create_account(&NewAccount {
                email: Email::parse(&format!("role{n}@example.org")).unwrap(),
                password_hash: "x".into(),
                display_name: role.as_str().into(),
                role,
                now: T0,
            })
            .await
            .unwrap();
        assert_eq!(store.account(a.id).await.unwrap().unwrap().role, role);
    }
}

pub async fn mail_outbox(h: Box<dyn Harness>) {
    let store = h.open().await;
    let a = store.enqueue_mail("a@example.org", "Hello", "Body", T0).await.unwrap();
    let b = store.enqueue_mail("b@example.org", "Hi", "Body", T0).await.unwrap();
    let lease = |t: Timestamp| t.plus_secs(300);
    let claimed = store.claim_mail(T0, lease(T0), 10).await.unwrap();
    assert_eq!(claimed.iter().map(|m| m.id).collect::<Vec<_>>(), vec![a, b], "oldest first");
    assert!(store.claim_mail(T0, lease(T0), 10).await.unwrap().is_empty(), "a claimed mail is nobody else's");
    store.mark_mail_failed(a, "connection refused", Some(T0.plus_secs(60))).await.unwrap();
    store.mark_mail_sent(b, T0).await.unwrap();
    assert!(store.claim_mail(T0, lease(T0), 10).await.unwrap().is_empty());
    let due = store.claim_mail(T0.plus_secs(60), lease(T0.plus_secs(60)), 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].attempts, due[0].last_error.as_deref()), (1, Some("connection refused")));
    // A sender that died: the lease runs out and the mail is due again.
    assert_eq!(store.claim_mail(T0.plus_secs(360), lease(T0.plus_secs(360)), 10).await.unwrap().len(), 1);
    store.mark_mail_failed(a, "mailbox does not exist", None).await.unwrap();
    assert!(
        store.claim_mail(T0.plus_secs(10_000), lease(T0.plus_secs(10_000)), 10).await.unwrap().is_empty(),
        "given up"
    );
    // Senders racing on one store each take their own mails: none is sent twice.
    let mut ids = Vec::new();
    for i in 0..200 {
        ids.push(store.enqueue_mail(&format!("r{i}@example.org"), "Race", "Body", T0).await.unwrap());
    }
    let racers: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let batch = store.claim_mail(T0, T0.plus_secs(300), 7).await.unwrap();
                    if batch.is_empty() {
                        return got;
                    }
                    got.extend(batch.into_iter().map(|m| m.id));
                }
            })
        })
        .collect();
    let mut taken = Vec::new();
    for r in racers {
        taken.extend(r.await.unwrap());
    }
    taken.sort_unstable();
    assert_eq!(taken, ids, "every mail claimed exactly once");
    assert_eq!(store.recent_mail(Some("b@example.org"), 10).await.unwrap()[0].sent_at, Some(T0));
}
