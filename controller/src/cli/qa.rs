//! `tracemark qa …`: what QA does with rejected and verified units (SPEC §3: `rejected →
//! destroyed | released`, `verified → sampled`), through `tracemark::app::qa`.

use clap::Subcommand;
use tracemark::app::qa;
use tracemark_store::{CodeRead, CodeRecord, CodeState, RejectReason};

use super::{CliError, Context, block_on};

#[derive(Debug, Subcommand)]
pub(crate) enum QaCommand {
    /// List a batch's rejected units (code, reason, what the camera read), with the counts QA
    /// still has to settle.
    Rejects {
        /// The batch id.
        batch: i64,
        /// Also list the rejects already destroyed or released, with their reason and read.
        #[arg(long)]
        all: bool,
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
        let actor = context.actor();
        let result = match command {
            QaCommand::Rejects { batch, all, json } => {
                let rejects = qa::rejects(&store, batch, all).await?;
                print_rejects(&rejects, json)
            }
            QaCommand::Destroy { codes } => {
                let count = qa::destroy(&store, actor, &codes).await?;
                println!(
                    "{count} code{} destroyed",
                    if count == 1 { "" } else { "s" }
                );
                Ok(())
            }
            QaCommand::Release { code, scan, grade } => {
                let grade = qa::release(&store, actor, &code, &scan, &grade).await?;
                println!("{code} released (re-scan grade {grade})");
                Ok(())
            }
            QaCommand::Sample { code } => {
                qa::sample(&store, actor, &code).await?;
                println!("{code} sampled");
                Ok(())
            }
        };
        store.close().await;
        result
    })
}

fn print_rejects(rejects: &qa::Rejects, json: bool) -> Result<(), CliError> {
    let qa::Rejects {
        batch,
        to_settle,
        destroyed,
        released,
        rejected,
        settled,
    } = rejects;
    if json {
        let entry = |c: &CodeRecord| {
            serde_json::json!({
                "code": c.code, "state": c.state, "reason": c.reason, "grade": c.grade,
                "data": c.data, "release_read": c.release_read,
            })
        };
        let mut out = serde_json::json!({
            "batch": batch, "to_settle": to_settle, "destroyed": destroyed,
            "released": released, "rejected": rejected.iter().map(entry).collect::<Vec<_>>(),
        });
        if !settled.is_empty() {
            let settled: Vec<_> = settled
                .iter()
                .map(|s| {
                    let mut e = entry(&s.code);
                    e["settled_by"] = s.settled_by.clone().into();
                    e["settled_at"] = s.settled_at.clone().into();
                    e
                })
                .collect();
            out["settled"] = settled.into();
        }
        println!("{out}");
        return Ok(());
    }
    println!(
        "batch {batch}: {to_settle} rejected to settle, {destroyed} destroyed, {released} released"
    );
    let settled = settled.iter().map(|s| {
        let by = s
            .settled_by
            .as_deref()
            .zip(s.settled_at.as_deref())
            .map_or(String::new(), |(by, at)| format!(" by {by} at {at}"));
        (&s.code, by)
    });
    for (code, by) in rejected.iter().map(|c| (c, String::new())).chain(settled) {
        let reason = code.reason.map_or("(no reason)", RejectReason::as_str);
        let state = if code.state == CodeState::Rejected {
            String::new()
        } else {
            format!("  {}", code.state)
        };
        let rescan = match &code.release_read {
            Some(CodeRead {
                grade: Some(grade), ..
            }) => format!("; re-scan grade {grade}"),
            _ => String::new(),
        };
        println!(
            "{}  {reason:<10}  {}{rescan}{state}{by}",
            code.code,
            seen(code)
        );
    }
    Ok(())
}

/// What the camera saw on the unit when it was rejected: its grade and the data it decoded
/// (nothing for a no-read).
fn seen(code: &CodeRecord) -> String {
    match (&code.grade, &code.data) {
        _ if code.reason == Some(RejectReason::Late) => "no result in time".to_owned(),
        (_, None) => "read nothing".to_owned(),
        (Some(grade), Some(data)) => format!("read {data:?} grade {grade}"),
        (None, Some(data)) => format!("read {data:?}"),
    }
}
