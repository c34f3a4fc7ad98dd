//! Phone tickets over the API: the wallet, activation, transfer and the official resale.

use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Authed};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tessera_domain::ErrorCode;
use tessera_payments::Card;
use utoipa::{IntoParams, ToSchema};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/wallet", get(wallet))
        .route("/api/v1/tickets/{code}/activate", post(activate))
        .route("/api/v1/tickets/{code}/transfer", post(offer_transfer))
        .route("/api/v1/tickets/{code}/resale", post(list_for_resale))
        .route("/api/v1/transfers", get(transfers))
        .route("/api/v1/transfers/{id}", delete(cancel_transfer))
        .route("/api/v1/transfers/{id}/accept", post(accept_transfer))
        .route("/api/v1/resale", get(listings))
        .route("/api/v1/resale/{id}", delete(cancel_listing))
        .route("/api/v1/resale/{id}/buy", post(buy_resale))
}

type ApiResult<T> = Result<T, ApiError>;

/// The fan's tickets: state, activation time, and the signed pass once activated.
#[utoipa::path(get, path = "/api/v1/wallet", tag = "tickets", security(("bearer" = [])),
    responses((status = 200, description = "tickets, incoming transfers, the code policy and the server clock", body = WalletDto)))]
async fn wallet(State(s): State<AppState>, Authed(p): Authed) -> ApiResult<Response> {
    let tickets = s.app.wallet(&p).await?;
    let transfers = s.app.transfers(&p).await?;
    let incoming = transfers.iter().filter(|t| t.to_account == p.account_id).map(TransferDto::from).collect();
    Ok(Json(WalletDto {
        tickets: tickets.iter().map(WalletTicketDto::from).collect(),
        incoming_transfers: incoming,
        step_secs: s.app.config.tickets.policy.step_secs,
        server_time_ms: s.app.now_ms(),
    })
    .into_response())
}

/// The fan's wallet.
#[derive(Serialize, ToSchema)]
pub struct WalletDto {
    pub tickets: Vec<WalletTicketDto>,
    /// Tickets other fans offer me, waiting for my answer.
    pub incoming_transfers: Vec<TransferDto>,
    /// A code renews every `step_secs` seconds.
    pub step_secs: u32,
    /// The server's clock, Unix ms, so that a phone whose clock is off can correct it.
    pub server_time_ms: i64,
}

/// A ticket as the wallet shows it.
#[derive(Serialize, ToSchema)]
pub struct WalletTicketDto {
    pub code: String,
    pub session_code: String,
    pub session_title: String,
    pub venue_name: String,
    /// Unix seconds.
    pub starts_at: i64,
    pub ends_at: i64,
    pub category_name: String,
    /// In cents.
    pub price: i64,
    pub holder: String,
    /// The venue zone to enter by, as printed ("Gate A").
    pub gate: String,
    pub seat: String,
    /// Unix seconds from which it may be activated on a phone.
    pub activates_at: i64,
    /// `waiting`, `ready`, `active`, `transfer_pending`, `listed`, `used` or `ended`.
    pub state: String,
    /// When it entered, Unix ms.
    pub entered_at_ms: Option<i64>,
    /// The signed pass, base64url, when active.
    pub pass: Option<String>,
    pub pending_transfer: Option<TransferDto>,
    pub listing: Option<ListingDto>,
}

impl From<&tessera_app::tickets::WalletTicket> for WalletTicketDto {
    fn from(t: &tessera_app::tickets::WalletTicket) -> Self {
        WalletTicketDto {
            code: t.code.clone(),
            session_code: t.session_code.clone(),
            session_title: t.session_title.clone(),
            venue_name: t.venue_name.clone(),
            starts_at: t.starts_at.0,
            ends_at: t.ends_at.0,
            category_name: t.category_name.clone(),
            price: t.price.0,
            holder: t.holder.clone(),
            gate: t.gate.clone(),
            seat: t.seat.clone(),
            activates_at: t.activates_at.0,
            state: t.state.to_string(),
            entered_at_ms: t.entered_at_ms,
            pass: t.pass.clone(),
            pending_transfer: t.pending_transfer.as_ref().map(TransferDto::from),
            listing: t.listing.as_ref().map(ListingDto::own),
        }
    }
}

