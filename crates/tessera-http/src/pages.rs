//! Server-rendered pages for fans: plain HTML forms that work without JavaScript, with a
//! little script only for live figures (availability, the cart countdown).

use crate::error::ApiError;
use crate::extract::{cookie_in, MaybeAuthed, DEVICE_COOKIE, SESSION_COOKIE};
use crate::AppState;
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use hmac::{Hmac, Mac};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use secrecy::ExposeSecret;
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tessera_app::auth::Principal;
use tessera_app::sale::CheckoutRequest;
use tessera_domain::figures::thousands;
use tessera_domain::{CartId, CategoryId, Cents, Timestamp};
use tessera_payments::Card;
use tessera_store::{PhaseStatus, SessionFilter};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/register", get(register_form).post(register))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/verify", get(verify))
        .route("/forgot", get(forgot_form).post(forgot))
        .route("/reset", get(reset_form).post(reset))
        .route("/sessions", get(sessions))
        .route("/sessions/{code}", get(session))
        .route("/phases/{code}", get(phase))
        .route("/phases/{code}/enter", post(enter))
        .route("/phases/{code}/cart", post(add_to_cart))
        .route("/phases/{code}/cart/remove", post(remove_from_cart))
        .route("/phases/{code}/checkout", post(checkout))
        .route("/orders", get(orders))
        .route("/mailbox", get(mailbox))
}

