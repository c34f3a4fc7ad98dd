//! The operators' consoles: they keep working during a flood (operators pass the public's rate
//! limits by role, not by address) and say when their figures stop updating.

use super::{cdp, TestApp};
use reqwest::StatusCode;
use tessera_airlock::gcra::Quota;
use tessera_app::airlock::EdgeLimits;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_pass_the_public_rate_limits_by_role_not_by_address() {
    let q = |per_second, burst| Quota { per_second, burst };
    let limits = EdgeLimits {
        per_address: q(0.5, 3),
        per_network: q(1e6, 100_000),
        throttled: q(0.5, 1),
        per_gate: q(1e6, 1000),
    };
    let t = TestApp::start_with(limits, tessera_http::serve::ServeLimits::default()).await;
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut stream = t.app.soc_subscribe();
    tokio::spawn(tessera_app::soc::soc_loop(t.app.clone(), stop));
    let ops = t.operator().await; // one request of this address's ten
    let account = t
        .app
        .create_account("fan@example.org", "correct horse battery", "Fan", tessera_store::Role::Fan)
        .await
        .unwrap();
    let fan = t.app.issue_session(account).await.unwrap().token;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(t.call("GET", "/api/v1/admin/airlock", Some(&ops), None).await.0);
    }
    // The first poll signs the operator in on this node; from then on the limits do not apply.
    assert!(statuses[1..].iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
    // A fan from another address, on the same limits, is slowed down.
    let from = reqwest::Client::builder().local_address(std::net::IpAddr::from([127, 0, 13, 1])).build().unwrap();
    let mut limited = 0;
    for _ in 0..20 {
        let r = from.get(format!("{}/api/v1/me", t.base)).bearer_auth(&fan).send().await.unwrap();
        limited += usize::from(r.status() == StatusCode::TOO_MANY_REQUESTS);
    }
    assert!(limited >= 8, "{limited} of 20 limited");
    // Each refusal is a security event, with what was asked and how it was answered.
    let refused = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            let e = stream.recv().await.unwrap();
            if e.kind.as_str() == "edge_throttled" {
                return e;
            }
        }
    })
    .await
    .expect("an edge_throttled event");
    assert_eq!(refused.source, Some(std::net::IpAddr::from([127, 0, 13, 1])));
    let http = refused.http.as_ref().unwrap();
    assert_eq!((http.method.as_str(), http.path.as_str(), http.status), ("GET", "/api/v1/me", 429));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_whose_updates_stop_says_it_is_stale() {
    let Some(chromium) = cdp::chromium_or_skip("a_console_whose_updates_stop_says_it_is_stale") else { return };
    let t = TestApp::start().await;
    let ops = t.operator().await;
    let mut browser = cdp::Browser::start(chromium).await;
    browser.set_cookie(&t.base, "tessera_session", &ops).await;
    browser.goto(&format!("{}/operator/gates", t.base)).await;
    let updated = "(document.getElementById('g-online') || {}).textContent?.includes('/') === true";
    browser.wait_for(updated, std::time::Duration::from_secs(15)).await;
    assert_eq!(browser.eval("document.getElementById('stale').hidden").await, serde_json::json!(true));
    // The operator's session ends elsewhere: the page's polls are refused from now on.
    assert_eq!(t.call("POST", "/api/v1/auth/logout", Some(&ops), None).await.0, StatusCode::NO_CONTENT);
    let stale = "(() => { const s = document.getElementById('stale'); return !s.hidden && s.textContent.includes('Stale'); })()";
    browser.wait_for(stale, std::time::Duration::from_secs(20)).await;
}

