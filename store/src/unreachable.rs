//! Whether a store error means the central store could not be reached (issue 18): what a line
//! rides through on the codes it holds, as opposed to a refusal it must act on.

use crate::StoreError;

/// SQLSTATEs that say the server went away or cannot serve writes now (PostgreSQL manual,
/// appendix A): class 08 is "connection exception"; 57P01–57P03 are an administrator's
/// shutdown, a crash shutdown and a server not yet accepting connections; 25006 is a write on
/// a read-only server (a standby that is not promoted yet, during a failover); 25P03 is a
/// session the server ended because the controller sat too long inside a transaction
/// (`idle_in_transaction_session_timeout`, set by the store: `sql::IDLE_IN_TRANSACTION`) — a
/// controller that was frozen, its transaction rolled back.
fn unreachable_sqlstate(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "25006" | "25P03")
}

fn unreachable_sqlx(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // A connection cut mid-message reads as a protocol error.
        sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| unreachable_sqlstate(&code)),
        _ => false,
    }
}

impl StoreError {
    /// Whether the store could not be reached (connection refused, lost or timed out, server
    /// shutting down or read-only): nothing was written, and the same operation may succeed
    /// when the store answers again. Refusals, invalid input and corrupt content are not.
    pub fn is_unreachable(&self) -> bool {
        match self {
            StoreError::Database { source, .. } => unreachable_sqlx(source),
            StoreError::GroupFailed { source, .. } => source.is_unreachable(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(source: sqlx::Error) -> StoreError {
        StoreError::Database {
            context: "test".into(),
            source,
        }
    }

    #[test]
    fn connection_errors_are_unreachable_and_refusals_are_not() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(db(sqlx::Error::Io(refused)).is_unreachable());
        assert!(db(sqlx::Error::PoolTimedOut).is_unreachable());
        let grouped = StoreError::GroupFailed {
            changes: 3,
            source: std::sync::Arc::new(db(sqlx::Error::PoolTimedOut)),
        };
        assert!(grouped.is_unreachable());
        assert!(!db(sqlx::Error::RowNotFound).is_unreachable());
        assert!(!StoreError::invalid("count", "too large").is_unreachable());
        assert!(!StoreError::corrupt("x").is_unreachable());
        for code in ["08006", "08001", "57P01", "57P03", "25006", "25P03"] {
            assert!(unreachable_sqlstate(code), "{code}");
        }
        for code in ["23505", "40001", "42P01"] {
            assert!(!unreachable_sqlstate(code), "{code}");
        }
    }
}
