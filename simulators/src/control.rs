//! Run-time control of a simulator: one text command, one reply. The interpreters are pure
//! (no I/O): `tracemark-sim` feeds them its stdin lines, one device's commands
//! (`tracemark-sim linx …`) or, prefixed with the device's name, a whole line's
//! (`tracemark-sim line …`), and prints what they answer.

use crate::marker::{Fault, MarkerSim};
use crate::plc::{PlcFault, PlcSim};

/// What a command asks the caller to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Done; nothing to say (an empty line, a fault injected).
    Silent,
    /// Print this line.
    Say(String),
    /// Stop the simulator.
    Quit,
}

/// A marker's commands: `trigger`, `fault NAME`, `clear NAME`, `status`, `quit`.
pub fn marker_command<M: MarkerSim>(sim: &M, line: &str) -> Reply {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        [] => Reply::Silent,
        ["trigger"] => Reply::Say(format!("trigger: {:?}", sim.trigger())),
        [verb @ ("fault" | "clear"), name] => match Fault::from_name(name) {
            Some(fault) if *verb == "fault" => {
                sim.inject(fault);
                Reply::Silent
            }
            Some(fault) => {
                sim.clear(fault);
                Reply::Silent
            }
            None => Reply::Say(format!("error: unknown fault `{name}`")),
        },
        ["status"] => Reply::Say(format!(
            "status: {:?} faults={:?}",
            sim.snapshot(),
            sim.faults()
        )),
        ["quit"] => Reply::Quit,
        _ => Reply::Say(format!("error: unknown command `{line}`")),
    }
}

/// A PLC's commands: `detect` (the photocell sees a unit), `encoder N`, `fault NAME`,
/// `clear NAME` (gate-jam, stall, disconnect), `status` (the snapshot, with the reject
/// queue's counts), `quit`.
pub fn plc_command(sim: &PlcSim, line: &str) -> Reply {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        [] => Reply::Silent,
        ["detect"] => {
            sim.detect();
            Reply::Say(format!("detect: {}", sim.snapshot().detections()))
        }
        ["encoder", count] => match count.parse::<u64>() {
            Ok(count) => {
                sim.set_encoder(count);
                Reply::Silent
            }
            Err(_) => Reply::Say(format!("error: `{count}` is not a count")),
        },
        [verb @ ("fault" | "clear"), name] => match PlcFault::from_name(name) {
            Some(fault) if *verb == "fault" => {
                sim.inject(fault);
                Reply::Silent
            }
            Some(fault) => {
                sim.clear(fault);
                Reply::Silent
            }
            None => {
                let names: Vec<&str> = PlcFault::ALL.iter().map(|f| f.name()).collect();
                Reply::Say(format!(
                    "error: unknown fault `{name}`; one of: {}",
                    names.join(", ")
                ))
            }
        },
        ["status"] => Reply::Say(format!("status: {:?}", sim.snapshot())),
        ["quit"] => Reply::Quit,
        _ => Reply::Say(format!("error: unknown command `{line}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zipher::ZipherSim;

    #[test]
    fn marker_commands_act_on_the_simulator() {
        let sim = ZipherSim::new(4);
        assert_eq!(marker_command(&sim, "  "), Reply::Silent);
        assert_eq!(marker_command(&sim, "fault ink-out"), Reply::Silent);
        assert_eq!(sim.faults(), vec![Fault::InkOut]);
        assert_eq!(marker_command(&sim, "clear ink-out"), Reply::Silent);
        assert!(sim.faults().is_empty());
        assert_eq!(
            marker_command(&sim, "fault smoke"),
            Reply::Say("error: unknown fault `smoke`".into())
        );
        assert_eq!(
            marker_command(&sim, "trigger"),
            Reply::Say("trigger: Ignored".into())
        );
        assert_eq!(
            marker_command(&sim, "dance now"),
            Reply::Say("error: unknown command `dance now`".into())
        );
        assert_eq!(marker_command(&sim, "quit"), Reply::Quit);
    }

    #[test]
    fn plc_commands_move_the_encoder_and_the_photocell() {
        let sim = PlcSim::new(1);
        assert_eq!(plc_command(&sim, "encoder 250"), Reply::Silent);
        assert_eq!(plc_command(&sim, "detect"), Reply::Say("detect: 1".into()));
        assert_eq!(sim.snapshot().encoder(), 250);
        assert_eq!(
            plc_command(&sim, "encoder far"),
            Reply::Say("error: `far` is not a count".into())
        );
        assert_eq!(plc_command(&sim, "fault gate-jam"), Reply::Silent);
        assert_eq!(sim.snapshot().faults(), &[PlcFault::GateJam]);
        assert!(matches!(
            plc_command(&sim, "fault smoke"),
            Reply::Say(text) if text.contains("one of: gate-jam, stall, disconnect")
        ));
        assert_eq!(plc_command(&sim, "quit"), Reply::Quit);
    }
}
