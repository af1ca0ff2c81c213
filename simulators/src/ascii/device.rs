//! The simulated ASCII marker's state and how it answers each command, as its description
//! says. Pure, no I/O.
//!
//! Replies are rendered from the description's own patterns: a placeholder gets the value a
//! healthy (or faulted) device would show — the first of `status.ok_states` (or of
//! `status.fault_states`), the first of `status.no_fault` (or a fault code from
//! `status.fault_text`), the buffer level, the print counter; `{_}` gets zeros.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use tracemark_drivers::ascii::config::{AsciiConfig, Command, HostCommand};
use tracemark_drivers::ascii::pattern::{Pattern, printable};
use tracing::debug;

use crate::marker::{Fault, Print, TriggerOutcome};

#[derive(Debug)]
pub(crate) struct Device {
    config: Arc<AsciiConfig>,
    depth: usize,
    buffer: VecDeque<Vec<u8>>,
    printing: bool,
    counter: u64,
    print_gos: u64,
    last_data: Option<Vec<u8>>,
    faults: BTreeSet<Fault>,
    prints: Vec<Print>,
    commands: u64,
}

impl Device {
    pub(crate) fn new(config: Arc<AsciiConfig>, depth: usize) -> Self {
        // A device without a start command prints whenever it has a code.
        let printing = config.template(Command::Start).is_none();
        Self {
            config,
            depth: depth.max(1),
            buffer: VecDeque::new(),
            printing,
            counter: 0,
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
            // A fault takes the device out of printing.
            self.printing = false;
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
        self.buffer
            .iter()
            .map(|code| String::from_utf8_lossy(code).into_owned())
            .collect()
    }

    pub(crate) fn prints(&self) -> &[Print] {
        &self.prints
    }

    pub(crate) fn printing(&self) -> bool {
        self.printing
    }

    pub(crate) fn counter(&self) -> u64 {
        self.counter
    }

    pub(crate) fn print_gos(&self) -> u64 {
        self.print_gos
    }

    pub(crate) fn commands(&self) -> u64 {
        self.commands
    }

    /// The reply body to one received frame; `None` for a frame that did not decode (bad
    /// checksum: the device refuses it).
    pub(crate) fn handle(&mut self, body: Option<&[u8]>) -> Vec<u8> {
        self.commands += 1;
        let Some(body) = body else {
            return self.nak();
        };
        match self.config.identify(body) {
            None => {
                debug!(command = %printable(body), "ascii sim: unknown command");
                self.nak()
            }
            Some(HostCommand::Load { code, .. }) => self.load(code),
            Some(HostCommand::Start) => {
                if self.has(Fault::InkOut) {
                    return self.nak();
                }
                self.printing = true;
                self.ack()
            }
            Some(HostCommand::Stop) => {
                self.printing = false;
                self.ack()
            }
            Some(HostCommand::Clear) => {
                self.buffer.clear();
                self.ack()
            }
            Some(HostCommand::Status) => self.status_reply(),
            Some(HostCommand::Count) => self.count_reply(),
        }
    }

    fn load(&mut self, code: Vec<u8>) -> Vec<u8> {
        if self.has(Fault::Nak) {
            return self.nak();
        }
        if self.has(Fault::BufferFull) || self.buffer.len() >= self.depth {
            return match self.config.buffer_full() {
                Some(full) => self.render(full),
                None => self.nak(),
            };
        }
        self.buffer.push_back(code);
        self.ack()
    }

    /// A print-go.
    pub(crate) fn trigger(&mut self) -> TriggerOutcome {
        if !self.printing || self.has(Fault::InkOut) || self.has(Fault::HeadOpen) {
            return TriggerOutcome::Ignored;
        }
        self.print_gos += 1;
        if let Some(data) = self.buffer.pop_front() {
            self.counter += 1;
            self.last_data = Some(data.clone());
            let print = Print::new(data, false);
            self.prints.push(print.clone());
            return TriggerOutcome::Printed(print);
        }
        match (&self.last_data, self.has(Fault::ReprintOnEmpty)) {
            (Some(old), true) => {
                self.counter += 1;
                let print = Print::new(old.clone(), true);
                self.prints.push(print.clone());
                TriggerOutcome::Reprinted(print)
            }
            _ => TriggerOutcome::Empty,
        }
    }

    fn ack(&self) -> Vec<u8> {
        self.render(self.config.ack())
    }

    fn nak(&self) -> Vec<u8> {
        self.render(self.config.nak())
    }

    /// Renders a reply; `{reason}` is the first reason the description lists.
    fn render(&self, pattern: &Pattern) -> Vec<u8> {
        let reason = self
            .config
            .nak_reasons()
            .keys()
            .next()
            .map_or_else(|| b"1".to_vec(), |reason| reason.as_bytes().to_vec());
        self.render_with(pattern, |name| (name == "reason").then(|| reason.clone()))
    }

    /// Renders `pattern` with `value`; `{_}` gets zeros. A value that does not fit gives the
    /// literal text alone (logged): the driver then times out, which a test would show.
    fn render_with(&self, pattern: &Pattern, value: impl Fn(&str) -> Option<Vec<u8>>) -> Vec<u8> {
        let rendered = pattern.render(|name| {
            if name == "_" {
                Some(b"0".to_vec())
            } else {
                value(name)
            }
        });
        rendered.unwrap_or_else(|error| {
            debug!(%error, pattern = %pattern, "ascii sim: cannot render a reply");
            Vec::new()
        })
    }

    fn status_reply(&self) -> Vec<u8> {
        let Some(status) = self.config.status() else {
            return self.nak();
        };
        let faulted = self.has(Fault::InkOut);
        let state = if faulted {
            status.fault_states().first()
        } else {
            status.ok_states().first()
        }
        .cloned()
        .unwrap_or_else(|| "0".to_owned());
        let fault = if faulted {
            fault_code(status.no_fault(), status.fault_text().keys())
        } else {
            status
                .no_fault()
                .first()
                .cloned()
                .unwrap_or_else(|| "0".to_owned())
        };
        let level = if self.has(Fault::BufferFull) {
            self.depth as u64
        } else {
            self.buffer.len() as u64
        };
        let count = self.counter_shown(status.reply());
        let level = clamp(level, width_of(status.reply(), "level"));
        self.render_with(status.reply(), |name| match name {
            "state" => Some(state.clone().into_bytes()),
            "fault" => Some(fault.clone().into_bytes()),
            "level" => Some(level.to_string().into_bytes()),
            "count" => Some(count.to_string().into_bytes()),
            _ => None,
        })
    }

    fn count_reply(&self) -> Vec<u8> {
        let Some(counter) = self.config.counter() else {
            return self.nak();
        };
        let count = self.counter_shown(counter.reply());
        self.render_with(counter.reply(), |name| {
            (name == "count").then(|| count.to_string().into_bytes())
        })
    }

    /// The counter as the device shows it: modulo the description's modulus and the digits
    /// `{count:N}` has room for.
    fn counter_shown(&self, pattern: &Pattern) -> u64 {
        let mut count = self.counter;
        if let Some(modulus) = self.config.counter().and_then(|c| c.modulus()) {
            count %= modulus;
        }
        if let Some(width) = width_of(pattern, "count")
            && let Some(room) = 10u64.checked_pow(width as u32)
        {
            count %= room;
        }
        count
    }
}

/// The width of placeholder `name` in `pattern`, if fixed.
fn width_of(pattern: &Pattern, name: &str) -> Option<usize> {
    pattern
        .placeholders()
        .find(|(n, _)| *n == name)
        .and_then(|(_, width)| width)
}

/// `value`, at most what `width` digits hold.
fn clamp(value: u64, width: Option<usize>) -> u64 {
    match width.and_then(|width| 10u64.checked_pow(width as u32)) {
        Some(room) => value.min(room - 1),
        None => value,
    }
}

/// A fault code for an ink-out: the first described one that is not a "no fault" value, or
/// the first digit that is not.
fn fault_code<'a>(no_fault: &[String], described: impl Iterator<Item = &'a String>) -> String {
    let mut described = described;
    if let Some(code) = described.find(|code| !no_fault.contains(code)) {
        return code.clone();
    }
    (1..=9)
        .map(|digit: u8| digit.to_string())
        .find(|digit| !no_fault.contains(digit))
        .unwrap_or_else(|| "E".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(device: &mut Device, body: &[u8]) -> Vec<u8> {
        device.handle(Some(body))
    }

    fn ready() -> Device {
        let mut device = Device::new(Arc::new(AsciiConfig::default()), 2);
        assert_eq!(ask(&mut device, b"START"), b"OK");
        device
    }

    #[test]
    fn codes_print_in_order_and_count() {
        let mut device = ready();
        assert_eq!(ask(&mut device, b"SETTEXT SERIAL A"), b"OK");
        assert_eq!(ask(&mut device, b"SETTEXT SERIAL B"), b"OK");
        assert_eq!(ask(&mut device, b"SETTEXT SERIAL C"), b"FULL");
        assert_eq!(ask(&mut device, b"STATUS"), b"STATUS READY 0 2");
        assert!(matches!(device.trigger(), TriggerOutcome::Printed(p) if p.text() == "A"));
        assert_eq!(ask(&mut device, b"COUNT"), b"COUNT 1");
        assert_eq!(ask(&mut device, b"CLEAR"), b"OK");
        assert_eq!(device.trigger(), TriggerOutcome::Empty);
        assert_eq!(ask(&mut device, b"HELLO"), b"ERR 1");
        assert_eq!(device.handle(None), b"ERR 1", "a bad checksum is refused");
    }

    #[test]
    fn ink_out_shows_in_the_status_and_refuses_start() {
        let mut device = ready();
        device.inject(Fault::InkOut);
        assert_eq!(ask(&mut device, b"STATUS"), b"STATUS FAULT E12 0");
        assert_eq!(ask(&mut device, b"START"), b"ERR 1");
        assert_eq!(device.trigger(), TriggerOutcome::Ignored);
    }

    #[test]
    fn reprint_on_empty_counts_a_print_of_old_data() {
        let mut device = ready();
        device.inject(Fault::ReprintOnEmpty);
        ask(&mut device, b"SETTEXT SERIAL A");
        device.trigger();
        assert!(matches!(device.trigger(), TriggerOutcome::Reprinted(p) if p.text() == "A"));
        assert_eq!(ask(&mut device, b"COUNT"), b"COUNT 2");
    }
}
