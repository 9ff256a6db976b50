/** Test helpers, published as `syncwheel/testing`. */
export { createFakeClock } from './fake-clock.js';
export type { FakeClock, FakeClockOptions } from './fake-clock.js';
export { FaultyStorage, InjectedFaultError, STORAGE_OPERATIONS, mulberry32 } from './testing/faulty-storage.js';
export type { FaultCounters, FaultSettings, FaultyStorageOptions, OneShotFault, StorageOperation } from './testing/faulty-storage.js';
export { INVARIANTS, createInvariantChecker } from './testing/invariants.js';
export type { AttachOptions, CheckedScheduler, InvariantChecker, InvariantCheckerOptions, InvariantName, RunLogEntry, Violation } from './testing/invariants.js';
