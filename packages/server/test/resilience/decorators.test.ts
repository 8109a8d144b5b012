import { HTTPError, type NormalizedOptions } from 'ky';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { defaultRetry, fixedWait, RetryError, retry, stopAfterRetries } from '../../src/index.js';

const unavailable = () =>
  new HTTPError(
    new Response(null, { status: 503 }),
    new Request('http://127.0.0.1/x'),
    {} as NormalizedOptions,
  );

class Upstream {
  calls = 0;
  constructor(private readonly failures: number) {}

  @defaultRetry({ waitMin: 0.001, waitMax: 0.002 })
  async load(id: string): Promise<{ id: string; calls: number }> {
    this.calls++;
    if (this.calls <= this.failures) throw unavailable();
    return { id, calls: this.calls };
  }

  @retry({ stop: stopAfterRetries(2), wait: fixedWait(0.001) })
  async always(): Promise<never> {
    this.calls++;
    throw new Error(`attempt ${this.calls}`);
  }
}

describe('standard (TC39) method decorators', () => {
  it('@defaultRetry() retries a method with its own `this` and arguments', async () => {
    const upstream = new Upstream(2);
    await expect(upstream.load('a')).resolves.toEqual({ id: 'a', calls: 3 });
    expect(upstream.calls).toBe(3);
    // Instances keep separate state: the decorator holds no per-instance data.
    const other = new Upstream(0);
    await expect(other.load('b')).resolves.toEqual({ id: 'b', calls: 1 });
  });

  it('@defaultRetry() gives up after `attempts` and throws the last error', async () => {
    const upstream = new Upstream(10);
    await expect(upstream.load('a')).rejects.toMatchObject({ name: 'HTTPError', response: { status: 503 } });
    expect(upstream.calls).toBe(3);
  });

  it('@retry() follows its options (RetryError by default)', async () => {
    const upstream = new Upstream(0);
    const error = await upstream.always().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryError);
    expect((error as RetryError).attempts).toBe(2);
    expect(((error as RetryError).cause as Error).message).toBe('attempt 2');
  });

  it('keeps the method type, and refuses what it cannot decorate', () => {
    expectTypeOf(Upstream.prototype.load).toEqualTypeOf<
      (id: string) => Promise<{ id: string; calls: number }>
    >();
    class Sync {
      // @ts-expect-error a retrying method returns a promise, so it must be declared async
      @retry()
      now(): number {
        return 1;
      }
    }
    expect(new Sync().now()).toBeInstanceOf(Promise);
    expect(() => {
      class Bad {
        // @ts-expect-error a retry decorator applies to methods only
        @retry() value = 1;
      }
      return new Bad();
    }).toThrow('retry() decorates methods only, not a field');
  });
});
