// A client that sends its message body without waiting for the 354 (RFC 2920 §3.1: DATA is a
// synchronisation point; the client must wait) or stops mid-DATA must be cut by the listener's idle
// timeout (socketTimeout, the "command timeout") — not keep its session slot until sessionTimeout.
// smtp-server 3.21's `_onTimeout` re-arms the idle timer only while the *server* owes the reply (a
// handler pending, or the message complete and onData deciding); while the client owes input it
// answers 421 "Timeout". The session guard (guarded-server.ts) would say "Session time limit
// exceeded": sessionTimeout is 10 minutes here, so that reply proves the idle timer did the cut.
import { afterEach, describe, expect, it } from 'vitest';
import { hashPassword } from '../../../appliance/src/receiver/password.ts';
import { applianceSandbox, type TestAppliance } from '../../helpers/appliance.ts';
import { RawSmtp, type Reply } from '../../helpers/smtp-raw.ts';

const sandbox = applianceSandbox('relaykit-pipelined-');
afterEach(() => sandbox.stop());

const TIMEOUTS = { socketTimeout: '500ms', sessionTimeout: '10m' };

async function start(auth = false): Promise<TestAppliance> {
  const passwordHash = auth ? await hashPassword('correct horse battery', { N: 1024 }) : '';
  return sandbox.start((c) => ({
    ...c,
    listeners: [
      auth
        ? { name: 'auth', address: '127.0.0.1', port: 0, auth: true, allowCleartextAuth: true, ...TIMEOUTS }
        : { name: 'test', address: '127.0.0.1', port: 0, auth: false, ...TIMEOUTS },
    ],
    ...(auth ? { identities: [{ name: 'app', users: [{ username: 'app1', passwordHash }] }] } : {}),
  }));
}

/** Writes `bytes` in one go and collects every reply until the server closes the connection. */
async function sendAndCollect(c: RawSmtp, bytes: string): Promise<Reply[]> {
  c.write(bytes);
  const replies: Reply[] = [];
  for (;;) {
    try {
      replies.push(await c.reply(15_000));
    } catch {
      expect(c.closed).toBe(true);
      return replies;
    }
  }
}

async function greeted(port: number): Promise<RawSmtp> {
  const c = await RawSmtp.connect(port);
  expect((await c.reply()).code).toBe(220);
  expect((await c.command('EHLO client.test')).code).toBe(250);
  return c;
}

const lastLine = (r: Reply | undefined) => r?.lines.at(-1);

describe('a body pipelined before the 354 is cut at the idle timeout', () => {
  it('MAIL, RCPT, DATA and a body without the final dot in one packet, then silence → 421 Timeout, nothing queued', async () => {
    const t = await start();
    const c = await greeted(t.port);
    const replies = await sendAndCollect(
      c,
      'MAIL FROM:<a@contoso.test>\r\nRCPT TO:<b@contoso.test>\r\nDATA\r\nSubject: early\r\n\r\nbody sent before the 354\r\n',
    );
    expect(replies.map((r) => r.code)).toEqual([250, 250, 354, 421]);
    expect(lastLine(replies.at(-1))).toBe('421 Timeout - closing connection');
    expect((await t.app.spool.depthAndOldest()).depth).toBe(0);
  });

  it('DATA and a long unterminated line sent at once, then silence → 421 Timeout', async () => {
    const t = await start();
    const c = await greeted(t.port);
    expect((await c.command('MAIL FROM:<a@contoso.test>')).code).toBe(250);
    expect((await c.command('RCPT TO:<b@contoso.test>')).code).toBe(250);
    const replies = await sendAndCollect(c, `DATA\r\n${'x'.repeat(100_000)}`);
    expect(replies.map((r) => r.code)).toEqual([354, 421]);
    expect(lastLine(replies.at(-1))).toBe('421 Timeout - closing connection');
  });

  it('a refused RCPT with DATA and the body pipelined behind it: the body is not taken as mail, the client is cut', async () => {
    const t = await start();
    const c = await greeted(t.port);
    const replies = await sendAndCollect(
      c,
      'MAIL FROM:<a@contoso.test>\r\nRCPT TO:<b\r\nDATA\r\nSubject: smuggled\r\n\r\nbody\r\n',
    );
    expect(replies.slice(0, 3).map((r) => r.code)).toEqual([250, 501, 503]);
    expect(replies.at(-1)?.code).toBe(421);
    expect(replies.every((r) => (r.code !== 354 && r.code !== 250) || r === replies[0])).toBe(true);
    expect((await t.app.spool.depthAndOldest()).depth).toBe(0);
  });

  it('AUTH LOGIN answered with the user name and then nothing → 421 Timeout (no slot held by a pending AUTH)', async () => {
    const t = await start(true);
    const c = await greeted(t.port);
    const replies = await sendAndCollect(c, `AUTH LOGIN\r\n${Buffer.from('app1').toString('base64')}\r\n`);
    expect(replies.map((r) => r.code)).toEqual([334, 334, 421]);
    expect(lastLine(replies.at(-1))).toBe('421 Timeout - closing connection');
  });

  it('the whole transaction pipelined with its final dot is taken once (250), then the idle client is cut', async () => {
    const t = await start();
    const c = await greeted(t.port);
    const replies = await sendAndCollect(
      c,
      'MAIL FROM:<a@contoso.test>\r\nRCPT TO:<b@contoso.test>\r\nDATA\r\nSubject: pipelined\r\n\r\nbody\r\n.\r\n',
    );
    expect(replies.map((r) => r.code)).toEqual([250, 250, 354, 250, 421]);
    expect(lastLine(replies.at(-1))).toBe('421 Timeout - closing connection');
  });
});
