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
//! Stored: a password as its Argon2id PHC string, a session secret and a bearer token as their
//! SHA-256 — never the secrets, and no hash leaves this module. Every change, login, failed
//! login and logout is in the audit chain with its user (`tracemark_store::users`).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use argon2::password_hash::SaltString;
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
pub use tracemark_store::users::TokenRecord;
use tracemark_store::users::{LoginFailure, NewUserRecord, UserRecord};
use tracemark_store::{Actor, Store};

use super::AppError;

/// What a user may do beyond reading (SPEC §8).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
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
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NewToken {
    /// The bearer token.
    pub token: String,
    /// Whose.
    pub user: String,
    /// When it expires (RFC 3339, UTC), if ever.
    pub expires_at: Option<String>,
}

/// Failed logins of one user name, or from one client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Strikes {
    /// Failures counted (forgotten after [`FORGET_AFTER`] without one).
    failures: u32,
    /// The last failure.
    last: Instant,
    /// No attempt is taken before this.
    locked_until: Option<Instant>,
}

/// The limiter's state, apart from the clock: every call is given `now`, so the rules are
/// tested with made-up instants (no sleeps).
///
/// An attempt counts as a failure from the moment it is taken ([`Attempts::begin`]) and is
/// taken back if the password was right ([`Attempts::succeeded`]): parallel guesses cannot all
/// slip in before the first failure is recorded.
#[derive(Debug, Default)]
struct Attempts {
    names: HashMap<String, Strikes>,
    clients: HashMap<String, Strikes>,
}

/// How long `failures` lock a key out, with `threshold` failures allowed before the first
/// lock-out: [`LOCKOUT_BASE`] doubling with each further failure, at most [`LOCKOUT_CAP`].
fn lockout(failures: u32, threshold: u32) -> Option<Duration> {
    let beyond = failures.checked_sub(threshold)?;
    let factor = 1_u32 << beyond.min(16);
    Some(LOCKOUT_BASE.saturating_mul(factor).min(LOCKOUT_CAP))
}

/// Counts one failure of `key` at `now` in `map`, forgetting an old record and keeping the
/// map within [`MAX_TRACKED`] keys.
fn strike(map: &mut HashMap<String, Strikes>, key: &str, threshold: u32, now: Instant) {
    if !map.contains_key(key) && map.len() >= MAX_TRACKED {
        map.retain(|_, s| now.saturating_duration_since(s.last) < FORGET_AFTER);
        if map.len() >= MAX_TRACKED {
            let oldest = map
                .iter()
                .min_by_key(|(_, s)| s.last)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                map.remove(&oldest);
            }
        }
    }
    let strikes = map.entry(key.to_owned()).or_insert(Strikes {
        failures: 0,
        last: now,
        locked_until: None,
    });
    if now.saturating_duration_since(strikes.last) >= FORGET_AFTER {
        strikes.failures = 0;
    }
    strikes.failures = strikes.failures.saturating_add(1);
    strikes.last = now;
    strikes.locked_until = lockout(strikes.failures, threshold).map(|d| now + d);
}

/// How long `key` is still locked out at `now`.
fn locked_for(map: &HashMap<String, Strikes>, key: &str, now: Instant) -> Option<Duration> {
    let until = map.get(key)?.locked_until?;
    (until > now).then(|| until - now)
}

impl Attempts {
    /// Takes an attempt of `name` from `client` at `now`, counted as a failure until
    /// [`Attempts::succeeded`]; or how long to wait when either is locked out (nothing is
    /// counted then: waiting out a lock-out must be enough).
    fn begin(&mut self, name: &str, client: &str, now: Instant) -> Result<(), Duration> {
        let wait = locked_for(&self.names, name, now)
            .into_iter()
            .chain(locked_for(&self.clients, client, now))
            .max();
        if let Some(wait) = wait {
            return Err(wait);
        }
        strike(&mut self.names, name, NAME_MAX_FAILURES, now);
        strike(&mut self.clients, client, CLIENT_MAX_FAILURES, now);
        Ok(())
    }

