'use client';
import { QueryClient } from '@tanstack/react-query';
import { cacheHintsLink, mirrorServerTtl } from '@trpc-memory/client';

// The client package in a client bundle (never run here: the build is what is tested).
const queryClient = new QueryClient();
mirrorServerTtl(queryClient);

export default function Page() {
  return <p>{typeof cacheHintsLink === 'function' ? 'trpc-memory client loaded' : 'missing'}</p>;
}
