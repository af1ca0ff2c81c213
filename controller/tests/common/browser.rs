//! Headless Chromium for the tests of the operator pages (issue 16): Debian's `chromium`, driven
//! through Debian's `chromedriver` over W3C WebDriver with fantoccini. Never a browser download:
//! `scripts/install-chromium.sh` installs both packages (CI runs it).
//!
//! - **No fixed port**: chromedriver is started with `--port=0`, picks a free port itself and
//!   names it on its startup line (`ChromeDriver was started successfully on port N.`), which is
//!   also its readiness signal: it prints that line once it listens.
//! - **No stray browsers**: chromedriver runs in a process group of its own; [`Browser::close`]
//!   ends the WebDriver session (chromedriver quits Chromium), and dropping a [`Browser`] (a
//!   panicking test) kills the whole group, Chromium included — killing chromedriver alone
//!   leaves Chromium running, orphaned.
//! - **Skips, except in CI**: without Chromium a test prints `skipped: …` and passes; with `CI`
//!   set it fails.
//! - **A screenshot of every failure**: [`Browser::guard`] runs a test's browser steps; when one
//!   panics (a wait past its deadline, an assertion) it saves the page as PNG and HTML under
//!   `<target dir>/browser-screenshots/` and fails with their paths.
//! - **Waits under a deadline**: a page updates on its own (the live view polls its JSON twice a
//!   second), so a condition on it is polled every [`POLL`] until [`WAIT`] has passed.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Debian's Chromium (package `chromium`).
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's chromedriver (package `chromium-driver`), of the same version as [`CHROMIUM`].
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long a condition on the page may take.
pub const WAIT: Duration = Duration::from_secs(15);
/// How often a condition on the page is looked at.
pub const POLL: Duration = Duration::from_millis(100);
/// How long chromedriver may take to listen, and Chromium to start a session.
const START: Duration = Duration::from_secs(30);
/// The window of every test, so screenshots compare and layouts do not depend on the machine.
const WINDOW: (u32, u32) = (1280, 900);

/// Chromium and chromedriver are installed; `false` (after printing `skipped: …`) when they are
/// not. With `CI` set, their absence fails the test instead.
pub fn chromium_installed() -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|path| !Path::new(path).is_file())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!(
        "{} not installed (scripts/install-chromium.sh installs them)",
        missing.join(" and ")
    );
    if std::env::var_os("CI").is_some() {
        panic!("{why}, and CI is set: browser tests must run");
    }
    println!("skipped: {why}");
    false
}

