//! Purchases: the cart, checkout and buy-now, my orders.

use super::*;
use tessera_domain::ErrorCode;

// ---- purchase ---------------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
pub struct CartLineDto {
    pub category_id: i64,
    pub category_code: String,
    pub category_name: String,
    pub session_code: String,
    pub session_title: String,
    pub unit_price_cents: i64,
    pub quantity: i64,
}

#[derive(Serialize, ToSchema)]
pub struct CartDto {
    pub id: i64,
    /// open or paying.
    pub status: String,
    /// The seats are released at this instant unless paid.
    pub expires_at: String,
    pub total_cents: i64,
    pub lines: Vec<CartLineDto>,
}

impl From<&tessera_store::Cart> for CartDto {
    fn from(c: &tessera_store::Cart) -> Self {
        CartDto {
            id: c.id.0,
            status: c.status.as_str().into(),
            expires_at: c.expires_at.to_rfc3339(),
            total_cents: c.total().0,
            lines: c
                .lines
                .iter()
                .map(|l| CartLineDto {
                    category_id: l.category_id.0,
                    category_code: l.category_code.clone(),
                    category_name: l.category_name.clone(),
                    session_code: l.session_code.clone(),
                    session_title: l.session_title.clone(),
                    unit_price_cents: l.unit_price.0,
                    quantity: l.qty,
                })
                .collect(),
        }
    }
}

