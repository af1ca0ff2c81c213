#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod check_char;
pub mod digital_identity;
pub mod ecode;
pub mod gs1;
pub mod scheme;
pub mod serial;
pub mod symbol;
pub mod template;
pub mod uscc;
