//! [`SerialGenerator`]: counter → serial with AES-256 FF1, tweak = product key.

use super::ff1::{FastFf1, MAX_TWEAK_LEN, domain_size};
use super::{Alphabet, SerialError, check_guess_probability};
use aes::Aes256;
use std::fmt;

/// Longest serial, epoch character included: GS1 AI (21) is `X..20`, and 20 characters of any
/// alphabet here keep `radix^length < 2^128` for the fixed-width FF1.
pub const MAX_SERIAL_LEN: usize = 20;

/// Makes the serials of one product key under one key: `serial(counter)` is the FF1 encryption
/// of `counter`, written in the alphabet, optionally after an epoch character.
///
/// Distinct counters give distinct serials (FF1 is a permutation of `alphabet^length`), and
/// [`SerialGenerator::counter_of`] maps a serial back to its counter.
#[derive(Clone)]
pub struct SerialGenerator {
    ff1: FastFf1<Aes256>,
    alphabet: Alphabet,
    length: usize,
    epoch: Option<u8>,
}

impl fmt::Debug for SerialGenerator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key stays out of logs.
        f.debug_struct("SerialGenerator")
            .field("alphabet", &self.alphabet)
            .field("length", &self.length)
            .field("epoch", &self.epoch.map(char::from))
            .finish_non_exhaustive()
    }
}

impl SerialGenerator {
    /// A generator of `length`-character serials over `alphabet`, encrypting counters with the
    /// AES-256 `key` and the `product_key` (e.g. the 14-digit GTIN as ASCII) as FF1 tweak.
    ///
    /// Refuses an empty or over-long product key, `length > MAX_SERIAL_LEN`, and
    /// `radix^length < 1,000,000` (NIST SP 800-38G Rev.1 §5.2). It does not check the guess
    /// probability; [`SerialGenerator::with_planned_volume`] does.
    pub fn new(
        key: &[u8; 32],
        product_key: &[u8],
        alphabet: Alphabet,
        length: usize,
    ) -> Result<Self, SerialError> {
        if product_key.is_empty() {
            return Err(SerialError::EmptyProductKey);
        }
        if product_key.len() > MAX_TWEAK_LEN {
            return Err(SerialError::ProductKeyTooLong {
                len: product_key.len(),
                max: MAX_TWEAK_LEN,
            });
        }
        if length > MAX_SERIAL_LEN {
            return Err(SerialError::LengthTooLong {
                length,
                max: MAX_SERIAL_LEN,
            });
        }
        let radix = alphabet.radix();
        match domain_size(radix, length) {
            Some(space) if space >= super::ff1::MIN_DOMAIN => {}
            _ => return Err(SerialError::LengthTooShort { length, radix }),
        }
        let ff1 = FastFf1::new(key, radix, length, product_key)?;
        Ok(Self {
            ff1,
            alphabet,
            length,
            epoch: None,
        })
    }

    /// Like [`SerialGenerator::new`], and also refuses the configuration when issuing
    /// `planned_volume` serials would make the guess probability `≥ 1/10,000`
    /// ([`check_guess_probability`], EU Delegated Regulation 2016/161 Art. 4(b)).
    pub fn with_planned_volume(
        key: &[u8; 32],
        product_key: &[u8],
        alphabet: Alphabet,
        length: usize,
        planned_volume: u64,
    ) -> Result<Self, SerialError> {
        let generator = Self::new(key, product_key, alphabet, length)?;
        check_guess_probability(planned_volume, alphabet, length)?;
        Ok(generator)
    }

