//! What QA does with rejected and verified units (SPEC §3: `rejected → destroyed | released`,
//! `verified → sampled`). Every action is one audited transition with the acting user.

use std::collections::HashMap;

use serde::Serialize;
use tracemark_store::{Actor, CodeRead, CodeRecord, CodeState, Grade, Store, Transition};

use super::AppError;
use super::page::{Page, PageRequest};

/// Rejected units listed at most (a batch with more has a line problem, not a QA queue).
pub const LIST_LIMIT: i64 = 100_000;

/// A batch's rejects still to settle, and how many were settled.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Rejects {
    /// The batch.
    pub batch: i64,
    /// Rejected units not yet destroyed or released.
    pub to_settle: usize,
    /// Destroyed so far.
    pub destroyed: i64,
    /// Released so far.
    pub released: i64,
    /// The rejected units, with their reason and the read they were rejected on.
    pub rejected: Vec<CodeRecord>,
    /// With `all`: the rejects already settled (destroyed, then released), each with the reason
    /// and read it was rejected on, a release's re-scan, and who settled it when.
    pub settled: Vec<SettledReject>,
}

/// A reject QA settled, and who did it when (seed 003 §8.4: every change names its user).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SettledReject {
    /// The unit, destroyed or released.
    #[serde(flatten)]
    pub code: CodeRecord,
    /// The user who settled it (`None`: its event was purged after retention).
    pub settled_by: Option<String>,
    /// When (RFC 3339).
    pub settled_at: Option<String>,
}

/// The rejects of batch `batch` QA still has to settle; with `all`, those settled too.
pub async fn rejects(store: &Store, batch: i64, all: bool) -> Result<Rejects, AppError> {
    let rejected = store
        .codes_of_batch(batch, CodeState::Rejected, LIST_LIMIT)
        .await?;
    let mut settled = Vec::new();
    if all {
        let mut who: HashMap<String, (String, String)> = store
            .settlements(batch)
            .await?
            .into_iter()
            .map(|s| (s.code, (s.by, s.at)))
            .collect();
        for state in [CodeState::Destroyed, CodeState::Released] {
            for code in store.codes_of_batch(batch, state, LIST_LIMIT).await? {
                let (settled_by, settled_at) = who.remove(&code.code).unzip();
                settled.push(SettledReject {
                    code,
                    settled_by,
                    settled_at,
                });
            }
        }
    }
    // QA's states only (a partial index on SQLite): counting every state would read every code
    // of the batch, 100,000 for a large one (docs/performance.md, issue 16).
    let counts = store.reject_counts(batch).await?;
    let count = |state: CodeState| {
        counts
            .iter()
            .find(|(s, _)| *s == state)
            .map_or(0, |(_, n)| *n)
    };
    Ok(Rejects {
        batch,
        to_settle: rejected.len(),
        destroyed: count(CodeState::Destroyed),
        released: count(CodeState::Released),
        rejected,
        settled,
    })
}

/// A batch's rejects: the counts, and one page of the units (those to settle first, then,
/// with `all`, the settled ones).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RejectsPage {
    /// The batch.
    pub batch: i64,
    /// Rejected units not yet destroyed or released.
    pub to_settle: i64,
    /// Destroyed so far.
    pub destroyed: i64,
    /// Released so far.
    pub released: i64,
    /// The units: rejected ones (no `settled_by`), then, with `all`, destroyed and released
    /// ones, each in counter order.
    pub units: Page<SettledReject>,
}

