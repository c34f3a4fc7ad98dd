//! The HTTP surface end to end: a real server on a temporary SQLite file, driven over loopback.

use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;
use tessera_airlock::gcra::Quota;
use tessera_app::airlock::EdgeLimits;
use tessera_app::{App, AppConfig, ManualClock, PasswordCost};
use tessera_http::serve::ServeLimits;
use tessera_payments::{SandboxConfig, SandboxProvider};
use tessera_store::testsuite::{fixture, T0};
use tessera_store::Role;

struct TestApp {
    base: String,
    app: App,
    clock: Arc<ManualClock>,
    payments: Arc<SandboxProvider>,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

impl TestApp {
    async fn start() -> TestApp {
        // One loopback address stands in for every client of a test: the edge limits must not
        // bite, except in the test that is about them.
        let q = Quota { per_second: 1e6, burst: 100_000 };
        Self::start_with(EdgeLimits { per_address: q, per_network: q, throttled: q }, ServeLimits::default()).await
    }

    async fn start_with(edge: EdgeLimits, limits: ServeLimits) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let store =
            tessera_store_sqlite::SqliteStore::open(dir.path().join("t.db"), tessera_store_sqlite::Durability::Normal)
                .unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let payments = Arc::new(SandboxProvider::new(SandboxConfig {
            timeout: std::time::Duration::from_millis(50),
            ..SandboxConfig::default()
        }));
        let mut config = AppConfig::new([5; 32], "http://shop.test");
        config.password_cost = PasswordCost { memory_kib: 1024, iterations: 1 };
        config.edge_limits = edge;
        let app = App::new(Arc::new(store), payments.clone(), clock.clone(), config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let state = tessera_http::AppState::new(app.clone(), true, None);
        tokio::spawn(tessera_http::serve::serve_with(listener, state, limits, async move {
            let _ = rx.await;
        }));
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        TestApp { base, app, clock, payments, http, _dir: dir, stop: Some(tx) }
    }

    async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let mut r = self.http.request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// A verified fan, signed in through the API.
    async fn fan(&self, n: usize) -> String {
        let email = format!("fan{n}@example.org");
        let (s, _) = self
            .call(
                "POST",
                "/api/v1/accounts",
                None,
                Some(json!({"email": email, "password": "correct horse battery", "display_name": "Fan"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        let mail = self.app.store.recent_mail(Some(&email), 1).await.unwrap();
        let start = mail[0].body.find("token=").unwrap() + 6;
        let token = mail[0].body[start..].split_whitespace().next().unwrap();
        assert_eq!(
            self.call("POST", "/api/v1/accounts/verify", None, Some(json!({"token": token}))).await.0,
            StatusCode::NO_CONTENT
        );
        let (s, b) = self
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"email": email, "password": "correct horse battery"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        b["token"].as_str().unwrap().to_string()
    }

    async fn operator(&self) -> String {
        self.app.create_account("ops@example.org", "operator passphrase", "Ops", Role::Operator).await.unwrap();
        let (_, b) = self
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"email": "ops@example.org", "password": "operator passphrase"})),
            )
            .await;
        b["token"].as_str().unwrap().to_string()
    }

    /// Catalogue, a phase drawn through the operator API with the given fans winning slots open now.
    async fn sale(&self, fans: &[&str]) -> i64 {
        self.app.import_catalogue(&fixture()).await.unwrap();
        let ops = self.operator().await;
        let (s, b) =
            self.call("POST", "/api/v1/admin/phases", Some(&ops), Some(json!({"code": "P1", "name": "Phase 1"}))).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        assert_eq!(self.call("POST", "/api/v1/admin/phases/P1/open", Some(&ops), None).await.0, StatusCode::OK);
        for f in fans {
            let (s, b) = self.call("POST", "/api/v1/phases/P1/entry", Some(f), None).await;
            assert_eq!(s, StatusCode::OK, "{b}");
        }
        assert_eq!(self.call("POST", "/api/v1/admin/phases/P1/close", Some(&ops), None).await.0, StatusCode::OK);
        let (s, b) = self
            .call("POST", "/api/v1/admin/phases/P1/draw", Some(&ops), Some(json!({"first_wave_at": T0.to_rfc3339()})))
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        self.clock.advance(60);
        let (_, b) = self.call("GET", "/api/v1/sessions/BKB01", None, None).await;
        b["categories"][0]["id"].as_i64().unwrap()
    }

