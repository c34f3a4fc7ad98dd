//! The operations centre: detection within the stated bounds, one grouped incident per cause
//! (not a storm), contingency modes that work with their dependency down, rehearsals scored,
//! observers that may only speak for themselves.

use super::*;
use tessera_app::toc::{Mode, Observed, Toc, TocConfig};
use tessera_ops::incidents::Severity;
use tessera_ops::{Model, State};

/// One node (its own vantage point for the store), a venue with a probed network, three gates
/// (two needed) and a desk. Probes need one failing vantage point here: one node sees it.
const MODEL: &str = r#"
venues: [{id: v1, name: Venue one}]
components:
  - {id: n1, kind: node, heartbeat: {interval_ms: 5000}}
  - {id: store, kind: datastore, probe: {vantage_points: [n1], down_when: 1, interval_ms: 5000}}
  - {id: shop, kind: system, depends_on: [store]}
  - {id: v1-network, kind: network, venue: v1, probe: {vantage_points: [outside, v1-4g], down_when: 2, interval_ms: 10000}}
  - {id: v1-gate-1, kind: gate, venue: v1, depends_on: [v1-network], heartbeat: {interval_ms: 10000}}
  - {id: v1-gate-2, kind: gate, venue: v1, depends_on: [v1-network], heartbeat: {interval_ms: 10000}}
  - {id: v1-gate-3, kind: gate, venue: v1, depends_on: [v1-network], heartbeat: {interval_ms: 10000}}
  - {id: v1-desk-1, kind: desk, venue: v1, depends_on: [v1-network], heartbeat: {interval_ms: 10000}}
  - id: v1-gates
    kind: group
    venue: v1
    redundancy: {type: quorum, members: [v1-gate-1, v1-gate-2, v1-gate-3], min_up: 2}
services:
  - {id: tickets, name: Tickets, components: [shop]}
  - {id: entry, name: Venue entry, components: [v1-gates]}
"#;

const DEVICES: [&str; 4] = ["v1-gate-1", "v1-gate-2", "v1-gate-3", "v1-desk-1"];

fn toc_config() -> TocConfig {
    TocConfig {
        model: Arc::new(Model::from_yaml(MODEL).unwrap()),
        node: "n1".into(),
        store_component: Some("store".into()),
        ..TocConfig::default()
    }
}

/// The test apps' configuration (`build`'s), with `toc`.
fn config(toc: TocConfig) -> AppConfig {
    let mut config = AppConfig::new([3; 32], "http://shop.test");
    config.password_cost = PasswordCost { memory_kib: 1024, iterations: 1 };
    config.toc = toc;
    config
}

fn with_toc(t: TestApp) -> TestApp {
    let app = App::new(t.app.store.clone(), t.payments.clone(), t.clock.clone(), config(toc_config()));
    TestApp { app, ..t }
}

async fn operator(t: &TestApp) -> Principal {
    let a = t.app.create_account("ops@example.org", "correct horse battery", "Ops", Role::Operator).await.unwrap();
    Principal::of_account(&a)
}

/// Every device alive and the venue network answering, at the clock's time.
async fn all_well(t: &TestApp, except: &[&str]) {
    let now = t.app.now_ms();
    for d in DEVICES.iter().filter(|d| !except.contains(d)) {
        let hb = vec![Observed::Heartbeat { component: d.to_string(), at_ms: now, device_time_ms: None }];
        t.app.toc_observe(d, hb).await.unwrap();
    }
    for v in ["outside", "v1-4g"] {
        let ok = !except.contains(&"v1-network");
        let p =
            vec![Observed::Probe { component: "v1-network".into(), vantage: v.into(), ok, at_ms: now, detail: None }];
        t.app.toc_observe(v, p).await.unwrap();
    }
}

/// Runs the operations centre for `secs` seconds of the manual clock, a tick a second, with
/// `feed` before each tick.
async fn run_for(t: &TestApp, secs: i64, except: &[&str]) {
    for _ in 0..secs {
        all_well(t, except).await;
        t.app.toc_tick(true).await;
        t.clock.advance(1);
    }
}

fn state(t: &TestApp, id: &str) -> State {
    t.app.toc_wall().components.iter().find(|c| c.id == id).unwrap().state
}

/// A webhook receiver: every request's body, answered 200.
async fn webhook_receiver() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = got.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                // Headers, then as many body bytes as Content-Length says.
                loop {
                    let Ok(n) = s.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if body.len() >= len {
                            seen.lock().unwrap().push(body.to_string());
                            let _ =
                                s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                            return;
                        }
                    }
                }
            });
        }
    });
    (url, got)
}

