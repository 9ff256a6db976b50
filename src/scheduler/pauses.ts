/**
 * Pause state as this scheduler knows it: the shared control record (its own pauses at once,
 * other replicas' and the CLI's within `housekeepingInterval`), and what changed between two
 * versions of it.
 */
import type { Fabric } from '../definition.js';
import { InvalidOptionError, UnknownFabricError } from '../errors.js';
import type { PauseScope } from '../events.js';
import { CONTROL_RECORD_ID, emptyControl, updateControl, type ControlData } from '../ops/control.js';
import type { Core } from './core.js';
import type { Dispatcher } from './dispatcher.js';
import type { Lanes } from './lanes.js';
import type { PauseTarget } from './types.js';

/** One pause switched on (`on`) or off. */
export interface PauseChange {
  readonly on: boolean;
  readonly scope: PauseScope;
  readonly target: string | undefined;
}

export class Pauses {
  #control: ControlData = emptyControl();
  /** Whether anything at all is paused (the hot path asks nothing more when not). */
  #any = false;

  get control(): ControlData {
    return this.#control;
  }

  /** Whether runs of `fabric` are held (itself, its queue or the whole scheduler paused). */
  isPaused(fabric: Fabric): boolean {
    if (!this.#any) return false;
    const c = this.#control;
    return c.scheduler !== null || c.queues[fabric.queue] !== undefined || c.fabrics[fabric.id] !== undefined;
  }

  isQueuePaused(name: string): boolean {
    return this.#control.queues[name] !== undefined;
  }

  get schedulerPaused(): boolean {
    return this.#control.scheduler !== null;
  }

  /** Adopts `data`; returns what changed, in order (scheduler, queues, fabrics). */
  set(data: ControlData): PauseChange[] {
    const old = this.#control;
    this.#control = data;
    this.#any = data.scheduler !== null || Object.keys(data.queues).length > 0 || Object.keys(data.fabrics).length > 0;
    const changes: PauseChange[] = [];
    if ((old.scheduler !== null) !== (data.scheduler !== null)) changes.push({ on: data.scheduler !== null, scope: 'scheduler', target: undefined });
    for (const [scope, a, b] of [['queue', old.queues, data.queues], ['fabric', old.fabrics, data.fabrics]] as const) {
      for (const k of Object.keys(b)) if (a[k] === undefined) changes.push({ on: true, scope, target: k });
      for (const k of Object.keys(a)) if (b[k] === undefined) changes.push({ on: false, scope, target: k });
    }
    return changes;
  }

  /** `{ scheduler, queues, fabrics }` as `Scheduler.pauses()` reports it. */
  summary(): { scheduler: boolean; queues: string[]; fabrics: string[] } {
    const c = this.#control;
    return { scheduler: c.scheduler !== null, queues: Object.keys(c.queues).sort(), fabrics: Object.keys(c.fabrics).sort() };
  }
}

/** Pausing and resuming: writes the shared control record, and holds or re-arms fabrics here. */
export class PauseControl {
  readonly #core: Core;
  readonly #dispatcher: Dispatcher;
  readonly #lanes: Lanes;

  constructor(core: Core, dispatcher: Dispatcher, lanes: Lanes) {
    this.#core = core;
    this.#dispatcher = dispatcher;
    this.#lanes = lanes;
  }

  /** Writes a pause (or its end) to the control record and applies it here. */
  async set(target: PauseTarget | undefined, on: boolean): Promise<void> {
    let scope: PauseScope = 'scheduler';
    let name = '';
    if (target !== undefined) {
      if (target === null || typeof target !== 'object') throw new InvalidOptionError('pause target', '{ queue } or { fabric } or nothing', target);
      if ('queue' in target) {
        if (!this.#lanes.has(target.queue)) throw new InvalidOptionError('queue', `one of the configured queues: ${this.#lanes.names().map((q) => JSON.stringify(q)).join(', ')}`, target.queue);
        scope = 'queue';
        name = target.queue;
      } else if ('fabric' in target) {
        if (typeof target.fabric !== 'string') throw new InvalidOptionError('fabric', 'a string', target.fabric);
        if (!this.#core.fabrics.has(target.fabric) && (target.fabric === CONTROL_RECORD_ID || !(await this.#core.io.getOrStartOver(target.fabric)))) {
          throw new UnknownFabricError(target.fabric);
        }
        scope = 'fabric';
        name = target.fabric;
      } else throw new InvalidOptionError('pause target', '{ queue } or { fabric } or nothing', target);
    }
    const at = this.#core.time.now();
    const data = await this.#core.io.bound('write', updateControl(this.#core.io.storage, (c) => {
      if (scope === 'scheduler') {
        if ((c.scheduler !== null) === on) return null;
        c.scheduler = on ? at : null;
      } else {
        const map = scope === 'queue' ? c.queues : c.fabrics;
        if ((map[name] !== undefined) === on) return null;
        if (on) map[name] = at;
        else delete map[name];
      }
      return c;
    }), CONTROL_RECORD_ID);
    this.apply(data, false);
  }

  /** Adopts new control data: emits what changed and holds or re-arms the fabrics concerned. */
  apply(data: ControlData, remote: boolean): void {
    const changes = this.adopt(data, remote);
    if (changes === 0 || this.#core.lifecycle() !== 'running') return;
    const now = this.#core.time.now();
    for (const rt of this.#core.fabrics.values()) {
      const paused = this.#core.pauses.isPaused(rt.fabric);
      if (paused && !rt.held) this.#dispatcher.hold(rt);
      else if (!paused && rt.held) this.#dispatcher.unhold(rt, now);
    }
  }

  /** Sets the pause state and emits `paused`/`resumed` for each change; returns how many. */
  adopt(data: ControlData, remote: boolean): number {
    const changes = this.#core.pauses.set(data);
    const at = this.#core.time.now();
    for (const c of changes) this.#core.emit(c.on ? 'paused' : 'resumed', c.target === undefined ? { scope: c.scope, remote, at } : { scope: c.scope, target: c.target, remote, at });
    return changes.length;
  }
}
