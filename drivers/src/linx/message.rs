//! Linx RCI commands and replies: command IDs, the reply header, status codes and the data
//! layouts tracemark uses. Pure, no I/O.
//!
//! Sources, cited per item below:
//! - \[RCI-E\] the manual's worked examples (appendix E) quoted byte by byte in the open iPlus
//!   driver, `iplus-framework/iPlus` `gip.core.reporthandler/Linx/LinxPrinter_RCI_Impl.cs` and
//!   `LinxPrinterCompleteStatusResponse.cs`;
//! - \[iPlus-enum\] that driver's tables transcribed from the manual: `LinxPrinterCommandCodeEnum.cs`
//!   (command IDs), `LinxCommandStatusCodeEnum.cs` (C-status), `LinxJetStateEnum.cs`,
//!   `LinxPrintStateEnum.cs`, `LinxPrintErrorEnum.cs` (error-mask bits),
//!   `LinxPrinterFaultCodeEnum.cs` (P-status);
//! - \[SPEC\] tracemark `SPEC.md` §5.

use std::fmt;

use super::frame::{Frame, FrameKind};

/// Command IDs tracemark sends \[iPlus-enum `LinxPrinterCommandCodeEnum`\], \[SPEC\].
pub mod command {
    /// Request Print Count (08h): reply carries the printer's counters \[iPlus-enum\], \[SPEC\].
    pub const REQUEST_PRINT_COUNT: u8 = 0x08;
    /// Start Jet (0Fh) \[RCI-E E.1.9\].
    pub const START_JET: u8 = 0x0F;
    /// Stop Jet (10h) \[iPlus-enum\].
    pub const STOP_JET: u8 = 0x10;
    /// Start Print (11h) \[RCI-E E.1.10\], \[SPEC\].
    pub const START_PRINT: u8 = 0x11;
    /// Stop Print (12h) \[iPlus-enum\], \[SPEC\]. With the printer's "Clear Buffers" option on,
    /// stopping print also empties every remote-field buffer (Linx 8900 operating manual,
    /// §8.1.3 "Configure RCI over Ethernet connection").
    pub const STOP_PRINT: u8 = 0x12;
    /// Trigger Print (13h): a software print-go \[iPlus-enum\].
    pub const TRIGGER_PRINT: u8 = 0x13;
    /// Printer Status Request (14h) \[RCI-E status reply example\], \[SPEC\].
    pub const PRINTER_STATUS: u8 = 0x14;
    /// Download Remote Field Data (1Dh): one entry into the remote buffer \[SPEC\]; the iPlus
    /// driver sends its remote data with this ID (ASCII GS).
    pub const DOWNLOAD_REMOTE_DATA: u8 = 0x1D;
    /// Load Print Message (1Eh): select the stored message to print \[SPEC\]; the iPlus driver
    /// loads its message with this ID (ASCII RS).
    pub const LOAD_PRINT_MESSAGE: u8 = 0x1E;
}

/// The C-status byte of a reply: whether and why a command failed \[iPlus-enum
/// `LinxCommandStatusCodeEnum`\].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommandStatus(u8);

impl CommandStatus {
    /// 00h: no command error \[RCI-E\].
    pub const OK: Self = Self(0x00);
    /// 08h: the printer computed another checksum for our packet.
    pub const INVALID_CHECKSUM: Self = Self(0x08);
    /// 11h: unknown command ID.
    pub const INVALID_COMMAND: Self = Self(0x11);
    /// 12h: the jet is not running.
    pub const JET_NOT_RUNNING: Self = Self(0x12);
    /// 24h: no stored message of that name.
    pub const UNKNOWN_MESSAGE: Self = Self(0x24);
    /// 2Dh: Print command refused, jet not running.
    pub const PRINT_JET_NOT_RUNNING: Self = Self(0x2D);
    /// 2Eh: Print command refused, no message loaded.
    pub const PRINT_NO_MESSAGE: Self = Self(0x2E);
    /// 3Fh: the loaded message has no remote field.
    pub const NO_REMOTE_FIELDS: Self = Self(0x3F);
    /// 41h: remote data longer than the remote field.
    pub const REMOTE_DATA_TOO_LARGE: Self = Self(0x41);
    /// 42h: remote buffer now full — this entry was stored, send no more \[SPEC\].
    pub const REMOTE_BUFFER_NOW_FULL: Self = Self(0x42);
    /// 43h: remote buffer still full — this entry was *not* stored \[SPEC\].
    pub const REMOTE_BUFFER_STILL_FULL: Self = Self(0x43);
    /// 51h: printer busy.
    pub const PRINTER_BUSY: Self = Self(0x51);

