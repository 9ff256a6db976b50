/**
 * The status page's HTML and script (served by `createStatusHandler`). The script asks the
 * JSON API for one page of fabrics at a time (search, filters, sort and paging are done by the
 * server), and shows one fabric's details, history and actions in a per-fabric view
 * (`#fabric=<id>` in the address). Every value from the server is set as text, never as markup.
 */
import { SYNC_STATUSES } from '../status.js';

/** Header every action request must carry (a cross-site form cannot set it: CSRF guard). */
export const ACTION_HEADER = 'x-syncwheel-action';

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function renderPage(o: { title: string; refresh: number; actions: boolean; nonce: string; pageSize: number }): string {
  const config = JSON.stringify({ refresh: o.refresh, actions: o.actions, statuses: SYNC_STATUSES, pageSize: o.pageSize }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(o.title)}</title>
<style nonce="${o.nonce}">
  :root { --fg:#1d2433; --muted:#6b7385; --line:#e3e6ee; --bg:#f7f8fb; --card:#fff; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--fg); background:var(--bg); }
  header { padding:16px 24px; background:#1d2433; color:#fff; display:flex; align-items:baseline; gap:16px; flex-wrap:wrap; }
  header h1 { font-size:18px; margin:0; font-weight:600; }
  header .meta { color:#b8bfd0; font-size:12px; }
  main { padding:16px 24px; }
  a { color:#1f5fa8; text-decoration:none; } a:hover { text-decoration:underline; }
  .cards { display:flex; gap:12px; flex-wrap:wrap; margin-bottom:16px; }
  .card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 14px; min-width:110px; }
  .card b { display:block; font-size:20px; }
  .card span { color:var(--muted); font-size:12px; }
  .banner { background:#fff4d6; border:1px solid #f0d48a; padding:8px 12px; border-radius:6px; margin-bottom:12px; }
  .hidden { display:none !important; }
  .filters { display:flex; gap:12px; align-items:center; margin-bottom:8px; flex-wrap:wrap; }
  select, button, input { font:inherit; }
  input[type=search] { border:1px solid #c5cada; border-radius:5px; padding:2px 8px; width:220px; }
  button { border:1px solid #c5cada; background:#fff; border-radius:5px; padding:2px 8px; cursor:pointer; margin-right:4px; }
  button:hover { background:#eef1f7; } button:disabled { opacity:.45; cursor:default; }
  table { border-collapse:collapse; width:100%; background:var(--card); border:1px solid var(--line); border-radius:8px; overflow:hidden; }
  th, td { text-align:left; padding:7px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
  th { background:#eef1f7; font-weight:600; font-size:12px; text-transform:uppercase; letter-spacing:.03em; color:#465069; }
  td.num { text-align:right; font-variant-numeric:tabular-nums; }
  td.err, dd.err { color:#a4262c; max-width:420px; word-break:break-word; }
  td.id { font-family:ui-monospace,SFMono-Regular,Menlo,monospace; word-break:break-all; max-width:320px; }
  .pager { display:flex; gap:8px; align-items:center; margin:8px 0 0; color:var(--muted); font-size:12px; }
  .pill { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; }
  .s-in_sync, .o-succeeded { background:#dff5e3; color:#1d6b30; } .s-syncing { background:#dcecff; color:#1f5fa8; }
  .s-error, .o-failed { background:#fde2e1; color:#a4262c; } .s-out_of_sync { background:#fff0d1; color:#8a5a00; }
  .s-never_synced, .s-disabled { background:#eceef3; color:#5b6478; } .s-paused { background:#efe3ff; color:#6a3fb0; margin-left:4px; }
  .s-breaker { background:#ffe3cc; color:#8a3b00; margin-left:4px; }
  #detail { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 16px; margin-bottom:16px; }
  #detail h2 { margin-top:0; font-family:ui-monospace,SFMono-Regular,Menlo,monospace; word-break:break-all; }
  dl { display:grid; grid-template-columns:max-content 1fr; gap:4px 16px; margin:8px 0 12px; }
  dt { color:var(--muted); } dd { margin:0; }
  h2 { font-size:15px; margin:20px 0 8px; } h3 { font-size:13px; margin:12px 0 6px; }
  #msg { color:var(--muted); margin-left:auto; font-size:12px; }
</style>
</head>
<body>
<header><h1>${escapeHtml(o.title)}</h1><span class="meta" id="updated">loading…</span></header>
<main>
  <div id="paused" class="banner hidden">The scheduler is paused: no scheduled run starts until it is resumed.</div>
  <div class="cards" id="cards"></div>
  <section id="detail" class="hidden">
    <a href="#" id="detail-close">← all fabrics</a>
    <h2 id="detail-title"></h2>
    <div id="detail-actions"></div>
    <dl id="detail-fields"></dl>
    <h3>Last runs (newest first)</h3>
    <p id="history-note" class="hidden"></p>
    <table id="history">
      <thead><tr><th>Finished</th><th>Trigger</th><th>Outcome</th><th>Duration</th><th>Late</th><th>Fencing token</th><th>Replica</th><th>Error</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <div class="filters">
    <label>Search <input type="search" id="q" placeholder="fabric id" autocomplete="off"></label>
    <label>Status <select id="f-status"><option value="">all</option></select></label>
    <label>Queue <select id="f-queue"><option value="">all</option></select></label>
    <label>Sort <select id="sort"><option value="id">id</option><option value="status">status (worst first)</option><option value="staleness">staleness (oldest success first)</option></select></label>
    <span id="global-actions"></span>
    <span id="msg" role="status"></span>
  </div>
  <table id="fabrics">
    <thead><tr><th>Fabric</th><th>Queue</th><th>Status</th><th>Last successful sync</th><th>Next sync</th><th>Last error</th><th>Failures</th><th>Lateness</th><th class="act">Actions</th></tr></thead>
    <tbody></tbody>
  </table>
  <div class="pager"><button id="prev">‹ Previous</button><span id="range"></span><button id="next">Next ›</button></div>
  <h2>Queues</h2>
  <table id="queues">
    <thead><tr><th>Queue</th><th>Priority</th><th>In flight</th><th>Backlog</th><th>Runs</th><th>Failed</th><th>Missed</th><th>Lateness p50 / p99</th><th class="act">Actions</th></tr></thead>
    <tbody></tbody>
  </table>
</main>
<script nonce="${o.nonce}">
"use strict";
const CONFIG = ${config};
const base = location.pathname.endsWith('/') ? location.pathname : location.pathname + '/';
const $ = (s) => document.querySelector(s);
const enc = encodeURIComponent;
function el(tag, props, ...children) {
  const e = document.createElement(tag);
  if (props) for (const [k, v] of Object.entries(props)) { if (k === 'class') e.className = v; else if (k === 'title') e.title = v; else if (k === 'onclick') e.addEventListener('click', v); else e.setAttribute(k, v); }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c == null ? '' : String(c)));
  return e;
}
function rel(t, now) {
  if (t == null) return '–';
  const d = Math.round((t - now) / 1000);
  const a = Math.abs(d);
  const s = a < 90 ? a + ' s' : a < 5400 ? Math.round(a / 60) + ' min' : a < 172800 ? Math.round(a / 3600) + ' h' : Math.round(a / 86400) + ' d';
  return d < 0 ? s + ' ago' : d === 0 ? 'now' : 'in ' + s;
}
function ms(v) { return v == null ? '–' : v < 1000 ? v + ' ms' : (v / 1000).toFixed(1) + ' s'; }
function iso(t) { return t == null ? '' : new Date(t).toISOString(); }
const num = (n) => Number(n).toLocaleString('en-US');
for (const s of CONFIG.statuses) $('#f-status').append(el('option', { value: s }, s));
// The view's state lives in the address (#status=…&q=…&sort=…&offset=…&fabric=…): reload and share keep it.
const state = { status: '', queue: '', q: '', sort: 'id', offset: 0, fabric: '' };
function readHash() {
  const h = new URLSearchParams(location.hash.slice(1));
  for (const k of ['status', 'queue', 'q', 'sort', 'fabric']) state[k] = h.get(k) || (k === 'sort' ? 'id' : '');
  state.offset = Math.max(0, parseInt(h.get('offset') || '0', 10) || 0);
  $('#q').value = state.q; $('#f-status').value = state.status; $('#sort').value = state.sort;
}
function writeHash() {
  const h = new URLSearchParams();
  for (const k of ['status', 'queue', 'q', 'fabric']) if (state[k]) h.set(k, state[k]);
  if (state.sort !== 'id') h.set('sort', state.sort);
  if (state.offset) h.set('offset', String(state.offset));
  const s = h.toString();
  history.replaceState(null, '', s ? '#' + s : location.pathname + location.search);
}
async function act(path, label) {
  $('#msg').textContent = label + '…';
  try {
    const r = await fetch(base + path, { method: 'POST', headers: { '${ACTION_HEADER}': '1' } });
    const body = await r.json().catch(() => ({}));
    // sync: what requestSync answered (started, queued, coalesced), or syncNow's outcome
    const said = body.requested || (body.status ? body.status + (body.reason ? ' (' + body.reason + ')' : '') : 'done');
    $('#msg').textContent = r.ok ? label + ': ' + said : label + ': ' + (body.error || r.status);
  } catch (e) { $('#msg').textContent = label + ': ' + e.message; }
  refresh();
}
function actions(f) {
  const box = [];
  if (!CONFIG.actions) return box;
  if (f.enabled) box.push(el('button', { onclick: () => act('fabrics/' + enc(f.id) + '/sync', 'sync ' + f.id) }, 'Sync now'));
  box.push(f.paused ? el('button', { onclick: () => act('fabrics/' + enc(f.id) + '/resume', 'resume ' + f.id) }, 'Resume') : el('button', { onclick: () => act('fabrics/' + enc(f.id) + '/pause', 'pause ' + f.id) }, 'Pause'));
  return box;
}
function breakerText(b, now) { return 'probing every ' + ms(b.probeInterval) + (b.nextProbeAt != null ? ', next ' + rel(b.nextProbeAt, now) : ''); }
function statusCell(f, now) {
  const st = el('td', null, el('span', { class: 'pill s-' + f.status }, f.status.replace('_', ' ')));
  if (f.paused) st.append(el('span', { class: 'pill s-paused' }, 'paused'));
  if (f.breaker) st.append(el('span', { class: 'pill s-breaker', title: f.breaker.failures + ' failures in a row' }, breakerText(f.breaker, now)));
  return st;
}
function renderList(page, metrics) {
  const now = Date.now();
  $('#updated').textContent = 'updated ' + new Date().toLocaleTimeString() + ' · refreshes every ' + CONFIG.refresh / 1000 + ' s';
  $('#paused').classList.toggle('hidden', !metrics.paused);
  const cards = $('#cards'); cards.replaceChildren();
  const c = page.counts;
  const card = (v, l) => cards.append(el('div', { class: 'card' }, el('b', null, num(v)), el('span', null, l)));
  card(page.fabrics, 'fabrics'); card(c.in_sync || 0, 'in sync'); card(c.error || 0, 'in error');
  card(c.out_of_sync || 0, 'out of sync'); card(metrics.inFlight, 'syncing now'); card(metrics.backlog, 'waiting'); card(metrics.runs, 'runs'); card(metrics.failed, 'failed runs');
  const qsel = $('#f-queue');
  qsel.replaceChildren(el('option', { value: '' }, 'all'), ...Object.keys(metrics.queues).map((q) => el('option', { value: q }, q)));
  qsel.value = state.queue;
  const tbody = $('#fabrics tbody'); tbody.replaceChildren();
  for (const f of page.items) {
    tbody.append(el('tr', { 'data-id': f.id },
      el('td', { class: 'id' }, el('a', { href: '#fabric=' + enc(f.id), class: 'open', onclick: (e) => { e.preventDefault(); state.fabric = f.id; refresh(); } }, f.id)), el('td', null, f.queue), statusCell(f, now),
      el('td', { title: iso(f.lastSyncAt) }, rel(f.lastSyncAt, now)),
      el('td', { title: iso(f.nextSyncAt) }, f.enabled ? rel(f.nextSyncAt, now) : 'disabled'),
      el('td', { class: 'err' }, f.lastError || ''),
      el('td', { class: 'num' }, f.consecutiveFailures), el('td', { class: 'num' }, ms(f.lastLateness)), el('td', { class: 'act' }, ...actions(f))));
  }
  $('#range').textContent = page.total === 0 ? 'no fabrics match' : num(page.offset + 1) + '–' + num(page.offset + page.items.length) + ' of ' + num(page.total);
  $('#prev').disabled = page.offset === 0;
  $('#next').disabled = page.offset + page.items.length >= page.total;
  const qbody = $('#queues tbody'); qbody.replaceChildren();
  for (const q of Object.values(metrics.queues)) {
    const acts = el('td', { class: 'act' });
    if (CONFIG.actions) {
      acts.append(q.paused ? el('button', { onclick: () => act('queues/' + enc(q.name) + '/resume', 'resume queue ' + q.name) }, 'Resume') : el('button', { onclick: () => act('queues/' + enc(q.name) + '/pause', 'pause queue ' + q.name) }, 'Pause'));
      acts.append(el('button', { onclick: () => act('queues/' + enc(q.name) + '/clear', 'clear backlog of ' + q.name) }, 'Clear backlog'));
    }
    const name = el('td', null, q.name); if (q.paused) name.append(el('span', { class: 'pill s-paused' }, 'paused'));
    qbody.append(el('tr', null, name, el('td', { class: 'num' }, q.priority), el('td', { class: 'num' }, q.inFlight + ' / ' + (q.concurrency == null ? '∞' : q.concurrency)),
      el('td', { class: 'num' }, q.backlog), el('td', { class: 'num' }, q.runs), el('td', { class: 'num' }, q.failed), el('td', { class: 'num' }, q.missed),
      el('td', { class: 'num' }, ms(q.lateness.p50) + ' / ' + ms(q.lateness.p99)), acts));
  }
  const ga = $('#global-actions'); ga.replaceChildren();
  if (CONFIG.actions) ga.append(metrics.paused ? el('button', { onclick: () => act('resume', 'resume scheduler') }, 'Resume scheduler') : el('button', { onclick: () => act('pause', 'pause scheduler') }, 'Pause scheduler'));
  for (const th of document.querySelectorAll('.act')) th.classList.toggle('hidden', !CONFIG.actions);
}
function renderDetail(f, runs, note) {
  const now = Date.now();
  $('#detail-title').textContent = f.id;
  $('#detail-actions').replaceChildren(...actions(f));
  const fields = $('#detail-fields'); fields.replaceChildren();
  const row = (k, v, cls) => fields.append(el('dt', null, k), el('dd', cls ? { class: cls } : null, ...(Array.isArray(v) ? v : [v])));
  row('Status', [...statusCell(f, now).childNodes]);
  row('Queue', f.queue); if (f.syncInterval == null) row('Schedule', f.cadence); else row('Interval', ms(f.syncInterval));
  row('Last successful sync', f.lastSyncAt == null ? 'never' : rel(f.lastSyncAt, now) + ' (' + iso(f.lastSyncAt) + ')');
  row('Next sync', f.enabled ? rel(f.nextSyncAt, now) + (f.nextSyncAt == null ? '' : ' (' + iso(f.nextSyncAt) + ')') : 'disabled');
  row('Failures in a row', f.consecutiveFailures);
  if (f.breaker) row('Breaker', f.breaker.failures + ' failures; ' + breakerText(f.breaker, now));
  if (f.lastError) row('Last error', f.lastError, 'err');
  $('#history-note').textContent = note || '';
  $('#history-note').classList.toggle('hidden', !note);
  const hb = $('#history tbody'); hb.replaceChildren();
  for (const h of runs) {
    hb.append(el('tr', null, el('td', { title: iso(h.finishedAt) }, rel(h.finishedAt, now)), el('td', null, h.trigger),
      el('td', null, el('span', { class: 'pill o-' + h.outcome }, h.outcome + (h.reason ? ' (' + h.reason + ')' : ''))),
      el('td', { class: 'num' }, ms(h.durationMs)), el('td', { class: 'num' }, ms(h.startedAt - h.scheduledAt)), el('td', { class: 'num' }, h.fencingToken),
      el('td', null, h.replica || '–'), el('td', { class: 'err' }, h.error || '')));
  }
}
async function json(path) {
  const r = await fetch(base + path);
  const body = await r.json().catch(() => ({}));
  if (!r.ok) { const e = new Error(body.error || 'HTTP ' + r.status); e.status = r.status; throw e; }
  return body;
}
let seq = 0;
async function refresh() {
  const mine = ++seq;
  writeHash();
  const p = new URLSearchParams({ offset: String(state.offset), limit: String(CONFIG.pageSize), sort: state.sort });
  if (state.sort === 'staleness') p.set('order', 'asc');
  for (const k of ['status', 'queue', 'q']) if (state[k]) p.set(k, state[k]);
  try {
    const [page, m] = await Promise.all([json('fabrics?' + p), json('metrics')]);
    let detail;
    if (state.fabric) {
      const id = enc(state.fabric);
      const [f, runs] = await Promise.all([json('fabrics/' + id).catch((e) => ({ missing: e.message })), json('fabrics/' + id + '/history').catch((e) => ({ error: e }))]);
      detail = { f, runs };
    }
    if (mine !== seq) return; // a newer refresh is on its way
    renderList(page, m);
    $('#detail').classList.toggle('hidden', !detail);
    if (detail && detail.f.missing) { $('#detail-title').textContent = state.fabric; $('#detail-fields').replaceChildren(el('dt', null, 'Error'), el('dd', { class: 'err' }, detail.f.missing)); $('#history tbody').replaceChildren(); }
    else if (detail) renderDetail(detail.f, Array.isArray(detail.runs) ? detail.runs : [], Array.isArray(detail.runs) ? (detail.runs.length ? '' : 'No runs recorded yet.') : detail.runs.error.message);
    document.body.dataset.ready = '1';
    document.body.dataset.loads = String((Number(document.body.dataset.loads) || 0) + 1);
  } catch (e) { $('#updated').textContent = 'could not load: ' + e.message; }
}
let typing;
$('#q').addEventListener('input', () => { clearTimeout(typing); typing = setTimeout(() => { state.q = $('#q').value.trim(); state.offset = 0; refresh(); }, 250); });
$('#f-status').addEventListener('change', () => { state.status = $('#f-status').value; state.offset = 0; refresh(); });
$('#f-queue').addEventListener('change', () => { state.queue = $('#f-queue').value; state.offset = 0; refresh(); });
$('#sort').addEventListener('change', () => { state.sort = $('#sort').value; state.offset = 0; refresh(); });
$('#prev').addEventListener('click', () => { state.offset = Math.max(0, state.offset - CONFIG.pageSize); refresh(); });
$('#next').addEventListener('click', () => { state.offset += CONFIG.pageSize; refresh(); });
$('#detail-close').addEventListener('click', (e) => { e.preventDefault(); state.fabric = ''; refresh(); });
window.addEventListener('hashchange', () => { readHash(); refresh(); });
readHash();
refresh();
setInterval(refresh, CONFIG.refresh);
</script>
</body>
</html>
`;
}
