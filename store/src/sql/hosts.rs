//! PostgreSQL with several hosts (issue 18 item 4, SPEC §7): a URL may name them libpq style,
//! `postgres://user@h1:5432,h2:5433/db`, the primary first. The store opens on the first host
//! that answers and is not in recovery, and a watcher follows a failover: when the current
//! host stops answering as a primary, it looks for the new one among the hosts, in order, and
//! points the pool's new connections there (`Pool::set_connect_options`).
//!
//! A standby is never written to: a host is taken only when `pg_is_in_recovery()` says false,
//! and every new connection of a multi-host pool checks it again (`after_connect`), so a
//! connection to a standby that is not yet promoted is closed before anything runs on it. A
//! standby refuses writes itself as well (SQLSTATE 25006). The watcher never moves back while
//! the current host answers as a primary, so an old primary restarted by mistake beside the
//! promoted standby is not written to; it must be rebuilt as a standby (docs/plant.md).

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, AnyPool, Connection};

use crate::fault::AbortOnDrop;

/// How often the watcher asks the current host whether it is still the primary. A failover
/// takes the operator or the cluster manager seconds; one second adds little to it and costs
/// one small query a second on a connection kept open for it.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// How long a host may take to answer a probe (connect and query) before it counts as lost:
/// a host behind a broken network does not refuse, it stays silent.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The PostgreSQL default port, used where a host names none (as libpq does).
const DEFAULT_PORT: u16 = 5432;

/// A PostgreSQL URL split into its hosts: the same URL once per host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hosts {
    /// `scheme://userinfo@`, with the `@` (empty userinfo: just `scheme://`).
    head: String,
    /// Each host as the URL names it, in order: `host:port` when there are several (IPv6 in
    /// brackets), else the one host's text unchanged (it may be empty: a Unix socket named by
    /// the query).
    hosts: Vec<String>,
    /// The rest: `/db?params`.
    tail: String,
}

impl Hosts {
    /// Splits `url` (`postgres://` or `postgresql://`). Errors say what is wrong, never the
    /// password.
    pub(crate) fn parse(url: &str) -> Result<Hosts, String> {
        let scheme_end = url
            .find("://")
            .ok_or_else(|| "expected postgres://USER@HOST:PORT,.../DB".to_owned())?
            + 3;
        let rest = &url[scheme_end..];
        // The authority ends at the path or query; userinfo is up to its last '@'.
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        let (userinfo_len, host_list) = match authority.rfind('@') {
            Some(at) => (at + 1, &authority[at + 1..]),
            None => (0, authority),
        };
        let hosts = if host_list.contains(',') {
            host_list
                .split(',')
                .map(host_port)
                .collect::<Result<Vec<_>, _>>()?
        } else {
            vec![host_list.to_owned()]
        };
        Ok(Hosts {
            head: url[..scheme_end + userinfo_len].to_owned(),
            hosts,
            tail: rest[authority_end..].to_owned(),
        })
    }

    /// The hosts, in order.
    pub(crate) fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// `host:port` of host `i` (the port PostgreSQL's default when the URL names none): where
    /// a fault proxy forwards to.
    pub(crate) fn address(&self, i: usize) -> Result<String, String> {
        host_port(&self.hosts[i])
            .map_err(|e| format!("{e} (a fault proxy needs a TCP host, not a Unix socket)"))
    }

    /// The URL for host `i` alone.
    pub(crate) fn url(&self, i: usize) -> String {
        format!("{}{}{}", self.head, self.hosts[i], self.tail)
    }

    /// The same URL with the server setting `key` = `value` for its sessions
    /// (`options[key]=value`), unless the URL sets `key` already.
    pub(crate) fn with_session_default(&self, key: &str, value: &str) -> Hosts {
        let (before_fragment, fragment) = match self.tail.find('#') {
            Some(at) => self.tail.split_at(at),
            None => (self.tail.as_str(), ""),
        };
        let query = before_fragment
            .split_once('?')
            .map_or("", |(_, query)| query);
        if query.contains(key) {
            return self.clone();
        }
        let separator = if before_fragment.contains('?') {
            '&'
        } else {
            '?'
        };
        Hosts {
            tail: format!("{before_fragment}{separator}options[{key}]={value}{fragment}"),
            ..self.clone()
        }
    }

