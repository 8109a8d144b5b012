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

/** A computation that takes `ms` unless `signal` aborts first (then rejects with its reason). */
const work = <T>(value: T, ms: number, signal?: AbortSignal): Promise<T> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(value), ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });

describe('singleFlight cancellation', () => {
  it('a caller that aborts stops waiting at once with its own reason; the others get the value', async () => {
    const flight = singleFlight<string>();
    let runs = 0;
    let computeSignal: AbortSignal | undefined;
    let finish!: (value: string) => void;
    const compute = (signal: AbortSignal) => {
      runs++;
      computeSignal = signal;
      return new Promise<string>((resolve) => {
        finish = resolve;
      });
    };
    const first = new AbortController();
    const second = new AbortController();
    const a = flight('k', compute, { signal: first.signal });
    const b = flight('k', compute, { signal: second.signal });
    const c = flight('k', compute);
    const reason = new Error('first caller left');
    first.abort(reason);
    // Rejected while the computation is still running: it did not wait for it.
    await expect(a).rejects.toBe(reason);
    expect(computeSignal?.aborted).toBe(false);
    finish('value');
    await expect(b).resolves.toBe('value');
    await expect(c).resolves.toBe('value');
    expect(runs).toBe(1);
  });

  it("aborts the computation's signal only once every caller has aborted", async () => {
    const flight = singleFlight<string>();
    let computeSignal: AbortSignal | undefined;
    const compute = (signal: AbortSignal) => {
      computeSignal = signal;
      return work('value', 200, signal);
    };
    const callers = [new AbortController(), new AbortController(), new AbortController()];
    const calls = callers.map((caller) => flight('k', compute, { signal: caller.signal }));
    callers[0]!.abort();
    callers[2]!.abort();
    expect(computeSignal?.aborted).toBe(false);
    const last = new Error('last one out');
    callers[1]!.abort(last);
    expect(computeSignal?.aborted).toBe(true);
    expect(computeSignal?.reason).toBe(last);
    const outcomes = await Promise.allSettled(calls);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toBe(last);
    // The abandoned computation is not joined: a new caller starts afresh.
    await expect(flight('k', (signal) => work('again', 10, signal))).resolves.toBe('again');
  });

  it('never aborts the computation while a caller without a signal waits', async () => {
    const flight = singleFlight<string>();
    let computeSignal: AbortSignal | undefined;
    const compute = (signal: AbortSignal) => {
      computeSignal = signal;
      return work('value', 50, signal);
    };
    const caller = new AbortController();
    const cancelled = flight('k', compute, { signal: caller.signal });
    const patient = flight('k', compute);
    caller.abort();
    await expect(cancelled).rejects.toMatchObject({ name: 'AbortError' });
    expect(computeSignal?.aborted).toBe(false);
    await expect(patient).resolves.toBe('value');
  });

  it('hands over to a caller still waiting when the computation fails after its starter aborted', async () => {
    const flight = singleFlight<string>();
    const runs: string[] = [];
    // Like a tRPC resolver: each caller's computation observes that caller's own signal.
    const computeFor = (name: string, signal: AbortSignal) => () => {
      runs.push(name);
      return work(`by ${name}`, 60, signal);
    };
    const [a, b, c] = [new AbortController(), new AbortController(), new AbortController()];
    const first = flight('k', computeFor('a', a.signal), { signal: a.signal });
    const second = flight('k', computeFor('b', b.signal), { signal: b.signal });
    const third = flight('k', computeFor('c', c.signal), { signal: c.signal });
    await sleep(10);
    a.abort(new Error('a left'));
    await expect(first).rejects.toThrow('a left');
    // b's own computation runs; c waits for it instead of starting a third one.
    await expect(second).resolves.toBe('by b');
    await expect(third).resolves.toBe('by b');
    expect(runs).toEqual(['a', 'b']);
    expect(flight.size).toBe(0);
  });

  it('shares a failure that did not follow an abort, and the value of a starter that aborted', async () => {
    const flight = singleFlight<string>();
    let runs = 0;
    const failing = async () => {
      runs++;
      await sleep(20);
      throw new Error('upstream down');
    };
    const outcomes = await Promise.allSettled([flight('f', failing), flight('f', failing)]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
    expect(runs).toBe(1);

    // A computation that ignores the abort and succeeds: its value is good for the others.
    const starter = new AbortController();
    const ignoring = async () => {
      runs++;
      await sleep(30);
      return 'done anyway';
    };
    const left = flight('v', ignoring, { signal: starter.signal });
    const stayed = flight('v', ignoring, { signal: new AbortController().signal });
    starter.abort();
    await expect(left).rejects.toMatchObject({ name: 'AbortError' });
    await expect(stayed).resolves.toBe('done anyway');
    expect(runs).toBe(2);
  });

  it('rejects at once for a signal aborted before the call, computing nothing', async () => {
    const flight = singleFlight<string>();
    let runs = 0;
    const reason = new Error('too late');
    await expect(
      flight(
        'k',
        async () => {
          runs++;
          return 'x';
        },
        { signal: AbortSignal.abort(reason) },
      ),
    ).rejects.toBe(reason);
    expect(runs).toBe(0);
    expect(flight.size).toBe(0);
  });

  it('reports no unhandled rejection when every caller left before the computation failed', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const flight = singleFlight<string>();
      const caller = new AbortController();
      const call = flight(
        'k',
        async () => {
          await sleep(20);
          throw new Error('failed after everyone left');
        },
        { signal: caller.signal },
      );
      caller.abort();
      await expect(call).rejects.toMatchObject({ name: 'AbortError' });
      await sleep(50);
      expect(unhandled).toEqual([]);
      expect(flight.size).toBe(0);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
