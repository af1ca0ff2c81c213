//! Generic ASCII driver vectors for the two real devices of `docs/protocols/ascii.md`, from
//! their public manuals, with a comment on each byte:
//! - \[PAN-GS\] Panasonic *LP-GS Series Serial Communication Command Manual, LP-400/V
//!   compatible mode* (ME-LP-GS-SR-COMP-3): §2-3-1 framing and check sum, §2-3-2/§2-3-3 the
//!   worked request and response examples (FNO, LPW, ACK), §3-3-1 MKM, §3-3-7 STS, §3-5-3 SIN,
//!   §3-6-1 CNT; \[PAN-LPM\] the LP-M manual's negative response (NAK + two-digit code);
//! - \[KEY-MDX\] the Keyence MD-X2000/2500 command set as quoted by open host programs: `WX,…` /
//!   `RX,…` + CR, replies `WX,OK`, `WX,NG,…`, `RX,OK,…`, `RX,Ready` → 0/1/2.
//!
//! Each reply is decoded whole and byte by byte and re-encoded to the same bytes; a corrupted
//! check sum gives an error that says what and where. Then the description checks.

use tracemark_drivers::ascii::config::{CodeValues, HostCommand, StatusReading};
use tracemark_drivers::ascii::frame::FrameErrorKind;
use tracemark_drivers::ascii::{AsciiConfig, Command, DEFAULT_DESCRIPTION};

const PANASONIC: &str = include_str!("../../line-configs/devices/panasonic-lp-gs.toml");
const KEYENCE: &str = include_str!("../../line-configs/devices/keyence-md-x.toml");

fn panasonic() -> AsciiConfig {
    AsciiConfig::from_toml(PANASONIC).expect("the Panasonic description is valid")
}

fn keyence() -> AsciiConfig {
    AsciiConfig::from_toml(KEYENCE).expect("the Keyence description is valid")
}

/// Decodes `wire` whole and byte by byte (one frame, complete only on the last byte), checks
/// it re-encodes to the same bytes, and returns its body.
fn decode_reply(config: &AsciiConfig, wire: &[u8]) -> Vec<u8> {
    let framing = config.framing();
    let whole = framing.reply_decoder().push_slice(wire);
    assert_eq!(whole.len(), 1, "{whole:?}");
    let frame = whole[0].clone().expect("a good frame");
    let mut decoder = framing.reply_decoder();
    let (last, head) = wire.split_last().expect("not empty");
    for &byte in head {
        assert_eq!(decoder.push(byte), None);
    }
    assert_eq!(decoder.push(*last), Some(Ok(frame.clone())));
    assert_eq!(framing.encode_reply(frame.body()), wire, "re-encodes");
    frame.body().to_vec()
}

/// The command frame of `command` (a load of `code`), checked to decode back, on the device's
/// side, to `expected`.
fn command(config: &AsciiConfig, command: Command, code: Option<&str>) -> Vec<u8> {
    let values = code.map(|text| CodeValues { text, index: 1 });
    let wire = config
        .encode(command, values)
        .expect("the device has the command")
        .expect("renders");
    let frames = config.framing().command_decoder().push_slice(&wire);
    assert_eq!(frames.len(), 1, "{frames:?}");
    let body = frames[0].clone().expect("a good frame").body().to_vec();
    let identified = config.identify(&body).expect("the device knows it");
    let expected = match command {
        Command::Load => HostCommand::Load {
            code: code.expect("a code").as_bytes().to_vec(),
            index: None,
        },
        Command::Start => HostCommand::Start,
        Command::Stop => HostCommand::Stop,
        Command::Clear => HostCommand::Clear,
        Command::Status => HostCommand::Status,
        Command::Count => HostCommand::Count,
    };
    assert_eq!(identified, expected);
    wire
}

#[test]
fn panasonic_framing_reproduces_the_manual_examples() {
    let config = panasonic();
    let framing = config.framing();
    // [PAN-GS §2-3-2, file number change request]
    let fno = [
        0x02, // STX start code
        0x46, 0x4E, 0x4F, // "FNO" command
        0x53, // "S" setting request
        0x32, 0x30, 0x34, 0x37, // "2047" file number
        0x30, 0x35, // "05": 02+46+4E+4F+53+32+30+34+37 = 205h, low byte as two characters
        0x0D, // CR end code
    ];
    assert_eq!(framing.encode_command(b"FNOS2047"), fno);
    // [PAN-GS §2-3-1, check sum example: laser power 042.5]
    let lpw = [
        0x02, // STX
        0x4C, 0x50, 0x57, // "LPW"
        0x53, // "S"
        0x30, 0x34, 0x32, 0x2E, 0x35, // "042.5"
        0x34, 0x31, // "41": the sum is 241h
        0x0D, // CR
    ];
    assert_eq!(framing.encode_command(b"LPWS042.5"), lpw);
    // [PAN-GS §2-3-3, readout response to FNO R]
    let readout = [
        0x02, // STX: readout response
        0x46, 0x4E, 0x4F, // "FNO"
        0x41, // "A" answer
        0x32, 0x30, 0x34, 0x37, // "2047"
        0x46, 0x33, // "F3": the sum is 1F3h
        0x0D, // CR
    ];
    assert_eq!(decode_reply(&config, &readout), b"\x02FNOA2047");
}

