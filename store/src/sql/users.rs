//! Users, sessions and API tokens (`store::users`). Every write is one transaction with its
//! event; no event carries a password, a secret, a token or a hash.

use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::audit::{begin, finish};
use super::{Db, get};
use crate::users::{LoginFailure, NewUserRecord, SessionRecord, TokenRecord, UserRecord};
use crate::{Actor, StoreError, now};

type Tx = Transaction<'static, Any>;

const USER_COLUMNS: &str =
    "u.name, u.role, u.password_hash, u.disabled, u.language, u.created_at, u.updated_at";

const TOKEN_COLUMNS: &str = "t.id, t.user_name AS token_user, t.created_at AS token_created_at, \
    t.expires_at AS token_expires_at, t.revoked";

fn user_from_row(row: &AnyRow) -> Result<UserRecord, StoreError> {
    const WHAT: &str = "read a user";
    Ok(UserRecord {
        name: get(row, "name", WHAT)?,
        role: get(row, "role", WHAT)?,
        password_hash: get(row, "password_hash", WHAT)?,
        disabled: get::<i64>(row, "disabled", WHAT)? != 0,
        language: get(row, "language", WHAT)?,
        created_at: get(row, "created_at", WHAT)?,
        updated_at: get(row, "updated_at", WHAT)?,
    })
}

fn token_from_row(row: &AnyRow) -> Result<TokenRecord, StoreError> {
    const WHAT: &str = "read an API token";
    Ok(TokenRecord {
        id: get(row, "id", WHAT)?,
        user: get(row, "token_user", WHAT)?,
        created_at: get(row, "token_created_at", WHAT)?,
        expires_at: get(row, "token_expires_at", WHAT)?,
        revoked: get::<i64>(row, "revoked", WHAT)? != 0,
    })
}

fn subject(name: &str) -> String {
    format!("user:{name}")
}

async fn user_in(tx: &mut Tx, name: &str) -> Result<UserRecord, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users u WHERE u.name = $1"
    ))
    .bind(name)
    .fetch_optional(&mut **tx)
    .await
    .map_err(StoreError::db(format!("read user {name}")))?;
    row.as_ref()
        .map(user_from_row)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound {
            what: "user",
            id: name.to_owned(),
        })
}

pub(crate) async fn add_user(
    db: &Db,
    actor: &Actor,
    user: &NewUserRecord<'_>,
) -> Result<(), StoreError> {
    let (mut tx, head) = begin(db).await?;
    let exists = sqlx::query("SELECT name FROM users WHERE name = $1")
        .bind(user.name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db("read the users"))?;
    if exists.is_some() {
        return Err(StoreError::invalid(
            "name",
            format!("user {:?} exists already", user.name),
        ));
    }
    let at = now();
    sqlx::query(
        "INSERT INTO users (name, role, password_hash, disabled, language, created_at, \
         updated_at) VALUES ($1, $2, $3, 0, $4, $5, $5)",
    )
    .bind(user.name)
    .bind(user.role)
    .bind(user.password_hash)
    .bind(user.language)
    .bind(&at)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db(format!("add user {}", user.name)))?;
    let detail = json!({ "name": user.name, "role": user.role, "language": user.language });
    finish(tx, actor, head, "user.added", &subject(user.name), detail).await
}

pub(crate) async fn user(db: &Db, name: &str) -> Result<Option<UserRecord>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users u WHERE u.name = $1"
    ))
    .bind(name)
    .fetch_optional(&db.pool)
    .await
    .map_err(StoreError::db(format!("read user {name}")))?;
    row.as_ref().map(user_from_row).transpose()
}

pub(crate) async fn users(db: &Db) -> Result<Vec<UserRecord>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users u ORDER BY u.name"
    ))
    .fetch_all(&db.pool)
    .await
    .map_err(StoreError::db("read the users"))?;
    rows.iter().map(user_from_row).collect()
}

/// What [`set_column`] changes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Column<'a> {
    /// The role's stored name.
    Role(&'a str),
    /// The language's stored name.
    Language(&'a str),
    /// Disabled (for good: there is no enabling yet); ends every session.
    Disabled,
    /// A new password hash; ends every session but `keep` (a secret's SHA-256).
    Password {
        hash: &'a str,
        keep: Option<&'a str>,
    },
}

/// Ends `name`'s sessions but `keep`; returns how many.
async fn end_sessions(tx: &mut Tx, name: &str, keep: Option<&str>) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "DELETE FROM user_sessions WHERE user_name = $1 \
         AND ($2 IS NULL OR secret_sha256 <> $2)",
    )
    .bind(name)
    .bind(keep)
    .execute(&mut **tx)
    .await
    .map_err(StoreError::db(format!("end the sessions of {name}")))?
    .rows_affected())
}

