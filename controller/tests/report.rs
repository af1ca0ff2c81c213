//! The batch report (issue 17, SPEC §10) on both stores: its figures equal the reconciliation
//! `tracemark batch report --json` prints; each chart is on the page with the figures of the
//! database (the reject Pareto sums to the rejects, the grades to the reads, the throughput to
//! the units decided); every role reads the HMI page, in its language; a batch without units
//! renders; the command writes HTML, prints a PDF through headless Chromium when it is
//! installed, and names what is missing when it is not; the page renders in real Chromium.

#[macro_use]
mod common;

use common::browser::{Browser, CHROMIUM, chromium_installed};
use common::*;
use tracemark::app::report::{self, MarkKind};
use tracemark::app::users::{self, Language, Role};
use tracemark::app::{batches, packing};
use tracemark::http::server::{HttpServer, ServeOptions};
use tracemark_store::{
    BatchState, CodeRead, CodeState, Grade, NewBatch, PackageLevel, RejectReason, Store, Transition,
};

const GTIN: &str = "09506000134352";
const PASSWORD: &str = "correct horse battery staple";

/// What [`fill`] made, to compare the report with.
struct Made {
    batch: i64,
    verified: i64,
    rejected: i64,
    /// Camera reads stored.
    reads: i64,
    /// Reads per grade, in `report::GRADES` order.
    grades: [i64; 6],
    /// Rejects per reason, most first.
    reasons: Vec<(&'static str, i64)>,
}

fn read(grade: Option<Grade>, code: &str) -> Option<CodeRead> {
    Some(CodeRead {
        grade,
        data: grade.map(|_| format!("]d2{code}")),
    })
}

async fn apply(store: &Store, changes: Vec<Transition>) {
    store.transition_all(&changes).await.expect("transitions");
}

/// A closed batch of 40 codes: 36 printed (25 verified with grades A–C, 10 rejected with a
/// read for four reasons, 8 of those destroyed and 2 released, and one rejected late without a
/// read and destroyed: a unit without a decision time), 4 never printed (voided at the close),
/// 10 packed in a carton; paused and resumed, the line stopped and its alarm acknowledged.
async fn fill(store: &Store) -> Made {
    packing_producer(store).await;
    store
        .add_product(&product("p", GTIN))
        .await
        .expect("product");
    let batch = running_batch(store, "p", 100).await;
    let codes = store
        .allocate("p", 40, Some(batch.id))
        .await
        .expect("allocate")
        .codes;
    let printed = &codes[..36];
    for to in [CodeState::Sent, CodeState::Printed] {
        apply(
            store,
            printed
                .iter()
                .map(|c| Transition::to(c.as_str(), to))
                .collect(),
        )
        .await;
    }
    // Two groups (two events): verified A and B first, then C and the rejects.
    let grade_of = |i: usize| match i {
        0..10 => Grade::A,
        10..20 => Grade::B,
        _ => Grade::C,
    };
    let verify = |range: std::ops::Range<usize>| -> Vec<Transition> {
        range
            .map(|i| Transition {
                code: printed[i].clone(),
                to: CodeState::Verified,
                reason: None,
                read: read(Some(grade_of(i)), &printed[i]),
            })
            .collect()
    };
    apply(store, verify(0..20)).await;
    store
        .set_batch_state(batch.id, BatchState::Paused)
        .await
        .expect("pause");
    store
        .record_line_command("line-1", batch.id, "stopped", Some("label jam"))
        .await
        .expect("a stop");
    store
        .record_line_command("line-1", batch.id, "alarm_acknowledged", None)
        .await
        .expect("an acknowledgement");
    // Another batch's command on the same line is not this batch's.
    store
        .record_line_command("line-1", batch.id + 1000, "stopped", Some("other"))
        .await
        .expect("another batch's stop");
    store
        .set_batch_state(batch.id, BatchState::Running)
        .await
        .expect("resume");
    let mut changes = verify(20..25);
    let rejects = [
        (RejectReason::LowGrade, Some(Grade::D), 4),
        (RejectReason::NoRead, None, 3),
        (RejectReason::Mismatch, Some(Grade::B), 2),
        (RejectReason::Duplicate, Some(Grade::A), 1),
    ];
    let mut at = 25;
    for (reason, grade, n) in rejects {
        for _ in 0..n {
            changes.push(Transition {
                code: printed[at].clone(),
                to: CodeState::Rejected,
                reason: Some(reason),
                read: read(grade, &printed[at]),
            });
            at += 1;
        }
    }
    apply(store, changes).await;
    // No camera result before the gate: rejected late, no read.
    apply(
        store,
        vec![Transition {
            code: printed[35].clone(),
            to: CodeState::Rejected,
            reason: Some(RejectReason::Late),
            read: None,
        }],
    )
    .await;
    apply(
        store,
        printed[25..33]
            .iter()
            .chain([&printed[35]])
            .map(|c| Transition::to(c.as_str(), CodeState::Destroyed))
            .collect(),
    )
    .await;
    apply(
        store,
        printed[33..35]
            .iter()
            .map(|c| Transition::to(c.as_str(), CodeState::Released))
            .collect(),
    )
    .await;
    let carton = packing::new_package(store, &actor(), batch.id, PackageLevel::Carton, Some(10))
        .await
        .expect("a carton")
        .sscc;
    packing::add(store, &actor(), &carton, &printed[..10])
        .await
        .expect("pack");
    packing::close(store, &actor(), &carton)
        .await
        .expect("close the carton");
    batches::set_state(store, &actor(), batch.id, BatchState::Closed)
        .await
        .expect("close");
    Made {
        batch: batch.id,
        verified: 25,
        rejected: 11,
        reads: 35,
        // A 10 + 1 duplicate, B 10 + 2 mismatches, C 5, D 4 low grades, F 0, none 3 no-reads.
        grades: [11, 12, 5, 4, 0, 3],
        reasons: vec![
            ("low_grade", 4),
            ("no_read", 3),
            ("mismatch", 2),
            ("duplicate", 1),
            ("late", 1),
        ],
    }
}

/// The values of attribute `name` in `html` after `from` and before `to`.
fn attrs(html: &str, from: &str, to: &str, name: &str) -> Vec<String> {
    let start = html
        .find(from)
        .unwrap_or_else(|| panic!("no {from} in the page"));
    let rest = &html[start..];
    let end = rest.find(to).unwrap_or(rest.len());
    let needle = format!(" {name}=\"");
    rest[..end]
        .match_indices(&needle)
        .map(|(at, _)| {
            rest[at + needle.len()..]
                .chars()
                .take_while(|c| *c != '"')
                .collect()
        })
        .collect()
}

fn sum(values: &[String]) -> i64 {
    values
        .iter()
        .map(|v| v.parse::<i64>().expect("a count"))
        .sum()
}

async fn figures_equal_the_reconciliation_and_the_database(store: Store) {
    let made = fill(&store).await;
    let r = report::batch(&store, made.batch).await.expect("the report");
    // The very reconciliation `tracemark batch report --json` prints.
    let json = batches::report(&store, made.batch)
        .await
        .expect("reconcile");
    assert_eq!(
        serde_json::to_value(&r.summary).expect("json"),
        serde_json::to_value(&json).expect("json")
    );
    let rec = &r.summary.reconciliation;
    assert!(rec.balanced, "{:?}", rec.problems);
    assert_eq!(
        (rec.verified, rec.rejected, rec.voided),
        (made.verified, made.rejected, 4)
    );
    // The throughput sums to the units decided, the rejects in it to the rejects.
    let units: i64 = r.throughput.iter().map(|b| b.units).sum();
    let rejected: i64 = r.throughput.iter().map(|b| b.rejected).sum();
    assert_eq!(units + r.undated_units, rec.verified + rec.rejected);
    assert_eq!(rejected + r.undated_rejected, rec.rejected);
    // The late reject has no read, and QA's destroy is its last change: undated.
    assert_eq!((r.undated_units, r.undated_rejected), (1, 1));
    for b in &r.throughput {
        assert!(b.start < b.end, "{b:?}");
        if b.units > 0 {
            let rate = b.rejected as f64 * 100.0 / b.units as f64;
            assert!((b.reject_rate - rate).abs() < 1e-9, "{b:?}");
        }
    }
    // The Pareto: most first, summing to the rejects.
    let reasons: Vec<(&str, i64)> = r
        .rejects
        .iter()
        .map(|x| (x.reason.as_str(), x.units))
        .collect();
    assert_eq!(reasons, made.reasons);
    assert!((r.rejects.last().expect("a reason").cumulative - 100.0).abs() < 1e-9);
    // The grades: every read once.
    let grades: Vec<i64> = r.grades.iter().map(|g| g.reads).collect();
    assert_eq!(grades, made.grades);
    assert_eq!(r.reads, made.reads);
    // The timeline: this batch's events and its line's commands while it ran, not another's.
    let kinds: Vec<MarkKind> = r.timeline.iter().map(|m| m.kind).collect();
    assert_eq!(
        kinds,
        [
            MarkKind::Created,
            MarkKind::Started,
            MarkKind::Paused,
            MarkKind::LineStopped,
            MarkKind::AlarmAcknowledged,
            MarkKind::Resumed,
            MarkKind::Closed,
        ]
    );
    assert_eq!(r.timeline[3].reason.as_deref(), Some("label jam"));
    assert_eq!(r.pauses.len(), 1);
    assert!(r.pauses[0].from <= r.pauses[0].to);
    assert_eq!(r.summary.batch.started_by.as_deref(), Some("tester"));
    assert!(r.audit.first_bad.is_none(), "{:?}", r.audit);
    assert_eq!(
        (
            r.summary.packages.cartons_closed,
            r.summary.packages.cartons_open
        ),
        (1, 0)
    );

    // The page: every chart, its marks carrying the same figures as the tables.
    let html = tracemark::http::hmi::report::html(&r, Language::En).expect("html");
    for chart in [
        "chart-throughput",
        "chart-reject-rate",
        "chart-pareto",
        "chart-grades",
        "chart-timeline",
    ] {
        assert!(
            html.contains(&format!("<svg id=\"{chart}\"")),
            "{chart} missing"
        );
        assert!(html.contains(&format!("<title id=\"{chart}-title\">")));
    }
    let bar_units = attrs(
        &html,
        "<svg id=\"chart-throughput\"",
        "</svg>",
        "data-units",
    );
    assert_eq!(bar_units.len(), r.throughput.len());
    assert_eq!(sum(&bar_units) + 1, rec.verified + rec.rejected);
    let row_units = attrs(&html, "id=\"throughput-table\"", "</table>", "data-units");
    assert_eq!(sum(&row_units) + 1, rec.verified + rec.rejected);
    assert!(html.contains("<span id=\"undated-units\">1</span>"));
    let pareto = attrs(&html, "<svg id=\"chart-pareto\"", "</svg>", "data-units");
    assert_eq!(sum(&pareto), rec.rejected);
    let pareto_reasons = attrs(&html, "<svg id=\"chart-pareto\"", "</svg>", "data-reason");
    assert_eq!(
        pareto_reasons,
        ["low_grade", "no_read", "mismatch", "duplicate", "late"]
    );
    let grade_reads = attrs(&html, "<svg id=\"chart-grades\"", "</svg>", "data-reads");
    let expected: Vec<String> = made.grades.iter().map(i64::to_string).collect();
    assert_eq!(grade_reads, expected);
    let marks = attrs(&html, "<svg id=\"chart-timeline\"", "</svg>", "data-kind");
    assert_eq!(marks.len(), 7);
    assert!(marks.contains(&"line_stopped".to_owned()), "{marks:?}");
    assert_eq!(
        attrs(&html, "<svg id=\"chart-timeline\"", "</svg>", "data-from").len(),
        1,
        "one pause band"
    );
    for (key, value) in [
        ("verified", rec.verified),
        ("rejected", rec.rejected),
        ("destroyed", rec.destroyed),
        ("released", rec.released),
        ("packed", rec.packed),
    ] {
        assert!(
            html.contains(&format!("data-key=\"{key}\">{value}</td>")),
            "{key} {value}"
        );
    }
    assert!(html.contains("id=\"audit-result\" data-ok=\"true\""));
    assert!(html.contains("@page { size: A4;"));
    assert!(html.contains("Producer") && html.contains("某某电缆有限公司"));
    let zh = tracemark::http::hmi::report::html(&r, Language::ZhCn).expect("html");
    assert!(zh.contains("<html lang=\"zh-CN\">") && zh.contains("剔除原因（帕累托图）"));
}
both!(figures_equal_the_reconciliation_and_the_database);

async fn a_batch_without_units_renders(store: Store) {
    store
        .add_product(&product("p", GTIN))
        .await
        .expect("product");
    let batch = batches::create(
        &store,
        &actor(),
        &NewBatch {
            product_id: "p".into(),
            lot: "EMPTY".into(),
            quantity: 10,
            production_date: "2025-03-01".into(),
            expiry_date: None,
            line: None,
            simulated: false,
        },
    )
    .await
    .expect("a batch");
    let r = report::batch(&store, batch.id).await.expect("the report");
    assert!(r.throughput.is_empty() && r.rejects.is_empty() && r.reads == 0);
    assert!(r.producer.is_none());
    let html = tracemark::http::hmi::report::html(&r, Language::En).expect("html");
    assert!(html.contains("No unit decided yet."), "{html}");
    assert!(html.contains("No reject.") && html.contains("No camera read."));
    assert!(html.contains("<svg id=\"chart-timeline\""));
    match report::batch(&store, batch.id + 99).await {
        Err(tracemark::app::AppError::NotFound { what, .. }) => assert_eq!(what, "batch"),
        other => panic!("an unknown batch: {other:?}"),
    }
}
both!(a_batch_without_units_renders);

/// The HMI's server over `store`, and a client that does not follow redirects.
async fn serve(store: &Store) -> (HttpServer, reqwest::Client) {
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
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    (server, client)
}

async fn log_in(server: &HttpServer, client: &reqwest::Client, name: &str) -> String {
    let response = client
        .post(format!("{}/api/v1/session", server.url()))
        .header("content-type", "application/json")
        .body(serde_json::json!({"name": name, "password": PASSWORD}).to_string())
        .send()
        .await
        .expect("a response");
    assert_eq!(response.status().as_u16(), 200, "log {name} in");
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a session cookie");
    cookie.split(';').next().unwrap_or_default().to_owned()
}

async fn every_role_reads_the_page_in_its_language(store: Store) {
    let made = fill(&store).await;
    let roles = [
        ("li.wei", Role::Operator),
        ("wang.fang", Role::Qa),
        ("chen.jie", Role::Integrator),
        ("boss", Role::Admin),
    ];
    for (name, role) in roles {
        users::add_user(&store, &actor(), name, role, PASSWORD)
            .await
            .expect("a user");
    }
    users::set_language(&store, &actor(), "chen.jie", Language::ZhCn)
        .await
        .expect("Chinese");
    let (server, client) = serve(&store).await;
    let page = |path: String, cookie: Option<String>| {
        let client = client.clone();
        let url = format!("{}{path}", server.url());
        async move {
            let mut request = client.get(url);
            if let Some(cookie) = cookie {
                request = request.header("cookie", cookie);
            }
            let response = request.send().await.expect("a response");
            let status = response.status().as_u16();
            (status, response.text().await.expect("a body"))
        }
    };
    let path = format!("/batches/{}/report", made.batch);
    for (name, _) in roles {
        let cookie = log_in(&server, &client, name).await;
        let (status, html) = page(path.clone(), Some(cookie.clone())).await;
        assert_eq!(status, 200, "{name}: {html}");
        assert!(html.contains("<svg id=\"chart-pareto\""), "{name}");
        assert!(html.contains("id=\"back-to-batch\""), "{name}");
        if name == "chen.jie" {
            assert!(html.contains("<html lang=\"zh-CN\">") && html.contains("批次报告"));
        } else {
            assert!(html.contains("Batch report"), "{name}");
        }
        let (_, batch_page) = page(format!("/batches/{}", made.batch), Some(cookie)).await;
        assert!(
            batch_page.contains(&format!("href=\"{path}\"")),
            "the batch page links to its report"
        );
    }
    let (status, _) = page(path, None).await;
    assert_eq!(status, 303, "without a session: to the login page");
    let cookie = log_in(&server, &client, "boss").await;
    let (status, _) = page("/batches/99999/report".into(), Some(cookie)).await;
    assert_eq!(status, 404);
}
both!(every_role_reads_the_page_in_its_language);

/// Pages in a PDF: its page objects (`/Type /Page`, not the `/Type /Pages` tree).
fn pdf_pages(bytes: &[u8]) -> usize {
    let text = String::from_utf8_lossy(bytes);
    text.match_indices("/Type /Page")
        .filter(|(at, m)| !text[at + m.len()..].starts_with('s'))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_writes_html_and_pdf_and_names_a_missing_chromium() {
    let dir = tempdir();
    let url = sqlite_url(dir.path());
    let store = open(&url).await;
    let made = fill(&store).await;
    store.close().await;
    let id = made.batch.to_string();
    let html = dir.path().join("r.html");
    let html_arg = html.to_string_lossy().into_owned();
    let out = tracemark(
        &url,
        &[
            "report", "batch", &id, "--out", &html_arg, "--lang", "zh-CN",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let page = std::fs::read_to_string(&html).expect("the page");
    assert!(page.contains("<html lang=\"zh-CN\">") && page.contains("<svg id=\"chart-grades\""));
    // Without --out: the page on stdout.
    let out = tracemark(&url, &["report", "batch", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("<!doctype html>"));

    // No Chromium where TRACEMARK_CHROMIUM points: exit 2, what is missing and how to get it.
    let missing = dir.path().join("no-such-chromium");
    let pdf = dir.path().join("r.pdf");
    let pdf_arg = pdf.to_string_lossy().into_owned();
    let out = std::process::Command::new(bin())
        .args(["report", "batch", &id, "--pdf", &pdf_arg])
        .env("TRACEMARK_DB", &url)
        .env("TRACEMARK_CHROMIUM", &missing)
        .output()
        .expect("run tracemark");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(
        said.contains(&missing.display().to_string())
            && said.contains("scripts/install-chromium.sh")
            && said.contains("TRACEMARK_CHROMIUM")
            && said.contains("Chromium"),
        "{said}"
    );
    assert!(!pdf.exists());

    // With Chromium: a PDF of at least one A4 page.
    if !chromium_installed() {
        return;
    }
    let out = std::process::Command::new(bin())
        .args(["report", "batch", &id, "--pdf", &pdf_arg])
        .env("TRACEMARK_DB", &url)
        .env("TRACEMARK_CHROMIUM", CHROMIUM)
        .output()
        .expect("run tracemark");
    assert!(out.status.success(), "{}", stderr(&out));
    let bytes = std::fs::read(&pdf).expect("the PDF");
    assert!(bytes.starts_with(b"%PDF"), "not a PDF");
    let pages = pdf_pages(&bytes);
    assert!(pages >= 1, "{pages} pages");
    // The scratch page beside it is gone.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("the directory")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".r."))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_renders_in_chromium() {
    let Some(browser) = Browser::start("report").await else {
        return;
    };
    let dir = tempdir();
    let store = open(&sqlite_url(dir.path())).await;
    let made = fill(&store).await;
    users::add_user(&store, &actor(), "li.wei", Role::Operator, PASSWORD)
        .await
        .expect("a user");
    let (server, _) = serve(&store).await;
    let base = server.url().trim_end_matches('/').to_owned();
    browser
        .guard(async {
            browser.log_in(&base, "li.wei", PASSWORD).await;
            browser
                .open(&format!("{base}/batches/{}", made.batch))
                .await;
            browser.click("#batch-report-link").await;
            browser
                .wait_text("#report-title", "the report's title", |t| {
                    t.contains("Batch report")
                })
                .await;
            for chart in [
                "#chart-throughput",
                "#chart-reject-rate",
                "#chart-pareto",
                "#chart-grades",
                "#chart-timeline",
            ] {
                assert!(browser.displayed(chart).await, "{chart} is not shown");
                let size = browser
                    .wait_for(chart)
                    .await
                    .rectangle()
                    .await
                    .expect("the chart's size");
                assert!(size.2 > 200.0 && size.3 > 50.0, "{chart}: {size:?}");
            }
            let balanced = browser.text("#rec-balanced").await;
            assert_eq!(balanced, "yes");
            let bars = browser
                .client()
                .find_all(fantoccini::Locator::Css("#chart-pareto g.bar"))
                .await
                .expect("the bars");
            assert_eq!(bars.len(), 5);
            browser
                .screenshot("page")
                .await
                .expect("a screenshot of the report");
        })
        .await;
    browser.close().await;
}
