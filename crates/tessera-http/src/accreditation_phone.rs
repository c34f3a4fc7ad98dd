//! The accreditation badge on the holder's phone, on the ticket wallet's model: the API that
//! binds the phone's P-256 key to the current card and answers the signed phone badge, and the
//! page (`/wallet/badge`) that makes the key in the browser (non-extractable, in IndexedDB
//! beside the badge) and draws the code that renews every ticket step. Once bound, the page
//! needs neither the network nor a signed-in account: the officer who bound it may sign out.

use crate::accreditation::IdPath;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, Authed, MaybeAuthed};
use crate::pages::i18n::tr;
use crate::pages::layout;
use crate::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use maud::{html, PreEscaped};
use serde::{Deserialize, Serialize};
use tessera_app::AppError;
use utoipa::ToSchema;

pub(crate) fn api_routes() -> Router<AppState> {
    Router::new().route("/api/v1/accreditation/applications/{id}/phone", post(bind_phone))
}

pub(crate) fn page_routes() -> Router<AppState> {
    // Under `/wallet`, so that the wallet's service worker opens it offline too.
    Router::new().route("/wallet/badge", get(page))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneBody {
    /// The phone's P-256 public key, base64url: WebCrypto's raw export (65 bytes) or compressed (33).
    pub device_key: String,
}

/// A badge bound to a phone.
#[derive(Serialize, ToSchema)]
pub struct PhoneBadgeDto {
    pub person: i64,
    /// The current card's serial: a reprint voids this phone badge with the card.
    pub serial: u16,
    /// The signed phone badge, base64url: the phone keeps it with its key and shows
    /// `base45(badge || step || device signature)`, a new code every `step_secs`.
    pub badge: String,
    pub holder: String,
    pub organisation: String,
    pub category: String,
    pub zones: Vec<String>,
    pub venues: Vec<String>,
    pub valid_from: i64,
    pub valid_until: i64,
    /// A code renews every `step_secs` seconds (the tickets' step).
    pub step_secs: u32,
    /// The server's clock, Unix ms.
    pub server_time_ms: i64,
}

fn strings<T: ToString>(v: &[T]) -> Vec<String> {
    v.iter().map(ToString::to_string).collect()
}

/// Puts the current card on the holder's phone: binds the phone's key and answers the signed
/// phone badge. Only an officer of the holder's organisation (staff issue cards, they do not
/// bind phones); a card must have been issued.
#[utoipa::path(post, path = "/api/v1/accreditation/applications/{id}/phone", operation_id = "accreditation_phone_badge", tag = "accreditation", params(IdPath), request_body = PhoneBody, security(("bearer" = [])),
    responses((status = 200, body = PhoneBadgeDto), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn bind_phone(
    State(s): State<AppState>,
    Authed(who): Authed,
    ApiPath(p): ApiPath<IdPath>,
    ApiJson(b): ApiJson<PhoneBody>,
) -> Result<Json<PhoneBadgeDto>, ApiError> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b.device_key.trim_end_matches('='))
        .map_err(|_| AppError::invalid("device_key", "not base64url"))?;
    let issued = s.app.phone_badge(&who, p.id, &raw).await?;
    Ok(Json(PhoneBadgeDto {
        person: issued.person,
        serial: issued.serial,
        badge: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&issued.signed),
        holder: issued.badge.holder.clone(),
        organisation: issued.badge.organisation.to_string(),
        category: issued.badge.category.to_string(),
        zones: strings(&issued.badge.zones),
        venues: strings(&issued.badge.venues),
        valid_from: issued.badge.valid_from,
        valid_until: issued.badge.valid_until,
        step_secs: s.app.config.tickets.policy.step_secs,
        server_time_ms: s.app.now_ms(),
    }))
}

/// The badges on this phone, with their renewing codes, and the form an officer uses to put
/// one there. Open to anyone: it shows only what this phone's own storage holds.
async fn page(State(s): State<AppState>, MaybeAuthed(who): MaybeAuthed) -> Response {
    let body = html! {
        div.card #badge data-step=(s.app.config.tickets.policy.step_secs) {
            h2 { (tr("Badge on this phone", "Badge sur ce téléphone")) }
            p.muted #b-net role="status" {}
            div #b-badges { p.muted { (tr("Loading…", "Chargement…")) } }
            h3 { (tr("Put a badge on this phone", "Mettre un badge sur ce téléphone")) }
            p.muted { (tr(
                "An officer of the holder's organisation, signed in on the holder's phone, gives the application's number. The badge stays on this phone after signing out; a reprinted card voids it.",
                "Un responsable de l'organisation du titulaire, connecté sur le téléphone du titulaire, saisit le numéro de la candidature. Le badge reste sur ce téléphone après la déconnexion ; une carte réimprimée l'annule.",
            )) }
            @if who.is_none() {
                p { a href="/login?next=/wallet/badge" { (tr("Sign in as the officer", "Se connecter comme responsable")) } }
            }
            form #b-bind {
                label { (tr("Application number", "Numéro de candidature"))
                    input #b-id type="number" min="1" required inputmode="numeric"; }
                button.primary type="submit" { (tr("Put the badge on this phone", "Mettre le badge sur ce téléphone")) }
            }
        }
        style { ".phone-badge{border-top:1px solid #dde3ee;padding-top:.4rem;margin-top:.8rem} canvas.qr{max-width:100%}" }
        script src="/assets/qr.js" {}
        script src="/assets/errors.js" {}
        script src="/assets/phone.js" {}
        script { (PreEscaped(PHONE_BADGE_JS)) }
    };
    let mut resp = layout(tr("Badge", "Badge"), who.as_deref(), None, s.demo, body).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, "no-store".parse().expect("static"));
    resp
}

