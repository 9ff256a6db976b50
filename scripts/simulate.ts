/**
 * npm run simulate -- [--type host|faults|clock|replicas|chaos|all] [--runs N] [--seed S] [--path P]
 *                     [--replay '<json sequence>'] [--verbose] [--ignore invariant,invariant]
 *
 * Runs the deterministic simulation (test/simulation/sim.ts) longer than `npm test` does. For a
 * failure it prints the seed and path (re-run exactly with `--seed S --path P --type T`) and the
 * shrunk sequence as JSON (re-run with `--replay '<json>'` to see every command and event).
 * `--ignore` leaves named invariants unchecked, to look past a known bug for the next one.
 */
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { SEQUENCE_TYPES, SimulationFailure, runSequence, sequenceProperty, type Sequence } from '../test/simulation/sim.js';

const { values } = parseArgs({
  options: {
    type: { type: 'string', default: 'all' },
    runs: { type: 'string', default: '200' },
    seed: { type: 'string' },
    path: { type: 'string' },
    replay: { type: 'string' },
    verbose: { type: 'boolean', default: false },
    ignore: { type: 'string', default: '' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log('npm run simulate -- [--type T|all] [--runs N] [--seed S] [--path P] [--replay JSON] [--verbose] [--ignore a,b]');
  for (const t of Object.values(SEQUENCE_TYPES)) console.log(`  ${t.name.padEnd(9)} ${t.description}`);
  process.exit(0);
}

const ignore = values.ignore!.split(',').filter(Boolean);

async function replay(json: string): Promise<number> {
  const sequence = JSON.parse(json) as Sequence;
  try {
    const world = await runSequence(sequence, { verbose: true, ignore });
    if (values.verbose) console.log(world.trace.join('\n'));
    console.log('replay: no violation');
    return 0;
  } catch (error) {
    if (error instanceof SimulationFailure) {
      console.log(error.trace.join('\n'));
      console.log(`\nreplay FAILED: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

async function main(): Promise<number> {
  if (values.replay !== undefined) return replay(values.replay);
  const names = values.type === 'all' ? Object.keys(SEQUENCE_TYPES) : values.type!.split(',');
  const runs = Number(values.runs);
  let failures = 0;
  for (const name of names) {
    const type = SEQUENCE_TYPES[name];
    if (!type) throw new Error(`unknown --type ${name} (known: ${Object.keys(SEQUENCE_TYPES).join(', ')}, all)`);
    const seed = values.seed === undefined ? Date.now() ^ (Math.random() * 0x7fffffff) : Number(values.seed);
    const started = Date.now();
    let done = 0;
    const property = sequenceProperty(type, { ignore }).afterEach(() => {
      done++;
      if (done % 25 === 0) process.stdout.write(`\r  ${name}: ${done} sequences run (shrinking included), ${((Date.now() - started) / 1000).toFixed(1)} s`);
    });
    console.log(`${name}: ${type.description}; ${runs} runs, seed ${seed}${values.path ? `, path ${values.path}` : ''}`);
    const result = await fc.check(property, { numRuns: runs, seed, ...(values.path ? { path: values.path } : {}), endOnFailure: false });
    process.stdout.write('\r');
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    if (!result.failed) {
      console.log(`  ${name}: ${result.numRuns} sequences passed in ${secs} s`);
      continue;
    }
    failures++;
    const [sequence] = result.counterexample ?? [];
    const error = result.errorInstance as Error;
    console.log(`  ${name}: FAILED after ${result.numRuns} runs and ${result.numShrinks} shrinks (${secs} s)`);
    console.log(`  seed ${result.seed}, path ${result.counterexamplePath}`);
    console.log(`  re-run: npm run simulate -- --type ${name} --seed ${result.seed} --path ${result.counterexamplePath}`);
    console.log(`  ${error?.message?.split('\n').join('\n  ')}`);
    console.log(`  minimal replay (${sequence?.commands.length} commands):`);
    console.log(`  npm run simulate -- --replay '${JSON.stringify(sequence)}'`);
  }
  return failures > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(2);
  },
);
