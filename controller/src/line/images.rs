//! The core's side of reject images (`verify::images`): short notes, handed over without ever
//! waiting — which camera read decided a reject, and which code the reject was recorded for.
//! The image task matches and stores on its own; a note it cannot take now (the task behind)
//! is counted and its image dropped, never the line slowed.

use tokio::sync::mpsc;

use super::machine::Action;
use crate::verify::ReadResult;
use crate::verify::images::Note;
use tracemark_store::CodeState;

/// Notes waiting for the image task, at most.
pub(super) const NOTES: usize = 4096;

/// The sending end of the notes, held by the core.
#[derive(Debug)]
pub(super) struct ImageNotes {
    tx: mpsc::Sender<Note>,
    /// Notes the task could not take.
    pub(super) lost: u64,
}

impl ImageNotes {
    pub(super) fn new(tx: mpsc::Sender<Note>) -> Self {
        Self { tx, lost: 0 }
    }

    /// `result` was just handled into `actions`: each reject it made is noted with its read.
    pub(super) fn decided(&mut self, result: &ReadResult, actions: &[Action]) {
        for action in actions {
            if let Action::Reject { unit, .. } = action {
                self.send(Note::Decided {
                    unit: *unit,
                    reader: result.reader.clone(),
                    seq: result.seq,
                });
            }
        }
    }

    /// The gate settled `unit` into `actions`: the code its reject is recorded for is noted.
    pub(super) fn settled(&mut self, unit: u64, actions: &[Action]) {
        for action in actions {
            if let Action::Record(change) = action
                && change.to == CodeState::Rejected
            {
                self.send(Note::Settled {
                    unit,
                    code: change.code.clone(),
                });
            }
        }
    }

    fn send(&mut self, note: Note) {
        if self.tx.try_send(note).is_err() {
            self.lost += 1;
        }
    }
}
