//! Recognise which scheme a code belongs to and parse it.
//!
//! SAMR 2024 annex 3 lets the producer choose the carrier (GS1, Ecode, digital-identity code, or a
//! platform's own shape), so a reader on the line, a QA re-scan or a script may hand tracemark any
//! of them. The order of the attempts follows from what each form looks like:
//!
//! 1. a GS1 symbology identifier (`]d2`, `]Q3`, `]C1`, …) means GS1 data;
//! 2. a URL belongs to the configured digital-identity resolver, the Ecode resolver (`…/E=<code>`),
//!    or else is a GS1 Digital Link URI;
//! 3. `(` starts a GS1 HRI;
//! 4. anything else is tried as the configured template (final when the length matches its shape),
//!    a GS1 element string, then an Ecode.
//!
//! Non-GS1 symbology identifiers (`]Q1`, `]d1`) are removed before the URL and text steps: a plain
//! QR Code carries URLs and platform codes.

use std::fmt;

use crate::digital_identity::{DigitalIdentity, DigitalIdentityConfig};
use crate::ecode::{Ecode, EcodeResolver};
use crate::gs1::{self, Gs1Scan};
use crate::template::{Template, TemplateCode};

/// What the parser knows about the producer's configuration.
#[derive(Debug, Clone, Default)]
pub struct SchemeOptions {
    /// Resolver of Ecode URLs.
    pub ecode_resolver: EcodeResolver,
    /// Resolver of digital-identity URLs, when the producer uses them.
    pub digital_identity: Option<DigitalIdentityConfig>,
    /// The producer's own code shape, when it has one.
    pub template: Option<Template>,
}

/// A recognised, validated code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedCode {
    /// GS1 (any form).
    Gs1(Gs1Scan),
    /// Ecode, from its numeric or URL form.
    Ecode(Ecode),
    /// A digital-identity URL.
    DigitalIdentity(DigitalIdentity),
    /// A template code.
    Template(TemplateCode),
}

impl ParsedCode {
    /// The scheme's stable name: `gs1`, `ecode`, `digital_identity` or `template`.
    pub fn scheme(&self) -> &'static str {
        match self {
            ParsedCode::Gs1(_) => "gs1",
            ParsedCode::Ecode(_) => "ecode",
            ParsedCode::DigitalIdentity(_) => "digital_identity",
            ParsedCode::Template(_) => "template",
        }
    }
}

/// No scheme accepted the input. Carries the reason of each scheme that was a plausible match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemeError {
    reasons: Vec<(&'static str, String)>,
}

