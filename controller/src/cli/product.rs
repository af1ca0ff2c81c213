//! `tracemark product …` and `tracemark producer …`: master data (SPEC §1 data fields).

use clap::{Args, Subcommand, ValueEnum};
use tracemark::app::products::{self, ProductDraft};
use tracemark::app::shipping;
use tracemark_store::Producer;
use tracemark_store::model::{
    DEFAULT_MIN_GRADE, DEFAULT_RETENTION_YEARS, DEFAULT_SERIAL_ALPHABET, DEFAULT_SERIAL_LENGTH,
};

use super::{CliError, Context, block_on};

#[derive(Debug, Subcommand)]
pub(crate) enum ProductCommand {
    /// Add a product.
    Add(Box<ProductArgs>),
    /// List products.
    List {
        /// `text` (one line each) or `json`.
        #[arg(long, default_value = "text")]
        format: ListFormat,
    },
    /// Show one product as JSON.
    Show {
        /// The product id.
        id: String,
    },
    /// Import products from a TOML (`[[product]]`) or CSV (header row) file; all or none.
    Import {
        /// The file, `.toml` or `.csv`.
        file: std::path::PathBuf,
    },
    /// Set a product's inspection report and manual, and whether the public lookup shows the
    /// report (docs/lookup.md); prints the documents as JSON.
    Documents {
        /// The product id.
        id: String,
        #[command(flatten)]
        documents: DocumentsArgs,
    },
    /// Which flow fields of the product's shipments are public (seed 000 annex 2 §一(三): the
    /// producer decides; none by default). Without --fields, prints the current choice.
    FlowPublic {
        /// The product id.
        id: String,
        /// The public fields, comma-separated: sale_time, buyer_name, buyer_address,
        /// buyer_contact, quantity; `none` makes them all private.
        #[arg(long)]
        fields: Option<String>,
    },
}

/// A product's documents (SPEC §1 data fields); an option not given keeps what is stored, an
/// empty text clears it.
#[derive(Debug, Args)]
pub(crate) struct DocumentsArgs {
    /// 出厂检验报告或型式检验报告: text or an http(s) URL. Private unless
    /// --inspection-report-public true.
    #[arg(long, value_name = "TEXT_OR_URL")]
    inspection_report: Option<String>,
    /// Whether the public lookup shows the inspection report (the producer decides).
    #[arg(long, value_name = "true|false")]
    inspection_report_public: Option<bool>,
    /// 使用说明书或警示说明: an http(s) URL, shown by the public lookup.
    #[arg(long, value_name = "URL")]
    manual: Option<String>,
}

