//! The simulated Codenet printer's state and how it answers each command. Pure, no I/O: the
//! serving loop moves bytes, this decides what they mean.
//!
//! NAK and status codes: CS00145's tables were not readable, so the codes below are the
//! simulator's own (listed in `docs/protocols/codenet.md`), except the queue-full NAK, which is
//! the driver's configurable default.

use std::collections::{BTreeSet, VecDeque};

use tracemark_drivers::codenet::DEFAULT_QUEUE_FULL_NAK;
use tracemark_drivers::codenet::frame::{NakCode, Packet};
use tracemark_drivers::codenet::message::{
    Command, Identity, MessageError, MessageNumber, PrintEnable, PrinterStatus, ProductCount,
    StatusCode, lamp,
};

use crate::marker::{Fault, Print, TriggerOutcome};

/// Noise the garbage fault sends before a reply: bytes a line picks up, a print-acknowledge
/// character, and a stray `ESC` that opens a frame the real reply cuts short.
pub(crate) const GARBAGE: &[u8] = b"\x00\xff\x7f noise \x1c\x1bZ";

/// A NAK code written as three digits, checked when the constant is compiled.
const fn code(digits: &[u8; 3]) -> NakCode {
    match NakCode::new(*digits) {
        Some(code) => code,
        None => panic!("a NAK code is three digits"),
    }
}

/// The simulator's NAK codes (tracemark's; the printer's real table is in CS00145).
pub(crate) mod nak {
    use super::{NakCode, code};

    /// Unknown command.
    pub(crate) const UNKNOWN_COMMAND: NakCode = code(b"001");
    /// Known command, parameters that do not fit.
    pub(crate) const BAD_PARAMETER: NakCode = code(b"002");
    /// Refused for no reason the host can fix (the `nak` fault).
    pub(crate) const BUSY: NakCode = code(b"003");
    /// Printing cannot be enabled: the printer is faulted.
    pub(crate) const NOT_READY: NakCode = code(b"004");
}

/// The simulator's status codes for `1C?`.
pub(crate) mod status {
    /// Ready.
    pub(crate) const READY: &str = "000";
    /// Ink empty (the `ink-out` fault).
    pub(crate) const INK_EMPTY: &str = "201";
}

/// The printer's identity text.
const IDENTITY: &str = "TRACEMARK-SIM CODENET A-SERIES";

fn nak(code: NakCode) -> Packet {
    Packet::Nak(code)
}

#[derive(Debug)]
pub(crate) struct Printer {
    depth: usize,
    queue: VecDeque<Vec<u8>>,
    print_enabled: bool,
    message: Option<MessageNumber>,
    product_count: u64,
    print_gos: u64,
    last_data: Option<Vec<u8>>,
    faults: BTreeSet<Fault>,
    prints: Vec<Print>,
    commands: u64,
}

impl Printer {
    pub(crate) fn new(depth: usize) -> Self {
        Self {
            depth: depth.max(1),
            queue: VecDeque::new(),
            print_enabled: false,
            message: None,
            product_count: 0,
            print_gos: 0,
            last_data: None,
            faults: BTreeSet::new(),
            prints: Vec::new(),
            commands: 0,
        }
    }

    pub(crate) fn has(&self, fault: Fault) -> bool {
        self.faults.contains(&fault)
    }

    pub(crate) fn inject(&mut self, fault: Fault) {
        self.faults.insert(fault);
        if fault == Fault::InkOut {
            // A fault takes the head out of printing.
            self.print_enabled = false;
        }
    }

    pub(crate) fn clear(&mut self, fault: Fault) {
        self.faults.remove(&fault);
    }

    pub(crate) fn faults(&self) -> Vec<Fault> {
        self.faults.iter().copied().collect()
    }

    /// True while the printer answers nothing.
    pub(crate) fn silent(&self) -> bool {
        self.has(Fault::Stall) || self.has(Fault::HeadOpen)
    }

