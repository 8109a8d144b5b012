import { HTTPError, type NormalizedOptions } from 'ky';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  defaultRetry,
  exponentialBackoff,
  fixedWait,
  InvalidOptionError,
  type RetryState,
  retry,
  stopAfterDelay,
  stopAfterRetries,
  stopAny,
  waitRetryAfter,
} from '../../src/index.js';

const state = (attempt: number, extra: Partial<RetryState> = {}): RetryState => ({
  attempt,
  error: new Error('x'),
  elapsed: 0,
  upcomingSleep: 0,
  ...extra,
});

/** A real ky HTTPError for a response with `status` and `headers`. */
function httpError(status: number, headers: Record<string, string> = {}) {
  return new HTTPError(
    new Response(null, { status, headers }),
    new Request('http://127.0.0.1/upstream'),
    {} as NormalizedOptions,
  );
}

/**
 * Runs `wrapped` under fake timers until it settles; returns the fake-clock
 * times (ms since start) of each call of `fn` and the outcome.
 */
async function schedule(
  makeWrapped: (fn: () => Promise<string>) => () => Promise<string>,
  fail: (n: number) => unknown,
) {
  const start = performance.now();
  const calls: number[] = [];
  const fn = async () => {
    calls.push(performance.now() - start);
    const error = fail(calls.length);
    if (error !== undefined) throw error;
    return 'ok';
  };
  const outcome = makeWrapped(fn)().then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  await vi.runAllTimersAsync();
  return { calls, gaps: calls.slice(1).map((t, i) => t - (calls[i] ?? 0)), outcome: await outcome };
}

describe('exponentialBackoff()', () => {
  it('waits clamp(multiplier * 2^(attempt-1), max(0, min), max) seconds', () => {
    const wait = exponentialBackoff({ multiplier: 1, min: 2, max: 10 });
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => wait(state(n)))).toEqual([2, 2, 4, 8, 10, 10, 10]);
    const plain = exponentialBackoff();
    expect([1, 2, 3, 4, 5].map((n) => plain(state(n)))).toEqual([1, 2, 4, 8, 16]);
    const half = exponentialBackoff({ multiplier: 0.5, max: 3 });
    expect([1, 2, 3, 4].map((n) => half(state(n)))).toEqual([0.5, 1, 2, 3]);
  });

  it('lets min win when min > max, and treats a negative min as 0', () => {
    const inverted = exponentialBackoff({ min: 5, max: 3 });
    expect([1, 2, 6].map((n) => inverted(state(n)))).toEqual([5, 5, 5]);
    const negative = exponentialBackoff({ multiplier: 0, min: -1 });
    expect(negative(state(3))).toBe(0);
  });

  it('with jitter, waits a uniformly random time between min and the computed wait', () => {
    const wait = exponentialBackoff({ min: 2, max: 10, jitter: true });
    const random = vi.spyOn(Math, 'random');
    try {
      random.mockReturnValue(0);
      expect(wait(state(4))).toBe(2);
      random.mockReturnValue(0.5);
      expect(wait(state(4))).toBe(5);
      random.mockReturnValue(0.999);
      expect(wait(state(4))).toBeCloseTo(7.992);
    } finally {
      random.mockRestore();
    }
    const samples = Array.from({ length: 200 }, () => wait(state(5)));
    expect(samples.every((s) => s >= 2 && s <= 10)).toBe(true);
    expect(new Set(samples).size).toBeGreaterThan(100);
  });

  it('rejects bad options, naming them', () => {
    expect(() => exponentialBackoff({ min: Number.NaN })).toThrow(
      'exponentialBackoff(): option "min" must be a finite number of seconds, got NaN',
    );
    expect(() => exponentialBackoff({ max: -1 })).toThrow(InvalidOptionError);
    expect(() => exponentialBackoff({ multiplier: -2 })).toThrow(
      'option "multiplier" must be a finite number of seconds ≥ 0',
    );
    expect(() => exponentialBackoff({ jitter: 1 as never })).toThrow('option "jitter" must be true or false');
    expect(() => fixedWait(-1)).toThrow(InvalidOptionError);
    expect(() => stopAfterDelay(Number.POSITIVE_INFINITY)).toThrow(InvalidOptionError);
    expect(() => stopAny(1 as never)).toThrow('stopAny(): option "strategies[0]"');
  });
});

