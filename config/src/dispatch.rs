//! `[dispatch]`: the dispatch scanner station (issue 17 item 2, docs/shipping.md "The dispatch
//! station"), raw and checked. A hand scanner at the shipping dock: the operator scans a
//! dispatch order's reference, the pallets' and cartons' labels, then `SHIP`.
//!
//! ```toml
//! [dispatch]
//! transport = { type = "tcp", address = "0.0.0.0:7010" }
//! listen = true
//! [dispatch.commands]
//! ship = "SHIP"
//! ```

use serde::{Deserialize, Serialize};

use super::compile::{Errors, Transport, check_transport};
use super::raw::TransportSection;
use super::scanner::{check_commands, default_cancel, default_remove, yes};

/// `[dispatch]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DispatchSection {
    /// How the scanner is reached: `serial` or `tcp` (as `[packing.scanner]`).
    pub transport: TransportSection,
    /// TCP only: listen for the scanner's base station to connect. Default false.
    #[serde(default)]
    pub listen: bool,
    /// Refuse lines without an ISO/IEC 15424 symbology identifier. Default true.
    #[serde(default = "yes")]
    pub require_identifier: bool,
    /// The command barcodes. Default `SHIP`, `CANCEL`, `REMOVE`.
    #[serde(default)]
    pub commands: DispatchCommandsSection,
}

/// `[dispatch.commands]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DispatchCommandsSection {
    /// Ship the scanned pallets and cartons on the open order. Default `SHIP`.
    #[serde(default = "default_ship")]
    pub ship: String,
    /// Forget the order and the scans (nothing was written). Default `CANCEL`.
    #[serde(default = "default_cancel")]
    pub cancel: String,
    /// The next scan takes that package out of the scans. Default `REMOVE`.
    #[serde(default = "default_remove")]
    pub remove: String,
}

impl Default for DispatchCommandsSection {
    fn default() -> Self {
        Self {
            ship: default_ship(),
            cancel: default_cancel(),
            remove: default_remove(),
        }
    }
}

fn default_ship() -> String {
    "SHIP".into()
}

/// The dispatch station, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dispatch {
    /// Where the scanner is.
    pub transport: Transport,
    /// TCP: listen for it rather than connect to it.
    pub listen: bool,
    /// Lines must carry a symbology identifier.
    pub require_identifier: bool,
    /// Its command barcodes.
    pub commands: DispatchCommands,
}

/// The dispatch command barcodes' texts, checked: distinct, printable ASCII, not digits only
/// (an SSCC must never read as a command).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DispatchCommands {
    /// Ship the scans.
    pub ship: String,
    /// Forget the order and the scans.
    pub cancel: String,
    /// Take the next scan out.
    pub remove: String,
}

/// Checks `[dispatch]`.
pub(super) fn check_dispatch(raw: &DispatchSection, errors: &mut Errors) -> Option<Dispatch> {
    const PATH: &str = "dispatch";
    let before = errors.len();
    let transport = check_transport(&format!("{PATH}.transport"), &raw.transport, errors);
    if raw.listen && !matches!(transport, Transport::Tcp { .. }) {
        errors.push(
            format!("{PATH}.listen"),
            "only a tcp transport can listen (a serial port is always opened)",
        );
    }
    let c = &raw.commands;
    let all = [
        ("ship", &c.ship),
        ("cancel", &c.cancel),
        ("remove", &c.remove),
    ];
    check_commands(PATH, &all, errors);
    (errors.len() == before).then(|| Dispatch {
        transport,
        listen: raw.listen,
        require_identifier: raw.require_identifier,
        commands: DispatchCommands {
            ship: c.ship.clone(),
            cancel: c.cancel.clone(),
            remove: c.remove.clone(),
        },
    })
}
