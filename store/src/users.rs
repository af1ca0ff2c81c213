//! Users, browser sessions and API tokens as stored (SPEC §8, issue 16 item 2; docs/users.md).
//!
//! The store keeps what the application layer (`tracemark::app::users`) decides: a password as
//! its Argon2id PHC string, a session secret and a token as their SHA-256, never the secrets
//! themselves. The rules — who may log in, when a session expires, what a valid name is —
//! live there; this module keeps the rows and writes every change with its event. No event
//! carries a password, a secret, a token or a hash of one.

use std::fmt;

use serde::Serialize;

use crate::{Store, StoreError, sql};

/// A user as stored, with the password's hash: for the application layer, which never hands
/// it on. `Debug` leaves the hash out, so a log line cannot carry it.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// The login name (unique).
    pub name: String,
    /// The role's stored name (`operator`, `qa`, `integrator`, `admin`).
    pub role: String,
    /// The Argon2id PHC string of the password.
    pub password_hash: String,
    /// A disabled user cannot log in; their sessions and tokens stop working.
    pub disabled: bool,
    /// The language's stored name (`en`, `zh-CN`).
    pub language: String,
    /// When added (RFC 3339, UTC).
    pub created_at: String,
    /// When last changed (RFC 3339, UTC).
    pub updated_at: String,
}

impl fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRecord")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("password_hash", &"<hidden>")
            .field("disabled", &self.disabled)
            .field("language", &self.language)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// A session as stored (found by the SHA-256 of its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Whose.
    pub user: String,
    /// The CSRF token writes must send back.
    pub csrf: String,
    /// When opened (RFC 3339, UTC).
    pub created_at: String,
    /// When it expires (RFC 3339, UTC).
    pub expires_at: String,
}

/// An API token as stored (without its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenRecord {
    /// Its number, to revoke it by.
    pub id: i64,
    /// Whose.
    pub user: String,
    /// When made (RFC 3339, UTC).
    pub created_at: String,
    /// When it expires (RFC 3339, UTC); `None`: never.
    pub expires_at: Option<String>,
    /// Revoked for good.
    pub revoked: bool,
}

/// A new user's row.
#[derive(Clone, PartialEq, Eq)]
pub struct NewUserRecord<'a> {
    /// The login name.
    pub name: &'a str,
    /// The role's stored name.
    pub role: &'a str,
    /// The Argon2id PHC string of the password.
    pub password_hash: &'a str,
    /// The language's stored name.
    pub language: &'a str,
}

impl fmt::Debug for NewUserRecord<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUserRecord")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("password_hash", &"<hidden>")
            .field("language", &self.language)
            .finish()
    }
}

/// Why a login failed, as the audit chain records it (the client is only ever told
/// "unauthorized" or "rate limited").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginFailure {
    /// No user of that name.
    UnknownUser,
    /// The password did not match.
    WrongPassword,
    /// The user is disabled.
    Disabled,
    /// Too many failures: refused without checking the password.
    RateLimited,
}

impl LoginFailure {
    /// The name recorded in the event.
    pub const fn as_str(self) -> &'static str {
        match self {
            LoginFailure::UnknownUser => "unknown_user",
            LoginFailure::WrongPassword => "wrong_password",
            LoginFailure::Disabled => "disabled",
            LoginFailure::RateLimited => "rate_limited",
        }
    }
}

impl Store {
    /// Adds a user. One `user.added` event (name, role, language).
    pub async fn add_user(&self, user: &NewUserRecord<'_>) -> Result<UserRecord, StoreError> {
        sql::users::add_user(&self.db, &self.actor, user).await?;
        self.user(user.name).await
    }

