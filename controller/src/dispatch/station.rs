//! The dispatch station's decisions, without I/O (docs/shipping.md "The dispatch station").
//!
//! The operator scans an order's reference (its Code 128 on the pick list, or a GS1 label with
//! AI (400), the customer's purchase order number: GS1 General Specifications §3.7.1), each
//! pallet's or carton's SSCC label, then `SHIP`. Every scan is answered at once with a
//! [`Reply`]; the SSCCs are held here and shipped in **one** store transaction at `SHIP`, so
//! nothing ships that was not confirmed. What needs the store is asked for ([`Ask`]) and its
//! answer handed back ([`Answer`]); the rules are `app::dispatch`'s.

use tracemark_codes::scheme::{ParsedCode, SchemeOptions, parse_any};
use tracemark_drivers::scanner::Scan;

use crate::aggregation::manual::station::Reply;
use crate::config::DispatchCommands;

/// A station command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    /// Ship the scans on the open order.
    Ship,
    /// Forget the order and the scans.
    Cancel,
    /// The next scan takes a package out of the scans.
    Remove,
}

/// A scan, recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Read {
    /// A command barcode; its text.
    Command(Command, String),
    /// A package label: the SSCC.
    Package(String),
    /// An order reference: GS1 AI (400), or text that is no code.
    Order(String),
    /// A unit's code, or something else this station does not ship: what and why.
    Other {
        /// The data, control characters escaped.
        data: String,
        /// Why it cannot be scanned here.
        reason: String,
    },
}

/// Recognises `scan` with the station's `commands`. Commands are compared with the whole data.
pub(crate) fn recognise(scan: &Scan, commands: &DispatchCommands) -> Read {
    let table = [
        (Command::Ship, &commands.ship),
        (Command::Cancel, &commands.cancel),
        (Command::Remove, &commands.remove),
    ];
    if let Some((command, text)) = table.iter().find(|(_, text)| **text == scan.data) {
        return Read::Command(*command, (*text).clone());
    }
    let text = scan.text();
    let other = |reason: &str| Read::Other {
        data: scan.data.escape_default().to_string(),
        reason: reason.to_owned(),
    };
    match parse_any(&text, &SchemeOptions::default()) {
        Ok(ParsedCode::Gs1(gs1)) => {
            if let Some(sscc) = gs1.code.get("00") {
                Read::Package(sscc.to_owned())
            } else if let Some(order) = gs1.code.get("400") {
                Read::Order(order.to_owned())
            } else {
                other("a unit or product code: scan its carton's or pallet's SSCC label")
            }
        }
        Ok(_) => other("a unit or product code: scan its carton's or pallet's SSCC label"),
        // Text that is no code at all is an order reference (the pick list's Code 128).
        Err(_) => Read::Order(scan.data.trim().to_owned()),
    }
}

/// What the task asks of the store for the station.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ask {
    /// Open order `order_ref` (`app::dispatch::open_at_station`).
    Order {
        /// The reference scanned.
        order_ref: String,
    },
    /// May `sscc` join `scanned` (`app::dispatch::check_scan`)?
    Check {
        /// The SSCCs held.
        scanned: Vec<String>,
        /// The new scan.
        sscc: String,
    },
    /// Ship `ssccs` on `order_ref` (`app::dispatch::ship_order`).
    Ship {
        /// The open order.
        order_ref: String,
        /// The SSCCs held.
        ssccs: Vec<String>,
    },
}

/// The store's answer to an [`Ask`]; `Err` is the refusal's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// To [`Ask::Order`]: the buyer's name.
    Order(Result<String, String>),
    /// To [`Ask::Check`].
    Checked(Result<(), String>),
    /// To [`Ask::Ship`]: the shipment's number, packages and units.
    Shipped(Result<(i64, i64, i64), String>),
}

/// What one scan leads to: a reply now, or a question to the store first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Answer the scanner.
    Reply(Reply),
    /// Ask the store, then hand its answer to [`Station::answer`].
    Ask(Ask),
}

/// Counters of one station's run.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DispatchStats {
    /// Lines read.
    pub scans: u64,
    /// Answered `OK`.
    pub good: u64,
    /// Answered `BAD`.
    pub bad: u64,
    /// Shipments made.
    pub shipments: u64,
    /// Packages shipped (named and on named pallets).
    pub packages: u64,
    /// Units shipped.
    pub units: u64,
}

/// The open order and its scans.
#[derive(Debug, Clone)]
struct Open {
    order_ref: String,
    scanned: Vec<String>,
}

/// What was asked and not answered yet.
#[derive(Debug, Clone)]
enum Asked {
    Order(String),
    Check(String),
    Ship,
}

/// The station's state.
#[derive(Debug, Default)]
pub(crate) struct Station {
    open: Option<Open>,
    removing: bool,
    asked: Option<Asked>,
    stats: DispatchStats,
}

impl Station {
    /// What it did so far.
    pub(crate) fn stats(&self) -> &DispatchStats {
        &self.stats
    }

    /// The open order and its scans, if any.
    pub(crate) fn open_order(&self) -> Option<(&str, &[String])> {
        self.open
            .as_ref()
            .map(|o| (o.order_ref.as_str(), o.scanned.as_slice()))
    }

    /// A line that is no scan (the driver's reason).
    pub(crate) fn unreadable(&mut self, reason: impl std::fmt::Display) -> Reply {
        self.stats.scans += 1;
        self.count(Reply::bad("?", reason))
    }

