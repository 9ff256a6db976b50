/**
 * Housekeeping, every `housekeepingInterval` while running: re-reads the shared control record
 * (pauses and sync requests made by other replicas or the CLI), adopts definitions written by
 * other schedulers sharing the storage, and repairs stale `syncing` states left by dead replicas.
 */
import type { ControlData } from '../ops/control.js';
import { CONTROL_RECORD_ID, loadControl, updateControl } from '../ops/control.js';
import type { FabricRecord } from '../storage/types.js';
import type { Core } from './core.js';
import { sameSchedule, type Dispatcher } from './dispatcher.js';
import { repairStale, type StateCheckDeps } from './state-check.js';

export interface HousekeeperHooks {
  /** Adopts new control data (emits what changed, holds or re-arms fabrics). */
  applyControl(data: ControlData, remote: boolean): void;
  /** Runs a sync requested through the control record. */
  requestSync(id: string): void;
}

export class Housekeeper {
  readonly #core: Core;
  readonly #dispatcher: Dispatcher;
  readonly #hooks: HousekeeperHooks;
  readonly #check: StateCheckDeps;
  #cancel: (() => void) | undefined;
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

  /** One pass. Never rejects. */
  async run(): Promise<void> {
    const core = this.#core;
    try {
      await this.refreshControl(true);
    } catch (error) {
      core.reportError('housekeeping', error);
    }
    const generation = core.time.generation;
    try {
      const { records } = await core.io.list();
      this.#adopt(records, generation);
      await this.#sweepStale(records);
    } catch (error) {
      core.reportError('housekeeping', error);
    }
  }

  /** Re-reads the control record: pauses made elsewhere, and sync requests this scheduler takes. */
  async refreshControl(remote: boolean): Promise<void> {
    const core = this.#core;
    const data = await core.io.bound('read', loadControl(core.io.storage), CONTROL_RECORD_ID);
    const state = core.lifecycle();
    if (state !== 'running' && state !== 'starting') return;
    this.#hooks.applyControl(data, remote);
    for (const [id, at] of Object.entries(data.syncRequests)) {
      const rt = core.fabrics.get(id);
      if (!rt || !rt.fabric.enabled || rt.removed) continue;
      const sf = core.opts.singleFlight;
      if (sf.shouldRun && !sf.shouldRun(id)) continue;
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
      if (taken && core.lifecycle() === 'running') this.#hooks.requestSync(id);
    }
  }

  /**
   * Follows definitions written by other schedulers sharing the storage: a fabric this one does
   * not know (and was not removed through it) is scheduled here too (on the stored grid), and a
   * newer definition of an idle fabric is applied. Removals are not followed (a vanished record may be a storage data loss,
   * which the claim path re-registers).
   */
  #adopt(records: readonly FabricRecord[], generation: number): void {
    const core = this.#core;
    if (core.lifecycle() !== 'running') return;
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
        continue;
      }
      // Only a listing at least as new as what this scheduler knows (a claim it wrote since is
      // newer), and taken on today's grid (a step since is applied to the runtime's own record).
      if (rt.run || rt.removed || rt.pendingShift || (rt.record && r.version < rt.record.version) || skew !== 0) continue;
      if (!sameSchedule(rt.fabric, r.definition)) this.#dispatcher.apply(r, rt.fabric, now);
      else rt.cache(r);
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
