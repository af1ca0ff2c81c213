//! Group commit for code state changes on the hot path: one writer task owns the writes, takes
//! every change waiting in its queue (up to a limit), applies them in one transaction with one
//! event, and only then answers each caller — so an acknowledged change is durable, and the
//! cost of a commit is shared by all changes in its group. Codes a controller issues from the
//! blocks it holds go through the same queue ([`WriterHandle::issue`]), so an issue is always
//! recorded before the changes of its codes.
//!
//! When the store cannot be reached (`StoreError::is_unreachable`: a central PostgreSQL
//! restarting, issue 18):
//! - **with an edge journal** ([`create_writer_with_journal`], `crate::journal`), the writer
//!   appends what it cannot commit to the journal, in order, and answers once it is on disk;
//!   everything after it goes to the journal too, until the journal has been forwarded to the
//!   store — every [`RETRY_FIRST`] doubling to [`RETRY_MAX`] — and is empty. Every commit
//!   carries its journal number, so a group whose COMMIT answer was lost, journaled and
//!   forwarded again, is not applied twice;
//! - **without one** ([`create_writer`]), it holds the failing group in memory and commits it
//!   again, in order, once the store answers (for at most [`HOLD_FOR`]); new changes wait in
//!   the queue behind it. A crash meanwhile loses them.
//!
//! [`WriterHandle::status`] says which, and how much is held or spooled.

use std::time::Duration;
use tracing::Instrument;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::journal::{Entry, IssueRange, Journal};
use super::{Issuers, Store, StoreError, Transition};

/// Changes applied in one transaction at most.
pub const DEFAULT_MAX_GROUP: usize = 50_000;

/// The first wait before committing a held group again: short, so a restart costs little.
pub const RETRY_FIRST: Duration = Duration::from_millis(100);

/// The longest wait between two attempts at a held group.
pub const RETRY_MAX: Duration = Duration::from_secs(2);

/// How long a group is held for a store that cannot be reached before it fails as before
/// (without a journal).
pub const HOLD_FOR: Duration = Duration::from_secs(300);

/// Records forwarded from the journal per pair of transactions.
pub const FORWARD_RECORDS: u64 = 20_000;

/// How long the line's writer gathers changes after the first of a group before it commits
/// them (`create_writer_with_journal`'s `linger`): a line at 1,200 units/min makes three
/// changes a unit, one every 15 ms or so, and every commit costs a transaction, a dozen
/// statements (each a round trip to SQLite's worker thread), an audit event and an fsync
/// (docs/performance.md "Controller profile"); gathering for 250 ms puts a dozen units or so
/// in one. Nothing on the decision path waits for it: a reject is handed to the gate before it
/// is recorded, packing waits for a case's commits anyway, and the one caller that waits — the
/// feeder, whose codes reach the marker only once their issue is recorded — does not linger:
/// an issue is committed at once, on its own, and the changes gathered before it go on
/// gathering (`Spool::gather`). A unit's records reach the store at most this much later, and
/// a kill -9 leaves at most this much to the restart's reconciliation.
pub const LINE_LINGER: Duration = Duration::from_millis(250);

/// A group this large is committed at once, lingering or not.
const LINGER_ENOUGH: usize = 1_000;

/// How long a writer whose every handle is gone keeps forwarding its journal before it ends
/// (what is left is forwarded by the next writer on the journal).
pub const FORWARD_AT_CLOSE: Duration = Duration::from_secs(10);

/// What the writer is doing about the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStatus {
    /// The store cannot be reached: the group of `held` changes waits for it, or what comes
    /// goes to the journal.
    pub unreachable: bool,
    /// Changes held in the group being committed again (without a journal).
    pub held: usize,
    /// Records (codes issued, changes) in the journal waiting to be forwarded.
    pub spooled: u64,
}

/// What a caller queues.
#[derive(Debug)]
enum Item {
    Change(Transition),
    Issue(IssueRange),
}

#[derive(Debug)]
struct Request {
    item: Item,
    reply: oneshot::Sender<Result<(), StoreError>>,
}

/// A cloneable handle to the writer task.
#[derive(Debug, Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Request>,
    status: watch::Receiver<WriterStatus>,
}