/// The consoles' own words (states, chart labels, the stale banner) follow the page's language.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_speaks_french_when_asked() {
    let Some(chromium) = cdp::chromium_or_skip("a_console_speaks_french_when_asked") else { return };
    let t = TestApp::start().await;
    let ops = t.operator().await;
    let mut browser = cdp::Browser::start(chromium).await;
    browser.set_cookie(&t.base, "tessera_session", &ops).await;
    browser.set_cookie(&t.base, "tessera_lang", "fr").await;
    browser.goto(&format!("{}/operator/airlock", t.base)).await;
    let labelled =
        "document.body.innerText.includes('Longueur de la file') && document.body.innerText.includes('en attente')";
    browser.wait_for(labelled, std::time::Duration::from_secs(15)).await;
    assert_eq!(t.call("POST", "/api/v1/auth/logout", Some(&ops), None).await.0, StatusCode::NO_CONTENT);
    let stale =
        "(() => { const s = document.getElementById('stale'); return !s.hidden && s.textContent.includes('Figé'); })()";
    browser.wait_for(stale, std::time::Duration::from_secs(20)).await;
}

/// The node's security events stream out as they happen, in ECS (or OCSF), for a SIEM; the
/// console's API shows the rules' figures; a bad format is refused, not guessed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_events_stream_out_in_ecs_and_ocsf() {
    let t = TestApp::start().await;
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(tessera_app::soc::soc_loop(t.app.clone(), stop));
    let ops = t.operator().await;
    let (status, _) = t.call("GET", "/api/v1/admin/soc/events?format=xml", Some(&ops), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    for (format, check) in [("ecs", "ecs"), ("ocsf", "ocsf")] {
        let mut stream = t
            .http
            .get(format!("{}/api/v1/admin/soc/events?format={format}", t.base))
            .bearer_auth(&ops)
            .send()
            .await
            .unwrap();
        assert_eq!(stream.headers()["content-type"], "application/x-ndjson");
        let (s, _) = t
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(serde_json::json!({"email": "nobody@example.org", "password": "not the password"})),
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let mut text = String::new();
        // The operator's own sign-in may stream out first (the engine's queue delivers it
        // whenever it gets to it): the first failure is the line under test.
        let line = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            loop {
                let chunk = stream.chunk().await.unwrap().expect("the stream stays open");
                text.push_str(&String::from_utf8_lossy(&chunk));
                while let Some((line, rest)) = text.split_once('\n') {
                    let (line, rest) = (line.to_string(), rest.to_string());
                    if line.contains("\"failure\"") || line.contains("\"status_id\":2") {
                        return line;
                    }
                    text = rest;
                }
            }
        })
        .await
        .expect("the failed sign-in streams out");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        match check {
            "ecs" => {
                assert_eq!(v["event"]["action"], "signin_failed", "{v}");
                assert_eq!(v["event"]["outcome"], "failure");
                assert_eq!(v["source"]["ip"], "127.0.0.1");
                assert!(!line.contains("nobody@example.org"), "the name tried is keyed, never in clear: {line}");
            }
            _ => {
                assert_eq!(v["class_uid"], 3002, "{v}");
                assert_eq!(v["status_id"], 2);
            }
        }
    }
    let (s, soc) = t.call("GET", "/api/v1/admin/soc", Some(&ops), None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(soc["received"].as_u64().unwrap() >= 3, "{soc}");
    assert!(soc["rules"].as_array().unwrap().iter().any(|r| r["id"] == "credential-stuffing-source"), "{soc}");
}

/// Rules replaced at run time: a file with one error is refused whole, naming the line, and the
/// running rules stay; a valid file takes over.
#[tokio::test]
async fn security_rules_are_replaced_whole_or_not_at_all() {
    let t = TestApp::start().await;
    let ops = t.operator().await;
    let get = || async {
        let r = t.http.get(format!("{}/api/v1/admin/soc/rules", t.base)).bearer_auth(&ops).send().await.unwrap();
        assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
        r.text().await.unwrap()
    };
    let put = |yaml: String| async {
        let r =
            t.http.put(format!("{}/api/v1/admin/soc/rules", t.base)).bearer_auth(&ops).body(yaml).send().await.unwrap();
        (r.status(), r.json::<serde_json::Value>().await.unwrap())
    };
    let pack = get().await;
    assert!(pack.contains("id: distributed-flood"));
    let one = "- id: logins\n  title: Sign-in failures\n  level: high\n  filter: { kinds: [signin_failed] }\n  group_by: source\n  condition: { event_count: { rate_per_sec: 0.1, burst: 3 } }\n  action: { decide: block, minutes: 5 }\n";
    let (status, body) =
        put(format!("{one}{}", one.replace("id: logins", "id: second").replace("group_by: source", "group_by: moon")))
            .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("line 12") && message.contains("moon"), "{message}");
    assert_eq!(get().await, pack, "the running rules stay");
    let (status, body) = put(one.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rules"], 1);
    assert_eq!(get().await, one);
}

