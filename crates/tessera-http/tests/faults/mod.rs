//! Real faults under the shop: the store's filesystem fills up mid-sale.

use super::*;
use std::io::Write;

/// A temporary directory with a small tmpfs mounted on it, unmounted on drop. Mounting needs
/// root (as the machines and CI here run); elsewhere the test says loudly that it skipped.
struct SmallDisk {
    dir: Option<tempfile::TempDir>,
    path: std::path::PathBuf,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk { dir: Some(dir), path })
    }

    /// Fills what is left with a file, until the filesystem says it is full.
    fn fill(&self) -> std::path::PathBuf {
        let filler = self.path.join("filler");
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 16 * 1024];
        while f.write_all(&chunk).is_ok() {}
        // Whatever fits in less than a chunk too.
        while f.write_all(&[0u8; 512]).is_ok() {}
        let _ = f.sync_all();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.path).status();
        drop(self.dir.take());
    }
}

/// Issue: with the store's filesystem full, buy-now answered `409 invalid_state` (a refusal on
/// the merits, remembered under the key) and a retry after space came back sold the tickets on
/// a voided authorisation. A fault is a 503 with `Retry-After`, nothing is remembered, the
/// readiness check says unready, and the retry with the same key buys and is charged once.
#[tokio::test]
async fn a_full_disk_answers_503_with_retry_after_and_the_retry_buys_and_is_charged() {
    let Some(disk) = SmallDisk::mount("6m") else {
        eprintln!("SKIPPED a_full_disk_answers_503_with_retry_after_and_the_retry_buys_and_is_charged: cannot mount a tmpfs (not root)");
        return;
    };
    let dir = tempfile::TempDir::new_in(&disk.path).unwrap();
    let q = Quota { per_second: 1e6, burst: 100_000 };
    let t = TestApp::start_in(
        dir,
        EdgeLimits { per_address: q, per_network: q, throttled: q, per_gate: q },
        ServeLimits::default(),
    )
    .await;
    let fan = t.fan(1).await;
    // Caps high enough that only the disk can stop this fan.
    let caps = json!({"max_tickets_per_account": 1000, "max_tickets_per_session": 1000});
    let cat = t.sale_with(&[&fan], caps).await;
    let buy = |key: String| {
        t.http
            .post(format!("{}/api/v1/phases/P1/orders", t.base))
            .bearer_auth(&fan)
            .header("Idempotency-Key", key)
            .json(&buy_body(cat))
            .send()
    };
    assert_eq!(buy("before".into()).await.unwrap().status(), StatusCode::CREATED);
    assert_eq!(t.call("GET", "/readyz", None, None).await.0, StatusCode::OK);

    let filler = disk.fill();
    let mut failed_key = None;
    for i in 0..400 {
        let key = format!("full-{i}");
        let r = buy(key.clone()).await.unwrap();
        let status = r.status();
        let retry_after = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
        let body: Value = r.json().await.unwrap();
        match status {
            // What still fitted in the write-ahead log's room was sold and is durable.
            StatusCode::CREATED => continue,
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(body["error"]["code"], "storage_unavailable", "{body}");
                assert!(retry_after.is_some_and(|v| v.parse::<u64>().is_ok()), "503 without Retry-After");
                failed_key = Some(key);
                break;
            }
            other => panic!("a full disk must never read as a refusal: {other} {body}"),
        }
    }
    let failed_key = failed_key.expect("400 purchases on a full filesystem never met the fault");
    let (ready, health) = t.call("GET", "/readyz", None, None).await;
    assert_eq!(ready, StatusCode::SERVICE_UNAVAILABLE, "/readyz must say unready while the store cannot write");
    assert_eq!(
        (health["status"].as_str(), health["checks"]["sqlite:writable"][0]["status"].as_str()),
        (Some("fail"), Some("fail")),
        "{health}"
    );
    // Still full: the same key answers the same fault, never a remembered refusal.
    let again = buy(failed_key.clone()).await.unwrap();
    assert_eq!(again.status(), StatusCode::SERVICE_UNAVAILABLE);

    std::fs::remove_file(filler).unwrap();
    let r = buy(failed_key.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "the retry buys once space is back");
    let (ready, _) = t.call("GET", "/readyz", None, None).await;
    assert_eq!(ready, StatusCode::OK, "ready again once a write went through");
    let order: Value = r.json().await.unwrap();
    let replay: Value = buy(failed_key).await.unwrap().json().await.unwrap();
    assert_eq!(replay["code"], order["code"], "and a second retry replays the same order");

    // Money and tickets agree: every paid order captured once, nothing captured without one.
    let (paid, sold, _) = t.figures().await;
    assert_eq!(t.payments.capture_count() as i64, paid, "one capture per paid order");
    assert_eq!(t.payments.captured_total(), tessera_payments::Cents(sold * 4500), "captured exactly what was sold");
}
