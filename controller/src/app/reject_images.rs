//! The camera's image of a rejected unit (SPEC §1 8.2; docs/verification.md "Reject images"):
//! the line stores it as a file (`verify::images`); QA looks at it here, checked against the
//! size and SHA-256 recorded with it, so a file changed or swapped since is never shown as the
//! evidence.

use sha2::{Digest, Sha256};
use tracemark_store::Store;
use tracemark_store::reject_image::RejectImage;

use super::AppError;

/// The stored image of rejected code `code`, and its PNG bytes. `NotFound` (`reject image`)
/// when none was stored; `Internal` when its file is missing or no longer what was stored.
pub async fn image(store: &Store, code: &str) -> Result<(RejectImage, Vec<u8>), AppError> {
    let not_found = || AppError::NotFound {
        what: "reject image",
        id: code.to_owned(),
    };
    let image = store.reject_image(code).await?.ok_or_else(not_found)?;
    let bytes = tokio::fs::read(&image.path)
        .await
        .map_err(|e| AppError::internal(format!("read the reject image {}", image.path), e))?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    if bytes.len() as i64 != image.size || sha256 != image.sha256 {
        return Err(AppError::internal(
            format!("check the reject image {}", image.path),
            format!(
                "the file changed since it was stored ({} bytes, sha256 {sha256}; stored {} \
                 bytes, {})",
                bytes.len(),
                image.size,
                image.sha256
            ),
        ));
    }
    Ok((image, bytes))
}

/// Which of `codes` have an image stored (for a page of rejects).
pub async fn with_images(
    store: &Store,
    codes: &[String],
) -> Result<std::collections::HashSet<String>, AppError> {
    Ok(store.codes_with_reject_images(codes).await?)
}
