//! `tracemark pack …` and `producer set --gs1-company-prefix` (SPEC §3a, issue 14): every
//! refusal exits 2 naming each code and its reason and changes nothing (the audit chain does not
//! move); the happy path from a new carton to a pallet's hierarchy, and rework. On SQLite and
//! PostgreSQL: the binary runs against the store the test built.

#[macro_use]
mod common;

use common::*;
use tracemark_store::{CodeState, PackageState, RejectReason, Store, Transition};

const GTIN: &str = "09506000134352";

/// Batch A with six verified codes and one rejected one (last), batch B with one verified code.
async fn line_output(store: &Store) -> (i64, Vec<String>, i64, String) {
    let mut p = product("p", GTIN);
    p.pack_sizes = vec![3, 2];
    store.add_product(&p).await.expect("add");
    packing_producer(store).await;
    let (a, mut codes) = verified_batch(store, "p", "A", 6).await;
    let (b, other) = verified_batch(store, "p", "B", 1).await;
    let rejected = store
        .allocate("p", 1, Some(a.id))
        .await
        .expect("allocate")
        .codes
        .remove(0);
    let mut changes: Vec<Transition> = [CodeState::Sent, CodeState::Printed]
        .into_iter()
        .map(|s| Transition::to(rejected.as_str(), s))
        .collect();
    let mut reject = Transition::to(rejected.as_str(), CodeState::Rejected);
    reject.reason = Some(RejectReason::NoRead);
    changes.push(reject);
    store.transition_all(&changes).await.expect("reject");
    codes.push(rejected);
    (a.id, codes, b.id, other[0].clone())
}

/// Runs the binary; returns (exit code, stdout, stderr).
fn run(url: &str, args: &[&str]) -> (i32, String, String) {
    let out = tracemark(url, args);
    (out.status.code().unwrap_or(-1), stdout(&out), stderr(&out))
}

/// Runs a command that must succeed; returns its stdout.
fn ok(url: &str, args: &[&str]) -> String {
    let (code, out, err) = run(url, args);
    assert_eq!(code, 0, "{args:?}: {err}");
    out
}

/// Runs a command that must be refused with exit status 2, naming every `(item, reason)`, and
/// change nothing.
async fn refused(store: &Store, args: &[&str], named: &[(&str, &str)]) -> String {
    let before = store.audit_head().await.expect("head");
    let (code, out, err) = run(store.url(), args);
    assert_eq!(code, 2, "{args:?}: {out}{err}");
    assert!(err.starts_with("error: "), "{err}");
    for (item, reason) in named {
        assert!(
            err.contains(&format!("{item}: {reason}")),
            "{args:?}: {err} should name {item}: {reason}"
        );
    }
    assert_eq!(
        store.audit_head().await.expect("head"),
        before,
        "{args:?} changed the store"
    );
    err
}

