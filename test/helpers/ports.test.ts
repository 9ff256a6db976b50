/** The spare-port reservations that keep test workers from starting servers on each other's ports. */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reserve } from './redis.js';

const dir = join(tmpdir(), 'syncwheel-test-ports');
// a port outside the range freePort hands out, so this test never collides with a real server's
const PORT = 6389;
const file = join(dir, `${PORT}.pid`);

describe('spare-port reservations across test processes', () => {
  it('a port reserved by a live process is refused; one whose process is gone is taken over', async () => {
    mkdirSync(dir, { recursive: true });
    rmSync(file, { force: true });
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    try {
      writeFileSync(file, String(other.pid));
      expect(reserve(PORT)).toBe(false);
      expect(readFileSync(file, 'utf8')).toBe(String(other.pid));
      await new Promise<void>((resolve) => {
        other.once('exit', () => resolve());
        other.kill('SIGKILL');
      });
      expect(reserve(PORT)).toBe(true);
      expect(readFileSync(file, 'utf8')).toBe(String(process.pid));
      expect(reserve(PORT)).toBe(false); // not twice, not even to ourselves
    } finally {
      other.kill('SIGKILL');
      rmSync(file, { force: true });
    }
    expect(existsSync(file)).toBe(false);
  });
});
