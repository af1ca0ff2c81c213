//! `tracemark dispatch`: dispatch orders and the dispatch scanner station (issue 17 item 2;
//! docs/shipping.md "The dispatch station"). Parses and prints; the rules are
//! `app::dispatch`'s, the station is `tracemark::dispatch`.

use std::path::PathBuf;

use clap::Subcommand;
use tracemark::app::dispatch;
use tracemark::app::page::PageRequest;
use tracemark_store::{DispatchOrder, NewDispatchOrder};

use super::{CliError, Context, block_on};

#[derive(Debug, Subcommand)]
pub(crate) enum DispatchCommand {
    /// Record a dispatch order: the buyer of what its reference will ship (the ERP may push
    /// them instead, `POST /api/v1/dispatch-orders`).
    Order {
        /// The order's reference, as printed on the pick list (Code 128 or GS1 AI (400)).
        #[arg(long, value_name = "REF")]
        order: String,
        /// 购方名称: the buyer.
        #[arg(long)]
        buyer_name: String,
        /// 购方地址: the buyer's address.
        #[arg(long)]
        buyer_address: String,
        /// 购方联系方式: the buyer's contact (phone, e-mail).
        #[arg(long)]
        buyer_contact: String,
        /// Print the order as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the dispatch orders, newest first.
    Orders {
        /// Only the orders no shipment has filled yet.
        #[arg(long)]
        open: bool,
        /// The page, from 1 (100 orders a page).
        #[arg(long, default_value_t = 1)]
        page: u32,
        /// Print the page as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the dispatch station of a line config's `[dispatch]` until Ctrl-C, then print what
    /// it shipped (JSON).
    Station {
        /// The line config with `[dispatch]`.
        #[arg(long, value_name = "CONFIG")]
        line: PathBuf,
    },
}

pub(crate) fn run(command: DispatchCommand, context: &Context) -> Result<(), CliError> {
    match command {
        DispatchCommand::Station { line } => station(&line, context),
        DispatchCommand::Order {
            order,
            buyer_name,
            buyer_address,
            buyer_contact,
            json,
        } => block_on(async {
            let store = context.open().await?;
            let order = NewDispatchOrder {
                order_ref: order,
                buyer_name,
                buyer_address,
                buyer_contact,
            };
            let added = dispatch::add_order(&store, context.actor(), &order).await;
            store.close().await;
            let added = added?;
            if json {
                println!("{}", to_json(&added)?);
            } else {
                println!("{}", summary(&added));
            }
            Ok(())
        }),
        DispatchCommand::Orders { open, page, json } => block_on(async {
            let store = context.open().await?;
            let request = PageRequest {
                page: Some(page),
                per_page: Some(100),
            };
            let listed = dispatch::orders_page(&store, open, request).await;
            store.close().await;
            let listed = listed?;
            if json {
                println!("{}", to_json(&listed)?);
            } else {
                for order in &listed.items {
                    println!("{}", summary(order));
                }
                println!("page {} ({} orders in all)", listed.page, listed.total);
            }
            Ok(())
        }),
    }
}

/// `SO-1  某某五金店, 福州市…, 0591-…  open` (or `shipment 3`).
fn summary(order: &DispatchOrder) -> String {
    format!(
        "{}  {}, {}, {}  {}",
        order.order_ref,
        order.buyer_name,
        order.buyer_address,
        order.buyer_contact,
        order
            .shipment_id
            .map_or_else(|| "open".to_owned(), |id| format!("shipment {id}"))
    )
}

/// `dispatch station`: the station runs until Ctrl-C, then prints its report.
fn station(config: &std::path::Path, context: &Context) -> Result<(), CliError> {
    let line =
        tracemark::config::load(config).map_err(|errors| CliError::Input(errors.to_string()))?;
    let Some(config_dispatch) = line.dispatch.clone() else {
        return Err(CliError::Input(format!(
            "{}: the line has no [dispatch]",
            config.display()
        )));
    };
    super::block_on_line(async {
        let store = context.open().await?;
        let actor = context.actor().on_device(&format!("dispatch@{}", line.id));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let (task, at) =
            tracemark::dispatch::spawn_dispatch(&store, &actor, &config_dispatch, stop_rx)
                .await
                .map_err(|e| CliError::Failed(anyhow::anyhow!("the dispatch scanner: {e}")))?;
        eprintln!("dispatch station ready: {at}");
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("stopping the station");
        }
        let _ = stop_tx.send(true);
        let report = task.await.map_err(|e| CliError::Failed(e.into()))?;
        println!("{}", to_json(&report)?);
        store.close().await;
        Ok(())
    })
}

fn to_json(value: &impl serde::Serialize) -> Result<String, CliError> {
    serde_json::to_string(value).map_err(|e| CliError::Failed(e.into()))
}
