//! `/api/v1/users`: users, roles, passwords and tokens (SPEC §8: the administrator's), through
//! [`crate::app::users`] (the same functions `tracemark user …` calls). No answer ever holds a
//! password or a hash; a new token is in the one answer that makes it.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::app::page::{Page, PageRequest};
use crate::app::users::{self, NewToken, Role, TokenRecord, User};
use crate::http::auth::Caller;
use crate::http::problem::{ApiError, ApiJson, Problem};
use crate::http::state::ApiState;

/// A user to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    /// The login name: 1 to 64 of `A-Z a-z 0-9 . _ -`.
    pub name: String,
    /// `operator`, `qa`, `integrator` or `admin`.
    pub role: Role,
    /// At least 10 characters.
    pub password: String,
}

/// A role change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    /// The new role.
    pub role: Role,
}

/// A new password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// At least 10 characters.
    pub password: String,
}

/// A token to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Days until it expires (1 to 3650); none: never.
    pub expires_days: Option<u32>,
}

/// The users, by name.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    operation_id = "list_users",
    tag = "users",
    params(PageRequest),
    responses(
        (status = 200, description = "A page of users", body = Page<User>),
        (status = 400, description = "A bad page", body = Problem),
    )
)]
pub async fn list(
    State(state): State<ApiState>,
    Query(page): Query<PageRequest>,
) -> Result<axum::Json<Page<User>>, ApiError> {
    Ok(axum::Json(
        page.slice(users::list_users(&state.store).await?)?,
    ))
}

/// Adds a user.
#[utoipa::path(
    post,
    path = "/api/v1/users",
    operation_id = "add_user",
    tag = "users",
    request_body = NewUserRequest,
    responses(
        (status = 201, description = "Added", body = User),
        (status = 400, description = "A field is invalid", body = Problem),
        (status = 409, description = "The name is taken", body = Problem),
    )
)]
pub async fn add(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(request): ApiJson<NewUserRequest>,
) -> Result<(StatusCode, axum::Json<User>), ApiError> {
    let actor = caller.actor;
    let added = users::add_user(
        &state.store,
        &actor,
        &request.name,
        request.role,
        &request.password,
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(added)))
}

/// Changes a user's role (in the audit chain with who changed it).
#[utoipa::path(
    post,
    path = "/api/v1/users/{name}/role",
    operation_id = "set_user_role",
    tag = "users",
    params(("name" = String, Path, description = "The user")),
    request_body = RoleChange,
    responses(
        (status = 200, description = "Changed", body = User),
        (status = 400, description = "Not a role", body = Problem),
        (status = 404, description = "No such user", body = Problem),
    )
)]
pub async fn set_role(
    State(state): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(change): ApiJson<RoleChange>,
) -> Result<axum::Json<User>, ApiError> {
    let actor = caller.actor;
    Ok(axum::Json(
        users::set_role(&state.store, &actor, &name, change.role).await?,
    ))
}

/// Disables a user: no login; their sessions and tokens stop working.
#[utoipa::path(
    post,
    path = "/api/v1/users/{name}/disable",
    operation_id = "disable_user",
    tag = "users",
    params(("name" = String, Path, description = "The user")),
    responses(
        (status = 200, description = "Disabled", body = User),
        (status = 404, description = "No such user", body = Problem),
    )
)]
pub async fn disable(
    State(state): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<axum::Json<User>, ApiError> {
    let actor = caller.actor;
    Ok(axum::Json(
        users::disable_user(&state.store, &actor, &name).await?,
    ))
}

/// Sets a user's password; their sessions end.
#[utoipa::path(
    post,
    path = "/api/v1/users/{name}/password",
    operation_id = "set_user_password",
    tag = "users",
    params(("name" = String, Path, description = "The user")),
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Set"),
        (status = 400, description = "Too short", body = Problem),
        (status = 404, description = "No such user", body = Problem),
    )
)]
pub async fn set_password(
    State(state): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(change): ApiJson<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    let actor = caller.actor;
    users::set_password(&state.store, &actor, &name, &change.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Makes a bearer token for a user; this answer is the only place it appears.
#[utoipa::path(
    post,
    path = "/api/v1/users/{name}/tokens",
    operation_id = "create_user_token",
    tag = "users",
    params(("name" = String, Path, description = "The user")),
    request_body = TokenRequest,
    responses(
        (status = 201, description = "Made", body = NewToken),
        (status = 400, description = "A bad expiry", body = Problem),
        (status = 404, description = "No such user", body = Problem),
    )
)]
pub async fn create_token(
    State(state): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<TokenRequest>,
) -> Result<(StatusCode, axum::Json<NewToken>), ApiError> {
    let actor = caller.actor;
    let token = users::create_token(&state.store, &actor, &name, request.expires_days).await?;
    Ok((StatusCode::CREATED, axum::Json(token)))
}

/// A user's tokens, by number: never a token or its hash.
#[utoipa::path(
    get,
    path = "/api/v1/users/{name}/tokens",
    operation_id = "list_user_tokens",
    tag = "users",
    params(("name" = String, Path, description = "The user"), PageRequest),
    responses(
        (status = 200, description = "A page of tokens", body = Page<TokenRecord>),
        (status = 400, description = "A bad page", body = Problem),
        (status = 404, description = "No such user", body = Problem),
    )
)]
pub async fn list_tokens(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(page): Query<PageRequest>,
) -> Result<axum::Json<Page<TokenRecord>>, ApiError> {
    Ok(axum::Json(page.slice(
        users::list_tokens(&state.store, Some(&name)).await?,
    )?))
}

/// Revokes one of a user's tokens for good (the same as `tracemark user revoke-token`).
#[utoipa::path(
    delete,
    path = "/api/v1/users/{name}/tokens/{id}",
    operation_id = "revoke_user_token",
    tag = "users",
    params(
        ("name" = String, Path, description = "The user"),
        ("id" = i64, Path, description = "The token's number"),
    ),
    responses(
        (status = 200, description = "Revoked", body = TokenRecord),
        (status = 404, description = "No such user, or no such token of theirs", body = Problem),
    )
)]
pub async fn revoke_token(
    State(state): State<ApiState>,
    caller: Caller,
    Path((name, id)): Path<(String, i64)>,
) -> Result<axum::Json<TokenRecord>, ApiError> {
    let actor = caller.actor;
    Ok(axum::Json(
        users::revoke_user_token(&state.store, &actor, &name, id).await?,
    ))
}
