/**
 * What an executor sees of its run (`ctx`), and the run's abort signal, created only when read.
 */
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
