//! Failover to a promoted standby (issue 18 item 4), on this machine: the test makes its own
//! primary and a synchronous streaming standby (`initdb`, `pg_basebackup`, `pg_ctl`), writes
//! through a `Store` opened on a two-host URL, kills the primary, promotes the standby, and
//! shows the same `Store` continuing on the new primary with nothing committed lost and no
//! serial block allocated twice. The clusters are removed even when the test fails.
//!
//! Without the PostgreSQL server tools it prints `skipped: <why>` and passes, except when `CI`
//! is set. `TRACEMARK_PG_BIN` names their directory when it is not a usual one.

#[macro_use]
#[path = "../../controller/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use sqlx::Connection as _;

use common::*;
use tracemark_store::{Block, Store};

const GTIN: &str = "09506000134352";

/// Where the server tools are: `TRACEMARK_PG_BIN`, else a Debian-style versioned directory,
/// else the directory `PATH` finds `pg_basebackup` in.
fn pg_bin() -> Result<PathBuf, String> {
    let has_tools = |dir: &Path| {
        ["initdb", "pg_ctl", "pg_basebackup"]
            .iter()
            .all(|tool| dir.join(tool).is_file())
    };
    let mut candidates: Vec<PathBuf> = std::env::var_os("TRACEMARK_PG_BIN")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    for version in ["17", "16", "15", "14"] {
        candidates.push(PathBuf::from(format!("/usr/lib/postgresql/{version}/bin")));
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    candidates
        .into_iter()
        .find(|dir| has_tools(dir))
        .ok_or_else(|| "initdb, pg_ctl and pg_basebackup not found (set TRACEMARK_PG_BIN)".into())
}

/// A port free now (bound to port 0, then released for the server).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind port 0");
    listener.local_addr().expect("local address").port()
}

/// Two clusters in a temporary directory; dropped, it stops both and removes them.
struct Clusters {
    bin: PathBuf,
    dir: tempfile::TempDir,
    /// As root, the server runs as this user (it refuses to run as root).
    run_as: Option<&'static str>,
    ports: [u16; 2],
}

impl Clusters {
    fn data(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("node{i}"))
    }

    /// Runs a server tool, as the server's user when we are root; its output on failure.
    fn tool(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let program = self.bin.join(tool);
        let mut command = match self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(&program);
                command
            }
            None => Command::new(&program),
        };
        let out = command
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .map_err(|e| format!("{tool}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{tool} {args:?}: {}\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    fn pg_ctl(&self, i: usize, args: &[&str]) -> Result<(), String> {
        let data = self.data(i);
        let log = self.dir.path().join(format!("node{i}.log"));
        let mut all = vec!["-D", data.to_str().unwrap_or_default(), "-l"];
        all.push(log.to_str().unwrap_or_default());
        all.extend_from_slice(args);
        self.tool("pg_ctl", &all)
    }

    fn append_conf(&self, i: usize, lines: &str) -> Result<(), String> {
        use std::io::Write;
        let path = self.data(i).join("postgresql.conf");
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        file.write_all(lines.as_bytes())
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// A primary whose commits wait for the standby (synchronous_standby_names), and a
    /// standby streaming from it.
    fn start() -> Result<Clusters, String> {
        let bin = pg_bin()?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let root = std::fs::metadata("/proc/self")
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
            .unwrap_or(false);
        let run_as = root.then_some("postgres");
        if root {
            let owned = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !owned.success() {
                return Err("chown of the temporary directory to postgres failed".into());
            }
        }
        let clusters = Clusters {
            bin,
            dir,
            run_as,
            ports: [free_port(), free_port()],
        };
        let primary = clusters.data(0);
        let socket_dir = clusters.dir.path().to_str().unwrap_or_default().to_owned();
        clusters.tool(
            "initdb",
            &[
                "-D",
                primary.to_str().unwrap_or_default(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        )?;
        // initdb's pg_hba.conf lets local replication connections in (trust).
        clusters.append_conf(
            0,
            &format!(
                "\nport = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{socket_dir}'\n\
                 wal_level = replica\nmax_wal_senders = 4\nsynchronous_standby_names = '*'\n\
                 synchronous_commit = on\nshared_buffers = 16MB\nfsync = off\n",
                clusters.ports[0]
            ),
        )?;
        clusters.pg_ctl(0, &["-w", "start"])?;
        let standby = clusters.data(1);
        clusters.tool(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &clusters.ports[0].to_string(),
                "-U",
                "postgres",
                "-D",
                standby.to_str().unwrap_or_default(),
                "-R",
                "-X",
                "stream",
                "--no-sync",
            ],
        )?;
        // Promoted, the standby must not wait for a standby of its own.
        clusters.append_conf(
            1,
            &format!(
                "\nport = {}\nsynchronous_standby_names = ''\n",
                clusters.ports[1]
            ),
        )?;
        clusters.pg_ctl(1, &["-w", "start"])?;
        Ok(clusters)
    }

    fn url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/postgres",
            self.ports[0], self.ports[1]
        )
    }
}

