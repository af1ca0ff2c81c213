//! The resolver URL form of an Ecode: `https://<host>[/<prefix>]/E=<code>`.
//!
//! The national Ecode platform (SAMR 2024 annex 3 §二: `https://www.iotroot.com`) resolves a
//! code given as a path segment `E=<code>`; public integrations query
//! `https://www.iotroot.com/E=<code>` (and an API variant with the prefix `api/query/search`).
//! GB/T 35420-2017/-2025 specify a "URL data structure" for Ecode in 2D codes whose text is not
//! publicly available, so the host and the prefix are configuration, not constants:
//! [`EcodeResolver::default`] is the platform's public host with an empty prefix.
//!
//! Parsing accepts `http` and `https` (older labels print `http://`), compares scheme and host
//! case-insensitively, requires the prefix exactly, and refuses query strings, fragments and
//! percent-encoding: the code is always plain digits, so anything else is a misprint or a
//! different URL.

use serde::{Deserialize, Serialize};

use super::{Ecode, EcodeError};
use crate::digital_identity::{normalize_host, normalize_prefix, strip_prefix_ignore_case};

/// The public host of the national Ecode platform (SAMR 2024 annex 3 §二).
pub const DEFAULT_ECODE_HOST: &str = "www.iotroot.com";

/// The path segment marker in front of the code.
const MARKER: &str = "E=";

/// Where Ecode URLs resolve: host (with optional `:port`) and a prefix path before `E=<code>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawEcodeResolver", into = "RawEcodeResolver")]
pub struct EcodeResolver {
    host: String,
    prefix: String,
}

/// The resolver configuration as written, before validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEcodeResolver {
    /// Resolver host, default `www.iotroot.com`.
    #[serde(default = "default_host")]
    pub host: String,
    /// Path before `E=<code>`, e.g. `api/query/search`. Default: empty.
    #[serde(default)]
    pub prefix: String,
}

fn default_host() -> String {
    DEFAULT_ECODE_HOST.to_owned()
}

/// Why an Ecode URL or resolver configuration is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EcodeUrlError {
    /// The configured host is malformed.
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
    /// Neither `http://` nor `https://`.
    #[error("scheme: expected https:// or http://, found {found:?}")]
    Scheme {
        /// The start of the URL.
        found: String,
    },
    /// Another host than the configured resolver.
    #[error("host: expected {expected:?}, found {found:?}")]
    WrongHost {
        /// The configured host.
        expected: String,
        /// The URL's host.
        found: String,
    },
    /// The path is not `/<prefix>/E=<code>`.
    #[error("path: expected {expected:?} followed by the code, found {found:?}")]
    WrongPath {
        /// The expected path start.
        expected: String,
        /// The URL's path.
        found: String,
    },
    /// `?`, `#` or `%` in the URL.
    #[error(
        "url: position {position}: {character:?} is not allowed (no query, fragment or percent-encoding)"
    )]
    Character {
        /// 1-based position in the URL.
        position: usize,
        /// The offending character.
        character: char,
    },
    /// The code after `E=` is not a valid Ecode.
    #[error(transparent)]
    Code(#[from] EcodeError),
}

impl Default for EcodeResolver {
    fn default() -> Self {
        EcodeResolver {
            host: DEFAULT_ECODE_HOST.to_owned(),
            prefix: String::new(),
        }
    }
}

impl TryFrom<RawEcodeResolver> for EcodeResolver {
    type Error = EcodeUrlError;

    fn try_from(raw: RawEcodeResolver) -> Result<Self, Self::Error> {
        EcodeResolver::new(&raw.host, &raw.prefix)
    }
}

impl From<EcodeResolver> for RawEcodeResolver {
    fn from(resolver: EcodeResolver) -> Self {
        RawEcodeResolver {
            host: resolver.host,
            prefix: resolver.prefix,
        }
    }
}

