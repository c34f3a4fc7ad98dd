//! Volunteers over HTTP: a bad application refused with its faults named and nothing stored,
//! bodies limited, one application per account, a run as a coordinator, the offer accepted
//! once, and an override that breaks a hard constraint refused with the constraint named.

use super::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tessera_store::Role;

fn form() -> Value {
    json!({
        "birth_date": "1990-05-17", "country": "FR", "home_region": "IDF", "gender": "woman",
        "languages": {"fr": "C2", "en": "B2"}, "available_from": "2024-07-18", "available_to": "2024-09-08",
        "preferred_missions": ["M00"], "preferred_venues": ["V00"]
    })
}

#[tokio::test]
async fn apply_run_accept_and_override() {
    let t = TestApp::start().await;
    let a = t.app.create_account("coord@example.org", "volunteers passphrase", "Coordinator", Role::Volunteers).await;
    t.app.store.mark_email_verified(a.unwrap().id).await.unwrap();
    let (s, b) = t
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "coord@example.org", "password": "volunteers passphrase"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let coord = b["token"].as_str().unwrap().to_string();
    let fan = t.fan(1).await;

    // Too young, no accepted language, a contradictory period: every fault named, nothing kept.
    let mut bad = form();
    bad["birth_date"] = json!("2012-01-01");
    bad["languages"] = json!({"de": "C1"});
    let (s, b) = t.call("POST", "/api/v1/volunteers/applications", Some(&fan), Some(bad)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let msg = b["error"]["message"].as_str().unwrap();
    assert!(msg.contains("age: 12") && msg.contains("languages: none of the accepted"), "{msg}");
    let mut unknown = form();
    unknown["nickname"] = json!("x");
    let (s, _) = t.call("POST", "/api/v1/volunteers/applications", Some(&fan), Some(unknown)).await;
    assert!(s.is_client_error(), "{s}");
    let mut huge = form();
    huge["skills"] = json!(vec!["x".repeat(60); 2_000]);
    let (s, _) = t.call("POST", "/api/v1/volunteers/applications", Some(&fan), Some(huge)).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    let (s, b) = t.call("GET", "/api/v1/volunteers/me", Some(&fan), None).await;
    assert_eq!((s, &b["application"]), (StatusCode::OK, &Value::Null), "nothing stored");
    assert_eq!(t.call("GET", "/api/v1/volunteers/console", Some(&fan), None).await.0, StatusCode::FORBIDDEN);

    let (s, b) = t.call("POST", "/api/v1/volunteers/applications", Some(&fan), Some(form())).await;
    assert_eq!((s, b["state"].as_str()), (StatusCode::OK, Some("submitted")), "{b}");
    let id = b["id"].as_i64().unwrap();
    let (s, _) = t.call("POST", "/api/v1/volunteers/applications", Some(&fan), Some(form())).await;
    assert_eq!(s, StatusCode::CONFLICT);

    let (s, run) = t.call("POST", "/api/v1/volunteers/runs", Some(&coord), None).await;
    assert_eq!(s, StatusCode::OK, "{run}");
    assert_eq!(run["summary"]["offers_made"], 1, "{run}");
    let (_, me) = t.call("GET", "/api/v1/volunteers/me", Some(&fan), None).await;
    let offer = me["application"]["offers"][0]["id"].as_i64().unwrap();
    let (s, e) = t.call("GET", &format!("/api/v1/volunteers/applications/{id}/explanation"), Some(&coord), None).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(
        e["proposed"],
        me["application"]["offers"][0]["mission"]
            .as_str()
            .map(|m| format!("{m}@{}", me["application"]["offers"][0]["venue"].as_str().unwrap()))
            .unwrap()
    );

    let answer = |accept: bool| json!({ "accept": accept });
    let path = format!("/api/v1/volunteers/offers/{offer}/answer");
    let (s, b) = t.call("POST", &path, Some(&fan), Some(answer(true))).await;
    assert_eq!((s, b["state"].as_str()), (StatusCode::OK, Some("accepted")), "{b}");
    let (s, b) = t.call("POST", &path, Some(&fan), Some(answer(false))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");

    let force = json!({"application": id, "action": "force", "mission": "M00", "venue": "V00", "reason": "asked for"});
    let (s, b) = t.call("POST", "/api/v1/volunteers/overrides", Some(&coord), Some(force)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("hard constraint"), "{b}");
    let (_, c) = t.call("GET", "/api/v1/volunteers/console", Some(&coord), None).await;
    assert_eq!(c["counts"]["overrides"], 0, "nothing stored");
}
