/** Pure retry policy: capped exponential backoff that never reaches the next regular slot. */
import type { RetryOptions } from './options.js';

/** Backoff before retry number `failures` (1 = after the first failure), ms. */
export function backoffDelay(retry: Readonly<Required<RetryOptions>>, failures: number): number {
  return Math.min(retry.initialDelay * retry.multiplier ** Math.max(0, failures - 1), retry.maxDelay);
}

/**
 * When to retry after the `failures`-th consecutive failure at `now`, or null when the next
 * regular slot (`nextSlot`) comes first or retries are off.
 */
export function retryAt(retry: Readonly<Required<RetryOptions>> | false, failures: number, now: number, nextSlot: number): number | null {
  if (!retry) return null;
  const at = now + backoffDelay(retry, failures);
  return at < nextSlot ? at : null;
}
