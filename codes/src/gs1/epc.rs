//! EPC URNs and canonical Digital Link URIs of the keys an EPCIS document names (GS1 EPC Tag
//! Data Standard 2.0, "TDS", §6; GS1 Digital Link URI Syntax §4).
//!
//! An EPC URN splits a key at the end of its GS1 company prefix (TDS §6.3), which the key alone
//! does not tell: the caller gives the prefix length (6 to 12 digits, TDS §7.1: EPC URNs need a
//! company prefix of at least 6 digits). The Digital Link forms need no prefix length; they are
//! written on the domain `https://id.gs1.org` (the canonical form, Digital Link §4.11, the one
//! the CBV 2.0 §8.9.2 event hash uses).
//!
//! ```
//! use tracemark_codes::gs1::{Gtin, Sscc, epc};
//! let gtin = Gtin::parse("04047023775511")?;
//! assert_eq!(epc::sgtin_urn(&gtin, "98", 7)?, "urn:epc:id:sgtin:4047023.077551.98");
//! assert_eq!(epc::sgtin_digital_link(&gtin, "98"), "https://id.gs1.org/01/04047023775511/21/98");
//! let sscc = Sscc::parse("040470231111111229")?;
//! assert_eq!(epc::sscc_urn(&sscc, 7)?, "urn:epc:id:sscc:4047023.0111111122");
//! # Ok::<(), tracemark_codes::gs1::Gs1Error>(())
//! ```

use super::DEFAULT_DOMAIN;
use super::ai::Charset;
use super::check::has_valid_check_digit;
use super::digital_link::percent_encode;
use super::error::{Gs1Error, Problem};
use super::keys::{Gtin, Sscc};

/// The shortest and longest GS1 company prefix an EPC URN can carry (TDS §7.1, Table 7-2: the
/// partition tables run from 12 down to 6 digits).
pub const COMPANY_PREFIX_LENGTHS: std::ops::RangeInclusive<usize> = 6..=12;

/// `urn:epc:id:sgtin:CompanyPrefix.ItemRefAndIndicator.Serial` (TDS §6.3.1): the indicator
/// digit moves in front of the item reference, the check digit is dropped, and the serial is
/// escaped as TDS §5 requires of a URN.
pub fn sgtin_urn(gtin: &Gtin, serial: &str, company_prefix_len: usize) -> Result<String, Gs1Error> {
    check_prefix_len("01", company_prefix_len)?;
    check_serial("21", serial)?;
    let digits = gtin.as_str();
    let prefix = &digits[1..1 + company_prefix_len];
    let item_reference = &digits[1 + company_prefix_len..13];
    let mut urn = String::with_capacity(40 + serial.len());
    urn.push_str("urn:epc:id:sgtin:");
    urn.push_str(prefix);
    urn.push('.');
    urn.push_str(&digits[..1]);
    urn.push_str(item_reference);
    urn.push('.');
    push_urn_escaped(&mut urn, serial);
    Ok(urn)
}

/// `urn:epc:id:sscc:CompanyPrefix.SerialReference` (TDS §6.3.2): the extension digit moves in
/// front of the serial reference, the check digit is dropped.
pub fn sscc_urn(sscc: &Sscc, company_prefix_len: usize) -> Result<String, Gs1Error> {
    check_prefix_len("00", company_prefix_len)?;
    let digits = sscc.as_str();
    Ok(format!(
        "urn:epc:id:sscc:{}.{}{}",
        &digits[1..1 + company_prefix_len],
        &digits[..1],
        &digits[1 + company_prefix_len..17]
    ))
}

/// `urn:epc:id:sgln:CompanyPrefix.LocationReference.Extension` (TDS §6.3.3) of a GLN and its
/// extension (AI 254; `0` when there is none, as TDS §6.3.3 says).
pub fn sgln_urn(
    gln: &str,
    extension: Option<&str>,
    company_prefix_len: usize,
) -> Result<String, Gs1Error> {
    validate_gln(gln)?;
    check_prefix_len("414", company_prefix_len)?;
    let mut urn = format!(
        "urn:epc:id:sgln:{}.{}.",
        &gln[..company_prefix_len],
        &gln[company_prefix_len..12]
    );
    match extension {
        Some(extension) => {
            check_serial("254", extension)?;
            push_urn_escaped(&mut urn, extension);
        }
        None => urn.push('0'),
    }
    Ok(urn)
}

