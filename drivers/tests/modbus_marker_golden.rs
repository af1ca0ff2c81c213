//! Modbus register marker vectors. Frame layouts are those of the *Modbus Application Protocol
//! Specification V1.1b3* [MBAP] (§6.3 FC 03, §6.4 FC 04, §6.5 FC 05, §6.6 FC 06, §6.12 FC 16,
//! §7 exceptions), the MBAP header of the *Modbus Messaging on TCP/IP Implementation Guide
//! V1.0b* [MBTCP] §3.1.3, and RTU framing with CRC-16 from *Modbus over Serial Line V1.02*
//! [MBSL] §2.5.1, §6.2.2; spec examples are used where the spec gives one. tokio-modbus does the
//! framing in the driver; these vectors check the register *content* end to end: a golden
//! request's payload decodes back into the code text, golden reply words parse into status, and
//! tokio-modbus reads the same PDUs as the spec writes them.

mod modbus_frames;

use modbus_frames::{fc16_request, mbap_pdu, rtu_pdu};
use tokio_modbus::bytes::Bytes;
use tokio_modbus::{Request, Response};
use tracemark_drivers::modbus_marker::ModbusMarkerMap;
use tracemark_drivers::modbus_marker::codec::{
    CounterTracker, Exception, Readings, StatusFlags, decode_code, encode_code,
};
use tracemark_drivers::modbus_marker::map::{
    CounterMap, LoadSignal, Order, RegisterTable, StatusMap,
};

/// The words of an FC 03 / FC 04 response PDU: function, byte count, then the registers high
/// byte first [MBAP §6.3, §6.4]. `None` until the PDU is whole.
fn read_response_words(pdu: &[u8]) -> Option<Vec<u16>> {
    let (&count, data) = pdu.get(1..)?.split_first()?;
    (data.len() == usize::from(count) && count % 2 == 0).then(|| {
        data.chunks_exact(2)
            .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
            .collect()
    })
}

/// A four-character code field at holding register 16 (10h).
fn small_map() -> ModbusMarkerMap {
    ModbusMarkerMap {
        code_registers: 2,
        ..ModbusMarkerMap::default()
    }
}

#[test]
fn write_multiple_registers_request_carries_the_code_over_tcp() {
    // MBAP frame of an FC 16 request writing "AB12" into the code field [MBAP §6.12, MBTCP §3.1.3].
    let wire = [
        0x00, 0x01, // transaction identifier 1
        0x00, 0x00, // protocol identifier 0 = Modbus
        0x00, 0x0B, // length: unit id + 10 PDU bytes
        0x01, // unit identifier 1
        0x10, // function 16 Write Multiple Registers
        0x00, 0x10, // starting address 16: the code field
        0x00, 0x02, // quantity of registers 2
        0x04, // byte count 4
        0x41, 0x42, // register 16: 'A' (high byte), 'B' (low byte)
        0x31, 0x32, // register 17: '1', '2'
    ];
    let map = small_map();
    let (unit, pdu) = mbap_pdu(&wire).expect("MBAP header consistent");
    assert_eq!(unit, 1);
    let (address, words) = fc16_request(pdu).expect("FC 16 request");
    assert_eq!(address, map.code_register);
    assert_eq!(
        words,
        encode_code(&map, "AB12").unwrap(),
        "our encoder gives these words"
    );
    assert_eq!(decode_code(&map, &words).unwrap(), "AB12");
    // tokio-modbus reads the PDU as the request the driver sends.
    assert_eq!(
        Request::try_from(Bytes::copy_from_slice(pdu)).unwrap(),
        Request::WriteMultipleRegisters(16, words.clone().into())
    );
    // Byte by byte: no proper prefix is a whole request.
    for end in 0..wire.len() {
        assert!(
            mbap_pdu(&wire[..end])
                .and_then(|(_, p)| fc16_request(p))
                .is_none(),
            "prefix of {end} bytes"
        );
    }
}

#[test]
fn write_multiple_registers_spec_example() {
    // [MBAP §6.12 example]: write registers 2 and 3 (address 1) with 000Ah and 0102h.
    let request = [
        0x10, // function 16
        0x00, 0x01, // starting address 1
        0x00, 0x02, // quantity 2
        0x04, // byte count 4
        0x00, 0x0A, // register value 000Ah
        0x01, 0x02, // register value 0102h
    ];
    let response = [
        0x10, // function 16
        0x00, 0x01, // starting address 1
        0x00, 0x02, // quantity 2
    ];
    assert_eq!(fc16_request(&request), Some((1, vec![0x000A, 0x0102])));
    assert_eq!(
        Response::try_from(Bytes::copy_from_slice(&response)).unwrap(),
        Response::WriteMultipleRegisters(1, 2)
    );
    // As code text in a byte-swapped field: 000Ah → LF NUL would not be text; 0102h neither:
    // the decoder replaces nothing printable, it stops at the first NUL.
    let map = ModbusMarkerMap {
        code_registers: 2,
        byte_order: Order::LowFirst,
        ..ModbusMarkerMap::default()
    };
    assert_eq!(decode_code(&map, &[0x000A, 0x0102]).unwrap(), "\n");
}

