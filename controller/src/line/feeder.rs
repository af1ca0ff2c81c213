//! Allocation for the line: codes are issued for the batch from serial blocks this controller
//! reserves durably (SPEC §4, §7), a few at a time, and handed to the marker's feed loop. A code
//! is `reserved` in the store before the marker ever sees it, so a crash at any moment leaves it
//! accounted for (the restart voids it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;
use tracemark_drivers::marker::{Code, CodeId};

use tracemark_store::{Store, StoreError};

/// Serials reserved per block: a restart abandons at most one block's unissued rest.
const BLOCK_SIZE: u64 = 10_000;

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
/// taking them; returns the error that stopped it, if any.
pub(crate) async fn feed(
    store: Store,
    product: String,
    batch: i64,
    chunk: u64,
    book: CodeBook,
    marker: mpsc::Sender<Code>,
) -> Result<(), StoreError> {
    let mut block = store.reserve_block(&product, BLOCK_SIZE).await?;
    loop {
        let left = u64::try_from(block.end_counter - block.issued_end).unwrap_or(0);
        if left == 0 {
            block = store.reserve_block(&product, BLOCK_SIZE).await?;
            continue;
        }
        // Wait for room first: codes are issued only when the marker is about to take them.
        if marker.reserve().await.is_err() {
            return Ok(());
        }
        let count = chunk.min(left);
        let issued = store
            .issue_from_block(&product, block.id, count, Some(batch))
            .await?;
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
