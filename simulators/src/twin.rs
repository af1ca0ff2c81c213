//! The line twin: a conveyor with an encoder, a product-detect photocell, a marker, a camera and a
//! reject gate, in real time, driving the device simulators through their library APIs while the
//! controller talks to them over their real protocols (SPEC §3, issue 6).
//!
//! - The conveyor moves while the PLC's line-stop coil is off; the encoder count it publishes
//!   through the PLC simulator is the controller's only clock.
//! - A unit enters at the photocell (the PLC latches the encoder), gets a print-go at the marker
//!   position (what the marker simulator prints is what the unit carries), is inspected at the
//!   camera position (the vision simulator renders, damages, decodes and publishes over MQTT) and
//!   is diverted when it reaches the gate while the diverter is out.
//!
//! It records ground truth — every physical unit, the code printed on it, what an ideal reader
//! says about that print, whether the gate diverted it — which [`GroundTruth`] compares with the
//! controller's records.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::marker::{Fault, MarkerSim, TriggerOutcome};
use crate::packing::case_station::CaseStation;
use crate::plc::PlcSim;
use crate::vision::{Damage, VisionResult, VisionSim};

/// Units a fault other than a disconnect lasts.
const FAULT_UNITS: u64 = 50;

/// The twin's geometry and behaviour. Distances are millimetres from the photocell.
#[derive(Debug, Clone, PartialEq)]
pub struct TwinConfig {
    /// Units to run.
    pub units: u64,
    /// Nominal speed, units per minute at the minimum pitch.
    pub speed_upm: u32,
    /// Encoder counts per millimetre.
    pub counts_per_mm: f64,
    /// The smallest distance between two units' leading edges.
    pub pitch_mm: u32,
    /// Chance that a unit is followed by a missing one (a gap of one pitch).
    pub gap_rate: f64,
    /// Extra spacing, drawn evenly from 0 to this, after each unit.
    pub jitter_mm: u32,
    /// The marker's print position.
    pub marker_mm: u32,
    /// The camera's read position.
    pub camera_mm: u32,
    /// Further cameras downstream, by name and position: each sees the print the first one saw
    /// (the damage is on the unit, not in the camera) and reports it under its own name.
    pub later_cameras: Vec<(String, u32)>,
    /// The gate's position.
    pub gate_mm: u32,
    /// The lowest ISO/IEC 15415 grade that passes (`'A'`–`'D'`): what makes a print good.
    pub min_grade: char,
    /// Seed of the spacing draws (the camera has its own).
    pub seed: u64,
    /// Marker faults injected as unit N passes the photocell. `Disconnect` clears itself; the
    /// others are cleared 50 units later.
    pub faults: Vec<(u64, Fault)>,
    /// A case packer after the gate, closing a case every this many undiverted units and
    /// counting the closes in the PLC (line I/O map IR 84–85); `None`: no case packer count.
    pub case_packer: Option<u32>,
}

impl TwinConfig {
    fn counts(&self, mm: u32) -> u64 {
        (f64::from(mm) * self.counts_per_mm).round() as u64
    }

    /// Belt speed in encoder counts per second.
    fn counts_per_second(&self) -> f64 {
        f64::from(self.speed_upm) / 60.0 * f64::from(self.pitch_mm) * self.counts_per_mm
    }
}

/// What physically happened to one unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitTruth {
    /// Unit number, from 1 in photocell order.
    pub unit: u64,
    /// The encoder count the photocell latched.
    pub entry: u64,
    /// The data the marker printed on it (`None`: nothing printed, the buffer was empty or the
    /// marker was not printing).
    pub printed: Option<String>,
    /// The print was old data printed again (a reprint on an empty buffer).
    pub reprint: bool,
    /// The camera's damage draw.
    pub damage: Option<Damage>,
    /// What the camera decoded.
    pub read: Option<String>,
    /// The grade the camera gave.
    pub grade: Option<char>,
    /// The print is good: fresh, readable, the code printed, at the minimum grade or better,
    /// and not printed on an earlier unit.
    pub good: bool,
    /// The gate diverted it.
    pub diverted: bool,
}

/// Ground truth of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroundTruth {
    /// Every unit, in photocell order.
    pub units: Vec<UnitTruth>,
    /// How long the conveyor moved.
    pub running: Duration,
    /// How many times the controller stopped the line.
    pub line_stops: u64,
    /// The case-camera packing station's physical cases, when the twin has one
    /// ([`Twin::with_case_station`]).
    pub packing: Option<crate::packing::case_station::PackingTruth>,
}

