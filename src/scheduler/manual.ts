/** Manual runs: finding a fabric's runtime for `syncNow` and `requestSync` (with their typed errors), and `syncNow`'s run. */
import type { SyncResult } from '../events.js';
import { FabricDisabledError, InvalidOptionError, SchedulerNotRunningError, UnknownFabricError } from '../errors.js';
import { CONTROL_RECORD_ID } from '../ops/control.js';
import { skippedResult, type Core } from './core.js';
import type { Dispatcher } from './dispatcher.js';
import type { FabricRuntime } from './fabric-runtime.js';
import type { Lanes } from './lanes.js';
import { newRun } from './run.js';
import type { OpChains } from './op-chains.js';

export interface ManualDeps {
  readonly core: Core;
  readonly dispatcher: Dispatcher;
  readonly ops: OpChains;
  /** Whether the scheduler is running. */
  running(): boolean;
}

/**
 * The runtime of an enabled fabric: `InvalidOptionError` for a bad id, `SchedulerNotRunningError`,
 * `UnknownFabricError`, `FabricDisabledError`. A fabric stored by another scheduler gets its
 * runtime here, in turn with upserts and removals of the same id, so a concurrent removeFabric is
 * never undone.
 */
export async function manualRuntime(deps: ManualDeps, id: string, operation: string): Promise<FabricRuntime> {
  if (typeof id !== 'string' || id.length === 0) throw new InvalidOptionError('id', 'a non-empty fabric id string', id);
  if (!deps.running()) throw new SchedulerNotRunningError(operation);
  const { core, dispatcher } = deps;
  const rt =
    core.fabrics.get(id) ??
    (await deps.ops.run(id, async () => {
      const known = core.fabrics.get(id);
      if (known) return known;
      const record = id === CONTROL_RECORD_ID || dispatcher.isRemoved(id) ? undefined : await core.io.get(id);
      if (!record) throw new UnknownFabricError(id);
      if (!deps.running()) throw new SchedulerNotRunningError(operation);
      return dispatcher.ensure(record.definition, record);
    }));
  if (!rt.fabric.enabled) throw new FabricDisabledError(id);
  return rt;
}

/** `syncNow`'s run: skipped `'in-flight'` while a run of the fabric is in flight or queued, else a manual run now. */
export function manualRun(core: Core, dispatcher: Dispatcher, lanes: Lanes, rt: FabricRuntime): Promise<SyncResult> | SyncResult {
  dispatcher.observeClock();
  const now = core.time.now();
  if (rt.run) {
    const { status: _s, ...skipped } = skippedResult(rt.fabric.id, now, 'manual', 'in-flight');
    core.metrics.skipped(lanes.queueOf(rt.fabric), 'in-flight');
    core.emit('sync:skipped', skipped);
    return { status: 'skipped', ...skipped };
  }
  return new Promise<SyncResult>((resolve) => {
    dispatcher.cancel(rt);
    const run = newRun(rt, lanes.queueOf(rt.fabric), now, 'manual', 1);
    (run.waiters ??= []).push(resolve);
    dispatcher.enqueue(run);
  });
}