pub async fn a_silent_gate_is_found_within_its_bound_and_opens_one_incident(t: TestApp) {
    let (hook, hooked) = webhook_receiver().await;
    let app = App::new(
        t.app.store.clone(),
        t.payments.clone(),
        t.clock.clone(),
        config(TocConfig { webhooks: vec![hook], ..toc_config() }),
    );
    let t = TestApp { app, ..t };
    run_for(&t, 12, &[]).await;
    assert_eq!(state(&t, "v1-gate-2"), State::Up);
    assert!(t.app.toc_wall().incidents.is_empty(), "all well: no incident");
    // The gate falls silent: down once silent longer than 10 s × 3, seen at the next tick.
    let mut found_after = None;
    for s in 1..=40 {
        run_for(&t, 1, &["v1-gate-2"]).await;
        if state(&t, "v1-gate-2") == State::Down {
            found_after = Some(s);
            break;
        }
    }
    let found_after = found_after.expect("a silent gate is found");
    assert!((30..=32).contains(&found_after), "found {found_after} s after its last heartbeat (bound 30 s + a tick)");
    assert_eq!(state(&t, "v1-gates"), State::Degraded, "two of three gates still admit");
    // The alert waits group_wait (10 s), then becomes one incident.
    run_for(&t, 12, &["v1-gate-2"]).await;
    let wall = t.app.toc_wall();
    assert_eq!(wall.incidents.len(), 1, "one incident: {:?}", wall.incidents);
    assert!(wall.incidents[0].title.contains("v1-gate-2"), "{}", wall.incidents[0].title);
    assert!(
        wall.notifications.iter().any(|n| n.channels.iter().any(|c| c.starts_with("mail:"))),
        "the on-call is mailed"
    );
    let mail = t.app.store.recent_mail(Some("toc-duty@tessera.test"), 10).await.unwrap();
    assert!(mail.iter().any(|m| m.subject.contains("FIRING")), "{mail:?}");
    let bodies = hooked.lock().unwrap().clone();
    assert!(
        bodies.iter().any(|b| b.contains("\"notification\"") && b.contains("v1-gate-2")),
        "the webhook got the notification: {bodies:?}"
    );
    // Nobody acknowledges: after the first level's 5 minutes, the second level is paged.
    assert!(t.app.store.recent_mail(Some("toc-manager@tessera.test"), 10).await.unwrap().is_empty());
    run_for(&t, 301, &["v1-gate-2"]).await;
    let paged = t.app.store.recent_mail(Some("toc-manager@tessera.test"), 10).await.unwrap();
    assert!(paged.iter().any(|m| m.subject.contains("PAGE level 2")), "escalated: {paged:?}");
    assert_eq!(t.app.toc_wall().incidents.len(), 1, "still one incident, escalated, not a second one");
}

pub async fn a_cut_venue_is_one_incident_with_its_devices_unreachable(t: TestApp) {
    let t = with_toc(t);
    run_for(&t, 12, &[]).await;
    let cut = ["v1-network", "v1-gate-1", "v1-gate-2", "v1-gate-3", "v1-desk-1"];
    run_for(&t, 50, &cut).await;
    assert_eq!(state(&t, "v1-network"), State::Down);
    for d in DEVICES {
        assert_eq!(state(&t, d), State::Unreachable, "{d} is behind the cut network, not a failure of its own");
    }
    let wall = t.app.toc_wall();
    assert_eq!(wall.incidents.len(), 1, "one incident for the venue, not one per device: {:?}", wall.incidents);
    let entry = wall.services.iter().find(|s| s.id == "entry").unwrap();
    assert_ne!(entry.status, tessera_ops::PublicStatus::Operational, "the status page says so");
    // Back: the states recover; the incident stays for a human to resolve.
    run_for(&t, 15, &[]).await;
    assert_eq!(state(&t, "v1-gate-1"), State::Up);
    let op = operator(&t).await;
    let id = t.app.toc_wall().incidents[0].id;
    t.app.toc_acknowledge(&op, id).await.unwrap();
    let inc = t.app.toc_resolve(&op, id).await.unwrap();
    assert!(!inc.is_open());
    assert!(t.app.toc_resolve(&op, id).await.is_err(), "a resolved incident is not resolved twice");
}

pub async fn a_failing_store_is_found_by_the_nodes_probe(t: TestApp) {
    use super::faults::store::{FaultyStore, DOWN, NONE};
    let fault = Arc::new(std::sync::atomic::AtomicU8::new(NONE));
    let store: Arc<dyn Store> = Arc::new(FaultyStore::new(t.app.store.clone(), fault.clone()));
    let app = App::new(store, t.payments.clone(), t.clock.clone(), config(toc_config()));
    let t = TestApp { app, ..t };
    run_for(&t, 6, &[]).await;
    assert_eq!(state(&t, "store"), State::Up);
    fault.store(DOWN, std::sync::atomic::Ordering::SeqCst);
    // The node's health runs every fifth tick: found within 5 s.
    run_for(&t, 6, &[]).await;
    assert_eq!(state(&t, "store"), State::Down);
    assert_eq!(state(&t, "shop"), State::Unreachable, "the shop is behind its store");
    run_for(&t, 12, &[]).await;
    let wall = t.app.toc_wall();
    assert_eq!(wall.incidents.len(), 1, "{:?}", wall.incidents);
    // The notification could not be mailed (the outbox is the store): it says so.
    assert!(wall.notifications.iter().any(|n| !n.failed.is_empty()), "{:?}", wall.notifications);
    fault.store(NONE, std::sync::atomic::Ordering::SeqCst);
}

