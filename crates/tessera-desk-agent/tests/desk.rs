//! A collection desk against a real central server started in this process: the list is
//! downloaded and kept sealed; with the central system stopped the desk still finds a person
//! and records the hand-over on its disk; a restart without the central system opens the kept
//! list; the central system back, the hand-over syncs and counts once, even sent twice; a
//! tampered kept list is refused with a clear error.

use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tessera_app::accreditation::{Decision, OrgRecord};
use tessera_app::auth::Principal;
use tessera_app::{App, AppConfig, ManualClock, PasswordCost};
use tessera_desk_agent::{Agent, DeskArgs};
use tessera_payments::{SandboxConfig, SandboxProvider};
use tessera_store::Role;

const PASSWORD: &str = "orange lantern harbour 42";

/// The central system: one node on a SQLite file, served on `addr` until `stop` is sent.
struct Central {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn serve(app: &App, addr: SocketAddr) -> Central {
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let state = tessera_http::AppState::new(app.clone(), true, None);
    // A short grace: the desk's idle connections need none.
    let limits = tessera_http::serve::ServeLimits { shutdown_grace: Duration::from_secs(1), ..Default::default() };
    let served = tokio::spawn(tessera_http::serve::serve_with(listener, state, limits, async move {
        let _ = rx.await;
    }));
    Central { addr, stop, served }
}

impl Central {
    /// Stops answering: the listener is closed and every connection dropped.
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(15), self.served).await.expect("the server stops");
    }
}

async fn staff_account(app: &App, email: &str, role: Role) -> tessera_store::Account {
    let a = app.create_account(email, PASSWORD, "Staff", role).await.unwrap();
    app.store.mark_email_verified(a.id).await.unwrap();
    app.store.account(a.id).await.unwrap().unwrap()
}

fn application(family: &str, document: &str) -> tessera_accreditation::RawApplication {
    serde_json::from_value(json!({
        "given_name": "Marie-José", "family_name": family, "date_of_birth": "1968-05-09", "nationality": "FRA",
        "document_number": document, "category": "A", "function": "athlete", "organisation": "FRA",
        "venues": "STA OLV", "zones": "2 8", "privileges": "DIN TA"
    }))
    .unwrap()
}

/// Two approved people with their cards printed, as staff would have done.
async fn approved_people(app: &App, clock: &ManualClock) -> Vec<i64> {
    let staff = Principal::of_account(&staff_account(app, "staff@example.org", Role::Accreditation).await);
    let officer = staff_account(app, "officer@example.org", Role::Fan).await;
    let org = OrgRecord {
        code: "FRA".into(),
        name: "Comité national olympique".into(),
        kind: tessera_accreditation::OrgKind::Noc,
        officers: vec![officer.id.0],
        quotas: [("A".to_string(), 5)].into(),
    };
    app.put_organisation(&staff, org).await.unwrap();
    let officer = Principal::of_account(&officer);
    let mut ids = Vec::new();
    for (family, document) in [("Pérec", "12AB34567"), ("Arron", "99ZZ11111")] {
        let added = app.submit_application(&officer, &application(family, document), None).await.unwrap();
        let tessera_store::Added::Added(id) = added else { panic!("{family} not added: {added:?}") };
        ids.push(id);
    }
    for id in &ids {
        let mut approved = false;
        for _ in 0..30 {
            app.screening_pass().await.unwrap();
            clock.advance(700);
            app.screening_pass().await.unwrap();
            if app.decide_application(&staff, *id, Decision::Approve, "").await.is_ok() {
                approved = true;
                break;
            }
        }
        assert!(approved, "application {id} never cleared screening");
        app.issue_badge(&staff, *id, false).await.unwrap();
    }
    ids
}

fn args(central: SocketAddr, token: &str, badge_key: &str, dir: &Path) -> DeskArgs {
    DeskArgs {
        central: format!("http://{central}"),
        desk: "PDV1".into(),
        token: token.into(),
        badge_key: badge_key.into(),
        desk_key: None,
        key_file: None,
        data_dir: dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        sync_interval_ms: 100,
        list_refresh_secs: 300,
    }
}

/// The desk's page on a port of its own, as `tessera desk` serves it.
async fn page(agent: &Arc<Agent>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let routes = tessera_desk_agent::routes(agent.clone());
    tokio::spawn(async move { axum::serve(listener, routes).await });
    base
}

async fn get(http: &reqwest::Client, url: String) -> (reqwest::StatusCode, Value) {
    let r = http.get(url).send().await.unwrap();
    (r.status(), r.json().await.unwrap())
}

