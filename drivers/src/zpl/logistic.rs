//! The GS1 logistic label of a carton or pallet as ZPL: a stored template (`^DF`, the file in
//! `line-configs/labels/`) recalled per package (`^XF`) with its `^FN` fields filled. The one
//! place where label data becomes printer bytes. Pure, no I/O.
//!
//! The fields (a template places the ones it wants; the SSCC symbol is required):
//!
//! | `^FN` | holds |
//! |---|---|
//! | [`SSCC_SYMBOL`] (1) | the SSCC symbol's `^BC` mode N field data: `>;>800…` |
//! | [`SSCC_TEXT`] (2) | its human-readable text, `(00) 0 9506000 000000001 5` |
//! | [`CONTENT_SYMBOL`] (3) | the content symbol's field data, `(02)…(37)…(10)…` |
//! | [`CONTENT_TEXT`] (4) | its text, `(02)09506000134352(17)271231(37)12(10)L1` |
//! | [`TITLE`] (5) | the product's name |
//! | [`TEXT_LINES`] (10–15) | the data titles and values, `CONTENT 09506000134352`, … |
//!
//! A field without data (the content of a mixed pallet, fewer text lines) is left out of the
//! recall and prints nothing \[ZPL-FN\]. The symbols are `^BC` in mode N with the start and FNC1
//! codes written here ([`super::bc`]); a template whose SSCC or content field is not in a
//! `^BC…,N` field is refused, since its printer would encode other bars.

use super::bc::{self, BcError};
use super::codec::{LabelError, TemplateName, encode_field_data, encode_store_template};

/// `^FN` of the SSCC symbol.
pub const SSCC_SYMBOL: u16 = 1;
/// `^FN` of the SSCC's text.
pub const SSCC_TEXT: u16 = 2;
/// `^FN` of the content symbol.
pub const CONTENT_SYMBOL: u16 = 3;
/// `^FN` of the content's text.
pub const CONTENT_TEXT: u16 = 4;
/// `^FN` of the title (the product's name).
pub const TITLE: u16 = 5;
/// `^FN` of the text lines, in order.
pub const TEXT_LINES: std::ops::RangeInclusive<u16> = 10..=15;

/// The stored format's default name.
pub const DEFAULT_TEMPLATE_NAME: &str = "R:SSCC.ZPL";

/// What one label says: element strings (GS between variable-length AIs) and text, as
/// `tracemark_codes::gs1::LogisticLabel` builds them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelData {
    /// The SSCC symbol's element string, `00` + 18 digits.
    pub sscc: String,
    /// Its HRI, `(00)…`.
    pub sscc_text: String,
    /// The content symbol's element string, if the package holds one trade item.
    pub content: Option<String>,
    /// Its HRI.
    pub content_text: Option<String>,
    /// The product's name.
    pub title: Option<String>,
    /// Data titles and values, one per line; at most six are printed.
    pub lines: Vec<String>,
}

impl LabelData {
    /// What `label` says, titled with the product's name.
    pub fn of(label: &tracemark_codes::gs1::LogisticLabel, title: Option<&str>) -> Self {
        let content = label.content_symbol();
        LabelData {
            sscc: label.sscc_symbol().to_element_string(),
            sscc_text: label.sscc_symbol().to_hri(),
            content: content.map(|c| c.to_element_string()),
            content_text: content.map(|c| c.to_hri()),
            title: title.map(str::to_owned),
            lines: label.text_lines(),
        }
    }
}

/// A refused template or label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogisticError {
    /// The stored-format name or body, or a field.
    #[error(transparent)]
    Label(#[from] LabelError),
    /// A symbol's data that Code 128 cannot hold.
    #[error("^FN{field}: {error}")]
    Symbol {
        /// The field.
        field: u16,
        /// Why.
        error: BcError,
    },
    /// The template does not print a symbol as tracemark writes it.
    #[error("template: {0}")]
    Template(String),
}

/// The logistic label template: its stored name and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogisticTemplate {
    name: TemplateName,
    body: String,
    /// The `^DF` that stores it.
    store: Vec<u8>,
}

