//! The store's side of a controller's edge journal (issue 18 item 2, `crate::journal`): the
//! writes a controller tags with its journal's numbers, and forwarding what the journal holds.

use std::collections::HashMap;

use super::journal::{Entry, IssueRange, Journal};
use super::serial::{SerialIssuer, key_from_hex};
use super::{Store, StoreError, Transition, sql};

/// What one call of [`Store::forward_journal`] forwarded.
#[derive(Debug, Default)]
pub struct Forwarded {
    /// Entries forwarded (and removed from the journal); 0 when it was empty.
    pub entries: u64,
    /// Codes issued and changes recorded in them.
    pub records: u64,
    /// Changes the store refused (each logged; they cannot be made on the line again).
    pub refused: Vec<StoreError>,
}

/// The issuers of the products a writer issues codes for, each read from the store once. What
/// makes a product's codes — its scheme, key, serial alphabet and length, and its serial key —
/// never changes once the product is added (what may: its GS1 company prefix length,
/// `sql/export.rs`, and its inspection report, `lookup.rs`), so a held issuer makes the texts
/// the store would make from what it holds now, and an issue costs no read of them.
#[derive(Debug, Default)]
pub struct Issuers(HashMap<String, SerialIssuer>);

impl Store {
    /// The issuer of `product_id`'s codes: a controller that holds a block issues from it with
    /// this while the store cannot be reached, and the texts are those the store would issue.
    pub async fn serial_issuer(&self, product_id: &str) -> Result<SerialIssuer, StoreError> {
        let product = self.product(product_id).await?;
        let (product, key_hex) = self
            .product_key_of(product.scheme, &product.key)
            .await?
            .ok_or_else(|| {
                StoreError::Corrupt(format!("product {product_id} has no serial key"))
            })?;
        let key = key_from_hex(&product.id, &key_hex)?;
        SerialIssuer::new(product, &key)
    }

    /// Issues the codes of `ranges` (one transaction, one event): each must start where its
    /// block's issued serials end. With a `journal`, each range is under its number in it,
    /// and ranges the journal's mark says were applied are skipped. `issuers` are the
    /// products' issuers the caller holds; one missing is read and added.
    pub async fn issue_tagged(
        &self,
        ranges: &[(i64, &IssueRange)],
        journal: Option<&str>,
        issuers: &mut Issuers,
    ) -> Result<(), StoreError> {
        for (_, range) in ranges {
            if !issuers.0.contains_key(&range.product_id) {
                let issuer = self.serial_issuer(&range.product_id).await?;
                issuers.0.insert(range.product_id.clone(), issuer);
            }
        }
        sql::journal::issue(&self.db, &self.actor, &issuers.0, ranges, journal).await
    }

    /// Applies the changes of `entries`, each under its number in `journal`, in order (one
    /// transaction, one event), as [`Store::transition`] does; entries the journal's mark says
    /// were applied are skipped and answered `Ok`.
    pub async fn transition_tagged(
        &self,
        entries: &[(i64, &[Transition])],
        journal: &str,
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        let codes: Vec<&str> = entries
            .iter()
            .flat_map(|(_, changes)| changes.iter().map(|c| c.code.as_str()))
            .collect();
        let located = self.locator.locate(self, &codes).await?;
        sql::journal::changes(&self.db, &self.actor, entries, &located, journal).await
    }

    /// Forwards the oldest entries of `journal`, about `records` codes' worth, in two
    /// transactions (their issues, then their changes), and removes them from it. Calling it
    /// again after a crash or a lost answer applies nothing twice (the journal's marks).
    pub async fn forward_journal(
        &self,
        journal: &Journal,
        records: u64,
    ) -> Result<Forwarded, StoreError> {
        let entries = journal.oldest(records).await?;
        let Some(&(last, _)) = entries.last() else {
            return Ok(Forwarded::default());
        };
        let issues: Vec<(i64, &IssueRange)> = entries
            .iter()
            .flat_map(|(seq, entry)| match entry {
                Entry::Issues(ranges) => ranges.iter().map(|r| (*seq, r)).collect(),
                Entry::Changes(_) => Vec::new(),
            })
            .collect();
        if !issues.is_empty() {
            let mut issuers = Issuers::default();
            self.issue_tagged(&issues, Some(journal.id()), &mut issuers)
                .await?;
        }
        let changes: Vec<(i64, &[Transition])> = entries
            .iter()
            .filter_map(|(seq, entry)| match entry {
                Entry::Changes(changes) => Some((*seq, changes.as_slice())),
                Entry::Issues(_) => None,
            })
            .collect();
        let mut refused = Vec::new();
        if !changes.is_empty() {
            let answers = self.transition_tagged(&changes, journal.id()).await?;
            refused.extend(answers.into_iter().filter_map(Result::err));
        }
        journal.remove_through(last).await?;
        for error in &refused {
            tracing::error!(%error, journal = journal.id(), "a forwarded change was refused");
        }
        Ok(Forwarded {
            entries: entries.len() as u64,
            records: entries.iter().map(|(_, e)| e.size()).sum(),
            refused,
        })
    }
}
