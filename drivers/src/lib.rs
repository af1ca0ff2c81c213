#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod ascii;
pub mod codenet;
pub mod lineio;
pub mod linx;
pub mod marker;
pub mod modbus_marker;
pub mod scanner;
pub mod transport;
pub mod zipher;
pub mod zpl;
