//! `kill -9` of a packing line (inferred mode, `line-configs/pharma-carton.toml`) at random
//! moments, many times over one batch, then a run to the end (issue 14): no unit is ever in
//! two packages, no closed package is lost or changed, the open case is resumed by the next
//! run, and the batch ends packed, balanced, and in agreement with the twin.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracemark_line_tests::common;
use tracemark_line_tests::{Site, Stack, assert_clean_run, line_config, one_line_at_a_time};
use tracemark_store::reconcile::Reconciliation;
use tracemark_store::{CodeState, PackageLevel, PackageState, Store};

/// A small xorshift generator: the moments are random, and the seed is printed so a failure
/// can be replayed (`TRACEMARK_KILL_SEED`).
struct Moments(u64);

impl Moments {
    fn new() -> Self {
        let seed = std::env::var("TRACEMARK_KILL_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
                    | 1
            });
        println!("kill moments: TRACEMARK_KILL_SEED={seed}");
        Self(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Every package of the batch that is closed for good (closed, palletised), with its children.
async fn closed_packages(store: &Store, batch: i64) -> BTreeMap<String, BTreeSet<String>> {
    let mut closed = BTreeMap::new();
    for package in store.packages_of_batch(batch).await.expect("packages") {
        if !matches!(
            package.state,
            PackageState::Closed | PackageState::Palletised
        ) {
            continue;
        }
        let contents = store
            .package_contents(&package.sscc)
            .await
            .expect("contents");
        let children: BTreeSet<String> = match package.level {
            PackageLevel::Carton => contents.units.into_iter().collect(),
            PackageLevel::Pallet => contents
                .cartons
                .into_iter()
                .map(|c| c.package.sscc)
                .collect(),
        };
        closed.insert(package.sscc, children);
    }
    closed
}

/// No unit in two cartons, no carton on two pallets.
fn assert_each_child_in_one_package(closed: &BTreeMap<String, BTreeSet<String>>) {
    let mut seen = BTreeMap::new();
    for (sscc, children) in closed {
        for child in children {
            if let Some(other) = seen.insert(child.clone(), sscc.clone()) {
                panic!("{child} is in {other} and in {sscc}");
            }
        }
    }
}

/// The batch's packages after a kill: what was closed before is closed still with the same
/// children, nothing is in two packages; returns the closed ones now.
async fn check_after_kill(
    site: &Site,
    before: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeMap<String, BTreeSet<String>> {
    let store = site.open().await;
    let batch = store.batches().await.expect("batches")[0].id;
    let closed = closed_packages(&store, batch).await;
    for (sscc, children) in before {
        assert_eq!(
            closed.get(sscc),
            Some(children),
            "closed package {sscc} was lost or changed by a kill"
        );
    }
    assert_each_child_in_one_package(&closed);
    // A carton the station opened and did not fill yet is empty: a case's units go into its
    // carton in one transaction.
    for package in store.packages_of_batch(batch).await.expect("packages") {
        if package.state == PackageState::Allocated && package.level == PackageLevel::Carton {
            assert!(
                package.children_count == 0 || package.children_count == package.capacity,
                "{package:?} is open and part filled"
            );
        }
    }
    store.close().await;
    closed
}

/// Units of the site's batch verified so far (loose or packed), `None` before it has one.
async fn passed(site: &Site) -> Option<i64> {
    let store = Store::open(&site.db, common::actor()).await.ok()?;
    let batch = store.batches().await.ok()?.first()?.id;
    let counts = store.batch_counts(batch).await.ok()?;
    store.close().await;
    Some(
        counts
            .iter()
            .filter(|(state, _)| matches!(state, CodeState::Verified | CodeState::Packed))
            .map(|(_, n)| n)
            .sum(),
    )
}

async fn killed_at_random_moments_then_run_to_the_end(stack: Stack, kills: u32) {
    let Some(site) = stack.site().await else {
        return;
    };
    let _line = one_line_at_a_time().await;
    let config = line_config("pharma-carton.toml");
    let config = config.to_str().expect("a UTF-8 path");
    let mut moments = Moments::new();
    let mut closed = BTreeMap::new();
    let mut verified = 0;
    for kill in 0..kills {
        let mut child = site
            .command(
                "simulate",
                &["--config", config, "--units", "100000", "--speed", "3000"],
            )
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(site.stderr_path()).expect("stderr file"))
            .spawn()
            .expect("start simulate");
        if kill % 4 == 3 {
            // Now and then while it starts: recovery and resuming the open case.
            tokio::time::sleep(Duration::from_millis(100 + moments.below(700))).await;
        } else {
            // Otherwise once the line has verified a random number more units (a case is
            // 10, a pallet 50): any moment of a case's or pallet's life.
            verified += 5 + moments.below(40) as i64;
            site.wait_verified(verified).await.close().await;
        }
        child.start_kill().expect("SIGKILL the controller");
        child.wait().await.expect("reap it");
        closed = check_after_kill(&site, &closed).await;
        verified = verified.max(passed(&site).await.unwrap_or(0));
    }
    assert!(!closed.is_empty(), "the runs closed no package at all");

    // A last run to the end: it resumes the open case, packs everything, agrees with the twin.
    let out = site
        .run("simulate", &["--config", config, "--units", "60"])
        .await;
    let s = assert_clean_run(&out, 60);
    assert_eq!(s["loose"].as_i64(), Some(0), "{s:#}");
    assert_eq!(s["aggregation_disagreements"].as_i64(), Some(0), "{s:#}");
    let store = site.open().await;
    let batch = store.batches().await.expect("batches")[0].id;
    let now = closed_packages(&store, batch).await;
    for (sscc, children) in &closed {
        assert_eq!(
            now.get(sscc),
            Some(children),
            "{sscc} changed after the kills"
        );
    }
    assert_each_child_in_one_package(&now);
    let reconciliation =
        Reconciliation::from_counts(&store.batch_counts(batch).await.expect("counts"));
    assert_eq!(
        reconciliation.verified,
        reconciliation.packed + reconciliation.sampled + reconciliation.loose,
        "{reconciliation:?}"
    );
    let packages = store
        .package_reconciliation(batch)
        .await
        .expect("package reconciliation");
    assert!(packages.balanced, "{packages:?}");
    let audit = store.verify_audit().await.expect("verify");
    assert!(audit.first_bad.is_none(), "{audit:?}");
    store.close().await;
    site.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_20_times_while_packing_embedded() {
    killed_at_random_moments_then_run_to_the_end(Stack::Embedded, 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_packing_plant() {
    killed_at_random_moments_then_run_to_the_end(Stack::Plant, 6).await;
}
