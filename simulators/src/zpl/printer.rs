//! The simulated ZPL printer's state and what it does with each command. Pure, no I/O: the
//! serving loop moves bytes, this decides what they mean. Section names are those of the ZPL II
//! Programming Guide.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use tracemark_drivers::zpl::codec::{HEX_INDICATOR, decode_field_hex};
use tracemark_drivers::zpl::status::{HostStatus, PrintMode};

use super::stream::Token;
use crate::marker::{Fault, Print, TriggerOutcome};

/// Noise the garbage fault sends before a reply: bytes a line picks up, a stray ETX and a CR LF
/// — never an STX or a quote, which would open a reply.
pub(crate) const GARBAGE: &[u8] = b"\x00\xff#\x80noise\x03\r\n";

/// One label: the template it recalls and its field data, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Label {
    template: String,
    fields: BTreeMap<u16, Vec<u8>>,
}

/// A format between `^XA` and `^XZ`, as far as received.
#[derive(Debug, Default)]
struct Format {
    /// `^DF`: the format is stored under this name, not printed.
    store_as: Option<String>,
    /// `^FN` numbers in a stored body, in order.
    body_fields: Vec<u16>,
    /// `^XF`: the stored format recalled.
    recall: Option<String>,
    /// `^FN` data of a recall.
    fields: BTreeMap<u16, Vec<u8>>,
    /// The `^FN` the next `^FD` fills.
    field: Option<u16>,
    /// The `^FH` indicator for the next `^FD`.
    hex: Option<u8>,
}

#[derive(Debug)]
pub(crate) struct Printer {
    depth: usize,
    code_field: u16,
    /// Labels waiting; the first is formatted and waits for the start-print signal.
    queue: VecDeque<Label>,
    /// Stored formats by `d:NAME.ZPL`, with their `^FN` numbers.
    templates: HashMap<String, Vec<u16>>,
    last_stored: Option<String>,
    format: Option<Format>,
    paused: bool,
    print_mode: PrintMode,
    odometer: u64,
    print_gos: u64,
    discarded: u64,
    last_label: Option<Label>,
    faults: BTreeSet<Fault>,
    prints: Vec<Print>,
    printed_fields: Vec<BTreeMap<u16, Vec<u8>>>,
    commands: u64,
}

