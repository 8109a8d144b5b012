/** A tRPC router served by the standalone adapter on 127.0.0.1:0, for the middleware tests. */
import type { AddressInfo } from 'node:net';
import type { AnyTRPCRouter } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import type { ResponseMetaFn } from '@trpc/server/http';

export interface Served {
  url: string;
  /** GET a batch of queries: `[[path, input], …]`. */
  batch(calls: [string, unknown][], headers?: Record<string, string>): Promise<Response>;
  /** POST one mutation, batched as tRPC's batch link does. */
  mutate(path: string, input: unknown, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

export async function serve<TRouter extends AnyTRPCRouter>(
  router: TRouter,
  responseMeta: ResponseMetaFn<TRouter>,
  createContext: (user: string | null) => object = (user) => ({ user }),
): Promise<Served> {
  const server = createHTTPServer({
    router,
    createContext: ({ req }) => createContext((req.headers['x-user'] as string | undefined) ?? null),
    responseMeta,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    batch: (calls, headers = {}) => {
      const paths = calls.map(([path]) => path).join(',');
      const input = Object.fromEntries(calls.map(([, value], index) => [index, value]));
      return fetch(`${url}/${paths}?batch=1&input=${encodeURIComponent(JSON.stringify(input))}`, { headers });
    },
    mutate: (path, input, headers = {}) =>
      fetch(`${url}/${path}?batch=1`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ 0: input }),
      }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** The entries of a trpc-memory list header. */
export function entries(response: Response, header: string): string[] | undefined {
  return response.headers.get(header)?.split(', ');
}
