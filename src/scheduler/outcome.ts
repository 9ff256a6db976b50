/**
 * The end of a run: its outcome written (only if no later claim superseded it, with its run
 * history entry in the same write), the fabric's status, breaker and metrics updated, and the
 * host told (`sync:succeeded` / `sync:failed`, `syncNow` callers).
 */
import { errorMessage } from '../errors.js';
import type { FabricRecord } from '../storage/types.js';
import { isOpen, noteOutcome } from './breaker.js';
import { cadenceOf, nextFreeSlot } from './cadence.js';
import { isThenable } from './cas.js';
import { emitStatus, finishWaiters, type Core } from './core.js';
import { historyWrite } from './history.js';
import { retryAt } from './retry.js';
import type { Outcome, Run } from './run.js';
import { outcomeState } from './transitions.js';

/** Writes the outcome (only if no later claim superseded ours), then tells the host. */
export function record(core: Core, run: Run, outcome: Outcome): void | Promise<void> {
  const rt = run.rt;
  const id = rt.fabric.id;
  const mono = core.time.mono();
  const finishedAt = core.time.wallAt(mono);
  // Elapsed time, whatever the wall clock did meanwhile.
  const durationMs = Math.max(0, Math.round(mono - run.startedMono!));
  const abandoned = outcome.kind === 'fail' && (outcome.reason === 'aborted' || outcome.reason === 'lock-lost');
  const failed = outcome.kind === 'fail' && !abandoned;
  const s = rt.record?.state;
  const nextSlot = nextFreeSlot(cadenceOf(rt.fabric), s?.anchorAt ?? run.scheduledAt, s?.lastSlotAt ?? null, finishedAt);
  const failures = (s?.consecutiveFailures ?? 0) + 1;
  // Behind the failure breaker no retry is planned: the next try is its probe.
  const retry = failed && !isOpen(core.opts.breaker, failures) ? retryAt(core.opts.retry, failures, finishedAt, nextSlot) : null;
  const before = failures - 1;
  const w: Recorded = { to: undefined, from: 'syncing', generation: core.time.generation };
  let update: FabricRecord | undefined | Promise<FabricRecord | undefined>;
  try {
    update = core.io.update(
      id,
      (current) => {
        w.generation = core.time.generation;
        const next = outcomeState(rt.view(current), run.fencingToken!, {
          ok: outcome.kind === 'ok',
          abandoned,
          error: outcome.kind === 'fail' ? errorMessage(outcome.error) : null,
          finishedAt,
          retryAt: retry,
          scheduledAt: run.startedSlot!,
          breaker: core.opts.breaker,
        });
        if (!next) return null;
        w.from = next.from;
        w.to = next.state.status;
        return { definition: current!.definition, state: next.state };
      },
      rt.record,
      historyWrite(core, run, outcome, finishedAt, durationMs),
    );
  } catch (error) {
    core.reportError('storage', error, id);
    return recorded(core, run, outcome, w, undefined, finishedAt, durationMs, retry, before);
  }
  if (!isThenable<FabricRecord | undefined>(update)) return recorded(core, run, outcome, w, update, finishedAt, durationMs, retry, before);
  return update.then(
    (written) => recorded(core, run, outcome, w, written, finishedAt, durationMs, retry, before),
    (error: unknown) => {
      core.reportError('storage', error, id);
      recorded(core, run, outcome, w, undefined, finishedAt, durationMs, retry, before);
    },
  );
}

/** What the outcome write learnt. */
interface Recorded {
  to: FabricRecord['state']['status'] | undefined;
  from: FabricRecord['state']['status'];
  generation: number;
}

function recorded(core: Core, run: Run, outcome: Outcome, w: Recorded, written: FabricRecord | undefined, finishedAt: number, durationMs: number, retry: number | null, before: number): void {
  const rt = run.rt;
  const id = rt.fabric.id;
  if (written) rt.cacheWritten(written, core.time.movedSince(w.generation), core.gauges);
  if (written && w.to !== undefined) {
    noteOutcome(core, rt, before, written, finishedAt);
    emitStatus(core, id, w.from, w.to, finishedAt);
  }
  run.retryAt = written && retry !== null ? retry : null;
  const ok = outcome.kind === 'ok';
  core.metrics.finished(run.queue, run.trigger, durationMs, ok ? null : outcome.reason);
  const event = ok ? 'sync:succeeded' : 'sync:failed';
  // The payload is built only for someone who reads it.
  if (!run.waiters && !core.hasListeners(event)) return;
  const base = { fabricId: id, scheduledAt: run.startedSlot!, startedAt: run.startedAt!, lateness: run.lateness!, attempt: run.attempt, fencingToken: run.fencingToken!, trigger: run.trigger, finishedAt, durationMs };
  if (ok) {
    core.emit('sync:succeeded', base);
    if (run.waiters) finishWaiters(run, { status: 'succeeded', ...base });
  } else {
    const failure = { ...base, error: outcome.error, reason: outcome.reason, nextRetryAt: run.retryAt };
    core.emit('sync:failed', failure);
    if (run.waiters) finishWaiters(run, { status: 'failed', ...failure });
  }
}
