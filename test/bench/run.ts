// `npm run bench`: every benchmark, each printing its figures. Targets are checked and reported here,
// never in timed tests. Benchmarks from other rooms register in BENCHES.
import { benchIntake } from './smtp.ts';
import { benchTransports } from './transports.ts';

type Bench = { name: string; run: () => Promise<string[]> };

const BENCHES: Bench[] = [
  {
    name: 'intake: smtp-source, 20 sessions, relaykit (capture route) vs bare fsync smtp-server',
    async run() {
      const lines: string[] = [];
      for (const r of await benchIntake()) {
        lines.push(
          `${r.size.padEnd(6)} ${r.messages} msgs: relaykit ${r.relaykit.toFixed(0)} msg/s, bare ${r.bare.toFixed(0)} msg/s, ratio ${r.ratio.toFixed(2)} (target >= 0.80: ${r.ratio >= 0.8 ? 'met' : 'NOT met'})`,
        );
      }
      return lines;
    },
  },
  {
    name: 'transports: MIME→ACS conversion, ACS REST and SMTP smarthost against the simulators',
    run: benchTransports,
  },
];

const only = process.argv[2];
for (const b of BENCHES) {
  if (only && !b.name.includes(only)) continue;
  console.log(`== ${b.name}`);
  try {
    for (const line of await b.run()) console.log(`   ${line}`);
  } catch (err) {
    console.log(`   failed: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
