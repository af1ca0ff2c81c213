//! `tracemark user …` end to end: a user added with the password on standard input, listed as
//! JSON without any hash, a token printed once that authenticates; a wrong role name exits 2
//! naming `role`; a password is never taken as an argument.

#[macro_use]
mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::*;
use tracemark::app::users::{self, Role, Via};

const PASSWORD: &str = "correct horse battery";

/// Runs the binary on `url` with `stdin` as its standard input.
fn with_stdin(url: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(bin())
        .args(args)
        .env("TRACEMARK_DB", url)
        .env("TRACEMARK_USER", "tester")
        .env("TRACEMARK_DEVICE", "test-bench")
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
    child.wait_with_output().expect("wait for tracemark")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

/// Exit status 2, one stderr line `error: <field>: …`.
fn input_error(out: &Output, field: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.starts_with(&format!("error: {field}: ")),
        "expected field {field}: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_list_token_and_refusals() {
    let dir = tempdir();
    let url = sqlite_url(dir.path());
    let added = ok(&with_stdin(
        &url,
        &["user", "add", "wang.li", "--role", "qa", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    ));
    assert_eq!(added.trim(), "added user wang.li (qa)");

    // Refusals: each names its field, exits 2 and writes nothing.
    let out = with_stdin(
        &url,
        &["user", "add", "li.na", "--role", "chef", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    input_error(&out, "role");
    assert!(stderr(&out).contains("operator, qa, integrator, admin"));
    let out = with_stdin(
        &url,
        &["user", "add", "li.na", "--role", "qa", "--password-stdin"],
        "short\n",
    );
    input_error(&out, "password");
    let out = with_stdin(&url, &["user", "add", "li.na", "--role", "qa"], "");
    input_error(&out, "password");
    input_error(
        &tracemark(&url, &["user", "role", "wang.li", "boss"]),
        "role",
    );
    // A password as an argument is no option at all.
    let out = tracemark(
        &url,
        &[
            "user",
            "add",
            "li.na",
            "--role",
            "qa",
            "--password",
            PASSWORD,
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    let json = ok(&tracemark(&url, &["user", "list", "--json"]));
    let list: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(
        list,
        serde_json::json!([{
            "name": "wang.li", "role": "qa", "disabled": false, "language": "en",
            "created_at": list[0]["created_at"],
        }])
    );
    for secret in [PASSWORD, "argon2", "$"] {
        assert!(!json.contains(secret), "{secret} in {json}");
    }

    ok(&tracemark(&url, &["user", "role", "wang.li", "integrator"]));
    let token = ok(&tracemark(
        &url,
        &["user", "token", "wang.li", "--expires-days", "30"],
    ));
    let token = token.trim();
    assert!(token.starts_with("tmk_") && token.len() == 47, "{token}");
    let listed = ok(&tracemark(&url, &["user", "tokens", "wang.li", "--json"]));
    assert!(!listed.contains(&token[4..]), "{listed}");

    let store = open(&url).await;
    let auth = users::authenticate_bearer(&store, token)
        .await
        .expect("the printed token works");
    assert_eq!(
        (auth.name.as_str(), auth.role, auth.via),
        ("wang.li", Role::Integrator, Via::Token)
    );
    store.close().await;

    let new_password = "another-long-one-42";
    ok(&with_stdin(
        &url,
        &["user", "passwd", "wang.li", "--password-stdin"],
        &format!("{new_password}\r\n"),
    ));
    ok(&tracemark(&url, &["user", "disable", "wang.li"]));
    let log = ok(&tracemark(&url, &["audit", "log", "--limit", "100"]));
    for kind in [
        "user.added",
        "user.role",
        "user.token_created",
        "user.password",
        "user.disabled",
    ] {
        assert!(log.contains(kind), "{kind} missing: {log}");
    }
    for secret in [PASSWORD, new_password, token, &token[4..]] {
        assert!(!log.contains(secret), "{secret} in the log");
    }
    ok(&tracemark(&url, &["audit", "verify"]));
}
