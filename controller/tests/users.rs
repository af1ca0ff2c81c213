//! Users, roles, sessions and API tokens (SPEC §8, issue 16 item 2) on SQLite and PostgreSQL:
//! managing users; logging in right, wrong, unknown and disabled; sessions and tokens that
//! authenticate, expire, end and are revoked; the login rate limit; every act in the audit
//! chain with its user — and no password, secret, token or hash in any event.

#[macro_use]
mod common;

use common::*;
use sha2::{Digest, Sha256};
use tracemark::app::AppError;
use tracemark::app::users::{self, Language, LoginLimiter, Role, Via};
use tracemark_store::Store;

const PASSWORD: &str = "correct horse battery";
const NEW_PASSWORD: &str = "staple-2025-Tr0mbone";
const CLIENT: &str = "192.0.2.7";
/// The device of a login event from [`CLIENT`].
const DEVICE: &str = "http@192.0.2.7";

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn is_unauthorized(result: Result<impl std::fmt::Debug, AppError>) -> String {
    match result {
        Err(AppError::Unauthorized(message)) => message,
        other => panic!("expected unauthorized, got {other:?}"),
    }
}

fn field_of(result: Result<impl std::fmt::Debug, AppError>) -> String {
    match result {
        Err(AppError::Input { field, .. }) => field,
        other => panic!("expected an input error, got {other:?}"),
    }
}

async fn add(store: &Store, name: &str, role: Role) {
    users::add_user(store, &actor(), name, role, PASSWORD)
        .await
        .expect("add a user");
}

async fn manage_users(store: Store) {
    let user = users::add_user(&store, &actor(), "wang.li", Role::Qa, PASSWORD)
        .await
        .expect("add");
    assert_eq!(
        (user.name.as_str(), user.role, user.disabled, user.language),
        ("wang.li", Role::Qa, false, Language::En)
    );
    add(&store, "admin", Role::Admin).await;
    // Refused, naming the field; nothing written.
    let head = store.audit_head().await.expect("head");
    let dup = users::add_user(&store, &actor(), "wang.li", Role::Operator, PASSWORD).await;
    assert_eq!(field_of(dup), "name");
    let bad = users::add_user(&store, &actor(), "wang li", Role::Operator, PASSWORD).await;
    assert_eq!(field_of(bad), "name");
    let short = users::add_user(&store, &actor(), "zhao", Role::Operator, "123456789").await;
    assert_eq!(field_of(short), "password");
    assert_eq!(field_of("chef".parse::<Role>()), "role");
    let days = users::create_token(&store, &actor(), "wang.li", Some(0)).await;
    assert_eq!(field_of(days), "expires_days");
    assert_eq!(store.audit_head().await.expect("head"), head);

    let names: Vec<String> = users::list_users(&store)
        .await
        .expect("list")
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["admin", "wang.li"]);
    let user = users::set_role(&store, &actor(), "wang.li", Role::Integrator)
        .await
        .expect("role");
    assert_eq!(user.role, Role::Integrator);
    let user = users::set_language(&store, &actor(), "wang.li", Language::ZhCn)
        .await
        .expect("language");
    assert_eq!(user.language, Language::ZhCn);
    let missing = users::set_role(&store, &actor(), "nobody", Role::Qa).await;
    assert!(matches!(
        missing,
        Err(AppError::NotFound { what: "user", .. })
    ));

    users::set_password(&store, &actor(), "wang.li", NEW_PASSWORD)
        .await
        .expect("password");
    let limiter = LoginLimiter::default();
    is_unauthorized(users::login(&store, &limiter, "wang.li", PASSWORD, CLIENT).await);
    users::login(&store, &limiter, "wang.li", NEW_PASSWORD, CLIENT)
        .await
        .expect("the new password works");

    let token = users::create_token(&store, &actor(), "wang.li", Some(30))
        .await
        .expect("token");
    assert!(token.token.starts_with("tmk_") && token.token.len() == 47);
    assert!(token.expires_at.is_some());
    let listed = users::list_tokens(&store, Some("wang.li"))
        .await
        .expect("tokens");
    assert_eq!(listed.len(), 1);
    assert!(!listed[0].revoked);

    let user = users::disable_user(&store, &actor(), "wang.li")
        .await
        .expect("disable");
    assert!(user.disabled);
    let refused = users::create_token(&store, &actor(), "wang.li", None).await;
    assert!(matches!(
        refused,
        Err(AppError::Conflict { field: "name", .. })
    ));
}
both!(manage_users);

