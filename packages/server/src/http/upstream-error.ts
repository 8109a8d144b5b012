import { type TRPC_ERROR_CODE_KEY, TRPCError } from '@trpc/server';
import { UpstreamSchemaError } from '../errors.js';
import {
  httpErrorResponse,
  isAbortError,
  isNetworkError,
  isTimeoutError,
} from '../resilience/http-errors.js';

/** tRPC's codes by the HTTP status tRPC answers with (from `@trpc/server`'s own table). */
const CODE_BY_CLIENT_STATUS: Record<number, TRPC_ERROR_CODE_KEY> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  402: 'PAYMENT_REQUIRED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_SUPPORTED',
  408: 'TIMEOUT',
  409: 'CONFLICT',
  412: 'PRECONDITION_FAILED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE_CONTENT',
  428: 'PRECONDITION_REQUIRED',
  429: 'TOO_MANY_REQUESTS',
  499: 'CLIENT_CLOSED_REQUEST',
};

/**
 * The tRPC code for an upstream HTTP status: a 4xx keeps its meaning (404 →
 * `NOT_FOUND`, 429 → `TOO_MANY_REQUESTS`, an unknown 4xx → `BAD_REQUEST`); 503 →
 * `SERVICE_UNAVAILABLE`; any other status is the upstream's failure, `BAD_GATEWAY`.
 *
 * @example
 * ```ts
 * trpcCodeForUpstreamStatus(404); // 'NOT_FOUND'
 * trpcCodeForUpstreamStatus(500); // 'BAD_GATEWAY'
 * ```
 */
export function trpcCodeForUpstreamStatus(status: number): TRPC_ERROR_CODE_KEY {
  if (status === 503) return 'SERVICE_UNAVAILABLE';
  if (status >= 400 && status < 500) return CODE_BY_CLIENT_STATUS[status] ?? 'BAD_REQUEST';
  return 'BAD_GATEWAY';
}

/**
 * @internal A `TRPCError` for the final failure of an upstream request; the
 * original error is its `cause`. `what` names the request, e.g. `GET /posts/1`.
 */
export function toTRPCError(error: unknown, what: string): TRPCError {
  if (error instanceof TRPCError) return error;
  const response = httpErrorResponse(error);
  if (response !== undefined) {
    const status = `${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
    return new TRPCError({
      code: trpcCodeForUpstreamStatus(response.status),
      message: `Upstream ${what} answered ${status}`,
      cause: error,
    });
  }
  if (error instanceof UpstreamSchemaError) {
    return new TRPCError({ code: 'BAD_GATEWAY', message: error.message, cause: error });
  }
  if (isAbortError(error)) {
    return new TRPCError({
      code: 'CLIENT_CLOSED_REQUEST',
      message: `Upstream ${what} was cancelled`,
      cause: error,
    });
  }
  if (isTimeoutError(error)) {
    return new TRPCError({ code: 'GATEWAY_TIMEOUT', message: `Upstream ${what} timed out`, cause: error });
  }
  if (isNetworkError(error)) {
    const reason = describeNetworkFailure(error);
    return new TRPCError({
      code: 'BAD_GATEWAY',
      message: `Upstream ${what} failed: ${reason}`,
      cause: error,
    });
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new TRPCError({
    code: 'INTERNAL_SERVER_ERROR',
    message: `Upstream ${what} failed: ${reason}`,
    cause: error,
  });
}

/** The most specific reason fetch gives: "fetch failed" alone says little. */
function describeNetworkFailure(error: unknown): string {
  let reason = error instanceof Error ? error.message : String(error);
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return `${code} (${current.message || reason})`;
    if (current.message && current.message !== 'fetch failed') reason = current.message;
    const nested: unknown = (current as { errors?: unknown[] }).errors?.[0];
    current = current.cause ?? nested;
  }
  return reason;
}
