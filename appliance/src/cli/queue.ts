// `relaykit-appliance queue|dead ...`: operator view of the spool. Talks to the running appliance's
// status port when it answers (so its schedules stay right), else works on the spool files directly.
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { isRelayError, RelayError } from '../errors.ts';
import { silentLogger } from '../log.ts';
import { type EntrySummary, QueueAdmin } from '../ops/queue-admin.ts';
import { Spool, type SpoolFolder } from '../spool/spool.ts';
import { type CliIo, println } from './io.ts';

const USAGE = `usage:
  relaykit-appliance queue list|show ID|retry ID|retry --all|delete ID [--config FILE] [--json]
  relaykit-appliance dead  list|show ID|requeue ID|delete ID        [--config FILE] [--json]`;

type Action = {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  offline: (a: QueueAdmin) => Promise<unknown>;
};

function actionFor(
  folder: SpoolFolder,
  verb: string | undefined,
  id: string | undefined,
  all: boolean,
): Action {
  const need = (): string => {
    if (!id)
      throw new RelayError(
        'RELAY_USAGE',
        `${folder === 'dead' ? 'dead' : 'queue'} ${verb} needs an ID\n${USAGE}`,
      );
    return id;
  };
  if (verb === 'list') return { method: 'GET', path: `/api/${folder}`, offline: (a) => a.list(folder) };
  if (verb === 'show') {
    const i = need();
    return { method: 'GET', path: `/api/${folder}/${i}`, offline: (a) => a.show(folder, i) };
  }
  if (verb === 'delete') {
    const i = need();
    return { method: 'DELETE', path: `/api/${folder}/${i}`, offline: (a) => a.delete(folder, i) };
  }
  if (folder === 'queue' && verb === 'retry') {
    if (all) return { method: 'POST', path: '/api/queue/all/retry', offline: (a) => a.retryAll() };
    const i = need();
    return { method: 'POST', path: `/api/queue/${i}/retry`, offline: (a) => a.retry(i) };
  }
  if (folder === 'dead' && verb === 'requeue') {
    const i = need();
    return { method: 'POST', path: `/api/dead/${i}/requeue`, offline: (a) => a.requeue(i) };
  }
  throw new RelayError('RELAY_USAGE', USAGE);
}

async function online(config: Config, action: Action): Promise<unknown | undefined> {
  if (!config.http.enabled) return undefined;
  const host = config.http.address.includes(':') ? `[${config.http.address}]` : config.http.address;
  let res: Response;
  try {
    res = await fetch(`http://${host}:${config.http.port}${action.path}`, {
      method: action.method,
      signal: AbortSignal.timeout(10_000),
    });
  } catch {
    return undefined; // not running: fall back to the files
  }
  const body = (await res.json()) as { error?: string; code?: string };
  if (res.status === 404) throw new RelayError('RELAY_SPOOL_NOT_FOUND', body.error ?? 'not found');
  if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
  return body;
}

function render(io: CliIo, result: unknown, json: boolean): void {
  if (json || !Array.isArray(result)) {
    println(io.stdout, JSON.stringify(result, null, 2));
    return;
  }
  const rows = result as EntrySummary[];
  if (rows.length === 0) {
    println(io.stdout, '(empty)');
    return;
  }
  for (const e of rows) {
    const legs = e.legs
      .map(
        (l) =>
          `${l.route}:${l.status}${l.attempts ? `(${l.attempts} tries)` : ''}${l.deadReason ? ` ${l.deadReason}` : l.lastError ? ` last: ${l.lastError}` : ''}`,
      )
      .join('; ');
    println(
      io.stdout,
      `${e.id}  ${e.receivedAt}  ${e.size}B  from=<${e.from}> rcpt=${e.recipients}  ${legs}`,
    );
  }
}

export async function queueCommand(folder: SpoolFolder, argv: string[], io: CliIo): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        json: { type: 'boolean' },
        all: { type: 'boolean' },
      },
    });
    const action = actionFor(folder, positionals[0], positionals[1], values.all === true);
    const { config } = loadConfig(values.config);
    let result = await online(config, action);
    if (result === undefined) {
      const spool = await Spool.open(config.spool.directory, silentLogger());
      try {
        result = await action.offline(new QueueAdmin(spool));
      } finally {
        await spool.close();
      }
    }
    render(io, result, values.json === true);
    return 0;
  } catch (err) {
    println(io.stderr, isRelayError(err) ? `${err.code}: ${err.message}` : String(err));
    return isRelayError(err, 'RELAY_USAGE') ? 2 : 1;
  }
}
