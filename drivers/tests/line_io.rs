//! The line I/O client against scripted devices: golden Modbus TCP (MBAP) and RTU frames, byte
//! for byte, and the errors a wrong unit id, a refused address or a missing device give.
//! The client against the PLC simulator: `simulators/tests/plc_line_io.rs`.

mod modbus_frames;

use std::time::Duration;

use modbus_frames::scripted_tcp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tracemark_drivers::lineio::{
    LineIo, LineIoError, LineIoMap, RejectOutcome, RejectStatus, StackLight,
};
use tracemark_drivers::transport::{SerialSettings, Transport};

/// Guard against a hung test; never a synchronisation point.
const GUARD: Duration = Duration::from_secs(20);
/// Reply timeout when a reply is expected.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The input block of the tracemark map: encoder, detections count, ring (u32, high word first),
/// then the 16 reject outcomes (`seq` u32 high word first, `status` u16); `rejects` are
/// (slot, seq, status).
fn input_block(
    encoder: u32,
    detections: u32,
    ring: &[(usize, u32)],
    rejects: &[(usize, u32, u16)],
) -> Vec<u8> {
    let mut values = [0u32; 18];
    values[0] = encoder;
    values[1] = detections;
    for &(slot, value) in ring {
        values[2 + slot] = value;
    }
    let mut outcomes = [(0u32, 0u16); 16];
    for &(slot, seq, status) in rejects {
        outcomes[slot] = (seq, status);
    }
    let mut block: Vec<u8> = values
        .iter()
        .flat_map(|value| value.to_be_bytes())
        .collect();
    for (seq, status) in outcomes {
        block.extend(seq.to_be_bytes());
        block.extend(status.to_be_bytes());
    }
    // The case packer's count, IR 84–85: 2 cases.
    block.extend(2u32.to_be_bytes());
    block
}

/// An FC 04 reply with the 86-register input block.
fn fc04_reply(transaction: u16, unit: u8, block: &[u8]) -> Vec<u8> {
    assert_eq!(block.len(), 172);
    let mut reply = transaction.to_be_bytes().to_vec();
    reply.extend([0x00, 0x00]); // protocol id: Modbus
    reply.extend([0x00, 0xAF]); // length: unit + FC + byte count + 172 = 175
    reply.extend([unit, 0x04, 0xAC]); // unit id, FC 04, 172 bytes follow
    reply.extend(block);
    reply
}

async fn connect(transport: &Transport, unit: u8, timeout: Duration) -> LineIo {
    LineIo::connect(transport, unit, LineIoMap::default(), timeout)
        .await
        .expect("connects")
}