/// An analyst lifts a decision and extends another from the security console, in Chromium.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_are_lifted_and_extended_from_the_security_console() {
    let Some(chromium) = cdp::chromium_or_skip("decisions_are_lifted_and_extended_from_the_security_console") else {
        return;
    };
    let t = TestApp::start().await;
    let ops = t.operator().await;
    for value in ["203.0.113.7", "198.51.100.9"] {
        let body = serde_json::json!({"scope": "address", "value": value, "kind": "block", "duration_secs": 600, "reason": "probing"});
        let (s, _) = t.call("POST", "/api/v1/admin/edge/decisions", Some(&ops), Some(body)).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
    }
    let mut browser = cdp::Browser::start(chromium).await;
    browser.set_cookie(&t.base, "tessera_session", &ops).await;
    browser.goto(&format!("{}/operator/soc", t.base)).await;
    let two = "document.querySelectorAll('#s-decisions tbody tr').length === 2";
    browser.wait_for(two, std::time::Duration::from_secs(15)).await;
    let row = |ip: &str| {
        format!("[...document.querySelectorAll('#s-decisions tbody tr')].find((r) => r.textContent.includes('{ip}'))")
    };
    browser.eval(&format!("{}.querySelector('button[data-lift]').click()", row("203.0.113.7"))).await;
    browser
        .wait_for("document.getElementById('s-msg').textContent === 'Lifted.'", std::time::Duration::from_secs(10))
        .await;
    browser.eval(&format!("{}.querySelector('button[data-extend]').click()", row("198.51.100.9"))).await;
    browser
        .wait_for(
            "document.getElementById('s-msg').textContent === 'Extended by an hour.'",
            std::time::Duration::from_secs(10),
        )
        .await;
    let (_, list) = t.call("GET", "/api/v1/admin/edge/decisions", Some(&ops), None).await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["scope"]["value"], "198.51.100.9");
    let left = list[0]["expires_ms"].as_i64().unwrap() - t.app.now_ms();
    assert!(left > 3_000_000, "extended by an hour: {left} ms left");
}

/// The block list exported for a firewall or nginx: blocks only, in the form asked for.
#[tokio::test]
async fn the_block_list_exports_for_nginx_and_firewalls() {
    let t = TestApp::start().await;
    let ops = t.operator().await;
    for (scope, value, kind) in [
        ("address", "203.0.113.7", "block"),
        ("network", "198.51.100.0/24", "block"),
        ("address", "192.0.2.1", "throttle"),
        ("account", "42", "block"),
    ] {
        let body =
            serde_json::json!({"scope": scope, "value": value, "kind": kind, "duration_secs": 600, "reason": "test"});
        assert_eq!(
            t.call("POST", "/api/v1/admin/edge/decisions", Some(&ops), Some(body)).await.0,
            StatusCode::NO_CONTENT
        );
    }
    let export = |format: &str| {
        let r = t.http.get(format!("{}/api/v1/admin/soc/blocklist?format={format}", t.base)).bearer_auth(&ops).send();
        async move {
            let r = r.await.unwrap();
            let status = r.status();
            let mut lines: Vec<String> = r.text().await.unwrap().lines().map(String::from).collect();
            lines.sort();
            (status, lines)
        }
    };
    assert_eq!(export("plain").await.1, ["198.51.100.0/24", "203.0.113.7"]);
    assert_eq!(export("cidr").await.1, ["198.51.100.0/24", "203.0.113.7/32"]);
    assert_eq!(export("nginx").await.1, ["deny 198.51.100.0/24;", "deny 203.0.113.7/32;"]);
    assert_eq!(export("iptables").await.0, StatusCode::UNPROCESSABLE_ENTITY);
}

