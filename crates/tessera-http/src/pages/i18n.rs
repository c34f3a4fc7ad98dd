//! The pages in English and French, Paris 2024's two languages: the language is the fan's
//! choice (the `tessera_lang` cookie, set by the switch in the header), else the browser's
//! (`Accept-Language`), else English. Each text is written where it is used, in both
//! languages: `tr("Sessions", "Séances")`. The language of a request is a task-local value
//! set around every page's handler (`scoped`), so that no handler has to pass it down.

use axum::http::HeaderMap;

pub const LANG_COOKIE: &str = "tessera_lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Fr,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "en" => Some(Lang::En),
            "fr" => Some(Lang::Fr),
            _ => None,
        }
    }
}

tokio::task_local! {
    static LANG: Lang;
}

/// The language of a request: the cookie, else the first of `fr` and `en` in
/// `Accept-Language` (browsers list languages by preference), else English.
pub fn lang_of(headers: &HeaderMap) -> Lang {
    if let Some(l) = crate::extract::cookie_in(headers, LANG_COOKIE).and_then(Lang::parse) {
        return l;
    }
    let accepted = headers.get(axum::http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
    accepted
        .split(',')
        .take(20)
        .filter_map(|part| part.split(';').next())
        .filter_map(|tag| Lang::parse(&tag.trim().split('-').next().unwrap_or("").to_ascii_lowercase()))
        .next()
        .unwrap_or_default()
}

/// Runs `f` with `lang` as the language of the pages it renders.
pub async fn scoped<F: std::future::Future>(lang: Lang, f: F) -> F::Output {
    LANG.scope(lang, f).await
}

/// The language of the page being rendered.
pub fn current() -> Lang {
    LANG.try_with(|l| *l).unwrap_or_default()
}

/// The text in the current language.
pub fn tr(en: &'static str, fr: &'static str) -> &'static str {
    match current() {
        Lang::En => en,
        Lang::Fr => fr,
    }
}

/// A day as a short label: `Sat 27 Jul` or `sam. 27 juil.`.
pub fn short_day(d: jiff::civil::Date) -> String {
    match current() {
        Lang::En => d.strftime("%a %e %b").to_string(),
        Lang::Fr => {
            const DAYS: [&str; 7] = ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."];
            const MONTHS: [&str; 12] =
                ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."];
            let day = DAYS[d.weekday().to_monday_zero_offset() as usize];
            format!("{day} {} {}", d.day(), MONTHS[(d.month() - 1) as usize])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_wins_then_the_browsers_order_then_english() {
        let mut h = HeaderMap::new();
        assert_eq!(lang_of(&h), Lang::En);
        h.insert("accept-language", "de-DE,fr-CA;q=0.8,en;q=0.5".parse().unwrap());
        assert_eq!(lang_of(&h), Lang::Fr);
        h.insert("cookie", "a=b; tessera_lang=en".parse().unwrap());
        assert_eq!(lang_of(&h), Lang::En);
        h.insert("cookie", "tessera_lang=xx".parse().unwrap());
        assert_eq!(lang_of(&h), Lang::Fr, "an unknown cookie value is ignored");
    }
}
