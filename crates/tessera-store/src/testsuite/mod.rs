//! The conformance suite: every backend runs these same tests (quickwit's metastore suite is
//! the model). A backend's test file calls [`conformance_suite!`] with an async function that
//! returns a [`Harness`], or `None` (after saying so loudly) when its database is unavailable.

use crate::*;
use std::sync::Arc;
use tessera_domain::catalogue::{PriceCategory, Session, Venue};
use tessera_domain::lottery::SlotAssignment;

mod accounts;
mod accreditation;
mod airlock;
mod catalogue;
mod gates;
mod lottery;
mod payments;
mod sale;
mod tickets;
mod toc;
mod volunteers;

pub use accounts::*;
pub use accreditation::*;
pub use airlock::*;
pub use catalogue::*;
pub use gates::*;
pub use lottery::*;
pub use payments::*;
pub use sale::*;
pub use tickets::*;
pub use toc::*;
pub use volunteers::*;

/// Opens the same database again and again, so that a test can simulate a restart.
#[async_trait]
pub trait Harness: Send + Sync {
    async fn open(&self) -> Arc<dyn Store>;
}

#[macro_export]
macro_rules! conformance_suite {
    ($make:path) => {
        $crate::conformance_suite!(@tests $make;
            catalogue_import_is_atomic, accounts_and_sign_in_sessions, mail_outbox,
            lottery_lifecycle, no_oversell_under_contention, caps_hold_under_contention,
            purchases_only_inside_the_slot, cart_expiry_returns_seats, checkout_is_idempotent,
            pack_rule, restart_keeps_paid_orders, sell_now_is_atomic_and_idempotent, sell_now_never_oversells,
            waiting_rooms_and_edge_decisions, phone_credentials_and_holdings, transfers_respect_caps,
            resale_at_face_value, gate_scans_entries_and_feed, payment_records_follow_their_state_machine,
            gate_revocations_only_move_later, results_feed_survives_a_restart,
            accreditation_organisations_and_quotas, accreditation_duplicates, accreditation_updates_compare_and_set,
            accreditation_lists_and_counts, accreditation_hand_overs_are_kept_once,
            accreditation_quotas_hold_under_contention, accreditations_survive_a_restart,
            toc_switch_log_and_documents_survive_a_restart,
            volunteer_applications_all_or_none, volunteer_runs_offers_and_answers,
            volunteer_offers_are_answered_once_under_contention, volunteers_survive_a_restart);
    };
    (@tests $make:path; $($name:ident),*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            match $make().await {
                Some(h) => $crate::testsuite::$name(h).await,
                None => eprintln!("SKIPPED {}: backend unavailable", stringify!($name)),
            }
        }
    )*};
}

pub const T0: Timestamp = Timestamp(1_722_000_000);

fn code(s: &str) -> Code {
    Code::parse(s).unwrap()
}

/// Two venues, three sessions (one a ceremony), categories with small quotas.
pub fn fixture() -> Catalogue {
    let venue = |c: &str, cap| Venue {
        code: code(c),
        name: format!("Venue {c}"),
        city: "Paris".into(),
        capacity: cap,
        zones: vec!["Gate A".into(), "Gate B".into()],
    };
    let session = |c: &str, v: &str, ceremony| Session {
        code: code(c),
        sport: if ceremony { "Ceremony".into() } else { "Athletics".into() },
        title: format!("Session {c}"),
        venue: code(v),
        starts_at: T0.plus_secs(86_400),
        ends_at: T0.plus_secs(86_400 + 7200),
        ceremony,
    };
    let cat = |s: &str, c: &str, price, quota| PriceCategory {
        session: code(s),
        code: code(c),
        name: format!("Category {c}"),
        price: Cents(price),
        quota,
    };
    Catalogue {
        venues: vec![venue("STF", 80_000), venue("BRC", 20_000)],
        sessions: vec![session("ATH01", "STF", false), session("BKB01", "BRC", false), session("CER01", "STF", true)],
        categories: vec![
            cat("ATH01", "CAT-A", 8500, 100),
            cat("ATH01", "CAT-B", 2400, 1000),
            cat("BKB01", "CAT-A", 4500, 1000),
            cat("CER01", "CAT-A", 27000, 1000),
        ],
    }
}

