/**
 * What the published manifest promises: dependencies by entry point, optional peers with caret
 * ranges, the files shipped, and both module systems in `exports`. The packed tarball itself is
 * checked by scripts/check-package.sh (CI).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requirePeer } from '../../src/peer.cjs';

const ROOT = join(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, any>;
const PEERS = ['@sinonjs/fake-timers', 'ioredis', 'redis-semaphore'];

/** Every package a module graph imports by value (type-only imports are erased), from `entry`. */
function packagesImportedFrom(entry: string): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    for (const m of source.matchAll(/^\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?'([^']+)'/gm)) {
      const [, typeOnly, spec] = m as unknown as [string, string | undefined, string];
      if (typeOnly) continue;
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
        if (existsSync(target)) visit(target);
      } else if (!spec.startsWith('node:')) packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
    for (const m of source.matchAll(/requirePeer<[^>]*>\('([^']+)'/g)) packages.add(m[1]!);
  };
  visit(join(ROOT, entry));
  return packages;
}

describe('package manifest', () => {
  it('import "syncwheel" needs only its runtime dependencies; each optional peer belongs to one entry point', () => {
    expect(Object.keys(pkg['dependencies']).sort()).toEqual(['@opentelemetry/api', 'eventemitter3', 'luxon']);
    expect([...packagesImportedFrom('src/index.ts')].sort()).toEqual(['@opentelemetry/api', 'eventemitter3', 'luxon']);
    expect(packagesImportedFrom('src/testing.ts')).toContain('@sinonjs/fake-timers');
    for (const peer of ['ioredis', 'redis-semaphore']) expect(packagesImportedFrom('src/testing.ts')).not.toContain(peer);
    expect(packagesImportedFrom('src/redis/index.ts')).toContain('redis-semaphore');
    expect(packagesImportedFrom('src/redis/index.ts')).not.toContain('@sinonjs/fake-timers');
    // the CLI loads ioredis and the Redlock adapter lazily: --help needs neither
    expect(packagesImportedFrom('src/cli.ts')).not.toContain('ioredis');
    expect(packagesImportedFrom('src/cli.ts')).not.toContain('redis-semaphore');
  });

  it('uses caret ranges, declares the optional peers (also dev dependencies for our own tests) and luxon as a dependency', () => {
    for (const range of Object.values<string>(pkg['dependencies'])) expect(range).toMatch(/^\^\d/);
    expect(Object.keys(pkg['peerDependencies']).sort()).toEqual(PEERS);
    for (const peer of PEERS) {
      expect(pkg['peerDependencies'][peer]).toMatch(/^\^\d/);
      expect(pkg['peerDependenciesMeta'][peer]).toEqual({ optional: true });
      expect(pkg['devDependencies'][peer]).toBeDefined();
    }
    // luxon serves the calendar engine (src/calendar), which calendar fabrics use: a dependency, never a peer
    expect(pkg['dependencies']['luxon']).toMatch(/^\^3\./);
    expect(JSON.stringify(pkg['peerDependencies'] ?? {})).not.toContain('luxon');
    expect(JSON.stringify(pkg['devDependencies'] ?? {})).not.toContain('"luxon"');
  });

  it('builds on prepare and ships both module systems, typed, with the docs the README links to', () => {
    expect(pkg['scripts']['prepare']).toBe('npm run build');
    expect(pkg['scripts']['prepublishOnly']).toBeUndefined();
    for (const [sub, file] of [['.', 'index'], ['./testing', 'testing'], ['./redis', 'redis/index']] as const) {
      expect(pkg['exports'][sub]).toEqual({
        import: { types: `./dist/${file}.d.ts`, default: `./dist/${file}.js` },
        require: { types: `./dist/cjs/${file}.d.ts`, default: `./dist/cjs/${file}.js` },
      });
    }
    expect(pkg['files']).toEqual(expect.arrayContaining(['dist', 'LICENSE', 'README.md', 'CHANGELOG.md', 'docs/*.md', 'docs/status-page.png']));
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) 2026 syncwheel contributors/);
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    for (const [, link] of readme.matchAll(/\]\((docs\/[^)#]+)/g)) {
      expect(existsSync(join(ROOT, link!)), link).toBe(true);
      expect(pkg['files'].some((pattern: string) => link === pattern || link!.startsWith(`${pattern}/`) || new RegExp(`^${pattern.replace(/\./g, '\\.').replace(/\*/g, '[^/]*')}$`).test(link!)), `${link} is shipped`).toBe(true);
    }
  });

  it('a missing optional peer is named with the command that installs it', () => {
    expect(() => requirePeer('syncwheel-no-such-peer', 'syncwheel/example', 'syncwheel-no-such-peer other')).toThrow(
      expect.objectContaining({ code: 'ERR_SYNCWHEEL_MISSING_PEER', peer: 'syncwheel-no-such-peer', message: 'syncwheel/example needs the optional peer dependency "syncwheel-no-such-peer", which is not installed: npm install syncwheel-no-such-peer other' }),
    );
    expect(typeof requirePeer<{ createClock: unknown }>('@sinonjs/fake-timers', 'syncwheel/testing').createClock).toBe('function');
  });
});
