import { describe, expectTypeOf, it } from 'vitest';
import { memorizeFn } from '../../src/index.js';

describe('memorizeFn types', () => {
  it("keeps the function's signature: parameters, result and generics", () => {
    async function original(id: string, page?: number) {
      return { id, page };
    }
    const load = memorizeFn({ expire: 60 })(original);
    expectTypeOf(load).toEqualTypeOf<typeof original>();
    expectTypeOf(load).parameters.toEqualTypeOf<Parameters<typeof original>>();
    expectTypeOf(load).returns.resolves.toEqualTypeOf<{ id: string; page: number | undefined }>();

    const identity = memorizeFn({ namespace: 'identity' })(async <T>(value: T) => value);
    expectTypeOf<ReturnType<typeof identity<number>>>().toEqualTypeOf<Promise<number>>();
  });

  it("checks the key function's arguments against the function's", () => {
    memorizeFn({ key: (id: string, page?: number) => `${id}:${page}` })(async function typedKey(
      id: string,
      page?: number,
    ) {
      return { id, page };
    });
    // @ts-expect-error the key function's arguments must match the function's
    memorizeFn({ key: (id: number) => String(id) })(async function typedKey(id: string) {
      return id;
    });
    // @ts-expect-error a key is a string
    memorizeFn({ key: (id: string) => id.length })(async function keyedByNumber(id: string) {
      return id;
    });
  });

  it('wraps only functions that return promises', () => {
    // @ts-expect-error memorizeFn caches async functions
    memorizeFn({ namespace: 'sync' })((n: number) => n * 2);
  });
});
