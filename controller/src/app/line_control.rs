//! An operator's control of a running line (SPEC §8: operators pause, resume and stop the line
//! and acknowledge its alarms), for the HMI and the API of the process that runs it
//! (`run --http`, `demo --http`).
//!
//! The line carries a command out first (`line::LineControl`); only then does the batch follow
//! (a pause pauses the batch, a resume sets it running) and the audit chain record who did it
//! and why (`line.paused` …, store `record_line_command`). A refused command changes nothing.

use tracemark_store::{Actor, Batch, BatchState, Store};

use super::AppError;
use crate::line::{ControlError, LineCommand, LineControl, LineMode};

/// The longest reason an operator may give, in characters: a sentence, not a report.
pub const MAX_REASON: usize = 200;

/// A line this process runs, as a command reaches it: its id, the batch it produces, its
/// control.
#[derive(Debug, Clone, Copy)]
pub struct RunningLine<'a> {
    /// The line id.
    pub line_id: &'a str,
    /// The batch it produces.
    pub batch: i64,
    /// Its control.
    pub control: &'a LineControl,
}

/// Checks an operator's reason: present, one line, at most [`MAX_REASON`] characters.
pub fn reason(text: &str) -> Result<String, AppError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(AppError::input(
            "reason",
            "say why (it goes into the audit chain with your name)",
        ));
    }
    if text.chars().count() > MAX_REASON {
        return Err(AppError::input(
            "reason",
            format!("at most {MAX_REASON} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(AppError::input(
            "reason",
            "one line of text, without control characters",
        ));
    }
    Ok(text.to_owned())
}

/// Hands `command` to `line` and, once the line has carried it out, moves its batch (a pause
/// pauses it, a resume sets it running) and records the command with `actor` and the reason.
pub async fn command(
    store: &Store,
    actor: &Actor,
    line: RunningLine<'_>,
    command: LineCommand,
) -> Result<LineMode, AppError> {
    let command = match command {
        LineCommand::Pause { reason: text } => LineCommand::Pause {
            reason: reason(&text)?,
        },
        LineCommand::Stop { reason: text } => LineCommand::Stop {
            reason: reason(&text)?,
        },
        other => other,
    };
    let mode = line
        .control
        .send(command.clone())
        .await
        .map_err(|error| match error {
            ControlError::Refused(why) => AppError::Conflict {
                field: "line",
                reason: format!("line {}: {why}", line.line_id),
            },
            ControlError::Ended => AppError::Conflict {
                field: "line",
                reason: format!("line {}: its run has ended", line.line_id),
            },
        })?;
    let store = store.with_actor(actor.clone());
    let batch_to = match command {
        LineCommand::Pause { .. } => Some((BatchState::Running, BatchState::Paused)),
        LineCommand::Resume => Some((BatchState::Paused, BatchState::Running)),
        LineCommand::Stop { .. } | LineCommand::Acknowledge => None,
    };
    if let Some((from, to)) = batch_to
        && store.batch(line.batch).await?.state == from
    {
        store.set_batch_state(line.batch, to).await?;
    }
    store
        .record_line_command(line.line_id, line.batch, command.verb(), command.reason())
        .await?;
    Ok(mode)
}

/// Moves batch `id` to `to` (`app::batches::set_state`), except for a batch a line of this
/// process is producing (`running`): pausing it pauses the line (with `reason`, or one saying
/// it came from the batch), resuming it resumes the line, and closing it is refused until the
/// line has stopped — a closed batch takes no codes, and the line would still be issuing them.
pub async fn set_batch_state(
    store: &Store,
    actor: &Actor,
    running: Option<RunningLine<'_>>,
    id: i64,
    to: BatchState,
    reason: Option<&str>,
) -> Result<Batch, AppError> {
    let Some(line) = running.filter(|line| line.batch == id) else {
        return super::batches::set_state(store, actor, id, to).await;
    };
    match to {
        BatchState::Paused => {
            let reason = reason.map_or_else(|| format!("batch {id} paused"), str::to_owned);
            command(store, actor, line, LineCommand::Pause { reason }).await?;
        }
        BatchState::Running => {
            // Resuming a batch the line does not hold is a batch that already runs.
            if store.batch(id).await?.state == BatchState::Paused {
                command(store, actor, line, LineCommand::Resume).await?;
            }
        }
        BatchState::Closed => {
            return Err(AppError::Conflict {
                field: "state",
                reason: format!(
                    "line {} is producing batch {id}: stop the line first, then close the batch",
                    line.line_id
                ),
            });
        }
        BatchState::Created => return super::batches::set_state(store, actor, id, to).await,
    }
    Ok(store.batch(id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_one_short_line() {
        assert_eq!(reason("  ink change ").ok().as_deref(), Some("ink change"));
        for bad in ["", "   ", "two\nlines", &"x".repeat(MAX_REASON + 1)] {
            match reason(bad) {
                Err(AppError::Input { field, .. }) => assert_eq!(field, "reason"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert!(reason(&"字".repeat(MAX_REASON)).is_ok());
    }
}