/// A ticket offered by one fan to another.
#[derive(Serialize, ToSchema)]
pub struct TransferDto {
    pub id: i64,
    pub ticket_code: String,
    pub session_code: String,
    /// The sender's display name.
    pub from_name: String,
    /// The receiver's email, as the sender typed it.
    pub to_email: String,
    /// `pending`, `accepted` or `cancelled`.
    pub status: String,
    /// Unix seconds.
    pub created_at: i64,
    pub closed_at: Option<i64>,
}

impl From<&tessera_store::Transfer> for TransferDto {
    fn from(t: &tessera_store::Transfer) -> Self {
        TransferDto {
            id: t.id,
            ticket_code: t.ticket_code.clone(),
            session_code: t.session_code.clone(),
            from_name: t.from_name.clone(),
            to_email: t.to_email.clone(),
            status: t.status.as_str().into(),
            created_at: t.created_at.0,
            closed_at: t.closed_at.map(|c| c.0),
        }
    }
}

/// A ticket bound to this phone.
#[derive(Serialize, ToSchema)]
pub struct ActivationDto {
    /// The signed pass, base64url: the phone keeps it with its key.
    pub pass: String,
    pub serial: i64,
    /// The issuer key's id.
    pub key_id: u32,
    /// A code renews every `step_secs` seconds.
    pub step_secs: u32,
    /// The server's clock, Unix ms.
    pub server_time_ms: i64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateBody {
    /// The phone's P-256 public key, base64url: WebCrypto's raw export (65 bytes) or compressed (33).
    pub device_key: String,
    /// Move the ticket from another phone to this one (the other phone's codes stop working).
    #[serde(default)]
    pub replace: bool,
}

/// Bind a ticket to this phone's key and receive its signed pass.
#[utoipa::path(post, path = "/api/v1/tickets/{code}/activate", tag = "tickets", params(("code" = String, Path)),
    request_body = ActivateBody, security(("bearer" = [])),
    responses((status = 200, description = "the signed pass (base64url), its serial and the step", body = ActivationDto),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn activate(
    State(s): State<AppState>,
    Authed(p): Authed,
    ApiPath(code): ApiPath<String>,
    ApiJson(b): ApiJson<ActivateBody>,
) -> ApiResult<Response> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b.device_key.trim_end_matches('='))
        .map_err(|_| ApiError::new(ErrorCode::InvalidInput, "device_key: not base64url"))?;
    let a = s.app.activate(&p, &code, &raw, b.replace).await?;
    let dto = ActivationDto {
        pass: a.pass,
        serial: a.serial,
        key_id: a.key_id,
        step_secs: a.step_secs,
        server_time_ms: a.server_time_ms,
    };
    Ok(Json(dto).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    pub to_email: String,
}

/// Offer a ticket to another account; it moves when they accept, and until then the offer
/// can be withdrawn.
#[utoipa::path(post, path = "/api/v1/tickets/{code}/transfer", tag = "tickets", params(("code" = String, Path)),
    request_body = TransferBody, security(("bearer" = [])),
    responses((status = 201, description = "the pending transfer", body = TransferDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn offer_transfer(
    State(s): State<AppState>,
    Authed(p): Authed,
    ApiPath(code): ApiPath<String>,
    ApiJson(b): ApiJson<TransferBody>,
) -> ApiResult<Response> {
    let t = s.app.offer_transfer(&p, &code, &b.to_email).await?;
    Ok((StatusCode::CREATED, Json(TransferDto::from(&t))).into_response())
}

/// Transfers sent or offered to me, still pending.
#[utoipa::path(get, path = "/api/v1/transfers", tag = "tickets", security(("bearer" = [])),
    responses((status = 200, description = "pending transfers", body = Vec<TransferDto>)))]
async fn transfers(State(s): State<AppState>, Authed(p): Authed) -> ApiResult<Response> {
    Ok(Json(s.app.transfers(&p).await?.iter().map(TransferDto::from).collect::<Vec<_>>()).into_response())
}

/// Withdraw a transfer I offered.
#[utoipa::path(delete, path = "/api/v1/transfers/{id}", tag = "tickets", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, description = "the cancelled transfer", body = TransferDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn cancel_transfer(
    State(s): State<AppState>,
    Authed(p): Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    Ok(Json(TransferDto::from(&s.app.cancel_transfer(&p, id).await?)).into_response())
}

