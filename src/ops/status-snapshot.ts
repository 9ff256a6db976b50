/**
 * The status page at scale: one listing of every fabric (a snapshot, rebuilt at most every
 * `snapshotMaxAge` ms and after an action), pages served from it by search, filter and sort.
 * Listing 100,000 fabrics from a MemoryStorage takes ~45-70 ms (docs/operations.md): done per
 * request it would hold the scheduler's event loop for every viewer's every refresh.
 *
 * Filtering, sorting and paging are pure functions of a snapshot and a query (no clock).
 */
import type { FabricStatus } from '../scheduler/types.js';
import { SYNC_STATUSES } from '../status.js';

/** How `/fabrics` orders its rows. */
export type FabricSort = 'id' | 'status' | 'staleness';

/** One page request of `/fabrics`. */
export interface FabricQuery {
  readonly status: string | undefined;
  readonly queue: string | undefined;
  /** Case-insensitive substring of the id. */
  readonly q: string | undefined;
  /** `id` (A to Z), `status` (worst first: error, out of sync, never synced, syncing, in sync, disabled), `staleness` (longest since its last success first; never synced first of all). */
  readonly sort: FabricSort;
  /** `asc` is the order just described, `desc` its reverse. */
  readonly order: 'asc' | 'desc';
  readonly offset: number;
  readonly limit: number;
}

/** What `/fabrics` answers. */
export interface FabricPage {
  /** Rows matching the query (all pages). */
  readonly total: number;
  readonly offset: number;
  readonly limit: number;
  readonly items: readonly FabricStatus[];
  /** Every fabric in the snapshot (unfiltered), and how many have each status. */
  readonly fabrics: number;
  readonly counts: Readonly<Record<string, number>>;
  /** When the snapshot was taken (epoch ms, the page's clock). */
  readonly snapshotAt: number;
}

/** Rows per page when `limit` is not given. */
export const DEFAULT_PAGE_SIZE = 50;
/** Largest `limit` `/fabrics` accepts. */
export const MAX_PAGE_SIZE = 500;

const SORTS: readonly FabricSort[] = ['id', 'status', 'staleness'];
/** Worst first. */
const SEVERITY: Readonly<Record<string, number>> = { error: 0, out_of_sync: 1, never_synced: 2, syncing: 3, in_sync: 4, disabled: 5 };

/** Reads a query string; a message naming the bad parameter when it cannot. */
export function parseFabricQuery(p: URLSearchParams): FabricQuery | { error: string } {
  const status = p.get('status') || undefined;
  if (status !== undefined && !(SYNC_STATUSES as readonly string[]).includes(status)) return { error: `Expected status to be one of ${SYNC_STATUSES.join(', ')}, got ${JSON.stringify(status)}` };
  const sort = (p.get('sort') || 'id') as FabricSort;
  if (!SORTS.includes(sort)) return { error: `Expected sort to be one of ${SORTS.join(', ')}, got ${JSON.stringify(sort)}` };
  const order = p.get('order') || 'asc';
  if (order !== 'asc' && order !== 'desc') return { error: `Expected order to be asc or desc, got ${JSON.stringify(order)}` };
  const offset = intParam(p.get('offset'), 0);
  if (offset === undefined || offset < 0) return { error: `Expected offset to be a non-negative integer, got ${JSON.stringify(p.get('offset'))}` };
  const limit = intParam(p.get('limit'), DEFAULT_PAGE_SIZE);
  if (limit === undefined || limit < 1 || limit > MAX_PAGE_SIZE) return { error: `Expected limit to be an integer from 1 to ${MAX_PAGE_SIZE}, got ${JSON.stringify(p.get('limit'))}` };
  const q = p.get('q') || undefined;
  if (q !== undefined && q.length > 500) return { error: 'Expected q to be at most 500 characters' };
  return { status, queue: p.get('queue') || undefined, q, sort, order, offset, limit };
}

function intParam(raw: string | null, fallback: number): number | undefined {
  if (raw === null || raw === '') return fallback;
  if (!/^\d{1,15}$/.test(raw)) return undefined;
  return Number(raw);
}

