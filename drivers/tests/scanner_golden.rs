//! Hand-scanner line vectors. The symbology identifiers are those of ISO/IEC 15424 (AIM
//! "Symbology Identifiers", Table 1: `]` + code character + modifier) as the GS1 General
//! Specifications list the GS1 ones (`]C1` GS1-128, `]d2` GS1 DataMatrix, `]Q3` GS1 QR Code,
//! `]E0` EAN-13, `]e0` GS1 DataBar); the data are GS1's example GTIN 09506000134352 and SSCCs
//! of company prefix 9506000. Each line is decoded whole and byte by byte, with CR, LF and
//! CR LF suffixes, and damaged lines give errors that say what and where.

use tracemark_drivers::scanner::{
    LineDecoder, MAX_LINE_LEN, ParseOptions, Scan, ScanError, Symbology, encode_reply, parse_line,
};

const REQUIRED: ParseOptions = ParseOptions {
    require_identifier: true,
};

/// Decodes `wire` whole and byte by byte: exactly one line, completed by its terminator's first
/// byte; then parses it.
fn decode(wire: &[u8]) -> Result<Scan, ScanError> {
    let whole = LineDecoder::new().push_slice(wire);
    assert_eq!(whole.len(), 1, "{whole:?}");
    let line = whole[0].clone().expect("line");
    let mut decoder = LineDecoder::new();
    let mut lines = Vec::new();
    for &byte in wire {
        if let Some(l) = decoder.push(byte) {
            lines.push(l);
        }
    }
    assert_eq!(lines, vec![Ok(line.clone())], "byte by byte");
    parse_line(&line, REQUIRED)
}

fn symbology(id: &str) -> Symbology {
    Symbology::from_identifier(id).expect("identifier")
}

#[test]
fn gs1_128_sscc_label() {
    let wire = [
        0x5D, 0x43, 0x31, // "]C1": Code 128, FNC1 in first position (GS1-128)
        0x30, 0x30, // AI "00": SSCC
        0x30, // extension digit "0"
        0x39, 0x35, 0x30, 0x36, 0x30, 0x30, 0x30, // GS1 company prefix "9506000"
        0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x31, // serial reference "000000001"
        0x35, // check digit 5 (GS1 General Specifications §7.9.1)
        0x0D, // CR
    ];
    let scan = decode(&wire).expect("scan");
    assert_eq!(scan.symbology, Some(symbology("]C1")));
    assert_eq!(scan.data, "00095060000000000015");
    assert!(scan.symbology.is_some_and(Symbology::is_gs1));
    assert_eq!(
        scan.symbology.map(|s| s.to_string()).as_deref(),
        Some("]C1 (GS1-128)")
    );
    assert_eq!(scan.text(), "]C100095060000000000015");
}

#[test]
fn gs1_datamatrix_unit_with_fnc1_as_gs() {
    let wire = [
        0x5D, 0x64, 0x32, // "]d2": Data Matrix, FNC1 in first position (GS1 DataMatrix)
        0x30, 0x31, // AI "01": GTIN
        0x30, 0x39, 0x35, 0x30, 0x36, 0x30, 0x30, 0x30, 0x31, 0x33, 0x34, 0x33, 0x35, 0x32, 0x31,
        0x30, // AI "10": lot (variable length)
        0x4C, 0x31, // "L1"
        0x1D, // GS: FNC1 ending the variable-length lot (kept)
        0x32, 0x31, // AI "21": serial
        0x41, 0x31, 0x42, 0x32, // "A1B2"
        0x0D, 0x0A, // CR LF
    ];
    let scan = decode(&wire).expect("scan");
    assert_eq!(scan.symbology, Some(symbology("]d2")));
    assert_eq!(scan.data, "010950600013435210L1\u{1d}21A1B2");
    assert_eq!(scan.to_line(), wire, "re-encodes to the same bytes");
}

#[test]
fn gs1_qr_ean_13_and_databar() {
    let qr = decode(b"]Q30109506000134352217Q2M9\n").expect("scan");
    assert_eq!(qr.symbology, Some(symbology("]Q3")));
    assert_eq!(qr.symbology.and_then(Symbology::name), Some("GS1 QR Code"));
    let ean = decode(b"]E09506000134352\r").expect("scan");
    assert_eq!(
        ean.symbology.and_then(Symbology::name),
        Some("EAN-13 / UPC-A")
    );
    assert_eq!(ean.data, "9506000134352");
    let databar = decode(b"]e00109506000134352\r").expect("scan");
    assert!(databar.symbology.is_some_and(Symbology::is_gs1));
}

