//! Who may publish what, and who may receive what.
//!
//! A **source** (a venue's result system) publishes only for its disciplines: the first three
//! characters of a results code (`ATH`, `SWM`), or `*` for a central system.
//!
//! A subscriber's **entitlement** decides what it receives: the public gets results, schedules
//! and medals; media also get participants and biographies; broadcasters also get the
//! sub-second live data (`DT_CURRENT`, play by play), which is a broadcasting right; internal
//! consumers get everything, test messages (`FeedFlag` T) and the feed's own control messages
//! included.

use crate::document::{FeedFlag, Header};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Entitlement {
    Public,
    Media,
    Broadcaster,
    Internal,
}

impl Entitlement {
    pub fn parse(s: &str) -> Option<Entitlement> {
        Some(match s {
            "public" => Entitlement::Public,
            "media" => Entitlement::Media,
            "broadcaster" => Entitlement::Broadcaster,
            "internal" => Entitlement::Internal,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Entitlement::Public => "public",
            Entitlement::Media => "media",
            Entitlement::Broadcaster => "broadcaster",
            Entitlement::Internal => "internal",
        }
    }
}

/// The least entitlement that receives a document of this header.
pub fn needs(h: &Header) -> Entitlement {
    if h.feed_flag == FeedFlag::T {
        return Entitlement::Internal;
    }
    let t = h.key.document_type.as_str();
    match t {
        "DT_RESULT"
        | "DT_PHASE_RESULT"
        | "DT_CUMULATIVE_RESULT"
        | "DT_POOL_STANDING"
        | "DT_BRACKETS"
        | "DT_RANKING"
        | "DT_MEDALS"
        | "DT_MEDALLISTS"
        | "DT_MEDALLISTS_DISCIPLINE"
        | "DT_MEDALLISTS_DAY"
        | "DT_SCHEDULE"
        | "DT_SCHEDULE_UPDATE"
        | "DT_RECORD"
        | "DT_WEATHER" => Entitlement::Public,
        "DT_CURRENT" | "DT_PLAY_BY_PLAY" | "DT_STATS" => Entitlement::Broadcaster,
        "DT_KA" | "DT_LOCAL_ON" | "DT_LOCAL_OFF" | "DT_GLOBAL_GM" | "DT_GLOBAL_GN" | "DT_CONFIG" | "DT_ALERT" => {
            Entitlement::Internal
        }
        // Participants, biographies, news, communications, PDFs, images, codes.
        _ => Entitlement::Media,
    }
}

/// What a subscriber asked to receive; empty lists mean everything (within its entitlement).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// Disciplines (`ATH`, `SWM`).
    #[serde(default)]
    pub sports: Vec<String>,
    /// Competition codes (`OG2024`).
    #[serde(default)]
    pub competitions: Vec<String>,
    /// Document types (`DT_RESULT`).
    #[serde(default)]
    pub types: Vec<String>,
}

impl Filter {
    pub fn admits(&self, h: &Header) -> bool {
        let any = |list: &[String], v: &str| list.is_empty() || list.iter().any(|x| x == v);
        any(&self.sports, h.key.discipline())
            && any(&self.competitions, &h.key.competition)
            && any(&self.types, &h.key.document_type)
    }
}

/// Whether a subscriber with `e` and `f` receives a document with header `h`.
pub fn receives(e: Entitlement, f: &Filter, h: &Header) -> bool {
    e >= needs(h) && f.admits(h)
}

/// A venue source's right to publish a document: its disciplines, or `*`.
pub fn may_publish(disciplines: &[String], h: &Header) -> bool {
    disciplines.iter().any(|d| d == "*" || d == h.key.discipline())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entitlements_nest_and_test_messages_stay_internal() {
        let mut h = crate::feed::tests::doc("ATHM100M", 1, true).header;
        assert!(receives(Entitlement::Public, &Filter::default(), &h));
        h.key.document_type = "DT_CURRENT".into();
        assert!(!receives(Entitlement::Media, &Filter::default(), &h));
        assert!(receives(Entitlement::Broadcaster, &Filter::default(), &h));
        h.key.document_type = "DT_BIO_ATHLETE".into();
        assert!(!receives(Entitlement::Public, &Filter::default(), &h));
        assert!(receives(Entitlement::Media, &Filter::default(), &h));
        h.key.document_type = "DT_RESULT".into();
        h.feed_flag = FeedFlag::T;
        assert!(!receives(Entitlement::Broadcaster, &Filter::default(), &h));
        assert!(receives(Entitlement::Internal, &Filter::default(), &h));
    }

    #[test]
    fn filters_and_sources_by_discipline() {
        let h = crate::feed::tests::doc("ATHM100M", 1, true).header;
        let swimming = Filter { sports: vec!["SWM".into()], ..Filter::default() };
        assert!(!receives(Entitlement::Internal, &swimming, &h));
        let athletics = Filter { sports: vec!["ATH".into()], types: vec!["DT_RESULT".into()], ..Filter::default() };
        assert!(receives(Entitlement::Public, &athletics, &h));
        assert!(may_publish(&["ATH".into()], &h));
        assert!(!may_publish(&["SWM".into()], &h));
        assert!(may_publish(&["*".into()], &h));
    }
}
