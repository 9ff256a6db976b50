/**
 * The deterministic simulation (see test/simulation/sim.ts and DESIGN.md, "Deterministic
 * simulation"): seeded, shrinking, on a fake clock, one sequence type per test, run one after
 * the other in this one file so the timing-sensitive suites in the other worker keep their core.
 *
 *   SIM_TYPE=clock npx vitest run test/simulation/simulation.test.ts   # one sequence type
 *   npx vitest run test/simulation/simulation.test.ts -t replicas      # the same, by name
 *   SIM_SEED=123 SIM_RUNS=500 npx vitest run test/simulation/simulation.test.ts
 *   npm run simulate -- --help                                          # longer runs, replays
 *
 * A failure prints fast-check's seed, path and the shrunk sequence; replay it with
 * `npm run simulate -- --replay '<the sequence as JSON>'` for a full trace.
 *
 * On the scheduler of 9a42d32 (before the core rewrite) faults, clock, replicas and chaos fail:
 * those are the scheduler's bugs this simulation was written to find, not flakes.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { SEQUENCE_TYPES, sequenceProperty } from './sim.js';

/** Fixed by default so `npm test` is reproducible; `npm run simulate` explores new seeds. */
const SEED = Number(process.env['SIM_SEED'] ?? 20260301);
const RUNS = Number(process.env['SIM_RUNS'] ?? 1500);
/** Wall-clock budget per sequence type (generation stops there, shrinking gets its own budget). */
const BUDGET_MS = Number(process.env['SIM_BUDGET_MS'] ?? 8_000);
const only = process.env['SIM_TYPE'];

describe.sequential('deterministic simulation', () => {
  for (const type of Object.values(SEQUENCE_TYPES)) {
    it.skipIf(only !== undefined && only !== type.name)(`${type.name}: ${type.description}`, { timeout: 4 * BUDGET_MS + 30_000 }, async () => {
      await fc.assert(sequenceProperty(type), {
        seed: SEED,
        numRuns: RUNS,
        interruptAfterTimeLimit: BUDGET_MS,
        // Shrinking a failure to a short replay gets a bounded budget of its own.
        skipAllAfterTimeLimit: 3 * BUDGET_MS,
      });
    });
  }
});
