//! The catalogue API: sessions with seats left, and their search.

use super::*;
use tessera_domain::ErrorCode;

// ---- catalogue --------------------------------------------------------------------------

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SessionQuery {
    /// Words found (case aside) in the title, sport, code, venue or city.
    pub q: Option<String>,
    pub sport: Option<String>,
    /// A venue's code.
    pub venue: Option<String>,
    /// Sessions starting at or after this instant (RFC 3339).
    pub from: Option<String>,
    /// Sessions starting before this instant (RFC 3339).
    pub until: Option<String>,
    /// Sessions with a price category at or under this price, in cents.
    pub max_price_cents: Option<i64>,
    /// Only sessions with seats left.
    #[serde(default)]
    pub available: bool,
    /// 1 to 1000, default 100.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct SessionDto {
    pub code: String,
    pub sport: String,
    pub title: String,
    pub venue_code: String,
    pub venue_name: String,
    pub city: String,
    pub starts_at: String,
    pub ends_at: String,
    pub ceremony: bool,
    pub quota: i64,
    pub available: i64,
    pub min_price_cents: i64,
}

impl From<&tessera_store::SessionSummary> for SessionDto {
    fn from(s: &tessera_store::SessionSummary) -> Self {
        SessionDto {
            code: s.code.clone(),
            sport: s.sport.clone(),
            title: s.title.clone(),
            venue_code: s.venue_code.clone(),
            venue_name: s.venue_name.clone(),
            city: s.city.clone(),
            starts_at: s.starts_at.to_rfc3339(),
            ends_at: s.ends_at.to_rfc3339(),
            ceremony: s.ceremony,
            quota: s.quota,
            available: s.available,
            min_price_cents: s.min_price.0,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CategoryDto {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub price_cents: i64,
    pub quota: i64,
    pub available: i64,
}

#[derive(Serialize, ToSchema)]
pub struct SessionDetailDto {
    #[serde(flatten)]
    pub session: SessionDto,
    pub entrances: Vec<String>,
    pub categories: Vec<CategoryDto>,
}

/// Sessions with live availability.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "catalogue", params(SessionQuery),
    responses((status = 200, body = [SessionDto]), (status = 400, body = ErrorBody)))]
pub(super) async fn list_sessions(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<SessionQuery>,
) -> ApiResult<Json<Vec<SessionDto>>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) || q.offset.is_some_and(|o| o < 0) {
        return Err(ApiError::new(ErrorCode::InvalidQuery, "limit must be 1 to 1000 and offset not negative"));
    }
    let instant = |name: &str, v: Option<String>| -> ApiResult<Option<tessera_domain::Timestamp>> {
        v.map(|t| {
            tessera_domain::Timestamp::parse_rfc3339(&t).map_err(|_| {
                ApiError::new(ErrorCode::InvalidQuery, format!("{name} must be an RFC 3339 instant, got {t:?}"))
            })
        })
        .transpose()
    };
    if q.max_price_cents.is_some_and(|p| p < 0) || q.q.as_ref().is_some_and(|t| t.chars().count() > 100) {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            "max_price_cents must not be negative and q at most 100 characters",
        ));
    }
    let f = SessionFilter {
        sport: q.sport,
        venue: q.venue,
        available_only: q.available,
        from: instant("from", q.from)?,
        until: instant("until", q.until)?,
        max_price: q.max_price_cents.map(tessera_domain::Cents),
        text: q.q.filter(|t| !t.trim().is_empty()),
        limit,
        offset: q.offset.unwrap_or(0),
    };
    let list = s.app.store.list_sessions(&f).await?;
    Ok(Json(list.iter().map(SessionDto::from).collect()))
}

/// One session, its entrances and its price categories with seats left.
#[utoipa::path(get, path = "/api/v1/sessions/{code}", tag = "catalogue", params(("code" = String, Path)),
    responses((status = 200, body = SessionDetailDto), (status = 404, body = ErrorBody)))]
pub(super) async fn session(
    State(s): State<AppState>,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<Json<SessionDetailDto>> {
    let d = s.app.store.session(&code).await?.ok_or_else(|| ApiError::not_found(&format!("session {code}")))?;
    Ok(Json(SessionDetailDto {
        session: SessionDto::from(&d.summary),
        entrances: d.zones.clone(),
        categories: d
            .categories
            .iter()
            .map(|c| CategoryDto {
                id: c.id.0,
                code: c.code.clone(),
                name: c.name.clone(),
                price_cents: c.price.0,
                quota: c.quota,
                available: c.available,
            })
            .collect(),
    }))
}
