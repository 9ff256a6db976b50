/**
 * The status page: one plain node:http `(req, res, next?)` handler serving JSON and an HTML page
 * for a scheduler. Mount it on a bare `http.createServer`, in Express (`app.use('/sync', h)`), or
 * in Fastify (`fastify.all('/sync/*', (req, reply) => h(req.raw, reply.raw))` with `basePath`).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidOptionError, SyncwheelError, UnknownFabricError, FabricDisabledError, SchedulerNotRunningError } from '../errors.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import { SYNC_STATUSES } from '../status.js';

/** Options of {@link createStatusHandler}. */
export interface StatusHandlerOptions {
  /**
   * Decides whether a request may act (sync now, pause, resume, clear a backlog). Without it the
   * page and the API are read-only: action routes answer 403 and the page shows no buttons.
   * @default undefined (read-only)
   */
  authorize?: (req: IncomingMessage) => boolean | Promise<boolean>;
  /**
   * Path prefix to strip from `req.url` (for routers that do not strip their mount path, such as
   * a bare server or Fastify). Express's `app.use(path, handler)` strips it already.
   * @default ''
   */
  basePath?: string;
  /**
   * Heading and `<title>` of the page.
   * @default 'syncwheel'
   */
  title?: string;
  /**
   * How often the page re-reads the JSON, ms.
   * @default 5_000
   */
  refreshInterval?: number;
}

/** A node:http handler; `next` (Express style) is called for paths it does not serve. */
export type StatusHandler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void;

/** Header every action request must carry (a cross-site form cannot set it: CSRF guard). */
export const ACTION_HEADER = 'x-syncwheel-action';

const DEFAULTS = Object.freeze({ basePath: '', title: 'syncwheel', refreshInterval: 5_000 });

/**
 * Creates the status handler for `scheduler`.
 *
 * | method | path                          | what                                                  |
 * |--------|-------------------------------|-------------------------------------------------------|
 * | GET    | `/`                           | the HTML page                                         |
 * | GET    | `/fabrics?status=&queue=`     | `FabricStatus[]`, filtered                            |
 * | GET    | `/fabrics/:id`                | one `FabricStatus` (404 when unknown)                 |
 * | GET    | `/metrics`                    | `scheduler.metrics()` plus `pauses`                   |
 * | POST   | `/fabrics/:id/sync`           | `requestSync` (answers `{ fabricId, requested }`)     |
 * | POST   | `/fabrics/:id/pause`, `/resume` | pause or resume one fabric                          |
 * | POST   | `/queues/:name/pause`, `/resume`, `/clear` | a queue                                  |
 * | POST   | `/pause`, `/resume`           | the whole scheduler                                   |
 *
 * POST routes need `authorize` to allow the request (checked first: 403 otherwise) and then the header
 * `x-syncwheel-action: 1` (400 without it).
 */
