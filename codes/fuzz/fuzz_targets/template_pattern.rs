//! Template patterns come from line configurations; codes checked against them come from
//! scanners. Neither may panic, and an accepted code must format back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracemark_codes::template::Template;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // First line: the pattern; the rest: a code to check against it.
    let (pattern, code) = text.split_once('\n').unwrap_or((text, ""));
    if let Ok(template) = Template::parse(pattern) {
        if let Ok(parsed) = template.parse_code(code) {
            if let Some(date) = parsed.date() {
                if let Ok(again) = template.format(date, parsed.serial()) {
                    assert_eq!(again, code);
                }
            }
        }
    }
});