    /// The raw byte.
    pub fn code(self) -> u8 {
        self.0
    }

    /// Wraps a raw byte.
    pub fn from_code(code: u8) -> Self {
        Self(code)
    }

    /// C-status 42h or 43h: the remote buffer is full \[SPEC\].
    pub fn is_remote_buffer_full(self) -> bool {
        self == Self::REMOTE_BUFFER_NOW_FULL || self == Self::REMOTE_BUFFER_STILL_FULL
    }

    /// The manual's name for the code, where tracemark knows it \[iPlus-enum\].
    pub fn description(self) -> &'static str {
        match self.0 {
            0x00 => "no error",
            0x01 => "parity error",
            0x02 => "framing error",
            0x03 => "data overrun",
            0x04 => "serial break",
            0x05 => "receive buffer overflow",
            0x06 => "command start",
            0x07 => "command end",
            0x08 => "invalid checksum",
            0x11 => "invalid command",
            0x12 => "jet not running",
            0x13 => "jet not idle",
            0x14 => "print not idle",
            0x23 => "no messages",
            0x24 => "unknown message",
            0x25 => "field too large",
            0x2D => "print command: jet not running",
            0x2E => "print command: no message",
            0x2F => "jet command: ink low",
            0x30 => "jet command: solvent low",
            0x31 => "jet command: print fail",
            0x3B => "no print message loaded",
            0x3F => "no remote fields in message",
            0x40 => "number of remote characters",
            0x41 => "remote data too large",
            0x42 => "remote buffer now full",
            0x43 => "remote buffer still full",
            0x44 => "field data exceeds message end",
            0x45 => "invalid remote field type",
            0x51 => "printer busy",
            _ => "unlisted command status",
        }
    }
}

impl fmt::Display for CommandStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "C-status 0x{:02X} ({})", self.0, self.description())
    }
}

/// A command packet: command ID and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    id: u8,
    data: Vec<u8>,
}

impl Command {
    /// A command with data.
    pub fn new(id: u8, data: Vec<u8>) -> Self {
        Self { id, data }
    }

    /// A command without data.
    pub fn bare(id: u8) -> Self {
        Self::new(id, Vec::new())
    }

    /// The command ID.
    pub fn id(&self) -> u8 {
        self.id
    }

    /// The command data.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The packet carrying this command.
    pub fn to_frame(&self) -> Frame {
        let mut body = Vec::with_capacity(self.data.len() + 1);
        body.push(self.id);
        body.extend_from_slice(&self.data);
        Frame::new(FrameKind::Command, body)
    }

    /// The command a packet carries.
    pub fn from_frame(frame: &Frame) -> Result<Self, MessageError> {
        if frame.kind() != FrameKind::Command {
            return Err(MessageError::NotACommand(frame.kind()));
        }
        match frame.body().split_first() {
            Some((&id, data)) => Ok(Self::new(id, data.to_vec())),
            None => Err(MessageError::EmptyCommand),
        }
    }
}

/// A printer reply: `P-status C-status command-id data…` after `ESC ACK` or `ESC NAK` \[RCI-E\].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    accepted: bool,
    printer_status: u8,
    command_status: CommandStatus,
    command: u8,
    data: Vec<u8>,
}

