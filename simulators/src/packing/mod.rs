//! The twin's packing station after the gate (SPEC §3a, issue 14 item 6).
//!
//! - [`case_station`]: physical cases filled in gate order and the case camera that images
//!   each one (`case_camera` mode), with the packing faults of a `--packing-faults` profile.

pub mod case_station;
