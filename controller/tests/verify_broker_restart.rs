//! A broker restart in the middle of a batch loses no result: results published while tracemark
//! is away wait in its persistent session, survive two restarts of the broker (Mosquitto with
//! persistence, a private instance on a free port), and each is counted once.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::mosquitto::{Broker, mosquitto};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tracemark::verify::mqtt::{Link, Received, Subscription, spawn_subscription};

async fn publish(port: u16, topic: &str, seqs: std::ops::Range<u64>) {
    let mut options = MqttOptions::new(format!("pub-{}", seqs.start), "127.0.0.1", port);
    options.set_clean_session(true);
    let (client, mut events) = AsyncClient::new(options, 256);
    let expected = seqs.end - seqs.start;
    for seq in seqs {
        let payload = format!(r#"{{"reader":"cam1","seq":{seq},"data":null}}"#);
        client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
            .expect("queue");
    }
    let mut acked = 0;
    while acked < expected {
        if let Event::Incoming(Packet::PubAck(_)) = events.poll().await.expect("publisher link") {
            acked += 1;
        }
    }
    let _ = client.disconnect().await;
    // Drive the disconnect out.
    let _ = tokio::time::timeout(Duration::from_secs(1), events.poll()).await;
}

async fn wait_subscribed(link: &mut tokio::sync::watch::Receiver<Link>) {
    tokio::time::timeout(Duration::from_secs(20), async {
        while *link.borrow_and_update() != Link::Subscribed {
            link.changed().await.expect("subscription task alive");
        }
    })
    .await
    .expect("subscribed within 20 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_survive_broker_restarts_and_count_once() {
    let Some(binary) = mosquitto() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut broker = Broker::new(binary, dir.path());
    broker.start();
    let topic = "tracemark/restart/vision/cam1/result";
    let mut subscription = Subscription::new("127.0.0.1", broker.port, "restart");
    subscription.client_id = format!("tracemark-restart-{}", std::process::id());

    // tracemark subscribes, receives the first results, then goes away.
    let (mut results, mut link) =
        spawn_subscription(subscription.clone()).expect("subscription options");
    wait_subscribed(&mut link).await;
    publish(broker.port, topic, 1..21).await;
    let mut seen = BTreeSet::new();
    let mut deliveries = 0;
    while seen.len() < 20 {
        match tokio::time::timeout(Duration::from_secs(10), results.recv()).await {
            Ok(Some(Received::Result(r))) => {
                deliveries += 1;
                seen.insert(r.seq);
            }
            other => panic!("expected a result, got {other:?}"),
        }
    }
    drop(results);

    // The broker restarts while results keep coming for the absent tracemark …
    broker.stop();
    broker.start();
    publish(broker.port, topic, 21..61).await;
    // … and restarts again before tracemark is back.
    broker.stop();
    broker.start();

    let (mut results, mut link) = spawn_subscription(subscription).expect("subscription options");
    wait_subscribed(&mut link).await;
    while seen.len() < 60 {
        match tokio::time::timeout(Duration::from_secs(10), results.recv()).await {
            Ok(Some(Received::Result(r))) => {
                deliveries += 1;
                seen.insert(r.seq);
            }
            other => panic!(
                "results lost across the restarts: have {} of 60 ({other:?})",
                seen.len()
            ),
        }
    }
    assert_eq!(seen, (1..61).collect::<BTreeSet<u64>>());
    // Redeliveries are possible (QoS 1); each result is still one seq, counted once.
    assert!(deliveries >= 60);
}
