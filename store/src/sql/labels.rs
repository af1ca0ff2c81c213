//! The label events of a package (`store::label`).

use serde_json::json;

use super::Db;
use super::audit::{Head, append, begin, finish};
use super::packages::{Tx, change_state, package_in};
use crate::label::LabelRead;
use crate::package::Package;
use crate::vocab::PackageState;
use crate::{Actor, StoreError};

/// A label of package `sscc` printed and read as `read` says (`Store::label_read`), in one
/// transaction: `labelled` unless it is, then the read's record. Each step's event is the
/// one it records on its own; the answer is the package as it leaves it.
pub(crate) async fn printed_and_read(
    db: &Db,
    actor: &Actor,
    sscc: &str,
    read: LabelRead<'_>,
) -> Result<Package, StoreError> {
    let (mut tx, mut head) = begin(db).await?;
    let mut package = package_in(&mut tx, sscc).await?;
    let subject = subject(sscc);
    if package.state != PackageState::Labelled {
        let (printed, labelled) =
            change_state(&mut tx, &head, package, PackageState::Labelled).await?;
        head = append(&mut tx, actor, head, "package.state", &subject, printed).await?;
        package = labelled;
    }
    let (kind, detail, package) = match read {
        LabelRead::Verified => {
            let (verified, package) = verified_in(&mut tx, &head, package).await?;
            ("package.state", verified, package)
        }
        LabelRead::Closed => {
            let (verified, package) = verified_in(&mut tx, &head, package).await?;
            head = append(&mut tx, actor, head, "package.state", &subject, verified).await?;
            let (closed, package) =
                change_state(&mut tx, &head, package, PackageState::Closed).await?;
            ("package.state", closed, package)
        }
        LabelRead::Rejected(rejection) => {
            let detail = json!({
                "sscc": sscc, "state": package.state.as_str(), "attempt": rejection.attempt,
                "fault": rejection.fault.as_str(), "read": rejection.read,
            });
            ("package.label_rejected", detail, package)
        }
    };
    finish(tx, actor, head, kind, &subject, detail).await?;
    Ok(package)
}

fn subject(sscc: &str) -> String {
    format!("package:{sscc}")
}

/// Moves the `labelled` `package`, as read in `tx`, to `verified`, as the event `head` is
/// for; its label carries the count of its children now. The answer is the event's detail and
/// the package as it leaves it.
async fn verified_in(
    tx: &mut Tx,
    head: &Head,
    mut package: Package,
) -> Result<(serde_json::Value, Package), StoreError> {
    let sscc = package.sscc.clone();
    let (from, to) = (package.state, PackageState::Verified);
    if !from.can_become(to) {
        return Err(StoreError::invalid(
            "state",
            format!("{} {sscc} cannot go from {from} to {to}", package.level),
        ));
    }
    let count = package.children_count;
    sqlx::query(
        "UPDATE packages SET state = $1, label_count = $2, last_event = $3 WHERE sscc = $4",
    )
    .bind(to.as_str())
    .bind(count)
    .bind(head.seq)
    .bind(&sscc)
    .execute(&mut **tx)
    .await
    .map_err(StoreError::db(format!("set package {sscc} to {to}")))?;
    let detail = json!({
        "sscc": sscc, "from": from.as_str(), "to": to.as_str(), "children": count,
        "short": package.short, "label_count": count,
    });
    package.state = to;
    package.label_count = Some(count);
    Ok((detail, package))
}
