//! Reader results through a real broker (Mosquitto, `TRACEMARK_TEST_MQTT`) into the tracker:
//! every reject reason decided, malformed and hostile payloads counted and ignored, a duplicated
//! delivery not counted twice.

use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tracemark::verify::mqtt::{Link, Received, Subscription, spawn_subscription};
use tracemark::verify::{
    FieldMap, Grade, Outcome, PayloadError, RejectReason, TrackedReader, Tracker, TrackerConfig,
    Verdict, gs1_code_of,
};

/// `(host, port)` of the test broker, or `None` (after printing why); with `CI` set, a missing
/// broker fails the test instead.
fn broker() -> Option<(String, u16)> {
    let url = match std::env::var("TRACEMARK_TEST_MQTT") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            if std::env::var_os("CI").is_some() {
                panic!("TRACEMARK_TEST_MQTT not set, and CI is set: MQTT tests must run");
            }
            println!("skipped: TRACEMARK_TEST_MQTT not set");
            return None;
        }
    };
    let rest = url.strip_prefix("mqtt://").expect("mqtt://host:port");
    let (host, port) = rest.rsplit_once(':').expect("host:port");
    Some((host.to_owned(), port.parse().expect("a port")))
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}{}x{nanos}", std::process::id())
}

/// Publishes `messages` with QoS 1 and returns once the broker acknowledged every one.
async fn publish_all(host: &str, port: u16, messages: Vec<(String, Vec<u8>)>) {
    let mut options = MqttOptions::new(unique("pub"), host, port);
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
        match events.poll().await.expect("publisher connection") {
            Event::Incoming(Packet::PubAck(_)) => acked += 1,
            _ => continue,
        }
    }
    let _ = client.disconnect().await;
}

fn result_json(seq: u64, data: Option<&str>, grade: Option<&str>, encoder: u64) -> Vec<u8> {
    serde_json::json!({
        "reader": "cam1", "seq": seq, "ts": "2026-11-22T08:00:00.123Z",
        "symbology": "datamatrix", "data": data, "grade": grade, "encoder": encoder,
    })
    .to_string()
    .into_bytes()
}

const READER_AT: u64 = 300;
const PITCH: u64 = 50;

/// Starts the subscription and returns its results once the broker acknowledged it (the
/// readiness signal).
async fn subscribed(subscription: Subscription) -> tokio::sync::mpsc::Receiver<Received> {
    let (results, mut link) = spawn_subscription(subscription).expect("subscription options");
    tokio::time::timeout(Duration::from_secs(10), async {
        while *link.borrow_and_update() != Link::Subscribed {
            link.changed().await.expect("subscription task alive");
        }
    })
    .await
    .expect("subscribed within 10 s");
    results
}

/// Receives `total` messages and hands each result to `tracker`: the verdicts it made, and the
/// refusals of the malformed messages.
async fn decide_all(
    results: &mut tokio::sync::mpsc::Receiver<Received>,
    tracker: &mut Tracker,
    total: usize,
) -> (Vec<Verdict>, Vec<PayloadError>) {
    let mut verdicts = Vec::new();
    let mut malformed = Vec::new();
    for _ in 0..total {
        let received = tokio::time::timeout(Duration::from_secs(10), results.recv())
            .await
            .expect("every message arrives within 10 s")
            .expect("subscription alive");
        match received {
            Received::Result(result) => verdicts.extend(tracker.result(&result, gs1_code_of)),
            Received::Malformed { error, .. } => malformed.push(error),
        }
    }
    (verdicts, malformed)
}

