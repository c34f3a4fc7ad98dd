//! Phone tickets as pages: the wallet (page, manifest, service worker), and the resale page.
//!
//! The wallet page holds each ticket's device key as a non-extractable WebCrypto `CryptoKey`
//! in IndexedDB, with the signed pass beside it, and draws the renewing code itself: once
//! loaded it needs no network, and nothing it stores lets another browser make valid codes.

use crate::extract::MaybeAuthed;
use crate::pages::i18n::tr;
use crate::pages::{layout, PageError};
use crate::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, PreEscaped};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/wallet", get(wallet_page))
        .route("/wallet/manifest.webmanifest", get(manifest))
        .route("/wallet/sw.js", get(service_worker))
        .route("/wallet/icon.svg", get(icon))
        .route("/assets/qr.js", get(qr_js))
        .route("/assets/errors.js", get(errors_js))
        .route("/assets/phone.js", get(phone_js))
        .route("/resale", get(resale_page))
}

async fn wallet_page(State(s): State<AppState>, MaybeAuthed(who): MaybeAuthed) -> Response {
    let Some(who) = who else { return Redirect::to("/login?next=/wallet").into_response() };
    let body = html! {
        div.card #wallet data-step=(s.app.config.tickets.policy.step_secs) data-zone=(s.app.config.event_zone.name()) {
            h2 { (tr("My wallet", "Mon portefeuille")) }
            p.muted #w-net { "" }
            div #w-incoming {}
            div #w-tickets { p.muted { (tr("Loading your tickets…", "Chargement de vos billets…")) } }
        }
        style { ".ticket{border-top:1px solid #dde3ee;padding-top:.4rem;margin-top:.8rem} canvas.qr{max-width:100%} .used{color:#1a7f37;font-weight:600}" }
        script src="/assets/qr.js" {}
        script src="/assets/errors.js" {}
        script src="/assets/phone.js" {}
        script { (PreEscaped(WALLET_JS)) }
    };
    let mut resp = layout(tr("Wallet", "Portefeuille"), Some(&who), None, s.demo, body).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, "no-store".parse().expect("static"));
    let link = "</wallet/manifest.webmanifest>; rel=\"manifest\"";
    resp.headers_mut().insert(header::LINK, link.parse().expect("static"));
    resp
}

