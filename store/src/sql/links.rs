//! The links of units to cartons and of cartons to pallets (SPEC §3a): packing, unpacking,
//! replacing, all or nothing. See `crate::package` for the design.
//!
//! Each operation is one transaction started by [`begin`], which takes the write lock (the audit
//! head) before anything is read, so the checks see exactly what they change. A refused request
//! returns before any write and drops the transaction: a rollback, the head does not move.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::json;

use super::audit::{Head, Writes, append, begin, finish_with};
use super::packages::{Tx, create_in, package_in, packages_in};
use super::{Db, get};
use crate::locate::Location;
use crate::package::{LinkProblem, Package, Refusal};
use crate::{Actor, CodeState, PackageLevel, PackageState, StoreError};

/// A unit's row as the link rules need it.
#[derive(Debug)]
struct Unit {
    state: CodeState,
    batch: Option<i64>,
    package: Option<String>,
}

/// The rows of the `located` codes, by code text (only the very text asked for: a forged serial
/// that decrypts to a real counter is no code here).
async fn units_in(
    tx: &mut Tx,
    db: &Db,
    located: &HashMap<&str, Location>,
) -> Result<HashMap<String, Unit>, StoreError> {
    const WHAT: &str = "read the units";
    let mut by_product: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for (product, counter) in located.values() {
        by_product
            .entry(product.as_str())
            .or_default()
            .push(*counter);
    }
    let mut units = HashMap::new();
    for (product, counters) in by_product {
        let rows = sqlx::query(&format!(
            "SELECT code, state, batch_id, package_sscc FROM codes \
             WHERE product_id = $1 AND {}",
            db.dialect.counter_in_json(2)
        ))
        .bind(product)
        .bind(serde_json::to_string(&counters).unwrap_or_default())
        .fetch_all(&mut **tx)
        .await
        .map_err(StoreError::db(WHAT))?;
        for row in &rows {
            let code: String = get(row, "code", WHAT)?;
            if located.contains_key(code.as_str()) {
                let unit = Unit {
                    state: get::<String>(row, "state", WHAT)?.parse()?,
                    batch: get(row, "batch_id", WHAT)?,
                    package: get(row, "package_sscc", WHAT)?,
                };
                units.insert(code, unit);
            }
        }
    }
    Ok(units)
}

/// Sets the state and the carton of `codes` (all found in `located`), with the transaction's
/// event ([`finish_with`]), which checks every row moved.
fn set_units(
    writes: &mut Writes<'_>,
    db: &Db,
    codes: &[&str],
    located: &HashMap<&str, Location>,
    to: CodeState,
    package: Option<&str>,
    seq: i64,
) {
    let mut rows: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for code in codes {
        if let Some((product, counter)) = located.get(code) {
            rows.entry(product.as_str()).or_default().push(*counter);
        }
    }
    for (product, counters) in rows {
        let at = writes.next_arg();
        writes
            .statement(format!(
                "UPDATE codes SET state = ${at}, package_sscc = ${}, last_event = ${} \
                 WHERE product_id = ${} AND {}",
                at + 1,
                at + 2,
                at + 3,
                db.dialect.counter_in_json(at + 4)
            ))
            .bind(to.as_str())
            .bind(package.map(str::to_owned))
            .bind(seq)
            .bind(product.to_owned())
            .bind(serde_json::to_string(&counters).unwrap_or_default());
    }
    writes.expect(
        codes.len() as u64,
        format!("setting {} units to {to}", codes.len()),
    );
}

/// Records the event on the package row too (`last_event`), with the event.
fn touch(writes: &mut Writes<'_>, sscc: &str, seq: i64) {
    let at = writes.next_arg();
    writes
        .statement(format!(
            "UPDATE packages SET last_event = ${at} WHERE sscc = ${}",
            at + 1
        ))
        .bind(seq)
        .bind(sscc.to_owned())
        .expect(1, format!("updating package {sscc}"));
}

/// Why `code` may not go into `carton` (`None`: it may).
fn pack_problem(unit: Option<&Unit>, carton: &Package) -> Option<LinkProblem> {
    let Some(unit) = unit else {
        return Some(LinkProblem::Unknown);
    };
    if let Some(sscc) = &unit.package {
        return Some(LinkProblem::AlreadyIn(sscc.clone()));
    }
    if unit.state != CodeState::Verified {
        return Some(LinkProblem::NotVerified(unit.state));
    }
    if unit.batch != Some(carton.batch_id) {
        return Some(LinkProblem::OtherBatch {
            of: unit.batch,
            want: carton.batch_id,
        });
    }
    if !carton.state.is_open() {
        return Some(LinkProblem::PackageNotOpen {
            level: carton.level,
            state: carton.state,
        });
    }
    None
}

