//! Fault injection for tests and the demo (issue 18 item 5): `--store-fault outage:AT:DURATION`
//! makes the central store unreachable from `AT` after the store is opened, for `DURATION`.
//!
//! The store owns the injection (not the controller) because only the store knows how it
//! connects, and the two databases need two mechanisms behind one switch, [`Outage`]:
//!
//! - **PostgreSQL**: a TCP proxy per host of the URL ([`start_proxy`]), bound to port 0 on the
//!   loopback, forwards bytes both ways to the real server; the store connects through it (the
//!   URL's `host:port` is rewritten). When the outage begins it drops every open connection, and
//!   while it lasts it closes every new connection as soon as it is accepted, before a byte
//!   passes. The server sees its clients vanish and rolls their open transactions back, exactly
//!   as after a network cut or a database restart. (Closing the listening socket instead would
//!   give `ECONNREFUSED`, which sqlx's pool retries silently until its acquire timeout, 30 s:
//!   an outage would look like a stall, not a failure. A reset or end of stream during the
//!   start-up handshake is returned at once.)
//! - **SQLite**: there is no connection to cut. The pool itself refuses (`sql::Pool`): during
//!   the outage every statement, acquire and transaction begun on the pool fails at once with an
//!   I/O error of kind `ConnectionRefused`; transactions begun before it finish. sqlx's own
//!   hooks (`before_acquire`, `after_connect`) cannot do this: the pool treats their errors as a
//!   bad connection and retries until the acquire timeout (sqlx-core 0.8.6 `pool/inner.rs`).
//!
//! Either way the store's error says the store is unreachable
//! ([`crate::StoreError::is_unreachable`]), and nothing is half-written: every writing
//! operation is one transaction.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// One injected fault: the store is unreachable from `at` after it is opened, for `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreFault {
    /// When the outage begins, from the moment the store is opened.
    pub at: Duration,
    /// How long it lasts (more than zero).
    pub duration: Duration,
}

/// A `--store-fault` value that is not `outage:AT:DURATION`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?}: {reason}")]
pub struct FaultParseError {
    text: String,
    reason: String,
}

/// The form a fault is written in, for messages.
const FORM: &str = "expected outage:AT:DURATION, e.g. outage:25s:15s";

impl FromStr for StoreFault {
    type Err = FaultParseError;

    /// `outage:AT:DURATION`; `AT` and `DURATION` are a whole number with a unit, `ms`, `s` or
    /// `m` (`500ms`, `25s`, `2m`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |reason: String| FaultParseError {
            text: text.to_owned(),
            reason,
        };
        let mut parts = text.split(':');
        let (Some(kind), Some(at), Some(duration), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(fail(FORM.to_owned()));
        };
        if kind != "outage" {
            return Err(fail(format!(
                "unknown fault {kind:?} (the only fault is outage; {FORM})"
            )));
        }
        let at = parse_duration(at).map_err(|e| fail(format!("AT: {e}")))?;
        let duration = parse_duration(duration).map_err(|e| fail(format!("DURATION: {e}")))?;
        if duration.is_zero() {
            return Err(fail("DURATION: must be more than 0".to_owned()));
        }
        Ok(StoreFault { at, duration })
    }
}

impl fmt::Display for StoreFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "outage:{}ms:{}ms",
            self.at.as_millis(),
            self.duration.as_millis()
        )
    }
}