/** One listing of every fabric, sorted by id, with its other orders built on first use. */
export class FabricSnapshot {
  readonly rows: readonly FabricStatus[];
  readonly at: number;
  readonly counts: Readonly<Record<string, number>>;
  #orders = new Map<FabricSort, readonly FabricStatus[]>();

  /** @param rows every fabric, sorted by id */
  constructor(rows: readonly FabricStatus[], at: number) {
    this.rows = rows;
    this.at = at;
    const counts: Record<string, number> = {};
    for (const s of SYNC_STATUSES) counts[s] = 0;
    for (const r of rows) counts[r.status] = (counts[r.status] ?? 0) + 1;
    this.counts = counts;
    this.#orders.set('id', rows);
  }

  /** The rows in `sort`'s ascending order (stable: ties stay by id). */
  ordered(sort: FabricSort): readonly FabricStatus[] {
    let rows = this.#orders.get(sort);
    if (!rows) {
      // keys computed once, indices sorted (ties by index: by id)
      const all = this.rows;
      const keys = new Float64Array(all.length);
      for (let i = 0; i < all.length; i++) keys[i] = sort === 'status' ? (SEVERITY[all[i]!.status] ?? 9) : (all[i]!.lastSyncAt ?? Number.NEGATIVE_INFINITY);
      const order = new Uint32Array(all.length);
      for (let i = 0; i < order.length; i++) order[i] = i;
      order.sort((a, b) => keys[a]! - keys[b]! || a - b);
      rows = Array.from(order, (i) => all[i]!);
      this.#orders.set(sort, rows);
    }
    return rows;
  }
}

/** The page of `snapshot` that `query` asks for. */
export function queryPage(snapshot: FabricSnapshot, query: FabricQuery): FabricPage {
  const { status, queue, q, offset, limit } = query;
  const needle = q?.toLowerCase();
  const rows = snapshot.ordered(query.sort);
  const n = rows.length;
  const at = (k: number) => rows[query.order === 'asc' ? k : n - 1 - k]!;
  const items: FabricStatus[] = [];
  if (status === undefined && queue === undefined && needle === undefined) {
    for (let k = offset; k < n && items.length < limit; k++) items.push(at(k));
    return { total: n, offset, limit, items, fabrics: n, counts: snapshot.counts, snapshotAt: snapshot.at };
  }
  let total = 0;
  for (let k = 0; k < n; k++) {
    const r = at(k);
    if ((status !== undefined && r.status !== status) || (queue !== undefined && r.queue !== queue) || (needle !== undefined && !r.id.toLowerCase().includes(needle))) continue;
    if (total >= offset && items.length < limit) items.push(r);
    total++;
  }
  return { total, offset, limit, items, fabrics: n, counts: snapshot.counts, snapshotAt: snapshot.at };
}

/**
 * Holds the current snapshot: rebuilt when it is older than `maxAge` ms (callers arriving
 * meanwhile share one rebuild), or after {@link Snapshots.invalidate}.
 */
export class Snapshots {
  readonly #load: () => Promise<readonly FabricStatus[]>;
  readonly #now: () => number;
  readonly #maxAge: number;
  #current: FabricSnapshot | undefined;
  #loading: Promise<FabricSnapshot> | undefined;
  #generation = 0;

  constructor(load: () => Promise<readonly FabricStatus[]>, now: () => number, maxAge: number) {
    this.#load = load;
    this.#now = now;
    this.#maxAge = maxAge;
  }

  get(): Promise<FabricSnapshot> {
    const c = this.#current;
    if (c && this.#now() - c.at < this.#maxAge) return Promise.resolve(c);
    if (this.#loading) return this.#loading;
    const generation = this.#generation;
    const at = this.#now();
    const loading = this.#load().then(
      (rows) => {
        const snap = new FabricSnapshot(rows, at);
        if (generation === this.#generation) this.#current = snap;
        if (this.#loading === loading) this.#loading = undefined;
        return snap;
      },
      (error: unknown) => {
        if (this.#loading === loading) this.#loading = undefined;
        throw error;
      },
    );
    this.#loading = loading;
    return loading;
  }

  /** The next `get` lists again (after an action: the page shows its effect at once). */
  invalidate(): void {
    this.#current = undefined;
    this.#loading = undefined;
    this.#generation++;
  }
}
