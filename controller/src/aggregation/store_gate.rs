//! Packing through a central store outage (issue 18, docs/plant.md "Riding through a central
//! outage").
//!
//! While the central store cannot be reached, the line runs on its codes in hand and its
//! records wait in the edge journal (`tracemark_store::writer`). The packing task is fed the
//! units whose `verified` is *journaled*, not yet in the store, so it must not pack them
//! before the journal has reached the store: the pack rule (units must be verified) would
//! refuse them. So packing waits at the [`StoreGate`] — until the line's store writer says
//! that nothing is held or spooled and the store answers — and then does what it decided, in
//! order. The cases are decided meanwhile (in memory); only their records wait. A store
//! operation that fails because the store went away is waited for and tried again
//! ([`StoreGate::again`]); a retried pack or close that finds its work already done (its
//! COMMIT's answer was lost) counts as done ([`pack_units`], [`pack_new_carton`],
//! [`pack_cartons`], [`close`], [`label_and_close`]).
//!
//! A controller killed meanwhile loses nothing: the units it had not packed are `verified`
//! in no package (in the store or in the journal the next run forwards first), and the next
//! run's packing resumes with them (docs/aggregation.md "After kill -9").

use std::collections::HashSet;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tracemark_store::writer::{HOLD_FOR, RETRY_FIRST, RETRY_MAX, WriterStatus};
use tracemark_store::{Package, PackageLevel, PackageState, Store, StoreError};

use super::label::LabelStation;

/// Where packing stands with the central store: the line's store writer's status, when there
/// is one (a station without a line, or a test, has none and only retries).
#[derive(Debug, Clone, Default)]
pub struct StoreGate {
    writer: Option<watch::Receiver<WriterStatus>>,
    /// Time spent waiting at the gate, for the report.
    waited: Duration,
}

impl StoreGate {
    /// The gate of a line whose records go through the writer whose status is `writer`.
    pub fn of_writer(writer: watch::Receiver<WriterStatus>) -> Self {
        Self {
            writer: Some(writer),
            waited: Duration::ZERO,
        }
    }

    /// How long packing waited at the gate so far.
    pub fn waited(&self) -> Duration {
        self.waited
    }

    /// Waits until every record the line made is in the store: the writer holds and spools
    /// nothing, and it reaches the store. `Err` once the writer has ended with records still
    /// in its journal (the run is over; the next run forwards them and packs what is left).
    pub async fn clear(&mut self) -> Result<(), StoreError> {
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        let ready = |s: &WriterStatus| !s.unreachable && s.held == 0 && s.spooled == 0;
        if ready(&writer.borrow()) {
            return Ok(());
        }
        let started = Instant::now();
        tracing::info!("packing waits for the line's records to reach the central store");
        let waited = writer.wait_for(ready).await.map(|_| ());
        self.waited += started.elapsed();
        waited.map_err(|_| {
            StoreError::invalid(
                "packing",
                "the line's records stayed in the edge journal when its run ended: the next \
                 run forwards them and packs these units",
            )
        })
    }

    /// Starts a store step: waits until the gate is clear. Run the step, and hand each
    /// failure to [`StoreGate::again`], which says whether to run it again.
    pub async fn begin(&mut self) -> Result<Retry, StoreError> {
        self.clear().await?;
        Ok(Retry {
            started: Instant::now(),
            wait: RETRY_FIRST,
            attempt: Attempt::First,
        })
    }

    /// After a step failed with `error`: when the store cannot be reached, waits (backing
    /// off from [`RETRY_FIRST`] to [`RETRY_MAX`], for at most [`HOLD_FOR`] in all, and at the
    /// gate) and answers `Ok` to run it again, as a retry; otherwise answers the error.
    pub async fn again(
        &mut self,
        retry: &mut Retry,
        what: &str,
        error: StoreError,
    ) -> Result<(), StoreError> {
        if !error.is_unreachable() || retry.started.elapsed() >= HOLD_FOR {
            return Err(error);
        }
        if retry.attempt == Attempt::First {
            tracing::warn!(%error, what, "packing: the store went away; waiting for it");
        }
        let before = Instant::now();
        tokio::time::sleep(retry.wait).await;
        self.waited += before.elapsed();
        retry.wait = (retry.wait * 2).min(RETRY_MAX);
        retry.attempt = Attempt::Retry;
        self.clear().await
    }
}

/// One store step's tries (see [`StoreGate::begin`]).
#[derive(Debug)]
pub struct Retry {
    started: Instant,
    wait: Duration,
    /// Which try runs next.
    pub attempt: Attempt,
}

/// Whether an operation is tried for the first time or again after the store went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The first try.
    First,
    /// Again: the last try's answer was lost, so its work may be done already.
    Retry,
}