impl GroundTruth {
    /// Bad units that passed the gate.
    pub fn escapes(&self) -> u64 {
        self.count(|u| !u.good && !u.diverted)
    }

    /// Good units the gate diverted.
    pub fn false_rejects(&self) -> u64 {
        self.count(|u| u.good && u.diverted)
    }

    /// Units diverted.
    pub fn diverted(&self) -> u64 {
        self.count(|u| u.diverted)
    }

    /// Units carrying data that an earlier unit already carried.
    pub fn duplicates(&self) -> u64 {
        let mut seen = std::collections::HashSet::new();
        self.units
            .iter()
            .filter_map(|u| u.printed.as_deref())
            .filter(|data| !seen.insert(*data))
            .count() as u64
    }

    /// Units with nothing printed on them.
    pub fn unprinted(&self) -> u64 {
        self.count(|u| u.printed.is_none())
    }

    fn count(&self, what: impl Fn(&UnitTruth) -> bool) -> u64 {
        self.units.iter().filter(|u| what(u)).count() as u64
    }

    /// The physical cases of the packing station after the gate (SPEC §3a, inferred mode):
    /// the units that passed the gate undiverted, in the order they passed it (photocell
    /// order: the belt keeps it), `units_per_case` to a case; the last case may be partial.
    /// This is which physical unit is in which physical case, whatever the records say.
    ///
    /// `pulled` names units taken off the belt between the gate and the case packer — the
    /// operator's part when the controller stopped the line for a unit it could not divert
    /// (`gate_fault`); they reach no case. A `units_per_case` of 0 is taken as 1.
    pub fn cases(
        &self,
        units_per_case: usize,
        pulled: impl Fn(&UnitTruth) -> bool,
    ) -> Vec<Vec<&UnitTruth>> {
        let passed: Vec<&UnitTruth> = self
            .units
            .iter()
            .filter(|u| !u.diverted && !pulled(u))
            .collect();
        passed
            .chunks(units_per_case.max(1))
            .map(<[&UnitTruth]>::to_vec)
            .collect()
    }
}

/// Live counters, for a progress bar.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TwinProgress {
    /// Units past the photocell.
    pub detected: u64,
    /// Units past the gate.
    pub done: u64,
    /// Units diverted.
    pub diverted: u64,
    /// The encoder count.
    pub encoder: u64,
    /// The line is stopped by the controller.
    pub stopped: bool,
}

/// Publishes camera results: the twin hands each read to it in order.
pub trait ResultPublisher: Send + 'static {
    /// Publishes one payload of camera `reader`; blocking is allowed (it runs on the camera's
    /// own thread).
    fn publish(&mut self, reader: &str, payload: Vec<u8>);

    /// Publishes the image (PNG) of read `seq` of camera `reader`, after its result; a
    /// publisher without an image channel drops it.
    fn publish_image(&mut self, reader: &str, seq: u64, png: Vec<u8>) {
        let _ = (reader, seq, png);
    }
}

/// Publishes on each reader's topic of a line, `tracemark/<line>/vision/<reader>/result`,
/// through a rumqttc client (QoS 1), from the camera thread.
#[derive(Debug, Clone)]
pub struct MqttPublisher {
    client: rumqttc::AsyncClient,
    line: String,
    runtime: tokio::runtime::Handle,
}

impl MqttPublisher {
    /// A publisher for the readers of `line`; call from inside the tokio runtime the client
    /// runs on.
    pub fn new(client: rumqttc::AsyncClient, line: &str) -> Self {
        Self {
            client,
            line: line.to_owned(),
            runtime: tokio::runtime::Handle::current(),
        }
    }
}

impl ResultPublisher for MqttPublisher {
    fn publish(&mut self, reader: &str, payload: Vec<u8>) {
        let topic = format!("tracemark/{}/vision/{reader}/result", self.line);
        let publish = self
            .client
            .publish(topic, rumqttc::QoS::AtLeastOnce, false, payload);
        if let Err(e) = self.runtime.block_on(publish) {
            tracing::warn!(error = %e, "twin camera cannot publish");
        }
    }

