// @vitest-environment jsdom
/**
 * The typed hooks in React (jsdom) against the real server: remounting within the
 * server's TTL makes no request, after it the query refetches, and a mutation with
 * `invalidates` refetches what it changed. Requests are counted at the server; the
 * clock is frozen (`Date` only), so "within the TTL" holds to the millisecond.
 */
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { Suspense } from 'react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { until } from '../../packages/server/test/helpers/time.js';
import { startServer, type TestServer, TTL, uid } from './fixture.js';
import { freezeTime, mirrored, T0 } from './helpers.js';

let server: TestServer;
let queryClient: QueryClient;
let api: ReturnType<typeof mirrored>['api'];

beforeEach(async () => {
  freezeTime();
  server = await startServer();
  queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  ({ api } = mirrored(queryClient, server));
});
afterEach(async () => {
  cleanup();
  queryClient.clear();
  await server.close();
  vi.useRealTimers();
});

function Post({ id }: { id: string }) {
  const post = api.post.byId.useQuery({ id });
  return <p>{post.data ? `title: ${post.data.title}` : 'loading'}</p>;
}

function Rename({ id }: { id: string }) {
  const rename = api.post.update.useMutation();
  return (
    <button type="button" onClick={() => rename.mutate({ id, title: 'second' })}>
      {rename.isSuccess ? 'renamed' : 'rename'}
    </button>
  );
}

function SuspensePost({ id }: { id: string }) {
  const { data } = api.post.long.useSuspenseQuery({ id });
  return <p>suspense: {data.title}</p>;
}

const mount = (ui: React.ReactNode) =>
  render(<QueryClientProvider client={queryClient}>{ui}</QueryClientProvider>);

/**
 * Runs the mounted components' effects: a query that is going to fetch has started
 * to by then (React Query starts the fetch when the component subscribes).
 */
const effects = () => act(async () => {});

describe('createMemoHooks + mirrorServerTtl in React', () => {
  it('a component remounted within the TTL makes no request; after the TTL it refetches', async () => {
    const id = uid();
    const first = mount(<Post id={id} />);
    expect(await screen.findByText('title: first')).toBeTruthy();
    const requests = server.requests();
    const expiry = T0 + TTL.byId * 1000;
    first.unmount();

    // Up to the entry's last millisecond.
    for (const at of [T0, T0 + 30_000, expiry - 1]) {
      vi.setSystemTime(at);
      const again = mount(<Post id={id} />);
      expect(screen.getByText('title: first')).toBeTruthy();
      await effects();
      expect(queryClient.isFetching()).toBe(0);
      again.unmount();
    }
    expect(server.requests()).toBe(requests);

    vi.setSystemTime(expiry);
    mount(<Post id={id} />);
    await effects();
    expect(queryClient.isFetching()).toBe(1);
    await until(() => queryClient.isFetching() === 0, { what: 'the refetch' });
    expect(server.requests()).toBe(requests + 1);
    // The server's entry had expired too: the refetch ran the resolver.
    expect(server.runs(`byId:${id}`)).toBe(2);
  });

  it('a mutation with invalidates() refetches the mounted query', async () => {
    const id = uid();
    mount(
      <>
        <Post id={id} />
        <Rename id={id} />
      </>,
    );
    expect(await screen.findByText('title: first')).toBeTruthy();
    const requests = server.requests();
    fireEvent.click(screen.getByText('rename'));
    expect(await screen.findByText('title: second')).toBeTruthy();
    expect(await screen.findByText('renamed')).toBeTruthy();
    // One request for the mutation, one for the refetch — well within the TTL.
    expect(server.requests()).toBe(requests + 2);
  });

  it('useSuspenseQuery suspends, then renders the typed data', async () => {
    mount(
      <Suspense fallback={<p>waiting</p>}>
        <SuspensePost id={uid()} />
      </Suspense>,
    );
    expect(screen.getByText('waiting')).toBeTruthy();
    expect(await screen.findByText('suspense: first')).toBeTruthy();
  });
});
