//! GS1-128 in a ZPL `^BC` (Code 128) field: the field data tracemark writes for a GS1 element
//! string, and how a printer reads such field data back into Code 128 symbol characters and
//! bars. Pure, no I/O.
//!
//! Sources (see `docs/protocols/zpl.md`):
//! - \[ZPL-BC\] *ZPL II Programming Guide*, `^BC` Code 128 Bar Code (Subsets A, B, and C):
//!   "Table 2 Code 128 Invocation Characters" (`>;` Start Code C, `>:` Start Code B, `>9` Start
//!   Code A, `>8` FNC1 in every subset, `>6` CODE B in subset C, `>5` CODE C in subset B, `>0`
//!   the character `>`, `><` value 62 (`^`), `>=` value 94 (`~`)); no start character means
//!   subset B; in subsets A and C "an extra unpaired digit in the field data string just before
//!   a code shift is also ignored", and a non-digit as the second character of a pair drops the
//!   pair; "The UCC/EAN-128 Symbology … Using N for the Mode (m) Parameter": `>;>8` sets subset
//!   C and FNC1 before the AI.
//! - \[ISO-15417\] ISO/IEC 15417:2007 Code 128: symbol character patterns (Table 1, 6 elements
//!   of 11 modules; stop 7 elements of 13), the modulo-103 symbol check character.
//! - \[GS1-GS\] GS1 General Specifications §5.4.3 (GS1-128: FNC1 after the start character;
//!   FNC1 as the separator after a variable-length element string).
//!
//! **Why mode N, not mode D.** Mode D (UCC/EAN, x.11.x firmware and later) "automatically
//! determines if a check digit is required, calculates it, and prints it": the guide's own
//! example gives `(00)` with 17 digits and a placeholder for the check digit, and it does not say
//! what it does with the check digit of a `(02)` GTIN nor where it puts FNC1 between chained
//! variable-length AIs. Mode N with explicit start and FNC1 codes encodes exactly the bytes
//! given, which the interpreter below (and a decoder) can check.

use thiserror::Error;

/// The GS1 separator in an element string: encoded as FNC1 \[GS1-GS\].
pub const GS: u8 = 0x1D;
/// `>;`: Start Code C \[ZPL-BC\].
pub const START_C: &[u8] = b">;";
/// `>:`: Start Code B \[ZPL-BC\].
pub const START_B: &[u8] = b">:";
/// `>8`: FNC1, in every subset \[ZPL-BC\].
pub const FNC1: &[u8] = b">8";
/// `>6` in subset C: CODE B \[ZPL-BC\].
pub const CODE_B: &[u8] = b">6";
/// `>5` in subset B: CODE C \[ZPL-BC\].
pub const CODE_C: &[u8] = b">5";

/// Symbol character values \[ISO-15417\].
const VALUE_FNC1: u8 = 102;
const VALUE_CODE_A_FROM_BC: u8 = 101;
const VALUE_CODE_B_FROM_AC: u8 = 100;
const VALUE_CODE_C_FROM_AB: u8 = 99;
const VALUE_START_A: u8 = 103;
const VALUE_START_B: u8 = 104;
const VALUE_START_C: u8 = 105;

/// Element widths of symbol characters 0–105, bar first \[ISO-15417 Table 1\].
const PATTERNS: [&[u8; 6]; 106] = [
    b"212222", b"222122", b"222221", b"121223", b"121322", b"131222", b"122213", b"122312",
    b"132212", b"221213", b"221312", b"231212", b"112232", b"122132", b"122231", b"113222",
    b"123122", b"123221", b"223211", b"221132", b"221231", b"213212", b"223112", b"312131",
    b"311222", b"321122", b"321221", b"312212", b"322112", b"322211", b"212123", b"212321",
    b"232121", b"111323", b"131123", b"131321", b"112313", b"132113", b"132311", b"211313",
    b"231113", b"231311", b"112133", b"112331", b"132131", b"113123", b"113321", b"133121",
    b"313121", b"211331", b"231131", b"213113", b"213311", b"213131", b"311123", b"311321",
    b"331121", b"312113", b"312311", b"332111", b"314111", b"221411", b"431111", b"111224",
    b"111422", b"121124", b"121421", b"141122", b"141221", b"112214", b"112412", b"122114",
    b"122411", b"142112", b"142211", b"241211", b"221114", b"413111", b"241112", b"134111",
    b"111242", b"121142", b"121241", b"114212", b"124112", b"124211", b"411212", b"421112",
    b"421211", b"212141", b"214121", b"412121", b"111143", b"111341", b"131141", b"114113",
    b"114311", b"411113", b"411311", b"113141", b"114131", b"311141", b"411131", b"211412",
    b"211214", b"211232",
];
/// The stop pattern, 7 elements \[ISO-15417\].
const STOP: &[u8; 7] = b"2331112";