/// Packs `codes` into the open carton `sscc` (`Store::pack`) through the gate. A retry that
/// is refused because the carton already holds every code counts as done.
pub async fn pack_units(
    gate: &mut StoreGate,
    store: &Store,
    sscc: &str,
    codes: &[String],
) -> Result<Package, StoreError> {
    retried(gate, "pack a carton", |attempt| async move {
        match store.pack(sscc, codes).await {
            Err(refused) if lost_answer(attempt, &refused) => {
                let held = store.package_contents(sscc).await?.units;
                done_already(store, sscc, codes, &held, refused).await
            }
            answer => answer,
        }
    })
    .await
}

/// Puts the closed `cartons` onto the open pallet `sscc` (`Store::pack_cartons`) through the
/// gate. A retry refused because the pallet already holds every carton counts as done.
pub async fn pack_cartons(
    gate: &mut StoreGate,
    store: &Store,
    sscc: &str,
    cartons: &[String],
) -> Result<Package, StoreError> {
    retried(gate, "put cartons on a pallet", |attempt| async move {
        match store.pack_cartons(sscc, cartons).await {
            Err(refused) if lost_answer(attempt, &refused) => {
                let contents = store.package_contents(sscc).await?;
                let held: Vec<String> = contents
                    .cartons
                    .into_iter()
                    .map(|c| c.package.sscc)
                    .collect();
                done_already(store, sscc, cartons, &held, refused).await
            }
            answer => answer,
        }
    })
    .await
}

/// A refusal of a retry: its first try may have been committed with the answer lost.
fn lost_answer(attempt: Attempt, refused: &StoreError) -> bool {
    attempt == Attempt::Retry && !refused.is_unreachable()
}

/// A retried pack refused as `refused`: done when `held` (what the package `sscc` holds)
/// has every one of `wanted` — the first try committed and its answer was lost.
async fn done_already(
    store: &Store,
    sscc: &str,
    wanted: &[String],
    held: &[String],
    refused: StoreError,
) -> Result<Package, StoreError> {
    let held: HashSet<&str> = held.iter().map(String::as_str).collect();
    if wanted.iter().all(|w| held.contains(w.as_str())) {
        store.package(sscc).await
    } else {
        Err(refused)
    }
}

/// Moves the package `sscc` to `to` (`Store::set_package_state`) through the gate. A retry
/// refused because the package is in that state already counts as done.
pub async fn set_state(
    gate: &mut StoreGate,
    store: &Store,
    sscc: &str,
    to: PackageState,
) -> Result<Package, StoreError> {
    retried(gate, "close a package", |attempt| async move {
        match store.set_package_state(sscc, to).await {
            Err(refused) if lost_answer(attempt, &refused) => {
                let package = store.package(sscc).await?;
                if package.state == to {
                    Ok(package)
                } else {
                    Err(refused)
                }
            }
            answer => answer,
        }
    })
    .await
}

/// Closes the package `sscc` (see [`set_state`]).
pub async fn close(gate: &mut StoreGate, store: &Store, sscc: &str) -> Result<Package, StoreError> {
    set_state(gate, store, sscc, PackageState::Closed).await
}

/// Runs the store step `step` makes through the gate, again while the store cannot be reached;
/// `step` is told which try it is (a retry's first try may have been committed).
pub async fn retried<T, Step>(
    gate: &mut StoreGate,
    what: &str,
    mut step: impl FnMut(Attempt) -> Step,
) -> Result<T, StoreError>
where
    Step: Future<Output = Result<T, StoreError>>,
{
    let mut retry = gate.begin().await?;
    loop {
        match step(retry.attempt).await {
            Err(error) => gate.again(&mut retry, what, error).await?,
            done => return done,
        }
    }
}

/// Allocates the SSCC of a new package of `batch` (`Store::create_package`) through the gate.
/// A retry whose first answer was lost leaves that first package empty and open
/// (`tracemark pack void`).
pub async fn create(
    gate: &mut StoreGate,
    store: &Store,
    batch: i64,
    level: PackageLevel,
    capacity: i64,
) -> Result<Package, StoreError> {
    retried(gate, "open a package", |_| {
        store.create_package(batch, level, Some(capacity))
    })
    .await
}

/// Labels the package `package` (as the last store step answered it) at `station` and closes
/// it when the label reads back (`LabelStation::label_and_close`), through the gate: labelled
/// again (a reprint) when the store went away meanwhile, from the package read again, unless
/// it is closed already (the first try committed and its answer was lost).
pub async fn label_and_close(
    gate: &mut StoreGate,
    store: &Store,
    station: &mut LabelStation,
    package: &Package,
) -> Result<Package, StoreError> {
    let mut retry = gate.begin().await?;
    loop {
        let answer = async {
            if retry.attempt == Attempt::Retry {
                let package = store.package(&package.sscc).await?;
                if package.state == PackageState::Closed {
                    return Ok(package);
                }
                return station.label_and_close(&package).await;
            }
            station.label_and_close(package).await
        }
        .await;
        match answer {
            Err(error) => gate.again(&mut retry, "label a package", error).await?,
            done => return done,
        }
    }
}