export function createStatusHandler(scheduler: Scheduler, options: StatusHandlerOptions = {}): StatusHandler {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
  const authorize = options.authorize;
  if (authorize !== undefined && typeof authorize !== 'function') throw new InvalidOptionError('authorize', 'a function', authorize);
  const basePath = (options.basePath ?? DEFAULTS.basePath).replace(/\/+$/, '');
  if (typeof basePath !== 'string' || (basePath !== '' && !basePath.startsWith('/'))) throw new InvalidOptionError('basePath', "a path starting with '/'", options.basePath);
  const title = options.title ?? DEFAULTS.title;
  if (typeof title !== 'string') throw new InvalidOptionError('title', 'a string', title);
  const refresh = options.refreshInterval ?? DEFAULTS.refreshInterval;
  if (!Number.isSafeInteger(refresh) || refresh < 250) throw new InvalidOptionError('refreshInterval', 'an integer number of ms >= 250', options.refreshInterval);

  return (req, res, next) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, { error: error instanceof Error ? error.message : String(error) });
      else res.end();
    });

    async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
      const url = new URL(req.url ?? '/', 'http://localhost');
      let path = url.pathname;
      if (basePath) {
        if (path !== basePath && !path.startsWith(`${basePath}/`)) return notFound();
        path = path.slice(basePath.length);
      }
      if (path === '') path = '/';
      let parts: string[];
      try {
        parts = path.split('/').filter(Boolean).map(decodeURIComponent);
      } catch {
        return send(res, 400, { error: 'malformed path' });
      }
      const method = req.method ?? 'GET';
      if (method === 'GET' || method === 'HEAD') {
        if (parts.length === 0) return sendPage(req, res);
        if (parts[0] === 'fabrics' && parts.length === 1) {
          const status = url.searchParams.get('status');
          const queue = url.searchParams.get('queue');
          const rows = (await scheduler.listFabrics()).filter((f) => (!status || f.status === status) && (!queue || f.queue === queue));
          return send(res, 200, rows);
        }
        if (parts[0] === 'fabrics' && parts.length === 2) {
          const status = await scheduler.getFabricStatus(parts[1]!);
          return status ? send(res, 200, status) : send(res, 404, { error: `Unknown fabric ${JSON.stringify(parts[1])}` });
        }
        if (parts[0] === 'metrics' && parts.length === 1) return send(res, 200, { ...scheduler.metrics(), pauses: scheduler.pauses() });
        return notFound();
      }
      if (method !== 'POST') return notFound();
      const action = route(parts);
      if (!action) return notFound();
      if (!authorize) return send(res, 403, { error: 'actions are disabled: the host passed no authorize function' });
      // authorization first: an unauthorized caller learns nothing about what else a request needs
      let allowed = false;
      try {
        allowed = (await authorize(req)) === true;
      } catch {
        allowed = false;
      }
      if (!allowed) return send(res, 403, { error: 'not authorized' });
      if (req.headers[ACTION_HEADER] !== '1') return send(res, 400, { error: `actions need the header ${ACTION_HEADER}: 1` });
      try {
        return send(res, 200, (await action()) ?? { ok: true });
      } catch (error) {
        if (error instanceof UnknownFabricError) return send(res, 404, { error: error.message });
        if (error instanceof FabricDisabledError || error instanceof SchedulerNotRunningError) return send(res, 409, { error: error.message });
        if (error instanceof InvalidOptionError) return send(res, 400, { error: error.message });
        if (error instanceof SyncwheelError) return send(res, 500, { error: error.message });
        throw error;
      }
    }

    function route(parts: string[]): (() => Promise<unknown>) | undefined {
      const [a, b, c] = parts;
      if (parts.length === 1 && a === 'pause') return () => scheduler.pause();
      if (parts.length === 1 && a === 'resume') return () => scheduler.resume();
      if (parts.length === 3 && a === 'fabrics') {
        if (c === 'sync') return async () => ({ fabricId: b!, requested: await scheduler.requestSync(b!) });
        if (c === 'pause') return () => scheduler.pause({ fabric: b! });
        if (c === 'resume') return () => scheduler.resume({ fabric: b! });
      }
      if (parts.length === 3 && a === 'queues') {
        if (c === 'pause') return () => scheduler.pause({ queue: b! });
        if (c === 'resume') return () => scheduler.resume({ queue: b! });
        if (c === 'clear') return async () => ({ cleared: scheduler.clearBacklog(b!) });
      }
      return undefined;
    }

    function notFound(): void {
      if (next) next();
      else send(res, 404, { error: 'not found' });
    }

    async function sendPage(req: IncomingMessage, res: ServerResponse): Promise<void> {
      let actions = false;
      if (authorize) {
        try {
          actions = (await authorize(req)) === true;
        } catch {
          actions = false;
        }
      }
      const nonce = randomBytes(16).toString('base64');
      const body = renderPage({ title, refresh, actions, nonce });
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        'x-frame-options': 'DENY',
        'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    }
  };
}

