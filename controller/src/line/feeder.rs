//! Allocation for the line: codes are issued for the batch from serial blocks this controller
//! reserves durably (SPEC §4, §7) and holds ahead — *codes in hand*, `[line]
//! codes_in_hand_minutes` of production at the nominal speed (issue 18, docs/plant.md) — a
//! few at a time, and handed to the marker's feed loop.
//!
//! Issuing goes through the store writer, in order with the line's other records
//! ([`WriterHandle::issue`]): it is committed, or, while the central store cannot be reached,
//! written to the edge journal, before the marker ever sees a code, so a crash at any moment
//! leaves it accounted for (the restart voids it). The texts are made here, from the
//! product's serial key, exactly as the store makes them ([`SerialIssuer`]).
//!
//! Blocks are reserved in the store, in a task of their own so the marker is never kept
//! waiting for one. While the store cannot be reached the line runs on the blocks in hand
//! (asking again every [`RETRY_FIRST`] doubling to [`RETRY_MAX`]). When they run out before
//! the store answers, the hand says so (`Hand::empty`) and the line core stops the line with
//! an alarm; the feeder keeps asking, and once a block comes the marker is fed again and the
//! alarm can be acknowledged (`line/machine.rs`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracemark_drivers::marker::{Code, CodeId};

use tracemark_store::journal::IssueRange;
use tracemark_store::serial::SerialIssuer;
use tracemark_store::writer::WriterHandle;
use tracemark_store::{Block, Store, StoreError};

/// Serials reserved per block: a restart abandons the unissued rest of the blocks in hand.
const BLOCK_SIZE: u64 = 10_000;

/// The first wait before asking an unreachable store again: short, so a restart costs little.
const RETRY_FIRST: Duration = Duration::from_millis(100);

/// The longest wait between two questions to an unreachable store.
const RETRY_MAX: Duration = Duration::from_secs(2);

/// Why allocation ended.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FeedError {
    /// The store refused (or the writer failed).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the feeder holds, for the line's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hand {
    /// The store answered the last reservation asked of it.
    pub(crate) reachable: bool,
    /// Serials held in reserved blocks, not issued yet.
    pub(crate) codes: u64,
}

impl Hand {
    /// Every code in hand is issued and the store cannot be reached for another block: the
    /// line must stop until it answers.
    pub(crate) fn empty(&self) -> bool {
        !self.reachable && self.codes == 0
    }
}

impl Default for Hand {
    fn default() -> Self {
        Self {
            reachable: true,
            codes: 0,
        }
    }
}

/// The texts of the codes between allocation and their last state on the line, by the id the
/// marker reports them with (the serial counter).
#[derive(Debug, Clone, Default)]
pub(crate) struct CodeBook(Arc<Mutex<HashMap<u64, String>>>);

impl CodeBook {
    fn insert(&self, id: u64, text: String) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, text);
    }

    pub(crate) fn get(&self, id: CodeId) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id.get())
            .cloned()
    }

    pub(crate) fn remove(&self, id: CodeId) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id.get())
    }
}

/// What the feeder issues, for whom, and how far ahead.
#[derive(Debug)]
pub(crate) struct FeedPlan {
    /// The product's codes, as the store makes them.
    pub(crate) issuer: SerialIssuer,
    /// The batch the codes are issued for.
    pub(crate) batch: i64,
    /// Codes issued at a time.
    pub(crate) chunk: u64,
    /// Serials to hold in reserved blocks (`Line::codes_in_hand`).
    pub(crate) in_hand: u64,
}

/// The blocks in hand and the reservation under way.
struct Blocks {
    store: Store,
    product: String,
    held: VecDeque<Block>,
    reserving: Option<JoinHandle<Result<Block, StoreError>>>,
    next_try: Instant,
    wait: Duration,
    hand: watch::Sender<Hand>,
}

impl Blocks {
    fn codes(&self) -> u64 {
        self.held
            .iter()
            .map(|b| u64::try_from(b.end_counter - b.issued_end).unwrap_or(0))
            .sum()
    }

    fn publish(&self, reachable: bool) {
        let hand = Hand {
            reachable,
            codes: self.codes(),
        };
        self.hand.send_if_modified(|old| {
            let changed = *old != hand;
            *old = hand;
            changed
        });
    }

    /// Starts a reservation when the hand is short of `target` and none is under way.
    fn top_up(&mut self, target: u64) {
        if self.reserving.is_none() && self.codes() < target && Instant::now() >= self.next_try {
            let store = self.store.clone();
            let product = self.product.clone();
            self.reserving = Some(tokio::spawn(async move {
                store.reserve_block(&product, BLOCK_SIZE).await
            }));
        }
    }

