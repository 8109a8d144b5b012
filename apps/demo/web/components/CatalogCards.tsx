import { useQueryClient } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import type { ProcedureCounters } from '../../src/activity.js';
import { formatPrice } from '../format.js';
import { clientFreshFor, serverAnswer } from '../hooks.js';
import { api } from '../trpc.js';
import { QueryCard } from './QueryCard.js';
import { Button } from './ui.js';

export const PRODUCT_IDS = ['espresso', 'grinder', 'kettle', 'scale', 'filters'] as const;

interface CardProps {
  expire: number | undefined;
  counters: ProcedureCounters | undefined;
  onRemount: () => void;
}

/** The message and tRPC code of a failed query, as the page shows them. */
function describeError(error: unknown): { message: string; code?: string | undefined } | null {
  if (error === null || error === undefined) return null;
  if (error instanceof Error) {
    const data = (error as Error & { data?: { code?: unknown } }).data;
    return { message: error.message, code: typeof data?.code === 'string' ? data.code : undefined };
  }
  return { message: String(error) };
}

function Stock({ stock }: { stock: number }) {
  return stock === 0 ? (
    <span className="stock stock-out">out of stock</span>
  ) : (
    <span className={`stock ${stock < 5 ? 'stock-low' : ''}`}>{stock} in stock</span>
  );
}

/** The buttons every card has (refetch, remount), then the card's own. */
function CardActions({
  query,
  onRemount,
  children,
}: {
  query: { refetch: () => Promise<unknown>; isFetching: boolean };
  onRemount: () => void;
  children?: ReactNode;
}) {
  return (
    <>
      <Button
        onClick={() => void query.refetch()}
        disabled={query.isFetching}
        testId="refetch"
        variant="primary"
      >
        Refetch
      </Button>
      <Button
        onClick={onRemount}
        testId="remount"
        title="Unmount and mount again: React Query refetches only when the data is stale"
      >
        Remount
      </Button>
      {children}
    </>
  );
}

/** What a card shows while it has no data. */
function Placeholder({ status }: { status: 'pending' | 'error' | 'success' }) {
  return (
    <div className="placeholder">{status === 'pending' ? 'Waiting for the first answer…' : 'No data'}</div>
  );
}

/** `catalog.list`: every product. */
export function CatalogCard({ expire, counters, onRemount }: CardProps) {
  const queryClient = useQueryClient();
  const query = api.catalog.list.useQuery();
  const queryKey = api.catalog.list.queryKey();
  return (
    <QueryCard
      title="Product catalog"
      path="catalog.list"
      expire={expire}
      description="every product, one cache entry"
      status={query.status}
      isFetching={query.isFetching}
      error={describeError(query.error)}
      answer={serverAnswer(queryClient, queryKey)}
      freshForMs={clientFreshFor(queryClient, queryKey)}
      counters={counters}
      hasData={query.data !== undefined}
      actions={<CardActions query={query} onRemount={onRemount} />}
    >
      {query.data ? (
        <table className="products" data-testid="data">
          <tbody>
            {query.data.products.map((product) => (
              <tr key={product.id}>
                <td>{product.name}</td>
                <td className="num mono">{formatPrice(product.price)}</td>
                <td className="num">
                  <Stock stock={product.stock} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <Placeholder status={query.status} />
      )}
    </QueryCard>
  );
}

/** `catalog.byId` for the selected product, with the `catalog.restock` mutation. */
export function ProductCard({
  expire,
  counters,
  onRemount,
  productId,
  onSelect,
}: CardProps & { productId: string; onSelect: (id: string) => void }) {
  const queryClient = useQueryClient();
  const query = api.catalog.byId.useQuery({ id: productId });
  const queryKey = api.catalog.byId.queryKey({ id: productId });
  const restock = api.catalog.restock.useMutation();
  const product = query.data?.product;
  return (
    <QueryCard
      title="Product detail"
      path="catalog.byId"
      expire={expire}
      description="one product, one cache entry per id"
      status={query.status}
      isFetching={query.isFetching}
      error={describeError(query.error ?? restock.error)}
      answer={serverAnswer(queryClient, queryKey)}
      freshForMs={clientFreshFor(queryClient, queryKey)}
      counters={counters}
      hasData={product !== undefined}
      actions={
        <CardActions query={query} onRemount={onRemount}>
          <Button
            onClick={() => restock.mutate({ id: productId, amount: 5 })}
            disabled={restock.isPending}
            testId="restock"
            variant="secondary"
            title="A mutation with invalidates(['catalog.list', 'catalog.byId']): clears both on the server and in React Query"
          >
            {restock.isPending ? 'Restocking…' : 'Restock +5 (mutation)'}
          </Button>
        </CardActions>
      }
    >
      <div className="chips" role="tablist" aria-label="Product">
        {PRODUCT_IDS.map((id) => (
          <button
            key={id}
            type="button"
            role="tab"
            aria-selected={id === productId}
            className={`chip ${id === productId ? 'chip-active' : ''}`}
            onClick={() => onSelect(id)}
            data-testid={`product-${id}`}
          >
            {id}
          </button>
        ))}
      </div>
      {product ? (
        <div className="product" data-testid="data">
          <div>
            <div className="product-name">{product.name}</div>
            <div className="muted small">
              updated {new Date(product.updatedAt).toLocaleTimeString('en-GB', { hour12: false })}
            </div>
          </div>
          <div className="product-side">
            <div className="product-price mono">{formatPrice(product.price)}</div>
            <Stock stock={product.stock} />
          </div>
        </div>
      ) : (
        <Placeholder status={query.status} />
      )}
    </QueryCard>
  );
}