/// The canonical Digital Link URI of a serialised GTIN: `https://id.gs1.org/01/GTIN/21/SERIAL`.
pub fn sgtin_digital_link(gtin: &Gtin, serial: &str) -> String {
    let mut uri = format!("{DEFAULT_DOMAIN}/01/{}/21/", gtin.as_str());
    percent_encode(&mut uri, serial);
    uri
}

/// The canonical Digital Link URI of an SSCC: `https://id.gs1.org/00/SSCC`.
pub fn sscc_digital_link(sscc: &Sscc) -> String {
    format!("{DEFAULT_DOMAIN}/00/{}", sscc.as_str())
}

/// The canonical Digital Link URI of a GLN with an optional extension (AI 254):
/// `https://id.gs1.org/414/GLN/254/EXT`.
pub fn gln_digital_link(gln: &str, extension: Option<&str>) -> Result<String, Gs1Error> {
    validate_gln(gln)?;
    let mut uri = format!("{DEFAULT_DOMAIN}/414/{gln}");
    if let Some(extension) = extension {
        check_serial("254", extension)?;
        uri.push_str("/254/");
        percent_encode(&mut uri, extension);
    }
    Ok(uri)
}

/// A Global Location Number: 13 digits with a valid mod-10 check digit (General Specifications
/// §3.2, AI 414).
pub fn validate_gln(gln: &str) -> Result<(), Gs1Error> {
    if gln.len() != 13 || !gln.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format_error("414", format!("GLN {gln:?} is not 13 digits")));
    }
    if !has_valid_check_digit(gln.as_bytes()) {
        return Err(format_error(
            "414",
            format!("GLN {gln} has a wrong check digit"),
        ));
    }
    Ok(())
}

fn format_error(ai: &'static str, what: String) -> Gs1Error {
    Gs1Error::new(Some(ai), None, Problem::Format(what))
}

fn check_prefix_len(ai: &'static str, len: usize) -> Result<(), Gs1Error> {
    if COMPANY_PREFIX_LENGTHS.contains(&len) {
        Ok(())
    } else {
        Err(format_error(
            ai,
            format!("a GS1 company prefix of {len} digits has no EPC URN (TDS §7.1: 6 to 12)"),
        ))
    }
}

/// A serial or extension: 1 to 20 characters of CSET 82 (General Specifications §3.2: AI 21
/// and AI 254 are X..20).
fn check_serial(ai: &'static str, value: &str) -> Result<(), Gs1Error> {
    if value.is_empty() || value.len() > 20 {
        return Err(format_error(
            ai,
            format!("{value:?} is not 1 to 20 characters"),
        ));
    }
    if let Some((at, c)) = value
        .char_indices()
        .find(|(_, c)| !u8::try_from(*c).is_ok_and(|b| Charset::Cset82.contains(b)))
    {
        return Err(Gs1Error::new(
            Some(ai),
            Some(at + 1),
            Problem::NotInCharset {
                found: c,
                charset: Charset::Cset82,
            },
        ));
    }
    Ok(())
}

