//! GS1: GTIN and SSCC, the application identifier table, and the three forms of a GS1 code —
//! human readable interpretation (HRI), element string, and Digital Link URI — each convertible
//! into the others, plus scanner output with its symbology identifier.
//!
//! ```
//! use tracemark_codes::gs1;
//! let scan = gs1::parse("]d2010950600013435210ABC\u{1d}21A1B2C3")?;
//! assert_eq!(scan.code.to_hri(), "(01)09506000134352(10)ABC(21)A1B2C3");
//! assert_eq!(
//!     scan.code.to_digital_link(gs1::DEFAULT_DOMAIN)?,
//!     "https://id.gs1.org/01/09506000134352/10/ABC/21/A1B2C3"
//! );
//! # Ok::<(), gs1::Gs1Error>(())
//! ```

pub mod ai;
pub mod check;
mod code;
mod digital_link;
mod element;
pub mod epc;
mod error;
mod hri;
mod keys;
mod logistic;
mod scan;

pub use code::{Element, GS, Gs1Code};
pub(crate) use digital_link::http_scheme_len;
pub use digital_link::{DEFAULT_DOMAIN, parse_digital_link};
pub use element::parse_element_string;
pub use error::{Gs1Error, Problem};
pub use hri::parse_hri;
pub use keys::{Gtin, Sscc};
pub use logistic::{Content, LogisticLabel};
pub use scan::{Gs1Form, Gs1Scan, Gs1Symbology, parse};
