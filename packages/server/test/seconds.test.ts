import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../src/backends/memory.js';
import { RedisBackend } from '../src/backends/redis.js';
import { createCache } from '../src/cache/cache.js';
import { InvalidOptionError } from '../src/errors.js';
import { ResilientClient } from '../src/http/resilient-client.js';
import { memorize } from '../src/middleware/memorize.js';
import { memorizeFn } from '../src/middleware/memorize-fn.js';
import { stopAfterDelay } from '../src/resilience/stop.js';
import { exponentialBackoff, fixedWait } from '../src/resilience/wait.js';
import { assertSeconds, describeSeconds, type SecondsRule } from '../src/seconds.js';

function refusal(run: () => unknown): InvalidOptionError {
  try {
    run();
  } catch (error) {
    if (error instanceof InvalidOptionError) return error;
    throw error;
  }
  throw new Error('accepted');
}

describe('assertSeconds', () => {
  it('accepts exactly what its rule says', () => {
    const cases: [SecondsRule, unknown, boolean][] = [
      [{}, 1, true],
      [{}, 0.05, true],
      [{}, 0, false],
      [{}, -1, false],
      [{}, Number.POSITIVE_INFINITY, false],
      [{}, Number.NaN, false],
      [{}, '1', false],
      [{}, undefined, false],
      [{ optional: true }, undefined, true],
      [{ allowZero: true }, 0, true],
      [{ allowZero: true }, -0.001, false],
      [{ allowNegative: true }, -5, true],
      [{ allowNegative: true }, Number.NEGATIVE_INFINITY, false],
      [{ allowInfinity: true }, Number.POSITIVE_INFINITY, true],
      [{ allowInfinity: true }, Number.NEGATIVE_INFINITY, false],
      [{ max: 10 }, 10, true],
      [{ max: 10 }, 10.5, false],
    ];
    for (const [rule, value, accepted] of cases) {
      const ok = (() => {
        try {
          assertSeconds('f()', 'x', value, rule);
          return true;
        } catch {
          return false;
        }
      })();
      expect({ rule, value, ok }).toEqual({ rule, value, ok: accepted });
    }
  });

  it('refuses with an InvalidOptionError in one wording', () => {
    const error = refusal(() => assertSeconds('f()', 'timeout', -1, { allowZero: true, max: 60.7 }));
    expect(error).toMatchObject({ where: 'f()', option: 'timeout', value: -1 });
    expect(error.allowed).toBe('a finite number of seconds ≥ 0 (at most 60)');
    expect(describeSeconds({ optional: true })).toBe('a finite number of seconds > 0 (or omitted)');
    expect(describeSeconds({ allowZero: true, allowInfinity: true })).toBe(
      'a number of seconds ≥ 0 (Infinity allowed)',
    );
    expect(describeSeconds({ allowNegative: true })).toBe('a finite number of seconds');
  });

  it('property: a finite positive number is always accepted, anything not a number never', () => {
    fc.assert(
      fc.property(fc.double({ min: Number.MIN_VALUE, max: 1e12, noNaN: true }), (value) => {
        assertSeconds('f()', 'x', value);
      }),
    );
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.boolean(), fc.constant(null), fc.object(), fc.bigInt()),
        (value) =>
          refusal(() => assertSeconds('f()', 'x', value, { allowZero: true, allowNegative: true })) !==
          undefined,
      ),
    );
  });

  it('is what every seconds option of the package answers with', () => {
    const allowed = (run: () => unknown) => refusal(run).allowed;
    expect(allowed(() => memorize({ expire: 0 }))).toBe('a finite number of seconds > 0 (or omitted)');
    expect(allowed(() => memorizeFn({ expire: -1 }))).toBe('a finite number of seconds > 0 (or omitted)');
    expect(allowed(() => createCache(new MemoryBackend(), { expire: Number.NaN }))).toBe(
      'a finite number of seconds > 0 (or omitted)',
    );
    expect(allowed(() => new MemoryBackend({ purgeInterval: -1 }))).toBe('a finite number of seconds ≥ 0');
    // Validated before any connection is made.
    expect(allowed(() => new RedisBackend('redis://127.0.0.1:1', { commandTimeout: 0 }))).toBe(
      'a finite number of seconds > 0',
    );
    expect(allowed(() => new RedisBackend('redis://127.0.0.1:1', { cooldown: -1 }))).toBe(
      'a finite number of seconds ≥ 0',
    );
    expect(allowed(() => stopAfterDelay(Number.POSITIVE_INFINITY))).toBe('a finite number of seconds ≥ 0');
    expect(allowed(() => fixedWait(-1))).toBe('a finite number of seconds ≥ 0');
    expect(allowed(() => exponentialBackoff({ max: -1 }))).toBe('a number of seconds ≥ 0 (Infinity allowed)');
    expect(allowed(() => new ResilientClient({ baseUrl: 'http://127.0.0.1:1', timeout: 0 }))).toMatch(
      /^a finite number of seconds > 0 \(at most \d+\)$/,
    );
  });
});
