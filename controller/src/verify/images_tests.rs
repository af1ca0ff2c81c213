use std::time::{Duration, Instant};

use super::*;

fn png(len: usize) -> Vec<u8> {
    let mut bytes = PNG_SIGNATURE.to_vec();
    bytes.resize(len.max(PNG_SIGNATURE.len()), 0);
    bytes
}

fn decided(unit: u64, seq: u64) -> Note {
    Note::Decided {
        unit,
        reader: "cam1".to_owned(),
        seq,
    }
}

fn settled(unit: u64, code: &str) -> Note {
    Note::Settled {
        unit,
        code: code.to_owned(),
    }
}

#[test]
fn an_image_before_its_reject_is_matched_when_the_reject_is_recorded() {
    let now = Instant::now();
    let mut m = ImageMatcher::new(Bounds::default());
    assert_eq!(m.note(decided(7, 42), now), None);
    assert_eq!(m.image("cam1", 42, png(100), now), None);
    assert_eq!(m.held(), (1, 100));
    let matched = m.note(settled(7, "(01)1(21)A"), now).expect("matched");
    assert_eq!(
        (matched.code.as_str(), matched.reader.as_str(), matched.seq),
        ("(01)1(21)A", "cam1", 42)
    );
    assert_eq!(matched.png.len(), 100);
    assert_eq!(m.held(), (0, 0));
    assert_eq!(m.stats().matched, 1);
}

#[test]
fn an_image_after_its_reject_is_matched_on_arrival() {
    let now = Instant::now();
    let mut m = ImageMatcher::new(Bounds::default());
    m.note(decided(3, 9), now);
    assert_eq!(m.note(settled(3, "C"), now), None);
    assert_eq!(m.waiting_for_images(), 1);
    let matched = m.image("cam1", 9, png(50), now).expect("matched");
    assert_eq!(matched.code, "C");
    assert_eq!(m.waiting_for_images(), 0);
    // Another reader's read with the same seq is another read.
    m.note(decided(4, 10), now);
    m.note(settled(4, "D"), now);
    assert_eq!(m.image("cam2", 10, png(50), now), None);
}

#[test]
fn images_of_reads_that_rejected_nothing_are_dropped_after_the_bound() {
    let now = Instant::now();
    let bounds = Bounds {
        keep_for: Duration::from_secs(5),
        ..Bounds::default()
    };
    let mut m = ImageMatcher::new(bounds);
    m.image("cam1", 1, png(10), now);
    m.image("cam1", 2, png(10), now + Duration::from_secs(3));
    m.expire(now + Duration::from_secs(6));
    assert_eq!(m.held(), (1, 10), "only the older one is past the bound");
    assert_eq!(m.stats().dropped, 1);
    m.expire(now + Duration::from_secs(9));
    assert_eq!(m.held(), (0, 0));
    // A reject recorded whose image never came is forgotten too.
    m.note(decided(1, 5), now);
    m.note(settled(1, "A"), now);
    m.expire(now + Duration::from_secs(6));
    assert_eq!(m.waiting_for_images(), 0);
    assert_eq!(m.image("cam1", 5, png(10), now), None, "too late");
}

#[test]
fn held_images_stay_within_count_and_bytes() {
    let now = Instant::now();
    let bounds = Bounds {
        images: 3,
        bytes: 1000,
        ..Bounds::default()
    };
    let mut m = ImageMatcher::new(bounds);
    for seq in 0..10 {
        m.image("cam1", seq, png(100), now);
        let (count, bytes) = m.held();
        assert!(count <= 3 && bytes <= 1000, "{count} images, {bytes} bytes");
    }
    assert_eq!(m.held(), (3, 300));
    assert_eq!(m.stats().dropped, 7);
    // The newest are kept: seq 9 still matches, seq 0 does not.
    m.note(decided(1, 9), now);
    assert!(m.note(settled(1, "N"), now).is_some());
    m.note(decided(2, 0), now);
    assert_eq!(m.note(settled(2, "O"), now), None);
    // By bytes: two 400-byte images fit, a third pushes the oldest out.
    let mut m = ImageMatcher::new(bounds);
    for seq in 0..3 {
        m.image("cam1", seq, png(400), now);
    }
    assert_eq!(m.held(), (2, 800));
    // An image larger than the whole budget is not held at all.
    m.image("cam1", 99, png(2000), now);
    assert_eq!(m.held(), (2, 800));
}

