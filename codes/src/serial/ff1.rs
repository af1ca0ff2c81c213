//! A fixed-width FF1 (NIST SP 800-38G Rev.1 §5.1, Algorithms 7 and 8) on integer numerals.
//!
//! FF1 encrypts a numeral string `X` of `n` numerals in base `radix` into another string of the
//! same length and base. Because a numeral string of fixed length `n` and the integer
//! `NUM_radix(X)` in `0..radix^n` determine each other, this implementation works on integers:
//! [`FastFf1::encrypt`] maps `0..radix^n` onto itself. The two Feistel halves `A` (the first
//! `u = ⌊n/2⌋` numerals) and `B` (the last `v = n − u` numerals) are `NUM(A)` and `NUM(B)`, i.e.
//! `x / radix^v` and `x % radix^v`.
//!
//! # Why it is fast
//!
//! The domain is limited to `radix^n < 2^128`, so every value fits a `u128` and:
//!
//! * `radix^v < 2^72`, hence `b = ⌈⌈v·log2(radix)⌉/8⌉ ≤ 9` and `d = 4⌈b/4⌉ + 4 ≤ 12 ≤ 16`: the
//!   output `S` of step 6iii is a prefix of the single PRF block `R`, no extra AES call is needed;
//! * the PRF input `P || Q` (steps 5 and 6i) only changes in its last block, which holds
//!   `[i] || [NUM(B)]^b` and a constant head of `T || 0…`. The CBC-MAC state over `P` and the
//!   tweak-only blocks is computed once per key and tweak ([`FastFf1::new`]); each Feistel round
//!   is then one XOR and one block encryption;
//! * the AES key schedule is expanded once, and the modular arithmetic uses `u64` whenever the
//!   values fit (the usual case: `d = 8` for serials up to 20 characters).
//!
//! The result is bit-for-bit FF1: the tests compare it with the `fpe` crate on random inputs and
//! with the NIST sample vectors.

use aes::cipher::consts::U16;
use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockEncrypt, BlockSizeUser, KeyInit};
use std::fmt;

/// Largest radix FF1 allows: NIST SP 800-38G Rev.1 §5.2, `radix ∈ [2..2^16]`.
pub const MAX_RADIX: u32 = 1 << 16;

/// Smallest domain FF1 allows: NIST SP 800-38G Rev.1 §5.2 requires `radix^minlen ≥ 1,000,000`.
pub const MIN_DOMAIN: u128 = 1_000_000;

/// Longest tweak accepted, in bytes. FF1 allows up to `2^32 − 1`; a product key is far shorter.
pub const MAX_TWEAK_LEN: usize = 1024;

/// Number of Feistel rounds of FF1 (SP 800-38G Rev.1 Algorithm 7 step 6).
const ROUNDS: u8 = 10;

/// Why a [`FastFf1`] could not be built or could not encrypt a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Ff1Error {
    /// The radix is outside `2..=65536`.
    #[error("FF1 radix {0} out of range: must be in 2..=65536 (NIST SP 800-38G Rev.1 §5.2)")]
    Radix(u32),
    /// `radix^n` does not fit this fixed-width implementation.
    #[error(
        "FF1 length {n} too long for radix {radix}: the fixed-width implementation needs radix^n < 2^128"
    )]
    DomainTooLarge {
        /// The radix.
        radix: u32,
        /// The number of numerals.
        n: usize,
    },
    /// `radix^n < 1,000,000`.
    #[error(
        "FF1 length {n} too short for radix {radix}: {radix}^{n} < 1,000,000 (NIST SP 800-38G Rev.1 §5.2)"
    )]
    DomainTooSmall {
        /// The radix.
        radix: u32,
        /// The number of numerals.
        n: usize,
    },
    /// The key does not have the length the block cipher needs.
    #[error("FF1 key of {0} bytes does not fit the block cipher (AES needs 16, 24 or 32 bytes)")]
    KeyLength(usize),
    /// The tweak is longer than [`MAX_TWEAK_LEN`].
    #[error("FF1 tweak of {0} bytes too long: at most {MAX_TWEAK_LEN} bytes")]
    TweakTooLong(usize),
    /// The input is not in `0..radix^n`.
    #[error("FF1 input {x} out of range: must be < {radix}^{n}")]
    InputOutOfRange {
        /// The rejected input.
        x: u128,
        /// The radix.
        radix: u32,
        /// The number of numerals.
        n: usize,
    },
}

