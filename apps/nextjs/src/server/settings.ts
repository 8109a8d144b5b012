/**
 * The example's knobs, read from the environment so the browser test can shorten
 * them. Seconds, like every duration of trpc-memory.
 */
function seconds(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`${name} must be a positive number of seconds, got ${JSON.stringify(raw)}`);
  }
  return value;
}

export const settings = {
  /** How long the public post stays cached. */
  postExpire: seconds('EXAMPLE_POST_EXPIRE', 30),
  /** How long each user's own data stays cached. */
  meExpire: seconds('EXAMPLE_ME_EXPIRE', 30),
  /** How long the slow procedure's resolver takes: the page streams its result. */
  slowDelay: seconds('EXAMPLE_SLOW_DELAY', 1.5),
};
