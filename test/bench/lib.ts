/**
 * Small helpers shared by the benchmark scripts: every figure is a ratio against a
 * baseline measured in the same run, never an absolute time compared to a constant.
 */

/** Operations per second of `fn` run `iterations` times sequentially, after a warm-up. */
export async function opsPerSecond(
  fn: () => unknown,
  iterations: number,
  warmup = Math.min(iterations, 2_000),
): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await fn();
  const ns = Number(process.hrtime.bigint() - start);
  return iterations / (ns / 1e9);
}

/**
 * Like {@link opsPerSecond}, but per second of this process's CPU time: time the
 * process spends waiting for a core (other work on a busy machine) is not counted.
 */
export async function opsPerCpuSecond(
  fn: () => unknown,
  iterations: number,
  warmup = Math.min(iterations, 2_000),
): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const before = process.cpuUsage();
  for (let i = 0; i < iterations; i++) await fn();
  const used = process.cpuUsage(before);
  return iterations / ((used.user + used.system) / 1e6);
}

/** Operations per second of `fn` with `concurrency` workers sharing `total` operations. */
export async function opsPerSecondConcurrent(
  fn: () => Promise<unknown>,
  total: number,
  concurrency: number,
): Promise<number> {
  let left = total;
  const worker = async () => {
    while (left-- > 0) await fn();
  };
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const ns = Number(process.hrtime.bigint() - start);
  return total / (ns / 1e9);
}

/**
 * Best of `rounds` measurements of each contender, interleaved so that drift of
 * the machine hits every contender alike.
 */
export async function bestOf<K extends string>(
  rounds: number,
  contenders: Record<K, () => Promise<number>>,
): Promise<Record<K, number>> {
  const best = {} as Record<K, number>;
  for (let round = 0; round < rounds; round++) {
    for (const name of Object.keys(contenders) as K[]) {
      const value = await contenders[name]();
      best[name] = Math.max(best[name] ?? 0, value);
    }
  }
  return best;
}

/** Prints one result line: `name  value  (target …) ok|MISSED`. */
export function report(
  name: string,
  value: number,
  unit: string,
  target: { op: '<=' | '>='; value: number } | undefined,
  detail = '',
): void {
  const shown = `${value.toFixed(2)}${unit}`;
  const met =
    target === undefined
      ? ''
      : (target.op === '<=' ? value <= target.value : value >= target.value)
        ? 'ok'
        : 'MISSED';
  const goal = target === undefined ? '' : `(target ${target.op} ${target.value}${unit}) ${met}`;
  console.log(`${name.padEnd(58)} ${shown.padStart(10)}  ${goal}${detail ? `  ${detail}` : ''}`);
}

export const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** A ~1 KB JSON object, the payload every cache benchmark of this repository uses. */
export function payload(i = 0): Record<string, unknown> {
  return {
    id: `post-${i}`,
    title: 'Caching tRPC query results in Redis without surprises',
    author: { id: 42, name: 'Ada Lovelace', email: 'ada@example.com', verified: true },
    tags: ['trpc', 'cache', 'redis', 'typescript', 'performance'],
    stats: { views: 12_345, likes: 678, comments: 90, score: 4.75 },
    body: 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(8),
    comments: Array.from({ length: 4 }, (_, j) => ({
      id: j,
      by: `user-${j}`,
      text: 'Nice post!',
      at: 1_700_000_000 + j,
    })),
  };
}
