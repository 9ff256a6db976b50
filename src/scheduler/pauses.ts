/**
 * Pause state as this scheduler knows it: the shared control record (its own pauses at once,
 * other replicas' and the CLI's within `housekeepingInterval`), and what changed between two
 * versions of it.
 */
import type { Fabric } from '../definition.js';
import type { PauseScope } from '../events.js';
import { emptyControl, type ControlData } from '../ops/control.js';

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
