// What the wallet and the phone badge page share (both load it; the wallet's service worker
// keeps it for offline use): the page's language, a refusal in its words, base64url, HTML
// escaping, and one IndexedDB object store.
window.TesseraPhone = (function () {
  // The page's language (the server chose it): texts written in scripts come in both.
  const T = (en, fr) => (document.documentElement.lang === 'fr' ? fr : en);
  // A refusal in the page's language: the French sentence of its code (`/assets/errors.js`,
  // written from the server's own table), else the API's English message.
  const errorText = (e, status) => (e && document.documentElement.lang === 'fr' && window.TesseraErrors && TesseraErrors.fr[e.code])
    || (e && e.message) || ('HTTP ' + status);
  const b64u = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const unb64u = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';');
  // One object store of one database, its records keyed by `keyPath`.
  function store(dbName, storeName, keyPath) {
    function db() {
      return new Promise((ok, ko) => {
        const r = indexedDB.open(dbName, 1);
        r.onupgradeneeded = () => r.result.createObjectStore(storeName, { keyPath });
        r.onsuccess = () => ok(r.result); r.onerror = () => ko(r.error);
      });
    }
    async function tx(mode, f) {
      const d = await db();
      return new Promise((ok, ko) => {
        const t = d.transaction(storeName, mode), s = t.objectStore(storeName); const r = f(s);
        t.oncomplete = () => ok(r && r.result); t.onerror = () => ko(t.error);
      });
    }
    return { getAll: () => tx('readonly', (s) => s.getAll()), put: (rec) => tx('readwrite', (s) => s.put(rec)) };
  }
  return { T, errorText, b64u, unb64u, esc, store };
})();