/// Readiness requests that arrive together share one probe write (it is 256 KiB, committed,
/// and `/readyz` is open to anyone); one that arrives after the last ended makes its own, so a
/// store that just failed is seen by the next request.
pub async fn readiness_requests_at_once_share_one_probe_write(t: TestApp) {
    use super::faults::store::{FaultyStore, DOWN, NONE};
    use std::sync::atomic::Ordering;
    let fault = Arc::new(std::sync::atomic::AtomicU8::new(NONE));
    let faulty = Arc::new(FaultyStore::new(t.app.store.clone(), fault.clone()));
    let app = App::new(faulty.clone(), t.payments.clone(), t.clock.clone(), config(toc_config()));
    let at_once = 32;
    let barrier = Arc::new(tokio::sync::Barrier::new(at_once));
    let probes: Vec<_> = (0..at_once)
        .map(|_| {
            let (app, barrier) = (app.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                app.health_report().await
            })
        })
        .collect();
    for p in probes {
        let report = p.await.unwrap();
        assert_eq!(report.status, tessera_ops::health::HealthStatus::Pass, "{}", report.to_json());
    }
    let shared = faulty.pings.load(Ordering::SeqCst);
    assert!((1..at_once as u64 / 2).contains(&shared), "{shared} probe writes for {at_once} requests at once");
    // One after another: each its own write, and a failure seen at once.
    app.health_report().await;
    assert_eq!(faulty.pings.load(Ordering::SeqCst), shared + 1);
    fault.store(DOWN, Ordering::SeqCst);
    let report = app.health_report().await;
    assert_eq!(report.status, tessera_ops::health::HealthStatus::Fail, "{}", report.to_json());
    fault.store(NONE, Ordering::SeqCst);
    assert_eq!(app.health_report().await.status, tessera_ops::health::HealthStatus::Pass);
}

pub async fn the_shop_goes_read_only_while_its_store_is_down(t: TestApp) {
    use super::faults::store::{FaultyStore, BEFORE, NONE};
    let fault = Arc::new(std::sync::atomic::AtomicU8::new(NONE));
    let store: Arc<dyn Store> = Arc::new(FaultyStore::new(t.app.store.clone(), fault.clone()));
    let app = App::new(store, t.payments.clone(), t.clock.clone(), config(TocConfig::default()));
    let t = TestApp { app, ..t };
    let f = fan(&t, 1).await;
    drawn(&t, &[&f]).await;
    let cat = category(&t).await;
    let op = operator(&t).await;
    // The database goes down, and the operator switches the shop read-only: the switch is in
    // force at once even though its log entry waits for the store.
    fault.store(BEFORE, std::sync::atomic::Ordering::SeqCst);
    let m = t.app.toc_switch(&op, Mode::ShopReadOnly, true, "PostgreSQL down", None).await.unwrap();
    assert!(m.on && m.unlogged, "{m:?}");
    let e = t.app.add_to_cart(&f, "P1", cat, 1).await.unwrap_err();
    assert!(matches!(e, AppError::Contingency { mode: "shop_read_only", .. }), "{e:?}");
    let key = tessera_app::random_hex(8);
    let e = t.app.buy_now(&f, "P1", &[(cat, 1)], &key, &card(test_cards::SUCCESS)).await.unwrap_err();
    assert!(matches!(e, AppError::Contingency { .. }), "a refusal the fan can retry, not a business answer: {e:?}");
    // Reads go on.
    assert!(!t.app.store.list_sessions(&Default::default()).await.unwrap().is_empty());
    assert!(t.app.orders(&f).await.unwrap().is_empty(), "nothing was sold");
    // The store is back: the refresh logs the switch; switching off opens the shop again.
    fault.store(NONE, std::sync::atomic::Ordering::SeqCst);
    t.app.refresh_switches().await.unwrap();
    let log = t.app.store.switch_log(0, 10).await.unwrap();
    assert_eq!(log.len(), 1, "the audit caught up: {log:?}");
    assert_eq!((log[0].mode.as_str(), log[0].by.as_str()), ("shop_read_only", "ops@example.org"));
    assert!(t.app.toc_switch(&op, Mode::ShopQueueOnly, true, "both at once", None).await.is_err(), "conflicting modes");
    assert!(t.app.toc_switch(&op, Mode::ShopReadOnly, false, "  ", None).await.is_err(), "a reason is required");
    t.app.toc_switch(&op, Mode::ShopReadOnly, false, "PostgreSQL back", None).await.unwrap();
    t.app.add_to_cart(&f, "P1", cat, 1).await.unwrap();
    // Another node (a second app on the same store) folds the log into the same modes.
    let other = App::new(t.app.store.clone(), t.payments.clone(), t.clock.clone(), config(TocConfig::default()));
    t.app.toc_switch(&op, Mode::ShopQueueOnly, true, "payments time out", None).await.unwrap();
    other.refresh_switches().await.unwrap();
    assert!(other.mode_on(Mode::ShopQueueOnly) && !other.mode_on(Mode::ShopReadOnly));
}