#[tokio::test]
async fn poll_sends_golden_fc04_and_fc02_frames_and_decodes_the_replies() {
    let (transport, device) = scripted_tcp(vec![
        // Poll 1 (the baseline): 3 detections so far.
        Some(fc04_reply(0, 7, &input_block(1_000, 3, &[(2, 900)], &[]))),
        Some(vec![
            0x00, 0x01, // transaction 1
            0x00, 0x00, // protocol id
            0x00, 0x04, // length 4
            0x07, // unit id 7
            0x02, // FC 02 Read Discrete Inputs
            0x01, // 1 byte follows
            0b10, // DI 0 gate confirm off, DI 1 line running on
        ]),
        // Poll 2: detections 3 and 4 latched at 1,100 and 1,350; reject 3 diverted, reject 20
        // (slot 4) late.
        Some(fc04_reply(
            2,
            7,
            &input_block(
                1_400,
                5,
                &[(3, 1_100), (4, 1_350)],
                &[(3, 3, 1), (4, 20, 3)],
            ),
        )),
        Some(vec![
            0x00, 0x03, 0x00, 0x00, 0x00, 0x04, 0x07, 0x02, 0x01, 0b01,
        ]),
    ])
    .await;
    let mut io = connect(&transport, 7, TIMEOUT).await;
    let first = io.poll().await.expect("first poll");
    assert_eq!(first.encoder, 1_000);
    assert!(
        first.detections.is_empty(),
        "the first poll is the baseline"
    );
    assert_eq!(first.photocell_count, 3, "the PLC's count, as read");
    assert_eq!(first.gate_confirmed, Some(false));
    assert_eq!(first.line_running, Some(true));
    assert_eq!(first.cases_packed, 2, "IR 84–85, as read");
    let empty = RejectOutcome {
        seq: 0,
        status: RejectStatus::Pending,
    };
    assert_eq!(first.rejects, vec![empty; 16]);
    let second = io.poll().await.expect("second poll");
    assert_eq!(second.encoder, 1_400);
    assert_eq!(second.detections, vec![1_100, 1_350]);
    assert_eq!(second.missed, 0);
    assert_eq!(second.photocell_count, 5);
    assert_eq!(second.gate_confirmed, Some(true));
    assert_eq!(second.line_running, Some(false));
    assert_eq!(second.rejects.len(), 16);
    assert_eq!(
        second.rejects[3],
        RejectOutcome {
            seq: 3,
            status: RejectStatus::Diverted
        }
    );
    assert_eq!(
        second.rejects[4],
        RejectOutcome {
            seq: 20,
            status: RejectStatus::Late
        }
    );
    assert_eq!(second.rejects[5], empty);
    drop(io);

    let frames = device.await.expect("device task");
    assert_eq!(
        frames[0],
        [
            0x00, 0x00, // transaction 0
            0x00, 0x00, // protocol id
            0x00, 0x06, // length 6
            0x07, // unit id 7
            0x04, // FC 04 Read Input Registers (V1.1b3 §6.4)
            0x00, 0x00, // starting address 0
            0x00, 0x56, // quantity 86
        ]
    );
    assert_eq!(
        frames[1],
        [
            0x00, 0x01, // transaction 1
            0x00, 0x00, // protocol id
            0x00, 0x06, // length 6
            0x07, // unit id 7
            0x02, // FC 02 Read Discrete Inputs (V1.1b3 §6.2)
            0x00, 0x00, // starting address 0
            0x00, 0x02, // quantity 2
        ]
    );
    assert_eq!(frames.len(), 4);
}

/// The line runtime's poll: the input block alone, one FC 04 request a poll.
#[tokio::test]
async fn poll_inputs_sends_one_fc04_frame_a_poll() {
    let (transport, device) = scripted_tcp(vec![
        Some(fc04_reply(0, 7, &input_block(1_000, 3, &[(2, 900)], &[]))),
        Some(fc04_reply(1, 7, &input_block(1_400, 4, &[(3, 1_100)], &[]))),
    ])
    .await;
    let mut io = connect(&transport, 7, TIMEOUT).await;
    let first = io.poll_inputs().await.expect("first poll");
    assert_eq!((first.encoder, first.gate_confirmed), (1_000, None));
    let second = io.poll_inputs().await.expect("second poll");
    assert_eq!(second.encoder, 1_400);
    assert_eq!(second.detections, vec![1_100]);
    assert_eq!(second.line_running, None, "not read");
    drop(io);
    let frames = device.await.expect("device task");
    assert_eq!(frames.len(), 2, "one request a poll");
    assert!(
        frames.iter().all(|f| f[7] == 0x04),
        "FC 04 only: {frames:?}"
    );
}

