//! Group commit for code state changes on the hot path: one writer task owns the writes, takes
//! every change waiting in its queue (up to a limit), applies them in one transaction with one
//! event, and only then answers each caller — so an acknowledged change is durable, and the
//! cost of a commit is shared by all changes in its group.

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{Store, StoreError, Transition};

/// Changes applied in one transaction at most.
pub const DEFAULT_MAX_GROUP: usize = 50_000;

#[derive(Debug)]
struct Request {
    change: Transition,
    reply: oneshot::Sender<Result<(), StoreError>>,
}

/// A cloneable handle to the writer task.
#[derive(Debug, Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Request>,
}

impl WriterHandle {
    /// Queues a change and waits until it is committed (or refused).
    pub async fn transition(&self, change: Transition) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request { change, reply })
            .await
            .map_err(|_| StoreError::Failed("the store writer has stopped".to_owned()))?;
        answer.await.map_err(|_| {
            StoreError::Failed("the store writer stopped before answering".to_owned())
        })?
    }
}

/// Creates the writer: the handle, and the task to spawn. The task ends when every handle is
/// dropped and the queue is empty.
pub fn create_writer(store: Store, max_group: usize) -> (WriterHandle, JoinHandle<()>) {
    let max_group = max_group.max(1);
    let (tx, rx) = mpsc::channel(max_group * 2);
    let task = tokio::spawn(run(store, rx, max_group));
    (WriterHandle { tx }, task)
}

async fn run(store: Store, mut rx: mpsc::Receiver<Request>, max_group: usize) {
    let mut group = Vec::with_capacity(max_group);
    loop {
        if rx.recv_many(&mut group, max_group).await == 0 {
            return;
        }
        let changes: Vec<Transition> = group.iter().map(|r| r.change.clone()).collect();
        match store.transition(&changes).await {
            Ok(results) => {
                for (request, result) in group.drain(..).zip(results) {
                    // A caller that gave up waiting does not stop the others.
                    let _ = request.reply.send(result);
                }
            }
            Err(err) => {
                tracing::error!(error = %err, changes = group.len(), "group commit failed");
                let message = format!("group commit of {} changes failed: {err}", group.len());
                for request in group.drain(..) {
                    let _ = request.reply.send(Err(StoreError::Failed(message.clone())));
                }
            }
        }
    }
}
