//! `tessera soc` as an analyst uses it: a log replayed through the rules, decisions exported
//! in nginx's form, a broken rule file refused with its line, a malformed line sampled.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

fn tessera(args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .env("TESSERA_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A process that refuses its arguments reads nothing: a broken pipe is its answer, not ours.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A minute of a fan browsing, a flood from one address, a prober, and one broken line.
fn log() -> String {
    let mut s = String::new();
    for k in 0..60 {
        s.push_str(&format!(
            "198.51.100.7 - - [26/Jul/2024:19:30:{k:02} +0200] \"GET /sessions HTTP/1.1\" 200 5120 \"-\" \"Mozilla/5.0\"\n"
        ));
        for _ in 0..100 {
            s.push_str(&format!(
                "203.0.113.66 - - [26/Jul/2024:19:30:{k:02} +0200] \"GET / HTTP/1.1\" 200 5120 \"-\" \"python-requests/2.32\"\n"
            ));
        }
    }
    for p in ["/.env", "/wp-login.php", "/.git/config", "/phpmyadmin/"] {
        s.push_str(&format!(
            "192.0.2.20 - - [26/Jul/2024:19:31:00 +0200] \"GET {p} HTTP/1.1\" 404 150 \"-\" \"Go-http-client/1.1\"\n"
        ));
    }
    s.push_str("this is not a log line\n");
    s
}

#[test]
fn a_log_replayed_through_the_rules() {
    let (ok, out, err) = tessera(&["soc", "replay"], &log());
    assert!(ok, "{err}");
    assert!(
        out.contains("http-flood-address")
            && out.contains("source=203.0.113.66 -> block address 203.0.113.66 for 10 min"),
        "{out}"
    );
    assert!(out.contains("probing") && out.contains("192.0.2.20"), "{out}");
    assert!(!out.contains("198.51.100.7"), "the fan is left alone: {out}");
    assert!(err.contains("1 malformed") && err.contains("malformed line 6065: \"this\" is not an IP address"), "{err}");

    let (ok, out, _) = tessera(&["soc", "replay", "--export", "nginx"], &log());
    assert!(ok);
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    assert_eq!(lines, ["deny 192.0.2.20/32;", "deny 203.0.113.66/32;"]);

    // An allow-listed partner is alerted on, never blocked.
    let (_, out, _) = tessera(&["soc", "replay", "--allow", "203.0.113.0/24", "--export", "plain"], &log());
    assert_eq!(out.trim(), "192.0.2.20");

    let (_, out, _) = tessera(&["soc", "replay", "--json"], &log());
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["rule"], "http-flood-address");
    assert_eq!(first["decision"]["scope"]["type"], "address");
}

#[test]
fn a_rule_file_is_checked_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, pack, _) = tessera(&["soc", "rules"], "");
    assert!(ok);
    let good = dir.path().join("good.yaml");
    std::fs::write(&good, &pack).unwrap();
    let (ok, out, err) = tessera(&["soc", "check", good.to_str().unwrap()], "");
    assert!(ok, "{err}");
    assert!(out.contains("rules, all valid") && out.contains("distributed-flood"), "{out}");

    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, pack.replacen("group_by: source", "group_by: planet", 1)).unwrap();
    let (ok, _, err) = tessera(&["soc", "check", bad.to_str().unwrap()], "");
    assert!(!ok);
    assert!(
        err.contains("refused whole")
            && err.contains("line 14, column 13: .[0].group_by: unknown variant `planet`")
            && !err.contains("at line"),
        "{err}"
    );

    // A replay with a refused file runs nothing.
    let (ok, out, err) = tessera(&["soc", "replay", "--rules", bad.to_str().unwrap()], &log());
    assert!(!ok && out.is_empty(), "{err}");
}