/// Changes one thing about user `name`, with its event. A change to what is already there
/// writes nothing (no event) but a password, which is always set anew.
pub(crate) async fn set_column(
    db: &Db,
    actor: &Actor,
    name: &str,
    column: Column<'_>,
) -> Result<(), StoreError> {
    let (mut tx, head) = begin(db).await?;
    let user = user_in(&mut tx, name).await?;
    let (statement, value, kind, detail) = match column {
        Column::Role(role) => {
            if user.role == role {
                return Ok(()); // rolled back: nothing changes
            }
            let detail = json!({ "name": name, "from": user.role, "to": role });
            ("role = $1", Some(role), "user.role", detail)
        }
        Column::Language(language) => {
            if user.language == language {
                return Ok(());
            }
            let detail = json!({ "name": name, "from": user.language, "to": language });
            ("language = $1", Some(language), "user.language", detail)
        }
        Column::Disabled => {
            if user.disabled {
                return Ok(());
            }
            let ended = end_sessions(&mut tx, name, None).await?;
            let detail = json!({ "name": name, "sessions_ended": ended });
            ("disabled = 1", None, "user.disabled", detail)
        }
        Column::Password { hash, keep } => {
            let ended = end_sessions(&mut tx, name, keep).await?;
            let detail = json!({ "name": name, "sessions_ended": ended });
            ("password_hash = $1", Some(hash), "user.password", detail)
        }
    };
    // `$1` is bound only when the statement has it; the name and time come after it.
    let (at_param, name_param) = if value.is_some() {
        ("$2", "$3")
    } else {
        ("$1", "$2")
    };
    let sql =
        format!("UPDATE users SET {statement}, updated_at = {at_param} WHERE name = {name_param}");
    let mut query = sqlx::query(&sql);
    if let Some(value) = value {
        query = query.bind(value);
    }
    query
        .bind(now())
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(format!("change user {name}")))?;
    finish(tx, actor, head, kind, &subject(name), detail).await
}

/// Whether the RFC 3339 time `at` is past (an unreadable time counts as past: a session or
/// token whose expiry cannot be read must not work).
pub(crate) fn is_past(at: &str) -> bool {
    OffsetDateTime::parse(at, &Rfc3339).map_or(true, |at| at <= OffsetDateTime::now_utc())
}

pub(crate) async fn open_session(
    db: &Db,
    actor: &Actor,
    name: &str,
    secret_sha256: &str,
    csrf: &str,
    expires_at: &str,
) -> Result<(), StoreError> {
    let (mut tx, head) = begin(db).await?;
    user_in(&mut tx, name).await?;
    // Housekeeping: the user's expired sessions go (they no longer authenticate anyway).
    let rows =
        sqlx::query("SELECT secret_sha256, expires_at FROM user_sessions WHERE user_name = $1")
            .bind(name)
            .fetch_all(&mut *tx)
            .await
            .map_err(StoreError::db(format!("read the sessions of {name}")))?;
    let mut expired = 0_u64;
    for row in &rows {
        let at: String = get(row, "expires_at", "read a session")?;
        if is_past(&at) {
            let sha: String = get(row, "secret_sha256", "read a session")?;
            expired += sqlx::query("DELETE FROM user_sessions WHERE secret_sha256 = $1")
                .bind(&sha)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db(format!(
                    "remove an expired session of {name}"
                )))?
                .rows_affected();
        }
    }
    sqlx::query(
        "INSERT INTO user_sessions (secret_sha256, user_name, csrf, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(secret_sha256)
    .bind(name)
    .bind(csrf)
    .bind(now())
    .bind(expires_at)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db(format!("open a session of {name}")))?;
    let detail = json!({
        "name": name, "client": actor.device, "expires_at": expires_at,
        "expired_sessions_removed": expired,
    });
    finish(tx, actor, head, "user.login", &subject(name), detail).await
}

pub(crate) async fn login_failed(
    db: &Db,
    actor: &Actor,
    name: Option<&str>,
    why: LoginFailure,
) -> Result<(), StoreError> {
    let (tx, head) = begin(db).await?;
    let detail = json!({ "name": name, "client": actor.device, "reason": why.as_str() });
    let subject = name.map_or_else(|| "user:?".to_owned(), subject);
    finish(tx, actor, head, "user.login_failed", &subject, detail).await
}