    /// The attempt begun for `name` from `client` was right: the name's record goes, and the
    /// client's loses that attempt (a client that logs someone in keeps the failures it made
    /// for other names).
    fn succeeded(&mut self, name: &str, client: &str) {
        self.names.remove(name);
        if let Some(strikes) = self.clients.get_mut(client) {
            strikes.failures = strikes.failures.saturating_sub(1);
            if strikes.failures < CLIENT_MAX_FAILURES {
                strikes.locked_until = None;
            }
        }
    }
}

/// Counts failed logins per user name and per client, in memory, to slow guessing (SPEC §8:
/// logins rate-limited). Shared by the server's requests.
///
/// After [`NAME_MAX_FAILURES`] failures for one name, or [`CLIENT_MAX_FAILURES`] from one
/// client (a shared terminal serves many operators, so it gets more), further attempts are
/// refused for [`LOCKOUT_BASE`], doubling with each failure after that up to
/// [`LOCKOUT_CAP`]; a name's record goes at its next successful login, and any record
/// [`FORGET_AFTER`] after its last failure (OWASP Authentication Cheat Sheet, "Login
/// Throttling"; NIST SP 800-63B §5.2.2). A restart forgets everything: the audit chain keeps
/// every attempt.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    attempts: Mutex<Attempts>,
}

impl LoginLimiter {
    fn lock(&self) -> std::sync::MutexGuard<'_, Attempts> {
        // A panic while holding the lock cannot leave the counters half-updated in a way that
        // matters (each update is a few integer stores): keep using them.
        self.attempts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn begin(&self, name: &str, client: &str, now: Instant) -> Result<(), AppError> {
        self.lock()
            .begin(name, client, now)
            .map_err(|wait| AppError::RateLimited {
                retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            })
    }

    fn succeeded(&self, name: &str, client: &str) {
        self.lock().succeeded(name, client);
    }
}

/// Failures of one user name before it is locked out.
pub const NAME_MAX_FAILURES: u32 = 5;
/// Failures from one client address before it is locked out.
pub const CLIENT_MAX_FAILURES: u32 = 20;
/// The first lock-out.
pub const LOCKOUT_BASE: Duration = Duration::from_secs(30);
/// The longest lock-out.
pub const LOCKOUT_CAP: Duration = Duration::from_secs(15 * 60);
/// A record is forgotten this long after its last failure.
pub const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);
/// Names and clients tracked at most, each (bounds the memory a flood of names can take).
const MAX_TRACKED: usize = 10_000;

/// How long a browser session lasts: one shift and a half, so a session opened at the start
/// of a 12-hour shift lasts through it, and an abandoned terminal is logged out by the next.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);
/// The prefix of every bearer token (recognisable in a config file or a leak scanner).
pub const TOKEN_PREFIX: &str = "tmk_";
/// The shortest password (NIST SP 800-63B §5.1.1.2 asks for at least 8; a line's shared
/// terminals ask for more).
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest password taken (Argon2 takes any length; this bounds a request's work).
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// The longest token lifetime, in days.
pub const MAX_TOKEN_DAYS: u32 = 3650;

/// Argon2id cost: 19 MiB of memory, 2 passes, 1 lane — the OWASP Password Storage Cheat
/// Sheet's first recommended setting (RFC 9106 §4 allows lower memory with more passes): slow
/// for a guesser, unnoticed by a person logging in.
const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
const ARGON2_PASSES: u32 = 2;
const ARGON2_LANES: u32 = 1;

/// Random bytes in a session secret, a CSRF token and a bearer token: 256 bits.
const SECRET_BYTES: usize = 32;

impl Language {
    /// The stored and wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::ZhCn => "zh-CN",
        }
    }
}

impl std::str::FromStr for Language {
    type Err = AppError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [Language::En, Language::ZhCn]
            .into_iter()
            .find(|language| language.as_str() == text)
            .ok_or_else(|| AppError::input("language", format!("{text:?} is not one of en, zh-CN")))
    }
}

fn argon2() -> Result<Argon2<'static>, AppError> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES, None)
        .map_err(|e| AppError::internal("argon2 parameters", e))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The Argon2id PHC string of `password` with a fresh random salt (RFC 9106 §3.1: 128 bits).