/// Signs `email` in `n` times with the fans' password.
async fn sign_in_times(t: &TestApp, email: &str, n: usize) {
    for _ in 0..n {
        let body = serde_json::json!({"email": email, "password": "correct horse battery"});
        assert_eq!(t.call("POST", "/api/v1/auth/login", None, Some(body)).await.0, StatusCode::OK);
    }
}

/// A rule that fires on an account signing in three times, and blocks the account: a case an
/// analyst can triage without blocking the test's own address.
const SIGNINS_RULE: &str = "- id: signins\n  title: Sign-ins in a burst\n  level: high\n  filter: { kinds: [signin_succeeded] }\n  group_by: account\n  condition: { event_count: { rate_per_sec: 0.01, burst: 2 } }\n  action: { decide: suspend, minutes: 5 }\n";

async fn first_case(t: &TestApp, who: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (s, list) = t.call("GET", "/api/v1/admin/soc/cases", Some(who), None).await;
        assert_eq!(s, StatusCode::OK, "{list}");
        if let Some(c) = list["cases"].as_array().and_then(|c| c.first()) {
            return c.clone();
        }
        if std::time::Instant::now() > deadline {
            let (_, soc) = t.call("GET", "/api/v1/admin/soc", Some(who), None).await;
            panic!("no case: {list}; the engine: {soc}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// An analyst (not an operator) tunes a rule, triages the case its alert opened, and closes it
/// as a false positive: the engine's block on the account is lifted, the rule is silenced on
/// that account, and every action is audited as an event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analyst_triages_a_case_and_a_false_positive_lifts_its_block() {
    let t = TestApp::start().await;
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(tessera_app::soc::soc_loop(t.app.clone(), stop));
    let analyst = t.analyst().await;
    let fan = t.fan(1).await;
    drop(fan);
    // Least privilege: the analyst's console, not the shop's administration.
    assert_eq!(t.call("GET", "/api/v1/admin/sales", Some(&analyst), None).await.0, StatusCode::FORBIDDEN);
    let r = t.http.put(format!("{}/api/v1/admin/soc/rules", t.base)).bearer_auth(&analyst).body(SIGNINS_RULE);
    let r = r.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let mut audit = t.app.soc_subscribe();

    sign_in_times(&t, "fan1@example.org", 3).await;
    let case = first_case(&t, &analyst).await;
    assert_eq!((case["state"].as_str(), case["group_by"].as_str()), (Some("new"), Some("account")), "{case}");
    assert_eq!(case["rules"], serde_json::json!(["signins"]));
    let id = case["id"].as_u64().unwrap();
    let account = case["key"].as_str().unwrap().to_string();
    let (_, decisions) = t.call("GET", "/api/v1/admin/edge/decisions", Some(&analyst), None).await;
    assert_eq!(decisions[0]["scope"]["value"].to_string(), account, "the engine blocked the account: {decisions}");
    let (s, detail) = t.call("GET", &format!("/api/v1/admin/soc/cases/{id}"), Some(&analyst), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(detail["events"][0]["event"]["action"], "signin_succeeded", "the event behind it: {detail}");
    assert_eq!(detail["recent_alerts"][0]["rule"], "signins");

    let (s, c) = t.call("POST", &format!("/api/v1/admin/soc/cases/{id}/acknowledge"), Some(&analyst), None).await;
    assert_eq!(
        (s, c["state"].as_str(), c["owner"].as_str()),
        (StatusCode::OK, Some("acknowledged"), Some("analyst@example.org"))
    );
    let note = serde_json::json!({"text": "the fan's own retries after a password change"});
    let (s, c) = t.call("POST", &format!("/api/v1/admin/soc/cases/{id}/notes"), Some(&analyst), Some(note)).await;
    assert_eq!((s, c["notes"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)));
    let bad = serde_json::json!({"as": "resolved", "suppress_minutes": 60});
    let (s, _) = t.call("POST", &format!("/api/v1/admin/soc/cases/{id}/close"), Some(&analyst), Some(bad)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "only a false positive is suppressed");
    let close = serde_json::json!({"as": "false_positive", "suppress_minutes": 60});
    let (s, closed) = t.call("POST", &format!("/api/v1/admin/soc/cases/{id}/close"), Some(&analyst), Some(close)).await;
    assert_eq!(s, StatusCode::OK, "{closed}");
    assert_eq!(closed["case"]["state"], "false_positive");
    let suppression = closed["suppression"].as_u64().expect("a suppression");
    let (_, decisions) = t.call("GET", "/api/v1/admin/edge/decisions", Some(&analyst), None).await;
    assert_eq!(decisions, serde_json::json!([]), "the false positive's block is lifted");
    let (s, _) = t.call("POST", &format!("/api/v1/admin/soc/cases/{id}/acknowledge"), Some(&analyst), None).await;
    assert_eq!(s, StatusCode::CONFLICT, "a closed case does not change");

    // The same account again, once the rule's quiet time after firing is over: silenced,
    // counted, no new case and no block.
    t.clock.advance(30 * 60);
    sign_in_times(&t, "fan1@example.org", 3).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, list) = t.call("GET", "/api/v1/admin/soc/suppressions", Some(&analyst), None).await;
        let hits = list.as_array().and_then(|l| l.iter().find(|x| x["id"] == suppression)).map(|x| x["hits"].clone());
        if hits.and_then(|h| h.as_u64()).unwrap_or(0) >= 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the suppression heard nothing: {list}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, list) = t.call("GET", "/api/v1/admin/soc/cases", Some(&analyst), None).await;
    assert_eq!(list["cases"].as_array().unwrap().len(), 1, "{list}");
    let (_, decisions) = t.call("GET", "/api/v1/admin/edge/decisions", Some(&analyst), None).await;
    assert_eq!(decisions, serde_json::json!([]));

    // Every analyst action became an operator_action event.
    let mut actions = Vec::new();
    while let Ok(Ok(e)) = tokio::time::timeout(std::time::Duration::from_millis(500), audit.recv()).await {
        if e.kind.as_str() == "operator_action" {
            actions.push(e.message.clone().unwrap_or_default());
        }
    }
    for done in [format!("acknowledged case {id}"), format!("added a note to case {id}")] {
        assert!(actions.contains(&done), "{done} not audited: {actions:?}");
    }
    assert!(
        actions.iter().any(|a| a.starts_with(&format!("closed case {id} as false_positive, suppression"))),
        "{actions:?}"
    );
}

/// The case queue in Chromium, driven from the keyboard as an analyst works it: `j` opens the
/// first case with the events behind it, `a` takes it, `n` goes to the note, `f` closes it as a
/// false positive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analyst_works_the_case_queue_from_the_keyboard() {
    let Some(chromium) = cdp::chromium_or_skip("an_analyst_works_the_case_queue_from_the_keyboard") else {
        return;
    };
    let t = TestApp::start().await;
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(tessera_app::soc::soc_loop(t.app.clone(), stop));
    let analyst = t.analyst().await;
    t.fan(1).await;
    let r = t.http.put(format!("{}/api/v1/admin/soc/rules", t.base)).bearer_auth(&analyst).body(SIGNINS_RULE);
    assert_eq!(r.send().await.unwrap().status(), StatusCode::OK);
    sign_in_times(&t, "fan1@example.org", 3).await;
    let id = first_case(&t, &analyst).await["id"].as_u64().unwrap();

    let mut browser = cdp::Browser::start(chromium).await;
    browser.set_cookie(&t.base, "tessera_session", &analyst).await;
    browser.goto(&format!("{}/operator/soc", t.base)).await;
    let secs = std::time::Duration::from_secs;
    browser.wait_for("document.querySelectorAll('#s-cases tbody tr').length === 1", secs(15)).await;
    let key =
        |k: &str| format!("document.dispatchEvent(new KeyboardEvent('keydown', {{ key: '{k}', bubbles: true }}))");
    browser.eval(&key("j")).await;
    browser.wait_for("!document.getElementById('s-case').hidden && document.querySelectorAll('#s-case-events tbody tr').length >= 1", secs(10)).await;
    let first = browser.eval("document.querySelector('#s-case-events tbody tr').textContent").await;
    assert!(first.as_str().unwrap().contains("signin_succeeded"), "{first}");
    browser.eval(&key("a")).await;
    browser.wait_for("document.getElementById('s-msg').textContent === 'Acknowledged.'", secs(10)).await;
    browser.eval(&key("n")).await;
    let focused = browser.eval("document.activeElement.id").await;
    assert_eq!(focused, "c-note");
    browser.eval("document.getElementById('c-note').value = 'checked with the fan'; document.getElementById('c-do-note').click()").await;
    browser.wait_for("document.getElementById('s-msg').textContent === 'Note added.'", secs(10)).await;
    browser.eval("document.getElementById('c-note').blur()").await;
    browser.eval(&key("f")).await;
    browser.wait_for("document.getElementById('s-msg').textContent === 'Closed as a false positive.'", secs(10)).await;
    let (_, case) = t.call("GET", &format!("/api/v1/admin/soc/cases/{id}"), Some(&analyst), None).await;
    assert_eq!(case["state"], "false_positive", "{case}");
    assert_eq!(case["owner"], "analyst@example.org");
    assert_eq!(case["notes"][0]["text"], "checked with the fan");
    let (_, suppressions) = t.call("GET", "/api/v1/admin/soc/suppressions", Some(&analyst), None).await;
    assert_eq!(suppressions[0]["case"], id, "the checkbox's hour of silence: {suppressions}");
}

