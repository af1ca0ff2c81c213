//! The forms a public lookup arrives in, each taken apart by the `codes` crate's own parser
//! (nothing here cuts a code at fixed markers):
//!
//! - a GS1 Digital Link path (GS1 Digital Link URI Syntax 1.4 §4.5: `/01/{gtin}[/10/{lot}]/21/
//!   {serial}`, qualifiers in the order 22 → 10 → 21, other AIs in the query string);
//! - an Ecode resolver path (`/E={code}`, the form of `https://www.iotroot.com/E=<code>`,
//!   SAMR 2024 annex 3 §二);
//! - a digital-identity path (`/{prefix}/{serial}`, SPEC §4, annex 3 §三);
//! - raw scanner data (`/lookup?code=…`): GS1 element strings with FNC1 as GS, symbology
//!   identifiers (`]d2`, `]Q3`), HRI, Digital Link URLs, Ecodes.

use tracemark_codes::digital_identity::DigitalIdentityConfig;
use tracemark_codes::ecode::Ecode;
use tracemark_codes::gs1::{self, Gs1Code};
use tracemark_codes::scheme::{ParsedCode, SchemeOptions, parse_any};

use crate::app::AppError;

/// The host a path is put under to parse it as a URL (never shown, never resolved).
const PARSE_HOST: &str = "resolver.invalid";

/// A code as asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeQuery {
    /// A GS1 code: the GTIN, the serial (a product-level link has none) and the lot when the
    /// link carried one.
    Gs1 {
        /// AI (01), 14 digits.
        gtin: String,
        /// AI (21).
        serial: Option<String>,
        /// AI (10).
        lot: Option<String>,
    },
    /// An Ecode (its text form).
    Ecode(String),
    /// A digital-identity code (its serial).
    DigitalIdentity(String),
}

impl CodeQuery {
    /// The code's text as the store keeps it (GS1: the HRI of GTIN and serial), or `None` when
    /// it names no unit.
    pub fn code_text(&self) -> Option<String> {
        match self {
            CodeQuery::Gs1 {
                gtin,
                serial: Some(serial),
                ..
            } => Gs1Code::from_pairs([("01", gtin.as_str()), ("21", serial.as_str())])
                .ok()
                .map(|code| code.to_hri()),
            CodeQuery::Gs1 { serial: None, .. } => None,
            CodeQuery::Ecode(code) => Some(code.clone()),
            CodeQuery::DigitalIdentity(serial) => Some(serial.clone()),
        }
    }

    fn from_gs1(code: &Gs1Code) -> Result<CodeQuery, AppError> {
        let gtin = code.gtin().ok_or_else(|| {
            AppError::input(
                "code",
                "a GS1 code names a unit by its GTIN (01) and serial (21)",
            )
        })?;
        Ok(CodeQuery::Gs1 {
            gtin: gtin.to_owned(),
            serial: code.serial().map(str::to_owned),
            lot: code.get("10").map(str::to_owned),
        })
    }
}

/// A GS1 Digital Link request: `path` from its first `/` (`/01/…`), `query` without `?`.
/// A bad check digit, key qualifiers out of order or an unknown AI are refused (GS1-Conformant
/// Resolver standard §5: a request that is not a valid Digital Link URI gets 400).
pub fn digital_link(path: &str, query: Option<&str>) -> Result<CodeQuery, AppError> {
    let mut uri = String::with_capacity(PARSE_HOST.len() + path.len() + 16);
    uri.push_str("https://");
    uri.push_str(PARSE_HOST);
    uri.push_str(path);
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        uri.push('?');
        uri.push_str(query);
    }
    let code = gs1::parse_digital_link(&uri).map_err(|e| AppError::input("digital_link", e))?;
    CodeQuery::from_gs1(&code)
}

/// An Ecode resolver path's code (`E=` removed).
pub fn ecode(code: &str) -> Result<CodeQuery, AppError> {
    Ecode::parse(code)
        .map(|code| CodeQuery::Ecode(code.as_str().to_owned()))
        .map_err(|e| AppError::input("ecode", e))
}