impl fmt::Display for SchemeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reasons.as_slice() {
            [(_, only)] => f.write_str(only),
            reasons => {
                f.write_str("not a valid code in any configured scheme")?;
                for (scheme, reason) in reasons {
                    write!(f, "; {scheme}: {reason}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for SchemeError {}

/// Recognises and parses `input` (see the module documentation for the order of attempts).
pub fn parse_any(input: &str, options: &SchemeOptions) -> Result<ParsedCode, SchemeError> {
    let trimmed = input.trim_end_matches(['\r', '\n']);
    let is_gs1_identifier = trimmed
        .get(..3)
        .and_then(gs1::Gs1Symbology::from_identifier)
        .is_some();
    if is_gs1_identifier {
        return gs1::parse(trimmed)
            .map(ParsedCode::Gs1)
            .map_err(|e| single("gs1", e));
    }
    // Other identifiers announce plain data: drop them.
    // `get`, not indexing: the two characters after `]` may be anything a reader sends (found by
    // the parse_scan fuzz target).
    let data = trimmed
        .strip_prefix(']')
        .and_then(|rest| rest.get(2..))
        .unwrap_or(trimmed);
    if gs1::http_scheme_len(data).is_some() {
        return parse_url(data, options);
    }
    if data.starts_with('(') {
        return gs1::parse_hri(data)
            .map(hri_scan)
            .map_err(|e| single("gs1", e));
    }
    let mut reasons = Vec::new();
    if let Some(template) = &options.template {
        match template.parse_code(data) {
            Ok(code) => return Ok(ParsedCode::Template(code)),
            // Input of exactly the template's shape is a template code with a mistake, not an
            // Ecode that happens to have the same digits (Ecode has no check character).
            Err(e) if data.chars().count() == template.total_length() => {
                return Err(single("template", e));
            }
            Err(e) => reasons.push(("template", e.to_string())),
        }
    }
    match gs1::parse(data) {
        Ok(scan) => return Ok(ParsedCode::Gs1(scan)),
        Err(e) => reasons.push(("gs1", e.to_string())),
    }
    match Ecode::parse(data) {
        Ok(code) => Ok(ParsedCode::Ecode(code)),
        Err(e) => {
            reasons.push(("ecode", e.to_string()));
            Err(SchemeError { reasons })
        }
    }
}

fn parse_url(url: &str, options: &SchemeOptions) -> Result<ParsedCode, SchemeError> {
    let mut reasons = Vec::new();
    if let Some(config) = &options.digital_identity {
        match config.parse(url) {
            Ok(code) => return Ok(ParsedCode::DigitalIdentity(code)),
            Err(e) => reasons.push(("digital_identity", e.to_string())),
        }
    }
    if url.contains("/E=") {
        match options.ecode_resolver.parse(url) {
            Ok(code) => return Ok(ParsedCode::Ecode(code)),
            Err(e) => reasons.push(("ecode", e.to_string())),
        }
    }
    match gs1::parse_digital_link(url) {
        Ok(code) => Ok(ParsedCode::Gs1(Gs1Scan {
            symbology: None,
            form: gs1::Gs1Form::DigitalLink,
            code,
        })),
        Err(e) => {
            reasons.push(("gs1", e.to_string()));
            Err(SchemeError { reasons })
        }
    }
}

fn hri_scan(code: gs1::Gs1Code) -> ParsedCode {
    ParsedCode::Gs1(Gs1Scan {
        symbology: None,
        form: gs1::Gs1Form::Hri,
        code,
    })
}

fn single(scheme: &'static str, error: impl fmt::Display) -> SchemeError {
    SchemeError {
        reasons: vec![(scheme, error.to_string())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> SchemeOptions {
        SchemeOptions {
            ecode_resolver: EcodeResolver::default(),
            digital_identity: DigitalIdentityConfig::new("id.example.cn", "p").ok(),
            template: Template::parse("{date:YYMMDD}{serial:8:digits}{check:mod11-2}").ok(),
        }
    }

    #[test]
    fn recognises_each_scheme() {
        let o = options();
        let scheme = |input: &str| parse_any(input, &o).map(|c| c.scheme());
        assert_eq!(scheme("]d2010950600013435221A1"), Ok("gs1"));
        assert_eq!(scheme("(01)09506000134352(21)A1"), Ok("gs1"));
        assert_eq!(
            scheme("https://id.gs1.org/01/09506000134352/21/A1"),
            Ok("gs1")
        );
        assert_eq!(
            scheme("]Q1https://id.example.cn/p/K7Q2M9"),
            Ok("digital_identity")
        );
        assert_eq!(
            scheme("https://id.example.cn/p/K7Q2M9"),
            Ok("digital_identity")
        );
        let template_code = o
            .template
            .as_ref()
            .and_then(|t| t.format((2026, 11, 22), "00001234").ok())
            .unwrap_or_default();
        assert_eq!(scheme(&template_code), Ok("template"));
        let ecode = Ecode::v1("0001", "12345678901234567890")
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default();
        assert_eq!(scheme(&ecode), Ok("ecode"));
        let url = EcodeResolver::default().format(&Ecode::parse(&ecode).expect("valid"));
        assert_eq!(scheme(&url), Ok("ecode"));
    }

    #[test]
    fn identifier_followed_by_multibyte_text_is_an_error_not_a_panic() {
        // Fuzz crash input (codes/fuzz, parse_scan): "]" then a two-byte character.
        assert!(parse_any("]\u{6a4}e0U]40", &options()).is_err());
        assert!(parse_any("]é", &options()).is_err());
        assert!(parse_any("]", &options()).is_err());
    }

    #[test]
    fn errors_say_what_each_scheme_objected_to() {
        let err = parse_any("(01)09506000134353", &options()).expect_err("bad check digit");
        assert_eq!(
            err.to_string(),
            "AI (01) at character 18: check digit is 3, expected 2"
        );
        let err = parse_any("hello", &SchemeOptions::default()).expect_err("nothing");
        assert!(
            err.to_string()
                .starts_with("not a valid code in any configured scheme; gs1: "),
            "{err}"
        );
        assert!(err.to_string().contains("; ecode: "), "{err}");
    }
}
