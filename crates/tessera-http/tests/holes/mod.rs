//! The holes an independent security test found (issue 13), each with the test that failed
//! before its fix: a waiting room bypassed through another phase, the demo mailbox open to
//! anyone, registration telling which addresses have accounts, unlimited guessing on one
//! account, operational figures open to anyone, a gate token lifting the rate limits.

use super::{card, waiting_room, TestApp};
use reqwest::StatusCode;
use serde_json::json;
use tessera_store::testsuite::T0;

/// A cart filled in a phase behind a waiting room cannot be paid through a phase without one:
/// admission is checked for the phase of what is bought, not the phase the path names.
#[tokio::test]
async fn a_cart_is_paid_only_through_its_own_phase() {
    let t = TestApp::start().await;
    let fan = t.fan(1).await;
    let cat = t.sale(&[&fan]).await;
    let ops = t.operator().await;
    // P2, open to the same fan, with no waiting room.
    let (s, b) =
        t.call("POST", "/api/v1/admin/phases", Some(&ops), Some(json!({"code": "P2", "name": "Phase 2"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(t.call("POST", "/api/v1/admin/phases/P2/open", Some(&ops), None).await.0, StatusCode::OK);
    assert_eq!(t.call("POST", "/api/v1/phases/P2/entry", Some(&fan), None).await.0, StatusCode::OK);
    assert_eq!(t.call("POST", "/api/v1/admin/phases/P2/close", Some(&ops), None).await.0, StatusCode::OK);
    let draw = json!({"first_wave_at": T0.plus_secs(60).to_rfc3339()});
    assert_eq!(t.call("POST", "/api/v1/admin/phases/P2/draw", Some(&ops), Some(draw)).await.0, StatusCode::OK);

    // Seats held in P1, then P1 goes behind a waiting room this fan was never admitted from.
    let (s, cart) = t
        .call("POST", "/api/v1/phases/P1/cart/items", Some(&fan), Some(json!({"category_id": cat, "quantity": 2})))
        .await;
    assert_eq!(s, StatusCode::OK, "{cart}");
    waiting_room(&t, &ops, 0.001, "off").await;

    let pay = json!({"cart_id": cart["id"], "card": card("4242 4242 4242 4242")});
    let idem = [("Idempotency-Key", "bypass")];
    let (s, e) = t.with_headers("POST", "/api/v1/phases/P2/checkout", &fan, &idem, Some(pay.clone())).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{e}");
    let (s, e) = t.with_headers("POST", "/api/v1/phases/P1/checkout", &fan, &idem, Some(pay)).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("not_admitted")), "{e}");
    assert_eq!(t.figures().await.0, 0, "nothing paid");
}

/// The demo's mailbox shows a signed-in fan their own mail, an operator all of it, and an
/// anonymous visitor none: a reset link for someone else's account is never on show.
#[tokio::test]
async fn the_demo_mailbox_shows_only_ones_own_mail() {
    let t = TestApp::start().await;
    let fan = t.fan(1).await;
    let ops = t.operator().await;
    let (s, _) = t.call("POST", "/api/v1/auth/password-reset", None, Some(json!({"email": "ops@example.org"}))).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let reset = t.app.store.recent_mail(Some("ops@example.org"), 1).await.unwrap();
    assert_eq!(reset[0].subject, "Reset your password");
    let link = reset[0].body.lines().find(|l| l.contains("/reset?token=")).unwrap().trim().to_string();

    let page = |cookie: Option<String>| {
        let mut r = t.http.get(format!("{}/mailbox", t.base));
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        async move { r.send().await.unwrap().text().await.unwrap() }
    };
    let anonymous = page(None).await;
    assert!(!anonymous.contains("token=") && !anonymous.contains("ops@example.org"), "{anonymous}");
    let mine = page(Some(format!("tessera_session={fan}"))).await;
    assert!(mine.contains("fan1@example.org") && !mine.contains(&link) && !mine.contains("ops@example.org"), "{mine}");
    let all = page(Some(format!("tessera_session={ops}"))).await;
    assert!(all.contains(&link) && all.contains("fan1@example.org"), "{all}");
}

/// Registering an address that has an account answers exactly as for a new one; the owner
/// gets a mail saying so, and nothing else changes.
#[tokio::test]
async fn registration_does_not_tell_who_has_an_account() {
    let t = TestApp::start().await;
    let _ = t.fan(1).await;
    let t = &t;
    let register = |email: &str| {
        let body = json!({"email": email, "password": "another good passphrase", "display_name": "Eve"});
        async move { t.call("POST", "/api/v1/accounts", None, Some(body)).await }
    };
    let (s_new, b_new) = register("fresh@example.org").await;
    let (s_old, b_old) = register("Fan1@example.org").await;
    assert_eq!((s_new, s_old), (StatusCode::ACCEPTED, StatusCode::ACCEPTED));
    let shape = |b: &serde_json::Value| {
        let mut keys: Vec<String> = b.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        (keys, b["next"].clone())
    };
    assert_eq!(shape(&b_new), shape(&b_old), "{b_new} vs {b_old}");
    assert_eq!(b_old["email"], "fan1@example.org");
    let mail = t.app.store.recent_mail(Some("fan1@example.org"), 1).await.unwrap();
    assert_eq!(mail[0].subject, "You already have an account");
    // The owner's password still works; the newcomer's does not.
    let login = |pw: &str| json!({"email": "fan1@example.org", "password": pw});
    assert_eq!(
        t.call("POST", "/api/v1/auth/login", None, Some(login("correct horse battery"))).await.0,
        StatusCode::OK
    );
    assert_eq!(
        t.call("POST", "/api/v1/auth/login", None, Some(login("another good passphrase"))).await.0,
        StatusCode::UNAUTHORIZED
    );
}
