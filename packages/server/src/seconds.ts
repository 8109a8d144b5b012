import { InvalidOptionError } from './errors.js';

export function assertExpire(where: string, expire: unknown): asserts expire is number | undefined {
  if (expire === undefined) return;
  if (typeof expire !== 'number' || !Number.isFinite(expire) || expire <= 0) {
    throw new InvalidOptionError(where, 'expire', expire, 'a positive finite number of seconds (or omitted)');
  }
}
