//! Who may call which API operation (SPEC §8): [`OPERATIONS`] is the one table. It is read
//! twice — into the OpenAPI document as each operation's `x-tracemark-roles` (and its
//! `security`), and into the [`AccessTable`] the router checks every request against — so the
//! document and the server cannot disagree. An operation missing from the table, or a table
//! entry with no operation, stops the server from starting (and fails a test).

use std::collections::{BTreeMap, BTreeSet};

use axum::http::Method;
use serde_json::json;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{HttpMethod, OpenApi};

use crate::app::permissions::{
    ADMINISTER, DISPATCH_ORDERS, INTEGRATE, QUALITY, READ, RUN_LINE, SHIP,
};
use crate::app::users::Role;

/// The OpenAPI extension that lists an operation's roles.
pub const ROLES_EXTENSION: &str = "x-tracemark-roles";

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, logged in or not (logging in itself).
    Public,
    /// A logged-in user with one of these roles.
    Roles(&'static [Role]),
}

/// Every operation of the API by its `operationId`, with who may call it.
pub const OPERATIONS: &[(&str, Access)] = &[
    ("login", Access::Public),
    ("logout", Access::Roles(READ)),
    ("current_session", Access::Roles(READ)),
    ("set_language", Access::Roles(READ)),
    ("list_batches", Access::Roles(READ)),
    ("get_batch", Access::Roles(READ)),
    ("batch_report", Access::Roles(READ)),
    ("create_batch", Access::Roles(RUN_LINE)),
    ("set_batch_state", Access::Roles(RUN_LINE)),
    ("list_users", Access::Roles(READ)),
    ("add_user", Access::Roles(ADMINISTER)),
    ("set_user_role", Access::Roles(ADMINISTER)),
    ("disable_user", Access::Roles(ADMINISTER)),
    ("set_user_password", Access::Roles(ADMINISTER)),
    ("create_user_token", Access::Roles(ADMINISTER)),
    ("list_user_tokens", Access::Roles(ADMINISTER)),
    ("revoke_user_token", Access::Roles(ADMINISTER)),
    ("list_rejects", Access::Roles(READ)),
    ("destroy_rejects", Access::Roles(QUALITY)),
    ("release_reject", Access::Roles(QUALITY)),
    ("sample_unit", Access::Roles(QUALITY)),
    ("release_batch", Access::Roles(QUALITY)),
    ("reject_image", Access::Roles(READ)),
    ("list_packages", Access::Roles(READ)),
    ("get_package", Access::Roles(READ)),
    ("pack_add", Access::Roles(QUALITY)),
    ("pack_remove", Access::Roles(QUALITY)),
    ("pack_replace", Access::Roles(QUALITY)),
    ("pack_unpack", Access::Roles(QUALITY)),
    ("pack_close", Access::Roles(QUALITY)),
    ("pack_reopen", Access::Roles(QUALITY)),
    ("pack_void", Access::Roles(QUALITY)),
    ("list_shipments", Access::Roles(READ)),
    ("create_shipment", Access::Roles(SHIP)),
    ("list_dispatch_orders", Access::Roles(READ)),
    ("get_dispatch_order", Access::Roles(READ)),
    ("create_dispatch_order", Access::Roles(DISPATCH_ORDERS)),
    ("list_deliveries", Access::Roles(READ)),
    ("retry_delivery", Access::Roles(INTEGRATE)),
    ("list_upload_targets", Access::Roles(READ)),
    ("add_upload_target", Access::Roles(INTEGRATE)),
    ("remove_upload_target", Access::Roles(INTEGRATE)),
    ("list_lines", Access::Roles(READ)),
    ("get_line", Access::Roles(READ)),
    ("line_events", Access::Roles(READ)),
    ("pause_line", Access::Roles(RUN_LINE)),
    ("resume_line", Access::Roles(RUN_LINE)),
    ("stop_line", Access::Roles(RUN_LINE)),
    ("acknowledge_line_alarm", Access::Roles(RUN_LINE)),
    ("list_line_configs", Access::Roles(INTEGRATE)),
    ("list_devices", Access::Roles(READ)),
    ("probe_device", Access::Roles(INTEGRATE)),
    // Outside /api/v1, for Prometheus: a bearer token of any role (docs/api.md "Metrics").
    ("metrics", Access::Roles(READ)),
];

/// Each route's access, by method and path template (as axum's `MatchedPath` gives it).
#[derive(Debug, Clone, Default)]
pub struct AccessTable {
    routes: BTreeMap<(String, String), Access>,
}

impl AccessTable {
    /// Writes [`OPERATIONS`] into `openapi` (`x-tracemark-roles`, `security`) and returns the
    /// table the router checks. Errs naming every operation without an entry, every entry
    /// without an operation, and every operation without an `operationId`.
    pub fn annotate(openapi: &mut OpenApi) -> Result<AccessTable, String> {
        let declared: BTreeMap<&str, Access> = OPERATIONS.iter().copied().collect();
        let mut seen = BTreeSet::new();
        let mut problems = Vec::new();
        let mut routes = BTreeMap::new();
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                (HttpMethod::Get, &mut item.get),
                (HttpMethod::Post, &mut item.post),
                (HttpMethod::Put, &mut item.put),
                (HttpMethod::Patch, &mut item.patch),
                (HttpMethod::Delete, &mut item.delete),
                (HttpMethod::Head, &mut item.head),
                (HttpMethod::Options, &mut item.options),
                (HttpMethod::Trace, &mut item.trace),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation.as_mut() else {
                    continue;
                };
                let Some(id) = operation.operation_id.clone() else {
                    problems.push(format!("{} {path}: no operationId", method_name(&method)));
                    continue;
                };
                let Some(access) = declared.get(id.as_str()).copied() else {
                    problems.push(format!(
                        "{} {path} ({id}): not in http::access::OPERATIONS",
                        method_name(&method)
                    ));
                    continue;
                };
                seen.insert(id);
                let roles: Vec<&str> = match access {
                    Access::Public => Vec::new(),
                    Access::Roles(roles) => roles.iter().map(|r| r.as_str()).collect(),
                };
                operation
                    .extensions
                    .get_or_insert_with(Default::default)
                    .insert(ROLES_EXTENSION.to_owned(), json!(roles));
                if access == Access::Public {
                    // An empty requirement: no credentials needed (OpenAPI 3.1 §4.8.10).
                    operation.security = Some(vec![SecurityRequirement::default()]);
                }
                routes.insert((method_name(&method).to_owned(), path.clone()), access);
            }
        }
        for (id, _) in OPERATIONS {
            if !seen.contains(*id) {
                problems.push(format!(
                    "{id}: in http::access::OPERATIONS but no route has it"
                ));
            }
        }
        if problems.is_empty() {
            Ok(AccessTable { routes })
        } else {
            Err(problems.join("; "))
        }
    }

    /// The access of the route `path` (a template, e.g. `/api/v1/batches/{id}`) for `method`.
    pub fn get(&self, method: &Method, path: &str) -> Option<Access> {
        self.routes
            .get(&(method.as_str().to_owned(), path.to_owned()))
            .copied()
    }
}

fn method_name(method: &HttpMethod) -> &'static str {
    match method {
        HttpMethod::Get => "GET",
        HttpMethod::Post => "POST",
        HttpMethod::Put => "PUT",
        HttpMethod::Patch => "PATCH",
        HttpMethod::Delete => "DELETE",
        HttpMethod::Head => "HEAD",
        HttpMethod::Options => "OPTIONS",
        HttpMethod::Trace => "TRACE",
    }
}
