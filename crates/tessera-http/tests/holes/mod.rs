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

/// Guessing at one account is throttled from wherever it comes; the owner's known device keeps
/// its own budget; the throttle is a security event the operators see.
#[tokio::test]
async fn guessing_at_one_account_is_throttled_but_its_owner_gets_in() {
    let t = TestApp::start().await;
    let _ = t.fan(1).await;
    let ops = t.operator().await;
    let login = |pw: &str, device: Option<&str>| json!({"email": "fan1@example.org", "password": pw, "device": device});
    // The owner signed in before (t.fan did, without a device; once more to get one).
    let (s, owner) = t.call("POST", "/api/v1/auth/login", None, Some(login("correct horse battery", None))).await;
    assert_eq!(s, StatusCode::OK, "{owner}");
    let device = owner["device"].as_str().unwrap().to_string();
    assert!(!device.is_empty());

    // 200 guesses, as from 200 addresses (the per-address limits are off in this server).
    let mut checked = 0;
    for i in 0..200 {
        let r = t
            .http
            .post(format!("{}/api/v1/auth/login", t.base))
            .json(&login(&format!("guess number {i}"), None))
            .send()
            .await
            .unwrap();
        match r.status() {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                let wait: i64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
                assert!(wait >= 1, "{wait}");
                let e: serde_json::Value = r.json().await.unwrap();
                assert_eq!(e["error"]["code"], "signin_throttled");
            }
            other => panic!("{other}"),
        }
    }
    assert_eq!(checked, 5, "only the free failures were checked");
    // Even the right password from an unknown device waits: the throttle checks nothing.
    let (s, _) = t.call("POST", "/api/v1/auth/login", None, Some(login("correct horse battery", None))).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    // The owner's device has its own budget; another account's device token does not help.
    let (s, b) = t.call("POST", "/api/v1/auth/login", None, Some(login("correct horse battery", Some(&device)))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, other) = t
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "ops@example.org", "password": "operator passphrase"})),
        )
        .await;
    let foreign = other["device"].as_str().unwrap();
    let (s, _) = t.call("POST", "/api/v1/auth/login", None, Some(login("correct horse battery", Some(foreign)))).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);

    // The operators see it as a security event, without the address in clear.
    let (s, events) = t.call("GET", "/api/v1/admin/security-events", Some(&ops), None).await;
    assert_eq!(s, StatusCode::OK, "{events}");
    let throttled: Vec<_> = events.as_array().unwrap().iter().filter(|e| e["kind"] == "signin_throttled").collect();
    assert_eq!(throttled.len(), 1, "{events}");
    assert!(!events.to_string().contains("fan1@example.org"));
    let (s, _) = t.call("GET", "/api/v1/admin/security-events", Some(&device), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "a device token is no sign-in");

    // The wait ends; the waits never exceed a quarter of an hour.
    t.clock.advance(15 * 60 + 1);
    let (s, _) = t.call("POST", "/api/v1/auth/login", None, Some(login("correct horse battery", None))).await;
    assert_eq!(s, StatusCode::OK);
}

