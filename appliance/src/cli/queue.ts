// CLI room: `relaykit-appliance queue|dead ...`, the operator's view of the spool. Talks to the
// running appliance's status port when it answers (so its schedules stay right), else works on the
// spool files directly. Human tables by default (ISO times, ages), --json for scripts.
import type { Command } from 'commander';
import type { Config } from '../config/schema.ts';
import { RelayError } from '../errors.ts';
import { silentLogger } from '../log.ts';
import type { EntrySummary, QueueAdmin as QueueAdminType } from '../ops/queue-admin.ts';
import { QueueAdmin } from '../ops/queue-admin.ts';
import type { SpoolEntry, SpoolFolder } from '../spool/spool.ts';
import { Spool } from '../spool/spool.ts';
import { type CliContext, configOption, jsonOption, loadCommandConfig, UsageError } from './command-kit.ts';
import { addHandoff } from './handoff.ts';
import { type CliIo, println } from './io.ts';
import { age, fields, isoTime, relative, size, table } from './table.ts';

type Shown = SpoolEntry['header'] & { deliveries: SpoolEntry['deliveries']; size: number };

interface Action<T> {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  readonly offline: (admin: QueueAdminType) => Promise<T>;
}

interface Opts {
  config?: string;
  json?: boolean;
}

async function online(config: Config, action: Action<unknown>): Promise<unknown | undefined> {
  if (!config.http.enabled) return undefined;
  const host = config.http.address.includes(':') ? `[${config.http.address}]` : config.http.address;
  let res: Response;
  try {
    // State changes must be JSON (the status port refuses anything a cross-site form could send).
    res = await fetch(`http://${host}:${config.http.port}${action.path}`, {
      method: action.method,
      signal: AbortSignal.timeout(10_000),
      ...(action.method === 'GET' ? {} : { headers: { 'content-type': 'application/json' }, body: '{}' }),
    });
  } catch {
    return undefined; // not running: fall back to the files
  }
  const body = (await res.json()) as { error?: string; code?: string };
  if (res.status === 404) throw new RelayError('RELAY_SPOOL_NOT_FOUND', body.error ?? 'not found');
  if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
  return body;
}

/** Runs an action on the running appliance, or on the spool files when it does not answer. */
async function perform<T>(opts: Opts, action: Action<T>): Promise<T> {
  const { config } = loadCommandConfig(opts);
  const result = await online(config, action);
  if (result !== undefined) return result as T;
  const spool = await Spool.open(config.spool.directory, silentLogger());
  try {
    return await action.offline(new QueueAdmin(spool));
  } finally {
    await spool.close();
  }
}

function legText(l: EntrySummary['legs'][number], now: number): string {
  const tries = l.attempts ? `(${l.attempts} tries)` : '';
  const next = l.nextAttemptAt ? ` next ${isoTime(l.nextAttemptAt)} (${relative(l.nextAttemptAt, now)})` : '';
  const why = l.deadReason ? ` ${l.deadReason}` : l.lastError ? ` last: ${l.lastError}` : '';
  return `${l.route}:${l.status}${tries}${next}${why}`;
}

export function formatList(rows: readonly EntrySummary[], now: number): string[] {
  if (rows.length === 0) return ['(empty)'];
  return table(
    ['ID', 'RECEIVED', 'AGE', 'SIZE', 'FROM', 'RCPT', 'LEGS'],
    rows.map((e) => [
      e.id,
      isoTime(e.receivedAt),
      age(now - Date.parse(e.receivedAt)),
      size(e.size),
      `<${e.from}>`,
      String(e.recipients),
      e.legs.map((l) => legText(l, now)).join('; '),
    ]),
  );
}

export function formatShow(e: Shown, now: number): string[] {
  const tls = e.tls ? [e.tls.protocol, e.tls.cipher].filter(Boolean).join(' ') : undefined;
  const lines = fields([
    ['id', e.id],
    ['received', `${isoTime(e.receivedAt)} (${relative(e.receivedAt, now)})`],
    ['from', `<${e.envelope.mailFrom}>`],
    ['to', e.envelope.rcptTo.join(', ')],
    ['identity', e.identity],
    ['auth user', e.authUser],
    ['source', `${e.sourceIp} on listener ${e.listener}${e.heloName ? ` (HELO ${e.heloName})` : ''}`],
    ['tls', tls],
    ['subject', e.subject],
    ['message-id', e.messageId],
    ['size', `${size(e.size)} (${e.size} bytes)`],
  ]);
  lines.push(
    '',
    ...table(
      ['ROUTE', 'STATUS', 'TRIES', 'NEXT ATTEMPT', 'RECIPIENTS', 'REASON'],
      e.deliveries.map((d) => [
        d.via?.length ? `${d.route} (via ${d.via.join('>')})` : d.route,
        d.status,
        String(d.attempts.length),
        d.status === 'pending' ? `${isoTime(d.nextAttemptAt)} (${relative(d.nextAttemptAt, now)})` : '-',
        d.recipients.join(','),
        d.deadReason ?? '',
      ]),
    ),
  );
  const attempts = e.deliveries.flatMap((d) => d.attempts);
  if (attempts.length > 0) {
    lines.push(
      '',
      ...table(
        ['ATTEMPT AT', 'AGO', 'ROUTE', 'OUTCOME', 'TOOK', 'CODE', 'REASON'],
        attempts.map((a) => [
          isoTime(a.at),
          age(now - Date.parse(a.at)),
          a.route,
          a.outcome,
          `${a.durationMs}ms`,
          a.code ?? '-',
          `${a.reason}${a.hint ? ` (hint: ${a.hint})` : ''}`,
        ]),
      ),
    );
  }
  return lines;
}

