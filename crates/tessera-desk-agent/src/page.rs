//! The desk's own page: search, hand over, the link's state. One static document with one
//! inline script, allowed by its hash.

use super::Agent;
use axum::extract::State;
use axum::response::Response;
use std::sync::Arc;

pub(crate) async fn page(State(agent): State<Arc<Agent>>) -> Response {
    // The desk code (letters and digits once parsed) is escaped all the same.
    static POLICY: std::sync::OnceLock<axum::http::HeaderValue> = std::sync::OnceLock::new();
    tessera_gate_agent::device_page(DESK_PAGE, &POLICY, "{{DESK}}", &agent.desk.to_string())
}

const DESK_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Desk {{DESK}} · Tessera</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;background:#f4f6fa;color:#1b1f24}
header{background:#1f4e9c;color:#fff;padding:.6rem 1rem;display:flex;gap:1rem;align-items:center;flex-wrap:wrap}
main{max-width:860px;margin:auto;padding:1rem}
input{font-size:1.1rem;width:100%;padding:.5rem;box-sizing:border-box}
table{width:100%;border-collapse:collapse;background:#fff}td,th{padding:.3rem;border-bottom:1px solid #ddd;text-align:left;font-size:.9rem}
.muted{color:#666}.pill{padding:.1rem .5rem;border-radius:9px;background:#fff;color:#1b1f24}.off{background:#b42318;color:#fff}
#done{font-size:1.4rem;font-weight:700;padding:.8rem;border-radius:10px;background:#fff;text-align:center}
#done.ok{background:#1a7f37;color:#fff}#done.no{background:#b42318;color:#fff}
</style></head><body>
<header><strong>Tessera collection desk {{DESK}}</strong><span class="pill" id="link">…</span><span class="pill" id="mode">…</span>
<button id="switch" type="button">…</button></header>
<main>
<p class="muted" id="list"></p>
<form id="f"><input id="q" autocomplete="off" autofocus placeholder="Name, document number or badge number"></form>
<p id="done">Search for the person in front of you, check their document, hand over the card.</p>
<table><thead><tr><th>Badge</th><th>Name</th><th>Born</th><th>Document</th><th>Category</th><th>Organisation</th><th>Photo</th><th></th></tr></thead><tbody id="found"></tbody></table>
<p class="muted">The photo is not on the desk's list: check the person against the document they show.</p>
</main>
<script>
(function () {
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';');
  let lastQuery = '';
  async function search(q) {
    lastQuery = q;
    const r = await fetch('/search?q=' + encodeURIComponent(q));
    const rows = r.ok ? await r.json() : [];
    $('found').innerHTML = rows.length ? rows.map((p) => '<tr><td>' + p.person + ' / ' + p.serial + '</td><td>' + esc(p.name) + '</td><td>' + esc(p.date_of_birth) +
      '</td><td>' + esc(p.document) + '</td><td>' + esc(p.category) + '</td><td>' + esc(p.organisation || '—') + '</td><td>' + (p.has_photo ? 'on the card' : 'none') + '</td><td>' +
      (p.handed_over_at ? 'handed over ' + new Date(p.handed_over_at * 1000).toLocaleTimeString()
        : '<button type="button" data-person="' + p.person + '" data-serial="' + p.serial + '">Hand over</button>') + '</td></tr>').join('')
      : '<tr><td colspan="8">Nobody on this desk\'s list matches.</td></tr>';
  }
  $('f').addEventListener('submit', (e) => { e.preventDefault(); const v = $('q').value.trim(); if (v) search(v); });
  $('found').addEventListener('click', async (e) => {
    const b = e.target && e.target.dataset;
    if (!b || !b.person) return;
    e.target.disabled = true;
    const r = await fetch('/hand-over', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ person: Number(b.person), serial: Number(b.serial) }) });
    const d = await r.json();
    $('done').className = r.ok ? 'ok' : 'no';
    $('done').textContent = r.ok ? 'Recorded on this desk: hand over card ' + d.person + ' / ' + d.serial : 'NOT RECORDED: ' + d.error;
    if (lastQuery) search(lastQuery);
    refresh();
  });
  $('switch').addEventListener('click', async () => {
    const r = await fetch('/mode', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ offline: $('switch').dataset.offline === 'true' }) });
    if (!r.ok) { const d = await r.json(); $('done').className = 'no'; $('done').textContent = d.error; }
    refresh();
  });
  async function refresh() {
    const s = await (await fetch('/status')).json();
    const l = s.link;
    $('link').textContent = l.central_online ? 'central online' : 'central OFFLINE';
    $('link').className = 'pill' + (l.central_online ? '' : ' off');
    $('mode').textContent = l.offline_mode ? 'switched to the offline list' : 'online mode';
    $('switch').textContent = l.offline_mode ? 'Back online' : 'Switch to the offline list';
    $('switch').dataset.offline = String(!l.offline_mode);
    const age = Math.max(0, Math.round((s.now_ms / 1000 - s.list_issued_at) / 60));
    $('list').textContent = s.list_people.toLocaleString() + ' people on the list, made ' + age + ' min ago' +
      (l.list_downloaded_ms ? '' : ' (the kept list: not downloaded since start)') + ' · ' + s.handed_over + ' handed over here, ' +
      s.pending + ' waiting to be sent' + (l.last_sync_ms ? ' · last sync ' + new Date(l.last_sync_ms).toLocaleTimeString() : '');
  }
  setInterval(refresh, 2000); refresh();
})();
</script></body></html>"#;
