//! The public code lookup's routes (issue 17; SPEC §9; docs/lookup.md), without login: served
//! by `tracemark serve` beside the API, and alone on `--public-http ADDR`. The handlers only
//! translate: the request into an [`app::lookup`](crate::app::lookup) query, its answer into
//! a page, JSON or a linkset (GS1-Conformant Resolver standard 1.2), its error into a problem.
//!
//! Every answer carries `Access-Control-Allow-Origin: *` (a scanning web app on any origin may
//! read it) and passes the per-client rate limit first (429 with `Retry-After`).

mod page;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use super::problem::ApiError;
use super::server::Peer;
use crate::app::AppError;
use crate::app::lookup::{CodeQuery, Lookup, input, linkset};

/// The media type of an RFC 9264 linkset in JSON.
pub const LINKSET_JSON: &str = "application/linkset+json";

/// The lookup's routes, with their state; merge into any router.
pub fn router(lookup: Lookup) -> Router {
    let prefix = lookup
        .settings()
        .digital_identity_prefix
        .trim_matches('/')
        .to_owned();
    let mut router = Router::new()
        .route("/01/{*rest}", get(digital_link).options(preflight))
        .route("/E={code}", get(ecode).options(preflight))
        .route("/lookup", get(raw_scan).options(preflight))
        .route(
            "/.well-known/gs1resolver",
            get(description).options(preflight),
        );
    if !prefix.is_empty() && prefix != "01" && prefix != "lookup" {
        router = router.route(
            &format!("/{prefix}/{{*rest}}"),
            get(digital_identity).options(preflight),
        );
    }
    router
        .route_layer(middleware::from_fn_with_state(lookup.clone(), guard))
        .with_state(lookup)
}

/// The rate limit, then CORS on whatever the route answered (errors too).
async fn guard(State(lookup): State<Lookup>, request: Request, next: Next) -> Response {
    let client = request
        .extensions()
        .get::<ConnectInfo<Peer>>()
        .map(|ConnectInfo(Peer(addr))| addr.ip());
    let admitted = match client {
        Some(ip) => lookup.admit(ip),
        // Served without connection info (a test's oneshot): one shared client.
        None => lookup.admit(std::net::Ipv4Addr::UNSPECIFIED.into()),
    };
    let mut response = match admitted {
        Ok(()) => next.run(request).await,
        Err(limited) => ApiError(limited).into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Link, Retry-After"),
    );
    response
}

/// CORS preflight and OPTIONS (RFC 9110 §9.3.7): what the resource allows.
async fn preflight() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::ALLOW,
        HeaderValue::from_static("GET, HEAD, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Accept, Accept-Language"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}

/// What the request asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Wanted {
    /// The page (the default link, `gs1:pip`).
    Page,
    /// The answer as JSON (`Accept: application/json`, `linkType=gs1:traceability`).
    Json,
    /// The linkset (`linkType=linkset` or `all`, or `Accept: application/linkset+json`).
    Linkset,
    /// Another link type, followed when the unit has it (`gs1:instructions`, …).
    LinkType(String),
}

/// A query parameter's raw value (not percent-decoded: link types and `lang` have no escapes).
fn parameter<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn accepts(headers: &HeaderMap, media_type: &str) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.split(';').next().is_some_and(|t| t.trim() == media_type))
}

fn wanted(headers: &HeaderMap, query: Option<&str>) -> Wanted {
    match parameter(query, "linkType") {
        Some("linkset" | "all") => return Wanted::Linkset,
        Some("gs1:traceability" | "https://gs1.org/voc/traceability") => return Wanted::Json,
        Some("gs1:defaultLink" | "gs1:pip") | None => {}
        Some(other) => return Wanted::LinkType(other.to_owned()),
    }
    if accepts(headers, LINKSET_JSON) {
        Wanted::Linkset
    } else if accepts(headers, "application/json") && !accepts(headers, "text/html") {
        Wanted::Json
    } else {
        Wanted::Page
    }
}

/// The root URL the links are made under: the configured public URL, or this request's host.
fn root(lookup: &Lookup, headers: &HeaderMap) -> String {
    if let Some(url) = &lookup.settings().public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    format!("http://{host}")
}

async fn digital_link(
    State(lookup): State<Lookup>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let query = input::digital_link(uri.path(), uri.query());
    answer(&lookup, &method, &headers, &uri, query).await
}