async fn pack_commands(store: Store) {
    let (a, codes, b, foreign) = line_output(&store).await;
    let url = store.url().to_owned();
    let (batch_a, batch_b) = (a.to_string(), b.to_string());
    let rejected = codes[6].as_str();

    let carton = ok(&url, &["pack", "new", "--batch", &batch_a])
        .trim()
        .to_owned();
    assert_eq!(carton.len(), 18, "{carton}");
    assert!(
        carton.starts_with(&format!("0{COMPANY_PREFIX}")),
        "{carton}"
    );
    let c = carton.as_str();
    let out = ok(&url, &["pack", "add", c, &codes[0], &codes[1]]);
    assert_eq!(out.trim(), format!("2 added to carton {c} (2/3)"));

    // Each refusal alone, then several at once: every code named with its reason.
    let unknown = format!("(01){GTIN}(21)000000000000");
    let not_a = format!("of batch {batch_b}, not {batch_a}");
    let already = format!("already in {c}");
    refused(
        &store,
        &["pack", "add", c, rejected],
        &[(rejected, "not verified (rejected)")],
    )
    .await;
    refused(&store, &["pack", "add", c, &foreign], &[(&foreign, &not_a)]).await;
    refused(
        &store,
        &["pack", "add", c, &codes[0]],
        &[(&codes[0], &already)],
    )
    .await;
    refused(
        &store,
        &["pack", "add", c, &unknown],
        &[(&unknown, "unknown code")],
    )
    .await;
    refused(
        &store,
        &["pack", "add", c, &codes[2], &codes[3]],
        &[(&codes[3], "over capacity (3)")],
    )
    .await;
    let err = refused(
        &store,
        &["pack", "add", c, rejected, &foreign, &codes[0]],
        &[
            (rejected, "not verified (rejected)"),
            (&foreign, &not_a),
            (&codes[0], &already),
        ],
    )
    .await;
    assert!(err.starts_with(&format!("error: pack: {c}: ")), "{err}");
    refused(
        &store,
        &["pack", "new", "--batch", &batch_a, "--level", "box"],
        &[],
    )
    .await;
    refused(&store, &["pack", "show", "123"], &[]).await;

    // Full and closed: nothing more goes in or out until it is reopened.
    ok(&url, &["pack", "add", c, &codes[2]]);
    let out = ok(&url, &["pack", "close", c]);
    assert_eq!(out.trim(), format!("carton {c} closed (3/3)"));
    refused(
        &store,
        &["pack", "add", c, &codes[3]],
        &[(&codes[3], "carton closed")],
    )
    .await;
    refused(
        &store,
        &["pack", "remove", &codes[0]],
        &[(
            &codes[0],
            &format!("in {c}, which is closed (reopen it first)"),
        )],
    )
    .await;

    // Onto a pallet; the hierarchy as JSON.
    let pallet = ok(
        &url,
        &["pack", "new", "--batch", &batch_a, "--level", "pallet"],
    )
    .trim()
    .to_owned();
    let out = ok(&url, &["pack", "add", &pallet, c]);
    assert_eq!(out.trim(), format!("1 added to pallet {pallet} (1/2)"));
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&url, &["pack", "show", &pallet, "--json"])).expect("JSON");
    assert_eq!(shown["sscc"], pallet.as_str());
    assert_eq!(shown["level"], "pallet");
    assert_eq!(shown["children_count"], 1);
    assert_eq!(shown["cartons"][0]["sscc"], c);
    assert_eq!(shown["cartons"][0]["state"], "palletised");
    assert_eq!(shown["cartons"][0]["parent"], pallet.as_str());
    assert_eq!(
        shown["cartons"][0]["units"],
        serde_json::json!([&codes[0], &codes[1], &codes[2]])
    );
    let unit: serde_json::Value =
        serde_json::from_str(&ok(&url, &["codes", "show", &codes[0]])).expect("JSON");
    assert_eq!(
        (&unit["state"], &unit["package"]),
        (&"packed".into(), &c.into())
    );
    let text = ok(&url, &["pack", "show", &pallet]);
    assert!(
        text.contains(&format!("  carton {c}  palletised  3/3")),
        "{text}"
    );
    assert!(text.contains(&format!("    {}", codes[0])), "{text}");

    // Rework: off the pallet, reopen, replace, remove, unpack, repack, close short.
    refused(&store, &["pack", "reopen", c], &[]).await;
    let out = ok(&url, &["pack", "remove", c]);
    assert_eq!(out.trim(), format!("{c} removed from {pallet}"));
    ok(&url, &["pack", "reopen", c]);
    let out = ok(&url, &["pack", "replace", &codes[1], &codes[3]]);
    assert_eq!(
        out.trim(),
        format!("{} replaced by {} in {c}", codes[1], codes[3])
    );
    let out = ok(&url, &["pack", "remove", &codes[0]]);
    assert_eq!(out.trim(), format!("{} removed from {c}", codes[0]));
    let out = ok(&url, &["pack", "unpack", c]);
    assert_eq!(out.trim(), format!("2 taken out of {c}"));
    ok(&url, &["pack", "add", c, &codes[4]]);
    let out = ok(&url, &["pack", "close", c]);
    assert_eq!(out.trim(), format!("carton {c} closed (1/3, short)"));
    assert_eq!(
        store.code(&codes[1]).await.expect("code").state,
        CodeState::Verified
    );

    // The batch's packages: unbalanced while the pallet is open, balanced once it is voided.
    let list: serde_json::Value =
        serde_json::from_str(&ok(&url, &["pack", "list", "--batch", &batch_a, "--json"]))
            .expect("JSON");
    assert_eq!(list["reconciliation"]["balanced"], false);
    assert_eq!(list["reconciliation"]["pallets_open"], 1);
    ok(&url, &["pack", "void", &pallet]);
    let text = ok(&url, &["pack", "list", "--batch", &batch_a]);
    assert!(
        text.contains("cartons 1 = closed 1 (short 1) + voided 0 (0 open)"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("balanced"), "{text}");
    let report = ok(&url, &["batch", "report", &batch_a]);
    assert!(report.contains("packages balanced"), "{report}");

    // Every change is in the chain, with the user.
    let events = store.events(0, 10_000).await.expect("events");
    let packing: Vec<&str> = events
        .iter()
        .filter(|e| e.kind.starts_with("package."))
        .map(|e| e.user.as_str())
        .collect();
    assert!(packing.len() >= 12, "{packing:?}");
    assert!(packing.iter().all(|u| *u == "tester"), "{packing:?}");
    assert_eq!(store.verify_audit().await.expect("verify").first_bad, None);
}
both!(pack_commands);