impl WriterHandle {
    /// Whether the store answers the writer, and how much it holds or spools when it does not.
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
        self.queue(Item::Change(change)).await
    }

    /// Issues the codes of `range` (from a block this controller holds), in order with the
    /// changes queued before and after it; answers once they are committed or journaled.
    pub async fn issue(&self, range: IssueRange) -> Result<(), StoreError> {
        self.queue(Item::Issue(range)).await?.await
    }

    async fn queue(&self, item: Item) -> Result<Committed, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request { item, reply })
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
    // In the caller's span: a line's writer logs under the line's name.
    let task = tokio::spawn(run(store, rx, max_group, status_tx).in_current_span());
    (WriterHandle { tx, status }, task)
}

/// Creates a writer that spools to `journal` while the store cannot be reached (module docs):
/// the handle, and the task. What the journal holds from before is forwarded first, before
/// anything queued is committed. After the first change of a group it gathers what comes for
/// up to `linger` (0: none, see [`LINE_LINGER`]) before it commits.
pub async fn create_writer_with_journal(
    store: Store,
    max_group: usize,
    linger: Duration,
    journal: Journal,
) -> Result<(WriterHandle, JoinHandle<()>), StoreError> {
    let max_group = max_group.max(1);
    let spooled = journal.size().await?.records;
    let (tx, rx) = mpsc::channel(max_group * 2);
    let (status_tx, status) = watch::channel(WriterStatus {
        spooled,
        ..WriterStatus::default()
    });
    let spool = Spool {
        store,
        journal,
        status: status_tx,
        spooled,
        wait: RETRY_FIRST,
        next_try: Instant::now(),
        linger,
        issuers: Issuers::default(),
    };
    let task = tokio::spawn(spool.run(rx, max_group).in_current_span());
    Ok((WriterHandle { tx, status }, task))
}

/// Consecutive requests of one kind: what one transaction commits.
enum Run<'a> {
    Changes(&'a [Request]),
    Issues(&'a [Request]),
}

/// `group` cut into runs of one kind, in order.
fn runs(group: &[Request]) -> Vec<Run<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=group.len() {
        let ends = i == group.len()
            || matches!(group[i].item, Item::Issue(_))
                != matches!(group[start].item, Item::Issue(_));
        if ends {
            let slice = &group[start..i];
            out.push(match slice[0].item {
                Item::Issue(_) => Run::Issues(slice),
                Item::Change(_) => Run::Changes(slice),
            });
            start = i;
        }
    }
    out
}

fn changes_of(requests: &[Request]) -> Vec<Transition> {
    requests
        .iter()
        .filter_map(|r| match &r.item {
            Item::Change(change) => Some(change.clone()),
            Item::Issue(_) => None,
        })
        .collect()
}

fn ranges_of(requests: &[Request]) -> Vec<IssueRange> {
    requests
        .iter()
        .filter_map(|r| match &r.item {
            Item::Issue(range) => Some(range.clone()),
            Item::Change(_) => None,
        })
        .collect()
}

/// Answers every request of `requests` with `failed` (shared).
fn fail_all(requests: Vec<Request>, failed: StoreError) {
    let changes = requests.len();
    let source = std::sync::Arc::new(failed);
    for request in requests {
        let _ = request.reply.send(Err(StoreError::GroupFailed {
            changes,
            source: source.clone(),
        }));
    }
}