fn hash_password(password: &str) -> Result<String, AppError> {
    let mut salt = [0_u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AppError::internal("random salt", e))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AppError::internal("salt", e))?;
    Ok(argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| AppError::internal("hash the password", e))?
        .to_string())
}

/// Whether `password` matches the PHC string `hash` (with the parameters stored in it).
fn password_matches(hash: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    argon2().is_ok_and(|a| a.verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A hash to check passwords against when the name is unknown, so that answer takes as long
/// as a wrong password (no telling which names exist by the time taken).
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("no user has this password").unwrap_or_default())
}

/// Runs the slow hashing off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::internal("password hashing", e))?
}

/// `SECRET_BYTES` random bytes, base64url without padding (RFC 4648 §5).
fn random_secret() -> Result<String, AppError> {
    let mut bytes = [0_u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| AppError::internal("random secret", e))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// SHA-256 (hex) of a session secret or a token: what the store keeps. These are 256 random
/// bits, so a fast hash is enough — nobody can guess one to match a stolen hash — unlike a
/// password, which needs Argon2id's slowness (OWASP Session Management Cheat Sheet).
fn secret_sha256(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn rfc3339(at: OffsetDateTime) -> Result<String, AppError> {
    at.replace_nanosecond(0)
        .unwrap_or(at)
        .format(&Rfc3339)
        .map_err(|e| AppError::internal("format a time", e))
}

/// Whether the RFC 3339 time `at` is past; an unreadable one counts as past (a credential
/// whose expiry cannot be read must not work).
fn is_past(at: &str) -> bool {
    OffsetDateTime::parse(at, &Rfc3339).map_or(true, |at| at <= OffsetDateTime::now_utc())
}

/// Checks a login name: 1 to 64 of `A–Z a–z 0–9 . _ -` (safe in a file name, a URL and the
/// audit chain's subjects), and not [`Actor::UNKNOWN_USER`].
pub fn validate_name(name: &str) -> Result<(), AppError> {
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if name.is_empty() || name.len() > 64 || !valid_chars {
        return Err(AppError::input(
            "name",
            format!("{name:?}: a user name is 1 to 64 of A-Z a-z 0-9 . _ -"),
        ));
    }
    if name == Actor::UNKNOWN_USER {
        return Err(AppError::input(
            "name",
            format!("{name:?} is reserved for writes nobody could be named for"),
        ));
    }
    Ok(())
}

/// Checks a new password's length; the message never repeats it.
pub fn validate_password(password: &str) -> Result<(), AppError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(AppError::input(
            "password",
            format!("at least {MIN_PASSWORD_CHARS} characters, this has {chars}"),
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(AppError::input(
            "password",
            format!("at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

fn corrupt(name: &str, reason: AppError) -> AppError {
    AppError::internal(format!("stored user {name}"), reason.to_string())
}

fn user_of(record: &UserRecord) -> Result<User, AppError> {
    Ok(User {
        name: record.name.clone(),
        role: record.role.parse().map_err(|e| corrupt(&record.name, e))?,
        disabled: record.disabled,
        language: record
            .language
            .parse()
            .map_err(|e| corrupt(&record.name, e))?,
        created_at: record.created_at.clone(),
    })
}

fn auth_user(record: &UserRecord, via: Via) -> Result<AuthUser, AppError> {
    let user = user_of(record)?;
    Ok(AuthUser {
        name: user.name,
        role: user.role,
        language: user.language,
        via,
    })
}

/// Adds a user with `role` and `password` (Argon2id).
pub async fn add_user(
    store: &Store,
    actor: &Actor,
    name: &str,
    role: Role,
    password: &str,
) -> Result<User, AppError> {
    validate_name(name)?;
    validate_password(password)?;
    if store.find_user(name).await?.is_some() {
        return Err(AppError::input(
            "name",
            format!("user {name:?} exists already"),
        ));
    }
    let password = password.to_owned();
    let hash = blocking(move || hash_password(&password)).await?;
    let record = store
        .with_actor(actor.clone())
        .add_user(&NewUserRecord {
            name,
            role: role.as_str(),
            password_hash: &hash,
            language: Language::default().as_str(),
        })
        .await?;
    user_of(&record)
}

/// Every user, by name.
pub async fn list_users(store: &Store) -> Result<Vec<User>, AppError> {
    store.users().await?.iter().map(user_of).collect()
}

/// The user `name`.
pub async fn get_user(store: &Store, name: &str) -> Result<User, AppError> {
    user_of(&store.user(name).await?)
}

/// Changes a user's role.
pub async fn set_role(
    store: &Store,
    actor: &Actor,
    name: &str,
    role: Role,
) -> Result<User, AppError> {
    let record = store
        .with_actor(actor.clone())
        .set_user_role(name, role.as_str())
        .await?;
    user_of(&record)
}

/// Disables a user: no login, their sessions and tokens stop working.
pub async fn disable_user(store: &Store, actor: &Actor, name: &str) -> Result<User, AppError> {
    user_of(&store.with_actor(actor.clone()).disable_user(name).await?)
}

/// Sets a user's password; their other sessions end.
pub async fn set_password(
    store: &Store,
    actor: &Actor,
    name: &str,
    password: &str,
) -> Result<(), AppError> {
    change_password(store, actor, name, password, None).await
}

/// Sets a user's password from their own session `secret`, which stays open; their other
/// sessions end (someone who learnt the old password is logged out).
pub async fn set_password_keeping_session(
    store: &Store,
    actor: &Actor,
    name: &str,
    password: &str,
    secret: &str,
) -> Result<(), AppError> {
    change_password(store, actor, name, password, Some(&secret_sha256(secret))).await
}

async fn change_password(
    store: &Store,
    actor: &Actor,
    name: &str,
    password: &str,
    keep: Option<&str>,
) -> Result<(), AppError> {
    validate_password(password)?;
    store.user(name).await?;
    let password = password.to_owned();
    let hash = blocking(move || hash_password(&password)).await?;
    Ok(store
        .with_actor(actor.clone())
        .set_user_password(name, &hash, keep)
        .await?)
}

/// Sets a user's language.
pub async fn set_language(
    store: &Store,
    actor: &Actor,
    name: &str,
    language: Language,
) -> Result<User, AppError> {
    let record = store
        .with_actor(actor.clone())
        .set_user_language(name, language.as_str())
        .await?;
    user_of(&record)
}

/// Makes a bearer token for `name`, expiring after `expires_days` (never without).
pub async fn create_token(
    store: &Store,
    actor: &Actor,
    name: &str,
    expires_days: Option<u32>,
) -> Result<NewToken, AppError> {
    let expires_at = match expires_days {
        None => None,
        Some(days @ 1..=MAX_TOKEN_DAYS) => Some(rfc3339(
            OffsetDateTime::now_utc() + time::Duration::days(i64::from(days)),
        )?),
        Some(days) => {
            return Err(AppError::input(
                "expires_days",
                format!("{days} is not between 1 and {MAX_TOKEN_DAYS}"),
            ));
        }
    };
    if store.user(name).await?.disabled {
        return Err(AppError::Conflict {
            field: "name",
            reason: format!("user {name} is disabled"),
        });
    }
    let token = format!("{TOKEN_PREFIX}{}", random_secret()?);
    store
        .with_actor(actor.clone())
        .add_token(name, &secret_sha256(&token), expires_at.as_deref())
        .await?;
    Ok(NewToken {
        token,
        user: name.to_owned(),
        expires_at,
    })
}

/// Every token (of `name`, when given), by number: never the token or its hash.
pub async fn list_tokens(store: &Store, name: Option<&str>) -> Result<Vec<TokenRecord>, AppError> {
    if let Some(name) = name {
        store.user(name).await?;
    }
    Ok(store.tokens(name).await?)
}

/// Revokes token `id` for good.
pub async fn revoke_token(store: &Store, actor: &Actor, id: i64) -> Result<TokenRecord, AppError> {
    Ok(store.with_actor(actor.clone()).revoke_token(id).await?)
}

/// Revokes token `id` of user `name`: [`AppError::NotFound`] when `name` has no token `id`, so
/// an API path naming one user cannot revoke another's token.
pub async fn revoke_user_token(
    store: &Store,
    actor: &Actor,
    name: &str,
    id: i64,
) -> Result<TokenRecord, AppError> {
    if !list_tokens(store, Some(name))
        .await?
        .iter()
        .any(|token| token.id == id)
    {
        return Err(AppError::NotFound {
            what: "token",
            id: format!("{id} of user {name}"),
        });
    }
    revoke_token(store, actor, id).await
}

/// What every refused login is told: never which of name, password or state was wrong.
const LOGIN_REFUSED: &str = "wrong name or password";

/// Logs `name` in from `client` (an address): a new session, or [`AppError::Unauthorized`]
/// (wrong name or password, disabled) or [`AppError::RateLimited`]. Both outcomes are in the
/// audit chain.
///
/// `client` is the peer's address (`192.0.2.7`); the event's device is `http@<client>`, as for
/// the user's other writes over HTTP (a `client` naming its program, `x@…`, is kept as it is).
/// The event's user is `name` when it is a valid user name (else
/// [`Actor::UNKNOWN_USER`]: what was typed may be a password in the wrong field). Every login
/// opens a new session with a new secret (no session fixation, OWASP Session Management Cheat
/// Sheet "Renew the Session ID"); an edge replacing a cookie ends the old one with [`logout`].
pub async fn login(
    store: &Store,
    limiter: &LoginLimiter,
    name: &str,
    password: &str,
    client: &str,
) -> Result<NewSession, AppError> {
    let named = validate_name(name).is_ok().then_some(name);
    let store = store.with_actor(Actor {
        user: named.unwrap_or(Actor::UNKNOWN_USER).to_owned(),
        device: if client.contains('@') {
            client.to_owned()
        } else {
            format!("http@{client}")
        },
    });
    if let Err(limited) = limiter.begin(name, client, Instant::now()) {
        store
            .record_login_failed(named, LoginFailure::RateLimited)
            .await?;
        return Err(limited);
    }
    let record = match named {
        Some(name) => store.find_user(name).await?,
        None => None,
    };
    let hash = record
        .as_ref()
        .map(|r| r.password_hash.clone())
        .unwrap_or_default();
    let typed = password.to_owned();
    // An unknown name is checked against a dummy hash: the same work as a wrong password.
    let matches = blocking(move || {
        let hash = if hash.is_empty() { dummy_hash() } else { &hash };
        Ok(password_matches(hash, &typed))
    })
    .await?;
    let failure = match &record {
        None => Some(LoginFailure::UnknownUser),
        Some(_) if !matches => Some(LoginFailure::WrongPassword),
        Some(r) if r.disabled => Some(LoginFailure::Disabled),
        Some(_) => None,
    };
    let (Some(record), None) = (record, failure) else {
        let failure = failure.unwrap_or(LoginFailure::UnknownUser);
        store.record_login_failed(named, failure).await?;
        return Err(AppError::Unauthorized(LOGIN_REFUSED.to_owned()));
    };
    limiter.succeeded(name, client);
    let user = user_of(&record)?;
    let (secret, csrf) = (random_secret()?, random_secret()?);
    let expires_at = rfc3339(OffsetDateTime::now_utc() + SESSION_LIFETIME)?;
    store
        .open_session(&record.name, &secret_sha256(&secret), &csrf, &expires_at)
        .await?;
    Ok(NewSession {
        secret,
        csrf,
        user,
        expires_at,
    })
}

/// Ends the session with `secret` (a `user.logout` event for its user, on the store's actor's
/// device). An unknown or already ended session is no error: there is nothing to end.
pub async fn logout(store: &Store, secret: &str) -> Result<(), AppError> {
    store.close_session(&secret_sha256(secret)).await?;
    Ok(())
}

/// The longest secret or token looked up (longer ones are refused without hashing).
const MAX_SECRET_CHARS: usize = 256;

/// The user of the session with `secret` (the cookie's value).
pub async fn authenticate_session(store: &Store, secret: &str) -> Result<AuthUser, AppError> {
    let refused = || AppError::Unauthorized("no valid session".to_owned());
    if secret.is_empty() || secret.len() > MAX_SECRET_CHARS {
        return Err(refused());
    }
    let Some((session, user)) = store.session(&secret_sha256(secret)).await? else {
        return Err(refused());
    };
    if user.disabled || is_past(&session.expires_at) {
        return Err(refused());
    }
    auth_user(&user, Via::Session { csrf: session.csrf })
}

/// The user of the bearer `token`.
pub async fn authenticate_bearer(store: &Store, token: &str) -> Result<AuthUser, AppError> {
    let refused = || AppError::Unauthorized("no valid token".to_owned());
    if !token.starts_with(TOKEN_PREFIX) || token.len() > MAX_SECRET_CHARS {
        return Err(refused());
    }
    let Some((record, user)) = store.token(&secret_sha256(token)).await? else {
        return Err(refused());
    };
    let expired = record.expires_at.as_deref().is_some_and(is_past);
    if record.revoked || expired || user.disabled {
        return Err(refused());
    }
    auth_user(&user, Via::Token)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "wang.li";
    const CLIENT: &str = "http@192.0.2.7";

    fn fail(attempts: &mut Attempts, name: &str, client: &str, now: Instant) -> Result<(), u64> {
        attempts.begin(name, client, now).map_err(|d| d.as_secs())
    }

    #[test]
    fn a_name_is_locked_after_five_failures_and_the_lock_doubles_up_to_the_cap() {
        let mut attempts = Attempts::default();
        let t0 = Instant::now();
        for _ in 0..NAME_MAX_FAILURES {
            assert_eq!(fail(&mut attempts, NAME, CLIENT, t0), Ok(()));
        }
        // The fifth failure locked the name for the base time.
        assert_eq!(fail(&mut attempts, NAME, "http@198.51.100.1", t0), Err(30));
        assert_eq!(
            fail(&mut attempts, NAME, CLIENT, t0 + Duration::from_secs(29)),
            Err(1)
        );
        // Another name from the same client is not locked.
        assert_eq!(fail(&mut attempts, "zhang.wei", CLIENT, t0), Ok(()));
        // Once it has passed, one more failure locks it for twice as long, then 4×, … capped.
        let mut now = t0 + LOCKOUT_BASE;
        let mut expected = LOCKOUT_BASE * 2;
        for _ in 0..8 {
            assert_eq!(fail(&mut attempts, NAME, CLIENT, now), Ok(()));
            assert_eq!(
                fail(&mut attempts, NAME, CLIENT, now),
                Err(expected.as_secs())
            );
            now += expected;
            expected = (expected * 2).min(LOCKOUT_CAP);
        }
        assert_eq!(expected, LOCKOUT_CAP);
    }

    #[test]
    fn waiting_out_a_lock_is_enough_and_refused_attempts_do_not_count() {
        let mut attempts = Attempts::default();
        let t0 = Instant::now();
        for _ in 0..NAME_MAX_FAILURES {
            fail(&mut attempts, NAME, CLIENT, t0).expect("taken");
        }
        for second in 1..30 {
            let now = t0 + Duration::from_secs(second);
            assert!(fail(&mut attempts, NAME, CLIENT, now).is_err());
        }
        let now = t0 + LOCKOUT_BASE;
        assert_eq!(fail(&mut attempts, NAME, CLIENT, now), Ok(()));
        attempts.succeeded(NAME, CLIENT);
        // The name is forgiven in full at a successful login.
        for _ in 0..NAME_MAX_FAILURES {
            assert_eq!(fail(&mut attempts, NAME, CLIENT, now), Ok(()));
        }
        assert!(fail(&mut attempts, NAME, CLIENT, now).is_err());
    }

    #[test]
    fn a_client_is_locked_after_twenty_failures_across_names() {
        let mut attempts = Attempts::default();
        let t0 = Instant::now();
        for i in 0..CLIENT_MAX_FAILURES {
            assert_eq!(fail(&mut attempts, &format!("user{i}"), CLIENT, t0), Ok(()));
        }
        assert_eq!(fail(&mut attempts, "someone.else", CLIENT, t0), Err(30));
        assert_eq!(
            fail(&mut attempts, "someone.else", "http@203.0.113.9", t0),
            Ok(())
        );
    }

    #[test]
    fn a_successful_login_takes_back_only_its_own_attempt_from_the_client() {
        let mut attempts = Attempts::default();
        let t0 = Instant::now();
        for i in 0..CLIENT_MAX_FAILURES - 1 {
            fail(&mut attempts, &format!("user{i}"), CLIENT, t0).expect("taken");
        }
        // The twentieth attempt locks the client while it runs, and is taken back when right.
        fail(&mut attempts, NAME, CLIENT, t0).expect("taken");
        attempts.succeeded(NAME, CLIENT);
        // So the client has 19 failures: one more is allowed, and that one locks it.
        assert_eq!(fail(&mut attempts, "other", CLIENT, t0), Ok(()));
        assert_eq!(fail(&mut attempts, "another", CLIENT, t0), Err(30));
    }

    #[test]
    fn records_are_forgotten_after_an_hour_without_failures() {
        let mut attempts = Attempts::default();
        let t0 = Instant::now();
        for _ in 0..NAME_MAX_FAILURES - 1 {
            fail(&mut attempts, NAME, CLIENT, t0).expect("taken");
        }
        let later = t0 + FORGET_AFTER;
        for _ in 0..NAME_MAX_FAILURES {
            assert_eq!(fail(&mut attempts, NAME, CLIENT, later), Ok(()));
        }
        assert!(fail(&mut attempts, NAME, CLIENT, later).is_err());
    }

    #[test]
    fn the_tracked_names_are_bounded() {
        let mut attempts = Attempts::default();
        let t0 = Instant::now();
        for i in 0..MAX_TRACKED + 5 {
            let now = t0 + Duration::from_millis(i as u64);
            let _ = attempts.begin(&format!("n{i}"), &format!("c{i}"), now);
        }
        assert_eq!(attempts.names.len(), MAX_TRACKED);
        assert_eq!(attempts.clients.len(), MAX_TRACKED);
        assert!(!attempts.names.contains_key("n0"), "the oldest went first");
    }

    #[test]
    fn the_limiter_answers_rate_limited_with_whole_seconds_rounded_up() {
        let limiter = LoginLimiter::default();
        let t0 = Instant::now();
        for _ in 0..NAME_MAX_FAILURES {
            limiter.begin(NAME, CLIENT, t0).expect("taken");
        }
        let err = limiter
            .begin(NAME, CLIENT, t0 + Duration::from_millis(500))
            .expect_err("locked");
        assert!(matches!(
            err,
            AppError::RateLimited {
                retry_after_secs: 30
            }
        ));
        assert_eq!(err.http_status(), 429);
    }

    #[test]
    fn names_and_passwords_are_checked_naming_the_field() {
        for good in ["a", "wang.li", "QA_2-x", &"x".repeat(64)] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in ["", "wang li", "王丽", "a/b", &"x".repeat(65), "unknown"] {
            let err = validate_name(bad).expect_err(bad);
            assert!(err.to_string().starts_with("name: "), "{err}");
        }
        let err = validate_password("short-pw1").expect_err("9 characters");
        assert_eq!(
            err.to_string(),
            "password: at least 10 characters, this has 9"
        );
        assert!(
            validate_password("长城长城长城长城长城").is_ok(),
            "characters, not bytes"
        );
    }

    #[test]
    fn a_password_hash_is_argon2id_salted_and_verifies_only_its_password() {
        let one = hash_password("correct horse battery").expect("hash");
        let two = hash_password("correct horse battery").expect("hash");
        assert!(one.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{one}");
        assert_ne!(one, two, "a fresh salt each time");
        assert!(password_matches(&one, "correct horse battery"));
        assert!(!password_matches(&one, "correct horse battery!"));
        assert!(!password_matches(
            "not a phc string",
            "correct horse battery"
        ));
        assert!(!password_matches(dummy_hash(), ""));
    }

    #[test]
    fn secrets_are_256_bits_of_base64url_and_stored_as_sha256_hex() {
        let secret = random_secret().expect("secret");
        assert_eq!(secret.len(), 43);
        assert!(
            secret
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(secret, random_secret().expect("secret"));
        assert_eq!(
            secret_sha256("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn an_unreadable_expiry_counts_as_past() {
        assert!(is_past("2000-01-01T00:00:00Z"));
        assert!(!is_past("2999-01-01T00:00:00Z"));
        assert!(is_past("tomorrow"));
    }
}
