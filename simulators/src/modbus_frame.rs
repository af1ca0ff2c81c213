//! Modbus framing for the simulated marker and PLC over any byte stream: the MBAP header (Modbus
//! Messaging on TCP/IP Implementation Guide V1.0b §3.1.3) and RTU frames with CRC-16 (Modbus
//! over Serial Line V1.02 §2.5.1, §6.2.2). Request PDUs are decoded by tokio-modbus; response
//! PDUs are encoded here (Modbus Application Protocol V1.1b3 §6, §7), because tokio-modbus's
//! server framing is tied to a `TcpListener` or a `SerialStream` and cannot be made to corrupt
//! a reply on purpose. Pure, no I/O.

use tokio_modbus::bytes::Bytes;
use tokio_modbus::{ExceptionCode, Request, Response};

/// MBAP header length: transaction id (2), protocol id (2), length (2), unit id (1).
const MBAP_HEADER: usize = 7;
/// Longest PDU (§4.1): 253 bytes.
const MAX_PDU: usize = 253;

/// A request frame taken from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestFrame {
    /// MBAP transaction id, echoed in the reply (0 on RTU).
    pub(crate) transaction: u16,
    pub(crate) unit: u8,
    pub(crate) pdu: Vec<u8>,
}

impl RequestFrame {
    /// The function code, for an exception reply to a PDU that does not decode.
    pub(crate) fn function(&self) -> u8 {
        self.pdu.first().copied().unwrap_or_default()
    }

    /// The request, decoded by tokio-modbus.
    pub(crate) fn request(&self) -> Option<Request<'static>> {
        Request::try_from(Bytes::copy_from_slice(&self.pdu)).ok()
    }
}

/// A header that cannot be Modbus TCP: the connection is closed (MBTCP §4.4.1.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad MBAP header: protocol id {protocol:#06x}, length {length}")]
pub(crate) struct BadHeader {
    protocol: u16,
    length: u16,
}

/// Takes one MBAP frame off the front of `buffer`, when it holds a whole one.
pub(crate) fn take_mbap(buffer: &mut Vec<u8>) -> Result<Option<RequestFrame>, BadHeader> {
    if buffer.len() < MBAP_HEADER {
        return Ok(None);
    }
    let protocol = u16::from_be_bytes([buffer[2], buffer[3]]);
    let length = u16::from_be_bytes([buffer[4], buffer[5]]);
    // The length counts the unit id and the PDU (MBTCP §3.1.3).
    if protocol != 0 || length < 2 || usize::from(length) > MAX_PDU + 1 {
        return Err(BadHeader { protocol, length });
    }
    let total = MBAP_HEADER - 1 + usize::from(length);
    if buffer.len() < total {
        return Ok(None);
    }
    let frame: Vec<u8> = buffer.drain(..total).collect();
    Ok(Some(RequestFrame {
        transaction: u16::from_be_bytes([frame[0], frame[1]]),
        unit: frame[6],
        pdu: frame[MBAP_HEADER..].to_vec(),
    }))
}

/// An MBAP reply: the request's transaction id, protocol 0, the length, the unit id, the PDU.
pub(crate) fn encode_mbap(transaction: u16, unit: u8, pdu: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(MBAP_HEADER + pdu.len());
    out.extend_from_slice(&transaction.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&(pdu.len() as u16 + 1).to_be_bytes());
    out.push(unit);
    out.extend_from_slice(pdu);
    out
}

