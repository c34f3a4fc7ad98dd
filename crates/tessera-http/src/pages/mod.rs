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
use tessera_domain::ErrorCode;
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
        .route("/lang/{code}", get(set_lang))
        .merge(wallet::routes())
        .merge(console::routes())
}

#[derive(Deserialize)]
struct LangQuery {
    next: Option<String>,
}

/// The language switch: remembered in a cookie for a year, then back to the page (the
/// `Referer`, or `?next=`), on this site only.
async fn set_lang(
    State(s): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
    PageQuery(q): PageQuery<LangQuery>,
) -> PageResult {
    let lang = Lang::parse(&code).ok_or_else(|| ApiError::not_found(&format!("language {code:?}")))?;
    let back = q.next.or_else(|| {
        let referer = headers.get(header::REFERER)?.to_str().ok()?;
        let path = referer.strip_prefix(&s.app.config.public_url).unwrap_or(referer);
        path.starts_with('/').then(|| path.to_string())
    });
    let to = back.as_deref().and_then(local_path).unwrap_or("/").to_string();
    let cookie = format!(
        "{}={}; Path=/; SameSite=Lax; Max-Age=31536000{}",
        i18n::LANG_COOKIE,
        lang.code(),
        if s.secure_cookies { "; Secure" } else { "" }
    );
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(&to)).into_response())
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
.chart{width:100%;min-height:180px;margin-bottom:.5rem}
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
tr.selected td{background:#fff4d6}tr[data-case]{cursor:pointer}.sev-high,.sev-critical{color:#a32a1c;font-weight:600}
button{font:inherit;padding:.35rem .8rem;border:1px solid #0b5bd3;border-radius:4px;background:#fff;color:#0b5bd3;cursor:pointer}
button:focus-visible,a:focus-visible,input:focus-visible,select:focus-visible{outline:3px solid #f2a900;outline-offset:2px}
/* Console figures: a tile each, the number under its label. */
.figures{display:flex;flex-wrap:wrap;gap:.8rem;margin:.8rem 0}
.figures>div{display:flex;flex-direction:column;gap:.15rem;background:#f1f4fa;border-radius:6px;padding:.5rem .9rem;min-width:8.5rem}
.figures strong{font-size:1.6rem;font-variant-numeric:tabular-nums}
/* The operations wall: a tile per component, coloured by state; status words by severity. */
.tiles{display:flex;flex-wrap:wrap;gap:.3rem}.tile{border-radius:4px;padding:.2rem .5rem;font-size:.85rem;background:#e3e6ef;color:#1a1f36}
.st-up{background:#d7f0de}.st-degraded{background:#fdf0c8}.st-down,.st-unreachable{background:#f9d3cf}.st-maintenance{background:#dde6fb}
.status-ok,.status-operational{color:#1e6b3a}.status-warn,.status-degraded{color:#7a5200}.status-maint,.status-maintenance{color:#2a4a9a}
.status-bad,.status-partial_outage,.status-major_outage{color:#a32a1c}
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
        html lang=(i18n::current().code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Tessera" }
                link rel="icon" type="image/svg+xml" href="/wallet/icon.svg";
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    a.brand href="/" { "Tessera · " (tr("Official ticket shop", "Billetterie officielle")) }
                    a href="/sessions" { (tr("Sessions", "Séances")) }
                    a href="/orders" { (tr("My orders", "Mes commandes")) }
                    a href="/wallet" { (tr("Wallet", "Portefeuille")) }
                    a href="/resale" { (tr("Resale", "Revente")) }
                    a href="/results" { (tr("Results", "Résultats")) }
                    @if demo { a href="/mailbox" { (tr("Mailbox (demo)", "Courrier (démo)")) } }
                    @match i18n::current() {
                        Lang::En => a href="/lang/fr" lang="fr" hreflang="fr" { "Français" },
                        Lang::Fr => a href="/lang/en" lang="en" hreflang="en" { "English" },
                    }
                    @match nav {
                        Nav::SignedIn(p, csrf) => {
                            @if p.role == tessera_store::Role::Operator {
                                a href="/operator/airlock" { "Airlock" }
                                a href="/operator/gates" { "Gates" }
                                a href="/operator/payments" { (tr("Payments", "Paiements")) }
                                a href="/operator/results" { (tr("Feed", "Flux")) }
                                a href="/operator/toc" { (tr("Operations", "Opérations")) }
                            }
                            @if matches!(p.role, tessera_store::Role::Operator | tessera_store::Role::Accreditation | tessera_store::Role::Vetting) {
                                a href="/operator/accreditation" { (tr("Accreditation", "Accréditation")) }
                            }
                            @if p.role.sees_soc() {
                                a href="/operator/soc" { (tr("Security", "Sécurité")) }
                            }
                            @if matches!(p.role, tessera_store::Role::Operator | tessera_store::Role::Volunteers) {
                                a href="/operator/volunteers" { (tr("Volunteers", "Volontaires")) }
                            }
                            span.muted style="color:#cfd8ea" { (p.display_name) }
                            form method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(csrf);
                                button type="submit" { (tr("Sign out", "Se déconnecter")) }
                            }
                        }
                        Nav::SignedOut => {
                            a href="/login" { (tr("Sign in", "Se connecter")) }
                            a href="/register" { (tr("Register", "Créer un compte")) }
                        }
                        Nav::Unknown => {}
                    }
                }
                main { (body) }
            }
        }
    };
    Html(page.into_string())
}

/// The notice of a degraded mode in force that the visitor of this page notices (the shop
/// read-only on a session page), in the page's language.
pub(crate) fn contingency_notice(state: &AppState, modes: &[tessera_app::toc::Mode]) -> Markup {
    use tessera_app::toc::Mode;
    html! {
        @for &m in modes.iter().filter(|m| state.app.mode_on(**m)) {
            p.error role="status" { (match m {
                Mode::ShopReadOnly => tr("Ticket sales are paused for now: your tickets and orders are safe. Please come back later.", "La vente est suspendue pour l'instant : vos billets et commandes sont en sécurité. Revenez plus tard."),
                Mode::ShopQueueOnly => tr("Checkout is paused for now: everyone in the queue keeps their place.", "Le paiement est suspendu pour l'instant : chacun garde sa place dans la file."),
                Mode::WaitingRoomPaused => tr("The waiting room is paused: everyone keeps their place.", "La file d'attente est en pause : chacun garde sa place."),
                Mode::ResultsFromLastState => tr("Live results may be late: the last published state is shown.", "Les résultats peuvent être en retard : le dernier état publié est affiché."),
                Mode::GatesOfflineFirst => tr("Venue gates check tickets locally.", "Les portiques contrôlent les billets sur place."),
                Mode::DesksOfflineLists => tr("Accreditation desks work from their offline lists.", "Les guichets d'accréditation travaillent sur leurs listes hors ligne."),
            }) }
        }
    }
}

pub(crate) fn csrf_for(state: &AppState, who: &Principal) -> String {
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
        Err(PageError(ApiError::new(ErrorCode::BadCsrf, "this form has expired; reload the page and try again")))
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
                ErrorCode::UnsupportedMediaType,
                "send this form as application/x-www-form-urlencoded, as a browser does",
            ))),
            Err(r) => Err(PageError(ApiError::new(ErrorCode::InvalidForm, r.body_text()))),
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
            .map_err(|r| PageError(ApiError::new(ErrorCode::InvalidQuery, r.body_text())))
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
                h2 { (tr("That did not work", "Cela n'a pas fonctionné")) }
                p.error { (i18n::error_text(&e)) }
                p.muted { (tr("Error code: ", "Code d'erreur : ")) span.mono { (e.code) } }
                // No `javascript:` link back: the page policy allows no inline script but its own.
                p { a href="/" { (tr("Home", "Accueil")) } @if e.status == StatusCode::UNAUTHORIZED { " · " a href="/login" { (tr("Sign in", "Se connecter")) } } }
            }
        };
        // The error does not say who is signed in: the header offers no account links rather
        // than a "Sign in" to a fan who is.
        let mut response = (e.status, layout_nav(tr("Error", "Erreur"), Nav::Unknown, false, body)).into_response();
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
    PageError(ApiError::new(ErrorCode::Unauthenticated, "sign in first"))
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
        h1 { (tr("Welcome to the official ticket shop", "Bienvenue sur la billetterie officielle")) }
        p { (tr("One shop, one account per fan. Tickets are sold in phases: enter a phase's lottery, and if you are drawn you get a ",
                "Une billetterie, un compte par personne. Les billets sont vendus par phases : inscrivez-vous au tirage d'une phase ; si vous êtes tiré au sort, vous recevez un "))
            strong { (tr("48-hour purchase slot", "créneau d'achat de 48 heures")) }
            (tr(" announced two days ahead. Caps keep tickets for fans: at most 30 per account, 6 per session, 4 for ceremonies.",
                ", annoncé deux jours à l'avance. Des plafonds réservent les billets aux spectateurs : 30 par compte au plus, 6 par séance, 4 pour les cérémonies.")) }
        @if !facets.sports.is_empty() {
            div.card {
                h2 { (tr("Find a session by sport", "Trouver une séance par sport")) }
                nav.chips aria-label=(tr("Sessions by sport", "Séances par sport")) {
                    @for (sport, n) in &facets.sports {
                        a href={"/sessions?sport=" (enc(sport))} { (sport) " " span.muted { (n) } }
                    }
                }
            }
        }
        div.card {
            h2 { (tr("Sales phases", "Phases de vente")) }
            @if phases.is_empty() { p.muted { (tr("No sales phase yet.", "Pas encore de phase de vente.")) } }
            table {
                @for p in &phases {
                    tr {
                        td { a href={"/phases/" (p.code)} { (p.name) } }
                        td { span.badge { (phase_status_text(p.status)) } }
                        td.muted { (p.entries) " " (tr("entries", "inscriptions")) }
                    }
                }
            }
        }
        div.card {
            h2 { (tr("The Games in numbers", "Les Jeux en chiffres")) }
            p { (figures) }
            a href="/sessions" { (tr("Browse sessions with live availability →", "Parcourir les séances et leurs places disponibles →")) }
        }
    };
    Ok(layout(tr("Home", "Accueil"), who.as_deref(), csrf.as_deref(), s.demo, body).into_response())
}

