/**
 * The invalidation bus of `TieredBackend`, over Redis pub/sub.
 *
 * A message is `<instance id><sequence number>:<op><target>`: the publishing
 * instance (16 hex digits, random per backend), its own running count of
 * messages, then `k` + a key, `p` + a prefix, or `h` + nothing (a heartbeat).
 * Keys and prefixes only, never values.
 *
 * Knowing when messages may have been missed is the point of the design:
 * - the subscriber connection reports a drop at once (`down`);
 * - every instance publishes a heartbeat every `heartbeatMs` and expects to hear
 *   its own within that time: a silent loss (a subscription dropped without the
 *   connection closing, a stalled Redis) shows within two heartbeats;
 * - every publisher numbers its messages: a gap in one publisher's numbers means
 *   some were missed, even across a drop and reconnect too short to be seen.
 * The bus is `up` from the moment its own heartbeat came back after (re)subscribing.
 */
import { RedisBackendError } from '../errors.js';
import type { RedisInternals } from './redis-internals.js';
import { openSubscriber, type Subscriber } from './redis-subscriber.js';

export type BusOp = 'k' | 'p' | 'h';

export interface BusMessage {
  id: string;
  seq: number;
  op: BusOp;
  target: string;
}

const ID = /^[0-9a-f]{16}$/;
const SEQ = /^(0|[1-9][0-9]{0,14})$/;

export function encodeMessage({ id, seq, op, target }: BusMessage): string {
  return `${id}${seq}:${op}${target}`;
}

/** The message, or `undefined` for anything not shaped like one (ignored). */
export function decodeMessage(text: string): BusMessage | undefined {
  const id = text.slice(0, 16);
  if (!ID.test(id)) return undefined;
  const colon = text.indexOf(':', 16);
  if (colon === -1) return undefined;
  const seq = text.slice(16, colon);
  if (!SEQ.test(seq)) return undefined;
  const op = text[colon + 1];
  if (op !== 'k' && op !== 'p' && op !== 'h') return undefined;
  const target = text.slice(colon + 2);
  if (op === 'h' && target !== '') return undefined;
  return { id, seq: Number(seq), op, target };
}

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

export interface BusListener {
  /** Another instance changed or removed `key`. */
  key(key: string): void;
  /** Another instance removed every key starting with `prefix`. */
  prefix(prefix: string): void;
  /** Messages may be missed from now on, until `restored`. */
  lost(error: unknown): void;
  /** Messages published from now on arrive; some before may have been missed. */
  restored(): void;
}

/** Publishers not heard from for this long are forgotten (their sequence numbers with them). */
const FORGET_MS = 60_000;

export class Bus {
  readonly id = randomId();
  readonly #internals: RedisInternals;
  readonly #channel: string;
  readonly #heartbeatMs: number;
  readonly #listener: BusListener;
  readonly #subscriber: Subscriber;
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #heard = new Map<string, { seq: number; at: number }>();
  #seq = 0;
  #up = false;
  /** The last heartbeat sent and not heard back yet. Real (monotonic) time, not the cache's clock. */
  #probe: { seq: number; sentAt: number } | undefined;
  #closed = false;

  constructor(internals: RedisInternals, channel: string, heartbeatMs: number, listener: BusListener) {
    this.#internals = internals;
    this.#channel = channel;
    this.#heartbeatMs = heartbeatMs;
    this.#listener = listener;
    this.#subscriber = openSubscriber(internals.client, channel, {
      message: (text) => this.#receive(text),
      down: (error) =>
        this.#lose(
          new RedisBackendError(
            'disconnected',
            `the invalidation bus lost its subscription${error instanceof Error ? `: ${error.message}` : ''}`,
            error === undefined ? undefined : { cause: error },
          ),
        ),
      subscribed: () => this.#sendProbe(),
    });
    this.#timer = setInterval(() => this.#tick(), heartbeatMs);
    this.#timer.unref();
  }

  /** Whether messages published now reach this instance (as far as can be known). */
  get up(): boolean {
    return this.#up;
  }

  /** Publishes an invalidation of `key` (`'k'`) or of every key under a prefix (`'p'`). */
  publish(op: 'k' | 'p', target: string): Promise<void> {
    return this.#internals.publish(
      this.#channel,
      encodeMessage({ id: this.id, seq: this.#seq++, op, target }),
    );
  }

  #sendProbe(): void {
    if (this.#closed) return;
    const seq = this.#seq++;
    this.#probe = { seq, sentAt: performance.now() };
    this.#internals
      .publish(this.#channel, encodeMessage({ id: this.id, seq, op: 'h', target: '' }))
      .catch((error: unknown) => this.#lose(error));
  }

  #tick(): void {
    if (this.#closed) return;
    const probe = this.#probe;
    if (probe !== undefined && performance.now() - probe.sentAt >= this.#heartbeatMs) {
      this.#lose(
        new RedisBackendError(
          'timeout',
          `the invalidation bus did not deliver this instance's heartbeat within ${this.#heartbeatMs} ms`,
        ),
      );
    }
    const now = performance.now();
    for (const [id, { at }] of this.#heard) if (now - at > FORGET_MS) this.#heard.delete(id);
    this.#sendProbe();
  }

  #receive(text: string): void {
    if (this.#closed) return;
    const message = decodeMessage(text);
    if (message === undefined) return;
    const { id, seq, op, target } = message;
    const last = this.#heard.get(id);
    this.#heard.set(id, { seq, at: performance.now() });
    if (id === this.id) {
      if (op === 'h' && this.#probe?.seq === seq) {
        this.#probe = undefined;
        if (!this.#up) {
          this.#up = true;
          this.#heard.clear();
          this.#listener.restored();
          return;
        }
      }
    }
    // A gap in one publisher's numbers: messages were missed, though the bus works now.
    if (this.#up && last !== undefined && seq > last.seq + 1) this.#listener.restored();
    if (id === this.id) return;
    if (op === 'k') this.#listener.key(target);
    else if (op === 'p') this.#listener.prefix(target);
  }

  #lose(error: unknown): void {
    if (this.#closed || !this.#up) return;
    this.#up = false;
    this.#listener.lost(error);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#up = false;
    clearInterval(this.#timer);
    await this.#subscriber.close();
  }
}
