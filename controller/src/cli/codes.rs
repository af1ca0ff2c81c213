//! `tracemark codes …`: parse a code, render a symbol, print serials.

use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};
use tracemark_codes::digital_identity::DigitalIdentityConfig;
use tracemark_codes::ecode::EcodeResolver;
use tracemark_codes::gs1::{self, Gs1Form, Gs1Scan};
use tracemark_codes::scheme::{ParsedCode, SchemeOptions, parse_any};
use tracemark_codes::serial::{Alphabet, SerialGenerator, guess_probability};
use tracemark_codes::symbol::{self, RenderOptions, Symbology};
use tracemark_codes::template::Template;

use super::{CliError, Context, allocate};

#[derive(Debug, Subcommand)]
pub(crate) enum CodesCommand {
    /// Parse a code in any form and print one JSON object.
    Parse(ParseArgs),
    /// Allocate codes for export (pre-printed labels), with a progress bar.
    Allocate(allocate::AllocateArgs),
    /// Change the state of codes (SPEC §3; forward only).
    SetState(allocate::SetStateArgs),
    /// Show one code's record as JSON.
    Show(allocate::ShowArgs),
    /// Render a symbol to PNG or SVG (checked by decoding it back before it is written).
    Render(RenderArgs),
    /// Print serials for inspection, one per line (stateless; allocation goes through the store).
    Serials(SerialsArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RenderArgs {
    /// The data. For GS1 symbologies any GS1 form (HRI, element string, Digital Link URI, scanner
    /// data); for plain DataMatrix and QR the text as given.
    #[arg(long)]
    data: String,
    /// gs1-datamatrix, gs1-qr, datamatrix, qr or gs1-128.
    #[arg(long)]
    symbology: String,
    /// Output file; the format follows the extension (.png or .svg).
    #[arg(long)]
    out: std::path::PathBuf,
    /// Pixels per module (default: 4 for matrix symbols, 2 for GS1-128).
    #[arg(long)]
    module_px: Option<u32>,
    /// Quiet zone in modules (default: the symbology's minimum — DataMatrix 2, QR 4, GS1-128 10).
    #[arg(long)]
    quiet_zone: Option<u32>,
    /// Bar height in pixels, GS1-128 only.
    #[arg(long)]
    bar_height: Option<u32>,
}

#[derive(Debug, Args)]
pub(crate) struct SerialsArgs {
    /// The product's GTIN (8, 12, 13 or 14 digits); its 14-digit form is the FF1 tweak.
    #[arg(long)]
    gtin: String,
    /// First counter.
    #[arg(long, default_value_t = 0)]
    from: u64,
    /// How many serials.
    #[arg(long)]
    count: u64,
    /// Serial length in characters.
    #[arg(long, default_value_t = 12)]
    length: usize,
    /// digits, safe (no look-alike characters) or crockford32.
    #[arg(long, default_value = "safe")]
    alphabet: String,
    /// File holding the 256-bit key as 64 hex digits. Without it the public demo key is used,
    /// whose serials are guessable by anyone.
    #[arg(long)]
    key_file: Option<std::path::PathBuf>,
    /// Serials planned for the product over the key's life (default: from + count); refused when
    /// the guess probability would reach 1/10,000.
    #[arg(long)]
    planned_volume: Option<u64>,
}

#[derive(Debug, Args)]
pub(crate) struct ParseArgs {
    /// The code: scanner output (`]d2…`, `]Q3…`, `]C1…`), HRI `(01)…(21)…`, element string, or a
    /// GS1 Digital Link URI.
    data: String,
    /// Domain of the Digital Link URI in the output.
    #[arg(long, default_value = gs1::DEFAULT_DOMAIN)]
    domain: String,
    /// Host of the Ecode resolver (URL form `https://HOST/E=<code>`).
    #[arg(long, default_value = "www.iotroot.com")]
    ecode_host: String,
    /// Host of the producer's digital-identity resolver; enables that scheme.
    #[arg(long)]
    identity_host: Option<String>,
    /// Path prefix of digital-identity URLs (`https://HOST/PREFIX/<serial>`).
    #[arg(long, default_value = "", requires = "identity_host")]
    identity_prefix: String,
    /// The producer's template pattern, e.g. `{date:YYMMDD}{serial:8:digits}{check:mod11-2}`;
    /// enables that scheme.
    #[arg(long)]
    template: Option<String>,
}

pub(crate) fn run(command: CodesCommand, context: &Context) -> Result<(), CliError> {
    match command {
        CodesCommand::Parse(args) => parse(&args),
        CodesCommand::Allocate(args) => allocate::allocate(args, context),
        CodesCommand::SetState(args) => allocate::set_state(args, context),
        CodesCommand::Show(args) => allocate::show(args, context),
        CodesCommand::Render(args) => render(&args),
        CodesCommand::Serials(args) => serials(&args),
    }
}

fn parse(args: &ParseArgs) -> Result<(), CliError> {
    let options = SchemeOptions {
        ecode_resolver: EcodeResolver::new(&args.ecode_host, "")
            .map_err(|e| CliError::input("--ecode-host", e))?,
        digital_identity: match &args.identity_host {
            Some(host) => Some(
                DigitalIdentityConfig::new(host, &args.identity_prefix)
                    .map_err(|e| CliError::input("--identity-host", e))?,
            ),
            None => None,
        },
        template: match &args.template {
            Some(pattern) => {
                Some(Template::parse(pattern).map_err(|e| CliError::input("--template", e))?)
            }
            None => None,
        },
    };
    let parsed = parse_any(&args.data, &options).map_err(|e| CliError::input("DATA", e))?;
    // Every scheme prints the same keys, so scripts can read any code the same way.
    let mut output = json!({
        "scheme": parsed.scheme(),
        "form": null,
        "symbology": null,
        "hri": null,
        "element": null,
        "digital_link": null,
        "ais": null,
        "gtin": null,
        "serial": null,
    });
    match &parsed {
        ParsedCode::Gs1(scan) => gs1_fields(&mut output, scan, &args.domain),
        ParsedCode::Ecode(code) => {
            output["form"] = json!(if args.data.contains("://") {
                "url"
            } else {
                "numeric"
            });
            output["code"] = json!(code.as_str());
            output["version"] = json!(code.version());
            output["nsi"] = json!(code.nsi());
            output["md"] = json!(code.md());
            output["url"] = json!(options.ecode_resolver.format(code));
        }
        ParsedCode::DigitalIdentity(code) => {
            output["form"] = json!("url");
            output["serial"] = json!(code.serial());
            if let Some(config) = &options.digital_identity {
                output["url"] = json!(code.url(config));
            }
        }
        ParsedCode::Template(code) => {
            output["form"] = json!("template");
            output["code"] = json!(args.data.trim_end_matches(['\r', '\n']));
            output["serial"] = json!(code.serial());
            output["date"] = json!(code.date().map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")));
            output["check"] = json!(code.check_char().map(String::from));
        }
    }
    println!("{output}");
    Ok(())
}

fn gs1_fields(output: &mut Value, scan: &Gs1Scan, domain: &str) {
    let code = &scan.code;
    let mut ais = Map::new();
    for element in code.elements() {
        ais.insert(element.ai().to_owned(), Value::from(element.value()));
    }
    output["form"] = json!(match scan.form {
        Gs1Form::Hri => "hri",
        Gs1Form::ElementString => "element",
        Gs1Form::DigitalLink => "digital_link",
    });
    output["symbology"] = json!(scan.symbology.map(|s| s.identifier()));
    output["hri"] = json!(code.to_hri());
    output["element"] = json!(code.to_element_string());
    output["digital_link"] = json!(code.to_digital_link(domain).ok());
    output["ais"] = Value::Object(ais);
    output["gtin"] = json!(code.gtin());
    output["serial"] = json!(code.serial());
}

fn render(args: &RenderArgs) -> Result<(), CliError> {
    let symbology: Symbology = args
        .symbology
        .parse()
        .map_err(|e| CliError::input("--symbology", e))?;
    let data = if symbology.is_gs1() {
        gs1::parse(&args.data)
            .map_err(|e| CliError::input("--data", e))?
            .code
            .to_element_string()
    } else {
        args.data.clone()
    };
    let mut options = RenderOptions::for_symbology(symbology);
    if let Some(px) = args.module_px {
        options = options.with_module_px(px);
    }
    if let Some(modules) = args.quiet_zone {
        options = options.with_quiet_zone_modules(modules);
    }
    if let Some(px) = args.bar_height {
        options = options.with_bar_height_px(px);
    }
    let symbol =
        symbol::encode(symbology, data.as_bytes()).map_err(|e| CliError::input("--data", e))?;
    let extension = args
        .out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let bytes = match extension.as_deref() {
        Some("png") => symbol
            .to_png(&options)
            .map_err(|e| CliError::input("--module-px", e))?,
        Some("svg") => symbol.to_svg(&options).into_bytes(),
        _ => {
            return Err(CliError::input(
                "--out",
                "the file name must end in .png or .svg",
            ));
        }
    };
    // A symbol that does not read back is never written: decode the same pixels first.
    let image = symbol
        .to_gray_image(&options)
        .map_err(|e| CliError::input("--module-px", e))?;
    let decoded = symbol::decode_image(&image).map_err(|e| {
        CliError::Failed(anyhow::anyhow!("the rendered symbol does not decode: {e}"))
    })?;
    if decoded.data() != data.as_bytes() {
        return Err(CliError::Failed(anyhow::anyhow!(
            "the rendered symbol decodes to different data"
        )));
    }
    std::fs::write(&args.out, &bytes)
        .map_err(|e| CliError::Failed(anyhow::anyhow!("writing {}: {e}", args.out.display())))?;
    let (width, height) = symbol.image_size(&options).unwrap_or((0, 0));
    let summary = json!({
        "out": args.out.display().to_string(),
        "symbology": symbology.name(),
        "symbology_identifier": decoded.symbology_identifier(),
        "data": data,
        "modules": [symbol.width_modules(), symbol.height_modules()],
        "pixels": [width, height],
        "bytes": bytes.len(),
    });
    println!("{summary}");
    Ok(())
}

/// The key of `tracemark demo` and of `codes serials` without `--key-file`: public, so its serials
/// are for inspection only.
pub(crate) const DEMO_KEY: [u8; 32] = *b"tracemark-demo-key-NOT-A-SECRET!";

fn serials(args: &SerialsArgs) -> Result<(), CliError> {
    let gtin = gs1::Gtin::parse(&args.gtin).map_err(|e| CliError::input("--gtin", e))?;
    let alphabet =
        Alphabet::from_name(&args.alphabet).map_err(|e| CliError::input("--alphabet", e))?;
    let key = match &args.key_file {
        Some(path) => read_key(path)?,
        None => DEMO_KEY,
    };
    let end = args
        .from
        .checked_add(args.count)
        .ok_or_else(|| CliError::input("--count", "from + count overflows a 64-bit counter"))?;
    let planned = args.planned_volume.unwrap_or(end);
    let generator =
        SerialGenerator::with_planned_volume(&key, gtin.as_bytes(), alphabet, args.length, planned)
            .map_err(|e| CliError::input("--length", e))?;
    // Notes go to stderr only once the input is known to be good: an error stays one line.
    if args.key_file.is_none() {
        eprintln!("warning: no --key-file, using the public demo key: these serials are guessable");
    }
    eprintln!(
        "guess probability {:.3e} for {planned} serials of {} {} characters (limit 1e-4)",
        guess_probability(planned, alphabet, args.length),
        args.length,
        alphabet.name()
    );
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut line = String::with_capacity(args.length + 2);
    for counter in args.from..end {
        line.clear();
        generator
            .write_serial(counter, &mut line)
            .map_err(|e| CliError::input("--from", e))?;
        line.push('\n');
        std::io::Write::write_all(&mut out, line.as_bytes())
            .map_err(|e| CliError::Failed(anyhow::anyhow!("writing serials: {e}")))?;
    }
    std::io::Write::flush(&mut out)
        .map_err(|e| CliError::Failed(anyhow::anyhow!("writing serials: {e}")))?;
    Ok(())
}

fn read_key(path: &std::path::Path) -> Result<[u8; 32], CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::input("--key-file", format!("{}: {e}", path.display())))?;
    let hex = text.trim();
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(CliError::input(
            "--key-file",
            format!(
                "{}: expected 64 hex digits (a 256-bit AES key)",
                path.display()
            ),
        ));
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
            .map_err(|e| CliError::input("--key-file", e))?;
    }
    Ok(key)
}
