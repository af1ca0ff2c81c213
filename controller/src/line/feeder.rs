//! Allocation for the line: codes are issued for the batch from serial blocks this controller
//! reserves durably (SPEC §4, §7), a few at a time, and handed to the marker's feed loop. A code
//! is `reserved` in the store before the marker ever sees it, so a crash at any moment leaves it
//! accounted for (the restart voids it).
//!
//! A store that cannot be reached (a central PostgreSQL restarting, issue 18) does not end
//! allocation: the feeder asks again, every [`RETRY_FIRST`] doubling to [`RETRY_MAX`], and
//! says so on its `reachable` signal, until the store answers. An answer lost with its
//! connection cannot issue a code twice: the store, not the feeder, keeps each block's issue
//! counter, and codes issued whose answer was lost stay `reserved` and are voided at the stop.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tracemark_drivers::marker::{Code, CodeId};

use tracemark_store::{Store, StoreError};

/// Serials reserved per block: a restart abandons at most one block's unissued rest.
const BLOCK_SIZE: u64 = 10_000;

/// The first wait before asking an unreachable store again: short, so a restart costs little.
const RETRY_FIRST: Duration = Duration::from_millis(100);

/// The longest wait between two questions to an unreachable store.
const RETRY_MAX: Duration = Duration::from_secs(2);

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

/// Issues codes of `product` for `batch` and sends them to the marker until the marker stops
/// taking them; returns the error that stopped it, if any. While the store cannot be reached it
/// waits and asks again, with `reachable` false (see the module docs).
pub(crate) async fn feed(
    store: Store,
    product: String,
    batch: i64,
    chunk: u64,
    book: CodeBook,
    marker: mpsc::Sender<Code>,
    reachable: watch::Sender<bool>,
) -> Result<(), StoreError> {
    let Some(mut block) = answered(&marker, &reachable, || {
        store.reserve_block(&product, BLOCK_SIZE)
    })
    .await?
    else {
        return Ok(());
    };
    loop {
        let left = u64::try_from(block.end_counter - block.issued_end).unwrap_or(0);
        if left == 0 {
            match answered(&marker, &reachable, || {
                store.reserve_block(&product, BLOCK_SIZE)
            })
            .await?
            {
                Some(next) => block = next,
                None => return Ok(()),
            }
            continue;
        }
        // Wait for room first: codes are issued only when the marker is about to take them.
        if marker.reserve().await.is_err() {
            return Ok(());
        }
        let count = chunk.min(left);
        let Some(issued) = answered(&marker, &reachable, || {
            store.issue_from_block(&product, block.id, count, Some(batch))
        })
        .await?
        else {
            return Ok(());
        };
        block.issued_end = issued.first_counter + issued.codes.len() as i64;
        for (counter, text) in (issued.first_counter..).zip(issued.codes) {
            let id = u64::try_from(counter).unwrap_or(0);
            book.insert(id, text.clone());
            if marker.send(Code::new(CodeId::new(id), text)).await.is_err() {
                return Ok(());
            }
        }
    }
}

/// `ask`'s answer, asking again while the store cannot be reached (`reachable` false
/// meanwhile, true again with the answer). `None` when the marker stopped taking codes while
/// the feeder waited; any other error is returned.
async fn answered<T, F, Fut>(
    marker: &mpsc::Sender<Code>,
    reachable: &watch::Sender<bool>,
    mut ask: F,
) -> Result<Option<T>, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut wait = RETRY_FIRST;
    loop {
        match ask().await {
            Ok(answer) => {
                if !*reachable.borrow() {
                    tracing::info!("the store answers again: allocation resumes");
                    reachable.send_replace(true);
                }
                return Ok(Some(answer));
            }
            Err(error) if error.is_unreachable() => {
                if *reachable.borrow() {
                    tracing::warn!(%error, "the store cannot be reached: allocation waits for it");
                    reachable.send_replace(false);
                }
                tokio::select! {
                    () = marker.closed() => return Ok(None),
                    () = tokio::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(RETRY_MAX);
            }
            Err(other) => return Err(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracemark_store::fault::Outage;
    use tracemark_store::{Actor, CodeState, Grade, NewBatch, Product, Scheme, SerialAlphabet};

    /// An outage before the first block: the feeder waits (and says so), then the codes come.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn allocation_waits_for_the_store_and_resumes() {
        let dir = tempfile::tempdir().expect("a directory");
        let url = format!("sqlite://{}", dir.path().join("feeder.db").display());
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
        outage.begin();
        let (marker, mut codes) = mpsc::channel(2);
        let (reachable, mut seen) = watch::channel(true);
        let task = tokio::spawn(feed(
            store.clone(),
            "p".into(),
            batch,
            2,
            CodeBook::default(),
            marker,
            reachable,
        ));
        seen.wait_for(|r| !*r).await.expect("the feeder waits");
        assert!(codes.try_recv().is_err(), "no code while the store is down");
        outage.end();
        let first = codes.recv().await.expect("a code once the store answers");
        seen.wait_for(|r| *r).await.expect("reachable again");
        assert_eq!(
            store.code(first.text()).await.expect("stored").state,
            CodeState::Reserved
        );
        drop(codes);
        assert!(task.await.expect("the feeder").is_ok());
    }

    /// A refusal (not an outage) still ends allocation, with the store's error.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refusal_ends_allocation() {
        let dir = tempfile::tempdir().expect("a directory");
        let url = format!("sqlite://{}", dir.path().join("feeder.db").display());
        let actor = Actor {
            user: "tester".into(),
            device: "test-bench".into(),
        };
        let store = Store::open(&url, actor).await.expect("open");
        let (marker, _codes) = mpsc::channel(2);
        let (reachable, _seen) = watch::channel(true);
        let ended = feed(
            store,
            "no-such-product".into(),
            1,
            2,
            CodeBook::default(),
            marker,
            reachable,
        )
        .await;
        assert!(
            matches!(ended, Err(ref e) if !e.is_unreachable()),
            "{ended:?}"
        );
    }
}
