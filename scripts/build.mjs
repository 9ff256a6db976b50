// Builds dist/ (ESM, with the CLI) and dist/cjs/ (CommonJS copy of the library entry points,
// marked by its own {"type":"commonjs"} package.json). Run by `npm run build`, and by `prepare`,
// so `npm pack`, `npm publish` and git installs always ship freshly built code.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const run = (project) => execFileSync(process.execPath, [tsc, '-p', join(root, project)], { stdio: 'inherit', cwd: root });

rmSync(join(root, 'dist'), { recursive: true, force: true }); // no stale files from an older layout
run('tsconfig.build.json');
run('tsconfig.cjs.json');
// the optional-peer loader is plain CommonJS in src/ (tsc does not copy it): both builds load it
for (const out of ['dist', 'dist/cjs']) {
  for (const file of ['peer.cjs', 'peer.d.cts']) copyFileSync(join(root, 'src', file), join(root, out, file));
}
writeFileSync(join(root, 'dist/cjs/package.json'), `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`);
chmodSync(join(root, 'dist/cli.js'), 0o755);