/// One page of batch `batch`'s rejects, read page by page from the store: a request costs its
/// page, not the batch's rejects (issue 16: API reads at 200 requests/s over 1,000,000 codes).
/// The list is the states in turn (rejected; with `all`, destroyed then released), so the page
/// is cut from each state's window that overlaps it.
pub async fn rejects_page(
    store: &Store,
    batch: i64,
    all: bool,
    request: PageRequest,
) -> Result<RejectsPage, AppError> {
    let (offset, limit) = request.offset_limit()?;
    let counts = store.reject_counts(batch).await?;
    let count = |state: CodeState| {
        counts
            .iter()
            .find(|(s, _)| *s == state)
            .map_or(0, |(_, n)| *n)
    };
    let states: &[CodeState] = if all {
        &[
            CodeState::Rejected,
            CodeState::Destroyed,
            CodeState::Released,
        ]
    } else {
        &[CodeState::Rejected]
    };
    let mut units = Vec::new();
    let mut first = 0; // where this state's codes start in the whole list
    for &state in states {
        let in_state = count(state);
        let from = (offset - first).max(0);
        let wanted = limit - units.len() as i64;
        if wanted > 0 && from < in_state {
            let codes = store
                .codes_of_batch_window(batch, state, from, wanted)
                .await?;
            let mut who: HashMap<String, (String, String)> = if state == CodeState::Rejected {
                HashMap::new()
            } else {
                store
                    .settlements_window(batch, state, from, wanted)
                    .await?
                    .into_iter()
                    .map(|s| (s.code, (s.by, s.at)))
                    .collect()
            };
            units.extend(codes.into_iter().map(|code| {
                let (settled_by, settled_at) = who.remove(&code.code).unzip();
                SettledReject {
                    code,
                    settled_by,
                    settled_at,
                }
            }));
        }
        first += in_state;
    }
    Ok(RejectsPage {
        batch,
        to_settle: count(CodeState::Rejected),
        destroyed: count(CodeState::Destroyed),
        released: count(CodeState::Released),
        units: request.of(units, first)?,
    })
}

/// A QA disposition is a decision someone answers for (seed 003 §8.4: every change names its
/// user): it is refused when no user could be named.
fn named(actor: &Actor) -> Result<(), AppError> {
    if actor.is_identified() {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "a QA disposition needs a named user, and none could be found (user {:?}): pass \
             --user NAME or set TRACEMARK_USER",
            Actor::UNKNOWN_USER
        )))
    }
}

/// Records rejected units as destroyed, all or none; their reject reason and read stay.
pub async fn destroy(store: &Store, actor: &Actor, codes: &[String]) -> Result<usize, AppError> {
    named(actor)?;
    let changes: Vec<Transition> = codes
        .iter()
        .map(|code| Transition::to(code.as_str(), CodeState::Destroyed))
        .collect();
    store
        .with_actor(actor.clone())
        .transition_all(&changes)
        .await?;
    Ok(changes.len())
}

/// Destroys every rejected unit of a batch (the reject bin's review in one step); returns how
/// many.
pub async fn destroy_all_rejects(
    store: &Store,
    actor: &Actor,
    batch: i64,
) -> Result<u64, AppError> {
    named(actor)?;
    let rejected = store
        .codes_of_batch(batch, CodeState::Rejected, i64::MAX)
        .await?;
    let codes: Vec<String> = rejected.into_iter().map(|c| c.code).collect();
    if !codes.is_empty() {
        destroy(store, actor, &codes).await?;
    }
    Ok(codes.len() as u64)
}

/// Releases a rejected unit after a manual re-scan: only when the scan reads this very code at
/// the product's minimum grade or better. The re-scan is kept beside the read the reject was
/// made on (`CodeRecord::release_read`), and the reject reason stays.
pub async fn release(
    store: &Store,
    actor: &Actor,
    code: &str,
    scan: &str,
    grade: &str,
) -> Result<Grade, AppError> {
    named(actor)?;
    let record = store.code(code).await?;
    if record.state != CodeState::Rejected {
        return Err(AppError::input(
            "code",
            format!("{code} is {}, not rejected", record.state),
        ));
    }
    let product = store.product(&record.product_id).await?;
    let read = crate::verify::gs1_code_of(scan)
        .ok_or_else(|| AppError::input("scan", format!("{scan:?} is not a GS1 code")))?;
    if read != record.code {
        return Err(AppError::input(
            "scan",
            format!("the re-scan read {read}, not {code}: the unit stays rejected"),
        ));
    }
    let grade = Grade::parse(grade)
        .ok_or_else(|| AppError::input("grade", format!("{grade:?} is not A–D, F or 0–4")))?;
    if grade < product.min_grade {
        return Err(AppError::input(
            "grade",
            format!(
                "{grade} is below product {}'s minimum {}: the unit stays rejected",
                product.id, product.min_grade
            ),
        ));
    }
    let mut released = Transition::to(code, CodeState::Released);
    released.read = Some(CodeRead {
        grade: Some(grade),
        data: Some(scan.to_owned()),
    });
    store
        .with_actor(actor.clone())
        .transition_all(&[released])
        .await?;
    Ok(grade)
}

/// Takes a verified unit out of the line as a QA sample.
pub async fn sample(store: &Store, actor: &Actor, code: &str) -> Result<(), AppError> {
    named(actor)?;
    store
        .with_actor(actor.clone())
        .transition_all(&[Transition::to(code, CodeState::Sampled)])
        .await?;
    Ok(())
}
