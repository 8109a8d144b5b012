import 'server-only';

/** A post of the example: its title, and how many times it was renamed. */
export interface StoredPost {
  title: string;
  version: number;
}

/**
 * The example's "database": posts by id (`home` is the one the page features as the
 * latest post; any other id reads as a post of its own), and how many times each
 * resolver ran (what the page and the browser test read to see the cache at work).
 * Kept on `globalThis` because Next.js may load this module more than once per
 * process (route handlers and server components are bundled apart).
 */
interface Store {
  posts: Map<string, StoredPost>;
  runs: Record<string, number>;
}

const KEY = Symbol.for('trpc-memory.example-nextjs.store');
const shared = globalThis as { [KEY]?: Store };
shared[KEY] ??= { posts: new Map([['home', { title: 'Hello from the server', version: 1 }]]), runs: {} };
export const store: Store = shared[KEY];

/** The post `id`, made on first read (every id names a post). */
export function post(id: string): StoredPost {
  const found = store.posts.get(id);
  if (found !== undefined) return found;
  const made = { title: `Post ${id}`, version: 1 };
  store.posts.set(id, made);
  return made;
}

/** Counts one run of the resolver at `path`. */
export function ran(path: string): number {
  store.runs[path] = (store.runs[path] ?? 0) + 1;
  return store.runs[path];
}