/// Log lines uploaded over HTTP by a shipper: good lines reach the engine, a malformed one is
/// counted and named by its number, a body that is not UTF-8 is refused whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_shipper_uploads_lines_over_http() {
    let t = TestApp::start().await;
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(tessera_app::soc::soc_loop(t.app.clone(), stop));
    let analyst = t.analyst().await;
    let line = |path: &str| {
        format!("203.0.113.9 - - [26/Jul/2024:19:31:00 +0200] \"GET {path} HTTP/1.1\" 404 150 \"-\" \"curl/8\"\n")
    };
    let json = r#"{"at_ms":1722015060000,"kind":"signin_failed","outcome":"failure","source":"203.0.113.9"}"#;
    let body = format!("{}garbage here\n\n{}{json}\r\n", line("/.env"), line("/wp-login.php"));
    let post = |body: Vec<u8>| {
        t.http.post(format!("{}/api/v1/admin/soc/ingest", t.base)).bearer_auth(&analyst).body(body).send()
    };
    let r = post(body.into_bytes()).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (v["lines"].as_u64(), v["accepted"].as_u64(), v["malformed"].as_u64()),
        (Some(4), Some(3), Some(1)),
        "{v}"
    );
    assert!(v["samples"][0].as_str().unwrap().starts_with("line 2: garbage"), "{v}");
    let r = post(vec![b'G', b'E', 0xff, b'\n']).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (_, soc) = t.call("GET", "/api/v1/admin/soc", Some(&analyst), None).await;
    assert_eq!((soc["ingested"].as_u64(), soc["malformed"].as_u64()), (Some(3), Some(1)), "{soc}");
}
