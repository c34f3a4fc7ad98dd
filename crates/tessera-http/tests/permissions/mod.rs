//! The permissions matrix: every route of the router, API and pages, called as each role, with
//! the expected answer written down in one table. The routes are read from the router's
//! sources (every `.route("...", method(...))`), so a route added without a row here fails
//! the test, and a row left for a route that is gone fails it too. `docs/security.md` lists
//! the same roles and rules in words.
//!
//! The question each call answers is "does this role get past the permission checks": the
//! bodies are often deliberately incomplete (`{}`), so an allowed caller gets a 4xx about the
//! body, never a 401 or a 403, while a refused one gets the 401 or 403 before the body is read.

use super::{card, TestApp, METRICS_TOKEN};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Who calls. `Other` is a second fan acting on the first fan's resources (the paths name the
/// first fan's tickets, listings, transfers, cart lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Anonymous,
    Gate,
    Other,
    Fan,
    Operator,
    /// A security analyst: the SOC console and its API, nothing else of an operator's.
    Analyst,
}

/// A valid P-256 public key (the curve's generator, compressed), base64url.
const DEVICE_KEY: &str = "A2sX0fLhLEJH-Lzm5WOkQPJ3A32BLeszoPShOUXYmMKW";

const ROLES: [Role; 6] = [Role::Anonymous, Role::Gate, Role::Other, Role::Fan, Role::Operator, Role::Analyst];

/// What a role gets, one letter per role in the order of [`ROLES`]:
/// - `P` passes the permission checks: anything but 401, 403 and 5xx (a 404 or 422 about the
///   request itself is fine);
/// - `O` succeeds: 2xx or 3xx (not a redirect to sign in);
/// - `U` must sign in: 401, or a redirect to the sign-in page;
/// - `F` forbidden: 403;
/// - `N` not found: 404 (another's resource is not said to exist);
/// - `A` answered, whatever it says, 401 included (sign-in forms refuse wrong passwords
///   with 401): anything but 403 and 5xx.
fn meets(expect: char, status: StatusCode, location: Option<&str>) -> bool {
    let to_login = location.is_some_and(|l| l.starts_with("/login"));
    match expect {
        'A' => status != StatusCode::FORBIDDEN && !status.is_server_error(),
        'P' => !matches!(status.as_u16(), 401 | 403) && !status.is_server_error() && !to_login,
        'O' => (status.is_success() || status.is_redirection()) && !to_login,
        'U' => status == StatusCode::UNAUTHORIZED || to_login,
        'F' => status == StatusCode::FORBIDDEN,
        'N' => status == StatusCode::NOT_FOUND,
        _ => panic!("unknown expectation {expect}"),
    }
}