    async fn figures(&self) -> (i64, i64, i64) {
        let f = self.app.store.sales_figures(self.app.now()).await.unwrap();
        let c = self.app.store.catalogue_stats().await.unwrap();
        (f.paid_orders, c.sold, c.held)
    }
}

fn card(number: &str) -> Value {
    json!({"number": number, "exp_month": 12, "exp_year": 2099, "cvc": "123", "holder": "Fan"})
}

#[tokio::test]
async fn a_fan_buys_end_to_end() {
    let t = TestApp::start().await;
    let fan = t.fan(1).await;
    let cat = t.sale(&[&fan]).await;
    let (s, me) = t.call("GET", "/api/v1/phases/P1/me", Some(&fan), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["slot"]["open_now"], true);
    let (s, cart) = t
        .call("POST", "/api/v1/phases/P1/cart/items", Some(&fan), Some(json!({"category_id": cat, "quantity": 2})))
        .await;
    assert_eq!(s, StatusCode::OK, "{cart}");
    assert_eq!(cart["total_cents"], 9000);
    let body = json!({"cart_id": cart["id"], "card": card("4242 4242 4242 4242")});
    let resp = t
        .http
        .post(format!("{}/api/v1/phases/P1/checkout", t.base))
        .bearer_auth(&fan)
        .header("Idempotency-Key", "order-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let order: Value = resp.json().await.unwrap();
    assert_eq!(order["tickets"].as_array().unwrap().len(), 2);
    // The same request again: the same order, no second charge.
    let again: Value = t
        .http
        .post(format!("{}/api/v1/phases/P1/checkout", t.base))
        .bearer_auth(&fan)
        .header("Idempotency-Key", "order-1")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["code"], order["code"]);
    assert_eq!(t.payments.capture_count(), 1);
    let (_, session) = t.call("GET", "/api/v1/sessions/BKB01", None, None).await;
    assert_eq!(session["categories"][0]["available"], 998);
    // Buy now: one request, the same guarantees.
    let buy = json!({"items": [{"category_id": cat, "quantity": 1}], "card": card("4242 4242 4242 4242")});
    for _ in 0..2 {
        let r = t
            .http
            .post(format!("{}/api/v1/phases/P1/orders", t.base))
            .bearer_auth(&fan)
            .header("Idempotency-Key", "buy-1")
            .json(&buy)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    assert_eq!(t.payments.capture_count(), 2);
    let (_, orders) = t.call("GET", "/api/v1/orders", Some(&fan), None).await;
    assert_eq!(orders.as_array().unwrap().len(), 2);
    let (_, session) = t.call("GET", "/api/v1/sessions/BKB01", None, None).await;
    assert_eq!(session["categories"][0]["available"], 997);
    // The published draw files are public.
    for f in ["commitment.json", "entries.txt", "result.json"] {
        assert_eq!(t.call("GET", &format!("/api/v1/phases/P1/{f}"), None, None).await.0, StatusCode::OK, "{f}");
    }
    // Logging out ends the token.
    assert_eq!(t.call("POST", "/api/v1/auth/logout", Some(&fan), None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(t.call("GET", "/api/v1/me", Some(&fan), None).await.0, StatusCode::UNAUTHORIZED);
}

/// Every bad request gets a 4xx JSON error with a code, and leaves the store as it was.
#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let t = TestApp::start().await;
    let fan = t.fan(1).await;
    let outsider = t.fan(2).await;
    let cat = t.sale(&[&fan]).await;
    let before = t.figures().await;
    let item = |q: Value| Some(json!({"category_id": cat, "quantity": q}));
    // (method, path, bearer token, body, expected status, expected error code)
    type Case<'a> = (&'a str, &'a str, Option<&'a str>, Option<Value>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/api/v1/accounts",
            None,
            Some(json!({"email": "x@example.org", "password": "correct horse battery"})),
            422,
            "invalid_input",
        ),
        (
            "POST",
            "/api/v1/accounts",
            None,
            Some(json!({"email": "bad", "password": "correct horse battery", "display_name": "X"})),
            422,
            "invalid_input",
        ),
        (
            "POST",
            "/api/v1/accounts",
            None,
            Some(json!({"email": "y@example.org", "password": "123", "display_name": "X"})),
            422,
            "invalid_input",
        ),
        (
            "POST",
            "/api/v1/accounts",
            None,
            Some(json!({"email": "fan1@example.org", "password": "correct horse battery", "display_name": "X"})),
            409,
            "conflict",
        ),
        (
            "POST",
            "/api/v1/accounts",
            None,
            Some(
                json!({"email": "z@example.org", "password": "correct horse battery", "display_name": "X", "admin": true}),
            ),
            422,
            "invalid_input",
        ),
        (
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "fan1@example.org", "password": "wrong wrong wrong"})),
            401,
            "bad_credentials",
        ),
        ("POST", "/api/v1/phases/P1/cart/items", Some(&fan), item(json!(0)), 422, "invalid_input"),
        ("POST", "/api/v1/phases/P1/cart/items", Some(&fan), item(json!(-3)), 422, "invalid_input"),
        ("POST", "/api/v1/phases/P1/cart/items", Some(&fan), item(json!("two")), 422, "invalid_input"),
        ("POST", "/api/v1/phases/P1/cart/items", Some(&fan), item(json!(7)), 422, "cap_exceeded"),
        (
            "POST",
            "/api/v1/phases/P1/cart/items",
            Some(&fan),
            Some(json!({"category_id": 999999, "quantity": 1})),
            404,
            "not_found",
        ),
        ("POST", "/api/v1/phases/P1/cart/items", Some(&outsider), item(json!(1)), 403, "outside_slot"),
        ("POST", "/api/v1/phases/NOPE/cart/items", Some(&fan), item(json!(1)), 404, "not_found"),
        (
            "POST",
            "/api/v1/phases/P1/cart/items",
            Some("v1.session.x.1.99999999999.AAAA"),
            item(json!(1)),
            401,
            "unauthenticated",
        ),
        ("POST", "/api/v1/phases/P1/cart/items", None, item(json!(1)), 401, "unauthenticated"),
        ("GET", "/api/v1/sessions/NOPE1", None, None, 404, "not_found"),
        ("GET", "/api/v1/sessions?limit=0", None, None, 400, "invalid_query"),
        ("GET", "/api/v1/sessions?bogus=1", None, None, 400, "invalid_query"),
        ("POST", "/api/v1/admin/phases", Some(&fan), Some(json!({"code": "P9", "name": "x"})), 403, "forbidden"),
        (
            "POST",
            "/api/v1/phases/P1/checkout",
            Some(&fan),
            Some(json!({"cart_id": 1, "card": card("4242424242424242")})),
            400,
            "idempotency_key_missing",
        ),
        ("GET", "/api/v1/nope", None, None, 404, "no_such_endpoint"),
        (
            "POST",
            "/api/v1/phases/P1/orders",
            Some(&fan),
            Some(json!({"items": [], "card": card("4242424242424242")})),
            400,
            "idempotency_key_missing",
        ),
    ];
    for (method, path, token, body, status, code) in cases {
        let (s, b) = t.call(method, path, token, body.clone()).await;
        assert_eq!((s.as_u16(), b["error"]["code"].as_str()), (status, Some(code)), "{method} {path} {body:?}: {b}");
        assert!(!b["error"]["message"].as_str().unwrap().is_empty());
    }
    // Malformed JSON, a wrong content type, an oversized body.
    let raw = |body: Vec<u8>, ct: &'static str| {
        t.http
            .post(format!("{}/api/v1/phases/P1/cart/items", t.base))
            .bearer_auth(&fan)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let r = raw(b"{\"category_id\": ".to_vec(), "application/json").await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "invalid_json");
    let r = raw(b"category_id=1".to_vec(), "application/x-www-form-urlencoded").await.unwrap();
    assert_eq!(r.status(), 415);
    let r = raw(vec![b' '; 1024 * 1024], "application/json").await.unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(t.figures().await, before, "nothing changed");

    // An expired cart, and an idempotency key reused with another body.
    let (_, cart) = t.call("POST", "/api/v1/phases/P1/cart/items", Some(&fan), item(json!(1))).await;
    let pay = |key: &'static str, number: &'static str| {
        t.http
            .post(format!("{}/api/v1/phases/P1/checkout", t.base))
            .bearer_auth(&fan)
            .header("Idempotency-Key", key)
            .json(&json!({"cart_id": cart["id"], "card": card(number)}))
            .send()
    };
    let r = pay("k1", "4000 0000 0000 0002").await.unwrap();
    assert_eq!(r.status(), 402);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "card_declined");
    let r = pay("k1", "4242 4242 4242 4242").await.unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "idempotency_key_reused");
    t.clock.advance(16 * 60);
    let r = pay("k2", "4242 4242 4242 4242").await.unwrap();
    assert_eq!(r.status(), 410);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "cart_expired");
    let after = t.figures().await;
    assert_eq!((after.0, after.1), (before.0, before.1), "no order, no sale");
    assert_eq!(t.payments.capture_count(), 0);
}

