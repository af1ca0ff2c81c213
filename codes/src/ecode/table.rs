//! The Ecode version table: the one place where Ecode field lengths live.
//!
//! Sources, by the tag used in the `source` column:
//! - **[31866-2015 T1]**: GB/T 31866-2015 《物联网标识体系 物品编码Ecode》 §5, table 1 (编码结构),
//!   as recalled from the published standard. The standard is sold, not freely published; no
//!   public copy of the table could be found to re-check it (see `docs/codes/ecode.md`).
//! - **[31866-2023]**: GB/T 31866-2023 (replaces 2015). Public summaries (中国物品编码中心 news
//!   release on the revision) say V0 is now reserved for GS1-compatible codes and the text ⇄
//!   binary conversions moved to annexes; the storage standards that cite it (GB/T 35419-2025,
//!   GB/T 35420-2025 scopes) list only Ecode-V0…V3.
//! - **[SAMR annex 3]**: SAMR 2024 opinion annex 3 §二 (seed 001): Ecode is marked as a 数字码
//!   (digit code), 2D code or RFID tag and resolved at `https://www.iotroot.com`.

/// The characters a field may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcodeCharset {
    /// Decimal digits `0-9` (十进制).
    Digits,
    /// Digits and upper-case letters `0-9A-Z` (字母数字型). Exact set unverified, see the docs.
    Alphanumeric,
    /// Not a character form: binary-only or not fixed by the sources.
    Other,
}

impl EcodeCharset {
    /// Whether `c` belongs to the set (always `false` for [`EcodeCharset::Other`]).
    pub fn contains(self, c: char) -> bool {
        match self {
            EcodeCharset::Digits => c.is_ascii_digit(),
            EcodeCharset::Alphanumeric => c.is_ascii_digit() || c.is_ascii_uppercase(),
            EcodeCharset::Other => false,
        }
    }

    /// A short description for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            EcodeCharset::Digits => "digits 0-9",
            EcodeCharset::Alphanumeric => "0-9 and A-Z",
            EcodeCharset::Other => "no text form",
        }
    }
}

/// One row of the Ecode version table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EcodeVersionSpec {
    /// Version label as the standards write it: `V0` … `V4`.
    pub label: &'static str,
    /// The version character V in the text form (`'1'` for V1), or `None` where the text form
    /// carries no V (V0: the GS1 code itself is the text form).
    pub v_char: Option<char>,
    /// NSI (编码体系标识) length in characters.
    pub nsi_len: Option<usize>,
    /// Longest MD (主码), in characters.
    pub md_max_len: Option<usize>,
    /// Longest whole code, in characters (V + NSI + MD).
    pub total_max_len: Option<usize>,
    /// Characters of NSI and MD.
    pub charset: EcodeCharset,
    /// Whether [`crate::ecode::Ecode`] parses and formats this version.
    pub supported: bool,
    /// Where the numbers come from (tags explained in the module docs).
    pub source: &'static str,
}

/// Every Ecode version the sources mention. Only V1 and V2, both decimal, are parsed.
///
/// Lengths are characters of the text form. V1: 1 + 4 + ≤20 = ≤25; V2: 1 + 8 + ≤19 = ≤28;
/// V3: 1 + 4 + ≤28 = ≤33.
pub const ECODE_VERSIONS: [EcodeVersionSpec; 5] = [
    EcodeVersionSpec {
        label: "V0",
        v_char: None,
        nsi_len: None,
        md_max_len: None,
        total_max_len: None,
        charset: EcodeCharset::Other,
        supported: false,
        // 2015: V "0000" is a binary-only form (8-bit NSI, ≤244-bit MD, 256 bits in all)
        // [31866-2015 T1]; 2023: V0 reserved for GS1-system codes, human-readable form = the GS1
        // code, no V/NSI in 1D symbols [31866-2023; GB/T 35419-2025 draft §5.1]. Use crate::gs1.
        source: "GB/T 31866-2015 table 1 (binary form); GB/T 31866-2023 (GS1 compatibility)",
    },
    EcodeVersionSpec {
        label: "V1",
        v_char: Some('1'),
        nsi_len: Some(4),
        md_max_len: Some(20),
        total_max_len: Some(25),
        charset: EcodeCharset::Digits,
        supported: true,
        // [31866-2015 T1]; V1 still listed in 2023/2025 [31866-2023]; digit code [SAMR annex 3].
        source: "GB/T 31866-2015 table 1; kept in GB/T 31866-2023",
    },
    EcodeVersionSpec {
        label: "V2",
        v_char: Some('2'),
        nsi_len: Some(8),
        md_max_len: Some(19),
        total_max_len: Some(28),
        charset: EcodeCharset::Digits,
        supported: true,
        // [31866-2015 T1]; V2 still listed in 2023/2025 [31866-2023].
        source: "GB/T 31866-2015 table 1; kept in GB/T 31866-2023",
    },
    EcodeVersionSpec {
        label: "V3",
        v_char: Some('3'),
        nsi_len: Some(4),
        md_max_len: Some(28),
        total_max_len: Some(33),
        charset: EcodeCharset::Alphanumeric,
        supported: false,
        // [31866-2015 T1]: 字母数字型; the exact letter set (case, excluded letters) is not
        // confirmed by any public source, so V3 is listed but not parsed.
        source: "GB/T 31866-2015 table 1 (letter set unconfirmed)",
    },
    EcodeVersionSpec {
        label: "V4",
        v_char: Some('4'),
        nsi_len: Some(5),
        md_max_len: None,
        total_max_len: None,
        charset: EcodeCharset::Other,
        supported: false,
        // [31866-2015 T1]: NSI 5 characters, MD of variable length (不定长) over a wider character
        // repertoire; absent from the 2023/2025 storage standards' scopes [31866-2023].
        source: "GB/T 31866-2015 table 1 only; not in the 2023 storage standards",
    },
];

/// The table row whose version character is `v`.
pub fn spec_for_version_char(v: char) -> Option<&'static EcodeVersionSpec> {
    ECODE_VERSIONS.iter().find(|spec| spec.v_char == Some(v))
}

/// The table row labelled `label` (`"V1"`).
pub fn spec_for_label(label: &str) -> Option<&'static EcodeVersionSpec> {
    ECODE_VERSIONS.iter().find(|spec| spec.label == label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_add_up() {
        for spec in ECODE_VERSIONS {
            if let (Some(nsi), Some(md), Some(total)) =
                (spec.nsi_len, spec.md_max_len, spec.total_max_len)
            {
                assert_eq!(1 + nsi + md, total, "{}", spec.label);
            }
            if spec.supported {
                assert!(
                    spec.v_char.is_some() && spec.nsi_len.is_some() && spec.md_max_len.is_some()
                );
                assert_ne!(spec.charset, EcodeCharset::Other);
            }
        }
    }
}