/// A body: none, JSON, or a page form (whose `csrf` field is filled in per role).
#[derive(Clone)]
enum Body {
    None,
    Json(Value),
    Form(Vec<(&'static str, String)>),
}

/// One row: method, the route as written in the router, the path called, the body, and the
/// expected answers for anonymous, gate, other fan, fan, operator, analyst.
struct Row {
    method: &'static str,
    route: &'static str,
    path: String,
    body: Body,
    expect: &'static str,
}

/// The first fan's resources, which the paths name.
struct Fixture {
    listing: i64,
    listed_ticket: String,
    transfer: i64,
    transfer_ticket: String,
    category: i64,
}

fn table(f: &Fixture) -> Vec<Row> {
    let j = |v: Value| Body::Json(v);
    let empty = || Body::Json(json!({}));
    let form = |fields: &[(&'static str, &str)]| Body::Form(fields.iter().map(|(k, v)| (*k, v.to_string())).collect());
    let row = |method, route, path: &str, body, expect| Row { method, route, path: path.to_string(), body, expect };
    let cat = f.category;
    vec![
        // ---- public: anyone, signed in or not -------------------------------------------
        row("GET", "/", "/", Body::None, "OOOOOO"),
        row("GET", "/healthz", "/healthz", Body::None, "OOOOOO"),
        row("GET", "/api/openapi.json", "/api/openapi.json", Body::None, "OOOOOO"),
        row("GET", "/readyz", "/readyz", Body::None, "OOOOOO"),
        row("GET", "/livez", "/livez", Body::None, "OOOOOO"),
        row("GET", "/api/v1/passwords/range/{prefix}", "/api/v1/passwords/range/5BAA6", Body::None, "OOOOOO"),
        row("GET", "/assets/qr.js", "/assets/qr.js", Body::None, "OOOOOO"),
        row("GET", "/assets/errors.js", "/assets/errors.js", Body::None, "OOOOOO"),
        row("GET", "/assets/phone.js", "/assets/phone.js", Body::None, "OOOOOO"),
        row("GET", "/assets/uplot.js", "/assets/uplot.js", Body::None, "OOOOOO"),
        row("GET", "/assets/uplot.css", "/assets/uplot.css", Body::None, "OOOOOO"),
        row("GET", "/assets/console.js", "/assets/console.js", Body::None, "OOOOOO"),
        row("GET", "/sessions", "/sessions", Body::None, "OOOOOO"),
        row("GET", "/sessions/{code}", "/sessions/BKB01", Body::None, "OOOOOO"),
        row("GET", "/phases/{code}", "/phases/P1", Body::None, "OOOOOO"),
        row("GET", "/resale", "/resale", Body::None, "OOOOOO"),
        row("GET", "/register", "/register", Body::None, "OOOOOO"),
        row("POST", "/register", "/register", form(&[("email", "x")]), "PPPPPP"),
        row("GET", "/login", "/login", Body::None, "OOOOOO"),
        row("POST", "/login", "/login", form(&[("email", "x"), ("password", "y")]), "AAAAAA"),
        row("GET", "/forgot", "/forgot", Body::None, "OOOOOO"),
        row("POST", "/forgot", "/forgot", form(&[("email", "nobody@example.org")]), "OOOOOO"),
        row("GET", "/reset", "/reset", Body::None, "PPPPPP"),
        row("POST", "/reset", "/reset", form(&[("token", "x"), ("password", "y")]), "PPPPPP"),
        row("GET", "/verify", "/verify", Body::None, "PPPPPP"),
        row("GET", "/mailbox", "/mailbox", Body::None, "OOOOOO"),
        row("GET", "/lang/{code}", "/lang/fr", Body::None, "OOOOOO"),
        row("GET", "/wallet/sw.js", "/wallet/sw.js", Body::None, "OOOOOO"),
        row("GET", "/wallet/icon.svg", "/wallet/icon.svg", Body::None, "OOOOOO"),
        row("GET", "/wallet/manifest.webmanifest", "/wallet/manifest.webmanifest", Body::None, "OOOOOO"),
        // The phone badge page shows what the phone holds; binding goes through the API.
        row("GET", "/wallet/badge", "/wallet/badge", Body::None, "OOOOOO"),
        row("GET", "/phases/{code}/queue", "/phases/P1/queue", Body::None, "UUOOOO"),
        row("GET", "/api/v1/sessions", "/api/v1/sessions", Body::None, "OOOOOO"),
        row("GET", "/api/v1/sessions/{code}", "/api/v1/sessions/BKB01", Body::None, "OOOOOO"),
        row("GET", "/api/v1/phases", "/api/v1/phases", Body::None, "OOOOOO"),
        row("GET", "/api/v1/phases/{code}", "/api/v1/phases/P1", Body::None, "OOOOOO"),
        row("GET", "/api/v1/phases/{code}/commitment.json", "/api/v1/phases/P1/commitment.json", Body::None, "OOOOOO"),
        row("GET", "/api/v1/phases/{code}/entries.txt", "/api/v1/phases/P1/entries.txt", Body::None, "OOOOOO"),
        row("GET", "/api/v1/phases/{code}/result.json", "/api/v1/phases/P1/result.json", Body::None, "OOOOOO"),
        row("GET", "/api/v1/resale", "/api/v1/resale", Body::None, "OOOOOO"),
        row("POST", "/api/v1/accounts", "/api/v1/accounts", empty(), "PPPPPP"),
        row("POST", "/api/v1/accounts/verify", "/api/v1/accounts/verify", j(json!({"token": "x"})), "PPPPPP"),
        row("POST", "/api/v1/auth/login", "/api/v1/auth/login", empty(), "PPPPPP"),
        row("POST", "/api/v1/auth/password-reset", "/api/v1/auth/password-reset", empty(), "PPPPPP"),
        row("POST", "/api/v1/auth/password-reset/confirm", "/api/v1/auth/password-reset/confirm", empty(), "PPPPPP"),
        row("GET", "/api/v1", "/api/v1", Body::None, "NNNNNN"),
        row("GET", "/api/v1/{*rest}", "/api/v1/no/such/thing", Body::None, "NNNNNN"),
        // ---- the waiting room (P1 has none here, hence 404s past the sign-in) -----------
        row("GET", "/api/v1/phases/{code}/queue", "/api/v1/phases/P1/queue", Body::None, "UUPPPP"),
        row("POST", "/api/v1/phases/{code}/queue", "/api/v1/phases/P1/queue", Body::None, "UUPPPP"),
        row("GET", "/api/v1/phases/{code}/queue/status", "/api/v1/phases/P1/queue/status", Body::None, "UUPPPP"),
        row("GET", "/api/v1/phases/{code}/queue/events", "/api/v1/phases/P1/queue/events", Body::None, "UUPPPP"),
        row("GET", "/api/v1/phases/{code}/queue/ws", "/api/v1/phases/P1/queue/ws", Body::None, "UUPPPP"),
        // ---- a signed-in fan, on their own things ---------------------------------------
        row("GET", "/api/v1/me", "/api/v1/me", Body::None, "UUOOOO"),
        row("POST", "/api/v1/auth/logout", "/api/v1/auth/logout", Body::None, "UUOOOO"),
        row("GET", "/api/v1/orders", "/api/v1/orders", Body::None, "UUOOOO"),
        row("GET", "/api/v1/wallet", "/api/v1/wallet", Body::None, "UUOOOO"),
        row("GET", "/api/v1/transfers", "/api/v1/transfers", Body::None, "UUOOOO"),
        row("GET", "/api/v1/phases/{code}/me", "/api/v1/phases/P1/me", Body::None, "UUOOOO"),
        row("GET", "/api/v1/phases/{code}/cart", "/api/v1/phases/P1/cart", Body::None, "UUPOPP"),
        // The operator's account has no confirmed email, which entering a lottery needs.
        row("POST", "/api/v1/phases/{code}/entry", "/api/v1/phases/P1/entry", Body::None, "UUPPFP"),
        row("POST", "/api/v1/phases/{code}/cart/items", "/api/v1/phases/P1/cart/items", empty(), "UUPPPP"),
        row(
            "DELETE",
            "/api/v1/phases/{code}/cart/items/{category_id}",
            &format!("/api/v1/phases/P1/cart/items/{cat}"),
            Body::None,
            "UUNOPN",
        ),
        row("POST", "/api/v1/phases/{code}/checkout", "/api/v1/phases/P1/checkout", empty(), "UUPPPP"),
        row("POST", "/api/v1/phases/{code}/orders", "/api/v1/phases/P1/orders", empty(), "UUPPPP"),
        row(
            "POST",
            "/api/v1/tickets/{code}/activate",
            &format!("/api/v1/tickets/{}/activate", f.transfer_ticket),
            j(json!({"device_key": DEVICE_KEY})),
            "UUNPNN",
        ),
        row(
            "POST",
            "/api/v1/tickets/{code}/transfer",
            &format!("/api/v1/tickets/{}/transfer", f.transfer_ticket),
            j(json!({"to_email": "fan2@example.org"})),
            "UUNPNN",
        ),
        row(
            "POST",
            "/api/v1/tickets/{code}/resale",
            &format!("/api/v1/tickets/{}/resale", f.listed_ticket),
            Body::None,
            "UUNPNN",
        ),
        row("DELETE", "/api/v1/transfers/{id}", &format!("/api/v1/transfers/{}", f.transfer), Body::None, "UUNONN"),
        row(
            "POST",
            "/api/v1/transfers/{id}/accept",
            &format!("/api/v1/transfers/{}/accept", f.transfer),
            Body::None,
            "UUNPNN",
        ),
        row("DELETE", "/api/v1/resale/{id}", &format!("/api/v1/resale/{}", f.listing), Body::None, "UUNONN"),
        row("POST", "/api/v1/resale/{id}/buy", &format!("/api/v1/resale/{}/buy", f.listing), empty(), "UUPPPP"),
        // ---- pages of a signed-in fan ----------------------------------------------------
        row("GET", "/orders", "/orders", Body::None, "UUOOOO"),
        row("GET", "/wallet", "/wallet", Body::None, "UUOOOO"),
        // The operator: no confirmed email (to enter) and no purchase slot (to hold seats).
        row("POST", "/phases/{code}/enter", "/phases/P1/enter", form(&[]), "UUPPFP"),
        row(
            "POST",
            "/phases/{code}/cart",
            "/phases/P1/cart",
            form(&[("category_id", "0"), ("quantity", "1")]),
            "UUPPFF",
        ),
        row(
            "POST",
            "/phases/{code}/cart/remove",
            "/phases/P1/cart/remove",
            form(&[("category_id", &cat.to_string())]),
            "UUPPPP",
        ),
        row(
            "POST",
            "/phases/{code}/checkout",
            "/phases/P1/checkout",
            form(&[
                ("cart_id", "0"),
                ("idempotency_key", "m2"),
                ("holder", "A"),
                ("number", "4242"),
                ("exp_month", "1"),
                ("exp_year", "2099"),
                ("cvc", "1"),
            ]),
            "UUPPPP",
        ),
        row("POST", "/logout", "/logout", form(&[]), "OOOOOO"),
        // ---- gates ---------------------------------------------------------------------
        row("GET", "/api/v1/gate/bundle", "/api/v1/gate/bundle", Body::None, "UOUUUU"),
        row("POST", "/api/v1/gate/sync", "/api/v1/gate/sync", empty(), "UOUUUU"),
        // ---- operators -----------------------------------------------------------------
        row("GET", "/metrics", "/metrics", Body::None, "UUUUOU"),
        row("GET", "/operator/gates", "/operator/gates", Body::None, "FFFFOF"),
        row("GET", "/operator/airlock", "/operator/airlock", Body::None, "FFFFOF"),
        row("GET", "/operator/payments", "/operator/payments", Body::None, "FFFFOF"),
        row("GET", "/operator/soc", "/operator/soc", Body::None, "FFFFOO"),
        row("GET", "/api/v1/admin/sales", "/api/v1/admin/sales", Body::None, "UUFFOF"),
        row("GET", "/api/v1/admin/airlock", "/api/v1/admin/airlock", Body::None, "UUFFOF"),
        row("GET", "/api/v1/admin/edge/decisions", "/api/v1/admin/edge/decisions", Body::None, "UUFFOO"),
        row("POST", "/api/v1/admin/edge/decisions", "/api/v1/admin/edge/decisions", empty(), "UUFFPP"),
        row("DELETE", "/api/v1/admin/edge/decisions", "/api/v1/admin/edge/decisions", empty(), "UUFFPP"),
        row("GET", "/api/v1/admin/gates", "/api/v1/admin/gates", Body::None, "UUFFOF"),
        row("POST", "/api/v1/admin/gates/enroll", "/api/v1/admin/gates/enroll", empty(), "UUFFPF"),
        row("GET", "/api/v1/admin/gates/bundle-key", "/api/v1/admin/gates/bundle-key", Body::None, "UUFFOF"),
        row("POST", "/api/v1/admin/gates/{gate_id}/revoke", "/api/v1/admin/gates/G9/revoke", empty(), "UUFFPF"),
        row("POST", "/api/v1/admin/entries/{ticket}/annul", "/api/v1/admin/entries/X/annul", empty(), "UUFFPF"),
        row("GET", "/api/v1/admin/payments", "/api/v1/admin/payments", Body::None, "UUFFOF"),
        row("POST", "/api/v1/admin/payments/reconcile", "/api/v1/admin/payments/reconcile", Body::None, "UUFFOF"),
        row("GET", "/api/v1/admin/security-events", "/api/v1/admin/security-events", Body::None, "UUFFOO"),
        row("GET", "/api/v1/admin/soc", "/api/v1/admin/soc", Body::None, "UUFFOO"),
        row("GET", "/api/v1/admin/soc/rules", "/api/v1/admin/soc/rules", Body::None, "UUFFOO"),
        row("GET", "/api/v1/admin/soc/blocklist", "/api/v1/admin/soc/blocklist", Body::None, "UUFFOO"),
        row("PUT", "/api/v1/admin/soc/rules", "/api/v1/admin/soc/rules", empty(), "UUFFPP"),
        row("GET", "/api/v1/admin/soc/events", "/api/v1/admin/soc/events?format=nope", Body::None, "UUFFPP"),
        row("POST", "/api/v1/admin/soc/ingest", "/api/v1/admin/soc/ingest", Body::None, "UUFFOO"),
        row("POST", "/api/v1/admin/soc/intel", "/api/v1/admin/soc/intel?format=nope", Body::None, "UUFFPP"),
        row("GET", "/api/v1/admin/soc/intel", "/api/v1/admin/soc/intel", Body::None, "UUFFOO"),
        row("GET", "/api/v1/admin/soc/intel/watches", "/api/v1/admin/soc/intel/watches", Body::None, "UUFFOO"),
        row("GET", "/api/v1/admin/soc/cases", "/api/v1/admin/soc/cases", Body::None, "UUFFOO"),
        row("POST", "/api/v1/results/documents", "/api/v1/results/documents", Body::None, "UUUUUU"),
        row("GET", "/api/v1/results/documents", "/api/v1/results/documents", Body::None, "OOOOOO"),
        row("GET", "/api/v1/results/stream", "/api/v1/results/stream?since=yesterday", Body::None, "PPPPPP"),
        row("GET", "/api/v1/results/socket", "/api/v1/results/socket?since=yesterday", Body::None, "PPPPPP"),
        row("GET", "/api/v1/results/medals", "/api/v1/results/medals", Body::None, "OOOOOO"),
        row("POST", "/api/v1/results/token/refresh", "/api/v1/results/token/refresh", empty(), "PPPPPP"),
        row("GET", "/results", "/results", Body::None, "OOOOOO"),
        row("GET", "/operator/results", "/operator/results", Body::None, "FFFFOF"),
        row("GET", "/operator/accreditation", "/operator/accreditation", Body::None, "FFFFOF"),
        row("GET", "/api/v1/accreditation/organisations", "/api/v1/accreditation/organisations", Body::None, "UUOOOO"),
        row("POST", "/api/v1/accreditation/organisations", "/api/v1/accreditation/organisations", empty(), "UUFFPF"),
        row("GET", "/api/v1/accreditation/applications", "/api/v1/accreditation/applications", Body::None, "UUFFOF"),
        row("POST", "/api/v1/accreditation/applications", "/api/v1/accreditation/applications", empty(), "UUPPPP"),
        row(
            "GET",
            "/api/v1/accreditation/applications/{id}",
            "/api/v1/accreditation/applications/999",
            Body::None,
            "UUNNNN",
        ),
        row(
            "POST",
            "/api/v1/accreditation/applications/{id}/decision",
            "/api/v1/accreditation/applications/999/decision",
            empty(),
            "UUFFPF",
        ),
        row(
            "POST",
            "/api/v1/accreditation/applications/{id}/officer",
            "/api/v1/accreditation/applications/999/officer",
            empty(),
            "UUPPPP",
        ),
        row(
            "POST",
            "/api/v1/accreditation/applications/{id}/hit",
            "/api/v1/accreditation/applications/999/hit",
            empty(),
            "UUFFPF",
        ),
        row(
            "POST",
            "/api/v1/accreditation/applications/{id}/badge",
            "/api/v1/accreditation/applications/999/badge",
            empty(),
            "UUFFPF",
        ),
        row(
            "GET",
            "/api/v1/accreditation/applications/{id}/badge",
            "/api/v1/accreditation/applications/999/badge",
            Body::None,
            "UUFFNF",
        ),
        // An officer of the holder's organisation only: staff issue cards, not phone badges.
        row(
            "POST",
            "/api/v1/accreditation/applications/{id}/phone",
            "/api/v1/accreditation/applications/999/phone",
            j(json!({"device_key": DEVICE_KEY})),
            "UUNNFN",
        ),
        row(
            "GET",
            "/api/v1/accreditation/applications/{id}/card",
            "/api/v1/accreditation/applications/999/card",
            Body::None,
            "UUFFNF",
        ),
        row("POST", "/api/v1/accreditation/imports", "/api/v1/accreditation/imports", Body::None, "UUPPPP"),
        row("GET", "/api/v1/accreditation/imports/{id}", "/api/v1/accreditation/imports/999", Body::None, "UUNNNN"),
        row("GET", "/api/v1/accreditation/figures", "/api/v1/accreditation/figures", Body::None, "UUFFOF"),
        row("GET", "/api/v1/accreditation/revocations", "/api/v1/accreditation/revocations", Body::None, "UUFFOF"),
        row(
            "GET",
            "/api/v1/accreditation/desks/{desk}/list",
            "/api/v1/accreditation/desks/PDV1/list",
            Body::None,
            "UUFFOF",
        ),
        row(
            "POST",
            "/api/v1/accreditation/desks/{desk}/hand-overs",
            "/api/v1/accreditation/desks/PDV1/hand-overs",
            empty(),
            "UUFFPF",
        ),
        row(
            "POST",
            "/api/v1/accreditation/desks/{desk}/mode",
            "/api/v1/accreditation/desks/PDV1/mode",
            empty(),
            "UUFFPF",
        ),
        row("GET", "/operator/toc", "/operator/toc", Body::None, "FFFFOF"),
        row("GET", "/operator/toc/runbooks", "/operator/toc/runbooks", Body::None, "FFFFOF"),
        row("GET", "/status", "/status", Body::None, "OOOOOO"),
        row("GET", "/api/v1/status", "/api/v1/status", Body::None, "OOOOOO"),
        row("GET", "/api/v1/toc/wall", "/api/v1/toc/wall", Body::None, "UUFFOF"),
        // Devices and probe agents by their own key only: a sign-in is not one.
        row("POST", "/api/v1/toc/observations", "/api/v1/toc/observations", empty(), "UUUUUU"),
        row("POST", "/api/v1/toc/incidents", "/api/v1/toc/incidents", empty(), "UUFFPF"),
        row(
            "POST",
            "/api/v1/toc/incidents/{id}/acknowledge",
            "/api/v1/toc/incidents/999/acknowledge",
            Body::None,
            "UUFFPF",
        ),
        row("POST", "/api/v1/toc/incidents/{id}/resolve", "/api/v1/toc/incidents/999/resolve", Body::None, "UUFFPF"),
        row("POST", "/api/v1/toc/incidents/{id}/notes", "/api/v1/toc/incidents/999/notes", empty(), "UUFFPF"),
        row("POST", "/api/v1/toc/modes/{mode}", "/api/v1/toc/modes/nope", empty(), "UUFFPF"),
        row("GET", "/api/v1/toc/scenarios", "/api/v1/toc/scenarios", Body::None, "UUFFOF"),
        row("POST", "/api/v1/toc/silences", "/api/v1/toc/silences", empty(), "UUFFPF"),
        row("DELETE", "/api/v1/toc/silences/{id}", "/api/v1/toc/silences/999", Body::None, "UUFFPF"),
        row("POST", "/api/v1/toc/maintenance", "/api/v1/toc/maintenance", empty(), "UUFFPF"),
        row("POST", "/api/v1/toc/rehearsals", "/api/v1/toc/rehearsals", empty(), "UUFFPF"),
        row("POST", "/api/v1/toc/rehearsals/stop", "/api/v1/toc/rehearsals/stop", Body::None, "UUFFPF"),
        row("GET", "/api/v1/admin/results", "/api/v1/admin/results", Body::None, "UUFFOF"),
        row("POST", "/api/v1/admin/results/sources", "/api/v1/admin/results/sources", empty(), "UUFFPF"),
        row(
            "POST",
            "/api/v1/admin/results/sources/{id}/revoke",
            "/api/v1/admin/results/sources/ATHOLY1/revoke",
            empty(),
            "UUFFPF",
        ),
        row("POST", "/api/v1/admin/results/subscribers", "/api/v1/admin/results/subscribers", empty(), "UUFFPF"),
        row("GET", "/api/v1/admin/soc/cases/{id}", "/api/v1/admin/soc/cases/999", Body::None, "UUFFPP"),
        row(
            "POST",
            "/api/v1/admin/soc/cases/{id}/acknowledge",
            "/api/v1/admin/soc/cases/999/acknowledge",
            Body::None,
            "UUFFPP",
        ),
        row("POST", "/api/v1/admin/soc/cases/{id}/assign", "/api/v1/admin/soc/cases/999/assign", empty(), "UUFFPP"),
        row("POST", "/api/v1/admin/soc/cases/{id}/notes", "/api/v1/admin/soc/cases/999/notes", empty(), "UUFFPP"),
        row("POST", "/api/v1/admin/soc/cases/{id}/close", "/api/v1/admin/soc/cases/999/close", empty(), "UUFFPP"),
        row("GET", "/api/v1/admin/soc/suppressions", "/api/v1/admin/soc/suppressions", Body::None, "UUFFOO"),
        row("POST", "/api/v1/admin/soc/domains", "/api/v1/admin/soc/domains", Body::None, "UUFFPP"),
        row("GET", "/api/v1/admin/soc/takedowns", "/api/v1/admin/soc/takedowns", Body::None, "UUFFOO"),
        row("POST", "/api/v1/admin/soc/takedowns/{domain}", "/api/v1/admin/soc/takedowns/x.example", empty(), "UUFFPP"),
        row(
            "DELETE",
            "/api/v1/admin/soc/suppressions/{id}",
            "/api/v1/admin/soc/suppressions/999",
            Body::None,
            "UUFFPP",
        ),
        // ---- volunteers: applicants apply for themselves, coordinators run the rest -------
        row("GET", "/volunteer", "/volunteer", Body::None, "UUOOOO"),
        row("GET", "/operator/volunteers", "/operator/volunteers", Body::None, "FFFFOF"),
        row("GET", "/api/v1/volunteers/me", "/api/v1/volunteers/me", Body::None, "UUOOOO"),
        row("POST", "/api/v1/volunteers/applications", "/api/v1/volunteers/applications", empty(), "UUPPPP"),
        row(
            "POST",
            "/api/v1/volunteers/offers/{id}/answer",
            "/api/v1/volunteers/offers/999/answer",
            j(json!({"accept": true})),
            "UUNNNN",
        ),
        row("GET", "/api/v1/volunteers/offers", "/api/v1/volunteers/offers", Body::None, "UUFFOF"),
        row("GET", "/api/v1/volunteers/programme", "/api/v1/volunteers/programme", Body::None, "UUFFOF"),
        row("POST", "/api/v1/volunteers/programme", "/api/v1/volunteers/programme", empty(), "UUFFPF"),
        row("POST", "/api/v1/volunteers/imports", "/api/v1/volunteers/imports", Body::None, "UUFFPF"),
        row("POST", "/api/v1/volunteers/runs", "/api/v1/volunteers/runs", Body::None, "UUFFPF"),
        row("GET", "/api/v1/volunteers/runs", "/api/v1/volunteers/runs", Body::None, "UUFFPF"),
        row(
            "GET",
            "/api/v1/volunteers/applications/{id}/explanation",
            "/api/v1/volunteers/applications/999/explanation",
            Body::None,
            "UUFFPF",
        ),
        row("POST", "/api/v1/volunteers/overrides", "/api/v1/volunteers/overrides", empty(), "UUFFPF"),
        row("POST", "/api/v1/volunteers/roster", "/api/v1/volunteers/roster", Body::None, "UUFFPF"),
        row("GET", "/api/v1/volunteers/roster", "/api/v1/volunteers/roster", Body::None, "UUFFPF"),
        row("GET", "/api/v1/volunteers/console", "/api/v1/volunteers/console", Body::None, "UUFFOF"),
        row("POST", "/api/v1/admin/phases", "/api/v1/admin/phases", empty(), "UUFFPF"),
        row("POST", "/api/v1/admin/phases/{code}/open", "/api/v1/admin/phases/NOPE/open", Body::None, "UUFFPF"),
        row("POST", "/api/v1/admin/phases/{code}/close", "/api/v1/admin/phases/NOPE/close", Body::None, "UUFFPF"),
        row("POST", "/api/v1/admin/phases/{code}/draw", "/api/v1/admin/phases/NOPE/draw", empty(), "UUFFPF"),
        row(
            "PUT",
            "/api/v1/admin/phases/{code}/waiting-room",
            "/api/v1/admin/phases/P1/waiting-room",
            empty(),
            "UUFFPF",
        ),
        row(
            "DELETE",
            "/api/v1/admin/phases/{code}/waiting-room",
            "/api/v1/admin/phases/NOPE/waiting-room",
            Body::None,
            "UUFFPF",
        ),
    ]
}

/// Every (method, route) the router declares, read from its sources.
fn declared_routes() -> BTreeSet<(String, String)> {
    let src = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
    let mut files = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let mut found = BTreeSet::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = rest[at + 7..].trim_start();
            // `.route(` with a literal path (the formatter may break the line before it).
            let Some(quoted) = rest.strip_prefix('"') else { continue };
            rest = quoted;
            let route = &rest[..rest.find('"').unwrap()];
            // The arguments of this `.route(`, up to its closing parenthesis.
            let mut depth = 1;
            let mut end = 0;
            for (i, c) in rest.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = i;
                    break;
                }
            }
            let args = &rest[route.len()..end];
            for (name, method) in [
                ("get(", "GET"),
                ("post(", "POST"),
                ("put(", "PUT"),
                ("delete(", "DELETE"),
                ("patch(", "PATCH"),
                ("any(", "GET"),
            ] {
                let mut a = args;
                while let Some(i) = a.find(name) {
                    // A method router: `get(` at the start, or after `.` or `::` or a space.
                    let before = a[..i].chars().last();
                    if matches!(before, None | Some('.' | ':' | ' ' | ',' | '\n')) {
                        found.insert((method.to_string(), route.to_string()));
                    }
                    a = &a[i + name.len()..];
                }
            }
        }
    }
    found
}

