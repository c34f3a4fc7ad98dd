//! The API's contract, held still: the OpenAPI document and every error body are snapshots
//! (`src/snapshots/`), so that a change to what clients see is a visible diff in review; every
//! route documents its success body; and the types that describe JSON the handlers send from
//! the app's own views (on the hot paths) are held to those views.

use crate::error::{status_of, ApiError};
use std::collections::BTreeSet;
use tessera_domain::ErrorCode;
use utoipa::openapi::{RefOr, Schema};
use utoipa::OpenApi;

fn document() -> serde_json::Value {
    serde_json::to_value(crate::api::ApiDoc::openapi()).expect("the document serialises")
}

#[test]
fn the_openapi_document_is_as_reviewed() {
    let text = crate::api::ApiDoc::openapi().to_pretty_json().expect("the document serialises");
    insta::assert_snapshot!("openapi", text);
}

/// Every code, its status and the body a client gets.
#[test]
fn every_error_body_is_as_reviewed() {
    let mut table = String::new();
    for &code in ErrorCode::ALL {
        let body = crate::error::ErrorBody {
            error: crate::error::ErrorDetail { code: code.as_str().into(), message: "…".into() },
        };
        let json = serde_json::to_string(&body).expect("serialises");
        table.push_str(&format!("{} {json}\n", status_of(code).as_u16()));
        assert_eq!(ApiError::new(code, "x").status, status_of(code));
    }
    insta::assert_snapshot!("error_bodies", table);
}

/// A 2xx with a body schema, or a 204 (or a 202 that says it has no body), or a 101 for a
/// WebSocket: no route leaves a client guessing what success looks like.
#[test]
fn every_route_documents_its_success_body() {
    let doc = document();
    let mut undocumented = Vec::new();
    let mut operations = 0;
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("operations") {
            operations += 1;
            let responses = op["responses"].as_object().expect("responses");
            let documented = responses.iter().filter(|(status, _)| status.starts_with('2') || *status == "101").any(
                |(status, r)| {
                    let has_body =
                        r["content"].as_object().is_some_and(|c| c.values().all(|media| media.get("schema").is_some()));
                    let says_none = r["description"].as_str().is_some_and(|d| d.starts_with("no body"));
                    has_body || status == "204" || status == "101" || (status == "202" && says_none)
                },
            );
            if !documented {
                undocumented.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    assert!(operations > 50, "the document lists {operations} operations");
    assert!(undocumented.is_empty(), "no success body documented: {undocumented:?}");
}

fn properties<T: utoipa::PartialSchema>() -> BTreeSet<String> {
    match T::schema() {
        RefOr::T(Schema::Object(o)) => o.properties.keys().cloned().collect(),
        _ => panic!("not an object schema"),
    }
}

fn keys(v: &impl serde::Serialize) -> BTreeSet<String> {
    serde_json::to_value(v).expect("serialises").as_object().expect("an object").keys().cloned().collect()
}

/// The waiting room's answers are the app's views serialised as they are (the status answer is
/// served at nginx's rate): their documentation must name exactly their fields.
#[test]
fn the_waiting_room_documents_the_views_it_sends() {
    use tessera_app::airlock::{JoinRequirements, QueueTicket, QueueView};
    let view = QueueView {
        phase: "P1".into(),
        state: "your_turn",
        number: Some(1),
        position: Some(0),
        ahead: Some(0),
        eta_secs: Some(0),
        progress: 1.0,
        opens_in_secs: Some(0),
        pass: Some("pass".into()),
        pass_expires_at: Some(tessera_domain::Timestamp(1)),
        ticket: Some("ticket".into()),
    };
    assert_eq!(keys(&view), properties::<crate::queue::QueueViewDoc>());
    let ticket = QueueTicket { ticket: "t".into(), again: false, view: view.clone() };
    assert_eq!(keys(&ticket), properties::<crate::queue::QueueTicketDoc>());
    let needs = JoinRequirements { pow_required: false, challenge: None };
    assert_eq!(keys(&needs), properties::<crate::queue::RequirementsDoc>());
}

/// The draw's published files, served as the domain writes them.
#[test]
fn the_lottery_documents_its_files() {
    use tessera_domain::lottery::{CommitmentFile, ResultFile};
    let c = CommitmentFile { phase: "P1".into(), seed_sha256: "00".into(), published_at: tessera_domain::Timestamp(1) };
    assert_eq!(keys(&c), properties::<crate::api::CommitmentDoc>());
    let r = ResultFile {
        phase: "P1".into(),
        seed: "00".into(),
        seed_sha256: "00".into(),
        entries_sha256: "00".into(),
        drawn_at: tessera_domain::Timestamp(1),
        order: vec![],
    };
    assert_eq!(keys(&r), properties::<crate::api::ResultDoc>());
}
