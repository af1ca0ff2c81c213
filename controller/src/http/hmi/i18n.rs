//! The HMI's words in English and Simplified Chinese (issue 16 item 4: switchable per user).
//! Each language is one TOML table of key → text, built into the binary; a test checks both
//! have every key. A key missing at run time shows as the key itself, never as a blank.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::app::users::Language;

const EN: &str = include_str!("i18n/en.toml");
const ZH_CN: &str = include_str!("i18n/zh-CN.toml");

/// The words of one language.
#[derive(Debug, Clone, Default)]
pub struct Words(BTreeMap<String, String>);

impl Words {
    /// The text of `key`, or the key itself when it has none.
    pub fn t<'a>(&'a self, key: &'a str) -> &'a str {
        self.0.get(key).map_or(key, String::as_str)
    }

    /// Every key.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

fn parse(text: &str, name: &str) -> Words {
    match toml::from_str::<BTreeMap<String, String>>(text) {
        Ok(map) => Words(map),
        Err(error) => {
            // Built into the binary and checked by a test: only a defect gets here.
            tracing::error!(%error, "the HMI's {name} words do not parse");
            Words::default()
        }
    }
}

/// The words of `language`.
pub fn words(language: Language) -> &'static Words {
    static EN_WORDS: OnceLock<Words> = OnceLock::new();
    static ZH_WORDS: OnceLock<Words> = OnceLock::new();
    match language {
        Language::En => EN_WORDS.get_or_init(|| parse(EN, "en")),
        Language::ZhCn => ZH_WORDS.get_or_init(|| parse(ZH_CN, "zh-CN")),
    }
}

/// The `lang` attribute of a page in `language`.
pub fn html_lang(language: Language) -> &'static str {
    match language {
        Language::En => "en",
        Language::ZhCn => "zh-CN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_every_key_and_no_empty_text() {
        let en: Vec<&str> = words(Language::En).keys().collect();
        let zh: Vec<&str> = words(Language::ZhCn).keys().collect();
        assert!(en.len() > 40, "{en:?}");
        let only_en: Vec<_> = en.iter().filter(|k| !zh.contains(k)).collect();
        let only_zh: Vec<_> = zh.iter().filter(|k| !en.contains(k)).collect();
        assert!(only_en.is_empty(), "missing in zh-CN.toml: {only_en:?}");
        assert!(only_zh.is_empty(), "missing in en.toml: {only_zh:?}");
        for language in [Language::En, Language::ZhCn] {
            for key in words(language).keys() {
                assert!(!words(language).t(key).trim().is_empty(), "{key}");
            }
        }
        assert_eq!(words(Language::ZhCn).t("nav_batches"), "批次");
        assert_eq!(words(Language::En).t("no_such_key"), "no_such_key");
    }

    #[test]
    fn every_key_a_template_uses_is_in_the_words() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/hmi");
        let known: Vec<&str> = words(Language::En).keys().collect();
        let mut used = 0;
        for entry in std::fs::read_dir(&dir).expect("the templates") {
            let path = entry.expect("an entry").path();
            let text = std::fs::read_to_string(&path).expect("a template");
            for (at, _) in text.match_indices("t(\"") {
                let key: String = text[at + 3..].chars().take_while(|c| *c != '"').collect();
                assert!(known.contains(&key.as_str()), "{}: {key}", path.display());
                used += 1;
            }
        }
        assert!(used > 30, "{used} keys used");
    }
}