/// Checks `items` one by one; the accepted ones beyond `room` are over capacity. Returns the
/// accepted items, or every refusal in the order given.
fn screen<'a>(
    items: &'a [String],
    room: i64,
    capacity: i64,
    mut problem: impl FnMut(&'a str) -> Option<LinkProblem>,
) -> Result<Vec<&'a str>, Vec<Refusal>> {
    let mut seen = HashSet::new();
    let mut accepted = Vec::new();
    let mut refusals = Vec::new();
    for item in items {
        let found = if !seen.insert(item.as_str()) {
            Some(LinkProblem::ListedTwice)
        } else if let Some(p) = problem(item) {
            Some(p)
        } else if accepted.len() as i64 >= room {
            Some(LinkProblem::OverCapacity(capacity))
        } else {
            accepted.push(item.as_str());
            None
        };
        if let Some(problem) = found {
            refusals.push(Refusal {
                item: item.clone(),
                problem,
            });
        }
    }
    if refusals.is_empty() {
        Ok(accepted)
    } else {
        Err(refusals)
    }
}

fn none_given(items: &[String], what: &'static str) -> Result<(), StoreError> {
    if items.is_empty() {
        Err(StoreError::invalid(what, "none given"))
    } else {
        Ok(())
    }
}

fn refused(package: Option<&str>, refusals: Vec<Refusal>) -> StoreError {
    StoreError::PackRefused {
        package: package.map(str::to_owned),
        refusals,
    }
}

/// Units into a carton (`Store::pack`): the answer is the carton as the transaction leaves it.
/// With `dry_run`, only checks: the transaction is dropped (rolled back) after the checks.
pub(crate) async fn pack(
    db: &Db,
    actor: &Actor,
    sscc: &str,
    codes: &[String],
    located: &HashMap<&str, Location>,
    dry_run: bool,
) -> Result<Package, StoreError> {
    none_given(codes, "codes")?;
    let (mut tx, head) = begin(db).await?;
    let mut carton = package_in(&mut tx, sscc).await?;
    let accepted = accept_units(&mut tx, db, &carton, codes, located, Some(sscc)).await?;
    if dry_run {
        return Ok(carton);
    }
    pack_accepted(tx, db, actor, head, sscc, &accepted, located).await?;
    carton.children_count += i64::try_from(accepted.len()).unwrap_or(i64::MAX);
    Ok(carton)
}

/// A new carton of batch `batch_id` holding `codes` (`Store::pack_new_carton`), in one
/// transaction: its `package.create` event, then its `package.pack`, as the two steps would
/// record them one by one. A refusal records neither: no SSCC is used. The answer is the
/// carton as the transaction leaves it (as read in it, with the units it packed).
pub(crate) async fn create_and_pack(
    db: &Db,
    actor: &Actor,
    batch_id: i64,
    capacity: i64,
    codes: &[String],
    located: &HashMap<&str, Location>,
) -> Result<Package, StoreError> {
    none_given(codes, "codes")?;
    let (mut tx, head) = begin(db).await?;
    let created = create_in(&mut tx, &head, batch_id, PackageLevel::Carton, capacity).await?;
    let mut carton = created.package;
    let subject = format!("package:{}", carton.sscc);
    let head = append(actor, head, "package.create", &subject, created.detail);
    // A refusal names no carton: the one made here is rolled back with it.
    let accepted = accept_units(&mut tx, db, &carton, codes, located, None).await?;
    pack_accepted(tx, db, actor, head, &carton.sscc, &accepted, located).await?;
    carton.children_count = i64::try_from(accepted.len()).unwrap_or(i64::MAX);
    Ok(carton)
}

/// The pack rules: the codes `codes` (located as `located`) the package `carton`, as read in
/// `tx`, may take, all of them, or the refusal that names each one it may not (and the
/// package `named`).
async fn accept_units<'a>(
    tx: &mut Tx,
    db: &Db,
    carton: &Package,
    codes: &'a [String],
    located: &HashMap<&str, Location>,
    named: Option<&str>,
) -> Result<Vec<&'a str>, StoreError> {
    if carton.level != PackageLevel::Carton {
        return Err(StoreError::invalid(
            "sscc",
            format!(
                "{} is a {}: units go into cartons",
                carton.sscc, carton.level
            ),
        ));
    }
    let units = units_in(tx, db, located).await?;
    let room = carton.capacity - carton.children_count;
    screen(codes, room, carton.capacity, |code| {
        pack_problem(units.get(code), carton)
    })
    .map_err(|r| refused(named, r))
}

