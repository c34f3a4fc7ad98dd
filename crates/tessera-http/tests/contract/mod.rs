//! The API's contract: the OpenAPI document is valid (checked by the real
//! `openapi-spec-validator`), and every refusal, the router's own included, is the JSON error
//! body with a stable code.

use super::TestApp;
use reqwest::StatusCode;
use serde_json::Value;

/// `python3 -m openapi_spec_validator` on the served document; skipped, loudly, when the
/// validator is not installed (`.ci/run` installs it).
#[tokio::test]
async fn the_openapi_document_is_valid() {
    let have = std::process::Command::new("python3").args(["-c", "import openapi_spec_validator"]).output();
    if !have.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED the_openapi_document_is_valid: openapi-spec-validator is not installed (pip install openapi-spec-validator)");
        return;
    }
    let t = TestApp::start().await;
    let doc = t.http.get(format!("{}/api/openapi.json", t.base)).send().await.unwrap().text().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, &doc).unwrap();
    let out = std::process::Command::new("python3").args(["-m", "openapi_spec_validator"]).arg(&file).output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "openapi-spec-validator refuses the document:\n{said}");
    assert!(said.contains("OK"), "{said}");
}

/// Hostile requests of every kind the router itself refuses: each answer is JSON, with the
/// right status and a code.
#[tokio::test]
async fn every_refusal_is_a_json_error() {
    let t = TestApp::start().await;
    let fan = t.fan(1).await;
    let _ = t.sale(&[&fan]).await;
    let gate = t.app.enroll_gate("G1", "BRC", "", 3600).await.unwrap();
    let url = |p: &str| format!("{}{p}", t.base);
    let json = |s: &str| reqwest::Body::from(s.to_string());
    let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
        ("a bad integer in the path", t.http.delete(url("/api/v1/resale/abc")).bearer_auth(&fan), 400, "invalid_path"),
        (
            "a bad integer in the path, deeper",
            t.http.delete(url("/api/v1/phases/P1/cart/items/x1")).bearer_auth(&fan),
            400,
            "invalid_path",
        ),
        ("a bad query", t.http.get(url("/api/v1/sessions?limit=many")), 400, "invalid_query"),
        (
            "a body that is not JSON",
            t.http.post(url("/api/v1/auth/login")).header("content-type", "application/json").body(json("{nope")),
            400,
            "invalid_json",
        ),
        (
            "JSON of the wrong shape",
            t.http.post(url("/api/v1/auth/login")).header("content-type", "application/json").body(json("[1]")),
            422,
            "invalid_input",
        ),
        ("no content type", t.http.post(url("/api/v1/auth/login")).body(json("{}")), 415, "unsupported_media_type"),
        (
            "a body over the limit",
            t.http
                .post(url("/api/v1/auth/login"))
                .header("content-type", "application/json")
                .body(format!("{{\"email\": \"{}\"}}", "x".repeat(100_000))),
            413,
            "body_too_large",
        ),
        ("a method the route has not", t.http.put(url("/api/v1/sessions")), 405, "method_not_allowed"),
        ("a method a page has not", t.http.delete(url("/sessions")), 405, "method_not_allowed"),
        ("no such endpoint", t.http.get(url("/api/v1/nothing/here")), 404, "no_such_endpoint"),
        ("no sign-in", t.http.get(url("/api/v1/me")), 401, "unauthenticated"),
        (
            "a forged sign-in",
            t.http.get(url("/api/v1/me")).bearer_auth("v1.session.x.1.0.9999999999.AAAA"),
            401,
            "unauthenticated",
        ),
        ("a sign-in token at a gate route", t.http.get(url("/api/v1/gate/bundle")).bearer_auth(&fan), 401, "bad_token"),
        (
            "a forged gate token",
            t.http.get(url("/api/v1/gate/bundle")).bearer_auth(format!("{gate}x")),
            401,
            "bad_token",
        ),
        ("a fan at an operator route", t.http.get(url("/api/v1/admin/sales")).bearer_auth(&fan), 403, "forbidden"),
    ];
    let mut wrong = Vec::new();
    for (what, req, status, code) in cases {
        let r = req.send().await.unwrap();
        let got = r.status();
        let content_type = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let www = r.headers().get("www-authenticate").is_some();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        let ok = got == StatusCode::from_u16(status).unwrap()
            && content_type.starts_with("application/json")
            && body["error"]["code"] == code
            && body["error"]["message"].as_str().is_some_and(|m| !m.is_empty())
            && (status != 401 || www);
        if !ok {
            wrong.push(format!(
                "{what}: expected {status} {code}, got {got} {content_type} {body} (WWW-Authenticate: {www})"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The pages' own refusals are pages, in the layout, with the reason: a form missing a field,
/// a body of another type, a bad query.
#[tokio::test]
async fn page_refusals_are_pages() {
    let t = TestApp::start().await;
    let url = |p: &str| format!("{}{p}", t.base);
    let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
        ("a form missing a field", t.http.post(url("/login")).form(&[("email", "a@example.org")]), 422, "invalid_form"),
        (
            "a body that is no form",
            t.http.post(url("/login")).header("content-type", "application/json").body("{}"),
            415,
            "unsupported_media_type",
        ),
        ("a bad query", t.http.get(url("/sessions?page=first")), 400, "invalid_query"),
    ];
    for (what, req, status, code) in cases {
        let r = req.send().await.unwrap();
        let got = r.status().as_u16();
        let html = r.headers()["content-type"].to_str().unwrap().starts_with("text/html");
        let body = r.text().await.unwrap();
        assert!(got == status && html && body.contains(code) && body.contains("Tessera"), "{what}: {got} {body}");
    }
}
