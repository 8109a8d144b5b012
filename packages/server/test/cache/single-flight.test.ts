import { describe, expect, it } from 'vitest';
import { singleFlight } from '../../src/cache/single-flight.js';
import { gate, through } from '../helpers/in-flight.js';
import { until } from '../helpers/time.js';

describe('singleFlight', () => {
  it('runs one computation per key at a time and shares its result', async () => {
    const flight = singleFlight<number>();
    let runs = 0;
    let held = gate();
    const compute = async () => {
      const run = ++runs;
      await held.opened;
      return run;
    };
    // Every call joins or starts a flight synchronously: all 51 are in before the gate opens.
    const calls = Promise.all([
      ...Array.from({ length: 50 }, () => flight('a', compute)),
      flight('b', compute),
    ]);
    held.open();
    const results = await calls;
    expect(runs).toBe(2);
    expect(new Set(results.slice(0, 50))).toEqual(new Set([results[0]]));
    expect(flight.size).toBe(0);
    // Settled flights are forgotten: the next call computes again.
    held = gate();
    held.open();
    await flight('a', compute);
    expect(runs).toBe(3);
  });

  it('shares an error with the waiting callers but does not keep it', async () => {
    const flight = singleFlight<string>();
    let runs = 0;
    const held = gate();
    const failing = async () => {
      runs++;
      await held.opened;
      throw new Error(`boom ${runs}`);
    };
    const calls = Promise.allSettled(Array.from({ length: 5 }, () => flight('k', failing)));
    held.open();
    const outcomes = await calls;
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
      return through(gate(), 'value', signal);
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
    await expect(flight('k', async () => 'again')).resolves.toBe('again');
  });

  it('never aborts the computation while a caller without a signal waits', async () => {
    const flight = singleFlight<string>();
    let computeSignal: AbortSignal | undefined;
    const upstream = gate();
    const compute = (signal: AbortSignal) => {
      computeSignal = signal;
      return through(upstream, 'value', signal);
    };
    const caller = new AbortController();
    const cancelled = flight('k', compute, { signal: caller.signal });
    const patient = flight('k', compute);
    caller.abort();
    await expect(cancelled).rejects.toMatchObject({ name: 'AbortError' });
    expect(computeSignal?.aborted).toBe(false);
    upstream.open();
    await expect(patient).resolves.toBe('value');
  });

  it('hands over to a caller still waiting when the computation fails after its starter aborted', async () => {
    const flight = singleFlight<string>();
    const runs: string[] = [];
    const upstream = gate();
    // Like a tRPC resolver: each caller's computation observes that caller's own signal.
    const computeFor = (name: string, signal: AbortSignal) => () => {
      runs.push(name);
      return through(upstream, `by ${name}`, signal);
    };
    const [a, b, c] = [new AbortController(), new AbortController(), new AbortController()];
    const first = flight('k', computeFor('a', a.signal), { signal: a.signal });
    const second = flight('k', computeFor('b', b.signal), { signal: b.signal });
    const third = flight('k', computeFor('c', c.signal), { signal: c.signal });
    expect(runs).toEqual(['a']);
    a.abort(new Error('a left'));
    await expect(first).rejects.toThrow('a left');
    // b's own computation runs; c waits for it instead of starting a third one.
    await until(() => runs.length === 2, { what: "b's computation started" });
    upstream.open();
    await expect(second).resolves.toBe('by b');
    await expect(third).resolves.toBe('by b');
    expect(runs).toEqual(['a', 'b']);
    expect(flight.size).toBe(0);
  });

  it('shares a failure that did not follow an abort, and the value of a starter that aborted', async () => {
    const flight = singleFlight<string>();
    let runs = 0;
    const held = gate();
    const failing = async () => {
      runs++;
      await held.opened;
      throw new Error('upstream down');
    };
    const failures = Promise.allSettled([flight('f', failing), flight('f', failing)]);
    held.open();
    const outcomes = await failures;
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
    expect(runs).toBe(1);

    // A computation that ignores the abort and succeeds: its value is good for the others.
    const starter = new AbortController();
    const upstream = gate();
    const ignoring = async () => {
      runs++;
      await upstream.opened;
      return 'done anyway';
    };
    const left = flight('v', ignoring, { signal: starter.signal });
    const stayed = flight('v', ignoring, { signal: new AbortController().signal });
    starter.abort();
    await expect(left).rejects.toMatchObject({ name: 'AbortError' });
    upstream.open();
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
      const upstream = gate();
      let failed = false;
      const call = flight(
        'k',
        async () => {
          await upstream.opened;
          failed = true;
          throw new Error('failed after everyone left');
        },
        { signal: caller.signal },
      );
      caller.abort();
      await expect(call).rejects.toMatchObject({ name: 'AbortError' });
      upstream.open();
      await until(() => failed, { what: 'the computation failed' });
      // Node reports a rejection nobody handled once the microtasks of the task that made it
      // have run, before the next task: one task later, it would have been seen.
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
      expect(flight.size).toBe(0);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
