//! The HTTP surface end to end: a real server on a temporary SQLite file, driven over loopback.

mod accreditation;
mod cdp;
mod consoles;
mod contract;
mod faults;
mod finding;
mod holes;
mod intel;
mod leaks;
mod looks;
mod permissions;
mod probes;
mod results;

mod volunteers;
mod wallet;

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

/// The scrape token of every test server's /metrics.
const METRICS_TOKEN: &str = "test-metrics-token-0123456789abcdef";

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
        Self::start_with(
            EdgeLimits { per_address: q, per_network: q, throttled: q, per_gate: q },
            ServeLimits::default(),
        )
        .await
    }

    async fn start_with(edge: EdgeLimits, limits: ServeLimits) -> TestApp {
        Self::start_in(tempfile::tempdir().unwrap(), edge, limits).await
    }

    /// The server with its SQLite file in `dir` (a small filesystem, for the fault tests).
    async fn start_in(dir: tempfile::TempDir, edge: EdgeLimits, limits: ServeLimits) -> TestApp {
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
        let access = tessera_http::exposition::MetricsAccess::ScrapeToken(METRICS_TOKEN.to_string().into());
        let state = tessera_http::AppState::new(app.clone(), true, None).with_metrics_access(access);
        tokio::spawn(tessera_http::serve::serve_with(listener, state, limits, async move {
            let _ = rx.await;
        }));
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        TestApp { base, app, clock, payments, http, _dir: dir, stop: Some(tx) }
    }

    /// The metrics exposition, read with the scrape token.
    async fn metrics(&self) -> String {
        let r = self.http.get(format!("{}/metrics", self.base)).bearer_auth(METRICS_TOKEN).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.text().await.unwrap()
    }

    async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        self.send(method, path, token, &[], body).await
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut r = self.http.request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        for (k, v) in headers {
            r = r.header(*k, *v);
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
        assert_eq!(s, StatusCode::ACCEPTED);
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
        // `sale` signs the operator in too: the account may exist already.
        let _ = self.app.create_account("ops@example.org", "operator passphrase", "Ops", Role::Operator).await;
        let (_, b) = self
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"email": "ops@example.org", "password": "operator passphrase"})),
            )
            .await;
        b["token"].as_str().unwrap_or_else(|| panic!("the operator signs in: {b}")).to_string()
    }

    /// A security analyst's token (the SOC console and nothing else).
    async fn analyst(&self) -> String {
        if let Ok(a) = self.app.create_account("analyst@example.org", "triage every alert", "Ana", Role::Analyst).await
        {
            self.app.store.mark_email_verified(a.id).await.unwrap();
        }
        let (_, b) = self
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"email": "analyst@example.org", "password": "triage every alert"})),
            )
            .await;
        b["token"].as_str().unwrap_or_else(|| panic!("the analyst signs in: {b}")).to_string()
    }

    /// Catalogue, a phase drawn through the operator API with the given fans winning slots open now.
    async fn sale(&self, fans: &[&str]) -> i64 {
        self.sale_with(fans, json!({})).await
    }

    /// As [`TestApp::sale`], with more fields for the phase (caps, for instance).
    async fn sale_with(&self, fans: &[&str], phase: Value) -> i64 {
        self.app.import_catalogue(&fixture()).await.unwrap();
        let ops = self.operator().await;
        let mut body = json!({"code": "P1", "name": "Phase 1"});
        body.as_object_mut().unwrap().extend(phase.as_object().unwrap().clone());
        let (s, b) = self.call("POST", "/api/v1/admin/phases", Some(&ops), Some(body)).await;
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
    assert_eq!(t.call("GET", "/livez", None, None).await.0, StatusCode::OK);
    let r = t.http.get(format!("{}/readyz", t.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/health+json");
    let health: Value = r.json().await.unwrap();
    assert_eq!(health["status"], "pass", "{health}");
    assert_eq!(health["checks"]["sqlite:writable"][0]["status"], "pass", "{health}");
    assert_eq!(health["checks"]["sqlite:writable"][0]["componentType"], "datastore", "{health}");
    assert!(health["checks"]["soc:queue"][0]["observedValue"].is_number(), "{health}");
    // Operational figures need a role: the scrape token or an operator, not a fan, not anyone.
    let fan = t.fan(1).await;
    for token in [None, Some(fan.as_str()), Some("test-metrics-token-0123456789abcdeX")] {
        let (s, e) = t.call("GET", "/metrics", token, None).await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("metrics_token_required")));
    }
    let ops = t.operator().await;
    assert_eq!(t.call("GET", "/metrics", Some(&ops), None).await.0, StatusCode::OK);
    let m = t.metrics().await;
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
    let Some(chromium) = cdp::chromium_or_skip("shop_pages_render_in_headless_chromium") else { return };
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

// ---- the airlock: waiting room and edge ------------------------------------------------------

/// A waiting room on P1 opening now, admitting `rate` fans a second, proof-of-work as given.
async fn waiting_room(t: &TestApp, ops: &str, rate: f64, pow: &str) {
    let settings = json!({
        "opens_at_ms": t.app.now_ms(), "max_rate_per_sec": rate, "min_rate_per_sec": rate,
        "max_active": 1000, "pass_ttl_ms": 600_000, "auto_rate": false, "latency_target_ms": 1000.0,
        "max_entries": 10_000, "pow": pow, "calm_joins_per_sec": 50.0
    });
    let (s, b) = t.call("PUT", "/api/v1/admin/phases/P1/waiting-room", Some(ops), Some(settings)).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
}

impl TestApp {
    async fn with_headers(
        &self,
        method: &str,
        path: &str,
        token: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.send(method, path, Some(token), headers, body).await
    }

    /// The room moves its serving counter `secs` seconds later.
    fn pass_time(&self, secs: i64) {
        self.clock.advance(secs);
        self.app.airlock.tick(self.app.now_ms(), true);
    }
}

fn buy_body(cat: i64) -> Value {
    json!({"items": [{"category_id": cat, "quantity": 1}], "card": card("4242 4242 4242 4242")})
}

#[tokio::test]
async fn the_waiting_room_admits_in_order_and_its_passes_cannot_be_moved() {
    let t = TestApp::start().await;
    let (a, b) = (t.fan(1).await, t.fan(2).await);
    let cat = t.sale(&[&a, &b]).await;
    let ops = t.operator().await;
    waiting_room(&t, &ops, 1.0, "off").await;

    // Without a pass the shop refuses, whichever way in.
    let idem = [("Idempotency-Key", "k1")];
    let (s, e) = t.with_headers("POST", "/api/v1/phases/P1/orders", &a, &idem, Some(buy_body(cat))).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("not_admitted")), "{e}");
    let (s, e) = t
        .call("POST", "/api/v1/phases/P1/cart/items", Some(&a), Some(json!({"category_id": cat, "quantity": 1})))
        .await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("not_admitted")));

    // One place per account: joining again returns the same place.
    let (s, ja) = t.call("POST", "/api/v1/phases/P1/queue", Some(&a), None).await;
    assert_eq!(s, StatusCode::OK, "{ja}");
    let (_, again) = t.call("POST", "/api/v1/phases/P1/queue", Some(&a), None).await;
    assert_eq!((ja["view"]["number"].as_u64(), again["again"].as_bool()), (Some(0), Some(true)));
    assert_eq!(again["view"]["number"], ja["view"]["number"]);
    let (_, jb) = t.call("POST", "/api/v1/phases/P1/queue", Some(&b), None).await;
    assert_eq!(jb["view"]["number"].as_u64(), Some(1));
    let (ta, tb) = (ja["ticket"].as_str().unwrap().to_string(), jb["ticket"].as_str().unwrap().to_string());

    // A ticket is bound to its account.
    let (s, e) = t.with_headers("GET", "/api/v1/phases/P1/queue/status", &b, &[("Tessera-Queue", &ta)], None).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("token_other_account")));

    // One admission a second: first A, then B, never B before A.
    t.pass_time(1);
    let (_, vb) = t.with_headers("GET", "/api/v1/phases/P1/queue/status", &b, &[("Tessera-Queue", &tb)], None).await;
    assert_eq!((vb["state"].as_str(), vb["ahead"].as_u64(), vb["pass"].is_null()), (Some("waiting"), Some(0), true));
    let (_, va) = t.with_headers("GET", "/api/v1/phases/P1/queue/status", &a, &[("Tessera-Queue", &ta)], None).await;
    assert_eq!(va["state"], "your_turn", "{va}");
    let pass_a = va["pass"].as_str().unwrap().to_string();

    // A's pass on B's account, or altered, or made up: refused, and nothing sold.
    let forged = pass_a.replacen(".P1.", ".P1.1", 1);
    let mut tampered_mac = pass_a.clone();
    let last = tampered_mac.pop().unwrap();
    tampered_mac.push(if last == 'A' { 'B' } else { 'A' });
    for (pass, code) in [
        (pass_a.as_str(), "token_other_account"),
        (forged.as_str(), "token_forged"),
        (tampered_mac.as_str(), "token_forged"),
        ("v1.admit.P1.2.0.9999999999.AAAA", "token_forged"),
        (&ta, "token_forged"),
    ] {
        let h = [("Tessera-Admission", pass), ("Idempotency-Key", "k2")];
        let (s, e) = t.with_headers("POST", "/api/v1/phases/P1/orders", &b, &h, Some(buy_body(cat))).await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some(code)), "{pass}: {e}");
    }
    assert_eq!(t.figures().await.0, 0, "nothing sold to a forged or moved pass");

    // A buys with the pass; B gets in a second later.
    let h = [("Tessera-Admission", pass_a.as_str()), ("Idempotency-Key", "k3")];
    let (s, o) = t.with_headers("POST", "/api/v1/phases/P1/orders", &a, &h, Some(buy_body(cat))).await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    t.pass_time(1);
    let (_, vb) = t.with_headers("GET", "/api/v1/phases/P1/queue/status", &b, &[("Tessera-Queue", &tb)], None).await;
    assert_eq!(vb["state"], "your_turn");

    // A pass expires.
    t.pass_time(601);
    let h = [("Tessera-Admission", pass_a.as_str()), ("Idempotency-Key", "k4")];
    let (s, e) = t.with_headers("POST", "/api/v1/phases/P1/orders", &a, &h, Some(buy_body(cat))).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("token_expired")), "{e}");

    // The operator sees it all.
    let (s, f) = t.call("GET", "/api/v1/admin/airlock", Some(&ops), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(f["rooms"][0]["stats"]["joined"], 2);
    let refused: std::collections::HashMap<String, u64> = serde_json::from_value(json!(f["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect::<Vec<_>>()))
    .map(|v: Vec<(String, u64)>| v.into_iter().collect())
    .unwrap();
    assert!(refused["token_forged"] >= 4 && refused["token_other_account"] >= 2 && refused["not_admitted"] >= 2);
    assert_eq!(t.call("GET", "/api/v1/admin/airlock", Some(&a), None).await.0, StatusCode::FORBIDDEN);
    let metrics = t.metrics().await;
    assert!(metrics.contains("tessera_queue_joined{phase=\"P1\"} 2"), "{metrics}");
    assert!(metrics.contains("tessera_edge_refused_total{reason=\"token_forged\"}"));

    // The block list through the operator API: bad input refused and nothing stored.
    let decide = |scope: &str, value: &str, kind: &str, secs: i64| json!({"scope": scope, "value": value, "kind": kind, "duration_secs": secs, "reason": "test"});
    for bad in [
        decide("address", "not-an-ip", "block", 60),
        decide("network", "203.0.113.7/16", "block", 60),
        decide("planet", "earth", "block", 60),
        decide("address", "203.0.113.7", "banish", 60),
        decide("address", "203.0.113.7", "block", 0),
    ] {
        let (s, e) = t.call("POST", "/api/v1/admin/edge/decisions", Some(&ops), Some(bad.clone())).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_input")),
            "{bad}"
        );
    }
    assert_eq!(t.call("GET", "/api/v1/admin/edge/decisions", Some(&ops), None).await.1, json!([]));
    let (s, _) = t
        .call(
            "POST",
            "/api/v1/admin/edge/decisions",
            Some(&ops),
            Some(decide("network", "203.0.113.0/24", "challenge", 60)),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, list) = t.call("GET", "/api/v1/admin/edge/decisions", Some(&ops), None).await;
    assert_eq!(
        (list[0]["kind"].as_str(), list[0]["scope"]["value"].as_str()),
        (Some("challenge"), Some("203.0.113.0/24")),
        "{list}"
    );
    let scope = json!({"scope": "network", "value": "203.0.113.0/24"});
    assert_eq!(
        t.call("DELETE", "/api/v1/admin/edge/decisions", Some(&ops), Some(scope.clone())).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        t.call("DELETE", "/api/v1/admin/edge/decisions", Some(&ops), Some(scope)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.call("POST", "/api/v1/admin/edge/decisions", Some(&a), Some(decide("account", "1", "block", 60))).await.0,
        StatusCode::FORBIDDEN
    );

    // Removing the room opens the shop to every fan with a slot.
    assert_eq!(
        t.call("DELETE", "/api/v1/admin/phases/P1/waiting-room", Some(&ops), None).await.0,
        StatusCode::NO_CONTENT
    );
    let h = [("Idempotency-Key", "k5")];
    assert_eq!(
        t.with_headers("POST", "/api/v1/phases/P1/orders", &b, &h, Some(buy_body(cat))).await.0,
        StatusCode::CREATED
    );
}

/// The accept loop answers a waiting fan's status before routing; the router answers the same
/// request when the phase code is percent-encoded. Both give the same answers, refusals
/// included, and both are counted under the route.
#[tokio::test]
async fn the_status_answer_is_the_same_before_and_after_routing() {
    let t = TestApp::start().await;
    let (a, b) = (t.fan(1).await, t.fan(2).await);
    t.sale(&[&a, &b]).await;
    let ops = t.operator().await;
    waiting_room(&t, &ops, 1.0, "off").await;
    let (_, ja) = t.call("POST", "/api/v1/phases/P1/queue", Some(&a), None).await;
    let (_, jb) = t.call("POST", "/api/v1/phases/P1/queue", Some(&b), None).await;
    let (ta, tb) = (ja["ticket"].as_str().unwrap(), jb["ticket"].as_str().unwrap());
    let forged = tb.replacen(".P1.", ".P2.", 1);
    let not_found_before = status_count(&t, "404").await;
    // Sign-in token, queue ticket, expected status and error code.
    type Case<'a> = (Option<&'a str>, Option<&'a str>, StatusCode, Option<&'a str>);
    let cases: [Case; 5] = [
        (Some(&b), Some(tb), StatusCode::OK, None),
        (None, Some(tb), StatusCode::UNAUTHORIZED, Some("unauthenticated")),
        (Some(&b), None, StatusCode::NOT_FOUND, Some("no_ticket")),
        (Some(&b), Some(ta), StatusCode::FORBIDDEN, Some("token_other_account")),
        (Some(&b), Some(&forged), StatusCode::FORBIDDEN, Some("token_forged")),
    ];
    for (token, ticket, status, code) in cases {
        let headers: Vec<(&str, &str)> = ticket.map(|t| ("Tessera-Queue", t)).into_iter().collect();
        let fast = t.send("GET", "/api/v1/phases/P1/queue/status", token, &headers, None).await;
        let routed = t.send("GET", "/api/v1/phases/P%31/queue/status", token, &headers, None).await;
        assert_eq!((fast.0, fast.1["error"]["code"].as_str()), (status, code), "{}", fast.1);
        assert_eq!(fast, routed, "the fast path and the router disagree");
    }
    let (_, view) = t.send("GET", "/api/v1/phases/P1/queue/status", Some(&b), &[("Tessera-Queue", tb)], None).await;
    assert_eq!((view["number"].as_u64(), view["ahead"].as_u64()), (Some(1), Some(1)), "{view}");
    // Other tests share the process's counters: at least this test's two answers.
    assert!(status_count(&t, "404").await >= not_found_before + 2);
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let t = TestApp::start().await;
    let b = t.fan(1).await;
    t.sale(&[&b]).await;
    let ops = t.operator().await;
    waiting_room(&t, &ops, 1.0, "off").await;
    let (_, j) = t.call("POST", "/api/v1/phases/P1/queue", Some(&b), None).await;
    let ticket = j["ticket"].as_str().unwrap();
    let get = |path: &str| t.http.get(format!("{}{path}", t.base)).bearer_auth(&b).header("Tessera-Queue", ticket);
    let header = |r: &reqwest::Response, name: &str| {
        r.headers().get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
    };
    // HTML pages: no framing by other sites, no plugins, no <base>, a short Referer.
    for path in ["/", "/login", "/wallet"] {
        let r = get(path).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let policy = header(&r, "content-security-policy");
        assert!(policy.starts_with("default-src 'self'; script-src 'self' 'sha256-"), "{path}: {policy}");
        assert!(policy.ends_with("frame-ancestors 'none'"), "{path}: {policy}");
        assert_eq!(header(&r, "x-frame-options"), "DENY", "{path}");
        assert_eq!(header(&r, "referrer-policy"), "same-origin", "{path}");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header(&r, "strict-transport-security"), "", "no HSTS on a plain-http public URL");
    }
    // JSON answers, routed or answered before routing, refusals included: never stored by a
    // cache on the way, never sniffed; no page policy on them.
    for (path, status) in [
        ("/api/v1/phases/P1/queue/status", StatusCode::OK),
        ("/api/v1/phases/P%31/queue/status", StatusCode::OK),
        ("/api/v1/no-such-thing", StatusCode::NOT_FOUND),
        ("/api/v1/wallet", StatusCode::OK),
    ] {
        let r = get(path).send().await.unwrap();
        assert_eq!(r.status(), status, "{path}");
        assert_eq!(header(&r, "cache-control"), "no-store", "{path}");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header(&r, "content-security-policy"), "", "{path}");
    }
    // A route that chose its own caching keeps it.
    let r = get("/assets/qr.js").send().await.unwrap();
    assert_eq!(
        (header(&r, "cache-control").as_str(), header(&r, "x-content-type-options").as_str()),
        ("max-age=3600", "nosniff")
    );
}