async fn resale_page(State(s): State<AppState>, MaybeAuthed(who): MaybeAuthed) -> Result<Response, PageError> {
    let listings = s.app.resale_listings(None).await?;
    let fees = &s.app.config.tickets;
    let body = html! {
        div.card {
            h2 { (tr("Official resale", "Revente officielle")) }
            p.muted {
                (tr("Tickets resold at face value. Buyers pay a fee of ", "Billets revendus au prix facial. L'acheteur paie des frais de "))
                (fees.resale_buyer_fee_bp as f64 / 100.0) " %"
                (tr(", sellers give up ", ", le vendeur renonce à "))
                (fees.resale_seller_fee_bp as f64 / 100.0) " %. "
                (tr("The seller's phone code stops working when the ticket is sold.",
                    "Le code du téléphone du vendeur cesse de fonctionner une fois le billet vendu."))
            }
            @if listings.is_empty() { p { (tr("No tickets on resale right now.", "Aucun billet en revente pour le moment.")) } }
            @else {
                table {
                    thead { tr { th { (tr("Session", "Séance")) } th { (tr("Category", "Catégorie")) } th { (tr("Price", "Prix")) } th { (tr("Fee", "Frais")) } th {} } }
                    tbody {
                        @for l in &listings {
                            tr {
                                td { (l.session_title) " " span.mono { (l.session_code) } }
                                td { (l.category_name) }
                                td { (l.price) }
                                td { (l.buyer_fee) }
                                td { @if who.is_some() { button.buy data-id=(l.id) { (tr("Buy", "Acheter")) } } @else { a href="/login?next=/resale" { (tr("Sign in to buy", "Se connecter pour acheter")) } } }
                            }
                        }
                    }
                }
                @if who.is_some() {
                    // The card is typed in the page, not in a browser prompt box.
                    label { (tr("Card number", "Numéro de carte"))
                        input #r-card type="text" inputmode="numeric" autocomplete="cc-number" maxlength="23" value="4242 4242 4242 4242"; }
                }
                p.muted { (tr("Demo payments use the sandbox: card 4242 4242 4242 4242 is charged, 4000 0000 0000 0002 is declined.",
                    "Les paiements de la démo passent par le bac à sable : la carte 4242 4242 4242 4242 est débitée, la 4000 0000 0000 0002 refusée.")) }
            }
            p #r-msg {}
        }
        script src="/assets/errors.js" {}
        script { (PreEscaped(RESALE_JS)) }
    };
    Ok(layout(tr("Resale", "Revente"), who.as_deref(), None, s.demo, body).into_response())
}

async fn manifest() -> Response {
    let m = serde_json::json!({
        "name": "Tessera wallet",
        "short_name": "Tickets",
        "start_url": "/wallet",
        "scope": "/wallet",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#1f4e9c",
        "icons": [{ "src": "/wallet/icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any" }]
    });
    ([(header::CONTENT_TYPE, "application/manifest+json")], m.to_string()).into_response()
}

async fn icon() -> Response {
    const SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="12" fill="#1f4e9c"/><path d="M14 14h14v14H14zM36 14h14v14H36zM14 36h14v14H14zM38 38h4v4h-4zM46 38h4v4h-4zM38 46h4v4h-4zM46 46h4v4h-4z" fill="#fff"/></svg>"##;
    ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "max-age=86400")], SVG).into_response()
}

async fn service_worker() -> Response {
    // Its scope is the wallet only: `/wallet` itself sits above the script's folder, hence the
    // header that allows it.
    (
        [
            (header::CONTENT_TYPE, "text/javascript"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::HeaderName::from_static("service-worker-allowed"), "/wallet"),
        ],
        SERVICE_WORKER_JS,
    )
        .into_response()
}

async fn errors_js() -> Response {
    let js = super::i18n::errors_script();
    ([(header::CONTENT_TYPE, "text/javascript"), (header::CACHE_CONTROL, "max-age=3600")], js).into_response()
}

async fn qr_js() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript"), (header::CACHE_CONTROL, "max-age=3600")], QR_JS).into_response()
}

const QR_JS: &str = include_str!("../assets/qr.js");

async fn phone_js() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript"), (header::CACHE_CONTROL, "max-age=3600")], PHONE_JS).into_response()
}

/// The helpers the wallet and the phone badge page share (`window.TesseraPhone`).
const PHONE_JS: &str = include_str!("../assets/phone.js");

/// Network first (a fresh page), the cache when offline: the wallet and the phone badge page
/// (`accreditation_phone.rs`) open in airplane mode.
const SERVICE_WORKER_JS: &str = r#"
const CACHE = 'tessera-wallet-v1';
const SHELL = ['/wallet', '/wallet/badge', '/assets/qr.js', '/assets/errors.js', '/assets/phone.js', '/wallet/manifest.webmanifest', '/wallet/icon.svg'];
self.addEventListener('install', (e) => e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting())));
self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));
self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== location.origin) return;
  // The ticket list is not cached here: offline, the page reads IndexedDB and says so.
  if (!SHELL.includes(url.pathname)) return;
  e.respondWith(fetch(e.request).then((r) => {
    if (r.ok) { const copy = r.clone(); caches.open(CACHE).then((c) => c.put(e.request, copy)); }
    return r;
  }).catch(() => caches.match(e.request).then((r) => r || Response.error())));
});
"#;