/// The phone badge page's script: the wallet's pattern (a WebCrypto key made here and never
/// leaving the browser, the signed credential beside it in IndexedDB, a code drawn every step
/// from the server's clock) with the badge's own message tag, `tessera-badge-code-v1`.
pub(crate) const PHONE_BADGE_JS: &str = r#"
(function () {
  const { T, errorText, b64u, unb64u, esc } = window.TesseraPhone;
  const $ = (id) => document.getElementById(id);
  const enc = new TextEncoder();
  let offsetMs = Number(localStorage.getItem('tessera-badge-offset')) || 0;
  let stepSecs = Number($('badge').dataset.step) || 15;

  // IndexedDB: one record per person, {person, badge (signed, base64url), key (non-extractable CryptoKey), meta}.
  const { getAll, put } = TesseraPhone.store('tessera-badges', 'badges', 'person');
  window.TesseraBadges = { getAll };

  async function bind(id) {
    const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
    const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
    const r = await fetch('/api/v1/accreditation/applications/' + encodeURIComponent(id) + '/phone', { method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ device_key: b64u(raw) }) });
    const v = await r.json().catch(() => ({}));
    if (r.status === 401) throw new Error(T('Sign in as an officer of the holder’s organisation first.', 'Connectez-vous d’abord comme responsable de l’organisation du titulaire.'));
    if (!r.ok) throw new Error(errorText(v.error, r.status));
    offsetMs = v.server_time_ms - Date.now(); stepSecs = v.step_secs;
    localStorage.setItem('tessera-badge-offset', String(offsetMs));
    // A new binding of the same person replaces the one this phone held.
    await put({ person: v.person, badge: v.badge, key: pair.privateKey, meta: v });
  }

  async function codeFor(rec, step) {
    const badge = unb64u(rec.badge);
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', badge));
    const stepBytes = new Uint8Array(8); new DataView(stepBytes.buffer).setBigUint64(0, BigInt(step));
    const msg = new Uint8Array([...enc.encode('tessera-badge-code-v1'), ...digest, ...stepBytes]);
    const sig = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, rec.key, msg));
    return new Uint8Array([...badge, ...stepBytes, ...sig]);
  }

  async function render() {
    const recs = await getAll();
    $('b-badges').innerHTML = recs.map((r) => '<div class="phone-badge" data-person="' + esc(r.person) + '"><h3>' + esc(r.meta.holder) + '</h3>' +
      '<p>' + esc(r.meta.organisation) + ' · ' + esc(r.meta.category) + ' · ' + T('venues ', 'sites ') + esc(r.meta.venues.join(' ')) + ' · ' + T('zones ', 'zones ') + esc(r.meta.zones.join(' ')) + '</p>' +
      '<canvas class="qr"></canvas><p class="countdown">' + T('New code in ', 'Nouveau code dans ') + '<strong>–</strong> s</p></div>').join('')
      || '<p class="muted">' + T('No badge on this phone yet.', 'Pas encore de badge sur ce téléphone.') + '</p>';
    lastStep = -1; tick();
  }

  let lastStep = -1;
  async function tick() {
    const now = Date.now() + offsetMs;
    const step = Math.floor(now / 1000 / stepSecs);
    const left = stepSecs - Math.floor((now / 1000) % stepSecs);
    document.querySelectorAll('.countdown strong').forEach((e) => { e.textContent = left; });
    if (step === lastStep) return;
    lastStep = step;
    for (const rec of await getAll()) {
      const el = document.querySelector('.phone-badge[data-person="' + CSS.escape(String(rec.person)) + '"] canvas.qr');
      if (!el) continue;
      const text = TesseraQR.base45(await codeFor(rec, step));
      TesseraQR.draw(el, TesseraQR.encode(text, 'M'), 4, 4);
      el.dataset.step = step;
      el.dataset.text = text;
    }
  }
  setInterval(tick, 250);

  $('b-bind').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await bind($('b-id').value);
      $('b-net').textContent = T('The badge is on this phone.', 'Le badge est sur ce téléphone.'); $('b-net').className = 'notice';
      await render();
    } catch (e) { $('b-net').textContent = e.message; $('b-net').className = 'error'; }
  });

  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/wallet/sw.js', { scope: '/wallet' }).catch(() => {});
  render();
})();
"#;
