/**
 * What an executor sees of its run (`ctx`), and the run's abort signal, created only when read.
 */
import { SyncAbortedError } from '../errors.js';
import type { SyncTrigger } from '../events.js';
import type { Run } from './run.js';
import type { SyncContext } from './types.js';

/** The executor's `ctx`: `signal` is created lazily, on first read. */
export class RunContext implements SyncContext {
  readonly scheduledAt: number;
  readonly attempt: number;
  readonly trigger: SyncTrigger;
  readonly #run: Run;
  constructor(run: Run, readonly fencingToken: number) {
    this.#run = run;
    this.scheduledAt = run.scheduledAt;
    this.attempt = run.attempt;
    this.trigger = run.trigger;
  }
  get signal(): AbortSignal {
    const run = this.#run;
    // Read after a stall (a paused VM, SIGSTOP): the lease may have run out by the holder's own
    // monotonic clock before its timer could tell us. The signal says so at once.
    const lease = run.lease;
    if (lease && run.abortedWith === undefined && run.outcome === undefined && lease.remaining!() <= 0) {
      const error = new SyncAbortedError(run.rt.fabric.id, 'lock-lost');
      abortRunSignal(run, error);
      run.settle?.({ kind: 'fail', reason: 'lock-lost', error });
    }
    if (!run.controller) {
      run.controller = new AbortController();
      if (run.abortedWith !== undefined) run.controller.abort(run.abortedWith);
    }
    return run.controller.signal;
  }
}

/** Aborts the run's signal (now, or when it is first read). */
export function abortRunSignal(run: Run, reason: unknown): void {
  if (run.abortedWith !== undefined) return;
  run.abortedWith = reason ?? new Error('aborted');
  run.controller?.abort(run.abortedWith);
}
