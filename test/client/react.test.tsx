// @vitest-environment jsdom
/**
 * The typed hooks in React (jsdom) against the real server: remounting within the
 * server's TTL makes no request, after it the query refetches, and a mutation with
 * `invalidates` refetches what it changed. Requests are counted at the server.
 */
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { Suspense } from 'react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startServer, type TestServer, TTL, uid } from './fixture.js';
import { mirrored, sleep } from './helpers.js';

let server: TestServer;
let queryClient: QueryClient;
let api: ReturnType<typeof mirrored>['api'];

beforeEach(async () => {
  server = await startServer();
  queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  ({ api } = mirrored(queryClient, server));
});
afterEach(async () => {
  cleanup();
  queryClient.clear();
  await server.close();
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

/** Lets effects, fetches and renders run, so a request that would be made has been made. */
const settle = () => act(() => sleep(30));

describe('createMemoHooks + mirrorServerTtl in React', () => {
  it('a component remounted within the TTL makes no request; after the TTL it refetches', async () => {
    const id = uid();
    const first = mount(<Post id={id} />);
    expect(await screen.findByText('title: first')).toBeTruthy();
    const requests = server.requests();
    const expiry = server.resolvedAt(`byId:${id}`) + TTL.byId * 1000;
    first.unmount();

    for (let i = 0; i < 3; i++) {
      const again = mount(<Post id={id} />);
      expect(screen.getByText('title: first')).toBeTruthy();
      await settle();
      again.unmount();
    }
    expect(Date.now()).toBeLessThan(expiry);
    expect(server.requests()).toBe(requests);

    await sleep(Math.max(0, expiry - Date.now() + 10));
    mount(<Post id={id} />);
    await settle();
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
