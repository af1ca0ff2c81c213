//! The `~HS` host status: three strings of flags and counts. Pure, no I/O; the decoder that
//! finds it in a byte stream is [`super::reply`].
//!
//! Sources (see `docs/protocols/zpl.md`):
//! - \[ZPL-HS\] *ZPL II Programming Guide*, `~HS` Host Status Return (45541L-004 §ZPL Commands;
//!   the same layout in the current guide): three strings, each `<STX>…<ETX><CR><LF>`, string 1
//!   `aaa,b,c,dddd,eee,f,g,h,iii,j,k,l`, string 2 `mmm,n,o,p,q,r,s,t,uuuuuuuu,v,www`, string 3
//!   `xxxx,y`. The current guide adds: no answer at all while media out, ribbon out, head open,
//!   rewinder full or head over-temperature.
//! - \[SGD\] the guide's Set-Get-Do chapter: `! U1 getvar "name"` answered by the value in double
//!   quotes, e.g. `"31084"` for `odometer.total_label_count`.

use std::fmt;

use super::reply::ReplyError;

/// Opens each `~HS` string \[ZPL-HS\].
pub const STX: u8 = 0x02;
/// Closes each `~HS` string, before CR LF \[ZPL-HS\].
pub const ETX: u8 = 0x03;
/// Fields in each of the three `~HS` strings \[ZPL-HS\].
pub(crate) const FIELD_COUNTS: [usize; 3] = [12, 11, 2];

/// The printer's print mode, `~HS` string 2 field `r` \[ZPL-HS\].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrintMode {
    /// `0`.
    Rewind,
    /// `1`.
    PeelOff,
    /// `2`.
    TearOff,
    /// `3`.
    Cutter,
    /// `4`: print-and-apply, each label waits for the applicator's start-print signal.
    Applicator,
    /// Any other value (delayed cut, linerless, RFID, kiosk, … on newer firmware).
    Other(u8),
}

impl PrintMode {
    /// The character on the wire.
    pub fn code(self) -> u8 {
        match self {
            Self::Rewind => b'0',
            Self::PeelOff => b'1',
            Self::TearOff => b'2',
            Self::Cutter => b'3',
            Self::Applicator => b'4',
            Self::Other(code) => code,
        }
    }

    /// Parses the character.
    pub fn from_code(code: u8) -> Self {
        match code {
            b'0' => Self::Rewind,
            b'1' => Self::PeelOff,
            b'2' => Self::TearOff,
            b'3' => Self::Cutter,
            b'4' => Self::Applicator,
            other => Self::Other(other),
        }
    }
}

/// The `~HS` reply, all three strings \[ZPL-HS\]. Build one with [`HostStatus::new`] and the
/// `with_` methods (the simulator does); read one with [`ReplyDecoder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostStatus {
    // String 1.
    communication_settings: u16,
    paper_out: bool,
    paused: bool,
    label_length_dots: u32,
    formats_in_buffer: u32,
    buffer_full: bool,
    diagnostic_mode: bool,
    partial_format: bool,
    corrupt_ram: bool,
    under_temperature: bool,
    over_temperature: bool,
    // String 2.
    function_settings: u16,
    head_up: bool,
    ribbon_out: bool,
    thermal_transfer: bool,
    print_mode: PrintMode,
    print_width_mode: u8,
    label_waiting: bool,
    labels_remaining: u32,
    graphics_stored: u16,
    // String 3.
    password: u16,
    static_ram: bool,
}

impl Default for HostStatus {
    fn default() -> Self {
        Self::new()
    }
}

impl HostStatus {
    /// A healthy, idle printer: 9600 8N1 (`aaa` = 030), 1225-dot labels, thermal transfer in
    /// tear-off mode, nothing queued.
    pub fn new() -> Self {
        Self {
            communication_settings: 30,
            paper_out: false,
            paused: false,
            label_length_dots: 1225,
            formats_in_buffer: 0,
            buffer_full: false,
            diagnostic_mode: false,
            partial_format: false,
            corrupt_ram: false,
            under_temperature: false,
            over_temperature: false,
            function_settings: 1,
            head_up: false,
            ribbon_out: false,
            thermal_transfer: true,
            print_mode: PrintMode::TearOff,
            print_width_mode: b'6',
            label_waiting: false,
            labels_remaining: 0,
            graphics_stored: 0,
            password: 1234,
            static_ram: false,
        }
    }

    /// Sets the paper out flag (string 1 `b`).
    pub fn with_paper_out(mut self, on: bool) -> Self {
        self.paper_out = on;
        self
    }

    /// Sets the pause flag (string 1 `c`).
    pub fn with_paused(mut self, on: bool) -> Self {
        self.paused = on;
        self
    }

    /// Sets the formats in the receive buffer (string 1 `eee`).
    pub fn with_formats_in_buffer(mut self, count: u32) -> Self {
        self.formats_in_buffer = count;
        self
    }

    /// Sets the receive buffer full flag (string 1 `f`).
    pub fn with_buffer_full(mut self, on: bool) -> Self {
        self.buffer_full = on;
        self
    }

