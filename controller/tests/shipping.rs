//! Shipping in the documents and at the edges (issue 17 item 2; docs/shipping.md), on SQLite
//! and PostgreSQL: the batch's EPCIS documents hold the shipping event (JSON-LD valid against
//! the official JSON Schema, XML against the XSD with xmllint), the platform payload its flow
//! section with the producer's disclosure; a closed batch's documents stay the same bytes after
//! a later shipment, which gets documents and deliveries of its own; `public_flow` gives only
//! the public fields; `tracemark ship` and `tracemark product flow-public`; the API's roles.

#[macro_use]
mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;
use tracemark::app::lookup::LookupSettings;
use tracemark::app::shipping::{self, PublicFlow};
use tracemark::app::users::{self, Role};
use tracemark::export::shipment::write_shipment;
use tracemark::export::{ExportFormat, rules, write_batch};
use tracemark::http::server::{HttpServer, LiveOptions, ServeOptions};
use tracemark_store::upload::{UploadFormat, UploadTarget};
use tracemark_store::{BatchState, CodeState, FlowField, NewShipment, Store};

/// GTIN of the packing producer's company prefix (9506000).
const GTIN: &str = "09506000134352";
/// A GLN of the same company prefix.
const GLN: &str = "9506000000015";
const BUYER: &str = "某某五金店";
const ADDRESS: &str = "福建省福州市鼓楼区五一路1号";
const CONTACT: &str = "0591-87654321";

fn schemas() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/epcis")
}

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
    assert_eq!(rules::check_document(document), Vec::<String>::new());
}

/// Validates against the EPCIS 2.0 XSD with xmllint (skipped, saying so, without xmllint and
/// without CI).
fn assert_xsd_valid(document: &[u8]) {
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
        return;
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
}

struct Packed {
    batch: i64,
    units: Vec<String>,
    pallet: String,
    loose: String,
}

/// Nine verified units of product `p` in three closed cartons, the first two on a closed
/// pallet; the batch still running.
async fn packed(store: &Store) -> Packed {
    let mut p = product("p", GTIN);
    p.pack_sizes = vec![3, 2];
    store.add_product(&p).await.expect("add");
    packing_producer(store).await;
    store.set_gln(Some(GLN)).await.expect("GLN");
    let (batch, units) = verified_batch(store, "p", "A", 9).await;
    let (pallet, cartons) = cartons_and_a_pallet(store, batch.id, &units).await;
    Packed {
        batch: batch.id,
        units,
        pallet,
        loose: cartons[2].clone(),
    }
}

fn shipment(ssccs: &[&str], order: &str) -> NewShipment {
    NewShipment {
        ssccs: ssccs.iter().map(|s| (*s).to_owned()).collect(),
        sale_time: Some("2026-12-06T08:00:00+08:00".into()),
        buyer_name: BUYER.into(),
        buyer_address: ADDRESS.into(),
        buyer_contact: CONTACT.into(),
        order_ref: Some(order.into()),
    }
}

async fn export(store: &Store, batch: i64, format: ExportFormat) -> Vec<u8> {
    let mut out = Vec::new();
    write_batch(store, batch, format, &mut out)
        .await
        .expect("export");
    out
}

async fn shipment_document(store: &Store, id: i64, format: ExportFormat) -> Vec<u8> {
    let mut out = Vec::new();
    write_shipment(store, id, format, &mut out)
        .await
        .expect("the shipment's document");
    out
}

/// The shipping events of an EPCIS JSON-LD document.
fn shipping_events(document: &Value) -> Vec<Value> {
    document["epcisBody"]["eventList"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["bizStep"] == "shipping")
        .cloned()
        .collect()
}

fn assert_shipping_event(event: &Value, ssccs: &[&str], order: &str) {
    assert_eq!(event["type"], "ObjectEvent");
    assert_eq!(event["action"], "OBSERVE");
    assert_eq!(event["disposition"], "in_transit");
    assert_eq!(event["eventTime"], "2026-12-06T00:00:00.000Z");
    let epcs: Vec<String> = ssccs
        .iter()
        .map(|s| format!("https://id.gs1.org/00/{s}"))
        .collect();
    assert_eq!(event["epcList"], serde_json::json!(epcs));
    assert_eq!(
        event["readPoint"]["id"],
        format!("https://id.gs1.org/414/{GLN}")
    );
    assert!(event.get("bizLocation").is_none(), "{event}");
    assert!(event.get("ilmd").is_none(), "{event}");
    assert_eq!(
        event["bizTransactionList"],
        serde_json::json!([{
            "type": "po",
            "bizTransaction": format!("urn:epcglobal:cbv:bt:{GLN}:{order}")
        }])
    );
}

