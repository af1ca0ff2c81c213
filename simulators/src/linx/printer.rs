//! The simulated printer's state and how it answers each RCI command. Pure, no I/O: the
//! serving loop moves bytes, this decides what they mean.

use std::collections::{BTreeSet, VecDeque};

use crate::marker::{Fault, Print, TriggerOutcome};
use tracemark_drivers::linx::message::{
    self, Command, CommandStatus, ErrorMask, JetState, PrintCounts, PrintState, PrinterStatus,
    Reply, command,
};

/// The printer's state.
#[derive(Debug)]
pub(crate) struct Printer {
    depth: usize,
    buffer: VecDeque<Vec<u8>>,
    printing: bool,
    message: Option<String>,
    product_count: u32,
    print_count: u32,
    errors: u32,
    faults: BTreeSet<Fault>,
    prints: Vec<Print>,
    last_data: Option<Vec<u8>>,
    commands: u64,
}

/// Noise the garbage fault sends before a reply: bytes a line picks up, an ESC that opens no
/// packet, and a lone ESC right before the real packet.
pub(crate) const GARBAGE: &[u8] = b"\x00\xff\x7f noise \x1bA\x13\x1b";

impl Printer {
    pub(crate) fn new(depth: usize) -> Self {
        Self {
            depth: depth.max(1),
            buffer: VecDeque::new(),
            printing: false,
            message: None,
            product_count: 0,
            print_count: 0,
            errors: 0,
            faults: BTreeSet::new(),
            prints: Vec::new(),
            last_data: None,
            commands: 0,
        }
    }

    pub(crate) fn has(&self, fault: Fault) -> bool {
        self.faults.contains(&fault)
    }

