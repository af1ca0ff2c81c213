//! ZPL vectors. The `~HS` layout — three strings, `<STX>…<ETX><CR><LF>`, with 12, 11 and 2
//! fields — is the ZPL II Programming Guide's (`~HS` Host Status Return); the values are
//! tracemark's, one per field with what it means. The label and template commands follow the
//! guide's `^DF`/`^XF`/`^FN`/`^FH` pages. Each reply is decoded whole and byte by byte, and a
//! damaged reply gives an error that says what is wrong and where.

use tracemark_drivers::zpl::codec::{
    APPLICATOR_MODE, HOST_STATUS, LABEL_COUNT_QUERY, LabelError, LabelTemplate,
    PAUSE_AND_CANCEL_ALL, PRINT_START, TemplateName, encode_store_template,
};
use tracemark_drivers::zpl::reply::{Reply, ReplyDecoder, ReplyError};
use tracemark_drivers::zpl::status::{HostStatus, PrintMode};

/// A print-and-apply printer, paused, out of ribbon, holding four labels: one formatted and
/// waiting for the start-print signal, three more in the receive buffer.
const STATUS: &[u8] = b"\
\x02\
030,\
0,\
1,\
1225,\
003,\
0,\
0,\
0,\
000,\
0,\
0,\
0\
\x03\r\n\
\x02\
001,\
0,\
0,\
1,\
1,\
4,\
6,\
0,\
00000001,\
1,\
000\
\x03\r\n\
\x02\
1234,\
0\
\x03\r\n";
// String 1: STX;
//   aaa = 030: 0 0001 1110 = 9600 baud (a8 a2 a1 a0 = 0 110), 8 data bits (a3), 1 stop bit
//   (a4), parity off (a5), Xon/Xoff (a7);
//   b = 0 paper in; c = 1 paused; dddd = 1225 dots; eee = 003 formats in the receive buffer;
//   f = 0 buffer not full; g = 0 no diagnostics; h = 0 no partial format; iii = 000 unused;
//   j = 0 RAM intact; k = 0, l = 0 temperature in range; ETX CR LF.
// String 2: STX;
//   mmm = 001: thermal transfer (m0); n = 0 unused; o = 0 head down; p = 1 ribbon out;
//   q = 1 thermal transfer mode; r = 4 applicator; s = 6 print width mode; t = 0 no label
//   waiting to be peeled; uuuuuuuu = 00000001 label remaining in the batch; v = 1 format while
//   printing; www = 000 graphics; ETX CR LF.
// String 3: STX; xxxx = 1234 password; y = 0 no static RAM; ETX CR LF.

fn expected_status() -> HostStatus {
    HostStatus::new()
        .with_paused(true)
        .with_formats_in_buffer(3)
        .with_ribbon_out(true)
        .with_print_mode(PrintMode::Applicator)
        .with_labels_remaining(1)
}

/// Offset of the ETX that closes string 3: the reply is complete there.
fn last_etx() -> usize {
    STATUS
        .iter()
        .rposition(|&b| b == 0x03)
        .expect("string 3 has an ETX")
}

#[test]
fn host_status_request() {
    assert_eq!(HOST_STATUS, [0x7E, 0x48, 0x53]); // "~HS": control prefix, H, S
}

#[test]
fn host_status_decodes_whole() {
    let replies = ReplyDecoder::new().push_slice(STATUS);
    assert_eq!(
        replies,
        vec![Ok(Reply::HostStatus(Box::new(expected_status())))]
    );
    let Ok(Reply::HostStatus(status)) = &replies[0] else {
        unreachable!()
    };
    assert_eq!(status.communication_settings(), 30);
    assert!(status.paused());
    assert!(!status.paper_out());
    assert_eq!(status.label_length_dots(), 1225);
    assert_eq!(status.formats_in_buffer(), 3);
    assert!(status.ribbon_out());
    assert!(status.thermal_transfer());
    assert_eq!(status.print_mode(), PrintMode::Applicator);
    assert_eq!(status.labels_remaining(), 1);
    assert_eq!(status.labels_pending(), 4);
    assert_eq!(status.password(), 1234);
    assert_eq!(status.faults(), vec!["ribbon out"]);
    // The simulator's encoder writes the same bytes.
    assert_eq!(expected_status().encode(), STATUS);
}

#[test]
fn host_status_decodes_byte_by_byte() {
    let mut decoder = ReplyDecoder::new();
    for (offset, &byte) in STATUS.iter().enumerate() {
        let result = decoder.push(byte);
        if offset == last_etx() {
            assert_eq!(
                result,
                Some(Ok(Reply::HostStatus(Box::new(expected_status()))))
            );
        } else {
            assert_eq!(result, None, "byte {offset}");
        }
    }
    // The CR LF after each string is outside the strings.
    assert_eq!(decoder.skipped_bytes(), 6);
}

#[test]
fn noise_before_a_reply_is_skipped() {
    let mut wire = b"\x00\xff#noise\x03\r\n".to_vec();
    wire.extend_from_slice(STATUS);
    let replies = ReplyDecoder::new().push_slice(&wire);
    assert_eq!(
        replies,
        vec![Ok(Reply::HostStatus(Box::new(expected_status())))]
    );
}