/// The sign-in page keeps its own known-device cookie and goes back where the fan was going,
/// never to another site.
#[tokio::test]
async fn the_sign_in_page_remembers_the_device_and_returns_only_to_this_site() {
    let t = TestApp::start().await;
    let _ = t.fan(1).await;
    let post = |next: &'static str, cookie: Option<String>| {
        let form = [("email", "fan1@example.org"), ("password", "correct horse battery"), ("next", next)];
        let mut r = t.http.post(format!("{}/login", t.base)).form(&form);
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        async move { r.send().await.unwrap() }
    };
    let r = post("/mailbox", None).await;
    assert_eq!(r.headers()["location"], "/mailbox");
    let cookies: Vec<String> =
        r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect();
    let device = cookies.iter().find(|c| c.starts_with("tessera_device=")).expect("a device cookie");
    assert!(device.contains("HttpOnly") && device.contains("Path=/login"), "{device}");
    for evil in ["//evil.example/x", "https://evil.example/", "/\\evil.example"] {
        let r = post(evil, None).await;
        assert_eq!(r.headers()["location"], "/", "{evil}");
    }
    let form = t.http.get(format!("{}/login?next=/wallet", t.base)).send().await.unwrap().text().await.unwrap();
    assert!(form.contains(r#"name="next" value="/wallet""#), "{form}");
}

/// A gate's token trades the per-address limit for a budget of the gate's own, so a stolen
/// token floods nothing; an operator revokes it at once, and enrolling again gives a new one.
#[tokio::test]
async fn a_gate_token_has_its_own_budget_and_can_be_revoked() {
    use tessera_airlock::gcra::Quota;
    let q = |per_second, burst| Quota { per_second, burst };
    let t = TestApp::start_with(
        tessera_app::airlock::EdgeLimits {
            // The ordinary limits stay out of the way: the gate's own budget is under test.
            per_address: q(1e6, 100_000),
            per_network: q(1e6, 100_000),
            throttled: q(1e6, 100_000),
            per_gate: q(0.5, 20),
        },
        tessera_http::serve::ServeLimits::default(),
    )
    .await;
    t.app.import_catalogue(&tessera_store::testsuite::fixture()).await.unwrap();
    let token = t.app.enroll_gate("G1", "BRC", "", 3600).await.unwrap();
    let from = |last: u8| {
        reqwest::Client::builder().local_address(std::net::IpAddr::from([127, 0, 12, last])).build().unwrap()
    };
    let sync = |c: reqwest::Client, token: String| {
        let url = format!("{}/api/v1/gate/sync", t.base);
        async move {
            let r = c.post(url).bearer_auth(token).json(&json!({})).send().await.unwrap();
            let status = r.status();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            (status, body["error"]["code"].as_str().unwrap_or_default().to_string())
        }
    };
    // From many addresses at once, the gate's budget (a burst of 20) still ends.
    let mut answers = Vec::new();
    for i in 0..40u8 {
        answers.push(sync(from(i + 1), token.clone()).await);
    }
    let ok = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert!((20..=21).contains(&ok), "{ok} syncs passed: {answers:?}");
    assert!(answers.iter().any(|a| *a == (StatusCode::TOO_MANY_REQUESTS, "rate_limited_gate".to_string())));

    // Revoked through the operator API: refused at once, with the token's own error.
    let ops = t.operator().await;
    let revoke = |reason: &str| Some(json!({"reason": reason}));
    let (s, e) = t.call("POST", "/api/v1/admin/gates/G1/revoke", Some(&ops), revoke("")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let fan = t.fan(1).await;
    assert_eq!(t.call("POST", "/api/v1/admin/gates/G1/revoke", Some(&fan), revoke("x")).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        t.call("POST", "/api/v1/admin/gates/G1/revoke", Some(&ops), revoke("stolen")).await.0,
        StatusCode::NO_CONTENT
    );
    t.clock.advance(3600 * 24);
    let (_, code) = sync(from(200), token.clone()).await;
    assert_eq!(code, "bad_token");
    let (_, gates) = t.call("GET", "/api/v1/admin/gates", Some(&ops), None).await;
    assert!(
        gates["gates"].as_array().unwrap().iter().any(|g| g["gate_id"] == "G1" && g["revoked_at_ms"].is_i64()),
        "{gates}"
    );
    let (_, events) = t.call("GET", "/api/v1/admin/security-events", Some(&ops), None).await;
    assert!(events.as_array().unwrap().iter().any(|e| e["kind"] == "gate_token_revoked" && e["subject"] == "gate:G1"));

    // Enrolled again: a new token works; the old one stays refused.
    let fresh = t.app.enroll_gate("G1", "BRC", "", 3600).await.unwrap();
    // (The budget is the gate's, whatever its token: let it refill by one sync.)
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    assert_eq!(sync(from(201), fresh).await.0, StatusCode::OK);
    assert_eq!(sync(from(202), token).await.1, "bad_token");
}
