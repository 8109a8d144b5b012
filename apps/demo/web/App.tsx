import { useState } from 'react';
import { CatalogCard, ProductCard } from './components/CatalogCards.js';
import { ControlsCard } from './components/ControlsCard.js';
import { Timeline } from './components/Timeline.js';
import { useNow } from './hooks.js';
import { api } from './trpc.js';

const LANES = ['catalog.list', 'catalog.byId', 'catalog.restock'];

export function App() {
  // Re-renders the page five times a second: the countdowns and the timeline move.
  const now = useNow(200);
  // The demo's own state (counters, timeline): not memorized, polled every second.
  const state = api.demo.state.useQuery(undefined, { refetchInterval: 1000 });
  const configure = api.demo.configure.useMutation({ onSuccess: () => void state.refetch() });
  const clearCache = api.demo.clearCache.useMutation({ onSuccess: () => void state.refetch() });
  const reset = api.demo.reset.useMutation({ onSuccess: () => void state.refetch() });
  const [productId, setProductId] = useState('grinder');
  const [generation, setGeneration] = useState({ list: 0, item: 0 });

  const data = state.data;
  const busy = configure.isPending || clearCache.isPending || reset.isPending;
  const controlError = configure.error ?? clearCache.error ?? reset.error;

  return (
    <div className="page">
      <header className="topbar">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            ◆
          </span>
          <span className="brand-name">trpc-memory</span>
          <span className="brand-tag">live demo</span>
        </div>
        <nav className="topbar-meta small muted">
          <span>tRPC v11</span>
          <span>·</span>
          <span>TanStack React Query</span>
          <span>·</span>
          <span>{data?.backend === 'redis' ? 'Redis cache' : 'in-memory cache'}</span>
        </nav>
      </header>

      <section className="intro">
        <h1>Cached, retried, and fresh for exactly as long as the server says.</h1>
        <p>
          Both queries below call a slow, flaky upstream service through <code>ResilientClient</code> (retries
          with backoff), and their results are memorized on the server with{' '}
          <code>memorize({'{ expire }'})</code>. The browser mirrors each entry's remaining TTL into React
          Query, so it never refetches data the server would answer from its cache anyway, and never keeps
          data longer than the server does.
        </p>
      </section>

      {state.error && (
        <div className="alert alert-banner" role="alert" data-testid="state-error">
          <strong>Demo server unreachable</strong>
          <span>{state.error.message}</span>
        </div>
      )}
      {controlError && (
        <div className="alert alert-banner" role="alert">
          <strong>Control failed</strong>
          <span>{controlError.message}</span>
        </div>
      )}

      <main className="grid">
        <div className="column">
          <CatalogCard
            key={`list-${generation.list}`}
            expire={data?.expire['catalog.list']}
            counters={data?.procedures['catalog.list']}
            onRemount={() => setGeneration((g) => ({ ...g, list: g.list + 1 }))}
          />
          <ProductCard
            key={`item-${generation.item}`}
            expire={data?.expire['catalog.byId']}
            counters={data?.procedures['catalog.byId']}
            productId={productId}
            onSelect={setProductId}
            onRemount={() => setGeneration((g) => ({ ...g, item: g.item + 1 }))}
          />
        </div>
        <aside className="column side">
          <ControlsCard
            upstream={data?.upstream}
            backend={data?.backend}
            cacheErrors={data?.cacheErrors}
            busy={busy}
            configure={(change) => configure.mutate(change)}
            clearCache={() => clearCache.mutate()}
            reset={() => reset.mutate()}
          />
          <section className="card howto">
            <h2>Things to try</h2>
            <ol>
              <li>
                <strong>Reload the page</strong> within the TTL: the server answers from its cache, the
                upstream counter does not move.
              </li>
              <li>
                <strong>Remount</strong> a card: React Query does not even ask while the mirrored TTL runs.
              </li>
              <li>
                <strong>Inject a 503</strong>, then clear the cache: the call is retried and still succeeds.
              </li>
              <li>
                <strong>Restock</strong>: <code>invalidates()</code> clears both queries on the server and in
                the browser.
              </li>
              <li>
                <strong>Take upstream down</strong> and clear the cache: the page shows the mapped{' '}
                <code>TRPCError</code>, and recovers when it comes back.
              </li>
            </ol>
          </section>
        </aside>
      </main>

      <Timeline events={data?.events ?? []} lanes={LANES} now={now} />

      <footer className="footer small muted">
        Upstream latency and failures are simulated on 127.0.0.1. Every duration in trpc-memory's API is in
        seconds.
      </footer>
    </div>
  );
}