#[tokio::test]
async fn random_bodies_never_cause_a_server_error() {
    let t = TestApp::start().await;
    let fan = t.fan(1).await;
    let _ = t.sale(&[&fan]).await;
    let before = t.figures().await;
    let mut seed: u64 = 0x5eed;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let paths = [
        "/api/v1/accounts",
        "/api/v1/auth/login",
        "/api/v1/phases/P1/cart/items",
        "/api/v1/phases/P1/checkout",
        "/api/v1/phases/P1/entry",
    ];
    let fragments = [
        "{",
        "}",
        "\"quantity\":",
        "\"category_id\":",
        "1e309",
        "-1",
        "null",
        "[",
        "]",
        ",",
        "\"\u{0}\"",
        "9223372036854775807",
        "\"card\":{}",
        "true",
    ];
    for i in 0..300 {
        let path = paths[i % paths.len()];
        let body: String = (0..(next() % 12)).map(|_| fragments[(next() as usize) % fragments.len()]).collect();
        let r = t
            .http
            .post(format!("{}{path}", t.base))
            .bearer_auth(&fan)
            .header("content-type", "application/json")
            .header("Idempotency-Key", format!("fuzz-{i}"))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error() || r.status().is_success(), "{path} {body:?} -> {}", r.status());
    }
    let after = t.figures().await;
    assert_eq!((after.0, after.1), (before.0, before.1));
}

