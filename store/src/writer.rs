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
        self.submit(change).await?.await
    }

    /// Queues a change (waiting only for room in the queue) and returns what answers once it
    /// is committed. Changes are applied in the order they are queued, so a caller that must
    /// not wait for each commit — the line runtime — still gets `sent` before `printed`.
    pub async fn submit(&self, change: Transition) -> Result<Committed, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request { change, reply })
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        Ok(Committed(answer))
    }
}

/// The answer to one queued change: resolves once its group is committed (or refused).
#[derive(Debug)]
pub struct Committed(oneshot::Receiver<Result<(), StoreError>>);

impl std::future::Future for Committed {
    type Output = Result<(), StoreError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|answer| answer.unwrap_or(Err(StoreError::WriterNoAnswer)))
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
                let changes = group.len();
                let source = std::sync::Arc::new(err);
                for request in group.drain(..) {
                    let _ = request.reply.send(Err(StoreError::GroupFailed {
                        changes,
                        source: source.clone(),
                    }));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Actor, CodeState};

    #[tokio::test]
    async fn a_stopped_writer_says_so() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("w.db").display());
        let actor = Actor {
            user: "test".into(),
            device: "test".into(),
        };
        let store = Store::open(&url, actor).await.expect("open");
        let (handle, task) = create_writer(store.clone(), 10);
        task.abort();
        let _ = task.await;
        let refused = handle
            .transition(Transition::to("x", CodeState::Sent))
            .await;
        assert!(
            matches!(refused, Err(StoreError::WriterStopped)),
            "{refused:?}"
        );
        assert_eq!(
            StoreError::WriterStopped.to_string(),
            "the store writer has stopped"
        );
        store.close().await;
    }
}
