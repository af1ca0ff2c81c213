//! The non-GS1 code schemes from the outside: golden vectors, exact error messages and
//! format → parse round trips for check characters, USCC, Ecode, templates and digital-identity
//! URLs.

use proptest::prelude::*;
use tracemark_codes::check_char::{CheckKind, mod11_2, mod37_2};
use tracemark_codes::digital_identity::DigitalIdentityConfig;
use tracemark_codes::ecode::table::spec_for_label;
use tracemark_codes::ecode::{Ecode, EcodeResolver};
use tracemark_codes::template::Template;
use tracemark_codes::uscc::{Uscc, uscc_check_char};

/// The error message of a `Result` that must be an error.
fn message<T: std::fmt::Debug, E: std::fmt::Display>(result: Result<T, E>) -> String {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(error) => error.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Check characters (ISO/IEC 7064, GS1 mod-10)

#[test]
fn check_char_golden_vectors() {
    // ISO/IEC 7064 MOD 11-2 example 079 → X.
    assert_eq!(mod11_2("079").unwrap(), 'X');
    // GB 11643-1999 citizen identity number example 11010519491231002X.
    assert!(CheckKind::Mod11_2.verify("11010519491231002X").is_ok());
    // ISO 27729 ISNI 0000 0001 2150 090X.
    assert!(CheckKind::Mod11_2.verify("000000012150090X").is_ok());
    // ISO/IEC 7064 MOD 37-2 example G123489654321 → Y.
    assert_eq!(mod37_2("G123489654321").unwrap(), 'Y');
    // GS1 General Specifications §7.9.1: 629104150021 → 3.
    assert_eq!(CheckKind::Mod10.compute("629104150021").unwrap(), '3');
}

#[test]
fn check_char_errors_are_exact() {
    assert_eq!(
        message(CheckKind::Mod11_2.verify("110105194912310021")),
        "check character: position 18: expected 'X' (mod11-2), found '1'"
    );
    assert_eq!(
        message(CheckKind::Mod37_2.verify("G12348965432-Y")),
        "check character: position 13: '-' is not allowed in mod37-2 data (digits 0-9 and upper-case A-Z only)"
    );
    assert_eq!(
        message("mod-10".parse::<CheckKind>()),
        "check kind: unknown \"mod-10\" (expected mod10, mod11-2 or mod37-2)"
    );
}

#[test]
fn check_kind_serde_uses_stable_names() {
    let json = serde_json::to_string(&CheckKind::ALL).unwrap();
    assert_eq!(json, r#"["mod10","mod11-2","mod37-2"]"#);
    let back: Vec<CheckKind> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, CheckKind::ALL);
}

// ---------------------------------------------------------------------------------------------
// USCC (GB 32100-2015)

#[test]
fn uscc_golden_vectors() {
    // GB 32100-2015 example.
    let uscc = Uscc::parse("91350100M000100Y43").unwrap();
    assert_eq!(uscc.to_string(), "91350100M000100Y43");
    assert_eq!(uscc_check_char("91350100M000100Y4").unwrap(), '3');
    // Example used by python-stdnum's stdnum.cn.uscc documentation.
    assert_eq!(Uscc::parse("91110000600037341L").unwrap().check_char(), 'L');
}

#[test]
fn uscc_and_ecode_serde_validate() {
    let uscc: Uscc = serde_json::from_str(r#""91350100M000100Y43""#).unwrap();
    assert_eq!(
        serde_json::to_string(&uscc).unwrap(),
        r#""91350100M000100Y43""#
    );
    let err = serde_json::from_str::<Uscc>(r#""91350100M000100Y44""#).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("position 18: check character should be '3'"),
        "{err}"
    );
    let ecode: Ecode = serde_json::from_str(r#""100017""#).unwrap();
    assert_eq!((ecode.nsi(), ecode.md()), ("0001", "7"));
    assert_eq!(serde_json::to_string(&ecode).unwrap(), r#""100017""#);
    assert!(serde_json::from_str::<Ecode>(r#""10001""#).is_err());
}

#[test]
fn uscc_errors_are_exact() {
    assert_eq!(
        message(Uscc::parse("91350100M000100Y4")),
        "must be 18 characters, found 17"
    );
    assert_eq!(
        message(Uscc::parse("91350100M0001O0Y43")),
        "position 14: 'O' is not in the GB 32100 character set (0-9 and A-Z without I, O, S, V, Z)"
    );
    assert_eq!(
        message(Uscc::parse("91350100m000100Y43")),
        "position 9: 'm' is not in the GB 32100 character set (0-9 and A-Z without I, O, S, V, Z)"
    );
    assert_eq!(
        message(Uscc::parse("9135A100M000100Y43")),
        "position 5: 'A' in the division code (positions 3-8) must be a digit"
    );
    assert_eq!(
        message(Uscc::parse("91350100M000100Y44")),
        "position 18: check character should be '3', found '4'"
    );
}

// ---------------------------------------------------------------------------------------------
// Ecode (GB/T 31866)

#[test]
fn ecode_table_has_the_v1_numbers() {
    let v1 = spec_for_label("V1").unwrap();
    assert_eq!(
        (v1.v_char, v1.nsi_len, v1.md_max_len, v1.total_max_len),
        (Some('1'), Some(4), Some(20), Some(25))
    );
    let v2 = spec_for_label("V2").unwrap();
    assert_eq!(
        (v2.nsi_len, v2.md_max_len, v2.total_max_len),
        (Some(8), Some(19), Some(28))
    );
}

#[test]
fn ecode_v1_golden() {
    // Longest V1: 1 + 4 + 20 = 25 digits.
    let code = "1000112345678901234567890";
    let ecode = Ecode::parse(code).unwrap();
    assert_eq!(
        (ecode.version(), ecode.nsi(), ecode.md()),
        ("V1", "0001", "12345678901234567890")
    );
    assert_eq!(
        Ecode::v1("0001", "12345678901234567890").unwrap().as_str(),
        code
    );
    assert_eq!(
        EcodeResolver::default().format(&ecode),
        format!("https://www.iotroot.com/E={code}")
    );
}

#[test]
fn ecode_errors_are_exact() {
    assert_eq!(
        message(Ecode::parse("")),
        "version: missing (the code is empty)"
    );
    assert_eq!(
        message(Ecode::parse("9000112")),
        "version: position 1: '9' is not an Ecode version (1 or 2)"
    );
    assert_eq!(
        message(Ecode::parse("30001ABC")),
        "version: position 1: Ecode-V3 is not supported (only V1 and V2 are)"
    );
    assert_eq!(
        message(Ecode::parse("100")),
        "nsi: Ecode-V1 needs 4 characters, found 2"
    );
    assert_eq!(
        message(Ecode::parse("10001")),
        "md: missing (Ecode-V1 needs 1 to 20 characters after the NSI)"
    );
    assert_eq!(
        message(Ecode::parse("10001123456789012345678901")),
        "md: Ecode-V1 allows at most 20 characters, found 21"
    );
    assert_eq!(
        message(Ecode::parse("100A1123")),
        "nsi: position 4: 'A' is not allowed (Ecode-V1: digits 0-9)"
    );
    assert_eq!(
        message(Ecode::parse("1000112 4")),
        "md: position 8: ' ' is not allowed (Ecode-V1: digits 0-9)"
    );
    assert_eq!(
        message(Ecode::new("V7", "0001", "1")),
        "version: unknown Ecode version \"V7\" (expected V1 or V2)"
    );
}

#[test]
fn ecode_url_errors_are_exact() {
    let resolver = EcodeResolver::default();
    assert_eq!(
        message(resolver.parse("ftp://www.iotroot.com/E=100011")),
        "scheme: expected https:// or http://, found \"ftp://ww\""
    );
    assert_eq!(
        message(resolver.parse("https://iotroot.example/E=100011")),
        "host: expected \"www.iotroot.com\", found \"iotroot.example\""
    );
    assert_eq!(
        message(resolver.parse("https://www.iotroot.com/E=100011?x=1")),
        "url: position 33: '?' is not allowed (no query, fragment or percent-encoding)"
    );
    assert_eq!(
        message(resolver.parse("https://www.iotroot.com/e=100011")),
        "path: expected \"/E=\" followed by the code, found \"/e=100011\""
    );
    assert_eq!(
        message(resolver.parse("https://www.iotroot.com/E=10001")),
        "md: missing (Ecode-V1 needs 1 to 20 characters after the NSI)"
    );
    assert_eq!(
        message(EcodeResolver::new("www.iotroot.com", "a b")),
        "prefix: position 2: ' ' is not allowed (A-Z a-z 0-9 - . _ ~ and / only)"
    );
}

// ---------------------------------------------------------------------------------------------
// Template codes

#[test]
fn template_golden_codes() {
    let t = Template::parse("{date:YYMMDD}{serial:13:digits}{check:mod11-2}").unwrap();
    assert_eq!(t.total_length(), 20);
    assert_eq!(
        t.format((2024, 12, 31), "0000000000042").unwrap(),
        "24123100000000000427"
    );

    let t = Template::parse("TM{date:YYMMDD}{serial:10:upper}{check:mod37-2}").unwrap();
    assert_eq!(t.total_length(), 19);
    assert_eq!(
        t.format((2024, 12, 31), "ABC0000042").unwrap(),
        "TM241231ABC0000042J"
    );

    let t = Template::parse("{date:YYYYMMDD}{serial:10:digits}{check:mod10}").unwrap();
    let code = t.format((2024, 2, 29), "1234567890").unwrap();
    assert_eq!(code, "2024022912345678904");
    let back = t.parse_code(&code).unwrap();
    assert_eq!(
        (back.date(), back.serial(), back.check_char()),
        (Some((2024, 2, 29)), "1234567890", Some('4'))
    );
}

#[test]
fn template_pattern_errors_are_exact() {
    let cases = [
        ("TM{date:YYMMDD", "pattern: position 3: '{' is never closed"),
        (
            "TM}{serial:4}",
            "pattern: position 3: '}' without '{' (write '}}' for a literal brace)",
        ),
        (
            "T M{serial:4}",
            "pattern: position 2: ' ' is not allowed in literal text (printable ASCII, no space)",
        ),
        (
            "{date:YYMM}{serial:4}",
            "pattern: position 1: date format \"YYMM\" is not one of YYYY, YY, MM, DD, YYMMDD, YYYYMMDD, DDD",
        ),
        (
            "AB{serial:0}",
            "pattern: position 3: serial length \"0\" is not a number 1-64",
        ),
        (
            "AB{serial:4:hex}",
            "pattern: position 3: serial character set \"hex\" is not one of digits, upper, alnum",
        ),
        (
            "{serial:4}{check:luhn}",
            "pattern: position 11: check algorithm \"luhn\" is not one of mod10, mod11-2, mod37-2",
        ),
        (
            "{lot:4}",
            "pattern: position 1: unknown field \"lot\" (expected date, serial or check)",
        ),
        ("TM{date:YYMMDD}", "pattern: needs a {serial:N} field"),
        (
            "{serial:4}{serial:4}",
            "pattern: position 11: only one {serial:N} field is allowed",
        ),
        (
            "{serial:4:digits}{check:mod10}0",
            "pattern: position 18: the check field must be the last element",
        ),
        (
            "TM{serial:10:digits}{check:mod10}",
            "pattern: position 1: mod10 accepts digits 0-9 only but literal 'T' comes before the check",
        ),
        (
            "{serial:10}{check:mod37-2}",
            "pattern: position 1: mod37-2 accepts digits 0-9 and upper-case A-Z only but a serial of 0-9A-Za-z comes before the check",
        ),
    ];
    for (pattern, expected) in cases {
        assert_eq!(message(Template::parse(pattern)), expected, "{pattern}");
    }
}

#[test]
fn template_code_errors_are_exact() {
    let t = Template::parse("TM{date:YYMMDD}{serial:6:upper}{check:mod37-2}").unwrap();
    assert_eq!(
        message(t.format((2024, 2, 30), "ABC123")),
        "date: day 30 is not 1-29 for 2024-02"
    );
    assert_eq!(
        message(t.format((1999, 12, 31), "ABC123")),
        "date: year 1999 cannot be written as YY (2000-2099 only)"
    );
    assert_eq!(
        message(t.format((2024, 1, 1), "ABC12")),
        "serial: expected 6 characters, found 5"
    );
    assert_eq!(
        message(t.format((2024, 1, 1), "ABc123")),
        "serial: position 3: 'c' is not allowed (0-9A-Z)"
    );

    let good = t.format((2024, 1, 1), "ABC123").unwrap();
    assert_eq!(
        message(t.parse_code(&good[1..])),
        "code: expected 15 characters, found 14"
    );
    assert_eq!(
        message(t.parse_code(&format!("TX{}", &good[2..]))),
        "code: position 1: expected \"TM\", found \"TX\""
    );
    assert_eq!(
        message(t.parse_code(&format!("TM241301{}", &good[8..]))),
        "date: position 5: month 13 is out of range"
    );
    assert_eq!(
        message(t.parse_code(&format!("TM2401x1{}", &good[8..]))),
        "date: position 7: \"2401x1\" must be digits"
    );
    assert_eq!(
        message(t.parse_code(&format!("{}aBC123{}", &good[..8], &good[14..]))),
        "serial: position 9: 'a' is not allowed (0-9A-Z)"
    );
    let mut corrupted = good.clone();
    let last = corrupted.pop().unwrap();
    corrupted.push(if last == '0' { '1' } else { '0' });
    assert_eq!(
        message(t.parse_code(&corrupted)),
        format!(
            "check character: position 15: expected {last:?} (mod37-2), found {:?}",
            corrupted.chars().last().unwrap()
        )
    );
    // A well-formed code (right check character) for 30 February.
    let feb30 = format!("TM240230ABC123{}", mod37_2("TM240230ABC123").unwrap());
    assert_eq!(
        message(t.parse_code(&feb30)),
        "date: position 1: day 30 is not 1-29 for 2024-02"
    );
}

#[test]
fn template_serde_is_the_pattern() {
    let t: Template = serde_json::from_str(r#""{date:YY}{serial:4}""#).unwrap();
    assert_eq!(t.total_length(), 6);
    assert_eq!(
        serde_json::to_string(&t).unwrap(),
        r#""{date:YY}{serial:4}""#
    );
    let err = serde_json::from_str::<Template>(r#""{serial:4""#).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("pattern: position 1: '{' is never closed"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// Digital-identity URLs

#[test]
fn digital_identity_golden() {
    let config = DigitalIdentityConfig::new("id.example.cn", "t/01").unwrap();
    assert_eq!(
        config.format("7Hk2-9x_Q~").unwrap(),
        "https://id.example.cn/t/01/7Hk2-9x_Q~"
    );
    assert_eq!(
        config
            .parse("https://id.example.cn/t/01/7Hk2-9x_Q~")
            .unwrap()
            .serial(),
        "7Hk2-9x_Q~"
    );
}

#[test]
fn digital_identity_errors_are_exact() {
    let config = DigitalIdentityConfig::new("id.example.cn", "t/01").unwrap();
    let cases = [
        (
            "http://id.example.cn/t/01/1",
            "scheme: expected https://, found \"http:\"",
        ),
        (
            "https://evil.example.cn/t/01/1",
            "host: expected \"id.example.cn\", found \"evil.example.cn\"",
        ),
        (
            "https://id.example.cn/t/02/1",
            "prefix: expected path /t/01/<serial>, found \"/t/02/1\"",
        ),
        ("https://id.example.cn/t/01/", "serial: empty"),
        (
            "https://id.example.cn/t/01/a%2Fb",
            "serial: position 2: '%' is not allowed (A-Z a-z 0-9 - . _ ~ only)",
        ),
        (
            "https://id.example.cn/t/01/a/b",
            "serial: position 2: '/' is not allowed (A-Z a-z 0-9 - . _ ~ only)",
        ),
        (
            "https://id.example.cn/t/01/..",
            "serial: \"..\" is a dot-segment",
        ),
        (
            "https://id.example.cn/t/01/1?utm=x",
            "url: position 29: '?' (query or fragment) is not allowed",
        ),
        (
            "https://id.example.cn/t/01/1#top",
            "url: position 29: '#' (query or fragment) is not allowed",
        ),
    ];
    for (url, expected) in cases {
        assert_eq!(message(config.parse(url)), expected, "{url}");
    }
    assert_eq!(
        message(config.format(&"9".repeat(129))),
        "serial: 129 characters, at most 128 allowed"
    );
    assert_eq!(
        message(DigitalIdentityConfig::new("id.example.cn", "t/%41")),
        "prefix: position 3: '%' is not allowed (A-Z a-z 0-9 - . _ ~ and / only)"
    );
}

// ---------------------------------------------------------------------------------------------
// Round trips

proptest! {
    #[test]
    fn check_chars_verify_and_catch_substitutions(
        data in "[0-9A-Z]{1,30}",
        index in any::<prop::sample::Index>(),
        replacement in "[0-9A-Z]",
    ) {
        let check = mod37_2(&data).unwrap();
        let code = format!("{data}{check}");
        prop_assert!(CheckKind::Mod37_2.verify(&code).is_ok());
        let mut chars: Vec<char> = data.chars().collect();
        let i = index.index(chars.len());
        let replacement = replacement.chars().next().unwrap();
        prop_assume!(chars[i] != replacement);
        chars[i] = replacement;
        let changed: String = chars.into_iter().collect();
        let code = format!("{changed}{check}");
        prop_assert!(CheckKind::Mod37_2.verify(&code).is_err());
    }

    #[test]
    fn mod11_2_and_mod10_round_trip(digits in "[0-9]{0,30}") {
        for kind in [CheckKind::Mod11_2, CheckKind::Mod10] {
            let check = kind.compute(&digits).unwrap();
            prop_assert!(kind.is_check_char(check));
            let code = format!("{digits}{check}");
            prop_assert!(kind.verify(&code).is_ok());
        }
    }

    #[test]
    fn uscc_round_trip(
        head in "[0-9A-HJ-NP-RTUW-Y]{2}",
        division in "[0-9]{6}",
        org in "[0-9A-HJ-NP-RTUW-Y]{9}",
    ) {
        let first17 = format!("{head}{division}{org}");
        let code = format!("{first17}{}", uscc_check_char(&first17).unwrap());
        let uscc = Uscc::parse(&code).unwrap();
        prop_assert_eq!(uscc.division_code(), division.as_str());
        prop_assert_eq!(uscc.organization_code(), org.as_str());
        prop_assert_eq!(uscc.as_str(), code.as_str());
    }

    #[test]
    fn ecode_round_trip(v2 in any::<bool>(), nsi in "[0-9]{8}", md in "[0-9]{1,19}") {
        let (label, nsi) = if v2 { ("V2", nsi.as_str()) } else { ("V1", &nsi[..4]) };
        let ecode = Ecode::new(label, nsi, &md).unwrap();
        let parsed = Ecode::parse(ecode.as_str()).unwrap();
        prop_assert_eq!((parsed.version(), parsed.nsi(), parsed.md()), (label, nsi, md.as_str()));
        let resolver = EcodeResolver::new("resolver.example.cn", "api/query/search").unwrap();
        prop_assert_eq!(resolver.parse(&resolver.format(&ecode)).unwrap(), ecode);
    }

    #[test]
    fn template_round_trip(
        pattern in prop::sample::select(vec![
            "{date:YYMMDD}{serial:13:digits}{check:mod11-2}",
            "TM{date:YYYY}{date:DDD}{serial:8:upper}{check:mod37-2}",
            "{date:YYYYMMDD}{serial:10:digits}{check:mod10}",
            "X{date:YY}-{date:MM}{date:DD}_{serial:12}",
        ]),
        year in 2000u16..=2099,
        ordinal in 1u16..=365,
        serial_chars in "[0-9A-Za-z]{13}",
    ) {
        let t = Template::parse(pattern).unwrap();
        let (month, day) = month_day(year, ordinal);
        let serial: String = serial_chars
            .chars()
            .filter(|&c| t.serial_charset().contains(c))
            .chain(std::iter::repeat('7'))
            .take(t.serial_length())
            .collect();
        let code = t.format((year, month, day), &serial).unwrap();
        prop_assert_eq!(code.len(), t.total_length());
        let back = t.parse_code(&code).unwrap();
        prop_assert_eq!(back.date(), Some((year, month, day)));
        prop_assert_eq!(back.serial(), serial.as_str());
    }

    #[test]
    fn digital_identity_round_trip(serial in "[A-Za-z0-9._~-]{1,40}", prefix in "([a-z0-9]{1,5}/){0,2}[a-z0-9]{1,5}") {
        prop_assume!(serial != "." && serial != "..");
        let config = DigitalIdentityConfig::new("id.example.cn", &prefix).unwrap();
        let url = config.format(&serial).unwrap();
        let parsed = config.parse(&url).unwrap();
        prop_assert_eq!(parsed.serial(), serial.as_str());
        prop_assert_eq!(parsed.url(&config), url);
    }
}

/// Month and day of an ordinal day, independently of the crate's own calendar code.
fn month_day(year: u16, ordinal: u16) -> (u8, u8) {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let lengths = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let mut left = ordinal;
    for (index, &length) in lengths.iter().enumerate() {
        if left <= length {
            return (index as u8 + 1, left as u8);
        }
        left -= length;
    }
    (12, 31)
}
