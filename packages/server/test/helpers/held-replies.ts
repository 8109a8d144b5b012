/**
 * Round trips on the wire: a TCP proxy in front of a Redis server that can hold
 * back Redis's replies. Every command a client sends while the replies are held
 * left before it could have seen any answer, so it travelled in the same round
 * trip as the others; a command that only comes once the replies are released
 * waited for one of them (a second round trip). No timing involved: the test
 * waits for the commands it expects (`until`), then releases the replies.
 */
import net from 'node:net';

export interface ReplyHolder {
  /** The proxy's loopback port: connect clients here instead of to Redis. */
  readonly port: number;
  /** The commands received since the last {@link hold} (name upper-cased, then arguments), in arrival order per connection. */
  readonly commands: string[][];
  /** The commands received while the replies were held, i.e. before {@link release}. */
  readonly beforeRelease: string[][];
  /** Holds every reply from now on, and starts counting commands afresh. */
  hold(): void;
  /** Delivers the held replies in order and lets later ones through. */
  release(): void;
  close(): Promise<void>;
}

/** The complete commands at the start of `buffer` (RESP arrays of bulk strings) and what is left of it. */
function parseCommands(buffer: Buffer): { commands: string[][]; rest: Buffer } {
  const commands: string[][] = [];
  let at = 0;
  for (;;) {
    const parsed = parseCommand(buffer, at);
    if (parsed === undefined) break;
    commands.push(parsed.command);
    at = parsed.next;
  }
  return { commands, rest: buffer.subarray(at) };
}

function parseCommand(buffer: Buffer, at: number): { command: string[]; next: number } | undefined {
  if (at >= buffer.length) return undefined;
  if (buffer[at] !== 0x2a /* * */) throw new Error('held-replies: a request that is not a RESP array');
  const head = buffer.indexOf('\r\n', at);
  if (head < 0) return undefined;
  const count = Number(buffer.toString('latin1', at + 1, head));
  const command: string[] = [];
  let pos = head + 2;
  for (let i = 0; i < count; i++) {
    const end = buffer.indexOf('\r\n', pos);
    if (end < 0) return undefined;
    const length = Number(buffer.toString('latin1', pos + 1, end));
    const start = end + 2;
    if (start + length + 2 > buffer.length) return undefined;
    command.push(buffer.toString('utf8', start, start + length));
    pos = start + length + 2;
  }
  command[0] = command[0]?.toUpperCase() ?? '';
  return { command, next: pos };
}

/** Starts a {@link ReplyHolder} in front of `target` on a free loopback port; replies flow until {@link ReplyHolder.hold}. */
export async function replyHolder(target: { host: string; port: number }): Promise<ReplyHolder> {
  let holding = false;
  let released = true;
  let commands: string[][] = [];
  let beforeRelease: string[][] = [];
  const flushes = new Set<() => void>();
  const sockets = new Set<net.Socket>();

  const server = net.createServer((client) => {
    const upstream = net.connect(target);
    sockets.add(client);
    sockets.add(upstream);
    let pending: Buffer = Buffer.alloc(0);
    const held: Buffer[] = [];
    const flush = () => {
      for (const chunk of held.splice(0)) client.write(chunk);
    };
    flushes.add(flush);
    client.on('data', (chunk: Buffer) => {
      const parsed = parseCommands(Buffer.concat([pending, chunk]));
      pending = parsed.rest;
      for (const command of parsed.commands) {
        commands.push(command);
        if (!released) beforeRelease.push(command);
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (holding) held.push(chunk);
      else client.write(chunk);
    });
    const end = () => {
      flushes.delete(flush);
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;

  return {
    port,
    get commands() {
      return commands;
    },
    get beforeRelease() {
      return beforeRelease;
    },
    hold() {
      holding = true;
      released = false;
      commands = [];
      beforeRelease = [];
    },
    release() {
      holding = false;
      released = true;
      for (const flush of flushes) flush();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
