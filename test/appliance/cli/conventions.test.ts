// The habits every relaykit-appliance command keeps, checked on the real CLI (spawned through the
// project's Node) for every command the top-level help lists and every subcommand theirs list:
// --help and --version exit 0, a usage error exits 2 with one line and the usage, never a stack.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../../..');
const NODE = join(ROOT, 'node_modules/.bin/node');
const BIN = join(ROOT, 'appliance/bin/relaykit-appliance.js');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const STACK = /^\s+at .+[(:]\d+/m;

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI; RELAYKIT_CONFIG from the caller's environment is not passed on. */
function cli(args: readonly string[]): Promise<Result> {
  const { RELAYKIT_CONFIG: _, ...env } = process.env;
  return new Promise((resolve) => {
    execFile(NODE, [BIN, ...args], { encoding: 'utf8', timeout: 30_000, env }, (err, stdout, stderr) => {
      resolve({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

/** Runs many command lines, a few at a time (the machine is shared). */
async function cliAll(lines: readonly (readonly string[])[]): Promise<Map<string, Result>> {
  const out = new Map<string, Result>();
  const queue = [...lines];
  const worker = async () => {
    for (let args = queue.shift(); args; args = queue.shift()) out.set(args.join(' '), await cli(args));
  };
  await Promise.all([worker(), worker(), worker()]);
  return out;
}

/** Command names in the "Commands:" section of a help text (commander's layout). */
function listed(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1] ?? '';
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1] as string);
}

describe('every command', () => {
  const paths: string[][] = [];
  let runs = new Map<string, Result>();
  const of = (...args: string[]) => runs.get(args.join(' ')) as Result;

  // Every command path under the top level, found by reading the help texts as an operator would.
  beforeAll(async () => {
    let level: string[][] = [[]];
    while (level.length > 0) {
      const helps = await cliAll(level.map((p) => [...p, '--help']));
      for (const [k, v] of helps) runs.set(k, v);
      level = level.flatMap((p) =>
        listed(of(...p, '--help').stdout)
          .filter((n) => n !== 'help')
          .map((n) => [...p, n]),
      );
      paths.push(...level);
    }
    const more = await cliAll(
      paths.flatMap((p) => [
        [...p, '--version'],
        [...p, '--no-such-option'],
      ]),
    );
    runs = new Map([...runs, ...more]);
  }, 300_000);

  it('the top-level help lists the commands the README documents', () => {
    expect(of('--help').status).toBe(0);
    expect(paths.map((p) => p.join(' '))).toEqual(
      expect.arrayContaining([
        'run',
        'check',
        'queue list',
        'queue show',
        'queue retry',
        'queue delete',
        'dead list',
        'dead show',
        'dead requeue',
        'dead delete',
        'route explain',
        'hash-password',
      ]),
    );
  });

  it('--help and --version exit 0 on every command', () => {
    for (const path of paths) {
      const name = path.join(' ');
      const help = of(...path, '--help');
      expect(help.status, name).toBe(0);
      expect(help.stderr, name).toBe('');
      expect(help.stdout, name).toMatch(new RegExp(`^usage: relaykit-appliance ${name} `));
      // Help wraps at 80 columns, so the env note may be split across lines.
      const flat = help.stdout.replace(/\s+/g, ' ');
      if (/--config/.test(flat)) expect(flat, name).toContain('(env: RELAYKIT_CONFIG)');
      const version = of(...path, '--version');
      expect(version.status, name).toBe(0);
      expect(version.stdout, name).toBe(`${VERSION}\n`);
    }
  });

  it('an unknown option exits 2 with one line and the usage on every command', () => {
    for (const path of paths) {
      const name = path.join(' ');
      const r = of(...path, '--no-such-option');
      expect(r.status, name).toBe(2);
      expect(r.stdout, name).toBe('');
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines[0], name).toBe("error: unknown option '--no-such-option'");
      expect(lines[1], name).toMatch(new RegExp(`^usage: relaykit-appliance ${name} `));
      expect(r.stderr, name).not.toMatch(STACK);
    }
  });
});

describe('usage errors name the problem and show the usage, never a stack trace', () => {
  it.each([
    [['frobnicate'], "error: unknown command 'frobnicate'", 'relaykit-appliance'],
    [['queue', 'show'], "error: missing required argument 'id'", 'relaykit-appliance queue show'],
    [['queue', 'retry'], 'error: queue retry takes an ID or --all', 'relaykit-appliance queue retry'],
    [['dead', 'list', 'extra'], "error: too many arguments for 'list'", 'relaykit-appliance dead list'],
    [
      ['check', '--config'],
      "error: option '-c, --config <file>' argument missing",
      'relaykit-appliance check',
    ],
    [
      ['route', 'explain', '--to', 'a@b.c'],
      'error: --config FILE is required',
      'relaykit-appliance route explain',
    ],
  ])('%j', async (args, first, usageOf) => {
    const r = await cli(args);
    expect(r.status).toBe(2);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toContain(first);
    expect(lines[1]).toMatch(new RegExp(`^usage: ${usageOf} `));
    expect(r.stderr).not.toMatch(STACK);
  });

  it('a command group without its subcommand prints its help on stderr and exits 2', async () => {
    const r = await cli(['dead']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^usage: relaykit-appliance dead /);
    expect(listed(r.stderr)).toEqual(['list', 'show', 'requeue', 'delete']);
  });
});