function print(io: CliIo, opts: Opts, result: unknown, human: () => string[]): number {
  if (opts.json) println(io.stdout, JSON.stringify(result, null, 2));
  else for (const line of human()) println(io.stdout, line);
  return 0;
}

/** The read commands both folders have: list and show. */
function addReads(group: Command, folder: SpoolFolder, cli: CliContext): void {
  const now = () => (cli.io.now ?? Date.now)();
  group
    .command('list')
    .description(`list ${folder === 'dead' ? 'dead-lettered' : 'queued'} messages, oldest first`)
    .addOption(configOption())
    .addOption(jsonOption())
    .action(
      cli.action(async (opts: Opts) => {
        const rows = await perform(opts, {
          method: 'GET',
          path: `/api/${folder}`,
          offline: (a) => a.list(folder),
        });
        return print(cli.io, opts, rows, () => formatList(rows as EntrySummary[], now()));
      }),
    );
  group
    .command('show')
    .description('show one message: envelope, deliveries and every attempt')
    .argument('<id>', 'message id (first column of list)')
    .addOption(configOption())
    .addOption(jsonOption())
    .action(
      cli.action(async (id: string, opts: Opts) => {
        const entry = await perform(opts, {
          method: 'GET',
          path: `/api/${folder}/${encodeURIComponent(id)}`,
          offline: (a) => a.show(folder, id),
        });
        return print(cli.io, opts, entry, () => formatShow(entry as Shown, now()));
      }),
    );
}

/** A write command: one line per affected message, or the API's JSON. */
function addWrite(
  group: Command,
  cli: CliContext,
  spec: { name: string; description: string; verb: string; all?: boolean },
  action: (id: string | undefined, all: boolean) => Action<Record<string, string | string[]>>,
): void {
  const cmd = group
    .command(spec.name)
    .description(spec.description)
    .argument(spec.all ? '[id]' : '<id>', 'message id (first column of list)')
    .addOption(configOption())
    .addOption(jsonOption());
  if (spec.all) cmd.option('--all', 'every queued message');
  cmd.action(
    cli.action(async (id: string | undefined, opts: Opts & { all?: boolean }) => {
      if (spec.all && (id === undefined) === (opts.all !== true)) {
        throw new UsageError(`${group.name()} ${spec.name} takes an ID or --all`);
      }
      const result = await perform(opts, action(id, opts.all === true));
      return print(cli.io, opts, result, () => {
        const ids = Object.values(result).flat();
        return ids.length === 0 ? ['(nothing to do)'] : ids.map((i) => `${spec.verb} ${i}`);
      });
    }),
  );
}

function addDelete(group: Command, folder: SpoolFolder, cli: CliContext, description: string): void {
  addWrite(group, cli, { name: 'delete', description, verb: 'deleted' }, (id) => ({
    method: 'DELETE',
    path: `/api/${folder}/${encodeURIComponent(id as string)}`,
    offline: (a) => a.delete(folder, id as string),
  }));
}

export function registerQueue(program: Command, cli: CliContext): void {
  const queue = program.command('queue').description('inspect and act on queued messages');
  addReads(queue, 'queue', cli);
  addWrite(
    queue,
    cli,
    {
      name: 'retry',
      description: 'attempt delivery now (one message, or --all)',
      verb: 'retried',
      all: true,
    },
    (id, all) =>
      all
        ? { method: 'POST', path: '/api/queue/all/retry', offline: (a) => a.retryAll() }
        : {
            method: 'POST',
            path: `/api/queue/${encodeURIComponent(id as string)}/retry`,
            offline: (a) => a.retry(id as string),
          },
  );
  addDelete(queue, 'queue', cli, 'delete a queued message (it is never delivered)');
  addHandoff(queue, cli);
}

export function registerDead(program: Command, cli: CliContext): void {
  const dead = program.command('dead').description('inspect and act on dead-lettered messages');
  addReads(dead, 'dead', cli);
  addWrite(
    dead,
    cli,
    { name: 'requeue', description: 'move a dead letter back to the queue for delivery', verb: 'requeued' },
    (id) => ({
      method: 'POST',
      path: `/api/dead/${encodeURIComponent(id as string)}/requeue`,
      offline: (a) => a.requeue(id as string),
    }),
  );
  addDelete(dead, 'dead', cli, 'delete a dead letter');
}
