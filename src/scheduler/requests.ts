/**
 * Sync requests (`scheduler.requestSync`, the CLI's `sync`, the status page's "Sync now").
 *
 * A request is stored WITH the fabric (`state.requestedAt`, written by compare-and-set), not in
 * the memory of the replica that took it, so whoever runs the fabric serves it:
 * - the claim of ANY run that starts after the request removes it (`claimState` writes no
 *   `requestedAt`): one run satisfies every request made before it started;
 * - a run made to serve a request claims only while a request is still pending, so replicas
 *   that learnt of the same request serve it once;
 * - the replica that finishes a run finds a request made meanwhile in the record its outcome
 *   write read (the outcome keeps the field) and starts one follow-up run (trigger `'manual'`);
 * - a request on an idle fabric reaches the replica that runs it through the change feed
 *   (storages report a write that sets or clears a request as a `defined` change) or a listing.
 * A paused fabric keeps its request until it is resumed.
 */
import type { Fabric } from '../definition.js';
import { StorageError, UnknownFabricError } from '../errors.js';
import type { FabricRecord, FabricState, Storage } from '../storage/types.js';
import type { Core } from './core.js';
import type { FabricRuntime } from './fabric-runtime.js';
import type { Queue } from './lanes.js';
import { newRun, type Run } from './run.js';

/**
 * What `requestSync` did: `'started'` a run starts now (the fabric was idle); `'queued'` the
 * fabric is syncing (here or on another replica) or paused, and one follow-up run starts when
 * that run ends (or when it is resumed); `'coalesced'` a request was pending already and this
 * one is served by the same run.
 */
export type SyncRequestOutcome = 'started' | 'queued' | 'coalesced';

/** The state with a request made at `at`, or null when one is pending already (it coalesces). */
export function requestState(s: Readonly<FabricState>, at: number): FabricState | null {
  return s.requestedAt !== undefined ? null : { ...s, requestedAt: at };
}

/** What the request functions need of the dispatcher. */
export interface RequestHost {
  cancel(rt: FabricRuntime): void;
  enqueue(run: Run): void;
  queueOf(fabric: Fabric): Queue;
  observeClock(): void;
}

/**
 * Starts a run serving the fabric's pending request when it is idle here (no run queued or in
 * flight, enabled, not paused) and, with `honourShouldRun`, when this replica is the one that
 * runs it (`SingleFlight.shouldRun`). Returns whether a run was made.
 */
export function serveRequest(core: Core, host: RequestHost, rt: FabricRuntime, now: number, honourShouldRun = true): boolean {
  // From the cached record's numbers: start() asks this of every fabric it arms.
  if (rt.requestedAt === undefined) return false;
  // Syncing elsewhere (another replica): its holder serves the request when its run ends.
  if (rt.status === 'syncing' && !rt.run) return false;
  if (rt.run || rt.removed || !rt.fabric.enabled || core.lifecycle() !== 'running' || core.pauses.isPaused(rt.fabric)) return false;
  const sf = core.opts.singleFlight;
  if (honourShouldRun && sf.shouldRun && !sf.shouldRun.call(sf, rt.fabric.id)) return false;
  host.cancel(rt);
  const run = newRun(rt, host.queueOf(rt.fabric), now, 'manual', 1);
  run.forRequest = true;
  host.enqueue(run);
  return true;
}

/** `scheduler.requestSync` once the fabric's runtime is known (enabled, scheduler running). */
export async function requestSync(core: Core, host: RequestHost, rt: FabricRuntime): Promise<SyncRequestOutcome> {
  host.observeClock();
  const id = rt.fabric.id;
  const at = core.time.now();
  let seen: FabricRecord | undefined;
  const update = core.io.update(id, (stored) => {
    seen = rt.view(stored);
    if (!seen) return null;
    const state = requestState(seen.state, at);
    return state ? { definition: seen.definition, state } : null;
  }, rt.record);
  const written = update instanceof Promise ? await update : update;
  if (!seen) throw new UnknownFabricError(id);
  const record = written ?? seen;
  if (record.state.requestedAt === undefined) throw new StorageError('write', `could not store the sync request of fabric ${JSON.stringify(id)}: it kept changing under us`, { fabricId: id });
  const busy = rt.run !== undefined || record.state.status === 'syncing' || core.pauses.isPaused(rt.fabric);
  if (!busy && serveRequest(core, host, rt, core.time.now(), false)) return 'started';
  return written ? 'queued' : 'coalesced';
}

/**
 * Stores a request on a fabric's record (the CLI, and requests left in the control record by an
 * older version). Resolves to what it found: `'absent'` (no such record), `'coalesced'` (one was
 * pending), or the status of the record it wrote to (`'syncing'` means a follow-up run is due).
 */
export async function storeRequest(storage: Storage, id: string, at: number): Promise<{ outcome: 'absent' | 'coalesced' | 'stored'; record: FabricRecord | undefined }> {
  for (let i = 0; i < 16; i++) {
    const current = await storage.get(id);
    if (!current) return { outcome: 'absent', record: undefined };
    const state = requestState(current.state, at);
    if (!state) return { outcome: 'coalesced', record: current };
    const result = await storage.write(id, { definition: current.definition, state }, current.version);
    if (result.ok) return { outcome: 'stored', record: result.record };
  }
  throw new StorageError('write', `could not store the sync request of fabric ${JSON.stringify(id)}: it kept changing under us`, { fabricId: id });
}

/** How soon a request whose run found the lock held (its holder between outcome and release) is looked at again, ms. */
export const REQUEST_RECHECK_MS = 250;

/**
 * A run serving a request found the fabric's lock held. When the stored record says `syncing`,
 * its holder finds the request when its run ends; otherwise the holder is between its outcome
 * write and its release (or gone), so the request is looked at again shortly.
 */
export function recheckRequest(core: Core, host: RequestHost, rt: FabricRuntime): void {
  core.time.after(REQUEST_RECHECK_MS, () => {
    if (rt.run || rt.removed || core.lifecycle() !== 'running') return;
    core.io.get(rt.fabric.id).then(
      (record) => {
        if (!record || rt.run || rt.removed) return;
        rt.cache(record, core.gauges);
        if (record.state.status !== 'syncing') {
          host.observeClock();
          serveRequest(core, host, rt, core.time.now(), false);
        }
      },
      (error: unknown) => core.reportError('storage', error, rt.fabric.id),
    );
  });
}
