//! Compiling a [`RawAsciiConfig`] into an [`AsciiConfig`]: escapes decoded, placeholders
//! checked against where they may appear, `{field}` filled in, and every problem collected with
//! its key (vector `src/config/compiler.rs` style), so an integrator sees them all at once.

use std::fmt;
use std::time::Duration;

use super::config::{AsciiConfig, Command, CounterQuery, InvalidConfig, StatusQuery};
use super::frame::{
    ByteOrder, Checksum, ChecksumEncoding, ChecksumKind, ChecksumPosition, Framing,
};
use super::pattern::{IGNORED, Part, Pattern, printable, unescape};
use super::raw::{RawAsciiConfig, RawCounter, RawFraming, RawStatus};

/// Collects problems while compiling.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn push(&mut self, key: &str, problem: impl fmt::Display) {
        self.0.push(format!("{key}: {problem}"));
    }

    fn bytes(&mut self, key: &str, text: &str) -> Vec<u8> {
        unescape(text).unwrap_or_else(|error| {
            self.push(key, error);
            Vec::new()
        })
    }

    /// Parses a template or pattern whose placeholders must be among `allowed` (or `_`).
    fn pattern(&mut self, key: &str, text: &str, allowed: &[&str]) -> Option<Pattern> {
        let pattern = match Pattern::parse(text) {
            Ok(pattern) => pattern,
            Err(error) => {
                self.push(key, error);
                return None;
            }
        };
        let mut ok = true;
        for (name, _) in pattern.placeholders() {
            if name != IGNORED && !allowed.contains(&name) {
                let known: Vec<String> = allowed.iter().map(|n| format!("{{{n}}}")).collect();
                let known = if known.is_empty() {
                    "none but {_}".to_owned()
                } else {
                    known.join(", ")
                };
                self.push(
                    key,
                    format!("unknown placeholder `{{{name}}}`; allowed here: {known}"),
                );
                ok = false;
            }
        }
        if pattern.is_empty() {
            self.push(key, "empty");
            ok = false;
        }
        ok.then_some(pattern)
    }
}

/// The placeholders command templates may use.
const LOAD_PLACEHOLDERS: &[&str] = &["code", "field", "index", "len"];

pub(super) fn compile(raw: &RawAsciiConfig) -> Result<AsciiConfig, InvalidConfig> {
    let mut problems = Problems::default();
    let framing = compile_framing(&raw.framing, &mut problems);
    if raw.reply_timeout_ms == 0 {
        problems.push("reply_timeout_ms", "0 waits for nothing");
    }
    if raw.depth == Some(0) {
        problems.push("depth", "0 holds no code");
    }
    if raw.max_code_length == Some(0) {
        problems.push("max_code_length", "0 takes no code");
    }
    let field = raw.field.as_ref().map(|field| field.as_bytes().to_vec());
    if let Some(field_bytes) = &field {
        let framing_bytes = [framing.prefix(), framing.suffix(), framing.reply_prefix()];
        if field_bytes
            .iter()
            .any(|byte| framing_bytes.iter().any(|bytes| bytes.contains(byte)))
        {
            problems.push("field", "contains a framing byte (prefix or suffix)");
        }
    }

    let commands = &raw.commands;
    let mut templates = Vec::new();
    let listed = [
        (Command::Load, Some(&commands.load)),
        (Command::Start, commands.start.as_ref()),
        (Command::Stop, commands.stop.as_ref()),
        (Command::Clear, Some(&commands.clear)),
        (Command::Status, raw.status.as_ref().map(|s| &s.query)),
        (Command::Count, raw.counter.as_ref().map(|c| &c.query)),
    ];
    for (command, text) in listed {
        let Some(text) = text else { continue };
        let allowed: &[&str] = if command == Command::Load {
            LOAD_PLACEHOLDERS
        } else {
            &["field"]
        };
        let Some(template) = problems.pattern(command.key(), text, allowed) else {
            continue;
        };
        check_template(command, &template, field.is_some(), &framing, &mut problems);
        let resolved =
            template.substitute(|name| (name == "field").then(|| field.clone()).flatten());
        if let Err(error) = resolved.check_unambiguous() {
            problems.push(command.key(), error);
        }
        templates.push((command, resolved));
    }
    check_distinct(&templates, &mut problems);

    let replies = &raw.replies;
    let ack = problems.pattern("replies.ack", &replies.ack, &[]);
    let nak = problems.pattern("replies.nak", &replies.nak, &["reason"]);
    let buffer_full = replies
        .buffer_full
        .as_ref()
        .and_then(|text| problems.pattern("replies.buffer_full", text, &["reason"]));
    for (key, pattern) in [
        ("replies.ack", ack.as_ref()),
        ("replies.nak", nak.as_ref()),
        ("replies.buffer_full", buffer_full.as_ref()),
    ] {
        check_reply(key, pattern, &framing, &mut problems);
    }
    let status = raw
        .status
        .as_ref()
        .and_then(|status| compile_status(status, nak.as_ref(), &framing, &mut problems));
    let counter = raw
        .counter
        .as_ref()
        .and_then(|counter| compile_counter(counter, nak.as_ref(), &framing, &mut problems));
    let status_counts = status
        .as_ref()
        .is_some_and(|s| s.reply.placeholders().any(|(name, _)| name == "count"));
    // A status section that did not compile may have had the {count}: no second report.
    let status_failed = raw.status.is_some() && status.is_none();
    if raw.counter.is_none() && !status_counts && !status_failed {
        problems.push(
            "counter",
            "missing: prints are confirmed by the print counter; give a [counter] query or \
             capture {count} in status.reply",
        );
    }

    let (Some(ack), Some(nak)) = (ack, nak) else {
        return Err(InvalidConfig(problems.0));
    };
    if !problems.0.is_empty() {
        return Err(InvalidConfig(problems.0));
    }
    Ok(AsciiConfig {
        model: raw.model.clone(),
        reply_timeout: Duration::from_millis(raw.reply_timeout_ms),
        depth: raw.depth,
        field: raw.field.clone(),
        max_code_length: raw.max_code_length,
        framing,
        templates,
        ack,
        nak,
        buffer_full,
        nak_reasons: replies.nak_reasons.clone(),
        status,
        counter,
    })
}