pub async fn a_rehearsal_is_scored(t: TestApp) {
    let t = with_toc(t);
    let op = operator(&t).await;
    run_for(&t, 12, &[]).await;
    assert!(t.app.toc_scenarios().is_empty(), "the catalogue's scenarios name the demo model's components");
    // On the demo model (the default), the venue network cut.
    let app = App::new(t.app.store.clone(), t.payments.clone(), t.clock.clone(), config(TocConfig::default()));
    let t = TestApp { app, ..t };
    let model = t.app.toc.config().model.clone();
    let feed = |t: &TestApp| {
        let now = t.app.now_ms();
        let mut all = Vec::new();
        for c in model.components() {
            if c.heartbeat.is_some() {
                all.push((
                    c.id.clone(),
                    Observed::Heartbeat { component: c.id.clone(), at_ms: now, device_time_ms: None },
                ));
            }
            for v in c.probe.iter().flat_map(|p| p.vantage_points.iter()) {
                let p =
                    Observed::Probe { component: c.id.clone(), vantage: v.clone(), ok: true, at_ms: now, detail: None };
                all.push((v.clone(), p));
            }
        }
        all
    };
    let step = |t: &TestApp| {
        let obs = feed(t);
        let app = t.app.clone();
        async move {
            for (speaker, o) in obs {
                let _ = app.toc_observe(&speaker, vec![o]).await;
            }
            app.toc_tick(false).await;
        }
    };
    for _ in 0..5 {
        step(&t).await;
        t.clock.advance(1);
    }
    assert_eq!(state(&t, "sdf-network"), State::Up);
    t.app.toc_rehearse(&op, "venue-network-cut", 60).unwrap();
    assert!(t.app.toc_rehearse(&op, "flood", 60).is_err(), "one rehearsal at a time");
    let mut acknowledged = false;
    for _ in 0..75 {
        step(&t).await;
        let wall = t.app.toc_wall();
        if !acknowledged {
            if let Some(i) = wall.incidents.iter().find(|i| i.is_open()) {
                t.app.toc_acknowledge(&op, i.id).await.unwrap();
                t.app.toc_switch(&op, Mode::GatesOfflineFirst, true, "rehearsal", Some(i.id)).await.unwrap();
                acknowledged = true;
            }
        }
        t.clock.advance(1);
    }
    assert!(acknowledged, "the cut raised an incident");
    assert_eq!(state(&t, "sdf-gate-1"), State::Up, "the fault is over");
    let id = t.app.toc_wall().incidents.iter().find(|i| i.is_open()).unwrap().id;
    t.app.toc_resolve(&op, id).await.unwrap();
    let wall = t.app.toc_wall();
    assert!(wall.rehearsal.is_none(), "resolving after the fault ends the run");
    let run = &wall.runs[0];
    assert_eq!(run.scenario, "venue-network-cut");
    assert!(run.score.missed.is_empty(), "{:?}", run.score);
    let detect = run.score.time_to_detect_ms.unwrap();
    assert!(detect <= 40_000, "detected in {detect} ms");
    assert!(run.score.time_to_acknowledge_ms.is_some() && run.score.time_to_mitigate_ms.is_some());
    assert!(run.score.points >= 50, "{:?}", run.score);
    let kept = t.app.store.toc_documents(tessera_store::TocKind::Rehearsal, 10).await.unwrap();
    assert_eq!(kept.len(), 1, "the run is kept");
}

pub async fn observers_speak_only_for_themselves(t: TestApp) {
    let t = with_toc(t);
    let key = Toc::observer_key(&t.app, "v1-gate-1").unwrap();
    assert!(Toc::check_observer_key(&t.app, "v1-gate-1", &key));
    assert!(!Toc::check_observer_key(&t.app, "v1-gate-2", &key), "a key is its component's only");
    assert!(!Toc::check_observer_key(&t.app, "v1-gate-1", "00"), "malformed");
    assert!(Toc::observer_key(&t.app, "nobody").is_err(), "only the model's names get keys");
    let now = t.app.now_ms();
    let other = vec![Observed::Heartbeat { component: "v1-gate-2".into(), at_ms: now, device_time_ms: None }];
    let e = t.app.toc_observe("v1-gate-1", other).await.unwrap_err();
    assert!(matches!(e, AppError::Forbidden(_)), "{e:?}");
    let unknown = vec![Observed::Heartbeat { component: "ghost".into(), at_ms: now, device_time_ms: None }];
    assert!(matches!(t.app.toc_observe("ghost", unknown).await, Err(AppError::Invalid { .. })));
    assert!(matches!(t.app.toc_observe("v1-gate-1", Vec::new()).await, Err(AppError::Invalid { .. })));
    assert_eq!(t.app.toc_wall().observations, 0, "nothing refused was taken");
    // A device the model does not name is listed, not silently dropped.
    t.app.toc.heard("gate-from-elsewhere", now);
    assert!(t.app.toc_wall().unmodelled.contains_key("gate-from-elsewhere"));
}

