//! `tessera demo`, the front door, as a process: it starts, the demo fan's wallet holds
//! tickets for tonight's session that activate now, and the demo's gate agent admits a code
//! made for one of them, then refuses it as already used.

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_shows_a_wallet_and_a_gate_that_admits_and_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["demo", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.path())
        .env("TESSERA_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut shop, mut gate, mut desk, mut figures, mut password) = (None, None, None, None, None);
    tokio::time::timeout(Duration::from_secs(300), async {
        while let Some(l) = lines.next_line().await.unwrap() {
            if let Some(rest) = l.trim().strip_prefix("Tessera is running on ") {
                shop = Some(rest.split_whitespace().next().unwrap().to_string());
            }
            if let Some(rest) = l.trim().strip_prefix("Gate page:") {
                gate = Some(rest.split_whitespace().next().unwrap().trim_end_matches('/').to_string());
            }
            if let Some(rest) = l.trim().strip_prefix("Desk page:") {
                desk = Some(rest.split_whitespace().next().unwrap().trim_end_matches('/').to_string());
            }
            if let Some(rest) = l.trim().strip_prefix("Demo fan:") {
                password = rest.split("password: ").nth(1).map(|p| p.trim().to_string());
            }
            if let Some(rest) = l.trim().strip_prefix("Catalogue:") {
                figures = Some(rest.trim().to_string());
            }
            if shop.is_some() && gate.is_some() && desk.is_some() && password.is_some() {
                return;
            }
        }
        panic!("the demo exited before printing its URLs");
    })
    .await
    .expect("the demo starts within 5 minutes");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let (shop, gate) = (shop.unwrap(), gate.unwrap());
    let http = reqwest::Client::new();
    // The banner and the home page read the same figures, the live session included.
    let figures = figures.expect("the banner shows the catalogue's figures");
    assert!(figures.contains(" seats") && figures.contains(','), "{figures}");
    let home = http.get(format!("{shop}/")).send().await.unwrap().text().await.unwrap();
    assert!(home.contains(&figures), "banner: {figures}");
    // The demo's programme is still to come: a fan buys sessions the wallet will not show as over.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    for offset in [0, 1000] {
        let page: Value = http
            .get(format!("{shop}/api/v1/sessions?limit=1000&offset={offset}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for s in page.as_array().unwrap() {
            let ends = tessera_domain::Timestamp::parse_rfc3339(s["ends_at"].as_str().unwrap()).unwrap();
            assert!(ends.0 > now, "{s} is over");
        }
    }

    let login = post_json(
        &http,
        &format!("{shop}/api/v1/auth/login"),
        None,
        json!({"email": "fan@demo.tessera.invalid", "password": password.clone().expect("the banner shows the demo password")}),
    )
    .await;
    let token = login["token"].as_str().unwrap().to_string();
    let wallet: Value =
        http.get(format!("{shop}/api/v1/wallet")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let tickets = wallet["tickets"].as_array().unwrap();
    let live: Vec<&Value> = tickets.iter().filter(|t| t["state"] == "ready").collect();
    assert_eq!(live.len(), 2, "{wallet}");
    // A phone (a key in the test) activates one and shows its code at the demo's gate.
    let key = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let raw = tessera_credential::device_public_key(&key);
    let activate = format!("{shop}/api/v1/tickets/{}/activate", live[0]["code"].as_str().unwrap());
    let a = post_json(&http, &activate, Some(&token), json!({"device_key": b64.encode(raw)})).await;
    let pass = b64.decode(a["pass"].as_str().unwrap()).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let code = tessera_credential::qr_text(&tessera_credential::make_code(&pass, &key, now, 15));
    // The gate agent starts beside the shop, once the shop answers.
    let until = Instant::now() + Duration::from_secs(60);
    let first = loop {
        if let Ok(r) = http.post(format!("{gate}/scan")).body(code.clone()).send().await {
            if r.status().is_success() {
                break r.json::<Value>().await.unwrap();
            }
        }
        assert!(Instant::now() < until, "the demo gate never answered");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(first["reason"], "valid", "{first}");
    assert_eq!(first["holder"], "Marie Demo");
    let second: Value = http.post(format!("{gate}/scan")).body(code).send().await.unwrap().json().await.unwrap();
    assert_eq!(second["reason"], "already_used", "{second}");
    let page = http.get(format!("{gate}/")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Ready to scan"));
    // The demo's collection desk starts beside it too, with its list from the shop.
    let desk = desk.expect("the banner shows the desk page");
    let until = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Ok(r) = http.get(format!("{desk}/status")).send().await {
            if r.status().is_success() {
                break r.json::<Value>().await.unwrap();
            }
        }
        assert!(Instant::now() < until, "the demo desk never answered");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(
        (status["desk"].as_str(), status["link"]["central_online"].as_bool()),
        (Some("PDV1"), Some(true)),
        "{status}"
    );
    let wallet_page = http.get(format!("{shop}/wallet")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(wallet_page.status(), reqwest::StatusCode::OK);
    assert!(wallet_page.text().await.unwrap().contains("/assets/qr.js"));

    // The security console has live traffic, and the simulated credential-stuffing run (20 s
    // after start) is blocked by the engine itself.
    let login = post_json(
        &http,
        &format!("{shop}/api/v1/auth/login"),
        None,
        json!({"email": tessera_server::demo::DEMO_OPERATOR, "password": password.clone().unwrap()}),
    )
    .await;
    let ops = login["token"].as_str().expect("the demo operator signs in").to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    let soc = loop {
        let soc: Value =
            http.get(format!("{shop}/api/v1/admin/soc")).bearer_auth(&ops).send().await.unwrap().json().await.unwrap();
        if soc["decided"].as_u64().unwrap_or(0) >= 1 {
            break soc;
        }
        assert!(Instant::now() < deadline, "no decision within a minute: {soc}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(soc["received"].as_u64().unwrap() > 12, "{soc}");
    let alert = &soc["alerts"][0];
    assert_eq!(alert["rule"], "credential-stuffing-source", "{soc}");
    assert_eq!(alert["decision"]["scope"], "address 203.0.113.1", "{soc}");
    let page = http.get(format!("{shop}/operator/soc")).bearer_auth(&ops).send().await.unwrap();
    assert_eq!(page.status(), reqwest::StatusCode::OK);

    // The demo analyst finds the attack as a case, and is refused the shop's administration.
    let login = post_json(
        &http,
        &format!("{shop}/api/v1/auth/login"),
        None,
        json!({"email": tessera_server::demo::DEMO_ANALYST, "password": password.clone().unwrap()}),
    )
    .await;
    let analyst = login["token"].as_str().expect("the demo analyst signs in").to_string();
    let cases: Value = http
        .get(format!("{shop}/api/v1/admin/soc/cases"))
        .bearer_auth(&analyst)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stuffing = cases["cases"].as_array().unwrap().iter().find(|c| c["key"] == "203.0.113.1");
    let stuffing = stuffing.unwrap_or_else(|| panic!("the blocked source is a case: {cases}"));
    assert!(stuffing["rules"].as_array().unwrap().contains(&json!("credential-stuffing-source")), "{stuffing}");
    assert_eq!(stuffing["decided"], true);
    let sales = http.get(format!("{shop}/api/v1/admin/sales")).bearer_auth(&analyst).send().await.unwrap();
    assert_eq!(sales.status(), reqwest::StatusCode::FORBIDDEN);

    // Live results: the demo's venue sources publish finals; the first turns official after
    // about 20 s and the medal table fills.
    let deadline = Instant::now() + Duration::from_secs(60);
    let medals = loop {
        let medals: Value =
            http.get(format!("{shop}/api/v1/results/medals")).send().await.unwrap().json().await.unwrap();
        if medals["rows"].as_array().is_some_and(|r| !r.is_empty()) {
            break medals;
        }
        assert!(Instant::now() < deadline, "no medal within a minute: {medals}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(medals["seq"].as_u64().unwrap() >= 11, "{medals}");
    let page = http.get(format!("{shop}/results")).send().await.unwrap();
    assert_eq!(page.status(), reqwest::StatusCode::OK);
}

/// POSTs a JSON body, signed in when a token is given, and reads the JSON answer.
async fn post_json(http: &reqwest::Client, url: &str, token: Option<&str>, body: Value) -> Value {
    let mut r = http.post(url).json(&body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap().json().await.unwrap()
}