impl Reply {
    /// An `ESC ACK` reply with no errors and `data`.
    pub fn ok(command: u8, data: Vec<u8>) -> Self {
        Self::new(true, 0, CommandStatus::OK, command, data)
    }

    /// A reply with every field given.
    pub fn new(
        accepted: bool,
        printer_status: u8,
        command_status: CommandStatus,
        command: u8,
        data: Vec<u8>,
    ) -> Self {
        Self {
            accepted,
            printer_status,
            command_status,
            command,
            data,
        }
    }

    /// `ESC ACK` (true) or `ESC NAK` (false).
    pub fn accepted(&self) -> bool {
        self.accepted
    }

    /// P-status: 00h = no printer error \[RCI-E\]; otherwise the printer's current fault code
    /// \[iPlus-enum `LinxPrinterFaultCodeEnum`\].
    pub fn printer_status(&self) -> u8 {
        self.printer_status
    }

    /// C-status \[RCI-E\].
    pub fn command_status(&self) -> CommandStatus {
        self.command_status
    }

    /// The command ID the reply answers \[RCI-E\].
    pub fn command(&self) -> u8 {
        self.command
    }

    /// The reply data after the command ID.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The packet carrying this reply.
    pub fn to_frame(&self) -> Frame {
        let mut body = Vec::with_capacity(self.data.len() + 3);
        body.push(self.printer_status);
        body.push(self.command_status.code());
        body.push(self.command);
        body.extend_from_slice(&self.data);
        let kind = if self.accepted {
            FrameKind::Ack
        } else {
            FrameKind::Nak
        };
        Frame::new(kind, body)
    }

    /// The reply a packet carries.
    pub fn from_frame(frame: &Frame) -> Result<Self, MessageError> {
        let accepted = match frame.kind() {
            FrameKind::Ack => true,
            FrameKind::Nak => false,
            FrameKind::Command => return Err(MessageError::NotAReply),
        };
        match frame.body() {
            [printer_status, command_status, command, data @ ..] => Ok(Self::new(
                accepted,
                *printer_status,
                CommandStatus::from_code(*command_status),
                *command,
                data.to_vec(),
            )),
            short => Err(MessageError::ShortReply(short.len())),
        }
    }
}

/// A packet whose body does not fit the message it claims to be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// A command was expected.
    #[error("expected an ESC STX command, got an {0}")]
    NotACommand(FrameKind),
    /// A command packet without a command ID.
    #[error("ESC STX packet has no command ID")]
    EmptyCommand,
    /// A reply was expected.
    #[error("expected an ESC ACK or ESC NAK reply, got an ESC STX command")]
    NotAReply,
    /// A reply shorter than its fixed header.
    #[error("reply body has {0} bytes, need at least 3 (P-status, C-status, command ID)")]
    ShortReply(usize),
    /// Reply data of the wrong length for its command.
    #[error("reply to command 0x{command:02X} carries {found} data bytes, expected {expected}")]
    DataLength {
        /// The command answered.
        command: u8,
        /// Bytes expected.
        expected: usize,
        /// Bytes received.
        found: usize,
    },
    /// Text that does not fit a field.
    #[error("{what} is {found} bytes, the field holds at most {max}")]
    TooLong {
        /// What the text is.
        what: &'static str,
        /// Its length.
        found: usize,
        /// The field size.
        max: usize,
    },
}

/// Jet state byte of the status reply \[iPlus-enum `LinxJetStateEnum`\].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JetState {
    /// 00h.
    Running,
    /// 01h.
    Startup,
    /// 02h.
    Shutdown,
    /// 03h \[RCI-E status reply example\].
    Stopped,
    /// 04h.
    Fault,
    /// 05h.
    WarmingUp,
    /// A code tracemark does not know.
    Other(u8),
}

