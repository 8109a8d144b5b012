/**
 * Waiting in tests. Both run on the real timers, whatever a test fakes (they are
 * taken when this module loads, before any test installs fake timers), and neither
 * moves a fake clock, unlike `vi.waitFor`, which advances faked timers on each try.
 */

const realSetTimeout = globalThis.setTimeout;
const realNow = performance.now.bind(performance);

/** Waits `ms` of real time. Only where real time is the point; otherwise wait for the event with `until`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => realSetTimeout(resolve, ms));
}

/**
 * Resolves once `condition()` holds, checking every few ms; rejects with `what`
 * when it still does not after `timeout` ms, a bound only a broken test reaches.
 *
 * @example
 * ```ts
 * await until(() => server.requests() === 2, { what: 'the refetch reached the server' });
 * ```
 */
export async function until(
  condition: () => boolean,
  { timeout = 10_000, what = 'the condition' }: { timeout?: number; what?: string } = {},
): Promise<void> {
  const deadline = realNow() + timeout;
  while (!condition()) {
    if (realNow() > deadline) throw new Error(`until(): ${what} did not hold within ${timeout} ms`);
    await sleep(2);
  }
}
