//! What the driver sends a ZPL printer: the stored label template (`^DF`), one label per code
//! (`^XF` with `^FN` field data), and the control commands. Pure, no I/O.
//!
//! Sources (see `docs/protocols/zpl.md`):
//! - \[ZPL-DF\] / \[ZPL-XF\] / \[ZPL-FN\] *ZPL II Programming Guide*, `^DF` Download Format,
//!   `^XF` Recall Format, `^FN` Field Number: a format stored with `^DF` (field data replaced by
//!   `^FN#`, # 0–9999) is recalled with `^XF` and merged with `^FN#^FD…^FS` per label; names
//!   are `d:o.x` with device `R:`, `E:`, `B:` or `A:`, 1–8 (newer firmware 16) alphanumeric
//!   characters, extension `.ZPL`.
//! - \[ZPL-FD\] `^FD` Field Data: "any printable character except those used as command
//!   prefixes (`^` and `~`)", at most 3,072 bytes; `^` and `~` "can be printed using the `^FH`
//!   and `^FD` commands".
//! - \[ZPL-FH\] `^FH` Field Hexadecimal Indicator: inside the next `^FD`, `_` followed by two
//!   hex digits stands for that byte.
//! - \[ZPL-MM\] `^MMA` applicator print mode; \[ZPL-JA\] `~JA` cancel all; \[ZPL-PP\] `~PP`
//!   programmable pause; \[ZPL-PS\] `~PS` print start; \[ZPL-HS\] `~HS` host status.
//! - \[SGD\] `! U1 getvar "odometer.total_label_count"`, terminated by CR LF.

/// Host status request \[ZPL-HS\].
pub const HOST_STATUS: &[u8] = b"~HS";
/// Resume printing \[ZPL-PS\].
pub const PRINT_START: &[u8] = b"~PS";
/// Pause after the current label, then cancel every format in the buffer \[ZPL-PP\]
/// \[ZPL-JA\]: nothing sent before can print any more.
pub const PAUSE_AND_CANCEL_ALL: &[u8] = b"~PP~JA";
/// Print-and-apply: each label waits for the applicator's start-print signal \[ZPL-MM\].
pub const APPLICATOR_MODE: &[u8] = b"^XA^MMA^XZ";
/// The printer's lifetime label count, an SGD read \[SGD\].
pub const LABEL_COUNT_QUERY: &[u8] = b"! U1 getvar \"odometer.total_label_count\"\r\n";
/// Most field data bytes one `^FD` takes \[ZPL-FD\].
pub const MAX_FIELD_DATA: usize = 3072;
/// Highest field number \[ZPL-FN\].
pub const MAX_FIELD_NUMBER: u16 = 9999;
/// Longest stored-format name: 16 on current firmware, 8 on older \[ZPL-DF\].
pub const MAX_NAME_LEN: usize = 16;
/// The `^FH` indicator the driver writes (the guide's default) \[ZPL-FH\].
pub const HEX_INDICATOR: u8 = b'_';

const HEX_DIGITS: &[u8; 16] = b"0123456789ABCDEF";

/// A template, field or code that cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    /// The stored-format name is not `d:name.ZPL`.
    #[error(
        "template name `{0}` is not d:NAME.ZPL (d one of R E B A, NAME 1–16 letters or digits)"
    )]
    BadName(String),
    /// A field number above 9999.
    #[error("field number {0} is above 9999")]
    BadFieldNumber(u16),
    /// The same field number given twice (the code's field included).
    #[error("field {0} is given twice")]
    DuplicateField(u16),
    /// Field data longer than `^FD` takes.
    #[error("field {field} data is {len} bytes; ^FD takes at most {MAX_FIELD_DATA}")]
    TooLong {
        /// Field number.
        field: u16,
        /// Bytes of data.
        len: usize,
    },
    /// Empty field data: `^FD` needs at least one character.
    #[error("field {0} data is empty")]
    Empty(u16),
    /// The template body would end or break the stored format.
    #[error("template body contains `{0}`, which would end the stored format")]
    BodyCommand(String),
    /// The template body never places the code.
    #[error("template body has no ^FN{0}: the code would not print")]
    CodeFieldMissing(u16),
}

/// A stored-format name, `d:NAME.ZPL` \[ZPL-DF\].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateName {
    drive: u8,
    name: String,
}

impl TemplateName {
    /// Parses `d:NAME.ZPL`, `d:NAME` or `NAME` (drive `R:`, DRAM, when none is given, as
    /// `^DF` defaults to \[ZPL-DF\]).
    pub fn parse(text: &str) -> Result<Self, LabelError> {
        let bad = || LabelError::BadName(text.to_owned());
        let (drive, rest) = match text.split_once(':') {
            Some((drive, rest)) => match drive.as_bytes() {
                [letter @ (b'R' | b'E' | b'B' | b'A')] => (*letter, rest),
                _ => return Err(bad()),
            },
            None => (b'R', text),
        };
        let name = match rest.rsplit_once('.') {
            Some((name, extension)) if extension.eq_ignore_ascii_case("ZPL") => name,
            Some(_) => return Err(bad()),
            None => rest,
        };
        if name.is_empty()
            || name.len() > MAX_NAME_LEN
            || !name.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(bad());
        }
        Ok(Self {
            drive,
            name: name.to_owned(),
        })
    }

    /// `d:NAME.ZPL`, as `^DF` and `^XF` take it.
    pub fn path(&self) -> String {
        format!("{}:{}.ZPL", char::from(self.drive), self.name)
    }
}