/// Headless Chromium with one WebDriver session, and the chromedriver that drives it.
#[derive(Debug)]
pub struct Browser {
    client: Client,
    /// chromedriver, leader of its own process group.
    driver: tokio::process::Child,
    /// The test's name, in screenshot file names.
    name: String,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session for the test `name`; `None` (after
    /// printing `skipped: …`) when Chromium is not installed and `CI` is not set.
    pub async fn start(name: &str) -> Option<Browser> {
        if !chromium_installed() {
            return None;
        }
        let mut driver = tokio::process::Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start {CHROMEDRIVER}: {e}"));
        let stdout = driver.stdout.take().expect("chromedriver's stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut said = String::new();
        let port = tokio::time::timeout(START, async {
            while let Ok(Some(line)) = lines.next_line().await {
                said.push_str(&line);
                said.push('\n');
                if let Some(port) = started_on_port(&line) {
                    return Some(port);
                }
            }
            None
        })
        .await;
        let Ok(Some(port)) = port else {
            kill_group(&driver);
            panic!("chromedriver named no port within {START:?}; it said:\n{said}");
        };
        // The rest of its stdout (warnings) is read and dropped, so a full pipe never blocks it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        let mut builder =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(capabilities());
        let client =
            tokio::time::timeout(START, builder.connect(&format!("http://127.0.0.1:{port}"))).await;
        let client = match client {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => {
                kill_group(&driver);
                panic!("chromedriver on port {port} started no Chromium session: {e}");
            }
            Err(_) => {
                kill_group(&driver);
                panic!("chromedriver on port {port} started no Chromium session within {START:?}");
            }
        };
        Some(Browser {
            client,
            driver,
            name: name.to_owned(),
        })
    }

    /// The WebDriver session, for what the helpers here do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Runs a test's browser steps; when one panics, saves a screenshot and the page's HTML
    /// (see [`Browser::screenshot`]) and fails with the first panic's message and their paths.
    pub async fn guard<T>(&self, steps: impl Future<Output = T>) -> T {
        match std::panic::AssertUnwindSafe(steps).catch_unwind().await {
            Ok(value) => value,
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("(a panic without a message)")
                    .to_owned();
                let saved = match self.screenshot("failure").await {
                    Ok(png) => format!("screenshot: {}", png.display()),
                    Err(e) => format!("no screenshot: {e}"),
                };
                panic!("{message}\n{saved}");
            }
        }
    }

    /// Opens `url` and waits for the page to load.
    pub async fn open(&self, url: &str) {
        match tokio::time::timeout(WAIT, self.client.goto(url)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("open {url}: {e}"),
            Err(_) => panic!("{url} did not load within {WAIT:?}"),
        }
    }

    /// The first element matching the CSS `selector`, once there is one; fails after [`WAIT`].
    pub async fn wait_for(&self, selector: &str) -> Element {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(element) = self.client.find(Locator::Css(selector)).await {
                return element;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("no element matches `{selector}` after {WAIT:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Types `text` into the first element matching `selector` (waiting for it to exist).
    pub async fn type_into(&self, selector: &str, text: &str) {
        self.wait_for(selector)
            .await
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {selector}: {e}"));
    }

    /// Clicks the first element matching `selector` (waiting for it to exist).
    pub async fn click(&self, selector: &str) {
        self.wait_for(selector)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {selector}: {e}"));
    }

    /// Whether an element matches `selector` and is shown (a control a role may not use is
    /// hidden).
    pub async fn displayed(&self, selector: &str) -> bool {
        match self.client.find(Locator::Css(selector)).await {
            Ok(element) => element.is_displayed().await.unwrap_or(false),
            Err(_) => false,
        }
    }

    /// Logs `name` in on the HMI at `base` with `password`, and waits for the page that names
    /// the user.
    pub async fn log_in(&self, base: &str, name: &str, password: &str) {
        self.open(&format!("{base}/login")).await;
        self.type_into("#name", name).await;
        self.type_into("#password", password).await;
        self.click("#login-submit").await;
        self.wait_text("#user", &format!("{name} logged in"), |t| t.contains(name))
            .await;
    }

    /// Logs the user out and waits for the login form.
    pub async fn log_out(&self) {
        self.click("#logout").await;
        self.wait_for("#login-form").await;
    }

    /// The rendered text of the first element matching `selector` (waiting for it to exist).
    pub async fn text(&self, selector: &str) -> String {
        self.wait_for(selector)
            .await
            .text()
            .await
            .unwrap_or_else(|e| panic!("the text of `{selector}`: {e}"))
    }

    /// The text of `selector` once `holds` is true of it (`what` says what is awaited, for the
    /// failure message); fails after [`WAIT`] with the last text seen.
    pub async fn wait_text(
        &self,
        selector: &str,
        what: &str,
        holds: impl Fn(&str) -> bool,
    ) -> String {
        self.wait_text_within(WAIT, selector, what, holds).await
    }

    /// [`Browser::wait_text`] with a deadline of its own, for what the page shows only after the
    /// system under test has done a long piece of work (a run's end).
    pub async fn wait_text_within(
        &self,
        within: Duration,
        selector: &str,
        what: &str,
        holds: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            // The page may replace the element between finding it and reading it: read again.
            let text = match self.client.find(Locator::Css(selector)).await {
                Ok(element) => element.text().await.ok(),
                Err(_) => None,
            };
            if let Some(text) = &text
                && holds(text)
            {
                return text.clone();
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("`{selector}` never showed {what} within {within:?}; last text: {text:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Saves the window as `<target dir>/browser-screenshots/<test>-<label>-<time>.png`, and the
    /// page's HTML beside it (`.html`); returns the PNG's path.
    pub async fn screenshot(&self, label: &str) -> Result<PathBuf, String> {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let png = dir.join(format!("{}-{label}-{millis}.png", self.name));
        let bytes = tokio::time::timeout(WAIT, self.client.screenshot())
            .await
            .map_err(|_| format!("no screenshot within {WAIT:?}"))?
            .map_err(|e| format!("screenshot: {e}"))?;
        std::fs::write(&png, bytes).map_err(|e| format!("write {}: {e}", png.display()))?;
        if let Ok(Ok(html)) = tokio::time::timeout(WAIT, self.client.source()).await {
            let _ = std::fs::write(png.with_extension("html"), html);
        }
        Ok(png)
    }

    /// Ends the session (chromedriver quits Chromium) and chromedriver.
    pub async fn close(self) {
        let _ = tokio::time::timeout(WAIT, self.client.clone().close()).await;
        // Drop kills the group.
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_group(&self.driver);
    }
}

/// The port on chromedriver's startup line, `ChromeDriver was started successfully on port N.`
fn started_on_port(line: &str) -> Option<u16> {
    let (_, rest) = line.split_once("started successfully on port ")?;
    rest.trim_end().trim_end_matches('.').parse().ok()
}

/// Kills chromedriver's process group: chromedriver, Chromium and Chromium's helpers.
fn kill_group(driver: &tokio::process::Child) {
    if let Some(pid) = driver.id() {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stderr(Stdio::null())
            .status();
    }
}

/// What chromedriver starts: Debian's Chromium, headless (the new headless mode, the browser
/// itself rather than the old separate implementation), software rendering, a fixed window.
fn capabilities() -> fantoccini::wd::Capabilities {
    let mut args = vec![
        "--headless=new".to_owned(),
        "--disable-gpu".to_owned(),
        format!("--window-size={},{}", WINDOW.0, WINDOW.1),
        // Containers give /dev/shm little room; Chromium then crashes tabs.
        "--disable-dev-shm-usage".to_owned(),
    ];
    // Chromium refuses to run as root with its sandbox (CI and these machines run as root).
    if running_as_root() {
        args.push("--no-sandbox".to_owned());
    }
    let options = serde_json::json!({ "binary": CHROMIUM, "args": args });
    let mut capabilities = fantoccini::wd::Capabilities::new();
    capabilities.insert("browserName".to_owned(), "chrome".into());
    capabilities.insert("goog:chromeOptions".to_owned(), options);
    capabilities
}

/// The process runs as root (uid 0), read from `/proc/self/status`.
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().next())
                .map(|uid| uid == "0")
        })
        .unwrap_or(false)
}

/// `<target dir>/browser-screenshots`: tests run from `<target dir>/<profile>/deps/`.
fn screenshot_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_path_buf()))
        .unwrap_or_else(std::env::temp_dir)
        .join("browser-screenshots")
}
