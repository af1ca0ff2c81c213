//! `[packing.scanner]` and `[packing.palletiser]`: the hand scanners of a `manual` packing
//! station (docs/aggregation.md "Manual mode"), raw and checked.

use serde::{Deserialize, Serialize};

use super::compile::{Errors, Transport, check_transport};
use super::raw::TransportSection;

/// A hand scanner as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScannerSection {
    /// How the scanner is reached: `serial` (a port, or the USB CDC port of a corded scanner)
    /// or `tcp`.
    pub transport: TransportSection,
    /// TCP only: `true` listens on `transport.address` for the scanner's base station to
    /// connect (the usual setting of Bluetooth base stations' Ethernet option); `false` connects
    /// to the base station at that address. Default false.
    #[serde(default)]
    pub listen: bool,
    /// Refuse lines without an ISO/IEC 15424 symbology identifier (`]C1`, `]d2`, …). Default
    /// true: the identifier says which data are GS1.
    #[serde(default = "yes")]
    pub require_identifier: bool,
    /// The command barcodes (plain Code 128 text). Default: `NEW`, `CLOSE`, `CANCEL`, `REMOVE`.
    #[serde(default)]
    pub commands: CommandsSection,
}

pub(super) fn yes() -> bool {
    true
}

/// The texts of the command barcodes, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandsSection {
    /// Allocate a new SSCC for this batch and open it at the station. Default `NEW`.
    #[serde(default = "default_new")]
    pub new: String,
    /// Pack the scanned children into the open package and close it. Default `CLOSE`.
    #[serde(default = "default_close")]
    pub close: String,
    /// Forget the scans not yet packed and leave the package (still open in the store).
    /// Default `CANCEL`.
    #[serde(default = "default_cancel")]
    pub cancel: String,
    /// The next scan takes that child out of the scans not yet packed. Default `REMOVE`.
    #[serde(default = "default_remove")]
    pub remove: String,
}

impl Default for CommandsSection {
    fn default() -> Self {
        Self {
            new: default_new(),
            close: default_close(),
            cancel: default_cancel(),
            remove: default_remove(),
        }
    }
}

fn default_new() -> String {
    "NEW".into()
}
fn default_close() -> String {
    "CLOSE".into()
}
pub(super) fn default_cancel() -> String {
    "CANCEL".into()
}
pub(super) fn default_remove() -> String {
    "REMOVE".into()
}

/// A hand scanner, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scanner {
    /// Where it is.
    pub transport: Transport,
    /// TCP: listen for it rather than connect to it.
    pub listen: bool,
    /// Lines must carry a symbology identifier.
    pub require_identifier: bool,
    /// Its command barcodes.
    pub commands: Commands,
}

/// The command barcodes' texts, checked: distinct, printable ASCII, not digits only (an SSCC
/// or a GTIN must never read as a command).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Commands {
    /// Allocate and open a new package.
    pub new: String,
    /// Pack and close the open package.
    pub close: String,
    /// Forget the unpacked scans.
    pub cancel: String,
    /// Take the next scan out of the unpacked scans.
    pub remove: String,
}

/// Checks one scanner at key `path`.
pub(super) fn check_scanner(
    path: &str,
    raw: &ScannerSection,
    errors: &mut Errors,
) -> Option<Scanner> {
    let before = errors.len();
    let transport = check_transport(&format!("{path}.transport"), &raw.transport, errors);
    if raw.listen && !matches!(transport, Transport::Tcp { .. }) {
        errors.push(
            format!("{path}.listen"),
            "only a tcp transport can listen (a serial port is always opened)",
        );
    }
    let c = &raw.commands;
    let all = [
        ("new", &c.new),
        ("close", &c.close),
        ("cancel", &c.cancel),
        ("remove", &c.remove),
    ];
    check_commands(path, &all, errors);
    (errors.len() == before).then(|| Scanner {
        transport,
        listen: raw.listen,
        require_identifier: raw.require_identifier,
        commands: Commands {
            new: c.new.clone(),
            close: c.close.clone(),
            cancel: c.cancel.clone(),
            remove: c.remove.clone(),
        },
    })
}

/// Checks the command barcodes' texts `all` (key, text) of the scanner at `path`: printable
/// ASCII, not digits only (a GTIN or an SSCC must never read as a command), distinct.
pub(super) fn check_commands(path: &str, all: &[(&str, &String)], errors: &mut Errors) {
    for (i, (key, text)) in all.iter().enumerate() {
        let key = format!("{path}.commands.{key}");
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
            errors.push(&key, format!("{text:?} is not printable ASCII text"));
        } else if text.bytes().all(|b| b.is_ascii_digit()) {
            errors.push(
                &key,
                format!("{text:?} is digits only: it could be read as a code"),
            );
        }
        if let Some((other, _)) = all[..i].iter().find(|(_, t)| t == text) {
            errors.push(&key, format!("{text:?} is also the `{other}` command"));
        }
    }
}
