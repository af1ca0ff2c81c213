//! Reject images (SPEC §1 8.2; docs/verification.md "Reject images") through a real broker and
//! both stores: the image task refuses hostile payloads (not PNG, unknown reader, bad topic),
//! counting each, stores the image of a recorded reject as a file with its row, and the API
//! serves it as `image/png` to every role — a 404 problem for a code without one, and never a
//! file changed since it was stored.

#[macro_use]
mod common;

use std::time::Duration;

use common::*;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tracemark::app::reject_images;
use tracemark::app::users::{self, Role};
use tracemark::broker::EmbeddedBroker;
use tracemark::http::server::{HttpServer, ServeOptions};
use tracemark::mqtt_endpoint::BrokerEndpoint;
use tracemark::verify::images::{
    Bounds, ImageSettings, Note, PNG_SIGNATURE, image_key, spawn_images,
};
use tracemark_store::Store;

const CODE: &str = "(01)09506000134352(21)000123456789";

/// A real PNG: the symbol of `CODE`, as the camera simulator renders it.
fn png() -> Vec<u8> {
    use tracemark_codes::symbol::{RenderOptions, Symbology, encode};
    let parsed = tracemark_codes::gs1::parse(CODE).expect("a GS1 code");
    let element = parsed.code.to_element_string();
    encode(Symbology::Gs1DataMatrix, element.as_bytes())
        .expect("a symbol")
        .to_png(&RenderOptions::for_symbology(Symbology::Gs1DataMatrix))
        .expect("a PNG")
}

/// Publishes `messages` with QoS 1, in order, and returns once the broker acknowledged each.
async fn publish_all(port: u16, messages: Vec<(String, Vec<u8>)>) {
    let mut options = MqttOptions::new(format!("pub-{}", std::process::id()), "127.0.0.1", port);
    options.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut events) = AsyncClient::new(options, messages.len() + 8);
    let expected = messages.len();
    for (topic, payload) in messages {
        client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
            .expect("queue a publish");
    }
    let mut acked = 0;
    while acked < expected {
        if let Event::Incoming(Packet::PubAck(_)) = events.poll().await.expect("publisher") {
            acked += 1;
        }
    }
    let _ = client.disconnect().await;
}

/// Hostile payloads: empty, text, a PNG signature one byte short or with one byte changed,
/// pseudo-random bytes, JSON — each on the image topic of a configured reader.
fn hostile(line: &str) -> Vec<(String, Vec<u8>)> {
    let topic = |seq: u64| format!("tracemark/{line}/vision/cam1/image/{seq}");
    let mut bad = vec![
        (topic(100), Vec::new()),
        (topic(101), b"not an image".to_vec()),
        (topic(102), PNG_SIGNATURE[..7].to_vec()),
        (topic(103), br#"{"reader":"cam1","seq":103}"#.to_vec()),
    ];
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for seq in 0..20u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut bytes: Vec<u8> = (0..(x % 300)).map(|i| (x >> (i % 8 * 8)) as u8).collect();
        if seq % 2 == 0 {
            // A PNG signature with one byte changed, then garbage.
            let mut signature = PNG_SIGNATURE.to_vec();
            signature[(seq as usize / 2) % 8] ^= 0x01;
            signature.append(&mut bytes);
            bytes = signature;
        }
        bad.push((topic(200 + seq), bytes));
    }
    // A good PNG on topics that are not a configured reader's image topic.
    bad.push((format!("tracemark/{line}/vision/stranger/image/1"), png()));
    bad.push((
        format!("tracemark/{line}/vision/cam1/image/notanumber"),
        png(),
    ));
    bad
}