function serializableResult(result: object): object {
  const r = result as { error?: unknown };
  if (r.error instanceof Error) return { ...result, error: r.error.message };
  return result;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body, (_k, v: unknown) => (v === Number.POSITIVE_INFINITY ? null : v));
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(json);
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function renderPage(o: { title: string; refresh: number; actions: boolean; nonce: string }): string {
  const config = JSON.stringify({ refresh: o.refresh, actions: o.actions, statuses: SYNC_STATUSES }).replace(/</g, '\\u003c');
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
  .cards { display:flex; gap:12px; flex-wrap:wrap; margin-bottom:16px; }
  .card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 14px; min-width:110px; }
  .card b { display:block; font-size:20px; }
  .card span { color:var(--muted); font-size:12px; }
  .banner { background:#fff4d6; border:1px solid #f0d48a; padding:8px 12px; border-radius:6px; margin-bottom:12px; }
  .hidden { display:none; }
  .filters { display:flex; gap:12px; align-items:center; margin-bottom:8px; flex-wrap:wrap; }
  select, button { font:inherit; }
  button { border:1px solid #c5cada; background:#fff; border-radius:5px; padding:2px 8px; cursor:pointer; margin-right:4px; }
  button:hover { background:#eef1f7; }
  table { border-collapse:collapse; width:100%; background:var(--card); border:1px solid var(--line); border-radius:8px; overflow:hidden; }
  th, td { text-align:left; padding:7px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
  th { background:#eef1f7; font-weight:600; font-size:12px; text-transform:uppercase; letter-spacing:.03em; color:#465069; }
  td.num { text-align:right; font-variant-numeric:tabular-nums; }
  td.err { color:#a4262c; max-width:420px; word-break:break-word; }
  td.id { font-family:ui-monospace,SFMono-Regular,Menlo,monospace; word-break:break-all; max-width:320px; }
  .pill { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; }
  .s-in_sync { background:#dff5e3; color:#1d6b30; } .s-syncing { background:#dcecff; color:#1f5fa8; }
  .s-error { background:#fde2e1; color:#a4262c; } .s-out_of_sync { background:#fff0d1; color:#8a5a00; }
  .s-never_synced, .s-disabled { background:#eceef3; color:#5b6478; } .s-paused { background:#efe3ff; color:#6a3fb0; margin-left:4px; }
  h2 { font-size:15px; margin:20px 0 8px; }
  #msg { color:var(--muted); margin-left:auto; font-size:12px; }
</style>
</head>
<body>
<header><h1>${escapeHtml(o.title)}</h1><span class="meta" id="updated">loading…</span></header>
<main>
  <div id="paused" class="banner hidden">The scheduler is paused: no scheduled run starts until it is resumed.</div>
  <div class="cards" id="cards"></div>
  <div class="filters">
    <label>Status <select id="f-status"><option value="">all</option></select></label>
    <label>Queue <select id="f-queue"><option value="">all</option></select></label>
    <span id="global-actions"></span>
    <span id="msg" role="status"></span>
  </div>
  <table id="fabrics">
    <thead><tr><th>Fabric</th><th>Queue</th><th>Status</th><th>Last successful sync</th><th>Next sync</th><th>Last error</th><th>Failures</th><th>Lateness</th><th class="act">Actions</th></tr></thead>
    <tbody></tbody>
  </table>
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
for (const s of CONFIG.statuses) $('#f-status').append(el('option', { value: s }, s));
const fromHash = new URLSearchParams(location.hash.slice(1));
async function act(path, label) {
  $('#msg').textContent = label + '…';
  try {
    const r = await fetch(base + path, { method: 'POST', headers: { '${ACTION_HEADER}': '1' } });
    const body = await r.json().catch(() => ({}));
    $('#msg').textContent = r.ok ? label + ': done' : label + ': ' + (body.error || r.status);
  } catch (e) { $('#msg').textContent = label + ': ' + e.message; }
  refresh();
}
const enc = encodeURIComponent;
function render(fabrics, metrics) {
  const now = Date.now();
  $('#updated').textContent = 'updated ' + new Date().toLocaleTimeString() + ' · refreshes every ' + CONFIG.refresh / 1000 + ' s';
  $('#paused').classList.toggle('hidden', !metrics.paused);
  const cards = $('#cards'); cards.replaceChildren();
  const counts = {}; for (const f of fabrics) counts[f.status] = (counts[f.status] || 0) + 1;
  const card = (v, l) => cards.append(el('div', { class: 'card' }, el('b', null, v), el('span', null, l)));
  card(fabrics.length, 'fabrics'); card(counts.in_sync || 0, 'in sync'); card(counts.error || 0, 'in error');
  card(counts.out_of_sync || 0, 'out of sync'); card(metrics.inFlight, 'syncing now'); card(metrics.backlog, 'waiting'); card(metrics.runs, 'runs'); card(metrics.failed, 'failed runs');
  const qsel = $('#f-queue'); const qv = qsel.value || fromHash.get('queue') || '';
  qsel.replaceChildren(el('option', { value: '' }, 'all'), ...Object.keys(metrics.queues).map((q) => el('option', { value: q }, q)));
  qsel.value = qv;
  const sv = $('#f-status').value;
  const tbody = $('#fabrics tbody'); tbody.replaceChildren();
  for (const f of fabrics) {
    if ((sv && f.status !== sv) || (qv && f.queue !== qv)) continue;
    const st = el('td', null, el('span', { class: 'pill s-' + f.status }, f.status.replace('_', ' ')));
    if (f.paused) st.append(el('span', { class: 'pill s-paused' }, 'paused'));
    const acts = el('td', { class: 'act' });
    if (CONFIG.actions) {
      if (f.enabled) acts.append(el('button', { onclick: () => act('fabrics/' + enc(f.id) + '/sync', 'sync ' + f.id) }, 'Sync now'));
      acts.append(f.paused ? el('button', { onclick: () => act('fabrics/' + enc(f.id) + '/resume', 'resume ' + f.id) }, 'Resume') : el('button', { onclick: () => act('fabrics/' + enc(f.id) + '/pause', 'pause ' + f.id) }, 'Pause'));
    }
    tbody.append(el('tr', { 'data-id': f.id },
      el('td', { class: 'id' }, f.id), el('td', null, f.queue), st,
      el('td', { title: iso(f.lastSyncAt) }, rel(f.lastSyncAt, now)),
      el('td', { title: iso(f.nextSyncAt) }, f.enabled ? rel(f.nextSyncAt, now) : 'disabled'),
      el('td', { class: 'err' }, f.lastError || ''),
      el('td', { class: 'num' }, f.consecutiveFailures), el('td', { class: 'num' }, ms(f.lastLateness)), acts));
  }
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
  document.body.dataset.ready = '1';
}
async function refresh() {
  try {
    const [f, m] = await Promise.all([fetch(base + 'fabrics').then((r) => r.json()), fetch(base + 'metrics').then((r) => r.json())]);
    render(f, m);
  } catch (e) { $('#updated').textContent = 'could not load: ' + e.message; }
}
if (fromHash.get('status')) $('#f-status').value = fromHash.get('status');
$('#f-status').addEventListener('change', refresh);
$('#f-queue').addEventListener('change', refresh);
refresh();
setInterval(refresh, CONFIG.refresh);
</script>
</body>
</html>
`;
}