fn phase_status_text(s: PhaseStatus) -> &'static str {
    match s {
        PhaseStatus::Draft => "coming soon",
        PhaseStatus::Registration => "lottery open: enter now",
        PhaseStatus::Closed => "lottery closed, draw soon",
        PhaseStatus::Drawn => "drawn: winners buy in their slots",
    }
}

mod accounts;
mod catalogue;
pub mod console;
pub mod i18n;
mod shop;
pub mod wallet;

use accounts::*;
pub(crate) use catalogue::LIVE_AVAILABILITY_JS;
use catalogue::*;
use i18n::{tr, Lang};
pub(crate) use shop::COUNTDOWN_JS;
use shop::*;

/// A signed-in analyst or operator, for the security console's pages.
pub struct AnalystPage(pub std::sync::Arc<tessera_app::auth::Principal>);

impl axum::extract::FromRequestParts<AppState> for AnalystPage {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let p = page_for(parts, state, tessera_store::Role::sees_soc, "security analysts and operators").await?;
        Ok(AnalystPage(p))
    }
}

/// The signed-in visitor if its role passes `allowed`; anyone else gets the page's 403 naming
/// `whom` the page is for.
async fn page_for(
    parts: &mut axum::http::request::Parts,
    state: &AppState,
    allowed: impl Fn(tessera_store::Role) -> bool,
    whom: &str,
) -> Result<std::sync::Arc<tessera_app::auth::Principal>, PageError> {
    use axum::extract::FromRequestParts;
    let MaybeAuthed(who) = MaybeAuthed::from_request_parts(parts, state).await.unwrap_or(MaybeAuthed(None));
    who.filter(|w| allowed(w.role))
        .ok_or_else(|| PageError(ApiError::new(ErrorCode::Forbidden, format!("this page is for {whom}"))))
}