impl EcodeResolver {
    /// A resolver at `host` (`name[:port]`) with the path `prefix` before `E=<code>` (slashes
    /// at either end ignored, may be empty).
    ///
    /// # Errors
    /// [`EcodeUrlError::Host`] or [`EcodeUrlError::Prefix`].
    pub fn new(host: &str, prefix: &str) -> Result<Self, EcodeUrlError> {
        let host = normalize_host(host).map_err(|reason| EcodeUrlError::Host { reason })?;
        let prefix = normalize_prefix(prefix).map_err(|reason| EcodeUrlError::Prefix { reason })?;
        Ok(EcodeResolver { host, prefix })
    }

    /// The configured host, lower case.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The configured prefix, without leading or trailing slash.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn path_start(&self) -> String {
        if self.prefix.is_empty() {
            format!("/{MARKER}")
        } else {
            format!("/{}/{MARKER}", self.prefix)
        }
    }

    /// The `https` URL of `code`.
    pub fn format(&self, code: &Ecode) -> String {
        format!(
            "https://{}{}{}",
            self.host,
            self.path_start(),
            code.as_str()
        )
    }

    /// Parses a scanned URL and the Ecode in it.
    ///
    /// # Errors
    /// The first mismatch; an invalid code after `E=` is [`EcodeUrlError::Code`].
    pub fn parse(&self, url: &str) -> Result<Ecode, EcodeUrlError> {
        if let Some((index, character)) = url
            .chars()
            .enumerate()
            .find(|&(_, c)| matches!(c, '?' | '#' | '%'))
        {
            return Err(EcodeUrlError::Character {
                position: index + 1,
                character,
            });
        }
        let rest = strip_prefix_ignore_case(url, "https://")
            .or_else(|| strip_prefix_ignore_case(url, "http://"))
            .ok_or_else(|| EcodeUrlError::Scheme {
                found: url.chars().take(8).collect(),
            })?;
        let (host, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash..]),
            None => (rest, ""),
        };
        if !host.eq_ignore_ascii_case(&self.host) {
            return Err(EcodeUrlError::WrongHost {
                expected: self.host.clone(),
                found: host.to_owned(),
            });
        }
        let expected = self.path_start();
        // The prefix and `E=` must match exactly (upper-casing a whole URL for QR alphanumeric
        // mode leaves `E=` and the digits unchanged; a prefix with lower-case letters would not be).
        let code =
            path.strip_prefix(expected.as_str())
                .ok_or_else(|| EcodeUrlError::WrongPath {
                    expected: expected.clone(),
                    found: path.to_owned(),
                })?;
        Ok(Ecode::parse(code)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_resolver_round_trip() {
        let resolver = EcodeResolver::default();
        let code = Ecode::parse("1000120240000000001").unwrap();
        let url = resolver.format(&code);
        assert_eq!(url, "https://www.iotroot.com/E=1000120240000000001");
        assert_eq!(resolver.parse(&url).unwrap(), code);
        assert_eq!(
            resolver
                .parse("HTTP://WWW.IOTROOT.COM/E=1000120240000000001")
                .unwrap(),
            code
        );
    }

    #[test]
    fn prefixed_resolver() {
        let resolver = EcodeResolver::new("ecode.example.cn", "/api/query/search/").unwrap();
        let code = Ecode::v1("0001", "7").unwrap();
        assert_eq!(
            resolver.format(&code),
            "https://ecode.example.cn/api/query/search/E=100017"
        );
        assert_eq!(
            resolver
                .parse("https://ecode.example.cn/E=100017")
                .unwrap_err()
                .to_string(),
            "path: expected \"/api/query/search/E=\" followed by the code, found \"/E=100017\""
        );
    }

    #[test]
    fn serde_defaults_to_the_platform() {
        let resolver: EcodeResolver = serde_json::from_str("{}").unwrap();
        assert_eq!(resolver, EcodeResolver::default());
    }
}