    pub(crate) fn inject(&mut self, fault: Fault) {
        self.faults.insert(fault);
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

    pub(crate) fn buffered(&self) -> Vec<Vec<u8>> {
        self.buffer.iter().cloned().collect()
    }

    pub(crate) fn prints(&self) -> &[Print] {
        &self.prints
    }

    pub(crate) fn printing(&self) -> bool {
        self.printing
    }

    pub(crate) fn print_count(&self) -> u32 {
        self.print_count
    }

    pub(crate) fn product_count(&self) -> u32 {
        self.product_count
    }

    pub(crate) fn commands(&self) -> u64 {
        self.commands
    }

    pub(crate) fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    fn jet(&self) -> JetState {
        if self.has(Fault::InkOut) {
            JetState::Fault
        } else {
            JetState::Running
        }
    }

    fn p_status(&self) -> u8 {
        // 07h: ink tank empty [iPlus-enum LinxPrinterFaultCodeEnum].
        if self.has(Fault::InkOut) { 0x07 } else { 0x00 }
    }

    fn error_mask(&self) -> ErrorMask {
        let mut bits = self.errors;
        if self.has(Fault::InkOut) {
            bits |= ErrorMask::INK_LOW;
        }
        ErrorMask::from_bits(bits)
    }

    fn reply(&self, command: u8, status: CommandStatus, data: Vec<u8>) -> Reply {
        Reply::new(true, self.p_status(), status, command, data)
    }

    fn refuse(&self, command: u8, status: CommandStatus) -> Reply {
        Reply::new(false, self.p_status(), status, command, Vec::new())
    }

    /// Answers one command.
    pub(crate) fn handle(&mut self, request: &Command) -> Reply {
        self.commands += 1;
        let id = request.id();
        match id {
            command::PRINTER_STATUS => {
                let print = if self.printing {
                    PrintState::Waiting
                } else {
                    PrintState::Idle
                };
                let status = PrinterStatus::new(self.jet(), print, self.error_mask());
                self.reply(id, CommandStatus::OK, status.encode())
            }
            command::REQUEST_PRINT_COUNT => {
                let counts = PrintCounts::new(self.product_count, self.print_count);
                self.reply(id, CommandStatus::OK, counts.encode())
            }
            command::START_PRINT => {
                if self.has(Fault::InkOut) {
                    return self.refuse(id, CommandStatus::PRINT_JET_NOT_RUNNING);
                }
                self.printing = true;
                // A new run: the print-go error latches of the last one are history.
                self.errors &= !(ErrorMask::PRINT_GO_REMOTE_DATA | ErrorMask::PRINT_GO_OLD_PATTERN);
                self.reply(id, CommandStatus::OK, Vec::new())
            }
            command::STOP_PRINT => {
                self.printing = false;
                // "Clear Buffers" enabled: stopping print empties the remote buffers (Linx
                // 8900 operating manual §8.1.3).
                self.buffer.clear();
                self.reply(id, CommandStatus::OK, Vec::new())
            }
            command::LOAD_PRINT_MESSAGE => match message::decode_message_name(request.data()) {
                Ok(name) if !name.is_empty() => {
                    self.message = Some(name);
                    self.buffer.clear();
                    self.reply(id, CommandStatus::OK, Vec::new())
                }
                _ => self.refuse(id, CommandStatus::UNKNOWN_MESSAGE),
            },
            command::DOWNLOAD_REMOTE_DATA => self.download_remote_data(request),
            command::TRIGGER_PRINT => {
                self.trigger();
                self.reply(id, CommandStatus::OK, Vec::new())
            }
            _ => self.refuse(id, CommandStatus::INVALID_COMMAND),
        }
    }

    fn download_remote_data(&mut self, request: &Command) -> Reply {
        let id = request.id();
        if self.has(Fault::Nak) {
            return self.refuse(id, CommandStatus::PRINTER_BUSY);
        }
        let field = match message::decode_remote_data(request.data()) {
            Ok(field) => field.to_vec(),
            Err(_) => return self.refuse(id, CommandStatus::REMOTE_DATA_TOO_LARGE),
        };
        if self.has(Fault::BufferFull) || self.buffer.len() >= self.depth {
            // 43h: still full, not stored.
            return self.refuse(id, CommandStatus::REMOTE_BUFFER_STILL_FULL);
        }
        self.buffer.push_back(field);
        if self.buffer.len() >= self.depth {
            // 42h: stored, and now full.
            self.reply(id, CommandStatus::REMOTE_BUFFER_NOW_FULL, Vec::new())
        } else {
            self.reply(id, CommandStatus::OK, Vec::new())
        }
    }

    /// A print-go: the product-detect photocell or the simulator's own timer.
    pub(crate) fn trigger(&mut self) -> TriggerOutcome {
        if !self.printing || self.has(Fault::InkOut) || self.has(Fault::HeadOpen) {
            return TriggerOutcome::Ignored;
        }
        self.product_count = self.product_count.wrapping_add(1);
        if let Some(data) = self.buffer.pop_front() {
            self.print_count = self.print_count.wrapping_add(1);
            self.last_data = Some(data.clone());
            let print = Print::new(data, false);
            self.prints.push(print.clone());
            return TriggerOutcome::Printed(print);
        }
        self.errors |= ErrorMask::PRINT_GO_REMOTE_DATA;
        match (&self.last_data, self.has(Fault::ReprintOnEmpty)) {
            (Some(old), true) => {
                self.print_count = self.print_count.wrapping_add(1);
                let print = Print::new(old.clone(), true);
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

    fn push(printer: &mut Printer, text: &str) -> Reply {
        let data = message::encode_remote_data(text.as_bytes()).unwrap();
        printer.handle(&Command::new(command::DOWNLOAD_REMOTE_DATA, data))
    }

    #[test]
    fn buffer_reports_now_full_then_still_full() {
        let mut printer = Printer::new(2);
        assert_eq!(push(&mut printer, "A").command_status(), CommandStatus::OK);
        let full = push(&mut printer, "B");
        assert!(full.accepted());
        assert_eq!(full.command_status(), CommandStatus::REMOTE_BUFFER_NOW_FULL);
        let refused = push(&mut printer, "C");
        assert!(!refused.accepted());
        assert_eq!(
            refused.command_status(),
            CommandStatus::REMOTE_BUFFER_STILL_FULL
        );
        assert_eq!(printer.buffered(), vec![b"A".to_vec(), b"B".to_vec()]);
    }

    #[test]
    fn prints_in_order_and_counts() {
        let mut printer = Printer::new(4);
        printer.handle(&Command::bare(command::START_PRINT));
        push(&mut printer, "A");
        push(&mut printer, "B");
        assert!(matches!(printer.trigger(), TriggerOutcome::Printed(p) if p.text() == "A"));
        assert!(matches!(printer.trigger(), TriggerOutcome::Printed(p) if p.text() == "B"));
        assert_eq!(printer.trigger(), TriggerOutcome::Empty);
        assert_eq!(printer.print_count(), 2);
        assert!(printer.error_mask().print_go_without_data());
    }

    #[test]
    fn reprint_on_empty_counts_a_print_of_old_data() {
        let mut printer = Printer::new(4);
        printer.inject(Fault::ReprintOnEmpty);
        printer.handle(&Command::bare(command::START_PRINT));
        push(&mut printer, "A");
        printer.trigger();
        assert!(matches!(printer.trigger(), TriggerOutcome::Reprinted(p) if p.text() == "A"));
        assert_eq!(printer.print_count(), 2);
    }

    #[test]
    fn stop_print_clears_the_buffer() {
        let mut printer = Printer::new(4);
        push(&mut printer, "A");
        printer.handle(&Command::bare(command::STOP_PRINT));
        assert!(printer.buffered().is_empty());
    }

    #[test]
    fn ink_out_refuses_start_and_reports_fault() {
        let mut printer = Printer::new(4);
        printer.inject(Fault::InkOut);
        let start = printer.handle(&Command::bare(command::START_PRINT));
        assert!(!start.accepted());
        let status = printer.handle(&Command::bare(command::PRINTER_STATUS));
        assert_eq!(status.printer_status(), 0x07);
        let decoded = PrinterStatus::decode(status.data()).unwrap();
        assert_eq!(decoded.jet(), JetState::Fault);
    }
}