#[test]
fn panasonic_commands() {
    let config = panasonic();
    let sin = [
        0x02, // STX
        0x53, 0x49, 0x4E, // "SIN" character entry per trigger [PAN-GS §3-5-3]
        0x53, // "S"
        0x30, 0x30, // "00" string No. (`field`)
        0x61, 0x62, 0x63, 0x64, // "abcd": the manual's example characters
        0x32, 0x39, // "29": the sum is 329h
        0x0D, // CR
    ];
    assert_eq!(command(&config, Command::Load, Some("abcd")), sin);
    let mkm_off = [
        0x02, 0x4D, 0x4B, 0x4D, // STX "MKM" command reception permission [PAN-GS §3-3-1]
        0x53, // "S"
        0x31, // "1": permission OFF, marking trigger ready resumes
        0x36, 0x42, // "6B"
        0x0D, // CR
    ];
    assert_eq!(command(&config, Command::Start, None), mkm_off);
    let mkm_on = [0x02, 0x4D, 0x4B, 0x4D, 0x53, 0x30, 0x36, 0x41, 0x0D]; // "MKMS0" "6A"
    assert_eq!(command(&config, Command::Stop, None), mkm_on);
    let clear = [
        0x02, 0x53, 0x49, 0x4E, 0x53, // STX "SIN" "S"
        0x30, 0x30, // "00", no characters: accepted without data [PAN-GS §3-5-3]
        0x39, 0x46, // "9F": the sum is 19Fh
        0x0D, // CR
    ];
    assert_eq!(command(&config, Command::Clear, None), clear);
    let sts = [
        0x02, 0x53, 0x54, 0x53, // STX "STS" status checking [PAN-GS §3-3-7]
        0x52, // "R" readout request
        0x34, 0x45, // "4E"
        0x0D, // CR
    ];
    assert_eq!(command(&config, Command::Status, None), sts);
    let cnt = [
        0x02, 0x43, 0x4E, 0x54, // STX "CNT" counter settings [PAN-GS §3-6-1]
        0x52, // "R"
        0x30, // "0": counter No. 0
        0x36, 0x39, // "69"
        0x0D, // CR
    ];
    assert_eq!(command(&config, Command::Count, None), cnt);
}

#[test]
fn panasonic_replies() {
    let config = panasonic();
    // [PAN-GS §2-3-3, positive response]
    let ack = [
        0x06, // ACK start code
        0x30, 0x30, // "00" response code
        0x36, 0x36, // "66": 06+30+30
        0x0D, // CR
    ];
    assert!(
        config
            .ack()
            .captures(&decode_reply(&config, &ack))
            .is_some()
    );
    // [PAN-LPM §2-3, negative response, response code 09 incorrect data]
    let nak = [0x15, 0x30, 0x39, 0x37, 0x45, 0x0D]; // NAK "09" "7E" CR
    let body = decode_reply(&config, &nak);
    assert!(config.ack().captures(&body).is_none());
    let captures = config.nak().captures(&body).expect("a NAK");
    assert_eq!(captures.text("reason").as_deref(), Some("09"));
    let status = config.status().expect("has STS");
    // [PAN-GS §3-3-7: "02110" is the status with the marking trigger ready ON]
    let ready = [
        0x02, 0x53, 0x54, 0x53, 0x41, // STX "STS" "A"
        0x30, // "0" no error
        0x32, // "2" laser pumping completed
        0x31, // "1" command reception permission OFF
        0x31, // "1" marking trigger ready ON
        0x30, // "0" marking at regular intervals OFF
        0x33, 0x31, // "31"
        0x0D, // CR
    ];
    let body = decode_reply(&config, &ready);
    let reading = status.read(&status.reply().captures(&body).expect("an STS reply"));
    assert_eq!(reading, Ok(StatusReading::default()));
    let error = [
        0x02, 0x53, 0x54, 0x53, 0x41, 0x31, 0x32, 0x31, 0x31, 0x30, // "STSA12110": error
        0x33, 0x32, 0x0D, // "32" CR
    ];
    let body = decode_reply(&config, &error);
    let reading = status.read(&status.reply().captures(&body).expect("an STS reply"));
    assert_eq!(
        reading.map(|r| r.fault),
        Ok(Some(
            "laser marker error (see its error code) (fault 1)".to_owned()
        ))
    );
    // [PAN-GS §3-6-1: counter No., current, start, end, step, count timing, date reset]
    let mut counter = b"\x02CNTA0".to_vec(); // STX "CNT" "A" "0"
    counter.extend_from_slice(b"000042"); // current value
    counter.extend_from_slice(b"000000999999000001"); // start, end, step
    counter.extend_from_slice(b"80"); // timing 8: at each marking trigger; no date reset
    counter.extend_from_slice(b"7D\r"); // check sum, CR
    let body = decode_reply(&config, &counter);
    let count = config.counter().expect("has CNT");
    assert_eq!(
        count.read(&count.reply().captures(&body).expect("a CNT reply")),
        Ok(42)
    );
}

