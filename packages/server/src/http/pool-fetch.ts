import { TimeoutError } from 'ky';
import type { ConnectionPool, PoolOptions, PoolTransport } from './pool.js';

type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Statuses a `Response` must be built without a body for. */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * A `fetch` for ky that bounds the whole attempt, headers and body, by
 * `timeout` ms (ky's `TimeoutError`) and rejects with the caller's reason when
 * the request's signal aborts, as fetch does. The body is read whole inside
 * the bound: the platform fetch has no per-read timeout of its own.
 */
function boundedFetch(timeout: number): Fetch {
  return async (input, init) => {
    // ky passes its Request, and as `init` only options a Request cannot hold.
    const request = input instanceof Request ? input : new Request(input, init);
    const callerSignal = request.signal;
    if (callerSignal.aborted) throw callerSignal.reason;
    const controller = new AbortController();
    const stop = (reason: unknown) => controller.abort(reason);
    const onAbort = () => stop(callerSignal.reason);
    callerSignal.addEventListener('abort', onAbort);
    const timer = setTimeout(() => stop(new TimeoutError(request)), timeout);
    try {
      const response = await globalThis.fetch(new Request(request, { signal: controller.signal }));
      const body = await response.arrayBuffer();
      return new Response(NULL_BODY_STATUSES.has(response.status) ? null : body, {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      });
    } catch (error) {
      // The abort reason (a TimeoutError, the caller's reason), not fetch's AbortError wrapping it.
      throw controller.signal.aborted ? controller.signal.reason : error;
    } finally {
      clearTimeout(timer);
      callerSignal.removeEventListener('abort', onAbort);
    }
  };
}

/**
 * @internal The transport of edge and worker runtimes (and of any runtime
 * without the `node` export condition): the platform's own `fetch`, which
 * pools connections and verifies TLS by itself.
 */
export const transport: PoolTransport = {
  name: 'fetch',
  controlsConnections: false,
  openPool(options: PoolOptions): ConnectionPool {
    return {
      kyOptions: { fetch: boundedFetch(options.timeout * 1000) },
      // The platform owns the connections: in-flight requests finish, nothing else is held.
      close: async () => {},
    };
  },
};