/// Accept a ticket offered to me (my caps are checked); the sender's code stops working.
#[utoipa::path(post, path = "/api/v1/transfers/{id}/accept", tag = "tickets", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, description = "the accepted transfer", body = TransferDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn accept_transfer(
    State(s): State<AppState>,
    Authed(p): Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    Ok(Json(TransferDto::from(&s.app.accept_transfer(&p, id).await?)).into_response())
}

/// List my ticket on the official resale at face value (the fees are shown in the listing).
#[utoipa::path(post, path = "/api/v1/tickets/{code}/resale", tag = "tickets", params(("code" = String, Path)), security(("bearer" = [])),
    responses((status = 201, description = "the listing", body = ListingDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn list_for_resale(
    State(s): State<AppState>,
    Authed(p): Authed,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<Response> {
    Ok((StatusCode::CREATED, Json(ListingDto::own(&s.app.list_for_resale(&p, &code).await?))).into_response())
}

/// Take my listing off the resale.
#[utoipa::path(delete, path = "/api/v1/resale/{id}", tag = "tickets", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, description = "the cancelled listing", body = ListingDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn cancel_listing(
    State(s): State<AppState>,
    Authed(p): Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    Ok(Json(ListingDto::own(&s.app.cancel_listing(&p, id).await?)).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListingQuery {
    /// Only listings of this session.
    pub session: Option<String>,
}

/// Tickets on the official resale, oldest first.
#[utoipa::path(get, path = "/api/v1/resale", tag = "tickets", params(ListingQuery),
    responses((status = 200, body = [ListingDto])))]
async fn listings(State(s): State<AppState>, ApiQuery(q): ApiQuery<ListingQuery>) -> ApiResult<Response> {
    let open = s.app.resale_listings(q.session.as_deref()).await?;
    Ok(Json(open.iter().map(ListingDto::public).collect::<Vec<_>>()).into_response())
}

/// A resale listing. The public list shows what is sold and at what price, never whose ticket
/// it is nor its code (a code is what a holder's phone and the gates know the ticket by);
/// the seller, and the buyer once it is theirs, also get the ticket's code and the seller's fee.
#[derive(Serialize, ToSchema)]
pub struct ListingDto {
    pub id: i64,
    pub session_code: String,
    pub session_title: String,
    pub category_name: String,
    /// Unix seconds.
    pub starts_at: i64,
    /// Face value, in cents.
    pub price: i64,
    /// What the buyer pays on top of the price, in cents.
    pub buyer_fee: i64,
    pub status: String,
    /// Only for the seller and the buyer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket_code: Option<String>,
    /// What the seller gives up from the price, in cents; only for the seller and the buyer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seller_fee: Option<i64>,
}

impl ListingDto {
    fn public(l: &tessera_store::Listing) -> Self {
        ListingDto {
            id: l.id,
            session_code: l.session_code.clone(),
            session_title: l.session_title.clone(),
            category_name: l.category_name.clone(),
            starts_at: l.starts_at.0,
            price: l.price.0,
            buyer_fee: l.buyer_fee.0,
            status: l.status.as_str().into(),
            ticket_code: None,
            seller_fee: None,
        }
    }

    /// For a listing the caller is party to (the use case checked that).
    fn own(l: &tessera_store::Listing) -> Self {
        ListingDto { ticket_code: Some(l.ticket_code.clone()), seller_fee: Some(l.seller_fee.0), ..Self::public(l) }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuyResaleBody {
    pub idempotency_key: String,
    pub card: crate::api::CardBody,
}

/// Buy a listed ticket: face value plus the buyer's fee, charged once per idempotency key.
#[utoipa::path(post, path = "/api/v1/resale/{id}/buy", tag = "tickets", params(("id" = i64, Path)),
    request_body = BuyResaleBody, security(("bearer" = [])),
    responses((status = 200, description = "the sold listing", body = ListingDto), (status = 402, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn buy_resale(
    State(s): State<AppState>,
    Authed(p): Authed,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<BuyResaleBody>,
) -> ApiResult<Response> {
    Ok(Json(ListingDto::own(&s.app.buy_resale(&p, id, &b.idempotency_key, &Card::from(b.card)).await?)).into_response())
}