    /// Takes the reservation's answer: when it is done, or (`wait`) whenever it comes.
    async fn settle(&mut self, wait: bool) -> Result<(), FeedError> {
        let done = self.reserving.as_ref().is_some_and(JoinHandle::is_finished);
        if !(done || wait) {
            return Ok(());
        }
        let Some(reserving) = self.reserving.take() else {
            return Ok(());
        };
        let answer = reserving.await.map_err(|e| {
            FeedError::Store(StoreError::Corrupt(format!(
                "the reservation task failed: {e}"
            )))
        })?;
        match answer {
            Ok(block) => {
                if !self.hand.borrow().reachable {
                    tracing::info!("the store answers again: serial blocks are reserved again");
                }
                self.held.push_back(block);
                self.wait = RETRY_FIRST;
                self.publish(true);
                Ok(())
            }
            Err(error) if error.is_unreachable() => {
                if self.hand.borrow().reachable {
                    tracing::warn!(
                        %error,
                        in_hand = self.codes(),
                        "the store cannot be reached: the line runs on the codes in hand"
                    );
                }
                self.next_try = Instant::now() + self.wait;
                self.wait = (self.wait * 2).min(RETRY_MAX);
                if self.codes() == 0 && self.hand.borrow().codes > 0 {
                    tracing::error!(
                        %error,
                        "no codes left in hand and the central store cannot be reached"
                    );
                }
                self.publish(false);
                Ok(())
            }
            Err(other) => Err(FeedError::Store(other)),
        }
    }
}

impl Drop for Blocks {
    fn drop(&mut self) {
        if let Some(reserving) = self.reserving.take() {
            reserving.abort();
        }
    }
}