/// A digital-identity path: `rest` after `/{prefix}/`.
pub fn digital_identity(prefix: &str, rest: &str) -> Result<CodeQuery, AppError> {
    let config = DigitalIdentityConfig::new(PARSE_HOST, prefix)
        .map_err(|e| AppError::input("digital_identity", e))?;
    let url = if prefix.is_empty() {
        format!("https://{PARSE_HOST}/{rest}")
    } else {
        format!("https://{PARSE_HOST}/{}/{rest}", prefix.trim_matches('/'))
    };
    config
        .parse(&url)
        .map(|code| CodeQuery::DigitalIdentity(code.serial().to_owned()))
        .map_err(|e| AppError::input("digital_identity", e))
}

/// Raw scanner data, as a phone or a hand scanner sends it.
pub fn scan(data: &str, digital_identity_prefix: &str) -> Result<CodeQuery, AppError> {
    let data = data.trim();
    if data.is_empty() {
        return Err(AppError::input("code", "empty: scan a trace code"));
    }
    // A URL to this kind of server's own paths: a Digital Link with /01/, an Ecode's /E=, or
    // a digital-identity path under any host (the host is the plant's, not known here).
    if let Some(path) = url_path(data) {
        if let Some(ecode_text) = path.strip_prefix("/E=") {
            return ecode(ecode_text);
        }
        let prefix = digital_identity_prefix.trim_matches('/');
        if !prefix.is_empty()
            && let Some(rest) = path
                .strip_prefix('/')
                .and_then(|p| p.strip_prefix(prefix))
                .and_then(|p| p.strip_prefix('/'))
        {
            return digital_identity(prefix, rest);
        }
    }
    match parse_any(data, &SchemeOptions::default()) {
        Ok(ParsedCode::Gs1(scan)) => CodeQuery::from_gs1(&scan.code),
        Ok(ParsedCode::Ecode(code)) => Ok(CodeQuery::Ecode(code.as_str().to_owned())),
        Ok(ParsedCode::DigitalIdentity(code)) => {
            Ok(CodeQuery::DigitalIdentity(code.serial().to_owned()))
        }
        Ok(ParsedCode::Template(_)) => Err(AppError::input("code", "not a trace code")),
        Err(e) => Err(AppError::input("code", e)),
    }
}

/// The path of an `http(s)://host/path` URL (`None` for other text).
fn url_path(data: &str) -> Option<&str> {
    let lower = data.get(..8)?.to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &data[8..]
    } else if lower.starts_with("http://") {
        &data[7..]
    } else {
        return None;
    };
    let path = &rest[rest.find('/')?..];
    Some(path.split(['?', '#']).next().unwrap_or(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gs1(serial: &str, lot: Option<&str>) -> CodeQuery {
        CodeQuery::Gs1 {
            gtin: "09506000134352".into(),
            serial: Some(serial.into()),
            lot: lot.map(str::to_owned),
        }
    }

    #[test]
    fn digital_link_paths() {
        assert_eq!(
            digital_link("/01/09506000134352/21/A1", None).expect("valid"),
            gs1("A1", None)
        );
        assert_eq!(
            digital_link("/01/09506000134352/10/L7/21/A1", Some("linkType=linkset"))
                .expect("valid"),
            gs1("A1", Some("L7"))
        );
        assert_eq!(
            gs1("A1", None).code_text().as_deref(),
            Some("(01)09506000134352(21)A1")
        );
        // Bad check digit, qualifiers out of order (21 before 10), unknown AI in the query.
        for (path, query) in [
            ("/01/09506000134353/21/A1", None),
            ("/01/09506000134352/21/A1/10/L7", None),
            ("/01/09506000134352/21/A1", Some("99999=1")),
        ] {
            let error = digital_link(path, query).expect_err(path);
            assert!(
                matches!(&error, AppError::Input { field, .. } if field == "digital_link"),
                "{error}"
            );
        }
    }

    #[test]
    fn scanner_data_in_every_form() {
        let wanted = gs1("A1", Some("L7"));
        for data in [
            "]d2010950600013435210L7\u{1d}21A1",
            "010950600013435210L7\u{1d}21A1",
            "(01)09506000134352(10)L7(21)A1",
            "https://id.example.cn/01/09506000134352/10/L7/21/A1",
        ] {
            assert_eq!(scan(data, "di").expect(data), wanted, "{data}");
        }
        assert_eq!(
            scan("https://id.example.cn/di/AbC-12", "di").expect("digital identity"),
            CodeQuery::DigitalIdentity("AbC-12".into())
        );
        assert!(scan("", "di").is_err());
        assert!(scan("(01)09506000134353(21)A1", "di").is_err());
    }
}
