//! Property tests: every GS1 form converts into the others and back without loss.

use proptest::prelude::*;
use tracemark_codes::gs1::{self, DEFAULT_DOMAIN, Gs1Code, check::mod10_check_digit};

const CSET82: &str =
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

fn cset82(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        proptest::sample::select(CSET82.as_bytes().to_vec()),
        1..=max,
    )
    .prop_map(|bytes| bytes.into_iter().map(char::from).collect())
}

fn gtin() -> impl Strategy<Value = String> {
    "[0-9]{13}".prop_map(|data| {
        let check = mod10_check_digit(data.as_bytes())
            .map(char::from)
            .unwrap_or('0');
        format!("{data}{check}")
    })
}

fn date() -> impl Strategy<Value = String> {
    (0u8..100, 1u8..=12, 0u8..=28).prop_map(|(y, m, d)| format!("{y:02}{m:02}{d:02}"))
}

/// A trade-item code with an arbitrary subset of optional AIs, in arbitrary order after the GTIN.
fn trade_item_code() -> impl Strategy<Value = Gs1Code> {
    (
        gtin(),
        proptest::option::of(cset82(20)),
        proptest::option::of(cset82(20)),
        proptest::option::of(date()),
        proptest::option::of(cset82(30)),
        proptest::option::of("[0-9]{6}"),
        any::<u64>(),
    )
        .prop_map(|(gtin, lot, serial, expiry, additional, weight, shuffle)| {
            let mut rest: Vec<(&str, String)> = Vec::new();
            if let Some(v) = lot {
                rest.push(("10", v));
            }
            if let Some(v) = serial {
                rest.push(("21", v));
            }
            if let Some(v) = expiry {
                rest.push(("17", v));
            }
            if let Some(v) = additional {
                rest.push(("240", v));
            }
            if let Some(v) = weight {
                rest.push(("3103", v));
            }
            // A deterministic shuffle driven by the generated number.
            let n = rest.len();
            for i in (1..n).rev() {
                let j = usize::try_from(
                    shuffle.rotate_left(u32::try_from(i).unwrap_or(0)) % (i as u64 + 1),
                )
                .unwrap_or(0);
                rest.swap(i, j);
            }
            let mut pairs = vec![("01", gtin)];
            pairs.extend(rest);
            Gs1Code::from_pairs(pairs).expect("generated codes are valid")
        })
}

proptest! {
    #[test]
    fn hri_round_trips(code in trade_item_code()) {
        prop_assert_eq!(gs1::parse_hri(&code.to_hri()), Ok(code));
    }

    #[test]
    fn element_string_round_trips(code in trade_item_code()) {
        prop_assert_eq!(gs1::parse_element_string(&code.to_element_string(), 0), Ok(code.clone()));
        prop_assert_eq!(gs1::parse(&format!("]d2{}", code.to_element_string())).map(|s| s.code), Ok(code));
    }

    #[test]
    fn digital_link_round_trips(code in trade_item_code()) {
        let uri = code.to_digital_link(DEFAULT_DOMAIN).expect("every trade-item code has a URI");
        let back = gs1::parse_digital_link(&uri).expect("own URI parses");
        // Same elements; the URI puts qualifiers in the standard order, and converting again is stable.
        let mut a: Vec<_> = back.elements().to_vec();
        let mut b: Vec<_> = code.elements().to_vec();
        a.sort_by(|x, y| x.ai().cmp(y.ai()));
        b.sort_by(|x, y| x.ai().cmp(y.ai()));
        prop_assert_eq!(a, b);
        prop_assert_eq!(back.to_digital_link(DEFAULT_DOMAIN), Ok(uri));
    }

    #[test]
    fn arbitrary_input_never_panics(input in "\\PC{0,60}") {
        let _ = gs1::parse(&input);
        let _ = gs1::parse_hri(&input);
        let _ = gs1::parse_digital_link(&input);
    }

    #[test]
    fn mutated_element_strings_fail_cleanly(code in trade_item_code(), at in any::<usize>(), byte in any::<u8>()) {
        let mut data = code.to_element_string().into_bytes();
        let index = at % data.len();
        data[index] = byte;
        if let Ok(text) = String::from_utf8(data) {
            match gs1::parse_element_string(&text, 0) {
                Ok(parsed) => prop_assert_eq!(parsed.to_element_string().len() <= text.len() + 1, true),
                Err(e) => prop_assert!(e.to_string().len() < 200),
            }
        }
    }
}
