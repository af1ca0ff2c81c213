//! Barcode symbols: encode trace codes as GS1 DataMatrix, GS1 QR, plain DataMatrix / QR and
//! GS1-128, render them to PNG and SVG with quiet zones, and decode images back to the string a
//! scanner would send.
//!
//! # Encoding rules
//!
//! For the three GS1 symbologies the input is a GS1 *element string* as produced by
//! [`crate::gs1`]: application identifiers and their values, with GS (0x1D) after every
//! variable-length field that is not last, and **no** leading FNC1. This module adds the FNC1 that
//! marks the symbol as GS1 and turns each GS into a field separator:
//!
//! | Symbology | FNC1 in first position | Field separator (GS in the input) |
//! |-----------|------------------------|-----------------------------------|
//! | GS1 DataMatrix | codeword 232 as the first data codeword (ISO/IEC 16022:2006, ASCII encodation, FNC1; GS1 General Specifications §5.6) | the ASCII value GS, codeword 30: GS1 General Specifications §5.6 and §7.8 allow GS as well as FNC1 as the separator, and a reader transmits both as GS |
//! | GS1 QR | mode indicator `0101` before the first segment (ISO/IEC 18004:2015 §7.4.8; GS1 General Specifications §5.7) | the byte 0x1D in a byte-mode segment (ISO/IEC 18004:2015 §7.4.8.3) |
//! | GS1-128 | Start A/B/C followed by FNC1 (ISO/IEC 15417:2007, FNC1; GS1 General Specifications §5.4) | FNC1, transmitted as GS (GS1 General Specifications §5.4 and §7.8) |
//!
//! ISO/IEC 18004:2015 §7.4.8.3 offers two ways to write the separator in FNC1 mode: `%` in an
//! alphanumeric segment (a literal `%` then being written `%%`), or GS (0x1D) in a byte segment.
//! This module always uses the second: GS and `%` are put in byte-mode segments, so the
//! alphanumeric escape never appears. It costs a few bits per separator but is unambiguous, and
//! rxing 0.9's handling of alphanumeric `%` in FNC1 mode fails on some inputs.
//!
//! Plain DataMatrix and QR carry arbitrary bytes. No ECI is written, so decoders return the bytes
//! unchanged (both symbologies default to ISO/IEC 8859-1).
//!
//! # Quiet zones
//!
//! [`RenderOptions::for_symbology`] gives the defaults (X = one module):
//! - DataMatrix: 2X on all four sides. ISO/IEC 16022:2006 and the GS1 symbol specification tables
//!   (GS1 General Specifications §5.12.3) ask for at least 1X; 2X leaves a margin for ink spread.
//! - QR: 4X on all four sides (ISO/IEC 18004:2015, quiet zone; GS1 General Specifications §5.7,
//!   §5.12.3).
//! - GS1-128: 10X left and right (ISO/IEC 15417:2007, quiet zone; GS1 General Specifications §5.4,
//!   §5.12.3).
//!
//! Section numbers refer to ISO/IEC 18004:2015 and the GS1 General Specifications release 24.0;
//! clause numbers differ between editions.
//!
//! # Decoding
//!
//! [`decode_luma`], [`decode_image`] and [`decode_png`] use rxing and return a [`Decoded`]: the
//! symbology identifier (ISO/IEC 15424: `]d2`, `]d1`, `]Q3`, `]Q1`, `]C1`) and the data with
//! FNC1 field separators as GS (0x1D), the leading FNC1 removed — the string a scanner sends after
//! its symbology identifier.
//!
//! ```
//! use tracemark_codes::symbol::{decode_png, encode, RenderOptions, Symbology};
//!
//! let data = b"0109506000134352\x1d10ABC123";
//! let symbol = encode(Symbology::Gs1DataMatrix, &data[..])?;
//! let png = symbol.to_png(&RenderOptions::for_symbology(Symbology::Gs1DataMatrix))?;
//! let decoded = decode_png(&png)?;
//! assert_eq!(decoded.symbology_identifier(), "]d2");
//! assert_eq!(decoded.data(), &data[..]);
//! # Ok::<(), tracemark_codes::symbol::SymbolError>(())
//! ```

mod datamatrix;
mod decode;
mod linear;
mod qr;
mod render;

use std::fmt;
use std::str::FromStr;

