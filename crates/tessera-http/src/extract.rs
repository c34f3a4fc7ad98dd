//! Extractors that turn every malformed request into an `ApiError`, and find the caller.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use tessera_app::auth::Principal;
use tessera_app::AppError;
use tessera_domain::ErrorCode;

pub const SESSION_COOKIE: &str = "tessera_session";
/// The known-device token (see `App::login_from`), sent only to the sign-in form.
pub const DEVICE_COOKIE: &str = "tessera_device";
/// The waiting room's admission pass, for browsers; API clients send `Tessera-Admission`.
pub const ADMISSION_COOKIE: &str = "tessera_admission";
/// The waiting room's queue ticket, for browsers; API clients send `Tessera-Queue`.
pub const QUEUE_COOKIE: &str = "tessera_queue";

/// `Json<T>` whose refusals are API errors naming the problem.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(r) => Err(json_rejection(r)),
        }
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::new(ErrorCode::UnsupportedMediaType, "send the body as JSON with Content-Type: application/json")
        }
        JsonRejection::JsonSyntaxError(e) => ApiError::new(ErrorCode::InvalidJson, e.body_text()),
        JsonRejection::JsonDataError(e) => ApiError::new(ErrorCode::InvalidInput, e.body_text()),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(ErrorCode::BodyTooLarge, "the request body is too large")
        }
        other => ApiError::new(ErrorCode::InvalidBody, other.body_text()),
    }
}

/// `Path<T>` whose refusals are API errors: `/api/v1/resale/abc` is a 400 naming the
/// parameter in the JSON every error uses, not axum's plain text.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|r: PathRejection| ApiError::new(ErrorCode::InvalidPath, r.body_text()))
    }
}

/// `Query<T>` whose refusals are API errors.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|r: QueryRejection| ApiError::new(ErrorCode::InvalidQuery, r.body_text()))
    }
}

/// The sign-in token of a request: `Authorization: Bearer ...`, else the session cookie.
/// Borrowed from the request head: every signed-in request reads it.
pub fn token_of(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return v.strip_prefix("Bearer ").map(str::trim);
    }
    cookie_in(headers, SESSION_COOKIE)
}

pub fn cookie_in<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A signed-in caller; refuses with 401 otherwise.
pub struct Authed(pub Arc<Principal>);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authed(state, &parts.headers).await.map(Authed)
    }
}

/// The signed-in caller of a request head: [`Authed`] without axum, for answers made before
/// routing ([`crate::queue::status_answer`]).
pub async fn authed(state: &AppState, headers: &HeaderMap) -> Result<Arc<Principal>, ApiError> {
    let token = token_of(headers).ok_or(AppError::Unauthenticated)?;
    let p = state.app.authenticate(token).await?;
    state.app.screen_account(&p)?;
    Ok(p)
}

/// The admission pass of a request: the `Tessera-Admission` header, else the cookie.
pub fn admission_of(headers: &HeaderMap) -> Option<String> {
    match headers.get("tessera-admission").and_then(|v| v.to_str().ok()) {
        Some(v) => Some(v.trim().to_string()),
        None => cookie_in(headers, ADMISSION_COOKIE).map(str::to_string),
    }
}

/// A signed-in caller admitted to the shop of the phase in the path (`{code}`): when the phase
/// has a waiting room, only with a valid admission pass for this phase and this account.
pub struct Admitted(pub Arc<Principal>);

impl FromRequestParts<AppState> for Admitted {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Authed(p) = Authed::from_request_parts(parts, state).await?;
        let params = axum::extract::RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::new(ErrorCode::InvalidPath, "no phase in the path"))?;
        let phase = params.iter().find(|(k, _)| *k == "code").map(|(_, v)| v.to_string()).unwrap_or_default();
        state.app.check_admission(&p, &phase, admission_of(&parts.headers).as_deref())?;
        Ok(Admitted(p))
    }
}

/// A signed-in operator; refuses with 401 or 403 otherwise.
pub struct Operator(pub Arc<Principal>);

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let p = signed_in_as(parts, state, |r| r == tessera_store::Role::Operator, "an operator").await?;
        Ok(Operator(p))
    }
}

/// The signed-in caller if its role passes `allowed`: 401 without a sign-in, 403 naming `who`
/// the route needs otherwise.
async fn signed_in_as(
    parts: &mut Parts,
    state: &AppState,
    allowed: impl Fn(tessera_store::Role) -> bool,
    who: &str,
) -> Result<Arc<Principal>, ApiError> {
    let Authed(p) = Authed::from_request_parts(parts, state).await?;
    if !allowed(p.role) {
        return Err(AppError::Forbidden(format!("this needs {who} account")).into());
    }
    Ok(p)
}

/// A signed-in security analyst or operator: the security operations console and its API.
/// Refuses fans with 403; an analyst is refused everything else by [`Operator`].
pub struct Analyst(pub Arc<Principal>);

impl FromRequestParts<AppState> for Analyst {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Analyst(signed_in_as(parts, state, tessera_store::Role::sees_soc, "an analyst or operator").await?))
    }
}

/// Accreditation staff (or an operator): decisions, badges, cards, organisations.
pub struct AccreditationStaff(pub Arc<Principal>);

impl FromRequestParts<AppState> for AccreditationStaff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        use tessera_store::Role;
        let allowed = |r| matches!(r, Role::Operator | Role::Accreditation);
        Ok(AccreditationStaff(signed_in_as(parts, state, allowed, "an accreditation staff").await?))
    }
}

/// Accreditation staff or a vetting officer (or an operator): hits, figures, revocations.
pub struct Vetter(pub Arc<Principal>);

impl FromRequestParts<AppState> for Vetter {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        use tessera_store::Role;
        let allowed = |r| matches!(r, Role::Operator | Role::Accreditation | Role::Vetting);
        Ok(Vetter(signed_in_as(parts, state, allowed, "an accreditation staff or vetting officer").await?))
    }
}

/// A collection desk's operator (or accreditation staff, or an operator).
pub struct DeskOperator(pub Arc<Principal>);

impl FromRequestParts<AppState> for DeskOperator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        use tessera_store::Role;
        let allowed = |r| matches!(r, Role::Operator | Role::Accreditation | Role::Desk);
        Ok(DeskOperator(signed_in_as(parts, state, allowed, "a collection desk").await?))
    }
}

/// A volunteer coordinator (or an operator): the programme, runs, offers, overrides, rosters.
pub struct VolunteerCoordinator(pub Arc<Principal>);

impl FromRequestParts<AppState> for VolunteerCoordinator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        use tessera_store::Role;
        let allowed = |r| matches!(r, Role::Operator | Role::Volunteers);
        Ok(VolunteerCoordinator(signed_in_as(parts, state, allowed, "a volunteer coordinator").await?))
    }
}

/// The caller if signed in, for pages that show more to signed-in fans.
pub struct MaybeAuthed(pub Option<Arc<Principal>>);

impl FromRequestParts<AppState> for MaybeAuthed {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let p = match token_of(&parts.headers) {
            Some(t) => state.app.authenticate(t).await.ok(),
            None => None,
        };
        Ok(MaybeAuthed(p))
    }
}

/// The peer address, when the request came through the server's accept loop.
pub struct ConnectPeer(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ConnectPeer {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ConnectPeer(parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip())))
    }
}