pub async fn silences_and_maintenance_mute_what_they_match(t: TestApp) {
    let t = with_toc(t);
    let op = operator(&t).await;
    run_for(&t, 12, &[]).await;
    assert!(t.app.toc_silence(&op, &["venue=v1".into()], 0, "works").await.is_err(), "a window of minutes");
    assert!(t.app.toc_silence(&op, &["venue=v1".into()], 60, " ").await.is_err(), "a reason");
    assert!(t.app.toc_silence(&op, &["venue".into()], 60, "bad").await.is_err(), "a matcher is name, operator, value");
    assert!(t.app.toc_silence(&op, &["venue=~.*".into()], 60, "all").await.is_err(), "a silence that matches all");
    // Gate 3's maintenance uses the gates' redundancy up, which is an alert of its own: the
    // venue's alerts are silenced while gate 2 is replaced.
    let s = t.app.toc_silence(&op, &["venue=v1".into()], 60, "gate 2 is being replaced").await.unwrap();
    t.app.toc_maintenance("v1-gate-3", 60).await.unwrap();
    assert!(t.app.toc_maintenance("ghost", 60).await.is_err());
    // Another node (a second app on the same store) applies both from the store.
    let other = App::new(t.app.store.clone(), t.payments.clone(), t.clock.clone(), config(toc_config()));
    assert_eq!(other.refresh_windows().await.unwrap(), 2);
    assert_eq!(other.toc_wall().silences, vec![s.clone()], "the same silence, with its maker's id");
    run_for(&t, 50, &["v1-gate-2", "v1-gate-3"]).await;
    assert_eq!(state(&t, "v1-gate-2"), State::Down, "a silence mutes the alert, not the state");
    assert_eq!(state(&t, "v1-gate-3"), State::Maintenance);
    let wall = t.app.toc_wall();
    assert!(wall.incidents.is_empty(), "nothing raised: {:?}", wall.incidents);
    assert_eq!(wall.silences.len(), 1);
    // The silence ends: the group's next flush (its interval, 60 s) notifies, and files the
    // incident.
    t.app.toc_expire_silence(s.id).await.unwrap();
    assert!(t.app.toc_expire_silence(999).await.is_err());
    other.refresh_windows().await.unwrap();
    assert!(other.toc_wall().silences.is_empty(), "ended on the other node too");
    t.app.toc_maintenance("v1-gate-3", 0).await.unwrap();
    t.app.toc_maintenance("v1-gate-3", 60).await.unwrap();
    run_for(&t, 65, &["v1-gate-2", "v1-gate-3"]).await;
    let wall = t.app.toc_wall();
    assert_eq!(wall.incidents.len(), 1, "one incident for the venue: {:?}", wall.incidents);
    assert!(wall.incidents[0].alerts.values().any(|a| a.contains("v1-gate-2")), "{:?}", wall.incidents[0]);
}

pub async fn the_desks_and_the_queue_follow_their_modes(t: TestApp) {
    let op = operator(&t).await;
    // A desk this node knows, online; accreditation goes down: every desk to its list.
    t.app.set_desk_mode(&op, "PDV1", false).await.unwrap();
    t.app.toc_switch(&op, Mode::DesksOfflineLists, true, "accreditation's database is down", None).await.unwrap();
    let desks = t.app.accreditation_figures(&op).await.unwrap().desks;
    let d = desks.iter().find(|d| d.desk == "PDV1").unwrap();
    assert!(d.offline_mode, "switched with the mode: {d:?}");
    assert_eq!(d.switched_by.as_deref(), Some("ops@example.org"), "audited as the desk's own switch");
    // A desk first heard while the mode is on starts on its list.
    t.app.record_hand_overs(&op, "PDV2", &[]).await.unwrap();
    let desks = t.app.accreditation_figures(&op).await.unwrap().desks;
    assert!(desks.iter().find(|d| d.desk == "PDV2").unwrap().offline_mode);
    // Another node (a second app on the same store) hears each desk's switch from the store,
    // and a later switch made there wins here.
    let other = App::new(t.app.store.clone(), t.payments.clone(), t.clock.clone(), config(TocConfig::default()));
    assert_eq!(other.refresh_desk_modes().await.unwrap(), 1, "PDV1's switch; PDV2 only followed the mode");
    assert!(other.desk_offline_mode("PDV1"));
    t.clock.advance(1);
    other.set_desk_mode(&op, "PDV1", false).await.unwrap();
    t.app.refresh_desk_modes().await.unwrap();
    assert!(!t.app.desk_offline_mode("PDV1"), "back online, switched on the other node");

    // Queue-only: the waiting room stands, nobody goes on to checkout.
    let f = fan(&t, 1).await;
    drawn(&t, &[&f]).await;
    let settings = tessera_app::airlock::RoomSettings::new(t.app.now(), 10.0);
    t.app.configure_waiting_room("P1", &settings).await.unwrap();
    t.app.refresh_airlock().await.unwrap();
    let before = t.app.check_admission(&f, "P1", None).unwrap_err();
    assert!(matches!(before, AppError::Airlock { .. }), "without a pass: the room's own refusal: {before:?}");
    t.app.toc_switch(&op, Mode::ShopQueueOnly, true, "payments time out", None).await.unwrap();
    let e = t.app.check_admission(&f, "P1", Some("any pass")).unwrap_err();
    assert!(matches!(e, AppError::Contingency { mode: "shop_queue_only", .. }), "{e:?}");
    assert_eq!(t.app.public_status().notices.len(), 2, "the public sees both modes");
}

