//! Group commit for code state changes on the hot path: one writer task owns the writes, takes
//! every change waiting in its queue (up to a limit), applies them in one transaction with one
//! event, and only then answers each caller — so an acknowledged change is durable, and the
//! cost of a commit is shared by all changes in its group.
//!
//! A group that fails because the store cannot be reached (`StoreError::is_unreachable`: a
//! central PostgreSQL restarting, issue 18) is held and committed again, in order, once the
//! store answers — every [`RETRY_FIRST`] doubling to [`RETRY_MAX`], for at most
//! [`HOLD_FOR`]; meanwhile new changes wait in the queue behind it, and
//! [`WriterHandle::status`] says how many are held. The changes are held in memory only: a
//! crash during an outage loses them (the edge journal of issue 18 item 2 will keep them on
//! disk).

use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::{Store, StoreError, Transition};

/// Changes applied in one transaction at most.
pub const DEFAULT_MAX_GROUP: usize = 50_000;

/// The first wait before committing a held group again: short, so a restart costs little.
pub const RETRY_FIRST: Duration = Duration::from_millis(100);

/// The longest wait between two attempts at a held group.
pub const RETRY_MAX: Duration = Duration::from_secs(2);

/// How long a group is held for a store that cannot be reached before it fails as before.
pub const HOLD_FOR: Duration = Duration::from_secs(300);

/// What the writer is doing about the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStatus {
    /// The store cannot be reached: the group of `held` changes waits for it.
    pub unreachable: bool,
    /// Changes held in the group being committed again (0 while the store answers).
    pub held: usize,
}

#[derive(Debug)]
struct Request {
    change: Transition,
    reply: oneshot::Sender<Result<(), StoreError>>,
}

/// A cloneable handle to the writer task.
#[derive(Debug, Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Request>,
    status: watch::Receiver<WriterStatus>,
}

impl WriterHandle {
    /// Whether the store answers the writer, and how many changes it holds when it does not.
    pub fn status(&self) -> watch::Receiver<WriterStatus> {
        self.status.clone()
    }

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
    let (status_tx, status) = watch::channel(WriterStatus::default());
    let task = tokio::spawn(run(store, rx, max_group, status_tx));
    (WriterHandle { tx, status }, task)
}

async fn run(
    store: Store,
    mut rx: mpsc::Receiver<Request>,
    max_group: usize,
    status: watch::Sender<WriterStatus>,
) {
    let mut group = Vec::with_capacity(max_group);
    loop {
        if rx.recv_many(&mut group, max_group).await == 0 {
            return;
        }
        let changes: Vec<Transition> = group.iter().map(|r| r.change.clone()).collect();
        match commit_holding(&store, &changes, &status).await {
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

/// Commits `changes`, holding them while the store cannot be reached (for at most
/// [`HOLD_FOR`]); `status` says so meanwhile.
async fn commit_holding(
    store: &Store,
    changes: &[Transition],
    status: &watch::Sender<WriterStatus>,
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let started = tokio::time::Instant::now();
    let mut wait = RETRY_FIRST;
    loop {
        match store.transition(changes).await {
            Err(err) if err.is_unreachable() && started.elapsed() < HOLD_FOR => {
                if !status.borrow().unreachable {
                    tracing::warn!(
                        error = %err,
                        held = changes.len(),
                        "the store cannot be reached: the writer holds its changes for it"
                    );
                }
                status.send_replace(WriterStatus {
                    unreachable: true,
                    held: changes.len(),
                });
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(RETRY_MAX);
            }
            answer => {
                if status.borrow().unreachable {
                    tracing::info!(
                        held = changes.len(),
                        "the store answers again: the held changes are committed"
                    );
                    status.send_replace(WriterStatus::default());
                }
                return answer;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::Outage;
    use crate::{Actor, CodeState, NewBatch, Product};

    /// A change queued during an outage is held, and committed once the store answers.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn changes_are_held_through_an_outage() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("w.db").display());
        let actor = Actor {
            user: "test".into(),
            device: "test".into(),
        };
        let outage = Outage::manual();
        let store = Store::open_with_outage(&url, actor, outage.clone())
            .await
            .expect("open");
        let product = Product {
            id: "p".into(),
            scheme: crate::Scheme::Gs1,
            key: "09506000134352".into(),
            name: "P".into(),
            category: "wire and cable".into(),
            model: "BV 2.5".into(),
            mandatory_standard: "GB/T 5023.3-2008".into(),
            licence_no: None,
            ccc_cert_no: None,
            warranty_months: None,
            retention_years: 5,
            serial_alphabet: crate::SerialAlphabet::Digits,
            serial_length: 12,
            pack_sizes: Vec::new(),
            min_grade: crate::Grade::C,
        };
        store.add_product(&product).await.expect("product");
        let batch = store
            .create_batch(&NewBatch {
                product_id: "p".into(),
                lot: "L1".into(),
                quantity: 1,
                production_date: "2026-12-06".into(),
                expiry_date: None,
                line: None,
                simulated: false,
            })
            .await
            .expect("batch");
        let code = store
            .allocate("p", 1, Some(batch.id))
            .await
            .expect("allocate")
            .codes
            .remove(0);
        let (handle, task) = create_writer(store.clone(), 10);
        let mut status = handle.status();
        outage.begin();
        let committed = handle
            .submit(Transition::to(code.as_str(), CodeState::Sent))
            .await
            .expect("queued");
        status
            .wait_for(|s| s.unreachable && s.held == 1)
            .await
            .expect("held");
        outage.end();
        committed.await.expect("committed after the outage");
        assert_eq!(
            store.code(&code).await.expect("the code").state,
            CodeState::Sent
        );
        assert_eq!(*handle.status().borrow(), WriterStatus::default());
        drop(handle);
        task.await.expect("the writer ends");
    }

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
