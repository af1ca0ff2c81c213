//! The label station (issue 14 item 3; docs/aggregation.md "Labels"): before a package closes,
//! its GS1 logistic label is printed on the line's ZPL label printer and read back by the label
//! scanner; only a label read as the package's own SSCC lets it close.
//!
//! One call does it all, [`LabelStation::label_and_verify`] (or, closing the package in the same
//! transaction as its label is verified, [`LabelStation::label_and_close`]), for any packing
//! mode:
//!
//! 1. the label's data from the store (`data.rs`: SSCC, the product's GTIN, the count, the
//!    batch's lot and dates), rendered once into ZPL by the template
//!    (`tracemark_drivers::zpl::logistic`);
//! 2. the label printed (`printer.rs`): the template is stored once per connection, the label
//!    recalled with its fields, and confirmed printed when `~HS` shows nothing held; ribbon or
//!    paper out, head open or paused waits for the operator (the alarm says so), the package
//!    waits with it and is never lost;
//! 3. the scanner's read awaited (its MQTT result, the unit camera's payload, SPEC §5), at most
//!    `read_timeout`: the SSCC read back → `verified` with the count on the label; a no-read or
//!    another code → a `package.label_rejected` event with what was read, and the label is
//!    printed again, up to `reprint_limit` times; then the package stays open (`labelled`) and
//!    the error says why — the packing mode reports it and the operator takes over. The print
//!    (the package `labelled`) is recorded with what its read records, in one transaction
//!    (`Store::label_read`): one commit a label, not two.
//!
//! Reads that arrived before a label was sent are stale and dropped, so a late read of an
//! earlier label is never taken for the new one.

mod data;
mod printer;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{Mutex, mpsc, watch};
use tracemark_drivers::transport::Transport;
use tracemark_drivers::zpl::logistic::{LogisticError, LogisticTemplate};
use tracemark_store::label::{LabelFault, LabelRead, LabelRejection};
use tracemark_store::{Batch, Package, Product, Store, StoreError};

use crate::config::{Line, PackingLabel};
use crate::verify::mqtt::{Link, Received, spawn_subscription};
use crate::verify::payload::FieldMap;
use printer::{LabelPrinter, Printed};

/// What the label station did in one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LabelReport {
    /// Labels printed, reprints included.
    pub printed: u64,
    /// Packages whose label was read back as their SSCC.
    pub verified: u64,
    /// Labels that did not read back (each recorded as `package.label_rejected`).
    pub rejected: u64,
    /// Times the printer needed the operator (ribbon, paper, head, pause).
    pub operator_waits: u64,
    /// Packages left open: no label read back within the reprint limit, or no label printed.
    pub failed: u64,
}

/// A package labelled and verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelOutcome {
    /// The package.
    pub sscc: String,
    /// Labels printed for it, the good one included.
    pub labels: u32,
    /// The labels that did not read back, in order.
    pub rejected: Vec<LabelRejection>,
}

