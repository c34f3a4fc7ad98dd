// The operator consoles' kit: live figures that say when they are stale, and time charts an
// operator reads at a glance (uPlot, served by Tessera itself: a time axis in local time, the
// unit on the value axis, a legend with the value under the cursor). Every console (airlock,
// gates, payments, and those to come) builds on it instead of drawing its own.
(function () {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';');
  // The page's language decides the consoles' own words (English or French).
  const T = (en, fr) => (document.documentElement.lang === 'fr' ? fr : en);

  // Polls `url` every `everyMs` and hands the JSON to `onData`. A console that stops updating
  // says so: after three missed updates the page's #stale banner shows since when (a flood may
  // refuse even the operator's polls, or the server may be down), and it retries on its own.
  function poll(url, everyMs, onData) {
    let lastOk = Date.now();
    setInterval(() => {
      if (Date.now() - lastOk < 3 * everyMs) return;
      const s = $('stale');
      if (!s) return;
      s.hidden = false;
      s.textContent = T('Stale: no update since ', 'Figé : aucune mise à jour depuis ') + new Date(lastOk).toLocaleTimeString() + T('; retrying.', ' ; nouvel essai en cours.');
    }, 1000);
    async function tick() {
      try {
        const r = await fetch(url, { credentials: 'same-origin' });
        if (!r.ok) throw new Error('HTTP ' + r.status);
        const v = await r.json();
        lastOk = Date.now();
        const s = $('stale');
        if (s) s.hidden = true;
        onData(v);
      } catch (e) { /* the next tick retries; the banner tells the operator */ }
      setTimeout(tick, everyMs);
    }
    tick();
  }

  const number = (v, unit) => (v == null ? '–' : (Math.abs(v) >= 100 ? Math.round(v).toLocaleString() : (+v.toFixed(2)).toLocaleString()) + (unit ? ' ' + unit : ''));

  // A time chart in the element `id`: `lines` is [{label, color}], `unit` names the values
  // ("fans", "per second"); `opts`: `windowSecs` (default 120), `bars`, `height`. Returns {set(times, columns)}: times in Unix seconds, one column of
  // values per line. Bars (`bars: true`) for counts per period, lines otherwise.
  function timeChart(id, lines, unit, opts) {
    const el = $(id);
    const o = opts || {};
    const width = () => Math.max(280, el.clientWidth || 640);
    const series = [{}].concat(lines.map((l) => ({
      label: l.label, stroke: l.color, width: 2, fill: o.bars ? l.color + '55' : undefined,
      paths: o.bars && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.8, 24] }) : undefined,
      value: (u, v) => number(v, unit),
    })));
    const chart = new uPlot({
      width: width(), height: o.height || 180,
      series,
      // The x axis always spans the console's window (`windowSecs`, ending at the last sample):
      // one sample must not stretch it over years.
      scales: { x: { time: true, range: (u, min, max) => { const hi = max == null ? Date.now() / 1000 : max; return [hi - (o.windowSecs || 120), hi]; } }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [
        { stroke: '#555', grid: { stroke: '#eee' } },
        { stroke: '#555', grid: { stroke: '#eee' }, label: unit, labelSize: 18, size: 60,
          values: (u, ticks) => ticks.map((t) => number(t)) },
      ],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    }, [[]].concat(lines.map(() => [])), el);
    const resize = () => chart.setSize({ width: width(), height: o.height || 180 });
    window.addEventListener('resize', resize);
    return {
      set: (times, columns) => chart.setData([times].concat(columns)),
      destroy: () => { window.removeEventListener('resize', resize); chart.destroy(); },
    };
  }

  // A rolling window of samples for timeChart: push(t, [v...]) keeps the last `n`.
  function rolling(n, lines) {
    const times = [], cols = Array.from({ length: lines }, () => []);
    return {
      push(t, values) {
        times.push(t); values.forEach((v, i) => cols[i].push(v));
        if (times.length > n) { times.shift(); cols.forEach((c) => c.shift()); }
      },
      times, cols,
    };
  }

  window.TesseraConsole = { $, esc, T, poll, timeChart, rolling, number };
})();
