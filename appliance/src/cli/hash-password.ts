// CLI room: `relaykit-appliance hash-password` prints the scrypt hash to paste into
// `identities[].users[].passwordHash`. The password is never an argument (shell history, process
// list) and never echoed: on a terminal it is typed twice with echo off; piped, the first line of
// standard input is the password.
import type { Command } from 'commander';
import { hashPassword } from '../receiver/password.ts';
import type { CliContext } from './command-kit.ts';
import { type CliInput, type CliIo, println } from './io.ts';

const MIN_LENGTH = 8;

/** First line of a piped stdin (without its line ending); "" when it is empty. */
async function readLine(input: CliInput): Promise<string> {
  let text = '';
  for await (const chunk of input) {
    text += String(chunk);
    if (text.includes('\n')) break;
  }
  return text.split('\n')[0]?.replace(/\r$/, '') ?? '';
}

/**
 * Reads one line from a terminal in raw mode, so the terminal does not echo it. The prompt is written
 * only once echo is off, so nothing typed after it can appear. Ctrl-C / Ctrl-D abort.
 */
function readHidden(input: CliInput, io: CliIo, prompt: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    input.setRawMode?.(true);
    io.stderr.write(prompt);
    let text = '';
    const finish = (value: string | undefined) => {
      input.off('data', onData);
      input.setRawMode?.(false);
      input.pause();
      io.stderr.write('\n');
      resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of String(chunk)) {
        if (ch === '\r' || ch === '\n') return finish(text);
        if (ch === '\u0003' || (ch === '\u0004' && text === '')) return finish(undefined);
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
        else if (ch >= ' ') text += ch;
      }
    };
    input.on('data', onData);
    input.resume();
  });
}

async function readPassword(io: CliIo): Promise<string | undefined> {
  const input: CliInput = io.stdin ?? process.stdin;
  if (!input.isTTY) return readLine(input);
  const first = await readHidden(input, io, 'password: ');
  if (first === undefined || first.length < MIN_LENGTH) return first;
  const again = await readHidden(input, io, 'again: ');
  if (again === undefined) return undefined;
  if (again !== first) throw new Error('the two passwords differ; nothing printed');
  return first;
}

export function registerHashPassword(program: Command, cli: CliContext): void {
  program
    .command('hash-password')
    .description('print the scrypt hash of a password typed on the terminal (no echo) or piped on stdin')
    .action(
      cli.action(async () => {
        const password = await readPassword(cli.io);
        if (password === undefined) return 130; // aborted with Ctrl-C / Ctrl-D
        if (password.length < MIN_LENGTH) {
          println(
            cli.io.stderr,
            `RELAY_USAGE: give a password of at least ${MIN_LENGTH} characters on standard input`,
          );
          return 1;
        }
        println(cli.io.stdout, await hashPassword(password));
        return 0;
      }),
    );
}