/// A tracker with `units` units one pitch apart, unit `i` printed with `code(i)`.
fn line_of_units(units: u32, code: impl Fn(u32) -> String) -> Tracker {
    let mut tracker = Tracker::new(TrackerConfig {
        marker_counts: 100,
        readers: vec![TrackedReader::new("cam1", READER_AT, Grade::C)],
        gate_counts: 500,
        window_counts: PITCH / 2,
        max_consecutive_rejects: 10,
    });
    for i in 0..units {
        tracker.unit_detected(u64::from(i) * PITCH);
        tracker.printed(&code(i)).expect("print");
    }
    tracker
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_over_mosquitto_decide_every_reason_and_survive_hostile_payloads() {
    let Some((host, port)) = broker() else { return };
    let line = unique("t");
    let mut subscription = Subscription::new(&host, port, &line);
    subscription.client_id = unique("sub");
    let subscription = subscription.with_reader("cam1", FieldMap::default());
    let mut results = subscribed(subscription).await;

    let code = |n: u32| format!("(01)09506000134352(21){n:06}");
    let scan = |n: u32| format!("]d2010950600013435221{n:06}");
    let at = |i: u64| i * PITCH + READER_AT;
    let topic = format!("tracemark/{line}/vision/cam1/result");
    let mut messages = vec![
        (
            topic.clone(),
            result_json(1, Some(&scan(0)), Some("A"), at(0)),
        ),
        (topic.clone(), result_json(2, None, None, at(1))),
        (
            topic.clone(),
            result_json(3, Some(&scan(2)), Some("F"), at(2)),
        ),
        (
            topic.clone(),
            result_json(4, Some(&scan(99)), Some("A"), at(3)),
        ),
        (
            topic.clone(),
            result_json(5, Some(&scan(777)), Some("B"), at(4)),
        ),
        (
            topic.clone(),
            result_json(6, Some(&scan(5)), Some("B"), at(5)),
        ),
        // The same delivery again (a QoS 1 redelivery): not counted twice.
        (
            topic.clone(),
            result_json(6, Some(&scan(5)), Some("B"), at(5)),
        ),
        // Unit 6 carries a copy of unit 5's code.
        (
            topic.clone(),
            result_json(7, Some(&scan(5)), Some("A"), at(6)),
        ),
    ];
    let hostile: Vec<(String, Vec<u8>)> = vec![
        (topic.clone(), b"{not json".to_vec()),
        (topic.clone(), br#"{"seq":"eight","data":null}"#.to_vec()),
        (topic.clone(), vec![b'7'; 200_000]),
        (
            format!("tracemark/{line}/vision/intruder/result"),
            result_json(9, Some(&scan(7)), Some("A"), at(7)),
        ),
    ];
    let hostile_count = hostile.len();
    messages.splice(3..3, hostile);
    let total = messages.len();
    publish_all(&host, port, messages).await;

    let mut tracker = line_of_units(8, code);
    tracker.code_issued(&code(99));
    let (verdicts, malformed) = decide_all(&mut results, &mut tracker, total).await;
    assert_eq!(malformed.len(), hostile_count, "{malformed:?}");
    assert!(matches!(malformed[0], PayloadError::NotJson(_)));
    assert!(matches!(
        malformed[1],
        PayloadError::Invalid { field: "seq", .. }
    ));
    assert!(matches!(malformed[2], PayloadError::TooLarge(200_000)));
    assert!(matches!(&malformed[3], PayloadError::UnknownReader(r) if r == "intruder"));

    let outcomes: Vec<(u64, Outcome)> = verdicts.iter().map(|v| (v.unit, v.outcome)).collect();
    assert_eq!(
        outcomes,
        [
            (1, Outcome::Verified),
            (2, Outcome::Rejected(RejectReason::NoRead)),
            (3, Outcome::Rejected(RejectReason::LowGrade)),
            (4, Outcome::Rejected(RejectReason::Mismatch)),
            (5, Outcome::Rejected(RejectReason::Unknown)),
            (6, Outcome::Verified),
            (7, Outcome::Rejected(RejectReason::Duplicate)),
        ]
    );
    assert_eq!(tracker.stats().redelivered, 1);
    // Unit 8 never got a result: late at the gate.
    let late = tracker.advance(7 * PITCH + 500);
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].outcome, Outcome::Rejected(RejectReason::Late));
}

/// The vision simulator renders, damages and decodes real symbols; its results go through
/// Mosquitto into the tracker, and every reason a camera can cause is decided from them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vision_simulator_results_produce_every_camera_reason() {
    use tracemark_sim::vision::{Damage, DamageRates, VisionSim};
    let Some((host, port)) = broker() else { return };
    let line = unique("v");
    let mut subscription = Subscription::new(&host, port, &line);
    subscription.client_id = unique("sub");
    let mut results = subscribed(subscription).await;

    let code = |n: u32| format!("(01)09506000134352(21){n:012}");
    let mut camera = VisionSim::new("cam1", DamageRates::NONE, 1);
    // Unit i carries code i, except unit 5, which carries a copy of unit 0's code.
    let script = [
        (code(0), Damage::None),
        (code(1), Damage::Blank),
        (code(2), Damage::MissingModules),
        (code(3), Damage::WrongCode),
        (code(4), Damage::None),
        (code(0), Damage::None),
    ];
    let topic = format!("tracemark/{line}/vision/cam1/result");
    let mut messages = Vec::new();
    let mut truth = Vec::new();
    for (i, (printed, damage)) in script.iter().enumerate() {
        let result = camera.inspect_with(printed, *damage).expect("inspect");
        messages.push((
            topic.clone(),
            camera.payload(&result, i as u64 * PITCH + READER_AT),
        ));
        truth.push(result);
    }
    publish_all(&host, port, messages).await;

    let mut tracker = line_of_units(7, code);
    // The wrong code unit 3 shows is a code of this batch (issued, not yet printed).
    let wrong = truth[3]
        .data
        .as_deref()
        .and_then(gs1_code_of)
        .expect("the wrong code reads");
    tracker.code_issued(&wrong);
    let mut outcomes = Vec::new();
    for _ in 0..script.len() {
        let received = tokio::time::timeout(Duration::from_secs(10), results.recv())
            .await
            .expect("every result arrives within 10 s")
            .expect("subscription alive");
        let Received::Result(result) = received else {
            panic!("the simulator's payload is well-formed: {received:?}");
        };
        if let Some(verdict) = tracker.result(&result, gs1_code_of) {
            outcomes.push((verdict.unit, verdict.outcome));
        }
    }
    let missing = match truth[2].data {
        // A large hole either defeats the decoder or reads at grade D.
        None => RejectReason::NoRead,
        Some(_) => RejectReason::LowGrade,
    };
    assert_eq!(
        outcomes,
        [
            (1, Outcome::Verified),
            (2, Outcome::Rejected(RejectReason::NoRead)),
            (3, Outcome::Rejected(missing)),
            (4, Outcome::Rejected(RejectReason::Mismatch)),
            (5, Outcome::Verified),
            (6, Outcome::Rejected(RejectReason::Duplicate)),
        ]
    );
    // Unit 7 was never read: late at the gate.
    let late = tracker.advance(6 * PITCH + 500);
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].outcome, Outcome::Rejected(RejectReason::Late));
}