#[test]
fn plain_symbologies_carry_text() {
    // A command barcode printed as plain Code 128 (]C0), a URL in a plain QR Code (]Q1), plain
    // Data Matrix (]d1).
    let command = decode(b"]C0CLOSE\r\n").expect("scan");
    assert_eq!(
        command.symbology.and_then(Symbology::name),
        Some("Code 128")
    );
    assert!(!command.symbology.is_some_and(Symbology::is_gs1));
    assert_eq!(command.data, "CLOSE");
    let url = decode(b"]Q1https://id.gs1.org/01/09506000134352/21/A1\r").expect("scan");
    assert_eq!(url.data, "https://id.gs1.org/01/09506000134352/21/A1");
    assert_eq!(decode(b"]d1ABC\r").expect("scan").data, "ABC");
    // An identifier not in the station's table is still a scan.
    let other = decode(b"]H0123\r").expect("scan");
    assert_eq!(other.symbology.map(|s| s.code()), Some('H'));
    assert_eq!(other.symbology.and_then(Symbology::name), None);
}

#[test]
fn lines_end_at_cr_lf_or_cr_lf_and_empty_lines_are_nothing() {
    let mut decoder = LineDecoder::new();
    let lines = decoder.push_slice(b"]C0A\r]C0B\n]C0C\r\n\r\n\n]C0D\r");
    let lines: Vec<Vec<u8>> = lines.into_iter().map(|l| l.expect("line")).collect();
    assert_eq!(
        lines,
        vec![
            b"]C0A".to_vec(),
            b"]C0B".to_vec(),
            b"]C0C".to_vec(),
            b"]C0D".to_vec()
        ]
    );
    // Without its terminator, a line is not complete.
    assert!(LineDecoder::new().push_slice(b"]C0CLOSE").is_empty());
}

#[test]
fn an_overlong_line_is_one_error_and_the_next_line_reads() {
    let mut wire = b"]C0".to_vec();
    wire.extend(std::iter::repeat_n(b'9', MAX_LINE_LEN + 100));
    wire.extend_from_slice(b"\r]C0CLOSE\r");
    let mut decoder = LineDecoder::new();
    let lines = decoder.push_slice(&wire);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let error = lines[0]
        .clone()
        .map_err(ScanError::from)
        .expect_err("too long");
    assert_eq!(error, ScanError::TooLong { offset: 0 });
    assert_eq!(
        error.to_string(),
        format!("line at stream offset 0 is longer than {MAX_LINE_LEN} bytes")
    );
    let next = lines[1].clone().expect("line");
    assert_eq!(parse_line(&next, REQUIRED).expect("scan").data, "CLOSE");
}

#[test]
fn damaged_lines_say_what_and_where() {
    let cases: [(&[u8], ScanError, &str); 7] = [
        (
            b"]C0CL\xFFSE",
            ScanError::NotUtf8 { at: 5, byte: 0xFF },
            "byte 5 is not UTF-8 (0xFF)",
        ),
        (
            b"]C0CL\x07SE",
            ScanError::ControlCharacter { at: 5, byte: 0x07 },
            "byte 5 is control character 0x07 (only GS, 0x1D, may appear in data)",
        ),
        (
            b"\x02]C0CLOSE",
            ScanError::ControlCharacter { at: 0, byte: 0x02 },
            "byte 0 is control character 0x02 (only GS, 0x1D, may appear in data)",
        ),
        (
            b"CLOSE",
            ScanError::NoIdentifier,
            "no symbology identifier (the line must start with one like ]C1 or ]d2: set the \
             scanner to transmit AIM identifiers)",
        ),
        (
            b"]1CLOSE",
            ScanError::BadIdentifier {
                found: "]1C".into(),
            },
            "\"]1C\" is not a symbology identifier (] + letter + digit or letter)",
        ),
        (
            b"]C",
            ScanError::BadIdentifier { found: "]C".into() },
            "\"]C\" is not a symbology identifier (] + letter + digit or letter)",
        ),
        (
            b"]C1",
            ScanError::Empty("]C1".into()),
            "no data after the symbology identifier ]C1",
        ),
    ];
    for (line, error, text) in cases {
        assert_eq!(parse_line(line, REQUIRED), Err(error.clone()), "{line:?}");
        assert_eq!(error.to_string(), text);
    }
}

#[test]
fn the_identifier_may_be_optional() {
    let optional = ParseOptions {
        require_identifier: false,
    };
    let scan = parse_line(b"CLOSE", optional).expect("scan");
    assert_eq!(scan.symbology, None);
    assert_eq!(scan.data, "CLOSE");
    assert_eq!(scan.to_line(), b"CLOSE\r\n");
    // A `]` still has to start a real identifier.
    assert!(parse_line(b"]xx", optional).is_err());
}

#[test]
fn replies_are_one_line_each() {
    assert_eq!(
        encode_reply("OK (01)09506000134352(21)A1 3/12"),
        b"OK (01)09506000134352(21)A1 3/12\r\n"
    );
}
