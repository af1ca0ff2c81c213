//! What goes into the line core's machine and what comes out of it (`machine.rs`): the events
//! the core's task hands it, and the actions it asks the task to carry out, in order.

use tracemark_drivers::lineio::StackLight;
use tracemark_drivers::marker::MarkerState;

use super::gate::IoCommand;
use crate::verify::ReadResult;
use tracemark_store::Transition;

/// Something that happened on the line, as the core's task hands it to the machine. Codes are
/// their text: the task looks the marker's code ids up in the code book.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LineEvent<'a> {
    /// A stop was requested (Ctrl-C, the end of the twin's units): drain the line.
    StopRequested,
    /// The clock: a restart that is due by `now` happens.
    Tick,
    /// One PLC poll: the encoder count and the photocell's new detections.
    Poll {
        /// Encoder count.
        encoder: u64,
        /// Latched encoder counts of new detections, oldest first.
        detections: &'a [u64],
        /// Detections lost between two polls.
        missed: u64,
    },
    /// The gate diverted this (rejected) unit.
    Diverted(u64),
    /// The gate did not divert this (rejected) unit: no confirmation, too late, or no outcome.
    GateFault(u64),
    /// The PLC link was lost; the line I/O task reconnects.
    IoLinkLost(&'a str),
    /// The line I/O task ended: no more polls, no commands taken.
    IoEnded,
    /// A command could not be handed to the line I/O task: it has ended.
    IoUndelivered(IoCommand),
    /// The marker's state changed.
    MarkerState(&'a MarkerState),
    /// The code is in the marker's buffer.
    Sent(String),
    /// The marker confirmed printing the code.
    Printed(String),
    /// The code was never printed (the marker's buffer was cleared).
    Voided(String),
    /// A print-go found the marker's buffer empty.
    EmptyPrintGo,
    /// The marker printed this many times without a code from tracemark.
    PrintWithoutCode(u64),
    /// The answer to [`Action::QueryMarker`]: the marker's state and whether it was printing.
    MarkerQueried {
        /// The marker's state.
        state: &'a MarkerState,
        /// Printing was started and not stopped.
        printing: bool,
    },
    /// The answer to [`Action::StartMarker`]: started, or why not.
    MarkerStarted(Result<(), String>),
    /// A camera result.
    Result(&'a ReadResult),
    /// A reader message that could not be taken (malformed, unknown reader).
    Malformed,
    /// The camera results' subscription ended.
    ResultsEnded,
    /// Allocation stopped, with why: no more codes reach the marker.
    FeederFailed(String),
    /// The codes in hand: `empty` when every one is issued and the central store cannot be
    /// reached for more (the line stops until it answers; issue 18).
    Hand {
        /// No code left in hand, and none to be had.
        empty: bool,
    },
    /// The store refused or could not take a code state change.
    RecordFailed,
}

/// What the machine asks of the task, to be carried out in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    /// Record a code state change (changes reach the store in the order they are asked for).
    Record(Transition),
    /// Hand the PLC a reject: divert `unit` when the encoder reaches `fire_at`.
    Reject {
        /// The tracker's unit number.
        unit: u64,
        /// Encoder count at which the unit reaches the gate.
        fire_at: u64,
    },
    /// Hold the line stopped (true) or let it run.
    LineStop(bool),
    /// Show this on the stack light.
    Light(StackLight),
    /// An alarm, in words (also the last alarm in the counters).
    Alarm(String),
    /// Stop issuing codes.
    StopFeeder,
    /// Stop printing; the marker clears its buffer and voids the codes in it.
    StopMarker,
    /// Report the marker's state and whether it prints ([`LineEvent::MarkerQueried`]).
    QueryMarker,
    /// Start the marker, clearing a latched fault ([`LineEvent::MarkerStarted`]).
    StartMarker,
}
