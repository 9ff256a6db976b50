/**
 * A run's lease calls: acquire and release bounded by `operationTimeout` (a lease granted after
 * the bound is given back), and whether a lease is known lost.
 */
import type { Lease } from '../single-flight.js';
import { isThenable } from './cas.js';
import type { Core } from './core.js';

/** Takes the fabric's lease, bounded by `operationTimeout`; a lease granted after the bound is given back. */
export function acquireBounded(core: Core, id: string): Lease | undefined | Promise<Lease | undefined> {
  const acquired = core.opts.singleFlight.acquire(id, { ttl: core.opts.lockTtl });
  if (!isThenable<Lease | undefined>(acquired)) return acquired;
  return Promise.resolve(core.io.bound('lock', acquired, id)).catch((error: unknown) => {
    // Timed out: if the lease still arrives, give it back.
    acquired.then((late) => (late ? releaseLease(core, late, id) : undefined), () => undefined);
    throw error;
  });
}

/** Releases a lease (synchronous or not, bounded), reporting a failure instead of throwing. */
export function releaseLease(core: Core, lease: Lease, id: string): void | Promise<void> {
  try {
    const released = lease.release();
    if (released) return Promise.resolve(core.io.bound('lock', released, id)).catch((error: unknown) => core.reportError('lock', error, id));
  } catch (error) {
    core.reportError('lock', error, id);
  }
}

/** Whether the lease is known lost: its signal aborted, or its validity ran out (the signal's timer may be late). */
export function leaseLost(lease: Lease): boolean {
  return lease.signal?.aborted === true || (typeof lease.remaining === 'function' && lease.remaining() <= 0);
}
