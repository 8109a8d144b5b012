import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { InvalidOptionError, lru } from '../../src/index.js';

/** `fn` that counts its calls and returns a fresh object per call. */
function counted<Args extends unknown[]>() {
  const calls: Args[] = [];
  const fn = (...args: Args) => {
    calls.push(args);
    return { args, call: calls.length };
  };
  return { fn, calls };
}

describe('lru()', () => {
  it('memoizes a synchronous function by its arguments', () => {
    const { fn, calls } = counted<[string, number]>();
    const memo = lru()(fn);
    const first = memo('a', 1);
    expect(memo('a', 1)).toBe(first);
    expect(memo('a', 2)).not.toBe(first);
    expect(memo('b', 1)).not.toBe(first);
    expect(calls).toEqual([
      ['a', 1],
      ['a', 2],
      ['b', 1],
    ]);
    expect(memo.cacheInfo()).toEqual({ hits: 1, misses: 3, maxSize: 128, size: 3 });
  });

  it('compares primitives by value and type, objects by identity', () => {
    const { fn, calls } = counted<[unknown]>();
    const memo = lru()(fn);
    memo(1);
    memo('1');
    memo(1n);
    memo(true);
    memo(null);
    memo(undefined);
    memo(0);
    memo(-0);
    memo(Number.NaN);
    memo(Number.NaN);
    expect(calls).toHaveLength(8);
    const obj = { id: 1 };
    memo(obj);
    memo(obj);
    memo({ id: 1 });
    expect(calls).toHaveLength(10);
  });

  it('tells apart argument lists that would join alike', () => {
    const { fn, calls } = counted<string[]>();
    const memo = lru()(fn);
    memo('a,b');
    memo('a', 'b');
    memo('a', 'b');
    memo();
    expect(calls).toHaveLength(3);
  });

  it('keys by a custom function, e.g. objects by content', () => {
    const { fn, calls } = counted<[{ id: number; page?: number }]>();
    const memo = lru({ key: (query: { id: number; page?: number }) => JSON.stringify(query) })(fn);
    expect(memo({ id: 1 })).toBe(memo({ id: 1 }));
    memo({ id: 1, page: 2 });
    expect(calls).toHaveLength(2);
  });

  it('evicts the least recently used result past maxSize', () => {
    const { fn, calls } = counted<[number]>();
    const memo = lru({ maxSize: 2 })(fn);
    memo(1);
    memo(2);
    memo(1); // 1 is now the most recently used
    memo(3); // evicts 2
    expect(memo.cacheInfo().size).toBe(2);
    memo(1);
    expect(calls).toHaveLength(3);
    memo(2);
    expect(calls.map(([n]) => n)).toEqual([1, 2, 3, 2]);
  });

  it('caches undefined results, never thrown errors', () => {
    let runs = 0;
    const nothing = lru()(() => {
      runs++;
      return undefined;
    });
    nothing();
    nothing();
    expect(runs).toBe(1);

    let attempts = 0;
    const flaky = lru()((n: number) => {
      attempts++;
      if (attempts === 1) throw new Error('first call fails');
      return n * 2;
    });
    expect(() => flaky(2)).toThrow('first call fails');
    expect(flaky(2)).toBe(4);
    expect(flaky(2)).toBe(4);
    expect(attempts).toBe(2);
  });

  it('shares one promise between concurrent async calls and drops rejected ones', async () => {
    let runs = 0;
    let fail = true;
    const load = lru()(async (id: string) => {
      runs++;
      await new Promise((resolve) => setTimeout(resolve, 10));
      if (fail) throw new Error(`upstream down for ${id}`);
      return { id };
    });
    const first = load('a');
    expect(load('a')).toBe(first);
    await expect(Promise.all([first, load('a')])).rejects.toThrow('upstream down for a');
    expect(runs).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    fail = false;
    const value = await load('a');
    expect(value).toEqual({ id: 'a' });
    expect(await load('a')).toBe(value);
    expect(runs).toBe(2);
  });

  it('cacheClear() forgets every result and resets the statistics', () => {
    const { fn, calls } = counted<[number]>();
    const memo = lru()(fn);
    memo(1);
    memo(1);
    memo.cacheClear();
    expect(memo.cacheInfo()).toEqual({ hits: 0, misses: 0, maxSize: 128, size: 0 });
    memo(1);
    expect(calls).toHaveLength(2);
  });

  it('works as a method decorator, caching per instance with `this` intact', () => {
    class Rates {
      lookups = 0;
      constructor(readonly base: number) {}

      @lru({ maxSize: 10 })
      rate(currency: string): number {
        this.lookups++;
        return this.base + currency.length;
      }
    }
    const a = new Rates(1);
    const b = new Rates(100);
    expect([a.rate('EUR'), a.rate('EUR'), b.rate('EUR')]).toEqual([4, 4, 103]);
    expect([a.lookups, b.lookups]).toEqual([1, 1]);
    expectTypeOf(a.rate).toEqualTypeOf<(currency: string) => number>();
  });

  it("keeps the function's signature and adds the controls", () => {
    const load = async (id: string, page = 1) => ({ id, page });
    const memo = lru()(load);
    expectTypeOf(memo).parameters.toEqualTypeOf<Parameters<typeof load>>();
    expectTypeOf(memo).returns.toEqualTypeOf<Promise<{ id: string; page: number }>>();
    // @ts-expect-error a defaulted parameter keeps its type
    void memo('a', 'two');
    expectTypeOf(memo.cacheInfo().hits).toBeNumber();
    // @ts-expect-error arguments are checked like the original's
    void memo(1);
  });

  it('rejects bad options when called, naming the option', () => {
    expect(() => lru({ maxSize: 0 })).toThrow(InvalidOptionError);
    expect(() => lru({ maxSize: 1.5 })).toThrow(
      'lru(): option "maxSize" must be a whole number of results ≥ 1, got 1.5',
    );
    expect(() => lru({ key: 'id' as never })).toThrow('lru(): option "key" must be a function');
    expect(() => lru()(null as never)).toThrow('lru(): option "fn" must be a function');
  });

  it('keys symbol arguments by identity, registered ones by their registry key', () => {
    const { fn, calls } = counted<[symbol]>();
    const memo = lru()(fn);
    const a = Symbol('same description');
    const b = Symbol('same description');
    expect(memo(a)).toBe(memo(a));
    expect(memo(b)).not.toBe(memo(a));
    expect(memo(Symbol.for('app.key'))).toBe(memo(Symbol.for('app.key')));
    expect(memo(Symbol.iterator)).toBe(memo(Symbol.iterator));
    expect(calls).toHaveLength(4);
  });

  it('holds no argument alive: a symbol used once can be collected', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const memo = lru({ maxSize: 1 })((value: symbol) => typeof value);
    let ref: WeakRef<symbol> | undefined;
    (() => {
      const once = Symbol('once');
      ref = new WeakRef(once);
      memo(once);
      memo(Symbol('evicts the first result'));
    })();
    // Collection is not synchronous with gc() for weak targets in every V8 build:
    // give it a few turns, each a real event (a macrotask), not a timed wait.
    for (let i = 0; i < 10 && ref?.deref() !== undefined; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      gc();
    }
    expect(ref?.deref()).toBeUndefined();
  });
});
