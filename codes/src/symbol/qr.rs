//! QR Code model 2 through the `qrcode` crate (ISO/IEC 18004:2015), with the segmentation done
//! here so that GS1 separators are written exactly as §7.4.8.3 allows.

use qrcode::QrCode;
use qrcode::bits::Bits;
use qrcode::optimize::{Optimizer, Parser, Segment, total_encoded_len};
use qrcode::types::{Color, EcLevel, Mode, QrError, Version};

use super::render::Symbol;
use super::{GS, SymbolError, Symbology};

/// Error-correction level used for every QR symbol: M recovers about 15 % of the codewords, the
/// usual choice for printed labels.
const EC_LEVEL: EcLevel = EcLevel::M;

/// Bits of the FNC1-in-first-position mode indicator (ISO/IEC 18004:2015 §7.4.8, `0101`).
const FNC1_FIRST_BITS: usize = 4;

/// Encode `data` in the smallest QR version (1–40, level M) that holds it.
///
/// With `gs1` the symbol starts with the FNC1 first-position mode indicator. GS (0x1D) and `%`
/// are kept in byte-mode segments, where ISO/IEC 18004:2015 §7.4.8.3 reads 0x1D as the FNC1
/// field separator and `%` as itself; they never reach an alphanumeric segment, where `%` would
/// mean FNC1 and a literal `%` would have to be doubled. Bytes 0x80 and above are kept in byte
/// mode too (never Kanji), so a plain QR carries arbitrary bytes unchanged.
pub(super) fn encode(data: &[u8], gs1: bool) -> Result<Symbol, SymbolError> {
    let symbology = if gs1 { Symbology::Gs1Qr } else { Symbology::Qr };
    // The segmenter sees a stand-in string of the same length in which every byte that must go
    // in byte mode is `a` (a byte-mode-only character that cannot start a Kanji pair).
    let stand_in: Vec<u8> = data
        .iter()
        .map(|&b| match b {
            0x80..=0xFF => b'a',
            GS | b'%' if gs1 => b'a',
            _ => b,
        })
        .collect();
    let parsed: Vec<Segment> = Parser::new(&stand_in).collect();
    let header_bits = if gs1 { FNC1_FIRST_BITS } else { 0 };
    let qr_err = |e: QrError| SymbolError::Encoder {
        symbology,
        detail: e.to_string(),
    };

    for v in 1..=40_i16 {
        let version = Version::Normal(v);
        let segments: Vec<Segment> = Optimizer::new(parsed.iter().copied(), version).collect();
        let needed = header_bits + total_encoded_len(&segments, version);
        let mut bits = Bits::new(version);
        if needed > bits.max_len(EC_LEVEL).map_err(qr_err)? {
            continue;
        }
        if gs1 {
            bits.push_fnc1_first_position().map_err(qr_err)?;
        }
        for segment in &segments {
            let slice = data.get(segment.begin..segment.end).unwrap_or_default();
            match segment.mode {
                Mode::Numeric => bits.push_numeric_data(slice),
                Mode::Alphanumeric => bits.push_alphanumeric_data(slice),
                // The stand-in has no Kanji pairs, so the segmenter never yields Kanji.
                Mode::Byte | Mode::Kanji => bits.push_byte_data(slice),
            }
            .map_err(qr_err)?;
        }
        bits.push_terminator(EC_LEVEL).map_err(qr_err)?;
        let code = QrCode::with_bits(bits, EC_LEVEL).map_err(qr_err)?;
        let width = code.width();
        let modules = code
            .to_colors()
            .into_iter()
            .map(|c| c == Color::Dark)
            .collect();
        return Symbol::matrix(symbology, width, width, modules);
    }
    Err(SymbolError::TooLong {
        symbology,
        len: data.len(),
        limit: "QR version 40 at level M holds 2331 bytes, 3391 alphanumeric or 5596 numeric characters",
    })
}
