//! The HMI's pages for the jobs around the line (docs/hmi.md): uploads (deliveries and
//! targets), users (roles, passwords, tokens) and packing (cartons, pallets, rework).
//!
//! Like the other pages these read through the `app` functions and act through the API (the
//! page script `admin.js`, with the session's CSRF token). A control is drawn only for a role
//! the API's access table ([`OPERATIONS`]) lets call its operation, so the page and the server
//! cannot disagree on who may do what; the API still refuses the others.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use tracemark_store::upload::{Delivery, UploadFormat, UploadTarget};
use tracemark_store::{Batch, BatchState, PackageContents, PackageLevel, PackageState};

use super::{Chrome, error_page, page_user, render};
use crate::app::packing::{self, PackageList};
use crate::app::page::{Page, PageRequest};
use crate::app::users::{self, Language, Role, TokenRecord, User};
use crate::app::{batches, uploads};
use crate::http::access::{Access, OPERATIONS};
use crate::http::state::ApiState;

/// The script of these pages (after `hmi.js`, whose `api()` it calls).
const JS: &str = include_str!("assets/admin.js");

/// Whether `role` may call the API operation `operation` (its `operationId`), by the API's one
/// access table.
fn may(role: Role, operation: &str) -> bool {
    OPERATIONS.iter().any(|(id, access)| {
        *id == operation
            && match access {
                Access::Public => true,
                Access::Roles(roles) => roles.contains(&role),
            }
    })
}

#[derive(askama::Template)]
#[template(path = "hmi/uploads.html")]
struct UploadsPage {
    c: Chrome,
    deliveries: Page<Delivery>,
    targets: Vec<UploadTarget>,
    formats: [UploadFormat; 3],
    may_retry: bool,
    may_add_target: bool,
    may_remove_target: bool,
}

impl UploadsPage {
    /// What the receiver answered last: its status, when it took the delivery, its reply (cut
    /// short: the API has it whole).
    fn receipt(&self, d: &Delivery) -> String {
        let parts: Vec<String> = [
            d.last_status.map(|status| format!("HTTP {status}")),
            d.delivered_at.clone(),
            d.last_reply
                .as_deref()
                .map(|reply| cut(reply, RECEIPT_CHARS)),
        ]
        .into_iter()
        .flatten()
        .collect();
        if parts.is_empty() {
            "–".to_owned()
        } else {
            parts.join(" · ")
        }
    }

    /// The key files a target names (paths on the controller, never key material).
    fn key_files(&self, t: &UploadTarget) -> String {
        let files: Vec<String> = [
            ("secret", &t.secret_file),
            ("ed25519", &t.ed25519_key_file),
            ("ca", &t.ca_file),
        ]
        .into_iter()
        .filter_map(|(what, path)| path.as_ref().map(|p| format!("{what}: {}", p.display())))
        .collect();
        if files.is_empty() {
            "–".to_owned()
        } else {
            files.join(", ")
        }
    }
}

/// The characters of a receiver's reply a delivery row shows.
const RECEIPT_CHARS: usize = 80;

/// `text`'s first `chars` characters, with an ellipsis when it was longer.
fn cut(text: &str, chars: usize) -> String {
    let mut out: String = text.chars().take(chars).collect();
    if text.chars().nth(chars).is_some() {
        out.push('…');
    }
    out
}

/// The outbox: every delivery (paginated) with its state, attempts, last error and the
/// receiver's receipt; a retry of a failed one; the upload targets.
pub(super) async fn uploads(
    State(state): State<ApiState>,
    jar: CookieJar,
    Query(request): Query<PageRequest>,
) -> Response {
    let user = match page_user(&state, &jar).await {
        Ok(user) => user,
        Err(to_login) => return to_login,
    };
    let deliveries = match uploads::status(&state.store)
        .await
        .and_then(|all| request.slice(all))
    {
        Ok(page) => page,
        Err(error) => return error_page(error),
    };
    let targets = match uploads::list_targets(&state.store).await {
        Ok(targets) => targets,
        Err(error) => return error_page(error),
    };
    render(&UploadsPage {
        may_retry: may(user.role, "retry_delivery"),
        may_add_target: may(user.role, "add_upload_target"),
        may_remove_target: may(user.role, "remove_upload_target"),
        c: Chrome::new(&user, "uploads"),
        deliveries,
        targets,
        formats: UploadFormat::ALL,
    })
}

#[derive(askama::Template)]
#[template(path = "hmi/users.html")]
struct UsersPage {
    c: Chrome,
    users: Page<User>,
    roles: [Role; 4],
    may_add: bool,
    may_set_role: bool,
    may_disable: bool,
    may_set_password: bool,
    may_create_token: bool,
    /// Every user's tokens (never a token or its hash), for an administrator only.
    tokens: Vec<TokenRecord>,
    may_list_tokens: bool,
    may_revoke_token: bool,
}

impl UsersPage {
    /// The name of a user's language, as the language menu shows it.
    fn language(&self, user: &User) -> &'static str {
        match user.language {
            Language::En => "English",
            Language::ZhCn => "中文",
        }
    }

    /// Whether any per-user control is drawn (the table's last column).
    fn any_user_control(&self) -> bool {
        self.may_set_role || self.may_disable || self.may_set_password || self.may_create_token
    }
}