    /// Sets the over-temperature flag (string 1 `l`).
    pub fn with_over_temperature(mut self, on: bool) -> Self {
        self.over_temperature = on;
        self
    }

    /// Sets the head up flag (string 2 `o`).
    pub fn with_head_up(mut self, on: bool) -> Self {
        self.head_up = on;
        self
    }

    /// Sets the ribbon out flag (string 2 `p`).
    pub fn with_ribbon_out(mut self, on: bool) -> Self {
        self.ribbon_out = on;
        self
    }

    /// Sets the print mode (string 2 `r`).
    pub fn with_print_mode(mut self, mode: PrintMode) -> Self {
        self.print_mode = mode;
        self
    }

    /// Sets the labels remaining in the batch being printed (string 2 `uuuuuuuu`).
    pub fn with_labels_remaining(mut self, count: u32) -> Self {
        self.labels_remaining = count;
        self
    }

    /// Communication (interface) settings, the 9-bit value of `aaa`.
    pub fn communication_settings(&self) -> u16 {
        self.communication_settings
    }

    /// Out of paper (string 1 `b`).
    pub fn paper_out(&self) -> bool {
        self.paper_out
    }

    /// Paused (string 1 `c`): by the PAUSE key or `~PP`.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Label length in dots (string 1 `dddd`).
    pub fn label_length_dots(&self) -> u32 {
        self.label_length_dots
    }

    /// Formats waiting in the receive buffer (string 1 `eee`).
    pub fn formats_in_buffer(&self) -> u32 {
        self.formats_in_buffer
    }

    /// The receive buffer is full (string 1 `f`).
    pub fn buffer_full(&self) -> bool {
        self.buffer_full
    }

    /// Communications diagnostic mode (string 1 `g`).
    pub fn diagnostic_mode(&self) -> bool {
        self.diagnostic_mode
    }

    /// A format is being received (string 1 `h`).
    pub fn partial_format(&self) -> bool {
        self.partial_format
    }

    /// Configuration data lost (string 1 `j`).
    pub fn corrupt_ram(&self) -> bool {
        self.corrupt_ram
    }

    /// Head under temperature (string 1 `k`).
    pub fn under_temperature(&self) -> bool {
        self.under_temperature
    }

    /// Head over temperature (string 1 `l`).
    pub fn over_temperature(&self) -> bool {
        self.over_temperature
    }

    /// Function settings, the value of `mmm` (string 2).
    pub fn function_settings(&self) -> u16 {
        self.function_settings
    }

    /// Print head up, i.e. open (string 2 `o`).
    pub fn head_up(&self) -> bool {
        self.head_up
    }

    /// Ribbon out (string 2 `p`).
    pub fn ribbon_out(&self) -> bool {
        self.ribbon_out
    }

    /// Thermal transfer mode selected (string 2 `q`).
    pub fn thermal_transfer(&self) -> bool {
        self.thermal_transfer
    }

    /// Print mode (string 2 `r`).
    pub fn print_mode(&self) -> PrintMode {
        self.print_mode
    }

    /// Print width mode (string 2 `s`), one character.
    pub fn print_width_mode(&self) -> char {
        char::from(self.print_width_mode)
    }

    /// A label waits to be taken in peel-off mode (string 2 `t`).
    pub fn label_waiting(&self) -> bool {
        self.label_waiting
    }

    /// Labels remaining in the batch being printed (string 2 `uuuuuuuu`).
    pub fn labels_remaining(&self) -> u32 {
        self.labels_remaining
    }

    /// Graphic images stored (string 2 `www`).
    pub fn graphics_stored(&self) -> u16 {
        self.graphics_stored
    }

    /// Password (string 3 `xxxx`).
    pub fn password(&self) -> u16 {
        self.password
    }

    /// Static RAM installed (string 3 `y`).
    pub fn static_ram(&self) -> bool {
        self.static_ram
    }

    /// Labels the printer still holds: the formats waiting in the receive buffer plus the labels
    /// remaining of the format being printed (a label formatted and waiting for the
    /// applicator's start-print signal is counted there, not in the receive buffer — **to
    /// verify** on a print-and-apply engine).
    pub fn labels_pending(&self) -> u64 {
        u64::from(self.formats_in_buffer) + u64::from(self.labels_remaining)
    }