/// Why a package was not labelled.
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    /// No label read back as the SSCC within the reprint limit: the package stays open.
    #[error(
        "package {sscc}: no label read back as its SSCC in {labels} label(s) (last read: {last}); \
         it stays open (labelled) for the operator"
    )]
    Rejected {
        /// The package.
        sscc: String,
        /// Labels printed.
        labels: u32,
        /// What the scanner read last.
        last: String,
    },
    /// The label's data cannot be made (a lot with parentheses, a count out of range).
    #[error("package {sscc}: label data: {reason}")]
    Data {
        /// The package.
        sscc: String,
        /// Why.
        reason: String,
    },
    /// A healthy printer did not print the label.
    #[error("package {sscc}: label printer: {reason}")]
    Printer {
        /// The package.
        sscc: String,
        /// Why.
        reason: String,
    },
    /// The template cannot make the label.
    #[error("label template: {0}")]
    Template(#[from] LogisticError),
    /// The scanner's subscription cannot be set up.
    #[error("label scanner: {0}")]
    Scanner(String),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The station's settings, from `[packing.label]`.
#[derive(Debug, Clone)]
pub struct LabelSettings {
    /// How the printer is reached.
    pub transport: Transport,
    /// The template.
    pub template: LogisticTemplate,
    /// The scanner's reader name.
    pub scanner: String,
    /// Reprints before giving up.
    pub reprint_limit: u32,
    /// Longest wait for the scanner's read.
    pub read_timeout: Duration,
    /// Longest wait for a healthy printer to print.
    pub print_timeout: Duration,
    /// Longest wait for a printer reply.
    pub reply_timeout: Duration,
}

impl LabelSettings {
    /// The settings of a line's `[packing.label]`.
    pub fn of(label: &PackingLabel) -> Result<Self, LabelError> {
        Ok(Self {
            transport: label.transport.to_device(),
            template: LogisticTemplate::new(&label.template_name, &label.template_body)?,
            scanner: label.scanner.clone(),
            reprint_limit: label.reprint_limit,
            read_timeout: label.read_timeout,
            print_timeout: label.print_timeout,
            reply_timeout: label.reply_timeout,
        })
    }
}

/// How long a station alone (`pack label`, `pack station`, the twin's hand packer) waits for
/// the broker to acknowledge the label scanner's subscription ([`LabelStation::for_line`]).
pub const SCANNER_READY: Duration = Duration::from_secs(5);

/// One label station shared by the stations of a line that label (a manual carton station and
/// its palletiser print on the same printer): one label at a time.
pub type SharedLabelStation = Arc<Mutex<LabelStation>>;

/// The label printer and scanner of a packing station.
pub struct LabelStation {
    store: Store,
    printer: LabelPrinter,
    reads: mpsc::Receiver<Received>,
    scanner: String,
    reprint_limit: u32,
    read_timeout: Duration,
    alarm: watch::Receiver<Option<String>>,
    report: LabelReport,
    /// The batch and product of the last label ([`data::label_data`]).
    batch_read: Option<(Batch, Product)>,
}

impl std::fmt::Debug for LabelStation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabelStation")
            .field("scanner", &self.scanner)
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

impl LabelStation {
    /// A station printing with `settings` and taking the scanner's reads from `reads` (its
    /// MQTT results; results of other readers are ignored).
    pub fn new(store: Store, settings: LabelSettings, reads: mpsc::Receiver<Received>) -> Self {
        let (alarm_tx, alarm) = watch::channel(None);
        Self {
            store,
            printer: LabelPrinter::new(
                settings.transport,
                settings.template,
                settings.reply_timeout,
                settings.print_timeout,
                alarm_tx,
            ),
            reads,
            scanner: settings.scanner,
            reprint_limit: settings.reprint_limit,
            read_timeout: settings.read_timeout,
            alarm,
            report: LabelReport::default(),
            batch_read: None,
        }
    }

    /// The station of `line`'s `[packing.label]`, its scanner subscribed over the line's
    /// broker (client id `<line client id>-labels`) and the broker's acknowledgement of the
    /// subscription awaited for at most `ready_within` (a read published before it would be
    /// lost, and the first label reprinted for nothing); `None` without `[packing.label]`.
    pub async fn for_line(
        store: Store,
        line: &Line,
        ready_within: Duration,
    ) -> Result<Option<Self>, LabelError> {
        let Some(label) = line.packing.as_ref().and_then(|p| p.label.as_ref()) else {
            return Ok(None);
        };
        let settings = LabelSettings::of(label)?;
        let mut subscription = crate::verify::subscription_for(line).ok_or_else(|| {
            LabelError::Scanner("the line has no [mqtt]: the scanner's reads come over it".into())
        })?;
        subscription.client_id = format!("{}-labels", subscription.client_id);
        subscription.readers = BTreeMap::from([(label.scanner.clone(), FieldMap::default())]);
        subscription
            .passed_over
            .retain(|reader| reader != &label.scanner);
        let broker = subscription.endpoint.describe();
        let (reads, mut link) =
            spawn_subscription(subscription).map_err(|e| LabelError::Scanner(e.to_string()))?;
        let subscribed =
            tokio::time::timeout(ready_within, link.wait_for(|l| *l == Link::Subscribed)).await;
        if !matches!(subscribed, Ok(Ok(_))) {
            return Err(LabelError::Scanner(format!(
                "the label scanner's subscription at MQTT broker {broker} was not ready within \
                 {} ms",
                ready_within.as_millis()
            )));
        }
        Ok(Some(Self::new(store, settings, reads)))
    }

    /// [`Self::label_and_verify`] as an operator's close needs it: `Ok` lets the package
    /// close, as the operator's own step (the hand-scanner station, whose close is recorded
    /// as the operator's). A label that never verified is the close's error (field `label`).
    /// A store that cannot be reached is that error as it is.
    pub async fn label_before_close(&mut self, sscc: &str) -> Result<(), StoreError> {
        match self.label_and_verify(sscc).await {
            Ok(_) => Ok(()),
            Err(LabelError::Store(e)) if e.is_unreachable() => Err(e),
            Err(e) => Err(StoreError::invalid("label", e)),
        }
    }

    /// [`Self::label_and_verify`] as a packing station's close step needs it, the close
    /// included: the label read back verifies and closes the package in one transaction
    /// (`Store::label_read`), and the answer is the closed package. `package` is the package
    /// as the station's last store step answered it (its label's data is made from it, with
    /// no read). A label that never verified is the close's error (field `label`), and the
    /// package stays open. The store's errors are as they are: one that cannot be reached
    /// lets the station wait for the store and label again (`store_gate.rs`).
    pub async fn label_and_close(&mut self, package: &Package) -> Result<Package, StoreError> {
        match self
            .labelled(&package.sscc, Some(package), AfterRead::Close)
            .await
        {
            Ok((_, closed)) => Ok(closed),
            Err(LabelError::Store(e)) => Err(e),
            Err(e) => Err(StoreError::invalid("label", e)),
        }
    }

    /// This station, to be shared by the stations of a line.
    pub fn shared(self) -> SharedLabelStation {
        Arc::new(Mutex::new(self))
    }

    /// What the operator must do at the label printer, `None` when nothing.
    pub fn alarm(&self) -> watch::Receiver<Option<String>> {
        self.alarm.clone()
    }

    /// What the station did so far.
    pub fn report(&self) -> &LabelReport {
        &self.report
    }

    /// Prints the label of the open package `sscc` and has it read back; reprints a label
    /// that does not read back as the SSCC, up to the reprint limit. `Ok`: the package is
    /// `verified` and may close. `Err`: it stays open, and the error says why.
    pub async fn label_and_verify(&mut self, sscc: &str) -> Result<LabelOutcome, LabelError> {
        self.labelled(sscc, None, AfterRead::Verify)
            .await
            .map(|(outcome, _)| outcome)
    }

    /// [`Self::label_and_verify`], and what is recorded when the label reads back is `then`'s;
    /// the answer has the package as that left it. The package is `known`, or read.
    async fn labelled(
        &mut self,
        sscc: &str,
        known: Option<&Package>,
        then: AfterRead,
    ) -> Result<(LabelOutcome, Package), LabelError> {
        let result = self.attempts(sscc, known, then).await;
        match &result {
            Ok(_) => self.report.verified += 1,
            // Not left open: the station labels it again once the store answers.
            Err(LabelError::Store(error)) if error.is_unreachable() => {
                tracing::warn!(sscc, %error, "label: the store went away; labelling again later");
            }
            Err(error) => {
                self.report.failed += 1;
                tracing::error!(sscc, %error, "label not verified: the package stays open");
            }
        }
        result
    }

    async fn attempts(
        &mut self,
        sscc: &str,
        known: Option<&Package>,
        then: AfterRead,
    ) -> Result<(LabelOutcome, Package), LabelError> {
        let read;
        let package = match known {
            Some(package) => package,
            None => {
                read = self.store.package(sscc).await?;
                &read
            }
        };
        let data = data::label_data(&self.store, package, &mut self.batch_read).await?;
        let label = self.printer.template().label(&data)?;
        let mut rejected = Vec::new();
        for attempt in 1..=self.reprint_limit.saturating_add(1) {
            // Reads before this label are of earlier labels.
            while self.reads.try_recv().is_ok() {}
            match self.printer.print(sscc, &label).await {
                Printed::Yes { waited } => {
                    self.report.printed += 1;
                    self.report.operator_waits += u64::from(waited);
                }
                Printed::Not(reason) => {
                    return Err(LabelError::Printer {
                        sscc: sscc.to_owned(),
                        reason,
                    });
                }
            }
            // The print is recorded with what its read records, in one transaction.
            let read = self.read().await;
            let fault = match read.as_deref() {
                None => LabelFault::NoRead,
                Some(data) if reads_as(data, sscc) => {
                    let record = match then {
                        AfterRead::Verify => LabelRead::Verified,
                        AfterRead::Close => LabelRead::Closed,
                    };
                    let package = self.store.label_read(sscc, record).await?;
                    let outcome = LabelOutcome {
                        sscc: sscc.to_owned(),
                        labels: attempt,
                        rejected,
                    };
                    return Ok((outcome, package));
                }
                Some(_) => LabelFault::Mismatch,
            };
            let rejection = LabelRejection {
                attempt,
                fault,
                read,
            };
            tracing::warn!(sscc, attempt, fault = fault.as_str(), read = ?rejection.read, "label rejected: reprinting");
            self.store
                .label_read(sscc, LabelRead::Rejected(&rejection))
                .await?;
            self.report.rejected += 1;
            rejected.push(rejection);
        }
        let last = rejected
            .last()
            .and_then(|r| r.read.clone())
            .unwrap_or_else(|| "nothing".to_owned());
        Err(LabelError::Rejected {
            sscc: sscc.to_owned(),
            labels: u32::try_from(rejected.len()).unwrap_or(u32::MAX),
            last,
        })
    }

    /// The scanner's next read of this station's scanner: its data, `None` for a no-read or
    /// nothing within the read timeout.
    async fn read(&mut self) -> Option<String> {
        let scanner = self.scanner.clone();
        let reads = &mut self.reads;
        let wait = async move {
            while let Some(received) = reads.recv().await {
                tracing::debug!(?received, "label scanner: received");
                match received {
                    Received::Result(result) if result.reader == scanner => return result.data,
                    Received::Result(_) => {}
                    // Other readers' results come on the same topic tree.
                    Received::Malformed { .. } => {}
                }
            }
            None
        };
        tokio::time::timeout(self.read_timeout, wait)
            .await
            .ok()
            .flatten()
    }
}

/// What a label read back as its SSCC records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterRead {
    /// The package `verified`; it stays open (`tracemark pack label`).
    Verify,
    /// The package `verified` and `closed`, in one transaction (a packing station's close).
    Close,
}

/// The scanner read `data` (with its symbology identifier) is the SSCC `sscc`.
fn reads_as(data: &str, sscc: &str) -> bool {
    tracemark_codes::gs1::parse(data)
        .ok()
        .is_some_and(|scan| scan.code.get("00") == Some(sscc))
}
