//! GS1-128 through rxing's Code 128 writer (ISO/IEC 15417:2007).

use rxing::EncodeHints;
use rxing::oned::{Code128Writer, OneDimensionalCodeWriter};

use super::render::Symbol;
use super::{GS, SymbolError, Symbology};

/// rxing's stand-in character for FNC1 in Code 128 input.
const FNC1: char = '\u{00f1}';

/// Most data characters in one GS1-128 symbol, separators included and the leading FNC1
/// excluded (GS1 General Specifications §5.4).
pub(super) const MAX_DATA_CHARS: usize = 48;

/// Encode a GS1 element string as GS1-128: Start, FNC1, then the data with every GS written as
/// FNC1 (ISO/IEC 15417:2007; GS1 General Specifications §5.4). rxing's minimal encoder picks the
/// code sets, so digit pairs go in code set C.
pub(super) fn encode(data: &[u8]) -> Result<Symbol, SymbolError> {
    let symbology = Symbology::Gs1_128;
    if data.len() > MAX_DATA_CHARS {
        return Err(SymbolError::TooLong {
            symbology,
            len: data.len(),
            limit: "a GS1-128 symbol holds at most 48 data characters, separators included \
                    (GS1 General Specifications §5.4)",
        });
    }
    let mut contents = String::with_capacity(data.len() + 2);
    contents.push(FNC1);
    contents.extend(
        data.iter()
            .map(|&b| if b == GS { FNC1 } else { char::from(b) }),
    );
    let hints = EncodeHints {
        Code128Compact: Some(true),
        ..EncodeHints::default()
    };
    let modules = Code128Writer
        .encode_oned_with_hints(&contents, &hints)
        .map_err(|e| SymbolError::Encoder {
            symbology,
            detail: e.to_string(),
        })?;
    Symbol::linear(symbology, modules)
}
