//! The JSON API under `/api/v1`. Handlers extract, call a use case, map the answer.

use crate::error::{ApiError, ErrorBody};
use crate::extract::{Admitted, ApiJson, ApiPath, ApiQuery, Authed, Operator};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tessera_app::sale::CheckoutRequest;
use tessera_domain::{CartId, CategoryId, Timestamp};
use tessera_payments::Card;
use tessera_store::{PhaseSettings, SessionFilter};
use utoipa::{IntoParams, OpenApi, ToSchema};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/accounts", post(register))
        .route("/api/v1/accounts/verify", post(verify_email))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/password-reset", post(request_reset))
        .route("/api/v1/passwords/range/{prefix}", get(leaked_range))
        .route("/api/v1/auth/password-reset/confirm", post(confirm_reset))
        .route("/api/v1/me", get(me))
        .route("/api/v1/sessions", get(list_sessions))
        .route("/api/v1/sessions/{code}", get(session))
        .route("/api/v1/phases", get(list_phases))
        .route("/api/v1/phases/{code}", get(phase))
        .route("/api/v1/phases/{code}/commitment.json", get(commitment_file))
        .route("/api/v1/phases/{code}/entries.txt", get(entries_file))
        .route("/api/v1/phases/{code}/result.json", get(result_file))
        .route("/api/v1/phases/{code}/entry", post(enter_lottery))
        .route("/api/v1/phases/{code}/me", get(my_phase))
        .route("/api/v1/phases/{code}/cart", get(cart))
        .route("/api/v1/phases/{code}/cart/items", post(add_to_cart))
        .route("/api/v1/phases/{code}/cart/items/{category_id}", delete(remove_from_cart))
        .route("/api/v1/phases/{code}/checkout", post(checkout))
        .route("/api/v1/phases/{code}/orders", post(buy_now))
        .route("/api/v1/orders", get(orders))
        .route("/api/v1/admin/phases", post(create_phase))
        .route("/api/v1/admin/phases/{code}/open", post(open_phase))
        .route("/api/v1/admin/phases/{code}/close", post(close_phase))
        .route("/api/v1/admin/phases/{code}/draw", post(draw_phase))
        .route("/api/v1/admin/sales", get(sales))
        .merge(tickets::routes())
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Tessera API", version = "1", description = "The official ticket shop of a mega-event: accounts, the verifiable lottery, purchase slots, carts and checkout."),
    paths(register, verify_email, leaked_range, login, logout, request_reset, confirm_reset, me, list_sessions, session,
          list_phases, phase, commitment_file, entries_file, result_file, enter_lottery, my_phase, cart,
          add_to_cart, remove_from_cart, checkout, buy_now, orders, create_phase, open_phase, close_phase, draw_phase, sales,
          crate::queue::requirements, crate::queue::join, crate::queue::status, crate::queue::events, crate::queue::socket,
          crate::queue::airlock_figures, crate::queue::configure, crate::queue::remove, crate::queue::decisions,
          crate::queue::decide, crate::queue::revoke,
          tickets::wallet, tickets::activate, tickets::offer_transfer, tickets::transfers,
          tickets::cancel_transfer, tickets::accept_transfer, tickets::list_for_resale,
          tickets::cancel_listing, tickets::listings, tickets::buy_resale,
          crate::gates::bundle, crate::gates::sync, crate::gates::enroll, crate::gates::bundle_key,
          crate::gates::overview, crate::gates::annul, crate::gates::revoke, crate::payments::overview, crate::payments::reconcile,
          crate::security::recent, crate::security::soc_overview, crate::security::soc_events,
          crate::security::soc_rules, crate::security::replace_soc_rules, crate::security::export_blocks, crate::security::ingest,
          crate::security::cases::list, crate::security::cases::show, crate::security::cases::acknowledge,
          crate::security::cases::assign, crate::security::cases::note, crate::security::cases::close,
          crate::security::cases::suppressions, crate::security::cases::lift_suppression,
          crate::security::takedowns::names, crate::security::takedowns::list, crate::security::takedowns::step,
          crate::security::intel::import_intel, crate::security::intel::export_intel, crate::security::intel::intel_watches,
          crate::results::publish, crate::results::documents, crate::results::stream, crate::results::socket, crate::results::medals,
          crate::results::refresh, crate::results::issue_source, crate::results::revoke_source, crate::results::issue_subscriber, crate::results::figures,
          crate::accreditation::organisations, crate::accreditation::put_organisation, crate::accreditation::submit,
          crate::accreditation::list, crate::accreditation::show, crate::accreditation::decide, crate::accreditation::officer,
          crate::accreditation::hit, crate::accreditation::badge, crate::accreditation::current_badge, crate::accreditation::card, crate::accreditation::import,
          crate::accreditation::import_status, crate::accreditation::figures, crate::accreditation::revocations,
          crate::accreditation::desk_list, crate::accreditation::hand_overs, crate::accreditation::desk_mode,
          crate::accreditation_phone::bind_phone,
          crate::toc::wall, crate::toc::observe, crate::toc::open_incident, crate::toc::acknowledge, crate::toc::resolve,
          crate::toc::note, crate::toc::switch, crate::toc::silence, crate::toc::expire_silence, crate::toc::maintenance, crate::toc::scenarios, crate::toc::rehearse, crate::toc::stop_rehearsal,
          crate::toc::status,
          crate::volunteers::me, crate::volunteers::apply, crate::volunteers::answer, crate::volunteers::offers,
          crate::volunteers::programme, crate::volunteers::put_programme, crate::volunteers::import, crate::volunteers::run,
          crate::volunteers::latest_run, crate::volunteers::explanation, crate::volunteers::override_,
          crate::volunteers::build_roster, crate::volunteers::roster, crate::volunteers::console_figures),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth, &CommonResponses),
    tags((name = "accounts"), (name = "catalogue"), (name = "lottery"), (name = "waiting room"), (name = "purchase"), (name = "tickets"), (name = "gates"), (name = "operators"), (name = "security"), (name = "results"), (name = "accreditation"), (name = "toc"), (name = "volunteers"))
)]
pub struct ApiDoc;

