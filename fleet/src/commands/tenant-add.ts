// `relaykit tenant add NAME` (flags or --file) and `relaykit tenant add --all FILE`: check the client(s)
// first, then per client create the stack, set its config (secrets as secrets), `up` with progress,
// write the per-client folder and print the exact next steps. --all runs a few clients at a time and
// is resumable: clients recorded as done in <out>/.relaykit-add-state.json are skipped on a rerun.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { println } from '../../../appliance/src/cli/io.ts';
import { table } from '../../../appliance/src/cli/table.ts';
import {
  EXIT,
  type FleetContext,
  FleetError,
  jsonOption,
  outOption,
  printJson,
  UsageError,
} from '../cli-kit.ts';
import { type Client, checkClients, readClientFile } from '../client-file.ts';
import { clientDir, plainOutputs, writeClientFolder } from '../client-folder.ts';
import type { FleetEngine } from '../engine.ts';
import { nextSteps } from '../next-steps.ts';
import { asStackConfig, clientStackConfig, stackName } from '../stack-config.ts';

interface AddOpts {
  file?: string;
  all?: string;
  tenantId?: string;
  subscription?: string;
  domain: string[];
  mailbox: string[];
  site: string[];
  route: string[];
  acsDomain?: string;
  concurrency: string;
  out: string;
  json?: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

/** `--site hq=192.168.10.0/24,192.168.11.0/24` → a client file site. */
function siteFlag(text: string): { name: string; deviceNetworks: string[] } {
  const [name, nets] = text.split('=', 2);
  if (!name || !nets) throw new UsageError(`--site wants NAME=CIDR[,CIDR...], got "${text}"`);
  return { name, deviceNetworks: nets.split(',') };
}

function clientFromFlags(name: string, o: AddOpts): Client {
  const entry = {
    name,
    ...(o.tenantId === undefined ? {} : { tenantId: o.tenantId }),
    ...(o.subscription === undefined ? {} : { subscription: o.subscription }),
    domains: o.domain,
    mailboxes: o.mailbox,
    sites: o.site.map(siteFlag),
    ...(o.route.length === 0 ? {} : { routes: o.route }),
    ...(o.acsDomain === undefined ? {} : { acsDomain: o.acsDomain }),
  };
  return checkClients([entry], 'command line', 'flags')[0] as Client;
}

export interface AddResult {
  readonly client: string;
  readonly stack: string;
  readonly result: 'added' | 'skipped' | 'failed';
  readonly files: readonly string[];
  readonly error?: string;
  readonly nextSteps: readonly string[];
}

/** One client, start to end. Throws on an engine failure (the stack stays for a rerun). */
export async function addClient(
  cli: FleetContext,
  engine: FleetEngine,
  client: Client,
  out: string,
  progress: (line: string) => void,
): Promise<AddResult> {
  const stack = stackName(client.name);
  const config = asStackConfig(clientStackConfig(client, cli.env));
  if (!(await engine.hasStack(stack))) await engine.createStack(stack);
  await engine.setConfig(stack, config);
  const outputs = await engine.up(stack, (line) => progress(`${client.name}: ${line}`));
  const dir = clientDir(out, client.name);
  const steps = nextSteps(client, dir, plainOutputs(outputs));
  const files = writeClientFolder(dir, client, outputs, steps);
  return { client: client.name, stack, result: 'added', files, nextSteps: steps };
}

const STATE_FILE = '.relaykit-add-state.json';
type AddState = Record<string, { result: 'added' | 'failed'; at: string; error?: string }>;

function readState(out: string): AddState {
  const path = join(out, STATE_FILE);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as AddState) : {};
}