async fn shipments_in_documents(store: Store) {
    let packed = packed(&store).await;
    store
        .set_flow_disclosure("p", &[FlowField::SaleTime, FlowField::Quantity])
        .await
        .expect("disclosure");
    // A target before the shipments: each shipment is enqueued for it.
    store
        .add_upload_target(&UploadTarget {
            name: "erp".into(),
            url: "http://127.0.0.1:9/epcis".into(),
            format: UploadFormat::EpcisJson,
            secret_file: None,
            ed25519_key_file: None,
            ca_file: None,
            gzip: false,
            created_at: String::new(),
        })
        .await
        .expect("a target");

    // The pallet ships while the batch runs; then the batch closes.
    let first = store
        .ship(&shipment(&[&packed.pallet], "PO-4711"))
        .await
        .expect("ship the pallet");
    assert_eq!(first.quantity, 6);
    store
        .set_batch_state(packed.batch, BatchState::Closed)
        .await
        .expect("close the batch");

    // The batch's own delivery and its shipment's are read apart, each by its query (the
    // batch report shows them in two labelled tables).
    let own = store
        .batch_deliveries(packed.batch)
        .await
        .expect("the batch's deliveries");
    assert_eq!(
        own.iter()
            .map(|d| (d.target.as_str(), d.shipment_id))
            .collect::<Vec<_>>(),
        [("erp", None)]
    );
    let shipped = store
        .batch_shipment_deliveries(packed.batch)
        .await
        .expect("the shipments' deliveries");
    assert_eq!(
        shipped
            .iter()
            .map(|d| (d.target.as_str(), d.shipment_id))
            .collect::<Vec<_>>(),
        [("erp", Some(first.id))]
    );
    let report = tracemark::app::report::batch(&store, packed.batch)
        .await
        .expect("the batch report");
    assert_eq!(
        (report.deliveries, report.shipment_deliveries),
        (own, shipped)
    );

    // EPCIS JSON-LD: valid, the shipping event with the pallet and the order.
    let json = export(&store, packed.batch, ExportFormat::EpcisJson).await;
    let document: Value = serde_json::from_slice(&json).expect("JSON");
    assert_schema_valid(&document);
    let events = shipping_events(&document);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_shipping_event(&events[0], &[&packed.pallet], "PO-4711");
    // XML: valid against the XSD, the same event with the same ID.
    let xml = export(&store, packed.batch, ExportFormat::EpcisXml).await;
    assert_xsd_valid(&xml);
    let text = String::from_utf8(xml.clone()).expect("UTF-8");
    assert!(
        text.contains(&format!(
            "<bizTransactionList><bizTransaction type=\"urn:epcglobal:cbv:btt:po\">\
             urn:epcglobal:cbv:bt:{GLN}:PO-4711</bizTransaction></bizTransactionList>"
        )),
        "{text}"
    );
    assert!(
        text.contains("<bizStep>urn:epcglobal:cbv:bizstep:shipping</bizStep>"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "<eventID>{}</eventID>",
            events[0]["eventID"].as_str().expect("an eventID")
        )),
        "{text}"
    );

    // The platform payload: the shipped units and packages, the flow section with the
    // disclosure's flags.
    let platform = export(&store, packed.batch, ExportFormat::Platform).await;
    let payload: Value = serde_json::from_slice(&platform).expect("JSON");
    for code in payload["codes"].as_array().expect("codes") {
        let shipped = packed.units[..6]
            .iter()
            .any(|u| code["code"] == *u.as_str());
        let want = if shipped { "shipped" } else { "packed" };
        assert_eq!(code["state"], want, "{code}");
    }
    let flow = payload["flow"].as_array().expect("flow");
    assert_eq!(flow.len(), 1, "{flow:?}");
    assert_eq!(flow[0]["shipment"], first.id);
    assert_eq!(flow[0]["order"], "PO-4711");
    assert_eq!(flow[0]["ssccs"], serde_json::json!([packed.pallet]));
    let fields: Vec<(String, String, bool)> = flow[0]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| {
            (
                f["key"].as_str().expect("key").to_owned(),
                f["value"].as_str().expect("value").to_owned(),
                f["public"].as_bool().expect("public"),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("flow.sale_time".into(), "2026-12-06T00:00:00Z".into(), true),
            ("flow.buyer_name".into(), BUYER.into(), false),
            ("flow.buyer_address".into(), ADDRESS.into(), false),
            ("flow.buyer_contact".into(), CONTACT.into(), false),
            ("flow.quantity".into(), "6".into(), true),
        ]
    );

    // The loose carton ships after the close: the batch's documents do not change.
    let second = store
        .ship(&shipment(&[&packed.loose], "PO-4712"))
        .await
        .expect("ship the carton");
    for (format, before) in [
        (ExportFormat::EpcisJson, &json),
        (ExportFormat::EpcisXml, &xml),
        (ExportFormat::Platform, &platform),
    ] {
        assert!(
            export(&store, packed.batch, format).await == *before,
            "{format:?} changed after a shipment after the close"
        );
    }
    // It travels in its own documents, one delivery per target each.
    let own: Value = serde_json::from_slice(
        &shipment_document(&store, second.id, ExportFormat::EpcisJson).await,
    )
    .expect("JSON");
    assert_schema_valid(&own);
    let events = shipping_events(&own);
    assert_eq!(events.len(), 1);
    assert_shipping_event(&events[0], &[&packed.loose], "PO-4712");
    assert_xsd_valid(&shipment_document(&store, second.id, ExportFormat::EpcisXml).await);
    let flow_document: Value =
        serde_json::from_slice(&shipment_document(&store, second.id, ExportFormat::Platform).await)
            .expect("JSON");
    assert_eq!(flow_document["format"], "tracemark.platform.flow.v1");
    assert_eq!(flow_document["flow"][0]["shipment"], second.id);
    assert_eq!(flow_document["flow"][0]["fields"][4]["value"], "3");
    // The first shipment's own event is the one in the batch's document (same eventID).
    let first_own: Value =
        serde_json::from_slice(&shipment_document(&store, first.id, ExportFormat::EpcisJson).await)
            .expect("JSON");
    assert_eq!(
        shipping_events(&first_own)[0]["eventID"],
        shipping_events(&document)[0]["eventID"]
    );
    let deliveries = store.deliveries().await.expect("deliveries");
    let mut subjects: Vec<(i64, Option<i64>)> = deliveries
        .iter()
        .map(|d| (d.batch_id, d.shipment_id))
        .collect();
    subjects.sort();
    assert_eq!(
        subjects,
        [
            (packed.batch, None),
            (packed.batch, Some(first.id)),
            (packed.batch, Some(second.id)),
        ]
    );

    // The public lookup's flow: only the public fields, nothing private in the bytes.
    let flow = shipping::public_flow(&store, &packed.units[0])
        .await
        .expect("public flow")
        .expect("shipped and public");
    assert_eq!(
        flow,
        PublicFlow {
            sale_time: Some("2026-12-06T00:00:00Z".into()),
            quantity: Some(6),
            ..PublicFlow::default()
        }
    );
    let bytes = serde_json::to_string(&flow).expect("JSON");
    for private in [BUYER, ADDRESS, CONTACT, "PO-4711"] {
        assert!(!bytes.contains(private), "{bytes}");
    }
    assert_eq!(
        shipping::public_flow(&store, &packed.units[8])
            .await
            .expect("public flow")
            .and_then(|f| f.quantity),
        Some(3)
    );
    store.set_flow_disclosure("p", &[]).await.expect("none");
    assert_eq!(
        shipping::public_flow(&store, &packed.units[0])
            .await
            .expect("public flow"),
        None
    );
    assert!(
        shipping::public_flow(&store, "(01)09506000134352(21)000000000000")
            .await
            .is_err()
    );

    let report = store.verify_audit().await.expect("verify");
    assert_eq!(report.first_bad, None, "{report:?}");
}
both!(shipments_in_documents);

