//! Errors as RFC 9457 problem details (`application/problem+json`), mapped once from
//! [`AppError`] (its [`AppError::http_status`]), and the JSON body extractor that names the
//! member a malformed request got wrong.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use crate::app::AppError;

/// RFC 9457 §3.1 problem details, with the member tracemark adds: `field`, the request member,
/// parameter or thing the problem is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct Problem {
    /// RFC 9457 §3.1.1: `about:blank`, the status says what kind of problem it is.
    #[serde(rename = "type")]
    pub kind: String,
    /// RFC 9457 §3.1.3: the status's reason phrase.
    pub title: String,
    /// RFC 9457 §3.1.2: the HTTP status.
    pub status: u16,
    /// RFC 9457 §3.1.4: what is wrong, for a person.
    pub detail: String,
    /// The request member, parameter or thing at fault (`quantity`, `batch`, `state`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// An [`AppError`] as an HTTP answer.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        ApiError(error)
    }
}

impl ApiError {
    /// The problem details of this error.
    pub fn problem(&self) -> Problem {
        let status = self.0.http_status();
        let (field, detail) = match &self.0 {
            AppError::Input { field, reason } => (Some(field.clone()), reason.clone()),
            AppError::Conflict { field, reason } => (Some((*field).to_owned()), reason.clone()),
            AppError::NotFound { what, id } => (
                Some((*what).to_owned()),
                format!("{what} {id:?} does not exist"),
            ),
            // The cause stays in the server's log: it may name files, hosts or SQL.
            AppError::Internal { .. } => (None, "internal error: see the server's log".into()),
            other => (None, other.to_string()),
        };
        Problem {
            kind: "about:blank".into(),
            title: StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Error")
                .into(),
            status,
            detail,
            field,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let AppError::Internal { .. } = &self.0 {
            tracing::error!(error = %self.0, "request failed");
        }
        let problem = self.problem();
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match &self.0 {
            // RFC 9110 §11.6.1: a 401 names the scheme to use.
            AppError::Unauthorized(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"tracemark\""),
                );
            }
            AppError::RateLimited { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            _ => {}
        }
        response
    }
}

/// A JSON request body; a malformed one is a 400 naming the member
/// (`serde_path_to_error`), a body that is not JSON a 415.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                let v = v.trim();
                v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
            });
        if !is_json {
            return Err(ApiError(AppError::input(
                "content-type",
                "the body must be application/json",
            )));
        }
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|e| ApiError(AppError::input("body", e.body_text())))?;
        let mut deserializer = serde_json::Deserializer::from_slice(&body);
        serde_path_to_error::deserialize(&mut deserializer)
            .map(ApiJson)
            .map_err(|error| {
                let path = error.path().to_string();
                let field = if path == "." { "body".to_owned() } else { path };
                ApiError(AppError::input(field, error.into_inner()))
            })
    }
}