    /// The same URL with other hosts (the fault proxies' addresses).
    pub(crate) fn with_hosts(&self, hosts: Vec<String>) -> Hosts {
        Hosts {
            hosts,
            ..self.clone()
        }
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port` → `host:port`.
pub(crate) fn host_port(text: &str) -> Result<String, String> {
    let (host, port) = if let Some(v6) = text.strip_prefix('[') {
        let close = v6
            .find(']')
            .ok_or_else(|| format!("host {text:?}: no ']' after the IPv6 address"))?;
        let port = v6[close + 1..].strip_prefix(':');
        (&text[..close + 2], port)
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    if host.is_empty() {
        return Err(format!("host list: an empty host in {text:?}"));
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("host {text:?}: {port:?} is not a port"))?,
    };
    Ok(format!("{host}:{port}"))
}

/// What a host said when asked whether it is a primary.
#[derive(Debug)]
enum Role {
    Primary(AnyConnection),
    Standby,
    Unreachable(String),
}

/// Connects to `url` and asks `pg_is_in_recovery()`, within [`PROBE_TIMEOUT`].
async fn probe(url: &str) -> Role {
    let asked = tokio::time::timeout(PROBE_TIMEOUT, async {
        let mut conn = AnyConnection::connect(url).await?;
        let in_recovery = in_recovery(&mut conn).await?;
        Ok::<_, sqlx::Error>((conn, in_recovery))
    })
    .await;
    match asked {
        Ok(Ok((conn, false))) => Role::Primary(conn),
        Ok(Ok((conn, true))) => {
            let _ = conn.close().await;
            Role::Standby
        }
        Ok(Err(error)) => Role::Unreachable(error.to_string()),
        Err(_) => Role::Unreachable(format!("no answer within {PROBE_TIMEOUT:?}")),
    }
}

async fn in_recovery(conn: &mut AnyConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(conn)
        .await
}

/// The first host, in order, that answers and is not in recovery, with a connection to it
/// (the watcher keeps it); else what each host said.
async fn find_primary(hosts: &Hosts) -> Result<(usize, AnyConnection), String> {
    let mut said = Vec::with_capacity(hosts.hosts.len());
    for (i, host) in hosts.hosts.iter().enumerate() {
        match probe(&hosts.url(i)).await {
            Role::Primary(conn) => return Ok((i, conn)),
            Role::Standby => said.push(format!("{host}: in recovery (a standby)")),
            Role::Unreachable(why) => said.push(format!("{host}: {why}")),
        }
    }
    Err(format!(
        "no host is a reachable primary: {}",
        said.join("; ")
    ))
}

/// Opens a pool on the primary among `hosts` and, when there are several, the watcher that
/// follows a failover (kept alive by the returned guard).
pub(crate) async fn open_pool(
    hosts: &Hosts,
    pool_options: sqlx::any::AnyPoolOptions,
) -> Result<(AnyPool, Option<AbortOnDrop>), String> {
    if hosts.hosts.len() == 1 {
        // One host: connect as before (a standby may be opened to read, e.g. for a backup).
        let options = AnyConnectOptions::from_str(&hosts.url(0)).map_err(|e| e.to_string())?;
        let pool = pool_options
            .connect_with(options)
            .await
            .map_err(|e| e.to_string())?;
        return Ok((pool, None));
    }
    let (current, monitor) = find_primary(hosts).await?;
    let options = AnyConnectOptions::from_str(&hosts.url(current)).map_err(|e| e.to_string())?;
    let pool = pool_options
        .after_connect(|conn, _| {
            Box::pin(async move {
                // Never hand out a connection to a standby (module header). The pool retries
                // until its acquire timeout, by when the watcher may have found the primary.
                if in_recovery(conn).await? {
                    return Err(sqlx::Error::Protocol(
                        "the host is in recovery (a standby): not written to".to_owned(),
                    ));
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .map_err(|e| e.to_string())?;
    let task = tokio::spawn(watch(pool.clone(), hosts.clone(), current, monitor));
    Ok((pool, Some(AbortOnDrop(task))))
}

/// Asks the current host every [`PROBE_INTERVAL`] whether it is still the primary (on a
/// connection of its own); when it is not, or does not answer, finds the primary among the
/// hosts and sends the pool's new connections there. Old connections to a lost host fail
/// their ping and are replaced (`test_before_acquire`).
async fn watch(pool: AnyPool, hosts: Hosts, mut current: usize, monitor: AnyConnection) {
    let mut monitor = Some(monitor);
    let mut tick = tokio::time::interval(PROBE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Some(conn) = monitor.as_mut() {
            let answer = tokio::time::timeout(PROBE_TIMEOUT, in_recovery(conn)).await;
            if matches!(answer, Ok(Ok(false))) {
                continue;
            }
            monitor = None;
        }
        tracing::warn!(host = %hosts.hosts[current], "PostgreSQL primary lost; looking for the primary");
        match find_primary(&hosts).await {
            Ok((found, conn)) => {
                match AnyConnectOptions::from_str(&hosts.url(found)) {
                    Ok(options) => pool.set_connect_options(options),
                    Err(error) => {
                        tracing::error!(%error, "cannot use the new primary's URL");
                        continue;
                    }
                }
                if found != current {
                    tracing::warn!(
                        from = %hosts.hosts[current],
                        to = %hosts.hosts[found],
                        "PostgreSQL failover: the store continues on the new primary"
                    );
                }
                current = found;
                monitor = Some(conn);
            }
            Err(why) => tracing::warn!(%why, "no PostgreSQL primary yet"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_default_is_added_unless_the_url_sets_it() {
        let key = "idle_in_transaction_session_timeout";
        let with = |url: &str| {
            Hosts::parse(url)
                .expect("parse")
                .with_session_default(key, "10s")
                .url(0)
        };
        assert_eq!(
            with("postgres://tm@h1:5432/db"),
            "postgres://tm@h1:5432/db?options[idle_in_transaction_session_timeout]=10s"
        );
        assert_eq!(
            with("postgres://tm@h1/db?sslmode=disable"),
            "postgres://tm@h1/db?sslmode=disable&options[idle_in_transaction_session_timeout]=10s"
        );
        let set = "postgres://tm@h1/db?options[idle_in_transaction_session_timeout]=2s";
        assert_eq!(with(set), set);
        let set = "postgres://tm@h1/db?options=-c%20idle_in_transaction_session_timeout%3D0";
        assert_eq!(with(set), set);
        let hosts = Hosts::parse("postgres://tm@h1:5432,h2:5433/db")
            .expect("parse")
            .with_session_default(key, "10s");
        assert_eq!(
            hosts.url(1),
            "postgres://tm@h2:5433/db?options[idle_in_transaction_session_timeout]=10s"
        );
    }

    #[test]
    fn splits_a_multi_host_url() {
        let hosts = Hosts::parse("postgres://tm:s3cr@t@h1:5432,h2:5433,[::1]/db?sslmode=disable")
            .expect("parse");
        assert_eq!(hosts.hosts(), ["h1:5432", "h2:5433", "[::1]:5432"]);
        assert_eq!(
            hosts.url(1),
            "postgres://tm:s3cr@t@h2:5433/db?sslmode=disable"
        );
        let proxied = hosts.with_hosts(vec!["127.0.0.1:1".into()]);
        assert_eq!(
            proxied.url(0),
            "postgres://tm:s3cr@t@127.0.0.1:1/db?sslmode=disable"
        );
    }

    #[test]
    fn a_single_host_url_is_kept() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/test",
            "postgresql://u:p@db.plant:6432/tm?options[search_path]=s",
            "postgres://[::1]:5433/tm",
            "postgres://u@db/tm",
            "postgres:///tm?host=/var/run/postgresql",
        ] {
            let hosts = Hosts::parse(url).expect(url);
            assert_eq!(hosts.hosts().len(), 1);
            assert_eq!(hosts.url(0), url);
        }
        let bare = Hosts::parse("postgres://u@db/tm").expect("parse");
        assert_eq!(bare.address(0), Ok("db:5432".to_owned()));
        let socket = Hosts::parse("postgres:///tm?host=/run/pg").expect("parse");
        assert!(socket.address(0).is_err());
    }

    #[test]
    fn bad_host_lists_are_refused() {
        for (url, expected) in [
            ("postgres://u@h1:5432,,h2/db", "an empty host"),
            ("postgres://u@h1:x,h2/db", "\"x\" is not a port"),
            ("postgres://u@h1,h2:0/db", "\"0\" is not a port"),
            ("postgres://u@[::1,h2/db", "no ']'"),
            ("h1:5432", "expected postgres://"),
        ] {
            let error = Hosts::parse(url).expect_err(url);
            assert!(error.contains(expected), "{url}: {error}");
        }
    }
}
