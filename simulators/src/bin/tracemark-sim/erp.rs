//! `tracemark-sim erp`: the ERP receiver simulator on a TCP port, until stdin closes, `quit` or
//! Ctrl-C.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use tracemark_sim::control::Reply;
use tracemark_sim::erp::faults::{FaultKind, FaultProfile};
use tracemark_sim::erp::signature::{PublicKey, SigningSecret};
use tracemark_sim::erp::{ErpConfig, ErpHandle, ErpSim};

#[derive(Debug, Args)]
pub(crate) struct ErpArgs {
    /// Listen on HOST:PORT (port 0 picks one); prints `listening: ADDR` first.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:0")]
    listen: String,
    /// The shared secret of `v1` signatures: a file holding `whsec_<base64 key>`.
    #[arg(long, value_name = "FILE")]
    secret_file: PathBuf,
    /// The sender's Ed25519 public key (`whpk_<base64>`): every delivery then also needs a
    /// valid `v1a` signature.
    #[arg(long, value_name = "FILE")]
    ed25519_public_key_file: Option<PathBuf>,
    /// Fault rates: none, default (about 1 request in 6) or heavy (about 1 in 2).
    #[arg(long, default_value = "none", value_parser = parse_profile)]
    faults: FaultProfile,
    /// Seed of the fault draw (runs repeat with the same seed).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How long a slow answer waits, milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 2_000)]
    slow_ms: u64,
    /// Faults for the first requests, comma-separated, `-` for none: e.g.
    /// `503,reset-after-commit,-,slow` (names: 500, 503, 429, slow, reset-before-commit,
    /// reset-after-commit).
    #[arg(long, value_name = "LIST", value_parser = parse_script)]
    fault_script: Option<Script>,
    /// Keep each accepted document as a file in DIR (read back on start).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
struct Script(Vec<Option<FaultKind>>);

fn parse_profile(name: &str) -> Result<FaultProfile, String> {
    FaultProfile::from_name(name).ok_or_else(|| format!("`{name}`: one of none, default, heavy"))
}

fn parse_script(list: &str) -> Result<Script, String> {
    list.split(',')
        .map(|name| match name.trim() {
            "-" => Ok(None),
            name => FaultKind::from_name(name).map(Some).ok_or_else(|| {
                let names: Vec<&str> = FaultKind::ALL.iter().map(|kind| kind.name()).collect();
                format!("unknown fault `{name}`; one of: {}, or -", names.join(", "))
            }),
        })
        .collect::<Result<_, _>>()
        .map(Script)
}

fn read_key_file(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

pub(crate) async fn run(args: ErpArgs) -> anyhow::Result<()> {
    let secret = SigningSecret::parse(&read_key_file(&args.secret_file)?)
        .with_context(|| format!("--secret-file {}", args.secret_file.display()))?;
    let public_key = match &args.ed25519_public_key_file {
        Some(path) => Some(
            PublicKey::parse(&read_key_file(path)?)
                .with_context(|| format!("--ed25519-public-key-file {}", path.display()))?,
        ),
        None => None,
    };
    let mut config = ErpConfig::new(secret);
    config.listen = args.listen;
    config.public_key = public_key;
    config.faults = args.faults;
    config.seed = args.seed;
    config.slow_delay = Duration::from_millis(args.slow_ms);
    config.fault_script = args.fault_script.map(|script| script.0).unwrap_or_default();
    config.dir = args.dir;
    let (addr, handle) = ErpSim::start(config).await?;
    crate::announce(&format!("listening: {addr}"))?;
    // The receiver serves until stdin ends; it has no end of its own.
    let forever = tokio::spawn(std::future::pending::<std::io::Result<()>>());
    crate::serve_until_done(forever, |line| command(&handle, line)).await
}

/// stdin: `status` (answers by status, faults injected, replays), `accepted` (one JSON line per
/// accepted document), `quit`.
fn command(handle: &ErpHandle, line: &str) -> Reply {
    match line.trim() {
        "" => Reply::Silent,
        "quit" => Reply::Quit,
        "status" => {
            let faults: serde_json::Map<String, serde_json::Value> = handle
                .faults()
                .into_iter()
                .map(|(kind, count)| (kind.name().to_owned(), count.into()))
                .collect();
            let status = serde_json::json!({
                "accepted": handle.accepted().len(),
                "statuses": handle.statuses(),
                "faults": faults,
                "replays": handle.replays(),
            });
            Reply::Say(status.to_string())
        }
        "accepted" => {
            let lines: Vec<String> = handle
                .accepted()
                .iter()
                .filter_map(|record| serde_json::to_string(record).ok())
                .collect();
            if lines.is_empty() {
                Reply::Say("# nothing accepted".to_owned())
            } else {
                Reply::Say(lines.join("\n"))
            }
        }
        other => Reply::Say(format!(
            "error: unknown command `{other}`; status, accepted or quit"
        )),
    }
}