async fn run(
    store: Store,
    mut rx: mpsc::Receiver<Request>,
    max_group: usize,
    status: watch::Sender<WriterStatus>,
) {
    let mut group = Vec::with_capacity(max_group);
    let mut issuers = Issuers::default();
    loop {
        if rx.recv_many(&mut group, max_group).await == 0 {
            return;
        }
        let mut answers: Vec<Result<(), StoreError>> = Vec::with_capacity(group.len());
        let mut failed = None;
        for run in runs(&group) {
            let outcome = match run {
                Run::Changes(requests) => {
                    commit_holding(&store, &changes_of(requests), &status).await
                }
                Run::Issues(requests) => {
                    let ranges = ranges_of(requests);
                    let tagged: Vec<(i64, &IssueRange)> = ranges.iter().map(|r| (0, r)).collect();
                    store
                        .issue_tagged(&tagged, None, &mut issuers)
                        .await
                        .map(|()| requests.iter().map(|_| Ok(())).collect())
                }
            };
            match outcome {
                Ok(results) => answers.extend(results),
                Err(err) => {
                    failed = Some(err);
                    break;
                }
            }
        }
        let answered = answers.len();
        let mut rest = group.split_off(answered);
        for (request, result) in group.drain(..).zip(answers) {
            // A caller that gave up waiting does not stop the others.
            let _ = request.reply.send(result);
        }
        if let Some(err) = failed {
            // What follows a failed run is not tried: it could depend on it.
            tracing::error!(error = %err, changes = rest.len(), "group commit failed");
            fail_all(std::mem::take(&mut rest), err);
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
    let started = Instant::now();
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
                    spooled: 0,
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

/// The writer with an edge journal.
struct Spool {
    store: Store,
    journal: Journal,
    status: watch::Sender<WriterStatus>,
    /// Records in the journal.
    spooled: u64,
    /// The wait before the next forwarding attempt after a failed one.
    wait: Duration,
    next_try: Instant,
    /// How long a group gathers after its first change.
    linger: Duration,
    /// The issuers of the products issued for so far.
    issuers: Issuers,
}

impl Spool {
    async fn run(mut self, mut rx: mpsc::Receiver<Request>, max_group: usize) {
        let mut group = Vec::with_capacity(max_group);
        loop {
            if self.spooled > 0 {
                // Spooling: what comes goes to the journal, in order, while the journal is
                // forwarded whenever the store may answer.
                while group.len() < max_group {
                    match rx.try_recv() {
                        Ok(request) => group.push(request),
                        Err(_) => break,
                    }
                }
                if !group.is_empty() {
                    self.append_from(std::mem::take(&mut group), None).await;
                    continue;
                }
                if Instant::now() >= self.next_try {
                    self.forward_once().await;
                    continue;
                }
                tokio::select! {
                    received = rx.recv_many(&mut group, max_group) => {
                        if received == 0 {
                            self.close().await;
                            return;
                        }
                    }
                    () = tokio::time::sleep_until(self.next_try) => {}
                }
                continue;
            }
            if rx.recv_many(&mut group, max_group).await == 0 {
                self.journal.close().await;
                return;
            }
            self.gather(&mut rx, &mut group, max_group).await;
            let gathered = std::mem::take(&mut group);
            if gathered.is_empty() {
                continue;
            }
            if self.spooled > 0 {
                // An issue of the group went to the journal: the changes follow it there.
                self.append_from(gathered, None).await;
            } else {
                self.commit(gathered).await;
            }
        }
    }

    /// Adds to `group` what arrives within the linger of its first change, until it holds
    /// [`LINGER_ENOUGH`] (or `max_group`). An issue does not linger: the feeder waits for it
    /// before the marker sees its codes (see [`LINE_LINGER`]), so it is committed at once, on
    /// its own, ahead of the changes gathered before it, which go on gathering. That order is
    /// safe because no change depends on a later issue (a change is about a code the marker
    /// printed, so its issue was answered before the change was queued), and numbers in the
    /// journal still follow the order of commits. If the issue goes to the journal, so do the
    /// changes (`run`). A closed queue ends it: the next receive sees it.
    async fn gather(
        &mut self,
        rx: &mut mpsc::Receiver<Request>,
        group: &mut Vec<Request>,
        max: usize,
    ) {
        let until = Instant::now() + self.linger;
        let enough = LINGER_ENOUGH.min(max);
        loop {
            if group
                .iter()
                .any(|request| matches!(request.item, Item::Issue(_)))
            {
                let (issues, changes): (Vec<Request>, Vec<Request>) = std::mem::take(group)
                    .into_iter()
                    .partition(|request| matches!(request.item, Item::Issue(_)));
                *group = changes;
                self.commit(issues).await;
                if self.spooled > 0 || group.is_empty() {
                    return;
                }
            }
            if self.linger.is_zero() || group.len() >= enough {
                return;
            }
            let room = max - group.len();
            match tokio::time::timeout_at(until, rx.recv_many(group, room)).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }

    /// Commits `group` run by run, each tagged with a journal number; from the first run the
    /// store cannot be reached for, the rest goes to the journal (that run under its number,
    /// so that if its COMMIT was in fact made, forwarding skips it).
    async fn commit(&mut self, mut group: Vec<Request>) {
        let mut answers: Vec<Result<(), StoreError>> = Vec::with_capacity(group.len());
        let mut unreachable_at: Option<(usize, i64, StoreError)> = None;
        for run in runs(&group) {
            let seq = self.journal.next_seq();
            let (len, outcome) = match run {
                Run::Changes(requests) => {
                    let changes = changes_of(requests);
                    let entry = [(seq, changes.as_slice())];
                    let outcome = self
                        .store
                        .transition_tagged(&entry, self.journal.id())
                        .await;
                    (requests.len(), outcome)
                }
                Run::Issues(requests) => {
                    let ranges = ranges_of(requests);
                    let tagged: Vec<(i64, &IssueRange)> = ranges.iter().map(|r| (seq, r)).collect();
                    let outcome = self
                        .store
                        .issue_tagged(&tagged, Some(self.journal.id()), &mut self.issuers)
                        .await
                        .map(|()| requests.iter().map(|_| Ok(())).collect());
                    (requests.len(), outcome)
                }
            };
            match outcome {
                Ok(results) => answers.extend(results),
                Err(err) if err.is_unreachable() => {
                    unreachable_at = Some((answers.len(), seq, err));
                    break;
                }
                Err(err) => {
                    tracing::error!(error = %err, changes = len, "group commit failed");
                    let source = std::sync::Arc::new(err);
                    answers.extend((0..len).map(|_| {
                        Err(StoreError::GroupFailed {
                            changes: len,
                            source: source.clone(),
                        })
                    }));
                }
            }
        }
        let answered = answers.len();
        let rest = group.split_off(answered);
        for (request, result) in group.drain(..).zip(answers) {
            let _ = request.reply.send(result);
        }
        if let Some((_, seq, err)) = unreachable_at {
            tracing::warn!(
                error = %err,
                records = rest.len(),
                journal = %self.journal.path().display(),
                "the store cannot be reached: the line's records go to the edge journal"
            );
            self.next_try = Instant::now() + RETRY_FIRST;
            self.wait = RETRY_FIRST;
            self.append_from(rest, Some(seq)).await;
        }
    }

    /// Appends `group`, its first run under `first_seq` when given, and answers it once on disk.
    async fn append_from(&mut self, group: Vec<Request>, first_seq: Option<i64>) {
        let mut first_seq = first_seq;
        let entries: Vec<(i64, Entry)> = runs(&group)
            .into_iter()
            .map(|run| {
                let seq = first_seq.take().unwrap_or_else(|| self.journal.next_seq());
                match run {
                    Run::Changes(requests) => (seq, Entry::Changes(changes_of(requests))),
                    Run::Issues(requests) => (seq, Entry::Issues(ranges_of(requests))),
                }
            })
            .collect();
        let records: u64 = entries.iter().map(|(_, e)| e.size()).sum();
        match self.journal.append(&entries).await {
            Ok(()) => {
                self.spooled += records;
                self.publish(true);
                for request in group {
                    let _ = request.reply.send(Ok(()));
                }
            }
            Err(err) => {
                tracing::error!(error = %err, "the edge journal cannot be written");
                fail_all(group, err);
            }
        }
    }

    /// Forwards one batch of the journal; says when it is empty.
    async fn forward_once(&mut self) {
        match self
            .store
            .forward_journal(&self.journal, FORWARD_RECORDS)
            .await
        {
            Ok(forwarded) if forwarded.entries == 0 => {
                tracing::info!("the store answers again: the edge journal is forwarded");
                self.spooled = 0;
                self.publish(false);
            }
            Ok(forwarded) => {
                self.spooled = self.spooled.saturating_sub(forwarded.records);
                self.wait = RETRY_FIRST;
                self.publish(false);
            }
            Err(err) => {
                if err.is_unreachable() {
                    tracing::debug!(error = %err, "the store still cannot be reached");
                } else {
                    tracing::error!(error = %err, "forwarding the edge journal failed");
                }
                self.next_try = Instant::now() + self.wait;
                self.wait = (self.wait * 2).min(RETRY_MAX);
                self.publish(true);
            }
        }
    }

    /// Every handle is gone: forward what is left for a while, and leave the rest on disk.
    async fn close(&mut self) {
        let until = Instant::now() + FORWARD_AT_CLOSE;
        while self.spooled > 0 && Instant::now() < until {
            tokio::time::sleep_until(self.next_try.min(until)).await;
            self.forward_once().await;
        }
        if self.spooled > 0 {
            tracing::warn!(
                records = self.spooled,
                journal = %self.journal.path().display(),
                "the edge journal keeps records the store has not taken: they are forwarded \
                 when the line runs next"
            );
        }
        self.journal.close().await;
    }

    fn publish(&self, unreachable: bool) {
        self.status.send_replace(WriterStatus {
            unreachable,
            held: 0,
            spooled: self.spooled,
        });
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
