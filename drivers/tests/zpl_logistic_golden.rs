//! The GS1 logistic label as ZPL (issue 14 item 3): golden bytes of a carton's and a pallet's
//! label from `line-configs/labels/logistic-label.zpl`, and an independent decode: the `^BC`
//! field data read as a printer reads it (ZPL II Programming Guide, `^BC`), drawn as bars
//! (ISO/IEC 15417) and decoded by rxing and by zxing-cpp, which must give back `]C1` and the
//! element strings `LogisticLabel` built.

use std::path::PathBuf;
use std::process::Command;

use image::GrayImage;
use tracemark_codes::gs1::{Content, Gtin, LogisticLabel, Sscc};
use tracemark_drivers::zpl::bc;
use tracemark_drivers::zpl::logistic::{DEFAULT_TEMPLATE_NAME, LabelData, LogisticTemplate};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn template() -> LogisticTemplate {
    let path = repo_root().join("line-configs/labels/logistic-label.zpl");
    let body = std::fs::read_to_string(&path).expect("template file");
    LogisticTemplate::new(DEFAULT_TEMPLATE_NAME, &body).expect("template")
}

fn label(reference: u64, count: u32) -> LogisticLabel {
    let sscc = Sscc::new(0, "9506000", reference).expect("sscc");
    let content = Content {
        gtin: Gtin::parse("09506000134352").expect("gtin"),
        count,
        lot: Some("L2026-1".into()),
        production_date: Some("2026-11-22".into()),
        expiry_date: Some("2027-12-31".into()),
    };
    LogisticLabel::new(&sscc, Some(&content)).expect("label")
}

/// A carton of 12: every digit run is even.
fn carton() -> (LogisticLabel, Vec<u8>) {
    let label = label(1, 12);
    let bytes = template()
        .label(&LabelData::of(&label, Some("Paracetamol 500 mg")))
        .expect("zpl");
    (label, bytes)
}

/// A pallet of 120 units: `(37)120` makes the content's digit run odd.
fn pallet() -> (LogisticLabel, Vec<u8>) {
    let label = label(2, 120);
    let bytes = template()
        .label(&LabelData::of(&label, Some("Paracetamol 500 mg")))
        .expect("zpl");
    (label, bytes)
}

/// A carton whose SSCC symbol's check character is 102, the value of FNC1
/// (095060000000000541: 105 + 102 + 1·0 … ≡ 102 mod 103): decoders must not read it as a
/// trailing separator.
fn check_102() -> (LogisticLabel, Vec<u8>) {
    let label = label(54, 12);
    assert_eq!(
        label.sscc_symbol().to_element_string(),
        "00095060000000000541"
    );
    let bytes = template()
        .label(&LabelData::of(&label, Some("Paracetamol 500 mg")))
        .expect("zpl");
    (label, bytes)
}

#[test]
fn the_template_is_stored_once_with_df() {
    let store = template().store_bytes().to_vec();
    assert!(store.starts_with(b"^XA^DFR:SSCC.ZPL^FS^FX tracemark GS1 logistic label"));
    assert!(store.ends_with(b"^FO40,950^A0N,34,34^FN2^FS^XZ"));
}

#[test]
fn a_cartons_label_is_these_bytes() {
    let (_, bytes) = carton();
    let golden: &[&str] = &[
        "^XA^XFR:SSCC.ZPL^FS",                // recall the stored format [ZPL-XF]
        "^FN1^FD>;>800095060000000000015^FS", // Start C, FNC1, (00) and 18 digits in pairs
        "^FN2^FD(00)095060000000000015^FS",   // its text
        // Start C, FNC1, (02)(11)(17)(37)12 in 15 pairs; FNC1 after the variable-length (37),
        // (10) as a pair, CODE B, the lot.
        "^FN3^FD>;>8020950600013435211261122172712313712>810>6L2026-1^FS",
        "^FN4^FD(02)09506000134352(11)261122(17)271231(37)12(10)L2026-1^FS",
        "^FN5^FDParacetamol 500 mg^FS",      // the title
        "^FN10^FDCONTENT 09506000134352^FS", // the text lines, content first
        "^FN11^FDPROD DATE 261122^FS",
        "^FN12^FDUSE BY or EXPIRY 271231^FS",
        "^FN13^FDCOUNT 12^FS",
        "^FN14^FDBATCH/LOT L2026-1^FS",
        "^FN15^FDSSCC 095060000000000015^FS",
        "^XZ",
    ];
    assert_eq!(String::from_utf8_lossy(&bytes), golden.concat());
}