/// Credential stuffing against a running node: ten accounts tried from one address, and the
/// node's own engine blocks that address at its edge, with no operator, within a second.
#[tokio::test]
async fn credential_stuffing_is_blocked_at_the_edge_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let (_child, base) = common::serve(dir.path(), &[]).await;
    let http = reqwest::Client::new();
    assert_eq!(http.get(format!("{base}/sessions")).send().await.unwrap().status(), 200);
    let mut last = None;
    for k in 0..10 {
        let r = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&serde_json::json!({"email": format!("victim{k}@example.org"), "password": "Winter2024!"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "attempt {k}");
        last = Some(std::time::Instant::now());
    }
    let started = last.unwrap();
    loop {
        let r = http.get(format!("{base}/sessions")).send().await.unwrap();
        if r.status() == 403 {
            let body = r.text().await.unwrap();
            assert!(body.contains("blocked"), "{body}");
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "not blocked within a second: {}", r.status());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let figures = started.elapsed();
    eprintln!("blocked {} ms after the tenth attempt", figures.as_millis());
}

/// An nginx access log followed as it grows: its history is not replayed, a malformed line is
/// skipped, a rotation (renamed, recreated) is followed, and probing found in the new file
/// blocks the prober at this node's edge.
#[tokio::test]
async fn a_followed_log_is_read_through_rotation_and_its_prober_blocked() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let probe = |path: &str| {
        format!(
            "127.0.0.1 - - [26/Jul/2024:19:31:00 +0200] \"GET {path} HTTP/1.1\" 404 150 \"-\" \"Go-http-client/1.1\"\n"
        )
    };
    let history: String = ["/.env", "/wp-login.php", "/.git/config", "/phpmyadmin/"].iter().map(|p| probe(p)).collect();
    std::fs::write(&log, history).unwrap();
    let data = dir.path().join("data");
    let (_child, base) = common::serve(&data, &["--soc-follow", log.to_str().unwrap()]).await;
    let http = reqwest::Client::new();
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(http.get(format!("{base}/sessions")).send().await.unwrap().status(), 200, "history is not replayed");

    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    std::io::Write::write_all(&mut f, b"a line in no format\n").unwrap();
    std::io::Write::write_all(&mut f, probe("/.env").as_bytes()).unwrap();
    drop(f);
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    std::fs::rename(&log, dir.path().join("access.log.1")).unwrap();
    let rest: String = ["/wp-login.php", "/.git/config", "/phpmyadmin/"].iter().map(|p| probe(p)).collect();
    std::fs::write(&log, rest).unwrap();

    let started = std::time::Instant::now();
    loop {
        let r = http.get(format!("{base}/sessions")).send().await.unwrap();
        if r.status() == 403 {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "the prober was not blocked: {}", r.status());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Standard input as a log source (`--soc-follow -`): a prober's lines piped in get it
/// blocked at the edge; a malformed line is skipped.
#[tokio::test]
async fn lines_piped_to_standard_input_are_detected() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = common::serve(&dir.path().join("data"), &["--soc-follow", "-"]).await;
    let mut stdin = child.stdin.take().unwrap();
    let probe = |path: &str| {
        format!(
            "127.0.0.1 - - [26/Jul/2024:19:31:00 +0200] \"GET {path} HTTP/1.1\" 404 150 \"-\" \"Go-http-client/1.1\"\n"
        )
    };
    stdin.write_all(b"not a log line\n").await.unwrap();
    for p in ["/.env", "/wp-login.php", "/.git/config", "/phpmyadmin/", "/cgi-bin/test"] {
        stdin.write_all(probe(p).as_bytes()).await.unwrap();
    }
    stdin.flush().await.unwrap();
    let http = reqwest::Client::new();
    let started = std::time::Instant::now();
    loop {
        let r = http.get(format!("{base}/sessions")).send().await.unwrap();
        if r.status() == 403 {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "the prober was not blocked: {}", r.status());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    drop(stdin);
}

/// A node does not start on a rule file with an error (it says which file, line and reason),
/// nor on a directory given as a log to follow.
#[test]
fn a_node_refuses_to_start_on_a_broken_rule_file() {
    let dir = tempfile::tempdir().unwrap();
    let refused = |option: &str, value: &std::path::Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["serve", "--listen", "127.0.0.1:0", option])
            .arg(value)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env("TESSERA_LOG", "error")
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, "- id: x\n  title: t\n  level: loud\n").unwrap();
    let err = refused("--soc-rules", &rules);
    assert!(err.contains("rules.yaml is refused whole") && err.contains("line 3") && err.contains("loud"), "{err}");
    let err = refused("--soc-follow", dir.path());
    assert!(err.contains("is a directory; give the log file"), "{err}");
}
