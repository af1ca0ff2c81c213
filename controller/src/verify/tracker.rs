//! Unit tracking from photocell to reject gate, and the verify/reject decision (SPEC §3).
//!
//! Pure state, no I/O: the line runtime feeds it photocell, print, result and encoder events and
//! carries out what it returns. Every unit enters at the photocell with its encoder count; a
//! confirmed print attaches a code to the oldest unit still without one; a camera result is
//! matched **by content first** (codes are unique: the decoded code names its unit) and **by
//! position second** (the unit under the camera at the result's encoder count, for no-reads and
//! codes that are not the expected one). A unit is decided as soon as its result is known, so the
//! gate command (fire at `fire_at`) goes out long before the unit reaches the gate; a unit that
//! reaches the gate without a result is `late`.
//!
//! A line may have several readers (a second camera on another face, a grading camera after a
//! reading one). Every reader must pass a unit for it to be verified: the first reader that fails
//! it rejects it at once, and a unit that reaches the gate before every reader has passed it is
//! `late`. Each reader has its own position and minimum grade.

use std::collections::{HashMap, HashSet, VecDeque};

use super::payload::{Grade, ReadResult};

/// Why a unit is rejected: the store's word for it (`tracemark_store::vocab`).
pub use tracemark_store::RejectReason;

/// What happens to a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Good: passes the gate.
    Verified,
    /// Diverted by the gate.
    Rejected(RejectReason),
}

/// A decision about one unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The tracker's unit number (from 1, in photocell order).
    pub unit: u64,
    /// The code printed on it, if the marker confirmed one.
    pub code: Option<String>,
    /// Verified or rejected, and why.
    pub outcome: Outcome,
    /// What the camera decoded (as sent), if anything.
    pub data: Option<String>,
    /// The grade the camera gave, if any.
    pub grade: Option<Grade>,
    /// The encoder count at which the unit reaches the gate: fire then (rejects).
    pub fire_at: u64,
    /// This reject makes `max_consecutive_rejects` in a row: stop the line (once: the rejects
    /// after it in the same row do not stop it again).
    pub stop_line: bool,
}

/// One reader (camera) as the tracker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedReader {
    /// The reader's name, as its results carry it.
    pub name: String,
    /// Its read position, in encoder counts from the photocell.
    pub position_counts: u64,
    /// The lowest grade it passes.
    pub min_grade: Grade,
}

impl TrackedReader {
    /// A reader called `name` at `position_counts` that passes `min_grade` and better.
    pub fn new(name: &str, position_counts: u64, min_grade: Grade) -> Self {
        TrackedReader {
            name: name.to_owned(),
            position_counts,
            min_grade,
        }
    }
}

/// The most readers one line may have (a unit keeps which readers passed it in a 64-bit set);
/// the config refuses more, so it is defined there.
pub use crate::config::MAX_READERS;

/// Where things are, in encoder counts from the photocell, and what passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerConfig {
    /// The marker's print position.
    pub marker_counts: u64,
    /// The readers: every one must pass a unit (at most [`MAX_READERS`]; results of readers
    /// beyond that, or not listed, match nothing).
    pub readers: Vec<TrackedReader>,
    /// The gate's position.
    pub gate_counts: u64,
    /// How far a result's encoder count may be from a unit's expected read position and still
    /// be that unit's (half the smallest pitch is a good choice).
    pub window_counts: u64,
    /// Rejects in a row that stop the line.
    pub max_consecutive_rejects: u32,
}

/// Counters for the HMI, MQTT and the batch report.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TrackerStats {
    /// Units seen by the photocell.
    pub units: u64,
    /// Results taken into account.
    pub results: u64,
    /// Results delivered again (same reader and seq) and ignored.
    pub redelivered: u64,
    /// Results that matched no unit (nothing under the camera) and were ignored.
    pub unmatched: u64,
    /// Second results for a unit already decided (or already passed by that reader), ignored.
    pub extra_reads: u64,
    /// Results that passed a unit while another reader still had to: not a decision yet.
    pub partial_passes: u64,
    /// Units verified.
    pub verified: u64,
    /// Units rejected, by reason (index: [`RejectReason::ALL`]).
    pub rejected: [u64; 7],
}

