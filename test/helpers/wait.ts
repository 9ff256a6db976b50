/** Waiting in real time (wall-clock timers). For the fake clock, see `sleepOn` in harness.ts. */

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `cond` every 10 ms until it holds; resolves with the time that took in ms, rejects once
 * `timeoutMs` has passed without it (naming `what` in the error).
 */
export async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 5_000, what = 'condition'): Promise<number> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await sleep(10);
  }
  return Date.now() - t0;
}
