//! `tracemark user …`: users, roles, passwords and API tokens, through `tracemark::app::users`
//! (SPEC §8; docs/users.md). A password is never taken on the command line (it would be in
//! the shell's history and in `ps`): it is read from standard input with `--password-stdin`,
//! else asked for on the terminal without echo.

use std::io::{BufRead, IsTerminal, Write};
use std::process::{Command, Stdio};

use clap::{Args, Subcommand};
use tracemark::app::users::{self, Role, User};

use super::{CliError, Context, block_on};

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Add a user with a role (operator, qa, integrator, admin) and a password.
    Add {
        /// The login name: 1 to 64 of A-Z a-z 0-9 . _ -
        name: String,
        /// operator, qa, integrator or admin.
        #[arg(long)]
        role: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// List the users (never a password or its hash).
    List {
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Change a user's role.
    Role {
        /// The user.
        name: String,
        /// operator, qa, integrator or admin.
        role: String,
    },
    /// Disable a user: no login; their sessions end and their tokens stop working.
    Disable {
        /// The user.
        name: String,
    },
    /// Set a user's password; their sessions end.
    Passwd {
        /// The user.
        name: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Make an API token for a user; it is printed once and stored only hashed.
    Token {
        /// The user.
        name: String,
        /// Days until it expires (default: never).
        #[arg(long, value_name = "N")]
        expires_days: Option<u32>,
    },
    /// List API tokens (numbers, owners, expiry; never the tokens).
    Tokens {
        /// Only this user's.
        name: Option<String>,
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke an API token by its number, for good.
    RevokeToken {
        /// The token's number (`user tokens`).
        id: i64,
    },
}

#[derive(Debug, Args)]
pub(crate) struct PasswordArgs {
    /// Read the password from the first line of standard input (for scripts) instead of
    /// asking on the terminal.
    #[arg(long)]
    password_stdin: bool,
}

pub(crate) fn run(command: UserCommand, context: &Context) -> Result<(), CliError> {
    block_on(async {
        let store = context.open().await?;
        let actor = context.actor();
        match command {
            UserCommand::Add {
                name,
                role,
                password,
            } => {
                let role: Role = role.parse()?;
                users::validate_name(&name)?;
                let password = read_password(&password)?;
                let user = users::add_user(&store, actor, &name, role, &password).await?;
                println!("added user {} ({})", user.name, user.role);
            }
            UserCommand::List { json } => {
                let list = users::list_users(&store).await?;
                if json {
                    println!("{}", to_json(&list)?);
                } else {
                    print_users(&list);
                }
            }
            UserCommand::Role { name, role } => {
                let role: Role = role.parse()?;
                let user = users::set_role(&store, actor, &name, role).await?;
                println!("user {} has role {}", user.name, user.role);
            }
            UserCommand::Disable { name } => {
                let user = users::disable_user(&store, actor, &name).await?;
                println!("disabled user {}", user.name);
            }
            UserCommand::Passwd { name, password } => {
                users::get_user(&store, &name).await?;
                let password = read_password(&password)?;
                users::set_password(&store, actor, &name, &password).await?;
                println!("set the password of {name}; their sessions ended");
            }
            UserCommand::Token { name, expires_days } => {
                let token = users::create_token(&store, actor, &name, expires_days).await?;
                eprintln!(
                    "token for {} (expires {}); it is shown only this once:",
                    token.user,
                    token.expires_at.as_deref().unwrap_or("never")
                );
                println!("{}", token.token);
            }
            UserCommand::Tokens { name, json } => {
                let tokens = users::list_tokens(&store, name.as_deref()).await?;
                if json {
                    println!("{}", to_json(&tokens)?);
                } else {
                    for t in &tokens {
                        println!(
                            "{}\t{}\t{}\t{}\t{}",
                            t.id,
                            t.user,
                            t.created_at,
                            t.expires_at.as_deref().unwrap_or("never"),
                            if t.revoked { "revoked" } else { "active" }
                        );
                    }
                }
            }
            UserCommand::RevokeToken { id } => {
                let token = users::revoke_token(&store, actor, id).await?;
                println!("revoked token {} of {}", token.id, token.user);
            }
        }
        Ok(())
    })
}

fn to_json(value: &impl serde::Serialize) -> Result<String, CliError> {
    serde_json::to_string_pretty(value).map_err(|e| CliError::Failed(e.into()))
}

fn print_users(list: &[User]) {
    for user in list {
        println!(
            "{}\t{}\t{}\t{}\t{}",
            user.name,
            user.role,
            user.language.as_str(),
            if user.disabled { "disabled" } else { "active" },
            user.created_at
        );
    }
}

/// The first line of standard input without its line end.
fn first_line(input: &mut impl BufRead) -> Result<String, CliError> {
    let mut line = String::new();
    input
        .read_line(&mut line)
        .map_err(|e| CliError::input("password", format!("cannot read standard input: {e}")))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// The password: from standard input (`--password-stdin`), else asked twice on the terminal
/// without echo. Its rules (length) are `app::users`'s.
fn read_password(args: &PasswordArgs) -> Result<String, CliError> {
    if args.password_stdin {
        return first_line(&mut std::io::stdin().lock());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::input(
            "password",
            "standard input is not a terminal: give --password-stdin and the password on it",
        ));
    }
    let password = prompt("Password: ")?;
    if prompt("Again: ")? != password {
        return Err(CliError::input("password", "the two entries differ"));
    }
    Ok(password)
}

/// Asks on the terminal with echo off (`stty -echo`, POSIX), turning it back on afterwards
/// even when reading fails.
fn prompt(question: &str) -> Result<String, CliError> {
    struct Echo;
    impl Drop for Echo {
        fn drop(&mut self) {
            let _ = stty("echo");
        }
    }
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    stty("-echo")?;
    let echo = Echo;
    let line = first_line(&mut std::io::stdin().lock());
    drop(echo);
    eprintln!();
    line
}

fn stty(setting: &str) -> Result<(), CliError> {
    let status = Command::new("stty")
        .arg(setting)
        .stdin(Stdio::inherit())
        .status()
        .map_err(|e| CliError::input("password", format!("cannot turn echo off: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(CliError::input(
            "password",
            "cannot turn echo off on this terminal; use --password-stdin",
        ))
    }
}