/// Escapes the CSET 82 characters a URN may not carry as they are (TDS §5, Table A-1: `"`, `%`,
/// `&`, `/`, `<`, `>`, `?`, each as `%` and two upper-case hex digits).
fn push_urn_escaped(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '"' => out.push_str("%22"),
            '%' => out.push_str("%25"),
            '&' => out.push_str("%26"),
            '/' => out.push_str("%2F"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '?' => out.push_str("%3F"),
            other => out.push(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gtin(text: &str) -> Gtin {
        Gtin::parse(text).expect("gtin")
    }

    /// TDS §6.3.1's example: GTIN 80614141123458, serial 6789AB, 7-digit company prefix.
    #[test]
    fn sgtin_urn_of_the_tds_example() {
        assert_eq!(
            sgtin_urn(&gtin("80614141123458"), "6789AB", 7).expect("urn"),
            "urn:epc:id:sgtin:0614141.812345.6789AB"
        );
    }

    /// The characters TDS §5 escapes in a URN, and the ones it leaves.
    #[test]
    fn sgtin_urn_escapes_what_a_urn_cannot_carry() {
        assert_eq!(
            sgtin_urn(&gtin("80614141123458"), "32a/b", 7).expect("urn"),
            "urn:epc:id:sgtin:0614141.812345.32a%2Fb"
        );
        assert_eq!(
            sgtin_urn(&gtin("80614141123458"), "a\"%&<>?z!", 7).expect("urn"),
            "urn:epc:id:sgtin:0614141.812345.a%22%25%26%3C%3E%3Fz!"
        );
    }

    /// Prefix lengths at both ends of TDS Table 7-2, and outside it.
    #[test]
    fn sgtin_urn_at_every_prefix_length() {
        let g = gtin("10614141073464");
        assert_eq!(
            sgtin_urn(&g, "2017", 12).expect("urn"),
            "urn:epc:id:sgtin:061414107346.1.2017"
        );
        assert_eq!(
            sgtin_urn(&g, "2017", 6).expect("urn"),
            "urn:epc:id:sgtin:061414.1107346.2017"
        );
        assert!(sgtin_urn(&g, "2017", 5).is_err());
        assert!(sgtin_urn(&g, "2017", 13).is_err());
        assert!(sgtin_urn(&g, "", 7).is_err());
        assert!(sgtin_urn(&g, "has space", 7).is_err());
    }

    /// TDS §6.3.2's example: SSCC 106141412345678908 with a 7-digit company prefix.
    #[test]
    fn sscc_urn_of_the_tds_example() {
        let sscc = Sscc::parse("106141412345678908").expect("sscc");
        assert_eq!(
            sscc_urn(&sscc, 7).expect("urn"),
            "urn:epc:id:sscc:0614141.1234567890"
        );
        assert_eq!(
            sscc_digital_link(&sscc),
            "https://id.gs1.org/00/106141412345678908"
        );
    }

    /// TDS §6.3.3's example: GLN 0614141123452 with extension 5678.
    #[test]
    fn sgln_urn_of_the_tds_example() {
        assert_eq!(
            sgln_urn("0614141123452", Some("5678"), 7).expect("urn"),
            "urn:epc:id:sgln:0614141.12345.5678"
        );
        assert_eq!(
            sgln_urn("0614141123452", None, 7).expect("urn"),
            "urn:epc:id:sgln:0614141.12345.0"
        );
        assert_eq!(
            gln_digital_link("0614141123452", Some("5678")).expect("uri"),
            "https://id.gs1.org/414/0614141123452/254/5678"
        );
        assert!(validate_gln("0614141123453").is_err());
        assert!(validate_gln("061414112345").is_err());
    }

    /// The pairs of the GS1 event hash examples (epcis-event-hash-generator,
    /// `epcisDocWithVariousEventTypes`): the URN in the document, the Digital Link in the
    /// pre-hash string.
    #[test]
    fn urn_and_digital_link_agree_with_the_hash_examples() {
        let g = gtin("04047023775511");
        assert_eq!(
            sgtin_urn(&g, "107", 7).expect("urn"),
            "urn:epc:id:sgtin:4047023.077551.107"
        );
        assert_eq!(
            sgtin_digital_link(&g, "107"),
            "https://id.gs1.org/01/04047023775511/21/107"
        );
        let sscc = Sscc::parse("040470231111111229").expect("sscc");
        assert_eq!(
            sscc_urn(&sscc, 7).expect("urn"),
            "urn:epc:id:sscc:4047023.0111111122"
        );
        assert_eq!(
            gln_digital_link("4047023000125", None).expect("uri"),
            "https://id.gs1.org/414/4047023000125"
        );
    }

    #[test]
    fn digital_link_percent_encodes_the_serial() {
        assert_eq!(
            sgtin_digital_link(&gtin("09506000134352"), "A/1%"),
            "https://id.gs1.org/01/09506000134352/21/A%2F1%25"
        );
    }
}