/// Where a confirmed print went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Printed {
    /// On this unit, still waiting for its camera result.
    OnUnit(u64),
    /// On a unit the camera result already rejected (the result came first): the code is
    /// rejected with it, for the same reason.
    OnRejectedUnit {
        /// The unit.
        unit: u64,
        /// Why it was rejected.
        reason: RejectReason,
    },
    /// A camera read already put the code on its unit.
    AlreadyRead,
    /// No unit was waiting yet: the code waits for the unit's detection, which comes from
    /// another thread and can arrive after the print's confirmation on a starved machine
    /// ([`Tracker::place_ahead`]).
    Ahead,
}

/// What became of a code confirmed before its unit was known ([`Tracker::place_ahead`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placed {
    /// It went on a unit the camera had already rejected: rejected with it, for that reason.
    OnRejectedUnit {
        /// The unit.
        unit: u64,
        /// Why it was rejected.
        reason: RejectReason,
        /// The code.
        code: String,
    },
    /// No unit took it while the belt ran a photocell-to-gate length.
    Unplaced(String),
}

/// What putting a code on a unit found ([`Tracker::attach`]).
enum Attached {
    /// The unit is not decided yet: it carries the code to its read.
    Undecided(u64),
    /// The camera had already rejected the unit, for this reason.
    Rejected(u64, RejectReason),
    /// The unit was verified, which only reading its own code does: not reached.
    Verified,
}

/// Why an event could not be tracked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackError {
    /// The marker confirmed a print but no unit is waiting for one: it went on a unit the
    /// tracking lost (one that left further back than the units kept for late confirmations,
    /// or one a miscounted print-go marked empty), decided without it. The code counts as
    /// attached, so no later read can verify a unit on it.
    #[error("the marker confirmed {0} but no unit is waiting for a print")]
    PrintWithoutUnit(String),
    /// The same code was confirmed twice (the marker reprinted old data).
    #[error("the marker confirmed {0} a second time")]
    PrintedTwice(String),
}

#[derive(Debug)]
struct Unit {
    id: u64,
    entry: u64,
    code: Option<String>,
    /// The decision, once made.
    decision: Option<Outcome>,
    /// The marker said its print-go for this unit found the buffer empty: it carries nothing.
    unprinted: bool,
    /// The readers that passed it (bit i: `config.readers[i]`).
    passed: u64,
    /// The lowest grade a passing reader gave it.
    worst_grade: Option<Grade>,
}

/// Code-less units past the gate still waiting for a confirmation, at most (a confirmation
/// later than this many units is a fault of the marker link, not a slow poll).
const MAX_GONE_WITHOUT_CODE: usize = 64;

/// Codes confirmed before their unit's detection, waiting for it, at most: more is not a
/// detection late by a poll but prints on nothing the line tracks.
const MAX_AHEAD: usize = 4;

/// How many (reader, seq) pairs are remembered to drop redeliveries.
const SEEN_CAPACITY: usize = 1 << 16;

/// The shift register and decision logic of one line.
#[derive(Debug)]
pub struct Tracker {
    config: TrackerConfig,
    /// The set of every reader's bit: a unit with all of them passed is verified.
    all_readers: u64,
    units: VecDeque<Unit>,
    next_unit: u64,
    /// In-flight code → unit id (printed, not yet decided).
    in_flight: HashMap<String, u64>,
    /// Units that left the register (reached the gate) rejected and without a code, whose
    /// print may still be confirmed — a confirmation held up longer than the belt takes from
    /// marker to gate. Oldest first; they come before every unit in the register. Each is
    /// kept until the belt has run one more photocell-to-gate length (the encoder count in the
    /// tuple): a unit that got no print and was not reported blank must not take
    /// confirmations for long.
    gone_without_code: VecDeque<(u64, RejectReason, u64)>,
    /// Codes confirmed before any unit was waiting for one, oldest first, each with the
    /// encoder count of the last poll then (see [`Tracker::place_ahead`]).
    ahead: VecDeque<(String, u64)>,
    /// The encoder count of the last poll.
    encoder: u64,
    /// Codes issued to this batch (sent to the marker), for mismatch vs unknown.
    batch_codes: HashSet<String>,
    /// Codes verified on a unit.
    verified: HashSet<String>,
    /// Codes ever put on a unit (by the marker's confirmation or a camera read).
    attached: HashSet<String>,
    /// Codes a camera read proved printed before the marker confirmed them: the confirmation,
    /// when it comes, is already accounted for.
    proven_by_camera: HashSet<String>,
    seen: HashSet<(String, u64)>,
    seen_order: VecDeque<(String, u64)>,
    consecutive_rejects: u32,
    stats: TrackerStats,
}

