// CLI room: `run --wait-for FILE` waits for a file another step writes (the VM's relaykit-firstboot,
// once the appliance bundle is installed) before the config is read, so the relay's own start —
// Node and the appliance's code, seconds on a small or emulated VM — overlaps that step instead of
// following it.
import { existsSync } from 'node:fs';

export interface WaitFileDeps {
  readonly exists?: (path: string) => boolean;
  readonly sleep?: (ms: number) => Promise<void>;
}

const POLL_MS = 100;

/** Resolves once `path` exists, looking every 100 ms. No time limit: the supervisor's start timeout is it. */
export async function waitForFile(path: string, deps: WaitFileDeps = {}): Promise<void> {
  const exists = deps.exists ?? existsSync;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  while (!exists(path)) await sleep(POLL_MS);
}
