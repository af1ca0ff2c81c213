//! Who may do what (SPEC §8), by job: the role sets the API's operations are declared with
//! (`x-tracemark-roles`, enforced by the server). Every logged-in user reads; a write needs
//! the role whose job it is. The command line runs as the machine's user and is not checked
//! here (its access is the operating system's).

use super::users::Role;

/// Reading anything: every logged-in user.
pub const READ: &[Role] = &Role::ALL;
/// Running the line: batches (start, pause, resume, stop, close) and alarms.
pub const RUN_LINE: &[Role] = &[Role::Operator];
/// Quality: reject dispositions, samples, carton rework, batch release (four eyes).
pub const QUALITY: &[Role] = &[Role::Qa];
/// Shipping closed pallets and cartons (issue 17 item 2; docs/shipping.md "Who ships"): dispatch
/// is floor work, as running the line is; QA's gate before it is the batch release.
pub const SHIP: &[Role] = &[Role::Operator];
/// Entering dispatch orders (docs/shipping.md "The dispatch station"): the ERP pushes them
/// with an integrator's token, or the dispatch clerk on the floor enters them.
pub const DISPATCH_ORDERS: &[Role] = &[Role::Operator, Role::Integrator];
/// Wiring the line: line configs, device probes, upload targets.
pub const INTEGRATE: &[Role] = &[Role::Integrator];
/// Administering: users and roles, retention purge, backup.
pub const ADMINISTER: &[Role] = &[Role::Admin];