#[tokio::test]
async fn outputs_send_golden_fc05_and_fc06_frames() {
    // Each write is answered by its echo (V1.1b3 §6.5, §6.6).
    let echo = |transaction: u16, pdu: &[u8]| {
        let mut frame = transaction.to_be_bytes().to_vec();
        frame.extend([0x00, 0x00, 0x00, 0x06, 0x07]);
        frame.extend(pdu);
        frame
    };
    let gate_on = [0x05, 0x00, 0x00, 0xFF, 0x00]; // FC 05, coil 0, ON = FF00
    let watchdog = [0x06, 0x00, 0x00, 0x01, 0xF4]; // FC 06, HR 0, 500 ms
    let stop = [0x05, 0x00, 0x01, 0xFF, 0x00]; // FC 05, coil 1, ON
    let red_off = [0x05, 0x00, 0x02, 0x00, 0x00]; // FC 05, coil 2, OFF = 0000
    let amber_off = [0x05, 0x00, 0x03, 0x00, 0x00];
    let green_on = [0x05, 0x00, 0x04, 0xFF, 0x00];
    let script: Vec<&[u8]> = vec![&gate_on, &watchdog, &stop, &red_off, &amber_off, &green_on];
    let (transport, device) = scripted_tcp(
        script
            .iter()
            .enumerate()
            .map(|(i, pdu)| Some(echo(i as u16, pdu)))
            .collect(),
    )
    .await;
    let mut io = connect(&transport, 7, TIMEOUT).await;
    io.set_gate(true).await.expect("gate");
    io.set_watchdog(Duration::from_millis(500))
        .await
        .expect("watchdog");
    io.request_line_stop(true).await.expect("line stop");
    io.set_stack_light(StackLight::Green)
        .await
        .expect("stack light");
    drop(io);
    let frames = device.await.expect("device task");
    let sent: Vec<Vec<u8>> = script
        .iter()
        .enumerate()
        .map(|(i, pdu)| echo(i as u16, pdu))
        .collect();
    assert_eq!(frames, sent);
}

#[tokio::test]
async fn exception_reply_names_function_address_and_remedy() {
    let (transport, _device) = scripted_tcp(vec![Some(vec![
        0x00, 0x00, // transaction 0
        0x00, 0x00, // protocol id
        0x00, 0x03, // length 3
        0x07, // unit id 7
        0x84, // FC 04 + 0x80: exception
        0x02, // exception 02 Illegal Data Address
    ])])
    .await;
    let mut io = connect(&transport, 7, TIMEOUT).await;
    let error = io.poll().await.expect_err("refused");
    assert!(matches!(error, LineIoError::Exception { .. }), "{error:?}");
    assert!(!error.is_link_error());
    assert_eq!(
        error.to_string(),
        "illegal data address 0x0000 reading input registers (FC 04): check the PLC's register map"
    );
}

#[tokio::test]
async fn silent_device_is_a_timeout_that_points_at_the_unit_id() {
    let (transport, _device) = scripted_tcp(vec![None]).await;
    // The timeout is what this test measures; it is short so the test is quick.
    let mut io = connect(&transport, 9, Duration::from_millis(200)).await;
    let error = tokio::time::timeout(GUARD, io.set_gate(true))
        .await
        .expect("gave up within the guard")
        .expect_err("no answer");
    assert!(
        matches!(error, LineIoError::Timeout { unit_id: 9, .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("unit 9"), "{message}");
    assert!(message.contains("check the unit id"), "{message}");
}

#[tokio::test]
async fn short_reply_is_a_protocol_error() {
    let (transport, _device) = scripted_tcp(vec![Some(vec![
        0x00, 0x00, 0x00, 0x00, // transaction 0, protocol id
        0x00, 0x07, // length 7
        0x07, 0x04, 0x04, // unit 7, FC 04, 4 bytes: 2 registers of the 86 asked
        0x00, 0x00, 0x00, 0x01,
    ])])
    .await;
    let mut io = connect(&transport, 7, TIMEOUT).await;
    let error = io.poll().await.expect_err("short");
    assert!(matches!(error, LineIoError::Protocol { .. }), "{error:?}");
    assert!(error.to_string().contains("got 2"), "{error}");
}

#[tokio::test]
async fn nothing_listening_is_a_connect_error_with_the_address() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
    let addr = listener.local_addr().expect("bound address").to_string();
    drop(listener);
    let error = LineIo::connect(
        &Transport::Tcp(addr.clone()),
        1,
        LineIoMap::default(),
        TIMEOUT,
    )
    .await
    .expect_err("nothing listens");
    assert!(matches!(error, LineIoError::Connect { .. }), "{error:?}");
    assert!(error.to_string().contains(&addr), "{error}");
}

#[tokio::test]
async fn a_bad_map_is_refused_before_connecting() {
    let map = LineIoMap {
        gate_coil: 4,
        ..LineIoMap::default()
    };
    let error = LineIo::connect(&Transport::Tcp("127.0.0.1:1".into()), 1, map, TIMEOUT)
        .await
        .expect_err("bad map");
    assert_eq!(
        error.to_string(),
        "line I/O configuration: stack_light_green_coil: coil 4 is also gate_coil"
    );
}

/// Modbus RTU CRC-16 (Modbus over serial line V1.02 §6.2.2): polynomial 0xA001 reflected,
/// initial 0xFFFF, low byte sent first.
fn crc16(bytes: &[u8]) -> [u8; 2] {
    let mut crc: u16 = 0xFFFF;
    for &byte in bytes {
        crc ^= u16::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
        }
    }
    crc.to_le_bytes()
}

