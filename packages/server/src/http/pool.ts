import type { Options as KyOptions } from 'ky';

/** How a `ResilientClient` sends its requests, in the units the pool takes (seconds). @internal */
export interface PoolOptions {
  /** Seconds an attempt may take: to the response headers on undici, the whole response on fetch. */
  timeout: number;
  /** Verify TLS certificates. */
  verify: boolean;
  /** Most connections open at once to one origin. */
  maxConnections: number;
  /** Idle connections worth keeping alive; `0` closes each after its response. */
  maxKeepaliveConnections: number;
  /** Seconds an idle keep-alive connection stays open. */
  keepAliveTimeout: number;
}

/**
 * @internal The connections of one `ResilientClient`: the options ky runs with
 * (its `fetch`, and undici's `dispatcher` on Node) and how to close them.
 */
export interface ConnectionPool {
  readonly kyOptions: KyOptions;
  close(): Promise<void>;
}

/**
 * @internal What a transport module (`#http-pool`) provides. Node gets the undici
 * one (`pool-undici.ts`), every other runtime the platform `fetch`
 * (`pool-fetch.ts`): package.json's `imports` picks one by export condition, so a
 * bundle for an edge or worker runtime never contains undici or `node:*` modules.
 */
export interface PoolTransport {
  /** `'undici'` or `'fetch'`, for messages and tests. */
  readonly name: string;
  /** Whether `verify: false` and the connection limits can be honoured. */
  readonly controlsConnections: boolean;
  openPool(options: PoolOptions): ConnectionPool;
}