describe('retry schedules on a fake clock', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sleeps exactly the backoff waits between attempts', async () => {
    vi.useFakeTimers();
    const { gaps, calls, outcome } = await schedule(
      (fn) =>
        retry({ stop: stopAfterRetries(7), wait: exponentialBackoff({ multiplier: 1, min: 2, max: 10 }) })(
          fn,
        ),
      () => new Error('down'),
    );
    expect(calls).toHaveLength(7);
    expect(gaps).toEqual([2000, 2000, 4000, 8000, 10000, 10000]);
    expect(outcome).toMatchObject({ error: { name: 'RetryError', attempts: 7 } });
  });

  it('does not call again before the wait is over', async () => {
    vi.useFakeTimers();
    let calls = 0;
    const pending = retry({ stop: stopAfterRetries(2), wait: fixedWait(2), reraise: true })(async () => {
      calls++;
      throw new Error('down');
    })().catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(1999);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toBe(2);
    await expect(pending).resolves.toMatchObject({ message: 'down' });
  });

  it('defaultRetry(): an always-503 call is tried 3 times, sleeping 2 s then 2 s, and the 503 is thrown', async () => {
    vi.useFakeTimers();
    const error = httpError(503);
    const sleeps: number[] = [];
    const { gaps, calls, outcome } = await schedule(
      (fn) => defaultRetry({ beforeSleep: (s) => void sleeps.push(s.upcomingSleep) })(fn),
      () => error,
    );
    expect(calls).toHaveLength(3);
    expect(gaps).toEqual([2000, 2000]);
    expect(sleeps).toEqual([2, 2]);
    expect(outcome).toEqual({ error });
  });

  it('defaultRetry() never retries a 4xx, and stops retrying on success', async () => {
    vi.useFakeTimers();
    const notFound = await schedule(
      (fn) => defaultRetry()(fn),
      () => httpError(404),
    );
    expect(notFound.calls).toHaveLength(1);
    const recovers = await schedule(
      (fn) => defaultRetry({ attempts: 5 })(fn),
      (n) => (n < 3 ? httpError(502) : undefined),
    );
    expect(recovers.calls).toHaveLength(3);
    expect(recovers.gaps).toEqual([2000, 2000]);
    expect(recovers.outcome).toEqual({ value: 'ok' });
  });

  it('defaultRetry({ jitter }) waits between waitMin and the backoff', async () => {
    vi.useFakeTimers();
    const { gaps } = await schedule(
      (fn) => defaultRetry({ attempts: 6, waitMin: 1, waitMax: 8, jitter: true })(fn),
      () => httpError(500),
    );
    expect(gaps).toHaveLength(5);
    const ceilings = [1, 2, 4, 8, 8].map((s) => s * 1000);
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(1000);
      expect(gap).toBeLessThanOrEqual(ceilings[i] ?? 0);
    });
  });

  it('stopAfterDelay(): never starts a sleep that would end past the deadline', async () => {
    vi.useFakeTimers();
    const { calls, outcome } = await schedule(
      (fn) => retry({ stop: stopAfterDelay(10), wait: fixedWait(3), reraise: true })(fn),
      () => new Error('down'),
    );
    // Calls at 0, 3, 6, 9 s; a fifth would need a sleep ending at 12 s.
    expect(calls).toEqual([0, 3000, 6000, 9000]);
    expect(outcome).toMatchObject({ error: { message: 'down' } });
  });

  it('stopAfterDelay() counts the time attempts take, and combines with stopAfterRetries through stopAny', async () => {
    vi.useFakeTimers();
    const slow = async () => {
      await new Promise((resolve) => setTimeout(resolve, 4000));
      throw new Error('slow failure');
    };
    let slowCalls = 0;
    const pending = retry({ stop: stopAfterDelay(10), wait: fixedWait(1) })(async () => {
      slowCalls++;
      return slow();
    })().catch((e: unknown) => e);
    await vi.runAllTimersAsync();
    // 0–4 fail, sleep 1, 5–9 fail (elapsed 9 + 1 ≥ 10): stop.
    expect(slowCalls).toBe(2);
    await expect(pending).resolves.toMatchObject({ name: 'RetryError', attempts: 2 });

    const both = await schedule(
      (fn) => retry({ stop: stopAny(stopAfterRetries(3), stopAfterDelay(100)), wait: fixedWait(1) })(fn),
      () => new Error('down'),
    );
    expect(both.calls).toEqual([0, 1000, 2000]);
  });

  it('waitRetryAfter(): honours Retry-After seconds and dates on 429/503, capped by max', async () => {
    vi.useFakeTimers({ now: new Date('2030-01-01T00:00:00Z') });
    const wait = waitRetryAfter(fixedWait(2), { max: 10 });
    expect(wait(state(1, { error: httpError(503, { 'retry-after': '5' }) }))).toBe(5);
    expect(wait(state(1, { error: httpError(429, { 'retry-after': '30' }) }))).toBe(10);
    expect(
      wait(state(1, { error: httpError(503, { 'retry-after': 'Tue, 01 Jan 2030 00:00:07 GMT' }) })),
    ).toBe(7);
    expect(wait(state(1, { error: httpError(503, { 'retry-after': 'soon' }) }))).toBe(2);
    expect(wait(state(1, { error: httpError(503) }))).toBe(2);
    expect(wait(state(1, { error: httpError(500, { 'retry-after': '5' }) }))).toBe(2);
    expect(wait(state(1, { error: new Error('network') }))).toBe(2);
  });

  it('defaultRetry({ respectRetryAfter }) waits what the server asks and retries a 429 that says when', async () => {
    vi.useFakeTimers();
    const limited = await schedule(
      (fn) => defaultRetry({ respectRetryAfter: true })(fn),
      (n) => (n < 3 ? httpError(429, { 'retry-after': n === 1 ? '5' : '60' }) : undefined),
    );
    expect(limited.gaps).toEqual([5000, 10000]);
    expect(limited.outcome).toEqual({ value: 'ok' });

    const unavailable = await schedule(
      (fn) => defaultRetry({ respectRetryAfter: true, waitMax: 4 })(fn),
      () => httpError(503, { 'retry-after': '3' }),
    );
    expect(unavailable.gaps).toEqual([3000, 3000]);

    const noHeader = await schedule(
      (fn) => defaultRetry({ respectRetryAfter: true })(fn),
      () => httpError(429),
    );
    expect(noHeader.calls).toHaveLength(1);
    const optedOut = await schedule(
      (fn) => defaultRetry()(fn),
      () => httpError(429, { 'retry-after': '1' }),
    );
    expect(optedOut.calls).toHaveLength(1);
  });
});