/// CRC-16/MODBUS (MBSL §6.2.2): polynomial A001h (reflected 8005h), start FFFFh; sent low byte
/// first.
pub(crate) fn crc16(bytes: &[u8]) -> u16 {
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

/// An RTU frame: address, PDU, CRC low byte first.
pub(crate) fn encode_rtu(unit: u8, pdu: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(pdu.len() + 3);
    out.push(unit);
    out.extend_from_slice(pdu);
    out.extend_from_slice(&crc16(&out).to_le_bytes());
    out
}

/// Takes one RTU request off the front of `buffer`. RTU delimits frames by silence (MBSL
/// §2.5.1.1), which a byte stream does not carry; the request length follows from the function
/// code instead. A byte that cannot start a frame, or a frame whose CRC fails, is dropped and
/// the search goes on from the next byte (a frame with a bad CRC gets no reply, MBSL §2.4.1).
pub(crate) fn take_rtu(buffer: &mut Vec<u8>) -> Option<RequestFrame> {
    loop {
        let len = match buffer.get(1)? {
            // Reads and single writes: address (2) + quantity or value (2).
            0x01..=0x06 => 8,
            // Multiple writes: address (2), quantity (2), byte count (1), the bytes.
            0x0F | 0x10 => 9 + usize::from(*buffer.get(6)?),
            _ => {
                buffer.remove(0);
                continue;
            }
        };
        if buffer.len() < len {
            return None;
        }
        let crc = u16::from_le_bytes([buffer[len - 2], buffer[len - 1]]);
        if crc16(&buffer[..len - 2]) != crc {
            buffer.remove(0);
            continue;
        }
        let frame: Vec<u8> = buffer.drain(..len).collect();
        return Some(RequestFrame {
            transaction: 0,
            unit: frame[0],
            pdu: frame[1..len - 2].to_vec(),
        });
    }
}

/// The response PDU (Modbus Application Protocol V1.1b3 §6) or the exception PDU (§7: function
/// code + 80h, exception code).
pub(crate) fn encode_response(function: u8, result: &Result<Response, ExceptionCode>) -> Vec<u8> {
    let mut out = Vec::new();
    let word = |out: &mut Vec<u8>, value: u16| out.extend_from_slice(&value.to_be_bytes());
    match result {
        Err(exception) => {
            out.push(function | 0x80);
            out.push(u8::from(*exception));
        }
        Ok(Response::ReadCoils(bits) | Response::ReadDiscreteInputs(bits)) => {
            out.push(function);
            // §6.1: packed LSB first, the last byte padded with zeros.
            let bytes: Vec<u8> = bits
                .chunks(8)
                .map(|chunk| {
                    chunk
                        .iter()
                        .enumerate()
                        .fold(0u8, |byte, (i, on)| byte | (u8::from(*on) << i))
                })
                .collect();
            out.push(bytes.len() as u8);
            out.extend_from_slice(&bytes);
        }
        Ok(Response::ReadHoldingRegisters(words) | Response::ReadInputRegisters(words)) => {
            out.push(function);
            out.push((words.len() * 2) as u8);
            for value in words {
                word(&mut out, *value);
            }
        }
        Ok(Response::WriteSingleCoil(address, on)) => {
            out.push(function);
            word(&mut out, *address);
            // §6.5: ON is FF00h, OFF 0000h.
            word(&mut out, if *on { 0xFF00 } else { 0x0000 });
        }
        Ok(
            Response::WriteSingleRegister(address, value)
            | Response::WriteMultipleRegisters(address, value)
            | Response::WriteMultipleCoils(address, value),
        ) => {
            out.push(function);
            word(&mut out, *address);
            word(&mut out, *value);
        }
        // The simulated marker answers nothing else.
        Ok(_) => {
            out.push(function | 0x80);
            out.push(u8::from(ExceptionCode::IllegalFunction));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbap_read_input_registers_request_and_reply() {
        // MBAP §6.4 example, behind an MBAP header: transaction 1, unit 1, read IR 0, 4 registers.
        let mut wire = vec![
            0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x01, 0x04, 0x00, 0x00, 0x00, 0x04,
        ];
        let frame = take_mbap(&mut wire).unwrap().unwrap();
        assert!(wire.is_empty());
        assert_eq!((frame.transaction, frame.unit), (1, 1));
        assert_eq!(frame.request(), Some(Request::ReadInputRegisters(0, 4)));
        let pdu = encode_response(0x04, &Ok(Response::ReadInputRegisters(vec![4, 0, 7, 2])));
        assert_eq!(
            encode_mbap(1, 1, &pdu),
            [
                0x00, 0x01, 0x00, 0x00, 0x00, 0x0B, 0x01, 0x04, 0x08, 0x00, 0x04, 0x00, 0x00, 0x00,
                0x07, 0x00, 0x02
            ]
        );
    }

    #[test]
    fn partial_and_bad_mbap_headers() {
        let mut wire = vec![0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x01, 0x04];
        assert_eq!(take_mbap(&mut wire), Ok(None));
        let mut bad = vec![0x00, 0x01, 0x12, 0x34, 0x00, 0x06, 0x01];
        assert!(take_mbap(&mut bad).is_err());
    }

    #[test]
    fn rtu_frames_are_found_by_function_code_and_crc() {
        // MBSL §6.2.2 / MBAP §6.6 example: write register 1 = 3 on slave 17.
        let good = encode_rtu(0x11, &[0x06, 0x00, 0x01, 0x00, 0x03]);
        assert_eq!(good, [0x11, 0x06, 0x00, 0x01, 0x00, 0x03, 0x9A, 0x9B]);
        let mut wire = vec![0xFF];
        wire.extend_from_slice(&good[..5]);
        assert_eq!(take_rtu(&mut wire), None);
        wire.extend_from_slice(&good[5..]);
        let frame = take_rtu(&mut wire).unwrap();
        assert_eq!(frame.request(), Some(Request::WriteSingleRegister(1, 3)));
        let mut corrupt = good.clone();
        corrupt[7] ^= 0xFF;
        assert_eq!(take_rtu(&mut corrupt), None);
    }

    #[test]
    fn exceptions_set_the_high_bit_of_the_function_code() {
        assert_eq!(
            encode_response(0x10, &Err(ExceptionCode::ServerDeviceBusy)),
            [0x90, 0x06]
        );
        assert_eq!(
            encode_response(0x05, &Ok(Response::WriteSingleCoil(2, true))),
            [0x05, 0x00, 0x02, 0xFF, 0x00]
        );
    }
}
