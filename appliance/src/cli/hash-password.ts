// `relaykit-appliance hash-password`: reads a password from stdin (or prompts) and prints the scrypt
// hash to paste into `identities[].users[].passwordHash`. The password is never an argument, so it
// does not land in shell history or the process list.
import { createInterface } from 'node:readline';
import { hashPassword } from '../receiver/password.ts';
import { type CliIo, println } from './io.ts';

async function readPassword(io: CliIo): Promise<string> {
  const rl = createInterface({ input: process.stdin, terminal: false });
  if (process.stdin.isTTY) io.stderr.write('password: ');
  for await (const line of rl) {
    rl.close();
    return line;
  }
  return '';
}

export async function hashPasswordCommand(_argv: string[], io: CliIo): Promise<number> {
  const password = await readPassword(io);
  if (password.length < 8) {
    println(io.stderr, 'RELAY_USAGE: give a password of at least 8 characters on standard input');
    return 1;
  }
  println(io.stdout, await hashPassword(password));
  return 0;
}
