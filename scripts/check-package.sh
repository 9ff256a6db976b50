#!/usr/bin/env bash
# Checks the package as users get it: packs it (which builds it), installs the tarball into a
# fresh temporary app WITHOUT ioredis (or any other optional peer), and checks
#   - ESM import and CommonJS require of `syncwheel` with no optional peer installed;
#   - `syncwheel/testing` and `syncwheel/redis` say which package to install when it is missing,
#     and `syncwheel/testing` works (import and require) once @sinonjs/fake-timers is installed;
#   - `npx syncwheel --help` / `--version` work without ioredis; a Redis command says to install it;
#   - a TypeScript consumer type-checks under module nodenext as ESM and as CommonJS (and the
#     CommonJS one runs), and under moduleResolution bundler, with skipLibCheck off;
#   - @arethetypeswrong/cli and publint --strict are clean on the tarball.
# Uses the npm registry for the app's own installs. Run from anywhere: bash scripts/check-package.sh
# (KEEP=1 keeps the temporary directory and prints where it is).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/syncwheel-pkg.XXXXXX")"
if [ "${KEEP:-}" = 1 ]; then echo "check-package: keeping $WORK"; else trap 'rm -rf "$WORK"' EXIT; fi
step() { printf '\ncheck-package: %s\n' "$*"; }
fail() { echo "check-package: FAILED: $*" >&2; exit 1; }
NPM_Q=(--no-audit --no-fund --loglevel=error)

step "npm pack (runs the build through prepare)"
(cd "$ROOT" && npm pack --pack-destination "$WORK" --loglevel=error >/dev/null)
TGZ="$(ls "$WORK"/syncwheel-*.tgz)"
LISTING="$(tar -tzf "$TGZ")"
echo "tarball: $(basename "$TGZ"), $(wc -c <"$TGZ") bytes packed, $(wc -l <<<"$LISTING") files, $(tar -xzOf "$TGZ" | wc -c) bytes unpacked"
grep -E '\.map$' <<<"$LISTING" && fail "the tarball ships source maps"
grep -q '^package/docs/benchmarks/raw/' <<<"$LISTING" && fail "benchmark raw data in the tarball"
for f in LICENSE README.md CHANGELOG.md dist/index.js dist/cjs/index.js dist/cjs/package.json dist/testing.js dist/cjs/testing.js dist/redis/index.js dist/cjs/redis/index.js dist/cli.js docs/redis.md docs/status-page.png; do
  grep -qx "package/$f" <<<"$LISTING" || fail "missing $f in the tarball"
done

step "attw and publint --strict on the tarball"
(cd "$ROOT" && npx --no-install attw "$TGZ" --format table-flipped)
(cd "$ROOT" && npx --no-install publint run "$TGZ" --strict)

step "install the tarball into a fresh app (no ioredis, no optional peer)"
APP="$WORK/app"
mkdir -p "$APP"
cd "$APP"
printf '{ "name": "syncwheel-consumer", "version": "1.0.0", "private": true }\n' >package.json
npm install "${NPM_Q[@]}" "$TGZ"
for peer in ioredis redis-semaphore @sinonjs/fake-timers; do
  [ -e "node_modules/$peer" ] && fail "$peer was installed with syncwheel"
done
echo "dependency tree of the app (syncwheel alone):"
npm ls --all

step "ESM import and CommonJS require of syncwheel"
node --input-type=module -e "
  import { createScheduler, MemoryStorage, SyncwheelError } from 'syncwheel';
  const runs = [];
  const s = createScheduler({ storage: new MemoryStorage(), executor: (f) => { runs.push(f.id); } });
  await s.upsertFabric({ id: 'a', syncInterval: 'PT1M' });
  await s.start();
  await new Promise((r) => setTimeout(r, 50));
  await s.stop();
  if (runs.join() !== 'a' || typeof SyncwheelError !== 'function') throw new Error('ESM: unexpected ' + runs);
  console.log('ESM import: ok');"
node -e "
  const { createScheduler, InvalidFabricError } = require('syncwheel');
  const s = createScheduler({ executor: () => {} });
  s.upsertFabric({ id: 'a', syncInterval: -5 }).then(() => { throw new Error('accepted -5'); }, (e) => {
    if (!(e instanceof InvalidFabricError)) throw e;
    console.log('CommonJS require: ok');
  });"

step "missing optional peers are named"
expect_missing() { # <import|require> <entry> <package>
  local out
  if [ "$1" = import ]; then out="$(node --input-type=module -e "await import('$2')" 2>&1)" && fail "$1 $2 worked without $3"
  else out="$(node -e "require('$2')" 2>&1)" && fail "$1 $2 worked without $3"; fi
  grep -q "$2 needs the optional peer dependency \"$3\", which is not installed: npm install" <<<"$out" || fail "$1 $2 without $3 said: $out"
  echo "$1 $2 without $3: $(grep -m1 '^Error: .*needs the optional peer' <<<"$out" | sed 's/^Error: //')"
}
expect_missing import syncwheel/testing @sinonjs/fake-timers
expect_missing require syncwheel/testing @sinonjs/fake-timers
expect_missing import syncwheel/redis redis-semaphore
expect_missing require syncwheel/redis redis-semaphore

