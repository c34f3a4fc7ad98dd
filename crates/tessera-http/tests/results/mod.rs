//! Results over HTTP: the ODF rules as a venue source meets them, entitlements, and a
//! subscriber that reconnects with its position receiving every change exactly once, in order.

mod socket;

use super::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

/// An ODF XML result for the men's 100 m, version `v`, with a podium, or withdrawn.
fn odf(v: u32, status: &str, podium: &[(u32, &str)], withdrawn: bool, source: &str) -> String {
    let results: String = podium
        .iter()
        .map(|(r, org)| format!(r#"<Result Rank="{r}"><Participant Code="{r}" Organisation="{org}"/></Result>"#))
        .collect();
    let competition = if withdrawn { String::new() } else { format!("<Competition>{results}</Competition>") };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><OdfBody CompetitionCode="OG2024" DocumentCode="ATHM100M----------FNL-000100--" DocumentType="DT_RESULT" Version="{v}" ResultStatus="{status}" FeedFlag="P" Date="2024-08-04" Time="215512000" LogicalDate="2024-08-04" Source="{source}">{competition}</OdfBody>"#
    )
}

async fn source_key(t: &TestApp, ops: &str, id: &str, disciplines: &[&str]) -> String {
    let (s, v) = t
        .call("POST", "/api/v1/admin/results/sources", Some(ops), Some(json!({"id": id, "disciplines": disciplines})))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["token"].as_str().unwrap().to_string()
}

async fn publish(t: &TestApp, key: &str, xml: String) -> (StatusCode, Value) {
    let r = t
        .http
        .post(format!("{}/api/v1/results/documents", t.base))
        .header("X-API-KEY", key)
        .header("Content-Type", "application/xml")
        .body(xml)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_source_meets_the_odf_rules_and_its_rights() {
    let t = TestApp::start().await;
    let ops = t.operator().await;
    let ath = source_key(&t, &ops, "ATHOLY1", &["ATH"]).await;
    let podium = [(1, "USA"), (2, "JAM"), (3, "USA")];
    let (s, v) = publish(&t, &ath, odf(1, "UNOFFICIAL", &podium, false, "ATHOLY1")).await;
    assert_eq!((s, v["outcome"].as_str(), v["seq"].as_u64()), (StatusCode::OK, Some("created"), Some(1)), "{v}");
    let epoch = v["epoch"].as_u64().unwrap();
    let (s, v) = publish(&t, &ath, odf(1, "UNOFFICIAL", &podium, false, "ATHOLY1")).await;
    assert_eq!((s, v["outcome"].as_str(), v["seq"].as_u64()), (StatusCode::OK, Some("duplicate"), Some(1)));
    let (s, v) = publish(&t, &ath, odf(3, "OFFICIAL", &podium, false, "ATHOLY1")).await;
    assert_eq!((s, v["outcome"].as_str(), v["seq"].as_u64()), (StatusCode::OK, Some("replaced"), Some(2)));
    let (_, medals) = t.call("GET", "/api/v1/results/medals", None, None).await;
    assert_eq!(medals["rows"][0]["organisation"], "USA", "{medals}");
    assert_eq!((medals["rows"][0]["gold"].as_u64(), medals["rows"][0]["bronze"].as_u64()), (Some(1), Some(1)));
    let (s, v) = publish(&t, &ath, odf(2, "OFFICIAL", &podium, false, "ATHOLY1")).await;
    assert_eq!(s, StatusCode::CONFLICT, "an older version: {v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("older than the stored version 3"));
    // Bad input: each refused with its reason, nothing stored changes.
    let laughs =
        r#"<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><OdfBody>&b;</OdfBody>"#;
    let (s, v) = publish(&t, &ath, laughs.to_string()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("DTD"), "{v}");
    let (s, _) = publish(&t, &ath, odf(4, "OFFICIAL", &podium, false, "SWMLDF1")).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "another source's code");
    let swimming = odf(1, "LIVE", &podium, false, "ATHOLY1").replace("ATHM100M", "SWMW100M");
    assert_eq!(publish(&t, &ath, swimming).await.0, StatusCode::FORBIDDEN, "another discipline");
    assert_eq!(
        publish(&t, "v1.results-source.X.ATH.9999999999.bad", odf(4, "LIVE", &[], false, "ATHOLY1")).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (_, docs) = t.call("GET", "/api/v1/results/documents", None, None).await;
    assert_eq!((docs["seq"].as_u64(), docs["epoch"].as_u64()), (Some(2), Some(epoch)), "{docs}");
    assert_eq!(docs["documents"][0]["header"]["version"], 3);
    // A withdrawal: the same version without its <Competition>; the medals go with it.
    let (s, v) = publish(&t, &ath, odf(3, "OFFICIAL", &[], true, "ATHOLY1")).await;
    assert_eq!((s, v["outcome"].as_str()), (StatusCode::OK, Some("withdrawn")), "{v}");
    let (_, medals) = t.call("GET", "/api/v1/results/medals", None, None).await;
    assert_eq!(medals["rows"], json!([]));
    let (_, figures) = t.call("GET", "/api/v1/admin/results", Some(&ops), None).await;
    assert_eq!((figures["accepted"].as_u64(), figures["duplicates"].as_u64()), (Some(3), Some(1)), "{figures}");
    assert!(figures["refused"].as_u64().unwrap() >= 4);
    assert_eq!(figures["sources"]["ATHOLY1"]["accepted"], 3);
    assert_eq!(figures["sources"]["ATHOLY1"]["duplicates"], 1);
    assert_eq!(figures["waiting_changes"], 0, "nothing waits with no WebSocket subscriber: {figures}");
    let page = t.http.get(format!("{}/operator/results", t.base)).bearer_auth(&ops).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
}

/// A source's keys revoked (a venue system lost, a key leaked): its keys issued so far are
/// refused with the reason, on this node at once and on another once it reads the store;
/// another source is untouched, and a key issued after the revocation works.
#[tokio::test]
async fn a_revoked_source_key_is_refused_and_a_new_one_works() {
    let t = TestApp::start().await;
    let ops = t.operator().await;
    let ath = source_key(&t, &ops, "ATHOLY1", &["ATH"]).await;
    let swm = source_key(&t, &ops, "SWMLDF1", &["SWM"]).await;
    let podium = [(1, "USA"), (2, "JAM"), (3, "USA")];
    assert_eq!(publish(&t, &ath, odf(1, "LIVE", &podium, false, "ATHOLY1")).await.0, StatusCode::OK);

    let revoke = |id: &str, reason: &str| {
        let body = json!({"reason": reason});
        let path = format!("/api/v1/admin/results/sources/{id}/revoke");
        let (t, ops) = (&t, &ops);
        async move { t.call("POST", &path, Some(ops), Some(body)).await }
    };
    let (s, v) = revoke("ATHOLY1", " ").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a reason is needed: {v}");
    let (s, v) = revoke("athletics", "lost").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "not a source code: {v}");
    assert_eq!(publish(&t, &ath, odf(2, "LIVE", &podium, false, "ATHOLY1")).await.0, StatusCode::OK, "nothing revoked");
    let (s, v) = revoke("ATHOLY1", "the venue's results laptop was stolen").await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");

    let (s, v) = publish(&t, &ath, odf(3, "LIVE", &podium, false, "ATHOLY1")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("revoked"), "{v}");
    let swimming = odf(1, "LIVE", &podium, false, "SWMLDF1").replace("ATHM100M", "SWMW100M");
    assert_eq!(publish(&t, &swm, swimming).await.0, StatusCode::OK, "another source keeps publishing");
    // Another node on the same store refuses the key once it has read the revocations.
    let mut config = tessera_app::AppConfig::new([5; 32], "http://shop.test");
    config.password_cost = tessera_app::PasswordCost { memory_kib: 1024, iterations: 1 };
    let other = tessera_app::App::new(t.app.store.clone(), t.payments.clone(), t.clock.clone(), config);
    assert!(other.results_source(&ath).is_ok(), "not read yet");
    other.refresh_airlock().await.unwrap();
    assert!(matches!(other.results_source(&ath), Err(tessera_app::AppError::BadToken("revoked"))));

    // A new key, issued after: the venue publishes again; the version goes on from the last.
    t.clock.advance(1);
    let again = source_key(&t, &ops, "ATHOLY1", &["ATH"]).await;
    let (s, v) = publish(&t, &again, odf(3, "OFFICIAL", &podium, false, "ATHOLY1")).await;
    assert_eq!((s, v["outcome"].as_str()), (StatusCode::OK, Some("replaced")), "{v}");
    assert!(other.results_source(&again).is_ok());
}

/// Reads server-sent events from `r` until `n` have come (comments and keep-alives skipped):
/// each as (event, id, data).
async fn read_events(r: &mut reqwest::Response, buf: &mut String, n: usize) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            while let Some(end) = buf.find("\n\n") {
                let block: String = buf.drain(..end + 2).collect();
                let (mut event, mut id, mut data) = (String::new(), String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if !event.is_empty() {
                    out.push((event, id, data));
                    if out.len() == n {
                        return;
                    }
                }
            }
            let chunk = r.chunk().await.unwrap().expect("the stream stays open");
            buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("only {} of {n} events: {out:?}", out.len()));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_reconnects_gets_every_change_once_and_in_order() {
    let t = TestApp::start().await;
    let ops = t.operator().await;
    let ath = source_key(&t, &ops, "ATHOLY1", &["ATH"]).await;
    publish(&t, &ath, odf(1, "LIVE", &[], false, "ATHOLY1")).await;
    let stream = |since: Option<String>| {
        let mut url = format!("{}/api/v1/results/stream?sports=ATH", t.base);
        if let Some(s) = since {
            url.push_str(&format!("&since={s}"));
        }
        t.http.get(url).send()
    };
    // From nothing: the current state, then the position.
    let mut r = stream(None).await.unwrap();
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let mut buf = String::new();
    let first = read_events(&mut r, &mut buf, 3).await;
    assert_eq!(first.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(), ["reset", "change", "position"]);
    for v in 2..=4 {
        publish(&t, &ath, odf(v, "LIVE", &[], false, "ATHOLY1")).await;
    }
    let live = read_events(&mut r, &mut buf, 3).await;
    let versions = |evs: &[(String, String, String)]| -> Vec<u64> {
        evs.iter()
            .map(|e| serde_json::from_str::<Value>(&e.2).unwrap()["header"]["version"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(versions(&live), [2, 3, 4]);
    let last_id = live[2].1.clone();
    drop(r);
    // Missed while away, then live again: each once, in order.
    for v in 5..=7 {
        publish(&t, &ath, odf(v, "LIVE", &[], false, "ATHOLY1")).await;
    }
    let mut r = stream(Some(last_id.clone())).await.unwrap();
    let mut buf = String::new();
    let missed = read_events(&mut r, &mut buf, 3).await;
    assert_eq!(versions(&missed), [5, 6, 7], "{missed:?}");
    publish(&t, &ath, odf(8, "LIVE", &[], false, "ATHOLY1")).await;
    let next = read_events(&mut r, &mut buf, 1).await;
    assert_eq!(versions(&next), [8]);
    let ids: Vec<u64> = missed.iter().chain(&next).map(|e| e.1.split_once(':').unwrap().1.parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "consecutive positions: {ids:?}");
    // A position from another epoch: told so, and the current state.
    let epoch: u64 = last_id.split_once(':').unwrap().0.parse().unwrap();
    let mut r = stream(Some(format!("{}:3", epoch + 1))).await.unwrap();
    let mut buf = String::new();
    let reset = read_events(&mut r, &mut buf, 1).await;
    assert_eq!(reset[0].0, "reset");
    assert!(reset[0].2.contains("another epoch"), "{reset:?}");
    // A position in the future, or malformed: refused.
    let r = stream(Some(format!("{epoch}:999"))).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = stream(Some("yesterday".into())).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entitlements_decide_what_a_subscriber_receives() {
    let t = TestApp::start().await;
    let ops = t.operator().await;
    let ath = source_key(&t, &ops, "ATHOLY1", &["ATH"]).await;
    let (_, v) = t
        .call(
            "POST",
            "/api/v1/admin/results/subscribers",
            Some(&ops),
            Some(json!({"name": "obs", "entitlement": "broadcaster"})),
        )
        .await;
    let broadcaster = v["token"].as_str().unwrap().to_string();
    let live_data = odf(1, "LIVE", &[], false, "ATHOLY1").replace("DT_RESULT", "DT_CURRENT");
    publish(&t, &ath, live_data).await;
    publish(&t, &ath, odf(1, "LIVE", &[], false, "ATHOLY1")).await;
    let (_, public) = t.call("GET", "/api/v1/results/documents", None, None).await;
    let types = |v: &Value| -> Vec<String> {
        v["documents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["header"]["document_type"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(types(&public), ["DT_RESULT"], "sub-second live data is the broadcasters'");
    let (_, theirs) = t.call("GET", &format!("/api/v1/results/documents?token={broadcaster}"), None, None).await;
    assert_eq!(types(&theirs), ["DT_CURRENT", "DT_RESULT"]);
    // The token refreshes itself; a forged one is refused.
    let (s, fresh) = t.call("POST", "/api/v1/results/token/refresh", None, Some(json!({"token": broadcaster}))).await;
    assert_eq!(s, StatusCode::OK, "{fresh}");
    let forged = broadcaster.replace("broadcaster", "internal");
    let (s, _) = t.call("GET", &format!("/api/v1/results/documents?token={forged}"), None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

/// A subscriber that reads nothing is overtaken and cut off; one that reads gets everything:
/// the slow one never holds the fast one or the source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_is_cut_off_without_slowing_a_fast_one() {
    let t = TestApp::start().await;
    let ops = t.operator().await;
    let key = source_key(&t, &ops, "ATHOLY1", &["ATH"]).await;
    let source = t.app.results_source(&key).unwrap();
    let everything = tessera_results::Filter::default();
    let mut slow = t.app.results_subscribe(tessera_results::Entitlement::Public, &everything, None).unwrap();
    let mut fast = t.app.results_subscribe(tessera_results::Entitlement::Public, &everything, None).unwrap();
    let n = tessera_app::results::LIVE_BUFFER as u32 + 500;
    let reader = tokio::spawn(async move {
        let mut seqs = Vec::new();
        while seqs.len() < n as usize {
            match fast.live.recv().await {
                Ok(c) => seqs.push(c.change.seq),
                Err(e) => panic!("the fast reader lost changes: {e}"),
            }
        }
        seqs
    });
    for v in 1..=n {
        t.app.publish_result(&source, true, odf(v, "LIVE", &[], false, "ATHOLY1").as_bytes()).await.unwrap();
        if v % 64 == 0 {
            tokio::task::yield_now().await;
        }
    }
    let seqs = tokio::time::timeout(Duration::from_secs(20), reader).await.unwrap().unwrap();
    assert_eq!(seqs, (1..=n as u64).collect::<Vec<_>>());
    let lagged = slow.live.recv().await;
    assert!(matches!(lagged, Err(tokio::sync::broadcast::error::RecvError::Lagged(_))), "{lagged:?}");
}

/// The same feed over a WebSocket: the state, then each change as a JSON message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_over_a_websocket() {
    use socket::{connect, next};
    let t = TestApp::start().await;
    let ops = t.operator().await;
    let ath = source_key(&t, &ops, "ATHOLY1", &["ATH"]).await;
    publish(&t, &ath, odf(1, "LIVE", &[], false, "ATHOLY1")).await;
    let mut ws = connect(&t, "types=DT_RESULT").await;
    let mut events = Vec::new();
    for _ in 0..4 {
        events.push(next(&mut ws).await["event"].as_str().unwrap().to_string());
    }
    assert_eq!(events, ["retry", "reset", "change", "position"]);
    publish(&t, &ath, odf(2, "OFFICIAL", &[(1, "USA")], false, "ATHOLY1")).await;
    let m = next(&mut ws).await;
    assert_eq!((m["event"].as_str(), m["data"]["header"]["version"].as_u64()), (Some("change"), Some(2)), "{m}");
    assert!(m["id"].as_str().unwrap().ends_with(":2"));
}
