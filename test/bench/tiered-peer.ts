/**
 * The other process of the tiered bench's propagation measurement: fills its L1
 * with the key it is told, then reports the moment its L1 no longer holds it.
 */
import { TieredBackend } from '@trpc-memory/server/redis';
import { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';

const backend = new TieredBackend(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
  channel: process.env.TIERED_CHANNEL!,
});
const send = (message: object) => process.send!(message);

process.on('message', async (message: { type: string; key?: string }) => {
  if (message.type === 'exit') {
    raw.disconnect();
    await backend.close();
    process.exit(0);
  }
  const key = message.key!;
  // A read that an invalidation overtook does not fill L1: read until it holds.
  while (!backend.hasInL1(key)) await backend.get(key);
  watching = key;
  send({ type: 'filled' });
});

/**
 * The moment L1 lets go of the watched key, taken inside the delete itself
 * (L1 is an lru-cache): polling for it would keep this process spinning and
 * slow down the very Redis and parent process being measured.
 */
let watching: string | undefined;
const remove = LRUCache.prototype.delete;
LRUCache.prototype.delete = function (this: LRUCache<string, object>, key: string) {
  const removed = remove.call(this, key);
  if (key === watching) {
    watching = undefined;
    send({ type: 'gone', at: performance.timeOrigin + performance.now() });
  }
  return removed;
};

// The baseline: Redis' own pub/sub latency between the same two processes.
const raw = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
raw.on('message', () => send({ type: 'raw', at: performance.timeOrigin + performance.now() }));
await raw.subscribe(`${process.env.TIERED_CHANNEL}:raw`);

const wait = () => (backend.busUp ? send({ type: 'ready' }) : setTimeout(wait, 5));
wait();
