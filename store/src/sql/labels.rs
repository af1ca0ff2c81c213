//! The label events of a package (`store::label`).

use serde_json::json;

use super::Db;
use super::audit::{begin, finish};
use super::packages::package_in;
use crate::label::LabelRejection;
use crate::vocab::PackageState;
use crate::{Actor, StoreError};

pub(crate) async fn verified(db: &Db, actor: &Actor, sscc: &str) -> Result<(), StoreError> {
    let (mut tx, head) = begin(db).await?;
    let package = package_in(&mut tx, sscc).await?;
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
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db(format!("set package {sscc} to {to}")))?;
    let detail = json!({
        "sscc": sscc, "from": from.as_str(), "to": to.as_str(), "children": count,
        "short": package.short, "label_count": count,
    });
    finish(
        tx,
        actor,
        head,
        "package.state",
        &format!("package:{sscc}"),
        detail,
    )
    .await
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
    finish(
        tx,
        actor,
        head,
        "package.label_rejected",
        &format!("package:{sscc}"),
        detail,
    )
    .await
}
