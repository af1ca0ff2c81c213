//! EPCIS export bench (issue 15; figures in docs/performance.md "EPCIS export"): a closed batch
//! of N units (default 1,000,000) printed, verified and packed into cartons and pallets, exported
//! as EPCIS JSON-LD and XML to a sink; prints the seconds of each export and the process's peak
//! RSS (`VmHWM` of /proc/self/status). Target for 1,000,000 units: ≤ 10 s and ≤ 150 MB.
//! With `--deliver`, it then delivers the JSON-LD document to the ERP receiver simulator over
//! loopback, signed (figures in docs/performance.md "Upload delivery"): the body rendered into a
//! spool file and hashed, then signed and POSTed, the receiver validating it against the EPCIS
//! JSON Schema as it arrives. Target for 1,000,000 units: ≤ 20 s.
//!
//! `cargo bench -p tracemark --bench export_epcis -- [--units N] [--carton N] [--pallet N]
//! [--db URL] [--deliver]`. Without `--db`, a fresh SQLite file (in /dev/shm when there is one: populating
//! is not what is measured). The batch is populated through the store's bulk paths by a child
//! process (the same binary with `--populate`), so the peak RSS printed is the export's own.

use std::time::Instant;

use tokio::io::AsyncWrite;
use tracemark::export::{ExportFormat, write_batch};
use tracemark_store::{
    Actor, BatchState, CodeState, MAX_ALLOCATION, NewBatch, PackageLevel, PackageState, Producer,
    Product, SsccCoding, Store, Transition,
};

#[derive(Debug, Clone)]
struct Args {
    units: u64,
    carton: u64,
    pallet: u64,
    db: Option<String>,
    populate: bool,
    deliver: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        units: 1_000_000,
        carton: 100,
        pallet: 40,
        db: None,
        populate: false,
        deliver: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match arg.as_str() {
            "--units" => args.units = value().parse().unwrap_or(args.units),
            "--carton" => args.carton = value().parse().unwrap_or(args.carton),
            "--pallet" => args.pallet = value().parse().unwrap_or(args.pallet),
            "--db" => args.db = Some(value()),
            "--populate" => args.populate = true,
            "--deliver" => args.deliver = true,
            _ => {} // cargo bench passes --bench
        }
    }
    args
}

fn actor() -> Actor {
    Actor {
        user: "bench".into(),
        device: "bench".into(),
    }
}

fn product() -> Product {
    Product {
        id: "bench".into(),
        scheme: tracemark_store::Scheme::Gs1,
        key: "09506000134352".into(),
        name: "Bench".into(),
        category: "bench".into(),
        model: "b".into(),
        mandatory_standard: "GB 0".into(),
        licence_no: None,
        ccc_cert_no: None,
        warranty_months: None,
        retention_years: 3,
        serial_alphabet: tracemark_store::SerialAlphabet::Digits,
        serial_length: 12,
        pack_sizes: Vec::new(),
        min_grade: tracemark_store::Grade::C,
    }
}

/// A closed batch of `args.units` units: issued 100,000 at a time, each chunk sent, printed
/// and verified in groups of 50,000 (the writer's largest group), packed into cartons of
/// `args.carton`, the cartons onto pallets of `args.pallet`.
async fn populate(store: &Store, args: &Args) -> Result<i64, Box<dyn std::error::Error>> {
    store.add_product(&product()).await?;
    store
        .set_producer(&Producer {
            name: "Bench".into(),
            uscc: "91350100M000100Y43".into(),
            address: "bench".into(),
            contact: "bench".into(),
            business_licence: "bench".into(),
        })
        .await?;
    store
        .set_sscc_coding(&SsccCoding {
            company_prefix: "9506000".into(),
            extension_digit: 0,
        })
        .await?;
    let batch = store
        .create_batch(&NewBatch {
            product_id: "bench".into(),
            lot: "BENCH".into(),
            quantity: i64::try_from(args.units)?,
            production_date: "2026-12-01".into(),
            expiry_date: Some("2028-12-01".into()),
            line: Some("line-1".into()),
            simulated: false,
        })
        .await?;
    store.set_batch_state(batch.id, BatchState::Running).await?;
    let started = Instant::now();
    let mut left = args.units;
    let mut cartons = Vec::new();
    while left > 0 {
        let n = left.min(MAX_ALLOCATION);
        let codes = store.allocate("bench", n, Some(batch.id)).await?.codes;
        for group in codes.chunks(50_000) {
            for state in [CodeState::Sent, CodeState::Printed, CodeState::Verified] {
                let changes: Vec<Transition> = group
                    .iter()
                    .map(|c| Transition::to(c.as_str(), state))
                    .collect();
                store.transition_all(&changes).await?;
            }
        }
        for units in codes.chunks(usize::try_from(args.carton)?) {
            let carton = store
                .create_package(
                    batch.id,
                    PackageLevel::Carton,
                    Some(i64::try_from(args.carton)?),
                )
                .await?;
            store.pack(&carton.sscc, units).await?;
            store
                .set_package_state(&carton.sscc, PackageState::Closed)
                .await?;
            cartons.push(carton.sscc);
        }
        left -= n;
        eprintln!(
            "populated {} units in {:.0} s",
            args.units - left,
            started.elapsed().as_secs_f64()
        );
    }
    for group in cartons.chunks(usize::try_from(args.pallet)?) {
        let pallet = store
            .create_package(
                batch.id,
                PackageLevel::Pallet,
                Some(i64::try_from(args.pallet)?),
            )
            .await?;
        store.pack_cartons(&pallet.sscc, group).await?;
        store
            .set_package_state(&pallet.sscc, PackageState::Closed)
            .await?;
    }
    store.set_batch_state(batch.id, BatchState::Closed).await?;
    Ok(batch.id)
}

