//! The guess-probability rule (EU Delegated Regulation 2016/161 Art. 4(b)).

use super::{Alphabet, SerialError};

/// The refusal threshold's denominator: a configuration is refused when the guess probability is
/// `≥ 1 / MAX_GUESS_DENOMINATOR`.
///
/// Commission Delegated Regulation (EU) 2016/161 (falsified medicines), Article 4(b): "the
/// probability that the serial number can be guessed is negligible and in any case lower than one
/// in ten thousand".
pub const MAX_GUESS_DENOMINATOR: u64 = 10_000;

/// The probability that a random string of `length` characters from `alphabet` is a serial that
/// was issued, when `planned_volume` serials are issued: `planned_volume / radix^length`.
///
/// An epoch character does not count: it is the same for every serial of an epoch.
pub fn guess_probability(planned_volume: u64, alphabet: Alphabet, length: usize) -> f64 {
    let exponent = i32::try_from(length).unwrap_or(i32::MAX);
    planned_volume as f64 / f64::from(alphabet.radix()).powi(exponent)
}

/// Refuses a configuration whose guess probability is `≥ 1/10,000`
/// ([`MAX_GUESS_DENOMINATOR`]); returns the probability otherwise.
///
/// The comparison is exact integer arithmetic (`planned_volume · 10,000 < radix^length`), so a
/// configuration right at the limit is refused whatever the floating-point rounding.
pub fn check_guess_probability(
    planned_volume: u64,
    alphabet: Alphabet,
    length: usize,
) -> Result<f64, SerialError> {
    let issued_scaled = u128::from(planned_volume) * u128::from(MAX_GUESS_DENOMINATOR);
    // A space too large for u128 is far above any u64 volume times 10,000.
    let acceptable = match super::ff1::domain_size(alphabet.radix(), length) {
        Some(space) => issued_scaled < space,
        None => true,
    };
    let probability = guess_probability(planned_volume, alphabet, length);
    if acceptable {
        Ok(probability)
    } else {
        Err(SerialError::GuessProbabilityTooHigh {
            planned_volume,
            alphabet,
            radix: alphabet.radix(),
            length,
            probability,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probability_is_volume_over_space() {
        assert_eq!(guess_probability(1_000, Alphabet::Digits, 6), 1e-3);
        assert_eq!(guess_probability(0, Alphabet::Safe, 10), 0.0);
        let p = guess_probability(1_000_000, Alphabet::Crockford32, 8);
        assert!((p - 1e6 / 2f64.powi(40)).abs() < 1e-20);
    }

    #[test]
    fn limit_is_exclusive_and_exact() {
        // 10^12 / 10^8 = 1/10,000 exactly: refused. One fewer unit: accepted.
        assert!(check_guess_probability(100_000_000, Alphabet::Digits, 12).is_err());
        assert!(check_guess_probability(99_999_999, Alphabet::Digits, 12).is_ok());
    }

    #[test]
    fn refusal_message_cites_the_rule() {
        let err = check_guess_probability(10_000_000, Alphabet::Safe, 5).expect_err("too dense");
        assert_eq!(
            err.to_string(),
            "guess probability 1.987e-2 too high for 10000000 serials over 55^5 (alphabet safe, length 5): must be < 1/10,000 (EU Delegated Regulation 2016/161 Art. 4(b)); lengthen the serial or plan fewer units per product key"
        );
    }

    #[test]
    fn huge_spaces_are_accepted() {
        assert!(check_guess_probability(u64::MAX, Alphabet::Safe, 200).is_ok());
    }
}