    fn publish_image(&mut self, reader: &str, seq: u64, png: Vec<u8>) {
        let topic = crate::vision::image_topic(&self.line, reader, seq);
        let publish = self
            .client
            .publish(topic, rumqttc::QoS::AtLeastOnce, false, png);
        if let Err(e) = self.runtime.block_on(publish) {
            tracing::warn!(error = %e, "twin camera cannot publish an image");
        }
    }
}

/// A unit on the belt.
#[derive(Debug)]
struct OnBelt {
    truth: UnitTruth,
    marked: bool,
    /// How many cameras have seen it.
    seen: usize,
}

/// The line twin around one marker simulator, the PLC simulator and the camera.
#[derive(Debug)]
pub struct Twin<M> {
    config: TwinConfig,
    marker: M,
    plc: PlcSim,
    camera: VisionSim,
    case_station: Option<CaseStation>,
}

impl<M: MarkerSim> Twin<M> {
    /// A twin moving units past `marker`, with line I/O on `plc` and `camera` at the camera.
    pub fn new(config: TwinConfig, marker: M, plc: PlcSim, camera: VisionSim) -> Self {
        Self {
            config,
            marker,
            plc,
            camera,
            case_station: None,
        }
    }

    /// Adds a case-camera packing station after the gate: every unit that leaves the gate is
    /// handed to it in order (`packing/case_station.rs`).
    pub fn with_case_station(mut self, station: CaseStation) -> Self {
        self.case_station = Some(station);
        self
    }