/// Links the `accepted` units to the carton `sscc`, `packed`, and commits with its
/// `package.pack` event.
async fn pack_accepted(
    tx: Tx,
    db: &Db,
    actor: &Actor,
    head: Head,
    sscc: &str,
    accepted: &[&str],
    located: &HashMap<&str, Location>,
) -> Result<(), StoreError> {
    let to = CodeState::Packed;
    let mut writes = Writes::default();
    set_units(&mut writes, db, accepted, located, to, Some(sscc), head.seq);
    let packed = Packed {
        package: sscc,
        members: "codes",
        to: to.as_str(),
        accepted,
    };
    packed.finish(tx, actor, head, writes).await
}

/// Why a unit may not leave its carton (`None`: it may, from the package returned).
fn unpack_problem(
    unit: Option<&Unit>,
    packages: &HashMap<String, PackageState>,
) -> Result<String, LinkProblem> {
    let Some(unit) = unit else {
        return Err(LinkProblem::Unknown);
    };
    let Some(sscc) = &unit.package else {
        return Err(LinkProblem::NotInPackage(unit.state.as_str().to_owned()));
    };
    match packages.get(sscc) {
        Some(state) if state.is_open() => Ok(sscc.clone()),
        Some(state) => Err(LinkProblem::InClosedPackage {
            sscc: sscc.clone(),
            state: *state,
        }),
        None => Err(LinkProblem::Unknown),
    }
}

/// The states of the packages named.
async fn package_states(
    tx: &mut Tx,
    db: &Db,
    ssccs: &HashSet<&str>,
) -> Result<HashMap<String, PackageState>, StoreError> {
    const WHAT: &str = "read package states";
    let list: Vec<&str> = ssccs.iter().copied().collect();
    let rows = sqlx::query(&format!(
        "SELECT sscc, state FROM packages WHERE {}",
        db.dialect.text_in_json("sscc", 1)
    ))
    .bind(serde_json::to_string(&list).unwrap_or_default())
    .fetch_all(&mut **tx)
    .await
    .map_err(StoreError::db(WHAT))?;
    rows.iter()
        .map(|row| {
            Ok((
                get(row, "sscc", WHAT)?,
                get::<String>(row, "state", WHAT)?.parse()?,
            ))
        })
        .collect()
}

/// Packed units out of their open cartons (`Store::unpack_codes`).
pub(crate) async fn unpack_codes(
    db: &Db,
    actor: &Actor,
    codes: &[String],
    located: &HashMap<&str, Location>,
) -> Result<Vec<(String, String)>, StoreError> {
    none_given(codes, "codes")?;
    let (mut tx, head) = begin(db).await?;
    let units = units_in(&mut tx, db, located).await?;
    let ssccs: HashSet<&str> = units
        .values()
        .filter_map(|u| u.package.as_deref())
        .collect();
    let states = package_states(&mut tx, db, &ssccs).await?;
    let mut from: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let accepted = screen(codes, i64::MAX, i64::MAX, |code| {
        match unpack_problem(units.get(code), &states) {
            Ok(sscc) => {
                from.entry(sscc).or_default().push(code);
                None
            }
            Err(problem) => Some(problem),
        }
    })
    .map_err(|r| refused(None, r))?;
    let mut writes = Writes::default();
    let to = CodeState::Verified;
    set_units(&mut writes, db, &accepted, located, to, None, head.seq);
    let taken = Unpacked {
        from,
        members: "codes",
        to: to.as_str(),
        count: accepted.len(),
    };
    taken.finish(tx, actor, head, writes).await
}

