#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod any_marker;
pub mod ascii;
pub mod bench;
pub mod codenet;
pub mod control;
pub mod erp;
pub mod labels;
pub mod linx;
pub mod marker;
mod modbus_frame;
pub mod modbus_marker;
pub mod packing;
pub mod plc;
pub mod print_go;
pub mod scanner;
mod sim_core;
pub mod twin;
pub mod vision;
pub mod zipher;
pub mod zpl;

pub use any_marker::AnyMarkerSim;
pub use marker::{Fault, MarkerSim, Print, SimSnapshot, TriggerOutcome, run_print_timer};
