//! What a hand scan is: a command barcode, a package label (an SSCC), a unit's code, or
//! nothing this station knows.
//!
//! The line has been framed and its symbology identifier taken apart by the driver
//! (`tracemark_drivers::scanner`). Here the data are recognised the way every other input of
//! tracemark is: `tracemark_codes::scheme::parse_any` (GS1 in any form — a `]C1` GS1-128
//! label, a `]d2`/`]Q3` unit symbol, an HRI, a Digital Link URL from a `]Q1` QR Code — Ecode,
//! templates), then the store's mapping of a code to its stored text
//! (`tracemark_store::Scheme::parts_of`, the one the line's verification uses). A GS1 scan with
//! AI `(00)` is a package label (GS1 General Specifications §2.2.1: the SSCC identifies a
//! logistic unit), whatever else the symbol carries.

use tracemark_codes::scheme::{SchemeOptions, parse_any};
use tracemark_drivers::scanner::Scan;
use tracemark_store::Scheme;

use crate::config::Commands;

/// A station command (the command barcodes of `[packing.scanner.commands]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    /// Allocate a new SSCC and open it.
    New,
    /// Pack the scans into the open package and close it.
    Close,
    /// Forget the scans not packed and leave the package.
    Cancel,
    /// The next scan takes a child out of the scans.
    Remove,
}

/// A scan, recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Read {
    /// A command barcode; its text.
    Command(Command, String),
    /// A package label: the SSCC, 18 digits.
    Package(String),
    /// A unit's code, as the store writes it (GS1: `(01)GTIN(21)SERIAL`).
    Unit(String),
    /// Nothing this station knows: what was read and why.
    Unknown {
        /// The data (control characters shown as `\u{1d}` escapes).
        data: String,
        /// Why it is not a package or a unit.
        reason: String,
    },
}

/// Recognises `scan` with the station's `commands`. Commands are compared with the whole data,
/// in any symbology (they are usually plain Code 128, `]C0`).
pub(crate) fn recognise(scan: &Scan, commands: &Commands) -> Read {
    let table = [
        (Command::New, &commands.new),
        (Command::Close, &commands.close),
        (Command::Cancel, &commands.cancel),
        (Command::Remove, &commands.remove),
    ];
    if let Some((command, text)) = table.iter().find(|(_, text)| **text == scan.data) {
        return Read::Command(*command, (*text).clone());
    }
    let text = scan.text();
    let unknown = |reason: String| Read::Unknown {
        data: scan.data.escape_default().to_string(),
        reason,
    };
    match parse_any(&text, &SchemeOptions::default()) {
        Ok(tracemark_codes::scheme::ParsedCode::Gs1(gs1)) => {
            if let Some(sscc) = gs1.code.get("00") {
                return Read::Package(sscc.to_owned());
            }
            match Scheme::parts_of(&text) {
                Some(parts) => Read::Unit(parts.scheme.code_text(&parts.key, &parts.serial)),
                None => {
                    unknown("a GS1 code without a GTIN and serial (01)(21) or an SSCC (00)".into())
                }
            }
        }
        Ok(other) => match Scheme::parts_of(&text) {
            Some(parts) => Read::Unit(parts.scheme.code_text(&parts.key, &parts.serial)),
            None => unknown(format!(
                "a {} code: this store issues GS1 codes only",
                other.scheme()
            )),
        },
        Err(e) => unknown(format!("not a code: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracemark_drivers::scanner::{ParseOptions, parse_line};

    fn commands() -> Commands {
        Commands {
            new: "NEW".into(),
            close: "CLOSE".into(),
            cancel: "CANCEL".into(),
            remove: "REMOVE".into(),
        }
    }

    fn read(line: &[u8]) -> Read {
        let scan = parse_line(line, ParseOptions::default()).expect("line");
        recognise(&scan, &commands())
    }

    #[test]
    fn commands_labels_and_units() {
        assert_eq!(
            read(b"]C0CLOSE"),
            Read::Command(Command::Close, "CLOSE".into())
        );
        assert_eq!(read(b"]C0NEW"), Read::Command(Command::New, "NEW".into()));
        // The SSCC label: ]C1 00 + SSCC (GS1-128).
        assert_eq!(
            read(b"]C100095060000000000015"),
            Read::Package("095060000000000015".into())
        );
        // A unit's GS1 DataMatrix with a lot between the GTIN and the serial: the stored code
        // is (01)(21) only.
        assert_eq!(
            read(b"]d2010950600013435210L1\x1d21A1B2"),
            Read::Unit("(01)09506000134352(21)A1B2".into())
        );
        // The same unit from a GS1 QR Code, an HRI typed as plain Code 128, a Digital Link URL.
        for line in [
            &b"]Q3010950600013435221A1B2"[..],
            b"]C0(01)09506000134352(21)A1B2",
            b"]Q1https://id.gs1.org/01/09506000134352/21/A1B2",
        ] {
            assert_eq!(
                read(line),
                Read::Unit("(01)09506000134352(21)A1B2".into()),
                "{line:?}"
            );
        }
    }

    #[test]
    fn what_the_station_does_not_know_says_why() {
        let Read::Unknown { data, reason } = read(b"]E09506000134352") else {
            panic!("an EAN-13 is no unit code");
        };
        assert_eq!(data, "9506000134352");
        assert!(!reason.is_empty());
        let Read::Unknown { reason, .. } = read(b"]C1010950600013435217261231") else {
            panic!("GTIN and expiry without a serial");
        };
        assert_eq!(
            reason,
            "a GS1 code without a GTIN and serial (01)(21) or an SSCC (00)"
        );
        let Read::Unknown { reason, .. } = read(b"]C0HELLO") else {
            panic!("text");
        };
        assert!(reason.starts_with("not a code"), "{reason}");
        // A broken SSCC check digit is refused with the GS1 parser's reason.
        let Read::Unknown { reason, .. } = read(b"]C100095060000000000016") else {
            panic!("bad check digit");
        };
        assert!(reason.contains("check digit"), "{reason}");
    }
}
