//! Modbus frame readers shared by the golden tests (`line_io_golden.rs`,
//! `modbus_marker_golden.rs`). They are written from the specifications, apart from the
//! simulator's and tokio-modbus's code, so the vectors are checked independently.
#![allow(dead_code, unreachable_pub)]

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// CRC-16/MODBUS [MBSL §6.2.2]: polynomial A001h (8005h reflected), start FFFFh.
pub fn crc16(bytes: &[u8]) -> u16 {
    let mut crc = 0xFFFFu16;
    for &byte in bytes {
        crc ^= u16::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// An MBAP frame's unit id and PDU when the header is consistent [MBTCP §3.1.3].
pub fn mbap_pdu(frame: &[u8]) -> Option<(u8, &[u8])> {
    let length = usize::from(u16::from_be_bytes([*frame.get(4)?, *frame.get(5)?]));
    let protocol = u16::from_be_bytes([frame[2], frame[3]]);
    (protocol == 0 && length >= 2 && frame.len() == 6 + length).then(|| (frame[6], &frame[7..]))
}

/// An RTU frame's unit id and PDU when its CRC (low byte first) is right.
pub fn rtu_pdu(frame: &[u8]) -> Option<(u8, &[u8])> {
    let (body, crc) = frame.split_at(frame.len().checked_sub(2)?);
    if body.len() < 2 || crc16(body).to_le_bytes() != crc {
        return None;
    }
    Some((body[0], &body[1..]))
}

/// An FC 16 request PDU, checked as §6.12 asks: address, and the registers when the quantity is
/// 1–123, the byte count twice the quantity and the data that long.
pub fn fc16_request(pdu: &[u8]) -> Option<(u16, Vec<u16>)> {
    let (&function, rest) = pdu.split_first()?;
    let address = u16::from_be_bytes([*rest.first()?, *rest.get(1)?]);
    let quantity = u16::from_be_bytes([*rest.get(2)?, *rest.get(3)?]);
    let byte_count = *rest.get(4)?;
    let data = rest.get(5..)?;
    let valid = function == 0x10
        && (1..=123).contains(&quantity)
        && usize::from(byte_count) == 2 * usize::from(quantity)
        && data.len() == usize::from(byte_count);
    valid.then(|| {
        let words = data
            .chunks_exact(2)
            .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
            .collect();
        (address, words)
    })
}

/// A Modbus TCP device that answers one connection from a script: for each request it reads one
/// MBAP frame and sends the scripted reply (`None`: stays silent). Returns the frames it read.
pub async fn scripted_tcp(
    replies: Vec<Option<Vec<u8>>>,
) -> (
    tracemark_drivers::transport::Transport,
    tokio::task::JoinHandle<Vec<Vec<u8>>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let addr = listener.local_addr().expect("bound address");
    let device = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("client connects");
        let mut frames = Vec::new();
        for reply in replies {
            // MBAP header: transaction (2), protocol (2), length (2) counting the unit id on.
            let mut frame = vec![0; 6];
            if stream.read_exact(&mut frame).await.is_err() {
                break;
            }
            let length = usize::from(u16::from_be_bytes([frame[4], frame[5]]));
            frame.resize(6 + length, 0);
            stream
                .read_exact(&mut frame[6..])
                .await
                .expect("whole frame");
            frames.push(frame);
            match reply {
                Some(reply) => stream.write_all(&reply).await.expect("reply sent"),
                None => {
                    // Silent: hold the connection until the client gives up.
                    let mut rest = Vec::new();
                    let _ = stream.read_to_end(&mut rest).await;
                    break;
                }
            }
        }
        frames
    });
    (
        tracemark_drivers::transport::Transport::Tcp(addr.to_string()),
        device,
    )
}