    /// The conditions that stop printing, in the printer's terms; empty when none. A pause is
    /// not among them: whether it is a fault depends on who paused (see the session).
    pub fn faults(&self) -> Vec<&'static str> {
        let flags = [
            (self.head_up, "print head open"),
            (self.paper_out, "paper out"),
            (self.ribbon_out, "ribbon out"),
            (self.over_temperature, "head over temperature"),
            (self.under_temperature, "head under temperature"),
            (self.corrupt_ram, "configuration lost (corrupt RAM)"),
        ];
        flags
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect()
    }

    /// Encodes the three strings, each `<STX>…<ETX><CR><LF>`, fixed-width fields as the guide
    /// shows them \[ZPL-HS\].
    pub fn encode(&self) -> Vec<u8> {
        let flag = |on: bool| if on { '1' } else { '0' };
        let strings = [
            format!(
                "{:03},{},{},{:04},{:03},{},{},{},000,{},{},{}",
                self.communication_settings,
                flag(self.paper_out),
                flag(self.paused),
                self.label_length_dots,
                self.formats_in_buffer,
                flag(self.buffer_full),
                flag(self.diagnostic_mode),
                flag(self.partial_format),
                flag(self.corrupt_ram),
                flag(self.under_temperature),
                flag(self.over_temperature),
            ),
            format!(
                "{:03},0,{},{},{},{},{},{},{:08},1,{:03}",
                self.function_settings,
                flag(self.head_up),
                flag(self.ribbon_out),
                flag(self.thermal_transfer),
                char::from(self.print_mode.code()),
                char::from(self.print_width_mode),
                flag(self.label_waiting),
                self.labels_remaining,
                self.graphics_stored,
            ),
            format!("{:04},{}", self.password, flag(self.static_ram)),
        ];
        let mut out = Vec::with_capacity(90);
        for string in strings {
            out.push(STX);
            out.extend_from_slice(string.as_bytes());
            out.extend_from_slice(&[ETX, b'\r', b'\n']);
        }
        out
    }

    pub(crate) fn from_strings(
        strings: &[Vec<u8>; 3],
        offsets: [u64; 3],
    ) -> Result<Self, ReplyError> {
        let one = split_fields(&strings[0], 1, offsets[0])?;
        let two = split_fields(&strings[1], 2, offsets[1])?;
        let three = split_fields(&strings[2], 3, offsets[2])?;
        Ok(Self {
            communication_settings: one.number(0, "aaa")?,
            paper_out: one.flag(1, "b")?,
            paused: one.flag(2, "c")?,
            label_length_dots: one.number(3, "dddd")?,
            formats_in_buffer: one.number(4, "eee")?,
            buffer_full: one.flag(5, "f")?,
            diagnostic_mode: one.flag(6, "g")?,
            partial_format: one.flag(7, "h")?,
            corrupt_ram: one.flag(9, "j")?,
            under_temperature: one.flag(10, "k")?,
            over_temperature: one.flag(11, "l")?,
            function_settings: two.number(0, "mmm")?,
            head_up: two.flag(2, "o")?,
            ribbon_out: two.flag(3, "p")?,
            thermal_transfer: two.flag(4, "q")?,
            print_mode: PrintMode::from_code(two.single(5, "r")?),
            print_width_mode: two.single(6, "s")?,
            label_waiting: two.flag(7, "t")?,
            labels_remaining: two.number(8, "uuuuuuuu")?,
            graphics_stored: two.number(10, "www")?,
            password: three.number(0, "xxxx")?,
            static_ram: three.flag(1, "y")?,
        })
    }
}

/// The fields of one `~HS` string, for typed reads that name the field on error.
struct Fields<'a> {
    string: u8,
    offset: u64,
    fields: Vec<&'a [u8]>,
}

fn split_fields(bytes: &[u8], string: u8, offset: u64) -> Result<Fields<'_>, ReplyError> {
    let fields: Vec<&[u8]> = bytes.split(|&b| b == b',').collect();
    let expected = FIELD_COUNTS[usize::from(string - 1)];
    if fields.len() != expected {
        return Err(ReplyError::FieldCount {
            string,
            expected,
            got: fields.len(),
            offset,
        });
    }
    Ok(Fields {
        string,
        offset,
        fields,
    })
}

impl Fields<'_> {
    fn bad(&self, field: &'static str, index: usize) -> ReplyError {
        ReplyError::BadField {
            string: self.string,
            field,
            value: String::from_utf8_lossy(self.fields[index]).into_owned(),
            offset: self.offset,
        }
    }

    fn number<T: std::str::FromStr>(
        &self,
        index: usize,
        field: &'static str,
    ) -> Result<T, ReplyError> {
        let raw = self.fields[index];
        if raw.is_empty() || !raw.iter().all(u8::is_ascii_digit) {
            return Err(self.bad(field, index));
        }
        std::str::from_utf8(raw)
            .ok()
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| self.bad(field, index))
    }

    fn flag(&self, index: usize, field: &'static str) -> Result<bool, ReplyError> {
        match self.fields[index] {
            b"0" => Ok(false),
            b"1" => Ok(true),
            _ => Err(self.bad(field, index)),
        }
    }

    fn single(&self, index: usize, field: &'static str) -> Result<u8, ReplyError> {
        match self.fields[index] {
            [code] if code.is_ascii_alphanumeric() => Ok(*code),
            _ => Err(self.bad(field, index)),
        }
    }
}

impl fmt::Display for PrintMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rewind => f.write_str("rewind"),
            Self::PeelOff => f.write_str("peel-off"),
            Self::TearOff => f.write_str("tear-off"),
            Self::Cutter => f.write_str("cutter"),
            Self::Applicator => f.write_str("applicator"),
            Self::Other(code) => write!(f, "mode {}", char::from(*code)),
        }
    }
}