pub use decode::{Decoded, decode_image, decode_luma, decode_png};
pub use render::{MAX_IMAGE_SIDE_PX, RenderOptions, Symbol};

/// The ASCII group separator, used in GS1 element strings where a symbol carries FNC1.
pub const GS: u8 = 0x1D;

/// A barcode symbology that tracemark can print and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Symbology {
    /// GS1 DataMatrix: ECC 200 with FNC1 in first position (ISO/IEC 16022).
    Gs1DataMatrix,
    /// GS1 QR Code: QR Code model 2 in FNC1 first-position mode (ISO/IEC 18004).
    Gs1Qr,
    /// Plain DataMatrix ECC 200 carrying arbitrary bytes.
    DataMatrix,
    /// Plain QR Code model 2 carrying arbitrary bytes.
    Qr,
    /// GS1-128: Code 128 with FNC1 after the start character (ISO/IEC 15417), e.g. SSCC labels.
    Gs1_128,
}

impl Symbology {
    /// Every symbology, in the order of the CLI documentation.
    pub const ALL: [Symbology; 5] = [
        Symbology::Gs1DataMatrix,
        Symbology::Gs1Qr,
        Symbology::DataMatrix,
        Symbology::Qr,
        Symbology::Gs1_128,
    ];

    /// The stable CLI and configuration name, e.g. `gs1-datamatrix`.
    pub fn name(self) -> &'static str {
        match self {
            Symbology::Gs1DataMatrix => "gs1-datamatrix",
            Symbology::Gs1Qr => "gs1-qr",
            Symbology::DataMatrix => "datamatrix",
            Symbology::Qr => "qr",
            Symbology::Gs1_128 => "gs1-128",
        }
    }

    /// Whether the symbol carries a GS1 element string (FNC1 in first position).
    pub fn is_gs1(self) -> bool {
        matches!(
            self,
            Symbology::Gs1DataMatrix | Symbology::Gs1Qr | Symbology::Gs1_128
        )
    }

    /// The symbology identifier (ISO/IEC 15424) a reader sends for symbols made by [`encode`]:
    /// `]d2`, `]Q3`, `]d1`, `]Q1` or `]C1`.
    pub fn symbology_identifier(self) -> &'static str {
        match self {
            Symbology::Gs1DataMatrix => "]d2",
            Symbology::Gs1Qr => "]Q3",
            Symbology::DataMatrix => "]d1",
            Symbology::Qr => "]Q1",
            Symbology::Gs1_128 => "]C1",
        }
    }

    /// The symbology a symbology identifier denotes, if it is one of ours.
    pub fn from_identifier(identifier: &str) -> Option<Symbology> {
        Symbology::ALL
            .into_iter()
            .find(|s| s.symbology_identifier() == identifier)
    }

    /// Whether the symbology is a 2-D matrix (DataMatrix or QR) rather than a 1-D bar code.
    pub fn is_matrix(self) -> bool {
        !matches!(self, Symbology::Gs1_128)
    }

    fn valid_names() -> String {
        Symbology::ALL
            .iter()
            .map(|s| s.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Symbology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Symbology {
    type Err = SymbolError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Symbology::ALL
            .into_iter()
            .find(|sym| sym.name() == s)
            .ok_or_else(|| SymbolError::UnknownSymbology {
                name: s.to_owned(),
                valid: Symbology::valid_names(),
            })
    }
}

/// Errors from encoding, rendering and decoding symbols.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SymbolError {
    /// A symbology name that is not one of [`Symbology::ALL`].
    #[error("unknown symbology `{name}`; valid names: {valid}")]
    UnknownSymbology {
        /// The name given.
        name: String,
        /// The valid names, comma-separated.
        valid: String,
    },
    /// Nothing to encode.
    #[error("{symbology}: data is empty")]
    Empty {
        /// The symbology asked for.
        symbology: Symbology,
    },
    /// The data does not fit the largest symbol of the symbology.
    #[error("{symbology}: data too long ({len} bytes); {limit}")]
    TooLong {
        /// The symbology asked for.
        symbology: Symbology,
        /// Length of the data in bytes.
        len: usize,
        /// The limit that was exceeded.
        limit: &'static str,
    },
    /// A byte the symbology cannot carry, or a GS in a place a GS1 element string forbids.
    #[error("{symbology}: byte 0x{byte:02X} at offset {offset} cannot be encoded: {reason}")]
    InvalidByte {
        /// The symbology asked for.
        symbology: Symbology,
        /// Offset of the byte in the data.
        offset: usize,
        /// The byte.
        byte: u8,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The underlying encoder refused the data for a reason not covered above.
    #[error("{symbology}: encoder failed: {detail}")]
    Encoder {
        /// The symbology asked for.
        symbology: Symbology,
        /// The encoder's message.
        detail: String,
    },
    /// Render options that cannot produce an image.
    #[error("invalid render options: {0}")]
    InvalidRenderOptions(String),
    /// Writing the PNG failed.
    #[error("PNG encoding of a {width}x{height} image failed: {source}")]
    PngEncode {
        /// Image width in pixels.
        width: u32,
        /// Image height in pixels.
        height: u32,
        /// The encoder error.
        #[source]
        source: image::ImageError,
    },
    /// The bytes given to [`decode_png`] are not a readable PNG.
    #[error("cannot read PNG ({len} bytes): {source}")]
    PngDecode {
        /// Length of the input in bytes.
        len: usize,
        /// The decoder error.
        #[source]
        source: image::ImageError,
    },
    /// A luma buffer whose length does not match its dimensions.
    #[error("luma buffer of {len} bytes does not match {width}x{height}")]
    BadImage {
        /// Buffer length.
        len: usize,
        /// Claimed width.
        width: u32,
        /// Claimed height.
        height: u32,
    },
    /// No DataMatrix, QR or Code 128 symbol could be read from the image.
    #[error("no readable symbol in {width}x{height} image: {reason}")]
    NotFound {
        /// Image width in pixels.
        width: u32,
        /// Image height in pixels.
        height: u32,
        /// The decoder's reason.
        reason: String,
    },
}

/// Encode `data` as a symbol of the given symbology.
///
/// For [`Symbology::Gs1DataMatrix`], [`Symbology::Gs1Qr`] and [`Symbology::Gs1_128`], `data` is a
/// GS1 element string: printable ASCII (0x21–0x7E) with GS (0x1D) after variable-length fields,
/// no leading FNC1, no leading, trailing or doubled GS. For [`Symbology::DataMatrix`] and
/// [`Symbology::Qr`] it is any non-empty byte string.
///
/// The smallest symbol that fits is chosen: square DataMatrix sizes up to 144×144, QR versions
/// 1–40 at error-correction level M, GS1-128 up to 48 data characters.
///
/// # Errors
///
/// [`SymbolError::Empty`], [`SymbolError::InvalidByte`] for a byte the symbology cannot carry,
/// [`SymbolError::TooLong`] when no symbol size fits.
pub fn encode(symbology: Symbology, data: &[u8]) -> Result<Symbol, SymbolError> {
    if data.is_empty() {
        return Err(SymbolError::Empty { symbology });
    }
    if symbology.is_gs1() {
        check_element_string(symbology, data)?;
    }
    match symbology {
        Symbology::Gs1DataMatrix => datamatrix::encode(data, true),
        Symbology::DataMatrix => datamatrix::encode(data, false),
        Symbology::Gs1Qr => qr::encode(data, true),
        Symbology::Qr => qr::encode(data, false),
        Symbology::Gs1_128 => linear::encode(data),
    }
}

/// Check the shape of a GS1 element string: printable ASCII and single GS separators between
/// fields (GS1 General Specifications §7.8: FNC1 separates a variable-length field from the
/// next and is not used after the last).
fn check_element_string(symbology: Symbology, data: &[u8]) -> Result<(), SymbolError> {
    let invalid = |offset: usize, reason: &'static str| SymbolError::InvalidByte {
        symbology,
        offset,
        byte: data[offset],
        reason,
    };
    let last = data.len() - 1;
    for (offset, &byte) in data.iter().enumerate() {
        match byte {
            GS if offset == 0 => {
                return Err(invalid(
                    offset,
                    "a GS1 element string starts with an AI; the leading FNC1 is added by the encoder",
                ));
            }
            GS if offset == last => {
                return Err(invalid(offset, "no separator after the last field"));
            }
            GS if data[offset - 1] == GS => {
                return Err(invalid(offset, "two separators in a row"));
            }
            GS | 0x21..=0x7E => {}
            _ => {
                return Err(invalid(
                    offset,
                    "GS1 element strings hold printable ASCII and GS only",
                ));
            }
        }
    }
    Ok(())
}
