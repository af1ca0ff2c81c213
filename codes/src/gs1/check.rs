//! The GS1 mod-10 check digit.
//!
//! GS1 General Specifications §7.9.1: multiply the digits, counted from the right, alternately by 3
//! and 1 (the rightmost data digit by 3), sum, and take the distance to the next multiple of ten.
//! The same algorithm serves GTIN-8/12/13/14, SSCC, GLN and the N14/N18 data fields of AIs 00, 01
//! and 02.

/// Computes the mod-10 check digit over ASCII digits (`b'0'..=b'9'`).
///
/// Returns `None` when any byte is not an ASCII digit.
pub fn mod10_check_digit(digits: &[u8]) -> Option<u8> {
    let mut sum: u32 = 0;
    for (position_from_right, &byte) in digits.iter().rev().enumerate() {
        if !byte.is_ascii_digit() {
            return None;
        }
        let value = u32::from(byte - b'0');
        // Weight 3 on the rightmost data digit, then 1, 3, 1, …
        sum += if position_from_right % 2 == 0 {
            value * 3
        } else {
            value
        };
    }
    // `sum % 10` is below 10, so the cast cannot truncate.
    Some(b'0' + ((10 - sum % 10) % 10) as u8)
}

/// Whether the last ASCII digit of `digits` is the mod-10 check digit of the ones before it.
pub fn has_valid_check_digit(digits: &[u8]) -> bool {
    match digits.split_last() {
        Some((&last, data)) => mod10_check_digit(data) == Some(last),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gs1_general_specifications_examples() {
        // GS1 General Specifications §7.9.1, figure 7.9.1-2: GTIN-13 example 629104150021 → 3.
        assert_eq!(mod10_check_digit(b"629104150021"), Some(b'3'));
        // The GTIN used throughout GS1's own examples: (01)09506000134352.
        assert!(has_valid_check_digit(b"09506000134352"));
        assert!(!has_valid_check_digit(b"09506000134353"));
        // SSCC example of the General Specifications §2.2.1: (00)106141411234567897.
        assert!(has_valid_check_digit(b"106141411234567897"));
    }

    #[test]
    fn rejects_non_digits_and_empty() {
        assert_eq!(mod10_check_digit(b"12a4"), None);
        assert!(!has_valid_check_digit(b""));
    }
}
