//! `[plcs.<name>]` and `[gate]` compiled: each PLC with the line I/O map its program serves
//! (docs/protocols/line-io.md), the gate with its PLC resolved and its coil and confirm input
//! written into that map. The line runtime and `tracemark driver probe` use the compiled map
//! as it is; every problem the line I/O driver would refuse at connect time
//! ([`LineIoMap::problems`], [`gate_timing_registers`]) is reported here, at its key path.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;
use tracemark_drivers::lineio::{LineIoMap, gate_timing_registers};

use super::compile::{Errors, Reader, Transport, check_transport, counts};
use super::marker::Marker;
use super::raw;
use super::{RawLine, suggest};

/// A PLC, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plc {
    /// Name (the key of `[plcs.<name>]`).
    pub name: String,
    /// How it is reached.
    pub transport: Transport,
    /// Modbus unit id.
    pub unit_id: u8,
    /// Communication watchdog.
    pub watchdog: Duration,
    /// Where its program keeps the line I/O: `[plcs.<name>.map]` over the default map, with the
    /// gate's coil and confirm input when it drives the gate. Checked: usable as it is.
    pub line_io: LineIoMap,
}

/// The reject gate, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gate {
    /// Position, mm from the photocell.
    pub position_mm: u32,
    /// Position in encoder counts.
    pub position_counts: u64,
    /// The PLC that drives it (`gate.plc` resolved); its `line_io` map has the gate's coil and
    /// confirm input.
    pub plc: Plc,
    /// Coil that fires it (`plc.line_io.gate_coil`).
    pub coil: u16,
    /// Input that confirms it (`plc.line_io.gate_confirm_input`).
    pub confirm_input: u16,
    /// Confirm timeout.
    pub confirm_timeout: Duration,
    /// Half the gate's window, encoder counts: half the shortest pitch (at least 1). The PLC
    /// diverts a queued reject while `fire_at - half <= encoder < fire_at + half`.
    pub half_window_counts: u64,
    /// Rejects in a row that stop the line.
    pub max_consecutive_rejects: u32,
}

/// The gate's keys in `[gate]` and in the line I/O map: (gate key, map key).
const GATE_KEYS: [(&str, &str); 2] = [
    ("coil", "gate_coil"),
    ("confirm_input", "gate_confirm_input"),
];

/// Every `[plcs.<name>]`, with its map checked. The gate's PLC gets the gate's coil and confirm
/// input in its map first, so a collision with them is found (and named) too.
pub(super) fn check_plcs(raw: &RawLine, markers: &[Marker], errors: &mut Errors) -> Vec<Plc> {
    let mut plcs: Vec<Plc> = Vec::new();
    for (name, p) in &raw.plcs {
        let path = format!("plcs.{name}");
        let transport = check_transport(&format!("{path}.transport"), &p.transport, errors);
        let endpoint = transport.endpoint();
        if let Some(marker) = markers.iter().find(|m| m.transport.endpoint() == endpoint) {
            errors.push(
                format!("{path}.transport"),
                format!("{endpoint} is already used by markers.{}", marker.name),
            );
        }
        // PLCs may share an RS-485 line or a gateway, but not a unit id on it.
        if let Some(other) = plcs
            .iter()
            .find(|o| o.transport.endpoint() == endpoint && o.unit_id == p.unit_id)
        {
            errors.push(
                format!("{path}.unit_id"),
                format!(
                    "unit {} on {endpoint} is already plcs.{}",
                    p.unit_id, other.name
                ),
            );
        }
        // Modbus serial line: unit addresses 1–247 (Modbus over Serial Line V1.02 §2.2); over
        // TCP the unit id is a gateway's business, any u8.
        if matches!(transport, Transport::Serial { .. }) && !(1..=247).contains(&p.unit_id) {
            errors.push(
                format!("{path}.unit_id"),
                format!(
                    "{} is not a Modbus serial address (1–247, Modbus over Serial Line §2.2)",
                    p.unit_id
                ),
            );
        }
        if !(100..=60_000).contains(&p.watchdog_ms) {
            errors.push(
                format!("{path}.watchdog_ms"),
                format!("{} is not between 100 and 60000", p.watchdog_ms),
            );
        }
        let written = raw.plc_map_keys.get(name).cloned().unwrap_or_default();
        let mut map = p.map.clone().unwrap_or_default();
        let gate = raw.gate.as_ref().filter(|g| &g.plc == name);
        if let Some(gate) = gate {
            apply_gate(gate, &path, &written, &mut map, errors);
        }
        for problem in map.problems() {
            report_problem(&problem, &path, &written, gate, errors);
        }
        plcs.push(Plc {
            name: name.clone(),
            transport,
            unit_id: p.unit_id,
            watchdog: Duration::from_millis(u64::from(p.watchdog_ms)),
            line_io: map,
        });
    }
    plcs
}

/// Writes `gate.coil` and `gate.confirm_input` into the gate PLC's map; one also written in
/// `[plcs.<name>.map]` with another address is an error (they name the same output or input).
fn apply_gate(
    gate: &raw::GateSection,
    plc_path: &str,
    written: &BTreeSet<String>,
    map: &mut LineIoMap,
    errors: &mut Errors,
) {
    for ((gate_key, map_key), given) in GATE_KEYS.into_iter().zip([gate.coil, gate.confirm_input]) {
        let Some(given) = given else { continue };
        let slot = match map_key {
            "gate_coil" => &mut map.gate_coil,
            _ => &mut map.gate_confirm_input,
        };
        if written.contains(map_key) && *slot != given {
            errors.push(
                format!("gate.{gate_key}"),
                format!(
                    "{given} disagrees with {plc_path}.map.{map_key} ({}): both name the gate's \
                     address; write it in one place",
                    *slot
                ),
            );
        }
        *slot = given;
    }
}

