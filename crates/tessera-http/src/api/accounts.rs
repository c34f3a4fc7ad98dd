//! The accounts API: register, confirm, sign in and out, reset a password, who am I.

use super::*;
use crate::extract::ConnectPeer;

// ---- accounts ---------------------------------------------------------------------------

#[derive(Deserialize, IntoParams)]
pub struct RangePath {
    /// The first 5 hex digits of the password's SHA-1.
    pub prefix: String,
}

/// Is a password known from a breach? Have I Been Pwned's k-anonymous range query, answered by
/// Tessera itself: send the first 5 hex digits of the password's SHA-1, get every leaked
/// hash's remaining 35 digits under that prefix with how often it was seen (`SUFFIX:COUNT`
/// lines), padded with fake lines of count 0 to at least 1,000, and look for yours locally.
/// Neither the password nor its full hash leaves the client; registration and resets refuse
/// leaked passwords anyway.
#[utoipa::path(get, path = "/api/v1/passwords/range/{prefix}", tag = "accounts", params(RangePath),
    responses((status = 200, description = "`SUFFIX:COUNT` lines", content_type = "text/plain", body = String),
              (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn leaked_range(
    State(s): State<AppState>,
    ApiPath(p): ApiPath<RangePath>,
) -> Result<axum::response::Response, ApiError> {
    let lines = s.app.leaked_range(&p.prefix)?;
    let mut body = lines.join("\r\n");
    body.push_str("\r\n");
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            // The same prefix always gets the same answer: caches may keep it (for a while:
            // an import adds hashes).
            (axum::http::header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    pub email: String,
    /// At least 10 characters; long passphrases welcome.
    pub password: String,
    pub display_name: String,
}

#[derive(Serialize, ToSchema)]
pub struct AccountDto {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub email_verified: bool,
}

impl From<&tessera_store::Account> for AccountDto {
    fn from(a: &tessera_store::Account) -> Self {
        AccountDto {
            id: a.id.0,
            email: a.email.to_string(),
            display_name: a.display_name.clone(),
            role: a.role.as_str().into(),
            email_verified: a.email_verified,
        }
    }
}

/// Register a fan account; a confirmation link is mailed. The answer is the same for an
/// address that already has an account (its owner is mailed instead), so that it does not
/// tell who is a customer.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = RegisterBody,
    responses((status = 202, body = RegisteredDto), (status = 422, body = ErrorBody)))]
pub(super) async fn register(
    State(s): State<AppState>,
    ConnectPeer(ip): ConnectPeer,
    ApiJson(b): ApiJson<RegisterBody>,
) -> ApiResult<impl IntoResponse> {
    let r = s.app.register_at(&b.email, &b.password, &b.display_name, ip).await?;
    Ok((StatusCode::ACCEPTED, Json(RegisteredDto { email: r.email().to_string(), next: "confirm_email".into() })))
}

#[derive(Serialize, ToSchema)]
pub struct RegisteredDto {
    /// The address, normalised, to which the confirmation link was mailed.
    pub email: String,
    /// What to do next: `confirm_email` (open the link in the mail, then sign in).
    pub next: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    pub token: String,
}

/// Confirm an email address with the token from the mail.
#[utoipa::path(post, path = "/api/v1/accounts/verify", tag = "accounts", request_body = TokenBody,
    responses((status = 204), (status = 400, body = ErrorBody)))]
pub(super) async fn verify_email(State(s): State<AppState>, ApiJson(b): ApiJson<TokenBody>) -> ApiResult<StatusCode> {
    s.app.verify_email(&b.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub email: String,
    pub password: String,
    /// The `device` token an earlier sign-in to this account returned: this device's attempts
    /// then draw on a budget of their own, which strangers' failed guesses cannot exhaust.
    #[serde(default)]
    pub device: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct LoginDto {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub expires_at: String,
    pub account: AccountDto,
    /// Keep it and send it with the next sign-in (see `LoginBody::device`).
    pub device: String,
}

/// Sign in; returns a bearer token. After a few failures on one account each attempt must wait
/// longer (429 `signin_throttled`, with `Retry-After`), from whatever address it comes, except
/// from a device that signed in to it before and sends its `device` token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "accounts", request_body = LoginBody,
    responses((status = 200, body = LoginDto), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(super) async fn login(
    State(s): State<AppState>,
    ConnectPeer(ip): ConnectPeer,
    ApiJson(b): ApiJson<LoginBody>,
) -> ApiResult<Json<LoginDto>> {
    let signed = s.app.login_at(&b.email, &b.password, b.device.as_deref(), ip).await?;
    Ok(Json(LoginDto {
        token: signed.token,
        expires_at: signed.expires_at.to_rfc3339(),
        account: AccountDto::from(&signed.account),
        device: signed.device,
    }))
}

/// End this sign-in session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "accounts", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub(super) async fn logout(State(s): State<AppState>, Authed(p): Authed) -> ApiResult<StatusCode> {
    s.app.logout(&p).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequestBody {
    pub email: String,
}

/// Mail a password-reset link, if the address has an account (the answer is the same either way).
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "accounts", request_body = ResetRequestBody,
    responses((status = 202, description = "no body: the same answer whether or not the address has an account (a mail goes out if it has)")))]
pub(super) async fn request_reset(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<ResetRequestBody>,
) -> ApiResult<StatusCode> {
    s.app.request_password_reset(&b.email).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirmBody {
    pub token: String,
    pub password: String,
}

/// Set a new password with the token from the reset mail; signs out every session.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "accounts", request_body = ResetConfirmBody,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn confirm_reset(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<ResetConfirmBody>,
) -> ApiResult<StatusCode> {
    s.app.reset_password(&b.token, &b.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct MeDto {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub email_verified: bool,
}

/// Who am I?
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = MeDto), (status = 401, body = ErrorBody)))]
pub(super) async fn me(Authed(p): Authed) -> Json<MeDto> {
    Json(MeDto {
        id: p.account_id.0,
        email: p.email.to_string(),
        display_name: p.display_name.clone(),
        role: p.role.as_str().into(),
        email_verified: p.email_verified,
    })
}