/// Most symbol characters tracemark lets a `^BC` field hold; a GS1-128 symbol carries at most
/// 48 data characters \[GS1-GS §5.4.3\], so this is generous.
pub const MAX_SYMBOL_CHARACTERS: usize = 80;

/// Why field data cannot be written or read as Code 128.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BcError {
    /// An element string byte Code 128 subset B cannot hold.
    #[error("byte 0x{byte:02X} at {at} cannot be encoded in Code 128 subset B")]
    Unencodable {
        /// The byte.
        byte: u8,
        /// Its offset.
        at: usize,
    },
    /// Empty data.
    #[error("empty data")]
    Empty,
    /// Field data with an invocation code the subset does not have.
    #[error("field data: `>{code}` at {at} is no invocation code in subset {subset}")]
    BadInvocation {
        /// The character after `>`.
        code: char,
        /// Its offset.
        at: usize,
        /// The subset in force.
        subset: char,
    },
    /// More symbol characters than [`MAX_SYMBOL_CHARACTERS`].
    #[error("{0} symbol characters; at most {MAX_SYMBOL_CHARACTERS}")]
    TooLong(usize),
}

/// Consecutive ASCII digits of `data` from `at`.
fn digit_run(data: &[u8], at: usize) -> usize {
    data.get(at..).map_or(0, |rest| {
        rest.iter().take_while(|b| b.is_ascii_digit()).count()
    })
}

/// The `^FD` data of a `^BC…,N` field (mode N) for a GS1 element string: a start code, FNC1,
/// then the data, GS written as FNC1 \[ZPL-BC\] \[GS1-GS\]. Digits go in pairs in subset C; a
/// digit run of odd length leaves its last digit to subset B (the printer would drop an unpaired
/// digit before a code change \[ZPL-BC\]); in subset B a run of six digits, or four at the end,
/// switches to subset C, after its first digit when the run is odd. `>`, `^` and `~` are written as their invocation codes.
pub fn field_data(element_string: &[u8]) -> Result<Vec<u8>, BcError> {
    if element_string.is_empty() {
        return Err(BcError::Empty);
    }
    let mut out = Vec::with_capacity(element_string.len() + 12);
    let mut in_c = digit_run(element_string, 0) >= 2;
    out.extend_from_slice(if in_c { START_C } else { START_B });
    out.extend_from_slice(FNC1);
    let mut at = 0;
    while let Some(&byte) = element_string.get(at) {
        if byte == GS {
            out.extend_from_slice(FNC1);
            at += 1;
            continue;
        }
        let run = digit_run(element_string, at);
        if in_c {
            if run >= 2 {
                out.extend_from_slice(&element_string[at..at + 2]);
                at += 2;
            } else {
                out.extend_from_slice(CODE_B);
                in_c = false;
            }
            continue;
        }
        // ISO/IEC 15417 Annex E: four digits at the end of the data (or of an element string),
        // six elsewhere, are worth the change to subset C.
        let at_end = matches!(element_string.get(at + run), None | Some(&GS));
        if run.is_multiple_of(2) && (run >= 6 || (run >= 4 && at_end)) {
            out.extend_from_slice(CODE_C);
            in_c = true;
            continue;
        }
        match byte {
            b'>' => out.extend_from_slice(b">0"),
            b'^' => out.extend_from_slice(b"><"),
            b'~' => out.extend_from_slice(b">="),
            0x20..=0x7E => out.push(byte),
            _ => return Err(BcError::Unencodable { byte, at }),
        }
        at += 1;
    }
    Ok(out)
}