fn compile_framing(raw: &RawFraming, problems: &mut Problems) -> Framing {
    let prefix = problems.bytes("framing.prefix", &raw.prefix);
    let suffix = problems.bytes("framing.suffix", &raw.suffix);
    if suffix.is_empty() && unescape(&raw.suffix).is_ok() {
        problems.push(
            "framing.suffix",
            "empty: every frame must end with at least one byte",
        );
    }
    let reply_prefix = match &raw.reply_prefix {
        Some(text) => problems.bytes("framing.reply_prefix", text),
        None => prefix.clone(),
    };
    let kind = raw.checksum;
    if raw.checksum_encoding == ChecksumEncoding::Raw
        && kind != ChecksumKind::None
        && raw.checksum_position == ChecksumPosition::BeforeSuffix
    {
        problems.push(
            "framing.checksum_encoding",
            "a raw checksum byte may equal a suffix byte, so it must come after the suffix \
             (checksum_position = \"after_suffix\")",
        );
    }
    if raw.checksum_byte_order.is_some() && kind.width() != 2 {
        problems.push(
            "framing.checksum_byte_order",
            "only a 16-bit checksum has a byte order",
        );
    }
    let byte_order = raw.checksum_byte_order.unwrap_or(match kind {
        // Modbus RTU sends its CRC low byte first (MBSL §6.2.2).
        ChecksumKind::Crc16Modbus => ByteOrder::LowFirst,
        _ => ByteOrder::HighFirst,
    });
    let checksum = Checksum {
        kind,
        encoding: raw.checksum_encoding,
        position: raw.checksum_position,
        covers: raw.checksum_covers,
        byte_order,
    };
    Framing::new(prefix, suffix, reply_prefix, checksum)
}

/// A template must not carry the suffix (the device would end the frame there), a load needs
/// `{code}`, `{field}` needs a value, and only numbers take a width.
fn check_template(
    command: Command,
    template: &Pattern,
    has_field: bool,
    framing: &Framing,
    problems: &mut Problems,
) {
    let key = command.key();
    if contains_suffix(template, framing) {
        problems.push(
            key,
            format!(
                "contains the suffix `{}`, which would end the frame early",
                printable(framing.suffix())
            ),
        );
    }
    let names: Vec<(&str, Option<usize>)> = template.placeholders().collect();
    if command == Command::Load && !names.iter().any(|(name, _)| *name == "code") {
        problems.push(key, "has no {code}");
    }
    for (name, width) in names {
        if name == "field" && !has_field {
            problems.push(key, "uses {field} but no `field` is given");
        }
        if width.is_some() && matches!(name, "code" | "field") {
            problems.push(key, format!("{{{name}}} is text and takes no width"));
        }
    }
}

