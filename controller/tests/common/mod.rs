//! Helpers shared by the controller's tests and the whole-line suite (`tests/`, which includes
//! this file): fresh SQLite files, fresh PostgreSQL schemas, the test broker, the binary,
//! headless Chromium for the operator pages (`browser`), and a PostgreSQL primary with a
//! synchronous standby for the failover tests (`clusters`).
#![allow(dead_code, unreachable_pub)]

pub mod browser;
pub mod clusters;
pub mod mosquitto;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;

/// Generates `sqlite` and `postgres` tests for one `async fn(Store)` body.
#[allow(unused_macros)]
macro_rules! both {
    ($name:ident) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let dir = tempdir();
                let store = open(&sqlite_url(dir.path())).await;
                super::$name(store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(base) = pg_base_url() else { return };
                let (url, schema) = pg_schema_url(&base).await;
                let store = open(&url).await;
                super::$name(store.clone()).await;
                store.close().await;
                drop_pg_schema(&base, &schema).await;
            }
        }
    };
}

use tracemark_store::{Actor, Batch, BatchState, NewBatch, Product, Store};

pub fn actor() -> Actor {
    Actor {
        user: "tester".into(),
        device: "test-bench".into(),
    }
}

/// A temporary directory that lives as long as the value.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("create a temporary directory")
}

pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("tracemark.db").display())
}

/// The PostgreSQL server of the tests, or `None` (after printing why) when it is not configured.
/// With `CI` set, a missing server fails the test instead.
pub fn pg_base_url() -> Option<String> {
    match std::env::var("TRACEMARK_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var_os("CI").is_some() {
                panic!("TRACEMARK_TEST_PG_URL not set, and CI is set: PostgreSQL tests must run");
            }
            println!("skipped: TRACEMARK_TEST_PG_URL not set");
            None
        }
    }
}

static SCHEMAS: AtomicU32 = AtomicU32::new(0);

/// A fresh, uniquely named schema; the returned URL makes it the connections' search path.
pub async fn pg_schema_url(base: &str) -> (String, String) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let schema = format!(
        "tm_test_{}_{}_{}",
        std::process::id(),
        SCHEMAS.fetch_add(1, Ordering::SeqCst),
        nanos
    );
    let mut conn = sqlx::PgConnection::connect(base)
        .await
        .expect("connect to TRACEMARK_TEST_PG_URL");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .await
        .expect("create a test schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    (format!("{base}{sep}options[search_path]={schema}"), schema)
}

pub async fn drop_pg_schema(base: &str, schema: &str) {
    if let Ok(mut conn) = sqlx::PgConnection::connect(base).await {
        let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&mut conn)
            .await;
    }
}

pub fn product(id: &str, gtin: &str) -> Product {
    Product {
        id: id.into(),
        scheme: tracemark_store::Scheme::Gs1,
        key: gtin.into(),
        name: format!("Product {id}"),
        category: "wire and cable".into(),
        model: "BV 2.5".into(),
        mandatory_standard: "GB/T 5023.3-2008".into(),
        licence_no: Some("XK06-001-00001".into()),
        ccc_cert_no: None,
        warranty_months: Some(24),
        retention_years: 5,
        serial_alphabet: tracemark_store::SerialAlphabet::Digits,
        serial_length: 12,
        pack_sizes: vec![10, 40],
        min_grade: tracemark_store::Grade::C,
    }
}

/// A batch `L1` of `quantity` units of `product`, started.
pub async fn running_batch(store: &Store, product: &str, quantity: i64) -> Batch {
    let batch = store
        .create_batch(&NewBatch {
            product_id: product.into(),
            lot: "L1".into(),
            quantity,
            production_date: "2025-03-01".into(),
            expiry_date: None,
            line: Some("line-1".into()),
            simulated: false,
        })
        .await
        .expect("create the batch");
    store
        .set_batch_state(batch.id, BatchState::Running)
        .await
        .expect("start the batch")
}

/// Closed cartons of three of `units` (of batch `batch`), the first two on a closed pallet:
/// what the shipping tests ship. Returns the pallet and the cartons, in order.
pub async fn cartons_and_a_pallet(
    store: &Store,
    batch: i64,
    units: &[String],
) -> (String, Vec<String>) {
    use tracemark_store::{PackageLevel, PackageState};
    let mut cartons = Vec::new();
    for chunk in units.chunks(3) {
        let carton = store
            .create_package(batch, PackageLevel::Carton, None)
            .await
            .expect("carton");
        store.pack(&carton.sscc, chunk).await.expect("pack");
        store
            .set_package_state(&carton.sscc, PackageState::Closed)
            .await
            .expect("close");
        cartons.push(carton.sscc);
    }
    let pallet = store
        .create_package(batch, PackageLevel::Pallet, None)
        .await
        .expect("pallet")
        .sscc;
    store
        .pack_cartons(&pallet, &cartons[..2])
        .await
        .expect("palletise");
    store
        .set_package_state(&pallet, PackageState::Closed)
        .await
        .expect("close the pallet");
    (pallet, cartons)
}