/// `500ms`, `25s`, `2m`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let bad = || format!("{text:?} is not a duration (a whole number and ms, s or m, e.g. 25s)");
    let number: u64 = number.parse().map_err(|_| bad())?;
    match unit {
        "ms" => Ok(Duration::from_millis(number)),
        "s" => Ok(Duration::from_secs(number)),
        "m" => number
            .checked_mul(60)
            .map(Duration::from_secs)
            .ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// The outage windows of `faults`, as `(begin, end)` offsets, sorted, overlapping or touching
/// windows merged: the switch turns once per real outage.
pub fn windows(faults: &[StoreFault]) -> Vec<(Duration, Duration)> {
    let mut spans: Vec<(Duration, Duration)> = faults
        .iter()
        .map(|f| (f.at, f.at.saturating_add(f.duration)))
        .collect();
    spans.sort();
    let mut merged: Vec<(Duration, Duration)> = Vec::with_capacity(spans.len());
    for (begin, end) in spans {
        match merged.last_mut() {
            Some(last) if begin <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((begin, end)),
        }
    }
    merged
}

/// The switch every injection mechanism watches: `true` while the store is unreachable.
/// Cheap to clone; clones share the switch. [`Outage::manual`] is turned by its holder (tests),
/// [`Outage::scheduled`] by a task following `--store-fault` windows.
#[derive(Debug, Clone)]
pub struct Outage {
    state: Arc<watch::Sender<bool>>,
    /// Aborts the schedule task when the last clone goes.
    _schedule: Option<Arc<AbortOnDrop>>,
}

impl Outage {
    /// A switch turned by [`Outage::begin`] and [`Outage::end`] only.
    pub fn manual() -> Outage {
        Outage {
            state: Arc::new(watch::Sender::new(false)),
            _schedule: None,
        }
    }

    /// A switch turned on and off at the windows of `faults`, counted from now. Needs a tokio
    /// runtime (it spawns the schedule's task).
    pub fn scheduled(faults: &[StoreFault]) -> Outage {
        let state = Arc::new(watch::Sender::new(false));
        let start = Instant::now();
        let windows = windows(faults);
        let switch = Arc::clone(&state);
        let task = tokio::spawn(async move {
            for (begin, end) in windows {
                tokio::time::sleep_until(start + begin).await;
                tracing::warn!(window = ?(begin, end), "store fault: outage begins");
                switch.send_replace(true);
                tokio::time::sleep_until(start + end).await;
                tracing::warn!("store fault: outage ends");
                switch.send_replace(false);
            }
        });
        Outage {
            state,
            _schedule: Some(Arc::new(AbortOnDrop(task))),
        }
    }

    /// Makes the store unreachable.
    pub fn begin(&self) {
        self.state.send_replace(true);
    }

    /// Makes the store reachable again.
    pub fn end(&self) {
        self.state.send_replace(false);
    }

    /// Whether the store is unreachable now.
    pub fn is_down(&self) -> bool {
        *self.state.borrow()
    }

    /// Follows the switch (a test waits on it instead of sleeping).
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.state.subscribe()
    }

    /// The error a refused connection or statement gets.
    pub(crate) fn refused() -> io::Error {
        io::Error::new(
            io::ErrorKind::ConnectionRefused,
            "store unreachable (injected outage, --store-fault)",
        )
    }
}

/// Aborts a task when dropped: the proxy and the schedule live exactly as long as the store.
#[derive(Debug)]
pub(crate) struct AbortOnDrop(pub(crate) JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts a proxy to `target` on an ephemeral loopback port; returns its address and its task
/// (aborted with the handle). See the module header for what it does in an outage.
pub(crate) async fn start_proxy(
    target: String,
    outage: &Outage,
) -> io::Result<(SocketAddr, AbortOnDrop)> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let outage = outage.subscribe();
    let task = tokio::spawn(async move {
        loop {
            let (client, _) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: pause so it does not spin.
                    tracing::warn!(%error, "store fault proxy: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            if *outage.borrow() {
                // Refused: closed before a byte passes.
                drop(client);
                continue;
            }
            tokio::spawn(forward(client, target.clone(), outage.clone()));
        }
    });
    Ok((addr, AbortOnDrop(task)))
}

