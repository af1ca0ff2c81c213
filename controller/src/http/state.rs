//! What every request handler shares.

use std::sync::Arc;

use tracemark_store::Store;

use super::access::AccessTable;
use crate::app::users::LoginLimiter;

/// The server's shared state.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// The store.
    pub store: Store,
    /// Failed logins, per user name and client.
    pub limiter: Arc<LoginLimiter>,
    /// Each route's access (from the OpenAPI document).
    pub access: Arc<AccessTable>,
    /// Served over TLS: cookies are `Secure`.
    pub tls: bool,
}
