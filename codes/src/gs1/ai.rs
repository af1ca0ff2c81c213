//! The GS1 application identifier (AI) table.
//!
//! Each entry follows the GS1 Barcode Syntax Dictionary (the machine-readable companion of the GS1
//! General Specifications §3, "GS1 Application Identifier definitions"): format, character set,
//! length, check digit, date rule, requisite and exclusive AIs, and the AI's role in a GS1 Digital
//! Link URI (primary key, key qualifier, or data attribute in the query string).
//!
//! Only the AIs a producer of consumer goods and their logistic units needs are listed; an AI that
//! is not in the table is rejected by name rather than passed through unchecked.

/// The characters a value may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// Digits `0`–`9` (syntax dictionary type `N`).
    Numeric,
    /// GS1 AI encodable character set 82 (General Specifications §7.11, figure 7.11-1; type `X`):
    /// ``!"%&'()*+,-./0-9:;<=>?A-Z_a-z`` — no space.
    Cset82,
    /// GS1 AI encodable character set 39 (§7.11, figure 7.11-2; type `Y`): `#-/0-9A-Z`.
    Cset39,
    /// The URI- and filename-safe base64 alphabet of RFC 4648 §5 with `=` padding (§7.11,
    /// figure 7.11-3, "character set 64"; type `Z`), used by AI (8030).
    Cset64,
}

impl Charset {
    /// Whether `byte` belongs to this set.
    #[inline]
    pub fn contains(self, byte: u8) -> bool {
        let table = match self {
            Charset::Numeric => return byte.is_ascii_digit(),
            Charset::Cset82 => &CSET82,
            Charset::Cset39 => &CSET39,
            Charset::Cset64 => &CSET64,
        };
        table[usize::from(byte)]
    }

    /// The name used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Charset::Numeric => "numeric",
            Charset::Cset82 => "CSET 82",
            Charset::Cset39 => "CSET 39",
            Charset::Cset64 => "CSET 64 (base64url)",
        }
    }
}

/// Membership tables: one load per character on the hot path of every scan.
const fn membership(extra: &[u8], lower: bool) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] =
            c.is_ascii_digit() || c.is_ascii_uppercase() || (lower && c.is_ascii_lowercase());
        b += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        table[extra[i] as usize] = true;
        i += 1;
    }
    table
}

/// CSET 82 (General Specifications figure 7.11-1).
static CSET82: [bool; 256] = membership(b"!\"%&'()*+,-./:;<=>?_", true);
/// CSET 39 (figure 7.11-2).
static CSET39: [bool; 256] = membership(b"#-/", false);
/// CSET 64 (figure 7.11-3): RFC 4648 §5 base64url plus `=` padding.
static CSET64: [bool; 256] = membership(b"-_=", true);

/// Date rule of a six-digit `YYMMDD` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateRule {
    /// `YYMMDD`, a real calendar date (syntax dictionary linter `yymmdd`).
    YyMmDd,
    /// `YYMMDD` where day `00` means "the month as a whole" (linter `yymmd0`; General
    /// Specifications §3.4.2–§3.4.7: "if only year and month are available, DD must be filled with
    /// two zeroes").
    YyMmD0,
}

/// What role an AI plays in a GS1 Digital Link URI (GS1 Digital Link URI Syntax 1.4, §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRole {
    /// A primary key; its key qualifiers, in the order they must appear in the path.
    PrimaryKey(&'static [&'static str]),
    /// A key qualifier: appears in the path after its primary key, never in the query.
    Qualifier,
    /// A data attribute: appears in the query string.
    Attribute,
    /// Cannot be carried in a Digital Link URI.
    None,
}

