//! The lookup's page (`templates/hmi/lookup.html`): the unit's state and its public fields in
//! Simplified Chinese or English — `?lang=` when given, else `Accept-Language`, else Chinese
//! (the consumers of SAMR's trace codes are in China) — with a link to the other language.
//! Only a [`LookupAnswer`]'s fields are drawn: they are the public ones.

use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppError;
use crate::app::lookup::{InvalidBecause, LookupAnswer, Verdict, linkset};
use crate::app::users::Language;
use crate::http::hmi::i18n::{self, Words};
use crate::http::problem::ApiError;

/// One row: a field's label key, its value, a link when the value is a URL.
#[derive(Debug)]
struct Row {
    field: &'static str,
    label_key: &'static str,
    value: String,
    href: Option<String>,
}

#[derive(Debug)]
struct Section {
    id: &'static str,
    title_key: &'static str,
    rows: Vec<Row>,
}

#[derive(askama::Template)]
#[template(path = "hmi/lookup.html")]
struct LookupPage {
    w: &'static Words,
    lang: &'static str,
    other_lang: &'static str,
    switch_href: String,
    state: &'static str,
    state_class: &'static str,
    headline_key: &'static str,
    detail_key: Option<&'static str>,
    problem: Option<String>,
    sections: Vec<Section>,
}

/// The page's language: `lang` in the query, else the first of `Accept-Language`'s ranges (by
/// quality) that is Chinese or English, else Chinese.
pub(super) fn language(headers: &HeaderMap, query: Option<&str>) -> Language {
    match super::parameter(query, "lang").map(str::to_ascii_lowercase) {
        Some(lang) if lang.starts_with("zh") => return Language::ZhCn,
        Some(lang) if lang.starts_with("en") => return Language::En,
        _ => {}
    }
    let mut best: Option<(f32, Language)> = None;
    for value in headers.get_all(header::ACCEPT_LANGUAGE) {
        for range in value.to_str().unwrap_or_default().split(',') {
            let mut parts = range.split(';');
            let tag = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let quality = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let language = if tag.starts_with("zh") {
                Language::ZhCn
            } else if tag.starts_with("en") {
                Language::En
            } else {
                continue;
            };
            if quality > 0.0 && best.is_none_or(|(q, _)| quality > q) {
                best = Some((quality, language));
            }
        }
    }
    best.map_or(Language::ZhCn, |(_, language)| language)
}

/// This request's URI with `lang` set to `language` (the other language's link).
fn switched(uri: &Uri, language: Language) -> String {
    let mut query: Vec<&str> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("lang="))
        .collect();
    let lang = format!("lang={}", i18n::html_lang(language));
    query.push(&lang);
    format!("{}?{}", uri.path(), query.join("&"))
}

fn other(language: Language) -> Language {
    match language {
        Language::En => Language::ZhCn,
        Language::ZhCn => Language::En,
    }
}

fn row(field: &'static str, label_key: &'static str, value: impl Into<String>) -> Row {
    Row {
        field,
        label_key,
        value: value.into(),
        href: None,
    }
}

fn linked(field: &'static str, label_key: &'static str, value: &str) -> Row {
    Row {
        field,
        label_key,
        value: value.to_owned(),
        href: linkset::is_url(value).then(|| value.to_owned()),
    }
}

