//! The label events of a package (`store::label`).

use serde_json::json;

use super::Db;
use super::audit::{Head, append, begin, finish};
use super::packages::{Tx, change_state, package_in};
use crate::label::LabelRejection;
use crate::package::Package;
use crate::vocab::PackageState;
use crate::{Actor, StoreError};

/// The label of package `sscc` read back (`Store::label_verified`); the answer is the
/// package as it leaves it.
pub(crate) async fn verified(db: &Db, actor: &Actor, sscc: &str) -> Result<Package, StoreError> {
    let (mut tx, head) = begin(db).await?;
    let (detail, package) = verified_in(&mut tx, &head, sscc).await?;
    finish(tx, actor, head, "package.state", &subject(sscc), detail).await?;
    Ok(package)
}

/// The label of package `sscc` read back, and the package closed, in one transaction
/// (`Store::close_labelled`): two `package.state` events, to `verified` and to `closed`, as
/// the two steps would record them one by one. The answer is the package as it leaves it.
pub(crate) async fn verified_and_closed(
    db: &Db,
    actor: &Actor,
    sscc: &str,
) -> Result<Package, StoreError> {
    let (mut tx, head) = begin(db).await?;
    let (verified, package) = verified_in(&mut tx, &head, sscc).await?;
    let head = append(
        &mut tx,
        actor,
        head,
        "package.state",
        &subject(sscc),
        verified,
    )
    .await?;
    let (closed, package) = change_state(&mut tx, &head, package, PackageState::Closed).await?;
    finish(tx, actor, head, "package.state", &subject(sscc), closed).await?;
    Ok(package)
}

fn subject(sscc: &str) -> String {
    format!("package:{sscc}")
}

/// Moves the `labelled` package `sscc` to `verified` in `tx`, as the event `head` is for; its
/// label carries the count of its children now. The answer is the event's detail and the
/// package as it leaves it.
async fn verified_in(
    tx: &mut Tx,
    head: &Head,
    sscc: &str,
) -> Result<(serde_json::Value, Package), StoreError> {
    let mut package = package_in(tx, sscc).await?;
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
    .bind(sscc)
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

pub(crate) async fn rejected(
    db: &Db,
    actor: &Actor,
    sscc: &str,
    rejection: &LabelRejection,
) -> Result<(), StoreError> {
    let (mut tx, head) = begin(db).await?;
    let package = package_in(&mut tx, sscc).await?;
    let detail = json!({
        "sscc": sscc, "state": package.state.as_str(), "attempt": rejection.attempt,
        "fault": rejection.fault.as_str(), "read": rejection.read,
    });
    let kind = "package.label_rejected";
    finish(tx, actor, head, kind, &subject(sscc), detail).await
}
