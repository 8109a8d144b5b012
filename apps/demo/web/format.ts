/** Display helpers. */

export const formatPrice = (cents: number): string =>
  new Intl.NumberFormat('en-US', { style: 'currency', currency: 'EUR' }).format(cents / 100);

/** `12.3 s` for 12 345 ms; `0 s` for anything not positive. */
export const formatSeconds = (ms: number): string => (ms <= 0 ? '0 s' : `${(ms / 1000).toFixed(1)} s`);

/** `14:03:27` */
export const formatClock = (epochMs: number): string =>
  new Date(epochMs).toLocaleTimeString('en-GB', { hour12: false });

export const formatMs = (ms: number): string =>
  ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