fn sections(answer: &LookupAnswer, w: &Words) -> Vec<Section> {
    let p = &answer.product;
    let mut product = vec![
        row("product.trace_code", "lookup_trace_code", &p.trace_code),
        row("product.name", "lookup_product_name", &p.name),
        row("product.category", "lookup_category", &p.category),
        row("product.model", "lookup_model", &p.model),
        row("product.gtin", "lookup_gtin", &p.gtin),
    ];
    if let Some(date) = &p.production_date {
        product.push(row(
            "product.production_date",
            "lookup_production_date",
            date,
        ));
    }
    if let Some(months) = p.warranty_months {
        let value = format!("{months} {}", w.t("lookup_months"));
        product.push(row("product.warranty", "lookup_warranty", value));
    }
    if let Some(lot) = &p.lot {
        product.push(row("product.lot", "lookup_lot", lot));
    }
    product.push(row("product.serial", "lookup_serial", &p.serial));
    product.push(row(
        "product.mandatory_standard",
        "lookup_standard",
        &p.mandatory_standard,
    ));
    for (field, key, value) in [
        ("product.licence_no", "lookup_licence_no", &p.licence_no),
        ("product.ccc_cert_no", "lookup_ccc_cert_no", &p.ccc_cert_no),
    ] {
        if let Some(value) = value {
            product.push(row(field, key, value));
        }
    }
    if let Some(manual) = &p.manual {
        product.push(linked("product.manual", "lookup_manual", manual));
    }
    if let Some(report) = &p.inspection_report {
        product.push(linked(
            "product.inspection_report",
            "lookup_inspection_report",
            report,
        ));
    }
    let mut out = Vec::new();
    if let Some(producer) = &answer.producer {
        out.push(Section {
            id: "producer",
            title_key: "lookup_producer",
            rows: vec![
                row("producer.name", "lookup_producer_name", &producer.name),
                row("producer.uscc", "lookup_uscc", &producer.uscc),
                row("producer.address", "lookup_address", &producer.address),
                row("producer.contact", "lookup_contact", &producer.contact),
                row(
                    "producer.business_licence",
                    "lookup_business_licence",
                    &producer.business_licence,
                ),
            ],
        });
    }
    out.push(Section {
        id: "product",
        title_key: "lookup_product",
        rows: product,
    });
    if let Some(flow) = &answer.flow {
        let mut rows = Vec::new();
        for (field, key, value) in [
            ("flow.sale_time", "lookup_sale_time", &flow.sale_time),
            ("flow.buyer_name", "lookup_buyer_name", &flow.buyer_name),
            (
                "flow.buyer_address",
                "lookup_buyer_address",
                &flow.buyer_address,
            ),
            (
                "flow.buyer_contact",
                "lookup_buyer_contact",
                &flow.buyer_contact,
            ),
        ] {
            if let Some(value) = value {
                rows.push(row(field, key, value));
            }
        }
        if let Some(quantity) = flow.quantity {
            rows.push(row(
                "flow.quantity",
                "lookup_quantity",
                quantity.to_string(),
            ));
        }
        out.push(Section {
            id: "flow",
            title_key: "lookup_flow",
            rows,
        });
    }
    out.push(Section {
        id: "scans",
        title_key: "lookup_scans",
        rows: vec![
            row(
                "scans.count",
                "lookup_scan_count",
                answer.scans.count.to_string(),
            ),
            row(
                "scans.first_at",
                "lookup_first_scan",
                &answer.scans.first_at,
            ),
        ],
    });
    out
}

fn render(page: &LookupPage, status: StatusCode) -> Response {
    match askama::Template::render(page) {
        Ok(html) => (status, axum::response::Html(html)).into_response(),
        Err(error) => ApiError(AppError::internal("draw the lookup page", error)).into_response(),
    }
}

/// The page of a found unit.
pub(super) fn answer(answer: &LookupAnswer, language: Language, uri: &Uri) -> Response {
    let w = i18n::words(language);
    let (state, state_class, headline_key, detail_key) =
        match (answer.state, answer.invalid_because) {
            (Verdict::Genuine, _) => ("genuine", "genuine", "lookup_state_genuine", None),
            (Verdict::ScannedOften, _) => (
                "scanned_often",
                "warning",
                "lookup_state_scanned_often",
                Some("lookup_detail_scanned_often"),
            ),
            (Verdict::Simulated, _) => (
                "simulated",
                "warning",
                "lookup_state_simulated",
                Some("lookup_detail_simulated"),
            ),
            (Verdict::Invalid, because) => (
                "invalid",
                "warning",
                "lookup_state_invalid",
                Some(match because {
                    Some(InvalidBecause::Destroyed) => "lookup_detail_destroyed",
                    Some(InvalidBecause::Voided) => "lookup_detail_voided",
                    Some(InvalidBecause::Rejected) | None => "lookup_detail_rejected",
                }),
            ),
        };
    let page = LookupPage {
        w,
        lang: i18n::html_lang(language),
        other_lang: i18n::html_lang(other(language)),
        switch_href: switched(uri, other(language)),
        state,
        state_class,
        headline_key,
        detail_key,
        problem: None,
        sections: sections(answer, w),
    };
    render(&page, StatusCode::OK)
}

