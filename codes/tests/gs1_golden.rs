//! Golden vectors for the GS1 module, from the GS1 General Specifications (GenSpecs, release 24)
//! and the GS1 Digital Link Standard: URI Syntax (release 1.2). The section a vector comes from is
//! named beside it; where the document shows spaces for legibility they are left out.

use tracemark_codes::gs1::{self, DEFAULT_DOMAIN, Gs1Code, Gs1Form, Gs1Symbology, Gtin, Sscc};

const GS: &str = "\u{1d}";

/// One code in its three forms.
struct Vector {
    source: &'static str,
    hri: &'static str,
    element: String,
    link: &'static str,
}

fn vectors() -> Vec<Vector> {
    vec![
        Vector {
            // GenSpecs §2.1 and Digital Link §4.4: GTIN with serial number, the standards' own
            // running example GTIN 09506000134352.
            source: "GTIN + serial",
            hri: "(01)09506000134352(21)A1B2C3",
            element: "010950600013435221A1B2C3".into(),
            link: "https://id.gs1.org/01/09506000134352/21/A1B2C3",
        },
        Vector {
            // Digital Link §4.5 (key qualifiers 10 then 21 in the path, 17 in the query string).
            source: "GTIN + lot + serial + expiry",
            hri: "(01)09506000134352(10)AB-123(21)XYZ-1234(17)180426",
            element: format!("010950600013435210AB-123{GS}21XYZ-1234{GS}17180426"),
            link: "https://id.gs1.org/01/09506000134352/10/AB-123/21/XYZ-1234?17=180426",
        },
        Vector {
            // GenSpecs §7.8.5.2: predefined-length elements first, then variable-length ones, the
            // last without a separator.
            source: "fixed-length first",
            hri: "(01)09506000134352(17)271231(10)LOT42",
            element: "01095060001343521727123110LOT42".into(),
            link: "https://id.gs1.org/01/09506000134352/10/LOT42?17=271231",
        },
        Vector {
            // GenSpecs §2.2.1: SSCC of a logistic unit, here with its content (02) and count (37).
            source: "SSCC + content + count",
            hri: "(00)106141411234567897(02)09506000134352(37)24",
            element: "00106141411234567897020950600013435237".to_owned() + "24",
            link: "https://id.gs1.org/00/106141411234567897?02=09506000134352&37=24",
        },
        Vector {
            // GenSpecs §3.8.3 (AI 240) and §3.2 CSET 82 punctuation, percent-encoded in the URI
            // (Digital Link §4.8).
            source: "CSET 82 punctuation",
            hri: "(01)09506000134352(21)A/B%C&D(240)X+Y",
            element: format!("010950600013435221A/B%C&D{GS}240X+Y"),
            link: "https://id.gs1.org/01/09506000134352/21/A%2FB%25C%26D?240=X%2BY",
        },
        Vector {
            // GenSpecs §3.4.7: AI (17) with day 00 (a whole month), and net weight (3103).
            source: "expiry month + net weight",
            hri: "(01)09506000134352(17)270600(3103)000189",
            element: "010950600013435217270600".to_owned() + "3103000189",
            link: "https://id.gs1.org/01/09506000134352?17=270600&3103=000189",
        },
        Vector {
            // GenSpecs §3.9.13 (AI 8030 digital signature over CSET 64) after a serialised GTIN.
            source: "digital signature",
            hri: "(01)09506000134352(21)S1(8030)MEUCIQD_a-b=",
            element: format!("010950600013435221S1{GS}8030MEUCIQD_a-b="),
            link: "https://id.gs1.org/01/09506000134352/21/S1?8030=MEUCIQD_a-b%3D",
        },
    ]
}

#[test]
fn each_form_converts_into_the_others() {
    for v in vectors() {
        let from_hri = gs1::parse_hri(v.hri).unwrap_or_else(|e| panic!("{}: {e}", v.source));
        let from_element = gs1::parse_element_string(&v.element, 0)
            .unwrap_or_else(|e| panic!("{}: {e}", v.source));
        let from_link =
            gs1::parse_digital_link(v.link).unwrap_or_else(|e| panic!("{}: {e}", v.source));
        for code in [&from_hri, &from_element] {
            assert_eq!(code.to_hri(), v.hri, "{}", v.source);
            assert_eq!(code.to_element_string(), v.element, "{}", v.source);
            assert_eq!(
                code.to_digital_link(DEFAULT_DOMAIN).as_deref(),
                Ok(v.link),
                "{}",
                v.source
            );
        }
        // The URI orders qualifiers by the standard, so compare the set of elements.
        let mut a: Vec<_> = from_link
            .elements()
            .iter()
            .map(|e| (e.ai(), e.value().to_owned()))
            .collect();
        let mut b: Vec<_> = from_hri
            .elements()
            .iter()
            .map(|e| (e.ai(), e.value().to_owned()))
            .collect();
        a.sort();
        b.sort();
        assert_eq!(a, b, "{}", v.source);
    }
}