pub async fn lookalikes_open_takedowns_that_follow_their_workflow(t: TestApp) {
    let mut cfg = config(TocConfig::default());
    cfg.official_domains = vec!["paris2024.org".into()];
    let app = App::new(t.app.store.clone(), t.payments.clone(), t.clock.clone(), cfg);
    let t = TestApp { app, ..t };
    let op = operator(&t).await;
    let feed = [
        r#"{"message_type":"certificate_update","data":{"leaf_cert":{"all_domains":["bakery12.com","paris2024-tickets-resale.shop"]},"source":{"name":"Argon"}}}"#,
        r#"{"message_type":"heartbeat"}"#,
        "{not json",
        "paris2024.org",
        "www.paris2024.org",
        "garden77.net",
        "pariss2024.org",
    ]
    .join("\n");
    let r = t.app.check_domain_names(&feed).await.unwrap();
    assert_eq!(r.malformed_lines, 1, "{r:?}");
    assert_eq!(r.new.len(), 2, "the resale shop and the doubled letter, not the official names: {r:?}");
    let again = t.app.check_domain_names("pariss2024.org").await.unwrap();
    assert!(again.new.is_empty() && again.hits == 1, "seen once, one case: {again:?}");
    let listed = t.app.takedowns(None, 10);
    assert_eq!(listed.len(), 2);
    let resale = listed.iter().find(|x| x.domain.contains("resale")).unwrap();
    assert_eq!(resale.source, "certstream: Argon");
    use tessera_app::soc::takedowns::TakedownState as S;
    let d = resale.domain.clone();
    assert!(t.app.move_takedown(&op, &d, S::TakenDown, "").await.is_err(), "not before the notice");
    t.app.move_takedown(&op, &d, S::Confirmed, "a copy of the shop selling fake tickets").await.unwrap();
    t.app.move_takedown(&op, &d, S::NoticeSent, "notice to the registrar, ref 42").await.unwrap();
    let done = t.app.move_takedown(&op, &d, S::TakenDown, "gone").await.unwrap();
    assert_eq!(done.state, S::TakenDown);
    assert_eq!(done.trail.len(), 4, "found, confirmed, notice sent, taken down: {:?}", done.trail);
    assert!(t.app.move_takedown(&op, &d, S::Dismissed, "").await.is_err(), "over");
    assert!(t.app.move_takedown(&op, "nope.example", S::Confirmed, "").await.is_err());
    assert_eq!(t.app.takedowns(Some(S::Found), 10).len(), 1);
    // The cases are in the store: a node started again (or another node) reads them back,
    // each with its whole trail, and a later move made there wins here.
    let mut cfg = config(TocConfig::default());
    cfg.official_domains = vec!["paris2024.org".into()];
    let other = App::new(t.app.store.clone(), t.payments.clone(), t.clock.clone(), cfg);
    assert!(other.takedowns(None, 10).is_empty(), "nothing read yet");
    assert_eq!(other.refresh_takedowns().await.unwrap(), 2);
    let back = other.takedowns(None, 10);
    assert_eq!(back.len(), 2);
    let done_there = back.iter().find(|x| x.domain == d).unwrap();
    assert_eq!((done_there.state, done_there.trail.len()), (S::TakenDown, 4));
    let doubled = back.iter().find(|x| x.state == S::Found).unwrap().domain.clone();
    other.move_takedown(&op, &doubled, S::Dismissed, "a fan site").await.unwrap();
    t.app.refresh_takedowns().await.unwrap();
    assert_eq!(t.app.takedowns(Some(S::Dismissed), 10).len(), 1, "the move made on the other node");
}