/// `tessera_http_requests_total` of the status route for one status code.
async fn status_count(t: &TestApp, status: &str) -> u64 {
    let m = t.metrics().await;
    let prefix = format!(
        "tessera_http_requests_total{{method=\"GET\",route=\"/api/v1/phases/{{code}}/queue/status\",status=\"{status}\"}} "
    );
    m.lines().find_map(|l| l.strip_prefix(&prefix)).map_or(0, |v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn the_pre_queue_is_shuffled_at_opening_and_joins_pay_proof_of_work_when_asked() {
    let t = TestApp::start().await;
    let fans: Vec<String> = futures_join(&t, 6).await;
    let refs: Vec<&str> = fans.iter().map(String::as_str).collect();
    let _cat = t.sale(&refs).await;
    let ops = t.operator().await;
    // Opens in a minute: everyone who joins before waits in the pre-queue, without a number.
    let settings = json!({
        "opens_at_ms": t.app.now_ms() + 60_000, "max_rate_per_sec": 100.0, "min_rate_per_sec": 1.0,
        "max_active": 1000, "pass_ttl_ms": 600_000, "auto_rate": false, "latency_target_ms": 1000.0,
        "max_entries": 10_000, "pow": "off", "calm_joins_per_sec": 50.0
    });
    assert_eq!(
        t.call("PUT", "/api/v1/admin/phases/P1/waiting-room", Some(&ops), Some(settings)).await.0,
        StatusCode::NO_CONTENT
    );
    let mut tickets = Vec::new();
    for f in &fans {
        let (s, j) = t.call("POST", "/api/v1/phases/P1/queue", Some(f), None).await;
        assert_eq!(s, StatusCode::OK, "{j}");
        assert_eq!((j["view"]["state"].as_str(), j["view"]["number"].is_null()), (Some("pre_queue"), true));
        assert_eq!(j["view"]["opens_in_secs"], 60);
        tickets.push(j["ticket"].as_str().unwrap().to_string());
    }
    // At opening every pre-queue fan gets a number, a permutation of 0..6, and a renewed ticket.
    t.pass_time(61);
    let mut numbers = Vec::new();
    for (f, ticket) in fans.iter().zip(&tickets) {
        let (s, v) =
            t.with_headers("GET", "/api/v1/phases/P1/queue/status", f, &[("Tessera-Queue", ticket)], None).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert!(v["ticket"].is_string(), "a pre-queue ticket learns its number once: {v}");
        numbers.push(v["number"].as_u64().unwrap());
    }
    let mut sorted = numbers.clone();
    sorted.sort();
    assert_eq!(sorted, (0..6).collect::<Vec<_>>());
    // (That the order is a uniform shuffle is tested statistically in tessera-airlock.)

    // Proof-of-work on: a join without a solution is refused; a solution for another account,
    // or reused, is refused; a fresh one is accepted.
    let pow = json!({
        "opens_at_ms": t.app.now_ms(), "max_rate_per_sec": 100.0, "min_rate_per_sec": 1.0,
        "max_active": 1000, "pass_ttl_ms": 600_000, "auto_rate": false, "latency_target_ms": 1000.0,
        "max_entries": 10_000, "pow": "on", "calm_joins_per_sec": 50.0
    });
    assert_eq!(
        t.call("PUT", "/api/v1/admin/phases/P1/waiting-room", Some(&ops), Some(pow)).await.0,
        StatusCode::NO_CONTENT
    );
    let (x, y) = (t.fan(7).await, t.fan(8).await);
    let (s, e) = t.call("POST", "/api/v1/phases/P1/queue", Some(&x), Some(json!({}))).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::PRECONDITION_REQUIRED, Some("pow_required")), "{e}");
    let solved = |req: &Value| {
        let c: tessera_airlock::pow::Challenge = serde_json::from_value(req["challenge"].clone()).unwrap();
        let n = tessera_airlock::pow::solve(&c).unwrap();
        tessera_airlock::pow::Solution::for_challenge(&c, n).to_base64_json()
    };
    let (_, req_x) = t.call("GET", "/api/v1/phases/P1/queue", Some(&x), None).await;
    assert_eq!(req_x["pow_required"], true, "{req_x}");
    let sol_x = solved(&req_x);
    let (s, e) = t.call("POST", "/api/v1/phases/P1/queue", Some(&y), Some(json!({ "pow": sol_x }))).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("pow_failed")), "other account: {e}");
    let (s, e) = t.call("POST", "/api/v1/phases/P1/queue", Some(&x), Some(json!({ "pow": "bm90IGpzb24=" }))).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("pow_failed")), "garbage: {e}");
    let (s, j) = t.call("POST", "/api/v1/phases/P1/queue", Some(&x), Some(json!({ "pow": sol_x }))).await;
    assert_eq!(s, StatusCode::OK, "{j}");
    assert_eq!(j["view"]["number"], 6, "after opening: first come, first served");
    let (_, req_y) = t.call("GET", "/api/v1/phases/P1/queue", Some(&y), None).await;
    let sol_y = solved(&req_y);
    let (s, _) = t.call("POST", "/api/v1/phases/P1/queue", Some(&y), Some(json!({ "pow": sol_y }))).await;
    assert_eq!(s, StatusCode::OK);
    // The same solution once more, by an account without a place: replayed.
    let z = t.fan(9).await;
    let (s, e) = t.call("POST", "/api/v1/phases/P1/queue", Some(&z), Some(json!({ "pow": sol_y }))).await;
    assert!(s == StatusCode::BAD_REQUEST || s == StatusCode::CONFLICT, "{s} {e}");
}

