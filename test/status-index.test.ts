/** `statusIndex` (a switch, for speed) must agree with the order of `SYNC_STATUSES`, which the stored columns and the gauges use. */
import { expect, it } from 'vitest';
import { SYNC_STATUSES, statusIndex } from '../src/status.js';

it('statusIndex(s) is the index of s in SYNC_STATUSES, for every status', () => {
  expect(SYNC_STATUSES.map((s) => statusIndex(s))).toEqual(SYNC_STATUSES.map((_, i) => i));
});