/// Closing a batch closes what is still open: a part-filled carton and pallet short, an empty
/// carton voided; the report then balances.
async fn batch_close_closes_open_packages(store: Store) {
    let (a, codes, _, _) = line_output(&store).await;
    let url = store.url().to_owned();
    let batch = a.to_string();
    let partial = ok(&url, &["pack", "new", "--batch", &batch])
        .trim()
        .to_owned();
    ok(&url, &["pack", "add", &partial, &codes[0], &codes[1]]);
    let full = ok(&url, &["pack", "new", "--batch", &batch])
        .trim()
        .to_owned();
    ok(
        &url,
        &["pack", "add", &full, &codes[2], &codes[3], &codes[4]],
    );
    ok(&url, &["pack", "close", &full]);
    let pallet = ok(
        &url,
        &["pack", "new", "--batch", &batch, "--level", "pallet"],
    )
    .trim()
    .to_owned();
    ok(&url, &["pack", "add", &pallet, &full]);
    let empty = ok(&url, &["pack", "new", "--batch", &batch])
        .trim()
        .to_owned();

    ok(&url, &["batch", "close", &batch]);
    let state = |sscc: &str| {
        let store = store.clone();
        let sscc = sscc.to_owned();
        async move { store.package(&sscc).await.expect("package") }
    };
    let partial = state(&partial).await;
    assert_eq!(partial.state, PackageState::Closed);
    assert!(partial.short, "{partial:?}");
    let pallet = state(&pallet).await;
    assert_eq!(pallet.state, PackageState::Closed);
    assert!(pallet.short, "{pallet:?}");
    assert_eq!(state(&empty).await.state, PackageState::Voided);
    let report = ok(&url, &["batch", "report", &batch]);
    assert!(report.contains("packages balanced"), "{report}");
    let words = report.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains("cartons 3 = closed 2 (short 1) + voided 1 (0 open)"),
        "{report}"
    );
}
both!(batch_close_closes_open_packages);

async fn producer_gs1_prefix(store: Store) {
    let url = store.url().to_owned();
    // No producer yet: the prefix has nowhere to go.
    refused(
        &store,
        &["producer", "set", "--gs1-company-prefix", "9506000"],
        &[],
    )
    .await;
    let mut p = product("p", GTIN);
    p.pack_sizes = vec![3];
    store.add_product(&p).await.expect("add");
    let (batch, _) = verified_batch(&store, "p", "A", 1).await;
    let err = refused(
        &store,
        &["pack", "new", "--batch", &batch.id.to_string()],
        &[],
    )
    .await;
    assert!(err.contains("--gs1-company-prefix"), "{err}");
    packing_producer(&store).await;
    for bad in ["950", "9506000123456", "95O6000"] {
        let err = refused(
            &store,
            &["producer", "set", "--gs1-company-prefix", bad],
            &[],
        )
        .await;
        assert!(err.contains("gs1_company_prefix"), "{err}");
    }
    refused(
        &store,
        &[
            "producer",
            "set",
            "--name",
            "x",
            "--gs1-company-prefix",
            "9506000",
        ],
        &[],
    )
    .await;
    let out = ok(
        &url,
        &[
            "producer",
            "set",
            "--gs1-company-prefix",
            "9506001",
            "--sscc-extension-digit",
            "3",
        ],
    );
    assert!(out.contains("9506001"), "{out}");
    let sscc = ok(&url, &["pack", "new", "--batch", &batch.id.to_string()]);
    assert!(sscc.starts_with("39506001"), "{sscc}");
    // A pallet level the product has no pack size for needs a capacity.
    refused(
        &store,
        &[
            "pack",
            "new",
            "--batch",
            &batch.id.to_string(),
            "--level",
            "pallet",
        ],
        &[],
    )
    .await;
    ok(
        &url,
        &[
            "pack",
            "new",
            "--batch",
            &batch.id.to_string(),
            "--level",
            "pallet",
            "--capacity",
            "4",
        ],
    );
}
both!(producer_gs1_prefix);
