import { describe, expectTypeOf, it } from 'vitest';
import {
  defaultRetry,
  type RetryCondition,
  type Retrying,
  type RetryState,
  retry,
  retryOnError,
  type StopStrategy,
  stopAfterRetries,
  stopAny,
  type WaitStrategy,
} from '../../src/index.js';

describe('retry types', () => {
  it("keeps the wrapped function's parameters and result, as a promise", () => {
    const load = async (id: string, opts?: { page: number }) => ({ id, page: opts?.page ?? 1 });
    const wrapped = retry()(load);
    expectTypeOf(wrapped).toEqualTypeOf<Retrying<typeof load>>();
    expectTypeOf(wrapped).parameters.toEqualTypeOf<Parameters<typeof load>>();
    expectTypeOf(wrapped).returns.toEqualTypeOf<ReturnType<typeof load>>();
    // @ts-expect-error the wrapper checks arguments like the original
    wrapped(1);
    const paged = retry()(async (id: string, page = 1) => `${id}:${page}`);
    // @ts-expect-error a defaulted parameter keeps its type
    paged('a', 'two');
    // A synchronous function's result comes back as a promise.
    const parse = retry()((text: string) => Number.parseInt(text, 10));
    expectTypeOf(parse).returns.toEqualTypeOf<Promise<number>>();
    expectTypeOf(defaultRetry()(load)).toEqualTypeOf<Retrying<typeof load>>();
    const method = retry()(async function get(this: { base: number }, id: number) {
      return this.base + id;
    });
    expectTypeOf(method).thisParameter.toEqualTypeOf<{ base: number }>();
  });

  it('hands every hook the same read-only state, in seconds', () => {
    const stop: StopStrategy = (state) => {
      expectTypeOf(state).toEqualTypeOf<RetryState>();
      return state.attempt >= 3;
    };
    const wait: WaitStrategy = ({ attempt }) => attempt * 0.5;
    const condition: RetryCondition = (error, { elapsed }) => error instanceof TypeError && elapsed < 10;
    retry({
      stop: stopAny(stop, stopAfterRetries(5)),
      wait,
      retry: condition,
      beforeSleep: ({ attempt, error, elapsed, upcomingSleep }) => {
        expectTypeOf(attempt).toBeNumber();
        expectTypeOf(error).toBeUnknown();
        expectTypeOf(elapsed).toBeNumber();
        expectTypeOf(upcomingSleep).toBeNumber();
      },
    });
    expectTypeOf(retryOnError((error) => error instanceof TypeError)).toEqualTypeOf<RetryCondition>();
    const state = {} as RetryState;
    // @ts-expect-error the state is read-only
    state.attempt = 2;
    // @ts-expect-error a wait strategy returns seconds
    retry({ wait: () => '1s' });
    // @ts-expect-error retryOnError takes a predicate of the error
    retryOnError(TypeError);
  });
});