/// FF1 with a fixed key, radix, length and tweak, over integers `0..radix^n < 2^128`.
///
/// Generic over the block cipher so that AES-128, AES-192 and AES-256 all work (the NIST samples
/// use all three); serials use [`aes::Aes256`].
#[derive(Clone)]
pub struct FastFf1<C> {
    cipher: C,
    radix: u32,
    n: usize,
    tweak_len: usize,
    /// `radix^u`, the modulus of even rounds.
    pow_u: u128,
    /// `radix^v`, the modulus of odd rounds and the split point of the input.
    pow_v: u128,
    /// `radix^n`.
    domain: u128,
    /// `8·b`: the bit position of the round number `[i]` in the last PRF block.
    round_shift: u32,
    /// `128 − 8·d`: `NUM(S) = NUM(R) >> y_shift`.
    y_shift: u32,
    /// CBC-MAC state after `P` and all but the last block of `Q`, XORed with the constant head
    /// (tweak tail and zero padding) of the last block of `Q`.
    base: u128,
}

impl<C> fmt::Debug for FastFf1<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the key schedule.
        f.debug_struct("FastFf1")
            .field("radix", &self.radix)
            .field("n", &self.n)
            .field("tweak_len", &self.tweak_len)
            .finish_non_exhaustive()
    }
}

/// `radix^n`, or `None` when it does not fit a `u128`.
pub(crate) fn domain_size(radix: u32, n: usize) -> Option<u128> {
    let n = u32::try_from(n).ok()?;
    u128::from(radix).checked_pow(n)
}

impl<C> FastFf1<C>
where
    C: BlockEncrypt + KeyInit + BlockSizeUser<BlockSize = U16>,
{
    /// Prepares FF1 for one key, radix, length `n` and tweak.
    ///
    /// Runs steps 1–5 of SP 800-38G Rev.1 Algorithm 7 and the tweak-only part of the PRF once.
    pub fn new(key: &[u8], radix: u32, n: usize, tweak: &[u8]) -> Result<Self, Ff1Error> {
        if !(2..=MAX_RADIX).contains(&radix) {
            return Err(Ff1Error::Radix(radix));
        }
        let domain = domain_size(radix, n).ok_or(Ff1Error::DomainTooLarge { radix, n })?;
        if domain < MIN_DOMAIN {
            return Err(Ff1Error::DomainTooSmall { radix, n });
        }
        if tweak.len() > MAX_TWEAK_LEN {
            return Err(Ff1Error::TweakTooLong(tweak.len()));
        }
        let cipher = C::new_from_slice(key).map_err(|_| Ff1Error::KeyLength(key.len()))?;

        // Step 1: u = ⌊n/2⌋, v = n − u. Both powers are ≤ radix^n, so they fit.
        let u = n / 2;
        let v = n - u;
        let pow_u = domain_size(radix, u).ok_or(Ff1Error::DomainTooLarge { radix, n })?;
        let pow_v = domain_size(radix, v).ok_or(Ff1Error::DomainTooLarge { radix, n })?;

        // Step 3: b = ⌈⌈v·log2(radix)⌉/8⌉, computed exactly: ⌈log2(radix^v)⌉ is the bit length
        // of radix^v − 1 (radix^v ≥ 2 because radix ≥ 2 and v ≥ 1).
        let bits = 128 - (pow_v - 1).leading_zeros();
        let b = bits.div_ceil(8);
        // Step 4: d = 4⌈b/4⌉ + 4.
        let d = 4 * b.div_ceil(4) + 4;
        // radix^v < 2^72 (see the module docs) keeps d ≤ 16; refuse rather than panic otherwise.
        if d > 16 {
            return Err(Ff1Error::DomainTooLarge { radix, n });
        }
        let b = b as usize;

        // Step 5: P = [1]^1 || [2]^1 || [1]^1 || [radix]^3 || [10]^1 || [u mod 256]^1 || [n]^4 || [t]^4.
        let n32 = u32::try_from(n).map_err(|_| Ff1Error::DomainTooLarge { radix, n })?;
        let t32 = u32::try_from(tweak.len()).map_err(|_| Ff1Error::TweakTooLong(tweak.len()))?;
        let mut p = [0u8; 16];
        p[..3].copy_from_slice(&[1, 2, 1]);
        p[3..6].copy_from_slice(&radix.to_be_bytes()[1..]);
        p[6] = 10;
        p[7] = (u % 256) as u8;
        p[8..12].copy_from_slice(&n32.to_be_bytes());
        p[12..16].copy_from_slice(&t32.to_be_bytes());

        // Step 6i with i = 0 and NUM(B) = 0: Q = T || [0]^((−t−b−1) mod 16) || [i] || [NUM(B)]^b.
        let t = tweak.len();
        let pad = (16 - (t + b + 1) % 16) % 16;
        let q_len = t + pad + 1 + b;
        let mut q = Vec::with_capacity(q_len);
        q.extend_from_slice(tweak);
        q.resize(q_len, 0);

        // Step 6ii, PRF (Algorithm 6) = CBC-MAC with a zero IV over P || Q, up to the last block.
        let mut state = encrypt_u128(&cipher, u128::from_be_bytes(p));
        let (head, last) = q.split_at(q_len - 16);
        for block in head.chunks_exact(16) {
            state = encrypt_u128(&cipher, state ^ be_u128(block));
        }
        let base = state ^ be_u128(last);

        Ok(Self {
            cipher,
            radix,
            n,
            tweak_len: t,
            pow_u,
            pow_v,
            domain,
            round_shift: 8 * b as u32,
            y_shift: 128 - 8 * d,
            base,
        })
    }
}

