//! EPCIS 2.0 and platform exports of a packed batch (issue 15, SPEC §6), on SQLite and
//! PostgreSQL: units, three cartons (one closed short), a pallet, a destroyed reject and a code
//! never printed. The JSON-LD document validates against the official JSON Schema
//! (`schemas/epcis/EPCIS-JSON-Schema.json`, draft-07, formats checked) and the rules it leaves
//! out; the XML one against the official XSD with xmllint (`scripts/install-xmllint.sh`); both
//! say the same events with the same IDs; a second export is byte-identical; the command line
//! writes the same bytes.

#[macro_use]
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;
use tracemark::export::{ExportFormat, rules, write_batch};
use tracemark_store::{
    BatchState, CodeState, PackageLevel, PackageState, RejectReason, Store, Transition,
};

/// GTIN whose company prefix is the packing producer's (9506000): its EPC URNs need no
/// product setting.
const GTIN: &str = "09506000134352";
/// A GLN of the same company prefix, check digit valid.
const GLN: &str = "9506000000015";

fn schemas() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/epcis")
}

struct Packed {
    batch: i64,
    units: Vec<String>,
    destroyed: String,
    never_printed: String,
    cartons: Vec<String>,
    pallet: String,
}

/// Batch A: seven verified units, packed 3 + 3 + 1 (the last carton closed short), the first
/// two cartons on a pallet; one unit rejected and destroyed; one code reserved and never
/// printed (voided at close).
async fn packed_batch(store: &Store) -> Packed {
    let mut p = product("p", GTIN);
    p.pack_sizes = vec![3, 2];
    store.add_product(&p).await.expect("add");
    packing_producer(store).await;
    store.set_gln(Some(GLN)).await.expect("GLN");
    let (batch, units) = verified_batch(store, "p", "A", 7).await;
    let mut extra = store
        .allocate("p", 2, Some(batch.id))
        .await
        .expect("allocate")
        .codes;
    let never_printed = extra.pop().expect("two codes");
    let destroyed = extra.pop().expect("two codes");
    let mut changes: Vec<Transition> = [CodeState::Sent, CodeState::Printed]
        .into_iter()
        .map(|s| Transition::to(destroyed.as_str(), s))
        .collect();
    let mut reject = Transition::to(destroyed.as_str(), CodeState::Rejected);
    reject.reason = Some(RejectReason::NoRead);
    changes.push(reject);
    changes.push(Transition::to(destroyed.as_str(), CodeState::Destroyed));
    store
        .transition_all(&changes)
        .await
        .expect("reject and destroy");
    let mut cartons = Vec::new();
    for chunk in units.chunks(3) {
        let carton = store
            .create_package(batch.id, PackageLevel::Carton, None)
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
        .create_package(batch.id, PackageLevel::Pallet, None)
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
    store
        .set_batch_state(batch.id, BatchState::Closed)
        .await
        .expect("close the batch");
    Packed {
        batch: batch.id,
        units,
        destroyed,
        never_printed,
        cartons,
        pallet,
    }
}

async fn export(store: &Store, batch: i64, format: ExportFormat) -> Vec<u8> {
    let mut out = Vec::new();
    write_batch(store, batch, format, &mut out)
        .await
        .expect("export");
    out
}

fn digital_link(code: &str) -> String {
    // (01)GTIN(21)SERIAL → https://id.gs1.org/01/GTIN/21/SERIAL (digit serials need no escape).
    let serial = code.rsplit("(21)").next().expect("a GS1 code");
    format!("https://id.gs1.org/01/{GTIN}/21/{serial}")
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Fails the test with every schema error.
fn assert_schema_valid(document: &Value) {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(schemas().join("EPCIS-JSON-Schema.json")).expect("schema"),
    )
    .expect("schema JSON");
    let validator = jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("compile the schema");
    let errors: Vec<String> = validator
        .iter_errors(document)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "schema errors: {errors:#?}");
}

