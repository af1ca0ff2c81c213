//! A PostgreSQL primary and a synchronous streaming standby made on this machine (`initdb`,
//! `pg_basebackup`, `pg_ctl`, on ports from port 0), for the failover tests (issue 18 item 4:
//! `store/tests/failover.rs`, and two lines across a failover in `tests/tests/plant.rs`). As
//! root, the servers run as the `postgres` user. Dropped, it stops both and removes them.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the server tools are: `TRACEMARK_PG_BIN`, else a Debian-style versioned directory,
/// else the directory `PATH` finds `pg_basebackup` in.
pub fn pg_bin() -> Result<PathBuf, String> {
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
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind port 0");
    listener.local_addr().expect("local address").port()
}

/// Two clusters in a temporary directory; dropped, it stops both and removes them.
#[derive(Debug)]
pub struct Clusters {
    bin: PathBuf,
    dir: tempfile::TempDir,
    /// As root, the server runs as this user (it refuses to run as root).
    run_as: Option<&'static str>,
    /// The primary's port, then the standby's.
    pub ports: [u16; 2],
}

impl Clusters {
    pub fn data(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("node{i}"))
    }

    /// Runs a server tool, as the server's user when we are root; its output on failure.
    pub fn tool(&self, tool: &str, args: &[&str]) -> Result<(), String> {
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

    pub fn pg_ctl(&self, i: usize, args: &[&str]) -> Result<(), String> {
        let data = self.data(i);
        let log = self.dir.path().join(format!("node{i}.log"));
        let mut all = vec!["-D", data.to_str().unwrap_or_default(), "-l"];
        all.push(log.to_str().unwrap_or_default());
        all.extend_from_slice(args);
        self.tool("pg_ctl", &all)
    }

    pub fn append_conf(&self, i: usize, lines: &str) -> Result<(), String> {
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
    pub fn start() -> Result<Clusters, String> {
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

    /// [`Clusters::start`], or `None` after printing `skipped: <why>` when the server tools
    /// are missing; with `CI` set, that fails instead.
    pub fn start_or_skip() -> Option<Clusters> {
        match Clusters::start() {
            Ok(clusters) => Some(clusters),
            Err(why) if std::env::var_os("CI").is_none() => {
                println!("skipped: {why}");
                None
            }
            Err(why) => panic!("CI is set and the clusters cannot be made: {why}"),
        }
    }

    /// The two-host URL, the primary first, on database `postgres`.
    pub fn url(&self) -> String {
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