#[test]
fn scanner_output_with_each_symbology_identifier() {
    let code = Gs1Code::from_pairs([("01", "09506000134352"), ("10", "ABC"), ("21", "123")])
        .expect("valid");
    for symbology in [
        Gs1Symbology::DataMatrix,
        Gs1Symbology::Qr,
        Gs1Symbology::Gs1_128,
    ] {
        let data = code.to_scanner_data(symbology);
        let scan = gs1::parse(&data).expect("parses");
        assert_eq!(scan.symbology, Some(symbology));
        assert_eq!(scan.form, Gs1Form::ElementString);
        assert_eq!(scan.code, code);
    }
    assert_eq!(
        code.to_scanner_data(Gs1Symbology::DataMatrix),
        format!("]d2010950600013435210ABC{GS}21123")
    );
}

#[test]
fn configurable_domain() {
    let code = gs1::parse("(01)09506000134352(21)A1").expect("valid").code;
    assert_eq!(
        code.to_digital_link("https://trace.example.cn/p/")
            .as_deref(),
        Ok("https://trace.example.cn/p/01/09506000134352/21/A1")
    );
    let back = gs1::parse("https://trace.example.cn/p/01/09506000134352/21/A1")
        .expect("valid")
        .code;
    assert_eq!(back, code);
}

#[test]
fn keys() {
    // GenSpecs §3.3.2: GTIN-13 9506000134352 is GTIN-14 09506000134352.
    assert_eq!(
        Gtin::parse("9506000134352").map(|g| g.to_string()),
        Ok("09506000134352".to_owned())
    );
    // GenSpecs §2.2.1: SSCC (00)106141411234567897 from its parts.
    assert_eq!(
        Sscc::new(1, "0614141", 123_456_789).map(|s| s.to_string()),
        Ok("106141411234567897".to_owned())
    );
}

/// Invalid input is refused with a message naming the AI and the character.
#[test]
fn invalid_inputs_name_ai_and_position() {
    let cases: &[(&str, &str)] = &[
        (
            "(01)09506000134352(21)A1B2 C3",
            "AI (21) at character 27: space is not in CSET 82",
        ),
        (
            "(01)09506000134353(21)A1",
            "AI (01) at character 18: check digit is 3, expected 2",
        ),
        (
            "(01)0950600013435",
            "AI (01) at character 5: value has 13 characters, at least 14 required",
        ),
        (
            "(01)09506000134352(10)ABCDEFGHIJKLMNOPQRSTU",
            "AI (10) at character 23: value has 21 characters, at most 20 allowed",
        ),
        (
            "(01)09506000134352(17)271301",
            "AI (17) at character 25: month 13 is not 01-12",
        ),
        (
            "(01)09506000134352(17)270230",
            "AI (17) at character 27: day 30 does not exist in month 02",
        ),
        (
            "(21)A1B2C3",
            "AI (21) at character 1: requires AI (01), (03) or (8006)",
        ),
        (
            "(01)09506000134352(02)09506000134352(37)5",
            "AI (01) at character 1: cannot be combined with AI (02)",
        ),
        (
            "(00)106141411234567897(02)09506000134352",
            "AI (02) at character 23: requires AI (37)",
        ),
        (
            "(01)09506000134352(21)A(21)B",
            "AI (21) at character 24: appears more than once",
        ),
        (
            "(01)09506000134352(8030)abc*",
            "AI (8030) at character 28: '*' is not in CSET 64 (base64url)",
        ),
        (
            "]d20109506000134352\u{1d}21é",
            "AI (21) at character 23: 'é' is not in CSET 82",
        ),
        (
            "]d1hello",
            "at character 1: symbology identifier ]d1 does not announce GS1 data",
        ),
        (
            "0109506000134352777",
            "at character 17: unknown application identifier 777",
        ),
        (
            "01095060001343522",
            "at character 17: data ends inside an application identifier",
        ),
        ("", "at character 1: no data"),
    ];
    for (input, message) in cases {
        let err = gs1::parse(input).expect_err(input);
        assert_eq!(&err.to_string(), message, "{input:?}");
    }
}
