// Every path of REDACT_PATHS, written out here as the paths pino's syntax means, checked through a
// real logger line: top-level keys, `*.key` one level down, `headers.authorization` at both levels.
import { describe, expect, it } from 'vitest';
import { captureLog } from '../../helpers/log-capture.ts';

const SECRET = 's3cr3t-value';

describe('log redaction covers every path', () => {
  const keys = [
    'password',
    'pass',
    'secret',
    'clientSecret',
    'token',
    'accessToken',
    'authorization',
    'connectionString',
    'accessKey',
    'privateKey',
    'secretValue',
  ];

  it('top-level and one level down; Key Vault "value" at the top; authorization headers', () => {
    const log = captureLog();
    const top: Record<string, unknown> = { value: SECRET, keep: 'visible' };
    const nested: Record<string, unknown> = { user: 'scanner' };
    for (const k of keys) {
      top[k] = SECRET;
      nested[k] = SECRET;
    }
    log.logger.info({ ...top, auth: nested }, 'flat');
    log.logger.info({ headers: { Authorization: SECRET, accept: 'x' } }, 'top headers');
    log.logger.info({ req: { headers: { authorization: SECRET, Authorization: SECRET } } }, 'nested');
    log.logger.flush();
    expect(log.text()).not.toContain(SECRET);
    const [flat, th, nh] = log.lines();
    expect(flat).toMatchObject({ value: '[redacted]', keep: 'visible', password: '[redacted]' });
    expect(flat?.auth).toMatchObject({ user: 'scanner', token: '[redacted]', privateKey: '[redacted]' });
    expect(th?.headers).toEqual({ Authorization: '[redacted]', accept: 'x' });
    expect(nh?.req).toEqual({ headers: { authorization: '[redacted]', Authorization: '[redacted]' } });
  });

  it('child bindings and an error carrying a token are redacted; the caller objects stay as they were', () => {
    const log = captureLog();
    const ctx = { route: 'graph', token: SECRET };
    const err = Object.assign(new Error('upstream refused'), { accessToken: SECRET });
    log.logger.child({ secret: SECRET }).info({ ctx, err }, 'child');
    log.logger.flush();
    expect(log.text()).not.toContain(SECRET);
    const [line] = log.lines();
    expect(line).toMatchObject({ secret: '[redacted]', ctx: { route: 'graph', token: '[redacted]' } });
    expect(line?.err).toMatchObject({ message: 'upstream refused', accessToken: '[redacted]' });
    expect(ctx.token).toBe(SECRET);
    expect(err.accessToken).toBe(SECRET);
  });

  it('"value" below the top level is ordinary data (a header value, a metric)', () => {
    const log = captureLog();
    log.logger.info({ header: { name: 'Subject', value: 'Scan 12' } }, 'kept');
    log.logger.flush();
    expect(log.lines()[0]?.header).toEqual({ name: 'Subject', value: 'Scan 12' });
  });
});
