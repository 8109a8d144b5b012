import type { ReactNode } from 'react';
import { formatSeconds } from '../format.js';

export type Tone = 'cache' | 'upstream' | 'error' | 'neutral' | 'warn';

export function Badge({ tone, children, testId }: { tone: Tone; children: ReactNode; testId?: string }) {
  return (
    <span className={`badge badge-${tone}`} data-testid={testId}>
      {children}
    </span>
  );
}

/** A labelled countdown bar: `leftMs` of `totalMs`. */
export function Meter({
  label,
  leftMs,
  totalMs,
  tone,
  empty,
  testId,
}: {
  label: string;
  leftMs: number | undefined;
  totalMs: number | undefined;
  tone: 'server' | 'client';
  /** Shown instead of the value when `leftMs` is 0. */
  empty: string;
  testId: string;
}) {
  const known = leftMs !== undefined && totalMs !== undefined && totalMs > 0;
  const share = known ? Math.min(1, Math.max(0, leftMs / totalMs)) : 0;
  const text = leftMs === undefined ? '—' : leftMs <= 0 ? empty : formatSeconds(leftMs);
  return (
    <div className="meter" data-testid={testId} data-left-ms={leftMs === undefined ? '' : Math.round(leftMs)}>
      <div className="meter-label">
        <span>{label}</span>
        <span className={`meter-value ${leftMs !== undefined && leftMs <= 0 ? 'muted' : ''}`}>{text}</span>
      </div>
      <div className="meter-track">
        <div className={`meter-fill meter-${tone}`} style={{ width: `${share * 100}%` }} />
      </div>
    </div>
  );
}

export function Stat({ label, value, testId }: { label: string; value: ReactNode; testId?: string }) {
  return (
    <div className="stat">
      <dt>{label}</dt>
      <dd data-testid={testId}>{value}</dd>
    </div>
  );
}

export function Button({
  children,
  onClick,
  variant = 'secondary',
  disabled,
  testId,
  title,
}: {
  children: ReactNode;
  onClick: () => void;
  variant?: 'primary' | 'secondary' | 'danger' | 'ghost';
  disabled?: boolean | undefined;
  testId?: string;
  title?: string;
}) {
  return (
    <button
      type="button"
      className={`btn btn-${variant}`}
      onClick={onClick}
      disabled={disabled}
      data-testid={testId}
      title={title}
    >
      {children}
    </button>
  );
}

export function Spinner() {
  return <span className="spinner" aria-hidden="true" />;
}