/// The users with their role and whether they are enabled; for an administrator the forms that
/// add one, change a role, disable, set a password and make a token.
pub(super) async fn users(
    State(state): State<ApiState>,
    jar: CookieJar,
    Query(request): Query<PageRequest>,
) -> Response {
    let user = match page_user(&state, &jar).await {
        Ok(user) => user,
        Err(to_login) => return to_login,
    };
    let listed = match users::list_users(&state.store)
        .await
        .and_then(|all| request.slice(all))
    {
        Ok(page) => page,
        Err(error) => return error_page(error),
    };
    let may_list_tokens = may(user.role, "list_user_tokens");
    let tokens = if may_list_tokens {
        match users::list_tokens(&state.store, None).await {
            Ok(tokens) => tokens,
            Err(error) => return error_page(error),
        }
    } else {
        Vec::new()
    };
    render(&UsersPage {
        tokens,
        may_list_tokens,
        may_revoke_token: may(user.role, "revoke_user_token"),
        may_add: may(user.role, "add_user"),
        may_set_role: may(user.role, "set_user_role"),
        may_disable: may(user.role, "disable_user"),
        may_set_password: may(user.role, "set_user_password"),
        may_create_token: may(user.role, "create_user_token"),
        c: Chrome::new(&user, "users"),
        users: listed,
        roles: Role::ALL,
    })
}

/// Which batch's packages, and which package opened.
#[derive(Debug, Deserialize)]
pub(super) struct PackingQuery {
    batch: Option<i64>,
    sscc: Option<String>,
}

/// The rework a role may do on a package, one flag per API operation.
#[derive(Debug, Clone, Copy)]
struct Rework {
    add: bool,
    remove: bool,
    replace: bool,
    unpack: bool,
    close: bool,
    reopen: bool,
    void: bool,
}

impl Rework {
    fn of(role: Role) -> Rework {
        Rework {
            add: may(role, "pack_add"),
            remove: may(role, "pack_remove"),
            replace: may(role, "pack_replace"),
            unpack: may(role, "pack_unpack"),
            close: may(role, "pack_close"),
            reopen: may(role, "pack_reopen"),
            void: may(role, "pack_void"),
        }
    }

    fn any_state_change(&self) -> bool {
        self.unpack || self.close || self.reopen || self.void
    }
}

#[derive(askama::Template)]
#[template(path = "hmi/packing.html")]
struct PackingPage {
    c: Chrome,
    batches: Vec<Batch>,
    batch: Option<i64>,
    list: Option<PackageList>,
    package: Option<PackageContents>,
    rework: Rework,
}

impl PackingPage {
    /// A level in the user's language.
    fn level(&self, level: &PackageLevel) -> &'static str {
        self.c.w.t(level.as_str())
    }

    /// A package's state in the user's language (`package_<state>`: some states share their
    /// name with a batch's or a code's, which read differently).
    fn package_state(&self, state: &PackageState) -> String {
        self.c
            .w
            .t(&format!("package_{}", state.as_str()))
            .to_owned()
    }

    /// Whether the chosen batch is closed: then a package problem is abnormal, not work in
    /// progress.
    fn batch_closed(&self) -> bool {
        self.batch
            .and_then(|id| self.batches.iter().find(|b| b.id == id))
            .is_some_and(|b| b.state == BatchState::Closed)
    }
}

/// Packing: a batch's pallets and cartons (state, level, count, parent) and their
/// reconciliation; one package's contents with the rework controls for QA.
pub(super) async fn packing(
    State(state): State<ApiState>,
    jar: CookieJar,
    Query(query): Query<PackingQuery>,
) -> Response {
    let user = match page_user(&state, &jar).await {
        Ok(user) => user,
        Err(to_login) => return to_login,
    };
    let package = match query.sscc.as_deref().filter(|s| !s.is_empty()) {
        Some(sscc) => match packing::show(&state.store, sscc).await {
            Ok(contents) => Some(contents),
            Err(error) => return error_page(error),
        },
        None => None,
    };
    let batches = match batches::list(&state.store).await {
        Ok(all) => all,
        Err(error) => return error_page(error),
    };
    // The batch asked for, else the opened package's, else the newest.
    let batch = query
        .batch
        .or_else(|| package.as_ref().map(|p| p.package.batch_id))
        .or_else(|| batches.first().map(|b| b.id));
    let list = match batch {
        Some(id) => match packing::list(&state.store, id).await {
            Ok(list) => Some(list),
            Err(error) => return error_page(error),
        },
        None => None,
    };
    render(&PackingPage {
        rework: Rework::of(user.role),
        c: Chrome::new(&user, "packing"),
        batches,
        batch,
        list,
        package,
    })
}

/// `admin.js`.
pub(super) async fn js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        JS,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_follow_the_access_table() {
        assert!(may(Role::Integrator, "retry_delivery"));
        assert!(!may(Role::Qa, "retry_delivery"));
        assert!(may(Role::Admin, "add_user"));
        assert!(!may(Role::Operator, "add_user"));
        assert!(may(Role::Operator, "list_users"));
        assert!(!may(Role::Admin, "no_such_operation"));
        let qa = Rework::of(Role::Qa);
        assert!(qa.add && qa.remove && qa.replace && qa.any_state_change());
        let operator = Rework::of(Role::Operator);
        assert!(!operator.remove && !operator.any_state_change());
    }

    #[test]
    fn a_long_reply_is_cut_on_a_character() {
        assert_eq!(cut("短い", 5), "短い");
        assert_eq!(cut("收到批次", 2), "收到…");
    }
}
