//! Bilingual text: [`Lang`], [`Text`] and [`tx`].
//!
//! The bottom floor of netlab: every other module may use it, and it imports
//! nothing of netlab. A [`Text`] carries both languages, so a run's record is
//! the same whatever `--lang` was; a renderer picks one when it shows it.

use serde::{Deserialize, Serialize};

/// Output language.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// 中文
    Zh,
    /// English
    En,
}

impl Lang {
    /// The language a user's locale asks for: LC_ALL, then LC_MESSAGES, then
    /// LANG; anything starting with `zh` is Chinese, everything else English.
    pub fn from_env_values(
        lc_all: Option<&str>,
        lc_messages: Option<&str>,
        lang: Option<&str>,
    ) -> Lang {
        let chosen = [lc_all, lc_messages, lang]
            .into_iter()
            .flatten()
            .find(|v| !v.is_empty());
        match chosen {
            Some(v) if v.to_ascii_lowercase().starts_with("zh") => Lang::Zh,
            _ => Lang::En,
        }
    }

    /// [`Lang::from_env_values`] over the process environment.
    pub fn from_env() -> Lang {
        let get = |k| std::env::var(k).ok();
        Lang::from_env_values(
            get("LC_ALL").as_deref(),
            get("LC_MESSAGES").as_deref(),
            get("LANG").as_deref(),
        )
    }

    /// The short code used in JSON and HTML (`zh`, `en`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }
}

/// A piece of prose in both languages; in JSON, `{"en": …, "zh": …}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Text {
    /// English.
    pub en: String,
    /// Chinese.
    pub zh: String,
}

impl Text {
    /// The text in the given language.
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }

    /// True when both languages are empty.
    pub fn is_empty(&self) -> bool {
        self.en.is_empty() && self.zh.is_empty()
    }
}

impl From<String> for Text {
    /// A value that reads the same in both languages (an address, a number).
    fn from(s: String) -> Text {
        Text {
            en: s.clone(),
            zh: s,
        }
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::from(s.to_string())
    }
}

/// Build a [`Text`] from English and Chinese.
pub fn tx(en: impl Into<String>, zh: impl Into<String>) -> Text {
    Text {
        en: en.into(),
        zh: zh.into(),
    }
}

/// "1 read", "3 reads": a count with its noun, in English (Chinese needs none).
pub fn plural(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_both_languages_in_json() {
        let t = tx("reply", "应答");
        let v = serde_json::to_value(&t).unwrap();
        assert_eq!(v, serde_json::json!({"en": "reply", "zh": "应答"}));
        assert_eq!(serde_json::from_value::<Text>(v).unwrap(), t);
        assert_eq!(t.get(Lang::Zh), "应答");
    }

    #[test]
    fn locale_chooses_the_language() {
        assert_eq!(
            Lang::from_env_values(None, None, Some("zh_CN.UTF-8")),
            Lang::Zh
        );
        assert_eq!(
            Lang::from_env_values(Some(""), None, Some("en_US")),
            Lang::En
        );
        assert_eq!(Lang::from_env_values(None, None, None), Lang::En);
    }
}