impl JetState {
    /// Decodes the byte.
    pub fn from_code(code: u8) -> Self {
        match code {
            0x00 => Self::Running,
            0x01 => Self::Startup,
            0x02 => Self::Shutdown,
            0x03 => Self::Stopped,
            0x04 => Self::Fault,
            0x05 => Self::WarmingUp,
            other => Self::Other(other),
        }
    }

    /// Encodes the byte.
    pub fn code(self) -> u8 {
        match self {
            Self::Running => 0x00,
            Self::Startup => 0x01,
            Self::Shutdown => 0x02,
            Self::Stopped => 0x03,
            Self::Fault => 0x04,
            Self::WarmingUp => 0x05,
            Self::Other(code) => code,
        }
    }
}

/// Print state byte of the status reply \[iPlus-enum `LinxPrintStateEnum`\].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrintState {
    /// 00h.
    Printing,
    /// 01h.
    Undefined,
    /// 02h \[RCI-E status reply example\].
    Idle,
    /// 03h.
    GeneratingPixels,
    /// 04h.
    Waiting,
    /// 05h.
    Last,
    /// 06h.
    PrintingGeneratingPixels,
    /// A code tracemark does not know.
    Other(u8),
}

impl PrintState {
    /// Decodes the byte.
    pub fn from_code(code: u8) -> Self {
        match code {
            0x00 => Self::Printing,
            0x01 => Self::Undefined,
            0x02 => Self::Idle,
            0x03 => Self::GeneratingPixels,
            0x04 => Self::Waiting,
            0x05 => Self::Last,
            0x06 => Self::PrintingGeneratingPixels,
            other => Self::Other(other),
        }
    }

    /// Encodes the byte.
    pub fn code(self) -> u8 {
        match self {
            Self::Printing => 0x00,
            Self::Undefined => 0x01,
            Self::Idle => 0x02,
            Self::GeneratingPixels => 0x03,
            Self::Waiting => 0x04,
            Self::Last => 0x05,
            Self::PrintingGeneratingPixels => 0x06,
            Self::Other(code) => code,
        }
    }
}

/// The 32-bit error mask of the status reply, one bit per condition \[iPlus-enum
/// `LinxPrintErrorEnum`: the enum value is the bit number\]. Sent least significant byte first,
/// like every multi-byte RCI value in the manual's examples (e.g. `4E 00` = 78 bytes, \[RCI-E
/// Download Message example\]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ErrorMask(u32);

impl ErrorMask {
    /// Bit 3: ink low.
    pub const INK_LOW: u32 = 1 << 3;
    /// Bit 4: solvent low.
    pub const SOLVENT_LOW: u32 = 1 << 4;
    /// Bit 5: a print-go arrived with no remote data in the buffer.
    pub const PRINT_GO_REMOTE_DATA: u32 = 1 << 5;
    /// Bit 7: print-head cover off.
    pub const PRINT_HEAD_COVER_OFF: u32 = 1 << 7;
    /// Bit 24: a print-go printed the old pattern.
    pub const PRINT_GO_OLD_PATTERN: u32 = 1 << 24;

    /// Wraps the raw mask.
    pub fn from_bits(bits: u32) -> Self {
        Self(bits)
    }

    /// The raw mask.
    pub fn bits(self) -> u32 {
        self.0
    }

    /// True when every bit of `flag` is set.
    pub fn contains(self, flag: u32) -> bool {
        self.0 & flag == flag
    }

    /// A print-go found the remote buffer empty (bit 5) or reprinted old data (bit 24): the
    /// condition tracemark must never let pass unnoticed.
    pub fn print_go_without_data(self) -> bool {
        self.0 & (Self::PRINT_GO_REMOTE_DATA | Self::PRINT_GO_OLD_PATTERN) != 0
    }
}

/// The data of a Printer Status Request (14h) reply: `jet-state print-state error-mask(4)`
/// \[RCI-E: `03 02 00 00 00 00` = jet stopped, idle, no errors\].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrinterStatus {
    jet: JetState,
    print: PrintState,
    errors: ErrorMask,
}

