import { httpBatchLink, httpBatchStreamLink, httpLink, splitLink, type TRPCLink } from '@trpc/client';
import { cacheHintsHeaders, cacheHintsLink } from '@trpc-memory/client';
import SuperJSON from 'superjson';
import type { AppRouter } from '~/server/api/root';

/**
 * The browser's link chain. Queries go through t3's `httpBatchStreamLink` by default,
 * with no trpc-memory link (memorized results it brings are stale at once, see the
 * Next.js guide). `?link=batch` shows the exact per-call TTLs of `cacheHintsLink` with
 * `httpBatchLink`; `?link=stream-hints` adds `cacheHintsLink` to the streaming link.
 * A real app picks one chain; this one lets the browser test compare them.
 *
 * Mutations always go through `cacheHintsLink` and a link that does not stream: the
 * targets `post.rename` computes from its input (which post) travel in the response's
 * headers, which a streamed response sends before the mutation runs. The static
 * policy cannot carry them.
 */
export function clientLinks(): TRPCLink<AppRouter>[] {
  const url = `${baseUrl()}/api/trpc`;
  const mode =
    typeof window === 'undefined' ? 'stream' : new URLSearchParams(window.location.search).get('link');
  if (mode === 'batch') {
    return [cacheHintsLink(), httpBatchLink({ transformer: SuperJSON, url, headers: cacheHintsHeaders() })];
  }
  const queries =
    mode === 'stream-hints'
      ? [cacheHintsLink(), httpBatchStreamLink({ transformer: SuperJSON, url, headers: cacheHintsHeaders() })]
      : [httpBatchStreamLink({ transformer: SuperJSON, url })];
  return [
    splitLink({
      condition: (op) => op.type === 'mutation',
      true: [cacheHintsLink(), httpLink({ transformer: SuperJSON, url })],
      false: queries,
    }),
  ];
}

function baseUrl(): string {
  if (typeof window !== 'undefined') return window.location.origin;
  return `http://localhost:${process.env.PORT ?? 3000}`;
}
