/**
 * Where the server's answer to each query came from, for the cards' badge and
 * "server cache entry expires in" bar. Read from two response headers, one entry
 * per call of the (possibly batched) response:
 *
 * - `trpc-memory-ttl`, written by trpc-memory's `cacheHeaders()`: the remaining
 *   time to live of the result in seconds;
 * - `demo-served-from`, the demo server's own (`cache` / `upstream`).
 *
 * `cacheHintsLink()` reads the first one already (to mirror it into React
 * Query); the demo reads it again only to display it.
 */
import type { Operation, TRPCLink } from '@trpc/client';
import { observable } from '@trpc/server/observable';
import { useSyncExternalStore } from 'react';
import type { AppRouter } from '../src/router.js';
import type { ServerAnswer } from './components/QueryCard.js';

const answers = new Map<string, ServerAnswer>();
const listeners = new Set<() => void>();
const INDEX = 'demoBatchIndex';

const keyOf = (path: string, input: unknown) => `${path} ${JSON.stringify(input ?? null)}`;

function entryAt(headers: Headers, name: string, index: number): string | undefined {
  const value = headers.get(name);
  const entry = value?.split(',')[index]?.trim();
  return entry === undefined || entry === '-' ? undefined : entry;
}

function record(op: Operation, response: Response, receivedAt: number): void {
  const index = typeof op.context[INDEX] === 'number' ? op.context[INDEX] : 0;
  const source = entryAt(response.headers, 'demo-served-from', index);
  const ttl = entryAt(response.headers, 'trpc-memory-ttl', index);
  const seconds = ttl === undefined || ttl === 'inf' ? undefined : Number(ttl);
  answers.set(keyOf(op.path, op.input), {
    source: source === 'cache' || source === 'upstream' ? source : undefined,
    expiresAt: seconds === undefined || Number.isNaN(seconds) ? undefined : receivedAt + seconds * 1000,
  });
  for (const listener of listeners) listener();
}

/**
 * For `httpBatchLink({ headers })`: tells each operation its position in the
 * batch, which is its entry's position in the per-call headers.
 */
export function stampBatchIndex({ opList }: { opList: readonly Operation[] }): Record<string, string> {
  opList.forEach((op, index) => {
    op.context[INDEX] = index;
  });
  return {};
}

/** A link that records, per query, what the server said about its answer. */
export function serverAnswerLink(): TRPCLink<AppRouter> {
  return () =>
    ({ op, next }) =>
      observable((observer) => {
        const subscription = next(op).subscribe({
          next(envelope) {
            const response = (envelope.context as { response?: unknown } | undefined)?.response;
            if (op.type === 'query' && response instanceof Response) record(op, response, Date.now());
            observer.next(envelope);
          },
          error: (error) => observer.error(error),
          complete: () => observer.complete(),
        });
        return () => subscription.unsubscribe();
      });
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The last answer the server gave for `path` with `input`. */
export function useServerAnswer(path: string, input: unknown): ServerAnswer | undefined {
  const key = keyOf(path, input);
  return useSyncExternalStore(subscribe, () => answers.get(key));
}
