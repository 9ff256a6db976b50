/**
 * What `stop()` does between "no more scheduling" and "stopped": timers and backlog cleared,
 * running syncs awaited (up to `drainTimeout` in wait mode) and then aborted, the housekeeping
 * pass and pending grid moves finished, all bounded by `operationTimeout`.
 */
import type { StopOptions } from './options.js';
import type { Core } from './core.js';
import type { Dispatcher } from './dispatcher.js';
import type { Housekeeper } from './housekeeper.js';
import type { Lanes } from './lanes.js';
import { persistShift } from './clock-steps.js';
import { abortRun } from './run.js';
import { waitBounded } from './time.js';

export async function drain(
  core: Core,
  parts: { dispatcher: Dispatcher; housekeeper: Housekeeper; lanes: Lanes },
  opts: Readonly<Required<StopOptions>>,
  starting: Promise<void> | undefined,
): Promise<void> {
  const { clock, operationTimeout } = core.opts;
  const { dispatcher, housekeeper, lanes } = parts;
  const read = () => core.time.mono();
  if (starting) await waitBounded(clock, starting, operationTimeout, read);
  dispatcher.clear();
  housekeeper.disarm();
  core.metrics.detach();
  const settled = () => Promise.all([...lanes.running].map((r) => r.done));
  if (lanes.running.size > 0 && opts.inFlight === 'wait' && opts.drainTimeout > 0) await waitBounded(clock, settled(), opts.drainTimeout, read);
  for (const run of lanes.running) abortRun(run, 'shutdown');
  const pending = [settled()];
  if (housekeeper.current) pending.push(housekeeper.current.then(() => []));
  // Grid moves of a wall step not yet written are written now (a restart lists the storage).
  for (const rt of core.fabrics.values()) if (rt.pendingShift) pending.push(persistShift(core, rt).then(() => []));
  if (pending.length > 1 || lanes.running.size > 0) await waitBounded(clock, Promise.all(pending), operationTimeout, read);
}