    /// Prepends `epoch` to every serial, so that serials made under a rotated key never collide
    /// with those of the previous key (SPEC §4 "Key rotation adds an epoch character").
    ///
    /// The epoch must be a character of the alphabet, and the serial with it must still fit
    /// [`MAX_SERIAL_LEN`].
    pub fn with_epoch(mut self, epoch: char) -> Result<Self, SerialError> {
        let byte = u8::try_from(epoch)
            .ok()
            .filter(|b| self.alphabet.value_of(*b).is_some())
            .ok_or(SerialError::EpochNotInAlphabet {
                epoch,
                alphabet: self.alphabet,
            })?;
        if self.length >= MAX_SERIAL_LEN {
            return Err(SerialError::LengthTooLong {
                length: self.length + 1,
                max: MAX_SERIAL_LEN,
            });
        }
        self.epoch = Some(byte);
        Ok(self)
    }

    /// The alphabet.
    pub fn alphabet(&self) -> Alphabet {
        self.alphabet
    }

    /// The number of encrypted characters (without the epoch character).
    pub fn length(&self) -> usize {
        self.length
    }

    /// The epoch character, if any.
    pub fn epoch(&self) -> Option<char> {
        self.epoch.map(char::from)
    }

    /// The length of every serial, epoch character included.
    pub fn serial_len(&self) -> usize {
        self.length + usize::from(self.epoch.is_some())
    }

    /// `radix^length`: counters must be below it.
    pub fn capacity(&self) -> u128 {
        self.ff1.domain()
    }

    /// The serial of `counter`. Fails when `counter ≥ radix^length`.
    pub fn serial(&self, counter: u64) -> Result<String, SerialError> {
        let mut out = String::with_capacity(self.serial_len());
        self.write_serial(counter, &mut out)?;
        Ok(out)
    }

    /// Appends the serial of `counter` to `out`, without allocating when `out` has room: the
    /// fast path for a production line (clear and reuse one `String`).
    pub fn write_serial(&self, counter: u64, out: &mut String) -> Result<(), SerialError> {
        let mut buf = [0u8; MAX_SERIAL_LEN];
        let len = self.encode(counter, &mut buf)?;
        // The alphabets are ASCII, so each byte is one char.
        out.extend(buf.iter().take(len).map(|&b| char::from(b)));
        Ok(())
    }

    /// The counter whose serial is `serial`, by FF1 decryption. Fails when `serial` does not
    /// have this generator's length, epoch or alphabet, or decrypts beyond `u64`.
    ///
    /// Any well-formed string decrypts to some counter; whether that counter was issued is for
    /// the caller to check.
    pub fn counter_of(&self, serial: &str) -> Result<u64, SerialError> {
        let foreign = |reason| SerialError::ForeignSerial {
            serial: serial.to_owned(),
            reason,
        };
        let bytes = serial.as_bytes();
        if bytes.len() != self.serial_len() {
            return Err(foreign("wrong length"));
        }
        let body = match self.epoch {
            Some(epoch) => match bytes.split_first() {
                Some((&first, rest)) if first == epoch => rest,
                _ => return Err(foreign("wrong epoch character")),
            },
            None => bytes,
        };
        let (a_chars, b_chars) = body.split_at(self.length / 2);
        let a = self
            .parse_numerals(a_chars)
            .ok_or_else(|| foreign("character not in alphabet"))?;
        let b = self
            .parse_numerals(b_chars)
            .ok_or_else(|| foreign("character not in alphabet"))?;
        let (a, b) = self.ff1.decrypt_halves(a, b);
        let x = a * self.ff1.split_point() + b;
        u64::try_from(x).map_err(|_| foreign("decrypts to a counter above u64::MAX"))
    }

    /// Writes the serial of `counter` into `buf`; returns its length.
    #[inline]
    fn encode(&self, counter: u64, buf: &mut [u8; MAX_SERIAL_LEN]) -> Result<usize, SerialError> {
        let x = u128::from(counter);
        if x >= self.ff1.domain() {
            return Err(SerialError::CounterOutOfRange {
                counter,
                alphabet: self.alphabet,
                length: self.length,
                capacity: self.ff1.domain(),
            });
        }
        let split = self.ff1.split_point();
        let (a, b) = match u64::try_from(split) {
            Ok(s) => (u128::from(counter / s), u128::from(counter % s)),
            Err(_) => (0, x),
        };
        let (a, b) = self.ff1.encrypt_halves(a, b);

        let start = usize::from(self.epoch.is_some());
        if let Some(epoch) = self.epoch {
            buf[0] = epoch;
        }
        let (a_out, rest) = buf[start..].split_at_mut(self.length / 2);
        let b_out = &mut rest[..self.length - self.length / 2];
        let chars = self.alphabet.chars().as_bytes();
        write_numerals(a, chars, a_out);
        write_numerals(b, chars, b_out);
        Ok(start + self.length)
    }

