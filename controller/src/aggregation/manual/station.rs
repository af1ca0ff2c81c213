//! A hand-scanner station's decisions, without I/O (docs/aggregation.md "Manual mode").
//!
//! One station fills packages of one level: units into cartons, or closed cartons onto pallets
//! (the palletiser). The operator scans a package's label (or `NEW`), its children, then
//! `CLOSE`. Every scan is answered at once with a [`Reply`]; the scans are held here and packed
//! in **one** store transaction at `CLOSE`, so nothing is linked that was not closed.
//!
//! What needs the store is asked for ([`Ask`]) and its answer handed back ([`Answer`]): the
//! rules (verified, same batch, in no package, package open, capacity) are the store's, checked
//! by a dry run of the very pack `CLOSE` will make (`manual::rules`). The station itself
//! only knows what it holds: the open package, the scans, and whether `REMOVE` was scanned.

use std::fmt;

use tracemark_store::PackageLevel;

use super::scan::{Command, Read};

/// What the task asks of the store for the station.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ask {
    /// Open package `sscc` at the station (`manual::rules::open_at_station`).
    Open {
        /// The label scanned.
        sscc: String,
    },
    /// Allocate a new package of the station's level and open it.
    New,
    /// May `item` join `scanned` in `sscc` (`manual::rules::check_scan`)?
    Check {
        /// The open package.
        sscc: String,
        /// The scans held.
        scanned: Vec<String>,
        /// The new scan.
        item: String,
    },
    /// Pack `children` into `sscc` and close it (`manual::rules::close_package`).
    Close {
        /// The open package.
        sscc: String,
        /// The scans held.
        children: Vec<String>,
    },
}

/// A package as the store has it, for the station.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PackageView {
    /// Its SSCC.
    pub(crate) sscc: String,
    /// Children it holds in the store.
    pub(crate) children: i64,
    /// Its capacity.
    pub(crate) capacity: i64,
    /// Closed under capacity.
    pub(crate) short: bool,
}

/// The store's answer to an [`Ask`]; `Err` is the refusal's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// To [`Ask::Open`] and [`Ask::New`].
    Opened(Result<PackageView, String>),
    /// To [`Ask::Check`].
    Checked(Result<(), String>),
    /// To [`Ask::Close`]: the closed package.
    Closed(Result<PackageView, String>),
}

/// The line sent back to the scanner: `OK …` or `BAD …` (the first word drives the good/bad
/// beep of base stations that can be told).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    /// Good or bad.
    pub(crate) good: bool,
    /// What follows `OK ` / `BAD `.
    pub(crate) text: String,
}

impl Reply {
    pub(crate) fn ok(text: impl Into<String>) -> Self {
        Self {
            good: true,
            text: text.into(),
        }
    }

    pub(crate) fn bad(subject: &str, reason: impl fmt::Display) -> Self {
        Self {
            good: false,
            text: format!("{subject} {reason}"),
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = if self.good { "OK" } else { "BAD" };
        write!(f, "{word} {}", self.text)
    }
}

/// What one scan leads to: a reply now, or a question to the store first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Answer the scanner.
    Reply(Reply),
    /// Ask the store, then hand its answer to [`Station::answer`].
    Ask(Ask),
}

/// The package open at the station.
#[derive(Debug, Clone)]
struct Open {
    sscc: String,
    /// Children already in it in the store (a reopened package).
    held: i64,
    capacity: i64,
    /// Scanned and accepted, not yet packed.
    scanned: Vec<String>,
}

impl Open {
    fn count(&self) -> String {
        format!(
            "{}/{}",
            self.held + self.scanned.len() as i64,
            self.capacity
        )
    }
}

/// What was asked and not answered yet.
#[derive(Debug, Clone)]
enum Asked {
    Open(String),
    New,
    Check(String),
    Close,
}

