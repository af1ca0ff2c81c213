//! DataMatrix ECC 200 through the `datamatrix` crate (ISO/IEC 16022:2006).

use datamatrix::data::DataEncodingError;
use datamatrix::{DataMatrixBuilder, EncodationType, SymbolList};

use super::render::Symbol;
use super::{SymbolError, Symbology};

/// Encode `data` as a square DataMatrix; with `gs1`, codeword 232 (FNC1) comes first.
///
/// GS (0x1D) inside a GS1 element string is written as the ASCII value 29 (codeword 30): the GS1
/// General Specifications (§5.6, GS1 DataMatrix) allow GS as well as FNC1 as the separator, and
/// a reader transmits both as GS. Square sizes only, the format GS1 recommends for DataMatrix.
/// Macros 05/06 are disabled so the data round-trips byte for byte.
pub(super) fn encode(data: &[u8], gs1: bool) -> Result<Symbol, SymbolError> {
    let symbology = if gs1 {
        Symbology::Gs1DataMatrix
    } else {
        Symbology::DataMatrix
    };
    // GS1 element strings are printable ASCII, mostly digits and capitals: ASCII (digit pairs),
    // C40 and Text cover them, and a smaller search makes encoding about twice as fast.
    let types = if gs1 {
        EncodationType::Ascii | EncodationType::C40 | EncodationType::Text
    } else {
        EncodationType::all()
    };
    let dm = DataMatrixBuilder::new()
        .with_encodation_types(types)
        .with_symbol_list(SymbolList::default().enforce_square())
        .with_macros(false)
        .with_fnc1_start(gs1)
        .encode(data)
        // The symbol list is never empty here, yet the planner reports `SymbolListEmpty` when
        // no size in it is large enough, so both errors mean "too long".
        .map_err(|e| match e {
            DataEncodingError::TooMuchOrIllegalData | DataEncodingError::SymbolListEmpty => {
                SymbolError::TooLong {
                    symbology,
                    len: data.len(),
                    limit: "the largest square DataMatrix (144x144) holds 1556 data codewords \
                            (about 3116 digits, 2335 ASCII characters or 1555 other bytes)",
                }
            }
        })?;
    let bitmap = dm.bitmap();
    let (width, height) = (bitmap.width(), bitmap.height());
    let mut modules = vec![false; width * height];
    for (x, y) in bitmap.pixels() {
        if let Some(m) = modules.get_mut(y * width + x) {
            *m = true;
        }
    }
    Symbol::matrix(symbology, width, height, modules)
}