/// Two readers on one line, each publishing its own payload shape: tracemark's JSON from the
/// reading camera, a DataMan-style result from the grading one. Through Mosquitto, each is read
/// with its own field map, and a unit is verified only once both passed it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_readers_with_their_own_payloads_decide_together() {
    let Some((host, port)) = broker() else { return };
    let line = unique("r");
    const GRADER_AT: u64 = READER_AT + 2 * PITCH;
    let dataman_map = FieldMap::new(std::collections::BTreeMap::from([
        ("seq".to_owned(), "id".to_owned()),
        ("data".to_owned(), "results.0.string".to_owned()),
        ("grade".to_owned(), "results.0.quality.overall".to_owned()),
        ("encoder".to_owned(), "encoder.count".to_owned()),
    ]));
    let mut subscription = Subscription::new(&host, port, &line)
        .with_reader("cam1", FieldMap::default())
        .with_reader("grader", dataman_map);
    subscription.client_id = unique("sub");
    let mut results = subscribed(subscription).await;

    let scan = |n: u32| format!("]d2010950600013435221{n:06}");
    let dataman = |id: u64, data: &str, overall: f64, count: u64| {
        serde_json::json!({
            "id": id,
            "results": [{"string": data, "quality": {"overall": overall}}],
            "encoder": {"count": count},
        })
        .to_string()
        .into_bytes()
    };
    let cam1 = format!("tracemark/{line}/vision/cam1/result");
    let grader = format!("tracemark/{line}/vision/grader/result");
    let messages = vec![
        // Unit 1: both pass (grades A and 3.2 = B).
        (
            cam1.clone(),
            result_json(1, Some(&scan(0)), Some("A"), READER_AT),
        ),
        (grader.clone(), dataman(1, &scan(0), 3.2, GRADER_AT)),
        // Unit 2: the reading camera passes it at C, the grader fails it at 2.0 = C < B.
        (
            cam1.clone(),
            result_json(2, Some(&scan(1)), Some("C"), PITCH + READER_AT),
        ),
        (grader.clone(), dataman(2, &scan(1), 2.0, PITCH + GRADER_AT)),
        // The grader's shape on the reading camera's topic is malformed there.
        (
            cam1.clone(),
            dataman(3, &scan(2), 4.0, 2 * PITCH + READER_AT),
        ),
    ];
    let total = messages.len();
    publish_all(&host, port, messages).await;

    let code = |n: u32| format!("(01)09506000134352(21){n:06}");
    let mut tracker = Tracker::new(TrackerConfig {
        marker_counts: 100,
        readers: vec![
            TrackedReader::new("cam1", READER_AT, Grade::C),
            TrackedReader::new("grader", GRADER_AT, Grade::B),
        ],
        gate_counts: 800,
        window_counts: PITCH / 2,
        max_consecutive_rejects: 10,
    });
    for i in 0..3 {
        tracker.unit_detected(u64::from(i) * PITCH);
        tracker.printed(&code(i)).expect("print");
    }
    let (verdicts, malformed) = decide_all(&mut results, &mut tracker, total).await;
    let outcomes: Vec<(u64, Outcome, Option<Grade>)> = verdicts
        .iter()
        .map(|v| (v.unit, v.outcome, v.grade))
        .collect();
    assert_eq!(
        outcomes,
        [
            (1, Outcome::Verified, Some(Grade::B)),
            (2, Outcome::Rejected(RejectReason::LowGrade), Some(Grade::C)),
        ]
    );
    assert_eq!(malformed.len(), 1, "the DataMan payload on cam1's topic");
    assert_eq!(tracker.stats().partial_passes, 2);
}
