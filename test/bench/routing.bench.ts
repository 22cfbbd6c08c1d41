// Router benchmark: `node test/bench/routing.bench.ts`. Prints throughput figures; asserts nothing
// (speed targets live here, never in timed tests). Figures: compile time of a 50-rule set,
// routeMessage per message (10 recipients, 20 header fields, 50 rules, most failing late), rejectAtRcpt
// per recipient, and the worst-case header glob against a maximal value.
import { performance } from 'node:perf_hooks';
import { parseConfig } from '../../appliance/src/config/load.ts';
import { globMatch, MAX_MATCH_INPUT } from '../../appliance/src/routing/patterns.ts';
import {
  compileRules,
  type RouteInput,
  rejectAtRcpt,
  routeMessage,
} from '../../appliance/src/routing/router.ts';

function rules(n: number): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      name: `r${i}`,
      match: {
        sourceNetwork: ['10.0.0.0/8', '2001:db8::/32'],
        mailFrom: [`*@dept${i}.contoso.com`, `scanner${i}@contoso.com`],
        recipientDomain: ['*.fabrikam.com', 'example.org'],
        header: { name: 'X-Route', value: [`*lane-${i}*`] },
      },
      action:
        i % 5 === 0
          ? { reject: true }
          : { route: i % 2 ? 'acs' : 'graph', rewriteSender: 'noreply@contoso.com' },
    });
  }
  return out;
}

const config = parseConfig(
  {
    listeners: [{ name: 'l', port: 2525 }],
    identities: [{ name: 'scanners', networks: ['10.0.0.0/8'] }],
    acceptedDomains: ['contoso.com', '*.contoso.com'],
    routes: ['local', 'acs', 'graph'].map((name) => ({ name, type: 'capture', directory: `/tmp/${name}` })),
    defaultRoute: 'local',
    rules: rules(50),
  },
  'bench',
  '/tmp',
);

function time(label: string, iterations: number, unit: string, fn: (i: number) => unknown): void {
  for (let i = 0; i < Math.min(iterations, 1000); i++) fn(i); // warm-up
  const start = performance.now();
  for (let i = 0; i < iterations; i++) fn(i);
  const ms = performance.now() - start;
  const per = (ms * 1000) / iterations;
  console.log(
    `${label.padEnd(58)} ${per.toFixed(2).padStart(9)} µs/${unit}  ${Math.round(iterations / (ms / 1000))} ${unit}/s`,
  );
}

time('compileRules, 50 rules', 2000, 'compile', () => compileRules(config));
const compiled = compileRules(config);

const message: RouteInput = {
  identity: 'scanners',
  sourceIp: '10.1.2.3',
  mailFrom: 'scanner49@contoso.com',
  recipients: Array.from({ length: 10 }, (_, i) => `user${i}@${i % 2 ? 'eu.fabrikam.com' : 'contoso.com'}`),
  size: 250_000,
  headers: [
    ...Array.from({ length: 19 }, (_, i) => ({ name: `X-Filler-${i}`, value: 'x'.repeat(60) })),
    { name: 'X-Route', value: `${'y'.repeat(200)} lane-49 ${'z'.repeat(200)}` },
  ],
};
time('routeMessage, 50 rules × 10 recipients, 20 headers', 20_000, 'msg', () =>
  routeMessage(compiled, message),
);
time('rejectAtRcpt, 50 rules', 200_000, 'rcpt', (i) =>
  rejectAtRcpt(compiled, { ...message, recipient: `user${i % 10}@eu.fabrikam.com` }),
);
const worst = 'a'.repeat(MAX_MATCH_INPUT);
time(`worst-case glob *a*a*a*a*a*a*b on ${MAX_MATCH_INPUT} chars`, 2000, 'match', () =>
  globMatch('*a*a*a*a*a*a*b', worst),
);
const decision = routeMessage(compiled, message);
console.log(
  `(decision: ${decision.legs.map((l) => `${l.rule}→${l.route}×${l.recipients.length}`).join(', ')}; rejections ${decision.rejections.length})`,
);
