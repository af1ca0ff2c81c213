//! What a GS1 logistic label says (GS1 Logistic Label Guideline; General Specifications §2.2.1
//! for the SSCC, §3.2 for the AIs): the SSCC in a GS1-128 symbol of its own, and for a package of
//! one trade item the content in a second GS1-128 symbol — `(02)` the GTIN of the units, `(37)`
//! their count, `(10)` the lot, `(11)`/`(17)` the dates — each with its text.
//!
//! The whole label is validated as one GS1 code first: `(02)` needs `(37)` and `(37)` needs `(00)`
//! with `(02)` (the syntax dictionary's requisites span the symbols of one label), then split
//! into its symbols. Within the content symbol the fixed-length AIs come first so that only one
//! FNC1 separator is needed, between `(37)` and `(10)` (General Specifications §7.8.5).

use super::code::Gs1Code;
use super::error::{Gs1Error, Problem};
use super::keys::{Gtin, Sscc};

/// What a package holds: units of one trade item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// The GTIN of the units (AI 02).
    pub gtin: Gtin,
    /// How many units (AI 37, 1 to 99,999,999).
    pub count: u32,
    /// Their lot (AI 10), if one lot.
    pub lot: Option<String>,
    /// Their production date (AI 11), `YYYY-MM-DD`.
    pub production_date: Option<String>,
    /// Their expiry date (AI 17), `YYYY-MM-DD`.
    pub expiry_date: Option<String>,
}

/// A logistic label's data: validated, split into its symbols.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogisticLabel {
    sscc: Gs1Code,
    content: Option<Gs1Code>,
}

impl LogisticLabel {
    /// The label of package `sscc` holding `content` (none for a mixed package, a pallet of
    /// several items). Every value is checked as its AI requires, and the combination too.
    pub fn new(sscc: &Sscc, content: Option<&Content>) -> Result<LogisticLabel, Gs1Error> {
        let mut pairs: Vec<(&str, String)> = vec![("00", sscc.as_str().to_owned())];
        if let Some(content) = content {
            pairs.push(("02", content.gtin.as_str().to_owned()));
            // Fixed-length AIs first, variable-length last (§7.8.5): one separator at most.
            if let Some(date) = &content.production_date {
                pairs.push(("11", yymmdd("production_date", date)?));
            }
            if let Some(date) = &content.expiry_date {
                pairs.push(("17", yymmdd("expiry_date", date)?));
            }
            pairs.push(("37", content.count.to_string()));
            if let Some(lot) = &content.lot {
                // A parenthesis would end the AI in the printed text and in the printer's
                // bracketed field data: refused on a label, though CSET 82 allows it.
                if lot.contains(['(', ')']) {
                    return Err(Gs1Error::new(
                        Some("10"),
                        None,
                        Problem::Format(format!(
                            "lot {lot:?}: parentheses cannot go on a logistic label"
                        )),
                    ));
                }
                pairs.push(("10", lot.clone()));
            }
        }
        let whole = Gs1Code::from_pairs(pairs)?;
        let sscc = whole.subset(&["00"]);
        let content = content.map(|_| whole.subset(&["02", "11", "17", "37", "10"]));
        Ok(LogisticLabel { sscc, content })
    }

    /// The SSCC symbol's data.
    pub fn sscc_symbol(&self) -> &Gs1Code {
        &self.sscc
    }

    /// The content symbol's data, for a package of one trade item.
    pub fn content_symbol(&self) -> Option<&Gs1Code> {
        self.content.as_ref()
    }

    /// The text block of the label: one line per element, data title and value
    /// (`SSCC 095060000000000015`, `CONTENT 09506000134352`, `COUNT 12`), content first, the
    /// SSCC last as the guideline lays the label out.
    pub fn text_lines(&self) -> Vec<String> {
        self.content
            .iter()
            .chain([&self.sscc])
            .flat_map(|symbol| symbol.elements())
            .map(|e| format!("{} {}", e.def().title, e.value()))
            .collect()
    }
}

/// `YYYY-MM-DD` as the `YYMMDD` of a date AI (its own checks then apply).
fn yymmdd(field: &str, date: &str) -> Result<String, Gs1Error> {
    let bad = || {
        Gs1Error::new(
            None,
            None,
            Problem::Format(format!("{field}: {date:?} is not YYYY-MM-DD")),
        )
    };
    let parts: Vec<&str> = date.split('-').collect();
    match parts.as_slice() {
        [year, month, day]
            if year.len() == 4
                && month.len() == 2
                && day.len() == 2
                && date
                    .bytes()
                    .filter(|b| *b != b'-')
                    .all(|b| b.is_ascii_digit()) =>
        {
            Ok(format!("{}{month}{day}", &year[2..]))
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content() -> Content {
        Content {
            gtin: Gtin::parse("09506000134352").expect("gtin"),
            count: 12,
            lot: Some("L2026-1".into()),
            production_date: None,
            expiry_date: Some("2027-12-31".into()),
        }
    }

    #[test]
    fn a_carton_of_one_item_has_two_symbols_with_one_separator() {
        let sscc = Sscc::new(0, "9506000", 1).expect("sscc");
        let label = LogisticLabel::new(&sscc, Some(&content())).expect("label");
        assert_eq!(label.sscc_symbol().to_hri(), format!("(00){sscc}"));
        let content = label.content_symbol().expect("content");
        assert_eq!(
            content.to_hri(),
            "(02)09506000134352(17)271231(37)12(10)L2026-1"
        );
        assert_eq!(
            content.to_element_string(),
            "0209506000134352172712313712\u{1d}10L2026-1"
        );
        assert_eq!(
            label.text_lines(),
            [
                "CONTENT 09506000134352",
                "USE BY or EXPIRY 271231",
                "COUNT 12",
                "BATCH/LOT L2026-1",
                &format!("SSCC {sscc}"),
            ]
        );
    }

    #[test]
    fn a_mixed_pallet_has_the_sscc_alone() {
        let sscc = Sscc::new(0, "9506000", 2).expect("sscc");
        let label = LogisticLabel::new(&sscc, None).expect("label");
        assert_eq!(label.content_symbol(), None);
        assert_eq!(label.text_lines(), [format!("SSCC {sscc}")]);
    }

    #[test]
    fn bad_values_are_refused_with_their_ai() {
        let sscc = Sscc::new(0, "9506000", 1).expect("sscc");
        let zero = Content {
            count: 0,
            ..content()
        };
        // (37) is 1–8 digits; a count of zero units is no content: 0 is refused as a count.
        let too_many = Content {
            count: 100_000_000,
            ..content()
        };
        assert!(LogisticLabel::new(&sscc, Some(&too_many)).is_err());
        let bad_date = Content {
            expiry_date: Some("2027-02-30".into()),
            ..content()
        };
        let err = LogisticLabel::new(&sscc, Some(&bad_date)).expect_err("no 30 February");
        assert!(err.to_string().contains("17"), "{err}");
        let paren = Content {
            lot: Some("L(1)".into()),
            ..content()
        };
        let err = LogisticLabel::new(&sscc, Some(&paren)).expect_err("parenthesis");
        assert!(err.to_string().contains("parentheses"), "{err}");
        let not_a_date = Content {
            production_date: Some("27-12-31".into()),
            ..content()
        };
        assert!(LogisticLabel::new(&sscc, Some(&not_a_date)).is_err());
        // A zero count is a valid (37) value; the package layer never labels an empty package.
        assert!(LogisticLabel::new(&sscc, Some(&zero)).is_ok());
    }
}