/// One application identifier.
#[derive(Debug)]
pub struct AiDef {
    /// The AI digits, e.g. `"01"`.
    pub code: &'static str,
    /// The short data title of the General Specifications, e.g. `"GTIN"`.
    pub title: &'static str,
    /// Character set of the value.
    pub charset: Charset,
    /// Shortest value length.
    pub min_len: u8,
    /// Longest value length.
    pub max_len: u8,
    /// Whether the element has a predefined length, so no FNC1 separator follows it (General
    /// Specifications §7.8.5, figure 7.8.5-2: AIs starting 00–04, 11–20, 31–36, 41).
    pub predefined_length: bool,
    /// Whether the last digit is a mod-10 check digit (General Specifications §7.9.1).
    pub check_digit: bool,
    /// Date rule, for date fields.
    pub date: Option<DateRule>,
    /// The element requires one of these sets of AIs to be present (each inner list is a
    /// conjunction). Empty: no requirement. From the syntax dictionary's `req=` attribute.
    pub requires: &'static [&'static [&'static str]],
    /// AIs this one may not be combined with (the syntax dictionary's `ex=` attribute).
    pub excludes: &'static [&'static str],
    /// Role in a Digital Link URI.
    pub link: LinkRole,
    /// The AI packed for fast comparison (see [`pack`]).
    pub(crate) key: u32,
}

impl AiDef {
    /// Whether a value of this AI always has the same length.
    pub fn is_fixed_length(&self) -> bool {
        self.min_len == self.max_len
    }
}

// Common requisite lists, named after what they mean.
const NEEDS_TRADE_ITEM: &[&[&str]] = &[&["01"], &["02"], &["03"], &["8006"], &["8026"]];
const NEEDS_TRADE_ITEM_ONLY: &[&[&str]] = &[&["01"], &["02"]];
const NEEDS_SSCC_OR_GTIN: &[&[&str]] = &[&["00"], &["01"]];

const fn entry(
    code: &'static str,
    title: &'static str,
    charset: Charset,
    min_len: u8,
    max_len: u8,
) -> AiDef {
    AiDef {
        code,
        title,
        charset,
        min_len,
        max_len,
        predefined_length: false,
        check_digit: false,
        date: None,
        requires: &[],
        excludes: &[],
        link: LinkRole::Attribute,
        key: pack(code.as_bytes()),
    }
}

