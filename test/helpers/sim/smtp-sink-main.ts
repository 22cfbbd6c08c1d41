// The SMTP sink (smtp-sink.ts) as a process of its own, for tests whose next hop must live in
// another network namespace (`ip netns exec NS node smtp-sink-main.ts PORT DIR`): plain SMTP on
// 127.0.0.1:PORT; each accepted message is written to DIR/<pid>-<n>.eml before the 250, so a file
// count is a count of acknowledged deliveries. Prints "listening PORT" once it accepts connections.
// With KEY and CERT (PEM files) it offers STARTTLS with them: the VM upgrade test's smarthost, which
// the guest reaches through qemu's user network (10.0.2.2), not on loopback, so TLS is required.
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SmtpSink } from './smtp-sink.ts';

const [portText, dir, keyFile, certFile] = process.argv.slice(2);
if (portText === undefined || dir === undefined || (keyFile === undefined) !== (certFile === undefined)) {
  console.error('usage: smtp-sink-main.ts PORT DIR [KEY.pem CERT.pem]');
  process.exit(2);
}
let n = 0;
const sink = new SmtpSink({
  ...(keyFile === undefined || certFile === undefined
    ? { tls: 'none' as const }
    : { tls: 'starttls' as const, key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8') }),
  port: Number(portText),
  beforeReply: async (raw) => {
    n += 1;
    const fd = openSync(join(dir, `${process.pid}-${n}.eml`), 'wx');
    try {
      writeSync(fd, raw);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  },
});
console.log(`listening ${await sink.start()}`);
process.on('SIGTERM', () => {
  void sink.close().then(() => process.exit(0));
});
