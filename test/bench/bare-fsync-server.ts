// The benchmark's baseline: a bare smtp-server that does only what durability demands — stream DATA
// to a temporary file, fsync, rename, fsync the directory, then 250 — as in
// shared/reference/smtp-server-behaviour.md §1.1. Usage: node bare-fsync-server.ts DIR
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { SMTPServer } from 'smtp-server';

const dir = process.argv[2] as string;
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  disableReverseLookup: true,
  maxClients: 1000,
  logger: false,
  size: 64 * 1024 * 1024,
  onData(stream, _session, cb) {
    const id = randomBytes(8).toString('hex');
    const tmp = join(dir, `${id}.tmp`);
    (async () => {
      const fh = await open(tmp, 'wx', 0o600);
      await pipeline(stream, createWriteStream('', { fd: fh.fd, autoClose: false }));
      await fh.sync();
      await fh.close();
      await rename(tmp, join(dir, `${id}.eml`));
      const d = await open(dir, 'r');
      await d.sync();
      await d.close();
    })().then(
      () => cb(null, `queued as ${id}`),
      (err: Error) => cb(err),
    );
  },
});
server.on('error', () => {});
server.listen(0, '127.0.0.1', () => {
  const addr = server.server.address() as { port: number };
  process.stdout.write(`listening ${addr.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