const fn date(
    code: &'static str,
    title: &'static str,
    rule: DateRule,
    requires: &'static [&'static [&'static str]],
) -> AiDef {
    AiDef {
        predefined_length: true,
        date: Some(rule),
        requires,
        ..entry(code, title, Charset::Numeric, 6, 6)
    }
}

const fn measure(
    code: &'static str,
    title: &'static str,
    requires: &'static [&'static [&'static str]],
) -> AiDef {
    AiDef {
        predefined_length: true,
        requires,
        ..entry(code, title, Charset::Numeric, 6, 6)
    }
}

const fn internal(code: &'static str) -> AiDef {
    entry(code, "INTERNAL", Charset::Cset82, 1, 90)
}

/// The table. Source of every row: GS1 Barcode Syntax Dictionary (ref.gs1.org/ai), which encodes
/// the General Specifications §3.
pub static AIS: &[AiDef] = &[
    AiDef {
        predefined_length: true,
        check_digit: true,
        link: LinkRole::PrimaryKey(&[]),
        ..entry("00", "SSCC", Charset::Numeric, 18, 18)
    },
    AiDef {
        predefined_length: true,
        check_digit: true,
        excludes: &["02", "37", "255"],
        link: LinkRole::PrimaryKey(&["22", "10", "21"]),
        ..entry("01", "GTIN", Charset::Numeric, 14, 14)
    },
    AiDef {
        predefined_length: true,
        check_digit: true,
        requires: &[&["37"]],
        excludes: &["01", "03"],
        ..entry("02", "CONTENT", Charset::Numeric, 14, 14)
    },
    AiDef {
        requires: NEEDS_TRADE_ITEM,
        link: LinkRole::Qualifier,
        ..entry("10", "BATCH/LOT", Charset::Cset82, 1, 20)
    },
    date("11", "PROD DATE", DateRule::YyMmD0, NEEDS_TRADE_ITEM),
    date("13", "PACK DATE", DateRule::YyMmD0, NEEDS_TRADE_ITEM),
    date(
        "15",
        "BEST BEFORE or BEST BY",
        DateRule::YyMmD0,
        NEEDS_TRADE_ITEM,
    ),
    date("16", "SELL BY", DateRule::YyMmD0, NEEDS_TRADE_ITEM),
    date(
        "17",
        "USE BY or EXPIRY",
        DateRule::YyMmD0,
        &[&["01"], &["02"], &["03"], &["255"], &["8006"], &["8026"]],
    ),
    AiDef {
        predefined_length: true,
        requires: NEEDS_TRADE_ITEM,
        ..entry("20", "VARIANT", Charset::Numeric, 2, 2)
    },
    AiDef {
        requires: &[&["01"], &["03"], &["8006"]],
        link: LinkRole::Qualifier,
        ..entry("21", "SERIAL", Charset::Cset82, 1, 20)
    },
    AiDef {
        requires: &[&["01"]],
        link: LinkRole::Qualifier,
        ..entry("22", "CPV", Charset::Cset82, 1, 20)
    },
    AiDef {
        requires: NEEDS_TRADE_ITEM,
        ..entry("240", "ADDITIONAL ID", Charset::Cset82, 1, 30)
    },
    AiDef {
        requires: NEEDS_TRADE_ITEM,
        ..entry("241", "CUST. PART No.", Charset::Cset82, 1, 30)
    },
    AiDef {
        requires: &[&["01", "21"], &["03", "21"], &["8006", "21"]],
        ..entry("250", "SECONDARY SERIAL", Charset::Cset82, 1, 30)
    },
    AiDef {
        requires: &[&["414"]],
        link: LinkRole::Qualifier,
        ..entry("254", "GLN EXTENSION COMPONENT", Charset::Cset82, 1, 20)
    },
    AiDef {
        requires: NEEDS_TRADE_ITEM_ONLY,
        ..entry("30", "VAR. COUNT", Charset::Numeric, 1, 8)
    },
    measure("3100", "NET WEIGHT (kg)", NEEDS_TRADE_ITEM_ONLY),
    measure("3101", "NET WEIGHT (kg)", NEEDS_TRADE_ITEM_ONLY),
    measure("3102", "NET WEIGHT (kg)", NEEDS_TRADE_ITEM_ONLY),
    measure("3103", "NET WEIGHT (kg)", NEEDS_TRADE_ITEM_ONLY),
    measure("3104", "NET WEIGHT (kg)", NEEDS_TRADE_ITEM_ONLY),
    measure("3105", "NET WEIGHT (kg)", NEEDS_TRADE_ITEM_ONLY),
    measure("3300", "GROSS WEIGHT (kg)", NEEDS_SSCC_OR_GTIN),
    measure("3301", "GROSS WEIGHT (kg)", NEEDS_SSCC_OR_GTIN),
    measure("3302", "GROSS WEIGHT (kg)", NEEDS_SSCC_OR_GTIN),
    measure("3303", "GROSS WEIGHT (kg)", NEEDS_SSCC_OR_GTIN),
    AiDef {
        requires: &[&["00", "02"], &["00", "8026"]],
        ..entry("37", "COUNT", Charset::Numeric, 1, 8)
    },
    entry("400", "ORDER NUMBER", Charset::Cset82, 1, 30),
    AiDef {
        requires: &[&["00"]],
        ..entry("403", "ROUTE", Charset::Cset82, 1, 30)
    },
    AiDef {
        predefined_length: true,
        check_digit: true,
        ..entry("410", "SHIP TO LOC", Charset::Numeric, 13, 13)
    },
    AiDef {
        predefined_length: true,
        check_digit: true,
        link: LinkRole::PrimaryKey(&["254"]),
        ..entry("414", "LOC No.", Charset::Numeric, 13, 13)
    },
    AiDef {
        predefined_length: true,
        check_digit: true,
        ..entry("416", "PROD/SERV LOC", Charset::Numeric, 13, 13)
    },
    AiDef {
        link: LinkRole::PrimaryKey(&["8011"]),
        ..entry("8010", "CPID", Charset::Cset39, 1, 30)
    },
    AiDef {
        requires: &[&["8010"]],
        link: LinkRole::Qualifier,
        ..entry("8011", "CPID SERIAL", Charset::Numeric, 1, 12)
    },
    AiDef {
        requires: &[&["01", "21"], &["03", "21"], &["8006", "21"]],
        ..entry("8012", "VERSION", Charset::Cset82, 1, 20)
    },
    AiDef {
        requires: &[
            &["00"],
            &["01", "21"],
            &["03", "21"],
            &["253"],
            &["255"],
            &["8003"],
            &["8004"],
            &["8006", "21"],
            &["8010", "8011"],
            &["8017"],
            &["8018"],
        ],
        ..entry("8030", "DIGSIG", Charset::Cset64, 1, 90)
    },
    AiDef {
        link: LinkRole::None,
        requires: &[&["01"]],
        ..entry("8200", "PRODUCT URL", Charset::Cset82, 1, 70)
    },
    entry("90", "INTERNAL", Charset::Cset82, 1, 30),
    internal("91"),
    internal("92"),
    internal("93"),
    internal("94"),
    internal("95"),
    internal("96"),
    internal("97"),
    internal("98"),
    internal("99"),
];

/// Looks an AI up by its digits.
pub fn lookup(code: &str) -> Option<&'static AiDef> {
    find(code.as_bytes())
}

/// Finds the AI that `data` starts with. GS1 AIs are prefix-free (General Specifications §3.2), so
/// at most one entry matches; AIs have two to four digits.
pub fn lookup_prefix(data: &[u8]) -> Option<&'static AiDef> {
    (2..=4.min(data.len())).find_map(|len| find(&data[..len]))
}

