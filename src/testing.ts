/** Test helpers, published as `syncwheel/testing`. */
export { createFakeClock } from './fake-clock.js';
export type { FakeClock, FakeClockOptions } from './fake-clock.js';
