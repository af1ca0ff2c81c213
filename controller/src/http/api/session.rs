//! `/api/v1/session`: log in (a session cookie for the browser), who am I, log out.

use axum::Extension;
use axum::extract::{ConnectInfo, State};
use axum::response::IntoResponse;
use axum_extra::extract::cookie::CookieJar;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::users::{self, AuthUser, Language, Role, Via};
use crate::http::auth::Caller;
use crate::http::auth::{SESSION_COOKIE, cleared_session_cookie, session_cookie};
use crate::http::problem::{ApiError, ApiJson, Problem};
use crate::http::server::Peer;
use crate::http::state::ApiState;

/// A login.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The user name.
    pub name: String,
    /// The password.
    pub password: String,
}

/// The session's user, and the CSRF token its writes must carry in `X-CSRF-Token`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfo {
    /// The user name.
    pub name: String,
    /// The role.
    pub role: Role,
    /// The screens' language (`en`, `zh-CN`).
    pub language: Language,
    /// The CSRF token (a session only; none for a bearer token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
}

/// Logs in: sets the session cookie (`HttpOnly`, `SameSite=Strict`, `Secure` over TLS), a new
/// one at every login.
#[utoipa::path(
    post,
    path = "/api/v1/session",
    operation_id = "login",
    tag = "session",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = SessionInfo),
        (status = 400, description = "Malformed", body = Problem),
        (status = 401, description = "Wrong name or password", body = Problem),
        (status = 429, description = "Too many failed logins", body = Problem),
    )
)]
pub async fn login(
    State(state): State<ApiState>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    jar: CookieJar,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let session = users::login(
        &state.store,
        &state.limiter,
        &request.name,
        &request.password,
        &peer.ip().to_string(),
    )
    .await?;
    let info = SessionInfo {
        name: session.user.name.clone(),
        role: session.user.role,
        language: session.user.language,
        csrf_token: Some(session.csrf.clone()),
    };
    let jar = jar.add(session_cookie(session.secret, state.tls));
    Ok((jar, axum::Json(info)))
}

/// The logged-in user.
#[utoipa::path(
    get,
    path = "/api/v1/session",
    operation_id = "current_session",
    tag = "session",
    responses(
        (status = 200, description = "The user", body = SessionInfo),
        (status = 401, description = "Not logged in", body = Problem),
    )
)]
pub async fn current(Extension(user): Extension<AuthUser>) -> axum::Json<SessionInfo> {
    axum::Json(SessionInfo {
        name: user.name,
        role: user.role,
        language: user.language,
        csrf_token: match user.via {
            Via::Session { csrf } => Some(csrf),
            Via::Token => None,
        },
    })
}

/// Logs out: ends the session and clears its cookie.
#[utoipa::path(
    delete,
    path = "/api/v1/session",
    operation_id = "logout",
    tag = "session",
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "Not logged in", body = Problem),
    )
)]
pub async fn logout(
    State(state): State<ApiState>,
    jar: CookieJar,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(cookie) = jar.get(SESSION_COOKIE) {
        users::logout(&state.store, cookie.value()).await?;
    }
    let jar = jar.add(cleared_session_cookie(state.tls));
    Ok((axum::http::StatusCode::NO_CONTENT, jar))
}

/// A language change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LanguageChange {
    /// `en` or `zh-CN`.
    pub language: Language,
}

/// Sets the logged-in user's language (the HMI's words).
#[utoipa::path(
    put,
    path = "/api/v1/session/language",
    operation_id = "set_language",
    tag = "session",
    request_body = LanguageChange,
    responses(
        (status = 204, description = "Set"),
        (status = 400, description = "Not a language", body = Problem),
        (status = 401, description = "Not logged in", body = Problem),
    )
)]
pub async fn set_language(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(change): ApiJson<LanguageChange>,
) -> Result<axum::http::StatusCode, ApiError> {
    users::set_language(
        &state.store,
        &caller.actor,
        &caller.user.name,
        change.language,
    )
    .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