pub(crate) async fn session(
    db: &Db,
    secret_sha256: &str,
) -> Result<Option<(SessionRecord, UserRecord)>, StoreError> {
    const WHAT: &str = "read a session";
    let row = sqlx::query(&format!(
        "SELECT s.user_name AS session_user, s.csrf, s.created_at AS session_created_at, \
         s.expires_at, {USER_COLUMNS} FROM user_sessions s \
         JOIN users u ON u.name = s.user_name WHERE s.secret_sha256 = $1"
    ))
    .bind(secret_sha256)
    .fetch_optional(&db.pool)
    .await
    .map_err(StoreError::db(WHAT))?;
    let Some(row) = row else { return Ok(None) };
    let session = SessionRecord {
        user: get(&row, "session_user", WHAT)?,
        csrf: get(&row, "csrf", WHAT)?,
        created_at: get(&row, "session_created_at", WHAT)?,
        expires_at: get(&row, "expires_at", WHAT)?,
    };
    Ok(Some((session, user_from_row(&row)?)))
}

pub(crate) async fn close_session(
    db: &Db,
    actor: &Actor,
    secret_sha256: &str,
) -> Result<Option<String>, StoreError> {
    let (mut tx, head) = begin(db).await?;
    let row = sqlx::query("DELETE FROM user_sessions WHERE secret_sha256 = $1 RETURNING user_name")
        .bind(secret_sha256)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db("end a session"))?;
    let Some(row) = row else {
        return Ok(None); // rolled back: no such session, nothing written
    };
    let name: String = get(&row, "user_name", "end a session")?;
    // The logout is the session's user's act, wherever the request came from.
    let actor = Actor {
        user: name.clone(),
        device: actor.device.clone(),
    };
    let detail = json!({ "name": name });
    finish(tx, &actor, head, "user.logout", &subject(&name), detail).await?;
    Ok(Some(name))
}

pub(crate) async fn add_token(
    db: &Db,
    actor: &Actor,
    name: &str,
    token_sha256: &str,
    expires_at: Option<&str>,
) -> Result<TokenRecord, StoreError> {
    let (mut tx, head) = begin(db).await?;
    user_in(&mut tx, name).await?;
    let created_at = now();
    let row = sqlx::query(
        "INSERT INTO api_tokens (token_sha256, user_name, created_at, expires_at, revoked) \
         VALUES ($1, $2, $3, $4, 0) RETURNING id",
    )
    .bind(token_sha256)
    .bind(name)
    .bind(&created_at)
    .bind(expires_at)
    .fetch_one(&mut *tx)
    .await
    .map_err(StoreError::db(format!("add a token of {name}")))?;
    let id: i64 = get(&row, "id", "read the new token's number")?;
    let detail = json!({ "name": name, "token": id, "expires_at": expires_at });
    finish(
        tx,
        actor,
        head,
        "user.token_created",
        &subject(name),
        detail,
    )
    .await?;
    Ok(TokenRecord {
        id,
        user: name.to_owned(),
        created_at,
        expires_at: expires_at.map(str::to_owned),
        revoked: false,
    })
}

pub(crate) async fn token(
    db: &Db,
    token_sha256: &str,
) -> Result<Option<(TokenRecord, UserRecord)>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {TOKEN_COLUMNS}, {USER_COLUMNS} FROM api_tokens t \
         JOIN users u ON u.name = t.user_name WHERE t.token_sha256 = $1"
    ))
    .bind(token_sha256)
    .fetch_optional(&db.pool)
    .await
    .map_err(StoreError::db("read a token"))?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some((token_from_row(&row)?, user_from_row(&row)?)))
}

pub(crate) async fn tokens(db: &Db, user: Option<&str>) -> Result<Vec<TokenRecord>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens t WHERE $1 IS NULL OR t.user_name = $1 \
         ORDER BY t.id"
    ))
    .bind(user)
    .fetch_all(&db.pool)
    .await
    .map_err(StoreError::db("read the tokens"))?;
    rows.iter().map(token_from_row).collect()
}

pub(crate) async fn revoke_token(
    db: &Db,
    actor: &Actor,
    id: i64,
) -> Result<TokenRecord, StoreError> {
    let (mut tx, head) = begin(db).await?;
    let row = sqlx::query(&format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens t WHERE t.id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(StoreError::db(format!("read token {id}")))?;
    let Some(mut token) = row.as_ref().map(token_from_row).transpose()? else {
        return Err(StoreError::NotFound {
            what: "token",
            id: id.to_string(),
        });
    };
    if token.revoked {
        return Ok(token); // rolled back: revoked already
    }
    sqlx::query("UPDATE api_tokens SET revoked = 1 WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(format!("revoke token {id}")))?;
    let detail = json!({ "name": token.user, "token": id });
    finish(
        tx,
        actor,
        head,
        "user.token_revoked",
        &subject(&token.user),
        detail,
    )
    .await?;
    token.revoked = true;
    Ok(token)
}