/// A unit not yet shipped has no flow; nothing public by default.
async fn no_flow_before_shipping(store: Store) {
    let packed = packed(&store).await;
    assert_eq!(
        shipping::public_flow(&store, &packed.units[0])
            .await
            .expect("public flow"),
        None
    );
    store
        .ship(&shipment(&[&packed.pallet], "PO-1"))
        .await
        .expect("ship");
    // Shipped, but the producer made nothing public.
    assert_eq!(
        shipping::public_flow(&store, &packed.units[0])
            .await
            .expect("public flow"),
        None
    );
}
both!(no_flow_before_shipping);

/// The public lookup of a shipped unit shows the flow fields the producer made public (SPEC
/// §9) and no byte of the page or of the JSON answer holds the others; a unit not shipped has
/// no flow section.
async fn the_lookup_shows_only_the_public_flow(store: Store) {
    let packed = packed(&store).await;
    shipping::set_flow_public(
        &store,
        &actor(),
        "p",
        &[FlowField::SaleTime, FlowField::Quantity],
    )
    .await
    .expect("publish the sale time and quantity");
    store
        .ship(&shipment(&[&packed.pallet], "PO-7731"))
        .await
        .expect("ship the pallet");
    let server = HttpServer::start_live(
        store.clone(),
        ServeOptions {
            addr: "127.0.0.1:0".parse().expect("an address"),
            tls: None,
        },
        LiveOptions {
            lookup: LookupSettings {
                rate_per_second: 0,
                ..LookupSettings::default()
            },
            ..LiveOptions::default()
        },
    )
    .await
    .expect("serve");
    let client = reqwest::Client::new();
    let url = |code: &str| {
        let serial = code.split("(21)").nth(1).expect("a serial");
        format!("{}/01/{GTIN}/21/{serial}", server.url())
    };
    let shipped = url(&packed.units[0]);
    let page = client
        .get(&shipped)
        .send()
        .await
        .expect("the page")
        .text()
        .await
        .expect("a body");
    let answer: Value = client
        .get(&shipped)
        .header("accept", "application/json")
        .send()
        .await
        .expect("the answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(answer["flow"]["quantity"], 6, "{answer}");
    assert!(answer["flow"]["sale_time"].is_string(), "{answer}");
    assert!(page.contains("data-field=\"flow.quantity\""), "{page}");
    let json = answer.to_string();
    for private in [BUYER, ADDRESS, CONTACT, "PO-7731"] {
        assert!(!page.contains(private), "{private} on the page");
        assert!(!json.contains(private), "{private} in {json}");
    }

    // The loose carton was not shipped: no flow.
    let loose_unit = &packed.units[6];
    let answer: Value = client
        .get(url(loose_unit))
        .header("accept", "application/json")
        .send()
        .await
        .expect("the answer")
        .json()
        .await
        .expect("JSON");
    assert!(answer.get("flow").is_none(), "{answer}");
}
both!(the_lookup_shows_only_the_public_flow);

/// The command line: a refusal exits 2 naming every SSCC and changes nothing; a shipment
/// prints its summary; the disclosure command.
async fn ship_on_the_command_line(store: Store, url: String) {
    let packed = packed(&store).await;
    let head = store.audit_head().await.expect("head");
    let out = tracemark(
        &url,
        &[
            "ship",
            "--sscc",
            &packed.loose,
            "095060000099999997",
            "--buyer-name",
            BUYER,
            "--buyer-address",
            ADDRESS,
            "--buyer-contact",
            CONTACT,
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("sscc: 095060000099999997: unknown SSCC"),
        "{}",
        stderr(&out)
    );
    assert_eq!(store.audit_head().await.expect("head"), head);
    let out = tracemark(
        &url,
        &[
            "ship",
            "--sscc",
            &packed.loose,
            "--buyer-name",
            BUYER,
            "--buyer-address",
            ADDRESS,
            "--buyer-contact",
            CONTACT,
            "--at",
            "2026-12-06T08:00:00+08:00",
            "--order",
            "PO-9",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("shipment 1: 1 package(s)"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("3 units to 某某五金店"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        store.code(&packed.units[6]).await.expect("a code").state,
        CodeState::Shipped
    );
    let out = tracemark(
        &url,
        &[
            "product",
            "flow-public",
            "p",
            "--fields",
            "quantity,buyer_name",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        "product p: public flow fields: flow.buyer_name, flow.quantity"
    );
    let out = tracemark(&url, &["product", "flow-public", "p", "--fields", "price"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("fields: "), "{}", stderr(&out));
}

mod command_line {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let dir = tempdir();
        let url = sqlite_url(dir.path());
        let store = open(&url).await;
        ship_on_the_command_line(store, url).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let Some(base) = pg_base_url() else { return };
        let (url, schema) = pg_schema_url(&base).await;
        let store = open(&url).await;
        ship_on_the_command_line(store.clone(), url).await;
        store.close().await;
        drop_pg_schema(&base, &schema).await;
    }
}

/// The API: the operator ships (201), QA may not (403, nothing changes); everyone lists.
async fn shipping_over_the_api(store: Store) {
    let packed = packed(&store).await;
    let mut tokens = Vec::new();
    for role in [Role::Operator, Role::Qa] {
        let name = format!("{}-user", role.as_str());
        users::add_user(&store, &actor(), &name, role, "correct horse battery")
            .await
            .expect("a user");
        tokens.push(
            users::create_token(&store, &actor(), &name, Some(1))
                .await
                .expect("a token")
                .token,
        );
    }
    let server = HttpServer::start(
        store.clone(),
        ServeOptions {
            addr: "127.0.0.1:0".parse().expect("an address"),
            tls: None,
        },
    )
    .await
    .expect("serve");
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/shipments", server.url());
    let body = serde_json::json!({
        "ssccs": [packed.pallet], "buyer_name": BUYER, "buyer_address": ADDRESS,
        "buyer_contact": CONTACT, "order_ref": "PO-1",
    });
    let head = store.audit_head().await.expect("head");
    let refused = client
        .post(&url)
        .bearer_auth(&tokens[1])
        .json(&body)
        .send()
        .await
        .expect("an answer");
    assert_eq!(refused.status().as_u16(), 403);
    assert_eq!(store.audit_head().await.expect("head"), head);
    let shipped = client
        .post(&url)
        .bearer_auth(&tokens[0])
        .json(&body)
        .send()
        .await
        .expect("an answer");
    assert_eq!(shipped.status().as_u16(), 201);
    let shipped: Value = shipped.json().await.expect("JSON");
    assert_eq!(shipped["quantity"], 6);
    let again = client
        .post(&url)
        .bearer_auth(&tokens[0])
        .json(&body)
        .send()
        .await
        .expect("an answer");
    assert_eq!(again.status().as_u16(), 409);
    let problem: Value = again.json().await.expect("JSON");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("already shipped")),
        "{problem}"
    );
    let list: Value = client
        .get(format!("{url}?per_page=10"))
        .bearer_auth(&tokens[1])
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(list["total"], 1);
    assert_eq!(
        list["items"][0]["ssccs"],
        serde_json::json!([packed.pallet])
    );
}
both!(shipping_over_the_api);

/// Each shipment reaches every upload target once, as its own signed document (EPCIS for one
/// target, the flow document for another), next to the batch's; a second run sends nothing.
async fn shipments_are_delivered_once(store: Store) {
    use tracemark::app::uploads;
    use tracemark::upload::deliver::SenderConfig;
    use tracemark_sim::erp::signature::SigningSecret;
    use tracemark_sim::erp::{ErpConfig, ErpSim};
    use tracemark_store::upload::DeliveryState;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let dir = tempdir();
    let secret = dir.path().join("erp.secret");
    std::fs::write(&secret, SECRET).expect("write the secret");
    let (addr, erp) = ErpSim::start(ErpConfig::new(
        SigningSecret::parse(SECRET).expect("secret"),
    ))
    .await
    .expect("start the receiver");
    for (name, format) in [
        ("erp", UploadFormat::EpcisJson),
        ("platform", UploadFormat::Platform),
    ] {
        uploads::add_target(
            &store,
            &actor(),
            uploads::NewTarget {
                name: name.into(),
                url: format!("http://{addr}/{name}"),
                format,
                secret_file: Some(secret.clone()),
                ed25519_key_file: None,
                ca_file: None,
                gzip: false,
            },
        )
        .await
        .expect("a target");
    }
    let packed = packed(&store).await;
    store
        .set_batch_state(packed.batch, BatchState::Closed)
        .await
        .expect("close");
    let shipped = store
        .ship(&shipment(&[&packed.pallet, &packed.loose], "PO-7"))
        .await
        .expect("ship");
    let mut config = SenderConfig::new(dir.path().join("spool"));
    config.backoff.base = std::time::Duration::from_millis(5);
    config.backoff.cap = std::time::Duration::from_millis(40);
    let me = actor();
    let run = uploads::run(&store, &me, &config, true, std::future::pending());
    let report = tokio::time::timeout(std::time::Duration::from_secs(60), run)
        .await
        .expect("the run ends")
        .expect("the run succeeds");
    assert_eq!(report.delivered.len(), 4, "{report:?}");
    assert!(report.failed.is_empty(), "{report:?}");
    let deliveries = store.deliveries().await.expect("deliveries");
    assert!(
        deliveries
            .iter()
            .all(|d| d.state == DeliveryState::Delivered),
        "{deliveries:?}"
    );
    for delivery in deliveries
        .iter()
        .filter(|d| d.shipment_id == Some(shipped.id))
    {
        let document: Value =
            serde_json::from_slice(&erp.document(&delivery.uuid).expect("the receiver has it"))
                .expect("JSON");
        if delivery.target == "erp" {
            assert_shipping_event(
                &shipping_events(&document)[0],
                &shipped.ssccs.iter().map(String::as_str).collect::<Vec<_>>(),
                "PO-7",
            );
        } else {
            assert_eq!(document["flow"][0]["shipment"], shipped.id);
        }
    }
    assert_eq!(erp.accepted().len(), 4);
    let again = uploads::run(&store, &actor(), &config, true, std::future::pending())
        .await
        .expect("a second run");
    assert_eq!(again.attempts, 0);
    erp.shutdown().await;
}
both!(shipments_are_delivered_once);