step "the CLI without ioredis"
npx --no-install syncwheel --help | grep -q '^Usage: syncwheel <command>' || fail "syncwheel --help"
[ "$(npx --no-install syncwheel --version)" = "$(node -p "require('syncwheel/package.json').version")" ] || fail "syncwheel --version"
set +e
out="$(npx --no-install syncwheel status --redis redis://127.0.0.1:6379 --prefix p 2>&1)"; code=$?
set -e
[ "$code" = 2 ] && grep -q 'needs the package "ioredis", which is not installed: npm install ioredis' <<<"$out" || fail "CLI without ioredis: exit $code: $out"
echo "npx syncwheel --help / --version: ok; a Redis command without ioredis: exit 2, $out"

step "install the test peer and TypeScript (for the consumers)"
npm install "${NPM_Q[@]}" --save-dev @sinonjs/fake-timers typescript @types/node@20
node --input-type=module -e "
  import { createScheduler } from 'syncwheel';
  import { createFakeClock } from 'syncwheel/testing';
  const clock = createFakeClock({ now: 0 });
  const runs = [];
  const s = createScheduler({ clock, executor: (f, ctx) => { runs.push(ctx.scheduledAt); } });
  await s.upsertFabric({ id: 'a', syncInterval: 1000 });
  await s.start();
  await clock.tickAsync(3000);
  await s.stop();
  if (runs.join() !== '0,1000,2000,3000') throw new Error('runs ' + runs);
  console.log('ESM syncwheel/testing: ok');"
node -e "
  const { createFakeClock, createInvariantChecker } = require('syncwheel/testing');
  if (typeof createFakeClock({ now: 0 }).tickAsync !== 'function' || typeof createInvariantChecker !== 'function') throw new Error('testing');
  console.log('CommonJS syncwheel/testing: ok');"

step "TypeScript consumers (nodenext ESM, nodenext CommonJS, bundler)"
consumer_src='import { createScheduler, InvalidFabricError, type FabricStatus, type SyncResult } from "syncwheel";
import { createFakeClock, type FakeClock } from "syncwheel/testing";
const clock: FakeClock = createFakeClock({ now: 0 });
const scheduler = createScheduler({ clock, executor: async (fabric, ctx) => { void fabric.id; void ctx.signal.aborted; } });
export async function demo(): Promise<[FabricStatus | undefined, SyncResult | null, boolean]> {
  await scheduler.upsertFabric({ id: "a", syncInterval: "PT1M" });
  await scheduler.start();
  await clock.tickAsync(1);
  const status = await scheduler.getFabricStatus("a");
  // @ts-expect-error the definition type refuses unknown fields
  const bad = () => scheduler.upsertFabric({ id: "b", syncInterval: 1000, syncIntervall: 5 });
  void bad;
  await scheduler.stop();
  return [status, null, InvalidFabricError.prototype instanceof Error];
}'
mkdir -p esm cjs bundler
printf '{ "type": "module" }\n' >esm/package.json
printf '{ "type": "commonjs" }\n' >cjs/package.json
for d in esm cjs bundler; do printf '%s\n' "$consumer_src" >"$d/index.ts"; done
cat >esm/tsconfig.json <<'JSON'
{ "compilerOptions": { "module": "nodenext", "moduleResolution": "nodenext", "target": "es2022", "strict": true, "skipLibCheck": false, "types": ["node"], "noEmit": true }, "files": ["index.ts"] }
JSON
cat >cjs/tsconfig.json <<'JSON'
{ "compilerOptions": { "module": "nodenext", "moduleResolution": "nodenext", "target": "es2022", "strict": true, "skipLibCheck": false, "types": ["node"], "outDir": "out" }, "files": ["index.ts"] }
JSON
cat >bundler/tsconfig.json <<'JSON'
{ "compilerOptions": { "module": "preserve", "moduleResolution": "bundler", "target": "es2022", "strict": true, "skipLibCheck": false, "types": ["node"], "noEmit": true }, "files": ["index.ts"] }
JSON
for d in esm cjs bundler; do (cd "$d" && npx --no-install tsc -p .) || fail "TypeScript consumer ($d)"; echo "tsc ($d): ok"; done
grep -q 'require("syncwheel")' cjs/out/index.js || fail "the CommonJS consumer was not compiled to require()"
(cd cjs && node -e "require('./out/index.js').demo().then(([s, , ok]) => { if (!s || s.id !== 'a' || !ok) throw new Error('demo'); console.log('compiled CommonJS consumer runs: ok'); })")

step "dependency tree with the test peer"
npm ls --all --omit=dev 2>/dev/null || true
echo
echo "check-package: all checks passed"
