import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { MemoryBackend } from '../../src/index.js';
import { type BackendSuiteApi, registerBackendSuite } from '../../src/test-suite.js';

describe('registerBackendSuite types', () => {
  it("takes Vitest's functions as they are", () => {
    expectTypeOf({ describe, it, expect, beforeAll, afterAll }).toExtend<BackendSuiteApi>();
  });

  it('takes a factory of a CacheBackend, synchronous or not', () => {
    const api = { describe, it, expect, beforeAll, afterAll };
    registerBackendSuite(api, { name: 'memory', make: () => new MemoryBackend() });
    registerBackendSuite(api, { name: 'later', make: async () => new MemoryBackend(), timeout: 60_000 });
    registerBackendSuite(api, {
      name: 'partial',
      // @ts-expect-error a backend needs deleteByPrefix
      make: () => ({ name: 'partial', get: () => undefined, set: () => {}, delete: () => {} }),
    });
    // @ts-expect-error the suite needs the runner's hooks
    registerBackendSuite({ describe, it, expect }, { name: 'x', make: () => new MemoryBackend() });
  });
});