/// `old` out of its open carton, `new` into it (`Store::replace_code`). Returns the carton.
pub(crate) async fn replace(
    db: &Db,
    actor: &Actor,
    old: &str,
    new: &str,
    located: &HashMap<&str, Location>,
) -> Result<String, StoreError> {
    let (mut tx, head) = begin(db).await?;
    let units = units_in(&mut tx, db, located).await?;
    let ssccs: HashSet<&str> = units
        .values()
        .filter_map(|u| u.package.as_deref())
        .collect();
    let states = package_states(&mut tx, db, &ssccs).await?;
    let mut refusals = Vec::new();
    let carton = match unpack_problem(units.get(old), &states) {
        Ok(sscc) => Some(package_in(&mut tx, &sscc).await?),
        Err(problem) => {
            refusals.push(Refusal {
                item: old.to_owned(),
                problem,
            });
            None
        }
    };
    if old == new {
        refusals.push(Refusal {
            item: new.to_owned(),
            problem: LinkProblem::ListedTwice,
        });
    } else if let Some(carton) = &carton
        && let Some(problem) = pack_problem(units.get(new), carton)
    {
        refusals.push(Refusal {
            item: new.to_owned(),
            problem,
        });
    } else if carton.is_none() && !units.contains_key(new) {
        refusals.push(Refusal {
            item: new.to_owned(),
            problem: LinkProblem::Unknown,
        });
    }
    let Some(carton) = carton.filter(|_| refusals.is_empty()) else {
        return Err(refused(None, refusals));
    };
    let sscc = carton.sscc;
    let mut writes = Writes::default();
    let seq = head.seq;
    set_units(
        &mut writes,
        db,
        &[old],
        located,
        CodeState::Verified,
        None,
        seq,
    );
    set_units(
        &mut writes,
        db,
        &[new],
        located,
        CodeState::Packed,
        Some(&sscc),
        seq,
    );
    touch(&mut writes, &sscc, seq);
    let detail = json!({ "sscc": sscc, "removed": old, "added": new });
    let subject = format!("package:{sscc}");
    finish_with(tx, actor, head, "package.replace", &subject, detail, writes).await?;
    Ok(sscc)
}

/// Closed cartons onto an open pallet (`Store::pack_cartons`): the answer is the pallet as the
/// transaction leaves it. With `dry_run`, only checks (see [`pack`]).
pub(crate) async fn pack_cartons(
    db: &Db,
    actor: &Actor,
    pallet: &str,
    cartons: &[String],
    dry_run: bool,
) -> Result<Package, StoreError> {
    none_given(cartons, "cartons")?;
    let (mut tx, head) = begin(db).await?;
    let mut target = package_in(&mut tx, pallet).await?;
    if target.level != PackageLevel::Pallet {
        return Err(StoreError::invalid(
            "sscc",
            format!("{pallet} is a {}: cartons go onto pallets", target.level),
        ));
    }
    let found = packages_in(&mut tx, db, cartons).await?;
    let room = target.capacity - target.children_count;
    let accepted = screen(cartons, room, target.capacity, |sscc| {
        let Some(carton) = found.get(sscc) else {
            return Some(LinkProblem::Unknown);
        };
        if carton.level != PackageLevel::Carton {
            return Some(LinkProblem::WrongLevel(carton.level));
        }
        if let Some(parent) = &carton.parent {
            return Some(LinkProblem::AlreadyIn(parent.clone()));
        }
        if carton.state != PackageState::Closed {
            return Some(LinkProblem::NotClosed(carton.state));
        }
        if carton.batch_id != target.batch_id {
            return Some(LinkProblem::OtherBatch {
                of: Some(carton.batch_id),
                want: target.batch_id,
            });
        }
        if !target.state.is_open() {
            return Some(LinkProblem::PackageNotOpen {
                level: target.level,
                state: target.state,
            });
        }
        None
    })
    .map_err(|r| refused(Some(pallet), r))?;
    if dry_run {
        return Ok(target);
    }
    let mut writes = Writes::default();
    let to = PackageState::Palletised;
    set_parent(&mut writes, db, &accepted, Some(pallet), to, head.seq);
    let packed = Packed {
        package: pallet,
        members: "cartons",
        to: to.as_str(),
        accepted: &accepted,
    };
    packed.finish(tx, actor, head, writes).await?;
    target.children_count += i64::try_from(accepted.len()).unwrap_or(i64::MAX);
    Ok(target)
}

/// What one packing put into a package: units into a carton, or cartons onto a pallet.
struct Packed<'a> {
    /// The package.
    package: &'a str,
    /// What the members are, as the event's detail names them (`codes`, `cartons`).
    members: &'static str,
    /// The state the members went to.
    to: &'static str,
    /// The members.
    accepted: &'a [&'a str],
}

impl Packed<'_> {
    /// Marks the package changed, records the `package.pack` event (its detail is hashed into
    /// the chain: keep the keys and their order) with the members' `writes`, and commits.
    async fn finish(
        self,
        tx: Tx,
        actor: &Actor,
        head: Head,
        mut writes: Writes<'_>,
    ) -> Result<(), StoreError> {
        touch(&mut writes, self.package, head.seq);
        let mut detail = serde_json::Map::new();
        detail.insert("sscc".into(), json!(self.package));
        detail.insert("to".into(), json!(self.to));
        detail.insert("count".into(), json!(self.accepted.len()));
        detail.insert(self.members.into(), json!(self.accepted));
        let subject = format!("package:{}", self.package);
        let detail = serde_json::Value::Object(detail);
        finish_with(tx, actor, head, "package.pack", &subject, detail, writes).await
    }
}

