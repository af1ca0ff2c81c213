//! The whole-line suite's support (the suite itself is in `tests/tests/`): the two stacks a line
//! runs on, `tracemark demo` and `tracemark simulate` as child processes, and what every run
//! must end with (issue 6: no escape, no duplicate, nothing unaccounted, a balanced
//! reconciliation, and no disagreement with the twin's ground truth).
//!
//! Every scenario runs on both stacks:
//! - **embedded**: an SQLite file and the embedded rumqttd broker — what `tracemark demo` uses;
//! - **plant**: PostgreSQL (`TRACEMARK_TEST_PG_URL`) and Mosquitto (`TRACEMARK_TEST_MQTT`). When
//!   a variable is unset the plant run prints `skipped: …` and passes — unless `CI` is set, when
//!   it fails.

#[path = "../../controller/tests/common/mod.rs"]
pub mod common;
pub mod plant;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use tracemark_store::{CodeState, Store};

/// How often [`Site::wait_verified`] looks at a store another process writes.
const STORE_POLL: Duration = Duration::from_millis(50);

/// One line at a time: each run is a real-time line (controller, twin, camera rendering and
/// decoding) and this machine has two cores; runs side by side would test the scheduler.
static ONE_LINE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Holds the line slot until dropped.
pub async fn one_line_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    ONE_LINE_AT_A_TIME.lock().await
}

/// Where a line keeps its records and gets its camera results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stack {
    /// SQLite and the embedded broker.
    Embedded,
    /// PostgreSQL and Mosquitto.
    Plant,
}

/// A stack made ready for one run: a fresh SQLite file or PostgreSQL schema, and the broker.
#[derive(Debug)]
pub struct Site {
    /// The store URL (`TRACEMARK_DB`).
    pub db: String,
    /// The external broker, `None` for the embedded one.
    pub mqtt: Option<String>,
    /// A private directory: the SQLite file, the child's stderr.
    pub dir: tempfile::TempDir,
    /// The PostgreSQL server and the schema to drop at the end.
    postgres: Option<(String, String)>,
}

impl Stack {
    /// A fresh site on this stack; `None` (after printing `skipped: …`) when the plant services
    /// are not configured. With `CI` set, that fails instead.
    pub async fn site(self) -> Option<Site> {
        let dir = common::tempdir();
        match self {
            Stack::Embedded => Some(Site {
                db: common::sqlite_url(dir.path()),
                mqtt: None,
                dir,
                postgres: None,
            }),
            Stack::Plant => {
                let base = common::pg_base_url()?;
                let mqtt = common::mqtt_url()?;
                let (db, schema) = common::pg_schema_url(&base).await;
                Some(Site {
                    db,
                    mqtt: Some(mqtt),
                    dir,
                    postgres: Some((base, schema)),
                })
            }
        }
    }
}

impl Site {
    /// `tracemark SUBCOMMAND ARGS… [--mqtt URL] --json` on this site's store and broker, its
    /// stderr kept in `stderr` in the site's directory.
    pub fn command(&self, subcommand: &str, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(common::bin());
        command.arg(subcommand).args(args);
        if let Some(mqtt) = &self.mqtt {
            command.args(["--mqtt", mqtt]);
        }
        command
            .arg("--json")
            .env("TRACEMARK_DB", &self.db)
            .env("TRACEMARK_USER", "tester")
            .kill_on_drop(true);
        command
    }

    /// Runs `tracemark SUBCOMMAND ARGS…` to the end and returns its output.
    pub async fn run(&self, subcommand: &str, args: &[&str]) -> Output {
        self.command(subcommand, args)
            .output()
            .await
            .unwrap_or_else(|e| panic!("run tracemark {subcommand}: {e}"))
    }

    /// Opens the site's store.
    pub async fn open(&self) -> Store {
        common::open(&self.db).await
    }

    /// Where a child's stderr goes, for the failure messages.
    pub fn stderr_path(&self) -> PathBuf {
        self.dir.path().join("stderr")
    }

    /// Waits until the line running on this site has verified `n` units of its first batch
    /// (packed ones included);
    /// after a minute, fails with the child's stderr. Another process writes the store and
    /// announces no progress (its MQTT state goes to a broker or line id the test does not
    /// know), so this looks at the store every [`STORE_POLL`], under the deadline.
    pub async fn wait_verified(&self, n: i64) -> Store {
        let mut poll = tokio::time::interval(STORE_POLL);
        let verified = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                poll.tick().await;
                if let Some(store) = self.verified_at_least(n).await {
                    return store;
                }
            }
        })
        .await;
        verified.unwrap_or_else(|_| {
            panic!(
                "the line never verified {n} units: {}",
                std::fs::read_to_string(self.stderr_path()).unwrap_or_default()
            )
        })
    }

    /// The store, open, if its first batch has `n` units verified.
    async fn verified_at_least(&self, n: i64) -> Option<Store> {
        let store = Store::open(&self.db, common::actor()).await.ok()?;
        let batches = store.batches().await.unwrap_or_default();
        if let Some(batch) = batches.first()
            && let Ok(counts) = store.batch_counts(batch.id).await
            && counts
                .iter()
                .filter(|(state, _)| matches!(state, CodeState::Verified | CodeState::Packed))
                .map(|(_, count)| count)
                .sum::<i64>()
                >= n
        {
            return Some(store);
        }
        store.close().await;
        None
    }

    /// Drops the PostgreSQL schema (the SQLite file goes with the directory).
    pub async fn finish(self) {
        if let Some((base, schema)) = &self.postgres {
            common::drop_pg_schema(base, schema).await;
        }
    }
}

