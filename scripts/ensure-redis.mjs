// Makes sure Redis answers on REDIS_URL (default redis://127.0.0.1:6379), starting a
// local redis-server when the URL points at this machine and nothing answers.
import { spawnSync } from 'node:child_process';
import net from 'node:net';

const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const host = url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
const port = Number(url.port || 6379);

function ping() {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

if (await ping()) {
  console.log(`redis answers on ${host}:${port}`);
} else {
  console.log(`starting redis-server on ${host}:${port}`);
  const result = spawnSync(
    'redis-server',
    ['--daemonize', 'yes', '--bind', host, '--port', String(port), '--save', '', '--appendonly', 'no'],
    { stdio: 'inherit' },
  );
  if (result.status !== 0) throw new Error('redis-server failed to start');
  for (let i = 0; i < 50 && !(await ping()); i++) await new Promise((r) => setTimeout(r, 100));
  if (!(await ping())) throw new Error(`redis does not answer on ${host}:${port}`);
  console.log('redis started');
}
