import { HTTPError } from 'ky';
import { now as clockNow } from '../cache/clock.js';

/** The parts of an HTTP error response trpc-memory reads. */
interface ResponseLike {
  status: number;
  statusText?: string;
  headers: { get(name: string): string | null };
}

/** Error codes of Node sockets, DNS and undici that mean "the request never got an answer". */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** undici's per-phase timeouts, which surface wrapped in a `TypeError`. */
const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** The error and its `cause` chain (bounded, in case of a cycle). */
function* causeChain(error: unknown): Generator<unknown> {
  let current = error;
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth++) {
    yield current;
    current = (current as { cause?: unknown }).cause;
  }
}

function codeOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}

/** @internal The response of a ky `HTTPError` (or a look-alike), else `undefined`. */
export function httpErrorResponse(error: unknown): ResponseLike | undefined {
  if (!(error instanceof Error)) return undefined;
  if (!(error instanceof HTTPError) && error.name !== 'HTTPError') return undefined;
  const response = (error as { response?: Partial<ResponseLike> }).response;
  if (typeof response?.status !== 'number' || typeof response.headers?.get !== 'function') return undefined;
  return response as ResponseLike;
}

/**
 * @internal A timeout: ky's `TimeoutError`, a `TimeoutError` DOMException
 * (`AbortSignal.timeout`), or an undici connect/headers/body timeout.
 */
export function isTimeoutError(error: unknown): boolean {
  for (const link of causeChain(error)) {
    if (link instanceof Error && link.name === 'TimeoutError') return true;
    if (TIMEOUT_CODES.has(codeOf(link) as string)) return true;
  }
  return false;
}

/**
 * @internal A network failure: fetch's `TypeError` ("fetch failed" for
 * connection refused/reset, DNS and TLS failures; "terminated" when the
 * connection dies mid-body), or a Node/undici error with a network code.
 */
export function isNetworkError(error: unknown): boolean {
  if (error instanceof TypeError && (error.message === 'fetch failed' || error.message === 'terminated')) {
    return true;
  }
  for (const link of causeChain(error)) {
    if (NETWORK_CODES.has(codeOf(link) as string)) return true;
  }
  return false;
}

/** @internal A cancellation by the caller (an `AbortError`), which is never retried. */
export function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

/**
 * The default retry predicate of {@link defaultRetry} (fastapi-memory's
 * `is_retryable_httpx_error`): network errors (connection refused or reset, DNS,
 * TLS) and timeouts → `true`; a ky `HTTPError` with status ≥ 500 → `true`, with
 * a 4xx → `false`; anything else (including a cancelled request) → `false`.
 *
 * @example
 * ```ts
 * isRetryableHttpError(new TypeError('fetch failed')); // true
 * try { await ky.get(url); } catch (error) { isRetryableHttpError(error); } // 503 → true, 404 → false
 * ```
 */
export function isRetryableHttpError(error: unknown): boolean {
  const response = httpErrorResponse(error);
  if (response !== undefined) return response.status >= 500;
  if (isAbortError(error)) return false;
  return isTimeoutError(error) || isNetworkError(error);
}

/**
 * @internal Seconds the server asked to wait through `Retry-After` (delay
 * seconds or an HTTP date), when `error` is an HTTP error with one of `statuses`.
 */
export function retryAfterSeconds(
  error: unknown,
  statuses: readonly number[],
  now: number = clockNow(),
): number | undefined {
  const response = httpErrorResponse(error);
  if (response === undefined || !statuses.includes(response.status)) return undefined;
  const header = response.headers.get('retry-after')?.trim();
  if (!header) return undefined;
  if (/^\d+(\.\d+)?$/.test(header)) return Number(header);
  const date = Date.parse(header);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, (date - now) / 1000);
}
