import { Agent } from 'undici';
import type { ConnectionPool, PoolOptions, PoolTransport } from './pool.js';
import { createDispatcherFetch } from './transport.js';

/**
 * @internal Node's transport: an undici `Agent` (pool limits, keep-alive, TLS
 * verification) driven through its dispatch API by ky.
 */
export const transport: PoolTransport = {
  name: 'undici',
  controlsConnections: true,
  openPool(options: PoolOptions): ConnectionPool {
    const { timeout, verify, maxConnections, maxKeepaliveConnections, keepAliveTimeout } = options;
    const agent = new Agent({
      connections: maxConnections,
      // pipelining 0 is undici's "no keep-alive"; 1 reuses a connection for one request at a time.
      pipelining: maxKeepaliveConnections === 0 ? 0 : 1,
      keepAliveTimeout: keepAliveTimeout * 1000,
      connectTimeout: timeout * 1000,
      headersTimeout: timeout * 1000,
      bodyTimeout: timeout * 1000,
      connect: { rejectUnauthorized: verify },
    });
    // ky runs the request (its Request, headers, HTTPError and TimeoutError)
    // with the Agent as its `dispatcher`; its `fetch` is a transport on the
    // Agent's own dispatch API rather than WHATWG fetch, whose spec machinery
    // costs more CPU than the request itself on a fast upstream (the http
    // benchmark measures both). The transport applies the timeout up to the
    // response headers; the Agent's bodyTimeout covers the body.
    return {
      kyOptions: { dispatcher: agent, fetch: createDispatcherFetch({ timeout: timeout * 1000 }) } as never,
      close: () => agent.close(),
    };
  },
};