/// Validates an XML document against the EPCIS 2.0 XSD with xmllint; `false` (after saying
/// why) when xmllint is not installed and CI is not set.
fn xsd_valid(document: &[u8]) -> bool {
    if std::process::Command::new("xmllint")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "xmllint is missing: run scripts/install-xmllint.sh"
        );
        println!("skipped: xmllint is not installed (scripts/install-xmllint.sh)");
        return false;
    }
    let dir = tempdir();
    let file = dir.path().join("epcis.xml");
    std::fs::write(&file, document).expect("write");
    let out = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schemas().join("XSD/EPCglobal-epcis-2_0.xsd"))
        .arg(&file)
        .output()
        .expect("run xmllint");
    assert!(
        out.status.success(),
        "xmllint: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

async fn epcis_exports(store: Store) {
    let packed = packed_batch(&store).await;
    let json = export(&store, packed.batch, ExportFormat::EpcisJson).await;
    let document: Value = serde_json::from_slice(&json).expect("JSON");
    assert_schema_valid(&document);
    assert_eq!(rules::check_document(&document), Vec::<String>::new());
    let events = document["epcisBody"]["eventList"]
        .as_array()
        .expect("events")
        .clone();

    // Every commissioned unit once (the destroyed one too: it was printed), never the code
    // that was not printed.
    let mut commissioned: Vec<String> = events
        .iter()
        .filter(|e| e["bizStep"] == "commissioning")
        .flat_map(|e| strings(&e["epcList"]))
        .filter(|e| e.contains("/01/"))
        .collect();
    commissioned.sort();
    let mut expected: Vec<String> = packed
        .units
        .iter()
        .chain([&packed.destroyed])
        .map(|c| digital_link(c))
        .collect();
    expected.sort();
    assert_eq!(commissioned, expected);
    assert!(!String::from_utf8_lossy(&json).contains(&digital_link(&packed.never_printed)));
    for event in events.iter().filter(|e| e["bizStep"] == "commissioning") {
        assert_eq!(
            (&event["action"], &event["disposition"]),
            (&"ADD".into(), &"active".into())
        );
        assert_eq!(
            event["bizLocation"]["id"],
            format!("https://id.gs1.org/414/{GLN}")
        );
        assert_eq!(
            event["readPoint"]["id"],
            format!("https://id.gs1.org/414/{GLN}/254/line-1")
        );
    }
    let unit_events: Vec<&Value> = events
        .iter()
        .filter(|e| e["bizStep"] == "commissioning" && e["ilmd"].is_object())
        .collect();
    assert!(!unit_events.is_empty());
    for event in &unit_events {
        assert_eq!(event["ilmd"]["cbvmda:lotNumber"], "A");
        assert_eq!(event["ilmd"]["cbvmda:productionDate"], "2025-03-01");
    }

    // Every SSCC commissioned; packing per carton and pallet, parent and children exact.
    let ssccs: Vec<String> = events
        .iter()
        .filter(|e| e["bizStep"] == "commissioning")
        .flat_map(|e| strings(&e["epcList"]))
        .filter(|e| e.contains("/00/"))
        .collect();
    assert_eq!(ssccs.len(), 4, "{ssccs:?}");
    let packing: BTreeMap<String, Vec<String>> = events
        .iter()
        .filter(|e| e["type"] == "AggregationEvent")
        .map(|e| {
            assert_eq!(
                (&e["action"], &e["bizStep"]),
                (&"ADD".into(), &"packing".into())
            );
            let mut children = strings(&e["childEPCs"]);
            children.sort();
            (
                e["parentID"].as_str().expect("parentID").to_owned(),
                children,
            )
        })
        .collect();
    let sscc_link = |s: &str| format!("https://id.gs1.org/00/{s}");
    let mut expected = BTreeMap::new();
    for (carton, units) in packed.cartons.iter().zip(packed.units.chunks(3)) {
        let mut children: Vec<String> = units.iter().map(|u| digital_link(u)).collect();
        children.sort();
        expected.insert(sscc_link(carton), children);
    }
    let mut on_pallet: Vec<String> = packed.cartons[..2].iter().map(|c| sscc_link(c)).collect();
    on_pallet.sort();
    expected.insert(sscc_link(&packed.pallet), on_pallet);
    assert_eq!(packing, expected);

    // The destroyed reject.
    let destroying: Vec<&Value> = events
        .iter()
        .filter(|e| e["bizStep"] == "destroying")
        .collect();
    assert_eq!(destroying.len(), 1);
    assert_eq!(
        (&destroying[0]["action"], &destroying[0]["disposition"]),
        (&"DELETE".into(), &"destroyed".into())
    );
    assert_eq!(
        strings(&destroying[0]["epcList"]),
        [digital_link(&packed.destroyed)]
    );
    assert!(destroying[0].get("ilmd").is_none());

    // Event IDs: the CBV 2.0 hash form, unique.
    let ids: Vec<String> = events
        .iter()
        .map(|e| e["eventID"].as_str().expect("eventID").to_owned())
        .collect();
    for id in &ids {
        assert!(
            id.starts_with("ni:///sha-256;") && id.ends_with("?ver=CBV2.0") && id.len() == 89,
            "{id}"
        );
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len());

    // XML: valid against the XSD, EPC URNs, the same events with the same IDs.
    let xml = export(&store, packed.batch, ExportFormat::EpcisXml).await;
    let text = String::from_utf8(xml.clone()).expect("UTF-8");
    let serial = packed.units[0].rsplit("(21)").next().expect("serial");
    assert!(
        text.contains(&format!(
            "<epc>urn:epc:id:sgtin:9506000.013435.{serial}</epc>"
        )),
        "{text}"
    );
    assert!(
        text.contains("<parentID>urn:epc:id:sscc:9506000.0"),
        "{text}"
    );
    assert!(
        text.contains("<id>urn:epc:id:sgln:9506000.00001.line-1</id>"),
        "{text}"
    );
    let xml_ids: Vec<&str> = text
        .split("<eventID>")
        .skip(1)
        .filter_map(|s| s.split("</eventID>").next())
        .collect();
    assert_eq!(xml_ids, ids);
    xsd_valid(&xml);

    // Deterministic: the same batch state gives the same bytes, in every format.
    assert_eq!(
        export(&store, packed.batch, ExportFormat::EpcisJson).await,
        json
    );
    assert_eq!(
        export(&store, packed.batch, ExportFormat::EpcisXml).await,
        xml
    );
    let platform = export(&store, packed.batch, ExportFormat::Platform).await;
    assert_eq!(
        export(&store, packed.batch, ExportFormat::Platform).await,
        platform
    );

    // The platform payload: fields with their public flags, every code with its final state,
    // the hierarchy.
    let payload: Value = serde_json::from_slice(&platform).expect("platform JSON");
    assert_eq!(payload["format"], "tracemark.platform.v1");
    let fields = payload["fields"].as_array().expect("fields");
    let field = |key: &str| {
        fields
            .iter()
            .find(|f| f["key"] == key)
            .unwrap_or_else(|| panic!("{key} missing"))
            .clone()
    };
    assert_eq!(field("producer.uscc")["value"], "91350100M000100Y43");
    assert_eq!(field("product.lot")["value"], "A");
    assert_eq!(field("product.name")["public"], true);
    let codes = payload["codes"].as_array().expect("codes");
    assert_eq!(codes.len(), 9);
    let state_of = |code: &str| {
        codes
            .iter()
            .find(|c| c["code"] == code)
            .map(|c| (c["state"].clone(), c["package"].clone()))
            .unwrap_or_else(|| panic!("{code} missing"))
    };
    assert_eq!(state_of(&packed.destroyed).0, "destroyed");
    assert_eq!(state_of(&packed.never_printed).0, "voided");
    assert_eq!(
        state_of(&packed.units[0]),
        ("packed".into(), packed.cartons[0].as_str().into())
    );
    let packages = payload["packages"].as_array().expect("packages");
    assert_eq!(packages.len(), 4);
    let first = packages
        .iter()
        .find(|p| p["sscc"] == packed.cartons[0].as_str())
        .expect("carton");
    assert_eq!(first["parent"], packed.pallet.as_str());
    assert_eq!(payload["flow"], serde_json::json!([]));
}

both!(epcis_exports);

/// The command line writes what the export function writes, to stdout or (whole) to a file;
/// a batch that does not exist is refused with exit status 2.
async fn export_commands(store: Store) {
    let packed = packed_batch(&store).await;
    let url = store.url().to_owned();
    let batch = packed.batch.to_string();
    let dir = tempdir();
    for (format, args) in [
        (
            ExportFormat::EpcisJson,
            vec!["export", "epcis", "--batch", &batch],
        ),
        (
            ExportFormat::EpcisXml,
            vec!["export", "epcis", "--batch", &batch, "--format", "xml"],
        ),
        (
            ExportFormat::Platform,
            vec!["export", "platform", "--batch", &batch],
        ),
    ] {
        let expected = export(&store, packed.batch, format).await;
        let out = tracemark(&url, &args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert!(out.stdout == expected, "{args:?}: stdout differs");
        let file = dir.path().join("doc");
        let file_arg = file.display().to_string();
        let mut with_file = args.clone();
        with_file.extend(["--out", &file_arg]);
        let out = tracemark(&url, &with_file);
        assert!(out.status.success(), "{with_file:?}: {}", stderr(&out));
        assert!(
            stdout(&out).starts_with(&format!("batch {batch}: ")),
            "{}",
            stdout(&out)
        );
        assert!(std::fs::read(&file).expect("the file") == expected);
        assert!(!dir.path().join("doc.partial").exists());
    }
    // Master data for the EPC forms, refused with the field named and nothing written.
    let out = tracemark(&url, &["producer", "set", "--gln", "9506000000016"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("gln: "), "{}", stderr(&out));
    let out = tracemark(&url, &["producer", "set", "--gln", GLN]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), format!("GLN {GLN}"));
    let add = |length: &str| {
        tracemark(
            &url,
            &[
                "product",
                "add",
                "--id",
                "q",
                "--gtin",
                "04012345000009",
                "--name",
                "Q",
                "--gs1-company-prefix-length",
                length,
            ],
        )
    };
    let out = add("5");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("gs1_company_prefix_length: 5 is not between 6 and 12"),
        "{}",
        stderr(&out)
    );
    assert!(
        store.product("q").await.is_err(),
        "a refused product was added"
    );
    assert!(add("7").status.success());
    assert_eq!(
        store.company_prefix_length("q").await.expect("read"),
        Some(7)
    );

    let out = tracemark(&url, &["export", "epcis", "--batch", "999"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("batch: \"999\" does not exist"),
        "{}",
        stderr(&out)
    );
}

both!(export_commands);

/// A provider's own format is one implementation of `PlatformFormat`: here a CSV of codes.
struct CodesCsv;

impl tracemark::export::platform::PlatformFormat for CodesCsv {
    fn content_type(&self) -> &'static str {
        "text/csv"
    }
    fn begin(&self, out: &mut Vec<u8>, header: &tracemark::export::platform::BatchHeader) {
        out.extend_from_slice(format!("batch,{}\n", header.batch).as_bytes());
    }
    fn package(
        &self,
        _: &mut Vec<u8>,
        _: PackageLevel,
        _: &tracemark_store::export::ExportPackage,
        _: u64,
    ) {
    }
    fn codes_begin(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"code,state\n");
    }
    fn code(&self, out: &mut Vec<u8>, code: &tracemark_store::export::ExportCode, _: u64) {
        out.extend_from_slice(format!("{},{}\n", code.code, code.state.as_str()).as_bytes());
    }
    fn end(&self, _: &mut Vec<u8>) {}
}

async fn provider_format(store: Store) {
    let packed = packed_batch(&store).await;
    let mut out = Vec::new();
    let summary = tracemark::export::write_platform(&store, packed.batch, &CodesCsv, &mut out)
        .await
        .expect("export");
    let text = String::from_utf8(out).expect("UTF-8");
    assert_eq!(summary.units, 9);
    assert_eq!(text.lines().count(), 2 + 9, "{text}");
    assert!(
        text.contains(&format!("{},destroyed\n", packed.destroyed)),
        "{text}"
    );
}

both!(provider_format);
