//! The pages in English and French, Paris 2024's two languages: the language is the fan's
//! choice (the `tessera_lang` cookie, set by the switch in the header), else the browser's
//! (`Accept-Language`), else English. Each text is written where it is used, in both
//! languages: `tr("Sessions", "Séances")`. The language of a request is a task-local value
//! set around every page's handler (`scoped`), so that no handler has to pass it down.

use crate::error::ApiError;
use axum::http::HeaderMap;
use tessera_domain::ErrorCode;

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

/// What a refusal says to a fan in the page's language. The English text is the message the
/// app wrote, which names the detail (the field, the cap); the French text is the code's own
/// sentence ([`error_fr`]), with the detail kept where only it says what to correct.
pub fn error_text(e: &ApiError) -> std::borrow::Cow<'_, str> {
    match current() {
        Lang::En => std::borrow::Cow::Borrowed(e.message.as_str()),
        Lang::Fr => match e.code {
            ErrorCode::InvalidInput | ErrorCode::InvalidForm | ErrorCode::InvalidQuery => {
                std::borrow::Cow::Owned(format!("{} ({})", error_fr(e.code), e.message))
            }
            c => std::borrow::Cow::Borrowed(error_fr(c)),
        },
    }
}

/// Every error code in French, as a fan or an operator reads it. One match over the closed
/// set of codes, so that a new code does not build until it has its sentence.
pub fn error_fr(code: ErrorCode) -> &'static str {
    use ErrorCode as C;
    match code {
        C::InvalidInput => "Une valeur saisie n'est pas valable",
        C::InvalidQuery => "Un critère de recherche n'est pas valable",
        C::InvalidPath => "Cette adresse n'est pas valable.",
        C::InvalidJson | C::InvalidBody => "La requête est mal formée.",
        C::InvalidForm => "Le formulaire est incomplet ou mal rempli",
        C::BodyTooLarge => "La requête est trop volumineuse.",
        C::UnsupportedMediaType => "Ce type de contenu n'est pas accepté.",
        C::MethodNotAllowed => "Cette action n'est pas possible à cette adresse.",
        C::NoSuchEndpoint => "Cette page n'existe pas.",
        C::UpgradeRequired => "Cette adresse ne répond qu'en WebSocket.",
        C::IdempotencyKeyMissing => "La requête n'a pas de clé d'idempotence.",
        C::IdempotencyKeyReused => "Cette clé a déjà servi pour une autre demande.",
        C::CheckoutInProgress => "Un paiement est déjà en cours pour ce panier ; patientez un instant.",
        C::Unauthenticated => "Connectez-vous d'abord.",
        C::BadCredentials => "Adresse e-mail ou mot de passe incorrect.",
        C::BadToken => "Ce lien ou ce jeton n'est pas valable ou a expiré.",
        C::Forbidden => "Vous n'avez pas accès à cette page.",
        C::EmailNotVerified => "Confirmez d'abord votre adresse e-mail (voir votre courrier).",
        C::BadCsrf => "Ce formulaire a expiré ; rechargez la page et réessayez.",
        C::SigninThrottled => "Trop de tentatives de connexion ; réessayez dans quelques minutes.",
        C::MetricsTokenRequired => "Les métriques demandent un jeton.",
        C::NotFound => "Introuvable : cet élément n'existe pas, ou plus.",
        C::Conflict => "Cela existe déjà.",
        C::InvalidState => "Ce n'est plus possible dans l'état actuel.",
        C::SoldOut => "Il ne reste plus assez de places dans cette catégorie.",
        C::CapExceeded => {
            "Cet achat dépasserait une limite (30 billets par compte, 6 par séance, 4 pour les cérémonies)."
        }
        C::OutsideSlot => "Vous n'avez pas de créneau d'achat ouvert pour cette phase.",
        C::CartExpired => "Votre panier a expiré ; les places ont été remises en vente.",
        C::CartEmpty => "Votre panier est vide.",
        C::NotPublished => "Ce n'est pas encore publié.",
        C::NoTicket => "Aucun billet ne correspond.",
        C::CardDeclined => "La carte a été refusée.",
        C::InsufficientFunds => "Provision insuffisante sur la carte.",
        C::ExpiredCard => "La carte a expiré.",
        C::IncorrectCvc => "Le cryptogramme (CVC) est incorrect.",
        C::InvalidCard => "Le numéro de carte n'est pas valable.",
        C::InvalidPayment => "Le paiement n'est pas valable.",
        C::RateLimitedAddress | C::RateLimitedNetwork | C::RateLimitedGate => {
            "Trop de requêtes ; patientez quelques secondes avant de réessayer."
        }
        C::Throttled => "Le service est très demandé ; patientez quelques secondes avant de réessayer.",
        C::Blocked => "L'accès vous est refusé depuis cette adresse.",
        C::TooManyConnections => "Trop de connexions ouvertes ; réessayez dans un instant.",
        C::HeadersTooLarge => "Les en-têtes de la requête sont trop volumineux.",
        C::TokenForged => "Ce jeton de file d'attente n'est pas valable.",
        C::TokenExpired => "Votre passage a expiré ; rejoignez de nouveau la file d'attente.",
        C::TokenOtherAccount => "Ce jeton de file d'attente appartient à un autre compte.",
        C::NotAdmitted => "Ce n'est pas encore votre tour dans la file d'attente.",
        C::PowRequired => "Une vérification de votre navigateur est nécessaire.",
        C::PowFailed => "La vérification de votre navigateur a échoué ; réessayez.",
        C::PowReplayed => "Cette vérification a déjà servi ; réessayez.",
        C::GateRevoked => "Ce portique a été révoqué.",
        C::StorageUnavailable => "Le service est momentanément indisponible ; réessayez dans un instant.",
        C::PaymentUnavailable => {
            "Le prestataire de paiement ne répond pas ; réessayez dans un instant, vous ne serez pas débité deux fois."
        }
        C::BusUnavailable => "Le service est momentanément indisponible ; réessayez dans un instant.",
        C::ContingencyMode => "Ce service est suspendu par l'exploitation pour l'instant ; réessayez plus tard.",
        C::Internal => "Une erreur interne s'est produite.",
    }
}

/// The French sentences as a script for the pages' own scripts (the wallet, the resale page),
/// which show the API's refusals: `TesseraErrors.fr[code]`. Built from [`error_fr`], so that
/// the pages and their scripts say the same thing.
pub fn errors_script() -> &'static str {
    static SCRIPT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SCRIPT.get_or_init(|| {
        let fr: serde_json::Map<String, serde_json::Value> =
            ErrorCode::ALL.iter().map(|c| (c.as_str().to_string(), error_fr(*c).into())).collect();
        format!("window.TesseraErrors = {};\n", serde_json::json!({ "fr": fr }))
    })
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
