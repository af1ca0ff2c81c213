//! Scanner output: a symbology identifier (ISO/IEC 15424) followed by the data.

use super::code::Gs1Code;
use super::digital_link::parse_digital_link;
use super::element::parse_element_string;
use super::error::{Gs1Error, Problem};
use super::hri::parse_hri;

/// The GS1 symbologies a line reads, by their symbology identifier (ISO/IEC 15424; General
/// Specifications §5.1.2, figure 5.1.2-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gs1Symbology {
    /// `]d2`: GS1 DataMatrix (FNC1 in first position).
    DataMatrix,
    /// `]Q3`: GS1 QR Code (FNC1 in first position).
    Qr,
    /// `]C1`: GS1-128.
    Gs1_128,
    /// `]e0`: GS1 DataBar.
    DataBar,
    /// `]J1`: GS1 DotCode.
    DotCode,
}

impl Gs1Symbology {
    /// The three-character symbology identifier.
    pub fn identifier(self) -> &'static str {
        match self {
            Gs1Symbology::DataMatrix => "]d2",
            Gs1Symbology::Qr => "]Q3",
            Gs1Symbology::Gs1_128 => "]C1",
            Gs1Symbology::DataBar => "]e0",
            Gs1Symbology::DotCode => "]J1",
        }
    }

    pub(crate) fn from_identifier(id: &str) -> Option<Self> {
        [
            Self::DataMatrix,
            Self::Qr,
            Self::Gs1_128,
            Self::DataBar,
            Self::DotCode,
        ]
        .into_iter()
        .find(|s| s.identifier() == id)
    }
}

/// Which of the three GS1 forms the input was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gs1Form {
    /// `(01)…(21)…`
    Hri,
    /// AIs and values with GS separators.
    ElementString,
    /// `https://…/01/…`
    DigitalLink,
}

/// A parsed scan or typed code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gs1Scan {
    /// The symbology identifier's GS1 symbology, when the input carried one.
    pub symbology: Option<Gs1Symbology>,
    /// The form the data was in.
    pub form: Gs1Form,
    /// The validated code.
    pub code: Gs1Code,
}

/// Parses GS1 data in any form: scanner output with or without a symbology identifier (`]d2`,
/// `]Q3`, `]C1`, …), an HRI string, an element string or a Digital Link URI.
///
/// A Digital Link URI read from a plain QR Code (`]Q1https://…`) is accepted; other non-GS1
/// symbology identifiers are refused. A trailing CR/LF (a common reader suffix) is ignored.
pub fn parse(input: &str) -> Result<Gs1Scan, Gs1Error> {
    let data = input.trim_end_matches(['\r', '\n']);
    let (symbology, offset, data) = match data.strip_prefix(']') {
        Some(rest) => {
            let id = data.get(..3).ok_or_else(|| {
                Gs1Error::new(
                    None,
                    Some(1),
                    Problem::Format("a symbology identifier has three characters, like ]d2".into()),
                )
            })?;
            match Gs1Symbology::from_identifier(id) {
                Some(symbology) => (Some(symbology), 3, &rest[2..]),
                None if is_uri(&rest[2..]) => (None, 3, &rest[2..]),
                None => {
                    return Err(Gs1Error::new(
                        None,
                        Some(1),
                        Problem::NotGs1Symbology(id.to_owned()),
                    ));
                }
            }
        }
        None => (None, 0, data),
    };
    if data.is_empty() {
        return Err(Gs1Error::new(None, Some(offset + 1), Problem::Empty));
    }
    let (form, code) = if symbology.is_none() && data.starts_with('(') {
        (
            Gs1Form::Hri,
            parse_hri(data).map_err(|e| e.shifted(offset))?,
        )
    } else if symbology.is_none() && is_uri(data) {
        (
            Gs1Form::DigitalLink,
            parse_digital_link(data).map_err(|e| e.shifted(offset))?,
        )
    } else {
        (Gs1Form::ElementString, parse_element_string(data, offset)?)
    };
    Ok(Gs1Scan {
        symbology,
        form,
        code,
    })
}

fn is_uri(data: &str) -> bool {
    super::digital_link::http_scheme_len(data).is_some()
}

impl Gs1Code {
    /// What a reader transmits for this code in `symbology`: identifier + element string.
    pub fn to_scanner_data(&self, symbology: Gs1Symbology) -> String {
        let mut out = String::from(symbology.identifier());
        out.push_str(&self.to_element_string());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_and_identifier() {
        let hri = "(01)09506000134352(21)A1B2C3";
        for input in [
            hri,
            "010950600013435221A1B2C3",
            "]d2010950600013435221A1B2C3",
            "]Q3010950600013435221A1B2C3\r\n",
            "]C1\u{1d}010950600013435221A1B2C3",
            "https://id.gs1.org/01/09506000134352/21/A1B2C3",
            "]Q1https://id.gs1.org/01/09506000134352/21/A1B2C3",
        ] {
            assert_eq!(
                parse(input).map(|s| s.code.to_hri()),
                Ok(hri.to_owned()),
                "{input:?}"
            );
        }
    }

    #[test]
    fn positions_count_the_identifier() {
        let err = parse("]d2010950600013435221A1 B2C3").expect_err("space");
        assert_eq!(
            err.to_string(),
            "AI (21) at character 24: space is not in CSET 82"
        );
        let err = parse("]d1010950600013435221A1").expect_err("not gs1");
        assert_eq!(
            err.to_string(),
            "at character 1: symbology identifier ]d1 does not announce GS1 data"
        );
    }
}
