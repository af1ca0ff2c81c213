//! Users, roles, sessions and API tokens (SPEC §8, issue 16 item 2; docs/users.md).
//!
//! Roles: `operator` (batches: start, pause, resume, stop, close; alarms), `qa` (reject
//! dispositions, samples, carton rework, batch release — four eyes), `integrator` (line
//! configs, device probes, upload targets), `admin` (users and roles, purge, backup). Every
//! logged-in user reads. The HTTP edge authenticates a request with [`authenticate_session`]
//! (browser cookie) or [`authenticate_bearer`] (machines) and checks the operation's roles
//! with [`AuthUser::require`]; the rule of who may do what lives in the operation's declaration
//! (`x-tracemark-roles`), enforced in one place by the edge's router.
//!
//! INTERFACE SKELETON: the bodies are being built (issue 16 item 2); every function answers
//! [`AppError::Internal`] until then.

use serde::{Deserialize, Serialize};
use tracemark_store::{Actor, Store};

use super::AppError;

/// What a user may do beyond reading (SPEC §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the line: batches and alarms.
    Operator,
    /// Quality: rejects, samples, rework, batch release.
    Qa,
    /// Wires the line: configs, probes, upload targets.
    Integrator,
    /// Users and roles, purge, backup.
    Admin,
}

impl Role {
    /// Every role, in the order of SPEC §8.
    pub const ALL: [Role; 4] = [Role::Operator, Role::Qa, Role::Integrator, Role::Admin];

    /// The stored and wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Qa => "qa",
            Role::Integrator => "integrator",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = AppError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| {
                AppError::input(
                    "role",
                    format!("{text:?} is not one of operator, qa, integrator, admin"),
                )
            })
    }
}

/// The language of a user's screens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Language {
    /// English.
    #[default]
    #[serde(rename = "en")]
    En,
    /// Simplified Chinese.
    #[serde(rename = "zh-CN")]
    ZhCn,
}

/// A user as listed (never with a password or token hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// The login name.
    pub name: String,
    /// The role.
    pub role: Role,
    /// A disabled user cannot log in; their sessions and tokens stop working.
    pub disabled: bool,
    /// The screens' language.
    pub language: Language,
    /// When added (RFC 3339, UTC).
    pub created_at: String,
}

/// How a request was authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A browser session; cookie-authenticated writes must carry this CSRF token.
    Session {
        /// The session's CSRF token (sent back in the `X-CSRF-Token` header).
        csrf: String,
    },
    /// A bearer token (machines): no CSRF check.
    Token,
}

/// The user a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    /// The login name.
    pub name: String,
    /// The role.
    pub role: Role,
    /// The screens' language.
    pub language: Language,
    /// Session or token.
    pub via: Via,
}

impl AuthUser {
    /// The actor of this user's writes, on `device` (e.g. `http@<peer address>`).
    pub fn actor(&self, device: &str) -> Actor {
        Actor {
            user: self.name.clone(),
            device: device.to_owned(),
        }
    }

    /// Refuses ([`AppError::Forbidden`]) unless the user's role is one of `allowed`; an empty
    /// `allowed` means every logged-in user (reads).
    pub fn require(&self, allowed: &[Role]) -> Result<(), AppError> {
        if allowed.is_empty() || allowed.contains(&self.role) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "{} has role {}; this needs {}",
                self.name,
                self.role,
                allowed
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(" or ")
            )))
        }
    }
}

/// A session just opened: the secret goes into the cookie once and is stored only hashed.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The session secret (the cookie's value).
    pub secret: String,
    /// The CSRF token of the session.
    pub csrf: String,
    /// Who logged in.
    pub user: User,
    /// When it expires (RFC 3339, UTC).
    pub expires_at: String,
}

/// A token just made: printed once, stored only hashed.
#[derive(Debug, Clone, Serialize)]
pub struct NewToken {
    /// The bearer token.
    pub token: String,
    /// Whose.
    pub user: String,
    /// When it expires (RFC 3339, UTC), if ever.
    pub expires_at: Option<String>,
}

/// Counts failed logins per user name and per client, in memory, to slow guessing (SPEC §8:
/// logins rate-limited). Shared by the server's requests.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    _private: (),
}

fn not_built() -> AppError {
    AppError::internal("users", "not built yet (issue 16 item 2)")
}

/// Adds a user with `role` and `password` (Argon2id).
pub async fn add_user(
    _store: &Store,
    _actor: &Actor,
    _name: &str,
    _role: Role,
    _password: &str,
) -> Result<User, AppError> {
    Err(not_built())
}

/// Every user, by name.
pub async fn list_users(_store: &Store) -> Result<Vec<User>, AppError> {
    Err(not_built())
}

/// Changes a user's role.
pub async fn set_role(
    _store: &Store,
    _actor: &Actor,
    _name: &str,
    _role: Role,
) -> Result<User, AppError> {
    Err(not_built())
}

/// Disables a user: no login, their sessions and tokens stop working.
pub async fn disable_user(_store: &Store, _actor: &Actor, _name: &str) -> Result<User, AppError> {
    Err(not_built())
}

/// Sets a user's password; their other sessions end.
pub async fn set_password(
    _store: &Store,
    _actor: &Actor,
    _name: &str,
    _password: &str,
) -> Result<(), AppError> {
    Err(not_built())
}

/// Sets a user's language.
pub async fn set_language(
    _store: &Store,
    _actor: &Actor,
    _name: &str,
    _language: Language,
) -> Result<User, AppError> {
    Err(not_built())
}

/// Makes a bearer token for `name`, expiring after `expires_days` (never without).
pub async fn create_token(
    _store: &Store,
    _actor: &Actor,
    _name: &str,
    _expires_days: Option<u32>,
) -> Result<NewToken, AppError> {
    Err(not_built())
}

/// Logs `name` in from `client` (an address): a new session, or [`AppError::Unauthorized`]
/// (wrong name or password, disabled) or [`AppError::RateLimited`]. Both outcomes are in the
/// audit chain.
pub async fn login(
    _store: &Store,
    _limiter: &LoginLimiter,
    _name: &str,
    _password: &str,
    _client: &str,
) -> Result<NewSession, AppError> {
    Err(not_built())
}

/// Ends the session with `secret`.
pub async fn logout(_store: &Store, _secret: &str) -> Result<(), AppError> {
    Err(not_built())
}

/// The user of the session with `secret` (the cookie's value).
pub async fn authenticate_session(_store: &Store, _secret: &str) -> Result<AuthUser, AppError> {
    Err(not_built())
}

/// The user of the bearer `token`.
pub async fn authenticate_bearer(_store: &Store, _token: &str) -> Result<AuthUser, AppError> {
    Err(not_built())
}