/// The Code 128 symbol characters a printer makes of `^BC` mode N field data: the start
/// character, then the data characters (no check character, no stop) \[ZPL-BC\]. Follows the
/// guide's rules, including those tracemark's own field data never relies on: no start code
/// means subset B; in subsets A and C a non-digit first character of a pair is ignored, a pair
/// whose second character is no digit is dropped, and so is an unpaired digit before a code
/// change.
pub fn symbol_characters(field: &[u8]) -> Result<Vec<u8>, BcError> {
    let mut values = Vec::with_capacity(field.len());
    let (mut subset, mut at) = match field {
        [b'>', b'9', ..] => (b'A', 2),
        [b'>', b':', ..] => (b'B', 2),
        [b'>', b';', ..] => (b'C', 2),
        _ => (b'B', 0),
    };
    values.push(match subset {
        b'A' => VALUE_START_A,
        b'C' => VALUE_START_C,
        _ => VALUE_START_B,
    });
    while let Some(&byte) = field.get(at) {
        if byte == b'>' {
            let code = field.get(at + 1).copied().unwrap_or(b' ');
            let bad = || BcError::BadInvocation {
                code: char::from(code),
                at,
                subset: char::from(subset),
            };
            let value = match (subset, code) {
                (_, b'8') => VALUE_FNC1,
                (b'A' | b'B', b'<') => 62,
                (b'A' | b'B', b'0') => 30,
                (b'B', b'=') => 94,
                (b'A' | b'B', b'1'..=b'4') => 95 + (code - b'1'),
                (b'A' | b'B', b'5') => {
                    subset = b'C';
                    VALUE_CODE_C_FROM_AB
                }
                (b'A', b'6') => {
                    subset = b'B';
                    VALUE_CODE_B_FROM_AC
                }
                (b'B', b'6') => VALUE_CODE_B_FROM_AC, // FNC4 in subset B
                (b'C', b'6') => {
                    subset = b'B';
                    VALUE_CODE_B_FROM_AC
                }
                (b'B' | b'C', b'7') => {
                    subset = b'A';
                    VALUE_CODE_A_FROM_BC
                }
                (b'A', b'7') => VALUE_CODE_A_FROM_BC, // FNC4 in subset A
                _ => return Err(bad()),
            };
            values.push(value);
            at += 2;
            continue;
        }
        match subset {
            b'B' => {
                if (0x20..=0x7F).contains(&byte) {
                    values.push(byte - 0x20);
                }
                at += 1;
            }
            _ => {
                // Subsets A and C take digit pairs [ZPL-BC].
                if !byte.is_ascii_digit() {
                    at += 1;
                    continue;
                }
                match field.get(at + 1) {
                    Some(second) if second.is_ascii_digit() => {
                        let pair = (byte - b'0') * 10 + (second - b'0');
                        values.push(if subset == b'A' { pair % 96 } else { pair });
                        at += 2;
                    }
                    Some(b'>') | None => at += 1,
                    Some(_) => at += 2,
                }
            }
        }
    }
    if values.len() > MAX_SYMBOL_CHARACTERS {
        return Err(BcError::TooLong(values.len()));
    }
    Ok(values)
}

/// The modulo-103 symbol check character of `characters` (start first) \[ISO-15417\].
pub fn check_character(characters: &[u8]) -> u8 {
    let sum = characters.iter().enumerate().fold(0u32, |sum, (i, &v)| {
        let weight = u32::try_from(i.max(1)).unwrap_or(u32::MAX);
        (sum + u32::from(v) * weight) % 103
    });
    u8::try_from(sum).unwrap_or(0)
}

/// The bars of a symbol: `true` = dark module, from the start character through the stop
/// pattern, quiet zones not included \[ISO-15417\]. Values above 105 are not symbol characters
/// and are skipped.
pub fn modules(characters: &[u8]) -> Vec<bool> {
    let check = check_character(characters);
    let mut out = Vec::with_capacity((characters.len() + 2) * 11 + 2);
    let patterns = characters
        .iter()
        .chain([&check])
        .filter_map(|&v| PATTERNS.get(usize::from(v)).map(|p| &p[..]))
        .chain([&STOP[..]]);
    for pattern in patterns {
        for (i, width) in pattern.iter().enumerate() {
            out.extend(std::iter::repeat_n(i % 2 == 0, usize::from(width - b'0')));
        }
    }
    out
}