/// A new carton of `batch` with `codes` in it (`Store::pack_new_carton`), through the gate;
/// each try is [`new_carton`].
pub async fn pack_new_carton(
    gate: &mut StoreGate,
    store: &Store,
    batch: i64,
    capacity: i64,
    codes: &[String],
) -> Result<Package, StoreError> {
    retried(gate, "pack a new carton", |attempt| {
        new_carton(store, attempt, batch, capacity, codes)
    })
    .await
}

/// One try of [`pack_new_carton`]. A retry refused because the codes are in a carton
/// already, and only they, counts as done: the first try committed and its answer was lost.
pub async fn new_carton(
    store: &Store,
    attempt: Attempt,
    batch: i64,
    capacity: i64,
    codes: &[String],
) -> Result<Package, StoreError> {
    match store.pack_new_carton(batch, Some(capacity), codes).await {
        Err(refused) if lost_answer(attempt, &refused) => {
            match carton_holding(store, codes).await? {
                Some(carton) => store.package(&carton).await,
                None => Err(refused),
            }
        }
        answer => answer,
    }
}

/// The carton that holds exactly `codes`, when there is one.
pub async fn carton_holding(store: &Store, codes: &[String]) -> Result<Option<String>, StoreError> {
    let mut carton: Option<String> = None;
    for code in codes {
        let package = store.code(code).await?.package;
        match (&carton, package) {
            (None, Some(package)) => carton = Some(package),
            (Some(held), Some(package)) if *held == package => {}
            _ => return Ok(None),
        }
    }
    let Some(carton) = carton else {
        return Ok(None);
    };
    let held: HashSet<String> = store
        .package_contents(&carton)
        .await?
        .units
        .into_iter()
        .collect();
    let same = held.len() == codes.len() && codes.iter().all(|c| held.contains(c));
    Ok(same.then_some(carton))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unreachable() -> StoreError {
        StoreError::Database {
            context: "test".into(),
            source: sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into()),
        }
    }

    /// Runs `step` through `gate` as the packing steps do; returns its answer and the tries.
    async fn through(
        gate: &mut StoreGate,
        mut step: impl FnMut(usize) -> Result<u32, StoreError>,
    ) -> (Result<u32, StoreError>, Vec<Attempt>) {
        let mut attempts = Vec::new();
        let answer = async {
            let mut retry = gate.begin().await?;
            loop {
                attempts.push(retry.attempt);
                match step(attempts.len()) {
                    Err(error) => gate.again(&mut retry, "test", error).await?,
                    done => return done,
                }
            }
        }
        .await;
        (answer, attempts)
    }

    #[tokio::test(start_paused = true)]
    async fn a_step_is_tried_again_while_the_store_is_away_and_told_so() {
        let mut gate = StoreGate::default();
        let (answer, attempts) = through(
            &mut gate,
            |n| {
                if n < 3 { Err(unreachable()) } else { Ok(7) }
            },
        )
        .await;
        assert_eq!(answer.expect("the third try"), 7);
        assert_eq!(
            attempts,
            [Attempt::First, Attempt::Retry, Attempt::Retry],
            "the retries know they are retries"
        );
        assert_eq!(gate.waited(), RETRY_FIRST * 3, "100 ms, then 200 ms");
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_is_not_tried_again() {
        let mut gate = StoreGate::default();
        let (answer, attempts) =
            through(&mut gate, |_| Err(StoreError::invalid("carton", "full"))).await;
        assert!(answer.is_err());
        assert_eq!(attempts.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_store_away_for_good_fails_after_the_hold() {
        let mut gate = StoreGate::default();
        let (answer, _) = through(&mut gate, |_| Err(unreachable())).await;
        assert!(answer.expect_err("given up").is_unreachable());
        assert!(gate.waited() >= HOLD_FOR, "{:?}", gate.waited());
    }

    #[tokio::test(start_paused = true)]
    async fn the_gate_waits_for_the_journal_and_fails_when_the_writer_ends_spooling() {
        let (status, rx) = watch::channel(WriterStatus {
            unreachable: true,
            held: 0,
            spooled: 40,
        });
        let mut gate = StoreGate::of_writer(rx.clone());
        let waiting = tokio::spawn(async move { gate.clear().await });
        status.send_replace(WriterStatus {
            unreachable: false,
            held: 0,
            spooled: 12,
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "still forwarding");
        status.send_replace(WriterStatus::default());
        waiting.await.expect("task").expect("clear once forwarded");

        let mut gate = StoreGate::of_writer(rx);
        status.send_replace(WriterStatus {
            unreachable: true,
            held: 0,
            spooled: 3,
        });
        drop(status);
        assert!(gate.clear().await.is_err(), "the run ended with a journal");
    }
}