/// Puts `cartons` on `parent` (or none) in state `to`, with the transaction's event.
fn set_parent(
    writes: &mut Writes<'_>,
    db: &Db,
    cartons: &[&str],
    parent: Option<&str>,
    to: PackageState,
    seq: i64,
) {
    let at = writes.next_arg();
    writes
        .statement(format!(
            "UPDATE packages SET parent_sscc = ${at}, state = ${}, last_event = ${} WHERE {}",
            at + 1,
            at + 2,
            db.dialect.text_in_json("sscc", at + 3)
        ))
        .bind(parent.map(str::to_owned))
        .bind(to.as_str())
        .bind(seq)
        .bind(serde_json::to_string(cartons).unwrap_or_default())
        .expect(
            cartons.len() as u64,
            format!("setting {} cartons to {to}", cartons.len()),
        );
}

/// Cartons off their open pallets (`Store::unpack_cartons`).
pub(crate) async fn unpack_cartons(
    db: &Db,
    actor: &Actor,
    cartons: &[String],
) -> Result<Vec<(String, String)>, StoreError> {
    none_given(cartons, "cartons")?;
    let (mut tx, head) = begin(db).await?;
    let found = packages_in(&mut tx, db, cartons).await?;
    let parents: HashSet<&str> = found.values().filter_map(|c| c.parent.as_deref()).collect();
    let states = package_states(&mut tx, db, &parents).await?;
    let mut from: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let accepted = screen(cartons, i64::MAX, i64::MAX, |sscc| {
        let Some(carton) = found.get(sscc) else {
            return Some(LinkProblem::Unknown);
        };
        let Some(pallet) = &carton.parent else {
            return Some(LinkProblem::NotInPackage(carton.state.as_str().to_owned()));
        };
        match states.get(pallet) {
            Some(state) if state.is_open() => {
                from.entry(pallet.clone()).or_default().push(sscc);
                None
            }
            Some(state) => Some(LinkProblem::InClosedPackage {
                sscc: pallet.clone(),
                state: *state,
            }),
            None => Some(LinkProblem::Unknown),
        }
    })
    .map_err(|r| refused(None, r))?;
    let mut writes = Writes::default();
    let to = PackageState::Closed;
    set_parent(&mut writes, db, &accepted, None, to, head.seq);
    let taken = Unpacked {
        from,
        members: "cartons",
        to: to.as_str(),
        count: accepted.len(),
    };
    taken.finish(tx, actor, head, writes).await
}

/// What one unpacking took out of which packages: units out of cartons, or cartons off pallets.
struct Unpacked<'a> {
    /// Package → the members taken out of it.
    from: BTreeMap<String, Vec<&'a str>>,
    /// What the members are, as the event's detail names them (`codes`, `cartons`).
    members: &'static str,
    /// The state the members went to.
    to: &'static str,
    /// How many members.
    count: usize,
}

impl Unpacked<'_> {
    /// Marks the packages changed, records the `package.unpack` event (its detail is hashed
    /// into the chain: keep the keys and their order) and commits; returns (member, package)
    /// pairs.
    async fn finish(
        self,
        tx: Tx,
        actor: &Actor,
        head: Head,
        mut writes: Writes<'_>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        for sscc in self.from.keys() {
            touch(&mut writes, sscc, head.seq);
        }
        let subject = match self.from.keys().next() {
            Some(sscc) if self.from.len() == 1 => format!("package:{sscc}"),
            _ => "packages".to_owned(),
        };
        let runs: Vec<serde_json::Value> = self
            .from
            .iter()
            .map(|(sscc, members)| {
                let mut run = serde_json::Map::new();
                run.insert("sscc".into(), json!(sscc));
                run.insert(self.members.into(), json!(members));
                serde_json::Value::Object(run)
            })
            .collect();
        let detail = json!({ "to": self.to, "count": self.count, "from": runs });
        finish_with(tx, actor, head, "package.unpack", &subject, detail, writes).await?;
        Ok(self
            .from
            .into_iter()
            .flat_map(|(sscc, members)| {
                members
                    .into_iter()
                    .map(move |member| (member.to_owned(), sscc.clone()))
            })
            .collect())
    }
}
