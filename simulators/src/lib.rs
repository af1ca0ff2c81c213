#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod linx;
pub mod marker;
pub mod modbus_marker;
pub mod plc;
pub mod twin;
pub mod vision;
pub mod zipher;

pub use marker::{Fault, MarkerSim, Print, SimSnapshot, TriggerOutcome, run_print_timer};