/// The page of a code not issued (404) or not valid (400), or another error.
pub(super) fn error(error: &AppError, language: Language, uri: &Uri) -> Response {
    let (state, headline_key) = match error {
        AppError::NotFound { .. } => ("not_issued", "lookup_state_not_issued"),
        AppError::Input { .. } => ("bad_code", "lookup_state_bad_code"),
        _ => ("error", "lookup_state_error"),
    };
    let problem = ApiError(match error {
        AppError::Input { field, reason } => AppError::input(field.clone(), reason),
        AppError::NotFound { what, id } => AppError::NotFound {
            what,
            id: id.clone(),
        },
        other => AppError::input("lookup", other),
    })
    .problem();
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::BAD_REQUEST);
    let page = LookupPage {
        w: i18n::words(language),
        lang: i18n::html_lang(language),
        other_lang: i18n::html_lang(other(language)),
        switch_href: switched(uri, other(language)),
        state,
        state_class: "warning",
        headline_key,
        detail_key: (state == "not_issued").then_some("lookup_detail_not_issued"),
        problem: (state == "bad_code").then_some(problem.detail),
        sections: Vec::new(),
    };
    render(&page, status)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key the page draws (tested against both languages).
    const KEYS: [&str; 46] = [
        "lookup_flow",
        "lookup_sale_time",
        "lookup_buyer_name",
        "lookup_buyer_address",
        "lookup_buyer_contact",
        "lookup_quantity",
        "lookup_title",
        "lookup_other_language",
        "lookup_state_genuine",
        "lookup_state_scanned_often",
        "lookup_detail_scanned_often",
        "lookup_state_simulated",
        "lookup_detail_simulated",
        "lookup_state_invalid",
        "lookup_detail_destroyed",
        "lookup_detail_voided",
        "lookup_detail_rejected",
        "lookup_state_not_issued",
        "lookup_detail_not_issued",
        "lookup_state_bad_code",
        "lookup_state_error",
        "lookup_producer",
        "lookup_producer_name",
        "lookup_uscc",
        "lookup_address",
        "lookup_contact",
        "lookup_business_licence",
        "lookup_product",
        "lookup_trace_code",
        "lookup_product_name",
        "lookup_category",
        "lookup_model",
        "lookup_gtin",
        "lookup_production_date",
        "lookup_warranty",
        "lookup_months",
        "lookup_lot",
        "lookup_serial",
        "lookup_standard",
        "lookup_licence_no",
        "lookup_ccc_cert_no",
        "lookup_manual",
        "lookup_inspection_report",
        "lookup_scans",
        "lookup_scan_count",
        "lookup_first_scan",
    ];

    #[test]
    fn every_key_of_the_page_is_in_both_languages() {
        for language in [Language::En, Language::ZhCn] {
            let words: Vec<&str> = i18n::words(language).keys().collect();
            for key in KEYS {
                assert!(words.contains(&key), "{key} in {language:?}");
            }
        }
    }

    #[test]
    fn the_language_comes_from_the_parameter_then_the_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(language(&headers, None), Language::ZhCn);
        headers.insert(
            header::ACCEPT_LANGUAGE,
            "fr;q=1, en-GB;q=0.8, zh-CN;q=0.5"
                .parse()
                .expect("a header"),
        );
        assert_eq!(language(&headers, None), Language::En);
        assert_eq!(language(&headers, Some("lang=zh-CN")), Language::ZhCn);
        let uri: Uri = "/01/09506000134352/21/A1?lang=en&17=271231"
            .parse()
            .expect("a URI");
        assert_eq!(
            switched(&uri, Language::ZhCn),
            "/01/09506000134352/21/A1?17=271231&lang=zh-CN"
        );
    }
}
