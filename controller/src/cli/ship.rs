//! `tracemark ship`: closed pallets and cartons leave the plant, with their flow record (issue
//! 17 item 2; docs/shipping.md). Parses and prints; the rules are `app::shipping`'s.

use clap::Args;
use tracemark::app::shipping;
use tracemark_store::{NewShipment, Shipment};

use super::{CliError, Context, block_on};

#[derive(Debug, Args)]
pub(crate) struct ShipArgs {
    /// The pallets and cartons shipped (SSCCs, 18 digits): closed, every unit in them packed;
    /// a pallet ships with its cartons. All or none.
    #[arg(long, required = true, num_args = 1.., value_name = "SSCC")]
    sscc: Vec<String>,
    /// 购方名称: the buyer.
    #[arg(long)]
    buyer_name: String,
    /// 购方地址: the buyer's address.
    #[arg(long)]
    buyer_address: String,
    /// 购方联系方式: the buyer's contact (phone, e-mail).
    #[arg(long)]
    buyer_contact: String,
    /// 销售时间, RFC 3339 (`2026-12-06T08:00:00+08:00`); default now.
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// The buyer's order (purchase order) this shipment fills: the EPCIS bizTransaction.
    #[arg(long, value_name = "REF")]
    order: Option<String>,
    /// Print the shipment as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: ShipArgs, context: &Context) -> Result<(), CliError> {
    block_on(async {
        let store = context.open().await?;
        let shipment = NewShipment {
            ssccs: args.sscc,
            sale_time: args.at,
            buyer_name: args.buyer_name,
            buyer_address: args.buyer_address,
            buyer_contact: args.buyer_contact,
            order_ref: args.order,
        };
        let shipped = shipping::ship(&store, context.actor(), &shipment).await;
        store.close().await;
        let shipped = shipped?;
        if args.json {
            let json = serde_json::to_string(&shipped).map_err(|e| CliError::Failed(e.into()))?;
            println!("{json}");
        } else {
            println!("{}", summary(&shipped));
        }
        Ok(())
    })
}

/// `shipment 3: 2 packages (…), 400 units to 某某五金店, sold 2026-…Z, order PO-1`.
fn summary(shipment: &Shipment) -> String {
    format!(
        "shipment {}: {} package(s) ({}), {} units to {}, sold {}{}",
        shipment.id,
        shipment.packages,
        shipment.ssccs.join(" "),
        shipment.quantity,
        shipment.buyer_name,
        shipment.sale_time,
        shipment
            .order_ref
            .as_deref()
            .map(|o| format!(", order {o}"))
            .unwrap_or_default()
    )
}
