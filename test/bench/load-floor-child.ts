// Child process of the load bench's floor figures: the CPU a process pays on this machine to deliver
// one 10 KB message to the parent's Graph simulator without relaykit's engine around it. Each message
// is a file written beforehand, read back synchronously and unlinked after its 202, four requests
// at a time (the simulator's per-mailbox limit). Modes:
// - `undici`: a bare undici request per message (token fetched once, no limiter, no timeout);
// - `transport`: relaykit's GraphTransport.deliver (limiter, MSAL token cache, timeout, MIME shaping).
// Prints {cpuMsPerMessage} for the messages after the first (the first pays for loading and the token).
import { mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { benchGraphTransport, type ChildCloud } from './graph-child-transport.ts';

export interface FloorInput extends ChildCloud {
  mode: 'undici' | 'transport';
  count: number;
  dir: string;
  mailbox: string;
  message: string;
}

const input = JSON.parse(process.argv[2] ?? '{}') as FloorInput;
const secret = process.env.BENCH_GRAPH_SECRET ?? '';
const mime = Buffer.from(input.message, 'latin1');
mkdirSync(input.dir, { recursive: true });
const pathOf = (i: number) => join(input.dir, `${i}.msg`);
for (let i = 0; i < input.count; i++) writeFileSync(pathOf(i), mime);

type Send = (i: number) => Promise<void>;

async function bareUndici(): Promise<{ send: Send; close: () => Promise<void> }> {
  const agent = new Agent({ connect: { ca: readFileSync(input.caFile) } });
  const t = await request(`${input.authorityHost}/${input.tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: input.clientId,
      client_secret: secret,
      scope: input.graphScope,
    }).toString(),
  });
  const token = ((await t.body.json()) as { access_token: string }).access_token;
  const url = `${input.graphBaseUrl}/users/${encodeURIComponent(input.mailbox)}/sendMail`;
  return {
    async send(i) {
      const raw = readFileSync(pathOf(i));
      const res = await request(url, {
        method: 'POST',
        dispatcher: agent,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
        body: Buffer.from(raw.toString('base64'), 'latin1'),
      });
      await res.body.dump();
      if (res.statusCode !== 202) throw new Error(`sendMail answered ${res.statusCode}`);
    },
    close: () => agent.close(),
  };
}

function relaykitTransport(): { send: Send; close: () => Promise<void> } {
  const { transport, close } = benchGraphTransport(input, { messagesPerMinute: 10_000 });
  const signal = new AbortController().signal;
  return {
    async send(i) {
      const outcome = await transport.deliver({
        id: `floor-${i}`,
        leg: 0,
        mailFrom: input.mailbox,
        recipients: ['alice@contoso.com'],
        identity: 'floor',
        attempt: 1,
        receivedAt: Date.now(),
        message: { path: pathOf(i), offset: 0, length: mime.length },
        idempotencyKey: `floor-${i}/0`,
        signal,
      });
      if (outcome.kind !== 'delivered') throw new Error(`not delivered: ${JSON.stringify(outcome)}`);
    },
    close,
  };
}

const client = input.mode === 'undici' ? await bareUndici() : relaykitTransport();
await client.send(0);
unlinkSync(pathOf(0));
const cpu0 = process.cpuUsage();
let next = 1;
// As the engine runs them: twice the mailbox's four slots, the extra legs waiting at the limiter
// (the bare client has no limiter, so it keeps to four).
const lanes = input.mode === 'undici' ? 4 : 8;
await Promise.all(
  Array.from({ length: lanes }, async () => {
    for (let i = next++; i < input.count; i = next++) {
      await client.send(i);
      unlinkSync(pathOf(i));
    }
  }),
);
const cpu = process.cpuUsage(cpu0);
await client.close();
rmSync(input.dir, { recursive: true, force: true });
process.stdout.write(
  `${JSON.stringify({ cpuMsPerMessage: (cpu.user + cpu.system) / 1000 / (input.count - 1) })}\n`,
);
