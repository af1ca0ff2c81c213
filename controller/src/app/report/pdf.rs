//! A report as PDF (issue 17): the report's HTML printed by headless Chromium, whose print
//! engine honours the page's `@page` rules (A4, margins, page breaks). tracemark never downloads
//! a browser: Debian's `chromium` package (`scripts/install-chromium.sh`), or the program
//! `TRACEMARK_CHROMIUM` names.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::app::AppError;

/// The environment variable naming the Chromium program.
pub const CHROMIUM_ENV: &str = "TRACEMARK_CHROMIUM";
/// Where Debian's `chromium` package puts it.
pub const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";
/// The script that installs it.
pub const INSTALL_SCRIPT: &str = "scripts/install-chromium.sh";
/// How long Chromium may take to print one report (a cold start on a busy 2-core machine
/// takes a few seconds).
const PRINT_TIMEOUT: Duration = Duration::from_secs(120);

/// The Chromium program: `TRACEMARK_CHROMIUM`, else [`DEFAULT_CHROMIUM`]; an error naming
/// what is missing and how to install it when there is no such program.
pub fn chromium() -> Result<PathBuf, AppError> {
    let (path, from) = match std::env::var_os(CHROMIUM_ENV).filter(|v| !v.is_empty()) {
        Some(path) => (PathBuf::from(path), format!("{CHROMIUM_ENV} names")),
        None => (PathBuf::from(DEFAULT_CHROMIUM), "the default is".to_owned()),
    };
    if path.is_file() {
        return Ok(path);
    }
    Err(AppError::input(
        "pdf",
        format!(
            "a PDF is printed by headless Chromium, which is not installed: {from} {}, and there \
             is no such file. Install it with {INSTALL_SCRIPT} (Debian's chromium package), or \
             set {CHROMIUM_ENV} to the chromium program; the HTML report needs no browser",
            path.display()
        ),
    ))
}

/// Prints the HTML file `html` to the PDF file `pdf` with headless Chromium.
pub async fn print(html: &Path, pdf: &Path) -> Result<(), AppError> {
    let program = chromium()?;
    let html = std::path::absolute(html)
        .map_err(|e| AppError::internal(format!("the path of {}", html.display()), e))?;
    let pdf = pdf.to_path_buf();
    tokio::task::spawn_blocking(move || print_blocking(&program, &html, &pdf))
        .await
        .map_err(|e| AppError::internal("print the PDF", e))?
}

fn print_blocking(program: &Path, html: &Path, pdf: &Path) -> Result<(), AppError> {
    // A profile of its own: two reports printed at once, or a browser already open, would
    // otherwise share (and lock) one.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let profile =
        std::env::temp_dir().join(format!("tracemark-pdf-{}-{nanos}", std::process::id()));
    let _ = std::fs::remove_file(pdf);
    // Chromium's messages go to a file: a pipe nobody reads while it runs could fill and stall it.
    let log = profile.with_extension("log");
    let log_file = std::fs::File::create(&log)
        .map_err(|e| AppError::internal(format!("create {}", log.display()), e))?;
    let mut child = Command::new(program)
        .arg("--headless")
        // Chromium refuses to run as root with its sandbox; the page is our own file.
        .arg("--no-sandbox")
        .arg("--disable-gpu")
        .arg("--disable-dev-shm-usage")
        .arg("--no-pdf-header-footer")
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", html.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log_file))
        .spawn()
        .map_err(|e| AppError::internal(format!("start {}", program.display()), e))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > PRINT_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_dir_all(&profile);
                let _ = std::fs::remove_file(&log);
                return Err(AppError::internal(
                    "print the PDF",
                    format!(
                        "{} did not finish within {PRINT_TIMEOUT:?}",
                        program.display()
                    ),
                ));
            }
            // Polling a child process: std has no wait with a deadline.
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(AppError::internal("wait for Chromium", e)),
        }
    };
    let said = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    let _ = std::fs::remove_dir_all(&profile);
    let head = std::fs::read(pdf)
        .map(|bytes| bytes.starts_with(b"%PDF"))
        .unwrap_or(false);
    if status.success() && head {
        return Ok(());
    }
    let last: Vec<&str> = said.lines().rev().take(5).collect();
    Err(AppError::internal(
        "print the PDF",
        format!(
            "{} ({status}) wrote no PDF to {}: {}",
            program.display(),
            pdf.display(),
            last.into_iter().rev().collect::<Vec<_>>().join(" / ")
        ),
    ))
}
