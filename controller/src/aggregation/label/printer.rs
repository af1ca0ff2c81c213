//! The label printer as the label station uses it: one ZPL link (reconnected when lost), the
//! template stored once per connection (`^DF`), a label sent as it is needed and confirmed
//! printed when `~HS` shows nothing held (docs/protocols/zpl.md). The printer prints each label
//! as it arrives (tear-off, peel-off, cutter or rewind mode); a printer in applicator mode would
//! hold it for a start-print signal the station never gives, and is reported as such.
//!
//! A fault the operator must clear — ribbon or paper out, head open (no `~HS` answer at all on
//! current firmware), paused — is waited out: the package waits, is never lost, and the fault
//! is reported on the station's alarm until it clears.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tracemark_drivers::marker::LinkError;
use tracemark_drivers::transport::{BoxedStream, Transport};
use tracemark_drivers::zpl::ZplLink;
use tracemark_drivers::zpl::logistic::LogisticTemplate;
use tracemark_drivers::zpl::status::{HostStatus, PrintMode};

/// How often `~HS` is asked while a label prints or a fault waits for the operator.
pub(super) const POLL: Duration = Duration::from_millis(50);

/// The printer's side of one label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Printed {
    /// It printed; `waited` says whether the operator had to clear a fault first.
    Yes {
        /// Operator waits on the way.
        waited: u32,
    },
    /// A healthy printer did not print it in time.
    Not(String),
}

pub(super) struct LabelPrinter {
    transport: Transport,
    template: LogisticTemplate,
    reply_timeout: Duration,
    print_timeout: Duration,
    link: Option<ZplLink<BoxedStream>>,
    /// What the operator must do, for the HMI and logs; `None` when nothing.
    alarm: watch::Sender<Option<String>>,
}

impl LabelPrinter {
    pub(super) fn new(
        transport: Transport,
        template: LogisticTemplate,
        reply_timeout: Duration,
        print_timeout: Duration,
        alarm: watch::Sender<Option<String>>,
    ) -> Self {
        Self {
            transport,
            template,
            reply_timeout,
            print_timeout,
            link: None,
            alarm,
        }
    }

    /// The template it prints.
    pub(super) fn template(&self) -> &LogisticTemplate {
        &self.template
    }

    /// `~HS`, connecting (and storing the template) first when there is no link. A link error
    /// drops the link: the next call reconnects.
    async fn status(&mut self) -> Result<HostStatus, LinkError> {
        if self.link.is_none() {
            let stream = self.transport.open().await?;
            let mut link = ZplLink::new(stream, self.reply_timeout);
            link.send(self.template.store_bytes()).await?;
            self.link = Some(link);
        }
        let Some(link) = self.link.as_mut() else {
            return Err(LinkError::Closed);
        };
        let status = link.host_status().await;
        if status.is_err() {
            self.link = None;
        }
        status
    }

    /// What keeps the printer from printing a label now, if anything.
    fn blocked(status: &HostStatus) -> Option<String> {
        let mut reasons: Vec<String> = status.faults().into_iter().map(str::to_owned).collect();
        if status.paused() {
            reasons.push("paused".to_owned());
        }
        if status.print_mode() == PrintMode::Applicator {
            reasons.push(
                "in applicator print mode: a label would wait for a start-print signal (set \
                 tear-off or peel-off, ^MMT/^MMP)"
                    .to_owned(),
            );
        }
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }

    /// Waits until the printer can print (reporting what the operator must do meanwhile);
    /// returns whether it had to wait.
    async fn ready(&mut self, sscc: &str) -> bool {
        let mut waited = false;
        loop {
            let reason = match self.status().await {
                Ok(status) => match Self::blocked(&status) {
                    None => break,
                    Some(reason) => reason,
                },
                Err(error) => format!("no answer: {error}"),
            };
            self.raise(sscc, &reason, &mut waited);
            tokio::time::sleep(POLL).await;
        }
        self.clear(waited);
        waited
    }

    fn raise(&self, sscc: &str, reason: &str, waited: &mut bool) {
        let text = format!("label printer: {reason} (package {sscc} waits)");
        if self.alarm.borrow().as_deref() != Some(text.as_str()) {
            tracing::warn!(sscc, reason, "label printer needs the operator");
            self.alarm.send_replace(Some(text));
        }
        *waited = true;
    }

    fn clear(&self, waited: bool) {
        if waited {
            tracing::info!("label printer ready again");
            self.alarm.send_replace(None);
        }
    }

    /// Sends `label` and waits until it printed: `~HS` shows no label held and no fault. A
    /// fault on the way is waited out with the operator; a lost link is reconnected and the
    /// label sent again (it was not held: a printer that lost the link and came back has it or
    /// printed it, and a second copy is read and judged like any other label).
    pub(super) async fn print(&mut self, sscc: &str, label: &[u8]) -> Printed {
        let mut waits = 0;
        loop {
            waits += u32::from(self.ready(sscc).await);
            let Some(link) = self.link.as_mut() else {
                continue;
            };
            if link.send(label).await.is_err() {
                self.link = None;
                continue;
            }
            let mut deadline = Instant::now() + self.print_timeout;
            let mut waited = false;
            loop {
                tokio::time::sleep(POLL).await;
                let status = match self.status().await {
                    Ok(status) => status,
                    Err(error) => {
                        // Head open answers nothing: wait for the operator, then look again.
                        self.raise(sscc, &format!("no answer: {error}"), &mut waited);
                        continue;
                    }
                };
                if let Some(reason) = Self::blocked(&status) {
                    self.raise(sscc, &reason, &mut waited);
                    continue;
                }
                if waited {
                    // The operator cleared the fault: the label prints now, in its own time.
                    self.clear(true);
                    waits += 1;
                    waited = false;
                    deadline = Instant::now() + self.print_timeout;
                }
                if status.labels_pending() == 0 {
                    return Printed::Yes { waited: waits };
                }
                if Instant::now() >= deadline {
                    return Printed::Not(format!(
                        "the printer still holds {} label(s) after {:?}",
                        status.labels_pending(),
                        self.print_timeout
                    ));
                }
            }
        }
    }
}
