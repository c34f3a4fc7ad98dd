//! Account pages: register, sign in and out, confirm an email, reset a password.

use super::*;

// ---- accounts ---------------------------------------------------------------------------

/// What a refused form sends back to its page, the password excepted.
#[derive(Default)]
pub(super) struct Typed<'a> {
    email: &'a str,
    display_name: &'a str,
    /// Where to go after signing in.
    next: &'a str,
}

pub(super) fn account_form(
    action: &str,
    title: &str,
    with_name: bool,
    error: Option<&str>,
    typed: &Typed<'_>,
) -> Markup {
    html! {
        div.card {
            h2 { (title) }
            @if let Some(e) = error { p.error { (e) } }
            form method="post" action=(action) {
                label { (tr("Email", "Adresse e-mail")) input type="email" name="email" required autocomplete="email" value=(typed.email); }
                @if with_name { label { (tr("Your name", "Votre nom")) input type="text" name="display_name" required maxlength="80" value=(typed.display_name); } }
                label { (tr("Password", "Mot de passe")) input type="password" name="password" required
                    autocomplete=(if with_name { "new-password" } else { "current-password" }); }
                @if with_name { p.muted { (tr("At least 10 characters. A passphrase of several words is best.", "Au moins 10 caractères. Une phrase de plusieurs mots est le mieux.")) } }
                @if let Some(next) = local_path(typed.next) { input type="hidden" name="next" value=(next); }
                button.primary type="submit" { (title) }
            }
            @if !with_name { p { a href="/forgot" { (tr("Forgot your password?", "Mot de passe oublié ?")) } } }
        }
    }
}

/// The register or sign-in page, with the error of a refused attempt, if any.
pub(super) fn account_page(s: &AppState, register: bool, error: Option<ApiError>, typed: &Typed<'_>) -> Response {
    let (action, title) = if register {
        ("/register", tr("Register", "Créer un compte"))
    } else {
        ("/login", tr("Sign in", "Se connecter"))
    };
    let status = error.as_ref().map_or(StatusCode::OK, |e| e.status);
    let form = account_form(action, title, register, error.as_ref().map(|e| i18n::error_text(e)).as_deref(), typed);
    (status, layout(title, None, None, s.demo, form)).into_response()
}

pub(super) async fn register_form(State(s): State<AppState>) -> Response {
    account_page(&s, true, None, &Typed::default())
}

#[derive(Deserialize)]
pub(super) struct RegisterForm {
    email: String,
    password: String,
    display_name: String,
}

pub(super) async fn register(
    State(s): State<AppState>,
    crate::extract::ConnectPeer(ip): crate::extract::ConnectPeer,
    PageForm(f): PageForm<RegisterForm>,
) -> Response {
    match s.app.register_at(&f.email, &f.password, &f.display_name, ip).await {
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
pub(super) struct NextQuery {
    next: Option<String>,
}

pub(super) async fn login_form(State(s): State<AppState>, PageQuery(q): PageQuery<NextQuery>) -> Response {
    account_page(&s, false, None, &Typed { next: q.next.as_deref().unwrap_or_default(), ..Typed::default() })
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

pub(super) async fn login(
    State(s): State<AppState>,
    headers: HeaderMap,
    crate::extract::ConnectPeer(ip): crate::extract::ConnectPeer,
    PageForm(f): PageForm<LoginForm>,
) -> Response {
    let device = cookie_in(&headers, DEVICE_COOKIE);
    match s.app.login_at(&f.email, &f.password, device, ip).await {
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
pub(super) fn local_path(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && next.len() <= 200
        && next.chars().all(|c| c.is_ascii_graphic());
    ok.then_some(next)
}

/// The known-device cookie: a year long, sent only with the sign-in form's post.
pub(super) fn device_cookie(s: &AppState, token: &str) -> String {
    format!(
        "{DEVICE_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict; Max-Age={}{}",
        tessera_app::auth::DEVICE_TTL_SECS,
        if s.secure_cookies { "; Secure" } else { "" }
    )
}

pub(super) fn session_cookie(s: &AppState, signed: &tessera_app::auth::SignedIn) -> String {
    let max_age = (signed.expires_at.0 - s.app.now().0).max(0);
    format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        signed.token,
        if s.secure_cookies { "; Secure" } else { "" }
    )
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    pub(super) csrf: String,
}

pub(super) async fn logout(
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
pub(super) struct TokenQuery {
    token: Option<String>,
}

/// Confirms the address and, the first time, signs the fan in: they came from their mailbox.
pub(super) async fn verify(State(s): State<AppState>, PageQuery(q): PageQuery<TokenQuery>) -> PageResult {
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

pub(super) async fn forgot_form(State(s): State<AppState>) -> Html<String> {
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
pub(super) struct ForgotForm {
    email: String,
}

pub(super) async fn forgot(State(s): State<AppState>, PageForm(f): PageForm<ForgotForm>) -> PageResult {
    s.app.request_password_reset(&f.email).await?;
    let body = html! { div.card { p.ok { "If this address has an account, a reset link is on its way." } } };
    Ok(layout("Reset password", None, None, s.demo, body).into_response())
}

pub(super) async fn reset_form(State(s): State<AppState>, PageQuery(q): PageQuery<TokenQuery>) -> Html<String> {
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
pub(super) struct ResetForm {
    token: String,
    password: String,
}

pub(super) async fn reset(State(s): State<AppState>, PageForm(f): PageForm<ResetForm>) -> PageResult {
    s.app.reset_password(&f.token, &f.password).await?;
    let body = html! { div.card { p.ok { "Password changed. Every other session was signed out." } a href="/login" { "Sign in" } } };
    Ok(layout("Password changed", None, None, s.demo, body).into_response())
}