#[tokio::test]
async fn serial_transport_speaks_rtu_with_crc() {
    // The well-known frame "unit 1, FC 05, coil 0, ON" and its CRC.
    let request = [0x01, 0x05, 0x00, 0x00, 0xFF, 0x00, 0x8C, 0x3A];
    assert_eq!(crc16(&request[..6]), [0x8C, 0x3A]);
    let (mut device, host) = tokio_serial::SerialStream::pair().expect("pty pair");
    let path = tokio_serial::SerialPort::name(&host).expect("pty path");
    let transport = Transport::Serial(SerialSettings::new(path, 19_200));
    let device_task = tokio::spawn(async move {
        let mut frame = [0u8; 8];
        device.read_exact(&mut frame).await.expect("request");
        // The normal response is an echo of the request.
        device.write_all(&frame).await.expect("reply");
        // Returned, not dropped: closing the master end would hang up the line before the
        // client has read the reply.
        (frame, device)
    });
    let mut io = connect(&transport, 1, TIMEOUT).await;
    tokio::time::timeout(GUARD, io.set_gate(true))
        .await
        .expect("in time")
        .expect("gate on over RTU");
    drop(host);
    let (frame, _device) = device_task.await.expect("device task");
    assert_eq!(frame, request);
}

/// The pure decoding path: a baseline poll, then detections latched across the encoder's wrap and
/// the reject outcomes, then a block of the wrong length.
#[test]
fn decode_input_blocks_reports_detections_after_the_baseline() {
    use tracemark_drivers::lineio::{DecodedPoll, decode_input_blocks};
    // Encoder 0xFFFF_FFF0, 5 detections so far (slots 0–4), ring values irrelevant.
    let mut first = vec![0u16; 86];
    first[0..4].copy_from_slice(&[0xFFFF, 0xFFF0, 0x0000, 0x0005]);
    // Encoder wrapped to 0x20; 7 detections: slots 5 and 6 latched 0xFFFF_FFF8 and 0x10.
    let mut second = vec![0u16; 86];
    second[0..4].copy_from_slice(&[0x0000, 0x0020, 0x0000, 0x0007]);
    second[4 + 2 * 5..4 + 2 * 5 + 2].copy_from_slice(&[0xFFFF, 0xFFF8]);
    second[4 + 2 * 6..4 + 2 * 6 + 2].copy_from_slice(&[0x0000, 0x0010]);
    // Reject 0x0001_0002 (slot 2) at 36 + 3·2: a gate fault.
    second[42..45].copy_from_slice(&[0x0001, 0x0002, 0x0002]);
    // The case packer closed its 3rd case: IR 84–85.
    second[84..86].copy_from_slice(&[0x0000, 0x0003]);
    let short = [0u16; 85];
    let polls = decode_input_blocks([first.as_slice(), second.as_slice(), &short[..]]);
    let empty = RejectOutcome {
        seq: 0,
        status: RejectStatus::Pending,
    };
    assert_eq!(
        polls[0],
        Some(DecodedPoll {
            encoder: 0xFFFF_FFF0,
            detections: vec![],
            missed: 0,
            rejects: vec![empty; 16],
            cases_packed: 0,
        }),
        "the baseline"
    );
    let mut rejects = vec![empty; 16];
    rejects[2] = RejectOutcome {
        seq: 0x0001_0002,
        status: RejectStatus::Fault,
    };
    assert_eq!(
        polls[1],
        Some(DecodedPoll {
            encoder: 0x1_0000_0020,
            detections: vec![0xFFFF_FFF8, 0x1_0000_0010],
            missed: 0,
            rejects,
            cases_packed: 3,
        })
    );
    assert_eq!(polls[2], None);
}