/// `t`'s app on a store whose faults the test switches.
fn with_faults(t: TestApp) -> (TestApp, Arc<std::sync::atomic::AtomicU8>) {
    use super::faults::store::{FaultyStore, NONE};
    let fault = Arc::new(std::sync::atomic::AtomicU8::new(NONE));
    let store: Arc<dyn Store> = Arc::new(FaultyStore::new(t.app.store.clone(), fault.clone()));
    let app = App::new(store, t.payments.clone(), t.clock.clone(), config(TocConfig::default()));
    (TestApp { app, ..t }, fault)
}

pub async fn the_paused_waiting_room_keeps_every_place_with_the_store_down(t: TestApp) {
    use super::faults::store::{DOWN, NONE};
    use std::sync::atomic::Ordering::SeqCst;
    let (t, fault) = with_faults(t);
    let op = operator(&t).await;
    let (a, b) = (fan(&t, 1).await, fan(&t, 2).await);
    drawn(&t, &[&a, &b]).await;
    let mut settings = tessera_app::airlock::RoomSettings::new(t.app.now(), 1.0);
    settings.pow = tessera_app::airlock::PowMode::Off;
    t.app.configure_waiting_room("P1", &settings).await.unwrap();
    t.app.refresh_airlock().await.unwrap();
    let ja = t.app.join_queue(&a, "P1", None, None).await.unwrap();
    let jb = t.app.join_queue(&b, "P1", None, None).await.unwrap();
    let ahead = |who: &Principal, ticket: &str| {
        let v = t.app.queue_status(who, "P1", ticket).unwrap();
        (v.state, v.ahead)
    };
    assert_eq!((ahead(&a, &ja.ticket), ahead(&b, &jb.ticket)), (("waiting", Some(0)), ("waiting", Some(1))));

    // The payment provider fails; the operator pauses the room; then the database goes too.
    t.app.toc_switch(&op, Mode::WaitingRoomPaused, true, "payment provider down", None).await.unwrap();
    fault.store(DOWN, SeqCst);
    for _ in 0..30 {
        t.clock.advance(1);
        assert!(!t.app.step_waiting_rooms().await, "a paused room does not move");
    }
    assert_eq!(ahead(&a, &ja.ticket), ("waiting", Some(0)), "thirty seconds on, nobody admitted");
    assert_eq!(ahead(&b, &jb.ticket), ("waiting", Some(1)), "and nobody lost their place");
    let notices = t.app.public_status().notices;
    let told = tessera_app::toc::switches_notice(Mode::WaitingRoomPaused);
    assert!(notices.iter().any(|(m, _)| m == told), "the public is told: {notices:?}");

    // Everything back: the room resumes where it stood, in order.
    fault.store(NONE, SeqCst);
    t.app.toc_switch(&op, Mode::WaitingRoomPaused, false, "payments back", None).await.unwrap();
    t.clock.advance(1);
    assert!(t.app.step_waiting_rooms().await);
    assert_eq!(ahead(&a, &ja.ticket).0, "your_turn");
    assert_eq!(ahead(&b, &jb.ticket), ("waiting", Some(0)));
}

pub async fn results_are_served_from_the_last_state_with_the_store_down(t: TestApp) {
    use super::faults::store::{DOWN, NONE};
    use std::sync::atomic::Ordering::SeqCst;
    use tessera_results::access::{Entitlement, Filter};
    let (t, fault) = with_faults(t);
    let op = operator(&t).await;
    let (key, _) = t.app.issue_results_source("SWMLDF1", &["SWM".to_string()]).unwrap();
    let source = t.app.results_source(&key).unwrap();
    let doc = |version: u32, winner: &str| {
        format!(
            r#"{{"competition":"OG2024","document_code":"SWMW100MFR--------FNL-000100--","document_type":"DT_RESULT",
            "version":{version},"result_status":"OFFICIAL","feed_flag":"P","date":"2024-07-31","time":"203000000",
            "logical_date":"2024-07-31","source":"SWMLDF1","body":{{"units":1}},
            "ranking":[{{"rank":1,"organisation":"{winner}","name":"Winner"}}]}}"#
        )
    };
    let p = t.app.publish_result(&source, false, doc(1, "AUS").as_bytes()).await.unwrap();
    assert_eq!((p.outcome, p.seq), ("created", 1));
    let mut sub = t.app.results_subscribe(Entitlement::Public, &Filter::default(), None).unwrap();

    // The database goes down: a correction cannot be recorded, so it is refused as a fault
    // (the source retries) and the feed stays as it was.
    fault.store(DOWN, SeqCst);
    let e = t.app.publish_result(&source, false, doc(2, "USA").as_bytes()).await.unwrap_err();
    assert!(matches!(e, AppError::Store(_)), "a fault, not a refusal: {e:?}");
    t.app.toc_switch(&op, Mode::ResultsFromLastState, true, "results database down", None).await.unwrap();
    // Readers and subscribers keep the last state, from memory.
    let (at, docs) = t.app.results_documents(Entitlement::Public, &Filter::default());
    assert_eq!((at.seq, docs.len(), docs[0].header.version), (1, 1, 1));
    let (_, medals) = t.app.results_medals();
    assert_eq!(medals.rows[0].organisation, "AUS");
    assert!(sub.live.try_recv().is_err(), "nothing half-sent to subscribers");
    let notices = t.app.public_status().notices;
    let told = tessera_app::toc::switches_notice(Mode::ResultsFromLastState);
    assert!(notices.iter().any(|(m, _)| m == told), "{notices:?}");

    // Back: the source's retry goes through, at the next position, live to the subscriber.
    fault.store(NONE, SeqCst);
    let p = t.app.publish_result(&source, false, doc(2, "USA").as_bytes()).await.unwrap();
    assert_eq!((p.outcome, p.seq), ("replaced", 2));
    let live = sub.live.try_recv().expect("the correction, live");
    assert_eq!(live.change.seq, 2);
    assert_eq!(t.app.results_medals().1.rows[0].organisation, "USA", "the medal table follows the correction");
}