#[test]
fn write_multiple_registers_request_over_rtu_and_a_corrupted_crc() {
    // RTU frame of the same FC 16 request [MBSL §2.5.1: address, PDU, CRC low byte first].
    let wire = [
        0x01, // slave address 1
        0x10, // function 16
        0x00, 0x10, // starting address 16
        0x00, 0x02, // quantity 2
        0x04, // byte count 4
        0x41, 0x42, // 'A', 'B'
        0x31, 0x32, // '1', '2'
        0xD2, 0xCE, // CRC CED2h, low byte first
    ];
    let (_, pdu) = rtu_pdu(&wire).expect("CRC right");
    let (_, words) = fc16_request(pdu).expect("FC 16 request");
    assert_eq!(decode_code(&small_map(), &words).unwrap(), "AB12");
    for end in 0..wire.len() {
        assert!(
            rtu_pdu(&wire[..end])
                .and_then(|(_, p)| fc16_request(p))
                .is_none(),
            "prefix of {end} bytes"
        );
    }
    let mut corrupted = wire;
    corrupted[12] ^= 0x01;
    assert_eq!(rtu_pdu(&corrupted), None, "a corrupted CRC is caught");
    let mut damaged = wire;
    damaged[8] = b'C';
    assert_eq!(rtu_pdu(&damaged), None, "a damaged data byte is caught");
}

#[test]
fn read_input_registers_reply_parses_into_status_counter_and_count() {
    // MBAP frame of the FC 04 reply to the default poll: input registers 0–3 [MBAP §6.4].
    let wire = [
        0x00, 0x07, // transaction identifier 7
        0x00, 0x00, // protocol identifier 0
        0x00, 0x0B, // length: unit id + 10 PDU bytes
        0x01, // unit identifier 1
        0x04, // function 4 Read Input Registers
        0x08, // byte count 8
        0x00, 0x0C, // IR 0 status: bits 2 (buffer full) and 3 (empty print-go)
        0x00, 0x01, // IR 1 counter high word
        0x00, 0x02, // IR 2 counter low word: counter 10002h = 65,538
        0x00, 0x05, // IR 3 codes in the buffer: 5
    ];
    let map = ModbusMarkerMap::default();
    let (_, pdu) = mbap_pdu(&wire).expect("MBAP header consistent");
    let words = read_response_words(pdu).expect("FC 04 reply");
    assert_eq!(
        Response::try_from(Bytes::copy_from_slice(pdu)).unwrap(),
        Response::ReadInputRegisters(words.clone())
    );
    let readings = Readings::decode(&map, &[(map.reads()[0], words)]).expect("whole block");
    assert_eq!(
        readings.flags,
        StatusFlags {
            fault: false,
            consumable_out: false,
            buffer_full: true,
            empty_print_go: true,
        }
    );
    assert_eq!(readings.counter, 65_538);
    assert_eq!(readings.buffer_count, Some(5));
    for end in 0..wire.len() {
        assert!(
            mbap_pdu(&wire[..end])
                .and_then(|(_, p)| read_response_words(p))
                .is_none(),
            "prefix of {end} bytes"
        );
    }
}

#[test]
fn read_input_registers_over_rtu_and_a_corrupted_crc() {
    // The FC 04 request and reply of the default poll as RTU frames [MBSL §2.5.1].
    let request = [
        0x01, // slave address 1
        0x04, // function 4
        0x00, 0x00, // starting address 0
        0x00, 0x04, // quantity 4
        0xF1, 0xC9, // CRC C9F1h, low byte first
    ];
    assert_eq!(
        Request::try_from(Bytes::copy_from_slice(rtu_pdu(&request).expect("CRC").1)).unwrap(),
        Request::ReadInputRegisters(0, 4)
    );
    let reply = [
        0x01, // slave address 1
        0x04, // function 4
        0x08, // byte count 8
        0x00, 0x0C, // status: buffer full, empty print-go
        0x00, 0x01, 0x00, 0x02, // counter 65,538
        0x00, 0x05, // 5 codes queued
        0xB4, 0x0E, // CRC 0EB4h, low byte first
    ];
    let words = read_response_words(rtu_pdu(&reply).expect("CRC").1).expect("FC 04 reply");
    let map = ModbusMarkerMap::default();
    let readings = Readings::decode(&map, &[(map.reads()[0], words)]).unwrap();
    assert_eq!((readings.counter, readings.buffer_count), (65_538, Some(5)));
    let mut corrupted = reply;
    corrupted[11] = 0x0E;
    assert_eq!(rtu_pdu(&corrupted), None);
}

