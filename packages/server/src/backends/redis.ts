import type { CacheBackend } from './types.js';

// Placeholder until the Redis backend lands.
export class RedisBackend implements CacheBackend {
  readonly name = 'redis';
  constructor(_client: unknown) {
    throw new Error('RedisBackend: not implemented yet');
  }
  get(): undefined {
    return undefined;
  }
  set(): void {}
  delete(): void {}
  deleteByPrefix(): void {}
}
