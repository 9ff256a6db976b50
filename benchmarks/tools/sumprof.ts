/** Prints the self and inclusive time tables of the largest .cpuprofile in a directory: `node --import tsx benchmarks/tools/sumprof.ts dir`. */
import { summarizeProfileDir } from '../lib/profile.js';
const s = summarizeProfileDir(process.argv[2]!, 20)!;
console.log(`busy ${s.busyMs} ms of ${s.totalMs} ms`);
console.log('| self ms | % busy | function |\n|---|---|---|');
for (const r of s.self) console.log(`| ${r.ms} | ${r.pctOfBusy} | \`${r.fn}\` |`);
console.log('\n| incl ms | % busy | function |\n|---|---|---|');
for (const r of s.inclusive) console.log(`| ${r.ms} | ${r.pctOfBusy} | \`${r.fn}\` |`);