/// Binary search: the table is sorted by AI (a unit test keeps it so). This is the hot path of
/// parsing every camera result, so AIs are compared as packed integers, not strings.
fn find(code: &[u8]) -> Option<&'static AiDef> {
    let key = pack(code);
    AIS.binary_search_by_key(&key, |def| def.key)
        .ok()
        .map(|index| &AIS[index])
}

/// An AI of up to four digits as a big-endian integer padded with zero bytes. The packing keeps
/// lexicographic order, and distinct AIs (which never contain a zero byte) get distinct keys.
#[inline]
pub(crate) const fn pack(code: &[u8]) -> u32 {
    let mut key = 0u32;
    let mut i = 0;
    while i < 4 {
        let byte = if i < code.len() { code[i] } else { 0 };
        key = (key << 8) | byte as u32;
        i += 1;
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_for_binary_search() {
        assert!(AIS.windows(2).all(|pair| pair[0].code < pair[1].code));
        for def in AIS {
            assert!(
                lookup(def.code).is_some_and(|found| std::ptr::eq(found, def)),
                "{}",
                def.code
            );
        }
    }

    #[test]
    fn table_is_prefix_free_and_consistent() {
        for a in AIS {
            assert!((2..=4).contains(&a.code.len()), "AI {} length", a.code);
            assert!(
                a.min_len >= 1 && a.min_len <= a.max_len,
                "AI {} lengths",
                a.code
            );
            if a.check_digit || a.date.is_some() {
                assert_eq!(a.charset, Charset::Numeric, "AI {}", a.code);
            }
            for b in AIS {
                if !std::ptr::eq(a, b) {
                    assert!(
                        !b.code.starts_with(a.code),
                        "{} is a prefix of {}",
                        a.code,
                        b.code
                    );
                }
            }
            // Figure 7.8.5-2: predefined length follows from the first two digits.
            let prefix: u8 = a.code[..2].parse().unwrap_or(99);
            let predefined = matches!(prefix, 0..=4 | 11..=20 | 31..=36 | 41);
            assert_eq!(
                a.predefined_length, predefined,
                "AI {} predefined length",
                a.code
            );
            if let LinkRole::PrimaryKey(qualifiers) = a.link {
                for q in qualifiers {
                    assert_eq!(
                        lookup(q).map(|d| d.link),
                        Some(LinkRole::Qualifier),
                        "qualifier {q}"
                    );
                }
            }
        }
    }

    #[test]
    fn character_sets() {
        // CSET 82: 82 characters; no space, no '#'.
        assert_eq!(
            (0u8..=255).filter(|&b| Charset::Cset82.contains(b)).count(),
            82
        );
        assert!(!Charset::Cset82.contains(b' '));
        assert_eq!(
            (0u8..=255).filter(|&b| Charset::Cset39.contains(b)).count(),
            39
        );
        assert_eq!(
            (0u8..=255).filter(|&b| Charset::Cset64.contains(b)).count(),
            65
        );
        assert!(!Charset::Cset39.contains(b'a'));
    }

    #[test]
    fn prefix_lookup() {
        assert_eq!(
            lookup_prefix(b"0109506000134352").map(|d| d.code),
            Some("01")
        );
        assert_eq!(lookup_prefix(b"3103000189").map(|d| d.code), Some("3103"));
        assert_eq!(lookup_prefix(b"240ABC").map(|d| d.code), Some("240"));
        assert!(lookup_prefix(b"7777").is_none());
    }
}
