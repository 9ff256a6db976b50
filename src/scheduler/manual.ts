/** Finding the runtime of a fabric for a manual run (`syncNow`, `requestSync`), with their typed errors. */
import { FabricDisabledError, InvalidOptionError, SchedulerNotRunningError, UnknownFabricError } from '../errors.js';
import { CONTROL_RECORD_ID } from '../ops/control.js';
import type { Core } from './core.js';
import type { Dispatcher } from './dispatcher.js';
import type { FabricRuntime } from './fabric-runtime.js';
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