/** Runs `work` over items, at most `limit` at a time, in order of start. */
export async function bounded<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await work(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

async function addAll(cli: FleetContext, file: string, o: AddOpts, limit: number): Promise<number> {
  const clients = readClientFile(file);
  const engine = await cli.engine();
  mkdirSync(o.out, { recursive: true });
  const state = readState(o.out);
  const save = () => writeFileSync(join(o.out, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
  const progress = (line: string) => {
    if (!o.json) println(cli.io.stderr, line);
  };
  const results = await bounded(clients, limit, async (client): Promise<AddResult> => {
    if (state[client.name]?.result === 'added')
      return {
        client: client.name,
        stack: stackName(client.name),
        result: 'skipped',
        files: [],
        nextSteps: [],
      };
    try {
      const r = await addClient(cli, engine, client, o.out, progress);
      state[client.name] = { result: 'added', at: new Date(cli.now()).toISOString() };
      return r;
    } catch (err) {
      const error = err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
      state[client.name] = { result: 'failed', at: new Date(cli.now()).toISOString(), error };
      return {
        client: client.name,
        stack: stackName(client.name),
        result: 'failed',
        files: [],
        error,
        nextSteps: [],
      };
    } finally {
      save();
    }
  });
  const failed = results.filter((r) => r.result === 'failed').length;
  if (o.json) printJson(cli.io, { results });
  else {
    for (const l of table(
      ['CLIENT', 'STACK', 'RESULT', 'FILES', 'DETAIL'],
      results.map((r) => [
        r.client,
        r.stack,
        r.result,
        String(r.files.length),
        r.error ??
          (r.result === 'added' ? `see ${clientDir(o.out, r.client)}/NEXT-STEPS.txt` : 'added before'),
      ]),
    ))
      println(cli.io.stdout, l);
    println(
      cli.io.stdout,
      `${results.filter((r) => r.result === 'added').length} added, ${results.filter((r) => r.result === 'skipped').length} skipped, ${failed} failed` +
        (failed > 0
          ? ` — fix and rerun \`relaykit tenant add --all ${file}\`: added clients are skipped`
          : ''),
    );
  }
  return failed > 0 ? EXIT.failed : EXIT.ok;
}

export function registerTenantAdd(tenant: Command, cli: FleetContext): void {
  tenant
    .command('add')
    .description(
      'onboard a client: check, create its stack, set config, up, write its folder, print next steps',
    )
    .argument('[name]', 'client code (2-12 lower-case letters/digits); the stack is named after it')
    .addOption(new Option('--file <file>', 'client file (YAML) holding NAME'))
    .addOption(new Option('--all <file>', 'add every client in this client file (resumable)'))
    .addOption(new Option('--tenant-id <guid>', "the client's Entra tenant ID"))
    .addOption(new Option('--subscription <guid>', "the client's Azure subscription ID"))
    .addOption(new Option('--domain <domain>', 'an accepted domain (repeat)').argParser(collect).default([]))
    .addOption(
      new Option('--mailbox <address>', 'a mailbox the relay sends as (repeat)')
        .argParser(collect)
        .default([]),
    )
    .addOption(
      new Option('--site <name=cidr,...>', 'a site and its device networks (repeat)')
        .argParser(collect)
        .default([]),
    )
    .addOption(
      new Option('--route <kind>', 'a route wanted: graph, acs or hve; the first is the default (repeat)')
        .argParser(collect)
        .default([]),
    )
    .addOption(new Option('--acs-domain <domain>', 'ACS sending domain (with --route acs)'))
    .addOption(new Option('--concurrency <n>', 'with --all: clients added at a time').default('4'))
    .addOption(outOption())
    .addOption(jsonOption())
    .action(
      cli.action(async (name: string | undefined, o: AddOpts) => {
        const limit = Number(o.concurrency);
        if (!Number.isInteger(limit) || limit < 1 || limit > 16)
          throw new UsageError(`--concurrency must be a whole number from 1 to 16, got "${o.concurrency}"`);
        if (o.all !== undefined) {
          if (name !== undefined || o.file !== undefined)
            throw new UsageError('--all takes no NAME and no --file');
          return addAll(cli, o.all, o, limit);
        }
        if (name === undefined) throw new UsageError('missing NAME (or --all FILE)');
        let client: Client;
        if (o.file !== undefined) {
          const found = readClientFile(o.file).find((c) => c.name === name);
          if (found === undefined) throw new FleetError(`${o.file}: no client named ${name}`);
          client = found;
        } else client = clientFromFlags(name, o);
        const engine = await cli.engine();
        const r = await addClient(cli, engine, client, o.out, (line) => {
          if (!o.json) println(cli.io.stderr, line);
        });
        if (o.json) printJson(cli.io, r);
        else {
          println(
            cli.io.stdout,
            `added ${r.client} (stack ${r.stack}); wrote ${r.files.length} files to ${clientDir(o.out, r.client)}`,
          );
          for (const l of r.nextSteps) println(cli.io.stdout, l);
        }
        return EXIT.ok;
      }),
    );
}
