//! The HMI's pages after login: the line overview, batches, one batch, QA.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use tracemark_store::{Batch, CodeRecord, CodeState};

use super::{Chrome, error_page, page_user, render};
use crate::app::batches::{self, BatchReport};
use crate::app::page::{Page, PageRequest};
use crate::app::qa;
use crate::http::state::ApiState;

#[derive(askama::Template)]
#[template(path = "hmi/overview.html")]
struct Overview {
    c: Chrome,
    running: Vec<Batch>,
}

/// The line overview: live figures over server-sent events (the page's script), and the
/// batches running now.
pub(super) async fn overview(State(state): State<ApiState>, jar: CookieJar) -> Response {
    let user = match page_user(&state, &jar).await {
        Ok(user) => user,
        Err(to_login) => return to_login,
    };
    let running = match batches::list(&state.store).await {
        Ok(all) => all
            .into_iter()
            .filter(|b| {
                matches!(
                    b.state,
                    tracemark_store::BatchState::Running | tracemark_store::BatchState::Paused
                )
            })
            .collect(),
        Err(error) => return error_page(error),
    };
    render(&Overview {
        c: Chrome::new(&user, "overview"),
        running,
    })
}

#[derive(askama::Template)]
#[template(path = "hmi/batches.html")]
struct Batches {
    c: Chrome,
    page: Page<Batch>,
}

/// The batches, newest first, and the form that registers and starts one.
pub(super) async fn batches(
    State(state): State<ApiState>,
    jar: CookieJar,
    Query(request): Query<PageRequest>,
) -> Response {
    let user = match page_user(&state, &jar).await {
        Ok(user) => user,
        Err(to_login) => return to_login,
    };
    let page = match batches::list_page(&state.store, request).await {
        Ok(page) => page,
        Err(error) => return error_page(error),
    };
    render(&Batches {
        c: Chrome::new(&user, "batches"),
        page,
    })
}

#[derive(askama::Template)]
#[template(path = "hmi/batch.html")]
struct BatchPage {
    c: Chrome,
    report: BatchReport,
}

/// One batch: its fields, its reconciliation, its controls.
pub(super) async fn batch(
    State(state): State<ApiState>,
    jar: CookieJar,
    Path(id): Path<i64>,
) -> Response {
    let user = match page_user(&state, &jar).await {
        Ok(user) => user,
        Err(to_login) => return to_login,
    };
    match batches::report(&state.store, id).await {
        Ok(report) => render(&BatchPage {
            c: Chrome::new(&user, "batches"),
            report,
        }),
        Err(error) => error_page(error),
    }
}

/// Which batch's rejects, and whether settled ones too.
#[derive(Debug, Deserialize)]
pub(super) struct QaQuery {
    batch: Option<i64>,
    #[serde(default)]
    all: bool,
    page: Option<u32>,
}

#[derive(askama::Template)]
#[template(path = "hmi/qa.html")]
struct QaPage {
    c: Chrome,
    batches: Vec<Batch>,
    batch: Option<i64>,
    all: bool,
    rejected: Vec<CodeRecord>,
    settled: Vec<qa::SettledReject>,
    /// Rejects still to settle (all of them, not this page's).
    to_settle: i64,
    /// This page's number, and whether pages come before and after it.
    page: u32,
    earlier: bool,
    later: bool,
    /// Code → the URL of its camera image, for the rejects that have one.
    images: std::collections::HashMap<String, String>,
}

/// QA: a batch's rejects with reason, expected and decoded data and grade; destroy, release
/// after a re-scan, sample.
pub(super) async fn qa(
    State(state): State<ApiState>,
    jar: CookieJar,
    Query(query): Query<QaQuery>,
) -> Response {
    let user = match page_user(&state, &jar).await {
        Ok(user) => user,
        Err(to_login) => return to_login,
    };
    let batches = match batches::list(&state.store).await {
        Ok(all) => all,
        Err(error) => return error_page(error),
    };
    let batch = query.batch.or_else(|| batches.first().map(|b| b.id));
    let request = PageRequest {
        page: query.page,
        per_page: None,
    };
    let (rejected, settled, to_settle, page, later) = match batch {
        Some(id) => match qa::rejects_page(&state.store, id, query.all, request).await {
            Ok(rejects) => {
                let units = rejects.units;
                let later = u64::from(units.page) * u64::from(units.per_page) < units.total;
                let (rejected, settled): (Vec<_>, Vec<_>) = units
                    .items
                    .into_iter()
                    .partition(|unit| unit.code.state == CodeState::Rejected);
                let rejected = rejected.into_iter().map(|unit| unit.code).collect();
                (rejected, settled, rejects.to_settle, units.page, later)
            }
            Err(error) => return error_page(error),
        },
        None => (Vec::new(), Vec::new(), 0, 1, false),
    };
    let codes: Vec<String> = rejected.iter().map(|r| r.code.clone()).collect();
    let images = match crate::app::reject_images::with_images(&state.store, &codes).await {
        Ok(found) => found
            .into_iter()
            .map(|code| {
                let url = crate::http::api::reject_images::image_url(&code);
                (code, url)
            })
            .collect(),
        Err(error) => return error_page(error),
    };
    render(&QaPage {
        c: Chrome::new(&user, "qa"),
        batches,
        batch,
        all: query.all,
        rejected,
        settled,
        to_settle,
        page,
        earlier: page > 1,
        later,
        images,
    })
}
