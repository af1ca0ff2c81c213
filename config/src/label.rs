//! `[packing.label]`: the packing station's label printer and label scanner (issue 14 item 3;
//! docs/aggregation.md "Labels"). Optional: without it packages close unlabelled.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tracemark_drivers::zpl::logistic::{DEFAULT_TEMPLATE_NAME, LogisticTemplate};

use super::compile::{Errors, Transport, check_transport};
use super::raw::TransportSection;

/// Most reprints a config may allow: a label that fails this often needs the operator.
const MAX_REPRINTS: u32 = 10;

/// `[packing.label]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelSection {
    /// How the ZPL label printer is reached, as a marker's `transport` (TCP port 9100 or
    /// serial).
    pub transport: TransportSection,
    /// The label template file, relative to the config: a ZPL format body with the `^FN`
    /// fields of docs/aggregation.md "Labels", e.g. `labels/logistic-label.zpl`.
    pub template: String,
    /// The name the template is stored under in the printer, `d:NAME.ZPL`. Default
    /// `R:SSCC.ZPL`.
    #[serde(default)]
    pub template_name: Option<String>,
    /// The label scanner: a reader publishing on `tracemark/<line>/vision/<scanner>/result`
    /// like a unit camera (SPEC §5); not one of `[readers]`.
    pub scanner: String,
    /// Reprints of a label that does not read back as its SSCC before the package is left
    /// open for the operator. Default 2 (three labels in all).
    #[serde(default = "default_reprint_limit")]
    pub reprint_limit: u32,
    /// Longest wait for the scanner's read of a printed label; none is a no-read. Default
    /// 3,000 ms.
    #[serde(default = "default_read_timeout_ms")]
    pub read_timeout_ms: u64,
    /// Longest wait for a healthy printer to print a label it was sent. Default 5,000 ms.
    #[serde(default = "default_print_timeout_ms")]
    pub print_timeout_ms: u64,
    /// A printer reply later than this is a lost link (or a head open). Default 1,000 ms.
    #[serde(default = "default_reply_timeout_ms")]
    pub reply_timeout_ms: u64,
}

fn default_reprint_limit() -> u32 {
    2
}

fn default_read_timeout_ms() -> u64 {
    3_000
}

fn default_print_timeout_ms() -> u64 {
    5_000
}

fn default_reply_timeout_ms() -> u64 {
    1_000
}

/// `[packing.label]`, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackingLabel {
    /// How the label printer is reached.
    pub transport: Transport,
    /// The template file, resolved against the config's directory.
    pub template: PathBuf,
    /// Its content, read when the config was compiled.
    pub template_body: String,
    /// The stored format's name.
    pub template_name: String,
    /// The label scanner's reader name.
    pub scanner: String,
    /// Reprints before the package is left for the operator.
    pub reprint_limit: u32,
    /// Longest wait for the scanner's read.
    pub read_timeout: Duration,
    /// Longest wait for a healthy printer to print.
    pub print_timeout: Duration,
    /// Longest wait for a printer reply.
    pub reply_timeout: Duration,
}

/// Checks `[packing.label]`; `readers`: the line's unit readers, which the scanner may not be.
pub(super) fn check_label(
    raw: &LabelSection,
    base: &Path,
    readers: &[String],
    errors: &mut Errors,
) -> Option<PackingLabel> {
    const PATH: &str = "packing.label";
    let before = errors.0.len();
    let transport = check_transport(&format!("{PATH}.transport"), &raw.transport, errors);
    let template = base.join(&raw.template);
    let template_name = raw
        .template_name
        .clone()
        .unwrap_or_else(|| DEFAULT_TEMPLATE_NAME.to_owned());
    let template_body = match std::fs::read_to_string(&template) {
        Ok(body) => {
            if let Err(refused) = LogisticTemplate::new(&template_name, &body) {
                errors.push(
                    format!("{PATH}.template"),
                    format!("{}: {refused}", raw.template),
                );
            }
            body
        }
        Err(e) => {
            errors.push(
                format!("{PATH}.template"),
                format!("cannot read {}: {e}", template.display()),
            );
            String::new()
        }
    };
    let name_ok = (1..=64).contains(&raw.scanner.len())
        && raw
            .scanner
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !name_ok {
        errors.push(
            format!("{PATH}.scanner"),
            format!(
                "{:?} must be 1–64 characters of letters, digits, _ and - (it is an MQTT topic \
                 level)",
                raw.scanner
            ),
        );
    } else if readers.contains(&raw.scanner) {
        errors.push(
            format!("{PATH}.scanner"),
            format!(
                "{:?} is a unit reader ([readers.{}]): the label scanner needs a name of its own",
                raw.scanner, raw.scanner
            ),
        );
    }
    if raw.reprint_limit > MAX_REPRINTS {
        errors.push(
            format!("{PATH}.reprint_limit"),
            format!("{} is above {MAX_REPRINTS}", raw.reprint_limit),
        );
    }
    for (key, ms) in [
        ("read_timeout_ms", raw.read_timeout_ms),
        ("print_timeout_ms", raw.print_timeout_ms),
        ("reply_timeout_ms", raw.reply_timeout_ms),
    ] {
        if !(10..=600_000).contains(&ms) {
            errors.push(format!("{PATH}.{key}"), format!("{ms} is not 10 to 600000"));
        }
    }
    (errors.0.len() == before).then(|| PackingLabel {
        transport,
        template,
        template_body,
        template_name,
        scanner: raw.scanner.clone(),
        reprint_limit: raw.reprint_limit,
        read_timeout: Duration::from_millis(raw.read_timeout_ms),
        print_timeout: Duration::from_millis(raw.print_timeout_ms),
        reply_timeout: Duration::from_millis(raw.reply_timeout_ms),
    })
}
