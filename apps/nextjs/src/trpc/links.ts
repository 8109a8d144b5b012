import { httpBatchLink, httpBatchStreamLink, type TRPCLink } from '@trpc/client';
import { cacheHintsHeaders, cacheHintsLink } from '@trpc-memory/client';
import SuperJSON from 'superjson';
import type { AppRouter } from '~/server/api/root';

/**
 * The browser's link chain. The default is t3's, untouched: `httpBatchStreamLink`
 * and no trpc-memory link (memorized results it brings are stale at once, see the
 * Next.js guide). `?link=batch` shows the exact per-call TTLs of `cacheHintsLink` with
 * `httpBatchLink`; `?link=stream-hints` adds `cacheHintsLink` to the streaming link.
 * A real app picks one chain; this one lets the browser test compare them.
 */
export function clientLinks(): TRPCLink<AppRouter>[] {
  const url = `${baseUrl()}/api/trpc`;
  const mode =
    typeof window === 'undefined' ? 'stream' : new URLSearchParams(window.location.search).get('link');
  if (mode === 'batch') {
    return [cacheHintsLink(), httpBatchLink({ transformer: SuperJSON, url, headers: cacheHintsHeaders() })];
  }
  if (mode === 'stream-hints') {
    return [
      cacheHintsLink(),
      httpBatchStreamLink({ transformer: SuperJSON, url, headers: cacheHintsHeaders() }),
    ];
  }
  return [httpBatchStreamLink({ transformer: SuperJSON, url })];
}

function baseUrl(): string {
  if (typeof window !== 'undefined') return window.location.origin;
  return `http://localhost:${process.env.PORT ?? 3000}`;
}