impl Drop for Clusters {
    fn drop(&mut self) {
        for i in 0..2 {
            if self.data(i).join("postmaster.pid").exists() {
                let _ = self.pg_ctl(i, &["-m", "immediate", "-w", "stop"]);
            }
        }
    }
}

fn disjoint(blocks: &[Block]) -> bool {
    let mut spans: Vec<(i64, i64)> = blocks
        .iter()
        .map(|b| (b.first_counter, b.end_counter))
        .collect();
    spans.sort();
    spans.windows(2).all(|w| w[0].1 <= w[1].0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_continues_on_a_promoted_standby() {
    let clusters = match Clusters::start() {
        Ok(clusters) => clusters,
        Err(why) if std::env::var_os("CI").is_none() => {
            println!("skipped: {why}");
            return;
        }
        Err(why) => panic!("CI is set and the clusters cannot be made: {why}"),
    };
    // A URL naming no primary is refused, every host's answer named, the password not.
    let dead = free_port();
    let standbys_only = format!(
        "postgres://postgres:secret@127.0.0.1:{dead},127.0.0.1:{}/postgres",
        clusters.ports[1]
    );
    let error = Store::open(&standbys_only, actor())
        .await
        .expect_err("no primary")
        .to_string();
    assert!(error.contains("no host is a reachable primary"), "{error}");
    assert!(error.contains(&format!("127.0.0.1:{dead}: ")), "{error}");
    assert!(error.contains("in recovery"), "{error}");
    assert!(!error.contains("secret"), "{error}");

    // The primary first; the store opens on it.
    let store = Store::open(&clusters.url(), actor()).await.expect("open");
    store.add_product(&product("p1", GTIN)).await.expect("add");
    let mut blocks = Vec::new();
    for _ in 0..5 {
        blocks.push(store.reserve_block("p1", 1000).await.expect("reserve"));
    }
    let codes = store.allocate("p1", 200, None).await.expect("allocate");
    let before = store.issued_counts("p1").await.expect("counts");
    // The standby is synchronous: what the primary answered is on the standby.
    let primary_url = format!(
        "postgres://postgres@127.0.0.1:{}/postgres",
        clusters.ports[0]
    );
    let mut primary = sqlx::PgConnection::connect(&primary_url)
        .await
        .expect("connect to the primary");
    let sync: String = sqlx::query_scalar("SELECT sync_state FROM pg_stat_replication")
        .fetch_one(&mut primary)
        .await
        .expect("replication state");
    assert_eq!(sync, "sync");
    drop(primary);
    let head = store.audit_head().await.expect("head");

    // The primary dies (no clean shutdown); an allocation asked for now waits in the pool
    // until the store finds the new primary.
    clusters
        .pg_ctl(0, &["-m", "immediate", "-w", "stop"])
        .expect("stop the primary");
    let pending = {
        let store = store.clone();
        tokio::spawn(async move { store.reserve_block("p1", 1000).await })
    };
    clusters
        .pg_ctl(1, &["-w", "promote"])
        .expect("promote the standby");
    let during = pending
        .await
        .expect("the pending task")
        .expect("reserve across the failover");
    blocks.push(during);
    let after = store
        .reserve_block("p1", 1000)
        .await
        .expect("reserve after");
    blocks.push(after);
    let issued = store
        .issue_from_block("p1", blocks[0].id, 10, None)
        .await
        .expect("issue from a block reserved before the failover");

    // Everything committed before the failover is on the new primary: the synchronous
    // standby had it before the primary answered.
    let (seq, _) = store.audit_head().await.expect("head after");
    assert!(seq > head.0, "the chain continued from {head:?}");
    let now = store.issued_counts("p1").await.expect("counts after");
    assert_eq!(now.reserved, before.reserved + 2000);
    assert_eq!(now.codes, before.codes + 10);
    assert_eq!(now.issued, now.codes);
    assert_eq!(issued.first_counter, blocks[0].first_counter);
    assert!(
        store.code(&codes.codes[199]).await.is_ok(),
        "a code from before"
    );
    // No block twice: the new primary's counter went on from the last committed block.
    assert!(disjoint(&blocks), "{blocks:?}");
    assert!(blocks[5].first_counter >= blocks[4].end_counter);
    let report = store.verify_audit().await.expect("verify");
    assert!(report.first_bad.is_none(), "{report:?}");
    store.close().await;
}