pub(crate) const WALLET_JS: &str = r#"
(function () {
  const { T, errorText, b64u, unb64u, esc } = window.TesseraPhone;
  const $ = (id) => document.getElementById(id);
  const enc = new TextEncoder();
  // The event's zone, not the phone's: a fan abroad reads the time printed at the venue.
  // Named fields, not dateStyle/timeStyle: those refuse timeZoneName and throw.
  const when = (t) => new Date(t * 1000).toLocaleString([], { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: $('wallet').dataset.zone, timeZoneName: 'short' });
  let offsetMs = 0, stepSecs = Number($('wallet').dataset.step) || 15;

  // IndexedDB: one record per ticket code, {code, pass, key (non-extractable CryptoKey), meta}.
  const { getAll, put } = TesseraPhone.store('tessera-wallet', 'tickets', 'code');
  window.TesseraWallet = { getAll, put };

  async function api(method, path, body) {
    const r = await fetch(path, { method, credentials: 'same-origin', headers: body ? { 'Content-Type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
    const v = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(errorText(v.error, r.status));
    return v;
  }

  async function activate(t, replace) {
    const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
    const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
    const a = await api('POST', '/api/v1/tickets/' + encodeURIComponent(t.code) + '/activate', { device_key: b64u(raw), replace: !!replace });
    await put({ code: t.code, pass: a.pass, key: pair.privateKey, meta: t });
    return a;
  }

  async function codeFor(rec, step) {
    const pass = unb64u(rec.pass);
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', pass));
    const stepBytes = new Uint8Array(8); new DataView(stepBytes.buffer).setBigUint64(0, BigInt(step));
    const msg = new Uint8Array([...enc.encode('tessera-code-v1'), ...digest, ...stepBytes]);
    const sig = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, rec.key, msg));
    return new Uint8Array([...pass, ...stepBytes, ...sig]);
  }

  function card(t, inner) {
    return '<div class="ticket" data-code="' + esc(t.code) + '"><h3>' + esc(t.session_title) + ' <span class="mono muted">' + esc(t.session_code) + '</span></h3>' +
      '<p>' + esc(t.venue_name) + ' · ' + when(t.starts_at) + '</p>' +
      '<p><strong>' + esc(t.holder) + '</strong> · ' + esc(t.gate) + ' · ' + esc(t.seat) + '</p>' + inner + '</div>';
  }
  const actions = (t) => '<p><button data-act="transfer">' + T('Transfer', 'Transférer') + '</button> <button data-act="resale">' + T('Sell on official resale', 'Revendre sur la revente officielle') + '</button></p>' +
    '<form class="transfer" hidden><label>' + T('Email of the account to give it to', 'Adresse du compte qui le recevra') + '<input type="email" name="to" required autocomplete="off"></label>' +
    '<button type="submit" class="primary">' + T('Send the ticket', 'Envoyer le billet') + '</button> <button type="button" data-act="transfer-cancel">' + T('Cancel', 'Annuler') + '</button></form>';

  let live = [];
  async function render(tickets, online) {
    const local = new Map((await getAll()).map((r) => [r.code, r]));
    live = [];
    const parts = [];
    for (const t of tickets) {
      const rec = local.get(t.code);
      if (t.state === 'waiting') parts.push(card(t, '<p class="muted">' + T('Your code appears from ', 'Votre code apparaît à partir du ') + when(t.activates_at) + '.</p>' + actions(t)));
      else if (t.state === 'ended') parts.push(card(t, '<p class="muted">' + T('This session is over.', 'Cette séance est terminée.') + '</p>'));
      else if (t.state === 'used') parts.push(card(t, '<p class="used">' + T('Used: entered at ', 'Utilisé : entré à ') + new Date(t.entered_at_ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', timeZone: $('wallet').dataset.zone }) + T('. Enjoy the session.', '. Bonne séance !') + '</p>'));
      else if (t.state === 'transfer_pending') parts.push(card(t, '<p>' + T('Offered to ', 'Proposé à ') + esc(t.pending_transfer.to_email) + T(', waiting for them to accept. ', ', en attente de son acceptation. ') + '<button data-act="cancel-transfer" data-id="' + t.pending_transfer.id + '">' + T('Withdraw', 'Retirer') + '</button></p>'));
      else if (t.state === 'listed') parts.push(card(t, '<p>' + T('On the official resale. ', 'En revente officielle. ') + '<button data-act="cancel-listing" data-id="' + t.listing.id + '">' + T('Take it off', 'Retirer de la vente') + '</button></p>'));
      else if (rec && rec.key && (t.state === 'active' ? rec.pass === t.pass : false)) {
        parts.push(card(t, '<canvas class="qr"></canvas><p class="countdown">' + T('New code in ', 'Nouveau code dans ') + '<strong>–</strong> s ' +
          '<button data-act="copy" title="' + T('For a gate that reads typed or pasted codes', 'Pour un portique qui lit les codes saisis ou collés') + '">' + T('Copy code text', 'Copier le code') + '</button></p>' + actions(t)));
        live.push(t.code);
      } else if (t.state === 'active') {
        parts.push(card(t, '<p>' + T('This ticket is active on another phone. ', 'Ce billet est actif sur un autre téléphone. ') + '<button data-act="move">' + T('Move it to this phone', 'Le déplacer sur ce téléphone') + '</button></p>'));
      } else parts.push(card(t, online ? '<p class="muted">' + T('Activating on this phone…', 'Activation sur ce téléphone…') + '</p>' : '<p class="muted">' + T('Connect once to activate this ticket.', 'Connectez-vous une fois pour activer ce billet.') + '</p>'));
    }
    $('w-tickets').innerHTML = parts.join('') || '<p>' + T('No tickets yet. ', 'Pas encore de billet. ') + '<a href="/sessions">' + T('Find a session', 'Trouver une séance') + '</a>.</p>';
    if (online) {
      for (const t of tickets) {
        if (t.state === 'ready' && !(local.get(t.code) || {}).key) {
          try { await activate(t, false); return load(); } catch (e) { showError(e); }
        }
      }
    }
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
    const local = new Map((await getAll()).map((r) => [r.code, r]));
    for (const code of live) {
      const el = document.querySelector('.ticket[data-code="' + CSS.escape(code) + '"] canvas.qr');
      const rec = local.get(code);
      if (!el || !rec) continue;
      const bytes = await codeFor(rec, step);
      const qr = TesseraQR.encode('T1:' + TesseraQR.base45(bytes), 'M');
      TesseraQR.draw(el, qr, 4, 4);
      el.dataset.step = step;
      el.dataset.text = 'T1:' + TesseraQR.base45(bytes);
    }
  }
  setInterval(tick, 250);

  function showError(e) { $('w-net').textContent = e.message; $('w-net').className = 'error'; }

  async function load() {
    let v = null;
    try { v = await api('GET', '/api/v1/wallet'); } catch (e) { v = null; }
    if (v) {
      offsetMs = v.server_time_ms - Date.now(); stepSecs = v.step_secs;
      localStorage.setItem('tessera-wallet-offset', String(offsetMs));
      $('w-net').textContent = '';
      $('w-incoming').innerHTML = v.incoming_transfers.map((x) => '<p class="notice">' + esc(x.from_name) + T(' offers you ticket ', ' vous propose le billet ') + '<span class="mono">' + esc(x.ticket_code) +
        '</span>' + T(' for ', ' pour ') + esc(x.session_code) + '. <button data-act="accept" data-id="' + x.id + '">' + T('Accept', 'Accepter') + '</button></p>').join('');
      // Keep each stored ticket's details fresh, for the offline view.
      const stored = new Map((await getAll()).map((r) => [r.code, r]));
      for (const t of v.tickets) {
        const rec = stored.get(t.code);
        if (rec) { rec.meta = t; await put(rec); }
      }
      return render(v.tickets, true);
    }
    offsetMs = Number(localStorage.getItem('tessera-wallet-offset')) || 0;
    $('w-net').textContent = T('Offline: showing the tickets stored on this phone.', 'Hors ligne : billets enregistrés sur ce téléphone.');
    render((await getAll()).map((r) => r.meta).filter(Boolean), false);
  }

  document.addEventListener('click', async (ev) => {
    const b = ev.target.closest('button[data-act]'); if (!b) return;
    const t = b.closest('.ticket'), code = t && t.dataset.code, id = b.dataset.id;
    try {
      if (b.dataset.act === 'transfer' || b.dataset.act === 'transfer-cancel') {
        // The address is asked for in the ticket's own form, not in a browser prompt box.
        const f = t.querySelector('form.transfer');
        f.hidden = b.dataset.act === 'transfer-cancel';
        if (!f.hidden) f.querySelector('input').focus();
        return;
      } else if (b.dataset.act === 'resale') {
        if (!confirm(T('List this ticket on the official resale at face value?', 'Mettre ce billet en revente officielle au prix facial ?'))) return;
        await api('POST', '/api/v1/tickets/' + encodeURIComponent(code) + '/resale');
      } else if (b.dataset.act === 'cancel-transfer') await api('DELETE', '/api/v1/transfers/' + id);
      else if (b.dataset.act === 'cancel-listing') await api('DELETE', '/api/v1/resale/' + id);
      else if (b.dataset.act === 'accept') await api('POST', '/api/v1/transfers/' + id + '/accept');
      else if (b.dataset.act === 'copy') {
        const text = t.querySelector('canvas.qr').dataset.text;
        try { await navigator.clipboard.writeText(text); b.textContent = T('Copied', 'Copié'); } catch (e) { prompt(T('The code, valid for 30 seconds:', 'Le code, valable 30 secondes :'), text); }
        setTimeout(() => { b.textContent = T('Copy code text', 'Copier le code'); }, 1500);
        return;
      }
      else if (b.dataset.act === 'move') {
        const rec = (await getAll()).find((r) => r.code === code);
        await activate(rec ? rec.meta : { code }, true);
      }
      await load();
    } catch (e) { showError(e); }
  });

  document.addEventListener('submit', async (ev) => {
    const f = ev.target.closest('form.transfer'); if (!f) return;
    ev.preventDefault();
    const code = f.closest('.ticket').dataset.code;
    try {
      await api('POST', '/api/v1/tickets/' + encodeURIComponent(code) + '/transfer', { to_email: f.elements.to.value });
      await load();
    } catch (e) { showError(e); }
  });

  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/wallet/sw.js', { scope: '/wallet' }).catch(() => {});
  load();
})();
"#;

pub(crate) const RESALE_JS: &str = r#"
(function () {
  document.addEventListener('click', async (ev) => {
    const b = ev.target.closest('button.buy'); if (!b) return;
    const number = (document.getElementById('r-card') || {}).value || '';
    if (!number.trim()) { document.getElementById('r-card').focus(); return; }
    const key = 'resale-' + b.dataset.id + '-' + Math.random().toString(36).slice(2, 10);
    const card = { number, exp_month: 12, exp_year: new Date().getFullYear() + 2, cvc: '123', holder: 'Resale buyer' };
    const r = await fetch('/api/v1/resale/' + b.dataset.id + '/buy', { method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ idempotency_key: key, card }) });
    const v = await r.json().catch(() => ({}));
    const fr = document.documentElement.lang === 'fr';
    document.getElementById('r-msg').textContent = r.ok
      ? (fr ? 'Acheté : le billet est dans votre portefeuille.' : 'Bought: the ticket is in your wallet.')
      : ((v.error && fr && window.TesseraErrors && TesseraErrors.fr[v.error.code]) || (v.error && v.error.message) || ('HTTP ' + r.status));
    if (r.ok) setTimeout(() => { location.href = '/wallet'; }, 800);
  });
})();
"#;
