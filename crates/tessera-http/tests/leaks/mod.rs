//! Leaked passwords as a fan, a client and an operator meet them: refused when chosen, the
//! k-anonymous range answered by Tessera itself, and an imported dump's own accounts reset by
//! force with a mail, no leaked password kept in clear.

use super::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tessera_lookalike::leaks::{find_in_range, sha1_of, LeakedSet};

fn range_prefix(password: &str) -> String {
    hex::encode_upper(sha1_of(password.as_bytes()))[..5].to_string()
}

#[tokio::test]
async fn leaked_passwords_are_refused_checked_anonymously_and_their_accounts_reset() {
    let t = TestApp::start().await;
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(tessera_app::soc::soc_loop(t.app.clone(), stop));
    t.app.set_leaked_passwords(LeakedSet::from_hashes([(sha1_of(b"summer holidays 1998"), 42)]));

    // Chosen at registration: refused, naming the field, and nobody is created.
    let body = json!({"email": "new@example.org", "password": "summer holidays 1998", "display_name": "New"});
    let (s, v) = t.call("POST", "/api/v1/accounts", None, Some(body)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v.to_string().contains("breach"), "{v}");
    let email = tessera_domain::Email::parse("new@example.org").unwrap();
    assert!(t.app.store.account_by_email(&email).await.unwrap().is_none());

    // The range query: the leaked suffix among at least 1,000 lines, found locally.
    let r = t
        .http
        .get(format!("{}/api/v1/passwords/range/{}", t.base, range_prefix("summer holidays 1998")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 1000, "padded: {}", lines.len());
    assert_eq!(find_in_range(&lines, &sha1_of(b"summer holidays 1998")), Some(42));
    assert_eq!(find_in_range(&lines, &sha1_of(b"something else entirely")), None);
    // Another prefix: as long an answer, nothing real in it; the same answer every time.
    let other = format!("{}/api/v1/passwords/range/{}", t.base, range_prefix("not leaked at all"));
    let a = t.http.get(&other).send().await.unwrap().text().await.unwrap();
    assert!(a.lines().count() >= 1000, "padded too");
    assert!(a.lines().all(|l| l.ends_with(":0")), "only padding");
    assert_eq!(a, t.http.get(&other).send().await.unwrap().text().await.unwrap());
    for bad in ["ABC", "ZZZZZ", "5BAA61"] {
        let (s, _) = t.call("GET", &format!("/api/v1/passwords/range/{bad}"), None, None).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }

    // A dump with a fan's own email and password: the account is reset by force and told.
    let fan = t.fan(1).await;
    assert_eq!(t.call("GET", "/api/v1/me", Some(&fan), None).await.0, StatusCode::OK);
    let dump = "fan1@example.org:correct horse battery\n\
                nobody@example.org:hunter2hunter2\n\
                fan1@example.org:not their password\n\
                this line has no separator\n\
                CBFDAC6008F9CAB4083784CBD1874F76618D2A97:7\n";
    let (set, report) = t.app.import_leaks(std::io::Cursor::new(dump), None, |_| {}).await.unwrap();
    assert_eq!((report.lines, report.hashes, report.bad_lines), (5, 4, 1), "{report:?}");
    assert_eq!((report.accounts_named, report.accounts_reset), (2, 1), "{report:?}");
    assert!(set.contains_password(b"correct horse battery") && set.contains_password(b"password123"));
    // The finding is on the security console: one case for the account, from its own rule
    // (the passwords refused at registration above are events, not cases).
    let analyst = t.analyst().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let found = loop {
        let (s, list) = t.call("GET", "/api/v1/admin/soc/cases", Some(&analyst), None).await;
        assert_eq!(s, StatusCode::OK, "{list}");
        let found: Vec<Value> = list["cases"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["rules"].as_array().is_some_and(|r| r.iter().any(|r| r == "leaked-password-found")))
            .cloned()
            .collect();
        if !found.is_empty() || std::time::Instant::now() > deadline {
            break found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let (_, soc) = t.call("GET", "/api/v1/admin/soc", Some(&analyst), None).await;
    assert_eq!(found.len(), 1, "{found:?}; the engine: {soc}");
    assert_eq!(found[0]["group_by"], "account", "{found:?}");
    assert_eq!(t.call("GET", "/api/v1/me", Some(&fan), None).await.0, StatusCode::UNAUTHORIZED, "signed out");
    let (s, _) = t
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "fan1@example.org", "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the leaked password no longer opens the account");
    let mail = t.app.store.recent_mail(Some("fan1@example.org"), 1).await.unwrap().remove(0);
    assert!(mail.subject.contains("data breach"), "{}", mail.subject);
    // The link it carries sets a new password, not a leaked one.
    t.app.set_leaked_passwords(set);
    let at = mail.body.find("token=").unwrap() + 6;
    let token = mail.body[at..].split_whitespace().next().unwrap();
    let confirm = |password: &str| json!({"token": token, "password": password});
    let (s, v) =
        t.call("POST", "/api/v1/auth/password-reset/confirm", None, Some(confirm("correct horse battery"))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = t
        .call("POST", "/api/v1/auth/password-reset/confirm", None, Some(confirm("a fresh and unique passphrase")))
        .await;
    assert!(s.is_success(), "{s} {v}");

    // What a node keeps on disk holds hashes only.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(tessera_app::leaks::LEAKED_FILE);
    let (set, _) = t.app.import_leaks(std::io::Cursor::new(dump), None, |_| {}).await.unwrap();
    tessera_app::leaks::write_leaked_file(&path, &set).unwrap();
    let kept = std::fs::read_to_string(&path).unwrap();
    assert!(!kept.contains("correct horse") && !kept.contains("hunter2"), "{kept}");
    let (again, bad) = tessera_app::leaks::read_leaked_file(&path).unwrap();
    assert_eq!((again.len(), bad), (set.len(), 0));
    // Nor anything else the node wrote: the database (and its journal), the mail, the file.
    let mut files = 0;
    for root in [t._dir.path(), dir.path()] {
        let mut stack = vec![root.to_path_buf()];
        while let Some(p) = stack.pop() {
            if p.is_dir() {
                stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let bytes = std::fs::read(&p).unwrap();
            files += 1;
            for clear in ["correct horse battery", "hunter2hunter2", "not their password", "summer holidays 1998"] {
                let found = bytes.windows(clear.len()).any(|w| w == clear.as_bytes());
                assert!(!found, "{clear:?} in clear in {}", p.display());
            }
        }
    }
    assert!(files >= 2, "the database and the kept file were scanned ({files} files)");
}
