// Fixture generator for the hostile SMTP corpus: each case is a scripted raw-socket session with the
// exact reply code expected at every step and the number of messages that may reach downstream.
// Legitimate messages carry "X-Case: <id>"; smuggled ones carry "Subject: SMUGGLED-<id>", so the
// corpus test can prove no smuggled or extra message appears. Pure data, no I/O.
import type { ConnectionOptions } from 'node:tls';

export type Step =
  | { readonly send: string | Buffer }
  /** Read one reply per code, in order, and compare exactly. */
  | { readonly expect: readonly number[] }
  | { readonly expectClosed: true }
  /** Send STARTTLS (unless `alreadySent`), expect 220, then continue over TLS. */
  | { readonly startTls: ConnectionOptions; readonly alreadySent?: boolean }
  /** Send the text one byte at a time, `everyMs` apart (stops when the server closes). */
  | { readonly trickle: string; readonly everyMs: number }
  /** Read replies until the server closes: all but the last must be `others`, the last `last`. */
  | { readonly untilClosed: { readonly others: number; readonly last: number } }
  /** Close this connection and open a new one from the same source. */
  | { readonly reconnect: true };

export type ListenerName = 'open' | 'strict' | 'submission' | 'trusted' | 'slow';

export interface HostileCase {
  readonly id: string;
  readonly klass: string;
  readonly listener: ListenerName;
  /** Source address; 127.0.0.1 is the allow-listed "lan" identity. */
  readonly source: string;
  readonly steps: readonly Step[];
  /** Messages from this case that must be delivered (carrying its X-Case header). */
  readonly messages: number;
}

/** Valid AUTH PLAIN for the "app" user of the corpus config. */
export const APP_USER = { username: 'app', password: 'corpus-password-1' };
export const plain = (user: string, pass: string) => Buffer.from(`\0${user}\0${pass}`).toString('base64');
const b64 = (s: string) => Buffer.from(s).toString('base64');

/** The smuggling terminators of CVE-2023-51764/51765/51766 and friends. */
export const SMUGGLING_TERMINATORS: Record<string, string> = {
  'LF.LF': '\n.\n',
  'LF.CRLF': '\n.\r\n',
  'CRLF.LF': '\r\n.\n',
  'CR.CR': '\r.\r',
  'CRLF.CR': '\r\n.\r',
  'CR.CRLF': '\r.\r\n',
  'LF.CR': '\n.\r',
  'CR.LF': '\r.\n',
  'CRLF.NUL.CRLF': '\r\n.\0\r\n',
  'CRLF.SP.CRLF': '\r\n. \r\n',
};

const message = (id: string, body = 'hello') =>
  `From: <dev@local.test>\r\nTo: <a@local.test>\r\nSubject: case ${id}\r\nX-Case: ${id}\r\n\r\n${body}\r\n`;

function smuggled(id: string, terminator: string): string {
  return (
    `From: <dev@local.test>\r\nSubject: case ${id}\r\nX-Case: ${id}\r\n\r\nlegit body${terminator}` +
    `MAIL FROM:<spoof@bank.test>\r\nRCPT TO:<victim@local.test>\r\nDATA\r\n` +
    `From: <ceo@bank.test>\r\nSubject: SMUGGLED-${id}\r\n\r\nwire the money\r\n`
  );
}

/** Standard opening on a plain listener: banner, EHLO. */
const open = (): Step[] => [{ expect: [220] }, { send: 'EHLO client.test\r\n' }, { expect: [250] }];
/** MAIL + RCPT + DATA pipelined, expecting 250 250 354. */
const envelope = (from = 'dev@local.test', to = 'a@local.test'): Step[] => [
  { send: `MAIL FROM:<${from}>\r\nRCPT TO:<${to}>\r\nDATA\r\n` },
  { expect: [250, 250, 354] },
];
const quit: Step[] = [{ send: 'QUIT\r\n' }, { expect: [221] }];

