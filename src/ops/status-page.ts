/**
 * The status page: one plain node:http `(req, res, next?)` handler serving JSON and an HTML page
 * for a scheduler. Mount it on a bare `http.createServer`, in Express (`app.use('/sync', h)`), or
 * in Fastify (`fastify.all('/sync/*', (req, reply) => h(req.raw, reply.raw))` with `basePath`).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidOptionError, SyncwheelError, UnknownFabricError, FabricDisabledError, SchedulerNotRunningError } from '../errors.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import { systemClock, type Clock } from '../clock.js';
import { HistoryUnsupportedError } from '../scheduler/history.js';
import { ACTION_HEADER, escapeHtml, renderPage } from './status-page-html.js';
import { DEFAULT_PAGE_SIZE, Snapshots, parseFabricQuery, queryPage } from './status-snapshot.js';

export { ACTION_HEADER, escapeHtml };

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
  /**
   * Longest age of the listing `/fabrics` pages are cut from, ms: every fabric is listed from the
   * storage at most once per this (and again after an action), however many viewers and
   * requests, so the page stays cheap at 100,000 fabrics. 0 lists on every request.
   * @default 5_000
   */
  snapshotMaxAge?: number;
  /**
   * The clock the snapshot's age is read from (tests pass a fake clock).
   * @default the system clock
   */
  clock?: Clock;
}

/** A node:http handler; `next` (Express style) is called for paths it does not serve. */
export type StatusHandler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void;

const DEFAULTS = Object.freeze({ basePath: '', title: 'syncwheel', refreshInterval: 5_000, snapshotMaxAge: 5_000 });

/**
 * Creates the status handler for `scheduler`.
 *
 * | method | path                          | what                                                  |
 * |--------|-------------------------------|-------------------------------------------------------|
 * | GET    | `/`                           | the HTML page                                         |
 * | GET    | `/fabrics?q=&status=&queue=&sort=&order=&offset=&limit=` | one page: `{ total, offset, limit, items: FabricStatus[], fabrics, counts, snapshotAt }` (`FabricPage`); `limit` at most 500 (default 50), `sort` `id`, `status` or `staleness`; 400 on a bad parameter |
 * | GET    | `/fabrics/:id`                | one `FabricStatus`, read fresh (404 when unknown)     |
 * | GET    | `/fabrics/:id/history?limit=` | its last runs, newest first (`RunHistoryEntry[]`; 501 when the storage keeps none) |
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
  const maxAge = options.snapshotMaxAge ?? DEFAULTS.snapshotMaxAge;
  if (!Number.isSafeInteger(maxAge) || maxAge < 0) throw new InvalidOptionError('snapshotMaxAge', 'a non-negative integer number of ms', options.snapshotMaxAge);
  const clock = options.clock ?? systemClock;
  if (clock === null || typeof clock !== 'object' || typeof clock.now !== 'function') throw new InvalidOptionError('clock', 'a Clock', options.clock);
  const snapshots = new Snapshots(() => scheduler.listFabrics(), () => clock.now(), maxAge);

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
          const query = parseFabricQuery(url.searchParams);
          if ('error' in query) return send(res, 400, query);
          return send(res, 200, queryPage(await snapshots.get(), query));
        }
        if (parts[0] === 'fabrics' && parts.length === 3 && parts[2] === 'history') {
          const raw = url.searchParams.get('limit');
          try {
            return send(res, 200, await scheduler.getFabricHistory(parts[1]!, raw ? { limit: /^\d{1,4}$/.test(raw) ? Number(raw) : Number.NaN } : undefined));
          } catch (error) {
            if (error instanceof HistoryUnsupportedError) return send(res, 501, { error: error.message });
            if (error instanceof InvalidOptionError) return send(res, 400, { error: error.message });
            throw error;
          }
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
        const answer = (await action()) ?? { ok: true };
        snapshots.invalidate(); // the next page shows the action's effect
        return send(res, 200, answer);
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
      const body = renderPage({ title, refresh, actions, nonce, pageSize: DEFAULT_PAGE_SIZE });
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

function send(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body, (_k, v: unknown) => (v === Number.POSITIVE_INFINITY ? null : v));
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(json);
}