impl DocumentsArgs {
    fn change(self) -> Option<products::DocumentsChange> {
        let change = products::DocumentsChange {
            inspection_report: self.inspection_report,
            inspection_report_public: self.inspection_report_public,
            manual: self.manual,
        };
        (change != products::DocumentsChange::default()).then_some(change)
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ListFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct ProductArgs {
    /// Short identifier (A-Z a-z 0-9 - _ .).
    #[arg(long)]
    id: String,
    /// GTIN-8, -12, -13 or -14 (check digit verified; stored as 14 digits).
    #[arg(long)]
    gtin: String,
    /// 产品名称.
    #[arg(long)]
    name: String,
    /// 产品类型.
    #[arg(long, default_value = "")]
    category: String,
    /// 规格型号.
    #[arg(long, default_value = "")]
    model: String,
    /// 执行强制性国家标准, e.g. "GB 4706.1-2005".
    #[arg(long, default_value = "")]
    standard: String,
    /// 生产许可证号.
    #[arg(long)]
    licence: Option<String>,
    /// CCC certificate number.
    #[arg(long)]
    ccc: Option<String>,
    /// 质保期限 in months.
    #[arg(long)]
    warranty_months: Option<u32>,
    /// Years the product's records are kept.
    #[arg(long, default_value_t = DEFAULT_RETENTION_YEARS)]
    retention_years: u32,
    /// Serial alphabet: digits, safe (no 0/O/1/I/l) or crockford32. Serials are AES-256 FF1 of
    /// a counter under a random key made for the product.
    #[arg(long, default_value = DEFAULT_SERIAL_ALPHABET.name())]
    serial_alphabet: String,
    /// Characters per serial (1–20).
    #[arg(long, default_value_t = DEFAULT_SERIAL_LENGTH)]
    serial_length: u32,
    /// Units per package level, innermost first: `10,40` = 10 per carton, 40 cartons per pallet.
    #[arg(long, default_value = "")]
    pack_sizes: String,
    /// Lowest ISO/IEC 15415 print grade that passes verification: A, B, C or D.
    #[arg(long, default_value = DEFAULT_MIN_GRADE.as_str())]
    min_grade: String,
    /// Digits of the GS1 company prefix inside the GTIN (6–12), for EPC URNs; by default the
    /// producer's GS1 company prefix when the GTIN starts with it.
    #[arg(long)]
    gs1_company_prefix_length: Option<u8>,
    #[command(flatten)]
    documents: DocumentsArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ProducerCommand {
    /// Set the producer's master data, and/or its GS1 company prefix for SSCCs.
    Set {
        /// 生产单位名称.
        #[arg(long, required_unless_present_any = ["gs1_company_prefix", "gln"])]
        name: Option<String>,
        /// 统一社会信用代码 (18 characters).
        #[arg(long, required_unless_present_any = ["gs1_company_prefix", "gln"])]
        uscc: Option<String>,
        /// 生产/注册地址.
        #[arg(long, required_unless_present_any = ["gs1_company_prefix", "gln"])]
        address: Option<String>,
        /// 联系方式.
        #[arg(long, required_unless_present_any = ["gs1_company_prefix", "gln"])]
        contact: Option<String>,
        /// 营业执照 number.
        #[arg(long, required_unless_present_any = ["gs1_company_prefix", "gln"])]
        business_licence: Option<String>,
        /// The GS1 company prefix (4–12 digits) the SSCCs of cartons and pallets are built
        /// with (the producer must be set).
        #[arg(long)]
        gs1_company_prefix: Option<String>,
        /// The SSCC extension digit (0–9).
        #[arg(long, default_value_t = 0, requires = "gs1_company_prefix")]
        sscc_extension_digit: u8,
        /// The plant's GLN (13 digits): the EPCIS bizLocation, and with the line's name as
        /// extension the readPoint (docs/upload.md).
        #[arg(long)]
        gln: Option<String>,
    },
    /// Show the producer as JSON.
    Show,
}

fn to_json(value: &impl serde::Serialize) -> Result<String, CliError> {
    serde_json::to_string_pretty(value).map_err(|e| CliError::Failed(e.into()))
}

pub(crate) fn run(command: ProductCommand, context: &Context) -> Result<(), CliError> {
    block_on(async {
        let store = context.open().await?;
        let actor = context.actor();
        match command {
            ProductCommand::Add(args) => {
                let args = *args;
                let draft = ProductDraft {
                    id: args.id,
                    gtin: args.gtin,
                    name: args.name,
                    category: args.category,
                    model: args.model,
                    standard: args.standard,
                    licence: args.licence,
                    ccc: args.ccc,
                    warranty_months: args.warranty_months,
                    retention_years: Some(args.retention_years),
                    serial_alphabet: Some(args.serial_alphabet),
                    serial_length: Some(args.serial_length),
                    pack_sizes: Some(args.pack_sizes),
                    min_grade: Some(args.min_grade),
                };
                let product = match args.gs1_company_prefix_length {
                    Some(length) => {
                        products::add_with_prefix_length(&store, actor, draft, length).await?
                    }
                    None => products::add(&store, actor, draft).await?,
                };
                if let Some(change) = args.documents.change() {
                    products::set_documents(&store, actor, &product.id, change).await?;
                }
                println!("product {} added (GTIN {})", product.id, product.key);
            }
            ProductCommand::List { format } => {
                let products = products::list(&store).await?;
                match format {
                    ListFormat::Json => println!("{}", to_json(&products)?),
                    ListFormat::Text => {
                        for p in products {
                            println!(
                                "{}\t{}\t{}\t{}\t{}",
                                p.id, p.key, p.name, p.model, p.category
                            );
                        }
                    }
                }
            }
            ProductCommand::Documents { id, documents } => {
                let change = documents.change().unwrap_or_default();
                let stored = products::set_documents(&store, actor, &id, change).await?;
                println!("{}", to_json(&stored)?);
            }
            ProductCommand::Show { id } => {
                println!("{}", to_json(&products::get(&store, &id).await?)?);
            }
            ProductCommand::Import { file } => {
                let drafts = super::import::read(&file)?;
                let count = products::import(&store, actor, drafts)
                    .await
                    .map_err(|e| super::import::in_file(&file, e))?;
                println!("{count} products imported");
            }
            ProductCommand::FlowPublic { id, fields } => {
                let disclosure = match fields {
                    Some(text) => {
                        let public = tracemark_store::FlowField::parse_list(&text)?;
                        shipping::set_flow_public(&store, actor, &id, &public).await?
                    }
                    None => shipping::flow_public(&store, &id).await?,
                };
                let names: Vec<&str> = disclosure.public.iter().map(|f| f.key()).collect();
                println!(
                    "product {}: public flow fields: {}",
                    disclosure.product,
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                );
            }
        }
        store.close().await;
        Ok(())
    })
}

pub(crate) fn run_producer(command: ProducerCommand, context: &Context) -> Result<(), CliError> {
    block_on(async {
        let store = context.open().await?;
        match command {
            ProducerCommand::Set {
                name,
                uscc,
                address,
                contact,
                business_licence,
                gs1_company_prefix,
                sscc_extension_digit,
                gln,
            } => {
                match (name, uscc, address, contact, business_licence) {
                    (Some(name), Some(uscc), Some(address), Some(contact), Some(licence)) => {
                        let producer = Producer {
                            name,
                            uscc,
                            address,
                            contact,
                            business_licence: licence,
                        };
                        products::set_producer(&store, context.actor(), &producer).await?;
                        println!("producer set");
                    }
                    (None, None, None, None, None) => {}
                    _ => {
                        return Err(CliError::input(
                            "producer",
                            "give all of --name --uscc --address --contact --business-licence,                              or none",
                        ));
                    }
                }
                if let Some(prefix) = gs1_company_prefix {
                    products::set_sscc_coding(
                        &store,
                        context.actor(),
                        &prefix,
                        sscc_extension_digit,
                    )
                    .await?;
                    println!(
                        "GS1 company prefix {prefix}, SSCC extension digit {sscc_extension_digit}"
                    );
                }
                if let Some(gln) = gln {
                    products::set_gln(&store, context.actor(), Some(&gln)).await?;
                    println!("GLN {gln}");
                }
            }
            ProducerCommand::Show => {
                println!("{}", to_json(&products::producer(&store).await?)?);
            }
        }
        store.close().await;
        Ok(())
    })
}
