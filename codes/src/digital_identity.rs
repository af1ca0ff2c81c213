//! Digital-identity codes (数字身份码): `https://<resolver>/<prefix>/<serial>` in a QR code.
//!
//! SAMR 国市监质监规〔2024〕6号 annex 3 §三 (seed 001) names the digital-identity code as one of
//! the four free coding schemes: an ISO/IEC 18004 QR code carrying a URL resolved by the operator's
//! platform. The annex fixes no URL shape; tracemark uses the shape of SPEC §4,
//! `https://<resolver>/<prefix>/<serial>`, with the resolver host and the prefix path configured
//! per platform.
//!
//! Strictness, so that a printed URL always parses back to the serial it was made from:
//! - the scheme must be `https` (compared case-insensitively, as QR alphanumeric mode upper-cases);
//! - the host (and optional `:port`) is compared case-insensitively (RFC 3986 §6.2.2.1);
//! - prefix segments and the serial use only RFC 3986 §2.3 *unreserved* characters
//!   (`A-Z a-z 0-9 - . _ ~`), so no percent-encoding is ever needed; `%`, `?`, `#`, `@`, empty
//!   segments and dot-segments (`.`, `..`, RFC 3986 §5.2.4) are rejected, not decoded;
//! - the serial is at most [`MAX_SERIAL_LEN`] characters.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest serial accepted in a digital-identity URL.
pub const MAX_SERIAL_LEN: usize = 128;

/// Where digital-identity URLs point: resolver host and prefix path.
///
/// Deserializes from `{ "host": "...", "prefix": "..." }` and validates on the way in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    try_from = "RawDigitalIdentityConfig",
    into = "RawDigitalIdentityConfig"
)]
pub struct DigitalIdentityConfig {
    /// Lower-cased host, with optional `:port`.
    host: String,
    /// Prefix segments joined by `/`, no leading or trailing slash; may be empty.
    prefix: String,
}

/// The configuration as written in a line configuration, before validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDigitalIdentityConfig {
    /// Resolver host name, optionally with `:port`, e.g. `id.example.cn`.
    pub host: String,
    /// Path before the serial, e.g. `p/01`; leading and trailing slashes are ignored. Default: empty.
    #[serde(default)]
    pub prefix: String,
}

/// A parsed digital-identity code: the serial it carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DigitalIdentity {
    serial: String,
}

/// A digital-identity configuration, URL or serial is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigitalIdentityError {
    /// The configured host is empty or malformed.
    #[error("host: {reason}")]
    Host {
        /// What is wrong with it.
        reason: String,
    },
    /// The configured prefix is malformed.
    #[error("prefix: {reason}")]
    Prefix {
        /// What is wrong with it.
        reason: String,
    },
    /// The URL does not start with `https://`.
    #[error("scheme: expected https://, found {found:?}")]
    Scheme {
        /// What the URL starts with (up to the host).
        found: String,
    },
    /// The URL's host is not the configured resolver.
    #[error("host: expected {expected:?}, found {found:?}")]
    WrongHost {
        /// The configured host.
        expected: String,
        /// The URL's host.
        found: String,
    },
    /// The URL's path does not start with the configured prefix.
    #[error("prefix: expected path /{expected}/<serial>, found {found:?}")]
    WrongPrefix {
        /// The configured prefix.
        expected: String,
        /// The URL's path.
        found: String,
    },
    /// The URL has a query or fragment, which a digital-identity code never carries.
    #[error("url: position {position}: {character:?} (query or fragment) is not allowed")]
    QueryOrFragment {
        /// 1-based character position in the URL.
        position: usize,
        /// `?` or `#`.
        character: char,
    },
    /// The serial is empty, too long, a dot-segment or contains a character outside the
    /// unreserved set.
    #[error("serial: {reason}")]
    Serial {
        /// What is wrong with it.
        reason: String,
    },
}

impl TryFrom<RawDigitalIdentityConfig> for DigitalIdentityConfig {
    type Error = DigitalIdentityError;

    fn try_from(raw: RawDigitalIdentityConfig) -> Result<Self, Self::Error> {
        DigitalIdentityConfig::new(&raw.host, &raw.prefix)
    }
}