/// Which `^FN` fields a template body prints as `^BC` symbols: `(field number, ^BC
/// parameters)`, in order. A field is the span from a field command to `^FS` \[ZPL-BC\].
pub fn barcode_fields(body: &str) -> Vec<(u16, String)> {
    let mut out = Vec::new();
    let mut barcode: Option<String> = None;
    for command in body.split('^').skip(1) {
        let (name, params) = command.split_at(command.len().min(2));
        match name.to_ascii_uppercase().as_str() {
            "BC" => barcode = Some(params.trim().to_owned()),
            "FS" => barcode = None,
            "FN" => {
                let number = params
                    .trim()
                    .bytes()
                    .take_while(u8::is_ascii_digit)
                    .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
                if let (Some(params), Ok(number)) = (&barcode, u16::try_from(number)) {
                    out.push((number, params.clone()));
                }
            }
            _ => {}
        }
    }
    out
}

/// The mode (`m`, the sixth parameter) of `^BC` parameters; `N` when left out \[ZPL-BC\].
pub fn bc_mode(params: &str) -> char {
    params
        .split(',')
        .nth(5)
        .and_then(|m| m.trim().chars().next())
        .map_or('N', |m| m.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(element_string: &[u8]) -> Vec<u8> {
        let field = field_data(element_string).expect("field data");
        symbol_characters(&field).expect("characters")
    }

    #[test]
    fn an_sscc_is_start_c_fnc1_and_ten_pairs() {
        assert_eq!(
            field_data(b"00095060000000000015").unwrap(),
            b">;>800095060000000000015"
        );
        let values = round_trip(b"00095060000000000015");
        assert_eq!(
            values,
            [105, 102, 0, 9, 50, 60, 0, 0, 0, 0, 0, 15],
            "start C, FNC1, 00 09 50 60 00 00 00 00 00 15"
        );
    }

    #[test]
    fn an_odd_digit_run_leaves_its_last_digit_to_subset_b() {
        // (37)12345 ends the digits on an odd count: 5 goes in subset B, then FNC1 and the lot.
        let data = b"020950600013435237123\x1d10L1";
        let field = field_data(data).unwrap();
        assert_eq!(field, b">;>802095060001343523712>63>810L1".to_vec());
        // The printer drops an unpaired digit before a code change: none is left unpaired.
        let values = symbol_characters(&field).unwrap();
        assert_eq!(values[..2], [105, 102]);
        assert!(values.contains(&(b'3' - 0x20)));
    }

    #[test]
    fn the_printer_drops_an_unpaired_digit_before_a_shift() {
        // What a careless encoder would write: the 3 is lost on the printer.
        let values = symbol_characters(b">;>8123>6A").unwrap();
        assert_eq!(values, [105, 102, 12, 100, 33]);
    }

    #[test]
    fn subset_b_switches_to_c_for_long_even_runs_and_escapes_prefixes() {
        let field = field_data(b"10A>^~123456").unwrap();
        assert_eq!(field, b">;>810>6A>0><>=>5123456".to_vec());
        let values = symbol_characters(&field).unwrap();
        assert_eq!(values, [105, 102, 10, 100, 33, 30, 62, 94, 99, 12, 34, 56]);
        assert_eq!(field_data(b"A1"), Ok(b">:>8A1".to_vec()));
        assert!(field_data(b"\x01").is_err());
        assert_eq!(field_data(b""), Err(BcError::Empty));
        assert!(symbol_characters(b">;>9").is_err());
    }

    #[test]
    fn check_character_and_modules_follow_iso_15417() {
        // Start B, "A", "B", "C": (104 + 33·1 + 34·2 + 35·3) mod 103 = 1.
        assert_eq!(check_character(&[104, 33, 34, 35]), 1);
        let bars = modules(&[104, 33]);
        // Start, one data character, check: 3 × 11 modules, stop 13.
        assert_eq!(bars.len(), 3 * 11 + 13);
        assert!(bars[0] && bars[1] && !bars[2]);
    }

    #[test]
    fn barcode_fields_are_found_in_a_template() {
        let body = "^FO1,1^A0N,30,30^FN2^FS^FO1,50^BY3^BCN,200,N,N,N,N^FN1^FS^FO1,1^BCN,100^FN3^FS";
        assert_eq!(
            barcode_fields(body),
            [(1, "N,200,N,N,N,N".to_owned()), (3, "N,100".to_owned())]
        );
        assert_eq!(bc_mode("N,200,N,N,N,N"), 'N');
        assert_eq!(bc_mode("N,200,N,N,N,D"), 'D');
        assert_eq!(bc_mode("N,100"), 'N');
    }
}