/// Issues codes of the plan's product for its batch and sends them to the marker until the
/// marker stops taking them; returns the error that stopped it, if any. `hand` says what is
/// held and whether the store answers (see the module docs).
pub(crate) async fn feed(
    store: Store,
    plan: FeedPlan,
    writer: WriterHandle,
    book: CodeBook,
    marker: mpsc::Sender<Code>,
    hand: watch::Sender<Hand>,
) -> Result<(), FeedError> {
    let mut blocks = Blocks {
        store,
        product: plan.issuer.product().id.clone(),
        held: VecDeque::new(),
        reserving: None,
        next_try: Instant::now(),
        wait: RETRY_FIRST,
        hand,
    };
    // At least one block, so a store that dies at the start still leaves codes to print.
    let target = plan.in_hand.max(1);
    loop {
        blocks.top_up(target);
        blocks.settle(false).await?;
        let Some(block) = blocks.held.front_mut() else {
            // Nothing in hand: wait for a reservation, asking again after the back-off while
            // the store cannot be reached (the hand says so; the line core stops the line).
            if blocks.reserving.is_none() {
                tokio::select! {
                    () = marker.closed() => return Ok(()),
                    () = tokio::time::sleep_until(blocks.next_try) => {}
                }
                blocks.top_up(target);
            }
            tokio::select! {
                () = marker.closed() => return Ok(()),
                settled = blocks.settle(true) => settled?,
            }
            continue;
        };
        let left = u64::try_from(block.end_counter - block.issued_end).unwrap_or(0);
        if left == 0 {
            blocks.held.pop_front();
            continue;
        }
        // Wait for room first: codes are issued only when the marker is about to take them.
        if marker.reserve().await.is_err() {
            return Ok(());
        }
        let count = i64::try_from(plan.chunk.min(left)).unwrap_or(1);
        let range = IssueRange {
            product_id: block.product_id.clone(),
            block_id: block.id,
            first_counter: block.issued_end,
            end_counter: block.issued_end + count,
            batch: Some(plan.batch),
        };
        let (_, texts) = plan.issuer.codes(range.first_counter, range.end_counter)?;
        let first = range.first_counter;
        block.issued_end = range.end_counter;
        // Recorded (committed or journaled) before the marker sees a code.
        writer.issue(range).await?;
        let reachable = blocks.hand.borrow().reachable;
        blocks.publish(reachable);
        for (counter, text) in (first..).zip(texts) {
            let id = u64::try_from(counter).unwrap_or(0);
            book.insert(id, text.clone());
            if marker.send(Code::new(CodeId::new(id), text)).await.is_err() {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracemark_store::fault::Outage;
    use tracemark_store::journal::Journal;
    use tracemark_store::writer::create_writer_with_journal;
    use tracemark_store::{Actor, CodeState, Grade, NewBatch, Product, Scheme, SerialAlphabet};

    /// A store behind a manual outage switch, a product `p`, a batch of it, and a writer with
    /// a journal.
    async fn setup(dir: &std::path::Path) -> (Store, Outage, i64, WriterHandle) {
        let url = format!("sqlite://{}", dir.join("feeder.db").display());
        let outage = Outage::manual();
        let actor = Actor {
            user: "tester".into(),
            device: "test-bench".into(),
        };
        let store = Store::open_with_outage(&url, actor, outage.clone())
            .await
            .expect("open");
        store
            .add_product(&Product {
                id: "p".into(),
                scheme: Scheme::Gs1,
                key: "09506000134352".into(),
                name: "P".into(),
                category: "wire and cable".into(),
                model: "BV 2.5".into(),
                mandatory_standard: "GB/T 5023.3-2008".into(),
                licence_no: None,
                ccc_cert_no: None,
                warranty_months: None,
                retention_years: 5,
                serial_alphabet: SerialAlphabet::Digits,
                serial_length: 12,
                pack_sizes: Vec::new(),
                min_grade: Grade::C,
            })
            .await
            .expect("product");
        let batch = store
            .create_batch(&NewBatch {
                product_id: "p".into(),
                lot: "L1".into(),
                quantity: 10,
                production_date: "2026-12-06".into(),
                expiry_date: None,
                line: Some("line-1".into()),
                simulated: true,
            })
            .await
            .expect("batch")
            .id;
        let journal = Journal::open(&dir.join("journal.db"))
            .await
            .expect("journal");
        let (writer, _task) =
            create_writer_with_journal(store.clone(), 100, Duration::ZERO, journal)
                .await
                .expect("writer");
        (store, outage, batch, writer)
    }

    async fn plan(store: &Store, batch: i64, in_hand: u64) -> FeedPlan {
        FeedPlan {
            issuer: store.serial_issuer("p").await.expect("issuer"),
            batch,
            chunk: 2,
            in_hand,
        }
    }

    /// The store goes away after the first block: the marker keeps getting codes from the
    /// hand, the hand says the store does not answer, and the codes issued meanwhile reach
    /// the store once it answers again (through the journal).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_line_runs_on_the_codes_in_hand() {
        let dir = tempfile::tempdir().expect("a directory");
        let (store, outage, batch, writer) = setup(dir.path()).await;
        let (marker, mut codes) = mpsc::channel(2);
        let (hand, mut seen) = watch::channel(Hand::default());
        // Far more than a block's worth: the feeder keeps asking for another, so the outage
        // finds it asking.
        let plan = plan(&store, batch, 1_000 * BLOCK_SIZE).await;
        let mut status = writer.status();
        let task = tokio::spawn(feed(
            store.clone(),
            plan,
            writer,
            CodeBook::default(),
            marker,
            hand,
        ));
        let first = codes.recv().await.expect("a code");
        outage.begin();
        // The marker takes codes on (the feeder learns of a failed reservation between two
        // issues); the hand says so while codes keep coming.
        let mut during = Vec::new();
        while seen.borrow_and_update().reachable || during.len() < 6 {
            during.push(codes.recv().await.expect("a code from the hand"));
        }
        assert!(seen.borrow().codes > 0, "{:?}", *seen.borrow());
        status
            .wait_for(|s| s.spooled > 0)
            .await
            .expect("issued into the journal");
        outage.end();
        status
            .wait_for(|s| s.spooled == 0 && !s.unreachable)
            .await
            .expect("forwarded");
        for code in std::iter::once(&first).chain(&during) {
            assert_eq!(
                store.code(code.text()).await.expect("issued").state,
                CodeState::Reserved
            );
        }
        drop(codes);
        assert!(task.await.expect("the feeder").is_ok());
    }

    /// No block in hand and no store: the hand says it is empty (the line stops on it), and
    /// the marker is fed again once the store answers.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_empty_hand_waits_for_the_store_and_feeds_again() {
        let dir = tempfile::tempdir().expect("a directory");
        let (store, outage, batch, writer) = setup(dir.path()).await;
        let plan = plan(&store, batch, 10).await;
        outage.begin();
        let (marker, mut codes) = mpsc::channel(2);
        let (hand, mut seen) = watch::channel(Hand::default());
        let task = tokio::spawn(feed(
            store.clone(),
            plan,
            writer,
            CodeBook::default(),
            marker,
            hand,
        ));
        seen.wait_for(Hand::empty).await.expect("the hand is empty");
        assert!(codes.try_recv().is_err(), "no code without a block");
        outage.end();
        let code = codes.recv().await.expect("a code once the store answers");
        assert_eq!(
            store.code(code.text()).await.expect("issued").state,
            CodeState::Reserved
        );
        assert!(!seen.borrow().empty(), "{:?}", *seen.borrow());
        drop(codes);
        assert!(task.await.expect("the feeder").is_ok());
    }
}