/// True when `data` needs `^FH` to reach the printer as it is: a command prefix or a control
/// byte \[ZPL-FD\].
fn needs_hex(data: &[u8]) -> bool {
    data.iter()
        .any(|&b| b == b'^' || b == b'~' || b < 0x20 || b == 0x7F)
}

/// Appends `^FD<data>^FS`, or `^FH_^FD<escaped>^FS` when the data holds a command prefix or a
/// control byte: those bytes, and the indicator `_` itself, are written `_XX` \[ZPL-FH\].
/// Plain data, the usual case, goes out unchanged.
pub fn encode_field_data(out: &mut Vec<u8>, data: &[u8]) {
    if !needs_hex(data) {
        out.extend_from_slice(b"^FD");
        out.extend_from_slice(data);
        out.extend_from_slice(b"^FS");
        return;
    }
    out.extend_from_slice(b"^FH");
    out.push(HEX_INDICATOR);
    out.extend_from_slice(b"^FD");
    for &byte in data {
        if byte == b'^' || byte == b'~' || byte == HEX_INDICATOR || byte < 0x20 || byte == 0x7F {
            out.extend_from_slice(&[
                HEX_INDICATOR,
                HEX_DIGITS[usize::from(byte >> 4)],
                HEX_DIGITS[usize::from(byte & 0x0F)],
            ]);
        } else {
            out.push(byte);
        }
    }
    out.extend_from_slice(b"^FS");
}

/// Undoes `^FH` escaping with `indicator`: `_XX` becomes the byte; an indicator not followed by
/// two hex digits is kept as it is. What a printer does to `^FD` data after `^FH` \[ZPL-FH\].
pub fn decode_field_hex(data: &[u8], indicator: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut rest = data;
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == indicator
            && let [high, low, after @ ..] = tail
            && let (Some(high), Some(low)) = (hex_value(*high), hex_value(*low))
        {
            out.push((high << 4) | low);
            rest = after;
            continue;
        }
        out.push(byte);
        rest = tail;
    }
    out
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

/// `^XA^DFd:NAME.ZPL^FS<body>^XZ`: stores the template \[ZPL-DF\]. The body places the code
/// with `^FN<code_field>` and may place other fields; it must not end the format itself.
pub fn encode_store_template(
    name: &TemplateName,
    body: &str,
    code_field: u16,
) -> Result<Vec<u8>, LabelError> {
    let upper = body.to_ascii_uppercase();
    for command in ["^XA", "^XZ", "^DF", "^XF"] {
        if upper.contains(command) {
            return Err(LabelError::BodyCommand(command.to_owned()));
        }
    }
    // A control command is acted on as it arrives, not stored [ZPL-JA, ZPL-HS]: in a
    // body it would run once, at download.
    if body.contains('~') {
        return Err(LabelError::BodyCommand("~".to_owned()));
    }
    let placeholder = format!("^FN{code_field}");
    let placed = upper.match_indices(&placeholder).any(|(at, _)| {
        !upper[at + placeholder.len()..]
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit())
    });
    if !placed {
        return Err(LabelError::CodeFieldMissing(code_field));
    }
    let mut out = Vec::with_capacity(body.len() + 32);
    out.extend_from_slice(b"^XA^DF");
    out.extend_from_slice(name.path().as_bytes());
    out.extend_from_slice(b"^FS");
    out.extend_from_slice(body.as_bytes());
    out.extend_from_slice(b"^XZ");
    Ok(out)
}

/// One label per code: the stored template recalled with the fixed fields and the code
/// \[ZPL-XF\] \[ZPL-FN\]. The fixed part is encoded once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelTemplate {
    /// `^XA^XFd:NAME.ZPL^FS` and every fixed `^FN#^FD…^FS`, then `^FN<code field>`.
    prefix: Vec<u8>,
    code_field: u16,
}

