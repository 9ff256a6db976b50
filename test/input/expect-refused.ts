/** Shared assertion of the input tests: a refusal is typed, names its field, says what was expected and what arrived. */
import { expect } from 'vitest';
import { InvalidFabricError, InvalidOptionError } from '../../src/errors.js';

export interface Refusal {
  /** The `field` (or `option`) the error must name. */
  field: string;
  /** Text the "Expected … to be <expected>" part must contain. */
  expected: string | RegExp;
  /** Text the "got <arrived>" part must contain. */
  got: string | RegExp;
}

function check(error: unknown, Type: typeof InvalidFabricError | typeof InvalidOptionError, name: string, r: Refusal): void {
  expect(error, 'a typed error').toBeInstanceOf(Type);
  const e = error as InvalidFabricError & InvalidOptionError;
  expect(Type === InvalidFabricError ? e.field : e.option).toBe(r.field);
  const m = /^Expected (.*) to be (.*), got (.*)$/s.exec(e.message);
  expect(m, `message shape: ${e.message}`).not.toBeNull();
  expect(m![1]).toBe(name);
  if (typeof r.expected === 'string') expect(m![2]).toContain(r.expected);
  else expect(m![2]).toMatch(r.expected);
  if (typeof r.got === 'string') expect(m![3]).toContain(r.got);
  else expect(m![3]).toMatch(r.got);
}

/** What `fn` threw (undefined when it returned). */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** Runs `fn`, which must throw `InvalidFabricError` as described; returns the error. */
export function expectRefused(fn: () => unknown, r: Refusal): InvalidFabricError {
  const error = thrownBy(fn);
  check(error, InvalidFabricError, r.field, r);
  return error as InvalidFabricError;
}

/** Runs `fn`, which must throw `InvalidOptionError` as described. */
export function expectOptionRefused(fn: () => unknown, r: Refusal): void {
  check(thrownBy(fn), InvalidOptionError, r.field, r);
}