async fn hostile_payloads_are_refused_and_a_reject_image_is_stored(store: Store) {
    let broker = EmbeddedBroker::start().expect("broker");
    let dir = tempdir();
    let line = format!("images{}", std::process::id());
    let settings = ImageSettings {
        endpoint: BrokerEndpoint::plain("127.0.0.1", broker.addr().port()),
        line: line.clone(),
        readers: vec!["cam1".to_owned()],
        dir: dir.path().join("reject_images"),
        bounds: Bounds::default(),
    };
    let (notes_tx, notes) = tokio::sync::mpsc::channel(16);
    let (task, mut ready) = spawn_images(settings, store.clone(), notes).expect("spawn");
    tokio::time::timeout(Duration::from_secs(10), ready.wait_for(|r| *r))
        .await
        .expect("subscribed in time")
        .expect("the task runs");

    // Unit 1 rejected on cam1's read 5, recorded for CODE.
    notes_tx
        .send(Note::Decided {
            unit: 1,
            reader: "cam1".into(),
            seq: 5,
        })
        .await
        .expect("note");
    notes_tx
        .send(Note::Settled {
            unit: 1,
            code: CODE.into(),
        })
        .await
        .expect("note");
    let bad = hostile(&line);
    let refused = bad.len() as u64;
    let good = png();
    let mut messages = bad;
    // An image of a read that rejected nothing, then the reject's image, last: the task has
    // taken everything before it when it stores it.
    messages.push((
        format!("tracemark/{line}/vision/cam1/image/6"),
        good.clone(),
    ));
    messages.push((
        format!("tracemark/{line}/vision/cam1/image/5"),
        good.clone(),
    ));
    publish_all(broker.addr().port(), messages).await;
    drop(notes_tx);
    let stats = tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("the task ends after the core")
        .expect("the task did not panic");
    assert_eq!(stats.refused, refused, "{stats:?}");
    assert_eq!(
        (stats.received, stats.stored, stats.failed),
        (2, 1, 0),
        "{stats:?}"
    );

    // The row and the file agree.
    let row = store
        .reject_image(CODE)
        .await
        .expect("read")
        .expect("a row");
    assert_eq!((row.reader.as_str(), row.seq), ("cam1", 5));
    assert_eq!(row.size, good.len() as i64);
    assert!(
        row.path.starts_with(dir.path().to_str().expect("utf-8")),
        "{row:?}"
    );
    assert_eq!(std::fs::read(&row.path).expect("the file"), good);
    let decoded = tracemark_codes::symbol::decode_png(&good).expect("the PNG decodes");
    assert!(
        String::from_utf8_lossy(&decoded.scanner_message()).contains("000123456789"),
        "{decoded:?}"
    );
    // Nothing but the one file was written (refused payloads never reach the disk).
    let files: Vec<_> = std::fs::read_dir(dir.path().join("reject_images").join(&line))
        .expect("the line's directory")
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");

    // The API serves it to every role (READ), `image/png`, byte for byte.
    users::add_user(
        &store,
        &actor(),
        "li.wei",
        Role::Operator,
        "correct horse battery staple",
    )
    .await
    .expect("a user");
    let token = users::create_token(&store, &actor(), "li.wei", None)
        .await
        .expect("a token")
        .token;
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
    let get = |code: &str| {
        client
            .get(format!(
                "{}{}",
                server.url(),
                tracemark::http::api::reject_images::image_url(code)
            ))
            .bearer_auth(&token)
            .send()
    };
    let response = get(CODE).await.expect("a response");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().ok(),
        Some("image/png")
    );
    assert_eq!(response.bytes().await.expect("the body").to_vec(), good);
    // No login, no image.
    let anonymous = client
        .get(format!(
            "{}{}",
            server.url(),
            tracemark::http::api::reject_images::image_url(CODE)
        ))
        .send()
        .await
        .expect("a response");
    assert_eq!(anonymous.status().as_u16(), 401);
    // A code without an image: a 404 problem.
    let response = get("(01)09506000134352(21)NOPE").await.expect("a response");
    assert_eq!(response.status().as_u16(), 404);
    let problem: serde_json::Value = response.json().await.expect("a problem");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("reject image")
            || problem.to_string().contains("reject image"),
        "{problem}"
    );
    // A file changed since it was stored is never served as the evidence.
    std::fs::write(&row.path, b"\x89PNG\r\n\x1a\nchanged").expect("tamper");
    let response = get(CODE).await.expect("a response");
    assert_eq!(response.status().as_u16(), 500);
    assert!(matches!(
        reject_images::image(&store, CODE).await,
        Err(tracemark::app::AppError::Internal { .. })
    ));
}

both!(hostile_payloads_are_refused_and_a_reject_image_is_stored);

#[test]
fn the_topic_names_reader_and_seq() {
    assert_eq!(
        image_key("tracemark/l/vision/cam1/image/7", "l"),
        Some(("cam1".to_owned(), 7))
    );
}
