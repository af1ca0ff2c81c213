//! `/api/v1/qa/rejects/{code}/image`: the camera's image of a rejected unit, as the line stored
//! it (SPEC §1 8.2), through [`crate::app::reject_images`].

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::app::reject_images;
use crate::http::problem::{ApiError, Problem};
use crate::http::state::ApiState;

/// The PNG image the camera sent of the read a unit was rejected on, checked against the size
/// and SHA-256 stored with it (sent as the `ETag`).
#[utoipa::path(
    get,
    path = "/api/v1/qa/rejects/{code}/image",
    operation_id = "reject_image",
    tag = "qa",
    params(("code" = String, Path, description = "The rejected code (HRI), URL-encoded")),
    responses(
        (status = 200, description = "The image", content_type = "image/png", body = Vec<u8>),
        (status = 404, description = "No image stored for this code", body = Problem),
        (status = 500, description = "The file is missing or changed since", body = Problem),
    )
)]
pub async fn image(
    State(state): State<ApiState>,
    Path(code): Path<String>,
) -> Result<Response, ApiError> {
    let (stored, png) = reject_images::image(&state.store, &code).await?;
    let mut response = png.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", stored.sha256)) {
        headers.insert(header::ETAG, etag);
    }
    // Evidence does not change under a code: the browser may keep it.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    Ok(response)
}

/// The URL of the image of `code` (the HMI links it): the code percent-encoded as one path
/// segment (RFC 3986 §2.1: everything but the unreserved characters).
pub fn image_url(code: &str) -> String {
    let mut encoded = String::with_capacity(code.len() * 3);
    for byte in code.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("/api/v1/qa/rejects/{encoded}/image")
}

#[cfg(test)]
mod tests {
    #[test]
    fn image_urls_encode_the_code_as_one_segment() {
        assert_eq!(
            super::image_url("(01)09506000134352(21)AB/c d"),
            "/api/v1/qa/rejects/%2801%2909506000134352%2821%29AB%2Fc%20d/image"
        );
    }
}