#[tokio::test]
async fn openapi_health_and_metrics() {
    let t = TestApp::start().await;
    let (s, doc) = t.call("GET", "/api/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    for p in [
        "/api/v1/accounts",
        "/api/v1/phases/{code}/checkout",
        "/api/v1/sessions/{code}",
        "/api/v1/admin/phases/{code}/draw",
    ] {
        assert!(doc["paths"][p].is_object(), "{p} missing from the OpenAPI document");
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    assert_eq!(t.call("GET", "/healthz", None, None).await.0, StatusCode::OK);
    assert_eq!(t.call("GET", "/readyz", None, None).await.0, StatusCode::OK);
    let (s, m) = t.call("GET", "/metrics", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let m = m.as_str().unwrap();
    assert!(m.contains("tessera_http_requests_total"), "{m}");
    assert!(m.contains("tessera_tickets_sold 0"), "{m}");
}

#[tokio::test]
async fn pages_sign_in_with_a_cookie_and_refuse_tampering() {
    let t = TestApp::start().await;
    let _ = t.fan(1).await;
    let r = t.http.get(format!("{}/", t.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Official ticket shop"));
    let r = t
        .http
        .post(format!("{}/login", t.base))
        .form(&[("email", "fan1@example.org"), ("password", "correct horse battery")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let value = cookie.split(';').next().unwrap().to_string();
    let page = |c: String| t.http.get(format!("{}/orders", t.base)).header("cookie", c).send();
    let r = page(value.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("My tickets"));
    let mut tampered = value.clone();
    tampered.insert(value.len() - 5, 'Z');
    assert_eq!(page(tampered).await.unwrap().status(), 401);
    // A form posted without the session's CSRF token is refused.
    let r = t
        .http
        .post(format!("{}/logout", t.base))
        .header("cookie", value)
        .form(&[("csrf", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

/// Renders shop pages in Debian's headless Chromium, scripts included, and reads the DOM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shop_pages_render_in_headless_chromium() {
    let chromium =
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().find(|p| std::path::Path::new(p).exists());
    let Some(chromium) = chromium else {
        use std::io::Write;
        // Straight to stderr: the test harness swallows eprintln! output of passing tests.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED shop_pages_render_in_headless_chromium: no chromium installed (.ci/run installs it)"
        );
        return;
    };
    let t = TestApp::start().await;
    let fan = t.fan(1).await;
    let _ = t.sale(&[&fan]).await;
    let profile = tempfile::tempdir().unwrap();
    let dom = |path: &str| {
        tokio::process::Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--virtual-time-budget=4000",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("--dump-dom")
            .arg(format!("{}{path}", t.base))
            .output()
    };
    let out = dom("/sessions").await.unwrap();
    let html = String::from_utf8_lossy(&out.stdout);
    assert!(html.contains("ATH01") && html.contains("Seats left"), "{html}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(html.contains("data-avail=\"BKB01\""), "{html}");
    let out = dom("/phases/P1").await.unwrap();
    let html = String::from_utf8_lossy(&out.stdout);
    assert!(html.contains("commitment.json") && html.contains("Sign in"), "{html}");
}
