'use client';

import { type QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createTRPCClient } from '@trpc/client';
import { createTRPCContext } from '@trpc/tanstack-react-query';
import type { CachePolicy } from '@trpc-memory/client';
import { type ReactNode, useState } from 'react';
import type { AppRouter } from '~/server/api/root';
import { clientLinks } from './links';
import { createQueryClient } from './query-client';

export const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>();

declare global {
  interface Window {
    /** Where TanStack Query's browser devtools (and this example's browser test) find the QueryClient. */
    __TANSTACK_QUERY_CLIENT__?: QueryClient;
  }
}

let browserQueryClient: QueryClient | undefined;

function getQueryClient(policy: CachePolicy): QueryClient {
  // Server rendering of client components: a new QueryClient per request.
  if (typeof window === 'undefined') return createQueryClient(policy);
  browserQueryClient ??= createQueryClient(policy);
  window.__TANSTACK_QUERY_CLIENT__ = browserQueryClient;
  return browserQueryClient;
}

export function TRPCReactProvider(props: { children: ReactNode; policy: CachePolicy }) {
  const queryClient = getQueryClient(props.policy);
  const [trpcClient] = useState(() => createTRPCClient<AppRouter>({ links: clientLinks() }));
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        {props.children}
      </TRPCProvider>
    </QueryClientProvider>
  );
}