impl PrinterStatus {
    /// Length of the reply data.
    pub const DATA_LEN: usize = 6;

    /// A status.
    pub fn new(jet: JetState, print: PrintState, errors: ErrorMask) -> Self {
        Self { jet, print, errors }
    }

    /// Jet state.
    pub fn jet(&self) -> JetState {
        self.jet
    }

    /// Print state.
    pub fn print(&self) -> PrintState {
        self.print
    }

    /// Error mask.
    pub fn errors(&self) -> ErrorMask {
        self.errors
    }

    /// Decodes the reply data.
    pub fn decode(data: &[u8]) -> Result<Self, MessageError> {
        match data {
            [jet, print, mask @ ..] if mask.len() == 4 => Ok(Self::new(
                JetState::from_code(*jet),
                PrintState::from_code(*print),
                ErrorMask::from_bits(u32::from_le_bytes([mask[0], mask[1], mask[2], mask[3]])),
            )),
            _ => Err(MessageError::DataLength {
                command: command::PRINTER_STATUS,
                expected: Self::DATA_LEN,
                found: data.len(),
            }),
        }
    }

    /// Encodes the reply data.
    pub fn encode(&self) -> Vec<u8> {
        let mut data = vec![self.jet.code(), self.print.code()];
        data.extend_from_slice(&self.errors.bits().to_le_bytes());
        data
    }
}

/// The data of a Request Print Count (08h) reply: product count then print count, 4 bytes each,
/// least significant byte first. The layout is tracemark's reading of the manual's Set/Request
/// Print Count pair (07h/08h) and is marked "to verify on a printer" in
/// `docs/protocols/linx-rci.md`; only the print count (prints actually made) confirms codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrintCounts {
    product: u32,
    print: u32,
}

impl PrintCounts {
    /// Length of the reply data.
    pub const DATA_LEN: usize = 8;

    /// Counters.
    pub fn new(product: u32, print: u32) -> Self {
        Self { product, print }
    }

    /// Products detected (print-go signals).
    pub fn product(&self) -> u32 {
        self.product
    }

    /// Prints made.
    pub fn print(&self) -> u32 {
        self.print
    }

    /// Decodes the reply data.
    pub fn decode(data: &[u8]) -> Result<Self, MessageError> {
        match data {
            [p0, p1, p2, p3, c0, c1, c2, c3] => Ok(Self::new(
                u32::from_le_bytes([*p0, *p1, *p2, *p3]),
                u32::from_le_bytes([*c0, *c1, *c2, *c3]),
            )),
            _ => Err(MessageError::DataLength {
                command: command::REQUEST_PRINT_COUNT,
                expected: Self::DATA_LEN,
                found: data.len(),
            }),
        }
    }

    /// Encodes the reply data.
    pub fn encode(&self) -> Vec<u8> {
        let mut data = self.product.to_le_bytes().to_vec();
        data.extend_from_slice(&self.print.to_le_bytes());
        data
    }
}

/// Width of the length prefix of Download Remote Field Data (1Dh): the iPlus driver sends a
/// 32-bit little-endian byte count before the field data (`BitConverter.GetBytes(int)` in
/// `LinxPrinter_FlowDoc.cs`). Marked "to verify on a printer" in the protocol document.
pub const REMOTE_DATA_LENGTH_BYTES: usize = 4;

/// Longest remote field entry tracemark sends: longer codes belong to a 2D symbol field the
/// printer fills from several remote fields, which tracemark does not drive yet.
pub const MAX_REMOTE_DATA_LEN: usize = 256;

/// Data of Download Remote Field Data (1Dh): length prefix, then the field bytes.
pub fn encode_remote_data(field: &[u8]) -> Result<Vec<u8>, MessageError> {
    if field.len() > MAX_REMOTE_DATA_LEN {
        return Err(MessageError::TooLong {
            what: "remote field data",
            found: field.len(),
            max: MAX_REMOTE_DATA_LEN,
        });
    }
    // Bounded by MAX_REMOTE_DATA_LEN above, so the count always fits.
    let length = u32::try_from(field.len()).unwrap_or(u32::MAX);
    let mut data = length.to_le_bytes().to_vec();
    data.extend_from_slice(field);
    Ok(data)
}