#[tokio::test]
async fn every_route_answers_each_role_as_the_table_says() {
    let t = TestApp::start().await;
    let (fan, other, third) = (t.fan(1).await, t.fan(2).await, t.fan(3).await);
    let cat = t.sale(&[&fan, &other, &third]).await;
    let ops = t.operator().await;
    let analyst = t.analyst().await;
    let gate = t.app.enroll_gate("G1", "BRC", "", 3600).await.unwrap();
    // The first fan: two tickets (one on resale, one offered to the third fan) and a cart.
    let buy = json!({"items": [{"category_id": cat, "quantity": 2}], "card": card("4242 4242 4242 4242")});
    let (s, order) =
        t.with_headers("POST", "/api/v1/phases/P1/orders", &fan, &[("Idempotency-Key", "m1")], Some(buy)).await;
    assert_eq!(s, StatusCode::CREATED, "{order}");
    let codes: Vec<String> =
        order["tickets"].as_array().unwrap().iter().map(|t| t["code"].as_str().unwrap().to_string()).collect();
    let (s, listing) = t.call("POST", &format!("/api/v1/tickets/{}/resale", codes[0]), Some(&fan), None).await;
    assert_eq!(s, StatusCode::CREATED, "{listing}");
    let offer = json!({"to_email": "fan3@example.org"});
    let (s, transfer) =
        t.call("POST", &format!("/api/v1/tickets/{}/transfer", codes[1]), Some(&fan), Some(offer)).await;
    assert!(s.is_success(), "{transfer}");
    let (s, _) = t
        .call("POST", "/api/v1/phases/P1/cart/items", Some(&fan), Some(json!({"category_id": cat, "quantity": 1})))
        .await;
    assert_eq!(s, StatusCode::OK);
    let f = Fixture {
        listing: listing["id"].as_i64().unwrap(),
        listed_ticket: codes[0].clone(),
        transfer: transfer["id"].as_i64().unwrap(),
        transfer_ticket: codes[1].clone(),
        category: cat,
    };

    // The table and the router list the same routes.
    let rows = table(&f);
    let tabled: BTreeSet<(String, String)> = rows.iter().map(|r| (r.method.to_string(), r.route.to_string())).collect();
    let declared = declared_routes();
    let missing: Vec<_> = declared.difference(&tabled).collect();
    let stale: Vec<_> = tabled.difference(&declared).collect();
    assert!(missing.is_empty(), "routes without a row in the permissions matrix: {missing:?}");
    assert!(stale.is_empty(), "rows for routes the router does not have: {stale:?}");

    // Each role's token, and the page forms' CSRF field for the signed-in ones.
    let token = |r: Role| match r {
        Role::Anonymous => None,
        Role::Gate => Some(gate.clone()),
        Role::Other => Some(other.clone()),
        Role::Fan => Some(fan.clone()),
        Role::Operator => Some(ops.clone()),
        Role::Analyst => Some(analyst.clone()),
    };
    let mut csrf = std::collections::HashMap::new();
    for r in [Role::Other, Role::Fan, Role::Operator, Role::Analyst] {
        let page = t.http.get(format!("{}/orders", t.base)).bearer_auth(token(r).unwrap()).send().await.unwrap();
        let page = page.text().await.unwrap();
        let at = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
        csrf.insert(r as u8, page[at..at + 32].to_string());
    }

    // Sign-out last: it ends the sessions the other rows use.
    let (mut rows, last): (Vec<Row>, Vec<Row>) = rows.into_iter().partition(|r| !r.route.contains("logout"));
    rows.extend(last);
    let mut wrong = Vec::new();
    for row in &rows {
        for (i, role) in ROLES.iter().enumerate() {
            let expect = row.expect.chars().nth(i).unwrap();
            let mut req = t.http.request(row.method.parse().unwrap(), format!("{}{}", t.base, row.path));
            // The gate sends its token everywhere; on /metrics a wrong scrape token stands in
            // for it, so that the row also proves a near-miss token is refused.
            if row.route == "/metrics" && *role == Role::Gate {
                req = req.bearer_auth(format!("{METRICS_TOKEN}-not"));
            } else if let Some(b) = token(*role) {
                req = req.bearer_auth(b);
            }
            req = match &row.body {
                Body::None => req,
                Body::Json(v) => req.json(v),
                Body::Form(fields) => {
                    let mut fields = fields.clone();
                    // Anonymous forms carry a made-up field: the sign-in check is what is tested,
                    // not the form's shape.
                    let c = csrf.get(&(*role as u8)).cloned().unwrap_or_else(|| "0".repeat(32));
                    fields.push(("csrf", c));
                    req.form(&fields)
                }
            };
            if row.route.ends_with("/queue/events") {
                req = req.timeout(std::time::Duration::from_millis(500));
            }
            let (status, location) = match req.send().await {
                Ok(r) => (r.status(), r.headers().get("location").and_then(|l| l.to_str().ok()).map(str::to_string)),
                Err(e) => panic!("{} {} as {role:?}: {e}", row.method, row.path),
            };
            if !meets(expect, status, location.as_deref()) {
                wrong.push(format!(
                    "{} {} as {role:?}: expected {expect}, got {status} {location:?}",
                    row.method, row.path
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{} answers differ from the matrix:\n{}", wrong.len(), wrong.join("\n"));
}
