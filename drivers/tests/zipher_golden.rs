//! Zipher-style text protocol vectors. Command and reply shapes are those the open Videojet
//! Dataflex 6330 driver quotes from the *Zipher Text Communications Protocol* [VJ6330]
//! (`GST\r`, `SST|<state>|\r`, `ACK\r`, `ERR\r`, `STS|…|`, `SRC|<c>|`, `FLT|<n>|…|`); values
//! (job names, counts, fault codes) are tracemark's. Each reply is decoded whole and byte by
//! byte, and a damaged line gives an error that says what is wrong.

use tracemark_drivers::zipher::codec::{
    EncodeError, ErrorState, FaultEntry, LineDecoder, MachineState, OverallState, Response,
    ResponseError, decode_faults, decode_number, encode_command, encode_faults,
};

/// Decodes `wire` whole and byte by byte: one line, only on the last (CR) byte.
fn decode_line(wire: &[u8]) -> Response {
    let whole = LineDecoder::new().push_slice(wire);
    assert_eq!(whole.len(), 1, "{whole:?}");
    let line = whole[0].clone().expect("line");
    let mut decoder = LineDecoder::new();
    let (last, head) = wire.split_last().expect("non-empty");
    for &byte in head {
        assert_eq!(decoder.push(byte), None);
    }
    assert_eq!(decoder.push(*last), Some(Ok(line.clone())));
    let response = Response::parse(&line).expect("reply parses");
    assert_eq!(response.encode(), wire, "re-encodes to the same bytes");
    response
}

#[test]
fn get_state_command() {
    // [VJ6330 GetStateCommand: "GST\r"]
    let wire = [
        0x47, 0x53, 0x54, // "GST": Get State
        0x0D, // CR
    ];
    assert_eq!(encode_command("GST", &[]).unwrap(), wire);
}

#[test]
fn set_state_running_command() {
    // [VJ6330 SetStateCommand: $"SST|{(int)state}|\r", Running = 3]
    let wire = [
        0x53, 0x53, 0x54, // "SST": Set State
        0x7C, // |
        0x33, // "3": Running
        0x7C, // |
        0x0D, // CR
    ];
    assert_eq!(
        encode_command("SST", &[&OverallState::Running.code().to_string()]).unwrap(),
        wire
    );
}

#[test]
fn record_with_index_command() {
    // [VJ6330 SetDataWithIndexCommand: $"SID|{index}|" + data + "|" + "\r"]
    let wire = b"SID|7|(01)09506000134352(21)A1B2C3|\r";
    assert_eq!(
        encode_command("SID", &["7", "(01)09506000134352(21)A1B2C3"]).unwrap(),
        wire
    );
}

#[test]
fn reserved_bytes_in_a_field_are_refused() {
    assert_eq!(
        encode_command("SID", &["7", "A|B"]),
        Err(EncodeError::ReservedByte {
            name: "SID".to_owned(),
            index: 2,
            byte: '|'
        })
    );
    assert!(encode_command("SID", &["7", "A\rB"]).is_err());
    assert!(encode_command("sid", &[]).is_err());
}

#[test]
fn ack_and_err() {
    // [VJ6330 DefaultSuccessResponse "ACK\r", DefaultFailureResponse "ERR\r"]
    assert_eq!(decode_line(&[0x41, 0x43, 0x4B, 0x0D]), Response::Ack); // "ACK" CR
    assert_eq!(decode_line(&[0x45, 0x52, 0x52, 0x0D]), Response::Err); // "ERR" CR
}

#[test]
fn state_reply() {
    // [VJ6330 GetStateCommand pattern ^STS\|[0-4]\|[0-2]\|.*\|\d+\|\d+\|\r$]
    let wire = b"STS|3|0|CODES|12|3456|\r";
    let state = MachineState::decode(&decode_line(wire)).unwrap();
    assert_eq!(state.overall(), OverallState::Running);
    assert_eq!(state.error(), ErrorState::None);
    assert_eq!(state.job(), "CODES");
    assert_eq!((state.batch_count(), state.total_count()), (12, 3456));
    assert_eq!(state.encode().encode(), wire);
}

#[test]
fn state_reply_with_no_job() {
    // The job field is empty when no job is selected [VJ6330].
    let wire = b"STS|4|2||0|0|\r";
    let state = MachineState::decode(&decode_line(wire)).unwrap();
    assert_eq!(state.overall(), OverallState::Offline);
    assert_eq!(state.error(), ErrorState::Faults);
    assert_eq!(state.job(), "");
}

#[test]
fn fault_list_reply() {
    // [VJ6330 GetAllFaultsCommand: FLT|count| then code|clearable|text| per fault]
    let wire = b"FLT|2|1018|0|Ribbon out|1021|1|Printhead open|\r";
    let faults = decode_faults(&decode_line(wire)).unwrap();
    assert_eq!(
        faults,
        vec![
            FaultEntry::new("1018", false, "Ribbon out"),
            FaultEntry::new("1021", true, "Printhead open")
        ]
    );
    assert_eq!(encode_faults(&faults).encode(), wire);
    assert_eq!(
        decode_faults(&decode_line(b"FLT|0|\r")).unwrap(),
        Vec::<FaultEntry>::new()
    );
}

#[test]
fn numeric_replies() {
    // [VJ6330: SRC|<c>|, SLR|<i>|, SGM|<r>|]
    assert_eq!(decode_number(&decode_line(b"SRC|12|\r"), "SRC"), Ok(12));
    assert_eq!(decode_number(&decode_line(b"SLR|4711|\r"), "SLR"), Ok(4711));
    assert!(matches!(
        decode_number(&decode_line(b"SRC|12|\r"), "SLR"),
        Err(ResponseError::Unexpected {
            expected: "SLR",
            ..
        })
    ));
}

#[test]
fn damaged_replies_say_what_is_wrong() {
    assert_eq!(
        Response::parse(b"STS|3|0"),
        Err(ResponseError::Unterminated("STS|3|0".to_owned()))
    );
    assert_eq!(
        Response::parse(b"AXK"),
        Err(ResponseError::NoTag("AXK".to_owned()))
    );
    assert_eq!(
        Response::parse(b"\xff\x00"),
        Err(ResponseError::NotText { offset: 0 })
    );
    let wrong_count = decode_line(b"FLT|2|1018|0|Ribbon out|\r");
    assert_eq!(
        decode_faults(&wrong_count).unwrap_err().to_string(),
        "expected FLT|count|code|clearable|text|…|, got `FLT|2|1018|0|Ribbon out|`"
    );
    let bad_state = decode_line(b"STS|9|0|J|1|1|\r");
    assert!(MachineState::decode(&bad_state).is_err());
}

#[test]
fn crlf_and_noise_lines() {
    let mut decoder = LineDecoder::new();
    let lines = decoder.push_slice(b"ACK\r\nERR\r\r");
    assert_eq!(lines, vec![Ok(b"ACK".to_vec()), Ok(b"ERR".to_vec())]);
    let long = vec![b'A'; tracemark_drivers::zipher::codec::MAX_LINE_LEN + 10];
    let mut decoder = LineDecoder::new();
    let mut out = decoder.push_slice(&long);
    out.extend(decoder.push_slice(b"\rACK\r"));
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(out[0].is_err());
    assert_eq!(out[1], Ok(b"ACK".to_vec()));
}