impl LogisticTemplate {
    /// The template `body` (a ZPL format body without `^XA`/`^XZ`; `^FX` comment lines are
    /// kept) stored as `name` (`d:NAME.ZPL`). Refused when the body would end the format,
    /// does not place the SSCC symbol, or places a symbol field outside a `^BC` field in mode N.
    pub fn new(name: &str, body: &str) -> Result<Self, LogisticError> {
        let name = TemplateName::parse(name)?;
        // A template file ends with a newline; between commands it is ignored by the printer.
        let body = body.trim_end().to_owned();
        let symbols = bc::barcode_fields(&body);
        for field in [SSCC_SYMBOL, CONTENT_SYMBOL] {
            match symbols.iter().find(|(number, _)| *number == field) {
                Some((_, params)) if bc::bc_mode(params) != 'N' => {
                    return Err(LogisticError::Template(format!(
                        "^FN{field} is in ^BC{params}, mode {}: use mode N (tracemark writes \
                         the start and FNC1 codes itself; ZPL II Programming Guide, ^BC)",
                        bc::bc_mode(params)
                    )));
                }
                Some(_) => {}
                None if field == SSCC_SYMBOL => {
                    return Err(LogisticError::Template(format!(
                        "no ^BC field holds ^FN{SSCC_SYMBOL}: the SSCC would not print as a \
                         GS1-128 symbol"
                    )));
                }
                None if body.contains(&format!("^FN{field}^")) => {
                    return Err(LogisticError::Template(format!(
                        "^FN{field} (the content symbol) is not in a ^BC field"
                    )));
                }
                None => {}
            }
        }
        let store = encode_store_template(&name, &body, SSCC_SYMBOL)?;
        Ok(Self { name, body, store })
    }

    /// `^XA^DFd:NAME.ZPL^FS<body>^XZ`: stores the template in the printer \[ZPL-DF\].
    pub fn store_bytes(&self) -> &[u8] {
        &self.store
    }

    /// The template's body.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The stored format's path, `d:NAME.ZPL`.
    pub fn path(&self) -> String {
        self.name.path()
    }

    /// The label of `data`: `^XA^XFd:NAME.ZPL^FS`, each field with data as
    /// `^FN<n>^FD…^FS` in field order, `^XZ` \[ZPL-XF\] \[ZPL-FN\].
    pub fn label(&self, data: &LabelData) -> Result<Vec<u8>, LogisticError> {
        let mut fields: Vec<(u16, Vec<u8>)> = Vec::with_capacity(12);
        let symbol = |field: u16, element_string: &str| {
            bc::field_data(element_string.as_bytes())
                .map_err(|error| LogisticError::Symbol { field, error })
        };
        fields.push((SSCC_SYMBOL, symbol(SSCC_SYMBOL, &data.sscc)?));
        fields.push((SSCC_TEXT, data.sscc_text.clone().into_bytes()));
        if let Some(content) = &data.content {
            fields.push((CONTENT_SYMBOL, symbol(CONTENT_SYMBOL, content)?));
        }
        if let Some(text) = &data.content_text {
            fields.push((CONTENT_TEXT, text.clone().into_bytes()));
        }
        if let Some(title) = &data.title {
            fields.push((TITLE, title.clone().into_bytes()));
        }
        for (number, line) in TEXT_LINES.zip(&data.lines) {
            fields.push((number, line.clone().into_bytes()));
        }
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"^XA^XF");
        out.extend_from_slice(self.name.path().as_bytes());
        out.extend_from_slice(b"^FS");
        for (number, data) in fields.iter().filter(|(_, data)| !data.is_empty()) {
            if data.len() > super::codec::MAX_FIELD_DATA {
                return Err(LabelError::TooLong {
                    field: *number,
                    len: data.len(),
                }
                .into());
            }
            out.extend_from_slice(format!("^FN{number}").as_bytes());
            encode_field_data(&mut out, data);
        }
        out.extend_from_slice(b"^XZ");
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "^FO50,50^BY3^BCN,200,N,N,N,N^FN1^FS^FO50,260^A0N,30,30^FN2^FS\n";

    #[test]
    fn a_label_recalls_the_template_with_its_fields() {
        let template = LogisticTemplate::new("R:SSCC.ZPL", BODY).unwrap();
        assert_eq!(
            template.store_bytes(),
            b"^XA^DFR:SSCC.ZPL^FS^FO50,50^BY3^BCN,200,N,N,N,N^FN1^FS^FO50,260^A0N,30,30^FN2^FS^XZ"
        );
        let data = LabelData {
            sscc: "00095060000000000015".into(),
            sscc_text: "(00)095060000000000015".into(),
            ..LabelData::default()
        };
        assert_eq!(
            template.label(&data).unwrap(),
            b"^XA^XFR:SSCC.ZPL^FS^FN1^FD>;>800095060000000000015^FS\
              ^FN2^FD(00)095060000000000015^FS^XZ"
                .to_vec()
        );
    }

    #[test]
    fn templates_that_would_print_other_bars_are_refused() {
        for (body, why) in [
            ("^FO1,1^A0N,30,30^FN1^FS", "no ^BC field holds ^FN1"),
            ("^FO1,1^BCN,200,N,N,N,D^FN1^FS", "mode D"),
            (
                "^FO1,1^BCN,200^FN1^FS^FO1,1^A0N^FN3^FS",
                "^FN3 (the content symbol)",
            ),
            ("^FO1,1^BCN,200^FN1^FS^XZ", "^XZ"),
        ] {
            let error = LogisticTemplate::new("R:SSCC.ZPL", body).unwrap_err();
            assert!(error.to_string().contains(why), "{body}: {error}");
        }
        assert!(LogisticTemplate::new("R:S-1.ZPL", BODY).is_err());
    }
}