/// A certstream server on a loopback port: each connection gets `batches`' next batch of
/// messages and is then closed, as the public stream drops its clients.
async fn certstream_server(batches: Vec<Vec<String>>) -> String {
    use futures_util::SinkExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        for batch in batches {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            for m in batch {
                ws.send(tokio_tungstenite::tungstenite::Message::text(m)).await.unwrap();
            }
            let _ = ws.close(None).await;
        }
    });
    url
}

pub async fn a_followed_certificate_stream_opens_takedowns_across_its_drops(t: TestApp) {
    use tessera_app::soc::certstream::Backoff;
    let mut cfg = config(TocConfig::default());
    cfg.official_domains = vec!["paris2024.org".into()];
    let app = App::new(t.app.store.clone(), t.payments.clone(), t.clock.clone(), cfg);
    let update = |names: &[&str]| {
        serde_json::json!({"message_type": "certificate_update",
            "data": {"leaf_cert": {"all_domains": names}, "source": {"name": "Argon"}}})
        .to_string()
    };
    let first = vec![
        r#"{"message_type":"heartbeat"}"#.to_string(),
        update(&["bakery12.com", "paris2024-tickets-resale.shop"]),
        "{not json".to_string(),
    ];
    // Oversized: the follower refuses it and reconnects, and the stream goes on.
    let huge = update(&[&"a".repeat(300 * 1024)]);
    let third = vec![update(&["paris2O24.org", "garden77.net"])];
    let url = certstream_server(vec![first, vec![huge], third]).await;
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let backoff = Backoff { first: std::time::Duration::from_millis(20), max: std::time::Duration::from_millis(100) };
    // The node's own follower: messages queued for the check, each new case written to the
    // store.
    let follower = {
        let app = app.clone();
        tokio::spawn(async move { app.follow_certstream(url, backoff, stop).await })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.takedowns(None, 10).len() < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop_tx.send(true).unwrap();
    let seen = follower.await.unwrap();
    let mut found: Vec<String> = app.takedowns(None, 10).into_iter().map(|t| t.domain).collect();
    found.sort();
    assert_eq!(found, ["paris2024-tickets-resale.shop", "paris2o24.org"], "{seen:?}");
    assert!(seen.connections >= 3, "reconnected after each drop: {seen:?}");
    assert_eq!(seen.messages, 4, "three messages, then one; the oversized one refused: {seen:?}");
}

pub async fn a_restarted_node_takes_its_incidents_back(t: TestApp) {
    let t = with_toc(t);
    let op = operator(&t).await;
    let inc = t.app.toc_open_incident(&op, "Scoreboard dark at the aquatics centre", Severity::Sev2).await.unwrap();
    t.app.toc_acknowledge(&op, inc.id).await.unwrap();
    // The node restarts: a new app on the same store, under the same node name.
    let again = App::new(t.app.store.clone(), t.payments.clone(), t.clock.clone(), config(toc_config()));
    assert_eq!(again.restore_incidents().await.unwrap(), 1);
    let wall = again.toc_wall();
    let back = wall.incidents.iter().find(|i| i.id == inc.id).expect("the incident is back");
    assert_eq!((back.title.as_str(), back.acknowledged_ms.is_some()), ("Scoreboard dark at the aquatics centre", true));
    assert!(back.timeline.len() >= 2, "its timeline too: {back:?}");
    let resolved = again.toc_resolve(&op, inc.id).await.unwrap();
    assert!(!resolved.is_open(), "and it is worked on where it stopped");
    let next = again.toc_open_incident(&op, "Another", Severity::Sev4).await.unwrap();
    assert!(next.id > inc.id, "new incidents are numbered after it");
    // Another node's incidents stay that node's.
    let mut other = toc_config();
    other.node = "store".into();
    let elsewhere = App::new(t.app.store.clone(), t.payments.clone(), t.clock.clone(), config(other));
    assert_eq!(elsewhere.restore_incidents().await.unwrap(), 0);
}
