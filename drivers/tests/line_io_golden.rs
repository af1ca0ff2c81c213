//! Line I/O reject queue vectors: the FC 16 Write Multiple Registers request that queues one
//! reject and its response, as the *Modbus Application Protocol Specification V1.1b3* [MBAP]
//! §6.12 lays them out, in the MBAP frame of the *Modbus Messaging on TCP/IP Implementation
//! Guide V1.0b* [MBTCP] §3.1.3 and the RTU frame of *Modbus over Serial Line V1.02* [MBSL]
//! §2.5.1 with its CRC-16 (§6.2.2). Each is parsed whole, byte by byte (no proper prefix is a
//! whole frame) and corrupted; the client sends exactly these bytes and checks the echo.
//!
//! The vector: reject number 0x0001_0012 (65,554, so slot 65,554 mod 16 = 2), reaching the gate
//! at encoder count 0x1_2345_6789 (sent as its low 32 bits, 0x2345_6789), to unit 7, with the
//! queue at the default holding register 16: slot 2 is registers 24–27.

mod modbus_frames;

use std::time::Duration;

use modbus_frames::{crc16, fc16_request, mbap_pdu, rtu_pdu, scripted_tcp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_modbus::bytes::Bytes;
use tokio_modbus::{Request, Response};
use tracemark_drivers::lineio::{LineIo, LineIoError, LineIoMap};
use tracemark_drivers::transport::{SerialSettings, Transport};

const TIMEOUT: Duration = Duration::from_secs(5);
/// Guard against a hung test; never a synchronisation point.
const GUARD: Duration = Duration::from_secs(20);

const SEQ: u32 = 0x0001_0012;
const FIRE_AT: u64 = 0x1_2345_6789;

/// MBAP frame of the FC 16 request queueing the reject [MBAP §6.12, MBTCP §3.1.3].
const REQUEST_TCP: [u8; 21] = [
    0x00, 0x00, // transaction identifier 0 (the connection's first request)
    0x00, 0x00, // protocol identifier 0 = Modbus
    0x00, 0x0F, // length 15: unit id + 14 PDU bytes
    0x07, // unit identifier 7
    0x10, // function 16 Write Multiple Registers
    0x00, 0x18, // starting address 24 = 16 + 4 × slot 2
    0x00, 0x04, // quantity of registers 4: one whole slot
    0x08, // byte count 8 = 2 × quantity
    0x00, 0x01, // register 24: seq, high word
    0x00, 0x12, // register 25: seq, low word (seq 0x0001_0012)
    0x23, 0x45, // register 26: fire_at, high word
    0x67, 0x89, // register 27: fire_at, low word (the low 32 bits of 0x1_2345_6789)
];

/// MBAP frame of its normal response: the starting address and quantity, echoed [MBAP §6.12].
const RESPONSE_TCP: [u8; 12] = [
    0x00, 0x00, // transaction identifier 0, as asked
    0x00, 0x00, // protocol identifier 0
    0x00, 0x06, // length 6: unit id + 5 PDU bytes
    0x07, // unit identifier 7
    0x10, // function 16
    0x00, 0x18, // starting address 24
    0x00, 0x04, // quantity of registers 4
];

/// The same request as an RTU frame [MBSL §2.5.1: address, PDU, CRC low byte first].
const REQUEST_RTU: [u8; 17] = [
    0x07, // slave address 7
    0x10, // function 16
    0x00, 0x18, // starting address 24
    0x00, 0x04, // quantity 4
    0x08, // byte count 8
    0x00, 0x01, 0x00, 0x12, // seq 0x0001_0012
    0x23, 0x45, 0x67, 0x89, // fire_at 0x2345_6789
    0x49, 0x5C, // CRC 5C49h, low byte first
];

/// Its RTU response.
const RESPONSE_RTU: [u8; 8] = [
    0x07, // slave address 7
    0x10, // function 16
    0x00, 0x18, // starting address 24
    0x00, 0x04, // quantity 4
    0x41, 0xAB, // CRC AB41h, low byte first
];

/// The registers the request writes.
const WORDS: [u16; 4] = [0x0001, 0x0012, 0x2345, 0x6789];

/// An FC 16 response PDU: the starting address and quantity echoed [MBAP §6.12].
fn fc16_response(pdu: &[u8]) -> Option<(u16, u16)> {
    match pdu {
        [0x10, a, b, q1, q2] => {
            Some((u16::from_be_bytes([*a, *b]), u16::from_be_bytes([*q1, *q2])))
        }
        _ => None,
    }
}

#[test]
fn queue_request_over_tcp_parses_whole_and_no_prefix_does() {
    let (unit, pdu) = mbap_pdu(&REQUEST_TCP).expect("MBAP header consistent");
    assert_eq!(unit, 7);
    assert_eq!(fc16_request(pdu), Some((24, WORDS.to_vec())));
    // tokio-modbus, which the client uses, reads the PDU as the same request.
    assert_eq!(
        Request::try_from(Bytes::copy_from_slice(pdu)).expect("a request"),
        Request::WriteMultipleRegisters(24, WORDS.to_vec().into())
    );
    for end in 0..REQUEST_TCP.len() {
        assert!(
            mbap_pdu(&REQUEST_TCP[..end])
                .and_then(|(_, pdu)| fc16_request(pdu))
                .is_none(),
            "prefix of {end} bytes"
        );
    }
}

#[test]
fn queue_request_corrupted_is_refused() {
    // Byte count 7 for quantity 4: §6.12 answers exception 03; tokio-modbus refuses the PDU.
    let mut byte_count = REQUEST_TCP;
    byte_count[12] = 0x07;
    let (_, pdu) = mbap_pdu(&byte_count).expect("header still consistent");
    assert_eq!(fc16_request(pdu), None);
    assert!(Request::try_from(Bytes::copy_from_slice(pdu)).is_err());
    // Quantity 0: outside 1–123.
    let mut quantity = REQUEST_TCP;
    quantity[11] = 0x00;
    assert_eq!(fc16_request(mbap_pdu(&quantity).expect("header").1), None);
    // An MBAP length one short no longer frames the request.
    let mut length = REQUEST_TCP;
    length[5] = 0x0E;
    assert_eq!(mbap_pdu(&length), None);
    // Protocol identifier 1 is not Modbus.
    let mut protocol = REQUEST_TCP;
    protocol[3] = 0x01;
    assert_eq!(mbap_pdu(&protocol), None);
}

#[test]
fn queue_response_over_tcp_parses_whole_and_no_prefix_does() {
    let (unit, pdu) = mbap_pdu(&RESPONSE_TCP).expect("MBAP header consistent");
    assert_eq!(unit, 7);
    assert_eq!(fc16_response(pdu), Some((24, 4)));
    assert_eq!(
        Response::try_from(Bytes::copy_from_slice(pdu)).expect("a response"),
        Response::WriteMultipleRegisters(24, 4)
    );
    for end in 0..RESPONSE_TCP.len() {
        assert!(
            mbap_pdu(&RESPONSE_TCP[..end])
                .and_then(|(_, pdu)| fc16_response(pdu))
                .is_none(),
            "prefix of {end} bytes"
        );
    }
    // The exception response to a bad byte count [MBAP §7]: function 80h + 10h, code 03.
    let exception = [0x90, 0x03];
    assert_eq!(fc16_response(&exception), None);
}

#[test]
fn queue_request_and_response_over_rtu_and_a_corrupted_crc() {
    assert_eq!(crc16(&REQUEST_RTU[..15]).to_le_bytes(), [0x49, 0x5C]);
    let (unit, pdu) = rtu_pdu(&REQUEST_RTU).expect("CRC right");
    assert_eq!(unit, 7);
    assert_eq!(fc16_request(pdu), Some((24, WORDS.to_vec())));
    assert_eq!(pdu, &REQUEST_TCP[7..], "the same PDU as over TCP");
    let (_, pdu) = rtu_pdu(&RESPONSE_RTU).expect("CRC right");
    assert_eq!(fc16_response(pdu), Some((24, 4)));
    for end in 0..REQUEST_RTU.len() {
        assert!(
            rtu_pdu(&REQUEST_RTU[..end])
                .and_then(|(_, pdu)| fc16_request(pdu))
                .is_none(),
            "prefix of {end} bytes"
        );
    }
    let mut corrupted = REQUEST_RTU;
    corrupted[16] ^= 0x01;
    assert_eq!(rtu_pdu(&corrupted), None, "a corrupted CRC is caught");
    let mut damaged = REQUEST_RTU;
    damaged[14] = 0x88; // fire_at 0x2345_6788
    assert_eq!(rtu_pdu(&damaged), None, "a damaged data byte is caught");
    let mut damaged = RESPONSE_RTU;
    damaged[5] = 0x03; // quantity 3
    assert_eq!(rtu_pdu(&damaged), None);
}

async fn connect(transport: &Transport) -> LineIo {
    LineIo::connect(transport, 7, LineIoMap::default(), TIMEOUT)
        .await
        .expect("connects")
}

#[tokio::test]
async fn queue_reject_sends_the_golden_request_and_takes_the_golden_response() {
    let (transport, device) = scripted_tcp(vec![Some(RESPONSE_TCP.to_vec())]).await;
    let mut io = connect(&transport).await;
    io.queue_reject(SEQ, FIRE_AT).await.expect("queued");
    drop(io);
    let frames = device.await.expect("device task");
    assert_eq!(frames, [REQUEST_TCP.to_vec()]);
}

#[tokio::test]
async fn queue_reject_refuses_a_response_that_echoes_another_quantity_or_address() {
    let mut quantity = RESPONSE_TCP;
    quantity[11] = 0x03;
    let mut address = RESPONSE_TCP;
    address[9] = 0x14;
    address[0..2].copy_from_slice(&[0x00, 0x01]); // the second request's transaction
    let (transport, _device) =
        scripted_tcp(vec![Some(quantity.to_vec()), Some(address.to_vec())]).await;
    let mut io = connect(&transport).await;
    let error = io.queue_reject(SEQ, FIRE_AT).await.expect_err("wrong echo");
    assert!(matches!(error, LineIoError::Protocol { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "Modbus protocol error writing holding registers (FC 16): wrote 4 registers from \
         0x0018, the reply says 3 from 0x0018"
    );
    assert!(error.is_link_error());
    let error = io.queue_reject(SEQ, FIRE_AT).await.expect_err("wrong echo");
    assert!(
        error.to_string().ends_with("the reply says 4 from 0x0014"),
        "{error}"
    );
}

#[tokio::test]
async fn queue_reject_exception_03_is_a_per_request_error() {
    let exception = [
        0x00, 0x00, // transaction 0
        0x00, 0x00, // protocol id
        0x00, 0x03, // length 3
        0x07, // unit id 7
        0x90, // FC 16 + 0x80: exception
        0x03, // exception 03 Illegal Data Value
    ];
    let (transport, _device) = scripted_tcp(vec![Some(exception.to_vec())]).await;
    let mut io = connect(&transport).await;
    let error = io.queue_reject(SEQ, FIRE_AT).await.expect_err("refused");
    assert!(!error.is_link_error());
    assert_eq!(
        error.to_string(),
        "illegal data value 0x0018 writing holding registers (FC 16): the device refused the \
         value or quantity"
    );
}

#[tokio::test]
async fn set_gate_timing_sends_two_golden_fc06_writes() {
    // [MBAP §6.6]: each is echoed.
    let half = [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x06, 0x07, // transaction 0, length 6, unit 7
        0x06, // FC 06 Write Single Register
        0x00, 0x01, // HR 1: gate half window
        0x00, 0x7D, // 125 counts
    ];
    let confirm = [
        0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x07, // transaction 1, length 6, unit 7
        0x06, // FC 06
        0x00, 0x02, // HR 2: gate confirm timeout
        0x00, 0x33, // 51 ms: 50.2 ms rounded up
    ];
    let (transport, device) = scripted_tcp(vec![Some(half.to_vec()), Some(confirm.to_vec())]).await;
    let mut io = connect(&transport).await;
    io.set_gate_timing(125, Duration::from_micros(50_200))
        .await
        .expect("timing set");
    drop(io);
    assert_eq!(
        device.await.expect("device task"),
        [half.to_vec(), confirm.to_vec()]
    );
}

#[tokio::test]
async fn config_errors_send_nothing() {
    // Nothing listens: a request would be an i/o error, not a configuration error.
    let (transport, device) = scripted_tcp(vec![]).await;
    let mut io = connect(&transport).await;
    let error = io.queue_reject(0, 100).await.expect_err("seq 0");
    assert!(matches!(error, LineIoError::Config(_)), "{error:?}");
    assert!(error.to_string().contains("seq 0"), "{error}");
    for (half, confirm, message) in [
        (
            65_536,
            Duration::from_millis(5),
            "line I/O configuration: gate half window 65536 counts is over the register's \
             65,535 counts",
        ),
        (
            0,
            Duration::from_millis(5),
            "line I/O configuration: gate half window 0 counts: a reject would never divert; \
             at least 1",
        ),
        (
            10,
            Duration::from_millis(65_536),
            "line I/O configuration: gate confirm timeout 65.536s is over the register's \
             65,535 ms",
        ),
    ] {
        let error = io
            .set_gate_timing(half, confirm)
            .await
            .expect_err("out of range");
        assert_eq!(error.to_string(), message);
        assert!(!error.is_link_error());
    }
    drop(io);
    assert!(device.await.expect("device task").is_empty());
}

#[tokio::test]
async fn queue_reject_over_rtu_sends_the_golden_frame() {
    let (mut device, host) = tokio_serial::SerialStream::pair().expect("pty pair");
    let path = tokio_serial::SerialPort::name(&host).expect("pty path");
    let transport = Transport::Serial(SerialSettings::new(path, 19_200));
    let device_task = tokio::spawn(async move {
        let mut frame = [0u8; REQUEST_RTU.len()];
        device.read_exact(&mut frame).await.expect("request");
        device.write_all(&RESPONSE_RTU).await.expect("reply");
        // Returned, not dropped: closing the master end would hang up the line before the
        // client has read the reply.
        (frame, device)
    });
    let mut io = connect(&transport).await;
    tokio::time::timeout(GUARD, io.queue_reject(SEQ, FIRE_AT))
        .await
        .expect("in time")
        .expect("queued over RTU");
    drop(host);
    let (frame, _device) = device_task.await.expect("device task");
    assert_eq!(frame, REQUEST_RTU);
}
