//! Reject images end to end (SPEC §1 8.2; docs/verification.md "Reject images"): the demo line
//! under heavy damage, on both stacks. The camera simulator publishes the image of each bad
//! read; the controller stores the image of every unit it rejects on a read as a file next to
//! the store, with a row holding its size and SHA-256. Each file must be the image the camera
//! decoded — a no-read decodes to nothing, a read to the very data recorded with the reject —
//! and the API must serve it as `image/png`.

use std::time::Duration;

use sha2::Digest;
use tracemark::app::users::{self, Role};
use tracemark::http::server::{HttpServer, ServeOptions};
use tracemark_line_tests::{Stack, assert_clean_run, on_both_stacks, one_line_at_a_time};
use tracemark_store::{CodeState, RejectReason};

const UNITS: u64 = 200;

async fn rejects_have_their_camera_images(stack: Stack) {
    let Some(site) = stack.site().await else {
        return;
    };
    let _line = one_line_at_a_time().await;
    let units = UNITS.to_string();
    let out = site
        .command(
            "demo",
            &["--units", &units, "--speed", "3000", "--faults", "heavy"],
        )
        .output()
        .await
        .expect("run tracemark demo");
    let s = assert_clean_run(&out, UNITS);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("reject image refused") && !stderr.contains("cannot store a reject"),
        "{stderr}"
    );

    let store = site.open().await;
    let batch = store.batches().await.expect("batches")[0].id;
    // The demo's QA destroys the rejects at the end: their reason and read stay.
    let mut rejected = Vec::new();
    for state in [
        CodeState::Rejected,
        CodeState::Destroyed,
        CodeState::Released,
    ] {
        rejected.extend(
            store
                .codes_of_batch(batch, state, 100_000)
                .await
                .expect("rejects"),
        );
    }
    // Rejected on a read (not `late`: no read, no image).
    let on_a_read: Vec<_> = rejected
        .iter()
        .filter(|r| r.reason != Some(RejectReason::Late))
        .collect();
    assert!(on_a_read.len() >= 8, "heavy damage rejects many: {s:#}");
    let mut with_image = Vec::new();
    for reject in &on_a_read {
        let Some(image) = store.reject_image(&reject.code).await.expect("read") else {
            continue;
        };
        let bytes = std::fs::read(&image.path)
            .unwrap_or_else(|e| panic!("the file of {}: {e}", reject.code));
        // Beside the SQLite file; a simulation on PostgreSQL keeps them in the temporary
        // directory (never where it was started).
        let home = match stack {
            Stack::Embedded => site.dir.path().to_path_buf(),
            Stack::Plant => std::env::temp_dir().join("tracemark-reject-images"),
        };
        assert!(
            std::path::Path::new(&image.path).starts_with(&home),
            "{image:?}"
        );
        assert_eq!(bytes.len() as i64, image.size, "{image:?}");
        assert_eq!(
            format!("{:x}", sha2::Sha256::digest(&bytes)),
            image.sha256,
            "{image:?}"
        );
        // The image the camera decoded: a no-read decodes to nothing here either; a read, to
        // the data recorded with the reject.
        let decoded = tracemark_codes::symbol::decode_png(&bytes).ok();
        let decoded = decoded.map(|d| String::from_utf8_lossy(&d.scanner_message()).into_owned());
        assert_eq!(
            decoded, reject.data,
            "{} ({:?})",
            reject.code, reject.reason
        );
        with_image.push((reject.code.clone(), bytes));
    }
    // Every unit rejected on a read has its image, but for the rare print confirmed only after
    // its unit passed the gate (recorded then, not at the gate: its read is not known).
    let missing = on_a_read.len() - with_image.len();
    assert!(
        missing * 10 <= on_a_read.len() && !with_image.is_empty(),
        "{missing} of {} rejects without an image: {s:#}",
        on_a_read.len()
    );

    // The API serves them.
    users::add_user(
        &store,
        &tracemark_line_tests::common::actor(),
        "li.wei",
        Role::Operator,
        "correct horse battery staple",
    )
    .await
    .expect("a user");
    let token = users::create_token(
        &store,
        &tracemark_line_tests::common::actor(),
        "li.wei",
        None,
    )
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
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client");
    for (code, bytes) in with_image.iter().take(5) {
        let url = tracemark::http::api::reject_images::image_url(code);
        let response = client
            .get(format!("{}{url}", server.url()))
            .bearer_auth(&token)
            .send()
            .await
            .expect("a response");
        assert_eq!(response.status().as_u16(), 200, "{code}");
        assert_eq!(
            response.headers()["content-type"].to_str().ok(),
            Some("image/png")
        );
        assert_eq!(&response.bytes().await.expect("the body").to_vec(), bytes);
    }
    drop(server);
    store.close().await;
    site.finish().await;
}

on_both_stacks!(rejects_have_their_camera_images);
