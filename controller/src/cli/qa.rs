//! `tracemark qa …`: what QA does with rejected and verified units (SPEC §3: `rejected →
//! destroyed | released`, `verified → sampled`). Every action is one audited transition with
//! the user from `TRACEMARK_USER`.

use clap::Subcommand;
use tracemark::store::{CodeRead, CodeState, Store, Transition};
use tracemark::verify::{Grade, gs1_code_of};

use super::{CliError, Context, block_on};

#[derive(Debug, Subcommand)]
pub(crate) enum QaCommand {
    /// List a batch's rejected units (code and reason), with the counts QA still has to settle.
    Rejects {
        /// The batch id.
        batch: i64,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Record rejected units as destroyed (their codes are never issued again).
    Destroy {
        /// The codes (HRI), all rejected; none is changed unless all can be.
        #[arg(required = true)]
        codes: Vec<String>,
    },
    /// Release a rejected unit after a manual re-scan: only when the scan reads this very code
    /// at the product's minimum grade or better.
    Release {
        /// The code (HRI) of the rejected unit.
        code: String,
        /// What the verification scanner read (any GS1 form, e.g. `]d2…`).
        #[arg(long)]
        scan: String,
        /// The grade the scanner gave (A–D, F, or 0–4).
        #[arg(long)]
        grade: String,
    },
    /// Take a verified unit out of the line as a QA sample.
    Sample {
        /// The code (HRI).
        code: String,
    },
}

pub(crate) fn run(command: QaCommand, context: &Context) -> Result<(), CliError> {
    block_on(async {
        let store = context.open().await?;
        let result = match command {
            QaCommand::Rejects { batch, json } => rejects(&store, batch, json).await,
            QaCommand::Destroy { codes } => {
                let changes: Vec<Transition> = codes
                    .iter()
                    .map(|code| change(code, CodeState::Destroyed))
                    .collect();
                store.transition_all(&changes).await?;
                println!("{} codes destroyed", changes.len());
                Ok(())
            }
            QaCommand::Release { code, scan, grade } => release(&store, &code, &scan, &grade).await,
            QaCommand::Sample { code } => {
                store
                    .transition_all(&[change(&code, CodeState::Sampled)])
                    .await?;
                println!("{code} sampled");
                Ok(())
            }
        };
        store.close().await;
        result
    })
}

fn change(code: &str, to: CodeState) -> Transition {
    Transition::to(code, to)
}

/// Rejected units listed at most (a batch with more has a line problem, not a QA queue).
const LIST_LIMIT: i64 = 100_000;

async fn rejects(store: &Store, batch: i64, json: bool) -> Result<(), CliError> {
    let rejected = store
        .codes_of_batch(batch, CodeState::Rejected, LIST_LIMIT)
        .await?;
    let counts = store.batch_counts(batch).await?;
    let count = |state: CodeState| {
        counts
            .iter()
            .find(|(s, _)| *s == state)
            .map_or(0, |(_, n)| *n)
    };
    let (destroyed, released) = (count(CodeState::Destroyed), count(CodeState::Released));
    if json {
        let list: Vec<serde_json::Value> = rejected
            .iter()
            .map(|c| {
                serde_json::json!({
                    "code": c.code, "reason": c.reason, "grade": c.grade, "data": c.data,
                })
            })
            .collect();
        let out = serde_json::json!({
            "batch": batch, "to_settle": rejected.len(), "destroyed": destroyed,
            "released": released, "rejected": list,
        });
        println!("{out}");
        return Ok(());
    }
    println!(
        "batch {batch}: {} rejected to settle, {destroyed} destroyed, {released} released",
        rejected.len()
    );
    for code in &rejected {
        // What the camera saw: its grade and the data it decoded (nothing for a no-read).
        let seen = match (&code.grade, &code.data) {
            _ if code.reason.as_deref() == Some("late") => "no result in time".to_owned(),
            (_, None) => "read nothing".to_owned(),
            (Some(grade), Some(data)) => format!("read {data:?} grade {grade}"),
            (None, Some(data)) => format!("read {data:?}"),
        };
        println!(
            "{}  {:<10}  {seen}",
            code.code,
            code.reason.as_deref().unwrap_or("(no reason)")
        );
    }
    Ok(())
}

async fn release(store: &Store, code: &str, scan: &str, grade: &str) -> Result<(), CliError> {
    let record = store.code(code).await?;
    if record.state != CodeState::Rejected {
        return Err(CliError::input(
            "code",
            format!("{code} is {}, not rejected", record.state),
        ));
    }
    let product = store.product(&record.product_id).await?;
    let read = gs1_code_of(scan)
        .ok_or_else(|| CliError::input("scan", format!("{scan:?} is not a GS1 code")))?;
    if read != record.code {
        return Err(CliError::input(
            "scan",
            format!("the re-scan read {read}, not {code}: the unit stays rejected"),
        ));
    }
    let grade = Grade::parse(grade)
        .ok_or_else(|| CliError::input("grade", format!("{grade:?} is not A–D, F or 0–4")))?;
    let minimum = Grade::parse(&product.min_grade).unwrap_or(Grade::C);
    if grade < minimum {
        return Err(CliError::input(
            "grade",
            format!(
                "{grade} is below product {}'s minimum {minimum}: the unit stays rejected",
                product.id
            ),
        ));
    }
    let mut released = change(code, CodeState::Released);
    // The re-scan is what the release rests on: it replaces the read the reject was made on.
    released.read = Some(CodeRead {
        grade: Some(grade.to_string()),
        data: Some(scan.to_owned()),
    });
    store.transition_all(&[released]).await?;
    println!("{code} released (re-scan grade {grade})");
    Ok(())
}
