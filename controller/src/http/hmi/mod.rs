//! The HMI (issue 16 item 4; docs/hmi.md): server-rendered pages (askama templates in
//! `controller/templates/hmi/`, every asset built into the binary, no CDN) for the people on a
//! line. Pages read through the `app` functions; every action a page offers is a call of the
//! API with the session's CSRF token, so the roles the API enforces are the HMI's too (the page
//! only hides controls a role may not use). Live figures come from the API's server-sent
//! events. Colour only for what is abnormal (ISA-101): a normal line is grey.

mod admin_pages;
pub mod i18n;
mod integrator_page;
mod pages;
pub mod report;

use axum::Router;
use axum::extract::{ConnectInfo, Form, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::auth::{SESSION_COOKIE, session_cookie};
use super::server::Peer;
use super::state::ApiState;
use crate::app::AppError;
use crate::app::users::{self, AuthUser, Language, Via};
use i18n::Words;

const CSS: &str = include_str!("assets/hmi.css");
const JS: &str = include_str!("assets/hmi.js");

/// The HMI's routes.
pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/", get(pages::overview))
        .route("/login", get(login_page).post(login_submit))
        .route("/batches", get(pages::batches))
        .route("/batches/{id}", get(pages::batch))
        .route("/batches/{id}/report", get(report::page))
        .route("/qa", get(pages::qa))
        .route("/uploads", get(admin_pages::uploads))
        .route("/users", get(admin_pages::users))
        .route("/packing", get(admin_pages::packing))
        .route("/hmi/admin.js", get(admin_pages::js))
        .route("/hmi/hmi.css", get(css))
        .route("/hmi/hmi.js", get(js))
        .route("/integrator", get(integrator_page::page))
        .route("/hmi/integrator.js", get(integrator_page::js))
}

/// What every page shows around its content: the user, the language, the CSRF token.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The words of the user's language.
    pub w: &'static Words,
    /// The page's `lang`.
    pub lang: &'static str,
    /// The user's name.
    pub user: String,
    /// The user's role.
    pub role: &'static str,
    /// The session's CSRF token (for the API calls the page makes).
    pub csrf: String,
    /// The page, for the navigation.
    pub active: &'static str,
}

impl Chrome {
    fn new(user: &AuthUser, active: &'static str) -> Chrome {
        Chrome {
            w: i18n::words(user.language),
            lang: i18n::html_lang(user.language),
            user: user.name.clone(),
            role: user.role.as_str(),
            csrf: match &user.via {
                Via::Session { csrf } => csrf.clone(),
                Via::Token => String::new(),
            },
            active,
        }
    }
}

/// The session's user, or the way to the login page.
async fn page_user(state: &ApiState, jar: &CookieJar) -> Result<AuthUser, Response> {
    let Some(cookie) = jar.get(SESSION_COOKIE) else {
        return Err(Redirect::to("/login").into_response());
    };
    users::authenticate_session(&state.store, cookie.value())
        .await
        .map_err(|_| Redirect::to("/login").into_response())
}

/// A rendered template, or a plain 500 naming nothing internal.
fn render(template: &impl askama::Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, "an HMI template failed");
            (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be drawn: see the server's log",
            )
                .into_response()
        }
    }
}

#[derive(askama::Template)]
#[template(path = "hmi/error.html")]
struct ErrorPage {
    status: u16,
    title: String,
    detail: String,
}

/// An error as a page: the status and the problem's detail (never an internal cause).
fn error_page(error: AppError) -> Response {
    if let AppError::Internal { .. } = &error {
        tracing::error!(%error, "an HMI page failed");
    }
    let problem = super::problem::ApiError(error).problem();
    let status = axum::http::StatusCode::from_u16(problem.status)
        .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    let page = render(&ErrorPage {
        status: problem.status,
        title: problem.title,
        detail: problem.detail,
    });
    (status, page).into_response()
}

/// The language a browser asks for (`Accept-Language`), for pages before login.
fn browser_language(headers: &HeaderMap) -> Language {
    let asked = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if asked.trim_start().starts_with("zh") {
        Language::ZhCn
    } else {
        Language::En
    }
}

#[derive(askama::Template)]
#[template(path = "hmi/login.html")]
struct LoginPage {
    w: &'static Words,
    lang: &'static str,
    error: Option<&'static str>,
}

async fn login_page(headers: HeaderMap) -> Response {
    let language = browser_language(&headers);
    render(&LoginPage {
        w: i18n::words(language),
        lang: i18n::html_lang(language),
        error: None,
    })
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
struct LoginForm {
    name: String,
    password: String,
}

/// Logs in from the form (no script needed): the session cookie, then the overview.
async fn login_submit(
    State(state): State<ApiState>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Response {
    let outcome = users::login(
        &state.store,
        &state.limiter,
        &form.name,
        &form.password,
        &peer.ip().to_string(),
    )
    .await;
    match outcome {
        Ok(session) => {
            let jar = jar.add(session_cookie(session.secret, state.tls));
            (jar, Redirect::to("/")).into_response()
        }
        Err(error) => {
            let language = browser_language(&headers);
            let (status, key) = match error {
                AppError::RateLimited { .. } => (
                    axum::http::StatusCode::TOO_MANY_REQUESTS,
                    "login_rate_limited",
                ),
                _ => (axum::http::StatusCode::UNAUTHORIZED, "login_failed"),
            };
            let page = render(&LoginPage {
                w: i18n::words(language),
                lang: i18n::html_lang(language),
                error: Some(key),
            });
            (status, page).into_response()
        }
    }
}

async fn css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS)
}

async fn js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        JS,
    )
}
