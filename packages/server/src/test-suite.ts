/**
 * `@trpc-memory/server/test-suite`: the conformance tests of the cache backend
 * contract, for a custom {@link CacheBackend} to prove itself with, under the
 * test runner you already use (nothing here depends on one).
 *
 * @example
 * ```ts
 * import { registerBackendSuite } from '@trpc-memory/server/test-suite';
 * import { afterAll, beforeAll, describe, expect, it } from 'vitest';
 *
 * registerBackendSuite(
 *   { describe, it, expect, beforeAll, afterAll },
 *   { name: 'MapBackend', make: () => new MapBackend() },
 * );
 * ```
 *
 * @packageDocumentation
 */
export type { CacheBackend, MaybePromise } from './backends/types.js';
export {
  type BackendSuiteApi,
  type BackendSuiteExpect,
  type BackendSuiteOptions,
  registerBackendSuite,
} from './testing/backend-suite.js';