    /// Runs the conveyor until every unit has passed the gate (or `stop` turns true: no more
    /// units enter, those on the belt run out), and returns the ground truth.
    ///
    /// The belt starts once the marker is printing with a code in its buffer — as an operator
    /// starts a conveyor once the marker is ready — and stands still while the controller holds
    /// the line stopped. Results are published from a thread of the camera's own, because
    /// rendering and decoding a symbol takes a few milliseconds.
    pub async fn run(
        self,
        publisher: impl ResultPublisher,
        progress: watch::Sender<TwinProgress>,
        mut stop: watch::Receiver<bool>,
    ) -> GroundTruth {
        let Twin {
            config,
            marker,
            plc,
            camera,
            mut case_station,
        } = self;
        let later_cameras: Vec<String> = config
            .later_cameras
            .iter()
            .map(|(name, _)| name.clone())
            .collect();
        let (camera_tx, reads) = camera_thread(camera, later_cameras, publisher);
        let mut reads = reads;

        tokio::select! {
            _ = marker.wait_until(|s| s.printing() && s.buffered() > 0) => {}
            _ = stop.wait_for(|s| *s) => {}
        }

        let rate = config.counts_per_second();
        let (marker_at, gate_at) = (
            config.counts(config.marker_mm),
            config.counts(config.gate_mm),
        );
        let cameras_at: Vec<u64> = std::iter::once(config.camera_mm)
            .chain(config.later_cameras.iter().map(|(_, mm)| *mm))
            .map(|mm| config.counts(mm))
            .collect();
        let pitch = config.counts(config.pitch_mm).max(1);
        let mut rng = config.seed | 1;
        let mut belt: VecDeque<OnBelt> = VecDeque::new();
        let mut done: Vec<UnitTruth> = Vec::new();
        let mut results: HashMap<u64, VisionResult> = HashMap::new();
        let mut position = 0.0f64;
        let mut next_entry = 0u64;
        let mut detected = 0u64;
        let mut running = Duration::ZERO;
        let mut line_stops = 0u64;
        let mut was_stopped = false;
        let mut diverted = 0u64;
        let mut packed_units = 0u64;
        let mut last = Instant::now();
        let mut ticker = tokio::time::interval(Duration::from_millis(1));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

        loop {
            ticker.tick().await;
            while let Ok((unit, result)) = reads.try_recv() {
                results.insert(unit, result);
            }
            let now = Instant::now();
            let dt = now - last;
            last = now;
            let stopped = plc.snapshot().line_stop();
            if stopped && !was_stopped {
                line_stops += 1;
            }
            was_stopped = stopped;
            if !stopped {
                position += rate * dt.as_secs_f64();
                running += dt;
            }
            let encoder = position as u64;
            plc.set_encoder(encoder);
            let entering = !*stop.borrow() && detected < config.units;
            if entering && encoder >= next_entry {
                plc.detect();
                detected += 1;
                for (at, fault) in &config.faults {
                    if *at == detected {
                        marker.inject(*fault);
                    } else if *fault != Fault::Disconnect && at + FAULT_UNITS == detected {
                        marker.clear(*fault);
                    }
                }
                belt.push_back(OnBelt {
                    truth: UnitTruth {
                        unit: detected,
                        entry: encoder,
                        printed: None,
                        reprint: false,
                        damage: None,
                        read: None,
                        grade: None,
                        good: false,
                        diverted: false,
                    },
                    marked: false,
                    seen: 0,
                });
                let gap = if draw(&mut rng) < config.gap_rate {
                    pitch
                } else {
                    0
                };
                let jitter = (draw(&mut rng) * config.counts(config.jitter_mm) as f64) as u64;
                next_entry = encoder + pitch + gap + jitter;
            }
            for unit in belt.iter_mut() {
                let at = unit.truth.entry;
                if !unit.marked && encoder >= at + marker_at {
                    unit.marked = true;
                    match marker.trigger() {
                        TriggerOutcome::Printed(print) => unit.truth.printed = Some(print.text()),
                        TriggerOutcome::Reprinted(print) => {
                            unit.truth.printed = Some(print.text());
                            unit.truth.reprint = true;
                        }
                        TriggerOutcome::Empty | TriggerOutcome::Ignored => {}
                    }
                }
                // Cameras are in belt order (the config sorts readers by position).
                while let Some(camera_at) = cameras_at.get(unit.seen)
                    && encoder >= at + camera_at
                {
                    let job = CameraJob {
                        camera: unit.seen,
                        unit: unit.truth.unit,
                        encoder,
                        printed: unit.truth.printed.clone(),
                    };
                    unit.seen += 1;
                    // The camera thread ends only when the twin drops its sender.
                    let _ = camera_tx.send(job);
                }
            }
            while belt
                .front()
                .is_some_and(|u| encoder >= u.truth.entry + gate_at)
            {
                let Some(mut unit) = belt.pop_front() else {
                    break;
                };
                unit.truth.diverted = plc.diverting_at(unit.truth.entry + gate_at);
                diverted += u64::from(unit.truth.diverted);
                if let Some(per_case) = config.case_packer.filter(|_| !unit.truth.diverted) {
                    // The case packer takes the units that pass the gate, in order; the last
                    // of a case closes it, and the PLC counts the close.
                    packed_units += 1;
                    if packed_units.is_multiple_of(u64::from(per_case.max(1))) {
                        plc.case_packed();
                    }
                }
                if let Some(station) = &mut case_station {
                    station.passed(&unit.truth);
                }
                done.push(unit.truth);
            }
            progress.send_replace(TwinProgress {
                detected,
                done: done.len() as u64,
                diverted,
                encoder,
                stopped,
            });
            let finished = detected >= config.units || *stop.borrow();
            if finished && belt.is_empty() {
                break;
            }
        }
        drop(camera_tx);
        // Every unit past the camera has its read; wait for the camera thread's last ones.
        while results.len() < done.len() {
            match reads.recv().await {
                Some((unit, result)) => {
                    results.insert(unit, result);
                }
                None => break,
            }
        }
        judge(&mut done, &results, config.min_grade);
        // The last case, and the case camera's last publications, before the run is over.
        let packing = match case_station {
            Some(station) => Some(station.finish().await),
            None => None,
        };
        GroundTruth {
            units: done,
            running,
            line_stops,
            packing,
        }
    }
}

/// A unit under a camera: camera 0 is the first (the [`VisionSim`]), the others are
/// [`TwinConfig::later_cameras`] in order.
#[derive(Debug)]
struct CameraJob {
    camera: usize,
    unit: u64,
    encoder: u64,
    printed: Option<String>,
}