impl From<DigitalIdentityConfig> for RawDigitalIdentityConfig {
    fn from(config: DigitalIdentityConfig) -> Self {
        RawDigitalIdentityConfig {
            host: config.host,
            prefix: config.prefix,
        }
    }
}

impl DigitalIdentityConfig {
    /// Validates a resolver host (`name[:port]`) and a prefix path (`a/b`, slashes at either end
    /// ignored, may be empty).
    ///
    /// # Errors
    /// [`DigitalIdentityError::Host`] or [`DigitalIdentityError::Prefix`] saying what is wrong.
    pub fn new(host: &str, prefix: &str) -> Result<Self, DigitalIdentityError> {
        let host = normalize_host(host).map_err(|reason| DigitalIdentityError::Host { reason })?;
        let prefix =
            normalize_prefix(prefix).map_err(|reason| DigitalIdentityError::Prefix { reason })?;
        Ok(DigitalIdentityConfig { host, prefix })
    }

    /// The resolver host (lower case, with `:port` if configured).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The prefix path without leading or trailing slash (may be empty).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Builds the URL for `serial`.
    ///
    /// # Errors
    /// [`DigitalIdentityError::Serial`] if the serial is empty, longer than [`MAX_SERIAL_LEN`], a
    /// dot-segment, or has a character outside `A-Z a-z 0-9 - . _ ~`.
    pub fn format(&self, serial: &str) -> Result<String, DigitalIdentityError> {
        check_serial(serial)?;
        Ok(self.url_for(serial))
    }

    fn url_for(&self, serial: &str) -> String {
        if self.prefix.is_empty() {
            format!("https://{}/{serial}", self.host)
        } else {
            format!("https://{}/{}/{serial}", self.host, self.prefix)
        }
    }

    /// Parses a scanned URL, checking scheme, host, prefix and serial.
    ///
    /// # Errors
    /// The first mismatch, as a [`DigitalIdentityError`].
    pub fn parse(&self, url: &str) -> Result<DigitalIdentity, DigitalIdentityError> {
        if let Some((index, character)) =
            url.chars().enumerate().find(|&(_, c)| c == '?' || c == '#')
        {
            return Err(DigitalIdentityError::QueryOrFragment {
                position: index + 1,
                character,
            });
        }
        let rest = strip_prefix_ignore_case(url, "https://").ok_or_else(|| {
            DigitalIdentityError::Scheme {
                found: url
                    .split("//")
                    .next()
                    .unwrap_or(url)
                    .chars()
                    .take(16)
                    .collect(),
            }
        })?;
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        if !host.eq_ignore_ascii_case(&self.host) {
            return Err(DigitalIdentityError::WrongHost {
                expected: self.host.clone(),
                found: host.to_owned(),
            });
        }
        let serial = if self.prefix.is_empty() {
            Some(path)
        } else {
            path.strip_prefix(self.prefix.as_str())
                .and_then(|p| p.strip_prefix('/'))
        };
        let serial = serial.ok_or_else(|| DigitalIdentityError::WrongPrefix {
            expected: self.prefix.clone(),
            found: format!("/{path}"),
        })?;
        check_serial(serial)?;
        Ok(DigitalIdentity {
            serial: serial.to_owned(),
        })
    }
}

impl DigitalIdentity {
    /// The serial carried by the URL.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The canonical URL of this code under `config`.
    pub fn url(&self, config: &DigitalIdentityConfig) -> String {
        config.url_for(&self.serial)
    }
}

impl fmt::Display for DigitalIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.serial)
    }
}

/// RFC 3986 §2.3 unreserved characters.
pub(crate) fn is_unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
}

/// `s` without a case-insensitive ASCII `prefix`, if it has it.
pub(crate) fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn check_serial(serial: &str) -> Result<(), DigitalIdentityError> {
    let reason = |reason: String| Err(DigitalIdentityError::Serial { reason });
    let count = serial.chars().count();
    if count == 0 {
        return reason("empty".to_owned());
    }
    if count > MAX_SERIAL_LEN {
        return reason(format!(
            "{count} characters, at most {MAX_SERIAL_LEN} allowed"
        ));
    }
    if serial == "." || serial == ".." {
        return reason(format!("{serial:?} is a dot-segment"));
    }
    if let Some((index, c)) = serial.chars().enumerate().find(|&(_, c)| !is_unreserved(c)) {
        return reason(format!(
            "position {}: {c:?} is not allowed (A-Z a-z 0-9 - . _ ~ only)",
            index + 1
        ));
    }
    Ok(())
}

