//! The results feed across a restart of the node, as a subscriber meets it: it reconnects with
//! its last position to a node that was stopped and started again, and is told to reset and
//! given the current state, in the same epoch, nothing lost and no gap.

mod common;

use serde_json::{json, Value};
use std::time::Duration;

fn create_operator(data: &std::path::Path) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["admin", "--data-dir"])
        .arg(data)
        .args(["create-operator", "--email", "ops@example.org"])
        .env("TESSERA_ADMIN_PASSWORD", "operator passphrase")
        .env("TESSERA_LOG", "error")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn a_restarted_node_keeps_its_results_and_tells_a_returning_subscriber_to_reset() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    create_operator(&data);
    let http = reqwest::Client::new();
    let (child, base) = common::serve(&data, &[]).await;
    let login: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": "ops@example.org", "password": "operator passphrase"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ops = login["token"].as_str().unwrap().to_string();
    let key = common::athletics_source_key(&http, &base, &ops).await;
    common::publish_result(&http, &base, &key, common::final_100m(1, "USA")).await;
    let last = common::publish_result(&http, &base, &key, common::final_100m(2, "JAM")).await;
    let (epoch, seq) = (last["epoch"].as_u64().unwrap(), last["seq"].as_u64().unwrap());
    drop(child); // killed
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (_child, base) = common::serve(&data, &[]).await;
    let medals: Value = http.get(format!("{base}/api/v1/results/medals")).send().await.unwrap().json().await.unwrap();
    assert_eq!((medals["epoch"].as_u64(), medals["seq"].as_u64()), (Some(epoch), Some(seq)), "{medals}");
    assert_eq!(medals["rows"][0]["organisation"], "JAM", "the latest version came back: {medals}");
    // The returning subscriber's position is from before the restart: a reset and the state.
    let mut r = http.get(format!("{base}/api/v1/results/stream?since={epoch}:{}", seq - 1)).send().await.unwrap();
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while !text.contains("event: position") {
            text.push_str(&String::from_utf8_lossy(&r.chunk().await.unwrap().unwrap()));
        }
    })
    .await
    .expect("a reset, the state and the position");
    assert!(text.contains("event: reset"), "{text}");
    assert!(text.contains("\"version\":2"), "{text}");
    // The source's resend is a duplicate; its next version numbers on.
    assert_eq!(common::publish_result(&http, &base, &key, common::final_100m(2, "JAM")).await["outcome"], "duplicate");
    let next = common::publish_result(&http, &base, &key, common::final_100m(3, "USA")).await;
    assert_eq!((next["epoch"].as_u64(), next["seq"].as_u64()), (Some(epoch), Some(seq + 1)));
}