/// Two commands the device could not tell apart.
fn check_distinct(templates: &[(Command, Pattern)], problems: &mut Problems) {
    for (i, (command, template)) in templates.iter().enumerate() {
        if !template.is_literal() {
            continue;
        }
        if let Some((other, _)) = templates[..i]
            .iter()
            .find(|(_, earlier)| earlier.is_literal() && earlier.parts() == template.parts())
        {
            problems.push(
                command.key(),
                format!("the same command as {}", other.key()),
            );
        }
    }
}

fn contains_suffix(pattern: &Pattern, framing: &Framing) -> bool {
    let suffix = framing.suffix();
    !suffix.is_empty()
        && pattern.parts().iter().any(|part| match part {
            Part::Literal(bytes) => bytes.windows(suffix.len()).any(|w| w == suffix),
            Part::Placeholder { .. } => false,
        })
}

fn check_reply(key: &str, pattern: Option<&Pattern>, framing: &Framing, problems: &mut Problems) {
    let Some(pattern) = pattern else { return };
    if let Err(error) = pattern.check_unambiguous() {
        problems.push(key, error);
    }
    if contains_suffix(pattern, framing) {
        problems.push(
            key,
            format!(
                "contains the suffix `{}`: a reply ends at its first suffix",
                printable(framing.suffix())
            ),
        );
    }
}

fn compile_status(
    raw: &RawStatus,
    nak: Option<&Pattern>,
    framing: &Framing,
    problems: &mut Problems,
) -> Option<StatusQuery> {
    let reply = problems.pattern(
        "status.reply",
        &raw.reply,
        &["state", "fault", "level", "count"],
    );
    check_reply("status.reply", reply.as_ref(), framing, problems);
    let own_nak = raw
        .nak
        .as_ref()
        .and_then(|text| problems.pattern("status.nak", text, &["reason"]));
    check_reply("status.nak", own_nak.as_ref(), framing, problems);
    let reply = reply?;
    let captures = |name: &str| reply.placeholders().any(|(n, _)| n == name);
    if captures("state") {
        if raw.ok_states.is_empty() || raw.fault_states.is_empty() {
            problems.push(
                "status.ok_states",
                "status.reply captures {state}: name its healthy values (ok_states) and its \
                 fault values (fault_states)",
            );
        }
        for state in &raw.fault_states {
            if raw.ok_states.contains(state) {
                problems.push(
                    "status.fault_states",
                    format!("`{state}` is also in ok_states"),
                );
            }
        }
    } else if !raw.ok_states.is_empty() || !raw.fault_states.is_empty() {
        problems.push(
            "status.fault_states",
            "status.reply has no {state} to compare with ok_states and fault_states",
        );
    }
    if captures("fault") && raw.no_fault.is_empty() {
        problems.push(
            "status.no_fault",
            "empty: name the {fault} value of a healthy device",
        );
    }
    Some(StatusQuery {
        reply,
        nak: own_nak.or_else(|| nak.cloned())?,
        ok_states: raw.ok_states.clone(),
        fault_states: raw.fault_states.clone(),
        no_fault: raw.no_fault.clone(),
        fault_text: raw.fault_text.clone(),
    })
}

fn compile_counter(
    raw: &RawCounter,
    nak: Option<&Pattern>,
    framing: &Framing,
    problems: &mut Problems,
) -> Option<CounterQuery> {
    let reply = problems.pattern("counter.reply", &raw.reply, &["count"]);
    check_reply("counter.reply", reply.as_ref(), framing, problems);
    let own_nak = raw
        .nak
        .as_ref()
        .and_then(|text| problems.pattern("counter.nak", text, &["reason"]));
    check_reply("counter.nak", own_nak.as_ref(), framing, problems);
    if raw.modulus.is_some_and(|modulus| modulus < 2) {
        problems.push("counter.modulus", "must be at least 2");
    }
    let reply = reply?;
    if !reply.placeholders().any(|(name, _)| name == "count") {
        problems.push("counter.reply", "has no {count}");
    }
    Some(CounterQuery {
        reply,
        nak: own_nak.or_else(|| nak.cloned())?,
        modulus: raw.modulus,
    })
}