/// Accreditation staff, vetting officers or an operator, for the accreditation console.
pub struct AccreditationPage(pub std::sync::Arc<tessera_app::auth::Principal>);

impl axum::extract::FromRequestParts<AppState> for AccreditationPage {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        use tessera_store::Role;
        let allowed = |r| matches!(r, Role::Operator | Role::Accreditation | Role::Vetting);
        Ok(AccreditationPage(page_for(parts, state, allowed, "accreditation staff").await?))
    }
}

/// A volunteer coordinator or an operator, for the volunteers console.
pub struct VolunteersPage(pub std::sync::Arc<tessera_app::auth::Principal>);

impl axum::extract::FromRequestParts<AppState> for VolunteersPage {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        use tessera_store::Role;
        let allowed = |r| matches!(r, Role::Operator | Role::Volunteers);
        Ok(VolunteersPage(page_for(parts, state, allowed, "volunteer coordinators").await?))
    }
}

/// A signed-in operator, for pages: anyone else gets the page's 403.
pub struct OperatorPage(pub std::sync::Arc<tessera_app::auth::Principal>);

impl axum::extract::FromRequestParts<AppState> for OperatorPage {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(OperatorPage(page_for(parts, state, |r| r == tessera_store::Role::Operator, "operators").await?))
    }
}