#[tokio::test]
async fn a_desk_hands_over_cards_while_the_central_system_is_down_and_syncs_them_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = tessera_store_sqlite::SqliteStore::open(
        dir.path().join("central.db"),
        tessera_store_sqlite::Durability::Normal,
    )
    .unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let clock = Arc::new(ManualClock::new(tessera_domain::Timestamp(now)));
    let mut config = AppConfig::new([5; 32], "http://shop.test");
    config.password_cost = PasswordCost { memory_kib: 1024, iterations: 1 };
    let app =
        App::new(Arc::new(store), Arc::new(SandboxProvider::new(SandboxConfig::default())), clock.clone(), config);
    app.accreditations.use_quick_sandbox(7);
    let ids = approved_people(&app, &clock).await;
    staff_account(&app, "desk@example.org", Role::Desk).await;
    let token = app.login("desk@example.org", PASSWORD).await.unwrap().token;
    let badge_key = hex::encode(app.badge_signer().public().as_bytes());
    let http = reqwest::Client::new();

    // Online: the list is downloaded, checked, and kept sealed as it came.
    let central = serve(&app, "127.0.0.1:0".parse().unwrap()).await;
    let addr = central.addr;
    let desk_dir = dir.path().join("desk");
    let agent = Agent::start(&args(addr, &token, &badge_key, &desk_dir)).await.unwrap();
    let base = page(&agent).await;
    let (_, status) = get(&http, format!("{base}/status")).await;
    assert_eq!((status["list_people"].as_u64(), status["link"]["central_online"].as_bool()), (Some(2), Some(true)));
    let kept = std::fs::read(desk_dir.join("list.tdl")).unwrap();
    assert!(kept.starts_with(b"TDL1"));
    for clear in [&b"perec"[..], &b"12AB34567"[..], &b"arron"[..]] {
        assert!(!kept.windows(clear.len()).any(|w| w == clear), "no personal data in clear on the desk's disk");
    }
    let r = http.get(&base).send().await.unwrap();
    let policy = r.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(policy.contains("script-src 'self' 'sha256-"), "the page's script is allowed by its hash: {policy}");

    // The central system stops: the desk still finds the person and records the hand-over,
    // on its disk before it answers.
    central.stop().await;
    assert!(agent.sync_once().await.is_err(), "the central system is down");
    let (s, found) = get(&http, format!("{base}/search?q=perec%20marie")).await;
    assert_eq!(s, reqwest::StatusCode::OK);
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (found[0]["person"].as_i64(), found[0]["category"].as_str(), found[0]["organisation"].as_str()),
        (Some(ids[0]), Some("A"), Some("FRA"))
    );
    assert_eq!(found[0]["handed_over_at"], Value::Null);
    let card = json!({"person": ids[0], "serial": found[0]["serial"]});
    let r = http.post(format!("{base}/hand-over")).json(&card).send().await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK, "{}", r.text().await.unwrap());
    let log = std::fs::read_to_string(desk_dir.join("hand-overs.log")).unwrap();
    assert_eq!(log.lines().count(), 1, "{log}");
    assert!(log.contains(&format!("\"person\":{}", ids[0])), "{log}");
    // Once: the desk's own log refuses a second hand-over of the card, and keeps nothing.
    let r = http.post(format!("{base}/hand-over")).json(&card).send().await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::CONFLICT);
    let r = http.post(format!("{base}/hand-over")).json(&json!({"person": 999_999, "serial": 0})).send().await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::CONFLICT, "not on the list");
    assert_eq!(std::fs::read_to_string(desk_dir.join("hand-overs.log")).unwrap(), log, "nothing kept");
    let (_, status) = get(&http, format!("{base}/status")).await;
    assert_eq!((status["pending"].as_u64(), status["link"]["central_online"].as_bool()), (Some(1), Some(false)));
    drop(agent);

    // Restarted without the central system: the kept list opens, the log is read back.
    let agent = Agent::start(&args(addr, &token, &badge_key, &desk_dir)).await.unwrap();
    let found = agent.search("12ab 34567");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].person, ids[0] as u64);
    assert!(found[0].handed_over_at.is_some(), "the hand-over is remembered");
    assert_eq!(agent.search(&ids[1].to_string()).len(), 1, "by badge number");
    assert_eq!(agent.pending(), 1);

    // The central system is back: the hand-over syncs, once.
    let central = serve(&app, addr).await;
    assert_eq!(agent.sync_once().await.unwrap(), 1);
    assert_eq!(agent.pending(), 0);
    assert_eq!(agent.sync_once().await.unwrap(), 0, "nothing left to send");
    let staff = Principal::of_account(
        &app.store
            .account_by_email(&tessera_domain::Email::parse("staff@example.org").unwrap())
            .await
            .unwrap()
            .unwrap(),
    );
    let handed = |f: &tessera_app::accreditation::AccreditationFigures| {
        f.desks.iter().find(|d| d.desk == "PDV1").map(|d| (d.handed_over, d.flagged))
    };
    let figures = app.accreditation_figures(&staff).await.unwrap();
    assert_eq!(handed(&figures), Some((1, 0)));
    assert_eq!(figures.cards_issued, 2, "printing is central: two cards issued in all");
    // The acknowledgement lost (as if the desk stopped before writing it): sent again, it
    // still counts once.
    drop(agent);
    std::fs::remove_file(desk_dir.join("hand-overs.synced")).unwrap();
    let agent = Agent::start(&args(addr, &token, &badge_key, &desk_dir)).await.unwrap();
    assert_eq!(agent.pending(), 1);
    assert_eq!(agent.sync_once().await.unwrap(), 1);
    assert_eq!(handed(&app.accreditation_figures(&staff).await.unwrap()), Some((1, 0)), "sent twice, counted once");
    drop(agent);
    central.stop().await;

    // A kept list altered by one byte is refused, with the reason, and nothing starts.
    let mut tampered = std::fs::read(desk_dir.join("list.tdl")).unwrap();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    std::fs::write(desk_dir.join("list.tdl"), &tampered).unwrap();
    let Err(e) = Agent::start(&args(addr, &token, &badge_key, &desk_dir)).await else {
        panic!("a tampered list must not open")
    };
    let e = format!("{e:#}");
    assert!(e.contains("kept list") && e.contains("cannot be decrypted"), "{e}");
}