export function buildCorpus(): HostileCase[] {
  const cases: HostileCase[] = [];
  const add = (c: Omit<HostileCase, 'source'> & { source?: string }) =>
    cases.push({ source: '127.0.0.1', ...c });

  // --- SMTP smuggling: normalised (one message, smuggled text stays inside its body) ---------------
  const splits: Record<string, (payload: string, t: string) => Step[]> = {
    'one-write': (p) => [{ send: `${p}.\r\n` }],
    'split-before-terminator': (p, t) => {
      const i = p.indexOf(t);
      return [{ send: p.slice(0, i) }, { send: `${p.slice(i)}.\r\n` }];
    },
    'split-inside-terminator': (p, t) => {
      const i = p.indexOf(t) + 1;
      return [{ send: p.slice(0, i) }, { send: `${p.slice(i)}.\r\n` }];
    },
    'split-after-dot': (p, t) => {
      const i = p.indexOf(t) + t.indexOf('.') + 1;
      return [{ send: p.slice(0, i) }, { send: `${p.slice(i)}.\r\n` }];
    },
    'with-final-pipelined-quit': (p) => [{ send: `${p}.\r\nQUIT\r\n` }],
  };
  for (const [tname, t] of Object.entries(SMUGGLING_TERMINATORS)) {
    for (const [sname, split] of Object.entries(splits)) {
      const id = `smuggle-${tname}-${sname}`;
      const tail: Step[] =
        sname === 'with-final-pipelined-quit' ? [{ expect: [250, 221] }] : [{ expect: [250] }, ...quit];
      add({
        id,
        klass: 'smuggling',
        listener: 'open',
        steps: [...open(), ...envelope(), ...split(smuggled(id, t), t), ...tail],
        messages: 1,
      });
    }
    // Reject mode (Postfix smtpd_forbid_bare_newline): 550 5.5.2, nothing delivered. The NUL and SP
    // variants have no bare CR/LF, so they are one ordinary message even there.
    const id = `smuggle-${tname}-reject-mode`;
    const bare = /\r(?!\n)|(?<!\r)\n/.test(t);
    add({
      id,
      klass: 'smuggling',
      listener: 'strict',
      steps: [
        ...open(),
        ...envelope(),
        { send: `${smuggled(id, t)}.\r\n` },
        { expect: [bare ? 550 : 250] },
        ...quit,
      ],
      messages: bare ? 0 : 1,
    });
  }
  // Two real messages pipelined in one write stay exactly two.
  add({
    id: 'smuggle-control-two-pipelined',
    klass: 'smuggling',
    listener: 'open',
    steps: [
      ...open(),
      ...envelope(),
      {
        send: `${message('smuggle-control-two-pipelined')}.\r\nMAIL FROM:<dev@local.test>\r\nRCPT TO:<a@local.test>\r\nDATA\r\n`,
      },
      { expect: [250, 250, 250, 354] },
      { send: `${message('smuggle-control-two-pipelined', 'second')}.\r\n` },
      { expect: [250] },
      ...quit,
    ],
    messages: 2,
  });
  // LF-only client: smtp-server ends DATA only on CRLF.CRLF, so "\n.\n" never ends the message; the
  // idle timeout answers 421 and nothing is acknowledged or delivered (the device retries).
  for (const [i, end] of ['\n.\n', '\n.\nQUIT\n'].entries()) {
    add({
      id: `smuggle-lf-only-client-${i}`,
      klass: 'smuggling',
      listener: 'slow',
      steps: [
        { expect: [220] },
        { send: 'EHLO lf.test\nMAIL FROM:<dev@local.test>\nRCPT TO:<a@local.test>\nDATA\n' },
        { expect: [250, 250, 250, 354] },
        { send: `Subject: lf\nX-Case: smuggle-lf-only-client-${i}\n\nbody${end}` },
        { expect: [421] },
        { expectClosed: true },
      ],
      messages: 0,
    });
  }

  // --- STARTTLS command injection (CVE-2011-0411 class) --------------------------------------------
  const valid = plain(APP_USER.username, APP_USER.password);
  const injections: Record<string, string> = {
    'rset-mail-auth': `RSET\r\nMAIL FROM:<injected@evil.test>\r\nAUTH PLAIN ${valid}\r\n`,
    'auth-only': `AUTH PLAIN ${valid}\r\n`,
    'full-transaction': `MAIL FROM:<injected@evil.test>\r\nRCPT TO:<v@local.test>\r\nDATA\r\nSubject: SMUGGLED-inj\r\n\r\nx\r\n.\r\n`,
    'ehlo-auth': `EHLO evil.test\r\nAUTH PLAIN ${valid}\r\n`,
    'noop150-mail': `${'NOOP\r\n'.repeat(150)}MAIL FROM:<injected@evil.test>\r\n`,
    'noop250-auth': `${'NOOP\r\n'.repeat(250)}AUTH PLAIN ${valid}\r\n`,
    'auth-login-steps': `AUTH LOGIN\r\n${b64(APP_USER.username)}\r\n${b64(APP_USER.password)}\r\n`,
    'bare-lf-commands': `\nMAIL FROM:<injected@evil.test>\nAUTH PLAIN ${valid}\n`,
    quit: 'QUIT\r\n',
    'starttls-again': 'STARTTLS\r\n',
  };
  for (const [name, injected] of Object.entries(injections)) {
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      add({
        id: `starttls-inject-${name}-${version}`,
        klass: 'starttls-injection',
        listener: 'submission',
        source: '127.0.0.7',
        steps: [
          ...open(),
          { send: `STARTTLS\r\n${injected}` },
          // STARTTLS answers 220; the injected plaintext is discarded, never answered inside TLS.
          { startTls: { minVersion: version, maxVersion: version }, alreadySent: true },
          { send: 'EHLO client.test\r\n' },
          { expect: [250] },
          // Not logged in: the injected AUTH never ran.
          { send: 'MAIL FROM:<after@local.test>\r\n' },
          { expect: [530] },
          ...quit,
        ],
        messages: 0,
      });
    }
  }

  // --- long lines -----------------------------------------------------------------------------------
  add({
    id: 'long-command-20k',
    klass: 'long-lines',
    listener: 'open',
    steps: [...open(), { send: `NOOP ${'a'.repeat(20_000)}\r\n` }, { expect: [421] }, { expectClosed: true }],
    messages: 0,
  });
  add({
    id: 'long-partial-17k',
    klass: 'long-lines',
    listener: 'open',
    steps: [...open(), { send: 'X'.repeat(17_000) }, { expect: [421] }, { expectClosed: true }],
    messages: 0,
  });
  add({
    id: 'long-ehlo-400',
    klass: 'long-lines',
    listener: 'open',
    steps: [{ expect: [220] }, { send: `EHLO ${'h'.repeat(400)}\r\n` }, { expect: [501] }, ...quit],
    messages: 0,
  });
  add({
    id: 'long-mail-from-5k',
    klass: 'long-lines',
    listener: 'open',
    steps: [
      ...open(),
      { send: `MAIL FROM:<${'l'.repeat(5000)}@local.test>\r\n` },
      { expect: [501] },
      ...quit,
    ],
    messages: 0,
  });
  add({
    id: 'long-rcpt-5k',
    klass: 'long-lines',
    listener: 'open',
    steps: [
      ...open(),
      { send: 'MAIL FROM:<d@local.test>\r\n' },
      { expect: [250] },
      { send: `RCPT TO:<${'r'.repeat(5000)}@local.test>\r\n` },
      { expect: [501] },
      ...quit,
    ],
    messages: 0,
  });
  for (const [listener, limit] of [
    ['open', 16 * 1024],
    ['strict', 998],
  ] as const) {
    for (const len of [998, 999, 4096, 16 * 1024, 16 * 1024 + 1, 100_000, 2 * 1024 * 1024]) {
      const inHeader = len < 5000;
      for (const where of inHeader ? ['body', 'header'] : ['body']) {
        const id = `long-data-line-${listener}-${where}-${len}`;
        const line = 'x'.repeat(len);
        const text =
          where === 'body'
            ? message(id, line)
            : `From: <d@local.test>\r\nX-Case: ${id}\r\nX-Long: ${line.slice(8)}\r\n\r\nb\r\n`;
        const ok = len <= limit;
        add({
          id,
          klass: 'long-lines',
          listener,
          steps: [...open(), ...envelope(), { send: `${text}.\r\n` }, { expect: [ok ? 250 : 550] }, ...quit],
          messages: ok ? 1 : 0,
        });
      }
    }
  }

  // --- NUL bytes ------------------------------------------------------------------------------------
  add({
    id: 'nul-in-verb',
    klass: 'nul-bytes',
    listener: 'open',
    steps: [...open(), { send: 'NO\0OP\r\n' }, { expect: [500] }, ...quit],
    messages: 0,
  });
  add({
    id: 'nul-in-ehlo',
    klass: 'nul-bytes',
    listener: 'open',
    steps: [{ expect: [220] }, { send: 'EHLO a\0b.test\r\n' }, { expect: [501] }, ...quit],
    messages: 0,
  });
  add({
    id: 'nul-in-mail',
    klass: 'nul-bytes',
    listener: 'open',
    steps: [...open(), { send: 'MAIL FROM:<a\0b@local.test>\r\n' }, { expect: [501] }, ...quit],
    messages: 0,
  });
  add({
    id: 'nul-in-rcpt',
    klass: 'nul-bytes',
    listener: 'open',
    steps: [
      ...open(),
      { send: 'MAIL FROM:<a@local.test>\r\n' },
      { expect: [250] },
      { send: 'RCPT TO:<v\0@local.test>\r\n' },
      { expect: [501] },
      ...quit,
    ],
    messages: 0,
  });
  add({
    id: 'nul-after-rcpt-domain',
    klass: 'nul-bytes',
    listener: 'open',
    steps: [
      ...open(),
      { send: 'MAIL FROM:<a@local.test>\r\n' },
      { expect: [250] },
      { send: 'RCPT TO:<v@local.test\0gmail.com>\r\n' },
      { expect: [501] },
      ...quit,
    ],
    messages: 0,
  });
  for (const where of ['header-name', 'header-value', 'body', 'line-start', 'many']) {
    const id = `nul-in-data-${where}`;
    const text =
      where === 'header-name'
        ? // Not a header field: ends the header block (an empty line is inserted before it).
          `X-Case: ${id}\r\nX-Ca\0se: x\r\n\r\nb\r\n`
        : where === 'header-value'
          ? `Subject: a\0b\r\nX-Case: ${id}\r\n\r\nb\r\n`
          : where === 'body'
            ? message(id, 'a\0b')
            : where === 'line-start'
              ? message(id, '\0.\r\n\0')
              : message(id, '\0'.repeat(10_000));
    add({
      id,
      klass: 'nul-bytes',
      listener: 'open',
      steps: [...open(), ...envelope(), { send: `${text}.\r\n` }, { expect: [250] }, ...quit],
      messages: 1,
    });
  }

  // --- oversized headers ----------------------------------------------------------------------------
  for (const [listener, limit] of [
    ['open', 100 * 1024],
    ['strict', 8 * 1024],
  ] as const) {
    for (const [shape, size] of [
      ['fields', 4 * 1024],
      ['fields', 9 * 1024],
      ['fields', 99 * 1024],
      ['fields', 1200 * 1024],
      ['folded', 7 * 1024],
      ['folded', 220 * 1024],
    ] as const) {
      const id = `big-header-${listener}-${shape}-${size}`;
      const head =
        shape === 'fields'
          ? `X-Pad: ${'p'.repeat(490)}\r\n`.repeat(Math.ceil(size / 500))
          : `Subject: s\r\n${` ${'f'.repeat(70)}\r\n`.repeat(Math.ceil(size / 73))}`;
      const total = head.length + `X-Case: ${id}\r\n`.length;
      const ok = total <= limit;
      add({
        id,
        klass: 'oversized-headers',
        listener,
        steps: [
          ...open(),
          ...envelope(),
          { send: `X-Case: ${id}\r\n${head}\r\nbody\r\n.\r\n` },
          { expect: [ok ? 250 : 552] },
          ...quit,
        ],
        messages: ok ? 1 : 0,
      });
    }
  }

  // --- 8-bit junk (seeded, reproducible) ------------------------------------------------------------
  let seed = 42;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  const junk = (n: number) =>
    Buffer.from(Array.from({ length: n }, () => 0x80 + (rnd() % 128))).toString('latin1');
  for (let i = 0; i < 6; i++) {
    const id = `8bit-body-${i}`;
    add({
      id,
      klass: '8bit-junk',
      listener: 'open',
      steps: [
        ...open(),
        ...envelope(),
        { send: Buffer.from(`${message(id, junk(200 + i * 500))}.\r\n`, 'latin1') },
        { expect: [250] },
        ...quit,
      ],
      messages: 1,
    });
  }
  for (let i = 0; i < 4; i++) {
    const id = `8bit-header-${i}`;
    add({
      id,
      klass: '8bit-junk',
      listener: 'open',
      steps: [
        ...open(),
        ...envelope(),
        { send: Buffer.from(`Subject: ${junk(60)}\r\nX-Case: ${id}\r\n\r\nb\r\n.\r\n`, 'latin1') },
        { expect: [250] },
        ...quit,
      ],
      messages: 1,
    });
  }
  add({
    id: '8bit-verb',
    klass: '8bit-junk',
    listener: 'open',
    steps: [...open(), { send: Buffer.from(`${junk(8)}\r\n`, 'latin1') }, { expect: [500] }, ...quit],
    messages: 0,
  });
  // smtp-server takes any non-ASCII EHLO name; the Received header shows it as "?" characters.
  add({
    id: '8bit-ehlo',
    klass: '8bit-junk',
    listener: 'open',
    steps: [
      { expect: [220] },
      { send: Buffer.from(`EHLO ${junk(10)}\r\n`, 'latin1') },
      { expect: [250] },
      ...quit,
    ],
    messages: 0,
  });
  add({
    id: '8bit-mail-invalid-utf8',
    klass: '8bit-junk',
    listener: 'open',
    steps: [
      ...open(),
      { send: Buffer.from('MAIL FROM:<\xff\xfe@local.test>\r\n', 'latin1') },
      { expect: [501] },
      ...quit,
    ],
    messages: 0,
  });
  add({
    id: '8bit-rcpt-invalid-utf8',
    klass: '8bit-junk',
    listener: 'open',
    steps: [
      ...open(),
      { send: 'MAIL FROM:<a@local.test>\r\n' },
      { expect: [250] },
      { send: Buffer.from('RCPT TO:<\xc3\x28@local.test>\r\n', 'latin1') },
      { expect: [501] },
      ...quit,
    ],
    messages: 0,
  });
  add({
    id: '8bit-utf8-address-smtputf8',
    klass: '8bit-junk',
    listener: 'open',
    steps: [
      ...open(),
      { send: 'MAIL FROM:<jürgen@local.test> SMTPUTF8\r\nRCPT TO:<bücher@local.test>\r\nDATA\r\n' },
      { expect: [250, 250, 354] },
      { send: `${message('8bit-utf8-address-smtputf8', 'grüße')}.\r\n` },
      { expect: [250] },
      ...quit,
    ],
    messages: 1,
  });
  add({
    id: '8bit-binary-garbage-session',
    klass: '8bit-junk',
    listener: 'open',
    steps: [
      { expect: [220] },
      { send: Buffer.from(`${junk(3000)}\r\n`, 'latin1') },
      { expect: [500] },
      ...quit,
    ],
    messages: 0,
  });

  // --- early talkers and protocol confusion ----------------------------------------------------------
  add({
    id: 'early-ehlo',
    klass: 'early-talker',
    listener: 'open',
    steps: [{ send: 'EHLO fast.test\r\n' }, { expect: [421] }, { expectClosed: true }],
    messages: 0,
  });
  add({
    id: 'early-full-transaction',
    klass: 'early-talker',
    listener: 'open',
    steps: [
      {
        send: `EHLO fast.test\r\nMAIL FROM:<d@local.test>\r\nRCPT TO:<a@local.test>\r\nDATA\r\n${message('early-full-transaction')}.\r\n`,
      },
      { expect: [421] },
      { expectClosed: true },
    ],
    messages: 0,
  });
  add({
    id: 'early-garbage',
    klass: 'early-talker',
    listener: 'open',
    steps: [
      { send: '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n' },
      { expect: [421] },
      { expectClosed: true },
    ],
    messages: 0,
  });
  add({
    id: 'early-talker-submission',
    klass: 'early-talker',
    listener: 'submission',
    source: '127.0.0.7',
    steps: [{ send: `AUTH PLAIN ${valid}\r\n` }, { expect: [421] }, { expectClosed: true }],
    messages: 0,
  });
  for (const method of ['GET', 'POST', 'CONNECT', 'OPTIONS']) {
    add({
      id: `http-${method}`,
      klass: 'early-talker',
      listener: 'open',
      steps: [
        { expect: [220] },
        { send: `${method} / HTTP/1.1\r\nHost: x\r\n\r\n` },
        { expect: [421] },
        { expectClosed: true },
      ],
      messages: 0,
    });
  }

  // --- relay attempts: allowed source (domain-limited), disallowed source, unauthenticated ------------
  const rcptCases: [string, number][] = [
    ['a@local.test', 250],
    ['A@LOCAL.TEST', 250],
    ['a@eu.local.test', 250],
    ['victim@gmail.com', 550],
    ['VICTIM@GMAIL.COM', 550],
    ['victim%gmail.com@local.test', 250],
    ['@local.test:victim@gmail.com', 550],
    ['@a.local.test,@b.local.test:victim@gmail.com', 550],
    ['"victim@gmail.com"@local.test', 501],
    ['victim@gmail.com@local.test', 501],
    ['victim@[203.0.113.5]', 550],
    ['victim@local.test.evil.test', 550],
    ['victim@evillocal.test', 550],
    ['postmaster', 550],
    ['victim@gmail.com>', 501],
    ['<victim@gmail.com', 501],
  ];
  rcptCases.forEach(([rcpt, code], i) => {
    const id = `relay-allowed-source-${i}`;
    const deliver = code === 250;
    add({
      id,
      klass: 'open-relay',
      listener: 'open',
      steps: [
        ...open(),
        { send: 'MAIL FROM:<dev@local.test>\r\n' },
        { expect: [250] },
        { send: `RCPT TO:${rcpt.startsWith('<') || rcpt.endsWith('>') ? rcpt : `<${rcpt}>`}\r\n` },
        { expect: [code] },
        ...(deliver
          ? [{ send: 'DATA\r\n' }, { expect: [354] }, { send: `${message(id)}.\r\n` }, { expect: [250] }]
          : []),
        ...quit,
      ],
      messages: deliver ? 1 : 0,
    });
  });
  for (const [i, rcpt] of ['a@local.test', 'victim@gmail.com'].entries()) {
    add({
      id: `relay-disallowed-source-${i}`,
      klass: 'open-relay',
      listener: 'open',
      source: '127.0.0.2',
      steps: [{ expect: [554] }, { expectClosed: true }],
      messages: 0,
    });
    add({
      id: `relay-unauthenticated-${i}`,
      klass: 'open-relay',
      listener: 'submission',
      source: '127.0.0.7',
      steps: [
        ...open(),
        { startTls: {} },
        { send: 'EHLO c.test\r\n' },
        { expect: [250] },
        { send: `MAIL FROM:<x@local.test>\r\nRCPT TO:<${rcpt}>\r\nDATA\r\n` },
        { expect: [530, 503, 503] },
        ...quit,
      ],
      messages: 0,
    });
    add({
      id: `relay-unauthenticated-cleartext-${i}`,
      klass: 'open-relay',
      listener: 'submission',
      source: '127.0.0.7',
      steps: [
        ...open(),
        { send: `MAIL FROM:<x@local.test>\r\nRCPT TO:<${rcpt}>\r\n` },
        { expect: [530, 503] },
        ...quit,
      ],
      messages: 0,
    });
  }
  add({
    id: 'relay-disallowed-source-trusted-listener',
    klass: 'open-relay',
    listener: 'trusted',
    source: '127.0.0.2',
    steps: [...open(), { send: 'MAIL FROM:<x@local.test>\r\n' }, { expect: [530] }, ...quit],
    messages: 0,
  });
  // The authenticated app may relay anywhere (that is what AUTH is for).
  add({
    id: 'relay-authenticated-anywhere',
    klass: 'open-relay',
    listener: 'submission',
    source: '127.0.0.7',
    steps: [
      ...open(),
      { startTls: {} },
      { send: 'EHLO c.test\r\n' },
      { expect: [250] },
      { send: `AUTH PLAIN ${valid}\r\n` },
      { expect: [235] },
      ...envelope('app@contoso.com', 'someone@fabrikam.com'),
      { send: `${message('relay-authenticated-anywhere')}.\r\n` },
      { expect: [250] },
      ...quit,
    ],
    messages: 1,
  });
  // XCLIENT / PROXY cannot spoof the source into the allow-list.
  add({
    id: 'relay-xclient-spoof',
    klass: 'open-relay',
    listener: 'trusted',
    source: '127.0.0.2',
    steps: [
      ...open(),
      { send: 'XCLIENT ADDR=127.0.0.1\r\n' },
      { expect: [550] },
      { send: 'MAIL FROM:<x@local.test>\r\n' },
      { expect: [530] },
      ...quit,
    ],
    messages: 0,
  });
  add({
    id: 'relay-proxy-spoof',
    klass: 'open-relay',
    listener: 'trusted',
    source: '127.0.0.2',
    steps: [
      { expect: [220] },
      { send: 'PROXY TCP4 127.0.0.1 127.0.0.1 1 25\r\n' },
      { expect: [500] },
      { send: 'EHLO c\r\nMAIL FROM:<x@local.test>\r\n' },
      { expect: [250, 530] },
      ...quit,
    ],
    messages: 0,
  });

  // --- AUTH before TLS ------------------------------------------------------------------------------
  const authLines: Record<string, string> = {
    'plain-valid': `AUTH PLAIN ${valid}`,
    'plain-invalid': `AUTH PLAIN ${plain('app', 'wrong')}`,
    'plain-no-initial': 'AUTH PLAIN',
    'login-valid': `AUTH LOGIN ${b64(APP_USER.username)}`,
    'login-bare': 'AUTH LOGIN',
    'cram-md5': 'AUTH CRAM-MD5',
    xoauth2: `AUTH XOAUTH2 ${b64('user=app\x01auth=Bearer x\x01\x01')}`,
    lowercase: `auth plain ${valid}`,
  };
  for (const [name, line] of Object.entries(authLines)) {
    add({
      id: `auth-before-tls-${name}`,
      klass: 'auth-before-tls',
      listener: 'submission',
      source: '127.0.0.7',
      steps: [
        ...open(),
        { send: `${line}\r\n` },
        { expect: [530] },
        { send: 'MAIL FROM:<x@local.test>\r\n' },
        { expect: [530] },
        ...quit,
      ],
      messages: 0,
    });
    // A plain listener without cleartext AUTH does not know AUTH at all.
    add({
      id: `auth-plain-listener-${name}`,
      klass: 'auth-before-tls',
      listener: 'open',
      source: '127.0.0.1',
      steps: [...open(), { send: `${line}\r\n` }, { expect: [500] }, ...quit],
      messages: 0,
    });
  }

  // --- AUTH brute force (per-IP across connections; each case its own source address) ---------------
  const wrong = (n: number) => `AUTH PLAIN ${plain('app', `guess-${n}`)}\r\n`;
  let ip = 10;
  const bf = (name: string, steps: Step[]) =>
    add({
      id: `bruteforce-${name}`,
      klass: 'auth-brute-force',
      listener: 'trusted',
      source: `127.0.1.${ip++}`,
      steps,
      messages: 0,
    });
  bf('one-connection', [
    ...open(),
    ...[1, 2, 3, 4].flatMap((n) => [{ send: wrong(n) }, { expect: [535] }]),
    { send: wrong(5) },
    { expect: [421] },
    { expectClosed: true },
  ]);
  bf('pipelined-ten', [
    ...open(),
    { send: Array.from({ length: 10 }, (_, n) => wrong(n)).join('') },
    { expect: [535, 535, 535, 535, 421] },
    { expectClosed: true },
  ]);
  bf('auth-login-steps', [
    ...open(),
    ...[1, 2, 3, 4].flatMap((n) => [
      { send: 'AUTH LOGIN\r\n' },
      { expect: [334] },
      { send: `${b64('app')}\r\n` },
      { expect: [334] },
      { send: `${b64(`bad-${n}`)}\r\n` },
      { expect: [535] },
    ]),
    { send: 'AUTH LOGIN\r\n' },
    { expect: [334] },
    { send: `${b64('app')}\r\n` },
    { expect: [334] },
    { send: `${b64('bad-5')}\r\n` },
    { expect: [421] },
    { expectClosed: true },
  ]);
  bf('blocked-then-valid-password', [
    ...open(),
    { send: Array.from({ length: 5 }, (_, n) => wrong(n)).join('') },
    { expect: [535, 535, 535, 535, 421] },
    { expectClosed: true },
    // Blocked: refused at connect, so even the right password never gets a chance.
    { reconnect: true },
    { expect: [421] },
    { expectClosed: true },
  ]);
  bf('unknown-users', [
    ...open(),
    ...['root', 'admin', 'test', 'info'].flatMap((u) => [
      { send: `AUTH PLAIN ${plain(u, 'x')}\r\n` },
      { expect: [535] },
    ]),
    { send: `AUTH PLAIN ${plain('postmaster', 'x')}\r\n` },
    { expect: [421] },
    { expectClosed: true },
  ]);
  // Undecodable AUTH data is a 501 syntax error, not a password guess; real guesses still count.
  bf('garbage-base64', [
    ...open(),
    { send: 'AUTH PLAIN !!!notbase64!!!\r\nAUTH PLAIN ====\r\n' },
    { expect: [501, 501] },
    { send: Array.from({ length: 5 }, (_, n) => wrong(n)).join('') },
    { expect: [535, 535, 535, 535, 421] },
    { expectClosed: true },
  ]);
  // Across connections: two failures per connection; the third connection is cut at its first
  // failure, the fourth is refused at connect.
  bf('across-connections', [
    ...open(),
    { send: wrong(1) + wrong(2) },
    { expect: [535, 535] },
    ...quit,
    { reconnect: true },
    ...open(),
    { send: wrong(3) + wrong(4) },
    { expect: [535, 535] },
    ...quit,
    { reconnect: true },
    ...open(),
    { send: wrong(5) },
    { expect: [421] },
    { expectClosed: true },
    { reconnect: true },
    { expect: [421] },
    { expectClosed: true },
  ]);

  // --- command abuse, limits, policy ------------------------------------------------------------------
  add({
    id: 'unknown-commands-5',
    klass: 'command-abuse',
    listener: 'open',
    steps: [
      ...open(),
      { send: 'FOO\r\nBAR\r\nBAZ\r\nQUX\r\nZAP\r\n' },
      { expect: [500, 500, 500, 500, 421] },
      { expectClosed: true },
    ],
    messages: 0,
  });
  add({
    id: 'unknown-commands-wiz-shell-kill',
    klass: 'command-abuse',
    listener: 'open',
    steps: [
      ...open(),
      { send: 'WIZ\r\nSHELL\r\nKILL\r\nDEBUG\r\nEXPN root\r\n' },
      { expect: [500, 500, 500, 500, 421] },
      { expectClosed: true },
    ],
    messages: 0,
  });
  add({
    id: 'vrfy-help',
    klass: 'command-abuse',
    listener: 'open',
    steps: [...open(), { send: 'VRFY root\r\nHELP\r\n' }, { expect: [252, 214] }, ...quit],
    messages: 0,
  });
  add({
    id: 'noop-flood-20000',
    klass: 'command-abuse',
    listener: 'open',
    steps: [
      ...open(),
      { send: 'NOOP\r\n'.repeat(20_000) },
      { expect: Array.from({ length: 20_000 }, () => 250) },
      ...quit,
    ],
    messages: 0,
  });
  add({
    id: 'rcpt-before-mail',
    klass: 'command-abuse',
    listener: 'open',
    steps: [...open(), { send: 'RCPT TO:<a@local.test>\r\nDATA\r\n' }, { expect: [503, 503] }, ...quit],
    messages: 0,
  });
  add({
    id: 'nested-mail',
    klass: 'command-abuse',
    listener: 'open',
    steps: [
      ...open(),
      { send: 'MAIL FROM:<a@local.test>\r\nMAIL FROM:<b@local.test>\r\n' },
      { expect: [250, 503] },
      ...quit,
    ],
    messages: 0,
  });
  add({
    id: 'data-without-rcpt',
    klass: 'command-abuse',
    listener: 'open',
    steps: [...open(), { send: 'MAIL FROM:<a@local.test>\r\nDATA\r\n' }, { expect: [250, 503] }, ...quit],
    messages: 0,
  });
  add({
    id: 'mail-before-ehlo',
    klass: 'command-abuse',
    listener: 'open',
    steps: [{ expect: [220] }, { send: 'MAIL FROM:<a@local.test>\r\n' }, { expect: [503] }, ...quit],
    messages: 0,
  });
  add({
    id: 'size-param-over',
    klass: 'command-abuse',
    listener: 'strict',
    steps: [...open(), { send: 'MAIL FROM:<a@local.test> SIZE=999999999\r\n' }, { expect: [552] }, ...quit],
    messages: 0,
  });
  add({
    id: 'size-param-bad',
    klass: 'command-abuse',
    listener: 'open',
    steps: [...open(), { send: 'MAIL FROM:<a@local.test> SIZE=abc\r\n' }, { expect: [501] }, ...quit],
    messages: 0,
  });
  add({
    id: 'too-many-recipients',
    klass: 'command-abuse',
    listener: 'open',
    steps: [
      ...open(),
      {
        send: `MAIL FROM:<a@local.test>\r\n${Array.from({ length: 12 }, (_, k) => `RCPT TO:<r${k}@local.test>\r\n`).join('')}`,
      },
      { expect: [250, ...Array.from({ length: 10 }, () => 250), 452, 452] },
      ...quit,
    ],
    messages: 0,
  });
  add({
    id: 'rate-limit',
    klass: 'command-abuse',
    listener: 'open',
    source: '127.0.0.5',
    steps: [
      ...open(),
      ...[1, 2, 3].flatMap((k) => [
        ...envelope(),
        { send: `${message('rate-limit', `n${k}`)}.\r\n` },
        { expect: [250] },
      ]),
      { send: 'MAIL FROM:<dev@local.test>\r\n' },
      { expect: [451] },
      ...quit,
    ],
    messages: 3,
  });
  add({
    id: 'sender-denied',
    klass: 'command-abuse',
    listener: 'open',
    source: '127.0.0.6',
    steps: [...open(), { send: 'MAIL FROM:<ceo@contoso.com>\r\n' }, { expect: [550] }, ...quit],
    messages: 0,
  });
  add({
    id: 'session-deadline-trickle',
    klass: 'command-abuse',
    listener: 'slow',
    steps: [
      ...open(),
      ...envelope(),
      { trickle: 'X-Trickle: slowly, one byte at a time\r\n', everyMs: 150 },
      { untilClosed: { others: 0, last: 421 } },
    ],
    messages: 0,
  });
  add({
    id: 'session-deadline-noop-keepalive',
    klass: 'command-abuse',
    listener: 'slow',
    steps: [
      ...open(),
      { trickle: 'NOOP\r\n'.repeat(10), everyMs: 100 },
      { untilClosed: { others: 250, last: 421 } },
    ],
    messages: 0,
  });
  add({
    id: 'rst-mid-data',
    klass: 'command-abuse',
    listener: 'open',
    steps: [...open(), ...envelope(), { send: `X-Case: rst-mid-data\r\n\r\n${'y'.repeat(50_000)}` }],
    messages: 0,
  });

  return cases;
}
