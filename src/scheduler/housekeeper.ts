/**
 * Housekeeping, every `housekeepingInterval` while running: learns what other schedulers sharing
 * the storage changed (definitions, removals, pauses and sync requests in the control record)
 * and repairs stale `syncing` states left by dead replicas.
 *
 * With a storage that has a change feed (`Storage.changes`), a pass reads the feed from its
 * cursor and fetches only the records it names: idle cost grows with changes, not with fabrics.
 * A full listing runs when the feed says the cursor is no longer covered (`reset`) and every
 * `fullScanInterval` (it repairs what a lost feed entry hid, and sweeps stale `syncing` states).
 * Without a feed every pass is a full listing.
 */
import { sweepFreshnessEvery } from './freshness.js';
import type { ControlData } from '../ops/control.js';
import { CONTROL_RECORD_ID, loadControl, updateControl } from '../ops/control.js';
import type { FabricRecord, StorageChange } from '../storage/types.js';
import type { Core } from './core.js';
import type { Dispatcher } from './dispatcher.js';
import { sameSchedule } from './same-schedule.js';
import { repairStale, type StateCheckDeps } from './state-check.js';
import { serveRequest, storeRequest } from './requests.js';

/** Most feed pages read in one pass (the rest waits for the next pass). */
const MAX_PAGES_PER_PASS = 100;
/** Records fetched at once after a feed page. */
const FETCH_BATCH = 64;

export interface HousekeeperHooks {
  /** Adopts new control data (emits what changed, holds or re-arms fabrics). */
  applyControl(data: ControlData, remote: boolean): void;
}

export class Housekeeper {
  readonly #core: Core;
  readonly #dispatcher: Dispatcher;
  readonly #hooks: HousekeeperHooks;
  readonly #check: StateCheckDeps;
  #cancel: (() => void) | undefined;
  /** Where the change feed goes on from; undefined without a feed or before the first read. */
  #cursor: string | undefined;
  /** Ids a feed pass fetched but could not apply yet (a run in flight, a wall step): fetched again next pass. */
  readonly #deferred = new Map<string, StorageChange['kind']>();
  /** Monotonic time of the last full listing. */
  #fullAt = Number.NEGATIVE_INFINITY;
  /** The pass in progress, if any (stop waits for it, bounded). */
  current: Promise<void> | undefined;

  constructor(core: Core, dispatcher: Dispatcher, hooks: HousekeeperHooks, check: StateCheckDeps) {
    this.#core = core;
    this.#dispatcher = dispatcher;
    this.#hooks = hooks;
    this.#check = check;
  }

