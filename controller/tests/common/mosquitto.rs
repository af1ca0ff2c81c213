//! A private Mosquitto (persistence on, a free port) that a test can stop and start: the
//! broker-restart tests.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

/// The mosquitto binary, or `None` (after printing why); with `CI` set, its absence fails.
pub fn mosquitto() -> Option<PathBuf> {
    let found = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    if found.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("mosquitto is not installed, and CI is set: the broker-restart test must run");
        }
        println!("skipped: mosquitto is not installed");
    }
    found
}

#[derive(Debug)]
pub struct Broker {
    binary: PathBuf,
    config: PathBuf,
    pub port: u16,
    process: Option<Child>,
}

impl Broker {
    pub fn new(binary: PathBuf, dir: &Path) -> Broker {
        Self::with_listener_options(binary, dir, "allow_anonymous true\n")
    }

    /// A broker whose listener has `options` (mosquitto.conf lines: TLS files, password file,
    /// `allow_anonymous`, …) in addition to its port and persistence.
    pub fn with_listener_options(binary: PathBuf, dir: &Path, options: &str) -> Broker {
        // A free port: bound, read, released (no fixed ports in tests).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let config = dir.join("mosquitto.conf");
        // Started as root, mosquitto drops to user `mosquitto`, which cannot write its
        // persistence file into our private directory; run it as ourselves.
        let user = std::env::var("USER").unwrap_or_else(|_| "root".to_owned());
        std::fs::write(
            &config,
            format!(
                "listener {port} 127.0.0.1\n{options}persistence true\n\
                 persistence_location {}/\nlog_dest none\nuser {user}\n",
                dir.display()
            ),
        )
        .expect("write the broker config");
        Broker {
            binary,
            config,
            port,
            process: None,
        }
    }

    /// Starts the broker and returns once it accepts connections (its readiness signal).
    pub fn start(&mut self) {
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(&self.config)
            .spawn()
            .expect("start mosquitto");
        self.process = Some(child);
        for _ in 0..500 {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("mosquitto did not listen on {} within 5 s", self.port);
    }

    /// Stops it gracefully (SIGTERM: it writes its persistence file) and waits for the exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.process.take() {
            let pid = child.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let _ = child.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
