//! Authentication and the role check of every API request (SPEC §8), in one middleware: the
//! route's access comes from [`AccessTable`] (the OpenAPI document's `x-tracemark-roles`); the
//! caller from a bearer token (`Authorization: Bearer tmk_…`, machines) or the session cookie
//! (browsers). A cookie-authenticated write must also carry the session's CSRF token in
//! `X-CSRF-Token` (the synchroniser-token pattern; the cookie is also `SameSite=Strict`). The
//! user goes into the request's extensions for the handler ([`axum::Extension<AuthUser>`]) and
//! into the response's for the access log.

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

use super::access::Access;
use super::problem::ApiError;
use super::server::Peer;
use super::state::ApiState;
use crate::app::users::{self, AuthUser, Via};
use crate::app::{Actor, AppError};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "tracemark_session";
/// The header a cookie-authenticated write carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Who an authenticated request acts for: the user the [`enforce`] check let through, and the
/// actor its writes are recorded with — that user on the device `http@<client address>`.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user: AuthUser,
    /// The user on this request's device.
    pub actor: Actor,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Put there by `enforce`; an operation without a role check has no caller.
        let user = parts.extensions.get::<AuthUser>().cloned().ok_or_else(|| {
            ApiError(AppError::Unauthorized(
                "log in (POST /api/v1/session) or send a bearer token".into(),
            ))
        })?;
        let device = parts.extensions.get::<ConnectInfo<Peer>>().map_or_else(
            || "http".to_owned(),
            |ConnectInfo(Peer(addr))| device(*addr),
        );
        Ok(Caller {
            actor: user.actor(&device),
            user,
        })
    }
}

/// The device an API write is recorded with: the client's address.
pub fn device(peer: std::net::SocketAddr) -> String {
    format!("http@{}", peer.ip())
}

/// Who made a request, for the access log (set on the response).
#[derive(Debug, Clone)]
pub struct LoggedUser(pub String);

/// Checks the request against its route's access, then runs the handler.
pub async fn enforce(
    State(state): State<ApiState>,
    matched: Option<MatchedPath>,
    jar: CookieJar,
    mut request: Request,
    next: Next,
) -> Response {
    let access = matched
        .as_ref()
        .and_then(|path| state.access.get(request.method(), path.as_str()));
    let roles = match access {
        Some(Access::Public) => return next.run(request).await,
        Some(Access::Roles(roles)) => roles,
        // Every API route is in the table (checked at start-up); a request that matched none
        // is answered by the fallback.
        None => return next.run(request).await,
    };
    let user = match caller(&state, request.headers(), &jar).await {
        Ok(user) => user,
        Err(error) => return ApiError(error).into_response(),
    };
    if let Err(error) = user.require(roles) {
        return with_user(ApiError(error).into_response(), &user);
    }
    if let Via::Session { csrf } = &user.via
        && !is_safe(request.method())
    {
        let sent = request
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok());
        if sent != Some(csrf.as_str()) {
            let error = AppError::Forbidden(format!(
                "a write from a browser session needs the session's CSRF token in {CSRF_HEADER}"
            ));
            return with_user(ApiError(error).into_response(), &user);
        }
    }
    request.extensions_mut().insert(user.clone());
    with_user(next.run(request).await, &user)
}

/// The user of a bearer token, else of the session cookie; 401 when neither is valid.
async fn caller(
    state: &ApiState,
    headers: &HeaderMap,
    jar: &CookieJar,
) -> Result<AuthUser, AppError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                AppError::Unauthorized("Authorization must be `Bearer <token>`".into())
            })?;
        return users::authenticate_bearer(&state.store, token.trim()).await;
    }
    match jar.get(SESSION_COOKIE) {
        Some(cookie) => users::authenticate_session(&state.store, cookie.value()).await,
        None => Err(AppError::Unauthorized(
            "log in (POST /api/v1/session) or send a bearer token".into(),
        )),
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn with_user(mut response: Response, user: &AuthUser) -> Response {
    response
        .extensions_mut()
        .insert(LoggedUser(user.name.clone()));
    response
}

/// The session cookie holding `secret`: `HttpOnly` (no script reads it), `SameSite=Strict`
/// (no other site's page sends it), `Secure` when served over TLS, for the whole site.
pub fn session_cookie(secret: String, secure: bool) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, secret))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .path("/")
        .build()
}

/// A cookie that removes the session cookie.
pub fn cleared_session_cookie(secure: bool) -> Cookie<'static> {
    let mut cookie = session_cookie(String::new(), secure);
    cookie.make_removal();
    cookie
}