struct BearerAuth;
impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The answers any operation may give besides its own, added to every operation so that the
/// document lists every status a client can meet: the edge may refuse any request (403
/// `blocked`, 429 rate limits, 431 an over-large head), any request may time out (408) or meet
/// a store fault (503); a body may be malformed (400), too large (413), of another type (415)
/// or of the wrong shape (422); a path parameter may be malformed (400) or name nothing (404);
/// a query may be malformed (400); a bearer route refuses a missing or bad sign-in (401).
/// An operation's own description of a status is kept.
struct CommonResponses;
impl utoipa::Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |why: &str| {
            ResponseBuilder::new()
                .description(why)
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
                )
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for op in ops.into_iter().flatten() {
                let params = op.parameters.as_deref().unwrap_or_default();
                let in_path = params.iter().any(|p| matches!(p.parameter_in, ParameterIn::Path));
                let in_query = params.iter().any(|p| matches!(p.parameter_in, ParameterIn::Query));
                let mut add: Vec<(&str, &str)> = vec![
                    ("403", "refused: not allowed, or blocked at the edge"),
                    ("408", "the request took too long"),
                    ("429", "too many requests; see Retry-After"),
                    ("431", "the request head is too large"),
                    ("503", "the store is unavailable; see Retry-After"),
                ];
                if op.request_body.is_some() {
                    add.extend([
                        ("400", "the body is not valid JSON"),
                        ("413", "the body is too large"),
                        ("415", "the body is not JSON"),
                        ("422", "the body is not of the expected shape"),
                    ]);
                }
                if in_path {
                    add.extend([("400", "a path parameter is malformed"), ("404", "not found")]);
                }
                if in_query {
                    add.push(("400", "the query is malformed"));
                }
                if op.security.is_some() {
                    add.push(("401", "sign in first (or the token is invalid)"));
                }
                for (status, why) in add {
                    op.responses.responses.entry(status.to_string()).or_insert_with(|| error(why).into());
                }
            }
        }
    }
}

type ApiResult<T> = Result<T, ApiError>;

mod accounts;
mod catalogue;
mod lottery;
mod operators;
mod purchase;
pub mod tickets;

pub use accounts::*;
pub use catalogue::*;
pub use lottery::*;
pub use operators::*;
pub use purchase::*;
