/**
 * Pure state changes of a stored fabric, written as compare-and-set mutators: each takes the
 * record read from storage and returns the state to write, or a reason to write nothing. Every
 * status change goes through the transition table (`assertTransition`). No clock, no I/O.
 */
import type { Fabric } from '../definition.js';
import type { SkipReason, SyncTrigger } from '../events.js';
import { assertTransition, type SyncStatus } from '../status.js';
import { initialState, makeState, type FabricRecord, type FabricState } from '../storage/types.js';
import { cadenceOf, fabricStatusAt, nextFreeSlot, restingStatusOf, sameCadence } from './cadence.js';
import { nextProbeOf, type ResolvedBreaker } from './breaker.js';

/** What an upsert writes, and what the status was before it. */
export interface UpsertChange {
  readonly state: FabricState;
  readonly before: SyncStatus;
  readonly previous: Fabric | undefined;
}

/**
 * A definition written by the host: a new or newly enabled fabric syncs at once on a grid
 * anchored now; a new interval goes on from the last slot served (never waiting longer than one
 * new interval; a fabric not yet served stays due now); disabling parks it. An unchanged definition keeps the stored grid, so a replica
 * upserting a fabric another one created adopts its anchor.
 */
export function upsertState(current: FabricRecord | undefined, fabric: Fabric, now: number): UpsertChange {
  const previous = current?.definition;
  const state: FabricState = current ? { ...current.state } : initialState();
  const before = current ? fabricStatusAt(current.definition, state.status, state.lastSyncAt, now) : 'never_synced';
  if (!fabric.enabled) {
    assertTransition(fabric.id, state.status, 'disabled');
    state.status = 'disabled';
    state.nextSyncAt = null;
  } else if (!previous || !previous.enabled || state.status === 'disabled') {
    if (state.status === 'disabled') state.status = restingStatusOf(fabric, state.lastSyncAt, state.consecutiveFailures, now);
    state.anchorAt = now;
    state.lastSlotAt = null;
    state.nextSyncAt = now;
  } else if (!sameCadence(previous, fabric) && state.lastSlotAt === null) {
    // Never served on its grid yet: it is still due now, on the new cadence.
    state.anchorAt = now;
    state.nextSyncAt = now;
  } else if (!sameCadence(previous, fabric)) {
    // The new cadence goes on from the last slot served (it becomes the anchor): its first slot
    // after it, or now when that has passed already (a new grid anchored now).
    const base = state.lastSlotAt ?? state.anchorAt ?? now;
    const next = cadenceOf(fabric).slotAtOrAfter(base, base + 1);
    state.anchorAt = next <= now ? now : base;
    state.nextSyncAt = Math.max(next, now);
    if (next <= now) state.lastSlotAt = null;
  }
  return { state, before, previous };
}

/** A run asking to be claimed. */
export interface ClaimRequest {
  readonly trigger: SyncTrigger;
  /** The slot the run means to serve (a retry: its failed slot; manual: the request time). */
  readonly scheduledAt: number;
  readonly startedAt: number;
}

export type ClaimResult =
  | { readonly ok: true; readonly state: FabricState; readonly from: SyncStatus; readonly slot: number }
  | { readonly ok: false; readonly reason: Extract<SkipReason, 'already-claimed' | 'cancelled'> };

/**
 * Claims a run: status `syncing`, fencing token + 1, the slot recorded as served. A scheduled or
 * catch-up run serves a slot of the STORED grid (the latest at or before its own slot), so two
 * replicas that armed the same fabric on grids a few ms apart serve one slot, never early; a slot
 * at or before the last one claimed was served already. The first slot served on a fresh grid
 * anchors it (a fabric defined long before `start()` syncs at start).
 */
export function claimState(current: FabricRecord, definition: Fabric, req: ClaimRequest): ClaimResult {
  const s = current.state;
  if (s.status === 'disabled' || !definition.enabled) return { ok: false, reason: 'cancelled' };
  const isSlot = req.trigger === 'schedule' || req.trigger === 'catch-up';
  let slot = req.scheduledAt;
  if (isSlot && s.lastSlotAt !== null) {
    const snapped = cadenceOf(definition).latestAtOrBefore(s.anchorAt ?? s.lastSlotAt, Math.min(req.scheduledAt, req.startedAt));
    if (snapped === null || snapped <= s.lastSlotAt) return { ok: false, reason: 'already-claimed' };
    slot = snapped;
  }
  if (req.trigger === 'retry') {
    // A newer slot was served, or a later failure (another run, another replica) planned a later retry.
    if (s.lastSlotAt !== null && s.lastSlotAt > req.scheduledAt) return { ok: false, reason: 'already-claimed' };
    if (s.status === 'error' && s.nextSyncAt !== null && s.nextSyncAt > req.startedAt) return { ok: false, reason: 'already-claimed' };
  }
  const from = fabricStatusAt(definition, s.status, s.lastSyncAt, req.startedAt);
  const resting = s.status === 'syncing' ? restingStatusOf(definition, s.lastSyncAt, s.consecutiveFailures, req.startedAt) : from;
  assertTransition(definition.id, resting, 'syncing');
  return {
    ok: true,
    from,
    slot,
    // Any run that starts satisfies a pending sync request (no requestedAt).
    state: makeState(
      'syncing',
      s.lastSyncAt,
      req.startedAt,
      s.lastError,
      s.consecutiveFailures,
      isSlot && s.lastSlotAt === null ? slot : (s.anchorAt ?? slot),
      isSlot ? slot : s.lastSlotAt,
      null,
      s.fencingToken + 1,
    ),
  };
}