async fn futures_join(t: &TestApp, n: usize) -> Vec<String> {
    let mut v = Vec::new();
    for i in 1..=n {
        v.push(t.fan(i).await);
    }
    v
}

#[tokio::test]
async fn the_edge_limits_blocks_and_counts() {
    let q = |per_second, burst| Quota { per_second, burst };
    let limits = ServeLimits { header_read_timeout: std::time::Duration::from_millis(300), ..ServeLimits::default() };
    let t = TestApp::start_with(
        EdgeLimits {
            per_address: q(1.0, 5),
            per_network: q(1000.0, 1000),
            throttled: q(0.1, 1),
            per_gate: q(1e6, 100_000),
        },
        limits,
    )
    .await;
    let from = |ip: [u8; 4]| reqwest::Client::builder().local_address(std::net::IpAddr::from(ip)).build().unwrap();
    // Five requests of burst, then 429 with a reason and Retry-After, for this address only.
    let c = from([127, 0, 3, 1]);
    for _ in 0..5 {
        assert_eq!(c.get(format!("{}/healthz", t.base)).send().await.unwrap().status(), StatusCode::OK);
    }
    let r = c.get(format!("{}/healthz", t.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff", "refusals carry the security headers too");
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "rate_limited_address");
    assert_eq!(from([127, 0, 3, 2]).get(format!("{}/healthz", t.base)).send().await.unwrap().status(), StatusCode::OK);

    // Block-list decisions by address, by network, by account.
    let now = t.app.now_ms();
    use tessera_airlock::blocklist::{Decision, Kind, Scope};
    let decide = |scope, kind| Decision::new(scope, kind, now + 60_000, "test", "test").unwrap();
    t.app.decide(decide(Scope::Address("127.0.4.1".parse().unwrap()), Kind::Block)).await.unwrap();
    t.app.decide(decide(Scope::Network("127.0.5.0/24".parse().unwrap()), Kind::Block)).await.unwrap();
    t.app.decide(decide(Scope::Address("127.0.6.1".parse().unwrap()), Kind::Throttle)).await.unwrap();
    let r = from([127, 0, 4, 1]).get(format!("{}/healthz", t.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "blocked");
    assert_eq!(
        from([127, 0, 5, 77]).get(format!("{}/healthz", t.base)).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let throttled = from([127, 0, 6, 1]);
    assert_eq!(throttled.get(format!("{}/healthz", t.base)).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        throttled.get(format!("{}/healthz", t.base)).send().await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // The decisions survive a restart of the process: they are in the store.
    assert_eq!(t.app.store.edge_decisions(t.app.now()).await.unwrap().len(), 3);
    // Another process (`tessera admin edge revoke`) lifts a decision in the store: the server
    // follows at its next refresh.
    assert!(t.app.store.delete_edge_decision("address:127.0.4.1").await.unwrap());
    t.app.refresh_airlock().await.unwrap();
    assert_eq!(from([127, 0, 4, 1]).get(format!("{}/healthz", t.base)).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        from([127, 0, 5, 78]).get(format!("{}/healthz", t.base)).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );

    // An oversized request head: 431 with a reason, or the connection is closed by hyper.
    let c = from([127, 0, 7, 1]);
    let r = c.get(format!("{}/healthz", t.base)).header("X-Big", "a".repeat(10_000)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);

    // Slow-loris: a request head that never ends is cut off.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = t.base.trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut buf = [0u8; 256];
    let read = tokio::time::timeout(std::time::Duration::from_secs(3), s.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(_))), "the server closes (or answers) a slow head within its timeout: {read:?}");

    // Too many connections from one address: over the limit, closed at once.
    let refused_before = t.app.airlock.refusals().into_iter().find(|(k, _)| *k == "too_many_connections").unwrap().1;
    let mut conns = Vec::new();
    for _ in 0..ServeLimits::default().max_connections_per_address + 3 {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind("127.0.8.1:0".parse().unwrap()).unwrap();
        conns.push(sock.connect(addr.parse().unwrap()).await.unwrap());
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let refused_after = t.app.airlock.refusals().into_iter().find(|(k, _)| *k == "too_many_connections").unwrap().1;
    assert_eq!(refused_after - refused_before, 3);

    let metrics = from([127, 0, 9, 1])
        .get(format!("{}/metrics", t.base))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for reason in ["rate_limited_address", "blocked", "throttled", "too_many_connections"] {
        let line = metrics
            .lines()
            .find(|l| l.starts_with(&format!("tessera_edge_refused_total{{reason=\"{reason}\"}}")))
            .unwrap();
        assert!(!line.ends_with(" 0"), "{line}");
    }
}

#[tokio::test]
async fn the_queue_streams_its_news_and_the_pages_show_it() {
    let t = TestApp::start().await;
    let a = t.fan(1).await;
    let _cat = t.sale(&[&a]).await;
    let ops = t.operator().await;
    waiting_room(&t, &ops, 1.0, "off").await;
    let (_, j) = t.call("POST", "/api/v1/phases/P1/queue", Some(&a), None).await;
    let ticket = j["ticket"].as_str().unwrap();
    let mut r = t
        .http
        .get(format!("{}/api/v1/phases/P1/queue/events", t.base))
        .bearer_auth(&a)
        .header("Tessera-Queue", ticket)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let chunk = tokio::time::timeout(std::time::Duration::from_secs(3), r.chunk()).await.unwrap().unwrap().unwrap();
    let text = String::from_utf8_lossy(&chunk);
    assert!(text.contains("event: status") && text.contains("\"state\":\"waiting\""), "{text}");
    // A bad ticket is refused before the stream starts.
    let (s, _) = t.with_headers("GET", "/api/v1/phases/P1/queue/events", &a, &[("Tessera-Queue", "nope")], None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // The pages: the phase page points to the queue; the queue and operator pages render.
    let cookie = |tok: &str| format!("tessera_session={tok}");
    let page = t.http.get(format!("{}/phases/P1", t.base)).header("Cookie", cookie(&a)).send().await.unwrap();
    assert!(page.text().await.unwrap().contains("Join the queue"));
    let page = t.http.get(format!("{}/phases/P1/queue", t.base)).header("Cookie", cookie(&a)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Waiting room"));
    let page = t.http.get(format!("{}/operator/airlock", t.base)).header("Cookie", cookie(&ops)).send().await.unwrap();
    assert!(page.text().await.unwrap().contains("Admissions per second"));
    let page = t.http.get(format!("{}/operator/airlock", t.base)).header("Cookie", cookie(&a)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
}

/// The same news over a WebSocket, upgraded through the server's own accept loop (past the
/// edge): the view at once, then the fan's turn, then a close.
#[tokio::test]
async fn the_queue_speaks_over_a_websocket_through_the_accept_loop() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;
    let t = TestApp::start().await;
    let a = t.fan(1).await;
    let _cat = t.sale(&[&a]).await;
    let ops = t.operator().await;
    waiting_room(&t, &ops, 1.0, "off").await;
    let (_, j) = t.call("POST", "/api/v1/phases/P1/queue", Some(&a), None).await;
    let ticket = j["ticket"].as_str().unwrap();
    let url = format!("{}/api/v1/phases/P1/queue/ws", t.base.replace("http://", "ws://"));
    let mut req = url.as_str().into_client_request().unwrap();
    req.headers_mut().insert("Authorization", format!("Bearer {a}").parse().unwrap());
    req.headers_mut().insert("Tessera-Queue", ticket.parse().unwrap());
    let (mut ws, resp) = tokio_tungstenite::connect_async(req).await.expect("the handshake goes through");
    assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
    macro_rules! next {
        ($ws:expr) => {
            tokio::time::timeout(std::time::Duration::from_secs(5), $ws.next()).await.unwrap().unwrap().unwrap()
        };
    }
    let Message::Text(first) = next!(ws) else { panic!("a text message first") };
    let view: Value = serde_json::from_str(first.as_str()).unwrap();
    assert_eq!(view["phase"], "P1", "{view}");
    // My turn: the last view, then the server closes.
    t.pass_time(5);
    let mut last = view;
    loop {
        match next!(ws) {
            Message::Text(m) => last = serde_json::from_str(m.as_str()).unwrap(),
            Message::Close(_) => break,
            _ => {}
        }
    }
    assert_eq!(last["state"], "your_turn", "{last}");
    // Without a ticket there is no handshake: a refusal with its JSON.
    let mut req = url.as_str().into_client_request().unwrap();
    req.headers_mut().insert("Authorization", format!("Bearer {a}").parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), StatusCode::NOT_FOUND),
        other => panic!("expected a refusal, got {:?}", other.map(|(_, r)| r.status())),
    }
}

/// The waiting room as a fan lives it, in a real browser: the page solves the proof-of-work
/// with WebCrypto, joins, shows a live position over server-sent events, then the moment it
/// is their turn; the shop then admits the browser.
#[tokio::test]
async fn a_fan_waits_in_the_queue_in_headless_chromium() {
    let Some(chromium) = cdp::chromium_or_skip("a_fan_waits_in_the_queue_in_headless_chromium") else { return };
    let t = TestApp::start().await;
    let (a, b) = (t.fan(1).await, t.fan(2).await);
    let _cat = t.sale(&[&a, &b]).await;
    let ops = t.operator().await;
    waiting_room(&t, &ops, 1.0, "on").await;
    // Someone is ahead of the browser's fan.
    let (_, req) = t.call("GET", "/api/v1/phases/P1/queue", Some(&b), None).await;
    let c: tessera_airlock::pow::Challenge = serde_json::from_value(req["challenge"].clone()).unwrap();
    let sol = tessera_airlock::pow::Solution::for_challenge(&c, tessera_airlock::pow::solve(&c).unwrap());
    let (s, _) = t.call("POST", "/api/v1/phases/P1/queue", Some(&b), Some(json!({"pow": sol.to_base64_json()}))).await;
    assert_eq!(s, StatusCode::OK);

    let mut browser = cdp::Browser::start(chromium).await;
    browser.set_cookie(&t.base, "tessera_session", &a).await;
    browser.goto(&format!("{}/phases/P1/queue", t.base)).await;
    let visible =
        |id: &str| format!("(() => {{ const e = document.getElementById('{id}'); return !!e && !e.hidden; }})()");
    browser.wait_for(&visible("q-wait"), std::time::Duration::from_secs(30)).await;
    assert_eq!(browser.eval("document.getElementById('q-position').textContent").await, json!("2"));
    assert_eq!(browser.eval("document.getElementById('q-ahead').textContent").await, json!("1"));
    // The browser's fan joined with a solved challenge: the room holds both places.
    assert_eq!(t.app.airlock.room("P1").unwrap().room.stats(t.app.now_ms()).joined, 2);

    // One admission: the one ahead. The page follows live, without a reload.
    t.pass_time(1);
    browser
        .wait_for("document.getElementById('q-ahead').textContent === '0'", std::time::Duration::from_secs(10))
        .await;
    // The browser's turn: the page says so, and the shop lets the browser in.
    t.pass_time(1);
    browser.wait_for(&visible("q-turn"), std::time::Duration::from_secs(10)).await;
    browser.goto(&format!("{}/phases/P1", t.base)).await;
    browser
        .wait_for(
            "document.body && document.body.innerText.includes('You are admitted to the shop')",
            std::time::Duration::from_secs(10),
        )
        .await;
}

/// Each page whose script no other browser test runs, in a real browser: its inline scripts
/// run under the pages' content security policy (which allows them by hash), and nothing is
/// blocked (`wait_for` fails on any violation).
#[tokio::test]
async fn every_page_script_runs_under_the_page_policy_in_headless_chromium() {
    let Some(chromium) = cdp::chromium_or_skip("every_page_script_runs_under_the_page_policy_in_headless_chromium")
    else {
        return;
    };
    let t = TestApp::start().await;
    let fan = t.fan(1).await;
    let cat = t.sale(&[&fan]).await;
    // A cart, so that the phase page shows its countdown beside the live availability.
    let (s, cart) = t
        .call("POST", "/api/v1/phases/P1/cart/items", Some(&fan), Some(json!({"category_id": cat, "quantity": 1})))
        .await;
    assert_eq!(s, StatusCode::OK, "{cart}");
    let ops = t.operator().await;
    let text = |id: &str, has: &str| {
        format!("(document.getElementById('{id}') || {{}}).textContent?.includes('{has}') === true")
    };
    let pages = [
        (&fan, "/sessions", "document.readyState === 'complete'".to_string()),
        (&fan, "/phases/P1", text("expiry", "now")),
        (&fan, "/resale", "document.readyState === 'complete'".to_string()),
        (&ops, "/operator/airlock", text("a-rate", ".")),
        (&ops, "/operator/gates", text("g-online", "/")),
        (&ops, "/operator/payments", "document.getElementById('p-pending').textContent !== '–'".to_string()),
        (&ops, "/operator/soc", "document.getElementById('s-events').textContent !== '–'".to_string()),
    ];
    let mut browser = cdp::Browser::start(chromium).await;
    for (who, path, ran) in pages {
        browser.set_cookie(&t.base, "tessera_session", who).await;
        browser.goto(&format!("{}{path}", t.base)).await;
        browser.wait_for(&ran, std::time::Duration::from_secs(15)).await;
    }
}

/// Pages show the event's local time with the offset in force then: UTC+1 in winter, UTC+2 in summer.
#[tokio::test]
async fn session_pages_show_paris_time_in_winter_and_in_summer() {
    let t = TestApp::start().await;
    let mut c = fixture();
    let jan = tessera_domain::Timestamp::parse_rfc3339("2025-01-15T09:00:00Z").unwrap();
    let jul = tessera_domain::Timestamp::parse_rfc3339("2025-07-15T09:00:00Z").unwrap();
    for s in &mut c.sessions {
        let at = if s.code.as_str() == "ATH01" { jan } else { jul };
        s.starts_at = at;
        s.ends_at = at.plus_secs(7200);
    }
    t.app.import_catalogue(&c).await.unwrap();
    let t = &t;
    let page = |code: &'static str| async move {
        t.http.get(format!("{}/sessions/{code}", t.base)).send().await.unwrap().text().await.unwrap()
    };
    let winter = page("ATH01").await;
    assert!(winter.contains("2025-01-15 10:00 UTC+1"), "{winter}");
    let summer = page("BKB01").await;
    assert!(summer.contains("2025-07-15 11:00 UTC+2"), "{summer}");
}

/// The home page's figures come from the catalogue as it stands, grouped by thousands.
#[tokio::test]
async fn the_home_page_counts_the_catalogue_with_thousands_separators() {
    let t = TestApp::start().await;
    t.app.import_catalogue(&fixture()).await.unwrap();
    let home = t.http.get(format!("{}/", t.base)).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("2 venues · 3 sessions · 3,100 seats · 0 sold"), "{home}");
    assert!(home.contains(&t.app.catalogue_figures().await.unwrap()));
}

/// Forms keep what was typed, confirming an email signs the fan in (once), error pages offer
/// no "Sign in" to a signed-in fan.
#[tokio::test]
async fn account_pages_keep_input_sign_in_on_confirmation_and_errors_know_no_one() {
    let t = TestApp::start().await;
    let post = |path: &'static str, form: Vec<(&'static str, &'static str)>| {
        let r = t.http.post(format!("{}{path}", t.base)).form(&form).send();
        async move { r.await.unwrap() }
    };
    let r =
        post("/register", vec![("email", "new@example.org"), ("password", "short"), ("display_name", "Ana Lee")]).await;
    let page = r.text().await.unwrap();
    assert!(page.contains(r#"value="new@example.org""#) && page.contains(r#"value="Ana Lee""#), "{page}");
    assert!(!page.contains("short"), "the password is not sent back");
    let r = post("/login", vec![("email", "who@example.org"), ("password", "wrong password!")]).await;
    assert!(r.text().await.unwrap().contains(r#"value="who@example.org""#));

    let r = post(
        "/register",
        vec![("email", "new@example.org"), ("password", "correct horse battery"), ("display_name", "Ana")],
    )
    .await;
    assert_eq!(r.status(), 200);
    let mail = t.app.store.recent_mail(Some("new@example.org"), 1).await.unwrap();
    let start = mail[0].body.find("token=").unwrap() + 6;
    let token = mail[0].body[start..].split_whitespace().next().unwrap().to_string();
    let r = t.http.get(format!("{}/verify?token={token}", t.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    assert!(r.text().await.unwrap().contains("Sign out"));
    let home = t.http.get(format!("{}/orders", t.base)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(home.status(), 200, "signed in by the confirmation");
    // The same link again confirms, but signs no one in.
    let again = t.http.get(format!("{}/verify?token={token}", t.base)).send().await.unwrap();
    assert!(again.headers().get("set-cookie").is_none());

    let err = t.http.get(format!("{}/phases/NOPE", t.base)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(err.status(), 404);
    let page = err.text().await.unwrap();
    assert!(!page.contains(">Sign in<"), "{page}");
}
