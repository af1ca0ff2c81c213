//! Serial keys (FF1 under a random per-product key) and the retention purge of the audit log,
//! on SQLite and PostgreSQL.

#[macro_use]
mod common;

use common::*;
use time::{Date, Duration, OffsetDateTime};
use tracemark_codes::serial::{Alphabet, SerialGenerator};
use tracemark_store::{Store, StoreError};

const GTIN: &str = "09506000134352";
const GTIN2: &str = "09506000134369";

/// Reads one text value with SQL, bypassing the store.
async fn raw_text(store: &Store, sql: &str) -> String {
    let url = store.url().to_owned();
    if store.is_postgres() {
        let pool = sqlx::PgPool::connect(&url).await.expect("connect");
        let value = sqlx::query_scalar(sql).fetch_one(&pool).await;
        pool.close().await;
        value.expect("read")
    } else {
        let pool = sqlx::SqlitePool::connect(&url).await.expect("connect");
        let value = sqlx::query_scalar(sql).fetch_one(&pool).await;
        pool.close().await;
        value.expect("read")
    }
}

async fn stored_key(store: &Store, product: &str) -> [u8; 32] {
    let text = raw_text(
        store,
        &format!("SELECT key_hex FROM product_keys WHERE product_id = '{product}'"),
    )
    .await;
    let mut key = [0u8; 32];
    hex::decode_to_slice(text, &mut key).expect("a 256-bit hex key");
    key
}

async fn serials_are_ff1_under_the_products_key(store: Store) {
    store.add_product(&product("p", GTIN)).await.expect("add p");
    store
        .add_product(&product("q", GTIN2))
        .await
        .expect("add q");
    let p = store.allocate("p", 1000, None).await.expect("allocate p");
    let q = store.allocate("q", 1000, None).await.expect("allocate q");
    let p_key = stored_key(&store, "p").await;
    let q_key = stored_key(&store, "q").await;
    assert_ne!(p_key, q_key, "every product has its own key");

    // Each serial decrypts, under the product's key and GTIN tweak, to its counter.
    let p_serials =
        SerialGenerator::new(&p_key, GTIN.as_bytes(), Alphabet::Digits, 12).expect("generator");
    for (i, serial) in p.serials.iter().enumerate() {
        assert_eq!(p_serials.counter_of(serial).expect("decrypt"), i as u64);
        assert_eq!(p.codes[i], format!("(01){GTIN}(21){serial}"));
    }
    // Not a counter in disguise: consecutive serials share no long common prefix, and the
    // first one is not 000000000000.
    assert_ne!(p.serials[0], "000000000000");
    let shared_prefixes = p
        .serials
        .windows(2)
        .filter(|w| w[0][..6] == w[1][..6])
        .count();
    assert!(
        shared_prefixes < 5,
        "{shared_prefixes} neighbours share 6 digits"
    );
    assert_ne!(
        p.serials[..10],
        q.serials[..10],
        "another key, other serials"
    );

    // The event names the key by digest; the key itself never enters the log.
    let events = store.events(0, 10).await.expect("events");
    let add = events
        .iter()
        .find(|e| e.kind == "product.add")
        .expect("product.add");
    assert!(add.detail.contains("serial_key_id"), "{}", add.detail);
    assert!(!add.detail.contains(&hex::encode(p_key)));
    // The database refuses to change or delete a key.
    let update = raw(
        &store,
        "UPDATE product_keys SET key_hex = '00' WHERE product_id = 'p'",
    )
    .await;
    assert!(update.is_err(), "a key must never change");
    let delete = raw(&store, "DELETE FROM product_keys WHERE product_id = 'p'").await;
    assert!(delete.is_err(), "a key must never be deleted");
    assert_eq!(stored_key(&store, "p").await, p_key);
}
both!(serials_are_ff1_under_the_products_key);

fn tomorrow() -> Date {
    OffsetDateTime::now_utc().date() + Duration::days(1)
}

fn years_after(day: Date, years: i32) -> Date {
    day.replace_year(day.year() + years).expect("a date")
}

