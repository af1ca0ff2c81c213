//! The simulated Zipher-protocol coder's state and how it answers each command. Pure, no I/O.

use std::collections::{BTreeSet, VecDeque};

use tracemark_drivers::zipher::codec::{
    ErrorState, FaultEntry, MachineState, OverallState, Response, encode_faults,
};

use crate::marker::{Fault, Print, TriggerOutcome};

/// Noise the garbage fault sends before a reply: a line that is not text and not a reply.
pub(crate) const GARBAGE: &[u8] = b"\x00\xff#\x80noise\r";

/// The fault listed while [`Fault::InkOut`] is in force (a thermal-transfer ribbon out).
const RIBBON_OUT: (&str, &str) = ("1018", "Ribbon out");

#[derive(Debug)]
pub(crate) struct Coder {
    max_records: usize,
    overall: OverallState,
    job: String,
    header: Option<String>,
    buffer: VecDeque<(u64, String)>,
    total_count: u64,
    batch_count: u64,
    print_gos: u64,
    last_index: u64,
    last_data: Option<String>,
    faults: BTreeSet<Fault>,
    prints: Vec<Print>,
    commands: u64,
    /// This many more `GST` replies are each followed at once by a print-go.
    prints_after_status: u64,
}

impl Coder {
    pub(crate) fn new(max_records: usize) -> Self {
        Self {
            max_records: max_records.max(1),
            overall: OverallState::Offline,
            job: String::new(),
            header: None,
            buffer: VecDeque::new(),
            total_count: 0,
            batch_count: 0,
            print_gos: 0,
            last_index: 0,
            last_data: None,
            faults: BTreeSet::new(),
            prints: Vec::new(),
            commands: 0,
            prints_after_status: 0,
        }
    }

    pub(crate) fn has(&self, fault: Fault) -> bool {
        self.faults.contains(&fault)
    }

    pub(crate) fn inject(&mut self, fault: Fault) {
        self.faults.insert(fault);
        if fault == Fault::InkOut {
            // A fault takes the machine out of printing.
            self.overall = OverallState::Offline;
        }
    }

    pub(crate) fn clear(&mut self, fault: Fault) {
        self.faults.remove(&fault);
    }

    pub(crate) fn faults(&self) -> Vec<Fault> {
        self.faults.iter().copied().collect()
    }

    pub(crate) fn silent(&self) -> bool {
        self.has(Fault::Stall) || self.has(Fault::HeadOpen)
    }

    pub(crate) fn buffered(&self) -> Vec<String> {
        self.buffer.iter().map(|(_, data)| data.clone()).collect()
    }

    pub(crate) fn prints(&self) -> &[Print] {
        &self.prints
    }

    pub(crate) fn printing(&self) -> bool {
        self.overall == OverallState::Running
    }

    pub(crate) fn total_count(&self) -> u64 {
        self.total_count
    }

    pub(crate) fn print_gos(&self) -> u64 {
        self.print_gos
    }

    pub(crate) fn commands(&self) -> u64 {
        self.commands
    }

    /// The next `times` status replies are each followed by a print-go: a print that lands
    /// between a host's `GST` and its next request, as on a running line.
    pub(crate) fn print_after_status(&mut self, times: u64) {
        self.prints_after_status = times;
    }

    pub(crate) fn job(&self) -> Option<&str> {
        (!self.job.is_empty()).then_some(self.job.as_str())
    }

    fn state(&self) -> MachineState {
        let error = if self.has(Fault::InkOut) {
            ErrorState::Faults
        } else {
            ErrorState::None
        };
        MachineState::new(
            self.overall,
            error,
            self.job.clone(),
            self.batch_count,
            self.total_count,
        )
    }

    fn number(tag: &str, value: impl ToString) -> Response {
        Response::data(tag, &[&value.to_string()])
    }

    /// Answers one command line (without its CR).
    pub(crate) fn handle(&mut self, line: &str) -> Response {
        self.commands += 1;
        let mut parts = line.split('|');
        let name = parts.next().unwrap_or_default();
        let mut fields: Vec<&str> = parts.collect();
        // `NAME|a|b|` leaves one empty string after the last separator.
        if fields.last() == Some(&"") {
            fields.pop();
        }
        match (name, fields.as_slice()) {
            ("GST", []) => {
                let reply = self.state().encode();
                if self.prints_after_status > 0 {
                    self.prints_after_status -= 1;
                    self.trigger();
                }
                reply
            }
            ("SST", [state]) => self.set_state(state),
            ("SEL", [job, ..]) if !job.is_empty() => {
                self.job = (*job).to_owned();
                self.buffer.clear();
                Response::Ack
            }
            ("SHO", [field, ..]) if !field.is_empty() => {
                self.header = Some((*field).to_owned());
                Response::Ack
            }
            ("SID", [index, data]) => self.record(index, data),
            ("SRC", []) => {
                let count = if self.has(Fault::BufferFull) {
                    self.max_records
                } else {
                    self.buffer.len()
                };
                Self::number("SRC", count)
            }
            ("SCB", []) => {
                self.buffer.clear();
                Response::Ack
            }
            ("SLR", []) => Self::number("SLR", self.last_index),
            ("SNI", []) => Self::number("SNI", self.buffer.front().map_or(0, |(i, _)| *i)),
            ("SGM", []) => Self::number("SGM", self.max_records),
            ("SMR", [max]) => match max.parse::<usize>() {
                Ok(max) if max > 0 => {
                    self.max_records = max;
                    Response::Ack
                }
                _ => Response::Err,
            },
            ("GFT", []) => {
                let faults: Vec<FaultEntry> = if self.has(Fault::InkOut) {
                    vec![FaultEntry::new(RIBBON_OUT.0, false, RIBBON_OUT.1)]
                } else {
                    Vec::new()
                };
                encode_faults(&faults)
            }
            ("GWN", []) => Response::data("WRN", &["0"]),
            ("CAF", []) => Response::Ack,
            ("PRN", []) => {
                self.trigger();
                Response::Ack
            }
            _ => Response::Err,
        }
    }