/// Copies bytes both ways between `client` and `target` until either closes or an outage
/// begins; then both sockets are dropped.
async fn forward(mut client: TcpStream, target: String, mut outage: watch::Receiver<bool>) {
    let mut server = match TcpStream::connect(&target).await {
        Ok(server) => server,
        Err(error) => {
            tracing::debug!(%error, %target, "store fault proxy: cannot reach the server");
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = outage.wait_for(|down| *down) => {}
    }
    // Both sockets are dropped here: the client reads the end of the stream (sqlx: an I/O
    // error), the server sees its client gone and rolls its transaction back.
    let _ = client.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(at: u64, duration: u64) -> StoreFault {
        StoreFault {
            at: Duration::from_secs(at),
            duration: Duration::from_secs(duration),
        }
    }

    #[test]
    fn parses_outages() {
        assert_eq!("outage:25s:15s".parse(), Ok(fault(25, 15)));
        assert_eq!(
            "outage:500ms:2m".parse(),
            Ok(StoreFault {
                at: Duration::from_millis(500),
                duration: Duration::from_secs(120),
            })
        );
        assert_eq!("outage:0s:1s".parse(), Ok(fault(0, 1)));
        let shown = fault(25, 15).to_string();
        assert_eq!(shown, "outage:25000ms:15000ms");
        assert_eq!(shown.parse(), Ok(fault(25, 15)));
    }

    #[test]
    fn refuses_bad_values_saying_what_and_where() {
        let cases = [
            ("outage:25s", "\"outage:25s\": expected outage:AT:DURATION"),
            ("outage:1s:2s:3s", "expected outage:AT:DURATION"),
            ("", "expected outage:AT:DURATION"),
            ("crash:1s:2s", "unknown fault \"crash\""),
            ("outage:x:15s", "AT: \"x\" is not a duration"),
            ("outage:25:15s", "AT: \"25\" is not a duration"),
            ("outage:25s:15h", "DURATION: \"15h\" is not a duration"),
            ("outage:-1s:15s", "AT: \"-1s\" is not a duration"),
            ("outage:1.5s:15s", "AT: \"1.5s\" is not a duration"),
            ("outage:25s:0s", "DURATION: must be more than 0"),
            (
                "outage:99999999999999999999s:1s",
                "AT: \"99999999999999999999s\"",
            ),
        ];
        for (text, expected) in cases {
            let error = text.parse::<StoreFault>().expect_err(text).to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn windows_are_sorted_and_merged() {
        let s = Duration::from_secs;
        assert_eq!(
            windows(&[fault(30, 5), fault(10, 5), fault(12, 10), fault(22, 1)]),
            [(s(10), s(23)), (s(30), s(35))]
        );
        assert!(windows(&[]).is_empty());
    }

    /// The schedule turns the switch at the windows' edges (paused time: no waiting).
    #[tokio::test(start_paused = true)]
    async fn the_schedule_turns_the_switch_at_the_edges() {
        let start = Instant::now();
        let outage = Outage::scheduled(&[fault(25, 15), fault(60, 1)]);
        let mut changes = outage.subscribe();
        let mut seen = Vec::new();
        for _ in 0..4 {
            changes.changed().await.expect("the schedule runs");
            seen.push((start.elapsed().as_secs(), *changes.borrow_and_update()));
        }
        assert_eq!(seen, [(25, true), (40, false), (60, true), (61, false)]);
        assert!(!outage.is_down());
    }

    /// The proxy forwards, drops open connections when the outage begins, closes new ones
    /// while it lasts, and forwards again after it.
    #[tokio::test]
    async fn the_proxy_cuts_and_refuses_during_an_outage() {
        use tokio::io::AsyncReadExt;

        // An echo server stands in for PostgreSQL.
        let server = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let target = server.local_addr().expect("addr").to_string();
        let echo = tokio::spawn(async move {
            loop {
                let Ok((mut conn, _)) = server.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let (mut read, mut write) = conn.split();
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                });
            }
        });
        let outage = Outage::manual();
        let (addr, _proxy) = start_proxy(target, &outage).await.expect("proxy");
        let roundtrip = |mut conn: TcpStream| async move {
            conn.write_all(b"ping").await?;
            let mut answer = [0u8; 4];
            conn.read_exact(&mut answer).await?;
            assert_eq!(&answer, b"ping");
            Ok::<_, io::Error>(conn)
        };

        let mut open = roundtrip(TcpStream::connect(addr).await.expect("connect"))
            .await
            .expect("forwarded");
        outage.begin();
        // The open connection is cut: its next read ends (end of stream or reset).
        let mut byte = [0u8; 1];
        let cut = open.read(&mut byte).await;
        assert!(matches!(cut, Ok(0) | Err(_)), "{cut:?}");
        // A new one is closed before a byte passes.
        let refused = roundtrip(TcpStream::connect(addr).await.expect("accepted")).await;
        assert!(refused.is_err(), "forwarded during the outage");

        outage.end();
        roundtrip(TcpStream::connect(addr).await.expect("connect"))
            .await
            .expect("forwarded again");
        echo.abort();
    }

    #[tokio::test]
    async fn a_manual_switch_turns_when_told() {
        let outage = Outage::manual();
        assert!(!outage.is_down());
        outage.begin();
        assert!(outage.is_down());
        outage.clone().end();
        assert!(!outage.is_down());
        assert_eq!(Outage::refused().kind(), io::ErrorKind::ConnectionRefused);
    }
}
