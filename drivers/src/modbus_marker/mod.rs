//! Modbus register markers: cable and pipe inkjet printers and lasers driven by writing the
//! code into holding registers, loading it into the device's buffer, and polling a print
//! counter and status bits. The device is described entirely by its register map
//! ([`ModbusMarkerMap`]), filled from the device manual. See `docs/protocols/modbus-marker.md`.
//!
//! - [`map`]: the register map, its defaults and its checks;
//! - [`codec`]: register content (code text ↔ words, status bits, the counter), pure;
//! - [`ModbusMarker`] / [`ModbusMarkerSession`]: the marker model over tokio-modbus, Modbus TCP
//!   or RTU.

pub mod codec;
pub mod map;
mod session;

pub use map::ModbusMarkerMap;
pub use session::{InvalidMap, ModbusMarker, ModbusMarkerConfig, ModbusMarkerSession};
