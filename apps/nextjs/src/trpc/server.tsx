import 'server-only';

import { dehydrate, HydrationBoundary } from '@tanstack/react-query';
import { createTRPCOptionsProxy } from '@trpc/tanstack-react-query';
import { reportServerTtl } from '@trpc-memory/server';
import { headers } from 'next/headers';
import { cache, type ReactNode } from 'react';
import { appRouter } from '~/server/api/root';
import { createTRPCContext } from '~/server/api/trpc';
import { createQueryClient } from './query-client';

const createContext = cache(async () => createTRPCContext({ headers: new Headers(await headers()) }));

// trpc-memory's one server line: queries prefetched here carry what the server cache
// knew (hit or miss, time left) to the browser with the dehydrated state.
export const getQueryClient = cache(() => reportServerTtl(createQueryClient()));

export const trpc = createTRPCOptionsProxy({
  ctx: createContext,
  router: appRouter,
  queryClient: getQueryClient,
});

export function HydrateClient(props: { children: ReactNode }) {
  return <HydrationBoundary state={dehydrate(getQueryClient())}>{props.children}</HydrationBoundary>;
}