async fn purge_respects_retention_and_keeps_the_chain_verifiable(store: Store) {
    store.add_product(&product("p", GTIN)).await.expect("add p");
    let mut long_lived = product("q", GTIN2);
    long_lived.retention_years = 10;
    store.add_product(&long_lived).await.expect("add q");
    for _ in 0..3 {
        store.allocate("p", 10, None).await.expect("allocate");
    }
    let before = tomorrow();
    let (head, _) = store.audit_head().await.expect("head");

    // Six years on, p (5 years) could go but q (10 years) must stay: refused, nothing removed.
    let refused = store.purge_audit(before, years_after(before, 6)).await;
    match &refused {
        Err(StoreError::Invalid { field, reason }) => {
            assert_eq!(*field, "before");
            assert!(
                reason.contains("product q must be kept 10 years"),
                "{reason}"
            );
        }
        other => panic!("expected a retention refusal, got {other:?}"),
    }
    assert!(store.purge_audit(before, before).await.is_err());
    let future = store
        .purge_audit(years_after(before, 1), before)
        .await
        .expect_err("a date after today");
    assert!(future.to_string().contains("in the future"), "{future}");
    assert_eq!(store.audit_head().await.expect("head").0, head);
    assert_eq!(
        store.verify_audit().await.expect("verify").purged_through,
        0
    );

    // Eleven years on, everything before the cut may go.
    let purge = store
        .purge_audit(before, years_after(before, 11))
        .await
        .expect("purge");
    assert_eq!(purge.events, head);
    assert_eq!(purge.through_seq, head);
    let report = store.verify_audit().await.expect("verify");
    assert_eq!(report.first_bad, None, "{report:?}");
    assert_eq!(report.purged_through, head);
    assert_eq!(report.events, 1, "only the purge's own event remains");
    // A cut before every remaining event removes nothing and records nothing.
    let (head_now, _) = store.audit_head().await.expect("head");
    let today = before - Duration::days(1);
    let nothing = store
        .purge_audit(today, years_after(before, 11))
        .await
        .expect("purge nothing");
    assert_eq!(nothing.events, 0);
    assert_eq!(store.audit_head().await.expect("head").0, head_now);
    // The same cut again removes the first purge's own event, and the chain still verifies.
    let again = store
        .purge_audit(before, years_after(before, 11))
        .await
        .expect("purge again");
    assert_eq!((again.events, again.through_seq), (1, head_now));
    let report = store.verify_audit().await.expect("verify");
    assert_eq!(report.first_bad, None, "{report:?}");
    // The chain goes on, and the codes (and counters) are untouched.
    let more = store.allocate("p", 5, None).await.expect("allocate");
    assert_eq!(more.first_counter, 30);
    assert_eq!(
        store.issued_counts("p").await.expect("counts").codes,
        35,
        "a purge never removes code records"
    );
    let report = store.verify_audit().await.expect("verify");
    assert_eq!(report.first_bad, None, "{report:?}");

    // The database still refuses to delete an event no checkpoint covers, or a checkpoint.
    let (head, _) = store.audit_head().await.expect("head");
    let delete = raw(&store, &format!("DELETE FROM events WHERE seq = {head}")).await;
    assert!(
        delete.is_err(),
        "deleting an uncovered event must be refused"
    );
    let delete = raw(&store, "DELETE FROM audit_checkpoints").await;
    assert!(delete.is_err(), "checkpoints are append-only");

    // An attacker who forges a checkpoint to hide events is found: no purge event records it.
    let forged_through = head - 1;
    let hash = raw_text(
        &store,
        &format!("SELECT hash FROM events WHERE seq = {forged_through}"),
    )
    .await;
    raw(
        &store,
        &format!(
            "INSERT INTO audit_checkpoints (through_seq, hash, purged_before, at) \
             VALUES ({forged_through}, '{hash}', '2000-01-01', 'x')"
        ),
    )
    .await
    .expect("insert a forged checkpoint");
    raw(
        &store,
        &format!("DELETE FROM events WHERE seq <= {forged_through}"),
    )
    .await
    .expect("the trigger lets covered events go");
    let report = store.verify_audit().await.expect("verify");
    let bad = report.first_bad.expect("the forged checkpoint is found");
    assert_eq!(bad.seq, head);
    assert!(
        bad.reason.contains("no audit.purge event"),
        "{}",
        bad.reason
    );
}
both!(purge_respects_retention_and_keeps_the_chain_verifiable);

#[tokio::test]
async fn backup_keeps_the_keys() {
    let dir = tempdir();
    let url = sqlite_url(dir.path());
    let store = open(&url).await;
    store.add_product(&product("p", GTIN)).await.expect("add");
    store.allocate("p", 10, None).await.expect("allocate");
    let key = stored_key(&store, "p").await;
    let snapshot = dir.path().join("backup.db");
    store.backup(&snapshot).await.expect("backup");
    store.close().await;
    let restored_path = dir.path().join("restored.db");
    tracemark_store::backup::restore(&snapshot, &restored_path, 1000, actor())
        .await
        .expect("restore");
    let restored = open(&format!("sqlite://{}", restored_path.display())).await;
    assert_eq!(stored_key(&restored, "p").await, key);
    let after = restored.allocate("p", 10, None).await.expect("allocate");
    let serials =
        SerialGenerator::new(&key, GTIN.as_bytes(), Alphabet::Digits, 12).expect("generator");
    assert_eq!(
        serials.counter_of(&after.serials[0]).expect("decrypt"),
        1010,
        "the restored store issues under the same key, past the counter gap"
    );
}

#[test]
fn cli_purge_reports_and_refuses() {
    let dir = tempdir();
    let url = sqlite_url(dir.path());
    let out = tracemark(&url, &["audit", "purge", "--before", "2000-01-01"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("nothing to purge"),
        "{}",
        stdout(&out)
    );
    let out = tracemark(&url, &["audit", "purge", "--before", "2000-13-01"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("before"), "{}", stderr(&out));
    let future = tomorrow().to_string();
    let out = tracemark(&url, &["audit", "purge", "--before", &future]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("in the future"), "{}", stderr(&out));
    let out = tracemark(&url, &["audit", "verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
}