    /// `NUM_radix` of a run of alphabet characters.
    fn parse_numerals(&self, chars: &[u8]) -> Option<u128> {
        let radix = u128::from(self.alphabet.radix());
        chars.iter().try_fold(0u128, |acc, &c| {
            let value = self.alphabet.value_of(c)?;
            Some(acc * radix + u128::from(value))
        })
    }
}

/// `STR_radix(x)` into `out` (most significant first), `radix = chars.len()`; `x < radix^out.len()`.
#[inline]
fn write_numerals(x: u128, chars: &[u8], out: &mut [u8]) {
    let radix = chars.len();
    match u64::try_from(x) {
        Ok(mut x) => {
            let r = radix as u64;
            for slot in out.iter_mut().rev() {
                *slot = chars[(x % r) as usize];
                x /= r;
            }
        }
        Err(_) => {
            let mut x = x;
            let r = radix as u128;
            for slot in out.iter_mut().rev() {
                *slot = chars[(x % r) as usize];
                x /= r;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [0x42; 32];
    const GTIN: &[u8] = b"09506000134352";

    #[test]
    fn serials_have_the_configured_shape() {
        let g = SerialGenerator::new(&KEY, GTIN, Alphabet::Safe, 10).expect("valid");
        let s = g.serial(0).expect("in range");
        assert_eq!(s.len(), 10);
        assert!(s.chars().all(|c| Alphabet::Safe.contains(c)));
        assert_eq!(g.counter_of(&s), Ok(0));
    }

    #[test]
    fn write_serial_appends() {
        let g = SerialGenerator::new(&KEY, GTIN, Alphabet::Digits, 12).expect("valid");
        let mut out = String::from("(21)");
        g.write_serial(7, &mut out).expect("in range");
        assert_eq!(out, format!("(21){}", g.serial(7).expect("in range")));
    }

    #[test]
    fn epoch_is_prepended_and_checked() {
        let g = SerialGenerator::new(&KEY, GTIN, Alphabet::Crockford32, 8).expect("valid");
        let plain = g.serial(99).expect("in range");
        let g = g.with_epoch('B').expect("in alphabet");
        assert_eq!(g.serial_len(), 9);
        assert_eq!(g.serial(99).expect("in range"), format!("B{plain}"));
        assert_eq!(g.counter_of(&format!("B{plain}")), Ok(99));
        assert_eq!(
            g.counter_of(&format!("C{plain}"))
                .map_err(|e| e.to_string()),
            Err(format!(
                "serial \"C{plain}\" not from this generator: wrong epoch character"
            ))
        );
    }

    #[test]
    fn counter_of_rejects_malformed_serials() {
        let g = SerialGenerator::new(&KEY, GTIN, Alphabet::Safe, 10).expect("valid");
        assert!(matches!(
            g.counter_of("ABC"),
            Err(SerialError::ForeignSerial {
                reason: "wrong length",
                ..
            })
        ));
        assert!(matches!(
            g.counter_of("ABCDEFGHI0"),
            Err(SerialError::ForeignSerial {
                reason: "character not in alphabet",
                ..
            })
        ));
    }

    #[test]
    fn debug_hides_the_key() {
        let g = SerialGenerator::new(&KEY, GTIN, Alphabet::Digits, 12).expect("valid");
        assert_eq!(
            format!("{g:?}"),
            "SerialGenerator { alphabet: Digits, length: 12, epoch: None, .. }"
        );
    }
}