/// The field bytes of Download Remote Field Data (1Dh) data.
pub fn decode_remote_data(data: &[u8]) -> Result<&[u8], MessageError> {
    let Some((prefix, field)) = data.split_first_chunk::<REMOTE_DATA_LENGTH_BYTES>() else {
        return Err(MessageError::DataLength {
            command: command::DOWNLOAD_REMOTE_DATA,
            expected: REMOTE_DATA_LENGTH_BYTES,
            found: data.len(),
        });
    };
    let declared = usize::try_from(u32::from_le_bytes(*prefix)).unwrap_or(usize::MAX);
    if declared != field.len() {
        return Err(MessageError::DataLength {
            command: command::DOWNLOAD_REMOTE_DATA,
            expected: REMOTE_DATA_LENGTH_BYTES.saturating_add(declared),
            found: data.len(),
        });
    }
    Ok(field)
}

/// Size of the message-name field of Load Print Message (1Eh): the iPlus driver sends the name
/// NUL-padded to 18 bytes (`AddPrintMessageToJob`). Names are at most 15 characters plus NUL
/// in the manual's message header (16-byte "Message name" field, \[RCI-E Download Message
/// example: `message1.pat` + NULs\]).
pub const MESSAGE_NAME_FIELD: usize = 18;

/// Longest message name.
pub const MAX_MESSAGE_NAME: usize = 15;

/// Data of Load Print Message (1Eh): the name, NUL-padded.
pub fn encode_message_name(name: &str) -> Result<Vec<u8>, MessageError> {
    let bytes = name.as_bytes();
    if bytes.len() > MAX_MESSAGE_NAME {
        return Err(MessageError::TooLong {
            what: "message name",
            found: bytes.len(),
            max: MAX_MESSAGE_NAME,
        });
    }
    let mut data = bytes.to_vec();
    data.resize(MESSAGE_NAME_FIELD, 0);
    Ok(data)
}

/// The message name in Load Print Message (1Eh) data.
pub fn decode_message_name(data: &[u8]) -> Result<String, MessageError> {
    if data.len() != MESSAGE_NAME_FIELD {
        return Err(MessageError::DataLength {
            command: command::LOAD_PRINT_MESSAGE,
            expected: MESSAGE_NAME_FIELD,
            found: data.len(),
        });
    }
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    Ok(String::from_utf8_lossy(&data[..end]).into_owned())
}

/// The manual's name of a command ID tracemark uses, for logs and errors.
pub fn command_name(id: u8) -> &'static str {
    match id {
        command::REQUEST_PRINT_COUNT => "Request Print Count (08h)",
        command::START_JET => "Start Jet (0Fh)",
        command::STOP_JET => "Stop Jet (10h)",
        command::START_PRINT => "Start Print (11h)",
        command::STOP_PRINT => "Stop Print (12h)",
        command::TRIGGER_PRINT => "Trigger Print (13h)",
        command::PRINTER_STATUS => "Printer Status Request (14h)",
        command::DOWNLOAD_REMOTE_DATA => "Download Remote Field Data (1Dh)",
        command::LOAD_PRINT_MESSAGE => "Load Print Message (1Eh)",
        _ => "command",
    }
}

/// P-status codes tracemark names \[iPlus-enum `LinxPrinterFaultCodeEnum`; the manual reuses
/// some numbers across printer models, so only unambiguous ones are named\].
pub fn printer_fault_name(code: u8) -> &'static str {
    match code {
        0x00 => "no printer error",
        0x05 => "300 V power supply",
        0x07 => "ink tank empty",
        0x0B => "jet misaligned",
        0x0C => "pressure limit",
        0x0D => "viscosity",
        _ => "printer fault",
    }
}
