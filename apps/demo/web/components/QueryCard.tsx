import type { ReactNode } from 'react';
import type { ProcedureCounters } from '../../src/activity.js';
import { Badge, Meter, Spinner, Stat } from './ui.js';

/** Where the latest answer of a query came from, as the server reported it. */
export interface ServerAnswer {
  source: 'cache' | 'upstream' | undefined;
  /** Epoch ms when the server's cached entry expires. */
  expiresAt: number | undefined;
}

export interface QueryCardProps {
  /** What the query is, in words. */
  title: string;
  path: string;
  /** The procedure's `expire` in seconds. */
  expire: number | undefined;
  description: string;
  status: 'pending' | 'error' | 'success';
  isFetching: boolean;
  error: { message: string; code?: string | undefined } | null;
  answer: ServerAnswer | undefined;
  /** From `clientFreshFor`: ms of freshness left on the client. */
  freshForMs: number | undefined;
  counters: ProcedureCounters | undefined;
  /** Whether earlier data is still shown below an error. */
  hasData: boolean;
  actions: ReactNode;
  children: ReactNode;
}

function SourceBadge({
  status,
  answer,
  isFetching,
}: Pick<QueryCardProps, 'status' | 'answer' | 'isFetching'>) {
  if (status === 'pending') {
    return (
      <Badge tone="neutral" testId="source">
        <Spinner /> Loading
      </Badge>
    );
  }
  if (status === 'error') {
    return (
      <Badge tone="error" testId="source">
        Error
      </Badge>
    );
  }
  const fromCache = answer?.source === 'cache';
  return (
    <span className="badge-row">
      {isFetching && <Spinner />}
      <Badge tone={fromCache ? 'cache' : 'upstream'} testId="source">
        {answer?.source === undefined
          ? 'Answered'
          : fromCache
            ? 'Served from server cache'
            : 'Fetched from upstream'}
      </Badge>
    </span>
  );
}

/** One memorized query: its data, where it came from, both TTLs and its counters. */
export function QueryCard(props: QueryCardProps) {
  const { title, path, expire, description, status, error, answer, freshForMs, counters } = props;
  const totalMs = expire === undefined ? undefined : expire * 1000;
  const serverLeft =
    status === 'success' && answer?.expiresAt !== undefined
      ? Math.max(0, answer.expiresAt - Date.now())
      : undefined;
  return (
    <section
      className="card query-card"
      data-testid={`card-${path}`}
      data-status={status}
      data-source={status === 'success' ? (answer?.source ?? '') : status}
    >
      <header className="card-head">
        <div>
          <h2>
            {title} <code className="path">{path}</code>
          </h2>
          <p className="muted small">
            {description} · <code>memorize({`{ expire: ${expire ?? '…'} }`})</code>
          </p>
        </div>
        <SourceBadge status={status} answer={answer} isFetching={props.isFetching} />
      </header>

      <div className="meters">
        <Meter
          label="Server cache entry expires in"
          leftMs={serverLeft}
          totalMs={totalMs}
          tone="server"
          empty="expired"
          testId="server-ttl"
        />
        <Meter
          label="Client keeps it fresh for"
          leftMs={freshForMs}
          totalMs={totalMs}
          tone="client"
          empty="stale: next use refetches"
          testId="client-fresh"
        />
      </div>

      <dl className="stats">
        <Stat label="Calls" value={counters?.calls ?? 0} testId="stat-calls" />
        <Stat label="From cache" value={counters?.fromCache ?? 0} testId="stat-from-cache" />
        <Stat label="Upstream attempts" value={counters?.upstreamRequests ?? 0} testId="stat-upstream" />
        <Stat label="Retries" value={counters?.retries ?? 0} testId="stat-retries" />
        <Stat label="Errors" value={counters?.errors ?? 0} testId="stat-errors" />
      </dl>

      {error && (
        <div className="alert" role="alert" data-testid="error">
          <strong>{error.code ?? 'Error'}</strong>
          <span>
            {error.message}
            {props.hasData && <span className="alert-note">Showing the last data received.</span>}
          </span>
        </div>
      )}

      <div className="card-body">{props.children}</div>
      <footer className="card-actions">{props.actions}</footer>
    </section>
  );
}
