import 'server-only';

/**
 * The example's "database": a post title, and how many times each resolver ran
 * (what the page and the browser test read to see the cache at work). Kept on
 * `globalThis` because Next.js may load this module more than once per process
 * (route handlers and server components are bundled apart).
 */
interface Store {
  title: string;
  version: number;
  runs: Record<string, number>;
}

const KEY = Symbol.for('trpc-memory.example-nextjs.store');
const shared = globalThis as { [KEY]?: Store };
shared[KEY] ??= { title: 'Hello from the server', version: 1, runs: {} };
export const store: Store = shared[KEY];

/** Counts one run of the resolver at `path`. */
export function ran(path: string): number {
  store.runs[path] = (store.runs[path] ?? 0) + 1;
  return store.runs[path];
}