/// Counters of one station's run.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StationStats {
    /// Lines read.
    pub scans: u64,
    /// Answered `OK`.
    pub good: u64,
    /// Answered `BAD`.
    pub bad: u64,
    /// Packages closed.
    pub closed: u64,
    /// Of them, closed short.
    pub short: u64,
    /// Children packed (units into cartons, or cartons onto pallets).
    pub packed: u64,
}

/// The station's state.
#[derive(Debug)]
pub(crate) struct Station {
    level: PackageLevel,
    open: Option<Open>,
    removing: bool,
    asked: Option<Asked>,
    stats: StationStats,
}

impl Station {
    /// A station filling packages of `level`, with nothing open.
    pub(crate) fn new(level: PackageLevel) -> Self {
        Self {
            level,
            open: None,
            removing: false,
            asked: None,
            stats: StationStats::default(),
        }
    }

    /// What it did so far.
    pub(crate) fn stats(&self) -> &StationStats {
        &self.stats
    }

    /// The open package and its scans, if any.
    pub(crate) fn open_package(&self) -> Option<(&str, &[String])> {
        self.open
            .as_ref()
            .map(|o| (o.sscc.as_str(), o.scanned.as_slice()))
    }

    /// A line that is no scan (the driver's reason).
    pub(crate) fn unreadable(&mut self, reason: impl fmt::Display) -> Reply {
        self.stats.scans += 1;
        self.count(Reply::bad("?", reason))
    }

    /// A scan; the caller answers an [`Step::Ask`] with [`Station::answer`] before the next.
    pub(crate) fn scan(&mut self, read: Read) -> Step {
        self.stats.scans += 1;
        let step = self.decide(read);
        match step {
            Step::Reply(reply) => Step::Reply(self.count(reply)),
            ask => ask,
        }
    }

    fn decide(&mut self, read: Read) -> Step {
        // REMOVE applies to the very next scan, whatever it is.
        let removing = std::mem::take(&mut self.removing);
        match read {
            Read::Unknown { data, reason } => Step::Reply(Reply::bad(&data, reason)),
            Read::Command(command, text) => self.command(command, &text),
            Read::Package(sscc) if removing && self.level == PackageLevel::Pallet => {
                Step::Reply(self.remove(sscc))
            }
            Read::Unit(code) if removing && self.level == PackageLevel::Carton => {
                Step::Reply(self.remove(code))
            }
            Read::Package(sscc) => self.package(sscc),
            Read::Unit(code) => self.unit(code),
        }
    }

    fn command(&mut self, command: Command, text: &str) -> Step {
        let Some(open) = &mut self.open else {
            return Step::Reply(match command {
                Command::New => {
                    self.asked = Some(Asked::New);
                    return Step::Ask(Ask::New);
                }
                _ => Reply::bad(text, self.nothing_open()),
            });
        };
        match command {
            Command::New if !open.scanned.is_empty() => Step::Reply(Reply::bad(
                text,
                format!(
                    "{} has {} scans: CLOSE or CANCEL it first",
                    open.sscc,
                    open.scanned.len()
                ),
            )),
            Command::New => {
                self.asked = Some(Asked::New);
                Step::Ask(Ask::New)
            }
            Command::Close => {
                self.asked = Some(Asked::Close);
                Step::Ask(Ask::Close {
                    sscc: open.sscc.clone(),
                    children: open.scanned.clone(),
                })
            }
            Command::Cancel => {
                let reply = Reply::ok(format!(
                    "CANCEL {} {} scans dropped",
                    open.sscc,
                    open.scanned.len()
                ));
                self.open = None;
                Step::Reply(reply)
            }
            Command::Remove => {
                self.removing = true;
                Step::Reply(Reply::ok(format!(
                    "REMOVE scan what to take out of {}",
                    open.sscc
                )))
            }
        }
    }

    fn nothing_open(&self) -> String {
        format!("no {} open: scan its label or NEW", self.level)
    }