pub async fn category_id(store: &dyn Store, session: &str, cat: &str) -> CategoryId {
    let s = store.session(session).await.unwrap().expect("session exists");
    s.categories.iter().find(|c| c.code == cat).expect("category exists").id
}

async fn account(store: &dyn Store, n: usize) -> AccountId {
    store
        .create_account(&NewAccount {
            email: Email::parse(&format!("fan{n}@example.org")).unwrap(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            display_name: format!("Fan {n}"),
            role: Role::Fan,
            now: T0,
        })
        .await
        .unwrap()
        .id
}

/// A drawn phase in which the given accounts hold slots open from T0 for 48 hours.
async fn drawn_phase(store: &dyn Store, code: &str, settings: PhaseSettings, accounts: &[AccountId]) -> Phase {
    let seed = tessera_domain::lottery::Seed([9; 32]);
    let p = store.create_phase(code, "Phase", &settings).await.unwrap();
    store.open_registration(p.id, &seed.to_hex(), &seed.commitment(), T0).await.unwrap();
    for (i, a) in accounts.iter().enumerate() {
        store.enter_lottery(p.id, *a, &format!("E{:012X}", i), T0).await.unwrap();
    }
    store.close_registration(p.id, T0).await.unwrap();
    let slots = accounts
        .iter()
        .enumerate()
        .map(|(i, a)| {
            (
                *a,
                SlotAssignment {
                    entry_code: format!("E{:012X}", i),
                    rank: i + 1,
                    wave: 1,
                    starts_at: T0,
                    ends_at: T0.plus_secs(48 * 3600),
                },
            )
        })
        .collect();
    store.record_draw(&DrawRecord { phase_id: p.id, seed_hex: seed.to_hex(), drawn_at: T0, slots }).await.unwrap();
    store.phase_by_id(p.id).await.unwrap().unwrap()
}

fn reserve_req(phase: &Phase, account: AccountId, category: CategoryId, qty: i64, now: Timestamp) -> ReserveRequest {
    ReserveRequest {
        account,
        phase: phase.id,
        category,
        qty,
        caps: phase.settings.caps,
        cart_ttl_secs: phase.settings.cart_ttl_secs,
        now,
    }
}

fn begin(account: AccountId, cart: &Cart, key: &str, hash: &str, now: Timestamp) -> BeginCheckout {
    BeginCheckout {
        account,
        cart: cart.id,
        phase: cart.phase_id,
        idempotency_key: key.into(),
        request_hash: hash.into(),
        pay_window_secs: 120,
        min_sessions_per_order: 1,
        now,
    }
}

fn complete(account: AccountId, cart: CartId, key: &str, now: Timestamp) -> CompleteCheckout {
    CompleteCheckout {
        account,
        cart,
        idempotency_key: key.into(),
        order_code: format!("ORD-{}-{}", account.0, cart.0),
        payment_ref: format!("pay-{}", cart.0),
        ticket_codes: (0..60).map(|i| format!("T-{}-{}-{i}", account.0, cart.0)).collect(),
        now,
    }
}

/// Reserve then pay, as the application does; returns the order.
async fn buy(
    store: &dyn Store,
    phase: &Phase,
    a: AccountId,
    cat: CategoryId,
    qty: i64,
    now: Timestamp,
) -> Result<Order> {
    let cart = store.reserve(&reserve_req(phase, a, cat, qty, now)).await?;
    let key = format!("k-{}", cart.id.0);
    match store.begin_checkout(&begin(a, &cart, &key, "h", now)).await? {
        BeginOutcome::Started(_) => {}
        other => panic!("unexpected {other:?}"),
    }
    store.complete_checkout(&complete(a, cart.id, &key, now)).await
}