async fn logins(store: Store) {
    add(&store, "wang.li", Role::Operator).await;
    add(&store, "zhang.wei", Role::Qa).await;
    let limiter = LoginLimiter::default();

    let session = users::login(&store, &limiter, "wang.li", PASSWORD, CLIENT)
        .await
        .expect("login");
    assert_eq!(session.user.name, "wang.li");
    assert_eq!((session.secret.len(), session.csrf.len()), (43, 43));
    let auth = users::authenticate_session(&store, &session.secret)
        .await
        .expect("the session authenticates");
    assert_eq!((auth.name.as_str(), auth.role), ("wang.li", Role::Operator));
    assert_eq!(
        auth.via,
        Via::Session {
            csrf: session.csrf.clone()
        }
    );
    assert!(auth.require(&[Role::Operator, Role::Admin]).is_ok());
    assert!(matches!(
        auth.require(&[Role::Qa]),
        Err(AppError::Forbidden(_))
    ));

    // A new login is a new session with a new secret; the first still works until it ends.
    let second = users::login(&store, &limiter, "wang.li", PASSWORD, CLIENT)
        .await
        .expect("login again");
    assert_ne!(second.secret, session.secret);
    assert_ne!(second.csrf, session.csrf);

    // Wrong password, unknown name and a disabled user all get the same answer.
    let wrong = is_unauthorized(users::login(&store, &limiter, "wang.li", "x", CLIENT).await);
    let unknown = is_unauthorized(users::login(&store, &limiter, "li.na", PASSWORD, CLIENT).await);
    let invalid = is_unauthorized(users::login(&store, &limiter, "", PASSWORD, CLIENT).await);
    users::disable_user(&store, &actor(), "zhang.wei")
        .await
        .expect("disable");
    let disabled =
        is_unauthorized(users::login(&store, &limiter, "zhang.wei", PASSWORD, CLIENT).await);
    assert_eq!(wrong, unknown);
    assert_eq!(wrong, invalid);
    assert_eq!(wrong, disabled);

    // Logout ends the session; a second logout is no error.
    users::logout(&store, &session.secret)
        .await
        .expect("logout");
    is_unauthorized(users::authenticate_session(&store, &session.secret).await);
    users::logout(&store, &session.secret)
        .await
        .expect("logout again");
    users::authenticate_session(&store, &second.secret)
        .await
        .expect("the other session is still open");
    for junk in ["", "nonsense", &"x".repeat(10_000)] {
        is_unauthorized(users::authenticate_session(&store, junk).await);
    }
}
both!(logins);

async fn sessions_end(store: Store) {
    add(&store, "wang.li", Role::Admin).await;
    let limiter = LoginLimiter::default();
    let login = || users::login(&store, &limiter, "wang.li", PASSWORD, CLIENT);
    let (one, two, three) = (
        login().await.expect("1"),
        login().await.expect("2"),
        login().await.expect("3"),
    );

    // A session past its expiry no longer works (expiry set in the store: no waiting).
    let expired = format!(
        "UPDATE user_sessions SET expires_at = '2000-01-01T00:00:00Z' WHERE secret_sha256 = '{}'",
        sha256_hex(&one.secret)
    );
    assert_eq!(raw(&store, &expired).await.expect("expire"), 1);
    is_unauthorized(users::authenticate_session(&store, &one.secret).await);
    users::authenticate_session(&store, &two.secret)
        .await
        .expect("two still works");

    // Changing one's own password keeps that session and ends the others.
    users::set_password_keeping_session(&store, &actor(), "wang.li", NEW_PASSWORD, &two.secret)
        .await
        .expect("password");
    users::authenticate_session(&store, &two.secret)
        .await
        .expect("the session that asked stays");
    is_unauthorized(users::authenticate_session(&store, &three.secret).await);

    // An admin's change ends every session; so does disabling.
    let four = users::login(&store, &limiter, "wang.li", NEW_PASSWORD, CLIENT)
        .await
        .expect("4");
    users::set_password(&store, &actor(), "wang.li", PASSWORD)
        .await
        .expect("password");
    is_unauthorized(users::authenticate_session(&store, &two.secret).await);
    is_unauthorized(users::authenticate_session(&store, &four.secret).await);
    let five = login().await.expect("5");
    users::disable_user(&store, &actor(), "wang.li")
        .await
        .expect("disable");
    is_unauthorized(users::authenticate_session(&store, &five.secret).await);
}
both!(sessions_end);

