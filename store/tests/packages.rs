//! Aggregation on SQLite and PostgreSQL (SPEC §3a, issue 14): SSCC allocation, the link rules
//! (every refusal names every offending child and changes nothing), rework, reconciliation.

#[macro_use]
#[path = "../../controller/tests/common/mod.rs"]
mod common;

use common::*;
use tracemark_codes::gs1::Sscc;
use tracemark_store::label::{LabelFault, LabelRead, LabelRejection};
use tracemark_store::{
    CodeState, LinkProblem, PackageLevel, PackageState, Refusal, SsccCoding, Store, StoreError,
    Transition,
};

const GTIN: &str = "09506000134352";

async fn head(store: &Store) -> (i64, String) {
    store.audit_head().await.expect("read the head")
}

async fn assert_chain_ok(store: &Store) {
    let report = store.verify_audit().await.expect("verify");
    assert_eq!(report.first_bad, None, "{report:?}");
}

fn sscc(reference: u64) -> String {
    Sscc::new(0, COMPANY_PREFIX, reference)
        .expect("an SSCC")
        .to_string()
}

/// Product `p` (3 units per carton, 2 cartons per pallet).
async fn packing_product(store: &Store) {
    let mut p = product("p", GTIN);
    p.pack_sizes = vec![3, 2];
    store.add_product(&p).await.expect("add the product");
}

async fn state_of(store: &Store, code: &str) -> CodeState {
    store.code(code).await.expect("read the code").state
}

fn refusal(item: &str, problem: LinkProblem) -> Refusal {
    Refusal {
        item: item.to_owned(),
        problem,
    }
}

