import { describe, expect, it } from 'vitest';
import {
  fixedWait,
  InvalidOptionError,
  RetryError,
  type RetryState,
  retry,
  retryOnError,
  stopAfterRetries,
  TrpcMemoryError,
} from '../../src/index.js';

/** A function that throws the errors it is given in turn, then returns `result`. */
function scripted<T>(errors: unknown[], result: T) {
  const calls: unknown[][] = [];
  const fn = async (...args: unknown[]) => {
    calls.push(args);
    const next = errors[calls.length - 1];
    if (calls.length <= errors.length) throw next;
    return result;
  };
  return { fn, calls };
}

describe('retry()', () => {
  it('returns the first result without retrying it, whatever it is', async () => {
    const { fn, calls } = scripted([], null);
    await expect(retry({ stop: stopAfterRetries(3) })(fn)('a', 1)).resolves.toBeNull();
    expect(calls).toEqual([['a', 1]]);
  });

  it('retries failed calls with the same arguments until one succeeds', async () => {
    const { fn, calls } = scripted([new Error('1'), new Error('2')], 'ok');
    await expect(retry({ stop: stopAfterRetries(3) })(fn)('x')).resolves.toBe('ok');
    expect(calls).toEqual([['x'], ['x'], ['x']]);
  });

  it('stopAfterRetries(n) makes n calls in total, then reraise: true throws the last error itself', async () => {
    const errors = [new Error('first'), new Error('second'), new Error('third'), new Error('never')];
    const { fn, calls } = scripted(errors, 'unreached');
    const rejection = retry({ stop: stopAfterRetries(3), reraise: true })(fn)();
    await expect(rejection).rejects.toBe(errors[2]);
    expect(calls).toHaveLength(3);
  });

  it('reraise: false (the default) throws a RetryError carrying the last error and the attempt count', async () => {
    const errors = [new Error('first'), new Error('second'), new Error('third')];
    const { fn } = scripted(errors, 'unreached');
    const error = await retry({ stop: stopAfterRetries(3) })(fn)().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryError);
    expect(error).toBeInstanceOf(TrpcMemoryError);
    expect((error as RetryError).cause).toBe(errors[2]);
    expect((error as RetryError).attempts).toBe(3);
    expect((error as RetryError).message).toBe('Gave up after 3 attempts: third');

    const once = await retry({ stop: stopAfterRetries(1) })(scripted([new Error('x')], 0).fn)().catch(
      (e: unknown) => e,
    );
    expect((once as RetryError).attempts).toBe(1);
    expect((once as RetryError).message).toBe('Gave up after 1 attempt: x');
  });

  it('throws an error the predicate rejects at once, unwrapped, even with reraise: false', async () => {
    class Fatal extends Error {}
    const fatal = new Fatal('fatal');
    const { fn, calls } = scripted([new Error('transient'), fatal], 'unreached');
    const policy = retry({ stop: stopAfterRetries(5), retry: retryOnError((e) => !(e instanceof Fatal)) });
    await expect(policy(fn)()).rejects.toBe(fatal);
    expect(calls).toHaveLength(2);
  });

  it('passes 1-based attempt numbers of the attempt that just failed to stop, wait and retry', async () => {
    const seen: { by: string; attempt: number; error: unknown }[] = [];
    const errors = [new Error('a'), new Error('b'), new Error('c')];
    const { fn } = scripted(errors, 'ok');
    await retry({
      retry: (error, state) => {
        seen.push({ by: 'retry', attempt: state.attempt, error });
        return true;
      },
      wait: (state) => {
        seen.push({ by: 'wait', attempt: state.attempt, error: state.error });
        return 0;
      },
      stop: (state) => {
        seen.push({ by: 'stop', attempt: state.attempt, error: state.error });
        return false;
      },
    })(fn)();
    expect(seen).toEqual(
      [1, 2, 3].flatMap((attempt) =>
        ['retry', 'wait', 'stop'].map((by) => ({ by, attempt, error: errors[attempt - 1] })),
      ),
    );
  });

  it('calls beforeSleep (awaited) before every sleep and never after the final attempt', async () => {
    const events: string[] = [];
    let n = 0;
    const fn = async () => {
      n++;
      events.push(`call ${n}`);
      throw new Error(`e${n}`);
    };
    const states: RetryState[] = [];
    const wrapped = retry({
      stop: stopAfterRetries(3),
      wait: fixedWait(0.001),
      reraise: true,
      beforeSleep: async (state) => {
        states.push(state);
        await new Promise((resolve) => setTimeout(resolve, 5));
        events.push(`before sleep ${state.attempt}`);
      },
    })(fn);
    await expect(wrapped()).rejects.toThrow('e3');
    expect(events).toEqual(['call 1', 'before sleep 1', 'call 2', 'before sleep 2', 'call 3']);
    expect(states.map((s) => [s.attempt, (s.error as Error).message, s.upcomingSleep])).toEqual([
      [1, 'e1', 0.001],
      [2, 'e2', 0.001],
    ]);
    expect(states.every((s) => s.elapsed >= 0)).toBe(true);

    const succeeded: RetryState[] = [];
    await retry({ beforeSleep: (s) => void succeeded.push(s) })(async () => 1)();
    expect(succeeded).toEqual([]);
  });

  it('an aborted signal interrupts a sleep at once and rejects with the abort reason', async () => {
    const controller = new AbortController();
    const { fn, calls } = scripted([new Error('down'), new Error('down')], 'ok');
    // A 1000 s wait: the promise can only settle this test through the abort.
    let sleeping!: () => void;
    const asleep = new Promise<void>((resolve) => {
      sleeping = resolve;
    });
    const pending = retry({
      wait: fixedWait(1000),
      signal: controller.signal,
      beforeSleep: () => sleeping(),
    })(fn)();
    await asleep;
    const reason = new Error('shutting down');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(calls).toHaveLength(1);
  });

  it('does not call the function once the signal is aborted', async () => {
    const { fn, calls } = scripted([], 'ok');
    const reason = new Error('cancelled');
    await expect(retry({ signal: AbortSignal.abort(reason) })(fn)()).rejects.toBe(reason);
    expect(calls).toHaveLength(0);
  });

  it('keeps `this` for methods and the function name', async () => {
    const counter = {
      tries: 0,
      base: 40,
      bump: retry({ stop: stopAfterRetries(3) })(async function bump(
        this: { tries: number; base: number },
        n: number,
      ) {
        this.tries++;
        if (this.tries < 2) throw new Error('again');
        return this.base + n;
      }),
    };
    await expect(counter.bump(2)).resolves.toBe(42);
    expect(counter.tries).toBe(2);
    expect(counter.bump.name).toBe('bump');
  });

  it('wraps synchronous functions too, returning a promise', async () => {
    let n = 0;
    const parse = retry({ stop: stopAfterRetries(2) })((text: string) => {
      n++;
      if (n === 1) throw new SyntaxError('flaky');
      return Number.parseInt(text, 10);
    });
    await expect(parse('7')).resolves.toBe(7);
  });

  it('treats a negative or NaN wait as no wait', async () => {
    const { fn, calls } = scripted([new Error('a'), new Error('b')], 'ok');
    await expect(retry({ wait: (s) => (s.attempt === 1 ? -5 : Number.NaN) })(fn)()).resolves.toBe('ok');
    expect(calls).toHaveLength(3);
  });

  it('rejects bad options when the policy is made, naming the option', () => {
    expect(() => retry({ stop: 3 as never })).toThrow(InvalidOptionError);
    expect(() => retry({ stop: 3 as never })).toThrow(
      'retry(): option "stop" must be a function (or omitted), got 3',
    );
    expect(() => retry({ reraise: 'yes' as never })).toThrow('option "reraise" must be true or false');
    expect(() => retry({ signal: {} as never })).toThrow('option "signal" must be an AbortSignal');
    expect(() => stopAfterRetries(0)).toThrow(
      'stopAfterRetries(): option "attempts" must be a whole number of calls in total, at least 1, got 0',
    );
    expect(() => stopAfterRetries(2.5)).toThrow(InvalidOptionError);
    expect(() => retryOnError('x' as never)).toThrow(InvalidOptionError);
    expect(() => retry()(42 as never)).toThrow('option "fn" must be a function');
  });
});
