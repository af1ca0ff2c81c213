//! Non-guessable serials: FF1 format-preserving encryption of a counter (SPEC §4 "Serials").
//!
//! # Design
//!
//! A serial is `FF1(key, tweak = product key, counter)` written in an [`Alphabet`] with a fixed
//! length, optionally after an epoch character:
//!
//! ```text
//! counter (u64, from a durable block reservation)
//!   → FF1-AES-256 over radix^length, tweak = product key (e.g. the GTIN "09506000134352")
//!   → numerals → characters of the alphabet          e.g. "k7QmZ3pR2x" (safe, length 10)
//!   → [epoch character] prepended if configured       e.g. "Bk7QmZ3pR2x"
//! ```
//!
//! * **Unique by construction.** FF1 (NIST SP 800-38G Rev.1 §5.1) is a permutation of
//!   `alphabet^length` for each key and tweak, so distinct counters below `radix^length` give
//!   distinct serials without a lookup table; the controller only has to never reuse a counter.
//! * **Non-guessable.** Without the key, serials of consecutive counters look random; the tweak
//!   makes each product's permutation independent.
//! * **Key rotation.** A new key gives a new permutation that may collide with the old one; a
//!   distinct epoch character ([`SerialGenerator::with_epoch`]) per key keeps the two sets apart.
//! * **Fast.** [`ff1::FastFf1`] is a fixed-width FF1 on `u128` numerals that precomputes the AES
//!   key schedule and the tweak-only part of the PRF, so each Feistel round costs one AES block.
//!   It is checked against the `fpe` crate and the NIST sample vectors.
//!
//! Domain limits: `radix^length ≥ 1,000,000` (NIST SP 800-38G Rev.1 §5.2) and at most
//! [`MAX_SERIAL_LEN`] = 20 characters including the epoch (GS1 AI (21) is `X..20`).
//!
//! # The guess-probability rule
//!
//! Someone who makes up a serial of the right shape hits an issued one with probability
//! `issued ÷ radix^length` ([`guess_probability`]). Commission Delegated Regulation (EU)
//! 2016/161 Art. 4(b) requires this to be "negligible and in any case lower than one in ten
//! thousand"; [`check_guess_probability`] and [`SerialGenerator::with_planned_volume`] refuse a
//! configuration where `planned_volume ÷ radix^length ≥ 1/10,000`. For example 10 `safe`
//! characters (55^10 ≈ 2.5·10^17) allow up to 2.5·10^13 units per product key; 12 digits allow
//! fewer than 10^8.
//!
//! ```
//! use tracemark_codes::serial::{Alphabet, SerialGenerator};
//!
//! let key = [0x2b; 32];
//! let generator =
//!     SerialGenerator::with_planned_volume(&key, b"09506000134352", Alphabet::Safe, 10, 1_000_000)?
//!         .with_epoch('B')?;
//! let serial = generator.serial(42)?;
//! assert_eq!(serial.len(), 11);
//! assert_eq!(generator.counter_of(&serial)?, 42);
//! # Ok::<(), tracemark_codes::serial::SerialError>(())
//! ```

mod alphabet;
mod error;
pub mod ff1;
mod generator;
mod guess;

pub use alphabet::Alphabet;
pub use error::SerialError;
pub use generator::{MAX_SERIAL_LEN, SerialGenerator};
pub use guess::{MAX_GUESS_DENOMINATOR, check_guess_probability, guess_probability};