/// The GS1 company prefix of the packing tests.
pub const COMPANY_PREFIX: &str = "9506000";

/// Sets the producer, with [`COMPANY_PREFIX`] and extension digit 0 for its SSCCs.
pub async fn packing_producer(store: &Store) {
    store
        .set_producer(&tracemark_store::Producer {
            name: "某某电缆有限公司".into(),
            uscc: "91350100M000100Y43".into(),
            address: "福建省福州市".into(),
            contact: "0591-00000000".into(),
            business_licence: "91350100M000100Y43".into(),
        })
        .await
        .expect("set the producer");
    store
        .set_sscc_coding(&tracemark_store::SsccCoding {
            company_prefix: COMPANY_PREFIX.into(),
            extension_digit: 0,
        })
        .await
        .expect("set the GS1 company prefix");
}

/// Batch `lot` of `product`, running, with `n` codes printed and verified by the camera.
pub async fn verified_batch(
    store: &Store,
    product: &str,
    lot: &str,
    n: u64,
) -> (Batch, Vec<String>) {
    let batch = store
        .create_batch(&NewBatch {
            product_id: product.into(),
            lot: lot.into(),
            quantity: 1000,
            production_date: "2025-03-01".into(),
            expiry_date: None,
            line: Some("line-1".into()),
            simulated: false,
        })
        .await
        .expect("create the batch");
    store
        .set_batch_state(batch.id, BatchState::Running)
        .await
        .expect("start the batch");
    let codes = store
        .allocate(product, n, Some(batch.id))
        .await
        .expect("allocate")
        .codes;
    for state in [
        tracemark_store::CodeState::Sent,
        tracemark_store::CodeState::Printed,
        tracemark_store::CodeState::Verified,
    ] {
        let changes: Vec<tracemark_store::Transition> = codes
            .iter()
            .map(|c| tracemark_store::Transition::to(c.as_str(), state))
            .collect();
        store
            .transition_all(&changes)
            .await
            .expect("mark and verify");
    }
    (batch, codes)
}

pub async fn open(url: &str) -> Store {
    Store::open(url, actor()).await.expect("open the store")
}

/// The `tracemark` binary. The controller's own tests get its path from cargo; the whole-line
/// suite (the `tests/` crate, which includes this file) finds it where cargo put it, next to its
/// own `deps/` directory: `cargo test --workspace` builds it before any test runs.
pub fn bin() -> PathBuf {
    if let Some(path) = option_env!("CARGO_BIN_EXE_tracemark") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test's own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("tests run from target/<profile>/deps");
    let path = profile_dir.join("tracemark");
    assert!(
        path.is_file(),
        "{} is not built: run the suite with `cargo test --workspace` (or `cargo test -p tracemark \
         -p tracemark-line-tests`), which builds the binary first",
        path.display()
    );
    path
}

/// Runs the binary with `--db url` and the given arguments.
pub fn tracemark(url: &str, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env("TRACEMARK_DB", url)
        .env("TRACEMARK_USER", "tester")
        .env("TRACEMARK_DEVICE", "test-bench")
        .output()
        .expect("run tracemark")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A small deterministic generator (xorshift64*): random moments that can be replayed from
/// the printed seed.
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn from_env_or_time() -> Rng {
        let seed = std::env::var("TRACEMARK_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        println!("seed {seed} (replay with TRACEMARK_TEST_SEED={seed})");
        Rng(seed.max(1))
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

/// Executes SQL directly, bypassing the store (what an attacker with database access does).
pub async fn raw(store: &Store, sql: &str) -> Result<u64, sqlx::Error> {
    let url = store.url().to_owned();
    if store.is_postgres() {
        let pool = sqlx::PgPool::connect(&url).await?;
        let done = sqlx::query(sql).execute(&pool).await?;
        pool.close().await;
        Ok(done.rows_affected())
    } else {
        let pool = sqlx::SqlitePool::connect(&url).await?;
        let done = sqlx::query(sql).execute(&pool).await?;
        pool.close().await;
        Ok(done.rows_affected())
    }
}

/// Executes a script of several statements directly, as a migration runs.
#[allow(dead_code)]
pub async fn raw_script(store: &Store, sql: &str) -> Result<(), sqlx::Error> {
    let url = store.url().to_owned();
    if store.is_postgres() {
        let pool = sqlx::PgPool::connect(&url).await?;
        sqlx::raw_sql(sql).execute(&pool).await?;
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(&url).await?;
        sqlx::raw_sql(sql).execute(&pool).await?;
        pool.close().await;
    }
    Ok(())
}

/// The test broker's URL (`TRACEMARK_TEST_MQTT`), or `None` (after printing why) when it is not
/// configured. With `CI` set, a missing broker fails the test instead.
pub fn mqtt_url() -> Option<String> {
    match std::env::var("TRACEMARK_TEST_MQTT") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var_os("CI").is_some() {
                panic!("TRACEMARK_TEST_MQTT not set, and CI is set: MQTT tests must run");
            }
            println!("skipped: TRACEMARK_TEST_MQTT not set");
            None
        }
    }
}
