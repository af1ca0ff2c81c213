//! Errors of the serial module.

use super::Alphabet;
use super::ff1::Ff1Error;

/// Why a serial configuration was refused or a serial could not be made or read back.
///
/// Every message names the value at fault and, where a rule comes from a standard, cites it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SerialError {
    /// The alphabet name is not one of [`Alphabet::ALL`].
    #[error("unknown alphabet {name:?}: valid names are {valid}", valid = Alphabet::valid_names())]
    UnknownAlphabet {
        /// The name given.
        name: String,
    },
    /// `radix^length` is below the FF1 minimum domain of 1,000,000.
    #[error(
        "serial length {length} too short: {radix}^{length} < 1,000,000 (NIST SP 800-38G Rev.1 §5.2)"
    )]
    LengthTooShort {
        /// The configured length (without the epoch character).
        length: usize,
        /// The alphabet's radix.
        radix: u32,
    },
    /// The serial, with its epoch character if any, is longer than [`super::MAX_SERIAL_LEN`].
    #[error(
        "serial length {length} too long: at most {max} characters including any epoch character (GS1 AI (21) serial is X..20)"
    )]
    LengthTooLong {
        /// The total length asked for.
        length: usize,
        /// The maximum.
        max: usize,
    },
    /// The product key (the FF1 tweak) is empty.
    #[error("product key (FF1 tweak) is empty: use e.g. the 14-digit GTIN")]
    EmptyProductKey,
    /// The product key is longer than [`super::ff1::MAX_TWEAK_LEN`].
    #[error("product key (FF1 tweak) of {len} bytes too long: at most {max} bytes")]
    ProductKeyTooLong {
        /// Its length in bytes.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// The counter is not below `radix^length`.
    #[error(
        "counter {counter} out of range for alphabet {alphabet} length {length}: must be < {capacity}"
    )]
    CounterOutOfRange {
        /// The counter given.
        counter: u64,
        /// The alphabet.
        alphabet: Alphabet,
        /// The serial length (without the epoch character).
        length: usize,
        /// `radix^length`.
        capacity: u128,
    },
    /// The epoch character is not in the serial's alphabet.
    #[error("epoch character {epoch:?} is not in alphabet {alphabet} ({chars})", chars = .alphabet.chars())]
    EpochNotInAlphabet {
        /// The character given.
        epoch: char,
        /// The alphabet.
        alphabet: Alphabet,
    },
    /// Issuing the planned volume would make serials too easy to guess.
    #[error(
        "guess probability {probability:.3e} too high for {planned_volume} serials over {radix}^{length} (alphabet {alphabet}, length {length}): must be < 1/10,000 (EU Delegated Regulation 2016/161 Art. 4(b)); lengthen the serial or plan fewer units per product key"
    )]
    GuessProbabilityTooHigh {
        /// Units planned under one key and product key.
        planned_volume: u64,
        /// The alphabet.
        alphabet: Alphabet,
        /// The alphabet's radix.
        radix: u32,
        /// The serial length (without the epoch character).
        length: usize,
        /// `planned_volume / radix^length`.
        probability: f64,
    },
    /// A serial given to [`super::SerialGenerator::counter_of`] was not made by this generator.
    #[error("serial {serial:?} not from this generator: {reason}")]
    ForeignSerial {
        /// The serial given.
        serial: String,
        /// What does not match.
        reason: &'static str,
    },
    /// The FF1 core refused its parameters (the generator checks them first, so this is a bug).
    #[error(transparent)]
    Ff1(#[from] Ff1Error),
}
