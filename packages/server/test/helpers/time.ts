/**
 * Time in tests: the one frozen clock TTL tests run on, and waiting. `sleep` and
 * `until` run on the real timers, whatever a test fakes (they are taken when this
 * module loads, before any test installs fake timers), and neither moves a fake
 * clock, unlike `vi.waitFor`, which advances faked timers on each try.
 */
import { vi } from 'vitest';

const realSetTimeout = globalThis.setTimeout;
const realNow = performance.now.bind(performance);

/** The moment a test on the frozen clock starts at (see {@link freezeTime}). */
export const T0 = Date.UTC(2030, 0, 1);

/**
 * Fakes `Date` only, frozen at `at`: the server's cache, the client and React
 * Query (all in the test's process) read one clock that moves only when the test
 * moves it (`vi.setSystemTime`), so every expiry is exact. Timers stay real, so
 * HTTP, Redis and tRPC's batching run as in production. Undo with `vi.useRealTimers()`.
 *
 * @example
 * ```ts
 * freezeTime();
 * await caller.post({ id: '1' }); // stored for 60 s
 * vi.setSystemTime(T0 + 59_999); // still a hit
 * vi.setSystemTime(T0 + 60_000); // a miss
 * ```
 */
export function freezeTime(at: number = T0): void {
  vi.useFakeTimers({ toFake: ['Date'], now: at });
}

/** Waits `ms` of real time. Only where real time is the point; otherwise wait for the event with `until`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => realSetTimeout(resolve, ms));
}

/**
 * Resolves once `condition()` holds, checking every `every` ms (2 by default);
 * rejects with `what` when it still does not after `timeout` ms, a bound only a
 * broken test reaches. An async `condition` (a request to another process, a cache
 * read) is awaited before the next check, so checks never overlap; such a check
 * costs the process it asks, so ask it less often (`every: 20`) on a busy machine.
 *
 * @example
 * ```ts
 * await until(() => server.requests() === 2, { what: 'the refetch reached the server' });
 * await until(async () => (await state(app)).busUp, { every: 20, what: 'the bus came up' });
 * ```
 */
export async function until(
  condition: () => boolean | Promise<boolean>,
  {
    timeout = 10_000,
    every = 2,
    what = 'the condition',
  }: { timeout?: number; every?: number; what?: string } = {},
): Promise<void> {
  const deadline = realNow() + timeout;
  while (!(await condition())) {
    if (realNow() > deadline) throw new Error(`until(): ${what} did not hold within ${timeout} ms`);
    await sleep(every);
  }
}