impl LabelTemplate {
    /// A template recalled by `name`, with the code in `^FN<code_field>` and each of `fields`
    /// (number, data) filled in on every label.
    pub fn new(
        name: &TemplateName,
        code_field: u16,
        fields: &[(u16, String)],
    ) -> Result<Self, LabelError> {
        if code_field > MAX_FIELD_NUMBER {
            return Err(LabelError::BadFieldNumber(code_field));
        }
        let mut prefix = Vec::with_capacity(64);
        prefix.extend_from_slice(b"^XA^XF");
        prefix.extend_from_slice(name.path().as_bytes());
        prefix.extend_from_slice(b"^FS");
        let mut seen = vec![code_field];
        for (number, data) in fields {
            if *number > MAX_FIELD_NUMBER {
                return Err(LabelError::BadFieldNumber(*number));
            }
            if seen.contains(number) {
                return Err(LabelError::DuplicateField(*number));
            }
            seen.push(*number);
            check_data(*number, data.as_bytes())?;
            prefix.extend_from_slice(format!("^FN{number}").as_bytes());
            encode_field_data(&mut prefix, data.as_bytes());
        }
        prefix.extend_from_slice(format!("^FN{code_field}").as_bytes());
        Ok(Self { prefix, code_field })
    }

    /// The field the code goes into.
    pub fn code_field(&self) -> u16 {
        self.code_field
    }

    /// Appends the label for `code` to `out`: `^XA^XF…^FS` `^FN#^FD…^FS`… `^XZ`.
    pub fn encode_label(&self, code: &str, out: &mut Vec<u8>) -> Result<(), LabelError> {
        check_data(self.code_field, code.as_bytes())?;
        out.extend_from_slice(&self.prefix);
        encode_field_data(out, code.as_bytes());
        out.extend_from_slice(b"^XZ");
        Ok(())
    }
}

fn check_data(field: u16, data: &[u8]) -> Result<(), LabelError> {
    if data.is_empty() {
        return Err(LabelError::Empty(field));
    }
    if data.len() > MAX_FIELD_DATA {
        return Err(LabelError::TooLong {
            field,
            len: data.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_take_the_guides_forms() {
        assert_eq!(
            TemplateName::parse("E:TRACE.ZPL").unwrap().path(),
            "E:TRACE.ZPL"
        );
        assert_eq!(TemplateName::parse("TRACE").unwrap().path(), "R:TRACE.ZPL");
        assert_eq!(
            TemplateName::parse("R:trace.zpl").unwrap().path(),
            "R:trace.ZPL"
        );
        for bad in [
            "",
            "X:A.ZPL",
            "R:",
            "R:A.GRF",
            "R:A-B.ZPL",
            "R:ABCDEFGHIJKLMNOPQ",
        ] {
            assert!(TemplateName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn plain_codes_go_out_unchanged() {
        let mut out = Vec::new();
        encode_field_data(&mut out, b"(01)09506000134352(21)A_B");
        assert_eq!(out, b"^FD(01)09506000134352(21)A_B^FS");
    }

    #[test]
    fn prefixes_and_control_bytes_are_hex_escaped() {
        let mut out = Vec::new();
        encode_field_data(&mut out, b"A^B~C_D\x1dE");
        assert_eq!(out, b"^FH_^FDA_5EB_7EC_5FD_1DE^FS");
        let data = &out[b"^FH_^FD".len()..out.len() - b"^FS".len()];
        assert_eq!(decode_field_hex(data, b'_'), b"A^B~C_D\x1dE");
    }

    #[test]
    fn a_lone_indicator_is_kept() {
        assert_eq!(decode_field_hex(b"_4", b'_'), b"_4");
        assert_eq!(decode_field_hex(b"_zz_41", b'_'), b"_zzA");
    }

    #[test]
    fn the_body_may_not_end_the_format_or_lose_the_code() {
        let name = TemplateName::parse("R:T.ZPL").unwrap();
        assert_eq!(
            encode_store_template(&name, "^FO1,1^FN1^FS", 1).unwrap(),
            b"^XA^DFR:T.ZPL^FS^FO1,1^FN1^FS^XZ"
        );
        assert_eq!(
            encode_store_template(&name, "^FN1^FS^xz", 1),
            Err(LabelError::BodyCommand("^XZ".to_owned()))
        );
        assert_eq!(
            encode_store_template(&name, "^FN12^FS", 1),
            Err(LabelError::CodeFieldMissing(1))
        );
        assert!(encode_store_template(&name, "^FN1^FS~JA", 1).is_err());
    }

    #[test]
    fn fields_are_checked_once() {
        let name = TemplateName::parse("R:T.ZPL").unwrap();
        assert_eq!(
            LabelTemplate::new(&name, 1, &[(1, "x".to_owned())]),
            Err(LabelError::DuplicateField(1))
        );
        assert_eq!(
            LabelTemplate::new(&name, 1, &[(2, String::new())]),
            Err(LabelError::Empty(2))
        );
        let template = LabelTemplate::new(&name, 1, &[(10000, "x".to_owned())]);
        assert_eq!(template, Err(LabelError::BadFieldNumber(10000)));
        let template = LabelTemplate::new(&name, 1, &[]).unwrap();
        let long = "9".repeat(MAX_FIELD_DATA + 1);
        assert_eq!(
            template.encode_label(&long, &mut Vec::new()),
            Err(LabelError::TooLong {
                field: 1,
                len: MAX_FIELD_DATA + 1
            })
        );
    }
}
