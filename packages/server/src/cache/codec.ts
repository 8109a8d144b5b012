import superjson from 'superjson';

/**
 * The one codec both backends share. An entry is stored as a single string:
 *
 *   `<expiresAt>|<kind><payload>`
 *
 * `expiresAt` is the absolute expiry in epoch milliseconds (empty for none), so a
 * hit can report its remaining TTL without a second round trip. `kind` is `J` when
 * the value is plain JSON (decoded with `JSON.parse` alone, the fast path) and `S`
 * when superjson had to record types (Date, Map, Set, BigInt, undefined, …).
 */
export interface DecodedEntry {
  value: unknown;
  /** Absolute expiry in epoch milliseconds, or `undefined` for no expiry. */
  expiresAt: number | undefined;
}

/** Thrown by {@link encodeEntry} for a value that cannot round-trip. */
export class CodecError extends Error {
  override name = 'CodecError';
}

export function encodeEntry(value: unknown, expiresAt: number | undefined): string {
  const head = expiresAt === undefined ? '|' : `${expiresAt}|`;
  const { json, meta } = superjson.serialize(value);
  if (meta === undefined) return `${head}J${JSON.stringify(json)}`;
  return `${head}S${JSON.stringify({ json, meta })}`;
}

export function decodeEntry(raw: string): DecodedEntry {
  const bar = raw.indexOf('|');
  if (bar < 0) throw new CodecError('corrupt cache entry: no header');
  const expiresAt = bar === 0 ? undefined : Number(raw.slice(0, bar));
  if (expiresAt !== undefined && !Number.isFinite(expiresAt))
    throw new CodecError('corrupt cache entry: bad expiry');
  const kind = raw.charCodeAt(bar + 1);
  const body = raw.slice(bar + 2);
  if (kind === 74 /* J */) return { value: JSON.parse(body), expiresAt };
  if (kind === 83 /* S */) return { value: superjson.deserialize(JSON.parse(body)), expiresAt };
  throw new CodecError('corrupt cache entry: unknown kind');
}
