//! What the label scanner reads off a printed label, and the result it publishes.

use std::collections::BTreeMap;

use tracemark_codes::symbol::decode_luma;
use tracemark_drivers::zpl::bc;
use tracemark_drivers::zpl::logistic::SSCC_SYMBOL;

/// Pixels per module of the scanner's picture, and the quiet zone in modules (ISO/IEC 15417:
/// at least 10 X).
const MODULE_PX: usize = 2;
const QUIET_MODULES: usize = 10;
const HEIGHT_PX: usize = 40;

/// A bad label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misprint {
    /// A band of the bars did not print: nothing decodes.
    Unreadable,
    /// The label carries the previous label's barcodes.
    WrongBarcode,
}

/// One label as printed and applied: the ground truth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedLabel {
    /// The SSCC the label was sent for (the `^FN1` data the printer received, read as the
    /// printer reads it), `None` when that does not decode either.
    pub sent_for: Option<String>,
    /// What its SSCC symbol physically reads: the data after `00`, `None` when unreadable.
    pub read: Option<String>,
    /// What went wrong, if anything.
    pub misprint: Option<Misprint>,
}

impl AppliedLabel {
    /// The label reads as the SSCC it was printed for.
    pub fn good(&self) -> bool {
        self.read.is_some() && self.read == self.sent_for
    }
}

/// Reads a printed label: `sent` is what the printer received, `carried` what is physically on
/// the label (the same unless the wrong barcode was printed); `symbols` the template's `^BC`
/// fields.
pub fn read_label(
    symbols: &BTreeMap<u16, String>,
    sent: &BTreeMap<u16, String>,
    carried: &BTreeMap<u16, String>,
    misprint: Option<Misprint>,
) -> AppliedLabel {
    let sscc_of = |fields: &BTreeMap<u16, String>, damaged: bool| {
        symbols
            .keys()
            .filter(|field| **field == SSCC_SYMBOL)
            .filter_map(|field| fields.get(field))
            .find_map(|data| decode_field(data, damaged))
            .and_then(|read| read.strip_prefix("00").map(str::to_owned))
    };
    AppliedLabel {
        sent_for: sscc_of(sent, false),
        read: sscc_of(carried, misprint == Some(Misprint::Unreadable)),
        misprint,
    }
}

/// Draws the `^BC` field data as the printer does and decodes the picture (rxing); `damaged`
/// leaves a band of a fifth of the symbol unprinted. The decoded data, GS as separators.
fn decode_field(field: &str, damaged: bool) -> Option<String> {
    let characters = bc::symbol_characters(field.as_bytes()).ok()?;
    let bars = bc::modules(&characters);
    let width = (bars.len() + 2 * QUIET_MODULES) * MODULE_PX;
    let mut row = vec![255u8; width];
    for (i, dark) in bars.iter().enumerate() {
        if *dark {
            let x = (QUIET_MODULES + i) * MODULE_PX;
            row[x..x + MODULE_PX].fill(0);
        }
    }
    if damaged {
        let from = width * 2 / 5;
        row[from..from + width / 5].fill(255);
    }
    let pixels = row.repeat(HEIGHT_PX);
    let decoded = decode_luma(&pixels, width as u32, HEIGHT_PX as u32).ok()?;
    (decoded.symbology_identifier() == "]C1")
        .then(|| String::from_utf8_lossy(decoded.data()).into_owned())
}

/// The reader result of one label (SPEC §5): the SSCC symbol's data with its symbology
/// identifier, or `null` for a no-read.
pub(super) fn payload(reader: &str, seq: u64, sscc: Option<&str>) -> Vec<u8> {
    // Built by serde_json so that whatever a decode gives is escaped as JSON requires.
    serde_json::json!({
        "reader": reader,
        "seq": seq,
        "symbology": "gs1-128",
        "data": sscc.map(|sscc| format!("]C100{sscc}")),
    })
    .to_string()
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_reads_back_unless_damaged_or_wrong() {
        let symbols = BTreeMap::from([(1, "N,260,N,N,N,N".to_owned())]);
        let label = |sscc: &str| BTreeMap::from([(1, format!(">;>800{sscc}"))]);
        let a = label("095060000000000015");
        let b = label("095060000000000022");
        let good = read_label(&symbols, &a, &a, None);
        assert!(good.good(), "{good:?}");
        assert_eq!(good.read.as_deref(), Some("095060000000000015"));
        let smudged = read_label(&symbols, &a, &a, Some(Misprint::Unreadable));
        assert_eq!(smudged.read, None);
        assert!(!smudged.good());
        let wrong = read_label(&symbols, &b, &a, Some(Misprint::WrongBarcode));
        assert_eq!(wrong.read.as_deref(), Some("095060000000000015"));
        assert!(!wrong.good());
        assert_eq!(
            payload("labelscan", 3, None),
            b"{\"reader\":\"labelscan\",\"seq\":3,\"symbology\":\"gs1-128\",\"data\":null}"
        );
    }
}
