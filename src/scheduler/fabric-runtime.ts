/** The scheduler's in-memory view of one fabric and its one armed wheel entry. */
import type { Fabric } from '../definition.js';
import type { MissedReason } from '../events.js';
import type { FabricRecord } from '../storage/types.js';
import type { WheelEntry } from '../wheel.js';
import type { Run } from './run.js';

/** What the armed entry is for: the next grid slot, or the retry of a failed one. */
export type TimerKind = 'slot' | 'retry';

export class FabricRuntime {
  fabric: Fabric;
  /** The freshest stored record this scheduler has seen (the compare-and-set base). */
  record: FabricRecord | undefined;
  /** Removed in this process: never armed or run again (a new upsert makes a new runtime). */
  removed = false;
  /** The one wheel entry of this fabric, if armed. */
  entry: WheelEntry<FabricRuntime> | undefined = undefined;
  kind: TimerKind = 'slot';
  /** Grid slot the armed entry serves (a retry serves its failed slot), wall epoch ms. */
  slot = 0;
  /** When the armed entry is due, wall epoch ms (the slot; a retry: its backoff time). */
  due = 0;
  attempt = 1;
  /** Queued or running. */
  run: Run | undefined = undefined;
  /** With policy 'all': serve every slot up to this one back to back. */
  catchUpUntil: number | null = null;
  /** Why slots found missed at the next wake went unserved (downtime after a start, a pause). */
  missedReason: MissedReason = 'late';
  /** Paused: no entry armed; resuming re-arms from the stored state. */
  held = false;
  /** Lateness of the last run this scheduler started, ms. */
  lastLateness: number | null = null;

  constructor(fabric: Fabric, record: FabricRecord | undefined) {
    this.fabric = fabric;
    this.record = record;
  }

  /** Renames every wall instant this runtime holds by a wall-clock step (`'move-grid'`). */
  shift(skew: number): void {
    this.slot += skew;
    this.due += skew;
    if (this.catchUpUntil !== null) this.catchUpUntil += skew;
    if (this.run) {
      this.run.scheduledAt += skew;
      this.run.queuedAt += skew;
      if (this.run.retryAt != null) this.run.retryAt += skew;
    }
  }
}