/// My live cart in the phase, if any.
#[utoipa::path(get, path = "/api/v1/phases/{code}/cart", tag = "purchase", params(("code" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = CartDto), (status = 404, body = ErrorBody)))]
pub(super) async fn cart(
    State(s): State<AppState>,
    Authed(p): Authed,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<Json<CartDto>> {
    let c = s.app.cart(&p, &code).await?.ok_or_else(|| ApiError::not_found("cart"))?;
    Ok(Json(CartDto::from(&c)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddItemBody {
    pub category_id: i64,
    /// 1 or more; caps apply.
    pub quantity: i64,
}

/// Hold seats in my cart (inside my purchase slot, within the caps).
#[utoipa::path(post, path = "/api/v1/phases/{code}/cart/items", tag = "purchase", params(("code" = String, Path)),
    request_body = AddItemBody, security(("bearer" = [])),
    responses((status = 200, body = CartDto), (status = 403, body = ErrorBody, description = "outside the slot, or `not_admitted` by the waiting room"), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn add_to_cart(
    State(s): State<AppState>,
    Admitted(p): Admitted,
    ApiPath(code): ApiPath<String>,
    ApiJson(b): ApiJson<AddItemBody>,
) -> ApiResult<Json<CartDto>> {
    let c = s.app.add_to_cart(&p, &code, CategoryId(b.category_id), b.quantity).await?;
    Ok(Json(CartDto::from(&c)))
}

/// Give back the seats of one category.
#[utoipa::path(delete, path = "/api/v1/phases/{code}/cart/items/{category_id}", tag = "purchase",
    params(("code" = String, Path), ("category_id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = CartDto), (status = 404, body = ErrorBody)))]
pub(super) async fn remove_from_cart(
    State(s): State<AppState>,
    Authed(p): Authed,
    ApiPath((code, category)): ApiPath<(String, i64)>,
) -> ApiResult<Json<CartDto>> {
    let c = s.app.cart(&p, &code).await?.ok_or_else(|| ApiError::not_found("cart"))?;
    let c = s.app.remove_from_cart(&p, c.id, CategoryId(category)).await?;
    Ok(Json(CartDto::from(&c)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardBody {
    /// Sandbox test cards: see the payments crate's README.
    pub number: String,
    pub exp_month: u32,
    pub exp_year: u32,
    pub cvc: String,
    pub holder: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutBody {
    pub cart_id: i64,
    pub card: CardBody,
}

#[derive(Serialize, ToSchema)]
pub struct TicketDto {
    pub code: String,
    pub session_code: String,
    pub session_title: String,
    pub venue: String,
    pub starts_at: String,
    pub category: String,
    pub price_cents: i64,
}

#[derive(Serialize, ToSchema)]
pub struct OrderDto {
    pub code: String,
    pub total_cents: i64,
    pub created_at: String,
    pub tickets: Vec<TicketDto>,
}

impl From<&tessera_store::Order> for OrderDto {
    fn from(o: &tessera_store::Order) -> Self {
        OrderDto {
            code: o.code.clone(),
            total_cents: o.total.0,
            created_at: o.created_at.to_rfc3339(),
            tickets: o
                .tickets
                .iter()
                .map(|t| TicketDto {
                    code: t.code.clone(),
                    session_code: t.session_code.clone(),
                    session_title: t.session_title.clone(),
                    venue: t.venue_name.clone(),
                    starts_at: t.starts_at.to_rfc3339(),
                    category: t.category_name.clone(),
                    price_cents: t.price.0,
                })
                .collect(),
        }
    }
}

/// Pay for the cart. Requires an `Idempotency-Key` header: retrying with the same key and body
/// never charges or issues twice; the same key with another body is refused.
#[utoipa::path(post, path = "/api/v1/phases/{code}/checkout", tag = "purchase",
    params(("code" = String, Path), ("Idempotency-Key" = String, Header, description = "1-64 of [A-Za-z0-9_-], one per purchase attempt")),
    request_body = CheckoutBody, security(("bearer" = [])),
    responses((status = 201, body = OrderDto), (status = 402, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 410, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(super) async fn checkout(
    State(s): State<AppState>,
    Admitted(p): Admitted,
    ApiPath(code): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<CheckoutBody>,
) -> ApiResult<impl IntoResponse> {
    let req = CheckoutRequest {
        cart: CartId(b.cart_id),
        idempotency_key: idempotency_key(&headers)?.to_string(),
        card: b.card.into(),
    };
    let order = s.app.checkout(&p, &code, &req).await?;
    metrics::counter!("tessera_orders_paid_total").increment(1);
    Ok((StatusCode::CREATED, Json(OrderDto::from(&order))))
}

pub(super) fn idempotency_key(headers: &HeaderMap) -> ApiResult<&str> {
    headers.get("idempotency-key").and_then(|v| v.to_str().ok()).ok_or_else(|| {
        ApiError::new(ErrorCode::IdempotencyKeyMissing, "send an Idempotency-Key header with each purchase")
    })
}

impl From<CardBody> for Card {
    fn from(c: CardBody) -> Card {
        Card { number: c.number, exp_month: c.exp_month, exp_year: c.exp_year, cvc: c.cvc, holder: c.holder }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuyNowBody {
    /// 1 to 10 items; they join what the cart already holds, and the whole cart is paid.
    pub items: Vec<AddItemBody>,
    pub card: CardBody,
}

/// Buy now: hold the seats and pay in one request (inside my slot, within the caps). Requires an
/// `Idempotency-Key` header: a retry with the same key and body never charges or issues twice.
#[utoipa::path(post, path = "/api/v1/phases/{code}/orders", tag = "purchase",
    params(("code" = String, Path), ("Idempotency-Key" = String, Header, description = "1-64 of [A-Za-z0-9_-], one per purchase attempt")),
    request_body = BuyNowBody, security(("bearer" = [])),
    responses((status = 201, body = OrderDto), (status = 402, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(super) async fn buy_now(
    State(s): State<AppState>,
    Admitted(p): Admitted,
    ApiPath(code): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<BuyNowBody>,
) -> ApiResult<impl IntoResponse> {
    let key = idempotency_key(&headers)?;
    let items: Vec<(CategoryId, i64)> = b.items.iter().map(|i| (CategoryId(i.category_id), i.quantity)).collect();
    let order = s.app.buy_now(&p, &code, &items, key, &b.card.into()).await?;
    metrics::counter!("tessera_orders_paid_total").increment(1);
    Ok((StatusCode::CREATED, Json(OrderDto::from(&order))))
}

/// My paid orders and their tickets.
#[utoipa::path(get, path = "/api/v1/orders", tag = "purchase", security(("bearer" = [])),
    responses((status = 200, body = [OrderDto]), (status = 401, body = ErrorBody)))]
pub(super) async fn orders(State(s): State<AppState>, Authed(p): Authed) -> ApiResult<Json<Vec<OrderDto>>> {
    Ok(Json(s.app.orders(&p).await?.iter().map(OrderDto::from).collect()))
}
