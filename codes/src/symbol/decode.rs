//! Reading symbols back from images with rxing, returning what a scanner would transmit.

use std::collections::HashSet;

use image::GrayImage;
use rxing::{BarcodeFormat, DecodeHints, RXingResultMetadataType, RXingResultMetadataValue};

use super::{SymbolError, Symbology};

/// What a reader decoded from one symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    symbology_identifier: String,
    data: Vec<u8>,
}

impl Decoded {
    /// The symbology identifier (ISO/IEC 15424), e.g. `]d2` for GS1 DataMatrix, `]Q3` for GS1
    /// QR, `]C1` for GS1-128, `]d1` / `]Q1` for plain DataMatrix / QR.
    pub fn symbology_identifier(&self) -> &str {
        &self.symbology_identifier
    }

    /// The data: FNC1 field separators as GS (0x1D), the leading FNC1 of a GS1 symbol removed.
    /// For symbols without ECI these are the encoded bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The data, consuming `self`.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }

    /// One of our symbologies, if the identifier is `]d2`, `]Q3`, `]d1`, `]Q1` or `]C1`.
    pub fn symbology(&self) -> Option<Symbology> {
        Symbology::from_identifier(&self.symbology_identifier)
    }

    /// Whether the identifier marks GS1 data (`]d2`, `]Q3`, `]C1`).
    pub fn is_gs1(&self) -> bool {
        self.symbology().is_some_and(Symbology::is_gs1)
    }

    /// The full scanner message: symbology identifier followed by the data.
    pub fn scanner_message(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.symbology_identifier.len() + self.data.len());
        out.extend_from_slice(self.symbology_identifier.as_bytes());
        out.extend_from_slice(&self.data);
        out
    }
}

/// Decode one DataMatrix, QR or Code 128 symbol from 8-bit grayscale pixels (row-major,
/// `width * height` bytes, 0 = black).
///
/// # Errors
///
/// [`SymbolError::BadImage`] if the buffer does not match the dimensions,
/// [`SymbolError::NotFound`] if no symbol could be read.
pub fn decode_luma(pixels: &[u8], width: u32, height: u32) -> Result<Decoded, SymbolError> {
    let expected = u64::from(width) * u64::from(height);
    if width == 0 || height == 0 || pixels.len() as u64 != expected {
        return Err(SymbolError::BadImage {
            len: pixels.len(),
            width,
            height,
        });
    }
    let not_found = |reason: String| SymbolError::NotFound {
        width,
        height,
        reason,
    };
    let mut hints = DecodeHints {
        PossibleFormats: Some(HashSet::from([
            BarcodeFormat::DATA_MATRIX,
            BarcodeFormat::QR_CODE,
            BarcodeFormat::CODE_128,
        ])),
        TryHarder: Some(true),
        // Byte segments without ECI are ISO/IEC 8859-1 (ISO/IEC 18004:2015), so each
        // decoded character below 256 is exactly one encoded byte.
        CharacterSet: Some("ISO-8859-1".to_owned()),
        // Code 128: report FNC1 separators as GS (GS1 General Specifications §5.4, §7.8).
        AssumeGs1: Some(true),
        ..DecodeHints::default()
    };
    let result =
        rxing::helpers::detect_in_luma_slice_with_hints(pixels, width, height, None, &mut hints)
            .map_err(|e| not_found(e.to_string()))?;

    let identifier = match result
        .getRXingResultMetadata()
        .get(&RXingResultMetadataType::SYMBOLOGY_IDENTIFIER)
    {
        Some(RXingResultMetadataValue::SymbologyIdentifier(id)) => id.clone(),
        _ => return Err(not_found("reader gave no symbology identifier".to_owned())),
    };
    let mut text = result.getText();
    if *result.getBarcodeFormat() == BarcodeFormat::CODE_128 {
        // With AssumeGs1 rxing puts the identifier in front of GS1-128 data; it is reported
        // separately here.
        text = text.strip_prefix("]C1").unwrap_or(text);
        // rxing reports a check character of value 102 — the value FNC1 has in every code set
        // (ISO/IEC 15417, the symbol character table) — as one more FNC1, a trailing GS: SSCC
        // 095060000000000541's symbol decodes as its element string and a GS. The check
        // character is never data, and in GS1-128 an FNC1 separates element strings, it never
        // ends the data (GS1 General Specifications §5.4), so a trailing GS is that check.
        if identifier == "]C1" {
            text = text.strip_suffix('\u{1d}').unwrap_or(text);
        }
    }
    Ok(Decoded {
        symbology_identifier: identifier,
        data: text_to_bytes(text),
    })
}

/// Decode one symbol from a grayscale image.
///
/// # Errors
///
/// As [`decode_luma`].
pub fn decode_image(image: &GrayImage) -> Result<Decoded, SymbolError> {
    decode_luma(image.as_raw(), image.width(), image.height())
}

/// Decode one symbol from PNG bytes (any colour type; converted to grayscale).
///
/// # Errors
///
/// [`SymbolError::PngDecode`] if the bytes are not a PNG, otherwise as [`decode_luma`].
pub fn decode_png(png: &[u8]) -> Result<Decoded, SymbolError> {
    let image = image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .map_err(|source| SymbolError::PngDecode {
            len: png.len(),
            source,
        })?
        .into_luma8();
    decode_image(&image)
}

/// Turn rxing's text back into bytes: ISO/IEC 8859-1 if every character fits in a byte (the
/// case for every symbol without ECI), otherwise UTF-8.
fn text_to_bytes(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect::<Option<Vec<u8>>>()
        .unwrap_or_else(|| text.as_bytes().to_vec())
}
