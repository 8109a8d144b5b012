import { defaultShouldDehydrateQuery, QueryClient } from '@tanstack/react-query';
import { type CachePolicy, mirrorServerTtl } from '@trpc-memory/client';
import SuperJSON from 'superjson';

/**
 * The QueryClient of the browser and of each server render (t3's
 * `createQueryClient`), plus trpc-memory's one line: every memorized query stays
 * fresh exactly as long as its server entry, and mutations refetch what they
 * invalidate.
 */
export function createQueryClient(policy?: CachePolicy): QueryClient {
  const queryClient = new QueryClient({
    defaultOptions: {
      queries: {
        // For queries the server does not memorize; memorized ones follow the server.
        staleTime: 30 * 1000,
      },
      dehydrate: {
        serializeData: SuperJSON.serialize,
        // Queries still running when the page is sent are streamed in as they finish.
        shouldDehydrateQuery: (query) =>
          defaultShouldDehydrateQuery(query) || query.state.status === 'pending',
      },
      hydrate: {
        deserializeData: SuperJSON.deserialize,
      },
    },
  });
  mirrorServerTtl(queryClient, policy === undefined ? {} : { policy });
  return queryClient;
}