async fn tokens(store: Store) {
    add(&store, "line-1-mes", Role::Integrator).await;
    add(&store, "erp", Role::Operator).await;
    let forever = users::create_token(&store, &actor(), "line-1-mes", None)
        .await
        .expect("token");
    assert_eq!(forever.expires_at, None);
    let monthly = users::create_token(&store, &actor(), "line-1-mes", Some(30))
        .await
        .expect("token");
    let erp = users::create_token(&store, &actor(), "erp", Some(1))
        .await
        .expect("token");
    for token in [&forever, &monthly] {
        let auth = users::authenticate_bearer(&store, &token.token)
            .await
            .expect("the token authenticates");
        assert_eq!((auth.name.as_str(), auth.via), ("line-1-mes", Via::Token));
    }
    // Not a token, a session secret offered as one, a token with one character changed.
    let mut altered = forever.token.clone();
    altered.pop();
    altered.push(if forever.token.ends_with('A') {
        'B'
    } else {
        'A'
    });
    for junk in ["", "tmk_", "Bearer x", &altered, &forever.token[4..]] {
        is_unauthorized(users::authenticate_bearer(&store, junk).await);
    }

    // Expired (set in the store), revoked, and a disabled user's.
    let expire = format!(
        "UPDATE api_tokens SET expires_at = '2000-01-01T00:00:00Z' WHERE token_sha256 = '{}'",
        sha256_hex(&monthly.token)
    );
    assert_eq!(raw(&store, &expire).await.expect("expire"), 1);
    is_unauthorized(users::authenticate_bearer(&store, &monthly.token).await);
    let listed = users::list_tokens(&store, None).await.expect("tokens");
    assert_eq!(listed.len(), 3);
    let id = listed
        .iter()
        .find(|t| t.user == "line-1-mes" && t.expires_at.is_none())
        .expect("the unexpiring token")
        .id;
    let revoked = users::revoke_token(&store, &actor(), id)
        .await
        .expect("revoke");
    assert!(revoked.revoked);
    is_unauthorized(users::authenticate_bearer(&store, &forever.token).await);
    users::authenticate_bearer(&store, &erp.token)
        .await
        .expect("erp's works");
    users::disable_user(&store, &actor(), "erp")
        .await
        .expect("disable");
    is_unauthorized(users::authenticate_bearer(&store, &erp.token).await);
    let missing = users::revoke_token(&store, &actor(), 999).await;
    assert!(matches!(missing, Err(AppError::NotFound { .. })));
}
both!(tokens);

async fn rate_limit(store: Store) {
    add(&store, "wang.li", Role::Operator).await;
    add(&store, "zhang.wei", Role::Operator).await;
    let limiter = LoginLimiter::default();
    for _ in 0..users::NAME_MAX_FAILURES {
        is_unauthorized(users::login(&store, &limiter, "wang.li", "guess-guess", CLIENT).await);
    }
    // Locked: even the right password, from another client, is refused — without checking it.
    for client in [CLIENT, "198.51.100.3"] {
        match users::login(&store, &limiter, "wang.li", PASSWORD, client).await {
            Err(AppError::RateLimited { retry_after_secs }) => {
                assert!((1..=30).contains(&retry_after_secs), "{retry_after_secs}");
            }
            other => panic!("expected rate limited, got {other:?}"),
        }
    }
    // Another name from the same client is not locked.
    users::login(&store, &limiter, "zhang.wei", PASSWORD, CLIENT)
        .await
        .expect("another user logs in");
    let events = store.events(0, 1000).await.expect("events");
    let limited = events
        .iter()
        .filter(|e| e.kind == "user.login_failed" && e.detail.contains("\"rate_limited\""))
        .count();
    assert_eq!(limited, 2);
}
both!(rate_limit);

