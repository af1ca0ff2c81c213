//! The store's SQL, one module per aggregate, each statement written once for both databases.
//!
//! Statements run through sqlx's `Any` driver: the schema holds only 64-bit integers and text,
//! which `Any` carries unchanged, and both SQLite and PostgreSQL accept `$1` parameters. The
//! few places where the dialects differ (expanding a JSON array into a set) ask [`Dialect`] at
//! run time. Columns are read by name, so a statement's column order is free to change.

pub(crate) mod allocation;
pub(crate) mod audit;
pub(crate) mod batches;
pub(crate) mod codes;
pub(crate) mod dispatch;
pub(crate) mod export;
pub(crate) mod hosts;
pub(crate) mod journal;
pub(crate) mod labels;
pub(crate) mod links;
pub(crate) mod loose;
pub(crate) mod packages;
mod pool;
pub(crate) mod products;
pub(crate) mod purge;
pub(crate) mod shipments;
pub(crate) mod upload;
pub(crate) mod users;

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Any, ConnectOptions, Executor, Row};

pub(crate) use self::pool::Pool;
use crate::StoreError;
use crate::fault::{AbortOnDrop, Outage};

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// A store's connection pool and its dialect.
#[derive(Debug, Clone)]
pub(crate) struct Db {
    pub(crate) pool: Pool,
    pub(crate) dialect: Dialect,
    /// The failover watcher of a multi-host PostgreSQL store (`hosts`), ended with the last
    /// clone.
    _failover: Option<Arc<AbortOnDrop>>,
}

/// Set on every SQLite connection (what `SqliteConnectOptions` would set; `Any` connects from
/// a URL, which cannot carry them). The busy timeout comes first so the others wait for locks.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 60000; \
    PRAGMA journal_mode = WAL; \
    PRAGMA synchronous = FULL; \
    PRAGMA foreign_keys = ON; \
    PRAGMA cache_size = -65536;";
// synchronous = FULL: durable when acknowledged, a committed code survives power loss, not
// only kill -9. cache_size: 64 MiB per connection keeps a line's pages hot (docs/performance.md).

/// Connects to the SQLite store described by `options` (creating the file if missing),
/// refusing while `outage` is on (`crate::fault`).
pub(crate) async fn open_sqlite(
    options: SqliteConnectOptions,
    outage: Option<Outage>,
) -> Result<Db, sqlx::Error> {
    sqlx::any::install_default_drivers();
    let url = options.create_if_missing(true).to_url_lossy();
    let pool = AnyPoolOptions::new()
        .max_connections(4)
        // A connection to a file in this process cannot go stale, and the check is a round
        // trip to the connection's worker thread before every statement outside a
        // transaction and every transaction (issue 20).
        .test_before_acquire(false)
        .after_connect(|conn, _| {
            Box::pin(async move { conn.execute(SQLITE_PRAGMAS).await.map(|_| ()) })
        })
        .connect_with(AnyConnectOptions::from_url(&url)?)
        .await?;
    Ok(Db {
        pool: Pool::new(pool, outage),
        dialect: Dialect::Sqlite,
        _failover: None,
    })
}

/// How long the server lets a store's session sit inside a transaction waiting for the
/// controller before it ends the session (and rolls the transaction back), unless the URL sets
/// it (`options[idle_in_transaction_session_timeout]=…`). Every writing transaction takes the
/// audit head's row lock first (`audit::begin`), and the store's transactions never wait on
/// anything but the network: a controller frozen inside one — stopped, its VM paused, its host
/// gone without closing its connections — would otherwise hold that lock, and with it every
/// other controller on the database, until TCP keepalive gives up (two hours by default).
/// Ten seconds is far beyond any transaction of the store, and bounds what one lost controller
/// costs the plant (docs/plant.md "Many controllers on one PostgreSQL").
const IDLE_IN_TRANSACTION: (&str, &str) = ("idle_in_transaction_session_timeout", "10s");

/// Connects to the PostgreSQL store at `hosts`: the primary among them, followed through a
/// failover when there are several (`hosts`). (An injected outage is the fault proxies' work:
/// the hosts are theirs then.)
pub(crate) async fn open_postgres(hosts: &hosts::Hosts) -> Result<Db, String> {
    sqlx::any::install_default_drivers();
    let hosts = hosts.with_session_default(IDLE_IN_TRANSACTION.0, IDLE_IN_TRANSACTION.1);
    let hosts = &hosts;
    let options = AnyPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(30));
    let (pool, failover) = hosts::open_pool(hosts, options).await?;
    Ok(Db {
        pool: Pool::new(pool, None),
        dialect: Dialect::Postgres,
        _failover: failover.map(Arc::new),
    })
}

/// A plain connection (no pool, no pragmas) to the database at `url`: for copying a whole
/// store between files and databases (`transfer`).
pub(crate) async fn connect(url: &str) -> Result<sqlx::AnyConnection, sqlx::Error> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(url).await
}

/// Column `name` of `row`; a failure names what was being read. (The context is built only on
/// failure: the hot path reads tens of thousands of rows per group.)
pub(crate) fn get<'r, T>(row: &'r AnyRow, name: &str, what: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    row.try_get(name).map_err(|source| StoreError::Database {
        context: what.to_owned(),
        source,
    })
}

impl Dialect {
    /// SQL testing `counter` against the integers of a JSON array bound at parameter `n`, in a
    /// form each planner answers with the primary key (PostgreSQL: `= ANY` of an array, which
    /// never turns into a hash join over the whole table).
    pub(crate) fn counter_in_json(self, n: u32) -> String {
        match self {
            Dialect::Postgres => {
                format!("counter = ANY(ARRAY(SELECT json_array_elements_text(${n}::json)::bigint))")
            }
            Dialect::Sqlite => format!("counter IN (SELECT value FROM json_each(${n}))"),
        }
    }

    /// SQL testing the text column `column` against the strings of a JSON array bound at
    /// parameter `n`.
    pub(crate) fn text_in_json(self, column: &str, n: u32) -> String {
        match self {
            Dialect::Postgres => {
                format!("{column} = ANY(ARRAY(SELECT json_array_elements_text(${n}::json)))")
            }
            Dialect::Sqlite => format!("{column} IN (SELECT value FROM json_each(${n}))"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Any` connects from a URL, so the settings come from `after_connect`: check that every
    /// pooled connection has them.
    #[tokio::test]
    async fn sqlite_connections_get_the_store_settings() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("s.db").display());
        let options = std::str::FromStr::from_str(&url).expect("options");
        let db = open_sqlite(options, None).await.expect("open");
        let mut conns = Vec::new();
        for _ in 0..2 {
            let mut conn = db.pool.acquire().await.expect("acquire");
            let mut settings = Vec::new();
            for pragma in [
                "journal_mode",
                "synchronous",
                "foreign_keys",
                "cache_size",
                "busy_timeout",
            ] {
                let row = sqlx::query(&format!("PRAGMA {pragma}"))
                    .fetch_one(&mut *conn)
                    .await
                    .expect("pragma");
                let value = match row.try_get::<String, _>(0) {
                    Ok(text) => text,
                    Err(_) => row.try_get::<i64, _>(0).expect("value").to_string(),
                };
                settings.push(value);
            }
            // synchronous 2 = FULL.
            assert_eq!(settings, ["wal", "2", "1", "-65536", "60000"]);
            conns.push(conn);
        }
        drop(conns);
        db.pool.close().await;
    }
}