/** How a run ended, as the stored state needs it. */
export interface RunOutcome {
  readonly ok: boolean;
  /** Aborted or lock lost: the run neither succeeded nor counts as a failure. */
  readonly abandoned: boolean;
  readonly error: string | null;
  readonly finishedAt: number;
  /** When a retry is due, or null. */
  readonly retryAt: number | null;
  /** The slot served (used only when the record has no grid yet). */
  readonly scheduledAt: number;
  /** The failure breaker: a fabric behind it plans its next probe instead of its next slot. */
  readonly breaker?: ResolvedBreaker | false;
}

/**
 * Records a run's outcome, only if nothing superseded its claim (same fencing token, still
 * `syncing` or disabled meanwhile). Returns the state to write and the status it moves from, or
 * null to stand down.
 */
export function outcomeState(current: FabricRecord | undefined, token: number, o: RunOutcome): { state: FabricState; from: SyncStatus } | null {
  if (!current || current.state.fencingToken !== token) return null;
  const s = current.state;
  // Re-enabled (or repaired) since the claim: the host's change superseded this run.
  if (s.status !== 'syncing' && s.status !== 'disabled') return null;
  const d = current.definition;
  let lastSyncAt = s.lastSyncAt;
  let lastError = s.lastError;
  let failures = s.consecutiveFailures;
  if (o.ok) {
    lastSyncAt = o.finishedAt;
    lastError = null;
    failures = 0;
  } else if (!o.abandoned) {
    lastError = o.error;
    failures = s.consecutiveFailures + 1;
  }
  const disabled = s.status === 'disabled' || !d.enabled;
  const status: SyncStatus = disabled ? 'disabled' : o.ok ? 'in_sync' : o.abandoned ? restingStatusOf(d, lastSyncAt, failures, o.finishedAt) : 'error';
  const next = disabled ? null : (o.retryAt ?? nextFreeSlot(cadenceOf(d), s.anchorAt ?? o.scheduledAt, s.lastSlotAt ?? o.scheduledAt, o.finishedAt));
  // Built whole (one hidden class for every state, see makeState); a pending request stays.
  const state = makeState(status, lastSyncAt, s.lastAttemptAt, lastError, failures, s.anchorAt, s.lastSlotAt, next, s.fencingToken, s.requestedAt);
  if (!disabled) {
    const probe = o.retryAt === null && o.breaker ? nextProbeOf(o.breaker, { definition: d, state }) : null;
    if (probe && probe.nextProbeAt > state.nextSyncAt!) state.nextSyncAt = probe.nextProbeAt;
  }
  if (s.status !== state.status) assertTransition(d.id, s.status, state.status);
  return { state, from: s.status };
}

/**
 * Undoes a claim whose run never started (or a `syncing` left by a holder that is gone): back to
 * the resting status its history implies, with the next free slot planned; with `unclaim` (the
 * grid the claim was made from), the claimed slot is given back. Only while the record still
 * carries `token` and is `syncing`.
 */
export function restoreState(current: FabricRecord | undefined, token: number, now: number, unclaim?: Pick<FabricState, 'anchorAt' | 'lastSlotAt' | 'lastAttemptAt'>): { state: FabricState; to: SyncStatus } | null {
  if (!current || current.state.fencingToken !== token || current.state.status !== 'syncing') return null;
  // A claim whose run never started gives its slot back (it was not served: downtime or a later
  // wake reports or serves it), keeping its fencing token.
  const s = unclaim ? { ...current.state, anchorAt: unclaim.anchorAt, lastSlotAt: unclaim.lastSlotAt, lastAttemptAt: unclaim.lastAttemptAt } : current.state;
  const d = current.definition;
  const to = d.enabled ? restingStatusOf(d, s.lastSyncAt, s.consecutiveFailures, now) : 'disabled';
  const next = d.enabled && s.anchorAt !== null ? nextFreeSlot(cadenceOf(d), s.anchorAt, s.lastSlotAt, now) : null;
  return { state: { ...s, status: to, nextSyncAt: next }, to };
}

/** Moves the grid and the history of a record by a wall-clock step (`'move-grid'`). */
export function shiftState(s: Readonly<FabricState>, skew: number): FabricState {
  const shift = (v: number | null) => (v === null ? null : v + skew);
  return {
    ...s,
    anchorAt: shift(s.anchorAt),
    lastSlotAt: shift(s.lastSlotAt),
    nextSyncAt: shift(s.nextSyncAt),
    lastSyncAt: shift(s.lastSyncAt),
    lastAttemptAt: shift(s.lastAttemptAt),
  };
}

/** Puts an off-grid `nextSyncAt` back on the fabric's slots (the next free slot). */
export function regridState(s: Readonly<FabricState>, definition: Fabric, now: number): FabricState | null {
  if (s.anchorAt === null) return null;
  return { ...s, nextSyncAt: nextFreeSlot(cadenceOf(definition), s.anchorAt, s.lastSlotAt, now) };
}

/** Whether a stored `nextSyncAt` is off its grid (retries excepted). */
export function isOffGrid(record: FabricRecord): boolean {
  const s = record.state;
  const d = record.definition;
  const retrying = s.status === 'error' && s.consecutiveFailures > 0;
  if (!d.enabled || s.status === 'disabled' || retrying || s.anchorAt === null || s.nextSyncAt === null) return false;
  return !cadenceOf(d).isSlot(s.anchorAt, s.nextSyncAt);
}