const CSS: &str = r#"
body{font-family:system-ui,sans-serif;margin:0;color:#1b1b1b;background:#f6f7fb}
header{background:#0b2a5b;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.2rem;align-items:center;flex-wrap:wrap}
header a{color:#fff;text-decoration:none}header .brand{font-weight:700;font-size:1.2rem;margin-right:auto}
header form{margin:0}header button{background:none;border:1px solid #fff;color:#fff;border-radius:4px;padding:.2rem .6rem;cursor:pointer}
main{max-width:1000px;margin:1.2rem auto;padding:0 1rem}
/* Long codes and digests wrap rather than push the page wider than a phone. */
.mono{overflow-wrap:anywhere}
canvas{max-width:100%;height:auto}
/* On a phone, a wide table scrolls inside its card instead of widening the page. */
@media (max-width:700px){table{display:block;overflow-x:auto;max-width:100%}main{padding:0 .6rem}.card{padding:.8rem}}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.stale{background:#fff4d6;border:1px solid #bf8700;color:#5c4100;padding:.3rem .6rem;border-radius:4px}
.filters{display:flex;flex-wrap:wrap;gap:.6rem;align-items:flex-end;margin:.6rem 0}
.filters label{display:flex;flex-direction:column;gap:.2rem;font-size:.9rem}
.filters label.check{flex-direction:row;align-items:center;gap:.3rem;white-space:nowrap;padding-bottom:.4rem}
.filters label.check input{width:auto;margin:0}
nav.days,nav.chips{display:flex;gap:.35rem;overflow-x:auto;padding:.4rem 0;flex-wrap:wrap}
nav.days a,nav.chips a{padding:.3rem .6rem;border:1px solid #c9d2e3;border-radius:6px;white-space:nowrap;text-decoration:none;color:#0b2a5b;background:#fff}
nav.days a[aria-current],nav.days a[aria-current] .muted{background:#0b2a5b;color:#fff}
table{border-collapse:collapse;width:100%;background:#fff}td,th{padding:.4rem .6rem;border-bottom:1px solid #e3e6ef;text-align:left}
.card{background:#fff;border-radius:8px;padding:1rem 1.2rem;margin:1rem 0;box-shadow:0 1px 3px #0002}
canvas{max-width:100%}
.error{background:#fde8e8;border-left:4px solid #c0392b;padding:.6rem 1rem}.ok{background:#e6f6ea;border-left:4px solid #2e8b57;padding:.6rem 1rem}
input,select{padding:.35rem;margin:.2rem 0 .6rem;width:100%;max-width:22rem;box-sizing:border-box}
/* A form's fields stack, each label above its input. */
main form:not(.filters):not(.inline) label{display:flex;flex-direction:column;gap:.15rem;max-width:22rem}
button.primary{background:#0b5bd3;color:#fff;border:0;border-radius:4px;padding:.5rem 1rem;cursor:pointer}
.muted{color:#667}.badge{display:inline-block;border-radius:10px;padding:0 .5rem;background:#e3e6ef;font-size:.85rem}
.soldout{color:#c0392b;font-weight:600}.mono{font-family:ui-monospace,monospace}
button{font:inherit;padding:.35rem .8rem;border:1px solid #0b5bd3;border-radius:4px;background:#fff;color:#0b5bd3;cursor:pointer}
button:focus-visible,a:focus-visible,input:focus-visible,select:focus-visible{outline:3px solid #f2a900;outline-offset:2px}
/* Console figures: a tile each, the number under its label. */
.figures{display:flex;flex-wrap:wrap;gap:.8rem;margin:.8rem 0}
.figures>div{display:flex;flex-direction:column;gap:.15rem;background:#f1f4fa;border-radius:6px;padding:.5rem .9rem;min-width:8.5rem}
.figures strong{font-size:1.6rem;font-variant-numeric:tabular-nums}
"#;

pub(crate) fn layout(
    title: &str,
    who: Option<&Principal>,
    csrf: Option<&str>,
    demo: bool,
    body: Markup,
) -> Html<String> {
    let nav = match who {
        Some(p) => Nav::SignedIn(p, csrf.unwrap_or_default()),
        None => Nav::SignedOut,
    };
    layout_nav(title, nav, demo, body)
}

/// What the header knows of the visitor.
pub(crate) enum Nav<'a> {
    SignedIn(&'a Principal, &'a str),
    SignedOut,
    /// An error page: whoever it is, offer no account links.
    Unknown,
}

pub(crate) fn layout_nav(title: &str, nav: Nav<'_>, demo: bool, body: Markup) -> Html<String> {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Tessera" }
                link rel="icon" type="image/svg+xml" href="/wallet/icon.svg";
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    a.brand href="/" { "Tessera · Official ticket shop" }
                    a href="/sessions" { "Sessions" }
                    a href="/orders" { "My orders" }
                    a href="/wallet" { "Wallet" }
                    a href="/resale" { "Resale" }
                    @if demo { a href="/mailbox" { "Mailbox (demo)" } }
                    @match nav {
                        Nav::SignedIn(p, csrf) => {
                            @if p.role == tessera_store::Role::Operator {
                                a href="/operator/airlock" { "Airlock" }
                                a href="/operator/gates" { "Gates" }
                                a href="/operator/payments" { "Payments" }
                            }
                            span.muted style="color:#cfd8ea" { (p.display_name) }
                            form method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(csrf);
                                button type="submit" { "Sign out" }
                            }
                        }
                        Nav::SignedOut => { a href="/login" { "Sign in" } a href="/register" { "Register" } }
                        Nav::Unknown => {}
                    }
                }
                main { (body) }
            }
        }
    };
    Html(page.into_string())
}

fn csrf_for(state: &AppState, who: &Principal) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(state.app.config.secret_key.expose_secret()).expect("hmac key");
    mac.update(b"csrf:");
    mac.update(who.session_id.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

/// Forms from signed-in pages carry a token bound to the sign-in session, on top of the
/// SameSite=Strict cookie, so that no other site can post them.
fn check_csrf(state: &AppState, who: &Principal, given: &str) -> Result<(), PageError> {
    let expected = csrf_for(state, who);
    if bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
        Ok(())
    } else {
        Err(PageError(ApiError::new(
            StatusCode::FORBIDDEN,
            "bad_csrf",
            "this form has expired; reload the page and try again",
        )))
    }
}

/// An error shown as a page, with the API's status and message.
pub struct PageError(pub ApiError);

/// `Form<T>` whose refusals are pages (a form a browser cannot have sent, a missing field):
/// 422 with the reason, or 415 for another body type, never axum's plain text.
pub struct PageForm<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for PageForm<T> {
    type Rejection = PageError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, PageError> {
        use axum::extract::rejection::FormRejection;
        match Form::<T>::from_request(req, state).await {
            Ok(Form(v)) => Ok(PageForm(v)),
            Err(FormRejection::InvalidFormContentType(_)) => Err(PageError(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send this form as application/x-www-form-urlencoded, as a browser does",
            ))),
            Err(r) => Err(PageError(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_form", r.body_text()))),
        }
    }
}

/// `Query<T>` whose refusals are pages.
pub struct PageQuery<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for PageQuery<T> {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, PageError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| PageQuery(q.0))
            .map_err(|r| PageError(ApiError::bad_request("invalid_query", r.body_text())))
    }
}

impl<E: Into<ApiError>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let e = self.0;
        let body = html! {
            div.card {
                h2 { "That did not work" }
                p.error { (e.message) }
                p.muted { "Error code: " span.mono { (e.code) } }
                // No `javascript:` link back: the page policy allows no inline script but its own.
                p { a href="/" { "Home" } @if e.status == StatusCode::UNAUTHORIZED { " · " a href="/login" { "Sign in" } } }
            }
        };
        // The error does not say who is signed in: the header offers no account links rather
        // than a "Sign in" to a fan who is.
        let mut response = (e.status, layout_nav("Error", Nav::Unknown, false, body)).into_response();
        if e.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(crate::error::RETRY_AFTER_SECS),
            );
        }
        response
    }
}

type PageResult = Result<Response, PageError>;

fn need_login() -> PageError {
    PageError(ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "sign in first"))
}

fn euros(c: Cents) -> String {
    c.to_string()
}

/// Local time of the event with its offset (winter and summer differ): one formatter for every page.
fn when(s: &AppState, t: Timestamp) -> String {
    s.app.config.event_zone.format(t)
}

async fn home(State(s): State<AppState>, MaybeAuthed(who): MaybeAuthed) -> PageResult {
    let phases = s.app.store.list_phases().await?;
    let figures = s.app.catalogue_figures().await?;
    let facets = s.app.catalogue_facets().await?;
    let csrf = who.as_ref().map(|p| csrf_for(&s, p));
    let body = html! {
        h1 { "Welcome to the official ticket shop" }
        p { "One shop, one account per fan. Tickets are sold in phases: enter a phase's lottery, and if you are drawn you get a "
            strong { "48-hour purchase slot" } " announced two days ahead. Caps keep tickets for fans: at most 30 per account, 6 per session, 4 for ceremonies." }
        @if !facets.sports.is_empty() {
            div.card {
                h2 { "Find a session by sport" }
                nav.chips aria-label="Sessions by sport" {
                    @for (sport, n) in &facets.sports {
                        a href={"/sessions?sport=" (enc(sport))} { (sport) " " span.muted { (n) } }
                    }
                }
            }
        }
        div.card {
            h2 { "Sales phases" }
            @if phases.is_empty() { p.muted { "No sales phase yet." } }
            table {
                @for p in &phases {
                    tr {
                        td { a href={"/phases/" (p.code)} { (p.name) } }
                        td { span.badge { (phase_status_text(p.status)) } }
                        td.muted { (p.entries) " entries" }
                    }
                }
            }
        }
        div.card {
            h2 { "The Games in numbers" }
            p { (figures) }
            a href="/sessions" { "Browse sessions with live availability →" }
        }
    };
    Ok(layout("Home", who.as_deref(), csrf.as_deref(), s.demo, body).into_response())
}

fn phase_status_text(s: PhaseStatus) -> &'static str {
    match s {
        PhaseStatus::Draft => "coming soon",
        PhaseStatus::Registration => "lottery open: enter now",
        PhaseStatus::Closed => "lottery closed, draw soon",
        PhaseStatus::Drawn => "drawn: winners buy in their slots",
    }
}

// ---- accounts ---------------------------------------------------------------------------

/// What a refused form sends back to its page, the password excepted.
#[derive(Default)]
struct Typed<'a> {
    email: &'a str,
    display_name: &'a str,
    /// Where to go after signing in.
    next: &'a str,
}

fn account_form(action: &str, title: &str, with_name: bool, error: Option<&str>, typed: &Typed<'_>) -> Markup {
    html! {
        div.card {
            h2 { (title) }
            @if let Some(e) = error { p.error { (e) } }
            form method="post" action=(action) {
                label { "Email" input type="email" name="email" required autocomplete="email" value=(typed.email); }
                @if with_name { label { "Your name" input type="text" name="display_name" required maxlength="80" value=(typed.display_name); } }
                label { "Password" input type="password" name="password" required
                    autocomplete=(if with_name { "new-password" } else { "current-password" }); }
                @if with_name { p.muted { "At least 10 characters. A passphrase of several words is best." } }
                @if let Some(next) = local_path(typed.next) { input type="hidden" name="next" value=(next); }
                button.primary type="submit" { (title) }
            }
            @if !with_name { p { a href="/forgot" { "Forgot your password?" } } }
        }
    }
}

/// The register or sign-in page, with the error of a refused attempt, if any.
fn account_page(s: &AppState, register: bool, error: Option<ApiError>, typed: &Typed<'_>) -> Response {
    let (action, title) = if register { ("/register", "Register") } else { ("/login", "Sign in") };
    let status = error.as_ref().map_or(StatusCode::OK, |e| e.status);
    let form = account_form(action, title, register, error.as_ref().map(|e| e.message.as_str()), typed);
    (status, layout(title, None, None, s.demo, form)).into_response()
}

async fn register_form(State(s): State<AppState>) -> Response {
    account_page(&s, true, None, &Typed::default())
}

#[derive(Deserialize)]
struct RegisterForm {
    email: String,
    password: String,
    display_name: String,
}

async fn register(State(s): State<AppState>, PageForm(f): PageForm<RegisterForm>) -> Response {
    match s.app.register(&f.email, &f.password, &f.display_name).await {
        Ok(r) => {
            let body = html! {
                div.card {
                    h2 { "Check your mailbox" }
                    p.ok { "We sent a mail to " strong { (r.email()) } "." }
                    @if s.demo { p { "In the demo no mail leaves this machine: " a href="/login?next=/mailbox" { "sign in" } " and open the demo mailbox." } }
                    p { a href="/login" { "Sign in" } }
                }
            };
            layout("Registered", None, None, s.demo, body).into_response()
        }
        Err(e) => {
            account_page(&s, true, Some(e.into()), &Typed { email: &f.email, display_name: &f.display_name, next: "" })
        }
    }
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_form(State(s): State<AppState>, PageQuery(q): PageQuery<NextQuery>) -> Response {
    account_page(&s, false, None, &Typed { next: q.next.as_deref().unwrap_or_default(), ..Typed::default() })
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

async fn login(State(s): State<AppState>, headers: HeaderMap, PageForm(f): PageForm<LoginForm>) -> Response {
    let device = cookie_in(&headers, DEVICE_COOKIE);
    match s.app.login_from(&f.email, &f.password, device).await {
        Ok(signed) => {
            let mut resp = Redirect::to(local_path(&f.next).unwrap_or("/")).into_response();
            resp.headers_mut().append(header::SET_COOKIE, session_cookie(&s, &signed).parse().expect("cookie"));
            resp.headers_mut().append(header::SET_COOKIE, device_cookie(&s, &signed.device).parse().expect("cookie"));
            resp
        }
        Err(e) => account_page(&s, false, Some(e.into()), &Typed { email: &f.email, display_name: "", next: &f.next }),
    }
}

/// A path on this site to go back to after signing in; anything else (`//evil.example`,
/// `https://...`) is refused, so the sign-in page cannot be used as an open redirect.
fn local_path(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && next.len() <= 200
        && next.chars().all(|c| c.is_ascii_graphic());
    ok.then_some(next)
}

/// The known-device cookie: a year long, sent only with the sign-in form's post.
fn device_cookie(s: &AppState, token: &str) -> String {
    format!(
        "{DEVICE_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict; Max-Age={}{}",
        tessera_app::auth::DEVICE_TTL_SECS,
        if s.secure_cookies { "; Secure" } else { "" }
    )
}

fn session_cookie(s: &AppState, signed: &tessera_app::auth::SignedIn) -> String {
    let max_age = (signed.expires_at.0 - s.app.now().0).max(0);
    format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        signed.token,
        if s.secure_cookies { "; Secure" } else { "" }
    )
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(s): State<AppState>,
    MaybeAuthed(who): MaybeAuthed,
    PageForm(f): PageForm<CsrfForm>,
) -> PageResult {
    if let Some(p) = who {
        check_csrf(&s, &p, &f.csrf)?;
        s.app.logout(&p).await?;
    }
    let clear = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    Ok(([(header::SET_COOKIE, clear)], Redirect::to("/")).into_response())
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// Confirms the address and, the first time, signs the fan in: they came from their mailbox.
async fn verify(State(s): State<AppState>, PageQuery(q): PageQuery<TokenQuery>) -> PageResult {
    let signed = s.app.verify_email_and_sign_in(q.token.as_deref().unwrap_or_default()).await?;
    let body = html! { div.card { h2 { "Email confirmed" }
    p.ok { "You can now enter the lottery of an open sales phase." }
    @if signed.is_some() { p { "You are signed in." } } @else { p { a href="/login" { "Sign in" } " to continue." } }
    a href="/" { "Continue" } } };
    match signed {
        Some(signed) => {
            let who = s.app.authenticate(&signed.token).await?;
            let csrf = csrf_for(&s, &who);
            let page = layout("Email confirmed", Some(&who), Some(&csrf), s.demo, body);
            Ok(([(header::SET_COOKIE, session_cookie(&s, &signed))], page).into_response())
        }
        None => Ok(layout("Email confirmed", None, None, s.demo, body).into_response()),
    }
}

async fn forgot_form(State(s): State<AppState>) -> Html<String> {
    let body = html! {
        div.card { h2 { "Reset your password" }
            form method="post" action="/forgot" {
                label { "Email" input type="email" name="email" required; }
                button.primary type="submit" { "Send me a link" }
            }
        }
    };
    layout("Reset password", None, None, s.demo, body)
}

#[derive(Deserialize)]
struct ForgotForm {
    email: String,
}

async fn forgot(State(s): State<AppState>, PageForm(f): PageForm<ForgotForm>) -> PageResult {
    s.app.request_password_reset(&f.email).await?;
    let body = html! { div.card { p.ok { "If this address has an account, a reset link is on its way." } } };
    Ok(layout("Reset password", None, None, s.demo, body).into_response())
}

async fn reset_form(State(s): State<AppState>, PageQuery(q): PageQuery<TokenQuery>) -> Html<String> {
    let body = html! {
        div.card { h2 { "Choose a new password" }
            form method="post" action="/reset" {
                input type="hidden" name="token" value=(q.token.unwrap_or_default());
                label { "New password" input type="password" name="password" required autocomplete="new-password"; }
                button.primary type="submit" { "Save" }
            }
        }
    };
    layout("Reset password", None, None, s.demo, body)
}

#[derive(Deserialize)]
struct ResetForm {
    token: String,
    password: String,
}

async fn reset(State(s): State<AppState>, PageForm(f): PageForm<ResetForm>) -> PageResult {
    s.app.reset_password(&f.token, &f.password).await?;
    let body = html! { div.card { p.ok { "Password changed. Every other session was signed out." } a href="/login" { "Sign in" } } };
    Ok(layout("Password changed", None, None, s.demo, body).into_response())
}

// ---- catalogue --------------------------------------------------------------------------

#[derive(Deserialize, Default)]
struct SessionsQuery {
    /// Words in the title, sport, code, venue or city.
    q: Option<String>,
    sport: Option<String>,
    venue: Option<String>,
    /// A local day of the event, `2024-07-27`.
    day: Option<String>,
    /// In whole euros.
    max_price: Option<String>,
    available: Option<String>,
    page: Option<i64>,
}

const PER_PAGE: i64 = 50;

/// Percent-encodes a query value (everything but letters, digits and `-_.~`).
fn enc(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The session list with search, filters and the event's days: a fan finds a session by
/// sport (a chip on the home page or here) and day (the strip of days) in two clicks.
async fn sessions(
    State(s): State<AppState>,
    MaybeAuthed(who): MaybeAuthed,
    PageQuery(q): PageQuery<SessionsQuery>,
) -> PageResult {
    let page = q.page.unwrap_or(0).clamp(0, 1000);
    let keep = |v: &Option<String>| v.as_deref().map(str::trim).filter(|x| !x.is_empty()).map(str::to_string);
    let (text, sport, venue) = (keep(&q.q), keep(&q.sport), keep(&q.venue));
    let mut problems = Vec::new();
    let text = text.filter(|t| {
        let ok = t.chars().count() <= 100;
        if !ok {
            problems.push("search for at most 100 characters".to_string());
        }
        ok
    });
    let day = keep(&q.day).and_then(|d| match d.parse::<jiff::civil::Date>() {
        Ok(date) => Some(date),
        Err(_) => {
            problems.push(format!("{d:?} is not a date; give it as 2024-07-27"));
            None
        }
    });
    let max_price = keep(&q.max_price).and_then(|p| match p.parse::<i64>() {
        Ok(e) if (0..=100_000).contains(&e) => Some(Cents(e * 100)),
        _ => {
            problems.push(format!("{p:?} is not a price in euros"));
            None
        }
    });
    let available = q.available.as_deref().is_some_and(|a| !a.is_empty() && a != "0");
    let zone = &s.app.config.event_zone;
    let bounds = day.and_then(|d| zone.day_bounds(d));
    let filter = SessionFilter {
        sport: sport.clone(),
        venue: venue.clone(),
        available_only: available,
        from: bounds.map(|b| b.0),
        until: bounds.map(|b| b.1),
        max_price,
        text: text.clone(),
        limit: PER_PAGE,
        offset: page * PER_PAGE,
    };
    let list = s.app.store.list_sessions(&filter).await?;
    let facets = s.app.catalogue_facets().await?;
    let csrf = who.as_ref().map(|p| csrf_for(&s, p));
    // The same filters as a query string, for the pages, the days and the live updates.
    let mut params: Vec<(&str, String)> = Vec::new();
    for (k, v) in [("q", &text), ("sport", &sport), ("venue", &venue)] {
        if let Some(v) = v {
            params.push((k, v.clone()));
        }
    }
    if let Some(p) = max_price {
        params.push(("max_price", (p.0 / 100).to_string()));
    }
    if available {
        params.push(("available", "1".into()));
    }
    let query = |extra: &[(&str, String)]| -> String {
        params.iter().chain(extra).map(|(k, v)| format!("{k}={}", enc(v))).collect::<Vec<_>>().join("&")
    };
    let day_param: Vec<(&str, String)> = day.map(|d| vec![("day", d.to_string())]).unwrap_or_default();
    let mut api = format!("/api/v1/sessions?limit={PER_PAGE}&offset={}", page * PER_PAGE);
    for (k, v) in [("q", &text), ("sport", &sport), ("venue", &venue)] {
        if let Some(v) = v {
            api.push_str(&format!("&{k}={}", enc(v)));
        }
    }
    if let Some((from, until)) = bounds {
        api.push_str(&format!("&from={}&until={}", enc(&from.to_rfc3339()), enc(&until.to_rfc3339())));
    }
    if let Some(p) = max_price {
        api.push_str(&format!("&max_price_cents={}", p.0));
    }
    if available {
        api.push_str("&available=true");
    }
    let page_link = |n: i64| {
        let mut extra = day_param.clone();
        extra.push(("page", n.to_string()));
        format!("/sessions?{}", query(&extra))
    };
    let body = html! {
        h1 { "Sessions" }
        form.filters method="get" action="/sessions" role="search" {
            label { "Search" input type="search" name="q" value=[text.as_deref()] placeholder="sport, venue, city, title"; }
            label { "Sport" select name="sport" {
                option value="" { "Any sport" }
                @for (name, n) in &facets.sports { option value=(name) selected[sport.as_deref() == Some(name)] { (name) " (" (n) ")" } }
            } }
            label { "Venue" select name="venue" {
                option value="" { "Any venue" }
                @for (code, name, n) in &facets.venues { option value=(code) selected[venue.as_deref() == Some(code)] { (name) " (" (n) ")" } }
            } }
            label { "Day" select name="day" {
                option value="" { "Any day" }
                @for (d, n) in &facets.days { option value=(d) selected[day == Some(*d)] { (d.strftime("%a %e %b")) " (" (n) ")" } }
            } }
            label { "Price up to (€)" input type="number" name="max_price" min="0" max="100000" step="1" inputmode="numeric" value=[max_price.map(|p| p.0 / 100)]; }
            label.check { input type="checkbox" name="available" value="1" checked[available]; "Seats left only" }
            button.primary type="submit" { "Find" }
        }
        @for p in &problems { p.error role="alert" { (p) } }
        nav.days aria-label="Days of the event" {
            a href={"/sessions?" (query(&[]))} aria-current=[day.is_none().then_some("page")] { "All days" }
            @for (d, n) in &facets.days {
                a href={"/sessions?" (query(&[("day", d.to_string())]))} aria-current=[(day == Some(*d)).then_some("page")] {
                    strong { (d.strftime("%a %e")) } " " span.muted { (d.strftime("%b")) " · " (n) }
                }
            }
        }
        p.muted { (list.len()) @if list.len() as i64 == PER_PAGE { "+" } " sessions. Seats left update live every few seconds." }
        table #sessions data-api=(api) {
            tr { th { "Session" } th { "When (" (zone.city()) ")" } th { "Venue" } th { "From" } th { "Seats left" } }
            @for x in &list {
                tr {
                    td { a href={"/sessions/" (x.code)} { span.mono { (x.code) } " " (x.title) } @if x.ceremony { " " span.badge { "ceremony" } } }
                    td { (when(&s, x.starts_at)) }
                    td { (x.venue_name) ", " (x.city) }
                    td { (euros(x.min_price)) }
                    td data-avail=(x.code) { @if x.available == 0 { span.soldout { "sold out" } } @else { (thousands(x.available)) } }
                }
            }
        }
        @if list.is_empty() { p { "No session matches. " a href="/sessions" { "Show them all" } } }
        p {
            @if page > 0 { a href=(page_link(page - 1)) { "← previous" } " " }
            @if list.len() as i64 == PER_PAGE { a href=(page_link(page + 1)) { "next →" } }
        }
        script { (PreEscaped(LIVE_AVAILABILITY_JS)) }
    };
    let status = if problems.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, layout("Sessions", who.as_deref(), csrf.as_deref(), s.demo, body)).into_response())
}

pub(crate) const LIVE_AVAILABILITY_JS: &str = r#"
(function(){
  const t=document.getElementById('sessions'); if(!t) return;
  async function tick(){
    try{
      const r=await fetch(t.dataset.api,{headers:{accept:'application/json'}}); if(!r.ok) return;
      for(const s of await r.json()){
        const c=document.querySelector('[data-avail="'+s.code+'"]'); if(!c) continue;
        c.innerHTML = s.available===0 ? '<span class="soldout">sold out</span>' : s.available.toLocaleString('en');
      }
    }catch(e){}
  }
  setInterval(tick,3000);
})();
"#;

async fn session(State(s): State<AppState>, MaybeAuthed(who): MaybeAuthed, Path(code): Path<String>) -> PageResult {
    let d = s.app.store.session(&code).await?.ok_or_else(|| ApiError::not_found(&format!("session {code}")))?;
    // Seats go to a cart of a phase in which this fan's purchase slot is open now, never to
    // whichever phase happens to be drawn last; without such a slot there is nothing to add.
    let mut open = Vec::new();
    if let Some(w) = &who {
        let now = s.app.now();
        for p in s.app.store.list_phases().await?.into_iter().filter(|p| p.status == PhaseStatus::Drawn) {
            if s.app.store.slot(p.id, w.account_id).await?.is_some_and(|sl| sl.is_open(now)) {
                open.push(p);
            }
        }
    }
    let csrf = who.as_ref().map(|p| csrf_for(&s, p));
    let x = &d.summary;
    let body = html! {
        h1 { span.mono { (x.code) } " " (x.title) }
        p { (x.sport) " · " (when(&s, x.starts_at)) " – " (when(&s, x.ends_at)) " (Paris) · " (x.venue_name) ", " (x.city) }
        p.muted { "Entrances: " (d.zones.join(", ")) }
        @if x.ceremony { p { span.badge { "ceremony" } " at most 4 tickets per account" } }
        table {
            tr { th { "Category" } th { "Price" } th { "Seats left" } th {} }
            @for c in &d.categories {
                tr {
                    td { (c.name) }
                    td { (euros(c.price)) }
                    td { @if c.available == 0 { span.soldout { "sold out" } } @else { (thousands(c.available)) " of " (thousands(c.quota)) } }
                    td {
                        @if let Some(csrf) = &csrf {
                            @if c.available > 0 {
                                @for p in &open {
                                    form method="post" action={"/phases/" (p.code) "/cart"} style="display:flex;gap:.4rem;align-items:center" {
                                        input type="hidden" name="csrf" value=(csrf);
                                        input type="hidden" name="category_id" value=(c.id.0);
                                        label { span.visually-hidden { "Tickets" } input type="number" name="quantity" value="1" min="1" max="6" style="width:4rem;margin:0"; }
                                        button.primary type="submit" { "Add to cart" @if open.len() > 1 { " · " (p.name) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if who.is_none() { p { a href="/login" { "Sign in" } " to buy." } }
        @if who.is_some() && open.is_empty() {
            p.muted { "You have no purchase slot open now: seats go to a cart only during your slot. "
                a href="/" { "See the sales phases" } "." }
        }
    };
    Ok(layout(&x.title, who.as_deref(), csrf.as_deref(), s.demo, body).into_response())
}

// ---- a phase: lottery, slot, cart, checkout ---------------------------------------------

async fn phase(
    State(s): State<AppState>,
    MaybeAuthed(who): MaybeAuthed,
    Path(code): Path<String>,
    headers: axum::http::HeaderMap,
) -> PageResult {
    let p = s.app.phase(&code).await?;
    let room = s.app.airlock.room(&code).map(|r| r.settings());
    let admitted = match &who {
        Some(w) => {
            room.is_some() && s.app.check_admission(w, &code, crate::extract::admission_of(&headers).as_deref()).is_ok()
        }
        None => false,
    };
    let now = s.app.now();
    let csrf = who.as_ref().map(|w| csrf_for(&s, w));
    let (entry, slot, cart) = match &who {
        Some(w) => (
            s.app.store.entry(p.id, w.account_id).await?,
            s.app.store.slot(p.id, w.account_id).await?,
            s.app.store.current_cart(w.account_id, p.id, now).await?,
        ),
        None => (None, None, None),
    };
    let idem = tessera_app::random_hex(16);
    let body = html! {
        h1 { (p.name) }
        p { span.badge { (phase_status_text(p.status)) } " " (p.entries) " entries" }
        div.card {
            h2 { "The draw, verifiable by anyone" }
            @if let Some(c) = &p.seed_sha256 { p { "Seed commitment (SHA-256): " span.mono { (c) } } }
            @if let Some(e) = &p.entries_sha256 { p { "Entry list digest: " span.mono { (e) } } }
            p.muted { "Files: "
                a href={"/api/v1/phases/" (p.code) "/commitment.json"} { "commitment.json" } " · "
                a href={"/api/v1/phases/" (p.code) "/entries.txt"} { "entries.txt" } " · "
                a href={"/api/v1/phases/" (p.code) "/result.json"} { "result.json" }
                ". Check them with " span.mono { "tessera admin verify-draw" } "." }
        }
        @if let Some(r) = &room {
            div.card #waiting-room {
                h2 { "Waiting room" }
                @if admitted {
                    p.ok { "You are admitted to the shop: choose your seats and pay before your admission expires." }
                } @else {
                    p { "The shop of this phase opens through a waiting room at " strong { (when(&s, Timestamp(r.room.opens_at_ms.div_euclid(1000)))) } " (Paris). "
                        "Everyone who arrives before then gets a random place; after that, first come, first served." }
                    p { a.button href={ "/phases/" (p.code) "/queue" } { "Join the queue" } }
                }
            }
        }
        div.card {
            h2 { "Your entry" }
            @match (&who, &entry) {
                (None, _) => { p { a href="/login" { "Sign in" } " to enter." } }
                (Some(_), Some(e)) => { p.ok { "You are in the draw. Your entry code: " span.mono { (e.entry_code) } } }
                (Some(w), None) => {
                    @if p.status == PhaseStatus::Registration {
                        @if !w.email_verified { p.error { "Confirm your email address first (see your mailbox)." } }
                        form method="post" action={"/phases/" (p.code) "/enter"} {
                            input type="hidden" name="csrf" value=(csrf.clone().unwrap_or_default());
                            button.primary type="submit" { "Enter the lottery" }
                        }
                    } @else { p.muted { "This phase does not take entries now." } }
                }
            }
            @if let Some(sl) = &slot {
                p { "Drawn at rank " strong { (sl.rank) } " (wave " (sl.wave) "). Your purchase slot: "
                    strong { (when(&s, sl.starts_at)) " – " (when(&s, sl.ends_at)) } " (Paris)." }
                @if sl.is_open(now) { p.ok { "Your slot is open: " a href="/sessions" { "choose your sessions" } "." } }
                @else if now < sl.starts_at { p.muted { "Your slot has not opened yet." } }
                @else { p.muted { "Your slot has ended." } }
            } @else if entry.is_some() && p.status == PhaseStatus::Drawn {
                p.muted { "Your entry was not drawn in this phase." }
            }
        }
        @if let Some(c) = &cart {
            div.card {
                h2 { "Your cart" }
                p.muted { "Seats are held until " span #expiry data-expires=(c.expires_at.0) { (when(&s, c.expires_at)) } "." }
                table {
                    tr { th { "Session" } th { "Category" } th { "Qty" } th { "Price" } th {} }
                    @for l in &c.lines {
                        tr {
                            td { span.mono { (l.session_code) } " " (l.session_title) }
                            td { (l.category_name) }
                            td { (l.qty) }
                            td { (euros(Cents(l.unit_price.0 * l.qty))) }
                            td { form method="post" action={"/phases/" (p.code) "/cart/remove"} {
                                input type="hidden" name="csrf" value=(csrf.clone().unwrap_or_default());
                                input type="hidden" name="category_id" value=(l.category_id.0);
                                button type="submit" { "Remove" } } }
                        }
                    }
                    tr { th colspan="3" { "Total" } th { (euros(c.total())) } th {} }
                }
                h3 { "Pay" }
                p.muted { "Sandbox payments: use 4242 4242 4242 4242, any future expiry, any 3-digit code. 4000 0000 0000 0002 is declined." }
                form method="post" action={"/phases/" (p.code) "/checkout"} {
                    input type="hidden" name="csrf" value=(csrf.clone().unwrap_or_default());
                    input type="hidden" name="cart_id" value=(c.id.0);
                    input type="hidden" name="idempotency_key" value=(idem);
                    label { "Card holder" input name="holder" required value=(who.as_ref().map(|w| w.display_name.clone()).unwrap_or_default()); }
                    label { "Card number" input name="number" required inputmode="numeric" autocomplete="cc-number"; }
                    label { "Expiry month" input name="exp_month" type="number" min="1" max="12" required; }
                    label { "Expiry year" input name="exp_year" type="number" min="2024" max="2100" required; }
                    label { "Security code" input name="cvc" required inputmode="numeric" maxlength="4"; }
                    button.primary type="submit" { "Pay " (euros(c.total())) }
                }
                script { (PreEscaped(COUNTDOWN_JS)) }
            }
        }
    };
    Ok(layout(&p.name, who.as_deref(), csrf.as_deref(), s.demo, body).into_response())
}

pub(crate) const COUNTDOWN_JS: &str = r#"
(function(){
  const e=document.getElementById('expiry'); if(!e) return;
  const end=Number(e.dataset.expires)*1000;
  function tick(){ const s=Math.max(0,Math.round((end-Date.now())/1000));
    e.textContent = s>0 ? Math.floor(s/60)+' min '+String(s%60).padStart(2,'0')+' s from now' : 'now: the seats were released'; }
  tick(); setInterval(tick,1000);
})();
"#;

fn signed_in(who: Option<std::sync::Arc<Principal>>) -> Result<std::sync::Arc<Principal>, PageError> {
    who.ok_or_else(need_login)
}

async fn enter(
    State(s): State<AppState>,
    MaybeAuthed(who): MaybeAuthed,
    Path(code): Path<String>,
    PageForm(f): PageForm<CsrfForm>,
) -> PageResult {
    let who = signed_in(who)?;
    check_csrf(&s, &who, &f.csrf)?;
    s.app.enter_lottery(&who, &code).await?;
    Ok(Redirect::to(&format!("/phases/{code}")).into_response())
}

#[derive(Deserialize)]
struct CartForm {
    csrf: String,
    category_id: i64,
    quantity: Option<i64>,
}

async fn add_to_cart(
    State(s): State<AppState>,
    MaybeAuthed(who): MaybeAuthed,
    Path(code): Path<String>,
    headers: axum::http::HeaderMap,
    PageForm(f): PageForm<CartForm>,
) -> PageResult {
    let who = signed_in(who)?;
    check_csrf(&s, &who, &f.csrf)?;
    s.app.check_admission(&who, &code, crate::extract::admission_of(&headers).as_deref())?;
    s.app.add_to_cart(&who, &code, CategoryId(f.category_id), f.quantity.unwrap_or(1)).await?;
    Ok(Redirect::to(&format!("/phases/{code}")).into_response())
}

async fn remove_from_cart(
    State(s): State<AppState>,
    MaybeAuthed(who): MaybeAuthed,
    Path(code): Path<String>,
    PageForm(f): PageForm<CartForm>,
) -> PageResult {
    let who = signed_in(who)?;
    check_csrf(&s, &who, &f.csrf)?;
    let cart = s.app.cart(&who, &code).await?.ok_or_else(|| ApiError::not_found("cart"))?;
    s.app.remove_from_cart(&who, cart.id, CategoryId(f.category_id)).await?;
    Ok(Redirect::to(&format!("/phases/{code}")).into_response())
}

#[derive(Deserialize)]
struct CheckoutForm {
    csrf: String,
    cart_id: i64,
    idempotency_key: String,
    holder: String,
    number: String,
    exp_month: u32,
    exp_year: u32,
    cvc: String,
}

async fn checkout(
    State(s): State<AppState>,
    MaybeAuthed(who): MaybeAuthed,
    Path(code): Path<String>,
    headers: axum::http::HeaderMap,
    PageForm(f): PageForm<CheckoutForm>,
) -> PageResult {
    let who = signed_in(who)?;
    check_csrf(&s, &who, &f.csrf)?;
    s.app.check_admission(&who, &code, crate::extract::admission_of(&headers).as_deref())?;
    let req = CheckoutRequest {
        cart: CartId(f.cart_id),
        idempotency_key: f.idempotency_key,
        card: Card { number: f.number, exp_month: f.exp_month, exp_year: f.exp_year, cvc: f.cvc, holder: f.holder },
    };
    let order = s.app.checkout(&who, &code, &req).await?;
    metrics::counter!("tessera_orders_paid_total").increment(1);
    // Redirect after the post, so that a reload does not post again; the order page confirms.
    Ok(Redirect::to(&format!("/orders?paid={}", enc(&order.code))).into_response())
}

#[derive(Deserialize)]
struct OrdersQuery {
    /// The order just paid, to confirm at the top (only if it is this fan's).
    paid: Option<String>,
}

async fn orders(
    State(s): State<AppState>,
    MaybeAuthed(who): MaybeAuthed,
    PageQuery(q): PageQuery<OrdersQuery>,
) -> PageResult {
    let who = signed_in(who)?;
    let orders = s.app.orders(&who).await?;
    let csrf = csrf_for(&s, &who);
    let paid = q.paid.as_deref().and_then(|code| orders.iter().find(|o| o.code == code));
    let body = html! {
        @if let Some(o) = paid {
            div.card.ok role="status" {
                h1 { "Thank you: order " span.mono { (o.code) } " is paid" }
                p { (o.tickets.len()) @if o.tickets.len() == 1 { " ticket" } @else { " tickets" } ", " (euros(o.total)) " charged to your card." }
                p { "Your phone tickets appear in the " a href="/wallet" { "wallet" } " a few hours before each session: "
                    "open it on the phone you will bring to the gate." }
            }
        }
        h1 { "My tickets" }
        @if orders.is_empty() { p.muted { "No tickets yet." } }
        @for o in &orders {
            div.card {
                h2 { "Order " span.mono { (o.code) } }
                p.muted { "Paid " (when(&s, o.created_at)) " · " (euros(o.total)) }
                table tabindex="0" aria-label="Tickets" {
                    tr { th { "Ticket" } th { "Session" } th { "When (Paris)" } th { "Venue" } th { "Category" } }
                    @for t in &o.tickets {
                        tr { td.mono { (t.code) } td { span.mono { (t.session_code) } " " (t.session_title) }
                             td { (when(&s, t.starts_at)) } td { (t.venue_name) } td { (t.category_name) } }
                    }
                }
            }
        }
    };
    Ok(layout("My tickets", Some(&who), Some(&csrf), s.demo, body).into_response())
}

async fn mailbox(State(s): State<AppState>, MaybeAuthed(who): MaybeAuthed) -> PageResult {
    if !s.demo {
        return Err(PageError(ApiError::not_found("page")));
    }
    // Only one's own mail: the outbox holds sign-in and password-reset links, so showing it
    // to anyone would let a visitor reset the operator's password and read the link. An
    // operator sees every mail; an anonymous visitor none (the person running the demo has
    // the .eml files).
    let mails = match &who {
        None => Vec::new(),
        Some(w) if w.role == tessera_store::Role::Operator => s.app.store.recent_mail(None, 50).await?,
        Some(w) => s.app.store.recent_mail(Some(w.email.as_str()), 50).await?,
    };
    let csrf = who.as_ref().map(|p| csrf_for(&s, p));
    let body = html! {
        h1 { "Demo mailbox" }
        p.muted { "In the demo, no mail leaves this machine: the outbox is shown here"
            @if let Some(d) = &s.mail_dir { " and written as .eml files to " span.mono { (d.display()) } }
            ". " @if who.is_none() { "Sign in to read your own mail." } }
        @for m in &mails {
            div.card {
                p { strong { (m.subject) } " → " (m.to) " " span.muted { (when(&s, m.created_at)) } }
                pre style="white-space:pre-wrap" { (linkify(&m.body)) }
            }
        }
    };
    Ok(layout("Mailbox", who.as_deref(), csrf.as_deref(), s.demo, body).into_response())
}

/// Makes the links in a mail clickable, escaping everything else.
fn linkify(text: &str) -> Markup {
    html! {
        @for (i, line) in text.lines().enumerate() {
            @if i > 0 { "\n" }
            @if line.starts_with("http://") || line.starts_with("https://") { a href=(line) { (line) } } @else { (line) }
        }
    }
}
