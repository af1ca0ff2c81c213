//! A controller's allocation, and nothing else: the path the line's feeder takes
//! (`controller/src/line/feeder.rs`) — reserve a serial block for this device, issue codes from
//! it a chunk at a time, reserve the next when it runs out — as a process of its own, so the
//! plant suite (`tests/tests/plant.rs`) can run several on one PostgreSQL and `kill -9` them at
//! random moments. Like the line, a restart abandons the rest of the block it held, and a store
//! that cannot be reached is asked again.
//!
//! `block_issuer --product ID --count N [--block SIZE] [--chunk SIZE]`, the store from
//! `TRACEMARK_DB`, the device (the blocks' owner) from `TRACEMARK_DEVICE`. Prints
//! `issued N` when done.

use std::future::Future;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use tracemark_store::{Actor, Store, StoreError};

/// What to issue.
struct Args {
    product: String,
    count: u64,
    block: u64,
    chunk: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        product: String::new(),
        count: 0,
        // The line's feeder reserves blocks of 10,000 (`line::feeder::BLOCK_SIZE`).
        block: 10_000,
        chunk: 500,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|e| format!("{flag} {value}: {e}"))
        };
        match flag.as_str() {
            "--product" => args.product = value.clone(),
            "--count" => args.count = number()?,
            "--block" => args.block = number()?.max(1),
            "--chunk" => args.chunk = number()?.max(1),
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    if args.product.is_empty() {
        return Err("--product is required".into());
    }
    Ok(args)
}

/// `ask`'s answer, asking again while the store cannot be reached, as the line's feeder does
/// (every 100 ms doubling to 2 s; for at most a minute here).
async fn answered<T, F, Fut>(mut ask: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let started = Instant::now();
    let mut wait = Duration::from_millis(100);
    loop {
        match ask().await {
            Ok(answer) => return Ok(answer),
            Err(error) if error.is_unreachable() && started.elapsed() < Duration::from_secs(60) => {
                eprintln!("block_issuer: the store cannot be reached ({error}); asking again");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
            }
            Err(error) => return Err(error.to_string()),
        }
    }
}

async fn issue(args: &Args) -> Result<u64, String> {
    let url = std::env::var("TRACEMARK_DB").map_err(|_| "TRACEMARK_DB is not set".to_owned())?;
    let store = Store::open(&url, Actor::from_env(None))
        .await
        .map_err(|e| e.to_string())?;
    let mut issued = 0;
    let mut block = None;
    while issued < args.count {
        let current = match block.take() {
            Some(current) => current,
            None => answered(|| store.reserve_block(&args.product, args.block)).await?,
        };
        let left = u64::try_from(current.end_counter - current.issued_end).unwrap_or(0);
        if left == 0 {
            continue;
        }
        let n = args.chunk.min(left).min(args.count - issued);
        let codes = answered(|| store.issue_from_block(&args.product, current.id, n, None)).await?;
        issued += codes.codes.len() as u64;
        block = Some(tracemark_store::Block {
            issued_end: codes.first_counter + codes.codes.len() as i64,
            ..current
        });
    }
    store.close().await;
    Ok(issued)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(why) => {
            eprintln!("block_issuer: {why}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("block_issuer: a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(issue(&args)) {
        Ok(issued) => {
            println!("issued {issued}");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("block_issuer: {why}");
            ExitCode::FAILURE
        }
    }
}