#[test]
fn read_holding_registers_spec_example_as_status_and_a_16_bit_counter() {
    // [MBAP §6.3 example]: read holding registers 108–110 (address 6Bh), 3 registers.
    let request = [
        0x03, // function 3 Read Holding Registers
        0x00, 0x6B, // starting address 107
        0x00, 0x03, // quantity 3
    ];
    let response = [
        0x03, // function 3
        0x06, // byte count 6
        0x02, 0x2B, // register 108: 022Bh
        0x00, 0x00, // register 109: 0 (the buffer count)
        0x00, 0x64, // register 110: 0064h = 100
    ];
    // A device keeping its status at 107, its buffer count at 108 and a 16-bit counter at 109
    // (word order irrelevant), all in holding registers: adjacent, so one read.
    let map = ModbusMarkerMap {
        counter: CounterMap {
            table: RegisterTable::Holding,
            register: 109,
            width: 16,
            word_order: Order::HighFirst,
        },
        status: StatusMap {
            table: RegisterTable::Holding,
            register: 107,
            fault_bit: Some(0),
            consumable_out_bit: Some(1),
            buffer_full_bit: Some(3),
            empty_print_go_bit: Some(5),
            buffer_count_register: Some(108),
        },
        ..ModbusMarkerMap::default()
    };
    let reads = map.reads();
    assert_eq!(reads, vec![(RegisterTable::Holding, 107, 3)]);
    assert_eq!(
        Request::try_from(Bytes::copy_from_slice(&request)).unwrap(),
        Request::ReadHoldingRegisters(reads[0].1, reads[0].2)
    );
    let words = read_response_words(&response).unwrap();
    let readings = Readings::decode(&map, &[(reads[0], words)]).unwrap();
    // 022Bh = bits 0, 1, 3, 5, 9: fault, consumable out, buffer full, empty print-go.
    assert!(readings.flags.fault && readings.flags.consumable_out);
    assert!(readings.flags.buffer_full && readings.flags.empty_print_go);
    assert_eq!(
        readings.flags.fault_detail(&map).as_deref(),
        Some("device fault (status bit 0); ink or consumable out (status bit 1)")
    );
    assert_eq!((readings.counter, readings.buffer_count), (100, Some(0)));
    let mut tracker = CounterTracker::new(16);
    assert_eq!(tracker.extend(readings.counter), 100);
}

#[test]
fn write_single_register_spec_example_is_a_command() {
    // [MBAP §6.6 example]: write register 2 (address 1) = 0003h; the response echoes it.
    let pdu = [
        0x06, // function 6 Write Single Register
        0x00, 0x01, // register address 1
        0x00, 0x03, // register value 3
    ];
    // A device whose command register is 1, where 3 clears the buffer (the default value).
    let map = ModbusMarkerMap {
        command_register: 1,
        load: LoadSignal::Register {
            address: 2,
            value: 1,
        },
        ..ModbusMarkerMap::default()
    };
    assert!(map.problems().is_empty());
    assert_eq!(
        Request::try_from(Bytes::copy_from_slice(&pdu)).unwrap(),
        Request::WriteSingleRegister(map.command_register, map.clear_value)
    );
    assert_eq!(
        Response::try_from(Bytes::copy_from_slice(&pdu)).unwrap(),
        Response::WriteSingleRegister(1, 3)
    );
    // The same request over RTU to slave 17 [MBSL: the classic example frame].
    let rtu = [
        0x11, // slave address 17
        0x06, 0x00, 0x01, 0x00, 0x03, // the PDU above
        0x9A, 0x9B, // CRC 9B9Ah, low byte first
    ];
    assert_eq!(rtu_pdu(&rtu).map(|(_, p)| p), Some(&pdu[..]));
}

#[test]
fn write_single_coil_spec_example_is_a_coil_load() {
    // [MBAP §6.5 example]: coil 173 (address ACh) ON; ON is FF00h; the response echoes it.
    let pdu = [
        0x05, // function 5 Write Single Coil
        0x00, 0xAC, // output address 172
        0xFF, 0x00, // FF00h = ON
    ];
    let map = ModbusMarkerMap {
        load: LoadSignal::Coil { address: 0xAC },
        ..ModbusMarkerMap::default()
    };
    let LoadSignal::Coil { address } = map.load else {
        unreachable!()
    };
    assert_eq!(
        Request::try_from(Bytes::copy_from_slice(&pdu)).unwrap(),
        Request::WriteSingleCoil(address, true)
    );
    assert_eq!(
        Response::try_from(Bytes::copy_from_slice(&pdu)).unwrap(),
        Response::WriteSingleCoil(0xAC, true)
    );
}

#[test]
fn exception_responses_become_refusal_reasons() {
    // [MBAP §7]: function code + 80h, then the exception code. A busy device refusing a code
    // write (FC 16):
    let pdu = [
        0x90, // 10h + 80h: exception to Write Multiple Registers
        0x06, // exception 06 Server Device Busy
    ];
    assert_eq!(pdu[0] & 0x7F, 0x10);
    assert_eq!(
        Exception(pdu[1]).to_string(),
        "exception 06h server device busy"
    );
    // [MBAP §7 example]: Read Input Registers of a missing address.
    let missing = [
        0x84, // 04h + 80h
        0x02, // exception 02 Illegal Data Address
    ];
    assert_eq!(
        Exception(missing[1]).to_string(),
        "exception 02h illegal data address"
    );
}