/// Starts the camera thread: the first camera inspects each unit handed to it, publishes the
/// result and sends the ground truth back; each later camera publishes, under its own name and
/// sequence numbers, what the first one saw on that unit.
fn camera_thread(
    mut camera: VisionSim,
    later_cameras: Vec<String>,
    mut publisher: impl ResultPublisher,
) -> (
    std_mpsc::Sender<CameraJob>,
    mpsc::UnboundedReceiver<(u64, VisionResult)>,
) {
    let (jobs_tx, jobs) = std_mpsc::channel::<CameraJob>();
    let (reads_tx, reads) = mpsc::unbounded_channel();
    let spawned = std::thread::Builder::new()
        .name("twin-camera".to_owned())
        .spawn(move || {
            // What the first camera saw, for the later ones; dropped after the last.
            let mut seen: HashMap<u64, VisionResult> = HashMap::new();
            let mut later_seqs = vec![0u64; later_cameras.len()];
            while let Ok(job) = jobs.recv() {
                if let Some(later) = job.camera.checked_sub(1) {
                    let (Some(name), Some(seq)) =
                        (later_cameras.get(later), later_seqs.get_mut(later))
                    else {
                        continue;
                    };
                    let last = later + 1 == later_cameras.len();
                    let first_saw = if last {
                        seen.remove(&job.unit)
                    } else {
                        seen.get(&job.unit).cloned()
                    };
                    if let Some(mut result) = first_saw {
                        *seq += 1;
                        result.seq = *seq;
                        publisher.publish(name, camera.payload_as(name, &result, job.encoder));
                    }
                    continue;
                }
                let mut result = match &job.printed {
                    Some(data) => camera
                        .inspect(data)
                        .unwrap_or_else(|_| camera.nothing_printed()),
                    None => camera.nothing_printed(),
                };
                publisher.publish(camera.reader(), camera.payload(&result, job.encoder));
                // The image of a bad read follows its result, encoded only now: the result
                // is never held up by it.
                if let Some(png) = result.png() {
                    publisher.publish_image(camera.reader(), result.seq, png);
                }
                // The ground truth goes on without the pixels.
                result.image = None;
                if !later_cameras.is_empty() {
                    seen.insert(job.unit, result.clone());
                }
                if reads_tx.send((job.unit, result)).is_err() {
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        // Without its thread the camera reads nothing: every unit is late, none escapes.
        tracing::error!(error = %e, "the twin camera thread did not start");
    }
    (jobs_tx, reads)
}

/// Decides, for each unit, whether its print is good, from what the camera really decoded.
fn judge(units: &mut [UnitTruth], results: &HashMap<u64, VisionResult>, min_grade: char) {
    let mut printed_before = std::collections::HashSet::new();
    for unit in units.iter_mut() {
        if let Some(result) = results.get(&unit.unit) {
            unit.damage = Some(result.damage);
            unit.read = result.data.clone();
            unit.grade = result.grade;
        }
        let fresh = match &unit.printed {
            Some(data) => printed_before.insert(data.clone()) && !unit.reprint,
            None => false,
        };
        let reads_as_printed = match (&unit.read, &unit.printed) {
            (Some(read), Some(printed)) => same_code(read, printed),
            _ => false,
        };
        let graded = unit.grade.is_some_and(|g| g <= min_grade);
        unit.good = fresh && reads_as_printed && graded;
    }
}

/// Whether scanner data and printed data carry the same GS1 code.
fn same_code(read: &str, printed: &str) -> bool {
    use tracemark_codes::gs1;
    match (gs1::parse(read), gs1::parse(printed)) {
        (Ok(a), Ok(b)) => a.code == b.code,
        _ => false,
    }
}

/// xorshift64*: repeatable draws in [0, 1).
fn draw(state: &mut u64) -> f64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(unit: u64, diverted: bool) -> UnitTruth {
        UnitTruth {
            unit,
            entry: unit * 100,
            printed: Some(format!("code{unit}")),
            reprint: false,
            damage: None,
            read: None,
            grade: None,
            good: !diverted,
            diverted,
        }
    }

    #[test]
    fn physical_cases_hold_the_undiverted_units_in_gate_order() {
        let truth = GroundTruth {
            units: (1..=8).map(|n| unit(n, n == 2 || n == 5)).collect(),
            ..GroundTruth::default()
        };
        let numbers = |cases: Vec<Vec<&UnitTruth>>| -> Vec<Vec<u64>> {
            cases
                .iter()
                .map(|case| case.iter().map(|u| u.unit).collect())
                .collect()
        };
        assert_eq!(
            numbers(truth.cases(4, |_| false)),
            [vec![1, 3, 4, 6], vec![7, 8]]
        );
        assert_eq!(
            numbers(truth.cases(2, |u| u.unit == 3)),
            [vec![1, 4], vec![6, 7], vec![8]]
        );
        assert!(GroundTruth::default().cases(3, |_| false).is_empty());
    }
}