async fn ecode(
    State(lookup): State<Lookup>,
    Path(code): Path<String>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    answer(&lookup, &method, &headers, &uri, input::ecode(&code)).await
}

async fn digital_identity(
    State(lookup): State<Lookup>,
    Path(rest): Path<String>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let prefix = lookup.settings().digital_identity_prefix.clone();
    answer(
        &lookup,
        &method,
        &headers,
        &uri,
        input::digital_identity(&prefix, &rest),
    )
    .await
}

#[derive(Debug, serde::Deserialize)]
struct RawScan {
    code: Option<String>,
}

async fn raw_scan(
    State(lookup): State<Lookup>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    // Decoded here, not by an extractor: a malformed query is the lookup's 400, in its words.
    let code = axum::extract::Query::<RawScan>::try_from_uri(&uri)
        .ok()
        .and_then(|q| q.0.code)
        .unwrap_or_default();
    let query = input::scan(&code, &lookup.settings().digital_identity_prefix);
    answer(&lookup, &method, &headers, &uri, query).await
}

/// The resolver's description (GS1-Conformant Resolver standard §5.1).
async fn description(State(lookup): State<Lookup>, headers: HeaderMap) -> Response {
    let body = linkset::description(&root(&lookup, &headers));
    axum::Json(body).into_response()
}

/// One lookup's answer in the form asked for.
async fn answer(
    lookup: &Lookup,
    method: &Method,
    headers: &HeaderMap,
    uri: &Uri,
    query: Result<CodeQuery, AppError>,
) -> Response {
    let language = page::language(headers, uri.query());
    let wanted = wanted(headers, uri.query());
    let result = match query {
        Ok(query) => lookup
            .look_up(&query, method != Method::HEAD)
            .await
            .map(|answer| (query, answer)),
        Err(error) => Err(error),
    };
    let (query, found) = match result {
        Ok(found) => found,
        Err(error) => {
            return if wanted == Wanted::Page && accepts(headers, "text/html") {
                page::error(&error, language, uri)
            } else {
                ApiError(error).into_response()
            };
        }
    };
    let anchor = linkset::anchor(
        &root(lookup, headers),
        &query,
        &lookup.settings().digital_identity_prefix,
    );
    let mut response = match wanted {
        Wanted::Linkset => json_with_type(&linkset::linkset(&found, &anchor), LINKSET_JSON),
        Wanted::Json => json_with_type(&found, "application/json"),
        Wanted::LinkType(link_type) => match linkset::redirect_for(&found, &link_type) {
            // §6.5: a link type the unit has is followed (307 keeps the method).
            Some(target) => Redirect::temporary(&target).into_response(),
            // One it does not have falls back to the default link.
            None => page::answer(&found, language, uri),
        },
        Wanted::Page => page::answer(&found, language, uri),
    };
    decorate(response.headers_mut(), &anchor);
    response
}

/// Headers of every lookup answer: where the linkset is (GS1-Conformant Resolver standard
/// §6.4; RFC 8288), that the answer varies with `Accept` and `Accept-Language`, and that it is
/// not to be cached (the scan count changes with every scan).
fn decorate(headers: &mut HeaderMap, anchor: &str) {
    let separator = if anchor.contains('?') { '&' } else { '?' };
    let link =
        format!("<{anchor}{separator}linkType=linkset>; rel=\"linkset\"; type=\"{LINKSET_JSON}\"");
    if let Ok(value) = HeaderValue::from_str(&link) {
        headers.insert(header::LINK, value);
    }
    headers.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Accept-Language"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

fn json_with_type(value: &impl serde::Serialize, media_type: &'static str) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => {
            let mut response = Response::new(Body::from(body));
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
            response
        }
        Err(error) => {
            ApiError(AppError::internal("serialise a lookup answer", error)).into_response()
        }
    }
}

/// The public lookup alone, for `--public-http`: its routes, and a 404 problem elsewhere.
pub fn public_only(lookup: Lookup) -> Router {
    router(lookup)
        .fallback(not_found)
        .layer(middleware::from_fn(super::server::access_log))
}

async fn not_found() -> Response {
    ApiError(AppError::NotFound {
        what: "page",
        id: "this path".into(),
    })
    .into_response()
}