/// Every act is in the chain with its user and device, the chain verifies, and no secret of any
/// kind is in any event or in the users' list.
async fn audit_trail(store: Store) {
    let admin = tracemark_store::Actor {
        user: "boss".into(),
        device: "cli@hmi-1".into(),
    };
    users::add_user(&store, &admin, "wang.li", Role::Qa, PASSWORD)
        .await
        .expect("add");
    let hash = store.user("wang.li").await.expect("user").password_hash;
    users::set_role(&store, &admin, "wang.li", Role::Operator)
        .await
        .expect("role");
    users::set_language(&store, &admin, "wang.li", Language::ZhCn)
        .await
        .expect("language");
    let limiter = LoginLimiter::default();
    let session = users::login(&store, &limiter, "wang.li", PASSWORD, CLIENT)
        .await
        .expect("login");
    // A password typed into the name field is not recorded.
    is_unauthorized(users::login(&store, &limiter, "wang.li", "a wrong one", CLIENT).await);
    is_unauthorized(users::login(&store, &limiter, "S3cret pass!", PASSWORD, CLIENT).await);
    let token = users::create_token(&store, &admin, "wang.li", Some(7))
        .await
        .expect("token");
    users::set_password_keeping_session(&store, &admin, "wang.li", NEW_PASSWORD, &session.secret)
        .await
        .expect("password");
    let new_hash = store.user("wang.li").await.expect("user").password_hash;
    users::logout(&store, &session.secret)
        .await
        .expect("logout");
    users::disable_user(&store, &admin, "wang.li")
        .await
        .expect("disable");

    let events = store.events(0, 1000).await.expect("events");
    let seen: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|e| (e.kind.as_str(), e.user.as_str(), e.device.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("user.added", "boss", "cli@hmi-1"),
            ("user.role", "boss", "cli@hmi-1"),
            ("user.language", "boss", "cli@hmi-1"),
            ("user.login", "wang.li", DEVICE),
            ("user.login_failed", "wang.li", DEVICE),
            ("user.login_failed", "unknown", DEVICE),
            ("user.token_created", "boss", "cli@hmi-1"),
            ("user.password", "boss", "cli@hmi-1"),
            ("user.logout", "wang.li", "test-bench"),
            ("user.disabled", "boss", "cli@hmi-1"),
        ]
    );
    assert!(
        events
            .iter()
            .all(|e| e.subject == "user:wang.li" || e.subject == "user:?")
    );
    assert!(events[4].detail.contains("\"wrong_password\""));
    assert!(events[5].detail.contains("\"name\":null"));
    let report = store.verify_audit().await.expect("verify");
    assert_eq!(report.first_bad, None);
    assert_eq!(report.events, 10);

    let listed =
        serde_json::to_string(&users::list_users(&store).await.expect("list")).expect("json");
    let tokens = serde_json::to_string(&users::list_tokens(&store, None).await.expect("tokens"))
        .expect("json");
    let all_events: String = events.iter().map(|e| format!("{e:?}\n")).collect();
    let secrets = [
        PASSWORD.to_owned(),
        NEW_PASSWORD.to_owned(),
        "a wrong one".to_owned(),
        "S3cret pass!".to_owned(),
        session.secret.clone(),
        session.csrf.clone(),
        sha256_hex(&session.secret),
        token.token.clone(),
        token.token["tmk_".len()..].to_owned(),
        sha256_hex(&token.token),
        hash.clone(),
        new_hash.clone(),
        hash["$argon2id$v=19$m=19456,t=2,p=1$".len()..].to_owned(),
        "argon2".to_owned(),
    ];
    for secret in &secrets {
        for (what, text) in [
            ("an event", &all_events),
            ("the users' list", &listed),
            ("the tokens' list", &tokens),
        ] {
            assert!(
                !text
                    .as_bytes()
                    .windows(secret.len())
                    .any(|w| w == secret.as_bytes()),
                "{what} holds a secret: {secret}"
            );
        }
    }
    // Nor does a user's Debug output.
    let debug = format!("{:?}", store.user("wang.li").await.expect("user"));
    assert!(
        !debug.contains(&new_hash) && debug.contains("<hidden>"),
        "{debug}"
    );
}
both!(audit_trail);

/// A backup carries the users and tokens: a restored store logs the same people in.
async fn backup_keeps_users(store: Store) {
    add(&store, "wang.li", Role::Admin).await;
    let token = users::create_token(&store, &actor(), "wang.li", None)
        .await
        .expect("token");
    let dir = tempdir();
    let file = dir.path().join("snapshot.db");
    store.backup(&file).await.expect("backup");
    let copy = open(&format!("sqlite://{}", file.display())).await;
    let auth = users::authenticate_bearer(&copy, &token.token)
        .await
        .expect("the token works in the copy");
    assert_eq!((auth.name.as_str(), auth.role), ("wang.li", Role::Admin));
    users::login(&copy, &LoginLimiter::default(), "wang.li", PASSWORD, CLIENT)
        .await
        .expect("the password works in the copy");
    copy.close().await;
}
both!(backup_keeps_users);
