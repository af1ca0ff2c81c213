#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod ascii;
pub mod codenet;
pub mod linx;
pub mod marker;
mod modbus_frame;
pub mod modbus_marker;
pub mod plc;
pub mod print_go;
mod sim_core;
pub mod twin;
pub mod vision;
pub mod zipher;
pub mod zpl;

pub use marker::{Fault, MarkerSim, Print, SimSnapshot, TriggerOutcome, run_print_timer};
