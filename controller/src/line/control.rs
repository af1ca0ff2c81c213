//! An operator's commands to a running line (SPEC §8: operators pause, resume and stop the
//! line and acknowledge its alarms), from the HMI or the API of the process that runs it.
//!
//! [`line_control`] makes a cloneable [`LineControl`] (held by the HTTP server) and the
//! [`ControlInbox`] the line's core reads; each command comes back answered — carried out, or
//! refused with why — once the core's state machine has taken it (`machine.rs`
//! `LineMachine::command`), so an answer never says more than the line did.

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

/// A command to the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineCommand {
    /// Hold the belt (the PLC's line-stop output) until resumed; the marker keeps its buffer
    /// and the units on the belt stay where they are, tracked by the encoder.
    Pause {
        /// Why, in the operator's words.
        reason: String,
    },
    /// Let a paused line run again (refused while an alarm holds it: acknowledge first).
    Resume,
    /// End the run: printing stops and the belt drains, as Ctrl-C does (`line/mod.rs`).
    Stop {
        /// Why, in the operator's words.
        reason: String,
    },
    /// The operator has seen the alarm that stopped the line: restart the marker if it can
    /// be, then let the belt run (unless paused).
    Acknowledge,
}

impl LineCommand {
    /// The command in the audit chain's words (`line.<verb>`).
    pub fn verb(&self) -> &'static str {
        match self {
            LineCommand::Pause { .. } => "paused",
            LineCommand::Resume => "resumed",
            LineCommand::Stop { .. } => "stopped",
            LineCommand::Acknowledge => "alarm_acknowledged",
        }
    }

    /// The operator's reason, for the commands that carry one.
    pub fn reason(&self) -> Option<&str> {
        match self {
            LineCommand::Pause { reason } | LineCommand::Stop { reason } => Some(reason),
            LineCommand::Resume | LineCommand::Acknowledge => None,
        }
    }
}

/// Where the line is, as its operator sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LineMode {
    /// The operator's hold, with its reason.
    pub paused: Option<String>,
    /// An alarm stopped the line and waits to be acknowledged.
    pub alarm_active: bool,
    /// The run is ending (printing stopped, the belt drains).
    pub stopping: bool,
}

/// Why a command was not carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// The line's state does not allow it (resume while an alarm holds the line, say).
    #[error("{0}")]
    Refused(String),
    /// The line's run has ended: there is nothing to command.
    #[error("the line's run has ended")]
    Ended,
}

pub(super) type Request = (LineCommand, oneshot::Sender<Result<LineMode, ControlError>>);

/// Sends commands to one running line. Cloning shares the line.
#[derive(Debug, Clone)]
pub struct LineControl {
    tx: mpsc::Sender<Request>,
}

/// The line core's end of [`LineControl`].
#[derive(Debug)]
pub struct ControlInbox {
    pub(super) rx: mpsc::Receiver<Request>,
}

/// A control for a line and the inbox its runtime reads (`run_line_controlled`).
pub fn line_control() -> (LineControl, ControlInbox) {
    // Commands come from people: a handful in flight is plenty, and a full queue answers
    // `Ended`-free back-pressure by waiting, never by dropping one.
    let (tx, rx) = mpsc::channel(16);
    (LineControl { tx }, ControlInbox { rx })
}

impl LineControl {
    /// Hands `command` to the line and waits for the line's answer.
    pub async fn send(&self, command: LineCommand) -> Result<LineMode, ControlError> {
        let (answer, answered) = oneshot::channel();
        self.tx
            .send((command, answer))
            .await
            .map_err(|_| ControlError::Ended)?;
        answered.await.map_err(|_| ControlError::Ended)?
    }
}

impl ControlInbox {
    /// An inbox no control sends to (a line run without one).
    pub fn unused() -> ControlInbox {
        line_control().1
    }

    /// The next command and where its answer goes; `None` once every control is dropped.
    /// The line's core reads its inbox itself; this is for a stand-in line (the API's tests).
    pub async fn next(&mut self) -> Option<(LineCommand, CommandAnswer)> {
        let (command, answer) = self.rx.recv().await?;
        Some((command, CommandAnswer(answer)))
    }
}

/// Where the answer to one command goes.
#[derive(Debug)]
pub struct CommandAnswer(oneshot::Sender<Result<LineMode, ControlError>>);

impl CommandAnswer {
    /// Answers the command (an answer nobody waits for any more is dropped).
    pub fn send(self, answer: Result<LineMode, ControlError>) {
        let _ = self.0.send(answer);
    }
}
