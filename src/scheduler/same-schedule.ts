import { sameTiming, type Fabric } from '../definition.js';

/** Whether two definitions schedule alike (cadence and timing fields, enabled, timeout, queue). */
export function sameSchedule(a: Fabric, b: Fabric): boolean {
  return sameTiming(a, b) && a.enabled === b.enabled && a.syncTimeout === b.syncTimeout && a.queue === b.queue;
}
