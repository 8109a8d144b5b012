import { describe, expect, it } from 'vitest';
import { singleFlight } from '../src/cache/single-flight.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('singleFlight', () => {
  it('runs one computation per key at a time and shares its result', async () => {
    const flight = singleFlight<number>();
    let runs = 0;
    const compute = async () => {
      runs++;
      await sleep(20);
      return runs;
    };
    const results = await Promise.all([
      ...Array.from({ length: 50 }, () => flight('a', compute)),
      flight('b', compute),
    ]);
    expect(runs).toBe(2);
    expect(new Set(results.slice(0, 50))).toEqual(new Set([results[0]]));
    expect(flight.size).toBe(0);
    // Settled flights are forgotten: the next call computes again.
    await flight('a', compute);
    expect(runs).toBe(3);
  });

  it('shares an error with the waiting callers but does not keep it', async () => {
    const flight = singleFlight<string>();
    let runs = 0;
    const failing = async () => {
      runs++;
      await sleep(10);
      throw new Error(`boom ${runs}`);
    };
    const outcomes = await Promise.allSettled(Array.from({ length: 5 }, () => flight('k', failing)));
    expect(outcomes.map((outcome) => outcome.status)).toEqual(Array(5).fill('rejected'));
    expect(runs).toBe(1);
    expect(flight.pending('k')).toBeUndefined();
    await expect(flight('k', async () => 'ok')).resolves.toBe('ok');
  });

  it('turns a synchronous throw into a rejection and keeps nothing', async () => {
    const flight = singleFlight<string>();
    await expect(
      flight('k', () => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    expect(flight.size).toBe(0);
  });
});