    /// The user `name`.
    pub async fn user(&self, name: &str) -> Result<UserRecord, StoreError> {
        self.find_user(name)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "user",
                id: name.to_owned(),
            })
    }

    /// The user `name`, if there is one.
    pub async fn find_user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        sql::users::user(&self.db, name).await
    }

    /// Every user, by name.
    pub async fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        sql::users::users(&self.db).await
    }

    /// Changes a user's role. One `user.role` event (from, to).
    pub async fn set_user_role(&self, name: &str, role: &str) -> Result<UserRecord, StoreError> {
        sql::users::set_column(&self.db, &self.actor, name, sql::users::Column::Role(role)).await?;
        self.user(name).await
    }

    /// Changes a user's language. One `user.language` event (from, to).
    pub async fn set_user_language(
        &self,
        name: &str,
        language: &str,
    ) -> Result<UserRecord, StoreError> {
        let column = sql::users::Column::Language(language);
        sql::users::set_column(&self.db, &self.actor, name, column).await?;
        self.user(name).await
    }

    /// Disables a user and ends their sessions (their tokens stop working: authentication
    /// checks the flag). One `user.disabled` event.
    pub async fn disable_user(&self, name: &str) -> Result<UserRecord, StoreError> {
        sql::users::set_column(&self.db, &self.actor, name, sql::users::Column::Disabled).await?;
        self.user(name).await
    }

    /// Sets a user's password hash and ends their sessions but `keep` (the SHA-256 of the
    /// secret of the session that asked, if one did). One `user.password` event (how many
    /// sessions ended; never the hash).
    pub async fn set_user_password(
        &self,
        name: &str,
        password_hash: &str,
        keep: Option<&str>,
    ) -> Result<(), StoreError> {
        let column = sql::users::Column::Password {
            hash: password_hash,
            keep,
        };
        sql::users::set_column(&self.db, &self.actor, name, column).await
    }

    /// Opens a session of `user` (SHA-256 of its secret, its CSRF token, when it expires) and
    /// removes the user's expired ones. The store's actor is the user, on the client's device.
    /// One `user.login` event.
    pub async fn open_session(
        &self,
        user: &str,
        secret_sha256: &str,
        csrf: &str,
        expires_at: &str,
    ) -> Result<(), StoreError> {
        sql::users::open_session(&self.db, &self.actor, user, secret_sha256, csrf, expires_at).await
    }

    /// Records a refused login for `name` (`None`: a name not worth keeping, e.g. not a valid
    /// user name — it may be a password typed in the wrong field). One `user.login_failed`
    /// event.
    pub async fn record_login_failed(
        &self,
        name: Option<&str>,
        why: LoginFailure,
    ) -> Result<(), StoreError> {
        sql::users::login_failed(&self.db, &self.actor, name, why).await
    }

    /// The session with this secret's SHA-256 and its user, if there is one (expired or not:
    /// the caller decides).
    pub async fn session(
        &self,
        secret_sha256: &str,
    ) -> Result<Option<(SessionRecord, UserRecord)>, StoreError> {
        sql::users::session(&self.db, secret_sha256).await
    }

    /// Ends the session with this secret's SHA-256; returns its user, or `None` (nothing
    /// written) when there is no such session. One `user.logout` event, for the session's
    /// user.
    pub async fn close_session(&self, secret_sha256: &str) -> Result<Option<String>, StoreError> {
        sql::users::close_session(&self.db, &self.actor, secret_sha256).await
    }

    /// Stores a token of `user` by its SHA-256; returns its number. One `user.token_created`
    /// event (the number and expiry, never the token or its hash).
    pub async fn add_token(
        &self,
        user: &str,
        token_sha256: &str,
        expires_at: Option<&str>,
    ) -> Result<TokenRecord, StoreError> {
        sql::users::add_token(&self.db, &self.actor, user, token_sha256, expires_at).await
    }

    /// The token with this SHA-256 and its user, if there is one (expired or revoked or not:
    /// the caller decides).
    pub async fn token(
        &self,
        token_sha256: &str,
    ) -> Result<Option<(TokenRecord, UserRecord)>, StoreError> {
        sql::users::token(&self.db, token_sha256).await
    }

    /// Every token (of `user`, when given), by number.
    pub async fn tokens(&self, user: Option<&str>) -> Result<Vec<TokenRecord>, StoreError> {
        sql::users::tokens(&self.db, user).await
    }

    /// Revokes token `id` for good. One `user.token_revoked` event (none when it was revoked
    /// already).
    pub async fn revoke_token(&self, id: i64) -> Result<TokenRecord, StoreError> {
        sql::users::revoke_token(&self.db, &self.actor, id).await
    }
}