impl Printer {
    pub(crate) fn new(depth: usize, code_field: u16) -> Self {
        Self {
            depth: depth.max(1),
            code_field,
            queue: VecDeque::new(),
            templates: HashMap::new(),
            last_stored: None,
            format: None,
            paused: false,
            print_mode: PrintMode::TearOff,
            odometer: 0,
            print_gos: 0,
            discarded: 0,
            last_label: None,
            faults: BTreeSet::new(),
            prints: Vec::new(),
            printed_fields: Vec::new(),
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
        // Ribbon replaced, head closed: outside applicator mode what is held prints now.
        self.print_arrivals();
    }

    pub(crate) fn faults(&self) -> Vec<Fault> {
        self.faults.iter().copied().collect()
    }

    /// True while the printer answers nothing: a stalled firmware, or the head open — the
    /// guide's `~HS` page: no response while the head is open.
    pub(crate) fn silent(&self) -> bool {
        self.has(Fault::Stall) || self.has(Fault::HeadOpen)
    }

    pub(crate) fn buffered(&self) -> Vec<String> {
        self.queue.iter().map(|label| self.code_of(label)).collect()
    }

    pub(crate) fn prints(&self) -> &[Print] {
        &self.prints
    }

    pub(crate) fn printed_fields(&self) -> &[BTreeMap<u16, Vec<u8>>] {
        &self.printed_fields
    }

    /// Not paused: a start-print signal prints.
    pub(crate) fn printing(&self) -> bool {
        !self.paused
    }

    pub(crate) fn odometer(&self) -> u64 {
        self.odometer
    }

    pub(crate) fn print_gos(&self) -> u64 {
        self.print_gos
    }

    pub(crate) fn discarded(&self) -> u64 {
        self.discarded
    }

    pub(crate) fn commands(&self) -> u64 {
        self.commands
    }

    pub(crate) fn print_mode(&self) -> PrintMode {
        self.print_mode
    }

    pub(crate) fn last_stored(&self) -> Option<&str> {
        self.last_stored.as_deref()
    }

    fn code_of(&self, label: &Label) -> String {
        label
            .fields
            .get(&self.code_field)
            .map(|data| String::from_utf8_lossy(data).into_owned())
            .unwrap_or_default()
    }

    /// What `~HS` reports. The label at the head of the queue has been formatted and waits for
    /// the start-print signal: it counts as the batch being printed (labels remaining 1), the
    /// rest as formats in the receive buffer.
    pub(crate) fn host_status(&self) -> HostStatus {
        let current = u32::from(!self.queue.is_empty());
        let waiting = u32::try_from(self.queue.len()).unwrap_or(u32::MAX) - current;
        HostStatus::new()
            .with_paused(self.paused)
            .with_formats_in_buffer(waiting)
            .with_buffer_full(self.has(Fault::BufferFull) || self.queue.len() >= self.depth)
            .with_head_up(self.has(Fault::HeadOpen))
            .with_ribbon_out(self.has(Fault::InkOut))
            .with_print_mode(self.print_mode)
            .with_labels_remaining(current)
    }

    /// Acts on one command; returns the reply, if it has one.
    pub(crate) fn handle(&mut self, token: Token) -> Option<Vec<u8>> {
        self.commands += 1;
        match token {
            Token::Control { name } => self.control(name),
            Token::Format { name, params } => {
                self.format(name, params);
                None
            }
            Token::Sgd(line) => self.sgd(&line),
        }
    }

    fn control(&mut self, name: [u8; 2]) -> Option<Vec<u8>> {
        match &name {
            b"HS" => return Some(self.host_status().encode()),
            b"JA" => {
                // Cancel All: every format received so far goes, a half-received one too.
                self.queue.clear();
                self.format = None;
            }
            b"PP" => self.paused = true,
            b"PS" => {
                self.paused = false;
                self.print_arrivals();
            }
            _ => {}
        }
        None
    }

    /// Set-Get-Do: `U1 getvar "name"` is answered with the value in quotes; an unknown name
    /// with `"?"` (**to verify**); `setvar` and `do` are not answered.
    fn sgd(&mut self, line: &[u8]) -> Option<Vec<u8>> {
        let text = String::from_utf8_lossy(line);
        let mut words = text.split_whitespace();
        if words.next() != Some("U1") || words.next() != Some("getvar") {
            return None;
        }
        let value = match words.next() {
            Some("\"odometer.total_label_count\"") => self.odometer.to_string(),
            _ => "?".to_owned(),
        };
        Some(format!("\"{value}\"").into_bytes())
    }

    fn format(&mut self, name: [u8; 2], params: Vec<u8>) {
        if &name == b"XA" {
            self.format = Some(Format::default());
            return;
        }
        let Some(format) = self.format.as_mut() else {
            return;
        };
        match &name {
            b"XZ" => {
                if let Some(format) = self.format.take() {
                    self.finish(format);
                }
            }
            b"DF" if format.store_as.is_none() => format.store_as = Some(path(&params)),
            b"XF" => format.recall = Some(path(&params)),
            b"FN" => {
                let number = String::from_utf8_lossy(&params).trim().parse::<u16>().ok();
                match (&format.store_as, number) {
                    (Some(_), Some(number)) => format.body_fields.push(number),
                    (None, number) => format.field = number,
                    _ => {}
                }
            }
            b"FH" => format.hex = Some(params.first().copied().unwrap_or(HEX_INDICATOR)),
            b"FD" => {
                if let Some(field) = format.field.take() {
                    let data = match format.hex.take() {
                        Some(indicator) => decode_field_hex(&params, indicator),
                        None => params,
                    };
                    format.fields.insert(field, data);
                }
            }
            b"FS" => {
                format.field = None;
                format.hex = None;
            }
            b"MM" => {
                if let Some(mode) = params.first() {
                    self.print_mode = match mode.to_ascii_uppercase() {
                        b'A' => PrintMode::Applicator,
                        b'T' => PrintMode::TearOff,
                        b'P' => PrintMode::PeelOff,
                        b'R' => PrintMode::Rewind,
                        b'C' => PrintMode::Cutter,
                        other => PrintMode::Other(other),
                    };
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, format: Format) {
        if let Some(name) = format.store_as {
            self.templates.insert(name.clone(), format.body_fields);
            self.last_stored = Some(name);
            return;
        }
        let Some(template) = format.recall else {
            return;
        };
        let label = Label {
            template,
            fields: format.fields,
        };
        // A recall of a format never stored, a refused format (the nak fault) or one that
        // finds the buffer full is discarded: ZPL acknowledges nothing, the label is simply
        // not there.
        if !self.templates.contains_key(&label.template)
            || self.has(Fault::Nak)
            || self.has(Fault::BufferFull)
            || self.queue.len() >= self.depth
        {
            self.discarded += 1;
            return;
        }
        self.queue.push_back(label);
        self.print_arrivals();
    }

    /// Outside applicator mode a label prints as soon as it is formatted (tear-off, peel-off,
    /// …, ^MM): nothing waits for the product.
    fn print_arrivals(&mut self) {
        while self.print_mode != PrintMode::Applicator && !self.paused && !self.stopped() {
            let Some(label) = self.queue.pop_front() else {
                return;
            };
            self.print(label, false);
        }
    }

    fn stopped(&self) -> bool {
        self.has(Fault::InkOut) || self.has(Fault::HeadOpen)
    }

    fn print(&mut self, label: Label, reprint: bool) -> Print {
        self.odometer += 1;
        let print = Print::new(self.code_of(&label).into_bytes(), reprint);
        self.prints.push(print.clone());
        self.printed_fields.push(label.fields.clone());
        self.last_label = Some(label);
        print
    }

    /// The applicator's start-print signal.
    pub(crate) fn trigger(&mut self) -> TriggerOutcome {
        if self.paused || self.stopped() {
            return TriggerOutcome::Ignored;
        }
        self.print_gos += 1;
        if let Some(label) = self.queue.pop_front() {
            return TriggerOutcome::Printed(self.print(label, false));
        }
        match (self.last_label.clone(), self.has(Fault::ReprintOnEmpty)) {
            (Some(old), true) => TriggerOutcome::Reprinted(self.print(old, true)),
            _ => TriggerOutcome::Empty,
        }
    }
}

/// `d:NAME.ZPL` as the printer files it: upper-case, drive `R:` and extension `.ZPL` when
/// missing (`^DF` defaults).
fn path(params: &[u8]) -> String {
    let text = String::from_utf8_lossy(params).trim().to_ascii_uppercase();
    let with_drive = if text.contains(':') {
        text
    } else {
        format!("R:{text}")
    };
    if with_drive.ends_with(".ZPL") {
        with_drive
    } else {
        format!("{with_drive}.ZPL")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zpl::stream::CommandSplitter;

    fn send(printer: &mut Printer, bytes: &[u8]) -> Vec<Vec<u8>> {
        CommandSplitter::new()
            .push_slice(bytes)
            .into_iter()
            .filter_map(|token| printer.handle(token))
            .collect()
    }

    fn ready(depth: usize) -> Printer {
        let mut printer = Printer::new(depth, 1);
        send(
            &mut printer,
            b"^XA^MMA^XZ^XA^DFR:T.ZPL^FS^FO1,1^FN1^FS^FN2^FS^XZ",
        );
        printer
    }

    #[test]
    fn labels_wait_for_the_start_print_signal_and_print_in_order() {
        let mut printer = ready(4);
        send(
            &mut printer,
            b"^XA^XFR:T.ZPL^FS^FN2^FDWidget^FS^FN1^FDA^FS^XZ",
        );
        send(&mut printer, b"^XA^XFR:T.ZPL^FS^FN1^FH_^FDB_5E1^FS^XZ");
        assert_eq!(printer.buffered(), ["A", "B^1"]);
        let status = printer.host_status();
        assert_eq!(
            (status.formats_in_buffer(), status.labels_remaining()),
            (1, 1)
        );
        assert!(matches!(printer.trigger(), TriggerOutcome::Printed(p) if p.text() == "A"));
        assert_eq!(printer.printed_fields()[0][&2], b"Widget");
        assert!(matches!(printer.trigger(), TriggerOutcome::Printed(p) if p.text() == "B^1"));
        assert_eq!(printer.trigger(), TriggerOutcome::Empty);
        assert_eq!(printer.odometer(), 2);
    }

    #[test]
    fn the_odometer_answers_an_sgd_getvar() {
        let mut printer = ready(4);
        let replies = send(
            &mut printer,
            b"! U1 getvar \"odometer.total_label_count\"\r\n! U1 getvar \"x.y\"\r\n",
        );
        assert_eq!(replies, [b"\"0\"".to_vec(), b"\"?\"".to_vec()]);
    }

    #[test]
    fn cancel_all_and_pause() {
        let mut printer = ready(4);
        send(&mut printer, b"^XA^XFR:T.ZPL^FS^FN1^FDA^FS^XZ~PP~JA");
        assert!(printer.buffered().is_empty());
        assert_eq!(printer.trigger(), TriggerOutcome::Ignored);
        send(&mut printer, b"~PS");
        assert_eq!(printer.trigger(), TriggerOutcome::Empty);
    }

    #[test]
    fn formats_beyond_the_depth_or_for_no_template_are_discarded() {
        let mut printer = ready(1);
        send(&mut printer, b"^XA^XFR:T.ZPL^FS^FN1^FDA^FS^XZ");
        send(&mut printer, b"^XA^XFR:T.ZPL^FS^FN1^FDB^FS^XZ");
        send(&mut printer, b"^XA^XFR:NONE.ZPL^FS^FN1^FDC^FS^XZ");
        assert_eq!(printer.buffered(), ["A"]);
        assert_eq!(printer.discarded(), 2);
        assert!(printer.host_status().buffer_full());
    }

    #[test]
    fn outside_applicator_mode_labels_print_on_arrival() {
        let mut printer = Printer::new(4, 1);
        send(
            &mut printer,
            b"^XA^DFT^FS^FN1^FS^XZ^XA^XFR:T.ZPL^FS^FN1^FDA^FS^XZ",
        );
        assert_eq!(printer.prints().len(), 1);
        assert_eq!(printer.print_gos(), 0);
    }

    #[test]
    fn reprint_on_empty_repeats_the_last_label() {
        let mut printer = ready(4);
        printer.inject(Fault::ReprintOnEmpty);
        send(&mut printer, b"^XA^XFR:T.ZPL^FS^FN1^FDA^FS^XZ");
        printer.trigger();
        assert!(matches!(printer.trigger(), TriggerOutcome::Reprinted(p) if p.text() == "A"));
        assert_eq!(printer.odometer(), 2);
        assert_eq!(printer.host_status().labels_pending(), 0);
    }
}