/// A `tracemark demo … --http 127.0.0.1:0` running on a site, serving its pages.
#[derive(Debug)]
pub struct DemoServer {
    /// The demo.
    pub child: tokio::process::Child,
    /// Its base URL, with the trailing `/` (`http://127.0.0.1:PORT/`).
    pub url: String,
    /// Its whole stderr, once it has ended (for failure messages).
    pub stderr: tokio::task::JoinHandle<String>,
}

impl Site {
    /// Starts `tracemark demo ARGS… --http 127.0.0.1:0` and waits until it names its address
    /// on stderr (`http: URL`, the readiness signal); fails with its stderr after a minute.
    pub async fn demo_with_http(&self, args: &[&str]) -> DemoServer {
        use tokio::io::{AsyncBufReadExt, BufReader};
        let mut child = self
            .command("demo", args)
            .args(["--http", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start tracemark demo");
        let stderr = child.stderr.take().expect("stderr");
        let (url_tx, url_rx) = tokio::sync::oneshot::channel();
        let stderr = tokio::spawn(async move {
            let mut url_tx = Some(url_tx);
            let mut text = String::new();
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.strip_prefix("http: ")
                    && let Some(tx) = url_tx.take()
                {
                    let _ = tx.send(url.to_owned());
                }
                text.push_str(&line);
                text.push('\n');
            }
            text
        });
        let Ok(Ok(url)) = tokio::time::timeout(Duration::from_secs(60), url_rx).await else {
            let _ = child.kill().await;
            panic!(
                "the demo named no address within a minute:\n{}",
                stderr.await.unwrap_or_default()
            );
        };
        DemoServer { child, url, stderr }
    }
}

/// A config in `line-configs/`.
pub fn line_config(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../line-configs")
        .join(name)
}

/// Writes a line config made from one of `line-configs/` to `path`, elsewhere: the files it
/// names relative to itself (label templates, device descriptions) are made absolute, so it
/// loads from there as it would from `line-configs/`.
pub fn write_line_config(path: &Path, text: &str) {
    let dir = line_config("");
    let dir = dir.to_str().expect("a UTF-8 path");
    let text = text
        .replace("= \"labels/", &format!("= \"{dir}labels/"))
        .replace("= \"devices/", &format!("= \"{dir}devices/"));
    std::fs::write(path, text).expect("write the line config");
}

/// The JSON summary on the last line of stdout.
pub fn summary(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| {
        panic!(
            "no JSON summary ({e}); stdout:\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Asserts what every run must end with, and returns the summary: `units` units, no escape,
/// no duplicate, nothing unaccounted, balanced before and after closing, no disagreement with
/// ground truth, no store error, and every code issued printed or voided.
pub fn assert_clean_run(out: &Output, units: u64) -> Value {
    let s = summary(out);
    let context = format!("{s:#}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the run failed: {context}");
    assert_eq!(s["units"], units, "{context}");
    for zero in ["escapes", "duplicates", "unaccounted"] {
        assert_eq!(s[zero], 0, "{zero}: {context}");
    }
    assert_eq!(s["balanced"], true, "{context}");
    assert_eq!(s["closed_balanced"], true, "{context}");
    assert_eq!(
        s["disagreements"].as_array().map(Vec::len),
        Some(0),
        "{context}"
    );
    assert_eq!(s["line"]["store_errors"], 0, "{context}");
    // A healthy marker never faults: a fault nobody injected is a driver's mistake (the
    // Zipher driver once faulted on a print between two of its own requests).
    if s["marker_faults_injected"] == 0 {
        assert_eq!(s["line"]["marker_faults"], 0, "{context}");
    }
    let count = |key: &str| s[key].as_i64().unwrap_or(-1);
    assert_eq!(
        count("allocated"),
        count("printed") + count("voided"),
        "{context}"
    );
    s
}

/// The retained message on `topic` at the broker `url` (`mqtt://HOST:PORT`).
pub async fn retained(url: &str, topic: &str) -> Value {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let rest = url.trim_start_matches("mqtt://");
    let (host, port) = rest.rsplit_once(':').expect("host:port");
    let mut options = MqttOptions::new(
        format!("test-state-{}", std::process::id()),
        host,
        port.parse().expect("port"),
    );
    options.set_keep_alive(Duration::from_secs(10));
    let (client, mut events) = AsyncClient::new(options, 16);
    client
        .subscribe(topic, QoS::AtLeastOnce)
        .await
        .expect("subscribe");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let event = tokio::time::timeout_at(deadline, events.poll())
            .await
            .expect("a retained state within 10 s")
            .expect("broker connection");
        if let Event::Incoming(Packet::Publish(publish)) = event {
            return serde_json::from_slice(&publish.payload).expect("state JSON");
        }
    }
}

/// Generates an `embedded` and a `plant` test for one `async fn(Stack)` scenario.
#[macro_export]
macro_rules! on_both_stacks {
    ($($scenario:ident),+ $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn embedded() {
                    super::$scenario($crate::Stack::Embedded).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn plant() {
                    super::$scenario($crate::Stack::Plant).await;
                }
            }
        )+
    };
}
