// Fleet scale: `relaykit tenant add --all` over 50 clients, then `relaykit fleet status` over the 50
// stacks in one view, in-process against the fake engine (test/fleet/fake-engine.ts), whose faked cloud
// answers at once: the figures are relaykit's own work (checking the client file, config, folders and
// bundles written, outputs read, site probes, tables), the cloud's time excluded.
import { runFleetCli } from '../../fleet/src/program.ts';
import { client, harness } from '../fleet/harness.ts';
import { captureIo } from '../helpers/io.ts';

export async function benchFleet(clients = 50): Promise<string[]> {
  const h = harness();
  const file = h.clientFile(Array.from({ length: clients }, (_, i) => client(`c${i + 1}`, i + 1)));
  process.env.RELAYKIT_CLIENTS_DIR = h.out;
  const deps = (io: ReturnType<typeof captureIo>) => ({ io, env: {}, fetch, engine: async () => h.engine });
  const addIo = captureIo();
  let t = performance.now();
  const added = await runFleetCli(['tenant', 'add', '--all', file, '--concurrency', '4'], deps(addIo));
  const addMs = performance.now() - t;
  const statusIo = captureIo();
  t = performance.now();
  const status = await runFleetCli(['fleet', 'status'], deps(statusIo));
  const statusMs = performance.now() - t;
  const rows = statusIo
    .out()
    .split('\n')
    .filter((l) => /^c\d+ /.test(l)).length;
  return [
    `tenant add --all, ${clients} clients, concurrency 4: ${addMs.toFixed(0)} ms (${(addMs / clients).toFixed(1)} ms per client; faked cloud answers at once) — exit ${added}`,
    `fleet status over ${clients} stacks (outputs + refresh preview per stack, one table of ${rows} rows): ${statusMs.toFixed(0)} ms — exit ${status}`,
  ];
}

if (import.meta.main) for (const line of await benchFleet()) console.log(line);