impl Tracker {
    /// An empty line.
    pub fn new(mut config: TrackerConfig) -> Self {
        config.readers.truncate(MAX_READERS);
        let all_readers = match config.readers.len() {
            MAX_READERS => u64::MAX,
            n => (1u64 << n) - 1,
        };
        Tracker {
            config,
            all_readers,
            units: VecDeque::new(),
            next_unit: 1,
            in_flight: HashMap::new(),
            gone_without_code: VecDeque::new(),
            ahead: VecDeque::new(),
            encoder: 0,
            batch_codes: HashSet::new(),
            verified: HashSet::new(),
            attached: HashSet::new(),
            proven_by_camera: HashSet::new(),
            seen: HashSet::new(),
            seen_order: VecDeque::new(),
            consecutive_rejects: 0,
            stats: TrackerStats::default(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> &TrackerStats {
        &self.stats
    }

    /// Codes confirmed before their unit's detection reached the tracker, waiting for it
    /// ([`Tracker::place_ahead`]).
    pub fn codes_ahead(&self) -> usize {
        self.ahead.len()
    }

    /// Units between photocell and gate.
    pub fn units_in_flight(&self) -> usize {
        self.units.len()
    }

    /// The codes on the units in the register, oldest unit first (for tests).
    #[cfg(test)]
    pub(crate) fn codes_on_units(&self) -> Vec<&str> {
        self.units
            .iter()
            .filter_map(|u| u.code.as_deref())
            .collect()
    }

    /// Registers a code of this batch (sent to the marker): a read of it elsewhere is a
    /// `mismatch`, not `unknown`.
    pub fn code_issued(&mut self, code: &str) {
        self.batch_codes.insert(code.to_owned());
    }

    /// The photocell saw a unit at `encoder`; returns its number.
    pub fn unit_detected(&mut self, encoder: u64) -> u64 {
        let id = self.next_unit;
        self.next_unit += 1;
        self.units.push_back(Unit {
            id,
            entry: encoder,
            code: None,
            decision: None,
            unprinted: false,
            passed: 0,
            worst_grade: None,
        });
        self.stats.units += 1;
        id
    }

    /// The marker confirmed printing `code`: it is on the oldest unit that went by the marker
    /// and is still without a code — even one already decided, when the camera's result beat
    /// the confirmation (a no-read on a slow poll): that unit's reject then covers the code.
    /// Without this, the confirmation would land on the next unit and shift every later one.
    pub fn printed(&mut self, code: &str) -> Result<Printed, TrackError> {
        if self.proven_by_camera.remove(code) {
            return Ok(Printed::AlreadyRead);
        }
        if self.in_flight.contains_key(code) || self.attached.contains(code) {
            return Err(TrackError::PrintedTwice(code.to_owned()));
        }
        if let Some((unit, reason, _)) = self.gone_without_code.pop_front() {
            self.batch_codes.insert(code.to_owned());
            self.attached.insert(code.to_owned());
            return Ok(Printed::OnRejectedUnit { unit, reason });
        }
        self.batch_codes.insert(code.to_owned());
        self.attached.insert(code.to_owned());
        let index = if self.ahead.is_empty() {
            self.awaiting_print()
        } else {
            None // behind the codes already waiting, in print order
        };
        let Some(index) = index else {
            if self.ahead.len() < MAX_AHEAD {
                self.ahead.push_back((code.to_owned(), self.encoder));
                return Ok(Printed::Ahead);
            }
            // Kept as attached: the code is on a unit that went by untracked, so a later read of
            // it is a `mismatch` that diverts that unit, never a proof that attaches it to
            // another. The caller records the code rejected.
            return Err(TrackError::PrintWithoutUnit(code.to_owned()));
        };
        match self.attach(index, code) {
            Some(Attached::Undecided(unit)) => Ok(Printed::OnUnit(unit)),
            Some(Attached::Rejected(unit, reason)) => Ok(Printed::OnRejectedUnit { unit, reason }),
            // A unit is verified only by reading its code, which attaches it: not reached.
            Some(Attached::Verified) | None => Err(TrackError::PrintedTwice(code.to_owned())),
        }
    }

    /// The oldest unit that went by the marker without a code and not marked empty, by its
    /// place in the register: the one the next confirmed print is on.
    fn awaiting_print(&self) -> Option<usize> {
        self.units
            .iter()
            .position(|u| u.code.is_none() && !u.unprinted)
    }

    /// Puts `code` on the unit at `index` of the register, and says what that unit's decision
    /// makes of it: an undecided unit carries it to its read, a rejected one takes it into the
    /// bin. `None`: no unit there.
    fn attach(&mut self, index: usize, code: &str) -> Option<Attached> {
        let unit = self.units.get_mut(index)?;
        unit.code = Some(code.to_owned());
        let id = unit.id;
        Some(match unit.decision {
            None => {
                self.in_flight.insert(code.to_owned(), id);
                Attached::Undecided(id)
            }
            Some(Outcome::Rejected(reason)) => Attached::Rejected(id, reason),
            Some(Outcome::Verified) => Attached::Verified,
        })
    }

    /// A poll at `encoder` has brought its detections: the codes confirmed before their unit
    /// was known go on the oldest units still without a code that had reached the marker by
    /// then, in print order. The photocell is before the marker, so a printed unit was
    /// detected first; its detection only reached the line later (the line I/O thread and the
    /// marker's task run apart, and a starved machine delays one behind the other — the
    /// 32-line bench, session 23: taken as a print without a unit, it shifted every later code
    /// by one). Returns the codes no unit took while the belt ran a whole photocell-to-gate
    /// length: they were printed on nothing the line tracks.
    pub fn place_ahead(&mut self, encoder: u64) -> Vec<Placed> {
        self.encoder = self.encoder.max(encoder);
        let mut settled = Vec::new();
        while let Some((_, since)) = self.ahead.front() {
            let since = *since;
            let marker = self.config.marker_counts;
            let index = self.awaiting_print().filter(|&i| {
                self.units
                    .get(i)
                    .is_some_and(|u| u.entry.saturating_add(marker) <= encoder)
            });
            if let Some(index) = index {
                let Some((code, _)) = self.ahead.pop_front() else {
                    break;
                };
                match self.attach(index, &code) {
                    Some(Attached::Undecided(_)) => {}
                    Some(Attached::Rejected(unit, reason)) => {
                        settled.push(Placed::OnRejectedUnit { unit, reason, code })
                    }
                    // Not reached: a unit is verified only by reading its own code.
                    Some(Attached::Verified) | None => settled.push(Placed::Unplaced(code)),
                }
            } else if encoder > since.saturating_add(self.config.gate_counts) {
                settled.extend(
                    self.ahead
                        .pop_front()
                        .map(|(code, _)| Placed::Unplaced(code)),
                );
            } else {
                break;
            }
        }
        settled
    }

    /// The marker's print-go found its buffer empty: the oldest unit still waiting for a print
    /// carries nothing, and the next confirmed print belongs to the unit after it (without
    /// this, every later code would be attached one unit early). Returns that unit.
    pub fn print_missed(&mut self) -> Option<u64> {
        if let Some((unit, _, _)) = self.gone_without_code.pop_front() {
            return Some(unit);
        }
        let index = self.awaiting_print()?;
        let unit = self.units.get_mut(index)?;
        unit.unprinted = true;
        Some(unit.id)
    }

    /// The marker is (again) ready to print at encoder count `encoder`, and every confirmation
    /// of what it printed before has arrived (the driver settles the device's counter before
    /// it reports the state). So a unit that went by the marker before now and still has no
    /// code carries nothing: it went by while the marker was faulted, stopped or unreachable.
    /// Returns how many units that marks.
    pub fn marker_ready(&mut self, encoder: u64) -> u64 {
        let marker = self.config.marker_counts;
        let mut marked = self.gone_without_code.len() as u64;
        self.gone_without_code.clear();
        for unit in self
            .units
            .iter_mut()
            .take_while(|u| u.entry.saturating_add(marker) <= encoder)
        {
            if unit.code.is_none() && !unit.unprinted {
                unit.unprinted = true;
                marked += 1;
            }
        }
        marked
    }

    /// A camera result; returns the decision it makes, if it decides a unit.
    ///
    /// `code_of` turns decoded data into the stored code text (e.g. GS1 HRI), or `None` when the
    /// data is not a code at all.
    pub fn result(
        &mut self,
        result: &ReadResult,
        code_of: impl Fn(&str) -> Option<String>,
    ) -> Option<Verdict> {
        let key = (result.reader.clone(), result.seq);
        if self.seen.contains(&key) {
            self.stats.redelivered += 1;
            return None;
        }
        if self.seen_order.len() == SEEN_CAPACITY
            && let Some(old) = self.seen_order.pop_front()
        {
            self.seen.remove(&old);
        }
        self.seen.insert(key.clone());
        self.seen_order.push_back(key);
        self.stats.results += 1;
        let Some(reader) = self
            .config
            .readers
            .iter()
            .position(|r| r.name == result.reader)
        else {
            self.stats.unmatched += 1;
            return None;
        };

        let code = result.data.as_deref().and_then(&code_of);
        // Content first: a code in flight names its unit — unless the result's encoder count
        // puts the read elsewhere (another unit carrying a wrong code that happens to be in
        // flight, e.g. the next one's): then it is that other unit's mismatch.
        if let Some(code) = &code
            && let Some(&unit) = self.in_flight.get(code)
            && self.read_near(unit, reader, result.encoder)
        {
            return self.read_own_code(unit, reader, result);
        }
        // Position second: the unit under the camera gets what was (not) read.
        let Some(unit) = self.unit_at_reader(reader, result.encoder) else {
            self.stats.unmatched += 1;
            return None;
        };
        // A code sent to the marker, on a unit still without one: the read proves the print
        // before the marker's confirmation arrived (a slow poll, a link being re-established).
        if let Some(code) = &code
            && self.batch_codes.contains(code)
            && !self.attached.contains(code)
            && let Some(u) = self
                .units
                .iter_mut()
                .find(|u| u.id == unit && u.code.is_none())
        {
            u.code = Some(code.clone());
            self.attached.insert(code.clone());
            self.proven_by_camera.insert(code.clone());
            self.in_flight.insert(code.clone(), unit);
            return self.read_own_code(unit, reader, result);
        }
        let reason = match &code {
            None if result.data.is_none() => RejectReason::NoRead,
            None => RejectReason::Unknown,
            Some(code) if self.verified.contains(code) => RejectReason::Duplicate,
            Some(code) if self.batch_codes.contains(code) => RejectReason::Mismatch,
            Some(_) => RejectReason::Unknown,
        };
        self.decide(unit, Outcome::Rejected(reason), result)
    }

    /// Where the first unit in the register reaches the gate: [`Tracker::advance`] has
    /// nothing to do before the encoder gets there.
    pub fn next_departure(&self) -> Option<u64> {
        self.units
            .front()
            .map(|u| u.entry.saturating_add(self.config.gate_counts))
    }

    /// The encoder is at `encoder`: units that reached the gate leave the register; those never
    /// decided are `late`.
    pub fn advance(&mut self, encoder: u64) -> Vec<Verdict> {
        while self
            .gone_without_code
            .front()
            .is_some_and(|(_, _, until)| *until < encoder)
        {
            self.gone_without_code.pop_front();
        }
        let mut late = Vec::new();
        while let Some(front) = self.units.front() {
            if front.entry.saturating_add(self.config.gate_counts) > encoder {
                break;
            }
            let Some(unit) = self.units.pop_front() else {
                break;
            };
            if unit.code.is_none() && !unit.unprinted {
                let reason = match unit.decision {
                    Some(Outcome::Rejected(reason)) => reason,
                    // Not reached: a verified unit has its code. Undecided: late, below.
                    Some(Outcome::Verified) | None => RejectReason::Late,
                };
                if self.gone_without_code.len() == MAX_GONE_WITHOUT_CODE {
                    self.gone_without_code.pop_front();
                }
                let until = encoder.saturating_add(self.config.gate_counts);
                self.gone_without_code.push_back((unit.id, reason, until));
            }
            if unit.decision.is_some() {
                continue;
            }
            if let Some(code) = &unit.code {
                self.in_flight.remove(code);
            }
            let verdict = self.verdict(
                unit.id,
                unit.entry,
                unit.code,
                Outcome::Rejected(RejectReason::Late),
                None,
                None,
            );
            late.push(verdict);
        }
        late
    }

    /// The line runs again after its alarm was acknowledged: the rejects in a row count from
    /// here. Without this, the first reject after a restart for "too many rejects in a row"
    /// stopped the line again, and a line whose units came back rejected for a while after a
    /// stall (the ones on the belt through it) never got going again.
    pub fn line_restarted(&mut self) {
        self.consecutive_rejects = 0;
    }

    /// Records that the gate did not confirm the reject of `unit` (counted as `gate_fault`).
    pub fn gate_fault(&mut self) {
        self.count_reject(RejectReason::GateFault);
    }

    fn count_reject(&mut self, reason: RejectReason) {
        if let Some(i) = RejectReason::ALL.iter().position(|r| *r == reason) {
            self.stats.rejected[i] += 1;
        }
    }

    /// `reader` read the code on `unit` (the one it carries): it passes there unless the grade
    /// is below that reader's minimum; with every reader passed, the unit is verified.
    fn read_own_code(&mut self, unit: u64, reader: usize, result: &ReadResult) -> Option<Verdict> {
        let bit = 1u64 << reader;
        let min_grade = self.config.readers[reader].min_grade;
        let u = self.units.iter_mut().find(|u| u.id == unit)?;
        // A second read by the same reader (a double trigger) changes nothing, whatever it says.
        if u.decision.is_some() || u.passed & bit != 0 {
            self.stats.extra_reads += 1;
            return None;
        }
        if let Some(grade) = result.grade
            && grade < min_grade
        {
            return self.decide(unit, Outcome::Rejected(RejectReason::LowGrade), result);
        }
        u.passed |= bit;
        u.worst_grade = match (u.worst_grade, result.grade) {
            (Some(worst), Some(grade)) => Some(worst.min(grade)),
            (worst, grade) => worst.or(grade),
        };
        if u.passed != self.all_readers {
            self.stats.partial_passes += 1;
            return None;
        }
        let grade = u.worst_grade;
        let mut verdict = self.decide(unit, Outcome::Verified, result)?;
        verdict.grade = grade;
        Some(verdict)
    }

    /// Whether a read by `reader` at `encoder` can be of `unit` (always, without an encoder
    /// count).
    fn read_near(&self, unit: u64, reader: usize, encoder: Option<u64>) -> bool {
        let Some(at) = encoder else { return true };
        let position = self.config.readers[reader].position_counts;
        self.units
            .iter()
            .find(|u| u.id == unit)
            .is_some_and(|u| (u.entry + position).abs_diff(at) <= self.config.window_counts)
    }

    /// The undecided unit, not yet passed by `reader`, whose expected position at that reader
    /// is nearest `encoder` within the window; without an encoder count, the oldest such unit.
    fn unit_at_reader(&self, reader: usize, encoder: Option<u64>) -> Option<u64> {
        let bit = 1u64 << reader;
        let position = self.config.readers[reader].position_counts;
        let mut undecided = self
            .units
            .iter()
            .filter(|u| u.decision.is_none() && u.passed & bit == 0);
        match encoder {
            Some(at) => undecided
                .map(|u| ((u.entry + position).abs_diff(at), u.id))
                .filter(|(distance, _)| *distance <= self.config.window_counts)
                .min_by_key(|(distance, _)| *distance)
                .map(|(_, id)| id),
            None => undecided.next().map(|u| u.id),
        }
    }

    fn decide(&mut self, unit_id: u64, outcome: Outcome, result: &ReadResult) -> Option<Verdict> {
        let unit = self.units.iter_mut().find(|u| u.id == unit_id)?;
        if unit.decision.is_some() {
            self.stats.extra_reads += 1;
            return None;
        }
        unit.decision = Some(outcome);
        let (entry, code) = (unit.entry, unit.code.clone());
        if let Some(code) = &code {
            self.in_flight.remove(code);
        }
        Some(self.verdict(
            unit_id,
            entry,
            code,
            outcome,
            result.data.clone(),
            result.grade,
        ))
    }

    fn verdict(
        &mut self,
        unit: u64,
        entry: u64,
        code: Option<String>,
        outcome: Outcome,
        data: Option<String>,
        grade: Option<Grade>,
    ) -> Verdict {
        let stop_line = match outcome {
            Outcome::Verified => {
                self.stats.verified += 1;
                self.consecutive_rejects = 0;
                if let Some(code) = &code {
                    self.verified.insert(code.clone());
                }
                false
            }
            Outcome::Rejected(reason) => {
                self.count_reject(reason);
                // Once, as the count reaches the limit: each further reject in a row is the
                // same alarm, still standing (it was raised, logged and counted as a line stop
                // again for every one, and put the demo's restart off each time).
                self.consecutive_rejects = self.consecutive_rejects.saturating_add(1);
                self.consecutive_rejects == self.config.max_consecutive_rejects
            }
        };
        Verdict {
            unit,
            code,
            outcome,
            data,
            grade,
            fire_at: entry.saturating_add(self.config.gate_counts),
            stop_line,
        }
    }
}
