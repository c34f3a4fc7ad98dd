//! What the process tests share.

// Each test binary uses a part of it.
#![allow(dead_code)]

pub mod nodes;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

/// A `tessera serve` process on `dir`, listening on a free port, with `more` arguments; its
/// base URL once it printed it. Killed when dropped.
pub async fn serve(dir: &Path, more: &[&str]) -> (tokio::process::Child, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_tessera"));
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir)
        .args(more)
        // A pipe the test may write to (`--soc-follow -`), never the test runner's own input.
        .stdin(std::process::Stdio::piped());
    started(cmd, "tessera serve").await
}

/// Starts `cmd` (a `tessera serve`) and waits for it to print its address: the process
/// (killed when dropped) and its base URL. Its output is read on, so that it never blocks.
pub async fn started(mut cmd: tokio::process::Command, name: &str) -> (tokio::process::Child, String) {
    let mut child =
        cmd.env("TESSERA_LOG", "warn").stdout(std::process::Stdio::piped()).kill_on_drop(true).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(l) = lines.next_line().await.unwrap() {
            if let Some(rest) = l.trim().strip_prefix("Tessera is running on ") {
                return rest.split_whitespace().next().unwrap().to_string();
            }
        }
        panic!("{name} exited before printing its address");
    })
    .await
    .unwrap_or_else(|_| panic!("{name} starts within 60 s"));
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, base)
}

/// An ODF final of the men's 100 m from source `ATHOLY1`, version `version`, won by `gold`.
pub fn final_100m(version: u32, gold: &str) -> String {
    serde_json::json!({"competition": "OG2024", "document_code": "ATHM100M----------FNL-000100--",
        "document_type": "DT_RESULT", "version": version, "result_status": "OFFICIAL", "feed_flag": "P",
        "date": "2024-08-04", "time": "215512000", "logical_date": "2024-08-04", "source": "ATHOLY1", "body": {},
        "ranking": [{"rank": 1, "organisation": gold}]})
    .to_string()
}

/// Publishes a JSON result document to the node at `base` with the source key `key`; its
/// answer, which must be a 200.
pub async fn publish_result(http: &reqwest::Client, base: &str, key: &str, body: String) -> serde_json::Value {
    let r = http
        .post(format!("{base}/api/v1/results/documents"))
        .header("X-API-KEY", key)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// A key for the venue source `ATHOLY1` to publish athletics results, issued by the operator
/// signed in as `ops` on the node at `base`.
pub async fn athletics_source_key(http: &reqwest::Client, base: &str, ops: &str) -> String {
    let key: serde_json::Value = http
        .post(format!("{base}/api/v1/admin/results/sources"))
        .bearer_auth(ops)
        .json(&serde_json::json!({"id": "ATHOLY1", "disciplines": ["ATH"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    key["token"].as_str().expect("a source key").to_string()
}

/// The use cases on `store` under the secret `key`, as the nodes the test starts run them
/// (password hashing made cheap: the tests sign in many fans).
pub fn use_cases(store: Arc<dyn tessera_store::Store>, key: [u8; 32]) -> tessera_app::App {
    let mut config = tessera_app::AppConfig::new(key, "http://127.0.0.1");
    config.password_cost = tessera_app::PasswordCost { memory_kib: 1024, iterations: 1 };
    let payments = Arc::new(tessera_payments::SandboxProvider::new(Default::default()));
    tessera_app::App::new(store, payments, Arc::new(tessera_app::SystemClock), config)
}

/// Creates the sales phase `phase` (`title`) with `fans` fans (`{prefix}{i}@example.org`) in
/// its lottery, drawn with their slots open since a minute ago, and an operator: the fans' and
/// the operator's sign-in tokens.
pub async fn drawn_phase(
    app: &tessera_app::App,
    phase: &str,
    title: &str,
    fans: usize,
    prefix: &str,
) -> (Vec<String>, String) {
    app.create_phase(phase, title, &Default::default()).await.unwrap();
    app.open_registration(phase).await.unwrap();
    let mut tokens = Vec::new();
    for i in 0..fans {
        let a = app
            .create_account(
                &format!("{prefix}{i}@example.org"),
                "correct horse battery",
                "Fan",
                tessera_store::Role::Fan,
            )
            .await
            .unwrap();
        app.store.mark_email_verified(a.id).await.unwrap();
        let who = tessera_app::auth::Principal { email_verified: true, ..tessera_app::auth::Principal::of_account(&a) };
        app.enter_lottery(&who, phase).await.unwrap();
        tokens.push(app.issue_session(tessera_store::Account { email_verified: true, ..a }).await.unwrap().token);
    }
    app.close_registration(phase).await.unwrap();
    app.draw(phase, Some(app.now().plus_secs(-60))).await.unwrap();
    let ops = app
        .create_account("ops@example.org", "operator passphrase", "Ops", tessera_store::Role::Operator)
        .await
        .unwrap();
    (tokens, app.issue_session(ops).await.unwrap().token)
}