  /** Arms the next pass (no-op when housekeeping is off or already armed). */
  arm(): void {
    const ms = this.#core.opts.housekeepingInterval;
    if (ms <= 0 || this.#cancel !== undefined || this.#core.lifecycle() !== 'running') return;
    this.#cancel = this.#core.time.after(ms, () => {
      this.#cancel = undefined;
      this.current = this.run().finally(() => {
        this.current = undefined;
        this.arm();
      });
    });
  }

  disarm(): void {
    this.#cancel?.();
    this.#cancel = undefined;
  }

  /**
   * Takes the change feed's current end as the cursor (called by `start()` before it lists the
   * storage, so nothing written meanwhile is missed). No-op without a feed.
   */
  async openFeed(): Promise<void> {
    const core = this.#core;
    const storage = core.io.storage;
    if (typeof storage.changes !== 'function') return;
    const page = await core.io.bound('read', storage.changes(null));
    this.#cursor = page.cursor;
    this.#fullAt = core.time.mono();
  }

  /** Reports what the storage says about its own setup (`Storage.warnings`), once per start. Never rejects. */
  async reportWarnings(): Promise<void> {
    const core = this.#core;
    const storage = core.io.storage;
    if (typeof storage.warnings !== 'function') return;
    try {
      const warnings = await core.io.bound('read', storage.warnings());
      if (Array.isArray(warnings)) for (const w of warnings) core.reportError('storage', w);
    } catch (error) {
      core.reportError('storage', error);
    }
  }

  /** One pass. Never rejects. */
  async run(): Promise<void> {
    const core = this.#core;
    sweepFreshnessEvery(core, core.time.now());
    const storage = core.io.storage;
    const scan = core.opts.fullScanInterval;
    if (typeof storage.changes === 'function' && this.#cursor !== undefined && (scan === 0 || core.time.mono() - this.#fullAt < scan)) {
      try {
        if (await this.#followFeed()) return;
      } catch (error) {
        core.reportError('housekeeping', error);
        return;
      }
    }
    await this.#fullPass();
  }

  /** A full listing: control record, every definition, stale `syncing` states. Never rejects. */
  async #fullPass(): Promise<void> {
    const core = this.#core;
    this.#fullAt = core.time.mono();
    try {
      await this.refreshControl(true);
    } catch (error) {
      core.reportError('housekeeping', error);
    }
    try {
      // A page at a time where the storage can (Storage.listPage), as start() loads.
      const pages = core.io.listPages();
      for (;;) {
        const generation = core.time.generation;
        const page = await pages.next();
        if (page.done === true) break;
        this.#adopt(page.value.records, generation);
        await this.#sweepStale(page.value.records);
      }
    } catch (error) {
      core.reportError('housekeeping', error);
    }
  }

  /**
   * Reads the change feed from the cursor and applies what it names. Resolves false when the
   * feed was reset (the caller lists everything instead).
   */
  async #followFeed(): Promise<boolean> {
    const core = this.#core;
    const storage = core.io.storage;
    const changed = new Map<string, StorageChange['kind']>();
    for (let page = 0; page < MAX_PAGES_PER_PASS; page++) {
      const result = await core.io.bound('read', storage.changes!(this.#cursor ?? null));
      if (result.reset) {
        this.#cursor = result.cursor;
        return false;
      }
      this.#cursor = result.cursor;
      for (const c of result.changes) {
        changed.delete(c.id); // keep the order of the latest change
        changed.set(c.id, c.kind);
      }
      if (!result.more) break;
    }
    for (const [id, kind] of this.#deferred) if (!changed.has(id)) changed.set(id, kind);
    this.#deferred.clear();
    if (changed.size === 0) return true;
    if (changed.delete(CONTROL_RECORD_ID)) {
      try {
        await this.refreshControl(true);
      } catch (error) {
        this.#deferred.set(CONTROL_RECORD_ID, 'defined');
        throw error;
      }
    }
    const ids = [...changed.keys()].filter((id) => !this.#dispatcher.isRemoved(id));
    for (let i = 0; i < ids.length; i += FETCH_BATCH) {
      const batch = ids.slice(i, i + FETCH_BATCH);
      const generation = core.time.generation;
      let records: Array<FabricRecord | undefined>;
      try {
        records = await Promise.all(batch.map((id) => core.io.getOrStartOver(id)));
      } catch (error) {
        // The feed has moved past these: fetch them again next pass.
        for (const id of ids.slice(i)) this.#deferred.set(id, changed.get(id)!);
        throw error;
      }
      if (core.lifecycle() !== 'running') {
        for (const id of ids.slice(i)) this.#deferred.set(id, changed.get(id)!);
        return true;
      }
      const found: FabricRecord[] = [];
      batch.forEach((id, k) => {
        const record = records[k];
        if (record) found.push(record);
        // Gone, and the feed says removed (a tombstone): removed by another scheduler. Gone
        // without a removal is left to the claim path (a storage that lost its data).
        else if (changed.get(id) === 'removed') this.#dispatcher.removedElsewhere(id);
      });
      this.#adopt(found, generation);
    }
    return true;
  }

  /** Re-reads the control record: pauses made elsewhere, and sync requests this scheduler takes. */
  async refreshControl(remote: boolean): Promise<void> {
    const core = this.#core;
    const data = await core.io.bound('read', loadControl(core.io.storage), CONTROL_RECORD_ID);
    const state = core.lifecycle();
    if (state !== 'running' && state !== 'starting') return;
    this.#hooks.applyControl(data, remote);
    // Requests an older version (or its CLI) left in the control record move to their fabric's
    // record, once (whoever takes one off the control record stores it), and are served from there.
    for (const [id, at] of Object.entries(data.syncRequests)) {
      let taken = false;
      await core.io.bound(
        'write',
        updateControl(core.io.storage, (c) => {
          if (c.syncRequests[id] !== at) return null;
          delete c.syncRequests[id];
          taken = true;
          return c;
        }),
        CONTROL_RECORD_ID,
      );
      if (!taken) continue;
      const { record } = await core.io.bound('write', storeRequest(core.io.storage, id, at), id);
      const rt = core.fabrics.get(id);
      if (record && rt && core.lifecycle() === 'running') {
        rt.cache(record, core.gauges);
        serveRequest(core, this.#dispatcher, rt, core.time.now());
      }
    }
  }

  /**
   * Follows definitions written by other schedulers sharing the storage: a fabric this one does
   * not know (and was not removed through it) is scheduled here too (on the stored grid), and a
   * newer definition of an idle fabric is applied (`fabric:added` / `fabric:updated` with
   * `remote: true`). A record missing from a listing is not taken
   * as a removal (it may be a storage data loss, which the claim path re-registers): removals
   * come from the change feed, or from a claim the storage refuses because of a tombstone.
   */
  #adopt(records: readonly FabricRecord[], generation: number): void {
    const core = this.#core;
    if (core.lifecycle() !== 'running') {
      for (const r of records) this.#deferred.set(r.definition.id, 'defined');
      return;
    }
    this.#dispatcher.observeClock();
    // Grid moves seen while the list was read apply to what it returned.
    const skew = core.time.movedSince(generation);
    const now = core.time.now();
    for (const r of records) {
      const id = r.definition.id;
      if (id === CONTROL_RECORD_ID || this.#dispatcher.isRemoved(id)) continue;
      const rt = core.fabrics.get(id);
      if (!rt) {
        this.#dispatcher.apply(this.#dispatcher.moved(r, skew), undefined, now);
        core.emit('fabric:added', { fabricId: id, remote: true });
        continue;
      }
      // Only a listing at least as new as what this scheduler knows (a claim it wrote since is
      // newer), and taken on today's grid (a step since is applied to the runtime's own record).
      if (rt.removed || rt.isOlder(r)) continue;
      if (rt.run || rt.pendingShift || skew !== 0) {
        this.#deferred.set(id, 'defined'); // looked at again next pass (the feed will not name it again)
        continue;
      }
      if (!sameSchedule(rt.fabric, r.definition)) {
        this.#dispatcher.apply(r, rt.fabric, now);
        core.emit('fabric:updated', { fabricId: id, remote: true });
      } else {
        rt.cache(r, core.gauges);
        // A sync requested elsewhere (another replica, the CLI) while the fabric is idle here.
        if (r.state.requestedAt !== undefined) serveRequest(core, this.#dispatcher, rt, now);
      }
    }
  }

  /** Repairs stored `syncing` states older than one lease whose lock nobody holds. */
  async #sweepStale(records: readonly FabricRecord[]): Promise<void> {
    const core = this.#core;
    const now = core.time.now();
    for (const r of records) {
      if (r.definition.id === CONTROL_RECORD_ID || r.state.status !== 'syncing') continue;
      if ((r.state.lastAttemptAt ?? Number.NEGATIVE_INFINITY) > now - core.opts.lockTtl) continue;
      if (core.lifecycle() !== 'running') return;
      await repairStale(this.#check, r, 'automatic');
    }
  }
}