    /// A label: the package to fill, or (at a palletiser with a pallet open) a carton for it.
    fn package(&mut self, sscc: String) -> Step {
        match &self.open {
            Some(open) if open.sscc == sscc => {
                Step::Reply(Reply::ok(format!("OPEN {} {}", open.sscc, open.count())))
            }
            Some(open) if self.level == PackageLevel::Pallet => {
                let ask = Ask::Check {
                    sscc: open.sscc.clone(),
                    scanned: open.scanned.clone(),
                    item: sscc.clone(),
                };
                self.asked = Some(Asked::Check(sscc));
                Step::Ask(ask)
            }
            Some(open) if !open.scanned.is_empty() => Step::Reply(Reply::bad(
                &sscc,
                format!(
                    "{} is open with {} scans: CLOSE or CANCEL it first",
                    open.sscc,
                    open.scanned.len()
                ),
            )),
            _ => {
                self.asked = Some(Asked::Open(sscc.clone()));
                Step::Ask(Ask::Open { sscc })
            }
        }
    }

    fn unit(&mut self, code: String) -> Step {
        if self.level == PackageLevel::Pallet {
            return Step::Reply(Reply::bad(
                &code,
                "a unit: this station puts cartons on pallets",
            ));
        }
        let Some(open) = &self.open else {
            return Step::Reply(Reply::bad(&code, self.nothing_open()));
        };
        let ask = Ask::Check {
            sscc: open.sscc.clone(),
            scanned: open.scanned.clone(),
            item: code.clone(),
        };
        self.asked = Some(Asked::Check(code));
        Step::Ask(ask)
    }

    fn remove(&mut self, item: String) -> Reply {
        let Some(open) = &mut self.open else {
            return Reply::bad(&item, self.nothing_open());
        };
        match open.scanned.iter().position(|s| *s == item) {
            Some(at) => {
                open.scanned.remove(at);
                Reply::ok(format!("REMOVED {item} {}", open.count()))
            }
            None => Reply::bad(&item, format!("not scanned into {}", open.sscc)),
        }
    }

    /// The store's answer to the last [`Ask`]; the reply to send.
    pub(crate) fn answer(&mut self, answer: Answer) -> Reply {
        let reply = match (self.asked.take(), answer) {
            (Some(Asked::Open(_) | Asked::New), Answer::Opened(Ok(package))) => {
                let open = Open {
                    sscc: package.sscc,
                    held: package.children,
                    capacity: package.capacity,
                    scanned: Vec::new(),
                };
                let reply = Reply::ok(format!("OPEN {} {}", open.sscc, open.count()));
                self.open = Some(open);
                reply
            }
            (Some(Asked::Open(sscc)), Answer::Opened(Err(reason))) => Reply::bad(&sscc, reason),
            (Some(Asked::New), Answer::Opened(Err(reason))) => Reply::bad("NEW", reason),
            (Some(Asked::Check(item)), Answer::Checked(result)) => match (&mut self.open, result) {
                (Some(open), Ok(())) => {
                    open.scanned.push(item.clone());
                    Reply::ok(format!("{item} {}", open.count()))
                }
                (_, Err(reason)) => Reply::bad(&item, reason),
                (None, Ok(())) => Reply::bad(&item, self.nothing_open()),
            },
            (Some(Asked::Close), Answer::Closed(Ok(package))) => {
                let packed = self.open.take().map_or(0, |o| o.scanned.len() as u64);
                self.stats.closed += 1;
                self.stats.short += u64::from(package.short);
                self.stats.packed += packed;
                Reply::ok(format!(
                    "CLOSED {} {}/{}{}",
                    package.sscc,
                    package.children,
                    package.capacity,
                    if package.short { " short" } else { "" }
                ))
            }
            (Some(Asked::Close), Answer::Closed(Err(reason))) => Reply::bad("CLOSE", reason),
            (asked, answer) => Reply::bad("?", format!("internal: answer {answer:?} to {asked:?}")),
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