/// The refusals of a refused link, or a panic naming what happened instead.
fn refusals<T: std::fmt::Debug>(result: Result<T, StoreError>) -> Vec<Refusal> {
    match result {
        Err(StoreError::PackRefused { refusals, .. }) => refusals,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn sscc_allocation(store: Store) {
    packing_product(&store).await;
    let (batch, _) = verified_batch(&store, "p", "L1", 1).await;
    // No company prefix yet: refused, nothing written.
    let before = head(&store).await;
    let refused = store
        .create_package(batch.id, PackageLevel::Carton, None)
        .await;
    assert!(
        matches!(&refused, Err(StoreError::Invalid { field: "producer", reason })
            if reason.contains("--gs1-company-prefix")),
        "{refused:?}"
    );
    assert_eq!(head(&store).await, before);
    let bad = store
        .set_sscc_coding(&SsccCoding {
            company_prefix: "950".into(),
            extension_digit: 0,
        })
        .await;
    assert!(
        matches!(
            bad,
            Err(StoreError::Invalid {
                field: "gs1_company_prefix",
                ..
            })
        ),
        "{bad:?}"
    );
    packing_producer(&store).await;
    assert_eq!(
        store.sscc_coding().await.expect("read"),
        Some(SsccCoding {
            company_prefix: COMPANY_PREFIX.into(),
            extension_digit: 0
        })
    );

    // Sequential from reference 1, check digits valid, capacities from the pack sizes.
    let mut made = Vec::new();
    for (level, capacity) in [
        (PackageLevel::Carton, None),
        (PackageLevel::Carton, Some(5)),
        (PackageLevel::Pallet, None),
    ] {
        made.push(
            store
                .create_package(batch.id, level, capacity)
                .await
                .expect("allocate"),
        );
    }
    let ssccs: Vec<&str> = made.iter().map(|p| p.sscc.as_str()).collect();
    assert_eq!(ssccs, [sscc(1), sscc(2), sscc(3)]);
    for p in &made {
        assert_eq!(
            Sscc::parse(&p.sscc).map(|s| s.to_string()),
            Ok(p.sscc.clone())
        );
        assert_eq!(p.state, PackageState::Allocated);
        assert_eq!((p.batch_id, p.product_id.as_str()), (batch.id, "p"));
        assert_eq!(
            (p.children_count, p.short, p.parent.as_deref()),
            (0, false, None)
        );
    }
    let capacities: Vec<i64> = made.iter().map(|p| p.capacity).collect();
    assert_eq!(capacities, [3, 5, 2]);
    assert!(
        store
            .create_package(batch.id, PackageLevel::Carton, Some(0))
            .await
            .is_err()
    );
    assert_eq!(
        store.packages_of_batch(batch.id).await.expect("list").len(),
        3
    );

    // Reopened, the store goes on where it was: never an SSCC twice.
    let again = Store::open(store.url(), actor()).await.expect("reopen");
    let next = again
        .create_package(batch.id, PackageLevel::Carton, None)
        .await
        .expect("allocate after reopening");
    assert_eq!(next.sscc, sscc(4));
    again.close().await;
    // Another extension digit is another series: its first SSCC differs in the first digit.
    store
        .set_sscc_coding(&SsccCoding {
            company_prefix: COMPANY_PREFIX.into(),
            extension_digit: 1,
        })
        .await
        .expect("set");
    let other = store
        .create_package(batch.id, PackageLevel::Carton, None)
        .await
        .expect("allocate");
    assert_eq!(
        other.sscc,
        Sscc::new(1, COMPANY_PREFIX, 1).expect("sscc").to_string()
    );
    let events = store.events(0, 1000).await.expect("events");
    let creates = events.iter().filter(|e| e.kind == "package.create").count();
    assert_eq!(creates, 5);
    assert_chain_ok(&store).await;
}
both!(sscc_allocation);

async fn packing_rules(store: Store) {
    packing_product(&store).await;
    packing_producer(&store).await;
    let (batch, a) = verified_batch(&store, "p", "L1", 7).await;
    let (other, b) = verified_batch(&store, "p", "L2", 1).await;
    // a[5] taken as a sample: no longer verified.
    store
        .transition_all(&[Transition::to(a[5].as_str(), CodeState::Sampled)])
        .await
        .expect("sample");
    let carton = store
        .create_package(batch.id, PackageLevel::Carton, None)
        .await
        .expect("carton");
    let c = carton.sscc.as_str();
    let packed = store
        .pack(c, &[a[0].clone(), a[1].clone()])
        .await
        .expect("pack two");
    assert_eq!(packed.children_count, 2);
    assert_eq!(state_of(&store, &a[0]).await, CodeState::Packed);

    // Every offending code with its reason; a[2] would fit, a[3] is one too many: nothing moves.
    let before = head(&store).await;
    let unknown = format!("(01){GTIN}(21)000000000000");
    let asked = [
        a[5].clone(),
        b[0].clone(),
        a[0].clone(),
        unknown.clone(),
        "nonsense".to_owned(),
        a[2].clone(),
        a[3].clone(),
        a[2].clone(),
    ];
    let got = refusals(store.pack(c, &asked).await);
    assert_eq!(
        got,
        [
            refusal(&a[5], LinkProblem::NotVerified(CodeState::Sampled)),
            refusal(
                &b[0],
                LinkProblem::OtherBatch {
                    of: Some(other.id),
                    want: batch.id
                }
            ),
            refusal(&a[0], LinkProblem::AlreadyIn(c.to_owned())),
            refusal(&unknown, LinkProblem::Unknown),
            refusal("nonsense", LinkProblem::Unknown),
            refusal(&a[3], LinkProblem::OverCapacity(3)),
            refusal(&a[2], LinkProblem::ListedTwice),
        ]
    );
    let message = store
        .pack(c, &[a[5].clone()])
        .await
        .expect_err("refused")
        .to_string();
    assert_eq!(
        message,
        format!("pack: {c}: {}: not verified (sampled)", a[5])
    );
    assert_eq!(head(&store).await, before, "a refusal writes nothing");
    assert_eq!(state_of(&store, &a[2]).await, CodeState::Verified);
    assert_eq!(store.package(c).await.expect("read").children_count, 2);

    // Full, closed: nothing more goes in.
    store.pack(c, &[a[2].clone()]).await.expect("fill");
    let closed = store
        .set_package_state(c, PackageState::Closed)
        .await
        .expect("close");
    assert_eq!((closed.state, closed.short), (PackageState::Closed, false));
    assert_eq!(closed, store.package(c).await.expect("read"), "as stored");
    assert!(closed.closed_at.is_some());
    let got = refusals(store.pack(c, &[a[4].clone()]).await);
    assert_eq!(
        got,
        [refusal(
            &a[4],
            LinkProblem::PackageNotOpen {
                level: PackageLevel::Carton,
                state: PackageState::Closed
            }
        )]
    );
    // Units go into cartons only; a plain transition cannot take a unit out of its carton.
    let pallet = store
        .create_package(batch.id, PackageLevel::Pallet, None)
        .await
        .expect("pallet");
    assert!(matches!(
        store.pack(&pallet.sscc, &[a[4].clone()]).await,
        Err(StoreError::Invalid { field: "sscc", .. })
    ));
    for (code, to) in [(&a[0], CodeState::Verified), (&a[4], CodeState::Packed)] {
        let plain = store
            .transition_all(&[Transition::to(code.as_str(), to)])
            .await;
        assert!(
            matches!(&plain, Err(StoreError::Invalid { field: "state", reason })
                if reason.contains("tracemark pack")),
            "{plain:?}"
        );
    }

    // Cartons onto the pallet: closed ones only, each once.
    let open = store
        .create_package(batch.id, PackageLevel::Carton, None)
        .await
        .expect("carton");
    let before = head(&store).await;
    let got = refusals(
        store
            .pack_cartons(&pallet.sscc, &[c.to_owned(), open.sscc.clone(), "1".into()])
            .await,
    );
    assert_eq!(
        got,
        [
            refusal(&open.sscc, LinkProblem::NotClosed(PackageState::Allocated)),
            refusal("1", LinkProblem::Unknown),
        ]
    );
    assert_eq!(head(&store).await, before);
    let on = store
        .pack_cartons(&pallet.sscc, &[c.to_owned()])
        .await
        .expect("palletise");
    assert_eq!(on.children_count, 1);
    let carton = store.package(c).await.expect("read");
    assert_eq!(carton.state, PackageState::Palletised);
    assert_eq!(carton.parent.as_deref(), Some(pallet.sscc.as_str()));
    let got = refusals(store.pack_cartons(&pallet.sscc, &[c.to_owned()]).await);
    assert_eq!(
        got,
        [refusal(c, LinkProblem::AlreadyIn(pallet.sscc.clone()))]
    );

    // The hierarchy: pallet → carton → units.
    let tree = store.package_contents(&pallet.sscc).await.expect("show");
    assert_eq!(tree.cartons.len(), 1);
    assert_eq!(tree.cartons[0].package.sscc, c);
    assert_eq!(tree.cartons[0].units, &a[..3]);
    assert_chain_ok(&store).await;
}
both!(packing_rules);

async fn rework(store: Store) {
    packing_product(&store).await;
    packing_producer(&store).await;
    let (batch, a) = verified_batch(&store, "p", "L1", 6).await;
    let carton = store
        .create_package(batch.id, PackageLevel::Carton, None)
        .await
        .expect("carton");
    let c = carton.sscc.as_str();
    store.pack(c, &a[..3]).await.expect("pack");
    store
        .set_package_state(c, PackageState::Closed)
        .await
        .expect("close");

    // A closed carton gives nothing back until it is reopened.
    let before = head(&store).await;
    let got = refusals(store.unpack_codes(&[a[0].clone(), a[4].clone()]).await);
    assert_eq!(
        got,
        [
            refusal(
                &a[0],
                LinkProblem::InClosedPackage {
                    sscc: c.to_owned(),
                    state: PackageState::Closed
                }
            ),
            refusal(&a[4], LinkProblem::NotInPackage("verified".into())),
        ]
    );
    assert!(store.replace_code(&a[1], &a[3]).await.is_err());
    assert_eq!(head(&store).await, before);

    let reopened = store
        .set_package_state(c, PackageState::Reopened)
        .await
        .expect("reopen");
    assert_eq!(reopened.state, PackageState::Reopened);
    let out = store.unpack_codes(&[a[0].clone()]).await.expect("remove");
    assert_eq!(out, [(a[0].clone(), c.to_owned())]);
    // The events' details are hashed into the chain: their bytes are part of the format.
    let pack = store
        .events(0, 1000)
        .await
        .expect("events")
        .into_iter()
        .find(|e| e.kind == "package.pack")
        .expect("a pack event");
    assert!(
        pack.detail
            .starts_with(&format!(r#"{{"sscc":"{c}","to":"packed","count":"#))
            && pack.detail.contains(r#","codes":[""#),
        "{}",
        pack.detail
    );
    let unpack = store
        .events(0, 1000)
        .await
        .expect("events")
        .into_iter()
        .rfind(|e| e.kind == "package.unpack")
        .expect("an unpack event");
    assert_eq!(
        unpack.detail,
        format!(
            r#"{{"to":"verified","count":1,"from":[{{"sscc":"{c}","codes":["{}"]}}]}}"#,
            a[0]
        )
    );
    assert_eq!(state_of(&store, &a[0]).await, CodeState::Verified);
    // Replace: a[1] out, a[3] in, one event.
    let replaced = store.replace_code(&a[1], &a[3]).await.expect("replace");
    assert_eq!(replaced.children_count, 2);
    assert_eq!(state_of(&store, &a[1]).await, CodeState::Verified);
    assert_eq!(state_of(&store, &a[3]).await, CodeState::Packed);
    let got = refusals(store.replace_code(&a[2], &a[3]).await);
    assert_eq!(got, [refusal(&a[3], LinkProblem::AlreadyIn(c.to_owned()))]);
    // Unpack: every unit out.
    assert_eq!(store.unpack_package(c).await.expect("unpack"), 2);
    assert_eq!(store.package(c).await.expect("read").children_count, 0);
    assert!(matches!(
        store.set_package_state(c, PackageState::Closed).await,
        Err(StoreError::Invalid { field: "state", .. })
    ));
    // A unit taken out may be packed again; closed under capacity, the carton is short.
    store.pack(c, &[a[0].clone()]).await.expect("repack");
    let short = store
        .set_package_state(c, PackageState::Closed)
        .await
        .expect("close short");
    assert!(short.short);

    // Reconciliation: an open carton unbalances the batch until it is voided.
    let spare = store
        .create_package(batch.id, PackageLevel::Carton, None)
        .await
        .expect("carton");
    let r = store
        .package_reconciliation(batch.id)
        .await
        .expect("reconcile");
    assert!(!r.balanced);
    assert_eq!((r.cartons, r.cartons_closed, r.cartons_open), (2, 1, 1));
    store
        .set_package_state(&spare.sscc, PackageState::Voided)
        .await
        .expect("void");
    let r = store
        .package_reconciliation(batch.id)
        .await
        .expect("reconcile");
    assert!(r.balanced, "{:?}", r.problems);
    assert_eq!(
        (
            r.cartons,
            r.cartons_closed,
            r.cartons_short,
            r.cartons_voided
        ),
        (2, 1, 1, 1)
    );
    // Code reconciliation still holds: unpacked units are loose again.
    let counts = store.batch_counts(batch.id).await.expect("counts");
    let codes = tracemark_store::reconcile::Reconciliation::from_counts(&counts);
    assert_eq!((codes.packed, codes.loose, codes.verified), (1, 5, 6));

    let kinds: Vec<String> = store
        .events(0, 1000)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .filter(|k| k.starts_with("package."))
        .collect();
    for kind in [
        "package.create",
        "package.pack",
        "package.unpack",
        "package.replace",
        "package.state",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    let replace = store
        .events(0, 1000)
        .await
        .expect("events")
        .into_iter()
        .find(|e| e.kind == "package.replace")
        .expect("a replace event");
    assert_eq!(
        replace.detail,
        format!(
            r#"{{"sscc":"{c}","removed":"{}","added":"{}"}}"#,
            a[1], a[3]
        )
    );
    assert_eq!(replace.user, "tester");
    assert_chain_ok(&store).await;
}
both!(rework);

async fn pallet_rework(store: Store) {
    packing_product(&store).await;
    packing_producer(&store).await;
    let (batch, a) = verified_batch(&store, "p", "L1", 2).await;
    let pallet = store
        .create_package(batch.id, PackageLevel::Pallet, None)
        .await
        .expect("pallet");
    let mut cartons = Vec::new();
    for code in &a {
        let c = store
            .create_package(batch.id, PackageLevel::Carton, Some(1))
            .await
            .expect("carton");
        store
            .pack(&c.sscc, std::slice::from_ref(code))
            .await
            .expect("pack");
        store
            .set_package_state(&c.sscc, PackageState::Closed)
            .await
            .expect("close");
        cartons.push(c.sscc);
    }
    store
        .pack_cartons(&pallet.sscc, &cartons)
        .await
        .expect("palletise");
    let closed = store
        .set_package_state(&pallet.sscc, PackageState::Closed)
        .await
        .expect("close the pallet");
    assert!(!closed.short);
    assert!(matches!(
        store.unpack_cartons(&cartons[..1]).await,
        Err(StoreError::PackRefused { .. })
    ));
    store
        .set_package_state(&pallet.sscc, PackageState::Reopened)
        .await
        .expect("reopen");
    assert_eq!(store.unpack_package(&pallet.sscc).await.expect("unpack"), 2);
    let carton = store.package(&cartons[0]).await.expect("read");
    assert_eq!((carton.state, carton.parent), (PackageState::Closed, None));
    assert_eq!(state_of(&store, &a[0]).await, CodeState::Packed);
    assert_chain_ok(&store).await;
}
both!(pallet_rework);

/// Backups carry packages and links (pallets before the cartons that name them); a restore
/// skips SSCC references, so an SSCC issued after the snapshot is never issued again.
async fn backup_and_restore(store: Store) {
    packing_product(&store).await;
    packing_producer(&store).await;
    let (batch, a) = verified_batch(&store, "p", "L1", 3).await;
    let pallet = store
        .create_package(batch.id, PackageLevel::Pallet, None)
        .await
        .expect("pallet");
    let carton = store
        .create_package(batch.id, PackageLevel::Carton, None)
        .await
        .expect("carton");
    store.pack(&carton.sscc, &a).await.expect("pack");
    store
        .set_package_state(&carton.sscc, PackageState::Closed)
        .await
        .expect("close");
    store
        .pack_cartons(&pallet.sscc, std::slice::from_ref(&carton.sscc))
        .await
        .expect("palletise");
    let before = store.package_contents(&pallet.sscc).await.expect("show");

    let dir = tempdir();
    let file = dir.path().join("backup.db");
    store.backup(&file).await.expect("back up");
    // Issued after the snapshot: unknown to it.
    let lost = store
        .create_package(batch.id, PackageLevel::Carton, None)
        .await
        .expect("carton");
    assert_eq!(lost.sscc, sscc(3));
    let target = dir.path().join("restored.db");
    tracemark_store::backup::restore(&file, &target, 1000, actor())
        .await
        .expect("restore");
    let restored = open(&sqlite_url(dir.path()).replace("tracemark.db", "restored.db")).await;
    assert_eq!(
        restored.package_contents(&pallet.sscc).await.expect("show"),
        before
    );
    let next = restored
        .create_package(batch.id, PackageLevel::Carton, None)
        .await
        .expect("carton after the restore");
    assert_eq!(next.sscc, sscc(3 + 1_000_000));
    assert!(
        restored
            .events(0, 1000)
            .await
            .expect("events")
            .iter()
            .any(|e| e.kind == "sscc.skip")
    );
    assert_chain_ok(&restored).await;
    restored.close().await;
    // And into an empty PostgreSQL schema (SQLite file → PostgreSQL).
    if let Some(base) = store.is_postgres().then(pg_base_url).flatten() {
        let (url, schema) = pg_schema_url(&base).await;
        tracemark_store::backup::restore_into_postgres(&file, &url, 1000, actor())
            .await
            .expect("restore into PostgreSQL");
        let restored = open(&url).await;
        let tree = restored.package_contents(&pallet.sscc).await.expect("show");
        assert_eq!(tree, before);
        let next = restored
            .create_package(batch.id, PackageLevel::Carton, None)
            .await
            .expect("carton after the restore");
        assert_eq!(next.sscc, sscc(3 + 1_000_000));
        restored.close().await;
        drop_pg_schema(&base, &schema).await;
    }
}
both!(backup_and_restore);

/// Two steps in one transaction (issue 20): a carton created with its units, and a label read
/// back with the close. Each records both events, in order, on one commit; a refusal of either
/// half records neither.
async fn two_steps_one_transaction(store: Store) {
    packing_product(&store).await;
    packing_producer(&store).await;
    let (batch, a) = verified_batch(&store, "p", "L1", 8).await;
    let (seq, _) = head(&store).await;
    let carton = store
        .pack_new_carton(batch.id, None, &a[0..3])
        .await
        .expect("a new carton with three units");
    assert_eq!(carton.sscc, sscc(1));
    assert_eq!(
        (carton.state, carton.capacity, carton.children_count),
        (PackageState::Allocated, 3, 3)
    );
    assert_eq!(
        carton,
        store.package(&carton.sscc).await.expect("read"),
        "the answer, built in the transaction, is the carton as read afresh"
    );
    assert_eq!(state_of(&store, &a[2]).await, CodeState::Packed);
    let events = store.events(seq, 10).await.expect("events");
    let kinds: Vec<(i64, &str)> = events.iter().map(|e| (e.seq, e.kind.as_str())).collect();
    assert_eq!(
        kinds,
        [(seq + 1, "package.create"), (seq + 2, "package.pack")]
    );
    assert!(
        events
            .iter()
            .all(|e| e.subject == format!("package:{}", sscc(1)))
    );
    assert_eq!(
        events[1].prev_hash, events[0].hash,
        "the second event is chained onto the first"
    );

    // Refused: a[2] is packed already and the fourth is one too many. No SSCC is used, and
    // the chain does not move.
    let before = head(&store).await;
    let got = refusals(store.pack_new_carton(batch.id, Some(3), &a[2..7]).await);
    assert_eq!(
        got,
        [
            refusal(&a[2], LinkProblem::AlreadyIn(sscc(1))),
            refusal(&a[6], LinkProblem::OverCapacity(3)),
        ]
    );
    let refused = store.pack_new_carton(batch.id, Some(3), &a[2..3]).await;
    assert!(
        matches!(refused, Err(StoreError::PackRefused { package: None, .. })),
        "names no carton, none was made: {refused:?}"
    );
    assert!(
        store
            .pack_new_carton(batch.id, Some(0), &a[3..4])
            .await
            .is_err()
    );
    assert!(store.pack_new_carton(batch.id, None, &[]).await.is_err());
    assert_eq!(head(&store).await, before);
    let second = store
        .pack_new_carton(batch.id, Some(5), &a[3..5])
        .await
        .expect("the next carton");
    assert_eq!(second.sscc, sscc(2), "the refusals used no SSCC");
    assert_eq!(
        store.packages_of_batch(batch.id).await.expect("list").len(),
        2
    );

    // The label read back closes the carton, with both state changes recorded. Each step
    // answers the package as it left it, built in its transaction: the same as read afresh.
    let labelled = store.label_printed(&carton.sscc).await.expect("printed");
    assert_eq!(labelled.state, PackageState::Labelled);
    assert_eq!(labelled, store.package(&carton.sscc).await.expect("read"));
    let (seq, _) = head(&store).await;
    let again = store.label_printed(&carton.sscc).await.expect("a reprint");
    assert_eq!(
        (again, head(&store).await.0),
        (labelled, seq),
        "a reprint writes nothing"
    );
    let closed = store
        .label_read(&carton.sscc, LabelRead::Closed)
        .await
        .expect("closed");
    assert_eq!(closed, store.package(&carton.sscc).await.expect("read"));
    assert_eq!(
        (closed.state, closed.label_count, closed.short),
        (PackageState::Closed, Some(3), false)
    );
    assert!(closed.closed_at.is_some());
    assert_eq!(closed.close_refusal(), None);
    let events = store.events(seq, 10).await.expect("events");
    let moves: Vec<(i64, &str)> = events.iter().map(|e| (e.seq, e.kind.as_str())).collect();
    assert_eq!(
        moves,
        [(seq + 1, "package.state"), (seq + 2, "package.state")],
        "printed before: the read records the verify and the close only"
    );
    assert!(
        events[0].detail.contains(r#""to":"verified""#),
        "{}",
        events[0].detail
    );
    assert!(
        events[1].detail.contains(r#""to":"closed""#),
        "{}",
        events[1].detail
    );

    // A label not recorded as printed: its print is recorded with its read, in the same
    // transaction, before the read's own events — a rejection, then a reprint that reads.
    let (seq, _) = head(&store).await;
    let rejection = LabelRejection {
        attempt: 1,
        fault: LabelFault::NoRead,
        read: None,
    };
    let rejected = store
        .label_read(&second.sscc, LabelRead::Rejected(&rejection))
        .await
        .expect("rejected");
    assert_eq!(rejected, store.package(&second.sscc).await.expect("read"));
    assert_eq!(rejected.state, PackageState::Labelled);
    let closed = store
        .label_read(&second.sscc, LabelRead::Closed)
        .await
        .expect("reprinted and closed");
    assert_eq!(closed, store.package(&second.sscc).await.expect("read"));
    assert_eq!(closed.state, PackageState::Closed);
    let events = store.events(seq, 10).await.expect("events");
    let moves: Vec<&str> = events
        .iter()
        .map(|e| {
            if e.kind == "package.state" {
                ["labelled", "verified", "closed"]
                    .into_iter()
                    .find(|to| e.detail.contains(&format!(r#""to":"{to}""#)))
                    .unwrap_or("another state")
            } else {
                e.kind.as_str()
            }
        })
        .collect();
    assert_eq!(
        moves,
        ["labelled", "package.label_rejected", "verified", "closed"]
    );

    // Refused: a closed carton's label, and an empty carton's close (void it). Nothing is
    // kept of a refused read, its print included.
    let before = head(&store).await;
    let refused = store.label_read(&carton.sscc, LabelRead::Closed).await;
    assert!(
        matches!(&refused, Err(StoreError::Invalid { field: "state", reason }) if reason.contains("closed")),
        "{refused:?}"
    );
    assert_eq!(head(&store).await, before);
    let empty = store
        .create_package(batch.id, PackageLevel::Carton, None)
        .await
        .expect("an empty carton");
    let before_empty = head(&store).await;
    let refused = store.label_read(&empty.sscc, LabelRead::Closed).await;
    assert!(
        matches!(&refused, Err(StoreError::Invalid { field: "state", reason }) if reason.contains("void")),
        "{refused:?}"
    );
    assert_eq!(head(&store).await, before_empty);
    let empty = store.package(&empty.sscc).await.expect("read");
    assert_eq!(
        (empty.state, empty.label_count),
        (PackageState::Allocated, None)
    );
    assert_ne!(
        head(&store).await,
        before,
        "the empty carton was made meanwhile"
    );

    // Every package step answers the package as its transaction left it: a new package, units
    // packed, cartons onto a pallet, a state change — each the same as read afresh.
    let made = store
        .create_package(batch.id, PackageLevel::Carton, Some(4))
        .await
        .expect("a carton");
    assert_eq!(made, store.package(&made.sscc).await.expect("read"));
    let packed = store.pack(&made.sscc, &a[5..7]).await.expect("packed");
    assert_eq!(packed.children_count, 2);
    assert_eq!(packed, store.package(&made.sscc).await.expect("read"));
    let closed = store
        .set_package_state(&made.sscc, PackageState::Closed)
        .await
        .expect("closed");
    assert_eq!((closed.state, closed.short), (PackageState::Closed, true));
    assert_eq!(closed, store.package(&made.sscc).await.expect("read"));
    let pallet = store
        .create_package(batch.id, PackageLevel::Pallet, Some(3))
        .await
        .expect("a pallet");
    let cartons = [carton.sscc.clone(), made.sscc.clone()];
    let loaded = store
        .pack_cartons(&pallet.sscc, &cartons)
        .await
        .expect("onto the pallet");
    assert_eq!(loaded.children_count, 2);
    assert_eq!(loaded, store.package(&pallet.sscc).await.expect("read"));

    // A package of a batch that is not there: refused as such, with the capacity given (no
    // read before the transaction) or not, and no SSCC used.
    let before = head(&store).await;
    for capacity in [Some(3), None] {
        let refused = store
            .create_package(batch.id + 100, PackageLevel::Carton, capacity)
            .await;
        assert!(
            matches!(&refused, Err(StoreError::NotFound { what: "batch", .. })),
            "{refused:?}"
        );
        let refused = store
            .pack_new_carton(batch.id + 100, capacity, &a[7..8])
            .await;
        assert!(
            matches!(&refused, Err(StoreError::NotFound { what: "batch", .. })),
            "{refused:?}"
        );
    }
    assert_eq!(head(&store).await, before);
    assert_chain_ok(&store).await;
}
both!(two_steps_one_transaction);