    /// A scan; the caller answers an [`Step::Ask`] with [`Station::answer`] before the next.
    pub(crate) fn scan(&mut self, read: Read) -> Step {
        self.stats.scans += 1;
        match self.decide(read) {
            Step::Reply(reply) => Step::Reply(self.count(reply)),
            ask => ask,
        }
    }

    fn decide(&mut self, read: Read) -> Step {
        // REMOVE applies to the very next scan, whatever it is.
        let removing = std::mem::take(&mut self.removing);
        match read {
            Read::Other { data, reason } => Step::Reply(Reply::bad(&data, reason)),
            Read::Command(command, text) => self.command(command, &text),
            Read::Package(sscc) if removing => Step::Reply(self.remove(sscc)),
            Read::Package(sscc) => self.package(sscc),
            Read::Order(order_ref) => self.order(order_ref),
        }
    }

    fn command(&mut self, command: Command, text: &str) -> Step {
        let Some(open) = &mut self.open else {
            return Step::Reply(Reply::bad(
                text,
                "no order open: scan the order's reference first",
            ));
        };
        let nothing = || {
            Step::Reply(Reply::bad(
                text,
                format!("nothing scanned for order {}", open.order_ref),
            ))
        };
        match command {
            Command::Ship | Command::Remove if open.scanned.is_empty() => nothing(),
            Command::Ship => {
                self.asked = Some(Asked::Ship);
                Step::Ask(Ask::Ship {
                    order_ref: open.order_ref.clone(),
                    ssccs: open.scanned.clone(),
                })
            }
            Command::Cancel => {
                let reply = Reply::ok(format!(
                    "CANCEL {} {} scans dropped",
                    open.order_ref,
                    open.scanned.len()
                ));
                self.open = None;
                Step::Reply(reply)
            }
            Command::Remove => {
                self.removing = true;
                Step::Reply(Reply::ok(format!(
                    "REMOVE scan what to take out of order {}",
                    open.order_ref
                )))
            }
        }
    }

    fn remove(&mut self, sscc: String) -> Reply {
        let Some(open) = &mut self.open else {
            return Reply::bad(&sscc, "no order open");
        };
        match open.scanned.iter().position(|s| *s == sscc) {
            Some(at) => {
                open.scanned.remove(at);
                Reply::ok(format!("REMOVED {sscc} {} packages", open.scanned.len()))
            }
            None => Reply::bad(&sscc, format!("not scanned for order {}", open.order_ref)),
        }
    }

    fn package(&mut self, sscc: String) -> Step {
        let Some(open) = &self.open else {
            return Step::Reply(Reply::bad(
                &sscc,
                "no order open: scan the order's reference first",
            ));
        };
        if open.scanned.contains(&sscc) {
            return Step::Reply(Reply::bad(
                &sscc,
                format!("already scanned for order {}", open.order_ref),
            ));
        }
        let ask = Ask::Check {
            scanned: open.scanned.clone(),
            sscc: sscc.clone(),
        };
        self.asked = Some(Asked::Check(sscc));
        Step::Ask(ask)
    }

    fn order(&mut self, order_ref: String) -> Step {
        if let Some(open) = &self.open {
            if open.order_ref == order_ref {
                return Step::Reply(Reply::ok(format!(
                    "ORDER {order_ref} {} packages",
                    open.scanned.len()
                )));
            }
            if !open.scanned.is_empty() {
                return Step::Reply(Reply::bad(
                    &order_ref,
                    format!(
                        "order {} has {} scans: SHIP or CANCEL it first",
                        open.order_ref,
                        open.scanned.len()
                    ),
                ));
            }
        }
        self.asked = Some(Asked::Order(order_ref.clone()));
        Step::Ask(Ask::Order { order_ref })
    }

    /// The store's answer to the last [`Ask`].
    pub(crate) fn answer(&mut self, answer: Answer) -> Reply {
        let asked = self.asked.take();
        let reply = match (asked, answer) {
            (Some(Asked::Order(order_ref)), Answer::Order(Ok(buyer))) => {
                let reply = Reply::ok(format!("ORDER {order_ref} {buyer}"));
                self.open = Some(Open {
                    order_ref,
                    scanned: Vec::new(),
                });
                reply
            }
            (Some(Asked::Order(order_ref)), Answer::Order(Err(reason))) => {
                Reply::bad(&order_ref, reason)
            }
            (Some(Asked::Check(sscc)), Answer::Checked(result)) => match (&mut self.open, result) {
                (Some(open), Ok(())) => {
                    open.scanned.push(sscc.clone());
                    Reply::ok(format!("{sscc} {} packages", open.scanned.len()))
                }
                (None, Ok(())) => Reply::bad(&sscc, "no order open"),
                (_, Err(reason)) => Reply::bad(&sscc, reason),
            },
            (Some(Asked::Ship), Answer::Shipped(Ok((id, packages, units)))) => {
                let order = self.open.take().map(|o| o.order_ref).unwrap_or_default();
                self.stats.shipments += 1;
                self.stats.packages += u64::try_from(packages).unwrap_or(0);
                self.stats.units += u64::try_from(units).unwrap_or(0);
                Reply::ok(format!(
                    "SHIPPED {order} shipment {id} {packages} packages {units} units"
                ))
            }
            // The scans stay: REMOVE what was refused, or CANCEL.
            (Some(Asked::Ship), Answer::Shipped(Err(reason))) => Reply::bad("SHIP", reason),
            (_, answer) => Reply::bad("?", format!("an answer nothing asked for: {answer:?}")),
        };
        self.count(reply)
    }

    fn count(&mut self, reply: Reply) -> Reply {
        if reply.good {
            self.stats.good += 1;
        } else {
            self.stats.bad += 1;
        }
        reply
    }
}