#[test]
fn a_corrupted_check_sum_says_what_and_where() {
    let config = panasonic();
    let mut stream = vec![0x06, 0x30, 0x30, 0x36, 0x36, 0x0D]; // a good ACK at byte 0
    stream.extend_from_slice(&[0x06, 0x30, 0x30, 0x36, 0x37, 0x0D]); // "67" instead of "66"
    let frames = config.framing().reply_decoder().push_slice(&stream);
    assert_eq!(frames.len(), 2);
    assert!(frames[0].is_ok());
    let error = frames[1].clone().expect_err("a bad check sum");
    assert_eq!(
        error.kind(),
        &FrameErrorKind::ChecksumMismatch {
            expected: "66h".to_owned(),
            found: "67h".to_owned()
        }
    );
    assert_eq!(error.offset(), 6);
    assert_eq!(
        error.to_string(),
        "bad frame starting at stream byte 6: checksum is 67h, the frame's bytes give 66h \
         (frame `\\x060067`)"
    );
    let not_hex = config.framing().reply_decoder().push_slice(b"\x0600G6\r");
    assert_eq!(
        not_hex[0].clone().expect_err("not hex").kind(),
        &FrameErrorKind::ChecksumNotHex {
            found: "G6".to_owned()
        }
    );
}

#[test]
fn keyence_commands_and_replies() {
    let config = keyence();
    let load = b"WX,JOB=0001,BLK=000,CharacterString=(01)09506000134352(21)A1B2C3\r";
    assert_eq!(
        command(&config, Command::Load, Some("(01)09506000134352(21)A1B2C3")),
        load
    );
    assert_eq!(
        command(&config, Command::Start, None),
        b"WX,TriggerLock=0\r"
    );
    assert_eq!(command(&config, Command::Stop, None), b"WX,TriggerLock=1\r");
    assert_eq!(
        command(&config, Command::Clear, None),
        b"WX,JOB=0001,BLK=000,CharacterString=\r"
    );
    assert_eq!(command(&config, Command::Status, None), b"RX,Ready\r");
    assert_eq!(
        command(&config, Command::Count, None),
        b"RX,JOB=0001,CTR=0,Counter\r"
    );
    let ack = [0x57, 0x58, 0x2C, 0x4F, 0x4B, 0x0D]; // "WX" "," "OK" CR
    assert!(
        config
            .ack()
            .captures(&decode_reply(&config, &ack))
            .is_some()
    );
    let body = decode_reply(&config, b"WX,NG,022,Out of range\r");
    assert_eq!(
        config
            .nak()
            .captures(&body)
            .and_then(|c| c.text("reason"))
            .as_deref(),
        Some("022,Out of range")
    );
    let status = config.status().expect("has RX,Ready");
    for (wire, fault) in [
        (&b"RX,OK,0\r"[..], None),
        (b"RX,OK,2\r", None),
        (
            b"RX,OK,1\r",
            Some("error occurring (RX,Error gives its code) (state 1)"),
        ),
    ] {
        let body = decode_reply(&config, wire);
        let reading = status
            .read(&status.reply().captures(&body).expect("a Ready reply"))
            .expect("a known state");
        assert_eq!(reading.fault.as_deref(), fault);
    }
    let body = decode_reply(&config, b"RX,OK,0000000123,0000000000\r");
    let counter = config.counter().expect("has Counter");
    assert_eq!(
        counter.read(&counter.reply().captures(&body).expect("a Counter reply")),
        Ok(123)
    );
}