describe('retry schedules with tiny real waits', () => {
  it('sleeps at least the backoff waits between attempts', async () => {
    const times: number[] = [];
    const wrapped = retry({
      stop: stopAfterRetries(4),
      wait: exponentialBackoff({ multiplier: 0.01, max: 0.03 }),
      reraise: true,
    })(async () => {
      times.push(performance.now());
      throw new Error('down');
    });
    await expect(wrapped()).rejects.toThrow('down');
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? 0));
    // Timers may fire up to ~1 ms early after rounding; never a whole wait early.
    for (const [i, wanted] of [10, 20, 30].entries()) expect(gaps[i]).toBeGreaterThanOrEqual(wanted - 1.5);
  });

  it('defaultRetry with fractions of a second: retries a 503 error twice, then throws it', async () => {
    let calls = 0;
    const error = httpError(503);
    const wrapped = defaultRetry({ waitMin: 0.005, waitMax: 0.01 })(async () => {
      calls++;
      throw error;
    });
    await expect(wrapped()).rejects.toBe(error);
    expect(calls).toBe(3);
  });
});

describe('defaultRetry() options', () => {
  it('rejects bad options with the names the caller used', () => {
    expect(() => defaultRetry({ attempts: 0 })).toThrow(
      'defaultRetry(): option "attempts" must be a whole number of calls in total, at least 1, got 0',
    );
    expect(() => defaultRetry({ waitMin: Number.NaN })).toThrow('defaultRetry(): option "waitMin"');
    expect(() => defaultRetry({ waitMax: -1 })).toThrow('defaultRetry(): option "waitMax"');
    expect(() => defaultRetry({ retryOn: true as never })).toThrow('option "retryOn" must be a function');
    expect(() => defaultRetry({ reraise: 0 as never })).toThrow('defaultRetry(): option "reraise"');
  });

  it('with reraise: false throws a RetryError after the last attempt', async () => {
    const error = httpError(500);
    const outcome = await defaultRetry({ attempts: 2, waitMin: 0, waitMax: 0, reraise: false })(async () => {
      throw error;
    })().catch((e: unknown) => e);
    expect(outcome).toMatchObject({ name: 'RetryError', attempts: 2, cause: error });
  });
});
