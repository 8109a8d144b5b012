import { describe, expect, it } from 'vitest';
import * as server from '../src/index.js';
import * as redis from '../src/redis.js';

/** Every error class the package exports, with the code it must keep. */
const CODES = {
  TrpcMemoryError: 'TRPC_MEMORY_ERROR',
  InvalidOptionError: 'INVALID_OPTION',
  InvalidReturnError: 'INVALID_RETURN',
  UnsupportedUseError: 'UNSUPPORTED_USE',
  UnknownProcedureError: 'UNKNOWN_PROCEDURE',
  MissingDependencyError: 'MISSING_DEPENDENCY',
  CacheNotInitializedError: 'CACHE_NOT_INITIALIZED',
  CodecError: 'CODEC',
  UnkeyableValueError: 'UNKEYABLE_VALUE',
  RedisBackendError: 'REDIS_BACKEND',
  RetryError: 'RETRY_EXHAUSTED',
  ResilientClientClosedError: 'CLIENT_CLOSED',
  UpstreamSchemaError: 'UPSTREAM_SCHEMA',
} as const;

/** One instance of each class, made the way the library makes it. */
const instances: Record<keyof typeof CODES, Error> = {
  TrpcMemoryError: new server.TrpcMemoryError('x'),
  InvalidOptionError: new server.InvalidOptionError('memorize()', 'expire', -1, 'positive'),
  InvalidReturnError: new server.InvalidReturnError('x'),
  UnsupportedUseError: new server.UnsupportedUseError('x'),
  UnknownProcedureError: new server.UnknownProcedureError('x'),
  MissingDependencyError: new server.MissingDependencyError('x'),
  CacheNotInitializedError: new server.CacheNotInitializedError(),
  CodecError: new server.CodecError('x'),
  UnkeyableValueError: new server.UnkeyableValueError('type', 'x'),
  RedisBackendError: new server.RedisBackendError('timeout', 'x'),
  RetryError: new server.RetryError(3, new Error('x')),
  ResilientClientClosedError: new server.ResilientClientClosedError(''),
  UpstreamSchemaError: new server.UpstreamSchemaError([{ message: 'Required' }], ['id'], 'the body'),
};

describe('errors', () => {
  it('every exported error class has its stable code and name, and is a TrpcMemoryError', () => {
    const exported = Object.entries(server).filter(
      ([, value]) => typeof value === 'function' && value.prototype instanceof Error,
    );
    expect(exported.map(([name]) => name).sort()).toEqual(Object.keys(CODES).sort());
    for (const [name, code] of Object.entries(CODES)) {
      const error = instances[name as keyof typeof CODES] as server.TrpcMemoryError;
      expect(error).toBeInstanceOf(server.TrpcMemoryError);
      expect({ name: error.name, code: error.code }).toEqual({ name, code });
      expect(server.isTrpcMemoryError(error)).toBe(true);
    }
    expect(redis.RedisBackendError).toBe(server.RedisBackendError);
  });

  it('isTrpcMemoryError: false for other errors and values', () => {
    for (const value of [
      new Error('x'),
      new TypeError('x'),
      { code: 'INVALID_OPTION' },
      null,
      undefined,
      'x',
    ]) {
      expect(server.isTrpcMemoryError(value)).toBe(false);
    }
  });

  it('the library throws specific classes, not the bare base class', () => {
    expect(() => server.memorize({ expire: 0 })).toThrow(server.InvalidOptionError);
    const decorate = server.lru() as unknown as (fn: () => void, context: { kind: string }) => unknown;
    expect(() => decorate(() => {}, { kind: 'field' })).toThrow(server.UnsupportedUseError);
  });
});
