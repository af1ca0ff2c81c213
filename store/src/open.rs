//! Opening a store: SQLite or PostgreSQL (one host, or several with failover: `sql::hosts`),
//! optionally behind an injected outage (`fault`).

use std::str::FromStr;
use std::sync::Arc;

use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use crate::fault::{AbortOnDrop, Outage, start_proxy};
use crate::sql::hosts::Hosts;
use crate::{Actor, Store, StoreError, locate, migrate, sql};

/// An injected outage and the proxies that carry it out (PostgreSQL): kept by the store.
#[derive(Debug)]
pub(crate) struct Injected {
    outage: Outage,
    _proxies: Vec<AbortOnDrop>,
}

/// The URL without a password, for messages.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Store {
    /// Opens (creating an SQLite file if missing) and migrates the database at `url`.
    ///
    /// A PostgreSQL URL may name several hosts, the primary first
    /// (`postgres://user@h1:5432,h2:5433/db`): the store opens on the first that answers and is
    /// not in recovery, and follows a failover to a promoted standby (docs/plant.md).
    ///
    /// A file that is not an SQLite database, or a database with foreign tables and no
    /// tracemark migration history, is refused without being changed.
    pub async fn open(url: &str, actor: Actor) -> Result<Store, StoreError> {
        Store::open_inner(url, actor, None).await
    }

    /// Opens the store at `url` as [`Store::open`] does, made unreachable whenever `outage`
    /// is on (`--store-fault`; see [`crate::fault`]). Needs a tokio runtime with I/O enabled.
    pub async fn open_with_outage(
        url: &str,
        actor: Actor,
        outage: Outage,
    ) -> Result<Store, StoreError> {
        Store::open_inner(url, actor, Some(outage)).await
    }

    async fn open_inner(
        url: &str,
        actor: Actor,
        outage: Option<Outage>,
    ) -> Result<Store, StoreError> {
        let shown = redact(url);
        let open_err = |reason: String| StoreError::Open {
            url: shown.clone(),
            reason,
        };
        let mut proxies = Vec::new();
        let db = if url.starts_with("sqlite:") {
            let base = SqliteConnectOptions::from_str(url).map_err(|e| open_err(e.to_string()))?;
            if base.get_filename().exists() {
                // Probe with a plain native connection first: the pool's WAL pragma would
                // rewrite the header of a file that turns out not to be ours.
                let mut probe = SqliteConnection::connect_with(&base)
                    .await
                    .map_err(|e| open_err(e.to_string()))?;
                migrate::check_sqlite(&mut probe).await.map_err(open_err)?;
                probe.close().await.map_err(|e| open_err(e.to_string()))?;
            }
            sql::open_sqlite(base, outage.clone())
                .await
                .map_err(|e| open_err(e.to_string()))?
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let mut hosts = Hosts::parse(url).map_err(&open_err)?;
            if let Some(outage) = &outage {
                // Every host behind a proxy of its own; the store connects to the proxies.
                let mut proxied = Vec::with_capacity(hosts.hosts().len());
                for i in 0..hosts.hosts().len() {
                    let target = hosts.address(i).map_err(&open_err)?;
                    let (addr, proxy) = start_proxy(target, outage)
                        .await
                        .map_err(|e| open_err(format!("start the fault proxy: {e}")))?;
                    proxied.push(addr.to_string());
                    proxies.push(proxy);
                }
                hosts = hosts.with_hosts(proxied);
            }
            sql::open_postgres(&hosts).await.map_err(open_err)?
        } else {
            return Err(StoreError::invalid(
                "db",
                format!("{shown}: the URL must start with sqlite: or postgres:"),
            ));
        };
        let store = Store {
            db,
            actor,
            url: shown.clone(),
            locator: locate::CodeLocator::default(),
            fault: outage.map(|outage| {
                Arc::new(Injected {
                    outage,
                    _proxies: proxies,
                })
            }),
        };
        migrate::run(&store).await.map_err(open_err)?;
        Ok(store)
    }

    /// The injected outage's switch, when the store was opened with one.
    pub fn outage(&self) -> Option<&Outage> {
        self.fault.as_ref().map(|injected| &injected.outage)
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact("postgres://tm:secret@h1:5432,h2:5433/db"),
            "postgres://tm:***@h1:5432,h2:5433/db"
        );
        assert_eq!(redact("postgres://tm@h1/db"), "postgres://tm@h1/db");
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }
}