/// Counts what it is given and drops it.
struct Sink(u64);

impl AsyncWrite for Sink {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.0 += buf.len() as u64;
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// The process's peak resident set (kB), from /proc/self/status.
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    if args.populate {
        let url = args.db.clone().ok_or("--populate needs --db")?;
        return runtime.block_on(async {
            let store = Store::open(&url, actor()).await?;
            let batch = populate(&store, &args).await?;
            println!("{batch}");
            store.close().await;
            Ok(())
        });
    }
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        tempfile::tempdir_in("/dev/shm")?
    } else {
        tempfile::tempdir()?
    };
    let url = args
        .db
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let started = Instant::now();
    let child = std::process::Command::new(std::env::current_exe()?)
        .args(["--populate", "--db", &url])
        .args(["--units", &args.units.to_string()])
        .args(["--carton", &args.carton.to_string()])
        .args(["--pallet", &args.pallet.to_string()])
        .stderr(std::process::Stdio::inherit())
        .output()?;
    if !child.status.success() {
        return Err("populating the batch failed".into());
    }
    let batch: i64 = String::from_utf8(child.stdout)?.trim().parse()?;
    println!(
        "populated batch {batch}: {} units, cartons of {}, pallets of {} cartons, in {:.1} s",
        args.units,
        args.carton,
        args.pallet,
        started.elapsed().as_secs_f64()
    );
    runtime.block_on(async {
        let store = Store::open(&url, actor()).await?;
        for (name, format) in [
            ("EPCIS JSON-LD", ExportFormat::EpcisJson),
            ("EPCIS XML", ExportFormat::EpcisXml),
        ] {
            let started = Instant::now();
            let mut sink = Sink(0);
            let summary = write_batch(&store, batch, format, &mut sink).await?;
            println!(
                "{name}: {} units, {} packages, {} events, {:.1} MB in {:.2} s; peak RSS {:.0} MB",
                summary.units,
                summary.packages,
                summary.events,
                sink.0 as f64 / 1e6,
                started.elapsed().as_secs_f64(),
                peak_rss_kb() as f64 / 1024.0
            );
        }
        store.close().await;
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;
    if args.deliver {
        // The receiver and the sender each get a core, as a plant's ERP and controller would.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        runtime.block_on(deliver(&url, batch, dir.path()))?;
    }
    Ok(())
}

/// Delivers batch `batch` as EPCIS JSON-LD to the receiver simulator, signed, and prints the
/// seconds of rendering the body and of sending it.
async fn deliver(
    url: &str,
    batch: i64,
    dir: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    use tracemark::upload::deliver::{self, SenderConfig};
    use tracemark::upload::{ProgressHook, UploadFormat, UploadTarget};
    use tracemark_sim::erp::signature::SigningSecret;
    use tracemark_sim::erp::{ErpConfig, ErpSim};

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let store = Store::open(url, actor()).await?;
    let (addr, erp) = ErpSim::start(ErpConfig::new(SigningSecret::parse(SECRET)?)).await?;
    let secret_file = dir.join("erp.secret");
    std::fs::write(&secret_file, SECRET)?;
    let target = UploadTarget {
        name: "erp".into(),
        url: format!("http://{addr}/epcis"),
        format: UploadFormat::EpcisJson,
        secret_file: Some(secret_file),
        ed25519_key_file: None,
        ca_file: None,
        gzip: false,
        created_at: String::new(),
    };
    let delivery = tracemark::upload::run_only::delivery_for(
        &target,
        batch,
        "0b9a9d67-5a26-4cf5-a1a4-4a8f0c1d2e3f".into(),
    );
    let config = SenderConfig::new(dir.join("spool"));
    let started = Instant::now();
    let body = deliver::spool_body(&store, &config, &delivery).await?;
    let rendered = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let keys = deliver::read_keys(&target)?;
    let client = deliver::client(&target, &config)?;
    let sent = deliver::post(
        &client,
        &target,
        &keys,
        &delivery,
        &body,
        &ProgressHook::default(),
    )
    .await?;
    let sending = started.elapsed().as_secs_f64();
    let accepted = erp.accepted();
    println!(
        "delivery: {:.1} MB body rendered to the spool file and hashed in {rendered:.2} s; \
         signed (v1), POSTed and validated by the receiver in {sending:.2} s; total {:.2} s; \
         answer {sent:?}; accepted {} document(s), {} events",
        body.bytes as f64 / 1e6,
        rendered + sending,
        accepted.len(),
        accepted.first().and_then(|a| a.events).unwrap_or(0)
    );
    erp.shutdown().await;
    store.close().await;
    Ok(())
}
