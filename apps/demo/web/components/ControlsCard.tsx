import { useState } from 'react';
import { formatMs } from '../format.js';
import { Badge, Button, Stat } from './ui.js';

export interface UpstreamView {
  url: string;
  latency: number;
  failureRate: number;
  down: boolean;
  failNext: number;
  requests: number;
  failures: number;
}

export interface ControlsCardProps {
  upstream: UpstreamView | undefined;
  backend: 'memory' | 'redis' | undefined;
  cacheErrors: { count: number; last?: string | undefined } | undefined;
  busy: boolean;
  configure: (change: { failureRate?: number; latency?: number; down?: boolean; failNext?: number }) => void;
  clearCache: () => void;
  reset: () => void;
}

/** A range input that shows its value while dragging and reports it on release. */
function Slider({
  label,
  value,
  min,
  max,
  step,
  format,
  onCommit,
  testId,
}: {
  label: string;
  value: number | undefined;
  min: number;
  max: number;
  step: number;
  format: (value: number) => string;
  onCommit: (value: number) => void;
  testId: string;
}) {
  // A draft is shown while dragging and until the server reports a new value.
  const [draft, setDraft] = useState<{ base: number | undefined; value: number } | undefined>(undefined);
  const pending = draft !== undefined && draft.base === value ? draft.value : undefined;
  const shown = pending ?? value ?? min;
  const commit = () => {
    if (pending !== undefined && pending !== value) onCommit(pending);
  };
  return (
    <label className="slider">
      <span className="slider-head">
        <span>{label}</span>
        <span className="mono">{format(shown)}</span>
      </span>
      <input
        type="range"
        min={min}
        max={max}
        step={step}
        value={shown}
        data-testid={testId}
        onChange={(event) => setDraft({ base: value, value: Number(event.target.value) })}
        onPointerUp={commit}
        onKeyUp={commit}
        onBlur={commit}
      />
    </label>
  );
}

/** Steer the upstream and the cache. */
export function ControlsCard({
  upstream,
  backend,
  cacheErrors,
  busy,
  configure,
  clearCache,
  reset,
}: ControlsCardProps) {
  return (
    <section className="card controls-card" data-testid="controls">
      <header className="card-head">
        <div>
          <h2>Upstream service</h2>
          <p className="muted small mono">{upstream?.url ?? '…'}</p>
        </div>
        {upstream && (
          <Badge tone={upstream.down ? 'error' : 'cache'} testId="upstream-status">
            {upstream.down ? 'Down' : 'Up'}
          </Badge>
        )}
      </header>

      <div className="controls">
        <Slider
          label="Share of GETs failing with 503"
          value={upstream === undefined ? undefined : Math.round(upstream.failureRate * 100)}
          min={0}
          max={100}
          step={5}
          format={(v) => `${v} %`}
          onCommit={(v) => configure({ failureRate: v / 100 })}
          testId="failure-rate"
        />
        <Slider
          label="Latency per request"
          value={upstream === undefined ? undefined : Math.round(upstream.latency * 1000)}
          min={0}
          max={2000}
          step={50}
          format={(v) => formatMs(v)}
          onCommit={(v) => configure({ latency: v / 1000 })}
          testId="latency"
        />
        <div className="button-row">
          <Button
            onClick={() => configure({ failNext: (upstream?.failNext ?? 0) + 1 })}
            disabled={busy || upstream?.down}
            testId="fail-next"
            title="The next GET request to the upstream answers 503: watch ResilientClient retry it"
          >
            Inject a 503{upstream && upstream.failNext > 0 ? ` (${upstream.failNext} queued)` : ''}
          </Button>
          <Button
            variant={upstream?.down ? 'primary' : 'danger'}
            onClick={() => configure({ down: !upstream?.down })}
            disabled={busy || upstream === undefined}
            testId="toggle-down"
          >
            {upstream?.down ? 'Bring upstream back' : 'Take upstream down'}
          </Button>
        </div>
      </div>

      <dl className="stats stats-compact">
        <Stat label="Requests" value={upstream?.requests ?? 0} testId="upstream-requests" />
        <Stat label="503 answers" value={upstream?.failures ?? 0} testId="upstream-failures" />
        <Stat label="Cache errors" value={cacheErrors?.count ?? 0} testId="cache-errors" />
      </dl>

      <div className="divider" />

      <header className="card-head">
        <div>
          <h2>Server cache</h2>
          <p className="muted small">
            {backend === 'redis'
              ? 'RedisBackend (REDIS_URL)'
              : backend === 'memory'
                ? 'MemoryBackend (in-process)'
                : '…'}
          </p>
        </div>
        {backend && (
          <Badge tone="neutral" testId="backend">
            {backend === 'redis' ? 'Redis' : 'In-memory'}
          </Badge>
        )}
      </header>
      {cacheErrors?.last && (
        <p className="small warn-text" data-testid="cache-error-last">
          Last cache failure (served as a miss): {cacheErrors.last}
        </p>
      )}
      <div className="button-row">
        <Button onClick={clearCache} disabled={busy} testId="clear-cache" variant="secondary">
          Clear server cache
        </Button>
        <Button onClick={reset} disabled={busy} testId="reset" variant="ghost">
          Reset demo
        </Button>
      </div>
    </section>
  );
}