#[test]
fn a_redelivered_image_replaces_the_first_copy() {
    let now = Instant::now();
    let mut m = ImageMatcher::new(Bounds::default());
    m.image("cam1", 1, png(10), now);
    m.image("cam1", 1, png(20), now);
    assert_eq!(m.held(), (1, 20));
    m.note(decided(1, 1), now);
    assert_eq!(m.note(settled(1, "A"), now).map(|x| x.png.len()), Some(20));
    assert_eq!(m.held(), (0, 0));
}

#[test]
fn rejects_waiting_for_the_gate_are_bounded() {
    let now = Instant::now();
    let bounds = Bounds {
        links: 2,
        ..Bounds::default()
    };
    let mut m = ImageMatcher::new(bounds);
    for unit in 0..5 {
        m.note(decided(unit, unit), now);
    }
    m.image("cam1", 0, png(10), now);
    m.image("cam1", 4, png(10), now);
    assert_eq!(m.note(settled(0, "old"), now), None, "forgotten");
    assert!(m.note(settled(4, "new"), now).is_some());
    // A settle for a unit never decided (a `late` reject: no read) matches nothing.
    assert_eq!(m.note(settled(77, "late"), now), None);
    assert_eq!(m.waiting_for_images(), 0);
}

#[test]
fn payloads_must_be_png_and_not_too_large() {
    assert_eq!(check_png(&png(1000)), Ok(()));
    assert_eq!(check_png(&png(MAX_IMAGE_BYTES)), Ok(()));
    assert_eq!(
        check_png(&png(MAX_IMAGE_BYTES + 1)),
        Err(ImageError::TooLarge(MAX_IMAGE_BYTES + 1))
    );
    assert_eq!(check_png(b""), Err(ImageError::NotPng));
    assert_eq!(check_png(b"GIF89a..."), Err(ImageError::NotPng));
    assert_eq!(check_png(&PNG_SIGNATURE[..7]), Err(ImageError::NotPng));
    // Every prefix of a PNG with one byte changed in the signature is refused.
    for i in 0..PNG_SIGNATURE.len() {
        let mut bad = png(64);
        bad[i] ^= 0x20;
        assert_eq!(check_png(&bad), Err(ImageError::NotPng), "byte {i}");
    }
    // Pseudo-random garbage never passes (xorshift, repeatable).
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..2000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 64) as usize;
        let bytes: Vec<u8> = (0..len).map(|i| (x >> (i % 8 * 8)) as u8).collect();
        assert_eq!(check_png(&bytes), Err(ImageError::NotPng));
    }
}

#[test]
fn topics_name_the_reader_and_seq() {
    assert_eq!(
        image_key("tracemark/l1/vision/cam1/image/42", "l1"),
        Some(("cam1".to_owned(), 42))
    );
    for bad in [
        "tracemark/l2/vision/cam1/image/42",
        "tracemark/l1/vision/cam1/result",
        "tracemark/l1/vision/cam1/image/x",
        "tracemark/l1/vision/cam1/image/",
        "tracemark/l1/vision//image/1",
        "tracemark/l1/vision/a/b/image/1",
        "tracemark/l1/vision/cam1/image/1/2",
        "tracemark/l10/vision/cam1/image/1",
    ] {
        assert_eq!(image_key(bad, "l1"), None, "{bad}");
    }
    assert_eq!(topic_filter("l1"), "tracemark/l1/vision/+/image/+");
}

#[test]
fn the_default_directory_is_next_to_an_sqlite_store() {
    let dir = default_dir("sqlite:///data/plant/tracemark.db?mode=rwc");
    assert_eq!(dir, PathBuf::from("/data/plant/reject_images"));
    let dir = default_dir("sqlite://tracemark.db");
    assert!(
        dir.is_absolute() && dir.ends_with("reject_images"),
        "{dir:?}"
    );
    let dir = default_dir("postgres://u@h/db");
    assert!(
        dir.is_absolute() && dir.ends_with("reject_images"),
        "{dir:?}"
    );
}

#[test]
fn file_names_are_safe_whatever_the_reader() {
    let hash = "0123456789abcdef0123";
    assert_eq!(file_name("cam-1", 7, hash), "cam-1-7-0123456789abcdef.png");
    assert_eq!(
        file_name("../etc/x y", 7, hash),
        "___etc_x_y-7-0123456789abcdef.png"
    );
}