    pub(crate) fn queued(&self) -> Vec<Vec<u8>> {
        self.queue.iter().cloned().collect()
    }

    pub(crate) fn prints(&self) -> &[Print] {
        &self.prints
    }

    pub(crate) fn printing(&self) -> bool {
        self.print_enabled
    }

    pub(crate) fn product_count(&self) -> u64 {
        self.product_count
    }

    pub(crate) fn print_gos(&self) -> u64 {
        self.print_gos
    }

    pub(crate) fn commands(&self) -> u64 {
        self.commands
    }

    pub(crate) fn message(&self) -> Option<MessageNumber> {
        self.message
    }

    fn status(&self) -> PrinterStatus {
        if self.has(Fault::InkOut) {
            PrinterStatus::new(lamp::RED)
        } else {
            PrinterStatus::new(lamp::GREEN)
        }
    }

    fn status_code(&self) -> &'static str {
        if self.has(Fault::InkOut) {
            status::INK_EMPTY
        } else {
            status::READY
        }
    }

    /// Answers one command frame's body.
    pub(crate) fn handle(&mut self, body: &[u8]) -> Packet {
        self.commands += 1;
        let command = match Command::parse(body) {
            Ok(command) => command,
            Err(MessageError::LengthMismatch { .. } | MessageError::BadParameter { .. }) => {
                return nak(nak::BAD_PARAMETER);
            }
            Err(_) => return nak(nak::UNKNOWN_COMMAND),
        };
        match command {
            Command::Identity => Packet::Frame(Identity(IDENTITY.to_owned()).body()),
            Command::AssignMessage(number) => {
                self.message = Some(number);
                // A new message takes new data: what was queued for the old one is dropped.
                self.queue.clear();
                Packet::Ack
            }
            Command::SetPrintEnable(true) => {
                if self.has(Fault::InkOut) {
                    return nak(nak::NOT_READY);
                }
                self.print_enabled = true;
                Packet::Ack
            }
            Command::SetPrintEnable(false) => {
                self.print_enabled = false;
                Packet::Ack
            }
            Command::QueryPrintEnable => Packet::Frame(PrintEnable(self.print_enabled).body()),
            Command::QueryProductCount => {
                Packet::Frame(ProductCount::new(self.product_count).body())
            }
            Command::ResetProductCount => {
                self.product_count = 0;
                Packet::Ack
            }
            Command::QueryStatus => Packet::Frame(self.status().body()),
            Command::QueryStatusCode => match StatusCode::new(self.status_code()) {
                Some(code) => Packet::Frame(code.body()),
                None => nak(nak::BAD_PARAMETER),
            },
            Command::ExternalData(data) => {
                if self.has(Fault::Nak) {
                    return nak(nak::BUSY);
                }
                if self.has(Fault::BufferFull) || self.queue.len() >= self.depth {
                    return nak(DEFAULT_QUEUE_FULL_NAK);
                }
                self.queue.push_back(data.bytes().to_vec());
                Packet::Ack
            }
            Command::ClearExternalData => {
                self.queue.clear();
                Packet::Ack
            }
            Command::Other(_) => nak(nak::UNKNOWN_COMMAND),
        }
    }

    /// A print-go: the product-detect photocell or the simulator's own timer.
    pub(crate) fn trigger(&mut self) -> TriggerOutcome {
        if !self.print_enabled || self.has(Fault::InkOut) || self.has(Fault::HeadOpen) {
            return TriggerOutcome::Ignored;
        }
        self.print_gos += 1;
        if let Some(data) = self.queue.pop_front() {
            self.product_count += 1;
            self.last_data = Some(data.clone());
            let print = Print::new(data, false);
            self.prints.push(print.clone());
            return TriggerOutcome::Printed(print);
        }
        match (&self.last_data, self.has(Fault::ReprintOnEmpty)) {
            (Some(old), true) => {
                self.product_count += 1;
                let print = Print::new(old.clone(), true);
                self.prints.push(print.clone());
                TriggerOutcome::Reprinted(print)
            }
            // An empty queue prints nothing: the unit goes by without a mark.
            _ => TriggerOutcome::Empty,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracemark_drivers::codenet::message::ExternalData;

    fn push(printer: &mut Printer, text: &str) -> Packet {
        let data = ExternalData::single_field(text).unwrap();
        printer.handle(&Command::ExternalData(data).body())
    }

    fn enabled(depth: usize) -> Printer {
        let mut printer = Printer::new(depth);
        assert_eq!(printer.handle(b"P1002"), Packet::Ack);
        assert_eq!(printer.handle(b"Q1Y"), Packet::Ack);
        printer
    }

    #[test]
    fn the_queue_takes_entries_up_to_its_depth_then_naks_queue_full() {
        let mut printer = enabled(2);
        assert_eq!(push(&mut printer, "A"), Packet::Ack);
        assert_eq!(push(&mut printer, "B"), Packet::Ack);
        assert_eq!(push(&mut printer, "C"), Packet::Nak(DEFAULT_QUEUE_FULL_NAK));
        assert_eq!(printer.queued(), vec![b"A".to_vec(), b"B".to_vec()]);
        assert_eq!(printer.handle(b"OE00000"), Packet::Ack);
        assert!(printer.queued().is_empty());
    }

    #[test]
    fn prints_in_order_and_counts_products() {
        let mut printer = enabled(4);
        push(&mut printer, "A");
        push(&mut printer, "B");
        assert!(matches!(printer.trigger(), TriggerOutcome::Printed(p) if p.text() == "A"));
        assert!(matches!(printer.trigger(), TriggerOutcome::Printed(p) if p.text() == "B"));
        assert_eq!(printer.trigger(), TriggerOutcome::Empty);
        assert_eq!(
            printer.handle(b"T1?"),
            Packet::Frame(b"T10000000002".to_vec())
        );
        assert_eq!(printer.print_gos(), 3);
    }

    #[test]
    fn a_disabled_head_ignores_print_go() {
        let mut printer = enabled(4);
        push(&mut printer, "A");
        assert_eq!(printer.handle(b"Q1N"), Packet::Ack);
        assert_eq!(printer.handle(b"Q1?"), Packet::Frame(b"Q1N".to_vec()));
        assert_eq!(printer.trigger(), TriggerOutcome::Ignored);
    }

    #[test]
    fn ink_out_lights_red_reports_its_code_and_refuses_enable() {
        let mut printer = enabled(4);
        printer.inject(Fault::InkOut);
        assert!(!printer.printing());
        assert_eq!(printer.handle(b"O1?"), Packet::Frame(b"O100004".to_vec()));
        assert_eq!(
            printer.handle(b"1C?"),
            Packet::Frame(b"1C20100000".to_vec())
        );
        assert_eq!(printer.handle(b"Q1Y"), Packet::Nak(nak::NOT_READY));
    }

    #[test]
    fn reprint_on_empty_prints_old_data_and_counts_it() {
        let mut printer = enabled(4);
        printer.inject(Fault::ReprintOnEmpty);
        push(&mut printer, "A");
        printer.trigger();
        assert!(matches!(printer.trigger(), TriggerOutcome::Reprinted(p) if p.text() == "A"));
        assert_eq!(printer.product_count(), 2);
    }

    #[test]
    fn unknown_and_malformed_commands_are_refused() {
        let mut printer = Printer::new(4);
        assert_eq!(printer.handle(b"OS1"), Packet::Nak(nak::UNKNOWN_COMMAND));
        assert_eq!(printer.handle(b"OE0009AB"), Packet::Nak(nak::BAD_PARAMETER));
        printer.inject(Fault::Nak);
        assert_eq!(push(&mut printer, "A"), Packet::Nak(nak::BUSY));
    }
}
