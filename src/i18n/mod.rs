//! English and Dutch catalogs (Fluent files under `locales/`, compiled in).
//! Pages, messages and emails share the same keys.

use std::borrow::Cow;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{LazyLock, RwLock};

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader, langid, static_loader};

static_loader! {
    static CATALOG = {
        locales: "./src/i18n/locales",
        fallback_language: "en",
        // No Unicode isolation marks around arguments: messages are fixed English text.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// Messages without arguments, formatted once per language: a page asks for
/// dozens of them, and Fluent would resolve and format each one anew on every
/// request. Keys come from the code, so the map stays small; it is capped anyway.
static PLAIN: [LazyLock<RwLock<HashMap<String, String>>>; 2] = [
    LazyLock::new(Default::default),
    LazyLock::new(Default::default),
];
const PLAIN_CAP: usize = 4096;

static EN: LanguageIdentifier = langid!("en");
static NL: LanguageIdentifier = langid!("nl");

/// The languages the shop speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    #[default]
    En,
    Nl,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::En, Locale::Nl];

    pub fn code(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Nl => "nl",
        }
    }

    /// The language's own name, for the language switch.
    pub fn native_name(self) -> &'static str {
        match self {
            Locale::En => "English",
            Locale::Nl => "Nederlands",
        }
    }

    fn langid(self) -> &'static LanguageIdentifier {
        match self {
            Locale::En => &EN,
            Locale::Nl => &NL,
        }
    }

    /// The first supported language of an Accept-Language header, by q-value.
    pub fn from_accept_language(header: &str) -> Option<Locale> {
        let mut best: Option<(f32, Locale)> = None;
        for part in header.split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next().unwrap_or("").trim();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            if let Ok(locale) = primary.parse::<Locale>()
                && q > 0.0
                && best.is_none_or(|(bq, _)| q > bq)
            {
                best = Some((q, locale));
            }
        }
        best.map(|(_, l)| l)
    }

    /// The message for `key`.
    pub fn t(self, key: &str) -> String {
        let cache = &PLAIN[self as usize];
        if let Some(text) = cache.read().ok().and_then(|c| c.get(key).cloned()) {
            return text;
        }
        let text = CATALOG.lookup(self.langid(), key);
        if let Ok(mut c) = cache.write()
            && c.len() < PLAIN_CAP
        {
            c.insert(key.to_string(), text.clone());
        }
        text
    }

    /// The message for `key` with named arguments.
    pub fn t_with(self, key: &str, args: &[(&'static str, &str)]) -> String {
        let args: HashMap<Cow<'static, str>, FluentValue> = args
            .iter()
            .map(|(name, value)| (Cow::Borrowed(*name), FluentValue::from(value.to_string())))
            .collect();
        CATALOG.lookup_with_args(self.langid(), key, &args)
    }
}

impl FromStr for Locale {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "en" => Ok(Locale::En),
            "nl" => Ok(Locale::Nl),
            other => Err(format!("unsupported locale {other:?}: use en or nl")),
        }
    }
}

impl std::fmt::Display for Locale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_supported() {
        assert_eq!(
            Locale::from_accept_language("nl-NL,nl;q=0.9,en;q=0.8"),
            Some(Locale::Nl)
        );
        assert_eq!(
            Locale::from_accept_language("de-DE,en;q=0.5"),
            Some(Locale::En)
        );
        assert_eq!(Locale::from_accept_language("fr"), None);
    }

    #[test]
    fn a_cached_message_is_the_catalog_s() {
        for locale in Locale::ALL {
            for key in ["login-title", "nav-sign-in", "no-such-key-anywhere"] {
                let first = locale.t(key);
                assert_eq!(first, CATALOG.lookup(locale.langid(), key));
                assert_eq!(locale.t(key), first, "{locale} {key}");
            }
        }
        assert_ne!(Locale::En.t("login-title"), Locale::Nl.t("login-title"));
    }

    #[test]
    fn messages_have_no_isolation_marks() {
        let text = Locale::En.t_with("forgot-sent", &[("email", "a@b.c")]);
        assert_eq!(
            text,
            "If there is an account associated with a@b.c you will receive an email with a link to reset your password."
        );
    }

    /// Every key of the English catalog exists in Dutch too.
    #[test]
    fn dutch_catalog_is_complete() {
        let en = include_str!("locales/en/main.ftl");
        let nl = include_str!("locales/nl/main.ftl");
        let keys = |s: &str| -> Vec<String> {
            s.lines()
                .filter(|l| !l.starts_with('#') && !l.starts_with(' ') && l.contains(" ="))
                .map(|l| l.split(" =").next().unwrap().trim().to_string())
                .collect()
        };
        let nl_keys = keys(nl);
        let missing: Vec<_> = keys(en)
            .into_iter()
            .filter(|k| !nl_keys.contains(k))
            .collect();
        assert!(missing.is_empty(), "missing in nl: {missing:?}");
    }
}
