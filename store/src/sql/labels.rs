//! The label events of a package (`store::label`).

use serde_json::json;

use super::Db;
use super::audit::{Writes, append, begin, finish_with};
use super::packages::{moved, package_in, store_state};
use crate::label::LabelRead;
use crate::package::Package;
use crate::vocab::PackageState;
use crate::{Actor, StoreError};

/// A label of package `sscc` printed, and read as `read` says (`Store::label_read`; `None`:
/// not read yet, `Store::label_printed`), in one transaction: `labelled` unless it is, then
/// the read's record. Each step's event is the one it records on its own, and the package's
/// row is written once with where the steps leave it; the answer is the package as they leave
/// it. A print of a `labelled` package with no read records nothing (a reprint).
pub(crate) async fn printed_and_read(
    db: &Db,
    actor: &Actor,
    sscc: &str,
    read: Option<LabelRead<'_>>,
) -> Result<Package, StoreError> {
    let (mut tx, mut head) = begin(db).await?;
    let mut package = package_in(&mut tx, sscc).await?;
    // The steps' events in order; `true`: the step changes the package's row.
    let mut steps: Vec<(&str, serde_json::Value, bool)> = Vec::with_capacity(3);
    if package.state != PackageState::Labelled {
        steps.push((
            "package.state",
            moved(&mut package, PackageState::Labelled)?,
            true,
        ));
    }
    match read {
        None => {}
        Some(LabelRead::Verified) => steps.push(("package.state", verified(&mut package)?, true)),
        Some(LabelRead::Closed) => {
            steps.push(("package.state", verified(&mut package)?, true));
            let closed = moved(&mut package, PackageState::Closed)?;
            steps.push(("package.state", closed, true));
        }
        Some(LabelRead::Rejected(rejection)) => {
            let detail = json!({
                "sscc": sscc, "state": package.state.as_str(), "attempt": rejection.attempt,
                "fault": rejection.fault.as_str(), "read": rejection.read,
            });
            steps.push(("package.label_rejected", detail, false));
        }
    }
    let Some((kind, detail, last_changes)) = steps.pop() else {
        // A reprint: dropped, rolled back, the head stays where it was.
        return Ok(package);
    };
    let subject = format!("package:{sscc}");
    let mut last_change = None;
    for (kind, detail, changes) in steps {
        if changes {
            last_change = Some(head.seq);
        }
        head = append(actor, head, kind, &subject, detail);
    }
    if last_changes {
        last_change = Some(head.seq);
    }
    let mut writes = Writes::default();
    if let Some(seq) = last_change {
        store_state(&mut writes, &package, seq);
    }
    finish_with(tx, actor, head, kind, &subject, detail, writes).await?;
    Ok(package)
}

/// Moves the `labelled` `package` to `verified` by the state rules ([`moved`]), in memory
/// ([`store_state`] writes it); its label carries the count of its children now. The answer
/// is the event's detail: `moved`'s, with the label's count.
fn verified(package: &mut Package) -> Result<serde_json::Value, StoreError> {
    let mut detail = moved(package, PackageState::Verified)?;
    let count = package.children_count;
    package.label_count = Some(count);
    detail["label_count"] = json!(count);
    Ok(detail)
}