#[test]
fn a_missing_etx_is_reported_once_and_the_next_reply_decodes() {
    // String 2 loses its ETX: the STX of string 3 arrives inside it.
    let string_2_etx = STATUS
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == 0x03)
        .nth(1)
        .unwrap()
        .0;
    let mut wire = STATUS.to_vec();
    wire.remove(string_2_etx);
    let string_2_stx = STATUS
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == 0x02)
        .nth(1)
        .unwrap()
        .0 as u64;
    let mut decoder = ReplyDecoder::new();
    assert_eq!(
        decoder.push_slice(&wire),
        vec![Err(ReplyError::MissingEtx {
            string: 2,
            offset: string_2_stx
        })]
    );
    assert_eq!(
        ReplyError::MissingEtx {
            string: 2,
            offset: string_2_stx
        }
        .to_string(),
        "~HS string 2 starting at stream byte 36 has no ETX before the next STX"
    );
    assert_eq!(
        decoder.push_slice(STATUS),
        vec![Ok(Reply::HostStatus(Box::new(expected_status())))]
    );
}

#[test]
fn a_wrong_field_count_is_reported_once_and_the_next_reply_decodes() {
    // String 1 without its `iii` field: 11 fields.
    let wire = [
        &b"\x02030,0,1,1225,003,0,0,0,0,0,0\x03\r\n"[..],
        &STATUS[STATUS.iter().position(|&b| b == b'\n').unwrap() + 1..],
    ]
    .concat();
    let mut decoder = ReplyDecoder::new();
    let errors = decoder.push_slice(&wire);
    assert_eq!(
        errors,
        vec![Err(ReplyError::FieldCount {
            string: 1,
            expected: 12,
            got: 11,
            offset: 0
        })]
    );
    assert_eq!(
        errors[0].clone().unwrap_err().to_string(),
        "~HS string 1 starting at stream byte 0 has 11 fields, expected 12"
    );
    assert_eq!(
        decoder.push_slice(STATUS),
        vec![Ok(Reply::HostStatus(Box::new(expected_status())))]
    );
}

#[test]
fn a_field_that_is_not_a_flag_is_named() {
    let mut wire = STATUS.to_vec();
    wire[7] = b'7'; // string 1 `c`, the pause flag
    assert_eq!(
        ReplyDecoder::new().push_slice(&wire),
        vec![Err(ReplyError::BadField {
            string: 1,
            field: "c",
            value: "7".to_owned(),
            offset: 0
        })]
    );
}

#[test]
fn a_reply_cut_short_by_the_next_is_reported() {
    // Strings 1 and 2, then a whole new reply.
    let string_3 = STATUS.iter().rposition(|&b| b == 0x02).unwrap();
    let wire = [&STATUS[..string_3], STATUS].concat();
    assert_eq!(
        ReplyDecoder::new().push_slice(&wire),
        vec![
            Err(ReplyError::Incomplete {
                strings: 2,
                offset: 0
            }),
            Ok(Reply::HostStatus(Box::new(expected_status())))
        ]
    );
}

#[test]
fn label_odometer_request_and_reply() {
    // SGD: `! U1 getvar "name"` ended by CR LF; the value comes back in quotes.
    assert_eq!(
        LABEL_COUNT_QUERY,
        b"! U1 getvar \"odometer.total_label_count\"\r\n"
    );
    let reply = [0x22, 0x33, 0x31, 0x30, 0x38, 0x34, 0x22]; // "31084"
    let mut decoder = ReplyDecoder::new();
    let (last, head) = reply.split_last().unwrap();
    for &byte in head {
        assert_eq!(decoder.push(byte), None);
    }
    assert_eq!(
        decoder.push(*last),
        Some(Ok(Reply::Value("31084".to_owned())))
    );
}

#[test]
fn control_commands() {
    assert_eq!(PRINT_START, b"~PS"); // resume printing
    assert_eq!(PAUSE_AND_CANCEL_ALL, b"~PP~JA"); // pause after this label, cancel every format
    assert_eq!(APPLICATOR_MODE, b"^XA^MMA^XZ"); // print mode A: wait for start-print
}

#[test]
fn template_store() {
    // [^DF]: `^XA^DFd:o.x^FS`, the format with ^FN where data goes, `^XZ`.
    let name = TemplateName::parse("E:TRACE.ZPL").unwrap();
    let body = "^FO50,50^BXN,8,200^FN1^FS^FO50,330^A0N,30,30^FN2^FS";
    assert_eq!(
        encode_store_template(&name, body, 1).unwrap(),
        b"^XA^DFE:TRACE.ZPL^FS^FO50,50^BXN,8,200^FN1^FS^FO50,330^A0N,30,30^FN2^FS^XZ"
    );
}

#[test]
fn label_recalls_the_template_with_its_fields() {
    // [^XF]: `^XA^XFd:o.x^FS`, then `^FN#^FD…^FS` per field, `^XZ`.
    let name = TemplateName::parse("E:TRACE.ZPL").unwrap();
    let template = LabelTemplate::new(&name, 1, &[(2, "ACME Widget 500 g".to_owned())]).unwrap();
    let mut label = Vec::new();
    template
        .encode_label("(01)09506000134352(21)A1B2C3", &mut label)
        .unwrap();
    assert_eq!(
        label,
        b"^XA^XFE:TRACE.ZPL^FS^FN2^FDACME Widget 500 g^FS^FN1^FD(01)09506000134352(21)A1B2C3^FS^XZ"
    );
}

#[test]
fn a_code_with_command_prefixes_is_escaped() {
    // [^FD]: `^` and `~` cannot be field data; [^FH]: `_` + two hex digits stands for a byte.
    let name = TemplateName::parse("R:T.ZPL").unwrap();
    let template = LabelTemplate::new(&name, 1, &[]).unwrap();
    let mut label = Vec::new();
    template.encode_label("A^B~C\u{1d}D_E", &mut label).unwrap();
    assert_eq!(label, b"^XA^XFR:T.ZPL^FS^FN1^FH_^FDA_5EB_7EC_1DD_5FE^FS^XZ");
    assert_eq!(
        template.encode_label("", &mut Vec::new()),
        Err(LabelError::Empty(1))
    );
}