impl<C> FastFf1<C>
where
    C: BlockEncrypt + BlockSizeUser<BlockSize = U16>,
{
    /// The radix.
    pub fn radix(&self) -> u32 {
        self.radix
    }

    /// The number of numerals `n`.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Always `false`: FF1 needs at least two numerals.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// `radix^n`, the size of the domain; inputs and outputs are below it.
    pub fn domain(&self) -> u128 {
        self.domain
    }

    /// `radix^v`: an input `x` has halves `A = x / radix^v` and `B = x % radix^v`.
    pub(crate) fn split_point(&self) -> u128 {
        self.pow_v
    }

    /// FF1.Encrypt (Algorithm 7) of `NUM_radix(X) = x`; returns `NUM_radix(Y)`.
    pub fn encrypt(&self, x: u128) -> Result<u128, Ff1Error> {
        self.check_input(x)?;
        let (a, b) = self.encrypt_halves(x / self.pow_v, x % self.pow_v);
        Ok(a * self.pow_v + b)
    }

    /// FF1.Decrypt (Algorithm 8) of `NUM_radix(Y) = y`; returns `NUM_radix(X)`.
    pub fn decrypt(&self, y: u128) -> Result<u128, Ff1Error> {
        self.check_input(y)?;
        let (a, b) = self.decrypt_halves(y / self.pow_v, y % self.pow_v);
        Ok(a * self.pow_v + b)
    }

    fn check_input(&self, x: u128) -> Result<(), Ff1Error> {
        if x < self.domain {
            Ok(())
        } else {
            Err(Ff1Error::InputOutOfRange {
                x,
                radix: self.radix,
                n: self.n,
            })
        }
    }

    /// Steps 6i–6iv: `y = NUM(S)` for round `i` with the half `x` in the last PRF block.
    #[inline]
    fn round_value(&self, i: u8, x: u128) -> u128 {
        // x < radix^v < 2^(8b), so it occupies exactly the last b bytes; [i] sits just before.
        let block = self.base ^ (u128::from(i) << self.round_shift) ^ x;
        encrypt_u128(&self.cipher, block) >> self.y_shift
    }

    /// The ten Feistel rounds of Algorithm 7 on `A = NUM(X[1..u])`, `B = NUM(X[u+1..n])`.
    #[inline]
    pub(crate) fn encrypt_halves(&self, mut a: u128, mut b: u128) -> (u128, u128) {
        for i in 0..ROUNDS {
            let y = self.round_value(i, b);
            // Step 6v: m = u for even rounds, v for odd ones.
            let modulus = if i % 2 == 0 { self.pow_u } else { self.pow_v };
            // Steps 6vi–6ix: C = (NUM(A) + y) mod radix^m; A = B; B = C.
            let c = add_mod(a, y, modulus);
            a = b;
            b = c;
        }
        (a, b)
    }

    /// The ten Feistel rounds of Algorithm 8, undoing [`Self::encrypt_halves`].
    #[inline]
    pub(crate) fn decrypt_halves(&self, mut a: u128, mut b: u128) -> (u128, u128) {
        for i in (0..ROUNDS).rev() {
            let y = self.round_value(i, a);
            let modulus = if i % 2 == 0 { self.pow_u } else { self.pow_v };
            // Steps 6vi–6ix: C = (NUM(B) − y) mod radix^m; B = A; A = C.
            let c = sub_mod(b, y, modulus);
            b = a;
            a = c;
        }
        (a, b)
    }
}