/// Validates `name[:port]` and lower-cases it. Host names are LDH labels (RFC 1123 §2.1).
pub(crate) fn normalize_host(host: &str) -> Result<String, String> {
    if host.contains('/') {
        return Err(format!(
            "{host:?} must be a bare host name[:port], without scheme or path"
        ));
    }
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    if name.is_empty() {
        return Err("empty".to_owned());
    }
    if name.len() > 253 {
        return Err(format!("{} characters, at most 253 allowed", name.len()));
    }
    for (index, c) in name.chars().enumerate() {
        if !(c.is_ascii_alphanumeric() || c == '-' || c == '.') {
            return Err(format!(
                "position {}: {c:?} is not allowed in a host name",
                index + 1
            ));
        }
    }
    if name
        .split('.')
        .any(|label| label.is_empty() || label.starts_with('-') || label.ends_with('-'))
    {
        return Err(format!(
            "{name:?} has an empty label or a label starting or ending with '-'"
        ));
    }
    if let Some(port) = port
        && (port.is_empty()
            || !port.chars().all(|c| c.is_ascii_digit())
            || port.parse::<u16>().is_err())
    {
        return Err(format!("port {port:?} is not a number 0-65535"));
    }
    Ok(host.to_ascii_lowercase())
}

/// Validates a prefix path and returns it without leading or trailing slash.
pub(crate) fn normalize_prefix(prefix: &str) -> Result<String, String> {
    let trimmed = prefix.strip_prefix('/').unwrap_or(prefix);
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    for (index, c) in trimmed.chars().enumerate() {
        if !(is_unreserved(c) || c == '/') {
            return Err(format!(
                "position {}: {c:?} is not allowed (A-Z a-z 0-9 - . _ ~ and / only)",
                index + 1
            ));
        }
    }
    if trimmed
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return Err(format!("{prefix:?} has an empty or dot segment"));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> DigitalIdentityConfig {
        DigitalIdentityConfig::new("ID.Example.cn", "/p/01/").unwrap()
    }

    #[test]
    fn formats_and_parses() {
        let c = config();
        assert_eq!(c.host(), "id.example.cn");
        assert_eq!(c.prefix(), "p/01");
        let url = c.format("A1b2-C3").unwrap();
        assert_eq!(url, "https://id.example.cn/p/01/A1b2-C3");
        assert_eq!(c.parse(&url).unwrap().serial(), "A1b2-C3");
        assert_eq!(
            c.parse("HTTPS://ID.EXAMPLE.CN/p/01/X").unwrap().serial(),
            "X"
        );
    }

    #[test]
    fn empty_prefix() {
        let c = DigitalIdentityConfig::new("id.example.cn:8443", "").unwrap();
        assert_eq!(c.format("42").unwrap(), "https://id.example.cn:8443/42");
        assert_eq!(
            c.parse("https://id.example.cn:8443/42").unwrap().serial(),
            "42"
        );
    }

    #[test]
    fn config_errors() {
        assert_eq!(
            DigitalIdentityConfig::new("", "").unwrap_err().to_string(),
            "host: empty"
        );
        assert_eq!(
            DigitalIdentityConfig::new("https://x.cn", "")
                .unwrap_err()
                .to_string(),
            "host: \"https://x.cn\" must be a bare host name[:port], without scheme or path"
        );
        assert_eq!(
            DigitalIdentityConfig::new("x.cn", "a//b")
                .unwrap_err()
                .to_string(),
            "prefix: \"a//b\" has an empty or dot segment"
        );
    }

    #[test]
    fn serde_validates() {
        let c: DigitalIdentityConfig =
            serde_json::from_str(r#"{"host":"id.example.cn","prefix":"p"}"#).unwrap();
        assert_eq!(c.format("1").unwrap(), "https://id.example.cn/p/1");
        let err = serde_json::from_str::<DigitalIdentityConfig>(r#"{"host":"a b","prefix":""}"#)
            .unwrap_err();
        assert!(err.to_string().contains("host: position 2"), "{err}");
    }
}