#[test]
fn a_pallets_label_is_these_bytes() {
    let (_, bytes) = pallet();
    let golden: &[&str] = &[
        "^XA^XFR:SSCC.ZPL^FS",
        "^FN1^FD>;>800095060000000000022^FS",
        "^FN2^FD(00)095060000000000022^FS",
        // 37 digits: 18 pairs in subset C, CODE B for the last digit (an unpaired digit before
        // a code change would be dropped by the printer), FNC1, the lot in subset B.
        "^FN3^FD>;>8020950600013435211261122172712313712>60>810L2026-1^FS",
        "^FN4^FD(02)09506000134352(11)261122(17)271231(37)120(10)L2026-1^FS",
        "^FN5^FDParacetamol 500 mg^FS",
        "^FN10^FDCONTENT 09506000134352^FS",
        "^FN11^FDPROD DATE 261122^FS",
        "^FN12^FDUSE BY or EXPIRY 271231^FS",
        "^FN13^FDCOUNT 120^FS",
        "^FN14^FDBATCH/LOT L2026-1^FS",
        "^FN15^FDSSCC 095060000000000022^FS",
        "^XZ",
    ];
    assert_eq!(String::from_utf8_lossy(&bytes), golden.concat());
}

/// `^FN<field>^FD…^FS` of a recalled label.
fn field(label: &[u8], field: u16) -> Vec<u8> {
    let text = String::from_utf8_lossy(label);
    let open = format!("^FN{field}^FD");
    let start = text.find(&open).expect("field") + open.len();
    let end = start + text[start..].find("^FS").expect("^FS");
    text[start..end].as_bytes().to_vec()
}

/// The bars a printer draws for `^BC` field data, as a grayscale picture: 3 px a module, 10
/// modules of quiet zone, 60 px high.
fn picture(field_data: &[u8]) -> GrayImage {
    let characters = bc::symbol_characters(field_data).expect("characters");
    let bars = bc::modules(&characters);
    let width = (bars.len() + 20) * 3;
    GrayImage::from_fn(width as u32, 60, |x, _| {
        let module = (x as usize / 3).checked_sub(10);
        let dark = module.and_then(|m| bars.get(m)).copied().unwrap_or(false);
        image::Luma([if dark { 0 } else { 255 }])
    })
}

fn element_strings(label: &LogisticLabel) -> [Vec<u8>; 2] {
    [
        label.sscc_symbol().to_element_string().into_bytes(),
        label
            .content_symbol()
            .expect("content")
            .to_element_string()
            .into_bytes(),
    ]
}

#[test]
fn rxing_reads_the_bars_the_zpl_describes() {
    for (label, bytes) in [carton(), pallet(), check_102()] {
        for (number, want) in [1, 3].into_iter().zip(element_strings(&label)) {
            let image = picture(&field(&bytes, number));
            let decoded = tracemark_codes::symbol::decode_image(&image).expect("rxing decode");
            assert_eq!(decoded.symbology_identifier(), "]C1");
            assert_eq!(decoded.data(), want.as_slice(), "^FN{number}");
        }
    }
}

/// The independent decoder: zxing-cpp (C++, no code shared with rxing or tracemark).
#[test]
fn zxing_cpp_reads_the_bars_the_zpl_describes() {
    let have_zxing = Command::new("python3")
        .args(["-c", "import zxingcpp"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_zxing {
        if std::env::var_os("CI").is_some() {
            panic!("zxing-cpp is required in CI: run scripts/install-decoders.sh");
        }
        println!("skipped: zxing-cpp not installed (scripts/install-decoders.sh)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("tracemark-labels-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let script = repo_root().join("scripts/zxing_decode.py");
    for (n, (label, bytes)) in [carton(), pallet(), check_102()].into_iter().enumerate() {
        for (number, want) in [1, 3].into_iter().zip(element_strings(&label)) {
            let path = dir.join(format!("label{n}-fn{number}.png"));
            picture(&field(&bytes, number)).save(&path).expect("png");
            let out = Command::new("python3")
                .arg(&script)
                .arg(&path)
                .output()
                .expect("run zxing_decode.py");
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{path:?}: {stdout}");
            let json: serde_json::Value = serde_json::from_str(stdout.trim()).expect("json");
            assert_eq!(json["symbology_identifier"], "]C1", "{json}");
            let hex: String = want.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(json["bytes_hex"], hex, "^FN{number}: {json}");
        }
    }
    std::fs::remove_dir_all(&dir).expect("remove temp dir");
}
