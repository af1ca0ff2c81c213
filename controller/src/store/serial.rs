//! The boundary between serial counters (what the store allocates) and serial text (what is
//! printed).
//!
//! PLACEHOLDER: the FF1 serial generator (`tracemark_codes::serial`, another branch) replaces
//! [`serial_for`]'s body after the merge, so that serials are not guessable (seed 003 §6.1.3).
//! Until then a serial is the counter written in the product's alphabet, padded on the left —
//! unique per counter, which is all the store relies on.

use super::StoreError;

/// How many distinct serials `alphabet_len` characters over `length` positions give (saturating).
pub fn capacity(alphabet_len: usize, length: u32) -> i64 {
    i64::try_from(alphabet_len)
        .ok()
        .and_then(|n| n.checked_pow(length))
        .unwrap_or(i64::MAX)
}

/// The serial text of `counter` for a product with `alphabet` and `length`.
pub fn serial_for(alphabet: &[char], length: u32, counter: i64) -> Result<String, StoreError> {
    let radix = i64::try_from(alphabet.len()).unwrap_or(i64::MAX);
    if radix < 2 || counter < 0 || counter >= capacity(alphabet.len(), length) {
        return Err(StoreError::invalid(
            "count",
            format!(
                "serial counter {counter} is outside the product's serial space \
                 ({} characters, length {length})",
                alphabet.len()
            ),
        ));
    }
    let mut digits = vec![alphabet[0]; length as usize];
    let mut rest = counter;
    for slot in digits.iter_mut().rev() {
        // rest % radix is in 0..radix, so the index is in range.
        *slot = alphabet[usize::try_from(rest % radix).unwrap_or(0)];
        rest /= radix;
    }
    Ok(digits.into_iter().collect())
}

/// The GS1 code text (HRI) of a unit: GTIN and serial.
pub fn gs1_code(gtin: &str, serial: &str) -> String {
    format!("(01){gtin}(21){serial}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_counter_in_alphabet() {
        let digits: Vec<char> = "0123456789".chars().collect();
        assert_eq!(serial_for(&digits, 6, 42).ok().as_deref(), Some("000042"));
        assert!(serial_for(&digits, 2, 100).is_err());
        let hex: Vec<char> = "0123456789ABCDEF".chars().collect();
        assert_eq!(serial_for(&hex, 4, 255).ok().as_deref(), Some("00FF"));
        assert_eq!(capacity(10, 20), i64::MAX);
    }
}