    fn set_state(&mut self, state: &str) -> Response {
        match OverallState::from_code(state) {
            // Running needs a job and no fault [VJ6330: no job selected, no Running].
            Some(OverallState::Running) if self.job.is_empty() || self.has(Fault::InkOut) => {
                Response::Err
            }
            Some(state @ (OverallState::Running | OverallState::Offline)) => {
                self.overall = state;
                Response::Ack
            }
            _ => Response::Err,
        }
    }

    fn record(&mut self, index: &str, data: &str) -> Response {
        if self.has(Fault::Nak) || self.header.is_none() {
            return Response::Err;
        }
        let Ok(index) = index.parse::<u64>() else {
            return Response::Err;
        };
        if self.has(Fault::BufferFull) || self.buffer.len() >= self.max_records {
            return Response::Err;
        }
        self.buffer.push_back((index, data.to_owned()));
        Response::Ack
    }

    /// A print-go.
    pub(crate) fn trigger(&mut self) -> TriggerOutcome {
        if !self.printing() || self.has(Fault::InkOut) || self.has(Fault::HeadOpen) {
            return TriggerOutcome::Ignored;
        }
        self.print_gos += 1;
        if let Some((index, data)) = self.buffer.pop_front() {
            self.total_count += 1;
            self.batch_count += 1;
            self.last_index = index;
            self.last_data = Some(data.clone());
            let print = Print::new(data.into_bytes(), false);
            self.prints.push(print.clone());
            return TriggerOutcome::Printed(print);
        }
        match (&self.last_data, self.has(Fault::ReprintOnEmpty)) {
            (Some(old), true) => {
                self.total_count += 1;
                self.batch_count += 1;
                let print = Print::new(old.clone().into_bytes(), true);
                self.prints.push(print.clone());
                TriggerOutcome::Reprinted(print)
            }
            _ => TriggerOutcome::Empty,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready() -> Coder {
        let mut coder = Coder::new(2);
        assert_eq!(coder.handle("SEL|CODES|"), Response::Ack);
        assert_eq!(coder.handle("SHO|SERIAL|"), Response::Ack);
        assert_eq!(coder.handle("SST|3|"), Response::Ack);
        coder
    }

    #[test]
    fn records_print_in_order_and_advance_the_last_index() {
        let mut coder = ready();
        assert_eq!(coder.handle("SID|7|A|"), Response::Ack);
        assert_eq!(coder.handle("SID|8|B|"), Response::Ack);
        assert_eq!(coder.handle("SID|9|C|"), Response::Err, "two records max");
        assert_eq!(coder.handle("SRC"), Response::data("SRC", &["2"]));
        assert!(matches!(coder.trigger(), TriggerOutcome::Printed(p) if p.text() == "A"));
        assert_eq!(coder.handle("SLR"), Response::data("SLR", &["7"]));
        assert_eq!(
            coder.handle("GST"),
            Response::data("STS", &["3", "0", "CODES", "1", "1"])
        );
    }

    #[test]
    fn running_needs_a_job() {
        let mut coder = Coder::new(2);
        assert_eq!(coder.handle("SST|3|"), Response::Err);
    }

    #[test]
    fn ribbon_out_is_listed_and_blocks_running() {
        let mut coder = ready();
        coder.inject(Fault::InkOut);
        assert_eq!(
            coder.handle("GST"),
            Response::data("STS", &["4", "2", "CODES", "0", "0"])
        );
        assert_eq!(
            coder.handle("GFT"),
            Response::data("FLT", &["1", "1018", "0", "Ribbon out"])
        );
        assert_eq!(coder.handle("SST|3|"), Response::Err);
    }

    #[test]
    fn reprint_on_empty_prints_old_data_without_moving_the_index() {
        let mut coder = ready();
        coder.inject(Fault::ReprintOnEmpty);
        coder.handle("SID|1|A|");
        coder.trigger();
        assert!(matches!(coder.trigger(), TriggerOutcome::Reprinted(p) if p.text() == "A"));
        assert_eq!(coder.total_count(), 2);
        assert_eq!(coder.handle("SLR"), Response::data("SLR", &["1"]));
    }
}