/// One block encryption of a big-endian `u128`.
#[inline]
fn encrypt_u128<C>(cipher: &C, block: u128) -> u128
where
    C: BlockEncrypt + BlockSizeUser<BlockSize = U16>,
{
    let mut block = GenericArray::from(block.to_be_bytes());
    cipher.encrypt_block(&mut block);
    u128::from_be_bytes(block.into())
}

/// A 16-byte slice as a big-endian `u128` (callers pass exactly 16 bytes).
fn be_u128(bytes: &[u8]) -> u128 {
    let mut buf = [0u8; 16];
    buf.copy_from_slice(bytes);
    u128::from_be_bytes(buf)
}

/// `y mod m`, in `u64` when both fit.
#[inline]
fn reduce(y: u128, m: u128) -> u128 {
    match (u64::try_from(y), u64::try_from(m)) {
        (Ok(y), Ok(m)) => u128::from(y % m),
        _ => y % m,
    }
}

/// `(a + y) mod m` for `a < m ≤ radix^v < 2^72`: the sum cannot overflow.
#[inline]
fn add_mod(a: u128, y: u128, m: u128) -> u128 {
    let s = a + reduce(y, m);
    if s >= m { s - m } else { s }
}

/// `(b − y) mod m` for `b < m`.
#[inline]
fn sub_mod(b: u128, y: u128, m: u128) -> u128 {
    let y = reduce(y, m);
    if b >= y { b - y } else { b + (m - y) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::Aes256;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn b_and_d_follow_the_spec() {
        // radix 10, n = 12: v = 6, ⌈6·log2 10⌉ = 20 bits → b = 3, d = 8.
        let f = FastFf1::<Aes256>::new(&KEY, 10, 12, b"x").expect("valid");
        assert_eq!(f.round_shift, 24);
        assert_eq!(f.y_shift, 64);
        // radix 32, n = 20: v = 10, 50 bits exactly (power of two) → b = 7, d = 12.
        let f = FastFf1::<Aes256>::new(&KEY, 32, 20, b"x").expect("valid");
        assert_eq!(f.round_shift, 56);
        assert_eq!(f.y_shift, 32);
    }

    #[test]
    fn rejects_bad_parameters() {
        assert_eq!(
            FastFf1::<Aes256>::new(&KEY, 1, 30, b"").err(),
            Some(Ff1Error::Radix(1))
        );
        assert_eq!(
            FastFf1::<Aes256>::new(&KEY, 70_000, 3, b"").err(),
            Some(Ff1Error::Radix(70_000))
        );
        assert_eq!(
            FastFf1::<Aes256>::new(&KEY, 10, 5, b"").err(),
            Some(Ff1Error::DomainTooSmall { radix: 10, n: 5 })
        );
        assert_eq!(
            FastFf1::<Aes256>::new(&KEY, 10, 39, b"").err(),
            Some(Ff1Error::DomainTooLarge { radix: 10, n: 39 })
        );
        assert_eq!(
            FastFf1::<Aes256>::new(&KEY[..31], 10, 6, b"").err(),
            Some(Ff1Error::KeyLength(31))
        );
        assert_eq!(
            FastFf1::<Aes256>::new(&KEY, 10, 6, &[0; MAX_TWEAK_LEN + 1]).err(),
            Some(Ff1Error::TweakTooLong(MAX_TWEAK_LEN + 1))
        );
        let f = FastFf1::<Aes256>::new(&KEY, 10, 6, b"").expect("valid");
        assert_eq!(
            f.encrypt(1_000_000),
            Err(Ff1Error::InputOutOfRange {
                x: 1_000_000,
                radix: 10,
                n: 6
            })
        );
    }

    #[test]
    fn largest_domains_round_trip() {
        // 10^38 < 2^128 and 65536^7 = 2^112: the extreme shapes still give d ≤ 16.
        for (radix, n) in [(10, 38), (MAX_RADIX, 7), (2, 127), (36, 24)] {
            let f = FastFf1::<Aes256>::new(&KEY, radix, n, b"tweak").expect("valid");
            for x in [0, 1, f.domain() / 3, f.domain() - 1] {
                let y = f.encrypt(x).expect("in range");
                assert!(y < f.domain());
                assert_eq!(f.decrypt(y), Ok(x), "radix {radix} n {n} x {x}");
            }
        }
    }

    #[test]
    fn debug_does_not_show_the_key() {
        let f = FastFf1::<Aes256>::new(&KEY, 10, 6, b"").expect("valid");
        assert_eq!(
            format!("{f:?}"),
            "FastFf1 { radix: 10, n: 6, tweak_len: 0, .. }"
        );
    }
}