/// One [`LineIoMap::problems`] entry (`key: what`) at its key path: `gate.coil` when the gate
/// set the address, else the map's key, with a note when the address is a default.
fn report_problem(
    problem: &str,
    plc_path: &str,
    written: &BTreeSet<String>,
    gate: Option<&raw::GateSection>,
    errors: &mut Errors,
) {
    // "gate_confirm_input, line_running_input: …" is about both: reported at the first.
    let (keys, what) = problem.split_once(": ").unwrap_or(("", problem));
    let key = keys.split(", ").next().unwrap_or(keys);
    let from_gate = |map_key: &str| {
        GATE_KEYS
            .iter()
            .zip(gate.map_or([None, None], |g| [g.coil, g.confirm_input]))
            .find(|((_, k), given)| *k == map_key && given.is_some())
            .map(|((gate_key, _), _)| format!("gate.{gate_key}"))
    };
    let path = from_gate(key).unwrap_or_else(|| format!("{plc_path}.map.{key}"));
    let mut notes = Vec::new();
    for (_, map_key) in GATE_KEYS {
        if map_key != key
            && what.ends_with(map_key)
            && let Some(gate_key) = from_gate(map_key)
        {
            notes.push(format!("{map_key} is {gate_key}"));
        }
    }
    if !key.is_empty() && from_gate(key).is_none() && !written.contains(key) {
        notes.push(format!(
            "{key} has its default address: set {plc_path}.map.{key} to move it"
        ));
    }
    let message = if notes.is_empty() {
        what.to_owned()
    } else {
        format!("{what} ({})", notes.join("; "))
    };
    errors.push(path, message);
}

/// What a gate is placed among: the compiled markers, readers and PLCs.
#[derive(Clone, Copy)]
pub(super) struct Placement<'a> {
    pub(super) markers: &'a [Marker],
    pub(super) readers: &'a [Reader],
    pub(super) plcs: &'a [Plc],
}

/// The gate, with its PLC resolved; `None` when the PLC it names does not compile (the errors
/// say why).
pub(super) fn check_gate(
    g: &raw::GateSection,
    raw: &RawLine,
    at: Placement<'_>,
    errors: &mut Errors,
) -> Option<Gate> {
    let Placement {
        markers,
        readers,
        plcs,
    } = at;
    if !raw.plcs.contains_key(&g.plc) && !raw.broken.contains(&format!("plcs.{}", g.plc)) {
        let known: Vec<&str> = raw.plcs.keys().map(String::as_str).collect();
        errors.push(
            "gate.plc",
            format!(
                "{:?} is not a [plcs.<name>] (known: {known:?}){}",
                g.plc,
                suggest::nearest(&g.plc, known.iter().copied())
                    .map(|near| format!("; did you mean `{near}`?"))
                    .unwrap_or_default()
            ),
        );
    }
    let last = readers
        .iter()
        .map(|r| r.position_mm)
        .chain(markers.iter().map(|m| m.position_mm))
        .max()
        .unwrap_or(0);
    if g.position_mm <= last {
        errors.push(
            "gate.position_mm",
            format!(
                "{} mm is not after the last reader or marker ({last} mm)",
                g.position_mm
            ),
        );
    }
    if !(10..=10_000).contains(&g.confirm_timeout_ms) {
        errors.push(
            "gate.confirm_timeout_ms",
            format!("{} is not between 10 and 10000", g.confirm_timeout_ms),
        );
    }
    if g.max_consecutive_rejects == 0 {
        errors.push("gate.max_consecutive_rejects", "must be at least 1");
    }
    let (counts_per_mm, min_pitch_mm) = raw
        .conveyor
        .as_ref()
        .map_or((1.0, 100), |c| (c.counts_per_mm, c.min_pitch_mm));
    let half_window_counts = (counts(min_pitch_mm, counts_per_mm) / 2).max(1);
    let confirm_timeout = Duration::from_millis(u64::from(g.confirm_timeout_ms));
    // The PLC's registers take what the line I/O driver writes at start (line-io.md, HR 1, 2).
    if let Err(refused) = gate_timing_registers(half_window_counts, Duration::ZERO) {
        errors.push(
            "conveyor.min_pitch_mm",
            format!(
                "{refused}: half of {min_pitch_mm} mm × {counts_per_mm} counts/mm; a shorter \
                 pitch or a coarser encoder"
            ),
        );
    }
    if let Err(refused) = gate_timing_registers(1, confirm_timeout) {
        errors.push("gate.confirm_timeout_ms", refused.to_string());
    }
    let plc = plcs.iter().find(|p| p.name == g.plc)?.clone();
    Some(Gate {
        position_mm: g.position_mm,
        position_counts: counts(g.position_mm, counts_per_mm),
        coil: plc.line_io.gate_coil,
        confirm_input: plc.line_io.gate_confirm_input,
        plc,
        confirm_timeout,
        half_window_counts,
        max_consecutive_rejects: g.max_consecutive_rejects,
    })
}
