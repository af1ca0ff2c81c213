//! `tracemark serve` as a plant runs it (issue 16 items 1 and 2): the URL on the first line of
//! stdout; HTTPS with a certificate and key; a login, a logout, a token's use and a wrong
//! password, traced at the most verbose level — and no password, session secret, token or stored
//! hash in any answer or any log line.

mod common;

use std::io::Write as _;
use std::process::Stdio;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

const PASSWORD: &str = "a long enough passphrase";

/// Runs `tracemark ARGS…` on `db` with `stdin`, to the end.
fn tracemark(db: &str, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = std::process::Command::new(bin())
        .args(args)
        .env("TRACEMARK_DB", db)
        .env("TRACEMARK_USER", "tester")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tracemark");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("tracemark ends")
}

/// Starts `tracemark serve ARGS…` and returns it with its URL (the first line of stdout).
async fn serve(db: &str, args: &[&str]) -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new(bin())
        .args(["serve", "--http", "127.0.0.1:0"])
        .args(args)
        .env("TRACEMARK_DB", db)
        .env("TRACEMARK_LOG", "trace")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start tracemark serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("serve says where it listens")
        .expect("read stdout")
        .expect("a line");
    let url = first
        .strip_prefix("tracemark: serving ")
        .and_then(|u| u.strip_suffix("/api/v1"))
        .unwrap_or_else(|| panic!("not the URL line: {first}"))
        .to_owned();
    (child, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_an_answer_or_a_log_line() {
    let dir = tempdir();
    let db = sqlite_url(dir.path());
    let added = tracemark(
        &db,
        &[
            "user",
            "add",
            "li.wei",
            "--role",
            "operator",
            "--password-stdin",
        ],
        PASSWORD,
    );
    assert!(added.status.success(), "{added:?}");
    let token = tracemark(&db, &["user", "token", "li.wei", "--expires-days", "1"], "");
    assert!(token.status.success(), "{token:?}");
    let token = String::from_utf8_lossy(&token.stdout)
        .split_whitespace()
        .find(|w| w.starts_with("tmk_"))
        .expect("the token is printed")
        .to_owned();

    let (mut child, base) = serve(&db, &[]).await;
    let client = reqwest::Client::new();
    let mut answers = String::new();
    // A wrong password, then the right one (a session), the session's use, a logout.
    let wrong = client
        .post(format!("{base}/api/v1/session"))
        .json(&serde_json::json!({"name": "li.wei", "password": "not the password at all"}))
        .send()
        .await
        .expect("an answer");
    assert_eq!(wrong.status().as_u16(), 401);
    answers.push_str(&wrong.text().await.unwrap_or_default());
    let login = client
        .post(format!("{base}/api/v1/session"))
        .json(&serde_json::json!({"name": "li.wei", "password": PASSWORD}))
        .send()
        .await
        .expect("an answer");
    assert_eq!(login.status().as_u16(), 200);
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a session cookie")
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let secret = cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_owned())
        .expect("the cookie's value");
    let login_answer = login.text().await.unwrap_or_default();
    let csrf =
        serde_json::from_str::<serde_json::Value>(&login_answer).expect("JSON")["csrf_token"]
            .as_str()
            .expect("the session's CSRF token")
            .to_owned();
    answers.push_str(&login_answer);
    for (name, value) in [
        ("cookie", format!("tracemark_session={secret}")),
        ("authorization", format!("Bearer {token}")),
    ] {
        let response = client
            .get(format!("{base}/api/v1/batches"))
            .header(name, value)
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status().as_u16(), 200);
        answers.push_str(&response.text().await.unwrap_or_default());
    }
    let me = client
        .get(format!("{base}/api/v1/session"))
        .header("cookie", format!("tracemark_session={secret}"))
        .send()
        .await
        .expect("an answer");
    answers.push_str(&me.text().await.unwrap_or_default());
    // A write with the cookie but without the CSRF token is refused.
    let forged = client
        .delete(format!("{base}/api/v1/session"))
        .header("cookie", format!("tracemark_session={secret}"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(forged.status().as_u16(), 403);
    let out = client
        .delete(format!("{base}/api/v1/session"))
        .header("cookie", format!("tracemark_session={secret}"))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .expect("an answer");
    assert_eq!(out.status().as_u16(), 204);
    let after = client
        .get(format!("{base}/api/v1/batches"))
        .header("cookie", format!("tracemark_session={secret}"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(after.status().as_u16(), 401, "the session ended");

    // The stored hashes, to look for too.
    let store = open(&db).await;
    store.close().await;
    let pool = sqlx::SqlitePool::connect(&db).await.expect("the database");
    let mut hashes: Vec<String> = Vec::new();
    for query in [
        "SELECT password_hash FROM users",
        "SELECT secret_sha256 FROM user_sessions",
        "SELECT token_sha256 FROM api_tokens",
    ] {
        let rows: Vec<(String,)> = sqlx::query_as(query)
            .fetch_all(&pool)
            .await
            .expect("read the hashes");
        hashes.extend(rows.into_iter().map(|(h,)| h));
    }
    pool.close().await;
    assert!(hashes.len() >= 2, "{hashes:?}");

    child.start_kill().expect("stop serve");
    let _ = child.wait().await;
    let mut log = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut log)
        .await
        .expect("read the log");
    assert!(
        log.contains("tracemark::access") || log.contains("request"),
        "the access log is there: {log}"
    );
    for (what, secret) in [
        ("password", PASSWORD),
        ("token", &token),
        ("session", &secret),
    ]
    .into_iter()
    .map(|(w, s)| (w.to_owned(), s.to_owned()))
    .chain(hashes.iter().map(|h| ("hash".to_owned(), h.clone())))
    {
        assert!(!answers.contains(&secret), "a {what} in an answer");
        assert!(!log.contains(&secret), "a {what} in the log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_certificate_and_secure_cookies() {
    let dir = tempdir();
    let db = sqlite_url(dir.path());
    let added = tracemark(
        &db,
        &[
            "user",
            "add",
            "li.wei",
            "--role",
            "operator",
            "--password-stdin",
        ],
        PASSWORD,
    );
    assert!(added.status.success(), "{added:?}");
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("a certificate");
    let cert = dir.path().join("server.pem");
    let key = dir.path().join("server.key");
    std::fs::write(&cert, certified.cert.pem()).expect("write the certificate");
    std::fs::write(&key, certified.key_pair.serialize_pem()).expect("write the key");
    let (_child, base) = serve(
        &db,
        &[
            "--tls-cert",
            cert.to_str().expect("a path"),
            "--tls-key",
            key.to_str().expect("a path"),
        ],
    )
    .await;
    assert!(base.starts_with("https://"), "{base}");
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(
            reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).expect("the CA"),
        )
        .build()
        .expect("a client");
    let login = client
        .post(format!("{base}/api/v1/session"))
        .json(&serde_json::json!({"name": "li.wei", "password": PASSWORD}))
        .send()
        .await
        .expect("an HTTPS answer");
    assert_eq!(login.status().as_u16(), 200);
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a session cookie");
    assert!(cookie.contains("Secure"), "{cookie}");
    // A key that is not the certificate's: refused, naming the file.
    let other = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
        .expect("another certificate");
    let wrong_key = dir.path().join("wrong.key");
    std::fs::write(&wrong_key, other.key_pair.serialize_pem()).expect("write");
    let refused = tracemark(
        &db,
        &[
            "serve",
            "--http",
            "127.0.0.1:0",
            "--tls-cert",
            cert.to_str().expect("a path"),
            "--tls-key",
            wrong_key.to_str().expect("a path"),
        ],
        "",
    );
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("wrong.key"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}
