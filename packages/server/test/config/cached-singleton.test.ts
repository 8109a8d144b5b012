import { describe, expect, expectTypeOf, it } from 'vitest';
import { cachedSingleton } from '../../src/index.js';

describe('cachedSingleton()', () => {
  it('runs a synchronous factory once', () => {
    let runs = 0;
    const getSettings = cachedSingleton(() => {
      runs++;
      return { region: 'eu', run: runs };
    });
    const first = getSettings();
    expect(getSettings()).toBe(first);
    expect(getSettings()).toBe(first);
    expect(runs).toBe(1);
    expectTypeOf(getSettings).returns.toEqualTypeOf<{ region: string; run: number }>();
  });

  it('shares one promise between concurrent first calls of an async factory', async () => {
    let runs = 0;
    const getDb = cachedSingleton(async () => {
      runs++;
      await new Promise((resolve) => setTimeout(resolve, 10));
      return { connection: runs };
    });
    const results = await Promise.all(Array.from({ length: 20 }, () => getDb()));
    expect(new Set(results).size).toBe(1);
    expect(runs).toBe(1);
    expect(await getDb()).toBe(results[0]);
  });

  it('does not keep a rejected promise: the next call runs the factory again', async () => {
    let runs = 0;
    const getClient = cachedSingleton(async () => {
      runs++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (runs === 1) throw new Error('config server unreachable');
      return { client: runs };
    });
    const concurrent = [getClient(), getClient()];
    for (const attempt of concurrent) await expect(attempt).rejects.toThrow('config server unreachable');
    await new Promise((resolve) => setImmediate(resolve));
    await expect(getClient()).resolves.toEqual({ client: 2 });
    await expect(getClient()).resolves.toEqual({ client: 2 });
    expect(runs).toBe(2);
  });

  it('cacheClear() makes the next call build a new instance', () => {
    let runs = 0;
    const get = cachedSingleton(() => ++runs);
    expect([get(), get()]).toEqual([1, 1]);
    get.cacheClear();
    expect(get()).toBe(2);
  });

  it('decorates zero-argument methods: one result per instance', () => {
    class Service {
      builds = 0;
      constructor(readonly name: string) {}

      @cachedSingleton
      client(): { for: string } {
        this.builds++;
        return { for: this.name };
      }
    }
    const a = new Service('a');
    expect(a.client()).toBe(a.client());
    expect(a.client()).toEqual({ for: 'a' });
    expect(a.builds).toBe(1);
  });

  it('decorated, keeps one result per instance even when instances take turns', async () => {
    class Service {
      builds = 0;
      constructor(readonly name: string) {}

      @cachedSingleton
      async client(): Promise<{ for: string }> {
        this.builds++;
        return { for: this.name };
      }
    }
    const a = new Service('a');
    const b = new Service('b');
    for (let round = 0; round < 3; round++) {
      expect(await a.client()).toEqual({ for: 'a' });
      expect(await b.client()).toEqual({ for: 'b' });
    }
    expect([a.builds, b.builds]).toEqual([1, 1]);
    expect(await a.client()).toBe(await a.client());
  });

  it('takes zero-argument factories only', () => {
    // @ts-expect-error a factory with parameters is not a singleton
    cachedSingleton((id: string) => id);
  });
});