#[test]
fn the_reference_dialect_frames_with_a_trailing_xor() {
    let config = AsciiConfig::default();
    let wire = command(&config, Command::Load, Some("A1"));
    let expected = [
        0x02, // STX
        0x53, 0x45, 0x54, 0x54, 0x45, 0x58, 0x54, 0x20, // "SETTEXT "
        0x53, 0x45, 0x52, 0x49, 0x41, 0x4C, 0x20, // "SERIAL " (`field`)
        0x41, 0x31, // "A1"
        0x03, // ETX
        0x32, 0x43, // "2C": XOR of the body and ETX, after the suffix
    ];
    assert_eq!(wire, expected);
    let ok = config.framing().encode_reply(b"OK");
    assert_eq!(ok, [0x02, 0x4F, 0x4B, 0x03, 0x30, 0x37]); // STX "OK" ETX "07"
    assert_eq!(decode_reply(&config, &ok), b"OK");
}

#[test]
fn description_problems_name_their_key() {
    let base = |framing: &str, commands: &str| {
        format!(
            "{framing}\n[commands]\n{commands}\n[replies]\nack = 'OK'\nnak = 'NG'\n\
             [counter]\nquery = 'CNT'\nreply = 'CNT {{count}}'\n"
        )
    };
    let check = |text: String, expected: &[&str]| {
        let error = AsciiConfig::from_toml(&text).expect_err("invalid");
        assert_eq!(error.0, expected, "{text}");
    };
    // A bad escape.
    check(
        base(
            "[framing]\nprefix = '\\q'",
            "load = 'L {code}'\nclear = 'C'",
        ),
        &[
            "framing.prefix: bad escape `\\q` at character 1 (known: \\xHH, \\r, \\n, \\t, \\0, \\\\)",
        ],
    );
    // An unknown placeholder, and everything else wrong at once.
    check(
        base(
            "[framing]\nsuffix = ''",
            "load = 'L {cod}'\nclear = 'C {field}'\nstart = 'C'",
        ),
        &[
            "framing.suffix: empty: every frame must end with at least one byte",
            "commands.load: unknown placeholder `{cod}`; allowed here: {code}, {field}, {index}, {len}",
            "commands.clear: uses {field} but no `field` is given",
        ],
    );
    check(
        base("", "load = 'L {code}'\nclear = 'C'\nstart = 'C'"),
        &["commands.clear: the same command as commands.start"],
    );
    check(
        base("", "load = 'L {index:3}'\nclear = 'C\\rD'"),
        &[
            "commands.load: has no {code}",
            "commands.clear: contains the suffix `\\r`, which would end the frame early",
        ],
    );
    // An unknown checksum kind is a TOML error with its line and the kinds there are.
    let error = AsciiConfig::from_toml(&base(
        "[framing]\nchecksum = \"crc32\"",
        "load = 'L {code}'\nclear = 'C'",
    ))
    .expect_err("unknown kind")
    .to_string();
    assert!(error.contains("line 2"), "{error}");
    assert!(
        error.contains(
            "unknown variant `crc32`, expected one of `none`, `xor`, `sum8`, \
             `sum8_twos_complement`, `crc16_modbus`, `crc16_ccitt`"
        ),
        "{error}"
    );
    let error = AsciiConfig::from_toml(&base(
        "[framing]\ncheck_sum = \"xor\"",
        "load = 'L {code}'\nclear = 'C'",
    ))
    .expect_err("unknown key")
    .to_string();
    assert!(error.contains("unknown field `check_sum`"), "{error}");
    check(
        base(
            "[framing]\nchecksum = \"crc16_modbus\"\nchecksum_encoding = \"raw\"",
            "load = 'L {code}'\nclear = 'C'",
        ),
        &[
            "framing.checksum_encoding: a raw checksum byte may equal a suffix byte, so it must \
           come after the suffix (checksum_position = \"after_suffix\")",
        ],
    );
    let no_counter = "[commands]\nload = 'L {code}'\nclear = 'C'\n[replies]\nack = 'OK'\n\
                      nak = 'NG {reason}'\n[status]\nquery = 'S'\nreply = 'S {state}'\n";
    assert_eq!(
        AsciiConfig::from_toml(no_counter).expect_err("invalid").0,
        [
            "status.ok_states: status.reply captures {state}: name its healthy values \
             (ok_states) and its fault values (fault_states)",
            "counter: missing: prints are confirmed by the print counter; give a [counter] \
             query or capture {count} in status.reply",
        ]
    );
}

#[test]
fn the_examples_in_the_protocol_document_are_these_fixtures() {
    let doc = include_str!("../../docs/protocols/ascii.md");
    for (name, fixture) in [("Panasonic", PANASONIC), ("Keyence", KEYENCE)] {
        assert!(
            doc.contains(fixture),
            "the {name} example in ascii.md differs"
        );
    }
    assert!(
        doc.contains(DEFAULT_DESCRIPTION),
        "the reference dialect in ascii.md differs"
    );
}
