//! `/api/v1`: JSON over HTTP, for the HMI and for machines (issue 16 item 3; docs/api.md).
//! The OpenAPI 3.1 document is generated from the handlers' `#[utoipa::path]` declarations and
//! served at `/api/v1/openapi.json`; each operation's roles come from
//! [`crate::http::access::OPERATIONS`] and are enforced by [`crate::http::auth::enforce`].

pub mod batches;
pub mod integrator;
pub mod line_control;
pub mod lines;
pub mod packing;
pub mod qa;
pub mod reject_images;
pub mod session;
pub mod shipping;
pub mod uploads;
pub mod users;

use axum::Router;
use axum::response::IntoResponse;
use utoipa::openapi::OpenApi as OpenApiDocument;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::access::AccessTable;
use super::auth::SESSION_COOKIE;
use super::problem::{ApiError, Problem};
use super::state::ApiState;
use crate::app::AppError;

/// The document's fixed parts; the paths come from the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "tracemark",
        description = "The production-line controller's API: batches, QA, packing, uploads and \
                       users. Every operation lists the roles that may call it in \
                       `x-tracemark-roles` (an empty list: no login needed). Errors are RFC 9457 \
                       problem details naming the field."
    ),
    modifiers(&Security),
    components(schemas(Problem)),
    security(("bearer" = []), ("session" = []))
)]
struct ApiDoc;

/// The two ways to authenticate.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut OpenApiDocument) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A token from `tracemark user token NAME`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE,
                "The browser session from POST /api/v1/session; writes also need X-CSRF-Token",
            ))),
        );
    }
}

/// The API's routes (state still to be given) and its document, with each operation's roles
/// written in and the access table the router checks. Errs when an operation has no declared
/// access (see [`AccessTable::annotate`]).
pub fn build() -> Result<(Router<ApiState>, OpenApiDocument, AccessTable), String> {
    let router = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(session::login, session::current, session::logout))
        .routes(routes!(session::set_language))
        .routes(routes!(users::list, users::add))
        .routes(routes!(users::set_role))
        .routes(routes!(users::disable))
        .routes(routes!(users::set_password))
        .routes(routes!(users::create_token, users::list_tokens))
        .routes(routes!(users::revoke_token))
        .routes(routes!(batches::list, batches::create))
        .routes(routes!(batches::get))
        .routes(routes!(batches::report))
        .routes(routes!(batches::set_state))
        .routes(routes!(qa::rejects))
        .routes(routes!(qa::destroy))
        .routes(routes!(qa::release))
        .routes(routes!(qa::sample))
        .routes(routes!(qa::release_batch))
        .routes(routes!(reject_images::image))
        .routes(routes!(packing::list))
        .routes(routes!(packing::get))
        .routes(routes!(packing::add))
        .routes(routes!(packing::remove))
        .routes(routes!(packing::replace))
        .routes(routes!(packing::unpack))
        .routes(routes!(packing::close))
        .routes(routes!(packing::reopen))
        .routes(routes!(packing::void))
        .routes(routes!(shipping::list, shipping::create))
        .routes(routes!(shipping::list_orders, shipping::create_order))
        .routes(routes!(shipping::get_order))
        .routes(routes!(uploads::deliveries))
        .routes(routes!(uploads::retry))
        .routes(routes!(uploads::targets, uploads::add_target))
        .routes(routes!(uploads::remove_target))
        .routes(routes!(lines::list))
        .routes(routes!(lines::get))
        .routes(routes!(lines::events))
        .routes(routes!(line_control::pause))
        .routes(routes!(line_control::resume))
        .routes(routes!(line_control::stop))
        .routes(routes!(line_control::acknowledge))
        .routes(routes!(integrator::configs))
        .routes(routes!(integrator::devices))
        .routes(routes!(integrator::probe))
        .routes(routes!(super::metrics::metrics));
    let (router, mut document) = router.split_for_parts();
    let access = AccessTable::annotate(&mut document)?;
    Ok((router, document, access))
}

/// What an unknown `/api/v1/…` path gets: a 404 problem.
pub async fn not_found() -> impl IntoResponse {
    ApiError(AppError::NotFound {
        what: "API operation",
        id: "this path".into(),
    })
}
